/* The ptycho simulation end to end through a memory sink: layouts, odd N,
 * edge positions, Parseval, thread independence, range checks. */
#include <math.h>

#include "fastsci/fastsci.h"
#include "testkit.h"

static fsci_array *take(fsci_sink *s, const char *want)
{
    for (int64_t i = 0; i < fsci_sink_memory_count(s); i++) {
        const char *name;
        fsci_array *a;
        char *text;
        if (fsci_sink_memory_take(s, i, &name, &a, &text)) return NULL;
        fsci_free(text);
        if (a && strcmp(name, want) == 0) return a;
        /* put nothing back: tests take one member per run */
        fsci_array_destroy(&a);
    }
    return NULL;
}

static void opts(fsci_ptycho_opts *o, int64_t n_images, int64_t N, int64_t gridsize)
{
    if (fsci_params_defaults(fsci_ptycho_params, FSCI_PTYCHO_NPARAMS, o)) abort();
    o->n_images = n_images;
    o->N = N;
    o->gridsize = gridsize;
    o->K = gridsize * gridsize + 2;
    o->raw = false;
}

static int run(const fsci_ptycho_opts *o, const fsci_ptycho_inputs *in, int threads, fsci_sink **s,
               fsci_ptycho_report *rep)
{
    int st = fsci_sink_memory_create(s);
    if (!st) st = fsci_ptycho_simulate(o, in, 9, threads, *s, rep);
    if (!st) st = fsci_sink_close(*s);
    return st;
}

/* Parseval for every pattern: sum A^2 = sum |Y * probe|^2 (noise-free). */
TEST(parseval_odd_n_gridsize3_flat_and_edges)
{
    fsci_ptycho_opts o;
    opts(&o, 120, 33, 3);
    strcpy(o.layout, "flat");
    o.noise = false;
    fsci_array *obj = NULL, *probe = NULL;
    ASSERT_OK(fsci_ptycho_object_builtin("star", 90, 1, &obj));
    ASSERT_OK(fsci_ptycho_probe_disk(33, 0.7, &probe));
    double x[120], y[120];
    for (int i = 0; i < 120; i++) {
        x[i] = i < 4 ? (i % 2 ? 89.0 : 0.0) : 5 + 80.0 * ((i * 37) % 120) / 120.0; /* corners of the object */
        y[i] = i < 4 ? (i / 2 ? 89.0 : 0.0) : 5 + 80.0 * ((i * 53) % 120) / 120.0;
    }
    fsci_ptycho_inputs in = {
        .object = &obj->view, .probe = &probe->view, .xcoords = x, .ycoords = y, .npoints = 120};
    fsci_sink *s = NULL, *s2 = NULL;
    fsci_ptycho_report rep;
    ASSERT_OK(run(&o, &in, 2, &s, &rep));
    ASSERT_EQ(rep.npatterns, 120 * 9);
    fsci_array *amp = take(s, "diffraction");
    ASSERT_TRUE(amp && amp->view.ndim == 3 && amp->view.shape[0] == 1080 && amp->view.shape[1] == 33);
    ASSERT_OK(run(&o, &in, 2, &s2, &rep));
    fsci_array *Y = take(s2, "Y");
    ASSERT_TRUE(Y && Y->view.ndim == 3);
    const float *a = amp->view.data, *yv = Y->view.data, *pv = probe->view.data;
    double worst = 0;
    for (int64_t p = 0; p < 1080; p++) {
        double ea = 0, ey = 0;
        for (int64_t i = 0; i < 33 * 33; i++) {
            double v = (double)a[p * 1089 + i];
            ea += v * v;
            double pr = yv[2 * (p * 1089 + i)], pi = yv[2 * (p * 1089 + i) + 1];
            double qr = pv[2 * i], qi = pv[2 * i + 1];
            double re = pr * qr - pi * qi, im = pr * qi + pi * qr;
            ey += re * re + im * im;
        }
        double rel = fabs(ea - ey) / (ey > 0 ? ey : 1);
        worst = rel > worst ? rel : worst;
    }
    ASSERT_TRUE(worst < 1e-5);
    fsci_array_destroy(&amp);
    fsci_array_destroy(&Y);
    fsci_sink_destroy(&s);
    fsci_sink_destroy(&s2);
    fsci_array_destroy(&obj);
    fsci_array_destroy(&probe);
}

