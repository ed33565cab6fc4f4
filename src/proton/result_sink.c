/* A run's results into a sink: the dose arrays for every sink; axes and the
 * depth dose for memory sinks (Python); the file formats for folder sinks. */
#include "fastsci/fastsci.h"

static int add_1d(fsci_sink *sink, const char *name, const double *v, int64_t n)
{
    fsci_view view;
    int st = fsci_view_init(&view, (void *)(uintptr_t)v, FSCI_F64, 1, &n, false);
    return st ? st : fsci_sink_add(sink, name, &view);
}

/* Cell-centre coordinates of the depth (z) and lateral (x) axes in mm. */
static int add_axes(const fsci_proton_result *r, fsci_sink *sink)
{
    int st = FSCI_OK;
    double *z = fsci_malloc((size_t)r->nz, sizeof *z), *x = fsci_malloc((size_t)r->nx, sizeof *x);
    FSCI_CHECK_GOTO(z && x, FSCI_ENOMEM, "proton: out of memory for the axes");
    for (int64_t k = 0; k < r->nz; k++) z[k] = ((double)k + 0.5) * r->dz_mm;
    for (int64_t i = 0; i < r->nx; i++) x[i] = ((double)i + 0.5 - 0.5 * (double)r->nx) * r->dx_mm;
    FSCI_TRY(add_1d(sink, "z", z, r->nz));
    FSCI_TRY(add_1d(sink, "x", x, r->nx));
fail:
    fsci_free(z);
    fsci_free(x);
    return st;
}

int fsci_proton_result_to_sink(const fsci_proton_result *r, fsci_sink *sink)
{
    int st = FSCI_OK;
    fsci_view v;
    FSCI_CHECK(r && sink, FSCI_EINVAL, "fsci_proton_result_to_sink: NULL argument");
    int64_t shape[2] = {r->nz, r->nx};
    FSCI_TRY(fsci_view_init(&v, r->dose_gy, FSCI_F64, 2, shape, false));
    FSCI_TRY(fsci_sink_add(sink, "dose", &v));
    FSCI_TRY(fsci_view_init(&v, r->dose_mev, FSCI_F64, 2, shape, false));
    FSCI_TRY(fsci_sink_add(sink, "dose_mev", &v));
    FSCI_TRY(add_1d(sink, "depth_dose", r->depth_dose, r->nz));
    FSCI_TRY(add_axes(r, sink));
fail:
    return st;
}
