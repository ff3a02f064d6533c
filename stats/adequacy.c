/* adequacy.c — is the calibration set big enough? The statistics are sums over fixed groups of
 * QC_STATS_GROUP images; keeping each group's summary (extremes and the double sums it flushed)
 * lets any multiset of groups be recombined into the statistics those images would give. A
 * bootstrap over the groups (resamples of as many groups, drawn with replacement) then shows how
 * much the scale of a tensor's range would move with another calibration set of the same size;
 * the spread of a mean falls as 1/√n, which says how many images bring it within a tolerance.
 * Groups, not images, are the units resampled: images of a group are consecutive in the sorted
 * list (often one class), so they are not independent of each other, and the statistics only
 * keep groups. docs/statistics.md §8 has the formulas. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats-impl.h"

qc_group_table *qc_group_table_create(const qc_stats *s, int64_t images)
{
    qc_group_table *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->n_tensors = s->n_tensors;
    g->n_groups = (images + QC_STATS_GROUP - 1) / QC_STATS_GROUP;
    const size_t cells = (size_t)(g->n_groups * g->n_tensors);
    g->images = calloc((size_t)(g->n_groups ? g->n_groups : 1), sizeof *g->images);
    g->sums = malloc((cells ? cells : 1) * sizeof *g->sums);
    if (!g->images || !g->sums) {
        qc_group_table_destroy(g);
        return NULL;
    }
    for (size_t k = 0; k < cells; k++)
        g->sums[k] = (qc_pending){.min = INFINITY, .max = -INFINITY};
    return g;
}

void qc_group_table_destroy(qc_group_table *g)
{
    if (!g)
        return;
    free(g->images);
    free(g->sums);
    free(g);
}

void qc_group_table_combine(const qc_group_table *g, const qc_stats *s, int i, const int *counts,
                            qc_tensor_stats *out)
{
    *out = s->tensors[i];
    out->ch = NULL;
    out->pend = NULL;
    out->hist = (qc_hist){0};
    out->samples = 0;
    qc_moments *m = &out->t;
    qc_moments_clear(m);
    for (int64_t k = 0; k < g->n_groups; k++) {
        const int copies = counts ? counts[k] : 1;
        const qc_pending *p = &g->sums[k * g->n_tensors + i];
        if (!copies || !g->images[k])
            continue;
        /* as the flush combines them: on ties the earlier value stays */
        m->min = p->min < m->min ? p->min : m->min;
        m->max = p->max > m->max ? p->max : m->max;
        for (int c = 0; c < copies; c++) {
            qc_fix_add_double(&m->sum, p->sum);
            qc_fix_add_double(&m->sumsq, p->sumsq);
            qc_fix_add_double(&m->smin, p->smin);
            qc_fix_add_double(&m->smin2, p->smin2);
            qc_fix_add_double(&m->smax, p->smax);
            qc_fix_add_double(&m->smax2, p->smax2);
        }
        out->samples += copies * g->images[k];
    }
}

qc_range_method qc_adequacy_method(qc_range_method m)
{
    /* a histogram per group and tensor would be 32 KiB each: the histogram methods, whose clip
     * lies inside the extremes where most images reach, are evaluated with the mean of the
     * images' extremes */
    return qc_range_method_uses_histogram(m) ? QC_RANGE_AVG : m;
}

void qc_adequacy_options_default(qc_adequacy_options *o)
{
    memset(o, 0, sizeof *o);
    o->method = QC_RANGE_MINMAX;
    qc_range_params_default(&o->params);
    o->tolerance = 0.05;
    o->resamples = 200;
}

void qc_adequacy_free(qc_adequacy *a)
{
    free(a->tensors);
    a->tensors = NULL;
}

