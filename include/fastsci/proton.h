/* fastsci proton: deterministic 2-D proton transport in water and 2-D material maps.
 * Umbrella header of three layers:
 *   fastsci/proton/physics.h    stopping power, ranges, scattering, energy grids;
 *   fastsci/proton/transport.h  plan, state, beams, step, run, balances, dose;
 *   fastsci/proton/run.h        the run-level API: parameter table, setup, simulate,
 *                               result, write.
 * Physics: doc/proton_physics.md; transport: doc/proton.md. */
#ifndef FASTSCI_PROTON_H
#define FASTSCI_PROTON_H

#include "fastsci/proton/physics.h"
#include "fastsci/proton/run.h"
#include "fastsci/proton/transport.h"

#endif
