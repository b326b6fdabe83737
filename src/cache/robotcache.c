#include "dockhand/robotcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "dockhand/clock.h"
#include "dockhand/metrics.h"

struct rc_proj {
    char *name;
    unsigned bits;
    uint64_t pgen; /* the project generation it was read at */
};

struct rc_entry {
    struct rc_robot r;
    uint64_t loaded_ms;
    struct rc_proj *proj;
    size_t nproj, capproj, next_slot;
    struct rc_entry *name_next, *id_next; /* hash chains */
    TAILQ_ENTRY(rc_entry) lru;            /* most recent first */
};

/* A login no robot has, as read at generation gen (direct-mapped, overwritten freely). */
struct rc_unknown {
    char *login;
    uint64_t gen, loaded_ms;
};

struct robotcache {
    pthread_mutex_t lock;
    struct rc_unknown unknown[ROBOTCACHE_UNKNOWN];
    size_t cap, n, nbuckets, bytes;
    uint64_t ttl_ms;
    uint64_t gen, pgen;
    uint64_t hits, misses, evictions;
    struct rc_entry **by_name, **by_id;
    TAILQ_HEAD(rc_lru, rc_entry) lru;
};

static size_t hash_name(const struct robotcache *rc, const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 29)) & (rc->nbuckets - 1);
}

static size_t hash_id(const struct robotcache *rc, int64_t id)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 17) & (rc->nbuckets - 1);
}

struct robotcache *robotcache_new(size_t cap, int ttl_ms)
{
    struct robotcache *rc = calloc(1, sizeof(*rc));
    if (!rc)
        return NULL;
    pthread_mutex_init(&rc->lock, NULL);
    TAILQ_INIT(&rc->lru);
    rc->cap = cap;
    rc->ttl_ms = ttl_ms > 0 ? (uint64_t)ttl_ms : 0;
    rc->nbuckets = 64;
    while (rc->nbuckets < cap)
        rc->nbuckets <<= 1;
    rc->by_name = calloc(rc->nbuckets, sizeof(*rc->by_name));
    rc->by_id = calloc(rc->nbuckets, sizeof(*rc->by_id));
    if (!rc->by_name || !rc->by_id) {
        robotcache_free(rc);
        return NULL;
    }
    return rc;
}

void rc_robot_deinit(struct rc_robot *r)
{
    if (!r)
        return;
    free(r->full_name);
    free(r->secret_hash);
    free(r->networks);
    free(r->federation);
    r->full_name = r->secret_hash = r->federation = NULL;
    r->networks = NULL;
    r->nnetworks = 0;
}

static size_t entry_bytes(const struct rc_entry *e)
{
    size_t b = sizeof(*e) + strlen(e->r.full_name) + 1 + strlen(e->r.secret_hash) + 1 +
               e->capproj * sizeof(*e->proj) + e->r.nnetworks * sizeof(*e->r.networks) +
               (e->r.federation ? strlen(e->r.federation) + 1 : 0);
    for (size_t i = 0; i < e->nproj; i++)
        b += strlen(e->proj[i].name) + 1;
    return b;
}

static void entry_free(struct rc_entry *e)
{
    for (size_t i = 0; i < e->nproj; i++)
        free(e->proj[i].name);
    free(e->proj);
    rc_robot_deinit(&e->r);
    free(e);
}

/* A copy of r's networks in *out (NULL when none): 0 or -1. */
static int networks_dup(const struct rc_robot *r, struct cidr **out)
{
    *out = NULL;
    if (r->nnetworks == 0)
        return 0;
    *out = malloc(r->nnetworks * sizeof(**out));
    if (!*out)
        return -1;
    memcpy(*out, r->networks, r->nnetworks * sizeof(**out));
    return 0;
}

/* Only robots are found by name: the anonymous entry (id 0) must never answer a login. */
static bool named(const struct rc_entry *e)
{
    return e->r.id != 0;
}

static struct rc_entry *find_name(struct robotcache *rc, const char *login)
{
    struct rc_entry *e = rc->by_name[hash_name(rc, login)];
    while (e && strcmp(e->r.full_name, login) != 0)
        e = e->name_next;
    return e;
}

static struct rc_entry *find_id(struct robotcache *rc, int64_t id)
{
    struct rc_entry *e = rc->by_id[hash_id(rc, id)];
    while (e && e->r.id != id)
        e = e->id_next;
    return e;
}

static void entry_remove(struct robotcache *rc, struct rc_entry *e)
{
    struct rc_entry **pp;
    if (named(e)) {
        for (pp = &rc->by_name[hash_name(rc, e->r.full_name)]; *pp && *pp != e;
             pp = &(*pp)->name_next)
            ;
        if (*pp)
            *pp = e->name_next;
    }
    for (pp = &rc->by_id[hash_id(rc, e->r.id)]; *pp && *pp != e; pp = &(*pp)->id_next)
        ;
    if (*pp)
        *pp = e->id_next;
    TAILQ_REMOVE(&rc->lru, e, lru);
    rc->n--;
    rc->bytes -= entry_bytes(e);
    entry_free(e);
}

