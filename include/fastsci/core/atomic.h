/* fastsci: atomic output files and directories.
 *
 * Every file the library writes goes through this writer: the data goes to a
 * temporary file in the destination's directory ("<path>.<pid>-<n>.tmp") and
 * is renamed over the destination only when complete, so other processes see
 * the old file or the new one, never a partial one; on any failure the
 * temporary file is removed and an existing destination is left untouched.
 *
 * Destinations that are not regular files:
 *   - a character device (/dev/null, a terminal) is written in place: it is
 *     never renamed over, so `-o /dev/null` discards the output and /dev/null
 *     stays a device (FSCI_ATOMIC_REGULAR_ONLY refuses instead);
 *   - a FIFO, socket, block device or directory is refused with one line
 *     naming the path and what it is (opening a FIFO would block until a
 *     reader appears);
 *   - a symbolic link to a regular file: the file it points to is replaced
 *     (the link stays a link).
 *
 * Errors: FSCI_EIO with one line naming the destination and the system error
 * (strerror), e.g. "out.npz: cannot write: No space left on device". A full
 * disk and a file-size limit (EFBIG, `ulimit -f`) are reported alike; to see
 * EFBIG instead of being killed by SIGXFSZ the writer blocks SIGXFSZ in the
 * calling thread around each of its own write calls (and consumes a pending
 * one) unless SIGXFSZ is already ignored; fsci_atomic_install_signal_cleanup
 * ignores it process-wide (the CLI calls it; Python ignores SIGXFSZ itself).
 * Bytes written by third-party code into fsci_atomic_file (PLplot, libpng)
 * are covered only by that process-wide setting.
 *
 * Durability: the rename alone makes the file appear whole or not at all.
 * Forcing data to disk costs seconds for gigabyte outputs, so (like numpy) it
 * is done only on request: FSCI_ATOMIC_FSYNC, or the environment variable
 * FSCI_FSYNC=1, fsyncs the file before the rename and the directory after it.
 *
 * Interruption: a registry of live temporary paths (fixed size, async-signal-
 * safe) lets the handlers installed by fsci_atomic_install_signal_cleanup
 * remove them on SIGINT, SIGTERM or SIGHUP before the process dies with the
 * signal's default action. The library installs no handler by itself (the
 * Python module keeps Python's own SIGINT handling).
 *
 * Thread safety: distinct writers are independent; one writer must not be
 * used by two threads at the same time. See doc/io.md. */
#ifndef FASTSCI_CORE_ATOMIC_H
#define FASTSCI_CORE_ATOMIC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fastsci/core/defs.h"

typedef struct fsci_atomic fsci_atomic;
typedef struct fsci_atomic_dir fsci_atomic_dir;

enum fsci_atomic_flags {
    FSCI_ATOMIC_DEFAULT = 0,
    /* fsync the file before the rename and its directory after it, whatever
     * FSCI_FSYNC says */
    FSCI_ATOMIC_FSYNC = 1u << 0,
    /* never fsync, whatever FSCI_FSYNC says */
    FSCI_ATOMIC_NO_FSYNC = 1u << 1,
    /* refuse a character-device destination instead of writing in place
     * (for writers that must read their output back) */
    FSCI_ATOMIC_REGULAR_ONLY = 1u << 2
};

/* Start writing `path`: checks what exists at `path` (see above) and creates
 * the temporary file (or opens the character device). `flags`: an OR of
 * fsci_atomic_flags. Returns FSCI_OK; FSCI_EINVAL for a NULL/empty path or a
 * destination that is a directory, FIFO, socket or block device (message
 * "<path>: is a FIFO: ..."); FSCI_EIO if the temporary file cannot be created
 * (naming the path and the system error); FSCI_ENOMEM. *out is NULL on
 * failure. */
FSCI_API int fsci_atomic_open(const char *path, unsigned flags, fsci_atomic **out) FSCI_WUR;

/* The stdio stream to write through (binary, fully buffered). Code that
 * takes the stream over and closes it itself (PLplot's plend) must call
 * fsci_atomic_detach first. */
FSCI_API FILE *fsci_atomic_file(fsci_atomic *a);

/* The destination as given to fsci_atomic_open (for messages). */
FSCI_API const char *fsci_atomic_path(const fsci_atomic *a);

/* The temporary file's path, or NULL when writing a device in place. */
FSCI_API const char *fsci_atomic_temp_path(const fsci_atomic *a);

