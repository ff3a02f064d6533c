/* q8gemm.c — packs weights for qgemm and tiles M, N and K over the micro-kernel. */
#include "int8-impl.h"

#include <string.h>

#define MR QC_Q8GEMM_MR
#define NR QC_Q8GEMM_NR
#define KB QC_Q8GEMM_KB
#define KC QC_Q8GEMM_KC

_Static_assert(sizeof(qc_q8gemm_header) == 64, "the header keeps the panels 64-byte aligned");
_Static_assert(KC % KB == 0 && KB % 4 == 0, "K blocks hold whole c4 groups");

/* the packed block of A (on the stack): as many MR-row groups as fit in ABLOCK_BYTES, at most
 * MAX_GROUPS; it stays in L2 while the micro-kernel sweeps the panels of B */
#define ABLOCK_BYTES (64 * 1024)
#define MAX_GROUPS 16
struct ablock {
    _Alignas(64) uint8_t bytes[ABLOCK_BYTES];
    int32_t rowsum[MAX_GROUPS][MR];
};
_Static_assert(QC_Q8GEMM_PACKA_BYTES(KC) <= ABLOCK_BYTES, "one row group fits");

static size_t round_up(size_t x, size_t q)
{
    return (x + q - 1) / q * q;
}

/* byte offsets of the parts of a packed matrix */
static size_t sums_bytes(size_t np)
{
    return round_up(np * sizeof(int32_t), 64);
}

size_t qc_q8gemm_packed_size(size_t k, size_t n)
{
    const size_t kp = round_up(k, KB), np = round_up(n, NR);
    return sizeof(qc_q8gemm_header) + 2 * sums_bytes(np) + np * kp;
}

void qc_q8gemm_pack(size_t k, size_t n, const int8_t *b, size_t b_stride_k, size_t b_stride_n,
                    const int8_t *zb, void *packed)
{
    const size_t kp = round_up(k, KB), np = round_up(n, NR);
    qc_q8gemm_header *h = packed;
    int32_t *colsum = (int32_t *)((char *)packed + sizeof *h);
    int32_t *zbp = (int32_t *)((char *)colsum + sums_bytes(np));
    int8_t *panels = (int8_t *)zbp + sums_bytes(np);

    memset(h, 0, sizeof *h);
    h->k = (uint32_t)k;
    h->n = (uint32_t)n;
    h->kp = (uint32_t)kp;
    h->np = (uint32_t)np;
    for (size_t j = 0; j < np; j++) {
        int32_t s = 0;
        int8_t *panel = panels + (j / NR) * NR * kp + (j % NR) * 4;
        for (size_t kk = 0; kk < kp; kk++) {
            int8_t v = 0;
            if (j < n && kk < k) {
                v = b[kk * b_stride_k + j * b_stride_n];
                s += v;
            }
            panel[(kk / 4) * NR * 4 + kk % 4] = v;
        }
        colsum[j] = s;
        zbp[j] = j < n && zb != NULL ? zb[j] : 0;
        if (zbp[j] != 0)
            h->flags |= QC_Q8GEMM_HAS_ZB;
    }
}

/* Loop order (GotoBLAS): for each block of kc ≤ KC k, for each block of up to 96 rows of A,
 * pack the block (≤ 64 KiB, stays in L2), then for each 16-column panel of B (kc × 16 bytes,
 * stays in L1) run the micro-kernel down the block's groups of 6 rows. */
void qc_q8gemm(size_t m, size_t n, size_t k, const uint8_t *a, size_t a_stride, uint8_t za,
               const void *packed, int32_t *c, size_t c_stride)
{
    const qc_int8_table *t = qc_int8_kernels();
    const qc_q8gemm_header *h = packed;
    const size_t kp = h->kp, np = h->np;
    const int32_t *colsum = (const int32_t *)((const char *)packed + sizeof *h);
    const int32_t *zbp = (const int32_t *)((const char *)colsum + sums_bytes(np));
    const int8_t *panels = (const int8_t *)zbp + sums_bytes(np);
    const int has_zb = (h->flags & QC_Q8GEMM_HAS_ZB) != 0;
    const qc_q8gemm_ukernel_fn ukernel = t->q8gemm_ukernel;
    const qc_q8gemm_packa_fn packa = t->q8gemm_packa;
    const size_t nc = t->q8gemm_nr; /* columns per call: one or two panels */

    if (m == 0 || n == 0)
        return;
    if (k == 0) {
        for (size_t i = 0; i < m; i++)
            memset(c + i * c_stride, 0, n * sizeof *c);
        return;
    }
    /* K blocks of equal size (multiples of KB), so that no call gets a short tail */
    const size_t kblocks = (kp + KC - 1) / KC;
    const size_t kc_max = (kp / KB + kblocks - 1) / kblocks * KB;
    const size_t pstride = QC_Q8GEMM_PACKA_BYTES(kc_max);
    size_t groups = ABLOCK_BYTES / pstride;
    if (groups > MAX_GROUPS)
        groups = MAX_GROUPS;
    const size_t mc = groups * MR;
    struct ablock ab;
    /* eq. G5: the column term (128 − za)·colsum[n] + K·za·zb[n], all mod 2^32 */
    const uint32_t shift = 128u - za, kza = (uint32_t)k * za;

    for (size_t k0 = 0; k0 < kp; k0 += kc_max) {
        const size_t kc = kp - k0 < kc_max ? kp - k0 : kc_max;
        const size_t k_real = k - k0 < kc ? k - k0 : kc;
        for (size_t m0 = 0; m0 < m; m0 += mc) {
            const size_t m1 = m0 + mc < m ? m0 + mc : m;
            for (size_t i0 = m0, p = 0; i0 < m1; i0 += MR, p++) {
                const size_t mr = m1 - i0 < MR ? m1 - i0 : MR;
                packa(mr, kc, k_real, a + i0 * a_stride + k0, a_stride, ab.bytes + p * pstride,
                      ab.rowsum[p]);
            }
            for (size_t j0 = 0; j0 < n; j0 += nc) {
                const size_t nr = n - j0 < nc ? n - j0 : nc;
                const int8_t *w = panels + j0 * kp + k0 * NR;
                int32_t init[2 * NR];
                if (k0 == 0) /* the panels this call reads: np is a multiple of NR */
                    for (size_t j = 0; j < round_up(nr, NR); j++)
                        init[j] = (int32_t)(shift * (uint32_t)colsum[j0 + j] +
                                            kza * (uint32_t)zbp[j0 + j]);
                for (size_t i0 = m0, p = 0; i0 < m1; i0 += MR, p++) {
                    const size_t mr = m1 - i0 < MR ? m1 - i0 : MR;
                    const qc_q8gemm_ukernel_params params = {
                        k0 == 0 ? init : NULL, has_zb ? zbp + j0 : NULL, ab.rowsum[p], NR * kp};
                    ukernel(mr, nr, kc, ab.bytes + p * pstride, w, c + i0 * c_stride + j0, c_stride,
                            &params);
                }
            }
        }
    }
}
