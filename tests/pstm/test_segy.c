/* pstm SEG-Y layer (src/pstm/segy.c, segy_write.c): our writer read back by
 * our reader and by python3-segyio; files written by python3-segyio (IBM and
 * IEEE, big- and little-endian) and byte by byte here (integer formats, bad
 * headers) read by our reader; every refusal names the file and the field. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "fastsci/core/alloc.h"
#include "pstm/pstm_impl.h"
#include "testkit.h"

static char *tmp_path(const char *name)
{
    static char buf[8][1024];
    static int next;
    const char *t = getenv("FSCI_TEST_TMP");
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/segy_%s", t ? t : "/tmp", name);
    return p;
}

static bool message_has(const char *s)
{
    const char *m = fsci_error_message();
    bool ok = strstr(m, s) != NULL;
    if (!ok) fprintf(stderr, "  message: %s\n  wanted: %s\n", m, s);
    return ok;
}

static bool file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* Run a Python script with python3-segyio; 0 when it exits 0. */
static int run_python(const char *name, const char *script)
{
    const char *py = getenv("FSCI_PYTHON");
    char *sp = tmp_path(name);
    FILE *f = fopen(sp, "w");
    if (!f) return -1;
    fputs(script, f);
    fclose(f);
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "%s %s", py ? py : "/usr/bin/python3", sp);
    return system(cmd);
}

/* ---- our writer, read back --------------------------------------------------- */

enum { RT_NTR = 5, RT_NS = 13 };

static void rt_header(int i, fsci__segy_trace_hdr *h)
{
    memset(h, 0, sizeof *h);
    /* centimetre coordinates, negative ones, and one trace too large for
     * centimetres in 32 bits (needs decimetres) */
    h->sx = 1000.25 + 10 * i;
    h->sy = -250.5 - i;
    h->gx = 1200.75 + 10 * i;
    h->gy = 99.01 * i;
    h->cdpx = h->sx + 100.07;
    h->cdpy = h->gy - 50.25;
    if (i == 3) {
        h->sx = 3.0e7 + 0.5;
        h->cdpx = -2.5e7;
    }
    if (i == 4) h->gx = 5.0e8; /* fits only as whole metres */
    h->offset = 200 + 25 * i;
    h->cdp = 1000 + i;
    h->inline_no = 7 + i / 2;
    h->crossline_no = 300 - i;
    h->fldr = 40 + i;
    h->tracf = 90 + i;
}

static float rt_sample(int i, int k)
{
    return (float)(sin(0.37 * k + i) * pow(10.0, i - 2)) + (k == 5 ? 1e-30f : 0.0f);
}

/* The header as read back: coordinates at the precision of the trace's
 * scalar (cm, dm for trace 3, m for trace 4). */
static void rt_expected(int i, fsci__segy_trace_hdr *h)
{
    static const double mult[RT_NTR] = {100, 100, 100, 10, 1};
    rt_header(i, h);
    double *c[6] = {&h->sx, &h->sy, &h->gx, &h->gy, &h->cdpx, &h->cdpy};
    for (int k = 0; k < 6; k++) *c[k] = nearbyint(*c[k] * mult[i]) / mult[i];
}

static int write_rt(const char *path)
{
    fsci__segy_writer *w = NULL;
    int st = fsci__segy_create(path, RT_NTR, RT_NS, 0.004, "pstm test\nsecond line", &w);
    for (int i = 0; i < RT_NTR && st == 0; i++) {
        fsci__segy_trace_hdr h;
        float s[RT_NS];
        rt_header(i, &h);
        for (int k = 0; k < RT_NS; k++) s[k] = rt_sample(i, k);
        st = fsci__segy_put(w, &h, s);
    }
    if (st == 0) return fsci__segy_commit(&w);
    fsci__segy_abort(&w);
    return st;
}

static uint32_t rd_be(const unsigned char *p, int n)
{
    uint32_t v = 0;
    for (int k = 0; k < n; k++) v = v << 8 | p[k];
    return v;
}

