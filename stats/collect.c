/* collect.c — recording statistics: which tensors of a graph are recorded, the observer that
 * adds one sample (image) of a tensor per tensor and per channel, and the exact merge of two
 * accumulators (worker threads, shards). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats-impl.h"

/* ---- tensors ---------------------------------------------------------------------------- */

void qc_moments_clear(qc_moments *m)
{
    memset(m, 0, sizeof *m);
    m->min = INFINITY;
    m->max = -INFINITY;
}

void qc_tensor_stats_free(qc_tensor_stats *t)
{
    free(t->name);
    free(t->ch);
    free(t->pend);
    free(t->hist.counts);
    free(t->hist.pend);
    memset(t, 0, sizeof *t);
}

bool qc_tensor_stats_alloc(const qc_stats *s, qc_tensor_stats *t)
{
    qc_moments_clear(&t->t);
    t->hist.log2_range = QC_HIST_LOG2_MIN;
    bool per_channel = s->per_channel || t->role == QC_ROLE_WEIGHT;
    if (per_channel) {
        t->ch = malloc((size_t)t->channels * sizeof *t->ch);
        if (!t->ch)
            return false;
        for (int c = 0; c < t->channels; c++)
            qc_moments_clear(&t->ch[c]);
    }
    size_t n_pend = (size_t)(1 + (per_channel ? t->channels : 0));
    t->pend = malloc(n_pend * sizeof *t->pend);
    if (!t->pend)
        return false;
    for (size_t k = 0; k < n_pend; k++)
        t->pend[k] = (qc_pending){.min = INFINITY, .max = -INFINITY};
    if (s->histograms) {
        t->hist.counts = calloc(QC_HIST_BINS, sizeof *t->hist.counts);
        if (!t->hist.counts)
            return false;
    }
    return true;
}

qc_stats *qc_stats_create_empty(const qc_stats_options *o)
{
    qc_stats *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->per_channel = o->per_channel;
    s->histograms = o->histograms;
    s->model_hash = o->model_hash;
    s->model_file = strdup(o->model_file ? o->model_file : "");
    if (o->pp) {
        s->has_pp = true;
        s->pp = *o->pp;
    }
    if (!s->model_file) {
        free(s);
        return NULL;
    }
    return s;
}

