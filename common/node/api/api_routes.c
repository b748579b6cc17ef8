/* The chain-neutral routes. Every handler reads the ledger through
 * req->db (read-only, this thread's) and the node through req->ctx
 * (node_api_t). Ledger read failures answer 503 ledger_unavailable; rows
 * that do not parse (which only a damaged ledger has) answer 500 internal. */
#include "common/node/api/api_routes.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/base/bech32.h"
#include "common/base/clock.h"
#include "common/base/hex.h"
#include "common/node/api/node.h"
#include "common/store/peertab.h"
#include "common/store/genesis_sig.h"
#include "common/store/pooltab.h"
#include "common/store/prune.h"
#include "proto/block.h"
#include "proto/tx.h"

#define GENESIS_FILE_MAX (16u * 1024 * 1024)
#define HEALTH_STALL_SLACK_MS 2000 /* see health_stall_ms */

static node_api_t *node_of(const api_request_t *req)
{
    return req->ctx;
}

/* A uint64 as a JSON integer, or as a decimal string above 2^63-1 (which
 * jansson's integers cannot carry). */
static json_t *json_u64(uint64_t v)
{
    char buf[24];
    if (v <= INT64_MAX)
        return json_integer((json_int_t)v);
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return json_string(buf);
}

static json_t *col_json_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? json_string((const char *)t) : json_null();
}

/* Decode a 64-digit hex key column into an ad1... address. */
static int col_address(sqlite3_stmt *st, int i, char out[ADDRESS_MAX])
{
    uint8_t pk[32];
    const char *t = (const char *)sqlite3_column_text(st, i);
    if (t == NULL || hex_decode(pk, sizeof pk, t) != 0)
        return -EBADMSG;
    return address_encode(out, pk) == 0 ? 0 : -EBADMSG;
}

/* A failed ledger read: 503, "ledger_busy" while another process holds
 * the file locked, "ledger_unavailable" otherwise; both may be retried. */
static int ledger_failed(const api_request_t *req, api_response_t *res)
{
    bool busy = (sqlite3_errcode(req->db) & 0xff) == SQLITE_BUSY ||
                (sqlite3_errcode(req->db) & 0xff) == SQLITE_LOCKED;
    if (busy)
        api_error(res, 503, "ledger_busy", "the ledger is locked by another process: %s",
                  sqlite3_errmsg(req->db));
    else
        api_error(res, 503, "ledger_unavailable", "ledger read failed: %s",
                  sqlite3_errmsg(req->db));
    res->retry_after_s = 1;
    return 0;
}

/* The worker's production state (producing if it does not say). */
static void node_state_of(node_api_t *n, node_state_t *out)
{
    memset(out, 0, sizeof *out);
    if (n->state != NULL)
        n->state(n, out);
}

static const char *node_mode_name(node_mode_t m)
{
    return m == NODE_HALTED ? "halted" : m == NODE_DELAYED ? "delayed" : "producing";
}

/* Lowercase hex of arbitrary length into a new JSON string (NULL on OOM). */
static json_t *json_hex(const uint8_t *p, size_t n)
{
    char *buf = malloc(2 * n + 1);
    if (buf == NULL)
        return NULL;
    hex_encode(buf, p, n);
    json_t *j = json_string(buf);
    free(buf);
    return j;
}

/* Parse s[slen] (an even number of hex digits, either case; no NUL inside)
 * into a new buffer owned by the caller. */
static int hex_parse(const char *s, size_t slen, uint8_t **out, size_t *len)
{
    if (slen == 0 || slen % 2 != 0 || strlen(s) != slen)
        return -EINVAL;
    uint8_t *buf = malloc(slen / 2);
    if (buf == NULL)
        return -ENOMEM;
    if (hex_decode(buf, slen / 2, s) < 0) {
        free(buf);
        return -EINVAL;
    }
    *out = buf;
    *len = slen / 2;
    return 0;
}

/* Step the tip's row (height, hash, time, time_ms, protocol_version) in
 * *st: SQLITE_ROW, SQLITE_DONE before the first block, or an SQLite error
 * with its message on req->db. The caller finalizes *st. */
static int tip_step(const api_request_t *req, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(req->db,
                                "SELECT height, hash, time, time_ms, protocol_version FROM blocks"
                                " ORDER BY height DESC LIMIT 1",
                                -1, st, NULL);
    return rc == SQLITE_OK ? sqlite3_step(*st) : rc;
}

/* ---- GET /health -------------------------------------------------------- */

/* How old the last block may be before the chain counts as stalled: three
 * intervals, so one slow block is not an alarm, and at least the interval
 * plus 2 s, so that with a short interval a pause of the host (swapping, a
 * stopped VM) is not one either. docs/api.md states this bound. */
static uint64_t health_stall_ms(uint32_t interval_ms)
{
    uint64_t three = 3 * (uint64_t)interval_ms;
    uint64_t slack = (uint64_t)interval_ms + HEALTH_STALL_SLACK_MS;
    return three > slack ? three : slack;
}

/* 503 halted (with the worker's reason) when it produces no blocks. */
static int health_halted(const node_api_t *n, const node_state_t *ns, api_response_t *res)
{
    char since[CLOCK_ISO8601_MAX] = "";
    clock_iso8601(since, ns->since_ms);
    api_json(res, 503, json_pack("{s:s,s:s,s:s,s:s,s:s}", "status", "halted", "state", "halted",
                                 "chain", n->chain, "reason", ns->reason, "since", since));
    res->retry_after_s = 5;
    return 0;
}

/* /status of a halted node whose ledger cannot be read (ledger_error):
 * still say why it halted. */
static int status_halted(const node_api_t *n, const node_state_t *ns, const char *ledger_error,
                         api_response_t *res)
{
    api_json(res, 503, json_pack("{s:s,s:s,s:s,s:s}", "chain", n->chain, "state", "halted",
                                 "reason", ns->reason, "ledger_error", ledger_error));
    res->retry_after_s = 5;
    return 0;
}