TEST(write_read_roundtrip)
{
    const char *path = tmp_path("rt.sgy");
    ASSERT_OK(write_rt(path));
    fsci__segy *f = NULL;
    ASSERT_OK(fsci__segy_open(path, &f));
    const fsci__segy_geom *g = fsci__segy_geometry(f);
    ASSERT_EQ(g->ntr, RT_NTR);
    ASSERT_EQ(g->ns, RT_NS);
    ASSERT_EQ(g->format, 5);
    ASSERT_TRUE(!g->lsb);
    ASSERT_TRUE(g->dt == 0.004);
    ASSERT_TRUE(g->t0 == 0.0);
    for (int i = 0; i < RT_NTR; i++) {
        fsci__segy_trace_hdr h;
        rt_expected(i, &h);
        ASSERT_TRUE(g->sx[i] == h.sx);
        ASSERT_TRUE(g->sy[i] == h.sy);
        ASSERT_TRUE(g->gx[i] == h.gx);
        ASSERT_TRUE(g->gy[i] == h.gy);
        ASSERT_TRUE(g->cdpx[i] == h.cdpx);
        ASSERT_TRUE(g->cdpy[i] == h.cdpy);
        ASSERT_EQ(g->offset[i], h.offset);
        ASSERT_EQ(g->fldr[i], h.fldr);
    }
    float d[RT_NTR * RT_NS];
    ASSERT_OK(fsci__segy_read(f, 0, RT_NTR, d));
    for (int i = 0; i < RT_NTR; i++)
        for (int k = 0; k < RT_NS; k++) ASSERT_TRUE(d[i * RT_NS + k] == rt_sample(i, k));
    int64_t idx[4] = {3, 0, 4, 3};
    float e[4 * RT_NS];
    ASSERT_OK(fsci__segy_read_list(f, idx, 4, e));
    for (int j = 0; j < 4; j++)
        for (int k = 0; k < RT_NS; k++) ASSERT_TRUE(e[j * RT_NS + k] == rt_sample((int)idx[j], k));
    ASSERT_OK(fsci__segy_read(f, 2, 1, e));
    for (int k = 0; k < RT_NS; k++) ASSERT_TRUE(e[k] == rt_sample(2, k));
    ASSERT_STATUS(fsci__segy_read(f, 4, 2, e), FSCI_EINVAL);
    int64_t bad = RT_NTR;
    ASSERT_STATUS(fsci__segy_read_list(f, &bad, 1, e), FSCI_EINVAL);
    fsci__segy_close(&f);
    ASSERT_TRUE(f == NULL);
}

