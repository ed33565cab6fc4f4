/* Tests of the n2v2 blind-spot masking (src/n2v2/mask.c, rules in doc/n2v2_masking.md):
 * bit equality with a slow reference written from the documented rules (full sort for
 * every median, explicit point lists, the sequential generator), the stratified layout,
 * the N2V2 no-leak property on adversarial patches, the OpenHCS density, zero padding and
 * lower median, thread-count independence and the refusal of bad options. */
#include <math.h>
#include <stdbool.h>

#include "fastsci/core/rng.h"
#include "n2v2/mask.h"
#include "testkit.h"

/* ------------------------------------------------------------ reference */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Box side round(sqrt(100 / perc)), ties to even, by hand. */
static int64_t ref_box_side(double perc)
{
    double t = sqrt(100.0 / perc);
    int64_t s = (int64_t)floor(t);
    double frac = t - (double)s;
    if (frac > 0.5 || (frac == 0.5 && s % 2 == 1)) s++;
    return s;
}

typedef struct {
    int64_t n, cap;
    int64_t *y, *x;
} pointlist;

static bool is_point(const pointlist *pl, int64_t y, int64_t x)
{
    for (int64_t k = 0; k < pl->n; k++)
        if (pl->y[k] == y && pl->x[k] == x) return true;
    return false;
}

/* The rules of doc/n2v2_masking.md, one pixel at a time. Returns the count;
 * *fallbacks counts the N2V2 windows that were empty. */
static int64_t ref_mask(const fsci__mask_opts *o, const float *patches, float *input, float *mask, int64_t b,
                        int64_t h, int64_t w, uint64_t seed, uint64_t step, int64_t *fallbacks)
{
    int64_t total = 0;
    float vals[(2 * FSCI__MASK_RADIUS_MAX + 1) * (2 * FSCI__MASK_RADIUS_MAX + 1)];
    for (int64_t i = 0; i < b; i++) {
        const float *p = patches + i * h * w;
        float *in = input + i * h * w, *m = mask + i * h * w;
        fsci_rng r;
        fsci_rng_init(&r, seed, FSCI__STREAM_MASK, step, (uint64_t)i);
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++) {
                in[y * w + x] = p[y * w + x];
                m[y * w + x] = 0.0f;
            }
        if (o->kind == FSCI__MASK_OPENHCS) {
            for (int64_t y = 0; y < h; y++)
                for (int64_t x = 0; x < w; x++) {
                    double u = fsci_rng_uniform(&r);
                    if (!(u < o->prob)) continue;
                    int n = 0;
                    for (int64_t yy = y - 1; yy <= y + 1; yy++)
                        for (int64_t xx = x - 1; xx <= x + 1; xx++) {
                            if (yy == y && xx == x) continue;
                            bool inside = yy >= 0 && yy < h && xx >= 0 && xx < w;
                            vals[n++] = inside ? p[yy * w + xx] : 0.0f;
                        }
                    qsort(vals, 8, sizeof(float), cmp_float);
                    in[y * w + x] = vals[3];
                    m[y * w + x] = 1.0f;
                    total++;
                }
            continue;
        }
        int64_t s = ref_box_side(o->perc), rad = o->radius;
        int64_t nby = 0, nbx = 0;
        while (nby * s < h) nby++;
        while (nbx * s < w) nbx++;
        pointlist pl = {0, nby * nbx, malloc((size_t)(nby * nbx) * sizeof(int64_t)),
                        malloc((size_t)(nby * nbx) * sizeof(int64_t))};
        for (int64_t by = 0; by < nby; by++)
            for (int64_t bx = 0; bx < nbx; bx++) {
                double uy = fsci_rng_uniform(&r);
                double ux = fsci_rng_uniform(&r);
                int64_t y = by * s + (int64_t)(uy * (double)s);
                int64_t x = bx * s + (int64_t)(ux * (double)s);
                if (y < h && x < w) {
                    pl.y[pl.n] = y;
                    pl.x[pl.n] = x;
                    pl.n++;
                }
            }
        for (int64_t k = 0; k < pl.n; k++) {
            int64_t y = pl.y[k], x = pl.x[k];
            int64_t ylo = y - rad < 0 ? 0 : y - rad, yhi = y + rad > h - 1 ? h - 1 : y + rad;
            int64_t xlo = x - rad < 0 ? 0 : x - rad, xhi = x + rad > w - 1 ? w - 1 : x + rad;
            float v;
            if (o->kind == FSCI__MASK_N2V) {
                double uy = fsci_rng_uniform(&r);
                double ux = fsci_rng_uniform(&r);
                int64_t yy = ylo + (int64_t)(uy * (double)(yhi - ylo + 1));
                int64_t xx = xlo + (int64_t)(ux * (double)(xhi - xlo + 1));
                v = p[yy * w + xx];
            } else {
                int n = 0;
                for (int64_t yy = ylo; yy <= yhi; yy++)
                    for (int64_t xx = xlo; xx <= xhi; xx++)
                        if (!is_point(&pl, yy, xx)) vals[n++] = p[yy * w + xx];
                if (n > 0) {
                    qsort(vals, (size_t)n, sizeof(float), cmp_float);
                    v = n % 2 ? vals[n / 2] : (float)(((double)vals[n / 2 - 1] + (double)vals[n / 2]) / 2);
                } else {
                    double sum = 0;
                    int64_t c = 0;
                    for (int64_t yy = 0; yy < h; yy++)
                        for (int64_t xx = 0; xx < w; xx++)
                            if (!is_point(&pl, yy, xx)) sum += (double)p[yy * w + xx], c++;
                    v = (float)(sum / (double)c);
                    (*fallbacks)++;
                }
            }
            in[y * w + x] = v;
            m[y * w + x] = 1.0f;
        }
        total += pl.n;
        free(pl.y);
        free(pl.x);
    }
    return total;
}

