/* n2v2 plates: many TIFF stacks (a list of files, or the *.tif and *.tiff of a
 * folder) denoised or predicted file by file, each into OUTDIR/<its name>.
 *
 * File i runs on MPI rank i % size, in rounds of `size` files. After each round
 * the ranks gather one record per file (status, shape, times, message), so rank
 * 0 prints every file's line in file order. A file that fails gets no output and
 * the others go on; the run then fails naming the first. A file's computation
 * does not depend on the rank that runs it, so the outputs are the same bytes
 * for any number of ranks and equal the single-file runs (doc/n2v2.md §8). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "fastsci/core/mpi.h"
#include "n2v2/n2v2_run.h"

enum { MSG = 448, WEIGHTS_TAG = 2 };

typedef struct plate {
    char **path; /* the input files in order */
    int64_t n, cap;
} plate;

/* One file's outcome, gathered from every rank (plain bytes: same binary). */
typedef struct file_rec {
    int32_t status, rank;
    int64_t z, h, w;
    double train_s, predict_s, best_val;
    char msg[MSG];
} file_rec;

/* Rank 0's shared model, sent to every rank. */
typedef struct share_head {
    int32_t status, pad;
    int64_t nw, steps;
    double mean, std, best_val;
    char msg[MSG];
} share_head;

static bool is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static bool ends_with(const char *path, const char *suf)
{
    const size_t n = strlen(path), m = strlen(suf);
    return n > m && strcasecmp(path + n - m, suf) == 0;
}

static void plate_free(plate *p)
{
    for (int64_t i = 0; i < p->n; i++) fsci_free(p->path[i]);
    fsci_free(p->path);
    memset(p, 0, sizeof *p);
}

/* Append dir/name (dir NULL: name alone). Paths fill the input parameter, so
 * they are limited to its length. */
static int plate_add(plate *p, const char *dir, const char *name)
{
    const size_t len = (dir ? strlen(dir) + 1 : 0) + strlen(name);
    FSCI_CHECK(len < FSCI_PARAM_STRLEN, FSCI_EINVAL, "%s%s%s: a path of %zu bytes (at most %d)",
               dir ? dir : "", dir ? "/" : "", name, len, FSCI_PARAM_STRLEN - 1);
    if (p->n == p->cap) {
        const int64_t cap = p->cap ? 2 * p->cap : 16;
        char **v = fsci_malloc((size_t)cap, sizeof *v);
        FSCI_CHECK(v, FSCI_ENOMEM, "n2v2: out of memory for a list of %lld files", (long long)cap);
        if (p->n) memcpy(v, p->path, (size_t)p->n * sizeof *v);
        fsci_free(p->path);
        p->path = v;
        p->cap = cap;
    }
    char *s = fsci_malloc(len + 1, 1);
    FSCI_CHECK(s, FSCI_ENOMEM, "n2v2: out of memory for a file name");
    snprintf(s, len + 1, "%s%s%s", dir ? dir : "", dir ? "/" : "", name);
    p->path[p->n++] = s;
    return FSCI_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_base(const void *a, const void *b)
{
    return strcmp(base_name(*(char *const *)a), base_name(*(char *const *)b));
}

/* Every *.tif and *.tiff of a folder, sorted by name; hidden files (".x.tif",
 * macOS "._x.tif") and sub-folders are skipped. */
static int add_folder(plate *p, const char *dir)
{
    int st = FSCI_OK;
    plate names = {0};
    DIR *d = opendir(dir);
    FSCI_CHECK(d, FSCI_EIO, "%s: cannot read the folder: %s", dir, strerror(errno));
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' || !fsci__n2v2_is_tiff_path(e->d_name)) continue;
        FSCI_TRY(plate_add(&names, dir, e->d_name));
        if (is_dir(names.path[names.n - 1])) fsci_free(names.path[--names.n]);
    }
    FSCI_CHECK_GOTO(names.n > 0, FSCI_EINVAL, "%s: no .tif or .tiff files in the folder", dir);
    qsort(names.path, (size_t)names.n, sizeof *names.path, cmp_str);
    for (int64_t i = 0; i < names.n; i++) FSCI_TRY(plate_add(p, NULL, names.path[i]));
fail:
    closedir(d);
    plate_free(&names);
    return st;
}

