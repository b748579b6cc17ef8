/* Governance at the level of blocks, on a real devnet (one validator, whose
 * key is also the one governor): a block handed to a worker directly
 * (POST /blocks/check) that carries an ungated or forged governance step is
 * refused, naming the transaction and the reason, and leaves nothing
 * behind; the same block with a genuine attestation is valid, and submitted
 * for real it registers the program. Then a ledger from before the
 * governance tables is migrated at start with the genesis programs, a
 * genesis whose programs do not load stops the node with the reason, and
 * governors' signatures of a genesis are checked at every start. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base/hex.h"
#include "common/base/keys.h"
#include "common/node/gov/program.h"
#include "proto/gov.h"
#include "proto/tx.h"
#include "tests/integration/harness.h"
#include "tests/lib/suite.h"


Suite *test_suite(void);

#define ALPHA 0
#define DELTA 1
#define WAIT_MS 30000

static node_t node;

static const char HELLO[] =
    "{\"name\":\"hello\",\"interface\":{\"functions\":{\"greet\":{\"inputs\":[\"u64\"],"
    "\"outputs\":[\"u64\"]}},\"records\":{}},\"code\":\"00\"}";

static void setup(void)
{
    ck_assert_int_ge(sodium_init(), 0);
    ck_assert_int_eq(node_init(&node), 0);
}

static void teardown(void)
{
    node_cleanup(&node);
}

/* GET path as JSON, again while the rate limit answers 429. */
static json_t *get_json(int chain, const char *path, long *status)
{
    double t0 = now_ms();
    long st = 0;
    json_t *o;
    while ((o = node_http_json(&node, chain, path, &st)) != NULL && st == 429 &&
           now_ms() - t0 < WAIT_MS) {
        json_decref(o);
        usleep(200 * 1000);
    }
    if (status)
        *status = st;
    return o;
}

/* POST body to path, again while the API's rate limit answers 429 (this
 * suite polls the node between its steps). */
static long post(int chain, const char *path, const char *body, node_resp_t *res)
{
    double t0 = now_ms();
    long st;
    while ((st = node_http(&node, chain, path, body, 10000, res)) == 429 &&
           now_ms() - t0 < WAIT_MS)
        usleep(200 * 1000);
    return st;
}

static void load_validator(keys_pair_t *kp)
{
    char path[PATH_MAX + 64], err[KEYS_ERR_MAX];
    snprintf(path, sizeof(path), "%s/keys/validator.json", node.home);
    ck_assert_msg(keys_load(kp, path, err) == 0, "%s: %s", path, err);
}

static void chain_id_of(int chain, char *out, size_t cap)
{
    json_t *o = get_json(chain, "/network/genesis/hash", NULL);
    ck_assert_ptr_nonnull(o);
    snprintf(out, cap, "%s", json_string_value(json_object_get(o, "chain_id")));
    json_decref(o);
}

static uint64_t tip(int chain)
{
    json_t *o = get_json(chain, "/blocks/latest", NULL);
    uint64_t h = o ? (uint64_t)json_integer_value(json_object_get(o, "height")) : 0;
    json_decref(o);
    return h;
}

/* A governance transaction of kind with payload pl, signed by kp, as hex. */
static void gov_tx_hex(const char *chain_id, uint16_t kind, const gov_payload_t *pl,
                       const keys_pair_t *kp, uint64_t expiry, char *hex)
{
    static uint8_t payload[TX_PAYLOAD_MAX], bytes[TX_MAX_BYTES];
    size_t plen = 0, len = 0;
    tx_t tx;
    memset(&tx, 0, sizeof(tx));
    ck_assert_int_eq(gov_payload_encode(pl, payload, sizeof(payload), &plen), 0);
    snprintf(tx.chain_id, sizeof(tx.chain_id), "%s", chain_id);
    tx.kind = kind;
    memcpy(tx.sender, kp->pk, 32);
    tx.nonce = randombytes_uniform(1u << 30);
    tx.expiry_height = expiry;
    tx.payload = payload;
    tx.payload_len = plen;
    ck_assert_int_eq(tx_sign_encode(&tx, kp->sk, bytes, sizeof(bytes), &len), 0);
    hex_encode(hex, bytes, len);
}

