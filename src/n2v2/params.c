/* n2v2: the parameter table shared by the CLI and Python, and its translation
 * into the architecture and the training options. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "n2v2/n2v2_run.h"

#define F(field) offsetof(fsci_n2v2_opts, field)

const fsci_param fsci_n2v2_params[FSCI_N2V2_NPARAMS] = {
    {"input", FSCI_PARAM_STRING, F(input), "", 0, -1, NULL,
     "image or (z, y, x) stack: TIFF (uint8, uint16, float32) or .npy (or the positional argument)"},
    {"model", FSCI_PARAM_STRING, F(model), "", 0, -1, NULL, "predict: the model file (.fsnn) from train"},
    {"save-model", FSCI_PARAM_STRING, F(save_model), "", 0, -1, NULL,
     "denoise: also save the trained model here"},
    {"shared-model", FSCI_PARAM_BOOL, F(shared_model), "off", 0, -1, NULL,
     "denoise of several files or a folder: one model, trained on the first file, for all (off: one per "
     "file)"},
    {"preset", FSCI_PARAM_CHOICE, F(preset), "n2v2", 0, -1, "n2v2|n2v|openhcs",
     "network: n2v2 (published N2V2), n2v (N2V baseline), openhcs (the OpenHCS function's network)"},
    {"depth", FSCI_PARAM_INT, F(depth), "0", 0, 5, NULL, "U-Net downsamplings (0: the preset's)"},
    {"width", FSCI_PARAM_INT, F(width), "0", 0, 256, NULL, "channels of the first level (0: the preset's)"},
    {"kernel", FSCI_PARAM_INT, F(kernel), "0", 0, 7, NULL, "convolution kernel size, odd (0: the preset's)"},
    {"pool", FSCI_PARAM_CHOICE, F(pool), "preset", 0, -1, "preset|max|blur|maxblur", "downsampling"},
    {"up", FSCI_PARAM_CHOICE, F(up), "preset", 0, -1, "preset|convt|bilinear", "upsampling"},
    {"residual", FSCI_PARAM_CHOICE, F(residual), "preset", 0, -1, "preset|on|off",
     "output = network + input"},
    {"top-skip", FSCI_PARAM_CHOICE, F(top_skip), "preset", 0, -1, "preset|on|off",
     "skip connection at full resolution"},
    {"epochs", FSCI_PARAM_INT, F(epochs), "20", 1, 100000, NULL, "training epochs"},
    {"steps", FSCI_PARAM_INT, F(steps), "100", 1, 10000000, NULL, "optimiser steps per epoch"},
    {"batch", FSCI_PARAM_INT, F(batch), "16", 1, 4096, NULL, "patches per step"},
    {"patch", FSCI_PARAM_INT, F(patch), "64", 8, 1024, NULL,
     "patch side (a multiple of 2^depth, at most the image side)"},
    {"val-patches", FSCI_PARAM_INT, F(val_patches), "32", 0, 100000, NULL,
     "fixed validation patches (and masks) scored after every epoch (0: none; the training loss decides)"},
    {"lr", FSCI_PARAM_DOUBLE, F(lr), "4e-4", 1e-9, 10, NULL, "learning rate"},
    {"optimizer", FSCI_PARAM_CHOICE, F(optimizer), "adam", 0, -1, "adam|adamw", "Adam or AdamW"},
    {"weight-decay", FSCI_PARAM_DOUBLE, F(weight_decay), "0", 0, 10, NULL,
     "weight decay (L2 in Adam, decoupled in AdamW)"},
    {"clip", FSCI_PARAM_DOUBLE, F(clip), "0", 0, 1e9, NULL, "clip the gradient norm to this (0: off)"},
    {"patience", FSCI_PARAM_INT, F(patience), "10", 0, 100000, NULL,
     "ReduceLROnPlateau: epochs without improvement before the rate drops"},
    {"factor", FSCI_PARAM_DOUBLE, F(factor), "0.5", 0.01, 0.99, NULL, "ReduceLROnPlateau: rate factor"},
    {"masking", FSCI_PARAM_CHOICE, F(masking), "auto", 0, -1, "auto|n2v2|openhcs|n2v",
     "blind spots: n2v2 (stratified, median), openhcs (Bernoulli, 3x3 ring), n2v (uniform with centre); "
     "auto: the preset's"},
    {"perc", FSCI_PARAM_DOUBLE, F(perc), "0.198", 1e-6, 50, NULL, "n2v2/n2v masking: blind spots in percent"},
    {"radius", FSCI_PARAM_INT, F(radius), "0", 0, 16, NULL,
     "n2v2/n2v masking: window half-width (0: 2 for n2v2, 5 for n2v)"},
    {"prob", FSCI_PARAM_DOUBLE, F(prob), "0.05", 1e-6, 0.5, NULL, "openhcs masking: blind-spot probability"},
    {"augment", FSCI_PARAM_BOOL, F(augment), "on", 0, -1, NULL,
     "random flips and quarter turns of the patches"},
    {"best", FSCI_PARAM_BOOL, F(best), "on", 0, -1, NULL,
     "keep the weights of the best validation loss (off: the last)"},
    {"tile", FSCI_PARAM_INT, F(tile), "0", 0, 65536, NULL,
     "prediction tile side (0: whole slices up to 1024 x 1024, tiles of 512 beyond)"},
    {"tta", FSCI_PARAM_BOOL, F(tta), "off", 0, -1, NULL, "average the 8 flips and rotations at prediction"},
    {"dtype", FSCI_PARAM_CHOICE, F(dtype), "input", 0, -1, "input|float32|uint16|uint8",
     "output sample type (input: keep the input's; integers are rounded and clipped)"},
    {"compression", FSCI_PARAM_CHOICE, F(compression), "none", 0, -1, "none|lzw|deflate",
     "compression of a TIFF output"},
};

_Static_assert(sizeof fsci_n2v2_params / sizeof fsci_n2v2_params[0] == FSCI_N2V2_NPARAMS, "table size");

static int tri(const char *v, bool preset_value)
{
    return strcmp(v, "preset") == 0 ? preset_value : strcmp(v, "on") == 0;
}

int fsci__n2v2_arch_from(const fsci_n2v2_opts *o, fsci_n2v2_arch *a)
{
    int st = fsci_n2v2_preset(o->preset, a);
    if (st) return st;
    if (o->depth) a->depth = (int)o->depth;
    if (o->width) a->width = (int)o->width;
    if (o->kernel) a->kernel = (int)o->kernel;
    if (strcmp(o->pool, "max") == 0) a->pool = FSCI_N2V2_POOL_MAX;
    if (strcmp(o->pool, "blur") == 0) a->pool = FSCI_N2V2_POOL_BLUR;
    if (strcmp(o->pool, "maxblur") == 0) a->pool = FSCI_N2V2_POOL_MAXBLUR;
    if (strcmp(o->up, "convt") == 0) a->up = FSCI_N2V2_UP_CONVT;
    if (strcmp(o->up, "bilinear") == 0) a->up = FSCI_N2V2_UP_BILINEAR;
    a->residual = tri(o->residual, a->residual);
    a->top_skip = tri(o->top_skip, a->top_skip);
    return fsci_n2v2_arch_check(a);
}

int fsci__n2v2_train_opts_from(const fsci_n2v2_opts *o, const fsci_ctx *ctx, fsci__n2v2_train_opts *t)
{
    fsci__mask_kind kind = FSCI__MASK_N2V2;
    const char *mk = o->masking;
    if (strcmp(mk, "auto") == 0) mk = strcmp(o->preset, "openhcs") == 0 ? "openhcs" : o->preset;
    if (strcmp(mk, "openhcs") == 0) kind = FSCI__MASK_OPENHCS;
    if (strcmp(mk, "n2v") == 0) kind = FSCI__MASK_N2V;
    fsci__mask_opts m = fsci__mask_defaults(kind);
    m.perc = o->perc;
    m.prob = o->prob;
    if (o->radius) m.radius = (int)o->radius;
    *t = (fsci__n2v2_train_opts){.epochs = o->epochs,
                                 .steps = o->steps,
                                 .batch = o->batch,
                                 .patch = o->patch,
                                 .val_patches = o->val_patches,
                                 .lr = o->lr,
                                 .weight_decay = o->weight_decay,
                                 .clip = o->clip,
                                 .adamw = strcmp(o->optimizer, "adamw") == 0,
                                 .augment = o->augment,
                                 .use_best = o->best,
                                 .patience = (int)o->patience,
                                 .factor = o->factor,
                                 .mask = m,
                                 .seed = fsci_ctx_seed(ctx, 42)};
    return FSCI_OK;
}
