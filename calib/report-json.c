/* report-json.c — the JSON documents of stats, quantize, compare, eval and bench: the
 * product's scripting interface, which CI scripts read, so every key and number format here
 * is part of it. Each writer prints one document to the FILE the caller gives; the library
 * prints nothing on its own. Rates are fractions; what JSON cannot write (NaN, ±inf) is null. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "calib.h"

/* before, then s as a JSON string; null when s is NULL */
static void put_field(FILE *f, const char *before, const char *s)
{
    fputs(before, f);
    if (s)
        qc_json_put_string(f, s);
    else
        fputs("null", f);
}

/* before, then x as a JSON number; null for what JSON cannot write (±inf, NaN) */
static void put_number(FILE *f, const char *before, double x)
{
    fputs(before, f);
    if (isfinite(x))
        fprintf(f, "%.10g", x);
    else
        fputs("null", f);
}

static const char *json_bool(bool b)
{
    return b ? "true" : "false";
}

/* ---- stats ---------------------------------------------------------------------------------- */

static void put_stats_tensor(FILE *f, const qc_tensor_stats *t, const qc_stats_doc *d)
{
    fprintf(f, ", \"role\": \"%s\", \"shape\": [", qc_role_name(t->role));
    for (int i = 0; i < t->rank; i++)
        fprintf(f, "%s%lld", i ? ", " : "", (long long)t->dims[i]);
    fprintf(f, "], \"samples\": %lld", (long long)t->samples);
    if (t->samples && t->t.min <= t->t.max)
        fprintf(f, ", \"min\": %.9g, \"max\": %.9g", (double)t->t.min, (double)t->t.max);
    else
        fprintf(f, ", \"min\": null, \"max\": null");
    fprintf(f, ", \"ranges\": {");
    bool first = true;
    for (int m = 0; m < QC_RANGE_COUNT; m++) {
        if (!d->methods[m])
            continue;
        float lo, hi;
        fprintf(f, "%s\"%s\": ", first ? "" : ", ", qc_range_method_name(m));
        first = false;
        if (qc_stats_range(t, m, d->params, -1, &lo, &hi, NULL) == QC_OK)
            fprintf(f, "[%.9g, %.9g]", (double)lo, (double)hi);
        else
            fprintf(f, "null");
    }
    double sl, sh;
    if (qc_stats_channel_spread(t, &sl, &sh))
        fprintf(f, "}, \"channel_range\": [%.9g, %.9g]}", sl, sh);
    else
        fprintf(f, "}, \"channel_range\": null}");
}

static void put_adequacy(FILE *f, const qc_stats *s, const qc_stats_doc *d)
{
    const qc_adequacy *a = d->adequacy;
    const qc_adequacy_settings *st = d->adequacy_settings;
    fprintf(f, ", \"adequacy\": {\"method\": \"%s\", \"evaluated\": \"%s\", \"scheme\": \"%s\", \"bits\": %d, "
               "\"n\": %.9g, \"tolerance\": %.9g, \"resamples\": %d, \"images\": %lld, \"groups\": %lld, "
               "\"uncertain\": %d, \"tensors\": [",
            qc_range_method_name(a->method), qc_range_method_name(a->evaluated), qc_scheme_name(st->scheme), st->bits,
            d->params->n_std, st->tolerance_pct / 100.0, st->resamples, (long long)a->images, (long long)a->groups,
            a->n_uncertain);
    for (int j = 0; j < a->n; j++) {
        const qc_adequacy_tensor *r = &a->tensors[j];
        put_field(f, j ? ",\n  {\"name\": " : "\n  {\"name\": ", s->tensors[r->tensor].name);
        fprintf(f, ", \"scale\": %.9g, \"bootstrap_mean\": %.9g, \"rsd\": %.9g, \"interval90\": [%.9g, %.9g], "
                   "\"uncertain\": %s, \"images_needed\": %lld}",
                r->scale, r->boot_mean, r->rsd, r->lo90, r->hi90, json_bool(r->uncertain), (long long)r->images_needed);
    }
    fprintf(f, "\n]}");
}

