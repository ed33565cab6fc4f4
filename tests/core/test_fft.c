/* Tests of the shared FFTW plan cache: transforms against a naive float64
 * DFT, round trips, batched against per-image transforms, the cache's keys,
 * planning and executing from several OpenMP threads, and argument errors. */
#include <complex.h>
#include <omp.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/fft.h"
#include "testkit.h"

static double lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) * 0x1p-53 - 0.5;
}

static int64_t numel(const int64_t *shape, int rank)
{
    int64_t m = 1;
    for (int i = 0; i < rank; i++) m *= shape[i];
    return m;
}

/* Naive DFT of one rank-d C-order block (d <= 3), float64, sign -1 or +1:
 * out[k] = sum_x in[x] exp(sign 2 pi i sum_j k_j x_j / n_j). */
static void naive_dft(const double complex *in, double complex *out, const int64_t *shape, int rank, int sign)
{
    int64_t n[3] = {1, 1, 1};
    for (int i = 0; i < rank; i++) n[3 - rank + i] = shape[i];
    for (int64_t k0 = 0; k0 < n[0]; k0++)
        for (int64_t k1 = 0; k1 < n[1]; k1++)
            for (int64_t k2 = 0; k2 < n[2]; k2++) {
                double complex s = 0;
                for (int64_t x0 = 0; x0 < n[0]; x0++)
                    for (int64_t x1 = 0; x1 < n[1]; x1++)
                        for (int64_t x2 = 0; x2 < n[2]; x2++) {
                            /* the phase reduced mod 1 in integers: exact arguments for cexp */
                            double ph = (double)((k0 * x0) % n[0]) / (double)n[0] +
                                        (double)((k1 * x1) % n[1]) / (double)n[1] +
                                        (double)((k2 * x2) % n[2]) / (double)n[2];
                            s += in[(x0 * n[1] + x1) * n[2] + x2] *
                                 cexp(CMPLX(0.0, sign * 2.0 * FSCI_PI * ph));
                        }
                out[(k0 * n[1] + k1) * n[2] + k2] = s;
            }
}

static fsci_fft_desc desc(fsci_dtype dt, int rank, const int64_t *shape, int64_t howmany, fsci_fft_dir dir,
                          bool inplace)
{
    fsci_fft_desc d = {.dtype = dt, .rank = rank, .howmany = howmany, .dir = dir, .inplace = inplace};
    for (int i = 0; i < rank && i < FSCI_FFT_MAX_RANK; i++) d.shape[i] = shape[i];
    return d;
}

static const struct {
    int rank;
    int64_t shape[3];
} cases[] = {{1, {1}},  {1, {2}},    {1, {5}},    {1, {16}},   {1, {17}},
             {1, {30}}, {2, {3, 4}}, {2, {8, 5}}, {2, {1, 7}}, {3, {4, 3, 6}}};
enum { NCASES = sizeof cases / sizeof cases[0] };

