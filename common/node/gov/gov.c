/* The governance verifier stage, the proposal lifecycle and its journal;
 * see gov.h. Governance state lives in the gov_* tables, registry and
 * programs (GOVTAB_SQL_V1); every write runs inside the caller's
 * transaction except the journal rows of this node's own (origin
 * "local": refusals at admission, shadow reports), which take one of
 * their own. */
#include "common/node/gov/gov.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/bech32.h"
#include "common/base/clock.h"
#include "common/base/hex.h"
#include "common/node/gov/program.h"
#include "proto/wire.h"

const char GOVTAB_SQL_V1[] =
    "CREATE TABLE gov_governors (\n"
    "  position INTEGER PRIMARY KEY,       -- order in the set\n"
    "  public_key TEXT NOT NULL UNIQUE,    -- hex\n"
    "  since_height INTEGER NOT NULL       -- 0: from genesis\n"
    ");\n"
    "CREATE TABLE gov_params (\n"
    "  key TEXT PRIMARY KEY,               -- threshold_bps, voting_period\n"
    "  value INTEGER NOT NULL,\n"
    "  updated_height INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE gov_proposals (\n"
    "  id TEXT PRIMARY KEY,                -- hex, proto/gov.h gov_proposal_id\n"
    "  action TEXT NOT NULL,               -- deploy | param | governors\n"
    "  subject TEXT NOT NULL,              -- program name, parameter, or 'governors'\n"
    "  summary TEXT NOT NULL,              -- one line for people\n"
    "  action_bytes BLOB NOT NULL,         -- the encoded action governors sign\n"
    "  base TEXT NOT NULL,                 -- hex digest of what it changes, as proposed\n"
    "  base_text TEXT NOT NULL,            -- that base for people\n"
    "  nonce INTEGER NOT NULL,\n"
    "  proposer TEXT NOT NULL,             -- hex public key\n"
    "  proposed_height INTEGER NOT NULL,\n"
    "  voting_end INTEGER NOT NULL,        -- last height votes and attestations count\n"
    "  activation_height INTEGER NOT NULL, -- 0: applied as soon as approved\n"
    "  state TEXT NOT NULL CHECK (state IN\n"
    "    ('proposed', 'approved', 'applied', 'rejected', 'expired')),\n"
    "  yes INTEGER NOT NULL DEFAULT 0,\n"
    "  no INTEGER NOT NULL DEFAULT 0,\n"
    "  abstain INTEGER NOT NULL DEFAULT 0,\n"
    "  updated_height INTEGER NOT NULL,\n"
    "  reason TEXT                         -- why it was rejected or expired\n"
    ");\n"
    "CREATE INDEX gov_proposals_open ON gov_proposals(voting_end) WHERE state = 'proposed';\n"
    "CREATE INDEX gov_proposals_due ON gov_proposals(activation_height)\n"
    "  WHERE state = 'approved';\n"
    "CREATE INDEX gov_proposals_state ON gov_proposals(state, proposed_height);\n"
    "CREATE TABLE gov_journal (\n"
    "  seq INTEGER PRIMARY KEY,\n"
    "  proposal TEXT NOT NULL,             -- hex id (also of a refused request's proposal)\n"
    "  step TEXT NOT NULL,                 -- propose vote approve apply reject expire shadow refuse\n"
    "  state TEXT NOT NULL,                -- the proposal's state after the step\n"
    "  height INTEGER NOT NULL,\n"
    "  tx TEXT,                            -- hex id of the transaction; NULL: the chain's own step\n"
    "  receipt TEXT NOT NULL,              -- hex\n"
    "  origin TEXT NOT NULL CHECK (origin IN ('block', 'local')),\n"
    "  code TEXT,                          -- a refusal's code and message\n"
    "  message TEXT,\n"
    "  detail TEXT                         -- JSON\n"
    ");\n"
    "CREATE INDEX gov_journal_proposal ON gov_journal(proposal, seq);\n"
    "CREATE TABLE gov_votes (\n"
    "  proposal TEXT NOT NULL,\n"
    "  voter TEXT NOT NULL,                -- hex public key of a governor\n"
    "  choice TEXT NOT NULL CHECK (choice IN ('yes', 'no', 'abstain')),\n"
    "  height INTEGER NOT NULL,\n"
    "  tx TEXT NOT NULL,\n"
    "  PRIMARY KEY (proposal, voter)\n"
    ");\n"
    "CREATE TABLE gov_nonces (\n"
    "  nonce INTEGER PRIMARY KEY,          -- of an attestation: each is used once\n"
    "  proposal TEXT NOT NULL,\n"
    "  height INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE registry (\n"
    "  name TEXT PRIMARY KEY,\n"
    "  program_id TEXT NOT NULL UNIQUE,    -- hex, the same for every edition\n"
    "  edition INTEGER NOT NULL CHECK (edition >= 0),\n"
    "  checksum TEXT NOT NULL,             -- hex BLAKE2b-256 of the program bytes\n"
    "  policy TEXT NOT NULL CHECK (policy IN ('immutable', 'additive', 'compatible')),\n"
    "  updated_height INTEGER NOT NULL,\n"
    "  proposal TEXT                       -- hex; NULL: registered at genesis\n"
    ");\n"
    "CREATE TABLE programs (\n"
    "  program_id TEXT NOT NULL,\n"
    "  edition INTEGER NOT NULL,\n"
    "  name TEXT NOT NULL,\n"
    "  checksum TEXT NOT NULL,\n"
    "  bytes BLOB NOT NULL,                -- proto/gov.h program encoding\n"
    "  manifest TEXT NOT NULL,             -- the program file, JSON\n"
    "  height INTEGER NOT NULL,\n"
    "  PRIMARY KEY (program_id, edition)\n"
    ");\n";

#define HEX32 (2 * 32 + 1)

static const char *const PARAM_THRESHOLD = "threshold_bps";
static const char *const PARAM_VOTING = "voting_period";

struct gov {
    char chain_id[BLOCK_CHAIN_ID_MAX + 1];
    metrics_t *m;
    bool dirty;        /* proposals may have changed state since the gauges were set */
    /* Scratch for policy checks (each about 40 KiB), and for the code of
     * a program parsed from JSON. */
    gov_program_t *old, *next;
    uint8_t code[GOV_CODE_MAX];
};

/* A proposal row, as the stage reads it. */
typedef struct {
    uint8_t id[GOV_ID_LEN];
    char state[16];
    uint8_t action[GOV_ACTION_MAX];
    size_t action_len;
    uint64_t nonce, proposed_height, voting_end, activation_height;
} prop_t;

/* ---- small helpers ---- */

/* Verifier-stage latency: from a microsecond to a tenth of a second. */
static const double GOV_BUCKETS[] = {1e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 1e-1};
#define GOV_NBUCKETS (sizeof GOV_BUCKETS / sizeof GOV_BUCKETS[0])

static void hex32(char out[HEX32], const uint8_t *p)
{
    hex_encode(out, p, 32);
}

static void digest_str(crypto_generichash_state *st, const char *s)
{
    uint8_t len[4];
    size_t n = strlen(s);
    len[0] = (uint8_t)(n >> 24);
    len[1] = (uint8_t)(n >> 16);
    len[2] = (uint8_t)(n >> 8);
    len[3] = (uint8_t)n;
    crypto_generichash_update(st, len, 4);
    crypto_generichash_update(st, (const uint8_t *)s, n);
}

static void digest_u64(crypto_generichash_state *st, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    crypto_generichash_update(st, b, 8);
}

static void digest_begin(crypto_generichash_state *st, const char *tag)
{
    crypto_generichash_init(st, NULL, 0, 32);
    crypto_generichash_update(st, (const uint8_t *)tag, strlen(tag));
}

static int ledger_reject(sql_t *sql, int r, reject_t *why)
{
    return reject(why, r, r == -EBUSY ? "ledger_busy" : "internal", "ledger: %s",
                  sql_errmsg(sql));
}

/* ---- bases: the digest of what an action changes ---- */

void gov_base_deploy(const char *name, bool registered, uint64_t edition,
                     const uint8_t checksum[32], uint8_t out[32])
{
    crypto_generichash_state st;
    if (!registered) {
        memset(out, 0, 32);
        return;
    }
    digest_begin(&st, "adnet/gov/base/deploy/v1");
    digest_str(&st, name);
    digest_u64(&st, edition);
    crypto_generichash_update(&st, checksum, 32);
    crypto_generichash_final(&st, out, 32);
}

void gov_base_param(const char *key, uint64_t value, uint8_t out[32])
{
    crypto_generichash_state st;
    digest_begin(&st, "adnet/gov/base/param/v1");
    digest_str(&st, key);
    digest_u64(&st, value);
    crypto_generichash_final(&st, out, 32);
}

