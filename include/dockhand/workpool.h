/* The one thread pool: runs jobs off the event loops and finishes each on the loop that
 * submitted it. Secrets are verified on one (hashpool.h: a PBKDF2 costs milliseconds and
 * must never stall a worker), the admin API runs on another (api.h: blocking database
 * calls). */
#pragma once
#include <event2/event.h>
#include <sys/queue.h>
#include "dockhand/common.h"

struct workpool;
struct workpool_job;

/* Runs on a pool thread. *thread_state is the thread's own (NULL at first, kept between
 * jobs, handed to the pool's thread_end when the thread stops). */
typedef void workpool_run_fn(struct workpool_job *job, void **thread_state);
/* Runs on the submitting loop after run; may free the job. */
typedef void workpool_done_fn(struct workpool_job *job);
/* Releases a thread's state when the pool stops; may be NULL. */
typedef void workpool_thread_end_fn(void *thread_state);

/* A job: embedded in the caller's own struct, filled by workpool_submit. */
struct workpool_job {
    STAILQ_ENTRY(workpool_job) link;
    workpool_run_fn *run;
    workpool_done_fn *done;
    struct event *ev; /* activated by the pool thread, runs done on the submitter's loop */
};

/* Starts threads threads (at least one must start, else NULL) that take at most
 * max_queue waiting jobs. */
struct workpool *workpool_new(int threads, int max_queue, workpool_thread_end_fn *thread_end);

/* Finishes the queued jobs (their done runs when their loop next runs), then stops the
 * threads. Accepts NULL. */
void workpool_free(struct workpool *p);

/* Queues job: run on a pool thread, then done on base's loop. Returns 0, DH_ERR_TOOBIG
 * when max_queue jobs wait already, DH_ERR_NOMEM; on failure nothing is queued and
 * neither function runs. */
int workpool_submit(struct workpool *p, struct event_base *base, struct workpool_job *job,
                    workpool_run_fn *run, workpool_done_fn *done) DH_MUST_CHECK;

/* Frees what workpool_submit allocated for a job whose done did not run (a job never
 * submitted, or one dropped with its loop). Accepts a zeroed job. */
void workpool_job_deinit(struct workpool_job *job);

/* Jobs waiting for a thread now (for the metrics). */
int workpool_queued(struct workpool *p);
