/* requantize-scalar.c — reference int32 → u8/s8 requantization (eqs. R1–R5); defines the bits. */
#include "int8-impl.h"

/* floor(p / 2^s) without relying on the sign behaviour of >> */
static int64_t floor_shift(int64_t p, int s)
{
    return p >= 0 ? p >> s : -((-(p + 1)) >> s) - 1;
}

static int32_t requantize_one(int32_t acc, int32_t bias, int32_t mult, int32_t shift, int32_t lo,
                              int32_t hi)
{
    /* R1: the sum is taken mod 2^32 */
    int32_t t = (int32_t)((uint32_t)acc + (uint32_t)bias);
    /* R2: with a multiplier ≥ 1/2 (shift < 31) |t| > 2^shift saturates anyway: bound t so
     * that the product below stays within 62 bits and the result within int32 */
    if (shift < 31) {
        const int32_t bound = (int32_t)1 << shift;
        t = t < -bound ? -bound : t > bound ? bound : t;
    }
    /* R3 */
    const int64_t p = (int64_t)t * mult;
    /* R4: round p / 2^shift to nearest, ties to even */
    const int64_t f = floor_shift(p, shift);
    const int64_t half_m1 = ((int64_t)1 << (shift - 1)) - 1;
    const int64_t r = floor_shift(p + half_m1 + (int64_t)((uint64_t)f & 1), shift);
    /* R5 (the zero point is added after the clamp, see the callers) */
    return (int32_t)(r < lo ? lo : r > hi ? hi : r);
}

#define REQUANTIZE_BODY(T)                                                                     \
    const int g = rq->granularity;                                                             \
    const int32_t z = rq->zero_point, lo = rq->qmin - z, hi = rq->qmax - z;                    \
    for (size_t i = 0; i < m; i++) {                                                           \
        for (size_t j = 0; j < n; j++) {                                                       \
            const size_t ch = g == QC_PER_COLUMN ? j : g == QC_PER_ROW ? i : 0;                \
            const int32_t b = bias != NULL ? bias[ch] : 0;                                     \
            const int32_t r = requantize_one(acc[i * acc_stride + j], b, rq->multiplier[ch],    \
                                             rq->shift[ch], lo, hi);                           \
            y[i * y_stride + j] = (T)(r + z);                                                  \
        }                                                                                      \
    }

QC_REQUANTIZE_U8(qc_requantize_u8__scalar)
{
    REQUANTIZE_BODY(uint8_t)
}

QC_REQUANTIZE_S8(qc_requantize_s8__scalar)
{
    REQUANTIZE_BODY(int8_t)
}
