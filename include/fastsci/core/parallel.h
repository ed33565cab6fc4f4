/* fastsci: OpenMP helpers.
 *
 * One model of parallelism: OpenMP, one parallel region per step, the thread
 * count passed explicitly. Results never depend on the thread count: work is
 * split in fixed logical chunks and reductions add chunk partials in chunk
 * order. */
#ifndef FASTSCI_CORE_PARALLEL_H
#define FASTSCI_CORE_PARALLEL_H

#include "fastsci/core/defs.h"

/* Default thread count used when a function is given nthreads = 0: the value
 * set by fsci_parallel_set_threads(), else $FSCI_NUM_THREADS, else the number
 * of processors OpenMP reports. Always >= 1. Thread-safe. */
FSCI_API int fsci_parallel_threads(void);

/* Set the process-wide default (n >= 1), or reset it with n = 0.
 * FSCI_EINVAL for n < 0 or n > 4096. */
FSCI_API int fsci_parallel_set_threads(int n) FSCI_WUR;

/* FSCI_OK if $FSCI_NUM_THREADS is unset, empty or a valid thread count;
 * FSCI_EINVAL naming the variable and its value otherwise. (The default thread
 * count falls back to all cores when it is invalid; clients call this to say so.) */
FSCI_API int fsci_parallel_check_env(void) FSCI_WUR;

/* nthreads if > 0, else the default above. */
FSCI_API int fsci_parallel_resolve(int nthreads);

/* Parse a thread count as given by the user ("4"); FSCI_EINVAL with a message
 * naming `what` (e.g. "--threads" or "FSCI_NUM_THREADS") otherwise. */
FSCI_API int fsci_parallel_parse_threads(const char *text, const char *what, int *out) FSCI_WUR;

/* Static partition of [0, n) into `nparts` nearly equal contiguous ranges;
 * range `part` is [*begin, *end). */
FSCI_API void fsci_parallel_range(int64_t n, int nparts, int part, int64_t *begin, int64_t *end);

/* Chunk length used by the fixed-order reductions below. Constant: never
 * depends on the thread count. */
#define FSCI_REDUCE_CHUNK 4096

/* Sum of x[0..n) in a fixed order (per-chunk partials, added in chunk order):
 * bit-identical for every thread count. */
FSCI_API double fsci_parallel_sum_f64(const double *x, int64_t n, int nthreads);

/* As above, for float data accumulated in double. */
FSCI_API double fsci_parallel_sum_f32(const float *x, int64_t n, int nthreads);

#endif
