/* qparams.c — quantization parameters from ranges and weights, rounding, scalar quantize and
 * dequantize, biases and fixed-point requantization multipliers (docs/qparams.md, eqs. P1–P17). */
#include "calib.h"
#include "kernels/kernels.h"

#include <float.h>
#include <math.h>
#include <string.h>
#include <strings.h>

/* ---- integer ranges (eqs. P2, P3) --------------------------------------------------------- */

typedef enum { RANGE_UNSIGNED, RANGE_SIGNED, RANGE_NARROW } range_kind;

/* qmin, qmax of a b-bit range (eq. P2), or its reduced form for weights (eq. P3) */
static void int_range(range_kind kind, int bits, bool reduce_range, int32_t *qmin, int32_t *qmax)
{
    const int32_t half = (int32_t)1 << (bits - 1); /* 2^(b−1) */
    switch (kind) {
    case RANGE_UNSIGNED:
        *qmin = 0;
        *qmax = reduce_range ? half - 1 : 2 * half - 1; /* P3b : P2a */
        break;
    case RANGE_SIGNED:
        *qmin = -half; /* P2b */
        *qmax = half - 1;
        break;
    case RANGE_NARROW:
        *qmax = reduce_range ? half / 2 : half - 1; /* P3a : P2c */
        *qmin = -*qmax;
        break;
    }
}

static const char *name_or_unnamed(const char *tensor)
{
    return tensor != NULL ? tensor : "(unnamed)";
}

static qc_status check_config(qc_scheme scheme, int bits, const char *tensor, qc_error *err)
{
    if ((unsigned)scheme >= QC_SCHEME_COUNT)
        return qc_fail(err, QC_ERR_INPUT, "tensor '%s': unknown quantization scheme %d",
                       name_or_unnamed(tensor), (int)scheme);
    if (bits < QC_BITS_MIN || bits > QC_BITS_MAX)
        return qc_fail(err, QC_ERR_INPUT, "tensor '%s': %d bits is outside %d..%d",
                       name_or_unnamed(tensor), bits, QC_BITS_MIN, QC_BITS_MAX);
    return QC_OK;
}

/* ---- scale and zero point from a checked range ------------------------------------------- */

/* Rounds a double to the nearest integer, ties away from zero: gemmlowp's and TFLite's
 * std::round in the zero-point nudge (eq. P7) and QuantizeMultiplier (eq. P16). */
static double round_half_away(double x)
{
    return round(x);
}

/* Stores scale s (computed in double) into p, or the fallback of eq. P10 when s would not be
 * a positive normal float. Returns false when s is too large for a float. */
static bool set_scale(double s, qc_qparams *p, bool *fallback)
{
    *fallback = false;
    if (s > (double)FLT_MAX)
        return false;
    p->scale = (float)s;
    if (!(p->scale >= FLT_MIN)) { /* 0, subnormal, or rounded down below FLT_MIN */
        *fallback = true;
        p->scale = 1.0f;
        p->zero_point = 0;
    }
    return true;
}

/* GemmLowP (eqs. P5–P8): widen to contain 0, scale over the whole integer range, nudge the
 * zero point to the integer nearest to where real 0 falls. */
static bool gemmlowp_params(double min, double max, qc_qparams *p)
{
    min = fmin(min, 0.0); /* P5 */
    max = fmax(max, 0.0);
    bool fallback;
    if (!set_scale((max - min) / ((double)p->qmax - p->qmin), p, &fallback)) /* P6 */
        return false;
    if (fallback)
        return true;
    /* P7: with min ≤ 0 ≤ max, qmin − min/s lies in [qmin, qmax] up to rounding; clamping
     * keeps the zero point in range whatever the float scale rounded to. */
    const double zp = round_half_away((double)p->qmin - min / (double)p->scale);
    p->zero_point = zp < p->qmin ? p->qmin : zp > p->qmax ? p->qmax : (int32_t)zp;
    return true;
}

/* SymLowP (eqs. P9a–c): zero point 0, the real range [−a, a] or [0, a] on [−qmax, qmax] or
 * [0, qmax]: scale = a / qmax. */
static bool symlowp_params(double a, qc_qparams *p)
{
    bool fallback;
    if (!set_scale(a / (double)p->qmax, p, &fallback))
        return false;
    p->zero_point = 0;
    return true;
}

/* ---- activations --------------------------------------------------------------------------- */

