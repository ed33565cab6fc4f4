/* Sizes of a ptycho run known before computing it, and the up-front refusal
 * of runs that cannot fit on the disk or in memory. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ptycho_impl.h"

static bool ends_with_npz(const char *s)
{
    size_t n = strlen(s);
    return n >= 4 && strcmp(s + n - 4, ".npz") == 0;
}

/* Number of positions: given, in the positions file (header only), or random. */
static int count_positions(const fsci_ptycho_opts *o, const fsci_ptycho_inputs *in, int64_t *np)
{
    int st = FSCI_OK;
    fsci_npz *z = NULL;
    if (in && in->xcoords) {
        *np = in->npoints;
    } else if (strcmp(o->positions, "random") == 0) {
        *np = fsci__ptycho_random_count(o);
    } else {
        FSCI_CHECK(ends_with_npz(o->positions), FSCI_EINVAL,
                   "positions: '%s' is neither 'random' nor an .npz file with xcoords and ycoords",
                   o->positions);
        fsci_dtype dt;
        int nd;
        int64_t shape[FSCI_MAX_NDIM] = {0};
        FSCI_TRY(fsci_npz_open(o->positions, &z));
        FSCI_CHECK_GOTO(fsci_npz_has(z, "xcoords"), FSCI_EINVAL, "positions: %s has no member 'xcoords'",
                        o->positions);
        FSCI_TRY(fsci_npz_peek(z, "xcoords", &dt, &nd, shape));
        *np = nd == 1 ? shape[0] : 0; /* a wrong shape is reported when the file is read */
    }
fail:
    fsci_npz_close(&z);
    return st;
}

/* Object rows and columns, if known without reading it (0 otherwise), and the
 * peak memory of building it. */
static int object_shape(const fsci_ptycho_opts *o, const fsci_ptycho_inputs *in, int64_t *h, int64_t *w,
                        double *build)
{
    int st = FSCI_OK;
    fsci_npz *z = NULL;
    *h = *w = 0;
    *build = 0;
    if (in && in->object) {
        *h = in->object->shape[0];
        *w = in->object->shape[1];
    } else if (strcmp(o->object, "lines") == 0 || strcmp(o->object, "star") == 0) {
        int64_t m = o->object_size > 0 ? o->object_size : (int64_t)llround(3.5 * (double)o->N);
        *h = *w = m;
        double m2 = (double)m * (double)m;
        /* lines: three (2m)^2 canvases, amplitude and phase, the array */
        *build = strcmp(o->object, "lines") == 0 ? 8 * (12 * m2 + 3 * m2) : 8 * 3 * m2;
    } else if (ends_with_npz(o->object)) {
        fsci_dtype dt;
        int nd;
        int64_t shape[FSCI_MAX_NDIM] = {0};
        FSCI_TRY(fsci_npz_open(o->object, &z));
        if (fsci_npz_has(z, "objectGuess")) {
            FSCI_TRY(fsci_npz_peek(z, "objectGuess", &dt, &nd, shape));
            if (nd == 2) {
                *h = shape[0];
                *w = shape[1];
            }
        }
    }
fail:
    fsci_npz_close(&z);
    return st;
}

int fsci_ptycho_estimate(const fsci_ptycho_opts *o, const fsci_ptycho_inputs *in, fsci_ptycho_size *out)
{
    int st = FSCI_OK;
    FSCI_CHECK(o && out, FSCI_EINVAL, "ptycho estimate: NULL options or output");
    memset(out, 0, sizeof *out);
    FSCI_TRY(fsci__ptycho_validate(o));
    int64_t np = 0, h = 0, w = 0;
    double build = 0;
    FSCI_TRY(count_positions(o, in, &np));
    FSCI_TRY(object_shape(o, in, &h, &w, &build));
    const int64_t C = o->gridsize * o->gridsize;
    int64_t B = o->n_groups > 0 ? o->n_groups : np;
    if (C == 1 && B > np) B = np;
    const double n2 = (double)o->N * (double)o->N, P = (double)B * (double)C, dnp = (double)np;
    const double obj = 8.0 * (double)h * (double)w, probe = 8 * n2;
    out->npoints = np;
    out->ngroups = B;
    out->npatterns = (int64_t)P;
    /* diff3d, Y, diffraction, X_full; ground_truth_patches; coordinates; positions; inputs;
     * headers and metadata */
    out->output_bytes = (o->raw ? 4 * dnp * n2 : 0) + P * n2 * (8 + 4 + 4) + 8 * dnp * n2 + 16 * (double)B +
                        36 * P + 40 * dnp + probe + obj + 64 * 1024;
    /* the diffraction (held for X_full), coordinates, positions, inputs, two
     * 16 MB blocks, the 8 MB block of ground_truth_patches (or one patch if
     * larger), per-thread buffers (about 64 N^2 bytes each) */
    double pmax = P > dnp ? P : dnp, gt_block = 8 * n2 > 8388608 ? 8 * n2 : 8388608;
    double work = P * n2 * 4 + 68 * P + 16 * (double)B + 16 * pmax + 16 * dnp + obj + probe + 32e6 +
                  gt_block + 64 * n2 * fsci_parallel_resolve(0);
    out->memory_bytes = work > build + obj ? work : build + obj;
fail:
    return st;
}

/* "--N 1024, 4000000 patterns" */
static void describe(const fsci_ptycho_opts *o, const fsci_ptycho_size *z, char *buf, size_t cap)
{
    snprintf(buf, cap, "--N %lld with %lld positions and %lld groups of %lld (%lld patterns)",
             (long long)o->N, (long long)z->npoints, (long long)z->ngroups,
             (long long)(o->gridsize * o->gridsize), (long long)z->npatterns);
}

static int check_memory(const fsci_ptycho_opts *o, const fsci_ptycho_size *z, bool with_output)
{
    char req[300];
    int n = snprintf(req, sizeof req, "ptycho: ");
    describe(o, z, req + n, sizeof req - (size_t)n);
    if (with_output) snprintf(req + strlen(req), sizeof req - strlen(req), " (the output is kept in memory)");
    return fsci_sys_check_memory(req, z->memory_bytes + (with_output ? z->output_bytes : 0));
}

int fsci__ptycho_check_memory(const fsci_ptycho_opts *o, const fsci_ptycho_inputs *in, bool with_output)
{
    int st = FSCI_OK;
    fsci_ptycho_size z;
    FSCI_TRY(fsci_ptycho_estimate(o, in, &z));
    FSCI_TRY(check_memory(o, &z, with_output));
fail:
    return st;
}

int fsci_ptycho_check_resources(const fsci_ptycho_opts *o, const fsci_ptycho_inputs *in, const char *path)
{
    int st = FSCI_OK;
    fsci_ptycho_size z;
    FSCI_TRY(fsci_ptycho_estimate(o, in, &z));
    if (path && !o->compress) {
        char req[300];
        int n = snprintf(req, sizeof req, "ptycho: ");
        describe(o, &z, req + n, sizeof req - (size_t)n);
        FSCI_TRY(fsci_sys_check_disk(req, path, z.output_bytes));
    }
    FSCI_TRY(check_memory(o, &z, path == NULL));
fail:
    return st;
}
