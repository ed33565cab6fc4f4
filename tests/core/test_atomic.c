/* The atomic writer (files and directory sets) and the input checks: what
 * exists at the destination, file-size limits, interruption by signals,
 * failures leaving nothing behind, non-regular inputs refused at once. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/io/io_impl.h"
#include "fastsci/fastsci.h"
#include "fs_testutil.h"
#include "testkit.h"

#define ASSERT_MSG_HAS(s)                                                                                    \
    do {                                                                                                     \
        if (!strstr(fsci_error_message(), (s)))                                                              \
            TESTKIT_FAIL("message \"%s\" lacks \"%s\"", fsci_error_message(), (s));                          \
    } while (0)

static const char *root(void)
{
    return scratch_root("atomic");
}

static const char *fresh(const char *name)
{
    const char *d = pj(root(), name);
    rm_tree(d);
    mkdir(d, 0777);
    return d;
}

/* Entries of d (not . and ..); names containing `part` only when part != NULL. */
static int count(const char *d, const char *part)
{
    int n = 0;
    DIR *dp = opendir(d);
    if (!dp) return -1;
    struct dirent *de;
    while ((de = readdir(dp)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && (!part || strstr(de->d_name, part))) n++;
    closedir(dp);
    return n;
}

static int put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

static char *get_file(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static int write_text(const char *path, const char *text)
{
    int st = FSCI_OK;
    fsci_atomic *a = NULL;
    FSCI_TRY(fsci_atomic_open(path, FSCI_ATOMIC_DEFAULT, &a));
    FSCI_TRY(fsci_atomic_printf(a, "%s", text));
    st = fsci_atomic_commit(&a);
fail:
    fsci_atomic_abort(&a);
    return st;
}

TEST(commit_replaces_abort_leaves_nothing)
{
    const char *d = fresh("basic");
    const char *p = pj(d, "f.txt");
    ASSERT_OK(write_text(p, "one"));
    ASSERT_STREQ(get_file(p), "one");
    ASSERT_OK(write_text(p, "two"));
    ASSERT_STREQ(get_file(p), "two");
    fsci_atomic *a = NULL;
    ASSERT_OK(fsci_atomic_open(p, 0, &a));
    ASSERT_OK(fsci_atomic_write(a, "three", 5));
    ASSERT_TRUE(count(d, ".tmp") == 1);
    fsci_atomic_abort(&a);
    ASSERT_TRUE(a == NULL);
    fsci_atomic_abort(&a); /* NULL is fine */
    ASSERT_STREQ(get_file(p), "two");
    ASSERT_EQ(count(d, NULL), 1);
    /* permissions of a replaced file are kept */
    ASSERT_TRUE(chmod(p, 0640) == 0);
    ASSERT_OK(write_text(p, "four"));
    struct stat sb;
    ASSERT_TRUE(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0640);
}

TEST(dev_null_is_written_in_place_and_stays_a_device)
{
    int64_t shape[1] = {1000};
    fsci_array *x = NULL;
    ASSERT_OK(fsci_array_create(FSCI_F64, 1, shape, false, &x));
    ASSERT_OK(fsci_npy_write("/dev/null", &x->view));
    fsci_npz_writer *w = NULL;
    ASSERT_OK(fsci_npz_writer_create("/dev/null", true, &w));
    ASSERT_OK(fsci_npz_writer_add(w, "x", &x->view));
    ASSERT_OK(fsci_npz_writer_close(&w));
    ASSERT_OK(write_text("/dev/null", "text"));
    struct stat sb;
    ASSERT_TRUE(stat("/dev/null", &sb) == 0 && S_ISCHR(sb.st_mode));
    fsci_array_destroy(&x);
    /* REGULAR_ONLY refuses it instead */
    fsci_atomic *a = NULL;
    ASSERT_STATUS(fsci_atomic_open("/dev/null", FSCI_ATOMIC_REGULAR_ONLY, &a), FSCI_EINVAL);
    ASSERT_MSG_HAS("is a character device");
}

TEST(fifo_and_directory_destinations_are_refused_at_once)
{
    const char *d = fresh("fifo_out");
    const char *f = pj(d, "pipe");
    ASSERT_TRUE(mkfifo(f, 0666) == 0);
    fsci_atomic *a = NULL;
    ASSERT_STATUS(fsci_atomic_open(f, 0, &a), FSCI_EINVAL);
    ASSERT_MSG_HAS("pipe: is a FIFO: refusing to write to it");
    int64_t shape[1] = {3};
    fsci_array *x = NULL;
    ASSERT_OK(fsci_array_create(FSCI_F32, 1, shape, false, &x));
    ASSERT_STATUS(fsci_npy_write(f, &x->view), FSCI_EINVAL);
    ASSERT_STATUS(fsci_npy_write(d, &x->view), FSCI_EINVAL);
    ASSERT_MSG_HAS("is a directory");
    fsci_array_destroy(&x);
    struct stat sb;
    ASSERT_TRUE(lstat(f, &sb) == 0 && S_ISFIFO(sb.st_mode));
    ASSERT_EQ(count(d, NULL), 1);
}

TEST(non_regular_inputs_are_refused_without_blocking)
{
    const char *d = fresh("fifo_in");
    const char *f = pj(d, "in.npy");
    ASSERT_TRUE(mkfifo(f, 0666) == 0);
    fsci_array *a = NULL;
    fsci_npz *z = NULL;
    ASSERT_STATUS(fsci_npy_read(f, &a), FSCI_EIO);
    ASSERT_MSG_HAS("in.npy: is a FIFO, not a regular file");
    ASSERT_STATUS(fsci_npz_open(f, &z), FSCI_EIO);
    ASSERT_MSG_HAS("is a FIFO");
    uint8_t *rgb = NULL;
    int64_t w, h;
    ASSERT_STATUS(fsci_png_read_rgb(f, &rgb, &w, &h), FSCI_EIO);
    ASSERT_MSG_HAS("is a FIFO");
    ASSERT_STATUS(fsci_npy_read("/dev/null", &a), FSCI_EIO);
    ASSERT_MSG_HAS("/dev/null: is a character device, not a regular file");
    ASSERT_STATUS(fsci_npz_open(d, &z), FSCI_EIO);
    ASSERT_MSG_HAS("is a directory, not a regular file");
    ASSERT_STATUS(fsci_png_read_rgb("/dev/zero", &rgb, &w, &h), FSCI_EIO);
    ASSERT_MSG_HAS("is a character device");
}

TEST(symlink_destination_replaces_its_target)
{
    const char *d = fresh("symlink");
    ASSERT_TRUE(put_file(pj(d, "real.txt"), "old") == 0);
    ASSERT_TRUE(symlink("real.txt", pj(d, "link.txt")) == 0);
    ASSERT_OK(write_text(pj(d, "link.txt"), "new"));
    struct stat sb;
    ASSERT_TRUE(lstat(pj(d, "link.txt"), &sb) == 0 && S_ISLNK(sb.st_mode));
    ASSERT_STREQ(get_file(pj(d, "real.txt")), "new");
    ASSERT_EQ(count(d, NULL), 2);
}

/* In a child: SIGXFSZ at its default action (which would kill the process),
 * a 64 KiB file-size limit, a 1 MiB .npy over an existing file. */
static int efbig_child(const char *d)
{
    signal(SIGXFSZ, SIG_DFL);
    const char *p = pj(d, "big.npy");
    if (put_file(p, "previous") != 0) return 10;
    struct rlimit lim = {65536, 65536};
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0) return 11;
    int64_t shape[1] = {1 << 17};
    fsci_array *x = NULL;
    if (fsci_array_create(FSCI_F64, 1, shape, false, &x) != FSCI_OK) return 12;
    int st = fsci_npy_write(p, &x->view);
    fsci_array_destroy(&x);
    if (st != FSCI_EIO) return 13;
    if (!strstr(fsci_error_message(), "big.npy: cannot write: File too large")) {
        fprintf(stderr, "message: %s\n", fsci_error_message());
        return 14;
    }
    const char *now = get_file(p);
    if (!now || strcmp(now, "previous") != 0) return 15;
    if (count(d, NULL) != 1) return 16; /* no temporary file left */
    return 0;
}

TEST(file_size_limit_is_an_error_not_a_crash)
{
    const char *d = fresh("efbig");
    fflush(NULL);
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) _exit(efbig_child(d));
    int ws = 0;
    ASSERT_TRUE(waitpid(pid, &ws, 0) == pid);
    if (WIFSIGNALED(ws)) TESTKIT_FAIL("child killed by signal %d", WTERMSIG(ws));
    ASSERT_EQ(WEXITSTATUS(ws), 0);
}

