/* The ptycho simulation: inputs, grouping, coordinates and the small members;
 * the passes that make the big ones are in simulate_out.c. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "simulate_impl.h"

/* ---- inputs ---- */

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Load a 2-D complex array from FILE.npy or member `key` of FILE.npz. */
static int load_complex(const char *path, const char *key, const char *what, fsci_array **out)
{
    int st = FSCI_OK;
    fsci_npz *z = NULL;
    fsci_array *a = NULL;
    if (ends_with(path, ".npz")) {
        FSCI_TRY(fsci_npz_open(path, &z));
        FSCI_CHECK_GOTO(fsci_npz_has(z, key), FSCI_EINVAL, "%s: %s has no member '%s'", what, path, key);
        FSCI_TRY(fsci_npz_read(z, key, &a));
    } else {
        FSCI_TRY(fsci_npy_read(path, &a));
    }
    *out = a;
    a = NULL;
fail:
    fsci_npz_close(&z);
    fsci_array_destroy(&a);
    return st;
}

/* A C-contiguous complex64 copy of a complex64/complex128 2-D view, checked finite. */
static int to_c64(const fsci_view *v, const char *what, fsci_array **out)
{
    *out = NULL;
    FSCI_CHECK(v->ndim == 2, FSCI_EINVAL, "%s: expected a 2-D array, got %d dimensions", what, v->ndim);
    FSCI_CHECK(v->dtype == FSCI_C64 || v->dtype == FSCI_C128, FSCI_EINVAL,
               "%s: dtype %s is not complex (complex64 or complex128 expected)", what,
               fsci_dtype_name(v->dtype));
    FSCI_CHECK(v->shape[0] >= 1 && v->shape[1] >= 1, FSCI_EINVAL, "%s: empty shape (%lld, %lld)", what,
               (long long)v->shape[0], (long long)v->shape[1]);
    fsci_array *a = NULL;
    int st = fsci_array_create(FSCI_C64, 2, v->shape, false, &a);
    if (st) return st;
    float *o = a->view.data;
    int64_t w = v->shape[1];
    for (int64_t r = 0; r < v->shape[0]; r++)
        for (int64_t c = 0; c < w; c++) {
            const char *src = (const char *)v->data + r * v->strides[0] + c * v->strides[1];
            double re, im;
            if (v->dtype == FSCI_C64) {
                const float *f = (const float *)(const void *)src;
                re = (double)f[0];
                im = (double)f[1];
            } else {
                const double *d = (const double *)(const void *)src;
                re = d[0];
                im = d[1];
            }
            if (!isfinite(re) || !isfinite(im) || fabs(re) > 1e30 || fabs(im) > 1e30) {
                fsci_array_destroy(&a);
                return fsci_error_set(FSCI_EINVAL, __FILE__, __LINE__, __func__,
                                      "%s: element (%lld, %lld) = %g%+gj is %s", what, (long long)r,
                                      (long long)c, re, im,
                                      isfinite(re) && isfinite(im) ? "beyond 1e30" : "not finite");
            }
            o[2 * (r * w + c)] = (float)re;
            o[2 * (r * w + c) + 1] = (float)im;
        }
    *out = a;
    return FSCI_OK;
}

static int get_object(const fsci_ptycho_opts *o, const fsci_ptycho_inputs *in, uint64_t seed,
                      fsci_array **out)
{
    if (in && in->object) return to_c64(in->object, "object", out);
    if (strcmp(o->object, "lines") == 0 || strcmp(o->object, "star") == 0) {
        int64_t m = o->object_size > 0 ? o->object_size : (int64_t)llround(3.5 * (double)o->N);
        return fsci_ptycho_object_builtin(o->object, m, seed, out);
    }
    int st = FSCI_OK;
    fsci_array *raw = NULL;
    FSCI_TRY(load_complex(o->object, "objectGuess", "object", &raw));
    FSCI_TRY(to_c64(&raw->view, o->object, out));
fail:
    fsci_array_destroy(&raw);
    return st;
}

