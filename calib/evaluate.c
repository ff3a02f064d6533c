/* evaluate.c — a model run over inputs for what it predicts: the logits of each input,
 * delivered in input order; the inputs decoded once for several models; the time of runs.
 * Everything goes through qc_pass_run (stats/gather.c): one executor per thread, each input
 * alone, its results kept by index, so nothing here depends on the threads or the batch. The
 * per-layer error of quantized variants is in evaluate-layers.c. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calib.h"

int qc_argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i; /* the first maximum: ties go to the lower index */
    return best;
}

void qc_top_k(const float *x, int n, int k, int *top)
{
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int c = 0; c < n; c++) {
            bool taken = false;
            for (int t = 0; t < j; t++)
                taken |= top[t] == c;
            if (!taken && (best < 0 || x[c] > x[best]))
                best = c;
        }
        top[j] = best;
    }
}

qc_status qc_eval_batch_input(const qc_graph *g, const char *path, int *rank, int64_t *dims, int64_t *per_sample,
                              bool *fixed_batch, qc_error *err)
{
    if (qc_graph_fed_count(g) != 1)
        return qc_fail(err, QC_ERR_INPUT, "'%s' has %d inputs not given by --input: bench times models of one input",
                       path, qc_graph_fed_count(g));
    const qc_tensor *t = &g->tensors[qc_graph_fed_input(g, 0)];
    if (t->value.dtype != QC_FLOAT || t->value.rank < 1)
        return qc_fail(err, QC_ERR_INPUT, "'%s': input '%s' is not a float tensor with a batch dimension", path,
                       t->name);
    *rank = t->value.rank;
    *fixed_batch = !(t->symbolic & 1);
    *per_sample = 1;
    for (int d = 0; d < t->value.rank; d++) {
        dims[d] = t->value.dims[d];
        if (d > 0)
            *per_sample *= dims[d];
    }
    return QC_OK;
}

void qc_eval_random(float *x, int64_t n, uint32_t seed)
{
    uint32_t s = seed ? seed : 1;
    for (int64_t i = 0; i < n; i++) { /* xorshift32 */
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        x[i] = (float)((double)s / 2147483648.0 - 1.0);
    }
}

/* ---- logits ------------------------------------------------------------------------------ */

typedef struct {
    const qc_eval_options *o;
    int classes;
    int64_t batch;         /* the model's fixed batch (its output holds batch × classes scores), or 1 */
    float *logits;         /* per slot of the step: classes scores */
    qc_status *status;     /* per slot: QC_OK, or why the image could not be read */
    qc_error *why;         /* per slot */
} logits_ctx;

static qc_status logits_after(void *ctx, int worker, int64_t slot, int64_t index, int64_t row, qc_exec *x,
                              qc_error *err)
{
    logits_ctx *c = ctx;
    (void)worker;
    (void)index;
    const qc_value *out = qc_exec_output(x, c->o->output);
    if (out->dtype != QC_FLOAT || qc_value_count(out) != c->classes * c->batch)
        return qc_fail(err, QC_ERR_INPUT, "the output is not %lld float scores", (long long)(c->classes * c->batch));
    /* the input's row of the batch: its share of the output in memory order */
    memcpy(c->logits + slot * c->classes, (const float *)out->data + row * c->classes,
           sizeof(float) * (size_t)c->classes);
    c->status[slot] = QC_OK;
    return QC_OK;
}

static qc_status logits_unreadable(void *ctx, int64_t slot, int64_t index, qc_status status,
                                   const qc_error *why, qc_error *err)
{
    logits_ctx *c = ctx;
    (void)index;
    (void)err;
    c->status[slot] = status;
    c->why[slot] = *why;
    return QC_OK;
}

static qc_status logits_step(void *ctx, const int64_t *indices, int64_t count, qc_error *err)
{
    logits_ctx *c = ctx;
    for (int64_t i = 0; i < count; i++) {
        qc_eval_result r = {.index = indices[i], .status = c->status[i], .err = &c->why[i],
                            .logits = c->status[i] == QC_OK ? c->logits + i * c->classes : NULL};
        qc_status st = c->o->sink ? c->o->sink(c->o->sink_ctx, &r, err) : QC_OK;
        if (st != QC_OK)
            return st;
    }
    return QC_OK;
}

