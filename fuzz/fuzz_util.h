/* Shared by the npy/npz fuzz targets: read every member of an archive in every way. */
#ifndef FASTSCI_FUZZ_UTIL_H
#define FASTSCI_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/array.h"
#include "fastsci/core/npy.h"

/* Members read per input: each may legitimately inflate up to 1032x its
 * compressed size and many directory entries may point at the same data, so
 * bound the work per input (the library reads only what it is asked for). */
enum { FUZZ_MAX_MEMBERS = 16 };

static volatile unsigned fuzz_sink;

/* Read every byte-ish of an array so the sanitizers see the whole buffer. */
static inline void fuzz_touch(const fsci_array *a)
{
    int64_t n = fsci_view_nbytes(&a->view);
    const unsigned char *p = a->view.data;
    unsigned s = 0;
    for (int64_t i = 0; i < n; i += 61) s += p[i];
    fuzz_sink += s;
}

/* Each member as an array, converted (read_as), as a header (peek) and as a string. */
static inline void fuzz_read_members(fsci_npz *z)
{
    int64_t n = fsci_npz_count(z);
    for (int64_t i = 0; i < n && i < FUZZ_MAX_MEMBERS; i++) {
        const char *name = fsci_npz_name(z, i);
        if (!name || !fsci_npz_has(z, name)) __builtin_trap();
        fsci_array *a = NULL;
        if (fsci_npz_read(z, name, &a) == 0) fuzz_touch(a);
        fsci_array_destroy(&a);
        if (fsci_npz_read_as(z, name, i % 2 ? FSCI_F64 : FSCI_C64, &a) == 0) fuzz_touch(a);
        fsci_array_destroy(&a);
        fsci_dtype t;
        int nd;
        int64_t shape[FSCI_MAX_NDIM];
        if (fsci_npz_peek(z, name, &t, &nd, shape) == 0 && (nd < 0 || nd > FSCI_MAX_NDIM)) __builtin_trap();
        char *s = NULL;
        if (fsci_npz_read_string(z, name, &s) == 0) fuzz_sink += (unsigned char)s[0];
        fsci_free(s);
    }
}

#endif
