#include "dockhand/hashpool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <openssl/crypto.h>

#include "dockhand/secret.h"

struct hashjob {
    STAILQ_ENTRY(hashjob) link;
    char *secret;
    size_t secret_len;
    char *stored;
    int result;
    hashpool_cb cb;
    void *arg;
    struct event *done; /* activated from the pool thread, runs on the submitter's loop */
};

struct hashpool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    STAILQ_HEAD(, hashjob) jobs;
    int queued;
    bool stopping;
    int nthreads;
    pthread_t *threads;
};

static void job_free(struct hashjob *j)
{
    if (j->secret) {
        OPENSSL_cleanse(j->secret, j->secret_len);
        free(j->secret);
    }
    free(j->stored);
    if (j->done)
        event_free(j->done);
    free(j);
}

static void job_done(evutil_socket_t fd, short what, void *arg)
{
    struct hashjob *j = arg;
    j->cb(j->result, j->arg);
    job_free(j);
}

static void *hash_thread(void *arg)
{
    struct hashpool *hp = arg;
    for (;;) {
        pthread_mutex_lock(&hp->lock);
        while (STAILQ_EMPTY(&hp->jobs) && !hp->stopping)
            pthread_cond_wait(&hp->cond, &hp->lock);
        struct hashjob *j = STAILQ_FIRST(&hp->jobs);
        if (!j) {
            pthread_mutex_unlock(&hp->lock);
            return NULL;
        }
        STAILQ_REMOVE_HEAD(&hp->jobs, link);
        hp->queued--;
        pthread_mutex_unlock(&hp->lock);

        j->result = secret_verify(j->secret, j->secret_len, j->stored);
        OPENSSL_cleanse(j->secret, j->secret_len);
        event_active(j->done, 0, 0);
    }
}

struct hashpool *hashpool_new(int threads)
{
    struct hashpool *hp = calloc(1, sizeof(*hp));
    if (!hp)
        return NULL;
    pthread_mutex_init(&hp->lock, NULL);
    pthread_cond_init(&hp->cond, NULL);
    STAILQ_INIT(&hp->jobs);
    hp->threads = calloc((size_t)threads, sizeof(pthread_t));
    if (!hp->threads) {
        free(hp);
        return NULL;
    }
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&hp->threads[i], NULL, hash_thread, hp) != 0)
            break;
        hp->nthreads++;
    }
    if (hp->nthreads == 0) {
        hashpool_free(hp);
        return NULL;
    }
    return hp;
}

void hashpool_free(struct hashpool *hp)
{
    if (!hp)
        return;
    pthread_mutex_lock(&hp->lock);
    hp->stopping = true;
    pthread_cond_broadcast(&hp->cond);
    pthread_mutex_unlock(&hp->lock);
    for (int i = 0; i < hp->nthreads; i++)
        pthread_join(hp->threads[i], NULL);
    free(hp->threads);
    pthread_mutex_destroy(&hp->lock);
    pthread_cond_destroy(&hp->cond);
    free(hp);
}

int hashpool_verify(struct hashpool *hp, struct event_base *base, const char *secret,
                    size_t secret_len, const char *stored, hashpool_cb cb, void *arg)
{
    struct hashjob *j = calloc(1, sizeof(*j));
    if (!j)
        return DH_ERR_NOMEM;
    j->secret = malloc(secret_len + 1);
    j->stored = strdup(stored);
    j->done = event_new(base, -1, 0, job_done, j);
    if (!j->secret || !j->stored || !j->done) {
        job_free(j);
        return DH_ERR_NOMEM;
    }
    memcpy(j->secret, secret, secret_len);
    j->secret[secret_len] = '\0';
    j->secret_len = secret_len;
    j->cb = cb;
    j->arg = arg;

    pthread_mutex_lock(&hp->lock);
    if (hp->queued >= HASHPOOL_MAX_QUEUE) {
        pthread_mutex_unlock(&hp->lock);
        job_free(j);
        return DH_ERR_TOOBIG;
    }
    STAILQ_INSERT_TAIL(&hp->jobs, j, link);
    hp->queued++;
    pthread_cond_signal(&hp->cond);
    pthread_mutex_unlock(&hp->lock);
    return 0;
}
