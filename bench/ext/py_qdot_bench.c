/* _fastsci_bench.qdot_*: thin numpy wrappers of the qdot planning internals (src/qdot/plan.h)
 * for the compat oracle test python/tests/test_qdot_compat.py, which feeds them and the numpy
 * port of the reference (bench/qdot_ref.py) the same random inputs. Every function takes
 * float64 / int32 arrays (converted, C-contiguous) and returns new arrays or floats; nothing
 * here is part of the shipped fastsci package. The functions are added to the module by
 * fsci_bench_qdot_init() from PyInit__fastsci_bench (py_proton_bench.c). */
#include <math.h>
#include <string.h>

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include "fastsci/fastsci.h"
#include "qdot/plan.h"

int fsci_bench_qdot_init(PyObject *m);

static PyObject *raise_status(int status)
{
    PyObject *type = PyExc_RuntimeError;
    if (status == FSCI_EINVAL || status == FSCI_ERANGE) type = PyExc_ValueError;
    if (status == FSCI_ENOMEM) type = PyExc_MemoryError;
    const char *msg = fsci_error_message();
    PyErr_SetString(type, msg && *msg ? msg : fsci_strerror(status));
    return NULL;
}

/* A C-contiguous copy or view of o as type (NPY_FLOAT64 / NPY_INT32) with ndim dimensions. */
static PyArrayObject *arr(PyObject *o, int type, int ndim, const char *what)
{
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(o, type, ndim, ndim, NPY_ARRAY_CARRAY_RO);
    if (!a) PyErr_Format(PyExc_ValueError, "%s: expected a %d-D array", what, ndim);
    return a;
}

static PyArrayObject *new_f64(int ndim, npy_intp *dims)
{
    return (PyArrayObject *)PyArray_SimpleNew(ndim, dims, NPY_FLOAT64);
}

/* qdot_pf_update(states[N], logw[N], ll[S], nmax, label=0, conf=0, override=False)
 * -> (logw[N], w[N], ess, probs[S]): logw += f ll[state] (f = 0.5 with override), boost
 * (label: 0 none, 1 double dot, 2 single dot, 3 misc, 4 other; skipped with override),
 * normalise, weights and ESS, charge probabilities. No resampling. */
static PyObject *py_pf_update(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"states", "logw", "ll", "nmax", "label", "conf", "override", NULL};
    PyObject *os, *olw, *oll;
    int nmax, label = 0, override = 0;
    double conf = 0.0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOi|idp", kwlist, &os, &olw, &oll, &nmax, &label, &conf,
                                     &override))
        return NULL;
    PyArrayObject *st = arr(os, NPY_INT32, 1, "states"), *lw = st ? arr(olw, NPY_FLOAT64, 1, "logw") : NULL,
                  *ll = lw ? arr(oll, NPY_FLOAT64, 1, "ll") : NULL;
    PyObject *ret = NULL;
    fsci__qdot_pf *pf = NULL;
    if (!ll) goto done;
    npy_intp n = PyArray_DIM(st, 0);
    npy_intp S = (npy_intp)fsci__qdot_nstates(nmax);
    if (PyArray_DIM(lw, 0) != n || PyArray_DIM(ll, 0) != S || label < 0 || label > 4) {
        PyErr_SetString(PyExc_ValueError, "qdot_pf_update: logw[N], ll[(nmax+1)^2], label in 0..4");
        goto done;
    }
    int rc = fsci__qdot_pf_create(n, nmax, &pf);
    if (!rc) rc = fsci__qdot_pf_init_states(pf, PyArray_DATA(st));
    if (rc) {
        raise_status(rc);
        goto done;
    }
    memcpy(pf->logw, PyArray_DATA(lw), (size_t)n * sizeof(double));
    fsci__qdot_pf_add_ll(pf, PyArray_DATA(ll), override ? 0.5 : 1.0);
    if (label != FSCI__QDOT_LABEL_NONE && !override) fsci__qdot_pf_boost(pf, (fsci__qdot_label)label, conf);
    rc = fsci__qdot_pf_normalise(pf);
    if (rc) {
        raise_status(rc);
        goto done;
    }
    double ess = fsci__qdot_pf_weights(pf);
    fsci__qdot_pf_charge_probs(pf, pf->probs);
    PyArrayObject *olog = new_f64(1, &n), *ow = new_f64(1, &n), *op = new_f64(1, &S);
    if (olog && ow && op) {
        memcpy(PyArray_DATA(olog), pf->logw, (size_t)n * sizeof(double));
        memcpy(PyArray_DATA(ow), pf->w, (size_t)n * sizeof(double));
        memcpy(PyArray_DATA(op), pf->probs, (size_t)S * sizeof(double));
        ret = Py_BuildValue("(NNdN)", olog, ow, ess, op);
    } else {
        Py_XDECREF(olog);
        Py_XDECREF(ow);
        Py_XDECREF(op);
    }