void gov_base_governors(uint32_t threshold_bps, size_t n, const uint8_t (*keys)[32],
                        uint8_t out[32])
{
    crypto_generichash_state st;
    digest_begin(&st, "adnet/gov/base/governors/v1");
    digest_u64(&st, threshold_bps);
    digest_u64(&st, n);
    for (size_t i = 0; i < n; i++)
        crypto_generichash_update(&st, keys[i], 32);
    crypto_generichash_final(&st, out, 32);
}

/* ---- reading the tables ---- */

static int param_get(sql_t *sql, const char *key, uint64_t *out)
{
    return sql_u64(sql, out, "SELECT value FROM gov_params WHERE key = ?", "t", key);
}

static int param_set(sql_t *sql, const char *key, uint64_t v, uint64_t height)
{
    return sql_exec(sql,
                    "INSERT INTO gov_params (key, value, updated_height) VALUES (?, ?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
                    " updated_height = excluded.updated_height",
                    "tuu", key, v, height);
}

/* The current governors (at most GOV_MAX_GOVERNORS) in position order. */
static int governors_load(sql_t *sql, uint8_t (*keys)[32], size_t *n)
{
    sqlite3_stmt *st = NULL;
    int r = sql_query(sql, &st, "SELECT public_key FROM gov_governors ORDER BY position", NULL);
    *n = 0;
    while (r == 0 && (r = sql_step(sql, st)) == 1) {
        if (*n == GOV_MAX_GOVERNORS || sql_column_hex(st, 0, keys[*n], 32) < 0)
            r = -EBADMSG;
        else
            (*n)++, r = 0;
    }
    sql_release(sql, st);
    return r < 0 ? r : 0;
}

static bool key_in(const uint8_t (*keys)[32], size_t n, const uint8_t k[32])
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(keys[i], k, 32) == 0)
            return true;
    return false;
}

/* The registry row of name: 1 and its fields, 0 if none, or a code. */
typedef struct {
    uint64_t edition;
    uint8_t checksum[32];
    uint8_t program_id[32];
    char policy[16];
} reg_t;

static int registry_get(sql_t *sql, const char *name, reg_t *out)
{
    sqlite3_stmt *st = NULL;
    int r = sql_query(sql, &st,
                      "SELECT edition, checksum, program_id, policy FROM registry WHERE name = ?",
                      "t", name);
    if (r == 0 && (r = sql_step(sql, st)) == 1) {
        const unsigned char *pol = sqlite3_column_text(st, 3);
        out->edition = (uint64_t)sqlite3_column_int64(st, 0);
        snprintf(out->policy, sizeof(out->policy), "%s", pol ? (const char *)pol : "");
        if (sql_column_hex(st, 1, out->checksum, 32) < 0 ||
            sql_column_hex(st, 2, out->program_id, 32) < 0)
            r = -EBADMSG;
    }
    sql_release(sql, st);
    return r;
}

/* The program bytes of (program_id, edition) decoded into p. */
static int program_load(sql_t *sql, const uint8_t program_id[32], uint64_t edition,
                        gov_program_t *p, uint8_t *copy, size_t cap)
{
    sqlite3_stmt *st = NULL;
    const char *what = NULL;
    int r = sql_query(sql, &st, "SELECT bytes FROM programs WHERE program_id = ? AND edition = ?",
                      "ku", program_id, edition);
    if (r == 0 && (r = sql_step(sql, st)) == 1) {
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        if (n > cap) {
            r = -EBADMSG;
        } else {
            memcpy(copy, sqlite3_column_blob(st, 0), n);
            r = gov_program_decode(p, copy, n, &what) < 0 ? -EBADMSG : 0;
        }
    } else if (r == 0) {
        r = -ENOENT;
    }
    sql_release(sql, st);
    return r;
}

static int prop_load(sql_t *sql, const uint8_t id[GOV_ID_LEN], prop_t *p)
{
    sqlite3_stmt *st = NULL;
    int r = sql_query(sql, &st,
                      "SELECT state, action_bytes, nonce, proposed_height, voting_end,"
                      " activation_height FROM gov_proposals WHERE id = ?",
                      "k", id);
    if (r == 0 && (r = sql_step(sql, st)) == 1) {
        size_t n = (size_t)sqlite3_column_bytes(st, 1);
        memcpy(p->id, id, GOV_ID_LEN);
        snprintf(p->state, sizeof(p->state), "%s", (const char *)sqlite3_column_text(st, 0));
        if (n > sizeof(p->action)) {
            r = -EBADMSG;
        } else {
            memcpy(p->action, sqlite3_column_blob(st, 1), n);
            p->action_len = n;
            p->nonce = (uint64_t)sqlite3_column_int64(st, 2);
            p->proposed_height = (uint64_t)sqlite3_column_int64(st, 3);
            p->voting_end = (uint64_t)sqlite3_column_int64(st, 4);
            p->activation_height = (uint64_t)sqlite3_column_int64(st, 5);
        }
    }
    sql_release(sql, st);
    return r; /* 1 found, 0 none, or a code */
}

/* The receipt of the first journal row of step for proposal id (and, when
 * tx is non-NULL, of that transaction): 1 and receipt, 0 if none. */
static int first_receipt(sql_t *sql, const uint8_t id[GOV_ID_LEN], const char *step,
                         char receipt[HEX32], uint64_t *height)
{
    sqlite3_stmt *st = NULL;
    int r = sql_query(sql, &st,
                      "SELECT receipt, height FROM gov_journal WHERE proposal = ? AND step = ?"
                      " AND origin = 'block' ORDER BY seq LIMIT 1",
                      "kt", id, step);
    if (r == 0 && (r = sql_step(sql, st)) == 1) {
        snprintf(receipt, HEX32, "%s", (const char *)sqlite3_column_text(st, 0));
        *height = (uint64_t)sqlite3_column_int64(st, 1);
    }
    sql_release(sql, st);
    return r;
}

/* ---- the journal ---- */

static void receipt_of(const uint8_t id[GOV_ID_LEN], const char *step, uint64_t height,
                       const uint8_t *txid, const char *detail, char out[HEX32])
{
    crypto_generichash_state st;
    uint8_t h[32], zero[32] = {0};
    digest_begin(&st, "adnet/gov/receipt/v1");
    crypto_generichash_update(&st, id, GOV_ID_LEN);
    digest_str(&st, step);
    digest_u64(&st, height);
    crypto_generichash_update(&st, txid ? txid : zero, 32);
    digest_str(&st, detail ? detail : "");
    crypto_generichash_final(&st, h, 32);
    hex32(out, h);
}

/* One journal row; detail (may be NULL) is stolen. */
static int journal_put(sql_t *sql, const uint8_t id[GOV_ID_LEN], const char *step,
                       const char *state, uint64_t height, const uint8_t *txid, bool local,
                       const reject_t *why, json_t *detail, char receipt_out[HEX32])
{
    char receipt[HEX32];
    char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(detail);
    if (detail && !text)
        return -ENOMEM;
    receipt_of(id, step, height, txid, text, receipt);
    int r = sql_exec(sql,
                     "INSERT INTO gov_journal (proposal, step, state, height, tx, receipt,"
                     " origin, code, message, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     "kttuktttt" "t", id, step, state, height, txid, receipt,
                     local ? "local" : "block", why ? why->code : NULL,
                     why ? why->message : NULL, text);
    free(text);
    if (r == 0 && receipt_out)
        snprintf(receipt_out, HEX32, "%s", receipt);
    return r;
}

static int set_state(sql_t *sql, const uint8_t id[GOV_ID_LEN], const char *state,
                     uint64_t height, const char *reason)
{
    return sql_exec(sql,
                    "UPDATE gov_proposals SET state = ?, updated_height = ?, reason = ?"
                    " WHERE id = ?",
                    "tutk", state, height, reason, id);
}

/* ---- actions: check, describe, apply ---- */

/* The current base of what a changes, and a line saying what it is. */
static int base_now(gov_t *gv, sql_t *sql, const gov_action_t *a, uint8_t base[32], char *text,
                    size_t textlen)
{
    int r;
    (void)gv;
    if (a->kind == GOV_ACTION_DEPLOY) {
        reg_t reg;
        char ck[HEX32];
        if ((r = registry_get(sql, a->u.deploy.name, &reg)) < 0)
            return r;
        gov_base_deploy(a->u.deploy.name, r == 1, reg.edition, reg.checksum, base);
        if (r == 1) {
            hex32(ck, reg.checksum);
            snprintf(text, textlen, "%s edition %" PRIu64 " (%s, checksum %.16s...)",
                     a->u.deploy.name, reg.edition, reg.policy, ck);
        } else {
            snprintf(text, textlen, "%s not registered", a->u.deploy.name);
        }
        return 0;
    }
    if (a->kind == GOV_ACTION_PARAM) {
        uint64_t v = 0;
        if ((r = param_get(sql, a->u.param.key, &v)) < 0 && r != -ENOENT)
            return r;
        gov_base_param(a->u.param.key, v, base);
        snprintf(text, textlen, "%s = %" PRIu64, a->u.param.key, v);
        return 0;
    }
    uint8_t (*keys)[32] = malloc(GOV_MAX_GOVERNORS * 32);
    uint64_t thr = 0;
    size_t n = 0;
    if (!keys)
        return -ENOMEM;
    if ((r = governors_load(sql, keys, &n)) == 0 &&
        ((r = param_get(sql, PARAM_THRESHOLD, &thr)) == 0 || r == -ENOENT)) {
        gov_base_governors((uint32_t)thr, n, (const uint8_t(*)[32])keys, base);
        snprintf(text, textlen, "%zu governors, threshold %" PRIu64 " bps", n, thr);
        r = 0;
    }
    free(keys);
    return r;
}

