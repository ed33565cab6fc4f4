/* proton transport operators: angular scattering A_theta, energy loss A_E,
 * streaming A_stream (bilinear or MUSCL), on the bounding boxes of the
 * occupied (E, theta) planes.
 *
 * Hand-written kernels (they are the point of the engine). Work is cut into
 * items (an energy bin for A_theta, a plane for A_stream and the A_E gather,
 * a row for the dose accounting); each item writes only its own output plane
 * (or dose row) and its own counter slot, and counters are summed in item
 * order after the parallel region. Items are distributed over threads by
 * cost in a fixed way, but since no two items touch the same output the
 * results are bit-identical for every thread count. Sums over cells use
 * eight accumulators indexed by the absolute column (x mod 8), so that sparse
 * (bounding-box) and dense processing give the same sums: cells outside a box
 * are zero and add nothing. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "fastsci/core/error.h"
#include "fastsci/core/parallel.h"
#include "proton/proton_impl.h"

#define EMPTY(b) ((b).z0 >= (b).z1)
/* Bytes of psi read and written per cell processed (profiling). */
#define PSI_RW_BYTES (2 * (double)sizeof(fsci__psi_t))

static fsci__pbox box_union(fsci__pbox a, fsci__pbox b)
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

static fsci__pbox full_box(const fsci_proton_plan *p)
{
    fsci__pbox b = {0, (int32_t)p->nz, 0, (int32_t)p->nx};
    return b;
}

static double sum8(const double a[8])
{
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* Zero the rectangle b of plane P. */
static void zero_box(fsci__psi_t *P, int64_t nx, fsci__pbox b)
{
    if (EMPTY(b)) return;
    for (int64_t z = b.z0; z < b.z1; z++)
        memset(P + z * nx + b.x0, 0, (size_t)(b.x1 - b.x0) * sizeof(fsci__psi_t));
}

/* Zero the part of rectangle `old` outside rectangle `keep`. */
static void zero_outside(fsci__psi_t *P, int64_t nx, fsci__pbox old, fsci__pbox keep)
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
static void clear_plane(const fsci_proton_plan *p, fsci__psi_t *P, fsci__pbox *b, double *sum)
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
static void finish_row(fsci__psi_t *restrict row, int64_t x0, int64_t x1, fsci__psi_t tau, double *restrict W,
                       double *restrict acc_io, double *restrict pac_io)
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
static void sum_row_d(const double *r, int64_t x0, int64_t x1, double acc[8])
{
    int64_t x = x0;
    for (; x < x1 && (x & 7); x++) acc[x & 7] += r[x];
    for (; x + 8 <= x1; x += 8)
        for (int j = 0; j < 8; j++) acc[j] += r[x + j];
    for (; x < x1; x++) acc[x & 7] += r[x];
}

/* Grow the tight box with the non-zero cells of row z in [x0, x1). */
static void tight_row(const fsci__psi_t *row, int64_t z, int64_t x0, int64_t x1, fsci__pbox *tb)
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

/* Split items [0, n) into nt contiguous ranges of nearly equal cost; returns
 * the number of threads worth starting. */
static int partition(fsci_proton_state *s, int64_t n, int nt)
{
    int64_t total = 0, acc = 0;
    for (int64_t i = 0; i < n; i++) total += s->items[i].cost + 1;
    int t = 1;
    s->bounds[0] = 0;
    for (int64_t i = 0; i < n && t < nt; i++) {
        acc += s->items[i].cost + 1;
        while (t < nt && (double)acc * nt >= (double)total * t) s->bounds[t++] = i + 1;
    }
    while (t <= nt) s->bounds[t++] = n;
    return total < PARALLEL_MIN_CELLS ? 1 : nt;
}

/* Sum item counters in item order into tot[FSCI__NP]. */
static void reduce_items(const fsci_proton_state *s, int64_t n, double tot[FSCI__NP])
{
    memset(tot, 0, FSCI__NP * sizeof(double));
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < FSCI__NP; j++) tot[j] += s->part[i * FSCI__NP + j];
}

/* Add clear items for the planes of the output buffer that no compute item
 * writes and that may hold data. */
static int64_t add_clear_items(const fsci_proton_plan *p, fsci_proton_state *s, int64_t n)
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

static void do_clear(const fsci_proton_plan *p, fsci_proton_state *s, const fsci__item *it, double *part)
{
    const int dst = 1 - s->cur;
    const int64_t pl = (int64_t)it->k * p->nth + it->t;
    clear_plane(p, s->psi[dst] + pl * p->plane, &s->box[dst][pl], &s->psum[dst][pl]);
    memset(part, 0, FSCI__NP * sizeof(double));
}

static bool bin_empty(const fsci_proton_plan *p, const fsci_proton_state *s, int64_t k)
{
    const int64_t slot = k % p->nw;
    for (int64_t t = 0; t < p->nth; t++)
        if (!EMPTY(s->box[s->cur][slot * p->nth + t]) && s->psum[s->cur][slot * p->nth + t] != 0)
            return false;
    return true;
}

void fsci__proton_window_update(const fsci_proton_plan *p, fsci_proton_state *s)
{
    if (p->o.dense) {
        s->klo = 0;
        s->khi = p->ne - 1;
        return;
    }
    while (s->klo <= s->khi && bin_empty(p, s, s->klo)) s->klo++;
    while (s->khi >= s->klo && bin_empty(p, s, s->khi)) s->khi--;
    if (s->klo > s->khi) {
        s->klo = 0;
        s->khi = -1;
    }
}

static void add_counters(fsci_proton_state *s, int field_w, int field_e, double w, double e)
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

/* ---- A_theta ---------------------------------------------------------------- */

typedef struct {
    const int32_t *half;
    const int64_t *off;
    const fsci__psi_t *w;
    const int32_t *bin_half;
} kernels;

static kernels get_kernels(const fsci_proton_plan *p, const fsci_proton_state *s)
{
    kernels k;
    if (p->o.mcs == FSCI_PROTON_MCS_GENERALISED) {
        k.half = s->gk_half;
        k.off = s->gk_off;
        k.w = s->gk_w;
        k.bin_half = s->gk_bin_half;
    } else {
        k.half = p->k_half;
        k.off = p->k_off;
        k.w = p->k_w;
        k.bin_half = p->bin_half;
    }
    return k;
}

/* Source angle bin for output t and tap offset d, or -1. */
static inline int64_t src_theta(int64_t t, int64_t d, int64_t nth, bool per)
{
    int64_t ts = t - d;
    if (per) {
        ts %= nth;
        if (ts < 0) ts += nth;
        return ts;
    }
    return (ts < 0 || ts >= nth) ? -1 : ts;
}