/* ------------------------------------------------------------ helpers */

/* Gaussian patches (stream 99, unrelated to the mask's), or integers 0..4 (many ties). */
static void fill_patches(float *p, int64_t n, uint64_t seed, int ties)
{
    fsci_rng r;
    fsci_rng_init(&r, seed, 99, 0, 0);
    for (int64_t j = 0; j < n; j++)
        p[j] = ties ? (float)(fsci_rng_u64(&r) % 5) : (float)(3.0 + fsci_rng_normal(&r));
}

/* Run mask.c and the reference on the same batch; 0 if input, mask and count agree. */
static int compare_with_ref(const fsci__mask_opts *o, int64_t b, int64_t h, int64_t w, uint64_t seed,
                            uint64_t step, int ties, int64_t *count_out, int64_t *fallbacks)
{
    int64_t n = b * h * w, c1 = -1, c2;
    float *p = malloc((size_t)n * sizeof(float)), *in1 = malloc((size_t)n * sizeof(float));
    float *m1 = malloc((size_t)n * sizeof(float)), *in2 = malloc((size_t)n * sizeof(float));
    float *m2 = malloc((size_t)n * sizeof(float));
    fill_patches(p, n, seed * 7 + step, ties);
    int st = fsci__mask_apply(o, p, in1, m1, b, h, w, seed, step, 2, &c1);
    c2 = ref_mask(o, p, in2, m2, b, h, w, seed, step, fallbacks);
    int bad = st != FSCI_OK || c1 != c2 || memcmp(in1, in2, (size_t)n * sizeof(float)) != 0 ||
              memcmp(m1, m2, (size_t)n * sizeof(float)) != 0;
    if (bad) {
        fprintf(stderr, "  kind %d %lldx%lld seed %llu step %llu: status %d, count %lld vs %lld\n",
                (int)o->kind, (long long)h, (long long)w, (unsigned long long)seed, (unsigned long long)step,
                st, (long long)c1, (long long)c2);
        for (int64_t j = 0, shown = 0; j < n && shown < 5; j++)
            if (memcmp(&in1[j], &in2[j], sizeof(float)) || m1[j] != m2[j])
                fprintf(stderr, "    pixel %lld: input %.9g vs %.9g, mask %g vs %g\n", (long long)j,
                        (double)in1[j], (double)in2[j], (double)m1[j], (double)m2[j]),
                    shown++;
    }
    *count_out = c1;
    free(p), free(in1), free(m1), free(in2), free(m2);
    return bad;
}

