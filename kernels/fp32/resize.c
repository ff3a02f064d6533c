/* resize.c — one axis of a separable resize: a small weighted gather per output index. */
#include "fp32-impl.h"

void qc_f32_resize_axis(const float *x, float *y, int64_t outer, int64_t in_len, int64_t out_len,
                        int64_t inner, int taps, const int64_t *index, const float *weight,
                        float fill)
{
    for (int64_t o = 0; o < outer; o++) {
        const float *xo = x + o * in_len * inner;
        for (int64_t j = 0; j < out_len; j++) {
            float *row = y + (o * out_len + j) * inner;
            const int64_t *idx = index + j * taps;
            const float *w = weight + j * taps;
            if (idx[0] < 0) {
                for (int64_t i = 0; i < inner; i++)
                    row[i] = fill;
                continue;
            }
            for (int64_t i = 0; i < inner; i++) {
                float sum = 0;
                for (int t = 0; t < taps; t++)
                    sum += w[t] * xo[idx[t] * inner + i];
                row[i] = sum;
            }
        }
    }
}