done:
    fsci__qdot_pf_destroy(&pf);
    Py_XDECREF(st);
    Py_XDECREF(lw);
    Py_XDECREF(ll);
    return ret;
}

/* qdot_pf_step(states[N], logw[N], ll[S], nmax, label, conf, override, frac, u)
 * -> (states[N] int32, logw[N], w[N], resampled): fsci__qdot_pf_step. */
static PyObject *py_pf_step(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *os, *olw, *oll;
    int nmax, label, override;
    double conf, frac, u;
    if (!PyArg_ParseTuple(args, "OOOiidpdd", &os, &olw, &oll, &nmax, &label, &conf, &override, &frac, &u))
        return NULL;
    PyArrayObject *st = arr(os, NPY_INT32, 1, "states"), *lw = st ? arr(olw, NPY_FLOAT64, 1, "logw") : NULL,
                  *ll = lw ? arr(oll, NPY_FLOAT64, 1, "ll") : NULL;
    PyObject *ret = NULL;
    fsci__qdot_pf *pf = NULL;
    if (!ll) goto done;
    npy_intp n = PyArray_DIM(st, 0);
    if (PyArray_DIM(lw, 0) != n || PyArray_DIM(ll, 0) != (npy_intp)fsci__qdot_nstates(nmax) || label < 0 ||
        label > 4) {
        PyErr_SetString(PyExc_ValueError, "qdot_pf_step: logw[N], ll[(nmax+1)^2], label in 0..4");
        goto done;
    }
    int rc = fsci__qdot_pf_create(n, nmax, &pf);
    if (!rc) rc = fsci__qdot_pf_init_states(pf, PyArray_DATA(st));
    bool resampled = false;
    if (!rc) {
        memcpy(pf->logw, PyArray_DATA(lw), (size_t)n * sizeof(double));
        rc = fsci__qdot_pf_step(pf, PyArray_DATA(ll), (fsci__qdot_label)label, conf, override, frac, u,
                                &resampled);
    }
    if (rc) {
        raise_status(rc);
        goto done;
    }
    PyArrayObject *ost = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_INT32), *olog = new_f64(1, &n),
                  *ow = new_f64(1, &n);
    if (ost && olog && ow) {
        memcpy(PyArray_DATA(ost), pf->state, (size_t)n * sizeof(int32_t));
        memcpy(PyArray_DATA(olog), pf->logw, (size_t)n * sizeof(double));
        memcpy(PyArray_DATA(ow), pf->w, (size_t)n * sizeof(double));
        ret = Py_BuildValue("(NNNO)", ost, olog, ow, resampled ? Py_True : Py_False);
    } else {
        Py_XDECREF(ost);
        Py_XDECREF(olog);
        Py_XDECREF(ow);
    }
done:
    fsci__qdot_pf_destroy(&pf);
    Py_XDECREF(st);
    Py_XDECREF(lw);
    Py_XDECREF(ll);
    return ret;
}

/* qdot_ll_gauss(obs[P], pred[S, P], sigma) -> ll[S] */
static PyObject *py_ll_gauss(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *oo, *op;
    double sigma;
    if (!PyArg_ParseTuple(args, "OOd", &oo, &op, &sigma)) return NULL;
    PyArrayObject *ob = arr(oo, NPY_FLOAT64, 1, "obs"), *pr = ob ? arr(op, NPY_FLOAT64, 2, "pred") : NULL;
    PyObject *ret = NULL;
    if (!pr) goto done;
    npy_intp P = PyArray_DIM(ob, 0), S = PyArray_DIM(pr, 0);
    if (PyArray_DIM(pr, 1) != P) {
        PyErr_SetString(PyExc_ValueError, "qdot_ll_gauss: pred must be (S, P) with P = len(obs)");
        goto done;
    }
    PyArrayObject *out = new_f64(1, &S);
    if (!out) goto done;
    const double *o = PyArray_DATA(ob), *p = PyArray_DATA(pr);
    double *l = PyArray_DATA(out);
    for (npy_intp s = 0; s < S; s++) l[s] = fsci__qdot_ll_gauss(o, p + s * P, P, sigma);
    ret = (PyObject *)out;
done:
    Py_XDECREF(ob);
    Py_XDECREF(pr);
    return ret;
}

