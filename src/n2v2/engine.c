/* The n2v2 engine's registration: train, predict and denoise (train, then
 * predict, as the OpenHCS function does). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "n2v2/n2v2_run.h"

static const char *const model_formats[] = {".fsnn", NULL};
static const char *const tiff_formats[] = {".tif", ".tiff", NULL};
static const char *const stack_inputs[] = {"stack", NULL};

static int check_common(const fsci_n2v2_opts *o, bool training)
{
    fsci_n2v2_arch a;
    int st = fsci__n2v2_arch_from(o, &a);
    if (st) return st;
    if (training) {
        const int64_t m = (int64_t)1 << a.depth;
        FSCI_CHECK(o->patch % m == 0, FSCI_EINVAL, "--patch %lld: not a multiple of 2^depth = %lld",
                   (long long)o->patch, (long long)m);
        fsci__n2v2_train_opts t;
        fsci_ctx c;
        fsci_ctx_init(&c);
        if ((st = fsci__n2v2_train_opts_from(o, &c, &t))) return st;
        if ((st = fsci__mask_check(&t.mask, o->patch, o->patch))) return st;
        if ((st = fsci__n2v2_tile_check(&a, o->tile))) return st; /* before training, not after */
    }
    return FSCI_OK;
}

static int check_train(const void *opts, const fsci_ctx *ctx)
{
    FSCI_CHECK(!ctx->output || fsci__n2v2_is_model_path(ctx->output), FSCI_EINVAL,
               "-o %s: the model file must end in .fsnn", ctx->output);
    return check_common(opts, true);
}

static int check_predict(const void *opts, const fsci_ctx *ctx)
{
    const fsci_n2v2_opts *o = opts;
    FSCI_CHECK(o->model[0], FSCI_EINVAL, "predict: --model MODEL.fsnn is required");
    if (fsci__n2v2_plate_wanted(ctx)) return fsci__n2v2_plate_check(o, ctx, false);
    return FSCI_OK;
}

static int check_denoise(const void *opts, const fsci_ctx *ctx)
{
    const fsci_n2v2_opts *o = opts;
    FSCI_CHECK(!o->save_model[0] || fsci__n2v2_is_model_path(o->save_model), FSCI_EINVAL,
               "--save-model %s: the model file must end in .fsnn", o->save_model);
    if (fsci__n2v2_plate_wanted(ctx)) {
        const int st = check_common(opts, true);
        return st ? st : fsci__n2v2_plate_check(o, ctx, true);
    }
    return check_common(opts, true);
}

/* Read the whole stack, refuse NaN, normalise in place; mean and std to m. */
static int load_stack(fsci__n2v2_src *s, float **out, fsci__n2v2_model *m)
{
    const int64_t n = s->z * s->h * s->w;
    float *x = fsci_malloc((size_t)n, sizeof(float));
    FSCI_CHECK(x, FSCI_ENOMEM, "%s: out of memory for %lld pixels", s->name, (long long)n);
    for (int64_t k = 0; k < s->z; k++) {
        int st = fsci__n2v2_src_slice(s, k, x + k * s->h * s->w);
        if (st) {
            fsci_free(x);
            return st;
        }
    }
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)x[i];
    m->mean = sum / (double)n;
    for (int64_t i = 0; i < n; i++) sq += ((double)x[i] - m->mean) * ((double)x[i] - m->mean);
    m->std = sqrt(sq / (double)n);
    if (!(m->std > 0)) m->std = 1; /* a constant image: nothing to learn, but no division by zero */
    const double is = 1 / m->std;
    for (int64_t i = 0; i < n; i++) x[i] = (float)(((double)x[i] - m->mean) * is);
    *out = x;
    return FSCI_OK;
}

