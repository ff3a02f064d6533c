/* check_kernels_int8.c — qcal's INT8 kernels: every AVX2 twin equals its scalar reference bit
 * for bit, and the references equal independent definitions (an int64 triple loop for qgemm,
 * exact long-double rounding for requantize, ONNX semantics for quantize), also for the real
 * multipliers of scale ratios from 2^-20 to 2^20. */
#include "kernels/int8/int8-impl.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check-util.h"

/* ---- random numbers and buffers ---- */

static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
    rng_state = s;
}

static uint32_t rng(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static int rng_range(int lo, int hi)
{
    return lo + (int)(rng() % (uint32_t)(hi - lo + 1));
}

static int have_avx2(void)
{
    return qc_int8_select(QC_INT8_ISA_AVX2) == 0;
}

/* the AVX-512 kernels (transpose, channels-last depthwise) run where the AVX512-VNNI table does */
static int have_avx512(void)
{
    return qc_int8_select(QC_INT8_ISA_AVX512VNNI) == 0;
}

static const char *isa_name(int isa);

static void *xalloc(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* ---- qgemm ---- */

#define RANDOM (-1000)   /* fill value: uniform over the type's whole range */
#define EXTREMES (-2000) /* fill value: each element either end of the range, at random */

typedef struct gemm_case {
    size_t m, n, k;
    size_t a_stride, c_stride;
    int transposed; /* B given N×K */
    int a_fill;     /* RANDOM, EXTREMES or the value of every activation */
    int b_fill;     /* RANDOM, EXTREMES or the value of every weight */
    int with_zb;
    int za; /* the activation zero point when a_fill is a value (else drawn) */
} gemm_case;

/* C from qc_q8gemm with the chosen kernels versus Σ (a − za)(b − zb) in int64 */
static int run_gemm_case(const gemm_case *gc, int isa)
{
    const size_t m = gc->m, n = gc->n, k = gc->k;
    uint8_t *a = xalloc(m * gc->a_stride + 1);
    int8_t *b = xalloc(k * n + 1);
    int8_t zb[4096];
    int32_t *c = xalloc((m * gc->c_stride + 1) * sizeof *c);
    const uint8_t za = (uint8_t)(gc->a_fill < 0 ? rng_range(0, 255) : gc->za);

    for (size_t i = 0; i < m * gc->a_stride; i++)
        a[i] = (uint8_t)(gc->a_fill == RANDOM     ? rng_range(0, 255)
                         : gc->a_fill == EXTREMES ? 255 * rng_range(0, 1)
                                                  : gc->a_fill);
    for (size_t i = 0; i < k * n; i++)
        b[i] = (int8_t)(gc->b_fill == RANDOM     ? rng_range(-128, 127)
                        : gc->b_fill == EXTREMES ? (rng_range(0, 1) ? 127 : -128)
                                                 : gc->b_fill);
    for (size_t j = 0; j < n; j++)
        zb[j] = (int8_t)(gc->with_zb ? rng_range(-128, 127) : 0);
    for (size_t i = 0; i < m * gc->c_stride; i++)
        c[i] = (int32_t)0xdeadbeef;

    const size_t sk = gc->transposed ? 1 : n, sn = gc->transposed ? k : 1;
    void *packed = xalloc(qc_q8gemm_packed_size(k, n));
    qc_q8gemm_pack(k, n, b, sk, sn, gc->with_zb ? zb : NULL, packed);

    ck_assert_int_eq(qc_int8_select(isa), 0);
    qc_q8gemm(m, n, k, a, gc->a_stride, za, packed, c, gc->c_stride);

    int bad = 0;
    for (size_t i = 0; i < m && !bad; i++) {
        for (size_t j = 0; j < n && !bad; j++) {
            int64_t ref = 0;
            for (size_t kk = 0; kk < k; kk++)
                ref += ((int64_t)a[i * gc->a_stride + kk] - za) *
                       ((int64_t)b[kk * sk + j * sn] - zb[j]);
            ck_assert(ref >= INT32_MIN && ref <= INT32_MAX);
            const int32_t got = c[i * gc->c_stride + j];
            if (got != (int32_t)ref) {
                fprintf(
                    stderr,
                    "qgemm %s: M=%zu N=%zu K=%zu za=%u zb=%d at (%zu, %zu): got %d, want %lld\n",
                    isa_name(isa),
                    m, n, k, za, gc->with_zb, i, j,
                    got, (long long)ref);
                bad = 1;
            }
        }
        /* nothing written past n */
        for (size_t j = n; j < gc->c_stride && !bad; j++)
            if (c[i * gc->c_stride + j] != (int32_t)0xdeadbeef) {
                fprintf(stderr, "qgemm: M=%zu N=%zu K=%zu wrote past the row at (%zu, %zu)\n", m, n,
                        k, i, j);
                bad = 1;
            }
    }
    free(a);
    free(b);
    free(c);
    free(packed);
    return !bad;
}

/* Every kernel table the CPU can run, up to QC_INT8_ISAS: scalar, AVX2, AVX2 with the AVX-VNNI
 * qgemm micro-kernel, AVX2 with the AVX512-VNNI one. Every test runs all of them, so that none
 * is left out where a kernel of the table is used indirectly (qgemm inside a convolution); a
 * table the CPU lacks is skipped, and said so once. */
#define QC_INT8_ISAS 5
static int isa_list(int *isas)
{
    static const int all[QC_INT8_ISAS] = {QC_INT8_ISA_SCALAR, QC_INT8_ISA_AVX2,
                                          QC_INT8_ISA_AVXVNNI, QC_INT8_ISA_AVX512VNNI,
                                          QC_INT8_ISA_AMX};
    static int told;
    int n = 0;
    for (int i = 0; i < QC_INT8_ISAS; i++) {
        if (qc_int8_select(all[i]) == 0)
            isas[n++] = all[i];
        else if (!told)
            fprintf(stderr, "check_kernels_int8: skipping the %s kernels: this CPU lacks them\n",
                    isa_name(all[i]));
    }
    told = 1;
    return n;
}

static int qgemm_isa_list(int *isas)
{
    return isa_list(isas);
}

static const char *isa_name(int isa)
{
    return isa == QC_INT8_ISA_AMX          ? "amx"
           : isa == QC_INT8_ISA_AVX512VNNI ? "avx512vnni"
           : isa == QC_INT8_ISA_AVXVNNI  ? "avxvnni"
           : isa == QC_INT8_ISA_AVX2     ? "avx2"
                                         : "scalar";
}

START_TEST(test_qgemm_swept_shapes_match_int64_reference)
{
    /* m = 1..7, 13 (the 6- and 12-row groups and their remainders), n = 1..4NR+1 (two-panel calls
     * and their remainders), k below / at / above the c4 group and the KB pad, odd or prime */
    static const size_t ks[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 32, 33, 63, 64, 65, 97, 127, 576};
    int isas[QC_INT8_ISAS];
    const int nisa = qgemm_isa_list(isas);
    rng_seed(1);
    for (int s = 0; s < nisa; s++)
        for (size_t m = 1; m <= QC_Q8GEMM_MR_MAX + 1; m += m < QC_Q8GEMM_MR + 1 ? 1 : 6)
            for (size_t n = 1; n <= 4 * QC_Q8GEMM_NR + 1; n++)
                for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
                    gemm_case gc = {m,
                                    n,
                                    ks[ki],
                                    ks[ki] + (m & 1) * 3,
                                    n + (n & 1) * 5,
                                    (int)(ki & 1),
                                    RANDOM,
                                    RANDOM,
                                    (int)(n % 3 == 0),
                                    0};
                    ck_assert_msg(run_gemm_case(&gc, isas[s]), "see the message above");
                }
}
END_TEST

START_TEST(test_qgemm_k_blocks_and_column_blocks_match_reference)
{
    /* K above the cache block (several K blocks) and N above the L2 column block */
    static const size_t shapes[][3] = {
        {3, 5, 2047},   {3, 5, 2048},  {5, 7, 2049},  {2, 3, 4097},   {7, 13, 2111}, {3, 9, 1152},
        {5, 301, 1024}, {3, 389, 512}, {17, 37, 101}, {1, 1000, 512}, {37, 64, 576},
        /* K at / above the 1536 block; M across the packed A block (54 rows at K = 576, 96
         * rows at small K) */
        {7, 17, 1536},  {13, 33, 1537}, {6, 16, 3073}, {61, 19, 576},  {103, 35, 100},
        /* columns across the L2 column block (256 at K = 1024, 512 at K = 512), two K blocks
         * read in place, full 12-row groups read in place beside packed remainders */
        {25, 301, 1024}, {26, 40, 1544}, {36, 530, 512}, {130, 40, 64}, {12, 1, 8},
        {14, 3, 1},
    };
    int isas[QC_INT8_ISAS];
    const int nisa = qgemm_isa_list(isas);
    rng_seed(2);
    for (int s = 0; s < nisa; s++)
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
            gemm_case gc = {shapes[i][0],     shapes[i][1],     shapes[i][2],
                            shapes[i][2] + 1, shapes[i][1] + 3, (int)(i & 1),
                            RANDOM,           RANDOM,           (int)(i % 3 == 1), 0};
            ck_assert_msg(run_gemm_case(&gc, isas[s]), "see the message above");
        }
}
END_TEST

START_TEST(test_qgemm_amx_tile_edges_match_reference)
{
    /* the AMX kernel's edges (the other tables run them too): K around its 64-k tile (the
     * partial last tile packed with zeros, B read past the panel into the next one or the
     * packed buffer's slack), M around its 16-row tiles and 32-row blocks, N around its
     * 16-column tiles and 32-column blocks (M below QC_Q8GEMM_WHOLE_MIN_M = 4 goes to the
     * micro-kernel); A in place with a stride wider than K */
    static const size_t ks[] = {4, 60, 64, 68, 4100};
    static const size_t ms[] = {1, 3, 4, 15, 16, 17, 31, 32, 33, 49};
    static const size_t ns[] = {1, 15, 16, 17, 33};
    int isas[QC_INT8_ISAS];
    const int nisa = qgemm_isa_list(isas);
    rng_seed(7);
    for (int s = 0; s < nisa; s++)
        for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
            for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++)
                for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++) {
                    if (ks[ki] > 68 && ms[mi] % 16 != 1)
                        continue; /* the long K on a few shapes only: its reference is slow */
                    gemm_case gc = {ms[mi], ns[ni], ks[ki], ks[ki] + (mi & 1) * 64, ns[ni] + 2,
                                    (int)(ni & 1), RANDOM, RANDOM, (int)((mi + ni) & 1), 0};
                    ck_assert_msg(run_gemm_case(&gc, isas[s]), "see the message above");
                }
}
END_TEST

START_TEST(test_qgemm_amx_extremes_and_zero_points)
{
    /* all 255 × all −128 (the largest |sum|: 4100·255·128 < 2^31), with za = 0 and 255 and
     * weight zero points, over two row blocks and a column tail */
    static const size_t ks[] = {64, 68, 4100};
    int isas[QC_INT8_ISAS];
    const int nisa = qgemm_isa_list(isas);
    rng_seed(8);
    for (int s = 0; s < nisa; s++)
        for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
            for (int zb = 0; zb < 2; zb++) {
                gemm_case gc = {33, 17, ks[ki], ks[ki], 17, 0, 255, -128, zb, 0};
                ck_assert_msg(run_gemm_case(&gc, isas[s]), "see the message above");
                gc.a_fill = 0; /* a − za = −255 everywhere */
                gc.za = 255;
                ck_assert_msg(run_gemm_case(&gc, isas[s]), "see the message above");
            }
}
END_TEST

START_TEST(test_qgemm_amx_deferred_epilogue_across_blocks)
{
    /* the AMX kernel writes each block of C while the next block's products run: the last
     * block of a row block is finished after the next row block started (its own row sums of
     * A, tiles configured for other rows: 32 + 1, 32 + 17 rows), the last of a column sweep
     * after the next sweep started (224 columns per sweep at K = 4100), the last of the call
     * after the loops; with and without weight zero points, C with a stride wider than N */
    static const size_t shapes[][3] = {
        {33, 70, 64}, {49, 33, 68}, {65, 96, 130}, {49, 250, 4100}, {36, 226, 4100},
    };
    int isas[QC_INT8_ISAS];
    const int nisa = qgemm_isa_list(isas);
    rng_seed(9);
    for (int s = 0; s < nisa; s++)
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
            for (int zb = 0; zb < 2; zb++) {
                gemm_case gc = {shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][2] + 3,
                                shapes[i][1] + 16, (int)(i & 1), RANDOM, RANDOM, zb, 0};
                ck_assert_msg(run_gemm_case(&gc, isas[s]), "see the message above");
            }
}
END_TEST

START_TEST(test_qgemm_amx_epilogue_spread_over_steps)
{
    /* the AMX kernel writes the previous block's rows of C a few after each 64-k step of the
     * next block: K of one step, of two steps and a tail, of three steps (32 rows in uneven
     * shares of 11), of more steps than rows (one row a step, the last steps none), below one
     * step (all rows after the tail); pending blocks of 32, 1 and 15 rows (M = 33, 47), the
     * next block in the same row block or the next one, a column tail of 18; with and without
     * weight zero points, A and C with strides wider than K and N */
    static const size_t ks[] = {64, 133, 192, 321, 2560, 40};
    static const size_t ms[] = {33, 47};
    static const size_t ns[] = {32, 50, 80};
    int isas[QC_INT8_ISAS];
    const int nisa = qgemm_isa_list(isas);
    rng_seed(10);
    for (int s = 0; s < nisa; s++)
        for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
            for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++)
                for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
                    for (int zb = 0; zb < 2; zb++) {
                        gemm_case gc = {ms[mi], ns[ni], ks[ki], ks[ki] + 7, ns[ni] + 5,
                                        (int)(ni & 1), RANDOM, RANDOM, zb, 0};
                        ck_assert_msg(run_gemm_case(&gc, isas[s]), "see the message above");
                    }
}
END_TEST

START_TEST(test_qgemm_amx_blocks_stored_from_tiles)
{
    /* without weight zero points the AMX kernel's whole 32 × 32 blocks start from the column
     * term and go from the tiles straight into C, beside buffered blocks (row and column
     * tails) in the same call: za = 0 and 255 (all 255 × all −128: the largest sums), sweeps
     * of 1024 columns at small K (a pending tail block of one sweep written after the next
     * sweep's column terms were computed: 33 rows, 1100 columns), C with a stride wider than
     * N; with weight zero points the same shapes go through the epilogue */
    static const size_t shapes[][3] = {
        {32, 32, 64}, {64, 96, 576}, {96, 64, 100}, {64, 1064, 64}, {33, 1100, 40}, {47, 2080, 8},
    };
    int isas[QC_INT8_ISAS];
    const int nisa = qgemm_isa_list(isas);
    rng_seed(11);
    for (int s = 0; s < nisa; s++)
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
            for (int zb = 0; zb < 2; zb++) {
                gemm_case gc = {shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][2] + 5,
                                shapes[i][1] + 16 * (i & 1), (int)(i & 1), RANDOM, RANDOM, zb, 0};
                ck_assert_msg(run_gemm_case(&gc, isas[s]), "see the message above");
                gemm_case ext = {shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][2],
                                 shapes[i][1], 0, 255, -128, zb, 0};
                ck_assert_msg(run_gemm_case(&ext, isas[s]), "see the message above");
                ext.a_fill = 0; /* a − za = −255 everywhere */
                ext.za = 255;
                ck_assert_msg(run_gemm_case(&ext, isas[s]), "see the message above");
            }
}
END_TEST

START_TEST(test_qgemm_saturation_worst_cases_are_exact)
{
    /* a = 255 with b = ±127: 2·255·127 = 64770 for a plain vpmaddubsw; a = 0 (|a'| = 128)
     * with b = 127 makes the kernel's pair sum exactly -32768; b = -128 everywhere */
    static const int as[] = {0, 255, 127, 128};
    static const int bs[] = {-128, -127, 127, 1};
    static const size_t ks[] = {4, 32, 33, 1024, 2081};
    int isas[QC_INT8_ISAS];
    const int nisa = qgemm_isa_list(isas);
    rng_seed(3);
    for (int s = 0; s < nisa; s++)
        for (size_t ai = 0; ai < 4; ai++)
            for (size_t bi = 0; bi < 4; bi++)
                for (size_t ki = 0; ki < 5; ki++) {
                    gemm_case gc = {3, 9, ks[ki], ks[ki], 9, 0, as[ai], bs[bi], 0, 0};
                    ck_assert_msg(run_gemm_case(&gc, isas[s]), "see the message above");
                    gc.with_zb = 1;
                    ck_assert_msg(run_gemm_case(&gc, isas[s]), "see the message above");
                }
}
END_TEST

START_TEST(test_qgemm_tile_edges_and_k_block_at_the_int16_extremes)
{
    /* every M and N remainder of the tile (6 rows × one or two 16-column panels) and one more,
     * K below / at / above the KB pad and the cache block, with a ∈ {0, 255} against b ∈ {−128, 127} mixed at random and with the
     * worst int16 case alone (a = 0 against b = 127: every product −16 384, every vpmaddubsw
     * pair sum −32 768, so any int16 sum of two pair sums would wrap) */
    static const size_t ks[] = {7, 8, 9, QC_Q8GEMM_KC - 1, QC_Q8GEMM_KC, QC_Q8GEMM_KC + 9};
    int isas[QC_INT8_ISAS];
    const int nisa = qgemm_isa_list(isas);
    rng_seed(11);
    for (int s = 0; s < nisa; s++)
        for (size_t m = 1; m <= QC_Q8GEMM_MR + 1; m++)
            for (size_t n = 1; n <= 2 * QC_Q8GEMM_NR + 1; n++)
                for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
                    gemm_case gc = {m, n, ks[ki], ks[ki], n, 0, EXTREMES, EXTREMES,
                                    (int)(n % 2), 0};
                    ck_assert_msg(run_gemm_case(&gc, isas[s]), "see the message above");
                    gc.a_fill = 0;
                    gc.b_fill = 127;
                    gc.za = 0;
                    ck_assert_msg(run_gemm_case(&gc, isas[s]), "see the message above");
                }
}
END_TEST

START_TEST(test_qgemm_empty_sizes)
{
    int32_t c[6] = {7, 7, 7, 7, 7, 7};
    uint8_t a[6] = {1, 2, 3, 4, 5, 6};
    _Alignas(64) unsigned char packed[4096];
    ck_assert_uint_le(qc_q8gemm_packed_size(0, 3), sizeof packed);
    qc_q8gemm_pack(0, 3, NULL, 3, 1, NULL, packed);
    qc_q8gemm(2, 3, 0, a, 0, 9, packed, c, 3);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(c[i], 0);
    c[0] = 7;
    qc_q8gemm(0, 3, 0, a, 0, 9, packed, c, 3);
    ck_assert_int_eq(c[0], 7);
}
END_TEST

/* micro-kernel tester: AVX2 (and AVX-VNNI) and scalar on the same packed panels (A packed by
 * the scalar reference), every mr ≤ MR, nr ≤ NR and kc up to 12 K groups, worst cases
 * included */
