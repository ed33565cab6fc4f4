/* proton transport operators: plan and kernels, phase-space precision, each operator
 * alone against a double-precision reference (conservation, positivity), the step
 * balance and the fused step, the dense reference grid. Reference numbers and their
 * sources: doc/proton_physics.md, doc/proton.md. Built twice (tests/CMakeLists.txt):
 * test_transport_ops runs the library's float32 engine, test_transport_ops_f64 the
 * proton sources compiled with -DFSCI_PROTON_F64. Run times printed are for
 * information only (speed: bench/bench_proton.py). */
#include "proton/transport_testutil.h"

/* ---- plan, kernels, stencils ------------------------------------------------ */

TEST(defaults_and_plan_info)
{
    fsci_proton_opts o;
    fsci_proton_opts_default(&o);
    ASSERT_EQ(o.ntheta, 121);
    ASSERT_NEAR_REL(o.nuclear_mu_per_mm, 0.0012, 1e-12, 0);
    ASSERT_TRUE(o.straggling);
    o.straggling = false; /* the CSDA tables (straggling: test_straggling.c) */
    o.nx = 20;
    o.nz = 20;
    o.e_max_mev = 150;
    sim m;
    ASSERT_OK(sim_open(&m, &o, NULL));
    ASSERT_NEAR_REL(m.info.ds_mm, 1.0, 1e-12, 0); /* min(dx, dz) */
    ASSERT_NEAR_REL(m.info.dtheta_rad, 0.5 * FSCI_PI / 180, 1e-12, 0);
    ASSERT_NEAR_REL(m.info.e_cut_mev, 1.0, 1e-12, 0); /* anchored at e_min */
    ASSERT_TRUE(m.info.e_top_mev >= 150 && m.info.e_top_mev < 150.6);
    ASSERT_EQ(m.info.ne, 158); /* ceil((157.71 - 0.025) / 1) */
    ASSERT_EQ(m.info.nwindow, 32);
    ASSERT_EQ(m.info.nclass, 1);
    const double *th = fsci_proton_plan_theta(m.p);
    ASSERT_TRUE(th[60] == 0.0); /* odd ntheta: a bin centred on 0 */
    int64_t iu, iv;
    double fu, fv;
    ASSERT_OK(fsci_proton_plan_stencil(m.p, 60, &iu, &fu, &iv, &fv));
    ASSERT_EQ(iu, 0);
    ASSERT_EQ(iv, 1);
    ASSERT_TRUE(fu == 0 && fv == 0); /* theta = 0 streams exactly one row */
    ASSERT_STATUS(fsci_proton_plan_stencil(m.p, 121, &iu, &fu, &iv, &fv), FSCI_EINVAL);
    /* water on a range grid: A_E shifts by one bin; the top bin loses S(E) ds */
    int64_t tg[2];
    double tw[2], sv = 0, dep = 0;
    ASSERT_OK(fsci_proton_plan_transfer(m.p, m.info.ne - 1, 0, tg, tw, &sv, &dep));
    ASSERT_EQ(tg[0], m.info.ne - 2);
    ASSERT_EQ(tg[1], -2);
    ASSERT_TRUE(tw[0] == 1);
    ASSERT_NEAR_REL(sv, exp(-0.0012), 1e-7, 0);
    const double *e = fsci_proton_plan_egrid(m.p)->edge;
    const double pn = 1 - sv, vt = e[m.info.ne], vb = e[m.info.ne - 1];
    ASSERT_NEAR_REL(dep, pn * 0.6 * vt + (1 - pn) * (vt - vb), 1e-12, 0);
    ASSERT_OK(fsci_proton_plan_transfer(m.p, 0, 0, tg, tw, NULL, NULL));
    ASSERT_EQ(tg[0], -1); /* bin 0 reaches the cutoff */
    double r = 0;
    ASSERT_OK(fsci_proton_plan_material(m.p, 0, &r, NULL, NULL));
    ASSERT_TRUE(r == 1);
    ASSERT_STATUS(fsci_proton_plan_material(m.p, 1, &r, NULL, NULL), FSCI_EINVAL);
    sim_close(&m);
}