/* The bytes the standard fixes, read straight from the file. */
TEST(write_layout)
{
    const char *path = tmp_path("rt_layout.sgy");
    ASSERT_OK(write_rt(path));
    FILE *fp = fopen(path, "rb");
    ASSERT_TRUE(fp);
    static unsigned char b[3600 + RT_NTR * (240 + 4 * RT_NS)];
    size_t n = fread(b, 1, sizeof b + 1, fp);
    fclose(fp);
    ASSERT_EQ(n, sizeof b);
    ASSERT_EQ(b[0], 0xC3);                 /* 'C' in EBCDIC */
    ASSERT_EQ(b[4], 0x97);                 /* 'p' of "pstm test" */
    ASSERT_EQ(b[80 + 4], 0xA2);            /* 's' of "second line" */
    ASSERT_EQ(rd_be(b + 3216, 2), 4000);   /* dt, microseconds */
    ASSERT_EQ(rd_be(b + 3220, 2), RT_NS);  /* ns */
    ASSERT_EQ(rd_be(b + 3224, 2), 5);      /* IEEE float */
    ASSERT_EQ(rd_be(b + 3500, 2), 0x0100); /* SEG-Y revision 1.0 */
    ASSERT_EQ(rd_be(b + 3502, 2), 1);      /* fixed-length traces */
    ASSERT_EQ(rd_be(b + 3504, 2), 0);      /* no extended textual headers */
    const int32_t want_scalar[RT_NTR] = {-100, -100, -100, -10, 1};
    for (int i = 0; i < RT_NTR; i++) {
        const unsigned char *t = b + 3600 + i * (240 + 4 * RT_NS);
        fsci__segy_trace_hdr h;
        rt_header(i, &h);
        ASSERT_EQ((int16_t)rd_be(t + 70, 2), want_scalar[i]);
        ASSERT_EQ((int32_t)rd_be(t + 20, 4), h.cdp);
        ASSERT_EQ((int32_t)rd_be(t + 12, 4), h.tracf);
        ASSERT_EQ((int32_t)rd_be(t + 188, 4), h.inline_no);
        ASSERT_EQ((int32_t)rd_be(t + 192, 4), h.crossline_no);
        ASSERT_EQ(rd_be(t + 114, 2), RT_NS);
        ASSERT_EQ(rd_be(t + 116, 2), 4000);
        uint32_t u = rd_be(t + 240, 4);
        float s;
        memcpy(&s, &u, 4);
        ASSERT_TRUE(s == rt_sample(i, 0)); /* IEEE big-endian */
    }
}

/* python3-segyio reads our output with the expected headers. */
TEST(python_reads_our_output)
{
    const char *path = tmp_path("rt_py.sgy");
    const char *dump = tmp_path("rt_py.txt");
    ASSERT_OK(write_rt(path));
    char script[2048];
    snprintf(
        script, sizeof script,
        "import segyio\n"
        "with segyio.open(%s%s%s, ignore_geometry=True) as f, open(%s%s%s, 'w') as o:\n"
        "    o.write('%%d %%d %%d %%d\\n' %% (f.tracecount, len(f.samples), f.bin[segyio.BinField.Interval],"
        " f.format))\n"
        "    o.write('%%d\\n' %% (bytes(f.text[0][:16]) == b'C 1 pstm test   '))\n"
        "    for i in range(f.tracecount):\n"
        "        h = f.header[i]; T = segyio.TraceField\n"
        "        s = h[T.SourceGroupScalar]; c = (lambda v: v * s if s > 0 else v / -s if s < 0 else v)\n"
        "        o.write('%%.17g %%.17g %%d %%d %%d %%d %%d %%.9g\\n' %% (c(h[T.CDP_X]), c(h[T.CDP_Y]),"
        " h[T.INLINE_3D], h[T.CROSSLINE_3D], h[T.offset], h[T.CDP], h[T.TRACE_SAMPLE_COUNT],"
        " f.trace[i][7]))\n",
        "'", path, "'", "'", dump, "'");
    ASSERT_EQ(run_python("rt_py.py", script), 0);
    FILE *fp = fopen(dump, "r");
    ASSERT_TRUE(fp);
    int ntr = 0, ns = 0, dt = 0, fmt = 0;
    int text_ok = 0;
    int ok = fscanf(fp, "%d %d %d %d %d", &ntr, &ns, &dt, &fmt, &text_ok) == 5;
    ASSERT_TRUE(ok);
    ASSERT_EQ(ntr, RT_NTR);
    ASSERT_EQ(ns, RT_NS);
    ASSERT_EQ(dt, 4000);
    ASSERT_EQ(fmt, 5);
    ASSERT_EQ(text_ok, 1); /* our EBCDIC text as segyio decodes it */
    for (int i = 0; i < RT_NTR; i++) {
        double cx, cy, s7;
        int il, xl, off, cdp, tns;
        ASSERT_EQ(fscanf(fp, "%lf %lf %d %d %d %d %d %lf", &cx, &cy, &il, &xl, &off, &cdp, &tns, &s7), 8);
        fsci__segy_trace_hdr h;
        rt_expected(i, &h);
        ASSERT_NEAR_REL(cx, h.cdpx, 1e-15, 0);
        ASSERT_NEAR_REL(cy, h.cdpy, 1e-15, 0);
        ASSERT_EQ(il, h.inline_no);
        ASSERT_EQ(xl, h.crossline_no);
        ASSERT_EQ(off, h.offset);
        ASSERT_EQ(cdp, h.cdp);
        ASSERT_EQ(tns, RT_NS);
        ASSERT_TRUE((float)s7 == rt_sample(i, 7));
    }
    fclose(fp);
}

