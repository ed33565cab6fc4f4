/* Dense linear algebra on views: cblas gemm/gemv, LAPACKE potrf/potrs/gesv/
 * syevd, and a rank-1 Cholesky update/downdate written here because LAPACK
 * has none (see include/fastsci/core/la.h for the supported layouts).
 *
 * Every entry point validates its views once and then calls the library
 * with row-major layout and the view's leading dimension, so blocks of larger
 * matrices work without a copy. */
#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/la.h"

/* A validated matrix: rows x cols elements, row r at p + r * ld elements. */
typedef struct la_mat {
    void *p;
    int64_t rows, cols, ld;
} la_mat;

/* A validated vector: n elements, element i at p + i * inc elements. */
typedef struct la_vec {
    void *p;
    int64_t n, inc;
} la_vec;

static int check_dtype(const char *fn, const char *name, const fsci_view *v, fsci_dtype want)
{
    FSCI_CHECK(v, FSCI_EINVAL, "%s: %s is NULL", fn, name);
    FSCI_CHECK(want == FSCI_F32 || want == FSCI_F64, FSCI_EINVAL, "%s: %s is %s; expected float32 or float64",
               fn, name, fsci_dtype_name(v->dtype));
    FSCI_CHECK(v->dtype == want, FSCI_EINVAL, "%s: %s is %s but the other arguments are %s", fn, name,
               fsci_dtype_name(v->dtype), fsci_dtype_name(want));
    return FSCI_OK;
}

static int get_mat(const char *fn, const char *name, const fsci_view *v, fsci_dtype dt, la_mat *m)
{
    int st = check_dtype(fn, name, v, dt);
    if (st) return st;
    FSCI_CHECK(v->ndim == 2, FSCI_EINVAL, "%s: %s has %d dimensions; expected a 2-D matrix", fn, name,
               v->ndim);
    int64_t es = (int64_t)fsci_dtype_size(dt), r = v->shape[0], c = v->shape[1];
    FSCI_CHECK(r >= 0 && c >= 0 && r <= INT_MAX && c <= INT_MAX, FSCI_EINVAL,
               "%s: %s shape (%lld, %lld) is outside [0, %d]", fn, name, (long long)r, (long long)c, INT_MAX);
    FSCI_CHECK(c <= 1 || v->strides[1] == es, FSCI_EINVAL,
               "%s: %s column stride %lld bytes is not the element size %lld (only row-major views)", fn,
               name, (long long)v->strides[1], (long long)es);
    int64_t ld = c > 1 ? c : 1;
    if (r > 1 && c > 0) {
        int64_t s0 = v->strides[0];
        FSCI_CHECK(
            s0 > 0 && s0 % es == 0 && s0 / es >= ld && s0 / es <= INT_MAX, FSCI_EINVAL,
            "%s: %s row stride %lld bytes is not a multiple of %lld of at least one row (%lld elements)", fn,
            name, (long long)s0, (long long)es, (long long)c);
        ld = s0 / es;
    }
    FSCI_CHECK(v->data || r * c == 0, FSCI_EINVAL, "%s: %s data is NULL", fn, name);
    *m = (la_mat){.p = v->data, .rows = r, .cols = c, .ld = ld};
    return FSCI_OK;
}

/* contiguous: the stride must be the element size (LAPACK right-hand sides) */
static int get_vec(const char *fn, const char *name, const fsci_view *v, fsci_dtype dt, bool contiguous,
                   la_vec *x)
{
    int st = check_dtype(fn, name, v, dt);
    if (st) return st;
    FSCI_CHECK(v->ndim == 1, FSCI_EINVAL, "%s: %s has %d dimensions; expected a vector", fn, name, v->ndim);
    int64_t es = (int64_t)fsci_dtype_size(dt), n = v->shape[0], s = v->strides[0];
    FSCI_CHECK(n >= 0 && n <= INT_MAX, FSCI_EINVAL, "%s: %s length %lld is outside [0, %d]", fn, name,
               (long long)n, INT_MAX);
    int64_t inc = 1;
    if (n > 1) {
        FSCI_CHECK(s > 0 && s % es == 0 && s / es <= INT_MAX && (!contiguous || s == es), FSCI_EINVAL,
                   "%s: %s stride %lld bytes is not %s of the element size %lld", fn, name, (long long)s,
                   contiguous ? "equal to" : "a positive multiple", (long long)es);
        inc = s / es;
    }
    FSCI_CHECK(v->data || n == 0, FSCI_EINVAL, "%s: %s data is NULL", fn, name);
    *x = (la_vec){.p = v->data, .n = n, .inc = inc};
    return FSCI_OK;
}

