/* Alpha's HTTP routes: records, owners' records and balances, nullifiers,
 * supply, bridge transfers credited here, and Merkle proofs against a
 * block's state root. Handlers run on API threads and read only through
 * req->db (read-only); each multi-query answer is read inside one read
 * transaction so that it describes one height. Proofs rebuild both trees
 * from the tables (O(rows) per proof). */
#include "alpha-worker/alpha_chain.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/bech32.h"
#include "common/base/hex.h"
#include "common/store/bridgetab.h"
#include "common/store/sql.h"
#include "common/store/tree.h"
#include "common/node/api/api_routes.h"
#include "proto/alpha_tx.h"
#include "proto/delta_tx.h"

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
    sql_t q = api_sql(req);
    uint8_t cm[32];
    char hex[65];
    sqlite3_stmt *st = NULL;
    json_t *o;
    int rc;
    if (parse_key(req->params[0], cm) != 0)
        return api_error(res, 400, "bad_commitment", "commitment must be 64 hex digits");
    hex_encode(hex, cm, 32);
    if (sql_query(&q, &st, "SELECT " RECORD_COLUMNS " FROM records WHERE commitment = ?", "k",
                  cm) < 0)
        return db_error(res, req->db);
    switch (sql_step(&q, st)) {
    case 1:
        o = record_json(st, 0);
        rc = o ? api_json(res, 200, o) : api_error(res, 500, "internal", "bad record row");
        break;
    case 0:
        rc = api_error(res, 404, "not_found", "no record %s", hex);
        break;
    default:
        rc = db_error(res, req->db);
    }
    sql_release(&q, st);
    return rc;
}

/* Append the owner's records (hex key), newest first, to list: at most
 * OWNER_RECORDS_MAX, *more set if there were more. 0, or -EIO (the
 * ledger; message on q's connection) / -EBADMSG (a bad row). */
static int owner_records(sql_t *q, const uint8_t pk[32], int unspent, json_t *list, int *more)
{
    static const char ALL[] = "SELECT " RECORD_COLUMNS " FROM records WHERE owner = ? "
                              "ORDER BY created_height DESC, commitment LIMIT ?";
    static const char UNSPENT[] = "SELECT " RECORD_COLUMNS " FROM records WHERE owner = ? "
                                  "AND spent_height IS NULL "
                                  "ORDER BY created_height DESC, commitment LIMIT ?";
    sqlite3_stmt *st = NULL;
    size_t n = 0;
    int rc = sql_query(q, &st, unspent ? UNSPENT : ALL, "ku", pk, (uint64_t)OWNER_RECORDS_MAX + 1);

    while (rc == 0 && (rc = sql_step(q, st)) == 1 && ++n <= OWNER_RECORDS_MAX) {
        json_t *o = record_json(st, 0);
        rc = o != NULL && json_array_append_new(list, o) == 0 ? 0 : -EBADMSG;
    }
    sql_release(q, st);
    *more = n > OWNER_RECORDS_MAX;
    if (rc == -EBADMSG)
        return rc;
    return rc < 0 ? -EIO : 0;
}

/* Sum rows (asset, amount) of sql, bound from fmt, into a new object at
 * *out; 0 or -EIO (message on q's connection) / -ENOMEM. */
static int sum_by_asset(sql_t *q, json_t **out, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    json_t *o = json_object();
    va_list ap;
    int rc = o != NULL ? sql_prepare(q, sql, &st) : -ENOMEM;

    if (rc == 0) {
        va_start(ap, fmt);
        rc = sql_vbind(q, st, fmt, ap);
        va_end(ap);
    }
    while (rc == 0 && (rc = sql_step(q, st)) == 1) {
        json_object_set_new(o, (const char *)sqlite3_column_text(st, 0),
                            json_integer(sqlite3_column_int64(st, 1)));
        rc = 0;
    }
    sql_release(q, st);
    if (rc < 0) {
        json_decref(o);
        return rc == -ENOMEM ? rc : -EIO;
    }
    *out = o;
    return 0;
}

