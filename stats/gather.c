/* gather.c — one pass of a graph over inputs, and the statistics gathered on it.
 *
 * The pass (qc_pass_run): each input alone (batch 1), one executor per thread. A worker takes
 * whole groups of inputs, fixed by index in the list, and the caller's hooks see every input
 * and the end of every group on that worker, then the end of each step on the calling thread
 * in order; so a result kept by group or by index does not depend on the threads, the batch
 * or how the groups were sharded.
 *
 * A model with a fixed batch B above 1 runs B inputs at once: a worker fills the rows of its
 * batch from its group in order (unreadable images left out), fills the rest of the last
 * batch of a group with copies of its last real input, and tells the hooks which rows are
 * real; results come out per input as above, so the padding is never seen. Copies rather
 * than zeros: a padding row then holds values real data reaches, so an op that mixes rows
 * (a Reshape of the batch into other dimensions) or divides by its input sees nothing new.
 *
 * Statistics (qc_stats_gather): one accumulator per thread, flushed after each group of
 * QC_STATS_GROUP images and merged at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats-impl.h"

typedef struct {
    qc_status status;
    qc_error err;
} group_result;

typedef struct {
    const qc_graph *g;
    const qc_pass_inputs *in;
    const qc_pass_hooks *h;
    const int64_t *sel;   /* indices of this shard's inputs, by group */
    const int64_t *group; /* group k is sel[group[k]] … sel[group[k + 1] − 1] */
    int64_t first;        /* the step's first group */
    int rank;
    int64_t dims[QC_MAX_RANK], size; /* one input's shape and values */
    int64_t batch;        /* inputs per run: the model's fixed batch, or 1 */
    int64_t run_dims[QC_MAX_RANK];   /* dims with N = batch */
    int64_t **rows;       /* per worker: the step slots, then the indices, of its batch's rows */
    qc_image_input img;   /* with images: the model's input (channels, size, layout) */
    qc_exec **execs;
    float **pixels;
    group_result *results; /* by group of the step */
} pass_ctx;

/* Input k in memory (a tensor of the caller's, or its copy in a batch). */
static const float *tensor_of(const qc_pass_inputs *in, int64_t k)
{
    return in->tensors + (in->cycle > 0 ? k % in->cycle : k) * in->stride;
}

/* Input k into dst (a worker's buffer, or one row of its batch), *v its value there. */
static qc_status input_row(pass_ctx *c, int64_t k, float *dst, qc_value *v, qc_error *err)
{
    const qc_pass_inputs *in = c->in;
    if (in->set) {
        qc_status st = qc_image_load_input(&c->img, in->set->items[k].path, in->pp, dst, err);
        if (st != QC_OK)
            return st;
    } else {
        memcpy(dst, tensor_of(in, k), sizeof(float) * (size_t)c->size);
    }
    *v = qc_value_f32(c->rank, c->dims, dst);
    return QC_OK;
}

/* Input k of the pass as a value: decoded into the worker's buffer, or in memory. */
static qc_status input_value(pass_ctx *c, int worker, int64_t k, qc_value *v, qc_error *err)
{
    if (c->in->set)
        return input_row(c, k, c->pixels[worker], v, err);
    *v = qc_value_f32(c->rank, c->dims, (float *)tensor_of(c->in, k));
    return QC_OK;
}

/* An input that cannot be read: the hook's, or the end of the pass. */
static void input_failed(pass_ctx *c, int64_t slot, int64_t index, qc_status st, const qc_error *why,
                         group_result *r)
{
    const qc_pass_hooks *h = c->h;
    if (h->keep_unreadable) {
        r->status = h->unreadable(h->ctx, slot, index, st, why, &r->err);
    } else {
        r->status = st;
        r->err = *why;
    }
}

