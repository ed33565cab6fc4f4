/* Demo section of the ptycho engine: inputs, groups, diffraction and timings. */
#include <math.h>
#include <string.h>

#include "fastsci/fastsci.h"
#include "demo.h"

enum { NWANT = 9 }; /* members of the simulation the section uses */

typedef struct run_out {
    fsci_sink *sink;
    fsci_ptycho_report rep;
} run_out;

/* Take the members named in `names` out of a memory sink (NULL where absent);
 * the others are released. */
static int take(fsci_sink *s, const char *const *names, fsci_array **out, int n)
{
    int st = FSCI_OK;
    for (int k = 0; k < n; k++) out[k] = NULL;
    for (int64_t i = 0; i < fsci_sink_memory_count(s); i++) {
        const char *name;
        fsci_array *a;
        char *text;
        FSCI_TRY(fsci_sink_memory_take(s, i, &name, &a, &text));
        fsci_free(text);
        for (int k = 0; k < n && a; k++)
            if (strcmp(name, names[k]) == 0) {
                out[k] = a;
                a = NULL;
            }
        fsci_array_destroy(&a);
    }
    for (int k = 0; k < n; k++)
        FSCI_CHECK_GOTO(out[k], FSCI_EINTERNAL, "ptycho demo: no member '%s'", names[k]);
fail:
    return st;
}

static int simulate(const fsci_ctx *c, int64_t n_images, bool noise, run_out *out)
{
    int st = FSCI_OK;
    fsci_ptycho_opts o;
    FSCI_TRY(fsci_params_defaults(fsci_ptycho_params, FSCI_PTYCHO_NPARAMS, &o));
    o.n_images = n_images;
    o.noise = noise;
    o.raw = false;
    FSCI_TRY(fsci_sink_memory_create(&out->sink));
    FSCI_TRY(fsci_ptycho_simulate(&o, NULL, fsci_ctx_seed(c, 42), c->threads, out->sink, &out->rep));
    FSCI_TRY(fsci_sink_close(out->sink));
fail:
    return st;
}

static int image(fsci_report *r, const char *file, const fsci_view *v, const char *title, const char *cbar,
                 fsci_cmap cm, int logscale, int symmetric)
{
    char path[4200];
    fsci_report_path(r, file, path, sizeof path);
    fsci_plot_image_opts o = {.title = title,
                              .xlabel = "x (pixel)",
                              .ylabel = "y (pixel)",
                              .cbar_label = cbar,
                              .equal_aspect = 1,
                              .width = 640,
                              .height = 560,
                              .map = {.cmap = cm, .log10 = logscale, .symmetric = symmetric}};
    return fsci_plot_image(path, v, &o);
}

/* amplitude or phase (or log intensity) of a complex/real 2-D slice into a double image */
static int slice_image(const float *src, int64_t h, int64_t w, int64_t stride, int kind, double **out,
                       fsci_view *v)
{
    double *img = fsci_malloc((size_t)(h * w), sizeof *img);
    if (!img) return FSCI_ENOMEM;
    for (int64_t i = 0; i < h * w; i++) {
        const float *p = src + i * stride;
        double re = (double)p[0], im = kind < 2 ? (double)p[1] : 0.0;
        img[i] = kind == 0 ? hypot(re, im) : kind == 1 ? atan2(im, re) : re * re;
    }
    *out = img;
    return fsci_view_init(v, img, FSCI_F64, 2, (int64_t[2]){h, w}, false);
}

