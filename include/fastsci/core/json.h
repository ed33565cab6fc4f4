/* fastsci: small helpers over libjansson for the JSON the library writes
 * (proton summary.json, the ptycho _metadata member).
 *
 * Undefined figures (NaN, +-inf) become JSON null, never 0 or a non-JSON
 * token. Numbers are printed with 17 significant digits (they read back as
 * the same double). Objects keep insertion order.
 *
 * Thread safety: distinct json_t trees are independent (jansson's rules). */
#ifndef FASTSCI_CORE_JSON_H
#define FASTSCI_CORE_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "fastsci/core/defs.h"

/* A new JSON number for v, or JSON null when v is NaN or infinite. NULL only
 * when out of memory. */
FSCI_API json_t *fsci_json_number(double v);

/* obj[key] = number (null when not finite), integer, string (must be valid
 * UTF-8), boolean or null. FSCI_EINVAL (NULL object/key, invalid UTF-8 key or
 * string), FSCI_ENOMEM. */
FSCI_API int fsci_json_set_number(json_t *obj, const char *key, double v) FSCI_WUR;
FSCI_API int fsci_json_set_int(json_t *obj, const char *key, int64_t v) FSCI_WUR;
FSCI_API int fsci_json_set_string(json_t *obj, const char *key, const char *s) FSCI_WUR;
FSCI_API int fsci_json_set_bool(json_t *obj, const char *key, bool v) FSCI_WUR;

/* obj[key] = value, taking ownership of `value` (also on failure). */
FSCI_API int fsci_json_set(json_t *obj, const char *key, json_t *value) FSCI_WUR;

/* Serialise `root` into a new NUL-terminated string (*out, free with
 * fsci_free). indent 0: one line with ", " and ": " separators; > 0: that many
 * spaces per level and a trailing newline. FSCI_EINVAL, FSCI_ENOMEM. */
FSCI_API int fsci_json_dumps(const json_t *root, int indent, char **out) FSCI_WUR;

/* Write `root` (as fsci_json_dumps with `indent`) to `path` atomically
 * (fsci_atomic_open). Errors as fsci_json_dumps and fsci_atomic_commit. */
FSCI_API int fsci_json_write(const char *path, const json_t *root, int indent) FSCI_WUR;

#endif
