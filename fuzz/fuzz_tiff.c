/* libFuzzer target for the TIFF stack reader (src/core/io/tiff.c, libtiff
 * with our checks): every input is written to a temporary file (the reader
 * takes a path), opened, and every page read, last to first; a stack that
 * reads is written back with our writer (the input's compression) and must
 * read back identical.
 *   make fuzz            (every target, $FUZZ_SECONDS each, default 60)
 * Seeds: written by fuzz/make_seeds.py (small stacks of every dtype,
 * compression, predictor, byte order, BigTIFF, tiles, and refused kinds).
 * libtiff itself is Debian's build, without coverage: the fuzzer steers by
 * our code's branches and ASan watches our buffers. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/array.h"
#include "fastsci/core/tiff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Work per input: pages decoded at most, and the largest stack written back. */
enum { FUZZ_MAX_PAGES = 16 };
#define FUZZ_MAX_ROUNDTRIP ((int64_t)1 << 20)

static volatile unsigned sink;
static char path[256], back[256];

static void remove_tmp(void)
{
    unlink(path);
    unlink(back);
}

static void read_pages(fsci_tiff_reader *r)
{
    const fsci_tiff_info *I = fsci_tiff_reader_info(r);
    /* what open promises */
    if (!I || I->pages < 1 || I->h < 1 || I->w < 1) __builtin_trap();
    if (I->dtype != FSCI_U8 && I->dtype != FSCI_U16 && I->dtype != FSCI_F32) __builtin_trap();
    if (I->compression != FSCI_TIFF_NONE && I->compression != FSCI_TIFF_LZW &&
        I->compression != FSCI_TIFF_DEFLATE)
        __builtin_trap();
    size_t es = fsci_dtype_size(I->dtype);
    unsigned char *buf = fsci_malloc((size_t)I->h * (size_t)I->w, es);
    if (!buf) return;
    int64_t n = I->pages < FUZZ_MAX_PAGES ? I->pages : FUZZ_MAX_PAGES;
    size_t nb = (size_t)(I->h * I->w) * es;
    unsigned s = 0;
    for (int64_t p = n - 1; p >= 0; p--)
        if (fsci_tiff_read_page(r, p, buf) == 0)
            for (size_t i = 0; i < nb; i += 61) s += buf[i];
    sink += s;
    fsci_free(buf);
}

/* Whole stack in, written back, read again: the same shape and bytes. */
static void round_trip(const fsci_tiff_info *I)
{
    if (I->pages > FUZZ_MAX_PAGES || I->pages * I->h * I->w > FUZZ_MAX_ROUNDTRIP) return;
    fsci_array *a = NULL, *b = NULL;
    if (fsci_tiff_read(path, &a) == 0) {
        if (a->view.ndim != 3 || a->view.shape[0] != I->pages || a->view.shape[1] != I->h ||
            a->view.shape[2] != I->w || a->view.dtype != I->dtype)
            __builtin_trap();
        if (fsci_tiff_write(back, &a->view, I->compression) != 0) __builtin_trap();
        if (fsci_tiff_read(back, &b) != 0) __builtin_trap();
        if (memcmp(a->view.data, b->view.data, (size_t)fsci_view_nbytes(&a->view)) != 0) __builtin_trap();
    }
    fsci_array_destroy(&a);
    fsci_array_destroy(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/fuzz_tiff.%ld.tif", t && t[0] ? t : "/tmp", (long)getpid());
        snprintf(back, sizeof back, "%s/fuzz_tiff.%ld.back.tif", t && t[0] ? t : "/tmp", (long)getpid());
        atexit(remove_tmp);
    }
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    size_t w = fwrite(data, 1, size, fp);
    fclose(fp);
    if (w != size) return 0;
    fsci_tiff_reader *r = NULL;
    if (fsci_tiff_open(path, &r) == 0) {
        read_pages(r);
        fsci_tiff_info info = *fsci_tiff_reader_info(r);
        fsci_tiff_close(&r);
        round_trip(&info);
    }
    fsci_tiff_close(&r);
    return 0;
}
