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

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    fuzz_read_members(z);
    fsci_npz_close(&z);
    return 0;
}
