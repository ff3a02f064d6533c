/* cli.h — the qcal command line: one cmd_<name> per subcommand, returning the exit status,
 * and what they share (option parsing, messages, the progress bar). Only cli/ prints. */
#ifndef QCAL_CLI_H
#define QCAL_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../graph/graph.h"
#include "../io/io.h"

#define QCAL_VERSION "0.1.0"

int cmd_inspect(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_merge(int argc, char **argv);

/* Prints "error: …" (or "warning: …") to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the error and the usage line; returns QC_ERR_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Options every command takes. */
typedef struct {
    bool json, quiet, help;
    int threads;
} cli_common;

/* Parses an option of the common set at argv[*i]; returns 1 when consumed, 0 when not a
 * common option, -1 on a bad value (the message is printed). */
int cli_common_option(cli_common *c, int argc, char **argv, int *i, const char *usage);
/* The value of option argv[*i] ("--name VALUE" or "--name=VALUE"), advancing *i; NULL when
 * argv[*i] is not that option; prints a usage error and sets *bad when the value is missing. */
const char *cli_option_value(const char *name, int argc, char **argv, int *i, bool *bad,
                             const char *usage);
bool cli_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);
bool cli_parse_float(const char *s, float *out);

/* Preprocessing flags: --size HxW --crop HxW --scale S --mean M[,M,M] --std S[,S,S]
 * --color gray|rgb|bgr. cli_pp_option consumes one; cli_pp_apply lays the given ones over pp. */
typedef struct {
    bool has_size, has_crop, has_scale, has_mean, has_std, has_color;
    int size_h, size_w, crop_h, crop_w;
    float scale;
    int n_mean, n_std;
    float mean[3], std[3];
    qc_color color;
} cli_pp_flags;
int cli_pp_option(cli_pp_flags *f, int argc, char **argv, int *i, const char *usage);
/* Returns false (after printing) when the result does not fit the model's channels. */
bool cli_pp_apply(const cli_pp_flags *f, qc_preprocess *pp, int channels);
/* Loads MODEL's card (its warning printed unless quiet) and resolves the preprocessing: the
 * card's, or the default for the channels, with the flags laid over. Prints what goes wrong;
 * returns the exit status. */
int cli_model_setup(const char *model_path, int channels, const cli_pp_flags *f, bool quiet,
                    qc_model_card *card, qc_preprocess *pp);

/* A progress bar with ETA on stderr, drawn only when stderr is a terminal and not quiet. */
typedef struct {
    bool on;
    const char *label;
    int64_t total, done;
    double start, last_draw;
} cli_progress;
void cli_progress_start(cli_progress *p, const char *label, int64_t total, bool quiet);
void cli_progress_update(cli_progress *p, int64_t done);
void cli_progress_end(cli_progress *p);

double cli_now(void); /* monotonic seconds */

/* JSON string output with escaping. */
void cli_json_string(FILE *f, const char *s);

#endif
