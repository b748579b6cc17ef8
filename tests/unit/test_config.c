/* Check suite for common/base/config.c: layering (defaults < file < env <
 * flags), sources, every error kind with its message, value syntax, the
 * default file, the printers and the chain sections a node registers. Each
 * test runs in its own forked process, so tests chdir into a fresh
 * temporary directory and name files "adnet.yaml". */
#include "common/base/config.h"

#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/node_chains.h"
#include "tests/lib/file.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

/* The node's two chains with the defaults their builds give them. */
static const config_chain_spec_t two_chains[] = {
    {"alpha", 15000, "127.0.0.1:3030"},
    {"delta", 3000, "127.0.0.1:4030"},
};
/* The chains the helpers below register; a test may register others. */
static const config_chain_spec_t *chains = two_chains;
static size_t n_chains = 2;

/* cfg's section of the chain called name; fails the test if it has none. */
static const config_chain_t *chain_of(const config_t *cfg, const char *name)
{
    const config_chain_t *ch = config_chain(cfg, name);
    ck_assert_msg(ch != NULL, "no section %s", name);
    return ch;
}

static tmp_dir_t tmp;

static void setup(void)
{
    tmp_dir_init(&tmp, "config");
    ck_assert_int_eq(chdir(tmp.dir), 0);
}

static void teardown(void)
{
    ck_assert_int_eq(chdir("/"), 0);
    tmp_dir_cleanup(&tmp);
}

/* Load adnet.yaml (must exist) with env and flags; expect failure; return
 * the message. Also checks that *cfg and *sources stayed untouched. */
static const char *load_fail_env_flags(const char *yaml, char *const *envp,
                                       const config_flag_t *flags, size_t nflags, int want_rc)
{
    static char err[CONFIG_ERR_MAX];
    config_t cfg, before;
    config_sources_t *src = (config_sources_t *)&before; /* sentinel, never dereferenced */

    if (yaml)
        file_write("adnet.yaml", yaml);
    memset(&cfg, 0xA5, sizeof cfg);
    memcpy(&before, &cfg, sizeof cfg);
    memset(err, 0, sizeof err);
    int rc = config_load(&cfg, &src, chains, n_chains, yaml ? "adnet.yaml" : NULL, true, envp,
                         flags, nflags, err);
    ck_assert_int_eq(rc, want_rc);
    ck_assert_msg(memcmp(&cfg, &before, sizeof cfg) == 0, "cfg changed on error");
    ck_assert_ptr_eq(src, (config_sources_t *)&before);
    ck_assert_msg(err[0] != '\0', "no message");
    ck_assert_msg(strchr(err, '\n') == NULL, "message is not one line: %s", err);
    return err;
}

static const char *load_fail(const char *yaml)
{
    return load_fail_env_flags(yaml, NULL, NULL, 0, -EINVAL);
}

static void load_ok(const char *yaml, char *const *envp, const config_flag_t *flags,
                    size_t nflags, config_t *cfg, config_sources_t **src)
{
    char err[CONFIG_ERR_MAX] = "";

    if (yaml)
        file_write("adnet.yaml", yaml);
    int rc = config_load(cfg, src, chains, n_chains, yaml ? "adnet.yaml" : NULL, true, envp, flags,
                         nflags, err);
    ck_assert_msg(rc == 0, "config_load: %d %s", rc, err);
}

static void assert_source(const config_sources_t *src, const char *key, config_source_t want,
                          const char *want_where)
{
    config_source_t got;
    char where[256];

    ck_assert_int_eq(config_source_get(src, key, &got, where, sizeof where), 0);
    ck_assert_int_eq(got, want);
    ck_assert_str_eq(where, want_where);
}

static void assert_is_defaults(const config_t *c)
{
    ck_assert_str_eq(c->log_level, "info");
    ck_assert(chain_of(c, "alpha")->enabled);
    ck_assert_uint_eq(chain_of(c, "alpha")->block_interval_ms, 15000);
    ck_assert_str_eq(chain_of(c, "alpha")->api_listen, "127.0.0.1:3030");
    ck_assert(chain_of(c, "delta")->enabled);
    ck_assert_uint_eq(chain_of(c, "delta")->block_interval_ms, 3000);
    ck_assert_str_eq(chain_of(c, "delta")->api_listen, "127.0.0.1:4030");
    ck_assert_uint_eq(c->supervisor.restart_burst, 5);
    ck_assert_uint_eq(c->supervisor.restart_interval_s, 60);
    ck_assert_uint_eq(c->supervisor.stop_timeout_s, 10);
    ck_assert_uint_eq(c->supervisor.backoff_initial_ms, 100);
    ck_assert_uint_eq(c->supervisor.backoff_max_ms, 10000);
    ck_assert_uint_eq(c->supervisor.ready_timeout_ms, 30000);
    ck_assert_uint_eq(c->supervisor.heartbeat_interval_ms, 1000);
    ck_assert_uint_eq(c->supervisor.heartbeat_timeout_ms, 10000);
    ck_assert_uint_eq(c->supervisor.failed_retry_s, 300);
}

static const char *const all_keys[] = {
    "log.level",
    "alpha.enabled", "alpha.block_interval_ms", "alpha.block_max_txs", "alpha.api.listen",
    "alpha.api.threads", "alpha.api.max_body_bytes", "alpha.api.max_header_bytes", "alpha.api.timeout_s",
    "alpha.api.rate_per_s", "alpha.api.rate_burst", "alpha.mempool.max_txs", "alpha.mempool.max_bytes",
    "alpha.mempool.max_per_sender", "alpha.state.keep_heights", "alpha.retain_blocks",
    "delta.enabled", "delta.block_interval_ms", "delta.block_max_txs", "delta.api.listen",
    "delta.api.threads", "delta.api.max_body_bytes", "delta.api.max_header_bytes", "delta.api.timeout_s",
    "delta.api.rate_per_s", "delta.api.rate_burst", "delta.mempool.max_txs", "delta.mempool.max_bytes",
    "delta.mempool.max_per_sender", "delta.state.keep_heights", "delta.retain_blocks",
    "supervisor.restart_burst", "supervisor.restart_interval_s", "supervisor.stop_timeout_s",
    "supervisor.backoff_initial_ms", "supervisor.backoff_max_ms",
    "supervisor.ready_timeout_ms", "supervisor.heartbeat_interval_ms",
    "supervisor.heartbeat_timeout_ms", "supervisor.failed_retry_s",
};
#define NALL (sizeof all_keys / sizeof all_keys[0])