/* row[x] += sum_d w[d + h] * S[theta - d][z][x] over x in [lo, hi), taking only
 * the source planes' occupied boxes (the general kernel path of A_theta). */
static inline void add_taps(fsci__psi_t *restrict row, const fsci__psi_t *w, int64_t h, int64_t t, int64_t z,
                            int64_t lo, int64_t hi, const fsci__psi_t *S, const fsci__pbox *sb, int64_t nth,
                            bool per, int64_t plane, int64_t nx)
{
    for (int64_t d = -h; d <= h; d++) {
        const fsci__psi_t wd = w[d + h];
        int64_t ts = src_theta(t, d, nth, per);
        if (ts < 0 || wd == 0) continue;
        fsci__pbox b = sb[ts];
        if (z < b.z0 || z >= b.z1) continue;
        const fsci__psi_t *restrict sp = S + ts * plane + z * nx;
        int64_t xa = b.x0 > lo ? b.x0 : lo, xb = b.x1 < hi ? b.x1 : hi;
        for (int64_t x = xa; x < xb; x++) row[x] += wd * sp[x];
    }
}

static void scatter_bin(const fsci_proton_plan *p, fsci_proton_state *s, const kernels *K, int64_t k,
                        bool want_wsum, double *part)
{
    const int64_t nth = p->nth, nx = p->nx, plane = p->plane, ne = p->ne, slot = k % p->nw;
    const int src = s->cur, dst = 1 - src;
    const fsci__psi_t *S = s->psi[src] + slot * nth * plane;
    fsci__psi_t *D = s->psi[dst] + slot * nth * plane;
    const fsci__pbox *sb = s->box[src] + slot * nth;
    fsci__pbox *db = s->box[dst] + slot * nth;
    const double *ssum = s->psum[src] + slot * nth;
    double *dsum = s->psum[dst] + slot * nth;
    const bool per = p->o.theta_bc == FSCI_PROTON_THETA_PERIODIC, dense = p->o.dense;
    const fsci__psi_t tau = (fsci__psi_t)s->tau;
    const int64_t hb = K->bin_half[k];
    const bool single = p->nclass == 1;
    double *W = NULL;
    if (want_wsum) {
        W = s->wsum + slot * plane;
        fsci__pbox wb = {0, 0, 0, 0};
        for (int64_t t = 0; t < nth; t++) wb = box_union(wb, sb[t]);
        fsci__pbox ob = s->wbox[slot];
        for (int64_t z = ob.z0; z < ob.z1; z++) memset(W + z * nx + ob.x0, 0, (size_t)(ob.x1 - ob.x0) * 8);
        for (int64_t z = wb.z0; z < wb.z1; z++) memset(W + z * nx + wb.x0, 0, (size_t)(wb.x1 - wb.x0) * 8);
        s->wbox[slot] = wb;
        s->wbin[slot] = (int32_t)k;
    }
    double tot_out = 0, tot_pr = 0, cells = 0;
    for (int64_t t = 0; t < nth; t++) {
        fsci__pbox ub = {0, 0, 0, 0};
        for (int64_t d = -hb; d <= hb; d++) {
            int64_t ts = src_theta(t, d, nth, per);
            if (ts >= 0) ub = box_union(ub, sb[ts]);
        }
        fsci__psi_t *Dt = D + t * plane;
        if (EMPTY(ub)) {
            clear_plane(p, Dt, &db[t], &dsum[t]);
            continue;
        }
        zero_outside(Dt, nx, db[t], ub);
        double acc[8] = {0}, pac[8] = {0};
        fsci__pbox tb = {0, 0, 0, 0};
        const int64_t x0 = ub.x0, x1 = ub.x1;
        const bool fullw = x0 == 0 && x1 == nx;
        bool flat = fullw && single && K->half[k] == 1;
        const fsci__psi_t *fs[3] = {NULL, NULL, NULL};
        for (int64_t d = -1; flat && d <= 1; d++) {
            int64_t ts = src_theta(t, d, nth, per);
            if (ts < 0) {
                flat = false;
                break;
            }
            fsci__pbox b = sb[ts];
            if (b.x0 != 0 || b.x1 != nx || b.z0 > ub.z0 || b.z1 < ub.z1) flat = false;
            fs[d + 1] = S + ts * plane;
        }
        if (flat) {
            /* whole rows of all three sources: one loop over the plane */
            const fsci__psi_t *w = K->w + K->off[k];
            const fsci__psi_t w0 = w[0], w1 = w[1], w2 = w[2];
            const fsci__psi_t *restrict a = fs[0], *restrict b = fs[1], *restrict c = fs[2];
            fsci__psi_t *restrict o = Dt;
            for (int64_t i = ub.z0 * nx; i < ub.z1 * nx; i++) o[i] = w0 * a[i] + w1 * b[i] + w2 * c[i];
        }
        for (int64_t z = ub.z0; z < ub.z1 && !flat; z++) {
            fsci__psi_t *row = Dt + z * nx;
            if (single) {
                const int64_t h = K->half[k];
                const fsci__psi_t *w = K->w + K->off[k];
                bool fast = h == 1;
                const fsci__psi_t *sr[3] = {NULL, NULL, NULL};
                for (int64_t d = -1; fast && d <= 1; d++) {
                    int64_t ts = src_theta(t, d, nth, per);
                    if (ts < 0) {
                        fast = false;
                        break;
                    }
                    fsci__pbox b = sb[ts];
                    if (z < b.z0 || z >= b.z1 || b.x0 > x0 || b.x1 < x1) fast = false;
                    sr[d + 1] = S + ts * plane + z * nx;
                }
                if (fast) {
                    const fsci__psi_t w0 = w[0], w1 = w[1], w2 = w[2];
                    const fsci__psi_t *restrict a = sr[0], *restrict b = sr[1], *restrict c = sr[2];
                    fsci__psi_t *restrict o = row;
                    for (int64_t x = x0; x < x1; x++) o[x] = w0 * a[x] + w1 * b[x] + w2 * c[x];
                } else {
                    memset(row + x0, 0, (size_t)(x1 - x0) * sizeof(fsci__psi_t));
                    add_taps(row, w, h, t, z, x0, x1, S, sb, nth, per, plane, nx);
                }
            } else {
                memset(row + x0, 0, (size_t)(x1 - x0) * sizeof(fsci__psi_t));
                for (int64_t r = p->row_run[z]; r < p->row_run[z + 1]; r++) {
                    const fsci__run *ru = &p->runs[r];
                    int64_t ra = ru->x0 > x0 ? ru->x0 : x0, rb = ru->x1 < x1 ? ru->x1 : x1;
                    if (ra >= rb) continue;
                    const int64_t ci = (int64_t)ru->c * ne + k, h = K->half[ci];
                    const fsci__psi_t *w = K->w + K->off[ci];
                    add_taps(row, w, h, t, z, ra, rb, S, sb, nth, per, plane, nx);
                }
            }
            if (!fullw) finish_row(Dt, z * nx + x0, z * nx + x1, tau, W, acc, pac);
        }
        if (fullw) finish_row(Dt, ub.z0 * nx, ub.z1 * nx, tau, W, acc, pac);
        if (!dense)
            for (int64_t z = ub.z0; z < ub.z1; z++) tight_row(Dt + z * nx, z, x0, x1, &tb);
        dsum[t] = sum8(acc);
        tot_out += dsum[t];
        tot_pr += sum8(pac);
        db[t] = dense ? full_box(p) : tb;
        cells += (double)(ub.z1 - ub.z0) * (double)(ub.x1 - ub.x0);
    }
    /* weight scattered out of the cone, from the source side */
    double rej = 0;
    if (!per) {
        for (int64_t ts = 0; ts < nth; ts++) {
            if (ts >= hb && ts < nth - hb) continue;
            if (EMPTY(sb[ts])) continue;
            if (single) {
                const int64_t h = K->half[k];
                const fsci__psi_t *w = K->w + K->off[k];
                double f = 0;
                for (int64_t d = -h; d <= h; d++)
                    if (ts + d < 0 || ts + d >= nth) f += (double)w[d + h];
                rej += f * ssum[ts];
            } else {
                const fsci__pbox b = sb[ts];
                for (int64_t z = b.z0; z < b.z1; z++) {
                    const fsci__psi_t *sp = S + ts * plane + z * nx;
                    for (int64_t r = p->row_run[z]; r < p->row_run[z + 1]; r++) {
                        const fsci__run *ru = &p->runs[r];
                        int64_t ra = ru->x0 > b.x0 ? ru->x0 : b.x0, rb = ru->x1 < b.x1 ? ru->x1 : b.x1;
                        if (ra >= rb) continue;
                        const int64_t ci = (int64_t)ru->c * ne + k, h = K->half[ci];
                        const fsci__psi_t *w = K->w + K->off[ci];
                        double f = 0, a = 0;
                        for (int64_t d = -h; d <= h; d++)
                            if (ts + d < 0 || ts + d >= nth) f += (double)w[d + h];
                        if (f == 0) continue;
                        for (int64_t x = ra; x < rb; x++) a += (double)sp[x];
                        rej += f * a;
                    }
                }
            }
        }
    }
    const double vk = p->value[k];
    memset(part, 0, FSCI__NP * sizeof(double));
    part[FSCI__P_REJW] = rej;
    part[FSCI__P_REJE] = rej * vk;
    part[FSCI__P_PRUNW] = tot_pr;
    part[FSCI__P_PRUNE] = tot_pr * vk;
    part[FSCI__P_OUTW] = tot_out;
    part[FSCI__P_OUTE] = tot_out * vk;
    part[FSCI__P_CELLS] = cells;
}

