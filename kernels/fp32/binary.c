/* binary.c — Add, Sub, Mul, Div, Min, Max with numpy broadcasting, for float and integer
 * types. */
#include "fp32-impl.h"

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
    DEFINE_ROW(div_##SUFFIX, T, q == 0 ? 0 : p / q)                                          \
    DEFINE_ROW(min_##SUFFIX, T, p < q ? p : q)                                                \
    DEFINE_ROW(max_##SUFFIX, T, p > q ? p : q)

#define DEFINE_ROWS_WIDE(SUFFIX, T, UT)                                                       \
    DEFINE_ROW(add_##SUFFIX, T, (UT)p + (UT)q)                                                \
    DEFINE_ROW(sub_##SUFFIX, T, (UT)p - (UT)q)                                                \
    DEFINE_ROW(mul_##SUFFIX, T, (UT)p * (UT)q)                                                \
    DEFINE_ROW(div_##SUFFIX, T, q == 0 ? (T)0 : q == -1 ? (T)((UT)0 - (UT)p) : (T)(p / q))    \
    DEFINE_ROW(min_##SUFFIX, T, p < q ? p : q)                                                \
    DEFINE_ROW(max_##SUFFIX, T, p > q ? p : q)

DEFINE_ROW(add_f32, float, p + q)
DEFINE_ROW(sub_f32, float, p - q)
DEFINE_ROW(mul_f32, float, p * q)
DEFINE_ROW(div_f32, float, p / q)
/* NaN in either operand gives NaN, as numpy's minimum and maximum do. */
DEFINE_ROW(min_f32, float, p != p || p < q ? p : q)
DEFINE_ROW(max_f32, float, p != p || p > q ? p : q)
DEFINE_ROWS_SMALL(u8, uint8_t)
DEFINE_ROWS_SMALL(i8, int8_t)
DEFINE_ROWS_WIDE(i32, int32_t, uint32_t)
DEFINE_ROWS_WIDE(i64, int64_t, uint64_t)

/* Indexed by qc_f32_elem, then qc_f32_binary_op. */
static const row_fn rows[][6] = {
    [QC_F32_ELEM_FLOAT] = {add_f32, sub_f32, mul_f32, div_f32, min_f32, max_f32},
    [QC_F32_ELEM_UINT8] = {add_u8, sub_u8, mul_u8, div_u8, min_u8, max_u8},
    [QC_F32_ELEM_INT8] = {add_i8, sub_i8, mul_i8, div_i8, min_i8, max_i8},
    [QC_F32_ELEM_INT32] = {add_i32, sub_i32, mul_i32, div_i32, min_i32, max_i32},
    [QC_F32_ELEM_INT64] = {add_i64, sub_i64, mul_i64, div_i64, min_i64, max_i64},
};

static void binary_row(const void *ctx, int64_t n, const char *const *src, const int64_t *step,
                       void *y)
{
    row_fn row = *(const row_fn *)ctx;
    row(n, src[0], step[0], src[1], step[1], y);
}

void qc_f32_binary(qc_f32_binary_op op, qc_f32_elem type, const void *a, int a_rank,
                   const int64_t *a_dims, const void *b, int b_rank, const int64_t *b_dims, void *y,
                   int y_rank, const int64_t *y_dims)
{
    size_t size = qc_f32_elem_size(type);
    qc_f32_operands ops = {.count = 2, .data = {a, b}, .rank = {a_rank, b_rank},
                           .dims = {a_dims, b_dims}, .size = {size, size}};
    row_fn row = rows[type][op];
    qc_f32_broadcast_walk(&ops, y, size, y_rank, y_dims, binary_row, &row);
}