/* Input k alone; returns the next k. */
static int64_t pass_one(pass_ctx *c, int worker, int64_t k, int64_t begin, group_result *r)
{
    const qc_pass_hooks *h = c->h;
    const int64_t index = c->sel[k], slot = k - begin;
    qc_value in;
    qc_error load_err;
    qc_status st = input_value(c, worker, index, &in, &load_err);
    if (st != QC_OK) {
        input_failed(c, slot, index, st, &load_err, r);
        return k + 1;
    }
    if (h->rows && c->dims[0] > 1) /* a whole batch in one input: every row real */
        h->rows(h->ctx, worker, c->dims[0], c->dims[0]);
    if (h->before)
        h->before(h->ctx, worker, index, &in);
    r->status = qc_exec_run(c->execs[worker], &in, 1, &r->err);
    if (r->status == QC_OK && h->after)
        r->status = h->after(h->ctx, worker, slot, index, 0, c->execs[worker], &r->err);
    return k + 1;
}

/* Up to c->batch readable inputs from k on (before end) as one run, the rows after the last
 * real one copies of it; returns the next k. */
static int64_t pass_batch(pass_ctx *c, int worker, int64_t k, int64_t end, int64_t begin, group_result *r)
{
    const qc_pass_hooks *h = c->h;
    float *buf = c->pixels[worker];
    int64_t *slot = c->rows[worker], *index = slot + c->batch, n = 0;
    for (; k < end && n < c->batch && r->status == QC_OK; k++) {
        qc_value in;
        qc_error load_err;
        qc_status st = input_row(c, c->sel[k], buf + n * c->size, &in, &load_err);
        if (st != QC_OK) {
            input_failed(c, k - begin, c->sel[k], st, &load_err, r);
            continue;
        }
        if (h->before)
            h->before(h->ctx, worker, c->sel[k], &in);
        slot[n] = k - begin;
        index[n++] = c->sel[k];
    }
    if (n == 0 || r->status != QC_OK)
        return k;
    for (int64_t p = n; p < c->batch; p++)
        memcpy(buf + p * c->size, buf + (n - 1) * c->size, sizeof(float) * (size_t)c->size);
    if (h->rows)
        h->rows(h->ctx, worker, n, c->batch);
    qc_value all = qc_value_f32(c->rank, c->run_dims, buf);
    r->status = qc_exec_run(c->execs[worker], &all, 1, &r->err);
    for (int64_t i = 0; i < n && r->status == QC_OK && h->after; i++)
        r->status = h->after(h->ctx, worker, slot[i], index[i], i, c->execs[worker], &r->err);
    return k;
}

/* One group of inputs, on one worker, in order; then the hook of the group's end. */
static int pass_group(void *arg, int worker, int64_t item)
{
    pass_ctx *c = arg;
    const qc_pass_hooks *h = c->h;
    group_result *r = &c->results[item];
    const int64_t begin = c->group[c->first], end = c->group[c->first + item + 1];
    r->status = QC_OK;
    for (int64_t k = c->group[c->first + item]; k < end && r->status == QC_OK;)
        k = c->batch > 1 ? pass_batch(c, worker, k, end, begin, r) : pass_one(c, worker, k, begin, r);
    if (r->status == QC_OK && h->group_end)
        r->status = h->group_end(h->ctx, worker, &r->err);
    return 0;
}

/* The model's fixed batch when the inputs are single images or rows, else 1 (an input that is a
 * whole batch, or a model without a fixed batch). */
static int64_t inputs_per_run(const qc_graph *g, const qc_pass_inputs *in)
{
    return in->set || !in->dims || in->dims[0] == 1 ? qc_input_batch(g) : 1;
}

/* The input's shape: the given one, or for images the model's image input with N = 1
 * (N x C x H x W, or channels-last N x H x W x C: qc_image_input_of); and the batch: the
 * model's fixed one when the inputs are single images, else 1. */
