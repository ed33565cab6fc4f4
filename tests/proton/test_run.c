/* proton run level: the beam-loss check (doc/proton.md, "Beam losses"), undefined
 * range figures kept as NaN in fsci_proton_result, and messages that name the
 * user's parameters. Small grids; fast. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fastsci/core/progress.h"
#include "fastsci/proton.h"
#include "testkit.h"

static int setup_with(fsci_proton_run_opts *r, const char *name, const char *value)
{
    return fsci_params_set(fsci_proton_params, FSCI_PROTON_NPARAMS, r, name, value);
}

static int defaults(fsci_proton_run_opts *r)
{
    memset(r, 0, sizeof *r);
    int st = fsci_params_defaults(fsci_proton_params, FSCI_PROTON_NPARAMS, r);
    if (st == 0) st = setup_with(r, "energy", "70");
    if (st == 0) st = setup_with(r, "nx", "20");
    return st;
}

static bool message_has(const char *s)
{
    const char *m = fsci_error_message();
    bool ok = strstr(m, s) != NULL;
    if (!ok) fprintf(stderr, "  message: %s\n  wanted: %s\n", m, s);
    return ok;
}

/* The run level sets the documented thresholds; the plan level keeps them off. */
TEST(loss_thresholds_defaults)
{
    fsci_proton_run_opts r;
    fsci_proton_setup *su = NULL;
    ASSERT_OK(defaults(&r));
    ASSERT_OK(fsci_proton_setup_create(&r, 1, false, &su));
    ASSERT_TRUE(su->opts.loss_warn == FSCI_PROTON_LOSS_WARN && FSCI_PROTON_LOSS_WARN == 0.01);
    ASSERT_TRUE(su->opts.loss_fail == FSCI_PROTON_LOSS_FAIL && FSCI_PROTON_LOSS_FAIL == 0.2);
    fsci_proton_setup_destroy(&su);
    fsci_proton_opts o;
    fsci_proton_opts_default(&o);
    ASSERT_TRUE(o.loss_warn == 0 && o.loss_fail == 0);
    o.loss_fail = 1.5;
    fsci_proton_plan *p = NULL;
    ASSERT_STATUS(fsci_proton_plan_create(&o, NULL, &p), FSCI_EINVAL);
    ASSERT_TRUE(message_has("loss_fail 1.5"));
}

/* A grid one row deep leaks 99.9 % of the beam: the run level fails naming --nz;
 * with the check off the same run succeeds and R80 stays NaN (undefined). */
TEST(shallow_grid_fails_or_keeps_nan)
{
    fsci_proton_run_opts r;
    fsci_proton_setup *su = NULL;
    fsci_proton_result res;
    ASSERT_OK(defaults(&r));
    ASSERT_OK(setup_with(&r, "nz", "1"));
    ASSERT_OK(fsci_proton_setup_create(&r, 1, false, &su));
    ASSERT_STATUS(fsci_proton_simulate(su, &res), FSCI_ERANGE);
    ASSERT_TRUE(message_has("left the grid (enlarge it: --nx 20 x --dx 1 mm wide, --nz 1 x --dz 1 mm deep"));
    ASSERT_TRUE(message_has("above the --max-loss limit of 20 %"));
    ASSERT_TRUE(strstr(fsci_error_message(), "opts.") == NULL);
    su->opts.loss_fail = 0;
    su->opts.loss_warn = 0;
    ASSERT_OK(fsci_proton_simulate(su, &res));
    ASSERT_TRUE(isnan(res.metrics.r80_mm) && isnan(res.metrics.r90_mm) && isnan(res.metrics.falloff_mm));
    ASSERT_TRUE(res.weight.leaked > 0.99);
    fsci_proton_result_free(&res);
    fsci_proton_setup_destroy(&su);
}

