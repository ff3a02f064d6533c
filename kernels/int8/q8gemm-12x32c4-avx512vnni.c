/* q8gemm-12x32c4-avx512vnni.c — qgemm micro-kernel on 512-bit vpdpbusd (eq. G7) and its A
 * packing: the activations as they are (unsigned), the weights as they are (signed). */
#include "int8-impl.h"

/* AVX512-VNNI is not implied by -mavx2: the Makefile gives *-avx512vnni.c files -mavx512f
 * -mavx512bw -mavx512vl -mavx512vnni; they run only when the CPU reports all four
 * (kernels/int8/dispatch.c). */
#include <immintrin.h>
#include <string.h>

#define MR QC_Q8GEMM_MR512
#define NR QC_Q8GEMM_NR
#define KB QC_Q8GEMM_KB

/* One 4-k group of a 16-column panel of B is [16][4] int8 = 64 bytes: exactly one zmm, so the
 * packed B of the other kernels serves as is. vpdpbusd multiplies unsigned bytes (its first
 * source, here a register holding one row's 4 activations broadcast) by signed bytes (its
 * second, the weights): u8 × s8 is the GEMM's own product, so neither side is shifted and the
 * driver's column term starts from a offset 0 (eq. G7). */
_Static_assert(NR * 4 == 64 && KB == 8 && MR == 12, "one c4 group of a panel is one zmm");
_Static_assert(MR * KB <= QC_Q8GEMM_PACKA_BYTES(KB), "12 raw rows fit the packed A bound");

/* Packed A: row i at i·kc holds a[i][0..kc) as is, 0 in the padding (rows past mr, k past
 * k_real; the rows past mr are computed and never stored). rowsum[i] = Σ a over the real k. */
QC_Q8GEMM_PACKA(qc_q8gemm_packa_12x32c4__avx512vnni)
{
    const __m512i zero = _mm512_setzero_si512();
    const size_t real_k = k_real < kc ? k_real : kc;
    for (size_t i = 0; i < MR; i++) {
        const uint8_t *src = a + i * a_stride;
        uint8_t *p = packed + i * kc;
        const size_t real = i < mr ? real_k : 0;
        __m512i sum = zero;
        for (size_t k0 = 0; k0 < kc; k0 += 64) {
            const size_t have = real > k0 ? real - k0 : 0, room = kc - k0;
            const __mmask64 load = have >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << have) - 1;
            const __mmask64 store = room >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << room) - 1;
            /* masked-off bytes are neither read nor faulted on, and load as 0 */
            const __m512i x = _mm512_maskz_loadu_epi8(load, src + k0);
            _mm512_mask_storeu_epi8(p + k0, store, x);
            sum = _mm512_add_epi64(sum, _mm512_sad_epu8(x, zero));
        }
        rowsum[i] = (int32_t)_mm512_reduce_add_epi64(sum);
    }
}

/* the epilogue for the first mr rows and `panels` panels of acc (row i, panel h at acc[i][h]):
 * the start values or C, the rank-1 zero-point term, masked stores */
static void store_tile(size_t mr, size_t nr, const __m512i acc[][2], int32_t *c,
                       size_t c_stride, const qc_q8gemm_ukernel_params *params)
{
    const size_t panels = nr > NR ? 2 : 1;
    for (size_t h = 0; h < panels; h++) {
        const size_t cols = nr - h * NR < NR ? nr - h * NR : NR;
        const __mmask16 mask = (__mmask16)((1u << cols) - 1);
        const __m512i init = params->init != NULL ? _mm512_loadu_si512(params->init + h * NR)
                                                  : _mm512_setzero_si512();
        const __m512i zb =
            params->zb != NULL ? _mm512_loadu_si512(params->zb + h * NR) : _mm512_setzero_si512();
        for (size_t i = 0; i < mr; i++) {
            int32_t *ci = c + i * c_stride + h * NR;
            __m512i r = _mm512_add_epi32(
                acc[i][h], params->init != NULL ? init : _mm512_maskz_loadu_epi32(mask, ci));
            if (params->zb != NULL)
                r = _mm512_sub_epi32(r,
                                     _mm512_mullo_epi32(zb, _mm512_set1_epi32(params->rowsum[i])));
            _mm512_mask_storeu_epi32(ci, mask, r);
        }
    }
}

