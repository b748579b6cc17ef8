/* Metrics in the Prometheus text exposition format (0.0.4), thread-safe:
 * the loop thread updates, the API threads render. A series is a family
 * name plus an optional pre-rendered label set ("route=\"/txs\",status=\"202\"",
 * escape values with metrics_label_escape). A family keeps the type and
 * help of its first use; counters' names end in _total. */
#ifndef ADNET_METRICS_H
#define ADNET_METRICS_H

#include <stddef.h>

typedef struct metrics metrics_t;

/* Standard latency buckets in seconds, for histograms. */
extern const double METRICS_LATENCY_BUCKETS[];
extern const size_t METRICS_LATENCY_NBUCKETS;

/* Return a new registry, or NULL (out of memory). Free with metrics_free (NULL-safe). */
metrics_t *metrics_new(void);
void metrics_free(metrics_t *m);

/* Add v (>= 0) to a counter series. */
void metrics_counter_add(metrics_t *m, const char *name, const char *help, const char *labels,
                         double v);
/* Set a gauge series. */
void metrics_gauge_set(metrics_t *m, const char *name, const char *help, const char *labels,
                       double v);
/* Observe v in a histogram series with the given ascending upper bounds
 * (static storage; +Inf is implied). */
void metrics_observe(metrics_t *m, const char *name, const char *help, const char *labels,
                     const double *buckets, size_t nbuckets, double v);

/* Called at the start of every render (e.g. to refresh file-size gauges);
 * may be NULL. It runs on the rendering thread and may call the setters. */
void metrics_set_collector(metrics_t *m, void (*fn)(metrics_t *m, void *ctx), void *ctx);

/* Render every family: # HELP, # TYPE, then its series, families in name
 * order. Return a malloc'd NUL-terminated string owned by the caller, or NULL. */
char *metrics_render(metrics_t *m);

/* Escape a label value (\\, \", \n) into out[cap]; return 0 or -ENOBUFS. */
int metrics_label_escape(const char *value, char *out, size_t cap);

#endif
