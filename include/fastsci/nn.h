/* fastsci: the nn module, small convolutional networks trained on the CPU.
 *
 * Tensors are NCHW, C-contiguous, float32 (the working precision) or float64
 * (the same kernels, used by the finite-difference gradient checks). A layer
 * is planned once for one input shape (fsci_nn_layer_create: shapes, GEMM
 * sizes, workspace size) and then run many times: forward and backward
 * allocate nothing; scratch memory comes from a caller workspace of
 * fsci_nn_layer_workspace() bytes, which one network shares between all its
 * layers. There is no autograd: a network calls forward on its layers in
 * order, then backward in reverse order, keeping what backward needs.
 *
 * Parameter layouts are PyTorch's, so that a state_dict exported as raw
 * float32 loads unchanged (doc/nn.md):
 *   conv    weight (cout, cin, k, k), then bias (cout) when present;
 *   convT   weight (cin, cout, 2, 2), then bias (cout) when present;
 *   bn      weight gamma (c), bias beta (c); state: running mean (c), running var (c).
 *
 * Semantics (each matches torch.nn of PyTorch 1.13, doc/nn.md):
 *   CONV      k x k (k odd), stride s, zero padding p: ho = (h + 2p - k)/s + 1.
 *   CONVT     transposed conv, kernel 2, stride 2: ho = 2h.
 *   MAXPOOL   2 x 2 window, stride 1 or 2, no padding: ho = (h - 2)/s + 1. Ties
 *             go to the first maximum in row-major window order (as PyTorch).
 *   BLUR      fixed depthwise [1,2,1]^T[1,2,1]/16, stride 2, zero padding 1:
 *             ho = (h - 1)/2 + 1. MaxBlurPool = MAXPOOL stride 1, then BLUR.
 *   UPSAMPLE  bilinear x2, align_corners = False.
 *   BN        batch norm: train mode normalises with the batch mean and the
 *             biased variance and updates the running statistics with
 *             momentum m and the unbiased variance; eval mode uses them.
 *   BNRELU    BN followed by ReLU, fused (one pass forward, one backward).
 *   RELU      max(x, 0).
 *
 * Thread safety: a layer is used by one thread at a time (BN keeps its batch
 * statistics between forward and backward). Inside, float32 convolutions use
 * oneDNN and the rest OpenMP (float64 convolutions: im2col + OpenBLAS), all
 * with the calling thread's OpenMP thread count. Results are bit-reproducible
 * and do not depend on the thread count: sums over the batch are per-image
 * partials added in image order (doc/nn.md). */
#ifndef FASTSCI_NN_H
#define FASTSCI_NN_H

#include <stdbool.h>

#include "fastsci/core/array.h"
#include "fastsci/core/defs.h"

typedef struct fsci_nn_dims {
    int64_t n, c, h, w;
} fsci_nn_dims;

typedef enum fsci_nn_kind {
    FSCI_NN_CONV = 0,
    FSCI_NN_CONVT,
    FSCI_NN_MAXPOOL,
    FSCI_NN_BLUR,
    FSCI_NN_UPSAMPLE,
    FSCI_NN_BN,
    FSCI_NN_BNRELU,
    FSCI_NN_RELU,
    FSCI_NN_NKINDS
} fsci_nn_kind;

typedef struct fsci_nn_layer_desc {
    fsci_nn_kind kind;
    fsci_nn_dims in;  /* input shape (n >= 1, c >= 1, h >= 1, w >= 1) */
    fsci_dtype dtype; /* FSCI_F32 or FSCI_F64 */
    int64_t cout;     /* CONV, CONVT: output channels */
    int k;            /* CONV: kernel size (odd, 1..7) */
    int stride;       /* CONV: 1 or 2; MAXPOOL: 1 or 2 */
    int pad;          /* CONV: zero padding (0..k/2) */
    bool bias;        /* CONV, CONVT */
    double eps;       /* BN: 0 gives 1e-5 */
    double momentum;  /* BN: 0 gives 0.1 */
} fsci_nn_layer_desc;

typedef struct fsci_nn_layer fsci_nn_layer;

/* Plan a layer. FSCI_EINVAL (message naming the field and value) for a kind,
 * dtype or size out of range, or an output that would be empty; FSCI_ENOMEM. */
FSCI_API int fsci_nn_layer_create(const fsci_nn_layer_desc *d, fsci_nn_layer **out) FSCI_WUR;
FSCI_API void fsci_nn_layer_destroy(fsci_nn_layer **l);

FSCI_API const fsci_nn_layer_desc *fsci_nn_layer_desc_of(const fsci_nn_layer *l);
FSCI_API fsci_nn_dims fsci_nn_layer_out(const fsci_nn_layer *l);
/* Trainable parameters (elements of dtype), in the layout above. */
FSCI_API int64_t fsci_nn_layer_nparams(const fsci_nn_layer *l);
/* Non-trainable state (BN running mean and var: 2c), elements of dtype. */
FSCI_API int64_t fsci_nn_layer_nstate(const fsci_nn_layer *l);
/* Scratch bytes forward and backward need (64-byte aligned pointer). */
FSCI_API size_t fsci_nn_layer_workspace(const fsci_nn_layer *l);
/* Multiply-adds of one forward pass (0 for the memory-bound kinds). */
FSCI_API double fsci_nn_layer_macs(const fsci_nn_layer *l);

