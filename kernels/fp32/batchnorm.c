/* batchnorm.c — inference batch normalization with the stored mean and variance. */
#include "fp32.h"

#include <math.h>

void qc_f32_batchnorm(int64_t batch, int64_t channels, int64_t plane, const float *x,
                      const float *scale, const float *bias, const float *mean, const float *var,
                      float epsilon, float *y)
{
    for (int64_t n = 0; n < batch; n++)
        for (int64_t c = 0; c < channels; c++) {
            /* (x - mean) * gain + bias rather than x * gain + (bias - mean * gain): the
             * subtraction is exact for x near the mean, where the folded form cancels. */
            float gain = scale[c] / sqrtf(var[c] + epsilon);
            float m = mean[c], b = bias[c];
            const float *xc = x + (n * channels + c) * plane;
            float *yc = y + (n * channels + c) * plane;
            for (int64_t i = 0; i < plane; i++)
                yc[i] = (xc[i] - m) * gain + b;
        }
}
