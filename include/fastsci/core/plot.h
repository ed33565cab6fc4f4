/* fastsci: colormaps, raw PNG images and PLplot figures.
 *
 * Three layers, from the lowest:
 *   - colormaps: 256-entry RGB tables (viridis, gray, a diverging cool-warm
 *     map, magma) looked up by a value t in [0, 1];
 *   - raw PNG (libpng): pixel-exact RGB images without axes, and a heatmap
 *     writer that maps a 2-D float view through a colormap;
 *   - figures (PLplot, pngcairo driver): line/marker plots and images with
 *     axes, labels, legend and a colour bar, for reports.
 *
 * Every writer creates a temporary file next to `path` and renames it over
 * `path` only when the image is complete, so a failure never leaves a partial
 * file behind. See doc/plots.md for the colormap sources and examples. */
#ifndef FASTSCI_CORE_PLOT_H
#define FASTSCI_CORE_PLOT_H

#include <stdint.h>

#include "fastsci/core/array.h"
#include "fastsci/core/defs.h"

/* ------------------------------------------------------------------ colormaps */

typedef enum fsci_cmap {
    FSCI_CMAP_VIRIDIS = 0, /* perceptually uniform, dark blue -> yellow (default) */
    FSCI_CMAP_GRAY,        /* black -> white */
    FSCI_CMAP_DIVERGING,   /* Moreland cool-warm: blue -> neutral grey -> red */
    FSCI_CMAP_MAGMA,       /* perceptually uniform, black -> pale yellow */
    FSCI_CMAP_COUNT
} fsci_cmap;

/* Colour given to NaN values ("bad" pixels) by every colormap: magenta, which
 * none of the maps contains. */
#define FSCI_CMAP_BAD_R 255
#define FSCI_CMAP_BAD_G 0
#define FSCI_CMAP_BAD_B 255

/* Parse a colormap name: "viridis", "gray" (or "grey"), "diverging" (or
 * "coolwarm"), "magma"; case-sensitive. FSCI_EINVAL naming the value if
 * unknown or NULL. */
FSCI_API int fsci_cmap_from_name(const char *name, fsci_cmap *out) FSCI_WUR;

/* Canonical name of a colormap ("viridis", ...; "invalid" otherwise). */
FSCI_API const char *fsci_cmap_name(fsci_cmap c);

/* Colour of the value t: t is clamped to [0, 1] (so -inf/+inf give the end
 * colours) and entry round(255 t) of the 256-entry table is returned; NaN
 * gives the bad colour. An invalid `c` also gives the bad colour.
 * Pure function, thread-safe. */
FSCI_API void fsci_cmap_rgb(fsci_cmap c, double t, uint8_t rgb[3]);

/* ---------------------------------------------------------------- raw PNG I/O */

/* Largest width or height accepted or produced by the PNG functions, and the
 * largest number of pixels fsci_png_read_rgb accepts (768 MiB of RGB). */
#define FSCI_PNG_MAX_SIDE 100000
#define FSCI_PNG_MAX_PIXELS (INT64_C(1) << 28)

/* Write an 8-bit RGB PNG: `rgb` holds height rows of width*3 bytes, row 0 at
 * the top, densely packed. width, height in [1, FSCI_PNG_MAX_SIDE].
 * Errors: FSCI_EINVAL (NULL, sizes), FSCI_EIO (cannot create/write the file;
 * no file is left behind). Thread-safe (no shared state). */
FSCI_API int fsci_png_write_rgb(const char *path, const uint8_t *rgb, int64_t width, int64_t height) FSCI_WUR;

/* Read any PNG as 8-bit RGB: palette, gray and 16-bit images are converted,
 * an alpha channel is dropped (not composited). On success *rgb is a new
 * buffer of (*width) * (*height) * 3 bytes, row 0 at the top, owned by the
 * caller (release with fsci_free). The image size is checked before any
 * allocation. Errors: FSCI_EINVAL (NULL), FSCI_EIO (cannot open), FSCI_EFORMAT
 * (not a PNG, corrupt or truncated; the message names the file), FSCI_ERANGE
 * (a side larger than FSCI_PNG_MAX_SIDE or more than FSCI_PNG_MAX_PIXELS
 * pixels), FSCI_ENOMEM. On failure *rgb is NULL.
 * Thread-safe. */
