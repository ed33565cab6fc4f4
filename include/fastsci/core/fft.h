/* fastsci: shared FFTW plans (the one FFTW planner lock and a plan cache).
 *
 * FFTW's planner is not thread-safe, its execute functions are. Every FFTW
 * plan in fastsci is made here: fsci_fft_plan_get takes the library's single
 * planner mutex, looks the transform up in a process-wide cache and plans it
 * only on the first request; engines never lock anything themselves.
 * fsci_fft_execute runs a cached plan on the caller's arrays through FFTW's
 * new-array execute functions and never takes the lock, so any number of
 * threads may execute the same plan at once, each on its own arrays.
 *
 * Plans are reproducible: they are made with FFTW_ESTIMATE, which picks the
 * algorithm from the problem alone (sizes, strides, alignment, in-place or
 * not) without timing anything, so the same transform gives bit-identical
 * output in every run and on every thread count. FFTW_MEASURE / FFTW_PATIENT
 * are not offered: they time candidate algorithms and may pick a different
 * one in each run (and so different rounding). fastsci never imports or
 * exports wisdom; a host program that plans the same transforms with
 * FFTW_MEASURE in the same process could still change the plans FFTW returns
 * (FFTW reuses such wisdom for ESTIMATE requests), and one that calls the
 * FFTW planner from other threads without this lock is not protected. */
#ifndef FASTSCI_CORE_FFT_H
#define FASTSCI_CORE_FFT_H

#include <stdbool.h>

#include "fastsci/core/array.h"
#include "fastsci/core/defs.h"

#define FSCI_FFT_MAX_RANK 3

/* Complex-to-complex transforms only (FFTW's sign convention:
 * FORWARD computes sum_x f(x) exp(-2 pi i k x / n), BACKWARD the same with +i,
 * both unnormalised, so backward(forward(f)) = (prod of shape) * f). */
typedef enum fsci_fft_dir { FSCI_FFT_FORWARD = -1, FSCI_FFT_BACKWARD = +1 } fsci_fft_dir;

/* The key of a plan. `howmany` transforms of `rank` dimensions, each a dense
 * C-order block of prod(shape) complex elements, the blocks back to back
 * (transform j starts at element j * prod(shape)) in both input and output.
 * dtype FSCI_C64 (fftwf, float) or FSCI_C128 (fftw, double). Zero-fill the
 * struct before setting fields (unused shape entries are part of the key). */
typedef struct fsci_fft_desc {
    fsci_dtype dtype;                 /* FSCI_C64 or FSCI_C128 */
    int rank;                         /* 1 .. FSCI_FFT_MAX_RANK */
    int64_t shape[FSCI_FFT_MAX_RANK]; /* each in [1, INT_MAX], prod(shape) <= INT_MAX */
    int64_t howmany;                  /* number of transforms, in [1, INT_MAX] */
    fsci_fft_dir dir;                 /* FSCI_FFT_FORWARD or FSCI_FFT_BACKWARD */
    bool inplace;                     /* executed with in == out (true) or on distinct arrays */
} fsci_fft_desc;

/* Opaque; owned by the cache, valid until fsci_fft_cache_clear. */
typedef struct fsci_fft_plan fsci_fft_plan;

/* The cached plan for `desc`, planned on first use (FFTW_ESTIMATE, one
 * thread). The same key always returns the same pointer; any difference in
 * dtype, rank, shape, howmany, direction or placement gives another plan.
 * FSCI_EINVAL for a bad descriptor, FSCI_ENOMEM, FSCI_EINTERNAL if FFTW
 * cannot plan. Thread safety: safe from any number of threads (serialised on
 * the planner lock, which is held only here and in fsci_fft_cache_clear). */
FSCI_API int fsci_fft_plan_get(const fsci_fft_desc *desc, const fsci_fft_plan **out) FSCI_WUR;

/* The descriptor a plan was made for. */
FSCI_API const fsci_fft_desc *fsci_fft_plan_desc(const fsci_fft_plan *plan);

/* Run `plan` on in -> out (howmany * prod(shape) complex elements each, layout
 * as in fsci_fft_desc). in == out for an in-place plan, distinct and
 * non-overlapping arrays otherwise; both aligned like fsci_malloc memory
 * (16 bytes suffice: FFTW's SIMD alignment, checked). An out-of-place
 * transform leaves `in` unchanged (FFTW's default for complex transforms).
 * FSCI_EINVAL for NULL or misaligned arrays or a
 * placement that does not match the plan. Allocates nothing, never takes
 * the planner lock: thread-safe, also on the same plan. */
FSCI_API int fsci_fft_execute(const fsci_fft_plan *plan, void *in, void *out) FSCI_WUR;

/* Number of plans in the cache. */
FSCI_API int64_t fsci_fft_cache_size(void);

/* Destroy every cached plan (e.g. before exit, for leak checkers). The caller
 * guarantees that no plan is in use and that pointers obtained before are not
 * used again. */
FSCI_API void fsci_fft_cache_clear(void);

#endif