/* qdot_resample_indices(w[N], u) -> idx[N] int64 */
static PyObject *py_resample(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *ow;
    double u;
    if (!PyArg_ParseTuple(args, "Od", &ow, &u)) return NULL;
    PyArrayObject *w = arr(ow, NPY_FLOAT64, 1, "w");
    if (!w) return NULL;
    npy_intp n = PyArray_DIM(w, 0);
    PyObject *ret = NULL;
    double *cum = fsci_malloc((size_t)(n > 0 ? n : 1), sizeof(double));
    PyArrayObject *out = cum ? (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_INT64) : NULL;
    if (!cum) PyErr_NoMemory();
    if (out) {
        if (n > 0) fsci__qdot_resample_indices(PyArray_DATA(w), n, u, cum, PyArray_DATA(out));
        ret = (PyObject *)out;
    }
    fsci_free(cum);
    Py_DECREF(w);
    return ret;
}

/* qdot_prior_entropy(probs[S], compat=True, prior_log2=True) -> float */
static PyObject *py_prior_entropy(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"probs", "compat", "prior_log2", NULL};
    PyObject *op;
    int compat = 1, log2p = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|pp", kwlist, &op, &compat, &log2p)) return NULL;
    PyArrayObject *p = arr(op, NPY_FLOAT64, 1, "probs");
    if (!p) return NULL;
    fsci__qdot_ig_opts o = {.sigma = 1.0, .compat = compat, .prior_log2 = log2p};
    double h = fsci__qdot_prior_entropy(PyArray_DATA(p), PyArray_DIM(p, 0), &o);
    Py_DECREF(p);
    return PyFloat_FromDouble(h);
}

/* qdot_ig(pred[S, P], probs[S], hyp[M], eps[M, P], eta[M, S, P] or None, sigma, compat=True,
 * prior_log2=True) -> float: fsci__qdot_ig_eval (sigma exactly as given: the reference's
 * sigma + 1e-8 is the caller's business). */
static PyObject *py_ig(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"pred", "probs", "hyp", "eps", "eta", "sigma", "compat", "prior_log2", NULL};
    PyObject *opred, *oprobs, *ohyp, *oeps, *oeta;
    double sigma;
    int compat = 1, log2p = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOOd|pp", kwlist, &opred, &oprobs, &ohyp, &oeps, &oeta,
                                     &sigma, &compat, &log2p))
        return NULL;
    PyArrayObject *pred = arr(opred, NPY_FLOAT64, 2, "pred");
    PyArrayObject *probs = pred ? arr(oprobs, NPY_FLOAT64, 1, "probs") : NULL;
    PyArrayObject *hyp = probs ? arr(ohyp, NPY_INT32, 1, "hyp") : NULL;
    PyArrayObject *eps = hyp ? arr(oeps, NPY_FLOAT64, 2, "eps") : NULL;
    PyArrayObject *eta = NULL;
    PyObject *ret = NULL;
    fsci__qdot_ig *ws = NULL;
    if (!eps) goto done;
    if (oeta != Py_None && !(eta = arr(oeta, NPY_FLOAT64, 3, "eta"))) goto done;
    npy_intp S = PyArray_DIM(pred, 0), P = PyArray_DIM(pred, 1), M = PyArray_DIM(hyp, 0);
    if (PyArray_DIM(probs, 0) != S || PyArray_DIM(eps, 0) != M || PyArray_DIM(eps, 1) != P ||
        (eta && (PyArray_DIM(eta, 0) != M || PyArray_DIM(eta, 1) != S || PyArray_DIM(eta, 2) != P))) {
        PyErr_SetString(PyExc_ValueError,
                        "qdot_ig: pred (S, P), probs (S,), hyp (M,), eps (M, P), eta (M, S, P)");
        goto done;
    }
    fsci__qdot_ig_opts o = {.sigma = sigma, .compat = compat, .prior_log2 = log2p};
    double ig = 0.0;
    int rc = fsci__qdot_ig_create(S, P, M, &ws);
    if (!rc)
        rc = fsci__qdot_ig_eval(ws, PyArray_DATA(pred), PyArray_DATA(probs), PyArray_DATA(hyp),
                                PyArray_DATA(eps), eta ? PyArray_DATA(eta) : NULL, &o, &ig);
    if (rc) {
        raise_status(rc);
        goto done;
    }
    ret = PyFloat_FromDouble(ig);
done:
    fsci__qdot_ig_destroy(&ws);
    Py_XDECREF(pred);
    Py_XDECREF(probs);
    Py_XDECREF(hyp);
    Py_XDECREF(eps);
    Py_XDECREF(eta);
    return ret;
}

