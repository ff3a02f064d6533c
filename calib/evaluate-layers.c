/* evaluate-layers.c — the error of quantized variants layer by layer, against FP32: each
 * quantized activation as the next layer reads it (dequantized), each quantized weight, and
 * which integer codes the FP32 values take under the variant's parameters (clipping, codes
 * used). One thread, images in order: the sums are doubles, and their order is their value.
 * A model with a fixed batch runs each image alone, its batch filled with copies of it, and
 * only the first row of every tensor is compared (so the sums are those of its twin with a
 * dynamic batch, at the cost of batch × the work). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"


/* The FP32 pass keeps a copy of every float tensor of one image; the quantized pass compares
 * what it produces against them. */
typedef struct {
    const qc_stats *s;
    /* FP32 pass */
    const qc_graph *g;
    float **cap;            /* per FP32 graph tensor */
    int64_t *cap_n, *cap_size;
    /* quantized pass */
    const int *map;         /* quantized graph tensor → statistics tensor, or -1 */
    const qc_layer_map *const *deq; /* per quantized tensor: how to dequantize an integer one */
    const int *fp32_of;     /* statistics tensor → FP32 graph tensor */
    qc_layer_error *layers;   /* per statistics tensor */
    float *scratch;
    int64_t scratch_size;
    int64_t rows;           /* the model's fixed batch: the image is the first of rows rows */
    bool oom;
} layer_ctx;

/* The values of the image in a tensor: the first row of the batch, in memory order. */
static int64_t first_row(const layer_ctx *c, const qc_value *v)
{
    int64_t n = qc_value_count(v);
    return c->rows > 1 && n % c->rows == 0 ? n / c->rows : n;
}

static bool ensure(float **buf, int64_t *size, int64_t n)
{
    if (*size >= n)
        return true;
    float *grown = realloc(*buf, sizeof(float) * (size_t)n);
    if (!grown)
        return false;
    *buf = grown;
    *size = n;
    return true;
}

/* The first n values of tensor's v, kept for the variants' runs. */
static void capture(layer_ctx *c, int tensor, const qc_value *v, int64_t n)
{
    if (v->dtype != QC_FLOAT)
        return;
    if (!ensure(&c->cap[tensor], &c->cap_size[tensor], n)) {
        c->oom = true;
        return;
    }
    memcpy(c->cap[tensor], v->data, sizeof(float) * (size_t)n);
    c->cap_n[tensor] = n;
}

static void capture_observer(void *ctx, const qc_graph *g, int tensor, const qc_value *v)
{
    (void)g;
    capture(ctx, tensor, v, first_row(ctx, v));
}

static void compare_observer(void *ctx, const qc_graph *g, int tensor, const qc_value *v)
{
    layer_ctx *c = ctx;
    (void)g;
    int si = c->map[tensor];
    if (si < 0)
        return;
    int f = c->fp32_of[si];
    int64_t n = first_row(c, v);
    if (f >= 0 && c->cap_n[f] == qc_value_count(v)) /* a constant input's: captured whole */
        n = c->cap_n[f];
    if (f < 0 || !c->cap[f] || c->cap_n[f] != n)
        return;
    const float *q = v->data;
    if (v->dtype == QC_UINT8 || v->dtype == QC_INT8) {
        if (!ensure(&c->scratch, &c->scratch_size, n)) {
            c->oom = true;
            return;
        }
        const qc_layer_map *lm = c->deq[tensor];
        int64_t inner = 1; /* values per channel and sample, channels on axis 1 */
        for (int d = 2; d < v->rank; d++)
            inner *= v->dims[d];
        if (lm->n_ch > 1 && (v->rank < 2 || v->dims[1] != lm->n_ch))
            return;
        for (int64_t i = 0; i < n; i++) {
            int32_t code = v->dtype == QC_UINT8 ? ((const uint8_t *)v->data)[i]
                                                : ((const int8_t *)v->data)[i];
            const qc_qparams *p = lm->n_ch > 1 ? &lm->deq_ch[(i / inner) % lm->n_ch] : &lm->deq;
            c->scratch[i] = qc_dequantize_value(code, p);
        }
        q = c->scratch;
    } else if (v->dtype != QC_FLOAT)
        return;
    qc_error_acc_add(&c->layers[si].acc, c->cap[f], q, n);
}

