/* The n2v2 section of the demo report: skimage's `camera` with sigma = 25
 * Gaussian noise, denoised by the n2v2 preset trained on that one noisy image,
 * against non-local means and the clean image; a crop of a flat region for
 * checkerboard artefacts; the training throughput. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "n2v2/n2v2_run.h"

#define CAMERA "/usr/lib/python3/dist-packages/skimage/data/camera.png"

/* The test image: camera.png from python3-skimage, or (if absent) a synthetic
 * scene of discs and ramps so that the section still runs. */
static int test_image(int64_t n, float *img, bool *camera)
{
    uint8_t *rgb = NULL;
    int64_t w = 0, h = 0;
    *camera = false;
    if (fsci_png_read_rgb(CAMERA, &rgb, &w, &h) == FSCI_OK && w >= n && h >= n) {
        const int64_t y0 = (h - n) / 2, x0 = (w - n) / 2;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) img[i * n + j] = rgb[((y0 + i) * w + x0 + j) * 3];
        *camera = true;
    } else {
        fsci_error_clear();
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                double v = 60 + 100 * (double)j / (double)n;
                if (hypot((double)i - 0.3 * (double)n, (double)j - 0.6 * (double)n) < 0.15 * (double)n)
                    v = 220;
                if (i > n / 2 && (j / 8) % 2) v = 30;
                img[i * n + j] = (float)v;
            }
    }
    fsci_free(rgb);
    return FSCI_OK;
}

static double psnr(const float *a, const float *ref, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += ((double)a[i] - (double)ref[i]) * ((double)a[i] - (double)ref[i]);
    return 10 * log10(255.0 * 255.0 / (s / (double)n));
}

/* Non-local means (Buades et al. 2005) in the "fast" form of scikit-image:
 * for each offset of the search window, the squared difference image is
 * box-filtered over the 7 x 7 patch; weight exp(-max(d2 - 2 sigma^2, 0) / h^2)
 * with h = 0.6 sigma (d2 the patch mean). Borders by reflection. Written here
 * because the demo runs in C: Debian's implementations are Python
 * (python3-skimage, which scripts/validate.py uses) or C++ (OpenCV). */
static int nl_means(const float *in, float *out, int64_t n, double sigma)
{
    const int P = 3, S = 11; /* patch 7 x 7, search 23 x 23 */
    const double h2 = (0.6 * sigma) * (0.6 * sigma), s2 = 2 * sigma * sigma;
    double *acc = fsci_calloc((size_t)(n * n), sizeof(double)),
           *wsum = fsci_calloc((size_t)(n * n), sizeof(double));
    double *d = fsci_malloc((size_t)(n * n), sizeof(double)),
           *row = fsci_malloc((size_t)(n * n), sizeof(double));
    int st = FSCI_OK;
    FSCI_CHECK_GOTO(acc && wsum && d && row, FSCI_ENOMEM, "n2v2 demo: out of memory");
#define R(i) ((i) < 0 ? -(i) : (i) >= n ? 2 * n - 2 - (i) : (i))
    for (int dy = -S; dy <= S; dy++)
        for (int dx = -S; dx <= S; dx++) {
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < n; j++) {
                    const double e = (double)in[i * n + j] - (double)in[R(i + dy) * n + R(j + dx)];
                    d[i * n + j] = e * e;
                }
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < n; i++) /* box along x */
                for (int64_t j = 0; j < n; j++) {
                    double s = 0;
                    for (int k = -P; k <= P; k++) s += d[i * n + R(j + k)];
                    row[i * n + j] = s;
                }
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < n; i++) /* box along y, weight, accumulate */
                for (int64_t j = 0; j < n; j++) {
                    double s = 0;
                    for (int k = -P; k <= P; k++) s += row[R(i + k) * n + j];
                    const double d2 = s / ((2 * P + 1) * (2 * P + 1));
                    const double wgt = exp(-fmax(d2 - s2, 0) / h2);
                    acc[i * n + j] += wgt * (double)in[R(i + dy) * n + R(j + dx)];
                    wsum[i * n + j] += wgt;
                }
        }
#undef R
    for (int64_t i = 0; i < n * n; i++) out[i] = (float)(acc[i] / wsum[i]);
fail:
    fsci_free(acc);
    fsci_free(wsum);
    fsci_free(d);
    fsci_free(row);
    return st;
}

