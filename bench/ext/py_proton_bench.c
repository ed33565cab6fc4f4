/* _fastsci_bench.proton_bench_*: the dense reference transport problem of
 * doc/proton.md ("Performance") exposed for bench/bench_proton.py and its numpy
 * baseline (bench/proton_baseline.py): build a plan and a state with a fixed
 * pseudo-random psi, read the operator tables, apply operators, read psi.
 * A separate extension module built into build/python/ (bench/CMakeLists.txt),
 * not part of the shipped fastsci package: it uses the engine's test hooks
 * (src/proton/proton_hooks.h). */
#include <string.h>
#include <time.h>

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include "fastsci/fastsci.h"
#include "proton/proton_hooks.h"

/* Raise the library's message as a Python exception (ValueError for bad
 * arguments and ranges, MemoryError, RuntimeError otherwise); returns NULL. */
static PyObject *fsci_py_raise(int status)
{
    PyObject *type = PyExc_RuntimeError;
    if (status == FSCI_EINVAL || status == FSCI_ERANGE) type = PyExc_ValueError;
    if (status == FSCI_ENOMEM) type = PyExc_MemoryError;
    const char *msg = fsci_error_message();
    PyErr_SetString(type, msg && *msg ? msg : fsci_strerror(status));
    return NULL;
}

#define BENCH_CAPSULE "fastsci.proton_bench"

typedef struct bench {
    fsci_proton_plan *plan;
    fsci_proton_state *state;
    float *psi0; /* the initial phase space (ne * ntheta * nz * nx) */
    int64_t ncell;
} bench;

static void bench_free(bench *b)
{
    if (!b) return;
    fsci_proton_state_destroy(&b->state);
    fsci_proton_plan_destroy(&b->plan);
    fsci_free(b->psi0);
    fsci_free(b);
}

static void capsule_free(PyObject *cap)
{
    bench_free(PyCapsule_GetPointer(cap, BENCH_CAPSULE));
}

static bench *get_bench(PyObject *cap)
{
    return PyCapsule_GetPointer(cap, BENCH_CAPSULE);
}

/* Deterministic value in [0, 1) of flat index i: the "lowbias32" integer hash
 * (Chris Wellons' hash-prospector constants), top 24 bits. */
static float cell_value(uint64_t i)
{
    uint32_t h = (uint32_t)(i ^ (i >> 32));
    h ^= h >> 16;
    h *= 0x7feb352dU;
    h ^= h >> 15;
    h *= 0x846ca68bU;
    h ^= h >> 16;
    return (float)(h >> 8) * 0x1p-24f;
}

static int load_psi0(bench *b)
{
    fsci_proton_state_reset(b->state);
    return fsci_proton_state_set_psi(b->state, b->psi0);
}

