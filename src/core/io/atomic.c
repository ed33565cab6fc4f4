/* Atomic output: temporary file + rename, the directory variant, the registry
 * of live temporary paths and the signal handlers that remove them.
 * Behaviour and rationale: include/fastsci/core/atomic.h and doc/io.md. */
#define _GNU_SOURCE 1 /* renameat2 (RENAME_EXCHANGE), getdents64, realpath */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/io/io_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/atomic.h"

/* ---- registry of live temporary paths (read by the signal handler) --------- */

enum { SLOTS = 64, SLOT_PATH = 4096 };
enum { SLOT_FREE = 0, SLOT_BUSY = 1, SLOT_FILE = 2, SLOT_DIR = 3 };

static atomic_int g_slot_state[SLOTS];
static char g_slot_path[SLOTS][SLOT_PATH];
static atomic_int g_committing;         /* renames in progress: signals wait */
static volatile sig_atomic_t g_pending; /* signal deferred during a rename */
static atomic_uint g_serial;            /* temporary name counter */
static const int g_sigs[3] = {SIGINT, SIGTERM, SIGHUP};

/* Register a path; returns the slot or -1 when the registry is full or the
 * path too long (the file is then only removed by the normal paths). */
static int reg_add(const char *path, int kind)
{
    size_t n = strlen(path);
    if (n >= SLOT_PATH) return -1;
    for (int i = 0; i < SLOTS; i++) {
        int free_ = SLOT_FREE;
        if (atomic_compare_exchange_strong(&g_slot_state[i], &free_, SLOT_BUSY)) {
            memcpy(g_slot_path[i], path, n + 1);
            atomic_store(&g_slot_state[i], kind);
            return i;
        }
    }
    return -1;
}

static void reg_remove(int slot)
{
    if (slot >= 0) atomic_store(&g_slot_state[slot], SLOT_FREE);
}

/* Remove the files of a flat directory and the directory; only
 * async-signal-safe calls (open, getdents64, unlinkat, close, rmdir). */
static void rm_flat(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        for (;;) {
            ssize_t n = getdents64(fd, buf, cap);
            if (n <= 0) break;
            for (ssize_t off = 0; off < n;) {
                struct dirent64 *e = (struct dirent64 *)(void *)(buf + off);
                const char *nm = e->d_name;
                if (!(nm[0] == '.' && (nm[1] == '\0' || (nm[1] == '.' && nm[2] == '\0'))))
                    unlinkat(fd, nm, 0);
                off += e->d_reclen;
            }
        }
        close(fd);
    }
    rmdir(path);
}

static void cleanup_all(void)
{
    static _Alignas(16) char buf[8192];
    for (int i = 0; i < SLOTS; i++) {
        int s = atomic_load(&g_slot_state[i]);
        if (s == SLOT_FILE) unlink(g_slot_path[i]);
        if (s == SLOT_DIR) rm_flat(g_slot_path[i], buf, sizeof buf);
    }
}

/* Remove every temporary path, then die of `sig` with its default action. */
static void die_of(int sig)
{
    cleanup_all();
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    raise(sig);
}

static void on_signal(int sig)
{
    int saved = errno;
    if (atomic_load(&g_committing) > 0) {
        g_pending = sig; /* a rename is half done: the committer dies after it */
        errno = saved;
        return;
    }
    die_of(sig);
    errno = saved;
}

static void commit_enter(void)
{
    atomic_fetch_add(&g_committing, 1);
}

static void commit_leave(void)
{
    if (atomic_fetch_sub(&g_committing, 1) == 1 && g_pending) die_of(g_pending);
}

int fsci_atomic_install_signal_cleanup(void)
{
    for (int k = 0; k < 3; k++) {
        struct sigaction cur;
        FSCI_CHECK(sigaction(g_sigs[k], NULL, &cur) == 0, FSCI_EIO, "sigaction failed");
        if ((cur.sa_flags & SA_SIGINFO) || cur.sa_handler != SIG_DFL) continue; /* ignored or taken */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigfillset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        FSCI_CHECK(sigaction(g_sigs[k], &sa, NULL) == 0, FSCI_EIO, "sigaction failed");
    }
    struct sigaction x;
    FSCI_CHECK(sigaction(SIGXFSZ, NULL, &x) == 0, FSCI_EIO, "sigaction failed");
    if (!(x.sa_flags & SA_SIGINFO) && x.sa_handler == SIG_DFL) {
        x.sa_handler = SIG_IGN;
        FSCI_CHECK(sigaction(SIGXFSZ, &x, NULL) == 0, FSCI_EIO, "sigaction failed");
    }
    return FSCI_OK;
}

