/* model-load.c — the models a command opens: loaded and made ready (BatchNorm folded, QDQ
 * fused, other inputs bound), and the check that a quantized model comes from the FP32
 * model it is compared with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"

qc_status qc_model_load(const char *path, bool fuse, const qc_input_binding *inputs, int n_inputs, qc_graph **g,
                        uint64_t *hash, qc_error *err)
{
    qc_status st = qc_onnx_load(path, g, err);
    if (st == QC_OK)
        st = qc_pass_fold_batchnorm(*g, err);
    if (st == QC_OK && fuse)
        st = qc_pass_fuse_qdq(*g, err);
    for (int k = 0; k < n_inputs && st == QC_OK; k++) {
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)inputs[k].name_len, inputs[k].name);
        st = qc_npy_bind_input(*g, path, name, inputs[k].file, err);
    }
    if (st == QC_OK && hash)
        st = qc_stats_hash_file(path, hash, err);
    return st;
}

qc_status qc_check_source(const qc_graph *q, const char *q_path, uint64_t fp32_hash, const char *fp32_path,
                          qc_error *err)
{
    uint64_t h;
    if (!qc_graph_source_hash(q, &h) || h == fp32_hash)
        return QC_OK;
    return qc_fail(err, QC_ERR_INPUT, "'%s' was quantized from another model than '%s': it records the source hash "
                   "%016llx (qcal.source_model_hash), '%s' has %016llx", q_path, fp32_path, (unsigned long long)h,
                   fp32_path, (unsigned long long)fp32_hash);
}

/* Quantized model m's source among the FP32 models: QC_OK when found or m records none. */
static qc_status source_among(const char *const *paths, int n, int m, qc_graph *const *g, const uint64_t *hash,
                              const bool *quantized, int n_fp32, qc_error *err)
{
    uint64_t source;
    if (!qc_graph_source_hash(g[m], &source))
        return QC_OK;
    for (int k = 0; k < n; k++)
        if (!quantized[k] && hash[k] == source)
            return QC_OK;
    int first = 0;
    while (quantized[first])
        first++;
    return qc_fail(err, QC_ERR_INPUT, "'%s' was quantized from another model than the FP32 model%s given ('%s'%s): "
                   "it records the source hash %016llx (qcal.source_model_hash), '%s' has %016llx", paths[m],
                   n_fp32 > 1 ? "s" : "", paths[first], n_fp32 > 1 ? ", …" : "", (unsigned long long)source,
                   paths[first], (unsigned long long)hash[first]);
}

qc_status qc_check_sources(const char *const *paths, int n, qc_error *err)
{
    qc_graph **g = calloc((size_t)n, sizeof *g);
    uint64_t *hash = calloc((size_t)n, sizeof *hash);
    bool *quantized = calloc((size_t)n, sizeof *quantized);
    qc_status status = g && hash && quantized ? QC_OK : qc_fail(err, QC_ERR_IO, "out of memory");
    int n_fp32 = 0;
    for (int m = 0; m < n && status == QC_OK; m++) {
        if ((status = qc_onnx_load(paths[m], &g[m], err)) != QC_OK ||
            (status = qc_stats_hash_file(paths[m], &hash[m], err)) != QC_OK)
            break;
        quantized[m] = qc_graph_is_quantized(g[m]);
        n_fp32 += !quantized[m];
    }
    for (int m = 0; m < n && status == QC_OK && n_fp32 > 0; m++)
        if (quantized[m])
            status = source_among(paths, n, m, g, hash, quantized, n_fp32, err);
    for (int m = 0; g && m < n; m++)
        qc_graph_destroy(g[m]);
    free(g);
    free(hash);
    free(quantized);
    return status;
}

qc_status qc_check_not_quantized(const qc_graph *g, const char *path, const char *command, qc_error *err)
{
    if (!qc_graph_is_quantized(g))
        return QC_OK;
    const char *op = qc_graph_quantized_op(g) ? qc_graph_quantized_op(g) : "qcal.format metadata";
    return qc_fail(err, QC_ERR_INPUT,
                   "'%s' is already quantized (%s): %s takes the FP32 model it came from; 'qcal eval' runs "
                   "this one, beside the FP32 model to compare them",
                   path, op, command);
}

bool qc_input_binding_add(qc_input_binding *list, int *n, int max, const char *text)
{
    const char *eq = strchr(text, '=');
    if (!eq || eq == text || !eq[1] || *n == max)
        return false;
    for (int k = 0; k < *n; k++)
        if (list[k].name_len == (size_t)(eq - text) && !strncmp(list[k].name, text, (size_t)(eq - text)))
            return false;
    list[(*n)++] = (qc_input_binding){text, (size_t)(eq - text), eq + 1};
    return true;
}