int fsci__n2v2_do_train(const fsci_n2v2_opts *o, fsci__n2v2_src *s, const fsci_ctx *ctx, fsci__n2v2_model *m,
                        float **stack, double *seconds)
{
    int st = FSCI_OK;
    fsci_n2v2_arch a;
    fsci__n2v2_train_opts t;
    FSCI_TRY(fsci__n2v2_arch_from(o, &a));
    FSCI_TRY(fsci__n2v2_train_opts_from(o, ctx, &t));
    FSCI_CHECK_GOTO(o->patch <= s->h && o->patch <= s->w, FSCI_EINVAL,
                    "--patch %lld: larger than the image %s (%lld x %lld)", (long long)o->patch, s->name,
                    (long long)s->h, (long long)s->w);
    FSCI_TRY(load_stack(s, stack, m));
    FSCI_TRY(fsci_n2v2_net_create(&a, t.seed, &m->net));
    const double t0 = fsci_clock();
    FSCI_TRY(fsci__n2v2_train(m, *stack, s->z, s->h, s->w, &t, ctx, NULL));
    *seconds = fsci_clock() - t0;
    const double patches = (double)(o->epochs * o->steps * o->batch);
    fsci_ctx_printf(
        ctx,
        "trained %s on %s (%lld x %lld x %lld): %lld steps of %lld patches in %.1f s (%.1f patches/s), "
        "best validation loss %.5f\n",
        o->preset, s->name, (long long)s->z, (long long)s->h, (long long)s->w,
        (long long)(o->epochs * o->steps), (long long)o->batch, *seconds, patches / *seconds, m->best_val);
fail:
    return st;
}

static int64_t auto_tile(const fsci_n2v2_opts *o, const fsci__n2v2_src *s)
{
    if (o->tile) return o->tile;
    return s->h * s->w <= 512 * 512 ? 0 : 512;
}

/* Predict every slice of s (normalised stack given: reuse it) into the output. */
int fsci__n2v2_do_predict(const fsci_n2v2_opts *o, fsci__n2v2_src *s, const float *stack, const fsci_ctx *ctx,
                          fsci__n2v2_model *m, fsci_sink *sink, double *seconds)
{
    int st = FSCI_OK;
    fsci__n2v2_dst d = {0};
    fsci_progress *prog = NULL;
    const int64_t hw = s->h * s->w;
    float *slice = fsci_malloc((size_t)hw, sizeof(float)), *out = fsci_malloc((size_t)hw, sizeof(float));
    FSCI_CHECK_GOTO(slice && out, FSCI_ENOMEM, "n2v2 predict: out of memory");
    FSCI_TRY(fsci__n2v2_dst_open(o, s, ctx, sink, &d));
    if (ctx->progress && !ctx->quiet && s->z > 1)
        FSCI_TRY(fsci_progress_create("n2v2 predict", s->z, "slices", &prog));
    const double t0 = fsci_clock();
    for (int64_t k = 0; k < s->z; k++) {
        if (stack) {
            for (int64_t i = 0; i < hw; i++) slice[i] = (float)((double)stack[k * hw + i] * m->std + m->mean);
        } else {
            FSCI_TRY(fsci__n2v2_src_slice(s, k, slice));
        }
        FSCI_TRY(fsci__n2v2_predict_slice(m, slice, out, s->h, s->w, auto_tile(o, s), o->tta));
        FSCI_TRY(fsci__n2v2_dst_put(&d, out));
        if (prog) fsci_progress_add(prog, 1);
    }
    *seconds = fsci_clock() - t0;
    if (prog) fsci_progress_finish(prog);
    st = fsci__n2v2_dst_close(&d, true);
    fsci_ctx_printf(ctx, "predicted %lld slice(s) of %lld x %lld in %.2f s (%.0f ms per slice)\n",
                    (long long)s->z, (long long)s->h, (long long)s->w, *seconds,
                    1e3 * *seconds / (double)s->z);
fail:
    if (st) fsci__n2v2_dst_close(&d, false);
    fsci_progress_destroy(&prog);
    fsci_free(slice);
    fsci_free(out);
    return st;
}

