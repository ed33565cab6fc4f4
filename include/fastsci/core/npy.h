/* fastsci: NumPy .npy and .npz files.
 *
 * Reading: .npy versions 1.0, 2.0 and 3.0; dtypes float32, float64, complex64,
 * complex128, int32, int64, uint8 and uint16 in either byte order ('<', '>',
 * '|'; big-endian data is converted to native order); ndim 0..8; C order or
 * Fortran order ('fortran_order': True gives an owning array with Fortran
 * strides). .npz archives are ZIP files of .npy members, stored or deflated,
 * with or without zip64 records; opening parses only the central directory and
 * reading a member decompresses only that member, straight into the array.
 *
 * Writing: .npy version 1.0 (2.0 only if the header needs it), native byte
 * order, header padded so the data starts at a multiple of 64 bytes, as
 * numpy.save does. .npz members are stored or deflated with zip64 records when
 * a size or offset does not fit in 32 bits. Every write goes through the
 * atomic writer (fastsci/core/atomic.h): a temporary file in the destination
 * directory renamed over the destination only when complete; on any failure
 * the temporary file is removed, so a failed or aborted write leaves no
 * partial output (and an existing file untouched). A character device
 * (/dev/null) is written in place; a FIFO is refused.
 *
 * Safety: every size read from a file is checked against the bytes actually
 * present before anything is allocated; a truncated or corrupt input gives
 * FSCI_EFORMAT with a message naming the file, the member and the problem.
 * See doc/io.md.
 *
 * Thread safety: distinct handles are independent; one handle must not be
 * used by two threads at the same time. The error message is per thread. */
#ifndef FASTSCI_CORE_NPY_H
#define FASTSCI_CORE_NPY_H

#include <stdbool.h>

#include "fastsci/core/array.h"
#include "fastsci/core/defs.h"

/* ---- .npy ---------------------------------------------------------------- */

/* Read a whole .npy file into a new owning array (*out, free with
 * fsci_array_destroy). C-order files give C strides, Fortran-order files give
 * Fortran strides; data is in native byte order.
 * Returns FSCI_OK; FSCI_EIO if the file cannot be opened or read (message
 * names the path and the system error); FSCI_EFORMAT for a malformed or
 * truncated file; FSCI_ENOTSUP for a dtype outside the list above (message
 * names the descr, e.g. '<f2'), more than 8 dimensions or an unknown format
 * version; FSCI_ENOMEM if the array cannot be allocated. *out is NULL on
 * failure. A path that is not a regular file (FIFO, device, directory) is
 * refused at once with FSCI_EIO ("f: is a FIFO, not a regular file"). Memory needed: the array plus a small
 * header buffer. */
FSCI_API int fsci_npy_read(const char *path, fsci_array **out) FSCI_WUR;

/* As fsci_npy_read, converted to `dtype` as fsci_npz_read_as does (errors
 * name the file). */
FSCI_API int fsci_npy_read_as(const char *path, fsci_dtype dtype, fsci_array **out) FSCI_WUR;

/* As fsci_npy_read, from the `len` bytes at `buf` (not retained). `name` is
 * used in error messages (NULL gives "<memory>"). */
FSCI_API int fsci_npy_read_mem(const void *buf, size_t len, const char *name, fsci_array **out) FSCI_WUR;

/* Write view `v` (any dtype above, ndim 0..8, any strides, including negative
 * and non-contiguous ones) to `path` atomically. A Fortran-contiguous view
 * that is not also C-contiguous is written with 'fortran_order': True; every
 * other view is written in C order (gathered through a small buffer when it
 * is not contiguous). Returns FSCI_OK, FSCI_EINVAL for a bad view or path,
 * FSCI_EIO on a system error (nothing is left at `path`, and no temporary
 * file), FSCI_ENOMEM. */
FSCI_API int fsci_npy_write(const char *path, const fsci_view *v) FSCI_WUR;

/* ---- .npz reading --------------------------------------------------------- */

typedef struct fsci_npz fsci_npz;

/* Open the archive at `path`: reads and checks the end-of-central-directory
 * record (and the zip64 one when present) and the central directory; member
 * data is read only by the functions below. Two entries with the same name
 * (or "a" and "a.npy") are refused with FSCI_EFORMAT naming the member
 * (numpy keeps the last one silently). A path that is not a regular file
 * (FIFO, device, directory) is refused with FSCI_EIO without blocking. The file stays open until
 * fsci_npz_close. Returns FSCI_OK, FSCI_EIO (cannot open/read, naming the
 * path), FSCI_EFORMAT (not a zip archive, truncated, inconsistent directory),
 * FSCI_ENOTSUP (multi-disk archive), FSCI_ENOMEM. */
FSCI_API int fsci_npz_open(const char *path, fsci_npz **out) FSCI_WUR;

/* As fsci_npz_open, on `len` bytes at `buf`, which must stay valid and
 * unchanged until fsci_npz_close. `name` is used in messages (NULL gives
 * "<memory>"). */
FSCI_API int fsci_npz_open_mem(const void *buf, size_t len, const char *name, fsci_npz **out) FSCI_WUR;

/* Number of members (0 for NULL). */
FSCI_API int64_t fsci_npz_count(const fsci_npz *z);

/* Name of member i (0 <= i < count) with any ".npy" suffix removed, as numpy
 * shows it; NULL if i is out of range. Valid until fsci_npz_close. */
FSCI_API const char *fsci_npz_name(const fsci_npz *z, int64_t i);

/* True if a member "name.npy" (or exactly "name") exists. */
FSCI_API bool fsci_npz_has(const fsci_npz *z, const char *name);