static int get_probe(const fsci_ptycho_opts *o, const fsci_ptycho_inputs *in, fsci_array **out)
{
    int st = FSCI_OK;
    fsci_array *raw = NULL, *p = NULL;
    const char *what = in && in->probe ? "probe" : o->probe;
    if (in && in->probe) {
        FSCI_TRY(to_c64(in->probe, "probe", &p));
    } else if (strcmp(o->probe, "disk") == 0) {
        return fsci_ptycho_probe_disk(o->N, o->probe_scale, out);
    } else {
        FSCI_TRY(load_complex(o->probe, "probeGuess", "probe", &raw));
        FSCI_TRY(to_c64(&raw->view, o->probe, &p));
    }
    int64_t h = p->view.shape[0], w = p->view.shape[1];
    FSCI_CHECK_GOTO(h == o->N && w == o->N, FSCI_EINVAL,
                    "%s: probe shape (%lld, %lld) is not N x N = (%lld, %lld)", what, (long long)h,
                    (long long)w, (long long)o->N, (long long)o->N);
    *out = p;
    p = NULL;
fail:
    fsci_array_destroy(&p);
    fsci_array_destroy(&raw);
    return st;
}

static int read_coords(fsci_npz *z, const char *path, const char *key, fsci_array **out)
{
    int st = FSCI_OK;
    fsci_array *a = NULL;
    FSCI_CHECK(fsci_npz_has(z, key), FSCI_EINVAL, "positions: %s has no member '%s'", path, key);
    FSCI_TRY(fsci_npz_read(z, key, &a));
    const fsci_view *v = &a->view;
    FSCI_CHECK_GOTO(v->ndim == 1 && v->dtype == FSCI_F64, FSCI_EINVAL,
                    "positions: %s member '%s' is %s with %d dimensions; float64 1-D expected", path, key,
                    fsci_dtype_name(v->dtype), v->ndim);
    *out = a;
    return FSCI_OK;
fail:
    fsci_array_destroy(&a);
    return st;
}

