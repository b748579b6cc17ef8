/* The governance verifier stage (common/node/gov/gov.c) on a real ledger
 * with the governance tables: the threshold arithmetic, every refusal of
 * the list with its reason code (and no change), the lifecycle
 * (propose, attest or vote, apply at once or at an activation height,
 * expiry), editions and upgrade policies, stale bases, parameter changes
 * and governor rotation, shadow runs that leave the ledger as it was,
 * the journal's receipts, and a genesis whose programs do not load. */
#include <check.h>
#include <errno.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/hex.h"
#include "common/node/gov/gov.h"
#include "common/node/gov/program.h"
#include "common/store/ledger.h"
#include "tests/lib/db.h"
#include "tests/lib/gen.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

#define CHAIN_ID "adnet-test-delta"
#define NGOV_MAX 8

static const ledger_migration_t MIGRATIONS[] = {{1, LEDGER_SQL_BASE_V1}, {2, GOVTAB_SQL_V1}};
static const ledger_schema_t SCHEMA = {MIGRATIONS, 2};

static const char HELLO[] =
    "{\"name\":\"hello\",\"interface\":{\"functions\":{\"greet\":{\"inputs\":[\"u64\"],"
    "\"outputs\":[\"u64\"]}},\"records\":{}},\"code\":\"00\"}";
/* hello with one more function (fine under additive and compatible). */
static const char HELLO_MORE[] =
    "{\"name\":\"hello\",\"interface\":{\"functions\":{\"greet\":{\"inputs\":[\"u64\"],"
    "\"outputs\":[\"u64\"]},\"wave\":{\"inputs\":[],\"outputs\":[\"bool\"]}}},\"code\":\"0102\"}";
/* hello with greet changed (fine under compatible only). */
static const char HELLO_CHANGED[] =
    "{\"name\":\"hello\",\"interface\":{\"functions\":{\"greet\":{\"inputs\":[\"u128\"],"
    "\"outputs\":[\"u64\"]}}},\"code\":\"00\"}";
/* hello without greet (breaks every policy). */
static const char HELLO_LESS[] =
    "{\"name\":\"hello\",\"interface\":{\"functions\":{}},\"code\":\"00\"}";

typedef struct {
    tmp_ledger_t p;
    ledger_t *l;
    sql_t *q;
    genesis_t *g;
    gov_t *gv;
    size_t ngov;
    uint8_t pk[NGOV_MAX][32], sk[NGOV_MAX][64];
    uint8_t outsider_pk[32], outsider_sk[64];
    uint8_t validator[32];
    uint64_t height;     /* the block the next step goes into */
} env_t;

static void env_open(env_t *e, size_t ngov, uint64_t voting_period)
{
    char err[LEDGER_ERR_MAX], gerr[GOV_ERR_MAX];
    memset(e, 0, sizeof(*e));
    ck_assert_int_ge(sodium_init(), 0);
    tmp_ledger_init(&e->p, "gov");
    ck_assert_msg(ledger_open(&e->l, e->p.db, &SCHEMA, err) == 0, "%s", err);
    e->q = ledger_sql(e->l);
    e->g = gen_new("delta", CHAIN_ID);
    gen_key(e->validator, 0x40);
    gen_add_validator(e->g, "v", e->validator, 10);
    e->ngov = ngov;
    for (size_t i = 0; i < ngov; i++) {
        crypto_sign_keypair(e->pk[i], e->sk[i]);
        gen_add_governor(e->g, e->pk[i]);
    }
    crypto_sign_keypair(e->outsider_pk, e->outsider_sk);
    if (voting_period)
        e->g->gov_voting_period = voting_period;
    ck_assert_msg(gov_open(&e->gv, e->q, e->g, gerr) == 0, "%s", gerr);
    e->height = 1;
}

static void env_close(env_t *e)
{
    gov_close(e->gv);
    ledger_close(e->l);
    free(e->g);
    tmp_ledger_cleanup(&e->p);
}

static int count(env_t *e, const char *sql)
{
    return db_int(ledger_db(e->l), sql);
}

/* Start the block at e->height: the chain's own governance steps. */
static void begin_block(env_t *e)
{
    char err[GOV_ERR_MAX];
    ck_assert_int_eq(sql_exec(e->q, "BEGIN", NULL), 0);
    ck_assert_msg(gov_begin_block(e->gv, e->q, e->height, err) == 0, "%s", err);
    ck_assert_int_eq(sql_exec(e->q, "COMMIT", NULL), 0);
}

/* One governance transaction in the block at e->height, checked (as at
 * admission) and then applied; a refusal at either leaves no change. */
static int step(env_t *e, uint16_t kind, const gov_payload_t *pl, const uint8_t sender[32],
                uint64_t fee, reject_t *why)
{
    static uint8_t buf[TX_PAYLOAD_MAX];
    size_t len = 0;
    uint8_t txid[32];
    tx_t tx;
    memset(&tx, 0, sizeof(tx));
    ck_assert_int_eq(gov_payload_encode(pl, buf, sizeof(buf), &len), 0);
    snprintf(tx.chain_id, sizeof(tx.chain_id), "%s", CHAIN_ID);
    tx.kind = kind;
    memcpy(tx.sender, sender, 32);
    tx.fee = fee;
    tx.expiry_height = e->height + 10;
    tx.payload = buf;
    tx.payload_len = len;
    randombytes_buf(txid, sizeof(txid));
    gov_ctx_t x = {.height = e->height, .txid = txid, .genesis = e->g};
    memset(why, 0, sizeof(*why));
    ck_assert_int_eq(sql_exec(e->q, "BEGIN", NULL), 0);
    int r = gov_tx(e->gv, e->q, &x, &tx, false, why);
    ck_assert_int_eq(sql_exec(e->q, "ROLLBACK", NULL), 0);
    if (r < 0)
        return r;
    ck_assert_int_eq(sql_exec(e->q, "BEGIN", NULL), 0);
    r = gov_tx(e->gv, e->q, &x, &tx, true, why);
    ck_assert_int_eq(sql_exec(e->q, r == 0 ? "COMMIT" : "ROLLBACK", NULL), 0);
    return r;
}