/* In a child: handlers installed, a temporary file and a temporary
 * directory alive, then a signal. */
static void signal_child(const char *d, int sig)
{
    if (fsci_atomic_install_signal_cleanup() != FSCI_OK) _exit(20);
    fsci_atomic *a = NULL;
    fsci_atomic_dir *s = NULL;
    char *p = NULL;
    if (fsci_atomic_open(pj(d, "out.bin"), 0, &a) != FSCI_OK) _exit(21);
    if (fsci_atomic_write(a, "partial", 7) != FSCI_OK) _exit(22);
    if (fsci_atomic_dir_open(pj(d, "set"), 0, &s) != FSCI_OK) _exit(23);
    if (fsci_atomic_dir_file(s, "a.txt", &p) != FSCI_OK || put_file(p, "a") != 0) _exit(24);
    if (count(d, ".tmp") != 2) _exit(25);
    kill(getpid(), sig);
    _exit(26); /* not reached: the handler re-raises with the default action */
}

TEST(sigint_and_sigterm_remove_temporaries)
{
    int sigs[2] = {SIGINT, SIGTERM};
    for (int k = 0; k < 2; k++) {
        const char *d = fresh(k ? "sigterm" : "sigint");
        fflush(NULL);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) signal_child(d, sigs[k]);
        int ws = 0;
        ASSERT_TRUE(waitpid(pid, &ws, 0) == pid);
        if (!WIFSIGNALED(ws)) TESTKIT_FAIL("child exited with %d instead of dying", WEXITSTATUS(ws));
        ASSERT_EQ(WTERMSIG(ws), sigs[k]);
        ASSERT_EQ(count(d, NULL), 0);
    }
}