int qc_stats_add_tensor(qc_stats *s, const char *name, qc_role role, int rank,
                        const int64_t *dims, int axis)
{
    if (rank < 0 || rank > QC_MAX_RANK)
        return -1;
    qc_tensor_stats *grown = realloc(s->tensors, (size_t)(s->n_tensors + 1) * sizeof *grown);
    if (!grown)
        return -1;
    s->tensors = grown;
    qc_tensor_stats *t = &s->tensors[s->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->role = role;
    t->rank = rank;
    t->numel = 1;
    for (int d = 0; d < rank; d++) {
        t->dims[d] = dims[d];
        t->numel *= dims[d];
    }
    t->axis = axis >= 0 && axis < rank && dims[axis] > 0 ? axis : -1;
    t->channels = t->axis >= 0 ? (int)dims[t->axis] : 1;
    if (!t->name || !qc_tensor_stats_alloc(s, t)) {
        qc_tensor_stats_free(t);
        return -1;
    }
    return s->n_tensors++;
}

/* The output-channel axis of a weight: Conv [M, C/g, k…] → 0; Gemm B is [N, K] with transB,
 * [K, N] without; MatMul B [… K, N] → its last axis. */
static int weight_axis(const qc_node *n, const qc_value *w)
{
    if (!strcmp(n->op_type, "Conv"))
        return w->rank >= 1 ? 0 : -1;
    if (!strcmp(n->op_type, "Gemm"))
        return w->rank == 2 ? (qc_node_attr_int(n, "transB", 0) ? 0 : 1) : -1;
    return w->rank >= 2 ? w->rank - 1 : -1;
}

static bool is_weight_of(const qc_graph *g, const qc_node *n)
{
    if (n->domain[0] || n->n_inputs < 2 || n->inputs[1] < 0)
        return false;
    if (strcmp(n->op_type, "Conv") && strcmp(n->op_type, "Gemm") && strcmp(n->op_type, "MatMul"))
        return false;
    const qc_tensor *w = &g->tensors[n->inputs[1]];
    return w->is_const && w->value.dtype == QC_FLOAT && w->value.data;
}

/* The recorded tensors of g in order: float inputs, then per node its weight (Conv, Gemm,
 * MatMul) and its float outputs, each tensor once. Fills idx/role/axis (g->n_tensors
 * entries each) and returns the count. */
static int list_tensors(const qc_graph *g, int *idx, qc_role *role, int *axis)
{
    int n = 0;
    bool *seen = calloc((size_t)(g->n_tensors ? g->n_tensors : 1), 1);
    if (!seen)
        return -1;
    for (int i = 0; i < g->n_inputs; i++) {
        int t = g->inputs[i];
        const qc_value *v = &g->tensors[t].value;
        if (v->dtype != QC_FLOAT || seen[t])
            continue;
        seen[t] = true;
        idx[n] = t;
        role[n] = QC_ROLE_INPUT;
        axis[n++] = v->rank >= 2 ? 1 : -1;
    }
    for (int k = 0; k < g->n_nodes; k++) {
        const qc_node *nd = &g->nodes[k];
        if (is_weight_of(g, nd) && !seen[nd->inputs[1]]) {
            int t = nd->inputs[1];
            seen[t] = true;
            idx[n] = t;
            role[n] = QC_ROLE_WEIGHT;
            axis[n++] = weight_axis(nd, &g->tensors[t].value);
        }
        for (int o = 0; o < nd->n_outputs; o++) {
            int t = nd->outputs[o];
            if (t < 0 || seen[t] || g->tensors[t].is_const || g->tensors[t].value.dtype != QC_FLOAT)
                continue;
            seen[t] = true;
            idx[n] = t;
            role[n] = QC_ROLE_ACTIVATION;
            axis[n++] = g->tensors[t].value.rank >= 2 ? 1 : -1;
        }
    }
    free(seen);
    return n;
}

/* One image's shape of a tensor of a model with a fixed batch: the first dimension that the
 * batch divides, divided (N x C x H x W → 1 x C x H x W; a Reshape to [1, -1] → 1 x K). The
 * statistics of the model and of its twin with a dynamic batch are then the same. */
static void row_dims(const qc_value *v, int64_t batch, int64_t *dims)
{
    bool divided = batch <= 1;
    for (int d = 0; d < v->rank; d++) {
        dims[d] = v->dims[d];
        if (!divided && dims[d] % batch == 0) {
            dims[d] /= batch;
            divided = true;
        }
    }
}

qc_status qc_stats_create(const qc_graph *g, const qc_stats_options *o, qc_stats **out,
                          qc_error *err)
{
    size_t cap = (size_t)(g->n_tensors ? g->n_tensors : 1);
    int *idx = malloc(cap * sizeof *idx), *axis = malloc(cap * sizeof *axis);
    qc_role *role = malloc(cap * sizeof *role);
    qc_stats *s = qc_stats_create_empty(o);
    qc_status st = QC_OK;
    *out = NULL;
    int n = idx && axis && role && s ? list_tensors(g, idx, role, axis) : -1;
    if (n < 0 || !(s->slot = malloc(cap * sizeof *s->slot)))
        goto oom;
    s->n_graph_tensors = g->n_tensors;
    for (int t = 0; t < g->n_tensors; t++)
        s->slot[t] = -1;
    const int64_t batch = qc_input_batch(g);
    for (int i = 0; i < n; i++) {
        const qc_tensor *t = &g->tensors[idx[i]];
        int64_t dims[QC_MAX_RANK];
        /* weights and inputs bound to a constant are whole, not rows of the batch */
        const bool whole = role[i] == QC_ROLE_WEIGHT || (t->is_input && t->value.data);
        row_dims(&t->value, whole ? 1 : batch, dims);
        if (qc_stats_add_tensor(s, t->name, role[i], t->value.rank, dims, axis[i]) != i)
            goto oom;
        s->slot[idx[i]] = i;
        if (role[i] == QC_ROLE_WEIGHT)
            qc_stats_observe(s, i, &t->value);
    }
    qc_stats_flush(s);
    if (s->status != QC_OK)
        st = qc_fail(err, s->status, "'%s': %s", g->name, s->err.msg);
    goto end;
oom:
    st = qc_fail(err, QC_ERR_IO, "out of memory creating statistics for '%s'", g->name);
end:
    free(idx);
    free(axis);
    free(role);
    if (st != QC_OK)
        qc_stats_destroy(s);
    else
        *out = s;
    return st;
}

qc_stats *qc_stats_clone_empty(const qc_stats *s)
{
    qc_stats_options o = {.per_channel = s->per_channel, .histograms = s->histograms,
                          .model_hash = s->model_hash, .model_file = s->model_file,
                          .pp = s->has_pp ? &s->pp : NULL};
    qc_stats *c = qc_stats_create_empty(&o);
    if (!c)
        return NULL;
    for (int i = 0; i < s->n_tensors; i++) {
        const qc_tensor_stats *t = &s->tensors[i];
        if (qc_stats_add_tensor(c, t->name, t->role, t->rank, t->dims, t->axis) != i)
            goto fail;
    }
    if (s->slot) {
        c->slot = malloc((size_t)(s->n_graph_tensors ? s->n_graph_tensors : 1) * sizeof *c->slot);
        if (!c->slot)
            goto fail;
        memcpy(c->slot, s->slot, (size_t)s->n_graph_tensors * sizeof *c->slot);
        c->n_graph_tensors = s->n_graph_tensors;
    }
    return c;
fail:
    qc_stats_destroy(c);
    return NULL;
}

void qc_stats_destroy(qc_stats *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n_tensors; i++)
        qc_tensor_stats_free(&s->tensors[i]);
    free(s->tensors);
    free(s->model_file);
    free(s->shards);
    free(s->slot);
    free(s->scratch);
    free(s);
}