TEST(forward_and_backward_match_a_naive_float64_dft)
{
    for (int c = 0; c < NCASES; c++) {
        int rank = cases[c].rank;
        const int64_t *shape = cases[c].shape;
        int64_t m = numel(shape, rank);
        double complex *x = fsci_malloc((size_t)m, sizeof *x), *ref = fsci_malloc((size_t)m, sizeof *ref);
        double complex *y = fsci_malloc((size_t)m, sizeof *y), *yin = fsci_malloc((size_t)m, sizeof *yin);
        float complex *xf = fsci_malloc((size_t)m, sizeof *xf), *yf = fsci_malloc((size_t)m, sizeof *yf);
        ASSERT_TRUE(x && ref && y && yin && xf && yf);
        uint64_t s = 11 + (uint64_t)c;
        for (int dirn = 0; dirn < 2; dirn++) {
            fsci_fft_dir dir = dirn ? FSCI_FFT_BACKWARD : FSCI_FFT_FORWARD;
            for (int64_t i = 0; i < m; i++) {
                x[i] = CMPLX(lcg(&s), lcg(&s));
                xf[i] = CMPLXF((float)creal(x[i]), (float)cimag(x[i]));
                x[i] =
                    CMPLX((double)crealf(xf[i]), (double)cimagf(xf[i])); /* same input for both precisions */
                yin[i] = x[i];
            }
            naive_dft(x, ref, shape, rank, (int)dir);
            const fsci_fft_plan *pd = NULL, *pdi = NULL, *pf = NULL;
            fsci_fft_desc dd = desc(FSCI_C128, rank, shape, 1, dir, false);
            fsci_fft_desc ddi = desc(FSCI_C128, rank, shape, 1, dir, true);
            fsci_fft_desc df = desc(FSCI_C64, rank, shape, 1, dir, false);
            ASSERT_OK(fsci_fft_plan_get(&dd, &pd));
            ASSERT_OK(fsci_fft_plan_get(&ddi, &pdi));
            ASSERT_OK(fsci_fft_plan_get(&df, &pf));
            ASSERT_OK(fsci_fft_execute(pd, x, y));
            ASSERT_OK(fsci_fft_execute(pdi, yin, yin));
            ASSERT_OK(fsci_fft_execute(pf, xf, yf));
            double scale = 0;
            for (int64_t i = 0; i < m; i++) scale = fmax(scale, cabs(ref[i]));
            for (int64_t i = 0; i < m; i++) {
                ASSERT_TRUE(cabs(y[i] - ref[i]) <= 1e-13 * (scale + 1));
                ASSERT_TRUE(cabs(yin[i] - y[i]) <= 1e-13 * (scale + 1));
                ASSERT_TRUE(cabs(CMPLX((double)crealf(yf[i]), (double)cimagf(yf[i])) - ref[i]) <=
                            3e-6 * (scale + 1));
            }
        }
        fsci_free(x);
        fsci_free(ref);
        fsci_free(y);
        fsci_free(yin);
        fsci_free(xf);
        fsci_free(yf);
    }
}

TEST(forward_then_backward_is_n_times_the_input)
{
    for (int c = 0; c < NCASES; c++) {
        int rank = cases[c].rank;
        const int64_t *shape = cases[c].shape;
        int64_t m = numel(shape, rank);
        float complex *x = fsci_malloc((size_t)m, sizeof *x), *y = fsci_malloc((size_t)m, sizeof *y);
        double complex *u = fsci_malloc((size_t)m, sizeof *u), *v = fsci_malloc((size_t)m, sizeof *v);
        ASSERT_TRUE(x && y && u && v);
        uint64_t s = 99 + (uint64_t)c;
        for (int64_t i = 0; i < m; i++) {
            x[i] = CMPLXF((float)lcg(&s), (float)lcg(&s));
            u[i] = CMPLX(lcg(&s), lcg(&s));
            v[i] = u[i];
        }
        const fsci_fft_plan *ff, *fb, *df, *db;
        fsci_fft_desc d1 = desc(FSCI_C64, rank, shape, 1, FSCI_FFT_FORWARD, false);
        fsci_fft_desc d2 = desc(FSCI_C64, rank, shape, 1, FSCI_FFT_BACKWARD, true);
        fsci_fft_desc d3 = desc(FSCI_C128, rank, shape, 1, FSCI_FFT_FORWARD, true);
        fsci_fft_desc d4 = desc(FSCI_C128, rank, shape, 1, FSCI_FFT_BACKWARD, true);
        ASSERT_OK(fsci_fft_plan_get(&d1, &ff));
        ASSERT_OK(fsci_fft_plan_get(&d2, &fb));
        ASSERT_OK(fsci_fft_plan_get(&d3, &df));
        ASSERT_OK(fsci_fft_plan_get(&d4, &db));
        float complex x0 = x[0];
        ASSERT_OK(fsci_fft_execute(ff, x, y));
        ASSERT_TRUE(x[0] == x0); /* out-of-place: input kept */
        ASSERT_OK(fsci_fft_execute(fb, y, y));
        ASSERT_OK(fsci_fft_execute(df, v, v));
        ASSERT_OK(fsci_fft_execute(db, v, v));
        for (int64_t i = 0; i < m; i++) {
            ASSERT_TRUE(cabsf(y[i] / (float)m - x[i]) <= 2e-6f);
            ASSERT_TRUE(cabs(v[i] / (double)m - u[i]) <= 1e-14);
        }
        fsci_free(x);
        fsci_free(y);
        fsci_free(u);
        fsci_free(v);
    }
}

