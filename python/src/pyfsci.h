/* Internal header of the fastsci Python extension. */
#ifndef FASTSCI_PYFSCI_H
#define FASTSCI_PYFSCI_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL fastsci_ARRAY_API
#ifndef FSCI_PY_MAIN_FILE
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

#include "fastsci/fastsci.h"

/* Raise the Python exception matching a library status, with the library's
 * message; returns NULL for `return fsci_py_raise(st);`. */
PyObject *fsci_py_raise(int status);

/* numpy dtype number for an fsci dtype and back (-1 / FSCI_EINVAL if none). */
int fsci_py_npy_type(fsci_dtype t);
int fsci_py_dtype(int npy_type, fsci_dtype *out);

/* A view on a numpy array of a supported dtype in native byte order. The array
 * is first converted if it is not (a new reference is stored in *keep; release
 * it when done with the view). Raises and returns -1 on failure. */
int fsci_py_view(PyObject *obj, const char *what, fsci_view *view, PyObject **keep);

/* A parameter table as a list of (name, type, default, help) tuples. */
PyObject *fsci_py_params_list(const fsci_param *table, int n);

/* Set parameter `key` of an options struct from a Python value: bool, int,
 * float, str, path, or a sequence of numbers for a list parameter. Raises
 * (TypeError naming the key for other types, the library's error for bad
 * values) and returns -1 on failure. */
int fsci_py_set_param(const fsci_param *table, int n, void *obj, const char *key, PyObject *val);

/* A thread count: None or an int >= 0 (0: the default). Raises, -1 otherwise. */
int fsci_py_threads(PyObject *obj, int *out);

/* A seed or stream number: an int in [0, 2**64). Negative or larger values
 * raise ValueError naming `what` (no wrap-around); non-integers TypeError. */
int fsci_py_seed(PyObject *obj, const char *what, uint64_t *out);

/* A numpy array that takes ownership of an fsci_array (no copy). */
PyObject *fsci_py_from_array(fsci_array *a);

/* Method tables of the submodules, merged into the module at init. */
extern PyMethodDef fsci_py_engine_methods[];
extern PyMethodDef fsci_py_random_methods[];
extern PyMethodDef fsci_py_io_methods[];
extern PyMethodDef fsci_py_ptycho_methods[];
extern PyMethodDef fsci_py_proton_methods[];
extern PyMethodDef fsci_py_qdot_methods[];

#endif
