/* Demo section of the core library: the Poisson sampler against its exact pmf,
 * a photon-count image, and measured draw rates. */
#include <math.h>
#include <stdlib.h>

#include "fastsci/fastsci.h"

static int poisson_pmf_figure(fsci_report *r, const fsci_ctx *c, int64_t n)
{
    static const double lams[3] = {0.5, 3.0, 20.0};
    enum { KMAX = 40 };
    double k[KMAX], emp[3][KMAX], pmf[3][KMAX];
    int st = FSCI_OK;
    int64_t *draws = fsci_malloc((size_t)n, sizeof *draws);
    if (!draws) return FSCI_ENOMEM;
    for (int j = 0; j < 3; j++) {
        FSCI_TRY(fsci_rng_fill_poisson(c->seed, (uint64_t)j, &lams[j], 1, draws, n, c->threads));
        for (int i = 0; i < KMAX; i++) emp[j][i] = 0;
        for (int64_t i = 0; i < n; i++)
            if (draws[i] < KMAX) emp[j][draws[i]] += 1.0 / (double)n;
        for (int i = 0; i < KMAX; i++) {
            k[i] = i;
            pmf[j][i] = exp((double)i * log(lams[j]) - lams[j] - lgamma((double)i + 1.0));
            if (emp[j][i] == 0) emp[j][i] = NAN; /* not drawn: leave a gap on the log axis */
        }
    }
    fsci_free(draws);
    draws = NULL;
    char lab[6][64];
    fsci_plot_series s[6];
    for (int j = 0; j < 3; j++) {
        snprintf(lab[2 * j], sizeof lab[0], "exact pmf, lambda = %g", lams[j]);
        snprintf(lab[2 * j + 1], sizeof lab[0], "fastsci, %lld draws", (long long)n);
        s[2 * j] = (fsci_plot_series){
            .x = k, .y = pmf[j], .n = KMAX, .label = lab[2 * j], .style = FSCI_PLOT_LINE, .color = j + 1};
        s[2 * j + 1] = (fsci_plot_series){.x = k,
                                          .y = emp[j],
                                          .n = KMAX,
                                          .label = j == 0 ? lab[2 * j + 1] : NULL,
                                          .style = FSCI_PLOT_MARKERS,
                                          .color = j + 1};
    }
    fsci_plot_opts o = {.title = "Poisson sampler against the exact distribution",
                        .xlabel = "count k",
                        .ylabel = "probability P(k)",
                        .logy = 1,
                        .ymin = 1e-6,
                        .ymax = 1,
                        .legend = FSCI_LEGEND_TOP_RIGHT};
    char path[4200];
    fsci_report_path(r, "core_poisson_pmf.png", path, sizeof path);
    FSCI_TRY(fsci_plot_lines(path, s, 6, &o));
    fsci_report_figure(
        r, "core_poisson_pmf.png",
        "Empirical frequencies of fastsci's Poisson sampler (markers) against the exact pmf "
        "e<sup>-&lambda;</sup>&lambda;<sup>k</sup>/k! (lines) for &lambda; = 0.5 and 3 (inversion) "
        "and 20 (PTRS transformed rejection). The markers should sit on the lines down to "
        "probabilities of about 10/draws, below which sampling noise dominates.");
fail:
    fsci_free(draws);
    return st;
}

