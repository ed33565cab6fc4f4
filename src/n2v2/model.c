/* n2v2 model files (.fsnn), version 1, little-endian:
 *   8 bytes   magic "FSNN\r\n\x1a\n"
 *   u32       version (FSCI__N2V2_FILE_VERSION), u32 0
 *   8 x i32   depth, width, kernel, residual, top_skip, bias, pool, up
 *   3 x f64   mean, std (the training data's normalisation), best validation loss
 *   2 x i64   optimiser steps, number of weights n
 *   n x f32   the weights in state_dict order (doc/n2v2.md §2)
 *   u32       CRC-32 (zlib) of every byte before it
 * Written through the atomic writer; read with every field checked. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/atomic.h"
#include "fastsci/core/error.h"
#include "n2v2/n2v2_impl.h"

static const unsigned char magic[8] = {'F', 'S', 'N', 'N', '\r', '\n', 0x1a, '\n'};

typedef struct {
    unsigned char magic[8];
    uint32_t version, zero;
    int32_t arch[8];
    double mean, std, best_val;
    int64_t steps, nw;
} header;

int fsci__n2v2_model_save(const fsci__n2v2_model *m, const char *path)
{
    int st = FSCI_OK;
    fsci_atomic *a = NULL;
    const fsci_n2v2_arch *ar = fsci_n2v2_net_arch(m->net);
    header hd = {.version = FSCI__N2V2_FILE_VERSION,
                 .arch = {ar->depth, ar->width, ar->kernel, ar->residual, ar->top_skip, ar->bias,
                          (int32_t)ar->pool, (int32_t)ar->up},
                 .mean = m->mean,
                 .std = m->std,
                 .best_val = m->best_val,
                 .steps = m->steps,
                 .nw = fsci_n2v2_net_nweights(m->net)};
    memcpy(hd.magic, magic, 8);
    const float *w = fsci_n2v2_net_weights(m->net);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, (const Bytef *)&hd, sizeof hd);
    crc = crc32_z(crc, (const Bytef *)w, (size_t)hd.nw * sizeof(float));
    const uint32_t c32 = (uint32_t)crc;
    FSCI_TRY(fsci_atomic_open(path, 0, &a));
    FSCI_TRY(fsci_atomic_write(a, &hd, sizeof hd));
    FSCI_TRY(fsci_atomic_write(a, w, (size_t)hd.nw * sizeof(float)));
    FSCI_TRY(fsci_atomic_write(a, &c32, sizeof c32));
    FSCI_TRY(fsci_atomic_commit(&a));
    return FSCI_OK;
fail:
    fsci_atomic_abort(&a);
    return st;
}

int fsci__n2v2_model_load(const char *path, fsci__n2v2_model *m)
{
    int st = FSCI_OK;
    FILE *f = NULL;
    memset(m, 0, sizeof *m);
    struct stat sb;
    FSCI_CHECK(path && path[0], FSCI_EINVAL, "n2v2: no model file given (--model)");
    FSCI_CHECK(stat(path, &sb) == 0, FSCI_EIO, "%s: cannot open the model file (no such file?)", path);
    FSCI_CHECK(S_ISREG(sb.st_mode), FSCI_EIO, "%s: not a regular file", path);
    header hd;
    FSCI_CHECK((size_t)sb.st_size >= sizeof hd + 4, FSCI_EFORMAT,
               "%s: %lld bytes, too short for a model file", path, (long long)sb.st_size);
    f = fopen(path, "rb");
    FSCI_CHECK(f, FSCI_EIO, "%s: cannot open", path);
    FSCI_CHECK_GOTO(fread(&hd, sizeof hd, 1, f) == 1, FSCI_EIO, "%s: cannot read the header", path);
    FSCI_CHECK_GOTO(memcmp(hd.magic, magic, 8) == 0, FSCI_EFORMAT, "%s: not a fastsci model file (magic)",
                    path);
    FSCI_CHECK_GOTO(hd.version == FSCI__N2V2_FILE_VERSION, FSCI_EFORMAT,
                    "%s: model file version %u, this fastsci reads version %d", path, hd.version,
                    FSCI__N2V2_FILE_VERSION);
    fsci_n2v2_arch a = {.depth = hd.arch[0],
                        .width = hd.arch[1],
                        .kernel = hd.arch[2],
                        .residual = hd.arch[3] != 0,
                        .top_skip = hd.arch[4] != 0,
                        .bias = hd.arch[5] != 0,
                        .pool = (fsci_n2v2_pool)hd.arch[6],
                        .up = (fsci_n2v2_up)hd.arch[7]};
    st = fsci_n2v2_arch_check(&a);
    FSCI_CHECK_GOTO(st == FSCI_OK, FSCI_EFORMAT, "%s: architecture field out of range (%s)", path,
                    fsci_error_message());
    FSCI_CHECK_GOTO(isfinite(hd.mean) && isfinite(hd.std) && hd.std > 0, FSCI_EFORMAT,
                    "%s: normalisation mean = %g, std = %g", path, hd.mean, hd.std);
    FSCI_TRY(fsci_n2v2_net_create(&a, 0, &m->net));
    const int64_t nw = fsci_n2v2_net_nweights(m->net);
    FSCI_CHECK_GOTO(hd.nw == nw && (int64_t)sb.st_size == (int64_t)sizeof hd + 4 * nw + 4, FSCI_EFORMAT,
                    "%s: %lld weights in %lld bytes, the architecture has %lld weights", path,
                    (long long)hd.nw, (long long)sb.st_size, (long long)nw);
    float *w = fsci_n2v2_net_weights(m->net);
    uint32_t c32 = 0;
    FSCI_CHECK_GOTO(fread(w, sizeof(float), (size_t)nw, f) == (size_t)nw && fread(&c32, 4, 1, f) == 1,
                    FSCI_EIO, "%s: short read", path);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, (const Bytef *)&hd, sizeof hd);
    crc = crc32_z(crc, (const Bytef *)w, (size_t)nw * sizeof(float));
    FSCI_CHECK_GOTO((uint32_t)crc == c32, FSCI_EFORMAT, "%s: checksum mismatch (corrupt model file)", path);
    for (int64_t i = 0; i < nw; i++)
        FSCI_CHECK_GOTO(isfinite(w[i]), FSCI_EFORMAT, "%s: weight %lld is %g", path, (long long)i,
                        (double)w[i]);
    m->mean = hd.mean;
    m->std = hd.std;
    m->best_val = hd.best_val;
    m->steps = hd.steps;
    fclose(f);
    return FSCI_OK;
fail:
    if (f) fclose(f);
    fsci__n2v2_model_free(m);
    return st;
}

void fsci__n2v2_model_free(fsci__n2v2_model *m)
{
    fsci_n2v2_net_destroy(&m->net);
}
