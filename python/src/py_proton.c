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

#define KWFN(f) (PyCFunction)(void (*)(void))(f)

PyMethodDef fsci_py_proton_methods[] = {
    {"proton_csda_range", py_csda_range, METH_VARARGS, "CSDA range of water (mm) from PSTAR."},
    {"proton_stopping_power", py_stopping_power, METH_VARARGS, "PSTAR mass stopping power (MeV cm^2/g)."},
    {NULL, NULL, 0, NULL},
};