int qc_stats_find(const qc_stats *s, const char *name)
{
    for (int i = 0; i < s->n_tensors; i++)
        if (!strcmp(s->tensors[i].name, name))
            return i;
    return -1;
}

/* ---- one sample ----------------------------------------------------------------------------- */

static void fail_observe(qc_stats *s, qc_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_observe(qc_stats *s, qc_status status, const char *fmt, ...)
{
    if (s->status != QC_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err.msg, sizeof s->err.msg, fmt, ap);
    va_end(ap);
    s->status = status;
}

/* One sample into the pending extremes and double sums. */
static void pending_add(qc_pending *p, const qc_span *r)
{
    p->min = r->min < p->min ? r->min : p->min;
    p->max = r->max > p->max ? r->max : p->max;
    p->sum += r->sum;
    p->sumsq += r->sumsq;
    p->smin += r->min;
    p->smin2 += (double)r->min * r->min;
    p->smax += r->max;
    p->smax2 += (double)r->max * r->max;
}

/* m += p, the sums exactly; false when a value is too large. The extremes are combined as
 * pending_add does (on ties the earlier value stays), so they are those of the samples one by
 * one, signed zeros included. */
static bool pending_flush(qc_moments *m, qc_pending *p)
{
    m->min = p->min < m->min ? p->min : m->min;
    m->max = p->max > m->max ? p->max : m->max;
    bool ok = qc_fix_add_double(&m->sum, p->sum) & qc_fix_add_double(&m->sumsq, p->sumsq) &
              qc_fix_add_double(&m->smin, p->smin) & qc_fix_add_double(&m->smin2, p->smin2) &
              qc_fix_add_double(&m->smax, p->smax) & qc_fix_add_double(&m->smax2, p->smax2);
    *p = (qc_pending){.min = INFINITY, .max = -INFINITY};
    return ok;
}

static void hist_fold(qc_hist *h);

void qc_stats_flush(qc_stats *s)
{
    if (!s->pending)
        return;
    for (int i = 0; i < s->n_tensors; i++) {
        qc_tensor_stats *t = &s->tensors[i];
        hist_fold(&t->hist);
        bool ok = pending_flush(&t->t, &t->pend[0]);
        for (int c = 0; t->ch && c < t->channels; c++)
            ok &= pending_flush(&t->ch[c], &t->pend[1 + c]);
        if (!ok)
            fail_observe(s, QC_ERR_INPUT, "tensor '%s' has values too large for statistics", t->name);
    }
    s->pending = false;
}

/* floor(v / 2^s) for |v| ≤ 2^11 without relying on how >> treats negative numbers. */
static int floor_shift(int v, int s)
{
    if (s > 20)
        s = 20;
    return v >= 0 ? v >> s : ~(~v >> s);
}

/* Exponent e of the smallest power of two above a (a < 2^e), QC_HIST_LOG2_MIN for 0. */
static int hist_log2(float a)
{
    if (!(a > 0))
        return QC_HIST_LOG2_MIN;
    int e;
    frexpf(a, &e); /* a = m · 2^e, 0.5 ≤ m < 1 */
    return e;
}

/* Re-bins h to range 2^e (e ≥ its range): bin b moves to HALF + floor((b − HALF) / 2^shift).
 * Positive bins only move down and negative ones only up, so it works in place. */
static void hist_grow(qc_hist *h, int e)
{
    int shift = e - h->log2_range;
    h->log2_range = e;
    if (shift <= 0 || h->total == 0)
        return;
    int64_t *c = h->counts;
    for (int b = QC_HIST_HALF; b < QC_HIST_BINS; b++) {
        int nb = QC_HIST_HALF + floor_shift(b - QC_HIST_HALF, shift);
        int64_t v = c[b];
        c[b] = 0;
        c[nb] += v;
    }
    for (int b = QC_HIST_HALF - 1; b >= 0; b--) {
        int nb = QC_HIST_HALF + floor_shift(b - QC_HIST_HALF, shift);
        int64_t v = c[b];
        c[b] = 0;
        c[nb] += v;
    }
}

/* Copy k of the pending counts starts at pend + k · PEND_STRIDE: 64 bytes more than the bins,
 * so that bin b of two copies is not 4 KiB apart (a load would then wait for the store to the
 * other copy, as if it were the same address, and a run of one bin would be slow again). */
#define PEND_STRIDE (QC_HIST_BINS + 16)

/* Adds the pending counts of h to its counts (they fit: each copy holds at most pend_n). */
static void hist_fold(qc_hist *h)
{
    if (!h->pend || h->pend_lo > h->pend_hi)
        return;
    const int lo = h->pend_lo, n = h->pend_hi - h->pend_lo + 1;
    uint32_t *p0 = h->pend + lo, *p1 = p0 + PEND_STRIDE, *p2 = p1 + PEND_STRIDE, *p3 = p2 + PEND_STRIDE;
    for (int b = 0; b < n; b++)
        h->counts[lo + b] += (int64_t)p0[b] + p1[b] + p2[b] + p3[b];
    for (int k = 0; k < 4; k++)
        memset(h->pend + k * PEND_STRIDE + lo, 0, (size_t)n * sizeof *h->pend);
    h->pend_lo = QC_HIST_BINS;
    h->pend_hi = -1;
    h->pend_n = 0;
}

/* The bin of x at this scale (as the hist_index kernels compute it), clamped to the bins. */
static int hist_bin(float x, double scale)
{
    double d = floor((double)x * scale) + QC_HIST_HALF;
    return d < 0 ? 0 : d > QC_HIST_BINS - 1 ? QC_HIST_BINS - 1 : (int)d;
}

/* Adds n values with these extremes to h: the bins of the non-zero values come from the
 * hist_index kernel in chunks. Runs of one bin would make each increment wait for the one
 * before, so zeros, often half of a tensor after a ReLU, are counted at once, and the other
 * values go round the four copies of the pending counts, which the flush adds to the counts;
 * straight into the counts when pending is false (weights, recorded once) or the copies
 * cannot be had. */
static void hist_add(qc_hist *h, const float *x, int64_t n, float min, float max, bool pending,
                     const qc_stats_kernels *k)
{
    int e = hist_log2(-min > max ? -min : max);
    if (h->total == 0)
        h->log2_range = e;
    else if (e > h->log2_range) {
        hist_fold(h);
        hist_grow(h, e);
    }
    double scale = ldexp(1.0, QC_HIST_HALF_LOG2 - h->log2_range);
    if (pending && n <= (int64_t)UINT32_MAX) {
        if (!h->pend) {
            h->pend = calloc(4 * PEND_STRIDE, sizeof *h->pend);
            h->pend_lo = QC_HIST_BINS;
            h->pend_hi = -1;
            h->pend_n = 0;
        }
        if (h->pend && h->pend_n + n > (int64_t)UINT32_MAX)
            hist_fold(h);
        pending = h->pend != NULL;
    } else
        pending = false;
    int64_t *c = h->counts, nonzero = 0;
    int32_t idx[512 + 15]; /* the hist_index kernels store up to 15 entries past their count */
    if (pending) {
        int lo = hist_bin(min, scale), hi = hist_bin(max, scale);
        h->pend_lo = lo < h->pend_lo ? lo : h->pend_lo;
        h->pend_hi = hi > h->pend_hi ? hi : h->pend_hi;
        h->pend_n += n;
        uint32_t *p0 = h->pend, *p1 = p0 + PEND_STRIDE, *p2 = p1 + PEND_STRIDE, *p3 = p2 + PEND_STRIDE;
        for (int64_t i = 0; i < n; i += 512) {
            int64_t m = k->hist_index(x + i, n - i < 512 ? n - i : 512, scale, idx), j = 0;
            for (; j + 4 <= m; j += 4) {
                p0[idx[j]]++;
                p1[idx[j + 1]]++;
                p2[idx[j + 2]]++;
                p3[idx[j + 3]]++;
            }
            for (; j < m; j++)
                p0[idx[j]]++;
            nonzero += m;
        }
    } else {
        for (int64_t i = 0; i < n; i += 512) {
            int64_t m = k->hist_index(x + i, n - i < 512 ? n - i : 512, scale, idx);
            for (int64_t j = 0; j < m; j++)
                c[idx[j]]++;
            nonzero += m;
        }
    }
    c[QC_HIST_HALF] += n - nonzero;
    h->total += n;
}

void qc_stats_observe(qc_stats *s, int i, const qc_value *v)
{
    if (s->status != QC_OK)
        return;
    qc_tensor_stats *t = &s->tensors[i];
    if (v->dtype != QC_FLOAT || qc_value_count(v) != t->numel) {
        char got[96];
        snprintf(s->err.msg, sizeof s->err.msg,
                 "tensor '%s' has shape %s (%s), statistics expect %lld float elements", t->name,
                 qc_shape_str(v, got, sizeof got), qc_dtype_name(v->dtype), (long long)t->numel);
        s->status = QC_ERR_INPUT;
        return;
    }
    int C = t->channels;
    if (C > s->scratch_size) {
        qc_span *p = realloc(s->scratch, (size_t)C * sizeof *p);
        if (!p) {
            fail_observe(s, QC_ERR_IO, "out of memory recording tensor '%s'", t->name);
            return;
        }
        s->scratch = p;
        s->scratch_size = C;
    }
    /* Channel c is the blocks (o·C + c)·inner … + inner − 1 for every o < outer. */
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < t->rank; d++) {
        if (t->axis >= 0 && d < t->axis)
            outer *= t->dims[d];
        else if (t->axis >= 0 && d > t->axis)
            inner *= t->dims[d];
    }
    if (t->axis < 0)
        inner = t->numel;
    const float *x = v->data;
    const qc_stats_kernels *kern = qc_stats_kernels_get();
    if (outer == 1 && inner > 1) { /* NCHW at batch 1: channels are consecutive blocks */
        kern->span_channels(x, C, inner, s->scratch);
    } else {
        for (int c = 0; c < C; c++) {
            qc_span r = {INFINITY, -INFINITY, 0, 0};
            if (inner == 1 && outer == 1) { /* one value per channel (Gemm outputs): the kernel's bits */
                float e = x[c];
                r = (qc_span){e, e, 0.0 + e, 0.0 + (double)e * e};
            } else {
                for (int64_t o = 0; o < outer; o++) {
                    qc_span b;
                    kern->span(x + (o * C + c) * inner, inner, &b);
                    r.min = b.min < r.min ? b.min : r.min;
                    r.max = b.max > r.max ? b.max : r.max;
                    r.sum += b.sum;
                    r.sumsq += b.sumsq;
                }
            }
            s->scratch[c] = r;
        }
    }
    qc_span tot = {INFINITY, -INFINITY, 0, 0};
    for (int c = 0; c < C; c++) {
        const qc_span *r = &s->scratch[c];
        tot.min = r->min < tot.min ? r->min : tot.min;
        tot.max = r->max > tot.max ? r->max : tot.max;
        tot.sum += r->sum;
        tot.sumsq += r->sumsq;
    }
    if (t->numel == 0) {
        t->samples++;
        return;
    }
    /* A NaN or an infinity makes the sums non-finite (squares of floats cannot overflow a
     * double), so one test covers every element. */
    if (!isfinite(tot.sum) || !isfinite(tot.sumsq)) {
        fail_observe(s, QC_ERR_INPUT, "tensor '%s' has values that are not finite (NaN or infinity)",
                     t->name);
        return;
    }
    if (!(tot.sumsq < 0x1p120)) {
        fail_observe(s, QC_ERR_INPUT, "tensor '%s' has values too large for statistics (sum of squares %g)",
                     t->name, tot.sumsq);
        return;
    }
    pending_add(&t->pend[0], &tot);
    for (int c = 0; t->ch && c < C; c++)
        pending_add(&t->pend[1 + c], &s->scratch[c]);
    s->pending = true;
    if (t->hist.counts)
        hist_add(&t->hist, x, t->numel, tot.min, tot.max, t->role != QC_ROLE_WEIGHT, kern);
    t->samples++;
}

