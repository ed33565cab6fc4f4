/* fastsci: multi-page grayscale TIFF stacks, through libtiff.
 *
 * A stack is a TIFF file whose pages (image file directories) all hold one
 * grayscale image of the same height, width and sample type, read as an
 * array of shape (pages, h, w). Pages are counted from 0, in file order.
 *
 * Reading: classic TIFF and BigTIFF, either byte order (converted to native
 * order); one sample per pixel, PhotometricInterpretation min-is-black
 * (absent counts as min-is-black), Orientation top-left (absent counts as
 * top-left); BitsPerSample / SampleFormat 8 / uint (uint8), 16 / uint
 * (uint16), 32 / IEEE float (float32); strips or tiles; compression none,
 * LZW, deflate (Adobe, 8, and the old code 32946), with or without a
 * horizontal (2) or floating-point (3) predictor. Anything else is refused,
 * with one line naming the file, the page, the field and its value, e.g.
 * "x.tif: page 3: BitsPerSample = 12 (8, 16 or 32 float)".
 *
 * Writing: little-endian (the host's order), one strip per ~64 KiB, the same
 * tags on every page (ImageWidth, ImageLength, BitsPerSample, SampleFormat,
 * SamplesPerPixel 1, min-is-black, RowsPerStrip, Compression; LZW and deflate
 * pages of uint8/uint16 carry the horizontal predictor; deflate at level 1). Classic TIFF, or
 * BigTIFF where fsci_tiff_write knows the file may pass 4 GiB. Through the
 * atomic writer (fastsci/core/atomic.h): nothing appears at the path before
 * commit, an existing file is untouched on any failure.
 *
 * libtiff's error and warning messages never reach stderr: each handle
 * collects them and the first error ends up in fastsci's per-thread message.
 * See doc/io.md.
 *
 * Thread safety: distinct handles are independent (no global libtiff state is
 * touched); one handle must not be used by two threads at the same time. */
#ifndef FASTSCI_CORE_TIFF_H
#define FASTSCI_CORE_TIFF_H

#include <stdint.h>

#include "fastsci/core/array.h"
#include "fastsci/core/defs.h"

typedef enum fsci_tiff_compression {
    FSCI_TIFF_NONE = 0,
    FSCI_TIFF_LZW,
    FSCI_TIFF_DEFLATE /* reading: TIFF codes 8 and 32946; writing: 8 */
} fsci_tiff_compression;

typedef struct fsci_tiff_info {
    int64_t pages, h, w;
    fsci_dtype dtype;                  /* FSCI_U8, FSCI_U16 or FSCI_F32 */
    fsci_tiff_compression compression; /* of page 0 (pages may differ) */
} fsci_tiff_info;

/* ---- reading ------------------------------------------------------------------ */

typedef struct fsci_tiff_reader fsci_tiff_reader;

/* Open `path` and check every page up front: same h and w (> 0) and dtype as
 * page 0, one sample per pixel, a supported bit depth, sample format,
 * photometric interpretation, orientation and compression, strips or tiles
 * that lie inside the file, and a plausible size (an uncompressed page must
 * be stored in full; a compressed one may expand at most 4096 times), so that
 * reading allocates no more than the file can hold. A path that is not a
 * regular file (FIFO, device, directory) is refused at once without blocking.
 * Returns FSCI_OK; FSCI_EIO (cannot open or read, naming the path and the
 * system error); FSCI_EFORMAT (not a TIFF, truncated or corrupt);
 * FSCI_ENOTSUP (a valid TIFF outside the list in the header comment, or pages
 * that differ in size or dtype); FSCI_ENOMEM. *out is NULL on failure. The file stays open
 * until fsci_tiff_close. Memory: libtiff's directory of the current page. */
FSCI_API int fsci_tiff_open(const char *path, fsci_tiff_reader **out) FSCI_WUR;

/* The stack's shape, dtype and compression; NULL for a NULL reader. Valid
 * until fsci_tiff_close. */
FSCI_API const fsci_tiff_info *fsci_tiff_reader_info(const fsci_tiff_reader *r);

