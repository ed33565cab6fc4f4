/* fastsci: parameter tables.
 *
 * Each engine describes its parameters once: name, type, default, range and
 * help, and where the value lives in its options struct. The CLI's parsing and
 * --help, and the Python module's keyword arguments, are all driven by the same
 * table, so names, defaults and range checks cannot drift apart. */
#ifndef FASTSCI_CORE_PARAMS_H
#define FASTSCI_CORE_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "fastsci/core/defs.h"

typedef enum fsci_param_type {
    FSCI_PARAM_INT,    /* int64_t */
    FSCI_PARAM_DOUBLE, /* double; NaN and infinities are rejected */
    FSCI_PARAM_BOOL,   /* bool; "1/0, true/false, yes/no, on/off" */
    FSCI_PARAM_STRING, /* char[FSCI_PARAM_STRLEN] */
    FSCI_PARAM_CHOICE, /* char[FSCI_PARAM_STRLEN], one of `choices` ("a|b|c") */
    FSCI_PARAM_DOUBLES /* fsci_param_list: up to FSCI_PARAM_LISTLEN comma-separated doubles */
} fsci_param_type;

#define FSCI_PARAM_STRLEN 256
#define FSCI_PARAM_LISTLEN 32

typedef struct fsci_param_list {
    int n;
    double v[FSCI_PARAM_LISTLEN];
} fsci_param_list;

typedef struct fsci_param {
    const char *name; /* CLI "--name", Python keyword name with '-' -> '_' */
    fsci_param_type type;
    size_t offset;       /* offsetof(options struct, field) */
    const char *defval;  /* default as text; NULL or "" for none */
    double min, max;     /* inclusive range for INT/DOUBLE/DOUBLES (ignored if min > max) */
    const char *choices; /* CHOICE: "a|b|c" */
    const char *help;    /* one line */
} fsci_param;

/* Set every field of `obj` to its default. */
FSCI_API int fsci_params_defaults(const fsci_param *table, int n, void *obj) FSCI_WUR;

/* Find a parameter by name; '-' and '_' are equivalent. NULL if absent. */
FSCI_API const fsci_param *fsci_params_find(const fsci_param *table, int n, const char *name);

/* Parse `value` for parameter `name` and store it. Errors name the parameter
 * and the value: FSCI_EINVAL "--energy: 'abc' is not a number",
 * FSCI_ERANGE "--energy: 900 is outside [1, 350]". */
FSCI_API int fsci_params_set(const fsci_param *table, int n, void *obj, const char *name,
                             const char *value) FSCI_WUR;

/* Render the current value of a parameter as text. */
FSCI_API void fsci_params_format(const fsci_param *p, const void *obj, char *buf, size_t cap);

/* Print "  --name VALUE   help [default: x] (range)" lines. */
FSCI_API void fsci_params_help(const fsci_param *table, int n, FILE *f);

#endif