TEST(batched_2d_transform_matches_per_image_transforms)
{
    const int64_t shape[2] = {6, 10}, nb = 5, m = 60;
    for (int dt = 0; dt < 2; dt++) {
        fsci_dtype t = dt ? FSCI_C128 : FSCI_C64;
        size_t es = fsci_dtype_size(t);
        char *x = fsci_malloc((size_t)(nb * m), es), *yb = fsci_malloc((size_t)(nb * m), es);
        char *y1 = fsci_malloc((size_t)m, es), *x1 = fsci_malloc((size_t)m, es);
        ASSERT_TRUE(x && yb && y1 && x1);
        uint64_t s = 5;
        for (int64_t i = 0; i < 2 * nb * m; i++) {
            if (dt)
                ((double *)(void *)x)[i] = lcg(&s);
            else
                ((float *)(void *)x)[i] = (float)lcg(&s);
        }
        const fsci_fft_plan *pb, *p1;
        fsci_fft_desc db = desc(t, 2, shape, nb, FSCI_FFT_FORWARD, false);
        fsci_fft_desc d1 = desc(t, 2, shape, 1, FSCI_FFT_FORWARD, false);
        ASSERT_OK(fsci_fft_plan_get(&db, &pb));
        ASSERT_OK(fsci_fft_plan_get(&d1, &p1));
        ASSERT_TRUE(pb != p1);
        ASSERT_OK(fsci_fft_execute(pb, x, yb));
        for (int64_t b = 0; b < nb; b++) {
            memcpy(x1, x + (size_t)(b * m) * es, (size_t)m * es);
            ASSERT_OK(fsci_fft_execute(p1, x1, y1));
            for (int64_t i = 0; i < 2 * m; i++) {
                double u = dt ? ((double *)(void *)y1)[i] : (double)((float *)(void *)y1)[i];
                double v =
                    dt ? ((double *)(void *)yb)[2 * b * m + i] : (double)((float *)(void *)yb)[2 * b * m + i];
                ASSERT_TRUE(fabs(u - v) <= (dt ? 1e-13 : 1e-5));
            }
        }
        fsci_free(x);
        fsci_free(yb);
        fsci_free(y1);
        fsci_free(x1);
    }
}

TEST(cache_returns_the_same_plan_for_the_same_key_only)
{
    const int64_t sh[3] = {12, 9, 4};
    fsci_fft_desc base = desc(FSCI_C64, 2, sh, 3, FSCI_FFT_FORWARD, false);
    const fsci_fft_plan *p0, *p1, *q;
    ASSERT_OK(fsci_fft_plan_get(&base, &p0));
    int64_t n0 = fsci_fft_cache_size();
    ASSERT_OK(fsci_fft_plan_get(&base, &p1));
    ASSERT_TRUE(p0 == p1);
    fsci_fft_desc same = base;
    same.shape[2] = 77; /* beyond the rank: not part of the key */
    ASSERT_OK(fsci_fft_plan_get(&same, &p1));
    ASSERT_TRUE(p0 == p1);
    ASSERT_EQ(fsci_fft_cache_size(), n0);
    ASSERT_EQ(fsci_fft_plan_desc(p0)->shape[2], 0);
    ASSERT_EQ(fsci_fft_plan_desc(p0)->howmany, 3);
    /* every field of the key makes a different plan */
    fsci_fft_desc v[6];
    for (int i = 0; i < 6; i++) v[i] = base;
    v[0].dtype = FSCI_C128;
    v[1].rank = 1;
    v[2].shape[1] = 10;
    v[3].howmany = 1;
    v[4].dir = FSCI_FFT_BACKWARD;
    v[5].inplace = true;
    const fsci_fft_plan *seen[7] = {p0};
    for (int i = 0; i < 6; i++) {
        ASSERT_OK(fsci_fft_plan_get(&v[i], &q));
        for (int j = 0; j <= i; j++) ASSERT_TRUE(q != seen[j]);
        seen[i + 1] = q;
        ASSERT_EQ(fsci_fft_cache_size(), n0 + i + 1);
    }
}