int fsci__proton_scatter(const fsci_proton_plan *p, fsci_proton_state *s, bool want_wsum)
{
    const kernels K = get_kernels(p, s);
    int64_t n = 0;
    memset(s->written, 0, (size_t)(p->nw * p->nth));
    for (int64_t i = 0; i < p->nw; i++) s->wbin[i] = -1;
    for (int64_t k = s->klo; k <= s->khi; k++) {
        const int64_t slot = k % p->nw;
        int64_t cost = 0;
        for (int64_t t = 0; t < p->nth; t++) {
            fsci__pbox b = s->box[s->cur][slot * p->nth + t];
            if (!EMPTY(b)) cost += (int64_t)(b.z1 - b.z0) * (b.x1 - b.x0);
        }
        if (cost == 0) continue;
        fsci__item *it = &s->items[n++];
        it->k = (int32_t)k;
        it->t = -1;
        it->kind = 0;
        it->cost = cost * (2 * K.bin_half[k] + 1);
        memset(s->written + slot * p->nth, 1, (size_t)p->nth);
    }
    n = add_clear_items(p, s, n);
    const int nt = p->nthreads, nrun = partition(s, n, nt);
#pragma omp parallel num_threads(nrun)
    {
        const int na = omp_get_num_threads();
        for (int part = omp_get_thread_num(); part < nt; part += na)
            for (int64_t i = s->bounds[part]; i < s->bounds[part + 1]; i++) {
                const fsci__item *it = &s->items[i];
                if (it->kind == 1)
                    do_clear(p, s, it, s->part + i * FSCI__NP);
                else
                    scatter_bin(p, s, &K, it->k, want_wsum, s->part + i * FSCI__NP);
            }
    }
    double tot[FSCI__NP];
    reduce_items(s, n, tot);
    add_counters(s, 3, 3, tot[FSCI__P_REJW], tot[FSCI__P_REJE]);
    add_counters(s, 6, 6, tot[FSCI__P_PRUNW], tot[FSCI__P_PRUNE]);
    s->cells += tot[FSCI__P_CELLS];
    s->last_bytes = PSI_RW_BYTES * tot[FSCI__P_CELLS];
    s->cur = 1 - s->cur;
    fsci__proton_window_update(p, s);
    return FSCI_OK;
}

/* ---- scattering kernels of the generalised Highland model ------------------ */

void fsci__proton_generalised_kernels(const fsci_proton_plan *p, fsci_proton_state *s)
{
    const int64_t ne = p->ne, hmax = p->o.kernel_half_max, stride = 2 * hmax + 1;
    const double x0 = FSCI_PROTON_X0_WATER_MM, s0 = (double)s->steps * p->ds, s1 = s0 + p->ds;
    double f0 = 0, f1 = 0;
    if (s0 > 0) {
        double a = 1 + 0.038 * log(s0 / x0);
        f0 = a > 0 ? a * a : 0;
    }
    {
        double a = 1 + 0.038 * log(s1 / x0);
        f1 = a > 0 ? a * a : 0;
    }
    for (int64_t k = 0; k < ne; k++) s->gk_bin_half[k] = 0;
    for (int64_t c = 0; c < p->nclass; c++)
        for (int64_t k = 0; k < ne; k++) {
            const int64_t i = c * ne + k;
            s->gk_off[i] = i * stride;
            if (k < s->klo || k > s->khi) {
                s->gk_half[i] = 0;
                s->gk_w[i * stride] = 1;
                continue;
            }
            /* path-integrated T of a particle now in bin k that has travelled s0 */
            int64_t top = k + 1 + s->steps;
            if (top > ne) top = ne;
            const double i0 = p->tcum[top] - p->tcum[k + 1];
            const double dv = f1 * (i0 + p->tbar[k] * p->ds) - f0 * i0;
            double v = p->c_rscat[c] * (dv > 0 ? dv : 0) / (p->dth * p->dth);
            int64_t h = 0;
            bool cl = false;
            (void)fsci__proton_build_kernel(v, hmax, s->gk_w + i * stride, s->gk_tmp, &h, &cl);
            s->gk_half[i] = (int32_t)h;
            if (h > s->gk_bin_half[k]) s->gk_bin_half[k] = (int32_t)h;
        }
}

