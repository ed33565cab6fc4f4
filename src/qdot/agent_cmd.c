/* qdot: the agent's commands, `fastsci qdot bench` (many trials: summary.json and
 * trials.csv, optionally the ablation grid) and `fastsci qdot tune` (one trial with its
 * governance log). Compat mode (the reference's agent on its toy model) is what exists;
 * the agent on the physical simulator is refused with a message saying so. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/json.h"
#include "fastsci/core/mpi.h"
#include "fastsci/core/parallel.h"
#include "fastsci/core/npy.h"
#include "fastsci/core/plot.h"
#include "qdot/agent.h"
#include "qdot/agent_cmd.h"
#include "qdot/classifier.h"
#include "qdot/phys.h"
#include "qdot/qdot_impl.h"
#include "qdot/sim.h"

#define F(field) offsetof(fsci__qdot_agent_opts, field)

const fsci_param fsci__qdot_agent_params[FSCI__QDOT_AGENT_NPARAMS] = {
    {"n-trials", FSCI_PARAM_INT, F(n_trials), "100", 1, 1000000, NULL, "bench: trials"},
    {"trial", FSCI_PARAM_INT, F(trial), "0", 0, 1000000000, NULL, "tune: the trial index (bench: the first)"},
    {"budget", FSCI_PARAM_INT, F(budget), "2048", 1, 1 << 30, NULL, "measurement budget per trial (points)"},
    {"max-steps", FSCI_PARAM_INT, F(max_steps), "100", 1, 1000000, NULL, "control steps per trial"},
    {"fast", FSCI_PARAM_BOOL, F(fast), "off", 0, -1, NULL,
     "the reference's --fast: 10 trials, budget 512, 50 steps (overrides those three)"},
    {"ablation", FSCI_PARAM_BOOL, F(ablation), "off", 0, -1, NULL,
     "bench: also run particles 500 and MC samples 4 (the reference's ablation grid) and compare"},
    {"compat", FSCI_PARAM_BOOL, F(compat), "on", 0, -1, NULL,
     "the reference's agent on its toy model (off: our agent on the physical simulator)"},
    {"particles", FSCI_PARAM_INT, F(particles), "0", 0, 1000000, NULL,
     "particle-filter size (0: 1000 in compat mode, 4000 on the physical simulator)"},
    {"mc", FSCI_PARAM_INT, F(mc), "8", 1, 1024, NULL, "Monte Carlo samples of the information gain"},
    {"nats", FSCI_PARAM_BOOL, F(nats), "off", 0, -1, NULL,
     "prior entropy in nats (off: the reference's log2 / ln mix)"},
    {"bounds", FSCI_PARAM_DOUBLES, F(bounds), "0,60", -1e4, 1e4, NULL,
     "physical agent: lo,hi voltage bounds of both gates, mV (the safety critic's box)"},
    {"slew", FSCI_PARAM_DOUBLE, F(slew), "10", 0.01, 1e4, NULL,
     "physical agent: largest L1 gate step of a move, mV (longer moves go in steps)"},
    {"auto-approve", FSCI_PARAM_BOOL, F(auto_approve), "off", 0, -1, NULL,
     "tune: approve every human-in-the-loop request (on a terminal tune asks; bench always approves)"},
    {"no-dqc-gate", FSCI_PARAM_BOOL, F(no_dqc_gate), "off", 0, -1, NULL,
     "let LOW-quality scans through (not the reference: a workload that reaches the later stages)"},
};

static fsci__qdot_trial_opts trial_opts(const fsci__qdot_agent_opts *a, uint64_t seed)
{
    fsci__qdot_trial_opts o;
    fsci__qdot_trial_defaults(&o);
    o.seed = seed;
    o.trial = a->trial;
    o.budget = a->fast ? 512 : a->budget;
    o.max_steps = a->fast ? 50 : a->max_steps;
    o.particles = a->particles > 0 ? a->particles : 1000;
    o.n_mc = (int)a->mc;
    o.nats = a->nats;
    o.no_dqc_gate = a->no_dqc_gate;
    return o;
}

int fsci__qdot_agent_check(const void *opts, const fsci_ctx *ctx)
{
    (void)ctx;
    const fsci__qdot_agent_opts *a = opts;
    FSCI_CHECK(a->compat || !a->ablation, FSCI_EINVAL,
               "--ablation: the reference's grid is for the compat agent (give --compat on)");
    FSCI_CHECK(a->compat || a->particles == 0 || a->particles >= 10, FSCI_EINVAL,
               "--particles %lld: the physical agent needs at least 10", (long long)a->particles);
    FSCI_CHECK(a->bounds.n == 2, FSCI_EINVAL, "--bounds: give lo,hi (%d values)", a->bounds.n);
    FSCI_CHECK(a->bounds.v[0] < a->bounds.v[1], FSCI_EINVAL,
               "--bounds %g,%g: reversed or empty (give lo < hi)", a->bounds.v[0], a->bounds.v[1]);
    FSCI_CHECK(a->compat || a->bounds.v[1] - a->bounds.v[0] >= 12, FSCI_EINVAL,
               "--bounds %g,%g: narrower than one verification scan (12 mV)", a->bounds.v[0], a->bounds.v[1]);
    FSCI_CHECK(a->compat || (a->fast ? 512 : a->budget) >= 256, FSCI_EINVAL,
               "--budget %lld: below the 256 points of the physical agent's survey", (long long)a->budget);
    return FSCI_OK;
}

typedef struct summary_t {
    double success, success_lo, success_hi, red_mean, red_sd, steps, backtracks, hitl, seconds;
    int64_t stages[FSCI__QDOT_NSTAGES];
    int n;
} summary_t;

/* The Wilson score 95 % interval of ok successes in n trials. */
static void wilson(double ok, int n, double *lo, double *hi)
{
    const double p = ok / n, z = 1.959964, z2 = z * z;
    const double c = (p + z2 / (2 * n)) / (1 + z2 / n),
                 h = z * sqrt(p * (1 - p) / n + z2 / (4.0 * n * n)) / (1 + z2 / n);
    *lo = fmax(0, c - h);
    *hi = fmin(1, c + h);
}

