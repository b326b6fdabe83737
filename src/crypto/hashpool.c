#include "dockhand/hashpool.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "dockhand/secret.h"
#include "dockhand/workpool.h"

struct hashjob {
    struct workpool_job job; /* first: the pool hands it back */
    char *secret;
    size_t secret_len;
    char *stored;
    bool refused;
    int result;
    hashpool_cb cb;
    void *arg;
};

static void job_free(struct hashjob *j)
{
    if (j->secret) {
        OPENSSL_cleanse(j->secret, j->secret_len);
        free(j->secret);
    }
    free(j->stored);
    workpool_job_deinit(&j->job);
    free(j);
}

static void job_run(struct workpool_job *job, void **thread_state)
{
    struct hashjob *j = (struct hashjob *)job;
    j->result = secret_verify_even(j->secret, j->secret_len, j->stored, j->refused);
    OPENSSL_cleanse(j->secret, j->secret_len);
}

static void job_done(struct workpool_job *job)
{
    struct hashjob *j = (struct hashjob *)job;
    j->cb(j->result, j->arg);
    job_free(j);
}

struct workpool *hashpool_new(int threads)
{
    return workpool_new(threads, HASHPOOL_MAX_QUEUE, NULL);
}

int hashpool_verify(struct workpool *pool, struct event_base *base, const char *secret,
                    size_t secret_len, const char *stored, bool refused, hashpool_cb cb, void *arg)
{
    struct hashjob *j = calloc(1, sizeof(*j));
    if (!j)
        return DH_ERR_NOMEM;
    j->secret = malloc(secret_len + 1);
    j->stored = strdup(stored);
    if (!j->secret || !j->stored) {
        job_free(j);
        return DH_ERR_NOMEM;
    }
    memcpy(j->secret, secret, secret_len);
    j->secret[secret_len] = '\0';
    j->secret_len = secret_len;
    j->refused = refused;
    j->cb = cb;
    j->arg = arg;
    int rc = workpool_submit(pool, base, &j->job, job_run, job_done);
    if (rc < 0)
        job_free(j);
    return rc;
}
