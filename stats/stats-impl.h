/* stats-impl.h — what the files of stats/ share and nothing else sees. */
#ifndef QCAL_STATS_IMPL_H
#define QCAL_STATS_IMPL_H

#include "stats.h"

#define QC_HIST_HALF_LOG2 11 /* QC_HIST_HALF = 2^11 */

/* Moments with nothing recorded: min +inf, max -inf, sums 0. */
void qc_moments_clear(qc_moments *m);
/* Frees what tensor t owns. */
void qc_tensor_stats_free(qc_tensor_stats *t);
/* Allocates per-channel moments and the histogram of t as s's options ask; false on no memory. */
bool qc_tensor_stats_alloc(const qc_stats *s, qc_tensor_stats *t);

/* Span statistics (span-scalar.c is the reference and defines the bits; the AVX2 and AVX-512
 * versions give the same bits). */
#define QC_SPAN_LANES 16
void qc_span_stats__scalar(const float *x, int64_t n, qc_span *r);
void qc_span_stats__avx2(const float *x, int64_t n, qc_span *r);
void qc_span_stats__avx512(const float *x, int64_t n, qc_span *r);
/* The same for `channels` consecutive spans of `inner` values each: r[c] for x[c·inner …]. */
void qc_span_channels__scalar(const float *x, int64_t channels, int64_t inner, qc_span *r);
void qc_span_channels__avx2(const float *x, int64_t channels, int64_t inner, qc_span *r);
void qc_span_channels__avx512(const float *x, int64_t channels, int64_t inner, qc_span *r);

/* Histogram bins of the non-zero values among n: idx[0 … m) = floor(x · scale) + QC_HIST_HALF
 * for each x ≠ 0 in order (scale a power of two, so the product is exact in double); returns m.
 * Zeros, often half of a tensor after a ReLU, are left to the caller to count at once. idx
 * needs room for n + 15 entries. */
int64_t qc_hist_index__scalar(const float *x, int64_t n, double scale, int32_t *idx);
int64_t qc_hist_index__avx2(const float *x, int64_t n, double scale, int32_t *idx);
int64_t qc_hist_index__avx512(const float *x, int64_t n, double scale, int32_t *idx);

/* The squared error of fake-quantizing m histogram bin centres x with counts a at step s
 * (inv = 1 / s, x·inv < 2^52): Σ a_k·(x_k − s·min(round(x_k·inv), qmax))², round half to
 * even, summed in QC_MSE_LANES lanes (mse-scalar.c is the reference and defines the bits; the
 * AVX2 and AVX-512 versions give the same bits). */
#define QC_MSE_LANES 16
double qc_mse_error__scalar(const double *x, const double *a, int64_t m, double s, double inv, double qmax);
double qc_mse_error__avx2(const double *x, const double *a, int64_t m, double s, double inv, double qmax);
double qc_mse_error__avx512(const double *x, const double *a, int64_t m, double s, double inv, double qmax);

/* The best versions this CPU runs (qc_cpu_isa of kernels/, detected once); QCAL_FORCE_SCALAR=1
 * forces the references. */
typedef struct {
    void (*span)(const float *x, int64_t n, qc_span *r);
    void (*span_channels)(const float *x, int64_t channels, int64_t inner, qc_span *r);
    int64_t (*hist_index)(const float *x, int64_t n, double scale, int32_t *idx);
    double (*mse_error)(const double *x, const double *a, int64_t m, double s, double inv, double qmax);
} qc_stats_kernels;
const qc_stats_kernels *qc_stats_kernels_get(void);

/* Adds x to f exactly (every bit worth 2^-128 or more); false when |x| ≥ 2^127 or x is not
 * finite, f unchanged. */
bool qc_fix_add_double(qc_fix *f, double x);

#endif