static int summary(fsci_sink *sink, const fsci__n2v2_model *m, double train_s, double predict_s,
                   int64_t patches, int64_t slices, int64_t patch)
{
    if (!sink) return FSCI_OK;
    const double macs = m->net ? fsci_n2v2_net_macs(m->net, patch, patch) : 0;
    char json[512];
    snprintf(json, sizeof json,
             "{\"weights\": %lld, \"steps\": %lld, \"best_val_loss\": %.9g, \"train_seconds\": %.6g, "
             "\"patches_per_s\": %.6g, \"predict_seconds\": %.6g, \"ms_per_slice\": %.6g, \"mean\": %.17g, "
             "\"std\": %.17g, \"macs_per_patch\": %.17g}",
             m->net ? (long long)fsci_n2v2_net_nweights(m->net) : 0LL, (long long)m->steps, m->best_val,
             train_s, train_s > 0 ? (double)patches / train_s : 0, predict_s,
             slices > 0 ? 1e3 * predict_s / (double)slices : 0, m->mean, m->std, macs);
    return fsci_sink_set_summary(sink, json);
}

static int train_body(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink)
{
    const fsci_n2v2_opts *o = opts;
    int st = FSCI_OK;
    fsci__n2v2_src s = {0};
    fsci__n2v2_model m = {0};
    float *stack = NULL;
    double ts = 0;
    FSCI_TRY(fsci__n2v2_src_open(o, in, &s));
    FSCI_TRY(fsci__n2v2_do_train(o, &s, ctx, &m, &stack, &ts));
    if (ctx->output) FSCI_TRY(fsci__n2v2_model_save(&m, ctx->output));
    FSCI_TRY(summary(sink, &m, ts, 0, o->epochs * o->steps * o->batch, 0, o->patch));
fail:
    fsci_free(stack);
    fsci__n2v2_model_free(&m);
    fsci__n2v2_src_close(&s);
    return st;
}

static int predict_body(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink)
{
    const fsci_n2v2_opts *o = opts;
    if (fsci__n2v2_plate_wanted(ctx)) return fsci__n2v2_plate_run(o, in, ctx, sink, false);
    int st = FSCI_OK;
    fsci__n2v2_src s = {0};
    fsci__n2v2_model m = {0};
    double ps = 0;
    FSCI_TRY(fsci__n2v2_model_load(o->model, &m));
    FSCI_TRY(fsci__n2v2_src_open(o, in, &s));
    FSCI_TRY(fsci__n2v2_do_predict(o, &s, NULL, ctx, &m, sink, &ps));
    FSCI_TRY(summary(sink, &m, 0, ps, 0, s.z, o->patch));
fail:
    fsci__n2v2_model_free(&m);
    fsci__n2v2_src_close(&s);
    return st;
}

static int denoise_body(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink)
{
    const fsci_n2v2_opts *o = opts;
    if (fsci__n2v2_plate_wanted(ctx)) return fsci__n2v2_plate_run(o, in, ctx, sink, true);
    int st = FSCI_OK;
    fsci__n2v2_src s = {0};
    fsci__n2v2_model m = {0};
    float *stack = NULL;
    double ts = 0, ps = 0;
    FSCI_TRY(fsci__n2v2_src_open(o, in, &s));
    FSCI_TRY(fsci__n2v2_do_train(o, &s, ctx, &m, &stack, &ts));
    FSCI_TRY(fsci__n2v2_do_predict(o, &s, stack, ctx, &m, sink, &ps));
    if (o->save_model[0]) FSCI_TRY(fsci__n2v2_model_save(&m, o->save_model));
    FSCI_TRY(summary(sink, &m, ts, ps, o->epochs * o->steps * o->batch, s.z, o->patch));
fail:
    fsci_free(stack);
    fsci__n2v2_model_free(&m);
    fsci__n2v2_src_close(&s);
    return st;
}

