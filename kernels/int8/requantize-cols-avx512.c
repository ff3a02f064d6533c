/* requantize-cols-avx512.c — per-column int32 → u8/s8 requantization on 16 columns per
 * 512-bit vector (AVX512 F + BW + VL); bit-exact with the scalar reference requantize-scalar.c
 * (eqs. R1–R5). R3–R4 run as one fused multiply-add in doubles, exact for every shift (the
 * proof is at QC_REQUANT_ROUNDER in int8-impl.h). The _int64 kernels keep the previous
 * formulation, the 64-bit integer steps of requantize-cols-avx2.c, whose comments derive them,
 * with masks for the blends, the +1 of the rounding and the tails. */
#include "int8-impl.h"

#include <immintrin.h>

/* The constants of 16 consecutive columns for the double path. */
typedef struct {
    __m512i bias, lo, hi;   /* bias or 0; R2's bounds ±2^min(s,31) (2^31 − 1 above) */
    __m512d scale0, scale1; /* multiplier · 2^−s (exact) of columns 0–7 and 8–15 */
    int r2;                 /* some shift < 31: R2's clamp is not a no-op */
} cols16;

/* the constants of columns j0 .. j0 + nn − 1 (cols: nn ones), derived in vectors (this runs
 * once per 16 columns and call: a tile of 49 rows amortises a scalar loop poorly); lanes past
 * the last column take shift 31 and multiplier 2^30, harmless values never stored */
static inline void prepare(size_t j0, __mmask16 cols, const int32_t *bias, const qc_requant *rq,
                           cols16 *cc)
{
    const __m512i s = _mm512_mask_loadu_epi32(_mm512_set1_epi32(31), cols, rq->shift + j0);
    const __m512i m = _mm512_mask_loadu_epi32(_mm512_set1_epi32(1 << 30), cols,
                                              rq->multiplier + j0);
    cc->bias = bias != NULL ? _mm512_maskz_loadu_epi32(cols, bias + j0) : _mm512_setzero_si512();
    const __mmask16 r2 = _mm512_cmplt_epi32_mask(s, _mm512_set1_epi32(31));
    const __m512i pw = _mm512_sllv_epi32(_mm512_set1_epi32(1), s);
    cc->hi = _mm512_mask_mov_epi32(_mm512_set1_epi32(INT32_MAX), r2, pw);
    cc->lo = _mm512_mask_sub_epi32(_mm512_set1_epi32(INT32_MIN), r2, _mm512_setzero_si512(), pw);
    cc->r2 = r2 != 0;
    /* vscalefpd: multiplier · 2^−s, exact (31 bits, far from overflow and underflow) */
    const __m512i neg_s = _mm512_sub_epi32(_mm512_setzero_si512(), s);
    cc->scale0 = _mm512_scalef_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(m)),
                                  _mm512_cvtepi32_pd(_mm512_castsi512_si256(neg_s)));
    cc->scale1 = _mm512_scalef_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(m, 1)),
                                  _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(neg_s, 1)));
}

/* R1 (and R2 when r2) on 8 columns, then R3–R4 as the double
 * QC_REQUANT_ROUNDER + rint(t · multiplier · 2^−s), rounded once by the fused multiply-add
 * (int8-impl.h); the low 32 bits of each 64-bit lane are the rounded value */
static inline __m512i rint_scaled8(__m256i acc, __m256i bias, __m256i lo, __m256i hi,
                                   __m512d scale, int r2)
{
    __m256i t = _mm256_add_epi32(acc, bias);
    if (r2)
        t = _mm256_max_epi32(_mm256_min_epi32(t, hi), lo);
    const __m512d v = _mm512_fmadd_round_pd(_mm512_cvtepi32_pd(t), scale,
                                            _mm512_set1_pd(QC_REQUANT_ROUNDER),
                                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm512_castpd_si512(v);
}

/* 16 columns of one row through doubles: the two halves load, convert and round as 8 doubles
 * each, the low halves of their lanes gather into 16 int32 (vpermt2d), R5 follows */
static inline __m512i requantize16(const int32_t *src, __mmask16 cols, const cols16 *c, int r2,
                                   __m512i vlo, __m512i vhi, __m512i vz)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m256i a0 = _mm256_maskz_loadu_epi32((__mmask8)cols, src);
    const __m256i a1 = _mm256_maskz_loadu_epi32((__mmask8)(cols >> 8), src + 8);
    const __m512i r0 = rint_scaled8(a0, _mm512_castsi512_si256(c->bias),
                                    _mm512_castsi512_si256(c->lo), _mm512_castsi512_si256(c->hi),
                                    c->scale0, r2);
    const __m512i r1 = rint_scaled8(a1, _mm512_extracti64x4_epi64(c->bias, 1),
                                    _mm512_extracti64x4_epi64(c->lo, 1),
                                    _mm512_extracti64x4_epi64(c->hi, 1), c->scale1, r2);
    const __m512i r = _mm512_permutex2var_epi32(r0, even, r1);
    return _mm512_add_epi32(_mm512_max_epi32(_mm512_min_epi32(r, vhi), vlo), vz);
}

