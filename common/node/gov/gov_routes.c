/* Governance reads (gov.h, "reading, for the API") and the HTTP routes
 * that serve them; see gov_routes.h. */
#include "common/node/gov/gov_routes.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/bech32.h"
#include "common/base/hex.h"
#include "common/node/api/node.h"
#include "common/node/gov/gov.h"
#include "common/node/gov/program.h"

#define HEX32 (2 * 32 + 1)
#define LIST_MAX 100

static json_t *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? json_string((const char *)t) : json_null();
}

static json_t *col_int(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL
               ? json_null()
               : json_integer((json_int_t)sqlite3_column_int64(st, i));
}

/* A column of JSON text as JSON (or null). */
static json_t *col_json(sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    json_t *j = t ? json_loads(t, 0, NULL) : NULL;
    return j ? j : json_null();
}

static void hex32(char out[HEX32], const uint8_t *p)
{
    hex_encode(out, p, 32);
}

static json_t *fail(sql_t *q, int *rc, int r, char *err, size_t errlen)
{
    if (rc)
        *rc = r;
    snprintf(err, errlen, "%s", r == -ENOMEM ? "out of memory" : sql_errmsg(q));
    return NULL;
}

json_t *gov_governors_json(sql_t *q, char *err, size_t errlen)
{
    uint8_t (*keys)[32] = malloc(GOV_MAX_GOVERNORS * 32), base[32];
    uint64_t thr = GOV_THRESHOLD_BPS_DEFAULT, period = GENESIS_VOTING_PERIOD_DEFAULT;
    size_t n = 0;
    sqlite3_stmt *st = NULL;
    json_t *list = json_array(), *out = NULL;
    char hex[HEX32], addr[ADDRESS_MAX];
    int r = keys && list ? 0 : -ENOMEM;

    if (r == 0)
        r = sql_query(q, &st, "SELECT public_key FROM gov_governors ORDER BY position", NULL);
    while (r == 0 && (r = sql_step(q, st)) == 1) {
        r = n < GOV_MAX_GOVERNORS && sql_column_hex(st, 0, keys[n], 32) == 0 ? 0 : -EBADMSG;
        if (r == 0) {
            hex32(hex, keys[n]);
            address_encode(addr, keys[n]);
            json_array_append_new(list, json_pack("{s:s,s:s}", "public_key", hex, "address",
                                                  addr));
            n++;
        }
    }
    sql_release(q, st);
    if (r == 0 && ((r = sql_u64(q, &thr, "SELECT value FROM gov_params WHERE key ="
                                " 'threshold_bps'", NULL)) == -ENOENT))
        r = 0;
    if (r == 0 && ((r = sql_u64(q, &period, "SELECT value FROM gov_params WHERE key ="
                                " 'voting_period'", NULL)) == -ENOENT))
        r = 0;
    if (r == 0) {
        gov_base_governors((uint32_t)thr, n, (const uint8_t(*)[32])keys, base);
        hex32(hex, base);
        out = json_pack("{s:O,s:I,s:I,s:f,s:I,s:s}", "governors", list, "count", (json_int_t)n,
                        "threshold_bps", (json_int_t)thr, "threshold_percent",
                        (double)thr / 100.0, "voting_period", (json_int_t)period, "base", hex);
    } else {
        fail(q, NULL, r, err, errlen);
    }
    json_decref(list);
    free(keys);
    return out;
}

json_t *gov_params_json(sql_t *q, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    json_t *params = json_object();
    int r = sql_query(q, &st, "SELECT key, value, updated_height FROM gov_params ORDER BY key",
                      NULL);
    while (r == 0 && (r = sql_step(q, st)) == 1) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        uint64_t v = (uint64_t)sqlite3_column_int64(st, 1);
        uint8_t base[32];
        char hex[HEX32];
        gov_base_param(key, v, base);
        hex32(hex, base);
        json_object_set_new(params, key, json_pack("{s:I,s:I,s:s}", "value", (json_int_t)v,
                                                   "updated_height",
                                                   (json_int_t)sqlite3_column_int64(st, 2),
                                                   "base", hex));
        r = 0;
    }
    sql_release(q, st);
    if (r < 0) {
        json_decref(params);
        return fail(q, NULL, r, err, errlen);
    }
    return json_pack("{s:o}", "params", params);
}

