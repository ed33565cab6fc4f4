/* Line plots (fsci_plot_lines): series as lines and/or markers, vertical
 * marker lines, legend; linear or log axes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/io/io_impl.h"
#include "core/io/plot_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/plot.h"

typedef struct lines_job {
    const fsci_plot_series *series;
    int nseries;
    const fsci_plot_opts *o;
    double xlo, xhi, ylo, yhi; /* window, in log10 units on log axes */
    fsci__plot_text tx;
    const char **slabel; /* escaped series labels (nseries) */
    const char **vlabel; /* escaped vertical-line labels (nvlines) */
    PLFLT *bx, *by;      /* workspace: the longest series */
    PLINT *lint;         /* legend workspace: 8 x nseries */
    PLFLT *lflt;         /* 4 x nseries */
    const char **lstr;   /* 2 x nseries */
} lines_job;

/* Plottable coordinate (log10 on a log axis), or NaN. */
static double axis_coord(double v, int logaxis)
{
    if (!isfinite(v)) return (double)NAN;
    if (logaxis) return v > 0.0 ? log10(v) : (double)NAN;
    return v;
}

static double series_x(const fsci_plot_series *s, int64_t i)
{
    return s->x ? s->x[i] : (double)i;
}

/* Page geometry of one line plot, shared by its drawing steps. */
typedef struct lines_layout {
    double s, tb;            /* line and text scale; plschr() base */
    double ch, pw, ph;       /* character height and page size (mm) */
    double left, right, top; /* viewport (page fractions) */
    double ydisp;            /* distance of the y label from the axis */
    PLFLT vy0, vy1;          /* viewport y extent as set */
    double xt, yt;           /* tick steps (0: PLplot's log decades) */
    int nleg, outside;       /* legend entries; legend right of the plot */
} lines_layout;

/* Fonts, margins, viewport, window and tick formats. */
static void lines_layout_set(const lines_job *job, int width, int height, lines_layout *L)
{
    const fsci_plot_opts *o = job->o;
    L->s = fsci__plot_scale(width, height);
    fsci__plot_set_font(0);
    L->tb = fsci__plot_text_base(width, L->s);
    plschr(0.0, L->tb);
    double ch, pw, ph;
    fsci__plot_page_metrics(&ch, &pw, &ph);
    L->ch = ch;
    L->pw = pw;
    L->ph = ph;

    /* Legend entries. */
    int nleg = 0, maxlab = 0;
    for (int i = 0; i < job->nseries; i++)
        if (fsci__plot_has_text(job->slabel[i])) {
            nleg++;
            int l = fsci__plot_utf8_len(job->slabel[i]);
            if (l > maxlab) maxlab = l;
        }
    L->nleg = nleg;
    L->outside = o->legend == FSCI_LEGEND_OUTSIDE_RIGHT && nleg > 0;

    /* Viewport margins in character heights, converted to page fractions;
     * the left one fits the widest y tick label. */
    double bottom = (fsci__plot_has_text(job->tx.xlabel) ? 4.6 : 3.0) * ch / ph;
    double top = 1.0 - (fsci__plot_has_text(job->tx.title) ? 3.6 : 1.6) * ch / ph;
    fsci__plot_axis_init(&fsci__plot_fmt[1], job->ylo, job->yhi, (top - bottom) * height / 80.0);
    int ylen = o->logy ? 4 : fsci__plot_axis_width(&fsci__plot_fmt[1], job->ylo, job->yhi);
    double left = fsci__plot_left_margin(ylen, fsci__plot_has_text(job->tx.ylabel), 0, &L->ydisp) * ch / pw;
    double right = 1.0 - 2.5 * ch / pw;
    if (L->outside) right = 1.0 - (0.95 * (0.75 * maxlab + 7.5) + 1.6) * ch / pw;
    if (o->equal_aspect)
        plvpas(left, right, bottom, top, (job->yhi - job->ylo) / (job->xhi - job->xlo));
    else
        plvpor(left, right, bottom, top);
    plwind(job->xlo, job->xhi, job->ylo, job->yhi);
    PLFLT vx0, vx1;
    plgvpd(&vx0, &vx1, &L->vy0, &L->vy1);
    fsci__plot_axis_init(&fsci__plot_fmt[0], job->xlo, job->xhi, (vx1 - vx0) * width / 110.0);
    fsci__plot_axis_init(&fsci__plot_fmt[1], job->ylo, job->yhi, (L->vy1 - L->vy0) * height / 80.0);
    plslabelfunc(fsci__plot_tick_label, fsci__plot_fmt);
    /* Log axes keep PLplot's decade labels (10^n); linear ones use ours. */
    L->xt = o->logx ? 0.0 : fsci__plot_fmt[0].step;
    L->yt = o->logy ? 0.0 : fsci__plot_fmt[1].step;
    L->left = left;
    L->right = right;
    L->top = top;
}

