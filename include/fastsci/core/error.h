/* fastsci: status codes and the per-thread error message.
 *
 * Every fallible function returns an int: FSCI_OK (0) on success or a negative
 * fsci_status. The failing function records one human-readable line (naming the
 * input, the field and the value) in thread-local storage; read it with
 * fsci_error_message() on the same thread. Library code never exits or aborts. */
#ifndef FASTSCI_CORE_ERROR_H
#define FASTSCI_CORE_ERROR_H

#include "fastsci/core/defs.h"

typedef enum fsci_status {
    FSCI_OK = 0,
    FSCI_EINVAL = -1,    /* invalid argument or parameter value */
    FSCI_ENOMEM = -2,    /* allocation failed or size overflow */
    FSCI_EIO = -3,       /* operating-system I/O error */
    FSCI_EFORMAT = -4,   /* malformed or truncated file */
    FSCI_ENOTSUP = -5,   /* valid but unsupported (dtype, feature) */
    FSCI_ERANGE = -6,    /* value out of the supported range */
    FSCI_EINTERNAL = -7, /* broken invariant: a bug in fastsci */
    FSCI_ECANCELED = -8  /* stopped at the caller's request */
} fsci_status;

/* Short constant description of a status code ("invalid argument", ...). */
FSCI_API const char *fsci_strerror(int code);

/* Message of the last error recorded on this thread, or "" if none.
 * The pointer stays valid until the next error on this thread. */
FSCI_API const char *fsci_error_message(void);

/* "file:line function" where the last error on this thread was recorded. */
FSCI_API const char *fsci_error_where(void);

/* Status code of the last error recorded on this thread (FSCI_OK if none). */
FSCI_API int fsci_error_code(void);

/* Forget the last error on this thread. */
FSCI_API void fsci_error_clear(void);

/* Record an error and return `code`. Used through the macros below; public so
 * that clients (CLI, Python module) can report their own errors the same way. */
FSCI_API int fsci_error_set(int code, const char *file, int line, const char *func, const char *fmt, ...)
    FSCI_PRINTF(5, 6);

/* Record and return: `if (!(cond)) return error`. */
#define FSCI_CHECK(cond, code, ...)                                                                          \
    do {                                                                                                     \
        if (!(cond)) return fsci_error_set((code), __FILE__, __LINE__, __func__, __VA_ARGS__);               \
    } while (0)

/* Record, store the code in the local `st` and jump to the local `fail:` label. */
#define FSCI_CHECK_GOTO(cond, code, ...)                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            st = fsci_error_set((code), __FILE__, __LINE__, __func__, __VA_ARGS__);                          \
            goto fail;                                                                                       \
        }                                                                                                    \
    } while (0)

/* Propagate a failing status: stores it in `st` and jumps to `fail:`. */
#define FSCI_TRY(expr)                                                                                       \
    do {                                                                                                     \
        st = (expr);                                                                                         \
        if (st < 0) goto fail;                                                                               \
    } while (0)

#endif
