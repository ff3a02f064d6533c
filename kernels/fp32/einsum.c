/* einsum.c — Einsum as one loop nest over its letters: the output's letters outside, the
 * summed ones inside, every product accumulated in double. */
#include "fp32.h"

/* Advances a row-major odometer over count letters; false when it wraps around. */
static bool next_index(int count, const int *letters, const int64_t *sizes, int64_t *index)
{
    for (int i = count - 1; i >= 0; i--) {
        if (++index[letters[i]] < sizes[letters[i]])
            return true;
        index[letters[i]] = 0;
    }
    return false;
}

static int64_t offset_of(const qc_f32_einsum_operand *op, int n_letters, const int64_t *index)
{
    int64_t off = 0;
    for (int l = 0; l < n_letters; l++)
        off += index[l] * op->stride[l];
    return off;
}

void qc_f32_einsum(int n_ops, const qc_f32_einsum_operand *ops, int n_letters,
                   const int64_t *sizes, int n_out, const int *out_letters, float *y)
{
    int summed[QC_F32_EINSUM_LETTERS], n_summed = 0;
    for (int l = 0; l < n_letters; l++) {
        bool in_output = false;
        for (int i = 0; i < n_out; i++)
            in_output |= out_letters[i] == l;
        if (!in_output)
            summed[n_summed++] = l;
    }
    for (int l = 0; l < n_letters; l++)
        if (sizes[l] == 0) { /* nothing to sum, or nothing to write */
            int64_t count = 1;
            for (int i = 0; i < n_out; i++)
                count *= sizes[out_letters[i]];
            for (int64_t i = 0; i < count; i++)
                y[i] = 0.0f;
            return;
        }
    int64_t index[QC_F32_EINSUM_LETTERS] = {0};
    int64_t at = 0;
    do {
        double sum = 0.0;
        do {
            double term = 1.0;
            for (int k = 0; k < n_ops; k++)
                term *= ops[k].data[offset_of(&ops[k], n_letters, index)];
            sum += term;
        } while (next_index(n_summed, summed, sizes, index));
        y[at++] = (float)sum;
    } while (next_index(n_out, out_letters, sizes, index));
}
