/* qdot agent (src/qdot/agent.h): determinism, thread independence, the budget guard, option
 * errors, the governance log, and the state machine against transitions written from the
 * numpy port's StateMachine rules (bench/qdot_ref.py), not from the C code. */
#include <jansson.h>
#include <string.h>

#include "fastsci/core/parallel.h"
#include "qdot/agent.h"
#include "testkit.h"

static fsci__qdot_trial_opts fast_opts(int64_t trial, bool nodqc)
{
    fsci__qdot_trial_opts o;
    fsci__qdot_trial_defaults(&o);
    o.trial = trial;
    o.budget = 512;
    o.max_steps = 50;
    o.no_dqc_gate = nodqc;
    return o;
}

static void assert_same(int *testkit_failed, const fsci__qdot_trial_result *a,
                        const fsci__qdot_trial_result *b)
{
    ASSERT_EQ(a->success, b->success);
    ASSERT_EQ(a->total_measurements, b->total_measurements);
    ASSERT_TRUE(a->reduction == b->reduction);
    ASSERT_EQ(a->final_stage, b->final_stage);
    ASSERT_EQ(a->steps, b->steps);
    ASSERT_EQ(a->backtracks, b->backtracks);
    ASSERT_EQ(a->hitl_count, b->hitl_count);
    ASSERT_EQ(a->decisions, b->decisions);
    for (int i = 0; i < 6; i++) ASSERT_TRUE(a->device[i] == b->device[i]);
}

TEST(same_seed_same_trial_same_result)
{
    for (int nodqc = 0; nodqc < 2; nodqc++) {
        fsci__qdot_trial_opts o = fast_opts(3, nodqc);
        o.budget = 2048;
        o.max_steps = 100;
        fsci__qdot_trial_result a, b;
        ASSERT_OK(fsci__qdot_trial_run(&o, &a));
        ASSERT_OK(fsci__qdot_trial_run(&o, &b));
        assert_same(testkit_failed, &a, &b);
        ASSERT_TRUE(a.steps >= 2);
        ASSERT_TRUE(a.seconds > 0);
        /* the benchmark's device distribution */
        ASSERT_TRUE(a.device[0] >= 2.5 && a.device[0] < 3.5);
        ASSERT_NEAR_REL(a.device[1], a.device[0] + 0.2, 1e-15, 0);
        ASSERT_TRUE(a.device[2] >= 0.2 && a.device[2] < 0.4);
    }
    /* another trial index or seed gives another device */
    fsci__qdot_trial_opts o = fast_opts(3, false);
    fsci__qdot_trial_result a, b, c;
    ASSERT_OK(fsci__qdot_trial_run(&o, &a));
    o.trial = 4;
    ASSERT_OK(fsci__qdot_trial_run(&o, &b));
    o.trial = 3;
    o.seed = 43;
    ASSERT_OK(fsci__qdot_trial_run(&o, &c));
    ASSERT_TRUE(a.device[0] != b.device[0] && a.device[0] != c.device[0]);
}

TEST(one_and_two_threads_identical)
{
    enum { N = 8 };
    for (int nodqc = 0; nodqc < 2; nodqc++) {
        fsci__qdot_trial_opts o = fast_opts(0, nodqc);
        fsci__qdot_trial_result r1[N], r2[N], single;
        ASSERT_OK(fsci__qdot_bench_run(&o, N, 1, r1));
        ASSERT_OK(fsci__qdot_bench_run(&o, N, 2, r2));
        int distinct_steps = 0;
        for (int k = 0; k < N; k++) {
            assert_same(testkit_failed, &r1[k], &r2[k]);
            distinct_steps += r1[k].steps != r1[0].steps;
            /* bench trial k is trial k run alone */
            o.trial = k;
            ASSERT_OK(fsci__qdot_trial_run(&o, &single));
            assert_same(testkit_failed, &r1[k], &single);
            o.trial = 0;
        }
        ASSERT_TRUE(distinct_steps > 0); /* the trials are not all the same */
    }
}

