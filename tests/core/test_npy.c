/* .npy / .npz reading and writing: exact round trips with numpy in both
 * directions (tests/core/npy_roundtrip.py), corruption and truncation of
 * every kind, atomic writes, streaming members, zip64, allocation failures. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "core/io/npy_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/array.h"
#include "fastsci/core/npy.h"
#include "testkit.h"

/* ---- shared with npy_roundtrip.py ------------------------------------------ */

static const char *const CODES[FSCI_NDTYPES] = {
    [FSCI_F32] = "f4", [FSCI_F64] = "f8", [FSCI_C64] = "c8", [FSCI_C128] = "c16",
    [FSCI_I32] = "i4", [FSCI_I64] = "i8", [FSCI_U8] = "u1",  [FSCI_U16] = "u2",
};
static const int64_t SHAPE3[3] = {3, 4, 5};
static const int64_t SHAPE8[8] = {2, 1, 2, 3, 1, 2, 2, 1};
#define META_JSON "{\"engine\": \"ptycho\", \"n\": 3, \"note\": \"grüße ✓ 😀\"}"
static const char *const STR_NAMES[5] = {"ascii", "latin", "cjk", "emoji", "empty"};
static const char *const STR_VALUES[5] = {"hello", "grüße", "日本語", "a😀b", ""};

/* Element with logical C-order flat index i (see npy_roundtrip.py). */
static void expect_elem(fsci_dtype t, int64_t i, unsigned char *out)
{
    double f = (double)i / 3.0 - 7.0, g = 0.5 - (double)i / 7.0;
    switch (t) {
    case FSCI_F32: {
        float v = (float)f;
        memcpy(out, &v, 4);
    } break;
    case FSCI_F64: memcpy(out, &f, 8); break;
    case FSCI_C64: {
        float v[2] = {(float)f, (float)g};
        memcpy(out, v, 8);
    } break;
    case FSCI_C128: {
        double v[2] = {f, g};
        memcpy(out, v, 16);
    } break;
    case FSCI_I32: {
        int32_t v = (int32_t)(i * 7919 - 50000);
        memcpy(out, &v, 4);
    } break;
    case FSCI_I64: {
        int64_t v = i * INT64_C(3037000493) - (INT64_C(1) << 40);
        memcpy(out, &v, 8);
    } break;
    case FSCI_U8: out[0] = (unsigned char)((i * 37 + 11) % 256); break;
    case FSCI_U16: {
        uint16_t v = (uint16_t)((i * 2654 + 3) % 65536);
        memcpy(out, &v, 2);
    } break;
    default: break;
    }
}

/* Walk logical C order; call fn(element pointer, flat index). */
static bool check_values(const fsci_view *v, fsci_dtype t, int ndim, const int64_t *shape, int order,
                         const char *tag)
{
    if (v->dtype != t || v->ndim != ndim) {
        fprintf(stderr, "  %s: dtype %s ndim %d, expected %s ndim %d\n", tag, fsci_dtype_name(v->dtype),
                v->ndim, fsci_dtype_name(t), ndim);
        return false;
    }
    for (int d = 0; d < ndim; d++)
        if (v->shape[d] != shape[d]) {
            fprintf(stderr, "  %s: shape[%d] = %lld, expected %lld\n", tag, d, (long long)v->shape[d],
                    (long long)shape[d]);
            return false;
        }
    if (order == 0 && !fsci_view_is_c_contiguous(v)) {
        fprintf(stderr, "  %s: not C-contiguous\n", tag);
        return false;
    }
    if (order == 1 && !fsci_view_is_f_contiguous(v)) {
        fprintf(stderr, "  %s: not Fortran-contiguous\n", tag);
        return false;
    }
    if (order == 1 && ndim > 1 && fsci_view_numel(v) > 1 && fsci_view_is_c_contiguous(v)) {
        fprintf(stderr, "  %s: C strides where Fortran strides were expected\n", tag);
        return false;
    }
    int64_t n = fsci_view_numel(v), idx[FSCI_MAX_NDIM] = {0};
    size_t es = fsci_dtype_size(t);
    for (int64_t i = 0; i < n; i++) {
        unsigned char want[16];
        expect_elem(t, i, want);
        if (memcmp(fsci_view_ptr(v, idx), want, es) != 0) {
            fprintf(stderr, "  %s: element %lld differs\n", tag, (long long)i);
            return false;
        }
        for (int k = ndim - 1; k >= 0; k--) {
            if (++idx[k] < shape[k]) break;
            idx[k] = 0;
        }
    }
    return true;
}

