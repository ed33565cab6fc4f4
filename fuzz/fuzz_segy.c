/* libFuzzer target for the SEG-Y reader of pstm (src/pstm/segy.c, segyio with
 * our checks): every input is written to a temporary file (segyio reads
 * through a path), opened, its geometry checked, and every trace read, in
 * blocks and through the index list in reverse.
 *   make fuzz            (every target, $FUZZ_SECONDS each, default 60)
 * Seeds: written by fuzz/make_seeds.py (small SEG-Y files of every supported
 * format in both byte orders). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fastsci/core/alloc.h"
#include "pstm/pstm_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile float sink;
static char path[256];

static void remove_tmp(void)
{
    unlink(path);
}

static void read_all(fsci__segy *f)
{
    const fsci__segy_geom *g = fsci__segy_geometry(f);
    /* what open promises */
    if (!g || g->ntr < 1 || g->ns < 1 || !(g->dt > 0) || !g->sx || !g->fldr) __builtin_trap();
    int64_t blk = 8;
    float *d = fsci_malloc((size_t)(blk * g->ns), sizeof(float));
    int64_t *idx = fsci_malloc((size_t)blk, sizeof(int64_t));
    if (!d || !idx) goto done;
    float s = 0;
    for (int64_t i = 0; i < g->ntr; i += blk) {
        int64_t n = g->ntr - i < blk ? g->ntr - i : blk;
        if (fsci__segy_read(f, i, n, d) != 0) break;
        for (int64_t k = 0; k < n * g->ns; k++) {
            if (!isfinite(d[k])) __builtin_trap(); /* non-finite samples are refused */
            s += d[k];
        }
        for (int64_t j = 0; j < n; j++) idx[j] = i + n - 1 - j;
        if (fsci__segy_read_list(f, idx, n, d) != 0) __builtin_trap(); /* read once already */
    }
    sink += s + (float)g->sx[g->ntr - 1] + (float)g->cdpy[0];
done:
    fsci_free(d);
    fsci_free(idx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/fuzz_segy.%ld.sgy", t && t[0] ? t : "/tmp", (long)getpid());
        atexit(remove_tmp);
    }
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    size_t w = fwrite(data, 1, size, fp);
    fclose(fp);
    if (w != size) return 0;
    fsci__segy *f = NULL;
    if (fsci__segy_open(path, &f) == 0) read_all(f);
    fsci__segy_close(&f);
    return 0;
}
