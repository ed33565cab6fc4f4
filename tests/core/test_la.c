/* Tests of the BLAS/LAPACK wrappers and the rank-1 Cholesky update/downdate,
 * against naive float64 loops written here: gemm and gemv with transposes and
 * leading-dimension strides, solve residuals, eigenpairs and orthogonality,
 * update/downdate against refactorising, and argument errors. */
#include "fastsci/core/alloc.h"
#include "fastsci/core/la.h"
#include "testkit.h"

static double lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) * 0x1p-53 - 0.5;
}

/* rows x cols row-major view of data with leading dimension ld (elements) */
static fsci_view mat(void *data, fsci_dtype dt, int64_t rows, int64_t cols, int64_t ld)
{
    int64_t es = (int64_t)fsci_dtype_size(dt);
    fsci_view v = {.data = data, .dtype = dt, .ndim = 2, .shape = {rows, cols}, .strides = {ld * es, es}};
    return v;
}

static fsci_view vec(void *data, fsci_dtype dt, int64_t n, int64_t inc)
{
    int64_t es = (int64_t)fsci_dtype_size(dt);
    fsci_view v = {.data = data, .dtype = dt, .ndim = 1, .shape = {n}, .strides = {inc * es}};
    return v;
}

/* element (i, j) of op(m) for a row-major m with leading dimension ld */
static double opel(const double *m, int64_t ld, bool t, int64_t i, int64_t j)
{
    return t ? m[j * ld + i] : m[i * ld + j];
}

/* a random symmetric positive definite n x n matrix (dense, ld = n): M M^T + n I */
static void spd(double *a, int64_t n, uint64_t seed)
{
    double *m = malloc((size_t)(n * n) * sizeof *m);
    for (int64_t i = 0; i < n * n; i++) m[i] = lcg(&seed);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = i == j ? (double)n : 0.0;
            for (int64_t k = 0; k < n; k++) s += m[i * n + k] * m[j * n + k];
            a[i * n + j] = s;
        }
    free(m);
}

/* max |L L^T - A| over the lower triangle, L read from the lower triangle of l (ld) */
static double llt_err(const double *l, int64_t ld, const double *a, int64_t n)
{
    double e = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j <= i; j++) {
            double s = 0;
            for (int64_t k = 0; k <= j; k++) s += l[i * ld + k] * l[j * ld + k];
            e = fmax(e, fabs(s - a[i * n + j]));
        }
    return e;
}

TEST(gemm_with_transposes_and_leading_dimensions_matches_naive_loops)
{
    const int64_t m = 7, n = 5, k = 6, ld = 11; /* every matrix a block of an ld-wide one */
    double *a = calloc(11 * 11, 8), *b = calloc(11 * 11, 8), *c = calloc(11 * 11, 8),
           *c0 = calloc(11 * 11, 8);
    float *af = calloc(11 * 11, 4), *bf = calloc(11 * 11, 4), *cf = calloc(11 * 11, 4);
    ASSERT_TRUE(a && b && c && c0 && af && bf && cf);
    uint64_t s = 1;
    for (int i = 0; i < 121; i++) {
        af[i] = (float)lcg(&s);
        a[i] = af[i];
        bf[i] = (float)lcg(&s);
        b[i] = bf[i];
        c0[i] = (double)(float)lcg(&s);
    }
    const double alpha = 1.25, beta = -0.5;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            /* stored shapes: op(a) is m x k, op(b) k x n */
            fsci_view A = mat(a, FSCI_F64, ta ? k : m, ta ? m : k, ld),
                      B = mat(b, FSCI_F64, tb ? n : k, tb ? k : n, ld);
            fsci_view C = mat(c, FSCI_F64, m, n, ld);
            fsci_view Af = mat(af, FSCI_F32, ta ? k : m, ta ? m : k, ld),
                      Bf = mat(bf, FSCI_F32, tb ? n : k, tb ? k : n, ld);
            fsci_view Cf = mat(cf, FSCI_F32, m, n, ld);
            for (int i = 0; i < 121; i++) {
                c[i] = c0[i];
                cf[i] = (float)c0[i];
            }
            ASSERT_OK(fsci_la_gemm(ta, tb, alpha, &A, &B, beta, &C));
            ASSERT_OK(fsci_la_gemm(ta, tb, alpha, &Af, &Bf, beta, &Cf));
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) {
                    double r = beta * c0[i * ld + j];
                    for (int64_t q = 0; q < k; q++)
                        r += alpha * opel(a, ld, ta, i, q) * opel(b, ld, tb, q, j);
                    ASSERT_NEAR_REL(c[i * ld + j], r, 1e-14, 1e-14);
                    ASSERT_NEAR_REL((double)cf[i * ld + j], r, 1e-5, 1e-5);
                }
            /* the padding beyond n columns is untouched */
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = n; j < ld; j++) ASSERT_TRUE(c[i * ld + j] == c0[i * ld + j]);
        }
    free(a), free(b), free(c), free(c0), free(af), free(bf), free(cf);
}