static const int64_t sizes[3][2] = {{64, 64}, {37, 53}, {22, 22}};

static void check_against_ref(int *testkit_failed, fsci__mask_opts o)
{
    int64_t blind = 0, fb = 0;
    for (int si = 0; si < 3; si++)
        for (uint64_t seed = 1; seed <= 4; seed++)
            for (int ties = 0; ties < 2; ties++) {
                int64_t c;
                uint64_t step = seed * 1000 + (uint64_t)si;
                if (compare_with_ref(&o, 5, sizes[si][0], sizes[si][1], seed * 0x9e3779b97f4a7c15ull, step,
                                     ties, &c, &fb))
                    TESTKIT_FAIL("kind %d perc %g radius %d prob %g differs from the reference", (int)o.kind,
                                 o.perc, o.radius, o.prob);
                blind += c;
            }
    ASSERT_TRUE(blind > 0);
}

/* ------------------------------------------------------------ equality with the reference */

TEST(n2v2_defaults_match_reference)
{
    check_against_ref(testkit_failed, fsci__mask_defaults(FSCI__MASK_N2V2));
}

TEST(n2v2_dense_and_wide_windows_match_reference)
{
    fsci__mask_opts o = fsci__mask_defaults(FSCI__MASK_N2V2);
    o.perc = 10; /* 3 px boxes: neighbouring blind spots in most windows */
    check_against_ref(testkit_failed, o);
    o.perc = 16; /* sqrt(100 / 16) = 2.5: ties to even, side 2 */
    o.radius = 1;
    check_against_ref(testkit_failed, o);
    o.perc = 1;
    o.radius = 5;
    check_against_ref(testkit_failed, o);
    o.perc = 2;
    o.radius = 10; /* 21 x 21 windows, up to 440 values */
    check_against_ref(testkit_failed, o);
}

TEST(openhcs_matches_reference)
{
    fsci__mask_opts o = fsci__mask_defaults(FSCI__MASK_OPENHCS);
    check_against_ref(testkit_failed, o);
    o.prob = 0.5;
    check_against_ref(testkit_failed, o);
}

TEST(n2v_matches_reference)
{
    fsci__mask_opts o = fsci__mask_defaults(FSCI__MASK_N2V);
    check_against_ref(testkit_failed, o);
    o.perc = 5;
    o.radius = 2;
    check_against_ref(testkit_failed, o);
}

/* 3 x 3 patches, 2 px boxes, radius 1: about one patch in 256 has its four blind spots
 * at (1,1), (1,2), (2,1), (2,2), leaving (2,2) an empty window: the patch mean fallback. */
TEST(n2v2_empty_window_falls_back_to_the_mean)
{
    fsci__mask_opts o = {FSCI__MASK_N2V2, 25, 1, 0};
    ASSERT_EQ(ref_box_side(25), 2);
    int64_t fb = 0, c;
    for (uint64_t step = 0; step < 40; step++)
        if (compare_with_ref(&o, 256, 3, 3, 5, step, 0, &c, &fb))
            TESTKIT_FAIL("3 x 3 patches differ from the reference at step %llu", (unsigned long long)step);
    ASSERT_TRUE(fb > 0);
}

/* ------------------------------------------------------------ stratified layout */