TEST(kernels_normalised_exact_variance)
{
    fsci_proton_opts o;
    fsci_proton_opts_default(&o);
    o.nx = 4;
    o.nz = 4;
    o.e_max_mev = 200;
    o.ntheta = 61; /* 1-degree bins: wide kernels at low energy */
    sim m;
    ASSERT_OK(sim_open(&m, &o, NULL));
    int n3 = 0, nwide = 0;
    double worst = 0, worst_abs = 0;
    for (int64_t k = 0; k < m.info.ne; k++) {
        int64_t h;
        const float *w;
        double v;
        ASSERT_OK(fsci_proton_plan_kernel(m.p, k, 0, &h, &w, &v));
        double s = 0, var = 0;
        for (int64_t d = -h; d <= h; d++) {
            ASSERT_TRUE(w[d + h] >= 0);
            ASSERT_TRUE(w[d + h] == w[h - d]); /* symmetric */
            s += (double)w[d + h];
            var += (double)w[d + h] * (double)(d * d);
        }
        ASSERT_TRUE(s == 1.0); /* exactly, in float32 */
        double err = fabs(var - v) / v;
        if (err > worst) worst = err;
        if (fabs(var - v) > worst_abs) worst_abs = fabs(var - v);
        if (v <= 0.5) {
            ASSERT_EQ(h, 1);
            n3++;
        } else {
            nwide++;
        }
    }
    printf(
        "  %d 3-tap kernels, %d wider (h up to %lld); variance error: worst %.2e bin^2 (taps are multiples "
        "of 2^-24), relative %.2e\n",
        n3, nwide, (long long)m.info.kernel_half_max, worst_abs, worst);
    ASSERT_TRUE(worst_abs <= 1.0 / 16777216.0);
    ASSERT_TRUE(worst < 1e-5);
    ASSERT_TRUE(n3 > 0 && nwide > 0);
    ASSERT_EQ(m.info.kernels_clamped, 0);
    ASSERT_STATUS(fsci_proton_plan_kernel(m.p, m.info.ne, 0, &(int64_t){0}, &(const float *){NULL}, NULL),
                  FSCI_EINVAL);
    sim_close(&m);
}

/* ---- phase-space precision ------------------------------------------------- */

TEST(psi_precision_and_float64_access)
{
    /* this executable must run the engine it was built for (tests/CMakeLists.txt) */
#ifdef FSCI_PROTON_F64
    ASSERT_EQ(fsci_proton_psi_bytes(), 8);
#else
    ASSERT_EQ(fsci_proton_psi_bytes(), 4);
#endif
    fsci_proton_opts o;
    small_opts(&o, false);
    sim m;
    ASSERT_OK(sim_open(&m, &o, NULL));
    const int64_t n = psi_len(&m), per_bin = n / m.info.ne;
    ASSERT_TRUE(m.info.mem_bytes >= 2.0 * (double)(m.info.nwindow * per_bin) * fsci_proton_psi_bytes());
    double *a = calloc((size_t)n, sizeof(double)), *b = calloc((size_t)n, sizeof(double));
    float *f = calloc((size_t)n, sizeof(float));
    const int64_t i0 = 5 * per_bin + 3 * 120 + 17, i1 = i0 + 240;
    a[i0] = 1.0 / 3;
    a[i1] = 0.1;
    ASSERT_OK(fsci_proton_state_set_psi64(m.s, a));
    ASSERT_OK(fsci_proton_state_get_psi64(m.s, b));
    ASSERT_OK(fsci_proton_state_get_psi(m.s, f));
    fsci_proton_state_info in;
    fsci_proton_state_get_info(m.s, &in);
    if (f64_engine()) { /* stored exactly */
        ASSERT_TRUE(b[i0] == 1.0 / 3 && b[i1] == 0.1);
        ASSERT_TRUE(in.injected == 1.0 / 3 + 0.1);
    } else { /* rounded to float32 */
        ASSERT_TRUE(b[i0] == (double)(float)(1.0 / 3) && b[i1] == (double)0.1f);
        ASSERT_TRUE(in.injected == (double)(float)(1.0 / 3) + (double)0.1f);
    }
    ASSERT_TRUE(f[i0] == (float)(1.0 / 3) && f[i1] == 0.1f); /* get_psi: nearest float32 */
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += b[i];
    ASSERT_TRUE(s == b[i0] + b[i1]); /* nothing else is set */
    /* set_psi (float32) is exact in both builds */
    memset(f, 0, sizeof(float) * (size_t)n);
    f[i0] = 0.3f;
    ASSERT_OK(fsci_proton_state_set_psi(m.s, f));
    ASSERT_OK(fsci_proton_state_get_psi64(m.s, b));
    ASSERT_TRUE(b[i0] == (double)0.3f && b[i1] == 0);
    /* bad values are named; a value beyond float32 only fits the float64 build */
    a[i1] = -1;
    ASSERT_TRUE(
        expect_fail(fsci_proton_state_set_psi64(m.s, a), FSCI_EINVAL, "set_psi64: psi[5, 5, 1, 7] = -1"));
    a[i1] = NAN;
    ASSERT_TRUE(expect_fail(fsci_proton_state_set_psi64(m.s, a), FSCI_EINVAL, "= nan"));
    a[i1] = 1e300;
    if (f64_engine())
        ASSERT_OK(fsci_proton_state_set_psi64(m.s, a));
    else
        ASSERT_TRUE(expect_fail(fsci_proton_state_set_psi64(m.s, a), FSCI_EINVAL, "= 1e+300"));
    ASSERT_STATUS(fsci_proton_state_set_psi64(m.s, NULL), FSCI_EINVAL);
    ASSERT_STATUS(fsci_proton_state_get_psi64(NULL, b), FSCI_EINVAL);
    free(a);
    free(b);
    free(f);
    sim_close(&m);
}

