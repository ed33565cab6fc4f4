/* fastsci: the n2v2 engine, self-supervised denoising of images and stacks
 * with a U-Net trained on the noisy data itself (Noise2Void / N2V2).
 *
 * Network: a 2-D U-Net of the nn module (fastsci/nn.h), float32, NCHW with
 * one channel. Its weights live in one flat float32 buffer laid out exactly as
 * PyTorch's state_dict of the reference module (doc/n2v2.md: every entry but
 * num_batches_tracked, in registration order), so a state_dict exported as raw
 * float32 loads unchanged and the parity tests compare entry by entry.
 *
 * Thread safety: a network is used by one thread at a time; its kernels use
 * OpenMP and OpenBLAS inside. */
#ifndef FASTSCI_N2V2_H
#define FASTSCI_N2V2_H

#include <stdbool.h>

#include "fastsci/core/defs.h"

typedef enum fsci_n2v2_pool {
    FSCI_N2V2_POOL_MAX = 0, /* 2x2 max-pool, stride 2 (N2V) */
    FSCI_N2V2_POOL_BLUR,    /* binomial blur, stride 2 (OpenHCS "BlurPool2d") */
    FSCI_N2V2_POOL_MAXBLUR  /* 2x2 max-pool stride 1, then the blur stride 2 (N2V2's MaxBlurPool) */
} fsci_n2v2_pool;

typedef enum fsci_n2v2_up {
    FSCI_N2V2_UP_CONVT = 0, /* transposed conv 2x2 stride 2, halving the channels */
    FSCI_N2V2_UP_BILINEAR   /* bilinear x2, channels kept */
} fsci_n2v2_up;

typedef struct fsci_n2v2_arch {
    int depth;     /* downsamplings, 1..5 */
    int width;     /* channels of the first level, 1..256 */
    int kernel;    /* conv kernel size, odd, 1..7 */
    bool residual; /* output = network + input */
    bool top_skip; /* skip connection at the full-resolution level */
    bool bias;     /* bias on the block convolutions (the final 1x1 conv always has one) */
    fsci_n2v2_pool pool;
    fsci_n2v2_up up;
} fsci_n2v2_arch;

/* Presets: "n2v2" (published N2V2: depth 2, 32, MaxBlurPool, no top skip,
 * non-residual, bilinear), "n2v" (the N2V baseline: max-pool, top skip,
 * residual), "openhcs" (the OpenHCS function's network: depth 4, 64, blur
 * pooling, transposed convolutions, no conv bias). FSCI_EINVAL for another
 * name. */
FSCI_API int fsci_n2v2_preset(const char *name, fsci_n2v2_arch *out) FSCI_WUR;

/* FSCI_EINVAL with a message naming the field for an architecture out of range. */
FSCI_API int fsci_n2v2_arch_check(const fsci_n2v2_arch *a) FSCI_WUR;

typedef struct fsci_n2v2_net fsci_n2v2_net;

/* A network with PyTorch's default initialisation drawn from the Philox
 * generator keyed by `seed` (conv weights and biases uniform in
 * +-1/sqrt(fan_in), batch norm gamma 1, beta 0, running mean 0, var 1). */
FSCI_API int fsci_n2v2_net_create(const fsci_n2v2_arch *a, uint64_t seed, fsci_n2v2_net **out) FSCI_WUR;
FSCI_API void fsci_n2v2_net_destroy(fsci_n2v2_net **net);
FSCI_API const fsci_n2v2_arch *fsci_n2v2_net_arch(const fsci_n2v2_net *net);

/* The flat weight buffer (state_dict order) and its length; trainable[i] is
 * 0 for batch-norm running statistics, 1 otherwise. */
FSCI_API int64_t fsci_n2v2_net_nweights(const fsci_n2v2_net *net);
FSCI_API float *fsci_n2v2_net_weights(fsci_n2v2_net *net);
FSCI_API const unsigned char *fsci_n2v2_net_trainable(const fsci_n2v2_net *net);

/* Load raw little-endian float32 weights in state_dict order (the file must
 * hold exactly nweights values). FSCI_EIO / FSCI_EFORMAT naming the path. */
FSCI_API int fsci_n2v2_net_import_raw(fsci_n2v2_net *net, const char *path) FSCI_WUR;

/* Side of the multiple of which h and w must be (2^depth). */
FSCI_API int64_t fsci_n2v2_net_multiple(const fsci_n2v2_net *net);

/* y = net(x) for x, y of shape (n, 1, h, w); h and w multiples of
 * fsci_n2v2_net_multiple. train: batch norm uses the batch statistics and
 * updates the running ones, and the activations are kept for
 * fsci_n2v2_net_backward. Plans (activations, workspace) are made once per
 * shape and kept (the last few shapes). */
FSCI_API int fsci_n2v2_net_forward(fsci_n2v2_net *net, bool train, const float *x, int64_t n, int64_t h,
                                   int64_t w, float *y) FSCI_WUR;

/* Gradients of a scalar loss with respect to every weight, from dy = dL/dy of
 * the last train-mode forward: grads has nweights entries (running
 * statistics get 0). */
FSCI_API int fsci_n2v2_net_backward(fsci_n2v2_net *net, const float *dy, float *grads) FSCI_WUR;

/* Multiply-adds of one forward pass of one h x w image. */
FSCI_API double fsci_n2v2_net_macs(const fsci_n2v2_net *net, int64_t h, int64_t w);

#endif
