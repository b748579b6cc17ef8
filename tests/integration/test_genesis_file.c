/* A genesis from a balances list, end to end: `adnet init --balances`
 * checks the operator's list (a bad line is refused with file:line before
 * anything is written), writes the canonical balances.jsonl beside each
 * genesis, and the node starts from 20,000 balances: both chains' /supply
 * and accounts answer what the list says, and a restart does not read the
 * balances file again. */
#include <check.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/bech32.h"
#include "common/base/hex.h"
#include "tests/integration/harness.h"
#include "tests/lib/file.h"

Suite *test_suite(void);

#define N_BALANCES 20000
#define VALIDATOR_ADN 1000000000000ULL /* what adnet init gives the validator */
#define START_MS 120000

typedef struct {
    char *body;
    size_t len;
} body_t;

static size_t sink(char *p, size_t size, size_t n, void *arg)
{
    body_t *b = arg;
    char *q = realloc(b->body, b->len + size * n + 1);
    if (!q)
        return 0;
    memcpy(q + b->len, p, size * n);
    b->body = q;
    b->len += size * n;
    q[b->len] = '\0';
    return size * n;
}

/* GET path from the API on port; it must answer 200 with JSON (caller frees). */
static json_t *get_json(int port, const char *path)
{
    char url[512];
    body_t b = { NULL, 0 };
    long status = 0;
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    json_t *j = b.body ? json_loads(b.body, 0, NULL) : NULL;
    ck_assert_msg(status == 200 && j, "GET %s: HTTP %ld %s", path, status, b.body ? b.body : "");
    free(b.body);
    return j;
}

static uint64_t ju64(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_integer(v), "no integer %s", key);
    return (uint64_t)json_integer_value(v);
}

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The operator's list: N_BALANCES random owners in the loose forms
 * operators write (key orders, spacing, either hex case, blank lines).
 * Sum the ADN and USD amounts into totals[2]; keep the first owner. */
static void write_list(const char *path, uint64_t totals[2], uint8_t first[32])
{
    FILE *f = fopen(path, "w");
    uint64_t s = 88172645463325252ULL;
    ck_assert_ptr_nonnull(f);
    totals[0] = totals[1] = 0;
    for (int i = 0; i < N_BALANCES; i++) {
        uint8_t owner[32];
        char hex[65];
        for (int k = 0; k < 32; k += 8) {
            uint64_t r = rng(&s);
            memcpy(owner + k, &r, 8);
        }
        if (i == 0)
            memcpy(first, owner, 32);
        hex_encode(hex, owner, 32);
        uint64_t amount = 1 + rng(&s) % 1000000;
        totals[i % 3 == 1] += amount;
        if (i % 3 == 0) {
            fprintf(f, "{\"owner\": \"%s\", \"asset\": \"ADN\", \"amount\": %" PRIu64 "}\n", hex,
                    amount);
        } else if (i % 3 == 1) {
            for (char *p = hex; *p; p++)
                if (*p >= 'a' && *p <= 'f')
                    *p = (char)(*p - 'a' + 'A');
            fprintf(f, "{\"amount\":%" PRIu64 ",\"owner\":\"%s\",\"asset\":\"USD\"}\n", amount,
                    hex);
        } else {
            fprintf(f, "  { \"asset\" : \"ADN\" , \"amount\" : %" PRIu64 " , \"owner\" : \"%s\" }"
                    "\n%s", amount, hex, i % 1000 == 2 ? "\n" : "");
        }
    }
    ck_assert_int_eq(fclose(f), 0);
}

static void init_with(node_t *n, const char *list, int want)
{
    const char *args[] = { "init", "--home", n->home, "--force", "--balances", list, NULL };
    ck_assert_int_eq(node_cli(n, NULL, 0, args), want);
}

/* A bad line is refused with its file and line, and the home is left as it was. */
START_TEST(test_init_refuses_bad_list)
{
    node_t n;
    char list[PATH_MAX + 16], genesis[PATH_MAX + 32], needle[PATH_MAX + 64];
    ck_assert_int_eq(node_init(&n), 0);
    snprintf(list, sizeof(list), "%s/list.jsonl", n.home);
    snprintf(genesis, sizeof(genesis), "%s/alpha/genesis.json", n.home);
    char *before = file_read(genesis, NULL);
    FILE *f = fopen(list, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 1; i <= 7; i++) /* line 7 has amount 0 */
        fprintf(f, "{\"owner\": \"%064x\", \"asset\": \"ADN\", \"amount\": %d}\n", i, i < 7);
    ck_assert_int_eq(fclose(f), 0);
    init_with(&n, list, 100);
    char *log = file_read(n.log, NULL);
    snprintf(needle, sizeof(needle), "%s:7: expected amount", list);
    ck_assert_msg(strstr(log, needle) != NULL, "log lacks '%s':\n%s", needle, log);
    free(log);
    char *after = file_read(genesis, NULL);
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
    node_cleanup(&n);
}
END_TEST