qc_status qc_eval_store_logits(void *ctx, const qc_eval_result *r, qc_error *err)
{
    qc_logits_store *c = ctx;
    (void)err;
    memcpy(c->logits + r->index * c->classes, r->logits, sizeof(float) * (size_t)c->classes);
    return QC_OK;
}

qc_status qc_eval_logits(const qc_graph *g, const qc_pass_inputs *in, int classes, const qc_eval_options *o,
                         qc_error *err)
{
    if (classes < 1 || o->run.batch < 1)
        return qc_fail(err, QC_ERR_USAGE, "classes and batch must be positive");
    qc_pass_hooks h = {.after = logits_after, .step_end = logits_step, .group = 1,
                       .keep_unreadable = o->keep_unreadable, .unreadable = logits_unreadable};
    const int64_t group = qc_pass_group_size(g, in, &h); /* a fixed batch: whole batches */
    const int64_t slots = (o->run.batch + group - 1) / group * group;
    logits_ctx c = {.o = o, .classes = classes, .batch = group > 1 ? qc_input_batch(g) : 1};
    c.logits = malloc(sizeof(float) * (size_t)slots * (size_t)classes);
    c.status = calloc((size_t)slots, sizeof *c.status);
    c.why = o->keep_unreadable ? calloc((size_t)slots, sizeof *c.why) : NULL;
    qc_status st = QC_OK;
    if (!c.logits || !c.status || (o->keep_unreadable && !c.why))
        st = qc_fail(err, QC_ERR_IO, "out of memory");
    qc_gather_options run = o->run;
    run.shard_i = 0;
    run.shard_n = 1;
    h.ctx = &c;
    if (st == QC_OK)
        st = qc_pass_run(g, in, &run, &h, err);
    free(c.logits);
    free(c.status);
    free(c.why);
    return st;
}

/* ---- decoding once ------------------------------------------------------------------------- */

typedef struct {
    const qc_image_set *set;
    const qc_preprocess *pp;
    const qc_image_input *in;
    float *pixels;
    qc_status *status; /* per worker: its first failure */
    qc_error *errs;
} load_ctx;

static int load_item(void *arg, int worker, int64_t item)
{
    load_ctx *c = arg;
    const int64_t size = (int64_t)c->in->channels * c->in->height * c->in->width;
    qc_status st = qc_image_load_input(c->in, c->set->items[item].path, c->pp, c->pixels + item * size,
                                       &c->errs[worker]);
    if (st != QC_OK && c->status[worker] == QC_OK)
        c->status[worker] = st;
    return (int)st;
}

qc_status qc_eval_load_images(const qc_image_set *set, const qc_preprocess *pp, int64_t n,
                              const qc_image_input *in, int threads, float *pixels, qc_error *err)
{
    load_ctx c = {.set = set, .pp = pp, .in = in, .pixels = pixels};
    c.status = calloc((size_t)threads, sizeof *c.status);
    c.errs = calloc((size_t)threads, sizeof *c.errs);
    qc_status st = QC_OK;
    if (!c.status || !c.errs)
        st = qc_fail(err, QC_ERR_IO, "out of memory");
    else if (qc_parallel_for(threads, n, load_item, &c) != 0)
        for (int t = 0; t < threads; t++)
            if (c.status[t] != QC_OK) {
                st = qc_fail(err, c.status[t], "%s", c.errs[t].msg);
                break;
            }
    free(c.status);
    free(c.errs);
    return st;
}

/* ---- timing -------------------------------------------------------------------------------- */

static double wall_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
    qc_eval_clock clocks[QC_EVAL_MAX_CLOCKS];
    double last[QC_EVAL_MAX_CLOCKS];
    int n;
    int64_t run;
} time_ctx;