START_TEST(test_qgemm_ukernel_avx2_equals_scalar)
{
    if (!have_avx2())
        return;
    enum { MR = QC_Q8GEMM_MR, NR = QC_Q8GEMM_NR, KB = QC_Q8GEMM_KB, KMAX = 12 * KB };
    rng_seed(5);
    for (size_t kc = KB; kc <= KMAX; kc += KB)
        for (size_t mr = 1; mr <= MR; mr++)
            for (size_t nr = 1; nr <= NR; nr++)
                for (int mode = 0; mode < 5; mode++) {
                    _Alignas(32) uint8_t a[QC_Q8GEMM_PACKA_BYTES(KMAX)];
                    _Alignas(32) int8_t w[NR * KMAX];
                    uint8_t raw[MR * KMAX];
                    int32_t init[NR], zb[NR], rowsum[MR];
                    int32_t c0[MR * 19], c1[MR * 19], c2[MR * 19];
                    /* mode 3: a = 0 (|a'| = 128) against b = 127, the pair sum −32768 */
                    for (size_t i = 0; i < MR * kc; i++)
                        raw[i] = (uint8_t)(mode >= 3 ? 0 : rng_range(0, 255));
                    qc_q8gemm_packa_6x16c4__scalar(mr, kc, kc - (mode == 2) * 3, raw, kc, a,
                                                   rowsum);
                    for (size_t i = 0; i < NR * kc; i++)
                        w[i] = (int8_t)(mode == 3   ? 127
                                        : mode == 4 ? ((i & 1) ? 127 : -128)
                                                    : rng_range(-128, 127));
                    for (size_t j = 0; j < NR; j++) {
                        init[j] = (int32_t)rng();
                        zb[j] = rng_range(-128, 127);
                    }
                    for (size_t i = 0; i < MR * 19; i++)
                        c0[i] = c1[i] = c2[i] = (int32_t)rng();
                    const qc_q8gemm_ukernel_params p = {mode & 1 ? init : NULL,
                                                        mode & 2 ? zb : NULL, rowsum, 0, 0};
                    qc_q8gemm_ukernel_6x16c4__scalar(mr, nr, kc, a, w, c0, 19, &p);
                    qc_q8gemm_ukernel_6x16c4__avx2(mr, nr, kc, a, w, c1, 19, &p);
                    for (size_t i = 0; i < MR * 19; i++)
                        ck_assert_msg(c0[i] == c1[i],
                                      "ukernel mr=%zu nr=%zu kc=%zu mode=%d at (%zu, %zu): "
                                      "scalar %d, avx2 %d",
                                      mr, nr, kc, mode, i / 19, i % 19, c0[i], c1[i]);
                    if (qc_int8_select(QC_INT8_ISA_AVXVNNI) != 0)
                        continue;
                    qc_q8gemm_ukernel_6x16c4__avxvnni(mr, nr, kc, a, w, c2, 19, &p);
                    for (size_t i = 0; i < MR * 19; i++)
                        ck_assert_msg(c0[i] == c2[i],
                                      "ukernel mr=%zu nr=%zu kc=%zu mode=%d at (%zu, %zu): "
                                      "scalar %d, avxvnni %d",
                                      mr, nr, kc, mode, i / 19, i % 19, c0[i], c2[i]);
                }
}
END_TEST

/* c = (init or c) + Σ_k a·w − zb·rowsum mod 2^32 over the first k_real k: the definition the
 * AVX512-VNNI micro-kernel implements (eq. G7), from the raw rows and the panels */
static void ukernel12_reference(size_t mr, size_t nr, size_t kc, size_t k_real, const uint8_t *raw,
                                size_t raw_stride, const int8_t *w,
                                const qc_q8gemm_ukernel_params *p, int32_t *c, size_t c_stride)
{
    enum { NR = QC_Q8GEMM_NR };
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < nr; j++) {
            const int8_t *panel = w + (j / NR) * NR * kc;
            uint32_t v = p->init != NULL ? (uint32_t)p->init[j] : (uint32_t)c[i * c_stride + j];
            int64_t rowsum = 0, dot = 0;
            for (size_t k = 0; k < k_real; k++) {
                rowsum += raw[i * raw_stride + k];
                dot += (int64_t)raw[i * raw_stride + k] *
                       panel[(k / 4) * NR * 4 + (j % NR) * 4 + k % 4];
            }
            v += (uint32_t)dot;
            if (p->zb != NULL)
                v -= (uint32_t)p->zb[j] * (uint32_t)rowsum;
            c[i * c_stride + j] = (int32_t)v;
        }
}

/* micro-kernel tester for AVX512-VNNI (12 rows, two panels, a as it is): its packer's row sums
 * and its kernel against the definition, for every mr ≤ 12 (the 1-2, 3-6 and 7-12 row paths),
 * nr at the edges of one and two panels (one panel read twice, or two), kc up to 20 K groups
 * (across the packer's 64-k step), k_real short of kc, the worst cases, and full row groups
 * read in place (a_stride) */
START_TEST(test_qgemm_ukernel_avx512vnni_equals_definition)
{
    if (qc_int8_select(QC_INT8_ISA_AVX512VNNI) != 0) {
        fprintf(stderr, "check_kernels_int8: skipping the avx512vnni micro-kernel: this CPU "
                        "lacks it\n");
        return;
    }
    enum { MR = QC_Q8GEMM_MR512, NR = QC_Q8GEMM_NR, KB = QC_Q8GEMM_KB, KMAX = 20 * KB };
    enum { RAW = KMAX + 5, CS = 35 };
    /* kc across the packer's 64-k step; nr at the panel edges */
    static const size_t kcs[] = {KB, 2 * KB, 7 * KB, 8 * KB, 9 * KB, 16 * KB, KMAX};
    static const size_t nrs[] = {1, 2, NR - 1, NR, NR + 1, 2 * NR - 1, 2 * NR};
    rng_seed(7);
    for (size_t ki = 0; ki < sizeof kcs / sizeof *kcs; ki++)
        for (size_t mr = 1; mr <= MR; mr++)
            for (size_t ni = 0; ni < sizeof nrs / sizeof *nrs; ni++)
                for (int mode = 0; mode < 7; mode++) {
                    const size_t kc = kcs[ki], nr = nrs[ni];
                    _Alignas(64) uint8_t a1[QC_Q8GEMM_PACKA_BYTES(KMAX)];
                    _Alignas(64) int8_t w[2 * NR * KMAX]; /* two panels, NR·kc apart */
                    uint8_t raw[MR * RAW];
                    int32_t init[2 * NR], zb[2 * NR], r1[MR];
                    int32_t c0[MR * CS], c1[MR * CS];
                    /* mode 6: the rows read in place, RAW bytes apart (full groups only) */
                    if (mode == 6 && mr != MR)
                        continue;
                    const size_t k_real = mode == 2 || mode == 5 ? kc - 1 - (kc / KB) % 7 : kc;
                    /* mode 3: a = 0 against b = 127; mode 5: a = 255 against ±128/127 */
                    for (size_t i = 0; i < MR * RAW; i++)
                        raw[i] = (uint8_t)(mode == 3 ? 0 : mode == 5 ? 255 : rng_range(0, 255));
                    qc_q8gemm_packa_12x32c4__avx512vnni(mr, kc, k_real, raw, RAW, a1, r1);
                    for (size_t i = 0; i < mr; i++) {
                        int32_t sum = 0;
                        for (size_t k = 0; k < k_real; k++)
                            sum += raw[i * RAW + k];
                        ck_assert_msg(r1[i] == sum, "rowsum mr=%zu kc=%zu k=%zu row %zu: %d vs %d",
                                      mr, kc, k_real, i, r1[i], sum);
                    }
                    for (size_t i = 0; i < 2 * NR * kc; i++)
                        w[i] = (int8_t)(mode == 3   ? 127
                                        : mode == 4 || mode == 5 ? ((i & 1) ? 127 : -128)
                                                    : rng_range(-128, 127));
                    if (nr <= NR) /* one panel: what lies beyond it must not matter */
                        memset(w + NR * kc, 0x5a, NR * kc);
                    for (size_t j = 0; j < 2 * NR; j++) {
                        init[j] = (int32_t)rng();
                        zb[j] = rng_range(-128, 127);
                    }
                    for (size_t i = 0; i < MR * CS; i++)
                        c0[i] = c1[i] = (int32_t)rng();
                    const qc_q8gemm_ukernel_params p = {mode & 1 ? init : NULL,
                                                        mode & 2 ? zb : NULL, r1, NR * kc,
                                                        mode == 6 ? RAW : 0};
                    ukernel12_reference(mr, nr, kc, k_real, raw, RAW, w, &p, c0, CS);
                    qc_q8gemm_ukernel_12x32c4__avx512vnni(mr, nr, kc, mode == 6 ? raw : a1, w,
                                                          c1, CS, &p);
                    for (size_t i = 0; i < MR * CS; i++)
                        ck_assert_msg(c0[i] == c1[i],
                                      "ukernel mr=%zu nr=%zu kc=%zu k=%zu mode=%d at (%zu, %zu): "
                                      "definition %d, avx512vnni %d",
                                      mr, nr, kc, k_real, mode, i / CS, i % CS, c0[i], c1[i]);
                }
}
END_TEST

START_TEST(test_qgemm_packa_avx2_equals_scalar)
{
    if (!have_avx2())
        return;
    /* kc up to 12 groups of KB: below, at and above the AVX2 packer's 32-k step */
    enum { MR = QC_Q8GEMM_MR, KB = QC_Q8GEMM_KB, KMAX = 12 * KB };
    rng_seed(6);
    uint8_t a[MR * 301];
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = (uint8_t)rng();
    a[5] = 0;
    a[6] = 255;
    a[7] = 128;
    a[8] = 127;
    for (size_t kc = KB; kc <= KMAX; kc += KB)
        for (size_t k_real = kc - KB + 1; k_real <= kc; k_real += 3)
            for (size_t mr = 1; mr <= MR; mr++) {
                uint8_t p0[QC_Q8GEMM_PACKA_BYTES(KMAX)], p1[QC_Q8GEMM_PACKA_BYTES(KMAX)];
                int32_t r0[MR], r1[MR];
                qc_q8gemm_packa_6x16c4__scalar(mr, kc, k_real, a, 301, p0, r0);
                qc_q8gemm_packa_6x16c4__avx2(mr, kc, k_real, a, 301, p1, r1);
                ck_assert_msg(memcmp(p0, p1, QC_Q8GEMM_PACKA_BYTES(kc)) == 0,
                              "packa mr=%zu kc=%zu k=%zu", mr, kc, k_real);
                for (size_t i = 0; i < MR; i++)
                    ck_assert_msg(r0[i] == r1[i], "rowsum mr=%zu kc=%zu k=%zu row %zu: %d vs %d",
                                  mr, kc, k_real, i, r0[i], r1[i]);
            }
}
END_TEST

/* The packed block of A by its definition (eqs. G2-G4): a' = a − 128 for the real bytes (rows
 * below mr, k below k_real), 0 elsewhere; for each group of 4 k the 4 sign masks, then the
 * 4 magnitudes; rowsum = Σ a, negsum = Σ |a'| over a' < 0, in int64 */
static int packa_matches_definition(size_t mr, size_t kc, size_t k_real, const uint8_t *a,
                                    size_t a_stride, const uint8_t *packed, const int32_t *rowsum)
{
    enum { MR = QC_Q8GEMM_MR };
    for (size_t i = 0; i < MR; i++) {
        int64_t sum = 0, neg = 0;
        for (size_t k = 0; k < kc; k++) {
            const int v = i < mr && k < k_real ? (int)a[i * a_stride + k] - 128 : 0;
            sum += i < mr && k < k_real ? a[i * a_stride + k] : 0;
            neg += v < 0 ? -v : 0;
            const uint8_t m = v < 0 ? 0xff : 0, u = (uint8_t)(v < 0 ? -v : v);
            const uint8_t *g = packed + i * 2 * kc + (k / 4) * 8;
            if (g[k % 4] != m || g[4 + k % 4] != u) {
                fprintf(stderr, "packa mr=%zu kc=%zu k=%zu: row %zu k %zu packed %02x %02x, "
                        "want %02x %02x\n", mr, kc, k_real, i, k, g[k % 4], g[4 + k % 4], m, u);
                return 0;
            }
        }
        int32_t negsum;
        memcpy(&negsum, packed + MR * 2 * kc + i * sizeof negsum, sizeof negsum);
        if (rowsum[i] != sum || negsum != neg) {
            fprintf(stderr, "packa mr=%zu kc=%zu k=%zu: row %zu rowsum %d negsum %d, want %lld "
                    "%lld\n", mr, kc, k_real, i, rowsum[i], negsum, (long long)sum,
                    (long long)neg);
            return 0;
        }
    }
    return 1;
}

/* Both packers against the definition, every k_real 1..70 and some past the 1536 K block, kc
 * its KB round-up and more (whole padding chunks), mr 1..6; each row of A ends where an
 * inaccessible page begins, so a packer that reads a byte past k_real faults; nothing is
 * written past QC_Q8GEMM_PACKA_BYTES(kc) */
START_TEST(test_qgemm_packa_reads_no_byte_past_the_row_and_matches_definition)
{
    enum { MR = QC_Q8GEMM_MR, KB = QC_Q8GEMM_KB, SENTINEL = 64 };
    static const size_t long_k[] = {1529, 1530, 1531, 1533, 1535, 1536, 1537, 1543};
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    /* row i in page 2i (its end at the page's end), page 2i + 1 inaccessible */
    uint8_t *map = mmap(NULL, 2 * MR * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                        -1, 0);
    ck_assert(map != MAP_FAILED);
    for (size_t i = 0; i < MR; i++)
        ck_assert_int_eq(mprotect(map + (2 * i + 1) * page, page, PROT_NONE), 0);
    rng_seed(7);
    for (size_t i = 0; i < MR; i++)
        for (size_t b = 0; b < page; b++)
            map[2 * i * page + b] = (uint8_t)(b % 97 == 0 ? (uint32_t)(128 * rng_range(0, 1)) : rng());
    const size_t kmax = 1543 + 5 * KB;
    uint8_t *packed = xalloc(QC_Q8GEMM_PACKA_BYTES(kmax) + SENTINEL);
    int32_t rowsum[MR];
    int isas[2] = {QC_INT8_ISA_SCALAR, QC_INT8_ISA_AVX2};
    const int nisa = have_avx2() ? 2 : 1;
    for (size_t t = 0; t < 70 + sizeof long_k / sizeof *long_k; t++) {
        const size_t k_real = t < 70 ? t + 1 : long_k[t - 70];
        const size_t kp = (k_real + KB - 1) / KB * KB;
        const size_t kcs[3] = {kp, kp + KB, kp + 5 * KB};
        const uint8_t *a = map + page - k_real;
        for (size_t ci = 0; ci < 3; ci++)
            for (size_t mr = 1; mr <= MR; mr++)
                for (int s = 0; s < nisa; s++) {
                    const size_t kc = kcs[ci], bytes = QC_Q8GEMM_PACKA_BYTES(kc);
                    memset(packed, 0x5a, bytes + SENTINEL);
                    for (size_t i = 0; i < MR; i++)
                        rowsum[i] = 0x5a5a5a5a;
                    (isas[s] == QC_INT8_ISA_AVX2 ? qc_q8gemm_packa_6x16c4__avx2
                                                 : qc_q8gemm_packa_6x16c4__scalar)(
                        mr, kc, k_real, a, 2 * page, packed, rowsum);
                    ck_assert_msg(packa_matches_definition(mr, kc, k_real, a, 2 * page, packed,
                                                           rowsum),
                                  "%s: see the message above", isa_name(isas[s]));
                    for (size_t b = bytes; b < bytes + SENTINEL; b++)
                        ck_assert_msg(packed[b] == 0x5a, "%s packa mr=%zu kc=%zu k=%zu wrote "
                                      "byte %zu past its %zu", isa_name(isas[s]), mr, kc, k_real,
                                      b - bytes, bytes);
                }
    }
    free(packed);
    munmap(map, 2 * MR * page);
}
END_TEST

START_TEST(test_qgemm_row_blocks_times_column_blocks_match_reference)
{
    /* M over several packed row blocks and N over several L2 column blocks at once (A packed
     * once per row block, reused by every column block): mc = 60 / nc = 512 at K = 512, 30 /
     * 256 at K = 1001 and 1024, 30 / 256 at each of the two K blocks of 2000 */
    static const size_t shapes[][3] = {
        {100, 530, 512}, {70, 301, 1024}, {65, 700, 1001}, {40, 400, 2000}, {61, 1030, 24},
    };
    int isas[QC_INT8_ISAS];
    const int nisa = qgemm_isa_list(isas);
    rng_seed(8);
    for (int s = 0; s < nisa; s++)
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
            gemm_case gc = {shapes[i][0],     shapes[i][1],     shapes[i][2],
                            shapes[i][2] + 3, shapes[i][1] + 1, (int)(i & 1),
                            RANDOM,           RANDOM,           (int)(i % 2 == 0), 0};
            ck_assert_msg(run_gemm_case(&gc, isas[s]), "see the message above");
        }
}
END_TEST

START_TEST(test_force_scalar_environment_variable)
{
    const char *fork = getenv("CK_FORK");
    if (fork != NULL && strcmp(fork, "no") == 0)
        return; /* the table is filled once per process; only a fresh child can check this */
    setenv("QCAL_FORCE_SCALAR", "1", 1);
    ck_assert_str_eq(qc_int8_isa(), "scalar");
}
END_TEST

START_TEST(test_isa_environment_variable_caps_the_level)
{
    const char *fork = getenv("CK_FORK");
    if (fork != NULL && strcmp(fork, "no") == 0)
        return; /* as above: a fresh child only */
    /* AMX forced off: the widest level at or below avx512vnni that the CPU runs */
    setenv("QCAL_ISA", "avx512vnni", 1);
    const char *want = qc_cpu_has(QC_ISA_AVX512VNNI) ? "avx512vnni"
                       : qc_cpu_has(QC_ISA_AVXVNNI)  ? "avxvnni"
                       : qc_cpu_has(QC_ISA_AVX2)     ? "avx2"
                                                     : "scalar";
    ck_assert_str_eq(qc_int8_isa(), want);
}
END_TEST

/* ---- requantize ---- */

/* the definition: rint((acc + bias)·multiplier·2^-shift) + z, saturated; long double holds the
 * 62-bit product exactly and rint rounds half to even */
static int32_t requant_ref(int64_t acc, int32_t mult, int32_t shift, int32_t z, int32_t qmin,
                           int32_t qmax)
{
    const long double v = ldexpl((long double)acc * (long double)mult, -shift);
    const long double r = rintl(v) + z;
    return r < qmin ? qmin : r > qmax ? qmax : (int32_t)r;
}

static int32_t random_acc(void)
{
    switch (rng() % 4) {
    case 0: return (int32_t)rng(); /* anything */
    case 1: return rng_range(-(1 << 20), 1 << 20);
    case 2: return rng_range(-300, 300);
    default: return (int32_t)(rng() >> (rng() % 32)) * (rng() & 1 ? 1 : -1);
    }
}

