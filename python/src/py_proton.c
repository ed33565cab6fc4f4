/* fastsci.proton: the proton engine through the public C API. */
#include <string.h>

#include "pyfsci.h"

static PyObject *py_csda_range(PyObject *self, PyObject *args)
{
    (void)self;
    double e;
    if (!PyArg_ParseTuple(args, "d", &e)) return NULL;
    fsci_proton_physics *ph = NULL;
    double r = 0;
    int st = fsci_proton_physics_create(NULL, &ph);
    if (!st) st = fsci_proton_physics_range_mm(ph, e, &r);
    fsci_proton_physics_destroy(&ph);
    if (st) return fsci_py_raise(st);
    return PyFloat_FromDouble(r);
}

static PyObject *py_stopping_power(PyObject *self, PyObject *args)
{
    (void)self;
    double e, s = 0;
    if (!PyArg_ParseTuple(args, "d", &e)) return NULL;
    int st = fsci_proton_stopping_power(e, FSCI_PROTON_SP_PSTAR, &s);
    if (st) return fsci_py_raise(st);
    return PyFloat_FromDouble(s);
}

static PyObject *py_range_straggling(PyObject *self, PyObject *args)
{
    (void)self;
    double e, sig = 0;
    if (!PyArg_ParseTuple(args, "d", &e)) return NULL;
    fsci_proton_physics *ph = NULL;
    int st = fsci_proton_physics_create(NULL, &ph);
    if (!st) st = fsci_proton_physics_range_straggling(ph, e, &sig);
    fsci_proton_physics_destroy(&ph);
    if (st) return fsci_py_raise(st);
    return PyFloat_FromDouble(sig);
}

/* bragg_curve(energy, sigma_e, mu, local, nz, dz) -> float64 ndarray (nz,) */
static PyObject *py_bragg_curve(PyObject *self, PyObject *args)
{
    (void)self;
    double e, se, mu, loc, dz;
    long long nz;
    if (!PyArg_ParseTuple(args, "ddddLd", &e, &se, &mu, &loc, &nz, &dz)) return NULL;
    if (nz < 1 || nz > 100000000) {
        PyErr_Format(PyExc_ValueError, "bragg_curve: nz = %lld is not in [1, 1e8]", nz);
        return NULL;
    }
    npy_intp dims[1] = {(npy_intp)nz};
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(1, dims, NPY_FLOAT64);
    if (!out) return NULL;
    fsci_proton_physics *ph = NULL;
    int st = fsci_proton_physics_create(NULL, &ph);
    if (!st) {
        double *d = (double *)PyArray_DATA(out);
        Py_BEGIN_ALLOW_THREADS
        st = fsci_proton_physics_bragg_curve(ph, e, se, mu, loc, (int64_t)nz, dz, d);
        Py_END_ALLOW_THREADS
    }
    fsci_proton_physics_destroy(&ph);
    if (st) {
        Py_DECREF(out);
        return fsci_py_raise(st);
    }
    return (PyObject *)out;
}

#define KWFN(f) (PyCFunction)(void (*)(void))(f)

PyMethodDef fsci_py_proton_methods[] = {
    {"proton_csda_range", py_csda_range, METH_VARARGS, "CSDA range of water (mm) from PSTAR."},
    {"proton_stopping_power", py_stopping_power, METH_VARARGS, "PSTAR mass stopping power (MeV cm^2/g)."},
    {"proton_range_straggling", py_range_straggling, METH_VARARGS,
     "Bohr range straggling sigma_R (mm) in water."},
    {"proton_bragg_curve", py_bragg_curve, METH_VARARGS, "Analytic depth dose (MeV/mm per primary)."},
    {NULL, NULL, 0, NULL},
};
