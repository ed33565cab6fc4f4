/* Helpers shared by the proton transport tests (test_transport_ops.c,
 * test_transport_api.c, test_transport_physics_slow.c): a plan + state pair, random
 * phase spaces, expected failures, a pencil-beam run. Each test file is built twice
 * (tests/CMakeLists.txt): against the library's float32 engine and against the
 * proton sources compiled with -DFSCI_PROTON_F64 (psi in double); the operator
 * tolerances follow fsci_proton_psi_bytes(). */
#ifndef FSCI_TESTS_PROTON_TRANSPORT_TESTUTIL_H
#define FSCI_TESTS_PROTON_TRANSPORT_TESTUTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/profile.h"
#include "fastsci/proton.h"
#include "proton/proton_hooks.h"
#include "testkit.h"

typedef struct {
    fsci_proton_plan *p;
    fsci_proton_state *s;
    fsci_proton_plan_info info;
} sim;

static inline int sim_open(sim *m, const fsci_proton_opts *o, const fsci_proton_materials *mat)
{
    memset(m, 0, sizeof *m);
    int st = fsci_proton_plan_create(o, mat, &m->p);
    if (st < 0) {
        fprintf(stderr, "  plan: %s\n", fsci_error_message());
        return st;
    }
    fsci_proton_plan_get_info(m->p, &m->info);
    st = fsci_proton_state_create(m->p, &m->s);
    if (st < 0) fprintf(stderr, "  state: %s\n", fsci_error_message());
    return st;
}

static inline void sim_close(sim *m)
{
    fsci_proton_state_destroy(&m->s);
    fsci_proton_plan_destroy(&m->p);
}

static inline int64_t psi_len(const sim *m)
{
    return m->info.ne * m->info.ntheta * m->info.nz * m->info.nx;
}

static uint64_t rng_state = 88172645463325252ULL;
static inline double urand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
}

/* Small grid for the operator tests: 31 energy bins (60 MeV, ds = 1 mm). */
static inline void small_opts(fsci_proton_opts *o, bool periodic)
{
    fsci_proton_opts_default(o);
    o->nx = 10;
    o->nz = 12;
    o->e_max_mev = 60;
    o->ntheta = periodic ? 16 : 15;
    o->theta_max_deg = 15;
    o->theta_bc = periodic ? FSCI_PROTON_THETA_PERIODIC : FSCI_PROTON_THETA_ABSORB;
    o->nthreads = 2;
}

/* Tolerances of the operator tests. The float32 engine (the library) keeps
 * particles and energy to its rounding, measured <= 3.2e-10 and asserted to
 * 1e-6, and matches the double references to ~1e-7 of the largest value; the
 * float64 test build (test_transport_*_f64: fsci_proton_psi_bytes() == 8,
 * tests/CMakeLists.txt) measured <= 2.2e-16 for both, asserted to TOL_OP. */
static inline bool f64_engine(void)
{
    return fsci_proton_psi_bytes() == 8;
}
#define TOL_OP (f64_engine() ? 1e-13 : 1e-6)

/* Random psi in [0, 1) with all 53 bits (the float64 build stores them
 * exactly, the float32 one rounds them), zero within `margin` cells of the
 * spatial edges; set as the state's phase space and replaced by the values
 * stored, which are the operators' exact input. */
static inline int load_random_psi(const sim *m, double *psi, int margin)
{
    const int64_t nz = m->info.nz, nx = m->info.nx, n = psi_len(m);
    for (int64_t i = 0; i < n; i++) {
        int64_t x = i % nx, z = i / nx % nz;
        bool in = x >= margin && x < nx - margin && z >= margin && z < nz - margin;
        psi[i] = in ? urand() : 0.0;
    }
    int st = fsci_proton_state_set_psi64(m->s, psi);
    if (st == 0) st = fsci_proton_state_get_psi64(m->s, psi);
    return st;
}

static inline double min_psi(const sim *m, double *buf)
{
    if (fsci_proton_state_get_psi64(m->s, buf) < 0) return -1;
    double mn = 0;
    for (int64_t i = 0; i < psi_len(m); i++)
        if (buf[i] < mn) mn = buf[i];
    return mn;
}

static inline double max_abs_diff(const double *a, const double *b, int64_t n, double *maxb)
{
    double d = 0, mb = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs(a[i] - b[i]);
        if (e > d) d = e;
        if (fabs(b[i]) > mb) mb = fabs(b[i]);
    }
    *maxb = mb;
    return d;
}

/* Status code and message of an expected failure. */
static inline int expect_fail(int st, int code, const char *needle)
{
    if (st != code) {
        fprintf(stderr, "  expected status %d, got %d (%s)\n", code, st, fsci_error_message());
        return 0;
    }
    if (!strstr(fsci_error_message(), needle)) {
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", fsci_error_message(), needle);
        return 0;
    }
    return 1;
}

/* Run a monoenergetic pencil beam to the end; depth dose into dd (nz). */
static inline int run_pencil(const fsci_proton_opts *o, const fsci_proton_materials *mat, double e0,
                             double *dd, fsci_proton_range_metrics *rm, sim *keep)
{
    sim m;
    int st = sim_open(&m, o, mat);
    if (st < 0) return st;
    fsci_proton_beam b;
    fsci_proton_beam_default(&b);
    b.energy_mev = e0;
    st = fsci_proton_state_add_beam(m.s, &b);
    if (st == 0) st = fsci_proton_run(m.p, m.s, 0, NULL);
    if (st == 0) st = fsci_proton_state_depth_dose(m.s, dd);
    if (st == 0 && rm) st = fsci_proton_analyze(dd, o->nz, o->dz_mm, rm);
    if (st < 0) fprintf(stderr, "  run: %s\n", fsci_error_message());
    if (keep && st == 0)
        *keep = m;
    else
        sim_close(&m);
    return st;
}

/* Grid of the range tests: deep enough for the CSDA range rmm (mm) of e0 (MeV). */
static inline void range_opts(fsci_proton_opts *o, double e0, double rmm)
{
    fsci_proton_opts_default(o);
    o->e_max_mev = e0;
    o->nz = (int64_t)(rmm + 12);
    o->nx = 61;
    o->ntheta = 41;
    o->theta_max_deg = 20.5;
    o->nthreads = 2;
}

/* Sums of the double-precision reference energy step. */
typedef struct ref_sums {
    double sin, ein, cut, nuc, nuce, dep;
} ref_sums;

/* The reference energy step of one cell: weight w in energy bin k (values
 * val[]) loses a fraction pr to nuclear removal (60 % of its energy deposited
 * locally, 40 % escaping); the rest moves to the np (target bin, fraction)
 * parts, a target below 0 being the cutoff (its energy deposited). Moved weight
 * goes to ref[j * plane + off]; returns the cell's deposit and accumulates *r. */
static inline double ref_cell_step(ref_sums *r, double w, int64_t k, const double *val, double pr,
                                   const double (*parts)[2], int np, double *ref, int64_t plane, int64_t off)
{
    r->sin += w;
    r->ein += w * val[k];
    r->nuc += pr * w;
    r->nuce += pr * 0.4 * val[k] * w;
    double d = pr * 0.6 * val[k] * w;
    for (int q = 0; q < np; q++) {
        const int64_t j = (int64_t)parts[q][0];
        const double wv = (1 - pr) * parts[q][1] * w;
        if (wv == 0) continue;
        if (j < 0) {
            r->cut += wv;
            d += wv * val[k];
        } else {
            ref[j * plane + off] += wv;
            d += wv * (val[k] - val[j]);
        }
    }
    r->dep += d;
    return d;
}

#endif
