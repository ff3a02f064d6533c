/* report-html-demo.c — writes qcal compare's HTML page from a real statistics file and fixed
 * figures, for tests/html-test.sh (the page of a real compare run does not give the same bytes
 * twice: it holds the timed speed-up). The histograms are the file's, the ranges are what
 * qc_stats_range gives for minmax and percentile (the two "variants"; the second per channel
 * on weights, its band from the statistics' channels), and the figures are values the test
 * knows: variant 0 has 3·i dB for tensor i (the last +inf), variant 1 has 40 − 2·i dB and no
 * figures for tensor 0 (not quantized); top-1 910 and 901 of 1,000 against FP32's 911.
 *
 * usage: report-html-demo STATS.json OUT.html
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "calib/calib.h"
#include "stats/stats.h"

#define N_VARIANTS 2

static const qc_report_variant variants[N_VARIANTS] = {
    {"minmax", QC_SCHEME_GEMMLOWP, QC_GRANULARITY_TENSOR, QC_GRANULARITY_TENSOR, QC_RANGE_MINMAX, 8},
    {"percentile", QC_SCHEME_SYMLOWP, QC_GRANULARITY_CHANNEL, QC_GRANULARITY_TENSOR, QC_RANGE_PERCENTILE, 6},
};

/* Tensor i of s in variant k: the fixed figures and the method's range. */
static qc_status demo_layer(const qc_tensor_stats *ts, int i, int n, int k, qc_report_layer *l, qc_error *err)
{
    const double sqnr = k == 0 ? (i == n - 1 ? INFINITY : 3.0 * i) : 40.0 - 2.0 * i;
    *l = (qc_report_layer){.why = QC_REPORT_MEASURED, .sqnr_db = sqnr, .cosine = 1.0 - 1e-3 * i,
                           .max_abs_err = 0.01 * (i + 1), .clipped = 0.001 * k, .codes_used = 0.5};
    if (k == 1 && i == 0) {
        *l = (qc_report_layer){.why = QC_REPORT_NOT_QUANTIZED, .sqnr_db = NAN, .cosine = NAN,
                               .max_abs_err = NAN, .clipped = NAN, .codes_used = NAN};
        return QC_OK;
    }
    const qc_range_method method = k == 0 ? QC_RANGE_MINMAX : QC_RANGE_PERCENTILE;
    if (method == QC_RANGE_PERCENTILE && !ts->hist.counts)
        return QC_OK;
    qc_range_params params;
    qc_range_params_default(&params);
    qc_status st = qc_stats_range(ts, method, &params, -1, &l->lo, &l->hi, err);
    l->has_range = st == QC_OK;
    if (k == 1 && ts->role == QC_ROLE_WEIGHT && ts->ch && ts->channels > 1) {
        l->n_channels = ts->channels;
        l->lo_band[0] = l->lo_band[1] = ts->ch[0].min;
        l->hi_band[0] = l->hi_band[1] = ts->ch[0].max;
        for (int c = 1; c < ts->channels; c++) {
            l->lo_band[0] = fminf(l->lo_band[0], ts->ch[c].min);
            l->lo_band[1] = fmaxf(l->lo_band[1], ts->ch[c].min);
            l->hi_band[0] = fminf(l->hi_band[0], ts->ch[c].max);
            l->hi_band[1] = fmaxf(l->hi_band[1], ts->ch[c].max);
        }
    }
    return st;
}

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
    const int n = s->n_tensors;
    qc_report_tensor *t = calloc((size_t)n + 1, sizeof *t);
    qc_report_layer *layers = calloc((size_t)n * N_VARIANTS + 1, sizeof *layers);
    if (!t || !layers)
        return 4;
    int status = 0;
    for (int i = 0; i < n && status == 0; i++) {
        const qc_tensor_stats *ts = &s->tensors[i];
        t[i] = (qc_report_tensor){.name = ts->name, .role = ts->role, .output = i == n - 1,
                                  .layer = ts->role == QC_ROLE_WEIGHT ? "layer <of weights>" : NULL,
                                  .hist = ts->hist.counts ? &ts->hist : NULL, .min = ts->t.min,
                                  .max = ts->t.max, .layers = &layers[i * N_VARIANTS]};
        for (int k = 0; k < N_VARIANTS && status == 0; k++)
            if (demo_layer(ts, i, n, k, &layers[i * N_VARIANTS + k], &err) != QC_OK) {
                fprintf(stderr, "error: %s\n", err.msg);
                status = 3;
            }
    }
    const qc_report_result results[N_VARIANTS] = {
        {.correct = 910, .top1 = 0.910, .agreement = 0.9931, .kl = 2.5e-4, .speedup = 2.5, .drop = 0.1,
         .min_sqnr = 3.0, .min_sqnr_tensor = n > 1 ? s->tensors[1].name : NULL, .gated = true},
        {.correct = 901, .top1 = 0.901, .agreement = 0.9822, .kl = 1.5e-3, .speedup = NAN, .drop = 1.0,
         .min_sqnr = 40.0 - 2.0 * (n - 1), .min_sqnr_tensor = s->tensors[n - 1].name},
    };
    const qc_report_model model = {.name = "lenet <demo>", .images = 1000, .labelled = 1000,
                                   .layer_images = 64, .fp32_top1 = 0.911, .results = results,
                                   .n_tensors = n, .tensors = t};
    const char *const failures[1] = {"variant 'minmax' of 'lenet <demo>' drops top-1 by 0.10 points (--max-drop 0.05)"};
    const qc_report r = {.title = "qcal compare: demo", .version = "demo", .calib = "data/calib",
                         .val = "data/val", .n_variants = N_VARIANTS, .variants = variants, .n_models = 1,
                         .models = &model, .has_max_drop = true, .max_drop = 0.05, .n_failures = 1,
                         .failures = failures};
    if (status == 0 && qc_report_html_write(&r, argv[2], &err) != QC_OK) {
        fprintf(stderr, "error: %s\n", err.msg);
        status = 4;
    }
    free(t);
    free(layers);
    qc_stats_destroy(s);
    return status;
}