/* The current base of a deploy of name (zeros when not registered). */
static void deploy_base(env_t *e, const char *name, uint8_t base[32], uint64_t *edition)
{
    int rc = 0;
    char err[256];
    json_t *o = gov_registry_json(e->q, name, false, &rc, err, sizeof(err));
    memset(base, 0, 32);
    *edition = 0;
    if (!o) {
        ck_assert_int_eq(rc, -ENOENT);
        return;
    }
    ck_assert_int_eq(hex_decode(base, 32, json_string_value(json_object_get(o, "base"))), 0);
    *edition = (uint64_t)json_integer_value(json_object_get(o, "edition")) + 1;
    json_decref(o);
}

/* Encode a deploy of the program file text into abuf. */
static size_t deploy_action(env_t *e, const char *text, uint8_t policy, int64_t edition,
                            uint8_t *abuf, size_t cap)
{
    static gov_program_t p;
    static uint8_t code[GOV_CODE_MAX], prog[GOV_PROGRAM_MAX];
    char err[GOV_PROGRAM_ERR_MAX];
    size_t plen = 0, alen = 0;
    uint64_t next;
    gov_action_t a;
    memset(&a, 0, sizeof(a));
    ck_assert_msg(gov_program_from_text(text, strlen(text), &p, code, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_int_eq(gov_program_encode(&p, prog, sizeof(prog), &plen), 0);
    a.kind = GOV_ACTION_DEPLOY;
    deploy_base(e, p.name, a.base, &next);
    snprintf(a.u.deploy.name, sizeof(a.u.deploy.name), "%s", p.name);
    a.u.deploy.edition = edition < 0 ? next : (uint64_t)edition;
    a.u.deploy.policy = policy;
    a.u.deploy.program = prog;
    a.u.deploy.program_len = plen;
    ck_assert_int_eq(gov_action_encode(&a, abuf, cap, &alen), 0);
    return alen;
}

typedef struct {
    uint8_t id[GOV_ID_LEN];
    uint8_t action[GOV_ACTION_MAX];
    size_t action_len;
    uint64_t nonce;
} prop_t;

static int propose(env_t *e, prop_t *p, const uint8_t *action, size_t len, reject_t *why)
{
    gov_payload_t pl;
    memset(&pl, 0, sizeof(pl));
    memcpy(p->action, action, len);
    p->action_len = len;
    randombytes_buf(&p->nonce, sizeof(p->nonce));
    p->nonce >>= 2; /* within 2^63 */
    pl.kind = GOV_KIND_PROPOSE;
    pl.nonce = p->nonce;
    pl.action = p->action;
    pl.action_len = len;
    gov_proposal_id(CHAIN_ID, p->nonce, action, len, p->id);
    return step(e, GOV_KIND_PROPOSE, &pl, e->validator, 0, why);
}

static void propose_ok(env_t *e, prop_t *p, const uint8_t *action, size_t len)
{
    reject_t why;
    ck_assert_msg(propose(e, p, action, len, &why) == 0, "%s: %s", why.code, why.message);
}

/* An attestation of p by the governors in who (indices; -1 ends), over
 * chain_id, with nonce and expiry. */
static void attestation(env_t *e, const prop_t *p, const int *who, const char *chain_id,
                        uint64_t nonce, uint64_t expiry, gov_attestation_t *a)
{
    memset(a, 0, sizeof(*a));
    a->nonce = nonce;
    a->expiry_height = expiry;
    for (; *who >= 0; who++) {
        const uint8_t *pk = *who == 99 ? e->outsider_pk : e->pk[*who];
        const uint8_t *sk = *who == 99 ? e->outsider_sk : e->sk[*who];
        gov_attest_sign(chain_id, p->action, p->action_len, nonce, expiry, pk, sk,
                        &a->sigs[a->n++]);
    }
    gov_attestation_sort(a);
}

static int attest_with(env_t *e, const prop_t *p, const gov_attestation_t *a, reject_t *why)
{
    static gov_payload_t pl;
    memset(&pl, 0, sizeof(pl));
    pl.kind = GOV_KIND_ATTEST;
    memcpy(pl.id, p->id, GOV_ID_LEN);
    pl.attestation = *a;
    return step(e, GOV_KIND_ATTEST, &pl, e->validator, 0, why);
}

static int attest(env_t *e, const prop_t *p, const int *who, reject_t *why)
{
    static gov_attestation_t a;
    uint64_t nonce;
    randombytes_buf(&nonce, sizeof(nonce));
    attestation(e, p, who, CHAIN_ID, nonce >> 2, e->height + 100, &a);
    return attest_with(e, p, &a, why);
}

static int vote(env_t *e, const prop_t *p, int who, uint8_t choice, reject_t *why)
{
    gov_payload_t pl;
    memset(&pl, 0, sizeof(pl));
    pl.kind = GOV_KIND_VOTE;
    memcpy(pl.id, p->id, GOV_ID_LEN);
    pl.choice = choice;
    return step(e, GOV_KIND_VOTE, &pl, who == 99 ? e->outsider_pk : e->pk[who], 0, why);
}

static int apply_tx(env_t *e, const prop_t *p, reject_t *why)
{
    gov_payload_t pl;
    memset(&pl, 0, sizeof(pl));
    pl.kind = GOV_KIND_APPLY;
    memcpy(pl.id, p->id, GOV_ID_LEN);
    return step(e, GOV_KIND_APPLY, &pl, e->validator, 0, why);
}

static void state_is(env_t *e, const prop_t *p, const char *state)
{
    char hex[65], sql[200], got[32];
    hex_encode(hex, p->id, 32);
    snprintf(sql, sizeof(sql), "SELECT state FROM gov_proposals WHERE id = '%s'", hex);
    db_text(ledger_db(e->l), sql, got, sizeof(got));
    ck_assert_str_eq(got, state);
}

static int edition_of(env_t *e, const char *name)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT coalesce(max(edition), -1) FROM registry WHERE name = '%s'",
             name);
    return count(e, sql);
}

