/* proton engine: its section of the demo report (registered in engine.c). */
#ifndef FASTSCI_PROTON_DEMO_H
#define FASTSCI_PROTON_DEMO_H

#include "fastsci/fastsci.h"

int fsci__proton_demo(fsci_report *r, const fsci_ctx *ctx, bool quick);

/* Its subsection on Bragg peaks with straggling (demo_bragg.c). */
int fsci__proton_demo_bragg(fsci_report *r, const fsci_ctx *ctx, bool quick);

#endif
