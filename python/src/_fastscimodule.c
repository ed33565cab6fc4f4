#define PY_SSIZE_T_CLEAN
#include <Python.h>
static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "_fastsci", NULL, -1, NULL, NULL, NULL, NULL, NULL};
PyMODINIT_FUNC PyInit__fastsci(void) { return PyModule_Create(&moddef); }
