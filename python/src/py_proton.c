/* fastsci.proton: the proton engine through the public C API. */
#include <string.h>

#include "pyfsci.h"

static PyObject *py_params(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return fsci_py_params_list(fsci_proton_params, FSCI_PROTON_NPARAMS);
}

static int set_param(fsci_proton_run_opts *o, const char *key, PyObject *val)
{
    char text[FSCI_PARAM_STRLEN * 4];
    const fsci_param *p = fsci_params_find(fsci_proton_params, FSCI_PROTON_NPARAMS, key);
    if (p && p->type == FSCI_PARAM_DOUBLES && !PyUnicode_Check(val) && PySequence_Check(val)) {
        PyObject *seq = PySequence_Fast(val, key);
        if (!seq) return -1;
        size_t len = 0;
        text[0] = '\0';
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
            char one[64];
            if (fsci_py_param_text(key, PySequence_Fast_GET_ITEM(seq, i), one, sizeof one) < 0) {
                Py_DECREF(seq);
                return -1;
            }
            int n = snprintf(text + len, sizeof text - len, "%s%s", i ? "," : "", one);
            if (n < 0 || (size_t)n >= sizeof text - len) break;
            len += (size_t)n;
        }
        Py_DECREF(seq);
    } else if (fsci_py_param_text(key, val, text, sizeof text) < 0) {
        return -1;
    }
    int st = fsci_params_set(fsci_proton_params, FSCI_PROTON_NPARAMS, o, key, text);
    if (st) {
        fsci_py_raise(st);
        return -1;
    }
    return 0;
}

static PyObject *new_array(const double *src, int nd, npy_intp *dims)
{
    PyObject *a = PyArray_SimpleNew(nd, dims, NPY_FLOAT64);
    if (!a) return NULL;
    npy_intp n = PyArray_SIZE((PyArrayObject *)a);
    memcpy(PyArray_DATA((PyArrayObject *)a), src, (size_t)n * sizeof(double));
    return a;
}

static PyObject *balance_dict(const fsci_proton_balance *b)
{
    return Py_BuildValue("{sdsdsdsdsdsdsdsdsd}", "initial", b->initial, "deposited", b->deposited, "leaked",
                         b->leaked, "rejected", b->rejected, "cutoff", b->cutoff, "nuclear", b->nuclear,
                         "pruned", b->pruned, "remaining", b->remaining, "residual", b->residual);
}

static PyObject *result_dict(const fsci_proton_result *r)
{
    npy_intp d2[2] = {(npy_intp)r->nz, (npy_intp)r->nx}, dz[1] = {(npy_intp)r->nz}, dx[1] = {(npy_intp)r->nx};
    PyObject *z = PyArray_SimpleNew(1, dz, NPY_FLOAT64), *x = PyArray_SimpleNew(1, dx, NPY_FLOAT64);
    PyObject *gy = new_array(r->dose_gy, 2, d2), *mev = new_array(r->dose_mev, 2, d2);
    PyObject *dd = new_array(r->depth_dose, 1, dz), *bw = balance_dict(&r->weight),
             *be = balance_dict(&r->energy);
    if (!z || !x || !gy || !mev || !dd || !bw || !be) {
        Py_XDECREF(z);
        Py_XDECREF(x);
        Py_XDECREF(gy);
        Py_XDECREF(mev);
        Py_XDECREF(dd);
        Py_XDECREF(bw);
        Py_XDECREF(be);
        return NULL;
    }
    double *zp = PyArray_DATA((PyArrayObject *)z), *xp = PyArray_DATA((PyArrayObject *)x);
    for (int64_t k = 0; k < r->nz; k++) zp[k] = ((double)k + 0.5) * r->dz_mm;
    for (int64_t i = 0; i < r->nx; i++) xp[i] = ((double)i + 0.5 - 0.5 * (double)r->nx) * r->dx_mm;
    const fsci_proton_range_metrics *m = &r->metrics;
    return Py_BuildValue("{sNsNsNsNsNsdsdsdsdsdsdsdsNsNsLsd}", "dose", gy, "dose_mev", mev, "depth_dose", dd,
                         "z", z, "x", x, "R80", m->r80_mm, "R90", m->r90_mm, "R50", m->r50_mm, "R20",
                         m->r20_mm, "peak_depth", m->peak_mm, "d80_20", m->falloff_mm, "entrance",
                         m->entrance, "balance", bw, "energy_balance", be, "steps", (long long)r->steps,
                         "seconds", r->seconds);
}

static PyObject *py_run(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    if (PyTuple_GET_SIZE(args) != 0) {
        PyErr_SetString(PyExc_TypeError, "run() takes keyword arguments only");
        return NULL;
    }
    fsci_proton_run_opts o;
    if (fsci_params_defaults(fsci_proton_params, FSCI_PROTON_NPARAMS, &o))
        return fsci_py_raise(fsci_error_code());
    int threads = 0;
    bool progress = false;
    PyObject *output = NULL, *result = NULL;
    PyObject *key, *val;
    Py_ssize_t pos = 0;
    while (kw && PyDict_Next(kw, &pos, &key, &val)) {
        const char *k = PyUnicode_AsUTF8(key);
        if (!k) goto done;
        if (val == Py_None) continue;
        if (strcmp(k, "threads") == 0) {
            threads = (int)PyLong_AsLong(val);
            if (PyErr_Occurred()) goto done;
            if (threads < 0) {
                PyErr_Format(PyExc_ValueError, "threads: %d must be >= 0", threads);
                goto done;
            }
        } else if (strcmp(k, "progress") == 0) {
            progress = PyObject_IsTrue(val) == 1;
        } else if (strcmp(k, "output") == 0) {
            if (!PyUnicode_FSConverter(val, &output)) goto done;
        } else if (fsci_params_find(fsci_proton_params, FSCI_PROTON_NPARAMS, k)) {
            if (set_param(&o, k, val) < 0) goto done;
        } else {
            PyErr_Format(PyExc_TypeError, "run() got an unexpected keyword argument '%s'", k);
            goto done;
        }
    }
    fsci_proton_setup *su = NULL;
    fsci_proton_result res = {0};
    int st = fsci_proton_setup_create(&o, threads, progress, &su);
    if (!st) {
        Py_BEGIN_ALLOW_THREADS st = fsci_proton_simulate(su, &res);
        if (!st && output) st = fsci_proton_result_write(&res, PyBytes_AS_STRING(output));
        Py_END_ALLOW_THREADS
    }
    fsci_proton_setup_destroy(&su);
    if (st) {
        fsci_py_raise(st);
    } else {
        result = result_dict(&res);
    }
    fsci_proton_result_free(&res);
done:
    Py_XDECREF(output);
    return result;
}

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
    {"proton_params", py_params, METH_NOARGS, "proton parameters: list of (name, type, default, help)."},
    {"proton_run", KWFN(py_run), METH_VARARGS | METH_KEYWORDS, "See fastsci.proton.run."},
    {"proton_csda_range", py_csda_range, METH_VARARGS, "CSDA range of water (mm) from PSTAR."},
    {"proton_stopping_power", py_stopping_power, METH_VARARGS, "PSTAR mass stopping power (MeV cm^2/g)."},
    {NULL, NULL, 0, NULL},
};
