/* common/metrics.c: exposition text, escaping, histograms, threads, collector, promtool. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/metrics.h"
#include "tests/lib/file.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

#define PROMTOOL "/usr/bin/promtool"

START_TEST(test_render_exact)
{
    metrics_t *m = metrics_new();
    ck_assert_ptr_nonnull(m);
    /* Inserted out of order: the output is sorted by family, then labels. */
    metrics_gauge_set(m, "adnet_height", "Height of the last block.", "chain=\"delta\"", 7);
    metrics_counter_add(m, "adnet_blocks_total", "Blocks committed.", NULL, 2);
    metrics_counter_add(m, "adnet_blocks_total", "ignored: first help wins", "", 1);
    metrics_gauge_set(m, "adnet_height", "x", "chain=\"alpha\"", 12);
    metrics_gauge_set(m, "adnet_ratio", "A ratio.", NULL, 0.1);
    metrics_gauge_set(m, "adnet_ratio", "A ratio.", NULL, 0.25); /* gauges are set, not added */
    metrics_gauge_set(m, "adnet_big", "Big and small.", "k=\"int\"", 1e14);
    metrics_gauge_set(m, "adnet_big", "Big and small.", "k=\"neg\"", -3);
    metrics_gauge_set(m, "adnet_big", "Big and small.", "k=\"huge\"", 1e300);

    char *out = metrics_render(m);
    ck_assert_ptr_nonnull(out);
    ck_assert_str_eq(out,
                     "# HELP adnet_big Big and small.\n"
                     "# TYPE adnet_big gauge\n"
                     "adnet_big{k=\"huge\"} 1e+300\n"
                     "adnet_big{k=\"int\"} 100000000000000\n"
                     "adnet_big{k=\"neg\"} -3\n"
                     "# HELP adnet_blocks_total Blocks committed.\n"
                     "# TYPE adnet_blocks_total counter\n"
                     "adnet_blocks_total 3\n"
                     "# HELP adnet_height Height of the last block.\n"
                     "# TYPE adnet_height gauge\n"
                     "adnet_height{chain=\"alpha\"} 12\n"
                     "adnet_height{chain=\"delta\"} 7\n"
                     "# HELP adnet_ratio A ratio.\n"
                     "# TYPE adnet_ratio gauge\n"
                     "adnet_ratio 0.25\n");
    free(out);
    metrics_free(m);
}
END_TEST

START_TEST(test_empty_and_null)
{
    metrics_t *m = metrics_new();
    char *out = metrics_render(m);
    ck_assert_ptr_nonnull(out);
    ck_assert_str_eq(out, "");
    free(out);
    ck_assert_ptr_null(metrics_render(NULL));
    metrics_free(NULL);
    metrics_counter_add(NULL, "a_total", "h", NULL, 1); /* no crash */
    metrics_free(m);
}
END_TEST

START_TEST(test_refused_updates)
{
    metrics_t *m = metrics_new();
    /* Negative and NaN counter increments, bad names and type clashes are dropped. */
    metrics_counter_add(m, "c_total", "C.", NULL, 5);
    metrics_counter_add(m, "c_total", "C.", NULL, -1);
    metrics_counter_add(m, "c_total", "C.", NULL, 0.0 / 0.0);
    metrics_gauge_set(m, "c_total", "clash", NULL, 100);
    metrics_gauge_set(m, "9bad", "bad name", NULL, 1);
    metrics_gauge_set(m, "bad-name", "bad name", NULL, 1);
    metrics_gauge_set(m, "", "empty", NULL, 1);
    char *out = metrics_render(m);
    ck_assert_str_eq(out, "# HELP c_total C.\n# TYPE c_total counter\nc_total 5\n");
    free(out);
    metrics_free(m);
}
END_TEST

START_TEST(test_label_escape)
{
    char out[64];
    ck_assert_int_eq(metrics_label_escape("a\\b\"c\nd", out, sizeof out), 0);
    ck_assert_str_eq(out, "a\\\\b\\\"c\\nd");
    ck_assert_int_eq(metrics_label_escape("/txs/{id}", out, sizeof out), 0);
    ck_assert_str_eq(out, "/txs/{id}");

    /* Exactly fitting: "ab\"" -> 4 chars + NUL = 5; out untouched on failure. */
    strcpy(out, "untouched");
    ck_assert_int_eq(metrics_label_escape("ab\"", out, 4), -ENOBUFS);
    ck_assert_str_eq(out, "untouched");
    ck_assert_int_eq(metrics_label_escape("ab\"", out, 5), 0);
    ck_assert_str_eq(out, "ab\\\"");

    /* An escaped value renders intact and HELP text is escaped too. */
    metrics_t *m = metrics_new();
    char labels[128];
    char v[64];
    ck_assert_int_eq(metrics_label_escape("say \"hi\"\n", v, sizeof v), 0);
    snprintf(labels, sizeof labels, "msg=\"%s\"", v);
    metrics_counter_add(m, "x_total", "Back\\slash\nnewline.", labels, 1);
    char *text = metrics_render(m);
    ck_assert_str_eq(text, "# HELP x_total Back\\\\slash\\nnewline.\n"
                           "# TYPE x_total counter\n"
                           "x_total{msg=\"say \\\"hi\\\"\\n\"} 1\n");
    free(text);
    metrics_free(m);
}
END_TEST

