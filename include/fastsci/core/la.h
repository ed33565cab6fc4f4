/* fastsci: dense linear algebra on array views (BLAS and LAPACK wrappers).
 *
 * Thin wrappers on the OpenMP build of OpenBLAS (cblas) and LAPACKE, plus a
 * rank-1 Cholesky update and downdate that LAPACK does not have.
 *
 * Supported views (checked at entry; anything else is FSCI_EINVAL with a
 * message naming the argument):
 *   - dtype FSCI_F32 or FSCI_F64, the same for every argument of a call
 *     (the Cholesky update/downdate: FSCI_F64 only);
 *   - a matrix is a 2-D row-major view: element stride (strides[1]) equal to
 *     the element size and a row stride (strides[0]) that is a positive
 *     multiple of it and at least a row long (a leading dimension: a block of
 *     a larger row-major matrix qualifies); transposed or Fortran-order views
 *     are not accepted, pass the transpose flag instead;
 *   - a vector is a 1-D view with a positive stride that is a multiple of the
 *     element size (gemv, the Cholesky update); a LAPACK right-hand side
 *     given as a 1-D view must be contiguous;
 *   - sizes up to INT_MAX (32-bit BLAS/LAPACK integers); outputs must not
 *     overlap inputs.
 * Return codes: FSCI_OK; FSCI_EINVAL for bad arguments; FSCI_ERANGE when the
 * numbers make the operation impossible (a matrix that is not positive
 * definite, a singular matrix, an eigensolver that does not converge; the
 * message says which); FSCI_ENOMEM.
 * Thread safety: calls on distinct outputs may run concurrently. Called from
 * inside an OpenMP parallel region, OpenBLAS runs single-threaded; outside,
 * it uses the OpenMP thread count. */
#ifndef FASTSCI_CORE_LA_H
#define FASTSCI_CORE_LA_H

#include <stdbool.h>

#include "fastsci/core/array.h"
#include "fastsci/core/defs.h"

/* c = alpha op(a) op(b) + beta c, op(x) = x or x^T (trans_a, trans_b).
 * op(a) is m x k, op(b) k x n, c m x n. beta = 0 ignores c's contents. */
FSCI_API int fsci_la_gemm(bool trans_a, bool trans_b, double alpha, const fsci_view *a, const fsci_view *b,
                          double beta, const fsci_view *c) FSCI_WUR;

/* y = alpha op(a) x + beta y; op(a) m x n, x of length n, y of length m. */
FSCI_API int fsci_la_gemv(bool trans_a, double alpha, const fsci_view *a, const fsci_view *x, double beta,
                          const fsci_view *y) FSCI_WUR;

/* Cholesky factorisation of the symmetric positive definite n x n matrix a,
 * read from its lower triangle: a = L L^T, L written over the lower triangle
 * (the strict upper triangle is neither read nor written). FSCI_ERANGE if a
 * is not positive definite (a is then partly overwritten). */
FSCI_API int fsci_la_potrf(const fsci_view *a) FSCI_WUR;

/* Solve (L L^T) x = b in place in b, L from fsci_la_potrf (lower triangle of
 * l). b: n x nrhs matrix or contiguous vector of length n. */
FSCI_API int fsci_la_potrs(const fsci_view *l, const fsci_view *b) FSCI_WUR;

/* Solve a x = b for a general n x n matrix (LU with partial pivoting): a is
 * overwritten by its LU factors, b (n x nrhs or contiguous vector) by x.
 * FSCI_ERANGE if a is exactly singular. */
FSCI_API int fsci_la_gesv(const fsci_view *a, const fsci_view *b) FSCI_WUR;

/* Eigen-decomposition of the symmetric n x n matrix a (lower triangle read),
 * divide and conquer: w (contiguous vector of length n) gets the eigenvalues
 * in ascending order, a is overwritten by the orthonormal eigenvectors, one
 * per column (a[:, j] goes with w[j]). */
FSCI_API int fsci_la_syevd(const fsci_view *a, const fsci_view *w) FSCI_WUR;

/* Rank-1 update of a Cholesky factor: on return l holds the lower factor of
 * L L^T + x x^T (strict upper triangle untouched). l: float64 n x n with a
 * positive diagonal; x: float64 vector of length n (not modified). O(n^2)
 * Givens rotations. */
FSCI_API int fsci_la_chol_update(const fsci_view *l, const fsci_view *x) FSCI_WUR;

/* Rank-1 downdate: l becomes the lower factor of L L^T - x x^T. FSCI_ERANGE,
 * with l unchanged, if that matrix is not positive definite (decided from
 * |L^-1 x| < 1 before anything is written). O(n^2) (the LINPACK dchdd
 * method: one triangular solve, then Givens rotations). */
FSCI_API int fsci_la_chol_downdate(const fsci_view *l, const fsci_view *x) FSCI_WUR;

#endif