TEST(gemv_with_transposes_and_strided_vectors_matches_naive_loops)
{
    const int64_t m = 6, n = 9, ld = 10;
    double a[60], x[40], y[40], y0[40];
    float af[60], xf[40], yf[40];
    uint64_t s = 2;
    for (int i = 0; i < 60; i++) af[i] = (float)lcg(&s), a[i] = af[i];
    for (int i = 0; i < 40; i++) xf[i] = (float)lcg(&s), x[i] = xf[i], y0[i] = (double)(float)lcg(&s);
    for (int t = 0; t < 2; t++) {
        int64_t rows = t ? n : m, cols = t ? m : n; /* op(a) rows x cols */
        fsci_view A = mat(a, FSCI_F64, m, n, ld), X = vec(x, FSCI_F64, cols, 2),
                  Y = vec(y, FSCI_F64, rows, 3);
        fsci_view Af = mat(af, FSCI_F32, m, n, ld), Xf = vec(xf, FSCI_F32, cols, 2),
                  Yf = vec(yf, FSCI_F32, rows, 3);
        for (int i = 0; i < 40; i++) y[i] = y0[i], yf[i] = (float)y0[i];
        ASSERT_OK(fsci_la_gemv(t, 0.75, &A, &X, 2.0, &Y));
        ASSERT_OK(fsci_la_gemv(t, 0.75, &Af, &Xf, 2.0, &Yf));
        for (int64_t i = 0; i < rows; i++) {
            double r = 2.0 * y0[3 * i];
            for (int64_t j = 0; j < cols; j++) r += 0.75 * opel(a, ld, t, i, j) * x[2 * j];
            ASSERT_NEAR_REL(y[3 * i], r, 1e-14, 1e-14);
            ASSERT_NEAR_REL((double)yf[3 * i], r, 1e-5, 1e-5);
            if (3 * i + 1 < 40) ASSERT_TRUE(y[3 * i + 1] == y0[3 * i + 1]); /* gaps untouched */
        }
    }
}

TEST(cholesky_factor_and_solve_have_small_residuals)
{
    const int64_t n = 12, nrhs = 3;
    double a[144], l[144], b[36], x[36], v[12], xv[12];
    spd(a, n, 7);
    memcpy(l, a, sizeof a);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) l[i * n + j] = -99.0; /* upper triangle: never read or written */
    fsci_view L = mat(l, FSCI_F64, n, n, n);
    ASSERT_OK(fsci_la_potrf(&L));
    ASSERT_TRUE(llt_err(l, n, a, n) < 1e-12 * n);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) ASSERT_TRUE(l[i * n + j] == -99.0);
    uint64_t s = 8;
    for (int i = 0; i < 36; i++) b[i] = x[i] = lcg(&s);
    for (int i = 0; i < 12; i++) v[i] = xv[i] = lcg(&s);
    fsci_view X = mat(x, FSCI_F64, n, nrhs, nrhs), XV = vec(xv, FSCI_F64, n, 1);
    ASSERT_OK(fsci_la_potrs(&L, &X));
    ASSERT_OK(fsci_la_potrs(&L, &XV));
    for (int64_t i = 0; i < n; i++) {
        for (int64_t r = 0; r < nrhs; r++) {
            double res = -b[i * nrhs + r];
            for (int64_t j = 0; j < n; j++) res += a[i * n + j] * x[j * nrhs + r];
            ASSERT_TRUE(fabs(res) < 1e-12);
        }
        double res = -v[i];
        for (int64_t j = 0; j < n; j++) res += a[i * n + j] * xv[j];
        ASSERT_TRUE(fabs(res) < 1e-12);
    }
    /* float32 as well */
    float lf[144], bf[12];
    for (int i = 0; i < 144; i++) lf[i] = (float)a[i];
    for (int i = 0; i < 12; i++) bf[i] = (float)v[i];
    fsci_view LF = mat(lf, FSCI_F32, n, n, n), BF = vec(bf, FSCI_F32, n, 1);
    ASSERT_OK(fsci_la_potrf(&LF));
    ASSERT_OK(fsci_la_potrs(&LF, &BF));
    for (int64_t i = 0; i < n; i++) ASSERT_NEAR_REL((double)bf[i], xv[i], 1e-4, 1e-5);
    /* not positive definite: FSCI_ERANGE naming the minor */
    double bad[4] = {1, 2, 2, 1};
    fsci_view BAD = mat(bad, FSCI_F64, 2, 2, 2);
    ASSERT_STATUS(fsci_la_potrf(&BAD), FSCI_ERANGE);
    ASSERT_TRUE(strstr(fsci_error_message(), "order 2") != NULL);
}

