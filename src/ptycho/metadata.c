/* The ptycho _metadata member in PtychoPINN's schema (ptycho/metadata.py,
 * MetadataManager.create_metadata, schema 1.0.0), built with libjansson
 * (escaping, UTF-8 and number formatting are jansson's; non-finite numbers
 * become null). Layout and reasons: doc/ptycho.md, "Metadata". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ptycho/metadata.h"

/* 9999-12-31T23:59:59Z: the last second a four-digit year can show */
#define MAX_EPOCH INT64_C(253402300799)

int fsci__ptycho_timestamp(char out[FSCI__PTYCHO_TIMESTAMP_CAP])
{
    const char *env = getenv("SOURCE_DATE_EPOCH");
    time_t t;
    if (env && *env) {
        /* reproducible-builds.org: a decimal count of seconds; malformed is an error */
        int64_t v = 0;
        const char *p = env;
        for (; *p >= '0' && *p <= '9' && v <= MAX_EPOCH; p++) v = 10 * v + (*p - '0');
        FSCI_CHECK(*p == '\0' && v <= MAX_EPOCH, FSCI_EINVAL,
                   "SOURCE_DATE_EPOCH: '%.40s' is not a number of seconds in [0, %lld]", env,
                   (long long)MAX_EPOCH);
        t = (time_t)v;
    } else {
        t = time(NULL);
        FSCI_CHECK(t != (time_t)-1, FSCI_EIO, "ptycho: the clock cannot be read for the metadata timestamp");
    }
    struct tm tm;
    FSCI_CHECK(gmtime_r(&t, &tm) != NULL, FSCI_EINVAL, "ptycho: time %lld cannot be shown in UTC",
               (long long)t);
    FSCI_CHECK(strftime(out, FSCI__PTYCHO_TIMESTAMP_CAP, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0, FSCI_EINVAL,
               "ptycho: time %lld cannot be formatted", (long long)t);
    return FSCI_OK;
}

/* creation_info: who made the file, and when */
static int creation_info(json_t *m, const char *timestamp)
{
    int st = FSCI_OK;
    json_t *c = json_object();
    char host[256] = "unknown", gen[64];
    FSCI_CHECK(c, FSCI_ENOMEM, "ptycho: out of memory for the metadata");
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    snprintf(gen, sizeof gen, "fastsci %s", fsci_version());
    FSCI_TRY(fsci_json_set_string(c, "timestamp", timestamp));
    FSCI_TRY(fsci_json_set_string(c, "script", "fastsci ptycho simulate"));
    /* a host name that is not UTF-8 is left out rather than failing the run */
    if (fsci_json_set_string(c, "hostname", host) != FSCI_OK) {
        fsci_error_clear();
        FSCI_TRY(fsci_json_set_string(c, "hostname", "unknown"));
    }
    FSCI_TRY(fsci_json_set_string(c, "generator", gen));
    FSCI_TRY(fsci_json_set_string(c, "fastsci_version", fsci_version()));
    return fsci_json_set(m, "creation_info", c);
fail:
    json_decref(c);
    return st;
}

/* additional_parameters: everything of ours that PtychoPINN's schema has no place for */
static int additional(json_t *m, const fsci__ptycho_meta *d)
{
    int st = FSCI_OK;
    const fsci_ptycho_opts *o = d->o;
    const fsci_ptycho_inputs *in = d->in;
    json_t *a = json_object();
    char norm[32];
    FSCI_CHECK(a, FSCI_ENOMEM, "ptycho: out of memory for the metadata");
    /* X_full_norm: the 9 significant digits it always had (X_full uses it in float32) */
    snprintf(norm, sizeof norm, "%.9g", d->r->xfull_norm);
    /* a seed above 2^63 - 1 does not fit jansson's integers: kept exact as a string */
    if (d->seed <= (uint64_t)INT64_MAX) {
        FSCI_TRY(fsci_json_set_int(a, "seed", (int64_t)d->seed));
    } else {
        char s[32];
        snprintf(s, sizeof s, "%llu", (unsigned long long)d->seed);
        FSCI_TRY(fsci_json_set_string(a, "seed", s));
    }
    FSCI_TRY(fsci_json_set_int(a, "K", d->K_used));
    FSCI_TRY(fsci_json_set_int(a, "K_requested", o->K));
    FSCI_TRY(fsci_json_set_int(a, "n_groups", d->B));
    FSCI_TRY(fsci_json_set_bool(a, "noise", o->noise));
    FSCI_TRY(fsci_json_set_string(a, "layout", o->layout));
    FSCI_TRY(fsci_json_set_number(a, "intensity_scale", d->r->scale));
    FSCI_TRY(fsci_json_set_number(a, "intensity_scale_raw", d->r->scale_raw));
    FSCI_TRY(fsci_json_set_number(a, "X_full_norm", strtod(norm, NULL)));
    FSCI_TRY(fsci_json_set_int(a, "local_offset_sign", -1));
    FSCI_TRY(fsci_json_set_string(a, "object", in && in->object ? "array" : o->object));
    FSCI_TRY(fsci_json_set(a, "object_shape", json_pack("[II]", (json_int_t)d->H, (json_int_t)d->W)));
    FSCI_TRY(fsci_json_set_string(a, "probe", in && in->probe ? "array" : o->probe));
    FSCI_TRY(fsci_json_set_number(a, "probe_scale", o->probe_scale));
    FSCI_TRY(fsci_json_set_string(a, "positions", in && in->xcoords ? "array" : o->positions));
    FSCI_TRY(fsci_json_set_bool(a, "raw", o->raw));
    FSCI_TRY(fsci_json_set_bool(a, "oversampling", o->oversampling));
    FSCI_TRY(fsci_json_set_int(a, "pool_size", o->pool_size));
    FSCI_TRY(fsci_json_set_int(a, "version", FSCI__PTYCHO_META_VERSION));
    return fsci_json_set(m, "additional_parameters", a);
fail:
    json_decref(a);
    return st;
}

int fsci__ptycho_metadata_add(fsci_sink *sink, const fsci__ptycho_meta *d)
{
    int st = FSCI_OK;
    json_t *m = json_object(), *phys = NULL, *train = NULL;
    char *text = NULL;
    FSCI_CHECK(m, FSCI_ENOMEM, "ptycho: out of memory for the metadata");
    FSCI_TRY(fsci_json_set_string(m, "schema_version", "1.0.0"));
    FSCI_TRY(creation_info(m, d->timestamp));
    /* physics_parameters and training_parameters: only the keys we know; the
     * training-only ones (probe_trainable, batch_size, ...) are not ours to set */
    phys = json_object();
    FSCI_CHECK_GOTO(phys, FSCI_ENOMEM, "ptycho: out of memory for the metadata");
    FSCI_TRY(fsci_json_set_number(phys, "nphotons", d->o->nphotons));
    FSCI_TRY(fsci_json_set_int(phys, "gridsize", d->o->gridsize));
    FSCI_TRY(fsci_json_set_int(phys, "N", d->o->N));
    FSCI_TRY(fsci_json_set(m, "physics_parameters", phys));
    phys = NULL;
    train = json_object();
    FSCI_CHECK_GOTO(train, FSCI_ENOMEM, "ptycho: out of memory for the metadata");
    FSCI_TRY(fsci_json_set_int(train, "n_images", d->np));
    FSCI_TRY(fsci_json_set(m, "training_parameters", train));
    train = NULL;
    FSCI_TRY(fsci_json_set(m, "data_transformations", json_array()));
    FSCI_TRY(additional(m, d));
    FSCI_TRY(fsci_json_dumps(m, 2, &text));
    FSCI_TRY(fsci_sink_add_string(sink, "_metadata", text));
fail:
    fsci_free(text);
    json_decref(phys);
    json_decref(train);
    json_decref(m);
    return st;
}