/* ---- operators alone -------------------------------------------------------- */

/* Double-precision A_theta with the plan's kernels (class map cls or NULL). */
static void ref_scatter(const sim *m, const double *in, double *out, double *rej, const int *cls, bool per)
{
    const int64_t ne = m->info.ne, nth = m->info.ntheta, pl = m->info.nz * m->info.nx;
    memset(out, 0, sizeof(double) * (size_t)psi_len(m));
    *rej = 0;
    for (int64_t k = 0; k < ne; k++)
        for (int64_t ts = 0; ts < nth; ts++)
            for (int64_t c = 0; c < pl; c++) {
                double v = in[(k * nth + ts) * pl + c];
                if (v == 0) continue;
                int64_t h;
                const float *w;
                if (fsci_proton_plan_kernel(m->p, k, cls ? cls[c] : 0, &h, &w, NULL) < 0) return;
                for (int64_t d = -h; d <= h; d++) {
                    int64_t t = ts + d;
                    if (per) t = ((t % nth) + nth) % nth;
                    if (t < 0 || t >= nth)
                        *rej += (double)w[d + h] * v;
                    else
                        out[(k * nth + t) * pl + c] += (double)w[d + h] * v;
                }
            }
}

static void scatter_case(int *testkit_failed, bool per, bool bone)
{
    fsci_proton_opts o;
    small_opts(&o, per);
    double rsp[120], rsc[120], rho[120];
    int cls[120];
    fsci_proton_materials mat = {12, 10, rsp, rsc, rho};
    if (bone) {
        ASSERT_OK(fsci_proton_slab_fill(&o, FSCI_PROTON_SLAB_BONE, 4, 8, rsp, rsc, rho));
        for (int i = 0; i < 120; i++) cls[i] = rsp[i] > 1 ? 1 : 0; /* classes sorted: water, bone */
    }
    sim m;
    ASSERT_OK(sim_open(&m, &o, bone ? &mat : NULL));
    const int64_t n = psi_len(&m);
    double *psi = malloc(sizeof(double) * (size_t)n), *in = malloc(sizeof(double) * (size_t)n),
           *ref = malloc(sizeof(double) * (size_t)n);
    ASSERT_OK(load_random_psi(&m, in, 0));
    ASSERT_OK(fsci_proton_apply_scatter(m.p, m.s));
    fsci_proton_balance w, e;
    fsci_proton_state_step_balance(m.s, &w, &e);
    double rej = 0;
    ref_scatter(&m, in, ref, &rej, bone ? cls : NULL, per);
    double sin_ = 0, sref = 0;
    for (int64_t i = 0; i < n; i++) {
        sin_ += in[i];
        sref += ref[i];
    }
    double mx = 0, mn = min_psi(&m, psi);
    double d = max_abs_diff(psi, ref, n, &mx);
    double ref_res = fabs(sin_ - sref - rej) / sin_;
    printf(
        "  scatter %s%s (float%d): residual weight %.2e energy %.2e, rejected %.4f (ref %.4f); |psi - ref| "
        "/ max %.2e; ref residual %.1e; min psi %g\n",
        per ? "periodic" : "absorbing", bone ? " + bone" : "", 8 * fsci_proton_psi_bytes(), w.residual,
        e.residual, w.rejected, rej / sin_, d / mx, ref_res, mn);
    ASSERT_TRUE(fabs(w.residual) <= TOL_OP);
    ASSERT_TRUE(fabs(e.residual) <= TOL_OP);
    ASSERT_TRUE(ref_res <= 1e-12);
    ASSERT_TRUE(d / mx <= TOL_OP);
    ASSERT_TRUE(mn >= 0);
    ASSERT_NEAR_REL(w.rejected, rej / sin_, TOL_OP, 1e-12);
    if (per) ASSERT_TRUE(w.rejected == 0);
    free(psi);
    free(in);
    free(ref);
    sim_close(&m);
}

