/* q8gemm-6x32c4-avx512vnni.c — qgemm micro-kernel on 512-bit vpdpbusd (eq. G6) and its A
 * packing; bit-exact with q8gemm-6x16c4-scalar.c, on the same packed B. */
#include "int8-impl.h"

/* AVX512-VNNI is not implied by -mavx2: the Makefile gives *-avx512vnni.c files -mavx512f
 * -mavx512bw -mavx512vl -mavx512vnni; they run only when the CPU reports all four
 * (kernels/int8/dispatch.c). */
#include <immintrin.h>
#include <string.h>

#define MR QC_Q8GEMM_MR
#define NR QC_Q8GEMM_NR
#define KB QC_Q8GEMM_KB

/* One 4-k group of a 16-column panel of B is [16][4] int8 = 64 bytes: exactly one zmm, so the
 * packed B of the other kernels serves as is. The tile is MR rows × two panels (32 columns,
 * params->panel_stride apart): each broadcast of A then feeds two products (measured in
 * isolation on Zen 5: 6x32 ran 1.2 times as fast as 6x16, whose broadcasts were one per
 * product; 6x64 was no faster than 6x32). Calls with 16 columns or fewer, or 1 or 2 rows,
 * run one panel at a time. */
_Static_assert(NR * 4 == 64 && KB == 8, "one c4 group of a panel is one 512-bit vector");

/* Packed A (eq. G6): row i at i·kc holds a' = a − 128 as int8 (a XOR 0x80; 0 in the padding:
 * rows past mr, k past k_real), so that a' can be the signed operand of vpdpbusd, broadcast
 * from memory; after the MR rows, MR int32 corr[i] = −128·Σ_k a'[i][k], which takes away what
 * the unsigned operand w + 128 adds. QC_Q8GEMM_PACKA_BYTES(kc) leaves room for both. */
QC_Q8GEMM_PACKA(qc_q8gemm_packa_6x32c4__avx512vnni)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80), zero = _mm512_setzero_si512();
    int32_t corr[MR];
    for (size_t i = 0; i < MR; i++) {
        const uint8_t *src = a + i * a_stride;
        uint8_t *p = packed + i * kc;
        const size_t real = i < mr ? (k_real < kc ? k_real : kc) : 0;
        __m512i sum = zero;
        for (size_t k0 = 0; k0 < kc; k0 += 64) {
            const size_t have = real > k0 ? real - k0 : 0, room = kc - k0;
            const __mmask64 load = have >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << have) - 1;
            const __mmask64 store = room >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << room) - 1;
            /* masked-off bytes are neither read nor faulted on */
            const __m512i x = _mm512_maskz_loadu_epi8(load, src + k0);
            _mm512_mask_storeu_epi8(p + k0, store,
                                    _mm512_maskz_mov_epi8(load, _mm512_xor_si512(x, flip)));
            sum = _mm512_add_epi64(sum, _mm512_sad_epu8(x, zero));
        }
        const int64_t s = _mm512_reduce_add_epi64(sum);
        rowsum[i] = (int32_t)s;
        /* Σ a' = Σ a − 128·real, so corr = −128·Σ a' (mod 2^32) */
        corr[i] = (int32_t)((uint32_t)(128 * (int64_t)real - s) * 128u);
    }
    memcpy(packed + MR * kc, corr, sizeof corr);
}

/* One 4-k group (byte offset G in the packed rows) against w + 128 in zmm W, into the six
 * accumulators from C: vpdpbusd with the signed a' broadcast from memory ({1to16}), so a row
 * costs one instruction and no register. */
#define QC_GROUP6(G, W, C0, C1, C2, C3, C4, C5)                                                \
    "vpdpbusd " #G "(%[a0])%{1to16%}, %%zmm" W ", %%zmm" C0 "\n\t"                             \
    "vpdpbusd " #G "(%[a0],%[p])%{1to16%}, %%zmm" W ", %%zmm" C1 "\n\t"                        \
    "vpdpbusd " #G "(%[a0],%[p],2)%{1to16%}, %%zmm" W ", %%zmm" C2 "\n\t"                      \
    "vpdpbusd " #G "(%[a3])%{1to16%}, %%zmm" W ", %%zmm" C3 "\n\t"                             \
    "vpdpbusd " #G "(%[a3],%[p])%{1to16%}, %%zmm" W ", %%zmm" C4 "\n\t"                        \
    "vpdpbusd " #G "(%[a3],%[p],2)%{1to16%}, %%zmm" W ", %%zmm" C5 "\n\t"

