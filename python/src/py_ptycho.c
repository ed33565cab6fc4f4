/* fastsci.ptycho: the ptycho engine through the public C API. */
#include <string.h>

#include "pyfsci.h"

static PyObject *py_group(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"xcoords",      "ycoords",   "K",       "gridsize",     "nsamples", "seed",
                             "oversampling", "pool_size", "threads", "return_seeds", NULL};
    PyObject *xo, *yo;
    int K = 4, gridsize = 2, oversampling = 0, pool = 0, threads = 0, want_seeds = 0;
    long long nsamples = -1;
    unsigned long long seed = 42;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|iiLKpiip", kwlist, &xo, &yo, &K, &gridsize, &nsamples,
                                     &seed, &oversampling, &pool, &threads, &want_seeds))
        return NULL;
    PyArrayObject *x =
        (PyArrayObject *)PyArray_FROMANY(xo, NPY_FLOAT64, 1, 1, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED);
    PyArrayObject *y = x ? (PyArrayObject *)PyArray_FROMANY(yo, NPY_FLOAT64, 1, 1,
                                                            NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED)
                         : NULL;
    if (!x || !y) {
        Py_XDECREF(x);
        return NULL;
    }
    if (PyArray_SIZE(x) != PyArray_SIZE(y)) {
        Py_DECREF(x);
        Py_DECREF(y);
        return PyErr_Format(PyExc_ValueError, "xcoords has %zd values but ycoords %zd",
                            (Py_ssize_t)PyArray_SIZE(x), (Py_ssize_t)PyArray_SIZE(y));
    }
    fsci_ptycho_group_opts go = {.nsamples = nsamples < 0 ? PyArray_SIZE(x) : nsamples,
                                 .K = K,
                                 .gridsize = gridsize,
                                 .seed = seed,
                                 .oversampling = oversampling != 0,
                                 .pool_size = pool,
                                 .nthreads = threads};
    int32_t *nn = NULL;
    int64_t *seeds = NULL, B = 0;
    int st;
    Py_BEGIN_ALLOW_THREADS
    st = fsci_ptycho_group(PyArray_DATA(x), PyArray_DATA(y), PyArray_SIZE(x), &go, &nn, &seeds, &B);
    Py_END_ALLOW_THREADS
    Py_DECREF(x);
    Py_DECREF(y);
    if (st) return fsci_py_raise(st);
    int64_t C = (int64_t)gridsize * gridsize;
    fsci_array *a = NULL, *s = NULL;
    st = fsci_array_create(FSCI_I32, 2, (int64_t[2]){B, C}, false, &a);
    if (!st) st = fsci_array_create(FSCI_I64, 1, &B, false, &s);
    if (!st) {
        memcpy(a->view.data, nn, (size_t)(B * C) * sizeof *nn);
        memcpy(s->view.data, seeds, (size_t)B * sizeof *seeds);
    }
    fsci_free(nn);
    fsci_free(seeds);
    if (st) {
        fsci_array_destroy(&a);
        fsci_array_destroy(&s);
        return fsci_py_raise(st);
    }
    PyObject *pa = fsci_py_from_array(a);
    if (!want_seeds) {
        fsci_array_destroy(&s);
        return pa;
    }
    PyObject *ps = fsci_py_from_array(s);
    if (!pa || !ps) {
        Py_XDECREF(pa);
        Py_XDECREF(ps);
        return NULL;
    }
    return Py_BuildValue("(NN)", pa, ps);
}

static PyObject *py_extract(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"obj", "cx", "cy", "N", "threads", NULL};
    PyObject *oo, *cxo, *cyo, *keep = NULL;
    long long n;
    int threads = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOL|i", kwlist, &oo, &cxo, &cyo, &n, &threads)) return NULL;
    PyArrayObject *obj =
        (PyArrayObject *)PyArray_FROMANY(oo, NPY_COMPLEX64, 2, 2, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED);
    if (!obj) return NULL;
    PyArrayObject *cx =
        (PyArrayObject *)PyArray_FROMANY(cxo, NPY_FLOAT64, 1, 1, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED);
    PyArrayObject *cy = cx ? (PyArrayObject *)PyArray_FROMANY(cyo, NPY_FLOAT64, 1, 1,
                                                              NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED)
                           : NULL;
    PyObject *out = NULL;
    fsci_view v;
    if (!cx || !cy) goto done;
    if (PyArray_SIZE(cx) != PyArray_SIZE(cy)) {
        PyErr_SetString(PyExc_ValueError, "cx and cy differ in length");
        goto done;
    }
    if (n < 1 || n > 8192) {
        PyErr_Format(PyExc_ValueError, "N = %lld is outside [1, 8192]", n);
        goto done;
    }
    if (fsci_py_view((PyObject *)obj, "obj", &v, &keep) < 0) goto done;
    npy_intp dims[3] = {PyArray_SIZE(cx), (npy_intp)n, (npy_intp)n};
    out = PyArray_SimpleNew(3, dims, NPY_COMPLEX64);
    if (!out) goto done;
    int st;
    Py_BEGIN_ALLOW_THREADS
    st = fsci_ptycho_extract(&v, PyArray_DATA(cx), PyArray_DATA(cy), dims[0], n,
                             PyArray_DATA((PyArrayObject *)out), threads);
    Py_END_ALLOW_THREADS
    if (st) {
        Py_CLEAR(out);
        fsci_py_raise(st);
    }