TEST(general_solve_has_a_small_residual_and_reports_singularity)
{
    const int64_t n = 9, ld = 13;
    double a[9 * 13], lu[9 * 13], b[9], x[9];
    uint64_t s = 9;
    for (int i = 0; i < 9 * 13; i++) a[i] = lu[i] = lcg(&s);
    for (int i = 0; i < 9; i++) b[i] = x[i] = lcg(&s);
    fsci_view LU = mat(lu, FSCI_F64, n, n, ld), X = vec(x, FSCI_F64, n, 1);
    ASSERT_OK(fsci_la_gesv(&LU, &X));
    for (int64_t i = 0; i < n; i++) {
        double res = -b[i];
        for (int64_t j = 0; j < n; j++) res += a[i * ld + j] * x[j];
        ASSERT_TRUE(fabs(res) < 1e-12);
    }
    double z[9] = {1, 2, 3, 2, 4, 6, 0, 1, 0}, r[3] = {1, 1, 1};
    fsci_view Z = mat(z, FSCI_F64, 3, 3, 3), R = vec(r, FSCI_F64, 3, 1);
    ASSERT_STATUS(fsci_la_gesv(&Z, &R), FSCI_ERANGE);
    ASSERT_TRUE(strstr(fsci_error_message(), "singular") != NULL);
}

TEST(symmetric_eigenpairs_satisfy_av_equals_lambda_v_and_are_orthonormal)
{
    const int64_t n = 10;
    double a[100], v[100], w[10];
    uint64_t s = 10;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = lcg(&s);
    memcpy(v, a, sizeof a);
    fsci_view V = mat(v, FSCI_F64, n, n, n), W = vec(w, FSCI_F64, n, 1);
    ASSERT_OK(fsci_la_syevd(&V, &W));
    double tr = 0, sw = 0;
    for (int64_t i = 0; i < n; i++) tr += a[i * n + i], sw += w[i];
    ASSERT_NEAR_REL(sw, tr, 1e-12, 1e-12);
    for (int64_t j = 0; j < n; j++) {
        if (j > 0) ASSERT_TRUE(w[j] >= w[j - 1]);
        for (int64_t i = 0; i < n; i++) {
            double av = 0;
            for (int64_t k = 0; k < n; k++) av += a[i * n + k] * v[k * n + j];
            ASSERT_TRUE(fabs(av - w[j] * v[i * n + j]) < 1e-12);
        }
        for (int64_t q = 0; q < n; q++) {
            double d = 0;
            for (int64_t k = 0; k < n; k++) d += v[k * n + j] * v[k * n + q];
            ASSERT_TRUE(fabs(d - (j == q ? 1.0 : 0.0)) < 1e-12);
        }
    }
}

TEST(cholesky_update_and_downdate_agree_with_refactorising)
{
    const int64_t n = 15, ld = 17;
    double a[225], a2[225], l[15 * 17], ref[225], x[30];
    spd(a, n, 11);
    uint64_t s = 12;
    for (int i = 0; i < 30; i++) x[i] = 2.0 * lcg(&s);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) a2[i * n + j] = a[i * n + j] + x[2 * i] * x[2 * j];
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < ld; j++) l[i * ld + j] = j < n ? a[i * n + j] : -7.0;
    fsci_view L = mat(l, FSCI_F64, n, n, ld), X = vec(x, FSCI_F64, n, 2), R = mat(ref, FSCI_F64, n, n, n);
    ASSERT_OK(fsci_la_potrf(&L));
    /* update: equals the factor of A + x x^T */
    ASSERT_OK(fsci_la_chol_update(&L, &X));
    memcpy(ref, a2, sizeof ref);
    ASSERT_OK(fsci_la_potrf(&R));
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j <= i; j++) ASSERT_NEAR_REL(l[i * ld + j], ref[i * n + j], 1e-10, 1e-10);
    for (int64_t i = 0; i < n; i++) ASSERT_TRUE(l[i * ld + n] == -7.0 && l[i * ld + n + 1] == -7.0);
    ASSERT_TRUE(llt_err(l, ld, a2, n) < 1e-10);
    /* downdate: back to the factor of A */
    ASSERT_OK(fsci_la_chol_downdate(&L, &X));
    memcpy(ref, a, sizeof ref);
    ASSERT_OK(fsci_la_potrf(&R));
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j <= i; j++) ASSERT_NEAR_REL(l[i * ld + j], ref[i * n + j], 1e-10, 1e-10);
    /* a downdate by a vector unrelated to an earlier update */
    double y[15];
    for (int i = 0; i < 15; i++) y[i] = 0.3 * lcg(&s);
    fsci_view Y = vec(y, FSCI_F64, n, 1);
    ASSERT_OK(fsci_la_chol_downdate(&L, &Y));
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) ref[i * n + j] = a[i * n + j] - y[i] * y[j];
    ASSERT_OK(fsci_la_potrf(&R));
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j <= i; j++) ASSERT_NEAR_REL(l[i * ld + j], ref[i * n + j], 1e-10, 1e-10);
}