/* ---- A_E ------------------------------------------------------------------ */

/* Sum over angles per cell of each occupied bin (for A_E alone). */
static void wsum_bin(const fsci_proton_plan *p, fsci_proton_state *s, int64_t k)
{
    const int64_t nth = p->nth, nx = p->nx, plane = p->plane, slot = k % p->nw;
    const fsci__psi_t *S = s->psi[s->cur] + slot * nth * plane;
    const fsci__pbox *sb = s->box[s->cur] + slot * nth;
    double *W = s->wsum + slot * plane;
    fsci__pbox wb = {0, 0, 0, 0};
    for (int64_t t = 0; t < nth; t++) wb = box_union(wb, sb[t]);
    fsci__pbox ob = s->wbox[slot];
    for (int64_t z = ob.z0; z < ob.z1; z++) memset(W + z * nx + ob.x0, 0, (size_t)(ob.x1 - ob.x0) * 8);
    for (int64_t z = wb.z0; z < wb.z1; z++) memset(W + z * nx + wb.x0, 0, (size_t)(wb.x1 - wb.x0) * 8);
    for (int64_t t = 0; t < nth; t++) {
        fsci__pbox b = sb[t];
        for (int64_t z = b.z0; z < b.z1; z++) {
            const fsci__psi_t *sp = S + t * plane + z * nx;
            double *w = W + z * nx;
            for (int64_t x = b.x0; x < b.x1; x++) w[x] += (double)sp[x];
        }
    }
    s->wbox[slot] = wb;
    s->wbin[slot] = (int32_t)k;
}

int fsci__proton_wsum(const fsci_proton_plan *p, fsci_proton_state *s)
{
    for (int64_t i = 0; i < p->nw; i++) s->wbin[i] = -1;
    const int nt = p->nthreads;
    const int64_t klo = s->klo, nb = s->khi - s->klo + 1;
    int64_t cells = 0;
    for (int64_t i = 0; i < p->nw * p->nth; i++) {
        fsci__pbox b = s->box[s->cur][i];
        if (!EMPTY(b)) cells += (int64_t)(b.z1 - b.z0) * (b.x1 - b.x0);
    }
#pragma omp parallel num_threads(cells < PARALLEL_MIN_CELLS ? 1 : nt)
    {
        const int na = omp_get_num_threads();
        for (int part = omp_get_thread_num(); part < nt; part += na) {
            int64_t b = 0, e = 0;
            fsci_parallel_range(nb, nt, part, &b, &e);
            for (int64_t i = b; i < e; i++) wsum_bin(p, s, klo + i);
        }
    }
    return FSCI_OK;
}

/* Lowest and highest target bins (>= 0) of source bin k for the classes
 * present in box b; *lo > *hi if all go to the cutoff. */
static void bin_targets(const fsci_proton_plan *p, fsci_proton_state *s, int64_t k, fsci__pbox b, int64_t *lo,
                        int64_t *hi)
{
    *lo = INT64_MAX;
    *hi = -1;
    const int64_t ne = p->ne;
    if (p->nclass > 1) memset(s->cls_seen, 0, (size_t)p->nclass);
    for (int64_t c = 0; c < p->nclass; c++) {
        if (p->nclass > 1) {
            if (c == 0) /* mark the classes present in the box once */
                for (int64_t z = b.z0; z < b.z1; z++)
                    for (int64_t r = p->row_run[z]; r < p->row_run[z + 1]; r++)
                        if (p->runs[r].x1 > b.x0 && p->runs[r].x0 < b.x1) s->cls_seen[p->runs[r].c] = 1;
            if (!s->cls_seen[c]) continue;
        }
        for (int i = 0; i < 2; i++) {
            int32_t j = p->e_tj[2 * (c * ne + k) + i];
            if (p->e_tw[2 * (c * ne + k) + i] == 0 || j < 0) continue;
            if (j < *lo) *lo = j;
            if (j > *hi) *hi = j;
        }
    }
}

/* The occupied bins after A_E, [*nlo, *nhi] (empty: nlo > nhi). */
static void energy_window(const fsci_proton_plan *p, fsci_proton_state *s, int64_t *nlo, int64_t *nhi)
{
    *nlo = INT64_MAX;
    *nhi = -1;
    for (int64_t k = s->klo; k <= s->khi; k++) {
        const int64_t slot = k % p->nw;
        fsci__pbox u = {0, 0, 0, 0};
        for (int64_t t = 0; t < p->nth; t++) u = box_union(u, s->box[s->cur][slot * p->nth + t]);
        if (EMPTY(u)) continue;
        int64_t lo = 0, hi = 0;
        bin_targets(p, s, k, u, &lo, &hi);
        if (lo < *nlo) *nlo = lo;
        if (hi > *nhi) *nhi = hi;
    }
}

int fsci__proton_energy_check(const fsci_proton_plan *p, fsci_proton_state *s)
{
    if (p->o.dense || p->nw == p->ne) return FSCI_OK;
    int64_t nlo = 0, nhi = 0;
    energy_window(p, s, &nlo, &nhi);
    FSCI_CHECK(
        nlo > nhi || nhi - nlo + 1 <= p->nw, FSCI_ERANGE,
        "energy window overflow at step %lld: after this step the occupied energy bins %lld..%lld span %lld "
        "bins but opts.e_window holds %lld; raise opts.e_window",
        (long long)s->steps, (long long)nlo, (long long)nhi, (long long)(nhi - nlo + 1), (long long)p->nw);
    return FSCI_OK;
}

