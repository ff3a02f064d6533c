/* requantize-cols-avx2.c — per-column int32 → u8/s8 requantization (GEMM and channels-last
 * outputs), 16 columns per step, the constants of each block derived once per call;
 * bit-exact with the scalar reference requantize-scalar.c (eqs. R1–R5), which stays the
 * definition. R3–R4 run as one fused multiply-add in doubles, exact for every shift (the proof
 * is at QC_REQUANT_ROUNDER in int8-impl.h, the conversion's in docs/quantization.md, D5–D6);
 * the _int64 kernels keep the previous formulation in 64-bit integers. */
#include "int8-impl.h"

#include <immintrin.h>
#include <string.h>

/* The constants of 16 consecutive columns for the double path, the int32 ones in two halves
 * (columns 0–7 and 8–15) and offset by 2^31 (x ^ 2^31: the int32 t + 2^31 as a uint32, in the
 * same order), the doubles in the lane order of vpunpckldq / vpunpckhdq. */
typedef struct {
    __m256i bias[2], lo[2], hi[2]; /* bias or 0; R2's bounds ±2^min(s,31) (2^31 − 1 above) */
    __m256i valid[2];              /* the columns that exist: a partial block's load masks */
    __m256d scale[4];              /* multiplier · 2^−s (exact): columns 0 1 4 5, 2 3 6 7, … */
    int r2;                        /* some shift < 31: R2's clamp is not a no-op */
} cols16;

/* 2^−s as doubles, built from the exponent field (1 ≤ s ≤ 62: normal numbers) */
static inline __m256d pow2_neg(__m128i s)
{
    const __m128i e = _mm_sub_epi32(_mm_set1_epi32(1023), s);
    return _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_cvtepi32_epi64(e), 52));
}

/* the constants of half h (columns j0 .. j0 + nn − 1, 0 ≤ nn ≤ 8), derived in vectors once
 * per block and call; lanes past the last column take shift 31 and multiplier 2^30, harmless
 * values never stored */
static inline void prepare8(size_t j0, size_t nn, const int32_t *bias, const qc_requant *rq,
                            cols16 *cc, int h)
{
    const __m256i valid = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)nn),
                                             _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i s = _mm256_set1_epi32(31), m = _mm256_set1_epi32(1 << 30);
    __m256i b = _mm256_setzero_si256();
    if (nn > 0) {
        s = _mm256_blendv_epi8(s, _mm256_maskload_epi32(rq->shift + j0, valid), valid);
        m = _mm256_blendv_epi8(m, _mm256_maskload_epi32(rq->multiplier + j0, valid), valid);
        if (bias != NULL)
            b = _mm256_maskload_epi32(bias + j0, valid);
    }
    const __m256i r2 = _mm256_cmpgt_epi32(_mm256_set1_epi32(31), s);
    const __m256i pw = _mm256_sllv_epi32(_mm256_set1_epi32(1), s);
    const __m256i sign = _mm256_set1_epi32(INT32_MIN);
    const __m256i hi = _mm256_blendv_epi8(_mm256_set1_epi32(INT32_MAX), pw, r2);
    const __m256i lo = _mm256_blendv_epi8(_mm256_set1_epi32(INT32_MIN),
                                          _mm256_sub_epi32(_mm256_setzero_si256(), pw), r2);
    cc->valid[h] = valid;
    cc->bias[h] = _mm256_xor_si256(b, sign);
    cc->hi[h] = _mm256_xor_si256(hi, sign);
    cc->lo[h] = _mm256_xor_si256(lo, sign);
    cc->r2 |= _mm256_movemask_epi8(r2) != 0;
    /* multiplier · 2^−s: exact (31 bits times a power of two) */
    const __m256d s0 = _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(m)),
                                     pow2_neg(_mm256_castsi256_si128(s)));
    const __m256d s1 = _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(m, 1)),
                                     pow2_neg(_mm256_extracti128_si256(s, 1)));
    cc->scale[2 * h] = _mm256_permute2f128_pd(s0, s1, 0x20); /* as vpunpckldq's lanes */
    cc->scale[2 * h + 1] = _mm256_permute2f128_pd(s0, s1, 0x31);
}