/* ---- defaults and layering ---------------------------------------------- */

START_TEST(defaults_values)
{
    config_t c;
    memset(&c, 0xA5, sizeof c);
    config_defaults(&c, chains, n_chains);
    assert_is_defaults(&c);
}
END_TEST

START_TEST(load_nothing_gives_defaults)
{
    config_t c;
    config_sources_t *src = NULL;
    load_ok(NULL, NULL, NULL, 0, &c, &src);
    assert_is_defaults(&c);
    ck_assert_ptr_nonnull(src);
    for (size_t i = 0; i < NALL; i++)
        assert_source(src, all_keys[i], CONFIG_SRC_DEFAULT, "default");
    ck_assert_int_eq(config_source_get(src, "alpha", NULL, NULL, 0), -ENOENT);
    ck_assert_int_eq(config_source_get(src, "nope", NULL, NULL, 0), -ENOENT);
    config_sources_free(src);
    config_sources_free(NULL);
}
END_TEST

START_TEST(file_overrides_default)
{
    config_t c;
    config_sources_t *src = NULL;
    load_ok("# comment\n"
            "alpha:\n"
            "  block_interval_ms: 200\n"
            "  api:\n"
            "    listen: \"0.0.0.0:9000\"\n"
            "log: {level: debug}\n"
            "supervisor.restart_burst: 7\n",
            NULL, NULL, 0, &c, &src);
    ck_assert_uint_eq(chain_of(&c, "alpha")->block_interval_ms, 200);
    ck_assert_str_eq(chain_of(&c, "alpha")->api_listen, "0.0.0.0:9000");
    ck_assert_str_eq(c.log_level, "debug");
    ck_assert_uint_eq(c.supervisor.restart_burst, 7);
    /* Untouched keys keep their defaults. */
    ck_assert_uint_eq(chain_of(&c, "delta")->block_interval_ms, 3000);
    assert_source(src, "alpha.block_interval_ms", CONFIG_SRC_FILE, "file adnet.yaml:3");
    assert_source(src, "alpha.api.listen", CONFIG_SRC_FILE, "file adnet.yaml:5");
    assert_source(src, "log.level", CONFIG_SRC_FILE, "file adnet.yaml:6");
    assert_source(src, "supervisor.restart_burst", CONFIG_SRC_FILE, "file adnet.yaml:7");
    assert_source(src, "delta.block_interval_ms", CONFIG_SRC_DEFAULT, "default");
    config_sources_free(src);
}
END_TEST

START_TEST(env_overrides_file)
{
    char *envp[] = {"PATH=/bin", "ADNET_ALPHA_BLOCK_INTERVAL_MS=300", "ADNET_LOG_LEVEL=warn",
                    "ADNET_HOME=/var/lib/adnet", "ADNET_ALPHA_BLOCK_INTERVAL_MS=999",
                    "XADNET_DELTA_ENABLED=false", "ADNET_DELTA_ENABLED", NULL};
    config_t c;
    config_sources_t *src = NULL;
    load_ok("alpha: {block_interval_ms: 200, enabled: false}\n", envp, NULL, 0, &c, &src);
    /* The first match wins, as with getenv; the file's value of enabled is kept. */
    ck_assert_uint_eq(chain_of(&c, "alpha")->block_interval_ms, 300);
    ck_assert(!chain_of(&c, "alpha")->enabled);
    ck_assert_str_eq(c.log_level, "warn");
    ck_assert(chain_of(&c, "delta")->enabled); /* look-alikes are not ADNET_ variables */
    assert_source(src, "alpha.block_interval_ms", CONFIG_SRC_ENV,
                  "env ADNET_ALPHA_BLOCK_INTERVAL_MS");
    assert_source(src, "log.level", CONFIG_SRC_ENV, "env ADNET_LOG_LEVEL");
    assert_source(src, "alpha.enabled", CONFIG_SRC_FILE, "file adnet.yaml:1");
    assert_source(src, "delta.enabled", CONFIG_SRC_DEFAULT, "default");
    config_sources_free(src);
}
END_TEST

START_TEST(flag_overrides_env)
{
    char *envp[] = {"ADNET_ALPHA_BLOCK_INTERVAL_MS=300", "ADNET_ALPHA_API_LISTEN=[::1]:3031",
                    NULL};
    config_flag_t flags[] = {{"alpha.block_interval_ms", "400"},
                             {"delta.enabled", "off"},
                             {"delta.enabled", "on"}}; /* later flag wins */
    config_t c;
    config_sources_t *src = NULL;
    load_ok("alpha: {block_interval_ms: 200}\ndelta: {enabled: false}\n", envp, flags, 3, &c,
            &src);
    ck_assert_uint_eq(chain_of(&c, "alpha")->block_interval_ms, 400);
    ck_assert(chain_of(&c, "delta")->enabled);
    ck_assert_str_eq(chain_of(&c, "alpha")->api_listen, "[::1]:3031");
    assert_source(src, "alpha.block_interval_ms", CONFIG_SRC_FLAG, "flag --set");
    assert_source(src, "delta.enabled", CONFIG_SRC_FLAG, "flag --set");
    assert_source(src, "alpha.api.listen", CONFIG_SRC_ENV, "env ADNET_ALPHA_API_LISTEN");
    config_sources_free(src);
}
END_TEST

START_TEST(sources_out_optional)
{
    config_t c;
    load_ok("alpha: {block_interval_ms: 250}\n", NULL, NULL, 0, &c, NULL);
    ck_assert_uint_eq(chain_of(&c, "alpha")->block_interval_ms, 250);
}
END_TEST

/* ---- files -------------------------------------------------------------- */

START_TEST(empty_and_comment_only_files)
{
    static const char *const texts[] = {"", "# only a comment\n\n   # another\n", "---\n",
                                        "---\n...\n", "~\n", "alpha:\n# all commented out\n"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        config_t c;
        config_sources_t *src = NULL;
        load_ok(texts[i], NULL, NULL, 0, &c, &src);
        assert_is_defaults(&c);
        assert_source(src, "log.level", CONFIG_SRC_DEFAULT, "default");
        config_sources_free(src);
    }
}
END_TEST

