/* Figures through PLplot's pngcairo driver.
 *
 * PLplot keeps its state in globals, so every figure runs under one
 * process-wide mutex, from device set-up to plend(). Inputs are validated and
 * all memory is allocated before the lock is taken.
 *
 * PLplot must never end the process. Its error paths are:
 *   - plabort(): the operation is skipped and the handler set by plsabort() is
 *     called; with plsError() the message goes to our buffer instead of
 *     stderr. We record the first message and fail the figure with FSCI_EIO.
 *   - plexit(): calls the handler set by plsexit() and then *always* calls
 *     exit(), using the handler's return value only as the exit status
 *     (src/plctrl.c in PLplot 5.15; checked against the installed library).
 *     So our exit handler does not return: while a figure is being drawn it
 *     longjmps back to the figure's set-up code, which then calls plend() to
 *     release PLplot's resources (itself guarded by a second jump point). If
 *     that clean-up fails too, PLplot is marked unusable and every later
 *     figure returns FSCI_EIO instead of touching it again.
 * We also never let PLplot open files or choose a device interactively: it
 * would prompt on stdin/stdout and plexit() after ten failed tries. The
 * output file is created by us (next to the target, renamed when complete)
 * and handed over with plsfile(); the pngcairo driver is looked up in
 * plgDevs() before plsdev(). */
#include <math.h>
#include <plplot.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/io/io_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/atomic.h"
#include "fastsci/core/error.h"
#include "fastsci/core/plot.h"

/* Exported by libplplot, declared only in its private plplotP.h. */
void plexit(const char *errormsg);

/* ------------------------------------------------------------ palette */

enum {
    COL_BG = 0,
    COL_AXIS = 1,
    COL_GRID = 2,
    COL_TEXT = 3,
    COL_SERIES = 4, /* 4 .. 4 + FSCI_PLOT_NCOLORS - 1 */
    COL_BAD = COL_SERIES + FSCI_PLOT_NCOLORS,
    COL_VLINE,
    COL_LEGEND_BOX,
    NCOL0
};

/* cmap0: background, axes, grid, text, then the ten "tab10" colours of
 * matplotlib (Tableau 10, as in matplotlib's _cm.py), then the bad colour,
 * vertical-marker grey and legend frame grey. */
static const PLINT pal_r[NCOL0] = {
    255, 38, 222, 34, 31, 255, 44, 214, 148, 140, 227, 127, 188, 23, FSCI_CMAP_BAD_R, 90, 170};
static const PLINT pal_g[NCOL0] = {
    255, 38, 222, 34, 119, 127, 160, 39, 103, 86, 119, 127, 189, 190, FSCI_CMAP_BAD_G, 90, 170};
static const PLINT pal_b[NCOL0] = {
    255, 38, 222, 34, 180, 14, 44, 40, 189, 75, 194, 127, 34, 207, FSCI_CMAP_BAD_B, 90, 170};

/* ------------------------------------------------------------ PLplot session */

static pthread_mutex_t plot_lock = PTHREAD_MUTEX_INITIALIZER;

/* Everything below is guarded by plot_lock. */
static jmp_buf pl_jmp;
static atomic_int pl_active; /* a figure is being drawn: the handlers act (atomic:
                                PLplot used elsewhere may call them unlocked) */
static int pl_file_given;    /* PLplot owns the output FILE (plsfile was called) */
static int pl_broken;        /* PLplot could not be cleaned up after a fatal error */
static int pl_fatal;         /* plexit() was called during this figure */
static int pl_driver_ok;     /* 0 unknown, 1 pngcairo present, -1 missing */
static int pl_naborts;
static PLINT pl_errcode;
static char pl_errmsg[2048]; /* filled by plabort() through plsError() */
static char pl_msg[512];     /* first abort or the fatal message */
static atomic_int pl_test_fault;

void fsci__plot_test_fault(int mode)
{
    atomic_store(&pl_test_fault, mode);
}

static int pl_exit_handler(const char *msg)
{
    if (!pl_active) return 1; /* PLplot used outside our figures: default behaviour */
    pl_fatal = 1;
    snprintf(pl_msg, sizeof pl_msg, "%s", msg ? msg : "");
    longjmp(pl_jmp, 1);
}

