/* dispatch.c — the INT8 kernel tables, one per instruction set, and the choice of one, once
 * (the widest the CPU runs, qc_cpu_isa; the scalar references under QCAL_FORCE_SCALAR). */
#include "int8-impl.h"

#include <pthread.h>

/* The kernels every SIMD table shares: AVX2 (requantization, the transpose, the
 * channels-last depthwise and qadd apart) */
#define QC_INT8_SIMD_SHARED                                                                    \
    .quantize_u8 = qc_quantize_u8__avx2, .quantize_s8 = qc_quantize_s8__avx2,                  \
    .dequantize_u8 = qc_dequantize_u8__avx2, .dequantize_s8 = qc_dequantize_s8__avx2,          \
    .dequantize_s32 = qc_dequantize_s32__avx2, .maxpool_u8 = qc_maxpool_u8__avx2,              \
    .maxpool_cl_u8 = qc_maxpool_cl_u8__avx2,                                                   \
    .global_avgpool_u8 = qc_global_avgpool_u8__avx2, .dwconv_u8s8 = qc_dwconv_u8s8__avx2
#define QC_INT8_AVX2_COMMON                                                                    \
    .transpose_u8 = qc_transpose_u8__avx2, .dwconv_nhwc_u8s8 = qc_dwconv_nhwc_u8s8__avx2,      \
    .qadd_u8 = qc_qadd_u8__avx2, QC_INT8_SIMD_SHARED

/* The AVX512-VNNI table's kernels, AMX's too (its micro-kernel serves qc_q8gemm_pack's
 * layout; AMX replaces the driver around it) */
#define QC_INT8_AVX512_COMMON                                                                  \
    .q8gemm_packa = qc_q8gemm_packa_12x32c4__avx512vnni,                                       \
    .q8gemm_ukernel = qc_q8gemm_ukernel_12x32c4__avx512vnni, .q8gemm_mr = QC_Q8GEMM_MR512,     \
    .q8gemm_nr = 2 * QC_Q8GEMM_NR, .q8gemm_a_offset = 0, .q8gemm_direct_a = 1,                 \
    .requantize_u8 = qc_requantize_u8__avx512_cols,                                            \
    .requantize_s8 = qc_requantize_s8__avx512_cols, .transpose_u8 = qc_transpose_u8__avx512,   \
    .dwconv_nhwc_u8s8 = qc_dwconv_nhwc_u8s8__avx512vnni, .qadd_u8 = qc_qadd_u8__avx512,        \
    QC_INT8_SIMD_SHARED

/* One table per instruction set; AVX-VNNI differs from AVX2 only in the qgemm, the AVX-512
 * ones in the kernels named above (the same packed B, the same bits). isa names the table in use for reports and benchmarks. */
static const qc_int8_table tables[QC_ISA_COUNT] = {
    [QC_ISA_SCALAR] =
        {
            .isa = "scalar",
            .q8gemm_packa = qc_q8gemm_packa_6x16c4__scalar,
            .q8gemm_ukernel = qc_q8gemm_ukernel_6x16c4__scalar,
            .q8gemm_mr = QC_Q8GEMM_MR,
            .q8gemm_nr = QC_Q8GEMM_NR,
            .q8gemm_a_offset = 128,
            .requantize_u8 = qc_requantize_u8__scalar,
            .requantize_s8 = qc_requantize_s8__scalar,
            .quantize_u8 = qc_quantize_u8__scalar,
            .quantize_s8 = qc_quantize_s8__scalar,
            .dequantize_u8 = qc_dequantize_u8__scalar,
            .dequantize_s8 = qc_dequantize_s8__scalar,
            .dequantize_s32 = qc_dequantize_s32__scalar,
            .maxpool_u8 = qc_maxpool_u8__scalar,
            .maxpool_cl_u8 = qc_maxpool_cl_u8__scalar,
            .global_avgpool_u8 = qc_global_avgpool_u8__scalar,
            .qadd_u8 = qc_qadd_u8__scalar,
            .transpose_u8 = qc_transpose_u8__scalar,
            .dwconv_u8s8 = qc_dwconv_u8s8__scalar,
            .dwconv_nhwc_u8s8 = qc_dwconv_nhwc_u8s8__scalar,
        },
    [QC_ISA_AVX2] =
        {
            .isa = "avx2",
            .q8gemm_packa = qc_q8gemm_packa_6x16c4__avx2,
            .q8gemm_ukernel = qc_q8gemm_ukernel_6x16c4__avx2,
            .q8gemm_mr = QC_Q8GEMM_MR,
            .q8gemm_nr = 2 * QC_Q8GEMM_NR,
            .q8gemm_a_offset = 128,
            .requantize_u8 = qc_requantize_u8__avx2_cols,
            .requantize_s8 = qc_requantize_s8__avx2_cols,
            QC_INT8_AVX2_COMMON,
        },
    [QC_ISA_AVXVNNI] =
        {
            .isa = "avxvnni",
            .q8gemm_packa = qc_q8gemm_packa_6x16c4__avx2,
            .q8gemm_ukernel = qc_q8gemm_ukernel_6x16c4__avxvnni,
            .q8gemm_mr = QC_Q8GEMM_MR,
            .q8gemm_nr = QC_Q8GEMM_NR,
            .q8gemm_a_offset = 128,
            .requantize_u8 = qc_requantize_u8__avx2_cols,
            .requantize_s8 = qc_requantize_s8__avx2_cols,
            QC_INT8_AVX2_COMMON,
        },
    [QC_ISA_AVX512VNNI] = {.isa = "avx512vnni", QC_INT8_AVX512_COMMON},
    /* the AVX512-VNNI table with the whole qgemm on AMX tiles */
    [QC_ISA_AMX] = {.isa = "amx", .q8gemm = qc_q8gemm__amx, QC_INT8_AVX512_COMMON},
};