START_TEST(missing_file)
{
    char err[CONFIG_ERR_MAX] = "";
    config_t c;
    config_sources_t *src = NULL;

    memset(&c, 0xA5, sizeof c);
    ck_assert_int_eq(
        config_load(&c, &src, chains, n_chains, "nonexistent.yaml", false, NULL, NULL, 0, err), 0);
    assert_is_defaults(&c);
    config_sources_free(src);

    memset(&c, 0xA5, sizeof c);
    ck_assert_int_eq(
        config_load(&c, NULL, chains, n_chains, "nonexistent.yaml", true, NULL, NULL, 0, err),
                     -ENOENT);
    ck_assert_str_eq(err, "nonexistent.yaml: no such file");
    ck_assert_uint_eq(c.chains[0].block_interval_ms, 0xA5A5A5A5u);
}
END_TEST

START_TEST(directory_is_refused)
{
    char err[CONFIG_ERR_MAX] = "";
    config_t c;
    ck_assert_int_eq(mkdir("dir.yaml", 0755), 0);
    ck_assert_int_eq(config_load(&c, NULL, chains, n_chains, "dir.yaml", false, NULL, NULL, 0, err),
                     -EISDIR);
    ck_assert_str_eq(err, "dir.yaml: is a directory");
}
END_TEST

/* ---- errors ------------------------------------------------------------- */

START_TEST(err_yaml_syntax)
{
    const char *e = load_fail("alpha:\n  enabled: true\n bad: : x\n");
    ck_assert_msg(strncmp(e, "adnet.yaml:3:2: did not find expected key", 41) == 0, "%s", e);

    e = load_fail("alpha: {enabled: true\n");
    ck_assert_msg(strncmp(e, "adnet.yaml:2:1: ", 16) == 0, "%s", e);
    ck_assert_msg(strstr(e, "flow mapping") != NULL, "%s", e);

    e = load_fail("alpha:\n\tenabled: true\n");
    ck_assert_msg(strstr(e, "adnet.yaml:2:1: ") == e, "%s", e);
    ck_assert_msg(strstr(e, "cannot start any token") != NULL, "%s", e);
}
END_TEST

START_TEST(err_invalid_utf8)
{
    const char *e = load_fail("alpha:\n  enabled: \xff\n");
    ck_assert_msg(strstr(e, "adnet.yaml: byte ") == e, "%s", e);
    ck_assert_msg(strstr(e, "UTF-8") != NULL, "%s", e);
}
END_TEST

START_TEST(err_unknown_key_with_suggestion)
{
    const char *e = load_fail("# adnet\n"
                              "log: {level: info}\n"
                              "alpha:\n"
                              "  block_intervl_ms: 200\n");
    ck_assert_str_eq(e, "adnet.yaml:4:3: unknown key \"alpha.block_intervl_ms\"; "
                        "did you mean \"alpha.block_interval_ms\"?");

    e = load_fail("alpah:\n  enabled: true\n");
    ck_assert_str_eq(e, "adnet.yaml:1:1: unknown key \"alpah\"; did you mean \"alpha\"?");

    e = load_fail("supervisor:\n  restart_brust: 3\n");
    ck_assert_str_eq(e, "adnet.yaml:2:3: unknown key \"supervisor.restart_brust\"; "
                        "did you mean \"supervisor.restart_burst\"?");
}
END_TEST

START_TEST(err_unknown_key_far_from_any)
{
    const char *e = load_fail("alpha:\n  colour: blue\n");
    ck_assert_str_eq(e, "adnet.yaml:2:3: unknown key \"alpha.colour\"");
    e = load_fail("x: 1\n");
    ck_assert_str_eq(e, "adnet.yaml:1:1: unknown key \"x\"");
    /* Control bytes are escaped, so the message stays one line. */
    e = load_fail("\"a\\nb\": 1\n");
    ck_assert_str_eq(e, "adnet.yaml:1:1: unknown key \"a\\x0ab\"");
}
END_TEST

START_TEST(err_wrong_type)
{
    const char *e = load_fail("# adnet\nalpha:\n  block_interval_ms: fast\n");
    ck_assert_str_eq(e, "adnet.yaml:3:22: alpha.block_interval_ms: expected an integer from 50 "
                        "to 3600000, got \"fast\"");
    e = load_fail("delta:\n  enabled: maybe\n");
    ck_assert_str_eq(e, "adnet.yaml:2:12: delta.enabled: expected true or false (or yes/no, "
                        "on/off), got \"maybe\"");
    e = load_fail("log:\n  level: verbose\n");
    ck_assert_str_eq(e, "adnet.yaml:2:10: log.level: expected one of debug, info, warn, error, "
                        "got \"verbose\"");
    e = load_fail("alpha:\n  api:\n    listen: localhost\n");
    ck_assert_str_eq(e, "adnet.yaml:3:13: alpha.api.listen: expected host:port with a port from "
                        "1 to 65535, got \"localhost\"");
}
END_TEST

START_TEST(err_out_of_range)
{
    const char *e = load_fail("alpha:\n  block_interval_ms: 10\n");
    ck_assert_str_eq(e, "adnet.yaml:2:22: alpha.block_interval_ms: expected an integer from 50 "
                        "to 3600000, got \"10\"");
    e = load_fail("supervisor: {stop_timeout_s: 3601}\n");
    ck_assert_str_eq(e, "adnet.yaml:1:30: supervisor.stop_timeout_s: expected an integer from 1 "
                        "to 3600, got \"3601\"");
}
END_TEST

START_TEST(err_integer_overflow)
{
    const char *e = load_fail("alpha:\n  block_interval_ms: 99999999999999999999\n");
    ck_assert_str_eq(e, "adnet.yaml:2:22: alpha.block_interval_ms: expected an integer from 50 "
                        "to 3600000, got \"99999999999999999999\"");
    /* 2^32 + 200 would wrap to 200 in a careless uint32 parse. */
    e = load_fail("alpha:\n  block_interval_ms: 4294967496\n");
    ck_assert_msg(strstr(e, "got \"4294967496\"") != NULL, "%s", e);
    e = load_fail("alpha:\n  block_interval_ms: 18446744073709551816\n");
    ck_assert_msg(strstr(e, "got \"18446744073709551816\"") != NULL, "%s", e);
}
END_TEST

