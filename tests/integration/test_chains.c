/* Both chains end to end: a real devnet (adnet run, fast blocks) driven
 * through the real CLI binary (adnet tx / query / verify-proof) and the
 * HTTP API (libcurl). One node serves the whole suite (an unchecked
 * fixture starts it); each test makes its own keys so that the tests do
 * not lean on each other's balances. Every refusal is checked for its HTTP
 * status, its error code, and that nothing changed. */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/base/bech32.h"
#include "common/base/hex.h"
#include "common/base/keys.h"
#include "proto/alpha_tx.h"
#include "proto/delta_tx.h"
#include "proto/tx.h"
#include "tests/integration/harness.h"
#include "tests/lib/file.h"

Suite *test_suite(void);

__extension__ typedef unsigned __int128 u128;

#define ALPHA 0
#define DELTA 1
#define OUT_MAX (256 * 1024)

static node_t node;
static int node_ready;                 /* set by the fixture once both APIs answer */
static const char *const CHAIN[2] = { "alpha", "delta" };
static const uint64_t USD_GENESIS = 10000000; /* extra delta asset for the DEX tests */

/* ---- HTTP ---------------------------------------------------------------- */

typedef struct {
    long status;
    json_t *json;   /* parsed body or NULL */
    char *body;     /* raw body, NUL-terminated */
    size_t len;
} resp_t;

static size_t sink(char *p, size_t size, size_t n, void *arg)
{
    resp_t *r = arg;
    size_t k = size * n;
    char *b = realloc(r->body, r->len + k + 1);
    if (!b)
        return 0;
    memcpy(b + r->len, p, k);
    r->body = b;
    r->len += k;
    b[r->len] = '\0';
    return k;
}

/* One request to chain's API; status 0 if no answer came. */
static resp_t http(int chain, const char *method, const char *path, const char *ctype,
                   const void *body, size_t len)
{
    resp_t r = { 0 };
    char url[1024], hdr[128];
    struct curl_slist *h = NULL;
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", node.api_port[chain], path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    h = curl_slist_append(h, "Expect:");
    if (strcmp(method, "POST") == 0) {
        snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype ? ctype : "application/json");
        h = curl_slist_append(h, hdr);
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (r.body)
        r.json = json_loads(r.body, 0, NULL);
    return r;
}

