/* span-avx512.c — the statistics kernels with AVX-512: span statistics (the sixteen lanes of
 * span-scalar.c in one register of floats and two of doubles) and histogram bins (compressed
 * in a register); same results as the scalar references. */
#include <immintrin.h>

#include "stats-impl.h"

/* Sixteen lanes' worth of values a: min, max, and the sums in double. The square of a float
 * is exact in double, so the fused multiply-add rounds once, as the reference's multiply then
 * add does. */
#define SPAN_STEP(a, mn, mx, s_lo, s_hi, q_lo, q_hi)                       \
    do {                                                                   \
        mn = _mm512_min_ps(a, mn); /* a < mn ? a : mn, as the reference */ \
        mx = _mm512_max_ps(a, mx);                                         \
        __m512d lo_ = _mm512_cvtps_pd(_mm512_castps512_ps256(a));          \
        __m512d hi_ = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1))); \
        s_lo = _mm512_add_pd(s_lo, lo_);                                   \
        s_hi = _mm512_add_pd(s_hi, hi_);                                   \
        q_lo = _mm512_fmadd_pd(lo_, lo_, q_lo);                            \
        q_hi = _mm512_fmadd_pd(hi_, hi_, q_hi);                            \
    } while (0)

static inline __attribute__((always_inline)) void span(const float *x, int64_t n, qc_span *r)
{
    const __m512 inf = _mm512_set1_ps(__builtin_inff()), ninf = _mm512_set1_ps(-__builtin_inff());
    __m512 mn = inf, mx = ninf, mn_t = inf, mx_t = ninf;
    __m512d s_lo = _mm512_setzero_pd(), s_hi = s_lo, q_lo = s_lo, q_hi = s_lo;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 a = _mm512_loadu_ps(x + i);
        SPAN_STEP(a, mn, mx, s_lo, s_hi, q_lo, q_hi);
    }
    if (i < n) {
        /* The t tail elements go to the last t lanes, as in the reference: an expanding load
         * reads exactly them; the other lanes get +inf, -inf and +0, which change nothing (a
         * lane's sum is never -0). */
        const int t = (int)(n - i);
        const __mmask16 last = (__mmask16)(0xffffu << (16 - t));
        mn_t = _mm512_mask_expandloadu_ps(inf, last, x + i);
        mx_t = _mm512_mask_blend_ps(last, ninf, mn_t);
        __m512 a = _mm512_maskz_mov_ps(last, mn_t);
        __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(a));
        __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
        mn = _mm512_min_ps(mn_t, mn);
        mx = _mm512_max_ps(mx_t, mx);
        s_lo = _mm512_add_pd(s_lo, lo);
        s_hi = _mm512_add_pd(s_hi, hi);
        q_lo = _mm512_fmadd_pd(lo, lo, q_lo);
        q_hi = _mm512_fmadd_pd(hi, hi, q_hi);
    }
    /* The reference's tree: lane j += lane j + 8, then j + 4, j + 2, j + 1; min(upper, lower). */
    __m256 mn_lo = _mm512_castps512_ps256(mn), mx_lo = _mm512_castps512_ps256(mx);
    __m256 mn_hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(mn), 1));
    __m256 mx_hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(mx), 1));
    __m256 mn8 = _mm256_min_ps(mn_hi, mn_lo), mx8 = _mm256_max_ps(mx_hi, mx_lo);
    __m128 m4 = _mm_min_ps(_mm256_extractf128_ps(mn8, 1), _mm256_castps256_ps128(mn8));
    __m128 m2 = _mm_min_ps(_mm_movehl_ps(m4, m4), m4);
    __m128 m1 = _mm_min_ss(_mm_shuffle_ps(m2, m2, 1), m2);
    __m128 x4 = _mm_max_ps(_mm256_extractf128_ps(mx8, 1), _mm256_castps256_ps128(mx8));
    __m128 x2 = _mm_max_ps(_mm_movehl_ps(x4, x4), x4);
    __m128 x1 = _mm_max_ss(_mm_shuffle_ps(x2, x2, 1), x2);
    __m512d s8 = _mm512_add_pd(s_lo, s_hi), q8 = _mm512_add_pd(q_lo, q_hi);
    __m256d s4 = _mm256_add_pd(_mm512_castpd512_pd256(s8), _mm512_extractf64x4_pd(s8, 1));
    __m256d q4 = _mm256_add_pd(_mm512_castpd512_pd256(q8), _mm512_extractf64x4_pd(q8, 1));
    __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
    __m128d q2 = _mm_add_pd(_mm256_castpd256_pd128(q4), _mm256_extractf128_pd(q4, 1));
    r->min = _mm_cvtss_f32(m1);
    r->max = _mm_cvtss_f32(x1);
    r->sum = _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
    r->sumsq = _mm_cvtsd_f64(_mm_add_sd(q2, _mm_unpackhi_pd(q2, q2)));
}

void qc_span_stats__avx512(const float *x, int64_t n, qc_span *r)
{
    span(x, n, r);
}

void qc_span_channels__avx512(const float *x, int64_t channels, int64_t inner, qc_span *r)
{
    for (int64_t c = 0; c < channels; c++)
        span(x + c * inner, inner, &r[c]);
}

/* The bins in float, sixteen at a time, as qc_hist_index__avx2 computes them (x · scale is
 * exact in float but may underflow to -0 for tiny negative x: corrected); the non-zero
 * values' bins are compressed to the front of a register and stored whole. */
int64_t qc_hist_index__avx512(const float *x, int64_t n, double scale, int32_t *idx)
{
    if (scale >= 0x1p64) /* values below 2^-53: float cannot hold the scale; rare */
        return qc_hist_index__scalar(x, n, scale, idx);
    const __m512 s = _mm512_set1_ps((float)scale), zero = _mm512_setzero_ps();
    const __m512i half = _mm512_set1_epi32(QC_HIST_HALF), one = _mm512_set1_epi32(1);
    int64_t i = 0, m = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __m512 d = _mm512_mul_ps(v, s);
        __mmask16 neg0 = _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ) & _mm512_cmp_ps_mask(d, zero, _CMP_EQ_OQ);
        __m512i k = _mm512_cvttps_epi32(_mm512_roundscale_ps(d, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC));
        k = _mm512_mask_sub_epi32(k, neg0, k, one);
        k = _mm512_add_epi32(k, half);
        __mmask16 nz = _mm512_cmp_ps_mask(v, zero, _CMP_NEQ_UQ);
        _mm512_storeu_si512(idx + m, _mm512_maskz_compress_epi32(nz, k)); /* idx has room for n + 15 */
        m += __builtin_popcount((unsigned)nz);
    }
    return m + qc_hist_index__scalar(x + i, n - i, scale, idx + m);
}