/* called on each worker before the loop: the first run starts after the last of them */
static qc_status time_start(void *ctx, int worker, qc_exec *x, qc_error *err)
{
    time_ctx *c = ctx;
    (void)worker;
    (void)x;
    (void)err;
    for (int k = 0; k < c->n; k++)
        c->last[k] = c->clocks[k].clock();
    return QC_OK;
}

static qc_status time_step(void *ctx, const int64_t *indices, int64_t count, qc_error *err)
{
    time_ctx *c = ctx;
    (void)indices;
    (void)count;
    (void)err;
    for (int k = 0; k < c->n; k++) {
        double now = c->clocks[k].clock();
        c->clocks[k].seconds[c->run] = now - c->last[k];
        c->last[k] = now;
    }
    c->run++;
    return QC_OK;
}

qc_status qc_eval_time(const qc_graph *g, const qc_pass_inputs *in, int threads, int64_t warmup,
                       int64_t batch, int64_t runs, double (*clock)(void), double *seconds, qc_error *err)
{
    qc_eval_clock c = {.clock = clock ? clock : wall_clock, .seconds = seconds};
    return qc_eval_time_clocks(g, in, threads, warmup, batch, runs, &c, 1, err);
}

qc_status qc_eval_time_clocks(const qc_graph *g, const qc_pass_inputs *in, int threads, int64_t warmup,
                              int64_t batch, int64_t runs, const qc_eval_clock *clocks, int n_clocks,
                              qc_error *err)
{
    if (threads < 1 || batch < 1 || runs < 1 || warmup < 0)
        return qc_fail(err, QC_ERR_USAGE, "threads, batch and runs must be positive");
    if (n_clocks < 1 || n_clocks > QC_EVAL_MAX_CLOCKS)
        return qc_fail(err, QC_ERR_USAGE, "1 to %d clocks, not %d", QC_EVAL_MAX_CLOCKS, n_clocks);
    /* threads go to inputs; with fewer inputs in flight than threads, the spare ones go to
     * the operators of each input (intra-op threads) */
    const int images = batch < threads ? (int)batch : threads;
    qc_exec **execs = calloc((size_t)images, sizeof *execs);
    qc_status st = execs ? QC_OK : qc_fail(err, QC_ERR_IO, "out of memory");
    for (int t = 0; t < images && st == QC_OK; t++)
        if (!(execs[t] = qc_exec_create(g)))
            st = qc_fail(err, QC_ERR_IO, "out of memory");
        else
            st = qc_exec_set_threads(execs[t], threads / images + (t < threads % images), err);
    threads = images;
    /* the warm-up on the same executors: their buffers, the caches */
    qc_pass_inputs many = *in;
    many.n = warmup;
    qc_gather_options o = {.limit = INT64_MAX, .batch = warmup, .shard_n = 1, .threads = threads};
    qc_pass_hooks h = {.group = 1, .execs = execs};
    if (st == QC_OK && warmup > 0)
        st = qc_pass_run(g, &many, &o, &h, err);
    time_ctx c = {.n = n_clocks};
    for (int k = 0; k < n_clocks; k++)
        c.clocks[k] = (qc_eval_clock){clocks[k].clock ? clocks[k].clock : wall_clock, clocks[k].seconds};
    many.n = batch * runs;
    o.batch = batch;
    h.ctx = &c;
    h.start = time_start;
    h.step_end = time_step;
    if (st == QC_OK)
        st = qc_pass_run(g, &many, &o, &h, err);
    for (int t = 0; execs && t < threads; t++)
        qc_exec_destroy(execs[t]);
    free(execs);
    return st;
}

int qc_topk_count(qc_topk_counts *c, const float *logits, int classes, int label)
{
    int top[QC_EVAL_TOP_K], k = classes < QC_EVAL_TOP_K ? classes : QC_EVAL_TOP_K;
    qc_top_k(logits, classes, k, top);
    c->images++;
    if (label >= 0) {
        c->labelled++;
        c->top1 += top[0] == label;
        for (int j = 0; j < k; j++)
            c->top5 += top[j] == label;
    }
    return top[0];
}
