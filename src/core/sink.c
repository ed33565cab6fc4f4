/* Sinks: an .npz archive, a directory of files (written as one atomic set),
 * memory, or nothing. See include/fastsci/core/sink.h. */
#include <jansson.h>
#include <string.h>

#include "core/io/npy_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/atomic.h"
#include "fastsci/core/error.h"
#include "fastsci/core/npy.h"
#include "fastsci/core/sink.h"

enum { NAME_CAP = 128 };

typedef struct member {
    char name[NAME_CAP];
    fsci_array *array;
    char *text;
} member;

struct fsci_sink {
    enum fsci_sink_kind kind;
    fsci_npz_writer *npz; /* FSCI_SINK_NPZ */
    fsci_atomic_dir *dir; /* FSCI_SINK_DIR */
    /* memory sink */
    member *members;
    int64_t n, cap;
    fsci_array *open; /* member being streamed */
    int64_t open_off; /* bytes written into it */
    /* null sink: the member being streamed (size, bytes so far) */
    bool null_open;
    int64_t null_total, null_off;
    /* directory sink: the file being streamed */
    fsci_atomic *file;
    uint64_t file_left;
    char *summary;
    bool closed;
};

static int sink_alloc(enum fsci_sink_kind kind, fsci_sink **out)
{
    FSCI_CHECK(out, FSCI_EINVAL, "sink: NULL output");
    *out = fsci_calloc(1, sizeof **out);
    FSCI_CHECK(*out, FSCI_ENOMEM, "sink: out of memory");
    (*out)->kind = kind;
    return FSCI_OK;
}

int fsci_sink_npz_create(const char *path, bool compress, fsci_sink **out)
{
    int st = FSCI_OK;
    fsci_sink *s = NULL;
    FSCI_TRY(sink_alloc(FSCI_SINK_NPZ, &s));
    FSCI_TRY(fsci_npz_writer_create(path, compress, &s->npz));
    *out = s;
    return FSCI_OK;
fail:
    fsci_sink_destroy(&s);
    return st;
}

int fsci_sink_memory_create(fsci_sink **out)
{
    return sink_alloc(FSCI_SINK_MEMORY, out);
}

int fsci_sink_null_create(fsci_sink **out)
{
    return sink_alloc(FSCI_SINK_NULL, out);
}

int fsci_sink_dir_create(const char *dir, fsci_sink **out)
{
    int st = FSCI_OK;
    fsci_sink *s = NULL;
    FSCI_TRY(sink_alloc(FSCI_SINK_DIR, &s));
    FSCI_TRY(fsci_atomic_dir_open(dir, FSCI_ATOMIC_DEFAULT, &s->dir));
    *out = s;
    return FSCI_OK;
fail:
    fsci_sink_destroy(&s);
    return st;
}

enum fsci_sink_kind fsci_sink_kind(const fsci_sink *s)
{
    return s ? s->kind : FSCI_SINK_MEMORY;
}

static int push(fsci_sink *s, const char *name, member **m)
{
    FSCI_CHECK(name[0] && strlen(name) < NAME_CAP, FSCI_EINVAL, "sink: member name '%s' is empty or too long",
               name);
    for (int64_t i = 0; i < s->n; i++)
        FSCI_CHECK(strcmp(s->members[i].name, name) != 0, FSCI_EINVAL, "sink: duplicate member '%s'", name);
    if (s->n == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 16;
        member *nm = fsci_calloc((size_t)cap, sizeof *nm);
        FSCI_CHECK(nm, FSCI_ENOMEM, "sink: out of memory");
        if (s->n) memcpy(nm, s->members, (size_t)s->n * sizeof *nm);
        fsci_free(s->members);
        s->members = nm;
        s->cap = cap;
    }
    *m = &s->members[s->n++];
    strcpy((*m)->name, name);
    return FSCI_OK;
}

/* ---- directory sink: one file per member --------------------------------- */

/* File name of an array member: NAME.npy unless it has an extension;
 * *raw when the bytes go without a .npy header. */
static int dir_file_name(const char *name, char *buf, size_t cap, bool *raw)
{
    const char *dot = strrchr(name, '.');
    bool ext = dot && dot != name && dot[1] != '\0';
    *raw = ext && strcmp(dot, ".npy") != 0;
    int n = snprintf(buf, cap, "%s%s", name, ext ? "" : ".npy");
    FSCI_CHECK(n > 0 && (size_t)n < cap, FSCI_EINVAL, "sink: member name '%s' is too long", name);
    return FSCI_OK;
}