/* The columns every proposal listing shows. */
#define PROPOSAL_COLS                                                                          \
    "id, action, subject, summary, state, proposed_height, voting_end, activation_height,"    \
    " yes, no, abstain, updated_height, reason"

static json_t *proposal_row(sqlite3_stmt *st)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id",
                     col_text(st, 0), "action", col_text(st, 1), "subject", col_text(st, 2),
                     "summary", col_text(st, 3), "state", col_text(st, 4), "proposed_height",
                     col_int(st, 5), "voting_end", col_int(st, 6), "activation_height",
                     col_int(st, 7), "yes", col_int(st, 8), "no", col_int(st, 9), "abstain",
                     col_int(st, 10), "updated_height", col_int(st, 11), "reason",
                     col_text(st, 12));
}

json_t *gov_proposals_json(sql_t *q, const char *state, size_t limit, int *rc, char *err,
                           size_t errlen)
{
    sqlite3_stmt *st = NULL;
    json_t *list = json_array();
    int r = state ? sql_query(q, &st, "SELECT " PROPOSAL_COLS " FROM gov_proposals WHERE"
                              " state = ? ORDER BY proposed_height DESC, id LIMIT ?", "tu",
                              state, (uint64_t)limit)
                  : sql_query(q, &st, "SELECT " PROPOSAL_COLS " FROM gov_proposals"
                              " ORDER BY proposed_height DESC, id LIMIT ?", "u",
                              (uint64_t)limit);
    bool prepared = r == 0;
    while (r == 0 && (r = sql_step(q, st)) == 1) {
        json_array_append_new(list, proposal_row(st));
        r = 0;
    }
    if (prepared)
        sql_release(q, st);
    if (r < 0) {
        json_decref(list);
        return fail(q, rc, r, err, errlen);
    }
    return json_pack("{s:o}", "proposals", list);
}

static int votes_json(sql_t *q, const uint8_t id[32], json_t *out)
{
    sqlite3_stmt *st = NULL;
    int r = sql_query(q, &st, "SELECT voter, choice, height, tx FROM gov_votes WHERE"
                      " proposal = ? ORDER BY height, voter", "k", id);
    while (r == 0 && (r = sql_step(q, st)) == 1) {
        json_array_append_new(out, json_pack("{s:o,s:o,s:o,s:o}", "voter", col_text(st, 0),
                                             "choice", col_text(st, 1), "height",
                                             col_int(st, 2), "tx", col_text(st, 3)));
        r = 0;
    }
    sql_release(q, st);
    return r;
}

static int journal_json(sql_t *q, const uint8_t id[32], json_t *out)
{
    sqlite3_stmt *st = NULL;
    int r = sql_query(q, &st, "SELECT seq, step, state, height, tx, receipt, origin, code,"
                      " message, detail FROM gov_journal WHERE proposal = ? ORDER BY seq",
                      "k", id);
    while (r == 0 && (r = sql_step(q, st)) == 1) {
        json_array_append_new(out, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "seq",
                                             col_int(st, 0), "step", col_text(st, 1), "state",
                                             col_text(st, 2), "height", col_int(st, 3), "tx",
                                             col_text(st, 4), "receipt", col_text(st, 5),
                                             "origin", col_text(st, 6), "code", col_text(st, 7),
                                             "message", col_text(st, 8), "detail",
                                             col_json(st, 9)));
        r = 0;
    }
    sql_release(q, st);
    return r;
}

/* The chain id the ledger belongs to (meta), for what signers sign. */
static int ledger_chain_id(sql_t *q, char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int r = sql_query(q, &st, "SELECT value FROM meta WHERE key = 'chain_id'", NULL);
    if (r < 0)
        return r;
    if ((r = sql_step(q, st)) == 1)
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sql_release(q, st);
    return r < 0 ? r : 0;
}