TEST(scatter_alone_conserves_and_matches_double_reference)
{
    scatter_case(testkit_failed, true, false);
    if (*testkit_failed) return;
    scatter_case(testkit_failed, false, false);
    if (*testkit_failed) return;
    scatter_case(testkit_failed, false, true);
}

/* A periodic ring narrower than the kernel (the single-column tests use one
 * angle bin): the taps are folded onto the ring, sum to exactly 1 and are
 * applied without drift. With one bin, A_theta is the identity bit for bit;
 * unfolded, w_-1 a + w_0 a + w_1 a in float32 drifted the weight by ~1e-8 a
 * step (1e-5 over a Bragg-peak run). */
TEST(periodic_ring_narrower_than_kernel_is_exact)
{
    static const int64_t NTH[4] = {1, 2, 3, 4};
    for (int r = 0; r < 4 && !*testkit_failed; r++) {
        fsci_proton_opts o;
        small_opts(&o, true);
        o.ntheta = NTH[r];
        o.e_max_mev = 20; /* low energy: the widest kernels */
        sim m;
        ASSERT_OK(sim_open(&m, &o, NULL));
        int64_t hmax = 0;
        for (int64_t k = 0; k < m.info.ne; k++) {
            int64_t h;
            const float *w;
            ASSERT_OK(fsci_proton_plan_kernel(m.p, k, 0, &h, &w, NULL));
            double sum = 0;
            for (int64_t d = 0; d <= 2 * h; d++) {
                ASSERT_TRUE(w[d] >= 0);
                sum += (double)w[d];
            }
            ASSERT_TRUE(sum == 1.0);
            ASSERT_TRUE(h <= NTH[r] / 2);
            if (h > hmax) hmax = h;
        }
        const int64_t n = psi_len(&m);
        double *in = malloc(sizeof(double) * (size_t)n), *out = malloc(sizeof(double) * (size_t)n);
        ASSERT_OK(load_random_psi(&m, in, 0));
        double s0 = 0, s1 = 0;
        for (int64_t i = 0; i < n; i++) s0 += in[i];
        for (int it = 0; it < 200; it++) ASSERT_OK(fsci_proton_apply_scatter(m.p, m.s));
        ASSERT_OK(fsci_proton_state_get_psi64(m.s, out));
        for (int64_t i = 0; i < n; i++) s1 += out[i];
        fsci_proton_balance w, e;
        fsci_proton_state_balance(m.s, &w, &e);
        printf("  ring of %lld bins: folded half-width %lld; 200 x A_theta: weight %.17g -> %.17g, residual "
               "%.1e\n",
               (long long)NTH[r], (long long)hmax, s0, s1, w.residual);
        if (NTH[r] == 1) ASSERT_TRUE(memcmp(in, out, sizeof(double) * (size_t)n) == 0);
        ASSERT_TRUE(fabs(w.residual) <= 1e-7 && fabs(s1 - s0) <= 1e-7 * s0);
        free(in);
        free(out);
        sim_close(&m);
    }
}