/* Open file `fname` of the set for writing. */
static int dir_open_file(fsci_sink *s, const char *fname, fsci_atomic **a)
{
    int st = FSCI_OK;
    char *path = NULL;
    FSCI_TRY(fsci_atomic_dir_file(s->dir, fname, &path));
    FSCI_TRY(fsci_atomic_open(path, FSCI_ATOMIC_REGULAR_ONLY | FSCI_ATOMIC_NO_FSYNC, a));
fail:
    fsci_free(path);
    return st;
}

static int dir_begin(fsci_sink *s, const char *name, fsci_dtype dtype, int ndim, const int64_t *shape)
{
    int st = FSCI_OK;
    char fname[NAME_CAP + 8];
    bool raw;
    FSCI_CHECK(!s->file, FSCI_EINVAL, "sink: member '%s' begun inside another", name);
    FSCI_CHECK(ndim >= 0 && ndim <= FSCI_MAX_NDIM && (ndim == 0 || shape), FSCI_EINVAL,
               "sink: member '%s': bad ndim %d or NULL shape", name, ndim);
    fsci_view v;
    memset(&v, 0, sizeof v);
    v.dtype = dtype;
    v.ndim = ndim;
    for (int d = 0; d < ndim; d++) v.shape[d] = shape[d];
    v.data = &v; /* checked only for being non-NULL */
    FSCI_TRY(fsci__npy_check_view(&v, fsci_atomic_dir_path(s->dir), name));
    FSCI_TRY(dir_file_name(name, fname, sizeof fname, &raw));
    FSCI_TRY(dir_open_file(s, fname, &s->file));
    if (!raw) {
        unsigned char hdr[FSCI__NPY_HDR_MAX];
        size_t hl = fsci__npy_format_header(hdr, (int)dtype, 0, false, ndim, v.shape);
        FSCI_TRY(fsci_atomic_write(s->file, hdr, hl));
    }
    s->file_left = (uint64_t)fsci_view_nbytes(&v);
    return FSCI_OK;
fail:
    fsci_atomic_abort(&s->file);
    return st;
}

static int atomic_sink_fn(void *ctx, const void *p, size_t n)
{
    return fsci_atomic_write(ctx, p, n);
}

static int dir_add(fsci_sink *s, const char *name, const fsci_view *v)
{
    int st = FSCI_OK;
    char fname[NAME_CAP + 8];
    char *path = NULL;
    fsci_atomic *a = NULL;
    bool raw;
    FSCI_CHECK(!s->file, FSCI_EINVAL, "sink: member '%s' added inside another", name);
    FSCI_TRY(fsci__npy_check_view(v, fsci_atomic_dir_path(s->dir), name));
    FSCI_TRY(dir_file_name(name, fname, sizeof fname, &raw));
    if (!raw) {
        FSCI_TRY(fsci_atomic_dir_file(s->dir, fname, &path));
        FSCI_TRY(fsci_npy_write(path, v));
    } else {
        FSCI_TRY(dir_open_file(s, fname, &a));
        FSCI_TRY(fsci__npy_emit_view(v, false, atomic_sink_fn, a));
        FSCI_TRY(fsci_atomic_commit(&a));
    }
fail:
    fsci_atomic_abort(&a);
    fsci_free(path);
    return st;
}

static int dir_add_text(fsci_sink *s, const char *name, const char *text)
{
    int st = FSCI_OK;
    fsci_atomic *a = NULL;
    FSCI_CHECK(!s->file, FSCI_EINVAL, "sink: text '%s' added inside another member", name);
    FSCI_TRY(dir_open_file(s, name, &a));
    FSCI_TRY(fsci_atomic_write(a, text, strlen(text)));
    FSCI_TRY(fsci_atomic_commit(&a));
fail:
    fsci_atomic_abort(&a);
    return st;
}

/* A folder sink writes its files inside a temporary folder "DIR/.fsci-*.tmp"
 * that becomes DIR at close; errors name the file the user asked for. */
static int dir_msg(int st)
{
    if (st >= 0) return st;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", fsci_error_message());
    char *a = strstr(msg, "/.fsci-"), *b = a ? strstr(a, ".tmp/") : NULL;
    if (!b) return st;
    memmove(a, b + 4, strlen(b + 4) + 1); /* keep the '/' before the file name */
    return fsci_error_set(st, __FILE__, __LINE__, __func__, "%s", msg);
}