TEST(directory_set_appears_whole)
{
    const char *d = fresh("dirset");
    const char *out = pj(d, "run");
    fsci_atomic_dir *s = NULL;
    char *p = NULL;
    ASSERT_OK(fsci_atomic_dir_open(out, 0, &s));
    ASSERT_OK(fsci_atomic_dir_file(s, "a.txt", &p));
    ASSERT_TRUE(put_file(p, "A1") == 0);
    fsci_free(p);
    ASSERT_OK(fsci_atomic_dir_file(s, "b.txt", &p));
    ASSERT_TRUE(put_file(p, "B1") == 0);
    fsci_free(p);
    ASSERT_STATUS(fsci_atomic_dir_file(s, "a.txt", &p), FSCI_EINVAL);
    ASSERT_STATUS(fsci_atomic_dir_file(s, "../x", &p), FSCI_EINVAL);
    struct stat sb;
    ASSERT_TRUE(stat(out, &sb) != 0); /* nothing before commit */
    ASSERT_OK(fsci_atomic_dir_commit(&s));
    ASSERT_STREQ(get_file(pj(out, "a.txt")), "A1");
    ASSERT_STREQ(get_file(pj(out, "b.txt")), "B1");
    ASSERT_EQ(count(d, NULL), 1);

    /* existing directory: the set is replaced, a foreign file stays */
    ASSERT_TRUE(put_file(pj(out, "notes.txt"), "mine") == 0);
    ASSERT_OK(fsci_atomic_dir_open(out, 0, &s));
    ASSERT_OK(fsci_atomic_dir_file(s, "a.txt", &p));
    ASSERT_TRUE(put_file(p, "A2") == 0);
    fsci_free(p);
    ASSERT_OK(fsci_atomic_dir_file(s, "c.txt", &p));
    ASSERT_TRUE(put_file(p, "C2") == 0);
    fsci_free(p);
    ASSERT_OK(fsci_atomic_dir_commit(&s));
    ASSERT_STREQ(get_file(pj(out, "a.txt")), "A2");
    ASSERT_STREQ(get_file(pj(out, "b.txt")), "B1");
    ASSERT_STREQ(get_file(pj(out, "c.txt")), "C2");
    ASSERT_STREQ(get_file(pj(out, "notes.txt")), "mine");
    ASSERT_EQ(count(out, NULL), 4);
}

