/* bias-empirical.c — empirical bias correction (docs/qparams.md Q15b): the input means
 * m_{j,k} of eq. Q15 measured on the quantized network's own input to each layer.
 *
 * The model is quantized as asked, in FakeQuantize (the same parameters; its float values are
 * those every format dequantizes to; QDQ for the tensorrt target), with the corrections known so far, and run over the
 * images. Each pass measures the layers no uncorrected layer precedes, whose inputs therefore
 * already carry every correction before them; they are corrected for the next pass. For one
 * image, the sum of what tap k of channel j reads over the output positions is a double
 * summed in a fixed order; the images' sums are added in image order at the end of the pass,
 * so the means do not depend on the threads, the batch or which worker ran which image. */
#include <stdlib.h>
#include <string.h>

#include "quantize-impl.h"

/* One layer measured in this pass. */
typedef struct {
    int node;        /* in the FP32 graph */
    int tensor;      /* its input in the measured graph */
    qz_bias_layer l;
    int64_t col;     /* its first column in an image's sums (cin × taps of them) */
    int64_t per_row; /* output positions per image */
} watch;

typedef struct {
    const watch *w;
    int n_w;
    int64_t cols;
    double *sums;   /* images × cols */
    bool *seen;     /* images × n_w */
    int64_t n;      /* images */
    int64_t **pending; /* per worker: the indices of the inputs in its run, row by row */
    int64_t *n_pending, batch;
} measure_ctx;

typedef struct {
    measure_ctx *m;
    int worker;
} worker_ctx;

/* Σ over output positions of what each tap of each channel reads, for one image's row x
 * (channels × the input's spatial dims) into s (cin × taps). */
static void conv_tap_sums(const qz_bias_layer *l, const float *x, double *s)
{
    int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, st[3] = {1, 1, 1}, di[3] = {1, 1, 1},
            b[3] = {0, 0, 0};
    for (int d = 0; d < l->sp; d++) { /* right-aligned: missing leading dimensions are 1 */
        const int e = 3 - l->sp + d;
        in[e] = l->in[d], out[e] = l->out[d], k[e] = l->k[d], st[e] = l->stride[d], di[e] = l->dil[d];
        b[e] = l->begin[d];
    }
    const int64_t plane = in[0] * in[1] * in[2];
    for (int64_t j = 0; j < l->cin; j++) {
        const float *xj = x + j * plane;
        double *sj = s + j * l->taps;
        for (int64_t t0 = 0; t0 < k[0]; t0++)
            for (int64_t t1 = 0; t1 < k[1]; t1++)
                for (int64_t t2 = 0; t2 < k[2]; t2++) {
                    double sum = 0.0;
                    for (int64_t o0 = 0; o0 < out[0]; o0++) {
                        const int64_t i0 = o0 * st[0] + t0 * di[0] - b[0];
                        if (i0 < 0 || i0 >= in[0])
                            continue;
                        for (int64_t o1 = 0; o1 < out[1]; o1++) {
                            const int64_t i1 = o1 * st[1] + t1 * di[1] - b[1];
                            if (i1 < 0 || i1 >= in[1])
                                continue;
                            const float *row = xj + (i0 * in[1] + i1) * in[2];
                            for (int64_t o2 = 0; o2 < out[2]; o2++) {
                                const int64_t i2 = o2 * st[2] + t2 * di[2] - b[2];
                                if (i2 >= 0 && i2 < in[2])
                                    sum += row[i2];
                            }
                        }
                    }
                    sj[(t0 * k[1] + t1) * k[2] + t2] += sum;
                }
    }
}

/* Does the run's value v have the shape the layer was planned with (rows of it)? */
static bool shape_holds(const watch *w, const qc_value *v)
{
    if (v->dtype != QC_FLOAT || v->rank != (w->l.conv ? 2 + w->l.sp : 2) || v->dims[1] != w->l.cin)
        return false;
    for (int d = 0; d < w->l.sp; d++)
        if (v->dims[2 + d] != w->l.in[d])
            return false;
    return true;
}

static void observe(void *ctx, const qc_graph *g, int tensor, const qc_value *v)
{
    (void)g;
    const worker_ctx *wc = ctx;
    measure_ctx *m = wc->m;
    for (int i = 0; i < m->n_w; i++) {
        const watch *w = &m->w[i];
        if (w->tensor != tensor || !shape_holds(w, v))
            continue;
        const int64_t row_size = qc_value_count(v) / (v->dims[0] ? v->dims[0] : 1);
        for (int64_t r = 0; r < v->dims[0] && r < m->n_pending[wc->worker]; r++) {
            const int64_t index = m->pending[wc->worker][r];
            const float *x = (const float *)v->data + r * row_size;
            double *s = m->sums + index * m->cols + w->col;
            if (w->l.conv)
                conv_tap_sums(&w->l, x, s);
            else
                for (int64_t j = 0; j < w->l.cin; j++)
                    s[j] += x[j];
            m->seen[index * m->n_w + i] = true;
        }
    }
}

