#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/profile.h"
#include "fastsci/core/progress.h"

struct fsci_progress {
    char label[64];
    char unit[32];
    int64_t total;
    _Atomic int64_t done;
    double t_start;
    _Atomic double t_next;          /* next redraw time */
    _Atomic int64_t next_line_done; /* plain-line mode: next 10 % mark */
    int bar;                        /* resolved mode: 1 bar, 0 lines, -1 quiet */
    pthread_mutex_t lock;
};

static _Atomic int g_mode = FSCI_PROGRESS_AUTO;
static _Atomic double g_min_time = 1.0;
static fsci_text_sink g_sink;
static void *g_sink_ud;
static pthread_mutex_t g_sink_lock = PTHREAD_MUTEX_INITIALIZER;

void fsci_progress_set_mode(fsci_progress_mode mode)
{
    atomic_store(&g_mode, (int)mode);
}
fsci_progress_mode fsci_progress_get_mode(void)
{
    return (fsci_progress_mode)atomic_load(&g_mode);
}

void fsci_progress_set_min_time(double seconds)
{
    atomic_store(&g_min_time, seconds > 0 ? seconds : 0.0);
}

void fsci_progress_set_sink(fsci_text_sink sink, void *userdata)
{
    pthread_mutex_lock(&g_sink_lock);
    g_sink = sink;
    g_sink_ud = userdata;
    pthread_mutex_unlock(&g_sink_lock);
}

static void emit(const char *text)
{
    pthread_mutex_lock(&g_sink_lock);
    if (g_sink) {
        g_sink(text, g_sink_ud);
    } else {
        fputs(text, stderr);
        fflush(stderr);
    }
    pthread_mutex_unlock(&g_sink_lock);
}

void fsci_format_si(double v, char *buf, size_t cap)
{
    static const char *suffix[] = {"", "k", "M", "G", "T"};
    int k = 0;
    double a = fabs(v);
    while (a >= 1000.0 && k < 4) {
        a /= 1000.0;
        v /= 1000.0;
        k++;
    }
    if (k == 0 && a == floor(a))
        snprintf(buf, cap, "%.0f", v);
    else
        snprintf(buf, cap, a < 10 ? "%.2f%s" : a < 100 ? "%.1f%s" : "%.0f%s", v, suffix[k]);
}

static void format_duration(double s, char *buf, size_t cap)
{
    if (!isfinite(s) || s < 0) {
        snprintf(buf, cap, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

void fsci_warn(const char *fmt, ...)
{
    if (fsci_progress_get_mode() == FSCI_PROGRESS_QUIET) return;
    char msg[1024];
    int n = snprintf(msg, sizeof msg, "fastsci: warning: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n - 1, fmt, ap);
    va_end(ap);
    strcat(msg, "\n");
    emit(msg);
}

int fsci_progress_create(const char *label, int64_t total, const char *unit, fsci_progress **out)
{
    FSCI_CHECK(out, FSCI_EINVAL, "progress: NULL output");
    *out = NULL;
    FSCI_CHECK(total >= 0, FSCI_EINVAL, "progress: total %lld is negative", (long long)total);
    fsci_progress *p = fsci_calloc(1, sizeof *p);
    FSCI_CHECK(p, FSCI_ENOMEM, "progress: out of memory");
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "items");
    p->total = total;
    p->t_start = fsci_clock();
    p->next_line_done = total / 10 > 0 ? total / 10 : 1;
    switch (fsci_progress_get_mode()) {
    case FSCI_PROGRESS_QUIET: p->bar = -1; break;
    case FSCI_PROGRESS_BAR: p->bar = 1; break;
    case FSCI_PROGRESS_LINES: p->bar = 0; break;
    default: p->bar = isatty(fileno(stderr)) ? 1 : 0;
    }
    double wait = atomic_load(&g_min_time);
    atomic_store(&p->t_next, p->t_start + (p->bar == 1 ? (wait > 0.2 ? wait : 0.2) : 10.0));
    pthread_mutex_init(&p->lock, NULL);
    *out = p;
    return FSCI_OK;
}

static void render(fsci_progress *p, int64_t done, double now, int final)
{
    double el = now - p->t_start;
    double frac = p->total > 0 ? (double)done / (double)p->total : 1.0;
    if (frac > 1) frac = 1;
    double rate = el > 0 ? (double)done / el : 0;
    char srate[32], sdone[32], stotal[32], seta[32], sel[32], line[512];
    fsci_format_si(rate, srate, sizeof srate);
    fsci_format_si((double)done, sdone, sizeof sdone);
    fsci_format_si((double)p->total, stotal, sizeof stotal);
    format_duration(rate > 0 ? (double)(p->total - done) / rate : -1.0, seta, sizeof seta);
    format_duration(el, sel, sizeof sel);
    if (p->bar == 1) {
        char bar[31];
        int fill = (int)(frac * 30.0);
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        if (final)
            snprintf(line, sizeof line, "\r%s [%s] 100%% %s %s in %s (%s %s/s)\x1b[K\n", p->label, bar, sdone,
                     p->unit, sel, srate, p->unit);
        else
            snprintf(line, sizeof line, "\r%s [%s] %3.0f%% %s/%s %s %s/s ETA %s\x1b[K", p->label, bar,
                     100 * frac, sdone, stotal, srate, p->unit, seta);
    } else if (final) {
        snprintf(line, sizeof line, "%s: done, %s %s in %s (%s %s/s)\n", p->label, sdone, p->unit, sel, srate,
                 p->unit);
    } else {
        snprintf(line, sizeof line, "%s: %3.0f%% %s/%s %s, %s %s/s, ETA %s\n", p->label, 100 * frac, sdone,
                 stotal, p->unit, srate, p->unit, seta);
    }
    emit(line);
}

void fsci_progress_add(fsci_progress *p, int64_t delta)
{
    if (!p) return;
    int64_t done = atomic_fetch_add(&p->done, delta) + delta;
    if (p->bar < 0) return;
    double now = fsci_clock();
    if (now - p->t_start < atomic_load(&g_min_time)) return;
    int due = now >= atomic_load(&p->t_next) || (p->bar == 0 && done >= atomic_load(&p->next_line_done));
    if (!due || done >= p->total || pthread_mutex_trylock(&p->lock) != 0) return;
    render(p, done, now, 0);
    if (p->bar == 1) {
        atomic_store(&p->t_next, now + 0.1);
    } else {
        int64_t step = p->total / 10 > 0 ? p->total / 10 : 1, next = atomic_load(&p->next_line_done);
        while (next <= done) next += step;
        atomic_store(&p->next_line_done, next);
        atomic_store(&p->t_next, now + 10.0);
    }
    pthread_mutex_unlock(&p->lock);
}

void fsci_progress_finish(fsci_progress *p)
{
    if (!p || p->bar < 0) return;
    double now = fsci_clock();
    if (now - p->t_start < atomic_load(&g_min_time)) return;
    pthread_mutex_lock(&p->lock);
    render(p, atomic_load(&p->done), now, 1);
    pthread_mutex_unlock(&p->lock);
}

void fsci_progress_destroy(fsci_progress **p)
{
    if (!p || !*p) return;
    pthread_mutex_destroy(&(*p)->lock);
    fsci_free(*p);
    *p = NULL;
}