/* Double-precision bilinear A_stream (push form) with the plan's stencils. */
static void ref_stream(const sim *m, const double *in, double *out, double *leak)
{
    const int64_t ne = m->info.ne, nth = m->info.ntheta, nz = m->info.nz, nx = m->info.nx, pl = nz * nx;
    memset(out, 0, sizeof(double) * (size_t)psi_len(m));
    *leak = 0;
    for (int64_t t = 0; t < nth; t++) {
        int64_t iu, iv;
        double fu, fv;
        if (fsci_proton_plan_stencil(m->p, t, &iu, &fu, &iv, &fv) < 0) return;
        const double wz[2] = {1 - fv, fv}, wx[2] = {1 - fu, fu};
        for (int64_t k = 0; k < ne; k++)
            for (int64_t z = 0; z < nz; z++)
                for (int64_t x = 0; x < nx; x++) {
                    double v = in[(k * nth + t) * pl + z * nx + x];
                    if (v == 0) continue;
                    for (int a = 0; a < 2; a++)
                        for (int b = 0; b < 2; b++) {
                            double w = wz[a] * wx[b] * v;
                            int64_t tz = z + iv + a, tx = x + iu + b;
                            if (tz < 0 || tz >= nz || tx < 0 || tx >= nx)
                                *leak += w;
                            else
                                out[(k * nth + t) * pl + tz * nx + tx] += w;
                        }
                }
    }
}

TEST(stream_alone_conserves_and_matches_double_reference)
{
    for (int scheme = 0; scheme < 2; scheme++)
        for (int interior = 0; interior < 2; interior++) {
            fsci_proton_opts o;
            small_opts(&o, true); /* all directions, including backwards */
            o.ds_mm = 1.7;        /* shifts of 1-2 cells plus fractions */
            o.stream = scheme ? FSCI_PROTON_STREAM_MUSCL : FSCI_PROTON_STREAM_BILINEAR;
            sim m;
            ASSERT_OK(sim_open(&m, &o, NULL));
            const int64_t n = psi_len(&m);
            double *psi = malloc(sizeof(double) * (size_t)n), *in = malloc(sizeof(double) * (size_t)n),
                   *ref = malloc(sizeof(double) * (size_t)n);
            ASSERT_OK(load_random_psi(&m, in, interior ? 3 : 0));
            ASSERT_OK(fsci_proton_apply_stream(m.p, m.s));
            fsci_proton_balance w, e;
            fsci_proton_state_step_balance(m.s, &w, &e);
            double mn = min_psi(&m, psi);
            double sin_ = 0;
            for (int64_t i = 0; i < n; i++) sin_ += in[i];
            printf("  stream %s %s (float%d): weight residual %.2e, energy residual %.2e, leaked %.4f, min "
                   "psi %g",
                   scheme ? "muscl" : "bilinear", interior ? "interior" : "edges",
                   8 * fsci_proton_psi_bytes(), w.residual, e.residual, w.leaked, mn);
            ASSERT_TRUE(fabs(w.residual) <= TOL_OP);
            ASSERT_TRUE(fabs(e.residual) <= TOL_OP);
            ASSERT_TRUE(mn >= 0);
            if (interior) ASSERT_TRUE(w.leaked == 0);
            if (scheme == 0) {
                double leak = 0, sref = 0, mx = 0;
                ref_stream(&m, in, ref, &leak);
                for (int64_t i = 0; i < n; i++) sref += ref[i];
                double d = max_abs_diff(psi, ref, n, &mx);
                double rr = fabs(sin_ - sref - leak) / sin_;
                printf("; |psi - ref| / max %.2e, ref residual %.1e, leak vs ref %.2e", d / mx, rr,
                       fabs(w.leaked - leak / sin_) / (leak / sin_ + 1e-300));
                ASSERT_TRUE(d / mx <= TOL_OP);
                ASSERT_TRUE(rr <= 1e-12);
                ASSERT_NEAR_REL(w.leaked, leak / sin_, TOL_OP, 1e-12);
            }
            printf("\n");
            free(psi);
            free(in);
            free(ref);
            sim_close(&m);
        }
}