/* Append n bytes. FSCI_EIO naming the destination and the system error; the
 * writer then refuses further writes and commit fails (abort cleans up). */
FSCI_API int fsci_atomic_write(fsci_atomic *a, const void *data, size_t n) FSCI_WUR;

/* Formatted append (as fprintf); errors as fsci_atomic_write. */
FSCI_API int fsci_atomic_printf(fsci_atomic *a, const char *fmt, ...) FSCI_PRINTF(2, 3) FSCI_WUR;

/* Move the write position to byte `offset` (to patch a header written
 * earlier; a later write at the end needs a seek back). Pending buffered
 * bytes are written first, so errors are those of fsci_atomic_write. */
FSCI_API int fsci_atomic_seek(fsci_atomic *a, uint64_t offset) FSCI_WUR;

/* Forget the stream: the caller's code closes it (already closed or will be
 * before commit). Commit then checks the temporary file only by its name. */
FSCI_API void fsci_atomic_detach(fsci_atomic *a);

/* Finish: flush, fsync per policy, close, rename into place, fsync the
 * directory per policy. On failure the temporary file is removed, the
 * destination is untouched and the error names the destination and the
 * system error. The writer is freed and *a cleared either way. NULL or
 * *a == NULL gives FSCI_EINVAL. */
FSCI_API int fsci_atomic_commit(fsci_atomic **a) FSCI_WUR;

/* Discard: close and remove the temporary file, free, clear *a. Accepts NULL
 * and *a == NULL. */
FSCI_API void fsci_atomic_abort(fsci_atomic **a);

/* The whole of a file at once: open, write the n bytes, commit (abort on any
 * failure). Errors as fsci_atomic_open / write / commit. */
FSCI_API int fsci_atomic_write_file(const char *path, const void *data, size_t n) FSCI_WUR;

/* ---- a set of files in one directory --------------------------------------- */

/* Start writing a set of plain files that appear in directory `dir` together.
 * Files are written into a temporary directory (next to `dir` when it does
 * not exist, inside it as ".fsci-<pid>-<n>.tmp" when it does). Commit:
 *   - `dir` missing: the temporary directory is renamed to `dir`, so the set
 *     appears at once;
 *   - `dir` exists: each file is swapped in (renameat2 RENAME_EXCHANGE, or a
 *     rename with the old file kept aside) and, if any step fails, every
 *     swap already made is undone, so `dir` holds the whole old set or the
 *     whole new set, never a mix. Other files in `dir` are left alone.
 * Returns FSCI_OK; FSCI_EINVAL (NULL/empty path, `dir` exists and is not a
 * directory); FSCI_EIO (cannot create the temporary directory); FSCI_ENOMEM. */
FSCI_API int fsci_atomic_dir_open(const char *dir, unsigned flags, fsci_atomic_dir **out) FSCI_WUR;

/* The destination directory as given. */
FSCI_API const char *fsci_atomic_dir_path(const fsci_atomic_dir *d);

/* A new string "<temporary directory>/<name>" (free with fsci_free) to write
 * file `name` of the set with any writer (fsci_npy_write, fsci_atomic_open,
 * ...). `name` must be a plain file name: non-empty, no '/', not "." or "..".
 * Each name may be requested once. FSCI_EINVAL, FSCI_ENOMEM. */
FSCI_API int fsci_atomic_dir_file(fsci_atomic_dir *d, const char *name, char **path_out) FSCI_WUR;

/* Put the set in place (see fsci_atomic_dir_open); a requested file that
 * was not written is an error. On failure nothing changes in `dir`. The
 * temporary directory is removed and *d freed and cleared either way. */
FSCI_API int fsci_atomic_dir_commit(fsci_atomic_dir **d) FSCI_WUR;

/* Remove the temporary directory and its files; accepts NULL / *d == NULL. */
FSCI_API void fsci_atomic_dir_abort(fsci_atomic_dir **d);

/* ---- interruption ----------------------------------------------------------- */

/* For programs (the CLI's main): install handlers for SIGINT, SIGTERM and
 * SIGHUP (only where the current disposition is the default one) that
 * remove every live temporary file and directory and then re-raise the
 * signal with its default action; also set SIGXFSZ to SIG_IGN when it has its
 * default action, so that exceeding a file-size limit is an EFBIG error
 * rather than a crash. Call once, early; idempotent. Libraries and the Python
 * module must not call it. Returns FSCI_OK or FSCI_EIO (sigaction failed). */
FSCI_API int fsci_atomic_install_signal_cleanup(void) FSCI_WUR;

#endif
