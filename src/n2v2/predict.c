/* n2v2 prediction of one slice: normalise, pad by reflection to the network's
 * multiple, run the whole image or overlapping tiles aligned to the pooling
 * grid (each tile contributes only its core, so tiles stitch without seams
 * and without shift), optionally average the 8 flips and rotations, and
 * de-normalise (doc/n2v2.md §5). */
#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "n2v2/n2v2_impl.h"

int64_t fsci__n2v2_margin(const fsci_n2v2_arch *a)
{
    /* walk the network: a k x k conv at scale s reaches (k/2) s further, a
     * pooling step s (max-pool 2x2 and blur both reach one pixel of their
     * input), an upsampling step one pixel of its input */
    const int64_t half = a->kernel / 2;
    int64_t r = 0, s = 1;
    for (int l = 0; l < a->depth; l++) {
        r += 2 * half * s;
        r += (a->pool == FSCI_N2V2_POOL_MAXBLUR ? 2 : 1) * s;
        s *= 2;
    }
    r += 2 * half * s; /* bottom */
    for (int l = a->depth - 1; l >= 0; l--) {
        r += s; /* upsampling reads neighbours of the coarse grid */
        s /= 2;
        r += 2 * half * s;
    }
    const int64_t m = (int64_t)1 << a->depth;
    return (r + m - 1) / m * m;
}

int fsci__n2v2_tile_check(const fsci_n2v2_arch *a, int64_t tile)
{
    const int64_t mul = (int64_t)1 << a->depth, mg = fsci__n2v2_margin(a);
    FSCI_CHECK(
        tile == 0 || (tile % mul == 0 && tile - 2 * mg >= mul), FSCI_EINVAL,
        "--tile %lld: 0 or a multiple of %lld of at least %lld (twice the network's %lld px reach plus %lld)",
        (long long)tile, (long long)mul, (long long)(2 * mg + mul), (long long)mg, (long long)mul);
    return FSCI_OK;
}

/* index i of a signal of length n reflected into [0, n) (..., 2, 1, 0, 1, 2, ..., n-1, n-2, ...) */
static int64_t reflect(int64_t i, int64_t n)
{
    if (n == 1) return 0;
    const int64_t period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

/* out (th x tw) = the normalised image around (y0, x0) (may lie outside: reflected) */
static void cut(const float *img, int64_t h, int64_t w, int64_t y0, int64_t x0, int64_t th, int64_t tw,
                double mean, double istd, float *out)
{
    for (int64_t i = 0; i < th; i++) {
        const float *row = img + reflect(y0 + i, h) * w;
        for (int64_t j = 0; j < tw; j++)
            out[i * tw + j] = (float)(((double)row[reflect(x0 + j, w)] - mean) * istd);
    }
}

/* Network output for the normalised image (h x w), in normalised units. */
static int run_plain(fsci__n2v2_model *m, const float *img, int64_t h, int64_t w, int64_t tile, float *out)
{
    int st = FSCI_OK;
    const int64_t mul = fsci_n2v2_net_multiple(m->net);
    float *a = NULL, *b = NULL;
    if (tile <= 0 || (h <= tile && w <= tile)) {
        const int64_t H = (h + mul - 1) / mul * mul, W = (w + mul - 1) / mul * mul;
        a = fsci_malloc((size_t)(H * W), sizeof(float));
        b = fsci_malloc((size_t)(H * W), sizeof(float));
        FSCI_CHECK_GOTO(a && b, FSCI_ENOMEM, "n2v2 predict: out of memory for a %lld x %lld slice",
                        (long long)H, (long long)W);
        cut(img, h, w, 0, 0, H, W, 0, 1, a);
        FSCI_TRY(fsci_n2v2_net_forward(m->net, false, a, 1, H, W, b));
        for (int64_t i = 0; i < h; i++) memcpy(out + i * w, b + i * W, (size_t)w * sizeof(float));
    } else {
        const int64_t mg = fsci__n2v2_margin(fsci_n2v2_net_arch(m->net));
        const int64_t core = tile - 2 * mg;
        FSCI_TRY(fsci__n2v2_tile_check(fsci_n2v2_net_arch(m->net), tile));
        a = fsci_malloc((size_t)(tile * tile), sizeof(float));
        b = fsci_malloc((size_t)(tile * tile), sizeof(float));
        FSCI_CHECK_GOTO(a && b, FSCI_ENOMEM, "n2v2 predict: out of memory for %lld x %lld tiles",
                        (long long)tile, (long long)tile);
        /* tile origins y0 = k core - mg are multiples of mul: the pooling grid of
         * every tile is the whole image's */
        for (int64_t cy = 0; cy < h; cy += core)
            for (int64_t cx = 0; cx < w; cx += core) {
                cut(img, h, w, cy - mg, cx - mg, tile, tile, 0, 1, a);
                FSCI_TRY(fsci_n2v2_net_forward(m->net, false, a, 1, tile, tile, b));
                const int64_t ny = cy + core <= h ? core : h - cy, nx = cx + core <= w ? core : w - cx;
                for (int64_t i = 0; i < ny; i++)
                    memcpy(out + (cy + i) * w + cx, b + (mg + i) * tile + mg, (size_t)nx * sizeof(float));
            }
    }
fail:
    fsci_free(a);
    fsci_free(b);
    return st;
}

/* dst (the transform t of src, h x w; t & 4: flip first, t & 3 quarter turns
 * counter-clockwise); inverse maps back. Output shape is w x h for odd turns. */
static void transform(const float *src, int64_t h, int64_t w, int t, bool inverse, float *dst)
{
    const bool flip = t & 4;
    const int turns = t & 3;
    const int64_t ow = turns & 1 ? h : w;
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++) {
            int64_t a = y, b = flip ? w - 1 - x : x, ch = h, cw = w;
            for (int q = 0; q < turns; q++) { /* counter-clockwise: (a, b) -> (cw - 1 - b, a) */
                const int64_t na = cw - 1 - b, nb = a;
                a = na;
                b = nb;
                const int64_t t2 = ch;
                ch = cw;
                cw = t2;
            }
            if (!inverse)
                dst[a * ow + b] = src[y * w + x];
            else
                dst[y * w + x] = src[a * ow + b];
        }
}