done:
    Py_XDECREF(keep);
    Py_XDECREF(obj);
    Py_XDECREF(cx);
    Py_XDECREF(cy);
    return out;
}

static PyObject *py_diffract(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"patches", "probe", "scale", "noise", "seed", "threads", NULL};
    PyObject *po, *pro, *keep = NULL, *out = NULL;
    double scale;
    int noise = 0, threads = 0;
    unsigned long long seed = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOd|pKi", kwlist, &po, &pro, &scale, &noise, &seed, &threads))
        return NULL;
    PyArrayObject *p =
        (PyArrayObject *)PyArray_FROMANY(po, NPY_COMPLEX64, 3, 3, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED);
    if (!p) return NULL;
    fsci_view pv;
    if (fsci_py_view(pro, "probe", &pv, &keep) < 0) goto done;
    if (pv.dtype != FSCI_C64) {
        PyErr_SetString(PyExc_TypeError, "probe must be complex64");
        goto done;
    }
    npy_intp *d = PyArray_DIMS(p);
    if (d[1] != d[2]) {
        PyErr_Format(PyExc_ValueError, "patches must be (P, N, N), got (%zd, %zd, %zd)", (Py_ssize_t)d[0],
                     (Py_ssize_t)d[1], (Py_ssize_t)d[2]);
        goto done;
    }
    out = PyArray_SimpleNew(3, d, NPY_FLOAT32);
    if (!out) goto done;
    int st;
    Py_BEGIN_ALLOW_THREADS
    st = fsci_ptycho_diffract(PyArray_DATA(p), d[0], d[1], &pv, scale, noise != 0, seed,
                              FSCI_PTYCHO_STREAM_NOISE, 0, PyArray_DATA((PyArrayObject *)out), NULL, threads);
    Py_END_ALLOW_THREADS
    if (st) {
        Py_CLEAR(out);
        fsci_py_raise(st);
    }
done:
    Py_XDECREF(keep);
    Py_DECREF(p);
    return out;
}

static PyObject *py_object(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"kind", "size", "seed", NULL};
    const char *kind;
    long long size;
    unsigned long long seed = 42;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sL|K", kwlist, &kind, &size, &seed)) return NULL;
    fsci_array *a = NULL;
    int st = fsci_ptycho_object_builtin(kind, size, seed, &a);
    return st ? fsci_py_raise(st) : fsci_py_from_array(a);
}

static PyObject *py_probe(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"N", "scale", NULL};
    long long n;
    double scale = 0.7;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "L|d", kwlist, &n, &scale)) return NULL;
    fsci_array *a = NULL;
    int st = fsci_ptycho_probe_disk(n, scale, &a);
    return st ? fsci_py_raise(st) : fsci_py_from_array(a);
}

#define KWFN(f) (PyCFunction)(void (*)(void))(f)
PyMethodDef fsci_py_ptycho_methods[] = {
    {"ptycho_group", KWFN(py_group), METH_VARARGS | METH_KEYWORDS, "See fastsci.ptycho.group."},
    {"ptycho_extract", KWFN(py_extract), METH_VARARGS | METH_KEYWORDS, "See fastsci.ptycho.extract_patches."},
    {"ptycho_diffract", KWFN(py_diffract), METH_VARARGS | METH_KEYWORDS, "See fastsci.ptycho.diffract."},
    {"ptycho_object", KWFN(py_object), METH_VARARGS | METH_KEYWORDS, "See fastsci.ptycho.builtin_object."},
    {"ptycho_probe", KWFN(py_probe), METH_VARARGS | METH_KEYWORDS, "See fastsci.ptycho.disk_probe."},
    {NULL, NULL, 0, NULL},
};