/* Success rate with its Wilson 95 % interval, reduction mean and SD, stage histogram. */
static summary_t summarise(const fsci__qdot_trial_result *r, int n)
{
    summary_t s = {0};
    s.n = n;
    double ok = 0, sum = 0, sum2 = 0;
    for (int k = 0; k < n; k++) {
        ok += r[k].success;
        sum += r[k].reduction;
        sum2 += r[k].reduction * r[k].reduction;
        s.steps += (double)r[k].steps / n;
        s.backtracks += (double)r[k].backtracks / n;
        s.hitl += (double)r[k].hitl_count / n;
        s.seconds += r[k].seconds / n;
        if (r[k].final_stage >= 0 && r[k].final_stage < FSCI__QDOT_NSTAGES) s.stages[r[k].final_stage]++;
    }
    s.success = ok / n;
    wilson(ok, n, &s.success_lo, &s.success_hi);
    s.red_mean = sum / n;
    s.red_sd = n > 1 ? sqrt(fmax(0, (sum2 - sum * sum / n) / (n - 1))) : 0;
    return s;
}

static json_t *summary_json(const summary_t *s, const fsci__qdot_trial_opts *o)
{
    json_t *j = json_object(), *h = json_object();
    if (!j || !h) {
        json_decref(j);
        json_decref(h);
        return NULL;
    }
    for (int k = 0; k < FSCI__QDOT_NSTAGES; k++)
        json_object_set_new(h, fsci__qdot_stage_name(k), json_integer(s->stages[k]));
    json_object_set_new(j, "n_trials", json_integer(s->n));
    json_object_set_new(j, "budget", json_integer(o->budget));
    json_object_set_new(j, "max_steps", json_integer(o->max_steps));
    json_object_set_new(j, "particles", json_integer(o->particles));
    json_object_set_new(j, "mc_samples", json_integer(o->n_mc));
    json_object_set_new(j, "success_rate", fsci_json_number(s->success));
    json_object_set_new(j, "success_ci95", json_pack("[f, f]", s->success_lo, s->success_hi));
    json_object_set_new(j, "reduction_mean", fsci_json_number(s->red_mean));
    json_object_set_new(j, "reduction_sd", fsci_json_number(s->red_sd));
    json_object_set_new(j, "mean_steps", fsci_json_number(s->steps));
    json_object_set_new(j, "mean_backtracks", fsci_json_number(s->backtracks));
    json_object_set_new(j, "mean_hitl", fsci_json_number(s->hitl));
    json_object_set_new(j, "seconds_per_trial", fsci_json_number(s->seconds));
    json_object_set_new(j, "final_stages", h);
    return j;
}

static void print_summary(const fsci_ctx *ctx, const char *what, const summary_t *s)
{
    fsci_ctx_printf(
        ctx,
        "%s: success %.1f %% (95 %% CI %.1f-%.1f) over %d trials, reduction %.3f +- %.3f, steps %.1f, "
        "backtracks %.2f, HITL %.2f, %.3g ms per trial\n",
        what, 100 * s->success, 100 * s->success_lo, 100 * s->success_hi, s->n, s->red_mean, s->red_sd,
        s->steps, s->backtracks, s->hitl, 1e3 * s->seconds);
    fsci_ctx_printf(ctx, "  final stages:");
    for (int k = 0; k < FSCI__QDOT_NSTAGES; k++)
        if (s->stages[k]) fsci_ctx_printf(ctx, " %s %lld", fsci__qdot_stage_name(k), (long long)s->stages[k]);
    fsci_ctx_printf(ctx, "\n");
}

