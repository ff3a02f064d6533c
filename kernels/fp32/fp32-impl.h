/* fp32-impl.h — private to kernels/fp32/: the window geometry convolution and pooling share. */
#ifndef QCAL_KERNELS_FP32_IMPL_H
#define QCAL_KERNELS_FP32_IMPL_H

#include "fp32.h"

/* The window with 1 to 3 spatial dimensions seen as exactly 3: leading dimensions of size 1
 * (kernel 1, stride 1, no padding) change no result and let one loop nest serve every rank. */
typedef struct {
    int64_t in[3], out[3], kernel[3], stride[3], dilation[3], pad[3], pad_end[3];
    int64_t in_plane, out_plane, taps; /* products of in, out, kernel */
} window3;

window3 qc_f32_window3(const qc_f32_window *w);

/* Operands of a broadcasting elementwise kernel (broadcast.c): up to three, each with its
 * own rank, dims and element size. */
#define QC_F32_MAX_OPERANDS 3
typedef struct {
    int count;
    const void *data[QC_F32_MAX_OPERANDS];
    int rank[QC_F32_MAX_OPERANDS];
    const int64_t *dims[QC_F32_MAX_OPERANDS];
    size_t size[QC_F32_MAX_OPERANDS];
} qc_f32_operands;

/* Computes n outputs at y from the operands at src[k], each advancing step[k] elements (0
 * when it broadcasts along the row, else 1). */
typedef void (*qc_f32_row_fn)(const void *ctx, int64_t n, const char *const *src,
                              const int64_t *step, void *y);

/* Walks y (y_rank dims, elements of y_size bytes) row by row, calling row on the operands
 * broadcast numpy-style to y_dims (a shape each operand broadcasts to). */
void qc_f32_broadcast_walk(const qc_f32_operands *ops, void *y, size_t y_size, int y_rank,
                           const int64_t *y_dims, qc_f32_row_fn row, const void *ctx);

size_t qc_f32_elem_size(qc_f32_elem type);

#endif
