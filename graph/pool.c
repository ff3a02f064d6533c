/* pool.c — qc_parallel_for: items handed out in order to threads that block, never spin. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "graph.h"

typedef struct {
    qc_task_fn fn;
    void *ctx;
    int64_t n_items;
    atomic_llong next;
    atomic_int result;
} pool_job;

typedef struct {
    pool_job *job;
    int worker;
} pool_worker;

static void *work(void *arg)
{
    pool_worker *w = arg;
    pool_job *job = w->job;
    for (;;) {
        int64_t item = atomic_fetch_add(&job->next, 1);
        if (item >= job->n_items || atomic_load(&job->result) != 0)
            break;
        int r = job->fn(job->ctx, w->worker, item);
        if (r != 0) {
            int expected = 0;
            atomic_compare_exchange_strong(&job->result, &expected, r);
        }
    }
    return NULL;
}

int qc_parallel_for(int n_threads, int64_t n_items, qc_task_fn fn, void *ctx)
{
    pool_job job = {.fn = fn, .ctx = ctx, .n_items = n_items};
    atomic_init(&job.next, 0);
    atomic_init(&job.result, 0);
    if (n_threads > n_items)
        n_threads = (int)n_items;
    if (n_threads <= 1) {
        pool_worker w = {&job, 0};
        work(&w);
        return atomic_load(&job.result);
    }
    pthread_t *threads = malloc((size_t)n_threads * sizeof *threads);
    pool_worker *workers = malloc((size_t)n_threads * sizeof *workers);
    if (!threads || !workers) {
        free(threads);
        free(workers);
        pool_worker w = {&job, 0};
        work(&w);
        return atomic_load(&job.result);
    }
    int started = 0;
    for (int i = 1; i < n_threads; i++) {
        workers[i] = (pool_worker){&job, i};
        if (pthread_create(&threads[i], NULL, work, &workers[i]) != 0)
            break;
        started = i;
    }
    workers[0] = (pool_worker){&job, 0};
    work(&workers[0]); /* the calling thread is worker 0 */
    for (int i = 1; i <= started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    free(workers);
    return atomic_load(&job.result);
}
