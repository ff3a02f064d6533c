/* method-auto.c — `--method auto`: per activation, the range method (and its parameter) whose
 * quantization disturbs the output of the layers reading it least (docs/qparams.md Q18).
 *
 * For each root of the quantizer's plan (a tensor whose statistics give a range, with the
 * tensors sharing its parameters), every candidate of qc_auto_candidates gives a range from
 * the one statistics file; the family is fake-quantized with it and fed, with the FP32 values
 * of their other inputs, to each node that reads it, run alone with its weights fake-quantized
 * as the quantizer would. The error of a candidate is Σ over those readers of Σ(y − ŷ)² / Σ y²,
 * y the reader's FP32 output, summed over the images in image order. Each tensor is measured
 * against FP32 upstream (not the choices made before it), so tensors are independent: they
 * run in parallel and give the same bits for any thread count. The local choices are then
 * checked at the network's output, which the local error does not predict well at low bit
 * widths (a 2 % lower local error can cost 10 points of top-1, README). Two assignments are
 * compared on the calibration images, no labels: top-1 agreement with FP32 decides where
 * McNemar's test finds the paired difference significant (agreement is the label-free proxy
 * of top-1, but a few images out of 500 are noise), the KL of the logits otherwise; the
 * greedy pass over the tensors also asks that the KL's decrease be significant, so it does
 * not fit the noise of the calibration images. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quantize-impl.h"

static const qc_auto_candidate candidates[QC_AUTO_CANDIDATES] = {
    {QC_RANGE_MINMAX, {3.0, 99.99, 8}},      {QC_RANGE_AVG, {3.0, 99.99, 8}},
    {QC_RANGE_AVGSTD, {1.0, 99.99, 8}},      {QC_RANGE_AVGSTD, {2.0, 99.99, 8}},
    {QC_RANGE_AVGSTD, {3.0, 99.99, 8}},      {QC_RANGE_AVGSTD, {4.0, 99.99, 8}},
    {QC_RANGE_PERCENTILE, {3.0, 99.9, 8}},   {QC_RANGE_PERCENTILE, {3.0, 99.99, 8}},
    {QC_RANGE_PERCENTILE, {3.0, 99.999, 8}}, {QC_RANGE_ENTROPY, {3.0, 99.99, 8}},
    {QC_RANGE_MSE, {3.0, 99.99, 8}},
};

const qc_auto_candidate *qc_auto_candidates(void)
{
    return candidates;
}

void qc_auto_candidate_name(const qc_auto_candidate *c, char *buf, size_t size)
{
    const char *m = qc_range_method_name(c->method);
    if (c->method == QC_RANGE_AVGSTD || c->method == QC_RANGE_MEANSTD)
        snprintf(buf, size, "%s(%g)", m, c->range.n_std);
    else if (c->method == QC_RANGE_PERCENTILE)
        snprintf(buf, size, "%s(%g)", m, c->range.percentile);
    else
        snprintf(buf, size, "%s", m);
}

const qc_auto_choice *qc_auto_find(const qc_auto_choice *c, int n, const char *tensor)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(c[i].tensor, tensor))
            return &c[i];
    return NULL;
}

void qc_auto_result_free(qc_auto_result *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->choices[i].tensor);
    free(r->choices);
    r->choices = NULL;
    r->n = 0;
}

/* ---- one reader run alone ------------------------------------------------------------------ */

/* A node of the FP32 graph as a graph of its own: its activation inputs fed, its constants
 * copied (the weight of a Conv, Gemm or MatMul fake-quantized), its first output compared. */
typedef struct {
    int node;             /* in the FP32 graph */
    qc_graph *g;          /* owned */
    qc_exec *x;           /* owned */
    int n_fed;
    int fed[QZ_MAX_INPUTS]; /* FP32 tensor of each fed input, in g->inputs order */
    double num[QC_AUTO_CANDIDATES], den; /* Σ(y − ŷ)², Σ y² over the images */
} reader;

/* Fake-quantizes weight w (count floats) of node n as qc_quantize would with options o. */
static qc_status fake_quantize_weight(const qc_graph *g, const qc_node *n, const qc_quantize_options *o, float *w,
                                      qc_error *err)
{
    int64_t outer, ch, inner;
    qz_weight_shape(g, n, &outer, &ch, &inner);
    qc_granularity gran = o->weights != QC_GRANULARITY_TENSOR && ch > 1 ? QC_GRANULARITY_CHANNEL : QC_GRANULARITY_TENSOR;
    int64_t nch = gran == QC_GRANULARITY_TENSOR ? 1 : ch;
    qc_qparams *p = malloc((size_t)nch * sizeof *p);
    if (!p)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    qc_status st = qc_qparams_weights(w, outer, ch, inner, gran, o->scheme, o->weight_bits, o->reduce_range,
                                      g->tensors[n->inputs[1]].name, p, err);
    if (st == QC_OK) {
        int64_t c_count = gran == QC_GRANULARITY_TENSOR ? 1 : ch, c_inner = gran == QC_GRANULARITY_TENSOR ? ch * inner : inner;
        for (int64_t a = 0; a < outer; a++)
            for (int64_t c = 0; c < c_count; c++)
                for (int64_t e = 0; e < c_inner; e++) {
                    float *v = &w[(a * c_count + c) * c_inner + e];
                    *v = qc_fake_quantize(*v, &p[c], o->round);
                }
    }
    free(p);
    return st;
}