static bool is_plain_op(const qc_node *n, const char *op_type)
{
    return !strcmp(n->op_type, op_type) && (!n->domain[0] || !strcmp(n->domain, "ai.onnx"));
}

static bool constant_operands(const qc_graph *g, const qc_node *n)
{
    for (int k = 1; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0 && !g->tensors[n->inputs[k]].is_const)
            return false;
    return true;
}

/* The statistics tensor that QuantizeLinear node nd quantizes, or -1. The quantizer writes,
 * for an activation x (docs/qparams.md Q8, Q14):
 *
 *     x [→ Div(x, S) when compensated] [→ Clip to the b-bit range when b < 8] → Q → DQ
 *
 * and the readers of x read DQ's output. So the activation is Q's input, found through that
 * Clip and Div; a graph output x is renamed before its Q and its name moves to DQ's output. */
static int quantized_activation(const qc_graph *vg, const qc_stats *s, const qc_node *nd)
{
    for (int i = 0; i < vg->n_nodes; i++) {
        const qc_node *dq = &vg->nodes[i];
        if (is_plain_op(dq, "DequantizeLinear") && dq->n_inputs > 0 && dq->inputs[0] == nd->outputs[0] &&
            dq->n_outputs > 0 && dq->outputs[0] >= 0 && vg->tensors[dq->outputs[0]].is_output) {
            int si = qc_stats_find(s, vg->tensors[dq->outputs[0]].name);
            if (si >= 0)
                return si;
        }
    }
    int x = nd->inputs[0];
    int si = qc_stats_find(s, vg->tensors[x].name);
    const char *steps[] = {"Clip", "Div"}; /* walking back: the Clip comes after the Div */
    for (int k = 0; k < 2 && si < 0; k++) {
        int p = vg->tensors[x].producer;
        if (p < 0 || !is_plain_op(&vg->nodes[p], steps[k]) || vg->nodes[p].n_inputs < 1 ||
            !constant_operands(vg, &vg->nodes[p]))
            continue;
        x = vg->nodes[p].inputs[0];
        si = qc_stats_find(s, vg->tensors[x].name);
    }
    return si;
}

/* Which tensor of the quantized graph vg (QDQ, before fusion) holds each quantized
 * activation as the next layer reads it: the output of its QuantizeLinear, an integer tensor
 * that fusion keeps (the fused node writes it), dequantized with that node's scale and zero
 * point, or channel by channel with the report's parameters when the activation is
 * compensated. Statistics tensors that the variant leaves in FP32 are compared as the float
 * tensor of the same name. */
