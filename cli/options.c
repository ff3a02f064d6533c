/* options.c — the option tables: one row per option (cli.h's cli_option), from which the parser,
 * the usage synopsis and the --help lines all derive, as git's parse-options does. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define HELP_WIDTH 94  /* --help lines wrap before this column */
#define HELP_COLUMN 17 /* where an option's description starts */

/* The row named name (name and length: "--x=v" is matched by "--x") in rows or the groups they
 * include; *base gets the offset its fields are at in the command's options. */
static const cli_option *find_row(const cli_option *rows, size_t offset, const char *name, size_t len,
                                  size_t *base)
{
    for (const cli_option *r = rows; r->name || r->rows; r++) {
        const cli_option *hit = NULL;
        if (r->kind == CLI_GROUP)
            hit = find_row(r->rows, offset + r->offset, name, len, base);
        else if (r->kind != CLI_DOC && ((!strncmp(r->name, name, len) && !r->name[len]) ||
                                        (r->alias && !strncmp(r->alias, name, len) && !r->alias[len])))
            hit = r, *base = offset;
        if (hit)
            return hit;
    }
    return NULL;
}

static bool takes_value(const cli_option *r)
{
    return r->kind != CLI_FLAG && r->kind != CLI_SET && r->kind != CLI_HELP && r->kind != CLI_ALIAS;
}

/* "a, b or c" from a name table, into buf. */
static const char *name_list(const char *const *names, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; names[i] && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s", i == 0 ? "" : names[i + 1] ? ", " : " or ", names[i]);
    return buf;
}

/* What a bad value of row r is told the option takes. */
static const char *expected(const cli_option *r, char *buf, size_t size)
{
    if (r->expects)
        return r->expects;
    if (r->kind == CLI_ENUM)
        return name_list(r->names, buf, size);
    if (r->kind == CLI_INT || r->kind == CLI_INT64)
        snprintf(buf, size, "a number from %lld to %lld", (long long)r->min, (long long)r->max);
    else
        snprintf(buf, size, "a number");
    return buf;
}

/* Adds the comma-separated items of value to the cli_list field; false when out of memory (printed). */
static bool cli_list_add(void *field, const char *value)
{
    cli_list *l = field;
    char *copy = strdup(value);
    bool ok = copy != NULL;
    for (char *save = NULL, *tok = ok ? strtok_r(copy, ",", &save) : NULL; tok && ok; tok = strtok_r(NULL, ",", &save)) {
        char **grown = realloc(l->items, (size_t)(l->n + 1) * sizeof *grown);
        if ((ok = grown != NULL)) {
            l->items = grown;
            ok = (l->items[l->n] = strdup(tok)) != NULL;
            l->n += ok;
        }
    }
    free(copy);
    if (!ok)
        cli_error("out of memory");
    return ok;
}

/* Reads value into the field of row r; false when the value is bad. */
static bool set_value(const cli_option *r, char *field, const char *value)
{
    int64_t n;
    float f;
    switch (r->kind) {
    case CLI_FLAG:
        *(bool *)field = true;
        return true;
    case CLI_SET:
        *(int *)field = r->set;
        return true;
    case CLI_STRING:
        *(const char **)field = value;
        return true;
    case CLI_INT:
    case CLI_INT64:
        if (!cli_parse_int(value, r->min, r->max, &n))
            return false;
        if (r->kind == CLI_INT)
            *(int *)field = (int)n;
        else
            *(int64_t *)field = n;
        return true;
    case CLI_FLOAT:
        if (!cli_parse_float(value, &f) || (r->min < r->max && (f < (float)r->min || f > (float)r->max)))
            return false;
        *(float *)field = f;
        return true;
    case CLI_ENUM:
        for (int i = 0; r->names[i]; i++)
            if (!strcmp(r->names[i], value))
                return *(int *)field = r->values ? r->values[i] : i, true;
        return false;
    case CLI_LIST:
        return cli_list_add(field, value);
    default:
        return r->parse(value, field);
    }
}

void cli_list_free(cli_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    *l = (cli_list){0};
}

