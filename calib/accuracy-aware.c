/* accuracy-aware.c — quantization within an accuracy budget (docs/quantization.md, section
 * "Accuracy-aware quantization"): quantize, measure on the validation inputs against FP32, and
 * while the budget is missed return the quantized layers to FP32 one at a time, the most
 * sensitive first. Sensitivity is the metric when that layer alone is FP32 and every other
 * stays quantized, measured on a class-balanced subset. Every measurement quantizes again
 * with the extra exclusions, fuses, and runs qcal's integer runtime through qc_eval_logits,
 * whose results come by input index: nothing here depends on the threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"

/* ---- scores and their order -------------------------------------------------------------- */

double qc_aa_value(qc_aa_metric m, const qc_aa_score *s)
{
    if (m == QC_AA_TOP1)
        return s->labelled ? 100.0 * (double)s->correct / (double)s->labelled : NAN;
    return s->images ? 100.0 * (double)s->agree / (double)s->images : NAN;
}

/* The budget is compared in counts where it can be (a drop of exactly P points holds): a
 * tolerance far below one image's share absorbs the division's rounding. */
#define AA_TOLERANCE 1e-9

bool qc_aa_within(qc_aa_metric m, double budget, const qc_aa_score *fp32, const qc_aa_score *q)
{
    double v = qc_aa_value(m, q);
    if (isnan(v))
        return false;
    if (m == QC_AA_TOP1)
        return qc_aa_value(m, fp32) - v <= budget + AA_TOLERANCE;
    return v >= budget - AA_TOLERANCE;
}

/* KL sums: the lower is better, and a NaN (a logit not finite) is worse than any number. */
static int kl_order(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) == isnan(b) ? 0 : isnan(a) ? 1 : -1;
    return a < b ? -1 : a > b ? 1 : 0;
}

bool qc_aa_better(qc_aa_metric m, const qc_aa_score *a, const qc_aa_score *b)
{
    if (m == QC_AA_TOP1 && a->correct != b->correct)
        return a->correct > b->correct;
    if (a->agree != b->agree)
        return a->agree > b->agree;
    return kl_order(a->kl, b->kl) < 0;
}

int64_t qc_aa_subset(const int *labels, int64_t n, int64_t k, int64_t *index)
{
    if (k >= n || k < 0) {
        for (int64_t i = 0; i < n; i++)
            index[i] = i;
        return n;
    }
    /* Round after round, the next image of each class in input order (classes by label,
     * the unlabelled as one class): the first k taken, then put back in input order. */
    bool *taken = calloc((size_t)n + 1, sizeof *taken);
    if (!taken)
        return -1;
    int64_t count = 0;
    while (count < k) {
        int last = -2; /* the label taken last in this round; classes ascend within it */
        for (;;) {
            int64_t pick = -1;
            for (int64_t i = 0; i < n; i++) {
                int l = labels ? labels[i] : -1;
                if (!taken[i] && l > last && (pick < 0 || l < (labels ? labels[pick] : -1)))
                    pick = i;
            }
            if (pick < 0 || count == k)
                break;
            taken[pick] = true;
            index[count++] = pick;
            last = labels ? labels[pick] : -1;
        }
    }
    count = 0;
    for (int64_t i = 0; i < n; i++)
        if (taken[i])
            index[count++] = i;
    free(taken);
    return count;
}

/* ---- measuring a set of exclusions -------------------------------------------------------- */

/* The inputs a measurement runs: all of them or the subset, with FP32's logits. */
typedef struct {
    const float *inputs;
    const float *fp32_logits;
    const int *labels; /* or NULL */
    int64_t n;
} aa_set;

typedef struct {
    const qc_aa_options *o;
    bool probabilities;
    float *logits; /* n × classes of the largest set */
    const char **exclude; /* the caller's exclusions, then the extra ones */
} aa_ctx;

static qc_status run_logits(const aa_ctx *c, const qc_graph *g, const aa_set *set, float *logits, qc_error *err)
{
    qc_logits_store sc = {logits, c->o->classes};
    qc_pass_inputs in = {.tensors = set->inputs, .n = set->n, .stride = c->o->stride};
    qc_eval_options eo = {.run = {.limit = set->n, .batch = 256, .threads = c->o->threads},
                          .sink = qc_eval_store_logits, .sink_ctx = &sc};
    return qc_eval_logits(g, &in, c->o->classes, &eo, err);
}

void qc_aa_score_logits(const float *fp32, const float *q, const int *labels, int64_t n, int classes,
                        bool probabilities, qc_aa_score *s)
{
    *s = (qc_aa_score){.images = n};
    for (int64_t i = 0; i < n; i++) {
        const float *lq = q + i * classes, *l32 = fp32 + i * classes;
        int top = qc_argmax(lq, classes), label = labels ? labels[i] : -1;
        s->labelled += label >= 0;
        s->correct += label >= 0 && top == label;
        s->agree += top == qc_argmax(l32, classes);
        s->kl += probabilities ? qc_kl_probabilities(l32, lq, classes) : qc_kl_softmax(l32, lq, classes);
    }
}

