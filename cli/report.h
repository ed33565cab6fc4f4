/* The HTML report written by `fastsci demo`: one page, one section per engine,
 * figures as PNG files beside it. */
#ifndef FASTSCI_CLI_REPORT_H
#define FASTSCI_CLI_REPORT_H

#include "cli.h"

typedef struct report report;

/* Create `dir` if needed and start index.html (written to a temporary name
 * and renamed by report_close, so a failed demo leaves no half page). */
int report_open(const char *dir, report **out);

/* Full path of a file inside the report directory (static buffer per call site
 * is not used: the result is written to buf). */
void report_path(const report *r, const char *name, char *buf, size_t cap);

/* A section heading with an introductory paragraph (HTML allowed). */
void report_section(report *r, const char *id, const char *title, const char *intro);

/* A figure: the PNG `name` (already written into the report directory) and
 * its caption. */
void report_figure(report *r, const char *name, const char *caption);

/* Raw HTML, printf-style. */
void report_html(report *r, const char *fmt, ...) FSCI_PRINTF(2, 3);

/* Finish the page and rename it into place; returns CLI_OK or CLI_FAIL. */
int report_close(report **r);

/* Discard a page that could not be completed. */
void report_abort(report **r);

/* One engine's part of the demo. */
typedef struct demo_section {
    const char *name; /* for --only */
    const char *title;
    int (*run)(report *r, const cli_common *common, bool quick);
} demo_section;

#endif