static bool has_quantized_weight(const qc_graph *g, const qc_node *n)
{
    return (qz_is_op(n, "Conv") || qz_is_op(n, "Gemm") || qz_is_op(n, "MatMul")) && n->n_inputs > 1 &&
           qz_is_float_const(g, n->inputs[1]);
}

/* Tensor t of src as tensor of dst: a constant copied, or an input fed at run time. */
static qc_status copy_tensor(qc_graph *dst, const qc_graph *src, int t, reader *r, int *out, qc_error *err)
{
    const qc_tensor *st = &src->tensors[t];
    bool known = qc_graph_find_tensor(dst, st->name) >= 0;
    int d = qc_graph_tensor(dst, st->name);
    if (d < 0)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    *out = d;
    if (known)
        return QC_OK;
    qc_tensor *dt = &dst->tensors[d];
    dt->value = st->value;
    dt->value.data = NULL;
    if (st->is_const && st->value.data) {
        size_t bytes = qc_value_bytes(&st->value);
        if (!(dt->value.data = malloc(bytes ? bytes : 1)))
            return qc_fail(err, QC_ERR_IO, "out of memory");
        memcpy(dt->value.data, st->value.data, bytes);
        dt->is_const = true;
        return QC_OK;
    }
    if (r->n_fed >= QZ_MAX_INPUTS)
        return qc_fail(err, QC_ERR_INPUT, "node '%s' has too many inputs", src->nodes[r->node].name);
    int *grown = realloc(dst->inputs, (size_t)(dst->n_inputs + 1) * sizeof *grown);
    if (!grown)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    dst->inputs = grown;
    dst->inputs[dst->n_inputs++] = d;
    dt->is_input = true;
    r->fed[r->n_fed++] = t;
    return QC_OK;
}

/* Builds reader r of node i of fp32, prepared and ready to run. */
static qc_status reader_create(const qc_graph *fp32, int i, const qc_quantize_options *o, reader *r, qc_error *err)
{
    const qc_node *n = &fp32->nodes[i];
    memset(r, 0, sizeof *r);
    r->node = i;
    if (!(r->g = qc_graph_create(n->name)))
        return qc_fail(err, QC_ERR_IO, "out of memory");
    r->g->opset = fp32->opset;
    int ni = qc_graph_add_node(r->g, n->name, n->op_type, n->domain);
    qc_node *m = ni >= 0 ? &r->g->nodes[ni] : NULL;
    if (!m || !(m->inputs = malloc((size_t)(n->n_inputs + 1) * sizeof *m->inputs)) ||
        !(m->outputs = malloc((size_t)(n->n_outputs + 1) * sizeof *m->outputs)) ||
        !(r->g->outputs = malloc(sizeof *r->g->outputs)) || qz_copy_node_attrs(m, n) != QC_OK)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    qc_status st = QC_OK;
    for (int k = 0; k < n->n_inputs && st == QC_OK; k++) {
        m->inputs[m->n_inputs++] = -1;
        if (n->inputs[k] >= 0)
            st = copy_tensor(r->g, fp32, n->inputs[k], r, &m->inputs[k], err);
    }
    for (int k = 0; k < n->n_outputs && st == QC_OK; k++) {
        m->outputs[m->n_outputs++] = -1;
        if (n->outputs[k] >= 0 && (m->outputs[k] = qc_graph_tensor(r->g, fp32->tensors[n->outputs[k]].name)) < 0)
            st = qc_fail(err, QC_ERR_IO, "out of memory");
        else if (m->outputs[k] >= 0)
            r->g->tensors[m->outputs[k]].producer = ni;
    }
    if (st != QC_OK)
        return st;
    r->g->outputs[r->g->n_outputs++] = m->outputs[0];
    r->g->tensors[m->outputs[0]].is_output = true;
    if (has_quantized_weight(fp32, n) &&
        (st = fake_quantize_weight(fp32, n, o, r->g->tensors[m->inputs[1]].value.data, err)) != QC_OK)
        return st;
    if ((st = qc_graph_prepare(r->g, err)) != QC_OK)
        return st;
    if (!(r->x = qc_exec_create(r->g)))
        return qc_fail(err, QC_ERR_IO, "out of memory");
    return QC_OK;
}

