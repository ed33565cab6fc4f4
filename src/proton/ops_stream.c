/* proton transport: spatial streaming A_stream (bilinear gather or MUSCL fluxes)
 * over one step, with the leakage out of the grid. */
#include "fastsci/core/alloc.h"
#include "proton/ops_impl.h"

/* ---- A_stream -------------------------------------------------------------- */

/* target rows of the straggled flat sweep per part of the next source plane
 * asked for (see stream_plane) */
#define PF_ROWS 4

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

/* MUSCL x sweep: every source row of box B, shifted by iu + cx columns, into
 * X (row zs - B.z0, target columns); returns the weight that leaves the grid
 * sideways. q, f1, fx: row scratch of nx + 16 doubles each. */
static double muscl_x_sweep(const fsci_proton_plan *p, const fsci__psi_t *S, fsci__pbox B, int64_t iu, int hx,
                            double cx, double *X, double *q, double *f1, double *fx)
{
    const int64_t nx = p->nx;
    double leak = 0;
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
    return leak;
}

/* Sources of target bin j in water (the gather list of class 0) present in
 * the window: their union box in angle bin t. */
static fsci__pbox blend_box(const fsci_proton_plan *p, const fsci_proton_state *s, int64_t j, int64_t t)
{
    fsci__pbox u = {0, 0, 0, 0};
    for (int64_t q = p->g_off[j]; q < p->g_off[j + 1]; q++) {
        const int64_t k = p->g_part[q].k;
        if (k < s->klo || k > s->khi) continue;
        u = box_union(u, s->box[s->cur][(k % p->nw) * p->nth + t]);
    }
    return u;
}

/* Ask for the cache lines of [a, a + bytes) ahead of their use: a hint, no
 * effect on results. */
static inline void prefetch_bytes(const void *a, int64_t bytes)
{
#if defined(__GNUC__)
    const char *c = (const char *)a;
    for (int64_t i = 0; i < bytes; i += 64) __builtin_prefetch(c + i, 0, 3);
#else
    (void)a;
    (void)bytes;
#endif
}

/* The source plane of straggled item (j, t) that item (j - 1, t) did not read
 * (its last source in the window; angle-major, the others are in the cache),
 * or NULL. */
static const fsci__psi_t *new_source(const fsci_proton_plan *p, const fsci_proton_state *s, int64_t j,
                                     int64_t t)
{
    for (int64_t q = p->g_off[j + 1] - 1; q >= p->g_off[j]; q--) {
        const int64_t k = p->g_part[q].k;
        if (k < s->klo || k > s->khi) continue;
        return s->psi[s->cur] + ((k % p->nw) * p->nth + t) * p->plane;
    }
    return NULL;
}

/* The blend of blend_sources when B spans whole rows and the first (up to
 * three) sources present all cover B: one pass over B, per cell
 * w1 s1 + w2 s2 + w3 s3 evaluated left to right (the same roundings as the
 * assignment and the += passes). Returns the g_part index to go on from
 * (the caller adds the remaining sources), or -1 (nothing written). */
static int64_t blend_one_pass(const fsci_proton_plan *p, const fsci_proton_state *s, int64_t j, int64_t t,
                              fsci__pbox B, fsci__psi_t *restrict X)
{
    const int64_t nx = p->nx;
    if (B.x0 != 0 || B.x1 != nx) return -1;
    const fsci__psi_t *src[3] = {NULL, NULL, NULL};
    fsci__psi_t wt[3] = {0, 0, 0};
    int n = 0;
    int64_t q = p->g_off[j];
    for (; q < p->g_off[j + 1] && n < 3; q++) {
        const int64_t k = p->g_part[q].k;
        if (k < s->klo || k > s->khi) continue;
        const int64_t sp = (k % p->nw) * p->nth + t;
        const fsci__pbox b = s->box[s->cur][sp];
        if (EMPTY(b)) continue;
        if (b.z0 != B.z0 || b.z1 != B.z1 || b.x0 != B.x0 || b.x1 != B.x1) return -1;
        src[n] = s->psi[s->cur] + sp * p->plane;
        wt[n++] = p->g_part[q].w;
    }
    if (n == 0) return -1;
    const int64_t i0 = B.z0 * nx, i1 = B.z1 * nx;
    fsci__psi_t *restrict o = X;
    const fsci__psi_t *restrict a = src[0], *restrict b = src[1], *restrict c = src[2];
    const fsci__psi_t wa = wt[0], wb = wt[1], wc = wt[2];
    if (n == 3)
        for (int64_t i = i0; i < i1; i++) o[i] = wa * a[i] + wb * b[i] + wc * c[i];
    else if (n == 2)
        for (int64_t i = i0; i < i1; i++) o[i] = wa * a[i] + wb * b[i];
    else
        for (int64_t i = i0; i < i1; i++) o[i] = wa * a[i];
    return q;
}

