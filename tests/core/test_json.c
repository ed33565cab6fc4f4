/* JSON output: non-finite numbers as null, formats, atomic files, and the
 * library's JSON read back by Python's json module (an independent parser). */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fastsci/fastsci.h"
#include "testkit.h"

static const char *root(void)
{
    static char r[1024];
    if (!r[0]) {
        const char *t = getenv("FSCI_TEST_TMP");
        snprintf(r, sizeof r, "%s/json_%ld", t && t[0] ? t : "/tmp", (long)getpid());
        mkdir(t && t[0] ? t : "/tmp", 0777);
        mkdir(r, 0777);
    }
    return r;
}

static const char *python(void)
{
    const char *p = getenv("FSCI_PYTHON");
    return p && p[0] ? p : "/usr/bin/python3";
}

TEST(non_finite_numbers_are_null)
{
    json_t *o = json_object();
    ASSERT_TRUE(o != NULL);
    ASSERT_OK(fsci_json_set_number(o, "nan", NAN));
    ASSERT_OK(fsci_json_set_number(o, "inf", -INFINITY));
    ASSERT_OK(fsci_json_set_number(o, "x", 0.5));
    ASSERT_OK(fsci_json_set_int(o, "n", -3));
    ASSERT_OK(fsci_json_set_string(o, "s", "a\"b\n"));
    ASSERT_OK(fsci_json_set_bool(o, "b", true));
    ASSERT_STATUS(fsci_json_set_string(o, "bad", "\xff"), FSCI_EINVAL);
    char *s = NULL;
    ASSERT_OK(fsci_json_dumps(o, 0, &s));
    ASSERT_STREQ(s,
                 "{\"nan\": null, \"inf\": null, \"x\": 0.5, \"n\": -3, \"s\": \"a\\\"b\\n\", \"b\": true}");
    fsci_free(s);
    ASSERT_OK(fsci_json_dumps(o, 2, &s));
    ASSERT_TRUE(strncmp(s, "{\n  \"nan\": null,\n", 17) == 0 && s[strlen(s) - 1] == '\n');
    fsci_free(s);
    char path[1200];
    snprintf(path, sizeof path, "%s/o.json", root());
    ASSERT_OK(fsci_json_write(path, o, 2));
    json_decref(o);
    json_error_t err;
    json_t *back = json_load_file(path, 0, &err);
    ASSERT_TRUE(back && json_is_null(json_object_get(back, "nan")));
    ASSERT_EQ(json_real_value(json_object_get(back, "x")), 0.5);
    json_decref(back);
    unlink(path);
}

/* A one-row grid has no R80: summary.json must say null, read by Python. */
TEST(proton_summary_has_null_for_undefined_ranges)
{
    double dose[4] = {1, 2, 3, 4}, mev[4] = {1, 2, 3, 4}, dd[1] = {5};
    fsci_proton_result r;
    memset(&r, 0, sizeof r);
    r.nz = 1;
    r.nx = 4;
    r.dx_mm = r.dz_mm = 1;
    r.dose_gy = dose;
    r.dose_mev = mev;
    r.depth_dose = dd;
    r.metrics.r80_mm = r.metrics.r90_mm = r.metrics.r50_mm = r.metrics.r20_mm = NAN;
    r.metrics.falloff_mm = NAN;
    r.metrics.peak_mm = 0.5;
    r.metrics.entrance = 1;
    r.weight.residual = INFINITY;
    char dir[1200], cmd[4096];
    snprintf(dir, sizeof dir, "%s/proton", root());
    ASSERT_OK(fsci_proton_result_write(&r, dir));
    snprintf(cmd, sizeof cmd,
             "%s -c 'import json,sys; d=json.load(open(sys.argv[1]));"
             "assert d[\"R80_mm\"] is None and d[\"R90_mm\"] is None and d[\"d80_20_mm\"] is None, d;"
             "assert d[\"nz\"] == 1 and d[\"peak_depth_mm\"] == 0.5, d;"
             "assert d[\"balance_weight\"][\"residual\"] is None, d' %s/summary.json",
             python(), dir);
    ASSERT_EQ(system(cmd), 0);
    const char *names[7] = {"dose.npy",       "dose_mev.npy", "dose.raw",    "dose.mhd",
                            "depth_dose.csv", "lateral.csv",  "summary.json"};
    for (int i = 0; i < 7; i++) {
        char p[1400];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        ASSERT_TRUE(access(p, F_OK) == 0);
        unlink(p);
    }
    rmdir(dir);
}

