/* kernels.h — qcal's compute kernels: pure functions over buffers, no I/O, no graph.
 * FP32 kernels (kernels/fp32/) serve the reference FP32 executor. */
#ifndef QCAL_KERNELS_H
#define QCAL_KERNELS_H

#include "fp32/fp32.h"

#endif