FSCI_API int fsci_png_read_rgb(const char *path, uint8_t **rgb, int64_t *width, int64_t *height) FSCI_WUR;

/* How a 2-D array of numbers becomes colours (heatmaps and image plots).
 * Zero-initialised means: viridis, autoscale, linear, no upscaling. */
typedef struct fsci_heatmap_opts {
    fsci_cmap cmap;
    int fixed_range;  /* 0: range from the finite data; 1: use vmin/vmax */
    double vmin;      /* data value shown with the first colour (data units) */
    double vmax;      /* data value shown with the last colour; vmin < vmax */
    int log10;        /* 1: colour by log10(max(value, log_floor)) */
    double log_floor; /* > 0 with log10; 0 = smallest positive finite value */
    int symmetric;    /* 1: range [-m, m], m = max(|lo|, |hi|); not with log10 */
    int upscale;      /* heatmap PNG only: each value becomes upscale^2 pixels,
                         1..256; 0 means 1 */
} fsci_heatmap_opts;

/* Write a 2-D view (shape [rows, cols], float32 or float64, any strides) as
 * an RGB PNG of cols*upscale x rows*upscale pixels, row 0 at the top, no axes.
 * Each value v becomes t = (v - lo) / (hi - lo) clamped to [0, 1] and then
 * fsci_cmap_rgb(t); NaN values get the bad colour, +-inf the end colours.
 * With autoscale [lo, hi] is the finite min/max (all values equal: every
 * pixel gets t = 0.5; no finite value: every pixel is bad). `o` may be NULL
 * for the defaults. Errors: FSCI_EINVAL (NULL, ndim != 2, empty, dtype,
 * option values; the message names the field), FSCI_EIO, FSCI_ENOMEM.
 * Thread-safe. */
FSCI_API int fsci_png_write_heatmap(const char *path, const fsci_view *img,
                                    const fsci_heatmap_opts *o) FSCI_WUR;

/* ------------------------------------------------------------ PLplot figures */

/* Default figure size in pixels. */
#define FSCI_PLOT_DEFAULT_WIDTH 900
#define FSCI_PLOT_DEFAULT_HEIGHT 600
/* Limits on a figure side in pixels. */
#define FSCI_PLOT_MIN_SIDE 200
#define FSCI_PLOT_MAX_SIDE 8000
/* Number of colours in the series palette (tab10-like). */
#define FSCI_PLOT_NCOLORS 10

typedef enum fsci_plot_style {
    FSCI_PLOT_LINE = 0,        /* connected line (default) */
    FSCI_PLOT_MARKERS = 1,     /* filled circles only */
    FSCI_PLOT_LINE_MARKERS = 2 /* both */
} fsci_plot_style;

/* One data series. Non-finite points (NaN, inf, or <= 0 on a log axis) are
 * skipped and break the line into separate pieces. */
typedef struct fsci_plot_series {
    const double *x;   /* n abscissae; NULL means 0, 1, ..., n-1 */
    const double *y;   /* n ordinates (required) */
    int64_t n;         /* >= 1 */
    const char *label; /* legend entry; NULL or "" keeps it out of the legend */
    fsci_plot_style style;
    int color;          /* 0: automatic (series i gets palette entry i mod 10);
                           1..FSCI_PLOT_NCOLORS: that palette entry */
    double line_width;  /* in pixels; 0 means 2 */
    double marker_size; /* relative to the default; 0 means 1 */
} fsci_plot_series;

/* A labelled vertical line across the plot (e.g. the edge of a valid range). */
typedef struct fsci_plot_vline {
    double x;
    const char *label; /* drawn next to the line's top; may be NULL */
} fsci_plot_vline;