/* ---- files written by python3-segyio ------------------------------------------ */

/* Trace i: scalar (positive, negative, zero), coordinates as stored, and
 * samples exact in IBM and IEEE floats. */
static const int py_scalar[4] = {-100, 10, 0, -1000};

static double py_scaled(int32_t v, int s)
{
    return s > 0 ? (double)v * s : s < 0 ? (double)v / -s : (double)v;
}

static float py_sample(int i, int k)
{
    return (float)(k - 3) * 0.375f + (float)i * 64.0f;
}

static int python_file(const char *path, int fmt, const char *endian, int bin_dt, int trace_dt)
{
    char script[2048];
    snprintf(script, sizeof script,
             "import segyio, numpy as np\n"
             "sp = segyio.spec(); sp.format = %d; sp.samples = list(range(9)); sp.tracecount = 4\n"
             "sp.endian = '%s'\n"
             "sc = [-100, 10, 0, -1000]\n"
             "with segyio.create('%s', sp) as f:\n"
             "    for i in range(4):\n"
             "        T = segyio.TraceField\n"
             "        f.header[i] = {T.SourceGroupScalar: sc[i], T.SourceX: 123456 + i, T.SourceY: -98765,"
             " T.GroupX: 7 * i, T.GroupY: -1, T.CDP_X: 2**31 - 1, T.CDP_Y: -2**31, T.offset: -50 * i,"
             " T.FieldRecord: 11 + i, T.DelayRecordingTime: 24, T.TRACE_SAMPLE_INTERVAL: %d,"
             " T.TRACE_SAMPLE_COUNT: 9}\n"
             "        f.trace[i] = (np.arange(9, dtype=np.float32) - 3) * 0.375 + 64 * i\n"
             "    f.bin.update(hdt=%d)\n",
             fmt, endian, path, trace_dt, bin_dt);
    return run_python("mk.py", script);
}

static void check_python_file(int *testkit_failed, const char *path, int fmt, bool lsb, double dt)
{
    fsci__segy *f = NULL;
    ASSERT_OK(fsci__segy_open(path, &f));
    const fsci__segy_geom *g = fsci__segy_geometry(f);
    ASSERT_EQ(g->ntr, 4);
    ASSERT_EQ(g->ns, 9);
    ASSERT_EQ(g->format, fmt);
    ASSERT_EQ(g->lsb, lsb);
    ASSERT_TRUE(g->dt == dt);
    ASSERT_TRUE(g->t0 == 0.024);
    for (int i = 0; i < 4; i++) {
        int s = py_scalar[i];
        ASSERT_TRUE(g->sx[i] == py_scaled(123456 + i, s));
        ASSERT_TRUE(g->sy[i] == py_scaled(-98765, s));
        ASSERT_TRUE(g->gx[i] == py_scaled(7 * i, s));
        ASSERT_TRUE(g->gy[i] == py_scaled(-1, s));
        ASSERT_TRUE(g->cdpx[i] == py_scaled(INT32_MAX, s));
        ASSERT_TRUE(g->cdpy[i] == py_scaled(INT32_MIN, s));
        ASSERT_EQ(g->offset[i], -50 * i);
        ASSERT_EQ(g->fldr[i], 11 + i);
    }
    /* spot values, not only the pattern: -100 divides, 10 multiplies, 0 keeps */
    ASSERT_TRUE(g->sx[0] == 1234.56);
    ASSERT_TRUE(g->sx[1] == 1234570.0);
    ASSERT_TRUE(g->sx[2] == 123458.0);
    ASSERT_TRUE(g->sy[3] == -98.765);
    float d[4 * 9];
    ASSERT_OK(fsci__segy_read(f, 0, 4, d));
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 9; k++) ASSERT_TRUE(d[i * 9 + k] == py_sample(i, k));
    fsci__segy_close(&f);
}

