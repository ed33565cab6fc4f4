/* _fastsci_bench.qdot_trial / qdot_bench: the C tuning agent of the qdot engine in compat
 * mode (src/qdot/agent.h) for python/tests/test_qdot_agent.py and the benchmark against the
 * numpy port bench/qdot_ref.py. Results are dicts with run_trial's keys. Added to the module
 * by fsci_bench_qdot_agent_init() from PyInit__fastsci_bench (py_proton_bench.c). */
#include <stdio.h>

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include "fastsci/fastsci.h"
#include "qdot/agent.h"

int fsci_bench_qdot_agent_init(PyObject *m);

static PyObject *raise_status(int status)
{
    PyObject *type = PyExc_RuntimeError;
    if (status == FSCI_EINVAL || status == FSCI_ERANGE) type = PyExc_ValueError;
    if (status == FSCI_ENOMEM) type = PyExc_MemoryError;
    const char *msg = fsci_error_message();
    PyErr_SetString(type, msg && *msg ? msg : fsci_strerror(status));
    return NULL;
}

static PyObject *result_dict(const fsci__qdot_trial_result *r)
{
    PyObject *dev = Py_BuildValue("{s:d,s:d,s:d,s:d,s:d,s:d}", "E_c1", r->device[0], "E_c2", r->device[1],
                                  "t_c", r->device[2], "T", r->device[3], "lever_arm", r->device[4],
                                  "noise_level", r->device[5]);
    if (!dev) return NULL;
    return Py_BuildValue("{s:O,s:L,s:d,s:s,s:L,s:L,s:L,s:L,s:d,s:N}", "success",
                         r->success ? Py_True : Py_False, "total_measurements",
                         (long long)r->total_measurements, "reduction", r->reduction, "final_stage",
                         fsci__qdot_stage_name(r->final_stage), "steps", (long long)r->steps, "backtracks",
                         (long long)r->backtracks, "hitl_count", (long long)r->hitl_count, "decisions",
                         (long long)r->decisions, "seconds", r->seconds, "device", dev);
}

static int parse_opts(PyObject *args, PyObject *kw, fsci__qdot_trial_opts *o, int *extra, const char **path,
                      bool bench)
{
    static char *kw_trial[] = {"trial", "seed",        "budget",        "max_steps", "particles", "n_mc",
                               "nats",  "no_dqc_gate", "success_first", "log",       NULL};
    static char *kw_bench[] = {"ntrials", "seed",        "budget",        "max_steps", "particles", "n_mc",
                               "nats",    "no_dqc_gate", "success_first", "threads",   NULL};
    long long trial_or_n = 0, seed = 42, budget = 2048, max_steps = 100, particles = 1000;
    int n_mc = 8, nats = 0, nodqc = 0, sfirst = 1, threads = 0;
    fsci__qdot_trial_defaults(o);
    int ok =
        bench ? PyArg_ParseTupleAndKeywords(args, kw, "L|LLLLippp$i", kw_bench, &trial_or_n, &seed, &budget,
                                            &max_steps, &particles, &n_mc, &nats, &nodqc, &sfirst, &threads)
              : PyArg_ParseTupleAndKeywords(args, kw, "L|LLLLippp$z", kw_trial, &trial_or_n, &seed, &budget,
                                            &max_steps, &particles, &n_mc, &nats, &nodqc, &sfirst, path);
    if (!ok) return -1;
    if (seed < 0) {
        PyErr_Format(PyExc_ValueError, "seed = %lld, must be >= 0", seed);
        return -1;
    }
    o->trial = bench ? 0 : trial_or_n;
    o->seed = (uint64_t)seed;
    o->budget = budget;
    o->max_steps = max_steps;
    o->particles = particles;
    o->n_mc = n_mc;
    o->nats = nats;
    o->no_dqc_gate = nodqc;
    o->success_first = sfirst;
    extra[0] = (int)trial_or_n;
    extra[1] = threads;
    return 0;
}

/* qdot_trial(trial, seed=42, budget=2048, max_steps=100, particles=1000, n_mc=8, nats=False,
 * no_dqc_gate=False, success_first=True, *, log=None) -> dict; log: a path, appended to. */
