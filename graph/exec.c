/* exec.c — runs a prepared graph: per-thread activation buffers, shapes inferred again at run
 * time (dynamic batch), each tensor in the layout the graph chose for it (layout.c), an
 * observer called on every produced tensor in ONNX's layout. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "graph-impl.h"

/* A Conv that applies the Relu or Clip after it (qc_pass_fusable_activation), and that
 * activation node, which then hands its input on as its output. */
typedef struct {
    bool clamps;   /* the node applies the clamp [lo, hi] to its output */
    bool absorbed; /* the node's work is done by its producer */
    float lo, hi;
} qc_fusion;

struct qc_exec {
    const qc_graph *g;
    qc_value *values;   /* one per graph tensor: the current value */
    size_t *capacity;   /* bytes owned in values[i].data for activations, 0 otherwise */
    size_t held;        /* the sum of capacity[]: bounded by qc_memory_limit() */
    void *scratch;
    size_t scratch_size;
    qc_observer observer;
    void *observer_ctx;
    void *view;         /* the ONNX-layout copy of a channels-last tensor an observer sees */
    size_t view_size;
    qc_pool *pool; /* intra-op threads; NULL: the ops run on the calling thread */
    qc_fusion *fusion; /* per node: activations fused into convolutions (runs without observer) */
    double split_work; /* the least work an op splits over the pool's threads */
};

/* Below this much work (multiply-adds of a GEMM on AVX512-VNNI, or their equivalent: see
 * gemm_work in ops-int8.c) an op stays on one thread. Within a run the workers spin between
 * jobs (pool.c), so a hand-off costs well under a microsecond and what is left is the
 * imbalance of the pieces; 2^22 of them take one core ~20 µs. Measured with 2 threads on the
 * Xeon (AMX): lowering it from 2^24 to 2^22 took INT8 ResNet-18 from 3.22 to 3.05 ms and
 * MobileNetV2 from 4.82 to 4.45 ms; 2^20 gained little more. While workers slept between jobs,
 * 2^24 was the least that paid for a wake-up. */
#define QC_OP_SPLIT_WORK ((double)(1 << 22))

/* qcal parallelises over images itself; OpenBLAS threads inside each GEMM would compete
 * with that and make results depend on the thread count. Said as the program is loaded: the
 * pthread build of OpenBLAS starts its threads when it is loaded, and they spin in
 * sched_yield until told there is one (~0.1 s: 13 % of the CPU samples of a short INT8 eval). */
__attribute__((constructor)) static void blas_single_thread(void)
{
    openblas_set_num_threads(1);
}

qc_exec *qc_exec_create(const qc_graph *g)
{
    qc_exec *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->g = g;
    x->split_work = QC_OP_SPLIT_WORK;
    size_t n = g->n_tensors ? (size_t)g->n_tensors : 1;
    x->values = calloc(n, sizeof *x->values);
    x->capacity = calloc(n, sizeof *x->capacity);
    x->fusion = calloc(g->n_nodes ? (size_t)g->n_nodes : 1, sizeof *x->fusion);
    if (!x->values || !x->capacity || !x->fusion) {
        qc_exec_destroy(x);
        return NULL;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        qc_fusion *f = &x->fusion[i];
        int act = qc_pass_fusable_activation(g, i, &f->lo, &f->hi);
        f->clamps = act >= 0;
        if (act >= 0)
            x->fusion[act].absorbed = true;
    }
    return x;
}

void qc_exec_destroy(qc_exec *x)
{
    if (!x)
        return;
    if (x->values && x->capacity)
        for (int i = 0; i < x->g->n_tensors; i++)
            if (x->capacity[i])
                free(x->values[i].data);
    free(x->values);
    free(x->capacity);
    free(x->fusion);
    free(x->scratch);
    free(x->view);
    qc_pool_destroy(x->pool);
    free(x);
}

qc_status qc_exec_set_threads(qc_exec *x, int n_threads, qc_error *err)
{
    if (n_threads < 1)
        return qc_fail(err, QC_ERR_USAGE, "an executor needs at least 1 thread, not %d", n_threads);
    if (n_threads == qc_exec_threads(x))
        return QC_OK;
    qc_pool_destroy(x->pool);
    x->pool = NULL;
    if (n_threads == 1)
        return QC_OK;
    if (!(x->pool = qc_pool_create(n_threads)))
        return qc_fail(err, QC_ERR_IO, "out of memory making %d threads", n_threads);
    return QC_OK;
}

