/* fastsci demo: run every engine on built-in inputs and write report/index.html. */
#include <string.h>

#include "commands.h"
#include "report.h"

/* Each engine adds its section here (defined in cli/demo_<engine>.c). */
extern const demo_section demo_core;
extern const demo_section demo_ptycho;
extern const demo_section demo_proton;

static const demo_section *const sections[] = {
    &demo_core,
    &demo_ptycho,
    &demo_proton,
};
enum { NSECTIONS = sizeof sections / sizeof sections[0] };

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

static int run_demo(int argc, char **argv, cli_common *common)
{
    demo_opts o;
    cli_args pos;
    bool help;
    int rc = cli_parse(&cmd_demo, argc, argv, &o, common, &pos, &help);
    if (rc || help) return rc;
    if (pos.n > 0) {
        fprintf(stderr, "fastsci demo: unexpected argument '%s'\nusage: %s\n", pos.v[0], cmd_demo.usage);
        return CLI_USAGE;
    }
    bool found = !o.only[0];
    for (int i = 0; i < NSECTIONS; i++) found |= strcmp(sections[i]->name, o.only) == 0;
    if (!found) {
        fprintf(stderr, "fastsci demo: --only: no section '%s'\nusage: %s\n", o.only, cmd_demo.usage);
        return CLI_USAGE;
    }
    if ((rc = cli_apply_common(common))) return rc;
    const char *dir = common->output ? common->output : "report";
    report *r = NULL;
    if ((rc = report_open(dir, &r))) return rc;
    report_html(r, "<nav>");
    for (int i = 0; i < NSECTIONS; i++)
        if (!o.only[0] || strcmp(sections[i]->name, o.only) == 0)
            report_html(r, "<a href=\"#%s\">%s</a>", sections[i]->name, sections[i]->title);
    report_html(r, "</nav>\n");
    for (int i = 0; i < NSECTIONS; i++) {
        if (o.only[0] && strcmp(sections[i]->name, o.only) != 0) continue;
        if (!common->quiet) fprintf(stderr, "demo: %s\n", sections[i]->title);
        if ((rc = sections[i]->run(r, common, o.quick))) {
            report_abort(&r);
            return rc;
        }
    }
    if ((rc = report_close(&r))) return rc;
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
