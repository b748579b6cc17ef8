/* common/api.c + common/api_routes.c: a real server on 127.0.0.1, port 0,
 * over a temporary ledger, driven with libcurl. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "common/base/bech32.h"
#include "common/base/hex.h"
#include "common/base/metrics.h"
#include "common/node/api/api.h"
#include "common/node/api/api_routes.h"
#include "common/node/api/node.h"
#include "common/store/ledger.h"
#include "common/store/prune.h"
#include "proto/tx.h"
#include "tests/lib/blocks.h"
#include "tests/lib/file.h"
#include "tests/lib/gen.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

#define MAX_BODY 4096

static const ledger_migration_t BASE_ONLY[] = {{1, LEDGER_SQL_BASE_V1}};
static const ledger_schema_t SCHEMA1 = {BASE_ONLY, 1};
/* A later binary's schema: a ledger made with it is newer than SCHEMA1. */
static const ledger_migration_t BASE_AND_MORE[] = {{1, LEDGER_SQL_BASE_V1},
                                                   {2, "CREATE TABLE later (x INTEGER);"}};
static const ledger_schema_t SCHEMA2 = {BASE_AND_MORE, 2};
static const char GENESIS_TEXT[] = "{\n  \"chain_id\": \"adnet-test\",\n  \"chain\": \"alpha\"\n}\n";

/* ---- fixture ------------------------------------------------------------ */

typedef struct {
    tmp_ledger_t tmp;            /* the ledger's and the genesis file's directory */
    ledger_t *ledger;            /* writer connection, kept open */
    genesis_t *g;
    node_api_t node;
    metrics_t *metrics;
    api_server_t *server;
    char base[64];               /* http://127.0.0.1:port */
    uint8_t hash[3][BLOCK_HASH_LEN]; /* hashes of blocks 1..2 at [1], [2] */
    char txid[2][2 * TX_ID_LEN + 1]; /* ids of block 2's transactions, by index */
    uint8_t sender_pk[32];
    uint8_t tx0[TX_MAX_BYTES];
    size_t tx0_len;
    uint64_t block_time_ms;      /* time of the blocks put next; 0: T0_MS + (height - 1) s */
} env_t;

static env_t E;

/* What the fake submit saw and should say. */
static struct {
    const char *refuse_code;     /* NULL: accept */
    uint8_t got[TX_MAX_BYTES];
    size_t got_len;
    int calls;
} SUB;

static int fake_submit(node_api_t *n, const uint8_t *tx, size_t len, uint8_t id[TX_ID_LEN],
                       reject_t *why)
{
    SUB.calls++;
    SUB.got_len = len < sizeof SUB.got ? len : sizeof SUB.got;
    memcpy(SUB.got, tx, SUB.got_len);
    if (SUB.refuse_code != NULL)
        return reject(why, -EINVAL, SUB.refuse_code, "refused: %s", SUB.refuse_code);
    tx_id(tx, len, id);
    return 0;
}

static void make_block(uint64_t height, const uint8_t prev[BLOCK_HASH_LEN], block_header_t *h,
                       uint8_t hash[BLOCK_HASH_LEN], commit_cert_t *c)
{
    blocks_fake(height, prev, E.block_time_ms ? E.block_time_ms : T0_MS + (height - 1) * 1000,
                height == 2 ? 2 : 0, h, hash, c);
}

/* Begin a block transaction and put block `height` on the tip (not committed). */
static void put_block_open(uint64_t height)
{
    static commit_cert_t c;
    block_header_t h;
    uint8_t prev[BLOCK_HASH_LEN];
    if (height == 1)
        memset(prev, BLOCKS_GENESIS_BYTE, sizeof prev);
    else
        memcpy(prev, E.hash[height - 1], sizeof prev);
    uint8_t hash[BLOCK_HASH_LEN];
    make_block(height, prev, &h, hash, &c);
    ck_assert_int_eq(ledger_begin(E.ledger), 0);
    ck_assert_msg(ledger_put_block(E.ledger, &h, hash, &c) == 0, "%s", ledger_errmsg(E.ledger));
    if (height < 3)
        memcpy(E.hash[height], hash, BLOCK_HASH_LEN);
}

