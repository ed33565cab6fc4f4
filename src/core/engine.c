/* The engine contract's run context and command runner (the registry is src/engines.c). */
#include <stdarg.h>
#include <string.h>

#include "fastsci/core/engine.h"
#include "fastsci/core/error.h"

void fsci_ctx_init(fsci_ctx *c)
{
    memset(c, 0, sizeof *c);
}

uint64_t fsci_ctx_seed(const fsci_ctx *c, uint64_t engine_default)
{
    return c && c->seed_set ? c->seed : engine_default;
}

void fsci_ctx_printf(const fsci_ctx *c, const char *fmt, ...)
{
    if (!c || !c->out) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->out, fmt, ap);
    va_end(ap);
}

const fsci_view *fsci_inputs_get(const fsci_inputs *in, const char *name)
{
    for (int i = 0; in && i < in->n; i++)
        if (strcmp(in->v[i].name, name) == 0) return &in->v[i].view;
    return NULL;
}

const fsci_command *fsci_engine_command(const fsci_engine *e, const char *name)
{
    for (int i = 0; e && name && i < e->ncommands; i++)
        if (strcmp(e->commands[i].name, name) == 0) return &e->commands[i];
    return NULL;
}

bool fsci_command_owns_output(const fsci_command *c, const char *path)
{
    if (!c || !path) return false;
    const size_t n = strlen(path);
    for (const char *const *f = c->own_formats; f && *f; f++) {
        const size_t m = strlen(*f);
        if (n <= m) continue;
        bool same = true;
        for (size_t i = 0; i < m && same; i++) {
            char a = path[n - m + i], b = (*f)[i];
            if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
            same = a == b;
        }
        if (same) return true;
    }
    return false;
}

/* Every input must be one the command accepts. */
static int check_inputs(const fsci_command *c, const fsci_inputs *in)
{
    for (int i = 0; in && i < in->n; i++) {
        bool known = false;
        for (const char *const *p = c->inputs; p && *p && !known; p++) known = strcmp(*p, in->v[i].name) == 0;
        FSCI_CHECK(known, FSCI_EINVAL, "%s: unknown input array '%s'", c->name, in->v[i].name);
    }
    return FSCI_OK;
}

int fsci_command_run(const fsci_command *c, const void *opts, const fsci_inputs *in, const fsci_ctx *ctx,
                     fsci_sink *sink)
{
    int st = FSCI_OK;
    fsci_ctx dflt;
    FSCI_CHECK(c && opts, FSCI_EINVAL, "fsci_command_run: NULL command or options");
    if (!ctx) {
        fsci_ctx_init(&dflt);
        ctx = &dflt;
    }
    FSCI_CHECK(sink || !c->output_required, FSCI_EINVAL, "%s: needs an output", c->name);
    FSCI_TRY(check_inputs(c, in));
    if (c->check) FSCI_TRY(c->check(opts, ctx));
    FSCI_TRY(c->run(opts, in, ctx, sink));
fail:
    return st;
}