TEST(n2v2_one_point_per_box)
{
    for (int si = 0; si < 3; si++) {
        int64_t h = sizes[si][0], w = sizes[si][1], b = 16;
        for (int pi = 0; pi < 3; pi++) {
            fsci__mask_opts o = fsci__mask_defaults(FSCI__MASK_N2V2);
            o.perc = pi == 0 ? 0.198 : pi == 1 ? 2 : 10;
            int64_t s = ref_box_side(o.perc), n = b * h * w, count = -1;
            float *p = malloc((size_t)n * sizeof(float)), *in = malloc((size_t)n * sizeof(float));
            float *m = malloc((size_t)n * sizeof(float));
            fill_patches(p, n, 3, 0);
            ASSERT_OK(fsci__mask_apply(&o, p, in, m, b, h, w, 11, (uint64_t)si, 1, &count));
            int64_t marked = 0, full_boxes = 0, part_boxes = 0, part_points = 0;
            for (int64_t i = 0; i < b; i++)
                for (int64_t y0 = 0; y0 < h; y0 += s)
                    for (int64_t x0 = 0; x0 < w; x0 += s) {
                        int64_t k = 0;
                        for (int64_t y = y0; y < y0 + s && y < h; y++)
                            for (int64_t x = x0; x < x0 + s && x < w; x++) {
                                float v = m[(i * h + y) * w + x];
                                if (v != 0.0f && v != 1.0f) TESTKIT_FAIL("mask value %g", (double)v);
                                k += v == 1.0f;
                            }
                        if (k > 1)
                            TESTKIT_FAIL("%lld blind spots in one %lld px box", (long long)k, (long long)s);
                        if (y0 + s <= h && x0 + s <= w) {
                            if (k != 1) TESTKIT_FAIL("a box inside the patch has no blind spot");
                            full_boxes++;
                        } else {
                            part_boxes++, part_points += k;
                        }
                        marked += k;
                    }
            ASSERT_EQ(count, marked);
            /* Border boxes keep a point with probability (area inside) / s^2 < 1: some drop. */
            if (part_boxes >= 40) ASSERT_TRUE(part_points < part_boxes);
            ASSERT_TRUE(full_boxes > 0);
            /* Outside the blind spots the input is the original. */
            for (int64_t j = 0; j < n; j++)
                if (m[j] == 0.0f && memcmp(&in[j], &p[j], sizeof(float)))
                    TESTKIT_FAIL("pixel %lld changed but not masked", (long long)j);
            free(p), free(in), free(m);
        }
    }
}

/* ------------------------------------------------------------ no leak (N2V2) */

/* Index j written in binary and read in base 3: the values have no three-term arithmetic
 * progression, so the mean of two distinct values is never a value, and an even-count
 * median never imitates a pixel. All are integers below 3^13 / 2, exact in float32. */
static float ap_free(int64_t j)
{
    int64_t v = 0, p3 = 1;
    for (; j; j >>= 1, p3 *= 3)
        if (j & 1) v += p3;
    return (float)v;
}

