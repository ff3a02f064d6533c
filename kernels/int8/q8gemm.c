/* q8gemm.c — packs weights for qgemm and tiles M, N and K over the micro-kernel. */
#include "int8-impl.h"

#include <string.h>

#define MR_MAX QC_Q8GEMM_MR_MAX
#define NR QC_Q8GEMM_NR
#define KB QC_Q8GEMM_KB
#define KC QC_Q8GEMM_KC

_Static_assert(sizeof(qc_q8gemm_header) == 64, "the header keeps the panels 64-byte aligned");
_Static_assert(KC % KB == 0 && KB % 4 == 0, "K blocks hold whole c4 groups");

/* the packed block of A (on the stack): as many row groups (the table's q8gemm_mr rows each)
 * as fit in ABLOCK_BYTES, at most MAX_GROUPS; it stays in L2 while the micro-kernel sweeps
 * the panels of B */
#define ABLOCK_BYTES (64 * 1024)
#define MAX_GROUPS 16
/* the columns of one pass: as many as keep their kc × NC bytes of panels within NC_BYTES (a
 * quarter of a Zen 5 core's L2, which A's rows and C also pass through), at most NC_MAX */
#define NC_BYTES (256 * 1024)
#define NC_MAX 1024
struct ablock {
    _Alignas(64) uint8_t bytes[ABLOCK_BYTES];
    int32_t rowsum[MAX_GROUPS][MR_MAX];
    const uint8_t *rows[MAX_GROUPS]; /* each group's first row: packed, or A itself */
    size_t row_stride[MAX_GROUPS];   /* 0 when packed */
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
    return sizeof(qc_q8gemm_header) + 2 * sums_bytes(np) + np * kp + QC_Q8GEMM_SLACK;
}

void qc_q8gemm_view_of(const void *packed, qc_q8gemm_view *v)
{
    const qc_q8gemm_header *h = packed;
    v->kp = h->kp;
    v->np = h->np;
    v->colsum = (const int32_t *)((const char *)packed + sizeof *h);
    v->zb = (const int32_t *)((const char *)v->colsum + sums_bytes(v->np));
    v->panels = (const int8_t *)v->zb + sums_bytes(v->np);
    v->has_zb = (h->flags & QC_Q8GEMM_HAS_ZB) != 0;
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
    /* panel by panel, column by column, 4 k at a time: the layout's index arithmetic (a
     * division and a remainder per byte) cost ~20 instructions per weight at model load */
    memset(panels, 0, np * kp); /* the padding: columns past n, k past k */
    for (size_t j0 = 0; j0 < np; j0 += NR) {
        for (size_t jj = 0; jj < NR; jj++) {
            const size_t j = j0 + jj;
            int32_t s = 0;
            if (j < n) {
                const int8_t *col = b + j * b_stride_n;
                int8_t *dst = panels + j0 * kp + jj * 4; /* k 0..3 of column j */
                size_t kk = 0;
                for (; kk + 4 <= k; kk += 4, dst += NR * 4) {
                    const int8_t v0 = col[kk * b_stride_k], v1 = col[(kk + 1) * b_stride_k];
                    const int8_t v2 = col[(kk + 2) * b_stride_k], v3 = col[(kk + 3) * b_stride_k];
                    dst[0] = v0;
                    dst[1] = v1;
                    dst[2] = v2;
                    dst[3] = v3;
                    s += v0 + v1 + v2 + v3;
                }
                for (size_t q = 0; kk + q < k; q++) {
                    const int8_t v = col[(kk + q) * b_stride_k];
                    dst[q] = v;
                    s += v;
                }
            }
            colsum[j] = s;
            zbp[j] = j < n && zb != NULL ? zb[j] : 0;
            if (zbp[j] != 0)
                h->flags |= QC_Q8GEMM_HAS_ZB;
        }
    }
    memset(panels + np * kp, 0, QC_Q8GEMM_SLACK);
}

/* Packs rows m0..m1 of A for the K block at k0 into ab, one group of mr_call rows after the
 * other. A kernel that reads A as it is (q8gemm_direct_a) takes whole groups straight from A
 * when the block has no k padding and no zero points ask for row sums: for a narrow B (few
 * column panels) the copy would cost as much as the products. */
static void prepare_ablock(const qc_int8_table *t, size_t m0, size_t m1, size_t kc,
                           size_t k_real, const uint8_t *a, size_t a_stride, int has_zb,
                           size_t pstride, struct ablock *ab)
{
    const size_t mr_call = t->q8gemm_mr;
    const int direct = t->q8gemm_direct_a && !has_zb && k_real == kc;
    for (size_t i0 = m0, p = 0; i0 < m1; i0 += mr_call, p++) {
        const size_t mr = m1 - i0 < mr_call ? m1 - i0 : mr_call;
        if (direct && mr == mr_call) {
            ab->rows[p] = a + i0 * a_stride;
            ab->row_stride[p] = a_stride;
            continue;
        }
        ab->rows[p] = ab->bytes + p * pstride;
        ab->row_stride[p] = 0;
        t->q8gemm_packa(mr, kc, k_real, a + i0 * a_stride, a_stride, ab->bytes + p * pstride,
                        ab->rowsum[p]);
    }
}

/* What one call of qc_q8gemm shares between its blocks */
typedef struct gemm_plan {
    const qc_int8_table *t;
    const int32_t *colsum, *zbp;
    const int8_t *panels;
    size_t kp, kc_max, pstride, mc, nc_block;
    int has_zb;
    uint32_t shift, kza; /* eq. G5's column term: shift·colsum[n] + kza·zb[n] */
} gemm_plan;

/* The column term of eq. G5 for the calls of columns n0..n1 (their panels: np is a multiple
 * of NR), the first K block's init */