int fsci__n2v2_predict_slice(fsci__n2v2_model *m, const float *in, float *out, int64_t h, int64_t w,
                             int64_t tile, bool tta)
{
    int st = FSCI_OK;
    const int64_t n = h * w;
    float *norm = fsci_malloc((size_t)n, sizeof(float)), *t1 = NULL, *t2 = NULL;
    double *acc = NULL;
    FSCI_CHECK_GOTO(norm, FSCI_ENOMEM, "n2v2 predict: out of memory for a %lld x %lld slice", (long long)h,
                    (long long)w);
    const double istd = 1 / m->std;
    for (int64_t i = 0; i < n; i++) norm[i] = (float)(((double)in[i] - m->mean) * istd);
    if (!tta) {
        FSCI_TRY(run_plain(m, norm, h, w, tile, out));
    } else {
        acc = fsci_calloc((size_t)n, sizeof(double));
        t1 = fsci_malloc((size_t)n, sizeof(float));
        t2 = fsci_malloc((size_t)n, sizeof(float));
        FSCI_CHECK_GOTO(acc && t1 && t2, FSCI_ENOMEM,
                        "n2v2 predict: out of memory for test-time augmentation");
        for (int t = 0; t < 8; t++) {
            const int64_t th = t & 1 ? w : h, tw = t & 1 ? h : w;
            transform(norm, h, w, t, false, t1);
            FSCI_TRY(run_plain(m, t1, th, tw, tile, t2));
            transform(t2, h, w, t, true, t1);
            for (int64_t i = 0; i < n; i++) acc[i] += (double)t1[i];
        }
        for (int64_t i = 0; i < n; i++) out[i] = (float)(acc[i] / 8);
    }
    for (int64_t i = 0; i < n; i++) out[i] = (float)((double)out[i] * m->std + m->mean);
fail:
    fsci_free(norm);
    fsci_free(acc);
    fsci_free(t1);
    fsci_free(t2);
    return st;
}
