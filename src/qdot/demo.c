/* qdot: the demo section (stability diagrams with the analytic triple points,
 * the forward-model rate). */
#include <math.h>
#include <omp.h>
#include <string.h>
#include <time.h>

#include "fastsci/core/plot.h"
#include "qdot/agent.h"
#include "qdot/agent_cmd.h"
#include "qdot/qdot_impl.h"
#include "qdot/sim.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int diagram(fsci_report *r, const fsci_qdot_device *d, fsci_qdot_signal sig, bool noise, int64_t n,
                   const char *file, bool marks, double *secs)
{
    fsci_qdot_scan s = {.gx = 0, .gy = 1, .x0 = -5, .x1 = 60, .y0 = -5, .y1 = 60, .nx = n, .ny = n};
    s.signal = sig;
    s.noise = noise;
    s.seed = 1;
    double *out = fsci_malloc((size_t)(n * n), sizeof *out);
    FSCI_CHECK(out != NULL, FSCI_ENOMEM, "qdot demo: out of memory");
    double t0 = now();
    int st = fsci_qdot_scan_run(d, &s, out, NULL);
    *secs = now() - t0;
    char path[4096];
    fsci_report_path(r, file, path, sizeof path);
    if (!st) st = fsci__qdot_write_png(path, d, &s, out, marks);
    fsci_free(out);
    return st;
}

/* A 61 x 61 belief map (row = gate 2 from 0 mV) as a PNG with gate 2 upwards. */
static int belief_png(fsci_report *r, const char *file, const double *map)
{
    double flip[61 * 61];
    for (int j = 0; j < 61; j++) memcpy(flip + (60 - j) * 61, map + j * 61, 61 * sizeof *flip);
    fsci_view v;
    const int64_t shape[2] = {61, 61};
    FSCI__QDOT_RET(fsci_view_init(&v, flip, FSCI_F64, 2, shape, NULL));
    fsci_heatmap_opts h = {.cmap = FSCI_CMAP_MAGMA, .fixed_range = 1, .vmin = 0, .vmax = 1, .upscale = 4};
    char path[4096];
    fsci_report_path(r, file, path, sizeof path);
    return fsci_png_write_heatmap(path, &v, &h);
}

/* One physical trial (trajectory and belief) and the benchmark table of both agents. */
static int agent_section(fsci_report *r, bool quick)
{
    fsci__qdot_phys_opts o;
    fsci__qdot_phys_defaults(&o);
    o.seed = 42;
    o.trial = 3;
    if (quick) o.particles = 500;
    double *maps = fsci_malloc(2 * 61 * 61, sizeof *maps);
    FSCI_CHECK(maps != NULL, FSCI_ENOMEM, "qdot demo: out of memory");
    o.belief_maps = maps;
    fsci__qdot_phys_result one;
    int st = fsci__qdot_phys_trial(&o, &one);
    char path[4096];
    fsci_report_path(r, "qdot_trajectory.png", path, sizeof path);
    if (!st) st = fsci__qdot_trajectory_png(path, &o, &one);
    if (!st) st = belief_png(r, "qdot_belief_survey.png", maps);
    if (!st) st = belief_png(r, "qdot_belief_final.png", maps + 61 * 61);
    fsci_free(maps);
    if (st) return st;
    const int n = quick ? 4 : 40;
    fsci__qdot_phys_result *pr = fsci_calloc((size_t)n, sizeof *pr);
    fsci__qdot_trial_result *cr = fsci_calloc(10, sizeof *cr);
    FSCI_CHECK_GOTO(pr && cr, FSCI_ENOMEM, "qdot demo: out of memory");
    o.belief_maps = NULL;
    o.trial = 0;
    FSCI_TRY(fsci__qdot_phys_bench(&o, n, 0, pr));
    fsci__qdot_trial_opts c;
    fsci__qdot_trial_defaults(&c);
    c.budget = 512;
    c.max_steps = 50;
    FSCI_TRY(fsci__qdot_bench_run(&c, 10, 0, cr));
    double ps = 0, pm = 0, pt = 0, cs = 0, cm = 0, ct = 0;
    for (int k = 0; k < n; k++) {
        ps += pr[k].success;
        pm += (double)pr[k].total_measurements / n;
        pt += pr[k].seconds / n;
    }
    for (int k = 0; k < 10; k++) {
        cs += cr[k].success;
        cm += (double)cr[k].total_measurements / 10;
        ct += cr[k].seconds / 10;
    }
    fsci_report_html(
        r,
        "<p>One trial of our agent on the physical simulator (trial 3): the survey, the verification "
        "scan (white frame) and the final voltage (white cross: the true state there is (1,1)); %s "
        "after %lld measurements. Below, the belief that a voltage holds (1,1) after the survey and "
        "at the end (0..60 mV on both gates, gate 2 upwards).</p>\n",
        one.success ? "success" : "no success", (long long)one.total_measurements);
    fsci_report_figure(r, "qdot_trajectory.png", "Trial 3 over its true device's sensor map.");
    fsci_report_figure(r, "qdot_belief_survey.png", "P((1,1) | data) after the 16 x 16 survey.");
    fsci_report_figure(r, "qdot_belief_final.png", "P((1,1) | data) after verification.");
    fsci_report_html(
        r,
        "<table><tr><th>agent</th><th>trials</th><th>success</th><th>mean measurements</th>"
        "<th>ms per trial</th></tr>\n<tr><td>ours, physical simulator (4000 particles)</td><td>%d</td>"
        "<td>%.0f %%</td><td>%.0f</td><td>%.1f</td></tr>\n<tr><td>the reference's, compat mode "
        "(fast protocol)</td><td>10</td><td>%.0f %%</td><td>%.0f</td><td>%.2f</td></tr></table>\n"
        "<p>The reference's agent stalls in its survey: on its own toy model the benchmark devices show "
        "no transition and every scan fails the data-quality gate (doc/qdot_agent.md).</p>\n",
        n, 100 * ps / n, pm, 1e3 * pt, 10 * cs, cm, 1e3 * ct);
fail:
    fsci_free(pr);
    fsci_free(cr);
    return st;
}