START_TEST(err_integer_syntax)
{
    static const char *const bad[] = {"-200", "+200", "0x100", "1e3", "200ms", "2_000", "\" 200\"",
                                      "200.0", "\"\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char yaml[128];
        snprintf(yaml, sizeof yaml, "alpha:\n  block_interval_ms: %s\n", bad[i]);
        const char *e = load_fail(yaml);
        ck_assert_msg(strstr(e, "adnet.yaml:2:22: alpha.block_interval_ms: expected an integer") ==
                          e,
                      "%s: %s", bad[i], e);
    }
    /* Leading zeros are plain decimal (YAML 1.2), not octal. */
    config_t c;
    load_ok("alpha:\n  block_interval_ms: 0100\n", NULL, NULL, 0, &c, NULL);
    ck_assert_uint_eq(chain_of(&c, "alpha")->block_interval_ms, 100);
    /* Bounds are inclusive. */
    load_ok("alpha: {block_interval_ms: 50}\ndelta: {block_interval_ms: 3600000}\n", NULL, NULL,
            0, &c, NULL);
    ck_assert_uint_eq(chain_of(&c, "alpha")->block_interval_ms, 50);
    ck_assert_uint_eq(chain_of(&c, "delta")->block_interval_ms, 3600000);
}
END_TEST

START_TEST(err_collection_where_scalar_expected)
{
    const char *e = load_fail("alpha:\n  block_interval_ms: [200]\n");
    ck_assert_str_eq(e, "adnet.yaml:2:22: alpha.block_interval_ms: expected an integer from 50 "
                        "to 3600000, got a sequence");
    e = load_fail("alpha:\n  enabled:\n    x: 1\n");
    ck_assert_str_eq(e, "adnet.yaml:3:5: alpha.enabled: expected true or false (or yes/no, "
                        "on/off), got a mapping");
}
END_TEST

START_TEST(err_scalar_where_mapping_expected)
{
    const char *e = load_fail("alpha: 5\n");
    ck_assert_str_eq(e, "adnet.yaml:1:8: alpha: expected a mapping of alpha.* keys, got \"5\"");
    e = load_fail("delta:\n  api: [1, 2]\n");
    ck_assert_str_eq(e, "adnet.yaml:2:8: delta.api: expected a mapping of delta.api.* keys, got "
                        "a sequence");
    e = load_fail("- alpha\n");
    ck_assert_str_eq(e, "adnet.yaml:1:1: expected a mapping of keys at the top level, got a "
                        "sequence");
    e = load_fail("hello\n");
    ck_assert_str_eq(e, "adnet.yaml:1:1: expected a mapping of keys at the top level, got "
                        "\"hello\"");
}
END_TEST

START_TEST(err_duplicate_key)
{
    const char *e = load_fail("alpha:\n  enabled: true\n  enabled: false\n");
    ck_assert_str_eq(e, "adnet.yaml:3:3: duplicate key \"alpha.enabled\" (first set at line 2)");
    e = load_fail("alpha: {enabled: true}\ndelta: {}\nalpha: {block_interval_ms: 100}\n");
    ck_assert_str_eq(e, "adnet.yaml:3:1: duplicate key \"alpha\" (first set at line 1)");
    /* The same key spelled two ways is still one key. */
    e = load_fail("alpha: {enabled: true}\nalpha.enabled: false\n");
    ck_assert_str_eq(e, "adnet.yaml:2:1: duplicate key \"alpha.enabled\" (first set at line 1)");
}
END_TEST

START_TEST(err_other_yaml_shapes)
{
    const char *e = load_fail("alpha: {enabled: true}\n---\ndelta: {enabled: true}\n");
    ck_assert_str_eq(e, "adnet.yaml:2:1: only one YAML document is allowed");
    e = load_fail("? [a, b]\n: 1\n");
    ck_assert_str_eq(e, "adnet.yaml:1:3: expected a key name, got a sequence");
    e = load_fail("alpha:\n  enabled: \"tr\\0ue\"\n");
    ck_assert_msg(strstr(e, "got \"tr\\x00ue\"") != NULL, "%s", e);
}
END_TEST

START_TEST(err_alias_value)
{
    const char *e = load_fail("log: {level: &l info}\ndelta: {enabled: *l}\n");
    ck_assert_str_eq(e, "adnet.yaml:2:18: delta.enabled: expected true or false (or yes/no, "
                        "on/off), got an alias");
}
END_TEST

START_TEST(err_env)
{
    char *envp[] = {"ADNET_ALPHA_BLOCK_INTERVAL_MS=fast", NULL};
    const char *e = load_fail_env_flags(NULL, envp, NULL, 0, -EINVAL);
    ck_assert_str_eq(e, "ADNET_ALPHA_BLOCK_INTERVAL_MS: expected an integer from 50 to 3600000, "
                        "got \"fast\"");
    char *envp2[] = {"ADNET_DELTA_ENABLED=", NULL};
    e = load_fail_env_flags(NULL, envp2, NULL, 0, -EINVAL);
    ck_assert_str_eq(e, "ADNET_DELTA_ENABLED: expected true or false (or yes/no, on/off), got "
                        "\"\"");
}
END_TEST

START_TEST(err_flag)
{
    config_flag_t bad_key[] = {{"alpha.block_intervl_ms", "200"}};
    const char *e = load_fail_env_flags(NULL, NULL, bad_key, 1, -EINVAL);
    ck_assert_str_eq(e, "--set: unknown key \"alpha.block_intervl_ms\"; did you mean "
                        "\"alpha.block_interval_ms\"?");
    config_flag_t group[] = {{"alpha", "5"}};
    e = load_fail_env_flags(NULL, NULL, group, 1, -EINVAL);
    ck_assert_str_eq(e, "--set: unknown key \"alpha\"");
    config_flag_t alpah[] = {{"alpah.enabled", "yes"}};
    e = load_fail_env_flags(NULL, NULL, alpah, 1, -EINVAL);
    ck_assert_str_eq(e, "--set: unknown key \"alpah.enabled\"; did you mean \"alpha.enabled\"?");
    config_flag_t bad_val[] = {{"supervisor.restart_burst", "0"}};
    e = load_fail_env_flags(NULL, NULL, bad_val, 1, -EINVAL);
    ck_assert_str_eq(e, "--set supervisor.restart_burst: expected an integer from 1 to 100000, "
                        "got \"0\"");
}
END_TEST

START_TEST(err_cross_field)
{
    const char *e = load_fail("supervisor:\n  backoff_initial_ms: 20000\n");
    ck_assert_str_eq(e, "supervisor.backoff_initial_ms (20000, file adnet.yaml:2) must be at most "
                        "supervisor.backoff_max_ms (10000, default)");
    char *envp[] = {"ADNET_SUPERVISOR_HEARTBEAT_TIMEOUT_MS=1000", NULL};
    e = load_fail_env_flags(NULL, envp, NULL, 0, -EINVAL);
    ck_assert_str_eq(e, "supervisor.heartbeat_interval_ms (1000, default) must be less than "
                        "supervisor.heartbeat_timeout_ms (1000, env "
                        "ADNET_SUPERVISOR_HEARTBEAT_TIMEOUT_MS)");
    /* Equal back-off bounds are fine (<=), and so is a zero back-off. */
    config_t c;
    load_ok("supervisor: {backoff_initial_ms: 0, backoff_max_ms: 0}\n", NULL, NULL, 0, &c, NULL);
    ck_assert_uint_eq(c.supervisor.backoff_max_ms, 0);
}
END_TEST

