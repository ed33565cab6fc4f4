/* proton transport, the API around the operators: results bit-identical for 1, 2 and
 * 3 threads and sparse vs dense, slab phantoms, vacuum streaming, per-primary units
 * and Gy, profiling events, bad inputs and allocation failures. Built twice like
 * test_transport_ops.c. */
#include "proton/transport_testutil.h"

/* ---- threads and sparsity --------------------------------------------------- */

typedef struct {
    double *dose, w[9], e[9];
    double *psi; /* exact in both builds */
    int64_t ndose, npsi;
} snapshot;

static int take(const sim *m, snapshot *sn)
{
    sn->ndose = m->info.nz * m->info.nx;
    sn->npsi = psi_len(m);
    sn->dose = malloc(sizeof(double) * (size_t)sn->ndose);
    sn->psi = malloc(sizeof(double) * (size_t)sn->npsi);
    fsci_proton_balance w, e;
    fsci_proton_state_balance(m->s, &w, &e);
    memcpy(sn->w, &w, sizeof sn->w);
    memcpy(sn->e, &e, sizeof sn->e);
    int st = fsci_proton_state_dose(m->s, FSCI_PROTON_DOSE_MEV, sn->dose);
    if (st == 0) st = fsci_proton_state_get_psi64(m->s, sn->psi);
    return st;
}

static void drop(snapshot *sn)
{
    free(sn->dose);
    free(sn->psi);
}

/* A general case: bone slab (A_E gather), MUSCL, periodic angles, energy
 * spread, broad and pencil beams; stopped half-way to compare psi too. */
static int general_case(int nthreads, bool dense, int which, snapshot *sn)
{
    fsci_proton_opts o;
    fsci_proton_opts_default(&o);
    o.nthreads = nthreads;
    o.dense = dense;
    fsci_proton_beam b1, b2;
    fsci_proton_beam_default(&b1);
    fsci_proton_beam_default(&b2);
    double rsp[64 * 80], rsc[64 * 80], rho[64 * 80];
    fsci_proton_materials mat = {0, 0, rsp, rsc, rho};
    if (which == 0) { /* small enough to run dense */
        o.nx = 16;
        o.nz = 40;
        o.e_max_mev = 70;
        o.ntheta = 24;
        o.theta_bc = FSCI_PROTON_THETA_PERIODIC;
        o.stream = FSCI_PROTON_STREAM_MUSCL;
        b1.energy_mev = 65;
        b1.energy_sigma_mev = 1.5;
        b1.sigma_angle_deg = 8;
        b2.kind = FSCI_PROTON_BEAM_BROAD;
        b2.energy_mev = 55;
        b2.width_mm = 9;
        b2.x_mm = -2;
        b2.weight = 0.5;
    } else { /* sparse, large enough for both threads; generalised scattering */
        o.e_window = 64;
        o.mcs = FSCI_PROTON_MCS_GENERALISED;
        o.nx = 64;
        o.nz = 80;
        o.e_max_mev = 100;
        o.ntheta = 61;
        o.theta_max_deg = 30.5;
        b1.kind = FSCI_PROTON_BEAM_BROAD;
        b1.energy_mev = 95;
        b1.energy_sigma_mev = 3;
        b1.width_mm = 50;
        b1.sigma_angle_deg = 4;
        b2.energy_mev = 80;
        b2.sigma_x_mm = 3;
        b2.angle_deg = 10;
    }
    mat.nz = o.nz;
    mat.nx = o.nx;
    int st = fsci_proton_slab_fill(&o, FSCI_PROTON_SLAB_BONE, 10, 18, rsp, rsc, rho);
    for (int64_t i = 0; i < o.nz * o.nx; i++) /* a lateral half-slab: classes vary along rows */
        if (i % o.nx < o.nx / 2) rsp[i] = rsc[i] = rho[i] = 1;
    sim m;
    if (st == 0) st = sim_open(&m, &o, &mat);
    if (st < 0) return st;
    st = fsci_proton_state_add_beam(m.s, &b1);
    if (st == 0) st = fsci_proton_state_add_beam(m.s, &b2);
    if (st == 0) st = fsci_proton_run(m.p, m.s, which == 0 ? 25 : 40, NULL);
    if (st == 0) st = take(&m, sn);
    if (st < 0) fprintf(stderr, "  general case: %s\n", fsci_error_message());
    if (which == 1 && nthreads == 1) {
        fsci_proton_state_info in;
        fsci_proton_state_get_info(m.s, &in);
        printf("  sparse case: %.3g cells processed in 40 steps (%.0f per step)\n", in.cells_processed,
               in.cells_processed / 40);
    }
    sim_close(&m);
    return st;
}