static qc_status pass_shape(const qc_graph *g, const qc_pass_inputs *in, pass_ctx *c, qc_error *err)
{
    if (in->set || !in->dims) {
        qc_status st = qc_image_input_of(g, g->name, "a pass over images", false, &c->img, err);
        if (st != QC_OK)
            return st;
        c->rank = 4;
        memcpy(c->dims, c->img.dims, sizeof(int64_t) * 4);
    } else {
        if (in->rank < 1 || in->rank > QC_MAX_RANK)
            return qc_fail(err, QC_ERR_USAGE, "bad input rank %d", in->rank);
        c->rank = in->rank;
        memcpy(c->dims, in->dims, sizeof(int64_t) * (size_t)in->rank);
    }
    c->size = 1;
    for (int d = 0; d < c->rank; d++)
        c->size *= c->dims[d];
    c->batch = inputs_per_run(g, in);
    memcpy(c->run_dims, c->dims, sizeof(int64_t) * (size_t)c->rank);
    c->run_dims[0] = c->batch;
    return QC_OK;
}

int64_t qc_pass_group_size(const qc_graph *g, const qc_pass_inputs *in, const qc_pass_hooks *h)
{
    int64_t size = h->group ? h->group : QC_STATS_GROUP;
    const int64_t batch = inputs_per_run(g, in);
    /* groups with state of their own keep their size (statistics' flushes); others grow to
     * whole batches */
    if (batch > 1 && !h->group_end && size % batch != 0)
        size = (size + batch - 1) / batch * batch;
    return size;
}

int64_t qc_pass_count(const qc_pass_inputs *in, int64_t limit)
{
    int64_t n = in->set ? in->set->n_items : in->n;
    return n < limit ? n : limit;
}

/* The shard's inputs by group: sel (n_sel of them) and the group starts (n_groups + 1). */
static qc_status pass_select(const qc_pass_inputs *in, const qc_gather_options *o, int64_t group_size,
                             int64_t **sel, int64_t *n_sel, int64_t **group, int64_t *n_groups, qc_error *err)
{
    const int64_t n = qc_pass_count(in, o->limit), all = (n + group_size - 1) / group_size;
    *sel = malloc((size_t)(n ? n : 1) * sizeof **sel);
    *group = malloc((size_t)(all + 1) * sizeof **group);
    if (!*sel || !*group)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    *n_sel = *n_groups = 0;
    for (int64_t i = 0; i < n; i++) {
        if ((i / group_size) % o->shard_n != o->shard_i)
            continue;
        if (i % group_size == 0)
            (*group)[(*n_groups)++] = *n_sel;
        (*sel)[(*n_sel)++] = i;
    }
    (*group)[*n_groups] = *n_sel;
    return QC_OK;
}

/* threads: the workers, one input group each at a time; all_threads of them in all, the
 * spare ones given to the workers' operators (intra-op threads) */
static qc_status pass_alloc(pass_ctx *c, int threads, int all_threads, int64_t step, qc_error *err)
{
    c->execs = calloc((size_t)threads, sizeof *c->execs);
    c->pixels = calloc((size_t)threads, sizeof *c->pixels);
    c->rows = calloc((size_t)threads, sizeof *c->rows);
    c->results = calloc((size_t)step, sizeof *c->results);
    if (!c->execs || !c->pixels || !c->rows || !c->results)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    const bool buffer = c->in->set || c->batch > 1; /* decoded images, or a batch's rows */
    for (int k = 0; k < threads; k++) {
        c->execs[k] = c->h->execs ? c->h->execs[k] : qc_exec_create(c->g);
        c->pixels[k] = buffer ? malloc((size_t)(c->size * c->batch) * sizeof(float)) : NULL;
        c->rows[k] = c->batch > 1 ? malloc((size_t)(2 * c->batch) * sizeof(int64_t)) : NULL;
        if (!c->execs[k] || (buffer && !c->pixels[k]) || (c->batch > 1 && !c->rows[k]))
            return qc_fail(err, QC_ERR_IO, "out of memory");
        qc_status st = c->h->execs ? QC_OK
                                   : qc_exec_set_threads(c->execs[k], all_threads / threads +
                                                                          (k < all_threads % threads), err);
        if (st == QC_OK && c->h->start)
            st = c->h->start(c->h->ctx, k, c->execs[k], err);
        if (st != QC_OK)
            return st;
    }
    return QC_OK;
}

