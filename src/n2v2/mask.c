/* n2v2: blind-spot masking (the rules and their sources: doc/n2v2_masking.md).
 *
 * One patch is one task, keyed by (seed, step, patch index): OpenMP spreads the patches
 * over threads and the bytes written do not depend on how. The mask output doubles as the
 * map of blind spots the N2V2 median needs, and the stratified points are drawn twice from
 * copies of one generator (first to mark them, then to replace them), so nothing is
 * allocated: the only scratch is a window buffer and a word buffer on each thread's stack. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/rng_impl.h"
#include "fastsci/core/error.h"
#include "fastsci/core/parallel.h"
#include "fastsci/core/rng.h"
#include "n2v2/mask.h"

enum {
    WIN_MAX = (2 * FSCI__MASK_RADIUS_MAX + 1) * (2 * FSCI__MASK_RADIUS_MAX + 1),
    WORD_BLOCKS = 64 /* Philox blocks per refill of the OpenHCS draws: 256 words, 2 KiB */
};
#define SIDE_MAX ((int64_t)1 << 24)
#define BOX_MAX ((int64_t)1 << 20)

fsci__mask_opts fsci__mask_defaults(fsci__mask_kind kind)
{
    fsci__mask_opts o = {kind, FSCI__MASK_PERC_DEFAULT, FSCI__MASK_RADIUS_N2V2, FSCI__MASK_PROB_DEFAULT};
    if (kind == FSCI__MASK_N2V) o.radius = FSCI__MASK_RADIUS_N2V;
    return o;
}

static const char *kind_name(fsci__mask_kind k)
{
    switch (k) {
    case FSCI__MASK_N2V2: return "n2v2";
    case FSCI__MASK_OPENHCS: return "openhcs";
    case FSCI__MASK_N2V: return "n2v";
    }
    return "?";
}

/* round(sqrt(100 / perc)) with ties to even (numpy's np.round); perc already checked. */
static int64_t box_side(double perc)
{
    return (int64_t)nearbyint(sqrt(100.0 / perc));
}

int fsci__mask_check(const fsci__mask_opts *o, int64_t h, int64_t w)
{
    FSCI_CHECK(o, FSCI_EINVAL, "n2v2 mask: options are NULL");
    FSCI_CHECK(o->kind == FSCI__MASK_N2V2 || o->kind == FSCI__MASK_OPENHCS || o->kind == FSCI__MASK_N2V,
               FSCI_EINVAL, "n2v2 mask: kind = %d is not a masking rule (0 n2v2, 1 openhcs, 2 n2v)",
               (int)o->kind);
    const char *kn = kind_name(o->kind);
    FSCI_CHECK(h >= 1 && h <= SIDE_MAX && w >= 1 && w <= SIDE_MAX, FSCI_EINVAL,
               "n2v2 mask (%s): patch size %lld x %lld is outside [1, %lld] per side", kn, (long long)h,
               (long long)w, (long long)SIDE_MAX);
    if (o->kind == FSCI__MASK_OPENHCS) {
        FSCI_CHECK(o->prob > 0 && o->prob <= 0.5, FSCI_EINVAL,
                   "n2v2 mask (%s): prob = %g must lie in (0, 0.5] (probability per pixel)", kn, o->prob);
        return FSCI_OK;
    }
    FSCI_CHECK(o->perc > 0 && o->perc <= 50, FSCI_EINVAL,
               "n2v2 mask (%s): perc = %g must lie in (0, 50] (blind spots in percent of the pixels)", kn,
               o->perc);
    double side = nearbyint(sqrt(100.0 / o->perc));
    FSCI_CHECK(side >= 2, FSCI_EINVAL,
               "n2v2 mask (%s): perc = %g gives a box side of 1 px: every pixel would be a blind spot "
               "(use perc <= 44)",
               kn, o->perc);
    FSCI_CHECK(side <= (double)BOX_MAX, FSCI_EINVAL,
               "n2v2 mask (%s): perc = %g gives a box side of %.3g px (at most %lld: perc >= 1e-10)", kn,
               o->perc, side, (long long)BOX_MAX);
    FSCI_CHECK(o->radius >= 1 && o->radius <= FSCI__MASK_RADIUS_MAX, FSCI_EINVAL,
               "n2v2 mask (%s): radius = %d must lie in [1, %d]", kn, o->radius, FSCI__MASK_RADIUS_MAX);
    int64_t win = 2 * (int64_t)o->radius + 1;
    FSCI_CHECK(win <= h && win <= w, FSCI_EINVAL,
               "n2v2 mask (%s): radius = %d gives a %lld x %lld window, larger than the %lld x %lld patch",
               kn, o->radius, (long long)win, (long long)win, (long long)h, (long long)w);
    return FSCI_OK;
}

