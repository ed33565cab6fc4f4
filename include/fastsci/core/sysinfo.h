/* fastsci: what the machine has, for refusing work that cannot fit before
 * doing any of it (physical memory, free disk space), and byte counts for
 * messages. Thread-safe. */
#ifndef FASTSCI_CORE_SYSINFO_H
#define FASTSCI_CORE_SYSINFO_H

#include <stddef.h>

#include "fastsci/core/defs.h"

/* Physical memory in bytes; 0 if unknown. */
FSCI_API double fsci_sys_memory_bytes(void);

/* Memory available to a new allocation without swapping (MemAvailable of
 * /proc/meminfo, else free pages, else physical memory), in bytes. */
FSCI_API double fsci_sys_available_bytes(void);

/* Free bytes (for an unprivileged user) on the file system that would hold
 * the file `path` (its folder; "." for a bare name); -1 if unknown. */
FSCI_API double fsci_sys_free_bytes(const char *path);

/* Decimal units: "512 B", "71.3 TB". */
FSCI_API void fsci_format_bytes(double bytes, char *buf, size_t cap);

/* FSCI_OK if `bytes` of memory fit in the available memory (or it is
 * unknown); otherwise FSCI_ERANGE with "<what> needs about X of memory but the
 * machine has Y available (of Z)". */
FSCI_API int fsci_sys_check_memory(const char *what, double bytes) FSCI_WUR;

/* FSCI_OK if a file of `bytes` fits in the free space for `path` (or it is
 * unknown); otherwise FSCI_ERANGE with "<what>: PATH would need X but FOLDER
 * has Y free". */
FSCI_API int fsci_sys_check_disk(const char *what, const char *path, double bytes) FSCI_WUR;

#endif