static void resp_free(resp_t *r)
{
    json_decref(r->json);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* GET that must answer 200 with JSON; caller frees. */
static json_t *get_json(int chain, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *get_json(int chain, const char *fmt, ...)
{
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    resp_t r = http(chain, "GET", path, NULL, NULL, 0);
    ck_assert_msg(r.status == 200 && r.json, "GET %s %s: HTTP %ld %s", CHAIN[chain], path,
                  r.status, r.body ? r.body : "");
    json_t *j = json_incref(r.json);
    resp_free(&r);
    return j;
}

static const char *err_code(const resp_t *r)
{
    return json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
}

static uint64_t ju64(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_integer(v), "no integer \"%s\"", key);
    return (uint64_t)json_integer_value(v);
}

/* ---- the CLI --------------------------------------------------------------- */

/* Run `adnet ARGS... --home HOME`, stdout into out[OUT_MAX] when out != NULL. */
static int cli_v(char *out, const char *first, va_list ap)
{
    const char *argv[48];
    int n = 0;
    for (const char *a = first; a && n < 44; a = va_arg(ap, const char *))
        argv[n++] = a;
    argv[n++] = "--home";
    argv[n++] = node.home;
    argv[n] = NULL;
    return node_cli(&node, out, out ? OUT_MAX : 0, argv);
}

static int cli(char *out, const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    int rc = cli_v(out, first, ap);
    va_end(ap);
    return rc;
}

/* Run the CLI with --json and parse its one output object; *rc gets the exit code. */
static json_t *cli_json(int *rc, const char *first, ...)
{
    static char out[OUT_MAX];
    va_list ap;
    va_start(ap, first);
    *rc = cli_v(out, first, ap);
    va_end(ap);
    return json_loads(out, 0, NULL);
}

/* Make a key NAME and return its address in addr[ADDRESS_MAX]. */
static void new_key(const char *name, char *addr)
{
    static char out[OUT_MAX];
    ck_assert_int_eq(cli(out, "keys", "new", name, NULL), 0);
    out[strcspn(out, "\n")] = '\0';
    ck_assert_msg(strncmp(out, "ad1", 3) == 0, "keys new printed \"%s\"", out);
    snprintf(addr, ADDRESS_MAX, "%.*s", ADDRESS_MAX - 1, out);
}

static void load_key(const char *name, keys_pair_t *kp)
{
    char path[PATH_MAX + 64], err[KEYS_ERR_MAX];
    snprintf(path, sizeof(path), "%s/keys/%s.json", node.home, name);
    ck_assert_msg(keys_load(kp, path, err) == 0, "%s: %s", path, err);
}

static void key_address(const char *name, char *addr)
{
    keys_pair_t kp;
    load_key(name, &kp);
    ck_assert_int_eq(address_encode(addr, kp.pk), 0);
}

/* ---- chain reads ----------------------------------------------------------- */

static uint64_t delta_balance(const char *addr, const char *asset)
{
    json_t *a = get_json(DELTA, "/accounts/%s", addr);
    json_t *v = json_object_get(json_object_get(a, "balances"), asset);
    uint64_t b = v ? (uint64_t)json_integer_value(v) : 0;
    json_decref(a);
    return b;
}

static uint64_t delta_nonce(const char *addr)
{
    json_t *a = get_json(DELTA, "/accounts/%s", addr);
    uint64_t n = ju64(a, "nonce");
    json_decref(a);
    return n;
}

static uint64_t delta_supply_total(const char *asset)
{
    json_t *s = get_json(DELTA, "/supply");
    json_t *a = json_object_get(json_object_get(s, "supply"), asset);
    uint64_t t = ju64(a, "total");
    json_decref(s);
    return t;
}

static uint64_t alpha_supply(const char *asset)
{
    json_t *s = get_json(ALPHA, "/supply");
    uint64_t t = ju64(json_object_get(s, "supply"), asset);
    json_decref(s);
    return t;
}

/* The owner's unspent alpha records; caller frees the array. */
static json_t *alpha_unspent(const char *addr)
{
    json_t *o = get_json(ALPHA, "/owners/%s/records?unspent=true", addr);
    json_t *r = json_incref(json_object_get(o, "records"));
    json_decref(o);
    return r;
}

static uint64_t api_height(int chain)
{
    json_t *s = get_json(chain, "/status");
    uint64_t h = ju64(s, "height");
    json_decref(s);
    return h;
}

static void wait_blocks(int chain, uint64_t n)
{
    uint64_t h = node_ledger_height(&node, CHAIN[chain]);
    ck_assert_msg(node_wait_height(&node, CHAIN[chain], h + n, 20000), "%s stuck at %" PRIu64,
                  CHAIN[chain], h);
}

static int64_t ledger_count(int chain, const char *sql, const char *arg)
{
    char path[PATH_MAX + 32];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    snprintf(path, sizeof(path), "%s/%s/ledger.db", node.home, CHAIN[chain]);
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(db));
    if (arg)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Poll GET /txs/{id} until committed; return its height, 0 on timeout. */
static uint64_t wait_tx(int chain, const char *idhex, int timeout_ms)
{
    char path[128];
    snprintf(path, sizeof(path), "/txs/%s", idhex);
    double end = now_ms() + timeout_ms;
    do {
        resp_t r = http(chain, "GET", path, NULL, NULL, 0);
        if (r.status == 200) {
            uint64_t h = ju64(r.json, "height");
            resp_free(&r);
            return h;
        }
        resp_free(&r);
        usleep(50000);
    } while (now_ms() < end);
    return 0;
}

/* ---- hand-made transactions -------------------------------------------------- */

typedef struct {
    uint8_t buf[TX_MAX_BYTES];
    size_t len;
    char id[2 * TX_ID_LEN + 1];
} txbuf_t;

static void sign_tx(txbuf_t *t, const keys_pair_t *kp, const char *chain_id, uint16_t kind,
                    uint64_t fee, uint64_t nonce, uint64_t expiry, const uint8_t *payload,
                    size_t plen)
{
    tx_t tx;
    uint8_t id[TX_ID_LEN];
    memset(&tx, 0, sizeof(tx));
    snprintf(tx.chain_id, sizeof(tx.chain_id), "%s", chain_id);
    tx.kind = kind;
    memcpy(tx.sender, kp->pk, 32);
    tx.fee = fee;
    tx.nonce = nonce;
    tx.expiry_height = expiry;
    tx.payload = payload;
    tx.payload_len = plen;
    ck_assert_int_eq(tx_sign_encode(&tx, kp->sk, t->buf, sizeof(t->buf), &t->len), 0);
    tx_id(t->buf, t->len, id);
    hex_encode(t->id, id, TX_ID_LEN);
}

static void delta_transfer_tx(txbuf_t *t, const keys_pair_t *kp, const char *chain_id,
                              const uint8_t to[32], uint64_t amount, uint64_t fee,
                              uint64_t nonce, uint64_t expiry)
{
    delta_payload_t p;
    uint8_t buf[DELTA_PAYLOAD_MAX];
    size_t len;
    memset(&p, 0, sizeof(p));
    p.kind = DELTA_TX_TRANSFER;
    memcpy(p.u.transfer.to, to, 32);
    snprintf(p.u.transfer.asset, sizeof(p.u.transfer.asset), "ADN");
    p.u.transfer.amount = amount;
    ck_assert_int_eq(delta_payload_encode(&p, buf, sizeof(buf), &len), 0);
    sign_tx(t, kp, chain_id, DELTA_TX_TRANSFER, fee, nonce, expiry, buf, len);
}

/* POST {"tx":hex(bytes[len])} to chain. */
static resp_t post_tx(int chain, const uint8_t *bytes, size_t len)
{
    char *hex = malloc(2 * len + 1);
    ck_assert_ptr_nonnull(hex);
    hex_encode(hex, bytes, len);
    json_t *o = json_pack("{s:s}", "tx", hex);
    char *body = json_dumps(o, JSON_COMPACT);
    resp_t r = http(chain, "POST", "/txs", "application/json", body, strlen(body));
    free(body);
    json_decref(o);
    free(hex);
    return r;
}

/* POST and expect status with error code (NULL: expect 202). */
static void expect_post(int chain, const uint8_t *bytes, size_t len, long status,
                        const char *code)
{
    resp_t r = post_tx(chain, bytes, len);
    ck_assert_msg(r.status == status, "%s POST /txs: HTTP %ld, expected %ld: %s", CHAIN[chain],
                  r.status, status, r.body ? r.body : "");
    if (code)
        ck_assert_msg(err_code(&r) && strcmp(err_code(&r), code) == 0,
                      "expected error code %s, got %s", code, r.body ? r.body : "");
    resp_free(&r);
}

static void chain_id_of(int chain, char *out)
{
    json_t *s = get_json(chain, "/status");
    snprintf(out, BLOCK_CHAIN_ID_MAX + 1, "%s", json_string_value(json_object_get(s, "chain_id")));
    json_decref(s);
}

/* ---- fixture ------------------------------------------------------------------ */

/* Give the validator a second delta asset (USD) in genesis, for the pools. */
static int add_usd_to_delta_genesis(void)
{
    char path[PATH_MAX + 32];
    keys_pair_t kp;
    char err[KEYS_ERR_MAX], pk[65];
    snprintf(path, sizeof(path), "%s/keys/validator.json", node.home);
    if (keys_load(&kp, path, err) < 0)
        return -1;
    hex_encode(pk, kp.pk, 32);
    snprintf(path, sizeof(path), "%s/delta/genesis.json", node.home);
    json_t *g = json_load_file(path, 0, NULL);
    if (!g)
        return -1;
    json_array_append_new(json_object_get(g, "balances"),
                          json_pack("{s:s, s:s, s:I}", "owner", pk, "asset", "USD",
                                    "amount", (json_int_t)USD_GENESIS));
    int r = json_dump_file(g, path, JSON_INDENT(2));
    json_decref(g);
    return r;
}

static bool apis_up(node_t *n, const void *arg)
{
    (void)n;
    (void)arg;
    for (int c = 0; c < 2; c++) {
        resp_t r = http(c, "GET", "/status", NULL, NULL, 0);
        bool ok = r.status == 200 && json_integer_value(json_object_get(r.json, "height")) >= 2;
        resp_free(&r);
        if (!ok)
            return false;
    }
    return true;
}

static void setup(void)
{
    static const char *const args[] = {
        "--set", "alpha.block_interval_ms=200", "--set", "delta.block_interval_ms=100",
        /* The tests and the CLI all come from 127.0.0.1. */
        "--set", "alpha.api.rate_per_s=5000", "--set", "alpha.api.rate_burst=5000",
        "--set", "delta.api.rate_per_s=5000", "--set", "delta.api.rate_burst=5000", NULL,
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (sodium_init() < 0 || node_init(&node) < 0 || add_usd_to_delta_genesis() < 0 ||
        node_start(&node, args, NULL) < 0)
        return;
    if (!node_wait_running(&node, "alpha", 20000) || !node_wait_running(&node, "delta", 20000))
        return;
    node_ready = node_wait(&node, 20000, apis_up, NULL);
}

static void teardown(void)
{
    if (node.pid > 0)
        node_stop(&node, SIGTERM, 20000);
    node_cleanup(&node);
}

#define REQUIRE_NODE() ck_assert_msg(node_ready, "the devnet did not come up; log: %s", node.log)

/* ---- delta transfers ------------------------------------------------------------ */

START_TEST(test_delta_transfers)
{
    char alice[ADDRESS_MAX], bob[ADDRESS_MAX], val[ADDRESS_MAX];
    static char out[OUT_MAX];
    int rc;
    REQUIRE_NODE();
    new_key("alice", alice);
    new_key("bob", bob);
    key_address("validator", val);
    uint64_t supply0 = delta_supply_total("ADN"), v0 = delta_balance(val, "ADN");
    uint64_t vn0 = delta_nonce(val);

    json_t *j = cli_json(&rc, "tx", "transfer", "--chain", "delta", "--to", alice, "--amount",
                         "1000", "--json", NULL);
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "committed");
    uint64_t h = ju64(j, "height");
    json_t *t = get_json(DELTA, "/txs/%s", json_string_value(json_object_get(j, "id")));
    ck_assert_uint_eq(ju64(t, "height"), h);
    ck_assert_str_eq(json_string_value(json_object_get(t, "kind")), "transfer");
    ck_assert_uint_eq(ju64(t, "fee"), 1);
    json_decref(t);
    json_decref(j);
    /* Fee 1 goes to the proposer, which is the validator itself. */
    ck_assert_uint_eq(delta_balance(alice, "ADN"), 1000);
    ck_assert_uint_eq(delta_balance(val, "ADN"), v0 - 1000);
    ck_assert_uint_eq(delta_nonce(val), vn0 + 1);
    ck_assert_uint_eq(delta_supply_total("ADN"), supply0);

    /* alice -> bob by key name, human output. */
    ck_assert_int_eq(cli(out, "tx", "transfer", "--to", "bob", "--amount", "300", "--from",
                         "alice", NULL), 0);
    ck_assert_msg(strstr(out, "committed in block ") != NULL, "output: %s", out);
    ck_assert_uint_eq(strcspn(out, "\n"), 64); /* the id comes first */
    ck_assert_uint_eq(delta_balance(alice, "ADN"), 1000 - 300 - 1);
    ck_assert_uint_eq(delta_balance(bob, "ADN"), 300);
    ck_assert_uint_eq(delta_nonce(alice), 1);
    ck_assert_uint_eq(delta_balance(val, "ADN"), v0 - 1000 + 1);
    ck_assert_uint_eq(delta_supply_total("ADN"), supply0);

    /* query balance by name: the account JSON. */
    j = cli_json(&rc, "query", "balance", "bob", "--json", NULL);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(json_string_value(json_object_get(j, "address")), bob);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "balances"), "ADN")),
                     300);
    json_decref(j);

    /* Refused by the node: exit 100 and the error on stdout with --json; nothing moves. */
    j = cli_json(&rc, "tx", "transfer", "--to", "alice", "--amount", "5000", "--from", "bob",
                 "--json", NULL);
    ck_assert_int_eq(rc, 100);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                     "overspend");
    json_decref(j);
    ck_assert_uint_eq(delta_balance(bob, "ADN"), 300);
    ck_assert_uint_eq(delta_nonce(bob), 0);

    /* Usage errors exit 100 before any request. */
    ck_assert_int_eq(cli(NULL, "tx", "transfer", "--to", "alice", NULL), 100);
    ck_assert_int_eq(cli(NULL, "tx", "transfer", "--to", "alice", "--amount", "-5", NULL), 100);
    ck_assert_int_eq(cli(NULL, "tx", "transfer", "--to", "nobody-here", "--amount", "5", NULL),
                     100);
    ck_assert_int_eq(cli(NULL, "tx", "teleport", "--to", "alice", "--amount", "5", NULL), 100);

    /* The API address comes from the configuration and its env override:
     * pointing it at a closed port makes the node unreachable (111). */
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", node.api_port[DELTA]);
    setenv("ADNET_DELTA_API_LISTEN", "127.0.0.1:1", 1);
    rc = cli(NULL, "query", "balance", "bob", NULL);
    setenv("ADNET_DELTA_API_LISTEN", listen, 1);
    ck_assert_int_eq(rc, 111);
    ck_assert_int_eq(cli(NULL, "query", "balance", "bob", NULL), 0);
}
END_TEST

