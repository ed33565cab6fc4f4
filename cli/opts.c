#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char *common_help =
    "shared options:\n"
    "  --threads N                    worker threads [default: $FSCI_NUM_THREADS or all cores]\n"
    "  --seed N                       random seed (unsigned 64-bit) [default: 0]\n"
    "  --profile                      print a table of time, calls and GB/s or GFLOP/s per phase\n"
    "  --quiet                        no progress output and no warnings\n"
    "  -o, --output PATH              output file or directory\n"
    "  -h, --help                     this help\n";

void cli_help(const cli_command *cmd, FILE *f)
{
    fprintf(f, "usage: %s\n\n%s\n", cmd->usage, cmd->summary);
    if (cmd->details) fprintf(f, "\n%s", cmd->details);
    if (cmd->nparams > 0) {
        fprintf(f, "\noptions:\n");
        fsci_params_help(cmd->params, cmd->nparams, f);
    }
    fprintf(f, "\n%s", common_help);
}

int cli_usage(const cli_command *cmd, const char *fmt, ...)
{
    fprintf(stderr, "fastsci %s: ", cmd->name);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s (see 'fastsci help %s')\n", cmd->usage, cmd->name);
    return CLI_USAGE;
}

int cli_parse(const cli_command *cmd, int argc, char **argv, void *obj, cli_common *common, cli_args *pos,
              bool *help_shown)
{
    *help_shown = false;
    pos->n = 0;
    pos->v = argv + 1;
    if (obj && cmd->nparams > 0 && fsci_params_defaults(cmd->params, cmd->nparams, obj) != FSCI_OK)
        return cli_fail(fsci_error_code());
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (options_done || arg[0] != '-' || arg[1] == '\0') {
            pos->v[pos->n++] = arg; /* compacts positionals at the front of argv+1 */
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        const char *name = arg[1] == '-' ? arg + 2 : arg + 1;
        char namebuf[128];
        const char *value = NULL;
        const char *eq = strchr(name, '=');
        if (eq) {
            size_t len = (size_t)(eq - name);
            if (len >= sizeof namebuf) return cli_usage(cmd, "option '%s' is too long", arg);
            memcpy(namebuf, name, len);
            namebuf[len] = '\0';
            name = namebuf;
            value = eq + 1;
        }
        if (strcmp(name, "h") == 0 || strcmp(name, "help") == 0) {
            cli_help(cmd, stdout);
            *help_shown = true;
            return CLI_OK;
        }
        if (strcmp(name, "profile") == 0 || strcmp(name, "quiet") == 0) {
            if (value) return cli_usage(cmd, "option '--%s' takes no value", name);
            if (name[0] == 'p')
                common->profile = true;
            else
                common->quiet = true;
            continue;
        }
        bool is_common = strcmp(name, "threads") == 0 || strcmp(name, "seed") == 0 ||
                         strcmp(name, "o") == 0 || strcmp(name, "output") == 0;
        const fsci_param *p = is_common ? NULL : fsci_params_find(cmd->params, cmd->nparams, name);
        if (!is_common && !p && strncmp(name, "no-", 3) == 0) {
            /* --no-FLAG for a boolean parameter */
            p = fsci_params_find(cmd->params, cmd->nparams, name + 3);
            if (p && p->type == FSCI_PARAM_BOOL && !value) {
                value = "false";
            } else {
                p = NULL;
            }
        }
        if (!is_common && !p) return cli_usage(cmd, "unknown option '%s'", arg);
        if (p && p->type == FSCI_PARAM_BOOL && !value) {
            /* "--noise" alone means true; "--noise false" takes the next word if it is a boolean */
            static const char *words[] = {"true", "false", "yes", "no", "on", "off", "1", "0"};
            value = "true";
            bool taken = false;
            for (int k = 0; k < 8 && i + 1 < argc && !taken; k++)
                if (strcmp(argv[i + 1], words[k]) == 0) {
                    value = argv[++i];
                    taken = true;
                }
            /* "--noise maybe": a word after a flag of a command without positional arguments
             * is a value the flag does not accept, not a stray argument */
            if (!taken && !cmd->positional && i + 1 < argc && argv[i + 1][0] != '-') value = argv[++i];
        }
        if (!value) {
            if (i + 1 >= argc) return cli_usage(cmd, "option '%s' needs a value", arg);
            value = argv[++i];
        }
        if (strcmp(name, "threads") == 0) {
            if (fsci_parallel_parse_threads(value, "--threads", &common->threads) != FSCI_OK)
                return cli_usage(cmd, "%s", fsci_error_message());
        } else if (strcmp(name, "seed") == 0) {
            errno = 0;
            char *end = NULL;
            unsigned long long s = strtoull(value, &end, 10);
            if (errno || end == value || *end || value[0] == '-')
                return cli_usage(cmd, "--seed: '%s' is not an unsigned 64-bit integer", value);
            common->seed = s;
            common->seed_set = true;
        } else if (strcmp(name, "o") == 0 || strcmp(name, "output") == 0) {
            if (!*value) return cli_usage(cmd, "-o/--output: empty path");
            common->output = value;
        } else if (fsci_params_set(cmd->params, cmd->nparams, obj, p->name, value) != FSCI_OK) {
            return cli_usage(cmd, "%s", fsci_error_message());
        }
    }
    return CLI_OK;
}