static PyObject *py_setup(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"ne", "ntheta", "nz",     "nx",      "threads",    "e_max",
                             "dx", "dz",     "stream", "nuclear", "straggling", NULL};
    long long ne = 200, nth = 72, nz = 40, nx = 40;
    int threads = 2, nuclear = 1, straggling = 0;
    double e_max = 230.0, dx = 1.0, dz = 1.0;
    const char *stream = "bilinear";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|LLLLidddspp", kwlist, &ne, &nth, &nz, &nx, &threads, &e_max,
                                     &dx, &dz, &stream, &nuclear, &straggling))
        return NULL;
    if (ne < 1 || ne > 100000 || threads < 0) {
        PyErr_Format(PyExc_ValueError, "ne = %lld must be in [1, 100000], threads = %d must be >= 0", ne,
                     threads);
        return NULL;
    }
    fsci_proton_stream_kind sk;
    if (strcmp(stream, "bilinear") == 0) {
        sk = FSCI_PROTON_STREAM_BILINEAR;
    } else if (strcmp(stream, "muscl") == 0) {
        sk = FSCI_PROTON_STREAM_MUSCL;
    } else {
        PyErr_Format(PyExc_ValueError, "stream = '%s': must be 'bilinear' or 'muscl'", stream);
        return NULL;
    }
    bench *b = fsci_calloc(1, sizeof *b);
    if (!b) return fsci_py_raise(FSCI_ENOMEM);
    int st = 0;
    Py_BEGIN_ALLOW_THREADS
    fsci_proton_opts o;
    fsci_proton_opts_default(&o);
    o.nx = nx;
    o.nz = nz;
    o.dx_mm = dx;
    o.dz_mm = dz;
    o.ntheta = nth;
    o.theta_bc = FSCI_PROTON_THETA_PERIODIC;
    o.egrid = FSCI_PROTON_EGRID_RANGE;
    o.e_max_mev = e_max;
    o.stream = sk;
    o.nuclear = nuclear != 0;
    o.dense = true;
    o.prune = 0;
    /* the numpy baseline (bench/proton_baseline.py) is the CSDA step: straggling
     * is off unless asked for (its timing is compared with the CSDA step's) */
    o.straggling = straggling != 0;
    o.nthreads = threads;
    /* exactly ne bins of CSDA range: ds = (R(e_max) - R(e_min)) / ne, nudged up
     * by a few ulps if rounding in ceil() would give ne + 1 bins */
    fsci_proton_physics *ph = NULL;
    double r_lo = 0, r_hi = 0;
    st = fsci_proton_physics_create(NULL, &ph);
    if (!st) st = fsci_proton_physics_range_mm(ph, o.e_min_mev, &r_lo);
    if (!st) st = fsci_proton_physics_range_mm(ph, e_max, &r_hi);
    fsci_proton_physics_destroy(&ph);
    fsci_proton_plan_info info = {0};
    for (int attempt = 0; !st && attempt < 4; attempt++) {
        o.ds_mm = (r_hi - r_lo) / (double)ne * (1.0 + 1e-12 * (double)attempt * (double)attempt);
        fsci_proton_plan_destroy(&b->plan);
        st = fsci_proton_plan_create(&o, NULL, &b->plan);
        if (st) break;
        fsci_proton_plan_get_info(b->plan, &info);
        if (info.ne == ne) break;
    }
    if (!st && info.ne != ne)
        st = fsci_error_set(FSCI_ERANGE, __FILE__, __LINE__, __func__,
                            "proton_bench_setup: could not make %lld bins", ne);
    if (!st) st = fsci_proton_state_create(b->plan, &b->state);
    if (!st) {
        b->ncell = info.ne * info.ntheta * info.nz * info.nx;
        b->psi0 = fsci_malloc((size_t)b->ncell, sizeof(float));
        if (!b->psi0) st = FSCI_ENOMEM;
    }
    if (!st) {
        for (int64_t i = 0; i < b->ncell; i++) b->psi0[i] = cell_value((uint64_t)i);
        st = load_psi0(b);
    }
    Py_END_ALLOW_THREADS
    if (st) {
        bench_free(b);
        return fsci_py_raise(st);
    }
    PyObject *cap = PyCapsule_New(b, BENCH_CAPSULE, capsule_free);
    if (!cap) bench_free(b);
    return cap;
}

/* A new float64 array holding src[0..n). */
static PyObject *dvec(const double *src, npy_intp n)
{
    PyObject *a = PyArray_SimpleNew(1, &n, NPY_FLOAT64);
    if (a && n) memcpy(PyArray_DATA((PyArrayObject *)a), src, (size_t)n * sizeof(double));
    return a;
}

