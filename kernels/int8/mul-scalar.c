/* mul-scalar.c — reference u8 QLinearMul (eqs. M1–M3); defines the bits. */
#include "int8-impl.h"

/* floor(p / 2^s) without relying on the sign behaviour of >> */
static int64_t floor_shift(int64_t v, int s)
{
    return v >= 0 ? v >> s : -((-(v + 1)) >> s) - 1;
}

void qc_qmul_u8__scalar(size_t n, const uint8_t *a, const uint8_t *b, const qc_qmul *p,
                        uint8_t *y)
{
    const int s = p->shift;
    const int64_t lo = p->qmin - p->y_zero_point, hi = p->qmax - p->y_zero_point;
    for (size_t i = 0; i < n; i++) {
        /* M1: exact, |t| ≤ 255² < 2^16, so |t · multiplier| < 2^47 */
        const int64_t t = ((int64_t)a[i] - p->a_zero_point) * ((int64_t)b[i] - p->b_zero_point);
        const int64_t v = t * p->multiplier;
        /* M2: rint(v / 2^s), ties to even, as eq. R4 */
        const int64_t f = floor_shift(v, s);
        const int64_t r =
            floor_shift(v + ((int64_t)1 << (s - 1)) - 1 + (int64_t)((uint64_t)f & 1), s);
        /* M3 */
        y[i] = (uint8_t)((r < lo ? lo : r > hi ? hi : r) + p->y_zero_point);
    }
}