/* Trials over MPI ranks: rank r runs its contiguous block of the n trials (each on the
 * rank's threads), then every rank receives all results. A trial's result depends only on
 * (seed, trial), so the set equals a one-rank run. A failure on one rank aborts them all. */
typedef int (*trial_block_fn)(const void *opts, int64_t first, int count, int threads, void *out);

static int over_ranks(const void *opts, int64_t first, int n, int threads, size_t elem, void *res,
                      trial_block_fn run)
{
    const int size = fsci_mpi_size(), rank = fsci_mpi_rank();
    if (size == 1) return run(opts, first, n, threads, res);
    int64_t cnt[2 * 64];
    FSCI_CHECK(size <= 64, FSCI_ENOTSUP, "qdot bench: %d MPI ranks (at most 64)", size);
    for (int r = 0; r < size; r++) {
        int64_t b, e;
        fsci_parallel_range(n, size, r, &b, &e);
        cnt[r] = (e - b) * (int64_t)elem;
        cnt[size + r] = b * (int64_t)elem;
    }
    const int64_t mine = cnt[rank] / (int64_t)elem, off = cnt[size + rank] / (int64_t)elem;
    int st =
        mine > 0 ? run(opts, first + off, (int)mine, threads, (char *)res + off * (int64_t)elem) : FSCI_OK;
    if (st) fsci_mpi_abort(1);
    return fsci_mpi_allgather_bytes(res, cnt, cnt + size);
}

static int compat_block(const void *opts, int64_t first, int count, int threads, void *out)
{
    fsci__qdot_trial_opts o = *(const fsci__qdot_trial_opts *)opts;
    o.trial = first;
    return fsci__qdot_bench_run(&o, count, threads, out);
}

static int phys_block(const void *opts, int64_t first, int count, int threads, void *out)
{
    fsci__qdot_phys_opts o = *(const fsci__qdot_phys_opts *)opts;
    o.trial = first;
    return fsci__qdot_phys_bench(&o, count, threads, out);
}

/* trials.csv: one row per trial. */
static char *trials_csv(const fsci__qdot_trial_result *r, int n, int64_t first)
{
    size_t cap = 256 + (size_t)n * 160;
    char *t = fsci_malloc(cap, 1);
    if (!t) return NULL;
    size_t len =
        (size_t)snprintf(t, cap,
                         "trial,success,total_measurements,reduction,final_stage,steps,backtracks,hitl,"
                         "seconds,E_c1,E_c2,t_c,T,lever_arm,noise\n");
    for (int k = 0; k < n && len < cap; k++)
        len += (size_t)snprintf(
            t + len, cap - len, "%lld,%d,%lld,%.6f,%s,%lld,%lld,%lld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n",
            (long long)(first + k), r[k].success ? 1 : 0, (long long)r[k].total_measurements, r[k].reduction,
            fsci__qdot_stage_name(r[k].final_stage), (long long)r[k].steps, (long long)r[k].backtracks,
            (long long)r[k].hitl_count, r[k].seconds, r[k].device[0], r[k].device[1], r[k].device[2],
            r[k].device[3], r[k].device[4], r[k].device[5]);
    return t;
}

static int run_config(const fsci__qdot_trial_opts *o, int n, int threads, fsci__qdot_trial_result *res,
                      summary_t *s)
{
    FSCI__QDOT_RET(over_ranks(o, o->trial, n, threads, sizeof *res, res, compat_block));
    *s = summarise(res, n);
    return FSCI_OK;
}