TEST(planning_and_executing_from_many_threads)
{
    enum { NT = 4, NK = 12, ROUNDS = 20 };
    const fsci_fft_plan *got[NT][NK];
    memset(got, 0, sizeof got);
    int fails[NT] = {0};
    int64_t n0 = fsci_fft_cache_size();
    /* keys no other test uses: 1-D and 2-D sizes 40 + k */
#pragma omp parallel num_threads(NT)
    {
        int t = omp_get_thread_num();
        for (int r = 0; r < ROUNDS; r++)
            for (int j = 0; j < NK; j++) {
                int k = (j * 5 + t * 7 + r) % NK; /* every thread its own order */
                int64_t sh[2] = {40 + k, 3};
                fsci_fft_desc d = desc(k % 2 ? FSCI_C128 : FSCI_C64, 1 + k % 2, sh, 1 + k % 3,
                                       FSCI_FFT_FORWARD, k % 4 == 0);
                const fsci_fft_plan *p = NULL;
                if (fsci_fft_plan_get(&d, &p) != FSCI_OK || !p) fails[t]++;
                if (got[t][k] && got[t][k] != p) fails[t]++;
                got[t][k] = p;
            }
    }
    for (int t = 0; t < NT; t++) {
        ASSERT_EQ(fails[t], 0);
        for (int k = 0; k < NK; k++) ASSERT_TRUE(got[t][k] == got[0][k]);
    }
    ASSERT_EQ(fsci_fft_cache_size(), n0 + NK);

    /* one plan executed by every thread at once on its own arrays: the same bits as serially */
    const int64_t sh[2] = {32, 24};
    int64_t m = 32 * 24;
    fsci_fft_desc d = desc(FSCI_C64, 2, sh, 1, FSCI_FFT_FORWARD, true);
    const fsci_fft_plan *p;
    ASSERT_OK(fsci_fft_plan_get(&d, &p));
    float complex *in = fsci_malloc((size_t)(m * NT), sizeof *in), *ref = fsci_malloc((size_t)m, sizeof *ref);
    ASSERT_TRUE(in && ref);
    uint64_t s = 3;
    for (int64_t i = 0; i < m; i++) ref[i] = CMPLXF((float)lcg(&s), (float)lcg(&s));
    for (int t = 0; t < NT; t++) memcpy(in + t * m, ref, (size_t)m * sizeof *ref);
    ASSERT_OK(fsci_fft_execute(p, ref, ref));
#pragma omp parallel num_threads(NT)
    {
        int t = omp_get_thread_num();
        for (int r = 0; r < ROUNDS; r++) {
            if (fsci_fft_execute(p, in + t * m, in + t * m) != FSCI_OK) fails[t]++;
            if (fsci_fft_execute(p, in + t * m, in + t * m) != FSCI_OK)
                fails[t]++; /* forward twice: n^2 x(-k) */
            for (int64_t i = 0; i < m; i++) in[t * m + i] /= (float)m;
        }
        if (fsci_fft_execute(p, in + t * m, in + t * m) != FSCI_OK) fails[t]++;
    }
    /* F(F(x))/m is x reflected and exact up to rounding; the per-thread chains are identical,
     * so every thread must end on exactly the same bits */
    for (int t = 0; t < NT; t++) {
        ASSERT_EQ(fails[t], 0);
        ASSERT_TRUE(memcmp(in, in + t * m, (size_t)m * sizeof *in) == 0);
    }
    for (int64_t i = 0; i < m; i++) ASSERT_TRUE(cabsf(in[i] - ref[i]) <= 1e-4f * (1.0f + cabsf(ref[i])));
    fsci_free(in);
    fsci_free(ref);
}

