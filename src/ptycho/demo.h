/* ptycho engine: its section of the demo report (registered in engine.c). */
#ifndef FASTSCI_PTYCHO_DEMO_H
#define FASTSCI_PTYCHO_DEMO_H

#include "fastsci/fastsci.h"

int fsci__ptycho_demo(fsci_report *r, const fsci_ctx *ctx, bool quick);

#endif