static void reader_free(reader *r)
{
    qc_exec_destroy(r->x);
    qc_graph_destroy(r->g);
}

/* ---- the FP32 values of one image ------------------------------------------------------------- */

/* Every float activation of one FP32 run, by tensor index: dims and a copy of the values. */
typedef struct {
    const qc_graph *g;
    qc_value *values;    /* g->n_tensors; data owned (NULL: not produced) */
    bool failed;
} capture;

static void capture_observe(void *ctx, const qc_graph *g, int t, const qc_value *v)
{
    capture *c = ctx;
    if (v->dtype != QC_FLOAT || !qz_is_activation(g, t))
        return;
    size_t bytes = qc_value_bytes(v);
    float *copy = realloc(c->values[t].data, bytes ? bytes : 1);
    if (!copy) {
        c->failed = true;
        return;
    }
    memcpy(copy, v->data, bytes);
    c->values[t] = *v;
    c->values[t].data = copy;
}

/* ---- the measurement ------------------------------------------------------------------------------ */

/* One tensor being chosen for, and the family of tensors that share its parameters (a
 * MaxPool or Reshape after it: the quantizer gives them the root's range). */
typedef struct {
    int tensor, stats_index;
    int n_family;
    int *family;               /* owned: FP32 tensors, the root first */
    float **fq;                /* owned: n_family scratch buffers, each member fake-quantized */
    size_t *fq_cap;
    int n_readers;
    reader *readers;           /* owned: the nodes that read a member and write none */
    bool ok[QC_AUTO_CANDIDATES]; /* the candidate gave parameters */
    qc_qparams p[QC_AUTO_CANDIDATES];
    float lo[QC_AUTO_CANDIDATES], hi[QC_AUTO_CANDIDATES];
    double own_num[QC_AUTO_CANDIDATES], own_den; /* the tensor itself, when nothing reads it */
    qc_error err;
    qc_status status;
} target;

typedef struct {
    const qc_graph *g;
    const qc_quantize_options *o;
    target *targets;
    const capture *cap;
} run_ctx;

/* Σ (a − b)² and Σ a² of n pairs, in element order. */
static void add_error(const float *a, const float *b, int64_t n, double *num, double *den)
{
    double e = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        e += d * d;
        s += (double)a[i] * (double)a[i];
    }
    *num += e;
    if (den)
        *den += s;
}

/* The member of tt's family that FP32 tensor t is, or -1. */
static int member(const target *tt, int t)
{
    for (int m = 0; m < tt->n_family; m++)
        if (tt->family[m] == t)
            return m;
    return -1;
}

/* Candidate c of target tt on the captured image: each reader run on the fake-quantized family. */
static qc_status measure_candidate(const run_ctx *rc, target *tt, int c, bool first)
{
    for (int m = 0; m < tt->n_family; m++) {
        const qc_value *x = &rc->cap->values[tt->family[m]];
        const float *xf = x->data;
        for (int64_t e = 0, n = xf ? qc_value_count(x) : 0; e < n; e++)
            tt->fq[m][e] = qc_fake_quantize(xf[e], &tt->p[c], rc->o->act_round);
    }
    if (!tt->n_readers) {
        const qc_value *x = &rc->cap->values[tt->tensor];
        add_error(x->data, tt->fq[0], qc_value_count(x), &tt->own_num[c], first ? &tt->own_den : NULL);
        return QC_OK;
    }
    for (int k = 0; k < tt->n_readers; k++) {
        reader *r = &tt->readers[k];
        qc_value in[QZ_MAX_INPUTS];
        for (int j = 0; j < r->n_fed; j++) {
            in[j] = rc->cap->values[r->fed[j]];
            int m = member(tt, r->fed[j]);
            if (m >= 0 && in[j].data)
                in[j].data = tt->fq[m];
            if (!in[j].data)
                return qc_fail(&tt->err, QC_ERR_INPUT, "no value of '%s' to feed '%s'", rc->g->tensors[r->fed[j]].name,
                               rc->g->nodes[r->node].name);
        }
        qc_status st = qc_exec_run(r->x, in, r->n_fed, &tt->err);
        if (st != QC_OK)
            return st;
        const qc_value *y = qc_exec_output(r->x, 0), *ref = &rc->cap->values[rc->g->nodes[r->node].outputs[0]];
        if (!ref->data || qc_value_count(y) != qc_value_count(ref))
            return qc_fail(&tt->err, QC_ERR_INPUT, "node '%s' run alone gives another shape", rc->g->nodes[r->node].name);
        add_error(ref->data, y->data, qc_value_count(y), &r->num[c], first ? &r->den : NULL);
    }
    return QC_OK;
}

