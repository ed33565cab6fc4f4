/* PENDING(io helper): stand-ins until the atomic writer and directory sink land. */
#include <stdio.h>
#include "fastsci/fastsci.h"
#include "fastsci/core/atomic.h"
int fsci_atomic_write_file(const char *path, const void *data, size_t n)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    FSCI_CHECK(f, FSCI_EIO, "cannot write '%s'", path);
    size_t w = fwrite(data, 1, n, f);
    int bad = fclose(f) != 0 || w != n;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return fsci_error_set(FSCI_EIO, __FILE__, __LINE__, __func__, "cannot write '%s'", path);
    }
    return FSCI_OK;
}
void fsci_atomic_install_signal_cleanup(void) {}
int fsci_sink_dir_create(const char *dir, fsci_sink **out)
{
    (void)dir;
    *out = NULL;
    return fsci_error_set(FSCI_ENOTSUP, __FILE__, __LINE__, __func__, "pending");
}
int fsci_sink_add_text(fsci_sink *s, const char *name, const char *text)
{
    return fsci_sink_add_string(s, name, text);
}