TEST(read_python_ibm_ieee_both_endians)
{
    const int fmts[2] = {1, 5};
    const char *ends[2] = {"big", "little"};
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            char name[64];
            snprintf(name, sizeof name, "py_f%d_%s.sgy", fmts[a], ends[b]);
            const char *path = tmp_path(name);
            ASSERT_EQ(python_file(path, fmts[a], ends[b], 2000, 2000), 0);
            int failed = 0;
            check_python_file(&failed, path, fmts[a], b == 1, 0.002);
            if (failed) TESTKIT_FAIL("%s", path);
        }
}

/* Binary dt 0: the first trace header's interval is used. */
TEST(read_python_dt_from_trace_header)
{
    const char *path = tmp_path("py_dt0.sgy");
    ASSERT_EQ(python_file(path, 1, "little", 0, 3000), 0);
    int failed = 0;
    check_python_file(&failed, path, 1, true, 0.003);
    if (failed) TESTKIT_FAIL("%s", path);
}

/* ---- files built byte by byte --------------------------------------------------- */

typedef struct rawspec {
    int fmt, fmt_code; /* sample encoding; the code written (0: fmt) */
    bool lsb;
    int ns, ntr, dt_bin, dt_tr;
    int ns_bin;     /* -1: ns */
    int ext;        /* extended textual headers */
    long cut;       /* bytes removed at the end */
    int nan_at;     /* IEEE: sample index of trace 1 set to NaN (-1 none) */
    int delrt_last; /* delay of the last trace (others 0) */
} rawspec;

static void put_n(unsigned char *p, uint32_t v, int n, bool lsb)
{
    for (int k = 0; k < n; k++) p[lsb ? k : n - 1 - k] = (unsigned char)(v >> (8 * k));
}

static int raw_value(int i, int k)
{
    return (k % 2 ? -1 : 1) * (i * 10 + k);
}

static int write_raw(const char *path, const rawspec *r)
{
    int es = r->fmt == 3 ? 2 : r->fmt == 8 ? 1 : 4;
    long trb = 240 + (long)r->ns * es, hdr = 3600 + 3200L * r->ext;
    long size = hdr + trb * r->ntr;
    unsigned char *b = calloc((size_t)size, 1);
    if (!b) return -1;
    put_n(b + 3216, (uint32_t)r->dt_bin, 2, r->lsb);
    put_n(b + 3220, (uint32_t)(r->ns_bin >= 0 ? r->ns_bin : r->ns), 2, r->lsb);
    put_n(b + 3224, (uint32_t)(r->fmt_code ? r->fmt_code : r->fmt), 2, r->lsb);
    put_n(b + 3504, (uint32_t)r->ext, 2, r->lsb);
    for (int i = 0; i < r->ntr; i++) {
        unsigned char *t = b + hdr + i * trb;
        put_n(t + 70, (uint32_t)-10, 2, r->lsb);
        put_n(t + 72, (uint32_t)(1000 + i), 4, r->lsb);
        put_n(t + 116, (uint32_t)r->dt_tr, 2, r->lsb);
        put_n(t + 108, (uint32_t)(i == r->ntr - 1 ? r->delrt_last : 0), 2, r->lsb);
        for (int k = 0; k < r->ns; k++) {
            int v = raw_value(i, k);
            uint32_t u = (uint32_t)v;
            if (r->fmt == 5) {
                float x = (i == 1 && k == r->nan_at) ? NAN : (float)v;
                memcpy(&u, &x, 4);
            }
            put_n(t + 240 + k * es, u, es, r->lsb);
        }
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(b);
        return -1;
    }
    size_t w = fwrite(b, 1, (size_t)(size - r->cut), f);
    fclose(f);
    free(b);
    return w == (size_t)(size - r->cut) ? 0 : -1;
}