/* A digest of every governance table's rows, to show that nothing moved. */
static void tables_digest(env_t *e, char out[512])
{
    db_text(ledger_db(e->l),
            "SELECT (SELECT count(*) || ':' || coalesce(sum(length(bytes)), 0) FROM programs)"
            " || '/' || (SELECT group_concat(name || edition || checksum) FROM registry)"
            " || '/' || (SELECT group_concat(key || value) FROM gov_params)"
            " || '/' || (SELECT group_concat(public_key) FROM gov_governors)"
            " || '/' || (SELECT count(*) || group_concat(state) FROM gov_proposals)"
            " || '/' || (SELECT count(*) FROM gov_votes) || '/' || (SELECT count(*) FROM"
            " gov_nonces) || '/' || (SELECT count(*) FROM gov_journal WHERE origin = 'block')",
            out, 512);
}

static const int G1[] = {0, -1}, G12[] = {0, 1, -1}, G123[] = {0, 1, 2, -1},
                 G1234[] = {0, 1, 2, 3, -1};

START_TEST(test_genesis_registers_builtins)
{
    env_t e;
    env_open(&e, 3, 0);
    ck_assert_int_eq(count(&e, "SELECT count(*) FROM registry WHERE edition = 0 AND"
                               " proposal IS NULL"), 3);
    ck_assert_int_eq(count(&e, "SELECT count(*) FROM registry WHERE name IN ('credits',"
                               " 'registry', 'governance')"), 3);
    ck_assert_int_eq(count(&e, "SELECT count(*) FROM gov_governors"), 3);
    ck_assert_int_eq(count(&e, "SELECT value FROM gov_params WHERE key = 'threshold_bps'"), 6700);
    /* A second open of the same ledger writes nothing again. */
    gov_t *again = NULL;
    char err[GOV_ERR_MAX];
    ck_assert_msg(gov_open(&again, e.q, e.g, err) == 0, "%s", err);
    gov_close(again);
    ck_assert_int_eq(count(&e, "SELECT count(*) FROM programs"), 3);
    /* Each registered checksum is the BLAKE2b-256 of the stored bytes. */
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(ledger_db(e.l), "SELECT p.bytes, r.checksum FROM"
                                        " registry r JOIN programs p USING (program_id)", -1,
                                        &st, NULL), SQLITE_OK);
    int rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        uint8_t ck[32];
        char hex[65];
        gov_program_checksum(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
                             ck);
        hex_encode(hex, ck, 32);
        ck_assert_str_eq(hex, (const char *)sqlite3_column_text(st, 1));
        rows++;
    }
    sqlite3_finalize(st);
    ck_assert_int_eq(rows, 3);
    env_close(&e);
}
END_TEST

START_TEST(test_genesis_program_that_does_not_load)
{
    tmp_ledger_t p;
    ledger_t *l = NULL;
    gov_t *gv = NULL;
    char err[LEDGER_ERR_MAX], gerr[GOV_ERR_MAX];
    uint8_t k[32];
    tmp_ledger_init(&p, "gov-bad");
    ck_assert_msg(ledger_open(&l, p.db, &SCHEMA, err) == 0, "%s", err);
    genesis_t *g = gen_new("delta", CHAIN_ID);
    gen_add_governor(g, gen_key(k, 1));
    g->n_programs = 1;
    snprintf(g->programs[0].policy, sizeof(g->programs[0].policy), "additive");
    snprintf(g->programs[0].json, sizeof(g->programs[0].json),
             "{\"name\":\"credits\",\"interface\":{\"functions\":{\"transfer\":"
             "{\"inputs\":[\"u65\"],\"outputs\":[]}}},\"code\":\"\"}");
    ck_assert_int_eq(gov_open(&gv, ledger_sql(l), g, gerr), -EINVAL);
    ck_assert_msg(strstr(gerr, "programs[0]") && strstr(gerr, "u65"), "%s", gerr);
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT count(*) FROM registry"), 0);
    /* A bad policy name, and no governors at all, are refused too. */
    snprintf(g->programs[0].json, sizeof(g->programs[0].json), "%s", HELLO);
    snprintf(g->programs[0].policy, sizeof(g->programs[0].policy), "forever");
    ck_assert_int_eq(gov_open(&gv, ledger_sql(l), g, gerr), -EINVAL);
    ck_assert_msg(strstr(gerr, "forever"), "%s", gerr);
    g->n_governors = 0;
    snprintf(g->programs[0].policy, sizeof(g->programs[0].policy), "additive");
    ck_assert_int_eq(gov_open(&gv, ledger_sql(l), g, gerr), -EINVAL);
    ck_assert_msg(strstr(gerr, "no governors"), "%s", gerr);
    free(g);
    ledger_close(l);
    tmp_ledger_cleanup(&p);
}
END_TEST

/* 2 of 3 is not enough at 6700 bps, 3 of 3 is; the deploy is applied in
 * the approving block and resolves to (program id, edition 0, checksum). */
