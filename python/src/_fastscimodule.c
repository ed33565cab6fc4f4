/* fastsci's CPython extension: a thin layer over the public C API and numpy's
 * C API. Compute runs with the GIL released; library errors become exceptions
 * carrying the library's message. */
#define FSCI_PY_MAIN_FILE
#include "pyfsci.h"

static PyObject *exc_base, *exc_inval, *exc_io, *exc_format, *exc_notsup, *exc_range, *exc_nomem;

PyObject *fsci_py_raise(int status)
{
    PyObject *type = exc_base;
    switch (status) {
    case FSCI_EINVAL: type = exc_inval; break;
    case FSCI_EIO: type = exc_io; break;
    case FSCI_EFORMAT: type = exc_format; break;
    case FSCI_ENOTSUP: type = exc_notsup; break;
    case FSCI_ERANGE: type = exc_range; break;
    case FSCI_ENOMEM: type = exc_nomem; break;
    default: break;
    }
    const char *msg = fsci_error_message();
    PyErr_SetString(type, msg && *msg ? msg : fsci_strerror(status));
    return NULL;
}

static const struct {
    fsci_dtype t;
    int npy;
} dtype_map[] = {
    {FSCI_F32, NPY_FLOAT32}, {FSCI_F64, NPY_FLOAT64}, {FSCI_C64, NPY_COMPLEX64}, {FSCI_C128, NPY_COMPLEX128},
    {FSCI_I32, NPY_INT32},   {FSCI_I64, NPY_INT64},   {FSCI_U8, NPY_UINT8},      {FSCI_U16, NPY_UINT16},
};
enum { NMAP = sizeof dtype_map / sizeof dtype_map[0] };

int fsci_py_npy_type(fsci_dtype t)
{
    for (int i = 0; i < NMAP; i++)
        if (dtype_map[i].t == t) return dtype_map[i].npy;
    return -1;
}

int fsci_py_dtype(int npy_type, fsci_dtype *out)
{
    for (int i = 0; i < NMAP; i++) {
        if (PyArray_EquivTypenums(dtype_map[i].npy, npy_type)) {
            *out = dtype_map[i].t;
            return FSCI_OK;
        }
    }
    return FSCI_EINVAL;
}

int fsci_py_view(PyObject *obj, const char *what, fsci_view *view, PyObject **keep)
{
    *keep = NULL;
    PyArrayObject *arr = NULL;
    if (PyArray_Check(obj)) {
        arr = (PyArrayObject *)obj;
        Py_INCREF(arr);
    } else {
        arr = (PyArrayObject *)PyArray_FROM_O(obj);
        if (!arr) return -1;
    }
    fsci_dtype t;
    if (fsci_py_dtype(PyArray_TYPE(arr), &t) != FSCI_OK) {
        PyErr_Format(exc_notsup,
                     "%s: dtype %R is not supported (float32, float64, complex64, complex128, "
                     "int32, int64, uint8, uint16)",
                     what, (PyObject *)PyArray_DESCR(arr));
        Py_DECREF(arr);
        return -1;
    }
    if (PyArray_NDIM(arr) > FSCI_MAX_NDIM) {
        PyErr_Format(exc_inval, "%s: %d dimensions (at most %d)", what, PyArray_NDIM(arr), FSCI_MAX_NDIM);
        Py_DECREF(arr);
        return -1;
    }
    if (!PyArray_ISNOTSWAPPED(arr) || !PyArray_ISALIGNED(arr)) {
        PyArray_Descr *d = PyArray_DescrFromType(fsci_py_npy_type(t));
        PyArrayObject *c = (PyArrayObject *)PyArray_FromAny((PyObject *)arr, d, 0, 0,
                                                            NPY_ARRAY_ALIGNED | NPY_ARRAY_NOTSWAPPED, NULL);
        Py_DECREF(arr);
        if (!c) return -1;
        arr = c;
    }
    memset(view, 0, sizeof *view);
    view->data = PyArray_DATA(arr);
    view->dtype = t;
    view->ndim = PyArray_NDIM(arr);
    for (int k = 0; k < view->ndim; k++) {
        view->shape[k] = PyArray_DIM(arr, k);
        view->strides[k] = PyArray_STRIDE(arr, k);
    }
    *keep = (PyObject *)arr;
    return 0;
}

