/* .npy files, and both formats against numpy: exact round trips in both
 * directions (tests/core/npy_roundtrip.py), corruption and truncation of
 * .npy files, atomic writes, allocation failures. The .npz-only tests are in
 * test_npz.c. */
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>

#include "npy_testutil.h"

/* ---- numpy -> C --------------------------------------------------------------- */

TEST(numpy_npy_files_read_exactly)
{
    const char *d = py_dir();
    ASSERT_TRUE(d != NULL);
    char name[64];
    for (int t = 0; t < FSCI_NDTYPES; t++)
        for (int f = 0; f < 2; f++)
            for (int be = 0; be < 2; be++) {
                snprintf(name, sizeof name, "%s_%c_%s.npy", CODES[t], f ? 'F' : 'C', be ? "be" : "le");
                fsci_array *a = NULL;
                ASSERT_OK(fsci_npy_read(pj(d, name), &a));
                ASSERT_TRUE(check_values(&a->view, (fsci_dtype)t, 3, SHAPE3, f, name));
                fsci_array_destroy(&a);
            }
    static const struct {
        const char *file;
        fsci_dtype t;
        int ndim;
        int64_t shape[8];
        int order;
    } cases[] = {
        {"scalar_f8.npy", FSCI_F64, 0, {0}, 0},
        {"scalar_c16_be.npy", FSCI_C128, 0, {0}, 0},
        {"empty_f4.npy", FSCI_F32, 2, {0, 3}, 0},
        {"empty_i8_F.npy", FSCI_I64, 3, {4, 0, 2}, -1}, /* numpy: empty is C-contiguous */
        {"nd8_i4.npy", FSCI_I32, 8, {2, 1, 2, 3, 1, 2, 2, 1}, 0},
        {"nd8_f8_F_be.npy", FSCI_F64, 8, {2, 1, 2, 3, 1, 2, 2, 1}, 1},
        {"vec_u2.npy", FSCI_U16, 1, {11}, 0},
        {"v2_f8.npy", FSCI_F64, 3, {3, 4, 5}, 0},
        {"v3_c8_be.npy", FSCI_C64, 3, {3, 4, 5}, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fsci_array *a = NULL;
        ASSERT_OK(fsci_npy_read(pj(d, cases[k].file), &a));
        ASSERT_TRUE(
            check_values(&a->view, cases[k].t, cases[k].ndim, cases[k].shape, cases[k].order, cases[k].file));
        fsci_array_destroy(&a);
    }
    /* The same bytes through the memory reader. */
    size_t len;
    unsigned char *buf = slurp(pj(d, "c16_F_be.npy"), &len);
    ASSERT_TRUE(buf != NULL);
    fsci_array *a = NULL;
    ASSERT_OK(fsci_npy_read_mem(buf, len, "c16_F_be.npy", &a));
    ASSERT_TRUE(check_values(&a->view, FSCI_C128, 3, SHAPE3, 1, "mem"));
    fsci_array_destroy(&a);
    free(buf);
}

TEST(numpy_unsupported_dtypes_are_enotsup)
{
    const char *d = py_dir();
    ASSERT_TRUE(d != NULL);
    static const char *const files[4][2] = {
        {"half.npy", "'<f2'"}, {"bool.npy", "'|b1'"}, {"object.npy", "'|O'"}, {"unicode.npy", "'<U4'"}};
    for (int k = 0; k < 4; k++) {
        fsci_array *a = NULL;
        ASSERT_STATUS(fsci_npy_read(pj(d, files[k][0]), &a), FSCI_ENOTSUP);
        ASSERT_MSG(files[k][1]);
        ASSERT_MSG(files[k][0]);
        ASSERT_TRUE(a == NULL);
    }
}

/* ---- C -> numpy ------------------------------------------------------------------ */

TEST(c_files_read_back_in_c)
{
    const char *d = c_dir();
    ASSERT_TRUE(d != NULL);
    char name[64];
    for (int t = 0; t < FSCI_NDTYPES; t++)
        for (int f = 0; f < 2; f++) {
            snprintf(name, sizeof name, "c_%s_%c.npy", CODES[t], f ? 'F' : 'C');
            fsci_array *a = NULL;
            ASSERT_OK(fsci_npy_read(pj(d, name), &a));
            ASSERT_TRUE(check_values(&a->view, (fsci_dtype)t, 3, SHAPE3, f, name));
            fsci_array_destroy(&a);
        }
    fsci_array *a = NULL;
    ASSERT_OK(fsci_npy_read(pj(d, "c_strided.npy"), &a));
    ASSERT_TRUE(strided_matches(&a->view) && fsci_view_is_c_contiguous(&a->view));
    fsci_array_destroy(&a);
    ASSERT_OK(fsci_npy_read(pj(d, "c_nd8_F.npy"), &a));
    ASSERT_TRUE(check_values(&a->view, FSCI_F32, 8, SHAPE8, 1, "c_nd8_F"));
    fsci_array_destroy(&a);
    const char *arch[4] = {"c_stored.npz", "c_deflated.npz", "c_zip64.npz", "c_zip64_deflated.npz"};
    for (int k = 0; k < 4; k++) {
        fsci_npz *z = NULL;
        ASSERT_OK(fsci_npz_open(pj(d, arch[k]), &z));
        ASSERT_TRUE(verify_all_members(z, arch[k]));
        fsci_npz_close(&z);
    }
    const char *st[2] = {"c_stream.npz", "c_stream_stored.npz"};
    for (int k = 0; k < 2; k++) {
        fsci_npz *z = NULL;
        ASSERT_OK(fsci_npz_open(pj(d, st[k]), &z));
        int64_t shape[2] = {64, 1000};
        ASSERT_OK(fsci_npz_read(z, "big", &a));
        ASSERT_TRUE(check_values(&a->view, FSCI_F32, 2, shape, 0, st[k]));
        fsci_array_destroy(&a);
        fsci_npz_close(&z);
    }
    /* Deflate really compressed, stored really stored. */
    size_t l1, l2;
    unsigned char *b1 = slurp(pj(d, "c_stream.npz"), &l1), *b2 = slurp(pj(d, "c_stream_stored.npz"), &l2);
    ASSERT_TRUE(b1 && b2 && l1 < l2 && l2 > 256000);
    free(b1);
    free(b2);
}

TEST(c_files_load_in_numpy)
{
    const char *d = c_dir();
    ASSERT_TRUE(d != NULL);
    ASSERT_EQ(run_python("check", d), 0);
}

/* ---- atomic writes --------------------------------------------------------------------- */

TEST(aborted_or_failed_writes_leave_nothing)
{
    const char *d = fresh_dir("atomic");
    int64_t s[1] = {1000};
    fsci_array *a = make_array(FSCI_F64, 1, s, false);
    fsci_npz_writer *w = NULL;
    ASSERT_OK(fsci_npz_writer_create(pj(d, "out.npz"), true, &w));
    ASSERT_OK(fsci_npz_writer_add(w, "a", &a->view));
    ASSERT_EQ(count_entries(d), 1); /* the temporary file */
    fsci_npz_writer_abort(&w);
    ASSERT_TRUE(w == NULL);
    ASSERT_EQ(count_entries(d), 0);
    fsci_npz_writer_abort(&w);
    fsci_npz_writer_abort(NULL);

    /* An existing file survives an aborted or failed rewrite untouched. */
    ASSERT_OK(fsci_npy_write(pj(d, "keep.npy"), &a->view));
    size_t l0, l1;
    unsigned char *before = slurp(pj(d, "keep.npy"), &l0);
    ASSERT_OK(fsci_npz_writer_create(pj(d, "keep.npy"), false, &w));
    ASSERT_OK(fsci_npz_writer_begin(w, "x", FSCI_F64, 1, s));
    ASSERT_STATUS(fsci_npz_writer_end(w), FSCI_EINVAL);
    ASSERT_TRUE(fsci_npz_writer_close(&w) < 0);
    unsigned char *after = slurp(pj(d, "keep.npy"), &l1);
    ASSERT_TRUE(before && after && l0 == l1 && memcmp(before, after, l0) == 0);
    ASSERT_EQ(count_entries(d), 1);
    free(before);
    free(after);

    /* Nonexistent directory: EIO naming the path, nothing created. */
    const char *bad = pj(d, "no/such/dir/x.npy");
    ASSERT_STATUS(fsci_npy_write(bad, &a->view), FSCI_EIO);
    ASSERT_MSG(bad);
    ASSERT_MSG("No such file");
    ASSERT_STATUS(fsci_npz_writer_create(bad, false, &w), FSCI_EIO);
    ASSERT_TRUE(w == NULL);

    /* Bad views are refused before anything is created. */
    fsci_view v = a->view;
    v.ndim = 9;
    ASSERT_STATUS(fsci_npy_write(pj(d, "v.npy"), &v), FSCI_EINVAL);
    v = a->view;
    v.data = NULL;
    ASSERT_STATUS(fsci_npy_write(pj(d, "v.npy"), &v), FSCI_EINVAL);
    ASSERT_EQ(count_entries(d), 1);
    fsci_array_destroy(&a);
}

TEST(write_errors_from_the_os_remove_the_temp)
{
    /* A file size limit makes write() fail with EFBIG part-way (SIGXFSZ ignored). */
    const char *d = fresh_dir("fsize");
    int64_t s[1] = {1 << 17}; /* 1 MiB of float64 */
    fsci_array *a = make_array(FSCI_F64, 1, s, false);
    struct rlimit old, lim;
    ASSERT_TRUE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    ASSERT_TRUE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    int st1 = fsci_npy_write(pj(d, "big.npy"), &a->view);
    char msg1[1024];
    snprintf(msg1, sizeof msg1, "%s", fsci_error_message());
    fsci_npz_writer *w = NULL;
    int st2 = fsci_npz_writer_create(pj(d, "big.npz"), false, &w);
    int st3 = st2 == 0 ? fsci_npz_writer_add(w, "a", &a->view) : st2;
    int st4 = st2 == 0 ? fsci_npz_writer_close(&w) : st2;
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    fsci_array_destroy(&a);
    ASSERT_EQ(st1, FSCI_EIO);
    ASSERT_TRUE(strstr(msg1, "big.npy") != NULL);
    ASSERT_EQ(st2, FSCI_OK);
    ASSERT_EQ(st3, FSCI_EIO);
    ASSERT_EQ(st4, FSCI_EIO);
    ASSERT_TRUE(!exists(pj(d, "big.npy")) && !exists(pj(d, "big.npz")));
    ASSERT_EQ(count_entries(d), 0);
}

/* ---- corruption ----------------------------------------------------------------------- */

static int npy_mem_status(const unsigned char *b, size_t n, const char *name)
{
    fsci_array *a = NULL;
    int st = fsci_npy_read_mem(b, n, name, &a);
    if (st == FSCI_OK && !a) st = 998;
    fsci_array_destroy(&a);
    return st;
}

TEST(npy_truncated_at_every_length_is_eformat)
{
    const char *d = py_dir();
    ASSERT_TRUE(d != NULL);
    const char *files[5] = {"c16_F_be.npy", "f4_C_le.npy", "scalar_f8.npy", "empty_i8_F.npy", "v2_f8.npy"};
    for (int k = 0; k < 5; k++) {
        size_t len;
        unsigned char *b = slurp(pj(d, files[k]), &len);
        ASSERT_TRUE(b != NULL);
        ASSERT_OK(npy_mem_status(b, len, files[k]));
        for (size_t n = 0; n < len; n++) {
            unsigned char *t = malloc(n + 1); /* exact size: ASan sees any overread */
            memcpy(t, b, n);
            int st = npy_mem_status(t, n, files[k]);
            free(t);
            if (st != FSCI_EFORMAT || !msg_has(files[k]))
                TESTKIT_FAIL("%s cut to %zu bytes: status %d, message \"%s\"", files[k], n, st,
                             fsci_error_message());
        }
        free(b);
    }
}

TEST(npy_header_byte_flips_never_crash)
{
    const char *d = py_dir();
    ASSERT_TRUE(d != NULL);
    size_t len;
    unsigned char *b = slurp(pj(d, "i8_F_be.npy"), &len);
    ASSERT_TRUE(b != NULL);
    static const unsigned char masks[5] = {0x01, 0x02, 0x20, 0x80, 0xFF};
    int bad = 0;
    for (size_t i = 0; i < 128; i++)
        for (int m = 0; m < 5; m++) {
            b[i] ^= masks[m];
            int st = npy_mem_status(b, len, "flip.npy");
            b[i] ^= masks[m];
            if (st == FSCI_EFORMAT || st == FSCI_ENOTSUP) {
                bad++;
                if (!msg_has("flip.npy")) TESTKIT_FAIL("message without file name: %s", fsci_error_message());
            } else if (st != FSCI_OK) {
                TESTKIT_FAIL("byte %zu ^ 0x%02x: status %d (%s)", i, masks[m], st, fsci_error_message());
            }
        }
    ASSERT_TRUE(bad > 300); /* nearly every flip outside the padding is caught */
    free(b);
}

static unsigned char *npy_from_header(const char *dict, size_t data_len, size_t *len)
{
    size_t hl = strlen(dict);
    *len = 10 + hl + data_len;
    unsigned char *b = calloc(1, *len);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(hl & 0xff);
    b[9] = (unsigned char)(hl >> 8);
    memcpy(b + 10, dict, hl);
    return b;
}

TEST(npy_targeted_corruptions)
{
    static const struct {
        const char *dict;
        size_t data;
        int code;
        const char *msg;
    } cases[] = {
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }\n", 24, FSCI_OK, ""},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }\n", 23, FSCI_EFORMAT,
         "header declares shape (3,) float64 = 24 bytes but only 23 remain"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }\n", 6, FSCI_ENOTSUP, "'<f2'"},
        {"{'descr': '|O', 'fortran_order': False, 'shape': (3,), }\n", 24, FSCI_ENOTSUP, "'|O'"},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }\n", 12, FSCI_ENOTSUP,
         "structured"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }\n", 4, FSCI_ENOTSUP,
         "more than 8 dimensions"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1), }\n", 4, FSCI_OK, ""},
        {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (3,), }\n", 12, FSCI_EFORMAT, "True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3), }\n", 12, FSCI_EFORMAT, "trailing comma"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }\n", 12, FSCI_EFORMAT, "non-negative"},
        {"{'descr': '<f4', 'fortran_order': False, }\n", 12, FSCI_EFORMAT, "expected the keys"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}\n", 12, FSCI_EFORMAT,
         "only the keys"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}\n", 12, FSCI_EFORMAT,
         "once each"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), } x\n", 12, FSCI_EFORMAT, "after '}'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 4), }\n", 12, FSCI_EFORMAT,
         "overflows"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }\n", 12, FSCI_EFORMAT,
         "malformed header"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1000000000000), }\n", 0, FSCI_OK, ""},
        {"{\"descr\": \"<i4\", \"fortran_order\": True, \"shape\": (2L, 1L)}", 8, FSCI_OK, ""},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t len;
        unsigned char *b = npy_from_header(cases[k].dict, cases[k].data, &len);
        int st = npy_mem_status(b, len, "t.npy");
        free(b);
        if (st != cases[k].code || (st != FSCI_OK && (!msg_has(cases[k].msg) || !msg_has("t.npy: "))))
            TESTKIT_FAIL("case %zu: status %d (want %d), message \"%s\" (want \"%s\")", k, st, cases[k].code,
                         fsci_error_message(), cases[k].msg);
    }
    /* Preamble: magic, version, header length. */
    size_t len;
    unsigned char *b = npy_from_header("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4, &len);
    b[1] = 'X';
    ASSERT_STATUS(npy_mem_status(b, len, "t.npy"), FSCI_EFORMAT);
    ASSERT_MSG("bad magic");
    b[1] = 'N';
    b[6] = 4;
    ASSERT_STATUS(npy_mem_status(b, len, "t.npy"), FSCI_ENOTSUP);
    ASSERT_MSG("version 4.0");
    b[6] = 1;
    b[8] = 0xff;
    b[9] = 0xff;
    ASSERT_STATUS(npy_mem_status(b, len, "t.npy"), FSCI_EFORMAT);
    ASSERT_MSG("header length 65535 exceeds");
    free(b);
    /* Missing file, directory. */
    fsci_array *a = NULL;
    ASSERT_STATUS(fsci_npy_read("/nonexistent/dir/x.npy", &a), FSCI_EIO);
    ASSERT_STREQ(fsci_error_message(), "/nonexistent/dir/x.npy: cannot open: No such file or directory");
    ASSERT_STATUS(fsci_npy_read(tmp_root(), &a), FSCI_EIO);
    ASSERT_MSG("not a regular file");
    fsci_npz *z = NULL;
    ASSERT_STATUS(fsci_npz_open("/nonexistent/x.npz", &z), FSCI_EIO);
    ASSERT_MSG("/nonexistent/x.npz");
    ASSERT_TRUE(a == NULL && z == NULL);
}