/* ---- alpha: mint, transfer, proofs ---------------------------------------------- */

/* `adnet verify-proof FILE` (offline: no --home). */
static int verify_proof(const char *path)
{
    const char *argv[] = { "verify-proof", path, NULL };
    return node_cli(&node, NULL, 0, argv);
}

/* Flip the first hex digit of s (in place). */
static void flip_hex(char *s)
{
    s[0] = s[0] == '0' ? '1' : '0';
}

START_TEST(test_alpha_mint_transfer_proof)
{
    char carol[ADDRESS_MAX], dave[ADDRESS_MAX], path[PATH_MAX + 32];
    static char out[OUT_MAX];
    int rc;
    REQUIRE_NODE();
    new_key("carol", carol);
    new_key("dave", dave);
    uint64_t s0 = alpha_supply("ADN");

    json_t *j = cli_json(&rc, "tx", "mint", "--to", carol, "--amount", "5000", "--json", NULL);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "committed");
    json_t *outs = json_object_get(j, "outputs");
    ck_assert_uint_eq(json_array_size(outs), 1);
    char cm0[65];
    snprintf(cm0, sizeof(cm0), "%s",
             json_string_value(json_object_get(json_array_get(outs, 0), "commitment")));
    json_decref(j);
    /* A mint creates amount + fee (the fee record goes to the proposer). */
    ck_assert_uint_eq(alpha_supply("ADN"), s0 + 5000 + 1);
    json_t *recs = alpha_unspent(carol);
    ck_assert_uint_eq(json_array_size(recs), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(recs, 0), "commitment")),
                     cm0);
    ck_assert_uint_eq(ju64(json_array_get(recs, 0), "amount"), 5000);
    json_decref(recs);

    /* carol -> dave 1200: one output to dave, change 3799 back to carol. */
    j = cli_json(&rc, "tx", "transfer", "--chain", "alpha", "--from", "carol", "--to", "dave",
                 "--amount", "1200", "--json", NULL);
    ck_assert_int_eq(rc, 0);
    outs = json_object_get(j, "outputs");
    ck_assert_uint_eq(json_array_size(outs), 2);
    char cm_dave[65];
    snprintf(cm_dave, sizeof(cm_dave), "%s",
             json_string_value(json_object_get(json_array_get(outs, 0), "commitment")));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(outs, 0), "owner")), dave);
    ck_assert_uint_eq(ju64(json_array_get(outs, 1), "amount"), 3799);
    json_decref(j);
    ck_assert_uint_eq(alpha_supply("ADN"), s0 + 5001); /* a transfer creates nothing */

    recs = alpha_unspent(dave);
    ck_assert_uint_eq(json_array_size(recs), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(recs, 0), "commitment")),
                     cm_dave);
    ck_assert_uint_eq(ju64(json_array_get(recs, 0), "amount"), 1200);
    json_decref(recs);
    recs = alpha_unspent(carol);
    ck_assert_uint_eq(json_array_size(recs), 1);
    ck_assert_uint_eq(ju64(json_array_get(recs, 0), "amount"), 3799);
    json_decref(recs);

    /* The minted record is spent: its nullifier is published, once. */
    json_t *rec = get_json(ALPHA, "/records/%s", cm0);
    ck_assert(json_is_integer(json_object_get(rec, "spent_height")));
    char nf[65];
    snprintf(nf, sizeof(nf), "%s", json_string_value(json_object_get(rec, "nullifier")));
    json_decref(rec);
    json_t *nj = get_json(ALPHA, "/nullifiers/%s", nf);
    ck_assert(json_is_true(json_object_get(nj, "spent")));
    json_decref(nj);

    /* CLI records query: unspent only by default, --all includes the spent one. */
    j = cli_json(&rc, "query", "records", "carol", "--json", NULL);
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "records")), 1);
    json_decref(j);
    j = cli_json(&rc, "query", "records", "carol", "--all", "--json", NULL);
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "records")), 2);
    json_decref(j);

    /* A Merkle proof of dave's record verifies offline; tampered copies do not. */
    ck_assert_int_eq(cli(out, "query", "proof", "record", cm_dave, "--chain", "alpha", NULL), 0);
    json_t *doc = json_loads(out, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "tree")), "records");
    snprintf(path, sizeof(path), "%s/proof.json", node.home);
    file_write(path, out);
    ck_assert_int_eq(verify_proof(path), 0);

    json_t *bad = json_deep_copy(doc);
    json_t *sibs = json_object_get(json_object_get(bad, "proof"), "siblings");
    ck_assert_uint_gt(json_array_size(sibs), 0);
    char sib[65];
    snprintf(sib, sizeof(sib), "%s", json_string_value(json_array_get(sibs, 0)));
    flip_hex(sib);
    json_array_set_new(sibs, 0, json_string(sib));
    char *text = json_dumps(bad, JSON_INDENT(2));
    file_write(path, text);
    free(text);
    json_decref(bad);
    ck_assert_int_eq(verify_proof(path), 1);

    bad = json_deep_copy(doc);
    char root[65];
    snprintf(root, sizeof(root), "%s", json_string_value(json_object_get(bad, "state_root")));
    flip_hex(root);
    json_object_set_new(bad, "state_root", json_string(root));
    text = json_dumps(bad, JSON_INDENT(2));
    file_write(path, text);
    free(text);
    json_decref(bad);
    ck_assert_int_eq(verify_proof(path), 1);
    json_decref(doc);
}
END_TEST