PyObject *fsci_py_params_list(const fsci_param *table, int n)
{
    static const char *types[] = {"int", "float", "bool", "str", "choice", "floats"};
    PyObject *list = PyList_New(n);
    if (!list) return NULL;
    for (int i = 0; i < n; i++) {
        const fsci_param *p = &table[i];
        PyObject *t = Py_BuildValue("(ssss)", p->name, types[p->type], p->defval ? p->defval : "",
                                    p->help ? p->help : "");
        if (!t) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, t);
    }
    return list;
}

/* What a parameter of type t accepts from Python, for messages. */
static const char *accepts(fsci_param_type t)
{
    switch (t) {
    case FSCI_PARAM_INT: return "an int";
    case FSCI_PARAM_DOUBLE: return "a real number";
    case FSCI_PARAM_BOOL: return "a bool";
    case FSCI_PARAM_DOUBLES: return "a real number or a sequence of them";
    default: return "a str";
    }
}

static int is_path(PyObject *v)
{
    return PyUnicode_Check(v) || PyBytes_Check(v) || PyObject_HasAttrString(v, "__fspath__");
}

/* A real number: int, float or a numpy integer/float scalar (or 0-d array); never bool-only
 * for numbers, complex, None, arrays of more than one value or strings. */
static int is_real(PyObject *v)
{
    if (PyComplex_Check(v) || PyArray_IsScalar(v, ComplexFloating)) return 0;
    if (PyArray_Check(v)) {
        PyArrayObject *a = (PyArrayObject *)v;
        return PyArray_NDIM(a) == 0 && (PyArray_ISINTEGER(a) || PyArray_ISFLOAT(a));
    }
    return PyLong_Check(v) || PyFloat_Check(v) || PyArray_IsScalar(v, Integer) ||
           PyArray_IsScalar(v, Floating);
}

static int number_text(const char *key, PyObject *val, char *buf, size_t cap)
{
    if (PyLong_Check(val) || PyArray_IsScalar(val, Integer)) { /* keep integers exact */
        PyObject *i = PyNumber_Index(val);
        long long v = i ? PyLong_AsLongLong(i) : -1;
        if (i && v == -1 && PyErr_Occurred() && PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_Format(exc_range, "%s: %S is outside the 64-bit integer range", key, i);
        }
        Py_XDECREF(i);
        if (PyErr_Occurred()) return -1;
        snprintf(buf, cap, "%lld", v);
        return 0;
    }
    PyObject *fv = PyNumber_Float(val);
    PyObject *r = fv ? PyObject_Repr(fv) : NULL;
    Py_XDECREF(fv);
    if (!r) return -1;
    snprintf(buf, cap, "%s", PyUnicode_AsUTF8(r));
    Py_DECREF(r);
    return 0;
}

/* The text of one scalar value for parameter p, checked against p's type. */
static int param_text(const fsci_param *p, const char *key, PyObject *val, char *buf, size_t cap)
{
    fsci_param_type t = p ? p->type : FSCI_PARAM_STRING;
    bool is_bool = PyBool_Check(val) || PyArray_IsScalar(val, Bool);
    if (t == FSCI_PARAM_BOOL && is_bool) {
        snprintf(buf, cap, "%s", PyObject_IsTrue(val) ? "true" : "false");
        return 0;
    }
    if ((t == FSCI_PARAM_STRING || t == FSCI_PARAM_CHOICE ||
         (t == FSCI_PARAM_DOUBLES && PyUnicode_Check(val))) &&
        is_path(val)) {
        PyObject *b = NULL;
        if (!PyUnicode_FSConverter(val, &b)) return -1;
        Py_ssize_t n = PyBytes_GET_SIZE(b);
        if ((size_t)n >= cap || strlen(PyBytes_AS_STRING(b)) != (size_t)n) {
            PyErr_Format(exc_inval, "%s: %s", key,
                         (size_t)n >= cap ? "the value is too long" : "contains a NUL");
            Py_DECREF(b);
            return -1;
        }
        snprintf(buf, cap, "%s", PyBytes_AS_STRING(b));
        Py_DECREF(b);
        return 0;
    }
    if ((t == FSCI_PARAM_INT || t == FSCI_PARAM_DOUBLE || t == FSCI_PARAM_DOUBLES) && !is_bool &&
        is_real(val))
        return number_text(key, val, buf, cap);
    PyErr_Format(PyExc_TypeError, "%s: expected %s, got %s", key, accepts(t), Py_TYPE(val)->tp_name);
    return -1;
}