/* ---- allocation failures ------------------------------------------------------------------ */

TEST(allocation_failures_are_enomem)
{
    const char *d = py_dir(), *cd = c_dir();
    ASSERT_TRUE(d != NULL && cd != NULL);
    int kinds_ok = 0;
    for (int kind = 0; kind < 4; kind++) {
        bool done = false;
        for (int64_t k = 0; k < 1000 && !done; k++) {
            fsci_array *a = NULL;
            fsci_npz *z = NULL;
            char *s = NULL;
            int st;
            fsci_alloc_fail_after(k);
            if (kind == 0) {
                st = fsci_npy_read(pj(d, "c16_F_be.npy"), &a);
            } else if (kind == 1) {
                st = fsci_npz_open(pj(d, "compressed.npz"), &z);
                if (st == FSCI_OK) st = fsci_npz_read(z, "b", &a);
            } else if (kind == 2) {
                st = fsci_npz_open(pj(cd, "c_zip64_deflated.npz"), &z);
                if (st == FSCI_OK) st = fsci_npz_read_string(z, "str_emoji", &s);
            } else {
                st = write_npz(pj(tmp_root(), "alloc.npz"), true);
            }
            fsci_alloc_fail_after(-1);
            if (st == FSCI_OK) {
                done = true;
                if (kind == 0) ASSERT_TRUE(check_values(&a->view, FSCI_C128, 3, SHAPE3, 1, "alloc"));
                if (kind == 2) ASSERT_STREQ(s, "a😀b");
            } else {
                if (st != FSCI_ENOMEM)
                    TESTKIT_FAIL("kind %d k %lld: status %d (%s)", kind, (long long)k, st,
                                 fsci_error_message());
                ASSERT_TRUE(a == NULL && s == NULL);
            }
            fsci_array_destroy(&a);
            fsci_npz_close(&z);
            fsci_free(s);
        }
        kinds_ok += done;
    }
    ASSERT_EQ(kinds_ok, 4);
    /* The failed writes left nothing: just the final good archive. */
    DIR *dp = opendir(tmp_root());
    struct dirent *de;
    int tmps = 0;
    while (dp && (de = readdir(dp)))
        if (strstr(de->d_name, ".tmp")) tmps++;
    if (dp) closedir(dp);
    ASSERT_EQ(tmps, 0);
}

TEST(zz_remove_scratch_files)
{
    fsci_array_destroy(&g_strided_base);
    remove_tree(tmp_root(), 2);
    ASSERT_TRUE(!exists(tmp_root()));
}

TESTKIT_MAIN()
