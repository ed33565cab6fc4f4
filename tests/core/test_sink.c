/* Sinks: the directory sink (files, raw members, text, summary, atomic
 * set), the summary channel and kinds of every sink. */
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

TEST(zz_remove_scratch)
{
    rm_tree(root());
    ASSERT_TRUE(access(root(), F_OK) != 0);
}

TESTKIT_MAIN()