static void run_requant_case(int isa, int granularity, int is_u8, size_t m, size_t n, int tie_mode)
{
    enum { MAXC = 64 };
    int32_t acc[5 * 70], bias[MAXC], mult[MAXC], shift[MAXC];
    uint8_t yu[5 * 70];
    int8_t ys[5 * 70];
    const size_t stride = n + 3;
    for (size_t i = 0; i < MAXC; i++) {
        /* mostly multipliers < 1; some ≥ 1 (shift < 31), some tiny (shift up to 62) */
        mult[i] = tie_mode ? 1 << 30 : (int32_t)(0x40000000u + (rng() & 0x3fffffffu));
        const int r = rng_range(0, 9);
        shift[i] = tie_mode ? rng_range(31, 33)
                   : r == 0 ? rng_range(1, 30)
                   : r == 1 ? rng_range(40, 62)
                            : rng_range(31, 40);
        bias[i] = tie_mode ? rng_range(-20, 20) : rng_range(-100000, 100000);
    }
    for (size_t i = 0; i < m * stride; i++)
        acc[i] = tie_mode ? rng_range(-20, 20) : random_acc();
    int32_t z = is_u8 ? rng_range(0, 255) : rng_range(-128, 127);
    int32_t qmin = is_u8 ? 0 : -128, qmax = is_u8 ? 255 : 127;
    if (rng() % 3 == 0) { /* a fused Relu / Clip */
        qmin = z;
        qmax = qmax - rng_range(0, 20);
        if (qmax < qmin)
            qmax = qmin;
    }
    const qc_requant rq = {mult, shift, granularity, z, qmin, qmax};
    const int32_t *bp = rng() % 4 == 0 ? NULL : bias;
    ck_assert_int_eq(qc_int8_select(isa), 0);
    if (is_u8)
        qc_requantize_u8(m, n, acc, stride, bp, &rq, yu, stride);
    else
        qc_requantize_s8(m, n, acc, stride, bp, &rq, ys, stride);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            const size_t ch = granularity == QC_PER_COLUMN ? j : granularity == QC_PER_ROW ? i : 0;
            const int64_t t = (int64_t)acc[i * stride + j] + (bp != NULL ? bp[ch] : 0);
            if (t < INT32_MIN || t > INT32_MAX)
                continue; /* R1 wraps; outside the precondition */
            const int32_t want = requant_ref(t, mult[ch], shift[ch], z, qmin, qmax);
            const int32_t got = is_u8 ? yu[i * stride + j] : ys[i * stride + j];
            ck_assert_msg(got == want,
                          "requantize %s %s g=%d at (%zu, %zu): acc=%d bias=%d mult=%d shift=%d "
                          "z=%d [%d, %d]: got %d, want %d",
                          isa_name(isa), is_u8 ? "u8" : "s8",
                          granularity, i, j, acc[i * stride + j], bp != NULL ? bp[ch] : 0, mult[ch],
                          shift[ch], z, qmin, qmax, got, want);
        }
}

START_TEST(test_requantize_matches_exact_rounding)
{
    int isas[QC_INT8_ISAS];
    const int nisa = isa_list(isas);
    rng_seed(7);
    for (int s = 0; s < nisa; s++)
        for (int g = 0; g < 3; g++)
            for (int u = 0; u < 2; u++)
                for (size_t n = 1; n <= 19; n++)
                    for (int rep = 0; rep < 20; rep++)
                        run_requant_case(isas[s], g, u, 1 + (size_t)rep % 5, n + (n == 19) * 45, 0);
}
END_TEST

START_TEST(test_requantize_ties_round_to_even)
{
    int isas[QC_INT8_ISAS];
    const int nisa = isa_list(isas);
    rng_seed(8);
    for (int s = 0; s < nisa; s++)
        for (int g = 0; g < 3; g++)
            for (int rep = 0; rep < 50; rep++)
                run_requant_case(isas[s], g, rep & 1, 3, 17, 1);
    /* explicit: multiplier 2^30, shift 31 is ×0.5 */
    static const int32_t accs[] = {1, 3, 5, -1, -3, -5, 7};
    static const int32_t want[] = {0, 2, 2, 0, -2, -2, 4};
    const int32_t mult = 1 << 30, shift = 31;
    for (int i = 0; i < nisa; i++) {
        int8_t y[7];
        const qc_requant rq = {&mult, &shift, QC_PER_TENSOR, 0, -128, 127};
        ck_assert_int_eq(qc_int8_select(isas[i]), 0);
        qc_requantize_s8(1, 7, accs, 7, NULL, &rq, y, 7);
        for (int j = 0; j < 7; j++)
            ck_assert_msg(y[j] == want[j], "requantize %s: %d × 0.5: got %d, want %d",
                          isa_name(isas[i]), accs[j], y[j], want[j]);
    }
}
END_TEST

START_TEST(test_requantize_extremes_saturate)
{
    static const int32_t accs[] = {INT32_MAX, INT32_MIN, INT32_MIN + 1, 0, 1 << 30, -(1 << 30)};
    int isas[QC_INT8_ISAS];
    const int nisa = isa_list(isas);
    for (int s = 0; s < nisa; s++)
        for (int32_t shift = 1; shift <= 62; shift++) {
            const int32_t mult = INT32_MAX;
            uint8_t y[6];
            const qc_requant rq = {&mult, &shift, QC_PER_TENSOR, 128, 0, 255};
            ck_assert_int_eq(qc_int8_select(isas[s]), 0);
            qc_requantize_u8(1, 6, accs, 6, NULL, &rq, y, 6);
            for (int j = 0; j < 6; j++) {
                const int32_t want = requant_ref(accs[j], mult, shift, 128, 0, 255);
                ck_assert_msg(y[j] == want, "requantize %s: acc=%d shift=%d: got %d, want %d",
                              isa_name(isas[s]), accs[j], shift,
                              y[j], want);
            }
        }
}
END_TEST

/* ---- quantize / dequantize ---- */

/* ONNX QuantizeLinear, computed independently: the double quotient rounded once to float is
 * the IEEE single division; nearbyint in double rounds half to even */
static int32_t quant_ref(float x, float s, int32_t z, int32_t qmin, int32_t qmax)
{
    if (isnan(x))
        return z < qmin ? qmin : z > qmax ? qmax : z;
    const double q = nearbyint((double)(float)((double)x / (double)s)) + z;
    return q < qmin ? qmin : q > qmax ? qmax : (int32_t)q;
}

START_TEST(test_quantize_onnx_ties_and_saturation)
{
    static const float xs[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 300.0f, -300.0f, 0.0f, -0.0f};
    static const int32_t want_s8[] = {0, 2, 2, 0, -2, -2, 127, -128, 0, 0};
    static const int32_t want_u8[] = {10, 12, 12, 10, 8, 8, 255, 0, 10, 10};
    int isas[QC_INT8_ISAS];
    const int nisa = isa_list(isas);
    for (int s = 0; s < nisa; s++) {
        ck_assert_int_eq(qc_int8_select(isas[s]), 0);
        const float one = 1.0f;
        const int32_t z0 = 0, z10 = 10;
        int8_t ys[10];
        uint8_t yu[10];
        const qc_quant q8 = {&one, &z0, -128, 127}, qu = {&one, &z10, 0, 255};
        qc_quantize_s8(1, 1, 10, xs, &q8, ys);
        qc_quantize_u8(1, 1, 10, xs, &qu, yu);
        for (int i = 0; i < 10; i++) {
            ck_assert_msg(ys[i] == want_s8[i], "quantize %s s8 %g: got %d, want %d",
                          isa_name(isas[s]), (double)xs[i], ys[i],
                          want_s8[i]);
            ck_assert_msg(yu[i] == want_u8[i], "quantize %s u8 %g: got %d, want %d",
                          isa_name(isas[s]), (double)xs[i], yu[i],
                          want_u8[i]);
        }
        /* ±inf saturate, NaN gives the zero point */
        const float sp[3] = {INFINITY, -INFINITY, NAN};
        qc_quantize_u8(1, 1, 3, sp, &qu, yu);
        ck_assert_int_eq(yu[0], 255);
        ck_assert_int_eq(yu[1], 0);
        ck_assert_int_eq(yu[2], 10);
        /* ONNX divides: x / s is exactly -49.5 (→ -50) where x · (1/s) is -49.4999962 (→ -49) */
        const float s01 = 0.01f, x = -49.5f * 0.01f;
        ck_assert(x / s01 == -49.5f);
        ck_assert(rintf(x * (1.0f / s01)) == -49.0f);
        const qc_quant qd = {&s01, NULL, -128, 127};
        qc_quantize_s8(1, 1, 1, &x, &qd, ys);
        ck_assert_int_eq(ys[0], -50);
        /* a narrower range (4 bits, narrow signed weights) */
        const qc_quant q4 = {&one, NULL, -7, 7};
        const float big[2] = {9.0f, -100.0f};
        qc_quantize_s8(1, 1, 2, big, &q4, ys);
        ck_assert_int_eq(ys[0], 7);
        ck_assert_int_eq(ys[1], -7);
    }
}
END_TEST

static float random_float(float scale)
{
    switch (rng() % 8) {
    case 0: { /* exact ties at this scale */ return ((float)rng_range(-300, 300) + 0.5f) * scale;
    }
    case 1: {
        uint32_t bits = rng();
        float f;
        memcpy(&f, &bits, sizeof f);
        return f; /* any bit pattern: NaN, inf, denormals */
    }
    default: return ((float)(int32_t)rng() / 2147483648.0f) * 300.0f * scale;
    }
}

START_TEST(test_quantize_per_channel_matches_reference)
{
    static const size_t shapes[][3] = {{1, 1, 1}, {1, 1, 37}, {2, 3, 9}, {3, 5, 16},  {2, 13, 1},
                                       {4, 8, 1}, {1, 19, 1}, {2, 7, 3}, {1, 1, 1000}};
    int isas[QC_INT8_ISAS];
    const int nisa = isa_list(isas);
    rng_seed(9);
    for (int s = 0; s < nisa; s++)
        for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++)
            for (int u = 0; u < 2; u++) {
                const size_t o = shapes[si][0], ch = shapes[si][1], in = shapes[si][2];
                float scale[19], x[1000];
                int32_t zp[19];
                uint8_t yu[1000];
                int8_t ys[1000];
                for (size_t c = 0; c < ch; c++) {
                    scale[c] = ldexpf(1.0f + (float)(rng() % 1000) / 1000.0f, rng_range(-12, 2));
                    zp[c] = u ? rng_range(0, 255) : rng_range(-128, 127);
                }
                for (size_t i = 0; i < o * ch * in; i++)
                    x[i] = random_float(scale[(i / in) % ch]);
                const qc_quant q = {scale, rng() & 1 ? zp : NULL, u ? 0 : -128, u ? 255 : 127};
                ck_assert_int_eq(qc_int8_select(isas[s]), 0);
                if (u)
                    qc_quantize_u8(o, ch, in, x, &q, yu);
                else
                    qc_quantize_s8(o, ch, in, x, &q, ys);
                for (size_t i = 0; i < o * ch * in; i++) {
                    const size_t c = (i / in) % ch;
                    const int32_t want =
                        quant_ref(x[i], scale[c], q.zero_point ? zp[c] : 0, q.qmin, q.qmax);
                    const int32_t got = u ? yu[i] : ys[i];
                    ck_assert_msg(
                        got == want,
                        "quantize %s %s shape %zux%zux%zu at %zu: x=%a s=%a: got %d, want %d",
                        isa_name(isas[s]), u ? "u8" : "s8", o, ch, in,
                        i, (double)x[i], (double)scale[c], got, want);
                }
            }
}
END_TEST

START_TEST(test_dequantize_matches_definition)
{
    static const size_t shapes[][3] = {{1, 1, 1}, {1, 1, 37}, {2, 3, 9}, {2, 13, 1}, {1, 19, 1}};
    int isas[QC_INT8_ISAS];
    const int nisa = isa_list(isas);
    rng_seed(10);
    for (int s = 0; s < nisa; s++)
        for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
            const size_t o = shapes[si][0], ch = shapes[si][1], in = shapes[si][2];
            float scale[19], yu[80], ys[80], yi[80];
            int32_t zp[19], zi[19], xi[80];
            uint8_t xu[80];
            int8_t xs[80];
            for (size_t c = 0; c < ch; c++) {
                scale[c] = ldexpf(1.0f + (float)(rng() % 1000) / 1000.0f, rng_range(-12, 2));
                zp[c] = rng_range(0, 127);
                zi[c] = (int32_t)rng();
            }
            for (size_t i = 0; i < o * ch * in; i++) {
                xu[i] = (uint8_t)rng();
                xs[i] = (int8_t)rng();
                xi[i] = (int32_t)rng();
            }
            ck_assert_int_eq(qc_int8_select(isas[s]), 0);
            qc_dequantize_u8(o, ch, in, xu, scale, zp, yu);
            qc_dequantize_s8(o, ch, in, xs, scale, zp, ys);
            qc_dequantize_s32(o, ch, in, xi, scale, zi, yi);
            for (size_t i = 0; i < o * ch * in; i++) {
                const size_t c = (i / in) % ch;
                ck_assert(yu[i] == (float)((double)((int)xu[i] - zp[c]) * scale[c]));
                ck_assert(ys[i] == (float)((double)((int)xs[i] - zp[c]) * scale[c]));
                const int32_t d = (int32_t)((uint32_t)xi[i] - (uint32_t)zi[c]);
                ck_assert_msg(yi[i] == (float)d * scale[c], "dequantize %s s32 at %zu",
                              isa_name(isas[s]), i);
            }
        }
}
END_TEST

/* ---- pooling and addition ---- */

static uint8_t maxpool_ref(const qc_pool2d *p, const uint8_t *x, size_t oh, size_t ow)
{
    int m = 0;
    for (size_t kh = 0; kh < p->kernel_h; kh++)
        for (size_t kw = 0; kw < p->kernel_w; kw++) {
            const long ih = (long)(oh * p->stride_h + kh * p->dilation_h) - (long)p->pad_top;
            const long iw = (long)(ow * p->stride_w + kw * p->dilation_w) - (long)p->pad_left;
            if (ih >= 0 && iw >= 0 && ih < (long)p->in_h && iw < (long)p->in_w &&
                x[ih * (long)p->in_w + iw] > m)
                m = x[ih * (long)p->in_w + iw];
        }
    return (uint8_t)m;
}

/* a random pooling window over at most 40 × 75 pixels; false when it has no output */
static bool random_pool2d(qc_pool2d *pp, int trial)
{
    qc_pool2d p;
    p.in_h = (size_t)rng_range(1, 40);
    p.in_w = (size_t)rng_range(1, 75);
    p.kernel_h = (size_t)rng_range(1, 3);
    p.kernel_w = (size_t)rng_range(1, 3);
    p.stride_h = (size_t)rng_range(1, 3);
    p.stride_w = (size_t)(trial % 3 == 0 ? 1 : rng_range(1, 3));
    p.dilation_h = (size_t)rng_range(1, 2);
    p.dilation_w = (size_t)rng_range(1, 2);
    p.pad_top = (size_t)rng_range(0, (int)p.kernel_h - 1);
    p.pad_left = (size_t)rng_range(0, (int)p.kernel_w - 1);
    const long eh = (long)(p.dilation_h * (p.kernel_h - 1) + 1),
               ew = (long)(p.dilation_w * (p.kernel_w - 1) + 1);
    const long oh = ((long)(p.in_h + 2 * p.pad_top) - eh) / (long)p.stride_h + 1;
    const long ow = ((long)(p.in_w + 2 * p.pad_left) - ew) / (long)p.stride_w + 1;
    if (oh < 1 || ow < 1)
        return false;
    p.out_h = (size_t)oh;
    p.out_w = (size_t)ow;
    *pp = p;
    return true;
}

START_TEST(test_maxpool_matches_reference)
{
    int isas[QC_INT8_ISAS];
    const int nisa = isa_list(isas);
    rng_seed(11);
    static uint8_t x[3 * 40 * 75], y[3 * 40 * 75];
    for (int trial = 0; trial < 300; trial++) {
        qc_pool2d p;
        if (!random_pool2d(&p, trial))
            continue;
        const size_t planes = (size_t)rng_range(1, 3);
        for (size_t i = 0; i < planes * p.in_h * p.in_w; i++)
            x[i] = (uint8_t)(trial % 7 == 0 ? 255 - rng_range(0, 3) : (int)(rng() & 255));
        for (int s = 0; s < nisa; s++) {
            ck_assert_int_eq(qc_int8_select(isas[s]), 0);
            qc_maxpool_u8(planes, &p, x, y);
            for (size_t c = 0; c < planes; c++)
                for (size_t i = 0; i < p.out_h; i++)
                    for (size_t j = 0; j < p.out_w; j++) {
                        const uint8_t want = maxpool_ref(&p, x + c * p.in_h * p.in_w, i, j);
                        const uint8_t got = y[(c * p.out_h + i) * p.out_w + j];
                        ck_assert_msg(got == want,
                                      "maxpool %s in %zux%zu k %zux%zu s %zux%zu d %zux%zu pad "
                                      "%zu,%zu at (%zu, %zu, %zu): got %d, want %d",
                                      isa_name(isas[s]), p.in_h,
                                      p.in_w, p.kernel_h, p.kernel_w, p.stride_h, p.stride_w,
                                      p.dilation_h, p.dilation_w, p.pad_top, p.pad_left, c, i, j,
                                      got, want);
                    }
        }
    }
}
END_TEST

/* channels last: every channel of every image pooled as the plane reference does it; channel
 * counts below, at and past the 32 of one AVX2 vector */
START_TEST(test_maxpool_channels_last_matches_reference)
{
    int isas[QC_INT8_ISAS];
    const int nisa = isa_list(isas);
    rng_seed(12);
    static uint8_t x[2 * 40 * 75 * 70], y[2 * 40 * 75 * 70], plane[40 * 75];
    for (int trial = 0; trial < 120; trial++) {
        qc_pool2d p;
        if (!random_pool2d(&p, trial))
            continue;
        const size_t images = (size_t)rng_range(1, 2), channels = (size_t)rng_range(1, 70);
        const size_t pixels = p.in_h * p.in_w;
        for (size_t i = 0; i < images * pixels * channels; i++)
            x[i] = (uint8_t)(trial % 7 == 0 ? 255 - rng_range(0, 3) : (int)(rng() & 255));
        for (int s = 0; s < nisa; s++) {
            ck_assert_int_eq(qc_int8_select(isas[s]), 0);
            qc_maxpool_cl_u8(images, channels, &p, x, y);
            for (size_t b = 0; b < images; b++)
                for (size_t c = 0; c < channels; c++) {
                    for (size_t i = 0; i < pixels; i++)
                        plane[i] = x[(b * pixels + i) * channels + c];
                    for (size_t i = 0; i < p.out_h * p.out_w; i++) {
                        const uint8_t want = maxpool_ref(&p, plane, i / p.out_w, i % p.out_w);
                        const uint8_t got =
                            y[(b * p.out_h * p.out_w + i) * channels + c];
                        ck_assert_msg(got == want,
                                      "maxpool channels last %s, %zu channels, in %zux%zu k "
                                      "%zux%zu s %zux%zu: image %zu channel %zu pixel %zu: got "
                                      "%d, want %d",
                                      isa_name(isas[s]), channels, p.in_h, p.in_w, p.kernel_h,
                                      p.kernel_w, p.stride_h, p.stride_w, b, c, i, got, want);
                    }
                }
        }
    }
}
END_TEST

