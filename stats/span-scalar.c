/* span-scalar.c — the scalar references of the statistics kernels, and their table for the
 * instruction set kernels/ detected.
 *
 * Span statistics, one sample of one channel: extremes, Σx and Σx² of n floats. The reference
 * defines the bits: QC_SPAN_LANES (16) lanes, lane j taking elements 16m + j, and the t tail
 * elements (n mod 16) the last t lanes, in order; sums in double (each square exact); the
 * lanes combined by the fixed tree j += j + 8, then j + 4, j + 2, j + 1 (min and max likewise,
 * the upper lane first). The AVX2 and AVX-512 versions compute the same lanes and the same
 * tree, so they give the same bits. */
#include <math.h>

#include "kernels/kernels.h"
#include "stats-impl.h"

void qc_span_stats__scalar(const float *x, int64_t n, qc_span *r)
{
    enum { L = QC_SPAN_LANES };
    float mn[L], mx[L];
    double s[L], q[L];
    for (int j = 0; j < L; j++) {
        mn[j] = INFINITY;
        mx[j] = -INFINITY;
        s[j] = 0;
        q[j] = 0;
    }
    int64_t i = 0;
    for (; i + L <= n; i += L)
        for (int j = 0; j < L; j++) {
            float v = x[i + j];
            mn[j] = v < mn[j] ? v : mn[j];
            mx[j] = v > mx[j] ? v : mx[j];
            s[j] += (double)v;
            q[j] += (double)v * (double)v;
        }
    for (int j = L - (int)(n - i); i < n; i++, j++) { /* the tail: the last lanes */
        float v = x[i];
        mn[j] = v < mn[j] ? v : mn[j];
        mx[j] = v > mx[j] ? v : mx[j];
        s[j] += (double)v;
        q[j] += (double)v * (double)v;
    }
    for (int w = L / 2; w >= 1; w /= 2)
        for (int j = 0; j < w; j++) {
            mn[j] = mn[j + w] < mn[j] ? mn[j + w] : mn[j];
            mx[j] = mx[j + w] > mx[j] ? mx[j + w] : mx[j];
            s[j] += s[j + w];
            q[j] += q[j + w];
        }
    r->min = mn[0];
    r->max = mx[0];
    r->sum = s[0];
    r->sumsq = q[0];
}

void qc_span_channels__scalar(const float *x, int64_t channels, int64_t inner, qc_span *r)
{
    for (int64_t c = 0; c < channels; c++)
        qc_span_stats__scalar(x + c * inner, inner, &r[c]);
}

int64_t qc_hist_index__scalar(const float *x, int64_t n, double scale, int32_t *idx)
{
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        if (x[i] == 0)
            continue;
        double d = (double)x[i] * scale; /* exact: scale is a power of two */
        int k = (int)d;
        k -= d < (double)k;              /* floor */
        idx[m++] = k + QC_HIST_HALF;
    }
    return m;
}

/* one table per instruction set the statistics kernels have; AVX-VNNI includes AVX2 and uses
 * its table, AVX512-VNNI (and AMX above it) the AVX-512 one */
static const qc_stats_kernels scalar_kernels = {
    .span = qc_span_stats__scalar,
    .span_channels = qc_span_channels__scalar,
    .hist_index = qc_hist_index__scalar,
    .mse_error = qc_mse_error__scalar,
};
static const qc_stats_kernels avx2_kernels = {
    .span = qc_span_stats__avx2,
    .span_channels = qc_span_channels__avx2,
    .hist_index = qc_hist_index__avx2,
    .mse_error = qc_mse_error__avx2,
};
static const qc_stats_kernels avx512_kernels = {
    .span = qc_span_stats__avx512,
    .span_channels = qc_span_channels__avx512,
    .hist_index = qc_hist_index__avx512,
    .mse_error = qc_mse_error__avx512,
};

/* the CPU detected once, by kernels/ (QCAL_FORCE_SCALAR=1 gives the references) */
const qc_stats_kernels *qc_stats_kernels_get(void)
{
    qc_isa isa = qc_cpu_isa();
    return isa >= QC_ISA_AVX512VNNI ? &avx512_kernels : isa == QC_ISA_SCALAR ? &scalar_kernels : &avx2_kernels;
}