static void summary_of(const gov_action_t *a, char *out, size_t len)
{
    if (a->kind == GOV_ACTION_DEPLOY) {
        uint8_t ck[32];
        char hex[HEX32];
        gov_program_checksum(a->u.deploy.program, a->u.deploy.program_len, ck);
        hex32(hex, ck);
        snprintf(out, len, "deploy %s edition %" PRIu64 " (%s, checksum %.16s...)",
                 a->u.deploy.name, a->u.deploy.edition, gov_policy_name(a->u.deploy.policy),
                 hex);
    } else if (a->kind == GOV_ACTION_PARAM) {
        snprintf(out, len, "set %s to %" PRIu64, a->u.param.key, a->u.param.value);
    } else {
        snprintf(out, len, "governors: %u keys, threshold %u bps", a->u.governors.n,
                 a->u.governors.threshold_bps);
    }
}

static const char *subject_of(const gov_action_t *a)
{
    return a->kind == GOV_ACTION_DEPLOY  ? a->u.deploy.name
           : a->kind == GOV_ACTION_PARAM ? a->u.param.key
                                         : "governors";
}

/* Check a deploy against the registry: program, edition, policy. With
 * compat non-NULL, the policy verdict goes there as JSON. */
static int deploy_check(gov_t *gv, sql_t *sql, const gov_action_t *a, json_t *compat,
                        reject_t *why)
{
    const char *what = NULL;
    char msg[256];
    reg_t reg;
    int r;
    if (gov_program_decode(gv->next, a->u.deploy.program, a->u.deploy.program_len, &what) < 0)
        return reject(why, -EINVAL, "bad_program", "the program does not decode: bad %s",
                      what ? what : "bytes");
    if (strcmp(gv->next->name, a->u.deploy.name) != 0)
        return reject(why, -EINVAL, "bad_program", "the program is named %s, the action %s",
                      gv->next->name, a->u.deploy.name);
    if ((r = registry_get(sql, a->u.deploy.name, &reg)) < 0)
        return ledger_reject(sql, r, why);
    if (r == 0) {
        if (a->u.deploy.edition != 0)
            return reject(why, -EINVAL, "edition_skip",
                          "%s is not registered: its first edition is 0, not %" PRIu64,
                          a->u.deploy.name, a->u.deploy.edition);
        return 0;
    }
    if (a->u.deploy.edition <= reg.edition)
        return reject(why, -EINVAL, "edition_down",
                      "%s is at edition %" PRIu64 "; an update is edition %" PRIu64
                      ", never %" PRIu64, a->u.deploy.name, reg.edition, reg.edition + 1,
                      a->u.deploy.edition);
    if (a->u.deploy.edition != reg.edition + 1)
        return reject(why, -EINVAL, "edition_skip",
                      "%s is at edition %" PRIu64 "; the next is %" PRIu64 ", not %" PRIu64,
                      a->u.deploy.name, reg.edition, reg.edition + 1, a->u.deploy.edition);
    if (strcmp(gov_policy_name(a->u.deploy.policy), reg.policy) != 0)
        return reject(why, -EINVAL, "policy_fixed",
                      "%s was registered %s; its policy is fixed at registration (asked: %s)",
                      a->u.deploy.name, reg.policy, gov_policy_name(a->u.deploy.policy));
    static _Thread_local uint8_t copy[GOV_PROGRAM_MAX];
    if ((r = program_load(sql, reg.program_id, reg.edition, gv->old, copy, sizeof(copy))) < 0)
        return r == -EBADMSG || r == -ENOENT
                   ? reject(why, -EIO, "internal", "program %s edition %" PRIu64
                            " is missing or damaged in the ledger", a->u.deploy.name,
                            reg.edition)
                   : ledger_reject(sql, r, why);
    msg[0] = '\0';
    r = gov_policy_check(gv->old, gv->next, a->u.deploy.policy, msg, sizeof(msg));
    if (compat) {
        json_t *v = json_pack("{s:s,s:s,s:I,s:I,s:s}", "policy", reg.policy, "verdict",
                              r == 0 ? "compatible" : "breaks", "from_edition",
                              (json_int_t)reg.edition, "to_edition",
                              (json_int_t)a->u.deploy.edition, "detail",
                              r == 0 ? "the interface may replace the registered one" : msg);
        json_object_update(compat, v);
        json_decref(v);
    }
    if (r < 0)
        return reject(why, -EPERM, "policy_break", "%s", msg);
    return 0;
}

static int param_check(const gov_action_t *a, reject_t *why)
{
    const char *k = a->u.param.key;
    uint64_t v = a->u.param.value;
    if (strcmp(k, PARAM_THRESHOLD) == 0) {
        if (v < 1 || v > 10000)
            return reject(why, -EINVAL, "bad_value", "threshold_bps must be 1..10000, not %"
                          PRIu64, v);
        return 0;
    }
    if (strcmp(k, PARAM_VOTING) == 0) {
        if (v < 1 || v > 10000000)
            return reject(why, -EINVAL, "bad_value", "voting_period must be 1..10000000 "
                          "blocks, not %" PRIu64, v);
        return 0;
    }
    return reject(why, -EINVAL, "unknown_param", "no governed parameter %s; there are "
                  "threshold_bps and voting_period", k);
}

/* Everything an action must satisfy against the current state: its base
 * (else "stale") and its kind's rules. */
static int action_check(gov_t *gv, sql_t *sql, const gov_action_t *a, json_t *compat,
                        reject_t *why)
{
    uint8_t base[32];
    char text[160];
    int r;
    if ((r = base_now(gv, sql, a, base, text, sizeof(text))) < 0)
        return ledger_reject(sql, r, why);
    if (sodium_memcmp(base, a->base, 32) != 0)
        return reject(why, -ESTALE, "stale", "the proposal was made against another base; "
                      "now: %s", text);
    if (a->kind == GOV_ACTION_DEPLOY)
        return deploy_check(gv, sql, a, compat, why);
    if (a->kind == GOV_ACTION_PARAM)
        return param_check(a, why);
    return 0; /* governors: the decoder checked count, threshold and distinct keys */
}

/* Check and apply a (proposal id) at height; what changed goes into
 * changes (a JSON array) when non-NULL. */
