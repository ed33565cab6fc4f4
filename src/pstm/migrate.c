/* pstm: the migration driver. The output grid is cut into slabs (bands of
 * columns written in order) and each slab into tiles (a few columns x all tau,
 * owned by one thread). The traces of a tile are those whose midpoints lie
 * within aperture + the tile's half-diagonal of its centre, found through a
 * k-d tree of the midpoints built once, in increasing trace order: every
 * output sample sums its traces in the same order whatever the threads, ranks
 * or memory budget, so the image is bit-identical across them. Input traces
 * are prepared once (pre-filter, integration) and kept when they fit the
 * memory budget; otherwise each slab streams the traces it needs in chunks.
 * Under MPI, slab s belongs to rank s mod size; rank 0 receives the others'
 * slabs in order and emits every slab. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fastsci/core/mpi.h"
#include "pstm/pstm_run.h"

typedef struct tile {
    int64_t ix0, ix1, iy0, iy1; /* columns [ix0, ix1) x [iy0, iy1) */
    int64_t *tr;                /* its traces, increasing */
    int64_t ntr, pos;           /* count; next to process (chunked input) */
    double pairs;
} tile;

typedef struct job {
    const fsci_pstm_opts *o;
    fsci__pstm_input *in;
    const fsci__pstm_grid *g;
    fsci__pstm_kopt ko;
    fsci__pstm_prep *prep;
    int noff, nthreads;
    int32_t *cls; /* offset class of every trace, -1: none */
    fsci_kdtree *kd;
    int64_t tw, th;    /* tile width and height in columns */
    int64_t slab_cols; /* columns per slab (whole rows in 3-D) */
    int64_t nslab;
    int64_t cap;   /* prepared traces that fit the memory budget */
    bool resident; /* every prepared trace in cache */
    float *cache;  /* [ntr or cap][ns] prepared traces */
    float *raw;    /* chunked: raw traces read */
    int64_t *need; /* chunked: the slab's traces, increasing */
    int64_t nneed;
    const int64_t *chunk; /* chunked: need + a */
    int64_t nchunk;
    fsci_progress *bar;
    double *est; /* candidate pairs of each slab (progress) */
} job;

/* --profile: the preparation of the input traces and the kernel (pair loops) */
static fsci_event ev_prepare = -1, ev_kernel = -1;

static int setup_classes(job *J)
{
    const fsci_pstm_opts *o = J->o;
    const fsci__pstm_input *in = J->in;
    J->cls = fsci_malloc((size_t)in->ntr, sizeof(int32_t));
    FSCI_CHECK(J->cls, FSCI_ENOMEM, "pstm: out of memory for %lld traces", (long long)in->ntr);
    for (int64_t i = 0; i < in->ntr; i++) {
        if (!o->offset_classes.n) {
            J->cls[i] = 0;
            continue;
        }
        const double h = hypot(in->gx[i] - in->sx[i], in->gy[i] - in->sy[i]);
        const double c = floor((h - o->offset_classes.v[0]) / o->offset_classes.v[1]);
        J->cls[i] = c >= 0 && c < J->noff ? (int32_t)c : -1;
    }
    return FSCI_OK;
}

/* Slab s's tiles (at most ntile). */
static int64_t slab_tiles(const job *J, int64_t s, tile *T)
{
    const fsci__pstm_grid *g = J->g;
    int64_t n = 0;
    if (g->ny == 1) { /* 2-D: slab_cols columns of row 0 */
        const int64_t c0 = s * J->slab_cols, c1 = c0 + J->slab_cols < g->nx ? c0 + J->slab_cols : g->nx;
        for (int64_t a = c0; a < c1; a += J->tw)
            T[n++] = (tile){.ix0 = a, .ix1 = a + J->tw < c1 ? a + J->tw : c1, .iy0 = 0, .iy1 = 1};
    } else { /* 3-D: rows [s th, (s + 1) th), tiles of tw columns */
        const int64_t r0 = s * J->th, r1 = r0 + J->th < g->ny ? r0 + J->th : g->ny;
        for (int64_t a = 0; a < g->nx; a += J->tw)
            T[n++] = (tile){.ix0 = a, .ix1 = a + J->tw < g->nx ? a + J->tw : g->nx, .iy0 = r0, .iy1 = r1};
    }
    return n;
}