void qc_stats_json_write(FILE *f, const qc_stats *s, const qc_stats_doc *d)
{
    put_field(f, "{\"model\": ", d->model);
    put_field(f, ", \"stats\": ", d->stats);
    fprintf(f, ", \"images\": %lld, \"granularity\": \"%s\", \"histograms\": %s", (long long)s->images,
            s->per_channel ? "channel" : "tensor", json_bool(s->histograms));
    if (d->seconds >= 0)
        fprintf(f, ", \"skipped\": %lld", (long long)d->skipped);
    if (s->shard_count) {
        fprintf(f, ", \"shard\": {\"count\": %d, \"indices\": [", s->shard_count);
        for (int i = 0; i < s->n_shards; i++)
            fprintf(f, "%s%d", i ? ", " : "", s->shards[i]);
        fprintf(f, "]}");
    }
    if (d->seconds >= 0)
        fprintf(f, ", \"seconds\": %.3f, \"threads\": %d, \"batch\": %lld", d->seconds, d->threads,
                (long long)d->batch);
    fprintf(f, ", \"params\": {\"n\": %.9g, \"percentile\": %.9g, \"bits\": %d}, \"tensors\": [", d->params->n_std,
            d->params->percentile, d->params->bits);
    for (int i = 0; i < s->n_tensors; i++) {
        put_field(f, i ? ",\n  {\"name\": " : "\n  {\"name\": ", s->tensors[i].name);
        put_stats_tensor(f, &s->tensors[i], d);
    }
    fprintf(f, "\n]");
    if (d->adequacy)
        put_adequacy(f, s, d);
    fprintf(f, "}\n");
}

/* ---- quantize ------------------------------------------------------------------------------- */

const char *qc_auto_method_of(const qc_auto_result *a, const char *tensor, char *buf, size_t size)
{
    const qc_auto_choice *c = a ? qc_auto_find(a->choices, a->n, tensor) : NULL;
    buf[0] = 0;
    if (c)
        qc_auto_candidate_name(&qc_auto_candidates()[c->choice], buf, size);
    return buf;
}

/* --method auto: the candidate chosen for tensor and what each candidate measured */
static void put_auto_choice(FILE *f, const qc_auto_result *a, const char *tensor)
{
    const qc_auto_choice *c = qc_auto_find(a->choices, a->n, tensor);
    if (!c)
        return;
    char name[48];
    put_field(f, ", \"auto\": {\"range_of\": ", tensor);
    fprintf(f, ", \"chosen\": \"%s\", ", qc_auto_method_of(a, tensor, name, sizeof name));
    qc_auto_candidate_name(&qc_auto_candidates()[c->local], name, sizeof name);
    fprintf(f, "\"local\": \"%s\", \"candidates\": [", name);
    for (int k = 0; k < QC_AUTO_CANDIDATES; k++) {
        qc_auto_candidate_name(&qc_auto_candidates()[k], name, sizeof name);
        fprintf(f, "%s{\"method\": \"%s\", ", k ? ", " : "", name);
        if (isnan(c->error[k]))
            fprintf(f, "\"error\": null}");
        else
            fprintf(f, "\"error\": %.9g, \"min\": %.9g, \"max\": %.9g}", c->error[k], (double)c->lo[k],
                    (double)c->hi[k]);
    }
    fprintf(f, "]}");
}

const char *qc_auto_start_name(const qc_auto_result *a, const char *none, char *buf, size_t size)
{
    snprintf(buf, size, "%s", none);
    if (a->start >= 0)
        qc_auto_candidate_name(&qc_auto_candidates()[a->start], buf, size);
    return buf;
}

/* --method auto: its check at the network's output */
static void put_auto_check(FILE *f, const qc_auto_result *r)
{
    char name[48];
    qc_auto_start_name(r, "local", name, sizeof name);
    double images = (double)(r->images ? r->images : 1);
    fprintf(f, ",\n \"auto\": {\"images\": %lld, \"agree_local\": %lld, \"kl_local\": %.9g, \"start\": \"%s\", "
               "\"kept\": %d, \"agree\": %lld, \"kl\": %.9g}",
            (long long)r->images, (long long)r->agree_local, r->kl_local / images, name, r->kept,
            (long long)r->agree, r->kl / images);
}