START_TEST(test_threshold_three)
{
    env_t e;
    prop_t p;
    reject_t why;
    uint8_t action[GOV_ACTION_MAX];
    env_open(&e, 3, 0);
    size_t n = deploy_action(&e, HELLO, GOV_POLICY_ADDITIVE, -1, action, sizeof(action));
    propose_ok(&e, &p, action, n);
    state_is(&e, &p, "proposed");
    ck_assert_int_eq(attest(&e, &p, G1, &why), -EPERM);
    ck_assert_str_eq(why.code, "too_few_signatures");
    ck_assert_int_eq(attest(&e, &p, G12, &why), -EPERM);
    ck_assert_str_eq(why.code, "too_few_signatures");
    ck_assert_msg(strstr(why.message, "2 of 3"), "%s", why.message);
    ck_assert_int_eq(edition_of(&e, "hello"), -1);
    ck_assert_msg(attest(&e, &p, G123, &why) == 0, "%s", why.message);
    state_is(&e, &p, "applied");
    ck_assert_int_eq(edition_of(&e, "hello"), 0);

    int rc = 0;
    char err[256], pid[65];
    uint8_t want[32];
    json_t *o = gov_registry_json(e.q, "hello", true, &rc, err, sizeof(err));
    ck_assert_ptr_nonnull(o);
    gov_program_id(CHAIN_ID, "hello", want);
    hex_encode(pid, want, 32);
    ck_assert_str_eq(json_string_value(json_object_get(o, "program_id")), pid);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "edition")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(o, "policy")), "additive");
    ck_assert_ptr_nonnull(json_object_get(json_object_get(o, "program"), "interface"));
    json_decref(o);
    /* Journal: propose, approve, apply; each with a receipt. */
    ck_assert_int_eq(count(&e, "SELECT count(*) FROM gov_journal WHERE origin = 'block' AND"
                               " length(receipt) = 64"), 3);
    ck_assert_int_eq(count(&e, "SELECT count(*) FROM gov_journal WHERE step = 'apply' AND"
                               " state = 'applied'"), 1);
    env_close(&e);
}
END_TEST

START_TEST(test_threshold_five)
{
    env_t e;
    prop_t p;
    reject_t why;
    uint8_t action[GOV_ACTION_MAX];
    env_open(&e, 5, 0);
    size_t n = deploy_action(&e, HELLO, GOV_POLICY_ADDITIVE, -1, action, sizeof(action));
    propose_ok(&e, &p, action, n);
    ck_assert_int_eq(attest(&e, &p, G123, &why), -EPERM); /* 3 of 5 < 67% */
    ck_assert_msg(attest(&e, &p, G1234, &why) == 0, "%s", why.message); /* 4 of 5 */
    state_is(&e, &p, "applied");
    env_close(&e);
}
END_TEST

START_TEST(test_attestation_refusals)
{
    env_t e;
    prop_t p, q;
    reject_t why;
    static gov_attestation_t a;
    char before[512], after[512];
    uint8_t action[GOV_ACTION_MAX];
    const int with_outsider[] = {0, 1, 99, -1};
    env_open(&e, 3, 0);
    size_t n = deploy_action(&e, HELLO, GOV_POLICY_ADDITIVE, -1, action, sizeof(action));
    propose_ok(&e, &p, action, n);
    tables_digest(&e, before);

    /* A signer that is not a governor. */
    ck_assert_int_eq(attest(&e, &p, with_outsider, &why), -EPERM);
    ck_assert_str_eq(why.code, "not_governor");
    /* Signed for another chain. */
    attestation(&e, &p, G123, "adnet-test-alpha", 7, e.height + 10, &a);
    ck_assert_int_eq(attest_with(&e, &p, &a, &why), -EBADMSG);
    ck_assert_str_eq(why.code, "bad_signature");
    /* One byte of one signature changed: forged. */
    attestation(&e, &p, G123, CHAIN_ID, 7, e.height + 10, &a);
    a.sigs[1].sig[5] ^= 1;
    ck_assert_int_eq(attest_with(&e, &p, &a, &why), -EBADMSG);
    ck_assert_str_eq(why.code, "bad_signature");
    /* Signed over another action. */
    q = p;
    q.action[q.action_len - 1] ^= 1;
    attestation(&e, &q, G123, CHAIN_ID, 7, e.height + 10, &a);
    ck_assert_int_eq(attest_with(&e, &p, &a, &why), -EBADMSG);
    ck_assert_str_eq(why.code, "bad_signature");
    /* Expired before this block. */
    attestation(&e, &p, G123, CHAIN_ID, 7, e.height - 1, &a);
    ck_assert_int_eq(attest_with(&e, &p, &a, &why), -ETIME);
    ck_assert_str_eq(why.code, "attestation_expired");
    /* A duplicated signer: the payload names one governor twice. */
    attestation(&e, &p, G12, CHAIN_ID, 7, e.height + 10, &a);
    a.sigs[2] = a.sigs[1];
    a.n = 3;
    {
        uint8_t buf[TX_PAYLOAD_MAX], att[GOV_ATTEST_MAX];
        size_t alen = 0;
        /* The encoder refuses it, so build the bytes by hand: id, then the
         * attestation with the repeated signer. */
        gov_attestation_t ok = a;
        ok.n = 2;
        ck_assert_int_eq(gov_attestation_encode(&a, att, sizeof(att), &alen), -EINVAL);
        ck_assert_int_eq(gov_attestation_encode(&ok, att, sizeof(att), &alen), 0);
        memcpy(buf, p.id, 32);
        memcpy(buf + 32, att, alen);
        buf[32 + 17] = 3; /* n: u64 nonce, u64 expiry, then u16 n (low byte) */
        memcpy(buf + 32 + alen, &a.sigs[1], sizeof(gov_sig_t));
        tx_t tx;
        uint8_t txid[32] = {1};
        memset(&tx, 0, sizeof(tx));
        snprintf(tx.chain_id, sizeof(tx.chain_id), "%s", CHAIN_ID);
        tx.kind = GOV_KIND_ATTEST;
        tx.payload = buf;
        tx.payload_len = 32 + alen + sizeof(gov_sig_t);
        gov_ctx_t x = {.height = e.height, .txid = txid, .genesis = e.g};
        ck_assert_int_eq(sql_exec(e.q, "BEGIN", NULL), 0);
        ck_assert_int_lt(gov_tx(e.gv, e.q, &x, &tx, true, &why), 0);
        ck_assert_int_eq(sql_exec(e.q, "ROLLBACK", NULL), 0);
        ck_assert_str_eq(why.code, "duplicate_signer");
    }
    /* A fee on a governance transaction. */
    {
        gov_payload_t pl;
        memset(&pl, 0, sizeof(pl));
        pl.kind = GOV_KIND_APPLY;
        memcpy(pl.id, p.id, 32);
        ck_assert_int_lt(step(&e, GOV_KIND_APPLY, &pl, e.validator, 5, &why), 0);
        ck_assert_str_eq(why.code, "fee_not_allowed");
    }
    /* An unknown proposal. */
    q = p;
    q.id[0] ^= 1;
    ck_assert_int_eq(attest(&e, &q, G123, &why), -ENOENT);
    ck_assert_str_eq(why.code, "unknown_proposal");
    tables_digest(&e, after);
    ck_assert_str_eq(before, after); /* nothing refused changed anything */

    /* A nonce is used once: the same nonce on another proposal is refused. */
    attestation(&e, &p, G123, CHAIN_ID, 4242, e.height + 10, &a);
    ck_assert_msg(attest_with(&e, &p, &a, &why) == 0, "%s", why.message);
    n = deploy_action(&e, HELLO_MORE, GOV_POLICY_ADDITIVE, -1, action, sizeof(action));
    propose_ok(&e, &q, action, n);
    attestation(&e, &q, G123, CHAIN_ID, 4242, e.height + 10, &a);
    ck_assert_int_eq(attest_with(&e, &q, &a, &why), -EEXIST);
    ck_assert_str_eq(why.code, "nonce_used");
    env_close(&e);
}
END_TEST