/* ---- delta: pools and swaps ---------------------------------------------------------- */

START_TEST(test_dex)
{
    char val[ADDRESS_MAX];
    static char out[OUT_MAX];
    int rc;
    REQUIRE_NODE();
    key_address("validator", val);
    uint64_t adn0 = delta_balance(val, "ADN"), usd0 = delta_balance(val, "USD");
    uint64_t sup_adn = delta_supply_total("ADN"), sup_usd = delta_supply_total("USD");
    ck_assert_uint_eq(usd0, USD_GENESIS);

    /* Given in the "wrong" order: the CLI names the pool ADN/USD. */
    ck_assert_int_eq(cli(out, "tx", "pool-create", "--asset-a", "USD", "--amount-a", "400000",
                         "--asset-b", "ADN", "--amount-b", "100000", NULL), 0);
    json_t *p = get_json(DELTA, "/pools/ADN/USD");
    ck_assert_str_eq(json_string_value(json_object_get(p, "asset_a")), "ADN");
    ck_assert_uint_eq(ju64(p, "reserve_a"), 100000);
    ck_assert_uint_eq(ju64(p, "reserve_b"), 400000);
    ck_assert_uint_eq(ju64(p, "fee_bps"), 30);
    ck_assert_uint_eq(ju64(p, "shares"), 200000); /* isqrt(100000 * 400000) */
    json_decref(p);
    ck_assert_uint_eq(delta_balance(val, "ADN"), adn0 - 100000);
    ck_assert_uint_eq(delta_balance(val, "USD"), usd0 - 400000);

    /* Same pool via the CLI, either order. */
    json_t *j = cli_json(&rc, "query", "pool", "USD", "ADN", "--json", NULL);
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(ju64(j, "reserve_b"), 400000);
    json_decref(j);

    /* Swap 1000 ADN for USD: out = floor(1000*9970*400000 / (100000*10000 + 1000*9970)). */
    u128 num = (u128)1000 * 9970 * 400000, den = (u128)100000 * 10000 + (u128)1000 * 9970;
    uint64_t expect = (uint64_t)(num / den);
    ck_assert_uint_eq(expect, 3948);
    char minout[32];
    snprintf(minout, sizeof(minout), "%" PRIu64, expect + 1);
    uint64_t n0 = delta_nonce(val);
    j = cli_json(&rc, "tx", "swap", "--pay", "ADN", "--amount", "1000", "--receive", "USD",
                 "--min-out", minout, "--json", NULL);
    ck_assert_int_eq(rc, 100);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                     "slippage");
    json_decref(j);
    ck_assert_uint_eq(delta_nonce(val), n0);
    ck_assert_uint_eq(delta_balance(val, "USD"), usd0 - 400000);

    snprintf(minout, sizeof(minout), "%" PRIu64, expect);
    ck_assert_int_eq(cli(out, "tx", "swap", "--pay", "ADN", "--amount", "1000", "--receive",
                         "USD", "--min-out", minout, NULL), 0);
    ck_assert_uint_eq(delta_balance(val, "USD"), usd0 - 400000 + expect);
    ck_assert_uint_eq(delta_balance(val, "ADN"), adn0 - 100000 - 1000);
    p = get_json(DELTA, "/pools/ADN/USD");
    ck_assert_uint_eq(ju64(p, "reserve_a"), 101000);
    ck_assert_uint_eq(ju64(p, "reserve_b"), 400000 - expect);
    json_decref(p);
    /* Pools count in the supply: nothing created, nothing lost. */
    ck_assert_uint_eq(delta_supply_total("ADN"), sup_adn);
    ck_assert_uint_eq(delta_supply_total("USD"), sup_usd);

    /* Add then remove liquidity. */
    ck_assert_int_eq(cli(out, "tx", "liquidity-add", "--asset-a", "ADN", "--asset-b", "USD",
                         "--max-a", "10100", "--max-b", "100000", NULL), 0);
    p = get_json(DELTA, "/pools/ADN/USD");
    uint64_t shares = ju64(p, "shares");
    ck_assert_uint_gt(shares, 200000);
    json_decref(p);
    char sh[32];
    snprintf(sh, sizeof(sh), "%" PRIu64, shares - 200000);
    ck_assert_int_eq(cli(out, "tx", "liquidity-remove", "--asset-a", "USD", "--asset-b", "ADN",
                         "--shares", sh, NULL), 0);
    p = get_json(DELTA, "/pools/ADN/USD");
    ck_assert_uint_eq(ju64(p, "shares"), 200000);
    json_decref(p);
    ck_assert_uint_eq(delta_supply_total("ADN"), sup_adn);
    ck_assert_uint_eq(delta_supply_total("USD"), sup_usd);
}
END_TEST