/* Dose and counters of rows [zb, ze) from the angle sums of the bins. */
static void account_rows(const fsci_proton_plan *p, fsci_proton_state *s, int64_t zb, int64_t ze)
{
    const int64_t nx = p->nx, ne = p->ne;
    for (int64_t z = zb; z < ze; z++) {
        double *rp = s->rowpart + z * FSCI__NR;
        memset(rp, 0, FSCI__NR * sizeof(double));
        double *dose = s->dose + z * nx;
        for (int64_t k = s->klo; k <= s->khi; k++) {
            const int64_t slot = k % p->nw;
            if (s->wbin[slot] != k) continue;
            const fsci__pbox b = s->wbox[slot];
            if (z < b.z0 || z >= b.z1) continue;
            const double *W = s->wsum + slot * p->plane + z * nx;
            for (int64_t r = p->row_run[z]; r < p->row_run[z + 1]; r++) {
                const fsci__run *ru = &p->runs[r];
                int64_t xa = ru->x0 > b.x0 ? ru->x0 : b.x0, xb = ru->x1 < b.x1 ? ru->x1 : b.x1;
                if (xa >= xb) continue;
                const int64_t ci = (int64_t)ru->c * ne + k;
                const double dep = p->dep[ci];
                double acc[8] = {0};
                for (int64_t x = xa; x < xb; x++) dose[x] += dep * W[x];
                sum_row_d(W, xa, xb, acc);
                const double w = sum8(acc);
                rp[FSCI__R_DEP] += dep * w;
                rp[FSCI__R_CUTW] += p->cutf[ci] * w;
                rp[FSCI__R_NUCW] += p->nucw[ru->c] * w;
                rp[FSCI__R_NUCE] += p->nuce[ci] * w;
            }
        }
        s->stop[z] += rp[FSCI__R_CUTW];
    }
}

/* Gather target plane (j, t) from its source bins. */
static void gather_plane(const fsci_proton_plan *p, fsci_proton_state *s, int64_t j, int64_t t, double *part)
{
    const int64_t nth = p->nth, nx = p->nx, plane = p->plane, ne = p->ne;
    const int src = s->cur, dst = 1 - src;
    const int64_t pl = (j % p->nw) * nth + t;
    fsci__psi_t *D = s->psi[dst] + pl * plane;
    fsci__pbox ub = {0, 0, 0, 0};
    for (int64_t k = j + p->g_span_lo; k <= j + p->g_span_hi; k++) {
        if (k < s->klo || k > s->khi) continue;
        ub = box_union(ub, s->box[src][(k % p->nw) * nth + t]);
    }
    memset(part, 0, FSCI__NP * sizeof(double));
    if (EMPTY(ub)) {
        clear_plane(p, D, &s->box[dst][pl], &s->psum[dst][pl]);
        return;
    }
    zero_outside(D, nx, s->box[dst][pl], ub);
    double acc[8] = {0}, pac[8] = {0};
    fsci__pbox tb = {0, 0, 0, 0};
    for (int64_t z = ub.z0; z < ub.z1; z++) {
        fsci__psi_t *row = D + z * nx;
        memset(row + ub.x0, 0, (size_t)(ub.x1 - ub.x0) * sizeof(fsci__psi_t));
        for (int64_t r = p->row_run[z]; r < p->row_run[z + 1]; r++) {
            const fsci__run *ru = &p->runs[r];
            int64_t ra = ru->x0 > ub.x0 ? ru->x0 : ub.x0, rb = ru->x1 < ub.x1 ? ru->x1 : ub.x1;
            if (ra >= rb) continue;
            const int64_t ci = (int64_t)ru->c * ne + j;
            for (int64_t q = p->g_off[ci]; q < p->g_off[ci + 1]; q++) {
                const int64_t k = p->g_part[q].k;
                const fsci__psi_t w = p->g_part[q].w;
                if (k < s->klo || k > s->khi) continue;
                const int64_t sp = (k % p->nw) * nth + t;
                const fsci__pbox b = s->box[src][sp];
                if (z < b.z0 || z >= b.z1) continue;
                const fsci__psi_t *restrict sr = s->psi[src] + sp * plane + z * nx;
                fsci__psi_t *restrict o = row;
                int64_t xa = b.x0 > ra ? b.x0 : ra, xb = b.x1 < rb ? b.x1 : rb;
                for (int64_t x = xa; x < xb; x++) o[x] += w * sr[x];
            }
            const fsci__psi_t g = p->surv[ru->c];
            if (g != (fsci__psi_t)1) {
                fsci__psi_t *restrict o = row;
                for (int64_t x = ra; x < rb; x++) o[x] *= g;
            }
        }
        finish_row(D, z * nx + ub.x0, z * nx + ub.x1, (fsci__psi_t)0, NULL, acc, pac);
        if (!p->o.dense) tight_row(row, z, ub.x0, ub.x1, &tb);
    }
    s->psum[dst][pl] = sum8(acc);
    s->box[dst][pl] = p->o.dense ? full_box(p) : tb;
    part[FSCI__P_OUTW] = s->psum[dst][pl];
    part[FSCI__P_CELLS] = (double)(ub.z1 - ub.z0) * (double)(ub.x1 - ub.x0);
}