/* The blend sum_q w_q psi(k_q, t) of the sources of target bin j over box B
 * into X (only B is written; memory outside a source's box is zero). */
static void blend_sources(const fsci_proton_plan *p, const fsci_proton_state *s, int64_t j, int64_t t,
                          fsci__pbox B, fsci__psi_t *restrict X)
{
    const int64_t nx = p->nx, plane = p->plane;
    const int64_t q1 = blend_one_pass(p, s, j, t, B, X);
    bool first = q1 < 0;
    for (int64_t q = q1 < 0 ? p->g_off[j] : q1; q < p->g_off[j + 1]; q++) {
        const int64_t k = p->g_part[q].k;
        if (k < s->klo || k > s->khi) continue;
        const int64_t sp = (k % p->nw) * p->nth + t;
        const fsci__pbox b = s->box[s->cur][sp];
        if (EMPTY(b)) continue;
        const fsci__psi_t w = p->g_part[q].w, *S = s->psi[s->cur] + sp * plane;
        const bool rows = b.x0 == 0 && b.x1 == nx; /* whole rows: one flat loop */
        if (first && b.z0 == B.z0 && b.z1 == B.z1 && b.x0 == B.x0 && b.x1 == B.x1) {
            /* the first source covers B: assign instead of clearing (0 + w v == w v) */
            if (rows) {
                const fsci__psi_t *restrict sr = S;
                fsci__psi_t *restrict o = X;
                for (int64_t i = b.z0 * nx; i < b.z1 * nx; i++) o[i] = w * sr[i];
                first = false;
                continue;
            }
            for (int64_t z = b.z0; z < b.z1; z++) {
                const fsci__psi_t *restrict sr = S + z * nx;
                fsci__psi_t *restrict o = X + z * nx;
                for (int64_t x = b.x0; x < b.x1; x++) o[x] = w * sr[x];
            }
            first = false;
            continue;
        }
        if (first)
            for (int64_t z = B.z0; z < B.z1; z++)
                memset(X + z * nx + B.x0, 0, (size_t)(B.x1 - B.x0) * sizeof(fsci__psi_t));
        first = false;
        if (rows) {
            const fsci__psi_t *restrict sr = S;
            fsci__psi_t *restrict o = X;
            for (int64_t i = b.z0 * nx; i < b.z1 * nx; i++) o[i] += w * sr[i];
            continue;
        }
        for (int64_t z = b.z0; z < b.z1; z++) {
            const fsci__psi_t *restrict sr = S + z * nx;
            fsci__psi_t *restrict o = X + z * nx;
            for (int64_t x = b.x0; x < b.x1; x++) o[x] += w * sr[x];
        }
    }
}

/* The interior of the bilinear sweep over flat plane indices [i0, i1):
 * o[i] = g (wx0 T(i - offa, i - offb) + wx1 T(i - offa - 1, i - offb - 1)) with
 * T(p, q) = za S[p] + zb S[q] (hx = 0: g T(i - offa, i - offb));
 * w = {g, wx0, wx1, za, zb}. */
static void bilinear_flat(fsci__psi_t *restrict o, const fsci__psi_t *restrict S, int64_t i0, int64_t i1,
                          int64_t offa, int64_t offb, int hx, const fsci__psi_t w[5])
{
    const fsci__psi_t g = w[0], wx0 = w[1], wx1 = w[2], za = w[3], zb = w[4];
    if (hx) {
        for (int64_t i = i0; i < i1; i++)
            o[i] = g * (wx0 * (za * S[i - offa] + zb * S[i - offb]) +
                        wx1 * (za * S[i - offa - 1] + zb * S[i - offb - 1]));
    } else {
        for (int64_t i = i0; i < i1; i++) o[i] = g * (za * S[i - offa] + zb * S[i - offb]);
    }
}