/* ---- delta: staking ---------------------------------------------------------------- */

START_TEST(test_stake)
{
    char erin[ADDRESS_MAX];
    int rc;
    REQUIRE_NODE();
    new_key("erin", erin);
    uint64_t sup = delta_supply_total("ADN");
    ck_assert_int_eq(cli(NULL, "tx", "transfer", "--to", "erin", "--amount", "1000", NULL), 0);
    ck_assert_int_eq(cli(NULL, "tx", "stake", "--amount", "100", "--from", "erin", NULL), 0);
    json_t *a = get_json(DELTA, "/accounts/%s", erin);
    ck_assert_uint_eq(ju64(a, "staked"), 100);
    ck_assert_uint_eq(ju64(json_object_get(a, "balances"), "ADN"), 899);
    json_decref(a);

    json_t *j = cli_json(&rc, "tx", "unstake", "--amount", "40", "--from", "erin", "--json",
                         NULL);
    ck_assert_int_eq(rc, 0);
    uint64_t h = ju64(j, "height");
    json_decref(j);
    a = get_json(DELTA, "/accounts/%s", erin);
    ck_assert_uint_eq(ju64(a, "staked"), 60);
    ck_assert_uint_eq(ju64(json_object_get(a, "balances"), "ADN"), 898);
    json_t *unb = json_object_get(a, "unbonding");
    ck_assert_uint_eq(json_array_size(unb), 1);
    ck_assert_uint_eq(ju64(json_array_get(unb, 0), "amount"), 40);
    uint64_t release = ju64(json_array_get(unb, 0), "release_height");
    ck_assert_uint_eq(release, h + 10); /* genesis unbonding_blocks */
    json_decref(a);
    ck_assert_uint_eq(delta_supply_total("ADN"), sup);
    /* Unstaking more than is staked is refused. */
    ck_assert_int_eq(cli(NULL, "tx", "unstake", "--amount", "61", "--from", "erin", NULL), 100);

    ck_assert(node_wait_height(&node, "delta", release + 1, 20000));
    a = get_json(DELTA, "/accounts/%s", erin);
    ck_assert_uint_eq(ju64(json_object_get(a, "balances"), "ADN"), 938);
    ck_assert_uint_eq(json_array_size(json_object_get(a, "unbonding")), 0);
    ck_assert_uint_eq(ju64(a, "staked"), 60);
    json_decref(a);
    ck_assert_uint_eq(delta_supply_total("ADN"), sup);
}
END_TEST

/* ---- refusals: each with its status and code, and no state change -------------------- */

typedef struct {
    char account[4096];   /* the validator's delta account JSON */
    int64_t txs[2];       /* committed transactions per chain */
    uint64_t alpha_supply;
} snapshot_t;

static void snapshot(snapshot_t *s, const char *val)
{
    json_t *a = get_json(DELTA, "/accounts/%s", val);
    char *t = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(s->account, sizeof(s->account), "%s", t);
    free(t);
    json_decref(a);
    for (int c = 0; c < 2; c++)
        s->txs[c] = ledger_count(c, "SELECT count(*) FROM txs", NULL);
    s->alpha_supply = alpha_supply("ADN");
}