static int action_apply(gov_t *gv, sql_t *sql, const uint8_t id[GOV_ID_LEN], uint64_t height,
                        const gov_action_t *a, json_t *changes, json_t *compat, reject_t *why)
{
    int r;
    if ((r = action_check(gv, sql, a, compat, why)) < 0)
        return r;
    if (a->kind == GOV_ACTION_DEPLOY) {
        uint8_t ck[32], pid[32];
        json_t *manifest = gov_program_to_json(gv->next);
        char *mtext = manifest ? json_dumps(manifest, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(manifest);
        if (!mtext)
            return reject(why, -ENOMEM, "internal", "out of memory");
        gov_program_checksum(a->u.deploy.program, a->u.deploy.program_len, ck);
        gov_program_id(gv->chain_id, a->u.deploy.name, pid);
        r = sql_exec(sql,
                     "INSERT INTO programs (program_id, edition, name, checksum, bytes, manifest,"
                     " height) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     "kutkbtu", pid, a->u.deploy.edition, a->u.deploy.name, ck,
                     a->u.deploy.program, a->u.deploy.program_len, mtext, height);
        free(mtext);
        if (r == 0)
            r = sql_exec(sql,
                         "INSERT INTO registry (name, program_id, edition, checksum, policy,"
                         " updated_height, proposal) VALUES (?, ?, ?, ?, ?, ?, ?)"
                         " ON CONFLICT (name) DO UPDATE SET edition = excluded.edition,"
                         " checksum = excluded.checksum, updated_height = excluded.updated_height,"
                         " proposal = excluded.proposal",
                         "tkuktuk", a->u.deploy.name, pid, a->u.deploy.edition, ck,
                         gov_policy_name(a->u.deploy.policy), height, id);
        if (r < 0)
            return ledger_reject(sql, r, why);
        if (changes) {
            char hex[HEX32];
            hex32(hex, ck);
            json_array_append_new(changes,
                                  json_pack("{s:s,s:s,s:I,s:s}", "table", "registry", "name",
                                            a->u.deploy.name, "edition",
                                            (json_int_t)a->u.deploy.edition, "checksum", hex));
        }
        return 0;
    }
    if (a->kind == GOV_ACTION_PARAM) {
        uint64_t before = 0;
        if (((r = param_get(sql, a->u.param.key, &before)) < 0 && r != -ENOENT) ||
            (r = param_set(sql, a->u.param.key, a->u.param.value, height)) < 0)
            return ledger_reject(sql, r, why);
        if (changes)
            json_array_append_new(changes, json_pack("{s:s,s:s,s:I,s:I}", "table", "gov_params",
                                                     "key", a->u.param.key, "before",
                                                     (json_int_t)before, "after",
                                                     (json_int_t)a->u.param.value));
        return 0;
    }
    if ((r = sql_exec(sql, "DELETE FROM gov_governors", NULL)) < 0)
        return ledger_reject(sql, r, why);
    for (uint16_t i = 0; i < a->u.governors.n; i++)
        if ((r = sql_exec(sql,
                          "INSERT INTO gov_governors (position, public_key, since_height)"
                          " VALUES (?, ?, ?)",
                          "uku", (uint64_t)i, a->u.governors.keys[i], height)) < 0)
            return ledger_reject(sql, r, why);
    if ((r = param_set(sql, PARAM_THRESHOLD, a->u.governors.threshold_bps, height)) < 0)
        return ledger_reject(sql, r, why);
    if (changes)
        json_array_append_new(changes, json_pack("{s:s,s:i,s:i}", "table", "gov_governors",
                                                 "count", (int)a->u.governors.n,
                                                 "threshold_bps",
                                                 (int)a->u.governors.threshold_bps));
    return 0;
}

static int decode_action(const prop_t *p, gov_action_t *a, reject_t *why)
{
    const char *what = NULL;
    int r = gov_action_decode(a, p->action, p->action_len, &what);
    if (r == -ENOTSUP)
        return reject(why, r, "unknown_action", "unknown action kind");
    if (r < 0)
        return reject(why, -EBADMSG, "malformed", "the action does not decode: bad %s",
                      what ? what : "bytes");
    return 0;
}

/* Apply proposal p (approved) now, at height: its action, state applied,
 * and the journal's apply row. */
static int prop_apply(gov_t *gv, sql_t *sql, const prop_t *p, uint64_t height,
                      const uint8_t *txid, reject_t *why)
{
    gov_action_t *a = malloc(sizeof(*a));
    json_t *changes = json_array();
    int r;
    if (!a || !changes) {
        free(a);
        json_decref(changes);
        return reject(why, -ENOMEM, "internal", "out of memory");
    }
    if ((r = decode_action(p, a, why)) == 0 &&
        (r = action_apply(gv, sql, p->id, height, a, changes, NULL, why)) == 0) {
        if ((r = set_state(sql, p->id, "applied", height, NULL)) < 0 ||
            (r = journal_put(sql, p->id, "apply", "applied", height, txid, false, NULL,
                             json_pack("{s:o}", "changes", changes), NULL)) < 0)
            r = ledger_reject(sql, r, why);
        changes = NULL;
    }
    json_decref(changes);
    free(a);
    return r;
}

/* p was just approved at height: apply it at once unless it waits for
 * its activation height. */
static int prop_approved(gov_t *gv, sql_t *sql, prop_t *p, uint64_t height, const uint8_t *txid,
                         json_t *detail, reject_t *why)
{
    int r;
    if ((r = set_state(sql, p->id, "approved", height, NULL)) < 0 ||
        (r = journal_put(sql, p->id, "approve", "approved", height, txid, false, NULL, detail,
                         NULL)) < 0)
        return ledger_reject(sql, r, why);
    snprintf(p->state, sizeof(p->state), "approved");
    if (p->activation_height > height)
        return 0;
    return prop_apply(gv, sql, p, height, txid, why);
}

/* ---- the four kinds ---- */

/* A refusal for a step on p in a state that does not take it. */
static int wrong_state(sql_t *sql, const prop_t *p, const char *step, reject_t *why)
{
    char receipt[HEX32], hex[HEX32];
    uint64_t h = 0;
    hex32(hex, p->id);
    if (strcmp(step, "approve") == 0 &&
        (strcmp(p->state, "approved") == 0 || strcmp(p->state, "applied") == 0) &&
        first_receipt(sql, p->id, "approve", receipt, &h) == 1)
        return reject(why, -EALREADY, "already_approved",
                      "proposal %.16s... is %s already: approved at height %" PRIu64
                      ", receipt %s", hex, p->state, h, receipt);
    if (strcmp(step, "apply") == 0 && strcmp(p->state, "applied") == 0 &&
        first_receipt(sql, p->id, "apply", receipt, &h) == 1)
        return reject(why, -EALREADY, "already_applied",
                      "proposal %.16s... was applied at height %" PRIu64 ", receipt %s", hex,
                      h, receipt);
    if (strcmp(step, "apply") == 0 && strcmp(p->state, "proposed") == 0)
        return reject(why, -EPERM, "not_approved",
                      "proposal %.16s... is proposed, not approved: it cannot be applied "
                      "before the governors approve it", hex);
    return reject(why, -EPERM, "wrong_state", "proposal %.16s... is %s; %s takes a proposal "
                  "that is %s", hex, p->state, step,
                  strcmp(step, "apply") == 0 ? "approved" : "proposed");
}

static int find_prop(sql_t *sql, const uint8_t id[GOV_ID_LEN], prop_t *p, reject_t *why)
{
    char hex[HEX32];
    int r = prop_load(sql, id, p);
    if (r < 0)
        return ledger_reject(sql, r, why);
    hex32(hex, id);
    if (r == 0)
        return reject(why, -ENOENT, "unknown_proposal", "no proposal %s on this chain", hex);
    return 0;
}

/* The proposal id, still proposed and within its voting period at
 * height: what an attestation (step "approve") and a vote need. */
static int open_prop(sql_t *sql, const uint8_t id[GOV_ID_LEN], const char *step,
                     uint64_t height, prop_t *p, reject_t *why)
{
    int r;
    if ((r = find_prop(sql, id, p, why)) < 0)
        return r;
    if (strcmp(p->state, "proposed") != 0)
        return wrong_state(sql, p, step, why);
    if (height > p->voting_end)
        return reject(why, -ETIME, "expired", "the proposal's voting period ended at height %"
                      PRIu64, p->voting_end);
    return 0;
}

static int tx_propose(gov_t *gv, sql_t *sql, const gov_ctx_t *x, const tx_t *tx,
                      const gov_payload_t *pl, bool apply, reject_t *why)
{
    const genesis_t *g = x->genesis;
    uint8_t (*keys)[32] = malloc(GOV_MAX_GOVERNORS * 32), id[GOV_ID_LEN];
    gov_action_t *a = malloc(sizeof(*a));
    size_t n = 0;
    uint64_t period = 0;
    prop_t *old = malloc(sizeof(*old));
    char summary[200], base_text[160], receipt[HEX32], hex[HEX32];
    uint8_t base[32];
    const char *what = NULL;
    int r;

    if (!keys || !a || !old) {
        r = reject(why, -ENOMEM, "internal", "out of memory");
        goto out;
    }
    if ((r = governors_load(sql, keys, &n)) < 0) {
        r = ledger_reject(sql, r, why);
        goto out;
    }
    if (!key_in((const uint8_t(*)[32])keys, n, tx->sender) &&
        genesis_power_of(g, tx->sender) == 0) {
        r = reject(why, -EPERM, "not_proposer", "only a governor or a validator of %s may "
                   "propose", g->chain_id);
        goto out;
    }
    if ((r = gov_action_decode(a, pl->action, pl->action_len, &what)) < 0) {
        r = r == -ENOTSUP ? reject(why, r, "unknown_action", "unknown action kind")
                          : reject(why, -EBADMSG, "malformed", "bad action: %s", what);
        goto out;
    }
    gov_proposal_id(gv->chain_id, pl->nonce, pl->action, pl->action_len, id);
    hex32(hex, id);
    if ((r = prop_load(sql, id, old)) != 0) {
        uint64_t h = 0;
        if (r < 0)
            r = ledger_reject(sql, r, why);
        else if (first_receipt(sql, id, "propose", receipt, &h) == 1)
            r = reject(why, -EALREADY, "already_proposed", "proposal %s exists: proposed at "
                       "height %" PRIu64 ", receipt %s", hex, h, receipt);
        else
            r = reject(why, -EALREADY, "already_proposed", "proposal %s exists", hex);
        goto out;
    }
    if (a->activation_height != 0 && a->activation_height <= x->height) {
        r = reject(why, -EINVAL, "bad_activation", "activation height %" PRIu64 " is not "
                   "after this block (%" PRIu64 ")", a->activation_height, x->height);
        goto out;
    }
    if ((r = action_check(gv, sql, a, NULL, why)) < 0 || !apply)
        goto out;
    if (((r = param_get(sql, PARAM_VOTING, &period)) < 0 && r != -ENOENT) ||
        (r = base_now(gv, sql, a, base, base_text, sizeof(base_text))) < 0) {
        r = ledger_reject(sql, r, why);
        goto out;
    }
    summary_of(a, summary, sizeof(summary));
    if ((r = sql_exec(sql,
                      "INSERT INTO gov_proposals (id, action, subject, summary, action_bytes,"
                      " base, base_text, nonce, proposer, proposed_height, voting_end,"
                      " activation_height, state, updated_height)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'proposed', ?)",
                      "ktttbktukuuuu", id, gov_action_name(a->kind), subject_of(a), summary,
                      pl->action, pl->action_len, a->base, base_text, pl->nonce, tx->sender,
                      x->height, x->height + (period ? period : GENESIS_VOTING_PERIOD_DEFAULT),
                      a->activation_height, x->height)) < 0 ||
        (r = journal_put(sql, id, "propose", "proposed", x->height, x->txid, false, NULL,
                         json_pack("{s:s,s:s}", "summary", summary, "base", base_text),
                         NULL)) < 0)
        r = ledger_reject(sql, r, why);
out:
    free(keys);
    free(a);
    free(old);
    return r;
}

/* Whether yes of n governors reach threshold_bps. */
static bool reaches(uint64_t yes, uint64_t n, uint64_t threshold_bps)
{
    return n > 0 && yes * 10000 >= threshold_bps * n;
}

static int tx_attest(gov_t *gv, sql_t *sql, const gov_ctx_t *x, const gov_payload_t *pl,
                     bool apply, reject_t *why)
{
    const gov_attestation_t *at = &pl->attestation;
    uint8_t (*keys)[32] = malloc(GOV_MAX_GOVERNORS * 32);
    gov_action_t *a = malloc(sizeof(*a));
    prop_t *p = malloc(sizeof(*p));
    size_t n = 0;
    uint64_t thr = GOV_THRESHOLD_BPS_DEFAULT;
    char hex[HEX32];
    int r;

    if (!keys || !a || !p) {
        r = reject(why, -ENOMEM, "internal", "out of memory");
        goto out;
    }
    if ((r = open_prop(sql, pl->id, "approve", x->height, p, why)) < 0)
        goto out;
    if (at->expiry_height < x->height) {
        r = reject(why, -ETIME, "attestation_expired", "the attestation expired at height %"
                   PRIu64 "; this block is %" PRIu64, at->expiry_height, x->height);
        goto out;
    }
    if ((r = sql_exists(sql, "SELECT 1 FROM gov_nonces WHERE nonce = ?", "u", at->nonce)) != 0) {
        r = r < 0 ? ledger_reject(sql, r, why)
                  : reject(why, -EEXIST, "nonce_used", "attestation nonce %" PRIu64
                           " was used before", at->nonce);
        goto out;
    }
    if ((r = governors_load(sql, keys, &n)) < 0 ||
        ((r = param_get(sql, PARAM_THRESHOLD, &thr)) < 0 && r != -ENOENT)) {
        r = ledger_reject(sql, r, why);
        goto out;
    }
    for (uint16_t i = 0; i < at->n; i++) {
        hex32(hex, at->sigs[i].key);
        if (!key_in((const uint8_t(*)[32])keys, n, at->sigs[i].key)) {
            r = reject(why, -EPERM, "not_governor", "signer %.16s... is not a governor of %s",
                       hex, gv->chain_id);
            goto out;
        }
        if (gov_attest_verify(gv->chain_id, p->action, p->action_len, at->nonce,
                              at->expiry_height, &at->sigs[i]) < 0) {
            r = reject(why, -EBADMSG, "bad_signature", "the signature of governor %.16s... "
                       "does not verify over this chain, action, nonce and expiry", hex);
            goto out;
        }
    }
    if (!reaches(at->n, n, thr)) {
        r = reject(why, -EPERM, "too_few_signatures",
                   "%u of %zu governors signed; %" PRIu64 " bps needs %" PRIu64, at->n, n, thr,
                   (thr * n + 9999) / 10000);
        goto out;
    }
    if ((r = decode_action(p, a, why)) < 0 || (r = action_check(gv, sql, a, NULL, why)) < 0 ||
        !apply)
        goto out;
    json_t *signers = json_array();
    for (uint16_t i = 0; i < at->n; i++) {
        hex32(hex, at->sigs[i].key);
        json_array_append_new(signers, json_string(hex));
    }
    if ((r = sql_exec(sql, "INSERT INTO gov_nonces (nonce, proposal, height) VALUES (?, ?, ?)",
                      "uku", at->nonce, p->id, x->height)) < 0) {
        json_decref(signers);
        r = ledger_reject(sql, r, why);
        goto out;
    }
    r = prop_approved(gv, sql, p, x->height, x->txid,
                      json_pack("{s:s,s:o,s:I,s:I}", "by", "attestation", "signers", signers,
                                "nonce", (json_int_t)at->nonce, "governors", (json_int_t)n),
                      why);
out:
    free(keys);
    free(a);
    free(p);
    return r;
}

/* Votes of current governors on id: yes, no, abstain. */
static int tally(sql_t *sql, const uint8_t id[GOV_ID_LEN], uint64_t c[3])
{
    sqlite3_stmt *st = NULL;
    int r = sql_query(sql, &st,
                      "SELECT v.choice, count(*) FROM gov_votes v JOIN gov_governors g"
                      " ON g.public_key = v.voter WHERE v.proposal = ? GROUP BY v.choice",
                      "k", id);
    c[0] = c[1] = c[2] = 0;
    while (r == 0 && (r = sql_step(sql, st)) == 1) {
        const char *ch = (const char *)sqlite3_column_text(st, 0);
        uint64_t k = (uint64_t)sqlite3_column_int64(st, 1);
        c[strcmp(ch, "yes") == 0 ? 0 : strcmp(ch, "no") == 0 ? 1 : 2] += k;
        r = 0;
    }
    sql_release(sql, st);
    return r;
}

/* After a vote at x->height on p, with the tally c (yes, no, abstain) of
 * n governors at thr bps: approve p when the yes votes reach the
 * threshold (and its action still holds), reject it when they no longer
 * can; otherwise nothing. */
static int vote_outcome(gov_t *gv, sql_t *sql, const gov_ctx_t *x, prop_t *p,
                        const uint64_t c[3], size_t n, uint64_t thr, reject_t *why)
{
    int r = 0;
    if (reaches(c[0], n, thr)) {
        gov_action_t *a = malloc(sizeof(*a));
        r = !a ? reject(why, -ENOMEM, "internal", "out of memory")
               : decode_action(p, a, why) < 0 ? -EBADMSG
               : action_check(gv, sql, a, NULL, why);
        free(a);
        if (r == 0)
            r = prop_approved(gv, sql, p, x->height, x->txid,
                              json_pack("{s:s,s:I,s:I,s:I,s:I}", "by", "votes", "yes",
                                        (json_int_t)c[0], "no", (json_int_t)c[1], "abstain",
                                        (json_int_t)c[2], "governors", (json_int_t)n), why);
    } else if (!reaches(n - c[1] - c[2], n, thr)) {
        reject_t rj;
        reject(&rj, -EPERM, "rejected", "%" PRIu64 " no and %" PRIu64 " abstain of %zu "
               "governors: %" PRIu64 " bps can no longer be reached", c[1], c[2], n, thr);
        if ((r = set_state(sql, p->id, "rejected", x->height, rj.message)) < 0 ||
            (r = journal_put(sql, p->id, "reject", "rejected", x->height, x->txid, false, &rj,
                             NULL, NULL)) < 0)
            r = ledger_reject(sql, r, why);
    }
    return r;
}

static int tx_vote(gov_t *gv, sql_t *sql, const gov_ctx_t *x, const tx_t *tx,
                   const gov_payload_t *pl, bool apply, reject_t *why)
{
    uint8_t (*keys)[32] = malloc(GOV_MAX_GOVERNORS * 32);
    prop_t *p = malloc(sizeof(*p));
    size_t n = 0;
    uint64_t thr = GOV_THRESHOLD_BPS_DEFAULT, c[3];
    const char *choice = gov_choice_name(pl->choice);
    sqlite3_stmt *st = NULL;
    int r;

    if (!keys || !p) {
        r = reject(why, -ENOMEM, "internal", "out of memory");
        goto out;
    }
    if ((r = governors_load(sql, keys, &n)) < 0 ||
        ((r = param_get(sql, PARAM_THRESHOLD, &thr)) < 0 && r != -ENOENT)) {
        r = ledger_reject(sql, r, why);
        goto out;
    }
    if (!key_in((const uint8_t(*)[32])keys, n, tx->sender)) {
        r = reject(why, -EPERM, "not_governor", "only governors vote; the sender is not one");
        goto out;
    }
    if ((r = open_prop(sql, pl->id, "vote", x->height, p, why)) < 0)
        goto out;
    if ((r = sql_query(sql, &st, "SELECT choice, height FROM gov_votes WHERE proposal = ?"
                       " AND voter = ?", "kk", p->id, tx->sender)) < 0 ||
        (r = sql_step(sql, st)) < 0) {
        r = ledger_reject(sql, r, why);
        goto out;
    }
    if (r == 1) {
        const char *had = (const char *)sqlite3_column_text(st, 0);
        uint64_t h = (uint64_t)sqlite3_column_int64(st, 1);
        r = strcmp(had, choice) == 0
                ? reject(why, -EALREADY, "already_voted", "this governor voted %s at height %"
                         PRIu64 " already", had, h)
                : reject(why, -EEXIST, "voted_twice", "this governor voted %s at height %"
                         PRIu64 "; a vote is final", had, h);
        goto out;
    }
    sql_release(sql, st);
    st = NULL;
    if (!apply) {
        r = 0;
        goto out;
    }
    if ((r = sql_exec(sql, "INSERT INTO gov_votes (proposal, voter, choice, height, tx)"
                      " VALUES (?, ?, ?, ?, ?)", "kktuk", p->id, tx->sender, choice, x->height,
                      x->txid)) < 0 ||
        (r = tally(sql, p->id, c)) < 0 ||
        (r = sql_exec(sql, "UPDATE gov_proposals SET yes = ?, no = ?, abstain = ?,"
                      " updated_height = ? WHERE id = ?", "uuuuk", c[0], c[1], c[2], x->height,
                      p->id)) < 0 ||
        (r = journal_put(sql, p->id, "vote", "proposed", x->height, x->txid, false, NULL,
                         json_pack("{s:s,s:I,s:I,s:I}", "choice", choice, "yes",
                                   (json_int_t)c[0], "no", (json_int_t)c[1], "abstain",
                                   (json_int_t)c[2]), NULL)) < 0) {
        r = ledger_reject(sql, r, why);
        goto out;
    }
    r = vote_outcome(gv, sql, x, p, c, n, thr, why);
out:
    sql_release(sql, st);
    free(keys);
    free(p);
    return r;
}

static int tx_apply(gov_t *gv, sql_t *sql, const gov_ctx_t *x, const gov_payload_t *pl,
                    bool apply, reject_t *why)
{
    prop_t *p = malloc(sizeof(*p));
    int r;
    if (!p)
        return reject(why, -ENOMEM, "internal", "out of memory");
    if ((r = find_prop(sql, pl->id, p, why)) == 0) {
        if (strcmp(p->state, "approved") != 0)
            r = wrong_state(sql, p, "apply", why);
        else if (p->activation_height > x->height)
            r = reject(why, -EAGAIN, "not_due", "the proposal activates at height %" PRIu64
                       "; this block is %" PRIu64, p->activation_height, x->height);
        else if (apply)
            r = prop_apply(gv, sql, p, x->height, x->txid, why);
    }
    free(p);
    return r;
}

int gov_tx(gov_t *gv, sql_t *sql, const gov_ctx_t *x, const tx_t *tx, bool apply,
           reject_t *why)
{
    if (!gov_kind_is_gov(tx->kind))
        return 0;
    uint64_t t0 = clock_mono_ns();
    gov_payload_t *pl = malloc(sizeof(*pl));
    const char *what = NULL;
    int r;
    if (!pl)
        return reject(why, -ENOMEM, "internal", "out of memory");
    if (tx->fee != 0) {
        r = reject(why, -EINVAL, "fee_not_allowed", "governance transactions carry no fee "
                   "(this one: %" PRIu64 ")", tx->fee);
    } else if ((r = gov_payload_decode(pl, tx->kind, tx->payload, tx->payload_len, &what)) < 0) {
        if (r == -ENOTSUP && tx->kind == GOV_KIND_PROPOSE)
            r = reject(why, -EINVAL, "unknown_action", "unknown action kind");
        else if (tx->kind == GOV_KIND_ATTEST && what && strstr(what, "ascending"))
            r = reject(why, -EINVAL, "duplicate_signer",
                       "the attestation names a signer twice (or out of order)");
        else
            r = reject(why, -EBADMSG, "malformed", "malformed %s payload: bad %s",
                       gov_kind_name(tx->kind), what ? what : "bytes");
    } else if ((tx->kind == GOV_KIND_PROPOSE && pl->nonce > INT64_MAX) ||
               (tx->kind == GOV_KIND_ATTEST && pl->attestation.nonce > INT64_MAX)) {
        r = reject(why, -EINVAL, "bad_nonce", "a governance nonce is at most 2^63-1");
    } else if (tx->kind == GOV_KIND_PROPOSE) {
        r = tx_propose(gv, sql, x, tx, pl, apply, why);
    } else if (tx->kind == GOV_KIND_ATTEST) {
        r = tx_attest(gv, sql, x, pl, apply, why);
    } else if (tx->kind == GOV_KIND_VOTE) {
        r = tx_vote(gv, sql, x, tx, pl, apply, why);
    } else {
        r = tx_apply(gv, sql, x, pl, apply, why);
    }
    if (apply && r == 0)
        gv->dirty = true;
    if (gv->m) {
        char labels[128];
        metrics_observe(gv->m, "adnet_gov_verify_seconds",
                        "Time the governance verifier stage took per transaction.", NULL,
                        GOV_BUCKETS, GOV_NBUCKETS, (double)(clock_mono_ns() - t0) / 1e9);
        if (tx->kind == GOV_KIND_ATTEST) {
            char code[64];
            if (r < 0 && metrics_label_escape(why->code, code, sizeof(code)) < 0)
                snprintf(code, sizeof(code), "other");
            snprintf(labels, sizeof(labels), "result=\"%s\",reason=\"%s\",stage=\"%s\"",
                     r < 0 ? "refused" : "accepted", r < 0 ? code : "", apply ? "block"
                     : "admission");
            metrics_counter_add(gv->m, "adnet_gov_attestations_total",
                                "Governance attestations accepted and refused, by reason "
                                "and stage.", labels, 1);
        }
    }
    free(pl);
    return r;
}

/* ---- blocks ---- */

/* Ids of at most GOV_PER_BLOCK proposals a query returns. */
static int collect_ids(sql_t *sql, const char *q, uint64_t height, uint8_t (*ids)[GOV_ID_LEN],
                       size_t *n)
{
    sqlite3_stmt *st = NULL;
    int r = sql_query(sql, &st, q, "uu", height, (uint64_t)GOV_PER_BLOCK);
    *n = 0;
    while (r == 0 && (r = sql_step(sql, st)) == 1) {
        if (sql_column_hex(st, 0, ids[*n], GOV_ID_LEN) < 0)
            r = -EBADMSG;
        else
            (*n)++, r = 0;
    }
    sql_release(sql, st);
    return r < 0 ? r : 0;
}

int gov_begin_block(gov_t *gv, sql_t *sql, uint64_t height, char err[GOV_ERR_MAX])
{
    uint8_t ids[GOV_PER_BLOCK][GOV_ID_LEN];
    size_t n = 0;
    int r;
    prop_t *p = NULL;

    if ((r = collect_ids(sql, "SELECT id FROM gov_proposals WHERE state = 'proposed' AND"
                         " voting_end < ? ORDER BY voting_end LIMIT ?", height, ids, &n)) < 0)
        goto fail;
    gv->dirty |= n > 0;
    for (size_t i = 0; i < n; i++) {
        reject_t rj;
        reject(&rj, -ETIME, "expired", "the voting period ended without approval");
        if ((r = set_state(sql, ids[i], "expired", height, rj.message)) < 0 ||
            (r = journal_put(sql, ids[i], "expire", "expired", height, NULL, false, &rj, NULL,
                             NULL)) < 0)
            goto fail;
    }
    if ((r = collect_ids(sql, "SELECT id FROM gov_proposals WHERE state = 'approved' AND"
                         " activation_height <= ? ORDER BY activation_height, id LIMIT ?",
                         height, ids, &n)) < 0)
        goto fail;
    gv->dirty |= n > 0;
    if (n && !(p = malloc(sizeof(*p)))) {
        r = -ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        reject_t why = {0};
        if ((r = prop_load(sql, ids[i], p)) < 0 || (r = sql_exec(sql, "SAVEPOINT gov", NULL)) < 0)
            goto fail;
        sql_clear_fault(sql);
        int v = prop_apply(gv, sql, p, height, NULL, &why);
        if (v < 0 && (r = sql_fault(sql)) < 0)
            goto fail;
        if (v < 0) {
            if ((r = sql_exec(sql, "ROLLBACK TO gov", NULL)) < 0 ||
                (r = set_state(sql, p->id, "rejected", height, why.message)) < 0 ||
                (r = journal_put(sql, p->id, "apply", "rejected", height, NULL, false, &why,
                                 NULL, NULL)) < 0)
                goto fail;
        }
        if ((r = sql_exec(sql, "RELEASE gov", NULL)) < 0)
            goto fail;
    }
    free(p);
    return 0;
fail:
    free(p);
    snprintf(err, GOV_ERR_MAX, "governance at height %" PRIu64 ": %s", height,
             r == -ENOMEM ? "out of memory" : sql_errmsg(sql));
    return r;
}

void gov_committed(gov_t *gv, sql_t *sql)
{
    static const char *const states[] = {"proposed", "approved", "applied", "rejected",
                                         "expired"};
    /* Only after a block that changed a proposal: the counts read the
     * proposals of each state, which grow (slowly) with the chain. */
    if (!gv->m || !gv->dirty)
        return;
    gv->dirty = false;
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        uint64_t k = 0;
        char labels[48];
        /* The index on (state, proposed_height) counts without a scan of
         * the other states' rows. */
        if (sql_u64(sql, &k, "SELECT count(*) FROM gov_proposals WHERE state = ?", "t",
                    states[i]) < 0) {
            gv->dirty = true; /* try again after the next block */
            return;
        }
        snprintf(labels, sizeof(labels), "state=\"%s\"", states[i]);
        metrics_gauge_set(gv->m, "adnet_gov_proposals", "Governance proposals, by state.",
                          labels, (double)k);
    }
}