static PyObject *py_tables(PyObject *self, PyObject *arg)
{
    (void)self;
    bench *b = get_bench(arg);
    if (!b) return NULL;
    fsci_proton_plan_info in;
    fsci_proton_plan_get_info(b->plan, &in);
    const fsci_proton_egrid *g = fsci_proton_plan_egrid(b->plan);
    npy_intp ne = (npy_intp)in.ne, nth = (npy_intp)in.ntheta, d2[2] = {ne, 2};
    PyObject *kernels = PyList_New(ne), *iu = PyArray_SimpleNew(1, &nth, NPY_INT64),
             *fu = PyArray_SimpleNew(1, &nth, NPY_FLOAT64), *iv = PyArray_SimpleNew(1, &nth, NPY_INT64),
             *fv = PyArray_SimpleNew(1, &nth, NPY_FLOAT64), *tgt = PyArray_SimpleNew(2, d2, NPY_INT64),
             *wt = PyArray_SimpleNew(2, d2, NPY_FLOAT64), *surv = PyArray_SimpleNew(1, &ne, NPY_FLOAT64),
             *var = PyArray_SimpleNew(1, &ne, NPY_FLOAT64),
             *theta = dvec(fsci_proton_plan_theta(b->plan), nth), *value = dvec(g->edge + 1, ne);
    PyObject *res = NULL;
    int st = 0;
    if (!kernels || !iu || !fu || !iv || !fv || !tgt || !wt || !surv || !var || !theta || !value) goto done;
    for (npy_intp k = 0; k < ne && !st; k++) {
        int64_t h = 0;
        const float *w = NULL;
        double v = 0;
        st = fsci_proton_plan_kernel(b->plan, k, 0, &h, &w, &v);
        if (st) break;
        npy_intp n = (npy_intp)(2 * h + 1);
        PyObject *a = PyArray_SimpleNew(1, &n, NPY_FLOAT32);
        if (!a) goto done;
        memcpy(PyArray_DATA((PyArrayObject *)a), w, (size_t)n * sizeof(float));
        PyList_SET_ITEM(kernels, k, a);
        ((double *)PyArray_DATA((PyArrayObject *)var))[k] = v;
        int64_t t2[2];
        double w2[2], sv = 0;
        st = fsci_proton_plan_transfer(b->plan, k, 0, t2, w2, &sv, NULL);
        if (st) break;
        for (int q = 0; q < 2; q++) {
            ((int64_t *)PyArray_DATA((PyArrayObject *)tgt))[2 * k + q] = t2[q];
            ((double *)PyArray_DATA((PyArrayObject *)wt))[2 * k + q] = w2[q];
        }
        ((double *)PyArray_DATA((PyArrayObject *)surv))[k] = sv;
    }
    for (npy_intp t = 0; t < nth && !st; t++) {
        int64_t a, c;
        double fa, fc;
        st = fsci_proton_plan_stencil(b->plan, t, &a, &fa, &c, &fc);
        if (st) break;
        ((int64_t *)PyArray_DATA((PyArrayObject *)iu))[t] = a;
        ((double *)PyArray_DATA((PyArrayObject *)fu))[t] = fa;
        ((int64_t *)PyArray_DATA((PyArrayObject *)iv))[t] = c;
        ((double *)PyArray_DATA((PyArrayObject *)fv))[t] = fc;
    }
    if (st) {
        fsci_py_raise(st);
        goto done;
    }
    res = Py_BuildValue("{sLsLsLsLsdsdsdsdsisOsOsOsOsOsOsOsOsOsOsO}", "ne", (long long)in.ne, "ntheta",
                        (long long)in.ntheta, "nz", (long long)in.nz, "nx", (long long)in.nx, "ds_mm",
                        in.ds_mm, "dtheta_rad", in.dtheta_rad, "e_cut_mev", in.e_cut_mev, "mem_bytes",
                        in.mem_bytes, "nthreads", in.nthreads, "theta", theta, "value", value, "kernels",
                        kernels, "variance", var, "iu", iu, "fu", fu, "iv", iv, "fv", fv, "target", tgt,
                        "weight", wt, "survival", surv);
done:
    Py_XDECREF(kernels);
    Py_XDECREF(iu);
    Py_XDECREF(fu);
    Py_XDECREF(iv);
    Py_XDECREF(fv);
    Py_XDECREF(tgt);
    Py_XDECREF(wt);
    Py_XDECREF(surv);
    Py_XDECREF(var);
    Py_XDECREF(theta);
    Py_XDECREF(value);
    return res;
}