/* GET /owners/{address}/records[?unspent=true] */
static int get_owner_records(const api_request_t *req, api_response_t *res)
{
    sql_t q = api_sql(req);
    uint8_t pk[32];
    char addr[ADDRESS_MAX];
    const char *why = NULL, *u = api_query(req, "unspent");
    json_t *list = NULL, *bal = NULL;
    int rc, unspent = 0, more = 0;

    if (address_decode(pk, req->params[0], &why) != 0)
        return api_error(res, 400, "bad_address", "%s: %s", req->params[0],
                         why ? why : "not an address");
    if (u != NULL) {
        if (strcmp(u, "true") == 0)
            unspent = 1;
        else if (strcmp(u, "false") != 0)
            return api_error(res, 400, "bad_query", "unspent must be true or false");
    }
    address_encode(addr, pk);
    if ((list = json_array()) == NULL)
        return api_error(res, 500, "internal", "out of memory");
    if (sql_exec(&q, "BEGIN", NULL) < 0) {
        rc = db_error(res, req->db);
        goto out;
    }
    if ((rc = owner_records(&q, pk, unspent, list, &more)) == 0)
        rc = sum_by_asset(&q, &bal, "SELECT asset, sum(amount) FROM records WHERE owner = ? "
                                    "AND spent_height IS NULL GROUP BY asset ORDER BY asset",
                          "k", pk);
    if (rc == 0) {
        rc = api_json(res, 200, json_pack("{s:s, s:o, s:o, s:b}", "owner", addr, "records", list,
                                          "balance", bal, "truncated", more));
        list = bal = NULL; /* json_pack "o" took them */
    } else if (rc == -EBADMSG) {
        rc = api_error(res, 500, "internal", "bad record row");
    } else if (rc == -ENOMEM) {
        rc = api_error(res, 500, "internal", "out of memory");
    } else {
        rc = db_error(res, req->db);
    }
    sql_exec(&q, "COMMIT", NULL);
out:
    json_decref(list);
    json_decref(bal);
    return rc;
}

/* GET /nullifiers/{nullifier} */
static int get_nullifier(const api_request_t *req, api_response_t *res)
{
    sql_t q = api_sql(req);
    uint8_t nf[32];
    char hex[65];
    sqlite3_stmt *st = NULL;
    int rc;
    if (parse_key(req->params[0], nf) != 0)
        return api_error(res, 400, "bad_nullifier", "nullifier must be 64 hex digits");
    hex_encode(hex, nf, 32);
    if (sql_query(&q, &st, "SELECT height FROM nullifiers WHERE nullifier = ?", "k", nf) < 0)
        return db_error(res, req->db);
    switch (sql_step(&q, st)) {
    case 1:
        rc = api_json(res, 200, json_pack("{s:s, s:b, s:I}", "nullifier", hex, "spent", 1,
                                          "height", (json_int_t)sqlite3_column_int64(st, 0)));
        break;
    case 0:
        rc = api_json(res, 200, json_pack("{s:s, s:b, s:n}", "nullifier", hex, "spent", 0,
                                          "height"));
        break;
    default:
        rc = db_error(res, req->db);
    }
    sql_release(&q, st);
    return rc;
}

/* Height of the newest block (0 if none) into *out; 0 or a negative code. */
static int tip_height(sql_t *q, uint64_t *out)
{
    int rc = sql_u64(q, out, "SELECT coalesce(max(height), 0) FROM blocks", NULL);
    return rc == -ENOENT ? -EIO : rc;
}

/* bridgetab_totals's rows as {asset: {"minted": N, "pending": M}}. */
static int bridge_total_add(void *ctx, const char *asset, uint64_t minted, uint64_t pending)
{
    json_t *row = json_pack("{s:I, s:I}", "minted", (json_int_t)minted, "pending",
                            (json_int_t)pending);
    return row != NULL && json_object_set_new(ctx, asset, row) == 0 ? 0 : -ENOMEM;
}

/* The bridge transfers arriving here, per asset, into a new object at
 * *out (empty without the bridge's tables). 0 or a negative code. */
