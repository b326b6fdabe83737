/* Unit tests for the metrics' counters and text format (metrics.c). */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "dockhand/metrics.h"

static void test_histogram_buckets(void)
{
    struct metric_hist h = {0};
    metric_hist_observe(&h, 0);              /* 0 s: the first bucket */
    metric_hist_observe(&h, 500000);         /* exactly 0.0005 s: le="0.0005" holds it */
    metric_hist_observe(&h, 500001);         /* just above: the next one */
    metric_hist_observe(&h, 10000000000ULL); /* exactly 10 s: the last bound */
    metric_hist_observe(&h, 10000000001ULL); /* above every bound: +Inf only */
    CHECK(metric_get(&h.bucket[0]) == 2);
    CHECK(metric_get(&h.bucket[1]) == 1);
    CHECK(metric_get(&h.bucket[METRIC_BUCKETS - 1]) == 1);
    CHECK(metric_get(&h.bucket[METRIC_BUCKETS]) == 1);
    CHECK(metric_get(&h.sum_ns) == 20000000001ULL + 1000001ULL);

    struct metric_hist_sum s = {0};
    metric_hist_sum_add(&s, &h);
    metric_hist_sum_add(&s, &h); /* two workers' worth */
    struct jsonw o;
    jsonw_init(&o);
    metric_hist_write(&o, "x_seconds", "route=\"token\"", &s);
    const char *t = jsonw_text(&o);
    CHECK(t && strstr(t, "x_seconds_bucket{route=\"token\",le=\"0.0005\"} 4\n"));
    CHECK(t && strstr(t, "x_seconds_bucket{route=\"token\",le=\"0.001\"} 6\n")); /* cumulative */
    CHECK(t && strstr(t, "x_seconds_bucket{route=\"token\",le=\"10\"} 8\n"));
    CHECK(t && strstr(t, "x_seconds_bucket{route=\"token\",le=\"+Inf\"} 10\n"));
    CHECK(t && strstr(t, "x_seconds_count{route=\"token\"} 10\n"));
    CHECK(t && strstr(t, "x_seconds_sum{route=\"token\"} 40.002000004\n"));
    jsonw_deinit(&o);
}

static void test_samples(void)
{
    struct jsonw o;
    jsonw_init(&o);
    metric_family(&o, "a_total", "counter", "Things.");
    metric_u64(&o, "a_total", NULL, UINT64_MAX);
    metric_u64(&o, "a_total", "k=\"v\"", 0);
    metric_f64(&o, "b_seconds", "", 0.25);
    /* strcmp, not CHECK_STR: the text's newlines would break the TAP lines */
    CHECK(strcmp(jsonw_text(&o), "# HELP a_total Things.\n# TYPE a_total counter\n"
                                 "a_total 18446744073709551615\na_total{k=\"v\"} 0\n"
                                 "b_seconds 0.25\n") == 0);
    jsonw_deinit(&o);

    jsonw_init(&o);
    metric_single(&o, "c_bytes", "gauge", "Size.", 42);
    CHECK(strcmp(jsonw_text(&o), "# HELP c_bytes Size.\n# TYPE c_bytes gauge\nc_bytes 42\n") == 0);
    jsonw_deinit(&o);

    metric_t c = 0;
    metric_add(&c, 3);
    metric_add_shared(&c, 4);
    CHECK(metric_get(&c) == 7);
}

static void test_process(void)
{
    struct jsonw o;
    jsonw_init(&o);
    metrics_process(&o);
    const char *t = jsonw_text(&o);
    CHECK(t && strstr(t, "\nprocess_resident_memory_bytes "));
    CHECK(t && strstr(t, "\nprocess_cpu_seconds_total "));
    CHECK(t && strstr(t, "\nprocess_open_fds "));
    CHECK(t && strstr(t, "\nprocess_max_fds "));
    CHECK(t && strstr(t, "\nprocess_start_time_seconds 1"));
    jsonw_deinit(&o);
}

int main(void)
{
    test_histogram_buckets();
    test_samples();
    test_process();
    return check_done();
}
