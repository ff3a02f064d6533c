/* unary.c — elementwise activations: Relu, LeakyRelu, Sigmoid, Clip (float and integer). */
#include "fp32-impl.h"

#include <math.h>

void qc_f32_relu(int64_t n, const float *x, float *y)
{
    qc_f32_kernels()->relu(n, x, y);
}

void qc_f32_clip(int64_t n, float lo, float hi, const float *x, float *y)
{
    qc_f32_kernels()->clip(n, lo, hi, x, y);
}

void qc_f32_relu__scalar(int64_t n, const float *x, float *y)
{
    /* Written as "x < 0 ? 0 : x" rather than fmaxf so that NaN propagates (as numpy's
     * maximum does) instead of turning into 0. */
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void qc_f32_leaky_relu(int64_t n, float alpha, const float *x, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] < 0.0f ? alpha * x[i] : x[i];
}

void qc_f32_sigmoid(int64_t n, const float *x, float *y)
{
    /* exp of a positive argument never appears: for x < 0 use e^x / (1 + e^x), whose
     * exponential underflows gracefully to 0 instead of overflowing to infinity. */
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        if (v >= 0.0f) {
            y[i] = 1.0f / (1.0f + expf(-v));
        } else {
            float e = expf(v);
            y[i] = e / (1.0f + e);
        }
    }
}

void qc_f32_clip__scalar(int64_t n, float lo, float hi, const float *x, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = qc_f32_clamp1(x[i], lo, hi);
}

#define DEFINE_CLIP(NAME, T, TMIN, TMAX)                                                      \
    static void NAME(int64_t n, int64_t lo, int64_t hi, const void *vx, void *vy)             \
    {                                                                                         \
        const T *x = vx;                                                                      \
        T *y = vy;                                                                            \
        T l = (T)(lo < (TMIN) ? (TMIN) : lo > (TMAX) ? (TMAX) : lo);                          \
        T h = (T)(hi < (TMIN) ? (TMIN) : hi > (TMAX) ? (TMAX) : hi);                          \
        for (int64_t i = 0; i < n; i++) {                                                     \
            T v = x[i] < l ? l : x[i];                                                        \
            y[i] = v > h ? h : v;                                                             \
        }                                                                                     \
    }

DEFINE_CLIP(clip_u8, uint8_t, 0, UINT8_MAX)
DEFINE_CLIP(clip_i8, int8_t, INT8_MIN, INT8_MAX)
DEFINE_CLIP(clip_i32, int32_t, INT32_MIN, INT32_MAX)
DEFINE_CLIP(clip_i64, int64_t, INT64_MIN, INT64_MAX)

void qc_f32_clip_int(qc_f32_elem type, int64_t n, int64_t lo, int64_t hi, const void *x, void *y)
{
    switch (type) {
    case QC_F32_ELEM_UINT8:
        clip_u8(n, lo, hi, x, y);
        break;
    case QC_F32_ELEM_INT8:
        clip_i8(n, lo, hi, x, y);
        break;
    case QC_F32_ELEM_INT32:
        clip_i32(n, lo, hi, x, y);
        break;
    case QC_F32_ELEM_INT64:
        clip_i64(n, lo, hi, x, y);
        break;
    case QC_F32_ELEM_FLOAT:
        qc_f32_clip(n, (float)lo, (float)hi, x, y);
        break;
    }
}
