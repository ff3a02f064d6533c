/* report-html-demo.c — writes qcal compare's HTML page from a real statistics file, for
 * tests/html-test.sh: the histograms are the file's, the ranges are what qc_stats_range gives
 * for minmax and percentile (the two "variants"), the accuracy and SQNR figures are fixed
 * values the test knows (variant 0: 3·i dB for tensor i, the last tensor +inf; variant 1:
 * 40 − 2·i dB, tensor 0 not measured).
 *
 * usage: report-html-demo STATS.json OUT.html
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "calib/calib.h"
#include "stats/stats.h"

#define N_VARIANTS 2

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: report-html-demo STATS.json OUT.html\n");
        return 2;
    }
    qc_error err;
    qc_stats *s;
    if (qc_stats_load(argv[1], &s, &err) != QC_OK) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 3;
    }
    static const char *const variants[N_VARIANTS] = {"minmax", "percentile"};
    const int n = s->n_tensors;
    qc_report_tensor *t = calloc((size_t)n, sizeof *t);
    qc_report_range *ranges = calloc((size_t)n * N_VARIANTS, sizeof *ranges);
    double *sqnr = calloc((size_t)n * N_VARIANTS, sizeof *sqnr);
    if (!t || !ranges || !sqnr)
        return 4;
    qc_range_params params;
    qc_range_params_default(&params);
    int status = 0;
    for (int i = 0; i < n && status == 0; i++) {
        const qc_tensor_stats *ts = &s->tensors[i];
        t[i].name = ts->name;
        t[i].hist = ts->hist.counts ? &ts->hist : NULL;
        t[i].min = ts->t.min;
        t[i].max = ts->t.max;
        t[i].sqnr_db = &sqnr[i * N_VARIANTS];
        sqnr[i * N_VARIANTS] = i == n - 1 ? INFINITY : 3.0 * i;
        sqnr[i * N_VARIANTS + 1] = i == 0 ? NAN : 40.0 - 2.0 * i;
        t[i].ranges = &ranges[i * N_VARIANTS];
        const qc_range_method methods[N_VARIANTS] = {QC_RANGE_MINMAX, QC_RANGE_PERCENTILE};
        for (int k = 0; k < N_VARIANTS; k++) {
            if (methods[k] == QC_RANGE_PERCENTILE && !t[i].hist)
                continue;
            qc_report_range *rg = &ranges[i * N_VARIANTS + t[i].n_ranges];
            rg->variant = variants[k];
            if (qc_stats_range(ts, methods[k], &params, -1, &rg->lo, &rg->hi, &err) != QC_OK) {
                fprintf(stderr, "error: %s\n", err.msg);
                status = 3;
                break;
            }
            t[i].n_ranges++;
        }
    }
    const double top1[N_VARIANTS] = {0.9101, 0.9007}, agree[N_VARIANTS] = {0.9931, 0.9822};
    const double speedup[N_VARIANTS] = {2.5, NAN};
    const qc_report_model model = {.name = "lenet <demo>", .images = 1000, .fp32_top1 = 0.9105,
                                    .top1 = top1, .agreement = agree, .speedup = speedup,
                                    .n_tensors = n, .tensors = t};
    const qc_report r = {.title = "qcal compare: demo", .version = "demo", .calib = "data/calib", .val = "data/val",
                          .n_variants = N_VARIANTS, .variants = variants, .n_models = 1,
                          .models = &model};
    if (status == 0 && qc_report_html_write(&r, argv[2], &err) != QC_OK) {
        fprintf(stderr, "error: %s\n", err.msg);
        status = 4;
    }
    free(t);
    free(ranges);
    free(sqnr);
    qc_stats_destroy(s);
    return status;
}