START_TEST(test_refusals)
{
    char val[ADDRESS_MAX], cid[BLOCK_CHAIN_ID_MAX + 1], alpha_cid[BLOCK_CHAIN_ID_MAX + 1];
    keys_pair_t kp, frank;
    static txbuf_t t, good;
    snapshot_t before, after;
    REQUIRE_NODE();
    load_key("validator", &kp);
    key_address("validator", val);
    ck_assert_int_eq(keys_generate(&frank, "frank"), 0);
    chain_id_of(DELTA, cid);
    chain_id_of(ALPHA, alpha_cid);

    /* First a good transaction, to replay later. */
    uint64_t h = api_height(DELTA), nonce = delta_nonce(val);
    delta_transfer_tx(&good, &kp, cid, frank.pk, 5, 1, nonce, h + 100);
    expect_post(DELTA, good.buf, good.len, 202, NULL);
    ck_assert_uint_gt(wait_tx(DELTA, good.id, 20000), 0);
    nonce++;

    snapshot(&before, val);
    h = api_height(DELTA);

    /* Truncated bytes, and bytes that are not hex. */
    delta_transfer_tx(&t, &kp, cid, frank.pk, 5, 1, nonce, h + 100);
    expect_post(DELTA, t.buf, t.len - 10, 400, "malformed");
    resp_t r = http(DELTA, "POST", "/txs", "application/json", "{\"tx\":\"zz\"}", 11);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(err_code(&r), "malformed");
    resp_free(&r);
    /* A delta transaction posted to alpha. */
    expect_post(ALPHA, t.buf, t.len, 400, "wrong_chain");
    /* A bad signature. */
    t.buf[t.len - 1] ^= 0x01;
    expect_post(DELTA, t.buf, t.len, 400, "bad_signature");
    /* Expired. */
    delta_transfer_tx(&t, &kp, cid, frank.pk, 5, 1, nonce, 1);
    expect_post(DELTA, t.buf, t.len, 400, "expired");
    /* Fee below genesis min_fee (1). */
    delta_transfer_tx(&t, &kp, cid, frank.pk, 5, 0, nonce, h + 100);
    expect_post(DELTA, t.buf, t.len, 400, "fee_too_low");
    /* An unknown kind. */
    static const uint8_t junk[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    sign_tx(&t, &kp, cid, 99, 1, nonce, h + 100, junk, sizeof(junk));
    expect_post(DELTA, t.buf, t.len, 400, "unknown_kind");
    /* Overspend: the whole balance, plus the fee. */
    uint64_t bal = delta_balance(val, "ADN");
    delta_transfer_tx(&t, &kp, cid, frank.pk, bal, 1, nonce, h + 100);
    expect_post(DELTA, t.buf, t.len, 400, "overspend");
    /* An amount near 2^64. */
    delta_transfer_tx(&t, &kp, cid, frank.pk, UINT64_MAX - 1, 1, nonce, h + 100);
    r = post_tx(DELTA, t.buf, t.len);
    ck_assert_int_eq(r.status, 400);
    ck_assert_msg(strcmp(err_code(&r), "overflow") == 0 || strcmp(err_code(&r), "bad_amount") == 0,
                  "code %s", err_code(&r));
    resp_free(&r);
    /* Replay of a committed transaction. */
    expect_post(DELTA, good.buf, good.len, 409, "replay");
    /* A body over api.max_body_bytes (64 KiB). */
    size_t big = 70 * 1024;
    char *body = malloc(big);
    memset(body, 'a', big);
    r = http(DELTA, "POST", "/txs", "application/json", body, big);
    free(body);
    ck_assert_int_eq(r.status, 413);
    ck_assert_str_eq(err_code(&r), "body_too_large");
    resp_free(&r);
    /* Invalid JSON. */
    r = http(DELTA, "POST", "/txs", "application/json", "{not json", 9);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(err_code(&r), "invalid_json");
    resp_free(&r);
    /* Unknown route: 404 with the JSON error shape. */
    r = http(DELTA, "GET", "/no/such/route", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(err_code(&r), "not_found");
    resp_free(&r);
    /* An address that is not one. */
    r = http(DELTA, "GET", "/accounts/xyz", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(err_code(&r), "bad_address");
    ck_assert_ptr_nonnull(json_object_get(json_object_get(r.json, "error"), "message"));
    resp_free(&r);

    /* Nothing changed, even a few blocks later. */
    wait_blocks(DELTA, 3);
    wait_blocks(ALPHA, 1);
    snapshot(&after, val);
    ck_assert_str_eq(after.account, before.account);
    ck_assert_int_eq(after.txs[DELTA], before.txs[DELTA]);
    ck_assert_int_eq(after.txs[ALPHA], before.txs[ALPHA]);
    ck_assert_uint_eq(after.alpha_supply, before.alpha_supply);
    ck_assert_uint_eq(delta_balance(val, "ADN"), bal);

    /* Every refusal is counted by reason, and /metrics is valid exposition text. */
    r = http(DELTA, "GET", "/metrics", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 200);
    static const char *const reasons[] = { "malformed", "bad_signature", "expired",
                                           "fee_too_low", "unknown_kind", "overspend",
                                           "replay" };
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        char want[96];
        snprintf(want, sizeof(want), "adnet_tx_rejected_total{reason=\"%s\"", reasons[i]);
        ck_assert_msg(strstr(r.body, want) != NULL, "no %s in /metrics", want);
    }
    ck_assert_msg(access("/usr/bin/promtool", X_OK) == 0,
                  "/usr/bin/promtool is missing (scripts/dev installs package prometheus)");
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof(cmd), "/usr/bin/promtool check metrics > %s/promtool.out 2>&1",
             node.home);
    FILE *pt = popen(cmd, "w");
    ck_assert_ptr_nonnull(pt);
    fwrite(r.body, 1, r.len, pt);
    int st = pclose(pt);
    resp_free(&r);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "promtool check metrics failed (%s/promtool.out)",
                  node.home);
    r = http(ALPHA, "GET", "/metrics", NULL, NULL, 0);
    ck_assert_msg(strstr(r.body, "adnet_tx_rejected_total{reason=\"wrong_chain\"") != NULL,
                  "alpha counts no wrong_chain refusal");
    resp_free(&r);
}
END_TEST

/* ---- alpha: the same record spent twice ------------------------------------------------ */

static void alpha_spend_tx(txbuf_t *t, const keys_pair_t *kp, const char *cid, uint64_t expiry,
                           const uint8_t in[32], uint64_t in_amount, const uint8_t to[32],
                           uint64_t amount)
{
    alpha_payload_t *p = calloc(1, sizeof(*p));
    uint8_t buf[ALPHA_PAYLOAD_MAX];
    size_t len;
    ck_assert_ptr_nonnull(p);
    p->kind = ALPHA_TX_TRANSFER;
    p->n_in = 1;
    memcpy(p->in[0], in, 32);
    p->n_out = 2;
    memcpy(p->out[0].owner, to, 32);
    memcpy(p->out[1].owner, kp->pk, 32);
    snprintf(p->out[0].asset, sizeof(p->out[0].asset), "ADN");
    snprintf(p->out[1].asset, sizeof(p->out[1].asset), "ADN");
    p->out[0].amount = amount;
    p->out[1].amount = in_amount - amount - 1;
    randombytes_buf(p->out[0].salt, 32);
    randombytes_buf(p->out[1].salt, 32);
    ck_assert_int_eq(alpha_payload_encode(p, buf, sizeof(buf), &len), 0);
    sign_tx(t, kp, cid, ALPHA_TX_TRANSFER, 1, 0, expiry, buf, len);
    free(p);
}

START_TEST(test_alpha_double_spend)
{
    char gina[ADDRESS_MAX], hal[ADDRESS_MAX], ivy[ADDRESS_MAX], cid[BLOCK_CHAIN_ID_MAX + 1];
    keys_pair_t kg, kh, ki;
    static txbuf_t t1, t2;
    int rc;
    REQUIRE_NODE();
    new_key("gina", gina);
    new_key("hal", hal);
    new_key("ivy", ivy);
    load_key("gina", &kg);
    load_key("hal", &kh);
    load_key("ivy", &ki);
    chain_id_of(ALPHA, cid);
    json_t *j = cli_json(&rc, "tx", "mint", "--to", "gina", "--amount", "1000", "--json", NULL);
    ck_assert_int_eq(rc, 0);
    uint8_t cm[32];
    const char *cmhex =
        json_string_value(json_object_get(json_array_get(json_object_get(j, "outputs"), 0),
                                          "commitment"));
    ck_assert_int_eq(hex_decode(cm, 32, cmhex), 0);
    json_t *rec = get_json(ALPHA, "/records/%s", cmhex);
    char nf[65];
    snprintf(nf, sizeof(nf), "%s", json_string_value(json_object_get(rec, "nullifier")));
    json_decref(rec);
    json_decref(j);

    uint64_t h = api_height(ALPHA), s0 = alpha_supply("ADN");
    alpha_spend_tx(&t1, &kg, cid, h + 100, cm, 1000, kh.pk, 500);
    alpha_spend_tx(&t2, &kg, cid, h + 100, cm, 1000, ki.pk, 500);
    expect_post(ALPHA, t1.buf, t1.len, 202, NULL);
    resp_t r = post_tx(ALPHA, t2.buf, t2.len);
    /* Refused at admission, or accepted and then dropped when the block is built. */
    ck_assert_msg(r.status == 202 || (r.status == 400 && strcmp(err_code(&r), "double_spend") == 0),
                  "second spend: HTTP %ld %s", r.status, r.body);
    resp_free(&r);
    uint64_t h1 = wait_tx(ALPHA, t1.id, 20000);
    ck_assert_uint_gt(h1, 0);
    wait_blocks(ALPHA, 3);
    char path[128];
    snprintf(path, sizeof(path), "/txs/%s", t2.id);
    resp_t r2 = http(ALPHA, "GET", path, NULL, NULL, 0);
    ck_assert_int_eq(r2.status, 404);
    resp_free(&r2);
    ck_assert_int_eq(ledger_count(ALPHA, "SELECT count(*) FROM nullifiers WHERE nullifier = ?", nf),
                     1);
    json_t *a = alpha_unspent(hal), *b = alpha_unspent(ivy);
    ck_assert_uint_eq(json_array_size(a), 1);
    ck_assert_uint_eq(ju64(json_array_get(a, 0), "amount"), 500);
    ck_assert_uint_eq(json_array_size(b), 0);
    json_decref(a);
    json_decref(b);
    ck_assert_uint_eq(alpha_supply("ADN"), s0);
    /* And spending it a third time, now that it is committed spent, is refused outright. */
    static txbuf_t t3;
    alpha_spend_tx(&t3, &kg, cid, h + 100, cm, 1000, ki.pk, 400);
    r = post_tx(ALPHA, t3.buf, t3.len);
    ck_assert_int_eq(r.status, 400);
    ck_assert_msg(strcmp(err_code(&r), "double_spend") == 0 ||
                  strcmp(err_code(&r), "unknown_record") == 0, "code %s", err_code(&r));
    resp_free(&r);
}
END_TEST

