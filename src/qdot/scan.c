/* qdot: scans over two gates (rows in parallel, each row in fixed blocks) and
 * the noise processes, drawn in scan order from Philox keyed by the pixel
 * index, so neither depends on the thread count. doc/qdot.md section 4. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/rng.h"
#include "qdot/qdot_impl.h"

/* Octaves of the Voss-McCartney 1/f generator: flat below 2^-16 cycles per pixel. */
#define PINK_OCTAVES 16

static int check_gates(const fsci_qdot_device *dev, int gx, int gy, const char *what)
{
    const int G = dev->p.ngates;
    FSCI_CHECK(gx >= 0 && gx < G, FSCI_EINVAL, "qdot %s: gate x %d is outside [0, %d)", what, gx, G);
    FSCI_CHECK(gy >= -1 && gy < G && gy != gx, FSCI_EINVAL,
               "qdot %s: gate y %d must be another gate below %d (or -1 for none)", what, gy, G);
    return FSCI_OK;
}

static int check_scan(const fsci_qdot_device *dev, const fsci_qdot_scan *s)
{
    FSCI__QDOT_RET(check_gates(dev, s->gx, s->gy, "scan"));
    FSCI_CHECK(s->nx >= 1 && s->ny >= 1 && s->nx <= (1 << 24) && s->ny <= (1 << 24), FSCI_EINVAL,
               "qdot scan: size %lld x %lld is outside [1, 2^24] per axis", (long long)s->ny,
               (long long)s->nx);
    FSCI_CHECK(s->gy >= 0 || s->ny == 1, FSCI_EINVAL, "qdot scan: %lld rows need a gate y", (long long)s->ny);
    const double v[4] = {s->x0, s->x1, s->y0, s->y1};
    for (int i = 0; i < 4; i++)
        FSCI_CHECK(isfinite(v[i]), FSCI_EINVAL, "qdot scan: voltage range end %d is %g", i, v[i]);
    for (int g = 0; g < dev->p.ngates; g++)
        FSCI_CHECK(isfinite(s->base[g]), FSCI_EINVAL, "qdot scan: base voltage of gate %d is %g", g,
                   s->base[g]);
    FSCI_CHECK(s->signal >= FSCI_QDOT_SENSOR && s->signal <= FSCI_QDOT_CHARGE, FSCI_EINVAL,
               "qdot scan: unknown signal %d", (int)s->signal);
    if (s->signal == FSCI_QDOT_CURRENT) {
        FSCI_CHECK(dev->p.ndots <= 2, FSCI_ENOTSUP,
                   "qdot scan: the transport current is modelled for one or two dots (this device has %d)",
                   dev->p.ndots);
        FSCI_CHECK(dev->p.kT > 0, FSCI_EINVAL, "qdot scan: the transport current needs kT > 0 (got %g)",
                   dev->p.kT);
    }
    return FSCI_OK;
}

static double axis(double a, double b, int64_t n, int64_t i)
{
    return n == 1 ? a : a + (b - a) * (double)i / (double)(n - 1);
}

/* Sensor jumps: a persistent shift of the sensor potential that changes at
 * each pixel with probability rate by a N(0, size) step; cumulative in scan
 * order. jump[n]. */
static void jumps(const fsci_qdot_noise *nz, uint64_t seed, uint64_t stream, int64_t n, double *jump)
{
    double off = 0;
    for (int64_t i = 0; i < n; i++) {
        fsci_rng r;
        fsci_rng_init(&r, seed, stream << 3 | FSCI__QDOT_NOISE_JUMP, (uint64_t)i, 0);
        if (fsci_rng_uniform(&r) < nz->jump_rate) off += nz->jump_size * fsci_rng_normal(&r);
        jump[i] = off;
    }
}

/* White, 1/f and telegraph noise added to out[n] in scan order. */
static void add_noise(const fsci_qdot_noise *nz, uint64_t seed, uint64_t stream, int64_t n, double *out)
{
    double oct[PINK_OCTAVES] = {0};
    const double pink_scale = nz->pink / sqrt((double)PINK_OCTAVES);
    int tel = 0;
    for (int64_t i = 0; i < n; i++) {
        fsci_rng r;
        double v = 0;
        if (nz->white > 0) {
            fsci_rng_init(&r, seed, stream << 3 | FSCI__QDOT_NOISE_WHITE, (uint64_t)i, 0);
            v += nz->white * fsci_rng_normal(&r);
        }
        if (nz->pink > 0) {
            /* octave k holds a N(0,1) value renewed every 2^k pixels */
            double sum = 0;
            for (int k = 0; k < PINK_OCTAVES; k++) {
                if ((i & (((int64_t)1 << k) - 1)) == 0) {
                    fsci_rng_init(&r, seed, stream << 3 | FSCI__QDOT_NOISE_PINK, (uint64_t)(i >> k),
                                  (uint64_t)k);
                    oct[k] = fsci_rng_normal(&r);
                }
                sum += oct[k];
            }
            v += pink_scale * sum;
        }
        if (nz->telegraph > 0) {
            fsci_rng_init(&r, seed, stream << 3 | FSCI__QDOT_NOISE_TELEGRAPH, (uint64_t)i, 0);
            double u = fsci_rng_uniform(&r);
            if (i == 0)
                tel = u < 0.5;
            else if (u < nz->telegraph_rate)
                tel = !tel;
            v += nz->telegraph * (tel - 0.5);
        }
        out[i] += v;
    }
}

