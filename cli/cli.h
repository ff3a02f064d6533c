/* cli.h — the qcal command line: one cmd_<name> per subcommand, returning the exit status,
 * and what they share (option parsing, messages, the progress bar). Only cli/ prints. */
#ifndef QCAL_CLI_H
#define QCAL_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../calib/calib.h"
#include "../graph/graph.h"
#include "../io/io.h"
#include "../stats/stats.h"

#define QCAL_VERSION "0.1.0"

/* Exit codes, as README's table says. A command returns a qc_status, or CLI_GATE_FAILED
 * when an accuracy gate failed; cli_exit_code turns that into the process's exit code. */
typedef enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_GATE = 1,  /* an accuracy gate failed */
    CLI_EXIT_USAGE = 2, /* bad command line */
    CLI_EXIT_INPUT = 3, /* bad model, image, statistics or configuration */
    CLI_EXIT_IO = 4,    /* I/O or internal error */
} cli_exit;
#define CLI_GATE_FAILED (QC_ERR_IO + 100) /* not a qc_status */
cli_exit cli_exit_code(int status);

int cmd_inspect(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* Prints "error: …" (or "warning: …") to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Returns st, after printing err's message when st is an error. */
int cli_status(int st, const qc_error *err);
int cli_out_of_memory(void); /* prints "error: out of memory"; returns QC_ERR_IO */

/* ---- option tables (cli/options.c) -----------------------------------------------------------
 * A command declares each option once, as a row: its name, the kind of value and where in the
 * command's option struct it goes (offsetof); the parser, the usage synopsis and the --help
 * lines derive from the rows. Options shared by several commands are row arrays included by a
 * CLI_GROUP row at the offset of their struct. Adding a flag is adding a row. */
typedef enum {
    CLI_FLAG,   /* bool set true; "--flag=v" is an error */
    CLI_SET,    /* int set to .set */
    CLI_STRING, /* const char * */
    CLI_INT,    /* int in [.min, .max] */
    CLI_INT64,  /* int64_t in [.min, .max] */
    CLI_FLOAT,  /* float, finite, in [.min, .max] when min < max */
    CLI_ENUM,   /* int: the index of the value in .names, or .values[index] */
    CLI_LIST,   /* cli_list: comma-separated items, added up when the option is repeated */
    CLI_CUSTOM, /* .parse reads the value into the field */
    CLI_ALIAS,  /* the option .alias_of given .alias_value (--per-channel: --granularity channel) */
    CLI_HELP,   /* prints the help and stops */
    CLI_GROUP,  /* the rows of .rows, their fields at .offset */
    CLI_DOC,    /* no option: a --help line for a group's option as this command words it */
} cli_kind;

typedef struct cli_option {
    const char *name;  /* "--output" */
    const char *alias; /* another name, or NULL: "-o" */
    cli_kind kind;
    size_t offset;     /* of the field in the command's options (in the group's struct for rows of a group) */
    const char *arg;   /* the value in the synopsis: "N", "gemmlowp|symlowp" (shown after the name
                        * in --help unless it lists values) */
    const char *usage; /* the synopsis item when not "[--name ARG]"; "" for none */
    const char *help;  /* the --help line (wrapped); NULL for none */
    const char *expects; /* "--x takes EXPECTS, not 'v'"; by default made from the range or names */
    int64_t min, max;
    const char *const *names; /* CLI_ENUM, NULL-terminated */
    const int *values;
    bool (*parse)(const char *value, void *field); /* CLI_CUSTOM: false when the value is bad */
    const struct cli_option *rows;                 /* CLI_GROUP */
    const char *alias_of, *alias_value;            /* CLI_ALIAS */
    int set;                                       /* CLI_SET */
} cli_option;

typedef struct {
    const char *name;       /* "quantize" */
    const char *operands;   /* the synopsis before the options: "MODEL IMAGES -o OUT.onnx" */
    const char *more_usage; /* further synopsis lines, as they are printed; may be NULL */
    const char *about;      /* what the command does (wrapped) */
    const cli_option *options; /* ends with an empty row */
    int max_operands;       /* 0: any number */
    const char *too_many;   /* the usage error past max_operands */
} cli_command;

typedef struct {
    char **items; /* owned */
    int n;
} cli_list;

/* Parses argv[1..] into opts (the struct the rows' offsets are in) and the operands (room for
 * cmd->max_operands, or argc when any number). False when the command stops here: after --help
 * (*status QC_OK, the help printed) or a usage error (printed; *status the exit status). */
bool cli_parse(const cli_command *cmd, void *opts, int argc, char **argv, const char **operands, int *n_operands,
               int *status);
void cli_print_help(const cli_command *cmd, FILE *f);
/* Prints the one-line error and "see 'qcal CMD --help'"; returns QC_ERR_USAGE. An error
 * about a value names the valid values. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_list_free(cli_list *l);
bool cli_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);
bool cli_parse_float(const char *s, float *out);
/* CLI_CUSTOM parsers of the library's names */
bool cli_parse_scheme(const char *v, void *scheme);
bool cli_parse_method(const char *v, void *method);

/* The shared groups: each an array of rows over its struct. */
typedef struct { /* --json --quiet (-q) --wide --threads N --help (-h) --max-memory MIB */
    bool json, quiet;
    bool wide; /* --wide: tables with every column and full names, whatever the terminal */
    int threads;
} cli_common;
extern const cli_option cli_common_rows[];
/* --size HxW | --resize S (the shorter side), --crop HxW (or N), --scale S --mean M[,M,M]
 * --std S[,S,S] --color gray|rgb|bgr, laid over the model card's by cli_model_setup; and --layout nchw|nhwc, set at once (qc_set_image_layout). */
typedef qc_pp_overrides cli_pp_flags;
extern const cli_option cli_pp_rows[];
/* Which images of a set a command reads: --limit N (the first N), --sample N (a class-balanced
 * random subset, see io/select.c), --seed S (its seed, default 0), --skip-bad (images that
 * cannot be read are reported and left out); cli_batch_rows: --batch N, images in flight. */
typedef struct {
    int64_t limit, batch; /* limit INT64_MAX: every image */
    int64_t sample;       /* 0: every image */
    uint64_t seed;
    bool has_seed, skip_bad;
} cli_image_select;
extern const cli_option cli_select_rows[], cli_batch_rows[];
#define CLI_SELECT_DEFAULT {.limit = INT64_MAX, .batch = 32}
/* cli_select_check refuses --seed without --sample (usage error, printed). */
int cli_select_check(const cli_image_select *s, const cli_command *cmd);
/* The range-method parameters --n N and --percentile P, over a qc_range_params. */
extern const cli_option cli_range_rows[];
/* --granularity tensor|channel|compensated, the one word for it on every command (compare's
 * lists take the same names): weights per tensor or per output channel; compensated is
 * per-channel weights with input-compensated activations. The older spellings --per-channel,
 * --per-tensor and --input-compensation stay as aliases. */
typedef struct {
    qc_granularity weights, activations;
} cli_granularity;
extern const cli_option cli_granularity_rows[];

/* qc_image_set_open, then the sample; prints what goes wrong and returns the exit status. */
int cli_open_images(qc_image_set *set, const char *root, const char *labels_file,
                    const cli_image_select *s);
/* The images left out by --skip-bad: each reported as "warning: skipping: MESSAGE" unless
 * quiet, and counted. cli_report_skip is a qc_skip_fn with ctx = a cli_skipped. */
typedef struct {
    bool quiet;
    int64_t count;
} cli_skipped;
void cli_report_skip(void *ctx, const char *msg);
/* MODEL's card and preprocessing with the flags laid over (io.h's qc_preprocess_resolve), the
 * card's warning printed unless quiet; prints what goes wrong and returns the exit status. */
int cli_model_setup(const char *model_path, const qc_graph *g, int channels, const cli_pp_flags *f,
                    bool quiet, qc_model_card *card, qc_preprocess *pp);

/* --input NAME=FILE.npy (repeatable: a constant for the model input NAME, bound to every model
 * cli_load_model loads) and --output NAME (the output read as class scores,
 * qc_set_scored_output): rows over no field (the values are the process's), included by a
 * CLI_GROUP row at any offset. */
extern const cli_option cli_input_rows[], cli_output_rows[];
/* The scored output's name for reports: set when --output was given or g has several
 * outputs, NULL otherwise. */
const char *cli_scored_output(const qc_graph *g, const qc_image_input *in);
/* calib.h's qc_model_load with the --input constants bound; prints what goes wrong and
 * returns the exit status. */
int cli_load_model(const char *path, bool fuse, qc_graph **g, uint64_t *hash);
/* The statistics in stats_path, checked against the model they are used with: its graph g and
 * hash (qc_stats_check_model), the preprocessing it now takes when it reads images (its card in
 * *card and the flags laid over, in *pp: cli_model_setup), and completeness: a partial merge
 * is exit 3 unless allow_partial (then a warning unless quiet). Prints what goes wrong; returns
 * the exit status (*s NULL on error). */
int cli_load_stats(const char *stats_path, const qc_graph *g, uint64_t hash, const char *model_path,
                   const cli_pp_flags *flags, bool allow_partial, bool quiet, qc_model_card *card,
                   qc_preprocess *pp, qc_stats **s);

/* ---- file safety (cli/common.c) ----------------------------------------------------------
 * Every command that writes a file checks it before reading anything: io.h's qc_check_output,
 * qc_check_output_paths and qc_check_operands (a usage error there is printed with the
 * command's "see --help"); each returns the exit status, what goes wrong printed. */
typedef qc_input_file cli_file; /* io.h: its path (NULL: skipped) and what it is ("model", …) */
int cli_check_output(const char *out, const char *option, const cli_file *inputs, int n);
int cli_check_output_paths(const char *out, const char *option, const char *const *paths, int n);
int cli_check_positionals(const cli_command *cmd, const char *synopsis, const char *const *models, int n_models,
                          const char *const *folders, int n_folders);
/* A quantized g (qc_graph_is_quantized) is refused by the commands that quantize or gather
 * statistics (exit 3, printed, naming the file, the first quantized op and what to do);
 * QC_OK otherwise. */
int cli_refuse_quantized(const qc_graph *g, const char *path, const char *command);
/* The channels of g's image input (qc_image_input_of), or 0. */
int cli_model_channels(const qc_graph *g);
/* calib.h's qc_check_source, printed. */
int cli_check_source(const qc_graph *q, const char *q_path, uint64_t fp32_hash, const char *fp32_path);

/* A progress bar with ETA on stderr, drawn only when stderr is a terminal and not quiet,
 * labelled with what runs and the file name of the model (model may be NULL). */
typedef struct {
    bool on;
    char label[96];
    int64_t total, done;
    double start, last_draw;
} cli_progress;
void cli_progress_start(cli_progress *p, const char *label, const char *model, int64_t total, bool quiet);
void cli_progress_end(cli_progress *p);
/* draws the bar at done of total, as a library progress callback (ctx: the cli_progress) */
void cli_progress_draw(void *ctx, int64_t done, int64_t total);

double cli_now(void); /* monotonic seconds */

/* ---- tables (cli/text-table.c) --------------------------------------------------------------
 * Cells are given row by row, left to right; cli_table_print sizes each column to its widest
 * cell, fits the table to `width` (0: no limit) by shortening the columns marked so in the
 * middle ("layer1.0.co…v2.weight"), then leaving out the columns with the highest drop (counted
 * under the table), prints it to stdout and frees the cells. */
#define CLI_TABLE_MAX_COLS 32
typedef struct {
    const char *head;
    bool left;    /* left-aligned text (names); numbers are right-aligned */
    int drop;     /* 0: always shown; else left out to fit, the highest first */
    bool shorten; /* may be shortened in the middle to fit */
} cli_column;
typedef struct {
    const cli_column *cols;
    int n_cols;
    char **cells; /* owned, n_cells of them, row-major */
    int n_cells, cap;
} cli_table;
void cli_table_init(cli_table *t, const cli_column *cols, int n_cols);
void cli_table_cell(cli_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_table_print(cli_table *t, int width);
/* The width tables fit: no limit (0) with --wide; the terminal's when stdout is one (80 when
 * it does not say); else $COLUMNS when set; else no limit: a pipe or a file gets every column. */
int cli_table_width(bool wide);

/* Prints the printf-style fmt, then s as a JSON string (escaped; null when s is NULL). */
void cli_json_field(const char *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- gathering statistics (cli/stats.c), shared by stats and quantize ------------------- */

typedef struct {
    int64_t limit, batch;      /* at most limit images; images in flight per step */
    int shard_i, shard_n;      /* the groups of QC_STATS_GROUP images numbered i modulo n */
    bool per_channel, histograms;
    const cli_pp_flags *pp;    /* preprocessing flags laid over the model card's */
    int threads;
    bool quiet;
    const cli_image_select *select; /* --sample, --seed, --skip-bad; NULL: every image */
    cli_skipped *skipped;      /* with --skip-bad: counts the images left out; may be NULL */
    qc_group_table **groups;   /* when not NULL: gets each group's summaries (--adequacy) */
} cli_gather_options;
/* Runs the FP32 graph g of model_path over the images under `images` and returns the
 * merged statistics in *out (seconds: the time the pass took). Prints what goes wrong;
 * returns the exit status. The result does not depend on threads or batch. */
int cli_stats_gather(const char *model_path, const char *images, const cli_gather_options *o, const qc_graph *g,
                     uint64_t hash, qc_stats **out, double *seconds);

/* --adequacy's settings (cli/stats.c): the range and scale whose spread is estimated. */
typedef struct {
    bool on;
    float tolerance_pct;  /* --adequacy-tolerance PCT (default 5) */
    qc_range_method method;
    qc_scheme scheme;
    int bits, resamples;
} cli_adequacy_flags;
#define CLI_ADEQUACY_DEFAULT {.tolerance_pct = 5.0f, .method = QC_RANGE_MINMAX, .scheme = QC_SCHEME_MIXED, \
                              .bits = 8, .resamples = 200}
/* The bootstrap of qc_adequacy_run with these settings (n_std of params); prints what goes wrong
 * and returns the exit status. */
int cli_adequacy_run(const qc_stats *s, const qc_group_table *g, const cli_adequacy_flags *f,
                     const qc_range_params *params, qc_adequacy *out);

#endif