/* The run's thread count becomes the OpenMP default of the calling thread for
 * the run's duration: oneDNN, OpenBLAS and the nn kernels' parallel regions
 * all follow it (--threads, Python's threads=). */
static int with_threads(int (*body)(const void *, const fsci_inputs *, const fsci_ctx *, fsci_sink *),
                        const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink)
{
    const int prev = omp_get_max_threads();
    omp_set_num_threads(fsci_parallel_resolve(ctx->threads));
    const int st = body(opts, in, ctx, sink);
    omp_set_num_threads(prev);
    return st;
}

static int train_run(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink)
{
    return with_threads(train_body, opts, in, ctx, sink);
}

static int predict_run(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink)
{
    return with_threads(predict_body, opts, in, ctx, sink);
}

static int denoise_run(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink)
{
    return with_threads(denoise_body, opts, in, ctx, sink);
}

#define N2V2_DETAILS                                                                                         \
    "Noise2Void-style self-supervised denoising: a U-Net is trained on random patches of the noisy data\n"   \
    "itself, each with a few blind-spot pixels replaced from their neighbourhood and scored only there.\n"   \
    "Presets: n2v2 (the published N2V2: MaxBlurPool, no top skip, stratified 0.198 % blind spots with\n"     \
    "the 5x5 median), n2v (the N2V baseline) and openhcs (the OpenHCS function's network). TIFF inputs\n"    \
    "are read with libtiff (uint8, uint16, float32; none, LZW or deflate). See doc/n2v2.md.\n"

static const fsci_command commands[] = {
    {.name = "train",
     .summary = "train a denoising U-Net on a noisy image or stack",
     .usage = "STACK.tif [options] -o model.fsnn",
     .details = N2V2_DETAILS,
     .params = fsci_n2v2_params,
     .nparams = FSCI_N2V2_NPARAMS,
     .opts_size = sizeof(fsci_n2v2_opts),
     .inputs = stack_inputs,
     .output = FSCI_OUTPUT_NPZ,
     .own_formats = model_formats,
     .positional = "input",
     .default_seed = 42,
     .check = check_train,
     .run = train_run},
    {.name = "predict",
     .summary = "denoise an image or stack with a trained model",
     .usage = "STACK.tif --model model.fsnn [options] -o out.tif  |  A.tif B.tif ... (or DIR) --model "
              "model.fsnn -o OUTDIR",
     .details = N2V2_DETAILS,
     .params = fsci_n2v2_params,
     .nparams = FSCI_N2V2_NPARAMS,
     .opts_size = sizeof(fsci_n2v2_opts),
     .inputs = stack_inputs,
     .output = FSCI_OUTPUT_NPZ,
     .own_formats = tiff_formats,
     .positional = "input",
     .positional_many = true,
     .default_seed = 42,
     .check = check_predict,
     .run = predict_run},
    {.name = "denoise",
     .summary = "train on the stack, then denoise it (the OpenHCS function's workflow)",
     .usage = "STACK.tif [options] -o out.tif  |  A.tif B.tif ... (or DIR) [--shared-model on] -o OUTDIR",
     .details = N2V2_DETAILS,
     .params = fsci_n2v2_params,
     .nparams = FSCI_N2V2_NPARAMS,
     .opts_size = sizeof(fsci_n2v2_opts),
     .inputs = stack_inputs,
     .output = FSCI_OUTPUT_NPZ,
     .own_formats = tiff_formats,
     .positional = "input",
     .positional_many = true,
     .default_seed = 42,
     .check = check_denoise,
     .run = denoise_run},
};

const fsci_engine fsci_engine_n2v2 = {
    .name = "n2v2",
    .title = "n2v2: self-supervised denoising (Noise2Void 2)",
    .summary = "self-supervised U-Net denoising of images and stacks (N2V2)",
    .commands = commands,
    .ncommands = sizeof commands / sizeof commands[0],
    .demo = fsci__n2v2_demo,
};
