/* libFuzzer target for the qdot classifier's weight-file reader
 * (src/qdot/classifier.c): every input goes to the memory reader and, through
 * a temporary file, to the path reader; both must agree. A file that loads
 * is saved again and must come back byte for byte, and it must classify a
 * patch without touching memory it does not own.
 *   make fuzz            (every target, $FUZZ_SECONDS each, default 60)
 * Seeds: a valid file is rare to reach by mutation (a CRC-32 guards it), so
 * the corpus should start from one written by fsci__qdot_cls_save (for
 * instance by tests/qdot/test_classifier.c) and its truncations. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "qdot/classifier.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[256], back[256];
static float patch[FSCI__QDOT_CLS_NPIX];
static volatile float sink;

static void remove_tmp(void)
{
    unlink(path);
    unlink(back);
}

static unsigned char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n ? *n : 1);
    if (b && fread(b, 1, *n, f) != *n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/fuzz_qdot_weights.%ld.fsqc", t && t[0] ? t : "/tmp", (long)getpid());
        snprintf(back, sizeof back, "%s/fuzz_qdot_weights.%ld.back.fsqc", t && t[0] ? t : "/tmp",
                 (long)getpid());
        for (int i = 0; i < FSCI__QDOT_CLS_NPIX; i++) patch[i] = (float)((i * 37) % 101) / 100.0f;
        atexit(remove_tmp);
    }
    fsci__qdot_cls *a = NULL, *b = NULL;
    const int sa = fsci__qdot_cls_load_mem(data, size, "fuzz", &a);
    if ((sa == 0) != (a != NULL)) __builtin_trap();
    if (sa != 0 && sa != FSCI_EFORMAT) __builtin_trap(); /* memory input: only a format error */
    FILE *fp = fopen(path, "wb");
    if (fp) {
        const size_t w = fwrite(data, 1, size, fp);
        fclose(fp);
        if (w == size) {
            const int sb = fsci__qdot_cls_load(path, &b);
            if (sb != sa) __builtin_trap();
        }
    }
    if (a) {
        if (fsci__qdot_cls_save(a, back) != 0) __builtin_trap();
        size_t n = 0;
        unsigned char *r = slurp(back, &n);
        if (!r || n != size || memcmp(r, data, size) != 0) __builtin_trap();
        free(r);
        float probs[FSCI__QDOT_CLS_NCLASS], conf, dis;
        int32_t label;
        if (fsci__qdot_cls_predict(a, patch, 1, probs, &label, &conf, &dis) == 0)
            sink += probs[0] + conf + dis + (float)label;
    }
    fsci__qdot_cls_destroy(&a);
    fsci__qdot_cls_destroy(&b);
    return 0;
}
