/* quantize-write.c — the files a quantization writes, all or none: the range files other
 * tools read (TensorRT cache, ONNX Runtime overrides), the config of the settings, the model
 * and its card beside it. */
#include <stdio.h>

#include "calib.h"

qc_status qc_quantize_write(const qc_graph *qg, const qc_quantize_report *r, const qc_quantize_options *o,
                            const qc_quantize_files *f, qc_card_copy *copied, char *card_target,
                            size_t target_size, qc_error *err)
{
    const char *written[4] = {NULL, NULL, NULL, NULL};
    int n = 0;
    qc_status st = QC_OK;
    *copied = QC_CARD_NONE;
    if (f->trt_cache && (st = qc_trt_cache_write(r, o->method, f->trt_cache, err)) == QC_OK)
        written[n++] = f->trt_cache;
    if (st == QC_OK && f->ort_overrides && (st = qc_ort_overrides_write(r, f->ort_overrides, err)) == QC_OK)
        written[n++] = f->ort_overrides;
    if (st == QC_OK && f->config && (st = qc_config_write(o, f->config, err)) == QC_OK)
        written[n++] = f->config;
    if (st == QC_OK && (st = qc_onnx_save(qg, f->model, err)) == QC_OK)
        written[n++] = f->model;
    if (st == QC_OK)
        st = qc_model_card_copy(f->source, f->model, f->card_text, copied, card_target, target_size, err);
    for (int i = 0; st != QC_OK && i < n; i++)
        remove(written[i]);
    return st;
}