static int grey(fsci_report *r, const char *file, const char *title, const float *img, int64_t h, int64_t w,
                int64_t stride, double lo, double hi)
{
    char path[4096];
    fsci_report_path(r, file, path, sizeof path);
    void *data;
    memcpy(&data, &img, sizeof data); /* the view is only read */
    fsci_view v = {.data = data, .dtype = FSCI_F32, .ndim = 2, .shape = {h, w}, .strides = {stride * 4, 4}};
    fsci_plot_image_opts po = {.title = title,
                               .equal_aspect = 1,
                               .width = 640,
                               .height = 640,
                               .map = {.cmap = FSCI_CMAP_GRAY, .fixed_range = 1, .vmin = lo, .vmax = hi}};
    return fsci_plot_image(path, &v, &po);
}

int fsci__n2v2_demo(fsci_report *r, const fsci_ctx *ctx, bool quick)
{
    int st = FSCI_OK;
    const int64_t n = quick ? 128 : 512, nn = n * n;
    fsci_sink *s = NULL;
    fsci_array *den = NULL;
    float *clean = fsci_malloc((size_t)nn, 4), *noisy = fsci_malloc((size_t)nn, 4),
          *nlm = fsci_malloc((size_t)nn, 4);
    FSCI_CHECK_GOTO(clean && noisy && nlm, FSCI_ENOMEM, "n2v2 demo: out of memory");
    bool camera;
    FSCI_TRY(test_image(n, clean, &camera));
    fsci_rng g;
    fsci_rng_init(&g, 0, 0x6e32763200000010ULL, 0, 0);
    for (int64_t i = 0; i < nn; i++) noisy[i] = (float)((double)clean[i] + 25 * fsci_rng_normal(&g));

    /* train and predict through the engine's own command */
    const fsci_command *c = fsci_engine_command(fsci_engine_find("n2v2"), "denoise");
    fsci_n2v2_opts o;
    FSCI_TRY(fsci_params_defaults(c->params, c->nparams, &o));
    o.epochs = quick ? 1 : 12;
    o.steps = quick ? 4 : 60;
    o.batch = quick ? 4 : 16;
    if (quick) {
        o.width = 8;
        o.val_patches = 4;
    }
    fsci_view v = {.data = noisy, .dtype = FSCI_F32, .ndim = 2, .shape = {n, n}, .strides = {n * 4, 4}};
    const fsci_input inp[1] = {{"stack", v}};
    const fsci_inputs ins = {inp, 1};
    FSCI_TRY(fsci_sink_memory_create(&s));
    fsci_ctx q = *ctx;
    q.out = NULL;
    q.output = NULL;
    q.quiet = true;
    FSCI_TRY(fsci_command_run(c, &o, &ins, &q, s));
    FSCI_TRY(fsci_sink_close(s));
    const char *nm;
    char *text = NULL;
    for (int64_t i = 0; i < fsci_sink_memory_count(s); i++) {
        fsci_array *a = NULL;
        FSCI_TRY(fsci_sink_memory_take(s, i, &nm, &a, &text));
        fsci_free(text);
        text = NULL;
        if (a && strcmp(nm, "denoised") == 0)
            den = a;
        else
            fsci_array_destroy(&a);
    }
    FSCI_CHECK_GOTO(den, FSCI_EINTERNAL, "n2v2 demo: no denoised output");
    const float *pred = den->view.data;
    double train_s = 0, pps = 0;
    const char *sum = fsci_sink_summary(s);
    const char *p = sum ? strstr(sum, "\"train_seconds\": ") : NULL;
    if (p) train_s = strtod(p + 17, NULL);
    p = sum ? strstr(sum, "\"patches_per_s\": ") : NULL;
    if (p) pps = strtod(p + 17, NULL);
    const double t0 = fsci_clock();
    FSCI_TRY(nl_means(noisy, nlm, n, 25));
    const double nlm_s = fsci_clock() - t0;
    const double p_noisy = psnr(noisy, clean, nn), p_n2v2 = psnr(pred, clean, nn),
                 p_nlm = psnr(nlm, clean, nn);

    /* polyphase score of the prediction error on a flat 64 x 64 region (sky of camera) */
    const int64_t cy = quick ? 8 : 20, cx = quick ? 8 : 380, cs = quick ? 32 : 64;
    double mu[4] = {0};
    for (int64_t i = 0; i < cs; i++)
        for (int64_t j = 0; j < cs; j++) {
            const int64_t k = (cy + i) * n + cx + j;
            mu[(i & 1) * 2 + (j & 1)] += (double)pred[k] - (double)clean[k];
        }
    for (int q2 = 0; q2 < 4; q2++) mu[q2] /= (double)(cs * cs / 4);
    const double poly = fabs(mu[0] + mu[3] - mu[1] - mu[2]) / 4;

    fsci_report_section(r, "n2v2", "n2v2: self-supervised denoising (Noise2Void 2)", NULL);
    fsci_report_html(
        r,
        "<p>%s with Gaussian noise of &sigma; = 25 (fixed seed, not clipped), %lld &times; %lld. The "
        "<code>n2v2</code> preset (depth 2, %lld filters, MaxBlurPool, no top skip, stratified 0.198 %% "
        "blind spots with the 5 &times; 5 median) is trained on this one noisy image only: %lld epochs "
        "of %lld steps of %lld patches of 64 &times; 64 in %.1f s (%.0f patches/s, %d threads). "
        "Non-local means (7 &times; 7 patches, 23 &times; 23 search, h = 0.6&sigma;) takes %.1f s.</p>\n"
        "<table><tr><th>image</th><th>PSNR (dB)</th></tr><tr><td>noisy</td><td>%.2f</td></tr>"
        "<tr><td>N2V2 (ours)</td><td>%.2f</td></tr><tr><td>non-local means</td><td>%.2f</td></tr>"
        "</table>\n<p>The published N2V2 reaches its quality after about 10 M patches; this short "
        "schedule (%lld patches) is a demonstration, <code>make validate</code> runs the long one "
        "(doc/VALIDATION.md). Polyphase score |&mu;00 + &mu;11 &minus; &mu;01 &minus; &mu;10|/4 of the "
        "error on the flat crop: %.3f grey levels.</p>\n",
        camera ? "skimage's <code>camera</code>" : "A synthetic test image (python3-skimage missing)",
        (long long)n, (long long)n, (long long)(o.width ? o.width : 32), (long long)o.epochs,
        (long long)o.steps, (long long)o.batch, train_s, pps, fsci_parallel_threads(), nlm_s, p_noisy, p_n2v2,
        p_nlm, (long long)(o.epochs * o.steps * o.batch), poly);
    char title[128];
    FSCI_TRY(grey(r, "n2v2_clean.png", "clean", clean, n, n, n, 0, 255));
    snprintf(title, sizeof title, "noisy (%.2f dB)", p_noisy);
    FSCI_TRY(grey(r, "n2v2_noisy.png", title, noisy, n, n, n, 0, 255));
    snprintf(title, sizeof title, "N2V2, ours (%.2f dB)", p_n2v2);
    FSCI_TRY(grey(r, "n2v2_denoised.png", title, pred, n, n, n, 0, 255));
    snprintf(title, sizeof title, "non-local means (%.2f dB)", p_nlm);
    FSCI_TRY(grey(r, "n2v2_nlm.png", title, nlm, n, n, n, 0, 255));
    fsci_report_figure(r, "n2v2_noisy.png", "The noisy input (the only data the network sees).");
    fsci_report_figure(r, "n2v2_denoised.png", "Denoised by N2V2 trained on the noisy image itself.");
    fsci_report_figure(r, "n2v2_nlm.png", "Non-local means, the classical baseline.");
    fsci_report_figure(r, "n2v2_clean.png", "The clean image (ground truth, never used in training).");
    double lo = 1e30, hi = -1e30;
    for (int64_t i = 0; i < cs; i++)
        for (int64_t j = 0; j < cs; j++) {
            lo = fmin(lo, (double)pred[(cy + i) * n + cx + j]);
            hi = fmax(hi, (double)pred[(cy + i) * n + cx + j]);
        }
    FSCI_TRY(grey(r, "n2v2_crop.png", "N2V2 on a flat region (contrast stretched)", pred + cy * n + cx, cs,
                  cs, n, lo, hi > lo ? hi : lo + 1));
    fsci_report_figure(
        r, "n2v2_crop.png",
        "A flat region of the N2V2 result with its contrast stretched to the full grey range: no "
        "periodic (checkerboard) pattern at the pooling period of 2 or 4 pixels.");
fail:
    fsci_free(text);
    fsci_array_destroy(&den);
    fsci_sink_destroy(&s);
    fsci_free(clean);
    fsci_free(noisy);
    fsci_free(nlm);
    return st;
}