typedef enum fsci_plot_legend {
    FSCI_LEGEND_TOP_RIGHT = 0, /* inside the plot area (default) */
    FSCI_LEGEND_TOP_LEFT,
    FSCI_LEGEND_BOTTOM_RIGHT,
    FSCI_LEGEND_BOTTOM_LEFT,
    FSCI_LEGEND_OUTSIDE_RIGHT, /* right of the plot area */
    FSCI_LEGEND_NONE
} fsci_plot_legend;

/* Options of fsci_plot_lines. Zero-initialised means: no title or labels,
 * linear axes, automatic ranges, 900 x 600, grid, legend top right. */
typedef struct fsci_plot_opts {
    const char *title, *xlabel, *ylabel; /* UTF-8; NULL means none */
    int logx, logy;                      /* 1: logarithmic axis (data must be > 0) */
    double xmin, xmax;                   /* xmin == xmax (e.g. both 0): automatic */
    double ymin, ymax;                   /* ymin == ymax: automatic */
    int width, height;                   /* pixels; 0 means the default */
    const fsci_plot_vline *vlines;       /* nvlines entries, or NULL */
    int nvlines;
    fsci_plot_legend legend;
    int no_grid;      /* 1: no background grid */
    int equal_aspect; /* 1: one unit in x as long as one in y
                         (positions, maps); linear axes only */
} fsci_plot_opts;

/* Draw `nseries` (1..1000) series into a PNG figure at `path`: white
 * background, labelled axes, title, legend (series with a label), optional
 * vertical marker lines (drawn under the data, dashed grey). Automatic ranges
 * cover all plottable points (plus the vertical lines) with a small margin.
 * Texts are UTF-8 and shown literally (PLplot's '#' escapes are disabled;
 * use Unicode for symbols and superscripts, e.g. "cm⁻²"). A series whose points
 * are all non-finite is drawn as nothing (it still appears in the legend).
 * Errors: FSCI_EINVAL (NULL, n < 1, sizes, bad option values, no plottable
 * point in any series; the message names the field and value), FSCI_ENOTSUP
 * (PLplot's pngcairo driver missing), FSCI_EIO (file not writable, or PLplot
 * reported an error; the message carries PLplot's text), FSCI_ENOMEM.
 * No file is left on failure; an existing file at `path` is replaced only on
 * success.
 * Thread-safe: all figures are serialised behind one process-wide lock, as
 * PLplot has global state. PLplot never exits the process from inside these
 * calls; if PLplot hits a fatal error it cannot recover from, this and later
 * figure calls return FSCI_EIO. */
FSCI_API int fsci_plot_lines(const char *path, const fsci_plot_series *series, int nseries,
                             const fsci_plot_opts *o) FSCI_WUR;

/* Options of fsci_plot_image. Zero-initialised means: pixel-index axes, row 0
 * at the top, viridis autoscaled, 900 x 600. */
typedef struct fsci_plot_image_opts {
    const char *title, *xlabel, *ylabel;
    const char *cbar_label; /* colour-bar label (units); NULL means none */
    double x0, x1;          /* x of the left edge of column 0 and right edge of
                               the last column; x0 == x1: 0 and cols */
    double y0, y1;          /* y of the outer edge of row 0 and of the last row;
                               y0 == y1: 0 and rows */
    int origin_lower;       /* 0: row 0 at the top; 1: row 0 at the bottom */
    int equal_aspect;       /* 1: one unit in x as long as one unit in y */
    fsci_heatmap_opts map;  /* colour mapping (upscale is ignored) */
    int width, height;      /* pixels; 0 means the default */
} fsci_plot_image_opts;

/* Draw a 2-D view (shape [rows, cols] up to 8192 x 8192, float32 or float64,
 * any strides) as an image with axes in physical units, a title and a
 * labelled colour bar. Each value is one cell (no interpolation); NaN pixels
 * get the bad colour. With map.log10 the colour bar is labelled in powers of
 * ten. Cost grows with the number of cells (about 0.7 s per megapixel):
 * downsample very large arrays first. Errors, atomic output and thread
 * safety as fsci_plot_lines. */
FSCI_API int fsci_plot_image(const char *path, const fsci_view *img, const fsci_plot_image_opts *o) FSCI_WUR;

#endif
