/* The qdot charge-state classifier: an ensemble of TinyCNNs (doc/qdot_classifier.md).
 *
 * Each member takes one 1 x 64 x 64 log-preprocessed patch: four 3 x 3 stride-2
 * convolutions (16, 32, 64, 64 channels, no bias, zero padding 1), each with
 * batch norm and ReLU; global average pooling; dropout (training only);
 * Linear 64 -> 32, ReLU; Linear 32 -> 3 (logits). The ensemble label is the
 * argmax of the members' mean softmax, its confidence the mean probability
 * of that label and the disagreement the largest L-infinity distance between
 * two members' softmax vectors.
 *
 * Labels (the reference's order): 0 double dot, 1 single dot, 2 misc.
 *
 * Thread safety: a trained classifier is immutable; predict may run
 * concurrently on one classifier (it plans its own layers). Results do not
 * depend on the thread count. */
#ifndef FASTSCI_QDOT_CLASSIFIER_H
#define FASTSCI_QDOT_CLASSIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fastsci/core/array.h"
#include "fastsci/core/defs.h"

#define FSCI__QDOT_CLS_SIDE 64 /* patch side, pixels */
#define FSCI__QDOT_CLS_NPIX (FSCI__QDOT_CLS_SIDE * FSCI__QDOT_CLS_SIDE)
#define FSCI__QDOT_CLS_NCLASS 3
#define FSCI__QDOT_CLS_MAX_MEMBERS 8
#define FSCI__QDOT_CLS_HIDDEN 32
#define FSCI__QDOT_CLS_FEAT 64 /* channels of the last convolution */
#define FSCI__QDOT_CLS_FILE_VERSION 1

enum { FSCI__QDOT_CLS_DOUBLE_DOT = 0, FSCI__QDOT_CLS_SINGLE_DOT = 1, FSCI__QDOT_CLS_MISC = 2 };

/* Philox streams (key {seed, stream}). */
enum {
    FSCI__QDOT_CLS_STREAM_DATA = 0x71c50001,
    FSCI__QDOT_CLS_STREAM_NOISE = 0x71c50002,
    FSCI__QDOT_CLS_STREAM_INIT = 0x71c50003,
    FSCI__QDOT_CLS_STREAM_SHUFFLE = 0x71c50004,
    FSCI__QDOT_CLS_STREAM_DROPOUT = 0x71c50005
};

typedef struct fsci__qdot_cls fsci__qdot_cls;

/* ---- data (cls_data.c) ------------------------------------------------------ */

/* The reference's log preprocessing of one patch: clip at 0, log10(g + 1e-9),
 * then min-max to [0, 1] (0.5 everywhere when max - min <= 1e-12). in and
 * out: npix values each (may not overlap). */
void fsci__qdot_cls_preprocess(const double *in, int64_t npix, float *out);

/* n labelled, preprocessed patches from the simulator: x[n * 64 * 64]
 * (patch i at x + i * 4096, row-major, row = slow gate), label[n]. Patch i
 * has label i % 3 and every draw of it (device, window, noise, orientation)
 * is keyed by (seed, i), so the set does not depend on the thread count and
 * patch i is the same in every set with the same seed. The prior is in
 * doc/qdot_classifier.md section 3. FSCI_EINVAL for n < 0 or NULL arrays
 * with n > 0; errors of the simulator otherwise (none are expected). */
int fsci__qdot_cls_dataset(uint64_t seed, int64_t n, float *x, int32_t *label) FSCI_WUR;

/* ---- network pieces written here (classifier.c), float64 for the checks ---- */

/* Global average pool: y[i * c + k] = mean over hw of x[(i * c + k) * hw + j].
 * x is float32 or float64 (dtype); y double. */
void fsci__qdot_cls_gap_forward(fsci_dtype dtype, int64_t n, int64_t c, int64_t hw, const void *x, double *y);
/* dx[(i * c + k) * hw + j] = dy[i * c + k] / hw (dx of dtype). */
void fsci__qdot_cls_gap_backward(fsci_dtype dtype, int64_t n, int64_t c, int64_t hw, const double *dy,
                                 void *dx);

/* y (n x out) = x (n x in) W^T + b with W (out x in, PyTorch's nn.Linear). */
void fsci__qdot_cls_linear_forward(int64_t n, int64_t in, int64_t out, const double *w, const double *b,
                                   const double *x, double *y);
/* dx (n x in; NULL to skip) = dy W; dw (out x in) = dy^T x; db (out) = sum_i dy (overwritten). */
void fsci__qdot_cls_linear_backward(int64_t n, int64_t in, int64_t out, const double *w, const double *x,
                                    const double *dy, double *dx, double *dw, double *db);

