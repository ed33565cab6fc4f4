/* PENDING(io helper): replaced by the atomic writer module. */
#ifndef FASTSCI_CORE_ATOMIC_H
#define FASTSCI_CORE_ATOMIC_H
#include <stddef.h>
#include "fastsci/core/defs.h"
FSCI_API int fsci_atomic_write_file(const char *path, const void *data, size_t n) FSCI_WUR;
FSCI_API void fsci_atomic_install_signal_cleanup(void);
#endif
