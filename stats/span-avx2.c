/* span-avx2.c — the statistics kernels with AVX2: span statistics (the sixteen lanes of
 * span-scalar.c in two registers of floats and four of doubles) and histogram bins; same
 * results as the scalar references. */
#include <immintrin.h>
#include <pthread.h>
#include <string.h>

#include "stats-impl.h"

/* Lane masks for a tail of t: the last t lanes of sixteen are tail_mask[t … t + 15]. */
static const int32_t tail_mask[32] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                      -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};

/* Eight lanes' worth of values a at x (lanes 8h … 8h + 7): min, max, and the sums in double.
 * The halves are converted straight from memory; the square of a float is exact in double, so
 * the fused multiply-add rounds once, as the reference's multiply then add does. */
#define SPAN_STEP(x, a, mn, mx, s_lo, s_hi, q_lo, q_hi)                    \
    do {                                                                   \
        mn = _mm256_min_ps(a, mn); /* a < mn ? a : mn, as the reference */ \
        mx = _mm256_max_ps(a, mx);                                         \
        __m256d lo_ = _mm256_cvtps_pd(_mm_loadu_ps(x));                    \
        __m256d hi_ = _mm256_cvtps_pd(_mm_loadu_ps((x) + 4));              \
        s_lo = _mm256_add_pd(s_lo, lo_);                                   \
        s_hi = _mm256_add_pd(s_hi, hi_);                                   \
        q_lo = _mm256_fmadd_pd(lo_, lo_, q_lo);                            \
        q_hi = _mm256_fmadd_pd(hi_, hi_, q_hi);                            \
    } while (0)

static inline __attribute__((always_inline)) void span(const float *x, int64_t n, qc_span *r)
{
    const __m256 inf = _mm256_set1_ps(__builtin_inff()), ninf = _mm256_set1_ps(-__builtin_inff());
    __m256 mn0 = inf, mn1 = inf, mx0 = ninf, mx1 = ninf;
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0, q0 = s0, q1 = s0, q2 = s0, q3 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        SPAN_STEP(x + i, a, mn0, mx0, s0, s1, q0, q1);
        SPAN_STEP(x + i + 8, b, mn1, mx1, s2, s3, q2, q3);
    }
    if (i < n) {
        /* The t tail elements go to the last t lanes, as in the reference: the last sixteen
         * values are loaded again (or, for n < 16, copied to a buffer) and the lanes already
         * counted get +inf, -inf and +0, which change nothing (a lane's sum is never -0); so
         * the groups of four lanes with no tail element are skipped (one, 49 = 3 · 16 + 1,
         * is a 7×7 channel). */
        int64_t t = n - i;
        const float *e = x + n - 16;
        float buf[16] = {0};
        if (n < 16) {
            memcpy(buf + 16 - t, x, (size_t)t * sizeof *buf);
            e = buf;
        }
        __m256 b = _mm256_loadu_ps(e + 8);
        __m256 mb = _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i *)(tail_mask + t + 8)));
        mn1 = _mm256_min_ps(_mm256_blendv_ps(inf, b, mb), mn1);
        mx1 = _mm256_max_ps(_mm256_blendv_ps(ninf, b, mb), mx1);
        b = _mm256_and_ps(b, mb);
        __m256d bhi = _mm256_cvtps_pd(_mm256_extractf128_ps(b, 1));
        s3 = _mm256_add_pd(s3, bhi);
        q3 = _mm256_fmadd_pd(bhi, bhi, q3);
        if (t > 4) {
            __m256d blo = _mm256_cvtps_pd(_mm256_castps256_ps128(b));
            s2 = _mm256_add_pd(s2, blo);
            q2 = _mm256_fmadd_pd(blo, blo, q2);
        }
        if (t > 8) {
            __m256 a = _mm256_loadu_ps(e);
            __m256 ma = _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i *)(tail_mask + t)));
            mn0 = _mm256_min_ps(_mm256_blendv_ps(inf, a, ma), mn0);
            mx0 = _mm256_max_ps(_mm256_blendv_ps(ninf, a, ma), mx0);
            a = _mm256_and_ps(a, ma);
            __m256d alo = _mm256_cvtps_pd(_mm256_castps256_ps128(a));
            __m256d ahi = _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1));
            s0 = _mm256_add_pd(s0, alo);
            s1 = _mm256_add_pd(s1, ahi);
            q0 = _mm256_fmadd_pd(alo, alo, q0);
            q1 = _mm256_fmadd_pd(ahi, ahi, q1);
        }
    }
    /* The reference's tree: lane j += lane j + 8, then j + 4, j + 2, j + 1; min(upper, lower). */
    __m256 mn = _mm256_min_ps(mn1, mn0), mx = _mm256_max_ps(mx1, mx0);
    __m256d sa = _mm256_add_pd(s0, s2), sb = _mm256_add_pd(s1, s3);
    __m256d qa = _mm256_add_pd(q0, q2), qb = _mm256_add_pd(q1, q3);
    __m128 m4 = _mm_min_ps(_mm256_extractf128_ps(mn, 1), _mm256_castps256_ps128(mn));
    __m128 m2 = _mm_min_ps(_mm_movehl_ps(m4, m4), m4);
    __m128 m1 = _mm_min_ss(_mm_shuffle_ps(m2, m2, 1), m2);
    __m128 x4 = _mm_max_ps(_mm256_extractf128_ps(mx, 1), _mm256_castps256_ps128(mx));
    __m128 x2 = _mm_max_ps(_mm_movehl_ps(x4, x4), x4);
    __m128 x1 = _mm_max_ss(_mm_shuffle_ps(x2, x2, 1), x2);
    __m256d s4 = _mm256_add_pd(sa, sb), q4 = _mm256_add_pd(qa, qb);
    __m128d s2d = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
    __m128d q2d = _mm_add_pd(_mm256_castpd256_pd128(q4), _mm256_extractf128_pd(q4, 1));
    __m128d s1d = _mm_add_sd(s2d, _mm_unpackhi_pd(s2d, s2d));
    __m128d q1d = _mm_add_sd(q2d, _mm_unpackhi_pd(q2d, q2d));
    r->min = _mm_cvtss_f32(m1);
    r->max = _mm_cvtss_f32(x1);
    r->sum = _mm_cvtsd_f64(s1d);
    r->sumsq = _mm_cvtsd_f64(q1d);
}