typedef struct {
    char chain_id[64];
    keys_pair_t kp;
    uint8_t action[GOV_ACTION_MAX];
    size_t action_len;
    uint64_t nonce;
    uint8_t id[GOV_ID_LEN];
    uint64_t expiry;
    char propose[2 * TX_MAX_BYTES + 1];
} deploy_t;

/* A propose of hello (edition 0, compatible) on chain. */
static void deploy_make(deploy_t *d, int chain)
{
    static gov_program_t p;
    static uint8_t code[GOV_CODE_MAX], prog[GOV_PROGRAM_MAX];
    char err[GOV_PROGRAM_ERR_MAX];
    size_t plen = 0;
    gov_action_t a;
    gov_payload_t pl;
    memset(d, 0, sizeof(*d));
    chain_id_of(chain, d->chain_id, sizeof(d->chain_id));
    load_validator(&d->kp);
    ck_assert_msg(gov_program_from_text(HELLO, strlen(HELLO), &p, code, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_int_eq(gov_program_encode(&p, prog, sizeof(prog), &plen), 0);
    memset(&a, 0, sizeof(a));
    a.kind = GOV_ACTION_DEPLOY;
    snprintf(a.u.deploy.name, sizeof(a.u.deploy.name), "hello");
    a.u.deploy.policy = GOV_POLICY_COMPATIBLE;
    a.u.deploy.program = prog;
    a.u.deploy.program_len = plen;
    ck_assert_int_eq(gov_action_encode(&a, d->action, sizeof(d->action), &d->action_len), 0);
    d->nonce = randombytes_uniform(1u << 30);
    gov_proposal_id(d->chain_id, d->nonce, d->action, d->action_len, d->id);
    d->expiry = tip(chain) + 100;
    memset(&pl, 0, sizeof(pl));
    pl.kind = GOV_KIND_PROPOSE;
    pl.nonce = d->nonce;
    pl.action = d->action;
    pl.action_len = d->action_len;
    gov_tx_hex(d->chain_id, GOV_KIND_PROPOSE, &pl, &d->kp, d->expiry, d->propose);
}

/* An attest of d's proposal signed by signer (the genesis governor is the
 * validator key), with one signature byte flipped when forge. */
static void attest_hex(const deploy_t *d, const keys_pair_t *signer, bool forge, char *hex)
{
    static gov_payload_t pl;
    memset(&pl, 0, sizeof(pl));
    pl.kind = GOV_KIND_ATTEST;
    memcpy(pl.id, d->id, GOV_ID_LEN);
    pl.attestation.nonce = d->nonce;
    pl.attestation.expiry_height = d->expiry;
    pl.attestation.n = 1;
    gov_attest_sign(d->chain_id, d->action, d->action_len, d->nonce, d->expiry, signer->pk,
                    signer->sk, &pl.attestation.sigs[0]);
    if (forge)
        pl.attestation.sigs[0].sig[10] ^= 0x40;
    gov_tx_hex(d->chain_id, GOV_KIND_ATTEST, &pl, &d->kp, d->expiry, hex);
}

static void apply_hex(const deploy_t *d, char *hex)
{
    gov_payload_t pl;
    memset(&pl, 0, sizeof(pl));
    pl.kind = GOV_KIND_APPLY;
    memcpy(pl.id, d->id, GOV_ID_LEN);
    gov_tx_hex(d->chain_id, GOV_KIND_APPLY, &pl, &d->kp, d->expiry, hex);
}

/* POST /blocks/check with the transactions (hex, NULL-terminated). */
static json_t *check_block(int chain, const char *query, long *status, const char *const *txs)
{
    static char body[4 * TX_MAX_BYTES + 64];
    static node_resp_t res;
    char path[256];
    size_t k = (size_t)snprintf(body, sizeof(body), "{\"txs\":[");
    for (size_t i = 0; txs[i]; i++)
        k += (size_t)snprintf(body + k, sizeof(body) - k, "%s\"%s\"", i ? "," : "", txs[i]);
    snprintf(body + k, sizeof(body) - k, "]}");
    snprintf(path, sizeof(path), "/blocks/check%s", query ? query : "");
    *status = post(chain, path, body, &res);
    return json_loads(res.body, 0, NULL);
}

static void expect_invalid(json_t *o, long status, const char *reason, int index)
{
    json_t *e = json_object_get(o, "error");
    ck_assert_msg(status == 422, "status %ld", status);
    ck_assert_str_eq(json_string_value(json_object_get(e, "code")), "invalid_block");
    ck_assert_str_eq(json_string_value(json_object_get(e, "reason")), reason);
    ck_assert_int_eq(json_integer_value(json_object_get(e, "index")), index);
    ck_assert_msg(strstr(json_string_value(json_object_get(e, "message")), reason), "%s",
                  json_string_value(json_object_get(e, "message")));
}

static bool hello_registered(node_t *n, const void *arg)
{
    long st = 0;
    json_t *o = node_http_json(n, *(const int *)arg, "/registry/hello", &st);
    usleep(100 * 1000); /* well inside the API's rate limit */
    json_decref(o);
    return st == 200;
}

START_TEST(test_forged_block_refused_genuine_accepted)
{
    static deploy_t d;
    static char att[2 * TX_MAX_BYTES + 1], forged[2 * TX_MAX_BYTES + 1],
        stranger_att[2 * TX_MAX_BYTES + 1], apply[2 * TX_MAX_BYTES + 1];
    keys_pair_t stranger;
    long st = 0;
    json_t *o;
    ck_assert_int_eq(node_start(&node, NULL, NULL), 0);
    ck_assert(node_wait_height(&node, "delta", 1, WAIT_MS));
    deploy_make(&d, DELTA);
    ck_assert_int_eq(keys_generate(&stranger, "stranger"), 0);
    attest_hex(&d, &d.kp, false, att);
    attest_hex(&d, &d.kp, true, forged);
    attest_hex(&d, &stranger, false, stranger_att);
    apply_hex(&d, apply);

    /* Ungated: the program applied without any approval. */
    const char *ungated[] = {d.propose, apply, NULL};
    o = check_block(DELTA, NULL, &st, ungated);
    expect_invalid(o, st, "not_approved", 1);
    json_decref(o);
    /* Forged: the governor's signature with one bit changed. */
    const char *forgery[] = {d.propose, forged, NULL};
    o = check_block(DELTA, NULL, &st, forgery);
    expect_invalid(o, st, "bad_signature", 1);
    json_decref(o);
    /* Signed by a key that is no governor. */
    const char *outsider[] = {d.propose, stranger_att, NULL};
    o = check_block(DELTA, NULL, &st, outsider);
    expect_invalid(o, st, "not_governor", 1);
    json_decref(o);
    /* An attestation for a proposal the block does not carry. */
    const char *orphan[] = {att, NULL};
    o = check_block(DELTA, NULL, &st, orphan);
    expect_invalid(o, st, "unknown_proposal", 0);
    json_decref(o);

    /* The genuine one is valid, and a header with other roots is not. */
    const char *genuine[] = {d.propose, att, NULL};
    o = check_block(DELTA, NULL, &st, genuine);
    ck_assert_msg(st == 200, "status %ld: %s", st, json_dumps(o, 0));
    ck_assert(json_is_true(json_object_get(o, "valid")));
    json_decref(o);
    o = check_block(DELTA, "?state_root=0000000000000000000000000000000000000000000000000000000"
                    "000000000", &st, genuine);
    expect_invalid(o, st, "root_mismatch", 0);
    json_decref(o);
    /* Nothing of any check stayed. */
    o = get_json(DELTA, "/registry/hello", &st);
    ck_assert_int_eq(st, 404);
    json_decref(o);
    o = get_json(DELTA, "/gov/proposals", &st);
    ck_assert_int_eq(json_array_size(json_object_get(o, "proposals")), 0);
    json_decref(o);

    /* Submitted for real, in order: the block registers hello. */
    char body[2 * TX_MAX_BYTES + 32];
    node_resp_t res;
    snprintf(body, sizeof(body), "{\"tx\":\"%s\"}", d.propose);
    ck_assert_int_eq(post(DELTA, "/txs", body, &res), 202);
    uint64_t h = tip(DELTA);
    ck_assert(node_wait_height(&node, "delta", h + 2, WAIT_MS));
    snprintf(body, sizeof(body), "{\"tx\":\"%s\"}", att);
    ck_assert_msg(post(DELTA, "/txs", body, &res) == 202, "%s", res.body);
    int chain = DELTA;
    ck_assert(node_wait(&node, WAIT_MS, hello_registered, &chain));
    o = get_json(DELTA, "/registry/hello", &st);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "edition")), 0);
    json_decref(o);
    /* The forged one, submitted, is refused at admission with its reason. */
    snprintf(body, sizeof(body), "{\"tx\":\"%s\"}", forged);
    ck_assert_int_eq(post(DELTA, "/txs", body, &res), 400);
    ck_assert_msg(strstr(res.body, "already_approved"), "%s", res.body);
    ck_assert_int_eq(node_stop(&node, SIGTERM, WAIT_MS), 0);
}
END_TEST