/* byte ranges [lo, hi) touched by a matrix / vector; empty ones never overlap */
static bool spans_overlap(const void *p0, int64_t len0, const void *p1, int64_t len1)
{
    if (len0 <= 0 || len1 <= 0) return false;
    const char *a = p0, *b = p1;
    return a < b + len1 && b < a + len0;
}

static int64_t mat_span(const la_mat *m, int64_t es)
{
    return m->rows * m->cols == 0 ? 0 : ((m->rows - 1) * m->ld + m->cols) * es;
}

static int64_t vec_span(const la_vec *x, int64_t es)
{
    return x->n == 0 ? 0 : ((x->n - 1) * x->inc + 1) * es;
}

int fsci_la_gemm(bool trans_a, bool trans_b, double alpha, const fsci_view *a, const fsci_view *b,
                 double beta, const fsci_view *c)
{
    int st = FSCI_OK;
    la_mat A = {0}, B = {0}, C = {0};
    FSCI_CHECK(a, FSCI_EINVAL, "gemm: a is NULL");
    fsci_dtype dt = a->dtype;
    FSCI_TRY(get_mat("gemm", "a", a, dt, &A));
    FSCI_TRY(get_mat("gemm", "b", b, dt, &B));
    FSCI_TRY(get_mat("gemm", "c", c, dt, &C));
    int64_t m = trans_a ? A.cols : A.rows, k = trans_a ? A.rows : A.cols;
    int64_t kb = trans_b ? B.cols : B.rows, n = trans_b ? B.rows : B.cols;
    FSCI_CHECK_GOTO(k == kb && C.rows == m && C.cols == n, FSCI_EINVAL,
                    "gemm: op(a) is %lld x %lld, op(b) %lld x %lld, c %lld x %lld: shapes do not match",
                    (long long)m, (long long)k, (long long)kb, (long long)n, (long long)C.rows,
                    (long long)C.cols);
    int64_t es = (int64_t)fsci_dtype_size(dt), sc = mat_span(&C, es);
    FSCI_CHECK_GOTO(!spans_overlap(C.p, sc, A.p, mat_span(&A, es)) &&
                        !spans_overlap(C.p, sc, B.p, mat_span(&B, es)),
                    FSCI_EINVAL, "gemm: c overlaps a or b");
    if (m == 0 || n == 0) return FSCI_OK;
    enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
    if (dt == FSCI_F64)
        cblas_dgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, alpha, A.p, (int)A.ld, B.p, (int)B.ld,
                    beta, C.p, (int)C.ld);
    else
        cblas_sgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, (float)alpha, A.p, (int)A.ld, B.p,
                    (int)B.ld, (float)beta, C.p, (int)C.ld);
fail:
    return st;
}

int fsci_la_gemv(bool trans_a, double alpha, const fsci_view *a, const fsci_view *x, double beta,
                 const fsci_view *y)
{
    int st = FSCI_OK;
    la_mat A = {0};
    la_vec X = {0}, Y = {0};
    FSCI_CHECK(a, FSCI_EINVAL, "gemv: a is NULL");
    fsci_dtype dt = a->dtype;
    FSCI_TRY(get_mat("gemv", "a", a, dt, &A));
    FSCI_TRY(get_vec("gemv", "x", x, dt, false, &X));
    FSCI_TRY(get_vec("gemv", "y", y, dt, false, &Y));
    int64_t m = trans_a ? A.cols : A.rows, n = trans_a ? A.rows : A.cols;
    FSCI_CHECK_GOTO(X.n == n && Y.n == m, FSCI_EINVAL,
                    "gemv: op(a) is %lld x %lld, x has %lld elements, y %lld: shapes do not match",
                    (long long)m, (long long)n, (long long)X.n, (long long)Y.n);
    int64_t es = (int64_t)fsci_dtype_size(dt), sy = vec_span(&Y, es);
    FSCI_CHECK_GOTO(!spans_overlap(Y.p, sy, A.p, mat_span(&A, es)) &&
                        !spans_overlap(Y.p, sy, X.p, vec_span(&X, es)),
                    FSCI_EINVAL, "gemv: y overlaps a or x");
    if (m == 0) return FSCI_OK;
    /* cblas takes the stored matrix's rows and columns, and the transpose flag */
    enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    if (dt == FSCI_F64)
        cblas_dgemv(CblasRowMajor, ta, (int)A.rows, (int)A.cols, alpha, A.p, (int)A.ld, X.p, (int)X.inc, beta,
                    Y.p, (int)Y.inc);
    else
        cblas_sgemv(CblasRowMajor, ta, (int)A.rows, (int)A.cols, (float)alpha, A.p, (int)A.ld, X.p,
                    (int)X.inc, (float)beta, Y.p, (int)Y.inc);
fail:
    return st;
}

