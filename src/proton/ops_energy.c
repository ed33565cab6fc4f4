/* proton transport: continuous energy loss A_E with nuclear removal, its dose
 * accounting and the energy-window check. */
#include "proton/ops_impl.h"

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
        if (b.x0 == 0 && b.x1 == nx && b.z0 < b.z1) { /* whole rows: one loop */
            const fsci__psi_t *restrict sp = S + t * plane;
            double *restrict w = W;
            for (int64_t i = b.z0 * nx; i < b.z1 * nx; i++) w[i] += (double)sp[i];
            continue;
        }
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
        for (int64_t q = p->t_off[c * ne + k]; q < p->t_off[c * ne + k + 1]; q++) {
            const int32_t j = p->t_part[q].k;
            if (j < 0) continue;
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
        "bins but the energy window holds %lld (e_window): raise it, or use a coarser --step",
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

/* The gather of target plane (j, t) over the rows of ub as one flat loop per
 * source, when there is one material class and every source present covers
 * whole rows of all of ub (the dense case): per cell the same operations in
 * the same order as the row-wise gather (0, += w q for the sources in list
 * order, x g). Returns false (nothing written) when it does not apply. */
static bool gather_flat(const fsci_proton_plan *p, const fsci_proton_state *s, int64_t j, int64_t t,
                        fsci__pbox ub, fsci__psi_t *restrict D)
{
    const int64_t nth = p->nth, nx = p->nx, plane = p->plane;
    if (p->nclass != 1 || ub.x0 != 0 || ub.x1 != nx) return false;
    for (int64_t q = p->g_off[j]; q < p->g_off[j + 1]; q++) {
        const int64_t k = p->g_part[q].k;
        if (k < s->klo || k > s->khi) continue;
        const fsci__pbox b = s->box[s->cur][(k % p->nw) * nth + t];
        if (b.x0 != 0 || b.x1 != nx || b.z0 > ub.z0 || b.z1 < ub.z1) return false;
    }
    const int64_t i0 = ub.z0 * nx, i1 = ub.z1 * nx;
    bool first = true;
    for (int64_t q = p->g_off[j]; q < p->g_off[j + 1]; q++) {
        const int64_t k = p->g_part[q].k;
        if (k < s->klo || k > s->khi) continue;
        const fsci__psi_t w = p->g_part[q].w;
        const fsci__psi_t *restrict S = s->psi[s->cur] + ((k % p->nw) * nth + t) * plane;
        if (first) {
            for (int64_t i = i0; i < i1; i++) D[i] = (fsci__psi_t)0 + w * S[i];
        } else {
            for (int64_t i = i0; i < i1; i++) D[i] += w * S[i];
        }
        first = false;
    }
    if (first) memset(D + i0, 0, (size_t)(i1 - i0) * sizeof(fsci__psi_t));
    const fsci__psi_t g = p->surv[0];
    if (g != (fsci__psi_t)1)
        for (int64_t i = i0; i < i1; i++) D[i] *= g;
    return true;
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
    const bool flat = gather_flat(p, s, j, t, ub, D);
    if (flat) {
        finish_row(D, ub.z0 * nx, ub.z1 * nx, (fsci__psi_t)0, NULL, acc, pac);
        for (int64_t z = ub.z0; z < ub.z1 && !p->o.dense; z++) tight_row(D + z * nx, z, 0, nx, &tb);
    }
    for (int64_t z = ub.z0; z < ub.z1 && !flat; z++) {
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
        nrun = team_size(s, n, nt);
    }
    {
        double cells = 0;
        for (int64_t k = s->klo; k <= s->khi; k++) {
            fsci__pbox b = s->wbox[k % p->nw];
            if (s->wbin[k % p->nw] == k && !EMPTY(b)) cells += (double)(b.z1 - b.z0) * (double)(b.x1 - b.x0);
        }
        if (cells >= PARALLEL_MIN_CELLS) nrun = nt;
    }
    const int64_t chunk = item_chunk(n, nt);
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
#pragma omp for schedule(dynamic, chunk)
            for (int64_t i = 0; i < n; i++) {
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
