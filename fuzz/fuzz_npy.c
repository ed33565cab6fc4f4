/* libFuzzer target for the .npy and .npz readers: every input goes through
 * fsci_npy_read_mem and through fsci_npz_open_mem followed by reading every
 * member as an array, converted, as a header (peek) and as a string.
 *   make fuzz                      (60 s; FUZZ_SECONDS=n to change)
 * Seeds: fuzz/corpus/, tiny files written by numpy. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fsci_array *a = NULL;
    if (fsci_npy_read_mem(data, size, "fuzz.npy", &a) == 0) fuzz_touch(a);
    fsci_array_destroy(&a);

    fsci_npz *z = NULL;
    if (fsci_npz_open_mem(data, size, "fuzz.npz", &z) != 0) return 0;
    fuzz_read_members(z);
    fsci_npz_close(&z);
    return 0;
}