/* qdot_select(prior_h, igs[4], thresh=1e-4) -> (modality or -1, best score, evaluated[4] bools):
 * the selector with its skip bound; skipped modalities do not read their IG. */
static PyObject *py_select(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"prior_h", "igs", "thresh", NULL};
    double prior_h, thresh = 1e-4;
    PyObject *oig;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "dO|d", kwlist, &prior_h, &oig, &thresh)) return NULL;
    PyArrayObject *ig = arr(oig, NPY_FLOAT64, 1, "igs");
    if (!ig) return NULL;
    if (PyArray_DIM(ig, 0) != FSCI__QDOT_NMOD) {
        Py_DECREF(ig);
        return PyErr_Format(PyExc_ValueError, "qdot_select: igs must have %d entries", FSCI__QDOT_NMOD);
    }
    const double *g = PyArray_DATA(ig);
    fsci__qdot_select_state st;
    fsci__qdot_select_begin(&st);
    PyObject *ev = PyList_New(FSCI__QDOT_NMOD);
    if (!ev) {
        Py_DECREF(ig);
        return NULL;
    }
    for (int m = 0; m < FSCI__QDOT_NMOD; m++) {
        bool skip = fsci__qdot_select_skip(&st, prior_h, m);
        PyObject *b = skip ? Py_False : Py_True;
        Py_INCREF(b);
        PyList_SET_ITEM(ev, m, b);
        if (!skip) fsci__qdot_select_offer(&st, m, g[m]);
    }
    double score;
    int best = fsci__qdot_select_end(&st, thresh, &score);
    Py_DECREF(ig);
    return Py_BuildValue("(idN)", best, score, ev);
}

/* qdot_gp(x[n, 2], r[n], xs[m, 2], prior[m], kern=0, ell=0.05, s2=0.5, noise=0.01, nfit=-1)
 * -> (mean[m], var[m], jitter): fit the first nfit points (all when < 0) with
 * fsci__qdot_gp_fit, append the rest one by one, predict at xs with prior mean prior. */
static PyObject *py_gp(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"x", "r", "xs", "prior", "kern", "ell", "s2", "noise", "nfit", NULL};
    PyObject *ox, *ores, *oxs, *opr;
    int kern = 0;
    double ell = 0.05, s2 = 0.5, noise = 0.01;
    Py_ssize_t nfit = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOO|idddn", kwlist, &ox, &ores, &oxs, &opr, &kern, &ell, &s2,
                                     &noise, &nfit))
        return NULL;
    PyArrayObject *x = arr(ox, NPY_FLOAT64, 2, "x"), *r = x ? arr(ores, NPY_FLOAT64, 1, "r") : NULL;
    PyArrayObject *xs = r ? arr(oxs, NPY_FLOAT64, 2, "xs") : NULL;
    PyArrayObject *pr = xs ? arr(opr, NPY_FLOAT64, 1, "prior") : NULL;
    PyObject *ret = NULL;
    fsci__qdot_gp *gp = NULL;
    double *work = NULL;
    if (!pr) goto done;
    npy_intp n = PyArray_DIM(x, 0), m = PyArray_DIM(xs, 0);
    if (PyArray_DIM(x, 1) != 2 || PyArray_DIM(r, 0) != n || PyArray_DIM(xs, 1) != 2 ||
        PyArray_DIM(pr, 0) != m || kern < 0 || kern > 1) {
        PyErr_SetString(PyExc_ValueError, "qdot_gp: x (n, 2), r (n,), xs (m, 2), prior (m,), kern 0 or 1");
        goto done;
    }
    if (nfit < 0 || nfit > n) nfit = n;
    int rc = fsci__qdot_gp_create((fsci__qdot_kern)kern, ell, s2, noise, n > 0 ? n : 1, &gp);
    const double *px = PyArray_DATA(x), *pres = PyArray_DATA(r);
    if (!rc) rc = fsci__qdot_gp_fit(gp, nfit, px, pres);
    for (npy_intp i = nfit; !rc && i < n; i++) rc = fsci__qdot_gp_append(gp, px + 2 * i, pres[i]);
    if (rc) {
        raise_status(rc);
        goto done;
    }
    work = fsci_malloc((size_t)(n > 0 ? n : 1), sizeof(double));
    PyArrayObject *mean = work ? new_f64(1, &m) : NULL, *var = mean ? new_f64(1, &m) : NULL;
    if (!work) PyErr_NoMemory();
    if (!var) {
        Py_XDECREF(mean);
        goto done;
    }
    const double *q = PyArray_DATA(xs), *pm = PyArray_DATA(pr);
    double *mu = PyArray_DATA(mean), *va = PyArray_DATA(var);
    for (npy_intp i = 0; i < m; i++) fsci__qdot_gp_predict(gp, q + 2 * i, pm[i], work, mu + i, va + i);
    ret = Py_BuildValue("(NNd)", mean, var, gp->jitter);
