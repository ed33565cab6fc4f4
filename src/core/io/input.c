/* Opening input files: never block on a FIFO or a device, refuse anything
 * that is not a regular file with one line saying what it is. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/io/io_impl.h"

const char *fsci__errstr(int err, char *buf, size_t cap)
{
    if (strerror_r(err, buf, cap) != 0) snprintf(buf, cap, "error %d", err);
    return buf;
}

const char *fsci__file_kind(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFIFO: return "a FIFO";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFSOCK: return "a socket";
    case S_IFLNK: return "a symbolic link";
    default: return "not a regular file";
    }
}

int fsci__input_open(const char *path, int *fd_out, uint64_t *size)
{
    int st = FSCI_OK;
    int fd = -1;
    char eb[128];
    *fd_out = -1;
    *size = 0;
    FSCI_CHECK(path && path[0], FSCI_EINVAL, "input: NULL or empty path");
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
     * writer; a device could wait too. Cleared again for a regular file. */
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    } while (fd < 0 && errno == EINTR);
    FSCI_CHECK_GOTO(fd >= 0, FSCI_EIO, "%s: cannot open: %s", path, fsci__errstr(errno, eb, sizeof eb));
    struct stat sb;
    FSCI_CHECK_GOTO(fstat(fd, &sb) == 0, FSCI_EIO, "%s: cannot stat: %s", path,
                    fsci__errstr(errno, eb, sizeof eb));
    FSCI_CHECK_GOTO(S_ISREG(sb.st_mode), FSCI_EIO, "%s: is %s, not a regular file", path,
                    fsci__file_kind((unsigned)sb.st_mode));
    int fl = fcntl(fd, F_GETFL);
    FSCI_CHECK_GOTO(fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0, FSCI_EIO, "%s: fcntl: %s", path,
                    fsci__errstr(errno, eb, sizeof eb));
    *fd_out = fd;
    *size = (uint64_t)sb.st_size;
    return FSCI_OK;
fail:
    if (fd >= 0) close(fd);
    return st;
}
