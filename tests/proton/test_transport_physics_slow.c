/* proton transport against physics references: range (R80 and peak against the PSTAR
 * CSDA range, 70-230 MeV), stopping-depth spread, lateral spread against Fermi-Eyges,
 * angular variance growth, the 150 MeV pencil beam on the default grid. Sources:
 * doc/proton_physics.md ("Reference values reproduced"), doc/proton.md ("Validation").
 * The heaviest proton tests (label slow); built twice like test_transport_ops.c. */
#include "proton/transport_testutil.h"

/* ---- range ------------------------------------------------------------------ */

static void range_case(int *testkit_failed, double e0, double rcsda, double tol)
{
    fsci_proton_opts o;
    range_opts(&o, e0, rcsda);
    double *dd = malloc(sizeof(double) * (size_t)o.nz);
    fsci_proton_range_metrics rm;
    double t0 = fsci_clock();
    ASSERT_OK(run_pencil(&o, NULL, e0, dd, &rm, NULL));
    double t1 = fsci_clock();
    double lo = rcsda - 0.012 * rcsda - o.dz_mm, hi = rcsda + 0.5;
    printf("  %5.0f MeV: R80 %.2f mm (PSTAR %.2f, %+.2f), R90 %.2f, peak %.2f in [%.2f, %.2f], d80-20 %.2f, "
           "peak/entrance %.2f (%.3f s)\n",
           e0, rm.r80_mm, rcsda, rm.r80_mm - rcsda, rm.r90_mm, rm.peak_mm, lo, hi, rm.falloff_mm,
           1 / rm.entrance, t1 - t0);
    ASSERT_TRUE(fabs(rm.r80_mm - rcsda) <= tol);
    ASSERT_TRUE(rm.peak_mm >= lo && rm.peak_mm <= hi);
    free(dd);
}

TEST(range_r80_and_peak_70_100_150)
{
    range_case(testkit_failed, 70, 40.80, 1.0);
    if (*testkit_failed) return;
    range_case(testkit_failed, 100, 77.18, 1.0);
    if (*testkit_failed) return;
    range_case(testkit_failed, 150, 157.7, 1.0);
}

TEST(range_r80_200_230)
{
    range_case(testkit_failed, 200, 259.6, 0.005 * 259.6);
    if (*testkit_failed) return;
    range_case(testkit_failed, 230, 329.4, 0.005 * 329.4);
}

TEST(stopping_depth_spread_150)
{
    /* straggling off: the residual-range grid stops every proton after the
     * same number of steps; the spread comes only from angles. g == 3: the
     * residual-range grid with Bohr straggling, whose variance adds to that */
    double off = 0, bohr = 0;
    {
        fsci_proton_physics *ph = NULL;
        ASSERT_OK(fsci_proton_physics_create(NULL, &ph));
        ASSERT_OK(fsci_proton_physics_range_straggling(ph, 150, &bohr));
        fsci_proton_physics_destroy(&ph);
    }
    for (int g = 0; g < 4; g++) {
        fsci_proton_opts o;
        range_opts(&o, 150, 157.7);
        o.straggling = g == 3;
        if (g == 1 || g == 2) { /* the seed's uniform grid (~1 MeV bins) and a log grid, linear splitting */
            o.egrid = g == 1 ? FSCI_PROTON_EGRID_UNIFORM : FSCI_PROTON_EGRID_LOG;
            o.ne = 200;
            o.e_min_mev = g == 1 ? 0.1 : 1;
            o.e_max_mev = 200;
            o.nz = 260; /* room for the diffused tail */
        }
        double *dd = malloc(sizeof(double) * (size_t)o.nz), *stop = malloc(sizeof(double) * (size_t)o.nz);
        sim m;
        ASSERT_OK(run_pencil(&o, NULL, 150, dd, NULL, &m));
        ASSERT_OK(fsci_proton_state_stopping(m.s, stop));
        double s0 = 0, s1 = 0, s2 = 0;
        for (int64_t z = 0; z < o.nz; z++) {
            double zc = ((double)z + 0.5) * o.dz_mm;
            s0 += stop[z];
            s1 += stop[z] * zc;
        }
        for (int64_t z = 0; z < o.nz; z++) {
            double zc = ((double)z + 0.5) * o.dz_mm - s1 / s0;
            s2 += stop[z] * zc * zc;
        }
        fsci_proton_balance re;
        fsci_proton_state_balance(m.s, NULL, &re);
        const char *name[4] = {"residual-range", "uniform 200-bin", "log 200-bin",
                               "straggling, residual-range"};
        printf("  %s grid: stopping depth %.2f mm, sigma %.2f mm (Bohr straggling 1.69 mm); energy residual "
               "%.1e\n",
               name[g], s1 / s0, sqrt(s2 / s0), re.residual);
        ASSERT_TRUE(fabs(re.residual) <= 1e-5);
        if (g == 0) {
            ASSERT_TRUE(sqrt(s2 / s0) <= 1.7);
            off = sqrt(s2 / s0);
        } else if (g == 3) /* variances add: Bohr's and the angular spread's */
            ASSERT_NEAR_REL(sqrt(s2 / s0), sqrt(off * off + bohr * bohr), 0.03, 0);
        else if (g == 1) /* the numerical diffusion the range grid removes; a 1-D simulation of
                          * the same splitting gives 7.81 mm (doc/proton.md, A_E) */
            ASSERT_NEAR_REL(sqrt(s2 / s0), 7.81, 0.05, 0);
        free(dd);
        free(stop);
        sim_close(&m);
    }
}