/* Vertical marker lines (drawn under the data) and their labels. */
static void lines_vlines(const lines_job *job, const lines_layout *L, int width, int height)
{
    const fsci_plot_opts *o = job->o;
    for (int k = 0; k < o->nvlines; k++) {
        double vx = axis_coord(o->vlines[k].x, o->logx);
        if (isnan(vx) || vx < fmin(job->xlo, job->xhi) || vx > fmax(job->xlo, job->xhi)) continue;
        PLFLT lx[2] = {vx, vx}, ly[2] = {job->ylo, job->yhi};
        plcol0(COL_VLINE);
        plwidth(1.5 * L->s);
        pllsty(2);
        plline(2, lx, ly);
        pllsty(1);
        if (fsci__plot_has_text(job->vlabel[k])) {
            double frac = (vx - job->xlo) / (job->xhi - job->xlo);
            double ux, uy;
            fsci__plot_world_per_pixel(width, height, &ux, &uy);
            double off = 5.0 * L->s * ux;
            plschr(0.0, 0.9 * L->tb);
            double ty = job->yhi - 1.6 * L->ch * (job->yhi - job->ylo) / ((L->vy1 - L->vy0) * L->ph);
            if (frac < 0.75)
                plptex(vx + off, ty, 1.0, 0.0, 0.0, job->vlabel[k]);
            else
                plptex(vx - off, ty, 1.0, 0.0, 1.0, job->vlabel[k]);
            plschr(0.0, L->tb);
        }
    }
}

/* The series: polylines broken at unplottable points, then markers. */
static void lines_series(const lines_job *job, double s, int width, int height)
{
    const fsci_plot_opts *o = job->o;
    double ux, uy;
    fsci__plot_world_per_pixel(width, height, &ux, &uy);
    for (int i = 0; i < job->nseries; i++) {
        const fsci_plot_series *sr = &job->series[i];
        int ci = sr->color > 0 ? sr->color - 1 : i % FSCI_PLOT_NCOLORS;
        plcol0(COL_SERIES + ci);
        double lw = (sr->line_width > 0.0 ? sr->line_width : 2.0) * s;
        if (sr->style != FSCI_PLOT_MARKERS) {
            plwidth(lw);
            int64_t m = 0;
            for (int64_t j = 0; j <= sr->n; j++) {
                double X = j < sr->n ? axis_coord(series_x(sr, j), o->logx) : (double)NAN;
                double Y = j < sr->n ? axis_coord(sr->y[j], o->logy) : (double)NAN;
                if (!isnan(X) && !isnan(Y)) {
                    job->bx[m] = X;
                    job->by[m] = Y;
                    m++;
                    continue;
                }
                if (m >= 2)
                    plline((PLINT)m, job->bx, job->by);
                else if (m == 1 && sr->style == FSCI_PLOT_LINE)
                    fsci__plot_disc(job->bx[0], job->by[0], lw, ux, uy); /* isolated point */
                m = 0;
            }
        }
        if (sr->style != FSCI_PLOT_LINE) {
            double r = 4.0 * s * (sr->marker_size > 0.0 ? sr->marker_size : 1.0);
            for (int64_t j = 0; j < sr->n; j++) {
                double X = axis_coord(series_x(sr, j), o->logx);
                double Y = axis_coord(sr->y[j], o->logy);
                if (!isnan(X) && !isnan(Y)) fsci__plot_disc(X, Y, r, ux, uy);
            }
        }
    }
}

/* PLplot legend position for o->legend (inside the viewport unless outside). */
static PLINT legend_position(fsci_plot_legend legend, int outside)
{
    PLINT pos;
    switch (legend) {
    case FSCI_LEGEND_TOP_LEFT: pos = PL_POSITION_TOP | PL_POSITION_LEFT | PL_POSITION_INSIDE; break;
    case FSCI_LEGEND_BOTTOM_RIGHT: pos = PL_POSITION_BOTTOM | PL_POSITION_RIGHT | PL_POSITION_INSIDE; break;
    case FSCI_LEGEND_BOTTOM_LEFT: pos = PL_POSITION_BOTTOM | PL_POSITION_LEFT | PL_POSITION_INSIDE; break;
    case FSCI_LEGEND_OUTSIDE_RIGHT: /* top right of the page, level with the plot */
        pos = PL_POSITION_TOP | PL_POSITION_RIGHT | PL_POSITION_INSIDE | PL_POSITION_SUBPAGE;
        break;
    default: pos = PL_POSITION_TOP | PL_POSITION_RIGHT | PL_POSITION_INSIDE; break;
    }
    if (!outside) pos |= PL_POSITION_VIEWPORT;
    return pos;
}

