/* Shared FFTW plans: the library's one planner lock and a process-wide plan
 * cache (see include/fastsci/core/fft.h for the rules and why FFTW_ESTIMATE).
 *
 * The cache is a linked list searched under the lock: a program uses a handful
 * of transforms, and lookups happen when an engine sets up, not per
 * transform. Plans are never evicted (pointers handed out stay valid) until
 * fsci_fft_cache_clear. */
#include <fftw3.h>
#include <limits.h>
#include <pthread.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/fft.h"

struct fsci_fft_plan {
    fsci_fft_desc desc; /* normalised: shape entries beyond rank are 0 */
    fftwf_plan pf;      /* FSCI_C64 */
    fftw_plan pd;       /* FSCI_C128 */
    struct fsci_fft_plan *next;
};

/* FFTW's planner (and plan destruction) is not thread-safe: every call into
 * it in fastsci happens with this mutex held. Executing never takes it. */
static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;
static fsci_fft_plan *cache_head;
static int64_t cache_count;

/* Validate `d` and copy it to `k` with the unused shape entries cleared. */
static int desc_normalise(const fsci_fft_desc *d, fsci_fft_desc *k)
{
    FSCI_CHECK(d, FSCI_EINVAL, "fft: descriptor is NULL");
    FSCI_CHECK(d->dtype == FSCI_C64 || d->dtype == FSCI_C128, FSCI_EINVAL,
               "fft: dtype %s is not supported (complex64 or complex128)", fsci_dtype_name(d->dtype));
    FSCI_CHECK(d->rank >= 1 && d->rank <= FSCI_FFT_MAX_RANK, FSCI_EINVAL, "fft: rank %d is outside [1, %d]",
               d->rank, FSCI_FFT_MAX_RANK);
    FSCI_CHECK(d->dir == FSCI_FFT_FORWARD || d->dir == FSCI_FFT_BACKWARD, FSCI_EINVAL,
               "fft: direction %d is neither FSCI_FFT_FORWARD (-1) nor FSCI_FFT_BACKWARD (+1)", (int)d->dir);
    FSCI_CHECK(d->howmany >= 1 && d->howmany <= INT_MAX, FSCI_EINVAL,
               "fft: howmany = %lld is outside [1, %d]", (long long)d->howmany, INT_MAX);
    *k = (fsci_fft_desc){
        .dtype = d->dtype, .rank = d->rank, .howmany = d->howmany, .dir = d->dir, .inplace = d->inplace};
    int64_t prod = 1;
    for (int i = 0; i < d->rank; i++) {
        FSCI_CHECK(d->shape[i] >= 1 && d->shape[i] <= INT_MAX, FSCI_EINVAL,
                   "fft: shape[%d] = %lld is outside [1, %d]", i, (long long)d->shape[i], INT_MAX);
        prod *= d->shape[i];
        FSCI_CHECK(prod <= INT_MAX, FSCI_EINVAL, "fft: a transform of more than %d elements is not supported",
                   INT_MAX);
        k->shape[i] = d->shape[i];
    }
    return FSCI_OK;
}

