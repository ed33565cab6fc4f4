/* qdot: the simulate command's options (the CLI's flags and Python's keywords). */
#ifndef FASTSCI_QDOT_SIM_H
#define FASTSCI_QDOT_SIM_H

#include "fastsci/fastsci.h"

typedef struct fsci__qdot_sim_opts {
    char preset[FSCI_PARAM_STRLEN];
    fsci_param_list c_cc, c_cv;
    int64_t nmax;
    double kt;
    fsci_param_list sensor_lever, sensor_coupling;
    double sensor_offset, sensor_width, sensor_period;
    double white, pink, telegraph, telegraph_rate, jump_rate, jump_size;
    int64_t gx, gy;
    fsci_param_list x_range, y_range, base;
    int64_t nx, ny;
    char signal[FSCI_PARAM_STRLEN];
    bool noise;
    bool states;
} fsci__qdot_sim_opts;

enum { FSCI__QDOT_SIM_NPARAMS = 26 };
extern const fsci_param fsci__qdot_sim_params[FSCI__QDOT_SIM_NPARAMS];

/* The device and scan the options describe (the preset's values where the
 * options leave them out). FSCI_EINVAL naming the flag. */
int fsci__qdot_sim_setup(const fsci__qdot_sim_opts *o, fsci_qdot_params *p, fsci_qdot_scan *s);

/* A scan (ny rows of nx, row 0 = the first y) as viridis RGB over its own range, row 0 of
 * the image at the top (the last y). */
void fsci__qdot_render_rgb(const double *sig, int64_t nx, int64_t ny, uint8_t *rgb);

/* The diagram as an RGB PNG (viridis, row 0 at the top = the last y) with a
 * double dot's analytic triple points marked (marks): white electron, black hole. */
int fsci__qdot_write_png(const char *path, const fsci_qdot_device *d, const fsci_qdot_scan *s,
                         const double *sig, bool marks);

/* The demo section. */
int fsci__qdot_demo(fsci_report *r, const fsci_ctx *ctx, bool quick);

#endif