qc_status qc_eval_map_tensors(const qc_graph *vg, const qc_stats *s, const qc_quantize_report *report,
                              qc_layer_map **maps_out, int *n_maps, qc_error *err)
{
    bool *claimed = calloc((size_t)s->n_tensors + 1, sizeof *claimed);
    bool *measured = calloc((size_t)s->n_tensors + 1, sizeof *measured);
    int *map = malloc(sizeof(int) * (size_t)(vg->n_tensors + 1));
    qc_qparams *deq = calloc((size_t)vg->n_tensors + 1, sizeof *deq);
    qc_layer_map *maps = calloc((size_t)vg->n_tensors + 1, sizeof *maps);
    int n = 0;
    if (!claimed || !measured || !map || !deq || !maps) {
        free(claimed);
        free(measured);
        free(map);
        free(deq);
        free(maps);
        return qc_fail(err, QC_ERR_IO, "out of memory");
    }
    for (int t = 0; t < vg->n_tensors; t++)
        map[t] = -1;
    /* quantized by the variant: never compared through a float tensor of the same name,
     * which in the QDQ graph holds the value before the quantization (before a fused Relu,
     * before the b-bit Clip, or in the units of compensated channels) */
    for (int r = 0; r < report->n; r++) {
        int si = qc_stats_find(s, report->tensors[r].tensor);
        if (si >= 0 && (!strcmp(report->tensors[r].role, "activation") || !strcmp(report->tensors[r].role, "input")))
            claimed[si] = true;
    }
    for (int i = 0; i < vg->n_nodes; i++) {
        const qc_node *nd = &vg->nodes[i];
        if (!is_plain_op(nd, "QuantizeLinear") || nd->n_inputs < 2 || nd->n_outputs < 1 ||
            nd->outputs[0] < 0 || nd->inputs[0] < 0 || vg->tensors[nd->inputs[0]].is_const)
            continue;
        int si = quantized_activation(vg, s, nd);
        const qc_tensor *sc = &vg->tensors[nd->inputs[1]];
        const qc_tensor *zp = nd->n_inputs > 2 && nd->inputs[2] >= 0 ? &vg->tensors[nd->inputs[2]] : NULL;
        const qc_tensor *out = &vg->tensors[nd->outputs[0]];
        if (si < 0 || measured[si] || !sc->is_const || qc_value_count(&sc->value) != 1 ||
            (zp && !zp->is_const))
            continue;
        measured[si] = true; /* once, should a tensor be quantized twice */
        qc_qparams p = {.scale = (float)qc_read_scalar(&sc->value, 0),
                        .zero_point = zp ? (int32_t)qc_read_scalar(&zp->value, 0) : 0};
        bool is_signed = zp ? zp->value.dtype == QC_INT8 : out->value.dtype == QC_INT8;
        p.qmin = is_signed ? -128 : 0;
        p.qmax = is_signed ? 127 : 255;
        map[nd->outputs[0]] = si;
        deq[nd->outputs[0]] = p;
    }
    for (int t = 0; t < vg->n_tensors; t++) {
        const qc_tensor *tt = &vg->tensors[t];
        if (map[t] >= 0 || tt->is_const || tt->value.dtype != QC_FLOAT)
            continue;
        int si = qc_stats_find(s, tt->name);
        if (si >= 0 && !claimed[si])
            map[t] = si;
    }
    qc_status st = QC_OK;
    for (int t = 0; t < vg->n_tensors && st == QC_OK; t++) {
        if (map[t] < 0)
            continue;
        qc_layer_map *e = &maps[n];
        if (!(e->name = strdup(vg->tensors[t].name)))
            st = qc_fail(err, QC_ERR_IO, "out of memory");
        e->stats_index = map[t];
        e->deq = deq[t];
        /* per-channel activations: their parameters are in the report */
        for (int r = 0; r < report->n; r++) {
            const qc_quantized_tensor *qt = &report->tensors[r];
            if (qt->n_channels > 1 && strcmp(qt->role, "weight") && strcmp(qt->role, "bias") &&
                !strcmp(qt->tensor, s->tensors[map[t]].name)) {
                e->deq_ch = qt->params;
                e->n_ch = qt->n_channels;
            }
        }
        n += st == QC_OK;
    }
    free(claimed);
    free(measured);
    free(map);
    free(deq);
    *maps_out = maps;
    *n_maps = n;
    return st;
}

static qc_status code_hist_add(qc_layer_error *l, const char *name, int64_t outer, int64_t ch,
                               int64_t inner, const float *x, const qc_qparams *p, qc_round_mode mode,
                               qc_error *err)
{
    if (!l->has_codes) {
        int32_t qmin = p[0].qmin, qmax = p[0].qmax;
        for (int64_t c = 1; c < ch; c++) {
            qmin = p[c].qmin < qmin ? p[c].qmin : qmin;
            qmax = p[c].qmax > qmax ? p[c].qmax : qmax;
        }
        qc_status st = qc_code_hist_init(&l->codes, qmin, qmax, name, err);
        if (st != QC_OK)
            return st;
        l->has_codes = true;
    }
    qc_code_hist_add(&l->codes, outer, ch, inner, x, p, mode);
    return QC_OK;
}

/* Weights: the FP32 weights against their fake-quantized values, under the report's qparams
 * and the layout of the statistics (the output-channel axis). */
/* Weights: the FP32 weights against their fake-quantized values, under the report's qparams
 * and the layout of the statistics (the output-channel axis). */