/* A cone of +-0.001 degrees rejects 99 % of the weight: fails naming --theta-max. */
TEST(narrow_cone_fails)
{
    fsci_proton_run_opts r;
    fsci_proton_setup *su = NULL;
    fsci_proton_result res;
    ASSERT_OK(defaults(&r));
    ASSERT_OK(setup_with(&r, "theta-max", "0.001"));
    ASSERT_OK(setup_with(&r, "ntheta", "11"));
    ASSERT_OK(fsci_proton_setup_create(&r, 1, false, &su));
    ASSERT_STATUS(fsci_proton_simulate(su, &res), FSCI_ERANGE);
    ASSERT_TRUE(message_has("scattered out of the angular cone (widen --theta-max, now 0.001 degrees)"));
    fsci_proton_setup_destroy(&su);
}

/* Between the thresholds: a warning and a successful run (the thresholds are
 * the check's, so a run losing a few per cent laterally still gives results). */
TEST(moderate_loss_warns_and_runs)
{
    fsci_proton_run_opts r;
    fsci_proton_setup *su = NULL;
    fsci_proton_result res;
    ASSERT_OK(defaults(&r));
    ASSERT_OK(setup_with(&r, "nx", "10"));
    ASSERT_OK(setup_with(&r, "spot-sigma", "4"));
    ASSERT_OK(fsci_proton_setup_create(&r, 1, false, &su));
    fsci_progress_set_mode(FSCI_PROGRESS_QUIET);
    ASSERT_OK(fsci_proton_simulate(su, &res));
    const double lost = res.weight.leaked + res.weight.rejected;
    ASSERT_TRUE(lost > 0.01 && lost < 0.2);
    ASSERT_TRUE(isfinite(res.metrics.r80_mm));
    fsci_proton_result_free(&res);
    fsci_proton_setup_destroy(&su);
}

/* --dz too small for the automatic depth: the message names --dz and its value. */
TEST(messages_name_parameters)
{
    fsci_proton_run_opts r;
    fsci_proton_setup *su = NULL;
    ASSERT_OK(defaults(&r));
    ASSERT_OK(setup_with(&r, "dz", "1e-9"));
    ASSERT_STATUS(fsci_proton_setup_create(&r, 1, false, &su), FSCI_EINVAL);
    ASSERT_TRUE(message_has("--dz 1e-09: covering"));
    ASSERT_TRUE(message_has("raise --dz or set --nz"));
    fsci_proton_opts o;
    fsci_proton_opts_default(&o);
    o.nz = 0;
    fsci_proton_plan *p = NULL;
    ASSERT_STATUS(fsci_proton_plan_create(&o, NULL, &p), FSCI_EINVAL);
    ASSERT_TRUE(message_has("--nz 0: must be in [1, 1000000]"));
}

/* The lung slab: the energy window and the depth are sized automatically. */
TEST(lung_slab_runs)
{
    fsci_proton_run_opts r;
    fsci_proton_setup *su = NULL;
    fsci_proton_result res;
    ASSERT_OK(defaults(&r));
    ASSERT_OK(setup_with(&r, "phantom", "slab:lung:0:30"));
    ASSERT_OK(fsci_proton_setup_create(&r, 1, false, &su));
    ASSERT_OK(fsci_proton_simulate(su, &res));
    /* R80 of 70 MeV in water is 40.8 mm (PSTAR CSDA range, doc/proton_physics.md);
     * 30 mm of lung at rsp 0.3 add 0.7 x 30 = 21 mm */
    ASSERT_NEAR_REL(res.metrics.r80_mm, 40.8 + 21.0, 0, 1.5);
    ASSERT_TRUE(res.weight.leaked + res.weight.rejected < 0.01);
    fsci_proton_result_free(&res);
    fsci_proton_setup_destroy(&su);
}

/* Beam options checked in setup against the grid and the table, naming the
 * user's options (exit 2 on the command line), never beam.* or e_max_mev. */
