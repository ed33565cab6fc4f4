/* The registered engines from Python: fastsci.engines() and one generic runner
 * that every engine's commands go through (python/fastsci/_engine.py wraps it). */
#include <string.h>

#include "pyfsci.h"

static const char *output_names[] = {"none", "npz", "dir", "text"};

static PyObject *command_dict(const fsci_command *c)
{
    PyObject *inputs = PyList_New(0);
    if (!inputs) return NULL;
    for (const char *const *p = c->inputs; p && *p; p++) {
        PyObject *s = PyUnicode_FromString(*p);
        if (!s || PyList_Append(inputs, s) < 0) {
            Py_XDECREF(s);
            Py_DECREF(inputs);
            return NULL;
        }
        Py_DECREF(s);
    }
    PyObject *params = fsci_py_params_list(c->params, c->nparams);
    if (!params) {
        Py_DECREF(inputs);
        return NULL;
    }
    return Py_BuildValue("{sssssNsNsssKsO}", "name", c->name, "summary", c->summary ? c->summary : "",
                         "params", params, "inputs", inputs, "output", output_names[c->output],
                         "default_seed", (unsigned long long)c->default_seed, "output_required",
                         c->output_required ? Py_True : Py_False);
}

static PyObject *py_engines(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    PyObject *list = PyList_New(0);
    for (int i = 0; list && i < fsci_engine_count(); i++) {
        const fsci_engine *e = fsci_engine_at(i);
        PyObject *cmds = PyList_New(e->ncommands);
        for (int k = 0; cmds && k < e->ncommands; k++) {
            PyObject *d = command_dict(&e->commands[k]);
            if (!d)
                Py_CLEAR(cmds);
            else
                PyList_SET_ITEM(cmds, k, d);
        }
        PyObject *d =
            cmds ? Py_BuildValue("{sssssN}", "name", e->name, "summary", e->summary, "commands", cmds) : NULL;
        if (!d || PyList_Append(list, d) < 0) Py_CLEAR(list);
        Py_XDECREF(d);
    }
    return list;
}

/* The input arrays: a dict of name -> array-like. */
typedef struct held_inputs {
    fsci_input v[16];
    PyObject *keep[16];
    int n;
} held_inputs;

static void release_inputs(held_inputs *h)
{
    for (int i = 0; i < h->n; i++) Py_XDECREF(h->keep[i]);
    h->n = 0;
}

static int take_inputs(PyObject *dict, held_inputs *h)
{
    h->n = 0;
    if (!dict || dict == Py_None) return 0;
    if (!PyDict_Check(dict)) {
        PyErr_SetString(PyExc_TypeError, "inputs: expected a dict of name -> array");
        return -1;
    }
    PyObject *key, *val;
    Py_ssize_t pos = 0;
    while (PyDict_Next(dict, &pos, &key, &val)) {
        if (val == Py_None) continue;
        const char *k = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : NULL;
        if (!k) {
            PyErr_SetString(PyExc_TypeError, "inputs: names must be str");
            return -1;
        }
        if (h->n == 16) {
            PyErr_SetString(PyExc_ValueError, "inputs: at most 16 arrays");
            return -1;
        }
        h->v[h->n].name = k;
        if (fsci_py_view(val, k, &h->v[h->n].view, &h->keep[h->n]) < 0) return -1;
        h->n++;
    }
    return 0;
}

static int set_params(const fsci_command *c, void *opts, PyObject *params)
{
    if (fsci_params_defaults(c->params, c->nparams, opts)) {
        fsci_py_raise(fsci_error_code());
        return -1;
    }
    if (!params || params == Py_None) return 0;
    if (!PyDict_Check(params)) {
        PyErr_SetString(PyExc_TypeError, "params: expected a dict");
        return -1;
    }
    PyObject *key, *val;
    Py_ssize_t pos = 0;
    while (PyDict_Next(params, &pos, &key, &val)) {
        const char *k = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : NULL;
        if (!k) {
            PyErr_SetString(PyExc_TypeError, "parameter names must be str");
            return -1;
        }
        if (val == Py_None) continue;
        if (!fsci_params_find(c->params, c->nparams, k)) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%s'", c->name, k);
            return -1;
        }
        if (fsci_py_set_param(c->params, c->nparams, opts, k, val) < 0) return -1;
    }
    return 0;
}