static qc_status weight_errors(const qc_graph *fp32, const qc_stats *s, qc_eval_variant *v,
                               qc_round_mode mode, qc_error *err)
{
    for (int r = 0; r < v->report.n; r++) {
        const qc_quantized_tensor *qt = &v->report.tensors[r];
        /* compensated weights are quantized as w·s_c: their error shows in the layer's output */
        if (strcmp(qt->role, "weight") || qt->compensated)
            continue;
        int si = qc_stats_find(s, qt->tensor);
        int ft = qc_graph_find_tensor(fp32, qt->tensor);
        if (si < 0 || ft < 0 || fp32->tensors[ft].value.dtype != QC_FLOAT || !fp32->tensors[ft].value.data)
            continue;
        const qc_tensor_stats *ts = &s->tensors[si];
        const qc_value *w = &fp32->tensors[ft].value;
        int64_t n = qc_value_count(w), outer = 1, ch = 1, inner = n;
        if (qt->n_channels > 1) {
            if (ts->axis < 0 || ts->dims[ts->axis] != qt->n_channels)
                continue;
            inner = 1;
            for (int d = 0; d < ts->axis; d++)
                outer *= ts->dims[d];
            for (int d = ts->axis + 1; d < ts->rank; d++)
                inner *= ts->dims[d];
            ch = qt->n_channels;
            if (outer * ch * inner != n)
                continue;
        }
        float *fq = malloc(sizeof(float) * (size_t)n);
        if (!fq)
            return qc_fail(err, QC_ERR_IO, "out of memory");
        const float *x = w->data;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t c = 0; c < ch; c++)
                for (int64_t i = 0; i < inner; i++) {
                    int64_t k = (o * ch + c) * inner + i;
                    fq[k] = qc_fake_quantize(x[k], &qt->params[c], mode);
                }
        qc_layer_error *l = &v->layers[si];
        qc_error_acc_add(&l->acc, x, fq, n);
        free(fq);
        qc_status st = code_hist_add(l, qt->tensor, outer, ch, inner, x, qt->params, mode, err);
        if (st != QC_OK)
            return st;
    }
    return QC_OK;
}

qc_status qc_layer_errors_create(const qc_stats *s, const qc_quantize_report *report, qc_layer_error **out,
                                 qc_error *err)
{
    qc_layer_error *layers = calloc((size_t)s->n_tensors + 1, sizeof *layers);
    if (!(*out = layers))
        return qc_fail(err, QC_ERR_IO, "out of memory");
    for (int i = 0; i < s->n_tensors; i++)
        qc_error_acc_init(&layers[i].acc);
    for (int r = 0; r < report->n; r++) {
        int si = qc_stats_find(s, report->tensors[r].tensor);
        if (si >= 0 && strcmp(report->tensors[r].role, "bias")) {
            layers[si].has_range = true;
            layers[si].lo = report->tensors[r].min;
            layers[si].hi = report->tensors[r].max;
        }
    }
    return QC_OK;
}

void qc_layer_errors_free(qc_layer_error *layers, int n)
{
    for (int i = 0; layers && i < n; i++)
        if (layers[i].has_codes)
            qc_code_hist_free(&layers[i].codes);
    free(layers);
}

void qc_layer_maps_free(qc_layer_map *maps, int n)
{
    for (int e = 0; maps && e < n; e++)
        free(maps[e].name);
    free(maps);
}

/* The first op of g that qcal cannot run, or NULL. */
static const qc_node *unsupported_node(const qc_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!qc_op_supported(g->nodes[i].op_type, g->nodes[i].domain))
            return &g->nodes[i];
    return NULL;
}

qc_status qc_eval_variant_create(const qc_graph *fp32, const qc_stats *s, const qc_quantize_options *qo,
                                 const char *name, qc_eval_variant *v, qc_error *err)
{
    *v = (qc_eval_variant){.name = name};
    qc_status st = qc_quantize(fp32, s, qo, &v->g, &v->report, err);
    /* which tensors to compare, found before fusion rewrites the QDQ patterns */
    if (st == QC_OK && (st = qc_eval_map_tensors(v->g, s, &v->report, &v->maps, &v->n_maps, err)) == QC_OK)
        st = qc_pass_fuse_qdq(v->g, err);
    if (st == QC_OK) /* the inputs given by --input: the same constants as the FP32 model's */
        st = qc_graph_copy_bindings(v->g, fp32, err);
    if (st == QC_OK && (st = qc_layer_errors_create(s, &v->report, &v->layers, err)) == QC_OK)
        v->n_layers = s->n_tensors;
    const qc_node *n = st == QC_OK ? unsupported_node(v->g) : NULL;
    if (n)
        st = qc_fail(err, QC_ERR_IO, "qcal cannot run %s (node '%s') of the quantized model", n->op_type, n->name);
    return st;
}