/* Read member `name` (with or without ".npy") into a new owning array, as
 * fsci_npy_read does; only this member is read and decompressed, straight
 * into the array (no second copy). The member's CRC-32 is verified.
 * Returns FSCI_OK; FSCI_EINVAL if there is no such member (message lists the
 * members, e.g. "f.npz: no member 'x' (members: a, b)"); FSCI_EFORMAT for a
 * corrupt or truncated member (message names the file and the member);
 * FSCI_ENOTSUP for an unsupported dtype or compression method or an
 * encrypted member; FSCI_EIO, FSCI_ENOMEM. */
FSCI_API int fsci_npz_read(fsci_npz *z, const char *name, fsci_array **out) FSCI_WUR;

/* As fsci_npz_read, converted to `dtype`: a real member (float or integer)
 * reads as float32, float64, complex64 or complex128 (values converted, the
 * imaginary part 0); a complex member as either complex dtype; an integer
 * dtype only from the same dtype. Otherwise FSCI_EINVAL naming the file, the
 * member and both dtypes, e.g. "f.npz: member 'rsp': dtype complex64
 * cannot be read as float64". Other errors as fsci_npz_read. */
FSCI_API int fsci_npz_read_as(fsci_npz *z, const char *name, fsci_dtype dtype, fsci_array **out) FSCI_WUR;

/* Read only the .npy header of member `name`: dtype, ndim and shape (an array
 * of FSCI_MAX_NDIM; entries past ndim are set to 0). Any of the outputs may
 * be NULL. Errors as fsci_npz_read (the data and CRC are not checked). */
FSCI_API int fsci_npz_peek(fsci_npz *z, const char *name, fsci_dtype *dtype, int *ndim,
                           int64_t *shape) FSCI_WUR;

/* Read a member holding one numpy unicode string (dtype '<U{n}' or '>U{n}',
 * one element, normally 0-d) and return it as a new NUL-terminated UTF-8
 * string (*utf8_out, free with fsci_free). Trailing NUL code points are
 * dropped as numpy does. FSCI_EINVAL if the member is missing or is not a
 * unicode string; FSCI_EFORMAT if it is corrupt or holds a code point that is
 * not a Unicode scalar value (or an embedded U+0000). */
FSCI_API int fsci_npz_read_string(fsci_npz *z, const char *name, char **utf8_out) FSCI_WUR;

/* Close the archive and release everything; accepts NULL and *z == NULL,
 * clears *z. */
FSCI_API void fsci_npz_close(fsci_npz **z);

/* ---- .npz writing --------------------------------------------------------- */

typedef struct fsci_npz_writer fsci_npz_writer;

/* Start writing an archive that will appear at `path` when
 * fsci_npz_writer_close succeeds. Data goes to a temporary file
 * "<path>.<pid>-<n>.tmp" in the same directory. `compress` selects deflate
 * (as numpy.savez_compressed, zlib's default level) instead of stored members
 * (as numpy.savez). Returns FSCI_OK, FSCI_EINVAL, FSCI_EIO (cannot create the
 * temporary file, naming it and the system error), FSCI_ENOMEM. */
FSCI_API int fsci_npz_writer_create(const char *path, bool compress, fsci_npz_writer **out) FSCI_WUR;

/* Add member "name.npy" holding view `v` (written as fsci_npy_write would).
 * `name` must be non-empty, must not contain '/' or '\\' and must differ from
 * every member added so far. FSCI_EINVAL for a bad name or view or while a
 * streamed member is open (the writer stays usable); an I/O failure
 * (FSCI_EIO) poisons the writer: later calls fail and close removes the
 * temporary file. */
FSCI_API int fsci_npz_writer_add(fsci_npz_writer *w, const char *name, const fsci_view *v) FSCI_WUR;

/* Add member "name.npy" holding a 0-d numpy unicode string ('<U{n}', UCS-4
 * little-endian) with the text of the NUL-terminated UTF-8 string `utf8`
 * (FSCI_EINVAL if it is not valid UTF-8). numpy reads it back with
 * np.load(f)[name].item(). */
FSCI_API int fsci_npz_writer_add_string(fsci_npz_writer *w, const char *name, const char *utf8) FSCI_WUR;

/* Streaming member: begin member "name.npy" with the given dtype and C-order
 * shape (ndim 0..8, shape[k] >= 0), then pass the raw native-order C-order
 * bytes in any number of fsci_npz_writer_write calls of any size, then call
 * fsci_npz_writer_end. Only small buffers are held, whatever the member size;
 * the local header is patched in place once the CRC and sizes are known.
 * write fails (FSCI_EINVAL) if it would exceed the declared size; end fails
 * (FSCI_EINVAL) if fewer bytes were written. Either failure, or an I/O error,
 * poisons the writer (the member would be incomplete). */
FSCI_API int fsci_npz_writer_begin(fsci_npz_writer *w, const char *name, fsci_dtype dtype, int ndim,
                                   const int64_t *shape) FSCI_WUR;
FSCI_API int fsci_npz_writer_write(fsci_npz_writer *w, const void *data, size_t nbytes) FSCI_WUR;
FSCI_API int fsci_npz_writer_end(fsci_npz_writer *w) FSCI_WUR;

/* Finish the archive (central directory, zip64 end records if needed), flush
 * and sync the temporary file and rename it to the destination. On any
 * failure (including a poisoned writer or a streamed member left open) the
 * temporary file is removed, nothing appears at the destination and the
 * first error is returned. The writer is freed and *w cleared either way;
 * NULL or *w == NULL returns FSCI_EINVAL. */
FSCI_API int fsci_npz_writer_close(fsci_npz_writer **w) FSCI_WUR;

/* Discard the archive: remove the temporary file, free the writer, clear *w.
 * Accepts NULL and *w == NULL. */
FSCI_API void fsci_npz_writer_abort(fsci_npz_writer **w);

#endif
