/* .npz archives: numpy-written archives read exactly, the streaming writer,
 * corruption and truncation of every kind, zip64 records, the crc32 against
 * zlib, duplicate members, conversions on read. The round trips with numpy
 * of both formats are in test_npy.c. */
#include <zlib.h>

#include "npy_testutil.h"

/* ---- numpy -> C ----------------------------------------------------------------- */

/* Read every member of a numpy-written archive; FSCI_OK only if all values
 * are exact, 999 if a read "succeeded" with wrong content. */
static int verify_numpy_npz(fsci_npz *z, bool big)
{
    static const int64_t sa[2] = {3, 4}, sb[3] = {2, 3, 4}, sc[1] = {7}, sz[2] = {2, 0};
    static const struct {
        const char *name;
        fsci_dtype t;
        int ndim;
        const int64_t *shape;
        int order;
    } m[] = {{"a", FSCI_F64, 2, sa, 0},
             {"b", FSCI_I32, 3, sb, 1},
             {"c", FSCI_U8, 1, sc, 0},
             {"s", FSCI_F32, 0, NULL, 0},
             {"z", FSCI_C128, 2, sz, 0}};
    for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
        fsci_array *a = NULL;
        int st = fsci_npz_read(z, m[k].name, &a);
        if (st < 0) return st;
        bool ok = check_values(&a->view, m[k].t, m[k].ndim, m[k].shape, m[k].order, m[k].name);
        fsci_array_destroy(&a);
        if (!ok) return 999;
    }
    const char *sn[2] = {"_metadata", "meta_be"};
    for (int k = 0; k < 2; k++) {
        char *s = NULL;
        int st = fsci_npz_read_string(z, sn[k], &s);
        if (st < 0) return st;
        bool ok = strcmp(s, META_JSON) == 0;
        fsci_free(s);
        if (!ok) return 999;
    }
    if (big) {
        fsci_array *a = NULL;
        int st = fsci_npz_read(z, "big", &a);
        if (st < 0) return st;
        const double *p = a->view.data;
        bool ok = a->view.dtype == FSCI_F64 && a->view.ndim == 1 && a->view.shape[0] == 200000;
        for (int64_t i = 0; ok && i < 200000; i++) ok = p[i] == (i % 1000 == 0 ? 1.5 : 0.0);
        fsci_array_destroy(&a);
        if (!ok) return 999;
    }
    return FSCI_OK;
}

TEST(numpy_npz_archives_read_exactly)
{
    const char *d = py_dir();
    ASSERT_TRUE(d != NULL);
    const char *files[4] = {"plain.npz", "compressed.npz", "zip64.npz", "zip64c.npz"};
    for (int k = 0; k < 4; k++) {
        fsci_npz *z = NULL;
        ASSERT_OK(fsci_npz_open(pj(d, files[k]), &z));
        ASSERT_EQ(fsci_npz_count(z), k == 1 ? 8 : 7);
        ASSERT_STREQ(fsci_npz_name(z, 0), "a");
        ASSERT_STREQ(fsci_npz_name(z, 5), "_metadata");
        ASSERT_TRUE(fsci_npz_name(z, 99) == NULL && fsci_npz_name(z, -1) == NULL);
        ASSERT_TRUE(fsci_npz_has(z, "b") && fsci_npz_has(z, "b.npy") && !fsci_npz_has(z, "q"));
        ASSERT_OK(verify_numpy_npz(z, k == 1));
        fsci_dtype t;
        int nd;
        int64_t sh[FSCI_MAX_NDIM];
        ASSERT_OK(fsci_npz_peek(z, "b", &t, &nd, sh));
        ASSERT_TRUE(t == FSCI_I32 && nd == 3 && sh[0] == 2 && sh[1] == 3 && sh[2] == 4 && sh[3] == 0);
        /* Wrong kind of member either way round. */
        fsci_array *a = NULL;
        char *s = NULL;
        ASSERT_STATUS(fsci_npz_read(z, "_metadata", &a), FSCI_ENOTSUP);
        ASSERT_MSG("'<U");
        ASSERT_STATUS(fsci_npz_read_string(z, "a", &s), FSCI_EINVAL);
        ASSERT_MSG("'<f8'");
        ASSERT_TRUE(a == NULL && s == NULL);
        fsci_npz_close(&z);
        ASSERT_TRUE(z == NULL);
    }
    fsci_npz_close(NULL);
}