TEST(n2v2_no_blind_spot_value_reaches_the_input)
{
    fsci__mask_opts o = fsci__mask_defaults(FSCI__MASK_N2V2);
    o.perc = 10; /* 3 px boxes, 5 x 5 windows: typically 2-5 other blind spots per window */
    ASSERT_EQ(ref_box_side(o.perc), 3);
    const int64_t vmax = 265721; /* ap_free(4095) + 1 */
    bool *is_blind = malloc((size_t)vmax);
    int64_t leaks_checked = 0;
    for (int si = 0; si < 2; si++) {
        int64_t h = sizes[si][0], w = sizes[si][1], b = 5, n = b * h * w, c1, c2;
        float *p = malloc((size_t)n * sizeof(float)), *p2 = malloc((size_t)n * sizeof(float));
        float *in = malloc((size_t)n * sizeof(float)), *in2 = malloc((size_t)n * sizeof(float));
        float *m = malloc((size_t)n * sizeof(float)), *m2 = malloc((size_t)n * sizeof(float));
        for (uint64_t step = 0; step < 8; step++) {
            for (int64_t i = 0; i < b; i++)
                for (int64_t j = 0; j < h * w; j++) p[i * h * w + j] = ap_free((j * 31 + i * 11) % (h * w));
            ASSERT_OK(fsci__mask_apply(&o, p, in, m, b, h, w, 21, step, 2, &c1));
            for (int64_t i = 0; i < b; i++) {
                const float *pi = p + i * h * w, *ini = in + i * h * w, *mi = m + i * h * w;
                memset(is_blind, 0, (size_t)vmax);
                for (int64_t j = 0; j < h * w; j++)
                    if (mi[j] == 1.0f) is_blind[(int64_t)pi[j]] = true;
                for (int64_t j = 0; j < h * w; j++) {
                    float v = ini[j];
                    if (v == floorf(v) && v >= 0 && v < (float)vmax && is_blind[(int64_t)v])
                        TESTKIT_FAIL(
                            "%lldx%lld step %llu patch %lld: input[%lld] = %.1f is a blind spot's value",
                            (long long)h, (long long)w, (unsigned long long)step, (long long)i, (long long)j,
                            (double)v);
                    leaks_checked++;
                }
            }
            /* The input must not depend on the blind spots' values at all: change them all
             * and the input (and the mask, drawn from the stream only) stays the same bytes. */
            memcpy(p2, p, (size_t)n * sizeof(float));
            for (int64_t j = 0; j < n; j++)
                if (m[j] == 1.0f) p2[j] = -1e6f - (float)j;
            ASSERT_OK(fsci__mask_apply(&o, p2, in2, m2, b, h, w, 21, step, 1, &c2));
            ASSERT_EQ(c1, c2);
            ASSERT_TRUE(memcmp(m, m2, (size_t)n * sizeof(float)) == 0);
            for (int64_t j = 0; j < n; j++)
                if (memcmp(&in[j], &in2[j], sizeof(float)) && m[j] == 1.0f)
                    TESTKIT_FAIL("blind spot %lld: replacement %.9g became %.9g when the other blind spots "
                                 "changed",
                                 (long long)j, (double)in[j], (double)in2[j]);
        }
        free(p), free(p2), free(in), free(in2), free(m), free(m2);
    }
    free(is_blind);
    ASSERT_TRUE(leaks_checked > 0);
}

/* ------------------------------------------------------------ OpenHCS */

TEST(openhcs_density)
{
    fsci__mask_opts o = fsci__mask_defaults(FSCI__MASK_OPENHCS);
    int64_t b = 64, h = 64, w = 64, n = b * h * w, count = -1;
    float *p = malloc((size_t)n * sizeof(float)), *in = malloc((size_t)n * sizeof(float));
    float *m = malloc((size_t)n * sizeof(float));
    fill_patches(p, n, 4, 0);
    for (uint64_t step = 0; step < 3; step++) {
        ASSERT_OK(fsci__mask_apply(&o, p, in, m, b, h, w, 77, step, 2, &count));
        double mean = (double)n * o.prob, sigma = sqrt((double)n * o.prob * (1 - o.prob));
        ASSERT_NEAR_REL((double)count, mean, 0, 4 * sigma);
        int64_t marked = 0;
        for (int64_t j = 0; j < n; j++) marked += m[j] == 1.0f;
        ASSERT_EQ(marked, count);
    }
    free(p), free(in), free(m);
}

/* Constant-1 patches: a corner's ring is {0,0,0,0,0,1,1,1} (lower median 0), an edge's
 * {0,0,0,1,1,1,1,1} (1), an interior ring is all 1. */
