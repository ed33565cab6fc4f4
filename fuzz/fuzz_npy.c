/* libFuzzer target for the .npy and .npz readers: every input goes through
 * fsci_npy_read_mem and through fsci_npz_open_mem followed by reading every
 * member as an array, as a header (peek) and as a string.
 *   make fuzz                      (60 s; FUZZ_SECONDS=n to change)
 * Seeds: fuzz/corpus/, tiny files written by numpy. */
#include <stddef.h>
#include <stdint.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/array.h"
#include "fastsci/core/npy.h"

/* Members read per input: each may legitimately inflate up to 1032x its
 * compressed size and many directory entries may point at the same data, so
 * bound the work per input (the library reads only what it is asked for). */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fsci_array *a = NULL;
    if (fsci_npy_read_mem(data, size, "fuzz.npy", &a) == 0) touch(a);
    fsci_array_destroy(&a);

    fsci_npz *z = NULL;
    if (fsci_npz_open_mem(data, size, "fuzz.npz", &z) != 0) return 0;
    int64_t n = fsci_npz_count(z);
    for (int64_t i = 0; i < n && i < MAX_MEMBERS; i++) {
        const char *name = fsci_npz_name(z, i);
        if (!name || !fsci_npz_has(z, name)) __builtin_trap();
        if (fsci_npz_read(z, name, &a) == 0) touch(a);
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
