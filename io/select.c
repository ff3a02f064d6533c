/* select.c — which images of a set a command reads: a reproducible class-balanced random
 * sample (--sample N --seed S), and the readable ones (--skip-bad).
 *
 * The sample, step by step (every random number comes from one SplitMix64 stream whose state
 * starts at the seed, drawn in exactly this order):
 *
 *   1. Classes are the items' labels (an ImageFolder sub-folder, or a labels file's label);
 *      items without a label (a flat folder) form one class of their own. Classes are taken
 *      in ascending label order, the unlabelled one first.
 *   2. N at or above the set's size keeps every image and draws nothing.
 *   3. The classes are shuffled (Fisher-Yates, from the last position down: position i swaps
 *      with below(i + 1)). This order only decides who gets a remainder.
 *   4. Quotas by water-filling: while images remain to give, each class that still has images
 *      not given gets share = remaining / (such classes), capped by what it has; when the
 *      share is 0, the first `remaining` such classes in the shuffled order get one more
 *      each. So every class gets floor(N / K) or one more, a class smaller than that gives
 *      all its images, and what it lacks is spread the same way over the others.
 *   5. Each class in ascending label order picks its quota q by a partial Fisher-Yates over
 *      its items in sorted order: for i = 0 … q − 1, item i swaps with item
 *      i + below(count − i); the first q are kept.
 *   6. The kept items stay in the set's sorted order.
 *
 * below(m) is uniform in [0, m): 64-bit draws r below 2^64 mod m are redrawn, then r mod m
 * (no index is favoured, unlike a bare r mod m).
 */
#include <stdlib.h>
#include <string.h>

#include "image-impl.h"

/* SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014). */
uint64_t qc_random_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

uint64_t qc_random_below(uint64_t *state, uint64_t m)
{
    uint64_t reject = (0 - m) % m; /* 2^64 mod m */
    uint64_t r;
    do
        r = qc_random_next(state);
    while (r < reject);
    return r % m;
}

/* One class: its label and its items' indices in the set, in sorted order. */
typedef struct {
    int label;
    int64_t count, quota;
    int64_t *items;
} sample_class;

static int compare_labels(const void *a, const void *b)
{
    int x = ((const sample_class *)a)->label, y = ((const sample_class *)b)->label;
    return (x > y) - (x < y);
}

/* Step 1: the classes in ascending label order, each with its items. */
static sample_class *group_by_label(const qc_image_set *set, int *n_classes, int64_t **storage)
{
    sample_class *classes = calloc((size_t)set->n_items, sizeof *classes);
    int64_t *items = malloc((size_t)set->n_items * sizeof *items);
    int n = 0;
    if (!classes || !items)
        goto fail;
    for (int i = 0; i < set->n_items; i++) {
        int k = 0;
        while (k < n && classes[k].label != set->items[i].label)
            k++;
        if (k == n)
            classes[n++].label = set->items[i].label;
        classes[k].count++;
    }
    qsort(classes, (size_t)n, sizeof *classes, compare_labels);
    int64_t at = 0;
    for (int k = 0; k < n; k++) {
        classes[k].items = items + at;
        at += classes[k].count;
        classes[k].count = 0;
    }
    for (int i = 0; i < set->n_items; i++) {
        sample_class key = {.label = set->items[i].label};
        sample_class *c = bsearch(&key, classes, (size_t)n, sizeof *classes, compare_labels);
        c->items[c->count++] = i;
    }
    *n_classes = n;
    *storage = items;
    return classes;
fail:
    free(classes);
    free(items);
    return NULL;
}

/* Steps 3 and 4. */
static bool give_quotas(sample_class *classes, int n, int64_t want, uint64_t *state)
{
    int *order = malloc((size_t)n * sizeof *order);
    if (!order)
        return false;
    for (int k = 0; k < n; k++)
        order[k] = k;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)qc_random_below(state, (uint64_t)i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    int64_t remaining = want;
    while (remaining > 0) {
        int64_t open = 0;
        for (int k = 0; k < n; k++)
            open += classes[k].quota < classes[k].count;
        int64_t share = remaining / open;
        for (int i = 0; i < n && remaining > 0; i++) {
            sample_class *c = &classes[order[i]];
            if (c->quota == c->count)
                continue;
            int64_t give = share ? share : 1;
            if (give > c->count - c->quota)
                give = c->count - c->quota;
            c->quota += give;
            remaining -= give;
        }
    }
    free(order);
    return true;
}

