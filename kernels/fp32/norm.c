/* norm.c — LayerNormalization, InstanceNormalization, GroupNormalization: statistics in
 * double over each normalized group, then one scale and shift per element. */
#include "fp32.h"

#include <math.h>

/* Mean and 1 / sqrt(variance + epsilon) of n values, two passes in double. */
static void row_stats(int64_t n, const float *x, float epsilon, double *mean, double *inv_std)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += x[i];
    double m = n ? sum / (double)n : 0.0, sq = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = x[i] - m;
        sq += d * d;
    }
    *mean = m;
    *inv_std = 1.0 / sqrt((n ? sq / (double)n : 0.0) + (double)epsilon);
}

void qc_f32_layernorm(int64_t rows, int64_t size, const float *x, const float *scale,
                      int64_t scale_step, const float *bias, int64_t bias_step, float epsilon,
                      float *y, float *mean, float *inv_std)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * size;
        float *yr = y + r * size;
        double m, inv;
        row_stats(size, xr, epsilon, &m, &inv);
        for (int64_t i = 0; i < size; i++) {
            double v = (xr[i] - m) * inv * scale[i * scale_step];
            yr[i] = (float)(bias ? v + bias[i * bias_step] : v);
        }
        if (mean)
            mean[r] = (float)m;
        if (inv_std)
            inv_std[r] = (float)inv;
    }
}

void qc_f32_groupnorm(int64_t batch, int64_t channels, int64_t groups, int64_t plane,
                      const float *x, const float *scale, const float *bias, bool per_group,
                      float epsilon, float *y)
{
    int64_t group_channels = channels / groups, group_size = group_channels * plane;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t g = 0; g < groups; g++) {
            int64_t start = (b * groups + g) * group_size;
            double m, inv;
            row_stats(group_size, x + start, epsilon, &m, &inv);
            for (int64_t c = 0; c < group_channels; c++) {
                int64_t p = per_group ? g : g * group_channels + c;
                double gain = inv * scale[p], shift = bias[p] - m * gain;
                const float *xc = x + start + c * plane;
                float *yc = y + start + c * plane;
                for (int64_t i = 0; i < plane; i++)
                    yc[i] = (float)(xc[i] * gain + shift);
            }
        }
}