int qc_exec_threads(const qc_exec *x)
{
    return qc_pool_threads(x->pool);
}

void qc_exec_set_split_work(qc_exec *x, double work)
{
    x->split_work = work;
}

int qc_exec_op_threads(const qc_exec *x, double work)
{
    return work < x->split_work ? 1 : qc_exec_threads(x);
}

int qc_exec_parallel(qc_exec *x, int n_threads, int64_t n_items, qc_task_fn fn, void *ctx)
{
    return qc_pool_run(n_threads > 1 ? x->pool : NULL, n_items, fn, ctx);
}

typedef struct {
    qc_range_fn fn;
    void *ctx;
    size_t count, piece;
} range_job;

static int range_piece(void *ctx, int worker, int64_t item)
{
    const range_job *j = ctx;
    (void)worker;
    const size_t begin = (size_t)item * j->piece;
    j->fn(j->ctx, begin, j->count - begin < j->piece ? j->count : begin + j->piece);
    return 0;
}

void qc_exec_split_range(qc_exec *x, double work, size_t count, size_t grain, qc_range_fn fn,
                         void *ctx)
{
    const size_t threads = (size_t)qc_exec_op_threads(x, work);
    size_t piece = (count + threads - 1) / threads;
    piece = grain > 1 ? (piece + grain - 1) / grain * grain : piece;
    if (threads == 1 || piece == 0 || piece >= count) {
        fn(ctx, 0, count);
        return;
    }
    range_job j = {fn, ctx, count, piece};
    qc_exec_parallel(x, (int)threads, (int64_t)((count + piece - 1) / piece), range_piece, &j);
}

void qc_exec_set_observer(qc_exec *x, qc_observer fn, void *ctx)
{
    x->observer = fn;
    x->observer_ctx = ctx;
}

bool qc_exec_fused_clamp(const qc_exec *x, const qc_node *n, float *lo, float *hi)
{
    const qc_fusion *f = &x->fusion[n - x->g->nodes];
    if (x->observer || !f->clamps)
        return false;
    *lo = f->lo, *hi = f->hi;
    return true;
}

/* An activation its producer applied: its output is the producer's buffer, as it is. */
static void hand_on(qc_exec *x, const qc_node *n)
{
    const int t = n->outputs[0];
    if (x->capacity[t]) { /* a buffer of an earlier run with an observer */
        free(x->values[t].data);
        x->held -= x->capacity[t];
        x->capacity[t] = 0;
    }
    x->values[t] = x->values[n->inputs[0]];
}

void *qc_exec_scratch(qc_exec *x, size_t bytes)
{
    if (bytes > x->scratch_size) {
        size_t size = (bytes + 63) & ~(size_t)63;
        void *p = aligned_alloc(64, size);
        if (!p)
            return NULL;
        free(x->scratch);
        x->scratch = p;
        x->scratch_size = size;
    }
    return x->scratch;
}

/* Gives activation tensor t of node n a buffer of at least bytes (kept across runs), within
 * the memory limit for all the activations of a run. */
static qc_status ensure_buffer(qc_exec *x, const qc_node *n, int t, size_t bytes, qc_error *err)
{
    if (bytes <= x->capacity[t] && x->values[t].data)
        return QC_OK;
    size_t size = bytes ? (bytes + 63) & ~(size_t)63 : 64;
    size_t held = x->held - x->capacity[t] + size;
    if (held > qc_memory_limit())
        return qc_fail(err, QC_ERR_INPUT,
                       "'%s' needs more than the memory limit of %.1f MiB for the activations of "
                       "one run (at node '%s', output '%s')",
                       x->g->name, (double)qc_memory_limit() / 1048576.0, n->name,
                       x->g->tensors[t].name);
    void *p = aligned_alloc(64, size);
    if (!p)
        return qc_fail(err, QC_ERR_IO, "out of memory running node '%s'", n->name);
    if (x->capacity[t])
        free(x->values[t].data);
    x->values[t].data = p;
    x->capacity[t] = size;
    x->held = held;
    return QC_OK;
}

/* What the observer sees of tensor t: its value, or for a channels-last one a copy in ONNX's
 * layout, so that observers see the same bytes whatever the executor keeps. */
