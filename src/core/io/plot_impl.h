/* fastsci private: the PLplot session and drawing helpers of plot.c, shared
 * by the figure kinds in plot_lines.c and plot_image.c. Everything here runs
 * under the figure lock taken by fsci__plot_render(). Not installed. */
#ifndef FASTSCI_CORE_IO_PLOT_IMPL_H
#define FASTSCI_CORE_IO_PLOT_IMPL_H

#include <plplot.h>
#include <stddef.h>

#include "fastsci/core/plot.h"

/* cmap0 indices of the palette set for every figure. */
enum {
    COL_BG = 0,
    COL_AXIS = 1,
    COL_GRID = 2,
    COL_TEXT = 3,
    COL_SERIES = 4, /* 4 .. 4 + FSCI_PLOT_NCOLORS - 1 */
    COL_BAD = COL_SERIES + FSCI_PLOT_NCOLORS,
    COL_VLINE,
    COL_LEGEND_BOX,
    NCOL0
};

/* Draws one figure on the initialised page (width x height pixels). */
typedef void (*fsci__plot_draw_fn)(void *ctx, int width, int height);

/* Draw a figure into `path` atomically: temporary file, PLplot session under
 * the figure lock, decode check of the result, rename. `what` names the
 * figure kind in messages. */
int fsci__plot_render(const char *path, int width, int height, fsci__plot_draw_fn draw, void *ctx,
                      const char *what);

/* Option checks shared by the figure kinds (FSCI_EINVAL with a message). */
int fsci__plot_check_flag(int v, const char *what, const char *field);
int fsci__plot_check_size(int *w, int *h, int ow, int oh, const char *what);

/* ---- layout helpers ------------------------------------------------------------- */

static inline int fsci__plot_has_text(const char *s)
{
    return s && *s;
}

double fsci__plot_scale(int width, int height);
int fsci__plot_utf8_len(const char *s);
double fsci__plot_text_base(int width, double s);
void fsci__plot_page_metrics(double *ch_mm, double *pw_mm, double *ph_mm);
void fsci__plot_set_font(int bold);
void fsci__plot_labels(const char *title, const char *xlabel, const char *ylabel, double tb, double xdisp,
                       double ydisp);
double fsci__plot_left_margin(int ylen, int has_ylabel, int ticks_out, double *ydisp);
void fsci__plot_world_per_pixel(int width, int height, double *ux, double *uy);
void fsci__plot_disc(double x, double y, double r, double ux, double uy);

/* ---- escaped texts: PLplot's escape character '#' doubled ----------------------- */

/* Escaped copies of a figure's texts, in one arena. */
typedef struct fsci__plot_text {
    const char *title, *xlabel, *ylabel, *cbar;
    char *arena;
} fsci__plot_text;

size_t fsci__plot_esc_size(const char *s);
const char *fsci__plot_esc_put(char **cur, const char *s);

/* ---- tick labels of linear axes --------------------------------------------------- */

typedef struct fsci__plot_axis {
    double step;  /* tick interval */
    int decimals; /* digits after the point (of the mantissa with sci) */
    int sci;      /* 1: scientific labels */
    int exp10;    /* exponent for sci labels */
    int maxlen;   /* widest label drawn so far, in characters */
} fsci__plot_axis;

/* x, y (the colour bar uses y): the label function's data. */
extern fsci__plot_axis fsci__plot_fmt[2];

void fsci__plot_axis_init(fsci__plot_axis *f, double lo, double hi, double nticks);
void fsci__plot_tick_label(PLINT axis, PLFLT v, char *out, PLINT len, PLPointer data);
int fsci__plot_axis_width(fsci__plot_axis *f, double lo, double hi);

#endif
