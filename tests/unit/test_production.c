/* common/runtime/production.c: a worker's producing / delayed / halted
 * state, what the API reads of it, its metrics and its log lines. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/runtime/production.h"
#include "tests/lib/file.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

static bool rendered_has(metrics_t *m, const char *needle)
{
    char *text = metrics_render(m);
    bool r = text != NULL && strstr(text, needle) != NULL;
    free(text);
    return r;
}

START_TEST(test_states)
{
    production_t p;
    node_state_t ns;
    metrics_t *m = metrics_new();
    production_init(&p, m);
    production_get(&p, &ns);
    ck_assert_int_eq(ns.mode, NODE_PRODUCING);
    ck_assert_str_eq(ns.reason, "");

    /* A busy ledger delays: retried on the next tick, not halted. */
    ck_assert_double_eq(production_trouble(&p, PROD_LEDGER_BUSY, 5, "locked"),
                        PROD_BUSY_RETRY_MS / 1000.0);
    production_trouble(&p, PROD_LEDGER_BUSY, 5, "locked");
    production_get(&p, &ns);
    ck_assert_int_eq(ns.mode, NODE_DELAYED);
    ck_assert_str_eq(ns.reason, "locked");
    ck_assert_uint_gt(ns.since_ms, 0);
    ck_assert(!production_is_halted(&p) && !production_is_final(&p));
    ck_assert(rendered_has(m, "adnet_block_retries_total{cause=\"ledger_busy\"} 1"));
    production_resume(&p, 5);
    production_get(&p, &ns);
    ck_assert_int_eq(ns.mode, NODE_PRODUCING);
    ck_assert_str_eq(ns.reason, "");
    ck_assert(rendered_has(m, "adnet_block_production_delayed_seconds 0"));

    /* A full disk halts, retried every second, and clears. */
    ck_assert_double_eq(production_trouble(&p, PROD_DISK_FULL, 6, "disk full: x"),
                        PROD_HALT_RETRY_MS / 1000.0);
    ck_assert(production_is_halted(&p) && !production_is_final(&p));
    production_get(&p, &ns);
    ck_assert_int_eq(ns.mode, NODE_HALTED);
    ck_assert(rendered_has(m, "adnet_block_production_halted{cause=\"disk_full\"} 1"));
    production_resume(&p, 6);
    ck_assert(!production_is_halted(&p));
    ck_assert(rendered_has(m, "adnet_block_production_halted{cause=\"disk_full\"} 0"));

    /* A changed ledger halts for good: no retry. */
    ck_assert_double_lt(production_trouble(&p, PROD_LEDGER_CHANGED, 7, "gone"), 0);
    ck_assert(production_is_final(&p));
    ck_assert(rendered_has(m, "adnet_block_production_halted{cause=\"ledger_changed\"} 1"));
    production_destroy(&p);
    metrics_free(m);
}
END_TEST

/* A lasting state is logged once when it starts (then once a minute), and
 * once when it ends, with how long it lasted. */
START_TEST(test_logged_once)
{
    tmp_dir_t t;
    char path[TMP_PATH_MAX];
    production_t p;
    tmp_dir_init(&t, "production");
    tmp_dir_path(&t, "log", path);
    ck_assert_ptr_nonnull(freopen(path, "w", stderr));
    log_init("test", LOG_INFO);
    production_init(&p, NULL);
    for (int i = 0; i < 50; i++)
        production_trouble(&p, PROD_LEDGER_BUSY, 9, "another process holds the lock");
    production_resume(&p, 9);
    production_trouble(&p, PROD_DISK_FULL, 10, "disk full: y");
    production_trouble(&p, PROD_DISK_FULL, 10, "disk full: y");
    production_resume(&p, 10);
    fflush(stderr);
    char *log = file_read(path, NULL);
    const char *a = strstr(log, "event=block_delayed cause=ledger_busy height=9");
    ck_assert_msg(a != NULL, "%s", log);
    ck_assert_ptr_null(strstr(a + 1, "event=block_delayed"));
    ck_assert_ptr_nonnull(strstr(log, "event=block_delay_over cause=ledger_busy height=9"));
    ck_assert_ptr_nonnull(strstr(log, "retries=49"));
    const char *h = strstr(log, "level=error comp=test event=halted cause=disk_full");
    ck_assert_msg(h != NULL, "%s", log);
    ck_assert_ptr_null(strstr(strstr(h, "event=halted") + 1, "event=halted"));
    ck_assert_ptr_nonnull(strstr(log, "event=resumed cause=disk_full height=10"));
    free(log);
    production_destroy(&p);
    tmp_dir_cleanup(&t);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "production", .tcase = "core"};
    return suite_build(&spec, SUITE_TESTS(test_states, test_logged_once));
}