static int exec_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *err = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fprintf(stderr, "%s: %s\n", sql, err ? err : sqlite3_errmsg(db));
    sqlite3_free(err);
    sqlite3_close(db);
    return rc;
}

/* A delta ledger made before the governance tables (schema 11): they are
 * added at start, with the genesis governors and programs. */
START_TEST(test_migrates_older_ledger)
{
    char path[PATH_MAX + 32];
    long st = 0;
    json_t *o;
    ck_assert_int_eq(node_start(&node, NULL, NULL), 0);
    ck_assert(node_wait_height(&node, "delta", 2, WAIT_MS));
    ck_assert_int_eq(node_stop(&node, SIGTERM, WAIT_MS), 0);
    snprintf(path, sizeof(path), "%s/delta/ledger.db", node.home);
    ck_assert_int_eq(exec_sql(path, "DROP TABLE gov_governors; DROP TABLE gov_params;"
                                    " DROP TABLE gov_proposals; DROP TABLE gov_journal;"
                                    " DROP TABLE gov_votes; DROP TABLE gov_nonces;"
                                    " DROP TABLE registry; DROP TABLE programs;"
                                    " PRAGMA user_version = 11;"), SQLITE_OK);
    ck_assert_int_eq(node_start(&node, NULL, NULL), 0);
    uint64_t h = node_ledger_height(&node, "delta");
    ck_assert(node_wait_height(&node, "delta", h + 1, WAIT_MS));
    o = get_json(DELTA, "/registry/credits", &st);
    ck_assert_int_eq(st, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "edition")), 0);
    json_decref(o);
    o = get_json(DELTA, "/network/governors", &st);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "count")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "threshold_bps")), 6700);
    json_decref(o);
    ck_assert_int_eq(node_stop(&node, SIGTERM, WAIT_MS), 0);
}
END_TEST

