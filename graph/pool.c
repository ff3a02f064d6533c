/* pool.c — qc_parallel_for and qc_pool: items handed out in order to threads. qc_parallel_for
 * starts its threads for one call; a qc_pool keeps them between jobs, for jobs too short to pay
 * for starting threads: asleep on a condition variable, or, while the pool is held (an
 * executor's run), spinning briefly first, since a wake-up through the kernel costs a virtual
 * machine tens of microseconds, more than many of a run's jobs take. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "graph.h"

typedef struct {
    qc_task_fn fn;
    void *ctx;
    int64_t n_items;
    atomic_llong next;
    atomic_int result;
    uint64_t serial; /* the pool's job number (qc_pool_run) */
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
    job->serial = 0;
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

/* How long a worker of a held pool spins for the next job before it sleeps: the gaps between
 * one run's jobs (the ops that stay on one thread, shape inference) are mostly a few
 * microseconds, a wake-up through the kernel tens of them. */
#define QC_POOL_SPIN_NS 50000

/* The caller and the workers meet through atomics: a worker counts itself busy before it looks
 * for the open job, and the caller closes the job before it looks at the busy count, so (all
 * accesses sequentially consistent) either the worker sees the job closed or the caller sees
 * the worker and waits for it. The same pairing makes the sleepers' and the caller's wake-ups
 * safe: each side stores its flag, then reads the other's. */
struct qc_pool {
    int n_threads;    /* the caller and the workers started */
    pthread_t *threads;
    pthread_mutex_t lock; /* only for sleeping and waking */
    pthread_cond_t wake;  /* a new job, or stop */
    pthread_cond_t done;  /* the last worker inside a job left it */
    _Atomic(pool_job *) job; /* the open job; NULL once its caller has closed it */
    atomic_ullong serial; /* bumped by each job and by stop, so a worker enters each job once */
    atomic_int busy;      /* workers inside the open job (or looking for it) */
    atomic_int sleepers;  /* workers asleep on wake */
    atomic_bool caller_asleep; /* the caller sleeps on done */
    atomic_int held;      /* while > 0, workers spin between jobs before they sleep */
    uint64_t nudges;      /* under lock: bumped when the pool is held, to wake the sleepers */
    atomic_llong spin_ns;
    atomic_bool stop;
};

typedef struct {
    qc_pool *pool;
    int worker;
} pool_member;

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int64_t monotonic_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Spins until done(p, arg) or spin_ns passed (or stop_early(p) says to sleep instead); says
 * whether done. The clock is read every 64 pauses, a small part of a microsecond. */
static bool spin_until(qc_pool *p, bool (*done)(qc_pool *, uint64_t), uint64_t arg,
                       bool (*stop_early)(qc_pool *))
{
    const int64_t spin = atomic_load(&p->spin_ns);
    if (spin <= 0)
        return done(p, arg);
    const int64_t end = monotonic_ns() + spin;
    for (unsigned i = 1;; i++) {
        if (done(p, arg))
            return true;
        if (stop_early && stop_early(p))
            return false;
        if (i % 64 == 0 && monotonic_ns() >= end)
            return false;
        cpu_relax();
    }
}

static bool new_serial(qc_pool *p, uint64_t seen)
{
    return atomic_load(&p->serial) != seen;
}

static bool not_held(qc_pool *p)
{
    return atomic_load(&p->held) == 0;
}

/* Waits for a job after the one numbered seen (or stop): spinning while the pool is held, then
 * asleep until a job, stop or a nudge (the pool was held: spin again). False on stop. */
static bool await_job(qc_pool *p, uint64_t seen)
{
    for (;;) {
        if (atomic_load(&p->held) > 0 && spin_until(p, new_serial, seen, not_held))
            return !atomic_load(&p->stop);
        pthread_mutex_lock(&p->lock);
        atomic_fetch_add(&p->sleepers, 1);
        const uint64_t nudges = p->nudges;
        while (!atomic_load(&p->stop) && atomic_load(&p->serial) == seen && p->nudges == nudges)
            pthread_cond_wait(&p->wake, &p->lock);
        atomic_fetch_sub(&p->sleepers, 1);
        pthread_mutex_unlock(&p->lock);
        if (atomic_load(&p->stop) || atomic_load(&p->serial) != seen)
            return !atomic_load(&p->stop);
    }
}

