/* q8gemm-6x16c4-scalar.c — reference qgemm micro-kernel and A packing; these define the bits. */
#include "int8-impl.h"

#include <string.h>

#define MR QC_Q8GEMM_MR
#define NR QC_Q8GEMM_NR

/* a' = a − 128 (eq. G2) is stored as its sign mask m and magnitude u (eq. G4): row i of the
 * panel holds, for each group of 4 k, the 4 bytes of m then the 4 bytes of u (rows are
 * 2·kc bytes apart). rowsum[i] is the sum of the real a[i][k] of this block (eq. G3),
 * negsum[i] = Σ m·u the row correction the AVX2 kernel adds (eq. G4), stored after the MR
 * rows. Padding (rows past mr, k past k_real) holds a' = 0. */
QC_Q8GEMM_PACKA(qc_q8gemm_packa_6x16c4__scalar)
{
    int32_t negsum[MR];
    for (size_t i = 0; i < MR; i++) {
        uint8_t *p = packed + i * 2 * kc;
        rowsum[i] = negsum[i] = 0;
        for (size_t k = 0; k < kc; k++) {
            int v = 0;
            if (i < mr && k < k_real) {
                const uint8_t x = a[i * a_stride + k];
                rowsum[i] += x;
                v = (int)x - 128;
            }
            p[(k / 4) * 8 + k % 4] = v < 0 ? 0xff : 0;
            p[(k / 4) * 8 + 4 + k % 4] = (uint8_t)(v < 0 ? -v : v);
            if (v < 0)
                negsum[i] += -v;
        }
    }
    memcpy(packed + MR * 2 * kc, negsum, sizeof negsum);
}

/* w: the panel of NR columns for these kc k, [kc / 4][NR][4] int8 */
QC_Q8GEMM_UKERNEL(qc_q8gemm_ukernel_6x16c4__scalar)
{
    /* uint32_t: the sums are taken mod 2^32 (exact whenever the result fits int32) */
    uint32_t acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (size_t i = 0; i < MR; i++) {
        const uint8_t *p = a + i * 2 * kc;
        for (size_t g = 0; g < kc / 4; g++)
            for (size_t j = 0; j < NR; j++) {
                int32_t s = 0; /* |s| ≤ 4·128·128: no overflow */
                for (size_t t = 0; t < 4; t++) {
                    const int u = p[g * 8 + 4 + t];
                    const int ap = p[g * 8 + t] ? -u : u;
                    s += ap * (int32_t)w[(g * NR + j) * 4 + t];
                }
                acc[i][j] += (uint32_t)s;
            }
    }
    for (size_t i = 0; i < mr; i++) {
        for (size_t j = 0; j < nr; j++) {
            uint32_t v = acc[i][j];
            v += params->init != NULL ? (uint32_t)params->init[j] : (uint32_t)c[i * c_stride + j];
            if (params->zb != NULL)
                v -= (uint32_t)params->zb[j] * (uint32_t)params->rowsum[i];
            c[i * c_stride + j] = (int32_t)v;
        }
    }
}