void qc_span_stats__avx2(const float *x, int64_t n, qc_span *r)
{
    span(x, n, r);
}

void qc_span_channels__avx2(const float *x, int64_t channels, int64_t inner, qc_span *r)
{
    for (int64_t c = 0; c < channels; c++)
        span(x + c * inner, inner, &r[c]);
}

/* For each of the 256 masks of non-zero lanes, the lanes to move to the front, in order, as
 * eight 4-bit lane numbers (filled once). */
static uint32_t compact[256];

static void fill_compact(void)
{
    for (int mask = 0; mask < 256; mask++) {
        uint32_t v = 0;
        int n = 0;
        for (int lane = 0; lane < 8; lane++)
            if (mask >> lane & 1)
                v |= (uint32_t)lane << (4 * n++);
        compact[mask] = v;
    }
}

/* The bins in float, eight at a time: x · scale is exact in float too (a power of two; |x ·
 * scale| < 2048), except that it may underflow for tiny x when scale < 1 — then the floor is 0
 * for x > 0 and -1 for x < 0, which the float floor gives except when the product rounded to
 * -0: that case is corrected. Same bins as the scalar reference, computed in double. */
int64_t qc_hist_index__avx2(const float *x, int64_t n, double scale, int32_t *idx)
{
    if (scale >= 0x1p64) /* values below 2^-53: float cannot hold the scale; rare */
        return qc_hist_index__scalar(x, n, scale, idx);
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, fill_compact);
    const __m256 s = _mm256_set1_ps((float)scale), zero = _mm256_setzero_ps();
    const __m256i half = _mm256_set1_epi32(QC_HIST_HALF);
    const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    int64_t i = 0, m = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 d = _mm256_mul_ps(v, s);
        __m256 neg0 = _mm256_and_ps(_mm256_cmp_ps(v, zero, _CMP_LT_OQ), _mm256_cmp_ps(d, zero, _CMP_EQ_OQ));
        __m256i k = _mm256_cvttps_epi32(_mm256_floor_ps(d)); /* an integer below 2^11: exact */
        k = _mm256_add_epi32(k, _mm256_castps_si256(neg0)); /* -1 */
        k = _mm256_add_epi32(k, half);
        int nz = _mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_NEQ_UQ));
        __m256i perm = _mm256_srlv_epi32(_mm256_set1_epi32((int)compact[nz]), shifts);
        k = _mm256_permutevar8x32_epi32(k, perm); /* only the low 3 bits of each lane count */
        _mm256_storeu_si256((__m256i *)(idx + m), k); /* idx has room for n + 7 */
        m += __builtin_popcount((unsigned)nz);
    }
    for (; i < n; i++) {
        if (x[i] == 0)
            continue;
        double d = (double)x[i] * scale;
        int k = (int)d;
        k -= d < (double)k;
        idx[m++] = k + QC_HIST_HALF;
    }
    return m;
}
