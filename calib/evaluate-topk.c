/* evaluate-topk.c — eval's count over an image set: each image's scores, in image order,
 * counted against its label (top-1, top-5) and written as a line of the predictions file. */
#include "calib.h"

typedef struct {
    const qc_image_set *set;
    const qc_eval_topk_options *o;
    int classes;
    qc_eval_summary *s;
} topk_sink;

static qc_status count_one(void *ctx, const qc_eval_result *r, qc_error *err)
{
    topk_sink *c = ctx;
    const qc_image_item *img = &c->set->items[r->index];
    if (r->status != QC_OK) { /* unreadable, kept to be told */
        c->s->skipped++;
        if (c->o->on_skip)
            c->o->on_skip(c->o->skip_ctx, r->err->msg);
        return QC_OK;
    }
    int top1 = qc_topk_count(&c->s->counts, r->logits, c->classes, img->label);
    if (c->o->predictions)
        return qc_prediction_put(c->o->predictions, img->rel, top1, img->label, c->o->scores ? r->logits : NULL,
                                 c->classes, err);
    return QC_OK;
}

qc_status qc_eval_topk(const qc_graph *g, const qc_image_input *in, const qc_image_set *set, const qc_preprocess *pp,
                       const qc_eval_topk_options *o, qc_eval_summary *s, qc_error *err)
{
    topk_sink sink = {.set = set, .o = o, .classes = in->classes, .s = s};
    qc_pass_inputs inputs = {.set = set, .pp = pp};
    qc_eval_options eo = {.run = o->run, .keep_unreadable = o->keep_unreadable, .sink = count_one,
                          .sink_ctx = &sink, .output = in->output};
    return qc_eval_logits(g, &inputs, in->classes, &eo, err);
}
