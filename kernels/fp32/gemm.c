/* gemm.c — ONNX Gemm and MatMul through OpenBLAS, one output row per BLAS call. */
#include "fp32.h"

#include <cblas.h>
#include <string.h>

/* y[n] += alpha * a[k] x op(b). One call per row: a BLAS GEMM may pick its blocking (and so
 * its summation order) from the number of rows, which would make a row's result depend on the
 * batch size; a row on its own does not. */
static void row_times_matrix(int64_t n, int64_t k, bool trans_b, float alpha, const float *a,
                             const float *b, float *y)
{
    if (trans_b) /* b is n x k: y += alpha * b . a */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)k, alpha, b, (int)k, a, 1, 1.0f, y,
                    1);
    else /* b is k x n: y += alpha * b^T . a */
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)k, (int)n, alpha, b, (int)n, a, 1, 1.0f, y, 1);
}

size_t qc_f32_gemm_scratch_size(int64_t k, bool trans_a)
{
    return trans_a && k > 0 ? (size_t)k * sizeof(float) : 0;
}

void qc_f32_gemm(int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b, float alpha,
                 const float *a, const float *b, float beta, const float *c, int64_t c_rows,
                 int64_t c_cols, float *y, void *scratch)
{
    if (m <= 0 || n <= 0)
        return;
    for (int64_t i = 0; i < m; i++) {
        float *yi = y + i * n;
        if (c) {
            /* beta * c even when beta is 0, as ONNX's reference does (0 * inf is NaN). */
            const float *ci = c + (c_rows == 1 ? 0 : i * c_cols);
            for (int64_t j = 0; j < n; j++)
                yi[j] = beta * ci[c_cols == 1 ? 0 : j];
        } else {
            memset(yi, 0, (size_t)n * sizeof(float));
        }
        if (k <= 0)
            continue;
        const float *ai = a + i * k;
        if (trans_a) {
            /* Row i of op(A) is column i of A, m elements apart. OpenBLAS's GEMV walks a
             * strided vector in another order than a contiguous one, so with the stride
             * (the batch size) the rounding would change: gather it first. */
            float *column = scratch;
            for (int64_t t = 0; t < k; t++)
                column[t] = a[t * m + i];
            ai = column;
        }
        row_times_matrix(n, k, trans_b, alpha, ai, b, yi);
    }
}

void qc_f32_matmul(int batch_rank, const int64_t *batch_dims, const int64_t *a_batch_stride,
                   const int64_t *b_batch_stride, int64_t m, int64_t n, int64_t k, const float *a,
                   const float *b, float *y)
{
    int64_t batches = 1;
    for (int d = 0; d < batch_rank; d++)
        batches *= batch_dims[d];
    if (batches <= 0 || m <= 0 || n <= 0)
        return;
    int64_t index[QC_F32_MAX_RANK] = {0};
    int64_t a_off = 0, b_off = 0;
    for (int64_t t = 0; t < batches; t++) {
        float *yt = y + t * m * n;
        memset(yt, 0, (size_t)(m * n) * sizeof(float));
        if (k > 0)
            for (int64_t i = 0; i < m; i++)
                row_times_matrix(n, k, false, 1.0f, a + a_off + i * k, b + b_off, yt + i * n);
        /* Next batch index, row-major, moving the operands' offsets along. */
        for (int d = batch_rank - 1; d >= 0; d--) {
            a_off += a_batch_stride[d];
            b_off += b_batch_stride[d];
            if (++index[d] < batch_dims[d])
                break;
            a_off -= a_batch_stride[d] * batch_dims[d];
            b_off -= b_batch_stride[d] * batch_dims[d];
            index[d] = 0;
        }
    }
}