/* ---- lateral and angular spread -------------------------------------------- */

/* sigma_x of a zero-width pencil beam at depths z (dose profile). */
static int lateral_sigma(double e0, double rmm, double dx, fsci_proton_stream_kind sk, fsci_proton_mcs mcs,
                         const double *z, int nzs, double *sig)
{
    fsci_proton_opts o;
    fsci_proton_opts_default(&o);
    o.straggling = false; /* e_window 4 holds the CSDA beam only */
    o.e_max_mev = e0;
    o.dx_mm = dx;
    o.ds_mm = 1;
    o.nx = 2 * (int64_t)ceil(5 * 0.0225 * rmm / dx) + 1;
    o.nz = (int64_t)rmm + 4;
    o.ntheta = 61;
    o.theta_max_deg = 15.25;
    o.e_window = 4;
    o.stream = sk;
    o.mcs = mcs;
    o.nthreads = 2;
    sim m;
    int st = sim_open(&m, &o, NULL);
    if (st < 0) return st;
    fsci_proton_beam b;
    fsci_proton_beam_default(&b);
    b.energy_mev = e0;
    double *prof = malloc(sizeof(double) * (size_t)o.nx), mean = 0;
    st = fsci_proton_state_add_beam(m.s, &b);
    if (st == 0) st = fsci_proton_run(m.p, m.s, 0, NULL);
    for (int i = 0; i < nzs && st == 0; i++) {
        st = fsci_proton_state_lateral_profile(m.s, z[i], prof);
        if (st == 0) st = fsci_proton_profile_moments(prof, o.nx, dx, &mean, &sig[i]);
    }
    free(prof);
    sim_close(&m);
    return st;
}

