/* Physical memory, free disk space and byte counts for up-front size checks. */
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fastsci/core/error.h"
#include "fastsci/core/sysinfo.h"

double fsci_sys_memory_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : 0;
}

double fsci_sys_available_bytes(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    double kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) break;
    if (f) fclose(f);
    if (kb >= 0) return kb * 1024.0;
    long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : fsci_sys_memory_bytes();
}

/* The folder that holds `path`. */
static void folder_of(const char *path, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, cap, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
}

double fsci_sys_free_bytes(const char *path)
{
    char dir[4096];
    struct statvfs fs;
    if (!path || strlen(path) >= sizeof dir) return -1;
    folder_of(path, dir, sizeof dir);
    if (statvfs(dir, &fs) != 0) return -1;
    return (double)fs.f_bavail * (double)fs.f_frsize;
}

void fsci_format_bytes(double b, char *buf, size_t cap)
{
    static const char *unit[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB"};
    int u = 0;
    while (b >= 1000 && u < 7) {
        b /= 1000;
        u++;
    }
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
}

int fsci_sys_check_memory(const char *what, double bytes)
{
    double have = fsci_sys_available_bytes(), total = fsci_sys_memory_bytes();
    if (have <= 0 || bytes <= have) return FSCI_OK;
    char a[32], b[32], c[32];
    fsci_format_bytes(bytes, a, sizeof a);
    fsci_format_bytes(have, b, sizeof b);
    fsci_format_bytes(total, c, sizeof c);
    return fsci_error_set(FSCI_ERANGE, __FILE__, __LINE__, __func__,
                          "%s needs about %s of memory but the machine has %s available (of %s)", what, a, b,
                          c);
}

int fsci_sys_check_disk(const char *what, const char *path, double bytes)
{
    double have = fsci_sys_free_bytes(path);
    if (have < 0 || bytes <= have) return FSCI_OK;
    char a[32], b[32], dir[4096];
    folder_of(path, dir, sizeof dir);
    fsci_format_bytes(bytes, a, sizeof a);
    fsci_format_bytes(have, b, sizeof b);
    return fsci_error_set(FSCI_ERANGE, __FILE__, __LINE__, __func__,
                          "%s: %s would need %s but %s has %s free", what, path, a, dir, b);
}
