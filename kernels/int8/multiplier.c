/* multiplier.c — a real requantization multiplier as a 31-bit fixed-point multiplier and shift. */
#include <math.h>

#include "int8.h"

/* Nearest integer, ties away from zero, whatever the floating-point rounding mode. */
static double round_half_away(double x)
{
    double r = floor(fabs(x) + 0.5);
    return x < 0 ? -r : r;
}

int qc_requant_multiplier(double m, int32_t *multiplier, int32_t *shift)
{
    if (!isfinite(m) || !(m > 0.0))
        return QC_MULTIPLIER_NOT_POSITIVE;
    int e;
    const double f = frexp(m, &e);                      /* m = f · 2^e, f in [0.5, 1) */
    int64_t q = (int64_t)round_half_away(ldexp(f, 31)); /* in [2^30, 2^31] */
    if (q == (int64_t)1 << 31) {                        /* f rounded up to 1 */
        q /= 2;
        e++;
    }
    const int total = 31 - e; /* m ≈ q · 2^(e − 31) */
    if (total < 1)
        return QC_MULTIPLIER_TOO_LARGE;
    if (total > 62) {
        *multiplier = (int32_t)1 << 30;
        *shift = 62;
        return QC_MULTIPLIER_TOO_SMALL;
    }
    *multiplier = (int32_t)q;
    *shift = total;
    return QC_MULTIPLIER_OK;
}
