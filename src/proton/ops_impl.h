/* proton transport operators, shared by ops_scatter.c, ops_energy.c and ops_stream.c
 * (private): box and row helpers, the item partition and the counters.
 *
 * The operators: angular scattering A_theta, energy loss A_E,
 * streaming A_stream (bilinear or MUSCL), on the bounding boxes of the
 * occupied (E, theta) planes.
 *
 * Hand-written kernels (they are the point of the engine). Work is cut into
 * items (an energy bin for A_theta, a plane for A_stream and the A_E gather,
 * a row for the dose accounting); each item writes only its own output plane
 * (or dose row) and its own counter slot, and counters are summed in item
 * order after the parallel region. Items are handed out to the threads in
 * chunks, dynamically (a thread that the OS preempts takes fewer chunks
 * instead of holding up the team at the barrier); since no two items touch
 * the same output the results are bit-identical for every thread count and
 * every schedule. Sums over cells use
 * eight accumulators indexed by the absolute column (x mod 8), so that sparse
 * (bounding-box) and dense processing give the same sums: cells outside a box
 * are zero and add nothing. */
#ifndef FASTSCI_PROTON_OPS_IMPL_H
#define FASTSCI_PROTON_OPS_IMPL_H

#include <math.h>
#include <omp.h>
#include <string.h>

#include "fastsci/core/error.h"
#include "fastsci/core/parallel.h"
#include "proton/proton_impl.h"

#define EMPTY(b) ((b).z0 >= (b).z1)
/* Bytes of psi read and written per cell processed (profiling). */
#define PSI_RW_BYTES (2 * (double)sizeof(fsci__psi_t))

static inline fsci__pbox box_union(fsci__pbox a, fsci__pbox b)
{
    if (EMPTY(a)) return b;
    if (EMPTY(b)) return a;
    fsci__pbox u = a;
    if (b.z0 < u.z0) u.z0 = b.z0;
    if (b.z1 > u.z1) u.z1 = b.z1;
    if (b.x0 < u.x0) u.x0 = b.x0;
    if (b.x1 > u.x1) u.x1 = b.x1;
    return u;
}

static inline fsci__pbox full_box(const fsci_proton_plan *p)
{
    fsci__pbox b = {0, (int32_t)p->nz, 0, (int32_t)p->nx};
    return b;
}