static int bridge_in_totals(sql_t *q, json_t **out)
{
    json_t *o = json_object();
    int rc = o != NULL ? bridgetab_present(q) : -ENOMEM;

    if (rc == 1)
        rc = bridgetab_totals(q, bridge_total_add, o);
    if (rc < 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

/* GET /supply: the supply table's rows (kept per block), not a sum over
 * every record, and the bridge's totals. */
static int get_supply(const api_request_t *req, api_response_t *res)
{
    sql_t q = api_sql(req);
    json_t *supply = NULL, *burned = NULL, *minted = NULL, *bridged = NULL, *bridge = NULL;
    uint64_t height = 0;
    int rc;
    if (sql_exec(&q, "BEGIN", NULL) < 0)
        return db_error(res, req->db);
    if (tip_height(&q, &height) != 0 ||
        sum_by_asset(&q, &supply,
                     "SELECT asset, unspent FROM supply WHERE records > 0 ORDER BY asset",
                     NULL) != 0 ||
        sum_by_asset(&q, &burned,
                     "SELECT asset, burned FROM supply WHERE burned > 0 ORDER BY asset",
                     NULL) != 0 ||
        sum_by_asset(&q, &minted,
                     "SELECT asset, minted FROM supply WHERE minted > 0 ORDER BY asset",
                     NULL) != 0 ||
        sum_by_asset(&q, &bridged,
                     "SELECT asset, bridged_in FROM supply WHERE bridged_in > 0 ORDER BY asset",
                     NULL) != 0 ||
        bridge_in_totals(&q, &bridge) != 0) {
        rc = db_error(res, req->db);
        goto out;
    }
    rc = api_json(res, 200, json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}", "height",
                                      (json_int_t)height, "supply", supply, "burned", burned,
                                      "minted", minted, "bridged_in", bridged, "bridge_in",
                                      bridge));
    supply = burned = minted = bridged = bridge = NULL; /* json_pack "o" took them */
out:
    sql_exec(&q, "COMMIT", NULL);
    json_decref(supply);
    json_decref(burned);
    json_decref(minted);
    json_decref(bridged);
    json_decref(bridge);
    return rc;
}

/* GET /bridge/{id}: the record a bridge transfer (the burning
 * transaction's id on the other chain) minted here, with the height. */
static int get_bridge_mint(const api_request_t *req, api_response_t *res)
{
    sql_t q = api_sql(req);
    uint8_t id[32];
    char hex[65];
    sqlite3_stmt *st = NULL;
    json_t *o;
    int rc;
    if (parse_key(req->params[0], id) != 0)
        return api_error(res, 400, "bad_id", "transfer id must be 64 hex digits");
    hex_encode(hex, id, 32);
    if (sql_query(&q, &st,
                  "SELECT r.commitment, r.owner, r.asset, r.amount, r.salt, r.created_height, "
                  "r.spent_height FROM bridge_mints AS b JOIN records AS r USING (commitment) "
                  "WHERE b.id = ?", "k", id) < 0)
        return db_error(res, req->db);
    switch (sql_step(&q, st)) {
    case 1:
        o = record_json(st, 0);
        rc = o != NULL ? api_json(res, 200, json_pack("{s:s, s:o}", "transfer", hex, "record", o))
                       : api_error(res, 500, "internal", "bad record row");
        break;
    case 0:
        rc = api_error(res, 404, "not_found", "no record minted for bridge transfer %s", hex);
        break;
    default:
        rc = db_error(res, req->db);
    }
    sql_release(&q, st);
    return rc;
}

/* The value of an included key as of height: 0 and *out, -EIO (the tree
 * holds it, so the table must) or -ENOMEM. */
static int proof_value(sql_t *q, alpha_tree_t tree, const uint8_t key[32], json_t **out)
{
    sqlite3_stmt *st = NULL;
    char hex[65];
    json_t *v = NULL;
    int rc = sql_query(q, &st,
                       tree == ALPHA_TREE_RECORDS
                           ? "SELECT " RECORD_COLUMNS " FROM records WHERE commitment = ?"
                           : "SELECT nullifier, height FROM nullifiers WHERE nullifier = ?",
                       "k", key);

    if (rc == 0 && sql_step(q, st) == 1) {
        hex_encode(hex, key, 32);
        v = tree == ALPHA_TREE_RECORDS
                ? record_json(st, 1)
                : json_pack("{s:s, s:I}", "nullifier", hex, "height",
                            (json_int_t)sqlite3_column_int64(st, 1));
        rc = v != NULL ? 0 : -ENOMEM;
    } else {
        rc = -EIO;
    }
    sql_release(q, st);
    if (rc == 0)
        *out = v;
    return rc;
}

/* The roots a proof document shows, read from the persisted trees. */
typedef struct {
    uint64_t oldest;        /* the oldest height still kept, when -ESTALE */
    uint8_t records_root[32], nullifiers_root[32];
    char records_hex[65], nullifiers_hex[65], state_hex[65];
} proof_state_t;

static int proof_ledger_error(sql_t *q, char *msg, size_t msglen)
{
    snprintf(msg, msglen, "reading the ledger: %s", sqlite3_errmsg(q->db));
    return -EIO;
}