static void pl_abort_handler(const char *msg)
{
    if (!pl_active) return;
    if (pl_naborts++ == 0) snprintf(pl_msg, sizeof pl_msg, "%s", msg ? msg : "");
}

typedef void (*draw_fn)(void *ctx, int width, int height);

static int driver_available(void)
{
    const char *menu[128], *devs[128];
    const char **pm = menu, **pd = devs;
    int n = 128;
    plgDevs(&pm, &pd, &n);
    for (int i = 0; i < n; i++)
        if (devs[i] && strcmp(devs[i], "pngcairo") == 0) return 1;
    return -1;
}

/* Run one PLplot session writing to `f` (which PLplot takes over and closes
 * in plend()). Caller holds plot_lock. Returns FSCI_OK or a status with the
 * error recorded. */
static int pl_session(FILE *f, int width, int height, draw_fn draw, void *ctx, const char *what,
                      const char *path)
{
    pl_fatal = 0;
    pl_naborts = 0;
    pl_errcode = 0;
    pl_errmsg[0] = '\0';
    pl_msg[0] = '\0';
    pl_file_given = 0;
    plsexit(pl_exit_handler);
    plsabort(pl_abort_handler);
    pl_active = 1;
    if (setjmp(pl_jmp) == 0) {
        plsError(&pl_errcode, pl_errmsg);
        if (pl_driver_ok == 0) pl_driver_ok = driver_available();
        if (pl_driver_ok > 0) {
            plsdev("pngcairo");
            plsfile(f);
            pl_file_given = 1;
            plspage(0.0, 0.0, width, height, 0, 0);
            plscmap0(pal_r, pal_g, pal_b, NCOL0);
            plinit();
            PLINT level = 0;
            plglevel(&level);
            if (level >= 1) {
                pladv(0);
                draw(ctx, width, height);
                int fault = atomic_exchange(&pl_test_fault, 0);
                if (fault == 1) plexit("fsci test: injected fatal PLplot error");
                if (fault == 2) plcol0(NCOL0 + 50);
            } else if (pl_naborts == 0) {
                pl_naborts = 1;
                snprintf(pl_msg, sizeof pl_msg, "plinit did not initialise the device");
            }
            plend();
        }
    } else if (setjmp(pl_jmp) == 0) {
        plend(); /* release what PLplot holds after its fatal error */
    } else {
        pl_broken = 1;
    }
    pl_active = 0;
    if (!pl_file_given) {
        fclose(f);
    } else if (!pl_broken) {
        /* If PLplot did not get to close the output (plinit failed early),
         * close it here; it still points at our FILE. */
        FILE *still = NULL;
        plgfile(&still);
        if (still == f) {
            fclose(f);
            plsfile(NULL);
        }
    }
    if (!pl_broken) plsError(NULL, NULL);
    if (pl_driver_ok < 0)
        FSCI_CHECK(0, FSCI_ENOTSUP,
                   "%s '%s': PLplot's pngcairo driver is not installed "
                   "(Debian package plplot-driver-cairo)",
                   what, path);
    if (pl_fatal)
        FSCI_CHECK(0, FSCI_EIO, "%s '%s': PLplot fatal error: %s%s", what, path, pl_msg,
                   pl_broken ? " (PLplot is now unusable in this process)" : "");
    if (pl_naborts > 0 || pl_errcode != 0)
        FSCI_CHECK(0, FSCI_EIO, "%s '%s': PLplot error: %s", what, path, pl_msg[0] ? pl_msg : pl_errmsg);
    return FSCI_OK;
}

/* Draw a figure into `path` atomically: temporary file, PLplot session,
 * decode check of the result, rename. */