TEST(openhcs_zero_padding)
{
    fsci__mask_opts o = {FSCI__MASK_OPENHCS, 0, 0, 0.5};
    int64_t b = 8, h = 9, w = 11, n = b * h * w, count;
    float *p = malloc((size_t)n * sizeof(float)), *in = malloc((size_t)n * sizeof(float));
    float *m = malloc((size_t)n * sizeof(float));
    for (int64_t j = 0; j < n; j++) p[j] = 1.0f;
    int64_t corners = 0, edges = 0, inner = 0;
    for (uint64_t step = 0; step < 4; step++) {
        ASSERT_OK(fsci__mask_apply(&o, p, in, m, b, h, w, 3, step, 1, &count));
        for (int64_t i = 0; i < b; i++)
            for (int64_t y = 0; y < h; y++)
                for (int64_t x = 0; x < w; x++) {
                    int64_t j = (i * h + y) * w + x;
                    int border = (y == 0 || y == h - 1) + (x == 0 || x == w - 1);
                    if (m[j] != 1.0f) {
                        ASSERT_TRUE(in[j] == 1.0f);
                        continue;
                    }
                    float want = border == 2 ? 0.0f : 1.0f;
                    if (in[j] != want)
                        TESTKIT_FAIL("(%lld, %lld) borders %d: %g, expected %g", (long long)y, (long long)x,
                                     border, (double)in[j], (double)want);
                    corners += border == 2, edges += border == 1, inner += border == 0;
                }
    }
    ASSERT_TRUE(corners > 0 && edges > 0 && inner > 0);
    free(p), free(in), free(m);
}

/* Ramp patch (value = row-major index): the ring of an interior pixel j sorts as
 * j-w-1, j-w, j-w+1, j-1, j+1, ...: the lower median is j - 1 (numpy's would be j). */
TEST(openhcs_lower_median_on_a_ramp)
{
    fsci__mask_opts o = fsci__mask_defaults(FSCI__MASK_OPENHCS);
    int64_t h = 64, w = 64, count, checked = 0;
    float *p = malloc((size_t)(h * w) * sizeof(float)), *in = malloc((size_t)(h * w) * sizeof(float));
    float *m = malloc((size_t)(h * w) * sizeof(float));
    for (int64_t j = 0; j < h * w; j++) p[j] = (float)j;
    ASSERT_OK(fsci__mask_apply(&o, p, in, m, 1, h, w, 8, 0, 1, &count));
    for (int64_t y = 1; y < h - 1; y++)
        for (int64_t x = 1; x < w - 1; x++) {
            int64_t j = y * w + x;
            if (m[j] != 1.0f) continue;
            ASSERT_EQ((int64_t)in[j], j - 1);
            checked++;
        }
    ASSERT_TRUE(checked > 50);
    free(p), free(in), free(m);
}

/* ------------------------------------------------------------ threads, keys */

TEST(thread_count_does_not_change_the_bytes)
{
    const fsci__mask_kind kinds[3] = {FSCI__MASK_N2V2, FSCI__MASK_OPENHCS, FSCI__MASK_N2V};
    int64_t b = 13, h = 37, w = 53, n = b * h * w;
    float *p = malloc((size_t)n * sizeof(float));
    float *in[3], *m[3];
    for (int t = 0; t < 3; t++)
        in[t] = malloc((size_t)n * sizeof(float)), m[t] = malloc((size_t)n * sizeof(float));
    fill_patches(p, n, 6, 0);
    for (int k = 0; k < 3; k++) {
        fsci__mask_opts o = fsci__mask_defaults(kinds[k]);
        if (kinds[k] != FSCI__MASK_OPENHCS) o.perc = 5;
        int64_t c[3];
        for (int t = 0; t < 3; t++)
            ASSERT_OK(fsci__mask_apply(&o, p, in[t], m[t], b, h, w, 42, 9, t + 1, &c[t]));
        for (int t = 1; t < 3; t++) {
            ASSERT_EQ(c[t], c[0]);
            ASSERT_TRUE(memcmp(in[t], in[0], (size_t)n * sizeof(float)) == 0);
            ASSERT_TRUE(memcmp(m[t], m[0], (size_t)n * sizeof(float)) == 0);
        }
        /* Another step gives another mask; a patch's mask follows its index, not its content. */
        int64_t c2;
        ASSERT_OK(fsci__mask_apply(&o, p, in[1], m[1], b, h, w, 42, 10, 2, &c2));
        ASSERT_TRUE(memcmp(m[1], m[0], (size_t)n * sizeof(float)) != 0);
    }
    for (int t = 0; t < 3; t++) free(in[t]), free(m[t]);
    free(p);
}