/* The physical agent's trials: success (COMPLETE in the true (1, 1)), measurements, stages. */
static int phys_bench(const fsci__qdot_agent_opts *a, const fsci_ctx *ctx, fsci_sink *sink)
{
    fsci__qdot_phys_opts o;
    fsci__qdot_phys_defaults(&o);
    o.seed = fsci_ctx_seed(ctx, 42);
    o.trial = a->trial;
    if (a->particles > 0) o.particles = a->particles;
    o.lo = a->bounds.v[0];
    o.hi = a->bounds.v[1];
    o.budget = a->fast ? 512 : a->budget;
    o.slew = a->slew;
    const int n = (int)(a->fast ? 10 : a->n_trials);
    int st = FSCI_OK;
    char *csv = NULL, *text = NULL;
    json_t *root = NULL;
    fsci__qdot_phys_result *res = fsci_calloc((size_t)n, sizeof *res);
    FSCI_CHECK(res != NULL, FSCI_ENOMEM, "qdot bench: out of memory for %d trials", n);
    FSCI_TRY(over_ranks(&o, o.trial, n, ctx->threads, sizeof *res, res, phys_block));
    double ok = 0, done = 0, m = 0, m2 = 0, secs = 0;
    for (int k = 0; k < n; k++) {
        ok += res[k].success;
        done += res[k].complete;
        m += (double)res[k].total_measurements;
        m2 += (double)res[k].total_measurements * (double)res[k].total_measurements;
        secs += res[k].seconds;
    }
    const double p = ok / n;
    double plo, phi;
    wilson(ok, n, &plo, &phi);
    const double mm = m / n, msd = n > 1 ? sqrt(fmax(0, (m2 - m * m / n) / (n - 1))) : 0;
    fsci_ctx_printf(
        ctx,
        "physical agent: success %.1f %% (95 %% CI %.1f-%.1f) over %d trials; %d completed in the wrong "
        "state, %d failed; measurements %.0f +- %.0f (reduction %.3f); %.3g s per trial\n",
        100 * p, 100 * plo, 100 * phi, n, (int)(done - ok), (int)(n - done), mm, msd, 1 - mm / 4096,
        secs / n);
    if (sink) {
        size_t cap = 256 + (size_t)n * 256, len = 0;
        csv = fsci_malloc(cap, 1);
        FSCI_CHECK_GOTO(csv != NULL, FSCI_ENOMEM, "qdot bench: out of memory for trials.csv");
        len = (size_t)snprintf(
            csv, cap,
            "trial,success,complete,total_measurements,v1,v2,true_n1,true_n2,p_final,ess,seconds,"
            "C1,C2,Cm,g11,g12,g21,g22\n");
        for (int k = 0; k < n && len < cap; k++) {
            const fsci__qdot_phys_result *r = &res[k];
            len += (size_t)snprintf(
                csv + len, cap - len,
                "%lld,%d,%d,%lld,%.4f,%.4f,%d,%d,%.6f,%.1f,%.4g,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f\n",
                (long long)(o.trial + k), r->success, r->complete, (long long)r->total_measurements, r->v[0],
                r->v[1], r->true_n1, r->true_n2, r->p_final, r->ess, r->seconds, r->device[0], r->device[1],
                r->device[2], r->device[3], r->device[4], r->device[5], r->device[6]);
        }
        FSCI_TRY(fsci_sink_add_text(sink, "trials.csv", csv));
        root = json_pack("{s:s, s:i, s:i, s:f, s:[f, f], s:f, s:f, s:f, s:i, s:i, s:f}", "agent", "physical",
                         "n_trials", n, "particles", (int)o.particles, "success_rate", p, "success_ci95", plo,
                         phi, "measurements_mean", mm, "measurements_sd", msd, "reduction_mean",
                         1 - mm / 4096, "completed_wrong_state", (int)(done - ok), "failed", (int)(n - done),
                         "seconds_per_trial", secs / n);
        FSCI_CHECK_GOTO(root != NULL, FSCI_ENOMEM, "qdot bench: out of memory");
        FSCI_TRY(fsci_json_dumps(root, 2, &text));
        FSCI_TRY(fsci_sink_set_summary(sink, text));
    }
fail:
    json_decref(root);
    fsci_free(text);
    fsci_free(csv);
    fsci_free(res);
    return st;
}

