/* mse-scalar.c — the reference of the MSE error kernel: the squared error of fake-quantizing
 * histogram bin centres at one clip, summed in sixteen lanes (an order that vectors keep).
 *
 * Term k is a_k·(x_k − s·min(round(x_k·inv), qmax))², round half to even, each operation
 * rounded once in double, as R7 (range.c) writes it. Lane j (QC_MSE_LANES = 16) sums the terms
 * 16i + j in order, the tail's t terms going to lanes 0 … t − 1; the lanes are combined by the
 * fixed tree j += j + 8, then j + 4, j + 2, j + 1. The AVX2 and AVX-512 versions compute the
 * same lanes and tree, so they give the same bits. */
#include "stats-impl.h"

double qc_mse_error__scalar(const double *x, const double *a, int64_t m, double s, double inv, double qmax)
{
    enum { L = QC_MSE_LANES };
    double acc[L] = {0};
    for (int64_t k = 0; k < m; k++) {
        double q = (x[k] * inv + 0x1p52) - 0x1p52; /* round half to even below 2^52 */
        double d = x[k] - (q < qmax ? q : qmax) * s;
        acc[k % L] += a[k] * d * d;
    }
    for (int w = L / 2; w >= 1; w /= 2)
        for (int j = 0; j < w; j++)
            acc[j] += acc[j + w];
    return acc[0];
}
