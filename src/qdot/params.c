/* qdot: the simulate command's parameter table and its translation into a
 * device and a scan. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "qdot/qdot_impl.h"
#include "qdot/sim.h"

#define F(field) offsetof(fsci__qdot_sim_opts, field)

const fsci_param fsci__qdot_sim_params[FSCI__QDOT_SIM_NPARAMS] = {
    {"preset", FSCI_PARAM_CHOICE, F(preset), "dqd", 0, -1, "dqd|single",
     "device: dqd (double dot, doc/qdot.md section 3) or single (one dot, one gate)"},
    {"c-cc", FSCI_PARAM_DOUBLES, F(c_cc), "", -1e6, 1e6, NULL,
     "dot capacitance matrix in aF, row-major N x N (Maxwell form: totals on the diagonal, minus the mutual "
     "ones off it); sets the number of dots"},
    {"c-cv", FSCI_PARAM_DOUBLES, F(c_cv), "", 0, 1e6, NULL,
     "dot-to-gate capacitances in aF, row-major N x G; sets the number of gates"},
    {"nmax", FSCI_PARAM_INT, F(nmax), "0", 0, 64, NULL, "occupations 0..nmax per dot (0: the preset's)"},
    {"kt", FSCI_PARAM_DOUBLE, F(kt), "-1", -1, 100, NULL,
     "temperature kT in meV (0: ground state; -1: the preset's)"},
    {"sensor-lever", FSCI_PARAM_DOUBLES, F(sensor_lever), "", -10, 10, NULL,
     "meV per mV of each gate on the sensor potential"},
    {"sensor-coupling", FSCI_PARAM_DOUBLES, F(sensor_coupling), "", -100, 100, NULL,
     "meV the sensor potential drops per electron on each dot"},
    {"sensor-offset", FSCI_PARAM_DOUBLE, F(sensor_offset), "-0.35", -1000, 1000, NULL,
     "sensor potential at zero gate voltage, meV"},
    {"sensor-width", FSCI_PARAM_DOUBLE, F(sensor_width), "0", 0, 100, NULL,
     "sensor peak half width, meV (0: the preset's)"},
    {"sensor-period", FSCI_PARAM_DOUBLE, F(sensor_period), "0", 0, 1000, NULL,
     "spacing of the sensor's peaks, meV (0: one peak)"},
    {"white", FSCI_PARAM_DOUBLE, F(white), "0", 0, 100, NULL,
     "white noise standard deviation (signal units)"},
    {"pink", FSCI_PARAM_DOUBLE, F(pink), "0", 0, 100, NULL, "1/f noise standard deviation (signal units)"},
    {"telegraph", FSCI_PARAM_DOUBLE, F(telegraph), "0", 0, 100, NULL, "random telegraph amplitude"},
    {"telegraph-rate", FSCI_PARAM_DOUBLE, F(telegraph_rate), "0.001", 0, 0.999, NULL,
     "telegraph switching probability per pixel"},
    {"jump-rate", FSCI_PARAM_DOUBLE, F(jump_rate), "0", 0, 0.999, NULL, "sensor jumps per pixel"},
    {"jump-size", FSCI_PARAM_DOUBLE, F(jump_size), "0.05", 0, 100, NULL,
     "sensor jump standard deviation, meV"},
    {"gx", FSCI_PARAM_INT, F(gx), "0", 0, FSCI_QDOT_MAX_GATES - 1, NULL, "gate swept along x (fast axis)"},
    {"gy", FSCI_PARAM_INT, F(gy), "1", -1, FSCI_QDOT_MAX_GATES - 1, NULL,
     "gate swept along y (-1: a line scan; a one-gate device has none)"},
    {"x-range", FSCI_PARAM_DOUBLES, F(x_range), "-5,60", -1e6, 1e6, NULL, "first,last voltage along x, mV"},
    {"y-range", FSCI_PARAM_DOUBLES, F(y_range), "-5,60", -1e6, 1e6, NULL, "first,last voltage along y, mV"},
    {"base", FSCI_PARAM_DOUBLES, F(base), "", -1e6, 1e6, NULL,
     "voltages of all gates, mV (default 0; gx, gy ignored)"},
    {"nx", FSCI_PARAM_INT, F(nx), "200", 1, 1 << 20, NULL, "points along x"},
    {"ny", FSCI_PARAM_INT, F(ny), "200", 1, 1 << 20, NULL, "points along y"},
    {"signal", FSCI_PARAM_CHOICE, F(signal), "sensor", 0, -1, "sensor|current|charge",
     "sensor conductance, transport current (triple points) or total charge"},
    {"noise", FSCI_PARAM_BOOL, F(noise), "on", 0, -1, NULL, "add the noise the flags describe"},
    {"states", FSCI_PARAM_BOOL, F(states), "on", 0, -1, NULL, "also write the ground-state map (.npz)"},
};

static void preset_single(fsci_qdot_params *p)
{
    memset(p, 0, sizeof *p);
    p->ndots = 1;
    p->ngates = 1;
    p->c_cc[0] = 100;
    p->c_cv[0] = 10;
    p->nmax = 5;
    p->kT = 0.01;
    p->sensor_lever[0] = 0.002;
    p->sensor_coupling[0] = 0.12;
    p->sensor_offset = -0.35;
    p->sensor_width = 0.25;
}

static int matrices(const fsci__qdot_sim_opts *o, fsci_qdot_params *p)
{
    const int nc = o->c_cc.n;
    int n = (int)lround(sqrt((double)nc));
    FSCI_CHECK(n * n == nc && n >= 1 && n <= FSCI_QDOT_MAX_DOTS, FSCI_EINVAL,
               "--c-cc: %d values is not an N x N matrix with N in [1, %d]", nc, FSCI_QDOT_MAX_DOTS);
    FSCI_CHECK(o->c_cv.n > 0 && o->c_cv.n % n == 0 && o->c_cv.n / n <= FSCI_QDOT_MAX_GATES, FSCI_EINVAL,
               "--c-cv: %d values is not a %d x G matrix with G in [1, %d] (give --c-cv with --c-cc)",
               o->c_cv.n, n, FSCI_QDOT_MAX_GATES);
    p->ndots = n;
    p->ngates = o->c_cv.n / n;
    memcpy(p->c_cc, o->c_cc.v, (size_t)nc * sizeof *p->c_cc);
    memcpy(p->c_cv, o->c_cv.v, (size_t)o->c_cv.n * sizeof *p->c_cv);
    memset(p->sensor_lever, 0, sizeof p->sensor_lever);
    memset(p->sensor_coupling, 0, sizeof p->sensor_coupling);
    for (int g = 0; g < p->ngates; g++) p->sensor_lever[g] = 0.002;
    for (int i = 0; i < n; i++) p->sensor_coupling[i] = 0.1;
    return FSCI_OK;
}

static int list_into(const fsci_param_list *l, int want, double *dst, const char *flag)
{
    if (l->n == 0) return FSCI_OK;
    FSCI_CHECK(l->n == want, FSCI_EINVAL, "%s: %d values, the device needs %d", flag, l->n, want);
    memcpy(dst, l->v, (size_t)want * sizeof *dst);
    return FSCI_OK;
}

int fsci__qdot_sim_setup(const fsci__qdot_sim_opts *o, fsci_qdot_params *p, fsci_qdot_scan *s)
{
    if (strcmp(o->preset, "single") == 0)
        preset_single(p);
    else
        fsci_qdot_params_dqd(p);
    if (o->c_cc.n > 0 || o->c_cv.n > 0) FSCI__QDOT_RET(matrices(o, p));
    if (o->nmax > 0) p->nmax = (int)o->nmax;
    if (o->kt >= 0) p->kT = o->kt;
    FSCI__QDOT_RET(list_into(&o->sensor_lever, p->ngates, p->sensor_lever, "--sensor-lever"));
    FSCI__QDOT_RET(list_into(&o->sensor_coupling, p->ndots, p->sensor_coupling, "--sensor-coupling"));
    p->sensor_offset = o->sensor_offset;
    if (o->sensor_width > 0) p->sensor_width = o->sensor_width;
    p->sensor_period = o->sensor_period;
    p->noise = (fsci_qdot_noise){.white = o->white,
                                 .pink = o->pink,
                                 .telegraph = o->telegraph,
                                 .telegraph_rate = o->telegraph > 0 ? o->telegraph_rate : 0,
                                 .jump_rate = o->jump_rate,
                                 .jump_size = o->jump_size};
    memset(s, 0, sizeof *s);
    s->gx = (int)o->gx;
    s->gy = p->ngates == 1 ? -1 : (int)o->gy;
    FSCI_CHECK(o->x_range.n == 2, FSCI_EINVAL, "--x-range: give first,last (%d values)", o->x_range.n);
    FSCI_CHECK(o->y_range.n == 2, FSCI_EINVAL, "--y-range: give first,last (%d values)", o->y_range.n);
    s->x0 = o->x_range.v[0];
    s->x1 = o->x_range.v[1];
    s->y0 = o->y_range.v[0];
    s->y1 = o->y_range.v[1];
    s->nx = o->nx;
    s->ny = s->gy < 0 ? 1 : o->ny;
    FSCI__QDOT_RET(list_into(&o->base, p->ngates, s->base, "--base"));
    s->signal = strcmp(o->signal, "current") == 0  ? FSCI_QDOT_CURRENT
                : strcmp(o->signal, "charge") == 0 ? FSCI_QDOT_CHARGE
                                                   : FSCI_QDOT_SENSOR;
    s->noise = o->noise;
    FSCI_CHECK(s->gx < p->ngates, FSCI_EINVAL, "--gx %d: the device has %d gates", s->gx, p->ngates);
    FSCI_CHECK(s->gy < p->ngates && s->gy != s->gx, FSCI_EINVAL,
               "--gy %d: must be another gate of the %d (or -1 for a line)", s->gy, p->ngates);
    return FSCI_OK;
}
