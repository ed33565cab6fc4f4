/* The nn kernels in float32 (training and inference) and float64 (the
 * gradient checks), from one template. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fastsci/core/error.h"
#include "nn_impl.h"

#define T float
#define SFX f32
#define GEMM cblas_sgemm
#include "nn_kernels_tmpl.h"
#undef T
#undef SFX
#undef GEMM

#define T double
#define SFX f64
#define GEMM cblas_dgemm
#include "nn_kernels_tmpl.h"
#undef T
#undef SFX
#undef GEMM