START_TEST(test_editions_and_policies)
{
    env_t e;
    prop_t p;
    reject_t why;
    uint8_t action[GOV_ACTION_MAX];
    size_t n;
    env_open(&e, 1, 0);
    n = deploy_action(&e, HELLO, GOV_POLICY_ADDITIVE, 1, action, sizeof(action));
    ck_assert_int_lt(propose(&e, &p, action, n, &why), 0);
    ck_assert_str_eq(why.code, "edition_skip"); /* a new name starts at 0 */
    n = deploy_action(&e, HELLO, GOV_POLICY_ADDITIVE, -1, action, sizeof(action));
    propose_ok(&e, &p, action, n);
    ck_assert_int_eq(attest(&e, &p, G1, &why), 0); /* 1 of 1 */
    ck_assert_int_eq(edition_of(&e, "hello"), 0);

    n = deploy_action(&e, HELLO_MORE, GOV_POLICY_ADDITIVE, 0, action, sizeof(action));
    ck_assert_int_lt(propose(&e, &p, action, n, &why), 0);
    ck_assert_str_eq(why.code, "edition_down");
    n = deploy_action(&e, HELLO_MORE, GOV_POLICY_ADDITIVE, 2, action, sizeof(action));
    ck_assert_int_lt(propose(&e, &p, action, n, &why), 0);
    ck_assert_str_eq(why.code, "edition_skip");
    n = deploy_action(&e, HELLO_MORE, GOV_POLICY_COMPATIBLE, -1, action, sizeof(action));
    ck_assert_int_lt(propose(&e, &p, action, n, &why), 0);
    ck_assert_str_eq(why.code, "policy_fixed");
    n = deploy_action(&e, HELLO_LESS, GOV_POLICY_ADDITIVE, -1, action, sizeof(action));
    ck_assert_int_lt(propose(&e, &p, action, n, &why), 0);
    ck_assert_str_eq(why.code, "policy_break");
    n = deploy_action(&e, HELLO_CHANGED, GOV_POLICY_ADDITIVE, -1, action, sizeof(action));
    ck_assert_int_lt(propose(&e, &p, action, n, &why), 0);
    ck_assert_str_eq(why.code, "policy_break"); /* additive keeps greet as it is */
    n = deploy_action(&e, HELLO_MORE, GOV_POLICY_ADDITIVE, -1, action, sizeof(action));
    propose_ok(&e, &p, action, n);
    ck_assert_int_eq(attest(&e, &p, G1, &why), 0);
    ck_assert_int_eq(edition_of(&e, "hello"), 1);
    ck_assert_int_eq(count(&e, "SELECT count(*) FROM programs WHERE name = 'hello'"), 2);

    /* The built-in governance program is additive: removing from it is
     * refused; credits is compatible. An immutable one takes nothing. */
    static const char IMM[] = "{\"name\":\"stone\",\"interface\":{\"functions\":{}},"
                              "\"code\":\"aa\"}";
    static const char IMM2[] = "{\"name\":\"stone\",\"interface\":{\"functions\":{}},"
                               "\"code\":\"bb\"}";
    n = deploy_action(&e, IMM, GOV_POLICY_IMMUTABLE, -1, action, sizeof(action));
    propose_ok(&e, &p, action, n);
    ck_assert_int_eq(attest(&e, &p, G1, &why), 0);
    n = deploy_action(&e, IMM2, GOV_POLICY_IMMUTABLE, -1, action, sizeof(action));
    ck_assert_int_lt(propose(&e, &p, action, n, &why), 0);
    ck_assert_str_eq(why.code, "policy_break");
    env_close(&e);
}
END_TEST

/* Two proposals against the same base: once one is applied, the other is
 * stale at its approval. */
START_TEST(test_stale_base)
{
    env_t e;
    prop_t a, b;
    reject_t why;
    uint8_t action[GOV_ACTION_MAX];
    size_t n;
    env_open(&e, 1, 0);
    n = deploy_action(&e, HELLO, GOV_POLICY_COMPATIBLE, -1, action, sizeof(action));
    propose_ok(&e, &a, action, n);
    n = deploy_action(&e, HELLO, GOV_POLICY_COMPATIBLE, -1, action, sizeof(action));
    propose_ok(&e, &b, action, n); /* same action, another nonce */
    ck_assert_int_eq(attest(&e, &a, G1, &why), 0);
    ck_assert_int_lt(attest(&e, &b, G1, &why), 0);
    ck_assert_str_eq(why.code, "stale");
    ck_assert_msg(strstr(why.message, "edition 0"), "%s", why.message);
    state_is(&e, &b, "proposed");
    env_close(&e);
}
END_TEST

