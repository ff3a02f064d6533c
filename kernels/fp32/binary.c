/* binary.c — Add, Sub, Mul, Div with numpy broadcasting, for float and integer types. */
#include "fp32.h"

/* y[i] = a[i*sa] op b[i*sb] for i < n; strides are 0 (broadcast) or 1. */
typedef void (*row_fn)(int64_t n, const void *a, int64_t sa, const void *b, int64_t sb, void *y);

/* One row function per type and operation. EXPR combines p (from a) and q (from b); the
 * common stride cases get their own loop so that the compiler vectorises them. */
#define DEFINE_ROW(NAME, T, EXPR)                                                             \
    static void NAME(int64_t n, const void *va, int64_t sa, const void *vb, int64_t sb,       \
                     void *vy)                                                                \
    {                                                                                         \
        const T *a = va;                                                                      \
        const T *b = vb;                                                                      \
        T *y = vy;                                                                            \
        if (sa == 1 && sb == 1) {                                                             \
            for (int64_t i = 0; i < n; i++) {                                                 \
                T p = a[i], q = b[i];                                                         \
                y[i] = (T)(EXPR);                                                             \
            }                                                                                 \
        } else if (sa == 1) {                                                                 \
            const T q = b[0];                                                                 \
            for (int64_t i = 0; i < n; i++) {                                                 \
                T p = a[i];                                                                   \
                y[i] = (T)(EXPR);                                                             \
            }                                                                                 \
        } else if (sb == 1) {                                                                 \
            const T p = a[0];                                                                 \
            for (int64_t i = 0; i < n; i++) {                                                 \
                T q = b[i];                                                                   \
                y[i] = (T)(EXPR);                                                             \
            }                                                                                 \
        } else {                                                                              \
            const T p = a[0], q = b[0];                                                       \
            for (int64_t i = 0; i < n; i++)                                                   \
                y[i] = (T)(EXPR);                                                             \
        }                                                                                     \
    }

/* Integer arithmetic wraps around in the type, as ONNX Runtime and numpy do. uint8 and int8
 * operands are promoted to int, where no operation overflows; the conversion back keeps the
 * low bits (GCC and Clang define it so). int32 and int64 go through their unsigned types,
 * whose overflow is defined. Division truncates toward zero; x / 0 gives 0 (no trap), and
 * INT_MIN / -1 wraps to INT_MIN (computed as an unsigned negation). */
