/* fastsci private: the ptycho _metadata member (metadata.c). Not installed. */
#ifndef FASTSCI_PTYCHO_METADATA_H
#define FASTSCI_PTYCHO_METADATA_H

#include "fastsci/fastsci.h"

/* additional_parameters.version: 1 was the flat dictionary of the first
 * files, 2 is PtychoPINN's schema (schema_version 1.0.0). */
#define FSCI__PTYCHO_META_VERSION 2

/* "YYYY-MM-DDTHH:MM:SSZ" and its NUL */
#define FSCI__PTYCHO_TIMESTAMP_CAP 32

/* The creation time in ISO 8601 UTC: SOURCE_DATE_EPOCH (seconds) when set
 * and not empty, so that runs can be byte-identical; otherwise now.
 * FSCI_EINVAL for a malformed SOURCE_DATE_EPOCH (one line naming it). */
int fsci__ptycho_timestamp(char out[FSCI__PTYCHO_TIMESTAMP_CAP]) FSCI_WUR;

/* What the metadata describes: the options, inputs, seed, the neighbour
 * pool actually used (min(K, points)), `np` scan points, `B` groups, object
 * of H x W, scales from `r`, and the creation time. */
typedef struct fsci__ptycho_meta {
    const fsci_ptycho_opts *o;
    const fsci_ptycho_inputs *in;
    uint64_t seed;
    int64_t K_used, np, B, H, W;
    const fsci_ptycho_report *r;
    const char *timestamp;
} fsci__ptycho_meta;

/* Add the string member "_metadata" to `sink`: JSON (2-space indent) in
 * PtychoPINN's schema 1.0.0, our own figures under additional_parameters
 * (doc/ptycho.md, "Metadata"). */
int fsci__ptycho_metadata_add(fsci_sink *sink, const fsci__ptycho_meta *d) FSCI_WUR;

#endif