int fsci__proton_energy(const fsci_proton_plan *p, fsci_proton_state *s, bool gather)
{
    const int nt = p->nthreads;
    int nrun = 1;
    int64_t nlo = 0, nhi = -1, n = 0;
    if (gather) {
        energy_window(p, s, &nlo, &nhi);
        if (p->o.dense) {
            nlo = 0;
            nhi = p->ne - 1;
        }
        memset(s->written, 0, (size_t)(p->nw * p->nth));
        for (int64_t j = nlo; j <= nhi; j++)
            for (int64_t t = 0; t < p->nth; t++) {
                int64_t cost = 0;
                for (int64_t k = j + p->g_span_lo; k <= j + p->g_span_hi; k++) {
                    if (k < s->klo || k > s->khi) continue;
                    fsci__pbox b = s->box[s->cur][(k % p->nw) * p->nth + t];
                    if (!EMPTY(b)) cost += (int64_t)(b.z1 - b.z0) * (b.x1 - b.x0);
                }
                if (cost == 0 && !p->o.dense) continue;
                fsci__item *it = &s->items[n++];
                it->k = (int32_t)j;
                it->t = (int32_t)t;
                it->kind = 0;
                it->cost = cost;
                s->written[(j % p->nw) * p->nth + t] = 1;
            }
        n = add_clear_items(p, s, n);
        nrun = partition(s, n, nt);
    }
    {
        double cells = 0;
        for (int64_t k = s->klo; k <= s->khi; k++) {
            fsci__pbox b = s->wbox[k % p->nw];
            if (s->wbin[k % p->nw] == k && !EMPTY(b)) cells += (double)(b.z1 - b.z0) * (double)(b.x1 - b.x0);
        }
        if (cells >= PARALLEL_MIN_CELLS) nrun = nt;
    }
#pragma omp parallel num_threads(nrun)
    {
        const int na = omp_get_num_threads();
        /* phase 1: dose and counters, by rows */
        for (int part = omp_get_thread_num(); part < nt; part += na) {
            int64_t b = 0, e = 0;
            fsci_parallel_range(p->nz, nt, part, &b, &e);
            account_rows(p, s, b, e);
        }
        if (gather) {
#pragma omp barrier
            /* phase 2: move the weight to its target bins, by planes */
            for (int part = omp_get_thread_num(); part < nt; part += na)
                for (int64_t i = s->bounds[part]; i < s->bounds[part + 1]; i++) {
                    const fsci__item *it = &s->items[i];
                    if (it->kind == 1)
                        do_clear(p, s, it, s->part + i * FSCI__NP);
                    else
                        gather_plane(p, s, it->k, it->t, s->part + i * FSCI__NP);
                }
        }
    }
    double r[FSCI__NR] = {0};
    for (int64_t z = 0; z < p->nz; z++)
        for (int j = 0; j < FSCI__NR; j++) r[j] += s->rowpart[z * FSCI__NR + j];
    add_counters(s, -1, 1, 0, r[FSCI__R_DEP]);
    add_counters(s, 4, -1, r[FSCI__R_CUTW], 0);
    add_counters(s, 5, 5, r[FSCI__R_NUCW], r[FSCI__R_NUCE]);
    double cells = 0;
    for (int64_t k = s->klo; k <= s->khi; k++) {
        fsci__pbox b = s->wbox[k % p->nw];
        if (s->wbin[k % p->nw] == k && !EMPTY(b)) cells += (double)(b.z1 - b.z0) * (double)(b.x1 - b.x0);
    }
    s->last_bytes = 24 * cells;
    if (gather) {
        double tot[FSCI__NP];
        reduce_items(s, n, tot);
        s->cells += tot[FSCI__P_CELLS];
        s->last_bytes += PSI_RW_BYTES * tot[FSCI__P_CELLS];
        s->cur = 1 - s->cur;
        if (p->o.dense) {
            s->klo = 0;
            s->khi = p->ne - 1;
        } else if (nlo <= nhi) {
            s->klo = nlo;
            s->khi = nhi;
        } else {
            s->klo = 0;
            s->khi = -1;
        }
        fsci__proton_window_update(p, s);
    }
    for (int64_t i = 0; i < p->nw; i++) s->wbin[i] = -1;
    return FSCI_OK;
}

/* ---- A_stream -------------------------------------------------------------- */

/* Weight leaving the grid, from the source side: sum psi (1 - ax az) with
 * ax, az the fractions of a source column / row that land inside:
 * sum over edge rows of (1 - az) x row sum, plus sum over edge columns of
 * (1 - ax) x sum over rows of az psi. */
static double stream_leak(const fsci_proton_plan *p, const fsci__psi_t *S, fsci__pbox B,
                          const fsci__stencil *st)
{
    const int64_t nx = p->nx, nz = p->nz, iu = st->iu, iv = st->iv;
    const int hx = st->fu > 0, hz = st->fv > 0;
    const double wx0 = 1 - (double)st->fu, wx1 = (double)st->fu, wz0 = 1 - (double)st->fv,
                 wz1 = (double)st->fv;
    const int64_t xi0 = -iu > 0 ? -iu : 0, xi1 = nx - iu - hx;
    const int64_t zi0 = -iv > 0 ? -iv : 0, zi1 = nz - iv - hz;
    /* edge columns of B (at most 32 each side are tracked one by one;
     * beyond that every column of B is treated as an edge column) */
    enum { MAXE = 64 };
    int64_t col[MAXE];
    double cw[MAXE], cs[MAXE];
    int nec = 0;
    int64_t ra0 = B.x0, ra1 = B.x1, rb0 = 0, rb1 = 0;
    if (xi1 > xi0) {
        ra1 = B.x1 < xi0 ? B.x1 : xi0;
        rb0 = B.x0 > xi1 ? B.x0 : xi1;
        if (rb0 < ra1) rb0 = ra1;
        rb1 = B.x1;
    }
    bool many = (ra1 - ra0) + (rb1 - rb0 > 0 ? rb1 - rb0 : 0) > MAXE;
    for (int pass = 0; pass < 2 && !many; pass++) {
        int64_t a = pass ? rb0 : ra0, e = pass ? rb1 : ra1;
        for (int64_t xs = a; xs < e; xs++) {
            double ax = 0;
            if (xs + iu >= 0 && xs + iu < nx) ax += wx0;
            if (hx && xs + iu + 1 >= 0 && xs + iu + 1 < nx) ax += wx1;
            if (ax >= 1) continue;
            col[nec] = xs;
            cw[nec] = 1 - ax;
            cs[nec] = 0;
            nec++;
        }
    }
    double leak = 0, racc[8] = {0};
    for (int64_t zs = B.z0; zs < B.z1; zs++) {
        const fsci__psi_t *sr = S + zs * nx;
        double az = 1;
        if (zs < zi0 || zs >= zi1) {
            az = 0;
            if (zs + iv >= 0 && zs + iv < nz) az += wz0;
            if (hz && zs + iv + 1 >= 0 && zs + iv + 1 < nz) az += wz1;
        }
        if (az < 1) {
            double acc[8] = {0};
            int64_t x = zs * nx + B.x0;
            const int64_t x1 = zs * nx + B.x1;
            for (; x < x1 && (x & 7); x++) acc[x & 7] += (double)S[x];
            for (; x + 8 <= x1; x += 8)
                for (int j = 0; j < 8; j++) acc[j] += (double)S[x + j];
            for (; x < x1; x++) acc[x & 7] += (double)S[x];
            for (int j = 0; j < 8; j++) racc[j] += (1 - az) * acc[j];
        }
        if (az > 0) {
            if (many) {
                for (int64_t xs = B.x0; xs < B.x1; xs++) {
                    double ax = 0;
                    if (xs + iu >= 0 && xs + iu < nx) ax += wx0;
                    if (hx && xs + iu + 1 >= 0 && xs + iu + 1 < nx) ax += wx1;
                    if (ax < 1) leak += az * (1 - ax) * (double)sr[xs];
                }
            } else {
                for (int j = 0; j < nec; j++) cs[j] += az * (double)sr[col[j]];
            }
        }
    }
    for (int j = 0; j < nec; j++) leak += cw[j] * cs[j];
    return leak + sum8(racc);
}

/* Monotonised-central limited slope (branch-free, vectorisable):
 * sign(dm) min(2|dm|, 2|dp|, |dm + dp| / 2) if dm and dp have the same sign,
 * else 0. */
static inline double mc_slope(double dm, double dp)
{
    double a = dm < 0 ? -dm : dm, b = dp < 0 ? -dp : dp, c = 0.5 * (a + b);
    double m = 2 * a < 2 * b ? 2 * a : 2 * b;
    m = m < c ? m : c;
    m = dm * dp > 0 ? m : 0;
    return dm < 0 ? -m : m;
}

