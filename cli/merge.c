/* merge.c — `qcal merge A.json B.json… -o ALL.json`: combines statistics files (shards made
 * with `qcal stats --shard I/N`, or runs over different image sets) into one. The sums are
 * exact, so merging the N shards of a split gives the file one run over all images gives,
 * byte for byte. */
#include <stdlib.h>
#include <string.h>

#include "../stats/stats.h"
#include "cli.h"

#define MERGE_USAGE                                                                           \
    "usage: qcal merge STATS.json... -o OUT.json [--json] [--quiet]\n"                         \
    "  Merges statistics files of one model (same preprocessing, granularity and histogram\n" \
    "  setting) into OUT.json. Shards of one split must all be distinct; when all N shards\n"  \
    "  are given, the result is the statistics of the whole image list. Exits 3 when the\n"   \
    "  files do not belong together, 2 when OUT.json is one of them.\n"

int cmd_merge(int argc, char **argv)
{
    cli_common common = {.threads = 1};
    const char *out = NULL;
    int n_in = 0;
    const char **in = calloc((size_t)argc, sizeof *in);
    if (!in) {
        cli_error("out of memory");
        return QC_ERR_IO;
    }
    int status = QC_OK;
    for (int i = 1; i < argc && status == QC_OK; i++) {
        bool bad = false;
        const char *v;
        int r = cli_common_option(&common, argc, argv, &i, MERGE_USAGE);
        if (r < 0)
            status = QC_ERR_USAGE;
        else if (r > 0)
            continue;
        else if ((v = cli_option_value("-o", argc, argv, &i, &bad, MERGE_USAGE)) ||
                 (!bad && (v = cli_option_value("--output", argc, argv, &i, &bad, MERGE_USAGE))))
            out = v;
        else if (bad)
            status = QC_ERR_USAGE;
        else if (argv[i][0] == '-' && argv[i][1])
            status = cli_usage_error(MERGE_USAGE, "unknown option '%s'", argv[i]);
        else
            in[n_in++] = argv[i];
    }
    if (status != QC_OK)
        goto done;
    if (common.help) {
        printf("%s", MERGE_USAGE);
        goto done;
    }
    if (n_in < 1 || !out) {
        status = cli_usage_error(MERGE_USAGE, "merge needs statistics files and -o OUT.json");
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
    status = qc_stats_load(in[0], &all, &err);
    if (status != QC_OK)
        cli_error("%s", err.msg);
    for (int k = 1; k < n_in && status == QC_OK; k++) {
        qc_stats *s = NULL;
        status = qc_stats_load(in[k], &s, &err);
        if (status != QC_OK) {
            cli_error("%s", err.msg);
        } else if ((status = qc_stats_merge(all, s, &err)) != QC_OK) {
            cli_error("cannot merge '%s' with '%s': %s", in[k], in[0], err.msg);
        }
        qc_stats_destroy(s);
    }
    if (status == QC_OK && (status = qc_stats_save(all, out, &err)) != QC_OK)
        cli_error("%s", err.msg);
    if (status == QC_OK) {
        if (common.json) {
            printf("{\"output\": ");
            cli_json_string(stdout, out);
            printf(", \"inputs\": %d, \"images\": %lld, \"complete\": %s}\n", n_in, (long long)all->images,
                   all->shard_count ? "false" : "true");
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
