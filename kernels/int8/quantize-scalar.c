/* quantize-scalar.c — reference f32 ⇄ u8/s8/int32 (ONNX QuantizeLinear / DequantizeLinear). */
#include "int8-impl.h"

#include <math.h>

/* Q1–Q3: x / scale in single precision, rint (half to even: the default rounding mode), NaN
 * to 0, + z, saturate to [qmin, qmax] */
static int32_t quantize_one(float x, float scale, int32_t z, int32_t qmin, int32_t qmax)
{
    float v = rintf(x / scale);
    if (isnan(v))
        v = 0.0f;
    v += (float)z;
    if (v < (float)qmin)
        v = (float)qmin;
    if (v > (float)qmax)
        v = (float)qmax;
    return (int32_t)v;
}

#define QUANTIZE_BODY(T)                                                                       \
    for (size_t o = 0; o < outer; o++)                                                         \
        for (size_t c = 0; c < channels; c++) {                                                \
            const float s = q->scale[c];                                                       \
            const int32_t z = q->zero_point != NULL ? q->zero_point[c] : 0;                    \
            const size_t base = (o * channels + c) * inner;                                    \
            for (size_t i = 0; i < inner; i++)                                                 \
                y[base + i] = (T)quantize_one(x[base + i], s, z, q->qmin, q->qmax);            \
        }

QC_QUANTIZE(qc_quantize_u8__scalar, uint8_t)
{
    QUANTIZE_BODY(uint8_t)
}

QC_QUANTIZE(qc_quantize_s8__scalar, int8_t)
{
    QUANTIZE_BODY(int8_t)
}

/* D1: (float)(q − z) · scale; the difference is exact for 8 bits, mod 2^32 for int32 */
#define DEQUANTIZE_BODY                                                                        \
    for (size_t o = 0; o < outer; o++)                                                         \
        for (size_t c = 0; c < channels; c++) {                                                \
            const float s = scale[c];                                                          \
            const uint32_t z = zero_point != NULL ? (uint32_t)zero_point[c] : 0;               \
            const size_t base = (o * channels + c) * inner;                                    \
            for (size_t i = 0; i < inner; i++)                                                 \
                y[base + i] = (float)(int32_t)((uint32_t)x[base + i] - z) * s;                 \
        }

QC_DEQUANTIZE(qc_dequantize_u8__scalar, uint8_t)
{
    DEQUANTIZE_BODY
}

QC_DEQUANTIZE(qc_dequantize_s8__scalar, int8_t)
{
    DEQUANTIZE_BODY
}

QC_DEQUANTIZE(qc_dequantize_s32__scalar, int32_t)
{
    DEQUANTIZE_BODY
}