int fsci_qdot_scan_run(const fsci_qdot_device *dev, const fsci_qdot_scan *s, double *out, int32_t *states)
{
    FSCI_CHECK(dev && s && out, FSCI_EINVAL, "qdot scan: NULL argument");
    FSCI__QDOT_RET(check_scan(dev, s));
    const fsci_qdot_noise *nz = &dev->p.noise;
    const int64_t nx = s->nx, ny = s->ny, n = nx * ny;
    const bool use_jump = s->noise && s->signal == FSCI_QDOT_SENSOR && nz->jump_rate > 0 && nz->jump_size > 0;
    /* the jump offsets are written into out and read back pixel by pixel */
    if (use_jump) jumps(nz, s->seed, s->stream, n, out);
    const int64_t wl = fsci__qdot_work_len(dev) + 2 * (int64_t)nx;
    int st = FSCI_OK;
#pragma omp parallel
    {
        double *work = fsci_malloc((size_t)wl, sizeof *work);
        if (work == NULL) {
#pragma omp atomic write
            st = FSCI_ENOMEM;
        } else {
            double *xs = work + fsci__qdot_work_len(dev), *ys = xs + nx;
            for (int64_t i = 0; i < nx; i++) xs[i] = axis(s->x0, s->x1, nx, i);
#pragma omp for schedule(static)
            for (int64_t j = 0; j < ny; j++) {
                const double yv = axis(s->y0, s->y1, ny, j);
                for (int64_t i = 0; i < nx; i++) ys[i] = yv;
                double *row = out + j * nx;
                fsci__qdot_eval(dev, s->signal, s->gx, s->gy, s->base, xs, ys, use_jump ? row : NULL, nx, row,
                                states ? states + j * nx : NULL, work);
            }
            fsci_free(work);
        }
    }
    FSCI_CHECK(st == FSCI_OK, st, "qdot scan: out of memory for the %lld-pixel work space", (long long)wl);
    if (s->noise) add_noise(nz, s->seed, s->stream, n, out);
    return FSCI_OK;
}

int fsci_qdot_signal_points(const fsci_qdot_device *dev, fsci_qdot_signal sig, int gx, int gy,
                            const double *base, const double *v1, const double *v2, int64_t n, double *out)
{
    FSCI_CHECK(dev && base && v1 && out && (v2 || gy < 0) && n >= 0, FSCI_EINVAL,
               "qdot signal: bad argument");
    fsci_qdot_scan probe = {.gx = gx, .gy = gy, .nx = 1, .ny = 1, .signal = sig};
    memcpy(probe.base, base, (size_t)dev->p.ngates * sizeof *base);
    FSCI__QDOT_RET(check_scan(dev, &probe));
    for (int64_t i = 0; i < n; i++)
        FSCI_CHECK(isfinite(v1[i]) && (gy < 0 || isfinite(v2[i])), FSCI_EINVAL,
                   "qdot signal: voltage point %lld is not finite (%g, %g)", (long long)i, v1[i],
                   gy < 0 ? 0.0 : v2[i]);
    const int64_t wl = fsci__qdot_work_len(dev) + FSCI__QDOT_BLOCK;
    const int64_t nb = (n + FSCI__QDOT_BLOCK - 1) / FSCI__QDOT_BLOCK;
    int st = FSCI_OK;
#pragma omp parallel
    {
        double *work = fsci_malloc((size_t)wl, sizeof *work);
        if (work == NULL) {
#pragma omp atomic write
            st = FSCI_ENOMEM;
        } else {
            double *zero = work + fsci__qdot_work_len(dev);
            memset(zero, 0, FSCI__QDOT_BLOCK * sizeof *zero);
#pragma omp for schedule(static)
            for (int64_t b = 0; b < nb; b++) {
                int64_t b0 = b * FSCI__QDOT_BLOCK, m = n - b0 < FSCI__QDOT_BLOCK ? n - b0 : FSCI__QDOT_BLOCK;
                fsci__qdot_eval(dev, sig, gx, gy, base, v1 + b0, gy < 0 ? zero : v2 + b0, NULL, m, out + b0,
                                NULL, work);
            }
            fsci_free(work);
        }
    }
    FSCI_CHECK(st == FSCI_OK, st, "qdot signal: out of memory");
    return FSCI_OK;
}