/* The canonical file beside alpha's genesis: N_BALANCES + 1 lines (the
 * validator's own balance too), named with its count and hash. */
static void check_files(node_t *n)
{
    char path[PATH_MAX + 32], hex[65];
    uint8_t hash[32];
    size_t len, lines = 0;
    snprintf(path, sizeof(path), "%s/alpha/balances.jsonl", n->home);
    char *text = file_read(path, &len);
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    ck_assert_uint_eq(lines, N_BALANCES + 1);
    crypto_generichash(hash, 32, (const unsigned char *)text, len, NULL, 0);
    hex_encode(hex, hash, 32);
    free(text);
    snprintf(path, sizeof(path), "%s/delta/balances.jsonl", n->home);
    char *other = file_read(path, &len);
    crypto_generichash(hash, 32, (const unsigned char *)other, len, NULL, 0);
    free(other);
    snprintf(path, sizeof(path), "%s/alpha/genesis.json", n->home);
    json_t *g = json_load_file(path, 0, NULL);
    ck_assert_ptr_nonnull(g);
    json_t *bf = json_object_get(g, "balances_file");
    ck_assert_str_eq(json_string_value(json_object_get(bf, "path")), "balances.jsonl");
    ck_assert_uint_eq(ju64(bf, "count"), N_BALANCES + 1);
    ck_assert_str_eq(json_string_value(json_object_get(bf, "hash")), hex);
    ck_assert_ptr_null(json_object_get(g, "balances"));
    json_decref(g);
}

/* Both chains answer the list's totals, and its first owner's balance. */
static void check_answers(node_t *n, const uint64_t totals[2], const uint8_t first[32])
{
    char addr[ADDRESS_MAX], path[200];
    json_t *a = get_json(n->api_port[0], "/supply");
    json_t *sa = json_object_get(a, "supply");
    ck_assert_uint_eq(ju64(sa, "ADN"), totals[0] + VALIDATOR_ADN);
    ck_assert_uint_eq(ju64(sa, "USD"), totals[1]);
    json_decref(a);
    json_t *d = get_json(n->api_port[1], "/supply");
    json_t *sd = json_object_get(d, "supply");
    ck_assert_uint_eq(ju64(json_object_get(sd, "ADN"), "total"), totals[0] + VALIDATOR_ADN);
    ck_assert_uint_eq(ju64(json_object_get(sd, "USD"), "balances"), totals[1]);
    json_decref(d);
    ck_assert_int_eq(address_encode(addr, first), 0);
    snprintf(path, sizeof(path), "/accounts/%s", addr);
    json_t *acc = get_json(n->api_port[1], path);
    uint64_t adn = ju64(json_object_get(acc, "balances"), "ADN");
    ck_assert_uint_gt(adn, 0);
    json_decref(acc);
    snprintf(path, sizeof(path), "/owners/%s/records", addr);
    json_t *rec = get_json(n->api_port[0], path);
    ck_assert_uint_eq(ju64(json_object_get(rec, "balance"), "ADN"), adn);
    json_decref(rec);
}

static bool both_running(node_t *n, const void *arg)
{
    (void)arg;
    return node_worker_state_is(n, "alpha", "running") && node_worker_state_is(n, "delta", "running");
}

START_TEST(test_node_starts_from_list)
{
    node_t n;
    char list[PATH_MAX + 16], path[PATH_MAX + 32];
    uint64_t totals[2];
    uint8_t first[32];
    ck_assert_int_eq(node_init(&n), 0);
    snprintf(list, sizeof(list), "%s/list.jsonl", n.home);
    write_list(list, totals, first);
    init_with(&n, list, 0);
    check_files(&n);

    ck_assert_int_eq(node_start(&n, NULL, NULL), 0);
    ck_assert_msg(node_wait(&n, START_MS, both_running, NULL), "the node did not start");
    char *log = file_read(n.log, NULL);
    ck_assert_msg(strstr(log, "event=ledger_created") && strstr(log, "balances=20001"), "%s", log);
    free(log);
    check_answers(&n, totals, first);
    ck_assert_int_eq(node_stop(&n, SIGTERM, 30000), 0);

    /* The ledgers exist: a restart reads no balances, so the files may go. */
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s/balances.jsonl", n.home, i ? "delta" : "alpha");
        ck_assert_int_eq(unlink(path), 0);
    }
    ck_assert_int_eq(node_start(&n, NULL, NULL), 0);
    ck_assert_msg(node_wait(&n, START_MS, both_running, NULL), "the node did not restart");
    check_answers(&n, totals, first);
    ck_assert_int_eq(node_stop(&n, SIGTERM, 30000), 0);
    node_cleanup(&n);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("genesis_file");
    TCase *tc = tcase_create("genesis_file");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_init_refuses_bad_list);
    tcase_add_test(tc, test_node_starts_from_list);
    suite_add_tcase(s, tc);
    return s;
}
