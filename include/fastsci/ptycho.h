/* fastsci ptycho: PtychoPINN-compatible ptychography training-data simulation.
 *
 * Scan positions are grouped into gridsize^2 nearest neighbours, patches of a
 * complex object are cut out by integer crop + 2x2 bilinear interpolation at
 * each patch's sampling centre, multiplied by the probe, propagated to the far
 * field (|FFT2|^2 / N^2, fftshift) and observed with Poisson noise. The output
 * follows PtychoPINN's NPZ layout. See doc/ptycho.md for the conventions. */
#ifndef FASTSCI_PTYCHO_H
#define FASTSCI_PTYCHO_H

#include <stdbool.h>

#include "fastsci/core/array.h"
#include "fastsci/core/defs.h"
#include "fastsci/core/params.h"
#include "fastsci/core/sink.h"

/* ---- grouping (PtychoPINN's sample-then-group rule) ----------------------- */

typedef struct fsci_ptycho_group_opts {
    int64_t nsamples; /* number of groups requested (PtychoPINN's nsamples / n_groups) */
    int K;            /* neighbour pool size; K >= C = gridsize^2 */
    int gridsize;     /* C = gridsize^2 positions per group */
    uint64_t seed;
    bool oversampling; /* allow nsamples > npoints when C > 1 (K-choose-C pool) */
    int pool_size;     /* neighbour pool for oversampling (neighbor_pool_size); 0 means K */
    int nthreads;      /* 0: default */
} fsci_ptycho_group_opts;

/* Group npoints scan positions. Returns *nn_out, an (ngroups, C) int32 array
 * in row-major order (allocated with fsci_malloc; free with fsci_free), and
 * *ngroups_out. If seeds_out is not NULL it receives the seed index of each
 * group (int64, fsci_malloc'd; with oversampling, the seed whose
 * neighbourhood the combination came from). Rules and RNG streams:
 * doc/ptycho.md. Errors: FSCI_EINVAL for K < C, npoints < C, gridsize < 1,
 * nsamples < 1, non-finite coordinates, and for nsamples > npoints with C > 1
 * unless oversampling is on (PtychoPINN's OVERSAMPLING-001 guard), or for
 * oversampling with pool_size < C. With C == 1 and nsamples > npoints the
 * count is capped at npoints with a warning (fsci_warn). Results do not depend
 * on nthreads. */
FSCI_API int fsci_ptycho_group(const double *x, const double *y, int64_t npoints,
                               const fsci_ptycho_group_opts *o, int32_t **nn_out, int64_t **seeds_out,
                               int64_t *ngroups_out) FSCI_WUR;

/* RNG streams used by the engine (key = {seed, stream}). */
enum {
    FSCI_PTYCHO_STREAM_SEEDS = 0x70740001,     /* choice of the seed points */
    FSCI_PTYCHO_STREAM_CHOICE = 0x70740002,    /* choice of C of K neighbours, index = group */
    FSCI_PTYCHO_STREAM_POOL = 0x70740003,      /* oversampling pool draws */
    FSCI_PTYCHO_STREAM_OBJECT = 0x70740004,    /* synthetic objects */
    FSCI_PTYCHO_STREAM_POSITIONS = 0x70740005, /* random scan positions */
    FSCI_PTYCHO_STREAM_NOISE_RAW = 0x70740006, /* Poisson noise, index = position */
    FSCI_PTYCHO_STREAM_NOISE = 0x70740007      /* Poisson noise, index = flat pattern b*C + c */
};

/* ---- built-in inputs ------------------------------------------------------ */

/* A synthetic complex64 object of side m: "lines" (PtychoPINN's: 400 random
 * lines on a 2m canvas, blurred by G1 + 2 G5 + 5 G10, centre crop; amplitude
 * normalised to max 1, phase pi*tanh((A - max/2) / (3 mean))) or "star" (a
 * 36-spoke Siemens star with a phase step). Deterministic from the seed. */
FSCI_API int fsci_ptycho_object_builtin(const char *kind, int64_t m, uint64_t seed,
                                        fsci_array **out) FSCI_WUR;

/* PtychoPINN's low-pass disk probe: the outer product of two Gaussian windows
 * of length n and std n / (scale pi^2), thresholded at 0.5, blurred by a
 * Gaussian of sigma 1 (reflecting edges), plus 1e-9; real, as complex64 (n, n). */
FSCI_API int fsci_ptycho_probe_disk(int64_t n, double scale, fsci_array **out) FSCI_WUR;

/* ---- patches and diffraction ---------------------------------------------- */

/* Cut npatch patches of side n from a complex64 (H, W) object: patch p, pixel
 * (r, s) = bilinear(obj, y = r + cy[p] - n/2, x = s + cx[p] - n/2), zero
 * outside the object (integer n/2). out: (npatch, n, n) complex64 (interleaved
 * float pairs), C order. Integer centres give exact crops. */
FSCI_API int fsci_ptycho_extract(const fsci_view *obj, const double *cx, const double *cy, int64_t npatch,
                                 int64_t n, float *out, int nthreads) FSCI_WUR;