static bool same_dose(const snapshot *a, const snapshot *b)
{
    return a->ndose == b->ndose && memcmp(a->dose, b->dose, sizeof(double) * (size_t)a->ndose) == 0;
}

static bool same_psi(const snapshot *a, const snapshot *b)
{
    return a->npsi == b->npsi && memcmp(a->psi, b->psi, sizeof(double) * (size_t)a->npsi) == 0;
}

TEST(results_identical_for_1_2_3_threads)
{
    for (int which = 0; which < 2; which++) {
        snapshot s1, s2, s3;
        ASSERT_OK(general_case(1, which == 0, which, &s1));
        ASSERT_OK(general_case(2, which == 0, which, &s2));
        ASSERT_OK(general_case(3, which == 0, which, &s3));
        bool d12 = same_dose(&s1, &s2), d13 = same_dose(&s1, &s3), p12 = same_psi(&s1, &s2),
             p13 = same_psi(&s1, &s3);
        bool b = memcmp(s1.w, s2.w, sizeof s1.w) == 0 && memcmp(s1.w, s3.w, sizeof s1.w) == 0 &&
                 memcmp(s1.e, s2.e, sizeof s1.e) == 0 && memcmp(s1.e, s3.e, sizeof s1.e) == 0;
        printf("  %s: bitwise equal 1 vs 2 vs 3 threads: dose %s, psi %s, balances %s\n",
               which == 0 ? "dense general case" : "sparse case", d12 && d13 ? "yes" : "no",
               p12 && p13 ? "yes" : "no", b ? "yes" : "no");
        ASSERT_TRUE(d12 && d13 && p12 && p13 && b);
        drop(&s1);
        drop(&s2);
        drop(&s3);
    }
}

TEST(sparse_equals_dense)
{
    snapshot sd, ss;
    ASSERT_OK(general_case(2, true, 0, &sd));
    ASSERT_OK(general_case(2, false, 0, &ss));
    bool eqd = same_dose(&sd, &ss), eqp = same_psi(&sd, &ss);
    double worst = 0;
    for (int i = 0; i < 9; i++) {
        worst = fmax(worst, fabs(sd.w[i] - ss.w[i]));
        worst = fmax(worst, fabs(sd.e[i] - ss.e[i]) / sd.e[0]);
    }
    printf("  bitwise equal: dose %s, psi %s; largest balance difference %.1e\n", eqd ? "yes" : "no",
           eqp ? "yes" : "no", worst);
    ASSERT_TRUE(eqd && eqp);
    ASSERT_TRUE(worst <= 1e-12);
    drop(&sd);
    drop(&ss);
}

/* ---- materials -------------------------------------------------------------- */

TEST(slab_phantoms_shift_the_range)
{
    fsci_proton_opts o;
    range_opts(&o, 100, 110);
    double *dd = malloc(sizeof(double) * (size_t)o.nz);
    double *rsp = malloc(sizeof(double) * (size_t)(o.nz * o.nx)),
           *rsc = malloc(sizeof(double) * (size_t)(o.nz * o.nx)),
           *rho = malloc(sizeof(double) * (size_t)(o.nz * o.nx));
    fsci_proton_materials mat = {o.nz, o.nx, rsp, rsc, rho};
    fsci_proton_range_metrics w, bo, lu;
    ASSERT_OK(run_pencil(&o, NULL, 100, dd, &w, NULL));
    ASSERT_OK(fsci_proton_slab_fill(&o, FSCI_PROTON_SLAB_BONE, 20, 40, rsp, rsc, rho));
    ASSERT_OK(run_pencil(&o, &mat, 100, dd, &bo, NULL));
    ASSERT_OK(fsci_proton_slab_fill(&o, FSCI_PROTON_SLAB_LUNG, 20, 40, rsp, rsc, rho));
    ASSERT_OK(run_pencil(&o, &mat, 100, dd, &lu, NULL));
    /* 20 mm of rsp 1.6 is 32 mm of water: -12 mm; of rsp 0.3: 6 mm, +14 mm */
    printf("  R80: water %.2f, bone slab %.2f (shift %+.2f, expected -12.00), lung slab %.2f (shift %+.2f, "
           "expected +14.00)\n",
           w.r80_mm, bo.r80_mm, bo.r80_mm - w.r80_mm, lu.r80_mm, lu.r80_mm - w.r80_mm);
    ASSERT_NEAR_REL(bo.r80_mm - w.r80_mm, -12.0, 0, 1.0);
    ASSERT_NEAR_REL(lu.r80_mm - w.r80_mm, 14.0, 0, 1.0);
    free(dd);
    free(rsp);
    free(rsc);
    free(rho);
}