TEST(downdate_to_a_matrix_that_is_not_positive_definite_fails_and_leaves_l)
{
    const int64_t n = 6;
    double a[36], l[36], keep[36], x[6];
    spd(a, n, 13);
    memcpy(l, a, sizeof a);
    fsci_view L = mat(l, FSCI_F64, n, n, n), X = vec(x, FSCI_F64, n, 1);
    ASSERT_OK(fsci_la_potrf(&L));
    memcpy(keep, l, sizeof l);
    /* x = 1.5 L e_3: |L^-1 x| = 1.5, so A - x x^T has a negative eigenvalue */
    for (int64_t i = 0; i < n; i++) x[i] = 1.5 * (i >= 3 ? l[i * n + 3] : 0.0);
    ASSERT_STATUS(fsci_la_chol_downdate(&L, &X), FSCI_ERANGE);
    ASSERT_TRUE(strstr(fsci_error_message(), "not positive definite") != NULL);
    ASSERT_TRUE(memcmp(l, keep, sizeof l) == 0);
    /* just inside: 0.999 L e_3 works */
    for (int64_t i = 0; i < n; i++) x[i] *= 0.999 / 1.5;
    ASSERT_OK(fsci_la_chol_downdate(&L, &X));
}

TEST(bad_shapes_dtypes_and_layouts_give_einval_with_a_message)
{
    double a[16] = {0}, b[16] = {0}, c[16] = {0};
    float f[16] = {0};
    int32_t iv[16] = {0};
    fsci_view A = mat(a, FSCI_F64, 2, 3, 3), B = mat(b, FSCI_F64, 2, 2, 2), C = mat(c, FSCI_F64, 2, 2, 2);
    ASSERT_STATUS(fsci_la_gemm(false, false, 1, &A, &B, 0, &C), FSCI_EINVAL); /* 2x3 times 2x2 */
    ASSERT_TRUE(strstr(fsci_error_message(), "do not match") != NULL);
    fsci_view F = mat(f, FSCI_F32, 2, 2, 2);
    ASSERT_STATUS(fsci_la_gemm(false, false, 1, &B, &F, 0, &C), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "float32") != NULL);
    fsci_view IV = mat(iv, FSCI_I32, 2, 2, 2);
    ASSERT_STATUS(fsci_la_gemm(false, false, 1, &IV, &IV, 0, &IV), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "int32") != NULL);
    fsci_view T = B; /* a transposed (column-major) view */
    T.strides[0] = 8, T.strides[1] = 16;
    ASSERT_STATUS(fsci_la_gemm(false, false, 1, &T, &B, 0, &C), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "row-major") != NULL);
    fsci_view S = mat(a, FSCI_F64, 3, 3, 2); /* rows overlap: ld < cols */
    ASSERT_STATUS(fsci_la_potrf(&S), FSCI_EINVAL);
    ASSERT_STATUS(fsci_la_gemm(false, false, 1, &B, &C, 0, &C), FSCI_EINVAL); /* output aliases input */
    ASSERT_TRUE(strstr(fsci_error_message(), "overlaps") != NULL);
    ASSERT_STATUS(fsci_la_potrf(&A), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "square") != NULL);
    fsci_view x3 = vec(c, FSCI_F64, 3, 1);
    ASSERT_STATUS(fsci_la_potrs(&B, &x3), FSCI_EINVAL);
    fsci_view xs = vec(c, FSCI_F64, 2, 2);
    ASSERT_STATUS(fsci_la_gesv(&B, &xs), FSCI_EINVAL); /* LAPACK vectors must be contiguous */
    ASSERT_STATUS(fsci_la_gemv(false, 1, &A, &x3, 0, &x3), FSCI_EINVAL);
    ASSERT_STATUS(fsci_la_syevd(&B, &x3), FSCI_EINVAL);
    fsci_view f2 = vec(f, FSCI_F32, 2, 1);
    ASSERT_STATUS(fsci_la_chol_update(&F, &f2), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "only float64") != NULL);
    fsci_view x2 = vec(b, FSCI_F64, 2, 1);
    ASSERT_STATUS(fsci_la_chol_update(&C, &x2), FSCI_EINVAL); /* zero diagonal */
    ASSERT_TRUE(strstr(fsci_error_message(), "positive finite diagonal") != NULL);
    ASSERT_STATUS(fsci_la_gemm(false, false, 1, NULL, &B, 0, &C), FSCI_EINVAL);
    ASSERT_STATUS(fsci_la_potrf(NULL), FSCI_EINVAL);
}

TESTKIT_MAIN()
