#include "dockhand/credcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <openssl/evp.h>

#include "dockhand/metrics.h"

struct cc_entry {
    unsigned char key[CREDCACHE_KEY_LEN];
    int64_t robot_id;
    int version;
    struct cc_entry *hnext;    /* hash chain */
    TAILQ_ENTRY(cc_entry) lru; /* most recent first */
};

struct credcache {
    pthread_mutex_t lock;
    size_t cap, n, nbuckets;
    uint64_t hits, misses, evictions;
    struct cc_entry **buckets;
    TAILQ_HEAD(cc_lru, cc_entry) lru;
};

/* SHA-256 fetched once: an implicit fetch (EVP_sha256()) looks the algorithm up in the
 * provider tables at every call, which showed in the warm path's profile. */
static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void credcache_key(const char *login, const char *secret, size_t secret_len,
                   unsigned char key[CREDCACHE_KEY_LEN])
{
    pthread_once(&sha256_once, sha256_fetch);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int len = CREDCACHE_KEY_LEN;
    if (!c || !sha256 || EVP_DigestInit_ex(c, sha256, NULL) != 1 ||
        EVP_DigestUpdate(c, login, strlen(login) + 1) != 1 || /* with its NUL */
        EVP_DigestUpdate(c, secret, secret_len) != 1 || EVP_DigestFinal_ex(c, key, &len) != 1)
        memset(key, 0, CREDCACHE_KEY_LEN); /* an all-zero key is never stored */
    EVP_MD_CTX_free(c);
}

static bool key_zero(const unsigned char *key)
{
    unsigned char acc = 0;
    for (int i = 0; i < CREDCACHE_KEY_LEN; i++)
        acc |= key[i];
    return acc == 0;
}

struct credcache *credcache_new(size_t cap)
{
    struct credcache *cc = calloc(1, sizeof(*cc));
    if (!cc)
        return NULL;
    pthread_mutex_init(&cc->lock, NULL);
    TAILQ_INIT(&cc->lru);
    cc->cap = cap;
    cc->nbuckets = 64;
    while (cc->nbuckets < cap)
        cc->nbuckets <<= 1;
    cc->buckets = calloc(cc->nbuckets, sizeof(*cc->buckets));
    if (!cc->buckets) {
        free(cc);
        return NULL;
    }
    return cc;
}

void credcache_free(struct credcache *cc)
{
    if (!cc)
        return;
    for (struct cc_entry *e = TAILQ_FIRST(&cc->lru), *next; e; e = next) {
        next = TAILQ_NEXT(e, lru);
        free(e);
    }
    free(cc->buckets);
    pthread_mutex_destroy(&cc->lock);
    free(cc);
}

static size_t bucket_of(const struct credcache *cc, const unsigned char *key)
{
    size_t h;
    memcpy(&h, key, sizeof(h));
    return h & (cc->nbuckets - 1);
}

static struct cc_entry **chain_find(struct credcache *cc, const unsigned char *key)
{
    struct cc_entry **pp = &cc->buckets[bucket_of(cc, key)];
    while (*pp && memcmp((*pp)->key, key, CREDCACHE_KEY_LEN) != 0)
        pp = &(*pp)->hnext;
    return pp;
}

static void entry_remove(struct credcache *cc, struct cc_entry *e)
{
    struct cc_entry **pp = chain_find(cc, e->key);
    if (*pp == e)
        *pp = e->hnext;
    TAILQ_REMOVE(&cc->lru, e, lru);
    cc->n--;
    free(e);
}

bool credcache_check(struct credcache *cc, const unsigned char key[CREDCACHE_KEY_LEN],
                     int64_t robot_id, int version)
{
    bool hit = false;
    if (cc->cap == 0 || key_zero(key))
        return false;
    pthread_mutex_lock(&cc->lock);
    struct cc_entry *e = *chain_find(cc, key);
    if (e && e->robot_id == robot_id && e->version == version) {
        hit = true;
        TAILQ_REMOVE(&cc->lru, e, lru);
        TAILQ_INSERT_HEAD(&cc->lru, e, lru);
    }
    if (hit)
        cc->hits++;
    else
        cc->misses++;
    pthread_mutex_unlock(&cc->lock);
    return hit;
}

void credcache_put(struct credcache *cc, const unsigned char key[CREDCACHE_KEY_LEN],
                   int64_t robot_id, int version)
{
    if (cc->cap == 0 || key_zero(key))
        return;
    pthread_mutex_lock(&cc->lock);
    struct cc_entry **pp = chain_find(cc, key);
    struct cc_entry *e = *pp;
    if (e) {
        TAILQ_REMOVE(&cc->lru, e, lru);
    } else {
        if (cc->n >= cc->cap) {
            entry_remove(cc, TAILQ_LAST(&cc->lru, cc_lru));
            cc->evictions++;
        }
        e = calloc(1, sizeof(*e));
        if (!e) {
            pthread_mutex_unlock(&cc->lock);
            return;
        }
        memcpy(e->key, key, CREDCACHE_KEY_LEN);
        pp = chain_find(cc, key);
        *pp = e;
        cc->n++;
    }
    e->robot_id = robot_id;
    e->version = version;
    TAILQ_INSERT_HEAD(&cc->lru, e, lru);
    pthread_mutex_unlock(&cc->lock);
}

size_t credcache_size(struct credcache *cc)
{
    pthread_mutex_lock(&cc->lock);
    size_t n = cc->n;
    pthread_mutex_unlock(&cc->lock);
    return n;
}

void credcache_stats(struct credcache *cc, struct cache_stats *s)
{
    pthread_mutex_lock(&cc->lock);
    *s = (struct cache_stats){cc->hits, cc->misses, cc->evictions, cc->n};
    pthread_mutex_unlock(&cc->lock);
}
