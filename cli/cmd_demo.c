/* fastsci demo: run the core library and every engine on built-in inputs and
 * write report/index.html with figures. The sections come from the registry. */
#include <string.h>

#include "commands.h"

typedef struct {
    char only[FSCI_PARAM_STRLEN];
    bool quick;
} demo_opts;

static const fsci_param demo_params[] = {
    {"only", FSCI_PARAM_STRING, offsetof(demo_opts, only), "", 0, -1, NULL,
     "run only this section (core, or an engine name)"},
    {"quick", FSCI_PARAM_BOOL, offsetof(demo_opts, quick), "false", 0, -1, NULL,
     "smaller workloads (for tests)"},
};

/* Section i: 0 is the core library, then the engines that have a demo. */
typedef struct section {
    const char *name, *title;
    int (*run)(fsci_report *r, const fsci_ctx *ctx, bool quick);
} section;

static int sections(section *out, int cap)
{
    int n = 0;
    out[n++] = (section){"core", "Core", fsci_core_demo};
    for (int i = 0; i < fsci_engine_count() && n < cap; i++) {
        const fsci_engine *e = fsci_engine_at(i);
        if (e->demo) out[n++] = (section){e->name, e->name, e->demo};
    }
    return n;
}

static int run_sections(fsci_report *r, const section *s, int n, const demo_opts *o, const fsci_ctx *ctx)
{
    fsci_report_html(r, "<nav>");
    for (int i = 0; i < n; i++)
        if (!o->only[0] || strcmp(s[i].name, o->only) == 0)
            fsci_report_html(r, "<a href=\"#%s\">%s</a>", s[i].name, s[i].title);
    fsci_report_html(r, "</nav>\n");
    for (int i = 0; i < n; i++) {
        if (o->only[0] && strcmp(s[i].name, o->only) != 0) continue;
        if (!ctx->quiet) fprintf(stderr, "demo: %s\n", s[i].title);
        int st = s[i].run(r, ctx, o->quick);
        if (st) return st;
    }
    return FSCI_OK;
}

static int run_demo(int argc, char **argv, cli_common *common)
{
    demo_opts o;
    cli_args pos;
    bool help;
    section s[64];
    int n = sections(s, 64);
    int rc = cli_parse(&cmd_demo, argc, argv, &o, common, &pos, &help);
    if (rc || help) return rc;
    if (pos.n > 0) return cli_usage(&cmd_demo, "unexpected argument '%s'", pos.v[0]);
    bool found = !o.only[0];
    for (int i = 0; i < n; i++) found |= strcmp(s[i].name, o.only) == 0;
    if (!found) return cli_usage(&cmd_demo, "--only: no section '%s'", o.only);
    if ((rc = cli_apply_common(common))) return rc;
    fsci_ctx ctx;
    cli_make_ctx(common, &ctx);
    const char *dir = common->output ? common->output : "report";
    fsci_report *r = NULL;
    int st = cli_check_output(dir, true);
    if (!st) st = fsci_report_open(dir, &r);
    if (!st) st = run_sections(r, s, n, &o, &ctx);
    if (!st) st = fsci_report_close(&r);
    fsci_report_abort(&r);
    if (st) return cli_fail(st);
    if (!common->quiet) fprintf(stderr, "demo: wrote %s/index.html\n", dir);
    cli_finish(common);
    return CLI_OK;
}

const cli_command cmd_demo = {
    .name = "demo",
    .run = run_demo,
    .summary = "run every engine on built-in inputs and write an HTML report with figures",
    .usage = "fastsci demo [--only SECTION] [--quick] [-o DIR]",
    .params = demo_params,
    .nparams = sizeof demo_params / sizeof demo_params[0],
    .details = "Writes DIR/index.html (default DIR: report) and its PNG figures.\n",
};
