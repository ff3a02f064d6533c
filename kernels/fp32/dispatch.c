/* dispatch.c — the FP32 kernel tables with SIMD twins, one per instruction set, and the choice
 * of one, once (the widest the CPU runs, qc_cpu_isa; the scalar references under
 * QCAL_FORCE_SCALAR). Every table gives the same bits. */
#include "fp32-impl.h"

#include <pthread.h>

#include "../kernels.h" /* qc_isa, the CPU's instruction sets */

static const qc_f32_table scalar_table = {
    .isa = "scalar",
    .dwconv_rows = qc_f32_dwconv_rows__scalar,
    .dwconv_plane = qc_f32_dwconv_plane__scalar,
    .relu = qc_f32_relu__scalar,
    .clip = qc_f32_clip__scalar,
    .maxpool_row = qc_f32_maxpool_row__scalar,
    .im2col_panel = qc_f32_im2col_panel__scalar,
    .add_bias = qc_f32_add_bias__scalar,
    .gemm_tile = qc_f32_gemm_tile__scalar,
};

static const qc_f32_table avx2_table = {
    .isa = "avx2",
    .dwconv_rows = qc_f32_dwconv_rows__avx2,
    .dwconv_plane = qc_f32_dwconv_plane__avx2,
    .relu = qc_f32_relu__avx2,
    .clip = qc_f32_clip__avx2,
    .maxpool_row = qc_f32_maxpool_row__avx2,
    .im2col_panel = qc_f32_im2col_panel__avx2,
    .add_bias = qc_f32_add_bias__avx2,
    .gemm_tile = qc_f32_gemm_tile__avx2,
    .gemm_narrow = qc_f32_gemm_narrow__avx2,
};

static const qc_f32_table avx512_table = {
    .isa = "avx512",
    .dwconv_rows = qc_f32_dwconv_rows__avx512,
    .relu = qc_f32_relu__avx512,
    .clip = qc_f32_clip__avx512,
    .maxpool_row = qc_f32_maxpool_row__avx512,
    .im2col_panel = qc_f32_im2col_panel__avx2, /* no 16-lane twin: AVX-512 CPUs run AVX2 */
    .add_bias = qc_f32_add_bias__avx512,
    .gemm_tile = qc_f32_gemm_tile__avx512,
};

/* AVX-VNNI adds nothing for floats; the AVX512-VNNI level includes AVX512 F, BW and VL */
static const qc_f32_table *const tables[QC_ISA_COUNT] = {
    [QC_ISA_SCALAR] = &scalar_table,     [QC_ISA_AVX2] = &avx2_table,
    [QC_ISA_AVXVNNI] = &avx2_table,      [QC_ISA_AVX512VNNI] = &avx512_table,
    [QC_ISA_AMX] = &avx512_table,
};

static const qc_f32_table *table = &scalar_table;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
    table = tables[qc_cpu_isa()];
}

const qc_f32_table *qc_f32_kernels(void)
{
    pthread_once(&once, init);
    return table;
}

int qc_f32_select(int isa)
{
    pthread_once(&once, init);
    if (isa < 0 || isa >= QC_ISA_COUNT || !qc_cpu_has((qc_isa)isa))
        return -1;
    table = tables[isa];
    return 0;
}

const char *qc_f32_isa(void)
{
    return qc_f32_kernels()->isa;
}