START_TEST(retain_blocks_zero_or_minimum)
{
    const char *e = load_fail("delta:\n  retain_blocks: 99\n");
    ck_assert_str_eq(e, "delta.retain_blocks is 99: use 0 (keep all blocks) or at least 100");
    config_t c;
    load_ok("alpha: {retain_blocks: 100}\n", NULL, NULL, 0, &c, NULL);
    ck_assert_uint_eq(chain_of(&c, "alpha")->retain_blocks, 100);
    ck_assert_uint_eq(chain_of(&c, "delta")->retain_blocks, 0); /* default: keep all */
}
END_TEST

START_TEST(err_leaves_cfg_untouched_after_partial_load)
{
    /* The first keys parse fine before the error: none may leak out. */
    char err[CONFIG_ERR_MAX];
    config_t c;
    config_sources_t *src = NULL;
    file_write("adnet.yaml", "alpha:\n  block_interval_ms: 200\n  enabled: false\n  x: 1\n");
    config_defaults(&c, chains, n_chains);
    c.chains[0].block_interval_ms = 777;
    ck_assert_int_eq(config_load(&c, &src, chains, n_chains, "adnet.yaml", true, NULL, NULL, 0, err),
                     -EINVAL);
    ck_assert_uint_eq(chain_of(&c, "alpha")->block_interval_ms, 777);
    ck_assert(chain_of(&c, "alpha")->enabled);
    ck_assert_ptr_null(src);
}
END_TEST

/* ---- value syntax ------------------------------------------------------- */

START_TEST(bool_spellings)
{
    static const struct {
        const char *text;
        bool want;
    } cases[] = {{"true", true},  {"false", false}, {"yes", true}, {"no", false},
                 {"on", true},    {"off", false},   {"True", true}, {"OFF", false},
                 {"\"yes\"", true}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[64];
        config_t c;
        bool want = cases[i].want;
        /* Start from the opposite, so a no-op parse fails the test. */
        snprintf(yaml, sizeof yaml, "alpha: {enabled: %s}\n", cases[i].text);
        load_ok(yaml, NULL, NULL, 0, &c, NULL);
        ck_assert_msg(chain_of(&c, "alpha")->enabled == want, "%s", cases[i].text);
        char *envp[] = {want ? "ADNET_DELTA_ENABLED=no" : "ADNET_DELTA_ENABLED=yes", NULL};
        config_flag_t f = {"delta.enabled", cases[i].text[0] == '"' ? "yes" : cases[i].text};
        load_ok(NULL, envp, &f, 1, &c, NULL);
        ck_assert_msg(chain_of(&c, "delta")->enabled == want, "flag %s", cases[i].text);
    }
    static const char *const bad[] = {"1", "0", "y", "n", "truee", "enabled"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char yaml[64];
        snprintf(yaml, sizeof yaml, "alpha: {enabled: %s}\n", bad[i]);
        const char *e = load_fail(yaml);
        ck_assert_msg(strstr(e, "expected true or false") != NULL, "%s: %s", bad[i], e);
    }
}
END_TEST

START_TEST(log_level_values)
{
    static const char *const ok[][2] = {
        {"debug", "debug"}, {"info", "info"}, {"warn", "warn"}, {"error", "error"}, {"WARN", "warn"}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        config_flag_t f = {"log.level", ok[i][0]};
        config_t c;
        load_ok(NULL, NULL, &f, 1, &c, NULL);
        ck_assert_str_eq(c.log_level, ok[i][1]);
    }
    config_flag_t f = {"log.level", "warning"};
    const char *e = load_fail_env_flags(NULL, NULL, &f, 1, -EINVAL);
    ck_assert_str_eq(e, "--set log.level: expected one of debug, info, warn, error, got \"warning\"");
}
END_TEST