int fsci__qdot_bench_cmd(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink)
{
    (void)in;
    const fsci__qdot_agent_opts *a = opts;
    if (!a->compat) return phys_bench(a, ctx, sink);
    fsci__qdot_trial_opts o = trial_opts(a, fsci_ctx_seed(ctx, 42));
    const int n = (int)(a->fast ? 10 : a->n_trials);
    int st = FSCI_OK;
    char *csv = NULL, *text = NULL;
    json_t *root = NULL;
    fsci__qdot_trial_result *res = fsci_calloc((size_t)n, sizeof *res);
    FSCI_CHECK(res != NULL, FSCI_ENOMEM, "qdot bench: out of memory for %d trials", n);
    summary_t s;
    FSCI_TRY(run_config(&o, n, ctx->threads, res, &s));
    print_summary(ctx, "compat agent", &s);
    root = summary_json(&s, &o);
    FSCI_CHECK_GOTO(root != NULL, FSCI_ENOMEM, "qdot bench: out of memory");
    if (a->ablation) {
        /* the reference's grid; "equivalent" if |d success| < 0.05 and |d reduction| < 0.05 */
        json_t *ab = json_array();
        const int grid[3][2] = {{500, 8}, {1000, 4}, {500, 4}};
        for (int g = 0; g < 3 && ab; g++) {
            fsci__qdot_trial_opts v = o;
            v.particles = grid[g][0];
            v.n_mc = grid[g][1];
            summary_t sv;
            FSCI_TRY(run_config(&v, n, ctx->threads, res, &sv));
            const bool eq = fabs(sv.success - s.success) < 0.05 && fabs(sv.red_mean - s.red_mean) < 0.05;
            char what[96];
            snprintf(what, sizeof what, "particles %d, MC %d (%s)", grid[g][0], grid[g][1],
                     eq ? "equivalent" : "NOT equivalent");
            print_summary(ctx, what, &sv);
            json_t *e = summary_json(&sv, &v);
            if (e) json_object_set_new(e, "equivalent", json_boolean(eq));
            json_array_append_new(ab, e);
        }
        json_object_set_new(root, "ablation", ab);
        FSCI_TRY(run_config(&o, n, ctx->threads, res, &s)); /* trials.csv holds the baseline */
    }
    if (sink) {
        csv = trials_csv(res, n, o.trial);
        FSCI_CHECK_GOTO(csv != NULL, FSCI_ENOMEM, "qdot bench: out of memory for trials.csv");
        FSCI_TRY(fsci_sink_add_text(sink, "trials.csv", csv));
        FSCI_TRY(fsci_json_dumps(root, 2, &text)); /* a folder's summary.json */
        FSCI_TRY(fsci_sink_set_summary(sink, text));
    }
fail:
    json_decref(root);
    fsci_free(text);
    fsci_free(csv);
    fsci_free(res);
    return st;
}

/* The physical trial over its true device's sensor map (the bounds, 241 x 241 pixels, row 0 at the
 * top): the survey covers it all, each verification scan is a white frame, the final voltage a
 * white cross (black when the true state there is not (1, 1)). */
int fsci__qdot_trajectory_png(const char *path, const fsci__qdot_phys_opts *o,
                              const fsci__qdot_phys_result *r)
{
    enum { N = 241 };
    fsci_qdot_params p;
    fsci__qdot_phys_device(o, &p);
    p.noise = (fsci_qdot_noise){0};
    fsci_qdot_device *d = NULL;
    FSCI__QDOT_RET(fsci_qdot_device_create(&p, &d));
    double *sig = fsci_malloc(N * N, sizeof *sig);
    uint8_t *rgb = fsci_malloc(N * N, 3);
    int st = FSCI_OK;
    FSCI_CHECK_GOTO(sig && rgb, FSCI_ENOMEM, "qdot tune: out of memory for the picture");
    fsci_qdot_scan s = {
        .gx = 0, .gy = 1, .x0 = o->lo, .x1 = o->hi, .y0 = o->lo, .y1 = o->hi, .nx = N, .ny = N};
    FSCI_TRY(fsci_qdot_scan_run(d, &s, sig, NULL));
    fsci__qdot_render_rgb(sig, N, N, rgb);
#define PX(x) ((int)lround(((x)-o->lo) * (N - 1) / (o->hi - o->lo)))
    for (int k = 0; k + 1 < r->steps && k < 5; k++) {
        const int i0 = PX(r->windows[k][0]), i1 = PX(r->windows[k][1]);
        const int j0 = PX(r->windows[k][2]), j1 = PX(r->windows[k][3]);
        for (int i = i0; i <= i1; i++)
            for (int e = 0; e < 2; e++) memset(rgb + 3 * ((N - 1 - (e ? j1 : j0)) * N + i), 255, 3);
        for (int j = j0; j <= j1; j++)
            for (int e = 0; e < 2; e++) memset(rgb + 3 * ((N - 1 - j) * N + (e ? i1 : i0)), 255, 3);
    }
    const int ci = PX(r->v[0]), cj = PX(r->v[1]);
    const uint8_t c = r->success ? 255 : 0;
    for (int t = -4; t <= 4; t++) {
        if (ci + t >= 0 && ci + t < N) memset(rgb + 3 * ((N - 1 - cj) * N + ci + t), c, 3);
        if (cj + t >= 0 && cj + t < N) memset(rgb + 3 * ((N - 1 - (cj + t)) * N + ci), c, 3);
    }
#undef PX
    FSCI_TRY(fsci_png_write_rgb(path, rgb, N, N));
fail:
    fsci_free(sig);
    fsci_free(rgb);
    fsci_qdot_device_destroy(&d);
    return st;
}