static void put_tx_row(uint64_t height, uint32_t idx, const uint8_t *body, size_t len,
                       char idhex[2 * TX_ID_LEN + 1])
{
    uint8_t id[TX_ID_LEN];
    sqlite3_stmt *st = NULL;
    tx_id(body, len, id);
    hex_encode(idhex, id, TX_ID_LEN);
    ck_assert_int_eq(sqlite3_prepare_v2(ledger_db(E.ledger),
                                        "INSERT INTO txs (id, height, idx, kind, sender, body)"
                                        " VALUES (?1, ?2, ?3, 'mint', NULL, ?4)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, idhex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)height);
    sqlite3_bind_int64(st, 3, idx);
    sqlite3_bind_blob(st, 4, body, (int)len, SQLITE_TRANSIENT);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

static void make_tx(uint64_t nonce, uint64_t expiry, uint8_t *out, size_t *len)
{
    static uint8_t pk[32], sk[64];
    static int have_key;
    if (!have_key) {
        crypto_sign_seed_keypair(pk, sk, (const uint8_t *)"adnet-test-api-seed-0123456789ab");
        have_key = 1;
    }
    memcpy(E.sender_pk, pk, 32);
    static const uint8_t payload[] = {0xde, 0xad, 0xbe, 0xef};
    tx_t tx;
    memset(&tx, 0, sizeof tx);
    strcpy(tx.chain_id, "adnet-test");
    tx.kind = 3;
    memcpy(tx.sender, pk, 32);
    tx.fee = 5;
    tx.nonce = nonce;
    tx.expiry_height = expiry;
    tx.payload = payload;
    tx.payload_len = sizeof payload;
    ck_assert_int_eq(tx_sign_encode(&tx, sk, out, TX_MAX_BYTES, len), 0);
}

typedef struct {
    const char *ledger_path;     /* NULL: the fixture's */
    const ledger_schema_t *ledger_schema; /* the writer's; NULL: SCHEMA1, as the API's */
    double rate_per_s, rate_burst;
    int blocks;                  /* blocks to commit: 0 or 2 */
    const api_route_t *extra;    /* an extra route table */
    size_t n_extra;
} opts_t;

static void env_start(const opts_t *o)
{
    char err[API_ERR_MAX];
    char lerr[LEDGER_ERR_MAX];
    memset(&E, 0, sizeof E);
    memset(&SUB, 0, sizeof SUB);
    ck_assert_int_ge(sodium_init(), 0);
    tmp_ledger_init(&E.tmp, "api");
    file_write(E.tmp.genesis, GENESIS_TEXT);

    ck_assert_msg(ledger_open(&E.ledger, E.tmp.db, o->ledger_schema ? o->ledger_schema : &SCHEMA1,
                              lerr) == 0,
                  "%s", lerr);
    if (o->blocks >= 1) {
        put_block_open(1);
        ck_assert_int_eq(ledger_commit(E.ledger), 0);
    }
    if (o->blocks >= 2) {
        uint8_t body[TX_MAX_BYTES];
        size_t len;
        put_block_open(2);
        make_tx(7, 100, E.tx0, &E.tx0_len);
        put_tx_row(2, 0, E.tx0, E.tx0_len, E.txid[0]);
        make_tx(8, UINT64_MAX, body, &len); /* expiry above 2^63-1 */
        put_tx_row(2, 1, body, len, E.txid[1]);
        ck_assert_int_eq(ledger_commit(E.ledger), 0);
    }

    E.g = gen_new("alpha", "adnet-test");
    E.g->genesis_time_ms = 0; /* the health tests set it where they need one */
    E.g->protocol_version = 4;
    for (int i = 0; i < 3; i++) {
        uint8_t gov[BLOCK_KEY_LEN];
        memset(gov, 0x10 + i, BLOCK_KEY_LEN);
        gen_add_governor(E.g, gov);
    }
    memset(E.g->hash, 0x5a, BLOCK_HASH_LEN);

    E.metrics = metrics_new();
    ck_assert_ptr_nonnull(E.metrics);
    E.node.chain = "alpha";
    E.node.genesis = E.g;
    E.node.genesis_path = E.tmp.genesis;
    E.node.ledger_path = E.tmp.db;
    E.node.metrics = E.metrics;
    E.node.restarts = 3;
    E.node.submit = fake_submit;

    static const api_route_t *tables[3];
    static size_t counts[3];
    tables[0] = api_common_routes;
    counts[0] = api_common_nroutes;
    tables[1] = o->extra;
    counts[1] = o->n_extra;
    tables[2] = NULL;
    api_config_t cfg = {
        .listen = "127.0.0.1:0",
        .ledger_path = o->ledger_path ? o->ledger_path : E.tmp.db,
        .schema = &SCHEMA1,
        .route_tables = tables,
        .route_counts = counts,
        .ctx = &E.node,
        .metrics = E.metrics,
        .max_body = MAX_BODY,
        .max_header = 8192,
        .timeout_s = 5,
        .threads = 2,
        .rate_per_s = o->rate_per_s > 0 ? o->rate_per_s : 10000,
        .rate_burst = o->rate_burst > 0 ? o->rate_burst : 10000,
        .no_ledger = api_common_no_ledger,
    };
    ck_assert_msg(api_start(&E.server, &cfg, err) == 0, "api_start: %s", err);
    ck_assert_int_gt(api_port(E.server), 0);
    snprintf(E.base, sizeof E.base, "http://127.0.0.1:%d", api_port(E.server));
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void env_stop(void)
{
    api_stop(E.server);
    ledger_close(E.ledger);
    metrics_free(E.metrics);
    free(E.g);
    tmp_ledger_cleanup(&E.tmp);
}

/* ---- HTTP client -------------------------------------------------------- */

typedef struct {
    long status;
    char *body;
    size_t len;
    char headers[8192];
    size_t hlen;
    json_t *json;                /* parsed body, if JSON */
} http_t;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    http_t *r = ud;
    size_t k = sz * n;
    r->body = realloc(r->body, r->len + k + 1);
    memcpy(r->body + r->len, p, k);
    r->len += k;
    r->body[r->len] = '\0';
    return k;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    http_t *r = ud;
    size_t k = sz * n;
    if (r->hlen + k < sizeof r->headers) {
        memcpy(r->headers + r->hlen, p, k);
        r->hlen += k;
        r->headers[r->hlen] = '\0';
    }
    return k;
}

/* The value of response header name (case-insensitive), into out; 0 or -1. */
static int header_of(const http_t *r, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *eol = strstr(line, "\r\n");
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = (size_t)((eol ? eol : v + strlen(v)) - v);
            snprintf(out, cap, "%.*s", (int)vl, v);
            return 0;
        }
        line = eol ? eol + 2 : NULL;
    }
    return -1;
}

typedef struct {
    size_t left;
} chunk_src_t;

static size_t chunk_read(char *buf, size_t sz, size_t n, void *ud)
{
    chunk_src_t *s = ud;
    size_t k = sz * n < s->left ? sz * n : s->left;
    memset(buf, 'x', k);
    s->left -= k;
    return k;
}

/* Perform a request; extra_header may be NULL; chunked > 0 streams that many
 * bytes with Transfer-Encoding: chunked. */
static void http_do(http_t *r, const char *method, const char *path, const char *ctype,
                    const void *body, size_t blen, const char *extra_header, size_t chunked)
{
    char url[4096], ct[128];
    struct curl_slist *hdrs = NULL;
    chunk_src_t src = {chunked};
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    snprintf(url, sizeof url, "%s%s", E.base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (ctype != NULL) {
        snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
        hdrs = curl_slist_append(hdrs, ct);
    }
    if (extra_header != NULL)
        hdrs = curl_slist_append(hdrs, extra_header);
    if (chunked > 0) {
        hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, chunk_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &src);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    } else if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode cc = curl_easy_perform(c);
    ck_assert_msg(cc == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(cc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (r->body != NULL)
        r->json = json_loadb(r->body, r->len, 0, NULL);
}

static void http_get(http_t *r, const char *path)
{
    http_do(r, "GET", path, NULL, NULL, 0, NULL, 0);
}

static void http_free(http_t *r)
{
    json_decref(r->json);
    free(r->body);
}

/* Assert the standard error shape: exactly {"error":{"code","message"}}. */
static void assert_error(const http_t *r, long status, const char *code)
{
    char ct[128];
    ck_assert_msg(r->status == status, "status %ld, want %ld; body %s", r->status, status,
                  r->body ? r->body : "(none)");
    ck_assert_int_eq(header_of(r, "Content-Type", ct, sizeof ct), 0);
    ck_assert_str_eq(ct, "application/json");
    ck_assert_ptr_nonnull(r->json);
    ck_assert_uint_eq(json_object_size(r->json), 1);
    json_t *e = json_object_get(r->json, "error");
    ck_assert_uint_eq(json_object_size(e), 2);
    ck_assert_str_eq(json_string_value(json_object_get(e, "code")), code);
    ck_assert(json_string_length(json_object_get(e, "message")) > 0);
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_string(v), "%s is not a string", key);
    return json_string_value(v);
}

static long long jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
    return json_integer_value(v);
}

static void hexof(char *out, const uint8_t *p, size_t n)
{
    hex_encode(out, p, n);
}

static void addr_of_byte(char out[ADDRESS_MAX], int b)
{
    uint8_t pk[32];
    memset(pk, b, 32);
    ck_assert_int_eq(address_encode(out, pk), 0);
}

static char *render_metrics(void)
{
    char *m = metrics_render(E.metrics);
    ck_assert_ptr_nonnull(m);
    return m;
}

/* ---- tests -------------------------------------------------------------- */

static const opts_t WITH_BLOCKS = {.blocks = 2};

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A fixture whose only block is age_ms old, for a chain of interval_ms. */
static void env_start_aged(uint32_t interval_ms, uint64_t age_ms)
{
    static const opts_t empty = {.blocks = 0};
    env_start(&empty);
    E.node.block_interval_ms = interval_ms;
    E.block_time_ms = wall_ms() - age_ms;
    put_block_open(1);
    ck_assert_int_eq(ledger_commit(E.ledger), 0);
}

/* GET /health: status code and "status"; the fields every answer has. */
static void get_health(http_t *r, long status, const char *state, long long height,
                       long long interval_ms)
{
    char ct[128];
    http_get(r, "/health");
    ck_assert_msg(r->status == status, "status %ld, want %ld: %s", r->status, status, r->body);
    ck_assert_int_eq(header_of(r, "Content-Type", ct, sizeof ct), 0);
    ck_assert_str_eq(ct, "application/json");
    ck_assert_ptr_nonnull(r->json);
    ck_assert_str_eq(jstr(r->json, "status"), state);
    ck_assert_str_eq(jstr(r->json, "chain"), "alpha");
    ck_assert_int_eq(jint(r->json, "height"), height);
    ck_assert_int_eq(jint(r->json, "block_interval_ms"), interval_ms);
    ck_assert_int_ge(jint(r->json, "last_block_age_ms"), 0);
    ck_assert_str_eq(jstr(r->json, "state"), "producing");
    ck_assert_uint_eq(json_object_size(r->json), strcmp(state, "ok") == 0 ? 6 : 7);
}

/* No interval known (0): the age is reported, nothing is judged, even for
 * the fixture's blocks of 2026-11-25. */
START_TEST(test_health)
{
    env_start(&WITH_BLOCKS);
    http_t r;
    get_health(&r, 200, "ok", 2, 0);
    long long since_block2 = (long long)(wall_ms() - (T0_MS + 1000));
    ck_assert_int_ge(jint(r.json, "last_block_age_ms"), since_block2 - 5000);
    ck_assert_int_le(jint(r.json, "last_block_age_ms"), since_block2);
    ck_assert_ptr_null(json_object_get(r.json, "reason"));
    http_free(&r);
    env_stop();
}
END_TEST

START_TEST(test_health_fresh)
{
    env_start_aged(3000, 1000);
    http_t r;
    get_health(&r, 200, "ok", 1, 3000);
    ck_assert_int_ge(jint(r.json, "last_block_age_ms"), 1000);
    ck_assert_int_lt(jint(r.json, "last_block_age_ms"), 9000);
    http_free(&r);
    env_stop();
}
END_TEST

START_TEST(test_health_stalled)
{
    env_start_aged(3000, 45200);
    http_t r;
    get_health(&r, 503, "stalled", 1, 3000);
    long long age = jint(r.json, "last_block_age_ms");
    ck_assert_int_ge(age, 45200);
    double shown = 0;
    char rest[64] = "";
    const char *reason = jstr(r.json, "reason");
    ck_assert_msg(sscanf(reason, "no block for %lf s; %63[^\n]", &shown, rest) == 2, "%s", reason);
    ck_assert_msg(shown >= 45.2 && shown < 46.0, "%s", reason);
    ck_assert_str_eq(rest, "blocks are due every 3.0 s");
    http_free(&r);
    /* Once a block comes, it is healthy again. */
    E.block_time_ms = wall_ms();
    put_block_open(2);
    ck_assert_int_eq(ledger_commit(E.ledger), 0);
    get_health(&r, 200, "ok", 2, 3000);
    http_free(&r);
    env_stop();
}
END_TEST

/* The bound is max(3 intervals, interval + 2 s), applied to one 2.5 s old block. */
START_TEST(test_health_bound)
{
    static const struct {
        uint32_t interval_ms;
        long status;            /* bound: */
    } cases[] = {
        {800, 200},             /* 2.8 s: interval + 2 s, above 3 x 800; first, as the
                                 * block ages while the cases run */
        {100, 503},             /* 2.1 s */
        {3000, 200},            /* 9 s */
        {1000, 200},            /* 3 s */
        {0, 200},               /* not judged */
    };
    env_start_aged(0, 2500);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_t r;
        E.node.block_interval_ms = cases[i].interval_ms;
        get_health(&r, cases[i].status, cases[i].status == 200 ? "ok" : "stalled", 1,
                   cases[i].interval_ms);
        http_free(&r);
    }
    env_stop();
}
END_TEST

