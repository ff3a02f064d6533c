/* math.c — elementwise maps of one float: activations (Tanh, Gelu, HardSwish, Elu, ...) and
 * libm functions (Exp, Log, Sqrt, Erf, ...). */
#include "fp32.h"

#include <math.h>

/* log(1 + e^x) without overflow: for x > 0, x + log(1 + e^-x). */
static float softplus(float x)
{
    return x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x));
}

static float clamp01(float v)
{
    /* NaN stays NaN (comparisons with NaN are false) */
    return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
}

/* x/2 (1 + tanh(u)) written as x / (1 + e^(-2u)): for very negative x, 1 + tanh(u) cancels
 * to nothing in float while the true value is a tiny negative number. In double, so that
 * e^(-2u) overflowing to infinity only happens where the result is -0. */
static float gelu_tanh(float x)
{
    const double k = 0.79788456080286535588; /* sqrt(2 / pi) */
    double v = x, u = k * (v + 0.044715 * v * v * v);
    return (float)(v / (1.0 + exp(-2.0 * u)));
}

/* One element. The switch per element costs little beside the libm call most cases make. */
static inline float unary_one(qc_f32_unary_op op, const qc_f32_unary_params *p, float x)
{
    switch (op) {
    case QC_F32_TANH: return tanhf(x);
    case QC_F32_ERF: return erff(x);
    case QC_F32_SQRT: return sqrtf(x);
    case QC_F32_RECIPROCAL: return 1.0f / x;
    case QC_F32_EXP: return expf(x);
    case QC_F32_LOG: return logf(x);
    case QC_F32_NEG: return -x;
    case QC_F32_ABS: return fabsf(x);
    case QC_F32_FLOOR: return floorf(x);
    case QC_F32_CEIL: return ceilf(x);
    case QC_F32_SIN: return sinf(x);
    case QC_F32_COS: return cosf(x);
    case QC_F32_SOFTSIGN: return x / (1.0f + fabsf(x));
    case QC_F32_SOFTPLUS: return softplus(x);
    case QC_F32_MISH: return x * tanhf(softplus(x));
    /* 1 + erf(z) = erfc(-z), which keeps its precision where erf(z) nears -1 */
    case QC_F32_GELU: return 0.5f * x * erfcf(-x * 0.70710678118654752f);
    case QC_F32_GELU_TANH: return gelu_tanh(x);
    case QC_F32_HARD_SIGMOID: return clamp01(p->alpha * x + p->beta);
    case QC_F32_HARD_SWISH: return x * clamp01(x * (1.0f / 6.0f) + 0.5f);
    case QC_F32_ELU: return x >= 0.0f ? x : p->alpha * expm1f(x);
    case QC_F32_SELU: return p->gamma * (x > 0.0f ? x : p->alpha * expm1f(x));
    case QC_F32_CELU: {
        float neg = p->alpha * expm1f(x / p->alpha);
        return (x > 0.0f ? x : 0.0f) + (neg < 0.0f ? neg : 0.0f);
    }
    case QC_F32_THRESHOLDED_RELU: return x > p->alpha ? x : 0.0f;
    }
    return x;
}

void qc_f32_unary(qc_f32_unary_op op, const qc_f32_unary_params *p, int64_t n, const float *x,
                  float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = unary_one(op, p, x[i]);
}
