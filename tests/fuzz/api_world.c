#include "tests/fuzz/api_world.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>
#include <sqlite3.h>

#include "adnet_chains.h"
#include "alpha-worker/alpha_chain.h"
#include "common/base/bech32.h"
#include "common/base/config.h"
#include "common/base/hex.h"
#include "common/node/api/api_routes.h"
#include "delta-worker/delta_chain.h"
#include "proto/alpha_tx.h"
#include "proto/delta_tx.h"
#include "tests/lib/fuzz.h"
#include "tests/lib/gen.h"
#include "tests/lib/tmp.h"

enum { K_VAL, K_ALICE, K_BOB, K_EVE };

static const char *const key_seeds[WORLD_KEYS] = {
    "fuzz-api validator key seed 0000", "fuzz-api alice key seed 00000000",
    "fuzz-api bob key seed 0000000000", "fuzz-api eve key seed 0000000000",
};

/* The harness's own failure: say what and stop. */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_api set-up: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

static void word_add(world_chain_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void word_add(world_chain_t *c, const char *fmt, ...)
{
    va_list ap;
    CHECK(c->n_words < WORLD_WORDS_MAX);
    va_start(ap, fmt);
    vsnprintf(c->words[c->n_words++], WORLD_WORD_MAX, fmt, ap);
    va_end(ap);
}

/* ---- the node's submit hooks -------------------------------------------- */

static void node_state(node_api_t *n, node_state_t *out)
{
    world_chain_t *c = n->loop_ctx;
    *out = c->state;
}

/* What the worker's loop does with a checked transaction: admission
 * against the committed state, into the pool. */
static int admit_checked(world_chain_t *c, const tx_t *tx, const uint8_t id[TX_ID_LEN],
                         const uint8_t *bytes, size_t len, reject_t *why)
{
    if (c->state.mode == NODE_HALTED)
        return reject(why, -EAGAIN, "halted", "%s produces no blocks now: %s", c->ops->name,
                      c->state.reason);
    return chain_admit_tx(c->chain, c->pool, tx, id, bytes, len, c->admit_ms, why);
}

static int node_submit(node_api_t *n, const uint8_t *bytes, size_t len, uint8_t id[TX_ID_LEN],
                       reject_t *why)
{
    world_chain_t *c = n->loop_ctx;
    uint8_t tid[TX_ID_LEN];
    tx_t tx;
    int r = chain_precheck_tx(n->genesis, bytes, len, &tx, tid, why);
    if (r == 0) {
        pthread_mutex_lock(&c->admit_mu);
        r = admit_checked(c, &tx, tid, bytes, len, why);
        pthread_mutex_unlock(&c->admit_mu);
    }
    if (r == 0)
        memcpy(id, tid, TX_ID_LEN);
    return r;
}

/* As the worker: each checked here, then all admitted in one pass (one
 * read transaction when there are several). */
static void node_submit_many(node_api_t *n, const uint8_t *const *txs, const size_t *lens,
                             size_t count, uint8_t (*ids)[TX_ID_LEN], int *results,
                             reject_t *whys)
{
    world_chain_t *c = n->loop_ctx;
    tx_t *dec = calloc(count ? count : 1, sizeof *dec);
    CHECK(dec != NULL);
    for (size_t i = 0; i < count; i++)
        results[i] = chain_precheck_tx(n->genesis, txs[i], lens[i], &dec[i], ids[i], &whys[i]);
    pthread_mutex_lock(&c->admit_mu);
    bool batch = count > 1 && chain_admit_begin(c->chain) == 0;
    for (size_t i = 0; i < count; i++)
        if (results[i] == 0)
            results[i] = admit_checked(c, &dec[i], ids[i], txs[i], lens[i], &whys[i]);
    if (batch)
        chain_admit_end(c->chain);
    pthread_mutex_unlock(&c->admit_mu);
    free(dec);
}

/* ---- blocks of real transactions ---------------------------------------- */

/* Sign a transaction of key with this chain's id, fee 1 and a far expiry,
 * then check and admit it as a worker would; die if it is refused. */
static void admit_tx(world_chain_t *c, const keys_pair_t *key, uint16_t kind, uint64_t nonce,
                     const uint8_t *payload, size_t plen)
{
    uint8_t buf[TX_MAX_BYTES], id[TX_ID_LEN];
    size_t len = 0;
    reject_t why = {0};
    tx_t tx = {.kind = kind, .fee = 1, .nonce = nonce, .expiry_height = c->tip + 1000,
               .payload = payload, .payload_len = plen};
    snprintf(tx.chain_id, sizeof tx.chain_id, "%s", c->genesis->chain_id);
    memcpy(tx.sender, key->pk, BLOCK_KEY_LEN);
    CHECK(tx_sign_encode(&tx, key->sk, buf, sizeof buf, &len) == 0);
    if (chain_precheck_tx(c->genesis, buf, len, &tx, id, &why) != 0 ||
        chain_admit_tx(c->chain, c->pool, &tx, id, buf, len, c->admit_ms, &why) != 0)
        die("%s kind %u refused: %s: %s", c->ops->name, kind, why.code, why.message);
}

/* Commit the pooled transactions as the next block, one second on. */
static void produce(world_chain_t *c, uint32_t expect)
{
    char err[CHAIN_ERR_MAX] = "";
    block_header_t h;
    chain_block_stats_t st = {0};
    c->admit_ms += 1000;
    if (chain_produce_block(c->chain, c->admit_ms, c->pool, 100, NULL, NULL, &h, &st, err) != 0)
        die("%s block: %s", c->ops->name, err);
    if (st.included != expect)
        die("%s block %" PRIu64 ": %u of %u transactions", c->ops->name, h.height, st.included,
            expect);
    c->tip = h.height;
}

/* ---- delta -------------------------------------------------------------- */

static size_t delta_encode(const delta_payload_t *p, uint8_t out[DELTA_PAYLOAD_MAX])
{
    size_t len = 0;
    CHECK(delta_payload_encode(p, out, DELTA_PAYLOAD_MAX, &len) == 0);
    return len;
}

static void delta_send(world_t *w, world_chain_t *c, unsigned who, uint64_t nonce,
                       const delta_payload_t *p)
{
    uint8_t pl[DELTA_PAYLOAD_MAX];
    admit_tx(c, &w->keys[who], p->kind, nonce, pl, delta_encode(p, pl));
}

static delta_payload_t delta_transfer(const uint8_t *to, const char *asset, uint64_t amount)
{
    delta_payload_t p = {.kind = DELTA_TX_TRANSFER};
    memcpy(p.u.transfer.to, to, DELTA_KEY_LEN);
    snprintf(p.u.transfer.asset, sizeof p.u.transfer.asset, "%s", asset);
    p.u.transfer.amount = amount;
    return p;
}

static delta_payload_t delta_pool(uint16_t kind, uint64_t x, uint64_t y, uint64_t z)
{
    delta_payload_t p = {.kind = kind};
    switch (kind) {
    case DELTA_TX_POOL_CREATE:
        p.u.pool_create = (delta_pool_create_t){"ADN", "USD", x, y, (uint16_t)z};
        break;
    case DELTA_TX_LIQUIDITY_ADD:
        p.u.liquidity_add = (delta_liquidity_add_t){"ADN", "USD", x, y, z};
        break;
    case DELTA_TX_LIQUIDITY_REMOVE:
        p.u.liquidity_remove = (delta_liquidity_remove_t){"ADN", "USD", x, y, z};
        break;
    default:
        p.u.stake.amount = x;
    }
    return p;
}

static delta_payload_t delta_swap(const char *in, const char *out, uint64_t amount)
{
    delta_payload_t p = {.kind = DELTA_TX_SWAP};
    snprintf(p.u.swap.asset_in, sizeof p.u.swap.asset_in, "%s", in);
    snprintf(p.u.swap.asset_out, sizeof p.u.swap.asset_out, "%s", out);
    p.u.swap.amount_in = amount;
    p.u.swap.min_out = 1;
    return p;
}

static void delta_seed(world_chain_t *c, const char *note, unsigned who, uint64_t nonce,
                       const delta_payload_t *p)
{
    CHECK(c->n_seeds < WORLD_SEEDS_MAX);
    world_seed_tx_t *s = &c->seeds[c->n_seeds++];
    *s = (world_seed_tx_t){.note = note, .sender = who, .kind = p->kind, .nonce = nonce};
    s->payload_len = delta_encode(p, s->payload);
}

/* Every kind, over three blocks and an empty fourth; then seeds that fit
 * the state left (alice's next nonce is 4, bob's 3). */
static void delta_fill(world_t *w, world_chain_t *c)
{
    const uint8_t *bob = w->keys[K_BOB].pk, *eve = w->keys[K_EVE].pk;
    delta_payload_t p;
    delta_send(w, c, K_ALICE, 0, (p = delta_transfer(bob, "ADN", 1000), &p));
    delta_send(w, c, K_ALICE, 1, (p = delta_pool(DELTA_TX_POOL_CREATE, 100000, 200000, 30), &p));
    produce(c, 2);
    delta_send(w, c, K_BOB, 0, (p = delta_pool(DELTA_TX_LIQUIDITY_ADD, 10000, 20000, 1), &p));
    delta_send(w, c, K_BOB, 1, (p = delta_swap("ADN", "USD", 1000), &p));
    delta_send(w, c, K_ALICE, 2, (p = delta_pool(DELTA_TX_STAKE, 5000, 0, 0), &p));
    produce(c, 3);
    delta_send(w, c, K_ALICE, 3, (p = delta_pool(DELTA_TX_UNSTAKE, 1000, 0, 0), &p));
    delta_send(w, c, K_BOB, 2, (p = delta_pool(DELTA_TX_LIQUIDITY_REMOVE, 100, 1, 1), &p));
    produce(c, 2);
    produce(c, 0);
    delta_seed(c, "transfer", K_ALICE, 4, (p = delta_transfer(eve, "ADN", 10), &p));
    delta_seed(c, "swap", K_BOB, 3, (p = delta_swap("USD", "ADN", 500), &p));
    delta_seed(c, "stake", K_BOB, 3, (p = delta_pool(DELTA_TX_STAKE, 100, 0, 0), &p));
    delta_seed(c, "unstake", K_ALICE, 4, (p = delta_pool(DELTA_TX_UNSTAKE, 10, 0, 0), &p));
    delta_seed(c, "liquidity_add", K_ALICE, 4,
               (p = delta_pool(DELTA_TX_LIQUIDITY_ADD, 1000, 2000, 1), &p));
    delta_seed(c, "liquidity_remove", K_BOB, 3,
               (p = delta_pool(DELTA_TX_LIQUIDITY_REMOVE, 10, 1, 1), &p));
    delta_seed(c, "pool_create-exists", K_ALICE, 4,
               (p = delta_pool(DELTA_TX_POOL_CREATE, 10, 10, 30), &p));
    delta_seed(c, "transfer-unfunded", K_EVE, 0, (p = delta_transfer(bob, "ADN", 1), &p));
}

/* ---- alpha -------------------------------------------------------------- */

static void salt_of(uint8_t salt[32], uint8_t n)
{
    memset(salt, 0, 32);
    salt[0] = 0x5a;
    salt[31] = n;
}

static alpha_record_t record(const uint8_t *owner, const char *asset, uint64_t amount,
                             uint8_t salt)
{
    alpha_record_t r = {.amount = amount};
    memcpy(r.owner, owner, ALPHA_KEY_LEN);
    snprintf(r.asset, sizeof r.asset, "%s", asset);
    salt_of(r.salt, salt);
    return r;
}

/* The commitment of owner's unspent record of amount (genesis records
 * have salts the chain derives, so they are looked up). */
static void unspent_record(world_chain_t *c, const uint8_t *owner, uint64_t amount,
                           uint8_t out[32])
{
    char hex[65];
    sqlite3_stmt *st = NULL;
    hex_encode(hex, owner, 32);
    CHECK(sqlite3_prepare_v2(ledger_db(chain_ledger(c->chain)),
                             "SELECT commitment FROM records WHERE owner = ?1 AND amount = ?2 "
                             "AND spent_height IS NULL",
                             -1, &st, NULL) == SQLITE_OK);
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)amount);
    if (sqlite3_step(st) != SQLITE_ROW ||
        hex_decode(out, 32, (const char *)sqlite3_column_text(st, 0)) != 0)
        die("alpha: no unspent record of %" PRIu64, amount);
    sqlite3_finalize(st);
}