/* A LAPACKE status as ours: < 0 is a bad argument (after our checks: a NaN
 * found by LAPACKE's input check) or its workspace allocation failing. */
static int lapack_status(const char *fn, lapack_int info)
{
    FSCI_CHECK(info != LAPACK_WORK_MEMORY_ERROR && info != LAPACK_TRANSPOSE_MEMORY_ERROR, FSCI_ENOMEM,
               "%s: LAPACKE could not allocate its workspace", fn);
    FSCI_CHECK(info >= 0, FSCI_EINVAL, "%s: LAPACK argument %d rejected (NaN in the input?)", fn, (int)-info);
    return FSCI_OK;
}

static int get_square(const char *fn, const char *name, const fsci_view *v, fsci_dtype dt, la_mat *m)
{
    int st = get_mat(fn, name, v, dt, m);
    if (st) return st;
    FSCI_CHECK(m->rows == m->cols, FSCI_EINVAL, "%s: %s is %lld x %lld; expected a square matrix", fn, name,
               (long long)m->rows, (long long)m->cols);
    return FSCI_OK;
}

/* A right-hand side of n rows: a matrix, or a contiguous vector (one column). */
static int get_rhs(const char *fn, const fsci_view *b, fsci_dtype dt, int64_t n, la_mat *B)
{
    int st = FSCI_OK;
    FSCI_CHECK(b, FSCI_EINVAL, "%s: b is NULL", fn);
    if (b->ndim == 1) {
        la_vec x = {0};
        FSCI_TRY(get_vec(fn, "b", b, dt, true, &x));
        *B = (la_mat){.p = x.p, .rows = x.n, .cols = 1, .ld = 1};
    } else {
        FSCI_TRY(get_mat(fn, "b", b, dt, B));
    }
    FSCI_CHECK_GOTO(B->rows == n, FSCI_EINVAL, "%s: b has %lld rows; the matrix is %lld x %lld", fn,
                    (long long)B->rows, (long long)n, (long long)n);
fail:
    return st;
}

int fsci_la_potrf(const fsci_view *a)
{
    int st = FSCI_OK;
    la_mat A = {0};
    FSCI_CHECK(a, FSCI_EINVAL, "potrf: a is NULL");
    FSCI_TRY(get_square("potrf", "a", a, a->dtype, &A));
    if (A.rows == 0) return FSCI_OK;
    lapack_int info = a->dtype == FSCI_F64
                          ? LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)A.rows, A.p, (lapack_int)A.ld)
                          : LAPACKE_spotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)A.rows, A.p, (lapack_int)A.ld);
    FSCI_TRY(lapack_status("potrf", info));
    FSCI_CHECK_GOTO(info == 0, FSCI_ERANGE,
                    "potrf: the matrix is not positive definite (leading minor of order %d)", (int)info);
fail:
    return st;
}

int fsci_la_potrs(const fsci_view *l, const fsci_view *b)
{
    int st = FSCI_OK;
    la_mat L = {0}, B = {0};
    FSCI_CHECK(l, FSCI_EINVAL, "potrs: l is NULL");
    FSCI_TRY(get_square("potrs", "l", l, l->dtype, &L));
    FSCI_TRY(get_rhs("potrs", b, l->dtype, L.rows, &B));
    int64_t es = (int64_t)fsci_dtype_size(l->dtype);
    FSCI_CHECK_GOTO(!spans_overlap(L.p, mat_span(&L, es), B.p, mat_span(&B, es)), FSCI_EINVAL,
                    "potrs: b overlaps l");
    if (L.rows == 0 || B.cols == 0) return FSCI_OK;
    lapack_int n = (lapack_int)L.rows, nrhs = (lapack_int)B.cols;
    lapack_int info =
        l->dtype == FSCI_F64
            ? LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'L', n, nrhs, L.p, (lapack_int)L.ld, B.p, (lapack_int)B.ld)
            : LAPACKE_spotrs(LAPACK_ROW_MAJOR, 'L', n, nrhs, L.p, (lapack_int)L.ld, B.p, (lapack_int)B.ld);
    FSCI_TRY(lapack_status("potrs", info));