/* ---- alpha burn and CLI queries -------------------------------------------------------- */

START_TEST(test_alpha_burn_and_queries)
{
    char jon[ADDRESS_MAX], val[ADDRESS_MAX];
    static char out[OUT_MAX];
    int rc;
    REQUIRE_NODE();
    new_key("jon", jon);
    key_address("validator", val);
    ck_assert_int_eq(cli(NULL, "tx", "mint", "--to", "jon", "--amount", "700", NULL), 0);
    json_t *s = get_json(ALPHA, "/supply");
    uint64_t burned0 = json_integer_value(json_object_get(json_object_get(s, "burned"), "ADN"));
    uint64_t s0 = ju64(json_object_get(s, "supply"), "ADN");
    json_decref(s);
    ck_assert_int_eq(cli(out, "tx", "burn", "--amount", "200", "--to", val, "--from", "jon",
                         NULL), 0);
    s = get_json(ALPHA, "/supply");
    ck_assert_uint_eq(json_integer_value(json_object_get(json_object_get(s, "burned"), "ADN")),
                      burned0 + 200);
    ck_assert_uint_eq(ju64(json_object_get(s, "supply"), "ADN"), s0 - 200);
    json_decref(s);
    json_t *recs = alpha_unspent(jon);
    ck_assert_uint_eq(json_array_size(recs), 1);
    ck_assert_uint_eq(ju64(json_array_get(recs, 0), "amount"), 700 - 200 - 1);
    json_decref(recs);

    /* block / tx / supply through the CLI. */
    json_t *b = cli_json(&rc, "query", "block", "latest", "--chain", "alpha", "--json", NULL);
    ck_assert_int_eq(rc, 0);
    uint64_t h = ju64(b, "height");
    ck_assert_uint_gt(h, 0);
    json_decref(b);
    char hs[24];
    snprintf(hs, sizeof(hs), "%" PRIu64, h);
    b = cli_json(&rc, "query", "block", hs, "--chain", "alpha", "--json", NULL);
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(ju64(b, "height"), h);
    json_decref(b);
    ck_assert_int_eq(cli(NULL, "query", "block", "99999999", "--chain", "alpha", NULL), 100);
    ck_assert_int_eq(cli(NULL, "query", "block", "--chain", "delta", NULL), 0);
    ck_assert_int_eq(cli(NULL, "query", "supply", NULL), 100); /* which chain? */
    ck_assert_int_eq(cli(out, "query", "supply", "--chain", "delta", NULL), 0);
    ck_assert_msg(strstr(out, "total: ") != NULL, "human supply: %s", out);
    ck_assert_int_eq(cli(NULL, "query", "tx", "00", "--chain", "delta", NULL), 100);
    ck_assert_int_eq(cli(NULL, "query", "tx",
                         "0000000000000000000000000000000000000000000000000000000000000000",
                         "--chain", "delta", NULL), 100);
}
END_TEST

/* Append one length-prefixed transaction to a POST /txs/batch body. */
static size_t batch_add(uint8_t *body, size_t at, const uint8_t *tx, size_t len)
{
    body[at] = (uint8_t)(len >> 24);
    body[at + 1] = (uint8_t)(len >> 16);
    body[at + 2] = (uint8_t)(len >> 8);
    body[at + 3] = (uint8_t)len;
    memcpy(body + at + 4, tx, len);
    return at + 4 + len;
}