/* ---- SIGXFSZ: see EFBIG instead of dying --------------------------------------- */

typedef struct xguard {
    bool on;
    sigset_t old;
} xguard;

static bool xfsz_needs_guard(void)
{
    struct sigaction cur;
    if (sigaction(SIGXFSZ, NULL, &cur) != 0) return true;
    return (cur.sa_flags & SA_SIGINFO) || cur.sa_handler != SIG_IGN;
}

/* SIGXFSZ is sent to the writing thread: block it around our write calls
 * and consume it if it came, so write() reports EFBIG. */
static void xg_begin(bool on, xguard *g)
{
    g->on = on;
    if (!on) return;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGXFSZ);
    pthread_sigmask(SIG_BLOCK, &s, &g->old);
}

static void xg_end(xguard *g)
{
    if (!g->on) return;
    sigset_t s, pend;
    sigemptyset(&s);
    sigaddset(&s, SIGXFSZ);
    if (!sigismember(&g->old, SIGXFSZ) && sigpending(&pend) == 0 && sigismember(&pend, SIGXFSZ)) {
        const struct timespec zero = {0, 0};
        (void)sigtimedwait(&s, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* ---- helpers --------------------------------------------------------------------- */

static bool want_sync(unsigned flags)
{
    if (flags & FSCI_ATOMIC_FSYNC) return true;
    if (flags & FSCI_ATOMIC_NO_FSYNC) return false;
    const char *e = getenv("FSCI_FSYNC");
    return e && strcmp(e, "1") == 0;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = fsci_malloc(n + 1, 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

/* fsync the directory holding `path` (EINVAL/EROFS: cannot sync, ignored). */
static int sync_parent(const char *path, const char *what)
{
    int st = FSCI_OK;
    char eb[128];
    char *dir = dup_str(path);
    FSCI_CHECK(dir, FSCI_ENOMEM, "%s: out of memory", what);
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
            st = fsci_error_set(FSCI_EIO, __FILE__, __LINE__, __func__, "%s: fsync of directory %s: %s", what,
                                dir, fsci__errstr(errno, eb, sizeof eb));
        close(fd);
    }
    fsci_free(dir);
    return st;
}

static int sync_path(const char *path, const char *what)
{
    char eb[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    FSCI_CHECK(fd >= 0, FSCI_EIO, "%s: cannot open %s to sync it: %s", what, path,
               fsci__errstr(errno, eb, sizeof eb));
    int r = fsync(fd), e = errno;
    close(fd);
    FSCI_CHECK(r == 0 || e == EINVAL || e == EROFS, FSCI_EIO, "%s: fsync of %s failed: %s", what, path,
               fsci__errstr(e, eb, sizeof eb));
    return FSCI_OK;
}

/* ---- one file ------------------------------------------------------------------------ */

struct fsci_atomic {
    char *path;   /* as given, for messages */
    char *target; /* renamed onto (a symlink's target) */
    char *tmp;    /* NULL when writing a device in place */
    FILE *fp;
    unsigned flags;
    int slot;
    int err; /* errno of the first failed write, 0 if none */
    bool in_place, guard;
};

static int write_error(const fsci_atomic *a)
{
    char eb[128];
    return fsci_error_set(FSCI_EIO, __FILE__, __LINE__, __func__, "%s: cannot write: %s", a->path,
                          fsci__errstr(a->err, eb, sizeof eb));
}

/* Decide where to write: *in_place for a character device, *target for a
 * regular file or nothing yet; refuse the rest. */
static int inspect_target(fsci_atomic *a, struct stat *old, bool *exists)
{
    int st = FSCI_OK;
    char eb[128];
    *exists = false;
    if (stat(a->path, old) != 0) {
        int e = errno;
        FSCI_CHECK(e == ENOENT || e == ENOTDIR, FSCI_EIO, "%s: cannot stat: %s", a->path,
                   fsci__errstr(e, eb, sizeof eb));
        return FSCI_OK;
    }
    *exists = true;
    if (S_ISCHR(old->st_mode) && !(a->flags & FSCI_ATOMIC_REGULAR_ONLY)) {
        a->in_place = true;
        return FSCI_OK;
    }
    FSCI_CHECK(S_ISREG(old->st_mode), FSCI_EINVAL, "%s: is %s: refusing to write to it%s", a->path,
               fsci__file_kind((unsigned)old->st_mode),
               S_ISFIFO(old->st_mode) ? " (it would block until a reader opens it)" : "");
    struct stat l;
    if (lstat(a->path, &l) == 0 && S_ISLNK(l.st_mode)) {
        char *real = realpath(a->path, NULL);
        FSCI_CHECK(real, FSCI_EIO, "%s: cannot resolve the symbolic link: %s", a->path,
                   fsci__errstr(errno, eb, sizeof eb));
        a->target = dup_str(real);
        free(real); /* from realpath: libc's allocator */
        FSCI_CHECK(a->target, FSCI_ENOMEM, "%s: out of memory", a->path);
    }
    return st;
}

static int create_temp(fsci_atomic *a, const struct stat *old, bool exists, int *fd_out)
{
    char eb[128];
    size_t cap = strlen(a->target) + 64;
    a->tmp = fsci_malloc(cap, 1);
    FSCI_CHECK(a->tmp, FSCI_ENOMEM, "%s: out of memory", a->path);
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(a->tmp, cap, "%s.%ld-%u.tmp", a->target, (long)getpid(), atomic_fetch_add(&g_serial, 1u));
        fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST && errno != EINTR) {
            int e = errno;
            fsci_free(a->tmp);
            a->tmp = NULL; /* nothing was created */
            FSCI_CHECK(0, FSCI_EIO, "%s: cannot create a temporary file next to it: %s", a->path,
                       fsci__errstr(e, eb, sizeof eb));
        }
    }
    if (fd < 0) {
        fsci_free(a->tmp);
        a->tmp = NULL;
        FSCI_CHECK(0, FSCI_EIO, "%s: cannot find a free temporary file name", a->path);
    }
    a->slot = reg_add(a->tmp, SLOT_FILE);
    if (exists) (void)fchmod(fd, old->st_mode & 07777); /* keep the replaced file's permissions */
    *fd_out = fd;
    return FSCI_OK;
}

int fsci_atomic_open(const char *path, unsigned flags, fsci_atomic **out)
{
    int st = FSCI_OK;
    fsci_atomic *a = NULL;
    int fd = -1;
    char eb[128];
    FSCI_CHECK(out, FSCI_EINVAL, "atomic write: NULL output pointer");
    *out = NULL;
    FSCI_CHECK(path && path[0], FSCI_EINVAL, "atomic write: NULL or empty output path");
    a = fsci_calloc(1, sizeof *a);
    FSCI_CHECK(a, FSCI_ENOMEM, "%s: out of memory", path);
    a->slot = -1;
    a->flags = flags;
    a->path = dup_str(path);
    FSCI_CHECK_GOTO(a->path, FSCI_ENOMEM, "%s: out of memory", path);
    struct stat old;
    bool exists;
    FSCI_TRY(inspect_target(a, &old, &exists));
    if (a->in_place) {
        do {
            fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        } while (fd < 0 && errno == EINTR);
        FSCI_CHECK_GOTO(fd >= 0, FSCI_EIO, "%s: cannot open: %s", path, fsci__errstr(errno, eb, sizeof eb));
    } else {
        if (!a->target) a->target = dup_str(path);
        FSCI_CHECK_GOTO(a->target, FSCI_ENOMEM, "%s: out of memory", path);
        FSCI_TRY(create_temp(a, &old, exists, &fd));
    }
    a->fp = fdopen(fd, "wb");
    FSCI_CHECK_GOTO(a->fp, FSCI_EIO, "%s: cannot open a stream: %s", path,
                    fsci__errstr(errno, eb, sizeof eb));
    fd = -1;
    a->guard = xfsz_needs_guard();
    *out = a;
    return FSCI_OK;
fail:
    if (fd >= 0) close(fd);
    fsci_atomic_abort(&a);
    return st;
}

FILE *fsci_atomic_file(fsci_atomic *a)
{
    return a ? a->fp : NULL;
}

const char *fsci_atomic_path(const fsci_atomic *a)
{
    return a ? a->path : NULL;
}

const char *fsci_atomic_temp_path(const fsci_atomic *a)
{
    return a ? a->tmp : NULL;
}

void fsci_atomic_detach(fsci_atomic *a)
{
    if (a) a->fp = NULL;
}

int fsci_atomic_write(fsci_atomic *a, const void *data, size_t n)
{
    FSCI_CHECK(a, FSCI_EINVAL, "atomic write: NULL writer");
    if (a->err) return write_error(a);
    if (n == 0) return FSCI_OK;
    FSCI_CHECK(a->fp && data, FSCI_EINVAL, "%s: write after detach or NULL data", a->path);
    xguard g;
    xg_begin(a->guard, &g);
    errno = 0;
    size_t w = fwrite(data, 1, n, a->fp);
    int e = errno;
    xg_end(&g);
    if (w != n) {
        a->err = e ? e : EIO;
        return write_error(a);
    }
    return FSCI_OK;
}

int fsci_atomic_printf(fsci_atomic *a, const char *fmt, ...)
{
    FSCI_CHECK(a && fmt, FSCI_EINVAL, "atomic write: NULL writer or format");
    if (a->err) return write_error(a);
    FSCI_CHECK(a->fp, FSCI_EINVAL, "%s: write after detach", a->path);
    va_list ap;
    va_start(ap, fmt);
    xguard g;
    xg_begin(a->guard, &g);
    errno = 0;
    int r = vfprintf(a->fp, fmt, ap);
    int e = errno;
    xg_end(&g);
    va_end(ap);
    if (r < 0) {
        a->err = e ? e : EIO;
        return write_error(a);
    }
    return FSCI_OK;
}

int fsci_atomic_seek(fsci_atomic *a, uint64_t offset)
{
    FSCI_CHECK(a, FSCI_EINVAL, "atomic write: NULL writer");
    if (a->err) return write_error(a);
    FSCI_CHECK(a->fp && offset <= (uint64_t)INT64_MAX, FSCI_EINVAL, "%s: bad seek", a->path);
    xguard g;
    xg_begin(a->guard, &g);
    errno = 0;
    int r = fseeko(a->fp, (off_t)offset, SEEK_SET);
    int e = errno;
    xg_end(&g);
    if (r != 0) {
        a->err = e ? e : EIO;
        return write_error(a);
    }
    return FSCI_OK;
}

/* Flush, sync per policy and close the stream; records a->err. */
static int finish_stream(fsci_atomic *a, bool sync)
{
    if (!a->fp) return FSCI_OK;
    FILE *fp = a->fp;
    a->fp = NULL;
    xguard g;
    xg_begin(a->guard, &g);
    errno = 0;
    int e = 0;
    if (fflush(fp) != 0) e = errno ? errno : EIO;
    if (!e && sync && !a->in_place && fsync(fileno(fp)) != 0 && errno != EINVAL && errno != EROFS) e = errno;
    if (fclose(fp) != 0 && !e) e = errno ? errno : EIO;
    xg_end(&g);
    if (e) {
        a->err = e;
        return write_error(a);
    }
    return FSCI_OK;
}

static void atomic_free(fsci_atomic *a)
{
    reg_remove(a->slot);
    fsci_free(a->tmp);
    fsci_free(a->target);
    fsci_free(a->path);
    fsci_free(a);
}

int fsci_atomic_write_file(const char *path, const void *data, size_t n)
{
    int st = FSCI_OK;
    fsci_atomic *a = NULL;
    FSCI_TRY(fsci_atomic_open(path, FSCI_ATOMIC_DEFAULT, &a));
    FSCI_TRY(fsci_atomic_write(a, data, n));
    FSCI_TRY(fsci_atomic_commit(&a));
fail:
    fsci_atomic_abort(&a);
    return st;
}

int fsci_atomic_commit(fsci_atomic **ap)
{
    int st = FSCI_OK;
    char eb[128];
    FSCI_CHECK(ap && *ap, FSCI_EINVAL, "atomic commit: NULL writer");
    fsci_atomic *a = *ap;
    bool sync = want_sync(a->flags);
    if (a->err) {
        st = write_error(a);
        goto fail;
    }
    FSCI_TRY(finish_stream(a, sync));
    if (!a->in_place) {
        if (sync) FSCI_TRY(sync_path(a->tmp, a->path));
        commit_enter();
        int r = rename(a->tmp, a->target), e = errno;
        if (r == 0) {
            reg_remove(a->slot);
            a->slot = -1;
            fsci_free(a->tmp);
            a->tmp = NULL;
        }
        commit_leave();
        FSCI_CHECK_GOTO(r == 0, FSCI_EIO, "%s: cannot rename the temporary file into place: %s", a->path,
                        fsci__errstr(e, eb, sizeof eb));
        if (sync) FSCI_TRY(sync_parent(a->target, a->path));
    }
    atomic_free(a);
    *ap = NULL;
    return FSCI_OK;
fail:
    fsci_atomic_abort(ap);
    return st;
}

void fsci_atomic_abort(fsci_atomic **ap)
{
    if (!ap || !*ap) return;
    fsci_atomic *a = *ap;
    if (a->fp) {
        xguard g;
        xg_begin(a->guard, &g);
        fclose(a->fp);
        xg_end(&g);
    }
    a->fp = NULL;
    if (a->tmp) unlink(a->tmp);
    atomic_free(a);
    *ap = NULL;
}

/* ---- a set of files ---------------------------------------------------------------------- */

struct fsci_atomic_dir {
    char *dir; /* as given, without trailing slashes */
    char *tmp; /* the temporary directory */
    bool existed;
    unsigned flags;
    int slot;
    char **names;
    int64_t n, cap;
};

int fsci_atomic_dir_open(const char *dir, unsigned flags, fsci_atomic_dir **out)
{
    int st = FSCI_OK;
    char eb[128];
    fsci_atomic_dir *d = NULL;
    FSCI_CHECK(out, FSCI_EINVAL, "atomic directory: NULL output pointer");
    *out = NULL;
    FSCI_CHECK(dir && dir[0], FSCI_EINVAL, "atomic directory: NULL or empty path");
    d = fsci_calloc(1, sizeof *d);
    FSCI_CHECK(d, FSCI_ENOMEM, "%s: out of memory", dir);
    d->slot = -1;
    d->flags = flags;
    d->dir = dup_str(dir);
    FSCI_CHECK_GOTO(d->dir, FSCI_ENOMEM, "%s: out of memory", dir);
    for (size_t k = strlen(d->dir); k > 1 && d->dir[k - 1] == '/'; k--) d->dir[k - 1] = '\0';
    struct stat sb;
    if (stat(d->dir, &sb) == 0) {
        FSCI_CHECK_GOTO(S_ISDIR(sb.st_mode), FSCI_EINVAL, "%s: is %s, not a directory", dir,
                        fsci__file_kind((unsigned)sb.st_mode));
        d->existed = true;
    } else {
        FSCI_CHECK_GOTO(errno == ENOENT, FSCI_EIO, "%s: cannot stat: %s", dir,
                        fsci__errstr(errno, eb, sizeof eb));
    }
    size_t cap = strlen(d->dir) + 64;
    d->tmp = fsci_malloc(cap, 1);
    FSCI_CHECK_GOTO(d->tmp, FSCI_ENOMEM, "%s: out of memory", dir);
    int r = -1;
    for (int attempt = 0; attempt < 100 && r != 0; attempt++) {
        unsigned k = atomic_fetch_add(&g_serial, 1u);
        if (d->existed)
            snprintf(d->tmp, cap, "%s/.fsci-%ld-%u.tmp", d->dir, (long)getpid(), k);
        else
            snprintf(d->tmp, cap, "%s.%ld-%u.tmp", d->dir, (long)getpid(), k);
        r = mkdir(d->tmp, 0777);
        if (r != 0 && errno != EEXIST) break;
    }
    if (r != 0) {
        int e = errno;
        fsci_free(d->tmp);
        d->tmp = NULL;
        FSCI_CHECK_GOTO(0, FSCI_EIO, "%s: cannot create a temporary directory: %s", dir,
                        fsci__errstr(e, eb, sizeof eb));
    }
    if (d->existed) (void)chmod(d->tmp, 0700);
    d->slot = reg_add(d->tmp, SLOT_DIR);
    *out = d;
    return FSCI_OK;
fail:
    fsci_atomic_dir_abort(&d);
    return st;
}

const char *fsci_atomic_dir_path(const fsci_atomic_dir *d)
{
    return d ? d->dir : NULL;
}

static char *join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *p = fsci_malloc(na + nb + 2, 1);
    if (!p) return NULL;
    memcpy(p, a, na);
    p[na] = '/';
    memcpy(p + na + 1, b, nb + 1);
    return p;
}

int fsci_atomic_dir_file(fsci_atomic_dir *d, const char *name, char **path_out)
{
    FSCI_CHECK(d && name && path_out, FSCI_EINVAL, "atomic directory: NULL argument");
    *path_out = NULL;
    FSCI_CHECK(name[0] && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0,
               FSCI_EINVAL, "%s: '%s' is not a plain file name", d->dir, name);
    for (int64_t i = 0; i < d->n; i++)
        FSCI_CHECK(strcmp(d->names[i], name) != 0, FSCI_EINVAL, "%s: file '%s' requested twice", d->dir,
                   name);
    if (d->n == d->cap) {
        int64_t cap = d->cap ? 2 * d->cap : 16;
        char **nn = fsci_calloc((size_t)cap, sizeof *nn);
        FSCI_CHECK(nn, FSCI_ENOMEM, "%s: out of memory", d->dir);
        if (d->n) memcpy(nn, d->names, (size_t)d->n * sizeof *nn);
        fsci_free(d->names);
        d->names = nn;
        d->cap = cap;
    }
    char *nm = dup_str(name);
    char *p = join(d->tmp, name);
    if (!nm || !p) {
        fsci_free(nm);
        fsci_free(p);
        FSCI_CHECK(0, FSCI_ENOMEM, "%s: out of memory", d->dir);
    }
    d->names[d->n++] = nm;
    *path_out = p;
    return FSCI_OK;
}

enum { SWAP_NEW = 0, SWAP_EXCHANGED = 1, SWAP_ASIDE = 2 };

/* Undo swaps [0, k) in reverse order. Best effort: each step is a rename
 * that just succeeded the other way. */
static void swap_undo(fsci_atomic_dir *d, const int *how, int64_t k, char **src, char **dst, char **aside)
{
    for (int64_t i = k - 1; i >= 0; i--) {
        if (how[i] == SWAP_NEW) (void)rename(dst[i], src[i]);
        if (how[i] == SWAP_EXCHANGED) (void)renameat2(AT_FDCWD, src[i], AT_FDCWD, dst[i], RENAME_EXCHANGE);
        if (how[i] == SWAP_ASIDE) {
            (void)rename(dst[i], src[i]);
            (void)rename(aside[i], dst[i]);
        }
    }
    (void)d;
}

/* One file into an existing directory; *how says how to undo it. */
static int swap_one(const fsci_atomic_dir *d, const char *src, const char *dst, const char *aside, int *how)
{
    char eb[128];
    struct stat sb;
    if (lstat(dst, &sb) != 0) {
        FSCI_CHECK(errno == ENOENT, FSCI_EIO, "%s: cannot stat: %s", dst, fsci__errstr(errno, eb, sizeof eb));
        FSCI_CHECK(rename(src, dst) == 0, FSCI_EIO, "%s: cannot rename into place: %s", dst,
                   fsci__errstr(errno, eb, sizeof eb));
        *how = SWAP_NEW;
        return FSCI_OK;
    }
    FSCI_CHECK(!S_ISDIR(sb.st_mode), FSCI_EINVAL, "%s: is a directory: not replaced (output set in %s)", dst,
               d->dir);
    if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_EXCHANGE) == 0) {
        *how = SWAP_EXCHANGED;
        return FSCI_OK;
    }
    FSCI_CHECK(errno == EINVAL || errno == ENOSYS, FSCI_EIO, "%s: cannot swap into place: %s", dst,
               fsci__errstr(errno, eb, sizeof eb));
    /* file system without RENAME_EXCHANGE: keep the old file aside */
    FSCI_CHECK(rename(dst, aside) == 0, FSCI_EIO, "%s: cannot move the old file aside: %s", dst,
               fsci__errstr(errno, eb, sizeof eb));
    if (rename(src, dst) != 0) {
        int e = errno;
        (void)rename(aside, dst);
        FSCI_CHECK(0, FSCI_EIO, "%s: cannot rename into place: %s", dst, fsci__errstr(e, eb, sizeof eb));
    }
    *how = SWAP_ASIDE;
    return FSCI_OK;
}

