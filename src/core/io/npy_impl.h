/* fastsci private: pieces shared by the .npy and .npz readers and writers
 * (npy_stream.c, npy_read.c, npy_write.c, npz_read.c, npz_write.c). Not
 * installed. */
#ifndef FASTSCI_CORE_IO_NPY_IMPL_H
#define FASTSCI_CORE_IO_NPY_IMPL_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#ifndef ZLIB_CONST
#define ZLIB_CONST /* next_in is const */
#endif
#include <zlib.h>

#include "fastsci/core/array.h"
#include "fastsci/core/error.h"

/* True on a little-endian host. */
static inline bool fsci__host_is_le(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* ---- error messages: "<file>: member '<m>': <what>" ------------------------- */

int fsci__io_error(int code, const char *file, int line, const char *func, const char *fname,
                   const char *member, const char *fmt, ...) FSCI_PRINTF(7, 8);

#define FSCI__IOERR(code, fname, member, ...)                                                                \
    fsci__io_error((code), __FILE__, __LINE__, __func__, (fname), (member), __VA_ARGS__)

/* Re-record the current error with "<file>: member '<m>': " in front (used
 * after a callee that does not know the file name, e.g. an allocation). */
int fsci__io_error_prefix(int code, const char *fname, const char *member);

/* ---- random-access input: a file (pread) or a caller's buffer -------------- */

typedef struct fsci__blob {
    const unsigned char *mem; /* memory input, or NULL for a file */
    int fd;                   /* file input when mem == NULL, else -1 */
    uint64_t size;
} fsci__blob;

/* Open a regular file for reading; FSCI_EIO naming `path` on failure. */
int fsci__blob_open(fsci__blob *b, const char *path);
void fsci__blob_mem(fsci__blob *b, const void *buf, size_t len);
void fsci__blob_close(fsci__blob *b);
/* Read exactly n bytes at off; the caller has checked off + n <= size.
 * FSCI_EIO on a read error, FSCI_EFORMAT if the file shrank. */
int fsci__blob_read(const fsci__blob *b, uint64_t off, void *dst, size_t n, const char *fname,
                    const char *member);

/* ---- sequential reader of one stream: a plain .npy or a zip member --------- */

typedef struct fsci__rd {
    const fsci__blob *b;
    const char *fname, *member;  /* for messages; member NULL for a plain .npy */
    int method;                  /* 0: bytes as stored, 8: raw deflate */
    uint64_t in_pos, in_end;     /* stored/compressed bytes still to consume */
    uint64_t out_done, out_size; /* uncompressed bytes delivered / available */
    bool crc_check;
    uint32_t crc, crc_expect;
    z_stream zs;
    bool zinit, zend;
    unsigned char *inbuf; /* file-backed deflate input buffer */
} fsci__rd;

/* Reader over [off, off + len) of b, delivered as is. */
void fsci__rd_init_stored(fsci__rd *r, const fsci__blob *b, uint64_t off, uint64_t len, const char *fname,
                          const char *member);
/* Reader inflating [off, off + clen) of b into at most usize bytes. */
int fsci__rd_init_deflate(fsci__rd *r, const fsci__blob *b, uint64_t off, uint64_t clen, uint64_t usize,
                          const char *fname, const char *member);
/* Exactly n bytes or FSCI_EFORMAT (truncated/corrupt). */
int fsci__rd_read(fsci__rd *r, void *dst, size_t n);
static inline uint64_t fsci__rd_remaining(const fsci__rd *r)
{
    return r->out_size - r->out_done;
}
/* Consume the rest of the stream, check it ends exactly at the declared size
 * and (if crc_check) that the CRC-32 matches. */
int fsci__rd_finish(fsci__rd *r);
void fsci__rd_free(fsci__rd *r);

/* ---- .npy header ------------------------------------------------------------ */

enum { FSCI__NPY_NUMERIC = 0, FSCI__NPY_UNICODE = 1 };

typedef struct fsci__npy_hdr {
    int kind;         /* FSCI__NPY_NUMERIC or FSCI__NPY_UNICODE */
    char descr[128];  /* as in the file, for messages */
    fsci_dtype dtype; /* numeric only */
    size_t itemsize;  /* bytes per element (4 * nchars for unicode) */
    bool swap;        /* file byte order differs from the host's */
    bool file_be;     /* the file's data is big-endian */
    bool fortran;
    int ndim;
    int64_t shape[FSCI_MAX_NDIM];
    int64_t numel;
    uint64_t nbytes; /* numel * itemsize, checked */
} fsci__npy_hdr;

/* Parse the magic, version and header dict from r and check that the data
 * the header declares fits in what remains of r. FSCI_ENOTSUP for an
 * unsupported dtype (any kind other than the eight numeric ones and 'U'),
 * ndim > 8 or version. */
int fsci__npy_read_header(fsci__rd *r, fsci__npy_hdr *h);

/* Header + data of a numeric .npy stream into a new array; for a zip member
 * (crc_check set) also consumes the rest of the member and checks the CRC. */
int fsci__npy_read_array(fsci__rd *r, fsci_array **out);

/* Swap each element's bytes in place (complex: each half). */
void fsci__npy_swap(void *data, int64_t numel, fsci_dtype dtype);

/* Format "(3, 4)" / "(5,)" / "()" into buf. */
void fsci__npy_shape_str(char *buf, size_t cap, int ndim, const int64_t *shape);

/* The full header (magic .. final '\n') for numeric dtype or, when dtype < 0,
 * for '<U{nchars}'; length a multiple of 64. buf must hold
 * FSCI__NPY_HDR_MAX bytes. */
enum { FSCI__NPY_HDR_MAX = 1024 };
size_t fsci__npy_format_header(unsigned char *buf, int dtype, int64_t nchars, bool fortran, int ndim,
                               const int64_t *shape);

/* numpy's type code without byte order ("f4", "c16", ...) of a numeric dtype. */
const char *fsci__npy_descr_code(fsci_dtype dtype);

/* Validate a view for writing: dtype, ndim, shape, data, byte size. */
int fsci__npy_check_view(const fsci_view *v, const char *fname, const char *member);

/* Write the view's elements in the order the header says (fortran when
 * `fortran`, else C order) through `sink`, gathering strided views through a
 * small buffer. `fortran` must come from fsci__npy_view_order. */
typedef int (*fsci__sink_fn)(void *ctx, const void *p, size_t n);
bool fsci__npy_view_order(const fsci_view *v);
int fsci__npy_emit_view(const fsci_view *v, bool fortran, fsci__sink_fn sink, void *ctx);

/* The name an archive was opened with (for messages). */
typedef struct fsci_npz fsci_npz;
const char *fsci__npz_fname(const fsci_npz *z);

/* zlib allocation through fsci_malloc (so injection and accounting apply). */
void *fsci__zalloc(void *opaque, unsigned items, unsigned size);
void fsci__zfree(void *opaque, void *p);

/* CRC-32 as zlib's crc32 (pass the previous value, 0 to start) of n bytes,
 * any n: carry-less-multiply folding where the CPU has it. */
uint32_t fsci__crc32(uint32_t crc, const void *data, size_t n);

/* Test hook: sizes and offsets >= limit get zip64 records (default
 * 0xFFFFFFFF). Process-wide, not thread-safe; for tests only. */
void fsci__npz_set_zip64_limit(uint64_t limit);

#endif