/* the definition: round half away from zero of the exact value t · multiplier · 2^-shift */
static int32_t gavg_ref(int64_t t, int32_t mult, int32_t shift, int32_t z, int32_t qmin,
                        int32_t qmax)
{
    const long double v = ldexpl((long double)t * (long double)mult, -shift);
    const long double r = rintl(v) + z; /* ties to even (the default rounding mode) */
    return r < qmin ? qmin : r > qmax ? qmax : (int32_t)r;
}

START_TEST(test_global_avgpool_matches_reference)
{
    int isas[QC_INT8_ISAS];
    const int nisa = isa_list(isas);
    rng_seed(12);
    static uint8_t x[4 * 3000];
    uint8_t y[4];
    for (int trial = 0; trial < 200; trial++) {
        const size_t n = (size_t)(trial < 20 ? trial + 1 : rng_range(1, 3000)),
                     planes = (size_t)rng_range(1, 4);
        for (size_t i = 0; i < planes * n; i++)
            x[i] = (uint8_t)(trial % 5 == 0 ? 255 : (int)(rng() & 255));
        /* multiplier · 2^-shift ≈ s_in / (s_out · n); sometimes an exact 1/n for ties */
        int32_t mult = (int32_t)(0x40000000u + (rng() & 0x3fffffffu)),
                shift = 31 + rng_range(0, 12);
        if (trial & 1) {
            mult = 1 << 30;
            shift = 31 + rng_range(0, 2);
        }
        const qc_gavgpool p = {mult, shift, rng_range(0, 255), rng_range(0, 255), 0, 255};
        for (int s = 0; s < nisa; s++) {
            ck_assert_int_eq(qc_int8_select(isas[s]), 0);
            qc_global_avgpool_u8(planes, n, x, &p, y);
            for (size_t c = 0; c < planes; c++) {
                int64_t sum = 0;
                for (size_t i = 0; i < n; i++)
                    sum += x[c * n + i];
                const int32_t want = gavg_ref(sum - (int64_t)n * p.in_zero_point, mult, shift,
                                              p.out_zero_point, 0, 255);
                ck_assert_msg(
                    y[c] == want,
                    "gavgpool %s n=%zu plane %zu: sum=%lld mult=%d shift=%d: got %d, want %d",
                    isa_name(isas[s]), n, c, (long long)sum, mult,
                    shift, y[c], want);
            }
        }
    }
    /* ties round to even, as QuantizeLinear (and ONNX Runtime's kernel) */
    const uint8_t v[6] = {1, 2, 0, 1, 2, 3};
    const qc_gavgpool half = {1 << 30, 31, 1, 10, 0, 255};
    for (int s = 0; s < nisa; s++) {
        ck_assert_int_eq(qc_int8_select(isas[s]), 0);
        qc_global_avgpool_u8(3, 2, v, &half, y);
        ck_assert_int_eq(y[0], 10); /* (1 + 2 − 2·1)·0.5 = 0.5 → 0 */
        ck_assert_int_eq(y[1], 10); /* (0 + 1 − 2)·0.5 = −0.5 → 0 */
        ck_assert_int_eq(y[2], 12); /* (2 + 3 − 2)·0.5 = 1.5 → 2 */
    }
}
END_TEST

START_TEST(test_qadd_matches_reference)
{
    int isas[QC_INT8_ISAS];
    const int nisa = isa_list(isas);
    rng_seed(13);
    /* lengths around the 8- and 16-lane vectors first, then random ones */
    static const size_t edge[] = {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129};
    enum { NEDGE = sizeof edge / sizeof edge[0], MAXN = 129 };
    uint8_t a[MAXN], b[MAXN], y[MAXN + 16];
    for (int trial = 0; trial < 300; trial++) {
        const size_t n = trial < NEDGE ? edge[trial] : (size_t)rng_range(1, MAXN);
        const int extreme = trial % 5 == 1; /* inputs 0 and 255 only */
        for (size_t i = 0; i < n; i++) {
            a[i] = extreme ? (uint8_t)(rng() & 1 ? 255 : 0) : (uint8_t)rng();
            b[i] = extreme ? (uint8_t)(rng() & 1 ? 255 : 0) : (uint8_t)rng();
        }
        qc_qadd p;
        p.shift = rng_range(16, 40);
        p.a_multiplier = (int32_t)(rng() & 0x7fffffffu);
        p.b_multiplier = (int32_t)(rng() & 0x7fffffffu);
        if (trial % 4 == 0) { /* both × 0.5: ties on every odd sum */
            p.a_multiplier = p.b_multiplier = 1 << 30;
            p.shift = 31;
        }
        if (trial % 7 == 2) /* the largest shift */
            p.shift = 62;
        p.a_zero_point = extreme ? (rng() & 1 ? 255 : 0) : rng_range(0, 255);
        p.b_zero_point = extreme ? (rng() & 1 ? 255 : 0) : rng_range(0, 255);
        p.y_zero_point = extreme ? (rng() & 1 ? 255 : 0) : rng_range(0, 255);
        p.qmin = trial % 3 == 0 ? p.y_zero_point : 0; /* fused Relu */
        p.qmax = 255;
        for (int s = 0; s < nisa; s++) {
            ck_assert_int_eq(qc_int8_select(isas[s]), 0);
            memset(y, 0xa5, sizeof y);
            qc_qadd_u8(n, a, b, &p, y);
            for (size_t i = n; i < sizeof y; i++)
                ck_assert_msg(y[i] == 0xa5, "qadd %s wrote past %zu elements", isa_name(isas[s]),
                              n);
            for (size_t i = 0; i < n; i++) {
                const long double v =
                    ldexpl((long double)(a[i] - p.a_zero_point) * p.a_multiplier +
                               (long double)(b[i] - p.b_zero_point) * p.b_multiplier,
                           -p.shift);
                const long double r = rintl(v) + p.y_zero_point;
                const int want = r < p.qmin ? p.qmin : r > p.qmax ? p.qmax : (int)r;
                ck_assert_msg(y[i] == want,
                              "qadd %s at %zu: a=%d b=%d ma=%d mb=%d shift=%d: got %d, want %d",
                              isa_name(isas[s]), i, a[i], b[i],
                              p.a_multiplier, p.b_multiplier, p.shift, y[i], want);
            }
        }
    }
}
END_TEST

/* QLinearAdd's multipliers for every scale ratio from 2^-20 to 2^20 (log-uniform): the op
 * either refuses the ratio (only at 2^15 and above) or adds exactly as the real ratios say,
 * y = clamp(rint(ra·(a − z_a) + rb·(b − z_b)) + z_y), except where that real value lies
 * within the multipliers' own representation error of a rounding tie. Ratios of 2 and more
 * once gave multiplier 0, and so an output of z_y whatever the inputs. */
START_TEST(test_qadd_multipliers_exact_for_ratios_2e_minus20_to_2e20)
{
    int isas[QC_INT8_ISAS];
    const int nisa = isa_list(isas);
    rng_seed(29);
    uint8_t a[64], b[64], y[64];
    int refused = 0, checked = 0;
    for (int trial = 0; trial < 4000; trial++) {
        const double ra = exp2(40.0 * (double)rng() / 4294967296.0 - 20.0);
        const double rb = trial % 3 == 0 ? ra : exp2(40.0 * (double)rng() / 4294967296.0 - 20.0);
        const double big = ra > rb ? ra : rb;
        qc_qadd p = {0};
        const int rc = qc_qadd_multipliers(ra, rb, &p);
        if (big >= 32768.0) {
            ck_assert_msg(rc == QC_MULTIPLIER_TOO_LARGE, "ratio %a accepted", big);
            refused++;
            continue;
        }
        ck_assert_msg(rc == QC_MULTIPLIER_OK, "ratio %a refused", big);
        ck_assert_int_ge(p.shift, 16);
        ck_assert_int_le(p.shift, 62);
        const int32_t mbig = ra > rb ? p.a_multiplier : p.b_multiplier;
        ck_assert_msg(mbig < INT32_MAX && (mbig >= 1 << 30 || p.shift == 62),
                      "ratio %a: multiplier %d shift %d loses precision", big, mbig, p.shift);
        /* what the multipliers stand for, against the real ratios */
        const double ea = fabs(ldexp(p.a_multiplier, -p.shift) - ra);
        const double eb = fabs(ldexp(p.b_multiplier, -p.shift) - rb);
        ck_assert_msg(ea <= ldexp(0.5, -p.shift) && eb <= ldexp(0.5, -p.shift),
                      "ratios %a %a: multipliers %d %d shift %d", ra, rb, p.a_multiplier,
                      p.b_multiplier, p.shift);
        const size_t n = (size_t)rng_range(1, 64);
        for (size_t i = 0; i < n; i++) {
            a[i] = (uint8_t)rng();
            b[i] = (uint8_t)rng();
        }
        p.a_zero_point = rng_range(0, 255);
        p.b_zero_point = rng_range(0, 255);
        p.y_zero_point = rng_range(0, 255);
        p.qmin = 0;
        p.qmax = 255;
        for (int s = 0; s < nisa; s++) {
            ck_assert_int_eq(qc_int8_select(isas[s]), 0);
            qc_qadd_u8(n, a, b, &p, y);
            for (size_t i = 0; i < n; i++) {
                const double da = a[i] - p.a_zero_point, db = b[i] - p.b_zero_point;
                const double v = ra * da + rb * db;
                const double slack = fabs(da) * ea + fabs(db) * eb + 1e-9 * (fabs(v) + 1);
                if (fabs(v - floor(v) - 0.5) <= slack)
                    continue; /* at a tie within the multipliers' precision */
                const double r = rint(v) + p.y_zero_point;
                const int want = r < 0 ? 0 : r > 255 ? 255 : (int)r;
                ck_assert_msg(y[i] == want,
                              "qadd %s ra=%a rb=%a a=%d b=%d z=%d,%d,%d (ma=%d mb=%d S=%d): "
                              "got %d, want %d",
                              isa_name(isas[s]), ra, rb, a[i], b[i],
                              p.a_zero_point, p.b_zero_point, p.y_zero_point, p.a_multiplier,
                              p.b_multiplier, p.shift, y[i], want);
                checked++;
            }
        }
    }
    ck_assert_int_gt(refused, 100);
    ck_assert_int_gt(checked, 50000);
}
END_TEST

START_TEST(test_qadd_multipliers_refuse_what_they_cannot_represent)
{
    qc_qadd p = {0};
    ck_assert_int_eq(qc_qadd_multipliers(0.0, 1.0, &p), QC_MULTIPLIER_NOT_POSITIVE);
    ck_assert_int_eq(qc_qadd_multipliers(1.0, -1.0, &p), QC_MULTIPLIER_NOT_POSITIVE);
    ck_assert_int_eq(qc_qadd_multipliers(NAN, 1.0, &p), QC_MULTIPLIER_NOT_POSITIVE);
    ck_assert_int_eq(qc_qadd_multipliers(1.0, INFINITY, &p), QC_MULTIPLIER_NOT_POSITIVE);
    ck_assert_int_eq(qc_qadd_multipliers(32768.0, 1.0, &p), QC_MULTIPLIER_TOO_LARGE);
    ck_assert_int_eq(qc_qadd_multipliers(1.0, nextafter(32768.0, 0.0), &p),
                     QC_MULTIPLIER_TOO_LARGE); /* rounds up to 2^31 at shift 16 */
    /* exactly 2 (a residual Add whose input scale is twice the output's) */
    ck_assert_int_eq(qc_qadd_multipliers(2.0, 0.5, &p), QC_MULTIPLIER_OK);
    ck_assert_int_eq(p.a_multiplier, 1 << 30);
    ck_assert_int_eq(p.b_multiplier, 1 << 28);
    ck_assert_int_eq(p.shift, 29);
    ck_assert_int_eq(qc_qadd_multipliers(ldexp(1.0, -40), ldexp(1.0, -41), &p), QC_MULTIPLIER_OK);
    ck_assert_int_eq(p.shift, 62);
    ck_assert_int_eq(p.a_multiplier, 1 << 22);
}
END_TEST

/* ---- convolution: im2col, grouped conv through qgemm, depthwise ----
 *
 * Every result is checked against a direct int64 convolution of the definition
 *   acc[m][oh][ow] = Σ_{c, i, j inside} (x[c][ih][iw] − z_x)·(w[m][c][i][j] − z_w[m])
 * (taps in the padding add nothing), over swept geometries: kernels 1..5, strides 1..3,
 * dilations 1..2, pads up to the kernel, planes of every width remainder, and values over the
 * whole range (constant 0, 255, −128 and 127 fills included). */

#include "kernels/int8/dwconv-impl.h"

typedef struct conv_geo {
    qc_pool2d p;
    size_t groups, cg, mg; /* channels per group in and out */
} conv_geo;

static int conv_geo_pad_random(conv_geo *g);

/* Random geometry with at least one output; false when it does not fit. */
static int conv_geo_random(conv_geo *g, int max_in, int max_k)
{
    qc_pool2d *p = &g->p;
    p->in_h = (size_t)rng_range(1, max_in);
    p->in_w = (size_t)rng_range(1, max_in);
    p->kernel_h = (size_t)rng_range(1, max_k);
    p->kernel_w = (size_t)rng_range(1, max_k);
    p->stride_h = (size_t)rng_range(1, 3);
    p->stride_w = (size_t)rng_range(1, 3);
    p->dilation_h = (size_t)rng_range(1, 2);
    p->dilation_w = (size_t)rng_range(1, 2);
    return conv_geo_pad_random(g);
}

/* Random paddings (up to the kernel) for g's input, kernel, strides and dilations, and the
 * output size; false when there is no output. */
static int conv_geo_pad_random(conv_geo *g)
{
    qc_pool2d *p = &g->p;
    p->pad_top = (size_t)rng_range(0, (int)p->kernel_h);
    p->pad_left = (size_t)rng_range(0, (int)p->kernel_w);
    const long pad_bottom = rng_range(0, (int)p->kernel_h), pad_right = rng_range(0, (int)p->kernel_w);
    const long eh = (long)(p->dilation_h * (p->kernel_h - 1) + 1),
               ew = (long)(p->dilation_w * (p->kernel_w - 1) + 1);
    const long oh = ((long)(p->in_h + p->pad_top) + pad_bottom - eh) / (long)p->stride_h + 1;
    const long ow = ((long)(p->in_w + p->pad_left) + pad_right - ew) / (long)p->stride_w + 1;
    if (oh < 1 || ow < 1 || (long)(p->in_h + p->pad_top) + pad_bottom < eh ||
        (long)(p->in_w + p->pad_left) + pad_right < ew)
        return 0;
    p->out_h = (size_t)oh;
    p->out_w = (size_t)ow;
    return 1;
}

/* Runs a channels-last depthwise kernel on weights wt [taps][channels] prepared by
 * qc_dwconv_nhwc_pack in a 64-byte aligned buffer (as the graph carves it); *quads tells
 * whether the packing chose the int8 layout (quads may be NULL) */
static void dw_nhwc_quads(qc_dwconv_nhwc_u8s8_fn fn, size_t channels, const qc_pool2d *p,
                          const uint8_t *xn, int32_t zx, const int8_t *wt, const int32_t *zw,
                          int32_t *out, int *quads)
{
    const size_t bytes = qc_dwconv_nhwc_pack_size(channels, p->kernel_h, p->kernel_w);
    uint8_t *buf = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    ck_assert_ptr_nonnull(buf);
    qc_dwconv_weights dw;
    qc_dwconv_nhwc_pack(channels, p->kernel_h, p->kernel_w, wt, zw, buf, &dw);
    fn(&dw, p, xn, zx, out);
    if (quads)
        *quads = dw.quads != NULL;
    free(buf);
}

static void dw_nhwc(qc_dwconv_nhwc_u8s8_fn fn, size_t channels, const qc_pool2d *p,
                    const uint8_t *xn, int32_t zx, const int8_t *wt, const int32_t *zw,
                    int32_t *out)
{
    dw_nhwc_quads(fn, channels, p, xn, zx, wt, zw, out, NULL);
}

/* The definition, in int64: one output of map m (of group m / mg). */
static int64_t conv_ref(const conv_geo *g, const uint8_t *x, int32_t zx, const int8_t *w,
                        const int32_t *zw, size_t m, size_t oh, size_t ow)
{
    const qc_pool2d *p = &g->p;
    const size_t grp = m / g->mg, plane = p->in_h * p->in_w;
    int64_t acc = 0;
    for (size_t c = 0; c < g->cg; c++)
        for (size_t i = 0; i < p->kernel_h; i++)
            for (size_t j = 0; j < p->kernel_w; j++) {
                const long ih = (long)(oh * p->stride_h + i * p->dilation_h) - (long)p->pad_top;
                const long iw = (long)(ow * p->stride_w + j * p->dilation_w) - (long)p->pad_left;
                if (ih < 0 || iw < 0 || ih >= (long)p->in_h || iw >= (long)p->in_w)
                    continue;
                const int64_t xv = x[(grp * g->cg + c) * plane + (size_t)ih * p->in_w + (size_t)iw];
                const int64_t wv = w[((m * g->cg + c) * p->kernel_h + i) * p->kernel_w + j];
                acc += (xv - zx) * (wv - zw[m]);
            }
    return acc;
}

/* activations: uniform, or a constant extreme every few trials */
static uint8_t x_value(int trial)
{
    switch (trial % 9) {
    case 1: return 0;
    case 2: return 255;
    default: return (uint8_t)(rng() & 255);
    }
}

static int8_t w_value(int trial)
{
    switch (trial % 7) {
    case 3: return -128;
    case 4: return 127;
    default: return (int8_t)(rng() & 255);
    }
}

START_TEST(test_im2col_matches_definition)
{
    rng_seed(21);
    static uint8_t x[3 * 20 * 20], cols[20 * 20 * 3 * 5 * 5 + 8];
    for (int trial = 0; trial < 300; trial++) {
        conv_geo g;
        if (!conv_geo_random(&g, 20, 5))
            continue;
        const qc_pool2d *p = &g.p;
        const size_t channels = (size_t)rng_range(1, 3), taps = p->kernel_h * p->kernel_w;
        const size_t k = channels * taps, ld = k + (size_t)rng_range(0, 3);
        const uint8_t pad = (uint8_t)rng_range(0, 255);
        for (size_t i = 0; i < channels * p->in_h * p->in_w; i++)
            x[i] = x_value(trial);
        qc_im2col_u8(channels, p, x, pad, cols, ld);
        for (size_t oh = 0; oh < p->out_h; oh++)
            for (size_t ow = 0; ow < p->out_w; ow++)
                for (size_t c = 0; c < channels; c++)
                    for (size_t i = 0; i < p->kernel_h; i++)
                        for (size_t j = 0; j < p->kernel_w; j++) {
                            const long ih = (long)(oh * p->stride_h + i * p->dilation_h) - (long)p->pad_top;
                            const long iw = (long)(ow * p->stride_w + j * p->dilation_w) - (long)p->pad_left;
                            const int inside = ih >= 0 && iw >= 0 && ih < (long)p->in_h && iw < (long)p->in_w;
                            const uint8_t want =
                                inside ? x[c * p->in_h * p->in_w + (size_t)ih * p->in_w + (size_t)iw] : pad;
                            const uint8_t got = cols[(oh * p->out_w + ow) * ld + c * taps + i * p->kernel_w + j];
                            ck_assert_msg(got == want, "im2col trial %d at (%zu,%zu) tap (%zu,%zu,%zu): %d, want %d",
                                          trial, oh, ow, c, i, j, got, want);
                        }
    }
}
END_TEST

