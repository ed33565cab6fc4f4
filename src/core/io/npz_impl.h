/* fastsci private: ZIP record layout shared by npz_read.c and npz_write.c.
 * Not installed. */
#ifndef FASTSCI_CORE_IO_NPZ_IMPL_H
#define FASTSCI_CORE_IO_NPZ_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum {
    LOCAL_SIG = 0x04034b50,
    CENTRAL_SIG = 0x02014b50,
    EOCD_SIG = 0x06054b50,
    ZIP64_EOCD_SIG = 0x06064b50,
    ZIP64_LOC_SIG = 0x07064b50,
    LOCAL_LEN = 30,
    CENTRAL_LEN = 46,
    EOCD_LEN = 22,
    ZIP64_EOCD_LEN = 56,
    ZIP64_LOC_LEN = 20,
    MAX_COMMENT = 65535,
    ZBUF = 1 << 16,
};

/* Deflate cannot expand more than 1032:1 (a 258-byte match coded in 2 bits;
 * zlib FAQ, "What's the maximum compression ratio?"). A member declaring more
 * is corrupt or a compression bomb. */
#define DEFLATE_MAX_RATIO 1032u

static inline uint16_t fsci__rd16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t fsci__rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t fsci__rd64(const unsigned char *p)
{
    return fsci__rd32(p) | (uint64_t)fsci__rd32(p + 4) << 32;
}
static inline unsigned char *fsci__wr16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)(v >> 8 & 0xff);
    return p + 2;
}
static inline unsigned char *fsci__wr32(unsigned char *p, uint32_t v)
{
    for (int k = 0; k < 4; k++) p[k] = (unsigned char)(v >> (8 * k) & 0xff);
    return p + 4;
}
static inline unsigned char *fsci__wr64(unsigned char *p, uint64_t v)
{
    for (int k = 0; k < 8; k++) p[k] = (unsigned char)(v >> (8 * k) & 0xff);
    return p + 8;
}
static inline bool fsci__ends_with_npy(const char *s, size_t n)
{
    return n >= 4 && memcmp(s + n - 4, ".npy", 4) == 0;
}

/* Short names for the byte-order helpers of npy_impl.h inside the npz reader and writer. */
#define rd16 fsci__rd16
#define rd32 fsci__rd32
#define rd64 fsci__rd64
#define wr16 fsci__wr16
#define wr32 fsci__wr32
#define wr64 fsci__wr64
#define ends_with_npy fsci__ends_with_npy

#endif