/* First column of slab s (grid order) and its column count. */
static void slab_span(const job *J, int64_t s, int64_t *c0, int64_t *nc)
{
    const fsci__pstm_grid *g = J->g;
    if (g->ny == 1) {
        *c0 = s * J->slab_cols;
        *nc = (*c0 + J->slab_cols < g->nx ? J->slab_cols : g->nx - *c0);
    } else {
        const int64_t r0 = s * J->th, r1 = r0 + J->th < g->ny ? r0 + J->th : g->ny;
        *c0 = r0 * g->nx;
        *nc = (r1 - r0) * g->nx;
    }
}

/* The traces of tile T with an offset class, increasing. */
static int tile_traces(const job *J, tile *T)
{
    int st = FSCI_OK;
    double ax, ay, bx, by;
    fsci__pstm_grid_pos(J->g, T->ix0, T->iy0, &ax, &ay);
    fsci__pstm_grid_pos(J->g, T->ix1 - 1, T->iy1 - 1, &bx, &by);
    const double cx = 0.5 * (ax + bx), cy = 0.5 * (ay + by);
    const double r = (J->ko.aperture + 0.5 * hypot(bx - ax, by - ay)) * (1 + 1e-9) + 1e-6;
    int64_t *idx = NULL, n = 0, m = 0;
    FSCI_TRY(fsci_kdtree_radius(J->kd, cx, cy, r, &idx, NULL, &n));
    for (int64_t i = 0; i < n; i++)
        if (J->cls[idx[i]] >= 0) idx[m++] = idx[i];
    if (m > 1) qsort(idx, (size_t)m, sizeof *idx, fsci__pstm_cmp_i64);
    T->tr = idx;
    T->ntr = m;
    T->pos = 0;
    T->pairs = 0;
fail:
    return st;
}

/* The prepared trace t: in the cache (resident) or in the current chunk. */
static const float *prepared(const job *J, int64_t t)
{
    if (J->resident) return J->cache + t * J->in->ns;
    const int64_t *p = bsearch(&t, J->chunk, (size_t)J->nchunk, sizeof t, fsci__pstm_cmp_i64);
    return p ? J->cache + (p - J->chunk) * J->in->ns : NULL;
}

/* Tile T's pairs with its traces up to (and including) trace `last`. */
static int run_tile(job *J, tile *T, int64_t slab_c0, float *img, int64_t last)
{
    int st = FSCI_OK;
    const fsci__pstm_grid *g = J->g;
    const fsci__pstm_input *in = J->in;
    const int64_t ncx = T->ix1 - T->ix0, ncol = ncx * (T->iy1 - T->iy0), nt = g->nt;
    fsci__pstm_col *cols = fsci_calloc((size_t)ncol, sizeof *cols);
    int64_t *lc = fsci_malloc((size_t)ncol, sizeof *lc);
    FSCI_CHECK_GOTO(cols && lc, FSCI_ENOMEM, "pstm: out of memory for a tile of %lld columns",
                    (long long)ncol);
    for (int64_t c = 0; c < ncol; c++) {
        const int64_t ix = T->ix0 + c % ncx, iy = T->iy0 + c / ncx, gc = iy * g->nx + ix;
        double ox, oy;
        fsci__pstm_grid_pos(g, ix, iy, &ox, &oy);
        FSCI_TRY(fsci__pstm_col_init(&cols[c], &J->ko, ox, oy, g->vel + gc * g->vstride, nt, g->dt));
        lc[c] = gc - slab_c0;
    }
    for (; T->pos < T->ntr && T->tr[T->pos] <= last; T->pos++) {
        const int64_t t = T->tr[T->pos];
        const float *q = prepared(J, t);
        FSCI_CHECK_GOTO(q, FSCI_EINTERNAL, "pstm: trace %lld of a tile is not in the chunk read",
                        (long long)t);
        const int64_t cl = J->cls[t];
        int64_t hint[3] = {-1, -1, -1}; /* neighbouring columns: neighbouring bounds */
        for (int64_t c = 0; c < ncol; c++)
            T->pairs +=
                (double)fsci__pstm_pair_mig_hint(&J->ko, J->prep, &cols[c], in->sx[t], in->sy[t], in->gx[t],
                                                 in->gy[t], q, img + (lc[c] * J->noff + cl) * nt, hint);
    }
fail:
    for (int64_t c = 0; cols && c < ncol; c++) fsci__pstm_col_free(&cols[c]);
    fsci_free(cols);
    fsci_free(lc);
    return st;
}