TEST(setup_names_beam_options)
{
    fsci_proton_run_opts r;
    fsci_proton_setup *su = NULL;
    ASSERT_OK(defaults(&r));
    ASSERT_OK(setup_with(&r, "angle", "90"));
    ASSERT_STATUS(fsci_proton_setup_create(&r, 1, false, &su), FSCI_EINVAL);
    ASSERT_TRUE(message_has("--angle 90: outside the angular cone +-30.25 degrees of --theta-max"));
    ASSERT_OK(defaults(&r));
    ASSERT_OK(setup_with(&r, "x0", "1e6"));
    ASSERT_STATUS(fsci_proton_setup_create(&r, 1, false, &su), FSCI_EINVAL);
    ASSERT_TRUE(message_has("--x0 1e+06: outside the grid [-10, 10] mm (--nx 20 x --dx 1 mm"));
    ASSERT_OK(defaults(&r));
    ASSERT_OK(setup_with(&r, "energy", "490"));
    ASSERT_OK(setup_with(&r, "energy-spread", "10"));
    ASSERT_STATUS(fsci_proton_setup_create(&r, 1, false, &su), FSCI_ERANGE);
    ASSERT_TRUE(message_has("--energy 490 with --energy-spread 10: the spectrum reaches 530 MeV"));
    ASSERT_TRUE(strstr(fsci_error_message(), "beam.") == NULL &&
                strstr(fsci_error_message(), "e_max") == NULL);
    /* at the edge of the cone and the grid: accepted */
    ASSERT_OK(defaults(&r));
    ASSERT_OK(setup_with(&r, "angle", "-30.25"));
    ASSERT_OK(setup_with(&r, "x0", "10"));
    ASSERT_OK(fsci_proton_setup_create(&r, 1, false, &su));
    fsci_proton_setup_destroy(&su);
}

/* A derived step is blamed on --dx (or --dz), a given one on --step. */
TEST(step_names_its_source)
{
    fsci_proton_run_opts r;
    fsci_proton_setup *su = NULL;
    ASSERT_OK(defaults(&r));
    ASSERT_OK(setup_with(&r, "dx", "1e-9"));
    ASSERT_STATUS(fsci_proton_setup_create(&r, 1, false, &su), FSCI_EINVAL);
    ASSERT_TRUE(
        message_has("--dx 1e-09 (the step is min(--dx, --dz) unless --step is given): the range energy "
                    "grid from 1 to 70 MeV needs"));
    ASSERT_TRUE(message_has("raise --dx or set --step"));
    ASSERT_OK(defaults(&r));
    ASSERT_OK(setup_with(&r, "step", "1e-9"));
    ASSERT_OK(setup_with(&r, "nz", "10"));
    ASSERT_STATUS(fsci_proton_setup_create(&r, 1, false, &su), FSCI_EINVAL);
    ASSERT_TRUE(message_has("--step 1e-09: the range energy grid from 1 to 70 MeV needs"));
    /* the table's --ne range is the plan's */
    ASSERT_OK(defaults(&r));
    ASSERT_STATUS(setup_with(&r, "ne", "100001"), FSCI_ERANGE);
    ASSERT_OK(setup_with(&r, "ne", "100000"));
}

/* 500 MeV, the top of the PSTAR table: the grid is anchored at its top, the
 * beam sits on the top bin and its R80 lies within 1 % of the CSDA range. */
TEST(energy_500_runs)
{
    fsci_proton_run_opts r;
    fsci_proton_setup *su = NULL;
    fsci_proton_result res;
    ASSERT_OK(defaults(&r));
    ASSERT_OK(setup_with(&r, "energy", "500"));
    ASSERT_OK(setup_with(&r, "nx", "50"));
    ASSERT_OK(setup_with(&r, "dx", "4"));
    ASSERT_OK(setup_with(&r, "dz", "4"));
    ASSERT_OK(setup_with(&r, "ntheta", "41"));
    /* CSDA: with straggling (sigma_R 12 mm) and 75 % nuclear loss the 500 MeV
     * peak falls below the entrance dose and R80 is not the range */
    ASSERT_OK(setup_with(&r, "straggling", "false"));
    ASSERT_OK(fsci_proton_setup_create(&r, 1, false, &su));
    ASSERT_TRUE(su->opts.e_max_mev == 500);
    fsci_proton_plan *p = NULL;
    ASSERT_OK(fsci_proton_plan_create(&su->opts, NULL, &p));
    fsci_proton_plan_info info;
    fsci_proton_plan_get_info(p, &info);
    ASSERT_TRUE(info.e_top_mev == 500);
    ASSERT_TRUE(info.e_cut_mev >= 1 && info.e_cut_mev < 15); /* raised by less than one 4 mm step */
    fsci_proton_plan_destroy(&p);
    fsci_progress_set_mode(FSCI_PROGRESS_QUIET);
    ASSERT_OK(fsci_proton_simulate(su, &res));
    double csda = 0;
    fsci_proton_physics *ph = NULL;
    ASSERT_OK(fsci_proton_physics_create(NULL, &ph));
    ASSERT_OK(fsci_proton_physics_range_mm(ph, 500, &csda));
    fsci_proton_physics_destroy(&ph);
    ASSERT_NEAR_REL(res.metrics.r80_mm, csda, 0.01, 0);
    ASSERT_TRUE(fabs(res.energy.residual) < 1e-5);
    fsci_proton_result_free(&res);
    fsci_proton_setup_destroy(&su);
}