/* ------------------------------------------------------------------ selection */

/* The k-th smallest (0-based) of a[0..n), n >= 1, leaving a[j] <= a[k] for j < k and
 * a[j] >= a[k] for j > k. Hoare's FIND in Wirth's form: each scan stops at the latest
 * on an element it has already passed or swapped, so the indices stay in [0, n) even
 * when a NaN breaks the order. Exact: it only compares and moves values. */
static float select_kth(float *a, int n, int k)
{
    int l = 0, m = n - 1;
    while (l < m) {
        float x = a[k];
        int i = l, j = m;
        do {
            while (a[i] < x) i++;
            while (x < a[j]) j--;
            if (i <= j) {
                float t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        } while (i <= j);
        if (j < k) l = i;
        if (k < i) m = j;
    }
    return a[k];
}

/* The values of ranks k and k + 1 of a[0..n) (k + 1 < n unless only k is wanted), for
 * small n: the rank of a[i] is the number of elements before it in the order (value,
 * index), a strict total order, so each rank belongs to exactly one element. n^2
 * branch-free comparisons that vectorise beat the data-dependent branches of a
 * quickselect up to a few dozen values (the 24 of the default 5 x 5 window). A NaN can
 * leave a rank empty; *lo and *hi are then some element. */
static void rank_pair(const float *a, int n, int k, float *lo, float *hi)
{
    *lo = *hi = a[0];
    for (int i = 0; i < n; i++) {
        float ai = a[i];
        int r = 0;
        for (int j = 0; j < n; j++) r += (a[j] < ai) | ((a[j] == ai) & (j < i));
        if (r == k) *lo = ai;
        if (r == k + 1) *hi = ai;
    }
}

enum { RANK_MAX = 48 }; /* rank_pair up to here, select_kth above */

/* numpy's median of a[0..n), n >= 1: the middle value, or for even n the mean of the two
 * middle values, computed in double and rounded once to float (numpy's float32 result,
 * unless their sum overflows float32). Exact: the middle values are elements of a.
 * Reorders a. */
static float median_numpy(float *a, int n)
{
    int k = (n - 1) / 2;
    float lo, hi;
    if (n <= RANK_MAX) {
        rank_pair(a, n, k, &lo, &hi);
    } else {
        lo = select_kth(a, n, k);
        if (n & 1) return lo;
        hi = a[k + 1]; /* the smallest of a[k + 1..n), all >= lo */
        for (int j = k + 2; j < n; j++)
            if (a[j] < hi) hi = a[j];
    }
    return n & 1 ? lo : (float)(0.5 * ((double)lo + (double)hi));
}

static inline void cmpx(float *a, int i, int j)
{
    float x = a[i], y = a[j];
    a[i] = y < x ? y : x;
    a[j] = y < x ? x : y;
}

/* torch.median of the 3 x 3 ring of (y, x) (8 values, zeros outside the patch): the lower
 * of the two middle values, element 3 of the sorted ring. An optimal 19-comparator sorting
 * network (checked on all 256 0/1 inputs); tests compare it with a full sort. */
static float ring_lower_median(const float *p, int64_t h, int64_t w, int64_t y, int64_t x)
{
    float v[8];
    if (y > 0 && y < h - 1 && x > 0 && x < w - 1) {
        const float *u = p + (y - 1) * w + x, *c = p + y * w + x, *d = p + (y + 1) * w + x;
        v[0] = u[-1], v[1] = u[0], v[2] = u[1], v[3] = c[-1];
        v[4] = c[1], v[5] = d[-1], v[6] = d[0], v[7] = d[1];
    } else {
        int k = 0;
        for (int64_t dy = -1; dy <= 1; dy++)
            for (int64_t dx = -1; dx <= 1; dx++) {
                if (dy == 0 && dx == 0) continue;
                int64_t yy = y + dy, xx = x + dx;
                v[k++] = yy >= 0 && yy < h && xx >= 0 && xx < w ? p[yy * w + xx] : 0.0f;
            }
    }
    cmpx(v, 0, 2), cmpx(v, 1, 3), cmpx(v, 4, 6), cmpx(v, 5, 7);
    cmpx(v, 0, 4), cmpx(v, 1, 5), cmpx(v, 2, 6), cmpx(v, 3, 7);
    cmpx(v, 0, 1), cmpx(v, 2, 3), cmpx(v, 4, 5), cmpx(v, 6, 7);
    cmpx(v, 2, 4), cmpx(v, 3, 5);
    cmpx(v, 1, 4), cmpx(v, 3, 6);
    cmpx(v, 1, 2), cmpx(v, 3, 4), cmpx(v, 5, 6);
    return v[3];
}

/* ------------------------------------------------------------------ one patch */

/* Offset floor(u s) of a point in its box, u one uniform draw. The double product u s is
 * below s (u <= 1 - 2^-53 and s <= 2^20), so the offset lies in [0, s). */
static inline int64_t box_offset(fsci_rng *r, int64_t s)
{
    return (int64_t)floor(fsci_rng_uniform(r) * (double)s);
}

/* Mean of the patch values that are not blind spots (the fallback of an empty window,
 * which fsci__mask_check makes impossible); 0 if there are none. */
static float mean_unmasked(const float *p, const float *m, int64_t hw)
{
    double s = 0;
    int64_t n = 0;
    for (int64_t j = 0; j < hw; j++)
        if (m[j] == 0.0f) s += (double)p[j], n++;
    return n ? (float)(s / (double)n) : 0.0f;
}

/* N2V2 and N2V on one patch: p original, x input, m mask. Returns the blind spots. */
static int64_t stratified_patch(const fsci__mask_opts *o, const float *p, float *x, float *m, int64_t h,
                                int64_t w, fsci_rng *r)
{
    const int64_t s = box_side(o->perc), nby = (h + s - 1) / s, nbx = (w + s - 1) / s;
    const int64_t rad = o->radius, hw = h * w;
    memcpy(x, p, (size_t)hw * sizeof *x);
    memset(m, 0, (size_t)hw * sizeof *m); /* all-zero bits are 0.0f */

    /* Pass 1: mark the points. Every box draws y then x, in box row-major order, whether
     * its point falls inside the patch or not. */
    fsci_rng again = *r;
    int64_t n = 0;
    for (int64_t by = 0; by < nby; by++)
        for (int64_t bx = 0; bx < nbx; bx++) {
            int64_t y = by * s + box_offset(r, s);
            int64_t xx = bx * s + box_offset(r, s);
            if (y < h && xx < w) m[y * w + xx] = 1.0f, n++;
        }

    /* Pass 2: the same points again from the copy; `r` goes on with the N2V window draws. */
    float buf[WIN_MAX];
    float fallback = 0.0f;
    int have_fallback = 0;
    for (int64_t by = 0; by < nby; by++)
        for (int64_t bx = 0; bx < nbx; bx++) {
            int64_t y = by * s + box_offset(&again, s);
            int64_t xx = bx * s + box_offset(&again, s);
            if (y >= h || xx >= w) continue;
            int64_t y0 = y > rad ? y - rad : 0, y1 = y + rad < h ? y + rad : h - 1;
            int64_t x0 = xx > rad ? xx - rad : 0, x1 = xx + rad < w ? xx + rad : w - 1;
            float v;
            if (o->kind == FSCI__MASK_N2V) {
                int64_t dy = (int64_t)floor(fsci_rng_uniform(r) * (double)(y1 - y0 + 1));
                int64_t dx = (int64_t)floor(fsci_rng_uniform(r) * (double)(x1 - x0 + 1));
                v = p[(y0 + dy) * w + x0 + dx];
            } else {
                /* The mask marks the centre and every other blind spot: both are left out. */
                int k = 0;
                for (int64_t yy = y0; yy <= y1; yy++) {
                    const float *pr = p + yy * w, *mr = m + yy * w;
                    for (int64_t c = x0; c <= x1; c++)
                        if (mr[c] == 0.0f) buf[k++] = pr[c];
                }
                if (k) {
                    v = median_numpy(buf, k);
                } else {
                    if (!have_fallback) fallback = mean_unmasked(p, m, hw), have_fallback = 1;
                    v = fallback;
                }
            }
            x[y * w + xx] = v;
        }
    return n;
}

/* OpenHCS on one patch: one word per pixel in row-major order, a blind spot if its uniform
 * (w >> 11) 2^-53 is below prob, i.e. if the integer w >> 11 is below ceil(prob 2^53) (exact).
 * The words are fsci_rng_u64's on the patch's sub-stream (block j has counter
 * {j, 0, step, i}), generated WORD_BLOCKS blocks at a time. The comparisons and the mask
 * run as vector loops; the blind spots are then found 8 flags at a time. */
static int64_t openhcs_patch(const fsci__mask_opts *o, const float *p, float *x, float *m, int64_t h,
                             int64_t w, uint64_t seed, uint64_t step, uint64_t idx)
{
    const int64_t hw = h * w;
    const uint64_t thr = (uint64_t)ceil(o->prob * 0x1p53); /* <= 2^52 */
    memcpy(x, p, (size_t)hw * sizeof *x);
    uint64_t words[4 * WORD_BLOCKS];
    uint8_t hit[4 * WORD_BLOCKS + 8];
    uint64_t blk = 1;
    int64_t n = 0;
    for (int64_t j0 = 0; j0 < hw; j0 += 4 * WORD_BLOCKS) {
        int len = hw - j0 < 4 * WORD_BLOCKS ? (int)(hw - j0) : 4 * WORD_BLOCKS;
        int nb = (len + 3) / 4;
        fsci__rng_philox_blocks(seed, FSCI__STREAM_MASK, blk, step, idx, nb, words);
        blk += (uint64_t)nb;
        for (int j = 0; j < len; j++) hit[j] = (words[j] >> 11) < thr;
        memset(hit + len, 0, 8);
        float *mj = m + j0;
        for (int j = 0; j < len; j++) mj[j] = hit[j] ? 1.0f : 0.0f;
        for (int j = 0; j < len; j += 8) {
            uint64_t any;
            memcpy(&any, hit + j, sizeof any);
            if (!any) continue;
            for (int t = j; t < j + 8; t++) {
                if (!hit[t]) continue;
                int64_t pix = j0 + t, y = pix / w;
                x[pix] = ring_lower_median(p, h, w, y, pix - y * w);
                n++;
            }
        }
    }
    return n;
}

static int overlaps(const void *a, const void *b, size_t bytes)
{
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return pa < pb + bytes && pb < pa + bytes;
}

int fsci__mask_apply(const fsci__mask_opts *o, const float *patches, float *input, float *mask, int64_t b,
                     int64_t h, int64_t w, uint64_t seed, uint64_t step, int nthreads, int64_t *count)
{
    int st = fsci__mask_check(o, h, w);
    if (st) return st;
    const char *kn = kind_name(o->kind);
    FSCI_CHECK(b >= 0, FSCI_EINVAL, "n2v2 mask (%s): batch b = %lld is negative", kn, (long long)b);
    FSCI_CHECK(nthreads >= 0, FSCI_EINVAL, "n2v2 mask (%s): nthreads = %d is negative", kn, nthreads);
    const int64_t hw = h * w; /* <= 2^48 */
    FSCI_CHECK(b <= (int64_t)(PTRDIFF_MAX / (int64_t)sizeof(float)) / hw, FSCI_EINVAL,
               "n2v2 mask (%s): batch %lld x %lld x %lld overflows", kn, (long long)b, (long long)h,
               (long long)w);
    if (b == 0) {
        if (count) *count = 0;
        return FSCI_OK;
    }
    FSCI_CHECK(patches && input && mask, FSCI_EINVAL, "n2v2 mask (%s): %s is NULL", kn,
               !patches ? "patches"
               : !input ? "input"
                        : "mask");
    size_t bytes = (size_t)(b * hw) * sizeof(float);
    FSCI_CHECK(!overlaps(patches, input, bytes) && !overlaps(patches, mask, bytes) &&
                   !overlaps(input, mask, bytes),
               FSCI_EINVAL, "n2v2 mask (%s): patches, input and mask must not overlap", kn);

    int nt = fsci_parallel_resolve(nthreads);
    if ((int64_t)nt > b) nt = (int)b;
    int64_t total = 0;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static) reduction(+ : total)
    for (int64_t i = 0; i < b; i++) {
        const float *p = patches + i * hw;
        float *x = input + i * hw, *m = mask + i * hw;
        if (o->kind == FSCI__MASK_OPENHCS) {
            total += openhcs_patch(o, p, x, m, h, w, seed, step, (uint64_t)i);
        } else {
            fsci_rng r;
            fsci_rng_init(&r, seed, FSCI__STREAM_MASK, step, (uint64_t)i);
            total += stratified_patch(o, p, x, m, h, w, &r);
        }
    }
    if (count) *count = total;
    return FSCI_OK;
}
