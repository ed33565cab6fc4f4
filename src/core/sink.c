#include <string.h>

#include "fastsci/core/alloc.h"
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
    fsci_npz_writer *npz; /* NULL for a memory sink */
    member *members;
    int64_t n, cap;
    fsci_array *open; /* memory sink: member being streamed */
    int64_t open_off; /* bytes written into it */
    bool closed;
    char *summary;
};

int fsci_sink_npz_create(const char *path, bool compress, fsci_sink **out)
{
    FSCI_CHECK(out, FSCI_EINVAL, "sink: NULL output");
    *out = NULL;
    fsci_sink *s = fsci_calloc(1, sizeof *s);
    FSCI_CHECK(s, FSCI_ENOMEM, "sink: out of memory");
    int st = fsci_npz_writer_create(path, compress, &s->npz);
    if (st) {
        fsci_free(s);
        return st;
    }
    *out = s;
    return FSCI_OK;
}

int fsci_sink_memory_create(fsci_sink **out)
{
    FSCI_CHECK(out, FSCI_EINVAL, "sink: NULL output");
    *out = fsci_calloc(1, sizeof **out);
    FSCI_CHECK(*out, FSCI_ENOMEM, "sink: out of memory");
    return FSCI_OK;
}

static int push(fsci_sink *s, const char *name, member **m)
{
    FSCI_CHECK(strlen(name) < NAME_CAP, FSCI_EINVAL, "sink: member name '%s' is too long", name);
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

int fsci_sink_begin(fsci_sink *s, const char *name, fsci_dtype dtype, int ndim, const int64_t *shape)
{
    FSCI_CHECK(s && name, FSCI_EINVAL, "sink: NULL argument");
    FSCI_CHECK(!s->closed, FSCI_EINVAL, "sink: already closed");
    if (s->npz) return fsci_npz_writer_begin(s->npz, name, dtype, ndim, shape);
    FSCI_CHECK(!s->open, FSCI_EINVAL, "sink: member '%s' begun inside another", name);
    member *m;
    int st = push(s, name, &m);
    if (st) return st;
    /* every byte is written before end() succeeds, so no zero fill */
    st = fsci_array_alloc(dtype, ndim, shape, false, &m->array);
    if (st) {
        s->n--;
        return st;
    }
    s->open = m->array;
    s->open_off = 0;
    return FSCI_OK;
}

int fsci_sink_write(fsci_sink *s, const void *data, size_t nbytes)
{
    FSCI_CHECK(s && (data || nbytes == 0), FSCI_EINVAL, "sink: NULL argument");
    if (s->npz) return fsci_npz_writer_write(s->npz, data, nbytes);
    FSCI_CHECK(s->open, FSCI_EINVAL, "sink: write without begin");
    int64_t total = fsci_view_nbytes(&s->open->view);
    FSCI_CHECK((int64_t)nbytes <= total - s->open_off, FSCI_EINVAL,
               "sink: %zu bytes written past the end of a %lld-byte member", nbytes, (long long)total);
    memcpy((char *)s->open->view.data + s->open_off, data, nbytes);
    s->open_off += (int64_t)nbytes;
    return FSCI_OK;
}

int fsci_sink_end(fsci_sink *s)
{
    FSCI_CHECK(s, FSCI_EINVAL, "sink: NULL argument");
    if (s->npz) return fsci_npz_writer_end(s->npz);
    FSCI_CHECK(s->open, FSCI_EINVAL, "sink: end without begin");
    int64_t total = fsci_view_nbytes(&s->open->view);
    s->open = NULL;
    FSCI_CHECK(s->open_off == total, FSCI_EINVAL, "sink: member '%s' got %lld of %lld bytes",
               s->members[s->n - 1].name, (long long)s->open_off, (long long)total);
    return FSCI_OK;
}

int fsci_sink_add(fsci_sink *s, const char *name, const fsci_view *v)
{
    FSCI_CHECK(s && name && v, FSCI_EINVAL, "sink: NULL argument");
    if (s->npz) return fsci_npz_writer_add(s->npz, name, v);
    int st = fsci_sink_begin(s, name, v->dtype, v->ndim, v->shape);
    if (st) return st;
    s->open = NULL;
    st = fsci_view_copy(&s->members[s->n - 1].array->view, v);
    return st;
}

int fsci_sink_add_string(fsci_sink *s, const char *name, const char *utf8)
{
    FSCI_CHECK(s && name && utf8, FSCI_EINVAL, "sink: NULL argument");
    if (s->npz) return fsci_npz_writer_add_string(s->npz, name, utf8);
    member *m;
    int st = push(s, name, &m);
    if (st) return st;
    size_t len = strlen(utf8);
    m->text = fsci_malloc(len + 1, 1);
    if (!m->text) {
        s->n--;
        return FSCI_ENOMEM;
    }
    memcpy(m->text, utf8, len + 1);
    return FSCI_OK;
}

int64_t fsci_sink_memory_count(const fsci_sink *s)
{
    return s && !s->npz ? s->n : 0;
}

int fsci_sink_memory_take(fsci_sink *s, int64_t i, const char **name, fsci_array **array, char **text)
{
    FSCI_CHECK(s && !s->npz && i >= 0 && i < s->n, FSCI_EINVAL, "sink: no member %lld", (long long)i);
    *name = s->members[i].name;
    *array = s->members[i].array;
    *text = s->members[i].text;
    s->members[i].array = NULL;
    s->members[i].text = NULL;
    return FSCI_OK;
}

int fsci_sink_close(fsci_sink *s)
{
    FSCI_CHECK(s, FSCI_EINVAL, "sink: NULL argument");
    FSCI_CHECK(!s->closed, FSCI_EINVAL, "sink: already closed");
    s->closed = true;
    if (s->npz) return fsci_npz_writer_close(&s->npz);
    FSCI_CHECK(!s->open, FSCI_EINVAL, "sink: closed with member '%s' unfinished", s->members[s->n - 1].name);
    return FSCI_OK;
}

void fsci_sink_destroy(fsci_sink **sp)
{
    if (!sp || !*sp) return;
    fsci_sink *s = *sp;
    fsci_npz_writer_abort(&s->npz);
    for (int64_t i = 0; i < s->n; i++) {
        fsci_array_destroy(&s->members[i].array);
        fsci_free(s->members[i].text);
    }
    fsci_free(s->members);
    fsci_free(s->summary);
    fsci_free(s);
    *sp = NULL;
}

int fsci_sink_set_summary(fsci_sink *s, const char *json)
{
    FSCI_CHECK(s && json, FSCI_EINVAL, "sink: NULL summary");
    size_t n = strlen(json) + 1;
    char *c = fsci_malloc(n, 1);
    FSCI_CHECK(c, FSCI_ENOMEM, "sink: out of memory");
    memcpy(c, json, n);
    fsci_free(s->summary);
    s->summary = c;
    return FSCI_OK;
}

const char *fsci_sink_summary(const fsci_sink *s)
{
    return s ? s->summary : NULL;
}