static int figure_render(const char *path, int width, int height, draw_fn draw, void *ctx, const char *what)
{
    int st = FSCI_OK;
    fsci_atomic *a = NULL;
    uint8_t *rgb = NULL;
    pthread_mutex_lock(&plot_lock);
    FSCI_CHECK_GOTO(!pl_broken, FSCI_EIO, "%s '%s': PLplot is unusable after an earlier fatal error (%s)",
                    what, path, pl_msg);
    FSCI_TRY(fsci_atomic_open(path, FSCI_ATOMIC_DEFAULT, &a));
    FILE *f = fsci_atomic_file(a);
    fsci_atomic_detach(a); /* closed by PLplot or by pl_session (unless PLplot broke) */
    FSCI_TRY(pl_session(f, width, height, draw, ctx, what, path));
    const char *tmp = fsci_atomic_temp_path(a);
    if (tmp) { /* NULL when writing a device in place (-o /dev/null): nothing to read back */
        int64_t w = 0, h = 0;
        st = fsci_png_read_rgb(tmp, &rgb, &w, &h);
        if (st != FSCI_OK) {
            char why[256];
            snprintf(why, sizeof why, "%s", fsci_error_message());
            FSCI_CHECK_GOTO(0, FSCI_EIO, "%s '%s': PLplot output is not a valid PNG (%s)", what, path, why);
        }
        FSCI_CHECK_GOTO(w == width && h == height, FSCI_EIO,
                        "%s '%s': PLplot produced %lld x %lld pixels instead of %d x %d", what, path,
                        (long long)w, (long long)h, width, height);
    }
    st = fsci_atomic_commit(&a);
fail:
    fsci_free(rgb);
    fsci_atomic_abort(&a);
    pthread_mutex_unlock(&plot_lock);
    return st;
}

/* ------------------------------------------------------------ drawing helpers */

/* Text and line sizes: 1 at 900 x 600, growing with the figure but more
 * slowly (square root) so that small figures keep readable text. */
static double figure_scale(int width, int height)
{
    double s = fmin((double)width / FSCI_PLOT_DEFAULT_WIDTH, (double)height / FSCI_PLOT_DEFAULT_HEIGHT);
    return fmin(fmax(sqrt(s), 0.75), 3.0);
}