TEST(budget_guard)
{
    /* even budgets: every scan size is even, so the guard is exact; odd: a 2-point line
     * scan may follow 1 remaining point (the port's documented slack of 1). */
    const int64_t budgets[] = {2, 33, 100, 257, 512, 777, 1500, 2048};
    for (size_t i = 0; i < sizeof budgets / sizeof budgets[0]; i++) {
        for (int nodqc = 0; nodqc < 2; nodqc++) {
            for (int64_t t = 0; t < 3; t++) {
                fsci__qdot_trial_opts o = fast_opts(t, nodqc);
                o.budget = budgets[i];
                o.max_steps = 100;
                fsci__qdot_trial_result r;
                ASSERT_OK(fsci__qdot_trial_run(&o, &r));
                int64_t slack = o.budget % 2;
                ASSERT_TRUE(r.total_measurements <= o.budget + slack);
                ASSERT_TRUE(r.reduction >= 1.0 - (double)(o.budget + slack) / 4096.0);
                ASSERT_NEAR_REL(r.reduction, 1.0 - (double)r.total_measurements / 4096.0, 1e-15, 1e-15);
                if (slack == 0) ASSERT_TRUE(r.reduction >= 1.0 - (double)o.budget / 4096.0);
                ASSERT_TRUE(r.steps <= o.max_steps);
                /* it stops on the budget, the step limit, or COMPLETE */
                ASSERT_TRUE(r.total_measurements >= o.budget || r.steps == o.max_steps || r.success);
            }
        }
    }
    fsci__qdot_trial_opts o = fast_opts(1, false);
    o.max_steps = 2; /* bootstrap + one survey step */
    fsci__qdot_trial_result r;
    ASSERT_OK(fsci__qdot_trial_run(&o, &r));
    ASSERT_EQ(r.steps, 2);
    ASSERT_TRUE(r.total_measurements < o.budget);
}

TEST(bad_options_name_the_field)
{
    fsci__qdot_trial_opts o = fast_opts(0, false);
    fsci__qdot_trial_result r;
    o.budget = 0;
    ASSERT_STATUS(fsci__qdot_trial_run(&o, &r), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "budget") != NULL);
    o = fast_opts(0, false);
    o.max_steps = 0;
    ASSERT_STATUS(fsci__qdot_trial_run(&o, &r), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "max_steps") != NULL);
    o = fast_opts(0, false);
    o.particles = 0;
    ASSERT_STATUS(fsci__qdot_trial_run(&o, &r), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "particles") != NULL);
    o = fast_opts(0, false);
    o.n_mc = 0;
    ASSERT_STATUS(fsci__qdot_trial_run(&o, &r), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "n_mc") != NULL);
    /* a failing trial inside the parallel bench is reported with its message */
    fsci__qdot_trial_result rs[4];
    o = fast_opts(0, false);
    o.budget = -5;
    ASSERT_STATUS(fsci__qdot_bench_run(&o, 4, 0, rs), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "budget") != NULL);
}

TEST(governance_log_one_json_line_per_decision)
{
    FILE *f = tmpfile();
    ASSERT_TRUE(f != NULL);
    fsci__qdot_trial_opts o = fast_opts(2, true);
    o.budget = 2048;
    o.max_steps = 100;
    o.log = f;
    fsci__qdot_trial_result r;
    ASSERT_OK(fsci__qdot_trial_run(&o, &r));
    rewind(f);
    char line[1024];
    int64_t n = 0, starts = 0, transitions = 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        ASSERT_TRUE(j != NULL);
        const char *action = json_string_value(json_object_get(j, "action"));
        ASSERT_TRUE(action != NULL);
        ASSERT_TRUE(json_is_integer(json_object_get(j, "measurements")));
        ASSERT_EQ(json_array_size(json_object_get(j, "v")), 2);
        ASSERT_TRUE(json_integer_value(json_object_get(j, "measurements")) <= r.total_measurements);
        starts += strcmp(action, "mission_start") == 0;
        transitions += strcmp(action, "stage_transition") == 0;
        n += strcmp(action, "hitl_risk_approved") != 0; /* counted as HITL, not as a decision */
        json_decref(j);
    }
    fclose(f);
    ASSERT_EQ(starts, 1);
    ASSERT_EQ(n, r.decisions);
    ASSERT_TRUE(transitions >= 1);
}

/* ------------------------------------------------------------------ state machine */

typedef struct {
    bool success;
    double conf;
    int stage; /* expected stage after process */
    bool hitl; /* expected HITL flag */
} sm_step;

static void run_script(int *testkit_failed, bool success_first, const sm_step *s, int n, int backtracks)
{
    fsci__qdot_sm sm;
    fsci__qdot_sm_init(&sm, success_first);
    for (int i = 0; i < n; i++) {
        bool hitl;
        int got = fsci__qdot_sm_process(&sm, s[i].success, s[i].conf, &hitl);
        if (got != s[i].stage || hitl != s[i].hitl)
            printf("  step %d: got stage %s hitl %d, want %s hitl %d\n", i, fsci__qdot_stage_name(got), hitl,
                   fsci__qdot_stage_name(s[i].stage), s[i].hitl);
        ASSERT_EQ(got, s[i].stage);
        ASSERT_EQ(hitl, s[i].hitl);
        ASSERT_EQ(sm.stage, got);
    }
    ASSERT_EQ(sm.total_backtracks, backtracks);
}

enum { B = FSCI__QDOT_BOOT, SV = FSCI__QDOT_SURVEY, C = FSCI__QDOT_CHARGE_ID, N = FSCI__QDOT_NAV };

/* Retries, then backtrack, then the stage backtrack limit (SURVEY: 2) raises HITL on every
 * failure; the stage is kept and no retry is counted; a pass still advances (success first). */