/* Stream plane (k, t): mode 0 in place (bin k to bin k), 1 the water shift
 * (bin k to bin k - 1), 2 the straggled water shift (k is the target bin:
 * the blend of its sources, see blend_sources). */
static void stream_plane(const fsci_proton_plan *p, fsci_proton_state *s, int64_t k, int64_t t, int mode,
                         int tid, double *part, const fsci__item *next)
{
    const int64_t nth = p->nth, nx = p->nx, nz = p->nz, plane = p->plane;
    const int src = s->cur, dst = 1 - src;
    const int64_t sp = (k % p->nw) * nth + t, j = mode == 1 ? k - 1 : k, dp = (j % p->nw) * nth + t;
    const fsci__psi_t *S = s->psi[src] + sp * plane;
    fsci__psi_t *D = s->psi[dst] + dp * plane;
    fsci__pbox B = s->box[src][sp];
    if (mode == 2) {
        fsci__psi_t *X = s->sblend + (int64_t)tid * plane;
        B = blend_box(p, s, j, t);
        blend_sources(p, s, j, t, B, X);
        S = X;
    }
    const fsci__stencil st = p->sten[t];
    const int64_t iu = st.iu, iv = st.iv;
    const int hx = st.fu > 0, hz = st.fv > 0;
    const fsci__psi_t g = mode ? p->surv[0] : (fsci__psi_t)1;
    const fsci__psi_t tau = (fsci__psi_t)s->tau;
    const bool dense = p->o.dense;
    memset(part, 0, FSCI__NP * sizeof(double));

    int64_t tz0 = B.z0 + iv, tz1 = B.z1 + iv + hz, tx0 = B.x0 + iu, tx1 = B.x1 + iu + hx;
    if (tz0 < 0) tz0 = 0;
    if (tz1 > nz) tz1 = nz;
    if (tx0 < 0) tx0 = 0;
    if (tx1 > nx) tx1 = nx;
    double leak = 0;
    if (tz0 >= tz1 || tx0 >= tx1) {
        if (p->o.stream == FSCI_PROTON_STREAM_BILINEAR) {
            leak = stream_leak(p, S, B, &st);
        } else {
            if (mode == 2) {
                double acc[8] = {0};
                for (int64_t z = B.z0; z < B.z1; z++) sum_row_psi(S + z * nx, B.x0, B.x1, acc);
                leak = sum8(acc);
            } else {
                leak = s->psum[src][sp];
            }
        }
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
        /* rows [fr0, fr1) read both tap rows (the one, hz = 0) inside B: if B
         * spans whole rows, their interior columns are one flat loop over the
         * plane (the same expression per cell); the columns it also writes
         * between two rows' interiors are redone below (edges, zeros) */
        int64_t fr0 = B.z0 + iv + hz, fr1 = B.z1 + iv;
        if (fr0 < tz0) fr0 = tz0;
        if (fr1 > tz1) fr1 = tz1;
        const bool flat = B.x0 == 0 && B.x1 == nx && fr1 - fr0 >= 2 && ia < ib;
        if (flat) {
            const fsci__psi_t w[5] = {g, wx0, wx1, wz0, hz ? wz1 : (fsci__psi_t)0};
            const int64_t i0 = fr0 * nx + ia, i1 = (fr1 - 1) * nx + ib, offa = iv * nx + iu,
                          offb = (iv + hz) * nx + iu;
            /* straggled: the next item's new source plane comes from memory
             * (angle-major, its planes are nth planes apart: no hardware
             * stream to follow); ask for it a part per run of PF_ROWS rows
             * while this sweep computes from the cache */
            const fsci__psi_t *nsrc = mode == 2 && next ? new_source(p, s, next->k, next->t) : NULL;
            const int64_t run = nsrc ? PF_ROWS * nx : i1 - i0, pb = plane * (int64_t)sizeof(fsci__psi_t);
            const int64_t nrun = (i1 - i0 + run - 1) / run, per = ((pb + nrun - 1) / nrun + 63) / 64 * 64;
            int64_t po = 0;
            for (int64_t a = i0; a < i1; a += run) {
                if (nsrc && po < pb) prefetch_bytes((const char *)nsrc + po, po + per < pb ? per : pb - po);
                po += per;
                bilinear_flat(D, S, a, a + run < i1 ? a + run : i1, offa, offb, hx, w);
            }
        }
        for (int64_t r = tz0; r < tz1; r++) {
            const int64_t s0 = r - iv, s1 = r - iv - 1;
            const bool v0 = s0 >= B.z0 && s0 < B.z1, v1 = hz && s1 >= B.z0 && s1 < B.z1;
            const fsci__psi_t *restrict a = S + (v0 ? s0 : s1) * nx, *restrict b = S + (v1 ? s1 : s0) * nx;
            const fsci__psi_t za = v0 ? wz0 : wz1, zb = v0 && v1 ? wz1 : (fsci__psi_t)0;
            fsci__psi_t *restrict o = D + r * nx;
            if (flat && r >= fr0 && r < fr1) {
                /* outside the target box: zero again; the at most one edge
                 * column each side (hx = 1) taps one column of B and the zero
                 * padding, as the tm path below computes it */
                for (int64_t x = 0; x < tx0; x++) o[x] = 0;
                for (int64_t x = tx1; x < nx; x++) o[x] = 0;
                const fsci__psi_t pad = 0;
                if (ia > tx0) o[ia - 1] = g * (wx0 * (za * a[B.x0] + zb * b[B.x0]) + wx1 * pad);
                if (ib < tx1) o[ib] = g * (wx0 * pad + wx1 * (za * a[B.x1 - 1] + zb * b[B.x1 - 1]));
            } else if (hx) {
                for (int64_t x = ia; x < ib; x++)
                    o[x] = g * (wx0 * (za * a[x - iu] + zb * b[x - iu]) +
                                wx1 * (za * a[x - iu - 1] + zb * b[x - iu - 1]));
            } else {
                for (int64_t x = ia; x < ib; x++) o[x] = g * (za * a[x - iu] + zb * b[x - iu]);
            }
            if (!(flat && r >= fr0 && r < fr1) && (tx0 < ia || ib < tx1)) { /* edge columns */
                tmp[0] = 0;
                tmp[B.x1 - B.x0 + 1] = 0;
                for (int64_t x = B.x0; x < B.x0 + 1 && x < B.x1; x++) tm[x] = za * a[x] + zb * b[x];
                for (int64_t x = B.x1 - 1; x >= B.x0 + 1 && x >= B.x1 - 1; x--) tm[x] = za * a[x] + zb * b[x];
                for (int pass = 0; pass < 2; pass++)
                    for (int64_t x = pass ? ib : tx0; x < (pass ? tx1 : ia); x++)
                        o[x] = hx ? g * (wx0 * tm[x - iu] + wx1 * tm[x - iu - 1]) : g * tm[x - iu];
            }
            if (!fullrow) finish_row(D, r * nx + tx0, r * nx + tx1, tau, NULL, acc, pac);
            if (!dense) tight_row(o, r, tx0, tx1, &tb);
        }
        if (fullrow) finish_row(D, tz0 * nx, tz1 * nx, tau, NULL, acc, pac);
        /* after the sweep, which read S in order: the leak's column reads hit the cache */
        leak = stream_leak(p, S, B, &st);
    } else {
        /* MUSCL: x sweep of every source row into X (columns = target
         * columns), then the z sweep row by row; all in double */
        double *X = s->tplane + (int64_t)tid * s->tplane_stride;
        double *q = X + plane, *f1 = q + (nx + 16), *zrow = f1 + (nx + 16), *fz = zrow + (nx + 16),
               *fzp = fz + (nx + 16), *nr = fzp + (nx + 16), *fx = nr + (nx + 16);
        const double cx = (double)st.fu, cz = (double)st.fv;
        const int64_t nrow = B.z1 - B.z0;
        leak = muscl_x_sweep(p, S, B, iu, hx, cx, X, q, f1, fx);
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

/* Sum the counters of the nc straggled items (angle-major: for each t the
 * targets j in increasing order) in target-major order (j, then t), the order
 * of the step before the items were listed angle-major, then those of the
 * clear items [nc, n): the same sums, bit for bit. cur: scratch of 2 nth. */
static void reduce_target_major(const fsci_proton_plan *p, const fsci_proton_state *s, int64_t nc, int64_t n,
                                int64_t *cur, double tot[FSCI__NP])
{
    const int64_t nth = p->nth;
    int64_t *end = cur + nth;
    for (int64_t t = 0, i = 0; t < nth; t++) { /* each angle's run of items */
        cur[t] = i;
        while (i < nc && s->items[i].t == t) i++;
        end[t] = i;
    }
    memset(tot, 0, FSCI__NP * sizeof(double));
    for (int64_t done = 0; done < nc;) {
        int64_t j = INT64_MAX; /* the lowest target not yet summed */
        for (int64_t t = 0; t < nth; t++)
            if (cur[t] < end[t] && s->items[cur[t]].k < j) j = s->items[cur[t]].k;
        for (int64_t t = 0; t < nth; t++)
            if (cur[t] < end[t] && s->items[cur[t]].k == j) {
                for (int q = 0; q < FSCI__NP; q++) tot[q] += s->part[cur[t] * FSCI__NP + q];
                cur[t]++;
                done++;
            }
    }
    for (int64_t i = nc; i < n; i++)
        for (int q = 0; q < FSCI__NP; q++) tot[q] += s->part[i * FSCI__NP + q];
}

int fsci__proton_stream(const fsci_proton_plan *p, fsci_proton_state *s, bool shift)
{
    int st = FSCI_OK;
    int64_t n = 0;
    const int mode = !shift ? 0 : p->shift_blend ? 2 : 1;
    int64_t *cursors = NULL; /* [2 nth] for the straggled items' counters */
    if (mode == 2) {
        cursors = fsci_malloc((size_t)(2 * p->nth), sizeof(int64_t));
        FSCI_CHECK_GOTO(cursors, FSCI_ENOMEM, "stream: out of memory for %lld cursors", (long long)p->nth);
    }
    memset(s->written, 0, (size_t)(p->nw * p->nth));
    /* straggled shift: the target bins of the occupied ones */
    const int64_t jlo = s->klo - p->g_span_hi > 0 ? s->klo - p->g_span_hi : 0,
                  jhi = s->khi - p->g_span_lo < p->ne - 1 ? s->khi - p->g_span_lo : p->ne - 1;
    /* angle-major: consecutive items blend the same source planes (k, t), which
     * each feed several targets, while they are in the cache */
    for (int64_t t = 0; mode == 2 && t < p->nth; t++)
        for (int64_t j = jlo; j <= jhi; j++) {
            fsci__pbox b = blend_box(p, s, j, t);
            if (EMPTY(b)) continue;
            fsci__item *it = &s->items[n++];
            it->k = (int32_t)j;
            it->t = (int32_t)t;
            it->kind = 0;
            it->cost = (int64_t)(b.z1 - b.z0) * (b.x1 - b.x0);
            s->written[(j % p->nw) * p->nth + t] = 1;
        }
    for (int64_t k = s->klo; mode < 2 && k <= s->khi; k++) {
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
    const int64_t ncomp = n;
    n = add_clear_items(p, s, n);
    const int nt = p->nthreads, nrun = team_size(s, n, nt);
    const int64_t chunk = item_chunk(n, nt);
#pragma omp parallel num_threads(nrun)
    {
        const int tid = omp_get_thread_num();
#pragma omp for schedule(dynamic, chunk)
        for (int64_t i = 0; i < n; i++) {
            const fsci__item *it = &s->items[i];
            if (it->kind == 1)
                do_clear(p, s, it, s->part + i * FSCI__NP);
            else
                stream_plane(p, s, it->k, it->t, mode, tid, s->part + i * FSCI__NP,
                             i + 1 < ncomp ? it + 1 : NULL);
        }
    }
    double tot[FSCI__NP];
    if (mode == 2)
        reduce_target_major(p, s, ncomp, n, cursors, tot);
    else
        reduce_items(s, n, tot);
    add_counters(s, 2, 2, tot[FSCI__P_LEAKW], tot[FSCI__P_LEAKE]);
    add_counters(s, 6, 6, tot[FSCI__P_PRUNW], tot[FSCI__P_PRUNE]);
    s->cells += tot[FSCI__P_CELLS];
    s->last_bytes = PSI_RW_BYTES * tot[FSCI__P_CELLS];
    s->cur = 1 - s->cur;
    if (mode == 2 && !p->o.dense) {
        s->klo = jlo;
        s->khi = jhi;
        if (s->khi < s->klo) {
            s->klo = 0;
            s->khi = -1;
        }
    } else if (shift && !p->o.dense) {
        s->klo = s->klo > 0 ? s->klo - 1 : 0;
        s->khi = s->khi - 1;
        if (s->khi < s->klo) {
            s->klo = 0;
            s->khi = -1;
        }
    }
    fsci__proton_window_update(p, s);
fail:
    fsci_free(cursors);
    return st;
}
