/* Built-in objects and probes of the ptycho engine. The recipes follow
 * PtychoPINN (ptycho/diffsim.py mk_lines_img, sim_object_image, dummy_phi;
 * ptycho/probe.py with fourier.lowpass_g); the random numbers are ours. */
#include <math.h>
#include <string.h>

#include "ptycho_impl.h"

/* PtychoPINN's blur: scipy.ndimage.gaussian_filter(img, sigma) with its
 * defaults (truncate 4, mode 'reflect'), in place. */
static int gaussian(double *img, int64_t h, int64_t w, double sigma)
{
    return fsci_filter_gaussian(img, img, h, w, sigma, 4.0, FSCI_FILTER_REFLECT, 0.0);
}

/* Bresenham's line including both end points (as skimage.draw.line). */
static void draw_line(double *img, int64_t side, int64_t r0, int64_t c0, int64_t r1, int64_t c1)
{
    int64_t dr = r1 > r0 ? r1 - r0 : r0 - r1, dc = c1 > c0 ? c1 - c0 : c0 - c1;
    int64_t sr = r0 < r1 ? 1 : -1, sc = c0 < c1 ? 1 : -1, err = dc - dr;
    for (;;) {
        img[r0 * side + c0] = 1.0;
        if (r0 == r1 && c0 == c1) break;
        int64_t e2 = 2 * err;
        if (e2 > -dr) {
            err -= dr;
            c0 += sc;
        }
        if (e2 < dc) {
            err += dc;
            r0 += sr;
        }
    }
}

static int lines_amplitude(int64_t m, uint64_t seed, double *amp)
{
    int st = FSCI_OK;
    int64_t side = 2 * m;
    double *canvas = fsci_calloc((size_t)(side * side), sizeof *canvas);
    double *b1 = fsci_malloc((size_t)(side * side), sizeof *b1);
    double *b2 = fsci_malloc((size_t)(side * side), sizeof *b2);
    FSCI_CHECK_GOTO(canvas && b1 && b2, FSCI_ENOMEM, "object 'lines': out of memory for side %lld",
                    (long long)m);
    fsci_rng r;
    fsci_rng_init(&r, seed, FSCI_PTYCHO_STREAM_OBJECT, 0, 0);
    for (int l = 0; l < 400; l++) {
        int64_t p[4];
        for (int j = 0; j < 4; j++) p[j] = (int64_t)((double)side * fsci_rng_uniform(&r));
        draw_line(canvas, side, p[0], p[1], p[2], p[3]);
    }
    memcpy(b1, canvas, (size_t)(side * side) * sizeof *b1);
    memcpy(b2, canvas, (size_t)(side * side) * sizeof *b2);
    FSCI_TRY(gaussian(canvas, side, side, 1.0));
    FSCI_TRY(gaussian(b1, side, side, 5.0));
    FSCI_TRY(gaussian(b2, side, side, 10.0));
    int64_t off = m / 2;
    for (int64_t y = 0; y < m; y++)
        for (int64_t x = 0; x < m; x++) {
            int64_t k = (y + off) * side + x + off;
            amp[y * m + x] = canvas[k] + 2 * b1[k] + 5 * b2[k];
        }
fail:
    fsci_free(canvas);
    fsci_free(b1);
    fsci_free(b2);
    return st;
}