/* the constants of columns j0 .. j0 + nn − 1 (nn ≤ 16) */
static inline void prepare16(size_t j0, size_t nn, const int32_t *bias, const qc_requant *rq,
                             cols16 *cc)
{
    cc->r2 = 0;
    prepare8(j0, nn < 8 ? nn : 8, bias, rq, cc, 0);
    prepare8(j0 + 8, nn > 8 ? nn - 8 : 0, bias, rq, cc, 1);
}

/* R1 and R2 when r2 on u = t + 2^31 (mod 2^32, unsigned: the bias carries the 2^31, the
 * bounds too), then t as a double without vcvtdq2pd: the bit pattern 0x43300000:u is the
 * double 2^52 + u, and subtracting 2^52 + 2^31 leaves t exactly; R3–R4 as QC_REQUANT_ROUNDER
 * + rint(t · multiplier · 2^−s) by one fused multiply-add (MXCSR's rounding, to nearest even,
 * which qcal never changes). 8 columns; vpunpck{l,h}dq leave columns 0 1 4 5 and 2 3 6 7,
 * and vshufps gathers the low 32 bits of the rounded doubles back in order, 0 1 2 3 | 4 5 6 7. */
static inline __m256i rint_scaled8(__m256i acc, const cols16 *c, int h, int r2)
{
    __m256i t = _mm256_add_epi32(acc, c->bias[h]);
    if (r2)
        t = _mm256_max_epu32(_mm256_min_epu32(t, c->hi[h]), c->lo[h]);
    const __m256i magic = _mm256_set1_epi32(0x43300000);  /* high half of 2^52 */
    const __m256d off = _mm256_set1_pd(0x1.000008p52); /* 2^52 + 2^31 */
    const __m256d rounder = _mm256_set1_pd(QC_REQUANT_ROUNDER);
    const __m256d x0 = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_unpacklo_epi32(t, magic)), off);
    const __m256d x1 = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_unpackhi_epi32(t, magic)), off);
    const __m256d v0 = _mm256_fmadd_pd(x0, c->scale[2 * h], rounder);
    const __m256d v1 = _mm256_fmadd_pd(x1, c->scale[2 * h + 1], rounder);
    return _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castpd_ps(v0), _mm256_castpd_ps(v1),
                                                 _MM_SHUFFLE(2, 0, 2, 0)));
}

/* 16 columns of one row: vpackssdw takes int16 columns 0–3 8–11 | 4–7 12–15 (|r| < 2^31
 * saturates to ±(2^15 − 1), still beyond [qmin − z, qmax − z] on the same side), R5 runs on
 * them, the narrowing pack doubles each 128-bit half's 8 bytes, and vpunpckldq of the two
 * halves' 4-byte groups puts columns 0..15 in order. */
