/* fastsci core: the few MPI operations the engines use (Debian OpenMPI,
 * CMake option FSCI_WITH_MPI). Without MPI, or before fsci_mpi_init, there is
 * one rank: rank 0 of size 1, and sends/receives are errors. */
#ifndef FASTSCI_CORE_MPI_H
#define FASTSCI_CORE_MPI_H

#include <stdbool.h>
#include <stdint.h>

#include "fastsci/core/defs.h"

/* Initialise MPI if this build has it and the process was started by an MPI
 * launcher (mpirun sets OMPI_COMM_WORLD_SIZE / PMI_SIZE); otherwise nothing. */
FSCI_API int fsci_mpi_init(int *argc, char ***argv) FSCI_WUR;
/* Finalise what fsci_mpi_init started; accepts being called without it. */
FSCI_API void fsci_mpi_finalize(void);
/* True when this build has MPI. */
FSCI_API bool fsci_mpi_available(void);
FSCI_API int fsci_mpi_rank(void);
FSCI_API int fsci_mpi_size(void);
/* Blocking point-to-point transfer of n floats with a tag. */
FSCI_API int fsci_mpi_send_f32(const float *buf, int64_t n, int dest, int tag) FSCI_WUR;
FSCI_API int fsci_mpi_recv_f32(float *buf, int64_t n, int src, int tag) FSCI_WUR;
/* A send that returns at once: *req (allocated) completes with fsci_mpi_wait,
 * before which buf must stay untouched. n must be below 2^31. */
typedef struct fsci_mpi_request fsci_mpi_request;
FSCI_API int fsci_mpi_isend_f32(const float *buf, int64_t n, int dest, int tag,
                                fsci_mpi_request **req) FSCI_WUR;
/* Wait for *req and release it (NULL or *req == NULL: nothing to wait for). */
FSCI_API int fsci_mpi_wait(fsci_mpi_request **req) FSCI_WUR;
/* Every rank holds bytes [displ[r], displ[r] + count[r]) of buf for its rank r
 * and receives the others' parts (MPI_Allgatherv); counts and displacements
 * must be below 2^31. Nothing with one rank. */
FSCI_API int fsci_mpi_allgather_bytes(void *buf, const int64_t *count, const int64_t *displ) FSCI_WUR;
/* v[0..n) summed over the ranks, the result on every rank (nothing with one rank). */
FSCI_API int fsci_mpi_sum_f64(double *v, int n) FSCI_WUR;
/* Abort every rank after a failure on one (a no-op with one rank): an error on
 * one rank would otherwise leave the others waiting in a receive. */
FSCI_API void fsci_mpi_abort(int code);

#endif