static int phys_tune(const fsci__qdot_agent_opts *a, const fsci_ctx *ctx, fsci_sink *sink)
{
    fsci__qdot_phys_opts o;
    fsci__qdot_phys_defaults(&o);
    o.seed = fsci_ctx_seed(ctx, 42);
    o.trial = a->trial;
    if (a->particles > 0) o.particles = a->particles;
    o.lo = a->bounds.v[0];
    o.hi = a->bounds.v[1];
    o.budget = a->budget;
    o.slew = a->slew;
    const bool png = ctx->output && fsci_command_owns_output(
                                        fsci_engine_command(fsci_engine_find("qdot"), "tune"), ctx->output);
    char *logbuf = NULL;
    size_t loglen = 0;
    if (sink && !png) {
        o.log = open_memstream(&logbuf, &loglen);
        FSCI_CHECK(o.log != NULL, FSCI_ENOMEM, "qdot tune: cannot open the governance log in memory");
    }
    fsci__qdot_phys_result r;
    int st = fsci__qdot_phys_trial(&o, &r);
    if (o.log) fclose(o.log);
    if (st) {
        free(logbuf); /* open_memstream's buffer comes from malloc */
        return st;
    }
    fsci_ctx_printf(ctx,
                    "trial %lld: %s at (%.2f, %.2f) mV, true state (%d, %d), posterior of (1, 1) %.4f, %lld "
                    "measurements, %lld steps, %.3g s\n",
                    (long long)o.trial,
                    r.success ? "success" : (r.complete ? "COMPLETE in the wrong state" : "FAILED"), r.v[0],
                    r.v[1], r.true_n1, r.true_n2, r.p_final, (long long)r.total_measurements,
                    (long long)r.steps, r.seconds);
    if (png) return fsci__qdot_trajectory_png(ctx->output, &o, &r);
    if (!sink) return FSCI_OK;
    st = fsci_sink_add_text(sink, "governance.jsonl", logbuf ? logbuf : "");
    free(logbuf);
    if (st) return st;
    json_t *j = json_pack("{s:s, s:I, s:b, s:b, s:[f, f], s:[i, i], s:f, s:I, s:I, s:f, s:f}", "agent",
                          "physical", "trial", (json_int_t)o.trial, "success", r.success, "complete",
                          r.complete, "v", r.v[0], r.v[1], "true_state", r.true_n1, r.true_n2, "p_final",
                          r.p_final, "total_measurements", (json_int_t)r.total_measurements, "steps",
                          (json_int_t)r.steps, "ess", r.ess, "seconds", r.seconds);
    FSCI_CHECK(j != NULL, FSCI_ENOMEM, "qdot tune: out of memory");
    char *text = NULL;
    st = fsci_json_dumps(j, 2, &text);
    json_decref(j);
    if (!st) st = fsci_sink_set_summary(sink, text);
    fsci_free(text);
    return st;
}

/* The human in the loop on a terminal: the request on stderr, the answer from stdin (empty or y: yes). */
static bool ask_terminal(void *user, const char *what, double value)
{
    (void)user;
    fprintf(stderr, "qdot tune: human in the loop: %s (score %.2f). Approve? [Y/n] ", what, value);
    fflush(stderr);
    char line[64];
    if (!fgets(line, sizeof line, stdin)) return true;
    return !(line[0] == 'n' || line[0] == 'N');
}

int fsci__qdot_tune_cmd(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink)
{
    (void)in;
    const fsci__qdot_agent_opts *a = opts;
    if (!a->compat) return phys_tune(a, ctx, sink);
    fsci__qdot_trial_opts o = trial_opts(a, fsci_ctx_seed(ctx, 42));
    int st = FSCI_OK;
    char *logbuf = NULL, *text = NULL;
    size_t loglen = 0;
    json_t *root = NULL;
    FILE *log = sink ? open_memstream(&logbuf, &loglen) : NULL;
    FSCI_CHECK(!sink || log != NULL, FSCI_ENOMEM, "qdot tune: cannot open the governance log in memory");
    o.log = log;
    if (!a->auto_approve && !ctx->quiet && isatty(STDIN_FILENO) && isatty(STDERR_FILENO))
        o.hitl_ask = ask_terminal;
    fsci__qdot_trial_result r;
    FSCI_TRY(fsci__qdot_trial_run(&o, &r));
    summary_t s = summarise(&r, 1);
    fsci_ctx_printf(
        ctx,
        "trial %lld: %s at %s after %lld steps, %lld measurements (reduction %.3f), %lld backtracks, "
        "%lld HITL, %.3g ms\n",
        (long long)o.trial, r.success ? "success" : "no success", fsci__qdot_stage_name(r.final_stage),
        (long long)r.steps, (long long)r.total_measurements, r.reduction, (long long)r.backtracks,
        (long long)r.hitl_count, 1e3 * r.seconds);
    if (sink) {
        FSCI_CHECK_GOTO(fflush(log) == 0, FSCI_EIO, "qdot tune: writing the governance log failed");
        fclose(log);
        log = NULL;
        FSCI_TRY(fsci_sink_add_text(sink, "governance.jsonl", logbuf ? logbuf : ""));
        root = summary_json(&s, &o);
        FSCI_CHECK_GOTO(root != NULL, FSCI_ENOMEM, "qdot tune: out of memory");
        json_object_set_new(root, "trial", json_integer(o.trial));
        json_object_set_new(root, "final_stage", json_string(fsci__qdot_stage_name(r.final_stage)));
        json_object_set_new(root, "total_measurements", json_integer(r.total_measurements));
        FSCI_TRY(fsci_json_dumps(root, 2, &text));
        FSCI_TRY(fsci_sink_set_summary(sink, text));
    }
fail:
    if (log) fclose(log);
    free(logbuf); /* open_memstream's buffer comes from malloc */
    json_decref(root);
    fsci_free(text);
    return st;
}

