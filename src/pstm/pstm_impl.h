/* pstm: internals shared by the files of src/pstm (never installed).
 * doc/pstm.md states the operator these functions implement. */
#ifndef FASTSCI_PSTM_IMPL_H
#define FASTSCI_PSTM_IMPL_H

#include <stdbool.h>
#include <stdint.h>

/* ---- SEG-Y (src/pstm/segy.c, through Debian's libsegyio) -------------------- */

/* Geometry of every trace of a file, read from the trace headers in bulk.
 * Coordinates in metres with the coordinate scalar (byte 71) applied. */
typedef struct fsci__segy_geom {
    int64_t ntr;               /* traces */
    int64_t ns;                /* samples per trace (binary header, checked against the size) */
    double dt;                 /* sample interval, seconds (> 0) */
    double t0;                 /* time of sample 0, seconds (delay recording time, byte 109) */
    int format;                /* SEG-Y format code: 1 IBM float, 5 IEEE float, ... */
    bool lsb;                  /* little-endian file */
    double *sx, *sy, *gx, *gy; /* [ntr] source and group coordinates */
    double *cdpx, *cdpy;       /* [ntr] CDP coordinates (bytes 181/185), scalar applied */
    int32_t *offset;           /* [ntr] byte 37 */
    int32_t *fldr;             /* [ntr] byte 9 (field record) */
} fsci__segy_geom;

typedef struct fsci__segy fsci__segy; /* an open input file */

/* Open `path` for reading: a regular file (no FIFO, device or folder), a
 * SEG-Y binary header with a supported format (1, 2, 3, 5, 8: those segyio
 * 1.8.3 knows; either byte order), ns > 0, dt > 0, the size a whole number of
 * traces, one delay recording time for all traces; reads all trace headers
 * (one pass, in bulk). Errors name the path, the field and the value.
 * One thread at a time per open file. */
int fsci__segy_open(const char *path, fsci__segy **out);
const fsci__segy_geom *fsci__segy_geometry(const fsci__segy *f);
/* Traces [first, first + n) as native float32, out[n][ns]; a NaN or
 * infinite sample is an error (FSCI_EFORMAT) naming the trace and sample. */
int fsci__segy_read(fsci__segy *f, int64_t first, int64_t n, float *out);
/* The n traces idx[0..n) (any order) as native float32, out[n][ns]. */
int fsci__segy_read_list(fsci__segy *f, const int64_t *idx, int64_t n, float *out);
void fsci__segy_close(fsci__segy **f);

/* One output trace's header. */
typedef struct fsci__segy_trace_hdr {
    double sx, sy, gx, gy; /* metres */
    double cdpx, cdpy;     /* metres */
    int32_t offset;        /* metres (rounded) */
    int32_t cdp, inline_no, crossline_no, fldr, tracf;
} fsci__segy_trace_hdr;

typedef struct fsci__segy_writer fsci__segy_writer;

/* Create `path` through the atomic writer (nothing appears until commit):
 * a 3200-byte text header (`text`, may be NULL), the binary header (ns, dt,
 * format 5 IEEE big-endian), then `ntr` traces written in order by put. */
int fsci__segy_create(const char *path, int64_t ntr, int64_t ns, double dt, const char *text,
                      fsci__segy_writer **out);
int fsci__segy_put(fsci__segy_writer *w, const fsci__segy_trace_hdr *h, const float *samples);
/* All ntr traces put: make the file appear. Frees and clears *w either way
 * (a commit before ntr traces is an error and writes nothing). */
int fsci__segy_commit(fsci__segy_writer **w);
void fsci__segy_abort(fsci__segy_writer **w);

/* ---- the kernel (src/pstm/kernel.c) ----------------------------------------- */

typedef struct fsci__pstm_kopt {
    int dim;          /* 2 or 3: pre-filter and spreading exponent */
    bool aa;          /* triangle anti-aliasing */
    double aa_factor; /* multiplies the triangle length (default 1) */
    double aa_dx;     /* lateral sampling for the slope, metres */
    double aperture;  /* R, metres (midpoint distance) */
    double angle_deg; /* theta_max; >= 90: no cone */
    double taper;     /* f in [0, 1) */
    bool weights;     /* amplitude weight A_k on */
} fsci__pstm_kopt;