/* NaN and infinite pixels give unspecified replacements but a normal run: the same mask
 * (drawn from the stream only), the originals kept elsewhere (the ASan build checks the
 * accesses). */
TEST(non_finite_values_are_safe)
{
    const fsci__mask_kind kinds[3] = {FSCI__MASK_N2V2, FSCI__MASK_OPENHCS, FSCI__MASK_N2V};
    int64_t b = 4, h = 22, w = 22, n = b * h * w;
    float *p = malloc((size_t)n * sizeof(float)), *q = malloc((size_t)n * sizeof(float));
    float *in = malloc((size_t)n * sizeof(float)), *m = malloc((size_t)n * sizeof(float));
    float *in2 = malloc((size_t)n * sizeof(float)), *m2 = malloc((size_t)n * sizeof(float));
    fill_patches(p, n, 12, 0);
    for (int64_t j = 0; j < n; j++) q[j] = j % 3 == 0 ? NAN : j % 3 == 1 ? INFINITY : p[j];
    for (int k = 0; k < 3; k++) {
        fsci__mask_opts o = fsci__mask_defaults(kinds[k]);
        if (kinds[k] == FSCI__MASK_N2V2) o.perc = 10, o.radius = 4; /* the select_kth path too */
        int64_t c1, c2;
        ASSERT_OK(fsci__mask_apply(&o, p, in, m, b, h, w, 5, 1, 2, &c1));
        ASSERT_OK(fsci__mask_apply(&o, q, in2, m2, b, h, w, 5, 1, 2, &c2));
        ASSERT_EQ(c1, c2);
        ASSERT_TRUE(memcmp(m, m2, (size_t)n * sizeof(float)) == 0);
        for (int64_t j = 0; j < n; j++)
            if (m2[j] == 0.0f) ASSERT_TRUE(memcmp(&in2[j], &q[j], sizeof(float)) == 0);
    }
    free(p), free(q), free(in), free(m), free(in2), free(m2);
}

/* ------------------------------------------------------------ bad options */

static int refused(const fsci__mask_opts *o, int64_t h, int64_t w, const char *words)
{
    fsci_error_clear();
    int st = fsci__mask_check(o, h, w);
    if (st != FSCI_EINVAL) return 0;
    if (!strstr(fsci_error_message(), words)) {
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", fsci_error_message(), words);
        return 0;
    }
    return 1;
}

