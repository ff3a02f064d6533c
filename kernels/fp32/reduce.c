/* reduce.c — reductions over any set of dimensions (ReduceSum, ReduceMean, ...) and
 * ArgMax/ArgMin along one. */
#include "fp32.h"

#include <math.h>
#include <string.h>

size_t qc_f32_reduce_scratch_size(int64_t out_count)
{
    return (size_t)(out_count > 0 ? out_count : 1) * 2 * sizeof(double);
}

/* The input's dimensions, size-1 ones dropped and neighbours of the same kind (reduced or
 * kept) merged, with each one's stride in the output (0 for a reduced dimension). */
typedef struct {
    int rank;
    int64_t dims[QC_F32_MAX_RANK], out_stride[QC_F32_MAX_RANK];
    int64_t out_count, in_count;
} reduce_walk;

static reduce_walk walk_of(int rank, const int64_t *dims, const bool *reduced)
{
    reduce_walk w = {.rank = 0, .out_count = 1, .in_count = 1};
    bool kind[QC_F32_MAX_RANK];
    for (int d = 0; d < rank; d++) {
        w.in_count *= dims[d];
        if (!reduced[d])
            w.out_count *= dims[d];
        if (dims[d] == 1)
            continue;
        if (w.rank > 0 && kind[w.rank - 1] == reduced[d]) {
            w.dims[w.rank - 1] *= dims[d];
            continue;
        }
        kind[w.rank] = reduced[d];
        w.dims[w.rank++] = dims[d];
    }
    int64_t step = 1;
    for (int d = w.rank - 1; d >= 0; d--) {
        w.out_stride[d] = kind[d] ? 0 : step;
        step *= kind[d] ? 1 : w.dims[d];
    }
    return w;
}

typedef enum { ACC_SUM, ACC_ABS, ACC_SQUARE, ACC_PROD, ACC_MAX, ACC_MIN, ACC_EXP_SHIFTED } acc_kind;

/* acc[out] (op)= f(x) for every input element. shift (for ACC_EXP_SHIFTED) holds each
 * output's maximum. The innermost dimension runs in a tight loop, reduced or not. */
static void accumulate(acc_kind kind, const reduce_walk *w, const float *x, double *acc,
                       const double *shift)
{
    if (w->in_count == 0)
        return;
    int inner_d = w->rank - 1;
    int64_t n = w->rank ? w->dims[inner_d] : 1, os = w->rank ? w->out_stride[inner_d] : 0;
    int64_t index[QC_F32_MAX_RANK] = {0};
    int64_t out = 0;
    for (int64_t start = 0; start < w->in_count; start += n) {
        const float *row = x + start;
        for (int64_t i = 0; i < n; i++) {
            double v = row[i], *a = &acc[out + i * os];
            switch (kind) {
            case ACC_SUM: *a += v; break;
            case ACC_ABS: *a += fabs(v); break;
            case ACC_SQUARE: *a += v * v; break;
            case ACC_PROD: *a *= v; break;
            case ACC_MAX: *a = v != v || v > *a ? v : *a; break;
            case ACC_MIN: *a = v != v || v < *a ? v : *a; break;
            case ACC_EXP_SHIFTED: *a += exp(v - shift[out + i * os]); break;
            }
        }
        for (int d = inner_d - 1; d >= 0; d--) {
            out += w->out_stride[d];
            if (++index[d] < w->dims[d])
                break;
            out -= w->out_stride[d] * w->dims[d];
            index[d] = 0;
        }
    }
}

static void fill(double *acc, int64_t n, double v)
{
    for (int64_t i = 0; i < n; i++)
        acc[i] = v;
}

void qc_f32_reduce(qc_f32_reduce_op op, int rank, const int64_t *dims, const bool *reduced,
                   const float *x, float *y, void *scratch)
{
    reduce_walk w = walk_of(rank, dims, reduced);
    int64_t n_out = w.out_count;
    double *acc = scratch, *shift = acc + n_out;
    double count = n_out ? (double)(w.in_count / n_out) : 0.0;
    switch (op) {
    case QC_F32_REDUCE_MAX:
        fill(acc, n_out, -INFINITY);
        accumulate(ACC_MAX, &w, x, acc, NULL);
        break;
    case QC_F32_REDUCE_MIN:
        fill(acc, n_out, INFINITY);
        accumulate(ACC_MIN, &w, x, acc, NULL);
        break;
    case QC_F32_REDUCE_PROD:
        fill(acc, n_out, 1.0);
        accumulate(ACC_PROD, &w, x, acc, NULL);
        break;
    case QC_F32_REDUCE_LOG_SUM_EXP:
        /* log(sum(exp(x))) = max + log(sum(exp(x - max))): no overflow for large x */
        fill(shift, n_out, -INFINITY);
        accumulate(ACC_MAX, &w, x, shift, NULL);
        for (int64_t i = 0; i < n_out; i++)
            shift[i] = isinf(shift[i]) ? 0.0 : shift[i];
        fill(acc, n_out, 0.0);
        accumulate(ACC_EXP_SHIFTED, &w, x, acc, shift);
        for (int64_t i = 0; i < n_out; i++)
            acc[i] = shift[i] + log(acc[i]);
        break;
    default:
        fill(acc, n_out, 0.0);
        accumulate(op == QC_F32_REDUCE_L1 ? ACC_ABS
                   : op == QC_F32_REDUCE_L2 || op == QC_F32_REDUCE_SUM_SQUARE ? ACC_SQUARE
                                                                              : ACC_SUM,
                   &w, x, acc, NULL);
        break;
    }
    for (int64_t i = 0; i < n_out; i++) {
        double v = acc[i];
        if (op == QC_F32_REDUCE_MEAN)
            v /= count;
        else if (op == QC_F32_REDUCE_L2)
            v = sqrt(v);
        else if (op == QC_F32_REDUCE_LOG_SUM)
            v = log(v);
        y[i] = (float)v;
    }
}

void qc_f32_arg_extreme(bool minimum, bool last_index, int64_t outer, int64_t axis_size,
                        int64_t inner, const float *x, int64_t *y)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *xr = x + o * axis_size * inner + i;
            int64_t best = 0;
            float bv = xr[0];
            for (int64_t j = 1; j < axis_size && bv == bv; j++) {
                float v = xr[j * inner];
                bool better = v != v || (minimum ? v < bv : v > bv) ||
                              (last_index && v == bv);
                if (better) {
                    best = j;
                    bv = v;
                }
            }
            y[o * inner + i] = best;
        }
}