/* Prepare traces idx[0..n) (read into raw) into out, in parallel. */
static int prepare_traces(job *J, const int64_t *idx, int64_t n, float *raw, float *out)
{
    int st = FSCI_OK;
    const int64_t ns = J->in->ns;
    const double t0 = fsci_profile_begin(ev_prepare);
    FSCI_TRY(fsci__pstm_input_read(J->in, idx, n, raw));
    int bad = FSCI_OK;
#pragma omp parallel for num_threads(J->nthreads) schedule(static) reduction(min : bad)
    for (int64_t i = 0; i < n; i++) {
        int r = fsci__pstm_prepare(J->prep, raw + i * ns, out + i * ns);
        if (r < bad) bad = r;
    }
    st = bad;
    /* read + write of each trace; a forward and an inverse complex FFT of about 2 ns points */
    fsci_profile_end(ev_prepare, t0, 8.0 * (double)(n * ns),
                     (double)n * 2 * 5 * 2.0 * (double)ns * log2(2.0 * (double)ns));
fail:
    return st;
}

/* Every tile of a slab against the traces <= last (parallel over tiles). */
static int run_tiles(job *J, tile *T, int64_t nt_, int64_t c0, float *img, int64_t last)
{
    int bad = FSCI_OK;
    double before = 0;
    for (int64_t i = 0; i < nt_; i++) before += T[i].pairs;
    const double t0 = fsci_profile_begin(ev_kernel);
#pragma omp parallel for num_threads(J->nthreads) schedule(dynamic, 1) reduction(min : bad)
    for (int64_t i = 0; i < nt_; i++) {
        int r = run_tile(J, &T[i], c0, img, last);
        if (r < bad) bad = r;
    }
    double after = 0;
    for (int64_t i = 0; i < nt_; i++) after += T[i].pairs;
    fsci_profile_end(ev_kernel, t0, 0,
                     (after - before) * (J->o->aa ? FSCI__PSTM_FLOPS_PAIR_AA : FSCI__PSTM_FLOPS_PAIR));
    return bad;
}

/* One slab into img (zeroed here). */
static int run_slab(job *J, int64_t s, tile *T, float *img)
{
    int st = FSCI_OK;
    int64_t c0, nc;
    slab_span(J, s, &c0, &nc);
    memset(img, 0, (size_t)(nc * J->noff * J->g->nt) * sizeof(float));
    const int64_t n = slab_tiles(J, s, T);
    int bad = FSCI_OK;
#pragma omp parallel for num_threads(J->nthreads) schedule(dynamic, 1) reduction(min : bad)
    for (int64_t i = 0; i < n; i++) {
        int r = tile_traces(J, &T[i]);
        if (r < bad) bad = r;
    }
    FSCI_TRY(bad);
    if (J->resident) {
        FSCI_TRY(run_tiles(J, T, n, c0, img, INT64_MAX));
    } else {
        /* the slab's traces, increasing, in chunks that fit the budget */
        int64_t tot = 0;
        for (int64_t i = 0; i < n; i++) tot += T[i].ntr;
        fsci_free(J->need);
        J->need = fsci_malloc((size_t)(tot ? tot : 1), sizeof(int64_t));
        FSCI_CHECK_GOTO(J->need, FSCI_ENOMEM, "pstm: out of memory for the list of %lld traces",
                        (long long)tot);
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < T[i].ntr; k++) J->need[m++] = T[i].tr[k];
        qsort(J->need, (size_t)m, sizeof(int64_t), fsci__pstm_cmp_i64);
        int64_t u = 0;
        for (int64_t k = 0; k < m; k++)
            if (u == 0 || J->need[k] != J->need[u - 1]) J->need[u++] = J->need[k];
        for (int64_t a = 0; a < u; a += J->cap) {
            J->chunk = J->need + a;
            J->nchunk = a + J->cap < u ? J->cap : u - a;
            FSCI_TRY(prepare_traces(J, J->chunk, J->nchunk, J->raw, J->cache));
            FSCI_TRY(run_tiles(J, T, n, c0, img, J->chunk[J->nchunk - 1]));
        }
    }
    if (J->bar) fsci_progress_add(J->bar, (int64_t)J->est[s]);