/* ---- this node's own journal rows ---- */

static int local_txn(sql_t *sql, int (*fn)(void *), void *ctx)
{
    int r;
    if ((r = sql_exec(sql, "BEGIN IMMEDIATE", NULL)) < 0)
        return r;
    if ((r = fn(ctx)) < 0 || (r = sql_exec(sql, "COMMIT", NULL)) < 0) {
        sql_exec_quiet(sql, "ROLLBACK");
        return r;
    }
    return 0;
}

typedef struct {
    sql_t *sql;
    const uint8_t *id;
    const char *step, *state;
    uint64_t height;
    const uint8_t *txid;
    const reject_t *why;
    const json_t *detail;
    char *receipt;
} local_row_t;

static int local_row(void *ctx)
{
    local_row_t *l = ctx;
    return journal_put(l->sql, l->id, l->step, l->state, l->height, l->txid, true, l->why,
                       l->detail ? json_deep_copy(l->detail) : NULL, l->receipt);
}

int gov_journal_refusal(gov_t *gv, sql_t *sql, uint64_t height, const tx_t *tx,
                        const uint8_t txid[TX_ID_LEN], const reject_t *why)
{
    uint8_t id[GOV_ID_LEN];
    uint64_t had = 0;
    prop_t *p;
    int r;
    (void)gv;
    if (!gov_kind_is_gov(tx->kind))
        return 0;
    if (tx->kind == GOV_KIND_PROPOSE) {
        /* The proposal a refused propose would have made. */
        wire_reader_t rd;
        const uint8_t *action;
        size_t n;
        uint64_t nonce;
        wire_reader_init(&rd, tx->payload, tx->payload_len);
        wire_get_u64(&rd, "nonce", &nonce);
        wire_get_var(&rd, "action", GOV_ACTION_MAX, &action, &n);
        if (wire_reader_finish(&rd) < 0)
            return 0;
        gov_proposal_id(gv->chain_id, nonce, action, n, id);
    } else {
        if (tx->payload_len < GOV_ID_LEN)
            return 0;
        memcpy(id, tx->payload, GOV_ID_LEN);
    }
    if ((r = sql_u64(sql, &had, "SELECT count(*) FROM gov_journal WHERE proposal = ? AND"
                     " step = 'refuse'", "k", id)) < 0)
        return r;
    if (had >= GOV_JOURNAL_REFUSALS_MAX)
        return 0;
    if (!(p = malloc(sizeof(*p))))
        return -ENOMEM;
    r = prop_load(sql, id, p);
    json_t *detail = json_pack("{s:s}", "kind", gov_kind_name(tx->kind));
    local_row_t l = {sql, id, "refuse", r == 1 ? p->state : "none", height, txid, why, detail,
                     NULL};
    r = r < 0 ? r : local_txn(sql, local_row, &l);
    json_decref(detail);
    free(p);
    return r;
}

