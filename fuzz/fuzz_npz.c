/* libFuzzer target for the .npz reader on a file: each input becomes an
 * in-memory file (memfd) opened by path with fsci_npz_open, so the
 * file-backed input (pread, the inflate input buffer) is exercised; every
 * member is read as an array, converted (fsci_npz_read_as), peeked and read
 * as a string. fuzz_npy covers the same reader on memory buffers.
 *   make fuzz            (every target, $FUZZ_SECONDS each, default 60)
 * Seeds: fuzz/corpus/*.npz and those written by fuzz/make_seeds.py. */
#define _GNU_SOURCE 1 /* memfd_create */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/array.h"
#include "fastsci/core/npy.h"

/* Members read per input (each may inflate up to 1032x its compressed size
 * and many entries may share data): bound the work per input. */
enum { MAX_MEMBERS = 16 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

static void touch(const fsci_array *a)
{
    int64_t n = fsci_view_nbytes(&a->view);
    const unsigned char *p = a->view.data;
    unsigned s = 0;
    for (int64_t i = 0; i < n; i += 61) s += p[i];
    sink += s;
}

static int fd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0) fd = memfd_create("fuzz.npz", 0);
    if (fd < 0) __builtin_trap();
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) __builtin_trap();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    fsci_npz *z = NULL;
    if (fsci_npz_open(path, &z) != 0) return 0;
    int64_t n = fsci_npz_count(z);
    for (int64_t i = 0; i < n && i < MAX_MEMBERS; i++) {
        const char *name = fsci_npz_name(z, i);
        if (!name || !fsci_npz_has(z, name)) __builtin_trap();
        fsci_array *a = NULL;
        if (fsci_npz_read(z, name, &a) == 0) touch(a);
        fsci_array_destroy(&a);
        if (fsci_npz_read_as(z, name, i % 2 ? FSCI_F64 : FSCI_C64, &a) == 0) touch(a);
        fsci_array_destroy(&a);
        fsci_dtype t;
        int nd;
        int64_t shape[FSCI_MAX_NDIM];
        if (fsci_npz_peek(z, name, &t, &nd, shape) == 0 && (nd < 0 || nd > FSCI_MAX_NDIM)) __builtin_trap();
        char *s = NULL;
        if (fsci_npz_read_string(z, name, &s) == 0) sink += (unsigned char)s[0];
        fsci_free(s);
    }
    fsci_npz_close(&z);
    return 0;
}