fail:
    return st;
}

int fsci_la_gesv(const fsci_view *a, const fsci_view *b)
{
    int st = FSCI_OK;
    lapack_int *ipiv = NULL;
    la_mat A = {0}, B = {0};
    FSCI_CHECK(a, FSCI_EINVAL, "gesv: a is NULL");
    FSCI_TRY(get_square("gesv", "a", a, a->dtype, &A));
    FSCI_TRY(get_rhs("gesv", b, a->dtype, A.rows, &B));
    int64_t es = (int64_t)fsci_dtype_size(a->dtype);
    FSCI_CHECK_GOTO(!spans_overlap(A.p, mat_span(&A, es), B.p, mat_span(&B, es)), FSCI_EINVAL,
                    "gesv: b overlaps a");
    if (A.rows == 0) return FSCI_OK;
    ipiv = fsci_malloc((size_t)A.rows, sizeof *ipiv);
    FSCI_CHECK_GOTO(ipiv, FSCI_ENOMEM, "gesv: out of memory");
    lapack_int n = (lapack_int)A.rows, nrhs = (lapack_int)B.cols;
    lapack_int info =
        a->dtype == FSCI_F64
            ? LAPACKE_dgesv(LAPACK_ROW_MAJOR, n, nrhs, A.p, (lapack_int)A.ld, ipiv, B.p, (lapack_int)B.ld)
            : LAPACKE_sgesv(LAPACK_ROW_MAJOR, n, nrhs, A.p, (lapack_int)A.ld, ipiv, B.p, (lapack_int)B.ld);
    FSCI_TRY(lapack_status("gesv", info));
    FSCI_CHECK_GOTO(info == 0, FSCI_ERANGE, "gesv: the matrix is singular (U(%d, %d) is exactly zero)",
                    (int)info, (int)info);
fail:
    fsci_free(ipiv);
    return st;
}

int fsci_la_syevd(const fsci_view *a, const fsci_view *w)
{
    int st = FSCI_OK;
    la_mat A = {0};
    la_vec W = {0};
    FSCI_CHECK(a, FSCI_EINVAL, "syevd: a is NULL");
    FSCI_TRY(get_square("syevd", "a", a, a->dtype, &A));
    FSCI_TRY(get_vec("syevd", "w", w, a->dtype, true, &W));
    FSCI_CHECK_GOTO(W.n == A.rows, FSCI_EINVAL, "syevd: w has %lld elements; a is %lld x %lld",
                    (long long)W.n, (long long)A.rows, (long long)A.rows);
    int64_t es = (int64_t)fsci_dtype_size(a->dtype);
    FSCI_CHECK_GOTO(!spans_overlap(A.p, mat_span(&A, es), W.p, vec_span(&W, es)), FSCI_EINVAL,
                    "syevd: w overlaps a");
    if (A.rows == 0) return FSCI_OK;
    lapack_int n = (lapack_int)A.rows;
    lapack_int info = a->dtype == FSCI_F64
                          ? LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'L', n, A.p, (lapack_int)A.ld, W.p)
                          : LAPACKE_ssyevd(LAPACK_ROW_MAJOR, 'V', 'L', n, A.p, (lapack_int)A.ld, W.p);
    FSCI_TRY(lapack_status("syevd", info));
    FSCI_CHECK_GOTO(info == 0, FSCI_ERANGE, "syevd: the eigensolver did not converge (%d)", (int)info);
fail:
    return st;
}

/* ---------------------------------------------- rank-1 Cholesky changes */