TEST(energy_alone_conserves_and_matches_double_reference)
{
    for (int bone = 0; bone < 2; bone++) {
        fsci_proton_opts o;
        small_opts(&o, false);
        o.straggling = false; /* the CSDA split (straggling: test_straggling.c) */
        double rsp[120], rsc[120], rho[120];
        fsci_proton_materials mat = {12, 10, rsp, rsc, rho};
        ASSERT_OK(fsci_proton_slab_fill(&o, bone ? FSCI_PROTON_SLAB_BONE : FSCI_PROTON_SLAB_WATER, 4, 8, rsp,
                                        rsc, rho));
        sim m;
        ASSERT_OK(sim_open(&m, &o, bone ? &mat : NULL));
        const int64_t n = psi_len(&m), nth = m.info.ntheta, pl = 120, ne = m.info.ne;
        double *psi = malloc(sizeof(double) * (size_t)n), *in = malloc(sizeof(double) * (size_t)n);
        double *ref = calloc((size_t)n, sizeof(double)), *dref = calloc(120, sizeof(double)),
               *dose = calloc(120, 8), *tref = calloc((size_t)n, sizeof(double)), *tdose = calloc(120, 8);
        ASSERT_OK(load_random_psi(&m, in, 0));
        /* physics reference: range grid, loss of rsp bins split linearly, nuclear
         * removal p = 1 - exp(-mu rho ds) with 60 % of the energy local (the plan
         * rounds the split and p to multiples of 2^-24: agreement to ~1e-7) */
        const double *val = fsci_proton_plan_egrid(m.p)->edge + 1;
        ref_sums rs = {0};
        for (int64_t k = 0; k < ne; k++)
            for (int64_t t = 0; t < nth; t++)
                for (int64_t c = 0; c < pl; c++) {
                    double pr = 1 - exp(-0.0012 * rho[c] * 1.0), r = rsp[c], mm = floor(r), f = r - mm;
                    const double parts[2][2] = {{(double)k - mm, 1 - f}, {(double)k - mm - 1, f}};
                    dref[c] += ref_cell_step(&rs, in[(k * nth + t) * pl + c], k, val, pr, parts, 2, ref,
                                             nth * pl, t * pl + c);
                }
        const double sin_ = rs.sin, ein = rs.ein, cut = rs.cut, nuc = rs.nuc, nuce = rs.nuce, dep = rs.dep;
        /* table reference: the same step in double with the transfers the plan
         * applies (fsci_proton_plan_transfer); classes sorted: water, bone */
        double tcut = 0, tnuc = 0, tdep = 0, tout = 0;
        for (int64_t ic = 0; ic < (bone ? 2 : 1); ic++) {
            double r = 0;
            ASSERT_OK(fsci_proton_plan_material(m.p, ic, &r, NULL, NULL));
            ASSERT_TRUE(ic == 0 ? r == 1 : r > 1);
        }
        for (int64_t k = 0; k < ne; k++)
            for (int64_t c = 0; c < pl; c++) {
                int64_t tg[2];
                double wq[2], sv = 0, dp = 0;
                ASSERT_OK(fsci_proton_plan_transfer(m.p, k, rsp[c] > 1 ? 1 : 0, tg, wq, &sv, &dp));
                for (int64_t t = 0; t < nth; t++) {
                    double v = in[(k * nth + t) * pl + c];
                    tnuc += (1 - sv) * v;
                    tdep += dp * v;
                    tdose[c] += dp * v;
                    for (int q = 0; q < 2; q++) {
                        if (tg[q] == -1) tcut += sv * wq[q] * v;
                        if (tg[q] < 0) continue;
                        tref[(tg[q] * nth + t) * pl + c] += sv * wq[q] * v;
                        tout += sv * wq[q] * v;
                    }
                }
            }
        ASSERT_OK(fsci_proton_apply_energy(m.p, m.s));
        fsci_proton_balance w, e;
        fsci_proton_state_step_balance(m.s, &w, &e);
        double mx = 0, mn = min_psi(&m, psi);
        double d = max_abs_diff(psi, ref, n, &mx), tmx = 0, td = max_abs_diff(psi, tref, n, &tmx);
        ASSERT_OK(fsci_proton_state_dose(m.s, FSCI_PROTON_DOSE_MEV, dose));
        double dd = 0, dm = 0, tdd = 0;
        for (int c = 0; c < 120; c++) {
            dd = fmax(dd, fabs(dose[c] - dref[c] / sin_));
            dm = fmax(dm, dref[c] / sin_);
            tdd = fmax(tdd, fabs(dose[c] - tdose[c] / sin_));
        }
        double sref = 0, eref = 0;
        for (int64_t k = 0; k < ne; k++)
            for (int64_t i = 0; i < nth * pl; i++) {
                sref += ref[k * nth * pl + i];
                eref += ref[k * nth * pl + i] * val[k];
            }
        /* the reference keeps energy too: in = out + deposited + escaping nuclear part */
        double rw = fabs(sin_ - sref - cut - nuc) / sin_, re = fabs(ein - eref - dep - nuce) / ein;
        /* the plan's transfers are normalised: the table reference keeps weight */
        double trw = fabs(sin_ - tout - tcut - tnuc) / sin_;
        printf(
            "  energy %s (float%d): residual weight %.2e energy %.2e; cutoff %.4f nuclear %.5f; physics ref: "
            "|psi - ref|/max %.2e, |dose - ref|/max %.2e, residuals weight %.1e energy %.1e; table ref: "
            "|psi - ref|/max %.2e, |dose - ref|/max %.2e, residual weight %.1e\n",
            bone ? "water+bone" : "water", 8 * fsci_proton_psi_bytes(), w.residual, e.residual, w.cutoff,
            w.nuclear, d / mx, dd / dm, rw, re, td / tmx, tdd / dm, trw);
        ASSERT_TRUE(fabs(w.residual) <= TOL_OP);
        ASSERT_TRUE(fabs(e.residual) <= TOL_OP);
        ASSERT_TRUE(mn >= 0);
        ASSERT_TRUE(d / mx <= 1e-6);
        ASSERT_TRUE(dd / dm <= 1e-6);
        ASSERT_TRUE(rw <= 1e-12 && re <= 1e-12 && trw <= 1e-12);
        ASSERT_NEAR_REL(w.cutoff, cut / sin_, 1e-6, 0);
        ASSERT_NEAR_REL(w.nuclear, nuc / sin_, 0, 1e-7); /* p is applied rounded to 2^-24 */
        ASSERT_NEAR_REL(e.deposited, dep / sin_, 1e-6, 0);
        ASSERT_TRUE(td / tmx <= TOL_OP);
        ASSERT_TRUE(tdd / dm <= TOL_OP);
        ASSERT_NEAR_REL(w.cutoff, tcut / sin_, TOL_OP, 0);
        ASSERT_NEAR_REL(w.nuclear, tnuc / sin_, TOL_OP, 0);
        ASSERT_NEAR_REL(e.deposited, tdep / sin_, TOL_OP, 0);
        free(psi);
        free(in);
        free(tref);
        free(tdose);
        free(ref);
        free(dref);
        free(dose);
        sim_close(&m);
    }
}