TEST(bad_options_are_refused)
{
    fsci__mask_opts d = fsci__mask_defaults(FSCI__MASK_N2V2), o;
    ASSERT_OK(fsci__mask_check(&d, 64, 64));
    o = fsci__mask_defaults(FSCI__MASK_OPENHCS);
    ASSERT_OK(fsci__mask_check(&o, 1, 1));
    o = fsci__mask_defaults(FSCI__MASK_N2V);
    ASSERT_OK(fsci__mask_check(&o, 11, 11));
    ASSERT_TRUE(refused(NULL, 64, 64, "NULL"));
    o = d, o.kind = (fsci__mask_kind)7;
    ASSERT_TRUE(refused(&o, 64, 64, "kind = 7"));
    ASSERT_TRUE(refused(&d, 0, 64, "patch size 0 x 64"));
    ASSERT_TRUE(refused(&d, 64, -3, "patch size 64 x -3"));
    o = d, o.perc = 0;
    ASSERT_TRUE(refused(&o, 64, 64, "perc = 0 must lie in (0, 50]"));
    o.perc = -1;
    ASSERT_TRUE(refused(&o, 64, 64, "perc = -1"));
    o.perc = 50.5;
    ASSERT_TRUE(refused(&o, 64, 64, "perc = 50.5"));
    o.perc = NAN;
    ASSERT_TRUE(refused(&o, 64, 64, "perc = nan"));
    o.perc = 45;
    ASSERT_TRUE(refused(&o, 64, 64, "box side of 1 px"));
    o.perc = 44;
    ASSERT_OK(fsci__mask_check(&o, 64, 64));
    o.perc = 1e-12;
    ASSERT_TRUE(refused(&o, 64, 64, "perc = 1e-12 gives a box side"));
    o = d, o.radius = 0;
    ASSERT_TRUE(refused(&o, 64, 64, "radius = 0"));
    o.radius = 17;
    ASSERT_TRUE(refused(&o, 64, 64, "radius = 17"));
    o.radius = 16;
    ASSERT_OK(fsci__mask_check(&o, 33, 33));
    ASSERT_TRUE(refused(&o, 33, 32, "33 x 33 window, larger than the 33 x 32 patch"));
    o = fsci__mask_defaults(FSCI__MASK_N2V);
    ASSERT_TRUE(refused(&o, 10, 64, "radius = 5 gives a 11 x 11 window"));
    o = fsci__mask_defaults(FSCI__MASK_OPENHCS), o.prob = 0;
    ASSERT_TRUE(refused(&o, 64, 64, "prob = 0 must lie in (0, 0.5]"));
    o.prob = 0.6;
    ASSERT_TRUE(refused(&o, 64, 64, "prob = 0.6"));
    o.prob = NAN;
    ASSERT_TRUE(refused(&o, 64, 64, "prob = nan"));
    o.prob = 0.5, o.radius = 0, o.perc = -1; /* unused fields are not checked */
    ASSERT_OK(fsci__mask_check(&o, 64, 64));
}

TEST(bad_calls_are_refused_and_write_nothing)
{
    fsci__mask_opts d = fsci__mask_defaults(FSCI__MASK_N2V2), bad = d;
    bad.perc = 60;
    enum { H = 16, W = 16, B = 2, N = B * H * W };
    float p[N], in[N], m[N];
    for (int j = 0; j < N; j++) p[j] = 1.0f, in[j] = -7.0f, m[j] = -7.0f;
    int64_t count = 99;
    ASSERT_STATUS(fsci__mask_apply(&bad, p, in, m, B, H, W, 1, 0, 1, &count), FSCI_EINVAL);
    ASSERT_STATUS(fsci__mask_apply(&d, p, in, m, -1, H, W, 1, 0, 1, &count), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "b = -1") != NULL);
    ASSERT_STATUS(fsci__mask_apply(&d, p, in, m, B, H, W, 1, 0, -2, &count), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "nthreads = -2") != NULL);
    ASSERT_STATUS(fsci__mask_apply(&d, p, NULL, m, B, H, W, 1, 0, 1, &count), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "input is NULL") != NULL);
    ASSERT_STATUS(fsci__mask_apply(&d, p, p, m, B, H, W, 1, 0, 1, &count), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "must not overlap") != NULL);
    ASSERT_STATUS(fsci__mask_apply(&d, p, in, in + 1, 1, H, W, 1, 0, 1, &count), FSCI_EINVAL);
    ASSERT_STATUS(fsci__mask_apply(&d, p, in, m, INT64_MAX / 4, H, W, 1, 0, 1, &count), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "overflows") != NULL);
    for (int j = 0; j < N; j++) ASSERT_TRUE(in[j] == -7.0f && m[j] == -7.0f);
    ASSERT_EQ(count, 99);
    /* An empty batch is fine and needs no arrays. */
    ASSERT_OK(fsci__mask_apply(&d, NULL, NULL, NULL, 0, H, W, 1, 0, 0, &count));
    ASSERT_EQ(count, 0);
    ASSERT_OK(fsci__mask_apply(&d, p, in, m, B, H, W, 1, 0, 0, NULL));
}

TESTKIT_MAIN()