double qc_aa_kl(const qc_aa_score *sc)
{
    return sc->images ? sc->kl / (double)sc->images : NAN;
}

static void put_aa_score(FILE *f, const qc_aa_score *sc)
{
    fprintf(f, "{\"images\": %lld, \"labelled\": %lld, \"correct\": %lld, \"agree\": %lld",
            (long long)sc->images, (long long)sc->labelled, (long long)sc->correct, (long long)sc->agree);
    /* JSON rates are fractions; qc_aa_value gives percent */
    put_number(f, ", \"top1\": ", sc->labelled ? qc_aa_value(QC_AA_TOP1, sc) / 100 : NAN);
    put_number(f, ", \"agreement\": ", qc_aa_value(QC_AA_AGREEMENT, sc) / 100);
    put_number(f, ", \"kl\": ", qc_aa_kl(sc));
    fputc('}', f);
}

static void put_aa_layers(FILE *f, const char *key, const qc_aa_layer *l, int n)
{
    fprintf(f, ",\n   \"%s\": [", key);
    for (int i = 0; i < n; i++) {
        put_field(f, i ? ",\n    {\"node\": " : "\n    {\"node\": ", l[i].node);
        fprintf(f, ", \"score\": ");
        put_aa_score(f, &l[i].score);
        fputc('}', f);
    }
    fputc(']', f);
}

static void put_accuracy_aware(FILE *f, const qc_aa_doc *a)
{
    const qc_aa_result *r = a->r;
    fprintf(f, ",\n \"accuracy_aware\": {\"metric\": \"%s\", \"budget\": %.10g",
            a->metric == QC_AA_TOP1 ? "top1" : "agreement", a->budget);
    put_field(f, ", \"val\": ", a->val);
    fprintf(f, ", \"images\": %lld, \"sensitivity_images\": %lld, \"met\": %s, \"seconds\": %.3f,\n   \"fp32\": ",
            (long long)a->images, (long long)r->subset, json_bool(r->met), a->seconds);
    put_aa_score(f, &r->fp32);
    fprintf(f, ",\n   \"quantized\": ");
    put_aa_score(f, &r->quantized);
    fprintf(f, ",\n   \"final\": ");
    put_aa_score(f, r->n_steps ? &r->steps[r->n_steps - 1].score : &r->quantized);
    fprintf(f, ",\n   \"ranking_quantized\": ");
    put_aa_score(f, &r->subset_quantized);
    put_aa_layers(f, "ranking", r->ranking, r->n_ranked);
    put_aa_layers(f, "steps", r->steps, r->n_steps);
    fprintf(f, ",\n   \"fp32_nodes\": [");
    for (int i = 0; i < r->n_steps; i++)
        put_field(f, i ? ", " : "", r->steps[i].node);
    fprintf(f, "]}");
}

static bool runnable(const qc_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!qc_op_supported(g->nodes[i].op_type, g->nodes[i].domain))
            return false;
    return true;
}

static void put_quantize_settings(FILE *f, const qc_quantize_doc *d)
{
    const qc_quantize_options *q = d->q;
    fprintf(f, ", \"format\": \"%s\", \"scheme\": \"%s\", \"method\": \"%s\", \"per_channel\": %s, "
               "\"weight_bits\": %d, \"act_bits\": %d, \"reduce_range\": %s, \"round\": \"%s\", \"act_round\": \"%s\", "
               "\"input_compensation\": %s, \"calibration_images\": %lld, \"calibration_skipped\": %lld, "
               "\"runnable_by_qcal\": %s, ",
            qc_qformat_name(q->format), qc_scheme_name(q->scheme),
            d->method_auto ? "auto" : qc_range_method_name(q->method), json_bool(q->weights == QC_GRANULARITY_CHANNEL),
            q->weight_bits, q->act_bits, json_bool(q->reduce_range), qc_round_mode_name(q->round),
            qc_round_mode_name(q->act_round), json_bool(q->activations == QC_GRANULARITY_COMPENSATED),
            (long long)d->calibration_images, (long long)d->calibration_skipped, json_bool(runnable(d->written)));
    fprintf(f, "\"bias_correction\": \"%s\", ", qc_bias_mode_name(q->bias_correction));
    if (q->bias_correction == QC_BIAS_EMPIRICAL)
        fprintf(f, "\"bias_images\": %lld, \"bias_passes\": %d, \"bias_seconds\": %.3f, ",
                (long long)d->bias->images, d->bias->passes, d->bias_seconds);
    char *config = d->method_auto ? NULL : qc_config_json(q); /* a config has no per-tensor methods */
    fprintf(f, "\"config\": %s, ", config ? config : "null");
    free(config);
}