static int photon_image_figure(fsci_report *r, const fsci_ctx *c)
{
    enum { W = 256, H = 128 };
    int st = FSCI_OK;
    double *lam = fsci_malloc(W * H, sizeof *lam), *img = fsci_malloc(W * H, sizeof *img);
    int64_t *cnt = fsci_malloc(W * H, sizeof *cnt);
    if (!lam || !img || !cnt) {
        st = FSCI_ENOMEM;
        goto fail;
    }
    /* A Gaussian spot on a background that spans 1e-2 .. 1e3 photons per pixel. */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double bg = pow(10.0, -2.0 + 3.0 * x / (W - 1.0));
            double dx = (x - W * 0.7) / 18.0, dy = (y - H * 0.5) / 18.0;
            lam[y * W + x] = bg + 1e3 * exp(-0.5 * (dx * dx + dy * dy));
        }
    FSCI_TRY(fsci_rng_fill_poisson(c->seed, 7, lam, W * H, cnt, W * H, c->threads));
    for (int i = 0; i < W * H; i++) img[i] = (double)cnt[i];
    fsci_view v;
    FSCI_TRY(fsci_view_init(&v, img, FSCI_F64, 2, (int64_t[2]){H, W}, false));
    char path[4200];
    fsci_report_path(r, "core_photon_counts.png", path, sizeof path);
    fsci_plot_image_opts o = {.title = "Poisson photon counts, mean from 0.01 to 1000 per pixel",
                              .xlabel = "x (pixel)",
                              .ylabel = "y (pixel)",
                              .cbar_label = "counts",
                              .equal_aspect = 1,
                              .width = 900,
                              .height = 470,
                              .map = {.cmap = FSCI_CMAP_VIRIDIS, .log10 = 1, .log_floor = 0.5}};
    FSCI_TRY(fsci_plot_image(path, &v, &o));
    fsci_report_figure(
        r, "core_photon_counts.png",
        "One draw per pixel from a mean that rises from 0.01 (left) to 1000 (right) photons, "
        "plus a Gaussian spot of 1000 photons: the regime of a far-field diffraction pattern. "
        "Zero counts (drawn at the log floor of 0.5, the darkest colour) dominate on the left; "
        "relative noise 1/&radic;&lambda; shrinks to the right.");
fail:
    fsci_free(lam);
    fsci_free(img);
    fsci_free(cnt);
    return st;
}

static int rate_table(fsci_report *r, const fsci_ctx *c, int64_t n)
{
    static const double lams[3] = {0.5, 20.0, 1e4};
    int st = FSCI_OK;
    int64_t *draws = fsci_malloc((size_t)n, sizeof *draws);
    if (!draws) return FSCI_ENOMEM;
    fsci_report_html(r, "<table><tr><th>draws</th><th>&lambda;</th><th>threads</th><th>time (ms)</th>"
                        "<th>draws/s</th><th>mean</th></tr>\n");
    for (int j = 0; j < 3; j++) {
        double t0 = fsci_clock();
        FSCI_TRY(fsci_rng_fill_poisson(c->seed, 100 + (uint64_t)j, &lams[j], 1, draws, n, c->threads));
        double dt = fsci_clock() - t0;
        double mean = 0;
        for (int64_t i = 0; i < n; i++) mean += (double)draws[i];
        mean /= (double)n;
        char rate[32];
        fsci_format_si((double)n / dt, rate, sizeof rate);
        fsci_report_html(
            r, "<tr><td>%lld</td><td>%g</td><td>%d</td><td>%.1f</td><td>%s</td><td>%.4f</td></tr>\n",
            (long long)n, lams[j], fsci_parallel_resolve(c->threads), 1e3 * dt, rate, mean);
    }
    fsci_report_html(r,
                     "</table>\n<p>Poisson draw rates measured in this run (see <code>make bench</code> for "
                     "the comparison with numpy).</p>\n");
fail:
    fsci_free(draws);
    return st;
}

int fsci_core_demo(fsci_report *r, const fsci_ctx *c, bool quick)
{
    fsci_report_section(
        r, "core", "Core library: random numbers and figures",
        "Every engine draws its noise from one counter-based generator, Philox4x64-10, keyed by "
        "(seed, stream) and the logical index of each draw, so results are identical for any "
        "number of threads. The Poisson sampler is exact in distribution for every mean: "
        "inversion below &lambda; = 10 and Hörmann's PTRS transformed rejection above.");
    int st = FSCI_OK;
    FSCI_TRY(poisson_pmf_figure(r, c, quick ? 200000 : 2000000));
    FSCI_TRY(photon_image_figure(r, c));
    FSCI_TRY(rate_table(r, c, quick ? 1000000 : 10000000));
fail:
    return st;
}