static int measure_target(void *ctx, int worker, int64_t item)
{
    (void)worker;
    const run_ctx *rc = ctx;
    target *tt = &rc->targets[item];
    if (tt->status != QC_OK || !rc->cap->values[tt->tensor].data)
        return 0;
    for (int m = 0; m < tt->n_family; m++) {
        const qc_value *x = &rc->cap->values[tt->family[m]];
        size_t need = x->data ? (size_t)qc_value_count(x) : 0;
        if (need <= tt->fq_cap[m])
            continue;
        float *grown = realloc(tt->fq[m], need * sizeof *grown);
        if (!grown) {
            tt->status = qc_fail(&tt->err, QC_ERR_IO, "out of memory");
            return 0;
        }
        tt->fq[m] = grown;
        tt->fq_cap[m] = need;
    }
    bool first = true;
    for (int c = 0; c < QC_AUTO_CANDIDATES && tt->status == QC_OK; c++)
        if (tt->ok[c]) {
            tt->status = measure_candidate(rc, tt, c, first);
            first = false;
        }
    return 0;
}

/* ---- setting up ------------------------------------------------------------------------------------ */

/* Can node n of g run alone on captured values: every fed input and its first output are
 * float activations (a Shape reading the tensor, say, is left out). */
static bool reader_eligible(const qc_graph *g, const qc_node *n)
{
    if (n->n_outputs < 1 || !qz_is_activation(g, n->outputs[0]) || n->n_inputs > QZ_MAX_INPUTS)
        return false;
    for (int k = 0; k < n->n_inputs; k++) {
        int t = n->inputs[k];
        if (t >= 0 && !g->tensors[t].is_const && g->tensors[t].value.dtype != QC_FLOAT)
            return false;
    }
    return true;
}

/* The candidates' parameters for target tt; QC_ERR_USAGE when the statistics have no histogram. */
static qc_status target_params(const qc_auto_options *ao, target *tt, qc_error *err)
{
    const qc_tensor_stats *ts = &ao->stats->tensors[tt->stats_index];
    if (!ts->hist.counts)
        return qc_fail(err, QC_ERR_USAGE,
                       "--method auto needs histograms, and the statistics of '%s' have none: gather them with "
                       "'qcal stats --method percentile' (or entropy, mse)", ts->name);
    for (int c = 0; c < QC_AUTO_CANDIDATES; c++) {
        qc_range_params range = candidates[c].range;
        range.bits = ao->q->act_bits;
        qc_error ignored;
        tt->ok[c] = qc_stats_range(ts, candidates[c].method, &range, -1, &tt->lo[c], &tt->hi[c], &ignored) == QC_OK &&
                    qc_qparams_activation(tt->lo[c], tt->hi[c], ao->q->scheme, ao->q->act_bits,
                                          ao->q->target == QC_TARGET_TENSORRT, ts->name, &tt->p[c], &ignored) == QC_OK;
    }
    return QC_OK;
}

/* The readers of target tt: nodes of g that read a member of its family and write none. */
static qc_status readers_create(const qc_auto_options *ao, target *tt, qc_error *err)
{
    const qc_graph *g = ao->fp32;
    for (int pass = 0; pass < 2; pass++) {
        int k = 0;
        for (int j = 0; j < g->n_nodes; j++) {
            const qc_node *n = &g->nodes[j];
            bool reads_member = false;
            for (int i = 0; i < n->n_inputs; i++)
                reads_member |= n->inputs[i] >= 0 && member(tt, n->inputs[i]) >= 0;
            if (!reads_member || member(tt, n->outputs[0]) >= 0 || !reader_eligible(g, n))
                continue;
            if (pass) {
                qc_status st = reader_create(g, j, ao->q, &tt->readers[k], err);
                tt->n_readers = k + 1;
                if (st != QC_OK)
                    return st;
            }
            k++;
        }
        if (!pass && k && !(tt->readers = calloc((size_t)k, sizeof *tt->readers)))
            return qc_fail(err, QC_ERR_IO, "out of memory");
    }
    return QC_OK;
}

/* Target r of report: the tensors whose range is r's (range_of) as its family. */
static qc_status target_create(const qc_auto_options *ao, const qc_quantize_report *rep, int r, target *tt,
                               qc_error *err)
{
    const qc_graph *g = ao->fp32;
    const char *root = rep->tensors[r].tensor;
    tt->tensor = qc_graph_find_tensor(g, root);
    tt->stats_index = qc_stats_find(ao->stats, root);
    if (tt->tensor < 0 || tt->stats_index < 0)
        return qc_fail(err, QC_ERR_INPUT, "the statistics have no tensor '%s'", root);
    int n = 0;
    for (int i = 0; i < rep->n; i++)
        n += rep->tensors[i].range_of && !strcmp(rep->tensors[i].range_of, root);
    tt->family = calloc((size_t)n + 1, sizeof *tt->family);
    tt->fq = calloc((size_t)n + 1, sizeof *tt->fq);
    tt->fq_cap = calloc((size_t)n + 1, sizeof *tt->fq_cap);
    if (!tt->family || !tt->fq || !tt->fq_cap)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    tt->family[tt->n_family++] = tt->tensor;
    for (int i = 0; i < rep->n; i++)
        if (i != r && rep->tensors[i].range_of && !strcmp(rep->tensors[i].range_of, root) &&
            tt->n_family < n + 1 && (tt->family[tt->n_family] = qc_graph_find_tensor(g, rep->tensors[i].tensor)) >= 0)
            tt->n_family++;
    qc_status st = target_params(ao, tt, err);
    return st != QC_OK ? st : readers_create(ao, tt, err);
}

