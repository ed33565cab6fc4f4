/* fastsci.qdot: the compat toy model through the public C API (the compat
 * tests compare it with the numpy port of the reference). */
#include "pyfsci.h"

static int toy_from(PyObject *o, fsci_qdot_toy *p)
{
    return PyArg_ParseTuple(o, "dddddd", &p->e_c1, &p->e_c2, &p->t_c, &p->temp, &p->lever, &p->noise);
}

static PyArrayObject *f64_1d(PyObject *o, const char *what)
{
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(o, NPY_FLOAT64, 1, 1, NPY_ARRAY_CARRAY_RO);
    if (!a) PyErr_Format(PyExc_ValueError, "%s: expected a 1-D float array", what);
    return a;
}

/* toy_predict((e_c1, e_c2, t_c, T, lever, noise), v1[P], v2[P], states[S, 2]) -> (S, P) */
static PyObject *py_toy_predict(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *po, *o1, *o2, *os;
    fsci_qdot_toy p;
    if (!PyArg_ParseTuple(args, "OOOO", &po, &o1, &o2, &os) || !toy_from(po, &p)) return NULL;
    PyArrayObject *v1 = f64_1d(o1, "v1"), *v2 = v1 ? f64_1d(o2, "v2") : NULL;
    PyArrayObject *st = v2 ? (PyArrayObject *)PyArray_FROMANY(os, NPY_INT, 2, 2, NPY_ARRAY_CARRAY_RO) : NULL;
    PyObject *ret = NULL;
    if (!st) goto done;
    if (PyArray_DIM(v1, 0) != PyArray_DIM(v2, 0) || PyArray_DIM(st, 1) != 2) {
        PyErr_SetString(PyExc_ValueError, "toy_predict: v1 and v2 of one length, states of shape (S, 2)");
        goto done;
    }
    npy_intp dims[2] = {PyArray_DIM(st, 0), PyArray_DIM(v1, 0)};
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_FLOAT64);
    if (!out) goto done;
    int rc = fsci_qdot_toy_predict(&p, PyArray_DATA(v1), PyArray_DATA(v2), dims[1], PyArray_DATA(st),
                                   (int)dims[0], PyArray_DATA(out));
    if (rc) {
        Py_DECREF(out);
        fsci_py_raise(rc);
        goto done;
    }
    ret = (PyObject *)out;
done:
    Py_XDECREF(v1);
    Py_XDECREF(v2);
    Py_XDECREF(st);
    return ret;
}

/* toy_current(params, v1[P], v2[P], draws[P]) -> (P,): current() with the given normal draws */
static PyObject *py_toy_current(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *po, *o1, *o2, *od;
    fsci_qdot_toy p;
    if (!PyArg_ParseTuple(args, "OOOO", &po, &o1, &o2, &od) || !toy_from(po, &p)) return NULL;
    PyArrayObject *v1 = f64_1d(o1, "v1"), *v2 = v1 ? f64_1d(o2, "v2") : NULL,
                  *dr = v2 ? f64_1d(od, "draws") : NULL;
    PyObject *ret = NULL;
    if (!dr) goto done;
    npy_intp n = PyArray_DIM(v1, 0);
    if (PyArray_DIM(v2, 0) != n || PyArray_DIM(dr, 0) != n) {
        PyErr_SetString(PyExc_ValueError, "toy_current: v1, v2 and draws of one length");
        goto done;
    }
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_FLOAT64);
    if (!out) goto done;
    const double *a = PyArray_DATA(v1), *b = PyArray_DATA(v2), *d = PyArray_DATA(dr);
    double *o = PyArray_DATA(out);
    for (npy_intp i = 0; i < n; i++) o[i] = fsci_qdot_toy_current(&p, a[i], b[i], d[i]);
    ret = (PyObject *)out;
done:
    Py_XDECREF(v1);
    Py_XDECREF(v2);
    Py_XDECREF(dr);
    return ret;
}

PyMethodDef fsci_py_qdot_methods[] = {
    {"qdot_toy_predict", py_toy_predict, METH_VARARGS,
     "Compat toy model: current_for_state over (S, 2) states and P voltage points -> (S, P)."},
    {"qdot_toy_current", py_toy_current, METH_VARARGS,
     "Compat toy model: current() at P points with the caller's standard normal draws -> (P,)."},
    {NULL, NULL, 0, NULL},
};