static void put_quantized_tensor(FILE *f, const qc_quantized_tensor *t, const qc_auto_result *a)
{
    fprintf(f, ", \"role\": \"%s\", \"bits\": %d, \"min\": %.9g, \"max\": %.9g, \"qmin\": %lld, \"qmax\": %lld, "
               "\"scale\": [",
            t->role, t->bits, (double)t->min, (double)t->max, (long long)t->params[0].qmin,
            (long long)t->params[0].qmax);
    for (int c = 0; c < t->n_channels; c++)
        fprintf(f, "%s%.9g", c ? ", " : "", (double)t->params[c].scale);
    fprintf(f, "], \"zero_point\": [");
    for (int c = 0; c < t->n_channels; c++)
        fprintf(f, "%s%d", c ? ", " : "", (int)t->params[c].zero_point);
    fputc(']', f);
    if (t->range_of && a)
        put_auto_choice(f, a, t->range_of);
    fputc('}', f);
}

void qc_quantize_json_write(FILE *f, const qc_quantize_report *r, const qc_quantize_doc *d)
{
    const qc_auto_result *a = d->auto_result && d->auto_result->n ? d->auto_result : NULL;
    put_field(f, "{\"model\": ", d->model);
    put_field(f, ", \"output\": ", d->output);
    put_quantize_settings(f, d);
    fprintf(f, "\"tensors\": [");
    for (int i = 0; i < r->n; i++) {
        put_field(f, i ? ",\n  {\"name\": " : "\n  {\"name\": ", r->tensors[i].tensor);
        put_quantized_tensor(f, &r->tensors[i], a);
    }
    fprintf(f, "\n]");
    if (a)
        put_auto_check(f, a);
    if (d->aa)
        put_accuracy_aware(f, d->aa);
    fprintf(f, "}\n");
}

/* ---- compare -------------------------------------------------------------------------------- */

double qc_compare_delta(const qc_compare_model *m, int k)
{
    return qc_compare_top1(m, k) - qc_compare_fp32_top1(m);
}

double qc_compare_kl(const qc_compare_model *m, int k)
{
    return m->n ? m->var[k].kl_sum / (double)m->n : 0.0;
}

/* The "layers" of variant k of m: every tensor measured. */
static void put_compare_layers(FILE *f, const qc_compare_model *m, int k)
{
    bool first = true;
    for (int i = 0; i < m->stats->n_tensors; i++) {
        const qc_layer_error *l = &m->ev[k].layers[i];
        if (l->acc.samples == 0 && !l->has_codes)
            continue;
        qc_error_metrics e;
        qc_error_acc_finish(&l->acc, &e);
        put_field(f, first ? "\n      {\"tensor\": " : ",\n      {\"tensor\": ", m->stats->tensors[i].name);
        first = false;
        put_field(f, ", \"node\": ", qc_compare_node_of(m, k, m->stats->tensors[i].name));
        fprintf(f, ", \"role\": \"%s\", \"values\": %lld", qc_role_name(m->stats->tensors[i].role), (long long)e.count);
        put_number(f, ", \"sqnr_db\": ", l->acc.samples ? e.sqnr_db : NAN);
        fprintf(f, ", \"identical\": %s", json_bool(l->acc.samples && isinf(e.sqnr_db) && e.sqnr_db > 0));
        put_number(f, ", \"cosine\": ", l->acc.samples ? e.cosine : NAN);
        put_number(f, ", \"max_abs_err\": ", l->acc.samples ? e.max_abs_err : NAN);
        put_number(f, ", \"clipped\": ", l->has_codes ? qc_code_hist_clipped(&l->codes) : NAN);
        put_number(f, ", \"codes_used\": ", l->has_codes ? qc_code_hist_used(&l->codes) : NAN);
        if (l->has_range) {
            put_number(f, ", \"range\": [", l->lo);
            put_number(f, ", ", l->hi);
            fprintf(f, "]}");
        } else
            fprintf(f, ", \"range\": null}");
    }
}

