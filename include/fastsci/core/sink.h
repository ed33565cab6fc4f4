/* fastsci: a destination for named arrays produced by an engine.
 *
 * Engines stream their outputs member by member (begin, write chunks in C
 * order, end) into a sink, so the same code writes an .npz file without
 * holding whole outputs in memory, or collects ndarrays for the Python
 * module. */
#ifndef FASTSCI_CORE_SINK_H
#define FASTSCI_CORE_SINK_H

#include <stdbool.h>

#include "fastsci/core/array.h"
#include "fastsci/core/defs.h"

typedef struct fsci_sink fsci_sink;

/* A sink writing an .npz archive at `path` (stored or deflated). The file
 * appears only when fsci_sink_close succeeds. */
FSCI_API int fsci_sink_npz_create(const char *path, bool compress, fsci_sink **out) FSCI_WUR;

/* A sink that keeps every member in memory (fsci_array, or a string). */
FSCI_API int fsci_sink_memory_create(fsci_sink **out) FSCI_WUR;

/* Start a member of the given dtype and shape; exactly numel * itemsize bytes
 * must follow through fsci_sink_write before fsci_sink_end. */
FSCI_API int fsci_sink_begin(fsci_sink *s, const char *name, fsci_dtype dtype, int ndim,
                             const int64_t *shape) FSCI_WUR;
FSCI_API int fsci_sink_write(fsci_sink *s, const void *data, size_t nbytes) FSCI_WUR;
FSCI_API int fsci_sink_end(fsci_sink *s) FSCI_WUR;

/* A whole member at once (any strides). */
FSCI_API int fsci_sink_add(fsci_sink *s, const char *name, const fsci_view *v) FSCI_WUR;

/* A string member (an .npz 0-d unicode array; a str in Python). */
FSCI_API int fsci_sink_add_string(fsci_sink *s, const char *name, const char *utf8) FSCI_WUR;

/* Memory sink: number of members, and member i (name, then either *array or
 * *text is set). Ownership moves to the caller, who must free them
 * (fsci_array_destroy / fsci_free); the member is left empty. */
FSCI_API int64_t fsci_sink_memory_count(const fsci_sink *s);
FSCI_API int fsci_sink_memory_take(fsci_sink *s, int64_t i, const char **name, fsci_array **array,
                                   char **text) FSCI_WUR;

/* Finish: for an .npz sink, complete and rename the file. Releases the sink
 * except a memory sink's members, which stay available until destroy. On
 * failure nothing is left at the path. */
FSCI_API int fsci_sink_close(fsci_sink *s) FSCI_WUR;

/* Release everything; an .npz sink that was not closed leaves no file.
 * Accepts NULL and *s == NULL, clears *s. */
FSCI_API void fsci_sink_destroy(fsci_sink **s);

/* PENDING(io helper): summary channel and directory sink. */
FSCI_API int fsci_sink_set_summary(fsci_sink *s, const char *json) FSCI_WUR;
FSCI_API const char *fsci_sink_summary(const fsci_sink *s);
FSCI_API int fsci_sink_dir_create(const char *dir, fsci_sink **out) FSCI_WUR;
FSCI_API int fsci_sink_add_text(fsci_sink *s, const char *name, const char *text) FSCI_WUR;

#endif
