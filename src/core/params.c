#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fastsci/core/error.h"
#include "fastsci/core/params.h"

static bool name_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '_' ? '-' : *a, y = *b == '_' ? '-' : *b;
        if (x != y) return false;
    }
    return *a == *b;
}

const fsci_param *fsci_params_find(const fsci_param *table, int n, const char *name)
{
    if (!table || !name) return NULL;
    for (int i = 0; i < n; i++)
        if (name_eq(table[i].name, name)) return &table[i];
    return NULL;
}

static bool has_range(const fsci_param *p)
{
    return p->min <= p->max;
}

static int parse_double(const fsci_param *p, const char *text, double *out)
{
    errno = 0;
    char *end = NULL;
    double v = strtod(text, &end);
    FSCI_CHECK(end != text && *end == '\0' && errno != ERANGE, FSCI_EINVAL, "--%s: '%s' is not a number",
               p->name, text);
    FSCI_CHECK(isfinite(v), FSCI_EINVAL, "--%s: '%s' is not a finite number", p->name, text);
    FSCI_CHECK(!has_range(p) || (v >= p->min && v <= p->max), FSCI_ERANGE, "--%s: %s is outside [%g, %g]",
               p->name, text, p->min, p->max);
    *out = v;
    return FSCI_OK;
}

static int choice_ok(const char *choices, const char *v)
{
    size_t len = strlen(v);
    for (const char *c = choices; c && *c;) {
        const char *bar = strchr(c, '|');
        size_t clen = bar ? (size_t)(bar - c) : strlen(c);
        if (clen == len && strncmp(c, v, len) == 0) return 1;
        c = bar ? bar + 1 : NULL;
    }
    return 0;
}

int fsci_params_set(const fsci_param *table, int n, void *obj, const char *name, const char *value)
{
    int st = FSCI_OK;
    FSCI_CHECK(obj && name, FSCI_EINVAL, "params: NULL argument");
    const fsci_param *p = fsci_params_find(table, n, name);
    FSCI_CHECK(p, FSCI_EINVAL, "unknown parameter '%s'", name);
    FSCI_CHECK(value, FSCI_EINVAL, "--%s: missing value", p->name);
    char *field = (char *)obj + p->offset;
    switch (p->type) {
    case FSCI_PARAM_INT: {
        errno = 0;
        char *end = NULL;
        long long v = strtoll(value, &end, 10);
        if (end != value && (*end == 'e' || *end == 'E' || *end == '.')) {
            /* accept 1e6 and 5000.0 for integers when they are exact */
            double d = strtod(value, &end);
            FSCI_CHECK(*end == '\0' && d == floor(d) && fabs(d) < 9.2e18, FSCI_EINVAL,
                       "--%s: '%s' is not an integer", p->name, value);
            v = (long long)d;
        }
        FSCI_CHECK(end != value && *end == '\0', FSCI_EINVAL, "--%s: '%s' is not an integer", p->name, value);
        FSCI_CHECK(errno != ERANGE, FSCI_ERANGE, "--%s: %s is outside the 64-bit integer range", p->name,
                   value);
        FSCI_CHECK(!has_range(p) || ((double)v >= p->min && (double)v <= p->max), FSCI_ERANGE,
                   "--%s: %s is outside [%.0f, %.0f]", p->name, value, p->min, p->max);
        *(int64_t *)field = v;
        return FSCI_OK;
    }
    case FSCI_PARAM_DOUBLE: return parse_double(p, value, (double *)field);
    case FSCI_PARAM_BOOL: {
        static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
        for (int i = 0; i < 4; i++) {
            if (strcasecmp(value, yes[i]) == 0) return *(bool *)field = true, FSCI_OK;
            if (strcasecmp(value, no[i]) == 0) return *(bool *)field = false, FSCI_OK;
        }
        return fsci_error_set(FSCI_EINVAL, __FILE__, __LINE__, __func__,
                              "--%s: '%s' is not a boolean (true/false)", p->name, value);
    }
    case FSCI_PARAM_CHOICE:
        FSCI_CHECK(choice_ok(p->choices, value), FSCI_EINVAL, "--%s: '%s' is not one of %s", p->name, value,
                   p->choices);
        /* fall through */
    case FSCI_PARAM_STRING:
        FSCI_CHECK(strlen(value) < FSCI_PARAM_STRLEN, FSCI_EINVAL, "--%s: value longer than %d characters",
                   p->name, FSCI_PARAM_STRLEN - 1);
        strcpy(field, value);
        return FSCI_OK;
    case FSCI_PARAM_DOUBLES: {
        fsci_param_list list = {0};
        char buf[FSCI_PARAM_STRLEN];
        FSCI_CHECK(strlen(value) < sizeof buf, FSCI_EINVAL, "--%s: list too long", p->name);
        strcpy(buf, value);
        /* every comma separates two values: "100,,200", ",100" and "100," are errors, not skipped */
        for (char *tok = buf, *next; tok; tok = next) {
            next = strchr(tok, ',');
            if (next) *next++ = '\0';
            FSCI_CHECK(*tok, FSCI_EINVAL,
                       "--%s: '%s' has an empty value (values are separated by single commas)", p->name,
                       value);
            FSCI_CHECK(list.n < FSCI_PARAM_LISTLEN, FSCI_EINVAL, "--%s: more than %d values", p->name,
                       FSCI_PARAM_LISTLEN);
            FSCI_TRY(parse_double(p, tok, &list.v[list.n]));
            list.n++;
        }
        FSCI_CHECK(list.n > 0, FSCI_EINVAL, "--%s: '%s' is not a list of numbers", p->name, value);
        *(fsci_param_list *)field = list;
        return FSCI_OK;
    }
    }
    return fsci_error_set(FSCI_EINTERNAL, __FILE__, __LINE__, __func__, "--%s: bad type", p->name);
fail:
    return st;
}

