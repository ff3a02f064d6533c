/* fuzz_onnx.c — ONNX bytes → load, prepare, fold BatchNorm, run FP32 once; then fuse QDQ
 * patterns into integer ops and run again: every path a downloaded model takes. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "graph/graph.h"
#include "io/io.h"

/* Feeds every graph input a small pattern (symbolic dims at 1) and runs the graph. */
static void run_once(const qc_graph *g)
{
    qc_value in[8];
    int n = g->n_inputs;
    if (n > 8)
        return;
    memset(in, 0, sizeof in);
    for (int i = 0; i < n; i++) {
        const qc_value *v = &g->tensors[g->inputs[i]].value;
        in[i] = *v;
        size_t bytes = qc_value_bytes(v);
        if (v->rank < 0 || bytes > FUZZ_MEMORY_LIMIT / 4)
            goto done;
        in[i].data = malloc(bytes ? bytes : 1);
        if (!in[i].data)
            goto done;
        for (size_t b = 0; b < bytes; b++)
            ((unsigned char *)in[i].data)[b] = (unsigned char)(b * 37 % 61);
        if (v->dtype == QC_FLOAT)
            for (size_t e = 0; e < bytes / 4; e++)
                ((float *)in[i].data)[e] = (float)(e % 17) / 8.0f - 1.0f;
    }
    qc_exec *x = qc_exec_create(g);
    if (x) {
        qc_error err;
        (void)qc_exec_run(x, in, n, &err);
        qc_exec_destroy(x);
    }
done:
    for (int i = 0; i < n; i++)
        free(in[i].data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qc_set_memory_limit(FUZZ_MEMORY_LIMIT);
    qc_graph *g = NULL;
    qc_error err;
    if (qc_onnx_parse(data, size, "fuzz.onnx", &g, &err) != QC_OK) {
        qc_graph_destroy(g);
        return 0;
    }
    if (qc_graph_prepare(g, &err) == QC_OK && qc_pass_fold_batchnorm(g, &err) == QC_OK) {
        run_once(g);
        if (qc_pass_fuse_qdq(g, &err) == QC_OK)
            run_once(g);
    }
    qc_graph_destroy(g);
    return 0;
}
