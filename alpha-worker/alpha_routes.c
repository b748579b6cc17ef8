/* Alpha's HTTP routes: records, owners' records and balances, nullifiers,
 * supply, and Merkle proofs against a block's state root. Handlers run on
 * API threads and read only through req->db (read-only); each multi-query
 * answer is read inside one read transaction so that it describes one
 * height. Proofs rebuild both trees from the tables (O(rows) per proof). */
#include "alpha-worker/alpha_chain.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/bech32.h"
#include "common/base/hex.h"
#include "common/store/stmtcache.h"
#include "proto/alpha_tx.h"

/* Most records one /owners answer lists (newest first); "truncated" says
 * when there were more. The balance always covers all of them. */
#define OWNER_RECORDS_MAX 1000

static int parse_key(const char *s, uint8_t out[32])
{
    if (s == NULL || strlen(s) != 64)
        return -EINVAL;
    return hex_decode(out, 32, s);
}

/* An address string from a hex public key column, or NULL. */
static json_t *address_json(const char *hexkey)
{
    uint8_t pk[32];
    char addr[ADDRESS_MAX];
    if (parse_key(hexkey, pk) != 0 || address_encode(addr, pk) != 0)
        return NULL;
    return json_string(addr);
}

/* The record object for a row (commitment, owner, asset, amount, salt,
 * created_height, spent_height) of st starting at column 0. If
 * as_of_unspent, spent_height is shown as null (the record as of a height
 * where it was unspent). Returns a new object or NULL. */
static json_t *record_json(sqlite3_stmt *st, int as_of_unspent)
{
    const char *cm = (const char *)sqlite3_column_text(st, 0);
    uint8_t c[32], nf[32];
    char nfhex[65];
    json_t *owner;
    if (parse_key(cm, c) != 0)
        return NULL;
    alpha_record_nullifier(c, nf);
    hex_encode(nfhex, nf, 32);
    owner = address_json((const char *)sqlite3_column_text(st, 1));
    if (owner == NULL)
        return NULL;
    json_t *spent = (as_of_unspent || sqlite3_column_type(st, 6) == SQLITE_NULL)
                        ? json_null()
                        : json_integer(sqlite3_column_int64(st, 6));
    return json_pack("{s:s, s:o, s:s, s:I, s:s, s:I, s:o, s:s}",
                     "commitment", cm,
                     "owner", owner,
                     "asset", (const char *)sqlite3_column_text(st, 2),
                     "amount", (json_int_t)sqlite3_column_int64(st, 3),
                     "salt", (const char *)sqlite3_column_text(st, 4),
                     "created_height", (json_int_t)sqlite3_column_int64(st, 5),
                     "spent_height", spent,
                     "nullifier", nfhex);
}

#define RECORD_COLUMNS "commitment, owner, asset, amount, salt, created_height, spent_height"

static int db_error(api_response_t *res, sqlite3 *db)
{
    return api_error(res, 500, "internal", "reading the ledger: %s", sqlite3_errmsg(db));
}

/* GET /records/{commitment} */
static int get_record(const api_request_t *req, api_response_t *res)
{
    uint8_t cm[32];
    char hex[65];
    sqlite3_stmt *st = NULL;
    json_t *o;
    int rc;
    if (parse_key(req->params[0], cm) != 0)
        return api_error(res, 400, "bad_commitment", "commitment must be 64 hex digits");
    hex_encode(hex, cm, 32);
    if (stmt_prepare(req->db, "SELECT " RECORD_COLUMNS " FROM records WHERE commitment = ?", &st) != 0) {
        rc = db_error(res, req->db);
        goto out;
    }
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_TRANSIENT);
    switch (sqlite3_step(st)) {
    case SQLITE_ROW:
        o = record_json(st, 0);
        rc = o ? api_json(res, 200, o) : api_error(res, 500, "internal", "bad record row");
        break;
    case SQLITE_DONE:
        rc = api_error(res, 404, "not_found", "no record %s", hex);
        break;
    default:
        rc = db_error(res, req->db);
    }
out:
    stmt_release(st);
    return rc;
}