void robotcache_free(struct robotcache *rc)
{
    if (!rc)
        return;
    for (struct rc_entry *e = TAILQ_FIRST(&rc->lru), *next; e; e = next) {
        next = TAILQ_NEXT(e, lru);
        entry_free(e);
    }
    for (size_t i = 0; i < ROBOTCACHE_UNKNOWN; i++)
        free(rc->unknown[i].login);
    free(rc->by_name);
    free(rc->by_id);
    pthread_mutex_destroy(&rc->lock);
    free(rc);
}

bool robotcache_get_unknown(struct robotcache *rc, const char *login)
{
    if (rc->cap == 0)
        return false;
    pthread_mutex_lock(&rc->lock);
    const struct rc_unknown *u = &rc->unknown[hash_name(rc, login) % ROBOTCACHE_UNKNOWN];
    bool hit = u->login && u->gen == rc->gen && clock_mono_ms() - u->loaded_ms < rc->ttl_ms &&
               strcmp(u->login, login) == 0;
    pthread_mutex_unlock(&rc->lock);
    return hit;
}

void robotcache_put_unknown(struct robotcache *rc, uint64_t gen, const char *login)
{
    if (rc->cap == 0)
        return;
    char *copy = strdup(login);
    if (!copy)
        return;
    pthread_mutex_lock(&rc->lock);
    if (gen == rc->gen) {
        struct rc_unknown *u = &rc->unknown[hash_name(rc, login) % ROBOTCACHE_UNKNOWN];
        free(u->login);
        u->login = copy;
        u->gen = gen;
        u->loaded_ms = clock_mono_ms();
        copy = NULL;
    }
    pthread_mutex_unlock(&rc->lock);
    free(copy);
}

uint64_t robotcache_generation(struct robotcache *rc)
{
    pthread_mutex_lock(&rc->lock);
    uint64_t g = rc->gen;
    pthread_mutex_unlock(&rc->lock);
    return g;
}

static bool fresh(const struct robotcache *rc, const struct rc_entry *e, uint64_t now)
{
    return now - e->loaded_ms < rc->ttl_ms;
}

static const struct rc_proj *slot_find(const struct robotcache *rc, const struct rc_entry *e,
                                       const char *name)
{
    for (size_t i = 0; i < e->nproj; i++)
        if (e->proj[i].pgen == rc->pgen && strcmp(e->proj[i].name, name) == 0)
            return &e->proj[i];
    return NULL;
}

bool robotcache_get(struct robotcache *rc, const char *login, int64_t id,
                    const char *const *projects, size_t n, struct rc_robot *out, unsigned *bits)
{
    bool hit = false;
    if (rc->cap == 0)
        return false;
    pthread_mutex_lock(&rc->lock);
    struct rc_entry *e = login ? find_name(rc, login) : find_id(rc, id);
    if (!e)
        goto out;
    if (!fresh(rc, e, clock_mono_ms())) {
        entry_remove(rc, e);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct rc_proj *p = slot_find(rc, e, projects[i]);
        if (!p)
            goto out;
        bits[i] = p->bits;
    }
    *out = e->r;
    out->full_name = strdup(e->r.full_name);
    out->secret_hash = strdup(e->r.secret_hash);
    out->federation = e->r.federation ? strdup(e->r.federation) : NULL;
    if (networks_dup(&e->r, &out->networks) < 0 || !out->full_name || !out->secret_hash ||
        (e->r.federation && !out->federation)) {
        rc_robot_deinit(out);
        goto out;
    }
    TAILQ_REMOVE(&rc->lru, e, lru);
    TAILQ_INSERT_HEAD(&rc->lru, e, lru);
    hit = true;
out:
    if (hit)
        rc->hits++;
    else
        rc->misses++;
    pthread_mutex_unlock(&rc->lock);
    return hit;
}

static int slot_set(struct robotcache *rc, struct rc_entry *e, const char *name, unsigned bits)
{
    struct rc_proj *p = NULL;
    for (size_t i = 0; i < e->nproj && !p; i++)
        if (strcmp(e->proj[i].name, name) == 0)
            p = &e->proj[i];
    if (!p && e->nproj < ROBOTCACHE_PROJECTS) {
        if (e->nproj == e->capproj) { /* most robots ask about one or two projects */
            size_t cap = e->capproj ? e->capproj * 2 : 2;
            struct rc_proj *np = realloc(e->proj, cap * sizeof(*np));
            if (!np)
                return -1;
            rc->bytes += (cap - e->capproj) * sizeof(*np);
            e->proj = np;
            e->capproj = cap;
        }
        p = &e->proj[e->nproj++];
        p->name = NULL;
    } else if (!p) {
        p = &e->proj[e->next_slot];
        e->next_slot = (e->next_slot + 1) % ROBOTCACHE_PROJECTS;
        rc->bytes -= strlen(p->name) + 1;
        free(p->name);
        p->name = NULL;
    }
    if (!p->name) {
        p->name = strdup(name);
        if (!p->name) { /* drop the slot: the entry stays consistent */
            *p = e->proj[--e->nproj];
            return -1;
        }
        rc->bytes += strlen(name) + 1;
    }
    p->bits = bits;
    p->pgen = rc->pgen;
    return 0;
}