static size_t alpha_encode(const alpha_payload_t *p, uint8_t out[TX_PAYLOAD_MAX])
{
    size_t len = 0;
    CHECK(alpha_payload_encode(p, out, TX_PAYLOAD_MAX, &len) == 0);
    return len;
}

/* A transfer (or, with burn > 0, a burn) of who's record of amount `in`
 * into outs, fee 1. */
static alpha_payload_t alpha_spend(world_chain_t *c, const uint8_t *who, uint64_t in,
                                   const alpha_record_t *outs, uint16_t n_out, uint64_t burn)
{
    alpha_payload_t p = {.kind = burn ? ALPHA_TX_BURN : ALPHA_TX_TRANSFER, .n_in = 1,
                         .n_out = n_out, .burn_amount = burn};
    unspent_record(c, who, in, p.in[0]);
    memcpy(p.out, outs, n_out * sizeof *outs);
    if (burn)
        memcpy(p.recipient, who, ALPHA_KEY_LEN);
    return p;
}

static void alpha_send(world_t *w, world_chain_t *c, unsigned who, const alpha_payload_t *p)
{
    uint8_t *pl = malloc(TX_PAYLOAD_MAX);
    CHECK(pl != NULL);
    admit_tx(c, &w->keys[who], p->kind, 0, pl, alpha_encode(p, pl));
    free(pl);
}