static qc_status measure_start(void *ctx, int worker, qc_exec *x, qc_error *err)
{
    (void)err;
    worker_ctx *wc = (worker_ctx *)ctx + worker;
    qc_exec_set_observer(x, observe, wc);
    return QC_OK;
}

static void measure_before(void *ctx, int worker, int64_t index, const qc_value *in)
{
    (void)in;
    measure_ctx *m = ((worker_ctx *)ctx)[worker].m;
    if (m->n_pending[worker] < m->batch)
        m->pending[worker][m->n_pending[worker]++] = index;
}

static qc_status measure_after(void *ctx, int worker, int64_t slot, int64_t index, int64_t row, qc_exec *x,
                               qc_error *err)
{
    (void)slot, (void)index, (void)row, (void)x, (void)err;
    ((worker_ctx *)ctx)[worker].m->n_pending[worker] = 0; /* the run is over */
    return QC_OK;
}

/* The layers whose bias the quantizer writes and bias correction handles. */
static qc_status eligible_layers(const qc_graph *g, const qc_stats *s, const qc_quantize_options *o, bool *pending,
                                 qc_error *err)
{
    qc_graph *qg = NULL;
    qc_quantize_report rep = {0};
    qc_status st = qc_quantize(g, s, o, &qg, &rep, err);
    for (int i = 0; st == QC_OK && i < g->n_nodes; i++) {
        const qc_node *n = &g->nodes[i];
        qz_bias_layer l;
        pending[i] = false;
        if (n->n_inputs < 3 || n->inputs[2] < 0 || !qz_bias_layer_of(g, n, &l))
            continue;
        for (int r = 0; r < rep.n && !pending[i]; r++)
            pending[i] = !strcmp(rep.tensors[r].role, "bias") && !strcmp(rep.tensors[r].tensor, g->tensors[n->inputs[2]].name);
    }
    qc_quantize_report_free(&rep);
    qc_graph_destroy(qg);
    return st;
}

/* The pending layers that no other pending layer precedes (g's nodes are in topological order). */
static int ready_layers(const qc_graph *g, const bool *pending, bool *ready)
{
    bool *tainted = calloc((size_t)g->n_tensors + 1, sizeof *tainted);
    int count = 0;
    if (!tainted)
        return -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const qc_node *n = &g->nodes[i];
        bool after = false;
        for (int j = 0; j < n->n_inputs; j++)
            after |= n->inputs[j] >= 0 && tainted[n->inputs[j]];
        ready[i] = pending[i] && !after;
        count += ready[i];
        for (int j = 0; j < n->n_outputs; j++)
            if (n->outputs[j] >= 0)
                tainted[n->outputs[j]] = after || pending[i];
    }
    free(tainted);
    return count;
}

/* The watches of the ready layers in qg, the measured graph; their columns. */
static int plan_watches(const qc_graph *g, const qc_graph *qg, const bool *ready, watch *w, int64_t *cols)
{
    int n_w = 0;
    *cols = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!ready[i])
            continue;
        watch *x = &w[n_w];
        *x = (watch){.node = i, .tensor = -1, .col = *cols};
        qz_bias_layer_of(g, &g->nodes[i], &x->l);
        for (int k = 0; k < qg->n_nodes && x->tensor < 0; k++)
            if (!strcmp(qg->nodes[k].name, g->nodes[i].name) && !strcmp(qg->nodes[k].op_type, g->nodes[i].op_type))
                x->tensor = qg->nodes[k].inputs[0];
        x->per_row = 1;
        for (int d = 0; d < x->l.sp; d++)
            x->per_row *= x->l.out[d];
        *cols += x->l.cin * x->l.taps;
        n_w++;
    }
    return n_w;
}

/* m's images' sums added in image order into each watched layer's means, over the images
 * that reached it (all but those left out unreadable); none: NULL, its bias stays as it is. */
static qc_status store_means(const measure_ctx *m, qc_bias_measurement *out, qc_error *err)
{
    for (int i = 0; i < m->n_w; i++) {
        const watch *w = &m->w[i];
        const int64_t size = w->l.cin * w->l.taps;
        int64_t images = 0;
        for (int64_t k = 0; k < m->n; k++)
            images += m->seen[k * m->n_w + i];
        if (!images)
            continue;
        double *means = calloc((size_t)size, sizeof *means);
        if (!means)
            return qc_fail(err, QC_ERR_IO, "out of memory");
        for (int64_t k = 0; k < m->n; k++)
            for (int64_t c = 0; c < size && m->seen[k * m->n_w + i]; c++)
                means[c] += m->sums[k * m->cols + w->col + c];
        const double count = (double)images * (double)w->per_row;
        for (int64_t c = 0; c < size; c++)
            means[c] /= count;
        out->tap_means[w->node] = means;
    }
    return QC_OK;
}

