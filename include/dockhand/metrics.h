/* Prometheus metrics: counters kept where the work happens and read at scrape time, and
 * the text exposition format (version 0.0.4) written from them. Names follow Prometheus'
 * conventions (base units, `_total` counters, `_seconds` histograms); label values are
 * fixed sets, never a robot, repository or address (README "Metrics").
 *
 * A counter with one writer (a worker's own loop) is bumped with a relaxed load and store:
 * no locked instruction on the token path; the scraper reads it with a relaxed load and
 * sums the workers'. Counters several threads write use metric_add_shared. */
#pragma once
#include <stdatomic.h>
#include <stdint.h>
#include "dockhand/common.h"
#include "dockhand/jsonw.h"

typedef _Atomic uint64_t metric_t;

/* One writer only. */
static inline void metric_add(metric_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline void metric_add_shared(metric_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t metric_get(const metric_t *c)
{
    return atomic_load_explicit((metric_t *)c, memory_order_relaxed);
}

/* Request durations: upper bounds in seconds, then +Inf. */
#define METRIC_BUCKETS 14
extern const double metric_bucket_bounds[METRIC_BUCKETS];

/* A histogram with one writer: per-bucket counts (not cumulative) and the sum. */
struct metric_hist {
    metric_t bucket[METRIC_BUCKETS + 1]; /* the last one: above every bound */
    metric_t sum_ns;
};

void metric_hist_observe(struct metric_hist *h, uint64_t ns);

/* A histogram being summed for a scrape. */
struct metric_hist_sum {
    uint64_t bucket[METRIC_BUCKETS + 1];
    uint64_t sum_ns;
};

void metric_hist_sum_add(struct metric_hist_sum *dst, const struct metric_hist *h);

/* "# HELP name help\n# TYPE name type\n". */
void metric_family(struct jsonw *o, const char *name, const char *type, const char *help);

/* "name{labels} value\n" (labels: 'k="v",k2="v2"', or NULL for none). Label values are
 * the caller's constants: nothing here escapes them. */
void metric_u64(struct jsonw *o, const char *name, const char *labels, uint64_t v);
void metric_f64(struct jsonw *o, const char *name, const char *labels, double v);

/* A family of one unlabelled sample: its HELP and TYPE lines, then the sample. */
void metric_single(struct jsonw *o, const char *name, const char *type, const char *help,
                   uint64_t v);

/* The _bucket (cumulative, le="..."), _sum and _count lines of a histogram family. */
void metric_hist_write(struct jsonw *o, const char *name, const char *labels,
                       const struct metric_hist_sum *h);

/* process_* metrics as Prometheus' client libraries export them, from /proc/self:
 * resident and virtual memory, CPU seconds, open and maximum file descriptors, start
 * time. What cannot be read is left out. */
void metrics_process(struct jsonw *o);

/* What a cache reports to the metrics (counted under the cache's own lock). */
struct cache_stats {
    uint64_t hits, misses, evictions;
    uint64_t entries;
};
