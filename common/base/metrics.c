/* A small Prometheus registry: families in an array sorted by name, each
 * family's series in an array sorted by label text, so lookups are binary
 * searches and rendering is deterministic. One mutex guards everything;
 * updates are a lookup and an add, so contention stays short. Setters have
 * no way to report failure (out of memory, an invalid name, a type that
 * disagrees with the family's first use): such an update is dropped rather
 * than allowed to corrupt the exposition. */
#include "common/base/metrics.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double METRICS_LATENCY_BUCKETS[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,    0.25,  0.5,    1,     2.5,  5,    10};
const size_t METRICS_LATENCY_NBUCKETS =
    sizeof(METRICS_LATENCY_BUCKETS) / sizeof(METRICS_LATENCY_BUCKETS[0]);

typedef enum { MT_COUNTER, MT_GAUGE, MT_HISTOGRAM } metric_type_t;

typedef struct {
    char *labels;        /* pre-rendered label set, "" for none */
    double value;        /* counter / gauge */
    uint64_t *counts;    /* histogram: per-bucket (non-cumulative) counts, nbuckets + 1 (+Inf) */
    double sum;          /* histogram */
    uint64_t count;      /* histogram */
} series_t;

typedef struct {
    char *name;
    char *help;
    metric_type_t type;
    const double *buckets; /* histogram upper bounds (static storage), ascending */
    size_t nbuckets;
    series_t *series;      /* sorted by labels */
    size_t n, cap;
} family_t;

struct metrics {
    pthread_mutex_t lock;
    family_t *fams;        /* sorted by name */
    size_t n, cap;
    void (*collector)(metrics_t *m, void *ctx);
    void *collector_ctx;
};

metrics_t *metrics_new(void)
{
    metrics_t *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void metrics_free(metrics_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++) {
        family_t *f = &m->fams[i];
        for (size_t j = 0; j < f->n; j++) {
            free(f->series[j].labels);
            free(f->series[j].counts);
        }
        free(f->series);
        free(f->name);
        free(f->help);
    }
    free(m->fams);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* Prometheus metric names: [a-zA-Z_:][a-zA-Z0-9_:]*. */
static int name_is_valid(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return 0;
    for (const char *p = name; *p; p++) {
        char c = *p;
        int letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!letter && !(p != name && c >= '0' && c <= '9'))
            return 0;
    }
    return 1;
}

/* Grow an array of elem-sized items to hold one more; return 0 or -ENOMEM. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    if (ncap > SIZE_MAX / elem)
        return -ENOMEM;
    void *p = realloc(*arr, ncap * elem);
    if (p == NULL)
        return -ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

/* Binary search over n elements of size sz at base whose first member is
 * a `const char *` key, sorted by strcmp: index of the match, or of the
 * insertion point with *found = 0. */
static size_t find_sorted(const void *base, size_t n, size_t sz, const char *key, int *found)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *k = *(const char *const *)((const char *)base + mid * sz);
        int c = strcmp(k, key);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

_Static_assert(offsetof(family_t, name) == 0, "find_sorted keys on the first member");
_Static_assert(offsetof(series_t, labels) == 0, "find_sorted keys on the first member");

static size_t find_family(const metrics_t *m, const char *name, int *found)
{
    return find_sorted(m->fams, m->n, sizeof(m->fams[0]), name, found);
}

static size_t find_series(const family_t *f, const char *labels, int *found)
{
    return find_sorted(f->series, f->n, sizeof(f->series[0]), labels, found);
}

/* Find or create the series (name, labels) of the given type; NULL if it
 * cannot be had (bad name, type clash, out of memory). Called locked. */
static series_t *series_get(metrics_t *m, const char *name, const char *help, metric_type_t type,
                            const double *buckets, size_t nbuckets, const char *labels,
                            const family_t **fam)
{
    int found;
    size_t fi = find_family(m, name, &found);
    family_t *f;

    if (labels == NULL)
        labels = "";
    if (!found) {
        if (!name_is_valid(name))
            return NULL;
        if (grow((void **)&m->fams, &m->cap, m->n, sizeof *m->fams) != 0)
            return NULL;
        family_t nf = {0};
        nf.name = strdup(name);
        nf.help = strdup(help ? help : "");
        nf.type = type;
        nf.buckets = buckets;
        nf.nbuckets = nbuckets;
        if (nf.name == NULL || nf.help == NULL) {
            free(nf.name);
            free(nf.help);
            return NULL;
        }
        memmove(&m->fams[fi + 1], &m->fams[fi], (m->n - fi) * sizeof *m->fams);
        m->fams[fi] = nf;
        m->n++;
    }
    f = &m->fams[fi];
    if (f->type != type)
        return NULL;

    *fam = f;
    size_t si = find_series(f, labels, &found);
    if (found)
        return &f->series[si];
    if (grow((void **)&f->series, &f->cap, f->n, sizeof *f->series) != 0)
        return NULL;
    series_t ns = {0};
    ns.labels = strdup(labels);
    if (ns.labels == NULL)
        return NULL;
    if (type == MT_HISTOGRAM) {
        ns.counts = calloc(f->nbuckets + 1, sizeof *ns.counts);
        if (ns.counts == NULL) {
            free(ns.labels);
            return NULL;
        }
    }
    memmove(&f->series[si + 1], &f->series[si], (f->n - si) * sizeof *f->series);
    f->series[si] = ns;
    f->n++;
    return &f->series[si];
}