/* Scan positions: given, loaded, or uniform in [N/2, W - N/2] x [N/2, H - N/2]. */
static int get_positions(const fsci_ptycho_opts *o, const fsci_ptycho_inputs *in, uint64_t seed, int64_t h,
                         int64_t w, double **xo, double **yo, int64_t *np)
{
    int st = FSCI_OK;
    double *x = NULL, *y = NULL;
    int64_t n = 0;
    fsci_npz *z = NULL;
    fsci_array *ax = NULL, *ay = NULL;
    const char *src = "positions";
    if (in && in->xcoords) {
        FSCI_CHECK(in->ycoords && in->npoints >= 1, FSCI_EINVAL, "positions: ycoords missing or npoints < 1");
        n = in->npoints;
        x = fsci_malloc((size_t)n, sizeof *x);
        y = fsci_malloc((size_t)n, sizeof *y);
        FSCI_CHECK_GOTO(x && y, FSCI_ENOMEM, "positions: out of memory");
        memcpy(x, in->xcoords, (size_t)n * sizeof *x);
        memcpy(y, in->ycoords, (size_t)n * sizeof *y);
    } else if (strcmp(o->positions, "random") == 0) {
        double b = 0.5 * (double)o->N;
        FSCI_CHECK(w > o->N && h > o->N, FSCI_EINVAL,
                   "positions: object (%lld, %lld) must be larger than N = %lld for random positions with a "
                   "buffer of N/2",
                   (long long)h, (long long)w, (long long)o->N);
        n = fsci__ptycho_random_count(o);
        x = fsci_malloc((size_t)n, sizeof *x);
        y = fsci_malloc((size_t)n, sizeof *y);
        FSCI_CHECK_GOTO(x && y, FSCI_ENOMEM, "positions: out of memory for %lld points", (long long)n);
        fsci_rng r;
        fsci_rng_init(&r, seed, FSCI_PTYCHO_STREAM_POSITIONS, 0, 0);
        for (int64_t i = 0; i < n; i++) {
            x[i] = b + ((double)w - 2 * b) * fsci_rng_uniform(&r);
            y[i] = b + ((double)h - 2 * b) * fsci_rng_uniform(&r);
        }
    } else {
        src = o->positions;
        FSCI_CHECK(ends_with(o->positions, ".npz"), FSCI_EINVAL,
                   "positions: '%s' is neither 'random' nor an .npz file with xcoords and ycoords",
                   o->positions);
        FSCI_TRY(fsci_npz_open(o->positions, &z));
        FSCI_TRY(read_coords(z, o->positions, "xcoords", &ax));
        FSCI_TRY(read_coords(z, o->positions, "ycoords", &ay));
        FSCI_CHECK_GOTO(ax->view.shape[0] == ay->view.shape[0], FSCI_EINVAL,
                        "positions: %s has %lld xcoords but %lld ycoords", o->positions,
                        (long long)ax->view.shape[0], (long long)ay->view.shape[0]);
        FSCI_CHECK_GOTO(ax->view.shape[0] >= o->gridsize * o->gridsize, FSCI_EINVAL,
                        "positions: %s has %lld scan positions, but --gridsize %lld needs at least %lld",
                        o->positions, (long long)ax->view.shape[0], (long long)o->gridsize,
                        (long long)(o->gridsize * o->gridsize));
        n = ax->view.shape[0];
        x = fsci_malloc((size_t)n, sizeof *x);
        y = fsci_malloc((size_t)n, sizeof *y);
        FSCI_CHECK_GOTO(x && y, FSCI_ENOMEM, "positions: out of memory");
        memcpy(x, ax->view.data, (size_t)n * sizeof *x);
        memcpy(y, ay->view.data, (size_t)n * sizeof *y);
    }
    for (int64_t i = 0; i < n; i++) {
        FSCI_CHECK_GOTO(isfinite(x[i]) && x[i] >= 0 && x[i] <= (double)(w - 1), FSCI_EINVAL,
                        "%s: xcoords[%lld] = %g is outside the object's columns [0, %lld]", src, (long long)i,
                        x[i], (long long)(w - 1));
        FSCI_CHECK_GOTO(isfinite(y[i]) && y[i] >= 0 && y[i] <= (double)(h - 1), FSCI_EINVAL,
                        "%s: ycoords[%lld] = %g is outside the object's rows [0, %lld]", src, (long long)i,
                        y[i], (long long)(h - 1));
    }
    *xo = x;
    *yo = y;
    *np = n;
    x = y = NULL;
fail:
    fsci_free(x);
    fsci_free(y);
    fsci_npz_close(&z);
    fsci_array_destroy(&ax);
    fsci_array_destroy(&ay);
    return st;
}

/* Stage times into the named profiling events (no-op unless profiling). */
static void profile_report(const fsci_ptycho_report *r, int64_t n, bool raw)
{
    fsci_event ev[7] = {-1, -1, -1, -1, -1, -1, -1}; /* found by name: registration is idempotent */
    static const char *names[7] = {"ptycho.inputs", "ptycho.group", "ptycho.scale", "ptycho.extract",
                                   "ptycho.fft",    "ptycho.noise", "ptycho.write"};
    for (int i = 0; i < 7; i++)
        if (fsci_profile_register(names[i], &ev[i]) != FSCI_OK) return;
    double pats = (double)(r->npatterns + (raw ? r->npoints : 0)), n2 = (double)(n * n);
    double out_bytes = (double)r->npatterns * n2 * (8 + 4 + 4) + (double)r->npoints * n2 * 8 +
                       (raw ? (double)r->npoints * n2 * 4 : 0);
    fsci_profile_add(ev[0], r->t_inputs, 1, 0, 0);
    fsci_profile_add(ev[1], r->t_group, 1, 0, 0);
    fsci_profile_add(ev[2], r->t_scale, 1, 0, 0);
    fsci_profile_add(ev[3], r->t_extract, (int64_t)pats, pats * n2 * 8, pats * n2 * 16);
    fsci_profile_add(ev[4], r->t_fft, (int64_t)pats, 0, pats * 5.0 * n2 * log2(n2));
    fsci_profile_add(ev[5], r->t_noise, (int64_t)pats, 0, 0);
    fsci_profile_add(ev[6], r->t_write, 1, out_bytes, 0);
}

