/* softmax.c — softmax along one dimension, the maximum subtracted first. */
#include "fp32.h"

#include <math.h>

/* The largest of n values spaced inner apart (-inf when n is 0). */
static float strided_max(int64_t n, int64_t inner, const float *x)
{
    float max = -INFINITY;
    for (int64_t j = 0; j < n; j++)
        max = x[j * inner] > max ? x[j * inner] : max;
    return max;
}

void qc_f32_softmax(int64_t outer, int64_t axis_size, int64_t inner, const float *x, float *y)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *xr = x + o * axis_size * inner + i;
            float *yr = y + o * axis_size * inner + i;
            /* exp(x - max) <= 1, so nothing overflows and the largest term is exactly 1. */
            float max = strided_max(axis_size, inner, xr);
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

void qc_f32_log_softmax(int64_t outer, int64_t axis_size, int64_t inner, const float *x,
                        float *y)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *xr = x + o * axis_size * inner + i;
            float *yr = y + o * axis_size * inner + i;
            float max = strided_max(axis_size, inner, xr);
            double sum = 0.0;
            for (int64_t j = 0; j < axis_size; j++)
                sum += exp((double)xr[j * inner] - max);
            /* sum >= 1 (the maximum's term), so the log is finite */
            double log_sum = log(sum);
            for (int64_t j = 0; j < axis_size; j++)
                yr[j * inner] = (float)((double)xr[j * inner] - max - log_sum);
        }
}

void qc_f32_hardmax(int64_t outer, int64_t axis_size, int64_t inner, const float *x, float *y)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *xr = x + o * axis_size * inner + i;
            float *yr = y + o * axis_size * inner + i;
            int64_t best = 0;
            for (int64_t j = 1; j < axis_size; j++)
                if (xr[j * inner] > xr[best * inner])
                    best = j;
            for (int64_t j = 0; j < axis_size; j++)
                yr[j * inner] = j == best ? 1.0f : 0.0f;
        }
}