static const qc_int8_table *table = &tables[QC_ISA_SCALAR];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
    table = &tables[qc_cpu_isa()];
}

const qc_int8_table *qc_int8_kernels(void)
{
    pthread_once(&once, init);
    return table;
}

int qc_int8_select(int isa)
{
    pthread_once(&once, init);
    if (isa < 0 || isa >= QC_ISA_COUNT || !qc_cpu_has((qc_isa)isa))
        return -1;
    table = &tables[isa];
    return 0;
}

const char *qc_int8_isa(void)
{
    return qc_int8_kernels()->isa;
}

void qc_requantize_u8(size_t m, size_t n, const int32_t *acc, size_t acc_stride,
                      const int32_t *bias, const qc_requant *rq, uint8_t *y, size_t y_stride)
{
    qc_int8_kernels()->requantize_u8(m, n, acc, acc_stride, bias, rq, y, y_stride);
}

void qc_requantize_s8(size_t m, size_t n, const int32_t *acc, size_t acc_stride,
                      const int32_t *bias, const qc_requant *rq, int8_t *y, size_t y_stride)
{
    qc_int8_kernels()->requantize_s8(m, n, acc, acc_stride, bias, rq, y, y_stride);
}

void qc_quantize_u8(size_t outer, size_t channels, size_t inner, const float *x,
                    const qc_quant *q, uint8_t *y)
{
    qc_int8_kernels()->quantize_u8(outer, channels, inner, x, q, y);
}

void qc_quantize_s8(size_t outer, size_t channels, size_t inner, const float *x,
                    const qc_quant *q, int8_t *y)
{
    qc_int8_kernels()->quantize_s8(outer, channels, inner, x, q, y);
}

void qc_dequantize_u8(size_t outer, size_t channels, size_t inner, const uint8_t *x,
                      const float *scale, const int32_t *zero_point, float *y)
{
    qc_int8_kernels()->dequantize_u8(outer, channels, inner, x, scale, zero_point, y);
}

void qc_dequantize_s8(size_t outer, size_t channels, size_t inner, const int8_t *x,
                      const float *scale, const int32_t *zero_point, float *y)
{
    qc_int8_kernels()->dequantize_s8(outer, channels, inner, x, scale, zero_point, y);
}

void qc_dequantize_s32(size_t outer, size_t channels, size_t inner, const int32_t *x,
                       const float *scale, const int32_t *zero_point, float *y)
{
    qc_int8_kernels()->dequantize_s32(outer, channels, inner, x, scale, zero_point, y);
}

void qc_maxpool_u8(size_t planes, const qc_pool2d *p, const uint8_t *x, uint8_t *y)
{
    qc_int8_kernels()->maxpool_u8(planes, p, x, y);
}

void qc_maxpool_cl_u8(size_t images, size_t channels, const qc_pool2d *p, const uint8_t *x,
                      uint8_t *y)
{
    qc_int8_kernels()->maxpool_cl_u8(images, channels, p, x, y);
}

void qc_global_avgpool_u8(size_t planes, size_t n, const uint8_t *x, const qc_gavgpool *p,
                          uint8_t *y)
{
    qc_int8_kernels()->global_avgpool_u8(planes, n, x, p, y);
}

void qc_qadd_u8(size_t n, const uint8_t *a, const uint8_t *b, const qc_qadd *p, uint8_t *y)
{
    qc_int8_kernels()->qadd_u8(n, a, b, p, y);
}

void qc_transpose_u8(size_t rows, size_t cols, const uint8_t *x, size_t x_stride, uint8_t *y,
                     size_t y_stride)
{
    qc_int8_kernels()->transpose_u8(rows, cols, x, x_stride, y, y_stride);
}

void qc_dwconv_u8s8(size_t channels, const qc_pool2d *p, const uint8_t *x, int32_t x_zero_point,
                    const int8_t *w, const int32_t *w_zero_point, int32_t *acc)
{
    qc_int8_kernels()->dwconv_u8s8(channels, p, x, x_zero_point, w, w_zero_point, acc);
}

void qc_dwconv_nhwc_u8s8(const qc_dwconv_weights *dw, const qc_pool2d *p, const uint8_t *x,
                         int32_t x_zero_point, int32_t *acc)
{
    qc_int8_kernels()->dwconv_nhwc_u8s8(dw, p, x, x_zero_point, acc);
}