fail:
    return st;
}

/* Candidate pairs (traces within reach x bins x samples) of every slab: the
 * progress bar's units, an upper bound of the pairs the cone and the trace
 * ends leave to evaluate. */
static int estimate(job *J, tile *T)
{
    int st = FSCI_OK;
    J->est = fsci_calloc((size_t)J->nslab, sizeof(double));
    FSCI_CHECK(J->est, FSCI_ENOMEM, "pstm: out of memory");
    for (int64_t s = 0; s < J->nslab; s++) {
        const int64_t n = slab_tiles(J, s, T);
        int bad = FSCI_OK;
        double e = 0;
#pragma omp parallel for num_threads(J->nthreads) schedule(dynamic, 1) reduction(min : bad) reduction(+ : e)
        for (int64_t i = 0; i < n; i++) {
            int r = tile_traces(J, &T[i]);
            if (r < bad) bad = r;
            e +=
                (double)T[i].ntr * (double)((T[i].ix1 - T[i].ix0) * (T[i].iy1 - T[i].iy0)) * (double)J->g->nt;
            fsci_free(T[i].tr);
            T[i].tr = NULL;
        }
        FSCI_TRY(bad);
        J->est[s] = e;
    }
fail:
    return st;
}

static int job_init(job *J, const fsci_pstm_opts *o, fsci__pstm_input *in, const fsci_ctx *ctx,
                    const fsci__pstm_grid *g, int noff)
{
    int st = FSCI_OK;
    double *mx = NULL, *my = NULL;
    if (fsci_profile_register("pstm.prepare", &ev_prepare) < 0 ||
        fsci_profile_register("pstm.kernel", &ev_kernel) < 0)
        fsci_error_clear(); /* profiling is optional */
    J->o = o;
    J->in = in;
    J->g = g;
    J->noff = noff;
    J->nthreads = fsci_parallel_resolve(ctx->threads);
    const int dim = fsci__pstm_dim(o, in);
    J->ko = (fsci__pstm_kopt){.dim = dim,
                              .aa = o->aa,
                              .aa_factor = o->aa_factor,
                              .aa_dx = dim == 3 ? 0.5 * (g->dx + g->dy) : g->dx,
                              .aperture = o->aperture,
                              .angle_deg = o->angle,
                              .taper = o->taper,
                              .weights = o->weights};
    FSCI_TRY(fsci__pstm_prep_create(&J->ko, in->ns, in->dt, in->t0, &J->prep));
    FSCI_TRY(setup_classes(J));
    mx = fsci_malloc((size_t)in->ntr, sizeof *mx);
    my = fsci_malloc((size_t)in->ntr, sizeof *my);
    FSCI_CHECK_GOTO(mx && my, FSCI_ENOMEM, "pstm: out of memory for %lld midpoints", (long long)in->ntr);
    for (int64_t i = 0; i < in->ntr; i++) {
        mx[i] = 0.5 * (in->sx[i] + in->gx[i]);
        my[i] = 0.5 * (in->sy[i] + in->gy[i]);
    }
    FSCI_TRY(fsci_kdtree_create(mx, my, in->ntr, &J->kd));
    /* tiles: 16 columns in 2-D (64 kB of image at 1000 samples), 8 x 8 in 3-D */
    J->tw = o->tile ? o->tile : g->ny == 1 ? 16 : 8;
    J->th = g->ny == 1 ? 1 : J->tw;
    /* 2-D slabs: enough tiles to keep the threads busy (each slab ends in a
     * barrier) and, under MPI, few enough that the slabs deal out evenly over
     * the ranks (about 16 per rank) */
    const int64_t ntile = (g->nx + J->tw - 1) / J->tw, size = fsci_mpi_size();
    int64_t per = 8 > 4 * J->nthreads ? 8 : 4 * J->nthreads; /* one rank: 4 tiles a thread or more */
    if (size > 1) {
        per = (ntile + 16 * size - 1) / (16 * size);
        per = per < 8 ? per : 8;
        per = per > J->nthreads ? per : J->nthreads;
    }
    J->slab_cols = g->ny == 1 ? J->tw * per : g->nx * J->th;
    J->nslab = g->ny == 1 ? (g->nx + J->slab_cols - 1) / J->slab_cols : (g->ny + J->th - 1) / J->th;
    const double tr_bytes = (double)in->ns * sizeof(float);
    J->cap = (int64_t)fmax(1, floor(o->memory * 1e6 / tr_bytes));
    J->resident = J->cap >= in->ntr;
    if (J->resident) J->cap = in->ntr;
    const int64_t ncache = J->cap, nraw = J->resident ? (in->ntr < 4096 ? in->ntr : 4096) : J->cap;
    J->cache = fsci_malloc((size_t)(ncache * in->ns), sizeof(float));
    J->raw = fsci_malloc((size_t)(nraw * in->ns), sizeof(float));
    FSCI_CHECK_GOTO(J->cache && J->raw, FSCI_ENOMEM,
                    "pstm: out of memory for %lld prepared traces (--memory %g MB)", (long long)ncache,
                    o->memory);
    if (J->resident) {
        /* under MPI each rank prepares a block of the traces and the blocks are
         * exchanged (the same bytes as preparing all: the work is per trace) */
        const int nrank = (int)size, rank = fsci_mpi_rank();
        const bool share = nrank > 1 && (double)in->ntr * (double)in->ns * 4 < 2e9;
        int64_t *idx = fsci_malloc((size_t)nraw + 2 * (size_t)nrank, sizeof *idx);
        FSCI_CHECK_GOTO(idx, FSCI_ENOMEM, "pstm: out of memory");
        int64_t *cnt = idx + nraw, *dsp = cnt + nrank;
        int64_t b0 = 0, b1 = in->ntr;
        if (share) {
            for (int r = 0; r < nrank; r++) {
                int64_t a0, a1;
                fsci_parallel_range(in->ntr, nrank, r, &a0, &a1);
                cnt[r] = (a1 - a0) * in->ns * (int64_t)sizeof(float);
                dsp[r] = a0 * in->ns * (int64_t)sizeof(float);
                if (r == rank) b0 = a0, b1 = a1;
            }
        }
        for (int64_t a = b0; a < b1 && !st; a += nraw) {
            const int64_t n = a + nraw < b1 ? nraw : b1 - a;
            for (int64_t i = 0; i < n; i++) idx[i] = a + i;
            st = prepare_traces(J, idx, n, J->raw, J->cache + a * in->ns);
        }
        if (!st && share) st = fsci_mpi_allgather_bytes(J->cache, cnt, dsp);
        fsci_free(idx);
        FSCI_TRY(st);
    }
fail:
    fsci_free(mx);
    fsci_free(my);
    return st;
}

