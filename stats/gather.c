/* gather.c — one pass of a graph over inputs, and the statistics gathered on it.
 *
 * The pass (qc_pass_run): each input alone (batch 1), one executor per thread. A worker takes
 * whole groups of inputs, fixed by index in the list, and the caller's hooks see every input
 * and the end of every group on that worker, then the end of each step on the calling thread
 * in order; so a result kept by group or by index does not depend on the threads, the batch
 * or how the groups were sharded.
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
    qc_image_input img;   /* with images: the model's input (channels, size, layout) */
    qc_exec **execs;
    float **pixels;
    group_result *results; /* by group of the step */
} pass_ctx;

/* Input k of the pass as a value: decoded into the worker's buffer, or in memory. */
static qc_status input_value(pass_ctx *c, int worker, int64_t k, qc_value *v, qc_error *err)
{
    const qc_pass_inputs *in = c->in;
    const float *x;
    if (in->set) {
        qc_status st = qc_image_load_input(&c->img, in->set->items[k].path, in->pp, c->pixels[worker], err);
        if (st != QC_OK)
            return st;
        x = c->pixels[worker];
    } else {
        x = in->tensors + (in->cycle > 0 ? k % in->cycle : k) * in->stride;
    }
    *v = qc_value_f32(c->rank, c->dims, (float *)x);
    return QC_OK;
}

/* One group of inputs, on one worker, in order; then the hook of the group's end. */
static int pass_group(void *arg, int worker, int64_t item)
{
    pass_ctx *c = arg;
    const qc_pass_hooks *h = c->h;
    group_result *r = &c->results[item];
    const int64_t begin = c->group[c->first], end = c->group[c->first + item + 1];
    r->status = QC_OK;
    for (int64_t k = c->group[c->first + item]; k < end && r->status == QC_OK; k++) {
        const int64_t index = c->sel[k], slot = k - begin;
        qc_value in;
        qc_error load_err;
        qc_status st = input_value(c, worker, index, &in, &load_err);
        if (st != QC_OK && !h->keep_unreadable) {
            r->status = st;
            r->err = load_err;
        } else if (st != QC_OK) {
            r->status = h->unreadable(h->ctx, slot, index, st, &load_err, &r->err);
        } else {
            if (h->before)
                h->before(h->ctx, worker, index, &in);
            r->status = qc_exec_run(c->execs[worker], &in, 1, &r->err);
            if (r->status == QC_OK && h->after)
                r->status = h->after(h->ctx, worker, slot, index, c->execs[worker], &r->err);
        }
    }
    if (r->status == QC_OK && h->group_end)
        r->status = h->group_end(h->ctx, worker, &r->err);
    return 0;
}

/* The input's shape: the given one, or for images the model's image input with N = 1
 * (N x C x H x W, or channels-last N x H x W x C: qc_image_input_of). */
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
    return QC_OK;
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

static qc_status pass_alloc(pass_ctx *c, int threads, int64_t step, qc_error *err)
{
    c->execs = calloc((size_t)threads, sizeof *c->execs);
    c->pixels = calloc((size_t)threads, sizeof *c->pixels);
    c->results = calloc((size_t)step, sizeof *c->results);
    if (!c->execs || !c->pixels || !c->results)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    for (int k = 0; k < threads; k++) {
        c->execs[k] = c->h->execs ? c->h->execs[k] : qc_exec_create(c->g);
        c->pixels[k] = c->in->set ? malloc((size_t)c->size * sizeof(float)) : NULL;
        if (!c->execs[k] || (c->in->set && !c->pixels[k]))
            return qc_fail(err, QC_ERR_IO, "out of memory");
        qc_status st = c->h->start ? c->h->start(c->h->ctx, k, c->execs[k], err) : QC_OK;
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
    const int threads = o->threads;
    const int64_t group_size = h->group ? h->group : QC_STATS_GROUP;
    const int64_t step = (o->batch + group_size - 1) / group_size; /* groups per step */
    int64_t *sel = NULL, *group = NULL, n_sel = 0, n_groups = 0;
    status = pass_select(in, o, group_size, &sel, &n_sel, &group, &n_groups, err);
    c.sel = sel;
    c.group = group;
    if (status != QC_OK || (status = pass_alloc(&c, threads, step, err)) != QC_OK)
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
        }
    free(c.execs);
    free(c.pixels);
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

static qc_status gather_after(void *ctx, int worker, int64_t slot, int64_t index, qc_exec *x, qc_error *err)
{
    qc_stats_pass *c = ctx;
    qc_stats *w = c->workers[worker];
    char buf[32];
    const char *name = input_name(c->in, index, buf, sizeof buf);
    (void)slot;
    (void)x;
    if (w->status != QC_OK)
        return qc_fail(err, w->status, "%s (%s '%s')", w->err.msg, c->in->set ? "image" : "input", name);
    qc_stats_add_image(w, name);
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
    qc_stats_flush(w);
    return w->status != QC_OK ? qc_fail(err, w->status, "%s", w->err.msg) : QC_OK;
}

qc_pass_hooks qc_stats_hooks(qc_stats_pass *p)
{
    return (qc_pass_hooks){.ctx = p, .start = gather_start, .before = gather_before, .after = gather_after,
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
    /* A shard does not know which images the others left out: the merge could not check
     * that every image was counted once. */
    if (o->skip_bad && o->shard_n > 1)
        return qc_fail(err, QC_ERR_USAGE, "skipping bad images does not work with shards");
    const int threads = o->threads > 0 ? o->threads : 1;
    const int64_t slots = ((o->batch > 0 ? o->batch : 1) + QC_STATS_GROUP - 1) / QC_STATS_GROUP * QC_STATS_GROUP;
    qc_stats_pass c = {.g = g, .in = in, .on_skip = o->on_skip, .skip_ctx = o->skip_ctx};
    qc_stats *root = NULL;
    qc_status status = qc_stats_create(g, so, &root, err);
    if (status == QC_OK && o->skip_bad && (!(c.skipped = calloc((size_t)slots, sizeof *c.skipped)) ||
                                           !(c.why = calloc((size_t)slots, sizeof *c.why))))
        status = qc_fail(err, QC_ERR_IO, "out of memory");
    if (status == QC_OK && !(c.workers = calloc((size_t)threads, sizeof *c.workers)))
        status = qc_fail(err, QC_ERR_IO, "out of memory");
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
    free(c.skipped);
    free(c.why);
    if (status == QC_OK) {
        *out = root;
        root = NULL;
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
