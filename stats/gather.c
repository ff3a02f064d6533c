/* gather.c — statistics of a model over an image set: one FP32 pass, each image alone (batch
 * 1), one executor and one accumulator per thread. A worker takes whole groups of
 * QC_STATS_GROUP images, fixed by index in the sorted list, and flushes its sums after each,
 * so the result does not depend on the threads, the batch or how the groups were sharded. */
#include <stdlib.h>
#include <string.h>

#include "stats-impl.h"

typedef struct {
    qc_status status;
    qc_error err;
    int n_skipped;
    qc_error *skipped; /* QC_STATS_GROUP messages: the images left out by skip_bad */
} group_result;

typedef struct {
    const qc_graph *g;
    const qc_image_set *set;
    const qc_preprocess *pp;
    const int64_t *sel;   /* indices into set->items of this shard's images, by group */
    const int64_t *group; /* group k is sel[group[k]] … sel[group[k + 1] − 1] */
    int64_t first;        /* the step's first group */
    bool skip_bad;
    qc_image_input in;    /* the model's input: channels, size and layout */
    qc_exec **execs;
    qc_stats **workers;
    float **pixels;
    group_result *results; /* by group of the step */
} gather_ctx;

/* One group of images, on one worker, in order; then the worker's sums are flushed. */
static int gather_group(void *arg, int worker, int64_t item)
{
    gather_ctx *c = arg;
    group_result *r = &c->results[item];
    qc_stats *w = c->workers[worker];
    r->status = QC_OK;
    r->n_skipped = 0;
    for (int64_t k = c->group[c->first + item]; k < c->group[c->first + item + 1]; k++) {
        const qc_image_item *img = &c->set->items[c->sel[k]];
        r->status = qc_image_load_input(&c->in, img->path, c->pp, c->pixels[worker], &r->err);
        if (r->status != QC_OK && c->skip_bad) {
            r->skipped[r->n_skipped++] = r->err;
            r->status = QC_OK;
            continue;
        }
        if (r->status != QC_OK)
            return 0;
        qc_value in = qc_value_f32(4, c->in.dims, c->pixels[worker]);
        qc_stats_observe_inputs(w, c->g, &in, 1);
        r->status = qc_exec_run(c->execs[worker], &in, 1, &r->err);
        if (r->status == QC_OK && w->status != QC_OK)
            r->status = qc_fail(&r->err, w->status, "%s (image '%s')", w->err.msg, img->path);
        if (r->status != QC_OK)
            return 0;
        qc_stats_add_image(w, img->rel);
    }
    qc_stats_flush(w);
    if (w->status != QC_OK)
        r->status = qc_fail(&r->err, w->status, "%s", w->err.msg);
    return 0;
}