/* GET /owners/{address}/records[?unspent=true] */
static int get_owner_records(const api_request_t *req, api_response_t *res)
{
    uint8_t pk[32];
    char hex[65], addr[ADDRESS_MAX];
    const char *why = NULL, *q = api_query(req, "unspent");
    sqlite3_stmt *st = NULL;
    json_t *list = NULL, *bal = NULL;
    int rc, s, unspent = 0, in_tx = 0;
    size_t n = 0;

    if (address_decode(pk, req->params[0], &why) != 0)
        return api_error(res, 400, "bad_address", "%s: %s", req->params[0],
                         why ? why : "not an address");
    if (q != NULL) {
        if (strcmp(q, "true") == 0)
            unspent = 1;
        else if (strcmp(q, "false") != 0)
            return api_error(res, 400, "bad_query", "unspent must be true or false");
    }
    hex_encode(hex, pk, 32);
    address_encode(addr, pk);
    list = json_array();
    bal = json_object();
    if (list == NULL || bal == NULL) {
        rc = api_error(res, 500, "internal", "out of memory");
        goto out;
    }
    if (sqlite3_exec(req->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_error(res, req->db);
        goto out;
    }
    in_tx = 1;
    if (stmt_prepare(req->db, unspent ? "SELECT " RECORD_COLUMNS " FROM records WHERE owner = ? "
                                     "AND spent_height IS NULL "
                                     "ORDER BY created_height DESC, commitment LIMIT ?"
                                   : "SELECT " RECORD_COLUMNS " FROM records WHERE owner = ? "
                                     "ORDER BY created_height DESC, commitment LIMIT ?", &st) != 0) {
        rc = db_error(res, req->db);
        goto out;
    }
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, OWNER_RECORDS_MAX + 1);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (++n > OWNER_RECORDS_MAX)
            break;
        json_t *o = record_json(st, 0);
        if (o == NULL || json_array_append_new(list, o) != 0) {
            rc = api_error(res, 500, "internal", "bad record row");
            goto out;
        }
    }
    if (s != SQLITE_ROW && s != SQLITE_DONE) {
        rc = db_error(res, req->db);
        goto out;
    }
    stmt_release(st);
    if (stmt_prepare(req->db, "SELECT asset, sum(amount) FROM records WHERE owner = ? "
                           "AND spent_height IS NULL GROUP BY asset ORDER BY asset", &st) != 0) {
        rc = db_error(res, req->db);
        goto out;
    }
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_TRANSIENT);
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        json_object_set_new(bal, (const char *)sqlite3_column_text(st, 0),
                            json_integer(sqlite3_column_int64(st, 1)));
    if (s != SQLITE_DONE) {
        rc = db_error(res, req->db);
        goto out;
    }
    rc = api_json(res, 200,
                  json_pack("{s:s, s:o, s:o, s:b}", "owner", addr, "records", list, "balance",
                            bal, "truncated", n > OWNER_RECORDS_MAX));
    list = bal = NULL;
out:
    stmt_release(st);
    if (in_tx)
        sqlite3_exec(req->db, "COMMIT", NULL, NULL, NULL);
    json_decref(list);
    json_decref(bal);
    return rc;
}

/* GET /nullifiers/{nullifier} */
static int get_nullifier(const api_request_t *req, api_response_t *res)
{
    uint8_t nf[32];
    char hex[65];
    sqlite3_stmt *st = NULL;
    int rc;
    if (parse_key(req->params[0], nf) != 0)
        return api_error(res, 400, "bad_nullifier", "nullifier must be 64 hex digits");
    hex_encode(hex, nf, 32);
    if (stmt_prepare(req->db, "SELECT height FROM nullifiers WHERE nullifier = ?", &st) != 0) {
        rc = db_error(res, req->db);
        goto out;
    }
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_TRANSIENT);
    switch (sqlite3_step(st)) {
    case SQLITE_ROW:
        rc = api_json(res, 200, json_pack("{s:s, s:b, s:I}", "nullifier", hex, "spent", 1,
                                          "height", (json_int_t)sqlite3_column_int64(st, 0)));
        break;
    case SQLITE_DONE:
        rc = api_json(res, 200, json_pack("{s:s, s:b, s:n}", "nullifier", hex, "spent", 0,
                                          "height"));
        break;
    default:
        rc = db_error(res, req->db);
    }
out:
    stmt_release(st);
    return rc;
}