static rawspec raw_default(int fmt, bool lsb)
{
    rawspec r = {
        .fmt = fmt, .lsb = lsb, .ns = 6, .ntr = 3, .dt_bin = 1000, .dt_tr = 1000, .ns_bin = -1, .nan_at = -1};
    return r;
}

TEST(read_integer_formats)
{
    const int fmts[3] = {2, 3, 8};
    for (int a = 0; a < 3; a++)
        for (int lsb = 0; lsb < 2; lsb++) {
            const char *path = tmp_path("int.sgy");
            rawspec r = raw_default(fmts[a], lsb);
            r.ext = lsb; /* one extended textual header in the little-endian ones */
            ASSERT_EQ(write_raw(path, &r), 0);
            fsci__segy *f = NULL;
            ASSERT_OK(fsci__segy_open(path, &f));
            const fsci__segy_geom *g = fsci__segy_geometry(f);
            ASSERT_EQ(g->format, fmts[a]);
            ASSERT_EQ(g->lsb, lsb);
            ASSERT_EQ(g->ntr, 3);
            ASSERT_TRUE(g->sx[2] == 100.2);
            float d[3 * 6];
            ASSERT_OK(fsci__segy_read(f, 0, 3, d));
            for (int i = 0; i < 3; i++)
                for (int k = 0; k < 6; k++) ASSERT_TRUE(d[i * 6 + k] == (float)raw_value(i, k));
            fsci__segy_close(&f);
        }
}

/* More than 32767 samples: the 16-bit count is unsigned. */
TEST(read_long_traces)
{
    const char *path = tmp_path("long.sgy");
    rawspec r = raw_default(8, false);
    r.ns = 40000, r.ntr = 2;
    ASSERT_EQ(write_raw(path, &r), 0);
    fsci__segy *f = NULL;
    ASSERT_OK(fsci__segy_open(path, &f));
    ASSERT_EQ(fsci__segy_geometry(f)->ns, 40000);
    float *d = fsci_malloc(40000, sizeof(float));
    ASSERT_TRUE(d);
    int st = fsci__segy_read(f, 1, 1, d);
    bool same = true;
    for (int k = 0; k < 40000 && st == 0; k++) same = same && d[k] == (float)(int8_t)(raw_value(1, k) & 0xff);
    fsci_free(d);
    fsci__segy_close(&f);
    ASSERT_OK(st);
    ASSERT_TRUE(same);
}

/* One bad file: the open fails with `code` and a message naming the file and
 * `field`. */
static void expect_bad(int *testkit_failed, const char *name, const rawspec *r, int code, const char *field)
{
    const char *path = tmp_path(name);
    ASSERT_EQ(write_raw(path, r), 0);
    fsci__segy *f = NULL;
    ASSERT_STATUS(fsci__segy_open(path, &f), code);
    ASSERT_TRUE(f == NULL);
    ASSERT_TRUE(message_has(path));
    ASSERT_TRUE(message_has(field));
}