qc_status qc_pass_run(const qc_graph *g, const qc_pass_inputs *in, const qc_gather_options *o,
                      const qc_pass_hooks *h, qc_error *err)
{
    pass_ctx c = {.g = g, .in = in, .h = h};
    qc_status status = pass_shape(g, in, &c, err);
    if (status != QC_OK)
        return status;
    if (o->threads < 1 || o->batch < 1 || o->shard_n < 1 || o->shard_i < 0 || o->shard_i >= o->shard_n ||
        h->group < 0 || (h->keep_unreadable && !h->unreadable))
        return qc_fail(err, QC_ERR_USAGE, "threads, batch and shard must be positive");
    const int64_t group_size = qc_pass_group_size(g, in, h);
    const int64_t step = (o->batch + group_size - 1) / group_size; /* groups per step */
    int64_t *sel = NULL, *group = NULL, n_sel = 0, n_groups = 0;
    status = pass_select(in, o, group_size, &sel, &n_sel, &group, &n_groups, err);
    /* threads go to input groups; with fewer groups in flight than threads (one image, say),
     * the spare ones go to the operators of each group's executor */
    const int64_t in_flight = step < n_groups ? step : n_groups;
    const int threads = h->execs || in_flight < 1 || in_flight >= o->threads ? o->threads : (int)in_flight;
    c.sel = sel;
    c.group = group;
    if (status != QC_OK || (status = pass_alloc(&c, threads, o->threads, step, err)) != QC_OK)
        goto end;
    for (int64_t first = 0; first < n_groups; first += step) {
        int64_t count = n_groups - first < step ? n_groups - first : step;
        c.first = first;
        qc_parallel_for(threads, count, pass_group, &c);
        for (int64_t i = 0; i < count; i++)
            if (c.results[i].status != QC_OK) {
                status = qc_fail(err, c.results[i].status, "%s", c.results[i].err.msg);
                goto end;
            }
        const int64_t begin = group[first], end = group[first + count];
        if (h->step_end && (status = h->step_end(h->ctx, sel + begin, end - begin, err)) != QC_OK)
            goto end;
        if (o->progress)
            o->progress(o->progress_ctx, end, n_sel);
    }
end:
    if (c.execs)
        for (int k = 0; k < threads; k++) {
            if (!h->execs)
                qc_exec_destroy(c.execs[k]);
            if (c.pixels)
                free(c.pixels[k]);
            if (c.rows)
                free(c.rows[k]);
        }
    free(c.execs);
    free(c.pixels);
    free(c.rows);
    free(c.results);
    free(sel);
    free(group);
    return status;
}

/* ---- statistics ---------------------------------------------------------------------------- */

static qc_status gather_start(void *ctx, int worker, qc_exec *x, qc_error *err)
{
    qc_stats_pass *c = ctx;
    (void)err;
    qc_exec_set_observer(x, qc_stats_observer, c->workers[worker]);
    return QC_OK;
}

static void gather_before(void *ctx, int worker, int64_t index, const qc_value *in)
{
    qc_stats_pass *c = ctx;
    (void)index;
    qc_stats_observe_inputs(c->workers[worker], c->g, in, 1);
}

/* What the statistics record of input k: an image's relative path, or the caller's name. */
static const char *input_name(const qc_pass_inputs *in, int64_t k, char *buf, size_t size)
{
    if (in->set)
        return in->set->items[k].rel;
    if (in->names)
        return in->names[k];
    snprintf(buf, size, "input-%lld", (long long)k);
    return buf;
}

static void gather_rows(void *ctx, int worker, int64_t real, int64_t batch)
{
    qc_stats_pass *c = ctx;
    c->workers[worker]->batch_rows = batch;
    c->workers[worker]->real_rows = real;
}