int fsci_params_defaults(const fsci_param *table, int n, void *obj)
{
    int st = FSCI_OK;
    for (int i = 0; i < n; i++) {
        const fsci_param *p = &table[i];
        if (p->defval && *p->defval) {
            FSCI_TRY(fsci_params_set(table, n, obj, p->name, p->defval));
        } else if (p->type == FSCI_PARAM_STRING || p->type == FSCI_PARAM_CHOICE) {
            ((char *)obj + p->offset)[0] = '\0';
        }
    }
fail:
    return st;
}

void fsci_params_format(const fsci_param *p, const void *obj, char *buf, size_t cap)
{
    const char *field = (const char *)obj + p->offset;
    switch (p->type) {
    case FSCI_PARAM_INT: snprintf(buf, cap, "%lld", (long long)*(const int64_t *)field); break;
    case FSCI_PARAM_DOUBLE: snprintf(buf, cap, "%.17g", *(const double *)field); break;
    case FSCI_PARAM_BOOL: snprintf(buf, cap, "%s", *(const bool *)field ? "true" : "false"); break;
    case FSCI_PARAM_STRING:
    case FSCI_PARAM_CHOICE: snprintf(buf, cap, "%s", field); break;
    case FSCI_PARAM_DOUBLES: {
        const fsci_param_list *l = (const fsci_param_list *)(const void *)field;
        size_t used = 0;
        buf[0] = '\0';
        for (int i = 0; i < l->n && used < cap; i++)
            used += (size_t)snprintf(buf + used, cap - used, i ? ",%g" : "%g", l->v[i]);
        break;
    }
    }
}

void fsci_params_help(const fsci_param *table, int n, FILE *f)
{
    static const char *meta[] = {"N", "X", "BOOL", "TEXT", "CHOICE", "X,Y,..."};
    for (int i = 0; i < n; i++) {
        const fsci_param *p = &table[i];
        char head[80];
        snprintf(head, sizeof head, "--%s %s", p->name,
                 p->type == FSCI_PARAM_CHOICE ? p->choices : meta[p->type]);
        fprintf(f, "  %-30s %s", head, p->help ? p->help : "");
        if (p->defval && *p->defval) fprintf(f, " [default: %s]", p->defval);
        if (has_range(p) && p->type != FSCI_PARAM_CHOICE) fprintf(f, " (%g..%g)", p->min, p->max);
        fputc('\n', f);
    }
}