/* One option of argv at *i (its value, when it takes one, from "=v" or the next argument). */
static int parse_option(const cli_command *cmd, char *opts, int argc, char **argv, int *i, bool *help)
{
    const char *arg = argv[*i];
    size_t len = strcspn(arg, "="), base = 0;
    const cli_option *r = find_row(cmd->options, 0, arg, len, &base);
    const char *value = arg[len] == '=' ? arg + len + 1 : NULL;
    if (!r)
        return cli_usage_error(cmd, "unknown option '%s'", arg);
    if (!takes_value(r) && value)
        return cli_usage_error(cmd, "option '%.*s' takes no value", (int)len, arg);
    if (takes_value(r) && !value && *i + 1 >= argc)
        return cli_usage_error(cmd, "option '%s' needs a value", arg);
    if (takes_value(r) && !value)
        value = argv[++*i];
    if (r->kind == CLI_HELP) {
        *help = true;
        return QC_OK;
    }
    if (r->kind == CLI_ALIAS) { /* --per-channel is --granularity channel */
        value = r->alias_value;
        r = find_row(cmd->options, 0, r->alias_of, strlen(r->alias_of), &base);
    }
    char buf[256];
    if (r->kind == CLI_LIST && !set_value(r, opts + base + r->offset, value))
        return QC_ERR_IO;
    if (r->kind != CLI_LIST && !set_value(r, opts + base + r->offset, value))
        return cli_usage_error(cmd, "%s takes %s, not '%s'", r->name, expected(r, buf, sizeof buf), value);
    return QC_OK;
}

bool cli_parse(const cli_command *cmd, void *opts, int argc, char **argv, const char **operands, int *n_operands,
               int *status)
{
    bool help = false;
    *n_operands = 0;
    *status = QC_OK;
    for (int i = 1; i < argc && *status == QC_OK; i++) {
        if (argv[i][0] == '-' && argv[i][1])
            *status = parse_option(cmd, opts, argc, argv, &i, &help);
        else if (cmd->max_operands && *n_operands == cmd->max_operands)
            *status = cli_usage_error(cmd, "%s", cmd->too_many);
        else
            operands[(*n_operands)++] = argv[i];
    }
    if (*status == QC_OK && help)
        cli_print_help(cmd, stdout);
    return *status == QC_OK && !help;
}

/* ---- help ----------------------------------------------------------------------------------- */

/* Writes text's words from column *col on, wrapped before HELP_WIDTH onto lines indented by
 * indent. */
static void put_wrapped(FILE *f, const char *text, int indent, int *col)
{
    for (bool first = true; *text; first = false) {
        int word = (int)strcspn(text, " ");
        if (!first && *col + 1 + word > HELP_WIDTH)
            *col = fprintf(f, "\n%*s", indent, "") - 1;
        else if (!first)
            *col += fprintf(f, " ");
        *col += fprintf(f, "%.*s", word, text);
        text += word;
        text += strspn(text, " ");
    }
}

/* The synopsis items of rows: each "[--name ARG]", or the row's own usage text (a group's
 * usage stands for its rows); an item is never split across lines. */
static void put_synopsis(FILE *f, const cli_option *rows, int indent, int *col)
{
    for (const cli_option *r = rows; r->name || r->rows; r++) {
        char item[256];
        if (r->kind == CLI_GROUP && !r->usage) {
            put_synopsis(f, r->rows, indent, col);
            continue;
        }
        if (r->kind == CLI_DOC || (r->usage && !r->usage[0]))
            continue;
        int len = r->usage ? snprintf(item, sizeof item, "%s", r->usage)
                           : snprintf(item, sizeof item, "[%s%s%s]", r->name, r->arg ? " " : "", r->arg ? r->arg : "");
        if (*col + 1 + len > HELP_WIDTH)
            *col = fprintf(f, "\n%*s", indent - 1, "") - 1;
        *col += fprintf(f, " %s", item);
    }
}

/* The description lines of rows: "  --name ARG    what it does", wrapped at HELP_COLUMN. */
static void put_descriptions(FILE *f, const cli_option *rows)
{
    for (const cli_option *r = rows; r->name || r->rows; r++) {
        if (!r->help)
            continue;
        bool with_arg = r->arg && !strchr(r->arg, '|');
        int col = fprintf(f, "  %s%s%s", r->name, with_arg ? " " : "", with_arg ? r->arg : "");
        col += fprintf(f, "%*s", col < HELP_COLUMN ? HELP_COLUMN - col : 2, "");
        put_wrapped(f, r->help, HELP_COLUMN, &col);
        fputc('\n', f);
    }
}

void cli_print_help(const cli_command *cmd, FILE *f)
{
    int col = fprintf(f, "usage: qcal %s ", cmd->name), indent = col;
    put_wrapped(f, cmd->operands, indent, &col);
    put_synopsis(f, cmd->options, indent, &col);
    fputc('\n', f);
    if (cmd->more_usage)
        fputs(cmd->more_usage, f);
    col = fprintf(f, "  ");
    put_wrapped(f, cmd->about, 2, &col);
    fputc('\n', f);
    put_descriptions(f, cmd->options);
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
{
    char msg[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cli_error("%s", msg);
    cli_print_help(cmd, stderr);
    return QC_ERR_USAGE;
}
