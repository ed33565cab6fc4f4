/* libFuzzer target for the PNG reader (src/core/io/png.c, libpng with our
 * error handling, size limits and conversions to 8-bit RGB): every input goes
 * through fsci__png_read_mem, the same decoder fsci_png_read_rgb uses.
 *   make fuzz            (every target, $FUZZ_SECONDS each, default 60)
 * Seeds: written by fuzz/make_seeds.py (small PNGs of every colour type). */
#include <stddef.h>
#include <stdint.h>

#include "core/io/io_impl.h"
#include "fastsci/core/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *rgb = NULL;
    int64_t w = 0, h = 0;
    if (fsci__png_read_mem(data, size, "fuzz.png", &rgb, &w, &h) == 0) {
        if (!rgb || w < 1 || h < 1) __builtin_trap();
        unsigned s = 0;
        for (int64_t i = 0; i < w * h * 3; i += 17) s += rgb[i];
        sink += s;
    }
    fsci_free(rgb);
    return 0;
}