START_TEST(test_grouped_conv_via_im2col_and_qgemm_matches_int64_reference)
{
    /* the runtime's general path: per group, im2col rows of K = cg·kh·kw taps (padding = z_x)
     * times the weights packed N×K with per-map zero points, into [pixels][M] */
    int isas[QC_INT8_ISAS];
    const int nisa = isa_list(isas);
    rng_seed(22);
    enum { MAXC = 8, MAXM = 12, MAXIN = 13, MAXK = 4 };
    static uint8_t x[MAXC * MAXIN * MAXIN], cols[MAXIN * MAXIN * MAXC * MAXK * MAXK];
    static int8_t w[MAXM * MAXC * MAXK * MAXK], zw8[MAXM];
    static int32_t zw[MAXM], acc[MAXIN * MAXIN * MAXM];
    for (int trial = 0; trial < 200; trial++) {
        conv_geo g;
        if (!conv_geo_random(&g, MAXIN, MAXK))
            continue;
        const qc_pool2d *p = &g.p;
        g.groups = (size_t)rng_range(1, 3);
        g.cg = (size_t)rng_range(1, MAXC / 3 + 1);
        g.mg = (size_t)rng_range(1, MAXM / 3);
        const size_t c_all = g.groups * g.cg, m_all = g.groups * g.mg;
        const size_t k = g.cg * p->kernel_h * p->kernel_w, pixels = p->out_h * p->out_w;
        const int32_t zx = trial % 5 == 0 ? 0 : trial % 5 == 1 ? 255 : rng_range(0, 255);
        for (size_t i = 0; i < c_all * p->in_h * p->in_w; i++)
            x[i] = x_value(trial);
        for (size_t i = 0; i < m_all * k; i++)
            w[i] = w_value(trial);
        for (size_t m = 0; m < m_all; m++) {
            zw8[m] = (int8_t)(trial % 3 == 0 ? 0 : rng_range(-128, 127));
            zw[m] = zw8[m];
        }
        /* order 0: NCHW im2col, ONNX's weight order; order 1: the runtime's NHWC im2col with
         * the weights reordered to [M][kh][kw][C] */
        const int order = trial % 2;
        const size_t taps = p->kernel_h * p->kernel_w, plane = p->in_h * p->in_w;
        static int8_t wr[MAXM * MAXC * MAXK * MAXK];
        static uint8_t xn[MAXC * MAXIN * MAXIN];
        for (size_t m = 0; m < m_all; m++)
            for (size_t c = 0; c < g.cg; c++)
                for (size_t t = 0; t < taps; t++)
                    wr[m * k + (order ? t * g.cg + c : c * taps + t)] = w[(m * g.cg + c) * taps + t];
        for (size_t c = 0; c < c_all; c++)
            for (size_t i = 0; i < plane; i++)
                xn[i * c_all + c] = x[c * plane + i];
        const size_t bytes = qc_q8gemm_packed_size(k, g.mg);
        uint8_t *packed = xalloc(g.groups * bytes);
        for (size_t grp = 0; grp < g.groups; grp++)
            qc_q8gemm_pack(k, g.mg, wr + grp * g.mg * k, 1, k, zw8 + grp * g.mg, packed + grp * bytes);
        for (int s = 0; s < nisa; s++) {
            ck_assert_int_eq(qc_int8_select(isas[s]), 0);
            for (size_t grp = 0; grp < g.groups; grp++) {
                if (order)
                    qc_im2col_nhwc_u8(g.cg, p, xn + grp * g.cg, c_all, (uint8_t)zx, 0, pixels,
                                      cols, k);
                else
                    qc_im2col_u8(g.cg, p, x + grp * g.cg * plane, (uint8_t)zx, cols, k);
                qc_q8gemm(pixels, g.mg, k, cols, k, (uint8_t)zx, packed + grp * bytes,
                          acc + grp * g.mg, m_all);
            }
            for (size_t px = 0; px < pixels; px++)
                for (size_t m = 0; m < m_all; m++) {
                    const int64_t want = conv_ref(&g, x, zx, w, zw, m, px / p->out_w, px % p->out_w);
                    ck_assert_msg(acc[px * m_all + m] == want,
                                  "conv %s %s trial %d groups %zu cg %zu mg %zu in %zux%zu k %zux%zu "
                                  "pixel %zu map %zu: %d, want %lld",
                                  isa_name(isas[s]),
                                  order ? "nhwc" : "nchw", trial, g.groups,
                                  g.cg, g.mg, p->in_h, p->in_w, p->kernel_h, p->kernel_w, px, m,
                                  acc[px * m_all + m], (long long)want);
                }
        }
        free(packed);
    }
}
END_TEST

START_TEST(test_pointwise_transpose_is_the_im2col_of_a_1x1_window)
{
    rng_seed(23);
    static uint8_t x[7 * 37], a[7 * 37], b[7 * 37];
    static int32_t xs[5 * 11], ys[5 * 11];
    for (size_t c = 1; c <= 7; c++)
        for (size_t px = 1; px <= 37; px += 4) {
            for (size_t i = 0; i < c * px; i++)
                x[i] = (uint8_t)(rng() & 255);
            qc_pool2d p = {1, px, 1, px, 1, 1, 1, 1, 1, 1, 0, 0};
            qc_im2col_u8(c, &p, x, 0, a, c);
            qc_transpose_u8(c, px, x, px, b, c);
            ck_assert_mem_eq(a, b, c * px);
        }
    for (size_t r = 1; r <= 5; r++)
        for (size_t c = 1; c <= 11; c++) {
            for (size_t i = 0; i < r * c; i++)
                xs[i] = (int32_t)rng();
            qc_transpose_s32(r, c, xs, c, ys, r);
            for (size_t i = 0; i < r; i++)
                for (size_t j = 0; j < c; j++)
                    ck_assert_int_eq(ys[j * r + i], xs[i * c + j]);
        }
}
END_TEST

START_TEST(test_dwconv_avx2_equals_scalar_equals_int64_reference)
{
    rng_seed(24);
    enum { MAXC = 4, MAXIN = 40, MAXK = 5 };
    static uint8_t x[MAXC * MAXIN * MAXIN];
    static int8_t w[MAXC * MAXK * MAXK];
    static int32_t zw[MAXC], ref[MAXC * MAXIN * MAXIN], sc[MAXC * MAXIN * MAXIN],
        vx[MAXC * MAXIN * MAXIN];
    const int avx2 = have_avx2();
    for (int trial = 0; trial < 600; trial++) {
        conv_geo g;
        if (!conv_geo_random(&g, trial % 4 == 0 ? MAXIN : 12, MAXK))
            continue;
        const qc_pool2d *p = &g.p;
        const size_t channels = (size_t)rng_range(1, MAXC), taps = p->kernel_h * p->kernel_w;
        const size_t out_plane = p->out_h * p->out_w;
        g.groups = channels;
        g.cg = g.mg = 1;
        const int32_t zx = trial % 5 == 0 ? 0 : trial % 5 == 1 ? 255 : rng_range(0, 255);
        for (size_t i = 0; i < channels * p->in_h * p->in_w; i++)
            x[i] = x_value(trial);
        for (size_t i = 0; i < channels * taps; i++)
            w[i] = w_value(trial);
        for (size_t c = 0; c < channels; c++) /* uint8 weights shifted by −128 reach ±255 */
            zw[c] = trial % 3 == 0 ? 0 : trial % 3 == 1 ? rng_range(-128, 127) : rng_range(-255, 255);
        for (size_t c = 0; c < channels; c++)
            for (size_t i = 0; i < out_plane; i++)
                ref[c * out_plane + i] =
                    (int32_t)conv_ref(&g, x, zx, w, zw, c, i / p->out_w, i % p->out_w);
        qc_dwconv_u8s8__scalar(channels, p, x, zx, w, zw, sc);
        for (size_t i = 0; i < channels * out_plane; i++)
            ck_assert_msg(sc[i] == ref[i],
                          "dwconv scalar trial %d in %zux%zu k %zux%zu s %zux%zu d %zux%zu pad "
                          "%zu,%zu at %zu: %d, want %d", trial, p->in_h, p->in_w, p->kernel_h,
                          p->kernel_w, p->stride_h, p->stride_w, p->dilation_h, p->dilation_w,
                          p->pad_top, p->pad_left, i, sc[i], ref[i]);
        if (!avx2)
            continue;
        qc_dwconv_u8s8__avx2(channels, p, x, zx, w, zw, vx);
        ck_assert_msg(memcmp(vx, sc, channels * out_plane * sizeof *vx) == 0,
                      "dwconv avx2 differs from scalar, trial %d in %zux%zu k %zux%zu s %zux%zu",
                      trial, p->in_h, p->in_w, p->kernel_h, p->kernel_w, p->stride_h, p->stride_w);
        /* the public entry point follows the selected table */
        ck_assert_int_eq(qc_int8_select(QC_INT8_ISA_AVX2), 0);
        qc_dwconv_u8s8(channels, p, x, zx, w, zw, vx);
        ck_assert_mem_eq(vx, sc, channels * out_plane * sizeof *vx);
    }
}
END_TEST

/* Every table the CPU runs is complete and named after its instruction set, and the SIMD
 * ones take SIMD depthwise kernels and transposes, the AVX-512 tables their own. */
START_TEST(test_every_kernel_table_is_complete_with_simd_depthwise)
{
    int isas[QC_INT8_ISAS];
    const int nisa = isa_list(isas);
    for (int s = 0; s < nisa; s++) {
        ck_assert_int_eq(qc_int8_select(isas[s]), 0);
        const qc_int8_table *t = qc_int8_kernels();
        ck_assert_str_eq(t->isa, isa_name(isas[s]));
        ck_assert_str_eq(qc_int8_isa(), isa_name(isas[s]));
        ck_assert(t->q8gemm_packa && t->q8gemm_ukernel && t->requantize_u8 && t->requantize_s8 &&
                  t->quantize_u8 && t->quantize_s8 && t->dequantize_u8 && t->dequantize_s8 &&
                  t->dequantize_s32 && t->maxpool_u8 && t->maxpool_cl_u8 && t->global_avgpool_u8 && t->qadd_u8 &&
                  t->transpose_u8 && t->dwconv_u8s8 && t->dwconv_nhwc_u8s8);
        const int simd = isas[s] != QC_INT8_ISA_SCALAR;
        const int wide = isas[s] == QC_INT8_ISA_AVX512VNNI || isas[s] == QC_INT8_ISA_AMX;
        ck_assert(t->qadd_u8 == (wide   ? qc_qadd_u8__avx512
                                 : simd ? qc_qadd_u8__avx2
                                        : qc_qadd_u8__scalar));
        ck_assert(t->dwconv_u8s8 == (simd ? qc_dwconv_u8s8__avx2 : qc_dwconv_u8s8__scalar));
        ck_assert(t->dwconv_nhwc_u8s8 == (wide   ? qc_dwconv_nhwc_u8s8__avx512vnni
                                          : simd ? qc_dwconv_nhwc_u8s8__avx2
                                                 : qc_dwconv_nhwc_u8s8__scalar));
        ck_assert(t->transpose_u8 == (wide   ? qc_transpose_u8__avx512
                                      : simd ? qc_transpose_u8__avx2
                                             : qc_transpose_u8__scalar));
    }
}
END_TEST

START_TEST(test_dwconv_channels_last_avx2_equals_scalar_equals_int64_reference)
{
    /* channels 1..27: every remainder of the 8-channel vectors, and whole vectors */
    rng_seed(25);
    enum { MAXC = 27, MAXIN = 16, MAXK = 5 };
    static uint8_t x[MAXC * MAXIN * MAXIN], xn[MAXC * MAXIN * MAXIN];
    static int8_t w[MAXC * MAXK * MAXK], wt[MAXC * MAXK * MAXK];
    static int32_t zw[MAXC], sc[MAXC * MAXIN * MAXIN], vx[MAXC * MAXIN * MAXIN];
    const int avx2 = have_avx2(), avx512 = have_avx512();
    for (int trial = 0; trial < 500; trial++) {
        conv_geo g;
        if (!conv_geo_random(&g, MAXIN, MAXK))
            continue;
        const qc_pool2d *p = &g.p;
        const size_t channels = (size_t)(trial % MAXC) + 1, taps = p->kernel_h * p->kernel_w;
        const size_t plane = p->in_h * p->in_w, pixels = p->out_h * p->out_w;
        g.groups = channels;
        g.cg = g.mg = 1;
        const int32_t zx = trial % 5 == 0 ? 0 : trial % 5 == 1 ? 255 : rng_range(0, 255);
        for (size_t i = 0; i < channels * plane; i++)
            x[i] = x_value(trial);
        for (size_t i = 0; i < channels * taps; i++)
            w[i] = w_value(trial);
        for (size_t c = 0; c < channels; c++)
            zw[c] = trial % 3 == 0 ? 0 : trial % 3 == 1 ? rng_range(-128, 127) : rng_range(-255, 255);
        for (size_t c = 0; c < channels; c++) {
            for (size_t i = 0; i < plane; i++)
                xn[i * channels + c] = x[c * plane + i];
            for (size_t t = 0; t < taps; t++)
                wt[t * channels + c] = w[c * taps + t];
        }
        dw_nhwc(qc_dwconv_nhwc_u8s8__scalar, channels, p, xn, zx, wt, trial % 4 == 3 ? NULL : zw, sc);
        for (size_t px = 0; px < pixels; px++)
            for (size_t c = 0; c < channels; c++) {
                const int32_t *zr = trial % 4 == 3 ? (const int32_t[MAXC]){0} : zw;
                const int64_t want = conv_ref(&g, x, zx, w, zr, c, px / p->out_w, px % p->out_w);
                ck_assert_msg(sc[px * channels + c] == want,
                              "dwconv nhwc scalar trial %d channels %zu in %zux%zu k %zux%zu s "
                              "%zux%zu at pixel %zu channel %zu: %d, want %lld", trial, channels,
                              p->in_h, p->in_w, p->kernel_h, p->kernel_w, p->stride_h,
                              p->stride_w, px, c, sc[px * channels + c], (long long)want);
            }
        if (!avx2)
            continue;
        dw_nhwc(qc_dwconv_nhwc_u8s8__avx2, channels, p, xn, zx, wt, trial % 4 == 3 ? NULL : zw, vx);
        ck_assert_msg(memcmp(vx, sc, channels * pixels * sizeof *vx) == 0,
                      "dwconv nhwc avx2 differs from scalar, trial %d channels %zu", trial, channels);
        if (!avx512)
            continue;
        memset(vx, 0xa5, sizeof vx);
        dw_nhwc(qc_dwconv_nhwc_u8s8__avx512vnni, channels, p, xn, zx, wt, trial % 4 == 3 ? NULL : zw, vx);
        ck_assert_msg(memcmp(vx, sc, channels * pixels * sizeof *vx) == 0,
                      "dwconv nhwc avx512vnni differs from scalar, trial %d channels %zu", trial,
                      channels);
    }
}
END_TEST

/* ---- channels-last helpers: transpose, wide im2col rows, wide depthwise ---- */

START_TEST(test_transpose_u8_avx2_and_scalar_match_definition)
{
    /* sizes around the 16×16 blocks (ragged right and bottom edges), strides wider than the
     * matrices */
    rng_seed(31);
    enum { MAXR = 70, MAXC = 70 };
    static uint8_t x[MAXR * (MAXC + 5)], ys[MAXC * (MAXR + 5)], yv[MAXC * (MAXR + 5)];
    const int avx2 = have_avx2();
    for (int trial = 0; trial < 400; trial++) {
        const size_t rows = (size_t)rng_range(1, MAXR), cols = (size_t)rng_range(1, MAXC);
        const size_t xs = cols + (size_t)rng_range(0, 5), yst = rows + (size_t)rng_range(0, 5);
        for (size_t i = 0; i < rows * xs; i++)
            x[i] = (uint8_t)rng();
        memset(ys, 0xa5, sizeof ys);
        memset(yv, 0xa5, sizeof yv);
        qc_transpose_u8__scalar(rows, cols, x, xs, ys, yst);
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++)
                ck_assert_msg(ys[j * yst + i] == x[i * xs + j],
                              "transpose scalar %zux%zu at (%zu,%zu)", rows, cols, i, j);
        if (!avx2)
            continue;
        qc_transpose_u8__avx2(rows, cols, x, xs, yv, yst);
        /* the same bytes everywhere, the gaps between rows left alone included */
        ck_assert_msg(memcmp(ys, yv, sizeof ys) == 0, "transpose avx2 differs from scalar, %zux%zu "
                      "strides %zu, %zu", rows, cols, xs, yst);
        ck_assert_int_eq(qc_int8_select(QC_INT8_ISA_AVX2), 0);
        memset(yv, 0xa5, sizeof yv);
        qc_transpose_u8(rows, cols, x, xs, yv, yst);
        ck_assert_mem_eq(ys, yv, sizeof ys);
    }
}
END_TEST

/* The AVX-512 transpose's 32×32 and 16×64 blocks and the masked ones at the edges: every size
 * around 16, 32 and 64 on both sides, and random ones, with strides wider than the matrices */
START_TEST(test_transpose_u8_avx512_equals_scalar)
{
    rng_seed(34);
    enum { MAXR = 200, MAXC = 200, PAD = 9 };
    static const size_t edge[] = {1, 2, 3, 15, 16, 17, 24, 31, 32, 33, 63, 64, 65, 79, 96, 97,
                                  127, 128, 129, 191, 200};
    enum { NEDGE = sizeof edge / sizeof edge[0] };
    static uint8_t x[MAXR * (MAXC + PAD)], ys[MAXC * (MAXR + PAD)], yv[MAXC * (MAXR + PAD)];
    if (!have_avx512())
        return;
    for (int trial = 0; trial < NEDGE * NEDGE + 200; trial++) {
        const int swept = trial < NEDGE * NEDGE;
        const size_t rows = swept ? edge[trial / NEDGE] : (size_t)rng_range(1, MAXR);
        const size_t cols = swept ? edge[trial % NEDGE] : (size_t)rng_range(1, MAXC);
        const size_t xs = cols + (size_t)rng_range(0, PAD), yst = rows + (size_t)rng_range(0, PAD);
        for (size_t i = 0; i < rows * xs; i++)
            x[i] = (uint8_t)rng();
        memset(ys, 0xa5, sizeof ys);
        memset(yv, 0xa5, sizeof yv);
        qc_transpose_u8__scalar(rows, cols, x, xs, ys, yst);
        qc_transpose_u8__avx512(rows, cols, x, xs, yv, yst);
        /* the same bytes everywhere, the gaps between rows left alone included */
        ck_assert_msg(memcmp(ys, yv, sizeof ys) == 0,
                      "transpose avx512 differs from scalar, %zux%zu strides %zu, %zu", rows, cols,
                      xs, yst);
    }
}
END_TEST