/* ---- null sink: members checked, bytes dropped ---------------------------- */

static int null_begin(fsci_sink *s, const char *name, fsci_dtype dtype, int ndim, const int64_t *shape)
{
    member *m = NULL;
    FSCI_CHECK(!s->null_open, FSCI_EINVAL, "sink: member '%s' begun inside another", name);
    fsci_view v;
    int st = fsci_view_init(&v, NULL, dtype, ndim, shape, false);
    if (st) return st;
    st = push(s, name, &m); /* names only: repeated ones are refused as in memory */
    if (st) return st;
    s->null_open = true;
    s->null_total = fsci_view_nbytes(&v);
    s->null_off = 0;
    return FSCI_OK;
}

static int null_write(fsci_sink *s, size_t nbytes)
{
    FSCI_CHECK(s->null_open, FSCI_EINVAL, "sink: write without begin");
    FSCI_CHECK((int64_t)nbytes <= s->null_total - s->null_off, FSCI_EINVAL,
               "sink: %zu bytes written past the end of a %lld-byte member", nbytes,
               (long long)s->null_total);
    s->null_off += (int64_t)nbytes;
    return FSCI_OK;
}

static int null_end(fsci_sink *s)
{
    FSCI_CHECK(s->null_open, FSCI_EINVAL, "sink: end without begin");
    s->null_open = false;
    FSCI_CHECK(s->null_off == s->null_total, FSCI_EINVAL, "sink: member '%s' got %lld of %lld bytes",
               s->members[s->n - 1].name, (long long)s->null_off, (long long)s->null_total);
    return FSCI_OK;
}

/* ---- members ------------------------------------------------------------------- */

int fsci_sink_begin(fsci_sink *s, const char *name, fsci_dtype dtype, int ndim, const int64_t *shape)
{
    int st = FSCI_OK;
    member *m = NULL;
    FSCI_CHECK(s && name, FSCI_EINVAL, "sink: NULL argument");
    FSCI_CHECK(!s->closed, FSCI_EINVAL, "sink: already closed");
    if (s->kind == FSCI_SINK_NPZ) return fsci_npz_writer_begin(s->npz, name, dtype, ndim, shape);
    if (s->kind == FSCI_SINK_DIR) return dir_msg(dir_begin(s, name, dtype, ndim, shape));
    if (s->kind == FSCI_SINK_NULL) return null_begin(s, name, dtype, ndim, shape);
    FSCI_CHECK(!s->open, FSCI_EINVAL, "sink: member '%s' begun inside another", name);
    FSCI_TRY(push(s, name, &m));
    /* every byte is written before end() succeeds, so no zero fill */
    FSCI_TRY(fsci_array_alloc(dtype, ndim, shape, false, &m->array));
    s->open = m->array;
    s->open_off = 0;
    return FSCI_OK;
fail:
    if (m) s->n--; /* the member pushed last */
    return st;
}

int fsci_sink_write(fsci_sink *s, const void *data, size_t nbytes)
{
    FSCI_CHECK(s && (data || nbytes == 0), FSCI_EINVAL, "sink: NULL argument");
    if (s->kind == FSCI_SINK_NPZ) return fsci_npz_writer_write(s->npz, data, nbytes);
    if (s->kind == FSCI_SINK_DIR) {
        FSCI_CHECK(s->file, FSCI_EINVAL, "sink: write without begin");
        FSCI_CHECK(nbytes <= s->file_left, FSCI_EINVAL, "%s: %zu bytes written past the end of the member",
                   fsci_atomic_path(s->file), nbytes);
        s->file_left -= nbytes;
        return dir_msg(fsci_atomic_write(s->file, data, nbytes));
    }
    if (s->kind == FSCI_SINK_NULL) return null_write(s, nbytes);
    FSCI_CHECK(s->open, FSCI_EINVAL, "sink: write without begin");
    int64_t total = fsci_view_nbytes(&s->open->view);
    FSCI_CHECK((int64_t)nbytes <= total - s->open_off, FSCI_EINVAL,
               "sink: %zu bytes written past the end of a %lld-byte member", nbytes, (long long)total);
    memcpy((char *)s->open->view.data + s->open_off, data, nbytes);
    s->open_off += (int64_t)nbytes;
    return FSCI_OK;
}