json_t *gov_proposal_json(sql_t *q, const uint8_t id[GOV_ID_LEN], int *rc, char *err,
                          size_t errlen)
{
    sqlite3_stmt *st = NULL;
    json_t *o = NULL, *votes = json_array(), *journal = json_array();
    char chain_id[BLOCK_CHAIN_ID_MAX + 1] = "";
    int r = ledger_chain_id(q, chain_id, sizeof(chain_id));
    if (r == 0 && (r = sql_query(q, &st, "SELECT " PROPOSAL_COLS ", action_bytes, base,"
                                 " base_text, nonce, proposer FROM gov_proposals WHERE id = ?",
                                 "k", id)) == 0) {
        if ((r = sql_step(q, st)) == 1) {
            const uint8_t *ab = sqlite3_column_blob(st, 13);
            size_t an = (size_t)sqlite3_column_bytes(st, 13);
            uint64_t nonce = (uint64_t)sqlite3_column_int64(st, 16);
            uint64_t voting_end = (uint64_t)sqlite3_column_int64(st, 6);
            char *ahex = malloc(2 * an + 1);
            uint8_t h[32];
            char hh[HEX32];
            o = proposal_row(st);
            r = ahex && o ? 0 : -ENOMEM;
            if (r == 0) {
                hex_encode(ahex, ab, an);
                gov_attest_hash(chain_id, ab, an, nonce, voting_end, h);
                hex32(hh, h);
                json_object_set_new(o, "action_hex", json_string(ahex));
                json_object_set_new(o, "sign", json_pack("{s:s,s:s,s:I,s:I,s:s}", "chain_id",
                                                         chain_id, "action_hex", ahex, "nonce",
                                                         (json_int_t)nonce, "expiry_height",
                                                         (json_int_t)voting_end, "hash", hh));
                json_object_set_new(o, "base", col_text(st, 14));
                json_object_set_new(o, "base_text", col_text(st, 15));
                json_object_set_new(o, "nonce", json_integer((json_int_t)nonce));
                json_object_set_new(o, "proposer", col_text(st, 17));
            }
            free(ahex);
        } else if (r == 0) {
            r = -ENOENT;
        }
        sql_release(q, st);
    }
    if (r == 0 && (r = votes_json(q, id, votes)) == 0 && (r = journal_json(q, id, journal)) == 0) {
        json_object_set(o, "votes", votes);
        json_object_set(o, "journal", journal);
    }
    json_decref(votes);
    json_decref(journal);
    if (r < 0) {
        json_decref(o);
        if (r == -ENOENT) {
            *rc = r;
            snprintf(err, errlen, "no such proposal");
            return NULL;
        }
        return fail(q, rc, r, err, errlen);
    }
    return o;
}

json_t *gov_registry_json(sql_t *q, const char *name, bool program, int *rc, char *err,
                          size_t errlen)
{
    sqlite3_stmt *st = NULL;
    json_t *o = NULL;
    int r = sql_query(q, &st, "SELECT r.name, r.program_id, r.edition, r.checksum, r.policy,"
                      " r.updated_height, r.proposal, p.manifest FROM registry r JOIN programs p"
                      " ON p.program_id = r.program_id AND p.edition = r.edition WHERE r.name = ?",
                      "t", name);
    if (r == 0 && (r = sql_step(q, st)) == 1) {
        uint8_t ck[32], base[32];
        char hex[HEX32];
        uint64_t edition = (uint64_t)sqlite3_column_int64(st, 2);
        if (sql_column_hex(st, 3, ck, 32) < 0) {
            r = -EBADMSG;
        } else {
            gov_base_deploy(name, true, edition, ck, base);
            hex32(hex, base);
            o = json_pack("{s:o,s:o,s:I,s:o,s:o,s:o,s:o,s:s}", "name", col_text(st, 0),
                          "program_id", col_text(st, 1), "edition", (json_int_t)edition,
                          "checksum", col_text(st, 3), "policy", col_text(st, 4),
                          "updated_height", col_int(st, 5), "proposal", col_text(st, 6),
                          "base", hex);
            if (program)
                json_object_set_new(o, "program", col_json(st, 7));
            r = 0;
        }
    } else if (r == 0) {
        r = -ENOENT;
    }
    sql_release(q, st);
    if (r < 0) {
        if (r == -ENOENT) {
            *rc = r;
            snprintf(err, errlen, "not registered");
            return NULL;
        }
        return fail(q, rc, r, err, errlen);
    }
    return o;
}

/* ---- routes ---- */

static int read_failed(const api_request_t *req, api_response_t *res, const char *err)
{
    (void)req;
    res->retry_after_s = 1;
    return api_error(res, 503, "ledger_unavailable", "ledger read failed: %s", err);
}