static inline __attribute__((always_inline)) __m128i
requantize16(__m256i a0, __m256i a1, const cols16 *c, int r2, int u8, __m256i vlo, __m256i vhi,
             __m256i vz)
{
    __m256i r = _mm256_packs_epi32(rint_scaled8(a0, c, 0, r2), rint_scaled8(a1, c, 1, r2));
    r = _mm256_add_epi16(_mm256_max_epi16(_mm256_min_epi16(r, vhi), vlo), vz);
    r = u8 ? _mm256_packus_epi16(r, r) : _mm256_packs_epi16(r, r);
    return _mm_unpacklo_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

/* the first nn < 16 bytes of v to y, in pieces of 8, 4, 2 and 1 */
static inline void store_tail(uint8_t *y, __m128i v, size_t nn)
{
    if (nn & 8) {
        _mm_storel_epi64((__m128i *)y, v);
        v = _mm_unpackhi_epi64(v, v);
        y += 8;
    }
    if (nn & 4) {
        const uint32_t w = (uint32_t)_mm_cvtsi128_si32(v);
        memcpy(y, &w, 4);
        v = _mm_srli_epi64(v, 32);
        y += 4;
    }
    if (nn & 2) {
        const uint16_t w = (uint16_t)_mm_cvtsi128_si32(v);
        memcpy(y, &w, 2);
        v = _mm_srli_epi64(v, 16);
        y += 2;
    }
    if (nn & 1)
        *y = (uint8_t)_mm_cvtsi128_si32(v);
}

/* the rows of one block of nn ≤ 16 columns (acc and y at its first); a partial block loads under
 * its masks (no read past the last column) and stores its nn bytes */
static inline __attribute__((always_inline)) void
rows16(size_t m, const int32_t *acc, size_t acc_stride, size_t nn, const cols16 *c, int r2,
       int u8, __m256i vlo, __m256i vhi, __m256i vz, uint8_t *y, size_t y_stride)
{
    if (nn == 16) {
        for (size_t i = 0; i < m; i++) {
            const int32_t *src = acc + i * acc_stride;
            const __m256i a0 = _mm256_loadu_si256((const __m256i *)src);
            const __m256i a1 = _mm256_loadu_si256((const __m256i *)(src + 8));
            _mm_storeu_si128((__m128i *)(y + i * y_stride),
                             requantize16(a0, a1, c, r2, u8, vlo, vhi, vz));
        }
        return;
    }
    for (size_t i = 0; i < m; i++) {
        const int32_t *src = acc + i * acc_stride;
        const __m256i a0 = _mm256_maskload_epi32(src, c->valid[0]);
        const __m256i a1 = nn > 8 ? _mm256_maskload_epi32(src + 8, c->valid[1])
                                  : _mm256_setzero_si256();
        store_tail(y + i * y_stride, requantize16(a0, a1, c, r2, u8, vlo, vhi, vz), nn);
    }
}

/* Column blocks outside, rows inside: one block's constants stay in registers for all rows
 * (a tile of at most a few hundred rows, in cache) and are derived once per call. R2's clamp
 * runs only in blocks with a shift below 31. */
static inline __attribute__((always_inline)) void
requantize_cols_fp64(size_t m, size_t n, const int32_t *acc, size_t acc_stride,
                     const int32_t *bias, const qc_requant *rq, uint8_t *y, size_t y_stride,
                     int u8)
{
    const int32_t z = rq->zero_point;
    const __m256i vz = _mm256_set1_epi16((int16_t)z);
    const __m256i vlo = _mm256_set1_epi16((int16_t)(rq->qmin - z));
    const __m256i vhi = _mm256_set1_epi16((int16_t)(rq->qmax - z));
    for (size_t j = 0; j < n; j += 16) {
        const size_t nn = n - j < 16 ? n - j : 16;
        cols16 cc;
        prepare16(j, nn, bias, rq, &cc);
        if (cc.r2)
            rows16(m, acc + j, acc_stride, nn, &cc, 1, u8, vlo, vhi, vz, y + j, y_stride);
        else
            rows16(m, acc + j, acc_stride, nn, &cc, 0, u8, vlo, vhi, vz, y + j, y_stride);
    }
}

/* The 64-bit integer path's constants of 8 consecutive columns. The 64-bit ones come split
 * into the even and the odd columns, the two halves of the int32 lanes that vpmuldq
 * multiplies. */
typedef struct {
    __m256i sh_e, sh_o;     /* shift s (R4) */
    __m256i mask_e, mask_o; /* 2^s − 1 */
    __m256i half_e, half_o; /* 2^(s−1) */
    __m256i mult;           /* multiplier, 8 × int32 */
    __m256i lo, hi;         /* R2's bounds ±2^min(s,31) (2^31 − 1 above) */
    __m256i bias;           /* bias or 0 */
    __m256i bias32;         /* the low 32 bits of 2^(63−s), removed at the end (see below) */
} cols8_int64;

/* the constants of columns j0 .. j0 + nn − 1 (nn ≤ 8) */
static void prepare_int64(size_t j0, size_t nn, const int32_t *bias, const qc_requant *rq,
                          cols8_int64 *cc)
{
    int64_t sh[8], mask[8], half[8];
    int32_t mult[8], lo[8], hi[8], bs[8], b32[8];
    for (size_t i = 0; i < 8; i++) {
        const size_t j = j0 + i;
        /* lanes past the last column compute a harmless value that is never stored */
        const int32_t s = i < nn ? rq->shift[j] : 1;
        mult[i] = i < nn ? rq->multiplier[j] : 1 << 30;
        bs[i] = i < nn && bias != NULL ? bias[j] : 0;
        sh[i] = s;
        mask[i] = ((int64_t)1 << s) - 1;
        half[i] = (int64_t)1 << (s - 1);
        const int32_t s31 = s < 31 ? s : 31;
        hi[i] = s31 == 31 ? INT32_MAX : (int32_t)1 << s31;
        lo[i] = s31 == 31 ? INT32_MIN : -((int32_t)1 << s31);
        b32[i] = s >= 32 ? (int32_t)((uint32_t)1 << (63 - s)) : 0;
    }
    cc->sh_e = _mm256_setr_epi64x(sh[0], sh[2], sh[4], sh[6]);
    cc->sh_o = _mm256_setr_epi64x(sh[1], sh[3], sh[5], sh[7]);
    cc->mask_e = _mm256_setr_epi64x(mask[0], mask[2], mask[4], mask[6]);
    cc->mask_o = _mm256_setr_epi64x(mask[1], mask[3], mask[5], mask[7]);
    cc->half_e = _mm256_setr_epi64x(half[0], half[2], half[4], half[6]);
    cc->half_o = _mm256_setr_epi64x(half[1], half[3], half[5], half[7]);
    cc->mult = _mm256_loadu_si256((const __m256i *)mult);
    cc->lo = _mm256_loadu_si256((const __m256i *)lo);
    cc->hi = _mm256_loadu_si256((const __m256i *)hi);
    cc->bias = _mm256_loadu_si256((const __m256i *)bs);
    cc->bias32 = _mm256_loadu_si256((const __m256i *)b32);
}

/* R4 on four 64-bit lanes, up to the bias: with u = p + 2^63 (non-negative, so logical
 * shifts floor it) and q = u >> s = floor(p / 2^s) + 2^(63−s), q has floor's parity (the
 * added power of two is even for s ≤ 62), and the ties-to-even rounding adds 1 exactly when
 * (u mod 2^s) + (q & 1) > 2^(s−1). Returns q + that, i.e. the rounded value + 2^(63−s). */
static inline __m256i round_biased(__m256i p, __m256i sh, __m256i mask, __m256i half)
{
    const __m256i u = _mm256_xor_si256(p, _mm256_set1_epi64x(INT64_MIN));
    const __m256i q = _mm256_srlv_epi64(u, sh);
    const __m256i rem = _mm256_add_epi64(_mm256_and_si256(u, mask),
                                         _mm256_and_si256(q, _mm256_set1_epi64x(1)));
    return _mm256_sub_epi64(q, _mm256_cmpgt_epi64(rem, half)); /* −(−1) adds 1 */
}

/* 8 columns of one row in 64-bit integers: R1–R4 then R5's clamp and z; returns 8 int16 */
static inline __m128i requantize8_int64(__m256i acc, const cols8_int64 *c, __m256i vlo,
                                        __m256i vhi, __m256i vz)
{
    /* R1 (mod 2^32) and R2 */
    __m256i t = _mm256_add_epi32(acc, c->bias);
    t = _mm256_max_epi32(_mm256_min_epi32(t, c->hi), c->lo);
    /* R3: |t| ≤ 2^31 and multiplier < 2^31, so each product is exact in 64 bits */
    const __m256i pe = _mm256_mul_epi32(t, c->mult);
    const __m256i po = _mm256_mul_epi32(_mm256_srli_epi64(t, 32), _mm256_srli_epi64(c->mult, 32));
    const __m256i re = round_biased(pe, c->sh_e, c->mask_e, c->half_e);
    const __m256i ro = round_biased(po, c->sh_o, c->mask_o, c->half_o);
    /* the rounded value fits int32 (R2), so its low 32 bits are those of the biased one minus
     * those of 2^(63−s) */
    __m256i r = _mm256_blend_epi32(re, _mm256_slli_epi64(ro, 32), 0xaa);
    r = _mm256_sub_epi32(r, c->bias32);
    /* R5: clamp then add z; the result fits the output type, so the packs do not saturate */
    r = _mm256_add_epi32(_mm256_max_epi32(_mm256_min_epi32(r, vhi), vlo), vz);
    return _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

/* The 64-bit integer path in blocks of 8 columns, rows inside as above; BLOCK derives a
 * block's constants and runs its rows. */
#define REQUANTIZE_ROWS(PACK, EXPR)                                                            \
    for (size_t i = 0; i < m; i++) {                                                           \
        const int32_t *src = acc + i * acc_stride + j;                                         \
        if (nn == 8) {                                                                         \
            const __m256i a = _mm256_loadu_si256((const __m256i *)src);                        \
            _mm_storel_epi64((__m128i *)(y + i * y_stride + j), PACK(EXPR(a)));                \
            continue;                                                                          \
        }                                                                                      \
        int32_t tmp[8] = {0};                                                                  \
        uint8_t out[16];                                                                       \
        memcpy(tmp, src, nn * sizeof *tmp);                                                    \
        const __m256i a = _mm256_loadu_si256((const __m256i *)tmp);                            \
        _mm_storeu_si128((__m128i *)out, PACK(EXPR(a)));                                       \
        memcpy(y + i * y_stride + j, out, nn);                                                 \
    }
#define REQUANTIZE_COLS_BODY(PACK, FALLBACK, BLOCK)                                            \
    if (rq->granularity != QC_PER_COLUMN) {                                                    \
        FALLBACK(m, n, acc, acc_stride, bias, rq, y, y_stride);                                \
        return;                                                                                \
    }                                                                                          \
    const int32_t z = rq->zero_point;                                                          \
    for (size_t j = 0; j < n; j += 8) {                                                        \
        const size_t nn = n - j < 8 ? n - j : 8;                                               \
        BLOCK(PACK)                                                                            \
    }
#define INT64_BLOCK(PACK)                                                                      \
    const __m256i vz = _mm256_set1_epi32(z);                                                   \
    const __m256i vlo = _mm256_set1_epi32(rq->qmin - z), vhi = _mm256_set1_epi32(rq->qmax - z); \
    cols8_int64 cc;                                                                            \
    prepare_int64(j, nn, bias, rq, &cc);                                                       \
    REQUANTIZE_ROWS(PACK, INT64)
#define INT64(a) requantize8_int64(a, &cc, vlo, vhi, vz)

#define PACK_U8(x) _mm_packus_epi16(x, x)
#define PACK_S8(x) _mm_packs_epi16(x, x)

QC_REQUANTIZE_U8(qc_requantize_u8__avx2_cols)
{
    if (rq->granularity != QC_PER_COLUMN)
        qc_requantize_u8__avx2(m, n, acc, acc_stride, bias, rq, y, y_stride);
    else
        requantize_cols_fp64(m, n, acc, acc_stride, bias, rq, y, y_stride, 1);
}

QC_REQUANTIZE_S8(qc_requantize_s8__avx2_cols)
{
    if (rq->granularity != QC_PER_COLUMN)
        qc_requantize_s8__avx2(m, n, acc, acc_stride, bias, rq, y, y_stride);
    else
        requantize_cols_fp64(m, n, acc, acc_stride, bias, rq, (uint8_t *)y, y_stride, 0);
}

QC_REQUANTIZE_U8(qc_requantize_u8__avx2_cols_int64)
{
    REQUANTIZE_COLS_BODY(PACK_U8, qc_requantize_u8__avx2, INT64_BLOCK)
}

QC_REQUANTIZE_S8(qc_requantize_s8__avx2_cols_int64)
{
    REQUANTIZE_COLS_BODY(PACK_S8, qc_requantize_s8__avx2, INT64_BLOCK)
}