int fsci__ptycho_validate(const fsci_ptycho_opts *o)
{
    FSCI_CHECK(o->N >= 4 && o->N <= 4096, FSCI_EINVAL, "--N: %lld is outside [4, 4096]", (long long)o->N);
    FSCI_CHECK(o->gridsize >= 1 && o->gridsize <= 16, FSCI_EINVAL, "--gridsize: %lld is outside [1, 16]",
               (long long)o->gridsize);
    FSCI_CHECK(o->K >= 1, FSCI_EINVAL, "--K: %lld must be at least 1", (long long)o->K);
    FSCI_CHECK(o->K >= o->gridsize * o->gridsize, FSCI_EINVAL,
               "--K: %lld is smaller than C = gridsize^2 = %lld (a group needs C distinct neighbours)",
               (long long)o->K, (long long)(o->gridsize * o->gridsize));
    FSCI_CHECK(isfinite(o->nphotons) && o->nphotons > 0 && o->nphotons <= 1e13, FSCI_EINVAL,
               "--nphotons: %g is outside (0, 1e13]", o->nphotons);
    FSCI_CHECK(o->n_images >= 0, FSCI_EINVAL, "--n-images: %lld is negative", (long long)o->n_images);
    FSCI_CHECK(o->n_groups >= 0, FSCI_EINVAL, "--n-groups: %lld is negative", (long long)o->n_groups);
    FSCI_CHECK(strcmp(o->layout, "channel") == 0 || strcmp(o->layout, "flat") == 0, FSCI_EINVAL,
               "--layout: '%s' is not channel or flat", o->layout);
    return FSCI_OK;
}

static void sim_free(sim *s)
{
    fsci_progress_destroy(&s->prog);
    fsci__ptycho_diff_destroy(&s->d);
    fsci_array_destroy(&s->obj);
    fsci_array_destroy(&s->probe);
    fsci_free(s->x);
    fsci_free(s->y);
    fsci_free(s->cx);
    fsci_free(s->cy);
    fsci_free(s->offs);
    fsci_free(s->rel);
    fsci_free(s->nnc);
    fsci_free(s->sumsq);
    fsci_free(s->counts);
    fsci_free(s->nn);
    fsci_free(s->diff);
    fsci_free(s->buf);
    fsci_free(s->ready);
    fsci_free(s->scan_index);
}

/* Object, probe and positions, all checked before anything is written. */
static int sim_inputs(sim *s)
{
    int st = FSCI_OK;
    const fsci_ptycho_opts *o = s->o;
    FSCI_TRY(get_object(o, s->in, s->seed, &s->obj));
    FSCI_TRY(get_probe(o, s->in, &s->probe));
    s->H = s->obj->view.shape[0];
    s->W = s->obj->view.shape[1];
    FSCI_TRY(get_positions(o, s->in, s->seed, s->H, s->W, &s->x, &s->y, &s->np));
    /* --n-images counts random positions; given positions fix their own count */
    bool given = (s->in && s->in->xcoords) || strcmp(o->positions, "random") != 0;
    FSCI_CHECK_GOTO(
        !given || o->n_images == 0 || o->n_images == s->np, FSCI_EINVAL,
        "--n-images: %lld conflicts with the %lld positions of %s (omit --n-images to use them all)",
        (long long)o->n_images, (long long)s->np,
        s->in && s->in->xcoords ? "the xcoords array" : o->positions);
fail:
    return st;
}

/* Grouping; K at or above the number of positions is clamped as PtychoPINN
 * clamps it (every position in each pool), with a warning. */
