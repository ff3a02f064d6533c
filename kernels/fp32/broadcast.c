/* broadcast.c — the numpy-broadcasting walk that the elementwise kernels of several operands
 * share: binary arithmetic, comparisons, logic, Pow, PRelu, Where. */
#include "fp32-impl.h"

/* Element strides of an operand of rank r aligned to the output's rank: 0 along dimensions it
 * broadcasts (size 1, or missing on the left). */
static void broadcast_strides(int rank, const int64_t *dims, int y_rank, int64_t *strides)
{
    int64_t step = 1;
    for (int d = y_rank - 1; d >= 0; d--) {
        int src = d - (y_rank - rank);
        int64_t size = src >= 0 ? dims[src] : 1;
        strides[d] = size == 1 ? 0 : step;
        step *= size;
    }
}

void qc_f32_broadcast_walk(const qc_f32_operands *ops, void *y, size_t y_size, int y_rank,
                           const int64_t *y_dims, qc_f32_row_fn row, const void *ctx)
{
    int count = ops->count;
    int64_t str[QC_F32_MAX_OPERANDS][QC_F32_MAX_RANK];
    for (int k = 0; k < count; k++)
        broadcast_strides(ops->rank[k], ops->dims[k], y_rank, str[k]);

    /* Drop dimensions of size 1 and merge neighbours that every operand walks the same way
     * (contiguous across them, or broadcast), so that the inner loop is as long as possible:
     * [8,16,32] + [32] becomes a 128 x 32 walk, [8,16,32] + [8,16,32] one row. */
    int64_t dims[QC_F32_MAX_RANK], st[QC_F32_MAX_OPERANDS][QC_F32_MAX_RANK];
    int rank = 0;
    for (int d = 0; d < y_rank; d++) {
        if (y_dims[d] == 0)
            return;
        if (y_dims[d] == 1)
            continue;
        bool merge = rank > 0;
        for (int k = 0; k < count && merge; k++)
            merge = st[k][rank - 1] == str[k][d] * y_dims[d];
        if (merge) {
            dims[rank - 1] *= y_dims[d];
            for (int k = 0; k < count; k++)
                st[k][rank - 1] = str[k][d];
            continue;
        }
        dims[rank] = y_dims[d];
        for (int k = 0; k < count; k++)
            st[k][rank] = str[k][d];
        rank++;
    }
    const char *src[QC_F32_MAX_OPERANDS];
    int64_t step[QC_F32_MAX_OPERANDS];
    if (rank == 0) {
        for (int k = 0; k < count; k++) {
            src[k] = ops->data[k];
            step[k] = 0;
        }
        row(ctx, 1, src, step, y);
        return;
    }

    int64_t n = dims[rank - 1];
    int64_t outer = 1;
    for (int d = 0; d < rank - 1; d++)
        outer *= dims[d];
    for (int k = 0; k < count; k++)
        step[k] = st[k][rank - 1];
    int64_t index[QC_F32_MAX_RANK] = {0};
    int64_t off[QC_F32_MAX_OPERANDS] = {0};
    char *yb = y;
    for (int64_t o = 0; o < outer; o++) {
        for (int k = 0; k < count; k++)
            src[k] = (const char *)ops->data[k] + (size_t)off[k] * ops->size[k];
        row(ctx, n, src, step, yb + (size_t)(o * n) * y_size);
        for (int d = rank - 2; d >= 0; d--) {
            for (int k = 0; k < count; k++)
                off[k] += st[k][d];
            if (++index[d] < dims[d])
                break;
            for (int k = 0; k < count; k++)
                off[k] -= st[k][d] * dims[d];
            index[d] = 0;
        }
    }
}

size_t qc_f32_elem_size(qc_f32_elem type)
{
    switch (type) {
    case QC_F32_ELEM_UINT8:
    case QC_F32_ELEM_INT8:
        return 1;
    case QC_F32_ELEM_INT32:
    case QC_F32_ELEM_FLOAT:
        return 4;
    case QC_F32_ELEM_INT64:
        return 8;
    }
    return 4;
}