TEST(missing_member_lists_the_members)
{
    const char *d = fresh_dir("missing_member");
    fsci_npz_writer *w = NULL;
    int64_t s1[1] = {2};
    fsci_array *x = make_array(FSCI_F32, 1, s1, false);
    ASSERT_OK(fsci_npz_writer_create(pj(d, "f.npz"), false, &w));
    ASSERT_OK(fsci_npz_writer_add(w, "a", &x->view));
    ASSERT_OK(fsci_npz_writer_add(w, "b", &x->view));
    ASSERT_OK(fsci_npz_writer_close(&w));
    fsci_array_destroy(&x);
    size_t len;
    unsigned char *buf = slurp(pj(d, "f.npz"), &len);
    fsci_npz *z = NULL;
    ASSERT_OK(fsci_npz_open_mem(buf, len, "f.npz", &z));
    fsci_array *a = NULL;
    ASSERT_STATUS(fsci_npz_read(z, "x", &a), FSCI_EINVAL);
    ASSERT_STREQ(fsci_error_message(), "f.npz: no member 'x' (members: a, b)");
    fsci_npz_close(&z);
    free(buf);
}

/* ---- streaming writer --------------------------------------------------------------- */

TEST(streaming_writer_enforces_declared_size)
{
    const char *d = fresh_dir("stream_size");
    int64_t shape[2] = {10, 10};
    double buf[200] = {0};
    for (int over = 0; over < 2; over++) {
        fsci_npz_writer *w = NULL;
        ASSERT_OK(fsci_npz_writer_create(pj(d, "s.npz"), over, &w));
        ASSERT_OK(fsci_npz_writer_begin(w, "x", FSCI_F64, 2, shape));
        /* Another member cannot start while this one is open. */
        ASSERT_STATUS(fsci_npz_writer_add_string(w, "y", "z"), FSCI_EINVAL);
        ASSERT_OK(fsci_npz_writer_write(w, buf, 500));
        if (over) {
            ASSERT_STATUS(fsci_npz_writer_write(w, buf, 301), FSCI_EINVAL);
            ASSERT_MSG("exceed the declared 928");
        } else {
            ASSERT_STATUS(fsci_npz_writer_end(w), FSCI_EINVAL);
            ASSERT_MSG("only 628 of the declared 928 bytes");
        }
        ASSERT_TRUE(fsci_npz_writer_close(&w) < 0);
        ASSERT_TRUE(w == NULL);
        ASSERT_EQ(count_entries(d), 0);
    }
    /* Begun, never ended: close fails and leaves nothing. */
    fsci_npz_writer *w = NULL;
    ASSERT_OK(fsci_npz_writer_create(pj(d, "s.npz"), false, &w));
    ASSERT_OK(fsci_npz_writer_begin(w, "x", FSCI_F64, 2, shape));
    ASSERT_OK(fsci_npz_writer_write(w, buf, 800));
    ASSERT_STATUS(fsci_npz_writer_close(&w), FSCI_EINVAL);
    ASSERT_MSG("never ended");
    ASSERT_EQ(count_entries(d), 0);
    /* Misuse that does not poison: bad names, write without begin. */
    ASSERT_OK(fsci_npz_writer_create(pj(d, "s.npz"), false, &w));
    ASSERT_STATUS(fsci_npz_writer_write(w, buf, 8), FSCI_EINVAL);
    ASSERT_STATUS(fsci_npz_writer_begin(w, "", FSCI_F64, 2, shape), FSCI_EINVAL);
    ASSERT_STATUS(fsci_npz_writer_begin(w, "a/b", FSCI_F64, 2, shape), FSCI_EINVAL);
    ASSERT_STATUS(fsci_npz_writer_begin(w, "x", (fsci_dtype)42, 2, shape), FSCI_EINVAL);
    int64_t neg[1] = {-1};
    ASSERT_STATUS(fsci_npz_writer_begin(w, "x", FSCI_F64, 1, neg), FSCI_EINVAL);
    ASSERT_STATUS(fsci_npz_writer_add_string(w, "bad", "\xc3\x28"), FSCI_EINVAL);
    ASSERT_MSG("not valid UTF-8");
    ASSERT_STATUS(fsci_npz_writer_add_string(w, "surrogate", "\xed\xa0\x80"), FSCI_EINVAL);
    ASSERT_OK(fsci_npz_writer_add_string(w, "x", "ok"));
    ASSERT_STATUS(fsci_npz_writer_add_string(w, "x", "dup"), FSCI_EINVAL);
    ASSERT_MSG("duplicate");
    ASSERT_OK(fsci_npz_writer_close(&w));
    fsci_npz *z = NULL;
    ASSERT_OK(fsci_npz_open(pj(d, "s.npz"), &z));
    ASSERT_EQ(fsci_npz_count(z), 1);
    fsci_npz_close(&z);
}

