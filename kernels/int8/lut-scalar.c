/* lut-scalar.c — reference 8-bit table lookup (QLinearSigmoid and the other elementwise
 * activations on codes, eq. L1); defines the bits. */
#include "int8-impl.h"

void qc_lut_u8__scalar(size_t n, const uint8_t *x, const uint8_t table[256], uint8_t *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = table[x[i]];
}
