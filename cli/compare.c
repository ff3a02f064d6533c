/* compare.c — `qcal compare MODEL… CALIB VAL`: statistics once per model, then each variant
 * (scheme × granularity × method × bits) quantized, run on qcal's executor and evaluated
 * against FP32 in one table: top-1 and its drop, agreement with FP32, KL of the logits,
 * INT8 speed-up, per-layer error on a sample of images; JSON, accuracy gates and an HTML page.
 *
 * Everything reported except the speed-up comes from per-image results stored by image index
 * (logits) or from a single-threaded per-layer pass, so the JSON does not depend on --threads.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../calib/calib.h"
#include "../stats/stats.h"
#include "cli.h"

#define COMPARE_USAGE                                                                              \
    "usage: qcal compare MODEL... CALIB VAL [--schemes LIST] [--granularity LIST]\n"              \
    "                    [--methods LIST] [--bits LIST] [--limit N] [--calib-limit N]\n"         \
    "                    [--layer-images N] [--max-drop P] [--min-sqnr DB] [--gate VARIANT]\n"   \
    "                    [--sample N [--seed S]] [--skip-bad]\n"                                 \
    "                    [--html FILE] [--json] [--quiet] [--threads N]\n"                       \
    "                    [--size HxW] [--crop HxW] [--scale S] [--mean M[,M,M]] [--std S[,S,S]]\n" \
    "                    [--color gray|rgb|bgr] [--layout nchw|nhwc]\n"                                                \
    "  Gathers statistics of each MODEL over CALIB once, quantizes it in every variant\n"        \
    "  (scheme x granularity x method x bits; default gemmlowp,symlowp x tensor,channel, minmax,\n" \
    "  8 bits), runs each on qcal's executor over VAL and prints FP32 and each variant's top-1,\n" \
    "  the drop, agreement with FP32 and the INT8 speed-up, with per-layer SQNR on the first\n"  \
    "  --layer-images images (default 64).\n"                                                    \
    "  --granularity  tensor, channel (weights per output channel) or compensated (per-channel\n" \
    "                 weights and input compensation, as quantize --input-compensation)\n"     \
    "  --max-drop P   exit 1 when a gated variant loses more than P points of top-1 (of\n"      \
    "                 agreement with FP32 when VAL has no labels)\n"                             \
    "  --min-sqnr DB  exit 1 when a gated variant has an activation below DB dB of SQNR\n"      \
    "  --gate NAME    the variant the gates apply to: a name, 'all', or by default the best\n"  \
    "                 variant of each model (the smallest drop)\n"                              \
    "  --html FILE    a self-contained HTML report (table, charts, histograms, ranges)\n"      \
    "  --sample N     a reproducible class-balanced random subset of CALIB and of VAL (--seed S)\n" \
    "  --skip-bad     report an unreadable image of CALIB or VAL and leave it out\n"

#define MAX_MODELS 16
#define MAX_VARIANTS 64
#define MAX_LIST 8
#define COMPARE_FORMAT "qcal-compare"
#define COMPARE_VERSION 1

typedef struct {
    qc_scheme scheme;
    bool per_channel;
    bool compensated;      /* input compensation too (granularity "compensated") */
    qc_range_method method;
    int bits;
    char name[64];
} variant_spec;

typedef struct {
    variant_spec v[MAX_VARIANTS];
    int n;
    const char *gate;
    bool has_max_drop, has_min_sqnr;
    double max_drop, min_sqnr;
    int64_t limit, calib_limit, layer_images;
    const char *html;
    cli_pp_flags pp;
    cli_image_select select;
    cli_skipped *calib_skipped, val_skipped; /* --skip-bad: the first model's CALIB, and VAL */
    cli_common common;
} compare_options;

/* One measured tensor of one variant. */
typedef struct {
    qc_error_acc acc;      /* quantized (dequantized) against FP32, over the layer images */
    bool has_codes;
    qc_code_hist codes;    /* FP32 values under the variant's qparams */
    bool has_range;
    float lo, hi;          /* the range the variant chose (report) */
} layer_result;

/* A tensor of the quantized graph that holds what the next layer reads of a statistics
 * tensor, found in the QDQ graph before fusion (map_tensors): the output of its
 * QuantizeLinear, which fusion keeps (the fused node writes it), or the float tensor of a
 * statistics tensor the variant leaves in FP32. */
typedef struct {
    char *name;            /* owned */
    int stats_index;
    qc_qparams deq;        /* integer tensors: how to dequantize them */
    const qc_qparams *deq_ch; /* or, quantized per channel along axis 1 (input compensation):
                                 n_ch parameters of the variant's report */
    int n_ch;
} layer_map;

typedef struct {
    qc_graph *g;           /* owned: the quantized graph (fused) */
    layer_map *maps;       /* owned */
    int n_maps;
    qc_quantize_report report;
    float *logits;         /* owned: n_images × classes */
    int64_t correct, agree;
    double kl_sum, seconds;
    layer_result *layers;  /* owned: one per statistics tensor */
} variant_result;

typedef struct {
    const char *path;
    qc_graph *g;           /* owned, BatchNorm folded */
    qc_stats *stats;       /* owned */
    int channels, height, width, classes;
    qc_image_input in;     /* the model's input layout */
    int64_t n, labelled, fp32_correct;
    float *pixels;         /* owned: n inputs */
    int *labels;           /* owned */
    float *fp32_logits;    /* owned */
    double fp32_seconds;
    variant_result var[MAX_VARIANTS];
} model_result;

/* ---- running a graph over preloaded images ------------------------------------------------ */

typedef struct {
    const model_result *m;
    int64_t first;         /* the slice's first image */
    qc_exec **execs;
    float *logits;
    qc_status *status;     /* per worker */
    qc_error *errs;        /* per worker */
} run_ctx;

static int run_item(void *arg, int worker, int64_t item)
{
    run_ctx *c = arg;
    const model_result *m = c->m;
    const int64_t i = c->first + item;
    const int64_t size = (int64_t)m->channels * m->height * m->width;
    qc_value in = qc_value_f32(4, m->in.dims, m->pixels + i * size);
    qc_status st = qc_exec_run(c->execs[worker], &in, 1, &c->errs[worker]);
    if (st == QC_OK) {
        const qc_value *out = qc_exec_output(c->execs[worker], 0);
        if (out->dtype != QC_FLOAT || qc_value_count(out) != m->classes)
            st = qc_fail(&c->errs[worker], QC_ERR_INPUT, "the output is not %d float scores",
                         m->classes);
        else
            memcpy(c->logits + i * m->classes, out->data, sizeof(float) * (size_t)m->classes);
    }
    if (st != QC_OK && c->status[worker] == QC_OK)
        c->status[worker] = st;
    return (int)st;
}

