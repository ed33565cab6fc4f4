/* proton transport: angular scattering A_theta (plain and generalised Highland
 * kernels) and the energy-window update shared by the operators. */
#include "proton/ops_impl.h"

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

/* Weight of energy bin k scattered out of the cone (ABSORB), from the source
 * side: each source plane's weight times the kernel taps that fall outside. */
static double rejected_weight(const fsci_proton_plan *p, const kernels *K, int64_t k, const fsci__psi_t *S,
                              const fsci__pbox *sb, const double *ssum)
{
    const int64_t nth = p->nth, nx = p->nx, plane = p->plane, ne = p->ne, hb = K->bin_half[k];
    const bool single = p->nclass == 1;
    double rej = 0;
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
    return rej;
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
    const double rej = per ? 0 : rejected_weight(p, K, k, S, sb, ssum);
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
    const int nt = p->nthreads, nrun = team_size(s, n, nt);
    const int64_t chunk = item_chunk(n, nt);
#pragma omp parallel for num_threads(nrun) schedule(dynamic, chunk)
    for (int64_t i = 0; i < n; i++) {
        const fsci__item *it = &s->items[i];
        if (it->kind == 1)
            do_clear(p, s, it, s->part + i * FSCI__NP);
        else
            scatter_bin(p, s, &K, it->k, want_wsum, s->part + i * FSCI__NP);
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

int fsci__proton_generalised_kernels(const fsci_proton_plan *p, fsci_proton_state *s)
{
    int st = FSCI_OK;
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
            FSCI_TRY(fsci__proton_build_kernel(v, hmax, s->gk_w + i * stride, s->gk_tmp, &h, &cl));
            if (p->o.theta_bc == FSCI_PROTON_THETA_PERIODIC)
                fsci__proton_fold_kernel(s->gk_w + i * stride, &h, p->nth, s->gk_tmp);
            s->gk_half[i] = (int32_t)h;
            if (h > s->gk_bin_half[k]) s->gk_bin_half[k] = (int32_t)h;
        }
fail:
    return st;
}
