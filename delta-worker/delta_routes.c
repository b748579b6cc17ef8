/* Delta's HTTP routes; see delta_chain.h and docs/delta.md. Handlers run
 * on the API's threads and read only through req->db (a read-only ledger
 * connection), each inside one read transaction so that every number in
 * an answer belongs to the same height. Proofs read only the nodes on the
 * key's path from the tree kept in the ledger (O(log accounts)). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/bech32.h"
#include "common/base/hex.h"
#include "common/node/api/api.h"
#include "common/node/api/api_routes.h"
#include "common/node/api/node.h"
#include "common/store/bridgetab.h"
#include "common/store/smt.h"
#include "common/store/sql.h"
#include "common/store/tree.h"
#include "delta-worker/delta_chain.h"

__extension__ typedef unsigned __int128 u128;

static const char *fee_asset_of(const api_request_t *req)
{
    const node_api_t *n = req->ctx;
    return n && n->genesis ? n->genesis->fee_asset : GENESIS_DEFAULT_FEE_ASSET;
}

static json_t *jint(uint64_t v)
{
    return json_integer((json_int_t)v);
}

/* Begin the one read transaction of a request. */
static int read_begin(sql_t *q)
{
    return sql_exec(q, "BEGIN", NULL) == 0 ? 0 : -EIO;
}

static void read_end(sql_t *q)
{
    if (!sqlite3_get_autocommit(q->db))
        sql_exec(q, "COMMIT", NULL);
}

static int internal_error(api_response_t *res, sqlite3 *db, int r)
{
    if (r == -ENOMEM)
        return api_error(res, 500, "internal", "out of memory");
    return api_error(res, 500, "internal", "ledger: %s", sqlite3_errmsg(db));
}

/* Height of the last block (0 before the first) and, if any, its state root. */
static int tip_read(sql_t *q, uint64_t *height, char root_hex[2 * DELTA_HASH_LEN + 1])
{
    sqlite3_stmt *st = NULL;
    int r = sql_prepare(q, "SELECT height, state_root FROM blocks ORDER BY height DESC LIMIT 1",
                        &st);
    int rc = r == 0 ? sql_step(q, st) : -EIO;

    if (rc == 0) {
        *height = 0;
        root_hex[0] = '\0';
        r = 0;
    } else if (rc == 1) {
        const char *s = (const char *)sqlite3_column_text(st, 1);
        sqlite3_int64 h = sqlite3_column_int64(st, 0);
        r = -EIO;
        if (s && strlen(s) == 2 * DELTA_HASH_LEN && h >= 0) {
            *height = (uint64_t)h;
            memcpy(root_hex, s, 2 * DELTA_HASH_LEN + 1);
            r = 0;
        }
    } else {
        r = -EIO;
    }
    sql_release(q, st);
    return r;
}