/* Before the first block, the age counts from the genesis time. */
START_TEST(test_health_no_block)
{
    opts_t o = {.blocks = 0};
    env_start(&o);
    E.node.block_interval_ms = 1000;
    E.g->genesis_time_ms = wall_ms() - 60000;
    http_t r;
    get_health(&r, 503, "stalled", 0, 1000);
    ck_assert_int_ge(jint(r.json, "last_block_age_ms"), 60000);
    ck_assert_ptr_nonnull(strstr(jstr(r.json, "reason"), "blocks are due every 1.0 s"));
    http_free(&r);
    /* A genesis time still ahead (this host's clock behind) is age 0. */
    E.g->genesis_time_ms = wall_ms() + 60000;
    get_health(&r, 200, "ok", 0, 1000);
    ck_assert_int_eq(jint(r.json, "last_block_age_ms"), 0);
    http_free(&r);
    env_stop();
}
END_TEST

/* The readers open through the ledger module, with its refusals: a file
 * from a newer schema is not read. */
START_TEST(test_reader_refuses_newer_schema)
{
    opts_t o = {.blocks = 0, .ledger_schema = &SCHEMA2};
    env_start(&o);
    http_t r;
    http_get(&r, "/status");
    assert_error(&r, 503, "ledger_unavailable");
    ck_assert_ptr_nonnull(strstr(r.body, "newer than this binary"));
    http_free(&r);
    env_stop();
}
END_TEST

START_TEST(test_health_unreadable)
{
    opts_t o = {.blocks = 0, .ledger_path = "/nonexistent/adnet/ledger.db"};
    env_start(&o);
    http_t r;
    http_get(&r, "/health");
    assert_error(&r, 503, "ledger_unavailable");
    ck_assert_ptr_nonnull(strstr(r.body, "/nonexistent/adnet/ledger.db"));
    http_free(&r);
    env_stop();
}
END_TEST

START_TEST(test_text_clean)
{
    char s[] = "chain \xff\xfe id\x01 ok";
    api_text_clean(s);
    ck_assert_str_eq(s, "chain ?? id? ok");
}
END_TEST

START_TEST(test_status)
{
    env_start(&WITH_BLOCKS);
    http_t r;
    char hx[65];
    http_get(&r, "/status");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "chain"), "alpha");
    ck_assert_str_eq(jstr(r.json, "chain_id"), "adnet-test");
    ck_assert_str_eq(jstr(r.json, "network"), "devnet");
    ck_assert_int_eq(jint(r.json, "protocol_version"), 1); /* the block's, not genesis' 4 */
    ck_assert_str_eq(jstr(r.json, "genesis_hash"),
                     "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a");
    ck_assert_int_eq(jint(r.json, "height"), 2);
    hexof(hx, E.hash[2], 32);
    ck_assert_str_eq(jstr(r.json, "hash"), hx);
    ck_assert_str_eq(jstr(r.json, "time"), "2026-11-25T22:50:02.123Z");
    ck_assert_int_eq(jint(r.json, "time_ms"), (long long)T0_MS + 1000);
    ck_assert_int_eq(jint(r.json, "restarts"), 3);
    ck_assert_str_eq(jstr(r.json, "state"), "producing");
    ck_assert(json_is_null(json_object_get(r.json, "reason")));
    ck_assert_int_eq(jint(r.json, "lowest_height"), 1); /* nothing pruned */
    ck_assert_uint_eq(json_object_size(r.json), 13);
    http_free(&r);
    env_stop();
}
END_TEST

START_TEST(test_status_empty_ledger)
{
    opts_t o = {.blocks = 0};
    env_start(&o);
    http_t r;
    http_get(&r, "/status");
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(jint(r.json, "height"), 0);
    ck_assert(json_is_null(json_object_get(r.json, "hash")));
    ck_assert(json_is_null(json_object_get(r.json, "time")));
    ck_assert(json_is_null(json_object_get(r.json, "time_ms")));
    ck_assert_int_eq(jint(r.json, "protocol_version"), 4); /* genesis' */
    ck_assert_int_eq(jint(r.json, "lowest_height"), 0);
    http_free(&r);
    http_get(&r, "/blocks/latest");
    assert_error(&r, 404, "not_found");
    http_free(&r);
    env_stop();
}
END_TEST

static void check_block2(json_t *b)
{
    char hx[129], addr[ADDRESS_MAX];
    ck_assert_int_eq(jint(b, "height"), 2);
    hexof(hx, E.hash[2], 32);
    ck_assert_str_eq(jstr(b, "hash"), hx);
    hexof(hx, E.hash[1], 32);
    ck_assert_str_eq(jstr(b, "prev_hash"), hx);
    ck_assert_str_eq(jstr(b, "time"), "2026-11-25T22:50:02.123Z");
    ck_assert_int_eq(jint(b, "time_ms"), (long long)T0_MS + 1000);
    ck_assert_str_eq(jstr(b, "chain_id"), "adnet-test");
    ck_assert_int_eq(jint(b, "protocol_version"), 1);
    addr_of_byte(addr, 0xab);
    ck_assert_str_eq(jstr(b, "proposer"), addr);
    ck_assert(strncmp(addr, "ad1", 3) == 0);
    ck_assert_str_eq(jstr(b, "txs_root"),
                     "0202020202020202020202020202020202020202020202020202020202020202");
    ck_assert_str_eq(jstr(b, "state_root"),
                     "8282828282828282828282828282828282828282828282828282828282828282");
    ck_assert_int_eq(jint(b, "tx_count"), 2);
    json_t *txs = json_object_get(b, "txs");
    ck_assert_uint_eq(json_array_size(txs), 2);
    ck_assert_str_eq(json_string_value(json_array_get(txs, 0)), E.txid[0]);
    ck_assert_str_eq(json_string_value(json_array_get(txs, 1)), E.txid[1]);
    json_t *sigs = json_object_get(json_object_get(b, "commit"), "signatures");
    ck_assert_uint_eq(json_array_size(sigs), 2);
    addr_of_byte(addr, 0x01);
    ck_assert_str_eq(jstr(json_array_get(sigs, 0), "validator"), addr);
    memset(hx, '0', 128);
    hx[128] = '\0';
    for (int i = 0; i < 64; i++)
        hx[2 * i + 1] = '2'; /* 0x02 repeated */
    ck_assert_str_eq(jstr(json_array_get(sigs, 0), "signature"), hx);
    addr_of_byte(addr, 0x02);
    ck_assert_str_eq(jstr(json_array_get(sigs, 1), "validator"), addr);
}

START_TEST(test_blocks)
{
    env_start(&WITH_BLOCKS);
    http_t r;
    http_get(&r, "/blocks/latest");
    ck_assert_int_eq(r.status, 200);
    check_block2(r.json);
    http_free(&r);
    http_get(&r, "/blocks/2");
    ck_assert_int_eq(r.status, 200);
    check_block2(r.json);
    http_free(&r);
    http_get(&r, "/blocks/1");
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(jint(r.json, "height"), 1);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "txs")), 0);
    ck_assert_str_eq(jstr(r.json, "prev_hash"),
                     "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
    http_free(&r);
    env_stop();
}
END_TEST

START_TEST(test_blocks_errors)
{
    env_start(&WITH_BLOCKS);
    http_t r;
    http_get(&r, "/blocks/3");
    assert_error(&r, 404, "not_found");
    http_free(&r);
    http_get(&r, "/blocks/0");
    assert_error(&r, 404, "not_found");
    http_free(&r);
    static const char *bad[] = {"/blocks/abc", "/blocks/-1", "/blocks/1x", "/blocks/+1",
                                "/blocks/9223372036854775808", "/blocks/99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http_get(&r, bad[i]);
        assert_error(&r, 400, "bad_height");
        http_free(&r);
    }
    http_get(&r, "/blocks/9223372036854775807"); /* in range, just absent */
    assert_error(&r, 404, "not_found");
    http_free(&r);
    env_stop();
}
END_TEST

/* Block 1 pruned (common/store/prune.h): 410 with the lowest kept height,
 * which /status shows too; an unknown transaction's 404 says so. */
START_TEST(test_blocks_pruned)
{
    env_start(&WITH_BLOCKS);
    http_t r;
    ck_assert_int_eq(ledger_begin(E.ledger), 0);
    ck_assert_int_eq(prune_step(ledger_sql(E.ledger), 2, 3, 100, NULL), 0);
    ck_assert_int_eq(ledger_commit(E.ledger), 0);
    http_get(&r, "/blocks/1");
    ck_assert_msg(r.status == 410, "%s", r.body);
    json_t *e = json_object_get(r.json, "error");
    ck_assert_str_eq(json_string_value(json_object_get(e, "code")), "pruned");
    ck_assert_int_eq(json_integer_value(json_object_get(e, "oldest_height")), 2);
    http_free(&r);
    http_get(&r, "/blocks/2");
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
    http_get(&r, "/status");
    ck_assert_int_eq(jint(r.json, "lowest_height"), 2);
    http_free(&r);
    http_get(&r, "/txs/0000000000000000000000000000000000000000000000000000000000000000");
    assert_error(&r, 404, "not_found");
    ck_assert_msg(strstr(r.body, "below height 2, which this node pruned") != NULL, "%s", r.body);
    http_free(&r);
    env_stop();
}
END_TEST

