/* fastsci: named profiling events.
 *
 * Register an event once by name, then bracket each phase:
 *     static fsci_event ev = -1;  fsci_profile_register("ptycho.fft", &ev);
 *     double t0 = fsci_profile_begin(ev);  ...;  fsci_profile_end(ev, t0, bytes, flops);
 * begin/end cost two clock reads when profiling is on and nothing when it is off.
 * The report prints time, calls, and GB/s or GFLOP/s from the declared bytes and
 * flops. Thread-safe: events may be timed from any thread (times add up). */
#ifndef FASTSCI_CORE_PROFILE_H
#define FASTSCI_CORE_PROFILE_H

#include <stdbool.h>
#include <stdio.h>

#include "fastsci/core/defs.h"

typedef int fsci_event;

#define FSCI_PROFILE_MAX_EVENTS 128

typedef struct fsci_profile_entry {
    const char *name;
    int64_t calls;
    double seconds; /* summed wall time */
    double bytes;   /* summed declared bytes moved */
    double flops;   /* summed declared floating-point operations */
} fsci_profile_entry;

/* Register `name` (or find it if already registered) and store its id in *id.
 * If *id is already >= 0 nothing is done, so a static id registers once.
 * FSCI_ERANGE when the table is full. */
FSCI_API int fsci_profile_register(const char *name, fsci_event *id) FSCI_WUR;

/* Turn collection on or off (off by default). */
FSCI_API void fsci_profile_enable(bool on);
FSCI_API bool fsci_profile_enabled(void);

/* Monotonic wall clock in seconds. */
FSCI_API double fsci_clock(void);

/* Start timing: returns the start time (0 when profiling is off). */
FSCI_API double fsci_profile_begin(fsci_event id);

/* Stop timing an event begun at t0; bytes/flops may be 0. */
FSCI_API void fsci_profile_end(fsci_event id, double t0, double bytes, double flops);

/* Add time measured elsewhere (e.g. summed over the threads of a parallel
 * region, then added once): `calls` calls taking `seconds` in all. */
FSCI_API void fsci_profile_add(fsci_event id, double seconds, int64_t calls, double bytes, double flops);

/* Number of registered events and a copy of entry i. */
FSCI_API int fsci_profile_count(void);
FSCI_API int fsci_profile_get(int i, fsci_profile_entry *out) FSCI_WUR;

/* Zero all counters (events stay registered). */
FSCI_API void fsci_profile_reset(void);

/* Print the table of events with at least one call: name, calls, total s,
 * ms per call, and GB/s and GFLOP/s where bytes/flops were declared. */
FSCI_API void fsci_profile_report(FILE *f);

#endif
