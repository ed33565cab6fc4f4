#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "fastsci/core/error.h"
#include "fastsci/core/profile.h"
#include "profile_impl.h"

enum { NAME_CAP = 48 };

static struct {
    char name[NAME_CAP];
    int64_t calls;
    double seconds, bytes, flops;
} g_events[FSCI_PROFILE_MAX_EVENTS];
static int g_nevents;
static atomic_bool g_enabled;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

/* A replacement clock for tests (NULL: the real one). */
static _Atomic(fsci__clock_fn) g_clock;

void fsci__profile_set_clock(fsci__clock_fn now)
{
    atomic_store(&g_clock, now);
}

double fsci_clock(void)
{
    fsci__clock_fn fake = atomic_load_explicit(&g_clock, memory_order_relaxed);
    if (fake) return fake();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int fsci_profile_register(const char *name, fsci_event *id)
{
    FSCI_CHECK(name && id, FSCI_EINVAL, "profile: NULL event name or id");
    if (*id >= 0) return FSCI_OK;
    int st = FSCI_OK;
    pthread_mutex_lock(&g_lock);
    int found = -1;
    for (int i = 0; i < g_nevents; i++)
        if (strncmp(g_events[i].name, name, NAME_CAP - 1) == 0) found = i;
    if (found < 0 && g_nevents < FSCI_PROFILE_MAX_EVENTS) {
        found = g_nevents++;
        strncpy(g_events[found].name, name, NAME_CAP - 1);
    }
    pthread_mutex_unlock(&g_lock);
    if (found < 0)
        st = fsci_error_set(FSCI_ERANGE, __FILE__, __LINE__, __func__,
                            "profile: more than %d events (registering '%s')", FSCI_PROFILE_MAX_EVENTS, name);
    else
        *id = found;
    return st;
}

void fsci_profile_enable(bool on)
{
    atomic_store(&g_enabled, on);
}
bool fsci_profile_enabled(void)
{
    return atomic_load(&g_enabled);
}

double fsci_profile_begin(fsci_event id)
{
    (void)id;
    return atomic_load(&g_enabled) ? fsci_clock() : 0.0;
}

void fsci_profile_end(fsci_event id, double t0, double bytes, double flops)
{
    if (!atomic_load(&g_enabled)) return;
    fsci_profile_add(id, fsci_clock() - t0, 1, bytes, flops);
}

void fsci_profile_add(fsci_event id, double seconds, int64_t calls, double bytes, double flops)
{
    if (!atomic_load(&g_enabled) || id < 0 || id >= FSCI_PROFILE_MAX_EVENTS) return;
    pthread_mutex_lock(&g_lock);
    g_events[id].calls += calls;
    g_events[id].seconds += seconds;
    g_events[id].bytes += bytes;
    g_events[id].flops += flops;
    pthread_mutex_unlock(&g_lock);
}

int fsci_profile_count(void)
{
    pthread_mutex_lock(&g_lock);
    int n = g_nevents;
    pthread_mutex_unlock(&g_lock);
    return n;
}

int fsci_profile_get(int i, fsci_profile_entry *out)
{
    FSCI_CHECK(out, FSCI_EINVAL, "profile: NULL output");
    int st = FSCI_OK;
    pthread_mutex_lock(&g_lock);
    if (i < 0 || i >= g_nevents) {
        st = FSCI_ERANGE;
    } else {
        out->name = g_events[i].name;
        out->calls = g_events[i].calls;
        out->seconds = g_events[i].seconds;
        out->bytes = g_events[i].bytes;
        out->flops = g_events[i].flops;
    }
    pthread_mutex_unlock(&g_lock);
    if (st) return fsci_error_set(st, __FILE__, __LINE__, __func__, "profile: no event %d", i);
    return FSCI_OK;
}

void fsci_profile_reset(void)
{
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < g_nevents; i++) {
        g_events[i].calls = 0;
        g_events[i].seconds = g_events[i].bytes = g_events[i].flops = 0;
    }
    pthread_mutex_unlock(&g_lock);
}

void fsci_profile_report(FILE *f)
{
    fprintf(f, "%-28s %8s %10s %10s %9s %9s\n", "event", "calls", "total s", "ms/call", "GB/s", "GFLOP/s");
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < g_nevents; i++) {
        if (g_events[i].calls == 0) continue;
        double s = g_events[i].seconds;
        char gbs[16] = "-", gfl[16] = "-";
        if (g_events[i].bytes > 0 && s > 0) snprintf(gbs, sizeof gbs, "%.2f", g_events[i].bytes / s * 1e-9);
        if (g_events[i].flops > 0 && s > 0) snprintf(gfl, sizeof gfl, "%.2f", g_events[i].flops / s * 1e-9);
        fprintf(f, "%-28s %8lld %10.4f %10.3f %9s %9s\n", g_events[i].name, (long long)g_events[i].calls, s,
                1e3 * s / (double)g_events[i].calls, gbs, gfl);
    }
    pthread_mutex_unlock(&g_lock);
}
