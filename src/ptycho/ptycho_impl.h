/* ptycho engine: internals shared by its files. */
#ifndef FASTSCI_PTYCHO_IMPL_H
#define FASTSCI_PTYCHO_IMPL_H

#include <fftw3.h>

#include "fastsci/fastsci.h"
#include "fastsci/ptycho.h"

/* Per-thread workspace of the diffraction kernel. */
typedef struct fsci__ptycho_ws {
    float *patch;                     /* n*n complex, interleaved */
    fftwf_complex *buf;               /* n*n, FFT in place */
    double *lam;                      /* n*n intensities, fftshifted */
    int64_t *counts;                  /* n*n Poisson counts */
    float *amp;                       /* n*n amplitudes before the (strided) store */
    double t_extract, t_fft, t_noise; /* seconds spent, summed */
    int64_t last_counts;              /* photon total of the last noisy pattern */
    int st;                           /* first failure on this thread, with its message */
    char err[256];
    char pad[64]; /* keep the next thread's counters off this cache line */
} fsci__ptycho_ws;

/* A diffraction plan: FFT plan, probe copy, and one workspace per thread. */
typedef struct fsci__ptycho_diff {
    int64_t n;
    const fsci_fft_plan *plan; /* owned by the core/fft cache */
    float *probe;              /* n*n complex, interleaved */
    double scale, inv_scale;
    bool noise;
    uint64_t seed, stream;
    int nthreads;
    fsci__ptycho_ws *ws;
} fsci__ptycho_diff;

int fsci__ptycho_diff_create(int64_t n, const fsci_view *probe, double scale, bool noise, uint64_t seed,
                             uint64_t stream, int nthreads, fsci__ptycho_diff **out);
void fsci__ptycho_diff_destroy(fsci__ptycho_diff **d);

/* Patch of side n centred at (cx, cy) from a C-contiguous complex64 (h, w)
 * object into out (contiguous n*n complex). */
void fsci__ptycho_extract_one(const float *obj, int64_t h, int64_t w, double cx, double cy, int64_t n,
                              float *out);

/* sum |patch * probe|^2 over the pattern. */
double fsci__ptycho_illum_energy(const float *patch, const float *probe, int64_t n);

/* Diffraction of one patch (contiguous n*n complex) into amp[k * amp_stride]
 * (fftshifted, float32), noise keyed by `index`; returns the sum of the
 * stored float32 amplitudes squared (in double); the photon total of a noisy
 * pattern is left in w->last_counts. A failure of the noise sampler is kept
 * in w->st / w->err (the pattern is then zero). */
double fsci__ptycho_pattern(const fsci__ptycho_diff *d, fsci__ptycho_ws *w, const float *patch, int64_t index,
                            float *amp, int64_t amp_stride);

/* After a parallel region: the first failure recorded by any thread, made the
 * calling thread's error. */
int fsci__ptycho_ws_status(const fsci__ptycho_diff *d);

/* Range checks of the options that need no input file (one line naming
 * the option and the value). */
int fsci__ptycho_validate(const fsci_ptycho_opts *o);

/* Random scan positions made when n_images is 0. */
#define FSCI__PTYCHO_DEFAULT_IMAGES 5000
static inline int64_t fsci__ptycho_random_count(const fsci_ptycho_opts *o)
{
    return o->n_images > 0 ? o->n_images : FSCI__PTYCHO_DEFAULT_IMAGES;
}

/* Refuse a run whose working memory (plus its output when with_output, for
 * a memory sink) exceeds the physical memory: FSCI_ERANGE with one line
 * naming the request and both sizes. Uses fsci_ptycho_estimate. */
int fsci__ptycho_check_memory(const fsci_ptycho_opts *o, const fsci_ptycho_inputs *in, bool with_output);

/* The stream of the noise of pattern `index` (< 2^32) for a noise kind (< 2^31):
 * the key {seed, kind << 32 | index} is distinct for every pattern and kind. */
#define FSCI__PTYCHO_MAX_PATTERNS (INT64_C(1) << 32)
static inline uint64_t fsci__ptycho_noise_stream(uint64_t kind, int64_t index)
{
    return (kind << 32) | (uint64_t)index;
}

#endif