/* The tensors to choose for: those whose statistics give a range when o->q quantizes the
 * model (each root of a family sharing parameters), in the order of the quantizer's report. */
static qc_status targets_create(const qc_auto_options *ao, target **out, int *n_out, qc_error *err)
{
    qc_graph *qg = NULL;
    qc_quantize_report rep = {0};
    qc_quantize_options plain = *ao->q;
    plain.auto_choices = NULL;
    plain.n_auto_choices = 0;
    plain.method = QC_RANGE_MINMAX;
    *n_out = 0;
    qc_status st = qc_quantize(ao->fp32, ao->stats, &plain, &qg, &rep, err);
    qc_graph_destroy(qg);
    target *tt = st == QC_OK ? calloc((size_t)rep.n + 1, sizeof *tt) : NULL;
    *out = tt;
    if (st == QC_OK && !tt)
        st = qc_fail(err, QC_ERR_IO, "out of memory");
    for (int i = 0; i < rep.n && st == QC_OK; i++)
        if (rep.tensors[i].range_of && !strcmp(rep.tensors[i].range_of, rep.tensors[i].tensor))
            st = target_create(ao, &rep, i, &tt[(*n_out)++], err);
    qc_quantize_report_free(&rep);
    return st;
}

static void targets_free(target *tt, int n)
{
    for (int i = 0; tt && i < n; i++) {
        for (int k = 0; k < tt[i].n_readers; k++)
            reader_free(&tt[i].readers[k]);
        free(tt[i].readers);
        for (int m = 0; tt[i].fq && m < tt[i].n_family; m++)
            free(tt[i].fq[m]);
        free(tt[i].fq);
        free(tt[i].fq_cap);
        free(tt[i].family);
    }
    free(tt);
}

/* The graph's inputs of one image in the capture: the image, or the value bound to an input. */
static qc_status capture_inputs(const qc_graph *g, capture *cap, const float *image, int64_t stride, qc_error *err)
{
    for (int i = 0; i < g->n_inputs; i++) {
        const qc_tensor *t = &g->tensors[g->inputs[i]];
        qc_value v = t->value;
        if (!v.data) {
            v.data = (void *)image;
            if (qc_value_count(&v) != stride)
                return qc_fail(err, QC_ERR_INPUT, "input '%s' takes %lld values, not %lld", t->name,
                               (long long)qc_value_count(&v), (long long)stride);
        }
        capture_observe(cap, g, g->inputs[i], &v);
    }
    return cap->failed ? qc_fail(err, QC_ERR_IO, "out of memory") : QC_OK;
}

/* Each target's error per candidate, then its choice: the smallest, the first on a tie. */
static qc_status choose(const qc_auto_options *ao, const target *tt, int n, qc_auto_result *res, qc_error *err)
{
    if (!(res->choices = calloc((size_t)n + 1, sizeof *res->choices)))
        return qc_fail(err, QC_ERR_IO, "out of memory");
    for (int i = 0; i < n; i++) {
        qc_auto_choice *ch = &res->choices[res->n];
        ch->choice = -1;
        for (int c = 0; c < QC_AUTO_CANDIDATES; c++) {
            double e = NAN;
            if (tt[i].ok[c] && !tt[i].n_readers)
                e = tt[i].own_den > 0 ? tt[i].own_num[c] / tt[i].own_den : tt[i].own_num[c];
            else if (tt[i].ok[c])
                for (int k = e = 0; k < tt[i].n_readers; k++)
                    e += tt[i].readers[k].den > 0 ? tt[i].readers[k].num[c] / tt[i].readers[k].den
                                                  : tt[i].readers[k].num[c];
            ch->error[c] = e;
            ch->lo[c] = tt[i].lo[c];
            ch->hi[c] = tt[i].hi[c];
            if (!isnan(e) && (ch->choice < 0 || e < ch->error[ch->choice]))
                ch->choice = c;
        }
        if (ch->choice < 0)
            continue;
        ch->local = ch->choice;
        ch->method = candidates[ch->choice].method;
        ch->range = candidates[ch->choice].range;
        ch->range.bits = ao->q->act_bits;
        if (!(ch->tensor = strdup(ao->fp32->tensors[tt[i].tensor].name)))
            return qc_fail(err, QC_ERR_IO, "out of memory");
        res->n++;
    }
    return QC_OK;
}