/* Runs g over every image of m into logits (n × classes); prints what goes wrong. */
static int run_graph(const model_result *m, const qc_graph *g, int threads, float *logits,
                     double *seconds, const char *what, bool quiet)
{
    run_ctx c = {.m = m, .logits = logits};
    c.execs = calloc((size_t)threads, sizeof *c.execs);
    c.status = calloc((size_t)threads, sizeof *c.status);
    c.errs = calloc((size_t)threads, sizeof *c.errs);
    int status = QC_OK;
    if (!c.execs || !c.status || !c.errs)
        status = QC_ERR_IO;
    for (int t = 0; t < threads && status == QC_OK; t++)
        if (!(c.execs[t] = qc_exec_create(g)))
            status = QC_ERR_IO;
    if (status != QC_OK) {
        cli_error("out of memory");
        goto end;
    }
    cli_progress progress;
    cli_progress_start(&progress, what, m->n, quiet);
    double start = cli_now();
    /* slices only for the progress bar: every image is independent and stored by index */
    const int64_t slice = 512;
    for (c.first = 0; c.first < m->n && status == QC_OK; c.first += slice) {
        int64_t count = m->n - c.first < slice ? m->n - c.first : slice;
        if (qc_parallel_for(threads, count, run_item, &c) != 0)
            status = QC_ERR_IO;
        cli_progress_update(&progress, c.first + count);
    }
    *seconds = cli_now() - start;
    cli_progress_end(&progress);
    if (status != QC_OK)
        for (int t = 0; t < threads; t++)
            if (c.status[t] != QC_OK) {
                cli_error("%s (%s): %s", m->path, what, c.errs[t].msg);
                status = c.status[t];
                break;
            }
end:
    if (c.execs)
        for (int t = 0; t < threads; t++)
            qc_exec_destroy(c.execs[t]);
    free(c.execs);
    free(c.status);
    free(c.errs);
    return status;
}

/* ---- loading ---------------------------------------------------------------------------------- */

typedef struct {
    model_result *m;
    const qc_image_set *set;
    const qc_preprocess *pp;
    qc_status *status;
    qc_error *errs;
} load_ctx;

static int load_item(void *arg, int worker, int64_t item)
{
    load_ctx *c = arg;
    model_result *m = c->m;
    const int64_t size = (int64_t)m->channels * m->height * m->width;
    qc_status st = qc_image_load_input(&m->in, c->set->items[item].path, c->pp,
                                       m->pixels + item * size, &c->errs[worker]);
    if (st != QC_OK && c->status[worker] == QC_OK)
        c->status[worker] = st;
    return (int)st;
}

/* Decodes the first m->n images of set into m->pixels, on threads. */
static int load_images(model_result *m, const qc_image_set *set, const qc_preprocess *pp,
                       int threads)
{
    const int64_t size = (int64_t)m->channels * m->height * m->width;
    load_ctx c = {.m = m, .set = set, .pp = pp};
    m->pixels = malloc(sizeof(float) * (size_t)(size * m->n));
    m->labels = malloc(sizeof(int) * (size_t)m->n);
    c.status = calloc((size_t)threads, sizeof *c.status);
    c.errs = calloc((size_t)threads, sizeof *c.errs);
    int status = QC_OK;
    if (!m->pixels || !m->labels || !c.status || !c.errs) {
        cli_error("out of memory");
        status = QC_ERR_IO;
    } else if (qc_parallel_for(threads, m->n, load_item, &c) != 0) {
        for (int t = 0; t < threads; t++)
            if (c.status[t] != QC_OK) {
                cli_error("%s", c.errs[t].msg);
                status = c.status[t];
                break;
            }
    }
    for (int64_t i = 0; status == QC_OK && i < m->n; i++) {
        m->labels[i] = set->items[i].label;
        m->labelled += m->labels[i] >= 0;
    }
    free(c.status);
    free(c.errs);
    return status;
}

/* ---- per-layer error ------------------------------------------------------------------------- */

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
    const layer_map *const *deq; /* per quantized tensor: how to dequantize an integer one */
    const int *fp32_of;     /* statistics tensor → FP32 graph tensor */
    layer_result *layers;   /* per statistics tensor */
    float *scratch;
    int64_t scratch_size;
    bool oom;
} layer_ctx;

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

static void capture_observer(void *ctx, const qc_graph *g, int tensor, const qc_value *v)
{
    layer_ctx *c = ctx;
    (void)g;
    if (v->dtype != QC_FLOAT)
        return;
    int64_t n = qc_value_count(v);
    if (!ensure(&c->cap[tensor], &c->cap_size[tensor], n)) {
        c->oom = true;
        return;
    }
    memcpy(c->cap[tensor], v->data, sizeof(float) * (size_t)n);
    c->cap_n[tensor] = n;
}