/* ---- corruption ---------------------------------------------------------------------------- */

/* Open and read every member; first failure, or FSCI_OK. */
static int npz_mem_status(const unsigned char *b, size_t n, const char *name)
{
    fsci_npz *z = NULL;
    int st = fsci_npz_open_mem(b, n, name, &z);
    for (int64_t i = 0; st == FSCI_OK && i < fsci_npz_count(z); i++) {
        fsci_array *a = NULL;
        char *s = NULL;
        st = fsci_npz_read(z, fsci_npz_name(z, i), &a);
        if (st == FSCI_ENOTSUP && msg_has("a unicode string"))
            st = fsci_npz_read_string(z, fsci_npz_name(z, i), &s);
        fsci_array_destroy(&a);
        fsci_free(s);
    }
    fsci_npz_close(&z);
    return st;
}

TEST(npz_truncated_at_every_length_is_eformat)
{
    const char *d = py_dir(), *cd = c_dir();
    ASSERT_TRUE(d != NULL && cd != NULL);
    const char *files[4] = {pj(d, "plain.npz"), pj(d, "zip64c.npz"), pj(cd, "c_zip64.npz"),
                            pj(cd, "c_deflated.npz")};
    for (int k = 0; k < 4; k++) {
        size_t len;
        unsigned char *b = slurp(files[k], &len);
        ASSERT_TRUE(b != NULL);
        ASSERT_OK(npz_mem_status(b, len, "t.npz"));
        for (size_t n = 0; n < len; n++) {
            unsigned char *t = malloc(n + 1);
            memcpy(t, b, n);
            int st = npz_mem_status(t, n, "t.npz");
            free(t);
            if (st != FSCI_EFORMAT || !msg_has("t.npz: "))
                TESTKIT_FAIL("%s cut to %zu bytes: status %d, message \"%s\"", files[k], n, st,
                             fsci_error_message());
        }
        free(b);
    }
}

TEST(npz_byte_flips_never_give_wrong_data)
{
    /* Any single damaged byte is either harmless (the values still come out
     * exact) or reported; CRC-32 covers the member bytes. */
    const char *d = py_dir();
    ASSERT_TRUE(d != NULL);
    const char *files[2] = {"plain.npz", "zip64c.npz"};
    static const unsigned char masks[3] = {0x01, 0x40, 0xFF};
    for (int k = 0; k < 2; k++) {
        size_t len;
        unsigned char *b = slurp(pj(d, files[k]), &len);
        ASSERT_TRUE(b != NULL);
        int caught = 0;
        for (size_t i = 0; i < len; i++)
            for (int m = 0; m < 3; m++) {
                b[i] ^= masks[m];
                fsci_npz *z = NULL;
                int st = fsci_npz_open_mem(b, len, files[k], &z);
                if (st == FSCI_OK) st = verify_numpy_npz(z, false);
                fsci_npz_close(&z);
                b[i] ^= masks[m];
                if (st == FSCI_OK) continue;
                caught++;
                if (st == 999)
                    TESTKIT_FAIL("%s byte %zu ^ 0x%02x: wrong data read as valid", files[k], i, masks[m]);
                if (st != FSCI_EFORMAT && st != FSCI_ENOTSUP && st != FSCI_EINVAL)
                    TESTKIT_FAIL("%s byte %zu: status %d (%s)", files[k], i, st, fsci_error_message());
                if (!msg_has(files[k])) TESTKIT_FAIL("message without file name: %s", fsci_error_message());
            }
        ASSERT_TRUE(caught > (int)len * 2);
        free(b);
    }
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void put32(unsigned char *p, uint32_t v)
{
    for (int k = 0; k < 4; k++) p[k] = (unsigned char)(v >> (8 * k));
}

/* Reopen the archive in buf and read member "diff3d". */
static int read_member(fsci_npz **z, const unsigned char *buf, size_t n, const char *name, fsci_array **a)
{
    fsci_npz_close(z);
    int st = fsci_npz_open_mem(buf, n, name, z);
    return st < 0 ? st : fsci_npz_read(*z, "diff3d", a);
}

static const unsigned char *find_bytes(const unsigned char *b, size_t n, const char *pat, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(b + i, pat, m) == 0) return b + i;
    return NULL;
}

