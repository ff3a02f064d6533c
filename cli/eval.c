/* eval.c — `qcal eval MODEL… IMAGES`: top-1/top-5 accuracy and images/s of each model. Every
 * image runs through the graph on its own (batch 1, one executor per thread), so results do
 * not depend on --batch or --threads. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../calib/calib.h"
#include "../stats/stats.h"
#include "cli.h"

#define MAX_MODELS 16

typedef qc_eval_summary eval_result;

typedef struct {
    const char *labels, *predictions;
    bool scores;
    cli_image_select select;
    cli_pp_flags pp;
    cli_common common;
} eval_options;

#define FIELD(f) .offset = offsetof(eval_options, f)
static const cli_option rows[] = {
    {"--labels", .kind = CLI_STRING, FIELD(labels), .arg = "FILE"},
    {.kind = CLI_GROUP, .rows = cli_select_rows, FIELD(select)},
    {.kind = CLI_GROUP, .rows = cli_batch_rows, FIELD(select)},
    {"--predictions", .kind = CLI_STRING, FIELD(predictions), .arg = "FILE", .usage = "[--predictions FILE [--scores]]"},
    {"--scores", .kind = CLI_FLAG, FIELD(scores), .usage = ""},
    {.kind = CLI_GROUP, .rows = cli_common_rows, FIELD(common)},
    {.kind = CLI_GROUP, .rows = cli_pp_rows, FIELD(pp)},
    {.kind = CLI_GROUP, .rows = cli_input_rows, FIELD(pp)},
    {.kind = CLI_GROUP, .rows = cli_output_rows, FIELD(pp)},
    {0},
};

static const cli_command command = {
    "eval", "MODEL... IMAGES", NULL,
    "Runs each model over the PNG and JPEG images (a folder scanned recursively, ImageFolder labels or "
    "--labels FILE) and prints top-1, top-5 and images/s. Models may be FP32 or quantized (QDQ pairs are "
    "fused into qcal's integer kernels, QOperator ops run as they are). Preprocessing comes from the model "
    "card (MODEL.json), else the card inside a quantized model (from 'qcal quantize'), unless flags say "
    "otherwise. Given FP32 models and quantized ones, each quantized model must come from one of the FP32 "
    "models given. --limit N takes the first N images in sorted order (the first classes of an "
    "ImageFolder); --sample N a reproducible class-balanced random subset (--seed S, default 0). A model "
    "input other than the image takes a constant from --input NAME=FILE.npy; --output NAME scores another "
    "output than the first.",
    rows, MAX_MODELS + 1, "eval takes at most 16 models"};

static int eval_model(const char *path, const qc_image_set *set, const eval_options *o,
                      eval_result *res)
{
    qc_error err;
    qc_graph *g = NULL;
    qc_model_card card = {0};
    qc_file pred = {0};
    qc_image_input in = {0};
    qc_preprocess pp;
    int status = cli_load_model(path, true, &g, NULL);
    if (status == QC_OK)
        status = cli_status(qc_image_input_of(g, path, "eval", true, &in, &err), &err);
    if (status == QC_OK)
        status = cli_model_setup(path, g, in.channels, &o->pp, o->common.quiet, &card, &pp);
    if (status == QC_OK && o->predictions)
        status = cli_status(qc_file_begin(&pred, o->predictions, &err), &err);
    if (status != QC_OK)
        goto end;
    *res = (eval_result){.path = path};
    if (cli_scored_output(g, &in))
        snprintf(res->output, sizeof res->output, "%s", cli_scored_output(g, &in));
    cli_progress progress;
    cli_progress_start(&progress, "eval", path, qc_pass_count(&(qc_pass_inputs){.set = set}, o->select.limit),
                       o->common.quiet);
    cli_skipped skipped = {.quiet = o->common.quiet};
    qc_eval_topk_options eo = {.run = {.limit = o->select.limit, .batch = o->select.batch, .threads = o->common.threads,
                                       .progress = cli_progress_draw, .progress_ctx = &progress},
                               .keep_unreadable = o->select.skip_bad, .on_skip = cli_report_skip,
                               .skip_ctx = &skipped, .predictions = pred.f ? &pred : NULL, .scores = o->scores};
    double start = cli_now();
    status = qc_eval_topk(g, &in, set, &pp, &eo, res, &err);
    res->seconds = cli_now() - start;
    cli_progress_end(&progress);
    if (status == QC_OK && pred.f)
        status = qc_file_commit(&pred, &err);
    cli_status(status, &err);
end:
    if (pred.f)
        qc_file_abort(&pred);
    qc_model_card_free(&card);
    qc_graph_destroy(g);
    return status;
}

static void print_table(const eval_result *r, int n, int width)
{
    static const cli_column cols[] = {{"model", true, 0, true}, {"images", false, 0, false},
                                      {"top-1", false, 0, false}, {"top-5", false, 0, false},
                                      {"images/s", false, 1, false}};
    cli_table tab;
    cli_table_init(&tab, cols, 5);
    for (int i = 0; i < n; i++) {
        const qc_topk_counts *c = &r[i].counts;
        double labelled = (double)c->labelled;
        cli_table_cell(&tab, "%s", r[i].path);
        cli_table_cell(&tab, "%lld", (long long)c->images);
        cli_table_cell(&tab, c->labelled ? "%.2f%% (%lld)" : "-", 100.0 * (double)c->top1 / labelled, (long long)c->top1);
        cli_table_cell(&tab, c->labelled ? "%.2f%% (%lld)" : "-", 100.0 * (double)c->top5 / labelled, (long long)c->top5);
        cli_table_cell(&tab, "%.1f", qc_eval_images_per_s(&r[i]));
    }
    cli_table_print(&tab, width);
    for (int i = 0; i < n; i++)
        if (r[i].skipped)
            printf("%s: %lld bad images skipped\n", r[i].path, (long long)r[i].skipped);
}

int cmd_eval(int argc, char **argv)
{
    eval_options o = {.select = CLI_SELECT_DEFAULT, .common = {.threads = 1}};
    const char *positional[MAX_MODELS + 1];
    int n_pos = 0, status;
    if (!cli_parse(&command, &o, argc, argv, positional, &n_pos, &status))
        return status;
    if (n_pos < 2)
        return cli_usage_error(&command, "eval needs a MODEL and IMAGES");
    if (cli_check_positionals(&command, "qcal eval MODEL... IMAGES", positional, n_pos - 1, positional + n_pos - 1, 1) != QC_OK)
        return QC_ERR_USAGE;
    if (cli_select_check(&o.select, &command) != QC_OK)
        return QC_ERR_USAGE;
    int n_models = n_pos - 1;
    if (o.scores && !o.predictions)
        return cli_usage_error(&command, "--scores adds the class scores to --predictions FILE");
    if (o.predictions && n_models > 1)
        return cli_usage_error(&command, "--predictions takes one MODEL");

    if (o.predictions) {
        cli_file inputs[] = {{positional[0], "model"}, {positional[1], "image folder"}, {o.labels, "labels file"}};
        int st = cli_check_output(o.predictions, "--predictions", inputs, 3);
        if (st != QC_OK)
            return st;
    }
    if (n_models > 1) {
        qc_error err;
        int st = qc_check_sources(positional, n_models, &err);
        if (st != QC_OK)
            return cli_status(st, &err);
    }

    qc_image_set set;
    int s = cli_open_images(&set, positional[n_pos - 1], o.labels, &o.select);
    if (s == QC_OK && set.unmatched_labels && !o.common.quiet)
        cli_warning("%d line%s of '%s' name%s no image under '%s' (left unused)", set.unmatched_labels,
                    set.unmatched_labels == 1 ? "" : "s", o.labels, set.unmatched_labels == 1 ? "s" : "",
                    positional[n_pos - 1]);
    if (s != QC_OK)
        return s;
    eval_result results[MAX_MODELS];
    for (int m = 0; m < n_models && status == QC_OK; m++)
        status = eval_model(positional[m], &set, &o, &results[m]);
    qc_image_set_free(&set);
    if (status != QC_OK)
        return status;
    if (o.common.json)
        qc_eval_json_write(stdout, results, n_models, o.common.threads, o.select.batch);
    else
        print_table(results, n_models, cli_table_width(o.common.wide));
    return QC_OK;
}