/* Legend of the labelled series, in the job's workspaces. */
static void lines_legend(const lines_job *job, const lines_layout *L)
{
    const fsci_plot_opts *o = job->o;
    int nleg = L->nleg;
    double s = L->s, tb = L->tb;
    PLINT *opts = job->lint, *tcol = opts + nleg, *lcol = tcol + nleg, *lsty = lcol + nleg;
    PLINT *scol = lsty + nleg, *snum = scol + nleg, *bcol = snum + nleg, *bpat = bcol + nleg;
    PLFLT *lwid = job->lflt, *sscale = lwid + nleg, *bscale = sscale + nleg;
    PLFLT *bwid = bscale + nleg;
    const char **text = job->lstr, **sym = text + nleg;
    int k = 0;
    for (int i = 0; i < job->nseries; i++) {
        const fsci_plot_series *sr = &job->series[i];
        if (!fsci__plot_has_text(job->slabel[i])) continue;
        int ci = sr->color > 0 ? sr->color - 1 : i % FSCI_PLOT_NCOLORS;
        opts[k] = (sr->style != FSCI_PLOT_MARKERS ? PL_LEGEND_LINE : 0) |
                  (sr->style != FSCI_PLOT_LINE ? PL_LEGEND_SYMBOL : 0);
        tcol[k] = COL_TEXT;
        lcol[k] = scol[k] = COL_SERIES + ci;
        lsty[k] = 1;
        lwid[k] = (sr->line_width > 0.0 ? sr->line_width : 2.0) * s;
        sscale[k] = 0.7 * tb * (sr->marker_size > 0.0 ? sr->marker_size : 1.0);
        snum[k] = sr->style == FSCI_PLOT_MARKERS ? 3 : 2;
        sym[k] = "\xe2\x97\x8f"; /* U+25CF BLACK CIRCLE */
        bcol[k] = bpat[k] = 0;
        bscale[k] = bwid[k] = 0.0;
        text[k] = job->slabel[i];
        k++;
    }
    PLINT pos = legend_position(o->legend, L->outside);
    /* Sample line about 3 character heights long. */
    double sample = 3.0 * L->ch / ((L->right - L->left) * L->pw);
    PLFLT lw_out, lh_out;
    plschr(0.0, 0.95 * tb);
    pllegend(&lw_out, &lh_out, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, pos, L->outside ? 0.01 : 0.02,
             L->outside ? 1.0 - L->top : 0.03, sample, COL_BG, COL_LEGEND_BOX, 1, 0, 0, nleg, opts, 1.0,
             0.95 * tb, 2.0, 0.0, tcol, text, bcol, bpat, bscale, bwid, lcol, lsty, lwid, scol, sscale, snum,
             sym);
    plschr(0.0, tb);
}

static void lines_draw(void *ctx, int width, int height)
{
    const lines_job *job = ctx;
    const fsci_plot_opts *o = job->o;
    lines_layout L;
    lines_layout_set(job, width, height, &L);

    const char *xl = o->logx ? "l" : "o";
    const char *yl = o->logy ? "l" : "o";
    char xopt[16], yopt[16];
    if (!o->no_grid) {
        plcol0(COL_GRID);
        plwidth(1.0 * L.s);
        snprintf(xopt, sizeof xopt, "g%s", xl);
        snprintf(yopt, sizeof yopt, "g%s", yl);
        plbox(xopt, L.xt, 0, yopt, L.yt, 0);
    }
    lines_vlines(job, &L, width, height);
    lines_series(job, L.s, width, height);

    /* Axes on top of the data. */
    plcol0(COL_AXIS);
    plwidth(1.2 * L.s);
    snprintf(xopt, sizeof xopt, "bcnst%s", xl);
    snprintf(yopt, sizeof yopt, "bcnstv%s", yl);
    plbox(xopt, L.xt, 0, yopt, L.yt, 0);
    fsci__plot_labels(job->tx.title, job->tx.xlabel, job->tx.ylabel, L.tb, 2.9, L.ydisp);
    plslabelfunc(NULL, NULL);

    if (L.nleg > 0 && o->legend != FSCI_LEGEND_NONE) lines_legend(job, &L);
}

