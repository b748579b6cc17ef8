/* common/base/workerstate: the supervisor's state file written and read
 * back as gauges (one series per state, a stale 1 never left), and every
 * refusal: bad arguments, a missing file, a file of another shape. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/metrics.h"
#include "common/base/workerstate.h"
#include "tests/lib/file.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

static const char *const states[] = { "stopped", "running", "failed" };
static tmp_dir_t dir;
static char path[TMP_PATH_MAX];

static void setup(void)
{
    tmp_dir_init(&dir, "workerstate");
    tmp_dir_path(&dir, WORKERSTATE_FILE, path);
}

static void teardown(void)
{
    tmp_dir_cleanup(&dir);
}

/* m's exposition text has line (with its newline). */
static bool has_line(metrics_t *m, const char *line)
{
    char *text = metrics_render(m), want[256];
    snprintf(want, sizeof(want), "%s\n", line);
    bool r = text && strstr(text, want) != NULL;
    free(text);
    return r;
}

START_TEST(written_then_exported_one_hot)
{
    workerstate_t w[] = { { "one", "failed", false }, { "two", "running", true } };
    ck_assert_int_eq(workerstate_write(path, states, 3, w, 2), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    metrics_t *m = metrics_new();
    ck_assert_int_eq(workerstate_export(m, path), 0);
    ck_assert(has_line(m, "adnet_worker_up{worker=\"one\"} 0"));
    ck_assert(has_line(m, "adnet_worker_up{worker=\"two\"} 1"));
    ck_assert(has_line(m, "adnet_worker_state{worker=\"one\",state=\"failed\"} 1"));
    ck_assert(has_line(m, "adnet_worker_state{worker=\"one\",state=\"running\"} 0"));
    ck_assert(has_line(m, "adnet_worker_state{worker=\"one\",state=\"stopped\"} 0"));
    ck_assert(has_line(m, "adnet_worker_state{worker=\"two\",state=\"running\"} 1"));
    /* The worker comes back: the failed series goes to 0, not left at 1. */
    w[0] = (workerstate_t){ "one", "running", true };
    ck_assert_int_eq(workerstate_write(path, states, 3, w, 2), 0);
    ck_assert_int_eq(workerstate_export(m, path), 0);
    ck_assert(has_line(m, "adnet_worker_state{worker=\"one\",state=\"failed\"} 0"));
    ck_assert(has_line(m, "adnet_worker_state{worker=\"one\",state=\"running\"} 1"));
    ck_assert(has_line(m, "adnet_worker_up{worker=\"one\"} 1"));
    metrics_free(m);
}
END_TEST

START_TEST(write_refuses_bad_arguments)
{
    workerstate_t unknown[] = { { "one", "dancing", false } };
    workerstate_t noname[] = { { "", "running", true } };
    workerstate_t longname[] = { { "a-name-that-is-longer-than-31-bytes", "running", true } };
    ck_assert_int_eq(workerstate_write(path, states, 3, unknown, 1), -EINVAL);
    ck_assert_int_eq(workerstate_write(path, states, 3, noname, 1), -EINVAL);
    ck_assert_int_eq(workerstate_write(path, states, 3, longname, 1), -EINVAL);
    ck_assert_int_eq(workerstate_write(path, states, WORKERSTATE_MAX + 1, unknown, 1), -EINVAL);
    ck_assert_int_ne(access(path, F_OK), 0); /* nothing written */
    char bad[TMP_PATH_MAX];
    tmp_dir_path(&dir, "none/" WORKERSTATE_FILE, bad);
    ck_assert_int_eq(workerstate_write(bad, states, 3, NULL, 0), -ENOENT);
}
END_TEST

START_TEST(export_refuses_what_it_cannot_read)
{
    static const char *const bad[] = {
        "", "not json", "[]", "{\"states\":[]}", "{\"states\":[],\"workers\":{}}",
        "{\"states\":[\"running\"],\"workers\":[{\"name\":\"one\",\"state\":\"running\"}]}",
        "{\"states\":[\"running\"],\"workers\":[{\"name\":7,\"state\":\"running\",\"up\":true}]}",
        "{\"states\":[\"\"],\"workers\":[]}",
        "{\"states\":[],\"workers\":[],\"states\":[]}",
    };
    metrics_t *m = metrics_new();
    ck_assert_int_eq(workerstate_export(m, path), -ENOENT);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        file_write(path, bad[i]);
        ck_assert_msg(workerstate_export(m, path) == -EINVAL, "accepted: %s", bad[i]);
    }
    char *text = metrics_render(m);
    ck_assert_ptr_null(strstr(text, "adnet_worker")); /* nothing was set */
    free(text);
    metrics_free(m);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = { "workerstate", "file", 0, setup, teardown };
    return suite_build(&spec, SUITE_TESTS(written_then_exported_one_hot,
                                          write_refuses_bad_arguments,
                                          export_refuses_what_it_cannot_read));
}