/* Number of characters in a UTF-8 string (for layout estimates). */
static int utf8_len(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

static int has_text(const char *s)
{
    return s && *s;
}

/* plschr() scale giving 15-pixel characters times `s`: PLplot's default
 * character height grows with the page size, which we compensate for. */
static double text_base(int width, double s)
{
    PLFLT def, ht, x0, x1, y0, y1;
    plgchr(&def, &ht);
    plgspa(&x0, &x1, &y0, &y1);
    double px = def * width / fmax(x1 - x0, 1e-6);
    return px > 0.0 ? 15.0 * s / px : s;
}

/* User text is shown literally: PLplot's escape character '#' is doubled.
 * (Unicode such as "µm", "cm⁻²" or "σ" renders directly with pngcairo.) */
static size_t esc_size(const char *s)
{
    return s ? 2 * strlen(s) + 1 : 0;
}

static const char *esc_put(char **cur, const char *s)
{
    if (!s) return NULL;
    char *out = *cur, *p = *cur;
    for (; *s; s++) {
        if (*s == '#') *p++ = '#';
        *p++ = *s;
    }
    *p++ = '\0';
    *cur = p;
    return out;
}

/* Escaped copies of a figure's texts. */
typedef struct fig_text {
    const char *title, *xlabel, *ylabel, *cbar;
    char *arena;
} fig_text;

/* Character height in mm and page size in mm (after plinit). */
static void page_metrics(double *ch_mm, double *pw_mm, double *ph_mm)
{
    PLFLT def, ht, x0, x1, y0, y1;
    plgchr(&def, &ht);
    plgspa(&x0, &x1, &y0, &y1);
    *ch_mm = ht;
    *pw_mm = x1 - x0;
    *ph_mm = y1 - y0;
}

static void set_font(int bold)
{
    plsfont(PL_FCI_SANS, PL_FCI_UPRIGHT, bold ? PL_FCI_BOLD : PL_FCI_MEDIUM);
}

/* Title above the viewport and axis labels; `ydisp` is the distance of the
 * y label from the axis in character heights. */
static void draw_labels(const char *title, const char *xlabel, const char *ylabel, double tb, double xdisp,
                        double ydisp)
{
    plcol0(COL_TEXT);
    if (has_text(xlabel)) {
        plschr(0.0, 1.1 * tb);
        plmtex("b", xdisp, 0.5, 0.5, xlabel);
    }
    if (has_text(ylabel)) {
        plschr(0.0, 1.1 * tb);
        plmtex("l", ydisp, 0.5, 0.5, ylabel);
    }
    if (has_text(title)) {
        plschr(0.0, 1.3 * tb);
        set_font(1);
        plmtex("t", 1.3, 0.5, 0.5, title);
        set_font(0);
    }
    plschr(0.0, tb);
}

/* ---- tick labels
 * PLplot's own labels put a "(x10^n)" factor beside the axis, where it
 * collides with the title or leaves the page. Linear axes therefore get our
 * own tick step (1, 2 or 5 times a power of ten) and labels: plain decimals
 * for magnitudes in [1e-3, 1e6), else mantissa x 10^n on every label. */

typedef struct axis_fmt {
    double step;  /* tick interval */
    int decimals; /* digits after the point (of the mantissa with sci) */
    int sci;      /* 1: scientific labels */
    int exp10;    /* exponent for sci labels */
    int maxlen;   /* widest label drawn so far, in characters */
} axis_fmt;

static axis_fmt pl_fmt[2]; /* x, y (the colour bar uses y); guarded by plot_lock */

static void axis_fmt_init(axis_fmt *f, double lo, double hi, double nticks)
{
    double span = fabs(hi - lo);
    if (!(span > 0.0)) span = 1.0;
    double raw = span / fmax(nticks, 2.0);
    double mag = pow(10.0, floor(log10(raw)));
    double r = raw / mag;
    f->step = (r < 1.5 ? 1.0 : r < 3.5 ? 2.0 : r < 7.5 ? 5.0 : 10.0) * mag;
    double big = fmax(fabs(lo), fabs(hi));
    f->sci = big >= 1e6 || big < 1e-3;
    f->exp10 = f->sci ? (int)floor(log10(big)) : 0;
    double st = f->step / pow(10.0, f->exp10);
    int d = (int)-floor(log10(st) + 1e-9);
    f->decimals = d > 0 ? (d < 12 ? d : 12) : 0;
    f->maxlen = 0;
}

static void tick_label(PLINT axis, PLFLT v, char *out, PLINT len, PLPointer data)
{
    axis_fmt *f = &((axis_fmt *)data)[axis == PL_Y_AXIS ? 1 : 0];
    static const char minus[] = "\xe2\x88\x92"; /* U+2212 MINUS SIGN */
    const char *sign = v < 0.0 ? minus : "";
    if (fabs(v) < 1e-9 * f->step) {
        snprintf(out, (size_t)len, "0");
    } else if (!f->sci) {
        snprintf(out, (size_t)len, "%s%.*f", sign, f->decimals, fabs(v));
    } else { /* "2.5×10⁻⁴" with PLplot's superscript escapes */
        snprintf(out, (size_t)len,
                 "%s%.*f\xc3\x97"
                 "10#u%s%d#d",
                 sign, f->decimals, fabs(v) / pow(10.0, f->exp10), f->exp10 < 0 ? minus : "", abs(f->exp10));
    }
    /* Width in characters: UTF-8 lead bytes, not counting the escapes. */
    int vis = 0;
    for (const char *p = out; *p; p++) {
        if (p[0] == '#' && (p[1] == 'u' || p[1] == 'd')) {
            p++;
            continue;
        }
        if (((unsigned char)*p & 0xC0) != 0x80) vis++;
    }
    if (vis > f->maxlen) f->maxlen = vis;
}

/* Widest tick label (in characters) of a linear axis over [lo, hi]. */
static int axis_fmt_width(axis_fmt *f, double lo, double hi)
{
    axis_fmt tmp[2] = {*f, *f};
    tmp[0].maxlen = 0;
    char buf[64];
    double a = fmin(lo, hi), b = fmax(lo, hi);
    double k0 = ceil(a / f->step - 1e-9), k1 = floor(b / f->step + 1e-9);
    if (k1 - k0 > 1000) k1 = k0 + 1000;
    for (double k = k0; k <= k1; k += 1.0) tick_label(PL_X_AXIS, k * f->step, buf, sizeof buf, tmp);
    return tmp[0].maxlen > 0 ? tmp[0].maxlen : 1;
}

/* Left margin in character heights for y tick labels `ylen` characters wide
 * and an optional rotated axis label; the label's distance from the axis. */
static double left_margin(int ylen, int has_ylabel, int ticks_out, double *ydisp)
{
    *ydisp = 1.4 + 0.62 * ylen + (ticks_out ? 0.9 : 0.0);
    return has_ylabel ? 1.1 * (*ydisp + 1.0) + 0.8 : 1.0 + 0.62 * ylen + 1.0;
}

/* World units per pixel along x and y in the current viewport/window. */
static void world_per_pixel(int width, int height, double *ux, double *uy)
{
    PLFLT vx0, vx1, vy0, vy1, wx0, wx1, wy0, wy1;
    plgvpd(&vx0, &vx1, &vy0, &vy1);
    plgvpw(&wx0, &wx1, &wy0, &wy1);
    *ux = fabs(wx1 - wx0) / fmax((vx1 - vx0) * width, 1.0);
    *uy = fabs(wy1 - wy0) / fmax((vy1 - vy0) * height, 1.0);
}

/* Filled circle of radius r pixels at world (x, y). */
static void draw_disc(double x, double y, double r, double ux, double uy)
{
    enum { NSEG = 20 };
    PLFLT px[NSEG], py[NSEG];
    for (int k = 0; k < NSEG; k++) {
        double a = 2.0 * 3.14159265358979323846 * k / NSEG;
        px[k] = x + r * ux * cos(a);
        py[k] = y + r * uy * sin(a);
    }
    plfill(NSEG, px, py);
}

/* ------------------------------------------------------------ line plots */

typedef struct lines_job {
    const fsci_plot_series *series;
    int nseries;
    const fsci_plot_opts *o;
    double xlo, xhi, ylo, yhi; /* window, in log10 units on log axes */
    fig_text tx;
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

static void lines_draw(void *ctx, int width, int height)
{
    const lines_job *job = ctx;
    const fsci_plot_opts *o = job->o;
    double s = figure_scale(width, height);
    set_font(0);
    double tb = text_base(width, s);
    plschr(0.0, tb);
    double ch, pw, ph;
    page_metrics(&ch, &pw, &ph);

    /* Legend entries. */
    int nleg = 0, maxlab = 0;
    for (int i = 0; i < job->nseries; i++)
        if (has_text(job->slabel[i])) {
            nleg++;
            int l = utf8_len(job->slabel[i]);
            if (l > maxlab) maxlab = l;
        }
    int outside = o->legend == FSCI_LEGEND_OUTSIDE_RIGHT && nleg > 0;

    /* Viewport margins in character heights, converted to page fractions;
     * the left one fits the widest y tick label. */
    double bottom = (has_text(job->tx.xlabel) ? 4.6 : 3.0) * ch / ph;
    double top = 1.0 - (has_text(job->tx.title) ? 3.6 : 1.6) * ch / ph;
    axis_fmt_init(&pl_fmt[1], job->ylo, job->yhi, (top - bottom) * height / 80.0);
    int ylen = o->logy ? 4 : axis_fmt_width(&pl_fmt[1], job->ylo, job->yhi);
    double ydisp;
    double left = left_margin(ylen, has_text(job->tx.ylabel), 0, &ydisp) * ch / pw;
    double right = 1.0 - 2.5 * ch / pw;
    if (outside) right = 1.0 - (0.95 * (0.75 * maxlab + 7.5) + 1.6) * ch / pw;
    if (o->equal_aspect)
        plvpas(left, right, bottom, top, (job->yhi - job->ylo) / (job->xhi - job->xlo));
    else
        plvpor(left, right, bottom, top);
    plwind(job->xlo, job->xhi, job->ylo, job->yhi);
    PLFLT vx0, vx1, vy0, vy1;
    plgvpd(&vx0, &vx1, &vy0, &vy1);
    axis_fmt_init(&pl_fmt[0], job->xlo, job->xhi, (vx1 - vx0) * width / 110.0);
    axis_fmt_init(&pl_fmt[1], job->ylo, job->yhi, (vy1 - vy0) * height / 80.0);
    plslabelfunc(tick_label, pl_fmt);
    /* Log axes keep PLplot's decade labels (10^n); linear ones use ours. */
    double xt = o->logx ? 0.0 : pl_fmt[0].step, yt = o->logy ? 0.0 : pl_fmt[1].step;

    const char *xl = o->logx ? "l" : "o";
    const char *yl = o->logy ? "l" : "o";
    char xopt[16], yopt[16];
    if (!o->no_grid) {
        plcol0(COL_GRID);
        plwidth(1.0 * s);
        snprintf(xopt, sizeof xopt, "g%s", xl);
        snprintf(yopt, sizeof yopt, "g%s", yl);
        plbox(xopt, xt, 0, yopt, yt, 0);
    }

    /* Vertical marker lines (under the data). */
    for (int k = 0; k < o->nvlines; k++) {
        double vx = axis_coord(o->vlines[k].x, o->logx);
        if (isnan(vx) || vx < fmin(job->xlo, job->xhi) || vx > fmax(job->xlo, job->xhi)) continue;
        PLFLT lx[2] = {vx, vx}, ly[2] = {job->ylo, job->yhi};
        plcol0(COL_VLINE);
        plwidth(1.5 * s);
        pllsty(2);
        plline(2, lx, ly);
        pllsty(1);
        if (has_text(job->vlabel[k])) {
            double frac = (vx - job->xlo) / (job->xhi - job->xlo);
            double ux, uy;
            world_per_pixel(width, height, &ux, &uy);
            double off = 5.0 * s * ux;
            plschr(0.0, 0.9 * tb);
            double ty = job->yhi - 1.6 * ch * (job->yhi - job->ylo) / ((vy1 - vy0) * ph);
            if (frac < 0.75)
                plptex(vx + off, ty, 1.0, 0.0, 0.0, job->vlabel[k]);
            else
                plptex(vx - off, ty, 1.0, 0.0, 1.0, job->vlabel[k]);
            plschr(0.0, tb);
        }
    }

    /* Data. */
    double ux, uy;
    world_per_pixel(width, height, &ux, &uy);
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
                    draw_disc(job->bx[0], job->by[0], lw, ux, uy); /* isolated point */
                m = 0;
            }
        }
        if (sr->style != FSCI_PLOT_LINE) {
            double r = 4.0 * s * (sr->marker_size > 0.0 ? sr->marker_size : 1.0);
            for (int64_t j = 0; j < sr->n; j++) {
                double X = axis_coord(series_x(sr, j), o->logx);
                double Y = axis_coord(sr->y[j], o->logy);
                if (!isnan(X) && !isnan(Y)) draw_disc(X, Y, r, ux, uy);
            }
        }
    }

    /* Axes on top of the data. */
    plcol0(COL_AXIS);
    plwidth(1.2 * s);
    snprintf(xopt, sizeof xopt, "bcnst%s", xl);
    snprintf(yopt, sizeof yopt, "bcnstv%s", yl);
    plbox(xopt, xt, 0, yopt, yt, 0);
    draw_labels(job->tx.title, job->tx.xlabel, job->tx.ylabel, tb, 2.9, ydisp);
    plslabelfunc(NULL, NULL);

    /* Legend. */
    if (nleg > 0 && o->legend != FSCI_LEGEND_NONE) {
        PLINT *opts = job->lint, *tcol = opts + nleg, *lcol = tcol + nleg, *lsty = lcol + nleg;
        PLINT *scol = lsty + nleg, *snum = scol + nleg, *bcol = snum + nleg, *bpat = bcol + nleg;
        PLFLT *lwid = job->lflt, *sscale = lwid + nleg, *bscale = sscale + nleg;
        PLFLT *bwid = bscale + nleg;
        const char **text = job->lstr, **sym = text + nleg;
        int k = 0;
        for (int i = 0; i < job->nseries; i++) {
            const fsci_plot_series *sr = &job->series[i];
            if (!has_text(job->slabel[i])) continue;
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
        PLINT pos;
        switch (o->legend) {
        case FSCI_LEGEND_TOP_LEFT: pos = PL_POSITION_TOP | PL_POSITION_LEFT | PL_POSITION_INSIDE; break;
        case FSCI_LEGEND_BOTTOM_RIGHT:
            pos = PL_POSITION_BOTTOM | PL_POSITION_RIGHT | PL_POSITION_INSIDE;
            break;
        case FSCI_LEGEND_BOTTOM_LEFT: pos = PL_POSITION_BOTTOM | PL_POSITION_LEFT | PL_POSITION_INSIDE; break;
        case FSCI_LEGEND_OUTSIDE_RIGHT: /* top right of the page, level with the plot */
            pos = PL_POSITION_TOP | PL_POSITION_RIGHT | PL_POSITION_INSIDE | PL_POSITION_SUBPAGE;
            break;
        default: pos = PL_POSITION_TOP | PL_POSITION_RIGHT | PL_POSITION_INSIDE; break;
        }
        if (!outside) pos |= PL_POSITION_VIEWPORT;
        /* Sample line about 3 character heights long. */
        double sample = 3.0 * ch / ((right - left) * pw);
        PLFLT lw_out, lh_out;
        plschr(0.0, 0.95 * tb);
        pllegend(&lw_out, &lh_out, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, pos, outside ? 0.01 : 0.02,
                 outside ? 1.0 - top : 0.03, sample, COL_BG, COL_LEGEND_BOX, 1, 0, 0, nleg, opts, 1.0,
                 0.95 * tb, 2.0, 0.0, tcol, text, bcol, bpat, bscale, bwid, lcol, lsty, lwid, scol, sscale,
                 snum, sym);
        plschr(0.0, tb);
    }
}

