/* JSON output through libjansson: non-finite numbers as null, strings owned
 * by fsci_malloc, atomic files. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/atomic.h"
#include "fastsci/core/error.h"
#include "fastsci/core/json.h"

json_t *fsci_json_number(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

int fsci_json_set(json_t *obj, const char *key, json_t *value)
{
    int st = FSCI_OK;
    FSCI_CHECK_GOTO(obj && key && json_is_object(obj), FSCI_EINVAL, "json: NULL object or key");
    FSCI_CHECK_GOTO(value, FSCI_ENOMEM, "json: out of memory (or invalid UTF-8) for key '%s'", key);
    /* json_object_set_new takes the reference even when it fails */
    int r = json_object_set_new(obj, key, value);
    value = NULL;
    FSCI_CHECK_GOTO(r == 0, FSCI_EINVAL, "json: cannot set key '%s' (invalid UTF-8 or out of memory)", key);
    return FSCI_OK;
fail:
    json_decref(value);
    return st;
}

int fsci_json_set_number(json_t *obj, const char *key, double v)
{
    return fsci_json_set(obj, key, fsci_json_number(v));
}

int fsci_json_set_int(json_t *obj, const char *key, int64_t v)
{
    return fsci_json_set(obj, key, json_integer((json_int_t)v));
}

int fsci_json_set_string(json_t *obj, const char *key, const char *s)
{
    FSCI_CHECK(s, FSCI_EINVAL, "json: NULL string for key '%s'", key ? key : "(null)");
    json_t *v = json_string(s);
    if (!v) { /* invalid UTF-8, unless even the unchecked copy fails (memory) */
        json_t *raw = json_string_nocheck(s);
        bool utf8 = raw == NULL;
        json_decref(raw);
        FSCI_CHECK(utf8, FSCI_EINVAL, "json: the value of key '%s' is not valid UTF-8", key ? key : "(null)");
    }
    return fsci_json_set(obj, key, v);
}

int fsci_json_set_bool(json_t *obj, const char *key, bool v)
{
    return fsci_json_set(obj, key, json_boolean(v));
}

int fsci_json_dumps(const json_t *root, int indent, char **out)
{
    int st = FSCI_OK;
    char *s = NULL;
    FSCI_CHECK(out, FSCI_EINVAL, "json: NULL output pointer");
    *out = NULL;
    FSCI_CHECK(root && indent >= 0 && indent <= 31, FSCI_EINVAL, "json: NULL tree or bad indent %d", indent);
    size_t flags = JSON_REAL_PRECISION(17) | (indent > 0 ? JSON_INDENT(indent) : 0);
    s = json_dumps(root, flags);
    FSCI_CHECK_GOTO(s, FSCI_ENOMEM, "json: cannot serialise (out of memory)");
    size_t n = strlen(s);
    char *c = fsci_malloc(n + 2, 1);
    FSCI_CHECK_GOTO(c, FSCI_ENOMEM, "json: out of memory");
    memcpy(c, s, n);
    if (indent > 0) c[n++] = '\n';
    c[n] = '\0';
    *out = c;
fail:
    free(s); /* from jansson's allocator */
    return st;
}

int fsci_json_write(const char *path, const json_t *root, int indent)
{
    int st = FSCI_OK;
    char *s = NULL;
    fsci_atomic *a = NULL;
    FSCI_TRY(fsci_json_dumps(root, indent, &s));
    FSCI_TRY(fsci_atomic_open(path, FSCI_ATOMIC_DEFAULT, &a));
    FSCI_TRY(fsci_atomic_write(a, s, strlen(s)));
    st = fsci_atomic_commit(&a);
fail:
    fsci_atomic_abort(&a);
    fsci_free(s);
    return st;
}