/* "sensitivity": {"images", "quantized", "ranking": [{"node", "top1", "agreement", "kl"}]} */
static void put_compare_sensitivity(FILE *f, const qc_aa_result *r)
{
    fprintf(f, ",\n     \"sensitivity\": {\"images\": %lld, \"quantized\": ", (long long)r->subset);
    for (int i = -1; i < r->n_ranked; i++) {
        const qc_aa_score *sc = i < 0 ? &r->subset_quantized : &r->ranking[i].score;
        if (i >= 0) {
            put_field(f, i ? ",\n      {\"node\": " : ", \"ranking\": [\n      {\"node\": ", r->ranking[i].node);
            fprintf(f, ", ");
        } else
            fputc('{', f);
        put_number(f, "\"top1\": ", qc_aa_value(QC_AA_TOP1, sc) / 100);
        put_number(f, ", \"agreement\": ", qc_aa_value(QC_AA_AGREEMENT, sc) / 100);
        put_number(f, ", \"kl\": ", qc_aa_kl(sc));
        fputc('}', f);
    }
    fprintf(f, "%s}", r->n_ranked ? "]" : ", \"ranking\": []");
}

static void put_compare_model(FILE *f, const qc_compare_model *m, const qc_compare_page *p)
{
    put_field(f, "\n  {\"model\": ", m->path);
    if (m->output)
        put_field(f, ", \"output\": ", m->output);
    fprintf(f, ", \"images\": %lld, \"labelled\": %lld, \"calib_images\": %lld,\n   \"fp32\": {\"correct\": %lld",
            (long long)m->n, (long long)m->labelled, (long long)m->stats->images, (long long)m->fp32_correct);
    put_number(f, ", \"top1\": ", qc_compare_fp32_top1(m));
    fprintf(f, "},\n   \"variants\": [");
    for (int k = 0; k < p->n; k++) {
        put_field(f, k ? ",\n    {\"name\": " : "\n    {\"name\": ", p->v[k].name);
        fprintf(f, ", \"correct\": %lld", (long long)m->var[k].correct);
        put_number(f, ", \"top1\": ", qc_compare_top1(m, k));
        put_number(f, ", \"delta\": ", qc_compare_delta(m, k));
        put_number(f, ", \"agreement\": ", qc_compare_agreement(m, k));
        put_number(f, ", \"kl\": ", qc_compare_kl(m, k));
        fprintf(f, ", \"gated\": %s", json_bool(qc_compare_gated(m, p->v, p->n, k, p->gates->gate)));
        if (p->sensitivity)
            put_compare_sensitivity(f, &m->sens[k]);
        fprintf(f, ",\n     \"layers\": [");
        put_compare_layers(f, m, k);
        fprintf(f, "]}");
    }
    fprintf(f, "]}");
}

void qc_compare_json_write(FILE *f, const qc_compare_model *ms, int n_models, const qc_compare_page *p)
{
    fprintf(f, "{\"format\": \"%s\", \"version\": %d, \"qcal\": \"%s\",", QC_COMPARE_FORMAT, QC_COMPARE_VERSION,
            p->version);
    put_field(f, "\n \"calib\": ", p->calib);
    put_field(f, ", \"val\": ", p->val);
    fprintf(f, ", \"layer_images\": %lld, \"skipped\": {\"calib\": %lld, \"val\": %lld},\n \"variants\": [",
            (long long)p->layer_images, (long long)p->calib_skipped, (long long)p->val_skipped);
    for (int k = 0; k < p->n; k++) {
        put_field(f, k ? ",\n  {\"name\": " : "\n  {\"name\": ", p->v[k].name);
        fprintf(f, ", \"scheme\": \"%s\", \"granularity\": \"%s\", \"method\": \"%s\", \"bits\": %d}",
                qc_scheme_name(p->v[k].scheme), qc_granularity_name(p->v[k].granularity),
                qc_method_name(p->v[k].method), p->v[k].bits);
    }
    fprintf(f, "],\n \"models\": [");
    for (int mi = 0; mi < n_models; mi++) {
        if (mi)
            fputc(',', f);
        put_compare_model(f, &ms[mi], p);
    }
    put_number(f, "],\n \"gates\": {\"max_drop\": ", p->gates->max_drop);
    put_number(f, ", \"min_sqnr\": ", p->gates->min_sqnr);
    put_field(f, ", \"gate\": ", p->gates->gate);
    fprintf(f, ", \"passed\": %s, \"failures\": [", json_bool(!p->n_failures));
    for (int i = 0; i < p->n_failures; i++)
        put_field(f, i ? ", " : "", p->failures[i]);
    fprintf(f, "]}}\n");
}

