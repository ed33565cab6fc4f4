/* fastsci.random: bulk draws from the counter-based generator. */
#include "pyfsci.h"

/* seed, stream (ints in [0, 2**64), never wrapped) and threads (>= 0). */
static int key_args(PyObject *seed_o, PyObject *stream_o, PyObject *threads_o, uint64_t *seed,
                    uint64_t *stream, int *threads)
{
    *seed = *stream = 0;
    if (seed_o && fsci_py_seed(seed_o, "seed", seed) < 0) return -1;
    if (stream_o && fsci_py_seed(stream_o, "stream", stream) < 0) return -1;
    return fsci_py_threads(threads_o, threads);
}

typedef int (*fill_fn)(uint64_t, uint64_t, void *, int64_t, int);

static PyObject *new_1d(npy_intp n, int type)
{
    return PyArray_SimpleNew(1, &n, type);
}

static PyObject *fill_common(PyObject *args, PyObject *kw, int npy_type, int which)
{
    static char *kwlist[] = {"n", "seed", "stream", "threads", NULL};
    Py_ssize_t n;
    PyObject *seed_o = NULL, *stream_o = NULL, *threads_o = NULL;
    uint64_t seed, stream;
    int threads;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "n|OOO", kwlist, &n, &seed_o, &stream_o, &threads_o))
        return NULL;
    if (key_args(seed_o, stream_o, threads_o, &seed, &stream, &threads) < 0) return NULL;
    if (n < 0) return PyErr_Format(PyExc_ValueError, "n = %zd is negative", n);
    PyObject *out = new_1d((npy_intp)n, npy_type);
    if (!out) return NULL;
    void *data = PyArray_DATA((PyArrayObject *)out);
    int st;
    Py_BEGIN_ALLOW_THREADS
    switch (which) {
    case 0: st = fsci_rng_fill_u64(seed, stream, data, n, threads); break;
    case 1: st = fsci_rng_fill_uniform(seed, stream, data, n, threads); break;
    default: st = fsci_rng_fill_normal(seed, stream, data, n, threads); break;
    }
    Py_END_ALLOW_THREADS
    if (st) {
        Py_DECREF(out);
        return fsci_py_raise(st);
    }
    return out;
}

static PyObject *py_u64(PyObject *s, PyObject *a, PyObject *k)
{
    (void)s;
    return fill_common(a, k, NPY_UINT64, 0);
}
static PyObject *py_uniform(PyObject *s, PyObject *a, PyObject *k)
{
    (void)s;
    return fill_common(a, k, NPY_FLOAT64, 1);
}
static PyObject *py_normal(PyObject *s, PyObject *a, PyObject *k)
{
    (void)s;
    return fill_common(a, k, NPY_FLOAT64, 2);
}

static PyObject *py_poisson(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"lam", "n", "seed", "stream", "threads", NULL};
    PyObject *lam_obj;
    Py_ssize_t n;
    PyObject *seed_o = NULL, *stream_o = NULL, *threads_o = NULL;
    uint64_t seed, stream;
    int threads;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "On|OOO", kwlist, &lam_obj, &n, &seed_o, &stream_o,
                                     &threads_o))
        return NULL;
    if (key_args(seed_o, stream_o, threads_o, &seed, &stream, &threads) < 0) return NULL;
    PyArrayObject *lam = (PyArrayObject *)PyArray_FROMANY(lam_obj, NPY_FLOAT64, 0, 0,
                                                          NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED);
    if (!lam) return NULL;
    npy_intp nlam = PyArray_SIZE(lam);
    if (n < 0 || (nlam != 1 && nlam != n)) {
        Py_DECREF(lam);
        return PyErr_Format(PyExc_ValueError, "lam has %zd values; expected 1 or n = %zd", (Py_ssize_t)nlam,
                            n);
    }
    PyObject *out = new_1d((npy_intp)n, NPY_INT64);
    if (!out) {
        Py_DECREF(lam);
        return NULL;
    }
    const double *lp = PyArray_DATA(lam);
    int64_t *op = PyArray_DATA((PyArrayObject *)out);
    int st;
    Py_BEGIN_ALLOW_THREADS
    st = fsci_rng_fill_poisson(seed, stream, lp, (int64_t)nlam, op, n, threads);
    Py_END_ALLOW_THREADS
    Py_DECREF(lam);
    if (st) {
        Py_DECREF(out);
        return fsci_py_raise(st);
    }
    return out;
}

PyMethodDef fsci_py_random_methods[] = {
    {"random_u64", (PyCFunction)(void (*)(void))py_u64, METH_VARARGS | METH_KEYWORDS,
     "random_u64(n, seed=0, stream=0, threads=0): raw Philox4x64-10 words."},
    {"random_uniform", (PyCFunction)(void (*)(void))py_uniform, METH_VARARGS | METH_KEYWORDS,
     "random_uniform(n, seed=0, stream=0, threads=0): doubles in [0, 1)."},
    {"random_normal", (PyCFunction)(void (*)(void))py_normal, METH_VARARGS | METH_KEYWORDS,
     "random_normal(n, seed=0, stream=0, threads=0): standard normal doubles."},
    {"random_poisson", (PyCFunction)(void (*)(void))py_poisson, METH_VARARGS | METH_KEYWORDS,
     "random_poisson(lam, n, seed=0, stream=0, threads=0): int64 Poisson counts; lam scalar or n values."},
    {NULL, NULL, 0, NULL},
};