START_TEST(test_tx_get)
{
    env_start(&WITH_BLOCKS);
    http_t r;
    char path[128], addr[ADDRESS_MAX];
    snprintf(path, sizeof path, "/txs/%s", E.txid[0]);
    http_get(&r, path);
    ck_assert_msg(r.status == 200, "%s", r.body);
    ck_assert_str_eq(jstr(r.json, "id"), E.txid[0]);
    ck_assert_int_eq(jint(r.json, "height"), 2);
    ck_assert_int_eq(jint(r.json, "index"), 0);
    ck_assert_str_eq(jstr(r.json, "kind"), "mint");
    ck_assert_int_eq(address_encode(addr, E.sender_pk), 0);
    ck_assert_str_eq(jstr(r.json, "sender"), addr);
    ck_assert_int_eq(jint(r.json, "fee"), 5);
    ck_assert_int_eq(jint(r.json, "nonce"), 7);
    ck_assert_int_eq(jint(r.json, "expiry_height"), 100);
    ck_assert_str_eq(jstr(r.json, "payload"), "deadbeef");
    ck_assert_str_eq(jstr(r.json, "status"), "committed");
    http_free(&r);

    /* Upper-case ids find the same row; an expiry above 2^63-1 is a string. */
    char upper[65];
    for (int i = 0; i <= 64; i++)
        upper[i] = (char)((E.txid[1][i] >= 'a' && E.txid[1][i] <= 'f') ? E.txid[1][i] - 32
                                                                       : E.txid[1][i]);
    snprintf(path, sizeof path, "/txs/%s", upper);
    http_get(&r, path);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "id"), E.txid[1]);
    ck_assert_int_eq(jint(r.json, "index"), 1);
    ck_assert_str_eq(jstr(r.json, "expiry_height"), "18446744073709551615");
    http_free(&r);

    http_get(&r, "/txs/abc");
    assert_error(&r, 400, "bad_id");
    http_free(&r);
    http_get(&r, "/txs/zz00000000000000000000000000000000000000000000000000000000000000");
    assert_error(&r, 400, "bad_id");
    http_free(&r);
    http_get(&r, "/txs/00000000000000000000000000000000000000000000000000000000000000000");
    assert_error(&r, 400, "bad_id"); /* 65 digits */
    http_free(&r);
    http_get(&r, "/txs/0000000000000000000000000000000000000000000000000000000000000000");
    assert_error(&r, 404, "not_found");
    ck_assert_ptr_nonnull(strstr(r.body, "unknown to this node"));
    http_free(&r);
    env_stop();
}
END_TEST

START_TEST(test_tx_submit_accept)
{
    env_start(&WITH_BLOCKS);
    http_t r;
    uint8_t id[TX_ID_LEN];
    char idhex[65];
    tx_id(E.tx0, E.tx0_len, id);
    hexof(idhex, id, TX_ID_LEN);

    /* Raw bytes. */
    http_do(&r, "POST", "/txs", "application/octet-stream", E.tx0, E.tx0_len, NULL, 0);
    ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
    ck_assert_str_eq(jstr(r.json, "id"), idhex);
    ck_assert_str_eq(jstr(r.json, "status"), "pending");
    ck_assert_int_eq(SUB.calls, 1);
    ck_assert_uint_eq(SUB.got_len, E.tx0_len);
    ck_assert_mem_eq(SUB.got, E.tx0, E.tx0_len);
    http_free(&r);

    /* JSON with upper-case hex. */
    char *hex = malloc(2 * E.tx0_len + 1);
    ck_assert_ptr_nonnull(hex);
    hexof(hex, E.tx0, E.tx0_len);
    for (char *p = hex; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 32);
    char *doc = malloc(2 * E.tx0_len + 16);
    ck_assert_ptr_nonnull(doc);
    sprintf(doc, "{\"tx\":\"%s\"}", hex);
    memset(SUB.got, 0, sizeof SUB.got);
    http_do(&r, "POST", "/txs", "application/json; charset=utf-8", doc, strlen(doc), NULL, 0);
    ck_assert_int_eq(r.status, 202);
    ck_assert_str_eq(jstr(r.json, "id"), idhex);
    ck_assert_int_eq(SUB.calls, 2);
    ck_assert_mem_eq(SUB.got, E.tx0, E.tx0_len);
    http_free(&r);
    free(hex);
    free(doc);
    env_stop();
}
END_TEST

START_TEST(test_tx_submit_refusals)
{
    env_start(&WITH_BLOCKS);
    http_t r;
    char v[32];
    static const struct {
        const char *code;
        long status;
    } cases[] = {{"mempool_full", 503}, {"duplicate", 409},    {"replay", 409},
                 {"bad_signature", 400}, {"fee_too_low", 400}, {"expired", 400},
                 {"ledger_busy", 503},   {"unavailable", 503}, {"halted", 503}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        SUB.refuse_code = cases[i].code;
        http_do(&r, "POST", "/txs", "application/octet-stream", E.tx0, E.tx0_len, NULL, 0);
        assert_error(&r, cases[i].status, cases[i].code);
        char want[64];
        snprintf(want, sizeof want, "refused: %s", cases[i].code);
        ck_assert_str_eq(jstr(json_object_get(r.json, "error"), "message"), want);
        int has_ra = header_of(&r, "Retry-After", v, sizeof v) == 0;
        ck_assert_int_eq(has_ra, cases[i].status == 503);
        if (has_ra)
            ck_assert_str_eq(v, strcmp(cases[i].code, "halted") == 0 ? "5" : "1");
        http_free(&r);
    }
    int calls = SUB.calls;
    ck_assert_int_eq(calls, 9);

    /* Refused before submit. */
    http_do(&r, "POST", "/txs", "application/json", "{\"tx\": ", 7, NULL, 0);
    assert_error(&r, 400, "invalid_json");
    http_free(&r);
    http_do(&r, "POST", "/txs", NULL, "not json", 8, NULL, 0);
    assert_error(&r, 400, "invalid_json");
    http_free(&r);
    http_do(&r, "POST", "/txs", "application/json", "{\"tx\":\"abc\"}", 12, NULL, 0);
    assert_error(&r, 400, "malformed"); /* odd length */
    http_free(&r);
    http_do(&r, "POST", "/txs", "application/json", "{\"tx\":\"zz\"}", 11, NULL, 0);
    assert_error(&r, 400, "malformed");
    http_free(&r);
    static const char ctl[] = "{\"tx\":\"\\u00100\"}";
    http_do(&r, "POST", "/txs", "application/json", ctl, strlen(ctl), NULL, 0);
    assert_error(&r, 400, "malformed"); /* a control character is no digit */
    http_free(&r);
    http_do(&r, "POST", "/txs", "application/json", "{\"hex\":\"00\"}", 12, NULL, 0);
    assert_error(&r, 400, "malformed");
    http_free(&r);
    http_do(&r, "POST", "/txs", "application/json", "[1,2]", 5, NULL, 0);
    assert_error(&r, 400, "malformed");
    http_free(&r);
    http_do(&r, "POST", "/txs", "application/octet-stream", "", 0, NULL, 0);
    assert_error(&r, 400, "malformed");
    http_free(&r);
    ck_assert_int_eq(SUB.calls, calls);

    /* No submit function: the node takes no transactions now. */
    E.node.submit = NULL;
    http_do(&r, "POST", "/txs", "application/octet-stream", E.tx0, E.tx0_len, NULL, 0);
    assert_error(&r, 503, "unavailable");
    http_free(&r);
    env_stop();
}
END_TEST

START_TEST(test_network)
{
    env_start(&WITH_BLOCKS);
    http_t r;
    char ct[128];
    http_get(&r, "/network/genesis");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, GENESIS_TEXT); /* the file's bytes, as is */
    ck_assert_int_eq(header_of(&r, "Content-Type", ct, sizeof ct), 0);
    ck_assert_str_eq(ct, "application/json");
    http_free(&r);

    http_get(&r, "/network/genesis/hash");
    ck_assert_int_eq(r.status, 200);
    char want[128] = "{\"hash\":\"";
    for (int i = 0; i < 32; i++)
        strcat(want, "5a");
    strcat(want, "\",\"chain_id\":\"adnet-test\"}");
    ck_assert_str_eq(r.body, want);
    http_free(&r);

    /* The governors are the ledger's (common/node/gov/gov_routes.c, tested
     * in test_gov.c and the govchain suite): not a route of this table. */
    http_get(&r, "/network/governors");
    ck_assert_int_eq(r.status, 404);
    http_free(&r);

    /* A genesis file that vanished is a server fault. */
    unlink(E.tmp.genesis);
    http_get(&r, "/network/genesis");
    assert_error(&r, 500, "internal");
    http_free(&r);
    env_stop();
}
END_TEST