static inline __attribute__((always_inline)) __m512i broadcast32(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

/* 1 or 2 rows of one panel: each weight vector serves one or two products, so the loads
 * bound it; the 4-k groups rotate over four sets of accumulators so that the vpdpbusd latency
 * stays hidden. rows is a constant after inlining (no accumulator goes through memory). */
static inline __attribute__((always_inline)) void
few_rows_panel(size_t rows, size_t kc, const uint8_t *a, const int8_t *w, __m512i sum[][2],
               size_t h)
{
    __m512i acc[4][2];
    for (int s = 0; s < 4; s++)
        acc[s][0] = acc[s][1] = _mm512_setzero_si512();
    size_t k = 0;
    for (; k + 16 <= kc; k += 16)
#pragma GCC unroll 4
        for (int s = 0; s < 4; s++) {
            const __m512i ws = _mm512_loadu_si512(w + (k + 4 * (size_t)s) * NR);
#pragma GCC unroll 2
            for (size_t i = 0; i < rows; i++)
                acc[s][i] = _mm512_dpbusd_epi32(acc[s][i],
                                                broadcast32(a + i * kc + k + 4 * (size_t)s), ws);
        }
    if (k < kc) /* kc is a multiple of 8: two groups remain */
#pragma GCC unroll 2
        for (int s = 0; s < 2; s++) {
            const __m512i ws = _mm512_loadu_si512(w + (k + 4 * (size_t)s) * NR);
#pragma GCC unroll 2
            for (size_t i = 0; i < rows; i++)
                acc[s][i] = _mm512_dpbusd_epi32(acc[s][i],
                                                broadcast32(a + i * kc + k + 4 * (size_t)s), ws);
        }
#pragma GCC unroll 2
    for (size_t i = 0; i < rows; i++)
        sum[i][h] = _mm512_add_epi32(_mm512_add_epi32(acc[0][i], acc[1][i]),
                                     _mm512_add_epi32(acc[2][i], acc[3][i]));
}

/* 1 or 2 rows (the GEMV of a fully connected layer at batch 1, M remainders), panel by panel */
static void few_rows(size_t rows, size_t nr, size_t kc, const uint8_t *a, const int8_t *w,
                     int32_t *c, size_t c_stride, const qc_q8gemm_ukernel_params *params)
{
    __m512i sum[2][2];
    if (rows == 1) {
        few_rows_panel(1, kc, a, w, sum, 0);
        if (nr > NR)
            few_rows_panel(1, kc, a, w + params->panel_stride, sum, 1);
    } else {
        few_rows_panel(2, kc, a, w, sum, 0);
        if (nr > NR)
            few_rows_panel(2, kc, a, w + params->panel_stride, sum, 1);
    }
    store_tile(rows, nr, (const __m512i(*)[2])sum, c, c_stride, params);
}

/* One row of one 4-k group against both panels: the row's 4 bytes at ADDR broadcast into zmm
 * BC, then two products into accumulators C0 (first panel, weights in zmm WA) and C1. */
#define QC_ROW(ADDR, WA, WB, BC, C0, C1)                                                       \
    "vpbroadcastd " ADDR ", %%zmm" BC "\n\t"                                                   \
    "vpdpbusd %%zmm" WA ", %%zmm" BC ", %%zmm" C0 "\n\t"                                       \
    "vpdpbusd %%zmm" WB ", %%zmm" BC ", %%zmm" C1 "\n\t"
/* three rows kc bytes apart from base pointer BASE, at byte offset G in the group */
#define QC_ROWS3(G, BASE, WA, WB, C0, C1, C2, C3, C4, C5)                                      \
    QC_ROW(#G "(%[" BASE "])", WA, WB, "28", C0, C1)                                           \
    QC_ROW(#G "(%[" BASE "],%[p])", WA, WB, "29", C2, C3)                                      \
    QC_ROW(#G "(%[" BASE "],%[p],2)", WA, WB, "28", C4, C5)
/* the two panels' weights of group G (0 or 1 in the iteration) into zmm WA, WB */
#define QC_LOADW(G, WA, WB)                                                                    \
    "vmovdqu64 " #G "*64(%[w0]), %%zmm" WA "\n\t"                                              \
    "vmovdqu64 " #G "*64(%[w1]), %%zmm" WB "\n\t"
#define QC_ZERO4(A, B, C, D)                                                                   \
    "vpxord %%zmm" A ", %%zmm" A ", %%zmm" A "\n\t"                                            \
    "vpxord %%zmm" B ", %%zmm" B ", %%zmm" B "\n\t"                                            \
    "vpxord %%zmm" C ", %%zmm" C ", %%zmm" C "\n\t"                                            \
    "vpxord %%zmm" D ", %%zmm" D ", %%zmm" D "\n\t"
#define QC_SAVE4(A, B, C, D)                                                                   \
    "vmovdqu64 %%zmm" A ", " A "*64(%[acc])\n\t"                                               \
    "vmovdqu64 %%zmm" B ", " B "*64(%[acc])\n\t"                                               \
    "vmovdqu64 %%zmm" C ", " C "*64(%[acc])\n\t"                                               \
    "vmovdqu64 %%zmm" D ", " D "*64(%[acc])\n\t"
#define QC_ASM_CLOBBERS                                                                        \
    "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",    \
        "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17",        \
        "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26",       \
        "xmm27", "xmm28", "xmm29"

/* 12 rows × 2 panels: 24 accumulators (row i, panel h in zmm 2i + h), the weights of the two
 * groups of an iteration in zmm24-27, broadcasts in zmm28-29. Per 4-k group 2 loads of B and
 * 12 broadcasts feed 24 products; each accumulator is written once per group, 24 chains,
 * plenty to hide the latency at two vpdpbusd per cycle. */
static void tile12(size_t kc, const uint8_t *a, size_t a_stride, const int8_t *w0,
                   const int8_t *w1, __m512i acc[][2])
{
    const uint8_t *a0 = a, *a3 = a + 3 * a_stride, *a6 = a + 6 * a_stride, *a9 = a + 9 * a_stride;
    size_t k = kc;
    __asm__ volatile(QC_ZERO4("0", "1", "2", "3") QC_ZERO4("4", "5", "6", "7")
                     QC_ZERO4("8", "9", "10", "11") QC_ZERO4("12", "13", "14", "15")
                     QC_ZERO4("16", "17", "18", "19") QC_ZERO4("20", "21", "22", "23")
                     "1:\n\t"
                     QC_LOADW(0, "24", "25")
                     QC_LOADW(1, "26", "27")
                     QC_ROWS3(0, "a0", "24", "25", "0", "1", "2", "3", "4", "5")
                     QC_ROWS3(0, "a3", "24", "25", "6", "7", "8", "9", "10", "11")
                     QC_ROWS3(0, "a6", "24", "25", "12", "13", "14", "15", "16", "17")
                     QC_ROWS3(0, "a9", "24", "25", "18", "19", "20", "21", "22", "23")
                     QC_ROWS3(4, "a0", "26", "27", "0", "1", "2", "3", "4", "5")
                     QC_ROWS3(4, "a3", "26", "27", "6", "7", "8", "9", "10", "11")
                     QC_ROWS3(4, "a6", "26", "27", "12", "13", "14", "15", "16", "17")
                     QC_ROWS3(4, "a9", "26", "27", "18", "19", "20", "21", "22", "23")
                     "add $8, %[a0]\n\t"
                     "add $8, %[a3]\n\t"
                     "add $8, %[a6]\n\t"
                     "add $8, %[a9]\n\t"
                     "sub $-128, %[w0]\n\t"
                     "sub $-128, %[w1]\n\t"
                     "sub $8, %[k]\n\t"
                     "jnz 1b\n\t"
                     QC_SAVE4("0", "1", "2", "3") QC_SAVE4("4", "5", "6", "7")
                     QC_SAVE4("8", "9", "10", "11") QC_SAVE4("12", "13", "14", "15")
                     QC_SAVE4("16", "17", "18", "19") QC_SAVE4("20", "21", "22", "23")
                     : [a0] "+&r"(a0), [a3] "+&r"(a3), [a6] "+&r"(a6), [a9] "+&r"(a9),
                       [w0] "+&r"(w0), [w1] "+&r"(w1), [k] "+&r"(k)
                     : [p] "r"(a_stride), [acc] "r"(acc)
                     : QC_ASM_CLOBBERS);
}

/* 3 to 6 rows: the same loop on the first six rows (zmm0-11) */
static void tile6(size_t kc, const uint8_t *a, const int8_t *w0, const int8_t *w1,
                  __m512i acc[][2])
{
    const uint8_t *a0 = a, *a3 = a + 3 * kc;
    size_t k = kc;
    __asm__ volatile(QC_ZERO4("0", "1", "2", "3") QC_ZERO4("4", "5", "6", "7")
                     QC_ZERO4("8", "9", "10", "11")
                     "1:\n\t"
                     QC_LOADW(0, "24", "25")
                     QC_LOADW(1, "26", "27")
                     QC_ROWS3(0, "a0", "24", "25", "0", "1", "2", "3", "4", "5")
                     QC_ROWS3(0, "a3", "24", "25", "6", "7", "8", "9", "10", "11")
                     QC_ROWS3(4, "a0", "26", "27", "0", "1", "2", "3", "4", "5")
                     QC_ROWS3(4, "a3", "26", "27", "6", "7", "8", "9", "10", "11")
                     "add $8, %[a0]\n\t"
                     "add $8, %[a3]\n\t"
                     "sub $-128, %[w0]\n\t"
                     "sub $-128, %[w1]\n\t"
                     "sub $8, %[k]\n\t"
                     "jnz 1b\n\t"
                     QC_SAVE4("0", "1", "2", "3") QC_SAVE4("4", "5", "6", "7")
                     QC_SAVE4("8", "9", "10", "11")
                     : [a0] "+&r"(a0), [a3] "+&r"(a3), [w0] "+&r"(w0), [w1] "+&r"(w1),
                       [k] "+&r"(k)
                     : [p] "r"(kc), [acc] "r"(acc)
                     : QC_ASM_CLOBBERS);
}

/* c = init (or c) + Σ a·w − zb·rowsum for the first mr rows and nr columns. The loops are
 * assembly for the reason the AVX2 kernel's is: GCC 12 copies every vpdpbusd accumulator
 * through a spare register (one extra move per product). With 16 columns or fewer the second
 * panel is the first one again (computed, not stored): no load reaches past the packed B. */
QC_Q8GEMM_UKERNEL(qc_q8gemm_ukernel_12x32c4__avx512vnni)
{
    if (mr <= 2) {
        few_rows(mr, nr, kc, a, w, c, c_stride, params);
        return;
    }
    __m512i acc[MR][2];
    const int8_t *w1 = nr > NR ? w + params->panel_stride : w;
    /* the tile's lines of C, for writing, while the products run: C is usually far larger
     * than the caches, and the epilogue's misses otherwise stall the stores */
    for (size_t i = 0; i < mr; i++) {
        __builtin_prefetch(c + i * c_stride, 1, 3);
        __builtin_prefetch(c + i * c_stride + nr - 1, 1, 3);
    }
    if (mr <= 6)
        tile6(kc, a, w, w1, acc);
    else /* rows kc apart when packed, else A's own stride (params->a_stride) */
        tile12(kc, a, params->a_stride != 0 ? params->a_stride : kc, w, w1, acc);
    store_tile(mr, nr, (const __m512i(*)[2])acc, c, c_stride, params);
}
