/* quantize-write.c — the files a quantization writes, all or none: the range files other
 * tools read (TensorRT cache, ONNX Runtime overrides), the config of the settings, the model
 * with its version and card inside, and the card beside it. */
#include <stdio.h>
#include <stdlib.h>

#include "calib.h"

/* qcal.version and the card (JSON in *card_json, NULL without a card) in qg's metadata */
static qc_status set_metadata(qc_graph *qg, const qc_quantize_files *f, char **card_json, qc_error *err)
{
    qc_status st = qc_graph_set_meta(qg, "qcal.version", f->version);
    if (st == QC_OK && f->card && (st = qc_model_card_json(f->card, f->pp, card_json, err)) == QC_OK)
        st = qc_graph_set_meta(qg, "qcal.model_card", *card_json);
    return st == QC_ERR_IO ? qc_fail(err, st, "out of memory") : st;
}

qc_status qc_quantize_write(qc_graph *qg, const qc_quantize_report *r, const qc_quantize_options *o,
                            const qc_quantize_files *f, qc_card_copy *copied, char *card_target,
                            size_t target_size, qc_error *err)
{
    const char *written[4] = {NULL, NULL, NULL, NULL};
    char *card_json = NULL;
    int n = 0;
    *copied = QC_CARD_NONE;
    qc_status st = set_metadata(qg, f, &card_json, err);
    if (st == QC_OK && f->trt_cache && (st = qc_trt_cache_write(r, o->method, f->trt_cache, err)) == QC_OK)
        written[n++] = f->trt_cache;
    if (st == QC_OK && f->ort_overrides && (st = qc_ort_overrides_write(r, f->ort_overrides, err)) == QC_OK)
        written[n++] = f->ort_overrides;
    if (st == QC_OK && f->config && (st = qc_config_write(o, f->config, err)) == QC_OK)
        written[n++] = f->config;
    if (st == QC_OK && (st = qc_onnx_save(qg, f->model, err)) == QC_OK)
        written[n++] = f->model;
    if (st == QC_OK)
        st = qc_model_card_copy(f->source, f->model, f->card_changed ? card_json : NULL, copied, card_target,
                                target_size, err);
    for (int i = 0; st != QC_OK && i < n; i++)
        remove(written[i]);
    free(card_json);
    return st;
}
