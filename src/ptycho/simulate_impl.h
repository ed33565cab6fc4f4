/* ptycho: the state of one simulation, shared by simulate.c (inputs,
 * grouping, coordinates, small members) and simulate_out.c (the passes that
 * make and write the big members). */
#ifndef FASTSCI_PTYCHO_SIMULATE_IMPL_H
#define FASTSCI_PTYCHO_SIMULATE_IMPL_H

#include <stdatomic.h>

#include "ptycho/metadata.h"
#include "ptycho_impl.h"

/* Everything one run holds; released by sim_free (simulate.c). */
typedef struct sim {
    const fsci_ptycho_opts *o;
    const fsci_ptycho_inputs *in;
    uint64_t seed;
    int nt;
    bool channel;
    int64_t n, n2, C, H, W;
    int64_t np, B, P; /* positions, groups, grouped patterns */
    int64_t K_used;   /* the neighbour pool the grouping used: min(K, np) */
    fsci_array *obj, *probe;
    double *x, *y, *cx, *cy, *offs, *rel, *nnc, *sumsq;
    int64_t *counts, *scan_index;
    int32_t *nn;
    float *diff, *buf;
    void *ready; /* atomic_uchar[B]: groups whose amplitudes are in diff (file sinks) */
    fsci__ptycho_diff *d;
    fsci_progress *prog;
    fsci_ptycho_report r;
    char timestamp[FSCI__PTYCHO_TIMESTAMP_CAP]; /* of the metadata, read before computing */
} sim;

/* raw diff3d (one pattern per scan position), streamed or filled in place. */
int fsci__ptycho_sim_raw(sim *s, fsci_sink *sink);

/* Y, diffraction and X_full: filled in place for a memory sink; for a file
 * sink, written while they are computed (see simulate_out.c). */
int fsci__ptycho_sim_grouped(sim *s, fsci_sink *sink);

/* ground_truth_patches (np, N, N, 1) complex64. */
int fsci__ptycho_sim_ground_truth(sim *s, fsci_sink *sink);

/* A whole C-contiguous array as one member. */
int fsci__ptycho_sink_array(fsci_sink *sink, const char *name, fsci_dtype t, int ndim, const int64_t *shape,
                            void *data);

#endif