/* ---- the decision rule at the output ------------------------------------------------------------ */

double qc_auto_mcnemar(const unsigned char *agree_a, const unsigned char *agree_b, int64_t n)
{
    int64_t only_a = 0, only_b = 0;
    for (int64_t i = 0; i < n; i++) {
        only_a += agree_a[i] && !agree_b[i];
        only_b += !agree_a[i] && agree_b[i];
    }
    double d = (double)(only_a - only_b);
    return only_a + only_b ? (only_a > only_b ? 1 : -1) * d * d / (double)(only_a + only_b) : 0;
}

/* Σ of the per-image KLs, in image order. */
static double kl_sum(const qc_auto_outcome *o)
{
    double s = 0;
    for (int64_t i = 0; i < o->n; i++)
        s += o->kl[i];
    return s;
}

double qc_auto_kl_z(const qc_auto_outcome *a, const qc_auto_outcome *b)
{
    double s = 0, ss = 0;
    for (int64_t i = 0; i < a->n; i++)
        s += b->kl[i] - a->kl[i];
    double n = (double)a->n, mean = s / n;
    for (int64_t i = 0; i < a->n; i++) {
        double d = b->kl[i] - a->kl[i] - mean;
        ss += d * d;
    }
    if (a->n < 2 || isnan(mean))
        return NAN;
    return ss > 0 ? mean / sqrt(ss / (n - 1) / n) : mean > 0 ? INFINITY : mean < 0 ? -INFINITY : 0;
}

bool qc_auto_better(const qc_auto_outcome *a, const qc_auto_outcome *b)
{
    double t = qc_auto_mcnemar(a->agree, b->agree, a->n);
    if (fabs(t) > QC_AUTO_MCNEMAR)
        return t > 0;
    double ka = kl_sum(a), kb = kl_sum(b);
    if (isnan(ka) || isnan(kb))
        return !isnan(ka) && isnan(kb);
    return ka < kb;
}

bool qc_auto_improves(const qc_auto_outcome *a, const qc_auto_outcome *b)
{
    return qc_auto_better(a, b) && qc_auto_kl_z(a, b) > QC_AUTO_KL_Z;
}

/* ---- the check at the network's output ------------------------------------------------------------- */

typedef struct {
    const qc_auto_options *ao;
    int classes;
    bool probabilities;
    float *fp32, *q; /* owned: n × classes logits */
} net_ctx;

static qc_status net_logits(const net_ctx *c, const qc_graph *g, float *logits, qc_error *err)
{
    qc_logits_store sc = {logits, c->classes};
    qc_pass_inputs in = {.tensors = c->ao->inputs, .n = c->ao->n, .stride = c->ao->stride};
    qc_eval_options eo = {.run = {.limit = c->ao->n, .batch = 256, .threads = c->ao->threads},
                          .sink = qc_eval_store_logits, .sink_ctx = &sc};
    return qc_eval_logits(g, &in, c->classes, &eo, err);
}

/* The outcome of the model quantized with res's choices and run on qcal's runtime: per image,
 * whether its top-1 is FP32's and KL(FP32 ‖ quantized) of the logits (no labels). */
static qc_status net_score(const net_ctx *c, const qc_auto_result *res, qc_auto_outcome *s, qc_error *err)
{
    qc_quantize_options q = *c->ao->q;
    q.auto_choices = res->choices;
    q.n_auto_choices = res->n;
    qc_graph *g = NULL;
    qc_status st = qc_quantize(c->ao->fp32, c->ao->stats, &q, &g, NULL, err);
    if (st == QC_OK && (st = qc_pass_fuse_qdq(g, err)) == QC_OK && (st = qc_graph_copy_bindings(g, c->ao->fp32, err)) == QC_OK)
        st = net_logits(c, g, c->q, err);
    qc_graph_destroy(g);
    for (int64_t i = 0; st == QC_OK && i < s->n; i++) {
        const float *l32 = c->fp32 + i * c->classes, *lq = c->q + i * c->classes;
        s->agree[i] = qc_argmax(lq, c->classes) == qc_argmax(l32, c->classes);
        s->kl[i] = c->probabilities ? qc_kl_probabilities(l32, lq, c->classes) : qc_kl_softmax(l32, lq, c->classes);
    }
    return st;
}

static qc_status outcome_alloc(qc_auto_outcome *o, int64_t n, qc_error *err)
{
    o->n = n;
    o->agree = calloc((size_t)n + 1, sizeof *o->agree);
    o->kl = calloc((size_t)n + 1, sizeof *o->kl);
    return o->agree && o->kl ? QC_OK : qc_fail(err, QC_ERR_IO, "out of memory");
}

