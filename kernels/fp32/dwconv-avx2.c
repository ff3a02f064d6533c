/* dwconv-avx2.c — the depthwise row kernel with 8 output pixels per ymm register: each lane
 * does the scalar kernel's operations in its order (product rounded, then added; no FMA), so
 * the bits are the same. */
#include "fp32-impl.h"

#include "avx2-impl.h"

/* nv (1 to 4) registers of 8 outputs from ow: nv independent chains of adds, so that each
 * tap's weight is broadcast once for up to 32 outputs and the adds' latency overlaps. */
static inline __attribute__((always_inline)) void outputs8(const qc_f32_dwrow *r, float *y,
                                                           int64_t ow, int nv)
{
    int64_t cols = r->cols, sw = r->stride_w, dh = r->dilation_h, dw = r->dilation_w;
    __m256i m[4];
    __m256 acc[4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) {
        m[v] = qc_f32_lanes8(r->out_w - ow - 8 * v);
        acc[v] = _mm256_setzero_ps();
    }
    for (int64_t kh = 0; kh < r->kernel_h; kh++)
        for (int64_t kw = 0; kw < r->kernel_w; kw++) {
            __m256 wv = _mm256_set1_ps(r->w[kh * r->kernel_w + kw]);
            const float *src = r->base + kh * dh * cols + kw * dw + ow * sw;
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                acc[v] = _mm256_add_ps(
                    acc[v], _mm256_mul_ps(wv, qc_f32_load_strided8(src + 8 * v * sw, sw, m[v])));
        }
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) {
        __m256 out = r->has_bias ? _mm256_add_ps(acc[v], _mm256_set1_ps(r->bias)) : acc[v];
        if (r->clamp.on) /* the bound first: the scalar clamp's comparisons (unary-avx2.c) */
            out = _mm256_min_ps(_mm256_set1_ps(r->clamp.hi),
                                _mm256_max_ps(_mm256_set1_ps(r->clamp.lo), out));
        _mm256_maskstore_ps(y + ow + 8 * v, m[v], out);
    }
}

void qc_f32_dwconv_row__avx2(const qc_f32_dwrow *r, float *y)
{
    int64_t ow = 0;
    for (; ow + 32 <= r->out_w; ow += 32)
        outputs8(r, y, ow, 4);
    int64_t left = r->out_w - ow;
    if (left > 16)
        outputs8(r, y, ow, left > 24 ? 4 : 3);
    else if (left > 0)
        outputs8(r, y, ow, left > 8 ? 2 : 1);
}