TEST(vacuum_streaming_45_degrees)
{
    for (int scheme = 0; scheme < 2; scheme++) {
        fsci_proton_opts o;
        fsci_proton_opts_default(&o);
        o.nx = 110;
        o.nz = 100;
        o.ntheta = 91;
        o.theta_max_deg = 45.5; /* 1-degree bins centred on -45..45 */
        o.e_max_mev = 100;
        o.nuclear = false;
        o.stream = scheme ? FSCI_PROTON_STREAM_MUSCL : FSCI_PROTON_STREAM_BILINEAR;
        double *zero = calloc((size_t)(o.nz * o.nx), sizeof(double)), *one = malloc(sizeof(double) * 11000);
        for (int i = 0; i < 11000; i++) one[i] = 1;
        fsci_proton_materials vac = {o.nz, o.nx, zero, zero, one};
        sim m;
        ASSERT_OK(sim_open(&m, &o, &vac));
        fsci_proton_beam b;
        fsci_proton_beam_default(&b);
        b.energy_mev = 100;
        b.angle_deg = 45;
        b.x_mm = -40;
        ASSERT_OK(fsci_proton_state_add_beam(m.s, &b));
        const int nsteps = 100;
        for (int i = 0; i < nsteps; i++) ASSERT_OK(fsci_proton_step(m.p, m.s));
        float *psi = malloc(sizeof(float) * (size_t)psi_len(&m));
        ASSERT_OK(fsci_proton_state_get_psi(m.s, psi));
        double s0 = 0, sx = 0, sz = 0, sxx = 0, szz = 0;
        const int64_t pl = 11000;
        for (int64_t i = 0; i < psi_len(&m); i++) {
            double v = (double)psi[i];
            if (v == 0) continue;
            double x = (double)(i % 110) + 0.5 - 55, z = (double)(i % pl / 110) + 0.5;
            s0 += v;
            sx += v * x;
            sz += v * z;
            sxx += v * x * x;
            szz += v * z * z;
        }
        const double d = nsteps * sqrt(0.5), mx = sx / s0, mz = sz / s0;
        const double vx = sxx / s0 - mx * mx, vz = szz / s0 - mz * mz;
        fsci_proton_balance w;
        fsci_proton_state_balance(m.s, &w, NULL);
        printf("  %s: centroid (x, z) = (%.4f, %.4f), line (%.4f, %.4f); variance x %.3f z %.3f mm^2 "
               "(0.207 per step bilinear: %.1f); weight %.6f\n",
               scheme ? "muscl" : "bilinear", mx, mz, -40 + d, 0.5 + d, vx, vz, 0.2071 * nsteps + 0.25, s0);
        ASSERT_TRUE(fabs(mx - (-40 + d)) <= 0.1 && fabs(mz - (0.5 + d)) <= 0.1);
        ASSERT_NEAR_REL(s0, 1.0, 1e-6, 0);
        ASSERT_TRUE(w.leaked == 0 && fabs(w.residual) <= 1e-6);
        if (scheme == 0) ASSERT_NEAR_REL(vx, 0.25 + 0.2071 * nsteps, 0.01, 0);
        free(psi);
        free(zero);
        free(one);
        sim_close(&m);
    }
}

/* ---- beams, units, profiling ------------------------------------------------ */