int fsci_py_set_param(const fsci_param *table, int n, void *obj, const char *key, PyObject *val)
{
    char text[FSCI_PARAM_STRLEN * 4];
    const fsci_param *p = fsci_params_find(table, n, key);
    if (!p) {
        PyErr_Format(PyExc_TypeError, "unexpected keyword argument '%s'", key);
        return -1;
    }
    if (p && p->type == FSCI_PARAM_DOUBLES && !PyUnicode_Check(val) && !PyBytes_Check(val) &&
        PySequence_Check(val)) {
        PyObject *seq = PySequence_Fast(val, key);
        if (!seq) return -1;
        size_t len = 0;
        text[0] = '\0';
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
            char one[64];
            int n1;
            if (param_text(p, key, PySequence_Fast_GET_ITEM(seq, i), one, sizeof one) < 0 ||
                (n1 = snprintf(text + len, sizeof text - len, "%s%s", i ? "," : "", one)) < 0 ||
                (size_t)n1 >= sizeof text - len) {
                Py_DECREF(seq);
                if (!PyErr_Occurred()) PyErr_Format(PyExc_ValueError, "%s: too many values", key);
                return -1;
            }
            len += (size_t)n1;
        }
        Py_DECREF(seq);
    } else if (param_text(p, key, val, text, sizeof text) < 0) {
        return -1;
    }
    int st = fsci_params_set(table, n, obj, key, text);
    if (st) {
        fsci_py_raise(st);
        return -1;
    }
    return 0;
}

