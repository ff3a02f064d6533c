/* dwconv-avx512.c — the depthwise row kernel with 16 output pixels per zmm register: each lane
 * does the scalar kernel's operations in its order (product rounded, then added; no FMA), so
 * the bits are the same. */
#include "fp32-impl.h"

#include "avx512-impl.h"

/* nv (1 to 4) registers of 16 outputs from ow: nv independent chains of adds, so that each
 * tap's weight is broadcast once for up to 64 outputs and the adds' latency overlaps. */
static inline __attribute__((always_inline)) void outputs16(const qc_f32_dwrow *r, float *y,
                                                            int64_t ow, int nv)
{
    int64_t cols = r->cols, sw = r->stride_w, dh = r->dilation_h, dw = r->dilation_w;
    __mmask16 m[4];
    __m512 acc[4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) {
        m[v] = qc_f32_lanes16(r->out_w - ow - 16 * v);
        acc[v] = _mm512_setzero_ps();
    }
    for (int64_t kh = 0; kh < r->kernel_h; kh++)
        for (int64_t kw = 0; kw < r->kernel_w; kw++) {
            __m512 wv = _mm512_set1_ps(r->w[kh * r->kernel_w + kw]);
            const float *src = r->base + kh * dh * cols + kw * dw + ow * sw;
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                acc[v] = _mm512_add_ps(
                    acc[v], _mm512_mul_ps(wv, qc_f32_load_strided16(src + 16 * v * sw, sw, m[v])));
        }
    const __m512 bias = _mm512_set1_ps(r->bias);
    const __m512 lo = _mm512_set1_ps(r->clamp.lo), hi = _mm512_set1_ps(r->clamp.hi);
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) {
        __m512 out = r->has_bias ? _mm512_add_ps(acc[v], bias) : acc[v];
        if (r->clamp.on) /* the bound first: the scalar clamp's comparisons (unary-avx512.c) */
            out = _mm512_min_ps(hi, _mm512_max_ps(lo, out));
        _mm512_mask_storeu_ps(y + ow + 16 * v, m[v], out);
    }
}

void qc_f32_dwconv_row__avx512(const qc_f32_dwrow *r, float *y)
{
    int64_t ow = 0;
    for (; ow + 64 <= r->out_w; ow += 64)
        outputs16(r, y, ow, 4);
    int64_t left = r->out_w - ow;
    if (left > 32)
        outputs16(r, y, ow, left > 48 ? 4 : 3);
    else if (left > 0)
        outputs16(r, y, ow, left > 16 ? 2 : 1);
}