START_TEST(test_not_found_and_method)
{
    env_start(&WITH_BLOCKS);
    http_t r;
    char allow[64];
    http_get(&r, "/nope");
    assert_error(&r, 404, "not_found");
    http_free(&r);
    http_get(&r, "/health/");
    assert_error(&r, 404, "not_found");
    http_free(&r);
    http_get(&r, "/blocks/1/extra");
    assert_error(&r, 404, "not_found");
    http_free(&r);

    http_do(&r, "POST", "/health", "application/json", "{}", 2, NULL, 0);
    assert_error(&r, 405, "method_not_allowed");
    ck_assert_int_eq(header_of(&r, "Allow", allow, sizeof allow), 0);
    ck_assert_str_eq(allow, "GET");
    http_free(&r);
    http_get(&r, "/txs");
    assert_error(&r, 405, "method_not_allowed");
    ck_assert_int_eq(header_of(&r, "Allow", allow, sizeof allow), 0);
    ck_assert_str_eq(allow, "POST");
    http_free(&r);
    http_do(&r, "DELETE", "/txs/00", NULL, NULL, 0, NULL, 0);
    assert_error(&r, 405, "method_not_allowed");
    ck_assert_int_eq(header_of(&r, "Allow", allow, sizeof allow), 0);
    ck_assert_str_eq(allow, "GET");
    http_free(&r);

    char *m = render_metrics();
    ck_assert_ptr_nonnull(strstr(m, "adnet_api_requests_total{route=\"unmatched\",status=\"404\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(m, "adnet_api_requests_total{route=\"unmatched\",status=\"405\"} 3\n"));
    free(m);
    env_stop();
}
END_TEST

START_TEST(test_limits)
{
    env_start(&WITH_BLOCKS);
    http_t r;
    char *big = malloc(MAX_BODY + 1);
    memset(big, 'a', MAX_BODY + 1);

    /* Content-Length over the limit: answered before the body is read. */
    http_do(&r, "POST", "/txs", "application/octet-stream", big, MAX_BODY + 1, NULL, 0);
    assert_error(&r, 413, "body_too_large");
    http_free(&r);
    /* Chunked, so no Content-Length: drained, then 413. */
    http_do(&r, "POST", "/txs", "application/octet-stream", NULL, 0, NULL, 3 * MAX_BODY);
    assert_error(&r, 413, "body_too_large");
    http_free(&r);
    ck_assert_int_eq(SUB.calls, 0);
    /* Exactly the limit is accepted and handed to submit. */
    http_do(&r, "POST", "/txs", "application/octet-stream", big, MAX_BODY, NULL, 0);
    ck_assert_int_eq(r.status, 202);
    ck_assert_uint_eq(SUB.got_len, MAX_BODY);
    http_free(&r);
    /* Chunked under the limit works too. */
    http_do(&r, "POST", "/txs", "application/octet-stream", NULL, 0, NULL, 1000);
    ck_assert_int_eq(r.status, 202);
    ck_assert_uint_eq(SUB.got_len, 1000);
    http_free(&r);

    /* Headers beyond the connection memory (max_header 8 KiB + slack): MHD's 431. */
    char *hdr = malloc(32 * 1024);
    strcpy(hdr, "X-Big: ");
    memset(hdr + 7, 'h', 32 * 1024 - 8);
    hdr[32 * 1024 - 1] = '\0';
    http_do(&r, "GET", "/health", NULL, NULL, 0, hdr, 0);
    ck_assert_int_eq(r.status, 431);
    http_free(&r);
    /* A header well inside the limit is fine. */
    hdr[4000] = '\0';
    http_do(&r, "GET", "/health", NULL, NULL, 0, hdr, 0);
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
    free(hdr);
    free(big);

    char *m = render_metrics();
    ck_assert_ptr_nonnull(strstr(m, "adnet_api_requests_total{route=\"/txs\",status=\"413\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(m, "adnet_api_requests_total{route=\"/txs\",status=\"202\"} 2\n"));
    free(m);
    env_stop();
}
END_TEST

START_TEST(test_rate_limit)
{
    opts_t o = {.blocks = 2, .rate_per_s = 0.5, .rate_burst = 3};
    env_start(&o);
    http_t r;
    char v[32];
    for (int i = 0; i < 3; i++) {
        http_get(&r, "/health");
        ck_assert_int_eq(r.status, 200);
        http_free(&r);
    }
    http_get(&r, "/health");
    assert_error(&r, 429, "rate_limited");
    ck_assert_int_eq(header_of(&r, "Retry-After", v, sizeof v), 0);
    ck_assert_str_eq(v, "2"); /* one token at 0.5/s */
    http_free(&r);
    http_get(&r, "/nope"); /* unknown paths spend tokens too */
    assert_error(&r, 429, "rate_limited");
    http_free(&r);
    char *m = render_metrics();
    ck_assert_ptr_nonnull(strstr(m, "adnet_api_requests_total{route=\"/health\",status=\"200\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(m, "adnet_api_requests_total{route=\"/health\",status=\"429\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(m, "adnet_api_requests_total{route=\"unmatched\",status=\"429\"} 1\n"));
    free(m);
    env_stop();
}
END_TEST

START_TEST(test_rate_limit_refills)
{
    opts_t o = {.blocks = 0, .rate_per_s = 20, .rate_burst = 1};
    env_start(&o);
    http_t r;
    http_get(&r, "/health");
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
    http_get(&r, "/health");
    ck_assert_int_eq(r.status, 429);
    http_free(&r);
    usleep(120 * 1000); /* 20/s: a token every 50 ms */
    http_get(&r, "/health");
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
    env_stop();
}
END_TEST

START_TEST(test_read_during_write)
{
    env_start(&WITH_BLOCKS);
    http_t r;
    /* The writer holds an open block transaction with block 3 in it. */
    put_block_open(3);
    http_get(&r, "/status");
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(jint(r.json, "height"), 2);
    http_free(&r);
    http_get(&r, "/blocks/3");
    assert_error(&r, 404, "not_found");
    http_free(&r);
    http_get(&r, "/blocks/latest");
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(jint(r.json, "height"), 2);
    http_free(&r);
    http_get(&r, "/health");
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
    /* Once committed, the next request sees it (no stale snapshot kept). */
    ck_assert_int_eq(ledger_commit(E.ledger), 0);
    http_get(&r, "/status");
    ck_assert_int_eq(jint(r.json, "height"), 3);
    http_free(&r);
    http_get(&r, "/blocks/3");
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
    env_stop();
}
END_TEST

START_TEST(test_metrics_route)
{
    env_start(&WITH_BLOCKS);
    http_t r;
    char ct[128];
    http_get(&r, "/health");
    http_free(&r);
    http_get(&r, "/health");
    http_free(&r);
    http_get(&r, "/blocks/9");
    http_free(&r);
    http_get(&r, "/metrics");
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(header_of(&r, "Content-Type", ct, sizeof ct), 0);
    ck_assert_str_eq(ct, "text/plain; version=0.0.4; charset=utf-8");
    ck_assert_ptr_nonnull(strstr(r.body, "# TYPE adnet_api_requests_total counter\n"));
    ck_assert_ptr_nonnull(
        strstr(r.body, "adnet_api_requests_total{route=\"/health\",status=\"200\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(r.body, "adnet_api_requests_total{route=\"/blocks/{height}\",status=\"404\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "# TYPE adnet_api_request_duration_seconds histogram\n"));
    ck_assert_ptr_nonnull(strstr(
        r.body, "adnet_api_request_duration_seconds_bucket{route=\"/health\",le=\"+Inf\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(r.body, "adnet_api_request_duration_seconds_count{route=\"/health\"} 2\n"));
    /* The /metrics request itself is counted after its body was rendered. */
    ck_assert_ptr_null(strstr(r.body, "route=\"/metrics\""));
    http_free(&r);
    char *m = render_metrics();
    ck_assert_ptr_nonnull(strstr(m, "adnet_api_requests_total{route=\"/metrics\",status=\"200\"} 1\n"));
    free(m);
    env_stop();
}
END_TEST

/* Extra routes exercising the server's handling of handlers. */
static int h_fail_bare(const api_request_t *req, api_response_t *res)
{
    return -EIO;
}

static int h_fail_with_response(const api_request_t *req, api_response_t *res)
{
    return api_error(res, 418, "teapot", "short and stout"), -EPERM;
}

static int h_no_status(const api_request_t *req, api_response_t *res)
{
    return 0;
}

static int h_echo(const api_request_t *req, api_response_t *res)
{
    const char *q = api_query(req, "q");
    const char *h = api_header(req, "x-echo");
    /* A handler that leaves a transaction open is tidied up after it. */
    sqlite3_exec(req->db, "BEGIN; SELECT count(*) FROM blocks;", NULL, NULL, NULL);
    return api_json(res, 200,
                    json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:s,s:I,s:b}", "method", req->method,
                              "path", req->path, "a", req->params[0], "q", q, "h", h, "b",
                              req->params[1], "n", (json_int_t)req->n_params, "body",
                              req->body != NULL));
}

static const api_route_t EXTRA[] = {
    {"GET", "/test/fail", "/test/fail", h_fail_bare},
    {"GET", "/test/fail2", "/test/fail2", h_fail_with_response},
    {"GET", "/test/nostatus", "/test/nostatus", h_no_status},
    {"GET", "/test/{}/echo/{}", "/test/{a}/echo/{b}", h_echo},
    {"POST", "/health", "/health (post)", h_no_status}, /* a method the common table lacks */
};

START_TEST(test_handler_contract)
{
    opts_t o = {.blocks = 2, .extra = EXTRA, .n_extra = sizeof EXTRA / sizeof EXTRA[0]};
    env_start(&o);
    http_t r;
    http_get(&r, "/test/fail");
    assert_error(&r, 500, "internal");
    http_free(&r);
    http_get(&r, "/test/fail2");
    assert_error(&r, 418, "teapot");
    http_free(&r);
    http_get(&r, "/test/nostatus");
    assert_error(&r, 500, "internal");
    http_free(&r);
    for (int i = 0; i < 4; i++) { /* both threads see no leftover transaction */
        http_do(&r, "GET", "/test/x1/echo/y2?q=hello%20there", NULL, NULL, 0, "X-Echo: yes", 0);
        ck_assert_msg(r.status == 200, "%s", r.body);
        ck_assert_str_eq(r.body, "{\"method\":\"GET\",\"path\":\"/test/x1/echo/y2\",\"a\":\"x1\","
                                 "\"q\":\"hello there\",\"h\":\"yes\",\"b\":\"y2\",\"n\":2,"
                                 "\"body\":false}");
        http_free(&r);
    }
    /* The writer can still commit: no reader pinned a snapshot forever. */
    put_block_open(3);
    ck_assert_int_eq(ledger_commit(E.ledger), 0);
    ck_assert_int_eq(sqlite3_wal_checkpoint_v2(ledger_db(E.ledger), NULL, SQLITE_CHECKPOINT_TRUNCATE,
                                               NULL, NULL),
                     SQLITE_OK);
    /* A later table adds methods to a path of an earlier one. */
    http_do(&r, "POST", "/health", NULL, "", 0, NULL, 0);
    assert_error(&r, 500, "internal");
    http_free(&r);
    env_stop();
}
END_TEST

START_TEST(test_start_errors)
{
    char err[API_ERR_MAX];
    api_server_t *s = NULL;
    static const api_route_t *tables[] = {api_common_routes, NULL};
    static const size_t counts[] = {0};
    api_config_t cfg = {.ledger_path = "/tmp/none.db", .schema = &SCHEMA1,
                        .route_tables = tables, .route_counts = counts};
    static const char *bad[] = {"127.0.0.1",    "127.0.0.1:",   "127.0.0.1:65536",
                                "::1:3030",     "[::1]3030",    ":3030",
                                "127.0.0.1:x1", "[::1:3030",    "[]:3030"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg.listen = bad[i];
        err[0] = '\0';
        ck_assert_msg(api_start(&s, &cfg, err) == -EINVAL, "%s accepted", bad[i]);
        ck_assert_ptr_null(s);
        ck_assert_msg(strstr(err, bad[i]) != NULL, "%s: %s", bad[i], err);
    }
    cfg.listen = NULL;
    ck_assert_int_eq(api_start(&s, &cfg, err), -EINVAL);
    /* Without the chain's schema the readers could not check the file. */
    cfg.listen = "127.0.0.1:0";
    cfg.schema = NULL;
    ck_assert_int_eq(api_start(&s, &cfg, err), -EINVAL);
    ck_assert_ptr_null(s);
    cfg.schema = &SCHEMA1;

    /* Address in use. */
    cfg.listen = "127.0.0.1:0";
    api_server_t *first = NULL;
    ck_assert_int_eq(api_start(&first, &cfg, err), 0);
    char busy[64];
    snprintf(busy, sizeof busy, "127.0.0.1:%d", api_port(first));
    cfg.listen = busy;
    ck_assert_int_eq(api_start(&s, &cfg, err), -EADDRINUSE);
    ck_assert_ptr_nonnull(strstr(err, "Address already in use"));
    ck_assert_ptr_null(s);
    api_stop(first);
    api_stop(NULL);
    ck_assert_int_eq(api_port(NULL), -EINVAL);

    /* An incomplete route is refused. */
    static const api_route_t broken[] = {{"GET", "nope", "x", h_no_status}};
    static const api_route_t *t2[] = {broken, NULL};
    static const size_t c2[] = {1};
    cfg.listen = "127.0.0.1:0";
    cfg.route_tables = t2;
    cfg.route_counts = c2;
    ck_assert_int_eq(api_start(&s, &cfg, err), -EINVAL);
}
END_TEST

START_TEST(test_ipv6)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0)
        return; /* no IPv6 in this sandbox */
    close(fd);
    char err[API_ERR_MAX];
    api_server_t *s = NULL;
    static const api_route_t *tables[] = {api_common_routes, NULL};
    static const size_t counts[] = {0};
    api_config_t cfg = {.listen = "[::1]:0", .ledger_path = "/tmp/none.db",
                        .schema = &SCHEMA1, .route_tables = tables, .route_counts = counts};
    int rc = api_start(&s, &cfg, err);
    if (rc == -EADDRNOTAVAIL)
        return; /* IPv6 present but no ::1 */
    ck_assert_msg(rc == 0, "%s", err);
    snprintf(E.base, sizeof E.base, "http://[::1]:%d", api_port(s));
    http_t r;
    http_get(&r, "/nope");
    assert_error(&r, 404, "not_found");
    http_free(&r);
    api_stop(s);
}
END_TEST

/* Many clients at once over two threads: every answer is right. */
static void *client_thread(void *arg)
{
    long *ok = arg;
    for (int i = 0; i < 25; i++) {
        http_t r;
        http_get(&r, (i % 2) ? "/blocks/2" : "/status");
        if (r.status == 200 && r.json != NULL &&
            json_integer_value(json_object_get(r.json, "height")) == 2)
            (*ok)++;
        http_free(&r);
    }
    return NULL;
}

START_TEST(test_concurrent)
{
    env_start(&WITH_BLOCKS);
    pthread_t t[6];
    long ok[6] = {0};
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, client_thread, &ok[i]), 0);
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(ok[i], 25);
    }
    char *m = render_metrics();
    /* 6 threads x 13 even iterations */
    ck_assert_ptr_nonnull(
        strstr(m, "adnet_api_requests_total{route=\"/status\",status=\"200\"} 78\n"));
    free(m);
    env_stop();
}
END_TEST

/* ---- raw HTTP: what libcurl would not send ------------------------------ */

typedef struct {
    int status;                  /* 0: no answer (the connection closed first) */
    char *text;                  /* the whole answer, NUL-terminated */
    const char *body;            /* into text, after the blank line */
    json_t *json;                /* body, if JSON */
} raw_t;

/* Send req[len] as is over a new connection and read until the server
 * closes it (every request here asks for that) or 5 s pass. */
static void raw_do(raw_t *r, const char *req, size_t len)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)api_port(E.server)),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {5, 0};
    size_t n = 0, cap = 1 << 16;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(r, 0, sizeof *r);
    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    for (size_t off = 0; off < len;) {
        ssize_t k = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (k <= 0)
            break; /* the server may answer and close before all is sent */
        off += (size_t)k;
    }
    r->text = malloc(cap + 1);
    ck_assert_ptr_nonnull(r->text);
    for (ssize_t k; n < cap && (k = recv(fd, r->text + n, cap - n, 0)) > 0;)
        n += (size_t)k;
    close(fd);
    r->text[n] = '\0';
    if (sscanf(r->text, "HTTP/1.%*d %d", &r->status) != 1)
        r->status = 0;
    const char *eoh = strstr(r->text, "\r\n\r\n");
    r->body = eoh ? eoh + 4 : r->text + n;
    r->json = json_loads(r->body, 0, NULL);
}