TEST(npz_targeted_corruptions)
{
    const char *d = fresh_dir("npz_corrupt");
    int64_t s[3] = {2, 64, 64}, s5[1] = {5};
    fsci_array *x = make_array(FSCI_F32, 3, s, false), *y = make_array(FSCI_I32, 1, s5, false);
    for (int compress = 0; compress < 2; compress++) {
        const char *path = pj(d, compress ? "z.npz" : "data.npz");
        fsci_npz_writer *w = NULL;
        ASSERT_OK(fsci_npz_writer_create(path, compress, &w));
        ASSERT_OK(fsci_npz_writer_add(w, "diff3d", &x->view));
        ASSERT_OK(fsci_npz_writer_add(w, "y", &y->view));
        ASSERT_OK(fsci_npz_writer_close(&w));
    }
    size_t len, zlen;
    unsigned char *orig = slurp(pj(d, "data.npz"), &len), *zorig = slurp(pj(d, "z.npz"), &zlen);
    unsigned char *b = malloc(len), *zb = malloc(zlen);
    ASSERT_TRUE(orig && zorig && b && zb);
    uint32_t cd = le32(orig + len - 22 + 16); /* first directory entry: diff3d.npy */
    fsci_npz *z = NULL;
    fsci_array *a = NULL;
#define RESET() memcpy(b, orig, len)
#define READ_X(buf, n, name) read_member(&z, (buf), (n), (name), &a)

    /* The shape in the member's header promises more than the member holds
     * (the CRC is checked only after the data, so the size check speaks). */
    RESET();
    const unsigned char *h = find_bytes(b, len, "(2, 64, 64), }   ", 17);
    ASSERT_TRUE(h != NULL);
    memcpy(b + (h - b), "(5000, 64, 64), }", 17);
    ASSERT_STATUS(READ_X(b, len, "data.npz"), FSCI_EFORMAT);
    ASSERT_STREQ(fsci_error_message(), "data.npz: member 'diff3d.npy': header declares shape "
                                       "(5000, 64, 64) float32 = 81920000 bytes but only 32768 remain");
    /* CRC: this member fails, the other still reads (members are independent). */
    RESET();
    b[cd + 16] ^= 1;
    ASSERT_STATUS(READ_X(b, len, "data.npz"), FSCI_EFORMAT);
    ASSERT_MSG("CRC-32 mismatch");
    ASSERT_OK(fsci_npz_read(z, "y", &a));
    ASSERT_TRUE(check_values(&a->view, FSCI_I32, 1, s5, 0, "y"));
    fsci_array_destroy(&a);
    RESET();
    b[200] ^= 0x10; /* a data byte */
    ASSERT_STATUS(READ_X(b, len, "data.npz"), FSCI_EFORMAT);
    ASSERT_MSG("data.npz: member 'diff3d.npy': CRC-32 mismatch");
    /* Directory fields. */
    RESET();
    put32(b + cd + 42, 0x7FFFFFFF);
    ASSERT_STATUS(READ_X(b, len, "data.npz"), FSCI_EFORMAT);
    ASSERT_MSG("local header offset 2147483647 is beyond");
    RESET();
    put32(b + cd + 20, 0x10000000);
    put32(b + cd + 24, 0x10000000);
    ASSERT_STATUS(READ_X(b, len, "data.npz"), FSCI_EFORMAT);
    ASSERT_MSG("runs past the member area");
    RESET();
    put32(b + cd + 24, le32(b + cd + 24) + 1);
    ASSERT_STATUS(READ_X(b, len, "data.npz"), FSCI_EFORMAT);
    ASSERT_MSG("stored member with compressed size");
    RESET();
    b[cd + 10] = 12;
    ASSERT_STATUS(READ_X(b, len, "data.npz"), FSCI_ENOTSUP);
    ASSERT_MSG("compression method 12");
    RESET();
    b[cd + 8] |= 1;
    ASSERT_STATUS(READ_X(b, len, "data.npz"), FSCI_ENOTSUP);
    ASSERT_MSG("encrypted");
    RESET();
    b[0] = 'Q';
    ASSERT_STATUS(READ_X(b, len, "data.npz"), FSCI_EFORMAT);
    ASSERT_MSG("bad local header signature");
    RESET();
    b[30] = 'D';
    ASSERT_STATUS(READ_X(b, len, "data.npz"), FSCI_EFORMAT);
    ASSERT_MSG("file name differs");
    RESET();
    b[cd] = 'Q';
    ASSERT_STATUS(READ_X(b, len, "data.npz"), FSCI_EFORMAT);
    ASSERT_MSG("entry 0 has a bad signature");
    RESET();
    put32(b + len - 22 + 16, cd + 1);
    ASSERT_STATUS(READ_X(b, len, "data.npz"), FSCI_EFORMAT);
    RESET();
    put32(b + len - 22 + 12, 0x7FFFFFF0);
    ASSERT_STATUS(READ_X(b, len, "data.npz"), FSCI_EFORMAT);
    ASSERT_MSG("runs past its end record");
    RESET();
    b[len - 22 + 10] = 0xF0;
    ASSERT_STATUS(READ_X(b, len, "data.npz"), FSCI_EFORMAT);
    ASSERT_MSG("cannot hold");
    RESET();
    b[len - 22 + 6] = 1;
    ASSERT_STATUS(READ_X(b, len, "data.npz"), FSCI_ENOTSUP);
    ASSERT_MSG("multi-disk");
    RESET();
    b[len - 1] = 9; /* comment length pointing past the end */
    ASSERT_STATUS(READ_X(b, len, "data.npz"), FSCI_EFORMAT);
    ASSERT_MSG("no end-of-central-directory");

    /* Deflated: declared size vs the stream, and the compression-bomb guard. */
    uint32_t zcd = le32(zorig + zlen - 22 + 16);
    uint32_t usize = le32(zorig + zcd + 24), csize = le32(zorig + zcd + 20);
    memcpy(zb, zorig, zlen);
    ASSERT_OK(READ_X(zb, zlen, "z.npz"));
    ASSERT_TRUE(check_values(&a->view, FSCI_F32, 3, s, 0, "z"));
    fsci_array_destroy(&a);
    put32(zb + zcd + 24, usize + 8);
    ASSERT_STATUS(READ_X(zb, zlen, "z.npz"), FSCI_EFORMAT);
    ASSERT_MSG("deflate stream ends after");
    put32(zb + zcd + 24, usize - 8);
    ASSERT_STATUS(READ_X(zb, zlen, "z.npz"), FSCI_EFORMAT);
    ASSERT_MSG("but only 32760 remain");
    put32(zb + zcd + 24, csize * 1032 + 1025);
    ASSERT_STATUS(READ_X(zb, zlen, "z.npz"), FSCI_EFORMAT);
    ASSERT_MSG("compression bomb");
    put32(zb + zcd + 24, usize);
    for (uint32_t off = 40 + 200; off < csize; off += 97) { /* damage inside the stream */
        zb[off] ^= 0x55;
        ASSERT_STATUS(READ_X(zb, zlen, "z.npz"), FSCI_EFORMAT);
        ASSERT_MSG("z.npz: member 'diff3d.npy': ");
        zb[off] ^= 0x55;
    }
    fsci_npz_close(&z);
    ASSERT_TRUE(a == NULL);
#undef RESET
#undef READ_X
    free(b);
    free(zb);
    free(orig);
    free(zorig);
    fsci_array_destroy(&x);
    fsci_array_destroy(&y);
}

