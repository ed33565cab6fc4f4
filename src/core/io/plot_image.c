/* Image plots (fsci_plot_image): a 2-D array through a colour map, with a
 * colour bar. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/io/io_impl.h"
#include "core/io/plot_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/plot.h"

typedef struct image_job {
    const fsci_plot_image_opts *o;
    fsci__plot_text tx;
    int64_t rows, cols;
    const PLFLT *const *cols_ptr; /* cols pointers to rows values: PLplot's idata[ix][iy] */
    int any_bad;
    double x0, x1, y0, y1;
    double lo, hi; /* colour-bar range, log10 units with map.log10 */
} image_job;

static void image_draw(void *ctx, int width, int height)
{
    const image_job *job = ctx;
    const fsci_plot_image_opts *o = job->o;
    double s = fsci__plot_scale(width, height);
    fsci__plot_set_font(0);
    double tb = fsci__plot_text_base(width, s);
    plschr(0.0, tb);
    double ch, pw, ph;
    fsci__plot_page_metrics(&ch, &pw, &ph);

    PLINT r[256], g[256], b[256];
    for (int i = 0; i < 256; i++) {
        uint8_t c[3];
        fsci_cmap_rgb(o->map.cmap, i / 255.0, c);
        r[i] = c[0];
        g[i] = c[1];
        b[i] = c[2];
    }
    plscmap1(r, g, b, 256);

    /* Margins in character heights: left for the y tick labels, right for
     * the colour bar (gap, bar, tick labels, label). */
    double bottom = (fsci__plot_has_text(job->tx.xlabel) ? 5.4 : 3.6) * ch / ph;
    double top = 1.0 - (fsci__plot_has_text(job->tx.title) ? 3.8 : 1.8) * ch / ph;
    fsci__plot_axis cfmt;
    fsci__plot_axis_init(&cfmt, job->lo, job->hi, (top - bottom) * height / 90.0);
    int clen = o->map.log10 ? 4 : fsci__plot_axis_width(&cfmt, job->lo, job->hi);
    double cbar_room =
        1.0 + 1.6 + 0.8 + 0.95 * 0.62 * clen + (fsci__plot_has_text(job->tx.cbar) ? 2.4 : 0.0) + 1.0;
    fsci__plot_axis_init(&fsci__plot_fmt[1], job->y0, job->y1, (top - bottom) * height / 80.0);
    double ydisp;
    double left = fsci__plot_left_margin(fsci__plot_axis_width(&fsci__plot_fmt[1], job->y0, job->y1),
                                         fsci__plot_has_text(job->tx.ylabel), 1, &ydisp) *
                  ch / pw;
    double right = 1.0 - cbar_room * ch / pw;
    /* y window: row 0 at the top unless origin_lower. */
    double wyb = o->origin_lower ? job->y0 : job->y1, wyt = o->origin_lower ? job->y1 : job->y0;
    if (o->equal_aspect)
        plvpas(left, right, bottom, top, fabs(job->y1 - job->y0) / fabs(job->x1 - job->x0));
    else
        plvpor(left, right, bottom, top);
    plwind(job->x0, job->x1, wyb, wyt);

    if (job->any_bad) {
        PLFLT fx[4] = {job->x0, job->x1, job->x1, job->x0};
        PLFLT fy[4] = {job->y0, job->y0, job->y1, job->y1};
        plcol0(COL_BAD);
        plfill(4, fx, fy);
    }
    /* Values are colormap positions in [0, 1]; bad pixels hold -1, outside
     * the plotted z range, so the bad-colour rectangle shows through. */
    plimagefr(job->cols_ptr, (PLINT)job->cols, (PLINT)job->rows, job->x0, job->x1, job->y0, job->y1, 0.0, 1.0,
              0.0, 1.0, NULL, NULL);

    plcol0(COL_AXIS);
    plwidth(1.2 * s);
    PLFLT vx0, vx1, vy0, vy1;
    plgvpd(&vx0, &vx1, &vy0, &vy1);
    fsci__plot_axis_init(&fsci__plot_fmt[0], job->x0, job->x1, (vx1 - vx0) * width / 110.0);
    fsci__plot_axis_init(&fsci__plot_fmt[1], job->y0, job->y1, (vy1 - vy0) * height / 80.0);
    plslabelfunc(fsci__plot_tick_label, fsci__plot_fmt);
    plbox("bcnstio", fsci__plot_fmt[0].step, 0, "bcnstvio", fsci__plot_fmt[1].step, 0);
    fsci__plot_labels(job->tx.title, job->tx.xlabel, job->tx.ylabel, tb, 3.6, ydisp);

    /* Colour bar right of the image, as tall as the image. */
    PLINT label_opts[1] = {PL_COLORBAR_LABEL_RIGHT};
    const char *labels[1] = {fsci__plot_has_text(job->tx.cbar) ? job->tx.cbar : ""};
    const char *axis_opts[1] = {o->map.log10 ? "bcvtml" : "bcvtmo"};
    fsci__plot_axis_init(&fsci__plot_fmt[1], job->lo, job->hi, (vy1 - vy0) * height / 90.0);
    double vpw_mm = fmax((vx1 - vx0) * pw, 1.0);
    PLFLT ticks[1] = {o->map.log10 ? 0.0 : fsci__plot_fmt[1].step};
    PLINT sub_ticks[1] = {0};
    PLINT n_values[1] = {2};
    PLFLT vals[2] = {job->lo, job->hi};
    const PLFLT *values[1] = {vals};
    PLFLT cw, chh;
    plcol0(COL_AXIS);
    plschr(0.0, 0.95 * tb);
    plcolorbar(&cw, &chh, PL_COLORBAR_GRADIENT,
               PL_POSITION_RIGHT | PL_POSITION_OUTSIDE | PL_POSITION_VIEWPORT, 1.0 * ch / vpw_mm, 0.0,
               1.6 * ch / vpw_mm, 1.0, COL_BG, COL_AXIS, 1, 0.0, 0.0, 0, 0.0,
               fsci__plot_has_text(job->tx.cbar) ? 1 : 0, label_opts, labels, 1, axis_opts, ticks, sub_ticks,
               n_values, values);
    plslabelfunc(NULL, NULL);
    plschr(0.0, tb);
}