/* Peak resident memory of this process (kB), after resetting it; -1 if unknown. */
static long vm_hwm_kb(bool reset)
{
    if (reset) {
        FILE *f = fopen("/proc/self/clear_refs", "w");
        if (!f) return -1;
        bool ok = fputs("5", f) >= 0;
        if (fclose(f) != 0 || !ok) return -1;
        return 0;
    }
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
    fclose(f);
    return kb;
}

/* The plan's memory estimate (checked against the available memory before
 * anything is allocated) is within a factor 2 of the real peak of a run; a
 * grid far beyond the machine is refused naming the grid options. */
TEST(memory_estimate_is_honest)
{
    fsci_proton_run_opts r;
    fsci_proton_setup *su = NULL;
    ASSERT_OK(defaults(&r));
    ASSERT_OK(setup_with(&r, "energy", "100"));
    ASSERT_OK(setup_with(&r, "nx", "40"));
    ASSERT_OK(fsci_proton_setup_create(&r, 1, false, &su));
    long before = vm_hwm_kb(true);
    fsci_proton_plan *p = NULL;
    fsci_proton_state *s = NULL;
    ASSERT_OK(fsci_proton_plan_create(&su->opts, NULL, &p));
    ASSERT_OK(fsci_proton_state_create(p, &s));
    ASSERT_OK(fsci_proton_state_add_beam(s, &su->beams[0]));
    fsci_progress_set_mode(FSCI_PROGRESS_QUIET);
    ASSERT_OK(fsci_proton_run(p, s, 0, NULL));
    fsci_proton_plan_info info;
    fsci_proton_plan_get_info(p, &info);
    const double peak = (double)vm_hwm_kb(false) * 1024;
    fsci_proton_state_destroy(&s);
    fsci_proton_plan_destroy(&p);
    fprintf(stderr, "  estimate %.1f MB, VmHWM %.1f MB\n", info.mem_bytes / 1e6, peak / 1e6);
    ASSERT_TRUE(info.mem_bytes > 50e6); /* the phase space dominates the process */
#if !defined(__SANITIZE_ADDRESS__)      /* AddressSanitizer's shadow memory and redzones inflate the peak */
    if (before == 0 && peak > 0) ASSERT_TRUE(info.mem_bytes < 2 * peak && peak < 2 * info.mem_bytes);
#else
    (void)before;
#endif
    fsci_proton_setup_destroy(&su);

    ASSERT_OK(defaults(&r));
    ASSERT_OK(setup_with(&r, "nx", "1000000"));
    ASSERT_OK(setup_with(&r, "nz", "1000000"));
    ASSERT_OK(fsci_proton_setup_create(&r, 1, false, &su));
    fsci_proton_result res;
    ASSERT_STATUS(fsci_proton_simulate(su, &res), FSCI_ENOMEM);
    ASSERT_TRUE(message_has("the phase space of --nx 1000000 x --nz 1000000 cells x --ntheta 121 angles x 40 "
                            "energy bins held needs about"));
    ASSERT_TRUE(message_has("of memory but the machine has"));
    fsci_proton_setup_destroy(&su);
}

/* --energy-spread-pct: sigma = pct % of each beam's energy, the grid top at
 * energy + 4 sigma; one of the two spread options only. */