static void outcome_free(qc_auto_outcome *o)
{
    free(o->agree);
    free(o->kl);
}

/* The images agreeing with FP32 and Σ KL (+inf for a NaN). */
static void outcome_totals(const qc_auto_outcome *o, int64_t *agree, double *kl)
{
    *agree = 0;
    for (int64_t i = 0; i < o->n; i++)
        *agree += o->agree[i];
    *kl = kl_sum(o);
    *kl = isnan(*kl) ? INFINITY : *kl;
}

/* res's choices scored at the output into *trial; *better: trial is above *best by
 * qc_auto_better (a start) or qc_auto_improves (a refinement), when the two swap. */
static qc_status try_assignment(const net_ctx *c, const qc_auto_result *res, bool refinement, qc_auto_outcome *best,
                                qc_auto_outcome *trial, bool *better, qc_error *err)
{
    qc_status st = net_score(c, res, trial, err);
    *better = st == QC_OK && (refinement ? qc_auto_improves(trial, best) : qc_auto_better(trial, best));
    if (*better) {
        qc_auto_outcome t = *best;
        *best = *trial;
        *trial = t;
    }
    return st;
}

static void set_choice(qc_auto_choice *ch, int c, int act_bits)
{
    ch->choice = c;
    ch->method = candidates[c].method;
    ch->range = candidates[c].range;
    ch->range.bits = act_bits;
}

/* Every tensor to candidate c (where c gives it a range; -1: the local choices). */
static void set_all(qc_auto_result *res, int c, int act_bits)
{
    for (int i = 0; i < res->n; i++)
        set_choice(&res->choices[i], c >= 0 && !isnan(res->choices[i].error[c]) ? c : res->choices[i].local, act_bits);
}

/* From the start, tensor by tensor in the quantizer's (topological) order with the choices
 * before it applied: its local choice taken where it improves the outcome (qc_auto_improves). */
static qc_status refine(const net_ctx *c, qc_auto_result *res, qc_auto_outcome *best, qc_auto_outcome *trial,
                        qc_error *err)
{
    qc_status st = QC_OK;
    for (int i = 0; i < res->n && st == QC_OK; i++) {
        qc_auto_choice *ch = &res->choices[i];
        int was = ch->choice;
        bool better;
        if (ch->local == was)
            continue;
        set_choice(ch, ch->local, c->ao->q->act_bits);
        if ((st = try_assignment(c, res, true, best, trial, &better, err)) == QC_OK && better)
            res->kept++;
        else
            set_choice(ch, was, c->ao->q->act_bits);
    }
    return st;
}

/* The start: the local choices, then every candidate for all tensors, each taken where it is
 * better (qc_auto_better) than the best so far; *local keeps the local choices' outcome. */
static qc_status choose_start(const net_ctx *c, qc_auto_result *res, qc_auto_outcome *best, qc_auto_outcome *trial,
                              qc_auto_outcome *local, qc_error *err)
{
    qc_status st = net_score(c, res, best, err);
    if (st != QC_OK)
        return st;
    memcpy(local->agree, best->agree, (size_t)best->n * sizeof *best->agree);
    memcpy(local->kl, best->kl, (size_t)best->n * sizeof *best->kl);
    outcome_totals(local, &res->agree_local, &res->kl_local);
    res->start = -1;
    for (int k = 0; k < QC_AUTO_CANDIDATES && st == QC_OK; k++) {
        bool better;
        set_all(res, k, c->ao->q->act_bits);
        if ((st = try_assignment(c, res, false, best, trial, &better, err)) == QC_OK && better)
            res->start = k;
    }
    set_all(res, res->start, c->ao->q->act_bits);
    return st;
}

/* The local choices checked at the network's output (docs/qparams.md Q18): the start, then
 * refine; a result the rule puts below the local choices (it is not transitive) gives way to
 * them. */