static struct rc_entry *entry_new(struct robotcache *rc, const struct rc_robot *r, uint64_t now)
{
    struct rc_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->r = *r;
    e->r.full_name = strdup(r->full_name ? r->full_name : "");
    e->r.secret_hash = strdup(r->secret_hash ? r->secret_hash : "");
    e->r.federation = r->federation ? strdup(r->federation) : NULL;
    if (networks_dup(r, &e->r.networks) < 0 || !e->r.full_name || !e->r.secret_hash ||
        (r->federation && !e->r.federation)) {
        entry_free(e);
        return NULL;
    }
    e->loaded_ms = now;
    struct rc_entry *same = named(e) ? find_name(rc, e->r.full_name) : NULL;
    if (same) /* a robot deleted and re-created while a notification was lost */
        entry_remove(rc, same);
    if (rc->n >= rc->cap) {
        entry_remove(rc, TAILQ_LAST(&rc->lru, rc_lru));
        rc->evictions++;
    }
    if (named(e)) {
        size_t b = hash_name(rc, e->r.full_name);
        e->name_next = rc->by_name[b];
        rc->by_name[b] = e;
    }
    size_t b = hash_id(rc, e->r.id);
    e->id_next = rc->by_id[b];
    rc->by_id[b] = e;
    rc->n++;
    rc->bytes += entry_bytes(e);
    TAILQ_INSERT_HEAD(&rc->lru, e, lru);
    return e;
}

void robotcache_put(struct robotcache *rc, uint64_t gen, const struct rc_robot *r,
                    const char *const *projects, const unsigned *bits, size_t n)
{
    if (rc->cap == 0)
        return;
    uint64_t now = clock_mono_ms();
    pthread_mutex_lock(&rc->lock);
    if (gen != rc->gen)
        goto out;
    struct rc_entry *e = find_id(rc, r->id);
    /* An entry past its TTL, or one that no longer matches what was read, starts over:
     * its project answers must not outlive the TTL either. */
    if (e && (!fresh(rc, e, now) || strcmp(e->r.full_name, r->full_name ? r->full_name : "") ||
              strcmp(e->r.secret_hash, r->secret_hash ? r->secret_hash : "") ||
              e->r.cred_version != r->cred_version || e->r.disabled != r->disabled ||
              e->r.expires_at != r->expires_at || e->r.catalog != r->catalog ||
              e->r.token_minutes != r->token_minutes || e->r.nnetworks != r->nnetworks ||
              (r->nnetworks &&
               memcmp(e->r.networks, r->networks, r->nnetworks * sizeof(*r->networks))) ||
              strcmp(e->r.federation ? e->r.federation : "", r->federation ? r->federation : ""))) {
        entry_remove(rc, e);
        e = NULL;
    }
    if (!e)
        e = entry_new(rc, r, now);
    if (!e)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (slot_set(rc, e, projects[i], bits[i]) < 0)
            break;
out:
    pthread_mutex_unlock(&rc->lock);
}

void robotcache_forget_robot(struct robotcache *rc, int64_t id)
{
    pthread_mutex_lock(&rc->lock);
    rc->gen++;
    struct rc_entry *e = find_id(rc, id);
    if (e)
        entry_remove(rc, e);
    pthread_mutex_unlock(&rc->lock);
}

void robotcache_projects_changed(struct robotcache *rc)
{
    pthread_mutex_lock(&rc->lock);
    rc->gen++;
    rc->pgen++;
    pthread_mutex_unlock(&rc->lock);
}

void robotcache_clear(struct robotcache *rc)
{
    pthread_mutex_lock(&rc->lock);
    rc->gen++;
    while (!TAILQ_EMPTY(&rc->lru))
        entry_remove(rc, TAILQ_FIRST(&rc->lru));
    pthread_mutex_unlock(&rc->lock);
}

size_t robotcache_size(struct robotcache *rc)
{
    pthread_mutex_lock(&rc->lock);
    size_t n = rc->n;
    pthread_mutex_unlock(&rc->lock);
    return n;
}

void robotcache_stats(struct robotcache *rc, struct cache_stats *s)
{
    pthread_mutex_lock(&rc->lock);
    *s = (struct cache_stats){rc->hits, rc->misses, rc->evictions, rc->n};
    pthread_mutex_unlock(&rc->lock);
}

size_t robotcache_bytes(struct robotcache *rc)
{
    pthread_mutex_lock(&rc->lock);
    size_t b = rc->bytes;
    pthread_mutex_unlock(&rc->lock);
    return b;
}
