#include <stdarg.h>
#include <stdio.h>

#include "fastsci/core/error.h"

enum { MSG_CAP = 1024, WHERE_CAP = 256 };

static _Thread_local char tl_msg[MSG_CAP];
static _Thread_local char tl_where[WHERE_CAP];
static _Thread_local int tl_code;

const char *fsci_strerror(int code)
{
    switch (code) {
    case FSCI_OK: return "success";
    case FSCI_EINVAL: return "invalid argument";
    case FSCI_ENOMEM: return "out of memory";
    case FSCI_EIO: return "input/output error";
    case FSCI_EFORMAT: return "malformed file";
    case FSCI_ENOTSUP: return "not supported";
    case FSCI_ERANGE: return "value out of range";
    case FSCI_EINTERNAL: return "internal error";
    case FSCI_ECANCELED: return "canceled";
    default: return "unknown error";
    }
}

const char *fsci_error_message(void)
{
    return tl_msg;
}
const char *fsci_error_where(void)
{
    return tl_where;
}
int fsci_error_code(void)
{
    return tl_code;
}

void fsci_error_clear(void)
{
    tl_msg[0] = '\0';
    tl_where[0] = '\0';
    tl_code = FSCI_OK;
}

int fsci_error_set(int code, const char *file, int line, const char *func, const char *fmt, ...)
{
    const char *base = file;
    for (const char *p = file; *p; p++)
        if (*p == '/') base = p + 1;
    snprintf(tl_where, sizeof tl_where, "%s:%d %s", base, line, func);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_msg, sizeof tl_msg, fmt, ap);
    va_end(ap);
    tl_code = code;
    return code;
}
