/* fastsci: the umbrella header. Include this and link -lfastsci. */
#ifndef FASTSCI_H
#define FASTSCI_H

#include "fastsci/core/defs.h"
#include "fastsci/core/error.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/array.h"
#include "fastsci/core/fft.h"
#include "fastsci/core/la.h"
#include "fastsci/core/parallel.h"
#include "fastsci/core/params.h"
#include "fastsci/core/profile.h"
#include "fastsci/core/progress.h"
#include "fastsci/core/rng.h"
#include "fastsci/core/sink.h"
#include "fastsci/core/npy.h"
#include "fastsci/core/tiff.h"
#include "fastsci/core/plot.h"
#include "fastsci/core/report.h"
#include "fastsci/core/engine.h"
#include "fastsci/core/atomic.h"
#include "fastsci/core/spatial.h"
#include "fastsci/core/filter.h"
#include "fastsci/core/json.h"
#include "fastsci/core/sysinfo.h"
#include "fastsci/core/mpi.h"

#include "fastsci/ptycho.h"
#include "fastsci/proton.h"
#include "fastsci/pstm.h"
#include "fastsci/nn.h"
#include "fastsci/n2v2.h"
#include "fastsci/qdot.h"

/* Library version as "MAJOR.MINOR.PATCH". */
FSCI_API const char *fsci_version(void);

#endif
