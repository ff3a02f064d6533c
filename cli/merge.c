/* merge.c — `qcal merge A.json B.json… -o ALL.json`: combines statistics files (shards made
 * with `qcal stats --shard I/N`, or runs over different image sets) into one. The sums are
 * exact, so merging the N shards of a split gives the file one run over all images gives,
 * byte for byte. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../stats/stats.h"
#include "cli.h"

typedef struct {
    cli_common common;
    const char *out;
} merge_options;

static const cli_option rows[] = {
    {.kind = CLI_GROUP, .rows = cli_common_rows, .usage = "[--json] [--quiet]"},
    {"--output", "-o", CLI_STRING, .offset = offsetof(merge_options, out), .arg = "OUT.json", .usage = ""},
    {0},
};

static const cli_command command = {
    "merge", "STATS.json... -o OUT.json", NULL,
    "Merges statistics files of one model (same preprocessing, granularity and histogram setting) "
    "into OUT.json. Shards of one split must all be distinct; when all N shards are given, the "
    "result is the statistics of the whole image list. Exits 3 when the files do not belong "
    "together, 2 when OUT.json is one of them.",
    rows, 0, NULL};

int cmd_merge(int argc, char **argv)
{
    merge_options o = {.common = {.threads = 1}};
    int n_in = 0, status;
    const char **in = calloc((size_t)argc, sizeof *in);
    if (!in)
        return cli_out_of_memory();
    if (!cli_parse(&command, &o, argc, argv, in, &n_in, &status))
        goto done;
    const char *out = o.out;
    if (n_in < 1 || !out) {
        status = cli_usage_error(&command, "merge needs statistics files and -o OUT.json");
        goto done;
    }

    for (int k = 0; k < n_in && status == QC_OK; k++) {
        cli_file input = {in[k], "statistics file"};
        status = cli_check_output(out, "-o", &input, 1);
    }
    if (status != QC_OK)
        goto done;

    qc_error err;
    qc_stats *all = NULL;
    status = cli_status(qc_stats_merge_files(in, n_in, &all, &err), &err);
    if (status == QC_OK)
        status = cli_status(qc_stats_save(all, out, &err), &err);
    if (status == QC_OK) {
        if (o.common.json) {
            qc_merge_json_write(stdout, out, n_in, all);
        } else {
            printf("merged %d file%s into %s: %lld images", n_in, n_in == 1 ? "" : "s", out,
                   (long long)all->images);
            if (all->shard_count)
                printf(" (%d of %d shards; merge the others to complete it)", all->n_shards, all->shard_count);
            printf("\n");
        }
    }
    qc_stats_destroy(all);
done:
    free(in);
    return status;
}
