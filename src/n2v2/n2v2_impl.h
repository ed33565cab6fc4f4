/* n2v2 engine internals shared between its files. */
#ifndef FASTSCI_N2V2_IMPL_H
#define FASTSCI_N2V2_IMPL_H

#include "fastsci/n2v2.h"

#define FSCI__N2V2_MAXDEPTH 5

/* Philox streams (key word 1) of the engine's random draws; each draw is also
 * keyed by its logical indices (doc/n2v2.md section 4). */
#define FSCI__N2V2_STREAM_INIT 0x6e32763200000001ULL /* weight initialisation */
#define FSCI__N2V2_STREAM_PATCH                                                                              \
    0x6e32763200000002ULL                           /* patch positions and augmentation, by (step, sample) */
#define FSCI__N2V2_STREAM_VAL 0x6e32763200000003ULL /* validation patches, by index */

#endif

#include <stdio.h>

#include "fastsci/core/engine.h"
#include "n2v2/mask.h"

/* A trained model: the network and the normalisation of the data it was trained on. */
typedef struct fsci__n2v2_model {
    fsci_n2v2_net *net;
    double mean, std; /* prediction: (x - mean) / std in, y std + mean out */
    int64_t steps;    /* optimiser steps taken */
    double best_val;  /* best validation loss (NaN if none) */
} fsci__n2v2_model;

typedef struct fsci__n2v2_train_opts {
    int64_t epochs, steps, batch, patch, val_patches;
    double lr, weight_decay, clip;
    bool adamw, augment, use_best;
    int patience;
    double factor;
    fsci__mask_opts mask;
    uint64_t seed;
} fsci__n2v2_train_opts;

/* One line per epoch of the run's log. */
typedef struct fsci__n2v2_epoch {
    double loss, val_loss, lr, seconds;
} fsci__n2v2_epoch;

/* Train m->net on the normalised stack (z, h, w) float32 (m->mean and m->std
 * already set by the caller). log: epochs entries (or NULL). */
int fsci__n2v2_train(fsci__n2v2_model *m, const float *stack, int64_t z, int64_t h, int64_t w,
                     const fsci__n2v2_train_opts *o, const fsci_ctx *ctx, fsci__n2v2_epoch *log);

/* Radius in pixels beyond which an output pixel does not see the input
 * (an upper bound), rounded up to a multiple of 2^depth. */
int64_t fsci__n2v2_margin(const fsci_n2v2_arch *a);

/* FSCI_EINVAL unless tile is 0 or a usable tile side for architecture a
 * (a multiple of 2^depth leaving a core of at least 2^depth inside the margins). */
int fsci__n2v2_tile_check(const fsci_n2v2_arch *a, int64_t tile);

/* Predict one h x w slice in the data's units: in and out float32 (may be
 * the same buffer). tile: 0 for the whole image, else the tile side (a
 * multiple of 2^depth larger than 2 margin); tta: average of the 8 flips and
 * rotations. */
int fsci__n2v2_predict_slice(fsci__n2v2_model *m, const float *in, float *out, int64_t h, int64_t w,
                             int64_t tile, bool tta);

/* Model files (.fsnn): doc/n2v2.md section 6. */
#define FSCI__N2V2_FILE_VERSION 1
int fsci__n2v2_model_save(const fsci__n2v2_model *m, const char *path);
int fsci__n2v2_model_load(const char *path, fsci__n2v2_model *m);
void fsci__n2v2_model_free(fsci__n2v2_model *m);