START_TEST(test_im2col_nhwc_wide_channels_match_definition)
{
    /* runs of C bytes per tap and kernel_w·C per window row, C up to 40 (copies of 1..15 bytes,
     * 16 and more, not multiples of 16), dense (x_stride = C) or a group inside a wider tensor */
    rng_seed(32);
    enum { MAXC = 40, MAXIN = 12, MAXK = 4 };
    static uint8_t x[MAXIN * MAXIN * (MAXC + 7)], cols[MAXIN * MAXIN * MAXK * MAXK * MAXC + 8];
    for (int trial = 0; trial < 300; trial++) {
        conv_geo g;
        if (!conv_geo_random(&g, MAXIN, MAXK))
            continue;
        const qc_pool2d *p = &g.p;
        const size_t c = (size_t)rng_range(1, MAXC);
        const size_t xs = trial % 3 == 0 ? c + (size_t)rng_range(1, 7) : c;
        const size_t k = c * p->kernel_h * p->kernel_w, ld = k + (size_t)rng_range(0, 3);
        const uint8_t pad = (uint8_t)rng_range(0, 255);
        for (size_t i = 0; i < p->in_h * p->in_w * xs; i++)
            x[i] = (uint8_t)rng();
        /* every pixel, or a range starting and ending anywhere in a row */
        const size_t pixels = p->out_h * p->out_w;
        const size_t first = trial % 2 ? (size_t)rng_range(0, (int)pixels - 1) : 0;
        const size_t count = trial % 2 ? (size_t)rng_range(1, (int)(pixels - first)) : pixels;
        memset(cols, 0xa5, sizeof cols);
        qc_im2col_nhwc_u8(c, p, x, xs, pad, first, count, cols, ld);
        size_t b = (count - 1) * ld + k;
        while (b < sizeof cols && cols[b] == 0xa5)
            b++;
        ck_assert_msg(b == sizeof cols, "im2col nhwc trial %d wrote byte %zu past its rows",
                      trial, b);
        for (size_t q = first; q < first + count; q++) {
            const size_t oh = q / p->out_w, ow = q % p->out_w;
            for (size_t i = 0; i < p->kernel_h; i++)
                for (size_t j = 0; j < p->kernel_w; j++)
                    for (size_t ch = 0; ch < c; ch++) {
                        const long ih = (long)(oh * p->stride_h + i * p->dilation_h) - (long)p->pad_top;
                        const long iw = (long)(ow * p->stride_w + j * p->dilation_w) - (long)p->pad_left;
                        const int inside = ih >= 0 && iw >= 0 && ih < (long)p->in_h && iw < (long)p->in_w;
                        const uint8_t want =
                            inside ? x[((size_t)ih * p->in_w + (size_t)iw) * xs + ch] : pad;
                        const uint8_t got = cols[(q - first) * ld + (i * p->kernel_w + j) * c + ch];
                        ck_assert_msg(got == want, "im2col nhwc trial %d C %zu at (%zu,%zu) "
                                      "tap (%zu,%zu,%zu): %d, want %d", trial, c, oh, ow, i, j,
                                      ch, got, want);
                    }
        }
    }
}
END_TEST

START_TEST(test_dwconv_channels_last_wide_extremes_equal_int64_reference)
{
    /* many channels (vectors and a ragged tail), kernels up to 7×7 (odd tap counts pair the
     * last tap with a zero weight), inputs large enough for interior pixels, and the extreme
     * products 255·(−255) in every tap of some trials */
    rng_seed(33);
    enum { MAXC = 75, MAXIN = 14, MAXK = 7 };
    static uint8_t x[MAXC * MAXIN * MAXIN], xn[MAXC * MAXIN * MAXIN];
    static int8_t w[MAXC * MAXK * MAXK], wt[MAXC * MAXK * MAXK];
    static int32_t zw[MAXC], sc[MAXC * MAXIN * MAXIN], vx[MAXC * MAXIN * MAXIN];
    const int avx2 = have_avx2(), avx512 = have_avx512();
    for (int trial = 0; trial < 120; trial++) {
        conv_geo g;
        if (!conv_geo_random(&g, MAXIN, MAXK))
            continue;
        const qc_pool2d *p = &g.p;
        const size_t channels = (size_t)rng_range(8, MAXC), taps = p->kernel_h * p->kernel_w;
        const size_t plane = p->in_h * p->in_w, pixels = p->out_h * p->out_w;
        g.groups = channels;
        g.cg = g.mg = 1;
        const int extreme = trial % 4 == 0;
        const int32_t zx = extreme ? 0 : rng_range(0, 255);
        for (size_t i = 0; i < channels * plane; i++)
            x[i] = extreme ? 255 : (uint8_t)rng();
        for (size_t i = 0; i < channels * taps; i++)
            w[i] = extreme ? -128 : (int8_t)rng();
        for (size_t c = 0; c < channels; c++)
            zw[c] = extreme ? 127 : rng_range(-255, 255);
        for (size_t c = 0; c < channels; c++) {
            for (size_t i = 0; i < plane; i++)
                xn[i * channels + c] = x[c * plane + i];
            for (size_t t = 0; t < taps; t++)
                wt[t * channels + c] = w[c * taps + t];
        }
        dw_nhwc(qc_dwconv_nhwc_u8s8__scalar, channels, p, xn, zx, wt, zw, sc);
        for (size_t px = 0; px < pixels; px++)
            for (size_t c = 0; c < channels; c++) {
                const int64_t want = conv_ref(&g, x, zx, w, zw, c, px / p->out_w, px % p->out_w);
                ck_assert_msg(sc[px * channels + c] == want, "dwconv nhwc scalar trial %d", trial);
            }
        if (!avx2)
            continue;
        dw_nhwc(qc_dwconv_nhwc_u8s8__avx2, channels, p, xn, zx, wt, zw, vx);
        ck_assert_msg(memcmp(vx, sc, channels * pixels * sizeof *vx) == 0,
                      "dwconv nhwc avx2 differs from scalar, trial %d channels %zu k %zux%zu",
                      trial, channels, p->kernel_h, p->kernel_w);
        if (!avx512)
            continue;
        memset(vx, 0xa5, sizeof vx);
        dw_nhwc(qc_dwconv_nhwc_u8s8__avx512vnni, channels, p, xn, zx, wt, zw, vx);
        ck_assert_msg(memcmp(vx, sc, channels * pixels * sizeof *vx) == 0,
                      "dwconv nhwc avx512vnni differs from scalar, trial %d channels %zu k %zux%zu",
                      trial, channels, p->kernel_h, p->kernel_w);
    }
}
END_TEST

/* The four-taps-per-instruction layout (weights w − z_w within int8): channels 1..70 (every tail
 * of the 64-channel blocks and of the 16-channel vectors) and 120..140, 3×3 and 5×5 windows
 * (other sizes now and then), strides 1 and 2, dilations, every padding, z_x 0, 128, 255 or
 * any, weights at −128 and 127, per-channel z_w zero or not; weights beyond int8 take the
 * pairs, which the packing must tell apart. Each path equals the scalar one, which equals the
 * definition in int64. */
START_TEST(test_dwconv_channels_last_int8_weights_every_path_equals_int64_reference)
{
    rng_seed(37);
    enum { MAXC = 140, MAXIN = 13, MAXK = 7, MAXOUT = MAXIN + MAXK + 1 };
    static uint8_t x[MAXC * MAXIN * MAXIN], xn[MAXC * MAXIN * MAXIN];
    static int8_t w[MAXC * MAXK * MAXK], wt[MAXC * MAXK * MAXK];
    static int32_t zw[MAXC], sc[MAXC * MAXOUT * MAXOUT + 1], vx[MAXC * MAXOUT * MAXOUT + 1];
    static const int32_t zxs[] = {0, 128, 255};
    const int avx2 = have_avx2(), avx512 = have_avx512();
    int layouts[2] = {0, 0};
    for (int trial = 0; trial < 700; trial++) {
        conv_geo g;
        qc_pool2d *p = &g.p;
        const int odd = trial % 5 == 4, five = trial % 2;
        p->in_h = (size_t)rng_range(1, MAXIN);
        p->in_w = (size_t)rng_range(1, MAXIN);
        p->kernel_h = odd ? (size_t)rng_range(1, MAXK) : five ? 5 : 3;
        p->kernel_w = odd ? (size_t)rng_range(1, MAXK) : five ? 5 : 3;
        p->stride_h = p->stride_w = (size_t)rng_range(1, 2);
        p->dilation_h = p->dilation_w = trial % 7 == 0 ? 2 : 1;
        if (!conv_geo_pad_random(&g))
            continue;
        const size_t channels = trial % 4 == 3 ? (size_t)rng_range(120, MAXC)
                                               : (size_t)(trial % 70) + 1;
        const size_t taps = p->kernel_h * p->kernel_w;
        const size_t plane = p->in_h * p->in_w, pixels = p->out_h * p->out_w;
        g.groups = channels;
        g.cg = g.mg = 1;
        const int32_t zx = trial % 4 < 3 ? zxs[trial % 3] : rng_range(0, 255);
        /* 0: z_w = 0; 1: z_w ≠ 0 with w − z_w within int8; 2: anything (mostly beyond) */
        const int mode = trial % 3;
        int fits = 1;
        for (size_t c = 0; c < channels; c++)
            zw[c] = mode == 0 ? 0 : mode == 1 ? rng_range(-60, 60) : rng_range(-128, 127);
        for (size_t c = 0; c < channels; c++)
            for (size_t t = 0; t < taps; t++) {
                int32_t v = w_value(trial + (int)t);
                if (mode == 1) /* into [z_w − 128, z_w + 127] ∩ [−128, 127] */
                    v = v < zw[c] - 128 ? zw[c] - 128 : v > zw[c] + 127 ? zw[c] + 127 : v;
                w[c * taps + t] = (int8_t)v;
                fits &= v - zw[c] >= -128 && v - zw[c] <= 127;
            }
        for (size_t i = 0; i < channels * plane; i++)
            x[i] = x_value(trial);
        for (size_t c = 0; c < channels; c++) {
            for (size_t i = 0; i < plane; i++)
                xn[i * channels + c] = x[c * plane + i];
            for (size_t t = 0; t < taps; t++)
                wt[t * channels + c] = w[c * taps + t];
        }
        const int32_t *zp = mode == 0 && trial % 2 ? NULL : zw;
        int quads = -1;
        dw_nhwc_quads(qc_dwconv_nhwc_u8s8__scalar, channels, p, xn, zx, wt, zp, sc, &quads);
        ck_assert_int_eq(quads, fits);
        layouts[fits]++;
        for (size_t px = 0; px < pixels; px++)
            for (size_t c = 0; c < channels; c++) {
                const int64_t want = conv_ref(&g, x, zx, w, zw, c, px / p->out_w, px % p->out_w);
                ck_assert_msg(sc[px * channels + c] == want,
                              "dwconv nhwc scalar trial %d channels %zu k %zux%zu at pixel %zu "
                              "channel %zu: %d, want %lld", trial, channels, p->kernel_h,
                              p->kernel_w, px, c, sc[px * channels + c], (long long)want);
            }
        const qc_dwconv_nhwc_u8s8_fn simd[] = {avx2 ? qc_dwconv_nhwc_u8s8__avx2 : NULL,
                                               avx512 ? qc_dwconv_nhwc_u8s8__avx512vnni : NULL};
        for (int k = 0; k < 2; k++) {
            if (!simd[k])
                continue;
            memset(vx, 0xa5, sizeof vx);
            dw_nhwc(simd[k], channels, p, xn, zx, wt, zp, vx);
            ck_assert_msg(memcmp(vx, sc, channels * pixels * sizeof *vx) == 0,
                          "dwconv nhwc %s differs from scalar, trial %d channels %zu in %zux%zu "
                          "k %zux%zu s %zu d %zu pad %zu,%zu z_x %d int8 weights %d",
                          k ? "avx512vnni" : "avx2", trial, channels, p->in_h, p->in_w,
                          p->kernel_h, p->kernel_w, p->stride_h, p->dilation_h, p->pad_top,
                          p->pad_left, zx, fits);
            /* the bytes after the output are left alone */
            ck_assert_int_eq(vx[channels * pixels], (int32_t)0xa5a5a5a5);
        }
    }
    ck_assert_int_gt(layouts[0], 50);
    ck_assert_int_gt(layouts[1], 300);
}
END_TEST

/* The AVX2 kernel's row path over rows of several strips (up to 70 pixels, strides 1-3 and
 * dilations that shrink a strip), its sliding 3×3 path, and windows beyond the row path (taller
 * than 8 rows, or wider than its columns) that go pixel by pixel: channels 1..70, 65..140 and
 * multiples of 8, against the scalar reference, with the input and output exactly as long as
 * they must be (a read or write past them shows under valgrind or ASan). */
START_TEST(test_dwconv_channels_last_avx2_rows_and_wide_windows_equal_scalar)
{
    rng_seed(39);
    enum { MAXC = 140, MAXH = 12, MAXW = 70, MAXK = 25 };
    static const int32_t zxs[] = {0, 128, 255};
    if (!have_avx2())
        return;
    int shapes[3] = {0, 0, 0}; /* sliding 3×3, strips, pixel by pixel */
    for (int trial = 0; trial < 600; trial++) {
        conv_geo g;
        qc_pool2d *p = &g.p;
        const int kind = trial % 4;
        p->in_h = (size_t)rng_range(1, MAXH);
        p->in_w = (size_t)rng_range(1, MAXW);
        p->kernel_h = kind == 0 ? 3 : kind == 3 ? (size_t)rng_range(9, 10) : (size_t)rng_range(1, 8);
        p->kernel_w = kind == 0 ? 3 : kind == 3 && trial % 8 == 7 ? MAXK : (size_t)rng_range(1, 9);
        p->stride_h = (size_t)rng_range(1, 2);
        p->stride_w = kind == 0 ? (size_t)rng_range(1, 2) : (size_t)rng_range(1, 3);
        p->dilation_h = (size_t)rng_range(1, 2);
        p->dilation_w = kind == 0 ? 1 : p->kernel_w == MAXK ? 2 : (size_t)rng_range(1, 4);
        if (!conv_geo_pad_random(&g))
            continue;
        const size_t channels = trial % 3 == 0   ? (size_t)rng_range(1, 70)
                                : trial % 3 == 1 ? (size_t)rng_range(65, MAXC)
                                                 : 8 * (size_t)rng_range(1, 17);
        const size_t taps = p->kernel_h * p->kernel_w, pixels = p->out_h * p->out_w;
        const size_t xn_len = p->in_h * p->in_w * channels, out_len = pixels * channels;
        const int32_t zx = trial % 5 < 3 ? zxs[trial % 5] : rng_range(0, 255);
        uint8_t *xn = malloc(xn_len);
        int8_t *wt = malloc(taps * channels);
        int32_t *zw = malloc(channels * sizeof *zw), *sc = malloc(out_len * sizeof *sc),
                *vx = malloc(out_len * sizeof *vx);
        ck_assert(xn && wt && zw && sc && vx);
        for (size_t i = 0; i < xn_len; i++)
            xn[i] = x_value(trial);
        for (size_t i = 0; i < taps * channels; i++)
            wt[i] = w_value(trial);
        /* z_w = 0, within int8's reach of w, or anything */
        for (size_t c = 0; c < channels; c++)
            zw[c] = trial % 3 == 0 ? 0 : trial % 3 == 1 ? rng_range(-20, 20) : rng_range(-255, 255);
        dw_nhwc(qc_dwconv_nhwc_u8s8__scalar, channels, p, xn, zx, wt, zw, sc);
        dw_nhwc(qc_dwconv_nhwc_u8s8__avx2, channels, p, xn, zx, wt, zw, vx);
        ck_assert_msg(memcmp(vx, sc, out_len * sizeof *vx) == 0,
                      "dwconv nhwc avx2 differs from scalar, trial %d channels %zu in %zux%zu k "
                      "%zux%zu s %zux%zu d %zux%zu pad %zu,%zu z_x %d", trial, channels, p->in_h,
                      p->in_w, p->kernel_h, p->kernel_w, p->stride_h, p->stride_w, p->dilation_h,
                      p->dilation_w, p->pad_top, p->pad_left, zx);
        shapes[kind == 0 ? 0 : kind == 3 ? 2 : 1]++;
        free(xn);
        free(wt);
        free(zw);
        free(sc);
        free(vx);
    }
    ck_assert_int_gt(shapes[0], 100);
    ck_assert_int_gt(shapes[1], 200);
    ck_assert_int_gt(shapes[2], 50);
}
END_TEST

/* MobileNetV2's 3×3 windows on the row path, every width up to 20 and 112, paddings 0 to 2,
 * strides 1 and 2: the interior pixels' untested loop and the border pixels' tested one meet
 * at every place a row can put them */
START_TEST(test_dwconv_channels_last_avx2_3x3_rows_every_width_equal_scalar)
{
    rng_seed(41);
    static const int32_t zxs[] = {0, 128, 255};
    if (!have_avx2())
        return;
    int trial = 0;
    for (size_t stride = 1; stride <= 2; stride++)
        for (size_t pad = 0; pad <= 2; pad++)
            for (size_t wi = 1; wi <= 21; wi++)
                for (int pick = 0; pick < 2; pick++, trial++) {
                    qc_pool2d p = {.kernel_h = 3, .kernel_w = 3, .stride_h = stride,
                                   .stride_w = stride, .dilation_h = 1, .dilation_w = 1,
                                   .pad_top = pad, .pad_left = pad};
                    p.in_w = wi <= 20 ? wi : 112;
                    p.in_h = (size_t)rng_range(1, 6);
                    if (p.in_w + 2 * pad < 3 || p.in_h + 2 * pad < 3)
                        continue;
                    p.out_h = (p.in_h + 2 * pad - 3) / stride + 1;
                    p.out_w = (p.in_w + 2 * pad - 3) / stride + 1;
                    const size_t channels = (size_t)rng_range(1, 70);
                    const size_t x_len = p.in_h * p.in_w * channels;
                    const size_t out_len = p.out_h * p.out_w * channels;
                    const int32_t zx = zxs[trial % 3];
                    uint8_t *xn = malloc(x_len);
                    int8_t *wt = malloc(9 * channels);
                    int32_t *zw = malloc(channels * sizeof *zw), *sc = malloc(out_len * sizeof *sc),
                            *vx = malloc(out_len * sizeof *vx);
                    ck_assert(xn && wt && zw && sc && vx);
                    for (size_t i = 0; i < x_len; i++)
                        xn[i] = x_value(trial);
                    for (size_t i = 0; i < 9 * channels; i++)
                        wt[i] = w_value(trial);
                    for (size_t c = 0; c < channels; c++)
                        zw[c] = pick ? rng_range(-255, 255) : 0;
                    dw_nhwc(qc_dwconv_nhwc_u8s8__scalar, channels, &p, xn, zx, wt, zw, sc);
                    dw_nhwc(qc_dwconv_nhwc_u8s8__avx2, channels, &p, xn, zx, wt, zw, vx);
                    ck_assert_msg(memcmp(vx, sc, out_len * sizeof *vx) == 0,
                                  "dwconv nhwc avx2 3x3 differs from scalar: channels %zu in "
                                  "%zux%zu stride %zu pad %zu z_x %d",
                                  channels, p.in_h, p.in_w, stride, pad, zx);
                    free(xn);
                    free(wt);
                    free(zw);
                    free(sc);
                    free(vx);
                }
}
END_TEST