static PyObject *py_psi(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    int initial = 0;
    if (!PyArg_ParseTuple(args, "O|p", &cap, &initial)) return NULL;
    bench *b = get_bench(cap);
    if (!b) return NULL;
    fsci_proton_plan_info in;
    fsci_proton_plan_get_info(b->plan, &in);
    npy_intp d[4] = {(npy_intp)in.ne, (npy_intp)in.ntheta, (npy_intp)in.nz, (npy_intp)in.nx};
    PyObject *a = PyArray_SimpleNew(4, d, NPY_FLOAT32);
    if (!a) return NULL;
    float *dst = PyArray_DATA((PyArrayObject *)a);
    if (initial) {
        memcpy(dst, b->psi0, (size_t)b->ncell * sizeof(float));
        return a;
    }
    int st = fsci_proton_state_get_psi(b->state, dst);
    if (st) {
        Py_DECREF(a);
        return fsci_py_raise(st);
    }
    return a;
}

static PyObject *py_reset(PyObject *self, PyObject *arg)
{
    (void)self;
    bench *b = get_bench(arg);
    if (!b) return NULL;
    int st;
    Py_BEGIN_ALLOW_THREADS
    st = load_psi0(b);
    Py_END_ALLOW_THREADS
    if (st) return fsci_py_raise(st);
    Py_RETURN_NONE;
}