START_TEST(test_histogram)
{
    static const double b[] = {0.1, 1, 2.5};
    metrics_t *m = metrics_new();
    metrics_observe(m, "lat_seconds", "Latency.", "route=\"/a\"", b, 3, 0.05);
    metrics_observe(m, "lat_seconds", "Latency.", "route=\"/a\"", b, 3, 0.1); /* le is inclusive */
    metrics_observe(m, "lat_seconds", "Latency.", "route=\"/a\"", b, 3, 2);
    metrics_observe(m, "lat_seconds", "Latency.", "route=\"/a\"", b, 3, 7);
    metrics_observe(m, "lat_seconds", "Latency.", NULL, b, 3, 0.5);
    char *out = metrics_render(m);
    ck_assert_str_eq(out, "# HELP lat_seconds Latency.\n"
                          "# TYPE lat_seconds histogram\n"
                          "lat_seconds_bucket{le=\"0.1\"} 0\n"
                          "lat_seconds_bucket{le=\"1\"} 1\n"
                          "lat_seconds_bucket{le=\"2.5\"} 1\n"
                          "lat_seconds_bucket{le=\"+Inf\"} 1\n"
                          "lat_seconds_sum 0.5\n"
                          "lat_seconds_count 1\n"
                          "lat_seconds_bucket{route=\"/a\",le=\"0.1\"} 2\n"
                          "lat_seconds_bucket{route=\"/a\",le=\"1\"} 2\n"
                          "lat_seconds_bucket{route=\"/a\",le=\"2.5\"} 3\n"
                          "lat_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"
                          "lat_seconds_sum{route=\"/a\"} 9.15\n"
                          "lat_seconds_count{route=\"/a\"} 4\n");
    free(out);
    metrics_free(m);
}
END_TEST

START_TEST(test_latency_buckets)
{
    ck_assert_uint_eq(METRICS_LATENCY_NBUCKETS, 14);
    ck_assert(METRICS_LATENCY_BUCKETS[0] == 0.0005);
    ck_assert(METRICS_LATENCY_BUCKETS[13] == 10);
    for (size_t i = 1; i < METRICS_LATENCY_NBUCKETS; i++)
        ck_assert(METRICS_LATENCY_BUCKETS[i] > METRICS_LATENCY_BUCKETS[i - 1]);
    metrics_t *m = metrics_new();
    metrics_observe(m, "d_seconds", "D.", NULL, METRICS_LATENCY_BUCKETS, METRICS_LATENCY_NBUCKETS,
                    0.003);
    char *out = metrics_render(m);
    ck_assert_ptr_nonnull(strstr(out, "d_seconds_bucket{le=\"0.0005\"} 0\n"
                                      "d_seconds_bucket{le=\"0.001\"} 0\n"
                                      "d_seconds_bucket{le=\"0.0025\"} 0\n"
                                      "d_seconds_bucket{le=\"0.005\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(out, "d_seconds_bucket{le=\"10\"} 1\n"
                                      "d_seconds_bucket{le=\"+Inf\"} 1\n"
                                      "d_seconds_sum 0.003\n"
                                      "d_seconds_count 1\n"));
    free(out);
    metrics_free(m);
}
END_TEST

#define NTHREADS 4
#define NITER 20000

static void *hammer(void *arg)
{
    metrics_t *m = arg;
    static const double b[] = {1};
    for (int i = 0; i < NITER; i++) {
        char labels[32];
        snprintf(labels, sizeof labels, "k=\"%d\"", i % 3);
        metrics_counter_add(m, "hits_total", "Hits.", labels, 1);
        metrics_observe(m, "obs", "Obs.", NULL, b, 1, (i % 2) ? 0.5 : 2);
        if (i % 1000 == 0)
            free(metrics_render(m)); /* renders race with updates */
    }
    return NULL;
}

START_TEST(test_threads)
{
    metrics_t *m = metrics_new();
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, m), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    char *out = metrics_render(m);
    /* 20000 iterations: k=0 gets 6667, k=1 and k=2 6667/6666 per thread. */
    ck_assert_ptr_nonnull(strstr(out, "hits_total{k=\"0\"} 26668\n"
                                      "hits_total{k=\"1\"} 26668\n"
                                      "hits_total{k=\"2\"} 26664\n"));
    ck_assert_ptr_nonnull(strstr(out, "obs_bucket{le=\"1\"} 40000\n"
                                      "obs_bucket{le=\"+Inf\"} 80000\n"
                                      "obs_sum 100000\n"
                                      "obs_count 80000\n"));
    free(out);
    metrics_free(m);
}
END_TEST

