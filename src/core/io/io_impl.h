/* fastsci private: declarations shared by the files of src/core/io (and the
 * fuzz targets and tests). Not installed. */
#ifndef FASTSCI_CORE_IO_IO_IMPL_H
#define FASTSCI_CORE_IO_IO_IMPL_H

#include <stdint.h>
#include <stdio.h>

#include "fastsci/core/array.h"
#include "fastsci/core/error.h"
#include "fastsci/core/plot.h"

/* ---- inputs (input.c) ---------------------------------------------------------- */

/* What a stat mode is, for messages: "a regular file", "a directory", "a FIFO",
 * "a character device", "a block device", "a socket", "a symbolic link". */
const char *fsci__file_kind(unsigned mode);

/* Open `path` for reading without ever blocking: O_NONBLOCK open (a FIFO
 * opens at once), fstat, then anything but a regular file is refused with
 * FSCI_EIO and one line "<path>: is a FIFO, not a regular file". On
 * success *fd is a blocking descriptor and *size the file size. FSCI_EIO
 * naming the path and the system error if it cannot be opened. */
int fsci__input_open(const char *path, int *fd, uint64_t *size);

/* strerror_r into buf, never NULL. */
const char *fsci__errstr(int err, char *buf, size_t cap);

/* ---- colormap.c: value -> colour position, shared by png.c and plot.c ------------ */

int fsci__cmap_check_image(const fsci_view *img, const char *what);
double fsci__cmap_view_get(const fsci_view *img, int64_t r, int64_t c);
int fsci__cmap_scale(const fsci_view *img, const fsci_heatmap_opts *o, const char *what, double *lo,
                     double *hi, double *floor_out);
double fsci__cmap_position(double v, double lo, double hi, int logscale, double floor_);

/* ---- png.c ------------------------------------------------------------------------ */

/* Decode a PNG held in memory (as fsci_png_read_rgb; `name` for messages).
 * For the fuzz target. */
int fsci__png_read_mem(const void *buf, size_t len, const char *name, uint8_t **rgb, int64_t *width,
                       int64_t *height);

/* ---- plot.c ----------------------------------------------------------------------- */

/* Test hook: 1 makes the next figure hit a fatal PLplot error (plexit) while
 * drawing, 2 a recoverable one (plabort). */
void fsci__plot_test_fault(int mode);

#endif