/* The real rows of a batch, one sample each, in order; the padding rows are never seen. */
static void observe_rows(qc_stats *s, int i, const qc_value *v)
{
    const int64_t n = qc_value_count(v);
    if (v->dtype != QC_FLOAT || n % s->batch_rows != 0) {
        char got[96];
        fail_observe(s, QC_ERR_INPUT, "tensor '%s' has shape %s: not %lld rows of the fixed batch",
                     s->tensors[i].name, qc_shape_str(v, got, sizeof got), (long long)s->batch_rows);
        return;
    }
    int64_t per_row = n / s->batch_rows;
    for (int64_t r = 0; r < s->real_rows && s->status == QC_OK; r++) {
        qc_value row = qc_value_f32(1, &per_row, (float *)v->data + r * per_row);
        qc_stats_observe(s, i, &row);
    }
}

void qc_stats_observer(void *ctx, const qc_graph *g, int tensor, const qc_value *value)
{
    qc_stats *s = ctx;
    (void)g;
    if (tensor < 0 || tensor >= s->n_graph_tensors || s->slot[tensor] < 0)
        return;
    if (s->batch_rows > 1)
        observe_rows(s, s->slot[tensor], value);
    else
        qc_stats_observe(s, s->slot[tensor], value);
}

void qc_stats_observe_inputs(qc_stats *s, const qc_graph *g, const qc_value *inputs, int n)
{
    /* the image-fed inputs: one image's (a batched pass observes each before it joins the
     * batch), or a whole batch */
    for (int i = 0; i < n && i < qc_graph_fed_count(g); i++) {
        const int t = qc_graph_fed_input(g, i);
        int k = t < s->n_graph_tensors ? s->slot[t] : -1;
        if (k >= 0 && s->batch_rows > 1 && qc_value_count(&inputs[i]) != s->tensors[k].numel)
            observe_rows(s, k, &inputs[i]); /* a whole batch */
        else if (k >= 0)
            qc_stats_observe(s, k, &inputs[i]);
    }
    for (int i = 0; i < g->n_inputs; i++) { /* inputs bound to a constant: the same value every run, whole */
        const int t = g->inputs[i], k = t < s->n_graph_tensors ? s->slot[t] : -1;
        if (g->tensors[t].value.data && k >= 0)
            qc_stats_observe(s, k, &g->tensors[t].value);
    }
}

