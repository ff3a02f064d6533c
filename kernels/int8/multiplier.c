/* multiplier.c — real requantization multipliers as 31-bit fixed-point multipliers and shifts. */
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

int qc_qadd_multipliers(double ra, double rb, qc_qadd *p)
{
    if (!isfinite(ra) || !isfinite(rb) || !(ra > 0.0) || !(rb > 0.0))
        return QC_MULTIPLIER_NOT_POSITIVE;
    int e;
    frexp(ra > rb ? ra : rb, &e); /* max = f · 2^e, f in [0.5, 1) */
    /* max · 2^(31 − e) is in [2^30, 2^31); 62 bounds the shift, 2^31 the multipliers */
    int shift = 31 - e > 62 ? 62 : 31 - e;
    double ma, mb;
    for (;; shift--) {
        if (shift < 16)
            return QC_MULTIPLIER_TOO_LARGE;
        ma = round_half_away(ldexp(ra, shift));
        mb = round_half_away(ldexp(rb, shift));
        if (ma < 2147483648.0 && mb < 2147483648.0)
            break; /* the larger ratio did not round up to 2^31 */
    }
    p->a_multiplier = (int32_t)ma;
    p->b_multiplier = (int32_t)mb;
    p->shift = shift;
    return QC_MULTIPLIER_OK;
}