int fsci_plot_image(const char *path, const fsci_view *img, const fsci_plot_image_opts *o)
{
    static const char what[] = "image plot";
    static const fsci_plot_image_opts defaults = {0};
    int st = FSCI_OK;
    image_job job = {0};
    PLFLT *vals = NULL;
    PLFLT **colp = NULL;
    FSCI_CHECK(path && *path, FSCI_EINVAL, "%s: path is NULL or empty", what);
    if (!o) o = &defaults;
    int width, height;
    FSCI_TRY(fsci__plot_check_size(&width, &height, o->width, o->height, what));
    FSCI_TRY(fsci__plot_check_flag(o->origin_lower, what, "origin_lower"));
    FSCI_TRY(fsci__plot_check_flag(o->equal_aspect, what, "equal_aspect"));
    double lo, hi, fl;
    FSCI_TRY(fsci__cmap_scale(img, &o->map, what, &lo, &hi, &fl));
    int64_t rows = img->shape[0], cols = img->shape[1];
    FSCI_CHECK(rows <= 8192 && cols <= 8192, FSCI_EINVAL,
               "%s '%s': image %lld x %lld larger than 8192 x 8192; downsample first", what, path,
               (long long)rows, (long long)cols);
    double x0 = o->x0, x1 = o->x1, y0 = o->y0, y1 = o->y1;
    if (x0 == x1) {
        x0 = 0.0;
        x1 = (double)cols;
    }
    if (y0 == y1) {
        y0 = 0.0;
        y1 = (double)rows;
    }
    FSCI_CHECK(isfinite(x0) && isfinite(x1) && isfinite(y0) && isfinite(y1), FSCI_EINVAL,
               "%s '%s': extent x0 = %g, x1 = %g, y0 = %g, y1 = %g must be finite", what, path, x0, x1, y0,
               y1);

    vals = fsci_malloc((size_t)(rows * cols), sizeof(PLFLT));
    colp = fsci_malloc((size_t)cols, sizeof(PLFLT *));
    job.tx.arena = fsci_malloc(fsci__plot_esc_size(o->title) + fsci__plot_esc_size(o->xlabel) +
                                   fsci__plot_esc_size(o->ylabel) + fsci__plot_esc_size(o->cbar_label),
                               1);
    if (!vals || !colp || !job.tx.arena) {
        st = FSCI_ENOMEM;
        goto fail;
    }
    char *cur = job.tx.arena;
    job.tx.title = fsci__plot_esc_put(&cur, o->title);
    job.tx.xlabel = fsci__plot_esc_put(&cur, o->xlabel);
    job.tx.ylabel = fsci__plot_esc_put(&cur, o->ylabel);
    job.tx.cbar = fsci__plot_esc_put(&cur, o->cbar_label);
    for (int64_t c = 0; c < cols; c++) {
        colp[c] = vals + c * rows;
        for (int64_t r = 0; r < rows; r++) {
            double t = fsci__cmap_position(fsci__cmap_view_get(img, r, c), lo, hi, o->map.log10, fl);
            if (isnan(t)) {
                t = -1.0;
                job.any_bad = 1;
            }
            colp[c][r] = t;
        }
    }
    job.o = o;
    job.rows = rows;
    job.cols = cols;
    job.cols_ptr = (const PLFLT *const *)colp;
    job.x0 = x0;
    job.x1 = x1;
    job.y0 = y0;
    job.y1 = y1;
    job.lo = lo;
    job.hi = hi > lo ? hi : lo + 1.0;
    FSCI_TRY(fsci__plot_render(path, width, height, image_draw, &job, what));
fail:
    fsci_free(vals);
    fsci_free(colp);
    fsci_free(job.tx.arena);
    return st;
}
