#include <errno.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/parallel.h"

static _Atomic int g_threads = 0; /* 0: not set by the caller */

int fsci_parallel_parse_threads(const char *text, const char *what, int *out)
{
    FSCI_CHECK(text && out, FSCI_EINVAL, "%s: missing value", what ? what : "threads");
    errno = 0;
    char *end = NULL;
    long v = strtol(text, &end, 10);
    FSCI_CHECK(errno == 0 && end != text && *end == '\0' && v >= 1 && v <= 4096, FSCI_EINVAL,
               "%s: '%s' is not a thread count (an integer from 1 to 4096)", what ? what : "threads", text);
    *out = (int)v;
    return FSCI_OK;
}

int fsci_parallel_threads(void)
{
    int n = atomic_load(&g_threads);
    if (n > 0) return n;
    const char *env = getenv("FSCI_NUM_THREADS");
    if (env && *env) {
        int v;
        if (fsci_parallel_parse_threads(env, "FSCI_NUM_THREADS", &v) == FSCI_OK) return v;
        fsci_error_clear();
    }
    n = omp_get_num_procs();
    return n >= 1 ? n : 1;
}

int fsci_parallel_check_env(void)
{
    const char *env = getenv("FSCI_NUM_THREADS");
    int v;
    return env && *env ? fsci_parallel_parse_threads(env, "FSCI_NUM_THREADS", &v) : FSCI_OK;
}

int fsci_parallel_set_threads(int n)
{
    FSCI_CHECK(n >= 0 && n <= 4096, FSCI_EINVAL, "threads: %d is not in [1, 4096]", n);
    atomic_store(&g_threads, n);
    return FSCI_OK;
}

int fsci_parallel_resolve(int nthreads)
{
    return nthreads > 0 ? nthreads : fsci_parallel_threads();
}

void fsci_parallel_range(int64_t n, int nparts, int part, int64_t *begin, int64_t *end)
{
    if (nparts < 1) nparts = 1;
    int64_t q = n / nparts, r = n % nparts;
    *begin = part * q + (part < r ? part : r);
    *end = *begin + q + (part < r ? 1 : 0);
}

/* Per-chunk partials are added in chunk order, so the result is the same for
 * every thread count. If the partials cannot be allocated the same chunk sums
 * are formed serially: same bits, only slower. */
#define DEFINE_SUM(NAME, T)                                                                                  \
    static double NAME##_chunk(const T *x, int64_t n, int64_t c)                                             \
    {                                                                                                        \
        int64_t b = c * FSCI_REDUCE_CHUNK;                                                                   \
        int64_t e = b + FSCI_REDUCE_CHUNK < n ? b + FSCI_REDUCE_CHUNK : n;                                   \
        double s = 0.0;                                                                                      \
        for (int64_t i = b; i < e; i++) s += (double)x[i];                                                   \
        return s;                                                                                            \
    }                                                                                                        \
    double NAME(const T *x, int64_t n, int nthreads)                                                         \
    {                                                                                                        \
        if (n <= 0) return 0.0;                                                                              \
        int64_t nchunks = (n + FSCI_REDUCE_CHUNK - 1) / FSCI_REDUCE_CHUNK;                                   \
        double total = 0.0;                                                                                  \
        double *part = nchunks > 1 ? fsci_malloc((size_t)nchunks, sizeof *part) : NULL;                      \
        if (!part) {                                                                                         \
            fsci_error_clear();                                                                              \
            for (int64_t c = 0; c < nchunks; c++) total += NAME##_chunk(x, n, c);                            \
            return total;                                                                                    \
        }                                                                                                    \
        int nt = fsci_parallel_resolve(nthreads);                                                            \
        _Pragma("omp parallel for num_threads(nt) schedule(static)") for (int64_t c = 0; c < nchunks; c++)   \
            part[c] = NAME##_chunk(x, n, c);                                                                 \
        for (int64_t c = 0; c < nchunks; c++) total += part[c];                                              \
        fsci_free(part);                                                                                     \
        return total;                                                                                        \
    }

DEFINE_SUM(fsci_parallel_sum_f64, double)
DEFINE_SUM(fsci_parallel_sum_f32, float)