TEST(bad_headers_and_sizes)
{
    int failed = 0;
    rawspec r = raw_default(5, false);
    r.cut = 7;
    expect_bad(&failed, "trunc.sgy", &r, FSCI_EFORMAT, "truncated: trace 2 has 257 of its 264 bytes");
    r = raw_default(5, true);
    r.cut = 264 + 30;
    expect_bad(&failed, "trunc2.sgy", &r, FSCI_EFORMAT, "truncated: trace 1 has 234 of");
    r = raw_default(5, false);
    r.dt_bin = 0, r.dt_tr = 0;
    expect_bad(&failed, "dt0.sgy", &r, FSCI_EFORMAT, "sample interval is 0 in the binary header (bytes 3217");
    r = raw_default(5, false);
    r.fmt_code = 7;
    expect_bad(&failed, "fmt7.sgy", &r, FSCI_ENOTSUP, "format code (bytes 3225-3226) 7");
    r.fmt_code = 4; /* obsolete fixed point: not supported */
    expect_bad(&failed, "fmt4.sgy", &r, FSCI_ENOTSUP, "format code (bytes 3225-3226) 4");
    r = raw_default(5, false);
    r.ns_bin = 0;
    expect_bad(&failed, "ns0.sgy", &r, FSCI_EFORMAT, "samples per trace (bytes 3221-3222) is 0");
    r = raw_default(5, false);
    r.ns_bin = 5; /* the size is no whole number of 5-sample traces */
    expect_bad(&failed, "ns5.sgy", &r, FSCI_EFORMAT, "truncated");
    r = raw_default(5, false);
    r.ntr = 0;
    expect_bad(&failed, "empty.sgy", &r, FSCI_EFORMAT, "no traces");
    r = raw_default(5, false);
    r.ntr = 0, r.cut = 1;
    expect_bad(&failed, "short.sgy", &r, FSCI_EFORMAT, "3599 bytes, shorter than the 3600-byte");
    r = raw_default(3, false);
    r.delrt_last = 8;
    expect_bad(&failed, "delrt.sgy", &r, FSCI_ENOTSUP, "trace 2: delay recording time (bytes 109-110) 8 ms");
    if (failed) TESTKIT_FAIL("see above");
}

TEST(nan_sample_named)
{
    const char *path = tmp_path("nan.sgy");
    rawspec r = raw_default(5, true);
    r.nan_at = 4;
    ASSERT_EQ(write_raw(path, &r), 0);
    fsci__segy *f = NULL;
    ASSERT_OK(fsci__segy_open(path, &f)); /* samples are read on demand */
    float d[3 * 6];
    ASSERT_OK(fsci__segy_read(f, 0, 1, d));
    ASSERT_STATUS(fsci__segy_read(f, 0, 3, d), FSCI_EFORMAT);
    ASSERT_TRUE(message_has(path));
    ASSERT_TRUE(message_has("trace 1 sample 4 is NaN"));
    int64_t idx[2] = {2, 1};
    ASSERT_STATUS(fsci__segy_read_list(f, idx, 2, d), FSCI_EFORMAT);
    ASSERT_TRUE(message_has("trace 1 sample 4"));
    fsci__segy_close(&f);
}

TEST(not_regular_files)
{
    fsci__segy *f = NULL;
    const char *dir = tmp_path("a_folder");
    mkdir(dir, 0700);
    ASSERT_STATUS(fsci__segy_open(dir, &f), FSCI_EIO);
    ASSERT_TRUE(message_has(dir));
    ASSERT_TRUE(message_has("is a directory"));
    const char *fifo = tmp_path("a_fifo");
    unlink(fifo);
    ASSERT_EQ(mkfifo(fifo, 0600), 0);
    ASSERT_STATUS(fsci__segy_open(fifo, &f), FSCI_EIO); /* returns at once: no writer needed */
    ASSERT_TRUE(message_has(fifo));
    ASSERT_TRUE(message_has("is a FIFO"));
    unlink(fifo);
    ASSERT_STATUS(fsci__segy_open("/dev/zero", &f), FSCI_EIO);
    ASSERT_TRUE(message_has("character device"));
    const char *none = tmp_path("does_not_exist.sgy");
    ASSERT_STATUS(fsci__segy_open(none, &f), FSCI_EIO);
    ASSERT_TRUE(message_has(none));
    ASSERT_TRUE(f == NULL);
    fsci__segy_close(&f); /* NULL is fine */
}

/* ---- writer errors ---------------------------------------------------------------- */