TEST(bad_descriptors_and_arrays_are_rejected)
{
    const int64_t sh[3] = {4, 4, 4};
    const fsci_fft_plan *p = NULL;
    fsci_fft_desc d = desc(FSCI_F32, 1, sh, 1, FSCI_FFT_FORWARD, false);
    ASSERT_STATUS(fsci_fft_plan_get(&d, &p), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "float32") != NULL);
    d = desc(FSCI_C64, 4, sh, 1, FSCI_FFT_FORWARD, false);
    ASSERT_STATUS(fsci_fft_plan_get(&d, &p), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "rank 4") != NULL);
    d = desc(FSCI_C64, 2, sh, 0, FSCI_FFT_FORWARD, false);
    ASSERT_STATUS(fsci_fft_plan_get(&d, &p), FSCI_EINVAL);
    d = desc(FSCI_C64, 2, sh, 1, (fsci_fft_dir)0, false);
    ASSERT_STATUS(fsci_fft_plan_get(&d, &p), FSCI_EINVAL);
    d = desc(FSCI_C64, 2, sh, 1, FSCI_FFT_FORWARD, false);
    d.shape[1] = 0;
    ASSERT_STATUS(fsci_fft_plan_get(&d, &p), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "shape[1] = 0") != NULL);
    d.shape[1] = (int64_t)1 << 20;
    d.shape[0] = (int64_t)1 << 12;
    ASSERT_STATUS(fsci_fft_plan_get(&d, &p), FSCI_EINVAL);
    ASSERT_STATUS(fsci_fft_plan_get(NULL, &p), FSCI_EINVAL);
    ASSERT_TRUE(p == NULL);

    d = desc(FSCI_C64, 1, sh, 1, FSCI_FFT_FORWARD, true);
    ASSERT_OK(fsci_fft_plan_get(&d, &p));
    float complex *a = fsci_malloc(16, sizeof *a), *b = fsci_malloc(16, sizeof *b);
    ASSERT_TRUE(a && b);
    ASSERT_STATUS(fsci_fft_execute(p, a, b), FSCI_EINVAL); /* in-place plan, two arrays */
    ASSERT_TRUE(strstr(fsci_error_message(), "in-place") != NULL);
    ASSERT_STATUS(fsci_fft_execute(p, (char *)a + 4, (char *)a + 4), FSCI_EINVAL); /* misaligned */
    ASSERT_STATUS(fsci_fft_execute(NULL, a, a), FSCI_EINVAL);
    ASSERT_OK(fsci_fft_execute(p, a + 2, a + 2)); /* 16-byte aligned is enough */
    d.inplace = false;
    ASSERT_OK(fsci_fft_plan_get(&d, &p));
    ASSERT_STATUS(fsci_fft_execute(p, a, a), FSCI_EINVAL);
    fsci_free(a);
    fsci_free(b);
}

TEST(cache_clear_empties_the_cache)
{
    const int64_t sh[1] = {8};
    fsci_fft_desc d = desc(FSCI_C128, 1, sh, 1, FSCI_FFT_FORWARD, false);
    const fsci_fft_plan *p;
    ASSERT_OK(fsci_fft_plan_get(&d, &p));
    ASSERT_TRUE(fsci_fft_cache_size() >= 1);
    fsci_fft_cache_clear();
    ASSERT_EQ(fsci_fft_cache_size(), 0);
    ASSERT_OK(fsci_fft_plan_get(&d, &p));
    ASSERT_EQ(fsci_fft_cache_size(), 1);
    fsci_fft_cache_clear();
}

TESTKIT_MAIN()