void qc_stats_add_image(qc_stats *s, const char *rel)
{
    s->images++;
    s->images_digest += qc_fnv1a64(rel, strlen(rel), QC_FNV_BASIS);
}

/* ---- merging -------------------------------------------------------------------------------- */

static void moments_merge(qc_moments *a, const qc_moments *b)
{
    a->min = b->min < a->min ? b->min : a->min;
    a->max = b->max > a->max ? b->max : a->max;
    qc_fix_add(&a->sum, &b->sum);
    qc_fix_add(&a->sumsq, &b->sumsq);
    qc_fix_add(&a->smin, &b->smin);
    qc_fix_add(&a->smin2, &b->smin2);
    qc_fix_add(&a->smax, &b->smax);
    qc_fix_add(&a->smax2, &b->smax2);
}

static bool moments_equal(const qc_moments *a, const qc_moments *b)
{
    return a->min == b->min && a->max == b->max && qc_fix_equal(&a->sum, &b->sum) &&
           qc_fix_equal(&a->sumsq, &b->sumsq);
}

static void hist_merge(qc_hist *a, const qc_hist *b)
{
    if (b->total == 0)
        return;
    if (a->total == 0) {
        a->log2_range = b->log2_range;
        memcpy(a->counts, b->counts, QC_HIST_BINS * sizeof *a->counts);
        a->total = b->total;
        return;
    }
    if (b->log2_range > a->log2_range)
        hist_grow(a, b->log2_range);
    int shift = a->log2_range - b->log2_range;
    for (int k = 0; k < QC_HIST_BINS; k++)
        if (b->counts[k])
            a->counts[QC_HIST_HALF + floor_shift(k - QC_HIST_HALF, shift)] += b->counts[k];
    a->total += b->total;
}

