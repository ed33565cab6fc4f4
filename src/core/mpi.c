/* fastsci core: MPI wrappers (include/fastsci/core/mpi.h). */
#include <stdlib.h>

#include "fastsci/core/error.h"
#include "fastsci/core/mpi.h"

#ifdef FSCI_HAVE_MPI
#include <mpi.h>

static bool started; /* fsci_mpi_init called MPI_Init */

static bool active(void)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    return init && !fin;
}

int fsci_mpi_init(int *argc, char ***argv)
{
    if (active()) return FSCI_OK;
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE") && !getenv("PMIX_RANK")) return FSCI_OK;
    int provided = 0;
    FSCI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) == MPI_SUCCESS, FSCI_EIO,
               "MPI: MPI_Init_thread failed");
    started = true;
    return FSCI_OK;
}

void fsci_mpi_finalize(void)
{
    if (started && active()) MPI_Finalize();
    started = false;
}

bool fsci_mpi_available(void)
{
    return true;
}

int fsci_mpi_rank(void)
{
    int r = 0;
    if (active()) MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int fsci_mpi_size(void)
{
    int n = 1;
    if (active()) MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

/* Messages of at most 2^30 floats each (MPI counts are int). */
enum { CHUNK = 1 << 30 };

int fsci_mpi_send_f32(const float *buf, int64_t n, int dest, int tag)
{
    FSCI_CHECK(active(), FSCI_EINVAL, "MPI: send without MPI running");
    for (int64_t a = 0; a < n; a += CHUNK) {
        const int c = (int)(n - a < CHUNK ? n - a : CHUNK);
        FSCI_CHECK(MPI_Send(buf + a, c, MPI_FLOAT, dest, tag, MPI_COMM_WORLD) == MPI_SUCCESS, FSCI_EIO,
                   "MPI: send of %d floats to rank %d failed", c, dest);
    }
    return FSCI_OK;
}

int fsci_mpi_recv_f32(float *buf, int64_t n, int src, int tag)
{
    FSCI_CHECK(active(), FSCI_EINVAL, "MPI: receive without MPI running");
    for (int64_t a = 0; a < n; a += CHUNK) {
        const int c = (int)(n - a < CHUNK ? n - a : CHUNK);
        FSCI_CHECK(MPI_Recv(buf + a, c, MPI_FLOAT, src, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE) ==
                       MPI_SUCCESS,
                   FSCI_EIO, "MPI: receive of %d floats from rank %d failed", c, src);
    }
    return FSCI_OK;
}

int fsci_mpi_sum_f64(double *v, int n)
{
    if (!active() || fsci_mpi_size() == 1) return FSCI_OK;
    FSCI_CHECK(MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) == MPI_SUCCESS,
               FSCI_EIO, "MPI: sum over ranks failed");
    return FSCI_OK;
}

void fsci_mpi_abort(int code)
{
    if (active() && fsci_mpi_size() > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

#else

int fsci_mpi_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return FSCI_OK;
}
void fsci_mpi_finalize(void) {}
bool fsci_mpi_available(void)
{
    return false;
}
int fsci_mpi_rank(void)
{
    return 0;
}
int fsci_mpi_size(void)
{
    return 1;
}
int fsci_mpi_send_f32(const float *buf, int64_t n, int dest, int tag)
{
    (void)buf;
    (void)n;
    (void)tag;
    return fsci_error_set(FSCI_ENOTSUP, __FILE__, __LINE__, __func__,
                          "MPI: this build has no MPI (send to rank %d)", dest);
}
int fsci_mpi_recv_f32(float *buf, int64_t n, int src, int tag)
{
    (void)buf;
    (void)n;
    (void)tag;
    return fsci_error_set(FSCI_ENOTSUP, __FILE__, __LINE__, __func__,
                          "MPI: this build has no MPI (receive from rank %d)", src);
}
int fsci_mpi_sum_f64(double *v, int n)
{
    (void)v;
    (void)n;
    return FSCI_OK;
}
void fsci_mpi_abort(int code)
{
    (void)code;
}
#endif