START_TEST(test_delta_batch)
{
    enum { N = 40 };
    char val[ADDRESS_MAX], cid[BLOCK_CHAIN_ID_MAX + 1], addr[ADDRESS_MAX];
    keys_pair_t kp, to[N];
    static txbuf_t t[N + 2];
    static uint8_t body[(N + 2) * (TX_MAX_BYTES + 4)];
    size_t at = 0;
    REQUIRE_NODE();
    load_key("validator", &kp);
    key_address("validator", val);
    chain_id_of(DELTA, cid);
    uint64_t h = api_height(DELTA), nonce = delta_nonce(val);

    /* N good transfers to fresh accounts, one with a broken signature
     * (the last byte flipped) and one repeated: each answered in order. */
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(keys_generate(&to[i], "to"), 0);
        delta_transfer_tx(&t[i], &kp, cid, to[i].pk, 100 + (uint64_t)i, 1, nonce + (uint64_t)i,
                          h + 100);
        at = batch_add(body, at, t[i].buf, t[i].len);
        if (i == 9) {
            t[N] = t[3];
            t[N].buf[t[N].len - 1] ^= 1;
            at = batch_add(body, at, t[N].buf, t[N].len);
        }
    }
    at = batch_add(body, at, t[0].buf, t[0].len);
    resp_t r = http(DELTA, "POST", "/txs/batch", "application/octet-stream", (char *)body, at);
    ck_assert_msg(r.status == 200, "HTTP %ld: %s", r.status, r.body);
    ck_assert_uint_eq(ju64(r.json, "accepted"), N);
    ck_assert_uint_eq(ju64(r.json, "refused"), 2);
    json_t *res = json_object_get(r.json, "results");
    ck_assert_uint_eq(json_array_size(res), N + 2);
    json_t *bad = json_array_get(res, 10), *dup = json_array_get(res, N + 1);
    ck_assert_str_eq(json_string_value(json_object_get(bad, "status")), "refused");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(bad, "error"), "code")),
                     "bad_signature");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(dup, "error"), "code")),
                     "duplicate");
    ck_assert_int_eq(json_integer_value(json_object_get(dup, "http_status")), 409);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(res, 11), "id")), t[10].id);
    resp_free(&r);
    ck_assert_uint_gt(wait_tx(DELTA, t[N - 1].id, 20000), 0);
    for (int i = 0; i < N; i += 13) {
        ck_assert_int_eq(address_encode(addr, to[i].pk), 0);
        ck_assert_uint_eq(delta_balance(addr, "ADN"), 100 + (uint64_t)i);
    }
    ck_assert_uint_eq(delta_nonce(val), nonce + N);

    /* The JSON form, and bodies refused whole (nothing admitted). */
    char *hex = malloc(2 * t[0].len + 1), json[2 * TX_MAX_BYTES + 64];
    ck_assert_ptr_nonnull(hex);
    hex_encode(hex, t[0].buf, t[0].len);
    snprintf(json, sizeof json, "{\"txs\":[\"%s\"]}", hex);
    free(hex);
    r = http(DELTA, "POST", "/txs/batch", "application/json", json, strlen(json));
    ck_assert_msg(r.status == 200, "HTTP %ld: %s", r.status, r.body);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(
                         json_object_get(r.json, "results"), 0), "error"), "code")), "replay");
    resp_free(&r);
    r = http(DELTA, "POST", "/txs/batch", "application/octet-stream", (char *)body, 30);
    ck_assert_msg(r.status == 400 && strstr(r.body, "malformed") && strstr(r.body, "past the end"),
                  "HTTP %ld: %s", r.status, r.body);
    resp_free(&r);
    memset(body, 0, 5 * 1001);
    for (int i = 0; i < 1001; i++)
        body[5 * i + 3] = 1;
    r = http(DELTA, "POST", "/txs/batch", "application/octet-stream", (char *)body, 5 * 1001);
    ck_assert_msg(r.status == 413 && strstr(r.body, "too_many"), "HTTP %ld: %s", r.status, r.body);
    resp_free(&r);
    r = http(DELTA, "POST", "/txs/batch", "application/json", "{\"txs\":[\"0g\"]}", 14);
    ck_assert_msg(r.status == 400 && strstr(r.body, "txs[0]"), "HTTP %ld: %s", r.status, r.body);
    resp_free(&r);
    ck_assert_uint_eq(delta_nonce(val), nonce + N);
}
END_TEST

/* The error code of a GET /txs/{id} that is not 200 ("" if none). */
static void tx_error_code(const char *idhex, char code[32], long *status)
{
    char path[128];
    snprintf(path, sizeof(path), "/txs/%s", idhex);
    resp_t r = http(DELTA, "GET", path, NULL, NULL, 0);
    const char *c = json_string_value(json_object_get(json_object_get(r.json, "error"), "code"));
    snprintf(code, 32, "%s", c ? c : "");
    *status = r.status;
    resp_free(&r);
}

START_TEST(test_mempool_survives_a_crash)
{
    enum { N = 8 };
    char val[ADDRESS_MAX], cid[BLOCK_CHAIN_ID_MAX + 1], code[32];
    keys_pair_t kp, to;
    static txbuf_t t[N + 1];
    long status;
    REQUIRE_NODE();
    load_key("validator", &kp);
    key_address("validator", val);
    chain_id_of(DELTA, cid);
    ck_assert_int_eq(keys_generate(&to, "to"), 0);
    uint64_t h = api_height(DELTA), nonce = delta_nonce(val);

    /* Nonces 1..N ahead of the next one: admitted (202) and kept pending. */
    for (int i = 1; i <= N; i++) {
        delta_transfer_tx(&t[i], &kp, cid, to.pk, 10, 1, nonce + (uint64_t)i, h + 1000);
        expect_post(DELTA, t[i].buf, t[i].len, 202, NULL);
    }
    tx_error_code(t[N].id, code, &status);
    ck_assert_int_eq(status, 404);
    ck_assert_str_eq(code, "pending");
    /* The worker dies; the supervisor starts a new one, which reloads them. */
    pid_t pid = node_worker_pid(&node, "delta");
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    double end = now_ms() + 15000;
    while (now_ms() < end && (node_worker_pid(&node, "delta") == pid ||
                              !node_worker_state_is(&node, "delta", "running")))
        usleep(50000);
    ck_assert_int_ne(node_worker_pid(&node, "delta"), pid);
    ck_assert(node_wait_running(&node, "delta", 15000));
    tx_error_code(t[1].id, code, &status);
    ck_assert_msg(status == 404 && strcmp(code, "pending") == 0, "after the restart: %ld %s",
                  status, code);
    /* The missing nonce: then every one of them commits. */
    delta_transfer_tx(&t[0], &kp, cid, to.pk, 10, 1, nonce, h + 1000);
    expect_post(DELTA, t[0].buf, t[0].len, 202, NULL);
    for (int i = 0; i <= N; i++)
        ck_assert_msg(wait_tx(DELTA, t[i].id, 20000) > 0, "tx %d not committed", i);
    ck_assert_uint_eq(delta_nonce(val), nonce + N + 1);
    /* A transaction refused at its block is "dropped", with the reason. */
    uint64_t bal = delta_balance(val, "ADN");
    nonce = delta_nonce(val);
    h = api_height(DELTA);
    delta_transfer_tx(&t[0], &kp, cid, to.pk, bal - 10, 1, nonce, h + 1000);
    delta_transfer_tx(&t[1], &kp, cid, to.pk, bal - 10, 1, nonce + 1, h + 1000);
    expect_post(DELTA, t[0].buf, t[0].len, 202, NULL);
    expect_post(DELTA, t[1].buf, t[1].len, 202, NULL);
    ck_assert_uint_gt(wait_tx(DELTA, t[0].id, 20000), 0);
    end = now_ms() + 10000;
    do
        tx_error_code(t[1].id, code, &status);
    while (strcmp(code, "dropped") != 0 && now_ms() < end && usleep(50000) == 0);
    ck_assert_msg(status == 404 && strcmp(code, "dropped") == 0, "%ld %s", status, code);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("chains");
    TCase *tc = tcase_create("devnet");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_delta_transfers);
    tcase_add_test(tc, test_alpha_mint_transfer_proof);
    tcase_add_test(tc, test_dex);
    tcase_add_test(tc, test_stake);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_delta_batch);
    tcase_add_test(tc, test_alpha_double_spend);
    tcase_add_test(tc, test_alpha_burn_and_queries);
    tcase_add_test(tc, test_mempool_survives_a_crash);
    suite_add_tcase(s, tc);
    return s;
}
