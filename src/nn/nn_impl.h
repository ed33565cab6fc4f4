/* nn module internals: the layer plan and the typed kernels (nn_kernels.c
 * instantiates nn_kernels_tmpl.h for float and double). */
#ifndef FASTSCI_NN_IMPL_H
#define FASTSCI_NN_IMPL_H

#include "fastsci/nn.h"

/* Largest im2col column matrix (bytes): a band of output rows at a time. */
#define FSCI__NN_BAND_BYTES ((int64_t)8 << 20)

typedef struct fsci__nn_dnnl fsci__nn_dnnl;

struct fsci_nn_layer {
    fsci_nn_layer_desc d;
    fsci_nn_dims out;
    int64_t nparams, nstate;
    size_t ws;
    double macs;
    int64_t band;          /* CONV: output rows per im2col band */
    bool one;              /* CONV: 1x1, stride 1, no padding (no im2col) */
    int nthr;              /* threads the workspace has room for */
    size_t ws_thread;      /* CONV, CONVT: workspace bytes per thread (the weight partials follow) */
    double *mean, *invstd; /* BN: batch statistics kept from forward (train) for backward */
    fsci__nn_dnnl *dn;     /* CONV in float32: the oneDNN primitives (NULL: im2col + OpenBLAS) */
};

#define FSCI__NN_KERNELS(SFX)                                                                                \
    void fsci__nn_conv_fwd_##SFX(const fsci_nn_layer *l, const void *x, const void *p, void *y, void *ws);   \
    void fsci__nn_conv_bwd_##SFX(const fsci_nn_layer *l, const void *x, const void *dy, const void *p,       \
                                 void *dx, void *dp, void *ws);                                              \
    void fsci__nn_convt_fwd_##SFX(const fsci_nn_layer *l, const void *x, const void *p, void *y, void *ws);  \
    void fsci__nn_convt_bwd_##SFX(const fsci_nn_layer *l, const void *x, const void *dy, const void *p,      \
                                  void *dx, void *dp, void *ws);                                             \
    void fsci__nn_maxpool_fwd_##SFX(const fsci_nn_layer *l, const void *x, void *y);                         \
    void fsci__nn_maxpool_bwd_##SFX(const fsci_nn_layer *l, const void *x, const void *dy, void *dx,         \
                                    void *ws);                                                               \
    void fsci__nn_blur_fwd_##SFX(const fsci_nn_layer *l, const void *x, void *y);                            \
    void fsci__nn_blur_bwd_##SFX(const fsci_nn_layer *l, const void *dy, void *dx);                          \
    void fsci__nn_upsample_fwd_##SFX(const fsci_nn_layer *l, const void *x, void *y, void *ws);              \
    void fsci__nn_upsample_bwd_##SFX(const fsci_nn_layer *l, const void *dy, void *dx, void *ws);            \
    void fsci__nn_bn_fwd_##SFX(fsci_nn_layer *l, bool train, bool relu, const void *x, const void *p,        \
                               void *state, void *y);                                                        \
    void fsci__nn_bn_bwd_##SFX(const fsci_nn_layer *l, bool relu, const void *x, const void *y,              \
                               const void *dy, const void *p, void *dx, void *dp);                           \
    void fsci__nn_relu_fwd_##SFX(int64_t n, const void *x, void *y);                                         \
    void fsci__nn_relu_bwd_##SFX(int64_t n, const void *y, const void *dy, void *dx);                        \
    int fsci__nn_mse_##SFX(int64_t n, const void *pred, const void *target, const void *mask, double *loss,  \
                           void *dpred);

FSCI__NN_KERNELS(f32)
FSCI__NN_KERNELS(f64)

/* oneDNN convolutions (conv_dnnl.c): plan (FSCI_ENOTSUP when not used:
 * float64, oneDNN unavailable or FSCI_NN_DNNL=0), run, free. */
int fsci__nn_dnnl_plan(fsci_nn_layer *l, size_t *ws);
int fsci__nn_dnnl_fwd(const fsci_nn_layer *l, const float *x, const float *p, float *y, void *ws);
int fsci__nn_dnnl_bwd(const fsci_nn_layer *l, const float *x, const float *dy, const float *p, float *dx,
                      float *dp, void *ws);
void fsci__nn_dnnl_free(fsci__nn_dnnl **d);

#endif