void qc_eval_variant_free(qc_eval_variant *v)
{
    qc_layer_errors_free(v->layers, v->n_layers);
    qc_layer_maps_free(v->maps, v->n_maps);
    qc_quantize_report_free(&v->report);
    qc_graph_destroy(v->g);
    *v = (qc_eval_variant){0};
}

double qc_eval_min_sqnr(const qc_stats *s, const qc_layer_error *layers, int *which)
{
    double best = INFINITY;
    *which = -1;
    for (int i = 0; i < s->n_tensors; i++) {
        const qc_layer_error *l = &layers[i];
        if (s->tensors[i].role == QC_ROLE_WEIGHT || l->acc.samples == 0)
            continue;
        qc_error_metrics e;
        qc_error_acc_finish(&l->acc, &e);
        if (*which < 0 || e.sqnr_db < best) {
            best = e.sqnr_db;
            *which = i;
        }
    }
    return best;
}

/* ---- the pass ------------------------------------------------------------------------------- */

typedef struct {
    qc_exec *x;
    int *map;                 /* quantized graph tensor → statistics tensor, or -1 */
    const qc_layer_map **deq; /* per quantized tensor: how to dequantize an integer one */
} variant_run;

/* Variant v's executor and its tensor maps, and its weights' errors (once, before any image). */
static qc_status variant_start(const qc_graph *fp32, const qc_stats *s, qc_eval_variant *v, variant_run *r,
                               qc_error *err)
{
    const qc_graph *vg = v->g;
    r->map = malloc(sizeof(int) * (size_t)(vg->n_tensors + 1));
    r->deq = calloc((size_t)vg->n_tensors + 1, sizeof *r->deq);
    r->x = qc_exec_create(vg);
    if (!r->map || !r->deq || !r->x)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    for (int t = 0; t < vg->n_tensors; t++)
        r->map[t] = -1;
    for (int e = 0; e < v->n_maps; e++) {
        int t = qc_graph_find_tensor(vg, v->maps[e].name);
        if (t >= 0) {
            r->map[t] = v->maps[e].stats_index;
            r->deq[t] = &v->maps[e];
        }
    }
    return weight_errors(fp32, s, v, QC_ROUND_HALF_EVEN, err);
}

/* The codes and clipping of the FP32 values of the activations variant v quantizes. */
static qc_status activation_codes(layer_ctx *c, const int *fp32_of, qc_eval_variant *v, qc_error *err)
{
    for (int r = 0; r < v->report.n; r++) {
        const qc_quantized_tensor *qt = &v->report.tensors[r];
        if (strcmp(qt->role, "activation") && strcmp(qt->role, "input"))
            continue;
        int si = qc_stats_find(c->s, qt->tensor), f = si >= 0 ? fp32_of[si] : -1;
        if (f < 0 || !c->cap[f])
            continue;
        int64_t ch = qt->n_channels; /* > 1: along axis 1 (input compensation) */
        qc_status st = code_hist_add(&v->layers[si], qt->tensor, 1, ch, c->cap_n[f] / ch, c->cap[f],
                                     qt->params, QC_ROUND_HALF_EVEN, err);
        if (st != QC_OK)
            return st;
    }
    return QC_OK;
}

