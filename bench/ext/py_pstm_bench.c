/* Benchmark hook of the pstm engine: the core's peak for the kernel's flop mix.
 *
 * The migration kernel (doc/pstm.md §1, AA off, 2-D weights) per output
 * sample: two square roots for the double-square-root time, one division
 * shared by 1/ts and 1/tg, the square root of the spreading factor, the
 * angle-cone clamp and about twenty adds and multiplies; plus two gathered
 * trace samples. This loop does the same arithmetic on L1-resident tables with
 * the gathers replaced by arithmetic, so its rate (samples/s) bounds what the
 * kernel can reach on this core: the "peak for the flop mix" of the issue. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <omp.h>
#include <time.h>

#include "fastsci/fastsci.h"

PyObject *fsci_bench_pstm_mix_peak(PyObject *self, PyObject *args, PyObject *kw);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* One column of nt samples against one pair (ds2, dg2, r). */
static void column(const float *restrict Q, const float *restrict S, const float *restrict rho,
                   const float *restrict irho, const float *restrict tauh, float *restrict img, int nt,
                   float ds2, float dg2, float r, float idt, float t0, float wap)
{
#pragma omp simd
    for (int k = 0; k < nt; k++) {
        const float ts = sqrtf(Q[k] + ds2 * S[k]), tg = sqrtf(Q[k] + dg2 * S[k]);
        const float u = (ts + tg - t0) * idt;
        const float v = 0.25f + u * 1e-3f;   /* stands for the lerp of two samples */
        float wang = (rho[k] - r) * irho[k]; /* clamped to [0, 1], branch-free */
        wang = wang > 0.0f ? wang : 0.0f;
        wang = wang < 1.0f ? wang : 1.0f;
        const float inv = 1.0f / (ts * tg), its = tg * inv, itg = ts * inv;
        const float cb = 0.5f * tauh[k] * (its + itg);
        const float a = cb * 2.0f * tauh[k] * sqrtf(inv); /* (tau/2) / sqrt(ts tg), as the kernel */
        img[k] += wap * wang * a * v;
    }
}

PyObject *fsci_bench_pstm_mix_peak(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"nt", "pairs", "threads", NULL};
    int nt = 1000, threads = 1;
    Py_ssize_t npairs = 200000;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|ini", kwlist, &nt, &npairs, &threads)) return NULL;
    if (nt < 16 || nt > 100000 || npairs < 1 || threads < 1)
        return PyErr_Format(PyExc_ValueError, "pstm_mix_peak: bad nt/pairs/threads");
    const int nthr = threads;
    float *tab = fsci_malloc((size_t)(5 + nthr) * (size_t)nt, sizeof(float));
    if (!tab) return PyErr_NoMemory();
    float *Q = tab, *S = Q + nt, *rho = S + nt, *irho = rho + nt, *tauh = irho + nt, *img = tauh + nt;
    for (int k = 0; k < nt; k++) {
        const float tau = 0.004f * (float)k, v = 1500.0f + 500.0f * tau;
        Q[k] = 0.25f * tau * tau;
        S[k] = 1.0f / (v * v);
        rho[k] = 1.732f * v * tau * 0.5f;
        irho[k] = rho[k] > 0 ? 1.0f / (0.1f * rho[k]) : 0;
        tauh[k] = 0.5f * tau + 1e-3f;
    }
    for (Py_ssize_t i = 0; i < (Py_ssize_t)nthr * nt; i++) img[i] = 0;
    double t = 0;
    Py_BEGIN_ALLOW_THREADS
    const double t0 = now();
#pragma omp parallel for num_threads(nthr) schedule(static)
    for (Py_ssize_t p = 0; p < npairs; p++) {
        const float x = (float)(p % 400) * 12.5f;
        column(Q, S, rho, irho, tauh, img + (Py_ssize_t)omp_get_thread_num() * nt, nt, x * x + 1e4f,
               (x + 500) * (x + 500), x, 250.0f, 0.0f, 1.0f);
    }
    t = now() - t0;
    Py_END_ALLOW_THREADS
    double sink = 0;
    for (Py_ssize_t i = 0; i < (Py_ssize_t)nthr * nt; i++) sink += (double)img[i];
    fsci_free(tab);
    if (!isfinite(sink)) return PyErr_Format(PyExc_RuntimeError, "pstm_mix_peak: non-finite result");
    return PyFloat_FromDouble((double)npairs * (double)nt / t);
}
