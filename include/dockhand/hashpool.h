/* Secrets verified against stored hashes off the event loops, on a workpool (workpool.h):
 * a PBKDF2 that costs milliseconds must never stall a worker. */
#pragma once
#include <event2/event.h>
#include "dockhand/common.h"

#define HASHPOOL_MAX_QUEUE 4096 /* waiting jobs before refusing */

struct workpool;

/* result: 1 match, 0 mismatch, <0 malformed hash. Runs on the submitting loop. */
typedef void (*hashpool_cb)(int result, void *arg);

/* A workpool of threads for hashpool_verify; workpool_free stops it after the queued jobs
 * finish. */
struct workpool *hashpool_new(int threads);

/* Verifies secret against stored on a pool thread (secret_verify_even: a refusal, or
 * refused, costs the slow iterations), then runs cb(result, arg) on base's loop
 * (thread-safe hand-back). secret and stored are copied; the copy of the secret is
 * wiped. Returns 0, or DH_ERR_TOOBIG when the queue is full, DH_ERR_NOMEM. */
int hashpool_verify(struct workpool *pool, struct event_base *base, const char *secret,
                    size_t secret_len, const char *stored, bool refused, hashpool_cb cb,
                    void *arg) DH_MUST_CHECK;