static int swap_all(fsci_atomic_dir *d)
{
    int st = FSCI_OK;
    int64_t n = d->n, k = 0;
    char **src = fsci_calloc((size_t)(3 * n + 1), sizeof *src);
    int *how = fsci_calloc((size_t)n + 1, sizeof *how);
    FSCI_CHECK_GOTO(src && how, FSCI_ENOMEM, "%s: out of memory", d->dir);
    char **dst = src + n, **aside = src + 2 * n;
    for (int64_t i = 0; i < n; i++) {
        char old[300];
        snprintf(old, sizeof old, ".old.%.280s", d->names[i]);
        src[i] = join(d->tmp, d->names[i]);
        dst[i] = join(d->dir, d->names[i]);
        aside[i] = join(d->tmp, old);
        FSCI_CHECK_GOTO(src[i] && dst[i] && aside[i], FSCI_ENOMEM, "%s: out of memory", d->dir);
    }
    for (; k < n; k++) FSCI_TRY(swap_one(d, src[k], dst[k], aside[k], &how[k]));
fail:
    if (st < 0 && src && how) swap_undo(d, how, k, src, dst, aside);
    if (src)
        for (int64_t i = 0; i < 3 * n; i++) fsci_free(src[i]);
    fsci_free(src);
    fsci_free(how);
    return st;
}