/* The score of logits q against FP32's and the labels, summed in input order. */
static void score_logits(const aa_ctx *c, const aa_set *set, const float *q, qc_aa_score *s)
{
    qc_aa_score_logits(set->fp32_logits, q, set->labels, set->n, c->o->classes, c->probabilities, s);
}

/* The model quantized with the caller's exclusions and `extra` more nodes in FP32, fused and
 * run over set: its score. */
static qc_status measure(aa_ctx *c, const char *const *extra, int n_extra, const aa_set *set, qc_aa_score *s,
                         qc_error *err)
{
    qc_quantize_options q = *c->o->q;
    if (n_extra > 0)
        memcpy(c->exclude + q.n_exclude, extra, sizeof *extra * (size_t)n_extra);
    q.exclude = c->exclude;
    q.n_exclude += n_extra;
    qc_graph *g = NULL;
    qc_status st = qc_quantize(c->o->fp32, c->o->stats, &q, &g, NULL, err);
    if (st == QC_OK)
        st = qc_pass_fuse_qdq(g, err);
    for (int i = 0; st == QC_OK && i < g->n_nodes; i++)
        if (!qc_op_supported(g->nodes[i].op_type, g->nodes[i].domain))
            st = qc_fail(err, QC_ERR_USAGE, "qcal cannot run %s (node '%s') of the quantized model",
                         g->nodes[i].op_type, g->nodes[i].name);
    if (st == QC_OK && (st = run_logits(c, g, set, c->logits, err)) == QC_OK)
        score_logits(c, set, c->logits, s);
    qc_graph_destroy(g);
    return st;
}

/* ---- the algorithm ---------------------------------------------------------------------------- */

void qc_aa_result_free(qc_aa_result *r)
{
    for (int i = 0; i < r->n_ranked; i++)
        free(r->ranking[i].node);
    for (int i = 0; i < r->n_steps; i++)
        free(r->steps[i].node);
    free(r->ranking);
    free(r->steps);
    *r = (qc_aa_result){0};
}

/* Everything a run keeps: FP32's logits of all inputs, the subset, the buffers. */
typedef struct {
    aa_ctx c;
    aa_set all, sub;
    float *fp32_logits; /* owned when computed here */
    float *sub_inputs, *sub_logits;
    int *sub_labels;
    int64_t *sub_index;
} aa_run;

static void run_free(aa_run *a)
{
    free(a->c.logits);
    free(a->c.exclude);
    free(a->fp32_logits);
    free(a->sub_inputs);
    free(a->sub_logits);
    free(a->sub_labels);
    free(a->sub_index);
}

/* The subset of the first sensitivity_images inputs of a class-balanced order, copied. */
static qc_status make_subset(aa_run *a, qc_error *err)
{
    const qc_aa_options *o = a->c.o;
    const int64_t n = o->n, k = o->sensitivity_images < n ? o->sensitivity_images : n;
    const int classes = o->classes;
    a->sub_index = malloc(sizeof(int64_t) * (size_t)(n + 1));
    a->sub_inputs = malloc(sizeof(float) * (size_t)(k * o->stride + 1));
    a->sub_logits = malloc(sizeof(float) * (size_t)(k * classes + 1));
    a->sub_labels = malloc(sizeof(int) * (size_t)(k + 1));
    if (!a->sub_index || !a->sub_inputs || !a->sub_logits || !a->sub_labels ||
        qc_aa_subset(o->labels, n, k, a->sub_index) != k)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    for (int64_t j = 0; j < k; j++) {
        int64_t i = a->sub_index[j];
        memcpy(a->sub_inputs + j * o->stride, o->inputs + i * o->stride, sizeof(float) * (size_t)o->stride);
        memcpy(a->sub_logits + j * classes, a->all.fp32_logits + i * classes, sizeof(float) * (size_t)classes);
        a->sub_labels[j] = o->labels ? o->labels[i] : -1;
    }
    a->sub = (aa_set){a->sub_inputs, a->sub_logits, a->sub_labels, k};
    return QC_OK;
}

/* FP32's logits (given or computed once), the buffers, the subset. */
static qc_status run_setup(aa_run *a, const qc_aa_options *o, qc_error *err)
{
    *a = (aa_run){.c = {.o = o, .probabilities = qc_output_is_probabilities(o->fp32, 0)}};
    if (o->n < 1 || o->classes < 1 || o->stride < 1 || o->threads < 1 || o->sensitivity_images < 1)
        return qc_fail(err, QC_ERR_USAGE, "accuracy-aware quantization needs inputs, classes, threads and a "
                                          "positive number of sensitivity images");
    a->c.logits = malloc(sizeof(float) * (size_t)(o->n * o->classes));
    a->c.exclude = malloc(sizeof(char *) * (size_t)(o->q->n_exclude + o->fp32->n_nodes + 1));
    if (!a->c.logits || !a->c.exclude)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    if (o->q->n_exclude) /* exclude may be NULL when there are none */
        memcpy(a->c.exclude, o->q->exclude, sizeof(char *) * (size_t)o->q->n_exclude);
    a->all = (aa_set){o->inputs, o->fp32_logits, o->labels, o->n};
    if (!o->fp32_logits) {
        if (!(a->fp32_logits = malloc(sizeof(float) * (size_t)(o->n * o->classes))))
            return qc_fail(err, QC_ERR_IO, "out of memory");
        qc_status st = run_logits(&a->c, o->fp32, &a->all, a->fp32_logits, err);
        if (st != QC_OK)
            return st;
        a->all.fp32_logits = a->fp32_logits;
    }
    return make_subset(a, err);
}