#define DEFINE_ROWS_SMALL(SUFFIX, T)                                                          \
    DEFINE_ROW(add_##SUFFIX, T, p + q)                                                        \
    DEFINE_ROW(sub_##SUFFIX, T, p - q)                                                        \
    DEFINE_ROW(mul_##SUFFIX, T, p * q)                                                        \
    DEFINE_ROW(div_##SUFFIX, T, q == 0 ? 0 : p / q)

#define DEFINE_ROWS_WIDE(SUFFIX, T, UT)                                                       \
    DEFINE_ROW(add_##SUFFIX, T, (UT)p + (UT)q)                                                \
    DEFINE_ROW(sub_##SUFFIX, T, (UT)p - (UT)q)                                                \
    DEFINE_ROW(mul_##SUFFIX, T, (UT)p * (UT)q)                                                \
    DEFINE_ROW(div_##SUFFIX, T, q == 0 ? (T)0 : q == -1 ? (T)((UT)0 - (UT)p) : (T)(p / q))

DEFINE_ROW(add_f32, float, p + q)
DEFINE_ROW(sub_f32, float, p - q)
DEFINE_ROW(mul_f32, float, p * q)
DEFINE_ROW(div_f32, float, p / q)
DEFINE_ROWS_SMALL(u8, uint8_t)
DEFINE_ROWS_SMALL(i8, int8_t)
DEFINE_ROWS_WIDE(i32, int32_t, uint32_t)
DEFINE_ROWS_WIDE(i64, int64_t, uint64_t)

/* Indexed by qc_f32_elem, then qc_f32_binary_op. */
static const row_fn rows[][4] = {
    [QC_F32_ELEM_FLOAT] = {add_f32, sub_f32, mul_f32, div_f32},
    [QC_F32_ELEM_UINT8] = {add_u8, sub_u8, mul_u8, div_u8},
    [QC_F32_ELEM_INT8] = {add_i8, sub_i8, mul_i8, div_i8},
    [QC_F32_ELEM_INT32] = {add_i32, sub_i32, mul_i32, div_i32},
    [QC_F32_ELEM_INT64] = {add_i64, sub_i64, mul_i64, div_i64},
};

static const size_t elem_size[] = {
    [QC_F32_ELEM_FLOAT] = sizeof(float),   [QC_F32_ELEM_UINT8] = sizeof(uint8_t),
    [QC_F32_ELEM_INT8] = sizeof(int8_t),   [QC_F32_ELEM_INT32] = sizeof(int32_t),
    [QC_F32_ELEM_INT64] = sizeof(int64_t),
};

/* Element strides of an operand of rank r aligned to the output's rank: 0 along dimensions it
 * broadcasts (size 1, or missing on the left). */
static void broadcast_strides(int rank, const int64_t *dims, int y_rank, int64_t *strides)
{
    int64_t step = 1;
    for (int d = y_rank - 1; d >= 0; d--) {
        int src = d - (y_rank - rank);
        int64_t size = src >= 0 ? dims[src] : 1;
        strides[d] = size == 1 ? 0 : step;
        step *= size;
    }
}

void qc_f32_binary(qc_f32_binary_op op, qc_f32_elem type, const void *a, int a_rank,
                   const int64_t *a_dims, const void *b, int b_rank, const int64_t *b_dims, void *y,
                   int y_rank, const int64_t *y_dims)
{
    int64_t a_str[QC_F32_MAX_RANK], b_str[QC_F32_MAX_RANK];
    broadcast_strides(a_rank, a_dims, y_rank, a_str);
    broadcast_strides(b_rank, b_dims, y_rank, b_str);

    /* Drop dimensions of size 1 and merge neighbours that both operands walk the same way
     * (both contiguous across them, or both broadcast), so that the inner loop is as long
     * as possible: [8,16,32] + [32] becomes a 128 x 32 walk, [8,16,32] + [8,16,32] one row. */
    int64_t dims[QC_F32_MAX_RANK], sa[QC_F32_MAX_RANK], sb[QC_F32_MAX_RANK];
    int rank = 0;
    for (int d = 0; d < y_rank; d++) {
        if (y_dims[d] == 0)
            return;
        if (y_dims[d] == 1)
            continue;
        if (rank > 0 && sa[rank - 1] == a_str[d] * y_dims[d] &&
            sb[rank - 1] == b_str[d] * y_dims[d]) {
            dims[rank - 1] *= y_dims[d];
            sa[rank - 1] = a_str[d];
            sb[rank - 1] = b_str[d];
            continue;
        }
        dims[rank] = y_dims[d];
        sa[rank] = a_str[d];
        sb[rank] = b_str[d];
        rank++;
    }
    row_fn row = rows[type][op];
    size_t size = elem_size[type];
    if (rank == 0) {
        row(1, a, 0, b, 0, y);
        return;
    }

    int64_t n = dims[rank - 1];
    int64_t outer = 1;
    for (int d = 0; d < rank - 1; d++)
        outer *= dims[d];
    int64_t index[QC_F32_MAX_RANK] = {0};
    int64_t a_off = 0, b_off = 0;
    const char *ab = a, *bb = b;
    char *yb = y;
    for (int64_t o = 0; o < outer; o++) {
        row(n, ab + (size_t)a_off * size, sa[rank - 1], bb + (size_t)b_off * size, sb[rank - 1],
            yb + (size_t)(o * n) * size);
        for (int d = rank - 2; d >= 0; d--) {
            a_off += sa[d];
            b_off += sb[d];
            if (++index[d] < dims[d])
                break;
            a_off -= sa[d] * dims[d];
            b_off -= sb[d] * dims[d];
            index[d] = 0;
        }
    }
}