static int dir_sync_all(fsci_atomic_dir *d)
{
    int st = FSCI_OK;
    char *p = NULL;
    for (int64_t i = 0; i < d->n; i++) {
        p = join(d->tmp, d->names[i]);
        FSCI_CHECK_GOTO(p, FSCI_ENOMEM, "%s: out of memory", d->dir);
        FSCI_TRY(sync_path(p, d->dir));
        fsci_free(p);
        p = NULL;
    }
    FSCI_TRY(sync_path(d->tmp, d->dir));
fail:
    fsci_free(p);
    return st;
}

int fsci_atomic_dir_commit(fsci_atomic_dir **dp)
{
    int st = FSCI_OK;
    char eb[128];
    char *p = NULL;
    FSCI_CHECK(dp && *dp, FSCI_EINVAL, "atomic directory commit: NULL handle");
    fsci_atomic_dir *d = *dp;
    for (int64_t i = 0; i < d->n; i++) {
        struct stat sb;
        p = join(d->tmp, d->names[i]);
        FSCI_CHECK_GOTO(p, FSCI_ENOMEM, "%s: out of memory", d->dir);
        FSCI_CHECK_GOTO(lstat(p, &sb) == 0 && S_ISREG(sb.st_mode), FSCI_EINVAL,
                        "%s: file '%s' of the set was not written", d->dir, d->names[i]);
        fsci_free(p);
        p = NULL;
    }
    bool sync = want_sync(d->flags);
    if (sync) FSCI_TRY(dir_sync_all(d));
    commit_enter();
    if (!d->existed) {
        int r = rename(d->tmp, d->dir), e = errno;
        if (r == 0) {
            reg_remove(d->slot);
            d->slot = -1;
            fsci_free(d->tmp);
            d->tmp = NULL;
        }
        commit_leave();
        FSCI_CHECK_GOTO(r == 0, FSCI_EIO, "%s: cannot rename the temporary directory into place: %s", d->dir,
                        fsci__errstr(e, eb, sizeof eb));
    } else {
        st = swap_all(d);
        commit_leave();
        if (st < 0) goto fail;
    }
    if (sync) FSCI_TRY(sync_parent(d->existed ? d->tmp : d->dir, d->dir));
fail:
    fsci_free(p);
    fsci_atomic_dir_abort(dp); /* after a swap the temporary directory holds the old files */
    return st;
}

void fsci_atomic_dir_abort(fsci_atomic_dir **dp)
{
    if (!dp || !*dp) return;
    fsci_atomic_dir *d = *dp;
    if (d->tmp) {
        _Alignas(16) char buf[8192];
        rm_flat(d->tmp, buf, sizeof buf);
    }
    reg_remove(d->slot);
    for (int64_t i = 0; i < d->n; i++) fsci_free(d->names[i]);
    fsci_free(d->names);
    fsci_free(d->tmp);
    fsci_free(d->dir);
    fsci_free(d);
    *dp = NULL;
}
