/* bench-util.h — the clocks and the sort the benchmark programs share (each is one program,
 * so these are static inline). */
#ifndef QCAL_BENCH_UTIL_H
#define QCAL_BENCH_UTIL_H

#include <time.h>

/* Seconds on a clock: CLOCK_THREAD_CPUTIME_ID for what one thread spends (on a shared machine
 * the time it waits for the CPU would otherwise count), CLOCK_PROCESS_CPUTIME_ID for every
 * thread, CLOCK_MONOTONIC for wall time. */
static inline double bench_seconds(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The calling thread's CPU time: the benchmarks' single-threaded figures (with other jobs
 * running, wall-clock figures dropped to half while CPU-time ones stayed within 2 %). */
static inline double bench_thread_seconds(void)
{
    return bench_seconds(CLOCK_THREAD_CPUTIME_ID);
}

/* qsort's comparison of doubles, ascending */
static inline int bench_cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#endif