START_TEST(test_steps_out_of_order)
{
    env_t e;
    prop_t p;
    reject_t why;
    uint8_t action[GOV_ACTION_MAX];
    gov_payload_t pl;
    size_t n;
    env_open(&e, 1, 0);
    n = deploy_action(&e, HELLO, GOV_POLICY_COMPATIBLE, -1, action, sizeof(action));
    propose_ok(&e, &p, action, n);
    ck_assert_int_lt(apply_tx(&e, &p, &why), 0);
    ck_assert_str_eq(why.code, "not_approved");
    ck_assert_msg(strstr(why.message, "proposed"), "%s", why.message);
    ck_assert_int_eq(attest(&e, &p, G1, &why), 0);
    ck_assert_int_lt(apply_tx(&e, &p, &why), 0);
    ck_assert_str_eq(why.code, "already_applied");
    ck_assert_msg(strstr(why.message, "receipt"), "%s", why.message);
    ck_assert_int_lt(attest(&e, &p, G1, &why), 0);
    ck_assert_str_eq(why.code, "already_approved");
    /* The same propose again: the same proposal, the first receipt. */
    memset(&pl, 0, sizeof(pl));
    pl.kind = GOV_KIND_PROPOSE;
    pl.nonce = p.nonce;
    pl.action = p.action;
    pl.action_len = p.action_len;
    ck_assert_int_lt(step(&e, GOV_KIND_PROPOSE, &pl, e.validator, 0, &why), 0);
    ck_assert_str_eq(why.code, "already_proposed");
    ck_assert_int_eq(count(&e, "SELECT count(*) FROM gov_proposals"), 1);
    /* An unknown action kind: a valid action with its kind byte changed. */
    uint8_t bad[GOV_ACTION_MAX];
    memcpy(bad, p.action, p.action_len);
    bad[1] = 9;
    pl.action = bad;
    pl.nonce = 1;
    static uint8_t buf[TX_PAYLOAD_MAX];
    {
        /* The encoder checks the action too: write the payload by hand. */
        size_t k = 0;
        const uint64_t one = 1;
        for (int i = 7; i >= 0; i--)
            buf[k++] = (uint8_t)(one >> (8 * i));
        buf[k++] = (uint8_t)(p.action_len >> 24);
        buf[k++] = (uint8_t)(p.action_len >> 16);
        buf[k++] = (uint8_t)(p.action_len >> 8);
        buf[k++] = (uint8_t)p.action_len;
        memcpy(buf + k, bad, p.action_len);
        tx_t tx;
        uint8_t txid[32] = {2};
        memset(&tx, 0, sizeof(tx));
        snprintf(tx.chain_id, sizeof(tx.chain_id), "%s", CHAIN_ID);
        tx.kind = GOV_KIND_PROPOSE;
        memcpy(tx.sender, e.validator, 32);
        tx.payload = buf;
        tx.payload_len = k + p.action_len;
        gov_ctx_t x = {.height = e.height, .txid = txid, .genesis = e.g};
        ck_assert_int_lt(gov_tx(e.gv, e.q, &x, &tx, false, &why), 0);
        ck_assert_str_eq(why.code, "unknown_action");
    }
    /* A proposer that is neither governor nor validator. */
    memset(&pl, 0, sizeof(pl));
    n = deploy_action(&e, HELLO_MORE, GOV_POLICY_COMPATIBLE, -1, action, sizeof(action));
    pl.kind = GOV_KIND_PROPOSE;
    pl.nonce = 77;
    pl.action = action;
    pl.action_len = n;
    ck_assert_int_lt(step(&e, GOV_KIND_PROPOSE, &pl, e.outsider_pk, 0, &why), 0);
    ck_assert_str_eq(why.code, "not_proposer");
    env_close(&e);
}
END_TEST

START_TEST(test_votes)
{
    env_t e;
    prop_t p, q;
    reject_t why;
    uint8_t action[GOV_ACTION_MAX];
    size_t n;
    env_open(&e, 3, 0);
    n = deploy_action(&e, HELLO, GOV_POLICY_COMPATIBLE, -1, action, sizeof(action));
    propose_ok(&e, &p, action, n);
    ck_assert_int_eq(vote(&e, &p, 0, GOV_YES, &why), 0);
    ck_assert_int_lt(vote(&e, &p, 0, GOV_YES, &why), 0);
    ck_assert_str_eq(why.code, "already_voted");
    ck_assert_int_lt(vote(&e, &p, 0, GOV_NO, &why), 0);
    ck_assert_str_eq(why.code, "voted_twice");
    ck_assert_int_lt(vote(&e, &p, 99, GOV_YES, &why), 0);
    ck_assert_str_eq(why.code, "not_governor");
    ck_assert_int_eq(vote(&e, &p, 1, GOV_YES, &why), 0);
    state_is(&e, &p, "proposed"); /* 2 of 3 */
    ck_assert_int_eq(vote(&e, &p, 2, GOV_YES, &why), 0);
    state_is(&e, &p, "applied");
    ck_assert_int_eq(edition_of(&e, "hello"), 0);
    ck_assert_int_eq(count(&e, "SELECT count(*) FROM gov_journal WHERE step = 'approve' AND"
                               " detail LIKE '%\"by\":\"votes\"%'"), 1);

    /* One abstention of three: the two left are 20000 < 6700 * 3 bps, so
     * approval can no longer be reached and the proposal is rejected. */
    n = deploy_action(&e, HELLO_MORE, GOV_POLICY_COMPATIBLE, -1, action, sizeof(action));
    propose_ok(&e, &q, action, n);
    ck_assert_int_eq(vote(&e, &q, 0, GOV_YES, &why), 0);
    state_is(&e, &q, "proposed");
    ck_assert_int_eq(vote(&e, &q, 1, GOV_ABSTAIN, &why), 0);
    state_is(&e, &q, "rejected");
    ck_assert_int_eq(count(&e, "SELECT count(*) FROM gov_journal WHERE step = 'reject' AND"
                               " code = 'rejected'"), 1);
    ck_assert_int_lt(vote(&e, &q, 2, GOV_YES, &why), 0);
    ck_assert_str_eq(why.code, "wrong_state");
    ck_assert_int_eq(edition_of(&e, "hello"), 0);
    env_close(&e);
}
END_TEST

