/* mse-avx2.c — the MSE error kernel with AVX2: the sixteen lanes of mse-scalar.c in four
 * registers of four doubles; same bits as the reference (no fused multiply-add: each
 * operation rounds once, as there). */
#include <immintrin.h>

#include "stats-impl.h"

/* the four terms at k, added to acc */
static inline __attribute__((always_inline)) __m256d mse_step(const double *x, const double *a, int64_t k, __m256d s,
                                                              __m256d inv, __m256d qmax, __m256d acc)
{
    const __m256d big = _mm256_set1_pd(0x1p52);
    __m256d xv = _mm256_loadu_pd(x + k);
    __m256d q = _mm256_sub_pd(_mm256_add_pd(_mm256_mul_pd(xv, inv), big), big);
    __m256d d = _mm256_sub_pd(xv, _mm256_mul_pd(_mm256_min_pd(q, qmax), s));
    return _mm256_add_pd(acc, _mm256_mul_pd(_mm256_mul_pd(_mm256_loadu_pd(a + k), d), d));
}

double qc_mse_error__avx2(const double *x, const double *a, int64_t m, double s, double inv, double qmax)
{
    const __m256d sv = _mm256_set1_pd(s), iv = _mm256_set1_pd(inv), qv = _mm256_set1_pd(qmax);
    __m256d acc[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
    int64_t k = 0;
    for (; k + 16 <= m; k += 16)
        for (int r = 0; r < 4; r++)
            acc[r] = mse_step(x, a, k + 4 * r, sv, iv, qv, acc[r]);
    /* the tail: lanes 0 … t − 1; padding of zero centres and counts adds +0, which changes
     * no lane (a lane's sum is never −0) */
    if (k < m) {
        double xt[16] = {0}, at[16] = {0};
        for (int64_t j = 0; k + j < m; j++) {
            xt[j] = x[k + j];
            at[j] = a[k + j];
        }
        for (int r = 0; r < 4; r++)
            acc[r] = mse_step(xt, at, 4 * r, sv, iv, qv, acc[r]);
    }
    /* the reference's tree: lanes j += j + 8 (registers 0, 1 += 2, 3), j + 4, j + 2, j + 1 */
    __m256d h = _mm256_add_pd(_mm256_add_pd(acc[0], acc[2]), _mm256_add_pd(acc[1], acc[3]));
    __m128d t = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
    return _mm_cvtsd_f64(_mm_add_sd(t, _mm_unpackhi_pd(t, t)));
}