TEST(npz_empty_archive_and_garbage)
{
    const char *d = fresh_dir("npz_empty");
    fsci_npz_writer *w = NULL;
    ASSERT_OK(fsci_npz_writer_create(pj(d, "e.npz"), false, &w));
    ASSERT_OK(fsci_npz_writer_close(&w));
    fsci_npz *z = NULL;
    ASSERT_OK(fsci_npz_open(pj(d, "e.npz"), &z));
    ASSERT_EQ(fsci_npz_count(z), 0);
    fsci_array *a = NULL;
    ASSERT_STATUS(fsci_npz_read(z, "x", &a), FSCI_EINVAL);
    ASSERT_MSG("(members: none)");
    fsci_npz_close(&z);
    static const char junk[] = "this is not a zip archive at all, just some text.";
    ASSERT_STATUS(fsci_npz_open_mem(junk, sizeof junk, "junk.npz", &z), FSCI_EFORMAT);
    ASSERT_MSG("junk.npz: not a zip archive");
    ASSERT_STATUS(fsci_npz_open_mem(junk, 5, NULL, &z), FSCI_EFORMAT);
    ASSERT_MSG("<memory>: ");
    ASSERT_STATUS(fsci_npy_read_mem(junk, sizeof junk, "junk.npy", &a), FSCI_EFORMAT);
    ASSERT_MSG("junk.npy: not a .npy file");
}