/* Runs the open job if it is newer than seen; returns the last job number known. A worker that
 * comes late, on a loaded machine, finds the job closed and waits again, so the caller never
 * waits for a thread that took no item. */
static uint64_t join_job(qc_pool *p, uint64_t seen, int worker)
{
    const uint64_t serial = atomic_load(&p->serial);
    atomic_fetch_add(&p->busy, 1);
    pool_job *job = atomic_load(&p->job);
    if (job && job->serial != seen) {
        seen = job->serial;
        run_items(job, worker);
    } else {
        seen = serial;
    }
    if (atomic_fetch_sub(&p->busy, 1) == 1 && atomic_load(&p->caller_asleep)) {
        pthread_mutex_lock(&p->lock); /* the caller is in its wait, or has not checked busy */
        pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->lock);
    }
    return seen;
}

static void *serve(void *arg)
{
    pool_member *m = arg;
    qc_pool *p = m->pool;
    const int worker = m->worker;
    free(m);
    uint64_t seen = 0;
    while (await_job(p, seen))
        seen = join_job(p, seen, worker);
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
    atomic_init(&p->job, NULL);
    atomic_init(&p->serial, 0);
    atomic_init(&p->busy, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->caller_asleep, false);
    atomic_init(&p->held, 0);
    atomic_init(&p->spin_ns, QC_POOL_SPIN_NS);
    atomic_init(&p->stop, false);
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

/* Holding wakes the sleepers, so that they spin when the first job comes: their wake-up runs
 * while the caller prepares it. (One that falls asleep just then wakes with that job.) */
void qc_pool_hold(qc_pool *p, bool held)
{
    if (!p)
        return;
    if (atomic_fetch_add(&p->held, held ? 1 : -1) == 0 && held && atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->lock);
        p->nudges++;
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
    }
}

void qc_pool_set_spin(qc_pool *p, int64_t nanoseconds)
{
    if (p)
        atomic_store(&p->spin_ns, nanoseconds);
}

int qc_pool_sleepers(qc_pool *p)
{
    return p ? atomic_load(&p->sleepers) : 0;
}

static bool none_busy(qc_pool *p, uint64_t unused)
{
    (void)unused;
    return atomic_load(&p->busy) == 0;
}

/* The caller's wait for the workers still inside its closed job: they are finishing their
 * last item, so a spin first; asleep if one of them lost its CPU. */
static void await_workers(qc_pool *p)
{
    if (spin_until(p, none_busy, 0, NULL))
        return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->caller_asleep, true);
    while (atomic_load(&p->busy) > 0)
        pthread_cond_wait(&p->done, &p->lock);
    atomic_store(&p->caller_asleep, false);
    pthread_mutex_unlock(&p->lock);
}

int qc_pool_run(qc_pool *p, int64_t n_items, qc_task_fn fn, void *ctx)
{
    pool_job job;
    job_init(&job, n_items, fn, ctx);
    if (!p || p->n_threads == 1 || n_items <= 1) {
        run_items(&job, 0);
        return atomic_load(&job.result);
    }
    job.serial = atomic_load(&p->serial) + 1; /* only the caller and stop bump it */
    atomic_store(&p->job, &job);
    atomic_store(&p->serial, job.serial);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->lock);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
    }
    run_items(&job, 0); /* the calling thread is worker 0 */
    atomic_store(&p->job, NULL); /* closed: job lives on this stack, so wait for those inside */
    await_workers(p);
    return atomic_load(&job.result);
}

void qc_pool_destroy(qc_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->stop, true);
    atomic_fetch_add(&p->serial, 1); /* ends the spinning too */
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