static void write_marker(const char *path)
{
    FILE *fp = fopen(path, "w");
    if (fp) {
        fputs("old", fp);
        fclose(fp);
    }
}

static bool has_marker(const char *path)
{
    char b[8] = {0};
    FILE *fp = fopen(path, "r");
    if (!fp) return false;
    size_t n = fread(b, 1, sizeof b - 1, fp);
    fclose(fp);
    return n == 3 && strcmp(b, "old") == 0;
}

TEST(writer_counts_and_atomicity)
{
    const char *path = tmp_path("w_err.sgy");
    write_marker(path);
    fsci__segy_writer *w = NULL;
    fsci__segy_trace_hdr h;
    rt_header(0, &h);
    float s[4] = {1, 2, 3, 4};
    ASSERT_OK(fsci__segy_create(path, 2, 4, 0.001, NULL, &w));
    ASSERT_OK(fsci__segy_put(w, &h, s));
    ASSERT_TRUE(has_marker(path)); /* nothing appears before commit */
    ASSERT_STATUS(fsci__segy_commit(&w), FSCI_EINVAL);
    ASSERT_TRUE(message_has("commit after 1 of 2 traces"));
    ASSERT_TRUE(message_has(path));
    ASSERT_TRUE(w == NULL);
    ASSERT_TRUE(has_marker(path));

    ASSERT_OK(fsci__segy_create(path, 1, 4, 0.001, NULL, &w));
    ASSERT_OK(fsci__segy_put(w, &h, s));
    ASSERT_STATUS(fsci__segy_put(w, &h, s), FSCI_EINVAL);
    ASSERT_TRUE(message_has("created for 1 traces"));
    s[2] = NAN;
    fsci__segy_abort(&w);
    ASSERT_TRUE(has_marker(path));

    ASSERT_OK(fsci__segy_create(path, 1, 4, 0.001, NULL, &w));
    ASSERT_STATUS(fsci__segy_put(w, &h, s), FSCI_EINVAL);
    ASSERT_TRUE(message_has("trace 0 sample 2 is nan"));
    s[2] = 3;
    h.gy = INFINITY;
    ASSERT_STATUS(fsci__segy_put(w, &h, s), FSCI_EINVAL);
    ASSERT_TRUE(message_has("coordinate gy is inf"));
    h.gy = 3e9;
    ASSERT_STATUS(fsci__segy_put(w, &h, s), FSCI_ERANGE);
    ASSERT_TRUE(message_has("coordinate gy = 3e+09 m does not fit"));
    fsci__segy_abort(&w);
    ASSERT_TRUE(has_marker(path));

    ASSERT_STATUS(fsci__segy_create(path, 0, 4, 0.001, NULL, &w), FSCI_EINVAL);
    ASSERT_STATUS(fsci__segy_create(path, 1, 32768, 0.001, NULL, &w), FSCI_EINVAL);
    ASSERT_TRUE(message_has("samples per trace 32768"));
    ASSERT_STATUS(fsci__segy_create(path, 1, 4, 0.032768, NULL, &w), FSCI_EINVAL);
    ASSERT_TRUE(message_has("sample interval 0.032768 s outside"));
    ASSERT_STATUS(fsci__segy_create(path, 1, 4, 0.0, NULL, &w), FSCI_EINVAL);
    ASSERT_STATUS(fsci__segy_create(path, 1, 4, 0.0000015, NULL, &w), FSCI_EINVAL);
    ASSERT_TRUE(message_has("not a whole number of microseconds"));
    ASSERT_TRUE(w == NULL);
    ASSERT_TRUE(has_marker(path));
    const char *dir = tmp_path("a_folder");
    mkdir(dir, 0700);
    ASSERT_STATUS(fsci__segy_create(dir, 1, 4, 0.001, NULL, &w), FSCI_EINVAL);
    ASSERT_TRUE(file_exists(dir));
}

TESTKIT_MAIN()