/* Range of one axis: fixed (lo != hi) or from the data with a margin. */
static int axis_range(double fixed_lo, double fixed_hi, int logaxis, double dlo, double dhi, double margin,
                      const char *what, const char *axis, double *lo, double *hi)
{
    if (fixed_lo != fixed_hi) {
        FSCI_CHECK(isfinite(fixed_lo) && isfinite(fixed_hi) && fixed_lo < fixed_hi, FSCI_EINVAL,
                   "%s: %smin = %g, %smax = %g: need finite min < max (or equal for automatic)", what, axis,
                   fixed_lo, axis, fixed_hi);
        FSCI_CHECK(!logaxis || fixed_lo > 0.0, FSCI_EINVAL, "%s: %smin = %g must be > 0 on a log axis", what,
                   axis, fixed_lo);
        *lo = logaxis ? log10(fixed_lo) : fixed_lo;
        *hi = logaxis ? log10(fixed_hi) : fixed_hi;
        return FSCI_OK;
    }
    if (dlo == dhi) {
        double d = logaxis ? 0.5 : fmax(0.5 * fabs(dlo), 0.5);
        dlo -= d;
        dhi += d;
    } else {
        double d = margin * (dhi - dlo);
        dlo -= d;
        dhi += d;
    }
    *lo = dlo;
    *hi = dhi;
    return FSCI_OK;
}

