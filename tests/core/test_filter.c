/* Tests of the separable filters (fastsci/core/filter.h): scipy.ndimage's
 * gaussian_filter in every boundary mode, an independent direct 2-D
 * correlation, normalisation, separability, the impulse response, errors. */
#include "fastsci/core/alloc.h"
#include "fastsci/core/filter.h"
#include "fastsci/core/npy.h"
#include "fastsci/core/rng.h"
#include "testkit.h"

static const char *mode_name[] = {"reflect", "mirror", "nearest", "grid-wrap", "constant"};

static void random_image(uint64_t seed, int64_t n, double *img)
{
    fsci_rng r;
    fsci_rng_init(&r, seed, 99, 0, 0);
    for (int64_t i = 0; i < n; i++) img[i] = fsci_rng_uniform(&r) - 0.25;
}

/* Position i of a line of n samples folded back into [0, n) step by step
 * (a second statement of the modes, written as repeated folding), -1 for
 * constant outside. */
static int64_t fold(int64_t i, int64_t n, fsci_filter_mode mode)
{
    while (i < 0 || i >= n) {
        switch (mode) {
        case FSCI_FILTER_REFLECT: i = i < 0 ? -1 - i : 2 * n - 1 - i; break;
        case FSCI_FILTER_MIRROR:
            if (n == 1) return 0;
            i = i < 0 ? -i : 2 * n - 2 - i;
            break;
        case FSCI_FILTER_NEAREST: i = i < 0 ? 0 : n - 1; break;
        case FSCI_FILTER_WRAP: i = i < 0 ? i + n : i - n; break;
        default: return -1;
        }
    }
    return i;
}

/* Normalised Gaussian kernel of radius (int)(truncate sigma + 0.5), summed
 * in long double. */
static int64_t gauss_kernel(double sigma, double truncate, double *k)
{
    int64_t rad = (int64_t)(truncate * sigma + 0.5);
    long double sum = 0;
    for (int64_t i = -rad; i <= rad; i++) {
        k[i + rad] = exp(-(double)(i * i) / (2 * sigma * sigma));
        sum += k[i + rad];
    }
    for (int64_t i = 0; i <= 2 * rad; i++) k[i] = (double)(k[i] / sum);
    return rad;
}

/* Direct 2-D correlation with the outer product kernel ky[a] kx[b]: the
 * constant mode is applied per axis, as a separable filter does (a pixel
 * outside along one axis contributes cval times the other axis's weight). */
static void direct(const double *in, double *out, int64_t h, int64_t w, const double *k, int64_t rad,
                   fsci_filter_mode mode, double cval)
{
    for (int64_t r = 0; r < h; r++)
        for (int64_t c = 0; c < w; c++) {
            long double acc = 0;
            for (int64_t a = -rad; a <= rad; a++) {
                int64_t rr = fold(r + a, h, mode);
                long double row = 0;
                for (int64_t b = -rad; b <= rad; b++) {
                    int64_t cc = fold(c + b, w, mode);
                    row += (long double)k[b + rad] * (rr < 0 || cc < 0 ? cval : in[rr * w + cc]);
                }
                acc += (long double)k[a + rad] * (rr < 0 ? cval : row);
            }
            out[r * w + c] = (double)acc;
        }
}

TEST(gaussian_matches_an_independent_direct_correlation)
{
    enum { H = 23, W = 31 };
    static double in[H * W], out[H * W], ref[H * W], k[512];
    random_image(1, H * W, in);
    const double sigmas[] = {0.3, 1.0, 2.5, 7.0, 20.0};
    for (int m = 0; m <= FSCI_FILTER_CONSTANT; m++)
        for (int si = 0; si < 5; si++) {
            int64_t rad = gauss_kernel(sigmas[si], 4.0, k);
            direct(in, ref, H, W, k, rad, (fsci_filter_mode)m, 0.6);
            ASSERT_OK(fsci_filter_gaussian(in, out, H, W, sigmas[si], 4.0, (fsci_filter_mode)m, 0.6));
            for (int i = 0; i < H * W; i++) ASSERT_NEAR_REL(out[i], ref[i], 1e-13, 1e-15);
        }
}