static int sim_group(sim *s)
{
    int st = FSCI_OK;
    const fsci_ptycho_opts *o = s->o;
    s->K_used = s->C > 1 && o->K > s->np ? s->np : o->K;
    if (s->K_used != o->K)
        fsci_warn("ptycho: --K %lld is more than the %lld positions: each neighbour pool is all %lld "
                  "positions (PtychoPINN clamps the same way); the metadata records K = %lld",
                  (long long)o->K, (long long)s->np, (long long)s->np, (long long)s->K_used);
    fsci_ptycho_group_opts go = {.nsamples = o->n_groups > 0 ? o->n_groups : s->np,
                                 .K = (int)s->K_used,
                                 .gridsize = (int)o->gridsize,
                                 .seed = s->seed,
                                 .oversampling = o->oversampling,
                                 .pool_size = (int)o->pool_size,
                                 .nthreads = s->nt};
    FSCI_TRY(fsci_ptycho_group(s->x, s->y, s->np, &go, &s->nn, NULL, &s->B));
    s->P = s->B * s->C;
    FSCI_CHECK_GOTO(
        s->P <= FSCI__PTYCHO_MAX_PATTERNS && s->np <= FSCI__PTYCHO_MAX_PATTERNS, FSCI_EINVAL,
        "ptycho: %lld patterns exceed the limit of 2^32 (noise streams are keyed by a 32-bit index)",
        (long long)(s->P > s->np ? s->P : s->np));
fail:
    return st;
}

/* offsets = group mean, relative = -(coords - mean), sampling centre = offsets + relative */
static int sim_coords(sim *s)
{
    int st = FSCI_OK;
    const int64_t B = s->B, C = s->C, P = s->P, pmax = P > s->np ? P : s->np;
    const double *x = s->x, *y = s->y;
    const int32_t *nn = s->nn;
    s->offs = fsci_malloc((size_t)(2 * B), sizeof *s->offs);
    s->rel = fsci_malloc((size_t)(2 * P), sizeof *s->rel);
    s->nnc = fsci_malloc((size_t)(2 * P), sizeof *s->nnc);
    s->cx = fsci_malloc((size_t)P, sizeof *s->cx);
    s->cy = fsci_malloc((size_t)P, sizeof *s->cy);
    s->sumsq = fsci_malloc((size_t)pmax, sizeof *s->sumsq);
    s->counts = fsci_malloc((size_t)pmax, sizeof *s->counts);
    FSCI_CHECK_GOTO(s->offs && s->rel && s->nnc && s->cx && s->cy && s->sumsq && s->counts, FSCI_ENOMEM,
                    "ptycho: out of memory for the coordinates of %lld patterns", (long long)P);
    double *offs = s->offs, *rel = s->rel, *nnc = s->nnc, *cx = s->cx, *cy = s->cy;
    for (int64_t b = 0; b < B; b++) {
        double mx = 0, my = 0;
        for (int64_t c = 0; c < C; c++) {
            mx += x[nn[b * C + c]];
            my += y[nn[b * C + c]];
        }
        mx /= (double)C;
        my /= (double)C;
        offs[2 * b] = mx;
        offs[2 * b + 1] = my;
        for (int64_t c = 0; c < C; c++) {
            double px = x[nn[b * C + c]], py = y[nn[b * C + c]];
            /* (B, 1, 2, C) layout: [b][0][axis][c] */
            nnc[b * 2 * C + c] = px;
            nnc[b * 2 * C + C + c] = py;
            rel[b * 2 * C + c] = -(px - mx);
            rel[b * 2 * C + C + c] = -(py - my);
            cx[b * C + c] = mx + rel[b * 2 * C + c];
            cy[b * C + c] = my + rel[b * 2 * C + C + c];
        }
    }
fail:
    return st;
}