/* The scale of tensor i's range recomputed from the groups counted by counts (NULL: all). */
static qc_status scale_of(const qc_group_table *g, const qc_stats *s, int i, const int *counts,
                          const qc_adequacy_options *o, qc_range_method m, double *scale, qc_error *err)
{
    qc_tensor_stats t;
    float lo, hi;
    qc_group_table_combine(g, s, i, counts, &t);
    qc_status st = qc_stats_range(&t, m, &o->params, -1, &lo, &hi, err);
    if (st != QC_OK)
        return st;
    *scale = o->scale(o->scale_ctx, lo, hi);
    if (!(*scale > 0) || !isfinite(*scale))
        return qc_fail(err, QC_ERR_INPUT, "tensor '%s': no finite scale for the range [%g, %g]", t.name,
                       (double)lo, (double)hi);
    return QC_OK;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of sorted values v[0..n) (linear between the nearest ranks). */
static double quantile(const double *v, int n, double q)
{
    double pos = q * (n - 1);
    int k = (int)pos;
    return k + 1 < n ? v[k] + (pos - k) * (v[k + 1] - v[k]) : v[n - 1];
}

/* Spread of one tensor's bootstrap scales boot[0..B) (sorted here) around its scale. */
static void summarize(qc_adequacy_tensor *r, double *boot, int B, int64_t images, double tol)
{
    double mean = 0, var = 0;
    for (int b = 0; b < B; b++)
        mean += boot[b];
    mean /= B;
    for (int b = 0; b < B; b++)
        var += (boot[b] - mean) * (boot[b] - mean);
    r->boot_mean = mean;
    r->rsd = sqrt(var / (B - 1)) / r->scale;
    qsort(boot, (size_t)B, sizeof *boot, compare_doubles);
    r->lo90 = quantile(boot, B, 0.05);
    r->hi90 = quantile(boot, B, 0.95);
    r->uncertain = r->rsd > tol;
    r->images_needed = images;
    if (r->uncertain) { /* the spread falls as 1/√n */
        double need = ceil((double)images * (r->rsd / tol) * (r->rsd / tol) / QC_STATS_GROUP);
        r->images_needed = need < 1e15 ? (int64_t)need * QC_STATS_GROUP : INT64_MAX;
    }
}

static qc_status check_options(const qc_adequacy_options *o, qc_error *err)
{
    if (!(o->tolerance > 0) || !isfinite(o->tolerance) || o->resamples < 2 || !o->scale ||
        (int)o->method < 0 || o->method >= QC_RANGE_COUNT)
        return qc_fail(err, QC_ERR_USAGE, "adequacy needs a tolerance above 0, 2 resamples or more and a scale");
    return QC_OK;
}

/* The groups holding images (their indices into list), and the images they hold. */
static int64_t filled_groups(const qc_group_table *g, int64_t *list, int64_t *images)
{
    int64_t n = 0;
    *images = 0;
    for (int64_t k = 0; k < g->n_groups; k++)
        if (g->images[k]) {
            list[n++] = k;
            *images += g->images[k];
        }
    return n;
}

qc_status qc_adequacy_run(const qc_stats *s, const qc_group_table *g, const qc_adequacy_options *o,
                          qc_adequacy *out, qc_error *err)
{
    memset(out, 0, sizeof *out);
    qc_status st = check_options(o, err);
    if (st != QC_OK)
        return st;
    if (g->n_tensors != s->n_tensors)
        return qc_fail(err, QC_ERR_USAGE, "the group summaries are not of these statistics");
    const int B = o->resamples;
    out->method = o->method;
    out->tolerance = o->tolerance;
    out->evaluated = qc_adequacy_method(o->method);
    int64_t *list = malloc((size_t)(g->n_groups ? g->n_groups : 1) * sizeof *list);
    int *counts = calloc((size_t)(g->n_groups ? g->n_groups : 1), sizeof *counts);
    out->tensors = calloc((size_t)(s->n_tensors ? s->n_tensors : 1), sizeof *out->tensors);
    if (!list || !counts || !out->tensors) {
        st = qc_fail(err, QC_ERR_IO, "out of memory");
        goto end;
    }
    out->groups = filled_groups(g, list, &out->images);
    if (out->groups < 2) {
        st = qc_fail(err, QC_ERR_INPUT, "adequacy needs at least 2 groups of %d images to resample (%lld images)",
                     QC_STATS_GROUP, (long long)out->images);
        goto end;
    }
    for (int i = 0; i < s->n_tensors; i++)
        if (s->tensors[i].role != QC_ROLE_WEIGHT && s->tensors[i].samples)
            out->tensors[out->n++].tensor = i;
    double *boot = malloc((size_t)out->n * (size_t)B * sizeof *boot); /* [tensor][resample] */
    if (!boot) {
        st = qc_fail(err, QC_ERR_IO, "out of memory");
        goto end;
    }
    for (int j = 0; j < out->n && st == QC_OK; j++)
        st = scale_of(g, s, out->tensors[j].tensor, NULL, o, out->evaluated, &out->tensors[j].scale, err);
    uint64_t state = o->seed;
    for (int b = 0; b < B && st == QC_OK; b++) {
        memset(counts, 0, (size_t)g->n_groups * sizeof *counts);
        for (int64_t k = 0; k < out->groups; k++)
            counts[list[qc_random_below(&state, (uint64_t)out->groups)]]++;
        for (int j = 0; j < out->n && st == QC_OK; j++)
            st = scale_of(g, s, out->tensors[j].tensor, counts, o, out->evaluated, &boot[(size_t)j * B + b], err);
    }
    for (int j = 0; j < out->n && st == QC_OK; j++) {
        summarize(&out->tensors[j], boot + (size_t)j * B, B, out->images, o->tolerance);
        out->n_uncertain += out->tensors[j].uncertain;
    }
    free(boot);
end:
    free(list);
    free(counts);
    if (st != QC_OK)
        qc_adequacy_free(out);
    return st;
}