static void raw_str(raw_t *r, const char *req)
{
    raw_do(r, req, strlen(req));
}

static void raw_free(raw_t *r)
{
    json_decref(r->json);
    free(r->text);
}

/* The answer has header "name: value" (exact, case-sensitive value). */
static bool raw_has_header(const raw_t *r, const char *name, const char *value)
{
    char line[256];
    snprintf(line, sizeof line, "\r\n%s: %s\r\n", name, value);
    const char *eoh = strstr(r->text, "\r\n\r\n");
    const char *hit = strcasestr(r->text, line);
    return hit != NULL && eoh != NULL && hit <= eoh;
}

/* The standard JSON error, status and code, and the connection closed. */
static void assert_raw_error(const raw_t *r, int status, const char *code)
{
    ck_assert_msg(r->status == status, "status %d, want %d: %s", r->status, status, r->text);
    ck_assert_msg(raw_has_header(r, "Content-Type", "application/json"), "%s", r->text);
    ck_assert_ptr_nonnull(r->json);
    json_t *e = json_object_get(r->json, "error");
    ck_assert_str_eq(json_string_value(json_object_get(e, "code")), code);
    ck_assert(json_string_length(json_object_get(e, "message")) > 0);
}

#define H_END "Host: x\r\nConnection: close\r\n\r\n"