/* ---- train-classifier ---- */

#define G(field) offsetof(fsci__qdot_cls_cmd_opts, field)

const fsci_param fsci__qdot_cls_params[FSCI__QDOT_CLS_NPARAMS] = {
    {"n", FSCI_PARAM_INT, G(n), "6000", 30, 10000000, NULL, "simulated patches (15 % held out)"},
    {"members", FSCI_PARAM_INT, G(members), "5", 1, 16, NULL, "networks in the ensemble"},
    {"epochs", FSCI_PARAM_INT, G(epochs), "20", 1, 10000, NULL, "training epochs per member"},
};

static void cls_progress(void *user, const char *line)
{
    if (*(const bool *)user) fprintf(stderr, "qdot train-classifier: %s\n", line);
}

int fsci__qdot_cls_cmd(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink)
{
    (void)in;
    (void)sink;
    const fsci__qdot_cls_cmd_opts *a = opts;
    FSCI_CHECK(ctx->output != NULL &&
                   fsci_command_owns_output(fsci_engine_command(fsci_engine_find("qdot"), "train-classifier"),
                                            ctx->output),
               FSCI_EINVAL, "qdot train-classifier: -o %s: the weight file must end in .fsqc",
               ctx->output ? ctx->output : "(none)");
    fsci__qdot_cls_report rep;
    memset(&rep, 0, sizeof rep);
    bool show = ctx->progress && !ctx->quiet;
    fsci__qdot_cls_opts o = {.seed = fsci_ctx_seed(ctx, 7),
                             .n = a->n,
                             .members = (int)a->members,
                             .epochs = (int)a->epochs,
                             .progress = cls_progress,
                             .user = &show,
                             .report = &rep};
    fsci__qdot_cls *c = NULL;
    FSCI__QDOT_RET(fsci__qdot_cls_train(&o, &c));
    int st = fsci__qdot_cls_save(c, ctx->output);
    fsci__qdot_cls_destroy(&c);
    if (st) return st;
    fsci_ctx_printf(
        ctx,
        "classifier: %d members, held-out accuracy %.2f %% on %lld patches (data %.1f s, training "
        "%.1f s)\n",
        (int)a->members, 100 * rep.val_accuracy, (long long)rep.nval, rep.seconds_data, rep.seconds_train);
    fsci_ctx_printf(ctx, "confusion (rows true, columns predicted: double, single, misc):\n");
    for (int i = 0; i < FSCI__QDOT_CLS_NCLASS; i++)
        fsci_ctx_printf(ctx, "  %6lld %6lld %6lld\n", (long long)rep.confusion[i][0],
                        (long long)rep.confusion[i][1], (long long)rep.confusion[i][2]);
    return FSCI_OK;
}

/* ---- classify ---- */

#define H(field) offsetof(fsci__qdot_classify_opts, field)

const fsci_param fsci__qdot_classify_params[FSCI__QDOT_CLASSIFY_NPARAMS] = {
    {"input", FSCI_PARAM_STRING, H(input), "", 0, -1, NULL,
     "raw sensor patches: .npy of shape (64, 64) or (n, 64, 64), any real dtype (or the positional "
     "argument)"},
    {"weights", FSCI_PARAM_STRING, H(weights), "", 0, -1, NULL,
     "classifier weights (.fsqc; the shipped ones: data/qdot_classifier.fsqc)"},
};