static bool pp_equal(const qc_preprocess *a, const qc_preprocess *b)
{
    if (a->color != b->color || a->resize_h != b->resize_h || a->resize_w != b->resize_w || a->resize_short != b->resize_short ||
        a->crop_h != b->crop_h || a->crop_w != b->crop_w || a->scale != b->scale)
        return false;
    for (int c = 0; c < 3; c++)
        if (a->mean[c] != b->mean[c] || a->std[c] != b->std[c])
            return false;
    return true;
}

/* Same model, options and tensors? */
static qc_status check_compatible(const qc_stats *a, const qc_stats *b, qc_error *err)
{
    if (a->model_hash != b->model_hash)
        return qc_fail(err, QC_ERR_INPUT, "they are statistics of different models (hash %016llx and %016llx)",
                       (unsigned long long)a->model_hash, (unsigned long long)b->model_hash);
    if (a->per_channel != b->per_channel)
        return qc_fail(err, QC_ERR_INPUT, "one has per-channel statistics and the other not (--granularity)");
    if (a->histograms != b->histograms)
        return qc_fail(err, QC_ERR_INPUT, "one has histograms and the other not (--method)");
    if (a->has_pp != b->has_pp || (a->has_pp && !pp_equal(&a->pp, &b->pp)))
        return qc_fail(err, QC_ERR_INPUT, "the images were preprocessed differently");
    if (a->n_tensors != b->n_tensors)
        return qc_fail(err, QC_ERR_INPUT, "they record %d and %d tensors", a->n_tensors, b->n_tensors);
    for (int i = 0; i < a->n_tensors; i++) {
        const qc_tensor_stats *x = &a->tensors[i], *y = &b->tensors[i];
        if (strcmp(x->name, y->name))
            return qc_fail(err, QC_ERR_INPUT, "tensor %d is '%s' in one and '%s' in the other", i,
                           x->name, y->name);
        bool same = x->role == y->role && x->rank == y->rank && x->axis == y->axis;
        for (int d = 0; same && d < x->rank; d++)
            same = x->dims[d] == y->dims[d];
        if (!same)
            return qc_fail(err, QC_ERR_INPUT, "tensor '%s' has a different shape, role or axis", x->name);
    }
    return QC_OK;
}