/* End the member file of a folder sink: commit it when complete. */
static int dir_end(fsci_sink *s)
{
    int st = FSCI_OK;
    FSCI_CHECK(s->file, FSCI_EINVAL, "sink: end without begin");
    FSCI_CHECK_GOTO(s->file_left == 0, FSCI_EINVAL, "%s: %llu bytes of the member were never written",
                    fsci_atomic_path(s->file), (unsigned long long)s->file_left);
    return fsci_atomic_commit(&s->file);
fail:
    fsci_atomic_abort(&s->file);
    return st;
}

int fsci_sink_end(fsci_sink *s)
{
    FSCI_CHECK(s, FSCI_EINVAL, "sink: NULL argument");
    if (s->kind == FSCI_SINK_NPZ) return fsci_npz_writer_end(s->npz);
    if (s->kind == FSCI_SINK_DIR) return dir_msg(dir_end(s));
    if (s->kind == FSCI_SINK_NULL) return null_end(s);
    FSCI_CHECK(s->open, FSCI_EINVAL, "sink: end without begin");
    int64_t total = fsci_view_nbytes(&s->open->view);
    s->open = NULL;
    FSCI_CHECK(s->open_off == total, FSCI_EINVAL, "sink: member '%s' got %lld of %lld bytes",
               s->members[s->n - 1].name, (long long)s->open_off, (long long)total);
    return FSCI_OK;
}

int fsci_sink_buffer(fsci_sink *s, void **data)
{
    FSCI_CHECK(s && data, FSCI_EINVAL, "sink: NULL argument");
    *data = NULL;
    FSCI_CHECK(!s->closed, FSCI_EINVAL, "sink: already closed");
    if (s->kind == FSCI_SINK_NPZ) return FSCI_OK;
    if (s->kind == FSCI_SINK_DIR) {
        FSCI_CHECK(s->file, FSCI_EINVAL, "sink: buffer without begin");
        return FSCI_OK;
    }
    if (s->kind == FSCI_SINK_NULL) {
        FSCI_CHECK(s->null_open, FSCI_EINVAL, "sink: buffer without begin");
        return FSCI_OK;
    }
    FSCI_CHECK(s->open, FSCI_EINVAL, "sink: buffer without begin");
    FSCI_CHECK(s->open_off == 0, FSCI_EINVAL,
               "sink: buffer of member '%s' after %lld bytes were written to it", s->members[s->n - 1].name,
               (long long)s->open_off);
    s->open_off = fsci_view_nbytes(&s->open->view); /* the caller fills it */
    *data = s->open->view.data;
    return FSCI_OK;
}

int fsci_sink_add(fsci_sink *s, const char *name, const fsci_view *v)
{
    int st = FSCI_OK;
    bool begun = false;
    FSCI_CHECK(s && name && v, FSCI_EINVAL, "sink: NULL argument");
    FSCI_CHECK(!s->closed, FSCI_EINVAL, "sink: already closed");
    if (s->kind == FSCI_SINK_NPZ) return fsci_npz_writer_add(s->npz, name, v);
    if (s->kind == FSCI_SINK_DIR) return dir_msg(dir_add(s, name, v));
    if (s->kind == FSCI_SINK_NULL) {
        FSCI_TRY(null_begin(s, name, v->dtype, v->ndim, v->shape));
        s->null_off = s->null_total;
        return null_end(s);
    }
    FSCI_TRY(fsci_sink_begin(s, name, v->dtype, v->ndim, v->shape));
    s->open = NULL;
    begun = true;
    FSCI_TRY(fsci_view_copy(&s->members[s->n - 1].array->view, v));
    return FSCI_OK;
fail:
    if (begun) { /* drop the half-made member */
        fsci_array_destroy(&s->members[s->n - 1].array);
        s->n--;
    }
    return st;
}

int fsci_sink_add_string(fsci_sink *s, const char *name, const char *utf8)
{
    int st = FSCI_OK;
    member *m = NULL;
    FSCI_CHECK(s && name && utf8, FSCI_EINVAL, "sink: NULL argument");
    FSCI_CHECK(!s->closed, FSCI_EINVAL, "sink: already closed");
    if (s->kind == FSCI_SINK_NPZ) return fsci_npz_writer_add_string(s->npz, name, utf8);
    if (s->kind == FSCI_SINK_DIR) return dir_msg(dir_add_text(s, name, utf8));
    if (s->kind == FSCI_SINK_NULL) return push(s, name, &m);
    FSCI_TRY(push(s, name, &m));
    size_t len = strlen(utf8);
    m->text = fsci_malloc(len + 1, 1);
    FSCI_CHECK_GOTO(m->text, FSCI_ENOMEM, "sink: out of memory for member '%s'", name);
    memcpy(m->text, utf8, len + 1);
    return FSCI_OK;
fail:
    if (m) s->n--;
    return st;
}

