/* Tests of the qdot charge-state classifier (src/qdot/classifier.c, cls_data.c).
 * - The head written there (global average pool, linear, softmax
 *   cross-entropy) against central finite differences in float64 on
 *   L = sum(r * y) (or the loss itself).
 * - The reference's preprocessing on known values.
 * - The data set: the same bytes with 1 and 2 threads, and patch i the same
 *   in sets of different sizes; balanced labels.
 * - The ensemble rules (mean softmax, confidence, pairwise L-infinity
 *   disagreement) against members run one at a time.
 * - A short training run reaches a held-out accuracy far above chance.
 * - Save, load: identical predictions; corrupt, truncated and foreign
 *   weight files refused with FSCI_EFORMAT and a message naming the file. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "qdot/classifier.h"
#include "testkit.h"

#define NPIX FSCI__QDOT_CLS_NPIX

static double lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) * 0x1p-53 - 0.5;
}

static void fill(double *a, int64_t n, uint64_t *s)
{
    for (int64_t i = 0; i < n; i++) a[i] = 2 * lcg(s);
}

static double dot(const double *a, const double *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static double rel_err(double a, double b)
{
    return fabs(a - b) / fmax(1e-6, fmax(fabs(a), fabs(b)));
}

/* ---- gradients of the head pieces ---------------------------------------- */

TEST(gap_gradient)
{
    enum { N = 2, C = 3, HW = 5 };
    uint64_t s = 1;
    double x[N * C * HW], y[N * C], r[N * C], dx[N * C * HW];
    fill(x, N * C * HW, &s);
    fill(r, N * C, &s);
    fsci__qdot_cls_gap_backward(FSCI_F64, N, C, HW, r, dx);
    const double h = 1e-6;
    double worst = 0;
    for (int i = 0; i < N * C * HW; i++) {
        const double x0 = x[i];
        x[i] = x0 + h;
        fsci__qdot_cls_gap_forward(FSCI_F64, N, C, HW, x, y);
        const double lp = dot(r, y, N * C);
        x[i] = x0 - h;
        fsci__qdot_cls_gap_forward(FSCI_F64, N, C, HW, x, y);
        const double lm = dot(r, y, N * C);
        x[i] = x0;
        worst = fmax(worst, rel_err((lp - lm) / (2 * h), dx[i]));
    }
    ASSERT_TRUE(worst < 1e-7);
    /* the forward is the mean, and float32 input gives the same means */
    float xf[N * C * HW];
    double yf[N * C];
    for (int i = 0; i < N * C * HW; i++) xf[i] = (float)x[i];
    fsci__qdot_cls_gap_forward(FSCI_F64, N, C, HW, x, y);
    fsci__qdot_cls_gap_forward(FSCI_F32, N, C, HW, xf, yf);
    for (int k = 0; k < N * C; k++) {
        double m = 0;
        for (int j = 0; j < HW; j++) m += x[k * HW + j];
        ASSERT_NEAR_REL(y[k], m / HW, 1e-14, 1e-15);
        ASSERT_NEAR_REL(yf[k], y[k], 1e-6, 1e-7);
    }
}

TEST(linear_gradient)
{
    enum { N = 3, IN = 4, OUT = 5 };
    uint64_t s = 2;
    double w[OUT * IN], b[OUT], x[N * IN], y[N * OUT], r[N * OUT];
    double dx[N * IN], dw[OUT * IN], db[OUT];
    fill(w, OUT * IN, &s);
    fill(b, OUT, &s);
    fill(x, N * IN, &s);
    fill(r, N * OUT, &s);
    /* forward against the definition */
    fsci__qdot_cls_linear_forward(N, IN, OUT, w, b, x, y);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < OUT; k++) {
            double v = b[k];
            for (int j = 0; j < IN; j++) v += x[i * IN + j] * w[k * IN + j];
            ASSERT_NEAR_REL(y[i * OUT + k], v, 1e-13, 1e-14);
        }
    fsci__qdot_cls_linear_backward(N, IN, OUT, w, x, r, dx, dw, db);
    double *vars[3] = {x, w, b}, *grads[3] = {dx, dw, db};
    const int sizes[3] = {N * IN, OUT * IN, OUT};
    const double h = 1e-6;
    double worst = 0;
    for (int v = 0; v < 3; v++)
        for (int i = 0; i < sizes[v]; i++) {
            const double p0 = vars[v][i];
            vars[v][i] = p0 + h;
            fsci__qdot_cls_linear_forward(N, IN, OUT, w, b, x, y);
            const double lp = dot(r, y, N * OUT);
            vars[v][i] = p0 - h;
            fsci__qdot_cls_linear_forward(N, IN, OUT, w, b, x, y);
            const double lm = dot(r, y, N * OUT);
            vars[v][i] = p0;
            worst = fmax(worst, rel_err((lp - lm) / (2 * h), grads[v][i]));
        }
    ASSERT_TRUE(worst < 1e-7);
}

