/* The ptycho _metadata member, built with libjansson (escaping, UTF-8 and
 * number formatting are jansson's; non-finite numbers become null). */
#include <stdio.h>
#include <stdlib.h>

#include "ptycho/metadata.h"

int fsci__ptycho_metadata_add(fsci_sink *sink, const fsci_ptycho_opts *o, const fsci_ptycho_inputs *in,
                              uint64_t seed, int64_t K_used, int64_t np, int64_t B, int64_t H, int64_t W,
                              const fsci_ptycho_report *r)
{
    int st = FSCI_OK;
    json_t *m = json_object();
    char *text = NULL;
    char gen[64], norm[32];
    FSCI_CHECK(m, FSCI_ENOMEM, "ptycho: out of memory for the metadata");
    snprintf(gen, sizeof gen, "fastsci %s", fsci_version());
    /* X_full_norm: the 9 significant digits it always had (X_full uses it in float32) */
    snprintf(norm, sizeof norm, "%.9g", r->xfull_norm);
    FSCI_TRY(fsci_json_set_string(m, "generator", gen));
    FSCI_TRY(fsci_json_set_number(m, "nphotons", o->nphotons));
    /* a seed above 2^63 - 1 does not fit jansson's integers: kept exact as a string */
    if (seed <= (uint64_t)INT64_MAX) {
        FSCI_TRY(fsci_json_set_int(m, "seed", (int64_t)seed));
    } else {
        char s[32];
        snprintf(s, sizeof s, "%llu", (unsigned long long)seed);
        FSCI_TRY(fsci_json_set_string(m, "seed", s));
    }
    FSCI_TRY(fsci_json_set_int(m, "N", o->N));
    FSCI_TRY(fsci_json_set_int(m, "gridsize", o->gridsize));
    FSCI_TRY(fsci_json_set_int(m, "K", K_used));
    FSCI_TRY(fsci_json_set_int(m, "K_requested", o->K));
    FSCI_TRY(fsci_json_set_int(m, "n_images", np));
    FSCI_TRY(fsci_json_set_int(m, "n_groups", B));
    FSCI_TRY(fsci_json_set_bool(m, "noise", o->noise));
    FSCI_TRY(fsci_json_set_string(m, "layout", o->layout));
    FSCI_TRY(fsci_json_set_number(m, "intensity_scale", r->scale));
    FSCI_TRY(fsci_json_set_number(m, "intensity_scale_raw", r->scale_raw));
    FSCI_TRY(fsci_json_set_number(m, "X_full_norm", strtod(norm, NULL)));
    FSCI_TRY(fsci_json_set_int(m, "local_offset_sign", -1));
    FSCI_TRY(fsci_json_set_string(m, "object", in && in->object ? "array" : o->object));
    FSCI_TRY(fsci_json_set(m, "object_shape", json_pack("[II]", (json_int_t)H, (json_int_t)W)));
    FSCI_TRY(fsci_json_set_string(m, "probe", in && in->probe ? "array" : o->probe));
    FSCI_TRY(fsci_json_set_number(m, "probe_scale", o->probe_scale));
    FSCI_TRY(fsci_json_set_string(m, "positions", in && in->xcoords ? "array" : o->positions));
    FSCI_TRY(fsci_json_set_bool(m, "raw", o->raw));
    FSCI_TRY(fsci_json_set_bool(m, "oversampling", o->oversampling));
    FSCI_TRY(fsci_json_set_int(m, "pool_size", o->pool_size));
    FSCI_TRY(fsci_json_set_int(m, "version", 1));
    FSCI_TRY(fsci_json_dumps(m, 0, &text));
    FSCI_TRY(fsci_sink_add_string(sink, "_metadata", text));
fail:
    fsci_free(text);
    json_decref(m);
    return st;
}