static qc_status gather_after(void *ctx, int worker, int64_t slot, int64_t index, int64_t row, qc_exec *x,
                              qc_error *err)
{
    qc_stats_pass *c = ctx;
    qc_stats *w = c->workers[worker];
    char buf[32];
    const char *name = input_name(c->in, index, buf, sizeof buf);
    (void)slot;
    (void)row;
    (void)x;
    if (w->status != QC_OK)
        return qc_fail(err, w->status, "%s (%s '%s')", w->err.msg, c->in->set ? "image" : "input", name);
    qc_stats_add_image(w, name);
    if (c->groups) { /* one worker runs a whole group: its count is its own */
        c->group_of[worker] = index / QC_STATS_GROUP;
        c->groups->images[c->group_of[worker]]++;
    }
    return QC_OK;
}

/* With skip_bad, an image that cannot be read is left out of the statistics; why is kept by
 * its slot in the step and told in order at the step's end, so the warnings do not depend on
 * the threads. */
static qc_status gather_unreadable(void *ctx, int64_t slot, int64_t index, qc_status status,
                                   const qc_error *why, qc_error *err)
{
    qc_stats_pass *c = ctx;
    (void)index;
    (void)status;
    (void)err;
    c->skipped[slot] = true;
    c->why[slot] = *why;
    return QC_OK;
}

static qc_status gather_step_end(void *ctx, const int64_t *indices, int64_t count, qc_error *err)
{
    qc_stats_pass *c = ctx;
    (void)indices;
    (void)err;
    for (int64_t k = 0; k < count && c->skipped; k++)
        if (c->skipped[k]) {
            c->skipped[k] = false;
            c->n_skipped++;
            if (c->on_skip)
                c->on_skip(c->skip_ctx, c->why[k].msg);
        }
    return QC_OK;
}

static qc_status gather_group_end(void *ctx, int worker, qc_error *err)
{
    qc_stats_pass *c = ctx;
    qc_stats *w = c->workers[worker];
    if (c->groups && c->group_of[worker] >= 0) { /* the group's sums, before the flush adds them */
        qc_pending *row = c->groups->sums + c->group_of[worker] * c->groups->n_tensors;
        for (int i = 0; i < w->n_tensors; i++)
            if (w->tensors[i].role != QC_ROLE_WEIGHT)
                row[i] = w->tensors[i].pend[0];
        c->group_of[worker] = -1;
    }
    qc_stats_flush(w);
    return w->status != QC_OK ? qc_fail(err, w->status, "%s", w->err.msg) : QC_OK;
}

qc_pass_hooks qc_stats_hooks(qc_stats_pass *p)
{
    return (qc_pass_hooks){.ctx = p, .start = gather_start, .before = gather_before, .rows = gather_rows, .after = gather_after,
                           .group_end = gather_group_end, .step_end = gather_step_end,
                           .keep_unreadable = p->skipped != NULL, .unreadable = gather_unreadable,
                           .group = QC_STATS_GROUP};
}

/* A shard records which it is, of how many, over which image list. */
static qc_status mark_shard(qc_stats *root, const qc_pass_inputs *in, const qc_gather_options *o,
                            qc_error *err)
{
    const int64_t n = qc_pass_count(in, o->limit);
    uint64_t digest = 0;
    for (int64_t i = 0; i < n; i++) {
        char buf[32];
        const char *rel = input_name(in, i, buf, sizeof buf);
        digest += qc_fnv1a64(rel, strlen(rel), QC_FNV_BASIS);
    }
    root->shard_count = o->shard_n;
    root->shards = malloc(sizeof *root->shards);
    if (!root->shards)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    root->shards[0] = o->shard_i;
    root->n_shards = 1;
    root->shard_images = n;
    root->shard_digest = digest;
    return QC_OK;
}