static int positions_figure(fsci_report *r, const fsci_array *x, const fsci_array *y, const fsci_array *nn,
                            const fsci_array *off, const fsci_array *rel, int64_t C)
{
    enum { NG = 5 };
    int64_t np = x->view.shape[0];
    const double *px = x->view.data, *py = y->view.data;
    const int32_t *g = nn->view.data;
    const double *of = off->view.data, *re = rel->view.data;
    double gx[NG][17], gy[NG][17], sx[NG][16], sy[NG][16];
    fsci_plot_series s[1 + 2 * NG];
    s[0] = (fsci_plot_series){.x = px,
                              .y = py,
                              .n = np,
                              .label = "scan positions",
                              .style = FSCI_PLOT_MARKERS,
                              .color = 8,
                              .marker_size = 0.35};
    static const int64_t pick[NG] = {0, 7, 21, 42, 63};
    for (int k = 0; k < NG; k++) {
        int64_t b = pick[k];
        for (int64_t c = 0; c <= C && c < 17; c++) {
            int64_t j = g[b * C + (c % C)];
            gx[k][c] = px[j];
            gy[k][c] = py[j];
        }
        for (int64_t c = 0; c < C && c < 16; c++) {
            sx[k][c] = of[2 * b] + re[b * 2 * C + c];
            sy[k][c] = of[2 * b + 1] + re[b * 2 * C + C + c];
        }
        s[1 + 2 * k] = (fsci_plot_series){.x = gx[k],
                                          .y = gy[k],
                                          .n = C + 1,
                                          .label = k == 0 ? "a group (members)" : NULL,
                                          .style = FSCI_PLOT_LINE_MARKERS,
                                          .color = 1 + k,
                                          .marker_size = 0.8};
        s[2 + 2 * k] = (fsci_plot_series){.x = sx[k],
                                          .y = sy[k],
                                          .n = C,
                                          .label = k == 0 ? "its sampling centres (2 mean - position)" : NULL,
                                          .style = FSCI_PLOT_MARKERS,
                                          .color = 1 + k,
                                          .marker_size = 1.6};
    }
    char path[4200];
    fsci_report_path(r, "ptycho_positions.png", path, sizeof path);
    fsci_plot_opts o = {.title = "Scan positions and five gridsize-2 groups",
                        .xlabel = "x (pixel)",
                        .ylabel = "y (pixel)",
                        .width = 820,
                        .height = 800,
                        .legend = FSCI_LEGEND_BOTTOM_RIGHT};
    return fsci_plot_lines(path, s, 1 + 2 * NG, &o);
}