/* The 64-bit integer path's constants of 16 consecutive columns; the 64-bit ones split into
 * the even and the odd columns, the two halves of the int32 lanes that vpmuldq multiplies. */
typedef struct {
    __m512i sh_e, sh_o, mask_e, mask_o, half_e, half_o; /* s, 2^s − 1, 2^(s−1) */
    __m512i mult, lo, hi, bias, bias32;                 /* as in requantize-cols-avx2.c */
} cols16_int64;

/* the constants of columns j0 .. j0 + nn − 1 (nn ≤ 16); lanes past the last column compute
 * a harmless value that is never stored */
static void prepare_int64(size_t j0, size_t nn, const int32_t *bias, const qc_requant *rq,
                          cols16_int64 *cc)
{
    int64_t sh[2][8], mask[2][8], half[2][8];
    int32_t mult[16], lo[16], hi[16], bs[16], b32[16];
    for (size_t i = 0; i < 16; i++) {
        const size_t j = j0 + i;
        const int32_t s = i < nn ? rq->shift[j] : 1;
        mult[i] = i < nn ? rq->multiplier[j] : 1 << 30;
        bs[i] = i < nn && bias != NULL ? bias[j] : 0;
        sh[i & 1][i / 2] = s;
        mask[i & 1][i / 2] = ((int64_t)1 << s) - 1;
        half[i & 1][i / 2] = (int64_t)1 << (s - 1);
        const int32_t s31 = s < 31 ? s : 31;
        hi[i] = s31 == 31 ? INT32_MAX : (int32_t)1 << s31;
        lo[i] = s31 == 31 ? INT32_MIN : -((int32_t)1 << s31);
        b32[i] = s >= 32 ? (int32_t)((uint32_t)1 << (63 - s)) : 0;
    }
    cc->sh_e = _mm512_loadu_si512(sh[0]);
    cc->sh_o = _mm512_loadu_si512(sh[1]);
    cc->mask_e = _mm512_loadu_si512(mask[0]);
    cc->mask_o = _mm512_loadu_si512(mask[1]);
    cc->half_e = _mm512_loadu_si512(half[0]);
    cc->half_o = _mm512_loadu_si512(half[1]);
    cc->mult = _mm512_loadu_si512(mult);
    cc->lo = _mm512_loadu_si512(lo);
    cc->hi = _mm512_loadu_si512(hi);
    cc->bias = _mm512_loadu_si512(bs);
    cc->bias32 = _mm512_loadu_si512(b32);
}

/* R4 on eight 64-bit lanes, up to the bias 2^(63−s) (see round_biased in
 * requantize-cols-avx2.c) */
static inline __m512i round_biased(__m512i p, __m512i sh, __m512i mask, __m512i half)
{
    const __m512i one = _mm512_set1_epi64(1);
    const __m512i u = _mm512_xor_si512(p, _mm512_set1_epi64(INT64_MIN));
    const __m512i q = _mm512_srlv_epi64(u, sh);
    const __m512i rem = _mm512_add_epi64(_mm512_and_si512(u, mask), _mm512_and_si512(q, one));
    return _mm512_mask_add_epi64(q, _mm512_cmpgt_epi64_mask(rem, half), q, one);
}