/* One MUSCL sweep of a fractional shift c in (0, 1) on q[i0 - 2 .. i1 + 2)
 * (zero outside [i0, i1)): out[i] for i in [i0, i1], conservative and
 * non-negative. f is scratch over the same index range. */
static void muscl_1d(const double *restrict q, int64_t i0, int64_t i1, double c, double *restrict f,
                     double *restrict out)
{
    const double h = 0.5 * (1 - c);
    f[i0 - 1] = 0;
    for (int64_t i = i0; i < i1; i++) f[i] = c * (q[i] + h * mc_slope(q[i] - q[i - 1], q[i + 1] - q[i]));
    f[i1] = 0;
    for (int64_t i = i0; i <= i1; i++) {
        double v = q[i] - f[i] + f[i - 1];
        out[i] = v > 0 ? v : 0;
    }
}

static void stream_plane(const fsci_proton_plan *p, fsci_proton_state *s, int64_t k, int64_t t, bool shift,
                         int tid, double *part)
{
    const int64_t nth = p->nth, nx = p->nx, nz = p->nz, plane = p->plane;
    const int src = s->cur, dst = 1 - src;
    const int64_t sp = (k % p->nw) * nth + t, j = shift ? k - 1 : k, dp = (j % p->nw) * nth + t;
    const fsci__psi_t *S = s->psi[src] + sp * plane;
    fsci__psi_t *D = s->psi[dst] + dp * plane;
    const fsci__pbox B = s->box[src][sp];
    const fsci__stencil st = p->sten[t];
    const int64_t iu = st.iu, iv = st.iv;
    const int hx = st.fu > 0, hz = st.fv > 0;
    const fsci__psi_t g = shift ? p->surv[0] : (fsci__psi_t)1;
    const fsci__psi_t tau = (fsci__psi_t)s->tau;
    const bool dense = p->o.dense;
    memset(part, 0, FSCI__NP * sizeof(double));

    int64_t tz0 = B.z0 + iv, tz1 = B.z1 + iv + hz, tx0 = B.x0 + iu, tx1 = B.x1 + iu + hx;
    if (tz0 < 0) tz0 = 0;
    if (tz1 > nz) tz1 = nz;
    if (tx0 < 0) tx0 = 0;
    if (tx1 > nx) tx1 = nx;
    double leak = 0;
    if (p->o.stream == FSCI_PROTON_STREAM_BILINEAR) leak = stream_leak(p, S, B, &st);
    if (tz0 >= tz1 || tx0 >= tx1) {
        if (p->o.stream != FSCI_PROTON_STREAM_BILINEAR) leak = s->psum[src][sp];
        clear_plane(p, D, &s->box[dst][dp], &s->psum[dst][dp]);
        part[FSCI__P_LEAKW] = (double)g * leak;
        part[FSCI__P_LEAKE] = (double)g * leak * p->value[j];
        return;
    }
    const fsci__pbox TB = {(int32_t)tz0, (int32_t)tz1, (int32_t)tx0, (int32_t)tx1};
    zero_outside(D, nx, s->box[dst][dp], TB);
    /* finish whole rows at once when the rest of each row is zero anyway */
    const bool fullrow = dense || (tx0 == 0 && tx1 == nx);
    double acc[8] = {0}, pac[8] = {0};
    fsci__pbox tb = {0, 0, 0, 0};

    if (p->o.stream == FSCI_PROTON_STREAM_BILINEAR) {
        /* out(r, x) = g (wx0 T(x - iu) + wx1 T(x - iu - 1)) with the row blend
         * T = wz0 S(r - iv) + wz1 S(r - iv - 1), evaluated in registers; the
         * at most two edge columns whose taps leave the source box use a
         * zero-padded copy of T */
        const fsci__psi_t wx0 = (fsci__psi_t)1 - st.fu, wx1 = st.fu, wz0 = (fsci__psi_t)1 - st.fv,
                          wz1 = st.fv;
        fsci__psi_t *tmp = s->trow + (int64_t)tid * s->trow_stride;
        fsci__psi_t *tm = tmp + 1 - B.x0; /* tm[x] for x in [B.x0 - 1, B.x1] */
        /* target columns whose taps all lie in [B.x0, B.x1) */
        int64_t ia = B.x0 + iu + hx, ib = B.x1 + iu;
        if (ia < tx0) ia = tx0;
        if (ib > tx1) ib = tx1;
        if (ib < ia) ib = ia;
        for (int64_t r = tz0; r < tz1; r++) {
            const int64_t s0 = r - iv, s1 = r - iv - 1;
            const bool v0 = s0 >= B.z0 && s0 < B.z1, v1 = hz && s1 >= B.z0 && s1 < B.z1;
            const fsci__psi_t *restrict a = S + (v0 ? s0 : s1) * nx, *restrict b = S + (v1 ? s1 : s0) * nx;
            const fsci__psi_t za = v0 ? wz0 : wz1, zb = v0 && v1 ? wz1 : (fsci__psi_t)0;
            fsci__psi_t *restrict o = D + r * nx;
            if (hx) {
                for (int64_t x = ia; x < ib; x++)
                    o[x] = g * (wx0 * (za * a[x - iu] + zb * b[x - iu]) +
                                wx1 * (za * a[x - iu - 1] + zb * b[x - iu - 1]));
            } else {
                for (int64_t x = ia; x < ib; x++) o[x] = g * (za * a[x - iu] + zb * b[x - iu]);
            }
            if (tx0 < ia || ib < tx1) { /* edge columns */
                const fsci__psi_t *A = a, *Bb = b;
                tmp[0] = 0;
                tmp[B.x1 - B.x0 + 1] = 0;
                for (int64_t x = B.x0; x < B.x0 + 1 && x < B.x1; x++) tm[x] = za * A[x] + zb * Bb[x];
                for (int64_t x = B.x1 - 1; x >= B.x0 + 1 && x >= B.x1 - 1; x--)
                    tm[x] = za * A[x] + zb * Bb[x];
                for (int pass = 0; pass < 2; pass++) {
                    int64_t e0 = pass ? ib : tx0, e1 = pass ? tx1 : ia;
                    for (int64_t x = e0; x < e1; x++)
                        o[x] = hx ? g * (wx0 * tm[x - iu] + wx1 * tm[x - iu - 1]) : g * tm[x - iu];
                }
            }
            if (!fullrow) finish_row(D, r * nx + tx0, r * nx + tx1, tau, NULL, acc, pac);
            if (!dense) tight_row(o, r, tx0, tx1, &tb);
        }
        if (fullrow) finish_row(D, tz0 * nx, tz1 * nx, tau, NULL, acc, pac);
    } else {
        /* MUSCL: x sweep of every source row into X (columns = target
         * columns), then the z sweep row by row; all in double */
        double *X = s->tplane + (int64_t)tid * s->tplane_stride;
        double *q = X + plane, *f1 = q + (nx + 16), *zrow = f1 + (nx + 16), *fz = zrow + (nx + 16),
               *fzp = fz + (nx + 16), *nr = fzp + (nx + 16), *fx = nr + (nx + 16);
        const double cx = (double)st.fu, cz = (double)st.fv;
        const int64_t nrow = B.z1 - B.z0;
        for (int64_t zs = B.z0; zs < B.z1; zs++) {
            const fsci__psi_t *sr = S + zs * nx;
            double *qq = q + 2 - B.x0; /* qq[i] for i in [B.x0 - 2, B.x1 + 2) */
            qq[B.x0 - 2] = qq[B.x0 - 1] = qq[B.x1] = qq[B.x1 + 1] = 0;
            for (int64_t i = B.x0; i < B.x1; i++) qq[i] = (double)sr[i];
            double *oo = f1 + 2 - B.x0;
            int64_t last = B.x1 - 1;
            if (hx) {
                muscl_1d(qq, B.x0, B.x1, cx, fx + 2 - B.x0, oo);
                last = B.x1;
            } else {
                for (int64_t i = B.x0; i < B.x1; i++) oo[i] = qq[i];
            }
            double *xr = X + (zs - B.z0) * nx;
            for (int64_t i = B.x0; i <= last; i++) {
                int64_t col = i + iu;
                if (col >= 0 && col < nx)
                    xr[col] = oo[i];
                else
                    leak += oo[i];
            }
        }
        for (int64_t x = tx0; x < tx1; x++) zrow[x] = 0;
        for (int64_t x = tx0; x < tx1; x++) fzp[x] = 0;
        const int64_t rlast = hz ? B.z1 : B.z1 - 1;
        for (int64_t r = B.z0; r <= rlast; r++) {
            const int64_t ir = r - B.z0;
            const double *qc = ir < nrow ? X + ir * nx : zrow;
            if (hz) {
                const double *qm = ir - 1 >= 0 ? X + (ir - 1) * nx : zrow;
                const double *qp = ir + 1 < nrow ? X + (ir + 1) * nx : zrow;
                const double hz2 = 0.5 * (1 - cz), on = ir < nrow ? 1.0 : 0.0;
                for (int64_t x = tx0; x < tx1; x++) {
                    double f = on * cz * (qc[x] + hz2 * mc_slope(qc[x] - qm[x], qp[x] - qc[x]));
                    double v = qc[x] - f + fzp[x];
                    nr[x] = v > 0 ? v : 0;
                    fz[x] = f;
                }
                double *sw = fz;
                fz = fzp;
                fzp = sw;
            } else {
                for (int64_t x = tx0; x < tx1; x++) nr[x] = qc[x];
            }
            const int64_t tr = r + iv;
            if (tr < 0 || tr >= nz) {
                for (int64_t x = tx0; x < tx1; x++) leak += nr[x];
                continue;
            }
            fsci__psi_t *o = D + tr * nx;
            for (int64_t x = tx0; x < tx1; x++) o[x] = g * (fsci__psi_t)nr[x];
            finish_row(D, tr * nx + (fullrow ? 0 : tx0), tr * nx + (fullrow ? nx : tx1), tau, NULL, acc, pac);
            if (!dense) tight_row(o, tr, tx0, tx1, &tb);
        }
    }
    s->psum[dst][dp] = sum8(acc);
    s->box[dst][dp] = dense ? full_box(p) : tb;
    const double pr = sum8(pac), vj = p->value[j];
    part[FSCI__P_LEAKW] = (double)g * leak;
    part[FSCI__P_LEAKE] = (double)g * leak * vj;
    part[FSCI__P_PRUNW] = pr;
    part[FSCI__P_PRUNE] = pr * vj;
    part[FSCI__P_OUTW] = s->psum[dst][dp];
    part[FSCI__P_CELLS] = (double)(tz1 - tz0) * (double)(tx1 - tx0);
}