/* The plate's files: ctx->paths, folders expanded. */
static int plate_list(const fsci_n2v2_opts *o, const fsci_ctx *ctx, plate *p)
{
    int st = FSCI_OK;
    char **byname = NULL;
    memset(p, 0, sizeof *p);
    const char *const *src = ctx->paths;
    const int nsrc = ctx->npaths;
    FSCI_CHECK(!o->input[0], FSCI_EINVAL, "--input %s and a list of inputs: give the inputs once", o->input);
    for (int k = 0; k < nsrc; k++) {
        if (is_dir(src[k])) {
            FSCI_TRY(add_folder(p, src[k]));
        } else {
            FSCI_CHECK_GOTO(fsci__n2v2_is_tiff_path(src[k]), FSCI_EINVAL,
                            "%s: not a TIFF (.tif, .tiff): several inputs are TIFF files or folders of them",
                            src[k]);
            FSCI_TRY(plate_add(p, NULL, src[k]));
        }
    }
    /* two inputs of the same name would write the same output */
    byname = fsci_malloc((size_t)p->n, sizeof *byname);
    FSCI_CHECK_GOTO(byname, FSCI_ENOMEM, "n2v2: out of memory for a list of %lld files", (long long)p->n);
    memcpy(byname, p->path, (size_t)p->n * sizeof *byname);
    qsort(byname, (size_t)p->n, sizeof *byname, cmp_base);
    for (int64_t i = 1; i < p->n; i++)
        FSCI_CHECK_GOTO(cmp_base(&byname[i - 1], &byname[i]) != 0, FSCI_EINVAL,
                        "%s and %s: the same name, they would write the same output file", byname[i - 1],
                        byname[i]);
    fsci_free(byname);
    return FSCI_OK;
fail:
    fsci_free(byname);
    plate_free(p);
    return st;
}

static int out_path(const fsci_ctx *ctx, const char *in, char *buf, size_t cap)
{
    const int n = snprintf(buf, cap, "%s/%s", ctx->output, base_name(in));
    FSCI_CHECK(n > 0 && (size_t)n < cap, FSCI_EINVAL, "-o %s: the output path for %s is too long",
               ctx->output, in);
    return FSCI_OK;
}

bool fsci__n2v2_plate_wanted(const fsci_ctx *ctx)
{
    return ctx && ctx->npaths > 0;
}

