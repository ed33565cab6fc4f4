/* fastsci info: dtype and shape of .npy files and of every member of .npz
 * files, and what a ptycho _metadata member says (doc/ptycho.md, "Metadata"). */
#include <string.h>

#include "commands.h"

/* A number, integer or string of the metadata as text ("?" when absent). */
static const char *meta_value(const json_t *v, char *buf, size_t cap)
{
    if (json_is_integer(v))
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, cap, "%.17g", json_real_value(v));
    else if (json_is_string(v))
        snprintf(buf, cap, "%s", json_string_value(v));
    else
        snprintf(buf, cap, "?");
    return buf;
}

/* key from section `sec` of PtychoPINN's schema, or from the top level of
 * the flat metadata that fastsci wrote before it */
static const json_t *meta_get(const json_t *m, const char *sec, const char *key)
{
    const json_t *s = json_object_get(m, sec);
    return json_is_object(s) ? json_object_get(s, key) : json_object_get(m, key);
}

/* Two lines about a JSON _metadata member; nothing if it is not a JSON object. */
static void print_metadata(const char *text)
{
    json_error_t e;
    json_t *m = json_loads(text, 0, &e);
    if (!json_is_object(m)) {
        json_decref(m);
        return;
    }
    char a[64], b[64], c[64], d[64], t[64], g[64];
    const json_t *schema = json_object_get(m, "schema_version");
    if (json_is_string(schema))
        printf("    PtychoPINN metadata schema %s\n", json_string_value(schema));
    else
        printf("    flat metadata (fastsci before PtychoPINN's schema)\n");
    printf("    nphotons %s, N %s, gridsize %s, n_images %s\n",
           meta_value(meta_get(m, "physics_parameters", "nphotons"), a, sizeof a),
           meta_value(meta_get(m, "physics_parameters", "N"), b, sizeof b),
           meta_value(meta_get(m, "physics_parameters", "gridsize"), c, sizeof c),
           meta_value(meta_get(m, "training_parameters", "n_images"), d, sizeof d));
    const json_t *ci = json_object_get(m, "creation_info");
    if (json_is_object(ci))
        printf("    created %s by %s\n", meta_value(json_object_get(ci, "timestamp"), t, sizeof t),
               meta_value(json_object_get(ci, "generator"), g, sizeof g));
    else if (json_object_get(m, "generator"))
        printf("    created by %s\n", meta_value(json_object_get(m, "generator"), g, sizeof g));
    json_decref(m);
}

static void print_shape(int ndim, const int64_t *shape)
{
    printf("(");
    for (int k = 0; k < ndim; k++) printf(k ? ", %lld" : "%lld", (long long)shape[k]);
    printf(ndim == 1 ? ",)" : ")");
}

static int info_one(const char *path)
{
    size_t len = strlen(path);
    if (len >= 4 && strcmp(path + len - 4, ".npz") == 0) {
        fsci_npz *z = NULL;
        int st = fsci_npz_open(path, &z);
        if (st) return st;
        printf("%s: npz, %lld members\n", path, (long long)fsci_npz_count(z));
        for (int64_t i = 0; i < fsci_npz_count(z) && !st; i++) {
            const char *name = fsci_npz_name(z, i);
            fsci_dtype t;
            int ndim;
            int64_t shape[FSCI_MAX_NDIM];
            st = fsci_npz_peek(z, name, &t, &ndim, shape);
            if (st == FSCI_ENOTSUP) {
                char *text = NULL;
                fsci_error_clear();
                if ((st = fsci_npz_read_string(z, name, &text))) break;
                printf("  %-20s string, %zu bytes\n", name, strlen(text));
                if (strcmp(name, "_metadata") == 0) print_metadata(text);
                fsci_free(text);
                continue;
            }
            if (st) break;
            printf("  %-20s %-10s ", name, fsci_dtype_name(t));
            print_shape(ndim, shape);
            printf("\n");
        }
        fsci_npz_close(&z);
        return st;
    }
    fsci_array *a = NULL;
    int st = fsci_npy_read(path, &a);
    if (st) return st;
    printf("%s: npy, %s ", path, fsci_dtype_name(a->view.dtype));
    print_shape(a->view.ndim, a->view.shape);
    printf("%s\n",
           a->view.ndim > 1 && fsci_view_is_f_contiguous(&a->view) && !fsci_view_is_c_contiguous(&a->view)
               ? ", Fortran order"
               : "");
    fsci_array_destroy(&a);
    return FSCI_OK;
}

static int run_info(int argc, char **argv, cli_common *common)
{
    cli_args pos;
    bool help;
    int rc = cli_parse(&cmd_info, argc, argv, NULL, common, &pos, &help);
    if (rc || help) return rc;
    if (pos.n == 0) {
        fprintf(stderr, "fastsci info: no file given\nusage: %s\n", cmd_info.usage);
        return CLI_USAGE;
    }
    for (int i = 0; i < pos.n; i++) {
        int st = info_one(pos.v[i]);
        if (st) return cli_fail(st);
    }
    return CLI_OK;
}

const cli_command cmd_info = {
    .name = "info",
    .run = run_info,
    .positional = true,
    .summary = "show dtype and shape of .npy files and .npz members",
    .usage = "fastsci info FILE.npy|FILE.npz ...",
};