/* The input side: sample count, interval and start time of every trace, and
 * the pre-filter's FFT plan. */
typedef struct fsci__pstm_prep fsci__pstm_prep;
/* ns >= 2; the pre-filter's transform length is the smallest 2^a 3^b 5^c 7^d >= 2 ns. */
int fsci__pstm_prep_create(const fsci__pstm_kopt *o, int64_t ns, double dt, double t0, fsci__pstm_prep **out);
void fsci__pstm_prep_destroy(fsci__pstm_prep **p);
/* The trace axis the prep was made for. */
int64_t fsci__pstm_prep_ns(const fsci__pstm_prep *p);
double fsci__pstm_prep_dt(const fsci__pstm_prep *p);
double fsci__pstm_prep_t0(const fsci__pstm_prep *p);
/* Prepared trace q (doc/pstm.md §1) of d into out: ns 4-byte words, float
 * samples P d without AA; with AA D' = (I - E) D in fixed point (word 0: the
 * scale sigma as float bits, words 1 .. ns-1: int32 multiples of sigma; write
 * it to allocated memory, not to a declared float array). FSCI_ERANGE if D'
 * exceeds float range. Thread-safe. */
int fsci__pstm_prepare(const fsci__pstm_prep *p, const float *d, void *out);
/* The adjoint of the operator up to q: d = Pᵀ ((I - E) A C)ᵀ q, out[ns]; q is
 * the modelling buffer of pair_mod: ns doubles.
 * Thread-safe. */
int fsci__pstm_prepare_adj(const fsci__pstm_prep *p, const void *q, float *out);

/* One output column: position, velocity and the per-sample tables. */
typedef struct fsci__pstm_col {
    double ox, oy;
    int64_t nt;
    double dtau;
    float *Q;        /* [nt] (tau_k / 2)^2 */
    float *S;        /* [nt] 1 / V_k^2 */
    float *rho;      /* [nt] cone radius, running maximum (INFINITY: no cone) */
    float *irho;     /* [nt] 1 / (f rho_k) (0 where rho_k = 0 or no cone; +inf for f = 0) */
    double *mono_d2; /* [nt] non-decreasing: t increases with tau on [k, nt) for pairs
                        with max(ds2, dg2) <= mono_d2[k] */
} fsci__pstm_col;

/* Fill c for position (ox, oy) and velocity v[nt] (m/s, > 0); the tables
 * are allocated (free with fsci__pstm_col_free). */
int fsci__pstm_col_init(fsci__pstm_col *c, const fsci__pstm_kopt *o, double ox, double oy, const float *v,
                        int64_t nt, double dtau);
void fsci__pstm_col_free(fsci__pstm_col *c);

/* One pair. Migration: img[k] += w_k v_k over the column's samples, from the
 * prepared trace q (fsci__pstm_prepare). Modelling: qa[...] += the adjoint
 * taps of w_k img[k] (qa: ns doubles, zeroed,
 * later taken through prepare_adj). Both return the number of samples
 * evaluated (for pairs/s). */
int64_t fsci__pstm_pair_mig(const fsci__pstm_kopt *o, const fsci__pstm_prep *p, const fsci__pstm_col *c,
                            double sx, double sy, double gx, double gy, const void *q, float *img);
int64_t fsci__pstm_pair_mod(const fsci__pstm_kopt *o, const fsci__pstm_prep *p, const fsci__pstm_col *c,
                            double sx, double sy, double gx, double gy, const float *img, void *qa);

/* The same with search hints: hint (int64_t[3], in/out: the first sample, the
 * start of the monotone part and the last sample of the previous pair with
 * this trace; {-1, -1, -1} for none) makes finding this pair's bounds a few
 * evaluations when neighbouring columns are visited in turn. The result is
 * identical with or without it. */
int64_t fsci__pstm_pair_mig_hint(const fsci__pstm_kopt *o, const fsci__pstm_prep *p, const fsci__pstm_col *c,
                                 double sx, double sy, double gx, double gy, const void *q, float *img,
                                 int64_t *hint);
int64_t fsci__pstm_pair_mod_hint(const fsci__pstm_kopt *o, const fsci__pstm_prep *p, const fsci__pstm_col *c,
                                 double sx, double sy, double gx, double gy, const float *img, void *qa,
                                 int64_t *hint);

#endif