/* Resolve *height (0: the tip) to a block and read its state root. */
static int proof_block(sql_t *q, uint64_t *height, uint8_t root[32], char *msg, size_t msglen)
{
    sqlite3_stmt *st = NULL;
    uint64_t tip = 0;
    int rc;

    if (tip_height(q, &tip) != 0)
        return proof_ledger_error(q, msg, msglen);
    if (*height == 0)
        *height = tip;
    if (*height == 0 || *height > tip) {
        snprintf(msg, msglen, "no block at height %" PRIu64 " (tip %" PRIu64 ")", *height, tip);
        return -ENOENT;
    }
    if (sql_query(q, &st, "SELECT state_root FROM blocks WHERE height = ?", "u", *height) < 0)
        return proof_ledger_error(q, msg, msglen);
    if (sql_step(q, st) != 1) { /* heights up to the tip were all there: pruned */
        snprintf(msg, msglen, "height %" PRIu64 " is pruned: its block is no longer kept",
                 *height);
        rc = -ESTALE;
    } else if (parse_key((const char *)sqlite3_column_text(st, 0), root) != 0) {
        snprintf(msg, msglen, "block %" PRIu64 ": state_root is not 64 hex digits", *height);
        rc = -EBADMSG;
    } else {
        rc = 0;
    }
    sql_release(q, st);
    return rc;
}

/* The oldest height both trees still keep (0 if unknown). */
static uint64_t oldest_kept(sql_t *q)
{
    uint64_t r = 0, n = 0;
    if (tree_oldest(q, ALPHA_TREE_NAME_RECORDS, &r) < 0 ||
        tree_oldest(q, ALPHA_TREE_NAME_NULLIFIERS, &n) < 0)
        return 0;
    return r > n ? r : n;
}

/* A tree read failed at height: -ESTALE (pruned: the oldest height kept
 * into ps), -EPROTO (damaged) or -EIO, with msg. */
static int proof_tree_error(sql_t *q, int rc, uint64_t height, proof_state_t *ps, char *msg,
                            size_t msglen)
{
    if (rc == -ESTALE) {
        ps->oldest = oldest_kept(q);
        snprintf(msg, msglen, "height %" PRIu64 " is pruned; the oldest height kept is %" PRIu64,
                 height, ps->oldest);
        return rc;
    }
    if (rc == -EBADMSG) {
        snprintf(msg, msglen, "the stored tree at height %" PRIu64 " is damaged", height);
        return -EPROTO;
    }
    if (rc == -ENOMEM)
        snprintf(msg, msglen, "out of memory");
    else
        proof_ledger_error(q, msg, msglen);
    return rc == -ENOMEM ? rc : -EIO;
}

/* Read both trees' roots at height into *ps (O(1) rows); their state
 * root must be the header's (-EPROTO otherwise). */
static int proof_trees(sql_t *q, uint64_t height, const uint8_t header_root[32],
                       proof_state_t *ps, char *msg, size_t msglen)
{
    uint8_t sroot[32];
    char hhex[65];
    int rc = tree_root_at(q, ALPHA_TREE_NAME_RECORDS, height, ps->records_root, NULL);

    if (rc == 0)
        rc = tree_root_at(q, ALPHA_TREE_NAME_NULLIFIERS, height, ps->nullifiers_root, NULL);
    if (rc != 0)
        return proof_tree_error(q, rc, height, ps, msg, msglen);
    alpha_state_root(ps->records_root, ps->nullifiers_root, sroot);
    hex_encode(ps->records_hex, ps->records_root, 32);
    hex_encode(ps->nullifiers_hex, ps->nullifiers_root, 32);
    hex_encode(ps->state_hex, sroot, 32);
    if (memcmp(sroot, header_root, 32) == 0)
        return 0;
    hex_encode(hhex, header_root, 32);
    snprintf(msg, msglen,
             "state root stored at height %" PRIu64 " is %s but block %" PRIu64 " says %s",
             height, ps->state_hex, height, hhex);
    return -EPROTO;
}

/* The proof of key in the tree at height (the nodes on its path only)
 * and its value, if included, as JSON. */
static int proof_of_key(sql_t *q, alpha_tree_t tree, const uint8_t key[32], uint64_t height,
                        const proof_state_t *ps, json_t **proof_json, json_t **value)
{
    int recs = tree == ALPHA_TREE_RECORDS;
    smt_proof_t *proof = malloc(sizeof *proof);
    int rc = proof == NULL ? -ENOMEM
                           : tree_prove(q, recs ? ALPHA_TREE_NAME_RECORDS
                                                : ALPHA_TREE_NAME_NULLIFIERS,
                                        height, key, proof);
    int included = rc == 0 && proof->has_leaf && memcmp(proof->leaf_key, key, 32) == 0;

    if (rc == 0 &&
        (*proof_json = smt_proof_to_json(recs ? ps->records_root : ps->nullifiers_root, key,
                                         proof)) == NULL)
        rc = -ENOMEM;
    free(proof);
    if (rc != 0)
        return rc;
    if (!included) {
        *value = json_null();
        return 0;
    }
    return proof_value(q, tree, key, value);
}