static void job_free(job *J)
{
    fsci__pstm_prep_destroy(&J->prep);
    fsci_kdtree_destroy(&J->kd);
    fsci_free(J->cls);
    fsci_free(J->cache);
    fsci_free(J->raw);
    fsci_free(J->need);
    fsci_free(J->est);
    fsci_progress_destroy(&J->bar);
}

int fsci__pstm_migrate(const fsci_pstm_opts *o, fsci__pstm_input *in, const fsci_ctx *ctx,
                       const fsci__pstm_grid *g, int noff, fsci__pstm_emit emit, void *user,
                       fsci_pstm_stats *stats)
{
    int st = FSCI_OK;
    job J = {0};
    tile *T = NULL;
    float *img = NULL;
    const int rank = fsci_mpi_rank(), size = fsci_mpi_size();
    fsci_mpi_request *req[2] = {NULL, NULL};
    const double t0 = fsci_clock();
    FSCI_TRY(job_init(&J, o, in, ctx, g, noff));
    const int64_t maxt = g->ny == 1 ? (J.slab_cols + J.tw - 1) / J.tw : (g->nx + J.tw - 1) / J.tw;
    const int64_t maxc = g->ny == 1 ? J.slab_cols : g->nx * J.th;
    T = fsci_calloc((size_t)maxt, sizeof *T);
    /* other ranks: two slab buffers, one computed while the other is sent */
    const int nbuf = rank == 0 ? 1 : 2;
    img = fsci_malloc((size_t)(nbuf * maxc * noff * g->nt), sizeof(float));
    FSCI_CHECK_GOTO(T && img, FSCI_ENOMEM, "pstm: out of memory for a slab of %lld columns", (long long)maxc);
    if (ctx->progress && !ctx->quiet && rank == 0) {
        FSCI_TRY(estimate(&J, T));
        double tot = 0;
        for (int64_t s = 0; s < J.nslab; s++) tot += J.est[s];
        FSCI_TRY(fsci_progress_create("pstm migrate", (int64_t)tot, "pairs", &J.bar));
    }
    double pairs = 0;
    int64_t mine = 0;
    for (int64_t s = 0; s < J.nslab; s++) {
        int64_t c0, nc;
        slab_span(&J, s, &c0, &nc);
        const int owner = (int)(s % size);
        if (owner == rank) {
            const int b = (int)(mine++ % nbuf);
            float *buf = img + (int64_t)b * maxc * noff * g->nt;
            FSCI_TRY(fsci_mpi_wait(&req[b])); /* its previous slab has left */
            st = run_slab(&J, s, T, buf);
            for (int64_t i = 0; i < maxt; i++) {
                pairs += T[i].pairs;
                fsci_free(T[i].tr);
                T[i] = (tile){0};
            }
            FSCI_TRY(st);
            if (rank != 0) {
                const int64_t n = nc * noff * g->nt;
                if (n < INT32_MAX)
                    FSCI_TRY(fsci_mpi_isend_f32(buf, n, 0, (int)s, &req[b]));
                else
                    FSCI_TRY(fsci_mpi_send_f32(buf, n, 0, (int)s));
            }
        } else if (rank == 0) {
            FSCI_TRY(fsci_mpi_recv_f32(img, nc * noff * g->nt, owner, (int)s));
            if (J.bar) fsci_progress_add(J.bar, (int64_t)J.est[s]);
        }
        if (rank == 0 && emit) FSCI_TRY(emit(user, c0, c0 + nc, img));
    }
    for (int b = 0; b < 2; b++) FSCI_TRY(fsci_mpi_wait(&req[b]));
    FSCI_TRY(fsci_mpi_sum_f64(&pairs, 1));
    if (J.bar) fsci_progress_finish(J.bar);
    int64_t skipped = 0;
    for (int64_t i = 0; i < in->ntr; i++) skipped += J.cls[i] < 0;
    *stats = (fsci_pstm_stats){.traces = in->ntr - skipped,
                               .skipped = skipped,
                               .columns = g->nx * g->ny,
                               .pairs = pairs,
                               .seconds = fsci_clock() - t0,
                               .flops = pairs * (o->aa ? FSCI__PSTM_FLOPS_PAIR_AA : FSCI__PSTM_FLOPS_PAIR),
                               .dim = J.ko.dim};
fail:
    for (int b = 0; b < 2; b++)
        if (fsci_mpi_wait(&req[b])) fsci_error_clear(); /* the buffers must not go while being sent */
    fsci_free(T);
    fsci_free(img);
    job_free(&J);
    return st;
}