/* Decode page `page` (0 <= page < pages) into `dst`: h*w elements of
 * info.dtype, row-major (C order, rows top to bottom), native byte order.
 * Pages may be read in any order, any number of times. Returns FSCI_OK;
 * FSCI_EINVAL (NULL argument, page out of range); FSCI_EFORMAT (a corrupt or
 * truncated strip or tile, naming the page and libtiff's message); FSCI_EIO;
 * FSCI_ENOMEM. On failure the contents of `dst` are unspecified. Memory: one
 * tile for a tiled page, libtiff's buffer of one compressed strip or tile. */
FSCI_API int fsci_tiff_read_page(fsci_tiff_reader *r, int64_t page, void *dst) FSCI_WUR;

/* Close the file and free the reader; accepts NULL and *r == NULL, clears *r. */
FSCI_API void fsci_tiff_close(fsci_tiff_reader **r);

/* Read the whole stack into a new owning C-order array of shape
 * (pages, h, w) (*out, free with fsci_array_destroy). Errors as
 * fsci_tiff_open and fsci_tiff_read_page; *out is NULL on failure. */
FSCI_API int fsci_tiff_read(const char *path, fsci_array **out) FSCI_WUR;

/* ---- writing ------------------------------------------------------------------ */

typedef struct fsci_tiff_writer fsci_tiff_writer;

/* Start a stack of h x w pages of `dtype` (FSCI_U8, FSCI_U16 or FSCI_F32)
 * compressed with `c`, written as classic TIFF to a temporary file in the
 * destination's directory; nothing is visible at `path` until
 * fsci_tiff_writer_commit. The destination must be a regular file or nothing
 * yet (a device is refused: libtiff reads its own output back). Returns
 * FSCI_OK; FSCI_EINVAL (bad path, size or dtype, h or w outside
 * [1, 2^32 - 1]); FSCI_EIO (cannot create the temporary file, naming the path
 * and the system error); FSCI_ENOMEM. */
FSCI_API int fsci_tiff_writer_open(const char *path, int64_t h, int64_t w, fsci_dtype dtype,
                                   fsci_tiff_compression c, fsci_tiff_writer **out) FSCI_WUR;

/* Append one page: h*w elements of the writer's dtype, row-major, native
 * order (not modified). Returns FSCI_OK; FSCI_EINVAL (NULL argument);
 * FSCI_EIO on a write error (a full disk, a file-size limit: message names
 * the destination and the system error); FSCI_ERANGE when a classic TIFF
 * would pass 4 GiB. Any failure poisons the writer: later calls fail and
 * commit removes the temporary file. Memory: one strip (~64 KiB). */
FSCI_API int fsci_tiff_write_page(fsci_tiff_writer *tw, const void *src) FSCI_WUR;

/* Finish the file and rename it over the destination. Fails (removing the
 * temporary file, leaving the destination untouched) if no page was written
 * (FSCI_EINVAL), after an earlier failure, or on a write error (FSCI_EIO).
 * The writer is freed and *tw cleared either way; NULL or *tw == NULL gives
 * FSCI_EINVAL. */
FSCI_API int fsci_tiff_writer_commit(fsci_tiff_writer **tw) FSCI_WUR;

/* Discard: remove the temporary file, free the writer, clear *tw; the
 * destination is untouched. Accepts NULL and *tw == NULL. */
FSCI_API void fsci_tiff_writer_abort(fsci_tiff_writer **tw);

/* Write view `v` as a stack: ndim 2 (h, w) gives one page, ndim 3
 * (pages, h, w) gives `pages` pages; dtype FSCI_U8, FSCI_U16 or FSCI_F32; any
 * strides (negative and non-contiguous too: gathered strip by strip). BigTIFF
 * when the uncompressed data would come near 4 GiB. Errors as the writer
 * functions above; FSCI_EINVAL for a bad view (message names the dtype or the
 * shape). */
FSCI_API int fsci_tiff_write(const char *path, const fsci_view *v, fsci_tiff_compression c) FSCI_WUR;

#endif