START_TEST(test_expiry_and_activation)
{
    env_t e;
    prop_t p, q;
    reject_t why;
    uint8_t action[GOV_ACTION_MAX];
    size_t n;
    env_open(&e, 1, 5);
    n = deploy_action(&e, HELLO, GOV_POLICY_COMPATIBLE, -1, action, sizeof(action));
    propose_ok(&e, &p, action, n); /* at 1: open through 6 */
    e.height = 6;
    begin_block(&e);
    state_is(&e, &p, "proposed");
    e.height = 7;
    begin_block(&e);
    state_is(&e, &p, "expired");
    ck_assert_int_lt(attest(&e, &p, G1, &why), 0);
    ck_assert_str_eq(why.code, "wrong_state");

    /* An activation height: approved now, applied at the start of that block. */
    gov_action_t a;
    const char *what = NULL;
    n = deploy_action(&e, HELLO, GOV_POLICY_COMPATIBLE, -1, action, sizeof(action));
    ck_assert_int_eq(gov_action_decode(&a, action, n, &what), 0);
    a.activation_height = 20;
    ck_assert_int_eq(gov_action_encode(&a, action, sizeof(action), &n), 0);
    propose_ok(&e, &q, action, n);
    ck_assert_int_eq(attest(&e, &q, G1, &why), 0);
    state_is(&e, &q, "approved");
    ck_assert_int_eq(edition_of(&e, "hello"), -1);
    e.height = 15;
    ck_assert_int_lt(apply_tx(&e, &q, &why), 0);
    ck_assert_str_eq(why.code, "not_due");
    e.height = 20;
    begin_block(&e);
    state_is(&e, &q, "applied");
    ck_assert_int_eq(edition_of(&e, "hello"), 0);
    env_close(&e);
}
END_TEST

START_TEST(test_params_and_rotation)
{
    env_t e;
    prop_t p;
    reject_t why;
    gov_action_t a;
    uint8_t action[GOV_ACTION_MAX];
    size_t n = 0;
    int rc = 0;
    char err[256];
    env_open(&e, 3, 0);
    /* threshold_bps 5000: then 2 of 3 approve. */
    memset(&a, 0, sizeof(a));
    a.kind = GOV_ACTION_PARAM;
    snprintf(a.u.param.key, sizeof(a.u.param.key), "threshold_bps");
    a.u.param.value = 5000;
    json_t *params = gov_params_json(e.q, err, sizeof(err));
    ck_assert_int_eq(hex_decode(a.base, 32, json_string_value(json_object_get(
        json_object_get(json_object_get(params, "params"), "threshold_bps"), "base"))), 0);
    json_decref(params);
    ck_assert_int_eq(gov_action_encode(&a, action, sizeof(action), &n), 0);
    propose_ok(&e, &p, action, n);
    ck_assert_int_eq(attest(&e, &p, G123, &why), 0);
    ck_assert_int_eq(count(&e, "SELECT value FROM gov_params WHERE key = 'threshold_bps'"), 5000);
    /* An unknown parameter and a value out of range. */
    snprintf(a.u.param.key, sizeof(a.u.param.key), "block_size");
    ck_assert_int_eq(gov_action_encode(&a, action, sizeof(action), &n), 0);
    ck_assert_int_lt(propose(&e, &p, action, n, &why), 0);
    ck_assert_str_eq(why.code, "stale"); /* the base named is threshold_bps's */
    gov_base_param("block_size", 0, a.base);
    ck_assert_int_eq(gov_action_encode(&a, action, sizeof(action), &n), 0);
    ck_assert_int_lt(propose(&e, &p, action, n, &why), 0);
    ck_assert_str_eq(why.code, "unknown_param");
    snprintf(a.u.param.key, sizeof(a.u.param.key), "voting_period");
    a.u.param.value = 0;
    gov_base_param("voting_period", GENESIS_VOTING_PERIOD_DEFAULT, a.base);
    ck_assert_int_eq(gov_action_encode(&a, action, sizeof(action), &n), 0);
    ck_assert_int_lt(propose(&e, &p, action, n, &why), 0);
    ck_assert_str_eq(why.code, "bad_value");

    /* Rotation: governors 3 and an outsider, threshold 10000. */
    memset(&a, 0, sizeof(a));
    a.kind = GOV_ACTION_GOVERNORS;
    a.u.governors.threshold_bps = 10000;
    a.u.governors.n = 2;
    memcpy(a.u.governors.keys[0], e.pk[2], 32);
    memcpy(a.u.governors.keys[1], e.outsider_pk, 32);
    json_t *govs = gov_governors_json(e.q, err, sizeof(err));
    ck_assert_int_eq(json_integer_value(json_object_get(govs, "threshold_bps")), 5000);
    ck_assert_int_eq(hex_decode(a.base, 32, json_string_value(json_object_get(govs, "base"))), 0);
    json_decref(govs);
    ck_assert_int_eq(gov_action_encode(&a, action, sizeof(action), &n), 0);
    propose_ok(&e, &p, action, n);
    ck_assert_int_eq(attest(&e, &p, G12, &why), 0); /* 2 of 3 at 5000 */
    ck_assert_int_eq(count(&e, "SELECT count(*) FROM gov_governors"), 2);
    /* Governor 1 is no longer one. */
    n = deploy_action(&e, HELLO, GOV_POLICY_COMPATIBLE, -1, action, sizeof(action));
    propose_ok(&e, &p, action, n);
    ck_assert_int_lt(attest(&e, &p, G12, &why), 0);
    ck_assert_str_eq(why.code, "not_governor");
    const int new_set[] = {2, 99, -1};
    ck_assert_msg(attest(&e, &p, new_set, &why) == 0, "%s", why.message);
    (void)rc;
    env_close(&e);
}
END_TEST

