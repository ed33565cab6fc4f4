/* proton: test and benchmark hooks (never installed). Exported from the library
 * (FSCI_API) so that tests/proton and the benchmark module bench/ext link them, but
 * not part of the public headers: they expose the plan's tables and the phase space
 * directly and may change with the engine. */
#ifndef FASTSCI_PROTON_HOOKS_H
#define FASTSCI_PROTON_HOOKS_H

#include "fastsci/proton.h"

/* The PLAIN scattering kernel of energy bin ie for material class ic:
 * *half = h and taps w[0..2h]
 * for offsets -h..h in angle bins (float32, sum exactly 1, owned by the plan),
 * *variance = its variance in bin^2 (T ds rscat / dtheta^2). FSCI_EINVAL for
 * indices out of range. */
FSCI_API int fsci_proton_plan_kernel(const fsci_proton_plan *p, int64_t ie, int64_t ic, int64_t *half,
                                     const float **w, double *variance) FSCI_WUR;

/* Bilinear streaming stencil of angle bin it: the displacement in cells is
 * (iu + fu) in x and (iv + fv) in z with 0 <= fu, fv < 1 (fractions rounded
 * to multiples of 2^-24). */
FSCI_API int fsci_proton_plan_stencil(const fsci_proton_plan *p, int64_t it, int64_t *iu, double *fu,
                                      int64_t *iv, double *fv) FSCI_WUR;

/* Energy transfer A_E of bin ie in material class ic, for one step: the
 * surviving weight (fraction *survival as applied, a multiple of 2^-24 in
 * every build; 1 - survival is removed by nuclear interactions) goes to bins target[q] with weights
 * weight[q] (summing to 1; target -1: the cutoff, -2: unused part), and
 * *deposit MeV is deposited per unit of weight (energy differences to the
 * targets, all of it at the cutoff, plus nuclear_local of the removed
 * protons' energy). In water on a RANGE grid: target {ie - 1, -2}, weight
 * {1, 0}. With opts.straggling the targets and weights are this CSDA split,
 * which the plan further convolves with the straggling kernel; the deposit is
 * that of the convolved transfer. survival and deposit may be NULL.
 * FSCI_EINVAL for bad indices. */
FSCI_API int fsci_proton_plan_transfer(const fsci_proton_plan *p, int64_t ie, int64_t ic, int64_t target[2],
                                       double weight[2], double *survival, double *deposit) FSCI_WUR;

/* Replace the phase space with psi (ne*ntheta*nz*nx float32, C order
 * [E][theta][z][x], finite and >= 0; the occupied bins must fit in the
 * window) and count it as injected. Dose and counters are not reset. For
 * tests and benchmarks. */
FSCI_API int fsci_proton_state_set_psi(fsci_proton_state *s, const float *psi) FSCI_WUR;

/* Copy the phase space into psi (ne*ntheta*nz*nx float32, C order). */
FSCI_API int fsci_proton_state_get_psi(const fsci_proton_state *s, float *psi) FSCI_WUR;

/* As fsci_proton_state_set_psi, from float64 values (ne*ntheta*nz*nx, C
 * order, finite, >= 0 and representable in the engine's element type). The
 * float64 test build (fsci_proton_psi_bytes() == 8) stores them exactly; the
 * normal float32 build rounds each to the nearest float32, and the stored
 * values define the injected weight. FSCI_EINVAL naming the first bad element,
 * FSCI_ERANGE as set_psi. */
FSCI_API int fsci_proton_state_set_psi64(fsci_proton_state *s, const double *psi) FSCI_WUR;

/* Copy the phase space into psi (ne*ntheta*nz*nx float64, C order): an exact
 * copy in the float64 test build, exact widening in the float32 build.
 * FSCI_EINVAL for NULL arguments. */
FSCI_API int fsci_proton_state_get_psi64(const fsci_proton_state *s, double *psi) FSCI_WUR;

/* Bytes per phase-space element of this build of the engine: 4 (float32, the
 * library, CLI and Python module) or 8 (the float64 test build compiled with
 * -DFSCI_PROTON_F64, in which every operator computes on psi in double). Lets
 * tests choose tolerances. Thread-safe. */
FSCI_API int fsci_proton_psi_bytes(void);

/* The three operators alone (the step uses the same kernels, fused).
 * scatter: A_theta, angular convolution per energy bin and cell material,
 * counts `rejected` (ABSORB) and `pruned`. energy: A_E, moves each bin to its
 * target bins after a step ds in the cell's material, deposits the energy
 * difference in the cell (and everything at the cutoff), applies nuclear
 * removal. stream: A_stream over ds, counts `leaked`. Each updates the
 * state's step balance (fsci_proton_state_step_balance) and adds to the run
 * balance; they do not advance the step count. */
FSCI_API int fsci_proton_apply_scatter(const fsci_proton_plan *p, fsci_proton_state *s) FSCI_WUR;
FSCI_API int fsci_proton_apply_energy(const fsci_proton_plan *p, fsci_proton_state *s) FSCI_WUR;
FSCI_API int fsci_proton_apply_stream(const fsci_proton_plan *p, fsci_proton_state *s) FSCI_WUR;

#endif