int cli_apply_common(const cli_common *common)
{
    int st = fsci_parallel_set_threads(common->threads);
    if (!st && common->threads == 0) st = fsci_parallel_check_env();
    if (st) return cli_fail(st);
    fsci_progress_set_mode(common->quiet ? FSCI_PROGRESS_QUIET : FSCI_PROGRESS_AUTO);
    fsci_profile_enable(common->profile);
    return CLI_OK;
}

int cli_fail(int status)
{
    const char *msg = fsci_error_message();
    fprintf(stderr, "fastsci: %s\n", msg && *msg ? msg : fsci_strerror(status));
    if (getenv("FSCI_DEBUG") && *fsci_error_where()) fprintf(stderr, "  (at %s)\n", fsci_error_where());
    return CLI_FAIL;
}

int cli_check_output(const char *path, bool folder)
{
    char dir[4096];
    struct stat sb;
    FSCI_CHECK(strlen(path) < sizeof dir, FSCI_EINVAL, "-o: '%s' is too long", path);
    strcpy(dir, path);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') dir[--n] = '\0';
    char *slash = strrchr(dir, '/');
    const char *parent = slash ? (slash == dir ? "/" : (*slash = '\0', dir)) : ".";
    if (stat(parent, &sb) != 0)
        return fsci_error_set(FSCI_EIO, __FILE__, __LINE__, __func__, "cannot write '%s': folder '%s': %s",
                              path, parent, strerror(errno));
    FSCI_CHECK(S_ISDIR(sb.st_mode), FSCI_EIO, "cannot write '%s': '%s' is not a folder", path, parent);
    if (access(parent, W_OK | X_OK) != 0)
        return fsci_error_set(FSCI_EIO, __FILE__, __LINE__, __func__, "cannot write '%s': %s", path,
                              strerror(errno));
    if (stat(path, &sb) == 0) {
        FSCI_CHECK(!folder || S_ISDIR(sb.st_mode), FSCI_EINVAL,
                   "-o: '%s' exists and is not a folder (this command writes a folder)", path);
        FSCI_CHECK(folder || !S_ISDIR(sb.st_mode), FSCI_EINVAL, "-o: '%s' is a folder, not a file", path);
    }
    return FSCI_OK;
}

void cli_make_ctx(const cli_common *common, fsci_ctx *ctx)
{
    fsci_ctx_init(ctx);
    ctx->threads = common->threads;
    ctx->seed = common->seed;
    ctx->seed_set = common->seed_set;
    ctx->quiet = common->quiet;
    ctx->progress = !common->quiet;
    ctx->profile = common->profile;
    ctx->out = stdout;
}

void cli_report_written(const char *path, double seconds)
{
    struct stat sb;
    char size[32] = "";
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
        fsci_format_si((double)sb.st_size, size, sizeof size);
        fprintf(stderr, "fastsci: wrote %s (%sB) in %.2f s\n", path, size, seconds);
    } else {
        fprintf(stderr, "fastsci: wrote %s in %.2f s\n", path, seconds);
    }
}

void cli_finish(const cli_common *common)
{
    if (common->profile) fsci_profile_report(stderr);
}
