/* fastsci: progress reporting for long jobs, and warnings.
 *
 * On a terminal: one line redrawn in place, "label [#####.....]  45%  2250/5000
 * 1.2k items/s  ETA 0:03". Otherwise (a log file, CI): a plain line every 10 %
 * or every 10 s. In quiet mode: nothing. Output goes to stderr unless a sink is
 * installed (the Python module installs one). fsci_progress_add() may be
 * called from any thread; drawing happens on whichever thread crosses the next
 * redraw time, behind a lock. */
#ifndef FASTSCI_CORE_PROGRESS_H
#define FASTSCI_CORE_PROGRESS_H

#include "fastsci/core/defs.h"

typedef enum fsci_progress_mode {
    FSCI_PROGRESS_AUTO = 0, /* bar if stderr is a terminal, plain lines otherwise */
    FSCI_PROGRESS_BAR,
    FSCI_PROGRESS_LINES,
    FSCI_PROGRESS_QUIET
} fsci_progress_mode;

/* Process-wide mode (default AUTO). */
FSCI_API void fsci_progress_set_mode(fsci_progress_mode mode);
FSCI_API fsci_progress_mode fsci_progress_get_mode(void);

/* Jobs shorter than this (seconds, default 1) print nothing: no bar, no
 * lines, no final line. 0 reports every job (tests). */
FSCI_API void fsci_progress_set_min_time(double seconds);

/* Receives each finished piece of text (a bar redraw starts with '\r').
 * NULL restores the default (stderr). */
typedef void (*fsci_text_sink)(const char *text, void *userdata);
FSCI_API void fsci_progress_set_sink(fsci_text_sink sink, void *userdata);

typedef struct fsci_progress fsci_progress;

/* Start a job of `total` units named `unit` ("patterns", "steps"). */
FSCI_API int fsci_progress_create(const char *label, int64_t total, const char *unit,
                                  fsci_progress **out) FSCI_WUR;

/* Add `delta` finished units. Thread-safe. */
FSCI_API void fsci_progress_add(fsci_progress *p, int64_t delta);

/* Print the final state (100 %, elapsed time, mean rate) and end the line. */
FSCI_API void fsci_progress_finish(fsci_progress *p);

/* Release; accepts NULL. Does not print. */
FSCI_API void fsci_progress_destroy(fsci_progress **p);

/* Format a rate or count with k/M/G suffix ("1.23M"). */
FSCI_API void fsci_format_si(double v, char *buf, size_t cap);

/* Print a warning line "fastsci: warning: ..." through the sink unless quiet. */
FSCI_API void fsci_warn(const char *fmt, ...) FSCI_PRINTF(1, 2);

#endif
