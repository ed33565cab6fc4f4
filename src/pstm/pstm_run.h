/* pstm: the run level shared by params.c, input.c, migrate.c, model.c and
 * engine.c (never installed). */
#ifndef FASTSCI_PSTM_RUN_H
#define FASTSCI_PSTM_RUN_H

#include "fastsci/fastsci.h"
#include "fastsci/pstm.h"
#include "pstm/pstm_impl.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* The output grid: bin (ix, iy) at (x0, y0) + ix dx ex + iy dy ey; columns in
 * the order iy, then ix; the velocity of column c at vel[c * vstride + k]
 * (vstride 0: one velocity function for every column). */
typedef struct fsci__pstm_grid {
    double x0, y0, dx, dy;
    double ex[2], ey[2]; /* unit inline and crossline axes */
    int64_t nx, ny, nt;
    double dt;
    float *vel;
    int64_t vstride;
} fsci__pstm_grid;

int fsci__pstm_check_opts(const fsci_pstm_opts *o, bool migrate);
/* Resolve the grid of o over the midpoints (mx, my) of ntr traces (used only
 * when nx is 0) and read the velocity. */
int fsci__pstm_grid_init(const fsci_pstm_opts *o, const double *mx, const double *my, int64_t ntr, int dim,
                         fsci__pstm_grid *g);
void fsci__pstm_grid_pos(const fsci__pstm_grid *g, int64_t ix, int64_t iy, double *ox, double *oy);
void fsci__pstm_grid_free(fsci__pstm_grid *g);

/* The input traces: a SEG-Y file (read on demand) or arrays in memory. */
typedef struct fsci__pstm_input {
    fsci__segy *file;  /* owned, or NULL */
    const float *data; /* arrays: [ntr][ns] */
    int64_t ntr, ns;
    double dt, t0;
    const double *sx, *sy, *gx, *gy;
    double *own; /* arrays converted by input_open (sx, sy, gx, gy), owned */
} fsci__pstm_input;

/* From the file named by o->input, or from the inputs "traces", "sx", "sy",
 * "gx", "gy" (float32 (ntr, ns) and float64 (ntr,) each). */
int fsci__pstm_input_open(const fsci_pstm_opts *o, const fsci_inputs *in, fsci__pstm_input *out);
int fsci__pstm_input_read(fsci__pstm_input *in, const int64_t *idx, int64_t n, float *out);
void fsci__pstm_input_close(fsci__pstm_input *in);
/* 2 or 3 from o->dim, or from the coordinates' crossline spread. */
int fsci__pstm_dim(const fsci_pstm_opts *o, const fsci__pstm_input *in);

/* Where a migration's columns go: called once per finished slab with the
 * columns [c0, c1) (order of the grid), noff traces of nt samples each. */
typedef int (*fsci__pstm_emit)(void *user, int64_t c0, int64_t c1, const float *img);

/* Migrate; calls emit for every slab in column order (on rank 0 under MPI). */
int fsci__pstm_migrate(const fsci_pstm_opts *o, fsci__pstm_input *in, const fsci_ctx *ctx,
                       const fsci__pstm_grid *g, int noff, fsci__pstm_emit emit, void *user,
                       fsci_pstm_stats *stats);

/* qsort/bsearch order of int64 indices (trace and column lists). */
static inline int fsci__pstm_cmp_i64(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The model command (src/pstm/model.c) and the demo section (src/pstm/demo.c). */
int fsci__pstm_model_run(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink);
int fsci__pstm_demo(fsci_report *r, const fsci_ctx *ctx, bool quick);
bool fsci__pstm_is_segy_path(const char *path);

/* Estimated floating-point operations per evaluated pair (doc/pstm.md). */
#define FSCI__PSTM_FLOPS_PAIR 20.0
#define FSCI__PSTM_FLOPS_PAIR_AA 45.0

#endif