qc_status qc_stats_gather_inputs(const qc_graph *g, const qc_pass_inputs *in, const qc_stats_options *so,
                                 const qc_gather_options *o, qc_stats **out, qc_error *err)
{
    *out = NULL;
    if (o->groups)
        *o->groups = NULL;
    /* A shard does not know which images the others left out: the merge could not check
     * that every image was counted once. */
    if (o->skip_bad && o->shard_n > 1)
        return qc_fail(err, QC_ERR_USAGE, "skipping bad images does not work with shards");
    const int threads = o->threads > 0 ? o->threads : 1;
    const int64_t slots = ((o->batch > 0 ? o->batch : 1) + QC_STATS_GROUP - 1) / QC_STATS_GROUP * QC_STATS_GROUP;
    qc_stats_pass c = {.g = g, .in = in, .on_skip = o->on_skip, .skip_ctx = o->skip_ctx};
    qc_stats *root = NULL;
    qc_status status = qc_stats_create(g, so, &root, err);
    if (status == QC_OK && o->groups &&
        !(*o->groups = c.groups = qc_group_table_create(root, qc_pass_count(in, o->limit))))
        status = qc_fail(err, QC_ERR_IO, "out of memory");
    if (status == QC_OK && o->skip_bad && (!(c.skipped = calloc((size_t)slots, sizeof *c.skipped)) ||
                                           !(c.why = calloc((size_t)slots, sizeof *c.why))))
        status = qc_fail(err, QC_ERR_IO, "out of memory");
    if (status == QC_OK && (!(c.workers = calloc((size_t)threads, sizeof *c.workers)) ||
                            !(c.group_of = malloc((size_t)threads * sizeof *c.group_of))))
        status = qc_fail(err, QC_ERR_IO, "out of memory");
    for (int k = 0; k < threads && c.group_of; k++)
        c.group_of[k] = -1;
    for (int k = 0; k < threads && status == QC_OK; k++)
        if (!(c.workers[k] = qc_stats_clone_empty(root)))
            status = qc_fail(err, QC_ERR_IO, "out of memory");
    qc_pass_hooks h = qc_stats_hooks(&c);
    if (status == QC_OK)
        status = qc_pass_run(g, in, o, &h, err);
    for (int k = 0; k < threads && status == QC_OK; k++)
        status = qc_stats_merge(root, c.workers[k], err);
    if (status == QC_OK && root->images == 0 && c.n_skipped > 0)
        status = qc_fail(err, QC_ERR_INPUT, "no image of '%s' could be read", in->set ? in->set->root : "the inputs");
    if (status == QC_OK && o->shard_n > 1)
        status = mark_shard(root, in, o, err);
    if (c.workers)
        for (int k = 0; k < threads; k++)
            qc_stats_destroy(c.workers[k]);
    free(c.workers);
    free(c.group_of);
    free(c.skipped);
    free(c.why);
    if (status == QC_OK) {
        *out = root;
        root = NULL;
    } else if (o->groups) {
        qc_group_table_destroy(*o->groups);
        *o->groups = NULL;
    }
    qc_stats_destroy(root);
    return status;
}

qc_status qc_stats_gather(const qc_graph *g, const qc_image_set *set, const qc_preprocess *pp,
                          const qc_stats_options *so, const qc_gather_options *o,
                          qc_stats **out, qc_error *err)
{
    qc_pass_inputs in = {.set = set, .pp = pp};
    return qc_stats_gather_inputs(g, &in, so, o, out, err);
}

int64_t qc_gather_count(const qc_gather_options *o, int64_t n_images)
{
    int64_t n = n_images < o->limit ? n_images : o->limit, mine = 0;
    for (int64_t i = 0; i < n; i++)
        mine += (i / QC_STATS_GROUP) % o->shard_n == o->shard_i;
    return mine;
}

bool qc_shard_parse(const char *text, int *i, int *n)
{
    char *end;
    long a = strtol(text, &end, 10);
    if (end == text || *end != '/')
        return false;
    const char *rest = end + 1;
    long b = strtol(rest, &end, 10);
    if (end == rest || *end || b < 1 || b > (1 << 20) || a < 0 || a >= b)
        return false;
    *i = (int)a;
    *n = (int)b;
    return true;
}