int gov_journal_shadow(gov_t *gv, sql_t *sql, uint64_t height, const uint8_t id[GOV_ID_LEN],
                       const json_t *report, char receipt[2 * 32 + 1])
{
    prop_t *p = malloc(sizeof(*p));
    int r;
    (void)gv;
    if (!p)
        return -ENOMEM;
    r = prop_load(sql, id, p);
    local_row_t l = {sql, id, "shadow", r == 1 ? p->state : "none", height, NULL, NULL, report,
                     receipt};
    r = r < 0 ? r : local_txn(sql, local_row, &l);
    free(p);
    return r;
}

/* ---- shadow ---- */

static json_t *table_counts(sql_t *sql)
{
    static const char *const tables[] = {"registry", "programs", "gov_params", "gov_governors"};
    static const char *const q[] = {
        "SELECT count(*) FROM registry", "SELECT count(*) FROM programs",
        "SELECT count(*) FROM gov_params", "SELECT count(*) FROM gov_governors"};
    json_t *o = json_object();
    for (size_t i = 0; o && i < sizeof(tables) / sizeof(tables[0]); i++) {
        uint64_t n = 0;
        if (sql_u64(sql, &n, q[i], NULL) < 0) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, tables[i], json_integer((json_int_t)n));
    }
    return o;
}