int fsci__qdot_demo(fsci_report *r, const fsci_ctx *ctx, bool quick)
{
    (void)ctx;
    const int64_t n = quick ? 96 : 400;
    fsci_qdot_params p;
    fsci_qdot_params_dqd(&p);
    p.noise.white = 0.01;
    p.noise.pink = 0.01;
    p.noise.telegraph = 0.02;
    p.noise.telegraph_rate = 0.002;
    fsci_qdot_device *d = NULL;
    FSCI__QDOT_RET(fsci_qdot_device_create(&p, &d));
    double t_sensor = 0, t_current = 0;
    int st = diagram(r, d, FSCI_QDOT_SENSOR, true, n, "qdot_sensor.png", true, &t_sensor);
    double alpha[4];
    fsci_qdot_device_matrices(d, alpha, NULL);
    fsci_qdot_device_destroy(&d);
    /* the current at a warmer kT = 0.08 meV, so that its peaks span pixels */
    p.kT = 0.08;
    if (!st) st = fsci_qdot_device_create(&p, &d);
    if (!st) st = diagram(r, d, FSCI_QDOT_CURRENT, false, n, "qdot_current.png", false, &t_current);
    fsci_qdot_device_destroy(&d);
    if (st) return st;
    fsci_report_section(r, "qdot", "qdot: double-quantum-dot simulator", NULL);
    fsci_report_html(
        r,
        "<p>Constant-interaction model of a double dot (totals 100 aF, mutual 20 aF, plungers 10 aF, "
        "cross 1 aF, kT = 0.01 meV; lever arms %.4f %.4f / %.4f %.4f). Every dot marks an analytic "
        "triple point (white: electron, black: hole) computed from the capacitance matrices; the "
        "honeycomb's vertices fall on them. %lld &times; %lld pixels, 16 charge states each: "
        "sensor %.1f ms (%.3g pixels/s with thermal occupation and noise), current %.1f ms.</p>\n",
        alpha[0], alpha[1], alpha[2], alpha[3], (long long)n, (long long)n, 1e3 * t_sensor,
        (double)(n * n) / t_sensor, 1e3 * t_current);
    fsci_report_figure(r, "qdot_sensor.png",
                       "Charge-sensor signal over plunger gates 1 (x, mV) and 2 (y, mV) with white, 1/f and "
                       "telegraph noise; the steps are charge transitions.");
    fsci_report_figure(
        r, "qdot_current.png",
        "Transport current through the two dots in series (kT = 0.08 meV): it flows only at the triple "
        "points, pairs of electron and hole points split by the mutual capacitance.");
    return agent_section(r, quick);
}
