/* quantize-images.c — the quantizer's steps that run the model over images: accuracy-aware
 * quantization on a labelled validation set and --method auto on the calibration set. Each
 * decodes its images once as the model's image input takes them (the preprocessing the
 * statistics were gathered with), then hands them to the algorithm, so that a program using
 * the library gets what `qcal quantize` does. */
#include <stdlib.h>
#include <string.h>

#include "calib.h"

/* err's message as "name: message" (the algorithms' errors name the images or model) */
static qc_status named_failure(qc_status st, const char *name, qc_error *err)
{
    if (st == QC_OK || !err)
        return st;
    qc_error inner = *err;
    return qc_fail(err, st, "%s: %s", name, inner.msg);
}

qc_status qc_accuracy_aware_images(const qc_aa_options *o, const char *model, const qc_image_set *val,
                                   const qc_preprocess *pp, qc_aa_result *r, qc_error *err)
{
    qc_image_input in = {0};
    qc_aa_options run = *o;
    float *pixels = NULL;
    int *labels = NULL;
    *r = (qc_aa_result){0};
    qc_status st = qc_image_input_of(o->fp32, model, "quantize", true, &in, err);
    const int64_t stride = (int64_t)in.channels * in.height * in.width, n = val->n_items;
    if (st == QC_OK && (!(pixels = malloc(sizeof *pixels * (size_t)(n * stride + 1))) ||
                        !(labels = malloc(sizeof *labels * (size_t)(n + 1)))))
        st = qc_fail(err, QC_ERR_IO, "out of memory");
    if (st == QC_OK)
        st = qc_eval_load_images(val, pp, n, &in, o->threads, pixels, err);
    for (int64_t i = 0; st == QC_OK && i < n; i++)
        labels[i] = val->items[i].label;
    run.inputs = pixels;
    run.n = n;
    run.stride = stride;
    run.labels = labels;
    run.classes = in.classes;
    if (st == QC_OK)
        st = named_failure(qc_accuracy_aware(&run, r, err), val->root, err);
    free(pixels);
    free(labels);
    return st;
}

qc_status qc_method_auto_images(const qc_auto_options *o, const char *model, const qc_image_set *set,
                                const qc_preprocess *pp, int64_t k, qc_auto_result *res, qc_error *err)
{
    qc_image_input in = {0};
    qc_auto_options run = *o;
    float *pixels = NULL;
    *res = (qc_auto_result){0};
    qc_status st = qc_image_input_of(o->fp32, model, "quantize", false, &in, err);
    if (st == QC_OK)
        st = qc_auto_load_images(set, pp, &in, k, o->threads, &pixels, &run.n, err);
    run.inputs = pixels;
    run.stride = (int64_t)in.channels * in.height * in.width;
    if (st == QC_OK)
        st = named_failure(qc_method_auto(&run, res, err), model, err);
    free(pixels);
    return st;
}

bool qc_aa_exclude_steps(const qc_aa_result *r, char ***items, int *n)
{
    for (int i = 0; i < r->n_steps; i++) {
        char **grown = realloc(*items, (size_t)(*n + 1) * sizeof *grown);
        if (!grown)
            return false;
        *items = grown;
        if (!((*items)[*n] = strdup(r->steps[i].node)))
            return false;
        ++*n;
    }
    return true;
}