/* the epilogue for the first mr rows of acc: corr, the start values or C, the rank-1
 * zero-point term, masked stores */
static inline __attribute__((always_inline)) void
store_rows(size_t mr, size_t nr, size_t kc, const uint8_t *a, const __m512i *acc, int32_t *c,
           size_t c_stride, const qc_q8gemm_ukernel_params *params)
{
    const __mmask16 cols = (__mmask16)((1u << nr) - 1);
    int32_t corr[MR];
    memcpy(corr, a + MR * kc, sizeof corr);
    const __m512i init =
        params->init != NULL ? _mm512_loadu_si512(params->init) : _mm512_setzero_si512();
    const __m512i zb = params->zb != NULL ? _mm512_loadu_si512(params->zb) : _mm512_setzero_si512();
    for (size_t i = 0; i < mr; i++) {
        int32_t *ci = c + i * c_stride;
        __m512i r = _mm512_add_epi32(acc[i], _mm512_set1_epi32(corr[i]));
        r = _mm512_add_epi32(r, params->init != NULL ? init : _mm512_maskz_loadu_epi32(cols, ci));
        if (params->zb != NULL)
            r = _mm512_sub_epi32(r, _mm512_mullo_epi32(zb, _mm512_set1_epi32(params->rowsum[i])));
        _mm512_mask_storeu_epi32(ci, cols, r);
    }
}

static inline __attribute__((always_inline)) __m512i broadcast32(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

/* 1 or 2 rows (the GEMV of a fully connected layer at batch 1, M remainders): latency-bound,
 * so the 4-k groups rotate over four sets of accumulators (four chains per row in flight) */
static inline __attribute__((always_inline)) void
few_rows(size_t rows, size_t nr, size_t kc, const uint8_t *a, const int8_t *w, int32_t *c,
         size_t c_stride, const qc_q8gemm_ukernel_params *params)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    __m512i acc[4][2];
    for (int s = 0; s < 4; s++)
        acc[s][0] = acc[s][1] = _mm512_setzero_si512();
    size_t k = 0;
    for (; k + 16 <= kc; k += 16)
#pragma GCC unroll 4
        for (int s = 0; s < 4; s++) {
            const __m512i ws =
                _mm512_xor_si512(_mm512_loadu_si512(w + (k + 4 * (size_t)s) * NR), flip);
#pragma GCC unroll 2
            for (size_t i = 0; i < rows; i++)
                acc[s][i] = _mm512_dpbusd_epi32(acc[s][i], ws,
                                                broadcast32(a + i * kc + k + 4 * (size_t)s));
        }
    if (k < kc) /* kc is a multiple of 8: two groups remain */
#pragma GCC unroll 2
        for (int s = 0; s < 2; s++) {
            const __m512i ws =
                _mm512_xor_si512(_mm512_loadu_si512(w + (k + 4 * (size_t)s) * NR), flip);
#pragma GCC unroll 2
            for (size_t i = 0; i < rows; i++)
                acc[s][i] = _mm512_dpbusd_epi32(acc[s][i], ws,
                                                broadcast32(a + i * kc + k + 4 * (size_t)s));
        }
    __m512i sum[2];
#pragma GCC unroll 2
    for (size_t i = 0; i < rows; i++)
        sum[i] = _mm512_add_epi32(_mm512_add_epi32(acc[0][i], acc[1][i]),
                                  _mm512_add_epi32(acc[2][i], acc[3][i]));
    store_rows(rows, nr, kc, a, sum, c, c_stride, params);
}

