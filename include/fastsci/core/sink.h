/* fastsci: a destination for named arrays produced by an engine.
 *
 * Engines stream their outputs member by member (begin, write chunks in C
 * order, end) into a sink, so the same code writes an .npz file or a
 * directory of files without holding whole outputs in memory, or collects
 * ndarrays for the Python module. Text members (CSV, JSON, MetaImage headers)
 * and a JSON summary of the run go through the same sink. A memory sink also
 * hands out the storage of a member (fsci_sink_buffer), so that an engine
 * fills its final array in place instead of streaming a copy into it.
 *
 * Thread safety: one sink must not be used by two threads at the same time. */
#ifndef FASTSCI_CORE_SINK_H
#define FASTSCI_CORE_SINK_H

#include <stdbool.h>

#include "fastsci/core/array.h"
#include "fastsci/core/defs.h"

typedef struct fsci_sink fsci_sink;

/* What a sink writes to (an enum tag only: fsci_sink_kind is also the function). */
enum fsci_sink_kind { FSCI_SINK_NPZ = 0, FSCI_SINK_DIR = 1, FSCI_SINK_MEMORY = 2, FSCI_SINK_NULL = 3 };

/* A sink writing an .npz archive at `path` (stored or deflated). The file
 * appears only when fsci_sink_close succeeds. */
FSCI_API int fsci_sink_npz_create(const char *path, bool compress, fsci_sink **out) FSCI_WUR;

/* A sink that keeps every member in memory (fsci_array, or a string). */
FSCI_API int fsci_sink_memory_create(fsci_sink **out) FSCI_WUR;

/* A sink that stores nothing: each array member is checked as a memory
 * sink checks it (name not empty nor repeated, begin / exactly the declared
 * bytes / end) and its bytes are dropped; text members are dropped; the
 * summary is kept. It measures what an engine computes without the cost of
 * storing or writing its outputs (the benchmarks' "compute only").
 * fsci_sink_memory_count is 0; fsci_sink_buffer gives NULL (stream instead). */
FSCI_API int fsci_sink_null_create(fsci_sink **out) FSCI_WUR;

/* A sink writing one file per member into directory `dir` (created if
 * missing): an array member NAME becomes NAME.npy (as fsci_npy_write), a
 * member whose name already has an extension is written under that name,
 * as .npy if it ends in ".npy" and otherwise as raw native-order C-order
 * bytes (e.g. "dose.raw"); text members become files with the member's name
 * verbatim; the summary (if set) becomes summary.json. Names must be plain
 * file names (no '/'). The whole set appears at fsci_sink_close, atomically
 * (fsci_atomic_dir_commit: a missing directory appears with every file, an
 * existing one gets the whole new set or keeps the whole old one; other
 * files in it are left alone); nothing is written on failure or destroy.
 * FSCI_EINVAL (bad path, exists and is not a directory), FSCI_EIO,
 * FSCI_ENOMEM. */
FSCI_API int fsci_sink_dir_create(const char *dir, fsci_sink **out) FSCI_WUR;

/* What kind of sink this is. */
FSCI_API enum fsci_sink_kind fsci_sink_kind(const fsci_sink *s);

/* Start a member of the given dtype and shape; exactly numel * itemsize bytes
 * must follow through fsci_sink_write before fsci_sink_end. */
FSCI_API int fsci_sink_begin(fsci_sink *s, const char *name, fsci_dtype dtype, int ndim,
                             const int64_t *shape) FSCI_WUR;
FSCI_API int fsci_sink_write(fsci_sink *s, const void *data, size_t nbytes) FSCI_WUR;
FSCI_API int fsci_sink_end(fsci_sink *s) FSCI_WUR;

/* The storage of the member just begun, to fill in place (no copy).
 *
 * Memory sink: *data is the member's array (C order, the dtype and shape of
 * fsci_sink_begin, aligned to 64 bytes and to 2 MiB from 8 MiB on, marked for
 * transparent huge pages; uninitialised). The member then counts as fully
 * written: call fsci_sink_end (at once or later); no fsci_sink_write may
 * follow. The caller must fill every byte before the member is taken
 * (fsci_sink_memory_take, which hands over this very buffer) and may do so
 * from any threads, after fsci_sink_end and while other members are begun;
 * the pointer stays valid until the member is taken or the sink destroyed.
 * Other sinks (.npz, directory, null): FSCI_OK with *data = NULL, meaning
 * "stream the member with fsci_sink_write".
 * FSCI_EINVAL if no member is open or bytes were already written to it. */
FSCI_API int fsci_sink_buffer(fsci_sink *s, void **data) FSCI_WUR;

/* A whole member at once (any strides). */
FSCI_API int fsci_sink_add(fsci_sink *s, const char *name, const fsci_view *v) FSCI_WUR;

/* A string member (an .npz 0-d unicode array; a str in Python; in a
 * directory sink, a file `name` holding the text, as fsci_sink_add_text). */
FSCI_API int fsci_sink_add_string(fsci_sink *s, const char *name, const char *utf8) FSCI_WUR;

/* A text file: in a directory sink, file `name` (verbatim, e.g.
 * "depth_dose.csv") holding the bytes of `text`; in an .npz or memory sink, a
 * string member as fsci_sink_add_string (text must then be valid UTF-8). */
FSCI_API int fsci_sink_add_text(fsci_sink *s, const char *name, const char *text) FSCI_WUR;

/* The run's summary, a JSON document (checked to parse; copied). A memory
 * sink keeps it (the Python module returns it parsed), a directory sink
 * writes it as summary.json at close, an .npz sink keeps it but does not
 * write it. Setting it again replaces it. FSCI_EINVAL if it is not JSON. */
FSCI_API int fsci_sink_set_summary(fsci_sink *s, const char *json) FSCI_WUR;

/* The summary set on `s`, or NULL. Valid until the next set or destroy. */
FSCI_API const char *fsci_sink_summary(const fsci_sink *s);

/* Memory sink: number of members, and member i (name, then either *array or
 * *text is set). Ownership moves to the caller, who must free them
 * (fsci_array_destroy / fsci_free); the member is left empty. */
FSCI_API int64_t fsci_sink_memory_count(const fsci_sink *s);
FSCI_API int fsci_sink_memory_take(fsci_sink *s, int64_t i, const char **name, fsci_array **array,
                                   char **text) FSCI_WUR;

/* Finish: for an .npz sink, complete and rename the file; for a directory
 * sink, put the set in place. Releases the sink
 * except a memory sink's members, which stay available until destroy. On
 * failure nothing is left at the path. */
FSCI_API int fsci_sink_close(fsci_sink *s) FSCI_WUR;

/* Release everything; an .npz or directory sink that was not closed leaves
 * no file.
 * Accepts NULL and *s == NULL, clears *s. */
FSCI_API void fsci_sink_destroy(fsci_sink **s);

#endif