static json_t *root_json(const gov_shadow_env_t *env)
{
    uint8_t root[32];
    char hex[HEX32];
    if (!env || !env->state_root || env->state_root(env->ctx, root) < 0)
        return json_null();
    hex32(hex, root);
    return json_string(hex);
}

static json_t *before_after(json_t *before, json_t *after)
{
    return json_pack("{s:o,s:o,s:b}", "before", before ? before : json_null(), "after",
                     after ? after : json_null(), "changed",
                     !json_equal(before ? before : json_null(), after ? after : json_null()));
}

/* What a shadow run compares before and after the apply. */
typedef struct {
    json_t *root, *supply, *tables;
} snapshot_t;

/* The state root, the supply and the row counts as they stand; 0, or
 * -EIO when the counts cannot be read. */
static int snapshot_take(sql_t *sql, const gov_shadow_env_t *env, snapshot_t *s)
{
    s->root = root_json(env);
    s->supply = env && env->supply ? env->supply(env->ctx) : NULL;
    s->tables = table_counts(sql);
    return s->tables ? 0 : -EIO;
}

static void snapshot_free(snapshot_t *s)
{
    json_decref(s->root);
    json_decref(s->supply);
    json_decref(s->tables);
}

/* The report of a run of a (ok when v == 0, else err) on p: see gov.h.
 * Takes no reference of its arguments. */
static json_t *shadow_report(const prop_t *p, const gov_action_t *a, uint64_t height, int v,
                             const reject_t *err, const snapshot_t *s0, const snapshot_t *s1,
                             json_t *changes, json_t *compat)
{
    char hex[HEX32], summary[200];
    json_t *tables = json_object(), *val;
    const char *k;
    hex32(hex, p->id);
    summary_of(a, summary, sizeof(summary));
    json_object_foreach(s0->tables, k, val)
        json_object_set_new(tables, k, before_after(json_incref(val),
                                                    json_incref(json_object_get(s1->tables, k))));
    json_t *rep = json_pack("{s:s,s:I,s:s,s:s,s:s,s:b,s:o,s:o,s:o,s:O}", "proposal", hex,
                            "height", (json_int_t)height, "action", gov_action_name(a->kind),
                            "summary", summary, "state", p->state, "ok", v == 0, "state_root",
                            before_after(json_incref(s0->root), json_incref(s1->root)),
                            "tables", tables, "supply",
                            before_after(json_incref(s0->supply), json_incref(s1->supply)),
                            "changes", changes);
    if (rep && v < 0) {
        json_array_clear(json_object_get(rep, "changes"));
        json_object_set_new(rep, "error", json_pack("{s:s,s:s}", "code", err->code, "message",
                                                    err->message));
    }
    if (rep && json_object_size(compat))
        json_object_set(rep, "compatibility", compat);
    return rep;
}