static void column_init(const gemm_plan *pl, size_t n0, size_t n1, int32_t *init)
{
    for (size_t j = n0; j < round_up(n1, NR); j++)
        init[j - n0] = (int32_t)(pl->shift * (uint32_t)pl->colsum[j] + pl->kza * (uint32_t)pl->zbp[j]);
}

/* The packed (or pointed at) rows m0..m1 of the K block at k0 against columns n0..n1: for
 * each row group the micro-kernel across the columns, so that the group's rows stay in L1
 * while the columns' panels come from L2. */
static void run_block(const gemm_plan *pl, size_t k0, size_t kc, size_t m0, size_t m1,
                      size_t n0, size_t n1, const int32_t *init, int32_t *c, size_t c_stride,
                      const struct ablock *ab)
{
    const qc_int8_table *t = pl->t;
    const size_t mr_call = t->q8gemm_mr, nc = t->q8gemm_nr;
    for (size_t i0 = m0, p = 0; i0 < m1; i0 += mr_call, p++) {
        const size_t mr = m1 - i0 < mr_call ? m1 - i0 : mr_call;
        for (size_t j0 = n0; j0 < n1; j0 += nc) {
            const size_t nr = n1 - j0 < nc ? n1 - j0 : nc;
            const qc_q8gemm_ukernel_params params = {
                init != NULL ? init + (j0 - n0) : NULL, pl->has_zb ? pl->zbp + j0 : NULL,
                ab->rowsum[p], NR * pl->kp, ab->row_stride[p]};
            t->q8gemm_ukernel(mr, nr, kc, ab->rows[p], pl->panels + j0 * pl->kp + k0 * NR,
                              c + i0 * c_stride + j0, c_stride, &params);
        }
    }
}

/* Loop order: for each block of kc ≤ KC k, for each block of rows of A (packed once into
 * ≤ 64 KiB, or read in place), for each block of columns whose panels fit in L2 (NC_BYTES),
 * for each group of 6 or 12 rows, the micro-kernel across the columns (one or two panels of
 * kc × 16 bytes per call). Where N spans several column blocks, a column block's panels are
 * read from L3 by the first row group of each row block and from L2 by the others, which
 * bench_qgemm's 1024³ did not show slower than packing the rows again for every column block
 * (Zen 3, 512 KiB L2). */
void qc_q8gemm(size_t m, size_t n, size_t k, const uint8_t *a, size_t a_stride, uint8_t za,
               const void *packed, int32_t *c, size_t c_stride)
{
    qc_q8gemm_view v;
    qc_q8gemm_view_of(packed, &v);
    gemm_plan pl = {.t = qc_int8_kernels(), .kp = v.kp};
    pl.colsum = v.colsum;
    pl.zbp = v.zb;
    pl.panels = v.panels;
    pl.has_zb = v.has_zb;

    if (m == 0 || n == 0)
        return;
    if (k == 0) {
        for (size_t i = 0; i < m; i++)
            memset(c + i * c_stride, 0, n * sizeof *c);
        return;
    }
    /* a kernel with its own blocking (AMX tiles), unless A has too few rows for its tiles
     * (a 16-row tile costs the same for 1 row: at M = 1 it ran at 0.75 of the micro-kernel) */
    if (pl.t->q8gemm != NULL && m >= QC_Q8GEMM_WHOLE_MIN_M) {
        pl.t->q8gemm(m, n, k, a, a_stride, za, &v, c, c_stride);
        return;
    }
    /* K blocks of equal size (multiples of KB), so that no call gets a short tail */
    const size_t kp = pl.kp, kblocks = (kp + KC - 1) / KC;
    pl.kc_max = (kp / KB + kblocks - 1) / kblocks * KB;
    pl.pstride = round_up(QC_Q8GEMM_PACKA_BYTES(pl.kc_max), 64);
    size_t groups = ABLOCK_BYTES / pl.pstride;
    if (groups > MAX_GROUPS)
        groups = MAX_GROUPS;
    pl.mc = groups * pl.t->q8gemm_mr;
    const size_t nc = pl.t->q8gemm_nr;
    pl.nc_block = NC_BYTES / pl.kc_max / nc * nc;
    if (pl.nc_block < nc)
        pl.nc_block = nc;
    if (pl.nc_block > NC_MAX)
        pl.nc_block = NC_MAX;
    /* eq. G5: the column term (offset − za)·colsum[n] + K·za·zb[n], all mod 2^32 (offset:
     * what the kernel takes from a, 128 or 0) */
    pl.shift = pl.t->q8gemm_a_offset - za;
    pl.kza = (uint32_t)k * za;
    struct ablock ab;
    int32_t init[NC_MAX]; /* the first K block's column term, for each row block (≤ NC_MAX
                             multiply-adds against its rows × columns of micro-kernel calls) */

    for (size_t k0 = 0; k0 < kp; k0 += pl.kc_max) {
        const size_t kc = kp - k0 < pl.kc_max ? kp - k0 : pl.kc_max;
        const size_t k_real = k - k0 < kc ? k - k0 : kc;
        for (size_t m0 = 0; m0 < m; m0 += pl.mc) {
            const size_t m1 = m - m0 < pl.mc ? m : m0 + pl.mc;
            prepare_ablock(pl.t, m0, m1, kc, k_real, a + k0, a_stride, pl.has_zb, pl.pstride,
                           &ab);
            for (size_t n0 = 0; n0 < n; n0 += pl.nc_block) {
                const size_t n1 = n - n0 < pl.nc_block ? n : n0 + pl.nc_block;
                if (k0 == 0)
                    column_init(&pl, n0, n1, init);
                run_block(&pl, k0, kc, m0, m1, n0, n1, k0 == 0 ? init : NULL, c, c_stride,
                          &ab);
            }
        }
    }
}