int fsci__n2v2_plate_check(const fsci_n2v2_opts *o, const fsci_ctx *ctx, bool denoise)
{
    int st = FSCI_OK;
    plate p = {0};
    const char *what = denoise ? "denoise" : "predict";
    FSCI_CHECK(ctx->output, FSCI_EINVAL,
               "%s of several files or a folder: -o OUTDIR is required (each output is OUTDIR/<input name>)",
               what);
    struct stat so;
    const bool exists = stat(ctx->output, &so) == 0;
    FSCI_CHECK(!exists || S_ISDIR(so.st_mode), FSCI_EINVAL,
               "-o %s: not a folder (several files or a folder write OUTDIR/<input name>)", ctx->output);
    FSCI_CHECK(exists || !(fsci__n2v2_is_tiff_path(ctx->output) || ends_with(ctx->output, ".npz") ||
                           ends_with(ctx->output, ".npy")),
               FSCI_EINVAL, "-o %s: names a file, but several files or a folder write a folder OUTDIR",
               ctx->output);
    FSCI_CHECK(!denoise || o->shared_model || !o->save_model[0], FSCI_EINVAL,
               "--save-model %s: one model per file (--shared-model off) gives no single model to save",
               o->save_model);
    FSCI_TRY(plate_list(o, ctx, &p));
    for (int64_t i = 0; i < p.n && exists; i++) {
        char out[4096];
        struct stat a, b;
        FSCI_TRY(out_path(ctx, p.path[i], out, sizeof out));
        FSCI_CHECK_GOTO(
            !(stat(p.path[i], &a) == 0 && stat(out, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino),
            FSCI_EINVAL, "-o %s: would overwrite the input %s", ctx->output, p.path[i]);
    }
fail:
    plate_free(&p);
    return st;
}

/* Every file's header (readable, a supported TIFF) and, where a model is
 * trained on it, its size against --patch: refused before any computing. */
static int preflight(const fsci_n2v2_opts *o, const plate *p, bool train_all, bool train_first)
{
    for (int64_t i = 0; i < p->n; i++) {
        fsci_tiff_reader *r = NULL;
        int st = fsci_tiff_open(p->path[i], &r);
        if (st) return st;
        const fsci_tiff_info *ti = fsci_tiff_reader_info(r);
        const int64_t h = ti->h, w = ti->w;
        fsci_tiff_close(&r);
        if (train_all || (train_first && i == 0))
            FSCI_CHECK(o->patch <= h && o->patch <= w, FSCI_EINVAL,
                       "--patch %lld: larger than the image %s (%lld x %lld)", (long long)o->patch,
                       p->path[i], (long long)h, (long long)w);
    }
    return FSCI_OK;
}

static int make_folder(const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return fsci_error_set(FSCI_EIO, __FILE__, __LINE__, __func__, "-o %s: cannot create the folder: %s",
                              dir, strerror(errno));
    FSCI_CHECK(is_dir(dir), FSCI_EIO, "-o %s: not a folder", dir);
    return FSCI_OK;
}

/* The current error message, naming `path` if it does not already. */
static void keep_message(char *dst, const char *path)
{
    const char *m = fsci_error_message();
    if (!m || !*m) m = "failed";
    if (strstr(m, path))
        snprintf(dst, MSG, "%s", m);
    else
        snprintf(dst, MSG, "%s: %s", path, m);
}

/* One file: train its own model and predict (model NULL), or predict with the
 * shared one; the output through the TIFF atomic writer, as a single-file run. */
static void run_file(const fsci_n2v2_opts *o, const char *path, const fsci_ctx *ctx, fsci__n2v2_model *model,
                     file_rec *rec)
{
    int st = FSCI_OK;
    fsci_n2v2_opts fo = *o;
    fsci__n2v2_src s = {0};
    fsci__n2v2_model own = {0};
    float *stack = NULL;
    char out[4096];
    snprintf(fo.input, sizeof fo.input, "%s", path);
    FSCI_TRY(out_path(ctx, path, out, sizeof out));
    fsci_ctx fc = *ctx; /* the file's output; its result lines are the plate's */
    fc.out = NULL;
    fc.output = out;
    fc.paths = NULL;
    fc.npaths = 0;
    FSCI_TRY(fsci__n2v2_src_open(&fo, NULL, &s));
    rec->z = s.z;
    rec->h = s.h;
    rec->w = s.w;
    if (!model) {
        FSCI_TRY(fsci__n2v2_do_train(&fo, &s, &fc, &own, &stack, &rec->train_s));
        rec->best_val = own.best_val;
        FSCI_TRY(fsci__n2v2_do_predict(&fo, &s, stack, &fc, &own, NULL, &rec->predict_s));
    } else {
        FSCI_TRY(fsci__n2v2_do_predict(&fo, &s, NULL, &fc, model, NULL, &rec->predict_s));
    }
fail:
    rec->status = st;
    if (st) keep_message(rec->msg, path);
    fsci_free(stack);
    fsci__n2v2_model_free(&own);
    fsci__n2v2_src_close(&s);
}

/* --shared-model on: rank 0 trains on the first file (and saves the model if
 * asked), then sends the weights to every rank. */
static int share_model(const fsci_n2v2_opts *o, const char *first, const fsci_ctx *ctx, fsci__n2v2_model *m,
                       double *seconds)
{
    int st = FSCI_OK;
    const int rank = fsci_mpi_rank(), size = fsci_mpi_size();
    share_head h = {0};
    int64_t *cnt = fsci_malloc(2 * (size_t)size, sizeof *cnt);
    FSCI_CHECK(cnt, FSCI_ENOMEM, "n2v2: out of memory");
    memset(cnt, 0, 2 * (size_t)size * sizeof *cnt);
    cnt[0] = sizeof h; /* rank 0's header to all: displacements (cnt + size) all 0 */
    if (rank == 0) {
        fsci_n2v2_opts fo = *o;
        fsci__n2v2_src s = {0};
        float *stack = NULL;
        snprintf(fo.input, sizeof fo.input, "%s", first);
        int r = fsci__n2v2_src_open(&fo, NULL, &s);
        if (!r) r = fsci__n2v2_do_train(&fo, &s, ctx, m, &stack, seconds);
        if (!r && o->save_model[0]) r = fsci__n2v2_model_save(m, o->save_model);
        fsci_free(stack);
        fsci__n2v2_src_close(&s);
        h.status = r;
        if (r) {
            keep_message(h.msg, first);
        } else {
            h.nw = fsci_n2v2_net_nweights(m->net);
            h.steps = m->steps;
            h.mean = m->mean;
            h.std = m->std;
            h.best_val = m->best_val;
        }
    }
    FSCI_TRY(fsci_mpi_allgather_bytes(&h, cnt, cnt + size));
    if (h.status) {
        st = fsci_error_set(h.status, __FILE__, __LINE__, __func__, "%s", h.msg);
        goto fail;
    }
    if (rank == 0) {
        for (int r = 1; r < size; r++)
            FSCI_TRY(fsci_mpi_send_f32(fsci_n2v2_net_weights(m->net), h.nw, r, WEIGHTS_TAG));
    } else {
        fsci_n2v2_arch a;
        FSCI_TRY(fsci__n2v2_arch_from(o, &a));
        FSCI_TRY(fsci_n2v2_net_create(&a, 0, &m->net));
        FSCI_CHECK_GOTO(fsci_n2v2_net_nweights(m->net) == h.nw, FSCI_EINVAL,
                        "n2v2: rank %d's network has %lld weights, rank 0's %lld", rank,
                        (long long)fsci_n2v2_net_nweights(m->net), (long long)h.nw);
        FSCI_TRY(fsci_mpi_recv_f32(fsci_n2v2_net_weights(m->net), h.nw, 0, WEIGHTS_TAG));
        m->steps = h.steps;
        m->mean = h.mean;
        m->std = h.std;
        m->best_val = h.best_val;
    }
fail:
    fsci_free(cnt);
    return st;
}

int fsci__n2v2_plate_run(const fsci_n2v2_opts *o, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink,
                         bool denoise)
{
    int st = FSCI_OK;
    plate p = {0};
    fsci__n2v2_model shared = {0};
    file_rec *rec = NULL;
    int64_t *cnt = NULL;
    const int rank = fsci_mpi_rank(), size = fsci_mpi_size();
    const bool one_model = !denoise || o->shared_model;
    const char *verb = denoise ? "denoised" : "predicted";
    double train_s = 0, predict_s = 0;
    FSCI_CHECK(!fsci_inputs_get(in, "stack"), FSCI_EINVAL, "n2v2: an array and a list of files: give one");
    FSCI_TRY(plate_list(o, ctx, &p));
    FSCI_TRY(preflight(o, &p, denoise && !o->shared_model, denoise && o->shared_model));
    FSCI_TRY(make_folder(ctx->output));
    const double t0 = fsci_clock();
    if (!denoise) FSCI_TRY(fsci__n2v2_model_load(o->model, &shared));
    if (denoise && o->shared_model) FSCI_TRY(share_model(o, p.path[0], ctx, &shared, &train_s));

    rec = fsci_malloc((size_t)size, sizeof *rec);
    cnt = fsci_malloc(2 * (size_t)size, sizeof *cnt);
    FSCI_CHECK_GOTO(rec && cnt, FSCI_ENOMEM, "n2v2: out of memory for %d ranks", size);
    for (int r = 0; r < size; r++) {
        cnt[r] = sizeof *rec;
        cnt[size + r] = (int64_t)r * (int64_t)sizeof *rec;
    }
    int64_t nfailed = 0;
    int first_status = FSCI_OK;
    char first_msg[MSG] = "";
    for (int64_t r0 = 0; r0 < p.n; r0 += size) {
        memset(rec, 0, (size_t)size * sizeof *rec);
        const int64_t i = r0 + rank;
        rec[rank].rank = rank;
        if (i < p.n) run_file(o, p.path[i], ctx, one_model ? &shared : NULL, &rec[rank]);
        FSCI_TRY(fsci_mpi_allgather_bytes(rec, cnt, cnt + size));
        for (int k = 0; k < size && r0 + k < p.n; k++) {
            const file_rec *f = &rec[k];
            char out[4096];
            if (f->status) { /* the other files go on: their outputs do not depend on this one */
                if (!nfailed++) {
                    first_status = f->status;
                    memcpy(first_msg, f->msg, MSG);
                }
                fsci_ctx_printf(ctx, "[%lld/%lld] %s: failed, no output: %s\n", (long long)(r0 + k + 1),
                                (long long)p.n, p.path[r0 + k], f->msg);
                continue;
            }
            train_s += f->train_s;
            predict_s += f->predict_s;
            snprintf(out, sizeof out, "%s/%s", ctx->output, base_name(p.path[r0 + k]));
            char rk[32] = "";
            if (size > 1) snprintf(rk, sizeof rk, " (rank %d)", f->rank);
            if (one_model)
                fsci_ctx_printf(ctx, "[%lld/%lld] %s -> %s: %lld x %lld x %lld, predicted in %.2f s%s\n",
                                (long long)(r0 + k + 1), (long long)p.n, p.path[r0 + k], out, (long long)f->z,
                                (long long)f->h, (long long)f->w, f->predict_s, rk);
            else
                fsci_ctx_printf(
                    ctx,
                    "[%lld/%lld] %s -> %s: %lld x %lld x %lld, trained in %.1f s (best validation "
                    "loss %.5f), predicted in %.2f s%s\n",
                    (long long)(r0 + k + 1), (long long)p.n, p.path[r0 + k], out, (long long)f->z,
                    (long long)f->h, (long long)f->w, f->train_s, f->best_val, f->predict_s, rk);
        }
    }
    if (nfailed == 1) {
        st = fsci_error_set(first_status, __FILE__, __LINE__, __func__, "%s", first_msg);
        goto fail;
    }
    if (nfailed > 1) {
        st = fsci_error_set(first_status, __FILE__, __LINE__, __func__,
                            "%s (and %lld more of %lld files failed)", first_msg, (long long)(nfailed - 1),
                            (long long)p.n);
        goto fail;
    }
    const double seconds = fsci_clock() - t0;
    char how[FSCI_PARAM_STRLEN + 16];
    snprintf(how, sizeof how, "%s",
             !denoise          ? o->model
             : o->shared_model ? "one model, trained on the first file"
                               : "one model per file");
    fsci_ctx_printf(ctx, "%s %lld files (%s) on %d rank%s in %.1f s into %s\n", verb, (long long)p.n, how,
                    size, size > 1 ? "s" : "", seconds, ctx->output);
    if (sink) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"files\": %lld, \"ranks\": %d, \"seconds\": %.6g, \"train_seconds\": %.6g, "
                 "\"predict_seconds\": %.6g}",
                 (long long)p.n, size, seconds, train_s, predict_s);
        FSCI_TRY(fsci_sink_set_summary(sink, json));
    }
fail:
    fsci_free(rec);
    fsci_free(cnt);
    fsci__n2v2_model_free(&shared);
    plate_free(&p);
    return st;
}