/* A genesis program with an unknown type: the worker refuses to start and
 * says which program and field, and the node stops with exit 100 (a
 * configuration error, which a restart would not mend). */
START_TEST(test_genesis_program_does_not_load)
{
    char path[PATH_MAX + 32], log[64 * 1024];
    FILE *f;
    snprintf(path, sizeof(path), "%s/delta/genesis.json", node.home);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    json_error_t jerr;
    json_t *g = json_loadf(f, 0, &jerr);
    fclose(f);
    ck_assert_ptr_nonnull(g);
    json_t *progs = json_object_get(g, "programs");
    ck_assert_msg(json_array_size(progs) == 3, "adnet init writes the three built-in programs");
    json_t *fn = json_object_get(json_object_get(json_object_get(json_object_get(
        json_array_get(progs, 0), "program"), "interface"), "functions"), "transfer");
    ck_assert_ptr_nonnull(fn);
    json_array_set_new(json_object_get(fn, "inputs"), 0, json_string("u65"));
    ck_assert_int_eq(json_dump_file(g, path, JSON_INDENT(2)), 0);
    json_decref(g);
    ck_assert_int_eq(node_start(&node, NULL, NULL), 0);
    int status = node_wait_exit(&node, WAIT_MS);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 100, "status %d", status);
    double t0 = now_ms();
    bool seen = false;
    while (!seen && now_ms() - t0 < WAIT_MS) {
        f = fopen(node.log, "r");
        size_t n = f ? fread(log, 1, sizeof(log) - 1, f) : 0;
        if (f)
            fclose(f);
        log[n] = '\0';
        seen = strstr(log, "programs[0] does not load") && strstr(log, "u65");
        if (!seen)
            usleep(100 * 1000);
    }
    ck_assert_msg(seen, "no refusal naming the program in the log:\n%s", log);
    ck_assert_int_eq(node_ledger_height(&node, "delta"), 0);
}
END_TEST

static bool log_has(const char *a, const char *b)
{
    static char log[256 * 1024];
    FILE *f = fopen(node.log, "r");
    size_t n = f ? fread(log, 1, sizeof(log) - 1, f) : 0;
    if (f)
        fclose(f);
    log[n] = '\0';
    return strstr(log, a) && (!b || strstr(log, b));
}

