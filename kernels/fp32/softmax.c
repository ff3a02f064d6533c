/* softmax.c — softmax along one dimension, the maximum subtracted first. */
#include "fp32.h"

#include <math.h>

void qc_f32_softmax(int64_t outer, int64_t axis_size, int64_t inner, const float *x, float *y)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *xr = x + o * axis_size * inner + i;
            float *yr = y + o * axis_size * inner + i;
            /* exp(x - max) <= 1, so nothing overflows and the largest term is exactly 1. */
            float max = -INFINITY;
            for (int64_t j = 0; j < axis_size; j++)
                max = xr[j * inner] > max ? xr[j * inner] : max;
            double sum = 0.0;
            for (int64_t j = 0; j < axis_size; j++) {
                float e = expf(xr[j * inner] - max);
                yr[j * inner] = e;
                sum += e;
            }
            for (int64_t j = 0; j < axis_size; j++)
                yr[j * inner] = (float)(yr[j * inner] / sum);
        }
}
