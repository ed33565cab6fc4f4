/* fastsci: checked, 64-byte aligned allocation.
 *
 * All library memory goes through these functions. Sizes are given as a count
 * and an element size so that the product is checked for overflow. Failure
 * records FSCI_ENOMEM with a message and returns NULL; it never aborts.
 * Thread-safe. */
#ifndef FASTSCI_CORE_ALLOC_H
#define FASTSCI_CORE_ALLOC_H

#include "fastsci/core/defs.h"

#define FSCI_ALIGNMENT 64

/* Allocate n*size bytes aligned to FSCI_ALIGNMENT; NULL (and an error) on
 * overflow or failure. n*size == 0 returns a valid unique pointer. */
FSCI_API void *fsci_malloc(size_t n, size_t size);

/* As fsci_malloc, zero-filled. */
FSCI_API void *fsci_calloc(size_t n, size_t size);

/* Release memory from fsci_malloc/fsci_calloc. NULL is a no-op. */
FSCI_API void fsci_free(void *p);

/* Failure injection for tests: after `n` more successful allocations, every
 * following allocation fails until this is called again. n < 0 disables.
 * Process-wide (atomic). */
FSCI_API void fsci_alloc_fail_after(int64_t n);

/* Number of allocations made since start (for tests and leak checks). */
FSCI_API int64_t fsci_alloc_count(void);

#endif