TEST(per_primary_normalisation_and_gray)
{
    fsci_proton_opts o;
    range_opts(&o, 70, 45);
    double *d1 = malloc(sizeof(double) * (size_t)o.nz), *d2 = malloc(sizeof(double) * (size_t)o.nz);
    ASSERT_OK(run_pencil(&o, NULL, 70, d1, NULL, NULL));
    sim m;
    ASSERT_OK(sim_open(&m, &o, NULL));
    fsci_proton_beam b;
    fsci_proton_beam_default(&b);
    b.energy_mev = 70;
    ASSERT_OK(fsci_proton_state_add_beam(m.s, &b));
    b.weight = 3;
    ASSERT_OK(fsci_proton_state_add_beam(m.s, &b));
    ASSERT_OK(fsci_proton_run(m.p, m.s, 0, NULL));
    ASSERT_OK(fsci_proton_state_depth_dose(m.s, d2));
    double worst = 0, mx = 0;
    for (int64_t z = 0; z < o.nz; z++) {
        worst = fmax(worst, fabs(d1[z] - d2[z]));
        mx = fmax(mx, d1[z]);
    }
    ASSERT_TRUE(worst / mx < 1e-6);
    fsci_proton_state_info in;
    fsci_proton_state_get_info(m.s, &in);
    ASSERT_NEAR_REL(in.injected, 4.0, 1e-6, 0);
    double *mev = malloc(sizeof(double) * (size_t)(o.nz * o.nx)),
           *gy = malloc(sizeof(double) * (size_t)(o.nz * o.nx));
    ASSERT_OK(fsci_proton_state_dose(m.s, FSCI_PROTON_DOSE_MEV, mev));
    ASSERT_OK(fsci_proton_state_dose(m.s, FSCI_PROTON_DOSE_GY, gy));
    /* 1 mm^3 of water = 1e-6 kg */
    ASSERT_NEAR_REL(gy[30], mev[30] * 1.602176634e-13 / 1e-6, 1e-12, 0);
    ASSERT_STATUS(fsci_proton_state_dose(m.s, (fsci_proton_dose_unit)7, gy), FSCI_EINVAL);
    free(d1);
    free(d2);
    free(mev);
    free(gy);
    sim_close(&m);
}

TEST(profiling_events)
{
    fsci_proton_opts o;
    small_opts(&o, false);
    sim m;
    ASSERT_OK(sim_open(&m, &o, NULL));
    fsci_proton_beam b;
    fsci_proton_beam_default(&b);
    b.energy_mev = 50;
    ASSERT_OK(fsci_proton_state_add_beam(m.s, &b));
    fsci_profile_enable(true);
    fsci_profile_reset();
    ASSERT_OK(fsci_proton_run(m.p, m.s, 5, NULL));
    fsci_profile_enable(false);
    int found = 0;
    for (int i = 0; i < fsci_profile_count(); i++) {
        fsci_profile_entry e;
        ASSERT_OK(fsci_profile_get(i, &e));
        if (strncmp(e.name, "proton.", 7) == 0 && e.calls == 5) found++;
    }
    ASSERT_EQ(found, 4); /* scatter, energy, stream, step */
    sim_close(&m);
}

/* ---- bad inputs ------------------------------------------------------------- */