/* The proof document of key in tree (see alpha_proof_build). */
static int proof_doc(sql_t *q, alpha_tree_t tree, const uint8_t key[32], uint64_t height,
                     proof_state_t *ps, json_t **out, char *msg, size_t msglen)
{
    int recs = tree == ALPHA_TREE_RECORDS;
    json_t *pj = NULL, *value = NULL, *doc = NULL;
    int rc = proof_of_key(q, tree, key, height, ps, &pj, &value);

    if (rc == 0)
        doc = json_pack("{s:s, s:I, s:s, s:s, s:s, s:{s:s, s:s}, s:O, s:O}",
                        "chain", "alpha", "height", (json_int_t)height,
                        "state_root", ps->state_hex, "tree", recs ? "records" : "nullifiers",
                        "tree_root", recs ? ps->records_hex : ps->nullifiers_hex,
                        "tree_roots", "records", ps->records_hex,
                        "nullifiers", ps->nullifiers_hex, "proof", pj, "value", value);
    if (rc == 0 && doc == NULL)
        rc = -ENOMEM;
    if (rc == 0)
        *out = doc;
    else if (rc != -ENOMEM)
        rc = proof_tree_error(q, rc, height, ps, msg, msglen);
    else
        snprintf(msg, msglen, "out of memory");
    json_decref(pj);
    json_decref(value);
    return rc;
}

int alpha_proof_build(sqlite3 *db, alpha_tree_t tree, const uint8_t key[SMT_KEY_LEN],
                      uint64_t height, json_t **out, char *msg, size_t msglen)
{
    sql_t q = SQL_BARE(db);
    proof_state_t ps = {0};
    uint8_t header_root[32];
    int rc;

    if (sql_exec(&q, "BEGIN", NULL) < 0)
        return proof_ledger_error(&q, msg, msglen);
    if ((rc = proof_block(&q, &height, header_root, msg, msglen)) == 0 &&
        (rc = proof_trees(&q, height, header_root, &ps, msg, msglen)) == 0)
        rc = proof_doc(&q, tree, key, height, &ps, out, msg, msglen);
    sql_exec(&q, "COMMIT", NULL);
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
    sql_t q = api_sql(req);
    rc = alpha_proof_build(req->db, tree, key, height, &doc, msg, sizeof msg);
    uint64_t oldest = rc == -ESTALE ? oldest_kept(&q) : 0;
    switch (rc) {
    case 0:
        return api_json(res, 200, doc);
    case -ENOENT:
        return api_error(res, 404, "not_found", "%s", msg);
    case -ESTALE: /* pruned: say which height is the oldest kept */
        api_error(res, 410, "pruned", "%s", msg);
        json_object_set_new(json_object_get(res->json, "error"), "oldest_height",
                            json_integer((json_int_t)oldest));
        return 0;
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

/* GET /peer/accounts/{address}: delta's account of address (its key in
 * delta's accounts tree, delta_account_key), proven against a delta header
 * this worker verified. */
static int get_peer_account(const api_request_t *req, api_response_t *res)
{
    uint8_t pk[32], key[32];
    const char *why = NULL;
    if (address_decode(pk, req->params[0], &why) < 0)
        return api_error(res, 400, "bad_address", "%s", why ? why : "not an address");
    delta_account_key(pk, key);
    return api_peer_state(req, res, "accounts", key, sizeof key);
}

const api_route_t alpha_routes[] = {
    {"GET", "/records/{}", "/records/{commitment}", get_record},
    {"GET", "/owners/{}/records", "/owners/{address}/records", get_owner_records},
    {"GET", "/nullifiers/{}", "/nullifiers/{nullifier}", get_nullifier},
    {"GET", "/proofs/records/{}", "/proofs/records/{commitment}", get_record_proof},
    {"GET", "/proofs/nullifiers/{}", "/proofs/nullifiers/{nullifier}", get_nullifier_proof},
    {"GET", "/supply", "/supply", get_supply},
    {"GET", "/peer/accounts/{}", "/peer/accounts/{address}", get_peer_account},
    {"GET", "/bridge/{}", "/bridge/{id}", get_bridge_mint},
};
_Static_assert(sizeof alpha_routes / sizeof alpha_routes[0] == ALPHA_N_ROUTES,
               "ALPHA_N_ROUTES counts alpha_routes");

const size_t alpha_n_routes = ALPHA_N_ROUTES;