static void fill_values(const fsci_view *v)
{
    int64_t n = fsci_view_numel(v), idx[FSCI_MAX_NDIM] = {0};
    for (int64_t i = 0; i < n; i++) {
        expect_elem(v->dtype, i, fsci_view_ptr(v, idx));
        for (int k = v->ndim - 1; k >= 0; k--) {
            if (++idx[k] < v->shape[k]) break;
            idx[k] = 0;
        }
    }
}

static fsci_array *make_array(fsci_dtype t, int ndim, const int64_t *shape, bool fortran)
{
    fsci_array *a = NULL;
    if (fsci_array_create(t, ndim, shape, fortran, &a) != FSCI_OK) return NULL;
    fill_values(&a->view);
    return a;
}

/* ---- files, directories, python ------------------------------------------------ */

static const char *tmp_root(void)
{
    static char root[1024];
    if (!root[0]) {
        const char *t = getenv("FSCI_TEST_TMP");
        snprintf(root, sizeof root, "%s/npy_%ld", t && t[0] ? t : "/tmp", (long)getpid());
        mkdir(t && t[0] ? t : "/tmp", 0777);
        mkdir(root, 0777);
    }
    return root;
}

/* A fresh, empty directory under the scratch root. */
static const char *fresh_dir(const char *name)
{
    static char dirs[16][1100];
    static int next;
    char *d = dirs[next++ % 16];
    snprintf(d, 1100, "%s/%s", tmp_root(), name);
    mkdir(d, 0777);
    DIR *dp = opendir(d);
    if (dp) {
        struct dirent *de;
        char p[1400];
        while ((de = readdir(dp)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", d, de->d_name);
                unlink(p);
            }
        closedir(dp);
    }
    return d;
}

static int dir_count(const char *d)
{
    int n = 0;
    DIR *dp = opendir(d);
    if (!dp) return -1;
    struct dirent *de;
    while ((de = readdir(dp)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(dp);
    return n;
}

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static const char *pj(const char *dir, const char *name)
{
    static char bufs[8][1400];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 1400, "%s/%s", dir, name);
    return b;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static int run_python(const char *mode, const char *dir)
{
    const char *py = getenv("FSCI_PYTHON"), *src = getenv("FSCI_SOURCE_DIR");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/core/npy_roundtrip.py' %s '%s'",
             py && py[0] ? py : "/usr/bin/python3", src && src[0] ? src : ".", mode, dir);
    fflush(stdout);
    int rc = system(cmd);
    return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* numpy-written files, made once. */
static const char *py_dir(void)
{
    static const char *dir;
    static int rc = -1;
    if (!dir) {
        dir = fresh_dir("numpy_written");
        rc = run_python("write", dir);
        if (rc != 0) fprintf(stderr, "  npy_roundtrip.py write failed (%d)\n", rc);
    }
    return rc == 0 ? dir : NULL;
}

static bool msg_has(const char *s)
{
    return strstr(fsci_error_message(), s) != NULL;
}

#define ASSERT_MSG(s)                                                                                        \
    do {                                                                                                     \
        if (!msg_has(s)) TESTKIT_FAIL("message \"%s\" lacks \"%s\"", fsci_error_message(), s);               \
    } while (0)

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

/* ---- C -> numpy ------------------------------------------------------------------ */

/* A (4, 6) float64 array and a view of it with rows reversed and every other
 * column: values(f8, (4, 6))[::-1, ::2] in numpy. */
static fsci_array *g_strided_base;
static fsci_view strided_view(void)
{
    static const int64_t s[2] = {4, 6};
    if (!g_strided_base) g_strided_base = make_array(FSCI_F64, 2, s, false);
    fsci_view v = g_strided_base->view;
    v.data = (char *)v.data + 3 * 6 * 8;
    v.shape[0] = 4;
    v.shape[1] = 3;
    v.strides[0] = -48;
    v.strides[1] = 16;
    return v;
}

static bool strided_matches(const fsci_view *got)
{
    fsci_view v = strided_view();
    if (got->dtype != FSCI_F64 || got->ndim != 2 || got->shape[0] != 4 || got->shape[1] != 3) return false;
    for (int64_t i = 0; i < 4; i++)
        for (int64_t j = 0; j < 3; j++) {
            int64_t idx[2] = {i, j};
            if (memcmp(fsci_view_ptr(got, idx), fsci_view_ptr(&v, idx), 8) != 0) return false;
        }
    return true;
}

static int add_all_members(fsci_npz_writer *w)
{
    int st;
    for (int t = 0; t < FSCI_NDTYPES; t++) {
        char name[16];
        snprintf(name, sizeof name, "m_%s", CODES[t]);
        fsci_array *a = make_array((fsci_dtype)t, 3, SHAPE3, false);
        if (!a) return FSCI_ENOMEM;
        st = fsci_npz_writer_add(w, name, &a->view);
        fsci_array_destroy(&a);
        if (st < 0) return st;
    }
    fsci_array *f = make_array(FSCI_C64, 3, SHAPE3, true);
    if (!f) return FSCI_ENOMEM;
    st = fsci_npz_writer_add(w, "fortran", &f->view);
    fsci_array_destroy(&f);
    if (st < 0) return st;
    fsci_view sv = strided_view();
    if ((st = fsci_npz_writer_add(w, "strided", &sv)) < 0) return st;
    fsci_array *s = make_array(FSCI_I64, 0, NULL, false);
    if (!s) return FSCI_ENOMEM;
    st = fsci_npz_writer_add(w, "scalar", &s->view);
    fsci_array_destroy(&s);
    if (st < 0) return st;
    int64_t es[2] = {3, 0};
    fsci_array *e = make_array(FSCI_U16, 2, es, false);
    if (!e) return FSCI_ENOMEM;
    st = fsci_npz_writer_add(w, "empty", &e->view);
    fsci_array_destroy(&e);
    if (st < 0) return st;
    if ((st = fsci_npz_writer_add_string(w, "_metadata", META_JSON)) < 0) return st;
    for (int k = 0; k < 5; k++) {
        char name[16];
        snprintf(name, sizeof name, "str_%s", STR_NAMES[k]);
        if ((st = fsci_npz_writer_add_string(w, name, STR_VALUES[k])) < 0) return st;
    }
    return FSCI_OK;
}

static bool verify_all_members(fsci_npz *z, const char *tag)
{
    if (fsci_npz_count(z) != 18) return false;
    for (int t = 0; t < FSCI_NDTYPES; t++) {
        char name[16];
        snprintf(name, sizeof name, "m_%s", CODES[t]);
        fsci_array *a = NULL;
        if (fsci_npz_read(z, name, &a) != FSCI_OK) return false;
        bool ok = check_values(&a->view, (fsci_dtype)t, 3, SHAPE3, 0, tag);
        fsci_array_destroy(&a);
        if (!ok) return false;
    }
    fsci_array *a = NULL;
    if (fsci_npz_read(z, "fortran", &a) != FSCI_OK) return false;
    bool ok = check_values(&a->view, FSCI_C64, 3, SHAPE3, 1, tag);
    fsci_array_destroy(&a);
    if (!ok || fsci_npz_read(z, "strided", &a) != FSCI_OK) return false;
    ok = strided_matches(&a->view);
    fsci_array_destroy(&a);
    if (!ok || fsci_npz_read(z, "scalar", &a) != FSCI_OK) return false;
    ok = check_values(&a->view, FSCI_I64, 0, NULL, 0, tag);
    fsci_array_destroy(&a);
    int64_t es[2] = {3, 0};
    if (!ok || fsci_npz_read(z, "empty", &a) != FSCI_OK) return false;
    ok = check_values(&a->view, FSCI_U16, 2, es, 0, tag);
    fsci_array_destroy(&a);
    char *s = NULL;
    if (!ok || fsci_npz_read_string(z, "_metadata", &s) != FSCI_OK) return false;
    ok = strcmp(s, META_JSON) == 0;
    fsci_free(s);
    for (int k = 0; ok && k < 5; k++) {
        char name[16];
        snprintf(name, sizeof name, "str_%s", STR_NAMES[k]);
        s = NULL;
        if (fsci_npz_read_string(z, name, &s) != FSCI_OK) return false;
        ok = strcmp(s, STR_VALUES[k]) == 0;
        fsci_free(s);
    }
    return ok;
}

static int write_npz(const char *path, bool compress)
{
    fsci_npz_writer *w = NULL;
    int st = fsci_npz_writer_create(path, compress, &w);
    if (st < 0) return st;
    st = add_all_members(w);
    if (st < 0) {
        fsci_npz_writer_abort(&w);
        return st;
    }
    return fsci_npz_writer_close(&w);
}

static int write_stream(const char *path, bool compress)
{
    fsci_npz_writer *w = NULL;
    int st = fsci_npz_writer_create(path, compress, &w);
    if (st < 0) return st;
    int64_t shape[2] = {64, 1000}, s5[1] = {5};
    fsci_array *big = make_array(FSCI_F32, 2, shape, false), *small = make_array(FSCI_U8, 1, s5, false);
    st = fsci_npz_writer_begin(w, "big", FSCI_F32, 2, shape);
    const unsigned char *p = big->view.data;
    size_t total = 64 * 1000 * 4, done = 0;
    while (st == FSCI_OK && done < total) {
        size_t n = total - done < 777 ? total - done : 777; /* chunks split elements */
        st = fsci_npz_writer_write(w, p + done, n);
        done += n;
    }
    if (st == FSCI_OK) st = fsci_npz_writer_end(w);
    if (st == FSCI_OK) st = fsci_npz_writer_add(w, "small", &small->view);
    if (st == FSCI_OK) st = fsci_npz_writer_add_string(w, "_metadata", META_JSON);
    fsci_array_destroy(&big);
    fsci_array_destroy(&small);
    if (st < 0) {
        fsci_npz_writer_abort(&w);
        return st;
    }
    return fsci_npz_writer_close(&w);
}

static const char *c_dir(void)
{
    static const char *dir;
    static int st = -1;
    if (dir) return st == 0 ? dir : NULL;
    dir = fresh_dir("c_written");
    char name[64];
    st = 0;
    for (int t = 0; t < FSCI_NDTYPES && st == 0; t++)
        for (int f = 0; f < 2 && st == 0; f++) {
            snprintf(name, sizeof name, "c_%s_%c.npy", CODES[t], f ? 'F' : 'C');
            fsci_array *a = make_array((fsci_dtype)t, 3, SHAPE3, f);
            st = fsci_npy_write(pj(dir, name), &a->view);
            fsci_array_destroy(&a);
        }
    fsci_view sv = strided_view();
    if (st == 0) st = fsci_npy_write(pj(dir, "c_strided.npy"), &sv);
    int64_t es[3] = {2, 0, 3};
    fsci_array *a[4] = {make_array(FSCI_I64, 0, NULL, false), make_array(FSCI_C64, 3, es, false),
                        make_array(FSCI_U16, 8, SHAPE8, false), make_array(FSCI_F32, 8, SHAPE8, true)};
    const char *names[4] = {"c_scalar.npy", "c_empty.npy", "c_nd8.npy", "c_nd8_F.npy"};
    for (int k = 0; k < 4; k++) {
        if (st == 0) st = fsci_npy_write(pj(dir, names[k]), &a[k]->view);
        fsci_array_destroy(&a[k]);
    }
    if (st == 0) st = write_npz(pj(dir, "c_stored.npz"), false);
    if (st == 0) st = write_npz(pj(dir, "c_deflated.npz"), true);
    fsci__npz_set_zip64_limit(0); /* every size and offset through zip64 records */
    if (st == 0) st = write_npz(pj(dir, "c_zip64.npz"), false);
    if (st == 0) st = write_npz(pj(dir, "c_zip64_deflated.npz"), true);
    fsci__npz_set_zip64_limit(0xFFFFFFFFu);
    if (st == 0) st = write_stream(pj(dir, "c_stream.npz"), true);
    if (st == 0) st = write_stream(pj(dir, "c_stream_stored.npz"), false);
    if (st != 0) fprintf(stderr, "  writing: %s\n", fsci_error_message());
    return st == 0 ? dir : NULL;
}

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
        ASSERT_EQ(dir_count(d), 0);
    }
    /* Begun, never ended: close fails and leaves nothing. */
    fsci_npz_writer *w = NULL;
    ASSERT_OK(fsci_npz_writer_create(pj(d, "s.npz"), false, &w));
    ASSERT_OK(fsci_npz_writer_begin(w, "x", FSCI_F64, 2, shape));
    ASSERT_OK(fsci_npz_writer_write(w, buf, 800));
    ASSERT_STATUS(fsci_npz_writer_close(&w), FSCI_EINVAL);
    ASSERT_MSG("never ended");
    ASSERT_EQ(dir_count(d), 0);
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

/* ---- atomic writes --------------------------------------------------------------------- */

TEST(aborted_or_failed_writes_leave_nothing)
{
    const char *d = fresh_dir("atomic");
    int64_t s[1] = {1000};
    fsci_array *a = make_array(FSCI_F64, 1, s, false);
    fsci_npz_writer *w = NULL;
    ASSERT_OK(fsci_npz_writer_create(pj(d, "out.npz"), true, &w));
    ASSERT_OK(fsci_npz_writer_add(w, "a", &a->view));
    ASSERT_EQ(dir_count(d), 1); /* the temporary file */
    fsci_npz_writer_abort(&w);
    ASSERT_TRUE(w == NULL);
    ASSERT_EQ(dir_count(d), 0);
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
    ASSERT_EQ(dir_count(d), 1);
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
    ASSERT_EQ(dir_count(d), 1);
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
    ASSERT_EQ(dir_count(d), 0);
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

/* Last: remove the scratch tree (two levels). */
static void remove_tree(const char *dir, int depth)
{
    DIR *dp = opendir(dir);
    if (!dp) return;
    struct dirent *de;
    char p[1600];
    while ((de = readdir(dp))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (unlink(p) != 0 && depth > 0) remove_tree(p, depth - 1);
    }
    closedir(dp);
    rmdir(dir);
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