/* The quantized nodes, each alone returned to FP32 on the subset, best score first (graph
 * order among equals). */
static qc_status rank_layers(aa_run *a, qc_aa_result *r, qc_error *err)
{
    qc_quantize_report rep;
    qc_graph *g = NULL;
    qc_status st = qc_quantize(a->c.o->fp32, a->c.o->stats, a->c.o->q, &g, &rep, err);
    qc_graph_destroy(g);
    if (st != QC_OK)
        return st;
    r->subset = a->sub.n;
    st = measure(&a->c, NULL, 0, &a->sub, &r->subset_quantized, err);
    if (st == QC_OK && !(r->ranking = calloc((size_t)rep.n_nodes + 1, sizeof *r->ranking)))
        st = qc_fail(err, QC_ERR_IO, "out of memory");
    for (int i = 0; i < rep.n_nodes && st == QC_OK; i++) {
        qc_aa_layer l = {.node = rep.nodes[i]};
        rep.nodes[i] = NULL; /* now the result's */
        st = measure(&a->c, (const char *const *)&l.node, 1, &a->sub, &l.score, err);
        int at = r->n_ranked++;
        for (; at > 0 && qc_aa_better(a->c.o->metric, &l.score, &r->ranking[at - 1].score); at--)
            r->ranking[at] = r->ranking[at - 1];
        r->ranking[at] = l;
    }
    qc_quantize_report_free(&rep);
    return st;
}

qc_status qc_aa_rank(const qc_aa_options *o, qc_aa_result *r, qc_error *err)
{
    *r = (qc_aa_result){0};
    aa_run a;
    qc_status st = run_setup(&a, o, err);
    if (st == QC_OK)
        st = rank_layers(&a, r, err);
    run_free(&a);
    return st;
}

/* Returns the ranked layers to FP32 one at a time, measuring all the inputs after each, until
 * the budget holds, the ranking ends or max_layers are returned. */
static qc_status return_layers(aa_run *a, qc_aa_result *r, qc_error *err)
{
    const qc_aa_options *o = a->c.o;
    int most = o->max_layers >= 0 && o->max_layers < r->n_ranked ? o->max_layers : r->n_ranked;
    const char **returned = malloc(sizeof(char *) * (size_t)(most + 1));
    if (!(r->steps = calloc((size_t)most + 1, sizeof *r->steps)) || !returned) {
        free(returned);
        return qc_fail(err, QC_ERR_IO, "out of memory");
    }
    qc_status st = QC_OK;
    while (st == QC_OK && !r->met && r->n_steps < most) {
        qc_aa_layer *step = &r->steps[r->n_steps];
        returned[r->n_steps] = r->ranking[r->n_steps].node;
        if (!(step->node = strdup(returned[r->n_steps])))
            st = qc_fail(err, QC_ERR_IO, "out of memory");
        r->n_steps++;
        if (st == QC_OK)
            st = measure(&a->c, returned, r->n_steps, &a->all, &step->score, err);
        r->met = st == QC_OK && qc_aa_within(o->metric, o->budget, &r->fp32, &step->score);
    }
    free(returned);
    return st;
}

qc_status qc_accuracy_aware(const qc_aa_options *o, qc_aa_result *r, qc_error *err)
{
    *r = (qc_aa_result){0};
    if (o->metric == QC_AA_TOP1 && !o->labels)
        return qc_fail(err, QC_ERR_USAGE, "a top-1 budget needs labelled inputs");
    aa_run a;
    qc_status st = run_setup(&a, o, err);
    if (st == QC_OK) {
        score_logits(&a.c, &a.all, a.all.fp32_logits, &r->fp32);
        if (o->metric == QC_AA_TOP1 && r->fp32.labelled == 0)
            st = qc_fail(err, QC_ERR_USAGE, "a top-1 budget needs labelled inputs; none has a label");
    }
    if (st == QC_OK && (st = measure(&a.c, NULL, 0, &a.all, &r->quantized, err)) == QC_OK)
        r->met = qc_aa_within(o->metric, o->budget, &r->fp32, &r->quantized);
    if (st == QC_OK && !r->met && o->max_layers != 0 && (st = rank_layers(&a, r, err)) == QC_OK)
        st = return_layers(&a, r, err);
    run_free(&a);
    return st;
}