qc_status qc_qparams_activation(float min, float max, qc_scheme scheme, int bits,
                                bool is_signed_hint, const char *tensor, qc_qparams *out,
                                qc_error *err)
{
    qc_status st = check_config(scheme, bits, tensor, err);
    if (st != QC_OK)
        return st;
    scheme = qc_scheme_for_activations(scheme);
    if (!isfinite(min) || !isfinite(max)) /* P4 */
        return qc_fail(err, QC_ERR_INPUT, "tensor '%s': range [%g, %g] is not finite",
                       name_or_unnamed(tensor), (double)min, (double)max);
    if (min > max)
        return qc_fail(err, QC_ERR_INPUT, "tensor '%s': range min %g is greater than max %g",
                       name_or_unnamed(tensor), (double)min, (double)max);

    qc_qparams p = {0};
    bool ok;
    if (scheme == QC_SCHEME_GEMMLOWP) {
        int_range(is_signed_hint ? RANGE_SIGNED : RANGE_UNSIGNED, bits, false, &p.qmin, &p.qmax);
        ok = gemmlowp_params(min, max, &p);
    } else if (!is_signed_hint && min >= 0.0f) {
        int_range(RANGE_UNSIGNED, bits, false, &p.qmin, &p.qmax); /* P9a */
        ok = symlowp_params(max, &p);
    } else {
        int_range(RANGE_SIGNED, bits, false, &p.qmin, &p.qmax); /* P9b */
        ok = symlowp_params(fmax(fabs((double)min), fabs((double)max)), &p);
    }
    if (!ok)
        return qc_fail(err, QC_ERR_INPUT,
                       "tensor '%s': range [%g, %g] is too wide for %d bits (scale overflows)",
                       name_or_unnamed(tensor), (double)min, (double)max, bits);
    *out = p;
    return QC_OK;
}

/* ---- weights ------------------------------------------------------------------------------ */

/* min and max of channel c (all channels when c < 0); fails on NaN or Inf (eq. P4) */
static qc_status weight_range(const float *w, int64_t outer, int64_t channels, int64_t inner,
                              int64_t c, const char *tensor, double *min, double *max,
                              qc_error *err)
{
    const int64_t c0 = c < 0 ? 0 : c, c1 = c < 0 ? channels : c + 1;
    double lo = 0.0, hi = 0.0; /* an empty channel is an all-zero one (eq. P10) */
    bool any = false;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t ch = c0; ch < c1; ch++) {
            const int64_t base = (o * channels + ch) * inner;
            for (int64_t i = 0; i < inner; i++) {
                const float v = w[base + i];
                if (!isfinite(v))
                    return qc_fail(err, QC_ERR_INPUT,
                                   "tensor '%s': weight %lld (channel %lld) is %g",
                                   name_or_unnamed(tensor), (long long)(base + i),
                                   (long long)ch, (double)v);
                if (!any || v < lo)
                    lo = v;
                if (!any || v > hi)
                    hi = v;
                any = true;
            }
        }
    *min = lo;
    *max = hi;
    return QC_OK;
}

qc_status qc_qparams_weights(const float *w, int64_t outer, int64_t channels, int64_t inner,
                             qc_granularity granularity, qc_scheme scheme, int bits,
                             bool reduce_range, const char *tensor, qc_qparams *out,
                             qc_error *err)
{
    const bool per_channel = granularity != QC_GRANULARITY_TENSOR;
    qc_status st = check_config(scheme, bits, tensor, err);
    if (st != QC_OK)
        return st;
    scheme = qc_scheme_for_weights(scheme);
    if (outer < 0 || channels < 0 || inner < 0 || (per_channel && channels == 0))
        return qc_fail(err, QC_ERR_INPUT,
                       "tensor '%s': bad weight layout %lld × %lld × %lld for %s quantization",
                       name_or_unnamed(tensor), (long long)outer, (long long)channels,
                       (long long)inner, per_channel ? "per-channel" : "per-tensor");

    const int64_t n_out = per_channel ? channels : 1;
    for (int64_t c = 0; c < n_out; c++) {
        double min = 0.0, max = 0.0;
        st = weight_range(w, outer, channels, inner, per_channel ? c : -1, tensor, &min, &max,
                          err);
        if (st != QC_OK)
            return st;
        qc_qparams p = {0};
        bool ok;
        if (scheme == QC_SCHEME_GEMMLOWP) {
            int_range(RANGE_UNSIGNED, bits, reduce_range, &p.qmin, &p.qmax);
            ok = gemmlowp_params(min, max, &p);
        } else {
            int_range(RANGE_NARROW, bits, reduce_range, &p.qmin, &p.qmax); /* P9c */
            ok = symlowp_params(fmax(fabs(min), fabs(max)), &p);
        }
        if (!ok)
            return qc_fail(err, QC_ERR_INPUT,
                           "tensor '%s': weights in [%g, %g] are too wide for %d bits",
                           name_or_unnamed(tensor), min, max, bits);
        out[c] = p;
    }
    return QC_OK;
}