static void compare_observer(void *ctx, const qc_graph *g, int tensor, const qc_value *v)
{
    layer_ctx *c = ctx;
    (void)g;
    int si = c->map[tensor];
    if (si < 0)
        return;
    int f = c->fp32_of[si];
    int64_t n = qc_value_count(v);
    if (f < 0 || !c->cap[f] || c->cap_n[f] != n)
        return;
    const float *q = v->data;
    if (v->dtype == QC_UINT8 || v->dtype == QC_INT8) {
        if (!ensure(&c->scratch, &c->scratch_size, n)) {
            c->oom = true;
            return;
        }
        const layer_map *lm = c->deq[tensor];
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
static qc_status map_tensors(const qc_graph *vg, const qc_stats *s, variant_result *v, qc_error *err)
{
    bool *claimed = calloc((size_t)s->n_tensors + 1, sizeof *claimed);
    bool *measured = calloc((size_t)s->n_tensors + 1, sizeof *measured);
    int *map = malloc(sizeof(int) * (size_t)(vg->n_tensors + 1));
    qc_qparams *deq = calloc((size_t)vg->n_tensors + 1, sizeof *deq);
    v->maps = calloc((size_t)vg->n_tensors + 1, sizeof *v->maps);
    if (!claimed || !measured || !map || !deq || !v->maps) {
        free(claimed);
        free(measured);
        free(map);
        free(deq);
        return qc_fail(err, QC_ERR_IO, "out of memory");
    }
    for (int t = 0; t < vg->n_tensors; t++)
        map[t] = -1;
    /* quantized by the variant: never compared through a float tensor of the same name,
     * which in the QDQ graph holds the value before the quantization (before a fused Relu,
     * before the b-bit Clip, or in the units of compensated channels) */
    for (int r = 0; r < v->report.n; r++) {
        int si = qc_stats_find(s, v->report.tensors[r].tensor);
        if (si >= 0 && (!strcmp(v->report.tensors[r].role, "activation") || !strcmp(v->report.tensors[r].role, "input")))
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
        layer_map *e = &v->maps[v->n_maps];
        if (!(e->name = strdup(vg->tensors[t].name)))
            st = qc_fail(err, QC_ERR_IO, "out of memory");
        e->stats_index = map[t];
        e->deq = deq[t];
        /* per-channel activations: their parameters are in the report */
        for (int r = 0; r < v->report.n; r++) {
            const qc_quantized_tensor *qt = &v->report.tensors[r];
            if (qt->n_channels > 1 && strcmp(qt->role, "weight") && strcmp(qt->role, "bias") &&
                !strcmp(qt->tensor, s->tensors[map[t]].name)) {
                e->deq_ch = qt->params;
                e->n_ch = qt->n_channels;
            }
        }
        v->n_maps += st == QC_OK;
    }
    free(claimed);
    free(measured);
    free(map);
    free(deq);
    return st;
}

static qc_status code_hist_add(layer_result *l, const char *name, int64_t outer, int64_t ch,
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
static qc_status weight_errors(const model_result *m, variant_result *v, qc_round_mode mode,
                               qc_error *err)
{
    for (int r = 0; r < v->report.n; r++) {
        const qc_quantized_tensor *qt = &v->report.tensors[r];
        /* compensated weights are quantized as w·s_c: their error shows in the layer's output */
        if (strcmp(qt->role, "weight") || qt->compensated)
            continue;
        int si = qc_stats_find(m->stats, qt->tensor);
        int ft = qc_graph_find_tensor(m->g, qt->tensor);
        if (si < 0 || ft < 0 || m->g->tensors[ft].value.dtype != QC_FLOAT || !m->g->tensors[ft].value.data)
            continue;
        const qc_tensor_stats *ts = &m->stats->tensors[si];
        const qc_value *w = &m->g->tensors[ft].value;
        int64_t n = qc_value_count(w), outer = 1, ch = 1, inner = n;
        if (qt->n_channels > 1) {
            if (ts->axis < 0 || ts->dims[ts->axis] != qt->n_channels)
                continue;
            outer = 1;
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
        layer_result *l = &v->layers[si];
        qc_error_acc_add(&l->acc, x, fq, n);
        free(fq);
        qc_status st = code_hist_add(l, qt->tensor, outer, ch, inner, x, qt->params, mode, err);
        if (st != QC_OK)
            return st;
    }
    return QC_OK;
}

/* The first `images` images, one at a time on this thread: FP32 captured, then every
 * variant compared tensor by tensor; activation codes and clipping counted on the FP32
 * values under each variant's qparams. */
static int layer_pass(model_result *m, int n_variants, const char *const *names, int64_t images)
{
    qc_error err;
    const qc_stats *s = m->stats;
    layer_ctx c = {.s = s, .g = m->g};
    int status = QC_OK;
    int *fp32_of = malloc(sizeof(int) * (size_t)(s->n_tensors + 1));
    c.cap = calloc((size_t)m->g->n_tensors, sizeof *c.cap);
    c.cap_n = calloc((size_t)m->g->n_tensors, sizeof *c.cap_n);
    c.cap_size = calloc((size_t)m->g->n_tensors, sizeof *c.cap_size);
    int *maps[MAX_VARIANTS] = {0};
    const layer_map **deqs[MAX_VARIANTS] = {0};
    qc_exec *execs[MAX_VARIANTS] = {0};
    qc_exec *x32 = qc_exec_create(m->g);
    bool oom = !fp32_of || !c.cap || !c.cap_n || !c.cap_size || !x32;
    if (oom)
        goto end;
    for (int i = 0; i < s->n_tensors; i++)
        fp32_of[i] = qc_graph_find_tensor(m->g, s->tensors[i].name);
    c.fp32_of = fp32_of;
    for (int k = 0; k < n_variants; k++) {
        const qc_graph *vg = m->var[k].g;
        maps[k] = malloc(sizeof(int) * (size_t)vg->n_tensors);
        deqs[k] = calloc((size_t)vg->n_tensors, sizeof *deqs[k]);
        execs[k] = qc_exec_create(vg);
        if ((oom = !maps[k] || !deqs[k] || !execs[k]))
            goto end;
        for (int t = 0; t < vg->n_tensors; t++)
            maps[k][t] = -1;
        for (int e = 0; e < m->var[k].n_maps; e++) {
            int t = qc_graph_find_tensor(vg, m->var[k].maps[e].name);
            if (t >= 0) {
                maps[k][t] = m->var[k].maps[e].stats_index;
                deqs[k][t] = &m->var[k].maps[e];
            }
        }
        if ((status = weight_errors(m, &m->var[k], QC_ROUND_HALF_EVEN, &err)) != QC_OK) {
            cli_error("%s", err.msg);
            goto end;
        }
    }
    qc_exec_set_observer(x32, capture_observer, &c);
    const int64_t size = (int64_t)m->channels * m->height * m->width;
    const int in = m->g->inputs[0];
    for (int64_t i = 0; i < images && status == QC_OK; i++) {
        qc_value v = qc_value_f32(4, m->in.dims, m->pixels + i * size);
        if ((status = qc_exec_run(x32, &v, 1, &err)) != QC_OK) {
            cli_error("%s: %s", m->path, err.msg);
            break;
        }
        /* the executor reports what nodes produce; the input is copied here */
        if ((oom = !ensure(&c.cap[in], &c.cap_size[in], size)))
            break;
        memcpy(c.cap[in], v.data, sizeof(float) * (size_t)size);
        c.cap_n[in] = size;
        for (int k = 0; k < n_variants && status == QC_OK; k++) {
            variant_result *vr = &m->var[k];
            for (int r = 0; r < vr->report.n && status == QC_OK; r++) {
                const qc_quantized_tensor *qt = &vr->report.tensors[r];
                if (strcmp(qt->role, "activation") && strcmp(qt->role, "input"))
                    continue;
                int si = qc_stats_find(s, qt->tensor), f = si >= 0 ? fp32_of[si] : -1;
                if (f < 0 || !c.cap[f])
                    continue;
                int64_t ch = qt->n_channels; /* > 1: along axis 1 (input compensation) */
                status = code_hist_add(&vr->layers[si], qt->tensor, 1, ch, c.cap_n[f] / ch, c.cap[f],
                                       qt->params, QC_ROUND_HALF_EVEN, &err);
                if (status != QC_OK)
                    cli_error("%s", err.msg);
            }
            c.map = maps[k];
            c.deq = deqs[k];
            c.layers = vr->layers;
            qc_exec_set_observer(execs[k], compare_observer, &c);
            if (status == QC_OK && (status = qc_exec_run(execs[k], &v, 1, &err)) != QC_OK)
                cli_error("%s (%s): %s", m->path, names[k], err.msg);
        }
        oom |= c.oom;
    }
end:
    if (oom || c.oom) {
        cli_error("out of memory");
        status = QC_ERR_IO;
    }
    for (int k = 0; k < n_variants; k++) {
        free(maps[k]);
        free((void *)deqs[k]);
        qc_exec_destroy(execs[k]);
    }
    if (c.cap)
        for (int t = 0; t < m->g->n_tensors; t++)
            free(c.cap[t]);
    free(c.cap);
    free(c.cap_n);
    free(c.cap_size);
    free(c.scratch);
    free(fp32_of);
    qc_exec_destroy(x32);
    return status;
}

/* ---- one model ------------------------------------------------------------------------------- */

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i; /* the first maximum: ties go to the lower index */
    return best;
}

static void model_free(model_result *m, int n_variants)
{
    for (int k = 0; k < n_variants; k++) {
        variant_result *v = &m->var[k];
        if (v->layers)
            for (int i = 0; i < m->stats->n_tensors; i++)
                if (v->layers[i].has_codes)
                    qc_code_hist_free(&v->layers[i].codes);
        for (int e = 0; e < v->n_maps; e++)
            free(v->maps[e].name);
        free(v->maps);
        free(v->layers);
        free(v->logits);
        qc_quantize_report_free(&v->report);
        qc_graph_destroy(v->g);
    }
    qc_stats_destroy(m->stats);
    qc_graph_destroy(m->g);
    free(m->pixels);
    free(m->labels);
    free(m->fp32_logits);
}

static bool graph_runnable(const qc_graph *g, char *missing, size_t size)
{
    missing[0] = '\0';
    for (int i = 0; i < g->n_nodes; i++)
        if (!qc_op_supported(g->nodes[i].op_type, g->nodes[i].domain)) {
            snprintf(missing, size, "%s (node '%s')", g->nodes[i].op_type, g->nodes[i].name);
            return false;
        }
    return true;
}

static int run_model(const char *path, const char *calib, const qc_image_set *val,
                     const compare_options *o, model_result *m)
{
    qc_error err;
    uint64_t hash = 0;
    qc_model_card card = {0};
    m->path = path;
    int status = cli_load_model(path, false, &m->g, &hash);
    if (status != QC_OK)
        return status;
    qc_image_input in = {0};
    status = qc_image_input_of(m->g, m->path, "compare", true, &in, &err);
    m->channels = in.channels;
    m->height = in.height;
    m->width = in.width;
    m->in = in;
    m->classes = in.classes;
    if (status != QC_OK) {
        cli_error("%s", err.msg);
        return status;
    }
    qc_preprocess pp;
    if ((status = cli_model_setup(path, m->g, m->channels, &o->pp, o->common.quiet, &card, &pp)) != QC_OK)
        return status;
    qc_model_card_free(&card);

    /* statistics once: per channel and with histograms, so every variant and the page can use them */
    double seconds;
    cli_gather_options go = {.limit = o->calib_limit, .batch = 64, .shard_i = 0, .shard_n = 1,
                             .per_channel = true, .histograms = true, .pp = &o->pp,
                             .threads = o->common.threads, .quiet = o->common.quiet,
                             .select = &o->select, .skipped = o->calib_skipped};
    if ((status = cli_stats_gather(path, calib, &go, m->g, hash, &m->stats, &seconds)) != QC_OK)
        return status;

    m->n = val->n_items < o->limit ? val->n_items : o->limit;
    if ((status = load_images(m, val, &pp, o->common.threads)) != QC_OK)
        return status;
    m->fp32_logits = malloc(sizeof(float) * (size_t)(m->n * m->classes));
    if (!m->fp32_logits) {
        cli_error("out of memory");
        return QC_ERR_IO;
    }
    if ((status = run_graph(m, m->g, o->common.threads, m->fp32_logits, &m->fp32_seconds, "fp32",
                            o->common.quiet)) != QC_OK)
        return status;
    for (int64_t i = 0; i < m->n; i++)
        m->fp32_correct += m->labels[i] >= 0 && argmax(m->fp32_logits + i * m->classes, m->classes) == m->labels[i];

    for (int k = 0; k < o->n; k++) {
        const variant_spec *vs = &o->v[k];
        variant_result *v = &m->var[k];
        qc_quantize_options qo;
        qc_quantize_options_default(&qo);
        qo.scheme = vs->scheme;
        qo.per_channel = vs->per_channel;
        qo.input_compensation = vs->compensated;
        qo.method = vs->method;
        qo.weight_bits = qo.act_bits = vs->bits;
        qo.format = QC_FORMAT_QDQ;
        status = qc_quantize(m->g, m->stats, &qo, &v->g, &v->report, &err);
        if (status != QC_OK) {
            cli_error("%s (%s): %s", path, vs->name, err.msg);
            return status;
        }
        /* which tensors to compare, found before fusion rewrites the QDQ patterns */
        if ((status = map_tensors(v->g, m->stats, v, &err)) == QC_OK)
            status = qc_pass_fuse_qdq(v->g, &err);
        if (status != QC_OK) {
            cli_error("%s (%s): %s", path, vs->name, err.msg);
            return status;
        }
        char missing[256];
        if (!graph_runnable(v->g, missing, sizeof missing)) {
            cli_error("%s (%s): qcal cannot run %s of the quantized model", path, vs->name, missing);
            return QC_ERR_IO;
        }
        v->logits = malloc(sizeof(float) * (size_t)(m->n * m->classes));
        v->layers = calloc((size_t)m->stats->n_tensors, sizeof *v->layers);
        if (!v->logits || !v->layers) {
            cli_error("out of memory");
            return QC_ERR_IO;
        }
        for (int i = 0; i < m->stats->n_tensors; i++)
            qc_error_acc_init(&v->layers[i].acc);
        for (int r = 0; r < v->report.n; r++) {
            int si = qc_stats_find(m->stats, v->report.tensors[r].tensor);
            if (si >= 0 && strcmp(v->report.tensors[r].role, "bias")) {
                v->layers[si].has_range = true;
                v->layers[si].lo = v->report.tensors[r].min;
                v->layers[si].hi = v->report.tensors[r].max;
            }
        }
        if ((status = run_graph(m, v->g, o->common.threads, v->logits, &v->seconds, vs->name,
                                o->common.quiet)) != QC_OK)
            return status;
        /* in image order: the sum does not depend on the threads */
        for (int64_t i = 0; i < m->n; i++) {
            const float *l32 = m->fp32_logits + i * m->classes, *lq = v->logits + i * m->classes;
            int p = argmax(lq, m->classes);
            v->correct += m->labels[i] >= 0 && p == m->labels[i];
            v->agree += p == argmax(l32, m->classes);
            v->kl_sum += qc_kl_softmax(l32, lq, m->classes);
        }
    }
    int64_t li = o->layer_images < m->n ? o->layer_images : m->n;
    const char *names[MAX_VARIANTS];
    for (int k = 0; k < o->n; k++)
        names[k] = o->v[k].name;
    return layer_pass(m, o->n, names, li);
}

/* ---- results ----------------------------------------------------------------------------------- */

static double fp32_top1(const model_result *m)
{
    return m->labelled ? (double)m->fp32_correct / (double)m->labelled : NAN;
}

static double var_top1(const model_result *m, int k)
{
    return m->labelled ? (double)m->var[k].correct / (double)m->labelled : NAN;
}

static double var_agree(const model_result *m, int k)
{
    return m->n ? (double)m->var[k].agree / (double)m->n : NAN;
}

/* The drop the gate looks at, in points: top-1 with labels, else agreement with FP32. */
static double var_drop(const model_result *m, int k)
{
    return m->labelled ? 100.0 * (fp32_top1(m) - var_top1(m, k)) : 100.0 * (1.0 - var_agree(m, k));
}

/* The lowest activation SQNR of variant k and its tensor (-1: none measured). */
static double min_sqnr(const model_result *m, int k, int *which)
{
    double best = INFINITY;
    *which = -1;
    for (int i = 0; i < m->stats->n_tensors; i++) {
        const layer_result *l = &m->var[k].layers[i];
        if (m->stats->tensors[i].role == QC_ROLE_WEIGHT || l->acc.samples == 0)
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

static const char *role_name(qc_role r)
{
    return r == QC_ROLE_INPUT ? "input" : r == QC_ROLE_WEIGHT ? "weight" : "activation";
}

static void print_table(const model_result *ms, int n_models, const compare_options *o)
{
    printf("%-24s %-26s %8s %7s %8s %9s %8s  %s\n", "model", "variant", "top-1", "delta", "agree",
           "KL", "speed-up", "min SQNR");
    for (int mi = 0; mi < n_models; mi++) {
        const model_result *m = &ms[mi];
        const char *base = strrchr(m->path, '/') ? strrchr(m->path, '/') + 1 : m->path;
        if (m->labelled)
            printf("%-24s %-26s %7.2f%%\n", base, "fp32", 100.0 * fp32_top1(m));
        else
            printf("%-24s %-26s %8s\n", base, "fp32", "-");
        for (int k = 0; k < o->n; k++) {
            const variant_result *v = &m->var[k];
            char top[16] = "-", delta[16] = "-", sq[160] = "-";
            if (m->labelled) {
                snprintf(top, sizeof top, "%.2f%%", 100.0 * var_top1(m, k));
                snprintf(delta, sizeof delta, "%+.2f", 0.0 - var_drop(m, k) + 0.0); /* no "-0.00" */
            }
            int which;
            double ms_db = min_sqnr(m, k, &which);
            if (which >= 0)
                snprintf(sq, sizeof sq, "%.1f dB (%s)", ms_db, m->stats->tensors[which].name);
            printf("%-24s %-26s %8s %7s %7.2f%% %9.2e %7.2fx  %s\n", "", o->v[k].name, top, delta,
                   100.0 * var_agree(m, k), m->n ? v->kl_sum / (double)m->n : 0.0,
                   v->seconds > 0 ? m->fp32_seconds / v->seconds : 0.0, sq);
        }
    }
}

/* A JSON number; null for what JSON cannot write (±inf, NaN). */
static void json_num(double x)
{
    if (isfinite(x))
        printf("%.10g", x);
    else
        printf("null");
}

static void print_json(const model_result *ms, int n_models, const compare_options *o,
                       const char *calib, const char *val, const char *const *failures, int n_fail)
{
    printf("{\"format\": \"%s\", \"version\": %d, \"qcal\": \"%s\",\n \"calib\": ", COMPARE_FORMAT,
           COMPARE_VERSION, QCAL_VERSION);
    cli_json_string(stdout, calib);
    printf(", \"val\": ");
    cli_json_string(stdout, val);
    printf(", \"layer_images\": %lld, \"skipped\": {\"calib\": %lld, \"val\": %lld},\n \"variants\": [",
           (long long)o->layer_images, (long long)(o->calib_skipped ? o->calib_skipped->count : 0),
           (long long)o->val_skipped.count);
    for (int k = 0; k < o->n; k++) {
        printf("%s\n  {\"name\": ", k ? "," : "");
        cli_json_string(stdout, o->v[k].name);
        printf(", \"scheme\": \"%s\", \"granularity\": \"%s\", \"method\": \"%s\", \"bits\": %d}",
               qc_scheme_name(o->v[k].scheme),
               o->v[k].compensated ? "compensated" : o->v[k].per_channel ? "channel" : "tensor",
               qc_range_method_name(o->v[k].method), o->v[k].bits);
    }
    printf("],\n \"models\": [");
    for (int mi = 0; mi < n_models; mi++) {
        const model_result *m = &ms[mi];
        printf("%s\n  {\"model\": ", mi ? "," : "");
        cli_json_string(stdout, m->path);
        printf(", \"images\": %lld, \"labelled\": %lld, \"calib_images\": %lld,\n   \"fp32\": {\"correct\": %lld, \"top1\": ",
               (long long)m->n, (long long)m->labelled, (long long)m->stats->images,
               (long long)m->fp32_correct);
        json_num(fp32_top1(m));
        printf("},\n   \"variants\": [");
        for (int k = 0; k < o->n; k++) {
            const variant_result *v = &m->var[k];
            printf("%s\n    {\"name\": ", k ? "," : "");
            cli_json_string(stdout, o->v[k].name);
            printf(", \"correct\": %lld, \"top1\": ", (long long)v->correct);
            json_num(var_top1(m, k));
            printf(", \"drop\": ");
            json_num(var_drop(m, k));
            printf(", \"agreement\": ");
            json_num(var_agree(m, k));
            printf(", \"kl\": ");
            json_num(m->n ? v->kl_sum / (double)m->n : 0.0);
            printf(",\n     \"layers\": [");
            bool first = true;
            for (int i = 0; i < m->stats->n_tensors; i++) {
                const layer_result *l = &v->layers[i];
                if (l->acc.samples == 0 && !l->has_codes)
                    continue;
                qc_error_metrics e;
                qc_error_acc_finish(&l->acc, &e);
                printf("%s\n      {\"tensor\": ", first ? "" : ",");
                first = false;
                cli_json_string(stdout, m->stats->tensors[i].name);
                printf(", \"role\": \"%s\", \"values\": %lld, \"sqnr_db\": ",
                       role_name(m->stats->tensors[i].role), (long long)e.count);
                json_num(l->acc.samples ? e.sqnr_db : NAN);
                printf(", \"identical\": %s, \"cosine\": ",
                       l->acc.samples && isinf(e.sqnr_db) && e.sqnr_db > 0 ? "true" : "false");
                json_num(l->acc.samples ? e.cosine : NAN);
                printf(", \"max_abs_err\": ");
                json_num(l->acc.samples ? e.max_abs_err : NAN);
                printf(", \"clipped\": ");
                json_num(l->has_codes ? qc_code_hist_clipped(&l->codes) : NAN);
                printf(", \"codes_used\": ");
                json_num(l->has_codes ? qc_code_hist_used(&l->codes) : NAN);
                printf(", \"range\": ");
                if (l->has_range) {
                    printf("[");
                    json_num(l->lo);
                    printf(", ");
                    json_num(l->hi);
                    printf("]");
                } else
                    printf("null");
                printf("}");
            }
            printf("]}");
        }
        printf("]}");
    }
    printf("],\n \"gates\": {\"max_drop\": ");
    json_num(o->has_max_drop ? o->max_drop : NAN);
    printf(", \"min_sqnr\": ");
    json_num(o->has_min_sqnr ? o->min_sqnr : NAN);
    printf(", \"gate\": ");
    if (o->gate)
        cli_json_string(stdout, o->gate);
    else
        printf("null");
    printf(", \"passed\": %s, \"failures\": [", n_fail ? "false" : "true");
    for (int i = 0; i < n_fail; i++) {
        printf("%s", i ? ", " : "");
        cli_json_string(stdout, failures[i]);
    }
    printf("]}}\n");
}

static int write_html(const model_result *ms, int n_models, const compare_options *o,
                      const char *calib, const char *val)
{
    qc_error err;
    int status = QC_OK;
    const char *names[MAX_VARIANTS];
    cli_report_model rm[MAX_MODELS];
    cli_report_tensor *tensors[MAX_MODELS] = {0};
    cli_report_range *ranges[MAX_MODELS] = {0};
    double *numbers[MAX_MODELS] = {0};
    for (int k = 0; k < o->n; k++)
        names[k] = o->v[k].name;
    for (int mi = 0; mi < n_models && status == QC_OK; mi++) {
        const model_result *m = &ms[mi];
        const int nt = m->stats->n_tensors, nv = o->n;
        tensors[mi] = calloc((size_t)nt, sizeof **tensors);
        ranges[mi] = calloc((size_t)nt * (size_t)nv + 1, sizeof **ranges);
        numbers[mi] = calloc((size_t)(nt + 3) * (size_t)nv + 1, sizeof **numbers);
        if (!tensors[mi] || !ranges[mi] || !numbers[mi]) {
            cli_error("out of memory");
            status = QC_ERR_IO;
            break;
        }
        double *top1 = numbers[mi], *agree = top1 + nv, *speed = agree + nv, *sq = speed + nv;
        for (int k = 0; k < nv; k++) {
            top1[k] = var_top1(m, k);
            agree[k] = var_agree(m, k);
            speed[k] = m->var[k].seconds > 0 ? m->fp32_seconds / m->var[k].seconds : NAN;
        }
        for (int i = 0; i < nt; i++) {
            const qc_tensor_stats *ts = &m->stats->tensors[i];
            cli_report_tensor *t = &tensors[mi][i];
            t->name = ts->name;
            t->hist = ts->hist.counts ? &ts->hist : NULL;
            t->min = ts->t.min;
            t->max = ts->t.max;
            t->sqnr_db = sq + (size_t)i * nv;
            t->ranges = ranges[mi] + (size_t)i * nv;
            for (int k = 0; k < nv; k++) {
                const layer_result *l = &m->var[k].layers[i];
                qc_error_metrics e;
                qc_error_acc_finish(&l->acc, &e);
                sq[(size_t)i * nv + k] = l->acc.samples ? e.sqnr_db : NAN;
                if (l->has_range)
                    ranges[mi][(size_t)i * nv + t->n_ranges++] = (cli_report_range){names[k], l->lo, l->hi};
            }
        }
        rm[mi] = (cli_report_model){.name = m->path, .images = m->n, .fp32_top1 = fp32_top1(m),
                                    .top1 = top1, .agreement = agree, .speedup = speed,
                                    .n_tensors = nt, .tensors = tensors[mi]};
    }
    if (status == QC_OK) {
        cli_report r = {.title = "qcal compare", .calib = calib, .val = val, .n_variants = o->n,
                        .variants = names, .n_models = n_models, .models = rm};
        if ((status = cli_report_html_write(&r, o->html, &err)) != QC_OK)
            cli_error("%s", err.msg);
    }
    for (int mi = 0; mi < n_models; mi++) {
        free(tensors[mi]);
        free(ranges[mi]);
        free(numbers[mi]);
    }
    return status;
}

/* ---- the command -------------------------------------------------------------------------------- */

/* Splits a comma-separated list into at most MAX_LIST items of buf; the count, or -1. */
static int split_list(const char *v, char *buf, size_t size, char **items)
{
    if (strlen(v) >= size)
        return -1;
    strcpy(buf, v);
    int n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == MAX_LIST)
            return -1;
        items[n++] = t;
    }
    return n;
}

typedef struct {
    char schemes[128], grans[128], methods[256], bits[64];
} list_values;

static int build_variants(compare_options *o, const list_values *lv)
{
    char b1[128], b2[128], b3[256], b4[64];
    char *sch[MAX_LIST], *gr[MAX_LIST], *me[MAX_LIST], *bi[MAX_LIST];
    int ns = split_list(lv->schemes, b1, sizeof b1, sch), ng = split_list(lv->grans, b2, sizeof b2, gr);
    int nm = split_list(lv->methods, b3, sizeof b3, me), nb = split_list(lv->bits, b4, sizeof b4, bi);
    if (ns < 1 || ng < 1 || nm < 1 || nb < 1)
        return cli_usage_error(COMPARE_USAGE, "bad list of schemes, granularities, methods or bits");
    qc_scheme schemes[MAX_LIST];
    bool per_channel[MAX_LIST], compensated[MAX_LIST];
    qc_range_method methods[MAX_LIST];
    int bits[MAX_LIST];
    for (int i = 0; i < ns; i++)
        if (!qc_scheme_parse(sch[i], &schemes[i]))
            return cli_usage_error(COMPARE_USAGE, "unknown scheme '%s'", sch[i]);
    for (int i = 0; i < ng; i++) {
        if (strcmp(gr[i], "tensor") && strcmp(gr[i], "channel") && strcmp(gr[i], "compensated"))
            return cli_usage_error(COMPARE_USAGE, "unknown granularity '%s' (tensor, channel, compensated)", gr[i]);
        compensated[i] = !strcmp(gr[i], "compensated");
        per_channel[i] = strcmp(gr[i], "tensor") != 0;
    }
    for (int i = 0; i < nm; i++) {
        int m = qc_range_method_parse(me[i]);
        if (m < 0)
            return cli_usage_error(COMPARE_USAGE, "unknown method '%s'", me[i]);
        methods[i] = (qc_range_method)m;
    }
    for (int i = 0; i < nb; i++) {
        int64_t b;
        if (!cli_parse_int(bi[i], QC_BITS_MIN, QC_BITS_MAX, &b))
            return cli_usage_error(COMPARE_USAGE, "bad bit width '%s' (2 to 8)", bi[i]);
        bits[i] = (int)b;
    }
    if (ns * ng * nm * nb > MAX_VARIANTS)
        return cli_usage_error(COMPARE_USAGE, "at most %d variants", MAX_VARIANTS);
    /* the method and the width are in the name only when the grid has more than the default */
    bool name_method = nm > 1 || methods[0] != QC_RANGE_MINMAX, name_bits = nb > 1 || bits[0] != 8;
    o->n = 0;
    for (int a = 0; a < nm; a++)
        for (int b = 0; b < nb; b++)
            for (int c = 0; c < ns; c++)
                for (int d = 0; d < ng; d++) {
                    variant_spec *v = &o->v[o->n++];
                    *v = (variant_spec){schemes[c], per_channel[d], compensated[d], methods[a], bits[b], ""};
                    int len = snprintf(v->name, sizeof v->name, "%s/%s", qc_scheme_name(v->scheme),
                                       v->compensated ? "compensated" : v->per_channel ? "channel" : "tensor");
                    if (name_method)
                        len += snprintf(v->name + len, sizeof v->name - (size_t)len, "/%s",
                                        qc_range_method_name(v->method));
                    if (name_bits)
                        snprintf(v->name + len, sizeof v->name - (size_t)len, "/%dbit", v->bits);
                }
    for (int i = 0; i < o->n; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(o->v[i].name, o->v[j].name))
                return cli_usage_error(COMPARE_USAGE, "variant '%s' is listed twice", o->v[i].name);
    return QC_OK;
}

static int parse_options(int argc, char **argv, compare_options *o, const char **pos, int *n_pos)
{
    list_values lv = {"gemmlowp,symlowp", "tensor,channel", "minmax", "8"};
    *o = (compare_options){.limit = INT64_MAX, .calib_limit = INT64_MAX, .layer_images = 64};
    o->common.threads = 1;
    *n_pos = 0;
    for (int i = 1; i < argc; i++) {
        bool bad = false;
        const char *v;
        int r = cli_common_option(&o->common, argc, argv, &i, COMPARE_USAGE);
        if (r < 0)
            return QC_ERR_USAGE;
        if (r > 0)
            continue;
        if ((r = cli_pp_option(&o->pp, argc, argv, &i, COMPARE_USAGE)) == 0)
            r = cli_images_option(&o->limit, NULL, argc, argv, &i, COMPARE_USAGE);
        if (r == 0)
            r = cli_select_option(&o->select, argc, argv, &i, COMPARE_USAGE);
        if (r < 0)
            return QC_ERR_USAGE;
        if (r > 0)
            continue;
        float f;
        char *list = NULL;
        size_t cap = 0;
        if ((v = cli_option_value("--schemes", argc, argv, &i, &bad, COMPARE_USAGE)))
            list = lv.schemes, cap = sizeof lv.schemes;
        else if ((v = cli_option_value("--granularity", argc, argv, &i, &bad, COMPARE_USAGE)))
            list = lv.grans, cap = sizeof lv.grans;
        else if ((v = cli_option_value("--methods", argc, argv, &i, &bad, COMPARE_USAGE)))
            list = lv.methods, cap = sizeof lv.methods;
        else if ((v = cli_option_value("--bits", argc, argv, &i, &bad, COMPARE_USAGE)))
            list = lv.bits, cap = sizeof lv.bits;
        if (list) {
            if (strlen(v) >= cap)
                return cli_usage_error(COMPARE_USAGE, "list too long: '%s'", v);
            strcpy(list, v);
        } else if ((v = cli_option_value("--calib-limit", argc, argv, &i, &bad, COMPARE_USAGE))) {
            if (!cli_parse_int(v, 1, INT64_MAX, &o->calib_limit))
                return cli_usage_error(COMPARE_USAGE, "bad --calib-limit '%s'", v);
        } else if ((v = cli_option_value("--layer-images", argc, argv, &i, &bad, COMPARE_USAGE))) {
            if (!cli_parse_int(v, 0, INT64_MAX, &o->layer_images))
                return cli_usage_error(COMPARE_USAGE, "bad --layer-images '%s'", v);
        } else if ((v = cli_option_value("--max-drop", argc, argv, &i, &bad, COMPARE_USAGE))) {
            if (!cli_parse_float(v, &f) || !(f >= 0.0f) || !isfinite(f))
                return cli_usage_error(COMPARE_USAGE, "bad --max-drop '%s' (points, >= 0)", v);
            o->has_max_drop = true;
            o->max_drop = f;
        } else if ((v = cli_option_value("--min-sqnr", argc, argv, &i, &bad, COMPARE_USAGE))) {
            if (!cli_parse_float(v, &f) || !isfinite(f))
                return cli_usage_error(COMPARE_USAGE, "bad --min-sqnr '%s' (dB)", v);
            o->has_min_sqnr = true;
            o->min_sqnr = f;
        } else if ((v = cli_option_value("--gate", argc, argv, &i, &bad, COMPARE_USAGE))) {
            o->gate = v;
        } else if ((v = cli_option_value("--html", argc, argv, &i, &bad, COMPARE_USAGE))) {
            o->html = v;
        } else if (bad) {
            return QC_ERR_USAGE;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error(COMPARE_USAGE, "unknown option '%s'", argv[i]);
        } else {
            if (*n_pos == MAX_MODELS + 2)
                return cli_usage_error(COMPARE_USAGE, "at most %d models", MAX_MODELS);
            pos[(*n_pos)++] = argv[i];
        }
        if (bad)
            return QC_ERR_USAGE;
    }
    if (o->common.help)
        return QC_OK;
    if (*n_pos < 3)
        return cli_usage_error(COMPARE_USAGE, "compare needs MODEL, CALIB and VAL");
    if (cli_select_check(&o->select, COMPARE_USAGE) != QC_OK)
        return QC_ERR_USAGE;
    int st = build_variants(o, &lv);
    if (st != QC_OK)
        return st;
    if (o->gate && strcmp(o->gate, "all")) {
        bool found = false;
        for (int k = 0; k < o->n; k++)
            found |= !strcmp(o->v[k].name, o->gate);
        if (!found)
            return cli_usage_error(COMPARE_USAGE, "--gate: no variant is named '%s'", o->gate);
    }
    return QC_OK;
}

int cmd_compare(int argc, char **argv)
{
    compare_options o;
    const char *pos[MAX_MODELS + 2];
    int n_pos;
    int status = parse_options(argc, argv, &o, pos, &n_pos);
    if (status != QC_OK)
        return status;
    if (o.common.help) {
        fputs(COMPARE_USAGE, stdout);
        return 0;
    }
    if (o.html && (status = cli_check_output_paths(o.html, "--html", pos, n_pos)) != QC_OK)
        return status;
    const int n_models = n_pos - 2;
    const char *calib = pos[n_pos - 2], *val = pos[n_pos - 1];
    qc_error err;
    qc_image_set set = {0};
    if ((status = cli_open_images(&set, val, NULL, &o.select)) != QC_OK)
        return status;
    /* Every model reads the same images: the unreadable ones are told once. */
    cli_skipped calib_skipped = {.quiet = o.common.quiet}, again = {.quiet = true};
    o.val_skipped.quiet = o.common.quiet;
    if (o.select.skip_bad &&
        (status = qc_image_set_keep_readable(&set, QC_COLOR_RGB, o.limit, o.common.threads,
                                             cli_report_skip, &o.val_skipped, &err)) != QC_OK) {
        cli_error("%s", err.msg);
        qc_image_set_free(&set);
        return status;
    }
    model_result *ms = calloc((size_t)n_models, sizeof *ms);
    if (!ms) {
        qc_image_set_free(&set);
        cli_error("out of memory");
        return QC_ERR_IO;
    }
    for (int mi = 0; mi < n_models && status == QC_OK; mi++) {
        o.calib_skipped = mi == 0 ? &calib_skipped : &again;
        status = run_model(pos[mi], calib, &set, &o, &ms[mi]);
    }
    o.calib_skipped = &calib_skipped;

    char (*failures)[256] = NULL;
    const char *fail_ptrs[MAX_MODELS * MAX_VARIANTS * 2];
    int n_fail = 0;
    if (status == QC_OK && !(failures = calloc(MAX_MODELS * MAX_VARIANTS * 2, sizeof *failures))) {
        cli_error("out of memory");
        status = QC_ERR_IO;
    }
    for (int mi = 0; mi < n_models && status == QC_OK; mi++) {
        const model_result *m = &ms[mi];
        int best = 0; /* the default gate: the variant that drops least (the first of equals) */
        for (int k = 1; k < o.n; k++)
            if (var_drop(m, k) < var_drop(m, best))
                best = k;
        for (int k = 0; k < o.n; k++) {
            bool gated = o.gate ? !strcmp(o.gate, "all") || !strcmp(o.gate, o.v[k].name) : k == best;
            if (!gated)
                continue;
            double drop = var_drop(m, k);
            if (o.has_max_drop && drop > o.max_drop)
                snprintf(failures[n_fail++], sizeof *failures,
                         "variant '%s' of '%s' drops %s by %.2f points (--max-drop %g)", o.v[k].name,
                         m->path, m->labelled ? "top-1" : "agreement with FP32", drop, o.max_drop);
            int which;
            double sq = min_sqnr(m, k, &which);
            if (o.has_min_sqnr && which >= 0 && sq < o.min_sqnr)
                snprintf(failures[n_fail++], sizeof *failures,
                         "variant '%s' of '%s': tensor '%s' has an SQNR of %.2f dB (--min-sqnr %g)",
                         o.v[k].name, m->path, m->stats->tensors[which].name, sq, o.min_sqnr);
        }
    }
    for (int i = 0; i < n_fail; i++)
        fail_ptrs[i] = failures[i];
    if (status == QC_OK) {
        if (o.common.json)
            print_json(ms, n_models, &o, calib, val, fail_ptrs, n_fail);
        else if (!o.common.quiet)
            print_table(ms, n_models, &o);
        if (o.select.skip_bad && !o.common.json && !o.common.quiet)
            printf("unreadable images skipped (--skip-bad): %lld of CALIB, %lld of VAL\n",
                   (long long)calib_skipped.count, (long long)o.val_skipped.count);
        if (o.html)
            status = write_html(ms, n_models, &o, calib, val);
    }
    if (status == QC_OK && n_fail) {
        for (int i = 0; i < n_fail; i++)
            cli_error("%s", fail_ptrs[i]);
        status = QC_ERR_GATE;
    }
    free(failures);
    for (int mi = 0; mi < n_models; mi++)
        if (ms[mi].stats || ms[mi].g)
            model_free(&ms[mi], o.n);
    free(ms);
    qc_image_set_free(&set);
    return status;
}