/* y = layer(x). params: nparams elements (NULL if none); state: nstate
 * elements (BN: read in eval mode, updated in train mode). x and y must not
 * overlap, except RELU which may run in place. */
FSCI_API int fsci_nn_layer_forward(fsci_nn_layer *l, bool train, const void *x, const void *params,
                                   void *state, void *y, void *ws) FSCI_WUR;

/* Gradients from dy (shape of y): dx (shape of x; NULL to skip) and dparams
 * (nparams elements, overwritten; NULL to skip). x and y are the tensors of
 * the last forward call in train mode (BN and BNRELU use the batch
 * statistics kept from that call; y is read by RELU and BNRELU only and may
 * be NULL for the others). */
FSCI_API int fsci_nn_layer_backward(fsci_nn_layer *l, const void *x, const void *y, const void *dy,
                                    const void *params, void *dx, void *dparams, void *ws) FSCI_WUR;

/* Channel concatenation of a (n, ca, h, w) and b (n, cb, h, w) into
 * y (n, ca + cb, h, w), and its backward (split dy into da, db; either may be
 * NULL). */
FSCI_API int fsci_nn_concat(fsci_dtype dtype, fsci_nn_dims a, int64_t cb, const void *xa, const void *xb,
                            void *y) FSCI_WUR;
FSCI_API int fsci_nn_concat_backward(fsci_dtype dtype, fsci_nn_dims a, int64_t cb, const void *dy, void *da,
                                     void *db) FSCI_WUR;

/* Masked mean squared error: loss = sum(mask (pred - target)^2) / sum(mask),
 * n elements each; dpred (NULL to skip) = 2 mask (pred - target) / sum(mask).
 * The sum is taken in double in a fixed order. FSCI_EINVAL if the mask is
 * empty. */
FSCI_API int fsci_nn_masked_mse(fsci_dtype dtype, int64_t n, const void *pred, const void *target,
                                const void *mask, double *loss, void *dpred) FSCI_WUR;

/* ---- optimisers (float32 parameters) -------------------------------------- */

typedef struct fsci_nn_adam_opts {
    double lr;           /* learning rate (> 0) */
    double beta1, beta2; /* 0 gives 0.9, 0.999 */
    double eps;          /* 0 gives 1e-8 */
    double weight_decay; /* >= 0 */
    bool decoupled;      /* true: AdamW (p -= lr wd p before the step); false: Adam (g += wd p) */
} fsci_nn_adam_opts;

typedef struct fsci_nn_adam fsci_nn_adam;

/* Adam or AdamW over n float32 parameters, as torch.optim.Adam / AdamW
 * (amsgrad off): the moments live in the object. */
FSCI_API int fsci_nn_adam_create(int64_t n, const fsci_nn_adam_opts *o, fsci_nn_adam **out) FSCI_WUR;
FSCI_API void fsci_nn_adam_destroy(fsci_nn_adam **a);
/* One step: p updated in place from g (n elements each). Mask: NULL, or n
 * bytes where 0 marks entries that are not trainable (BN running stats
 * stored beside the parameters): they are left unchanged. */
FSCI_API void fsci_nn_adam_step(fsci_nn_adam *a, float *p, const float *g, const unsigned char *mask);
FSCI_API void fsci_nn_adam_set_lr(fsci_nn_adam *a, double lr);
FSCI_API double fsci_nn_adam_lr(const fsci_nn_adam *a);
/* Steps taken and the moments (for saving and the parity tests). */
FSCI_API int64_t fsci_nn_adam_steps(const fsci_nn_adam *a);

/* Scale g (n elements) so that its L2 norm (double, fixed order) is at most
 * max_norm; returns the norm before clipping (torch.nn.utils.clip_grad_norm_). */
FSCI_API double fsci_nn_clip_grad_norm(float *g, int64_t n, double max_norm);

/* ReduceLROnPlateau (mode min, relative threshold), torch.optim.lr_scheduler
 * semantics: after more than `patience` epochs without a value below
 * best (1 - threshold), lr becomes max(lr factor, min_lr) and the count
 * restarts (cooldown 0). */
typedef struct fsci_nn_plateau {
    double factor, threshold, min_lr;
    int patience;
    double best;
    int bad;
} fsci_nn_plateau;

/* Defaults factor 0.5, patience 10, threshold 1e-4, min_lr 0. */
FSCI_API void fsci_nn_plateau_init(fsci_nn_plateau *p, double factor, int patience);
/* Feed one value; returns the learning rate to use from now on. */
FSCI_API double fsci_nn_plateau_step(fsci_nn_plateau *p, double value, double lr);

#endif
