/* n2v2: blind-spot masking of the training patches (never installed).
 *
 * Three rules, stated exactly in doc/n2v2_masking.md with their sources:
 *   FSCI__MASK_N2V2     stratified points (one per box of side round(sqrt(100 / perc))),
 *                       replaced by the numpy median of the (2r+1)^2 window cropped at the
 *                       border, without the centre and without every other blind spot of the
 *                       patch: no blind spot's own value reaches the input.
 *   FSCI__MASK_OPENHCS  OpenHCS HEAD: every pixel a blind spot with probability prob,
 *                       replaced by the lower median of its 3x3 ring with zero padding,
 *                       taken over the original patch (leaks, by design).
 *   FSCI__MASK_N2V      N2V's default uniform_withCP: stratified points, replaced by the
 *                       original value at a uniform position of the cropped window,
 *                       centre included.
 * Random draws: patch i of a call uses fsci_rng_init(&r, seed, FSCI__STREAM_MASK, step, i),
 * so the output depends on (seed, step, patch index) and never on the thread count. */
#ifndef FASTSCI_N2V2_MASK_H
#define FASTSCI_N2V2_MASK_H

#include <stdint.h>

#include "fastsci/core/defs.h"

/* The Philox stream of the masking draws: 0x6e32 is "n2" in ASCII; the n2v2 engine's
 * streams are 0x6e32xxxx and the mask owns 0x6e320001. Changing it changes every mask. */
#define FSCI__STREAM_MASK UINT64_C(0x6e320001)

typedef enum { FSCI__MASK_N2V2 = 0, FSCI__MASK_OPENHCS, FSCI__MASK_N2V } fsci__mask_kind;

/* kind: the rule. perc: blind spots in percent of the pixels (N2V2, N2V), the box side is
 * round(sqrt(100 / perc)) (half to even, as numpy). radius: window half-width (N2V2, N2V).
 * prob: blind-spot probability per pixel (OPENHCS). Fields a kind does not use are ignored. */
typedef struct {
    fsci__mask_kind kind;
    double perc;
    int radius;
    double prob;
} fsci__mask_opts;

/* Defaults: the N2V2 authors' runs (perc 0.198, radius 2), OpenHCS HEAD (prob 0.05) and N2V's
 * Keras default (perc 0.198, radius 5). */
#define FSCI__MASK_PERC_DEFAULT 0.198
#define FSCI__MASK_RADIUS_N2V2 2
#define FSCI__MASK_RADIUS_N2V 5
#define FSCI__MASK_PROB_DEFAULT 0.05
#define FSCI__MASK_RADIUS_MAX 16

/* The defaults above for `kind` (all fields set, the unused ones too). */
fsci__mask_opts fsci__mask_defaults(fsci__mask_kind kind);

/* FSCI_OK if `o` makes sense for h x w patches, else FSCI_EINVAL with one message naming
 * the field and its value:
 *   every kind: o not NULL, kind one of the three, 1 <= h, w <= 2^24;
 *   N2V2, N2V:  perc finite in (0, 50], box side round(sqrt(100 / perc)) >= 2 (a side of 1,
 *               perc > 44.4, would make every pixel a blind spot) and <= 2^20 (perc >= about
 *               1e-10, an overflow guard); radius in [1, 16] with 2 radius + 1 <= h and <= w;
 *   OPENHCS:    prob in (0, 0.5]. */
int fsci__mask_check(const fsci__mask_opts *o, int64_t h, int64_t w) FSCI_WUR;

/* Mask b patches of h x w float32 (contiguous; patch i at patches + i h w), the originals.
 * input (same shape, written): the manipulated network input, the original except at the
 * blind spots. mask (same shape, written): 1.0f at the blind spots, 0.0f elsewhere.
 * *count (if count is not NULL): the number of blind spots of the whole batch (>= 0).
 * The three arrays must not overlap. Patch values are not checked: a NaN or infinity gives
 * an unspecified replacement value (never an out-of-bounds access).
 * nthreads: OpenMP threads over the patches, 0 = fsci_parallel_threads(); the output is
 * the same bytes for every thread count. Allocates nothing (a few KiB of stack per thread).
 * Errors (nothing written): FSCI_EINVAL for options refused by fsci__mask_check, b < 0,
 * b h w overflowing, NULL or overlapping arrays with b > 0, nthreads < 0.
 * Thread-safe (no shared state). */
int fsci__mask_apply(const fsci__mask_opts *o, const float *patches, float *input, float *mask, int64_t b,
                     int64_t h, int64_t w, uint64_t seed, uint64_t step, int nthreads,
                     int64_t *count) FSCI_WUR;

#endif
