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

#endif