int fsci_py_threads(PyObject *obj, int *out)
{
    *out = 0;
    if (!obj || obj == Py_None || (PyLong_Check(obj) && !PyBool_Check(obj) && PyLong_AsLong(obj) == 0)) {
        int st = fsci_parallel_check_env();
        if (st) fsci_py_raise(st);
        return st ? -1 : 0;
    }
    if (PyBool_Check(obj) || !PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "threads: expected an int, got %s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    long v = PyLong_AsLong(obj);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (v < 0 || v > 4096) {
        PyErr_Format(exc_inval, "threads: %ld is outside [0, 4096] (0: the default)", v);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int fsci_py_seed(PyObject *obj, const char *what, uint64_t *out)
{
    if (PyBool_Check(obj) || !PyIndex_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s: expected an int, got %s", what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    PyObject *i = PyNumber_Index(obj);
    if (!i) return -1;
    PyObject *zero = PyLong_FromLong(0);
    int neg = zero ? PyObject_RichCompareBool(i, zero, Py_LT) : -1;
    Py_XDECREF(zero);
    if (neg < 0) {
        Py_DECREF(i);
        return -1;
    }
    unsigned long long v = neg ? 0 : PyLong_AsUnsignedLongLong(i);
    if (neg || (v == (unsigned long long)-1 && PyErr_Occurred())) {
        PyErr_Clear();
        PyErr_Format(exc_inval, "%s: %S is outside [0, 2**64 - 1]", what, i);
        Py_DECREF(i);
        return -1;
    }
    Py_DECREF(i);
    *out = v;
    return 0;
}

static void capsule_free(PyObject *cap)
{
    fsci_array *a = PyCapsule_GetPointer(cap, "fastsci.array");
    fsci_array_destroy(&a);
}

PyObject *fsci_py_from_array(fsci_array *a)
{
    npy_intp dims[FSCI_MAX_NDIM], strides[FSCI_MAX_NDIM];
    for (int k = 0; k < a->view.ndim; k++) {
        dims[k] = (npy_intp)a->view.shape[k];
        strides[k] = (npy_intp)a->view.strides[k];
    }
    PyObject *cap = PyCapsule_New(a, "fastsci.array", capsule_free);
    if (!cap) {
        fsci_array_destroy(&a);
        return NULL;
    }
    PyObject *arr = PyArray_New(&PyArray_Type, a->view.ndim, dims, fsci_py_npy_type(a->view.dtype), strides,
                                a->view.data, 0, NPY_ARRAY_WRITEABLE | NPY_ARRAY_ALIGNED, NULL);
    if (!arr) {
        Py_DECREF(cap);
        return NULL;
    }
    if (PyArray_SetBaseObject((PyArrayObject *)arr, cap) < 0) {
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

static PyObject *py_version(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyUnicode_FromString(fsci_version());
}

static PyObject *py_set_threads(PyObject *self, PyObject *args)
{
    (void)self;
    int n;
    if (!PyArg_ParseTuple(args, "i", &n)) return NULL;
    int st = fsci_parallel_set_threads(n);
    if (st) return fsci_py_raise(st);
    Py_RETURN_NONE;
}

static PyObject *py_get_threads(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromLong(fsci_parallel_threads());
}

static PyObject *py_set_quiet(PyObject *self, PyObject *args)
{
    (void)self;
    int q;
    if (!PyArg_ParseTuple(args, "p", &q)) return NULL;
    fsci_progress_set_mode(q ? FSCI_PROGRESS_QUIET : FSCI_PROGRESS_AUTO);
    Py_RETURN_NONE;
}

static PyMethodDef core_methods[] = {
    {"version", py_version, METH_NOARGS, "Library version string."},
    {"set_threads", py_set_threads, METH_VARARGS, "set_threads(n): default thread count (0 resets)."},
    {"get_threads", py_get_threads, METH_NOARGS, "Current default thread count."},
    {"set_quiet", py_set_quiet, METH_VARARGS, "set_quiet(flag): silence progress output and warnings."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT,
    "_fastsci",
    "fastsci C extension (use the fastsci package).",
    -1,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
};

static int add_methods(PyObject *m, PyMethodDef *defs)
{
    for (PyMethodDef *d = defs; d->ml_name; d++) {
        PyObject *f = PyCFunction_NewEx(d, NULL, PyModule_GetNameObject(m));
        if (!f || PyModule_AddObject(m, d->ml_name, f) < 0) {
            Py_XDECREF(f);
            return -1;
        }
    }
    return 0;
}

static PyObject *new_exc(PyObject *m, const char *name, PyObject *base2, const char *doc)
{
    char full[96];
    snprintf(full, sizeof full, "fastsci.%s", name);
    PyObject *bases = base2 ? PyTuple_Pack(2, exc_base, base2) : PyTuple_Pack(1, PyExc_Exception);
    if (!bases) return NULL;
    PyObject *e = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
    Py_DECREF(bases);
    if (e && PyModule_AddObject(m, name, e) < 0) return NULL;
    Py_XINCREF(e);
    return e;
}

PyMODINIT_FUNC PyInit__fastsci(void)
{
    import_array();
    PyObject *m = PyModule_Create(&moddef);
    if (!m) return NULL;
    if (add_methods(m, core_methods) < 0 || add_methods(m, fsci_py_engine_methods) < 0 ||
        add_methods(m, fsci_py_random_methods) < 0 || add_methods(m, fsci_py_io_methods) < 0 ||
        add_methods(m, fsci_py_ptycho_methods) < 0 || add_methods(m, fsci_py_proton_methods) < 0 ||
        add_methods(m, fsci_py_qdot_methods) < 0)
        goto fail;
    if (!(exc_base = new_exc(m, "Error", NULL, "Base class of every fastsci error."))) goto fail;
    if (!(exc_inval =
              new_exc(m, "InvalidArgumentError", PyExc_ValueError, "A parameter or input is invalid.")) ||
        !(exc_io = new_exc(m, "FileError", PyExc_OSError, "A file could not be read or written.")) ||
        !(exc_format = new_exc(m, "FormatError", PyExc_ValueError, "A file is malformed or truncated.")) ||
        !(exc_notsup =
              new_exc(m, "UnsupportedError", PyExc_NotImplementedError, "Valid but unsupported input.")) ||
        !(exc_range = new_exc(m, "RangeError", PyExc_ValueError, "A value is out of the supported range.")) ||
        !(exc_nomem = new_exc(m, "OutOfMemoryError", PyExc_MemoryError, "An allocation failed.")))
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