static bool desc_equal(const fsci_fft_desc *a, const fsci_fft_desc *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank || a->howmany != b->howmany || a->dir != b->dir ||
        a->inplace != b->inplace)
        return false;
    for (int i = 0; i < FSCI_FFT_MAX_RANK; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

static int64_t desc_numel(const fsci_fft_desc *d)
{
    int64_t m = 1;
    for (int i = 0; i < d->rank; i++) m *= d->shape[i];
    return m;
}

/* Plan `k` (lock held) and put it at the head of the cache. FFTW_ESTIMATE does
 * not touch the arrays' contents; they only tell FFTW the alignment and
 * placement, so the scratch is never written. howmany = 1 passes distance 0, exactly as FFTW's own
 * fftw_plan_dft_2d does, so the plan equals the one the ptycho engine made
 * before the cache existed. */
static int plan_new(const fsci_fft_desc *k, fsci_fft_plan **out)
{
    int st = FSCI_OK;
    void *a = NULL, *b = NULL;
    fsci_fft_plan *p = fsci_calloc(1, sizeof *p);
    FSCI_CHECK_GOTO(p, FSCI_ENOMEM, "fft: out of memory");
    p->desc = *k;
    int64_t per = desc_numel(k);
    size_t es = fsci_dtype_size(k->dtype);
    a = fsci_malloc((size_t)(per * k->howmany), es);
    b = k->inplace ? a : fsci_malloc((size_t)(per * k->howmany), es);
    FSCI_CHECK_GOTO(a && b, FSCI_ENOMEM, "fft: out of memory for %lld transforms of %lld elements",
                    (long long)k->howmany, (long long)per);
    int n[FSCI_FFT_MAX_RANK];
    for (int i = 0; i < k->rank; i++) n[i] = (int)k->shape[i];
    int howmany = (int)k->howmany, dist = howmany == 1 ? 0 : (int)per;
    if (k->dtype == FSCI_C64)
        p->pf = fftwf_plan_many_dft(k->rank, n, howmany, a, NULL, 1, dist, b, NULL, 1, dist, (int)k->dir,
                                    FFTW_ESTIMATE);
    else
        p->pd = fftw_plan_many_dft(k->rank, n, howmany, a, NULL, 1, dist, b, NULL, 1, dist, (int)k->dir,
                                   FFTW_ESTIMATE);
    FSCI_CHECK_GOTO(p->pf || p->pd, FSCI_EINTERNAL, "fft: FFTW could not plan %lld transforms of rank %d",
                    (long long)k->howmany, k->rank);
    p->next = cache_head;
    cache_head = p;
    cache_count++;
    *out = p;
    p = NULL;
fail:
    if (b != a) fsci_free(b);
    fsci_free(a);
    fsci_free(p);
    return st;
}

int fsci_fft_plan_get(const fsci_fft_desc *desc, const fsci_fft_plan **out)
{
    int st = FSCI_OK;
    bool locked = false;
    FSCI_CHECK(out, FSCI_EINVAL, "fft: out is NULL");
    *out = NULL;
    fsci_fft_desc k;
    FSCI_TRY(desc_normalise(desc, &k));
    pthread_mutex_lock(&planner_lock);
    locked = true;
    fsci_fft_plan *p = cache_head;
    while (p && !desc_equal(&p->desc, &k)) p = p->next;
    if (!p) FSCI_TRY(plan_new(&k, &p));
    *out = p;
fail:
    if (locked) pthread_mutex_unlock(&planner_lock);
    return st;
}

const fsci_fft_desc *fsci_fft_plan_desc(const fsci_fft_plan *plan)
{
    return plan ? &plan->desc : NULL;
}

int fsci_fft_execute(const fsci_fft_plan *plan, void *in, void *out)
{
    FSCI_CHECK(plan && in && out, FSCI_EINVAL, "fft: NULL plan or array");
    FSCI_CHECK((in == out) == plan->desc.inplace, FSCI_EINVAL, "fft: the plan is %s but in %s out",
               plan->desc.inplace ? "in-place" : "out-of-place", in == out ? "==" : "!=");
    if (plan->desc.dtype == FSCI_C64) {
        FSCI_CHECK(fftwf_alignment_of((float *)in) == 0 && fftwf_alignment_of((float *)out) == 0, FSCI_EINVAL,
                   "fft: arrays %p, %p are not aligned like fsci_malloc memory", in, out);
        fftwf_execute_dft(plan->pf, in, out);
    } else {
        FSCI_CHECK(fftw_alignment_of((double *)in) == 0 && fftw_alignment_of((double *)out) == 0, FSCI_EINVAL,
                   "fft: arrays %p, %p are not aligned like fsci_malloc memory", in, out);
        fftw_execute_dft(plan->pd, in, out);
    }
    return FSCI_OK;
}

int64_t fsci_fft_cache_size(void)
{
    pthread_mutex_lock(&planner_lock);
    int64_t n = cache_count;
    pthread_mutex_unlock(&planner_lock);
    return n;
}

void fsci_fft_cache_clear(void)
{
    pthread_mutex_lock(&planner_lock);
    while (cache_head) {
        fsci_fft_plan *p = cache_head;
        cache_head = p->next;
        if (p->pf) fftwf_destroy_plan(p->pf);
        if (p->pd) fftw_destroy_plan(p->pd);
        fsci_free(p);
    }
    cache_count = 0;
    pthread_mutex_unlock(&planner_lock);
}