TEST(directory_set_failure_keeps_the_old_set)
{
    const char *d = fresh("dirfail");
    const char *out = pj(d, "run");
    ASSERT_TRUE(mkdir(out, 0777) == 0);
    ASSERT_TRUE(put_file(pj(out, "a.txt"), "old a") == 0);
    ASSERT_TRUE(mkdir(pj(out, "z.txt"), 0777) == 0); /* in the way of the last file */
    fsci_atomic_dir *s = NULL;
    char *p = NULL;
    /* a file requested but never written */
    ASSERT_OK(fsci_atomic_dir_open(out, 0, &s));
    ASSERT_OK(fsci_atomic_dir_file(s, "a.txt", &p));
    ASSERT_TRUE(put_file(p, "new a") == 0);
    fsci_free(p);
    ASSERT_OK(fsci_atomic_dir_file(s, "b.txt", &p));
    fsci_free(p);
    ASSERT_STATUS(fsci_atomic_dir_commit(&s), FSCI_EINVAL);
    ASSERT_MSG_HAS("'b.txt' of the set was not written");
    ASSERT_STREQ(get_file(pj(out, "a.txt")), "old a");
    ASSERT_EQ(count(out, NULL), 2);
    /* a swap that fails after another succeeded is undone */
    ASSERT_OK(fsci_atomic_dir_open(out, 0, &s));
    const char *names[3] = {"a.txt", "b.txt", "z.txt"};
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(fsci_atomic_dir_file(s, names[i], &p));
        ASSERT_TRUE(put_file(p, "new") == 0);
        fsci_free(p);
    }
    ASSERT_STATUS(fsci_atomic_dir_commit(&s), FSCI_EINVAL);
    ASSERT_MSG_HAS("z.txt: is a directory");
    ASSERT_STREQ(get_file(pj(out, "a.txt")), "old a");
    ASSERT_TRUE(access(pj(out, "b.txt"), F_OK) != 0);
    ASSERT_EQ(count(out, NULL), 2);
    /* abort: nothing */
    ASSERT_OK(fsci_atomic_dir_open(pj(d, "never"), 0, &s));
    fsci_atomic_dir_abort(&s);
    ASSERT_EQ(count(d, NULL), 1);
}

TEST(destination_directory_missing_is_one_line)
{
    fsci_atomic *a = NULL;
    const char *p = pj(root(), "no/such/dir/f.npy");
    ASSERT_STATUS(fsci_atomic_open(p, 0, &a), FSCI_EIO);
    ASSERT_MSG_HAS("f.npy: cannot create a temporary file next to it: No such file or directory");
    ASSERT_STATUS(fsci_atomic_open("", 0, &a), FSCI_EINVAL);
    ASSERT_STATUS(fsci_atomic_commit(NULL), FSCI_EINVAL);
}

TEST(zz_remove_scratch)
{
    rm_tree(root());
    ASSERT_TRUE(access(root(), F_OK) != 0);
}

TESTKIT_MAIN()