int fsci__qdot_classify_check(const void *opts, const fsci_ctx *ctx)
{
    (void)ctx;
    const fsci__qdot_classify_opts *o = opts;
    FSCI_CHECK(o->weights[0], FSCI_EINVAL, "classify: --weights FILE.fsqc is required");
    return FSCI_OK;
}

int fsci__qdot_classify_cmd(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink)
{
    const fsci__qdot_classify_opts *o = opts;
    const char *labels[3] = {"double dot", "single dot", "misc"};
    fsci__qdot_cls *c = NULL;
    fsci_array *arr = NULL;
    float *x = NULL, *probs = NULL, *conf = NULL, *dis = NULL;
    int32_t *lab = NULL;
    double *tmp = NULL;
    int st = FSCI_OK;
    const fsci_view *v = fsci_inputs_get(in, "patches");
    FSCI_CHECK(v || o->input[0], FSCI_EINVAL, "classify: give the patches (a .npy file)");
    if (!v) {
        FSCI_TRY(fsci_npy_read_as(o->input, FSCI_F64, &arr));
        v = &arr->view;
    }
    const char *what = o->input[0] ? o->input : "patches";
    FSCI_CHECK_GOTO(v->dtype == FSCI_F64 && fsci_view_is_c_contiguous(v), FSCI_EINVAL,
                    "classify: %s must be contiguous float64", what);
    FSCI_CHECK_GOTO(
        (v->ndim == 2 || v->ndim == 3) && v->shape[v->ndim - 1] == 64 && v->shape[v->ndim - 2] == 64,
        FSCI_EINVAL, "classify: %s has shape %s%lld x %lld; patches are 64 x 64 (or n x 64 x 64)", what,
        v->ndim == 3 ? "n x " : "", (long long)v->shape[v->ndim - 2], (long long)v->shape[v->ndim - 1]);
    const int64_t n = v->ndim == 3 ? v->shape[0] : 1, npix = FSCI__QDOT_CLS_NPIX;
    FSCI_CHECK_GOTO(n >= 1, FSCI_EINVAL, "classify: %s holds no patch", what);
    const double *data = v->data;
    for (int64_t i = 0; i < n * npix; i++)
        FSCI_CHECK_GOTO(isfinite(data[i]), FSCI_EINVAL, "classify: %s: value %lld is %g (must be finite)",
                        what, (long long)i, data[i]);
    FSCI_TRY(fsci__qdot_cls_load(o->weights, &c));
    x = fsci_malloc((size_t)(n * npix), sizeof *x);
    probs = fsci_malloc((size_t)(3 * n), sizeof *probs);
    conf = fsci_malloc((size_t)n, sizeof *conf);
    dis = fsci_malloc((size_t)n, sizeof *dis);
    lab = fsci_malloc((size_t)n, sizeof *lab);
    FSCI_CHECK_GOTO(x && probs && conf && dis && lab, FSCI_ENOMEM, "classify: out of memory for %lld patches",
                    (long long)n);
    for (int64_t i = 0; i < n; i++) fsci__qdot_cls_preprocess(data + i * npix, npix, x + i * npix);
    FSCI_TRY(fsci__qdot_cls_predict(c, x, n, probs, lab, conf, dis));
    for (int64_t i = 0; i < n && i < 20; i++)
        fsci_ctx_printf(ctx, "patch %lld: %s (confidence %.3f, disagreement %.3f)\n", (long long)i,
                        labels[lab[i]], (double)conf[i], (double)dis[i]);
    if (n > 20) fsci_ctx_printf(ctx, "... %lld patches in all\n", (long long)n);
    if (sink) {
        fsci_view w;
        const int64_t s2[2] = {n, 3}, s1[1] = {n};
        FSCI_TRY(fsci_view_init(&w, probs, FSCI_F32, 2, s2, NULL));
        FSCI_TRY(fsci_sink_add(sink, "probs", &w));
        FSCI_TRY(fsci_view_init(&w, lab, FSCI_I32, 1, s1, NULL));
        FSCI_TRY(fsci_sink_add(sink, "label", &w));
        FSCI_TRY(fsci_view_init(&w, conf, FSCI_F32, 1, s1, NULL));
        FSCI_TRY(fsci_sink_add(sink, "confidence", &w));
        FSCI_TRY(fsci_view_init(&w, dis, FSCI_F32, 1, s1, NULL));
        FSCI_TRY(fsci_sink_add(sink, "disagreement", &w));
    }
fail:
    fsci__qdot_cls_destroy(&c);
    fsci_array_destroy(&arr);
    fsci_free(x);
    fsci_free(probs);
    fsci_free(conf);
    fsci_free(dis);
    fsci_free(lab);
    fsci_free(tmp);
    return st;
}