qc_qparams qc_qparams_bias(float s_x, float s_w)
{
    return (qc_qparams){.scale = s_x * s_w, .zero_point = 0, .qmin = INT32_MIN, .qmax = INT32_MAX};
}

/* ---- rounding (eqs. P11a–i) ------------------------------------------------------------- */

/* The nearest modes compare the fraction d = x − floor(x) with 1/2. In double, d is exact for
 * every float x, so a float just below a tie (0.49999997) is never pushed onto it, as
 * floor(x + 0.5) in float would; and nothing depends on fesetround. */
static double round_half_even(double x)
{
    const double f = floor(x), d = x - f;
    if (d < 0.5)
        return f;
    if (d > 0.5)
        return f + 1.0;
    return fmod(f, 2.0) == 0.0 ? f : f + 1.0;
}

/* P11g: ties toward +inf (floor(x + 1/2) in exact arithmetic); P11h: toward −inf */
static double round_half_up(double x)
{
    const double f = floor(x);
    return x - f >= 0.5 ? f + 1.0 : f;
}

static double round_half_down(double x)
{
    const double f = floor(x);
    return x - f > 0.5 ? f + 1.0 : f;
}

float qc_round(float x, qc_round_mode mode)
{
    if (!isfinite(x))
        return x;
    switch (mode) {
    case QC_ROUND_HALF_EVEN:
        return (float)round_half_even(x);
    case QC_ROUND_HALF_AWAY:
        return roundf(x); /* P11b */
    case QC_ROUND_TOWARD_ZERO:
        return truncf(x); /* P11c */
    case QC_ROUND_UP:
        return ceilf(x); /* P11d */
    case QC_ROUND_DOWN:
        return floorf(x); /* P11e */
    case QC_ROUND_HALF_TOWARD_ZERO: /* P11f: ties of |x| down, the sign put back */
        return copysignf((float)round_half_down(fabs((double)x)), x);
    case QC_ROUND_HALF_UP:
        return (float)round_half_up(x);
    case QC_ROUND_HALF_DOWN:
        return (float)round_half_down(x);
    case QC_ROUND_AWAY_FROM_ZERO: /* P11i */
        return copysignf(ceilf(fabsf(x)), x);
    }
    return (float)round_half_even(x); /* an out-of-range mode: the default */
}

/* ---- quantize / dequantize (eqs. P12–P14) ------------------------------------------------- */

int32_t qc_quantize_value(float x, const qc_qparams *p, qc_round_mode mode)
{
    /* P12 */
    if (isnan(x))
        return p->zero_point;
    const float t = qc_round(x / p->scale, mode); /* fl(x / s): single precision, as ONNX */
    const double v = (double)t + p->zero_point;   /* exact: t is an integer or ±Inf */
    if (v <= p->qmin)
        return p->qmin;
    if (v >= p->qmax)
        return p->qmax;
    return (int32_t)v;
}

float qc_dequantize_value(int32_t q, const qc_qparams *p)
{
    /* P13: q − z exact in 64 bits, then one float conversion and one float multiply */
    return (float)((int64_t)q - p->zero_point) * p->scale;
}

float qc_fake_quantize(float x, const qc_qparams *p, qc_round_mode mode)
{
    return qc_dequantize_value(qc_quantize_value(x, p, mode), p);
}

void qc_quantize_array(int64_t outer, int64_t channels, int64_t inner, const float *x,
                       const qc_qparams *p, qc_round_mode mode, int32_t *q)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < channels; c++) {
            const int64_t base = (o * channels + c) * inner;
            for (int64_t i = 0; i < inner; i++)
                q[base + i] = qc_quantize_value(x[base + i], &p[c], mode);
        }
}

void qc_dequantize_array(int64_t outer, int64_t channels, int64_t inner, const int32_t *q,
                         const qc_qparams *p, float *x)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < channels; c++) {
            const int64_t base = (o * channels + c) * inner;
            for (int64_t i = 0; i < inner; i++)
                x[base + i] = qc_dequantize_value(q[base + i], &p[c]);
        }
}

/* ---- bias (eq. P15) ----------------------------------------------------------------------- */

int32_t qc_bias_quantize(float b, float s_x, float s_w)
{
    const float s = s_x * s_w; /* the bias scale, as written into the model */
    if (isnan(b) || b == 0.0f)
        return 0;
    if (!(s > 0.0f)) /* the product underflowed (or a bad scale): saturate by sign */
        return b > 0.0f ? INT32_MAX : INT32_MIN;
    const double t = (double)b / (double)s; /* ±Inf only for b = ±Inf: s ≥ 2^-149 */
    const double r = isfinite(t) ? round_half_even(t) : t;
    if (r <= (double)INT32_MIN)
        return INT32_MIN;
    if (r >= (double)INT32_MAX)
        return INT32_MAX;
    return (int32_t)r;
}

