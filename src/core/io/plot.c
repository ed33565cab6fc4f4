/* Figures through PLplot's pngcairo driver: the session, the palette and the
 * layout helpers shared by the figure kinds (plot_lines.c, plot_image.c).
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
#include "core/io/plot_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/atomic.h"
#include "fastsci/core/error.h"
#include "fastsci/core/plot.h"

/* Exported by libplplot, declared only in its private plplotP.h. */
void plexit(const char *errormsg);

/* ------------------------------------------------------------ palette */

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
static int pl_session(FILE *f, int width, int height, fsci__plot_draw_fn draw, void *ctx, const char *what,
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
int fsci__plot_render(const char *path, int width, int height, fsci__plot_draw_fn draw, void *ctx,
                      const char *what)
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
double fsci__plot_scale(int width, int height)
{
    double s = fmin((double)width / FSCI_PLOT_DEFAULT_WIDTH, (double)height / FSCI_PLOT_DEFAULT_HEIGHT);
    return fmin(fmax(sqrt(s), 0.75), 3.0);
}

/* Number of characters in a UTF-8 string (for layout estimates). */
int fsci__plot_utf8_len(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

/* plschr() scale giving 15-pixel characters times `s`: PLplot's default
 * character height grows with the page size, which we compensate for. */
double fsci__plot_text_base(int width, double s)
{
    PLFLT def, ht, x0, x1, y0, y1;
    plgchr(&def, &ht);
    plgspa(&x0, &x1, &y0, &y1);
    double px = def * width / fmax(x1 - x0, 1e-6);
    return px > 0.0 ? 15.0 * s / px : s;
}

/* User text is shown literally: PLplot's escape character '#' is doubled.
 * (Unicode such as "µm", "cm⁻²" or "σ" renders directly with pngcairo.) */
size_t fsci__plot_esc_size(const char *s)
{
    return s ? 2 * strlen(s) + 1 : 0;
}

const char *fsci__plot_esc_put(char **cur, const char *s)
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

/* Character height in mm and page size in mm (after plinit). */
void fsci__plot_page_metrics(double *ch_mm, double *pw_mm, double *ph_mm)
{
    PLFLT def, ht, x0, x1, y0, y1;
    plgchr(&def, &ht);
    plgspa(&x0, &x1, &y0, &y1);
    *ch_mm = ht;
    *pw_mm = x1 - x0;
    *ph_mm = y1 - y0;
}

void fsci__plot_set_font(int bold)
{
    plsfont(PL_FCI_SANS, PL_FCI_UPRIGHT, bold ? PL_FCI_BOLD : PL_FCI_MEDIUM);
}

/* Title above the viewport and axis labels; `ydisp` is the distance of the
 * y label from the axis in character heights. */
void fsci__plot_labels(const char *title, const char *xlabel, const char *ylabel, double tb, double xdisp,
                       double ydisp)
{
    plcol0(COL_TEXT);
    if (fsci__plot_has_text(xlabel)) {
        plschr(0.0, 1.1 * tb);
        plmtex("b", xdisp, 0.5, 0.5, xlabel);
    }
    if (fsci__plot_has_text(ylabel)) {
        plschr(0.0, 1.1 * tb);
        plmtex("l", ydisp, 0.5, 0.5, ylabel);
    }
    if (fsci__plot_has_text(title)) {
        plschr(0.0, 1.3 * tb);
        fsci__plot_set_font(1);
        plmtex("t", 1.3, 0.5, 0.5, title);
        fsci__plot_set_font(0);
    }
    plschr(0.0, tb);
}

/* ---- tick labels
 * PLplot's own labels put a "(x10^n)" factor beside the axis, where it
 * collides with the title or leaves the page. Linear axes therefore get our
 * own tick step (1, 2 or 5 times a power of ten) and labels: plain decimals
 * for magnitudes in [1e-3, 1e6), else mantissa x 10^n on every label. */

fsci__plot_axis fsci__plot_fmt[2]; /* guarded by plot_lock */

void fsci__plot_axis_init(fsci__plot_axis *f, double lo, double hi, double nticks)
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

void fsci__plot_tick_label(PLINT axis, PLFLT v, char *out, PLINT len, PLPointer data)
{
    fsci__plot_axis *f = &((fsci__plot_axis *)data)[axis == PL_Y_AXIS ? 1 : 0];
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
int fsci__plot_axis_width(fsci__plot_axis *f, double lo, double hi)
{
    fsci__plot_axis tmp[2] = {*f, *f};
    tmp[0].maxlen = 0;
    char buf[64];
    double a = fmin(lo, hi), b = fmax(lo, hi);
    double k0 = ceil(a / f->step - 1e-9), k1 = floor(b / f->step + 1e-9);
    if (k1 - k0 > 1000) k1 = k0 + 1000;
    for (double k = k0; k <= k1; k += 1.0)
        fsci__plot_tick_label(PL_X_AXIS, k * f->step, buf, sizeof buf, tmp);
    return tmp[0].maxlen > 0 ? tmp[0].maxlen : 1;
}

/* Left margin in character heights for y tick labels `ylen` characters wide
 * and an optional rotated axis label; the label's distance from the axis. */
double fsci__plot_left_margin(int ylen, int has_ylabel, int ticks_out, double *ydisp)
{
    *ydisp = 1.4 + 0.62 * ylen + (ticks_out ? 0.9 : 0.0);
    return has_ylabel ? 1.1 * (*ydisp + 1.0) + 0.8 : 1.0 + 0.62 * ylen + 1.0;
}

/* World units per pixel along x and y in the current viewport/window. */
void fsci__plot_world_per_pixel(int width, int height, double *ux, double *uy)
{
    PLFLT vx0, vx1, vy0, vy1, wx0, wx1, wy0, wy1;
    plgvpd(&vx0, &vx1, &vy0, &vy1);
    plgvpw(&wx0, &wx1, &wy0, &wy1);
    *ux = fabs(wx1 - wx0) / fmax((vx1 - vx0) * width, 1.0);
    *uy = fabs(wy1 - wy0) / fmax((vy1 - vy0) * height, 1.0);
}

/* Filled circle of radius r pixels at world (x, y). */
void fsci__plot_disc(double x, double y, double r, double ux, double uy)
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

int fsci__plot_check_flag(int v, const char *what, const char *field)
{
    FSCI_CHECK(v == 0 || v == 1, FSCI_EINVAL, "%s: %s must be 0 or 1, got %d", what, field, v);
    return FSCI_OK;
}

int fsci__plot_check_size(int *w, int *h, int ow, int oh, const char *what)
{
    *w = ow == 0 ? FSCI_PLOT_DEFAULT_WIDTH : ow;
    *h = oh == 0 ? FSCI_PLOT_DEFAULT_HEIGHT : oh;
    FSCI_CHECK(*w >= FSCI_PLOT_MIN_SIDE && *w <= FSCI_PLOT_MAX_SIDE && *h >= FSCI_PLOT_MIN_SIDE &&
                   *h <= FSCI_PLOT_MAX_SIDE,
               FSCI_EINVAL, "%s: width x height = %d x %d outside [%d, %d] (0 = default)", what, ow, oh,
               FSCI_PLOT_MIN_SIDE, FSCI_PLOT_MAX_SIDE);
    return FSCI_OK;
}