/* One image: FP32 captured, then every variant compared tensor by tensor. */
static qc_status layer_image(layer_ctx *c, qc_exec *x32, const int *fp32_of, const char *model, qc_value *in,
                             qc_eval_variant *v, variant_run *runs, int n_variants, qc_error *err)
{
    qc_error why;
    qc_status st = qc_exec_run(x32, in, 1, &why);
    if (st != QC_OK)
        return qc_fail(err, st, "%s: %s", model, why.msg);
    /* the executor reports what nodes produce; the input is copied here */
    const int i = qc_graph_fed_input(c->g, 0);
    const int64_t size = first_row(c, in);
    if (!ensure(&c->cap[i], &c->cap_size[i], size))
        return qc_fail(err, QC_ERR_IO, "out of memory");
    memcpy(c->cap[i], in->data, sizeof(float) * (size_t)size);
    c->cap_n[i] = size;
    for (int k = 0; k < c->g->n_inputs; k++) /* inputs bound to a constant (--input) */
        if (c->g->tensors[c->g->inputs[k]].value.data)
            capture(c, c->g->inputs[k], &c->g->tensors[c->g->inputs[k]].value,
                    qc_value_count(&c->g->tensors[c->g->inputs[k]].value)); /* whole: not batched */
    for (int k = 0; k < n_variants; k++) {
        if ((st = activation_codes(c, fp32_of, &v[k], err)) != QC_OK)
            return st;
        c->map = runs[k].map;
        c->deq = runs[k].deq;
        c->layers = v[k].layers;
        qc_exec_set_observer(runs[k].x, compare_observer, c);
        if ((st = qc_exec_run(runs[k].x, in, 1, &why)) != QC_OK)
            return qc_fail(err, st, "%s (%s): %s", model, v[k].name, why.msg);
        if (c->oom)
            return qc_fail(err, QC_ERR_IO, "out of memory");
    }
    return c->oom ? qc_fail(err, QC_ERR_IO, "out of memory") : QC_OK;
}

qc_status qc_eval_layers(const char *model, const qc_graph *fp32, const qc_stats *s, const float *inputs,
                         int64_t images, qc_eval_variant *v, int n_variants, qc_error *err)
{
    layer_ctx c = {.s = s, .g = fp32};
    int *fp32_of = malloc(sizeof(int) * (size_t)(s->n_tensors + 1));
    variant_run *runs = calloc((size_t)n_variants + 1, sizeof *runs);
    c.cap = calloc((size_t)fp32->n_tensors, sizeof *c.cap);
    c.cap_n = calloc((size_t)fp32->n_tensors, sizeof *c.cap_n);
    c.cap_size = calloc((size_t)fp32->n_tensors, sizeof *c.cap_size);
    qc_exec *x32 = qc_exec_create(fp32);
    qc_status st = QC_OK;
    if (!fp32_of || !runs || !c.cap || !c.cap_n || !c.cap_size || !x32)
        st = qc_fail(err, QC_ERR_IO, "out of memory");
    for (int i = 0; i < s->n_tensors && st == QC_OK; i++)
        fp32_of[i] = qc_graph_find_tensor(fp32, s->tensors[i].name);
    c.fp32_of = fp32_of;
    for (int k = 0; k < n_variants && st == QC_OK; k++)
        st = variant_start(fp32, s, &v[k], &runs[k], err);
    if (st == QC_OK)
        qc_exec_set_observer(x32, capture_observer, &c);
    const qc_value *shape = &fp32->tensors[qc_graph_fed_input(fp32, 0)].value;
    int64_t dims[QC_MAX_RANK], size = 1;
    for (int d = 0; d < shape->rank; d++)
        size *= (dims[d] = d ? shape->dims[d] : 1);
    c.rows = dims[0] = qc_input_batch(fp32);
    float *batch = c.rows > 1 ? malloc(sizeof(float) * (size_t)(size * c.rows)) : NULL;
    if (c.rows > 1 && !batch && st == QC_OK)
        st = qc_fail(err, QC_ERR_IO, "out of memory");
    for (int64_t i = 0; i < images && st == QC_OK; i++) {
        const float *image = inputs + i * size;
        for (int64_t r = 0; r < c.rows && batch; r++)
            memcpy(batch + r * size, image, sizeof(float) * (size_t)size);
        qc_value in = qc_value_f32(shape->rank, dims, batch ? batch : (float *)image);
        st = layer_image(&c, x32, fp32_of, model, &in, v, runs, n_variants, err);
    }
    free(batch);
    for (int k = 0; runs && k < n_variants; k++) {
        free(runs[k].map);
        free((void *)runs[k].deq);
        qc_exec_destroy(runs[k].x);
    }
    if (c.cap)
        for (int t = 0; t < fp32->n_tensors; t++)
            free(c.cap[t]);
    free(c.cap);
    free(c.cap_n);
    free(c.cap_size);
    free(c.scratch);
    free(fp32_of);
    free(runs);
    qc_exec_destroy(x32);
    return st;
}