/* Validate (l, x) for an update or downdate; copy x into work[0..n). */
static int chol_args(const char *fn, const fsci_view *l, const fsci_view *x, la_mat *L, double **work)
{
    int st = FSCI_OK;
    la_vec X = {0};
    FSCI_CHECK(l && x, FSCI_EINVAL, "%s: NULL argument", fn);
    FSCI_CHECK(l->dtype == FSCI_F64, FSCI_EINVAL, "%s: l is %s; only float64 is supported", fn,
               fsci_dtype_name(l->dtype));
    FSCI_TRY(get_square(fn, "l", l, FSCI_F64, L));
    FSCI_TRY(get_vec(fn, "x", x, FSCI_F64, false, &X));
    FSCI_CHECK_GOTO(X.n == L->rows, FSCI_EINVAL, "%s: x has %lld elements; l is %lld x %lld", fn,
                    (long long)X.n, (long long)L->rows, (long long)L->rows);
    const double *lp = L->p, *xp = X.p;
    for (int64_t i = 0; i < L->rows; i++) {
        double d = lp[i * L->ld + i];
        FSCI_CHECK_GOTO(d > 0 && isfinite(d), FSCI_EINVAL,
                        "%s: l[%lld, %lld] = %g; a Cholesky factor has a positive finite diagonal", fn,
                        (long long)i, (long long)i, d);
        FSCI_CHECK_GOTO(isfinite(xp[i * X.inc]), FSCI_EINVAL, "%s: x[%lld] = %g is not finite", fn,
                        (long long)i, xp[i * X.inc]);
    }
    *work = fsci_malloc((size_t)(2 * L->rows + 1), sizeof **work);
    FSCI_CHECK_GOTO(*work, FSCI_ENOMEM, "%s: out of memory", fn);
    for (int64_t i = 0; i < L->rows; i++) (*work)[i] = xp[i * X.inc];
fail:
    return st;
}

int fsci_la_chol_update(const fsci_view *l, const fsci_view *x)
{
    int st = FSCI_OK;
    double *w = NULL;
    la_mat L = {0};
    FSCI_TRY(chol_args("chol_update", l, x, &L, &w));
    double *a = L.p;
    int64_t n = L.rows, ld = L.ld;
    /* column k: the rotation of (L[k,k], w[k]) onto (r, 0), applied down the column */
    for (int64_t k = 0; k < n; k++) {
        double lkk = a[k * ld + k], r = hypot(lkk, w[k]), c = r / lkk, s = w[k] / lkk;
        a[k * ld + k] = r;
        for (int64_t i = k + 1; i < n; i++) {
            double lik = (a[i * ld + k] + s * w[i]) / c;
            a[i * ld + k] = lik;
            w[i] = c * w[i] - s * lik;
        }
    }
fail:
    fsci_free(w);
    return st;
}

/* With p = L^-1 x and q = sqrt(1 - |p|^2), the matrix [q 0; p L^T] has Gram
 * matrix [1 x^T; x L L^T]. Givens rotations of its first row with rows
 * n, n-1, ..., 1 zero p into q (p_i against the current corner a) and leave
 * [1 x^T; 0 L'^T] with the same Gram matrix, so L' L'^T = L L^T - x x^T. The
 * first row's tail z (zero at and left of column i at step i) is the only
 * extra state. Nothing is written before |p| < 1 is known. */
int fsci_la_chol_downdate(const fsci_view *l, const fsci_view *x)
{
    int st = FSCI_OK;
    double *p = NULL;
    la_mat L = {0};
    FSCI_TRY(chol_args("chol_downdate", l, x, &L, &p));
    double *a = L.p, *z = p + L.rows;
    int64_t n = L.rows, ld = L.ld;
    double pp = 0;
    for (int64_t i = 0; i < n; i++) { /* forward substitution L p = x, in place */
        double s = p[i];
        for (int64_t j = 0; j < i; j++) s -= a[i * ld + j] * p[j];
        p[i] = s / a[i * ld + i];
        pp += p[i] * p[i];
        z[i] = 0;
    }
    double q2 = 1.0 - pp;
    /* rounding in |p|^2 is about n eps: below that the result is not PD to working precision */
    FSCI_CHECK_GOTO(isfinite(q2) && q2 > 4.0 * (double)(n + 1) * DBL_EPSILON, FSCI_ERANGE,
                    "chol_downdate: L L^T - x x^T is not positive definite (|L^-1 x|^2 = %.17g >= 1)", pp);
    double corner = sqrt(q2);
    for (int64_t i = n - 1; i >= 0; i--) {
        double nrm = hypot(corner, p[i]), c = corner / nrm, s = p[i] / nrm;
        corner = nrm;
        for (int64_t j = i; j < n; j++) { /* row i of L^T is column i of L */
            double lji = a[j * ld + i];
            a[j * ld + i] = c * lji - s * z[j];
            z[j] = c * z[j] + s * lji;
        }
    }
fail:
    fsci_free(p);
    return st;
}