/* Governors sign a genesis; a node checks the signatures at every start
 * and refuses a genesis whose signatures do not hold. */
START_TEST(test_genesis_signatures)
{
    char out[4096], path[PATH_MAX + 64];
    const char *init[] = {"init", "--home", node.home, "--force", "--governors", "3", NULL};
    const char *verify[] = {"genesis", "verify", "--home", node.home, "--chain", "delta", NULL};
    const char *verify_json[] = {"genesis", "verify", "--home", node.home, "--chain", "delta",
                                 "--json", NULL};
    ck_assert_int_eq(node_cli(&node, out, sizeof(out), init), 0);
    ck_assert_int_eq(node_cli(&node, out, sizeof(out), verify), 1); /* no signatures yet */
    const char *names[] = {"gov1", "gov2", "gov3"};
    for (int i = 0; i < 3; i++) {
        const char *sign[] = {"genesis", "sign", "--home", node.home, "--chain", "delta",
                              "--key", names[i], NULL};
        ck_assert_int_eq(node_cli(&node, out, sizeof(out), sign), 0);
        if (i < 2) { /* 1 and 2 of 3 are below 6700 bps */
            ck_assert_int_eq(node_cli(&node, out, sizeof(out), verify_json), 1);
            ck_assert_msg(strstr(out, "\"signed\": false"), "%s", out);
        }
    }
    ck_assert_int_eq(node_cli(&node, out, sizeof(out), verify), 0);
    ck_assert_msg(strstr(out, "signed by 3 of 3"), "%s", out);
    const char *stranger[] = {"genesis", "sign", "--home", node.home, "--chain", "delta",
                              "--key", "validator", NULL};
    ck_assert_int_eq(node_cli(&node, out, sizeof(out), stranger), 100);

    ck_assert_int_eq(node_start(&node, NULL, NULL), 0);
    ck_assert(node_wait_height(&node, "delta", 2, WAIT_MS));
    ck_assert(log_has("genesis_signed", "governors=3"));
    long st = 0;
    json_t *served = get_json(DELTA, "/network/genesis/signatures", &st);
    ck_assert_int_eq(st, 200);
    ck_assert_int_eq(json_array_size(json_object_get(served, "signatures")), 3);
    json_decref(served);
    served = get_json(ALPHA, "/network/genesis/signatures", &st); /* alpha's was not signed */
    ck_assert_int_eq(st, 404);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(served, "error"), "code")),
                     "unsigned");
    json_decref(served);
    ck_assert_int_eq(node_stop(&node, SIGTERM, WAIT_MS), 0);

    /* One signature's byte changed: delta refuses to start, and the node
     * stops with exit 100 (a configuration error: restarting will not help). */
    snprintf(path, sizeof(path), "%s/delta/genesis.sigs.json", node.home);
    json_error_t jerr;
    json_t *o = json_load_file(path, 0, &jerr);
    ck_assert_ptr_nonnull(o);
    json_t *sig = json_object_get(json_array_get(json_object_get(o, "signatures"), 1),
                                  "signature");
    char hex[129];
    snprintf(hex, sizeof(hex), "%s", json_string_value(sig));
    hex[0] = hex[0] == '0' ? '1' : '0';
    json_string_set(sig, hex);
    ck_assert_int_eq(json_dump_file(o, path, JSON_INDENT(2)), 0);
    json_decref(o);
    uint64_t h = node_ledger_height(&node, "delta");
    ck_assert_int_eq(node_start(&node, NULL, NULL), 0);
    int status = node_wait_exit(&node, WAIT_MS);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 100, "status %d", status);
    ck_assert(log_has("genesis_unsigned", "does not verify"));
    ck_assert_uint_eq(node_ledger_height(&node, "delta"), h);
}
END_TEST


Suite *test_suite(void)
{
    static const suite_spec_t spec = {
        .name = "govchain", .tcase = "devnet", .timeout_s = 240, .setup = setup,
        .teardown = teardown};
    return suite_build(&spec, SUITE_TESTS(test_forged_block_refused_genuine_accepted,
                                          test_migrates_older_ledger,
                                          test_genesis_program_does_not_load,
                                          test_genesis_signatures));
}