int gov_shadow(gov_t *gv, sql_t *sql, uint64_t height, const uint8_t id[GOV_ID_LEN],
               const gov_shadow_env_t *env, json_t **report, reject_t *why)
{
    prop_t *p = malloc(sizeof(*p));
    gov_action_t *a = malloc(sizeof(*a));
    json_t *changes = json_array(), *compat = json_object();
    snapshot_t s0 = {0}, s1 = {0};
    char hex[HEX32];
    reject_t err = {0};
    int r, v;

    if (!p || !a || !changes || !compat) {
        r = reject(why, -ENOMEM, "internal", "out of memory");
        goto out;
    }
    if ((r = find_prop(sql, id, p, why)) < 0)
        goto out;
    hex32(hex, id);
    if (strcmp(p->state, "proposed") != 0 && strcmp(p->state, "approved") != 0) {
        r = reject(why, -EALREADY, "final", "proposal %.16s... is %s: there is nothing left "
                   "to shadow", hex, p->state);
        goto out;
    }
    if ((r = decode_action(p, a, why)) < 0)
        goto out;
    if ((r = snapshot_take(sql, env, &s0)) < 0 ||
        (r = sql_exec(sql, "SAVEPOINT shadow", NULL)) < 0) {
        r = ledger_reject(sql, r, why);
        goto out;
    }
    sql_clear_fault(sql);
    v = action_apply(gv, sql, id, height, a, changes, compat, &err);
    r = v < 0 ? sql_fault(sql) : 0;
    if (r == 0)
        snapshot_take(sql, env, &s1);
    /* Nothing of the run stays: the savepoint is undone here and the
     * caller rolls its transaction back as well. */
    sql_exec_quiet(sql, "ROLLBACK TO shadow");
    sql_exec_quiet(sql, "RELEASE shadow");
    if (r < 0) {
        r = ledger_reject(sql, r, why);
        goto out;
    }
    if (!(*report = shadow_report(p, a, height, v, &err, &s0, &s1, changes, compat)))
        r = reject(why, -ENOMEM, "internal", "out of memory");
out:
    snapshot_free(&s0);
    snapshot_free(&s1);
    json_decref(changes);
    json_decref(compat);
    free(p);
    free(a);
    return r;
}

/* ---- opening: genesis governance ---- */

/* The genesis programs (or the built-ins) parsed; calls fn for each. */
static int genesis_programs(gov_t *gv, const genesis_t *g,
                            int (*fn)(void *ctx, const char *policy, const gov_program_t *p,
                                      const uint8_t *bytes, size_t len),
                            void *ctx, char err[GOV_ERR_MAX])
{
    size_t n = g->n_programs ? g->n_programs : gov_n_builtins;
    static _Thread_local uint8_t bytes[GOV_PROGRAM_MAX];
    char names[GENESIS_MAX_PROGRAMS][GOV_NAME_MAX + 1];
    if (n > GENESIS_MAX_PROGRAMS) {
        snprintf(err, GOV_ERR_MAX, "more than %d genesis programs", GENESIS_MAX_PROGRAMS);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *text = g->n_programs ? g->programs[i].json : gov_builtins[i].json;
        const char *policy = g->n_programs ? g->programs[i].policy
                                           : gov_policy_name(gov_builtins[i].policy);
        char perr[GOV_PROGRAM_ERR_MAX];
        uint8_t pol;
        size_t len = 0;
        int r;
        if (gov_policy_parse(policy, &pol) < 0) {
            snprintf(err, GOV_ERR_MAX, "genesis programs[%zu]: policy \"%s\"; expected "
                     "immutable, additive or compatible", i, policy);
            return -EINVAL;
        }
        if ((r = gov_program_from_text(text, strlen(text), gv->next, gv->code, perr,
                                       sizeof(perr))) < 0 ||
            (r = gov_program_encode(gv->next, bytes, sizeof(bytes), &len)) < 0) {
            snprintf(err, GOV_ERR_MAX, "genesis programs[%zu] does not load: %s", i,
                     r == -EINVAL && perr[0] ? perr : "it does not encode within the limits");
            return -EINVAL;
        }
        /* A repeated name would register one program twice. */
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[j], gv->next->name) == 0) {
                snprintf(err, GOV_ERR_MAX, "genesis programs[%zu]: %s is listed twice", i,
                         gv->next->name);
                return -EINVAL;
            }
        snprintf(names[i], sizeof(names[i]), "%s", gv->next->name);
        if (fn && (r = fn(ctx, gov_policy_name(pol), gv->next, bytes, len)) < 0)
            return r;
    }
    return 0;
}

typedef struct {
    gov_t *gv;
    sql_t *sql;
} init_ctx_t;

static int init_program(void *ctx, const char *policy, const gov_program_t *p,
                        const uint8_t *bytes, size_t len)
{
    init_ctx_t *c = ctx;
    uint8_t ck[32], pid[32];
    json_t *manifest = gov_program_to_json(p);
    char *mtext = manifest ? json_dumps(manifest, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    int r;
    json_decref(manifest);
    if (!mtext)
        return -ENOMEM;
    gov_program_checksum(bytes, len, ck);
    gov_program_id(c->gv->chain_id, p->name, pid);
    r = sql_exec(c->sql,
                 "INSERT INTO programs (program_id, edition, name, checksum, bytes, manifest,"
                 " height) VALUES (?, 0, ?, ?, ?, ?, 0)",
                 "ktkbt", pid, p->name, ck, bytes, len, mtext);
    free(mtext);
    if (r == 0)
        r = sql_exec(c->sql,
                     "INSERT INTO registry (name, program_id, edition, checksum, policy,"
                     " updated_height, proposal) VALUES (?, ?, 0, ?, ?, 0, NULL)",
                     "tkkt", p->name, pid, ck, policy);
    return r;
}

static int genesis_write(gov_t *gv, sql_t *sql, const genesis_t *g, char err[GOV_ERR_MAX])
{
    init_ctx_t c = {gv, sql};
    int r;
    if ((r = sql_exec(sql, "BEGIN IMMEDIATE", NULL)) < 0)
        goto fail;
    for (size_t i = 0; i < g->n_governors; i++)
        if ((r = sql_exec(sql, "INSERT INTO gov_governors (position, public_key, since_height)"
                          " VALUES (?, ?, 0)", "uk", (uint64_t)i, g->governors[i])) < 0)
            goto fail;
    if ((r = param_set(sql, PARAM_THRESHOLD,
                       g->gov_threshold_bps ? g->gov_threshold_bps : GOV_THRESHOLD_BPS_DEFAULT,
                       0)) < 0 ||
        (r = param_set(sql, PARAM_VOTING,
                       g->gov_voting_period ? g->gov_voting_period
                                            : GENESIS_VOTING_PERIOD_DEFAULT, 0)) < 0)
        goto fail;
    if ((r = genesis_programs(gv, g, init_program, &c, err)) < 0) {
        sql_exec_quiet(sql, "ROLLBACK");
        return r == -EINVAL ? r : (snprintf(err, GOV_ERR_MAX, "ledger: %s", sql_errmsg(sql)), r);
    }
    if ((r = sql_exec(sql, "COMMIT", NULL)) < 0)
        goto fail;
    return 0;
fail:
    snprintf(err, GOV_ERR_MAX, "writing the genesis governance: %s", sql_errmsg(sql));
    sql_exec_quiet(sql, "ROLLBACK");
    return r;
}

int gov_open(gov_t **out, sql_t *sql, const genesis_t *g, char err[GOV_ERR_MAX])
{
    gov_t *gv = calloc(1, sizeof(*gv));
    uint64_t have = 0;
    int r;
    if (!gv || !(gv->old = malloc(sizeof(*gv->old))) || !(gv->next = malloc(sizeof(*gv->next)))) {
        gov_close(gv);
        snprintf(err, GOV_ERR_MAX, "out of memory");
        return -ENOMEM;
    }
    snprintf(gv->chain_id, sizeof(gv->chain_id), "%s", g->chain_id);
    if (g->n_governors == 0) {
        snprintf(err, GOV_ERR_MAX, "genesis lists no governors: nothing governed could ever "
                 "be approved");
        r = -EINVAL;
        goto fail;
    }
    if (g->n_governors > GOV_MAX_GOVERNORS) {
        snprintf(err, GOV_ERR_MAX, "genesis lists %zu governors; at most %d", g->n_governors,
                 GOV_MAX_GOVERNORS);
        r = -EINVAL;
        goto fail;
    }
    /* Every start loads the genesis programs, so a genesis whose programs
     * do not load stops the node here, before anything is written. */
    if ((r = genesis_programs(gv, g, NULL, NULL, err)) < 0)
        goto fail;
    if ((r = sql_u64(sql, &have, "SELECT count(*) FROM gov_params", NULL)) < 0) {
        snprintf(err, GOV_ERR_MAX, "ledger: %s", sql_errmsg(sql));
        goto fail;
    }
    if (have == 0 && (r = genesis_write(gv, sql, g, err)) < 0)
        goto fail;
    *out = gv;
    return 0;
fail:
    gov_close(gv);
    return r;
}

void gov_close(gov_t *gv)
{
    if (!gv)
        return;
    free(gv->old);
    free(gv->next);
    free(gv);
}

void gov_set_metrics(gov_t *gv, metrics_t *m)
{
    gv->m = m;
    gv->dirty = true;
}
