/* proton engine: its section of the demo report (registered in engine.c). */
#ifndef FASTSCI_PROTON_DEMO_H
#define FASTSCI_PROTON_DEMO_H

#include "fastsci/fastsci.h"

int fsci__proton_demo(fsci_report *r, const fsci_ctx *ctx, bool quick);

/* Normalised depth-dose curves over depths [x0, x1] mm (both 0: 0-280 mm)
 * into the report's PNG `file`. */
int fsci__proton_depth_plot(fsci_report *r, const char *file, const char *title, const fsci_plot_series *s,
                            int ns, fsci_plot_vline *vl, int nvl, double x0, double x1);

/* Its subsection on Bragg peaks with straggling (demo_bragg.c). */
int fsci__proton_demo_bragg(fsci_report *r, const fsci_ctx *ctx, bool quick);

#endif