TEST(softmax_ce_gradient)
{
    enum { N = 4, K = 3 };
    uint64_t s = 3;
    double z[N * K], dz[N * K], p[N * K], loss;
    const int32_t lab[N] = {0, 2, 1, 2};
    fill(z, N * K, &s);
    for (int i = 0; i < N * K; i++) z[i] *= 3;
    fsci__qdot_cls_softmax_ce(N, K, z, lab, &loss, dz, p);
    double ref = 0;
    for (int i = 0; i < N; i++) {
        double sum = 0;
        for (int j = 0; j < K; j++) sum += exp(z[i * K + j]);
        ref += -log(exp(z[i * K + lab[i]]) / sum);
        double ps = 0;
        for (int j = 0; j < K; j++) ps += p[i * K + j];
        ASSERT_NEAR_REL(ps, 1.0, 1e-14, 1e-15);
    }
    ASSERT_NEAR_REL(loss, ref / N, 1e-13, 1e-15);
    const double h = 1e-6;
    double worst = 0;
    for (int i = 0; i < N * K; i++) {
        const double z0 = z[i];
        double lp, lm;
        z[i] = z0 + h;
        fsci__qdot_cls_softmax_ce(N, K, z, lab, &lp, NULL, NULL);
        z[i] = z0 - h;
        fsci__qdot_cls_softmax_ce(N, K, z, lab, &lm, NULL, NULL);
        z[i] = z0;
        worst = fmax(worst, rel_err((lp - lm) / (2 * h), dz[i]));
    }
    ASSERT_TRUE(worst < 1e-7);
    /* equal logits: ln 3, whatever their size (the max is subtracted) */
    const double big[K] = {800, 800, 800};
    const int32_t one = 1;
    fsci__qdot_cls_softmax_ce(1, K, big, &one, &loss, NULL, NULL);
    ASSERT_NEAR_REL(loss, log(3.0), 1e-12, 0); /* 800 + ln 3 - 800 loses the bits below ulp(800) */
}

/* ---- preprocessing and data ---------------------------------------------- */

TEST(preprocess)
{
    const double in[4] = {1, 10, 100, -5};
    float out[4];
    fsci__qdot_cls_preprocess(in, 4, out);
    /* log10(g + 1e-9), min-max: -5 is clipped to 0 and gives the minimum, log10(1e-9) = -9 */
    const double lo = -9, hi = log10(100 + 1e-9);
    ASSERT_NEAR_REL(out[0], (log10(1 + 1e-9) - lo) / (hi - lo), 1e-6, 1e-7);
    ASSERT_NEAR_REL(out[1], (log10(10 + 1e-9) - lo) / (hi - lo), 1e-6, 1e-7);
    ASSERT_TRUE(out[2] == 1.0f && out[3] == 0.0f);
    const double flat[3] = {0.3, 0.3, 0.3};
    fsci__qdot_cls_preprocess(flat, 3, out);
    ASSERT_TRUE(out[0] == 0.5f && out[1] == 0.5f && out[2] == 0.5f);
}

