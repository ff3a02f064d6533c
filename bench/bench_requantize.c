/* bench_requantize.c — per-column requantization (int32 → u8, the GEMM tiles' step) in
 * outputs per nanosecond: the AVX-512 kernel with its double path against the same kernel in
 * 64-bit integers only, then the AVX2 per-column kernel likewise, timed interleaved (A, B, A,
 * B …) in thread CPU time so that a shared machine slows both alike; prints the medians and
 * the median of the per-round ratios. Tiles as the convolutions run them: 96 pixels (49 for
 * the 7×7 layers) × the output channels of MobileNetV2 / ResNet-18 layers, shifts 33–41 as
 * their layers have.
 * Each kernel's bytes are compared with the scalar reference's first.
 *
 * usage: bench_requantize [--json] [--rounds N] */
#include "kernels/int8/int8.h"
#include "kernels/int8/int8-impl.h"
#include "bench-util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUNDS 99

typedef struct {
    const char *name;
    qc_requantize_u8_fn fast, slow; /* the double path and the integer-only one */
    int isa;                        /* the table that must run for the kernels to exist */
} kernel_pair;

typedef struct {
    size_t m, n;
    int32_t *acc, *bias, *mult, *shift;
    uint8_t *y;
    qc_requant rq;
} tile;

static uint64_t state = 0x9e3779b97f4a7c15u;
static uint32_t rnd(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t)(state >> 16);
}

static void tile_init(tile *t, size_t m, size_t n)
{
    t->m = m;
    t->n = n;
    t->acc = malloc(m * n * sizeof *t->acc);
    t->bias = malloc(n * sizeof *t->bias);
    t->mult = malloc(n * sizeof *t->mult);
    t->shift = malloc(n * sizeof *t->shift);
    t->y = malloc(m * n);
    if (!t->acc || !t->bias || !t->mult || !t->shift || !t->y) {
        fprintf(stderr, "bench_requantize: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < m * n; i++)
        t->acc[i] = (int32_t)(rnd() % (1u << 21)) - (1 << 20);
    for (size_t j = 0; j < n; j++) {
        t->bias[j] = (int32_t)(rnd() % 20001) - 10000;
        t->mult[j] = (int32_t)(0x40000000u + (rnd() & 0x3fffffffu));
        t->shift[j] = 33 + (int32_t)(rnd() % 9);
    }
    t->rq = (qc_requant){t->mult, t->shift, QC_PER_COLUMN, 3, 0, 255};
}

static void tile_free(tile *t)
{
    free(t->acc);
    free(t->bias);
    free(t->mult);
    free(t->shift);
    free(t->y);
}

/* thread CPU seconds of reps calls */
static double time_kernel(qc_requantize_u8_fn fn, const tile *t, long reps)
{
    const double t0 = bench_thread_seconds();
    for (long r = 0; r < reps; r++)
        fn(t->m, t->n, t->acc, t->n, t->bias, &t->rq, t->y, t->n);
    return bench_thread_seconds() - t0;
}

static int same_as_scalar(qc_requantize_u8_fn fn, const tile *t)
{
    uint8_t *want = malloc(t->m * t->n);
    if (want == NULL)
        return 0;
    qc_requantize_u8__scalar(t->m, t->n, t->acc, t->n, t->bias, &t->rq, want, t->n);
    fn(t->m, t->n, t->acc, t->n, t->bias, &t->rq, t->y, t->n);
    const int same = memcmp(want, t->y, t->m * t->n) == 0;
    free(want);
    return same;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* one kernel pair on one tile width: medians of outputs/ns and of the per-round speed-ups */
static int measure(const kernel_pair *k, const tile *t, int rounds, int json, int *first)
{
    if (!same_as_scalar(k->fast, t) || !same_as_scalar(k->slow, t)) {
        fprintf(stderr, "bench_requantize: %s differs from the scalar reference (n=%zu)\n",
                k->name, t->n);
        return 1;
    }
    long reps = 1;
    while (time_kernel(k->slow, t, reps) < 0.01)
        reps *= 2;
    double fast[MAX_ROUNDS], slow[MAX_ROUNDS], ratio[MAX_ROUNDS];
    const double outputs = (double)t->m * (double)t->n * (double)reps;
    for (int r = 0; r < rounds; r++) {
        slow[r] = outputs / time_kernel(k->slow, t, reps) * 1e-9;
        fast[r] = outputs / time_kernel(k->fast, t, reps) * 1e-9;
        ratio[r] = fast[r] / slow[r];
    }
    const double f = median(fast, rounds), s = median(slow, rounds), x = median(ratio, rounds);
    if (json)
        printf("%s{\"kernel\": \"%s\", \"rows\": %zu, \"columns\": %zu, \"fp64_outputs_per_ns\": "
               "%.3f, \"int64_outputs_per_ns\": %.3f, \"speedup\": %.3f}",
               *first ? "" : ",\n ", k->name, t->m, t->n, f, s, x);
    else
        printf("%-12s %4zu x %-5zu %10.3f %10.3f %8.2fx\n", k->name, t->m, t->n, f, s, x);
    *first = 0;
    return 0;
}

int main(int argc, char **argv)
{
    int json = 0, rounds = 11;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = atoi(argv[++i]);
            if (rounds < 1 || rounds > MAX_ROUNDS)
                rounds = 11;
        } else {
            fprintf(stderr, "usage: bench_requantize [--json] [--rounds N]\n");
            return 2;
        }
    }
    static const kernel_pair pairs[] = {
        {"avx512_cols", qc_requantize_u8__avx512_cols, qc_requantize_u8__avx512_cols_int64,
         QC_INT8_ISA_AVX512VNNI},
        {"avx2_cols", qc_requantize_u8__avx2_cols, qc_requantize_u8__avx2_cols_int64,
         QC_INT8_ISA_AVX2},
    };
    static const size_t tiles[][2] = {{96, 32}, {96, 144}, {96, 384}, {96, 512}, {49, 160},
                                      {49, 960}};
    if (json)
        printf("[");
    else
        printf("%-12s %12s %10s %10s %9s\n", "kernel", "tile", "fp64 /ns", "int64 /ns",
               "speed-up");
    int first = 1, failed = 0;
    for (size_t p = 0; p < sizeof pairs / sizeof *pairs; p++) {
        if (qc_int8_select(pairs[p].isa) != 0) {
            fprintf(stderr, "bench_requantize: %s skipped (this CPU lacks it)\n", pairs[p].name);
            continue;
        }
        for (size_t w = 0; w < sizeof tiles / sizeof *tiles; w++) {
            tile t;
            tile_init(&t, tiles[w][0], tiles[w][1]);
            failed |= measure(&pairs[p], &t, rounds, json, &first);
            tile_free(&t);
        }
    }
    if (json)
        printf("]\n");
    return failed;
}