/* c = init (or c) + Σ a'·(w + 128) + corr − zb·rowsum for the first mr rows. The loop is
 * assembly for the reason the AVX2 kernel's is: GCC 12 copies every vpdpbusd accumulator
 * through a spare register (one extra move per product). Even and odd 4-k groups go to two
 * sets of six accumulators (zmm0-5, zmm6-11): vpdpbusd waits about 4 cycles for its
 * accumulator, and two per cycle need 8 or more chains. Rows past mr are the packer's zero
 * padding, computed and not stored; 1 or 2 rows go to few_rows. */
static void tile16(size_t mr, size_t nr, size_t kc, const uint8_t *a, const int8_t *w,
                   int32_t *c, size_t c_stride, const qc_q8gemm_ukernel_params *params)
{
    _Static_assert(MR == 6, "the assembly below is written for 6 rows");
    if (mr == 1) {
        few_rows(1, nr, kc, a, w, c, c_stride, params);
        return;
    }
    if (mr == 2) {
        few_rows(2, nr, kc, a, w, c, c_stride, params);
        return;
    }
    __m512i acc[MR];
    const uint8_t *a0 = a, *a3 = a + 3 * kc;
    const int8_t *pw = w;
    size_t k = kc;
    __asm__ volatile("vpbroadcastd %[flip], %%zmm12\n\t"
                     "vpxor %%xmm0, %%xmm0, %%xmm0\n\t"
                     "vmovdqa64 %%zmm0, %%zmm1\n\t"
                     "vmovdqa64 %%zmm0, %%zmm2\n\t"
                     "vmovdqa64 %%zmm0, %%zmm3\n\t"
                     "vmovdqa64 %%zmm0, %%zmm4\n\t"
                     "vmovdqa64 %%zmm0, %%zmm5\n\t"
                     "vmovdqa64 %%zmm0, %%zmm6\n\t"
                     "vmovdqa64 %%zmm0, %%zmm7\n\t"
                     "vmovdqa64 %%zmm0, %%zmm8\n\t"
                     "vmovdqa64 %%zmm0, %%zmm9\n\t"
                     "vmovdqa64 %%zmm0, %%zmm10\n\t"
                     "vmovdqa64 %%zmm0, %%zmm11\n\t"
                     "1:\n\t"
                     "vpxord (%[w]), %%zmm12, %%zmm13\n\t"
                     "vpxord 64(%[w]), %%zmm12, %%zmm14\n\t"
                     QC_GROUP6(0, "13", "0", "1", "2", "3", "4", "5")
                     QC_GROUP6(4, "14", "6", "7", "8", "9", "10", "11")
                     "add $8, %[a0]\n\t"
                     "add $8, %[a3]\n\t"
                     "sub $-128, %[w]\n\t"
                     "sub $8, %[k]\n\t"
                     "jnz 1b\n\t"
                     "vpaddd %%zmm6, %%zmm0, %%zmm0\n\t"
                     "vpaddd %%zmm7, %%zmm1, %%zmm1\n\t"
                     "vpaddd %%zmm8, %%zmm2, %%zmm2\n\t"
                     "vpaddd %%zmm9, %%zmm3, %%zmm3\n\t"
                     "vpaddd %%zmm10, %%zmm4, %%zmm4\n\t"
                     "vpaddd %%zmm11, %%zmm5, %%zmm5\n\t"
                     "vmovdqa64 %%zmm0, 0(%[acc])\n\t"
                     "vmovdqa64 %%zmm1, 64(%[acc])\n\t"
                     "vmovdqa64 %%zmm2, 128(%[acc])\n\t"
                     "vmovdqa64 %%zmm3, 192(%[acc])\n\t"
                     "vmovdqa64 %%zmm4, 256(%[acc])\n\t"
                     "vmovdqa64 %%zmm5, 320(%[acc])\n\t"
                     : [a0] "+&r"(a0), [a3] "+&r"(a3), [w] "+&r"(pw), [k] "+&r"(k)
                     : [p] "r"(kc), [acc] "r"(acc), [flip] "r"(0x80808080u)
                     : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
                       "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14");

    store_rows(mr, nr, kc, a, acc, c, c_stride, params);
}