/* Sum rows (asset, amount) of sql into a new object at *out; 0 or -EIO. */
static int sum_by_asset(sqlite3 *db, const char *sql, json_t **out)
{
    sqlite3_stmt *st = NULL;
    json_t *o = json_object();
    int rc = 0, s;
    if (o == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (stmt_prepare(db, sql, &st) != 0) {
        rc = -EIO;
        goto out;
    }
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        json_object_set_new(o, (const char *)sqlite3_column_text(st, 0),
                            json_integer(sqlite3_column_int64(st, 1)));
    if (s != SQLITE_DONE) {
        rc = -EIO;
        goto out;
    }
    *out = o;
    o = NULL;
out:
    stmt_release(st);
    json_decref(o);
    return rc;
}

/* Height of the newest block (0 if none) into *out; 0 or -EIO. */
static int tip_height(sqlite3 *db, uint64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (stmt_prepare(db, "SELECT coalesce(max(height), 0) FROM blocks", &st) != 0 ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = -EIO;
        goto out;
    }
    *out = (uint64_t)sqlite3_column_int64(st, 0);
out:
    stmt_release(st);
    return rc;
}

/* GET /supply */
static int get_supply(const api_request_t *req, api_response_t *res)
{
    json_t *supply = NULL, *burned = NULL;
    uint64_t height = 0;
    int rc;
    if (sqlite3_exec(req->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(res, req->db);
    if (tip_height(req->db, &height) != 0 ||
        sum_by_asset(req->db,
                     "SELECT asset, sum(amount) FROM records WHERE spent_height IS NULL "
                     "GROUP BY asset ORDER BY asset",
                     &supply) != 0 ||
        sum_by_asset(req->db,
                     "SELECT asset, sum(amount) FROM burns GROUP BY asset ORDER BY asset",
                     &burned) != 0) {
        rc = db_error(res, req->db);
        goto out;
    }
    rc = api_json(res, 200, json_pack("{s:I, s:o, s:o}", "height", (json_int_t)height,
                                      "supply", supply, "burned", burned));
    supply = burned = NULL;
out:
    sqlite3_exec(req->db, "COMMIT", NULL, NULL, NULL);
    json_decref(supply);
    json_decref(burned);
    return rc;
}

/* The value of an included key as of height, or json_null() if none. */
static int proof_value(sqlite3 *db, alpha_tree_t tree, const uint8_t key[32], json_t **out)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (stmt_prepare(db, tree == ALPHA_TREE_RECORDS
                               ? "SELECT " RECORD_COLUMNS " FROM records WHERE commitment = ?"
                               : "SELECT nullifier, height FROM nullifiers WHERE nullifier = ?", &st) != 0) {
        rc = -EIO;
        goto out;
    }
    char hex[65];
    hex_encode(hex, key, 32);
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = -EIO; /* the tree holds it, so the table must */
        goto out;
    }
    json_t *v = tree == ALPHA_TREE_RECORDS
                    ? record_json(st, 1)
                    : json_pack("{s:s, s:I}", "nullifier", hex, "height",
                                (json_int_t)sqlite3_column_int64(st, 1));
    if (v == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    *out = v;
out:
    stmt_release(st);
    return rc;
}

int alpha_proof_build(sqlite3 *db, alpha_tree_t tree, const uint8_t key[SMT_KEY_LEN],
                      uint64_t height, json_t **out, char *msg, size_t msglen)
{
    smt_t *rec = NULL, *nul = NULL;
    smt_proof_t *proof = NULL;
    sqlite3_stmt *st = NULL;
    json_t *doc = NULL, *pj = NULL, *value = NULL;
    uint8_t rroot[32], nroot[32], sroot[32], hroot[32], scratch[32];
    char rhex[65], nhex[65], shex[65];
    uint64_t tip = 0;
    int rc, in_tx = 0;

    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        goto sqlerr;
    in_tx = 1;
    if (tip_height(db, &tip) != 0)
        goto sqlerr;
    if (height == 0)
        height = tip;
    if (height == 0 || height > tip) {
        snprintf(msg, msglen, "no block at height %" PRIu64 " (tip %" PRIu64 ")", height, tip);
        rc = -ENOENT;
        goto out;
    }
    if (stmt_prepare(db, "SELECT state_root FROM blocks WHERE height = ?", &st) != 0)
        goto sqlerr;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)height);
    if (sqlite3_step(st) != SQLITE_ROW) {
        snprintf(msg, msglen, "no block at height %" PRIu64, height);
        rc = -ENOENT;
        goto out;
    }
    if (parse_key((const char *)sqlite3_column_text(st, 0), hroot) != 0) {
        snprintf(msg, msglen, "block %" PRIu64 ": state_root is not 64 hex digits", height);
        rc = -EBADMSG;
        goto out;
    }
    rc = alpha_trees_at(db, height, &rec, &nul, msg, msglen);
    if (rc != 0)
        goto out;
    smt_root(rec, rroot);
    smt_root(nul, nroot);
    alpha_state_root(rroot, nroot, sroot);
    hex_encode(rhex, rroot, 32);
    hex_encode(nhex, nroot, 32);
    hex_encode(shex, sroot, 32);
    if (memcmp(sroot, hroot, 32) != 0) {
        snprintf(msg, msglen,
                 "state root rebuilt at height %" PRIu64 " is %s but block %" PRIu64
                 " says %s",
                 height, shex, height, (const char *)sqlite3_column_text(st, 0));
        rc = -EPROTO;
        goto out;
    }
    proof = malloc(sizeof *proof);
    if (proof == NULL) {
        rc = -ENOMEM;
        goto nomem;
    }
    smt_t *t = tree == ALPHA_TREE_RECORDS ? rec : nul;
    if ((rc = smt_prove(t, key, proof)) != 0)
        goto nomem;
    pj = smt_proof_to_json(tree == ALPHA_TREE_RECORDS ? rroot : nroot, key, proof);
    if (pj == NULL) {
        rc = -ENOMEM;
        goto nomem;
    }
    if (smt_get(t, key, scratch) == 0) {
        rc = proof_value(db, tree, key, &value);
        if (rc == -EIO)
            goto sqlerr;
        if (rc != 0)
            goto nomem;
    } else {
        value = json_null();
    }
    doc = json_pack("{s:s, s:I, s:s, s:s, s:s, s:{s:s, s:s}, s:O, s:O}",
                    "chain", "alpha",
                    "height", (json_int_t)height,
                    "state_root", shex,
                    "tree", tree == ALPHA_TREE_RECORDS ? "records" : "nullifiers",
                    "tree_root", tree == ALPHA_TREE_RECORDS ? rhex : nhex,
                    "tree_roots", "records", rhex, "nullifiers", nhex,
                    "proof", pj,
                    "value", value);
    if (doc == NULL) {
        rc = -ENOMEM;
        goto nomem;
    }
    *out = doc;
    rc = 0;
    goto out;
nomem:
    snprintf(msg, msglen, "out of memory");
    goto out;
sqlerr:
    snprintf(msg, msglen, "reading the ledger: %s", sqlite3_errmsg(db));
    rc = -EIO;
out:
    stmt_release(st);
    if (in_tx)
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    smt_free(rec);
    smt_free(nul);
    free(proof);
    json_decref(pj);
    json_decref(value);
    return rc;
}

