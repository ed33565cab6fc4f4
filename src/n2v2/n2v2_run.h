/* n2v2 engine: the options the parameter table fills, and the run helpers
 * shared by engine.c, io.c and demo.c. */
#ifndef FASTSCI_N2V2_RUN_H
#define FASTSCI_N2V2_RUN_H

#include "fastsci/core/tiff.h"
#include "fastsci/fastsci.h"
#include "n2v2/n2v2_impl.h"

typedef struct fsci_n2v2_opts {
    char input[FSCI_PARAM_STRLEN];
    char model[FSCI_PARAM_STRLEN];
    char save_model[FSCI_PARAM_STRLEN];
    char preset[FSCI_PARAM_STRLEN];
    int64_t depth, width, kernel;
    char pool[FSCI_PARAM_STRLEN], up[FSCI_PARAM_STRLEN];
    char residual[FSCI_PARAM_STRLEN], top_skip[FSCI_PARAM_STRLEN];
    int64_t epochs, steps, batch, patch, val_patches;
    double lr, weight_decay, clip;
    char optimizer[FSCI_PARAM_STRLEN];
    char masking[FSCI_PARAM_STRLEN];
    double perc, prob;
    int64_t radius;
    bool augment, best;
    int64_t patience;
    double factor;
    int64_t tile;
    bool tta;
    char dtype[FSCI_PARAM_STRLEN];
    char compression[FSCI_PARAM_STRLEN];
    bool shared_model;
} fsci_n2v2_opts;

#define FSCI_N2V2_NPARAMS 33
extern const fsci_param fsci_n2v2_params[FSCI_N2V2_NPARAMS];

/* Architecture and training options from the table (preset, then overrides). */
int fsci__n2v2_arch_from(const fsci_n2v2_opts *o, fsci_n2v2_arch *a);
int fsci__n2v2_train_opts_from(const fsci_n2v2_opts *o, const fsci_ctx *ctx, fsci__n2v2_train_opts *t);

/* A stack to read slice by slice: a TIFF or .npy file, or an array view. */
typedef struct fsci__n2v2_src {
    int64_t z, h, w;
    bool is2d; /* a single 2-D image (output keeps 2 dimensions) */
    fsci_dtype dtype;
    const char *name; /* for messages */
    fsci_tiff_reader *tiff;
    fsci_array *arr; /* .npy read whole */
    fsci_view view;  /* array input or arr's view */
    void *page;      /* TIFF page buffer */
} fsci__n2v2_src;

int fsci__n2v2_src_open(const fsci_n2v2_opts *o, const fsci_inputs *in, fsci__n2v2_src *s);
/* Slice k as float32 (h w values); NaN or infinite pixels are refused. */
int fsci__n2v2_src_slice(fsci__n2v2_src *s, int64_t k, float *dst);
void fsci__n2v2_src_close(fsci__n2v2_src *s);

/* Where predicted slices go: a TIFF the run writes (ctx->output ends in .tif)
 * or the sink's member "denoised". */
typedef struct fsci__n2v2_dst {
    fsci_tiff_writer *tiff;
    fsci_sink *sink;
    fsci_dtype dtype;
    void *buf;
    int64_t h, w;
} fsci__n2v2_dst;

int fsci__n2v2_dst_open(const fsci_n2v2_opts *o, const fsci__n2v2_src *s, const fsci_ctx *ctx,
                        fsci_sink *sink, fsci__n2v2_dst *d);
int fsci__n2v2_dst_put(fsci__n2v2_dst *d, const float *slice);
int fsci__n2v2_dst_close(fsci__n2v2_dst *d, bool ok);

bool fsci__n2v2_is_tiff_path(const char *path);
bool fsci__n2v2_is_model_path(const char *path);

int fsci__n2v2_demo(fsci_report *r, const fsci_ctx *ctx, bool quick);

/* One stack (engine.c): train on s (its normalised copy to *stack, the caller
 * frees it), or predict every slice of s into ctx->output or the sink (stack:
 * the normalised copy to reuse, or NULL to read s again). */
int fsci__n2v2_do_train(const fsci_n2v2_opts *o, fsci__n2v2_src *s, const fsci_ctx *ctx, fsci__n2v2_model *m,
                        float **stack, double *seconds);
int fsci__n2v2_do_predict(const fsci_n2v2_opts *o, fsci__n2v2_src *s, const float *stack, const fsci_ctx *ctx,
                          fsci__n2v2_model *m, fsci_sink *sink, double *seconds);

/* Plates (plate.c): TIFF files and folders of them (ctx->paths), each file
 * written to ctx->output/<its name>, file i on MPI rank i % size.
 * wanted: this run is a plate; check: the plate's inputs and output folder
 * before anything is computed (denoise: train, else predict with o->model). */
bool fsci__n2v2_plate_wanted(const fsci_ctx *ctx);
int fsci__n2v2_plate_check(const fsci_n2v2_opts *o, const fsci_ctx *ctx, bool denoise);
int fsci__n2v2_plate_run(const fsci_n2v2_opts *o, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink,
                         bool denoise);

#endif