/* ---- steps ------------------------------------------------------------------ */

TEST(step_balance_positivity_and_fused_equals_operators)
{
    fsci_proton_opts o;
    fsci_proton_opts_default(&o);
    o.nx = 24;
    o.nz = 90;
    o.e_max_mev = 100;
    o.ntheta = 31;
    o.theta_max_deg = 7.75; /* narrow cone: some weight is rejected */
    o.nthreads = 2;
    sim a, b;
    ASSERT_OK(sim_open(&a, &o, NULL));
    ASSERT_OK(sim_open(&b, &o, NULL));
    fsci_proton_beam bm;
    fsci_proton_beam_default(&bm);
    bm.energy_mev = 97;
    bm.energy_sigma_mev = 1;
    bm.sigma_x_mm = 2;
    bm.x_mm = 6; /* part of it leaks out sideways */
    bm.sigma_angle_deg = 1;
    ASSERT_OK(fsci_proton_state_add_beam(a.s, &bm));
    ASSERT_OK(fsci_proton_state_add_beam(b.s, &bm));
    const int64_t n = psi_len(&a);
    double *pb = malloc(sizeof(double) * (size_t)n);
    double worst = 0, worst_op = 0, mn = 0;
    int steps = 0;
    for (; steps < 120; steps++) {
        fsci_proton_state_info ia;
        fsci_proton_state_get_info(a.s, &ia);
        if (ia.e_lo > ia.e_hi) break;
        ASSERT_OK(fsci_proton_step(a.p, a.s));
        fsci_proton_balance w;
        fsci_proton_state_step_balance(a.s, &w, NULL);
        worst = fmax(worst, fabs(w.residual));
        /* the same step, one operator at a time */
        int (*ops[3])(const fsci_proton_plan *, fsci_proton_state *) = {
            fsci_proton_apply_scatter, fsci_proton_apply_energy, fsci_proton_apply_stream};
        for (int q = 0; q < 3; q++) {
            ASSERT_OK(ops[q](b.p, b.s));
            fsci_proton_state_step_balance(b.s, &w, NULL);
            worst_op = fmax(worst_op, fabs(w.residual));
            mn = fmin(mn, min_psi(&b, pb));
        }
    }
    fsci_proton_balance rw, re;
    fsci_proton_state_balance(a.s, &rw, &re);
    printf(
        "  %d steps: worst step weight residual %.2e (operators alone %.2e); run residual weight %.2e energy "
        "%.2e\n  weight: leaked %.4f rejected %.4f cutoff %.4f nuclear %.4f pruned %.2e remaining %.2e; "
        "energy: deposited %.3f of %.3f MeV\n",
        steps, worst, worst_op, rw.residual, re.residual, rw.leaked, rw.rejected, rw.cutoff, rw.nuclear,
        rw.pruned, rw.remaining, re.deposited, re.initial);
    ASSERT_TRUE(worst <= TOL_OP);
    ASSERT_TRUE(worst_op <= TOL_OP);
    ASSERT_TRUE(fabs(rw.residual) <= TOL_OP);
    ASSERT_TRUE(fabs(re.residual) <= (f64_engine() ? 1e-13 : 1e-5));
    ASSERT_TRUE(mn >= 0);
    ASSERT_TRUE(rw.leaked > 1e-3 && rw.rejected > 1e-4); /* the edges were exercised */
    ASSERT_TRUE(rw.remaining == 0);
    /* fused step == the three operators in sequence (up to rounding) */
    double *da = malloc(sizeof(double) * 24 * 90), *db = malloc(sizeof(double) * 24 * 90);
    ASSERT_OK(fsci_proton_state_dose(a.s, FSCI_PROTON_DOSE_MEV, da));
    ASSERT_OK(fsci_proton_state_dose(b.s, FSCI_PROTON_DOSE_MEV, db));
    double dd = 0, dm = 0;
    for (int i = 0; i < 24 * 90; i++) {
        dd = fmax(dd, fabs(da[i] - db[i]));
        dm = fmax(dm, da[i]);
    }
    printf("  fused step vs operators: max |dose difference| / max dose %.2e\n", dd / dm);
    ASSERT_TRUE(dd / dm <= (f64_engine() ? 1e-13 : 1e-5));
    free(pb);
    free(da);
    free(db);
    sim_close(&a);
    sim_close(&b);
}