TEST(energy_spread_in_percent)
{
    fsci_proton_run_opts r;
    fsci_proton_setup *su = NULL, *sm = NULL;
    ASSERT_OK(defaults(&r));
    ASSERT_OK(setup_with(&r, "energy", "100,150"));
    ASSERT_OK(setup_with(&r, "energy-spread-pct", "1"));
    ASSERT_OK(fsci_proton_setup_create(&r, 1, false, &su));
    ASSERT_EQ(su->nbeams, 2);
    ASSERT_NEAR_REL(su->beams[0].energy_sigma_mev, 1.0, 1e-12, 0);
    ASSERT_NEAR_REL(su->beams[1].energy_sigma_mev, 1.5, 1e-12, 0);
    ASSERT_NEAR_REL(su->opts.e_max_mev, 156, 1e-12, 0);
    /* the same beam given in MeV: the same setup */
    ASSERT_OK(defaults(&r));
    ASSERT_OK(setup_with(&r, "energy", "150"));
    ASSERT_OK(setup_with(&r, "energy-spread", "1.5"));
    ASSERT_OK(fsci_proton_setup_create(&r, 1, false, &sm));
    ASSERT_TRUE(sm->opts.e_max_mev == su->opts.e_max_mev);
    ASSERT_TRUE(sm->beams[0].energy_sigma_mev == su->beams[1].energy_sigma_mev);
    fsci_proton_setup_destroy(&su);
    fsci_proton_setup_destroy(&sm);
    ASSERT_OK(setup_with(&r, "energy-spread-pct", "1"));
    ASSERT_STATUS(fsci_proton_setup_create(&r, 1, false, &su), FSCI_EINVAL);
    ASSERT_TRUE(message_has("--energy-spread 1.5 and --energy-spread-pct 1: give the spread one way only"));
    ASSERT_OK(defaults(&r));
    ASSERT_OK(setup_with(&r, "energy", "490"));
    ASSERT_OK(setup_with(&r, "energy-spread-pct", "1"));
    ASSERT_STATUS(fsci_proton_setup_create(&r, 1, false, &su), FSCI_ERANGE);
    ASSERT_TRUE(message_has("--energy 490 with --energy-spread-pct 1: the spectrum reaches 509.6 MeV"));
    ASSERT_TRUE(setup_with(&r, "energy-spread-pct", "11") < 0); /* the table's range: 0..10 */
}

/* --nuclear-local: the local fraction of a removed proton's energy; the rest
 * is the escaping `nuclear` energy of the balance, which stays closed. */
TEST(nuclear_local_fraction)
{
    fsci_proton_run_opts r;
    double esc[2] = {0, 0}, dep[2] = {0, 0};
    const char *frac[2] = {"0.6", "0"};
    fsci_progress_set_mode(FSCI_PROGRESS_QUIET);
    for (int i = 0; i < 2; i++) {
        fsci_proton_setup *su = NULL;
        fsci_proton_result res;
        ASSERT_OK(defaults(&r));
        ASSERT_OK(setup_with(&r, "ntheta", "21"));
        ASSERT_OK(setup_with(&r, "theta-max", "10.5"));
        ASSERT_OK(setup_with(&r, "nuclear-local", frac[i]));
        ASSERT_OK(fsci_proton_setup_create(&r, 1, false, &su));
        ASSERT_TRUE(su->opts.straggling && su->opts.nuclear);
        ASSERT_OK(fsci_proton_simulate(su, &res));
        esc[i] = res.energy.nuclear;
        dep[i] = res.energy.deposited;
        ASSERT_TRUE(fabs(res.energy.residual) <= 1e-6 && fabs(res.weight.residual) <= 1e-6);
        fsci_proton_result_free(&res);
        fsci_proton_setup_destroy(&su);
    }
    printf(
        "  70 MeV: escaping nuclear energy %.4f MeV (local 0.6) %.4f MeV (local 0); deposited %.3f, %.3f\n",
        esc[0], esc[1], dep[0], dep[1]);
    ASSERT_NEAR_REL(esc[1], esc[0] / 0.4, 1e-9, 0); /* the same removal, all of it escaping */
    ASSERT_NEAR_REL(dep[0] - dep[1], esc[1] - esc[0], 1e-6, 0);
    ASSERT_OK(defaults(&r));
    ASSERT_TRUE(setup_with(&r, "nuclear-local", "1.5") < 0);
}

TESTKIT_MAIN()