/* Fill the account object o (which owns bal, unb and lp) from a. 0 or -ENOMEM. */
static int account_fill(json_t *o, json_t *bal, json_t *unb, json_t *lp,
                        const delta_account_rows_t *a)
{
    char addr[ADDRESS_MAX];

    if (address_encode(addr, a->pk) < 0 || json_object_set_new(o, "address", json_string(addr)) < 0 ||
        json_object_set_new(o, "nonce", jint(a->nonce)) < 0 ||
        json_object_set_new(o, "staked", jint(a->staked)) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < a->n_balances; i++)
        if (json_object_set_new(bal, a->balances[i].asset, jint(a->balances[i].amount)) < 0)
            return -ENOMEM;
    for (size_t i = 0; i < a->n_unbonding; i++)
        if (json_array_append_new(unb, json_pack("{s:I,s:I}", "amount",
                                                 (json_int_t)a->unbonding[i].amount,
                                                 "release_height",
                                                 (json_int_t)a->unbonding[i].release_height)) < 0)
            return -ENOMEM;
    for (size_t i = 0; i < a->n_lp; i++) {
        char pool[2 * DELTA_ASSET_MAX + 2];
        snprintf(pool, sizeof pool, "%s/%s", a->lp[i].asset_a, a->lp[i].asset_b);
        if (json_array_append_new(lp, json_pack("{s:s,s:I}", "pool", pool, "shares",
                                                (json_int_t)a->lp[i].shares)) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* The account as JSON (new reference, NULL on out of memory). */
static json_t *account_json(const delta_account_rows_t *a)
{
    json_t *o = json_object(), *bal = json_object(), *unb = json_array(), *lp = json_array();
    if (!o || !bal || !unb || !lp) {
        json_decref(o);
        json_decref(bal);
        json_decref(unb);
        json_decref(lp);
        return NULL;
    }
    /* The _new setters take their reference even when they fail, so o owns
     * the three containers from here on and one decref frees everything. */
    if (json_object_set_new(o, "balances", bal) < 0 || json_object_set_new(o, "unbonding", unb) < 0 ||
        json_object_set_new(o, "lp_shares", lp) < 0 || account_fill(o, bal, unb, lp, a) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Decode the {address} parameter into pk, or set res to a 400 and return -EINVAL. */
static int parse_address(const api_request_t *req, api_response_t *res, uint8_t pk[32])
{
    const char *why = "invalid";
    if (req->n_params < 1 || address_decode(pk, req->params[0], &why) < 0) {
        api_error(res, 400, "bad_address", "address %s: %s", req->n_params ? req->params[0] : "",
                  why ? why : "invalid");
        return -EINVAL;
    }
    return 0;
}

static int get_account(const api_request_t *req, api_response_t *res)
{
    sql_t q = api_sql(req);
    uint8_t pk[DELTA_KEY_LEN];
    delta_account_rows_t a;
    json_t *o;
    int r;

    if (parse_address(req, res, pk) < 0)
        return 0;
    if (read_begin(&q) < 0)
        return internal_error(res, req->db, -EIO);
    r = delta_account_load(&q, pk, &a);
    read_end(&q);
    if (r < 0)
        return internal_error(res, req->db, r);
    o = account_json(&a);
    delta_account_rows_free(&a);
    if (!o)
        return internal_error(res, req->db, -ENOMEM);
    return api_json(res, 200, o);
}

/* The header's state root at height (0: the tip; the height is written
 * back) as hex: 0, -ENOENT (no such block), or -EIO. */
static int proof_block(sql_t *q, uint64_t *height, char state_hex[2 * DELTA_HASH_LEN + 1])
{
    uint64_t tip = 0;
    sqlite3_stmt *st = NULL;
    int r = tip_read(q, &tip, state_hex);

    if (r < 0 || *height == 0 || *height == tip) {
        *height = tip;
        return r;
    }
    if (*height > tip)
        return -ENOENT;
    if ((r = sql_query(q, &st, "SELECT state_root FROM blocks WHERE height = ?", "u", *height)) < 0)
        return -EIO;
    r = sql_step(q, st) == 1 ? 0 : -ESTALE; /* below the tip: its block was pruned */
    const char *hx = r == 0 ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (r == 0 && (!hx || strlen(hx) != 2 * DELTA_HASH_LEN))
        r = -EIO;
    if (r == 0)
        memcpy(state_hex, hx, 2 * DELTA_HASH_LEN + 1);
    sql_release(q, st);
    return r;
}

/* The value of an included account: at the tip, the account JSON plus
 * leaf_value; at an earlier height (the tables hold only the latest
 * rows), {"leaf_value"} alone. NULL on out of memory or a read error. */
static json_t *proof_value(sql_t *q, const uint8_t pk[DELTA_KEY_LEN], bool latest,
                           const uint8_t leaf[DELTA_HASH_LEN])
{
    char leaf_hex[2 * DELTA_HASH_LEN + 1];
    delta_account_rows_t a;
    json_t *value = NULL;

    hex_encode(leaf_hex, leaf, DELTA_HASH_LEN);
    if (!latest)
        return json_pack("{s:s}", "leaf_value", leaf_hex);
    if (delta_account_load(q, pk, &a) < 0)
        return NULL;
    if ((value = account_json(&a)) != NULL)
        json_object_set_new(value, "leaf_value", json_string(leaf_hex));
    delta_account_rows_free(&a);
    return value;
}

/* Answer a failed proof: 404 future height, 410 pruned (with the oldest
 * height kept), 500 otherwise. */
static int proof_error(api_response_t *res, sql_t *q, int r, uint64_t height)
{
    uint64_t oldest = 0;
    if (r == -ENOENT)
        return api_error(res, 404, "not_found", "no block at height %" PRIu64, height);
    if (r == -ESTALE) {
        if (tree_oldest(q, DELTA_TREE_NAME, &oldest) < 0)
            oldest = 0;
        api_error(res, 410, "pruned",
                  "height %" PRIu64 " is pruned; the oldest height kept is %" PRIu64, height,
                  oldest);
        json_object_set_new(json_object_get(res->json, "error"), "oldest_height",
                            json_integer((json_int_t)oldest));
        return 0;
    }
    if (r == -EBADMSG)
        return api_error(res, 500, "state_mismatch",
                         "the stored tree at height %" PRIu64 " is damaged", height);
    return internal_error(res, q->db, r);
}

/* Build the proof document of pk at *height inside q's read transaction. */
static int proof_doc(sql_t *q, const uint8_t pk[DELTA_KEY_LEN], uint64_t *height,
                     smt_proof_t *proof, json_t **out)
{
    uint8_t key[DELTA_HASH_LEN], root[DELTA_HASH_LEN];
    char state_hex[2 * DELTA_HASH_LEN + 1], root_hex[2 * DELTA_HASH_LEN + 1];
    json_t *pj = NULL, *value = NULL;
    bool latest = *height == 0;
    uint64_t tip = 0;
    int r;

    if ((r = proof_block(q, height, state_hex)) < 0 ||
        (r = tree_root_at(q, DELTA_TREE_NAME, *height, root, NULL)) < 0)
        return r;
    latest = latest || (tip_read(q, &tip, root_hex) == 0 && tip == *height);
    delta_account_key(pk, key);
    if ((r = tree_prove(q, DELTA_TREE_NAME, *height, key, proof)) < 0)
        return r;
    hex_encode(root_hex, root, DELTA_HASH_LEN);
    if (*height == 0)
        memcpy(state_hex, root_hex, sizeof root_hex);
    if (!(pj = smt_proof_to_json(root, key, proof)))
        return -ENOMEM;
    if (!proof->has_leaf || memcmp(proof->leaf_key, key, DELTA_HASH_LEN) != 0)
        value = json_null();
    else if (!(value = proof_value(q, pk, latest, proof->leaf_value))) {
        json_decref(pj);
        return -ENOMEM;
    }
    *out = json_pack("{s:s,s:I,s:s,s:s,s:s,s:o,s:o}", "chain", "delta", "height",
                     (json_int_t)*height, "state_root", state_hex, "tree", "accounts",
                     "tree_root", root_hex, "proof", pj, "value", value);
    return *out ? 0 : -ENOMEM; /* json_pack "o" steals pj and value, even on failure */
}

/* GET /accounts/{address}/proof[?height=N] */
static int get_account_proof(const api_request_t *req, api_response_t *res)
{
    sql_t q = api_sql(req);
    uint8_t pk[DELTA_KEY_LEN];
    const char *h = api_query(req, "height");
    smt_proof_t *proof = NULL;
    json_t *doc = NULL;
    uint64_t height = 0;
    int r;

    if (parse_address(req, res, pk) < 0)
        return 0;
    if (h != NULL && (api_parse_height(h, &height) != 0 || height == 0))
        return api_error(res, 400, "bad_height", "height '%s' is not a block height (1, 2, ...)",
                         h);
    if (!(proof = malloc(sizeof *proof)))
        return internal_error(res, req->db, -ENOMEM);
    if (read_begin(&q) < 0)
        r = internal_error(res, req->db, -EIO);
    else if ((r = proof_doc(&q, pk, &height, proof, &doc)) < 0)
        r = proof_error(res, &q, r, height);
    else
        r = api_json(res, 200, doc);
    read_end(&q);
    free(proof);
    return r;
}

/* reserve_b / reserve_a as a decimal string with up to 18 fraction digits
 * (truncated), trailing zeros dropped: "2", "0.5", "0.333333333333333333". */
static void price_string(uint64_t ra, uint64_t rb, char out[64])
{
    if (ra == 0) {
        snprintf(out, 64, "0");
        return;
    }
    uint64_t ip = rb / ra;
    u128 frac = (u128)(rb % ra) * 1000000000000000000ULL / ra; /* < 10^18 */
    int n = snprintf(out, 64, "%" PRIu64 ".%018" PRIu64, ip, (uint64_t)frac);
    while (n > 0 && out[n - 1] == '0')
        out[--n] = '\0';
    if (n > 0 && out[n - 1] == '.')
        out[--n] = '\0';
}

static json_t *pool_json(const delta_pool_row_t *p)
{
    char price[64];
    price_string(p->reserve_a, p->reserve_b, price);
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:i,s:s,s:I}", "asset_a", p->asset_a, "asset_b",
                     p->asset_b, "reserve_a", (json_int_t)p->reserve_a, "reserve_b",
                     (json_int_t)p->reserve_b, "shares", (json_int_t)p->shares, "fee_bps",
                     (int)p->fee_bps, "price_a_in_b", price, "created_height",
                     (json_int_t)p->created_height);
}

static int get_pools(const api_request_t *req, api_response_t *res)
{
    sql_t q = api_sql(req);
    sqlite3_stmt *st = NULL;
    json_t *list = json_array();
    int r, rc;

    if (!list)
        return internal_error(res, req->db, -ENOMEM);
    if (read_begin(&q) < 0 ||
        sql_prepare(&q, "SELECT asset_a, asset_b FROM pools ORDER BY asset_a, asset_b", &st) != 0) {
        r = internal_error(res, req->db, -EIO);
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        delta_pool_row_t p;
        const char *a = (const char *)sqlite3_column_text(st, 0);
        const char *b = (const char *)sqlite3_column_text(st, 1);
        json_t *j;
        if (!a || !b || (r = delta_pool_load(&q, a, b, &p)) < 0) {
            r = internal_error(res, req->db, -EIO);
            goto out;
        }
        if (!(j = pool_json(&p)) || json_array_append_new(list, j) < 0) {
            r = internal_error(res, req->db, -ENOMEM);
            goto out;
        }
    }
    if (rc != SQLITE_DONE) {
        r = internal_error(res, req->db, -EIO);
        goto out;
    }
    r = api_json(res, 200, json_pack("{s:o}", "pools", list));
    list = NULL;
out:
    sql_release(&q, st);
    read_end(&q);
    json_decref(list);
    return r;
}

static int get_pool(const api_request_t *req, api_response_t *res)
{
    sql_t q = api_sql(req);
    delta_pool_row_t p;
    const char *a, *b;
    int r;

    if (req->n_params < 2)
        return api_error(res, 400, "bad_asset", "expected /pools/{asset_a}/{asset_b}");
    a = req->params[0];
    b = req->params[1];
    if (!tx_asset_is_valid(a) || !tx_asset_is_valid(b))
        return api_error(res, 400, "bad_asset",
                         "asset names are 1 to 16 characters of A-Z, 0-9, -");
    if (strcmp(a, b) == 0)
        return api_error(res, 400, "bad_asset", "a pool joins two different assets");
    if (strcmp(a, b) > 0) { /* either order names the same pool */
        const char *t = a;
        a = b;
        b = t;
    }
    if (read_begin(&q) < 0)
        return internal_error(res, req->db, -EIO);
    r = delta_pool_load(&q, a, b, &p);
    read_end(&q);
    if (r == -ENOENT)
        return api_error(res, 404, "no_pool", "no pool %s/%s", a, b);
    if (r < 0)
        return internal_error(res, req->db, r);
    json_t *j = pool_json(&p);
    if (!j)
        return internal_error(res, req->db, -ENOMEM);
    return api_json(res, 200, j);
}

/* An asset's parts in /supply: where it is (the first N_HELD, which add up
 * to its total), then what the bridge took out and brought in. */
static const char *const SUPPLY_PARTS[] = {"balances", "pools", "staked", "unbonding",
                                           "bridged_out", "bridged_in"};
#define N_PARTS (sizeof SUPPLY_PARTS / sizeof SUPPLY_PARTS[0])
#define N_HELD 4

/* Add v to supply[asset][part], creating the asset's entry with zeros. */
static int supply_add(json_t *supply, const char *asset, const char *part, uint64_t v)
{
    json_t *e = json_object_get(supply, asset);
    if (!e) {
        e = json_object();
        if (!e || json_object_set_new(supply, asset, e) < 0)
            return -ENOMEM;
        for (size_t i = 0; i < N_PARTS; i++)
            if (json_object_set_new(e, SUPPLY_PARTS[i], json_integer(0)) < 0)
                return -ENOMEM;
    }
    u128 sum = (u128)(uint64_t)json_integer_value(json_object_get(e, part)) + v;
    if (sum > INT64_MAX)
        return -EOVERFLOW;
    return json_object_set_new(e, part, jint((uint64_t)sum)) < 0 ? -ENOMEM : 0;
}

static int supply_query(sql_t *q, json_t *supply, const char *sql, const char *part,
                        const char *fixed_asset)
{
    sqlite3_stmt *st = NULL;
    int r = -EIO, rc;
    if (sql_prepare(q, sql, &st) != 0)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *asset = fixed_asset ? fixed_asset : (const char *)sqlite3_column_text(st, 0);
        int col = fixed_asset ? 0 : 1;
        if (sqlite3_column_type(st, col) == SQLITE_NULL)
            continue;
        sqlite3_int64 v = sqlite3_column_int64(st, col);
        if (!asset || v < 0) {
            r = -EIO;
            goto out;
        }
        if (v > 0 && (r = supply_add(supply, asset, part, (uint64_t)v)) < 0)
            goto out;
    }
    r = rc == SQLITE_DONE ? 0 : -EIO;
out:
    sql_release(q, st);
    return r;
}

/* One asset of bridge_in_totals (bridgetab_totals' fn) into the object ctx. */
static int bridge_in_add(void *ctx, const char *asset, uint64_t minted, uint64_t pending)
{
    json_t *o = json_pack("{s:I,s:I}", "minted", (json_int_t)minted, "pending",
                          (json_int_t)pending);
    return o && json_object_set_new(ctx, asset, o) == 0 ? 0 : -ENOMEM;
}

/* Read the supply tables into supply and, if the ledger has them, the
 * bridge-in totals into *bridge_in (a new object, or left NULL). */
static int supply_read(sql_t *q, const char *fee_asset, json_t *supply, json_t **bridge_in)
{
    json_t *b = NULL;
    int r;
    if ((r = supply_query(q, supply, "SELECT asset, balances FROM supply ORDER BY asset",
                          "balances", NULL)) < 0 ||
        (r = supply_query(q, supply, "SELECT asset, pools FROM supply ORDER BY asset", "pools",
                          NULL)) < 0 ||
        (r = supply_query(q, supply, "SELECT staked FROM supply_staking", "staked",
                          fee_asset)) < 0 ||
        (r = supply_query(q, supply, "SELECT unbonding FROM supply_staking", "unbonding",
                          fee_asset)) < 0 ||
        (r = supply_query(q, supply, "SELECT asset, bridged_out FROM supply ORDER BY asset",
                          "bridged_out", NULL)) < 0 ||
        (r = supply_query(q, supply, "SELECT asset, bridged_in FROM supply ORDER BY asset",
                          "bridged_in", NULL)) < 0 ||
        (r = bridgetab_present(q)) <= 0)
        return r < 0 ? r : 0;
    if (!(b = json_object()))
        return -ENOMEM;
    if ((r = bridgetab_totals(q, bridge_in_add, b)) < 0) {
        json_decref(b);
        return r == -ENOMEM ? r : -EIO;
    }
    *bridge_in = b;
    return 0;
}

/* Each asset's total: what is held on delta (the first N_HELD parts). */
static int supply_totals(json_t *supply, const char **bad)
{
    const char *asset;
    json_t *e;
    json_object_foreach(supply, asset, e) {
        u128 total = 0;
        for (size_t i = 0; i < N_HELD; i++)
            total += (uint64_t)json_integer_value(json_object_get(e, SUPPLY_PARTS[i]));
        if (total > INT64_MAX) {
            *bad = asset;
            return -EOVERFLOW;
        }
        if (json_object_set_new(e, "total", jint((uint64_t)total)) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* GET /supply: the supply tables (kept per block), not sums over every
 * balance, and what the bridge brought in or holds pending. */
static int get_supply(const api_request_t *req, api_response_t *res)
{
    sql_t q = api_sql(req);
    json_t *doc = json_object(), *supply = json_object(), *bridge_in = NULL;
    char root_hex[2 * DELTA_HASH_LEN + 1];
    const char *bad = "";
    uint64_t height = 0;
    int r = -ENOMEM;

    if (!doc || !supply)
        goto out;
    if ((r = read_begin(&q)) == 0 && (r = tip_read(&q, &height, root_hex)) == 0)
        r = supply_read(&q, fee_asset_of(req), supply, &bridge_in);
    read_end(&q);
    if (r == 0)
        r = supply_totals(supply, &bad);
    if (r == 0 && (json_object_set_new(doc, "height", jint(height)) < 0 ||
                   json_object_set(doc, "supply", supply) < 0 ||
                   (bridge_in && json_object_set(doc, "bridge_in", bridge_in) < 0)))
        r = -ENOMEM;
out:
    json_decref(supply);
    json_decref(bridge_in);
    if (r == 0)
        return api_json(res, 200, doc);
    json_decref(doc);
    if (r == -EOVERFLOW && *bad)
        return api_error(res, 500, "overflow", "the supply of %s exceeds 2^63-1", bad);
    if (r == -EOVERFLOW)
        return api_error(res, 500, "overflow", "a supply total exceeds 2^63-1");
    return internal_error(res, req->db, r);
}

/* GET /peer/records/{commitment}, /peer/nullifiers/{nullifier}: whether
 * alpha's records tree holds the commitment (unspent) or its nullifiers
 * tree the nullifier (spent), proven against an alpha header this worker
 * verified. The keys are the values themselves. */
static int peer_key(const api_request_t *req, api_response_t *res, const char *tree,
                    const char *what)
{
    uint8_t key[32];
    if (strlen(req->params[0]) != 64 || hex_decode(key, sizeof key, req->params[0]) < 0)
        return api_error(res, 400, "bad_key", "%s must be 64 hex digits", what);
    return api_peer_state(req, res, tree, key, sizeof key);
}

static int get_peer_record(const api_request_t *req, api_response_t *res)
{
    return peer_key(req, res, "records", "a commitment");
}

static int get_peer_nullifier(const api_request_t *req, api_response_t *res)
{
    return peer_key(req, res, "nullifiers", "a nullifier");
}

const api_route_t delta_routes[DELTA_N_ROUTES] = {
    {"GET", "/accounts/{}", "/accounts/{address}", get_account},
    {"GET", "/accounts/{}/proof", "/accounts/{address}/proof", get_account_proof},
    {"GET", "/pools", "/pools", get_pools},
    {"GET", "/pools/{}/{}", "/pools/{asset_a}/{asset_b}", get_pool},
    {"GET", "/supply", "/supply", get_supply},
    {"GET", "/peer/records/{}", "/peer/records/{commitment}", get_peer_record},
    {"GET", "/peer/nullifiers/{}", "/peer/nullifiers/{nullifier}", get_peer_nullifier},
};

const size_t delta_n_routes = DELTA_N_ROUTES;
