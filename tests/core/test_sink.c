/* Sinks: the directory sink (files, raw members, text, summary, atomic
 * set), the summary channel and kinds of every sink, the in-place buffers
 * of the memory sink and the null sink. */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fastsci/fastsci.h"
#include "fs_testutil.h"
#include "testkit.h"

static const char *root(void)
{
    return scratch_root("sink");
}

static long slurp(const char *path, char *buf, long cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    long n = (long)fread(buf, 1, (size_t)cap, f);
    fclose(f);
    return n;
}

TEST(dir_sink_writes_npy_raw_text_and_summary)
{
    const char *out = pj(root(), "run");
    rm_tree(out);
    fsci_sink *s = NULL;
    ASSERT_OK(fsci_sink_dir_create(out, &s));
    ASSERT_EQ((int)fsci_sink_kind(s), (int)FSCI_SINK_DIR);
    double v[6] = {1, 2, 3, 4, 5, 6};
    fsci_view view;
    ASSERT_OK(fsci_view_init(&view, v, FSCI_F64, 2, (int64_t[2]){2, 3}, false));
    ASSERT_OK(fsci_sink_add(s, "dose", &view));
    ASSERT_OK(fsci_sink_add(s, "dose.raw", &view));
    /* streamed member */
    ASSERT_OK(fsci_sink_begin(s, "stream", FSCI_F64, 1, (int64_t[1]){6}));
    ASSERT_OK(fsci_sink_write(s, v, 2 * sizeof(double)));
    ASSERT_OK(fsci_sink_write(s, v + 2, 4 * sizeof(double)));
    ASSERT_STATUS(fsci_sink_write(s, v, 8), FSCI_EINVAL); /* past the declared size */
    ASSERT_OK(fsci_sink_end(s));
    ASSERT_OK(fsci_sink_add_text(s, "table.csv", "a,b\n1,2\n"));
    ASSERT_STATUS(fsci_sink_add_text(s, "table.csv", "again"), FSCI_EINVAL);
    ASSERT_STATUS(fsci_sink_set_summary(s, "{not json"), FSCI_EINVAL);
    ASSERT_OK(fsci_sink_set_summary(s, "{\"R80_mm\": null}"));
    ASSERT_STREQ(fsci_sink_summary(s), "{\"R80_mm\": null}");
    ASSERT_TRUE(access(out, F_OK) != 0); /* nothing before close */
    ASSERT_OK(fsci_sink_close(s));
    fsci_sink_destroy(&s);
    ASSERT_EQ(count_entries(out), 5);
    fsci_array *a = NULL;
    ASSERT_OK(fsci_npy_read(pj(out, "dose.npy"), &a));
    ASSERT_TRUE(a->view.ndim == 2 && a->view.shape[0] == 2 && a->view.shape[1] == 3);
    ASSERT_TRUE(memcmp(a->view.data, v, sizeof v) == 0);
    fsci_array_destroy(&a);
    ASSERT_OK(fsci_npy_read(pj(out, "stream.npy"), &a));
    ASSERT_TRUE(a->view.ndim == 1 && memcmp(a->view.data, v, sizeof v) == 0);
    fsci_array_destroy(&a);
    char buf[256];
    ASSERT_EQ(slurp(pj(out, "dose.raw"), buf, sizeof buf), (long)sizeof v);
    ASSERT_TRUE(memcmp(buf, v, sizeof v) == 0);
    long n = slurp(pj(out, "table.csv"), buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    ASSERT_STREQ(buf, "a,b\n1,2\n");
    n = slurp(pj(out, "summary.json"), buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    ASSERT_STREQ(buf, "{\"R80_mm\": null}\n");
}

TEST(dir_sink_failure_or_destroy_leaves_the_old_set)
{
    const char *out = pj(root(), "keep");
    rm_tree(out);
    fsci_sink *s = NULL;
    ASSERT_OK(fsci_sink_dir_create(out, &s));
    ASSERT_OK(fsci_sink_add_text(s, "a.csv", "old\n"));
    ASSERT_OK(fsci_sink_close(s));
    fsci_sink_destroy(&s);
    /* destroyed without close: nothing changes, no temporary left */
    ASSERT_OK(fsci_sink_dir_create(out, &s));
    ASSERT_OK(fsci_sink_add_text(s, "a.csv", "new\n"));
    ASSERT_OK(fsci_sink_add_text(s, "b.csv", "new\n"));
    fsci_sink_destroy(&s);
    ASSERT_EQ(count_entries(out), 1);
    /* a member left unfinished fails the close: nothing changes */
    ASSERT_OK(fsci_sink_dir_create(out, &s));
    ASSERT_OK(fsci_sink_add_text(s, "a.csv", "new\n"));
    ASSERT_OK(fsci_sink_begin(s, "x", FSCI_F32, 1, (int64_t[1]){4}));
    ASSERT_STATUS(fsci_sink_close(s), FSCI_EINVAL);
    fsci_sink_destroy(&s);
    char buf[16];
    long n = slurp(pj(out, "a.csv"), buf, sizeof buf - 1);
    ASSERT_EQ(n, 4L);
    ASSERT_TRUE(memcmp(buf, "old\n", 4) == 0);
    ASSERT_EQ(count_entries(out), 1);
    /* a regular file where the directory should be */
    ASSERT_STATUS(fsci_sink_dir_create(pj(out, "a.csv"), &s), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "is a regular file, not a directory") != NULL);
}

TEST(memory_and_npz_sinks_keep_the_summary_and_text)
{
    fsci_sink *s = NULL;
    ASSERT_OK(fsci_sink_memory_create(&s));
    ASSERT_EQ((int)fsci_sink_kind(s), (int)FSCI_SINK_MEMORY);
    ASSERT_TRUE(fsci_sink_summary(s) == NULL);
    ASSERT_OK(fsci_sink_set_summary(s, "{\"a\": 1}"));
    ASSERT_OK(fsci_sink_add_text(s, "notes.txt", "hello"));
    ASSERT_OK(fsci_sink_close(s));
    ASSERT_STREQ(fsci_sink_summary(s), "{\"a\": 1}");
    const char *name;
    fsci_array *a;
    char *text;
    ASSERT_EQ(fsci_sink_memory_count(s), 1);
    ASSERT_OK(fsci_sink_memory_take(s, 0, &name, &a, &text));
    ASSERT_STREQ(name, "notes.txt");
    ASSERT_STREQ(text, "hello");
    fsci_free(text);
    fsci_sink_destroy(&s);

    const char *p = pj(root(), "s.npz");
    ASSERT_OK(fsci_sink_npz_create(p, false, &s));
    ASSERT_EQ((int)fsci_sink_kind(s), (int)FSCI_SINK_NPZ);
    ASSERT_OK(fsci_sink_set_summary(s, "[1, 2]"));
    ASSERT_OK(fsci_sink_add_text(s, "t", "x"));
    ASSERT_OK(fsci_sink_close(s));
    fsci_sink_destroy(&s);
    fsci_npz *z = NULL;
    ASSERT_OK(fsci_npz_open(p, &z));
    ASSERT_EQ(fsci_npz_count(z), 1); /* the summary is not written into an .npz */
    char *str = NULL;
    ASSERT_OK(fsci_npz_read_string(z, "t", &str));
    ASSERT_STREQ(str, "x");
    fsci_free(str);
    fsci_npz_close(&z);
}

TEST(memory_sink_buffer_is_the_array_taken)
{
    fsci_sink *s = NULL;
    void *p = NULL, *q = NULL;
    ASSERT_OK(fsci_sink_memory_create(&s));
    ASSERT_STATUS(fsci_sink_buffer(s, &p), FSCI_EINVAL); /* nothing begun */
    /* two members declared and ended before either is filled */
    ASSERT_OK(fsci_sink_begin(s, "a", FSCI_F32, 2, (int64_t[2]){3, 5}));
    ASSERT_OK(fsci_sink_buffer(s, &p));
    ASSERT_TRUE(p != NULL && (uintptr_t)p % 64 == 0);
    ASSERT_STATUS(fsci_sink_write(s, p, 4), FSCI_EINVAL); /* already counts as written */
    ASSERT_OK(fsci_sink_end(s));
    /* 8 MiB: 2 MiB aligned (huge pages) */
    ASSERT_OK(fsci_sink_begin(s, "big", FSCI_C64, 1, (int64_t[1]){1 << 20}));
    ASSERT_OK(fsci_sink_buffer(s, &q));
    ASSERT_TRUE(q != NULL && (uintptr_t)q % (2u << 20) == 0);
    ASSERT_OK(fsci_sink_end(s));
    /* a streamed member in between, then the buffers are filled */
    ASSERT_OK(fsci_sink_begin(s, "streamed", FSCI_I32, 1, (int64_t[1]){2}));
    ASSERT_OK(fsci_sink_write(s, (int32_t[2]){7, 8}, 8));
    void *r = NULL;
    ASSERT_STATUS(fsci_sink_buffer(s, &r), FSCI_EINVAL); /* bytes already written */
    ASSERT_TRUE(r == NULL);
    ASSERT_OK(fsci_sink_end(s));
    float *f = p;
    for (int i = 0; i < 15; i++) f[i] = (float)i * 0.5f;
    float *g = q;
    g[0] = 1.0f;
    g[2 * (1 << 20) - 1] = 2.0f;
    ASSERT_OK(fsci_sink_close(s));
    ASSERT_EQ(fsci_sink_memory_count(s), 3);
    const char *name;
    fsci_array *a = NULL;
    char *text = NULL;
    ASSERT_OK(fsci_sink_memory_take(s, 0, &name, &a, &text));
    ASSERT_STREQ(name, "a");
    ASSERT_TRUE(a->view.data == p); /* the very buffer filled: no copy */
    ASSERT_TRUE(a->view.dtype == FSCI_F32 && a->view.ndim == 2 && a->view.shape[0] == 3 &&
                a->view.shape[1] == 5);
    ASSERT_TRUE(a->view.strides[0] == 20 && a->view.strides[1] == 4);
    ASSERT_TRUE(((float *)a->view.data)[14] == 7.0f);
    fsci_array_destroy(&a);
    ASSERT_OK(fsci_sink_memory_take(s, 1, &name, &a, &text));
    ASSERT_TRUE(a->view.data == q && ((float *)q)[2 * (1 << 20) - 1] == 2.0f);
    fsci_array_destroy(&a);
    ASSERT_OK(fsci_sink_memory_take(s, 2, &name, &a, &text));
    ASSERT_TRUE(((int32_t *)a->view.data)[1] == 8);
    fsci_array_destroy(&a);
    fsci_sink_destroy(&s);
}

TEST(file_sinks_have_no_buffer)
{
    fsci_sink *s = NULL;
    void *p = &s;
    const char *path = pj(root(), "b.npz");
    ASSERT_OK(fsci_sink_npz_create(path, false, &s));
    ASSERT_OK(fsci_sink_begin(s, "x", FSCI_F64, 1, (int64_t[1]){2}));
    ASSERT_OK(fsci_sink_buffer(s, &p));
    ASSERT_TRUE(p == NULL); /* stream it instead */
    ASSERT_OK(fsci_sink_write(s, (double[2]){1, 2}, 16));
    ASSERT_OK(fsci_sink_end(s));
    ASSERT_OK(fsci_sink_close(s));
    fsci_sink_destroy(&s);
    const char *dir = pj(root(), "bdir");
    rm_tree(dir);
    ASSERT_OK(fsci_sink_dir_create(dir, &s));
    ASSERT_STATUS(fsci_sink_buffer(s, &p), FSCI_EINVAL);
    ASSERT_OK(fsci_sink_begin(s, "x", FSCI_F64, 1, (int64_t[1]){2}));
    p = &s;
    ASSERT_OK(fsci_sink_buffer(s, &p));
    ASSERT_TRUE(p == NULL);
    ASSERT_OK(fsci_sink_write(s, (double[2]){1, 2}, 16));
    ASSERT_OK(fsci_sink_end(s));
    fsci_sink_destroy(&s);
}

TEST(null_sink_checks_members_and_keeps_only_the_summary)
{
    fsci_sink *s = NULL;
    ASSERT_OK(fsci_sink_null_create(&s));
    ASSERT_EQ((int)fsci_sink_kind(s), (int)FSCI_SINK_NULL);
    float v[6] = {0};
    ASSERT_STATUS(fsci_sink_write(s, v, 4), FSCI_EINVAL); /* no member */
    ASSERT_OK(fsci_sink_begin(s, "a", FSCI_F32, 2, (int64_t[2]){2, 3}));
    void *p = &s;
    ASSERT_OK(fsci_sink_buffer(s, &p));
    ASSERT_TRUE(p == NULL);
    ASSERT_STATUS(fsci_sink_begin(s, "b", FSCI_F32, 1, (int64_t[1]){1}), FSCI_EINVAL); /* nested */
    ASSERT_OK(fsci_sink_write(s, v, 16));
    ASSERT_STATUS(fsci_sink_write(s, v, 12), FSCI_EINVAL); /* past the end */
    ASSERT_OK(fsci_sink_write(s, v, 8));
    ASSERT_OK(fsci_sink_end(s));
    ASSERT_OK(fsci_sink_begin(s, "short", FSCI_F32, 1, (int64_t[1]){6}));
    ASSERT_OK(fsci_sink_write(s, v, 4));
    ASSERT_STATUS(fsci_sink_end(s), FSCI_EINVAL);                                      /* 4 of 24 bytes */
    ASSERT_STATUS(fsci_sink_begin(s, "a", FSCI_F32, 1, (int64_t[1]){1}), FSCI_EINVAL); /* repeated */
    fsci_view view;
    ASSERT_OK(fsci_view_init(&view, v, FSCI_F32, 1, (int64_t[1]){6}, false));
    ASSERT_OK(fsci_sink_add(s, "whole", &view));
    ASSERT_STATUS(fsci_sink_add(s, "whole", &view), FSCI_EINVAL);
    ASSERT_OK(fsci_sink_add_string(s, "t", "text"));
    ASSERT_OK(fsci_sink_set_summary(s, "{\"t\": 1}"));
    ASSERT_OK(fsci_sink_close(s));
    ASSERT_EQ(fsci_sink_memory_count(s), 0);
    ASSERT_STREQ(fsci_sink_summary(s), "{\"t\": 1}");
    fsci_sink_destroy(&s);
    /* a member left open fails the close */
    ASSERT_OK(fsci_sink_null_create(&s));
    ASSERT_OK(fsci_sink_begin(s, "x", FSCI_F64, 1, (int64_t[1]){1}));
    ASSERT_STATUS(fsci_sink_close(s), FSCI_EINVAL);
    fsci_sink_destroy(&s);
}

TEST(zz_remove_scratch)
{
    rm_tree(root());
    ASSERT_TRUE(access(root(), F_OK) != 0);
}

TESTKIT_MAIN()
