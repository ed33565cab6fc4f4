/* fastsci info: dtype and shape of .npy files and of every member of .npz files. */
#include <string.h>

#include "commands.h"

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