int fsci__ptycho_demo(fsci_report *r, const fsci_ctx *c, bool quick)
{
    fsci_report_section(
        r, "ptycho", "ptycho: ptychography training data (PtychoPINN layout)",
        "A complex object is scanned at random positions; positions are grouped into gridsize&sup2; = 4 "
        "nearest neighbours (PtychoPINN's sample-then-group rule, K = 4); each patch is cut out by an "
        "integer crop and 2&times;2 bilinear weights, multiplied by the probe, propagated to the far "
        "field (|FFT|&sup2;/N&sup2;, fftshift) and observed with Poisson noise at 10<sup>9</sup> photons "
        "per pattern on average. Output: PtychoPINN's NPZ keys (see doc/ptycho.md).");
    static const char *const want[NWANT] = {"diffraction",    "objectGuess",     "probeGuess",
                                            "xcoords",        "ycoords",         "nn_indices",
                                            "coords_offsets", "coords_relative", "Y"};
    int st = FSCI_OK;
    int64_t n_images = quick ? 400 : 5000;
    run_out noisy = {0};
    fsci_array *got[NWANT] = {NULL};
    double *img = NULL;
    float *clean = NULL, *patch = NULL;
    FSCI_TRY(simulate(c, n_images, true, &noisy));
    FSCI_TRY(take(noisy.sink, want, got, NWANT));
    const fsci_array *dn = got[0], *obj = got[1], *probe = got[2], *x = got[3], *y = got[4], *nn = got[5],
                     *off = got[6], *rel = got[7], *dc = got[8];
    int64_t H = obj->view.shape[0], W = obj->view.shape[1], N = probe->view.shape[0], C = nn->view.shape[1];
    fsci_view v;
    FSCI_TRY(slice_image(obj->view.data, H, W, 2, 0, &img, &v));
    FSCI_TRY(
        image(r, "ptycho_object_amp.png", &v, "Object amplitude ('lines')", "|O|", FSCI_CMAP_GRAY, 0, 0));
    fsci_free(img);
    img = NULL;
    FSCI_TRY(slice_image(obj->view.data, H, W, 2, 1, &img, &v));
    FSCI_TRY(
        image(r, "ptycho_object_phase.png", &v, "Object phase", "phase (rad)", FSCI_CMAP_DIVERGING, 0, 1));
    fsci_free(img);
    img = NULL;
    fsci_report_figure(
        r, "ptycho_object_amp.png",
        "Amplitude of the built-in 'lines' object (PtychoPINN's recipe: 400 random lines blurred at three "
        "scales), side 3.5 N = 224 pixels.");
    fsci_report_figure(
        r, "ptycho_object_phase.png",
        "Its phase, &pi; tanh((A &minus; 1/2)/(3 mean A)) (PtychoPINN's dummy_phi): it follows the "
        "amplitude, here "
        "between about &minus;0.2 and 0.7 rad.");
    FSCI_TRY(slice_image(probe->view.data, N, N, 2, 0, &img, &v));
    FSCI_TRY(
        image(r, "ptycho_probe.png", &v, "Probe amplitude (low-pass disk)", "|P|", FSCI_CMAP_VIRIDIS, 0, 0));
    fsci_free(img);
    img = NULL;
    fsci_report_figure(r, "ptycho_probe.png",
                       "The built-in probe: PtychoPINN's low-pass disk (scale 0.7), 64 &times; 64.");
    FSCI_TRY(positions_figure(r, x, y, nn, off, rel, C));
    fsci_report_figure(
        r, "ptycho_positions.png",
        "Scan positions (grey) and five groups of four nearest neighbours (lines join the members). The "
        "large markers are where each member's patch is actually sampled: PtychoPINN's offsets + relative "
        "coordinates put it at the point reflection of the member through the group centre "
        "(local_offset_sign = &minus;1); for gridsize 1 it is the position itself.");
    /* the first pattern of group 0: its expected intensity (from its patch Y[0, :, :, 0], same scale,
     * no noise) next to the noisy counts of the same run */
    int64_t n2 = N * N;
    patch = fsci_malloc((size_t)(2 * n2), sizeof *patch);
    clean = fsci_malloc((size_t)n2, sizeof *clean);
    if (!patch || !clean) {
        st = FSCI_ENOMEM;
        goto fail;
    }
    const float *yv = dc->view.data;
    for (int64_t i = 0; i < n2; i++) {
        patch[2 * i] = yv[2 * i * C];
        patch[2 * i + 1] = yv[2 * i * C + 1];
    }
    FSCI_TRY(fsci_ptycho_diffract(patch, 1, N, &probe->view, noisy.rep.scale, false, 0,
                                  FSCI_PTYCHO_STREAM_NOISE, 0, clean, NULL, c->threads));
    const float *a1 = dn->view.data;
    FSCI_TRY(slice_image(clean, N, N, 1, 2, &img, &v));
    for (int64_t i = 0; i < N * N; i++) img[i] *= noisy.rep.scale * noisy.rep.scale;
    FSCI_TRY(image(r, "ptycho_diffraction_clean.png", &v, "Expected photons (noise-free)", "photons",
                   FSCI_CMAP_MAGMA, 1, 0));
    fsci_free(img);
    img = NULL;
    FSCI_TRY(slice_image(a1, N, N, C, 2, &img, &v));
    for (int64_t i = 0; i < N * N; i++) img[i] = round(img[i] * noisy.rep.scale * noisy.rep.scale);
    FSCI_TRY(
        image(r, "ptycho_diffraction_noisy.png", &v, "Poisson counts", "photons", FSCI_CMAP_MAGMA, 1, 0));
    fsci_report_figure(
        r, "ptycho_diffraction_clean.png",
        "Expected photons of the first pattern of group 0, |FFT(s &middot; patch &middot; "
        "probe)|&sup2;/N&sup2;, "
        "log scale: the central disk is the probe's low-pass spectrum, the rings and streaks come from "
        "the object.");
    fsci_report_figure(
        r, "ptycho_diffraction_noisy.png",
        "The same pattern as recorded: Poisson counts at 10<sup>9</sup> photons per pattern on average "
        "(zero counts are drawn at the floor of the colour scale).");
    const fsci_ptycho_report *p = &noisy.rep;
    double pats = (double)p->npatterns;
    fsci_report_html(
        r,
        "<table><tr><th>stage (%lld groups, %lld patterns of %lld&sup2;, %d threads)</th><th>time (s)</th>"
        "<th>patterns/s</th></tr>\n",
        (long long)p->ngroups, (long long)p->npatterns, (long long)N, fsci_parallel_resolve(c->threads));
    const char *names[] = {
        "inputs",          "grouping (k-d tree)", "dataset scale",           "patch extraction",
        "FFT + |F|&sup2;", "Poisson noise",       "output (in memory here)", "end to end"};
    double ts[] = {p->t_inputs, p->t_group, p->t_scale, p->t_extract,
                   p->t_fft,    p->t_noise, p->t_write, p->t_total};
    for (int i = 0; i < 8; i++) {
        char rate[32] = "";
        if (i >= 3 && ts[i] > 0) fsci_format_si(pats / ts[i], rate, sizeof rate);
        fsci_report_html(r, "<tr><td>%s</td><td>%.3f</td><td>%s</td></tr>\n", names[i], ts[i], rate);
    }
    fsci_report_html(
        r, "</table>\n<p>Measured in this run; the stages of the fused pass are summed over threads and "
           "divided by the thread count. <code>make bench</code> compares with the Python baselines.</p>\n");
fail:
    fsci_free(img);
    for (int k = 0; k < NWANT; k++) fsci_array_destroy(&got[k]);
    fsci_sink_destroy(&noisy.sink);
    fsci_free(patch);
    fsci_free(clean);
    return st;
}