/* Far-field amplitudes of npatch exit waves scale * patch * probe:
 * A = sqrt(counts) / scale with counts ~ Poisson(|FFT2|^2 / n^2) (fftshifted),
 * or sqrt(|FFT2|^2 / n^2) / scale when noise is false. patches: (npatch, n, n)
 * complex64; probe: complex64 (n, n) view; amp: (npatch, n, n) float32. The
 * noise of pattern p is keyed by (seed, stream, first_index + p). sumsq (may
 * be NULL) receives sum(A^2) per pattern. */
FSCI_API int fsci_ptycho_diffract(const float *patches, int64_t npatch, int64_t n, const fsci_view *probe,
                                  double scale, bool noise, uint64_t seed, uint64_t stream,
                                  int64_t first_index, float *amp, double *sumsq, int nthreads) FSCI_WUR;

/* ---- the simulation ------------------------------------------------------- */

/* Options, described once in fsci_ptycho_params (CLI flags and Python keywords). */
typedef struct fsci_ptycho_opts {
    int64_t n_images;                  /* random scan positions (and groups unless n_groups is set); 0: 5000;
                                          with given positions 0 or their count */
    int64_t n_groups;                  /* groups B (PtychoPINN's nsamples); 0: n_images */
    int64_t gridsize;                  /* C = gridsize^2 patterns per group */
    int64_t K;                         /* neighbour pool */
    int64_t N;                         /* patch / pattern side */
    double nphotons;                   /* mean expected photons per pattern */
    char object[FSCI_PARAM_STRLEN];    /* lines | star | FILE.npy | FILE.npz (objectGuess) */
    char probe[FSCI_PARAM_STRLEN];     /* disk | FILE.npy | FILE.npz (probeGuess) */
    char positions[FSCI_PARAM_STRLEN]; /* random | FILE.npz (xcoords, ycoords) */
    int64_t object_size;               /* side of a built-in object; 0: round(3.5 N) */
    double probe_scale;                /* disk probe low-pass scale */
    bool noise;
    bool raw; /* also simulate diff3d at every scan position */
    bool oversampling;
    int64_t pool_size;
    char layout[FSCI_PARAM_STRLEN]; /* channel (B,N,N,C) | flat (B*C,N,N) */
    bool compress;                  /* deflate the .npz members */
} fsci_ptycho_opts;

#define FSCI_PTYCHO_NPARAMS 17
FSCI_API extern const fsci_param fsci_ptycho_params[FSCI_PTYCHO_NPARAMS];

/* Arrays given by a caller instead of files or built-ins (each may be NULL). */
typedef struct fsci_ptycho_inputs {
    const fsci_view *object; /* complex64 or complex128 (H, W) */
    const fsci_view *probe;  /* complex64 or complex128 (N, N) */
    const double *xcoords, *ycoords;
    int64_t npoints;
} fsci_ptycho_inputs;

/* What a run did, for reports and benchmarks. */
typedef struct fsci_ptycho_report {
    int64_t npoints, ngroups, npatterns;
    double scale, scale_raw; /* dataset intensity scales s */
    double xfull_norm;       /* X_full = xfull_norm * diffraction */
    double mean_counts;      /* mean over patterns of the photon total (noise) */
    double t_inputs, t_group, t_scale, t_extract, t_fft, t_noise, t_write, t_total; /* seconds */
} fsci_ptycho_report;

/* Sizes of a run, known before computing it. Bytes are doubles: requests
 * beyond int64 must still be measured to be refused. */
typedef struct fsci_ptycho_size {
    int64_t npoints, ngroups, npatterns; /* as the run would make them */
    double output_bytes;                 /* every output member's data, uncompressed, plus headers */
    double memory_bytes;                 /* peak working memory of the run, the output not counted */
} fsci_ptycho_size;

/* Estimate the sizes of a run without computing it: the number of positions
 * comes from the inputs, the positions file (its header only) or n_images;
 * the object from the inputs, the built-in size or an .npz header (an .npy
 * object file is not counted). Errors: as fsci_ptycho_simulate's checks of
 * the options, and an unreadable positions file. */
FSCI_API int fsci_ptycho_estimate(const fsci_ptycho_opts *o, const fsci_ptycho_inputs *in,
                                  fsci_ptycho_size *out) FSCI_WUR;

/* Refuse up front a run that obviously cannot complete: with path (an .npz
 * output), an uncompressed output larger than the free space of path's
 * filesystem (statvfs; skipped with compress, or when the directory cannot
 * be examined: creating the file then reports it); with path NULL (output
 * kept in memory, as the Python module does), output plus working memory
 * larger than the physical memory; in both cases working memory larger than
 * the physical memory. FSCI_ERANGE with one line naming the request and the
 * sizes. fsci_ptycho_simulate makes the working-memory check itself. */
FSCI_API int fsci_ptycho_check_resources(const fsci_ptycho_opts *o, const fsci_ptycho_inputs *in,
                                         const char *path) FSCI_WUR;

/* Run the simulation and stream every output member into `sink` (see
 * doc/ptycho.md for the keys, dtypes and shapes). Validates everything before
 * writing anything. Results do not depend on nthreads. */
FSCI_API int fsci_ptycho_simulate(const fsci_ptycho_opts *o, const fsci_ptycho_inputs *in, uint64_t seed,
                                  int nthreads, fsci_sink *sink, fsci_ptycho_report *rep) FSCI_WUR;

#endif