/* ---- eval and bench ------------------------------------------------------------------------- */

static void put_fraction(FILE *f, const char *key, int64_t count, int64_t total)
{
    if (total)
        fprintf(f, ", \"%s\": %.6f", key, (double)count / (double)total);
    else
        fprintf(f, ", \"%s\": null", key);
}

static void put_eval_model(FILE *f, const qc_eval_summary *r, int threads, int64_t batch)
{
    put_field(f, "{\"model\": ", r->path);
    if (r->output[0])
        put_field(f, ", \"output\": ", r->output);
    fprintf(f, ", \"images\": %lld, \"skipped\": %lld, \"labelled\": %lld", (long long)r->counts.images,
            (long long)r->skipped, (long long)r->counts.labelled);
    if (r->counts.labelled)
        fprintf(f, ", \"top1_correct\": %lld, \"top5_correct\": %lld", (long long)r->counts.top1,
                (long long)r->counts.top5);
    else
        fprintf(f, ", \"top1_correct\": null, \"top5_correct\": null");
    put_fraction(f, "top1", r->counts.top1, r->counts.labelled);
    put_fraction(f, "top5", r->counts.top5, r->counts.labelled);
    fprintf(f, ", \"images_per_s\": %.1f, \"threads\": %d, \"batch\": %lld}", qc_eval_images_per_s(r), threads,
            (long long)batch);
}

double qc_eval_images_per_s(const qc_eval_summary *r)
{
    return r->seconds > 0 ? (double)r->counts.images / r->seconds : 0.0;
}

void qc_eval_json_write(FILE *f, const qc_eval_summary *r, int n, int threads, int64_t batch)
{
    if (n == 1) {
        put_eval_model(f, &r[0], threads, batch);
    } else {
        fprintf(f, "{\"models\": [");
        for (int m = 0; m < n; m++) {
            fputs(m ? ", " : "", f);
            put_eval_model(f, &r[m], threads, batch);
        }
        fprintf(f, "]}");
    }
    fputc('\n', f);
}

static void put_spread(FILE *f, const char *key, const qc_spread *s)
{
    fprintf(f, "\"%s\": {\"min\": %.6g, \"mean\": %.6g, \"median\": %.6g, \"p90\": %.6g, \"p99\": %.6g}", key,
            1e3 * s->min, 1e3 * s->mean, 1e3 * s->median, 1e3 * s->p90, 1e3 * s->p99);
}

static void put_timing(FILE *f, const char *key, const qc_bench_timing *t)
{
    fprintf(f, " \"%s\": {\"latency_ms\": %.6g, \"images_per_s\": %.6g, \"cpu_ms_per_image\": %.6g,\n  ", key,
            1e3 * t->wall.median, t->throughput, 1e3 * t->cpu_per_input);
    put_spread(f, "wall_ms", &t->wall);
    fprintf(f, ",\n  ");
    put_spread(f, "thread_cpu_ms", &t->cpu);
    fprintf(f, "},\n");
}