TEST(lateral_sigma_against_fermi_eyges)
{
    const double e0[3] = {70, 100, 150};
    const double table98[3] = {0.88, 1.66, 3.40},
                 table50[3] = {0.27, 0.52, 1.06}; /* doc/proton_physics.md#lateral-references */
    fsci_proton_physics *ph = NULL;
    ASSERT_OK(fsci_proton_physics_create(NULL, &ph));
    for (int i = 0; i < 3; i++) {
        double R = 0;
        ASSERT_OK(fsci_proton_physics_range_mm(ph, e0[i], &R));
        const double z[2] = {0.5 * R, 0.98 * R};
        double fe_plain[2], fe_gen[2];
        for (int j = 0; j < 2; j++) {
            fsci_proton_fe f;
            ASSERT_OK(fsci_proton_physics_fermi_eyges(ph, e0[i], z[j], false, &f));
            fe_plain[j] = f.sigma_x;
            ASSERT_OK(fsci_proton_physics_fermi_eyges(ph, e0[i], z[j], true, &f));
            fe_gen[j] = f.sigma_x;
        }
        const double dxf = e0[i] < 120 ? 0.05 : 0.1, dxc = e0[i] < 80 ? 0.1 : e0[i] < 120 ? 0.2 : 0.5;
        struct {
            const char *name;
            fsci_proton_stream_kind sk;
            fsci_proton_mcs mcs;
            double dx;
        } cfg[4] = {{"muscl plain ", FSCI_PROTON_STREAM_MUSCL, FSCI_PROTON_MCS_PLAIN, dxc},
                    {"bilin plain ", FSCI_PROTON_STREAM_BILINEAR, FSCI_PROTON_MCS_PLAIN, dxf},
                    {"muscl gener.", FSCI_PROTON_STREAM_MUSCL, FSCI_PROTON_MCS_GENERALISED, dxc},
                    {"bilin gener.", FSCI_PROTON_STREAM_BILINEAR, FSCI_PROTON_MCS_GENERALISED, dxf}};
        for (int c = 0; c < 4; c++) {
            double sg[2];
            ASSERT_OK(lateral_sigma(e0[i], R, cfg[c].dx, cfg[c].sk, cfg[c].mcs, z, 2, sg));
            const bool gen = cfg[c].mcs == FSCI_PROTON_MCS_GENERALISED;
            const double *fe = gen ? fe_gen : fe_plain;
            printf("  %3.0f MeV %s dx %.2f: R/2 %.3f mm (model %.3f, %+.1f%%; table %.2f, %+.1f%%)  0.98R "
                   "%.3f mm (model "
                   "%.3f, %+.1f%%; table %.2f, %+.1f%%)\n",
                   e0[i], cfg[c].name, cfg[c].dx, sg[0], fe[0], 100 * (sg[0] / fe[0] - 1), table50[i],
                   100 * (sg[0] / table50[i] - 1), sg[1], fe[1], 100 * (sg[1] / fe[1] - 1), table98[i],
                   100 * (sg[1] / table98[i] - 1));
            /* against the transport's own scattering model (Fermi-Eyges of the
             * same T): the numerics. Against the Fermi-Eyges table (generalised
             * Highland): the physics, with the tolerances. */
            const double tol_model = cfg[c].sk == FSCI_PROTON_STREAM_MUSCL ? 0.05 : 0.06;
            ASSERT_TRUE(fabs(sg[0] / fe[0] - 1) <= tol_model);
            ASSERT_TRUE(fabs(sg[1] / fe[1] - 1) <= tol_model);
            if (gen) { /* the plain model is itself 6-13 % above the table at 70 MeV */
                ASSERT_TRUE(fabs(sg[1] / table98[i] - 1) <= 0.10);
                ASSERT_TRUE(fabs(sg[0] / table50[i] - 1) <= 0.15);
            }
        }
    }
    fsci_proton_physics_destroy(&ph);
}