static PyObject *py_apply(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    const char *op;
    long long n = 1;
    if (!PyArg_ParseTuple(args, "Os|L", &cap, &op, &n)) return NULL;
    bench *b = get_bench(cap);
    if (!b) return NULL;
    int which;
    if (strcmp(op, "scatter") == 0) {
        which = 0;
    } else if (strcmp(op, "energy") == 0) {
        which = 1;
    } else if (strcmp(op, "stream") == 0) {
        which = 2;
    } else if (strcmp(op, "step") == 0) {
        which = 3;
    } else {
        PyErr_Format(PyExc_ValueError, "op = '%s': must be 'scatter', 'energy', 'stream' or 'step'", op);
        return NULL;
    }
    if (n < 0) {
        PyErr_Format(PyExc_ValueError, "n = %lld must be >= 0", n);
        return NULL;
    }
    int st = 0;
    struct timespec t0, t1;
    Py_BEGIN_ALLOW_THREADS
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long long i = 0; i < n && !st; i++) {
        switch (which) {
        case 0: st = fsci_proton_apply_scatter(b->plan, b->state); break;
        case 1: st = fsci_proton_apply_energy(b->plan, b->state); break;
        case 2: st = fsci_proton_apply_stream(b->plan, b->state); break;
        default: st = fsci_proton_step(b->plan, b->state); break;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    Py_END_ALLOW_THREADS
    if (st) return fsci_py_raise(st);
    return PyFloat_FromDouble((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
}

/* STREAM triad a[i] = b[i] + q c[i] over n doubles per array (McCalpin's
 * STREAM benchmark, the triad kernel): the best of `repeat` timings, as GB/s
 * counting 24 bytes per element (two reads, one write; write-allocate
 * traffic not counted, as STREAM reports it). Arrays are first touched by the
 * same static partition that runs the triad. */
static PyObject *py_stream_triad(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"n", "threads", "repeat", NULL};
    Py_ssize_t n = 20 * 1000 * 1000;
    int threads = 2, repeat = 10;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|nii", kwlist, &n, &threads, &repeat)) return NULL;
    if (n < 1000 || threads < 1 || repeat < 1)
        return PyErr_Format(PyExc_ValueError, "stream_triad: bad n/threads");
    double *a = fsci_malloc((size_t)n, sizeof *a), *b = fsci_malloc((size_t)n, sizeof *b),
           *c = fsci_malloc((size_t)n, sizeof *c);
    if (!a || !b || !c) {
        fsci_free(a);
        fsci_free(b);
        fsci_free(c);
        return PyErr_NoMemory();
    }
    double best = 1e30;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for num_threads(threads) schedule(static)
    for (Py_ssize_t i = 0; i < n; i++) {
        a[i] = 0.0;
        b[i] = 1.0;
        c[i] = 2.0;
    }
    for (int r = 0; r < repeat; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        const double q = 3.0;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (Py_ssize_t i = 0; i < n; i++) a[i] = b[i] + q * c[i];
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double t = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        if (t < best) best = t;
    }
    Py_END_ALLOW_THREADS
    double check = a[n / 2];
    fsci_free(a);
    fsci_free(b);
    fsci_free(c);
    if (check != 7.0) return PyErr_Format(PyExc_RuntimeError, "stream_triad: wrong result %g", check);
    return PyFloat_FromDouble(24.0 * (double)n / best / 1e9);
}

#define KWFN(f) (PyCFunction)(void (*)(void))(f)

PyObject *fsci_bench_pstm_mix_peak(PyObject *self, PyObject *args, PyObject *kw); /* py_pstm_bench.c */
int fsci_bench_qdot_init(PyObject *m);                                            /* py_qdot_bench.c */
int fsci_bench_qdot_agent_init(PyObject *m);                                      /* py_qdot_agent.c */

static PyMethodDef bench_methods[] = {
    {"stream_triad", KWFN(py_stream_triad), METH_VARARGS | METH_KEYWORDS,
     "stream_triad(n=20e6, threads=2, repeat=10): STREAM triad bandwidth in GB/s (best of repeat)."},
    {"pstm_mix_peak", KWFN(fsci_bench_pstm_mix_peak), METH_VARARGS | METH_KEYWORDS,
     "pstm_mix_peak(nt=1000, pairs=200000, threads=1): samples/s of the pstm kernel's arithmetic (AA off, "
     "2-D weights) on L1-resident tables, gathers replaced by arithmetic: the core's peak for that flop "
     "mix."},
    {"proton_bench_setup", KWFN(py_setup), METH_VARARGS | METH_KEYWORDS,
     "proton_bench_setup(ne=200, ntheta=72, nz=40, nx=40, threads=2, e_max=230, dx=1, dz=1, "
     "stream='bilinear', "
     "nuclear=True, straggling=False): dense periodic plan with exactly ne RANGE bins (ds = (R(e_max) - "
     "R(1)) / ne), prune 0, "
     "and a "
     "state holding a fixed pseudo-random psi in [0, 1); returns a handle."},
    {"proton_bench_tables", py_tables, METH_O,
     "Operator tables of a handle: kernels (class 0, per bin), stencils iu, fu, iv, fv (per angle), transfer "
     "target, weight, survival (per bin), grid sizes and ds."},
    {"proton_bench_psi", py_psi, METH_VARARGS,
     "proton_bench_psi(h, initial=False): psi (ne, ntheta, nz, nx) float32, current or initial."},
    {"proton_bench_reset", py_reset, METH_O, "Reset the state to the initial psi (zero dose and counters)."},
    {"proton_bench_apply", py_apply, METH_VARARGS,
     "proton_bench_apply(h, op, n=1): apply op ('scatter', 'energy', 'stream' or 'step') n times; returns "
     "the "
     "wall seconds (GIL released)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef bench_module = {
    PyModuleDef_HEAD_INIT,
    "_fastsci_bench",
    "Benchmark hooks of the fastsci proton engine (bench/bench_proton.py); not part of fastsci.",
    -1,
    bench_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__fastsci_bench(void)
{
    import_array();
    PyObject *m = PyModule_Create(&bench_module);
    if (m && fsci_bench_qdot_init(m) < 0) Py_CLEAR(m);
    if (m && fsci_bench_qdot_agent_init(m) < 0) Py_CLEAR(m);
    return m;
}
