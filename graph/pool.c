/* pool.c — qc_parallel_for and qc_pool: items handed out in order to threads that block,
 * never spin. qc_parallel_for starts its threads for one call; a qc_pool keeps them asleep on
 * a condition variable between jobs, for jobs too short to pay for starting threads. */
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

/* Runs items of job until none is left or one failed; the first failure is kept. */
static void run_items(pool_job *job, int worker)
{
    for (;;) {
        int64_t item = atomic_fetch_add(&job->next, 1);
        if (item >= job->n_items || atomic_load(&job->result) != 0)
            break;
        int r = job->fn(job->ctx, worker, item);
        if (r != 0) {
            int expected = 0;
            atomic_compare_exchange_strong(&job->result, &expected, r);
        }
    }
}

static void job_init(pool_job *job, int64_t n_items, qc_task_fn fn, void *ctx)
{
    job->fn = fn;
    job->ctx = ctx;
    job->n_items = n_items;
    atomic_init(&job->next, 0);
    atomic_init(&job->result, 0);
}

typedef struct {
    pool_job *job;
    int worker;
} pool_worker;

static void *work(void *arg)
{
    pool_worker *w = arg;
    run_items(w->job, w->worker);
    return NULL;
}

int qc_parallel_for(int n_threads, int64_t n_items, qc_task_fn fn, void *ctx)
{
    pool_job job;
    job_init(&job, n_items, fn, ctx);
    if (n_threads > n_items)
        n_threads = (int)n_items;
    pthread_t *threads = n_threads > 1 ? malloc((size_t)n_threads * sizeof *threads) : NULL;
    pool_worker *workers = n_threads > 1 ? malloc((size_t)n_threads * sizeof *workers) : NULL;
    if (!threads || !workers) { /* one thread, or no memory for more */
        free(threads);
        free(workers);
        run_items(&job, 0);
        return atomic_load(&job.result);
    }
    int started = 0;
    for (int i = 1; i < n_threads; i++) {
        workers[i] = (pool_worker){&job, i};
        if (pthread_create(&threads[i], NULL, work, &workers[i]) != 0)
            break;
        started = i;
    }
    run_items(&job, 0); /* the calling thread is worker 0 */
    for (int i = 1; i <= started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    free(workers);
    return atomic_load(&job.result);
}

/* ---- the persistent pool ---- */

struct qc_pool {
    int n_threads;    /* the caller and the workers started */
    pthread_t *threads;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* a new job, or stop */
    pthread_cond_t done; /* the last worker inside a job left it */
    pool_job *job;    /* under lock: the open job, NULL once its caller has closed it */
    uint64_t serial;  /* under lock: bumped by each job, so a worker enters each job once */
    int busy;         /* under lock: workers inside the current job */
    bool stop;
};

typedef struct {
    qc_pool *pool;
    int worker;
} pool_member;

/* A worker enters a job only while it is open: one that wakes late, on a loaded machine, finds
 * it closed and sleeps again, so the caller never waits for a thread that took no item. */
static void *serve(void *arg)
{
    pool_member *m = arg;
    qc_pool *p = m->pool;
    const int worker = m->worker;
    free(m);
    uint64_t seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && (p->serial == seen || !p->job))
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->stop)
            break;
        seen = p->serial;
        pool_job *job = p->job;
        p->busy++;
        pthread_mutex_unlock(&p->lock);
        run_items(job, worker);
        pthread_mutex_lock(&p->lock);
        if (--p->busy == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

qc_pool *qc_pool_create(int n_threads)
{
    qc_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->n_threads = 1;
    if (n_threads > 1 && !(p->threads = malloc((size_t)n_threads * sizeof *p->threads))) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int i = 1; i < n_threads; i++) {
        pool_member *m = malloc(sizeof *m);
        if (m)
            *m = (pool_member){p, i};
        if (!m || pthread_create(&p->threads[i], NULL, serve, m) != 0) {
            free(m);
            break; /* fewer threads than asked: still correct */
        }
        p->n_threads = i + 1;
    }
    return p;
}

int qc_pool_threads(const qc_pool *p)
{
    return p ? p->n_threads : 1;
}

int qc_pool_run(qc_pool *p, int64_t n_items, qc_task_fn fn, void *ctx)
{
    pool_job job;
    job_init(&job, n_items, fn, ctx);
    if (!p || p->n_threads == 1 || n_items <= 1) {
        run_items(&job, 0);
        return atomic_load(&job.result);
    }
    pthread_mutex_lock(&p->lock);
    p->job = &job;
    p->serial++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    run_items(&job, 0); /* the calling thread is worker 0 */
    pthread_mutex_lock(&p->lock);
    p->job = NULL; /* closed: job lives on this stack, so wait for those inside it */
    while (p->busy > 0)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
    return atomic_load(&job.result);
}

void qc_pool_destroy(qc_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    free(p);
}