void api_common_no_ledger(void *ctx, const char *path, const char *why, api_response_t *res)
{
    node_api_t *n = ctx;
    node_state_t ns;
    node_state_of(n, &ns);
    if (ns.mode != NODE_HALTED)
        return;
    if (strcmp(path, "/health") == 0) {
        health_halted(n, &ns, res);
        return;
    }
    if (strcmp(path, "/status") == 0) {
        status_halted(n, &ns, why, res);
        return;
    }
    api_error(res, 503, "halted", "%s halted: %s (%s)", n->chain, ns.reason, why);
    res->retry_after_s = 5;
}

/* 200 ok while blocks come at the cadence, 503 stalled when the last one
 * (before the first, the genesis time) is older than health_stall_ms, 503
 * halted when the worker has stopped producing. A block time ahead of
 * this host's clock counts as age 0. */
static int h_health(const api_request_t *req, api_response_t *res)
{
    const node_api_t *n = node_of(req);
    sqlite3_stmt *st = NULL;
    char reason[NODE_REASON_MAX + 128];
    node_state_t ns;
    int rc;

    node_state_of(node_of(req), &ns);
    if (ns.mode == NODE_HALTED)
        return health_halted(n, &ns, res);
    rc = tip_step(req, &st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        ledger_failed(req, res);
        goto out;
    }
    bool any = rc == SQLITE_ROW;
    uint64_t since = any ? (uint64_t)sqlite3_column_int64(st, 3) : n->genesis->genesis_time_ms;
    uint64_t now = clock_wall_ms(), age = now > since ? now - since : 0;
    bool stalled = n->block_interval_ms > 0 && age > health_stall_ms(n->block_interval_ms);
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I}", "status", stalled ? "stalled" : "ok",
                          "state", node_mode_name(ns.mode), "chain", n->chain, "height",
                          (json_int_t)(any ? sqlite3_column_int64(st, 0) : 0),
                          "last_block_age_ms", (json_int_t)age,
                          "block_interval_ms", (json_int_t)n->block_interval_ms);
    if ((stalled || ns.mode == NODE_DELAYED) && o != NULL) {
        int k = 0;
        if (stalled)
            k = snprintf(reason, sizeof reason, "no block for %.1f s; blocks are due every "
                         "%.1f s%s", (double)age / 1000.0, n->block_interval_ms / 1000.0,
                         ns.mode == NODE_DELAYED ? "; " : "");
        if (ns.mode == NODE_DELAYED && k >= 0 && (size_t)k < sizeof reason)
            snprintf(reason + k, sizeof reason - (size_t)k, "%s", ns.reason);
        json_object_set_new(o, "reason", json_string(reason));
    }
    api_json(res, stalled ? 503 : 200, o);
out:
    sqlite3_finalize(st);
    return 0;
}

/* ---- GET /status -------------------------------------------------------- */

/* "peer": the newest header of the linked chain this worker verified
 * (peer_headers), and how old it is; null fields before the first. */
static int status_peer(sql_t *q, const char *peer, json_t *o)
{
    uint8_t hash[BLOCK_HASH_LEN];
    char hex[2 * BLOCK_HASH_LEN + 1];
    uint64_t height = 0, time_ms = 0, now = clock_wall_ms();
    int rc = peertab_present(q);
    if (rc > 0)
        rc = peertab_tip(q, peer, &height, hash, &time_ms);
    if (rc < 0)
        return rc;
    hex_encode(hex, hash, BLOCK_HASH_LEN);
    json_object_set_new(o, "peer", json_pack("{s:s,s:I,s:o,s:o,s:o}", "chain", peer,
                        "height", (json_int_t)height, "hash",
                        height ? json_string(hex) : json_null(), "time_ms",
                        height ? json_u64(time_ms) : json_null(), "lag_ms",
                        height ? json_u64(now > time_ms ? now - time_ms : 0) : json_null()));
    return 0;
}

static int h_status(const api_request_t *req, api_response_t *res)
{
    const node_api_t *n = node_of(req);
    const genesis_t *g = n->genesis;
    char ghash[2 * BLOCK_HASH_LEN + 1];
    sqlite3_stmt *st = NULL;
    json_t *o = NULL;

    node_state_t ns;
    node_state_of(node_of(req), &ns);
    hex_encode(ghash, g->hash, BLOCK_HASH_LEN);
    int rc = tip_step(req, &st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE && ns.mode == NODE_HALTED) {
        status_halted(n, &ns, sqlite3_errmsg(req->db), res);
        goto out;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        ledger_failed(req, res);
        goto out;
    }
    bool any = rc == SQLITE_ROW;
    sql_t q = SQL_BARE(req->db);
    uint64_t lowest = 0;
    if (prune_lowest_height(&q, &lowest) < 0) {
        ledger_failed(req, res);
        goto out;
    }
    o = json_pack("{s:s,s:s,s:o,s:s,s:s,s:I,s:s,s:I,s:o,s:o,s:o,s:I}", "chain", n->chain,
                  "state", node_mode_name(ns.mode), "reason",
                  ns.mode != NODE_PRODUCING ? json_string(ns.reason) : json_null(), "chain_id",
                  g->chain_id, "network", g->network, "protocol_version",
                  (json_int_t)(any ? sqlite3_column_int64(st, 4) : g->protocol_version),
                  "genesis_hash", ghash, "height",
                  (json_int_t)(any ? sqlite3_column_int64(st, 0) : 0), "hash",
                  any ? col_json_text(st, 1) : json_null(), "time",
                  any ? col_json_text(st, 2) : json_null(), "time_ms",
                  any ? json_integer(sqlite3_column_int64(st, 3)) : json_null(), "restarts",
                  (json_int_t)n->restarts);
    if (o != NULL)
        json_object_set_new(o, "lowest_height", json_u64(lowest));
    if (o != NULL && n->peer && (rc = status_peer(&q, n->peer, o)) < 0) {
        json_decref(o);
        ledger_failed(req, res);
        goto out;
    }
    api_json(res, 200, o);
out:
    sqlite3_finalize(st);
    return 0;
}