int fsci__proton_stream(const fsci_proton_plan *p, fsci_proton_state *s, bool shift)
{
    int64_t n = 0;
    memset(s->written, 0, (size_t)(p->nw * p->nth));
    for (int64_t k = s->klo; k <= s->khi; k++) {
        if (shift && k < 1) continue; /* bin 0 reached the cutoff in A_E */
        const int64_t slot = k % p->nw, dslot = (shift ? k - 1 : k) % p->nw;
        for (int64_t t = 0; t < p->nth; t++) {
            fsci__pbox b = s->box[s->cur][slot * p->nth + t];
            if (EMPTY(b)) continue;
            fsci__item *it = &s->items[n++];
            it->k = (int32_t)k;
            it->t = (int32_t)t;
            it->kind = 0;
            it->cost = (int64_t)(b.z1 - b.z0) * (b.x1 - b.x0);
            s->written[dslot * p->nth + t] = 1;
        }
    }
    n = add_clear_items(p, s, n);
    const int nt = p->nthreads, nrun = partition(s, n, nt);
#pragma omp parallel num_threads(nrun)
    {
        const int na = omp_get_num_threads(), tid = omp_get_thread_num();
        for (int part = tid; part < nt; part += na)
            for (int64_t i = s->bounds[part]; i < s->bounds[part + 1]; i++) {
                const fsci__item *it = &s->items[i];
                if (it->kind == 1)
                    do_clear(p, s, it, s->part + i * FSCI__NP);
                else
                    stream_plane(p, s, it->k, it->t, shift, tid, s->part + i * FSCI__NP);
            }
    }
    double tot[FSCI__NP];
    reduce_items(s, n, tot);
    add_counters(s, 2, 2, tot[FSCI__P_LEAKW], tot[FSCI__P_LEAKE]);
    add_counters(s, 6, 6, tot[FSCI__P_PRUNW], tot[FSCI__P_PRUNE]);
    s->cells += tot[FSCI__P_CELLS];
    s->last_bytes = PSI_RW_BYTES * tot[FSCI__P_CELLS];
    s->cur = 1 - s->cur;
    if (shift && !p->o.dense) {
        s->klo = s->klo > 0 ? s->klo - 1 : 0;
        s->khi = s->khi - 1;
        if (s->khi < s->klo) {
            s->klo = 0;
            s->khi = -1;
        }
    }
    fsci__proton_window_update(p, s);
    return FSCI_OK;
}