TEST(gaussian_matches_scipy_ndimage)
{
    const char *py = getenv("FSCI_PYTHON"), *tmp = getenv("FSCI_TEST_TMP");
    if (!py || !tmp) {
        printf("  (skipped: FSCI_PYTHON or FSCI_TEST_TMP not set)\n");
        return;
    }
    /* scipy writes the input and one output per (mode, sigma, truncate) */
    char cmd[4096], path[1024];
    snprintf(
        cmd, sizeof cmd,
        "'%s' -c 'import sys, numpy as np; from scipy import ndimage\n"
        "d = sys.argv[1]; img = np.random.default_rng(5).uniform(-1, 2, (37, 53)); np.save(d + "
        "\"/filter_in.npy\", img)\n"
        "for m in (\"reflect\", \"mirror\", \"nearest\", \"grid-wrap\", \"constant\"):\n"
        "  for s, t in ((0.5, 4.0), (1.0, 4.0), (3.0, 4.0), (10.0, 4.0), (2.0, 2.0)):\n"
        "    np.save(d + \"/filter_%%s_%%g_%%g.npy\" %% (m, s, t), ndimage.gaussian_filter(img, s, mode=m, "
        "cval=0.3, truncate=t))\n' '%s'",
        py, tmp);
    ASSERT_EQ(system(cmd), 0);
    fsci_array *in = NULL, *ref = NULL;
    snprintf(path, sizeof path, "%s/filter_in.npy", tmp);
    ASSERT_OK(fsci_npy_read(path, &in));
    ASSERT_TRUE(in->view.dtype == FSCI_F64 && in->view.ndim == 2);
    int64_t h = in->view.shape[0], w = in->view.shape[1];
    double *out = fsci_malloc((size_t)(h * w), sizeof *out);
    ASSERT_TRUE(out);
    const double st[5][2] = {{0.5, 4.0}, {1.0, 4.0}, {3.0, 4.0}, {10.0, 4.0}, {2.0, 2.0}};
    for (int m = 0; m <= FSCI_FILTER_CONSTANT; m++)
        for (int c = 0; c < 5; c++) {
            snprintf(path, sizeof path, "%s/filter_%s_%g_%g.npy", tmp, mode_name[m], st[c][0], st[c][1]);
            ASSERT_OK(fsci_npy_read(path, &ref));
            ASSERT_OK(
                fsci_filter_gaussian(in->view.data, out, h, w, st[c][0], st[c][1], (fsci_filter_mode)m, 0.3));
            const double *r = ref->view.data;
            for (int64_t i = 0; i < h * w; i++) ASSERT_NEAR_REL(out[i], r[i], 1e-12, 1e-14);
            fsci_array_destroy(&ref);
        }
    fsci_free(out);
    fsci_array_destroy(&in);
}

TEST(constant_image_stays_constant)
{
    enum { H = 9, W = 14 };
    static double img[H * W];
    for (int m = 0; m <= FSCI_FILTER_CONSTANT; m++)
        for (double sigma = 0.5; sigma < 12; sigma *= 2) {
            for (int i = 0; i < H * W; i++) img[i] = 3.25;
            ASSERT_OK(fsci_filter_gaussian(img, img, H, W, sigma, 4.0, (fsci_filter_mode)m, 3.25));
            for (int i = 0; i < H * W; i++) ASSERT_NEAR_REL(img[i], 3.25, 1e-14, 0);
        }
}

TEST(separable_equals_one_axis_after_the_other)
{
    enum { H = 17, W = 12 };
    static double in[H * W], a[H * W], b[H * W];
    random_image(2, H * W, in);
    const double kx[4] = {0.1, -0.5, 0.25, 2.0}, ky[3] = {1.0, 0.5, -0.125};
    for (int m = 0; m <= FSCI_FILTER_CONSTANT; m++) {
        ASSERT_OK(fsci_filter_separable(in, a, H, W, kx, 4, ky, 3, (fsci_filter_mode)m, -1.5));
        ASSERT_OK(fsci_filter_separable(in, b, H, W, kx, 4, NULL, 0, (fsci_filter_mode)m, -1.5));
        ASSERT_OK(fsci_filter_separable(b, b, H, W, NULL, 0, ky, 3, (fsci_filter_mode)m, -1.5));
        ASSERT_TRUE(memcmp(a, b, sizeof a) == 0); /* same operations: bit for bit */
    }
    /* an even kernel's origin is len/2: kx = {0, 0, 1, 0} at origin 2 is the identity */
    const double id[4] = {0, 0, 1, 0};
    ASSERT_OK(fsci_filter_separable(in, a, H, W, id, 4, id, 4, FSCI_FILTER_REFLECT, 0));
    ASSERT_TRUE(memcmp(a, in, sizeof a) == 0);
    /* a shift: {1, 0, 0} at origin 1 reads the left neighbour (correlation) */
    const double left[3] = {1, 0, 0};
    ASSERT_OK(fsci_filter_separable(in, a, H, W, left, 3, NULL, 0, FSCI_FILTER_NEAREST, 0));
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++) ASSERT_TRUE(a[r * W + c] == in[r * W + (c ? c - 1 : 0)]);
    /* a separable image f(r) g(c) gives the outer product of the 1-D results */
    static double f[H], g[W], ff[H], gg[W];
    random_image(3, H, f);
    random_image(4, W, g);
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++) in[r * W + c] = f[r] * g[c];
    ASSERT_OK(fsci_filter_gaussian(in, a, H, W, 1.7, 4.0, FSCI_FILTER_MIRROR, 0));
    ASSERT_OK(fsci_filter_gaussian(f, ff, H, 1, 1.7, 4.0, FSCI_FILTER_MIRROR, 0));
    ASSERT_OK(fsci_filter_gaussian(g, gg, 1, W, 1.7, 4.0, FSCI_FILTER_MIRROR, 0));
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++) ASSERT_NEAR_REL(a[r * W + c], ff[r] * gg[c], 1e-13, 1e-15);
}