/* More channels than the AVX-512 kernel's corrections hold at once (2048): the chunks' edges;
 * the AVX2 row path over many blocks */
START_TEST(test_dwconv_channels_last_many_channels_equal_scalar)
{
    rng_seed(38);
    enum { C = 2100, IN = 5 };
    static uint8_t xn[C * IN * IN];
    static int8_t wt[C * 9];
    static int32_t zw[C], sc[C * IN * IN], vx[C * IN * IN];
    if (!have_avx2())
        return;
    for (int trial = 0; trial < 4; trial++) {
        const qc_pool2d p = {.in_h = IN, .in_w = IN, .kernel_h = 3, .kernel_w = 3,
                             .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                             .pad_top = 1, .pad_left = 1, .out_h = IN, .out_w = IN};
        const size_t channels = trial < 2 ? C : 2048 + (size_t)trial;
        for (size_t i = 0; i < channels * IN * IN; i++)
            xn[i] = (uint8_t)rng();
        for (size_t i = 0; i < channels * 9; i++)
            wt[i] = (int8_t)(trial % 2 ? rng() : rng() % 100);
        for (size_t c = 0; c < channels; c++)
            zw[c] = trial % 2 ? rng_range(-128, 127) : rng_range(-20, 20);
        dw_nhwc(qc_dwconv_nhwc_u8s8__scalar, channels, &p, xn, 77, wt, zw, sc);
        dw_nhwc(qc_dwconv_nhwc_u8s8__avx2, channels, &p, xn, 77, wt, zw, vx);
        ck_assert_msg(memcmp(vx, sc, channels * IN * IN * sizeof *vx) == 0,
                      "dwconv nhwc avx2 differs from scalar, %zu channels", channels);
        if (!have_avx512())
            continue;
        dw_nhwc(qc_dwconv_nhwc_u8s8__avx512vnni, channels, &p, xn, 77, wt, zw, vx);
        ck_assert_msg(memcmp(vx, sc, channels * IN * IN * sizeof *vx) == 0,
                      "dwconv nhwc avx512vnni differs from scalar, %zu channels", channels);
    }
}
END_TEST

START_TEST(test_requantize_per_column_wide_and_extremes_match_scalar_and_definition)
{
    /* per column: every shift 1..62 across the columns, extreme accumulators, narrow and
     * wide outputs with ragged tails */
    rng_seed(34);
    enum { MAXN = 600, M = 3 };
    static int32_t acc[M * MAXN], bias[MAXN], mult[MAXN], shift[MAXN];
    static uint8_t su[M * MAXN], vu[M * MAXN];
    static int8_t ss[M * MAXN], vs[M * MAXN];
    static const int32_t extremes[] = {INT32_MAX, INT32_MIN, INT32_MIN + 1, 0, 1 << 30,
                                       -(1 << 30), 1, -1};
    static const size_t widths[] = {1, 7, 8, 9, 62, 63, 64, 65, 511, 512, 513, 600};
    const int avx2 = have_avx2();
    for (size_t wi = 0; wi < sizeof widths / sizeof *widths; wi++)
        for (int rep = 0; rep < 4; rep++) {
            const size_t n = widths[wi];
            for (size_t j = 0; j < n; j++) {
                shift[j] = 1 + (int32_t)((j + (size_t)rep * 17) % 62);
                mult[j] = rep == 0 ? INT32_MAX : (int32_t)(0x40000000u + (rng() & 0x3fffffffu));
                bias[j] = rep == 1 ? 0 : rng_range(-100000, 100000);
            }
            for (size_t i = 0; i < M * n; i++)
                acc[i] = rep < 2 ? extremes[(i + (size_t)rep) % 8] : random_acc();
            const int32_t z = rng_range(0, 255);
            const qc_requant ru = {mult, shift, QC_PER_COLUMN, z, 0, 255};
            const qc_requant rs = {mult, shift, QC_PER_COLUMN, z - 128, -128, 127};
            const int32_t *bp = rep == 1 ? NULL : bias;
            ck_assert_int_eq(qc_int8_select(QC_INT8_ISA_SCALAR), 0);
            qc_requantize_u8(M, n, acc, n, bp, &ru, su, n);
            qc_requantize_s8(M, n, acc, n, bp, &rs, ss, n);
            for (size_t i = 0; i < M; i++)
                for (size_t j = 0; j < n; j++) {
                    const int64_t t = (int64_t)acc[i * n + j] + (bp != NULL ? bp[j] : 0);
                    if (t < INT32_MIN || t > INT32_MAX)
                        continue; /* R1 wraps; outside the precondition */
                    ck_assert_int_eq(su[i * n + j], requant_ref(t, mult[j], shift[j], z, 0, 255));
                    ck_assert_int_eq(ss[i * n + j],
                                     requant_ref(t, mult[j], shift[j], z - 128, -128, 127));
                }
            if (!avx2)
                continue;
            ck_assert_int_eq(qc_int8_select(QC_INT8_ISA_AVX2), 0);
            qc_requantize_u8(M, n, acc, n, bp, &ru, vu, n);
            qc_requantize_s8(M, n, acc, n, bp, &rs, vs, n);
            ck_assert_msg(memcmp(su, vu, M * n) == 0, "requantize u8 avx2 per column n=%zu rep %d "
                          "differs from scalar", n, rep);
            ck_assert_msg(memcmp(ss, vs, M * n) == 0, "requantize s8 avx2 per column n=%zu rep %d "
                          "differs from scalar", n, rep);
        }
}
END_TEST

/* ---- per-column requantization through doubles: the edges of its exactness argument ----
 *
 * Every per-column kernel (the double ones, the 64-bit integer ones they replaced, and the
 * dispatched one of each table) against the long-double definition and byte for byte against
 * the scalar reference, on accumulators placed where the double formulation could go wrong:
 * exact ties and their neighbours at every shift 1..62, t around R2's ±2^s (past which the
 * double path's |v| would leave int32) and half of it, the saturation threshold (the smallest
 * |t| whose code leaves [−255, 255]), int32's
 * ends with a bias that wraps, multipliers 2^30 and 2^31 − 1, shifts on both sides of 31 in
 * one 16-column block, every column tail, zero points 0 / 128 / 255 (−128 / 0 / 127). */

typedef struct {
    const char *name;
    qc_requantize_u8_fn u8;
    qc_requantize_s8_fn s8;
} requant_cols_kernel;

/* the kernels this CPU runs; returns how many */
static int requant_cols_kernels(requant_cols_kernel *k)
{
    int n = 0;
    if (have_avx2()) {
        k[n++] = (requant_cols_kernel){"avx2_cols", qc_requantize_u8__avx2_cols,
                                       qc_requantize_s8__avx2_cols};
        k[n++] = (requant_cols_kernel){"avx2_cols_int64", qc_requantize_u8__avx2_cols_int64,
                                       qc_requantize_s8__avx2_cols_int64};
    }
    if (have_avx512()) {
        k[n++] = (requant_cols_kernel){"avx512_cols", qc_requantize_u8__avx512_cols,
                                       qc_requantize_s8__avx512_cols};
        k[n++] = (requant_cols_kernel){"avx512_cols_int64", qc_requantize_u8__avx512_cols_int64,
                                       qc_requantize_s8__avx512_cols_int64};
    }
    return n;
}

/* the t nearest to where t · mult / 2^shift equals x (long double holds it to 64 bits) */
static int64_t t_for_value(long double x, int32_t mult, int32_t shift)
{
    const long double t = rintl(ldexpl(x, shift) / (long double)mult);
    return t > 0x1p32L ? (int64_t)1 << 32 : t < -0x1p32L ? -((int64_t)1 << 32) : (int64_t)t;
}

/* an edge t for column (mult, shift), by kind; the caller subtracts the bias */
static int64_t requant_edge_t(int kind, int32_t mult, int32_t shift)
{
    const int sign = rng() & 1 ? 1 : -1, nudge = rng_range(-1, 1);
    const int32_t s1 = shift <= 31 ? shift - 1 : 31, s0 = shift <= 31 ? shift : 31;
    switch (kind) {
    case 0: /* a tie (exact when 2^shift divides (2k+1)·mult / 2 … in t), or next to one */
        return t_for_value((long double)rng_range(-300, 300) + 0.5L, mult, shift) + nudge;
    case 1: /* half R2's bound */
        return sign * (((int64_t)1 << s1) + nudge);
    case 2: /* R2's bound */
        return sign * (((int64_t)1 << s0) + nudge);
    case 3: /* the saturation threshold: rint(t·M) reaches ±256 */
        return t_for_value(sign * 255.5L, mult, shift) + nudge;
    case 4: /* int32's ends (the bias may wrap them) */
        return rng() & 1 ? INT32_MAX - rng_range(0, 2) : INT32_MIN + rng_range(0, 2);
    default:
        return random_acc();
    }
}

/* exact ties at shift s for multiplier 2^30: t = (2k + 1)·2^(s − 31) gives (2k + 1) / 2 */
static int64_t exact_tie_t(int32_t shift)
{
    if (shift < 31)
        return rng_range(-3, 3);
    const int64_t odd = 2 * rng_range(-4, 3) + 1;
    const int64_t t = odd * ((int64_t)1 << (shift - 31));
    return t >= INT32_MIN && t <= INT32_MAX ? t : -((int64_t)1 << 31);
}

static void check_requant_cols_case(size_t m, size_t n, const int32_t *acc, const int32_t *bias,
                                    const qc_requant *rq, int is_u8, const char *what)
{
    enum { MAXM = 8, MAXN = 80 };
    uint8_t ref[MAXM * MAXN], got[MAXM * MAXN];
    requant_cols_kernel k[4];
    const int nk = requant_cols_kernels(k);
    if (is_u8)
        qc_requantize_u8__scalar(m, n, acc, n, bias, rq, ref, n);
    else
        qc_requantize_s8__scalar(m, n, acc, n, bias, rq, (int8_t *)ref, n);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            const int64_t t = (int64_t)acc[i * n + j] + (bias != NULL ? bias[j] : 0);
            if (t < INT32_MIN || t > INT32_MAX)
                continue; /* R1 wraps: the scalar reference alone defines it */
            const int32_t want = requant_ref(t, rq->multiplier[j], rq->shift[j], rq->zero_point,
                                             rq->qmin, rq->qmax);
            const int32_t have = is_u8 ? ref[i * n + j] : ((int8_t *)ref)[i * n + j];
            ck_assert_msg(have == want, "%s: scalar at (%zu, %zu) t=%lld: got %d, want %d", what,
                          i, j, (long long)t, have, want);
        }
    for (int v = 0; v < nk; v++) {
        memset(got, 0xa5, sizeof got);
        if (is_u8)
            k[v].u8(m, n, acc, n, bias, rq, got, n);
        else
            k[v].s8(m, n, acc, n, bias, rq, (int8_t *)got, n);
        for (size_t i = 0; i < m * n; i++)
            ck_assert_msg(got[i] == ref[i],
                          "%s: %s %s at (%zu, %zu): acc=%d bias=%d mult=%d shift=%d z=%d "
                          "[%d, %d]: got %d, want %d (scalar)",
                          what, k[v].name, is_u8 ? "u8" : "s8", i / n, i % n, acc[i],
                          bias != NULL ? bias[i % n] : 0, rq->multiplier[i % n],
                          rq->shift[i % n], rq->zero_point, rq->qmin, rq->qmax,
                          is_u8 ? got[i] : (int8_t)got[i], is_u8 ? ref[i] : (int8_t)ref[i]);
        ck_assert_int_eq(got[m * n], 0xa5); /* nothing past the last column */
    }
}

START_TEST(test_requantize_per_column_double_path_edges)
{
    enum { MAXM = 8, MAXN = 80 };
    static const int32_t zeros_u8[] = {0, 128, 255}, zeros_s8[] = {-128, 0, 127};
    int32_t acc[MAXM * MAXN], bias[MAXN], mult[MAXN], shift[MAXN];
    char what[96];
    rng_seed(61);
    for (int trial = 0; trial < 3000; trial++) {
        const int is_u8 = trial & 1, kind = (trial / 2) % 7;
        const size_t n = 1 + (size_t)(trial / 14) % 40 + (trial % 5 == 0) * 33;
        const size_t m = (size_t)rng_range(1, MAXM);
        for (size_t j = 0; j < n; j++) {
            /* shifts straddling 31 within a block, or a block of one side */
            const int mix = trial % 3;
            shift[j] = mix == 0   ? rng_range(1, 62)
                       : mix == 1 ? rng_range(32, 62)
                                  : 1 + (int32_t)((j + (size_t)trial) % 62);
            const int mk = rng_range(0, 3);
            mult[j] = kind == 6 ? 1 << 30
                      : mk == 0 ? INT32_MAX
                      : mk == 1 ? 1 << 30
                                : (int32_t)(0x40000000u + (rng() & 0x3fffffffu));
            bias[j] = rng() % 3 == 0 ? 0 : rng_range(-100000, 100000);
        }
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                const int64_t t = kind == 6 ? exact_tie_t(shift[j])
                                            : requant_edge_t(kind, mult[j], shift[j]);
                /* acc = t − bias, wrapped to int32 as R1 wraps it back */
                acc[i * n + j] = (int32_t)(uint32_t)((uint64_t)t - (uint64_t)(int64_t)bias[j]);
            }
        const int32_t z = is_u8 ? zeros_u8[trial % 3] : zeros_s8[trial % 3];
        int32_t qmin = is_u8 ? 0 : -128, qmax = is_u8 ? 255 : 127;
        if (trial % 4 == 3) /* a fused Relu */
            qmin = z;
        const qc_requant rq = {mult, shift, QC_PER_COLUMN, z, qmin, qmax};
        snprintf(what, sizeof what, "edges kind %d trial %d n=%zu", kind, trial, n);
        check_requant_cols_case(m, n, acc, trial % 7 == 0 ? NULL : bias, &rq, is_u8, what);
    }
}
END_TEST

/* ---- per-column requantization in blocks of 16 columns: every width, shift and stride ----
 *
 * The AVX2 double path takes 16 columns per step (8 + 8 through one vpackssdw, the halves
 * put back in order by vpunpcklwd) and the last n % 16 under load masks with a store in
 * pieces. Every width 1..40 and 64 + 5, every shift 1..62, blocks where R2 clamps and blocks
 * where it cannot, u8 and s8, row strides larger than the width on both sides (the bytes
 * between rows must stay untouched), edge accumulators: byte for byte against the scalar
 * reference. */

static void check_requant_blocks_case(size_t m, size_t n, int is_u8, int mode, int off)
{
    enum { MAXM = 5, MAXN = 69, PAD = 13 };
    int32_t acc[MAXM * (MAXN + PAD)], bias[MAXN], mult[MAXN], shift[MAXN];
    uint8_t ref[MAXM * (MAXN + PAD)], got[MAXM * (MAXN + PAD)];
    requant_cols_kernel k[4];
    const int nk = requant_cols_kernels(k);
    const size_t as = n + (size_t)rng_range(0, PAD), ys = n + (size_t)rng_range(0, PAD);
    for (size_t j = 0; j < n; j++) {
        /* 0: every shift across the columns; 1: R2 clamps in odd blocks only; 2: never */
        const int32_t any = 1 + (int32_t)((j + (size_t)off) % 62);
        shift[j] = mode == 0   ? any
                   : mode == 1 ? (j / 16 % 2 ? 1 + (int32_t)((j + (size_t)off) % 30)
                                             : 31 + (int32_t)((j + (size_t)off) % 32))
                               : 31 + (int32_t)((j + (size_t)off) % 32);
        const int mk = rng_range(0, 2);
        mult[j] = mk == 0 ? INT32_MAX : mk == 1 ? 1 << 30
                                              : (int32_t)(0x40000000u + (rng() & 0x3fffffffu));
        bias[j] = rng() % 3 == 0 ? 0 : rng_range(-100000, 100000);
    }
    for (size_t i = 0; i < m * as; i++)
        acc[i] = (int32_t)rng(); /* the columns past n: never read into an output */
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            const int64_t t = requant_edge_t(rng_range(0, 5), mult[j], shift[j]);
            acc[i * as + j] = (int32_t)(uint32_t)((uint64_t)t - (uint64_t)(int64_t)bias[j]);
        }
    const int32_t z = is_u8 ? rng_range(0, 255) : rng_range(-128, 127);
    const int32_t qmin = rng() % 4 == 0 ? z : is_u8 ? 0 : -128, qmax = is_u8 ? 255 : 127;
    const qc_requant rq = {mult, shift, QC_PER_COLUMN, z, qmin, qmax};
    const int32_t *bp = rng() % 5 == 0 ? NULL : bias;
    memset(ref, 0x5a, sizeof ref);
    if (is_u8)
        qc_requantize_u8__scalar(m, n, acc, as, bp, &rq, ref, ys);
    else
        qc_requantize_s8__scalar(m, n, acc, as, bp, &rq, (int8_t *)ref, ys);
    for (int v = 0; v < nk; v++) {
        memset(got, 0x5a, sizeof got);
        if (is_u8)
            k[v].u8(m, n, acc, as, bp, &rq, got, ys);
        else
            k[v].s8(m, n, acc, as, bp, &rq, (int8_t *)got, ys);
        for (size_t i = 0; i < sizeof got; i++)
            ck_assert_msg(got[i] == ref[i],
                          "%s %s %zux%zu (strides %zu, %zu) mode %d at (%zu, %zu): shift=%d: got "
                          "%d, want %d (scalar)",
                          k[v].name, is_u8 ? "u8" : "s8", m, n, as, ys, mode, i / ys, i % ys,
                          i % ys < n ? shift[i % ys] : 0, got[i], ref[i]);
    }
}

START_TEST(test_requantize_per_column_blocks_of_16_every_width_shift_and_stride)
{
    rng_seed(83);
    for (size_t n = 1; n <= 41; n++) /* 41 stands for 64 + 5 */
        for (int mode = 0; mode < 3; mode++)
            for (int off = 0; off < 62; off += n < 16 ? 1 : 7)
                check_requant_blocks_case((size_t)rng_range(1, 5), n == 41 ? 69 : n,
                                          (off + mode) & 1, mode, off);
}
END_TEST

/* ---- multipliers over scale ratios from 2^-20 to 2^20, every kernel path ----
 *
 * The real multiplier M (s_x·s_w/s_y for requantization, s_in/(s_out·n) for the global average
 * pool) is drawn log-uniformly from 2^-20 to 2^20 and turned into multiplier · 2^-shift by
 * qc_requant_multiplier, as the ops do. Each kernel must then give clamp(round(M·t) + z) for
 * the real M, except where M·t lies within the multiplier's representation error of a
 * rounding tie. Accumulators are drawn around the unsaturated range (v / M for v within a few
 * hundred codes) as well as over all of int32, so that both exact codes and saturation count. */

static double log_uniform(double lo_exp, double hi_exp)
{
    return exp2(lo_exp + (hi_exp - lo_exp) * (double)rng() / 4294967296.0);
}

