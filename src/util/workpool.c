#include "dockhand/workpool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct workpool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    STAILQ_HEAD(, workpool_job) jobs;
    int queued, max_queue;
    bool stopping;
    int nthreads;
    pthread_t *threads;
    workpool_thread_end_fn *thread_end;
};

static void job_finish(evutil_socket_t fd, short what, void *arg)
{
    struct workpool_job *j = arg;
    /* The event is one-shot and no longer pending: it can go before done frees the job. */
    event_free(j->ev);
    j->ev = NULL;
    j->done(j);
}

static void *pool_thread(void *arg)
{
    struct workpool *p = arg;
    void *state = NULL;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (STAILQ_EMPTY(&p->jobs) && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        struct workpool_job *j = STAILQ_FIRST(&p->jobs);
        if (!j) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        STAILQ_REMOVE_HEAD(&p->jobs, link);
        p->queued--;
        pthread_mutex_unlock(&p->lock);
        j->run(j, &state);
        event_active(j->ev, 0, 0);
    }
    if (p->thread_end)
        p->thread_end(state);
    return NULL;
}

struct workpool *workpool_new(int threads, int max_queue, workpool_thread_end_fn *thread_end)
{
    struct workpool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    STAILQ_INIT(&p->jobs);
    p->max_queue = max_queue;
    p->thread_end = thread_end;
    p->threads = threads > 0 ? calloc((size_t)threads, sizeof(pthread_t)) : NULL;
    for (int i = 0; p->threads && i < threads; i++) {
        if (pthread_create(&p->threads[i], NULL, pool_thread, p) != 0)
            break;
        p->nthreads++;
    }
    if (p->nthreads == 0) {
        workpool_free(p);
        return NULL;
    }
    return p;
}

void workpool_free(struct workpool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p);
}

int workpool_submit(struct workpool *p, struct event_base *base, struct workpool_job *job,
                    workpool_run_fn *run, workpool_done_fn *done)
{
    job->run = run;
    job->done = done;
    job->ev = event_new(base, -1, 0, job_finish, job);
    if (!job->ev)
        return DH_ERR_NOMEM;
    pthread_mutex_lock(&p->lock);
    if (p->queued >= p->max_queue) {
        pthread_mutex_unlock(&p->lock);
        workpool_job_deinit(job);
        return DH_ERR_TOOBIG;
    }
    STAILQ_INSERT_TAIL(&p->jobs, job, link);
    p->queued++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

void workpool_job_deinit(struct workpool_job *job)
{
    if (job->ev) {
        event_free(job->ev);
        job->ev = NULL;
    }
}

int workpool_queued(struct workpool *p)
{
    pthread_mutex_lock(&p->lock);
    int n = p->queued;
    pthread_mutex_unlock(&p->lock);
    return n;
}