static inline double sum8(const double a[8])
{
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* Zero the rectangle b of plane P. */
static inline void zero_box(fsci__psi_t *P, int64_t nx, fsci__pbox b)
{
    if (EMPTY(b)) return;
    for (int64_t z = b.z0; z < b.z1; z++)
        memset(P + z * nx + b.x0, 0, (size_t)(b.x1 - b.x0) * sizeof(fsci__psi_t));
}

/* Zero the part of rectangle `old` outside rectangle `keep`. */
static inline void zero_outside(fsci__psi_t *P, int64_t nx, fsci__pbox old, fsci__pbox keep)
{
    if (EMPTY(old)) return;
    for (int64_t z = old.z0; z < old.z1; z++) {
        fsci__psi_t *r = P + z * nx;
        if (z < keep.z0 || z >= keep.z1) {
            memset(r + old.x0, 0, (size_t)(old.x1 - old.x0) * sizeof(fsci__psi_t));
            continue;
        }
        int32_t a = old.x1 < keep.x0 ? old.x1 : keep.x0;
        if (a > old.x0) memset(r + old.x0, 0, (size_t)(a - old.x0) * sizeof(fsci__psi_t));
        int32_t b = old.x0 > keep.x1 ? old.x0 : keep.x1;
        if (old.x1 > b) memset(r + b, 0, (size_t)(old.x1 - b) * sizeof(fsci__psi_t));
    }
}

/* Empty an output plane. Dense mode keeps full boxes (and zero memory). */
static inline void clear_plane(const fsci_proton_plan *p, fsci__psi_t *P, fsci__pbox *b, double *sum)
{
    if (p->o.dense) {
        memset(P, 0, (size_t)p->plane * sizeof(fsci__psi_t));
        *b = full_box(p);
    } else {
        zero_box(P, p->nx, *b);
        *b = (fsci__pbox){0, 0, 0, 0};
    }
    *sum = 0;
}

/* Prune values below tau (counted in pac), sum the kept ones (acc), add
 * them to W if not NULL, over the flat plane indices [x0, x1) of row (a
 * plane pointer). Lanes by flat index mod 8, so row-wise and whole-plane
 * calls give the same sums. */
static inline void finish_row(fsci__psi_t *restrict row, int64_t x0, int64_t x1, fsci__psi_t tau,
                              double *restrict W, double *restrict acc_io, double *restrict pac_io)
{
    /* three simple passes over a segment that is in L1 (each vectorises) */
    if (tau > 0) {
        fsci__psi_t pl[16] = {0}; /* pruned values are below tau: lanes of the psi type suffice */
        int64_t x = x0;
        for (; x < x1 && (x & 15); x++) {
            fsci__psi_t v = row[x], k = v >= tau ? v : (fsci__psi_t)0;
            pl[x & 15] += v - k;
            row[x] = k;
        }
        for (; x + 16 <= x1; x += 16) {
            fsci__psi_t *restrict r = row + x;
            for (int j = 0; j < 16; j++) {
                fsci__psi_t v = r[j], k = v >= tau ? v : (fsci__psi_t)0;
                pl[j] += v - k;
                r[j] = k;
            }
        }
        for (; x < x1; x++) {
            fsci__psi_t v = row[x], k = v >= tau ? v : (fsci__psi_t)0;
            pl[x & 15] += v - k;
            row[x] = k;
        }
        for (int j = 0; j < 16; j++) pac_io[j & 7] += (double)pl[j];
    }
    double acc[8];
    for (int j = 0; j < 8; j++) acc[j] = acc_io[j];
    int64_t x = x0;
    for (; x < x1 && (x & 7); x++) acc[x & 7] += (double)row[x];
    for (; x + 8 <= x1; x += 8)
        for (int j = 0; j < 8; j++) acc[j] += (double)row[x + j];
    for (; x < x1; x++) acc[x & 7] += (double)row[x];
    for (int j = 0; j < 8; j++) acc_io[j] = acc[j];
    if (W)
        for (x = x0; x < x1; x++) W[x] += (double)row[x];
}

/* Sum of a double row segment, lanes by absolute column. */
static inline void sum_row_d(const double *r, int64_t x0, int64_t x1, double acc[8])
{
    int64_t x = x0;
    for (; x < x1 && (x & 7); x++) acc[x & 7] += r[x];
    for (; x + 8 <= x1; x += 8)
        for (int j = 0; j < 8; j++) acc[j] += r[x + j];
    for (; x < x1; x++) acc[x & 7] += r[x];
}

/* Sum of a psi row segment, lanes by absolute column. */
static inline void sum_row_psi(const fsci__psi_t *r, int64_t x0, int64_t x1, double acc[8])
{
    for (int64_t x = x0; x < x1; x++) acc[x & 7] += (double)r[x];
}

/* Grow the tight box with the non-zero cells of row z in [x0, x1). */
static inline void tight_row(const fsci__psi_t *row, int64_t z, int64_t x0, int64_t x1, fsci__pbox *tb)
{
    int64_t a = x0, e = x1 - 1;
    while (a < x1 && row[a] == 0) a++;
    if (a == x1) return;
    while (row[e] == 0) e--;
    if (EMPTY(*tb)) {
        *tb = (fsci__pbox){(int32_t)z, (int32_t)z + 1, (int32_t)a, (int32_t)e + 1};
        return;
    }
    tb->z1 = (int32_t)z + 1;
    if (a < tb->x0) tb->x0 = (int32_t)a;
    if (e + 1 > tb->x1) tb->x1 = (int32_t)e + 1;
}

/* Below this many cells an operator runs on one thread: waking the team
 * costs more than the work (results do not depend on the thread count). */
#define PARALLEL_MIN_CELLS 65536

/* Threads worth starting for items [0, n): nt, or 1 if their total cost is
 * below PARALLEL_MIN_CELLS. */
static inline int team_size(const fsci_proton_state *s, int64_t n, int nt)
{
    int64_t total = 0;
    for (int64_t i = 0; i < n; i++) total += s->items[i].cost + 1;
    return total < PARALLEL_MIN_CELLS ? 1 : nt;
}

/* Items per chunk of the dynamic schedule: about 32 chunks per thread. */
static inline int64_t item_chunk(int64_t n, int nt)
{
    const int64_t c = n / (32 * (int64_t)nt);
    return c < 1 ? 1 : c;
}

/* Sum item counters in item order into tot[FSCI__NP]. */
static inline void reduce_items(const fsci_proton_state *s, int64_t n, double tot[FSCI__NP])
{
    memset(tot, 0, FSCI__NP * sizeof(double));
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < FSCI__NP; j++) tot[j] += s->part[i * FSCI__NP + j];
}

/* Add clear items for the planes of the output buffer that no compute item
 * writes and that may hold data. */
static inline int64_t add_clear_items(const fsci_proton_plan *p, fsci_proton_state *s, int64_t n)
{
    const int dst = 1 - s->cur;
    for (int64_t i = 0; i < p->nw * p->nth; i++) {
        if (s->written[i]) continue;
        if (!p->o.dense && EMPTY(s->box[dst][i])) continue;
        fsci__item *it = &s->items[n++];
        it->k = (int32_t)(i / p->nth); /* slot */
        it->t = (int32_t)(i % p->nth);
        it->kind = 1;
        it->cost = p->o.dense ? p->plane : 1;
    }
    return n;
}

static inline void do_clear(const fsci_proton_plan *p, fsci_proton_state *s, const fsci__item *it,
                            double *part)
{
    const int dst = 1 - s->cur;
    const int64_t pl = (int64_t)it->k * p->nth + it->t;
    clear_plane(p, s->psi[dst] + pl * p->plane, &s->box[dst][pl], &s->psum[dst][pl]);
    memset(part, 0, FSCI__NP * sizeof(double));
}

static inline bool bin_empty(const fsci_proton_plan *p, const fsci_proton_state *s, int64_t k)
{
    const int64_t slot = k % p->nw;
    for (int64_t t = 0; t < p->nth; t++)
        if (!EMPTY(s->box[s->cur][slot * p->nth + t]) && s->psum[s->cur][slot * p->nth + t] != 0)
            return false;
    return true;
}

static inline void add_counters(fsci_proton_state *s, int field_w, int field_e, double w, double e)
{
    if (field_w >= 0) {
        s->stepb[0][field_w] += w;
        s->run[0][field_w] += w;
    }
    if (field_e >= 0) {
        s->stepb[1][field_e] += e;
        s->run[1][field_e] += e;
    }
}

#endif