/* ---- zip64 and crc32 ------------------------------------------------------------------------ */

TEST(zip64_records_round_trip_in_c)
{
    /* With the limit at 300 the archive mixes entries with and without zip64
     * fields (the first member sits at offset 0, the small strings have small
     * sizes) and needs the zip64 end records. */
    const char *d = fresh_dir("zip64_mixed");
    fsci__npz_set_zip64_limit(300);
    int st = write_npz(pj(d, "m.npz"), false);
    fsci__npz_set_zip64_limit(0xFFFFFFFFu);
    ASSERT_OK(st);
    fsci_npz *z = NULL;
    ASSERT_OK(fsci_npz_open(pj(d, "m.npz"), &z));
    ASSERT_TRUE(verify_all_members(z, "zip64 mixed"));
    fsci_npz_close(&z);
    size_t len;
    unsigned char *b = slurp(pj(d, "m.npz"), &len);
    ASSERT_TRUE(b && find_bytes(b, len, "PK\x06\x06", 4) && find_bytes(b, len, "PK\x06\x07", 4));
    /* EOCD holds the 0xFFFFFFFF sentinels; the real values are in the zip64 record. */
    ASSERT_EQ_U64(le32(b + len - 22 + 16), 0xFFFFFFFFu);
    free(b);
}

TEST(crc32_equals_zlib_for_every_length_and_alignment)
{
    /* the folding path starts at 256 bytes and leaves a tail of up to 63 for
     * zlib: every length to 1100 at all 16 alignments, continuation from a
     * previous value, then a few large sizes; an error in a fold constant or
     * in the handling of the initial value changes every CRC above 256 */
    enum { LEN = 1100, BIG = (3 << 20) + 77 };
    unsigned char *b = malloc(BIG + 16);
    ASSERT_TRUE(b != NULL);
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < BIG + 16; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        b[i] = (unsigned char)x;
    }
    int bad = 0;
    for (size_t off = 0; off < 16; off++)
        for (size_t n = 0; n <= LEN; n++) {
            uint32_t want = (uint32_t)crc32(0L, b + off, (uInt)n);
            bad += fsci__crc32(0, b + off, n) != want;
            /* split in two calls: the second continues from the first's value */
            uint32_t half = fsci__crc32(0, b + off, n / 3);
            bad += fsci__crc32(half, b + off + n / 3, n - n / 3) != want;
        }
    ASSERT_EQ(bad, 0);
    const size_t sizes[] = {4096, 65536 + 13, (1u << 20) - 1, BIG};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        ASSERT_EQ_U64(fsci__crc32(0x12345678u, b + 3, sizes[k]), crc32(0x12345678uL, b + 3, (uInt)sizes[k]));
    /* all-zero and all-one data (the initial value matters most there) */
    memset(b, 0, 4096);
    ASSERT_EQ_U64(fsci__crc32(0, b, 4096), crc32(0L, b, 4096));
    memset(b, 0xff, 4096);
    ASSERT_EQ_U64(fsci__crc32(0, b, 4096), crc32(0L, b, 4096));
    free(b);
}

