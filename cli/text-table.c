/* text-table.c — the tables commands print: each column as wide as its widest cell, two
 * spaces between columns, fitted to the terminal (long names shortened in the middle, then
 * the least needed columns left out and named under the table); --wide, a pipe or a file get
 * every column and full names. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"

#define GAP 2           /* spaces between columns */
#define SHORTEST_NAME 20 /* a shortened column keeps at least this many characters */

/* Characters on screen: UTF-8 bytes that start a character. */
static int text_width(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* The byte offset of character k of s (its length when s is shorter). */
static size_t char_offset(const char *s, int k)
{
    size_t i = 0;
    for (int n = 0; s[i]; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80 && n++ == k)
            return i;
    }
    return i;
}

int cli_table_width(bool wide)
{
    if (wide)
        return 0;
    struct winsize ws;
    if (isatty(STDOUT_FILENO))
        return ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
    const char *env = getenv("COLUMNS");
    int64_t cols;
    return env && cli_parse_int(env, 20, 100000, &cols) ? (int)cols : 0;
}

void cli_table_init(cli_table *t, const cli_column *cols, int n_cols)
{
    *t = (cli_table){.cols = cols, .n_cols = n_cols};
}

void cli_table_cell(cli_table *t, const char *fmt, ...)
{
    if (t->n_cells == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        char **cells = realloc(t->cells, sizeof *cells * (size_t)cap);
        if (!cells)
            return; /* out of memory: the cell is left out, print copes with a short row */
        t->cells = cells;
        t->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *cell = NULL;
    if (vasprintf(&cell, fmt, ap) < 0)
        cell = NULL;
    va_end(ap);
    t->cells[t->n_cells++] = cell;
}

/* The widths that fit `width` (0: no limit): shortenable columns down to SHORTEST_NAME
 * first, then the columns with the highest `drop` left out, then width given back to the
 * shortened columns. shown[c] says which columns stay. */
static void fit(const cli_table *t, const int *natural, int width, int *w, bool *shown)
{
    int total = -GAP;
    for (int c = 0; c < t->n_cols; c++) {
        w[c] = natural[c];
        shown[c] = true;
        total += w[c] + GAP;
    }
    if (width <= 0 || total <= width)
        return;
    for (int c = 0; c < t->n_cols && total > width; c++) {
        int floor = text_width(t->cols[c].head) > SHORTEST_NAME ? text_width(t->cols[c].head) : SHORTEST_NAME;
        int cut = t->cols[c].shorten && w[c] > floor ? w[c] - floor : 0;
        cut = cut < total - width ? cut : total - width;
        w[c] -= cut;
        total -= cut;
    }
    while (total > width) {
        int worst = -1;
        for (int c = 0; c < t->n_cols; c++)
            if (shown[c] && t->cols[c].drop > 0 && (worst < 0 || t->cols[c].drop >= t->cols[worst].drop))
                worst = c;
        if (worst < 0)
            break; /* nothing more to leave out: the table stays wider */
        shown[worst] = false;
        total -= w[worst] + GAP;
    }
    for (int c = 0; c < t->n_cols && total < width; c++) {
        int back = natural[c] - w[c] < width - total ? natural[c] - w[c] : width - total;
        w[c] += back;
        total += back;
    }
}

/* One cell padded to w, shortened in the middle ("layer1.0.co…v2.weight") when longer. */
static void put_cell(FILE *f, const char *s, int w, bool left)
{
    int len = text_width(s);
    if (len > w) {
        int tail = (w - 1) / 2, head = w - 1 - tail;
        fwrite(s, 1, char_offset(s, head), f);
        fputs("\u2026", f);
        fputs(s + char_offset(s, len - tail), f);
    } else if (left) {
        fprintf(f, "%s%*s", s, w - len, "");
    } else {
        fprintf(f, "%*s%s", w - len, "", s);
    }
}

/* One row, without the spaces that would end it (a left-aligned last cell, empty cells). */
static void print_row(const cli_table *t, const char *const *cells, const int *w, const bool *shown)
{
    char *line = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&line, &size);
    if (!f)
        return;
    for (int c = 0, first = 1; c < t->n_cols; c++) {
        if (!shown[c])
            continue;
        fprintf(f, "%*s", first ? 0 : GAP, "");
        first = 0;
        put_cell(f, cells[c] ? cells[c] : "", w[c], t->cols[c].left);
    }
    fclose(f);
    while (size && line[size - 1] == ' ')
        line[--size] = 0;
    puts(line);
    free(line);
}

void cli_table_print(cli_table *t, int width)
{
    int natural[CLI_TABLE_MAX_COLS], w[CLI_TABLE_MAX_COLS] = {0}; /* fit sets w and shown */
    bool shown[CLI_TABLE_MAX_COLS] = {0};
    const char *heads[CLI_TABLE_MAX_COLS], *row[CLI_TABLE_MAX_COLS];
    const int n = t->n_cols < CLI_TABLE_MAX_COLS ? t->n_cols : CLI_TABLE_MAX_COLS;
    t->n_cols = n;
    for (int c = 0; c < n; c++) {
        heads[c] = t->cols[c].head;
        natural[c] = text_width(heads[c]);
    }
    for (int i = 0; i < t->n_cells; i++)
        if (t->cells[i] && text_width(t->cells[i]) > natural[i % n])
            natural[i % n] = text_width(t->cells[i]);
    fit(t, natural, width, w, shown);
    print_row(t, heads, w, shown);
    for (int r = 0; r * n < t->n_cells; r++) {
        for (int c = 0; c < n; c++)
            row[c] = r * n + c < t->n_cells ? t->cells[r * n + c] : "";
        print_row(t, row, w, shown);
    }
    int hidden = 0;
    for (int c = 0; c < n; c++)
        hidden += !shown[c];
    if (hidden)
        printf("(%d column%s left out to fit %d columns; --wide shows every column)\n", hidden,
               hidden == 1 ? "" : "s", width);
    for (int i = 0; i < t->n_cells; i++)
        free(t->cells[i]);
    free(t->cells);
    *t = (cli_table){0};
}