qc_status qc_stats_merge(qc_stats *dst, qc_stats *src, qc_error *err)
{
    qc_stats_flush(dst);
    qc_stats_flush(src);
    if (dst->status != QC_OK || src->status != QC_OK)
        return qc_fail(err, dst->status != QC_OK ? dst->status : src->status, "%s",
                       dst->status != QC_OK ? dst->err.msg : src->err.msg);
    qc_status st = check_compatible(dst, src, err);
    if (st != QC_OK)
        return st;
    /* a digest is a sum of per-image hashes: the same images give the same digest */
    if (!dst->shard_count && !src->shard_count && dst->images > 0 &&
        dst->images == src->images && dst->images_digest == src->images_digest)
        return qc_fail(err, QC_ERR_INPUT,
                       "both hold the same %lld images (digest %016llx): merged, they would count "
                       "twice",
                       (long long)dst->images, (unsigned long long)dst->images_digest);
    for (int i = 0; i < dst->n_tensors; i++) {
        const qc_tensor_stats *a = &dst->tensors[i], *b = &src->tensors[i];
        int64_t sum;
        if (__builtin_add_overflow(a->samples, b->samples, &sum) ||
            (a->numel > 0 && sum > (INT64_C(1) << 62) / a->numel))
            return qc_fail(err, QC_ERR_INPUT, "tensor '%s' would hold more samples than fit",
                           a->name);
    }
    int *shards = NULL, n_shards = 0;
    bool complete = false;
    if (dst->shard_count || src->shard_count) {
        if (!dst->shard_count || !src->shard_count)
            return qc_fail(err, QC_ERR_INPUT, "a shard (--shard) cannot be merged with statistics of a whole image set");
        if (dst->shard_count != src->shard_count)
            return qc_fail(err, QC_ERR_INPUT, "they are shards of different splits (%d and %d shards)",
                           dst->shard_count, src->shard_count);
        if (dst->shard_images != src->shard_images || dst->shard_digest != src->shard_digest)
            return qc_fail(err, QC_ERR_INPUT, "they are shards of different image lists");
        shards = malloc((size_t)(dst->n_shards + src->n_shards) * sizeof *shards);
        if (!shards)
            return qc_fail(err, QC_ERR_IO, "out of memory");
        int i = 0, j = 0;
        while (i < dst->n_shards || j < src->n_shards) {
            if (i < dst->n_shards && j < src->n_shards && dst->shards[i] == src->shards[j]) {
                int dup = dst->shards[i];
                free(shards);
                return qc_fail(err, QC_ERR_INPUT, "both hold shard %d/%d", dup, dst->shard_count);
            }
            if (j == src->n_shards || (i < dst->n_shards && dst->shards[i] < src->shards[j]))
                shards[n_shards++] = dst->shards[i++];
            else
                shards[n_shards++] = src->shards[j++];
        }
        complete = n_shards == dst->shard_count;
        if (complete && (dst->images + src->images != dst->shard_images ||
                         dst->images_digest + src->images_digest != dst->shard_digest)) {
            free(shards);
            return qc_fail(err, QC_ERR_INPUT, "all %d shards together hold %lld images, not the %lld of their image list",
                           dst->shard_count, (long long)(dst->images + src->images),
                           (long long)dst->shard_images);
        }
    }
    for (int i = 0; i < dst->n_tensors; i++) {
        qc_tensor_stats *a = &dst->tensors[i];
        const qc_tensor_stats *b = &src->tensors[i];
        if (a->role == QC_ROLE_WEIGHT && a->samples && b->samples) {
            /* one model, one set of weights: keep it once */
            if (!moments_equal(&a->t, &b->t)) {
                free(shards);
                return qc_fail(err, QC_ERR_INPUT, "the weights '%s' differ", a->name);
            }
        }
    }
    for (int i = 0; i < dst->n_tensors; i++) {
        qc_tensor_stats *a = &dst->tensors[i];
        const qc_tensor_stats *b = &src->tensors[i];
        if (!b->samples || (a->role == QC_ROLE_WEIGHT && a->samples))
            continue;
        a->samples += b->samples;
        moments_merge(&a->t, &b->t);
        if (a->ch)
            for (int c = 0; c < a->channels; c++)
                moments_merge(&a->ch[c], &b->ch[c]);
        if (a->hist.counts)
            hist_merge(&a->hist, &b->hist);
    }
    dst->images += src->images;
    dst->images_digest += src->images_digest;
    if (dst->shard_count) {
        free(dst->shards);
        dst->shards = shards;
        dst->n_shards = n_shards;
        if (complete) {
            free(dst->shards);
            dst->shards = NULL;
            dst->n_shards = 0;
            dst->shard_count = 0;
            dst->shard_images = 0;
            dst->shard_digest = 0;
        }
    }
    return QC_OK;
}