static qc_status observe(qc_exec *x, const qc_node *n, int t, qc_error *err)
{
    const qc_value *v = &x->values[t];
    if (v->layout == QC_LAYOUT_ONNX) {
        x->observer(x->observer_ctx, x->g, t, v);
        return QC_OK;
    }
    const size_t bytes = qc_value_bytes(v);
    if (bytes > x->view_size) {
        void *p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        if (!p)
            return qc_fail(err, QC_ERR_IO, "out of memory observing node '%s'", n->name);
        free(x->view);
        x->view = p;
        x->view_size = (bytes + 63) & ~(size_t)63;
    }
    qc_value view = *v;
    view.data = x->view;
    view.layout = QC_LAYOUT_ONNX;
    qc_value_copy_onnx(v, view.data);
    x->observer(x->observer_ctx, x->g, t, &view);
    return QC_OK;
}

static qc_status bind_inputs(qc_exec *x, const qc_value *inputs, int n_inputs, qc_error *err)
{
    const qc_graph *g = x->g;
    const int fed = qc_graph_fed_count(g);
    qc_status s;
    if (n_inputs != fed)
        return qc_fail(err, QC_ERR_INPUT, "'%s' takes %d input%s, %d given", g->name, fed,
                       fed == 1 ? "" : "s", n_inputs);
    for (int i = 0; i < g->n_inputs; i++)
        if (g->tensors[g->inputs[i]].value.data)
            x->values[g->inputs[i]] = g->tensors[g->inputs[i]].value; /* bound to a constant */
    for (int i = 0; i < n_inputs; i++) {
        const int ti = qc_graph_fed_input(g, i);
        const qc_tensor *t = &g->tensors[ti];
        if ((s = qc_input_fits(g, t, &inputs[i], "", err)) != QC_OK)
            return s;
        x->values[ti] = inputs[i];
        x->values[ti].layout = QC_LAYOUT_ONNX; /* what a caller gives is ONNX's */
    }
    return QC_OK;
}

static qc_status run_nodes(qc_exec *x, const qc_value *inputs, int n_inputs, qc_error *err)
{
    const qc_graph *g = x->g;
    qc_status s = bind_inputs(x, inputs, n_inputs, err);
    if (s != QC_OK)
        return s;
    for (int t = 0; t < g->n_tensors; t++)
        if (g->tensors[t].is_const)
            x->values[t] = g->tensors[t].value;
    for (int i = 0; i < g->n_nodes; i++) {
        const qc_node *n = &g->nodes[i];
        if (x->fusion[i].absorbed && !x->observer) {
            hand_on(x, n);
            continue;
        }
        const qc_value *in[QC_MAX_NODE_INPUTS];
        qc_value out[QC_MAX_NODE_OUTPUTS];
        if (n->n_inputs > QC_MAX_NODE_INPUTS || n->n_outputs > QC_MAX_NODE_OUTPUTS)
            return qc_fail(err, QC_ERR_INPUT, "node '%s' (%s) has too many inputs or outputs", n->name, n->op_type);
        for (int k = 0; k < n->n_inputs; k++)
            in[k] = n->inputs[k] >= 0 ? &x->values[n->inputs[k]] : NULL;
        memset(out, 0, sizeof out);
        s = n->op->infer(n, in, out, err);
        if (s == QC_OK)
            s = qc_node_check_outputs(g, n, out, err);
        if (s != QC_OK)
            return s;
        for (int k = 0; k < n->n_outputs; k++) {
            if (out[k].rank < 0)
                return qc_fail(err, QC_ERR_INPUT, "node '%s' (%s): cannot infer the output shape",
                               n->name, n->op_type);
            int t = n->outputs[k];
            if (t < 0)
                continue; /* an omitted optional output: data stays NULL */
            if ((s = ensure_buffer(x, n, t, qc_value_bytes(&out[k]), err)) != QC_OK)
                return s;
            out[k].data = x->values[t].data;
            out[k].layout = g->tensors[t].value.layout;
        }
        s = n->op->run(x, n, in, out, err);
        if (s != QC_OK)
            return s;
        for (int k = 0; k < n->n_outputs; k++) {
            int t = n->outputs[k];
            if (t < 0)
                continue;
            x->values[t] = out[k];
            if (x->observer && (s = observe(x, n, t, err)) != QC_OK)
                return s;
        }
    }
    return QC_OK;
}

/* The pool is held for the run: its workers spin between the run's ops rather than sleep. */
qc_status qc_exec_run(qc_exec *x, const qc_value *inputs, int n_inputs, qc_error *err)
{
    qc_pool_hold(x->pool, true);
    qc_status s = run_nodes(x, inputs, n_inputs, err);
    qc_pool_hold(x->pool, false);
    return s;
}

const qc_value *qc_exec_output(const qc_exec *x, int i)
{
    return &x->values[x->g->outputs[i]];
}
