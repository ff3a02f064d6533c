/* main.c — qcal's entry point: dispatches to the subcommand named by argv[1]. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"inspect", cmd_inspect, "ops, shapes, parameters and what qcal supports in a model"},
    {"eval", cmd_eval, "top-1/top-5 accuracy and images/s of models on an image set"},
    {"stats", cmd_stats, "calibration statistics of every tensor over an image set"},
    {"merge", cmd_merge, "merge statistics files (shards) into one"},
    {"quantize", cmd_quantize, "write an INT8 model (QDQ, QOperator or FakeQuantize) from statistics"},
    {"compare", cmd_compare, "FP32 against GemmLowP and SymLowP variants: accuracy, per-layer error, gates"},
    {"bench", cmd_bench, "latency and throughput of a model in FP32 and INT8, and their ratio"},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: qcal <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'qcal <command> --help' describes a command. Exit codes: 0 success, 1 accuracy gate\n"
               "failed, 2 usage error, 3 bad input (model, image, stats, config), 4 I/O or internal error.\n");
}

cli_exit cli_exit_code(int status)
{
    switch (status) {
    case QC_OK:
        return CLI_EXIT_OK;
    case CLI_GATE_FAILED:
        return CLI_EXIT_GATE;
    case QC_ERR_USAGE:
        return CLI_EXIT_USAGE;
    case QC_ERR_INPUT:
        return CLI_EXIT_INPUT;
    default:
        return CLI_EXIT_IO;
    }
}

int main(int argc, char **argv)
{
    qc_file_unlink_on_signals(); /* Ctrl-C leaves no half-written output */
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("qcal %s\n", QCAL_VERSION);
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name))
            return (int)cli_exit_code(commands[i].fn(argc - 1, argv + 1));
    char names[128] = "";
    for (size_t i = 0; i < N_COMMANDS; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", commands[i].name);
    cli_error("unknown command '%s' (%s)", argv[1], names);
    fputs("see 'qcal --help'\n", stderr);
    return CLI_EXIT_USAGE;
}