/* One row of one 4-k group against both panels: one broadcast of a' (zmm28), two products. */
#define QC_ROW2(ADDR, WA, WB, C0, C1)                                                          \
    "vpbroadcastd " ADDR ", %%zmm28\n\t"                                                       \
    "vpdpbusd %%zmm28, %%zmm" WA ", %%zmm" C0 "\n\t"                                           \
    "vpdpbusd %%zmm28, %%zmm" WB ", %%zmm" C1 "\n\t"

/* The 6-row tile over two panels. Accumulators: even 4-k groups in zmm0-11, odd ones in
 * zmm12-23 (row i, panel p at 2i + p); w + 128 of the two groups × two panels in zmm24-27;
 * the 0x80 bytes in zmm31. */
static void tile32(size_t mr, size_t nr, size_t kc, const uint8_t *a, const int8_t *w,
                   int32_t *c, size_t c_stride, const qc_q8gemm_ukernel_params *params)
{
    __m512i acc[MR][2];
    const uint8_t *a0 = a, *a3 = a + 3 * kc;
    const int8_t *w0 = w, *w1 = w + params->panel_stride;
    size_t k = kc;
    __asm__ volatile("vpbroadcastd %[flip], %%zmm31\n\t"
                     "vpxord %%zmm0, %%zmm0, %%zmm0\n\t"
                     "vmovdqa64 %%zmm0, %%zmm1\n\t"
                     "vmovdqa64 %%zmm0, %%zmm2\n\t"
                     "vmovdqa64 %%zmm0, %%zmm3\n\t"
                     "vmovdqa64 %%zmm0, %%zmm4\n\t"
                     "vmovdqa64 %%zmm0, %%zmm5\n\t"
                     "vmovdqa64 %%zmm0, %%zmm6\n\t"
                     "vmovdqa64 %%zmm0, %%zmm7\n\t"
                     "vmovdqa64 %%zmm0, %%zmm8\n\t"
                     "vmovdqa64 %%zmm0, %%zmm9\n\t"
                     "vmovdqa64 %%zmm0, %%zmm10\n\t"
                     "vmovdqa64 %%zmm0, %%zmm11\n\t"
                     "vmovdqa64 %%zmm0, %%zmm12\n\t"
                     "vmovdqa64 %%zmm0, %%zmm13\n\t"
                     "vmovdqa64 %%zmm0, %%zmm14\n\t"
                     "vmovdqa64 %%zmm0, %%zmm15\n\t"
                     "vmovdqa64 %%zmm0, %%zmm16\n\t"
                     "vmovdqa64 %%zmm0, %%zmm17\n\t"
                     "vmovdqa64 %%zmm0, %%zmm18\n\t"
                     "vmovdqa64 %%zmm0, %%zmm19\n\t"
                     "vmovdqa64 %%zmm0, %%zmm20\n\t"
                     "vmovdqa64 %%zmm0, %%zmm21\n\t"
                     "vmovdqa64 %%zmm0, %%zmm22\n\t"
                     "vmovdqa64 %%zmm0, %%zmm23\n\t"
                     "1:\n\t"
                     "vpxord (%[w0]), %%zmm31, %%zmm24\n\t"
                     "vpxord (%[w1]), %%zmm31, %%zmm25\n\t"
                     "vpxord 64(%[w0]), %%zmm31, %%zmm26\n\t"
                     "vpxord 64(%[w1]), %%zmm31, %%zmm27\n\t"
                     QC_ROW2("(%[a0])", "24", "25", "0", "1")
                     QC_ROW2("(%[a0],%[p])", "24", "25", "2", "3")
                     QC_ROW2("(%[a0],%[p],2)", "24", "25", "4", "5")
                     QC_ROW2("(%[a3])", "24", "25", "6", "7")
                     QC_ROW2("(%[a3],%[p])", "24", "25", "8", "9")
                     QC_ROW2("(%[a3],%[p],2)", "24", "25", "10", "11")
                     QC_ROW2("4(%[a0])", "26", "27", "12", "13")
                     QC_ROW2("4(%[a0],%[p])", "26", "27", "14", "15")
                     QC_ROW2("4(%[a0],%[p],2)", "26", "27", "16", "17")
                     QC_ROW2("4(%[a3])", "26", "27", "18", "19")
                     QC_ROW2("4(%[a3],%[p])", "26", "27", "20", "21")
                     QC_ROW2("4(%[a3],%[p],2)", "26", "27", "22", "23")
                     "add $8, %[a0]\n\t"
                     "add $8, %[a3]\n\t"
                     "sub $-128, %[w0]\n\t"
                     "sub $-128, %[w1]\n\t"
                     "sub $8, %[k]\n\t"
                     "jnz 1b\n\t"
                     "vpaddd %%zmm12, %%zmm0, %%zmm0\n\t"
                     "vpaddd %%zmm13, %%zmm1, %%zmm1\n\t"
                     "vpaddd %%zmm14, %%zmm2, %%zmm2\n\t"
                     "vpaddd %%zmm15, %%zmm3, %%zmm3\n\t"
                     "vpaddd %%zmm16, %%zmm4, %%zmm4\n\t"
                     "vpaddd %%zmm17, %%zmm5, %%zmm5\n\t"
                     "vpaddd %%zmm18, %%zmm6, %%zmm6\n\t"
                     "vpaddd %%zmm19, %%zmm7, %%zmm7\n\t"
                     "vpaddd %%zmm20, %%zmm8, %%zmm8\n\t"
                     "vpaddd %%zmm21, %%zmm9, %%zmm9\n\t"
                     "vpaddd %%zmm22, %%zmm10, %%zmm10\n\t"
                     "vpaddd %%zmm23, %%zmm11, %%zmm11\n\t"
                     "vmovdqa64 %%zmm0, 0(%[acc])\n\t"
                     "vmovdqa64 %%zmm1, 64(%[acc])\n\t"
                     "vmovdqa64 %%zmm2, 128(%[acc])\n\t"
                     "vmovdqa64 %%zmm3, 192(%[acc])\n\t"
                     "vmovdqa64 %%zmm4, 256(%[acc])\n\t"
                     "vmovdqa64 %%zmm5, 320(%[acc])\n\t"
                     "vmovdqa64 %%zmm6, 384(%[acc])\n\t"
                     "vmovdqa64 %%zmm7, 448(%[acc])\n\t"
                     "vmovdqa64 %%zmm8, 512(%[acc])\n\t"
                     "vmovdqa64 %%zmm9, 576(%[acc])\n\t"
                     "vmovdqa64 %%zmm10, 640(%[acc])\n\t"
                     "vmovdqa64 %%zmm11, 704(%[acc])\n\t"
                     : [a0] "+&r"(a0), [a3] "+&r"(a3), [w0] "+&r"(w0), [w1] "+&r"(w1),
                       [k] "+&r"(k)
                     : [p] "r"(kc), [acc] "r"(acc), [flip] "r"(0x80808080u)
                     : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
                       "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
                       "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",
                       "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm31");

    /* the two panels' epilogues: the second panel's start values and zero points follow the
     * first's NR */
    __m512i half[MR];
    qc_q8gemm_ukernel_params p = *params;
    for (int h = 0; h < 2; h++) {
        for (size_t i = 0; i < mr; i++)
            half[i] = acc[i][h];
        store_rows(mr, h == 0 ? NR : nr - NR, kc, a, half, c + (size_t)h * NR, c_stride, &p);
        p.init = p.init != NULL ? p.init + NR : NULL;
        p.zb = p.zb != NULL ? p.zb + NR : NULL;
    }
}

QC_Q8GEMM_UKERNEL(qc_q8gemm_ukernel_6x32c4__avx512vnni)
{
    if (nr > NR && mr > 2) {
        tile32(mr, nr, kc, a, w, c, c_stride, params);
        return;
    }
    tile16(mr, nr < NR ? nr : NR, kc, a, w, c, c_stride, params);
    if (nr <= NR)
        return;
    qc_q8gemm_ukernel_params p = *params;
    p.init = p.init != NULL ? p.init + NR : NULL;
    p.zb = p.zb != NULL ? p.zb + NR : NULL;
    tile16(mr, nr - NR, kc, a, w + params->panel_stride, c + NR, c_stride, &p);
}
