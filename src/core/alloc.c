/* madvise and MADV_HUGEPAGE are BSD/Linux extensions */
#define _DEFAULT_SOURCE
#include <stdatomic.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"

static _Atomic int64_t g_fail_after = -1; /* < 0: injection off */

enum { HUGE_PAGE = 2 << 20, HUGE_MIN = 8 << 20 };
static _Atomic int64_t g_count = 0;

void fsci_alloc_fail_after(int64_t n)
{
    atomic_store(&g_fail_after, n);
}
int64_t fsci_alloc_count(void)
{
    return atomic_load(&g_count);
}

static int injected_failure(void)
{
    int64_t left = atomic_load(&g_fail_after);
    while (left >= 0) {
        if (left == 0) return 1;
        if (atomic_compare_exchange_weak(&g_fail_after, &left, left - 1)) return 0;
    }
    return 0;
}

void *fsci_malloc(size_t n, size_t size)
{
    if (size != 0 && n > (SIZE_MAX - FSCI_ALIGNMENT) / size) {
        fsci_error_set(FSCI_ENOMEM, __FILE__, __LINE__, __func__, "allocation of %zu x %zu bytes overflows",
                       n, size);
        return NULL;
    }
    size_t bytes = n * size;
    /* Large buffers are aligned to 2 MiB and marked for transparent huge pages:
     * first-touching a gigabyte output in 4 KiB pages costs a page fault per
     * page (hundreds of thousands), in 2 MiB pages a few hundred. */
    size_t align = bytes >= HUGE_MIN ? HUGE_PAGE : FSCI_ALIGNMENT;
    /* aligned_alloc wants a multiple of the alignment; round up, never 0. */
    size_t rounded = (bytes + align - 1) / align * align;
    if (rounded == 0) rounded = FSCI_ALIGNMENT;
    void *p = injected_failure() ? NULL : aligned_alloc(align, rounded);
#ifdef MADV_HUGEPAGE
    if (p && align == HUGE_PAGE) (void)madvise(p, rounded, MADV_HUGEPAGE); /* advice only */
#endif
    if (!p) {
        fsci_error_set(FSCI_ENOMEM, __FILE__, __LINE__, __func__, "out of memory allocating %zu bytes",
                       bytes);
        return NULL;
    }
    atomic_fetch_add(&g_count, 1);
    return p;
}

void *fsci_calloc(size_t n, size_t size)
{
    void *p = fsci_malloc(n, size);
    if (p) memset(p, 0, n * size);
    return p;
}

void fsci_free(void *p)
{
    free(p);
}