static int parse_id(const api_request_t *req, api_response_t *res, uint8_t id[32])
{
    const char *s = req->params[0];
    if (strlen(s) != 64 || hex_decode(id, 32, s) < 0) {
        api_error(res, 400, "bad_id", "a proposal id is 64 hex digits");
        return -1;
    }
    return 0;
}

static int h_governors(const api_request_t *req, api_response_t *res)
{
    sql_t q = api_sql(req);
    char err[256];
    json_t *o = gov_governors_json(&q, err, sizeof(err));
    return o ? api_json(res, 200, o) : read_failed(req, res, err);
}

static int h_params(const api_request_t *req, api_response_t *res)
{
    sql_t q = api_sql(req);
    char err[256];
    json_t *o = gov_params_json(&q, err, sizeof(err));
    return o ? api_json(res, 200, o) : read_failed(req, res, err);
}

static int h_proposals(const api_request_t *req, api_response_t *res)
{
    static const char *const states[] = {"proposed", "approved", "applied", "rejected",
                                         "expired"};
    const char *state = api_query(req, "state");
    sql_t q = api_sql(req);
    char err[256];
    int rc = 0;
    bool known = state == NULL;
    for (size_t i = 0; state && i < sizeof(states) / sizeof(states[0]); i++)
        known |= strcmp(state, states[i]) == 0;
    if (!known)
        return api_error(res, 400, "bad_state", "state must be proposed, approved, applied, "
                         "rejected or expired");
    json_t *o = gov_proposals_json(&q, state, LIST_MAX, &rc, err, sizeof(err));
    return o ? api_json(res, 200, o) : read_failed(req, res, err);
}

static int h_proposal(const api_request_t *req, api_response_t *res)
{
    uint8_t id[32];
    sql_t q = api_sql(req);
    char err[256];
    int rc = 0;
    if (parse_id(req, res, id) < 0)
        return 0;
    json_t *o = gov_proposal_json(&q, id, &rc, err, sizeof(err));
    if (o)
        return api_json(res, 200, o);
    if (rc == -ENOENT)
        return api_error(res, 404, "unknown_proposal", "no proposal %s on this chain",
                         req->params[0]);
    return read_failed(req, res, err);
}

static int shadow_status(const char *code)
{
    if (strcmp(code, "unknown_proposal") == 0)
        return 404;
    if (strcmp(code, "final") == 0)
        return 409;
    if (strcmp(code, "ledger_busy") == 0 || strcmp(code, "unavailable") == 0)
        return 503;
    return 500;
}

static int h_shadow(const api_request_t *req, api_response_t *res)
{
    node_api_t *n = req->ctx;
    uint8_t id[32];
    json_t *report = NULL;
    reject_t why = {0};
    if (parse_id(req, res, id) < 0)
        return 0;
    if (!n->gov_shadow)
        return api_error(res, 503, "unavailable", "this worker runs no shadow runs");
    if (n->gov_shadow(n, id, &report, &why) < 0)
        return api_error(res, shadow_status(why.code), why.code, "%s", why.message);
    return api_json(res, 200, report);
}

static int h_registry(const api_request_t *req, api_response_t *res)
{
    const char *name = req->params[0];
    const char *prog = api_query(req, "program");
    sql_t q = api_sql(req);
    char err[256];
    int rc = 0;
    if (!gov_name_is_valid(name))
        return api_error(res, 400, "bad_name", "a program name is 1..%d of [a-z0-9_] starting "
                         "with a letter", GOV_NAME_MAX);
    json_t *o = gov_registry_json(&q, name, prog && strcmp(prog, "0") != 0, &rc, err,
                                  sizeof(err));
    if (o)
        return api_json(res, 200, o);
    if (rc == -ENOENT)
        return api_error(res, 404, "not_registered", "no program %s is registered on this "
                         "chain", name);
    return read_failed(req, res, err);
}

const api_route_t gov_routes[] = {
    {"GET", "/gov/proposals", "/gov/proposals", h_proposals},
    {"GET", "/gov/proposals/{}", "/gov/proposals/{id}", h_proposal},
    {"POST", "/gov/proposals/{}/shadow", "/gov/proposals/{id}/shadow", h_shadow},
    {"GET", "/gov/params", "/gov/params", h_params},
    {"GET", "/registry/{}", "/registry/{name}", h_registry},
    {"GET", "/network/governors", "/network/governors", h_governors},
};
const size_t gov_n_routes = sizeof(gov_routes) / sizeof(gov_routes[0]);