static int open_sink(const fsci_command *c, const void *opts, const char *path, bool discard,
                     fsci_sink **sink)
{
    if (discard) return fsci_sink_null_create(sink);
    if (!path || c->output == FSCI_OUTPUT_TEXT || fsci_command_owns_output(c, path))
        return fsci_sink_memory_create(sink); /* an own format: the run writes path itself */
    if (c->output == FSCI_OUTPUT_DIR) return fsci_sink_dir_create(path, sink);
    const fsci_param *p = fsci_params_find(c->params, c->nparams, "compress");
    bool z = p && p->type == FSCI_PARAM_BOOL && *(const bool *)((const char *)opts + p->offset);
    return fsci_sink_npz_create(path, z, sink);
}

/* Input files for a command with positional_many: a sequence of str or
 * path-like objects, held as bytes for the run. */
typedef struct held_paths {
    PyObject **keep;
    const char **v;
    int n;
} held_paths;

static void release_paths(held_paths *h)
{
    for (int i = 0; i < h->n; i++) Py_XDECREF(h->keep[i]);
    fsci_free(h->keep);
    fsci_free(h->v);
    memset(h, 0, sizeof *h);
}

static int take_paths(const fsci_command *c, PyObject *obj, held_paths *h)
{
    memset(h, 0, sizeof *h);
    if (!obj || obj == Py_None) return 0;
    if (!c->positional_many) {
        PyErr_Format(PyExc_ValueError, "%s: takes no list of input files (paths=)", c->name);
        return -1;
    }
    PyObject *seq = PySequence_Fast(obj, "paths: expected a sequence of file or folder names");
    if (!seq) return -1;
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n < 1 || n > INT32_MAX) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "paths: give at least one file or folder");
        return -1;
    }
    h->keep = fsci_calloc((size_t)n, sizeof *h->keep);
    h->v = fsci_calloc((size_t)n, sizeof *h->v);
    if (!h->keep || !h->v) {
        Py_DECREF(seq);
        release_paths(h);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyUnicode_FSConverter(PySequence_Fast_GET_ITEM(seq, i), &h->keep[i])) {
            Py_DECREF(seq);
            release_paths(h);
            return -1;
        }
        h->v[i] = PyBytes_AS_STRING(h->keep[i]);
        h->n = (int)i + 1;
    }
    Py_DECREF(seq);
    return 0;
}

/* Every member of a memory sink into a dict, and the summary as "summary". */
static PyObject *sink_dict(fsci_sink *sink, const char *text_path, int *st)
{
    PyObject *d = PyDict_New();
    const char *summary = fsci_sink_summary(sink);
    if (d && summary) {
        PyObject *s = PyUnicode_FromString(summary);
        if (!s || PyDict_SetItemString(d, "summary", s) < 0) Py_CLEAR(d);
        Py_XDECREF(s);
    }
    for (int64_t i = 0; d && i < fsci_sink_memory_count(sink); i++) {
        const char *name;
        fsci_array *a = NULL;
        char *text = NULL;
        if ((*st = fsci_sink_memory_take(sink, i, &name, &a, &text))) {
            Py_DECREF(d);
            return NULL;
        }
        if (text && text_path && (*st = fsci_atomic_write_file(text_path, text, strlen(text)))) {
            fsci_free(text);
            fsci_array_destroy(&a);
            Py_DECREF(d);
            return NULL;
        }
        PyObject *v = a ? fsci_py_from_array(a) : PyUnicode_FromString(text);
        fsci_free(text);
        if (!v || PyDict_SetItemString(d, name, v) < 0) Py_CLEAR(d);
        Py_XDECREF(v);
    }
    return d;
}