static int check_flag(int v, const char *what, const char *field)
{
    FSCI_CHECK(v == 0 || v == 1, FSCI_EINVAL, "%s: %s must be 0 or 1, got %d", what, field, v);
    return FSCI_OK;
}

static int check_size(int *w, int *h, int ow, int oh, const char *what)
{
    *w = ow == 0 ? FSCI_PLOT_DEFAULT_WIDTH : ow;
    *h = oh == 0 ? FSCI_PLOT_DEFAULT_HEIGHT : oh;
    FSCI_CHECK(*w >= FSCI_PLOT_MIN_SIDE && *w <= FSCI_PLOT_MAX_SIDE && *h >= FSCI_PLOT_MIN_SIDE &&
                   *h <= FSCI_PLOT_MAX_SIDE,
               FSCI_EINVAL, "%s: width x height = %d x %d outside [%d, %d] (0 = default)", what, ow, oh,
               FSCI_PLOT_MIN_SIDE, FSCI_PLOT_MAX_SIDE);
    return FSCI_OK;
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
    FSCI_TRY(check_size(&width, &height, o->width, o->height, what));
    FSCI_TRY(check_flag(o->logx, what, "logx"));
    FSCI_TRY(check_flag(o->logy, what, "logy"));
    FSCI_TRY(check_flag(o->no_grid, what, "no_grid"));
    FSCI_TRY(check_flag(o->equal_aspect, what, "equal_aspect"));
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
    size_t tsize = esc_size(o->title) + esc_size(o->xlabel) + esc_size(o->ylabel);
    for (int i = 0; i < nseries; i++) tsize += esc_size(series[i].label);
    for (int k = 0; k < o->nvlines; k++) tsize += esc_size(o->vlines[k].label);
    job.tx.arena = fsci_malloc(tsize, 1);
    if (!job.bx || !job.by || !job.lint || !job.lflt || !job.lstr || !job.slabel || !job.vlabel ||
        !job.tx.arena) {
        st = FSCI_ENOMEM;
        goto fail;
    }
    char *cur = job.tx.arena;
    job.tx.title = esc_put(&cur, o->title);
    job.tx.xlabel = esc_put(&cur, o->xlabel);
    job.tx.ylabel = esc_put(&cur, o->ylabel);
    for (int i = 0; i < nseries; i++) job.slabel[i] = esc_put(&cur, series[i].label);
    for (int k = 0; k < o->nvlines; k++) job.vlabel[k] = esc_put(&cur, o->vlines[k].label);
    FSCI_TRY(figure_render(path, width, height, lines_draw, &job, what));
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

/* ------------------------------------------------------------ image plots */

typedef struct image_job {
    const fsci_plot_image_opts *o;
    fig_text tx;
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
    double s = figure_scale(width, height);
    set_font(0);
    double tb = text_base(width, s);
    plschr(0.0, tb);
    double ch, pw, ph;
    page_metrics(&ch, &pw, &ph);

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
    double bottom = (has_text(job->tx.xlabel) ? 5.4 : 3.6) * ch / ph;
    double top = 1.0 - (has_text(job->tx.title) ? 3.8 : 1.8) * ch / ph;
    axis_fmt cfmt;
    axis_fmt_init(&cfmt, job->lo, job->hi, (top - bottom) * height / 90.0);
    int clen = o->map.log10 ? 4 : axis_fmt_width(&cfmt, job->lo, job->hi);
    double cbar_room = 1.0 + 1.6 + 0.8 + 0.95 * 0.62 * clen + (has_text(job->tx.cbar) ? 2.4 : 0.0) + 1.0;
    axis_fmt_init(&pl_fmt[1], job->y0, job->y1, (top - bottom) * height / 80.0);
    double ydisp;
    double left =
        left_margin(axis_fmt_width(&pl_fmt[1], job->y0, job->y1), has_text(job->tx.ylabel), 1, &ydisp) * ch /
        pw;
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
    axis_fmt_init(&pl_fmt[0], job->x0, job->x1, (vx1 - vx0) * width / 110.0);
    axis_fmt_init(&pl_fmt[1], job->y0, job->y1, (vy1 - vy0) * height / 80.0);
    plslabelfunc(tick_label, pl_fmt);
    plbox("bcnstio", pl_fmt[0].step, 0, "bcnstvio", pl_fmt[1].step, 0);
    draw_labels(job->tx.title, job->tx.xlabel, job->tx.ylabel, tb, 3.6, ydisp);

    /* Colour bar right of the image, as tall as the image. */
    PLINT label_opts[1] = {PL_COLORBAR_LABEL_RIGHT};
    const char *labels[1] = {has_text(job->tx.cbar) ? job->tx.cbar : ""};
    const char *axis_opts[1] = {o->map.log10 ? "bcvtml" : "bcvtmo"};
    axis_fmt_init(&pl_fmt[1], job->lo, job->hi, (vy1 - vy0) * height / 90.0);
    double vpw_mm = fmax((vx1 - vx0) * pw, 1.0);
    PLFLT ticks[1] = {o->map.log10 ? 0.0 : pl_fmt[1].step};
    PLINT sub_ticks[1] = {0};
    PLINT n_values[1] = {2};
    PLFLT vals[2] = {job->lo, job->hi};
    const PLFLT *values[1] = {vals};
    PLFLT cw, chh;
    plcol0(COL_AXIS);
    plschr(0.0, 0.95 * tb);
    plcolorbar(&cw, &chh, PL_COLORBAR_GRADIENT,
               PL_POSITION_RIGHT | PL_POSITION_OUTSIDE | PL_POSITION_VIEWPORT, 1.0 * ch / vpw_mm, 0.0,
               1.6 * ch / vpw_mm, 1.0, COL_BG, COL_AXIS, 1, 0.0, 0.0, 0, 0.0, has_text(job->tx.cbar) ? 1 : 0,
               label_opts, labels, 1, axis_opts, ticks, sub_ticks, n_values, values);
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
    FSCI_TRY(check_size(&width, &height, o->width, o->height, what));
    FSCI_TRY(check_flag(o->origin_lower, what, "origin_lower"));
    FSCI_TRY(check_flag(o->equal_aspect, what, "equal_aspect"));
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
    job.tx.arena = fsci_malloc(
        esc_size(o->title) + esc_size(o->xlabel) + esc_size(o->ylabel) + esc_size(o->cbar_label), 1);
    if (!vals || !colp || !job.tx.arena) {
        st = FSCI_ENOMEM;
        goto fail;
    }
    char *cur = job.tx.arena;
    job.tx.title = esc_put(&cur, o->title);
    job.tx.xlabel = esc_put(&cur, o->xlabel);
    job.tx.ylabel = esc_put(&cur, o->ylabel);
    job.tx.cbar = esc_put(&cur, o->cbar_label);
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
    FSCI_TRY(figure_render(path, width, height, image_draw, &job, what));
fail:
    fsci_free(vals);
    fsci_free(colp);
    fsci_free(job.tx.arena);
    return st;
}
