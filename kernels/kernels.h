/* kernels.h — qcal's compute kernels: pure functions over buffers, no I/O, no graph.
 * FP32 kernels (kernels/fp32/) serve the reference FP32 executor; INT8 kernels
 * (kernels/int8/) are qcal's own, each with a scalar reference and an AVX2 twin. */
#ifndef QCAL_KERNELS_H
#define QCAL_KERNELS_H

#include "fp32/fp32.h"
#include "int8/int8.h"

#endif
