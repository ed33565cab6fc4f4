/* fastsci private: the ptycho _metadata member (metadata.c). Not installed. */
#ifndef FASTSCI_PTYCHO_METADATA_H
#define FASTSCI_PTYCHO_METADATA_H

#include "fastsci/fastsci.h"

/* Add the string member "_metadata" to `sink`: one line of JSON describing
 * the run (generator, options, scales, shapes; see doc/ptycho.md). K_used:
 * the neighbour pool actually used (min(K, points)); `np`
 * scan points, `B` groups, object of H x W, scales from `r`. */
int fsci__ptycho_metadata_add(fsci_sink *sink, const fsci_ptycho_opts *o, const fsci_ptycho_inputs *in,
                              uint64_t seed, int64_t K_used, int64_t np, int64_t B, int64_t H, int64_t W,
                              const fsci_ptycho_report *r) FSCI_WUR;

#endif