TEST(npz_duplicate_member_names_are_refused)
{
    const char *d = fresh_dir("npz_dup");
    int64_t s3[1] = {3};
    fsci_array *x = make_array(FSCI_F64, 1, s3, false);
    const char *path = pj(d, "dup.npz");
    fsci_npz_writer *w = NULL;
    ASSERT_OK(fsci_npz_writer_create(path, false, &w));
    ASSERT_OK(fsci_npz_writer_add(w, "aa", &x->view));
    ASSERT_OK(fsci_npz_writer_add(w, "bb", &x->view));
    ASSERT_STATUS(fsci_npz_writer_add(w, "aa", &x->view), FSCI_EINVAL); /* the writer refuses too */
    ASSERT_STATUS(fsci_npz_writer_add(w, "", &x->view), FSCI_EINVAL);
    ASSERT_OK(fsci_npz_writer_close(&w));
    size_t len;
    unsigned char *b = slurp(path, &len);
    ASSERT_TRUE(b != NULL);
    /* rename member bb to aa in the local header and the directory */
    for (size_t i = 0; i + 6 <= len; i++)
        if (memcmp(b + i, "bb.npy", 6) == 0) memcpy(b + i, "aa.npy", 6);
    fsci_npz *z = NULL;
    ASSERT_STATUS(fsci_npz_open_mem(b, len, "dup.npz", &z), FSCI_EFORMAT);
    ASSERT_STREQ(fsci_error_message(),
                 "dup.npz: member 'aa.npy': duplicate member name (also stored as 'aa.npy'): the archive is "
                 "ambiguous");
    free(b);
    fsci_array_destroy(&x);
}

TEST(read_as_converts_or_names_file_and_member)
{
    const char *d = fresh_dir("read_as");
    int64_t s3[1] = {3};
    fsci_array *f = make_array(FSCI_F32, 1, s3, false), *c = make_array(FSCI_C64, 1, s3, false);
    fsci_array *u = make_array(FSCI_U16, 1, s3, false);
    const char *path = pj(d, "m.npz");
    fsci_npz_writer *w = NULL;
    ASSERT_OK(fsci_npz_writer_create(path, true, &w));
    ASSERT_OK(fsci_npz_writer_add(w, "f", &f->view));
    ASSERT_OK(fsci_npz_writer_add(w, "c", &c->view));
    ASSERT_OK(fsci_npz_writer_add(w, "u", &u->view));
    ASSERT_OK(fsci_npz_writer_close(&w));
    fsci_npz *z = NULL;
    fsci_array *a = NULL;
    ASSERT_OK(fsci_npz_open(path, &z));
    ASSERT_OK(fsci_npz_read_as(z, "f", FSCI_F64, &a));
    ASSERT_EQ((int)a->view.dtype, (int)FSCI_F64);
    for (int i = 0; i < 3; i++) ASSERT_EQ(((double *)a->view.data)[i], (double)((float *)f->view.data)[i]);
    fsci_array_destroy(&a);
    ASSERT_OK(fsci_npz_read_as(z, "u", FSCI_C128, &a));
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(((double *)a->view.data)[2 * i], (double)((uint16_t *)u->view.data)[i]);
        ASSERT_EQ(((double *)a->view.data)[2 * i + 1], 0.0);
    }
    fsci_array_destroy(&a);
    ASSERT_STATUS(fsci_npz_read_as(z, "c", FSCI_F64, &a), FSCI_EINVAL);
    ASSERT_TRUE(a == NULL);
    ASSERT_TRUE(strstr(fsci_error_message(), "m.npz: member 'c': dtype complex64 cannot be read as float64"));
    ASSERT_STATUS(fsci_npz_read_as(z, "f", FSCI_I32, &a), FSCI_EINVAL);
    fsci_npz_close(&z);
    const char *np = pj(d, "c.npy");
    ASSERT_OK(fsci_npy_write(np, &c->view));
    ASSERT_STATUS(fsci_npy_read_as(np, FSCI_F32, &a), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "c.npy: dtype complex64 cannot be read as float32"));
    fsci_array_destroy(&f);
    fsci_array_destroy(&c);
    fsci_array_destroy(&u);
}

TEST(zz_remove_scratch_files)
{
    fsci_array_destroy(&g_strided_base);
    remove_tree(tmp_root(), 2);
    ASSERT_TRUE(!exists(tmp_root()));
}

TESTKIT_MAIN()