int fsci_plot_lines(const char *path, const fsci_plot_series *series, int nseries, const fsci_plot_opts *o)
{
    static const char what[] = "line plot";
    static const fsci_plot_opts defaults = {0};
    int st = FSCI_OK;
    lines_job job = {0};
    FSCI_CHECK(path && *path, FSCI_EINVAL, "%s: path is NULL or empty", what);
    FSCI_CHECK(series, FSCI_EINVAL, "%s '%s': series is NULL", what, path);
    FSCI_CHECK(nseries >= 1 && nseries <= 1000, FSCI_EINVAL, "%s '%s': nseries = %d outside [1, 1000]", what,
               path, nseries);
    if (!o) o = &defaults;
    int width, height;
    FSCI_TRY(fsci__plot_check_size(&width, &height, o->width, o->height, what));
    FSCI_TRY(fsci__plot_check_flag(o->logx, what, "logx"));
    FSCI_TRY(fsci__plot_check_flag(o->logy, what, "logy"));
    FSCI_TRY(fsci__plot_check_flag(o->no_grid, what, "no_grid"));
    FSCI_TRY(fsci__plot_check_flag(o->equal_aspect, what, "equal_aspect"));
    FSCI_CHECK(!o->equal_aspect || (!o->logx && !o->logy), FSCI_EINVAL,
               "%s '%s': equal_aspect needs linear axes", what, path);
    FSCI_CHECK((int)o->legend >= 0 && o->legend <= FSCI_LEGEND_NONE, FSCI_EINVAL,
               "%s '%s': legend = %d is not a valid position", what, path, (int)o->legend);
    FSCI_CHECK(o->nvlines >= 0 && o->nvlines <= 100 && (o->nvlines == 0 || o->vlines), FSCI_EINVAL,
               "%s '%s': nvlines = %d (vlines %s); need 0..100 entries", what, path, o->nvlines,
               o->vlines ? "set" : "NULL");

    double xmn = HUGE_VAL, xmx = -HUGE_VAL, ymn = HUGE_VAL, ymx = -HUGE_VAL;
    int64_t nmax = 1;
    for (int i = 0; i < nseries; i++) {
        const fsci_plot_series *sr = &series[i];
        FSCI_CHECK(sr->y, FSCI_EINVAL, "%s '%s': series[%d].y is NULL", what, path, i);
        FSCI_CHECK(sr->n >= 1 && sr->n <= INT32_MAX, FSCI_EINVAL,
                   "%s '%s': series[%d].n = %lld outside [1, 2^31-1]", what, path, i, (long long)sr->n);
        FSCI_CHECK(sr->style >= FSCI_PLOT_LINE && sr->style <= FSCI_PLOT_LINE_MARKERS, FSCI_EINVAL,
                   "%s '%s': series[%d].style = %d is not a valid style", what, path, i, (int)sr->style);
        FSCI_CHECK(sr->color >= 0 && sr->color <= FSCI_PLOT_NCOLORS, FSCI_EINVAL,
                   "%s '%s': series[%d].color = %d outside [0, %d]", what, path, i, sr->color,
                   FSCI_PLOT_NCOLORS);
        FSCI_CHECK(isfinite(sr->line_width) && sr->line_width >= 0.0 && sr->line_width <= 50.0, FSCI_EINVAL,
                   "%s '%s': series[%d].line_width = %g outside [0, 50]", what, path, i, sr->line_width);
        FSCI_CHECK(isfinite(sr->marker_size) && sr->marker_size >= 0.0 && sr->marker_size <= 20.0,
                   FSCI_EINVAL, "%s '%s': series[%d].marker_size = %g outside [0, 20]", what, path, i,
                   sr->marker_size);
        if (sr->n > nmax) nmax = sr->n;
        for (int64_t j = 0; j < sr->n; j++) {
            double X = axis_coord(series_x(sr, j), o->logx), Y = axis_coord(sr->y[j], o->logy);
            if (isnan(X) || isnan(Y)) continue;
            xmn = fmin(xmn, X);
            xmx = fmax(xmx, X);
            ymn = fmin(ymn, Y);
            ymx = fmax(ymx, Y);
        }
    }
    FSCI_CHECK(xmn <= xmx, FSCI_EINVAL, "%s '%s': no series has a plottable point (all non-finite%s)", what,
               path, o->logx || o->logy ? " or <= 0 on a log axis" : "");
    for (int k = 0; k < o->nvlines; k++) {
        FSCI_CHECK(isfinite(o->vlines[k].x), FSCI_EINVAL, "%s '%s': vlines[%d].x = %g is not finite", what,
                   path, k, o->vlines[k].x);
        double vx = axis_coord(o->vlines[k].x, o->logx);
        if (!isnan(vx)) {
            xmn = fmin(xmn, vx);
            xmx = fmax(xmx, vx);
        }
    }
    FSCI_TRY(axis_range(o->xmin, o->xmax, o->logx, xmn, xmx, 0.02, what, "x", &job.xlo, &job.xhi));
    FSCI_TRY(axis_range(o->ymin, o->ymax, o->logy, ymn, ymx, 0.05, what, "y", &job.ylo, &job.yhi));

    job.series = series;
    job.nseries = nseries;
    job.o = o;
    job.bx = fsci_malloc((size_t)nmax, sizeof(PLFLT));
    job.by = fsci_malloc((size_t)nmax, sizeof(PLFLT));
    job.lint = fsci_malloc((size_t)nseries * 8, sizeof(PLINT));
    job.lflt = fsci_malloc((size_t)nseries * 4, sizeof(PLFLT));
    job.lstr = fsci_malloc((size_t)nseries * 2, sizeof(const char *));
    job.slabel = fsci_malloc((size_t)nseries, sizeof(const char *));
    job.vlabel = fsci_malloc((size_t)o->nvlines, sizeof(const char *));
    size_t tsize =
        fsci__plot_esc_size(o->title) + fsci__plot_esc_size(o->xlabel) + fsci__plot_esc_size(o->ylabel);
    for (int i = 0; i < nseries; i++) tsize += fsci__plot_esc_size(series[i].label);
    for (int k = 0; k < o->nvlines; k++) tsize += fsci__plot_esc_size(o->vlines[k].label);
    job.tx.arena = fsci_malloc(tsize, 1);
    if (!job.bx || !job.by || !job.lint || !job.lflt || !job.lstr || !job.slabel || !job.vlabel ||
        !job.tx.arena) {
        st = FSCI_ENOMEM;
        goto fail;
    }
    char *cur = job.tx.arena;
    job.tx.title = fsci__plot_esc_put(&cur, o->title);
    job.tx.xlabel = fsci__plot_esc_put(&cur, o->xlabel);
    job.tx.ylabel = fsci__plot_esc_put(&cur, o->ylabel);
    for (int i = 0; i < nseries; i++) job.slabel[i] = fsci__plot_esc_put(&cur, series[i].label);
    for (int k = 0; k < o->nvlines; k++) job.vlabel[k] = fsci__plot_esc_put(&cur, o->vlines[k].label);
    FSCI_TRY(fsci__plot_render(path, width, height, lines_draw, &job, what));
fail:
    fsci_free(job.bx);
    fsci_free(job.by);
    fsci_free(job.lint);
    fsci_free(job.lflt);
    fsci_free((void *)job.lstr);
    fsci_free((void *)job.slabel);
    fsci_free((void *)job.vlabel);
    fsci_free(job.tx.arena);
    return st;
}
