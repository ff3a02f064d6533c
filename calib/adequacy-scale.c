/* adequacy-scale.c — stats/'s bootstrap of calibration adequacy judged on the scales quantize
 * would write: stats/ stays below calib/, so the scale of a range comes from here. */
#include <math.h>

#include "calib.h"

typedef struct {
    qc_scheme scheme;
    int bits;
} activation_scheme;

static double activation_scale(void *ctx, float lo, float hi)
{
    const activation_scheme *a = ctx;
    qc_qparams q;
    return qc_qparams_activation(lo, hi, a->scheme, a->bits, false, "", &q, NULL) == QC_OK ? q.scale : NAN;
}

qc_status qc_adequacy_of_activations(const qc_stats *s, const qc_group_table *g, const qc_adequacy_options *o,
                                     qc_scheme scheme, int bits, qc_adequacy *out, qc_error *err)
{
    activation_scheme a = {scheme, bits};
    qc_adequacy_options run = *o;
    run.scale = activation_scale;
    run.scale_ctx = &a;
    return qc_adequacy_run(s, g, &run, out, err);
}

qc_status qc_adequacy_judge(const qc_stats *s, const qc_group_table *g, const qc_adequacy_settings *a,
                            const qc_range_params *params, qc_adequacy *out, qc_error *err)
{
    qc_adequacy_options ao;
    qc_adequacy_options_default(&ao);
    ao.method = a->method;
    ao.params = *params;
    ao.tolerance = a->tolerance_pct / 100.0;
    ao.resamples = a->resamples;
    return qc_adequacy_of_activations(s, g, &ao, a->scheme, a->bits, out, err);
}

bool qc_adequacy_settings_are_default(const qc_adequacy_settings *a)
{
    const qc_adequacy_settings plain = QC_ADEQUACY_DEFAULT;
    return a->tolerance_pct == plain.tolerance_pct && a->method == plain.method && a->scheme == plain.scheme &&
           a->bits == plain.bits && a->resamples == plain.resamples;
}