static void alpha_seed(world_chain_t *c, const char *note, unsigned who,
                       const alpha_payload_t *p)
{
    CHECK(c->n_seeds < WORLD_SEEDS_MAX);
    world_seed_tx_t *s = &c->seeds[c->n_seeds++];
    *s = (world_seed_tx_t){.note = note, .sender = who, .kind = p->kind};
    s->payload_len = alpha_encode(p, s->payload);
}

/* A mint, transfers and a burn over three blocks and an empty fourth
 * (genesis: alice and bob hold 1000000 ADN each); then seeds that spend
 * what is left unspent. */
static void alpha_fill(world_t *w, world_chain_t *c)
{
    const uint8_t *alice = w->keys[K_ALICE].pk, *bob = w->keys[K_BOB].pk;
    const uint8_t *eve = w->keys[K_EVE].pk;
    alpha_payload_t p = {.kind = ALPHA_TX_MINT, .n_out = 1};
    alpha_record_t outs[2];
    p.out[0] = record(bob, "USD", 5000, 1);
    alpha_send(w, c, K_VAL, &p);
    outs[0] = record(bob, "ADN", 1000, 2);
    outs[1] = record(alice, "ADN", 1000000 - 1001, 3);
    alpha_send(w, c, K_ALICE, (p = alpha_spend(c, alice, 1000000, outs, 2, 0), &p));
    produce(c, 2);
    outs[0] = record(bob, "ADN", 1000000 - 101, 4);
    alpha_send(w, c, K_BOB, (p = alpha_spend(c, bob, 1000000, outs, 1, 100), &p));
    produce(c, 1);
    outs[0] = record(eve, "ADN", 500, 5);
    outs[1] = record(alice, "ADN", 1000000 - 1001 - 501, 6);
    alpha_send(w, c, K_ALICE, (p = alpha_spend(c, alice, 1000000 - 1001, outs, 2, 0), &p));
    produce(c, 1);
    produce(c, 0);
    outs[0] = record(alice, "ADN", 499, 7);
    alpha_seed(c, "transfer", K_EVE, (p = alpha_spend(c, eve, 500, outs, 1, 0), &p));
    outs[0] = record(bob, "ADN", 1000000 - 101 - 51, 8);
    alpha_seed(c, "burn", K_BOB, (p = alpha_spend(c, bob, 1000000 - 101, outs, 1, 50), &p));
    p = (alpha_payload_t){.kind = ALPHA_TX_MINT, .n_out = 1};
    p.out[0] = record(alice, "EUR", 77, 9);
    alpha_seed(c, "mint", K_VAL, &p);
    alpha_seed(c, "mint-unauthorized", K_ALICE, &p);
    outs[0] = record(alice, "ADN", 998, 10); /* 1000 in, 998 out and a fee of 1 */
    alpha_seed(c, "transfer-unbalanced", K_BOB, (p = alpha_spend(c, bob, 1000, outs, 1, 0), &p));
}