void metrics_counter_add(metrics_t *m, const char *name, const char *help, const char *labels,
                         double v)
{
    if (m == NULL || !(v >= 0) || isinf(v))
        return;
    pthread_mutex_lock(&m->lock);
    const family_t *f;
    series_t *s = series_get(m, name, help, MT_COUNTER, NULL, 0, labels, &f);
    if (s != NULL)
        s->value += v;
    pthread_mutex_unlock(&m->lock);
}

void metrics_gauge_set(metrics_t *m, const char *name, const char *help, const char *labels,
                       double v)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->lock);
    const family_t *f;
    series_t *s = series_get(m, name, help, MT_GAUGE, NULL, 0, labels, &f);
    if (s != NULL)
        s->value = v;
    pthread_mutex_unlock(&m->lock);
}

void metrics_observe(metrics_t *m, const char *name, const char *help, const char *labels,
                     const double *buckets, size_t nbuckets, double v)
{
    if (m == NULL || isnan(v) || (nbuckets > 0 && buckets == NULL))
        return;
    pthread_mutex_lock(&m->lock);
    const family_t *f;
    series_t *s = series_get(m, name, help, MT_HISTOGRAM, buckets, nbuckets, labels, &f);
    if (s != NULL) {
        /* The family's buckets (its first use) decide, not this call's. */
        size_t b = 0;
        while (b < f->nbuckets && v > f->buckets[b])
            b++;
        s->counts[b]++;
        s->sum += v;
        s->count++;
    }
    pthread_mutex_unlock(&m->lock);
}

void metrics_set_collector(metrics_t *m, void (*fn)(metrics_t *m, void *ctx), void *ctx)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->lock);
    m->collector = fn;
    m->collector_ctx = ctx;
    pthread_mutex_unlock(&m->lock);
}

/* Integral values print as integers, others in the shortest %g form that
 * reads back to the same double (at most %.17g). */
static void format_number(char *out, size_t cap, double v)
{
    if (isnan(v)) {
        snprintf(out, cap, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, cap, "%.0f", v == 0 ? 0.0 : v); /* no "-0" */
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

static const char *type_name(metric_type_t t)
{
    switch (t) {
    case MT_COUNTER:
        return "counter";
    case MT_GAUGE:
        return "gauge";
    case MT_HISTOGRAM:
        return "histogram";
    }
    return "untyped";
}

/* HELP text escapes backslash and newline. */
static void put_help(FILE *o, const char *help)
{
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            fputs("\\\\", o);
        else if (*p == '\n')
            fputs("\\n", o);
        else
            fputc(*p, o);
    }
}

static void put_family(FILE *o, const family_t *f)
{
    char num[64];

    fprintf(o, "# HELP %s ", f->name);
    put_help(o, f->help);
    fprintf(o, "\n# TYPE %s %s\n", f->name, type_name(f->type));
    for (size_t i = 0; i < f->n; i++) {
        const series_t *s = &f->series[i];
        const char *sep = s->labels[0] ? "," : "";
        if (f->type != MT_HISTOGRAM) {
            format_number(num, sizeof num, s->value);
            if (s->labels[0])
                fprintf(o, "%s{%s} %s\n", f->name, s->labels, num);
            else
                fprintf(o, "%s %s\n", f->name, num);
            continue;
        }
        uint64_t cum = 0;
        for (size_t b = 0; b <= f->nbuckets; b++) {
            cum += s->counts[b];
            if (b < f->nbuckets)
                format_number(num, sizeof num, f->buckets[b]);
            else
                snprintf(num, sizeof num, "+Inf");
            fprintf(o, "%s_bucket{%s%sle=\"%s\"} %llu\n", f->name, s->labels, sep, num,
                    (unsigned long long)cum);
        }
        format_number(num, sizeof num, s->sum);
        if (s->labels[0]) {
            fprintf(o, "%s_sum{%s} %s\n", f->name, s->labels, num);
            fprintf(o, "%s_count{%s} %llu\n", f->name, s->labels, (unsigned long long)s->count);
        } else {
            fprintf(o, "%s_sum %s\n", f->name, num);
            fprintf(o, "%s_count %llu\n", f->name, (unsigned long long)s->count);
        }
    }
}

char *metrics_render(metrics_t *m)
{
    char *buf = NULL;
    size_t len = 0;
    void (*fn)(metrics_t *, void *);
    void *ctx;

    if (m == NULL)
        return NULL;
    pthread_mutex_lock(&m->lock);
    fn = m->collector;
    ctx = m->collector_ctx;
    pthread_mutex_unlock(&m->lock);
    /* Outside the lock: the collector calls the setters. */
    if (fn != NULL)
        fn(m, ctx);

    FILE *o = open_memstream(&buf, &len);
    if (o == NULL)
        return NULL;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n; i++)
        put_family(o, &m->fams[i]);
    pthread_mutex_unlock(&m->lock);
    int bad = ferror(o);
    if (fclose(o) != 0 || bad) {
        free(buf);
        return NULL;
    }
    return buf;
}

int metrics_label_escape(const char *value, char *out, size_t cap)
{
    size_t need = 1;
    if (value == NULL)
        value = "";
    for (const char *p = value; *p; p++)
        need += (*p == '\\' || *p == '"' || *p == '\n') ? 2 : 1;
    if (out == NULL || need > cap)
        return -ENOBUFS;
    char *w = out;
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"') {
            *w++ = '\\';
            *w++ = *p;
        } else if (*p == '\n') {
            *w++ = '\\';
            *w++ = 'n';
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return 0;
}