TEST(bad_inputs)
{
    fsci_proton_opts o;
    fsci_proton_plan *p = NULL;
    fsci_proton_opts_default(&o);
    o.nx = 0;
    ASSERT_TRUE(expect_fail(fsci_proton_plan_create(&o, NULL, &p), FSCI_EINVAL, "--nx 0"));
    fsci_proton_opts_default(&o);
    o.dx_mm = NAN;
    ASSERT_TRUE(expect_fail(fsci_proton_plan_create(&o, NULL, &p), FSCI_EINVAL, "--dx nan"));
    fsci_proton_opts_default(&o);
    o.dz_mm = -1;
    ASSERT_TRUE(expect_fail(fsci_proton_plan_create(&o, NULL, &p), FSCI_EINVAL, "--dz -1"));
    fsci_proton_opts_default(&o);
    o.e_max_mev = 600;
    ASSERT_TRUE(expect_fail(fsci_proton_plan_create(&o, NULL, &p), FSCI_ERANGE, "e_max_mev 600"));
    fsci_proton_opts_default(&o);
    o.ntheta = -3;
    ASSERT_TRUE(expect_fail(fsci_proton_plan_create(&o, NULL, &p), FSCI_EINVAL, "--ntheta -3"));
    fsci_proton_opts_default(&o);
    o.mcs = FSCI_PROTON_MCS_GENERALISED;
    o.egrid = FSCI_PROTON_EGRID_LOG;
    ASSERT_TRUE(expect_fail(fsci_proton_plan_create(&o, NULL, &p), FSCI_ENOTSUP, "generalised"));
    ASSERT_TRUE(p == NULL);

    fsci_proton_opts_default(&o);
    o.nx = 40;
    o.nz = 40;
    double rsp[1600], rsc[1600], rho[1600];
    for (int i = 0; i < 1600; i++) rsp[i] = rsc[i] = rho[i] = 1;
    fsci_proton_materials mat = {10, 40, rsp, rsc, rho};
    ASSERT_TRUE(expect_fail(fsci_proton_plan_create(&o, &mat, &p), FSCI_EINVAL,
                            "materials: shape (10, 40) does not match the grid (nz, nx) = (40, 40)"));
    mat.nz = 40;
    rsp[41] = NAN;
    ASSERT_TRUE(expect_fail(fsci_proton_plan_create(&o, &mat, &p), FSCI_EINVAL, "materials.rsp[1, 1] = nan"));
    rsp[41] = 1;
    rho[5] = 0;
    ASSERT_TRUE(
        expect_fail(fsci_proton_plan_create(&o, &mat, &p), FSCI_EINVAL, "materials.density[0, 5] = 0"));
    rho[5] = 1;

    o.e_max_mev = 100;
    sim m, m2;
    ASSERT_OK(sim_open(&m, &o, NULL));
    ASSERT_OK(sim_open(&m2, &o, NULL));
    fsci_proton_beam b;
    fsci_proton_beam_default(&b);
    b.energy_mev = 120;
    ASSERT_TRUE(expect_fail(fsci_proton_state_add_beam(m.s, &b), FSCI_ERANGE, "beam.energy_mev = 120"));
    b.energy_mev = 90;
    b.x_mm = 30;
    ASSERT_TRUE(expect_fail(fsci_proton_state_add_beam(m.s, &b), FSCI_EINVAL, "beam.x_mm = 30"));
    b.x_mm = 0;
    b.angle_deg = 40;
    ASSERT_TRUE(expect_fail(fsci_proton_state_add_beam(m.s, &b), FSCI_EINVAL, "beam.angle_deg = 40"));
    b.angle_deg = 0;
    b.weight = NAN;
    ASSERT_TRUE(expect_fail(fsci_proton_state_add_beam(m.s, &b), FSCI_EINVAL, "beam.weight = nan"));
    b.weight = 1;
    ASSERT_TRUE(expect_fail(fsci_proton_step(m2.p, m.s), FSCI_EINVAL, "another plan"));
    float *bad = calloc((size_t)psi_len(&m), sizeof(float));
    bad[7] = -1;
    ASSERT_TRUE(
        expect_fail(fsci_proton_state_set_psi(m.s, bad), FSCI_EINVAL, "set_psi: psi[0, 0, 0, 7] = -1"));
    free(bad);
    sim_close(&m);
    sim_close(&m2);

    /* energy window overflow in a bone slab: reported, state untouched */
    o.e_window = 2;
    ASSERT_OK(fsci_proton_slab_fill(&o, FSCI_PROTON_SLAB_BONE, 5, 30, rsp, rsc, rho));
    ASSERT_OK(sim_open(&m, &o, &mat));
    b.energy_mev = 90;
    ASSERT_OK(fsci_proton_state_add_beam(m.s, &b));
    int st = fsci_proton_run(m.p, m.s, 0, NULL);
    ASSERT_TRUE(expect_fail(st, FSCI_ERANGE, "energy window holds"));
    fsci_proton_balance w;
    fsci_proton_state_balance(m.s, &w, NULL);
    ASSERT_TRUE(fabs(w.residual) < 1e-6);
    sim_close(&m);
}

TEST(allocation_failures_are_reported)
{
    fsci_proton_opts o;
    small_opts(&o, false);
    o.mcs = FSCI_PROTON_MCS_GENERALISED;
    o.stream = FSCI_PROTON_STREAM_MUSCL;
    double rsp[120], rsc[120], rho[120];
    fsci_proton_materials mat = {12, 10, rsp, rsc, rho};
    ASSERT_OK(fsci_proton_slab_fill(&o, FSCI_PROTON_SLAB_LUNG, 3, 6, rsp, rsc, rho));
    int failures = 0;
    for (int64_t n = 0; n < 400; n++) {
        fsci_alloc_fail_after(n);
        fsci_proton_plan *p = NULL;
        fsci_proton_state *s = NULL;
        int st = fsci_proton_plan_create(&o, &mat, &p);
        if (st == 0) st = fsci_proton_state_create(p, &s);
        fsci_alloc_fail_after(-1);
        if (st != 0) {
            ASSERT_EQ(st, FSCI_ENOMEM);
            ASSERT_TRUE(s == NULL);
            failures++;
        } else {
            fsci_proton_beam b;
            fsci_proton_beam_default(&b);
            b.energy_mev = 50;
            ASSERT_OK(fsci_proton_state_add_beam(s, &b));
            ASSERT_OK(fsci_proton_run(p, s, 3, NULL));
        }
        fsci_proton_state_destroy(&s);
        fsci_proton_plan_destroy(&p);
        if (st == 0) break;
    }
    printf("  %d injected allocation failures, each reported as FSCI_ENOMEM\n", failures);
    ASSERT_TRUE(failures > 30);
}

TESTKIT_MAIN()