/* 16 columns of one row in 64-bit integers: R1–R4, then R5's clamp and z, as int32 */
static inline __m512i requantize16_int64(const int32_t *src, __mmask16 cols,
                                         const cols16_int64 *c, __m512i vlo, __m512i vhi,
                                         __m512i vz)
{
    __m512i t = _mm512_add_epi32(_mm512_maskz_loadu_epi32(cols, src), c->bias);
    t = _mm512_max_epi32(_mm512_min_epi32(t, c->hi), c->lo);
    const __m512i pe = _mm512_mul_epi32(t, c->mult);
    const __m512i po = _mm512_mul_epi32(_mm512_srli_epi64(t, 32), _mm512_srli_epi64(c->mult, 32));
    const __m512i re = round_biased(pe, c->sh_e, c->mask_e, c->half_e);
    const __m512i ro = round_biased(po, c->sh_o, c->mask_o, c->half_o);
    __m512i r = _mm512_mask_blend_epi32(0xaaaa, re, _mm512_slli_epi64(ro, 32));
    r = _mm512_sub_epi32(r, c->bias32);
    return _mm512_add_epi32(_mm512_max_epi32(_mm512_min_epi32(r, vhi), vlo), vz);
}

/* Column blocks outside, rows inside, as the AVX2 version: BLOCK derives a block's constants
 * and runs its rows. The result lies in the output type's range, so the narrowing stores
 * (vpmovusdb, vpmovsdb) never saturate. */
#define REQUANTIZE_ROWS(STORE, EXPR)                                                           \
    for (size_t i = 0; i < m; i++)                                                             \
        STORE(y + i * y_stride + j, cols, EXPR(acc + i * acc_stride + j));
#define REQUANTIZE_COLS_BODY(STORE, FALLBACK, BLOCK)                                           \
    if (rq->granularity != QC_PER_COLUMN) {                                                    \
        FALLBACK(m, n, acc, acc_stride, bias, rq, y, y_stride);                                \
        return;                                                                                \
    }                                                                                          \
    const int32_t z = rq->zero_point;                                                          \
    const __m512i vz = _mm512_set1_epi32(z);                                                   \
    const __m512i vlo = _mm512_set1_epi32(rq->qmin - z), vhi = _mm512_set1_epi32(rq->qmax - z); \
    for (size_t j = 0; j < n; j += 16) {                                                       \
        const size_t nn = n - j < 16 ? n - j : 16;                                             \
        const __mmask16 cols = (__mmask16)((1u << nn) - 1);                                    \
        BLOCK(STORE)                                                                           \
    }
/* the double path, R2's clamp only in blocks with a shift below 31 */
#define FP64_BLOCK(STORE)                                                                      \
    cols16 cc;                                                                                 \
    prepare(j, cols, bias, rq, &cc);                                                           \
    if (cc.r2) {                                                                               \
        REQUANTIZE_ROWS(STORE, FP64_R2)                                                        \
    } else {                                                                                   \
        REQUANTIZE_ROWS(STORE, FP64)                                                           \
    }
#define FP64_R2(src) requantize16(src, cols, &cc, 1, vlo, vhi, vz)
#define FP64(src) requantize16(src, cols, &cc, 0, vlo, vhi, vz)
#define INT64_BLOCK(STORE)                                                                     \
    cols16_int64 cc;                                                                           \
    prepare_int64(j, nn, bias, rq, &cc);                                                       \
    REQUANTIZE_ROWS(STORE, INT64)
#define INT64(src) requantize16_int64(src, cols, &cc, vlo, vhi, vz)

QC_REQUANTIZE_U8(qc_requantize_u8__avx512_cols)
{
    REQUANTIZE_COLS_BODY(_mm512_mask_cvtusepi32_storeu_epi8, qc_requantize_u8__avx2, FP64_BLOCK)
}

QC_REQUANTIZE_S8(qc_requantize_s8__avx512_cols)
{
    REQUANTIZE_COLS_BODY(_mm512_mask_cvtsepi32_storeu_epi8, qc_requantize_s8__avx2, FP64_BLOCK)
}

QC_REQUANTIZE_U8(qc_requantize_u8__avx512_cols_int64)
{
    REQUANTIZE_COLS_BODY(_mm512_mask_cvtusepi32_storeu_epi8, qc_requantize_u8__avx2, INT64_BLOCK)
}

QC_REQUANTIZE_S8(qc_requantize_s8__avx512_cols_int64)
{
    REQUANTIZE_COLS_BODY(_mm512_mask_cvtsepi32_storeu_epi8, qc_requantize_s8__avx2, INT64_BLOCK)
}
