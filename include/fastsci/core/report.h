/* fastsci: the HTML report of `fastsci demo`: one page, one section per engine,
 * figures as PNG files beside it. Engines write their demo sections through it
 * (fsci_engine.demo). Not thread-safe: one report per thread. */
#ifndef FASTSCI_CORE_REPORT_H
#define FASTSCI_CORE_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "fastsci/core/defs.h"

typedef struct fsci_report fsci_report;

/* Create `dir` if needed and start index.html (written to a temporary name and
 * renamed by fsci_report_close, so a failed demo leaves no half page). */
FSCI_API int fsci_report_open(const char *dir, fsci_report **out) FSCI_WUR;

/* Full path of a file inside the report directory, written to buf. */
FSCI_API void fsci_report_path(const fsci_report *r, const char *name, char *buf, size_t cap);

/* A section heading with an introductory paragraph (HTML allowed). */
FSCI_API void fsci_report_section(fsci_report *r, const char *id, const char *title, const char *intro);

/* A figure: the PNG `name` (already written into the report directory) and its caption. */
FSCI_API void fsci_report_figure(fsci_report *r, const char *name, const char *caption);

/* Raw HTML, printf-style. */
FSCI_API void fsci_report_html(fsci_report *r, const char *fmt, ...) FSCI_PRINTF(2, 3);

/* Finish the page and rename it into place; releases the report (*r = NULL). */
FSCI_API int fsci_report_close(fsci_report **r) FSCI_WUR;

/* Discard a page that could not be completed; accepts NULL and *r == NULL. */
FSCI_API void fsci_report_abort(fsci_report **r);

/* The core library's section of the demo report (the generator, measured rates). */
struct fsci_ctx;
FSCI_API int fsci_core_demo(fsci_report *r, const struct fsci_ctx *ctx, bool quick) FSCI_WUR;

#endif
