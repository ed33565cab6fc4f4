/* fastsci.io: .npy and .npz through the library's readers and writers. */
#include "pyfsci.h"

#include <string.h>

static PyObject *py_npy_load(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *pathobj;
    if (!PyArg_ParseTuple(args, "O&", PyUnicode_FSConverter, &pathobj)) return NULL;
    fsci_array *a = NULL;
    int st;
    const char *path = PyBytes_AS_STRING(pathobj);
    Py_BEGIN_ALLOW_THREADS
    st = fsci_npy_read(path, &a);
    Py_END_ALLOW_THREADS
    Py_DECREF(pathobj);
    if (st) return fsci_py_raise(st);
    return fsci_py_from_array(a);
}

static PyObject *py_npy_save(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *pathobj, *arrobj, *keep = NULL;
    if (!PyArg_ParseTuple(args, "O&O", PyUnicode_FSConverter, &pathobj, &arrobj)) return NULL;
    fsci_view v;
    if (fsci_py_view(arrobj, "array", &v, &keep) < 0) {
        Py_DECREF(pathobj);
        return NULL;
    }
    int st;
    const char *path = PyBytes_AS_STRING(pathobj);
    Py_BEGIN_ALLOW_THREADS
    st = fsci_npy_write(path, &v);
    Py_END_ALLOW_THREADS
    Py_DECREF(pathobj);
    Py_XDECREF(keep);
    if (st) return fsci_py_raise(st);
    Py_RETURN_NONE;
}

static PyObject *py_npz_load(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *pathobj;
    if (!PyArg_ParseTuple(args, "O&", PyUnicode_FSConverter, &pathobj)) return NULL;
    fsci_npz *z = NULL;
    int st;
    const char *path = PyBytes_AS_STRING(pathobj);
    Py_BEGIN_ALLOW_THREADS
    st = fsci_npz_open(path, &z);
    Py_END_ALLOW_THREADS
    Py_DECREF(pathobj);
    if (st) return fsci_py_raise(st);
    PyObject *dict = PyDict_New();
    if (!dict) goto fail;
    for (int64_t i = 0; i < fsci_npz_count(z); i++) {
        const char *name = fsci_npz_name(z, i);
        fsci_array *a = NULL;
        Py_BEGIN_ALLOW_THREADS
        st = fsci_npz_read(z, name, &a);
        Py_END_ALLOW_THREADS
        PyObject *val = NULL;
        if (st == FSCI_ENOTSUP) {
            /* Not an array of ours: perhaps a string member (JSON metadata). */
            char *text = NULL, why[512];
            snprintf(why, sizeof why, "%s", fsci_error_message());
            Py_BEGIN_ALLOW_THREADS
            st = fsci_npz_read_string(z, name, &text);
            Py_END_ALLOW_THREADS
            if (st == FSCI_EINVAL) /* not a string either: report the dtype problem */
                st = fsci_error_set(FSCI_ENOTSUP, __FILE__, __LINE__, __func__, "%s", why);
            if (st) {
                fsci_py_raise(st);
                goto fail;
            }
            val = PyUnicode_FromString(text);
            fsci_free(text);
        } else if (st) {
            fsci_py_raise(st);
            goto fail;
        } else {
            val = fsci_py_from_array(a);
        }
        if (!val || PyDict_SetItemString(dict, name, val) < 0) {
            Py_XDECREF(val);
            goto fail;
        }
        Py_DECREF(val);
    }
    fsci_npz_close(&z);
    return dict;
fail:
    fsci_npz_close(&z);
    Py_XDECREF(dict);
    return NULL;
}

static PyObject *py_npz_save(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"path", "arrays", "compress", NULL};
    PyObject *pathobj, *dict;
    int compress = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&O!|p", kwlist, PyUnicode_FSConverter, &pathobj,
                                     &PyDict_Type, &dict, &compress))
        return NULL;
    fsci_npz_writer *w = NULL;
    int st = fsci_npz_writer_create(PyBytes_AS_STRING(pathobj), compress != 0, &w);
    Py_DECREF(pathobj);
    if (st) return fsci_py_raise(st);
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(dict, &pos, &key, &value)) {
        if (!PyUnicode_Check(key)) {
            PyErr_Format(PyExc_TypeError, "npz_save: arrays: member names must be str, not %.100s",
                         Py_TYPE(key)->tp_name);
            goto fail;
        }
        Py_ssize_t klen;
        const char *name = PyUnicode_AsUTF8AndSize(key, &klen);
        if (!name) goto fail;
        /* the C writer takes NUL-terminated names: a NUL would cut the name short */
        if (memchr(name, '\0', (size_t)klen)) {
            PyErr_Format(PyExc_ValueError, "npz_save: arrays: member name %R contains a NUL character", key);
            goto fail;
        }
        if (PyUnicode_Check(value)) {
            Py_ssize_t tlen;
            const char *text = PyUnicode_AsUTF8AndSize(value, &tlen);
            if (!text) goto fail;
            if (memchr(text, '\0', (size_t)tlen)) {
                PyErr_Format(PyExc_ValueError, "npz_save: arrays: string member %R contains a NUL character",
                             key);
                goto fail;
            }
            if ((st = fsci_npz_writer_add_string(w, name, text))) goto lib_fail;
            continue;
        }
        fsci_view v;
        PyObject *keep = NULL;
        if (fsci_py_view(value, name, &v, &keep) < 0) goto fail;
        Py_BEGIN_ALLOW_THREADS
        st = fsci_npz_writer_add(w, name, &v);
        Py_END_ALLOW_THREADS
        Py_XDECREF(keep);
        if (st) goto lib_fail;
    }
    Py_BEGIN_ALLOW_THREADS
    st = fsci_npz_writer_close(&w);
    Py_END_ALLOW_THREADS
    if (st) return fsci_py_raise(st);
    Py_RETURN_NONE;
lib_fail:
    fsci_py_raise(st);
fail:
    fsci_npz_writer_abort(&w);
    return NULL;
}

PyMethodDef fsci_py_io_methods[] = {
    {"npy_load", py_npy_load, METH_VARARGS, "npy_load(path) -> ndarray"},
    {"npy_save", py_npy_save, METH_VARARGS, "npy_save(path, array)"},
    {"npz_load", py_npz_load, METH_VARARGS, "npz_load(path) -> dict of ndarrays (str for string members)"},
    {"npz_save", (PyCFunction)(void (*)(void))py_npz_save, METH_VARARGS | METH_KEYWORDS,
     "npz_save(path, arrays, compress=False)"},
    {NULL, NULL, 0, NULL},
};
