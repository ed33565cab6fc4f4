/* Helpers shared by the .npy and .npz tests (test_npy.c, test_npz.c): the
 * value pattern and shapes shared with npy_roundtrip.py, a per-process
 * scratch directory, files, the numpy-written inputs and the C-written
 * files and archives. */
#ifndef FASTSCI_TESTS_CORE_NPY_TESTUTIL_H
#define FASTSCI_TESTS_CORE_NPY_TESTUTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/io/npy_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/array.h"
#include "fastsci/core/npy.h"
#include "fs_testutil.h"
#include "testkit.h"

/* Each test file uses a different subset of what follows. */
#define TESTUTIL_UNUSED __attribute__((unused))

/* ---- shared with npy_roundtrip.py ------------------------------------------ */

TESTUTIL_UNUSED static const char *const CODES[FSCI_NDTYPES] = {
    [FSCI_F32] = "f4", [FSCI_F64] = "f8", [FSCI_C64] = "c8", [FSCI_C128] = "c16",
    [FSCI_I32] = "i4", [FSCI_I64] = "i8", [FSCI_U8] = "u1",  [FSCI_U16] = "u2",
};
TESTUTIL_UNUSED static const int64_t SHAPE3[3] = {3, 4, 5};
TESTUTIL_UNUSED static const int64_t SHAPE8[8] = {2, 1, 2, 3, 1, 2, 2, 1};
#define META_JSON "{\"engine\": \"ptycho\", \"n\": 3, \"note\": \"grüße ✓ 😀\"}"
TESTUTIL_UNUSED static const char *const STR_NAMES[5] = {"ascii", "latin", "cjk", "emoji", "empty"};
TESTUTIL_UNUSED static const char *const STR_VALUES[5] = {"hello", "grüße", "日本語", "a😀b", ""};

/* Element with logical C-order flat index i (see npy_roundtrip.py). */
TESTUTIL_UNUSED static void expect_elem(fsci_dtype t, int64_t i, unsigned char *out)
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
TESTUTIL_UNUSED static bool check_values(const fsci_view *v, fsci_dtype t, int ndim, const int64_t *shape,
                                         int order, const char *tag)
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

TESTUTIL_UNUSED static void fill_values(const fsci_view *v)
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

TESTUTIL_UNUSED static fsci_array *make_array(fsci_dtype t, int ndim, const int64_t *shape, bool fortran)
{
    fsci_array *a = NULL;
    if (fsci_array_create(t, ndim, shape, fortran, &a) != FSCI_OK) return NULL;
    fill_values(&a->view);
    return a;
}

/* ---- files, directories, python ------------------------------------------------ */

TESTUTIL_UNUSED static const char *tmp_root(void)
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
TESTUTIL_UNUSED static const char *fresh_dir(const char *name)
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

TESTUTIL_UNUSED static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

TESTUTIL_UNUSED static unsigned char *slurp(const char *path, size_t *len)
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

TESTUTIL_UNUSED static int run_python(const char *mode, const char *dir)
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
TESTUTIL_UNUSED static const char *py_dir(void)
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

TESTUTIL_UNUSED static bool msg_has(const char *s)
{
    return strstr(fsci_error_message(), s) != NULL;
}

#define ASSERT_MSG(s)                                                                                        \
    do {                                                                                                     \
        if (!msg_has(s)) TESTKIT_FAIL("message \"%s\" lacks \"%s\"", fsci_error_message(), s);               \
    } while (0)

/* ---- C-written files: every dtype and order, strided views, archives ---------- */

/* A (4, 6) float64 array and a view of it with rows reversed and every other
 * column: values(f8, (4, 6))[::-1, ::2] in numpy. */
static fsci_array *g_strided_base;
TESTUTIL_UNUSED static fsci_view strided_view(void)
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

TESTUTIL_UNUSED static bool strided_matches(const fsci_view *got)
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

TESTUTIL_UNUSED static int add_all_members(fsci_npz_writer *w)
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

TESTUTIL_UNUSED static bool verify_all_members(fsci_npz *z, const char *tag)
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

TESTUTIL_UNUSED static int write_npz(const char *path, bool compress)
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

TESTUTIL_UNUSED static int write_stream(const char *path, bool compress)
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

TESTUTIL_UNUSED static const char *c_dir(void)
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

/* Remove the scratch tree (`depth` levels below `dir`); the last test of each file. */
TESTUTIL_UNUSED static void remove_tree(const char *dir, int depth)
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

#endif
