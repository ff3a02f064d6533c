/* add-scalar.c — reference u8 QLinearAdd (eqs. S1–S3); defines the bits. */
#include "int8-impl.h"

/* floor(p / 2^s) without relying on the sign behaviour of >> */
static int64_t floor_shift(int64_t v, int s)
{
    return v >= 0 ? v >> s : -((-(v + 1)) >> s) - 1;
}

QC_QADD_U8(qc_qadd_u8__scalar)
{
    const int s = p->shift;
    const int64_t lo = p->qmin - p->y_zero_point, hi = p->qmax - p->y_zero_point;
    for (size_t i = 0; i < n; i++) {
        /* S1: exact, |v| < 2 · 255 · 2^31 */
        const int64_t v = ((int64_t)a[i] - p->a_zero_point) * p->a_multiplier +
                          ((int64_t)b[i] - p->b_zero_point) * p->b_multiplier;
        /* S2: rint(v / 2^s), ties to even, as eq. R4 */
        const int64_t f = floor_shift(v, s);
        const int64_t r =
            floor_shift(v + ((int64_t)1 << (s - 1)) - 1 + (int64_t)((uint64_t)f & 1), s);
        /* S3 */
        y[i] = (uint8_t)((r < lo ? lo : r > hi ? hi : r) + p->y_zero_point);
    }
}
