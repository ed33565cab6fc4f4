/* n2v2 engine internals shared between its files. */
#ifndef FASTSCI_N2V2_IMPL_H
#define FASTSCI_N2V2_IMPL_H

#include "fastsci/n2v2.h"

#define FSCI__N2V2_MAXDEPTH 5

/* Philox streams (key word 1) of the engine's random draws; each draw is also
 * keyed by its logical indices (doc/n2v2.md section 4). */
#define FSCI__N2V2_STREAM_INIT 0x6e32763200000001ULL /* weight initialisation */
#define FSCI__N2V2_STREAM_PATCH                                                                              \
    0x6e32763200000002ULL                           /* patch positions and augmentation, by (step, sample) */
#define FSCI__N2V2_STREAM_VAL 0x6e32763200000003ULL /* validation patches, by index */

#endif
