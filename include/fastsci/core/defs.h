/* fastsci: common definitions shared by every public header. */
#ifndef FASTSCI_CORE_DEFS_H
#define FASTSCI_CORE_DEFS_H

#include <stddef.h>
#include <stdint.h>

#if defined(FSCI_BUILDING_LIBRARY) && defined(__GNUC__)
#define FSCI_API __attribute__((visibility("default")))
#else
#define FSCI_API
#endif

/* Every fallible function returns an int status; ignoring it is a bug. */
#if defined(__GNUC__)
#define FSCI_WUR __attribute__((warn_unused_result))
#define FSCI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define FSCI_WUR
#define FSCI_PRINTF(f, a)
#endif

#define FSCI_PI 3.14159265358979323846

#define FSCI_VERSION_MAJOR 0
#define FSCI_VERSION_MINOR 1
#define FSCI_VERSION_PATCH 0
#define FSCI_VERSION_STRING "0.1.0"

#endif
