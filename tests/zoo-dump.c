/* zoo-dump.c — runs a model as `qcal eval` does (BatchNorm folded, QDQ fused into integer ops)
 * on raw float32 inputs and writes every 8-bit tensor the executor produces, so that
 * tests/zoo-check.sh can compare each quantized layer with ONNX Runtime's on the same inputs.
 *
 * usage: zoo-dump MODEL INPUTS.f32 N OUT.bin
 *        INPUTS.f32: N images of the model's input shape (batch 1 each), float32, C order
 *        OUT.bin: per image, per uint8/int8 tensor in execution order, a record
 *                 "name\0", one byte dtype (2 uint8, 3 int8), one byte rank, rank int64
 *                 dimensions (little-endian), then the elements, one byte each;
 *                 exit 0, or 3 (4 for I/O) with a message on stderr */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "io/io.h"

typedef struct {
    FILE *out;
    int failed;
} dump_ctx;

static void dump_tensor(void *ctx, const qc_graph *g, int tensor, const qc_value *value)
{
    dump_ctx *d = ctx;
    if (value->dtype != QC_UINT8 && value->dtype != QC_INT8)
        return;
    const char *name = g->tensors[tensor].name;
    unsigned char head[2] = {(unsigned char)value->dtype, (unsigned char)value->rank};
    int64_t count = qc_value_count(value);
    if (fwrite(name, strlen(name) + 1, 1, d->out) != 1 || fwrite(head, 2, 1, d->out) != 1 ||
        (value->rank > 0 &&
         fwrite(value->dims, sizeof value->dims[0], (size_t)value->rank, d->out) != (size_t)value->rank) ||
        (count > 0 && fwrite(value->data, (size_t)count, 1, d->out) != 1))
        d->failed = 1;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: zoo-dump MODEL INPUTS.f32 N OUT.bin\n");
        return 2;
    }
    long n = strtol(argv[3], NULL, 10);
    qc_error err;
    qc_graph *g = NULL;
    qc_exec *x = NULL;
    float *in = NULL;
    FILE *f = NULL;
    dump_ctx d = {0};
    int status = 3;
    qc_status st = qc_onnx_load(argv[1], &g, &err);
    if (st == QC_OK)
        st = qc_pass_fold_batchnorm(g, &err);
    if (st == QC_OK)
        st = qc_pass_fuse_qdq(g, &err);
    if (st != QC_OK) {
        fprintf(stderr, "error: %s\n", err.msg);
        goto end;
    }
    if (g->n_inputs != 1) {
        fprintf(stderr, "error: '%s' has %d inputs, expected 1\n", argv[1], g->n_inputs);
        goto end;
    }
    qc_value shape = g->tensors[g->inputs[0]].value;
    shape.dims[0] = 1;
    int64_t per = qc_value_count(&shape);
    in = malloc((size_t)per * sizeof *in);
    f = fopen(argv[2], "rb");
    d.out = fopen(argv[4], "wb");
    if (!in || !f || !d.out) {
        fprintf(stderr, "error: cannot open '%s' or '%s'\n", argv[2], argv[4]);
        goto end;
    }
    x = qc_exec_create(g);
    if (!x) {
        fprintf(stderr, "error: out of memory\n");
        goto end;
    }
    qc_exec_set_observer(x, dump_tensor, &d);
    for (long i = 0; i < n; i++) {
        if (fread(in, sizeof *in, (size_t)per, f) != (size_t)per) {
            fprintf(stderr, "error: '%s' holds fewer than %ld inputs\n", argv[2], n);
            goto end;
        }
        qc_value v = qc_value_f32(shape.rank, shape.dims, in);
        if (qc_exec_run(x, &v, 1, &err) != QC_OK) {
            fprintf(stderr, "error: %s\n", err.msg);
            goto end;
        }
    }
    status = d.failed ? 4 : 0;
    if (d.failed)
        fprintf(stderr, "error: cannot write '%s'\n", argv[4]);
end:
    if (d.out && fclose(d.out) != 0 && status == 0) {
        fprintf(stderr, "error: cannot write '%s'\n", argv[4]);
        status = 4;
    }
    if (f)
        fclose(f);
    free(in);
    if (x)
        qc_exec_destroy(x);
    if (g)
        qc_graph_destroy(g);
    return status;
}