static qc_status check_at_output(const qc_auto_options *ao, qc_auto_result *res, qc_error *err)
{
    const qc_graph *g = ao->fp32;
    net_ctx c = {.ao = ao, .classes = (int)qc_value_count(&g->tensors[g->outputs[0]].value),
                 .probabilities = qc_output_is_probabilities(g, 0)};
    qc_auto_outcome best = {0}, trial = {0}, local = {0};
    qc_status st = QC_OK;
    if (!(c.fp32 = malloc(sizeof *c.fp32 * (size_t)(ao->n * c.classes + 1))) ||
        !(c.q = malloc(sizeof *c.q * (size_t)(ao->n * c.classes + 1))))
        st = qc_fail(err, QC_ERR_IO, "out of memory");
    if (st == QC_OK && (st = outcome_alloc(&best, ao->n, err)) == QC_OK && (st = outcome_alloc(&trial, ao->n, err)) == QC_OK)
        st = outcome_alloc(&local, ao->n, err);
    if (st == QC_OK && (st = net_logits(&c, g, c.fp32, err)) == QC_OK)
        st = choose_start(&c, res, &best, &trial, &local, err);
    if (st == QC_OK && res->start >= 0)
        st = refine(&c, res, &best, &trial, err);
    if (st == QC_OK && res->start >= 0 && qc_auto_better(&local, &best)) {
        set_all(res, -1, ao->q->act_bits);
        res->start = -1;
        res->kept = 0;
        qc_auto_outcome t = best;
        best = local;
        local = t;
    }
    if (st == QC_OK)
        outcome_totals(&best, &res->agree, &res->kl);
    outcome_free(&best);
    outcome_free(&trial);
    outcome_free(&local);
    free(c.fp32);
    free(c.q);
    return st;
}

qc_status qc_method_auto(const qc_auto_options *ao, qc_auto_result *res, qc_error *err)
{
    const qc_graph *g = ao->fp32;
    memset(res, 0, sizeof *res);
    if (qc_graph_fed_count(g) != 1)
        return qc_fail(err, QC_ERR_USAGE, "--method auto runs models with one image input");
    target *tt = NULL;
    int n = 0;
    capture cap = {.g = g, .values = calloc((size_t)g->n_tensors + 1, sizeof *cap.values)};
    qc_exec *x = qc_exec_create(g);
    qc_status st = cap.values && x ? targets_create(ao, &tt, &n, err) : qc_fail(err, QC_ERR_IO, "out of memory");
    if (x)
        qc_exec_set_observer(x, capture_observe, &cap);
    run_ctx rc = {.g = g, .o = ao->q, .targets = tt, .cap = &cap};
    for (int64_t img = 0; img < ao->n && st == QC_OK; img++) {
        const float *image = ao->inputs + img * ao->stride;
        qc_value in = g->tensors[qc_graph_fed_input(g, 0)].value;
        in.data = (void *)image;
        if ((st = capture_inputs(g, &cap, image, ao->stride, err)) != QC_OK || (st = qc_exec_run(x, &in, 1, err)) != QC_OK)
            break;
        if (cap.failed) {
            st = qc_fail(err, QC_ERR_IO, "out of memory");
            break;
        }
        qc_parallel_for(ao->threads, n, measure_target, &rc);
        for (int i = 0; i < n && st == QC_OK; i++)
            if ((st = tt[i].status) != QC_OK)
                *err = tt[i].err;
    }
    res->images = ao->n;
    if (st == QC_OK)
        st = choose(ao, tt, n, res, err);
    if (st == QC_OK && res->n)
        st = check_at_output(ao, res, err);
    qc_exec_destroy(x);
    for (int t = 0; cap.values && t < g->n_tensors; t++)
        free(cap.values[t].data);
    free(cap.values);
    targets_free(tt, n);
    if (st != QC_OK)
        qc_auto_result_free(res);
    return st;
}

const char *qc_method_name(qc_range_method m)
{
    return m == QC_METHOD_AUTO ? "auto" : qc_range_method_name(m);
}

qc_status qc_auto_load_images(const qc_image_set *set, const qc_preprocess *pp, const qc_image_input *in, int64_t k,
                              int threads, float **pixels, int64_t *n, qc_error *err)
{
    const int64_t stride = (int64_t)in->channels * in->height * in->width, total = set->n_items;
    int *labels = malloc(sizeof *labels * (size_t)(total + 1));
    int64_t *index = malloc(sizeof *index * (size_t)(total + 1));
    qc_image_set subset = *set;
    k = k < total ? k : total;
    subset.items = malloc(sizeof *subset.items * (size_t)(k + 1));
    *pixels = malloc(sizeof **pixels * (size_t)(k * stride + 1));
    *n = 0;
    qc_status st = labels && index && subset.items && *pixels ? QC_OK : qc_fail(err, QC_ERR_IO, "out of memory");
    for (int64_t i = 0; st == QC_OK && i < total; i++)
        labels[i] = set->items[i].label;
    if (st == QC_OK && (k = qc_aa_subset(labels, total, k, index)) < 0)
        st = qc_fail(err, QC_ERR_IO, "out of memory");
    if (st == QC_OK) {
        for (int64_t i = 0; i < k; i++)
            subset.items[i] = set->items[index[i]];
        subset.n_items = (int)k;
        st = qc_eval_load_images(&subset, pp, k, in, threads, *pixels, err);
    }
    *n = st == QC_OK ? k : 0;
    if (st != QC_OK) {
        free(*pixels);
        *pixels = NULL;
    }
    free(labels);
    free(index);
    free(subset.items);
    return st;
}
