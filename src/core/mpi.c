/* fastsci core: MPI wrappers (include/fastsci/core/mpi.h). */
#include <stdint.h>
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

struct fsci_mpi_request {
    MPI_Request r;
};

int fsci_mpi_isend_f32(const float *buf, int64_t n, int dest, int tag, fsci_mpi_request **req)
{
    *req = NULL;
    FSCI_CHECK(active(), FSCI_EINVAL, "MPI: send without MPI running");
    FSCI_CHECK(n >= 0 && n < INT32_MAX, FSCI_ERANGE, "MPI: a non-blocking send of %lld floats is too long",
               (long long)n);
    fsci_mpi_request *q = malloc(sizeof *q);
    FSCI_CHECK(q, FSCI_ENOMEM, "MPI: out of memory for a request");
    if (MPI_Isend(buf, (int)n, MPI_FLOAT, dest, tag, MPI_COMM_WORLD, &q->r) != MPI_SUCCESS) {
        free(q);
        FSCI_CHECK(0, FSCI_EIO, "MPI: send of %lld floats to rank %d failed", (long long)n, dest);
    }
    *req = q;
    return FSCI_OK;
}

int fsci_mpi_wait(fsci_mpi_request **req)
{
    if (!req || !*req) return FSCI_OK;
    const int rc = MPI_Wait(&(*req)->r, MPI_STATUS_IGNORE);
    free(*req);
    *req = NULL;
    FSCI_CHECK(rc == MPI_SUCCESS, FSCI_EIO, "MPI: a send did not complete");
    return FSCI_OK;
}

int fsci_mpi_allgather_bytes(void *buf, const int64_t *count, const int64_t *displ)
{
    if (!active() || fsci_mpi_size() == 1) return FSCI_OK;
    const int n = fsci_mpi_size();
    int *c = malloc(2 * (size_t)n * sizeof *c);
    FSCI_CHECK(c, FSCI_ENOMEM, "MPI: out of memory");
    for (int r = 0; r < n; r++) {
        if (count[r] < 0 || count[r] >= INT32_MAX || displ[r] < 0 || displ[r] >= INT32_MAX) {
            free(c);
            FSCI_CHECK(0, FSCI_ERANGE, "MPI: a gathered part of %lld bytes at %lld is too large",
                       (long long)count[r], (long long)displ[r]);
        }
        c[r] = (int)count[r];
        c[n + r] = (int)displ[r];
    }
    const int rc =
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, c, c + n, MPI_BYTE, MPI_COMM_WORLD);
    free(c);
    FSCI_CHECK(rc == MPI_SUCCESS, FSCI_EIO, "MPI: gathering the ranks' parts failed");
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
int fsci_mpi_isend_f32(const float *buf, int64_t n, int dest, int tag, fsci_mpi_request **req)
{
    (void)buf;
    (void)n;
    (void)tag;
    *req = NULL;
    return fsci_error_set(FSCI_ENOTSUP, __FILE__, __LINE__, __func__,
                          "MPI: this build has no MPI (send to rank %d)", dest);
}
int fsci_mpi_wait(fsci_mpi_request **req)
{
    (void)req;
    return FSCI_OK;
}
int fsci_mpi_allgather_bytes(void *buf, const int64_t *count, const int64_t *displ)
{
    (void)buf;
    (void)count;
    (void)displ;
    return FSCI_OK;
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