static int proof_route(const api_request_t *req, api_response_t *res, alpha_tree_t tree)
{
    uint8_t key[32];
    uint64_t height = 0;
    const char *h = api_query(req, "height");
    char msg[API_ERR_MAX];
    json_t *doc = NULL;
    int rc;
    if (parse_key(req->params[0], key) != 0)
        return api_error(res, 400, tree == ALPHA_TREE_RECORDS ? "bad_commitment" : "bad_nullifier",
                         "%s must be 64 hex digits",
                         tree == ALPHA_TREE_RECORDS ? "commitment" : "nullifier");
    if (h != NULL && (api_parse_height(h, &height) != 0 || height == 0))
        return api_error(res, 400, "bad_height", "height '%s' is not a block height (1, 2, ...)",
                         h);
    rc = alpha_proof_build(req->db, tree, key, height, &doc, msg, sizeof msg);
    switch (rc) {
    case 0:
        return api_json(res, 200, doc);
    case -ENOENT:
        return api_error(res, 404, "not_found", "%s", msg);
    case -EPROTO:
        return api_error(res, 500, "state_mismatch", "%s", msg);
    default:
        return api_error(res, 500, "internal", "%s", msg);
    }
}

static int get_record_proof(const api_request_t *req, api_response_t *res)
{
    return proof_route(req, res, ALPHA_TREE_RECORDS);
}

static int get_nullifier_proof(const api_request_t *req, api_response_t *res)
{
    return proof_route(req, res, ALPHA_TREE_NULLIFIERS);
}

const api_route_t alpha_routes[] = {
    {"GET", "/records/{}", "/records/{commitment}", get_record},
    {"GET", "/owners/{}/records", "/owners/{address}/records", get_owner_records},
    {"GET", "/nullifiers/{}", "/nullifiers/{nullifier}", get_nullifier},
    {"GET", "/proofs/records/{}", "/proofs/records/{commitment}", get_record_proof},
    {"GET", "/proofs/nullifiers/{}", "/proofs/nullifiers/{nullifier}", get_nullifier_proof},
    {"GET", "/supply", "/supply", get_supply},
};
_Static_assert(sizeof alpha_routes / sizeof alpha_routes[0] == ALPHA_N_ROUTES,
               "ALPHA_N_ROUTES counts alpha_routes");

const size_t alpha_n_routes = ALPHA_N_ROUTES;