static PyObject *py_run(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"engine", "command",  "params", "inputs",  "output", "threads",
                             "seed",   "progress", "quiet",  "discard", "paths",  NULL};
    const char *ename, *cname;
    PyObject *params = NULL, *inputs = NULL, *output = NULL, *threads_obj = NULL, *seed_obj = NULL;
    PyObject *paths_obj = NULL;
    int progress = 0, quiet = 0, discard = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "ss|OOO&OOpppO", kwlist, &ename, &cname, &params, &inputs,
                                     PyUnicode_FSConverter, &output, &threads_obj, &seed_obj, &progress,
                                     &quiet, &discard, &paths_obj))
        return NULL;
    const fsci_engine *e = fsci_engine_find(ename);
    const fsci_command *c = fsci_engine_command(e, cname);
    if (!c) {
        Py_XDECREF(output);
        return PyErr_Format(PyExc_ValueError, "no command '%s %s'", ename, cname);
    }
    if (discard && output) {
        Py_DECREF(output);
        return PyErr_Format(PyExc_ValueError, "discard=True writes nothing: it takes no output");
    }
    fsci_ctx ctx;
    fsci_ctx_init(&ctx);
    ctx.progress = progress;
    ctx.quiet = quiet;
    held_inputs h = {.n = 0};
    held_paths hp = {0};
    fsci_sink *sink = NULL;
    PyObject *result = NULL;
    void *opts = fsci_calloc(1, c->opts_size ? c->opts_size : 1);
    if (!opts) {
        PyErr_NoMemory();
        goto done;
    }
    if (fsci_py_threads(threads_obj, &ctx.threads) < 0 || set_params(c, opts, params) < 0 ||
        take_inputs(inputs, &h) < 0 || take_paths(c, paths_obj, &hp) < 0)
        goto done;
    ctx.paths = hp.v;
    ctx.npaths = hp.n;
    if (seed_obj && seed_obj != Py_None) {
        if (fsci_py_seed(seed_obj, "seed", &ctx.seed) < 0) goto done;
        ctx.seed_set = true;
    }
    const char *path = output ? PyBytes_AS_STRING(output) : NULL;
    const bool own = fsci_command_owns_output(c, path);
    ctx.output = c->output == FSCI_OUTPUT_TEXT && !own ? NULL : path;
    /* a list of files: the run writes the folder `path` itself; the sink keeps the summary */
    int st = hp.n ? fsci_sink_memory_create(&sink) : open_sink(c, opts, path, discard != 0, &sink);
    if (!st) {
        fsci_inputs in = {.v = h.v, .n = h.n};
        Py_BEGIN_ALLOW_THREADS
        st = fsci_command_run(c, opts, &in, &ctx, sink);
        if (!st) st = fsci_sink_close(sink);
        Py_END_ALLOW_THREADS
    }
    if (!st) result = sink_dict(sink, c->output == FSCI_OUTPUT_TEXT && !own ? path : NULL, &st);
    if (st) {
        Py_CLEAR(result);
        fsci_py_raise(st);
    }
done:
    release_inputs(&h);
    release_paths(&hp);
    fsci_sink_destroy(&sink);
    fsci_free(opts);
    Py_XDECREF(output);
    return result;
}

#define KWFN(f) (PyCFunction)(void (*)(void))(f)

PyMethodDef fsci_py_engine_methods[] = {
    {"engines", py_engines, METH_NOARGS, "The registered engines: their commands, parameters and inputs."},
    {"run", KWFN(py_run), METH_VARARGS | METH_KEYWORDS,
     "run(engine, command, params=None, inputs=None, output=None, threads=0, seed=None, progress=False, "
     "quiet=False, discard=False, paths=None): run an engine command; a dict of its outputs (arrays filled "
     "in place by "
     "the engine where it can, never copied) and its JSON summary. discard=True: a null sink, the outputs "
     "are computed and dropped, only the summary is returned (compute-only timing). paths: the input files "
     "(or a folder) of a command that "
     "takes several; output is then the folder the run writes."},
    {NULL, NULL, 0, NULL},
};