int fsci_sink_add_text(fsci_sink *s, const char *name, const char *text)
{
    return fsci_sink_add_string(s, name, text);
}

int fsci_sink_set_summary(fsci_sink *s, const char *json)
{
    FSCI_CHECK(s && json, FSCI_EINVAL, "sink: NULL argument");
    json_error_t jerr;
    json_t *t = json_loads(json, JSON_DECODE_ANY, &jerr);
    FSCI_CHECK(t, FSCI_EINVAL, "sink: the summary is not JSON: %s at line %d column %d", jerr.text, jerr.line,
               jerr.column);
    json_decref(t);
    size_t n = strlen(json);
    char *c = fsci_malloc(n + 1, 1);
    FSCI_CHECK(c, FSCI_ENOMEM, "sink: out of memory for the summary");
    memcpy(c, json, n + 1);
    fsci_free(s->summary);
    s->summary = c;
    return FSCI_OK;
}

const char *fsci_sink_summary(const fsci_sink *s)
{
    return s ? s->summary : NULL;
}

int64_t fsci_sink_memory_count(const fsci_sink *s)
{
    return s && s->kind == FSCI_SINK_MEMORY ? s->n : 0;
}

int fsci_sink_memory_take(fsci_sink *s, int64_t i, const char **name, fsci_array **array, char **text)
{
    FSCI_CHECK(s && s->kind == FSCI_SINK_MEMORY && i >= 0 && i < s->n, FSCI_EINVAL, "sink: no member %lld",
               (long long)i);
    *name = s->members[i].name;
    *array = s->members[i].array;
    *text = s->members[i].text;
    s->members[i].array = NULL;
    s->members[i].text = NULL;
    return FSCI_OK;
}

/* Close a folder sink: write summary.json (with a final newline) if a
 * summary was set, then commit the folder; on failure nothing is left. */
static int dir_close(fsci_sink *s)
{
    int st = FSCI_OK;
    char *t = NULL;
    FSCI_CHECK_GOTO(!s->file, FSCI_EINVAL, "%s: closed with a member unfinished", fsci_atomic_path(s->file));
    if (s->summary) {
        size_t n = strlen(s->summary);
        bool nl = n > 0 && s->summary[n - 1] == '\n';
        t = fsci_malloc(n + 2, 1);
        FSCI_CHECK_GOTO(t, FSCI_ENOMEM, "sink: out of memory");
        memcpy(t, s->summary, n);
        memcpy(t + n, nl ? "" : "\n", nl ? 1 : 2);
        FSCI_TRY(dir_add_text(s, "summary.json", t));
        fsci_free(t);
        t = NULL;
    }
    return fsci_atomic_dir_commit(&s->dir);
fail:
    fsci_free(t);
    fsci_atomic_abort(&s->file);
    fsci_atomic_dir_abort(&s->dir);
    return st;
}

int fsci_sink_close(fsci_sink *s)
{
    FSCI_CHECK(s, FSCI_EINVAL, "sink: NULL argument");
    FSCI_CHECK(!s->closed, FSCI_EINVAL, "sink: already closed");
    s->closed = true;
    if (s->kind == FSCI_SINK_NPZ) return fsci_npz_writer_close(&s->npz);
    if (s->kind == FSCI_SINK_DIR) return dir_msg(dir_close(s));
    FSCI_CHECK(!s->open && !s->null_open, FSCI_EINVAL, "sink: closed with member '%s' unfinished",
               s->members[s->n - 1].name);
    return FSCI_OK;
}

void fsci_sink_destroy(fsci_sink **sp)
{
    if (!sp || !*sp) return;
    fsci_sink *s = *sp;
    fsci_npz_writer_abort(&s->npz);
    fsci_atomic_abort(&s->file);
    fsci_atomic_dir_abort(&s->dir);
    for (int64_t i = 0; i < s->n; i++) {
        fsci_array_destroy(&s->members[i].array);
        fsci_free(s->members[i].text);
    }
    fsci_free(s->members);
    fsci_free(s->summary);
    fsci_free(s);
    *sp = NULL;
}
