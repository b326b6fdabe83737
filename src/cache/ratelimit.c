#include "dockhand/ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#define PROBE 8

struct rl_slot {
    uint64_t key; /* 0: empty */
    time_t start;
    int count;
};

struct ratelimit {
    pthread_mutex_t lock;
    int window;
    uint64_t seed[2];
    struct rl_slot slots[RATELIMIT_SLOTS];
};

/* Seeded FNV-1a, finished with a splitmix64 round: cheap on the hot path, and the
 * per-process random seed keeps an attacker from aiming keys at one slot. */
static uint64_t key_hash(const struct ratelimit *rl, const char *key)
{
    uint64_t h = 0xcbf29ce484222325ull ^ rl->seed[0];
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    h ^= rl->seed[1];
    h += 0x9e3779b97f4a7c15ull;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h ? h : 1;
}

struct ratelimit *ratelimit_new(int window_seconds)
{
    struct ratelimit *rl = calloc(1, sizeof(*rl));
    if (!rl)
        return NULL;
    pthread_mutex_init(&rl->lock, NULL);
    rl->window = window_seconds;
    if (RAND_bytes((unsigned char *)rl->seed, sizeof(rl->seed)) != 1) {
        free(rl);
        return NULL;
    }
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

/* The slot holding h, or NULL. Caller holds the lock. */
static struct rl_slot *slot_find(struct ratelimit *rl, uint64_t h)
{
    for (int i = 0; i < PROBE; i++) {
        struct rl_slot *s = &rl->slots[(h + (uint64_t)i) % RATELIMIT_SLOTS];
        if (s->key == h)
            return s;
    }
    return NULL;
}

bool ratelimit_blocked(struct ratelimit *rl, const char *key, int limit, time_t now,
                       int *retry_after)
{
    uint64_t h = key_hash(rl, key);
    bool blocked = false;
    pthread_mutex_lock(&rl->lock);
    struct rl_slot *s = slot_find(rl, h);
    if (s && now - s->start < rl->window && s->count >= limit) {
        blocked = true;
        *retry_after = (int)(s->start + rl->window - now);
        if (*retry_after < 1)
            *retry_after = 1;
    }
    pthread_mutex_unlock(&rl->lock);
    return blocked;
}

void ratelimit_fail(struct ratelimit *rl, const char *key, time_t now)
{
    uint64_t h = key_hash(rl, key);
    pthread_mutex_lock(&rl->lock);
    struct rl_slot *s = slot_find(rl, h);
    if (!s) {
        /* Take an empty or expired slot, else the one with the fewest failures (then the
         * oldest window): a flood of names failing once each (issue 13: a million of
         * them) replaces its own keys, not the count of an attacker who keeps trying one
         * account or one address. */
        struct rl_slot *victim = NULL;
        for (int i = 0; i < PROBE; i++) {
            struct rl_slot *c = &rl->slots[(h + (uint64_t)i) % RATELIMIT_SLOTS];
            if (c->key == 0 || now - c->start >= rl->window) {
                victim = c;
                break;
            }
            if (!victim || c->count < victim->count ||
                (c->count == victim->count && c->start < victim->start))
                victim = c;
        }
        s = victim;
        s->key = h;
        s->start = now;
        s->count = 0;
    } else if (now - s->start >= rl->window) {
        s->start = now;
        s->count = 0;
    }
    s->count++;
    pthread_mutex_unlock(&rl->lock);
}

void ratelimit_clear(struct ratelimit *rl, const char *key)
{
    uint64_t h = key_hash(rl, key);
    pthread_mutex_lock(&rl->lock);
    struct rl_slot *s = slot_find(rl, h);
    if (s)
        memset(s, 0, sizeof(*s));
    pthread_mutex_unlock(&rl->lock);
}

size_t ratelimit_entries(struct ratelimit *rl, time_t now)
{
    size_t n = 0;
    pthread_mutex_lock(&rl->lock);
    for (size_t i = 0; i < RATELIMIT_SLOTS; i++)
        n += rl->slots[i].key != 0 && now - rl->slots[i].start < rl->window;
    pthread_mutex_unlock(&rl->lock);
    return n;
}