static int fixed_root(void *ctx, uint8_t out[32])
{
    (void)ctx;
    memset(out, 0x5a, 32);
    return 0;
}

START_TEST(test_shadow_changes_nothing)
{
    env_t e;
    prop_t p, q;
    reject_t why;
    uint8_t action[GOV_ACTION_MAX];
    char before[512], after[512];
    json_t *rep = NULL;
    gov_shadow_env_t env = {fixed_root, NULL, NULL};
    size_t n;
    env_open(&e, 3, 0);
    n = deploy_action(&e, HELLO, GOV_POLICY_ADDITIVE, -1, action, sizeof(action));
    propose_ok(&e, &p, action, n);
    tables_digest(&e, before);
    ck_assert_int_eq(sql_exec(e.q, "BEGIN", NULL), 0);
    ck_assert_int_eq(gov_shadow(e.gv, e.q, e.height, p.id, &env, &rep, &why), 0);
    ck_assert_int_eq(sql_exec(e.q, "ROLLBACK", NULL), 0);
    tables_digest(&e, after);
    ck_assert_str_eq(before, after);
    ck_assert(json_is_true(json_object_get(rep, "ok")));
    json_t *reg = json_object_get(json_object_get(rep, "tables"), "registry");
    ck_assert_int_eq(json_integer_value(json_object_get(reg, "before")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(reg, "after")), 4);
    ck_assert_int_eq(json_array_size(json_object_get(rep, "changes")), 1);
    ck_assert(json_is_false(json_object_get(json_object_get(rep, "state_root"), "changed")));
    char receipt[65];
    ck_assert_int_eq(gov_journal_shadow(e.gv, e.q, e.height, p.id, rep, receipt), 0);
    ck_assert_int_eq(strlen(receipt), 64);
    ck_assert_int_eq(count(&e, "SELECT count(*) FROM gov_journal WHERE step = 'shadow' AND"
                               " origin = 'local'"), 1);
    json_decref(rep);

    /* Apply it, then shadow an update that breaks its policy. */
    ck_assert_int_eq(attest(&e, &p, G123, &why), 0);
    ck_assert_int_eq(gov_shadow(e.gv, e.q, e.height, p.id, &env, &rep, &why), -EALREADY);
    n = deploy_action(&e, HELLO_MORE, GOV_POLICY_ADDITIVE, -1, action, sizeof(action));
    propose_ok(&e, &q, action, n);
    /* An update under additive that adds a function: compatible. */
    ck_assert_int_eq(sql_exec(e.q, "BEGIN", NULL), 0);
    ck_assert_int_eq(gov_shadow(e.gv, e.q, e.height, q.id, &env, &rep, &why), 0);
    ck_assert_int_eq(sql_exec(e.q, "ROLLBACK", NULL), 0);
    ck_assert(json_is_true(json_object_get(rep, "ok")));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rep, "compatibility"),
                                                       "verdict")), "compatible");
    json_decref(rep);
    env_close(&e);
}
END_TEST

START_TEST(test_journal_refusal)
{
    env_t e;
    prop_t p;
    reject_t why;
    uint8_t action[GOV_ACTION_MAX], txid[32] = {9};
    size_t n;
    env_open(&e, 3, 0);
    n = deploy_action(&e, HELLO, GOV_POLICY_ADDITIVE, -1, action, sizeof(action));
    propose_ok(&e, &p, action, n);
    ck_assert_int_lt(attest(&e, &p, G1, &why), 0);
    /* What the pipeline does with an admission refusal. */
    static uint8_t buf[TX_PAYLOAD_MAX];
    gov_payload_t pl;
    size_t len = 0;
    memset(&pl, 0, sizeof(pl));
    pl.kind = GOV_KIND_APPLY;
    memcpy(pl.id, p.id, 32);
    ck_assert_int_eq(gov_payload_encode(&pl, buf, sizeof(buf), &len), 0);
    tx_t tx;
    memset(&tx, 0, sizeof(tx));
    tx.kind = GOV_KIND_APPLY;
    tx.payload = buf;
    tx.payload_len = len;
    ck_assert_int_eq(gov_journal_refusal(e.gv, e.q, e.height, &tx, txid, &why), 0);
    ck_assert_int_eq(count(&e, "SELECT count(*) FROM gov_journal WHERE step = 'refuse' AND"
                               " origin = 'local' AND code = 'too_few_signatures' AND"
                               " state = 'proposed'"), 1);
    int rc = 0;
    char err[256];
    json_t *o = gov_proposal_json(e.q, p.id, &rc, err, sizeof(err));
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(json_array_size(json_object_get(o, "journal")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(o, "state")), "proposed");
    ck_assert_ptr_nonnull(json_object_get(json_object_get(o, "sign"), "hash"));
    json_decref(o);
    env_close(&e);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "gov", .tcase = "core"};
    return suite_build(&spec, SUITE_TESTS(test_genesis_registers_builtins,
                                          test_genesis_program_that_does_not_load,
                                          test_threshold_three, test_threshold_five,
                                          test_attestation_refusals, test_editions_and_policies,
                                          test_stale_base, test_steps_out_of_order, test_votes,
                                          test_expiry_and_activation, test_params_and_rotation,
                                          test_shadow_changes_nothing, test_journal_refusal));
}