TEST(impulse_response_is_the_normalised_kernel)
{
    enum { S = 41 };
    static double img[S * S], k[64];
    img[20 * S + 20] = 1.0;
    int64_t rad = gauss_kernel(2.0, 4.0, k);
    ASSERT_EQ(rad, 8);
    ASSERT_OK(fsci_filter_gaussian(img, img, S, S, 2.0, 4.0, FSCI_FILTER_CONSTANT, 0.0));
    double sum = 0;
    for (int r = 0; r < S; r++)
        for (int c = 0; c < S; c++) {
            int dr = r - 20, dc = c - 20;
            double want = abs(dr) <= 8 && abs(dc) <= 8 ? k[dr + 8] * k[dc + 8] : 0.0;
            ASSERT_NEAR_REL(img[r * S + c], want, 1e-14, 1e-18);
            sum += img[r * S + c];
        }
    ASSERT_NEAR_REL(sum, 1.0, 1e-14, 0);
    /* sigma 0: a copy */
    double a[6] = {1, 2, 3, 4, 5, 6}, b[6];
    ASSERT_OK(fsci_filter_gaussian(a, b, 2, 3, 0.0, 4.0, FSCI_FILTER_REFLECT, 0));
    ASSERT_TRUE(memcmp(a, b, sizeof a) == 0);
}

TEST(errors)
{
    double a[6] = {0}, k[3] = {1, 1, 1};
    ASSERT_STATUS(fsci_filter_separable(NULL, a, 2, 3, k, 3, k, 3, FSCI_FILTER_REFLECT, 0), FSCI_EINVAL);
    ASSERT_STATUS(fsci_filter_separable(a, NULL, 2, 3, k, 3, k, 3, FSCI_FILTER_REFLECT, 0), FSCI_EINVAL);
    ASSERT_STATUS(fsci_filter_separable(a, a, 0, 3, k, 3, k, 3, FSCI_FILTER_REFLECT, 0), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "(0, 3)"));
    ASSERT_STATUS(fsci_filter_separable(a, a, 2, 3, k, 0, k, 3, FSCI_FILTER_REFLECT, 0), FSCI_EINVAL);
    ASSERT_STATUS(fsci_filter_separable(a, a, 2, 3, k, 3, k, 3, (fsci_filter_mode)9, 0), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "mode 9"));
    ASSERT_STATUS(fsci_filter_gaussian(a, a, 2, 3, -1.0, 4.0, FSCI_FILTER_REFLECT, 0), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "sigma = -1"));
    ASSERT_STATUS(fsci_filter_gaussian(a, a, 2, 3, (double)NAN, 4.0, FSCI_FILTER_REFLECT, 0), FSCI_EINVAL);
    ASSERT_STATUS(fsci_filter_gaussian(a, a, 2, 3, 1.0, 0.0, FSCI_FILTER_REFLECT, 0), FSCI_EINVAL);
    ASSERT_STATUS(fsci_filter_gaussian(a, a, 2, 3, 1e300, 4.0, FSCI_FILTER_REFLECT, 0), FSCI_EINVAL);
    fsci_alloc_fail_after(0);
    int st = fsci_filter_gaussian(a, a, 2, 3, 1.0, 4.0, FSCI_FILTER_REFLECT, 0);
    fsci_alloc_fail_after(-1);
    ASSERT_STATUS(st, FSCI_ENOMEM);
}

TESTKIT_MAIN()