void qc_bias_quantize_array(int64_t n, const float *b, float s_x, const qc_qparams *w,
                            qc_granularity weights, int32_t *q)
{
    const bool per_channel = weights != QC_GRANULARITY_TENSOR;
    for (int64_t i = 0; i < n; i++)
        q[i] = qc_bias_quantize(b[i], s_x, w[per_channel ? i : 0].scale);
}

/* ---- requantization multiplier (eqs. P16, P17) ------------------------------------------ */

qc_status qc_quantize_multiplier(double m, int32_t *multiplier, int32_t *shift, qc_error *err)
{
    int32_t mult, sh;
    switch (qc_requant_multiplier(m, &mult, &sh)) {
    case QC_MULTIPLIER_NOT_POSITIVE:
        return qc_fail(err, QC_ERR_INPUT, "requantization multiplier %g is not a positive number",
                       m);
    case QC_MULTIPLIER_TOO_LARGE:
        return qc_fail(err, QC_ERR_INPUT,
                       "requantization multiplier %g is too large (at least 2^30)", m);
    case QC_MULTIPLIER_TOO_SMALL:
        return qc_fail(err, QC_ERR_INPUT,
                       "requantization multiplier %g is too small (below 2^-32: every output "
                       "would round to the zero point)", m);
    default:
        *multiplier = mult;
        *shift = sh;
        return QC_OK;
    }
}

/* ---- names -------------------------------------------------------------------------------- */

static const char *const scheme_names[QC_SCHEME_COUNT] = {"gemmlowp", "symlowp", "mixed"};
static const char *const round_names[QC_ROUND_COUNT] = {
    "half-even",        "half-away", "toward-zero", "up",            "down",
    "half-toward-zero", "half-up",   "half-down",   "away-from-zero"};
static const char *const round_ngraph_names[QC_ROUND_COUNT] = {
    "ROUND_NEAREST_TOWARD_EVEN", "ROUND_NEAREST_TOWARD_INFINITY", "ROUND_TOWARD_ZERO",
    "ROUND_UP",                  "ROUND_DOWN",                    "ROUND_NEAREST_TOWARD_ZERO",
    "ROUND_NEAREST_UPWARD",      "ROUND_NEAREST_DOWNWARD",        "ROUND_TOWARD_INFINITY"};

const char *qc_scheme_name(qc_scheme scheme)
{
    return (unsigned)scheme < QC_SCHEME_COUNT ? scheme_names[scheme] : "unknown";
}

qc_scheme qc_scheme_for_weights(qc_scheme scheme)
{
    return scheme == QC_SCHEME_MIXED ? QC_SCHEME_SYMLOWP : scheme;
}

qc_scheme qc_scheme_for_activations(qc_scheme scheme)
{
    return scheme == QC_SCHEME_MIXED ? QC_SCHEME_GEMMLOWP : scheme;
}

bool qc_scheme_parse(const char *name, qc_scheme *out)
{
    for (int i = 0; i < QC_SCHEME_COUNT; i++)
        if (strcmp(name, scheme_names[i]) == 0) {
            *out = (qc_scheme)i;
            return true;
        }
    return false;
}

const char *qc_round_mode_name(qc_round_mode mode)
{
    return (unsigned)mode < QC_ROUND_COUNT ? round_names[mode] : "unknown";
}

const char *qc_round_mode_ngraph_name(qc_round_mode mode)
{
    return (unsigned)mode < QC_ROUND_COUNT ? round_ngraph_names[mode] : "unknown";
}

bool qc_round_mode_parse(const char *name, qc_round_mode *out)
{
    for (int i = 0; i < QC_ROUND_COUNT; i++)
        if (strcmp(name, round_names[i]) == 0 || strcasecmp(name, round_ngraph_names[i]) == 0) {
            *out = (qc_round_mode)i;
            return true;
        }
    return false;
}

static const char *const granularity_names[] = {"tensor", "channel", "compensated"};

const char *qc_granularity_name(qc_granularity g)
{
    return (unsigned)g < 3 ? granularity_names[g] : "unknown";
}

bool qc_granularity_parse(const char *name, qc_granularity *out)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(name, granularity_names[i]) == 0) {
            *out = (qc_granularity)i;
            return true;
        }
    return false;
}

qc_granularity qc_granularity_weights(qc_granularity g)
{
    return g == QC_GRANULARITY_TENSOR ? QC_GRANULARITY_TENSOR : QC_GRANULARITY_CHANNEL;
}

qc_granularity qc_granularity_activations(qc_granularity g)
{
    return g == QC_GRANULARITY_COMPENSATED ? QC_GRANULARITY_COMPENSATED : QC_GRANULARITY_TENSOR;
}