TEST(angular_variance_growth)
{
    fsci_proton_opts o;
    fsci_proton_opts_default(&o);
    o.e_max_mev = 100;
    o.nx = 15;
    o.nz = 45;
    o.nuclear = false;
    o.straggling = false; /* one energy bin per step: its kernel variance */
    o.nthreads = 2;
    sim m;
    ASSERT_OK(sim_open(&m, &o, NULL));
    const fsci_proton_egrid *g = fsci_proton_plan_egrid(m.p);
    fsci_proton_beam b;
    fsci_proton_beam_default(&b);
    b.energy_mev = g->edge[g->n]; /* exactly the top bin value */
    ASSERT_OK(fsci_proton_state_add_beam(m.s, &b));
    const int nsteps = 38; /* about R/2 */
    double expect = 0;
    for (int i = 0; i < nsteps; i++) {
        int64_t h;
        const float *w;
        double v = 0;
        ASSERT_OK(fsci_proton_plan_kernel(m.p, g->n - 1 - i, 0, &h, &w, &v));
        expect += v * m.info.dtheta_rad * m.info.dtheta_rad;
        ASSERT_OK(fsci_proton_step(m.p, m.s));
    }
    const int64_t n = psi_len(&m), nth = m.info.ntheta, pl = m.info.nz * m.info.nx;
    float *psi = malloc(sizeof(float) * (size_t)n);
    ASSERT_OK(fsci_proton_state_get_psi(m.s, psi));
    const double *th = fsci_proton_plan_theta(m.p);
    double s0 = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t t = i / pl % nth;
        s0 += (double)psi[i];
        s2 += (double)psi[i] * th[t] * th[t];
    }
    double t0sq = 0;
    fsci_proton_physics *ph = NULL;
    ASSERT_OK(fsci_proton_physics_create(NULL, &ph));
    ASSERT_OK(fsci_proton_physics_theta0_sq(ph, b.energy_mev, nsteps * m.info.ds_mm, false, &t0sq));
    printf("  after %d mm: angular variance %.4e rad^2, sum of kernel variances %.4e (%+.2e), int T ds %.4e "
           "(%+.2f%%)\n",
           nsteps, s2 / s0, expect, s2 / s0 / expect - 1, t0sq, 100 * (s2 / s0 / t0sq - 1));
    ASSERT_NEAR_REL(s2 / s0, expect, 1e-4, 0);
    ASSERT_NEAR_REL(s2 / s0, t0sq, 0.05, 0);
    fsci_proton_physics_destroy(&ph);
    free(psi);
    sim_close(&m);
}

/* ---- run time --------------------------------------------------------------- */

TEST(pencil_150_default_grid_range)
{
    /* the default plan (80 x 200 cells of 1 mm, 121 angles of 0.5 degrees,
     * 1-230 MeV in 1 mm range bins) and a 150 MeV pencil beam */
    for (int scheme = 0; scheme < 2; scheme++) {
        fsci_proton_opts o;
        fsci_proton_opts_default(&o);
        o.nthreads = 2;
        o.stream = scheme ? FSCI_PROTON_STREAM_MUSCL : FSCI_PROTON_STREAM_BILINEAR;
        double dd[200];
        fsci_proton_range_metrics rm;
        sim m;
        double tc = fsci_clock();
        ASSERT_OK(sim_open(&m, &o, NULL));
        fsci_proton_beam b;
        fsci_proton_beam_default(&b);
        double t0 = fsci_clock();
        ASSERT_OK(fsci_proton_state_add_beam(m.s, &b));
        ASSERT_OK(fsci_proton_run(m.p, m.s, 0, NULL));
        double t1 = fsci_clock();
        ASSERT_OK(fsci_proton_state_depth_dose(m.s, dd));
        ASSERT_OK(fsci_proton_analyze(dd, o.nz, o.dz_mm, &rm));
        fsci_proton_state_info in;
        fsci_proton_state_get_info(m.s, &in);
        const double dense = (double)m.info.ne * (double)m.info.ntheta * (double)(m.info.nz * m.info.nx);
        printf(
            "  %s: plan + state %.3f s; %lld steps in %.3f s (%.2f ms/step); %.3g cells processed = %.2e of "
            "the dense grid per step; R80 %.2f mm; state %.0f MB\n",
            scheme ? "muscl" : "bilinear", t0 - tc, (long long)in.steps, t1 - t0,
            (t1 - t0) / (double)in.steps * 1e3, in.cells_processed,
            in.cells_processed / (3 * dense * (double)in.steps), rm.r80_mm, m.info.mem_bytes / 1e6);
        ASSERT_NEAR_REL(rm.r80_mm, 157.7, 0, 1.0);
        sim_close(&m);
    }
}

TESTKIT_MAIN()