/* ---- the reference dense grid ----------------------------------------------- */

TEST(dense_reference_grid_step_balance)
{
    /* 200 E x 72 theta (periodic) x 40 z x 40 x = 23.04 M cells, every cell processed */
    fsci_proton_opts o;
    fsci_proton_opts_default(&o);
    o.nx = o.nz = 40;
    o.ntheta = 72;
    o.theta_bc = FSCI_PROTON_THETA_PERIODIC;
    o.e_max_mev = 230;
    {
        fsci_proton_physics *ph = NULL;
        double r1 = 0, r2 = 0;
        ASSERT_OK(fsci_proton_physics_create(NULL, &ph));
        ASSERT_OK(fsci_proton_physics_range_mm(ph, 1, &r1));
        ASSERT_OK(fsci_proton_physics_range_mm(ph, 230, &r2));
        o.ds_mm = (r2 - r1) / 200; /* 200 bins of 1.647 mm */
        fsci_proton_physics_destroy(&ph);
    }
    o.dense = true;
    o.nthreads = 2;
    sim m;
    ASSERT_OK(sim_open(&m, &o, NULL));
    ASSERT_EQ(m.info.ne, 200);
    const int64_t n = psi_len(&m);
    ASSERT_EQ(n, 23040000);
    float *psi = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) psi[i] = (float)urand();
    ASSERT_OK(fsci_proton_state_set_psi(m.s, psi));
    fsci_profile_enable(true);
    fsci_profile_reset();
    const int steps = 5;
    double worst = 0, t0 = fsci_clock();
    for (int i = 0; i < steps; i++) {
        ASSERT_OK(fsci_proton_step(m.p, m.s));
        fsci_proton_balance w;
        fsci_proton_state_step_balance(m.s, &w, NULL);
        worst = fmax(worst, fabs(w.residual));
    }
    double t1 = fsci_clock();
    fsci_profile_enable(false);
    printf("  dense 200x72x40x40 (float%d), 2 threads: %.1f ms/step; worst step residual %.1e\n",
           8 * fsci_proton_psi_bytes(), (t1 - t0) / steps * 1e3, worst);
    fsci_profile_report(stdout);
    ASSERT_TRUE(worst <= TOL_OP);
    free(psi);
    sim_close(&m);
}

TESTKIT_MAIN()