qc_status qc_stats_gather(const qc_graph *g, const qc_image_set *set, const qc_preprocess *pp,
                          const qc_stats_options *so, const qc_gather_options *o,
                          qc_stats **out, qc_error *err)
{
    *out = NULL;
    qc_image_input model_in;
    qc_status st = qc_image_input_of(g, g->name, "stats", false, &model_in, err);
    if (st != QC_OK)
        return st;
    if (o->threads < 1 || o->batch < 1 || o->shard_n < 1 || o->shard_i < 0 ||
        o->shard_i >= o->shard_n)
        return qc_fail(err, QC_ERR_USAGE, "threads, batch and shard must be positive");
    /* A shard does not know which images the others left out: the merge could not check
     * that every image was counted once. */
    if (o->skip_bad && o->shard_n > 1)
        return qc_fail(err, QC_ERR_USAGE, "skipping bad images does not work with shards");
    gather_ctx c = {.g = g, .set = set, .pp = pp, .in = model_in, .skip_bad = o->skip_bad};
    const int threads = o->threads;
    const int64_t step = (o->batch + QC_STATS_GROUP - 1) / QC_STATS_GROUP; /* groups per step */
    qc_status status = QC_OK;
    qc_stats *root = NULL;
    int64_t *sel = NULL, *group = NULL;

    /* The images come in groups of QC_STATS_GROUP by index in the sorted list; the shard is
     * the groups whose number is shard_i modulo shard_n. */
    int64_t n = set->n_items < o->limit ? set->n_items : o->limit;
    int64_t n_groups = (n + QC_STATS_GROUP - 1) / QC_STATS_GROUP, n_sel = 0, n_mine = 0;
    uint64_t digest = 0;
    sel = malloc((size_t)(n ? n : 1) * sizeof *sel);
    group = malloc((size_t)(n_groups + 1) * sizeof *group);
    if (!sel || !group) {
        status = qc_fail(err, QC_ERR_IO, "out of memory");
        goto end;
    }
    for (int64_t i = 0; i < n; i++) {
        const char *rel = set->items[i].rel;
        digest += qc_fnv1a64(rel, strlen(rel), QC_FNV_BASIS);
        if (i % QC_STATS_GROUP == 0 && (i / QC_STATS_GROUP) % o->shard_n == o->shard_i)
            group[n_mine++] = n_sel;
        if ((i / QC_STATS_GROUP) % o->shard_n == o->shard_i)
            sel[n_sel++] = i;
    }
    group[n_mine] = n_sel;

    if ((status = qc_stats_create(g, so, &root, err)) != QC_OK)
        goto end;
    c.sel = sel;
    c.group = group;
    c.execs = calloc((size_t)threads, sizeof *c.execs);
    c.workers = calloc((size_t)threads, sizeof *c.workers);
    c.pixels = calloc((size_t)threads, sizeof *c.pixels);
    c.results = calloc((size_t)step, sizeof *c.results);
    if (!c.execs || !c.workers || !c.pixels || !c.results) {
        status = qc_fail(err, QC_ERR_IO, "out of memory");
        goto end;
    }
    for (int64_t i = 0; i < step; i++)
        if (!(c.results[i].skipped = malloc(QC_STATS_GROUP * sizeof *c.results[i].skipped))) {
            status = qc_fail(err, QC_ERR_IO, "out of memory");
            goto end;
        }
    for (int k = 0; k < threads; k++) {
        c.execs[k] = qc_exec_create(g);
        c.workers[k] = qc_stats_clone_empty(root);
        c.pixels[k] = malloc((size_t)c.in.channels * (size_t)c.in.height * (size_t)c.in.width *
                             sizeof(float));
        if (!c.execs[k] || !c.workers[k] || !c.pixels[k]) {
            status = qc_fail(err, QC_ERR_IO, "out of memory");
            goto end;
        }
        qc_exec_set_observer(c.execs[k], qc_stats_observer, c.workers[k]);
    }

    for (int64_t first = 0; first < n_mine; first += step) {
        int64_t count = n_mine - first < step ? n_mine - first : step;
        c.first = first;
        qc_parallel_for(threads, count, gather_group, &c);
        for (int64_t i = 0; i < count; i++) {
            if (c.results[i].status != QC_OK) {
                status = qc_fail(err, c.results[i].status, "%s", c.results[i].err.msg);
                goto end;
            }
            for (int k = 0; k < c.results[i].n_skipped && o->on_skip; k++)
                o->on_skip(o->skip_ctx, c.results[i].skipped[k].msg);
        }
        if (o->progress)
            o->progress(o->progress_ctx, group[first + count], n_sel);
    }
    for (int k = 0; k < threads && status == QC_OK; k++)
        status = qc_stats_merge(root, c.workers[k], err);
    if (status != QC_OK)
        goto end;
    if (root->images == 0 && n_sel > 0) {
        status = qc_fail(err, QC_ERR_INPUT, "no image of '%s' could be read", set->root);
        goto end;
    }
    if (o->shard_n > 1) {
        root->shard_count = o->shard_n;
        root->shards = malloc(sizeof *root->shards);
        if (!root->shards) {
            status = qc_fail(err, QC_ERR_IO, "out of memory");
            goto end;
        }
        root->shards[0] = o->shard_i;
        root->n_shards = 1;
        root->shard_images = n;
        root->shard_digest = digest;
    }
    *out = root;
    root = NULL;

end:
    if (c.execs)
        for (int k = 0; k < threads; k++) {
            qc_exec_destroy(c.execs[k]);
            if (c.workers)
                qc_stats_destroy(c.workers[k]);
            if (c.pixels)
                free(c.pixels[k]);
        }
    free(c.execs);
    free(c.workers);
    free(c.pixels);
    if (c.results)
        for (int64_t i = 0; i < step; i++)
            free(c.results[i].skipped);
    free(c.results);
    free(sel);
    free(group);
    qc_stats_destroy(root);
    return status;
}
