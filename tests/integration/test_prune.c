/* Pruning on a real node: delta keeps its last 100 blocks (and 100 heights
 * of state), makes a block every 50 ms, and after a few hundred blocks the
 * lowest kept height has moved: old blocks answer 410 pruned, proofs at
 * kept heights still verify, verify-ledger passes, and the node starts
 * again on its pruned ledger. A retain_blocks below the minimum is refused
 * at start-up. */
#include <check.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/base/bech32.h"
#include "common/base/exitcode.h"
#include "tests/integration/harness.h"
#include "tests/lib/file.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

#define RETAIN 100
static const char *const RUN_ARGS[] = {
    "--set", "delta.retain_blocks=100", "--set", "delta.state.keep_heights=100",
    "--set", "delta.block_interval_ms=50", "--set", "alpha.block_interval_ms=1000",
    "--set", "delta.api.rate_per_s=5000", "--set", "delta.api.rate_burst=5000", NULL,
};

/* delta's /status as JSON (caller frees), or NULL. */
static json_t *delta_status(node_t *n)
{
    long code = 0;
    json_t *j = node_http_json(n, 1, "/status", &code);
    if (j != NULL && code != 200) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static uint64_t status_u64(node_t *n, const char *key)
{
    json_t *j = delta_status(n);
    uint64_t v = j ? (uint64_t)json_integer_value(json_object_get(j, key)) : 0;
    json_decref(j);
    return v;
}

/* The lowest kept height has passed *arg. */
static bool lowest_above(node_t *n, const void *arg)
{
    return status_u64(n, "lowest_height") > *(const uint64_t *)arg;
}

/* Fetch a proof of a (random) account at height into home/proof.json and
 * check it with `adnet verify-proof`; return the HTTP status. */
static long proof_at(node_t *n, uint64_t height)
{
    static node_resp_t r;
    uint8_t pk[32];
    char addr[ADDRESS_MAX], path[ADDRESS_MAX + 64], file[PATH_MAX + 16];

    randombytes_buf(pk, sizeof pk);
    ck_assert_int_eq(address_encode(addr, pk), 0);
    snprintf(path, sizeof path, "/accounts/%s/proof?height=%" PRIu64, addr, height);
    if (node_http(n, 1, path, NULL, 5000, &r) != 200)
        return r.status;
    snprintf(file, sizeof file, "%s/proof.json", n->home);
    file_write(file, r.body);
    const char *argv[] = { "verify-proof", file, NULL };
    ck_assert_msg(node_cli(n, NULL, 0, argv) == 0, "proof at %" PRIu64 " does not verify: %s",
                  height, r.body);
    return r.status;
}

/* GET /blocks/{height}: the status, and the answer's error code and
 * oldest_height for a refusal. */
static long block_at(node_t *n, uint64_t height, char code[32], uint64_t *oldest)
{
    char path[48];
    long status = 0;
    snprintf(path, sizeof path, "/blocks/%" PRIu64, height);
    json_t *j = node_http_json(n, 1, path, &status);
    json_t *e = json_object_get(j, "error");
    snprintf(code, 32, "%s", e ? json_string_value(json_object_get(e, "code")) : "");
    *oldest = e ? (uint64_t)json_integer_value(json_object_get(e, "oldest_height")) : 0;
    json_decref(j);
    return status;
}

START_TEST(test_prune_end_to_end)
{
    node_t node;
    char code[32], out[4096];
    uint64_t oldest = 0, start = 1;

    ck_assert_int_eq(sodium_init() >= 0, 1);
    ck_assert_int_eq(node_init(&node), 0);
    ck_assert_int_eq(node_start(&node, RUN_ARGS, NULL), 0);
    ck_assert_msg(node_wait_running(&node, "delta", 20000), "log: %s", node.log);
    ck_assert_uint_eq(status_u64(&node, "lowest_height") <= 1, 1);

    /* About 250 blocks: the floor moves past 100. */
    ck_assert_msg(node_wait_height(&node, "delta", 2 * RETAIN + 50, 60000), "log: %s", node.log);
    uint64_t goal = RETAIN;
    ck_assert_msg(node_wait(&node, 20000, lowest_above, &goal), "lowest height stuck at %" PRIu64,
                  status_u64(&node, "lowest_height"));
    uint64_t low = status_u64(&node, "lowest_height");
    uint64_t tip = status_u64(&node, "height");
    ck_assert_uint_ge(tip - low + 1, RETAIN); /* never fewer than retain_blocks */

    ck_assert_int_eq(block_at(&node, 1, code, &oldest), 410);
    ck_assert_str_eq(code, "pruned");
    ck_assert_uint_ge(oldest, low);
    ck_assert_int_eq(block_at(&node, tip, code, &oldest), 200);
    ck_assert_int_eq(proof_at(&node, tip - 10), 200); /* a kept height */
    ck_assert_int_eq(proof_at(&node, 1), 410);        /* its block is gone */

    /* Stopped: the full check passes on the pruned ledger, and the node
     * starts again on it. */
    ck_assert_int_eq(node_stop(&node, SIGTERM, 20000), 0);
    const char *verify[] = { "verify-ledger", "--home", node.home, "--chain", "delta", NULL };
    ck_assert_msg(node_cli(&node, out, sizeof out, verify) == 0, "verify-ledger: %s", out);
    start = node_ledger_height(&node, "delta");
    ck_assert_int_eq(node_start(&node, RUN_ARGS, NULL), 0);
    ck_assert_msg(node_wait_running(&node, "delta", 20000), "restart; log: %s", node.log);
    ck_assert_msg(node_wait_height(&node, "delta", start + 20, 20000), "log: %s", node.log);
    ck_assert_uint_ge(status_u64(&node, "lowest_height"), low);
    ck_assert_int_eq(block_at(&node, 1, code, &oldest), 410);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 20000), 0);
    node_cleanup(&node);
}
END_TEST

START_TEST(test_retain_below_minimum_refused)
{
    node_t node;
    static const char *const args[] = { "--set", "delta.retain_blocks=5", NULL };

    ck_assert_int_eq(node_init(&node), 0);
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    int st = node_wait_exit(&node, 20000);
    ck_assert(st >= 0 && WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), ADNET_EXIT_CONFIG);
    size_t len = 0;
    char *log = file_read(node.log, &len);
    ck_assert_ptr_nonnull(log);
    ck_assert_msg(strstr(log, "delta.retain_blocks is 5: use 0 (keep all blocks) or at least "
                              "100") != NULL, "%s", log);
    free(log);
    node_cleanup(&node);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "prune", .tcase = "node", .timeout_s = 240};
    return suite_build(&spec, SUITE_TESTS(test_prune_end_to_end,
                                          test_retain_below_minimum_refused));
}
