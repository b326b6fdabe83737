#include "dockhand/metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

const double metric_bucket_bounds[METRIC_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

void metric_hist_observe(struct metric_hist *h, uint64_t ns)
{
    double s = (double)ns / 1e9;
    int i = 0;
    while (i < METRIC_BUCKETS && s > metric_bucket_bounds[i])
        i++;
    metric_add(&h->bucket[i], 1);
    metric_add(&h->sum_ns, ns);
}

void metric_hist_sum_add(struct metric_hist_sum *dst, const struct metric_hist *h)
{
    for (int i = 0; i <= METRIC_BUCKETS; i++)
        dst->bucket[i] += metric_get(&h->bucket[i]);
    dst->sum_ns += metric_get(&h->sum_ns);
}

void metric_family(struct jsonw *o, const char *name, const char *type, const char *help)
{
    jsonw_raw(o, "# HELP ");
    jsonw_raw(o, name);
    jsonw_raw(o, " ");
    jsonw_raw(o, help);
    jsonw_raw(o, "\n# TYPE ");
    jsonw_raw(o, name);
    jsonw_raw(o, " ");
    jsonw_raw(o, type);
    jsonw_raw(o, "\n");
}

static void sample_name(struct jsonw *o, const char *name, const char *labels)
{
    jsonw_raw(o, name);
    if (labels && *labels) {
        jsonw_raw(o, "{");
        jsonw_raw(o, labels);
        jsonw_raw(o, "}");
    }
    jsonw_raw(o, " ");
}

void metric_u64(struct jsonw *o, const char *name, const char *labels, uint64_t v)
{
    char buf[24];
    sample_name(o, name, labels);
    snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)v);
    jsonw_raw(o, buf);
}

void metric_f64(struct jsonw *o, const char *name, const char *labels, double v)
{
    char buf[40];
    sample_name(o, name, labels);
    snprintf(buf, sizeof(buf), "%.15g\n", v);
    jsonw_raw(o, buf);
}

void metric_single(struct jsonw *o, const char *name, const char *type, const char *help,
                   uint64_t v)
{
    metric_family(o, name, type, help);
    metric_u64(o, name, NULL, v);
}

void metric_hist_write(struct jsonw *o, const char *name, const char *labels,
                       const struct metric_hist_sum *h)
{
    char sname[128], lbuf[256];
    uint64_t cum = 0;
    snprintf(sname, sizeof(sname), "%s_bucket", name);
    for (int i = 0; i <= METRIC_BUCKETS; i++) {
        cum += h->bucket[i];
        char le[24];
        if (i < METRIC_BUCKETS)
            snprintf(le, sizeof(le), "%g", metric_bucket_bounds[i]);
        else
            snprintf(le, sizeof(le), "+Inf");
        snprintf(lbuf, sizeof(lbuf), "%s%sle=\"%s\"", labels ? labels : "",
                 labels && *labels ? "," : "", le);
        metric_u64(o, sname, lbuf, cum);
    }
    snprintf(sname, sizeof(sname), "%s_sum", name);
    metric_f64(o, sname, labels, (double)h->sum_ns / 1e9);
    snprintf(sname, sizeof(sname), "%s_count", name);
    metric_u64(o, sname, labels, cum);
}

/* Field n (1-based) of /proc/self/stat, counting from after the command's ")". */
static bool stat_fields(unsigned long long *utime, unsigned long long *stime,
                        unsigned long long *start, unsigned long long *vsize, long long *rss)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    /* fields 3.. after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime(14) stime(15) cutime cstime priority nice threads itrealvalue
     * starttime(22) vsize(23) rss(24) */
    return p && sscanf(p + 2,
                       "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
                       "%*d %*d %llu %llu %lld",
                       utime, stime, start, vsize, rss) == 5;
}

static double boot_time(void)
{
    char line[256];
    double t = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "btime %lf", &t) == 1)
            break;
    fclose(f);
    return t;
}

void metrics_process(struct jsonw *o)
{
    unsigned long long utime, stime, start, vsize;
    long long rss;
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    if (tick > 0 && page > 0 && stat_fields(&utime, &stime, &start, &vsize, &rss)) {
        metric_family(o, "process_cpu_seconds_total", "counter",
                      "Total user and system CPU time spent in seconds.");
        metric_f64(o, "process_cpu_seconds_total", NULL, (double)(utime + stime) / (double)tick);
        metric_family(o, "process_resident_memory_bytes", "gauge",
                      "Resident memory size in bytes.");
        metric_u64(o, "process_resident_memory_bytes", NULL, (uint64_t)rss * (uint64_t)page);
        metric_family(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
        metric_u64(o, "process_virtual_memory_bytes", NULL, vsize);
        double bt = boot_time();
        if (bt > 0) {
            metric_family(o, "process_start_time_seconds", "gauge",
                          "Start time of the process since unix epoch in seconds.");
            metric_f64(o, "process_start_time_seconds", NULL, bt + (double)start / (double)tick);
        }
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        uint64_t n = 0;
        for (struct dirent *e; (e = readdir(d));)
            n += e->d_name[0] != '.';
        closedir(d);
        metric_family(o, "process_open_fds", "gauge", "Number of open file descriptors.");
        metric_u64(o, "process_open_fds", NULL, n > 0 ? n - 1 : 0); /* not opendir's own */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        metric_family(o, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
        metric_u64(o, "process_max_fds", NULL, (uint64_t)rl.rlim_cur);
    }
}