done:
    fsci_free(work);
    fsci__qdot_gp_destroy(&gp);
    Py_XDECREF(x);
    Py_XDECREF(r);
    Py_XDECREF(xs);
    Py_XDECREF(pr);
    return ret;
}

/* qdot_dqc(a (1-D or 2-D), dr_bypass=0) -> (quality 0 high / 1 moderate / 2 low, snr_db,
 * dynamic_range, flatness, plausible) */
static PyObject *py_dqc(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"a", "dr_bypass", NULL};
    PyObject *oa;
    double bypass = 0.0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|d", kwlist, &oa, &bypass)) return NULL;
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(oa, NPY_FLOAT64, 1, 2, NPY_ARRAY_CARRAY_RO);
    if (!a) return NULL;
    int ndim = PyArray_NDIM(a);
    int64_t n0 = PyArray_DIM(a, 0), n1 = ndim == 2 ? PyArray_DIM(a, 1) : 1;
    double *work = fsci_malloc((size_t)(2 * n0 * n1 > 0 ? 2 * n0 * n1 : 1), sizeof(double));
    if (!work) {
        Py_DECREF(a);
        return PyErr_NoMemory();
    }
    fsci__qdot_dqc_opts o;
    fsci__qdot_dqc_defaults(&o);
    o.dr_bypass = bypass;
    fsci__qdot_dqc_result res;
    int rc = fsci__qdot_dqc_assess(PyArray_DATA(a), ndim, n0, n1, &o, work, &res);
    fsci_free(work);
    Py_DECREF(a);
    if (rc) return raise_status(rc);
    return Py_BuildValue("(idddO)", (int)res.quality, res.snr_db, res.dynamic_range, res.flatness,
                         res.plausible ? Py_True : Py_False);
}

#define KWFN(f) (PyCFunction)(void (*)(void))(f)

static PyMethodDef qdot_methods[] = {
    {"qdot_pf_update", KWFN(py_pf_update), METH_VARARGS | METH_KEYWORDS,
     "qdot_pf_update(states, logw, ll, nmax, label=0, conf=0, override=False) -> (logw, w, ess, probs): "
     "add_ll, boost, normalise, weights, charge probs (no resampling)."},
    {"qdot_pf_step", py_pf_step, METH_VARARGS,
     "qdot_pf_step(states, logw, ll, nmax, label, conf, override, frac, u) -> (states, logw, w, resampled)."},
    {"qdot_ll_gauss", py_ll_gauss, METH_VARARGS, "qdot_ll_gauss(obs[P], pred[S, P], sigma) -> ll[S]."},
    {"qdot_resample_indices", py_resample, METH_VARARGS,
     "qdot_resample_indices(w[N], u) -> idx[N] int64 (systematic, two pointers)."},
    {"qdot_prior_entropy", KWFN(py_prior_entropy), METH_VARARGS | METH_KEYWORDS,
     "qdot_prior_entropy(probs, compat=True, prior_log2=True) -> float."},
    {"qdot_ig", KWFN(py_ig), METH_VARARGS | METH_KEYWORDS,
     "qdot_ig(pred, probs, hyp, eps, eta, sigma, compat=True, prior_log2=True) -> IG."},
    {"qdot_select", KWFN(py_select), METH_VARARGS | METH_KEYWORDS,
     "qdot_select(prior_h, igs[4], thresh=1e-4) -> (modality or -1, score, evaluated[4])."},
    {"qdot_gp", KWFN(py_gp), METH_VARARGS | METH_KEYWORDS,
     "qdot_gp(x, r, xs, prior, kern=0, ell=0.05, s2=0.5, noise=0.01, nfit=-1) -> (mean, var, jitter)."},
    {"qdot_dqc", KWFN(py_dqc), METH_VARARGS | METH_KEYWORDS,
     "qdot_dqc(a, dr_bypass=0) -> (quality 0/1/2 = high/moderate/low, snr_db, dynamic_range, flatness, "
     "plausible)."},
    {NULL, NULL, 0, NULL},
};

/* Called from PyInit__fastsci_bench: this file's numpy API table and methods. */
int fsci_bench_qdot_init(PyObject *m)
{
    if (_import_array() < 0) return -1;
    return PyModule_AddFunctions(m, qdot_methods);
}