START_TEST(listen_values)
{
    static const char *const ok[] = {"127.0.0.1:1", "0.0.0.0:65535", "localhost:3030",
                                     "[::1]:3030", "[fe80::1%eth0]:80", "node-1.example.org:443"};
    static const char *const bad[] = {":3030", "host", "host:", "host:0", "host:65536",
                                      "host:99999999", "a:b:1", "::1:3030", "[::1]3030", "[]:80",
                                      "ho st:80", "host:+80", "host:8a",
                                      "a12345678901234567890123456789012345678901234567890123456789012:1"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        config_flag_t f = {"delta.api.listen", ok[i]};
        config_t c;
        load_ok(NULL, NULL, &f, 1, &c, NULL);
        ck_assert_str_eq(chain_of(&c, "delta")->api_listen, ok[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        config_flag_t f = {"delta.api.listen", bad[i]};
        const char *e = load_fail_env_flags(NULL, NULL, &f, 1, -EINVAL);
        ck_assert_msg(strstr(e, "--set delta.api.listen: expected host:port") == e, "%s: %s",
                      bad[i], e);
    }
}
END_TEST

START_TEST(long_value_is_cut_in_message)
{
    char yaml[512];
    snprintf(yaml, sizeof yaml, "alpha: {block_interval_ms: %0200d}\n", 7);
    const char *e = load_fail(yaml);
    ck_assert_msg(strlen(e) < 200, "%s", e);
    ck_assert_msg(strstr(e, "\"...") != NULL, "%s", e);
}
END_TEST

/* ---- flags -------------------------------------------------------------- */

START_TEST(flag_parse)
{
    config_flag_t f = {NULL, NULL};
    char a[] = "alpha.block_interval_ms=200";
    ck_assert_int_eq(config_flag_parse(a, &f), 0);
    ck_assert_str_eq(f.key, "alpha.block_interval_ms");
    ck_assert_str_eq(f.value, "200");

    char b[] = "alpha.api.listen=a=b";
    ck_assert_int_eq(config_flag_parse(b, &f), 0);
    ck_assert_str_eq(f.key, "alpha.api.listen");
    ck_assert_str_eq(f.value, "a=b");

    char c[] = "log.level=";
    ck_assert_int_eq(config_flag_parse(c, &f), 0);
    ck_assert_str_eq(f.value, "");

    config_flag_t g = {"untouched", "untouched"};
    char d[] = "=200";
    ck_assert_int_eq(config_flag_parse(d, &g), -EINVAL);
    char e[] = "alpha.block_interval_ms";
    ck_assert_int_eq(config_flag_parse(e, &g), -EINVAL);
    ck_assert_str_eq(g.key, "untouched");
    ck_assert_str_eq(g.value, "untouched");
}
END_TEST

/* ---- default file ------------------------------------------------------- */

START_TEST(default_file_round_trip)
{
    struct stat st;
    config_t c;
    config_sources_t *src = NULL;
    char err[CONFIG_ERR_MAX] = "";

    umask(077); /* the mode must still come out 0644 */
    ck_assert_int_eq(config_write_default("adnet.yaml", chains, n_chains), 0);
    ck_assert_int_eq(stat("adnet.yaml", &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0644);

    memset(&c, 0xA5, sizeof c);
    ck_assert_msg(
        config_load(&c, &src, chains, n_chains, "adnet.yaml", true, NULL, NULL, 0, err) == 0, "%s",
        err);
    assert_is_defaults(&c);
    /* Every key is written out, so every value comes from the file. */
    for (size_t i = 0; i < NALL; i++) {
        config_source_t s;
        ck_assert_int_eq(config_source_get(src, all_keys[i], &s, NULL, 0), 0);
        ck_assert_msg(s == CONFIG_SRC_FILE, "%s not in the default file", all_keys[i]);
    }
    config_sources_free(src);

    /* Grouped, with help comments. */
    FILE *fp = fopen("adnet.yaml", "r");
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    ck_assert_msg(strstr(text, "\nalpha:\n  # ") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\n  api:\n    # ") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\nsupervisor:\n") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "from 50 to 3600000") != NULL, "%s", text);

    /* It never overwrites. */
    ck_assert_int_eq(config_write_default("adnet.yaml", chains, n_chains), -EEXIST);
    ck_assert_int_eq(config_write_default("/nonexistent-dir/adnet.yaml", chains, n_chains),
                     -ENOENT);
}
END_TEST

/* ---- printing ----------------------------------------------------------- */

static char *print_to_string(const config_t *c, const config_sources_t *src, bool json)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(fp);
    config_print(fp, c, src, json);
    ck_assert_int_eq(fclose(fp), 0);
    return buf;
}

START_TEST(print_text)
{
    char *envp[] = {"ADNET_ALPHA_BLOCK_INTERVAL_MS=200", NULL};
    config_flag_t f = {"delta.enabled", "no"};
    config_t c;
    config_sources_t *src = NULL;
    load_ok("log:\n  level: debug\n", envp, &f, 1, &c, &src);
    char *out = print_to_string(&c, src, false);

    ck_assert_msg(strstr(out, "alpha.block_interval_ms = 200  ") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "  # env ADNET_ALPHA_BLOCK_INTERVAL_MS\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "log.level = debug ") == out, "%s", out);
    ck_assert_msg(strstr(out, "# file adnet.yaml:2\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "delta.enabled = false ") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "# flag --set\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "alpha.api.listen = 127.0.0.1:3030 ") != NULL, "%s", out);

    /* One line per key, in the documented order, and the '#' column is aligned. */
    size_t lines = 0;
    long col = -1;
    for (char *line = out, *nl; (nl = strchr(line, '\n')); line = nl + 1, lines++) {
        char *hash = strstr(line, "  # ");
        ck_assert_uint_lt(lines, NALL);
        ck_assert_msg(strncmp(line, all_keys[lines], strlen(all_keys[lines])) == 0 &&
                          strncmp(line + strlen(all_keys[lines]), " = ", 3) == 0,
                      "line %zu: %.*s", lines, (int)(nl - line), line);
        ck_assert_ptr_nonnull(hash);
        ck_assert(hash < nl);
        if (col < 0)
            col = hash - line;
        ck_assert_int_eq(hash - line, col);
    }
    ck_assert_uint_eq(lines, NALL);
    free(out);

    out = print_to_string(&c, NULL, false);
    ck_assert_msg(strstr(out, "#") == NULL, "%s", out);
    ck_assert_msg(strstr(out, "alpha.block_interval_ms = 200\n") != NULL, "%s", out);
    free(out);
    config_sources_free(src);
}
END_TEST

START_TEST(print_json)
{
    char *envp[] = {"ADNET_ALPHA_API_LISTEN=[::1]:3030", NULL};
    config_t c;
    config_sources_t *src = NULL;
    load_ok("alpha: {block_interval_ms: 200}\n", envp, NULL, 0, &c, &src);
    char *out = print_to_string(&c, src, true);
    json_error_t jerr;
    json_t *root = json_loads(out, 0, &jerr);
    ck_assert_msg(root != NULL, "invalid JSON: %s\n%s", jerr.text, out);
    ck_assert_uint_eq(json_object_size(root), NALL);

    json_t *e = json_object_get(root, "alpha.block_interval_ms");
    ck_assert(json_is_integer(json_object_get(e, "value")));
    ck_assert_int_eq(json_integer_value(json_object_get(e, "value")), 200);
    ck_assert_str_eq(json_string_value(json_object_get(e, "source")), "file adnet.yaml:1");
    e = json_object_get(root, "alpha.enabled");
    ck_assert(json_is_true(json_object_get(e, "value")));
    ck_assert_str_eq(json_string_value(json_object_get(e, "source")), "default");
    e = json_object_get(root, "alpha.api.listen");
    ck_assert_str_eq(json_string_value(json_object_get(e, "value")), "[::1]:3030");
    ck_assert_str_eq(json_string_value(json_object_get(e, "source")),
                     "env ADNET_ALPHA_API_LISTEN");
    json_decref(root);
    free(out);
    config_sources_free(src);
}
END_TEST

START_TEST(print_json_escapes_path)
{
    /* A file name with a quote and a backslash must not break the JSON. */
    config_t c;
    config_sources_t *src = NULL;
    char err[CONFIG_ERR_MAX];
    file_write("other.yaml", "alpha: {enabled: false}\n");
    ck_assert_int_eq(rename("other.yaml", "a\"b\\.yaml"), 0);
    ck_assert_int_eq(
        config_load(&c, &src, chains, n_chains, "a\"b\\.yaml", true, NULL, NULL, 0, err), 0);
    unlink("a\"b\\.yaml");
    char *out = print_to_string(&c, src, true);
    json_t *root = json_loads(out, 0, NULL);
    ck_assert_msg(root != NULL, "%s", out);
    json_t *e = json_object_get(root, "alpha.enabled");
    ck_assert_str_eq(json_string_value(json_object_get(e, "source")), "file a\"b\\.yaml:1");
    json_decref(root);
    free(out);
    config_sources_free(src);
}
END_TEST

/* ---- the chains' sections ----------------------------------------------- */

START_TEST(third_chain_gets_its_own_section)
{
    /* Nothing in config.c knows this chain: registering it is enough. */
    static const config_chain_spec_t three[] = {
        {"alpha", 15000, "127.0.0.1:3030"},
        {"delta", 3000, "127.0.0.1:4030"},
        {"gamma", 1000, "127.0.0.1:5030"},
    };
    char *envp[] = {"ADNET_GAMMA_API_LISTEN=0.0.0.0:5031", NULL};
    config_flag_t f = {"gamma.enabled", "no"};
    config_t c, d;
    config_sources_t *src = NULL;
    char err[CONFIG_ERR_MAX] = "";

    chains = three;
    n_chains = 3;
    config_defaults(&c, chains, n_chains);
    assert_is_defaults(&c);
    ck_assert_uint_eq(c.n_chains, 3);
    ck_assert_ptr_eq(config_chain(&c, "gamma"), &c.chains[2]);
    ck_assert_str_eq(c.chains[2].name, "gamma");
    ck_assert(c.chains[2].enabled);
    ck_assert_uint_eq(c.chains[2].block_interval_ms, 1000);
    ck_assert_str_eq(c.chains[2].api_listen, "127.0.0.1:5030");
    ck_assert_uint_eq(c.chains[2].mempool_max_txs, 50000); /* the shared defaults */
    ck_assert_ptr_null(config_chain(&c, "gam"));
    ck_assert_ptr_null(config_chain(&c, NULL));

    /* Its keys and variables, in every layer. */
    load_ok("gamma:\n  block_interval_ms: 200\n  api: {threads: 4}\n", envp, &f, 1, &c, &src);
    ck_assert_uint_eq(chain_of(&c, "gamma")->block_interval_ms, 200);
    ck_assert_uint_eq(chain_of(&c, "gamma")->api_threads, 4);
    ck_assert_str_eq(chain_of(&c, "gamma")->api_listen, "0.0.0.0:5031");
    ck_assert(!chain_of(&c, "gamma")->enabled);
    ck_assert_uint_eq(chain_of(&c, "alpha")->block_interval_ms, 15000);
    ck_assert_uint_eq(chain_of(&c, "alpha")->api_threads, 2);
    assert_source(src, "gamma.block_interval_ms", CONFIG_SRC_FILE, "file adnet.yaml:2");
    assert_source(src, "gamma.api.listen", CONFIG_SRC_ENV, "env ADNET_GAMMA_API_LISTEN");
    assert_source(src, "gamma.enabled", CONFIG_SRC_FLAG, "flag --set");
    assert_source(src, "gamma.mempool.max_bytes", CONFIG_SRC_DEFAULT, "default");

    /* Printed after delta's keys and before supervisor's. */
    char *out = print_to_string(&c, src, false);
    const char *dl = strstr(out, "\ndelta.retain_blocks = ");
    const char *gm = strstr(out, "\ngamma.enabled = false ");
    const char *sv = strstr(out, "\nsupervisor.restart_burst = ");
    ck_assert_msg(dl && gm && sv && dl < gm && gm < sv, "%s", out);
    size_t lines = 0;
    for (const char *p = out; (p = strchr(p, '\n')); p++)
        lines++;
    ck_assert_uint_eq(lines, NALL + 15); /* gamma's 15 keys */
    free(out);
    config_sources_free(src);

    /* Its errors read like those of any section. */
    const char *e = load_fail("gama:\n  enabled: true\n");
    ck_assert_str_eq(e, "adnet.yaml:1:1: unknown key \"gama\"; did you mean \"gamma\"?");
    e = load_fail("gamma:\n  block_interval_ms: 10\n");
    ck_assert_str_eq(e, "adnet.yaml:2:22: gamma.block_interval_ms: expected an integer from 50 "
                        "to 3600000, got \"10\"");
    char *envp2[] = {"ADNET_GAMMA_ENABLED=maybe", NULL};
    e = load_fail_env_flags(NULL, envp2, NULL, 0, -EINVAL);
    ck_assert_str_eq(e, "ADNET_GAMMA_ENABLED: expected true or false (or yes/no, on/off), got "
                        "\"maybe\"");

    /* The default file has its section, with help naming it, and loads
     * back to exactly the defaults. */
    unlink("adnet.yaml");
    ck_assert_int_eq(config_write_default("adnet.yaml", chains, n_chains), 0);
    char *text = file_read("adnet.yaml", NULL);
    ck_assert_msg(strstr(text, "\ngamma:\n"
                               "  # Run the gamma worker under `adnet run`.\n"
                               "  enabled: true\n"
                               "  # Target time between gamma blocks, in milliseconds.\n"
                               "  # Expects an integer from 50 to 3600000.\n"
                               "  block_interval_ms: 1000\n") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "    # host:port of gamma's HTTP API.\n"
                               "    listen: \"127.0.0.1:5030\"\n") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\ndelta:\n") < strstr(text, "\ngamma:\n") &&
                      strstr(text, "\ngamma:\n") < strstr(text, "\nsupervisor:\n"),
                  "%s", text);
    free(text);
    ck_assert_msg(config_load(&c, NULL, chains, n_chains, "adnet.yaml", true, NULL, NULL, 0,
                              err) == 0, "%s", err);
    config_defaults(&d, chains, n_chains);
    char *got = print_to_string(&c, NULL, true), *want = print_to_string(&d, NULL, true);
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
}
END_TEST

START_TEST(bad_chain_lists_are_refused)
{
#define NOT_A_NAME(quoted) "chain name \"" quoted "\": expected 1 to 15 letters a-z"
    static const struct {
        config_chain_spec_t spec[2];
        size_t n;
        const char *msg;
    } cases[] = {
        {{{"", 1000, "127.0.0.1:1"}}, 1, NOT_A_NAME("")},
        {{{"Gamma", 1000, "127.0.0.1:1"}}, 1, NOT_A_NAME("Gamma")},
        {{{"gam-ma", 1000, "127.0.0.1:1"}}, 1, NOT_A_NAME("gam-ma")},
        {{{"gamma2", 1000, "127.0.0.1:1"}}, 1, NOT_A_NAME("gamma2")},
        {{{"gam.ma", 1000, "127.0.0.1:1"}}, 1, NOT_A_NAME("gam.ma")},
        {{{"abcdefghijklmnop", 1000, "127.0.0.1:1"}}, 1, NOT_A_NAME("abcdefghijklmnop")},
        {{{"gam\nma", 1000, "127.0.0.1:1"}}, 1, NOT_A_NAME("gam\\x0ama")},
        {{{NULL, 1000, "127.0.0.1:1"}}, 1, "chain 1 registered without a name"},
        {{{"log", 1000, "127.0.0.1:1"}}, 1,
         "chain name \"log\": taken by the node-wide keys log.*"},
        {{{"supervisor", 1000, "127.0.0.1:1"}}, 1,
         "chain name \"supervisor\": taken by the node-wide keys supervisor.*"},
        {{{"gamma", 1000, "127.0.0.1:1"}, {"gamma", 2000, "127.0.0.1:2"}}, 2,
         "chain name \"gamma\" registered twice"},
        {{{"gamma", 10, "127.0.0.1:1"}}, 1,
         "default of gamma.block_interval_ms: expected an integer from 50 to 3600000, got \"10\""},
        {{{"gamma", 1000, "nope"}}, 1,
         "default of gamma.api.listen: expected host:port with a port from 1 to 65535, got "
         "\"nope\""},
        {{{"gamma", 1000, NULL}}, 1,
         "default of gamma.api.listen: expected host:port with a port from 1 to 65535, got \"\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        chains = cases[i].spec;
        n_chains = cases[i].n;
        const char *e = load_fail_env_flags(NULL, NULL, NULL, 0, -EINVAL);
        ck_assert_str_eq(e, cases[i].msg);
        /* Nor is a default file written for it. */
        ck_assert_int_eq(config_write_default("adnet.yaml", chains, n_chains), -EINVAL);
        ck_assert_int_eq(access("adnet.yaml", F_OK), -1);
    }

    /* At most CONFIG_MAX_CHAINS; 15 letters make a name. */
    config_chain_spec_t many[CONFIG_MAX_CHAINS + 1];
    char names[CONFIG_MAX_CHAINS + 1][CONFIG_CHAIN_NAME_MAX + 1];
    for (size_t i = 0; i <= CONFIG_MAX_CHAINS; i++) {
        snprintf(names[i], sizeof names[i], "chain%c", (char)('a' + i));
        many[i] = (config_chain_spec_t){names[i], 1000 + (uint32_t)i, "127.0.0.1:1"};
    }
    snprintf(names[0], sizeof names[0], "abcdefghijklmno");
    chains = many;
    n_chains = CONFIG_MAX_CHAINS + 1;
    ck_assert_str_eq(load_fail_env_flags(NULL, NULL, NULL, 0, -EINVAL),
                     "9 chains registered; at most 8");
    n_chains = CONFIG_MAX_CHAINS;
    config_t c;
    load_ok(NULL, NULL, NULL, 0, &c, NULL);
    ck_assert_uint_eq(c.n_chains, CONFIG_MAX_CHAINS);
    ck_assert_uint_eq(chain_of(&c, "abcdefghijklmno")->block_interval_ms, 1000);
    ck_assert_uint_eq(chain_of(&c, "chainh")->block_interval_ms, 1007);
    ck_assert_ptr_null(config_chain(&c, "chaini"));

    /* A count without a list is refused; no chains at all leaves the node-wide keys. */
    chains = NULL;
    n_chains = 1;
    ck_assert_str_eq(load_fail_env_flags(NULL, NULL, NULL, 0, -EINVAL),
                     "no chain list, but 1 chains registered");
    n_chains = 0;
    load_ok("log: {level: warn}\n", NULL, NULL, 0, &c, NULL);
    ck_assert_str_eq(c.log_level, "warn");
    ck_assert_uint_eq(c.n_chains, 0);
    ck_assert_ptr_null(config_chain(&c, "alpha"));
    ck_assert_str_eq(load_fail("alpha: {enabled: true}\n"),
                     "adnet.yaml:1:1: unknown key \"alpha\"");
}
END_TEST

START_TEST(node_chain_list_is_accepted)
{
    /* The list the build generates (supervisor/node_chains.h), as `adnet`
     * and the workers pass it: each chain gets its section and defaults. */
    char err[CONFIG_ERR_MAX] = "";
    config_t c;

    ck_assert_uint_ge(N_NODE_CHAINS, 1);
    ck_assert_msg(config_load(&c, NULL, node_chains, N_NODE_CHAINS, NULL, true, NULL, NULL, 0,
                              err) == 0, "%s", err);
    ck_assert_uint_eq(c.n_chains, N_NODE_CHAINS);
    for (size_t i = 0; i < N_NODE_CHAINS; i++) {
        const config_chain_t *ch = chain_of(&c, node_chains[i].name);
        ck_assert_ptr_eq(ch, &c.chains[i]);
        ck_assert_uint_eq(ch->block_interval_ms, node_chains[i].block_interval_ms);
        ck_assert_str_eq(ch->api_listen, node_chains[i].api_listen);
    }
    ck_assert_int_eq(config_write_default("adnet.yaml", node_chains, N_NODE_CHAINS), 0);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "config", .tcase = "config", .setup = setup,
                                      .teardown = teardown};
    return suite_build(&spec, SUITE_TESTS(
        defaults_values, load_nothing_gives_defaults, file_overrides_default, env_overrides_file,
        flag_overrides_env, sources_out_optional, empty_and_comment_only_files, missing_file,
        directory_is_refused, err_yaml_syntax, err_invalid_utf8, err_unknown_key_with_suggestion,
        err_unknown_key_far_from_any, err_wrong_type, err_out_of_range, err_integer_overflow,
        err_integer_syntax, err_collection_where_scalar_expected, err_scalar_where_mapping_expected,
        err_duplicate_key, err_other_yaml_shapes, err_alias_value, err_env, err_flag,
        err_cross_field, retain_blocks_zero_or_minimum, err_leaves_cfg_untouched_after_partial_load, bool_spellings,
        log_level_values, listen_values, long_value_is_cut_in_message, flag_parse,
        default_file_round_trip, print_text, print_json, print_json_escapes_path,
        third_chain_gets_its_own_section, bad_chain_lists_are_refused,
        node_chain_list_is_accepted));
}