/* raw diff3d: one pattern per scan position, centred on it */
/* Coordinates, inputs, the ground truth and the metadata. */
static int sim_write_rest(sim *s, fsci_sink *sink)
{
    int st = FSCI_OK;
    const fsci_ptycho_opts *o = s->o;
    const fsci_ptycho_inputs *in = s->in;
    int64_t B = s->B, C = s->C, np = s->np;
    FSCI_TRY(fsci__ptycho_sink_array(sink, "coords_offsets", FSCI_F64, 4, (int64_t[4]){B, 1, 2, 1}, s->offs));
    FSCI_TRY(fsci__ptycho_sink_array(sink, "coords_relative", FSCI_F64, 4, (int64_t[4]){B, 1, 2, C}, s->rel));
    FSCI_TRY(fsci__ptycho_sink_array(sink, "coords_nn", FSCI_F64, 4, (int64_t[4]){B, 1, 2, C}, s->nnc));
    FSCI_TRY(fsci__ptycho_sink_array(sink, "nn_indices", FSCI_I32, 2, (int64_t[2]){B, C}, s->nn));
    FSCI_TRY(fsci__ptycho_sink_array(sink, "xcoords", FSCI_F64, 1, &np, s->x));
    FSCI_TRY(fsci__ptycho_sink_array(sink, "ycoords", FSCI_F64, 1, &np, s->y));
    FSCI_TRY(fsci__ptycho_sink_array(sink, "xcoords_start", FSCI_F64, 1, &np, s->x));
    FSCI_TRY(fsci__ptycho_sink_array(sink, "ycoords_start", FSCI_F64, 1, &np, s->y));
    s->scan_index = fsci_calloc((size_t)np, sizeof *s->scan_index);
    FSCI_CHECK_GOTO(s->scan_index, FSCI_ENOMEM, "ptycho: out of memory");
    FSCI_TRY(fsci__ptycho_sink_array(sink, "scan_index", FSCI_I64, 1, &np, s->scan_index));
    FSCI_TRY(fsci_sink_add(sink, "probeGuess", &s->probe->view));
    FSCI_TRY(fsci_sink_add(sink, "objectGuess", &s->obj->view));
    FSCI_TRY(fsci__ptycho_sim_ground_truth(s, sink));
    fsci__ptycho_meta md = {.o = o,
                            .in = in,
                            .seed = s->seed,
                            .K_used = s->K_used,
                            .np = np,
                            .B = B,
                            .H = s->H,
                            .W = s->W,
                            .r = &s->r,
                            .timestamp = s->timestamp};
    FSCI_TRY(fsci__ptycho_metadata_add(sink, &md));
fail:
    return st;
}

int fsci_ptycho_simulate(const fsci_ptycho_opts *o, const fsci_ptycho_inputs *in, uint64_t seed, int nthreads,
                         fsci_sink *sink, fsci_ptycho_report *rep)
{
    int st = FSCI_OK;
    sim s = {0};
    FSCI_CHECK(o && sink, FSCI_EINVAL, "ptycho: NULL options or sink");
    FSCI_TRY(fsci__ptycho_validate(o));
    /* refuse what cannot fit in memory before computing anything */
    FSCI_TRY(fsci__ptycho_check_memory(o, in, false));
    double t_start = fsci_clock(), t;
    s.o = o;
    s.in = in;
    s.seed = seed;
    s.nt = fsci_parallel_resolve(nthreads);
    s.channel = strcmp(o->layout, "channel") == 0;
    s.n = o->N;
    s.n2 = s.n * s.n;
    s.C = o->gridsize * o->gridsize;
    FSCI_TRY(fsci__ptycho_timestamp(s.timestamp));

    FSCI_TRY(sim_inputs(&s));
    s.r.npoints = s.np;
    s.r.t_inputs = fsci_clock() - t_start;
    t = fsci_clock();
    FSCI_TRY(sim_group(&s));
    s.r.t_group = fsci_clock() - t;
    s.r.ngroups = s.B;
    s.r.npatterns = s.P;
    FSCI_TRY(sim_coords(&s));

    FSCI_TRY(fsci_progress_create("ptycho", s.P + (o->raw ? s.np : 0), "patterns", &s.prog));
    /* one FFT plan and one set of per-thread buffers for both passes */
    FSCI_TRY(fsci__ptycho_diff_create(s.n, &s.probe->view, 1.0, o->noise, seed, FSCI_PTYCHO_STREAM_NOISE_RAW,
                                      s.nt, &s.d));
    if (o->raw) FSCI_TRY(fsci__ptycho_sim_raw(&s, sink));
    FSCI_TRY(fsci__ptycho_sim_grouped(&s, sink));
    t = fsci_clock();
    FSCI_TRY(sim_write_rest(&s, sink));
    s.r.t_write += fsci_clock() - t;
    s.r.t_total = fsci_clock() - t_start;
    profile_report(&s.r, s.n, o->raw);
    if (rep) *rep = s.r;
fail:
    sim_free(&s);
    return st;
}
