/* dispatch.c — fills the INT8 kernel table once: AVX2 if present, unless QCAL_FORCE_SCALAR. */
#include "int8-impl.h"
#include "dwconv-impl.h"

#include <cpuid.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const qc_int8_table scalar_table = {
    "scalar",
    qc_q8gemm_packa_6x16c4__scalar,
    qc_q8gemm_ukernel_6x16c4__scalar,
    qc_requantize_u8__scalar,
    qc_requantize_s8__scalar,
    qc_quantize_u8__scalar,
    qc_quantize_s8__scalar,
    qc_dequantize_u8__scalar,
    qc_dequantize_s8__scalar,
    qc_dequantize_s32__scalar,
    qc_maxpool_u8__scalar,
    qc_global_avgpool_u8__scalar,
    qc_qadd_u8__scalar,
    qc_transpose_u8__scalar,
};

static const qc_int8_table avx2_table = {
    "avx2",
    qc_q8gemm_packa_6x16c4__avx2,
    qc_q8gemm_ukernel_6x16c4__avx2,
    qc_requantize_u8__avx2_cols,
    qc_requantize_s8__avx2_cols,
    qc_quantize_u8__avx2,
    qc_quantize_s8__avx2,
    qc_dequantize_u8__avx2,
    qc_dequantize_s8__avx2,
    qc_dequantize_s32__avx2,
    qc_maxpool_u8__avx2,
    qc_global_avgpool_u8__avx2,
    qc_qadd_u8__avx2,
    qc_transpose_u8__avx2,
};

/* the AVX2 table with the qgemm micro-kernel on AVX-VNNI dot products (same packing, same
 * bits); its isa stays "avx2": every other kernel is the AVX2 one */
static const qc_int8_table avxvnni_table = {
    "avx2",
    qc_q8gemm_packa_6x16c4__avx2,
    qc_q8gemm_ukernel_6x16c4__avxvnni,
    qc_requantize_u8__avx2_cols,
    qc_requantize_s8__avx2_cols,
    qc_quantize_u8__avx2,
    qc_quantize_s8__avx2,
    qc_dequantize_u8__avx2,
    qc_dequantize_s8__avx2,
    qc_dequantize_s32__avx2,
    qc_maxpool_u8__avx2,
    qc_global_avgpool_u8__avx2,
    qc_qadd_u8__avx2,
    qc_transpose_u8__avx2,
};

/* the AVX2 table with the qgemm on 512-bit AVX512-VNNI dot products (its own A packing, the
 * same packed B, the same bits) */
static const qc_int8_table avx512vnni_table = {
    "avx2",
    qc_q8gemm_packa_6x16c4__avx512vnni,
    qc_q8gemm_ukernel_6x16c4__avx512vnni,
    qc_requantize_u8__avx2_cols,
    qc_requantize_s8__avx2_cols,
    qc_quantize_u8__avx2,
    qc_quantize_s8__avx2,
    qc_dequantize_u8__avx2,
    qc_dequantize_s8__avx2,
    qc_dequantize_s32__avx2,
    qc_maxpool_u8__avx2,
    qc_global_avgpool_u8__avx2,
    qc_qadd_u8__avx2,
    qc_transpose_u8__avx2,
};

static const qc_int8_table *table = &scalar_table;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int have_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}

/* AVX-VNNI is CPUID leaf 7, subleaf 1, EAX bit 4, read directly: not every compiler's
 * __builtin_cpu_supports knows its name (clang 14 does not). The OS saves the YMM state
 * whenever AVX2 is reported usable. */
static int have_avxvnni(void)
{
    unsigned eax, ebx, ecx, edx;
    if (!have_avx2() || !__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx))
        return 0;
    return (eax >> 4) & 1;
}

/* __builtin_cpu_supports checks that the OS saves the ZMM and mask state too */
static int have_avx512vnni(void)
{
    return have_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

static void init(void)
{
    const char *force = getenv("QCAL_FORCE_SCALAR");
    const int forced = force != NULL && force[0] != '\0' && strcmp(force, "0") != 0;
    table = forced              ? &scalar_table
            : have_avx512vnni() ? &avx512vnni_table
            : have_avxvnni()    ? &avxvnni_table
            : have_avx2()    ? &avx2_table
                             : &scalar_table;
}

const qc_int8_table *qc_int8_kernels(void)
{
    pthread_once(&once, init);
    return table;
}

int qc_int8_select(int isa)
{
    pthread_once(&once, init);
    if (isa == QC_INT8_ISA_SCALAR) {
        table = &scalar_table;
        return 0;
    }
    if (isa == QC_INT8_ISA_AVX2 && have_avx2()) {
        table = &avx2_table;
        return 0;
    }
    if (isa == QC_INT8_ISA_AVXVNNI && have_avxvnni()) {
        table = &avxvnni_table;
        return 0;
    }
    if (isa == QC_INT8_ISA_AVX512VNNI && have_avx512vnni()) {
        table = &avx512vnni_table;
        return 0;
    }
    return -1;
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

/* The depthwise kernels live outside the shared table; they follow its choice. */
void qc_dwconv_u8s8(size_t channels, const qc_pool2d *p, const uint8_t *x, int32_t x_zero_point,
                    const int8_t *w, const int32_t *w_zero_point, int32_t *acc)
{
    const qc_dwconv_u8s8_fn fn =
        strcmp(qc_int8_kernels()->isa, "avx2") == 0 ? qc_dwconv_u8s8__avx2 : qc_dwconv_u8s8__scalar;
    fn(channels, p, x, x_zero_point, w, w_zero_point, acc);
}

void qc_dwconv_nhwc_u8s8(size_t channels, const qc_pool2d *p, const uint8_t *x,
                         int32_t x_zero_point, const int8_t *w, const int32_t *w_zero_point,
                         int32_t *acc)
{
    const qc_dwconv_nhwc_u8s8_fn fn = strcmp(qc_int8_kernels()->isa, "avx2") == 0
                                          ? qc_dwconv_nhwc_u8s8__avx2
                                          : qc_dwconv_nhwc_u8s8__scalar;
    fn(channels, p, x, x_zero_point, w, w_zero_point, acc);
}