static void collect(metrics_t *m, void *ctx)
{
    int *calls = ctx;
    (*calls)++;
    metrics_gauge_set(m, "collected", "Set by the collector.", NULL, *calls * 10);
}

START_TEST(test_collector)
{
    metrics_t *m = metrics_new();
    int calls = 0;
    metrics_set_collector(m, collect, &calls);
    char *out = metrics_render(m);
    ck_assert_int_eq(calls, 1);
    ck_assert_str_eq(out, "# HELP collected Set by the collector.\n"
                          "# TYPE collected gauge\ncollected 10\n");
    free(out);
    out = metrics_render(m);
    ck_assert_int_eq(calls, 2);
    ck_assert_ptr_nonnull(strstr(out, "collected 20\n"));
    free(out);
    metrics_set_collector(m, NULL, NULL);
    out = metrics_render(m);
    ck_assert_int_eq(calls, 2);
    free(out);
    metrics_free(m);
}
END_TEST

/* Run promtool on text; return its exit status and put its output in msg. */
static int promtool_check(const char *text, char *msg, size_t cap)
{
    tmp_dir_t t;
    char path[TMP_PATH_MAX];
    tmp_dir_init(&t, "metrics");
    file_write(tmp_dir_path(&t, "metrics.txt", path), text);
    char cmd[TMP_PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, PROMTOOL " check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t got = fread(msg, 1, cap - 1, p);
    msg[got] = '\0';
    int st = pclose(p);
    tmp_dir_cleanup(&t);
    return st;
}

START_TEST(test_promtool)
{
    ck_assert_msg(access(PROMTOOL, X_OK) == 0,
                  PROMTOOL " is missing: install the prometheus package (scripts/dev does)");
    metrics_t *m = metrics_new();
    char v[64], labels[128];
    ck_assert_int_eq(metrics_label_escape("quote\" back\\ nl\n", v, sizeof v), 0);
    snprintf(labels, sizeof labels, "route=\"%s\",status=\"200\"", v);
    metrics_counter_add(m, "adnet_api_requests_total", "HTTP requests by route and status.",
                        labels, 3);
    metrics_counter_add(m, "adnet_api_requests_total", "HTTP requests by route and status.",
                        "route=\"/health\",status=\"200\"", 1);
    metrics_gauge_set(m, "adnet_ledger_bytes", "Ledger file size.", "chain=\"alpha\"", 4096);
    metrics_gauge_set(m, "adnet_ratio", "A fraction.", NULL, 1.0 / 3.0);
    for (int i = 0; i < 50; i++)
        metrics_observe(m, "adnet_api_request_duration_seconds", "Request latency.",
                        "route=\"/status\"", METRICS_LATENCY_BUCKETS, METRICS_LATENCY_NBUCKETS,
                        0.0001 * i * i);
    metrics_observe(m, "adnet_api_request_duration_seconds", "Request latency.", "route=\"/x\"",
                    METRICS_LATENCY_BUCKETS, METRICS_LATENCY_NBUCKETS, 42);
    char *text = metrics_render(m);
    char msg[4096];
    int st = promtool_check(text, msg, sizeof msg);
    ck_assert_msg(st == 0, "promtool check metrics failed (%d): %s\n--- text ---\n%s", st, msg,
                  text);

    /* And the check would catch a broken exposition. */
    st = promtool_check("# TYPE x_total counter\nx_total{a=\"1} 1\n", msg, sizeof msg);
    ck_assert_int_ne(st, 0);
    free(text);
    metrics_free(m);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "metrics", .tcase = "core", .timeout_s = 30};
    return suite_build(&spec, SUITE_TESTS(
        test_render_exact, test_empty_and_null, test_refused_updates, test_label_escape,
        test_histogram, test_latency_buckets, test_threads, test_collector, test_promtool));
}