/* an int32 accumulator whose product with M lands within ±span codes, or anything */
static int32_t acc_for(double m, double span)
{
    if (rng() % 4 == 0)
        return random_acc();
    const double v = (2.0 * (double)rng() / 4294967296.0 - 1.0) * span / m;
    return v >= 0x1p30 ? 1 << 30 : v <= -0x1p30 ? -(1 << 30) : (int32_t)v;
}

START_TEST(test_requantize_exact_for_multipliers_2e_minus20_to_2e20)
{
    enum { MAXC = 23 };
    int isas[QC_INT8_ISAS];
    const int nisa = qgemm_isa_list(isas);
    rng_seed(31);
    int checked = 0, unsaturated = 0;
    for (int trial = 0; trial < 1500; trial++) {
        const int g = trial % 3, is_u8 = (trial / 3) % 2;
        const size_t m = (size_t)rng_range(1, 5), n = (size_t)rng_range(1, MAXC);
        const size_t channels = g == QC_PER_COLUMN ? n : g == QC_PER_ROW ? m : 1;
        double real[MAXC], err[MAXC];
        int32_t mult[MAXC], shift[MAXC], bias[MAXC];
        for (size_t c = 0; c < channels; c++) {
            real[c] = log_uniform(-20.0, 20.0);
            ck_assert_msg(qc_requant_multiplier(real[c], &mult[c], &shift[c]) == QC_MULTIPLIER_OK,
                          "M = %a refused", real[c]);
            ck_assert_msg(mult[c] >= 1 << 30 && shift[c] >= 1 && shift[c] <= 62,
                          "M = %a: multiplier %d shift %d outside R0", real[c], mult[c], shift[c]);
            err[c] = fabs(ldexp(mult[c], -shift[c]) - real[c]);
            ck_assert_msg(err[c] <= ldexp(0.5, -shift[c]), "M = %a: multiplier %d shift %d",
                          real[c], mult[c], shift[c]);
            /* a bias in the accumulator's scale worth up to ±100 codes */
            const double bspan = fmin(0x1p29, 100.0 / real[c]);
            bias[c] = (int32_t)((2.0 * (double)rng() / 4294967296.0 - 1.0) * bspan);
        }
        const size_t stride = n + 1;
        int32_t acc[5 * (MAXC + 1)];
        uint8_t yu[5 * (MAXC + 1)];
        int8_t ys[5 * (MAXC + 1)];
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                const size_t ch = g == QC_PER_COLUMN ? j : g == QC_PER_ROW ? i : 0;
                acc[i * stride + j] = acc_for(real[ch], 300.0);
            }
        const int32_t z = is_u8 ? rng_range(0, 255) : rng_range(-128, 127);
        int32_t qmin = is_u8 ? 0 : -128, qmax = is_u8 ? 255 : 127;
        if (rng() % 4 == 0) /* a fused Relu */
            qmin = z;
        const qc_requant rq = {mult, shift, g, z, qmin, qmax};
        const int32_t *bp = rng() % 5 == 0 ? NULL : bias;
        for (int s = 0; s < nisa; s++) {
            ck_assert_int_eq(qc_int8_select(isas[s]), 0);
            if (is_u8)
                qc_requantize_u8(m, n, acc, stride, bp, &rq, yu, stride);
            else
                qc_requantize_s8(m, n, acc, stride, bp, &rq, ys, stride);
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) {
                    const size_t ch = g == QC_PER_COLUMN ? j : g == QC_PER_ROW ? i : 0;
                    const int32_t a = acc[i * stride + j], b = bp != NULL ? bp[ch] : 0;
                    const int64_t t = (int64_t)a + b;
                    if (t < INT32_MIN || t > INT32_MAX)
                        continue; /* R1's precondition; the ops refuse such biases */
                    const int32_t got = is_u8 ? yu[i * stride + j] : ys[i * stride + j];
                    /* the documented rounding of the fixed-point multiplier: exact */
                    const int32_t fixed = requant_ref(t, mult[ch], shift[ch], z, qmin, qmax);
                    /* the real M, up to the multiplier's representation error */
                    const double v = (double)t * real[ch];
                    const double slack = fabs((double)t) * err[ch] + fabs(v) * 0x1p-50;
                    const double r = rint(v) + z;
                    const int32_t want = r < qmin ? qmin : r > qmax ? qmax : (int32_t)r;
                    const int near_tie = fabs(v - floor(v) - 0.5) <= slack;
                    ck_assert_msg(got == fixed && (near_tie || got == want),
                                  "requantize %s %s %s %zux%zu at (%zu, %zu): M=%a (2^%.2f) "
                                  "multiplier=%d shift=%d acc=%d bias=%d z=%d [%d, %d]: got %d, "
                                  "fixed-point %d, real %d",
                                  isa_name(isas[s]), is_u8 ? "u8" : "s8",
                                  g == QC_PER_TENSOR ? "per tensor"
                                  : g == QC_PER_COLUMN ? "per column" : "per row",
                                  m, n, i, j, real[ch], log2(real[ch]), mult[ch], shift[ch], a, b,
                                  z, qmin, qmax, got, fixed, want);
                    checked++;
                    unsaturated += want > qmin && want < qmax;
                }
        }
    }
    ck_assert_int_gt(checked, 50000);
    ck_assert_int_gt(unsaturated * 3, checked); /* the test is not only about saturation */
}
END_TEST

START_TEST(test_requant_multiplier_refuses_what_it_cannot_represent)
{
    int32_t mult = 0, shift = 0;
    ck_assert_int_eq(qc_requant_multiplier(0.0, &mult, &shift), QC_MULTIPLIER_NOT_POSITIVE);
    ck_assert_int_eq(qc_requant_multiplier(-1.0, &mult, &shift), QC_MULTIPLIER_NOT_POSITIVE);
    ck_assert_int_eq(qc_requant_multiplier(NAN, &mult, &shift), QC_MULTIPLIER_NOT_POSITIVE);
    ck_assert_int_eq(qc_requant_multiplier(INFINITY, &mult, &shift), QC_MULTIPLIER_NOT_POSITIVE);
    /* 2^30 and what rounds up to it need a shift of 0 */
    ck_assert_int_eq(qc_requant_multiplier(0x1p30, &mult, &shift), QC_MULTIPLIER_TOO_LARGE);
    ck_assert_int_eq(qc_requant_multiplier(nextafter(0x1p30, 0.0), &mult, &shift),
                     QC_MULTIPLIER_TOO_LARGE);
    ck_assert_int_eq(qc_requant_multiplier(0x1p30 - 1.0, &mult, &shift), QC_MULTIPLIER_OK);
    ck_assert_int_eq(mult, INT32_MAX - 1);
    ck_assert_int_eq(shift, 1);
    ck_assert_int_eq(qc_requant_multiplier(0x1p20, &mult, &shift), QC_MULTIPLIER_OK);
    ck_assert_int_eq(mult, 1 << 30);
    ck_assert_int_eq(shift, 10);
    ck_assert_int_eq(qc_requant_multiplier(0x1p-20, &mult, &shift), QC_MULTIPLIER_OK);
    ck_assert_int_eq(mult, 1 << 30);
    ck_assert_int_eq(shift, 50);
    /* below 2^-32 every int32 maps to 0, as the substitute 2^30 · 2^-62 does */
    ck_assert_int_eq(qc_requant_multiplier(0x1p-32, &mult, &shift), QC_MULTIPLIER_OK);
    ck_assert_int_eq(shift, 62);
    ck_assert_int_eq(qc_requant_multiplier(0x1.8p-33, &mult, &shift), QC_MULTIPLIER_TOO_SMALL);
    ck_assert_int_eq(mult, 1 << 30);
    ck_assert_int_eq(shift, 62);
}
END_TEST

/* QLinearGlobalAveragePool's multiplier s_in / (s_out · n) with s_in / s_out from 2^-20 to
 * 2^20: y = clamp(round_half_away(Σ (x − z_in) · s_in / (s_out · n)) + z_out) (eqs. A1–A3) */
START_TEST(test_global_avgpool_exact_for_ratios_2e_minus20_to_2e20)
{
    int isas[QC_INT8_ISAS];
    const int nisa = qgemm_isa_list(isas);
    rng_seed(32);
    static uint8_t x[3 * 2500];
    uint8_t y[3];
    int checked = 0, unsaturated = 0;
    for (int trial = 0; trial < 1500; trial++) {
        const size_t n = (size_t)(trial % 4 == 0 ? rng_range(1, 9) : rng_range(1, 2500));
        const size_t planes = (size_t)rng_range(1, 3);
        const double ratio = log_uniform(-20.0, 20.0), real = ratio / (double)n;
        qc_gavgpool p = {0};
        const int rc = qc_requant_multiplier(real, &p.multiplier, &p.shift);
        ck_assert_msg(rc == QC_MULTIPLIER_OK || rc == QC_MULTIPLIER_TOO_SMALL,
                      "ratio %a n=%zu refused", ratio, n);
        const double err = fabs(ldexp(p.multiplier, -p.shift) - real);
        p.in_zero_point = rng_range(0, 255);
        p.out_zero_point = rng_range(0, 255);
        p.qmin = 0;
        p.qmax = 255;
        /* inputs spread by about 200 / ratio codes around z_in (a mean within ±200 codes of
         * the output's zero), or uniform */
        const int spread = ratio > 1.0 ? (int)fmax(1.0, 200.0 / ratio) : 255;
        for (size_t i = 0; i < planes * n; i++) {
            const int v = p.in_zero_point + rng_range(-spread, spread);
            x[i] = (uint8_t)(rng() % 8 == 0 ? (int)(rng() & 255) : v < 0 ? 0 : v > 255 ? 255 : v);
        }
        for (int s = 0; s < nisa; s++) {
            ck_assert_int_eq(qc_int8_select(isas[s]), 0);
            qc_global_avgpool_u8(planes, n, x, &p, y);
            for (size_t c = 0; c < planes; c++) {
                int64_t t = 0;
                for (size_t i = 0; i < n; i++)
                    t += x[c * n + i] - p.in_zero_point;
                const double v = (double)t * real;
                const double slack = fabs((double)t) * err + fabs(v) * 0x1p-50;
                const double r = round(v) + p.out_zero_point;
                const int want = r < 0 ? 0 : r > 255 ? 255 : (int)r;
                const int fixed = gavg_ref(t, p.multiplier, p.shift, p.out_zero_point, 0, 255);
                const int near_tie = fabs(fabs(v) - floor(fabs(v)) - 0.5) <= slack;
                ck_assert_msg(y[c] == fixed && (near_tie || y[c] == want),
                              "gavgpool %s n=%zu plane %zu: s_in/s_out=%a (2^%.2f) multiplier=%d "
                              "shift=%d z=%d,%d sum(x - z)=%lld: got %d, fixed-point %d, real %d",
                              isa_name(isas[s]), n, c, ratio, log2(ratio), p.multiplier, p.shift,
                              p.in_zero_point, p.out_zero_point, (long long)t, y[c], fixed, want);
                checked++;
                unsaturated += want > 0 && want < 255;
            }
        }
    }
    ck_assert_int_gt(checked, 3000);
    ck_assert_int_gt(unsaturated * 3, checked);
}
END_TEST

/* QLinearMul (eqs. M1–M3): bit for bit the fixed-point definition (t · multiplier / 2^shift is
 * exact in a double, and rint rounds ties to even), and, away from ties within the
 * multiplier's precision, clamp(rint((a − z_a)(b − z_b) · s_a·s_b / s_y) + z_y) for ratios
 * drawn log-uniformly from 2^−20 to 2^20. */
START_TEST(test_qmul_exact_for_ratios_2e_minus20_to_2e20)
{
    rng_seed(31);
    uint8_t a[64], b[64], y[64];
    int checked = 0, unsaturated = 0;
    for (int trial = 0; trial < 4000; trial++) {
        const double m = exp2(40.0 * (double)rng() / 4294967296.0 - 20.0);
        qc_qmul p = {0};
        ck_assert_int_eq(qc_requant_multiplier(m, &p.multiplier, &p.shift), QC_MULTIPLIER_OK);
        const double em = fabs(ldexp(p.multiplier, -p.shift) - m);
        const size_t n = (size_t)rng_range(1, 64);
        for (size_t i = 0; i < n; i++) {
            a[i] = (uint8_t)rng();
            b[i] = (uint8_t)rng();
        }
        p.a_zero_point = rng_range(0, 255);
        p.b_zero_point = rng_range(0, 255);
        p.y_zero_point = rng_range(0, 255);
        p.qmin = trial % 5 == 0 ? p.y_zero_point : 0; /* a fused Relu: max(y, z) */
        p.qmax = 255;
        qc_qmul_u8__scalar(n, a, b, &p, y);
        for (size_t i = 0; i < n; i++) {
            const int64_t t = ((int64_t)a[i] - p.a_zero_point) * ((int64_t)b[i] - p.b_zero_point);
            const double fixed = rint(ldexp((double)t * p.multiplier, -p.shift)) + p.y_zero_point;
            const int want_fixed = fixed < p.qmin ? p.qmin : fixed > p.qmax ? p.qmax : (int)fixed;
            ck_assert_msg(y[i] == want_fixed,
                          "qmul a=%d b=%d z=%d,%d,%d (m=%d S=%d): got %d, want %d", a[i], b[i],
                          p.a_zero_point, p.b_zero_point, p.y_zero_point, p.multiplier, p.shift,
                          y[i], want_fixed);
            const double v = (double)t * m;
            if (fabs(v - floor(v) - 0.5) <= fabs((double)t) * em + 1e-9 * (fabs(v) + 1))
                continue; /* at a tie within the multiplier's precision */
            const double r = rint(v) + p.y_zero_point;
            const int want = r < p.qmin ? p.qmin : r > p.qmax ? p.qmax : (int)r;
            ck_assert_msg(y[i] == want, "qmul ratio %a a=%d b=%d z=%d,%d,%d: got %d, want %d", m,
                          a[i], b[i], p.a_zero_point, p.b_zero_point, p.y_zero_point, y[i], want);
            checked++;
            unsaturated += want > p.qmin && want < p.qmax;
        }
    }
    ck_assert_int_gt(checked, 50000);
    ck_assert_int_gt(unsaturated * 4, checked);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kernels_int8");
    TCase *g = tcase_create("qgemm");
    tcase_set_timeout(g, 120);
    tcase_add_test(g, test_qgemm_swept_shapes_match_int64_reference);
    tcase_add_test(g, test_qgemm_k_blocks_and_column_blocks_match_reference);
    tcase_add_test(g, test_qgemm_amx_tile_edges_match_reference);
    tcase_add_test(g, test_qgemm_amx_extremes_and_zero_points);
    tcase_add_test(g, test_qgemm_amx_deferred_epilogue_across_blocks);
    tcase_add_test(g, test_qgemm_amx_epilogue_spread_over_steps);
    tcase_add_test(g, test_qgemm_amx_blocks_stored_from_tiles);
    tcase_add_test(g, test_qgemm_saturation_worst_cases_are_exact);
    tcase_add_test(g, test_qgemm_tile_edges_and_k_block_at_the_int16_extremes);
    tcase_add_test(g, test_qgemm_empty_sizes);
    tcase_add_test(g, test_qgemm_ukernel_avx2_equals_scalar);
    tcase_add_test(g, test_qgemm_packa_avx2_equals_scalar);
    tcase_add_test(g, test_qgemm_packa_reads_no_byte_past_the_row_and_matches_definition);
    tcase_add_test(g, test_qgemm_row_blocks_times_column_blocks_match_reference);
    tcase_add_test(g, test_qgemm_ukernel_avx512vnni_equals_definition);
    tcase_add_test(g, test_force_scalar_environment_variable);
    tcase_add_test(g, test_isa_environment_variable_caps_the_level);
    suite_add_tcase(s, g);
    TCase *r = tcase_create("requantize");
    tcase_set_timeout(r, 60);
    tcase_add_test(r, test_requantize_matches_exact_rounding);
    tcase_add_test(r, test_requantize_ties_round_to_even);
    tcase_add_test(r, test_requantize_extremes_saturate);
    tcase_add_test(r, test_requantize_per_column_wide_and_extremes_match_scalar_and_definition);
    tcase_add_test(r, test_requantize_per_column_double_path_edges);
    tcase_add_test(r, test_requantize_per_column_blocks_of_16_every_width_shift_and_stride);
    tcase_add_test(r, test_requantize_exact_for_multipliers_2e_minus20_to_2e20);
    tcase_add_test(r, test_requant_multiplier_refuses_what_it_cannot_represent);
    suite_add_tcase(s, r);
    TCase *q = tcase_create("quantize");
    tcase_set_timeout(q, 60);
    tcase_add_test(q, test_quantize_onnx_ties_and_saturation);
    tcase_add_test(q, test_quantize_per_channel_matches_reference);
    tcase_add_test(q, test_dequantize_matches_definition);
    suite_add_tcase(s, q);
    TCase *o = tcase_create("pool_add");
    tcase_set_timeout(o, 60);
    tcase_add_test(o, test_maxpool_matches_reference);
    tcase_add_test(o, test_maxpool_channels_last_matches_reference);
    tcase_add_test(o, test_global_avgpool_matches_reference);
    tcase_add_test(o, test_qadd_matches_reference);
    tcase_add_test(o, test_qadd_multipliers_exact_for_ratios_2e_minus20_to_2e20);
    tcase_add_test(o, test_qadd_multipliers_refuse_what_they_cannot_represent);
    tcase_add_test(o, test_global_avgpool_exact_for_ratios_2e_minus20_to_2e20);
    tcase_add_test(o, test_qmul_exact_for_ratios_2e_minus20_to_2e20);
    suite_add_tcase(s, o);
    TCase *cv = tcase_create("conv");
    tcase_set_timeout(cv, 60);
    tcase_add_test(cv, test_im2col_matches_definition);
    tcase_add_test(cv, test_grouped_conv_via_im2col_and_qgemm_matches_int64_reference);
    tcase_add_test(cv, test_pointwise_transpose_is_the_im2col_of_a_1x1_window);
    tcase_add_test(cv, test_dwconv_avx2_equals_scalar_equals_int64_reference);
    tcase_add_test(cv, test_every_kernel_table_is_complete_with_simd_depthwise);
    tcase_add_test(cv, test_dwconv_channels_last_avx2_equals_scalar_equals_int64_reference);
    tcase_add_test(cv, test_transpose_u8_avx2_and_scalar_match_definition);
    tcase_add_test(cv, test_transpose_u8_avx512_equals_scalar);
    tcase_add_test(cv, test_im2col_nhwc_wide_channels_match_definition);
    tcase_add_test(cv, test_dwconv_channels_last_wide_extremes_equal_int64_reference);
    tcase_add_test(cv, test_dwconv_channels_last_int8_weights_every_path_equals_int64_reference);
    tcase_add_test(cv, test_dwconv_channels_last_many_channels_equal_scalar);
    tcase_add_test(cv, test_dwconv_channels_last_avx2_rows_and_wide_windows_equal_scalar);
    tcase_add_test(cv, test_dwconv_channels_last_avx2_3x3_rows_every_width_equal_scalar);
    suite_add_tcase(s, cv);
    return s;
}

int main(void)
{
    return qc_check_run("check_kernels_int8", suite());
}