/* One pass: qo (with the corrections so far) run over the inputs, the ready layers measured. */
static qc_status measure_pass(const qc_graph *g, const qc_stats *s, const qc_quantize_options *qo,
                              const qc_pass_inputs *in, const qc_gather_options *run, const bool *ready, int n_ready,
                              qc_bias_measurement *out, qc_error *err)
{
    qc_graph *qg = NULL;
    qc_status st = qc_quantize(g, s, qo, &qg, NULL, err);
    if (st == QC_OK)
        st = qc_graph_prepare(qg, err);
    if (st == QC_OK)
        st = qc_graph_copy_bindings(qg, g, err);
    const int threads = run->threads > 0 ? run->threads : 1;
    /* a run holds up to --batch inputs, or the model's fixed batch when that is larger */
    const int64_t fixed = g->n_inputs > 0 ? g->tensors[g->inputs[0]].value.dims[0] : 1;
    measure_ctx m = {.n = qc_pass_count(in, run->limit), .batch = run->batch > fixed ? run->batch : fixed};
    m.batch = m.batch > 1 ? m.batch : 1;
    watch *w = malloc((size_t)n_ready * sizeof *w);
    worker_ctx *wc = malloc((size_t)threads * sizeof *wc);
    m.pending = calloc((size_t)threads, sizeof *m.pending);
    m.n_pending = calloc((size_t)threads, sizeof *m.n_pending);
    if (st == QC_OK && (!w || !wc || !m.pending || !m.n_pending))
        st = qc_fail(err, QC_ERR_IO, "out of memory");
    if (st == QC_OK) {
        m.w = w;
        m.n_w = plan_watches(g, qg, ready, w, &m.cols);
        m.sums = calloc((size_t)(m.n * m.cols + 1), sizeof *m.sums);
        m.seen = calloc((size_t)(m.n * m.n_w + 1), sizeof *m.seen);
        for (int k = 0; k < threads; k++) {
            wc[k] = (worker_ctx){.m = &m, .worker = k};
            m.pending[k] = malloc((size_t)m.batch * sizeof **m.pending);
            if (!m.pending[k])
                m.sums = (free(m.sums), NULL);
        }
        if (!m.sums || !m.seen)
            st = qc_fail(err, QC_ERR_IO, "out of memory");
    }
    qc_pass_hooks h = {.ctx = wc, .start = measure_start, .before = measure_before, .after = measure_after,
                       .group = 1};
    if (st == QC_OK)
        st = qc_pass_run(qg, in, run, &h, err);
    if (st == QC_OK)
        st = store_means(&m, out, err);
    for (int k = 0; m.pending && k < threads; k++)
        free(m.pending[k]);
    free(m.pending);
    free(m.n_pending);
    free(m.sums);
    free(m.seen);
    free(w);
    free(wc);
    qc_graph_destroy(qg);
    return st;
}

qc_status qc_bias_measure(const qc_graph *fp32, const qc_stats *s, const qc_quantize_options *o,
                          const qc_pass_inputs *in, const qc_gather_options *run, qc_bias_measurement *out,
                          qc_error *err)
{
    *out = (qc_bias_measurement){.n_nodes = fp32->n_nodes, .images = qc_pass_count(in, run->limit)};
    qc_quantize_options qo = *o;
    /* the tensorrt target is QDQ only (its activations float between the layers) */
    qo.format = o->target == QC_TARGET_TENSORRT ? QC_FORMAT_QDQ : QC_FORMAT_FAKEQUANT;
    qo.bias_correction = QC_BIAS_EMPIRICAL;
    qo.bias_measured = out;
    out->tap_means = calloc((size_t)fp32->n_nodes + 1, sizeof *out->tap_means);
    bool *pending = malloc(((size_t)fp32->n_nodes + 1) * sizeof *pending);
    bool *ready = malloc(((size_t)fp32->n_nodes + 1) * sizeof *ready);
    qc_status st = out->tap_means && pending && ready ? QC_OK : qc_fail(err, QC_ERR_IO, "out of memory");
    if (st == QC_OK && out->images < 1)
        st = qc_fail(err, QC_ERR_USAGE, "empirical bias correction needs at least one image");
    if (st == QC_OK)
        st = eligible_layers(fp32, s, &qo, pending, err);
    while (st == QC_OK) {
        const int n_ready = ready_layers(fp32, pending, ready);
        if (n_ready < 0)
            st = qc_fail(err, QC_ERR_IO, "out of memory");
        if (n_ready <= 0)
            break;
        st = measure_pass(fp32, s, &qo, in, run, ready, n_ready, out, err);
        for (int i = 0; i < fp32->n_nodes; i++)
            pending[i] &= !ready[i];
        out->passes++;
    }
    free(pending);
    free(ready);
    if (st != QC_OK)
        qc_bias_measurement_free(out);
    return st;
}

void qc_bias_measurement_free(qc_bias_measurement *m)
{
    for (int i = 0; m->tap_means && i < m->n_nodes; i++)
        free(m->tap_means[i]);
    free(m->tap_means);
    *m = (qc_bias_measurement){0};
}