TEST(noise_identical_for_any_thread_count)
{
    fsci_ptycho_opts o;
    opts(&o, 200, 24, 2);
    o.nphotons = 3e4;
    o.raw = true;
    fsci_array *ref = NULL;
    for (int threads = 1; threads <= 3; threads++) {
        fsci_sink *s = NULL;
        fsci_ptycho_report rep;
        ASSERT_OK(run(&o, NULL, threads, &s, &rep));
        fsci_array *a = take(s, "diffraction");
        ASSERT_TRUE(a != NULL);
        if (!ref) {
            ref = a;
            /* mean photons per pattern within 5 sigma of nphotons */
            double sigma = sqrt(3e4 / (double)rep.npatterns);
            ASSERT_TRUE(fabs(rep.mean_counts - 3e4) < 5 * sigma);
        } else {
            ASSERT_TRUE(memcmp(a->view.data, ref->view.data, (size_t)fsci_view_nbytes(&a->view)) == 0);
            fsci_array_destroy(&a);
        }
        fsci_sink_destroy(&s);
    }
    fsci_array_destroy(&ref);
}

TEST(extreme_scales_stay_finite_or_are_refused)
{
    fsci_array *obj = NULL;
    ASSERT_OK(fsci_array_create(FSCI_C64, 2, (int64_t[2]){64, 64}, false, &obj));
    float *ov = obj->view.data;
    for (int i = 0; i < 64 * 64; i++) ov[2 * i] = 1e-30f; /* s ~ 1e34: beyond float, fine in double */
    fsci_ptycho_opts o;
    opts(&o, 50, 16, 1);
    o.nphotons = 1e6;
    fsci_ptycho_inputs in = {.object = &obj->view};
    fsci_sink *s = NULL;
    fsci_ptycho_report rep;
    ASSERT_OK(run(&o, &in, 2, &s, &rep));
    fsci_array *a = take(s, "diffraction");
    ASSERT_TRUE(a != NULL);
    const float *av = a->view.data;
    for (int64_t i = 0; i < fsci_view_numel(&a->view); i++) ASSERT_TRUE(isfinite(av[i]));
    ASSERT_TRUE(fabs(rep.mean_counts - 1e6) < 5 * sqrt(1e6 / 50.0));
    fsci_array_destroy(&a);
    fsci_sink_destroy(&s);
    /* one bright patch in a dark object at 1e13 photons: a pixel mean above the sampler's limit */
    for (int i = 0; i < 64 * 64; i++) ov[2 * i] = 1e-4f;
    for (int r = 20; r < 28; r++)
        for (int c = 20; c < 28; c++) ov[2 * (r * 64 + c)] = 1.0f;
    /* 399 positions that see only the dark part, one on the bright square */
    static double x[400], y[400];
    for (int i = 0; i < 399; i++) {
        x[i] = 42 + 16.0 * (i % 20) / 19.0;
        y[i] = 42 + 16.0 * (i / 20) / 19.0;
    }
    x[399] = y[399] = 24;
    in.xcoords = x;
    in.ycoords = y;
    in.npoints = 400;
    o.n_images = 0; /* given positions fix their own count */
    o.nphotons = 1e13;
    ASSERT_OK(fsci_sink_memory_create(&s));
    ASSERT_STATUS(fsci_ptycho_simulate(&o, &in, 1, 2, s, &rep), FSCI_ERANGE);
    ASSERT_TRUE(strstr(fsci_error_message(), "--nphotons") && strstr(fsci_error_message(), "limit"));
    fsci_sink_destroy(&s);
    fsci_array_destroy(&obj);
}

TEST(bad_probe_shape_is_reported)
{
    fsci_array *probe = NULL;
    ASSERT_OK(fsci_ptycho_probe_disk(16, 0.7, &probe));
    fsci_ptycho_opts o;
    opts(&o, 30, 32, 1);
    fsci_ptycho_inputs in = {.probe = &probe->view};
    fsci_sink *s = NULL;
    ASSERT_OK(fsci_sink_memory_create(&s));
    ASSERT_STATUS(fsci_ptycho_simulate(&o, &in, 1, 1, s, NULL), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "(16, 16) is not N x N = (32, 32)") != NULL);
    fsci_sink_destroy(&s);
    fsci_array_destroy(&probe);
}