TEST(state_machine_retries_backtrack_hitl)
{
    const sm_step s[] = {
        {true, 1.0, SV, false},  /* BOOT passes */
        {true, 0.1, SV, false},  /* 0.1 < 0.2: a failure, retry 1 */
        {false, 0.0, SV, false}, /* retry 2 */
        {false, 0.0, SV, false}, /* retry 3 */
        {false, 0.0, B, false},  /* retries exhausted: backtrack 1 to BOOT; BOOT in the log once */
        {true, 1.0, SV, false},  /* consecutive backtracks reset */
        {false, 0.0, SV, false}, {false, 0.0, SV, false},
        {false, 0.0, SV, false}, {false, 0.0, B, false}, /* backtrack 2: SURVEY's limit (2) reached */
        {true, 1.0, SV, false},  {false, 0.0, SV, true}, /* limit reached: HITL, stage kept */
        {false, 0.0, SV, true},                          /* and again: no retry was counted */
        {false, 0.0, SV, true},  {false, 0.0, SV, true},
        {true, 0.25, C, false}, /* a pass advances before the HITL check */
    };
    run_script(testkit_failed, true, s, (int)(sizeof s / sizeof s[0]), 2);
    /* HITL checks first (earliest revision): the pass at the end is held */
    sm_step t[sizeof s / sizeof s[0]];
    memcpy(t, s, sizeof s);
    t[15].stage = SV;
    t[15].hitl = true;
    run_script(testkit_failed, false, t, (int)(sizeof t / sizeof t[0]), 2);
}

/* Two consecutive backtracks (CHARGE_ID -> SURVEY -> BOOT) raise HITL at once; BOOT's retries
 * exhausted raise HITL (it cannot backtrack). */
TEST(state_machine_consecutive_backtracks_and_boot)
{
    const sm_step u[] = {
        {true, 1.0, SV, false},  {true, 0.3, C, false},   {false, 0.0, C, false},
        {false, 0.0, C, false},  {true, 0.49, SV, false}, /* 0.49 < 0.5: failure with retries exhausted:
                                                             backtrack 1 */
        {false, 0.0, SV, false}, {false, 0.0, SV, false}, {false, 0.0, SV, false},
        {false, 0.0, B, true},  /* backtrack 2 in a row: HITL on arrival at BOOT */
        {false, 0.0, B, true},  /* consecutive backtracks still 2: HITL, no retry */
        {true, 1.0, SV, false}, /* a pass resets them */
    };
    run_script(testkit_failed, true, u, (int)(sizeof u / sizeof u[0]), 2);
    const sm_step v[] = {
        {true, 0.4, B, false},  /* 0.4 < 0.5 */
        {false, 1.0, B, false}, /* not a success */
        {false, 0.0, B, false},
        {false, 0.0, B, true},
        {false, 0.0, B, true},
        {true, 0.5, SV, false},
        {true, 0.2, C, false},
        {true, 0.5, N, false},
        {true, 0.69, N, false},
        {true, 0.7, FSCI__QDOT_VERIF, false},
        {true, 0.7, FSCI__QDOT_COMPLETE, false},
    };
    run_script(testkit_failed, true, v, (int)(sizeof v / sizeof v[0]), 0);
}

static int asked;
static bool approve_all(void *user, const char *what, double value)
{
    (void)user, (void)what, (void)value;
    asked++;
    return true;
}
static bool refuse_all(void *user, const char *what, double value)
{
    (void)user, (void)what, (void)value;
    asked++;
    return false;
}

TEST(human_in_the_loop_hook)
{
    fsci__qdot_trial_opts o;
    fsci__qdot_trial_defaults(&o);
    o.no_dqc_gate = true;
    fsci__qdot_trial_result none, yes, no;
    ASSERT_OK(fsci__qdot_trial_run(&o, &none));
    ASSERT_TRUE(none.hitl_count > 0); /* this trial calls for a human */
    asked = 0;
    o.hitl_ask = approve_all;
    ASSERT_OK(fsci__qdot_trial_run(&o, &yes));
    /* approving everything is what no hook does, and every request reached the hook */
    ASSERT_EQ(asked, yes.hitl_count);
    ASSERT_EQ(yes.total_measurements, none.total_measurements);
    ASSERT_EQ(yes.final_stage, none.final_stage);
    ASSERT_EQ(yes.steps, none.steps);
    asked = 0;
    o.hitl_ask = refuse_all;
    ASSERT_OK(fsci__qdot_trial_run(&o, &no));
    ASSERT_TRUE(asked >= 1);
    /* a refusal of the state machine's request stops the mission; a refused move is not made */
    ASSERT_TRUE(no.final_stage == FSCI__QDOT_FAILED || no.steps != none.steps ||
                no.total_measurements != none.total_measurements);
    fsci__qdot_trial_result rs[2];
    ASSERT_STATUS(fsci__qdot_bench_run(&o, 2, 1, rs), FSCI_EINVAL); /* benchmarks approve automatically */
}

TESTKIT_MAIN()