/* The ptycho _metadata member: JSON in PtychoPINN's schema 1.0.0 (ptycho/metadata.py,
 * create_metadata), our own figures under additional_parameters. */
TEST(ptycho_metadata_has_ptychopinn_schema)
{
    fsci_ptycho_opts o;
    ASSERT_OK(fsci_params_defaults(fsci_ptycho_params, FSCI_PTYCHO_NPARAMS, &o));
    o.n_images = 12;
    o.N = 16;
    o.gridsize = 1;
    fsci_sink *s = NULL;
    ASSERT_OK(fsci_sink_memory_create(&s));
    ASSERT_EQ(setenv("SOURCE_DATE_EPOCH", "1000000000", 1), 0);
    ASSERT_OK(fsci_ptycho_simulate(&o, NULL, 7, 1, s, NULL));
    /* a malformed SOURCE_DATE_EPOCH is refused before anything is computed */
    fsci_sink *s2 = NULL;
    ASSERT_OK(fsci_sink_memory_create(&s2));
    ASSERT_EQ(setenv("SOURCE_DATE_EPOCH", "12x", 1), 0);
    ASSERT_STATUS(fsci_ptycho_simulate(&o, NULL, 7, 1, s2, NULL), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "SOURCE_DATE_EPOCH") != NULL);
    ASSERT_EQ(fsci_sink_memory_count(s2), 0);
    fsci_sink_destroy(&s2);
    ASSERT_EQ(unsetenv("SOURCE_DATE_EPOCH"), 0);
    ASSERT_OK(fsci_sink_close(s));
    char *meta = NULL;
    for (int64_t i = 0; i < fsci_sink_memory_count(s); i++) {
        const char *name;
        fsci_array *a = NULL;
        char *text = NULL;
        ASSERT_OK(fsci_sink_memory_take(s, i, &name, &a, &text));
        fsci_array_destroy(&a);
        if (strcmp(name, "_metadata") == 0)
            meta = text;
        else
            fsci_free(text);
    }
    fsci_sink_destroy(&s);
    ASSERT_TRUE(meta != NULL);
    char path[1200], cmd[4096];
    snprintf(path, sizeof path, "%s/meta.json", root());
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f != NULL);
    fputs(meta, f);
    fclose(f);
    fsci_free(meta);
    snprintf(
        cmd, sizeof cmd,
        "%s -c 'import json,sys; d=json.load(open(sys.argv[1]));"
        "assert list(d) == \"schema_version creation_info physics_parameters training_parameters "
        "data_transformations additional_parameters\".split(), list(d);"
        "assert d[\"schema_version\"] == \"1.0.0\" and d[\"data_transformations\"] == [];"
        "c=d[\"creation_info\"];"
        "assert list(c) == \"timestamp script hostname generator fastsci_version\".split(), list(c);"
        "assert c[\"timestamp\"] == \"2001-09-09T01:46:40Z\" and c[\"script\"] == "
        "\"fastsci ptycho simulate\", c;"
        "assert d[\"physics_parameters\"] == {\"nphotons\": 1e9, \"gridsize\": 1, \"N\": 16};"
        "assert d[\"training_parameters\"] == {\"n_images\": 12};"
        "a=d[\"additional_parameters\"];"
        "keys=\"seed K K_requested n_groups noise layout intensity_scale intensity_scale_raw X_full_norm "
        "local_offset_sign object object_shape probe probe_scale positions raw oversampling pool_size "
        "version\".split();"
        "assert list(a) == keys, list(a);"
        "assert a[\"seed\"] == 7 and a[\"n_groups\"] == 12 and a[\"version\"] == 2;"
        "assert a[\"local_offset_sign\"] == -1 and len(a[\"object_shape\"]) == 2' %s",
        python(), path);
    ASSERT_EQ(system(cmd), 0);
    unlink(path);
}

TEST(zz_remove_scratch)
{
    rmdir(root());
    ASSERT_TRUE(access(root(), F_OK) != 0);
}

TESTKIT_MAIN()
