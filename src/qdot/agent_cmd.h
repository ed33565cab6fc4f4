/* qdot: the options and run functions of `fastsci qdot bench` and `fastsci qdot tune`. */
#ifndef FASTSCI_QDOT_AGENT_CMD_H
#define FASTSCI_QDOT_AGENT_CMD_H

#include "fastsci/fastsci.h"
#include "qdot/phys.h"

typedef struct fsci__qdot_agent_opts {
    int64_t n_trials, trial, budget, max_steps, particles, mc;
    bool fast, ablation, compat, nats, no_dqc_gate, auto_approve;
    fsci_param_list bounds;
    double slew;
} fsci__qdot_agent_opts;

enum { FSCI__QDOT_AGENT_NPARAMS = 14 };
extern const fsci_param fsci__qdot_agent_params[FSCI__QDOT_AGENT_NPARAMS];

/* Refuses --compat off (the physical agent is not built yet). */
int fsci__qdot_agent_check(const void *opts, const fsci_ctx *ctx);
int fsci__qdot_bench_cmd(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink);
int fsci__qdot_tune_cmd(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink);

typedef struct fsci__qdot_cls_cmd_opts {
    int64_t n, members, epochs;
} fsci__qdot_cls_cmd_opts;

enum { FSCI__QDOT_CLS_NPARAMS = 3 };
extern const fsci_param fsci__qdot_cls_params[FSCI__QDOT_CLS_NPARAMS];

/* `fastsci qdot train-classifier -o FILE.fsqc`: the TinyCNN ensemble trained on simulated diagrams. */
int fsci__qdot_cls_cmd(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink);

/* A physical trial drawn over its true device's sensor map (0..60 mV, 241 x 241): verification
 * scans as white frames, the final voltage as a cross (white: success, black: not). */
int fsci__qdot_trajectory_png(const char *path, const fsci__qdot_phys_opts *o,
                              const fsci__qdot_phys_result *r);

typedef struct fsci__qdot_classify_opts {
    char input[FSCI_PARAM_STRLEN];
    char weights[FSCI_PARAM_STRLEN];
} fsci__qdot_classify_opts;

enum { FSCI__QDOT_CLASSIFY_NPARAMS = 2 };
extern const fsci_param fsci__qdot_classify_params[FSCI__QDOT_CLASSIFY_NPARAMS];

/* `fastsci qdot classify PATCHES.npy --weights FILE.fsqc`: label, confidence, disagreement. */
int fsci__qdot_classify_check(const void *opts, const fsci_ctx *ctx);
int fsci__qdot_classify_cmd(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink);

#endif
