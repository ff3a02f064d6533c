/* q8gemm-2x4c32-scalar.c — reference qgemm micro-kernel and A packing; these define the bits. */
#include "int8-impl.h"

#include <string.h>

#define MR QC_Q8GEMM_MR
#define NR QC_Q8GEMM_NR
#define KB QC_Q8GEMM_KB

/* a' = a − 128 (eq. G2) is stored as its sign mask m and magnitude u (eq. G4); rowsum[i] is
 * the sum of the real a[i][k] of this block (eq. G3), negsum[i] = Σ m·u the row correction
 * the AVX2 kernel adds (eq. G4). Padding holds a' = 0. */
QC_Q8GEMM_PACKA(qc_q8gemm_packa_2x4c32__scalar)
{
    int32_t negsum[MR];
    for (size_t i = 0; i < MR; i++)
        rowsum[i] = negsum[i] = 0;
    uint8_t *p = packed;
    for (size_t k0 = 0; k0 < kc; k0 += KB) {
        for (size_t i = 0; i < MR; i++) {
            for (size_t t = 0; t < KB; t++) {
                int v = 0;
                if (i < mr && k0 + t < k_real) {
                    const uint8_t x = a[i * a_stride + k0 + t];
                    rowsum[i] += x;
                    v = (int)x - 128;
                }
                p[i * KB + t] = v < 0 ? 0xff : 0;
                p[(MR + i) * KB + t] = (uint8_t)(v < 0 ? -v : v);
                if (v < 0)
                    negsum[i] += -v;
            }
        }
        p += 2 * MR * KB;
    }
    memcpy(p, negsum, sizeof negsum);
}

QC_Q8GEMM_UKERNEL(qc_q8gemm_ukernel_2x4c32__scalar)
{
    /* uint32_t: the sums are taken mod 2^32 (exact whenever the result fits int32) */
    uint32_t acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (size_t k0 = 0; k0 < kc; k0 += KB) {
        for (size_t i = 0; i < MR; i++)
            for (size_t j = 0; j < NR; j++) {
                int32_t s = 0; /* |s| ≤ 32·128·128: no overflow */
                for (size_t t = 0; t < KB; t++) {
                    const int u = a[(MR + i) * KB + t];
                    const int ap = a[i * KB + t] ? -u : u;
                    s += ap * (int32_t)w[j * KB + t];
                }
                acc[i][j] += (uint32_t)s;
            }
        a += 2 * MR * KB;
        w += NR * KB;
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
