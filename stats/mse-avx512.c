/* mse-avx512.c — the MSE error kernel with AVX-512: the sixteen lanes of mse-scalar.c in two
 * registers of eight doubles; same bits as the reference (no fused multiply-add: each
 * operation rounds once, as there). */
#include <immintrin.h>

#include "stats-impl.h"

/* the eight terms at x, a (a zero mask lane loads a centre and count of 0, whose term +0
 * changes no lane: a lane's sum is never −0), added to acc */
static inline __attribute__((always_inline)) __m512d mse_step(const double *x, const double *a, __mmask8 live, __m512d s,
                                                              __m512d inv, __m512d qmax, __m512d acc)
{
    const __m512d big = _mm512_set1_pd(0x1p52);
    __m512d xv = _mm512_maskz_loadu_pd(live, x);
    __m512d q = _mm512_sub_pd(_mm512_add_pd(_mm512_mul_pd(xv, inv), big), big);
    __m512d d = _mm512_sub_pd(xv, _mm512_mul_pd(_mm512_min_pd(q, qmax), s));
    return _mm512_add_pd(acc, _mm512_mul_pd(_mm512_mul_pd(_mm512_maskz_loadu_pd(live, a), d), d));
}

double qc_mse_error__avx512(const double *x, const double *a, int64_t m, double s, double inv, double qmax)
{
    const __m512d sv = _mm512_set1_pd(s), iv = _mm512_set1_pd(inv), qv = _mm512_set1_pd(qmax);
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd(); /* lanes 0 … 7 and 8 … 15 */
    int64_t k = 0;
    for (; k + 16 <= m; k += 16) {
        lo = mse_step(x + k, a + k, 0xff, sv, iv, qv, lo);
        hi = mse_step(x + k + 8, a + k + 8, 0xff, sv, iv, qv, hi);
    }
    if (k < m) { /* the tail: lanes 0 … t − 1 */
        int t = (int)(m - k);
        lo = mse_step(x + k, a + k, (__mmask8)(t >= 8 ? 0xff : (1u << t) - 1), sv, iv, qv, lo);
        if (t > 8)
            hi = mse_step(x + k + 8, a + k + 8, (__mmask8)((1u << (t - 8)) - 1), sv, iv, qv, hi);
    }
    /* the reference's tree: lanes j += j + 8, then j + 4, j + 2, j + 1 */
    __m512d h8 = _mm512_add_pd(lo, hi);
    __m256d h4 = _mm256_add_pd(_mm512_castpd512_pd256(h8), _mm512_extractf64x4_pd(h8, 1));
    __m128d h2 = _mm_add_pd(_mm256_castpd256_pd128(h4), _mm256_extractf128_pd(h4, 1));
    return _mm_cvtsd_f64(_mm_add_sd(h2, _mm_unpackhi_pd(h2, h2)));
}