qc_status qc_stats_check_model(const qc_stats *s, const qc_graph *g, uint64_t model_hash,
                               const char *stats_name, const char *model_name, qc_error *err)
{
    if (model_hash && s->model_hash != model_hash)
        return qc_fail(err, QC_ERR_INPUT,
                       "'%s' does not match '%s': it was gathered for another model (hash %016llx, the model's is %016llx)",
                       stats_name, model_name, (unsigned long long)s->model_hash,
                       (unsigned long long)model_hash);
    size_t cap = (size_t)(g->n_tensors ? g->n_tensors : 1);
    int *idx = malloc(cap * sizeof *idx), *axis = malloc(cap * sizeof *axis);
    qc_role *role = malloc(cap * sizeof *role);
    int n = idx && axis && role ? list_tensors(g, idx, role, axis) : -1;
    qc_status st = QC_OK;
    if (n < 0) {
        st = qc_fail(err, QC_ERR_IO, "out of memory");
        goto end;
    }
    for (int i = 0; i < n; i++) {
        const char *name = g->tensors[idx[i]].name;
        if (i >= s->n_tensors) {
            st = qc_fail(err, QC_ERR_INPUT, "'%s' does not match '%s': it lacks the model's tensor '%s'",
                         stats_name, model_name, name);
            goto end;
        }
        if (strcmp(s->tensors[i].name, name)) {
            st = qc_fail(err, QC_ERR_INPUT, "'%s' does not match '%s': its tensor %d is '%s', the model's is '%s'",
                         stats_name, model_name, i, s->tensors[i].name, name);
            goto end;
        }
    }
    if (n != s->n_tensors)
        st = qc_fail(err, QC_ERR_INPUT, "'%s' does not match '%s': it has %d tensors, the model %d",
                     stats_name, model_name, s->n_tensors, n);
end:
    free(idx);
    free(axis);
    free(role);
    return st;
}
