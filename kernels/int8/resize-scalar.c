/* resize-scalar.c — nearest-neighbour resizing of one axis of 8-bit codes: a copy of rows, so
 * exactly what the float resize gives for the dequantized values, quantized back. */
#include <string.h>

#include "int8-impl.h"

void qc_resize_nearest_axis_u8(const uint8_t *x, uint8_t *y, int64_t outer, int64_t in_len,
                               int64_t out_len, int64_t inner, const int64_t *index)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < out_len; j++)
            memcpy(y + (o * out_len + j) * inner, x + (o * in_len + index[j]) * inner, (size_t)inner);
}