int fsci_ptycho_object_builtin(const char *kind, int64_t m, uint64_t seed, fsci_array **out)
{
    FSCI_CHECK(kind && out, FSCI_EINVAL, "object: NULL argument");
    *out = NULL;
    bool lines = strcmp(kind, "lines") == 0, star = strcmp(kind, "star") == 0;
    FSCI_CHECK(lines || star, FSCI_EINVAL, "object: '%s' is not a built-in object (lines, star)", kind);
    FSCI_CHECK(m >= 8 && m <= 65536, FSCI_EINVAL, "object: side %lld is outside [8, 65536]", (long long)m);
    int st = FSCI_OK;
    fsci_array *a = NULL;
    double *amp = fsci_malloc((size_t)(m * m), sizeof *amp), *phase = NULL;
    FSCI_CHECK_GOTO(amp, FSCI_ENOMEM, "object: out of memory for side %lld", (long long)m);
    phase = fsci_malloc((size_t)(m * m), sizeof *phase);
    FSCI_CHECK_GOTO(phase, FSCI_ENOMEM, "object: out of memory for side %lld", (long long)m);
    if (lines) {
        FSCI_TRY(lines_amplitude(m, seed, amp));
        double mx = 0, mean = 0;
        for (int64_t i = 0; i < m * m; i++) mx = amp[i] > mx ? amp[i] : mx;
        for (int64_t i = 0; i < m * m; i++) mean += amp[i] /= (mx > 0 ? mx : 1);
        mean /= (double)(m * m);
        /* PtychoPINN's dummy_phi on the normalised amplitude (max 1). */
        for (int64_t i = 0; i < m * m; i++) phase[i] = FSCI_PI * tanh((amp[i] - 0.5) / (3 * mean));
    } else {
        fsci_rng r;
        fsci_rng_init(&r, seed, FSCI_PTYCHO_STREAM_OBJECT, 1, 0);
        double rot = 2 * FSCI_PI * fsci_rng_uniform(&r), c = 0.5 * (double)(m - 1), rmax = 0.45 * (double)m;
        for (int64_t y = 0; y < m; y++)
            for (int64_t x = 0; x < m; x++) {
                double dx = (double)x - c, dy = (double)y - c, rho = sqrt(dx * dx + dy * dy);
                double s = sin(36.0 * (atan2(dy, dx) + rot));
                double t = rho < rmax ? (s > 0 ? 1.0 : s < 0 ? 0.0 : 0.5) : 0.5;
                amp[y * m + x] = 0.3 + 0.7 * t;
                phase[y * m + x] = 0.5 * t;
            }
    }
    FSCI_TRY(fsci_array_create(FSCI_C64, 2, (int64_t[2]){m, m}, false, &a));
    float *o = a->view.data;
    for (int64_t i = 0; i < m * m; i++) {
        o[2 * i] = (float)(amp[i] * cos(phase[i]));
        o[2 * i + 1] = (float)(amp[i] * sin(phase[i]));
    }
    *out = a;
    a = NULL;
fail:
    fsci_free(amp);
    fsci_free(phase);
    fsci_array_destroy(&a);
    return st;
}

int fsci_ptycho_probe_disk(int64_t n, double scale, fsci_array **out)
{
    FSCI_CHECK(out, FSCI_EINVAL, "probe: NULL output");
    *out = NULL;
    FSCI_CHECK(n >= 4 && n <= 8192, FSCI_EINVAL, "probe: N = %lld is outside [4, 8192]", (long long)n);
    FSCI_CHECK(isfinite(scale) && scale > 0, FSCI_EINVAL, "probe: scale %g must be positive", scale);
    int st = FSCI_OK;
    fsci_array *a = NULL;
    double *win = fsci_malloc((size_t)n, sizeof *win), *img = fsci_malloc((size_t)(n * n), sizeof *img);
    FSCI_CHECK_GOTO(win && img, FSCI_ENOMEM, "probe: out of memory");
    /* scipy.signal.windows.gaussian(n, std, sym=True) scaled to max 1 */
    double std = (double)n / (scale * FSCI_PI * FSCI_PI), mx = 0;
    for (int64_t i = 0; i < n; i++) {
        double t = ((double)i - 0.5 * (double)(n - 1)) / std;
        win[i] = exp(-0.5 * t * t);
        mx = win[i] > mx ? win[i] : mx;
    }
    for (int64_t i = 0; i < n; i++) win[i] /= mx;
    for (int64_t y = 0; y < n; y++)
        for (int64_t x = 0; x < n; x++) img[y * n + x] = win[y] * win[x] > 0.5 ? 1.0 : 0.0;
    FSCI_TRY(gaussian(img, n, n, 1.0));
    FSCI_TRY(fsci_array_create(FSCI_C64, 2, (int64_t[2]){n, n}, false, &a));
    float *p = a->view.data;
    for (int64_t i = 0; i < n * n; i++) {
        p[2 * i] = (float)(img[i] + 1e-9);
        p[2 * i + 1] = 0.0f;
    }
    *out = a;
    a = NULL;
fail:
    fsci_free(win);
    fsci_free(img);
    fsci_array_destroy(&a);
    return st;
}