/* ---- GET /blocks/latest, /blocks/{height} ------------------------------- */

/* "peer": the peer header the block names (its anchor), from the header
 * encoding in column col; absent when it names none. */
static void block_peer_json(sqlite3_stmt *st, int col, json_t *o)
{
    block_header_t h;
    char hex[2 * BLOCK_HASH_LEN + 1];
    if (block_header_decode(&h, sqlite3_column_blob(st, col),
                            (size_t)sqlite3_column_bytes(st, col), NULL) != 0 ||
        h.peer_height == 0)
        return;
    hex_encode(hex, h.peer_hash, BLOCK_HASH_LEN);
    json_object_set_new(o, "peer", json_pack("{s:I,s:s}", "height", (json_int_t)h.peer_height,
                                             "hash", hex));
}

/* The blocks row at height (or the tip if latest) as JSON, without txs
 * and commit; *at is its height. Return 0, -ENOENT, -EIO (SQLite, message
 * on req->db), -EBADMSG (bad row) or -ENOMEM. */
static int block_row_json(const api_request_t *req, bool latest, int64_t height, json_t **out,
                          int64_t *at)
{
    static const char cols[] =
        "SELECT height, hash, prev_hash, time, time_ms, chain_id, protocol_version, proposer,"
        " txs_root, state_root, tx_count, header FROM blocks ";
    char sql[256];
    char addr[ADDRESS_MAX];
    sqlite3_stmt *st = NULL;
    json_t *o = NULL;
    int rc;

    snprintf(sql, sizeof sql, "%s%s", cols,
             latest ? "ORDER BY height DESC LIMIT 1" : "WHERE height = ?1");
    if (sqlite3_prepare_v2(req->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = -EIO;
        goto out;
    }
    if (!latest)
        sqlite3_bind_int64(st, 1, height);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        rc = -ENOENT;
        goto out;
    }
    if (rc != SQLITE_ROW) {
        rc = -EIO;
        goto out;
    }
    if (col_address(st, 7, addr) != 0) {
        rc = -EBADMSG;
        goto out;
    }
    height = sqlite3_column_int64(st, 0);
    o = json_pack("{s:I,s:o,s:o,s:o,s:I,s:o,s:I,s:s,s:o,s:o,s:I}", "height", (json_int_t)height,
                  "hash", col_json_text(st, 1), "prev_hash", col_json_text(st, 2), "time",
                  col_json_text(st, 3), "time_ms", (json_int_t)sqlite3_column_int64(st, 4),
                  "chain_id", col_json_text(st, 5), "protocol_version",
                  (json_int_t)sqlite3_column_int64(st, 6), "proposer", addr, "txs_root",
                  col_json_text(st, 8), "state_root", col_json_text(st, 9), "tx_count",
                  (json_int_t)sqlite3_column_int64(st, 10));
    if (o == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    block_peer_json(st, 11, o);
    *out = o;
    *at = height;
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

/* The ids of the transactions at height, in block order, as a JSON array.
 * Return 0, -EIO or -ENOMEM. */
static int block_txs_json(const api_request_t *req, int64_t height, json_t **out)
{
    sqlite3_stmt *st = NULL;
    json_t *txs = json_array();
    int rc = -ENOMEM;

    if (txs == NULL)
        goto out;
    if (sqlite3_prepare_v2(req->db, "SELECT id FROM txs WHERE height = ?1 ORDER BY idx", -1, &st,
                           NULL) != SQLITE_OK) {
        rc = -EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, height);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(txs, col_json_text(st, 0));
    if (rc != SQLITE_DONE) {
        rc = -EIO;
        goto out;
    }
    *out = txs;
    txs = NULL;
    rc = 0;
out:
    sqlite3_finalize(st);
    json_decref(txs);
    return rc;
}

/* The commit signatures at height, in validator-key order, as a JSON
 * array. Return 0, -EIO, -EBADMSG (a key that is not hex) or -ENOMEM. */
static int block_sigs_json(const api_request_t *req, int64_t height, json_t **out)
{
    char addr[ADDRESS_MAX];
    sqlite3_stmt *st = NULL;
    json_t *sigs = json_array();
    int rc = -ENOMEM;

    if (sigs == NULL)
        goto out;
    if (sqlite3_prepare_v2(req->db,
                           "SELECT validator, signature FROM commits WHERE height = ?1"
                           " ORDER BY validator",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = -EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, height);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (col_address(st, 0, addr) != 0) {
            rc = -EBADMSG;
            goto out;
        }
        json_array_append_new(sigs, json_pack("{s:s,s:o}", "validator", addr, "signature",
                                              col_json_text(st, 1)));
    }
    if (rc != SQLITE_DONE) {
        rc = -EIO;
        goto out;
    }
    *out = sigs;
    sigs = NULL;
    rc = 0;
out:
    sqlite3_finalize(st);
    json_decref(sigs);
    return rc;
}

/* The block JSON at height (or the tip if latest). Return 0 and *out,
 * -ENOENT, -EIO (SQLite, message on req->db), -EBADMSG (bad row) or
 * -ENOMEM. */
static int block_json(const api_request_t *req, bool latest, int64_t height, json_t **out)
{
    json_t *o = NULL, *txs = NULL, *sigs = NULL;
    int rc = block_row_json(req, latest, height, &o, &height);

    if (rc == 0)
        rc = block_txs_json(req, height, &txs);
    if (rc == 0)
        rc = block_sigs_json(req, height, &sigs);
    if (rc != 0)
        goto out;
    json_object_set_new(o, "txs", txs);
    txs = NULL;
    json_object_set_new(o, "commit", json_pack("{s:o}", "signatures", sigs));
    sigs = NULL;
    *out = o;
    o = NULL;
out:
    json_decref(o);
    json_decref(txs);
    json_decref(sigs);
    return rc;
}

/* Blocks below *below are pruned (0: none). Return 0, or answer 503
 * (the ledger read failed) and return 1. */
static int pruned_below(const api_request_t *req, api_response_t *res, uint64_t *below)
{
    sql_t q = SQL_BARE(req->db);
    if (prune_below(&q, below) == 0)
        return 0;
    ledger_failed(req, res);
    return 1;
}

/* 410 pruned for a height below the lowest kept one. */
static int answer_pruned(api_response_t *res, int64_t height, uint64_t below)
{
    char msg[160];
    snprintf(msg, sizeof msg, "block %" PRId64 " was pruned: this node keeps blocks from height %"
             PRIu64 " on (<chain>.retain_blocks)", height, below);
    return api_json(res, 410, json_pack("{s:{s:s,s:s,s:o}}", "error", "code", "pruned",
                                        "message", msg, "oldest_height", json_u64(below)));
}

static int answer_block(const api_request_t *req, api_response_t *res, bool latest,
                        int64_t height)
{
    json_t *o = NULL;
    uint64_t below = 0;
    if (!latest && pruned_below(req, res, &below) != 0)
        return 0;
    if (!latest && (uint64_t)height < below)
        return answer_pruned(res, height, below);
    int rc = block_json(req, latest, height, &o);
    switch (rc) {
    case 0:
        return api_json(res, 200, o);
    case -ENOENT:
        if (latest)
            return api_error(res, 404, "not_found", "no block has been committed yet");
        return api_error(res, 404, "not_found", "no block at height %" PRId64, height);
    case -EIO:
        return ledger_failed(req, res);
    case -EBADMSG:
        return api_error(res, 500, "internal", "the ledger holds an unreadable block row");
    default:
        return rc;
    }
}

static int h_block_latest(const api_request_t *req, api_response_t *res)
{
    return answer_block(req, res, true, 0);
}

static int h_block_at(const api_request_t *req, api_response_t *res)
{
    uint64_t height;
    int rc = api_parse_height(req->params[0], &height);
    if (rc == -ERANGE)
        return api_error(res, 400, "bad_height", "height out of range (at most %" PRId64 ")",
                         INT64_MAX);
    if (rc != 0)
        return api_error(res, 400, "bad_height", "height must be a decimal number");
    return answer_block(req, res, false, (int64_t)height);
}

/* ---- GET /txs/{id} ------------------------------------------------------ */

/* GET /txs/{id} for an id the txs table does not have: 404, with what the
 * ledger's copy of the mempool says (pooltab.h): code "pending",
 * "dropped" (with the reason and the height), each with the word in
 * error.status, or "not_found" (unknown to this node; below, if not 0, is
 * the lowest height kept, since a pruned block's transactions are unknown
 * too). */
static void tx_not_committed(const api_request_t *req, api_response_t *res, const char *idhex,
                             uint64_t below)
{
    sql_t q = api_sql(req);
    pooltab_status_t st = {.state = POOLTAB_UNKNOWN};
    uint8_t id[TX_ID_LEN];
    char pruned[128] = "";
    json_t *e;

    if (hex_decode(id, TX_ID_LEN, idhex) < 0 || pooltab_present(&q) != 1 ||
        pooltab_status(&q, id, &st) < 0)
        st.state = POOLTAB_UNKNOWN;
    if (below > 0)
        snprintf(pruned, sizeof pruned, ", or it was in a block below height %" PRIu64
                 ", which this node pruned", below);
    if (st.state == POOLTAB_PENDING)
        api_error(res, 404, "pending", "transaction %s is pending in the mempool (admitted at "
                  "%" PRIu64 " ms)", idhex, st.added_ms);
    else if (st.state == POOLTAB_DROPPED)
        api_error(res, 404, "dropped", "transaction %s was dropped at height %" PRIu64 ": %s: %s",
                  idhex, st.height, st.code, st.message);
    else
        api_error(res, 404, "not_found", "transaction %s is unknown to this node: not committed, "
                  "pending nor dropped%s", idhex, pruned);
    if (st.state == POOLTAB_UNKNOWN || res->json == NULL ||
        (e = json_object_get(res->json, "error")) == NULL)
        return;
    json_object_set_new(e, "status", json_string(st.state == POOLTAB_PENDING ? "pending"
                                                                             : "dropped"));
    if (st.state == POOLTAB_DROPPED) {
        json_object_set_new(e, "reason", json_string(st.code));
        json_object_set_new(e, "height", json_integer((json_int_t)st.height));
    }
}

static int h_tx_get(const api_request_t *req, api_response_t *res)
{
    const char *id = req->params[0];
    char lower[2 * TX_ID_LEN + 1];
    char sender[ADDRESS_MAX];
    sqlite3_stmt *st = NULL;
    tx_t tx;
    const char *what = NULL;

    if (strlen(id) != 2 * TX_ID_LEN || strspn(id, "0123456789abcdefABCDEF") != 2 * TX_ID_LEN) {
        api_error(res, 400, "bad_id", "a transaction id is 64 hex digits");
        goto out;
    }
    for (size_t i = 0; i <= 2 * TX_ID_LEN; i++)
        lower[i] = (char)(id[i] | (id[i] ? 0x20 : 0)); /* hex digits: | 0x20 lowercases */
    int rc = sqlite3_prepare_v2(req->db, "SELECT height, idx, kind, body FROM txs WHERE id = ?1",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, lower, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    uint64_t below = 0;
    if (rc == SQLITE_DONE && pruned_below(req, res, &below) != 0)
        goto out;
    if (rc == SQLITE_DONE) {
        tx_not_committed(req, res, lower, below);
        goto out;
    }
    if (rc != SQLITE_ROW) {
        ledger_failed(req, res);
        goto out;
    }
    const uint8_t *body = sqlite3_column_blob(st, 3);
    size_t blen = (size_t)sqlite3_column_bytes(st, 3);
    if (body == NULL || tx_decode(&tx, body, blen, &what) != 0 ||
        address_encode(sender, tx.sender) != 0) {
        api_error(res, 500, "internal", "stored transaction %s does not decode (%s)", lower,
                  what ? what : "empty");
        goto out;
    }
    api_json(res, 200,
             json_pack("{s:s,s:I,s:I,s:o,s:s,s:o,s:o,s:o,s:o,s:s}", "id", lower, "height",
                       (json_int_t)sqlite3_column_int64(st, 0), "index",
                       (json_int_t)sqlite3_column_int64(st, 1), "kind", col_json_text(st, 2),
                       "sender", sender, "fee", json_u64(tx.fee), "nonce", json_u64(tx.nonce),
                       "expiry_height", json_u64(tx.expiry_height), "payload",
                       json_hex(tx.payload, tx.payload_len), "status", "committed"));
out:
    sqlite3_finalize(st);
    return 0;
}

/* ---- POST /txs ---------------------------------------------------------- */

/* Whether the Content-Type's media type (before any ';') is want. */
static bool media_type_is(const char *ctype, const char *want)
{
    size_t n = strlen(want);
    if (ctype == NULL)
        return false;
    while (*ctype == ' ')
        ctype++;
    return strncasecmp(ctype, want, n) == 0 &&
           (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

/* The HTTP status of a refused submission: 503 for what passes (a full
 * mempool, a busy ledger, a halted or stopping node), 409 for what was
 * seen before, 400 for the rest. */
static int submit_status(const char *code)
{
    static const char *const later[] = { "mempool_full", "ledger_busy", "halted",
                                         "unavailable" };
    for (size_t i = 0; i < sizeof later / sizeof later[0]; i++)
        if (strcmp(code, later[i]) == 0)
            return 503;
    return strcmp(code, "duplicate") == 0 || strcmp(code, "replay") == 0 ? 409 : 400;
}

static int h_tx_submit(const api_request_t *req, api_response_t *res)
{
    node_api_t *n = node_of(req);
    uint8_t *bytes = NULL;
    size_t len = 0;
    uint8_t id[TX_ID_LEN];
    char idhex[2 * TX_ID_LEN + 1];
    reject_t why = {0};
    json_t *doc = NULL;

    if (media_type_is(api_header(req, "Content-Type"), "application/octet-stream")) {
        if (req->body_len == 0) {
            api_error(res, 400, "malformed", "empty body: expected an encoded transaction");
            goto out;
        }
        bytes = malloc(req->body_len);
        if (bytes == NULL)
            goto out;
        memcpy(bytes, req->body, req->body_len);
        len = req->body_len;
    } else {
        json_error_t jerr;
        doc = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
        if (doc == NULL) {
            api_error(res, 400, "invalid_json", "invalid JSON at line %d column %d: %s",
                      jerr.line, jerr.column, jerr.text);
            goto out;
        }
        json_t *tx = json_object_get(doc, "tx");
        if (!json_is_string(tx)) {
            api_error(res, 400, "malformed",
                      "expected {\"tx\":\"<hex>\"} or an application/octet-stream body");
            goto out;
        }
        int rc = hex_parse(json_string_value(tx), json_string_length(tx), &bytes, &len);
        if (rc == -ENOMEM)
            goto out;
        if (rc != 0) {
            api_error(res, 400, "malformed", "\"tx\" must be an even number of hex digits");
            goto out;
        }
    }
    if (n->submit == NULL) {
        api_error(res, 503, "unavailable", "this node does not accept transactions now");
        res->retry_after_s = 1;
        goto out;
    }
    if (n->submit(n, bytes, len, id, &why) != 0) {
        const char *code = why.code ? why.code : "rejected";
        const char *msg = why.message[0] ? why.message : "transaction refused";
        int status = submit_status(code);
        api_error(res, status, code, "%s", msg);
        if (status == 503)
            res->retry_after_s = strcmp(code, "halted") == 0 ? 5 : 1;
        goto out;
    }
    hex_encode(idhex, id, TX_ID_LEN);
    api_json(res, 202, json_pack("{s:s,s:s}", "id", idhex, "status", "pending"));
out:
    json_decref(doc);
    free(bytes);
    return res->status ? 0 : -ENOMEM;
}

/* ---- POST /txs/batch ---------------------------------------------------- */

/* What a batch body holds: count transactions, pointing into the body
 * (binary) or into buffers of their own (JSON hex, in owned). */
typedef struct {
    const uint8_t **tx;
    size_t *len;
    uint8_t **owned;
    size_t n;
} batch_in_t;

static void batch_in_free(batch_in_t *b)
{
    for (size_t i = 0; b->owned && i < b->n; i++)
        free(b->owned[i]);
    free(b->owned);
    free(b->tx);
    free(b->len);
}

/* Room for count transactions. Return 0 or -ENOMEM. */
static int batch_in_alloc(batch_in_t *b, size_t count, bool owned)
{
    b->tx = calloc(count ? count : 1, sizeof *b->tx);
    b->len = calloc(count ? count : 1, sizeof *b->len);
    b->owned = owned ? calloc(count ? count : 1, sizeof *b->owned) : NULL;
    return b->tx && b->len && (b->owned || !owned) ? 0 : -ENOMEM;
}

/* The binary form: (u32 big-endian length, that many bytes) repeated.
 * Return 0, -ENOMEM, or -EINVAL with the refusal in res. */
static int batch_parse_binary(const api_request_t *req, api_response_t *res, batch_in_t *b)
{
    const uint8_t *p = req->body, *end = req->body + req->body_len;
    size_t count = 0;

    for (const uint8_t *q = p; q < end; count++) { /* count and check the frames first */
        uint32_t len = end - q < 4 ? 0 : (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 |
                                           (uint32_t)q[2] << 8 | q[3];
        if (end - q < 4 || len == 0 || len > TX_MAX_BYTES || (size_t)(end - q - 4) < len) {
            api_error(res, 400, "malformed", "transaction %zu at byte %zu: %s", count,
                      (size_t)(q - p), end - q < 4 ? "a length needs 4 bytes"
                      : len == 0 || len > TX_MAX_BYTES ? "its length is not 1 to the largest "
                      "transaction" : "its length runs past the end of the body");
            return -EINVAL;
        }
        if (count == API_BATCH_MAX_TXS) {
            api_error(res, 413, "too_many", "a batch holds at most %d transactions",
                      API_BATCH_MAX_TXS);
            return -EINVAL;
        }
        q += 4 + len;
    }
    if (batch_in_alloc(b, count, false) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < count; i++) {
        b->len[i] = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        b->tx[i] = p + 4;
        p += 4 + b->len[i];
    }
    b->n = count;
    return 0;
}

/* The JSON form: {"txs":["<hex>", ...]}. Return as batch_parse_binary. */
static int batch_parse_json(const api_request_t *req, api_response_t *res, batch_in_t *b)
{
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *txs = doc ? json_object_get(doc, "txs") : NULL;
    int rc = 0;

    if (doc == NULL) {
        api_error(res, 400, "invalid_json", "invalid JSON at line %d column %d: %s", jerr.line,
                  jerr.column, jerr.text);
        return -EINVAL;
    }
    if (!json_is_array(txs) || json_array_size(txs) > API_BATCH_MAX_TXS) {
        if (json_is_array(txs))
            api_error(res, 413, "too_many", "a batch holds at most %d transactions",
                      API_BATCH_MAX_TXS);
        else
            api_error(res, 400, "malformed", "expected {\"txs\":[\"<hex>\", ...]} or an "
                      "application/octet-stream body of length-prefixed transactions");
        rc = -EINVAL;
        goto out;
    }
    if ((rc = batch_in_alloc(b, json_array_size(txs), true)) < 0)
        goto out;
    for (size_t i = 0; i < json_array_size(txs); i++, b->n++) {
        json_t *t = json_array_get(txs, i);
        rc = json_is_string(t) ? hex_parse(json_string_value(t), json_string_length(t),
                                           &b->owned[i], &b->len[i]) : -EINVAL;
        if (rc == -EINVAL)
            api_error(res, 400, "malformed", "txs[%zu] must be an even number of hex digits", i);
        if (rc < 0)
            goto out;
        b->tx[i] = b->owned[i];
    }
out:
    json_decref(doc);
    return rc;
}

/* One transaction's answer in a batch. */
static json_t *batch_result(int rc, const uint8_t id[TX_ID_LEN], const reject_t *why,
                            bool *later)
{
    char idhex[2 * TX_ID_LEN + 1];
    if (rc == 0) {
        hex_encode(idhex, id, TX_ID_LEN);
        return json_pack("{s:s,s:s}", "id", idhex, "status", "pending");
    }
    const char *code = why->code ? why->code : "rejected";
    int status = submit_status(code);
    char msg[sizeof why->message];
    snprintf(msg, sizeof msg, "%s", why->message[0] ? why->message : "transaction refused");
    api_text_clean(msg);
    *later = *later || status == 503;
    return json_pack("{s:s,s:i,s:{s:s,s:s}}", "status", "refused", "http_status", status,
                     "error", "code", code, "message", msg);
}

/* Hand the batch to the node and put each answer into results. */
static int batch_run(node_api_t *n, const batch_in_t *b, json_t *results, size_t *accepted,
                     bool *later)
{
    uint8_t (*ids)[TX_ID_LEN] = calloc(b->n ? b->n : 1, sizeof *ids);
    int *rcs = calloc(b->n ? b->n : 1, sizeof *rcs);
    reject_t *whys = calloc(b->n ? b->n : 1, sizeof *whys);
    int rc = ids && rcs && whys ? 0 : -ENOMEM;

    if (rc == 0 && n->submit_many)
        n->submit_many(n, b->tx, b->len, b->n, ids, rcs, whys);
    for (size_t i = 0; rc == 0 && !n->submit_many && i < b->n; i++)
        rcs[i] = n->submit(n, b->tx[i], b->len[i], ids[i], &whys[i]);
    for (size_t i = 0; rc == 0 && i < b->n; i++) {
        *accepted += rcs[i] == 0;
        if (json_array_append_new(results, batch_result(rcs[i], ids[i], &whys[i], later)) < 0)
            rc = -ENOMEM;
    }
    free(ids);
    free(rcs);
    free(whys);
    return rc;
}

static int h_tx_batch(const api_request_t *req, api_response_t *res)
{
    node_api_t *n = node_of(req);
    batch_in_t b = {0};
    json_t *results = NULL;
    size_t accepted = 0;
    bool later = false;
    int rc = media_type_is(api_header(req, "Content-Type"), "application/octet-stream")
                 ? batch_parse_binary(req, res, &b) : batch_parse_json(req, res, &b);

    if (rc < 0)
        goto out;
    if (n->submit == NULL && n->submit_many == NULL) {
        api_error(res, 503, "unavailable", "this node does not accept transactions now");
        res->retry_after_s = 1;
        goto out;
    }
    if ((results = json_array()) == NULL || batch_run(n, &b, results, &accepted, &later) < 0)
        goto out;
    api_json(res, 200, json_pack("{s:I,s:I,s:O}", "accepted", (json_int_t)accepted, "refused",
                                 (json_int_t)(b.n - accepted), "results", results));
    if (later)
        res->retry_after_s = 1;
out:
    json_decref(results);
    batch_in_free(&b);
    return res->status ? 0 : -ENOMEM;
}

/* ---- POST /blocks/check ------------------------------------------------- */

/* ?name=<64 hex>: 1 and out, 0 if absent, -1 with the refusal in res. */
static int query_root(const api_request_t *req, api_response_t *res, const char *name,
                      uint8_t out[32])
{
    const char *v = api_query(req, name);
    if (!v)
        return 0;
    if (strlen(v) != 64 || hex_decode(out, 32, v) < 0) {
        api_error(res, 400, "bad_root", "%s must be 64 hex digits", name);
        return -1;
    }
    return 1;
}

/* A block for the next height, its transactions in the body as for
 * /txs/batch, checked by every stage a validator runs on a block it did
 * not build; with ?state_root= and ?txs_root= (a header's), the roots must
 * match too. Nothing is committed. */
static int h_block_check(const api_request_t *req, api_response_t *res)
{
    node_api_t *n = node_of(req);
    batch_in_t b = {0};
    node_block_check_t out;
    reject_t why = {0};
    uint8_t want_state[32], want_txs[32];
    char sr[65], tr[65];
    int hs, ht;
    int rc = media_type_is(api_header(req, "Content-Type"), "application/octet-stream")
                 ? batch_parse_binary(req, res, &b) : batch_parse_json(req, res, &b);

    if (rc < 0 || (hs = query_root(req, res, "state_root", want_state)) < 0 ||
        (ht = query_root(req, res, "txs_root", want_txs)) < 0)
        goto out;
    if (!n->check_block) {
        api_error(res, 503, "unavailable", "this node checks no blocks");
        goto out;
    }
    memset(&out, 0, sizeof(out));
    if (n->check_block(n, b.tx, b.len, b.n, &out, &why) < 0) {
        char msg[sizeof why.message];
        snprintf(msg, sizeof msg, "%s", why.message);
        api_text_clean(msg);
        if (why.code && strcmp(why.code, "invalid_block") == 0)
            api_json(res, 422, json_pack("{s:{s:s,s:s,s:I,s:s,s:I}}", "error", "code",
                                         "invalid_block", "message", msg, "height",
                                         (json_int_t)out.height, "reason", out.bad_code,
                                         "index", (json_int_t)out.bad_index));
        else
            api_error(res, submit_status(why.code ? why.code : "internal"),
                      why.code ? why.code : "internal", "%s", msg);
        goto out;
    }
    hex_encode(sr, out.state_root, 32);
    hex_encode(tr, out.txs_root, 32);
    if ((hs && memcmp(want_state, out.state_root, 32) != 0) ||
        (ht && memcmp(want_txs, out.txs_root, 32) != 0)) {
        api_json(res, 422, json_pack("{s:{s:s,s:s,s:I,s:s}}", "error", "code", "invalid_block",
                                     "message", "root_mismatch: the block's transactions are "
                                     "valid but the header's roots are not theirs", "height",
                                     (json_int_t)out.height, "reason", "root_mismatch"));
        json_object_set_new(json_object_get(res->json, "error"), "state_root",
                            json_string(sr));
        json_object_set_new(json_object_get(res->json, "error"), "txs_root", json_string(tr));
        goto out;
    }
    api_json(res, 200, json_pack("{s:b,s:I,s:I,s:s,s:s}", "valid", 1, "height",
                                 (json_int_t)out.height, "transactions", (json_int_t)b.n,
                                 "state_root", sr, "txs_root", tr));
out:
    batch_in_free(&b);
    return res->status ? 0 : -ENOMEM;
}

/* ---- /network ----------------------------------------------------------- */

static int h_genesis(const api_request_t *req, api_response_t *res)
{
    const char *path = node_of(req)->genesis_path;
    char *buf = NULL;
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (f == NULL) {
        api_error(res, 500, "internal", "the genesis file cannot be read");
        goto out;
    }
    buf = malloc(GENESIS_FILE_MAX + 1);
    if (buf == NULL)
        goto out;
    size_t n = fread(buf, 1, GENESIS_FILE_MAX + 1, f);
    if (ferror(f) || n > GENESIS_FILE_MAX) {
        api_error(res, 500, "internal", "the genesis file cannot be read");
        goto out;
    }
    buf[n] = '\0';
    char *text = realloc(buf, n + 1);
    if (text != NULL)
        buf = text;
    api_json(res, 200, NULL);
    res->text = buf;
    res->content_type = "application/json";
    buf = NULL;
out:
    if (f != NULL)
        fclose(f);
    free(buf);
    return res->status ? 0 : -ENOMEM;
}

/* GET /network/genesis/signatures: the governors' signatures of the
 * genesis (common/store/genesis_sig.h), as the worker checked them at
 * start; 404 "unsigned" for a home that has none. */
static int h_genesis_sigs(const api_request_t *req, api_response_t *res)
{
    const char *gpath = node_of(req)->genesis_path;
    const char *slash = gpath ? strrchr(gpath, '/') : NULL;
    char path[GENESIS_PATH_MAX + sizeof(GENESIS_SIGS_FILE)], err[GENESIS_SIG_ERR_MAX];
    genesis_sigs_t *sigs;
    int rc;
    if (!slash || (size_t)(slash - gpath) + 1 + sizeof(GENESIS_SIGS_FILE) > sizeof(path))
        return api_error(res, 500, "internal", "the genesis file has no folder");
    snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - gpath), gpath, GENESIS_SIGS_FILE);
    if (!(sigs = malloc(sizeof(*sigs))))
        return -ENOMEM;
    rc = genesis_sigs_load(sigs, path, err);
    if (rc == -ENOENT) {
        free(sigs);
        return api_error(res, 404, "unsigned", "no governor has signed this node's genesis "
                         "(no %s beside it)", GENESIS_SIGS_FILE);
    }
    if (rc < 0) {
        free(sigs);
        return api_error(res, 500, "internal", "%s", err);
    }
    json_t *list = json_array();
    char hex[2 * BLOCK_SIG_LEN + 1];
    for (size_t i = 0; i < sigs->n; i++) {
        char pk[2 * BLOCK_KEY_LEN + 1];
        hex_encode(pk, sigs->sigs[i].pk, BLOCK_KEY_LEN);
        hex_encode(hex, sigs->sigs[i].sig, BLOCK_SIG_LEN);
        json_array_append_new(list, json_pack("{s:s,s:s}", "public_key", pk, "signature", hex));
    }
    hex_encode(hex, sigs->genesis_hash, BLOCK_HASH_LEN);
    rc = api_json(res, 200, json_pack("{s:s,s:s,s:o}", "chain_id", sigs->chain_id,
                                      "genesis_hash", hex, "signatures", list));
    free(sigs);
    return rc;
}

static int h_genesis_hash(const api_request_t *req, api_response_t *res)
{
    const genesis_t *g = node_of(req)->genesis;
    char hash[2 * BLOCK_HASH_LEN + 1];
    hex_encode(hash, g->hash, BLOCK_HASH_LEN);
    return api_json(res, 200, json_pack("{s:s,s:s}", "hash", hash, "chain_id", g->chain_id));
}

/* ---- GET /metrics ------------------------------------------------------- */

static int h_metrics(const api_request_t *req, api_response_t *res)
{
    metrics_t *m = node_of(req)->metrics;
    char *text = m ? metrics_render(m) : strdup("");
    if (text == NULL)
        return -ENOMEM;
    api_json(res, 200, NULL);
    res->text = text;
    res->content_type = "text/plain; version=0.0.4; charset=utf-8";
    return 0;
}

/* ---- GET /peer/state/{tree}/{key} --------------------------------------- */

/* The peer height to answer at (?height=, or the newest verified) and its
 * header's hash and state root. Return 0, or an answered error (1). */
static int peer_height(const api_request_t *req, api_response_t *res, const char *peer,
                       uint64_t *height, uint8_t hash[BLOCK_HASH_LEN], uint8_t root[BLOCK_HASH_LEN])
{
    sql_t q = api_sql(req);
    const char *hp = api_query(req, "height");
    uint64_t newest = 0, t = 0;
    int rc = peertab_present(&q);
    if (rc > 0)
        rc = peertab_tip(&q, peer, &newest, hash, &t);
    if (rc < 0)
        return ledger_failed(req, res), 1;
    if (hp && api_parse_height(hp, height) != 0)
        return api_error(res, 400, "bad_height", "height must be a decimal number"), 1;
    if (!hp)
        *height = newest;
    if (newest == 0)
        return api_error(res, 503, "peer_unavailable", "no header of %s verified yet", peer), 1;
    rc = peertab_get(&q, peer, *height, hash, root);
    if (rc == -ENOENT)
        return api_error(res, 404, "unknown_height", "no verified header of %s at height %"
                         PRIu64 " (the newest is %" PRIu64 ")", peer, *height, newest), 1;
    if (rc < 0)
        return ledger_failed(req, res), 1;
    return 0;
}

/* The HTTP status of a refused peer state answer. */
static int peer_state_status(const char *code)
{
    if (strcmp(code, "peer_unavailable") == 0)
        return 503;
    if (strcmp(code, "pruned") == 0)
        return 410;
    if (strcmp(code, "unknown_tree") == 0 || strcmp(code, "unknown_height") == 0)
        return 404;
    if (strcmp(code, "bad_key") == 0)
        return 400;
    return 502; /* the peer answered, and its answer does not hold */
}

int api_peer_state(const api_request_t *req, api_response_t *res, const char *tree,
                   const uint8_t *key, size_t key_len)
{
    node_api_t *n = node_of(req);
    uint8_t hash[BLOCK_HASH_LEN], root[BLOCK_HASH_LEN];
    char hh[2 * BLOCK_HASH_LEN + 1], rh[2 * BLOCK_HASH_LEN + 1], kh[2 * 64 + 1];
    char vh[2 * BLOCK_HASH_LEN + 1], th[2 * BLOCK_HASH_LEN + 1];
    node_peer_state_t ps;
    reject_t why = { 0 };
    uint64_t height = 0;
    if (!n->peer || !n->peer_state)
        return api_error(res, 404, "no_peer", "this worker is not linked to another chain");
    if (key_len > 64)
        return api_error(res, 400, "bad_key", "a key of %zu bytes", key_len);
    if (peer_height(req, res, n->peer, &height, hash, root))
        return 0;
    if (n->peer_state(n, tree, key, key_len, height, root, &ps, &why) < 0)
        return api_error(res, peer_state_status(why.code), why.code, "%s", why.message);
    hex_encode(hh, hash, BLOCK_HASH_LEN);
    hex_encode(rh, root, BLOCK_HASH_LEN);
    hex_encode(kh, key, key_len);
    hex_encode(vh, ps.value, BLOCK_HASH_LEN);
    hex_encode(th, ps.tree_root, BLOCK_HASH_LEN);
    return api_json(res, 200, json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:b,s:o,s:s,s:b}", "peer",
                    n->peer, "height", (json_int_t)height, "block_hash", hh, "state_root", rh,
                    "tree", tree, "key", kh, "present", ps.present, "value",
                    ps.present ? json_string(vh) : json_null(), "tree_root", th, "verified",
                    1));
}

static int h_peer_state(const api_request_t *req, api_response_t *res)
{
    uint8_t key[64];
    size_t n = strlen(req->params[1]);
    if (n == 0 || n % 2 || n > 128 || hex_decode(key, n / 2, req->params[1]) < 0)
        return api_error(res, 400, "bad_key", "the key must be hex digits (at most 64 bytes)");
    return api_peer_state(req, res, req->params[0], key, n / 2);
}

const api_route_t api_common_routes[] = {
    {"GET", "/health", "/health", h_health},
    {"GET", "/status", "/status", h_status},
    {"GET", "/blocks/latest", "/blocks/latest", h_block_latest},
    {"GET", "/blocks/{}", "/blocks/{height}", h_block_at},
    {"GET", "/txs/{}", "/txs/{id}", h_tx_get},
    {"POST", "/txs", "/txs", h_tx_submit},
    {"POST", "/txs/batch", "/txs/batch", h_tx_batch},
    {"POST", "/blocks/check", "/blocks/check", h_block_check},
    {"GET", "/peer/state/{}/{}", "/peer/state/{tree}/{key}", h_peer_state},
    {"GET", "/network/genesis", "/network/genesis", h_genesis},
    {"GET", "/network/genesis/hash", "/network/genesis/hash", h_genesis_hash},
    {"GET", "/network/genesis/signatures", "/network/genesis/signatures", h_genesis_sigs},
    {"GET", "/metrics", "/metrics", h_metrics},
};
const size_t api_common_nroutes = sizeof(api_common_routes) / sizeof(api_common_routes[0]);