/* ---- set-up ------------------------------------------------------------- */

/* Route words: heights, the set-up's ids, addresses, and what the chain's
 * own routes name. */
static void words_fill(world_t *w, world_chain_t *c)
{
    static const char *const fixed[] = {"0", "1", "4", "5", "9223372036854775807",
                                        "9223372036854775808", "007", "-1", "latest",
                                        "ADN", "USD", "XYZ", "adn"};
    char addr[ADDRESS_MAX], hex[65];
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        word_add(c, "%s", fixed[i]);
    for (size_t k = 0; k < WORLD_KEYS; k++) {
        CHECK(address_encode(addr, w->keys[k].pk) == 0);
        word_add(c, "%s", addr);
    }
    hex_encode(hex, w->keys[K_ALICE].pk, 32);
    word_add(c, "%s", hex);
}

/* Each row's first column of sql on c's ledger, as words (the tables that
 * c's chain does not have are skipped). */
static void words_from(world_chain_t *c, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ledger_db(chain_ledger(c->chain)), sql, -1, &st, NULL) != SQLITE_OK)
        return;
    while (sqlite3_step(st) == SQLITE_ROW && c->n_words < WORLD_WORDS_MAX)
        word_add(c, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

#define WORLD_BALANCES 4

/* A genesis of c's chain at the test chains' time (tests/lib/gen.h's T0,
 * built here because gen.c reports to Check): the validator (alpha's
 * minter too), a governor, and ADN and USD for alice and bob; saved to
 * c->genesis_path. Its inline balances live after it, in its allocation. */
static void genesis_make(world_t *w, world_chain_t *c)
{
    genesis_t *g = calloc(1, sizeof *g + WORLD_BALANCES * sizeof(genesis_balance_t));
    CHECK(g != NULL);
    g->balances = (genesis_balance_t *)(void *)(g + 1);
    snprintf(g->chain, sizeof g->chain, "%s", c->ops->name);
    snprintf(g->chain_id, sizeof g->chain_id, "fuzz-%s-1", c->ops->name);
    snprintf(g->network, sizeof g->network, "devnet");
    g->genesis_time_ms = T0_MS;
    g->protocol_version = 1;
    genesis_params_default(g);
    g->n_validators = 1;
    snprintf(g->validators[0].name, sizeof g->validators[0].name, "validator");
    memcpy(g->validators[0].pk, w->keys[K_VAL].pk, BLOCK_KEY_LEN);
    g->validators[0].power = 10;
    g->n_governors = 1;
    memcpy(g->governors[0], w->keys[K_BOB].pk, BLOCK_KEY_LEN);
    for (unsigned k = K_ALICE; k <= K_BOB; k++)
        for (unsigned a = 0; a < 2; a++) {
            genesis_balance_t *b = &g->balances[g->n_balances++];
            memcpy(b->owner, w->keys[k].pk, BLOCK_KEY_LEN);
            snprintf(b->asset, sizeof b->asset, "%s", a ? "USD" : "ADN");
            b->amount = 1000000;
        }
    if (c->ops == &alpha_chain_ops)
        CHECK(genesis_param_set_hex(g, ALPHA_PARAM_MINTER, w->keys[K_VAL].pk, 32) == 0);
    if (genesis_save(g, c->genesis_path, 1) != 0)
        die("%s: genesis_save %s", c->ops->name, c->genesis_path);
    c->genesis = g;
}

/* Serve c as a worker would, with the defaults of the configuration but
 * a kernel-chosen port, a 1 s connection timeout (so that an incomplete
 * request costs the fuzzer little) and a rate limit that never bites (the
 * fuzzer is one client). Delta's server takes the smallest body and head
 * limits the configuration allows (api.max_body_bytes 2048 here,
 * api.max_header_bytes 1024), so that inputs of a few KiB reach them: a
 * chunked body that grows past the limit, a head over it, one over what
 * libmicrohttpd keeps room for. */
static void serve(world_t *w, world_chain_t *c, const config_chain_t *cc)
{
    char err[API_ERR_MAX] = "";
    c->node = (node_api_t){.chain = c->ops->name, .ops = c->ops,
                           .genesis = chain_genesis(c->chain),
                           .genesis_path = c->genesis_path, .ledger_path = c->ledger,
                           .metrics = w->metrics, .submit = node_submit,
                           .submit_many = node_submit_many, .state = node_state, .loop_ctx = c};
    bool small = c->ops == &delta_chain_ops;
    /* api_start keeps the routes, not these lists. */
    const api_route_t *tables[] = {api_common_routes, c->ops->routes, NULL};
    const size_t counts[] = {api_common_nroutes, c->ops->n_routes};
    api_config_t acfg = {
        .listen = "127.0.0.1:0", .ledger_path = c->ledger, .schema = c->ops->schema,
        .route_tables = tables, .route_counts = counts, .ctx = &c->node, .metrics = w->metrics,
        .max_body = small ? 2048 : cc->api_max_body_bytes,
        .max_header = small ? 1024 : cc->api_max_header_bytes,
        .timeout_s = 1, .threads = 2, .rate_per_s = 1e9, .rate_burst = 1e9,
        .no_ledger = api_common_no_ledger,
    };
    if (api_start(&c->api, &acfg, err) != 0)
        die("%s: api_start: %s", c->ops->name, err);
    c->port = api_port(c->api);
}

static void chain_make(world_t *w, world_chain_t *c, const config_chain_t *cc)
{
    char err[CHAIN_ERR_MAX] = "";
    mempool_limits_t lim = {cc->mempool_max_txs, cc->mempool_max_bytes,
                            cc->mempool_max_per_sender};
    snprintf(c->dir, sizeof c->dir, "%s/%s", w->dir, c->ops->name);
    snprintf(c->ledger, sizeof c->ledger, "%s/ledger.db", c->dir);
    snprintf(c->genesis_path, sizeof c->genesis_path, "%s/genesis.json", c->dir);
    CHECK(mkdir(c->dir, 0700) == 0);
    pthread_mutex_init(&c->admit_mu, NULL);
    genesis_make(w, c);
    if (chain_open(&c->chain, c->ops, c->ledger, c->genesis, &w->keys[K_VAL], NULL, err) != 0)
        die("%s: chain_open: %s", c->ops->name, err);
    CHECK((c->pool = mempool_new(&lim)) != NULL);
    c->admit_ms = c->genesis->genesis_time_ms;
    if (c->ops == &alpha_chain_ops)
        alpha_fill(w, c);
    else
        delta_fill(w, c);
    words_fill(w, c);
    words_from(c, "SELECT id FROM txs ORDER BY height, idx");
    words_from(c, "SELECT commitment FROM records ORDER BY created_height, commitment");
    words_from(c, "SELECT nullifier FROM nullifiers ORDER BY height, nullifier");
    serve(w, c, cc);
}

/* The build's chain sections, for the configuration's defaults. */
#define WORLD_SPEC(name, exe, after, interval, listen) {name, interval, listen},
static const config_chain_spec_t specs[] = {ADNET_NODE_CHAINS(WORLD_SPEC)};

void world_open(world_t *w)
{
    static config_t cfg;
    memset(w, 0, sizeof *w);
    CHECK(sodium_init() >= 0);
    for (size_t k = 0; k < WORLD_KEYS; k++) {
        crypto_sign_seed_keypair(w->keys[k].pk, w->keys[k].sk,
                                 (const unsigned char *)key_seeds[k]);
        snprintf(w->keys[k].name, sizeof w->keys[k].name, "k%zu", k);
    }
    if (tmp_make(w->dir, sizeof w->dir, "fuzz-api") != 0)
        die("no temporary directory");
    CHECK((w->metrics = metrics_new()) != NULL);
    config_defaults(&cfg, specs, sizeof specs / sizeof specs[0]);
    w->chains[0].ops = &alpha_chain_ops;
    w->chains[1].ops = &delta_chain_ops;
    for (size_t i = 0; i < WORLD_CHAINS; i++) {
        const config_chain_t *cc = config_chain(&cfg, w->chains[i].ops->name);
        CHECK(cc != NULL);
        chain_make(w, &w->chains[i], cc);
    }
}

void world_reset(world_t *w)
{
    for (size_t i = 0; i < WORLD_CHAINS; i++) {
        world_chain_t *c = &w->chains[i];
        pthread_mutex_lock(&c->admit_mu);
        const mempool_entry_t *e;
        while ((e = mempool_first(c->pool)) != NULL) {
            uint8_t id[TX_ID_LEN];
            memcpy(id, e->id, TX_ID_LEN);
            CHECK(mempool_remove(c->pool, id) == 0);
        }
        pthread_mutex_unlock(&c->admit_mu);
    }
}

void world_close(world_t *w)
{
    for (size_t i = 0; i < WORLD_CHAINS; i++) {
        world_chain_t *c = &w->chains[i];
        api_stop(c->api);
        chain_close(c->chain);
        mempool_free(c->pool);
        free(c->genesis);
        pthread_mutex_destroy(&c->admit_mu);
    }
    metrics_free(w->metrics);
    tmp_remove(w->dir);
}