/* Keeps the items whose keep[i] is set, in order, freeing the others. */
static void keep_items(qc_image_set *set, const bool *keep)
{
    int n = 0;
    for (int i = 0; i < set->n_items; i++) {
        if (keep[i])
            set->items[n++] = set->items[i];
        else
            free(set->items[i].path);
    }
    set->n_items = n;
}

qc_status qc_image_set_sample(qc_image_set *set, int64_t n, uint64_t seed, qc_error *err)
{
    if (n < 1)
        return qc_fail(err, QC_ERR_USAGE, "a sample needs at least one image");
    if (n >= set->n_items)
        return QC_OK;
    int n_classes;
    int64_t *storage = NULL;
    sample_class *classes = group_by_label(set, &n_classes, &storage);
    bool *keep = calloc((size_t)set->n_items, sizeof *keep);
    uint64_t state = seed;
    if (!classes || !keep || !give_quotas(classes, n_classes, n, &state)) {
        free(classes);
        free(storage);
        free(keep);
        return qc_fail(err, QC_ERR_IO, "cannot sample '%s': out of memory", set->root);
    }
    for (int k = 0; k < n_classes; k++) {
        sample_class *c = &classes[k];
        for (int64_t i = 0; i < c->quota; i++) {
            int64_t j = i + (int64_t)qc_random_below(&state, (uint64_t)(c->count - i));
            int64_t t = c->items[i];
            c->items[i] = c->items[j];
            c->items[j] = t;
            keep[c->items[i]] = true;
        }
    }
    keep_items(set, keep);
    free(classes);
    free(storage);
    free(keep);
    return QC_OK;
}

/* ---- readable images --------------------------------------------------------------------- */

/* Images decoded per round: bounds the messages held at once. */
#define CHECK_CHUNK 256

typedef struct {
    const qc_image_set *set;
    qc_color color;
    int first;
    qc_status status[CHECK_CHUNK];
    qc_error errs[CHECK_CHUNK];
} check_ctx;

static int check_item(void *arg, int worker, int64_t item)
{
    (void)worker;
    check_ctx *c = arg;
    qc_image img;
    c->status[item] = qc_image_read(c->set->items[c->first + item].path, c->color, &img,
                                    &c->errs[item]);
    if (c->status[item] == QC_OK)
        qc_image_free(&img);
    return 0;
}

qc_status qc_image_set_keep_readable(qc_image_set *set, qc_color color, int64_t want,
                                     int threads, qc_skip_fn on_skip, void *skip_ctx,
                                     qc_error *err)
{
    check_ctx *c = malloc(sizeof *c);
    bool *keep = malloc((size_t)(set->n_items ? set->n_items : 1) * sizeof *keep);
    if (!c || !keep) {
        free(c);
        free(keep);
        return qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", set->root);
    }
    c->set = set;
    c->color = color;
    int64_t good = 0;
    int checked = 0;
    while (checked < set->n_items && good < want) {
        /* no more than still wanted, so that no image after the last one wanted is read */
        int64_t count = set->n_items - checked < CHECK_CHUNK ? set->n_items - checked : CHECK_CHUNK;
        if (count > want - good)
            count = want - good;
        c->first = checked;
        qc_parallel_for(threads, count, check_item, c);
        for (int i = 0; i < (int)count; i++) {
            keep[checked + i] = c->status[i] == QC_OK;
            good += keep[checked + i];
            if (!keep[checked + i] && on_skip)
                on_skip(skip_ctx, c->errs[i].msg);
        }
        checked += (int)count;
    }
    for (int i = checked; i < set->n_items; i++)
        keep[i] = true; /* beyond the images wanted: not read, kept */
    keep_items(set, keep);
    free(c);
    free(keep);
    return QC_OK;
}