static PyObject *py_trial(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    fsci__qdot_trial_opts o;
    int extra[2];
    const char *path = NULL;
    if (parse_opts(args, kw, &o, extra, &path, false) < 0) return NULL;
    FILE *f = NULL;
    if (path) {
        f = fopen(path, "a");
        if (!f) return PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
        setvbuf(f, NULL, _IOFBF, 1 << 16);
        o.log = f;
    }
    fsci__qdot_trial_result r;
    PyThreadState *ts = PyEval_SaveThread();
    int st = fsci__qdot_trial_run(&o, &r);
    if (f) fclose(f);
    PyEval_RestoreThread(ts);
    if (st < 0) return raise_status(st);
    return result_dict(&r);
}

/* qdot_bench(ntrials, seed=42, budget=2048, ..., *, threads=0) -> list of dicts (trials 0..n-1). */
static PyObject *py_bench(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    fsci__qdot_trial_opts o;
    int extra[2] = {0, 0};
    if (parse_opts(args, kw, &o, extra, NULL, true) < 0) return NULL;
    int n = extra[0], threads = extra[1];
    if (n < 0 || threads < 0) {
        PyErr_Format(PyExc_ValueError, "ntrials = %d, threads = %d, must be >= 0", n, threads);
        return NULL;
    }
    fsci__qdot_trial_result *res = PyMem_Calloc((size_t)n + 1, sizeof *res);
    if (!res) return PyErr_NoMemory();
    PyThreadState *ts = PyEval_SaveThread();
    int st = fsci__qdot_bench_run(&o, n, threads > 0 ? threads : 0, res);
    PyEval_RestoreThread(ts);
    if (st < 0) {
        PyMem_Free(res);
        return raise_status(st);
    }
    PyObject *list = PyList_New(n);
    for (int k = 0; list && k < n; k++) {
        PyObject *d = result_dict(&res[k]);
        if (!d) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, k, d);
    }
    PyMem_Free(res);
    return list;
}

/* qdot_classify(patch[res, res] float64) -> (label, confidence, physics_override, log_std,
 * axis_corr, diag_strength); label 1 double dot, 2 single dot, 3 misc. */
static PyObject *py_classify(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *op;
    if (!PyArg_ParseTuple(args, "O", &op)) return NULL;
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(op, NPY_FLOAT64, 2, 2, NPY_ARRAY_CARRAY_RO);
    if (!a) return NULL;
    npy_intp *d = PyArray_DIMS(a);
    if (d[0] != d[1] || d[0] < 2 || d[0] > 64) {
        Py_DECREF(a);
        PyErr_SetString(PyExc_ValueError, "patch: expected a square array of side 2..64");
        return NULL;
    }
    fsci__qdot_verdict c;
    fsci__qdot_classify(PyArray_DATA(a), (int)d[0], &c);
    Py_DECREF(a);
    return Py_BuildValue("(idOddd)", c.label, c.confidence, c.physics_override ? Py_True : Py_False,
                         c.log_std, c.axis_corr, c.diag_strength);
}

#define KWFN(f) (PyCFunction)(void (*)(void))(f)
static PyMethodDef agent_methods[] = {
    {"qdot_trial", KWFN(py_trial), METH_VARARGS | METH_KEYWORDS,
     "qdot_trial(trial, seed=42, budget=2048, max_steps=100, particles=1000, n_mc=8, nats=False, "
     "no_dqc_gate=False, success_first=True, *, log=None) -> dict: one trial of the C agent (compat)."},
    {"qdot_bench", KWFN(py_bench), METH_VARARGS | METH_KEYWORDS,
     "qdot_bench(ntrials, seed=42, budget=2048, max_steps=100, particles=1000, n_mc=8, nats=False, "
     "no_dqc_gate=False, success_first=True, *, threads=0) -> list of dicts, trials 0..ntrials-1 in "
     "parallel."},
    {"qdot_classify", py_classify, METH_VARARGS,
     "qdot_classify(patch) -> (label, confidence, physics_override, log_std, axis_corr, diag_strength)."},
    {NULL, NULL, 0, NULL},
};

int fsci_bench_qdot_agent_init(PyObject *m)
{
    if (_import_array() < 0) return -1;
    return PyModule_AddFunctions(m, agent_methods);
}