TEST(diffract_refuses_bad_inputs)
{
    fsci_array *probe = NULL;
    ASSERT_OK(fsci_ptycho_probe_disk(8, 0.7, &probe));
    float patch[128] = {0}, amp[64];
    patch[0] = 1;
    ((float *)probe->view.data)[6] = NAN;
    ASSERT_STATUS(fsci_ptycho_diffract(patch, 1, 8, &probe->view, 1.0, false, 0, 1, 0, amp, NULL, 1),
                  FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "probe: element (0, 3)") != NULL);
    ((float *)probe->view.data)[6] = 0.5f;
    ASSERT_STATUS(fsci_ptycho_diffract(patch, 1, 8, &probe->view, 1e200, false, 0, 1, 0, amp, NULL, 1),
                  FSCI_EINVAL);
    ASSERT_OK(fsci_ptycho_diffract(patch, 1, 8, &probe->view, 2.0, true, 0, 1, 0, amp, NULL, 1));
    fsci_array_destroy(&probe);
}

/* The size estimate agrees with a written .npz (stored, not deflated). */
TEST(estimate_matches_the_written_file)
{
    const char *tmp = getenv("FSCI_TEST_TMP");
    if (!tmp) {
        printf("  (skipped: FSCI_TEST_TMP not set)\n");
        return;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/estimate.npz", tmp);
    for (int raw = 0; raw < 2; raw++) {
        fsci_ptycho_opts o;
        opts(&o, 300, 32, 2);
        o.raw = raw;
        o.n_groups = 250;
        fsci_ptycho_size z;
        ASSERT_OK(fsci_ptycho_estimate(&o, NULL, &z));
        ASSERT_EQ(z.npoints, 300);
        ASSERT_EQ(z.ngroups, 250);
        ASSERT_EQ(z.npatterns, 1000);
        ASSERT_OK(fsci_ptycho_check_resources(&o, NULL, path));
        fsci_sink *s = NULL;
        fsci_ptycho_report rep;
        ASSERT_OK(fsci_sink_npz_create(path, false, &s));
        int st = fsci_ptycho_simulate(&o, NULL, 3, 1, s, &rep);
        if (!st) st = fsci_sink_close(s);
        fsci_sink_destroy(&s);
        ASSERT_OK(st);
        ASSERT_EQ(rep.npatterns, z.npatterns);
        FILE *f = fopen(path, "rb");
        ASSERT_TRUE(f != NULL);
        fseek(f, 0, SEEK_END);
        double bytes = (double)ftell(f);
        fclose(f);
        remove(path);
        ASSERT_NEAR_REL(z.output_bytes, bytes, 0.02, 0);    /* headers: a few kB of 17 MB */
        ASSERT_TRUE(z.memory_bytes > 1000.0 * 32 * 32 * 4); /* at least the diffraction */
    }
    /* a positions file is counted from its header */
    fsci_ptycho_opts o;
    opts(&o, 0, 32, 2);
    snprintf(o.positions, sizeof o.positions, "%s/missing-positions.npz", tmp);
    fsci_ptycho_size z;
    ASSERT_STATUS(fsci_ptycho_estimate(&o, NULL, &z), FSCI_EIO);
    ASSERT_TRUE(strstr(fsci_error_message(), "missing-positions.npz"));
}

/* Requests beyond the machine are refused before computing. */
TEST(requests_beyond_the_memory_are_refused_up_front)
{
    fsci_ptycho_opts o;
    opts(&o, 1000000, 1024, 2);
    fsci_sink *s = NULL;
    ASSERT_OK(fsci_sink_memory_create(&s));
    fsci_ptycho_report rep;
    ASSERT_STATUS(fsci_ptycho_simulate(&o, NULL, 1, 1, s, &rep), FSCI_ERANGE);
    const char *m = fsci_error_message();
    ASSERT_TRUE(strstr(m, "--N 1024") && strstr(m, "4000000 patterns") && strstr(m, "TB of memory"));
    ASSERT_EQ(fsci_sink_memory_count(s), 0); /* nothing written */
    fsci_sink_destroy(&s);
    /* the same request for an output kept in memory (the Python path) */
    ASSERT_STATUS(fsci_ptycho_check_resources(&o, NULL, NULL), FSCI_ERANGE);
    ASSERT_TRUE(strstr(fsci_error_message(), "the output is kept in memory"));
    /* given positions fix their own count: n_images must be 0 or equal */
    opts(&o, 20, 16, 1);
    double x[30], y[30];
    for (int i = 0; i < 30; i++) x[i] = y[i] = 10 + i;
    fsci_ptycho_inputs in = {.xcoords = x, .ycoords = y, .npoints = 30};
    ASSERT_OK(fsci_sink_memory_create(&s));
    ASSERT_STATUS(fsci_ptycho_simulate(&o, &in, 1, 1, s, &rep), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "--n-images: 20 conflicts with the 30 positions"));
    fsci_sink_destroy(&s);
}

TESTKIT_MAIN()