START_TEST(test_http_framing)
{
    env_start(&WITH_BLOCKS);
    raw_t r;
    /* Two Content-Length fields, conflicting or not: request smuggling. */
    raw_str(&r, "POST /txs HTTP/1.1\r\nContent-Type: application/octet-stream\r\n"
                "Content-Length: 3\r\nContent-Length: 5\r\n" H_END "abcde");
    assert_raw_error(&r, 400, "bad_request");
    ck_assert(raw_has_header(&r, "Connection", "close"));
    ck_assert_ptr_nonnull(strstr(r.body, "more than one Content-Length"));
    raw_free(&r);
    raw_str(&r, "POST /txs HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n" H_END "abc");
    assert_raw_error(&r, 400, "bad_request");
    raw_free(&r);
    raw_str(&r, "POST /txs HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n" H_END
                "3\r\nabc\r\n0\r\n\r\n");
    assert_raw_error(&r, 400, "bad_request");
    ck_assert_ptr_nonnull(strstr(r.body, "both Content-Length and Transfer-Encoding"));
    raw_free(&r);
    raw_str(&r, "POST /txs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                "Transfer-Encoding: chunked\r\n" H_END "0\r\n\r\n");
    assert_raw_error(&r, 400, "bad_request");
    raw_free(&r);
    raw_str(&r, "POST /txs HTTP/1.1\r\nTransfer-Encoding: gzip\r\n" H_END "abc");
    assert_raw_error(&r, 501, "not_implemented");
    raw_free(&r);
    /* A Content-Length that parses but is over the limit: ours, at once. */
    raw_str(&r, "POST /txs HTTP/1.1\r\nContent-Length: 99999999999\r\n" H_END);
    assert_raw_error(&r, 413, "body_too_large");
    raw_free(&r);
    ck_assert_int_eq(SUB.calls, 0);
    /* The framing errors libmicrohttpd answers itself, before any handler
     * (docs/api.md lists them): answered and closed, never left hanging. */
    static const struct {
        const char *req;
        int status;
    } mhd[] = {
        {"POST /txs HTTP/1.1\r\nContent-Length: abc\r\n" H_END, 400},
        {"POST /txs HTTP/1.1\r\nContent-Length: -1\r\n" H_END, 400},
        {"POST /txs HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n" H_END, 413},
        {"POST /txs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n" H_END "zz\r\nabc\r\n0\r\n\r\n",
         400},
        {"POST /txs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n" H_END
         "fffffffffffffffffffff\r\n",
         413},
        {"GET /health HTTP/2.0\r\n" H_END, 505},
        {"GET /health HTTP/0.9\r\n" H_END, 505},
        {"GET /health HTTP/1\r\n" H_END, 400},
        {"GET /health HTTP/1.1\r\nno colon here\r\n" H_END, 400},
    };
    for (size_t i = 0; i < sizeof mhd / sizeof mhd[0]; i++) {
        raw_str(&r, mhd[i].req);
        ck_assert_msg(r.status == mhd[i].status, "case %zu: %s", i, r.text);
        raw_free(&r);
    }
    ck_assert_int_eq(SUB.calls, 0);
    /* The same connection still serves after all that. */
    raw_str(&r, "GET /health HTTP/1.1\r\n" H_END);
    ck_assert_int_eq(r.status, 200);
    raw_free(&r);
    env_stop();
}
END_TEST

/* "GET <target> HTTP/1.1" with target "/health?" and n arguments "a=1&...",
 * or padded with 'p' to len bytes when len > 0; malloc'd. */
static char *target_of(size_t n_args, size_t len)
{
    char *t = malloc(16 + 4 * n_args + len);
    ck_assert_ptr_nonnull(t);
    char *p = stpcpy(t, "/health");
    if (n_args > 0)
        *p++ = '?';
    for (size_t i = 0; i < n_args; i++)
        p = stpcpy(p, i + 1 < n_args ? "a=1&" : "a=1");
    if (len > (size_t)(p - t)) {
        p = stpcpy(p, n_args ? "&p=" : "?p=");
        while ((size_t)(p - t) < len)
            *p++ = 'p';
    }
    *p = '\0';
    return t;
}

/* GET target_of(n_args, len): 200 if code is NULL, else 414 with code;
 * the body says says if it is not NULL. */
static void check_target(size_t n_args, size_t len, const char *code, const char *says)
{
    http_t r;
    char *t = target_of(n_args, len);
    ck_assert(len == 0 || strlen(t) == len);
    http_get(&r, t);
    if (code == NULL)
        ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    else
        assert_error(&r, 414, code);
    if (says != NULL)
        ck_assert_ptr_nonnull(strstr(r.body, says));
    http_free(&r);
    free(t);
}

START_TEST(test_http_target_limits)
{
    env_start(&WITH_BLOCKS);
    /* At most 32 query arguments. */
    check_target(32, 0, NULL, NULL);
    check_target(33, 0, "uri_too_long", "33 query arguments");
    /* ~300 arguments in a 2.4 KB target: answered, not dropped. */
    check_target(300, 2400, "uri_too_long", NULL);
    check_target(300, 0, "uri_too_long", "300 query arguments");
    /* The target as sent, at most 2048 bytes. */
    check_target(0, 2048, NULL, NULL);
    check_target(0, 2049, "uri_too_long", "2049 bytes");
    char *m = render_metrics();
    /* A target over the limit is not decoded, so it matches no route. */
    ck_assert_ptr_nonnull(
        strstr(m, "adnet_api_requests_total{route=\"/health\",status=\"414\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(m, "adnet_api_requests_total{route=\"unmatched\",status=\"414\"} 2\n"));
    free(m);
    env_stop();
}
END_TEST

START_TEST(test_http_head_limits)
{
    env_start(&WITH_BLOCKS); /* max_header 8192 */
    raw_t r;
    static const char line[] = "GET /health HTTP/1.1\r\n", tail[] = H_END;
    char *req = malloc(32 * 1024);
    ck_assert_ptr_nonnull(req);
    /* The request line, the fields and the blank line, as sent: exactly
     * 8192 bytes pass, 8193 do not. */
    for (size_t total = 8192; total <= 8193; total++) {
        size_t fixed = strlen(line) + strlen("X-Pad: \r\n") + strlen(tail);
        char *p = stpcpy(req, line);
        p = stpcpy(p, "X-Pad: ");
        memset(p, 'p', total - fixed);
        p += total - fixed;
        p = stpcpy(p, "\r\n");
        p = stpcpy(p, tail);
        ck_assert_uint_eq((size_t)(p - req), total);
        raw_do(&r, req, total);
        if (total == 8192) {
            ck_assert_msg(r.status == 200, "%s", r.text);
        } else {
            assert_raw_error(&r, 431, "headers_too_large");
            ck_assert(raw_has_header(&r, "Connection", "close"));
            ck_assert_ptr_nonnull(strstr(r.body, "8193 bytes"));
        }
        raw_free(&r);
    }
    /* One 20,000-byte field: ours, as JSON. */
    http_t h;
    char *hdr = malloc(20001);
    strcpy(hdr, "X-Big: ");
    memset(hdr + 7, 'h', 20000 - 7);
    hdr[20000] = '\0';
    http_do(&h, "GET", "/health", NULL, NULL, 0, hdr, 0);
    assert_error(&h, 431, "headers_too_large");
    http_free(&h);
    free(hdr);
    /* At most 100 fields (the two of H_END count). */
    for (int fields = 100; fields <= 101; fields++) {
        char *p = stpcpy(req, line);
        for (int i = 0; i < fields - 2; i++)
            p += sprintf(p, "X-%d: 1\r\n", i);
        p = stpcpy(p, tail);
        raw_do(&r, req, (size_t)(p - req));
        if (fields == 100)
            ck_assert_msg(r.status == 200, "%s", r.text);
        else
            assert_raw_error(&r, 431, "headers_too_large");
        raw_free(&r);
    }
    /* Hundreds of short fields inside the byte limit: still our JSON 431,
     * never a connection closed without an answer (found by fuzz_api:
     * the fields' records used up the room kept for the response). */
    for (int fields = 150; fields <= 1900; fields += 35) {
        char *p = stpcpy(req, line);
        for (int i = 0; i < fields - 2; i++)
            p += sprintf(p, "X%d:1\r\n", i);
        p = stpcpy(p, tail);
        if ((size_t)(p - req) > 8192)
            break;
        raw_do(&r, req, (size_t)(p - req));
        ck_assert_msg(r.status == 431, "%d fields (%zu bytes): status %d", fields,
                      (size_t)(p - req), r.status);
        assert_raw_error(&r, 431, "headers_too_large");
        raw_free(&r);
    }
    /* Bytes that are not UTF-8 in a message (it quotes the path): a JSON
     * error all the same, with '?' for them. */
    http_t bad;
    http_get(&bad, "/txs/%FF%FE");
    ck_assert_msg(bad.status == 400 && bad.json != NULL, "%ld %s", bad.status, bad.body);
    http_free(&bad);
    free(req);
    env_stop();
}
END_TEST

/* GET path must be refused with status and code. */
static void get_refused(const char *path, long status, const char *code)
{
    http_t r;
    http_get(&r, path);
    assert_error(&r, status, code);
    http_free(&r);
}

START_TEST(test_http_path_bytes)
{
    env_start(&WITH_BLOCKS);
    http_t r;
    /* %00 used to cut the path: /blocks/2%00xyz served block 2. */
    static const char *bad_path[] = {"/blocks/2%00xyz", "/blocks/2%00", "/blocks/%01",
                                     "/blocks/2%1f",    "/blocks/2%7F",  "/blocks/2%0a",
                                     "/blocks/%zz",     "/blocks/2%",    "/blocks/2%3",
                                     "/nope%00"};
    for (size_t i = 0; i < sizeof bad_path / sizeof bad_path[0]; i++)
        get_refused(bad_path[i], 400, "bad_path");
    get_refused("/health?x=%00", 400, "bad_query");
    get_refused("/health?x=%g0", 400, "bad_query");
    /* Escapes of ordinary bytes are still decoded. */
    http_get(&r, "/blocks/%32");
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(jint(r.json, "height"), 2);
    http_free(&r);
    /* A raw control byte, which libcurl would not send. */
    raw_t w;
    raw_str(&w, "GET /blocks/2\x01 HTTP/1.1\r\n" H_END);
    assert_raw_error(&w, 400, "bad_path");
    raw_free(&w);
    /* Plain decimal: no leading zeros (docs/api.md). */
    get_refused("/blocks/00001", 400, "bad_height");
    get_refused("/blocks/01", 400, "bad_height");
    get_refused("/blocks/00", 400, "bad_height");
    uint64_t v = 7;
    ck_assert_int_eq(api_parse_height("007", &v), -EINVAL);
    ck_assert_int_eq(api_parse_height("0", &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(api_parse_height("10", &v), 0);
    ck_assert_uint_eq(v, 10);
    env_stop();
}
END_TEST

START_TEST(test_http_head_method)
{
    env_start(&WITH_BLOCKS);
    http_t g;
    raw_t r;
    char want[32];
    http_get(&g, "/blocks/2");
    ck_assert_int_eq(g.status, 200);
    snprintf(want, sizeof want, "%zu", g.len);
    raw_str(&r, "HEAD /blocks/2 HTTP/1.1\r\n" H_END);
    ck_assert_msg(r.status == 200, "%s", r.text);
    ck_assert(raw_has_header(&r, "Content-Type", "application/json"));
    ck_assert_msg(raw_has_header(&r, "Content-Length", want), "%s", r.text);
    ck_assert_str_eq(r.body, ""); /* headers only */
    raw_free(&r);
    http_free(&g);
    raw_str(&r, "HEAD /metrics HTTP/1.1\r\n" H_END);
    ck_assert_int_eq(r.status, 200);
    ck_assert(raw_has_header(&r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8"));
    ck_assert_str_eq(r.body, "");
    raw_free(&r);
    /* A POST-only path still says which methods it takes. */
    raw_str(&r, "HEAD /txs HTTP/1.1\r\n" H_END);
    ck_assert_int_eq(r.status, 405);
    ck_assert(raw_has_header(&r, "Allow", "POST"));
    ck_assert_str_eq(r.body, "");
    raw_free(&r);
    raw_str(&r, "HEAD /nope HTTP/1.1\r\n" H_END);
    ck_assert_int_eq(r.status, 404);
    raw_free(&r);
    char *m = render_metrics();
    ck_assert_ptr_nonnull(
        strstr(m, "adnet_api_requests_total{route=\"/blocks/{height}\",status=\"200\"} 2\n"));
    free(m);
    env_stop();
}
END_TEST

START_TEST(test_http_json_duplicates)
{
    env_start(&WITH_BLOCKS);
    http_t r;
    char *hex = malloc(2 * E.tx0_len + 1), *doc = malloc(2 * E.tx0_len + 32);
    ck_assert_ptr_nonnull(hex);
    ck_assert_ptr_nonnull(doc);
    hexof(hex, E.tx0, E.tx0_len);
    /* Which "tx" counts must not depend on the parser: refused. */
    sprintf(doc, "{\"tx\":\"00\",\"tx\":\"%s\"}", hex);
    http_do(&r, "POST", "/txs", "application/json", doc, strlen(doc), NULL, 0);
    assert_error(&r, 400, "invalid_json");
    ck_assert_ptr_nonnull(strstr(r.body, "duplicate"));
    http_free(&r);
    ck_assert_int_eq(SUB.calls, 0);
    sprintf(doc, "{\"tx\":\"%s\"}", hex);
    http_do(&r, "POST", "/txs", "application/json", doc, strlen(doc), NULL, 0);
    ck_assert_int_eq(r.status, 202);
    http_free(&r);
    free(hex);
    free(doc);
    env_stop();
}
END_TEST

/* ---- the worker's production state ------------------------------------ */

static node_state_t FAKE_STATE;

static void fake_state(node_api_t *n, node_state_t *out)
{
    (void)n;
    *out = FAKE_STATE;
}

/* A halted worker: /health 503 "halted" with the reason (without reading
 * the ledger), /status says so, and so does a thread that cannot open the
 * ledger at all (its file deleted). */
START_TEST(test_state_halted)
{
    env_start(&WITH_BLOCKS);
    http_t r;
    char v[32];
    FAKE_STATE = (node_state_t){ .mode = NODE_HALTED, .since_ms = T0_MS };
    strcpy(FAKE_STATE.reason, "disk full: COMMIT: database or disk is full");
    E.node.state = fake_state;
    http_get(&r, "/health");
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(jstr(r.json, "status"), "halted");
    ck_assert_str_eq(jstr(r.json, "state"), "halted");
    ck_assert_str_eq(jstr(r.json, "reason"), FAKE_STATE.reason);
    ck_assert_str_eq(jstr(r.json, "since"), "2026-11-25T22:50:01.123Z");
    http_free(&r);
    http_get(&r, "/status");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "state"), "halted");
    ck_assert_str_eq(jstr(r.json, "reason"), FAKE_STATE.reason);
    ck_assert_int_eq(jint(r.json, "height"), 2);
    http_free(&r);
    env_stop();

    /* No ledger a reader can open: still the halted reason, as JSON. */
    opts_t missing = WITH_BLOCKS;
    missing.ledger_path = "/nonexistent/ledger.db";
    env_start(&missing);
    E.node.state = fake_state;
    http_get(&r, "/health");
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(jstr(r.json, "status"), "halted");
    ck_assert_str_eq(jstr(r.json, "reason"), FAKE_STATE.reason);
    http_free(&r);
    http_get(&r, "/status");
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(jstr(r.json, "state"), "halted");
    ck_assert_ptr_nonnull(strstr(jstr(r.json, "ledger_error"), "/nonexistent/ledger.db"));
    http_free(&r);
    http_get(&r, "/blocks/latest");
    assert_error(&r, 503, "halted");
    ck_assert_ptr_nonnull(strstr(jstr(json_object_get(r.json, "error"), "message"), "disk full"));
    ck_assert_int_eq(header_of(&r, "Retry-After", v, sizeof v), 0);
    ck_assert_str_eq(v, "5");
    http_free(&r);
    /* Producing again: the plain refusal. */
    FAKE_STATE.mode = NODE_PRODUCING;
    http_get(&r, "/blocks/latest");
    assert_error(&r, 503, "ledger_unavailable");
    http_free(&r);
    env_stop();
}
END_TEST

/* A delayed block shows in /health (200 while within the cadence) and /status. */
START_TEST(test_state_delayed)
{
    env_start(&WITH_BLOCKS);
    http_t r;
    FAKE_STATE = (node_state_t){ .mode = NODE_DELAYED, .since_ms = T0_MS };
    strcpy(FAKE_STATE.reason, "another process holds the ledger's write lock");
    E.node.state = fake_state;
    E.node.block_interval_ms = 0;
    http_get(&r, "/health");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "state"), "delayed");
    ck_assert_str_eq(jstr(r.json, "reason"), FAKE_STATE.reason);
    http_free(&r);
    http_get(&r, "/status");
    ck_assert_str_eq(jstr(r.json, "state"), "delayed");
    http_free(&r);
    env_stop();
}
END_TEST

/* A reader that meets another process's exclusive lock answers a JSON
 * 503 ledger_busy with Retry-After within its short busy timeout, not
 * after SQLite's usual seconds. */
START_TEST(test_reader_busy)
{
    env_start(&WITH_BLOCKS);
    http_t r;
    char v[32];
    sqlite3 *db = NULL;
    ledger_close(E.ledger); /* the only connection left is the one that locks */
    E.ledger = NULL;
    ck_assert_int_eq(sqlite3_open(E.tmp.db, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; "
                                      "INSERT INTO meta VALUES ('x', 'y')", NULL, NULL, NULL),
                     SQLITE_OK);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    http_get(&r, "/status");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_error(&r, 503, "ledger_busy");
    ck_assert_int_eq(header_of(&r, "Retry-After", v, sizeof v), 0);
    ck_assert_msg(ms < 500, "busy answer took %.0f ms", ms);
    http_free(&r);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    http_get(&r, "/status"); /* the lock is gone: the next request opens and reads */
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
    env_stop();
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "api", .tcase = "server", .timeout_s = 30};
    return suite_build(&spec, SUITE_TESTS(
        test_health, test_health_unreadable, test_health_fresh, test_health_stalled,
        test_health_bound, test_health_no_block, test_reader_refuses_newer_schema, test_status, test_text_clean,
        test_status_empty_ledger, test_blocks, test_blocks_errors, test_blocks_pruned, test_tx_get,
        test_tx_submit_accept, test_tx_submit_refusals, test_network, test_not_found_and_method,
        test_limits, test_rate_limit, test_rate_limit_refills, test_read_during_write,
        test_metrics_route, test_handler_contract, test_start_errors, test_ipv6, test_concurrent,
        test_http_framing, test_http_target_limits, test_http_head_limits, test_http_path_bytes,
        test_http_head_method, test_http_json_duplicates, test_state_halted, test_state_delayed,
        test_reader_busy));
}
