/* qdot: the demo section (stability diagrams with the analytic triple points,
 * the forward-model rate). */
#include <math.h>
#include <omp.h>
#include <time.h>

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
    return FSCI_OK;
}