/* Softmax cross-entropy, mean over the batch (nn.CrossEntropyLoss): logits
 * (n x k), label[n] in 0..k-1. *loss gets the mean; dlogits (n x k; NULL to
 * skip) its gradient (softmax - onehot) / n; probs (n x k; NULL to skip) the
 * softmax. */
void fsci__qdot_cls_softmax_ce(int64_t n, int64_t k, const double *logits, const int32_t *label, double *loss,
                               double *dlogits, double *probs);

/* ---- the ensemble ----------------------------------------------------------- */

/* Weights per member (float32, PyTorch state_dict order: per block conv
 * weight, BN gamma, beta, running mean, running var; then penultimate weight
 * (32 x 64) and bias, head weight (3 x 32) and bias). */
int64_t fsci__qdot_cls_member_nweights(void);

/* A classifier of `members` (1..8) randomly initialised networks (PyTorch's
 * default initialisation, member m keyed by (seed, m)). */
int fsci__qdot_cls_create(int members, uint64_t seed, fsci__qdot_cls **out) FSCI_WUR;
void fsci__qdot_cls_destroy(fsci__qdot_cls **c);
int fsci__qdot_cls_members(const fsci__qdot_cls *c);
/* Member m's weights (fsci__qdot_cls_member_nweights() floats). */
float *fsci__qdot_cls_weights(fsci__qdot_cls *c, int m);

typedef struct fsci__qdot_cls_report {
    int64_t ntrain, nval;
    double val_accuracy; /* ensemble accuracy on the held-out patches */
    double member_accuracy[FSCI__QDOT_CLS_MAX_MEMBERS];
    int64_t confusion[FSCI__QDOT_CLS_NCLASS][FSCI__QDOT_CLS_NCLASS]; /* [true][predicted], held out */
    double seconds_data, seconds_train;
} fsci__qdot_cls_report;

typedef struct fsci__qdot_cls_opts {
    uint64_t seed;       /* data and initialisation */
    int64_t n;           /* patches generated (0: 6000) */
    double val_frac;     /* held-out fraction (0: 0.15) */
    int members;         /* ensemble size (0: 5) */
    int epochs;          /* (0: 20) */
    int batch;           /* mini-batch (0: 64) */
    double lr;           /* AdamW peak learning rate, cosine-annealed to lr / 100 (0: 2e-3) */
    double weight_decay; /* AdamW (0: 1e-4; < 0: none) */
    double dropout;      /* before the penultimate layer (0: 0.2; < 0: none) */
    /* Progress: one line per member and epoch (NULL: silent). */
    void (*progress)(void *user, const char *line);
    void *user;
    fsci__qdot_cls_report *report; /* filled when not NULL */
} fsci__qdot_cls_opts;

/* Generate the data set (fsci__qdot_cls_dataset with o->seed), hold out the
 * last val_frac of it, train each member with AdamW on shuffled mini-batches
 * and keep, per member, the weights of its best epoch on the held-out
 * patches (as the reference). *out gets the ensemble. FSCI_EINVAL for
 * options out of range, FSCI_ENOMEM. */
int fsci__qdot_cls_train(const fsci__qdot_cls_opts *o, fsci__qdot_cls **out) FSCI_WUR;

/* Classify n preprocessed patches x[n * 4096] (eval mode, running BN
 * statistics). Outputs, each may be NULL: probs[n * 3] the members' mean
 * softmax, label[n] its argmax, conf[n] its value there, disagreement[n] the
 * largest pairwise L-infinity distance between members' softmax vectors.
 * FSCI_EINVAL, FSCI_ENOMEM. */
int fsci__qdot_cls_predict(const fsci__qdot_cls *c, const float *x, int64_t n, float *probs, int32_t *label,
                           float *conf, float *disagreement) FSCI_WUR;

/* Weight file (doc/qdot_classifier.md section 5), written atomically. */
int fsci__qdot_cls_save(const fsci__qdot_cls *c, const char *path) FSCI_WUR;
/* Read and validate a weight file: FSCI_EIO when it cannot be read,
 * FSCI_EFORMAT naming the file and the field for a foreign, truncated or
 * corrupt one. */
int fsci__qdot_cls_load(const char *path, fsci__qdot_cls **out) FSCI_WUR;
/* The same from memory (name is used in messages). */
int fsci__qdot_cls_load_mem(const void *data, size_t size, const char *name, fsci__qdot_cls **out) FSCI_WUR;

#endif