void qc_bench_json_write(FILE *f, const qc_bench_doc *d, const qc_bench_timing *fp32, const qc_bench_timing *int8)
{
    put_field(f, "{\"model\": ", d->model);
    put_field(f, ", \"int8_model\": ", d->int8_model);
    if (d->int8_model)
        fprintf(f, ", \"scheme\": null, \"granularity\": null");
    else
        fprintf(f, ", \"scheme\": \"%s\", \"granularity\": \"%s\"", qc_scheme_name(d->scheme),
                d->weights == QC_GRANULARITY_CHANNEL ? "channel" : "tensor");
    fprintf(f, ", \"batch\": %lld, \"threads\": %d, \"runs\": %lld, \"warmup_runs\": %d,"
               " \"percentiles\": \"nearest-rank\",\n",
            (long long)d->o->batch, d->o->threads, (long long)d->o->runs, (int)d->o->warmup);
    put_timing(f, "fp32", fp32);
    put_timing(f, "int8", int8);
    fprintf(f, " \"speedup\": {\"latency\": %.4g, \"latency_thread_cpu\": %.4g, \"throughput\": %.4g}}\n",
            fp32->wall.median / int8->wall.median, fp32->cpu.median / int8->cpu.median,
            int8->throughput / fp32->throughput);
}

/* ---- inspect and merge ---------------------------------------------------------------------- */

char *qc_report_io_shape(const qc_tensor *t, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    if (t->value.rank < 0)
        return snprintf(buf, size, "?"), buf;
    for (int d = 0; d < t->value.rank && used < size; d++) {
        int n = (t->symbolic >> d & 1)
                    ? snprintf(buf + used, size - used, "%sN", d ? "x" : "")
                    : snprintf(buf + used, size - used, "%s%lld", d ? "x" : "", (long long)t->value.dims[d]);
        used += n > 0 ? (size_t)n : 0;
    }
    if (t->value.rank == 0)
        snprintf(buf, size, "scalar");
    return buf;
}

const char *qc_report_node_shape(const qc_graph *g, int i, bool prepared, char *buf, size_t size)
{
    const qc_node *n = &g->nodes[i];
    const qc_tensor *out = n->n_outputs && n->outputs[0] >= 0 ? &g->tensors[n->outputs[0]] : NULL;
    return out && prepared ? qc_shape_str(&out->value, buf, size) : "?";
}

static void put_graph_values(FILE *f, const qc_graph *g, const int *ids, int n, bool shaped)
{
    char shape[128];
    for (int i = 0; i < n; i++) {
        const qc_tensor *t = &g->tensors[ids[i]];
        put_field(f, i ? ", {\"name\": " : "{\"name\": ", t->name);
        fprintf(f, ", \"dtype\": \"%s\", \"shape\": \"%s\"}", qc_dtype_name(t->value.dtype),
                shaped ? qc_report_io_shape(t, shape, sizeof shape) : "?");
    }
}

void qc_inspect_json_write(FILE *f, const qc_graph *g, const char *path, bool prepared)
{
    char shape[128];
    put_field(f, "{\"model\": ", path);
    fprintf(f, ", \"opset\": %lld, \"parameters\": %lld, \"inputs\": [", (long long)g->opset,
            (long long)qc_graph_param_count(g));
    put_graph_values(f, g, g->inputs, g->n_inputs, true);
    fprintf(f, "], \"outputs\": [");
    put_graph_values(f, g, g->outputs, g->n_outputs, prepared);
    fprintf(f, "], \"nodes\": [");
    for (int i = 0; i < g->n_nodes; i++) {
        const qc_node *n = &g->nodes[i];
        put_field(f, i ? ", {\"op\": " : "{\"op\": ", n->op_type);
        put_field(f, ", \"name\": ", n->name);
        fprintf(f, ", \"output_shape\": \"%s\", \"supported\": %s}",
                qc_report_node_shape(g, i, prepared, shape, sizeof shape),
                json_bool(qc_op_supported(n->op_type, n->domain)));
    }
    fprintf(f, "], \"supported\": %s}\n", json_bool(prepared));
}

void qc_merge_json_write(FILE *f, const char *output, int inputs, const qc_stats *all)
{
    put_field(f, "{\"output\": ", output);
    fprintf(f, ", \"inputs\": %d, \"images\": %lld, \"complete\": %s}\n", inputs, (long long)all->images,
            json_bool(!all->shard_count));
}