TEST(dataset_threads_and_prefix)
{
    enum { N = 48, M = 21 };
    float *a = fsci_malloc(N * NPIX, sizeof(float)), *b = fsci_malloc(N * NPIX, sizeof(float));
    float *c = fsci_malloc(M * NPIX, sizeof(float));
    int32_t la[N], lb[N], lc[M];
    ASSERT_TRUE(a && b && c);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    ASSERT_OK(fsci__qdot_cls_dataset(5, N, a, la));
    omp_set_num_threads(2);
    ASSERT_OK(fsci__qdot_cls_dataset(5, N, b, lb));
    ASSERT_OK(fsci__qdot_cls_dataset(5, M, c, lc));
    omp_set_num_threads(saved);
    ASSERT_TRUE(memcmp(a, b, sizeof(float) * N * NPIX) == 0);
    ASSERT_TRUE(memcmp(la, lb, sizeof la) == 0);
    ASSERT_TRUE(memcmp(a, c, sizeof(float) * M * NPIX) == 0);
    int count[3] = {0};
    for (int i = 0; i < N; i++) {
        ASSERT_EQ(la[i], i % 3);
        count[la[i]]++;
        float lo = 1, hi = 0;
        for (int j = 0; j < NPIX; j++) {
            const float v = a[i * NPIX + j];
            ASSERT_TRUE(v >= 0 && v <= 1);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        ASSERT_TRUE(lo == 0 && hi == 1); /* min-max normalised, never flat with noise */
    }
    ASSERT_TRUE(count[0] == N / 3 && count[1] == N / 3 && count[2] == N / 3);
    /* another seed, other patches */
    ASSERT_OK(fsci__qdot_cls_dataset(6, M, c, lc));
    ASSERT_TRUE(memcmp(a, c, sizeof(float) * NPIX) != 0);
    ASSERT_STATUS(fsci__qdot_cls_dataset(5, -1, a, la), FSCI_EINVAL);
    fsci_free(a);
    fsci_free(b);
    fsci_free(c);
}

/* ---- ensemble rules ------------------------------------------------------- */

TEST(ensemble_rules)
{
    enum { N = 9 };
    float *x = fsci_malloc(N * NPIX, sizeof(float));
    int32_t lab[N];
    ASSERT_TRUE(x != NULL);
    ASSERT_OK(fsci__qdot_cls_dataset(11, N, x, lab));
    fsci__qdot_cls *e = NULL, *m0 = NULL, *m1 = NULL;
    ASSERT_OK(fsci__qdot_cls_create(2, 99, &e));
    ASSERT_OK(fsci__qdot_cls_create(1, 0, &m0));
    ASSERT_OK(fsci__qdot_cls_create(1, 0, &m1));
    const int64_t nw = fsci__qdot_cls_member_nweights();
    memcpy(fsci__qdot_cls_weights(m0, 0), fsci__qdot_cls_weights(e, 0), (size_t)nw * sizeof(float));
    memcpy(fsci__qdot_cls_weights(m1, 0), fsci__qdot_cls_weights(e, 1), (size_t)nw * sizeof(float));
    float p[N * 3], pa[N * 3], pb[N * 3], conf[N], dis[N], da[N];
    int32_t l[N];
    ASSERT_OK(fsci__qdot_cls_predict(e, x, N, p, l, conf, dis));
    ASSERT_OK(fsci__qdot_cls_predict(m0, x, N, pa, NULL, NULL, da));
    ASSERT_OK(fsci__qdot_cls_predict(m1, x, N, pb, NULL, NULL, NULL));
    double dmax = 0;
    for (int i = 0; i < N; i++) {
        ASSERT_TRUE(da[i] == 0); /* one member: no disagreement */
        double d = 0, best = -1;
        int arg = 0;
        for (int k = 0; k < 3; k++) {
            const double mean = 0.5 * ((double)pa[i * 3 + k] + (double)pb[i * 3 + k]);
            ASSERT_NEAR_REL(p[i * 3 + k], mean, 1e-5, 1e-6);
            d = fmax(d, fabs((double)pa[i * 3 + k] - (double)pb[i * 3 + k]));
            if ((double)p[i * 3 + k] > best) {
                best = (double)p[i * 3 + k];
                arg = k;
            }
        }
        ASSERT_EQ(l[i], arg);
        ASSERT_TRUE(conf[i] == (float)best);
        ASSERT_NEAR_REL(dis[i], d, 1e-5, 1e-6);
        dmax = fmax(dmax, d);
    }
    ASSERT_TRUE(dmax > 0); /* two different random members do disagree */
    fsci__qdot_cls_destroy(&e);
    fsci__qdot_cls_destroy(&m0);
    fsci__qdot_cls_destroy(&m1);
    ASSERT_TRUE(e == NULL);
    fsci__qdot_cls_destroy(NULL);
    ASSERT_STATUS(fsci__qdot_cls_create(0, 1, &e), FSCI_EINVAL);
    fsci_free(x);
}

/* ---- training, files ----------------------------------------------------- */

static const char *tmpdir(void)
{
    const char *t = getenv("FSCI_TEST_TMP");
    return t && t[0] ? t : "/tmp";
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
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

static int spit(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    const size_t w = fwrite(b, 1, n, f);
    fclose(f);
    return w == n ? 0 : -1;
}

/* Store a valid CRC over a modified buffer (to reach the checks after it). */
static void fix_crc(unsigned char *b, size_t n)
{
    const uint32_t c = (uint32_t)crc32(0L, b, (uInt)(n - 4));
    memcpy(b + n - 4, &c, 4);
}

static int load_fails(const char *path, const char *field, int *ok)
{
    fsci__qdot_cls *c = NULL;
    const int st = fsci__qdot_cls_load(path, &c);
    const char *msg = fsci_error_message();
    *ok = st == FSCI_EFORMAT && c == NULL && strstr(msg, path) && strstr(msg, field);
    if (!*ok) fprintf(stderr, "  load %s: status %d, message '%s' (want '%s')\n", path, st, msg, field);
    fsci__qdot_cls_destroy(&c);
    return st;
}

TEST(train_save_load)
{
    /* small and short (the full run is in doc/qdot_classifier.md section 6): measured 0.86 held out */
    fsci__qdot_cls_report rep;
    fsci__qdot_cls_opts o = {.seed = 3, .n = 1500, .members = 2, .epochs = 8, .batch = 32, .report = &rep};
    fsci__qdot_cls *c = NULL, *d = NULL;
    /* One thread: the result does not depend on it (train_threads), and on a shared 2-core
     * machine libgomp's spinning barriers made 2 threads up to 10x slower than 1. */
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    const int st = fsci__qdot_cls_train(&o, &c);
    omp_set_num_threads(saved);
    ASSERT_OK(st);
    ASSERT_EQ(fsci__qdot_cls_members(c), 2);
    ASSERT_EQ(rep.nval, 225);
    ASSERT_EQ(rep.ntrain, 1275);
    int64_t diag = 0, all = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            all += rep.confusion[i][j];
            diag += i == j ? rep.confusion[i][j] : 0;
        }
    ASSERT_EQ(all, rep.nval);
    ASSERT_NEAR_REL(rep.val_accuracy, (double)diag / (double)all, 1e-15, 0);
    printf("  held-out accuracy %.4f (members %.4f, %.4f), train %.1f s\n", rep.val_accuracy,
           rep.member_accuracy[0], rep.member_accuracy[1], rep.seconds_train);
    ASSERT_TRUE(rep.val_accuracy >= 0.75); /* chance: 1/3 */

    /* fresh patches (another seed): well above chance too */
    enum { NT = 300 };
    float *x = fsci_malloc(NT * NPIX, sizeof(float));
    int32_t lab[NT], l1[NT], l2[NT];
    float p1[NT * 3], p2[NT * 3], c1[NT], c2[NT], d1[NT], d2[NT];
    ASSERT_TRUE(x != NULL);
    ASSERT_OK(fsci__qdot_cls_dataset(1234, NT, x, lab));
    ASSERT_OK(fsci__qdot_cls_predict(c, x, NT, p1, l1, c1, d1));
    int ok = 0;
    for (int i = 0; i < NT; i++) ok += l1[i] == lab[i];
    printf("  fresh-set accuracy %.4f\n", (double)ok / NT);
    ASSERT_TRUE(ok >= 0.7 * NT);

    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/qdot_cls_test.fsqc", tmpdir());
    snprintf(bad, sizeof bad, "%s/qdot_cls_bad.fsqc", tmpdir());
    ASSERT_OK(fsci__qdot_cls_save(c, path));
    ASSERT_OK(fsci__qdot_cls_load(path, &d));
    ASSERT_OK(fsci__qdot_cls_predict(d, x, NT, p2, l2, c2, d2));
    ASSERT_TRUE(memcmp(p1, p2, sizeof p1) == 0 && memcmp(l1, l2, sizeof l1) == 0);
    ASSERT_TRUE(memcmp(c1, c2, sizeof c1) == 0 && memcmp(d1, d2, sizeof d1) == 0);
    ASSERT_TRUE(memcmp(fsci__qdot_cls_weights(c, 1), fsci__qdot_cls_weights(d, 1),
                       sizeof(float) * (size_t)fsci__qdot_cls_member_nweights()) == 0);
    fsci__qdot_cls_destroy(&d);

    size_t n = 0;
    unsigned char *b = slurp(path, &n), *m = malloc(n);
    ASSERT_TRUE(b && m && n == 88 + 2 * 4 * (size_t)fsci__qdot_cls_member_nweights() + 4);
    int good;
    /* a flipped bit in the weights */
    memcpy(m, b, n);
    m[200] ^= 0x10;
    ASSERT_TRUE(spit(bad, m, n) == 0);
    load_fails(bad, "crc32", &good);
    ASSERT_TRUE(good);
    /* truncated: inside the weights, inside the header, empty */
    const size_t cuts[3] = {n - 1, 40, 0};
    for (int k = 0; k < 3; k++) {
        ASSERT_TRUE(spit(bad, b, cuts[k]) == 0);
        load_fails(bad, "truncated", &good);
        ASSERT_TRUE(good);
    }
    /* trailing bytes after the checksum */
    unsigned char *t = calloc(n + 8, 1);
    ASSERT_TRUE(t != NULL);
    memcpy(t, b, n);
    ASSERT_TRUE(spit(bad, t, n + 8) == 0);
    free(t);
    load_fails(bad, "trailing", &good);
    ASSERT_TRUE(good);
    /* foreign: a PNG signature, and a text file */
    static const unsigned char png[96] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    ASSERT_TRUE(spit(bad, png, sizeof png) == 0);
    load_fails(bad, "magic", &good);
    ASSERT_TRUE(good);
    /* another version; another architecture; more members than allowed (valid CRC each) */
    struct {
        size_t off;
        int32_t val;
        const char *field;
    } edits[] = {
        {8, 2, "version"}, {16 + 4 * 2, 32, "channels[0]"}, {56, 9, "members"}, {56, 3, "truncated"}};
    for (size_t k = 0; k < sizeof edits / sizeof edits[0]; k++) {
        memcpy(m, b, n);
        memcpy(m + edits[k].off, &edits[k].val, 4);
        fix_crc(m, n);
        ASSERT_TRUE(spit(bad, m, n) == 0);
        load_fails(bad, edits[k].field, &good);
        ASSERT_TRUE(good);
    }
    /* a NaN weight behind a valid checksum */
    memcpy(m, b, n);
    const float nan = NAN;
    memcpy(m + 88 + 4 * 10, &nan, 4);
    fix_crc(m, n);
    ASSERT_TRUE(spit(bad, m, n) == 0);
    load_fails(bad, "not finite", &good);
    ASSERT_TRUE(good);
    /* the memory variant says the same */
    ASSERT_STATUS(fsci__qdot_cls_load_mem(b, n - 1, "mem", &d), FSCI_EFORMAT);
    ASSERT_TRUE(strstr(fsci_error_message(), "mem") != NULL);
    ASSERT_OK(fsci__qdot_cls_load_mem(b, n, "mem", &d));
    fsci__qdot_cls_destroy(&d);
    /* a missing file is an I/O error */
    snprintf(bad, sizeof bad, "%s/qdot_cls_missing.fsqc", tmpdir());
    remove(bad);
    ASSERT_STATUS(fsci__qdot_cls_load(bad, &d), FSCI_EIO);
    free(b);
    free(m);
    remove(path);
    fsci__qdot_cls_destroy(&c);
    fsci_free(x);
}

TEST(train_threads)
{
    /* the same weights with 1 and 2 threads (data, nn layers, head, shuffles, dropout) */
    fsci__qdot_cls_opts o = {.seed = 8, .n = 300, .members = 1, .epochs = 2, .batch = 32};
    fsci__qdot_cls *a = NULL, *b = NULL;
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    ASSERT_OK(fsci__qdot_cls_train(&o, &a));
    omp_set_num_threads(2);
    ASSERT_OK(fsci__qdot_cls_train(&o, &b));
    omp_set_num_threads(saved);
    ASSERT_TRUE(memcmp(fsci__qdot_cls_weights(a, 0), fsci__qdot_cls_weights(b, 0),
                       sizeof(float) * (size_t)fsci__qdot_cls_member_nweights()) == 0);
    fsci__qdot_cls_destroy(&a);
    fsci__qdot_cls_destroy(&b);
}

TEST(train_options)
{
    fsci__qdot_cls *c = NULL;
    fsci__qdot_cls_opts o = {.n = 100, .batch = 200};
    ASSERT_STATUS(fsci__qdot_cls_train(&o, &c), FSCI_EINVAL);
    o = (fsci__qdot_cls_opts){.n = 600, .val_frac = 1.5};
    ASSERT_STATUS(fsci__qdot_cls_train(&o, &c), FSCI_EINVAL);
    o = (fsci__qdot_cls_opts){.n = 600, .members = 9};
    ASSERT_STATUS(fsci__qdot_cls_train(&o, &c), FSCI_EINVAL);
    ASSERT_TRUE(c == NULL);
}

TESTKIT_MAIN()
