/* The link between a node's two workers, on a real node: each chain's
 * finality proofs reach the other over the supervisor's shared-memory
 * rings and land, verified, in the other's peer_headers, contiguous and
 * equal to the source's own blocks; /status shows the peer height; a
 * worker held stopped long enough for the ring to overflow catches up
 * over ZeroMQ; garbage on a worker's ipc socket is refused, counted, and
 * changes nothing. */
#include <check.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/base/bech32.h"
#include "common/base/keys.h"
#include "common/node/ipc/peerview.h"
#include "common/store/genesis.h"
#include "proto/block.h"
#include "proto/ipcmsg.h"
#include "tests/integration/harness.h"
#include "tests/lib/file.h"
#include "tests/lib/rng.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

enum { ALPHA = 0, DELTA = 1 };
static const char *const chain_name[2] = { "alpha", "delta" };

static const char *const FAST[] = {
    "--set", "alpha.block_interval_ms=60", "--set", "delta.block_interval_ms=50", NULL,
};

static node_t node;

/* /status "peer".height of chain, 0 if none. */
static uint64_t peer_height(node_t *n, int chain)
{
    long code = 0;
    json_t *j = node_http_json(n, chain, "/status", &code);
    json_t *p = j ? json_object_get(j, "peer") : NULL;
    uint64_t h = p ? (uint64_t)json_integer_value(json_object_get(p, "height")) : 0;
    json_decref(j);
    return h;
}

typedef struct {
    int chain;
    uint64_t height;
} peer_at_t;

static bool peer_reached(node_t *n, const void *arg)
{
    const peer_at_t *p = arg;
    return peer_height(n, p->chain) >= p->height;
}

/* The peer headers chain `of` holds of the other chain are 1..k with no
 * gap, each equal (hash, state root) to the other chain's own block.
 * Return k. */
static int64_t check_peer_rows(node_t *n, int of)
{
    char mine[PATH_MAX + 32], theirs[PATH_MAX + 32];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t k = 0;
    snprintf(mine, sizeof mine, "%s/%s/ledger.db", n->home, chain_name[of]);
    snprintf(theirs, sizeof theirs, "%s/%s/ledger.db", n->home, chain_name[1 - of]);
    char attach[PATH_MAX + 64];
    snprintf(attach, sizeof attach, "ATTACH 'file:%s?mode=ro' AS other", theirs);
    ck_assert_int_eq(sqlite3_open_v2(mine, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, attach, NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db,
        "SELECT p.height, p.hash = b.hash AND p.state_root = b.state_root AND p.chain = ?1"
        " AND p.prev_hash = b.prev_hash"
        " FROM peer_headers p LEFT JOIN other.blocks b ON b.height = p.height"
        " ORDER BY p.height", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, chain_name[1 - of], -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t h = sqlite3_column_int64(st, 0);
        ck_assert_msg(h == k + 1, "%s's peer_headers: height %" PRId64 " after %" PRId64,
                      chain_name[of], h, k);
        ck_assert_msg(sqlite3_column_int(st, 1) == 1, "%s's peer header %" PRId64
                      " differs from %s's block", chain_name[of], h, chain_name[1 - of]);
        k = h;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return k;
}

START_TEST(test_finality_both_ways)
{
    ck_assert_int_eq(node_init(&node), 0);
    ck_assert_int_eq(node_start(&node, FAST, NULL), 0);
    ck_assert(node_wait_height(&node, "alpha", 20, 30000));
    ck_assert(node_wait_height(&node, "delta", 20, 30000));
    const peer_at_t a = { DELTA, 20 }, d = { ALPHA, 20 };
    ck_assert_msg(node_wait(&node, 20000, peer_reached, &a), "delta never saw alpha 20");
    ck_assert_msg(node_wait(&node, 20000, peer_reached, &d), "alpha never saw delta 20");
    /* The ring carried them (not only the start-up catch-up). */
    ck_assert(node_metric(&node, ALPHA, "adnet_ipc_messages_total{direction=\"out\","
                     "kind=\"finality_proof\",via=\"ring\"}") >= 20);
    ck_assert(node_metric(&node, DELTA, "adnet_ipc_messages_total{direction=\"in\","
                     "kind=\"finality_proof\",via=\"ring\"}") >= 20);
    ck_assert(node_metric(&node, DELTA, "adnet_peer_height") >= 20);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 20000), 0);
    ck_assert_int_ge(check_peer_rows(&node, ALPHA), 20);
    ck_assert_int_ge(check_peer_rows(&node, DELTA), 20);
    node_cleanup(&node);
}
END_TEST

/* SIGSTOP delta until more alpha blocks than its ring holds went by:
 * alpha counts overflows; once delta runs again (or is restarted by the
 * supervisor's heartbeat timeout) it fills the gap over ZeroMQ. */
START_TEST(test_overflow_catches_up)
{
    ck_assert_int_eq(node_init(&node), 0);
    ck_assert_int_eq(node_start(&node, FAST, NULL), 0);
    const peer_at_t d0 = { DELTA, 5 };
    ck_assert(node_wait(&node, 30000, peer_reached, &d0));
    pid_t delta = node_worker_pid(&node, "delta");
    ck_assert_int_gt(delta, 0);
    uint64_t from = node_ledger_height(&node, "alpha");
    ck_assert_int_eq(kill(delta, SIGSTOP), 0);
    ck_assert(node_wait_height(&node, "alpha", from + 100, 30000)); /* 64 slots */
    ck_assert_int_eq(kill(delta, SIGCONT), 0);
    ck_assert(node_metric(&node, ALPHA, "adnet_ipc_ring_overflows_total") > 0);
    uint64_t now = node_ledger_height(&node, "alpha");
    const peer_at_t d1 = { DELTA, now };
    ck_assert_msg(node_wait(&node, 30000, peer_reached, &d1), "delta did not catch up to %"
                  PRIu64 " (at %" PRIu64 ")", now, peer_height(&node, DELTA));
    ck_assert(node_metric(&node, DELTA, "adnet_ipc_messages_total{direction=\"in\","
                     "kind=\"finality_proof\",via=\"zmq\"}") > 0);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 20000), 0);
    ck_assert_int_ge(check_peer_rows(&node, DELTA), (int64_t)now);
    node_cleanup(&node);
}
END_TEST

/* Send raw frames (after an empty delimiter) to chain's ipc socket. */
static void send_garbage(node_t *n, int chain, const void *bytes, size_t len)
{
    char ep[PATH_MAX + 32];
    int zero = 0;
    snprintf(ep, sizeof ep, "ipc://%s/run/%s.ipc", n->home, chain_name[chain]);
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    ck_assert_int_eq(zmq_connect(s, ep), 0);
    ck_assert_int_ge(zmq_send(s, "", 0, ZMQ_SNDMORE), 0);
    ck_assert_int_ge(zmq_send(s, bytes, len, 0), 0);
    usleep(200 * 1000); /* let it go before the socket closes */
    zmq_close(s);
    zmq_ctx_term(ctx);
}

START_TEST(test_garbage_refused)
{
    ck_assert_int_eq(node_init(&node), 0);
    ck_assert_int_eq(node_start(&node, FAST, NULL), 0);
    const peer_at_t d0 = { DELTA, 5 };
    ck_assert(node_wait(&node, 30000, peer_reached, &d0));
    const uint8_t unknown_version[] = { 9, 2, 0, 0, 0, 1, 'x', 0, 0, 0, 0, 0, 0, 0, 1 };
    send_garbage(&node, ALPHA, "not a message", 13);
    send_garbage(&node, ALPHA, unknown_version, sizeof unknown_version);
    const char *refused = "adnet_ipc_refused_total{reason=\"malformed\"}";
    for (int i = 0; i < 50 && node_metric(&node, ALPHA, refused) < 2; i++)
        usleep(100 * 1000);
    ck_assert_msg(node_metric(&node, ALPHA, refused) >= 2, "refusals not counted");
    /* Nothing changed: both chains go on, delta still follows alpha. */
    uint64_t at = node_ledger_height(&node, "alpha");
    const peer_at_t d1 = { DELTA, at + 5 };
    ck_assert(node_wait(&node, 30000, peer_reached, &d1));
    ck_assert(node_worker_restarts(&node, "alpha") == 0);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 20000), 0);
    node_cleanup(&node);
}
END_TEST

/* ---- a forged peer: alpha alone, and a fake delta on delta's socket ---- */

typedef struct {
    genesis_t g;           /* delta's genesis, as the home has it */
    keys_pair_t key;       /* the node's validator key (delta's one validator) */
} forge_t;

/* Delta's header at height (prev_hash: prev, or the genesis hash), its
 * hash into hash. */
static void forge_header(const forge_t *f, uint64_t height, const uint8_t *prev, uint64_t t,
                         block_header_t *h, uint8_t hash[BLOCK_HASH_LEN])
{
    memset(h, 0, sizeof *h);
    h->protocol_version = f->g.protocol_version;
    snprintf(h->chain_id, sizeof h->chain_id, "%s", f->g.chain_id);
    h->height = height;
    h->time_ms = f->g.genesis_time_ms + t;
    memcpy(h->prev_hash, prev ? prev : f->g.hash, BLOCK_HASH_LEN);
    memcpy(h->proposer, f->key.pk, BLOCK_KEY_LEN);
    ck_assert_int_eq(block_header_hash(h, hash), 0);
}

/* A finality message of h signed by (pk, sk) over signed_hash, as a
 * frame into out; return its length. */
static size_t forge_proof(const forge_t *f, const block_header_t *h, const uint8_t *signed_hash,
                          const uint8_t *pk, const uint8_t *sk, uint8_t *out, size_t cap)
{
    static commit_cert_t c;
    uint8_t hb[BLOCK_HEADER_MAX], cb[COMMIT_CERT_MAX], sb[256];
    ipc_msg_t m = {.kind = IPC_FINALITY, .seq = 1};
    size_t hl, cl, n;
    memset(&c, 0, sizeof c);
    c.height = h->height;
    memcpy(c.block_hash, signed_hash, BLOCK_HASH_LEN);
    c.n_sigs = 1;
    memcpy(c.sigs[0].validator, pk, BLOCK_KEY_LEN);
    int sl = commit_sign_bytes(f->g.chain_id, h->height, signed_hash, sb, sizeof sb);
    ck_assert_int_gt(sl, 0);
    crypto_sign_detached(c.sigs[0].sig, NULL, sb, (size_t)sl, sk);
    ck_assert_int_eq(block_header_encode(h, hb, sizeof hb, &hl), 0);
    ck_assert_int_eq(commit_cert_encode(&c, cb, sizeof cb, &cl), 0);
    snprintf(m.source, sizeof m.source, "%s", f->g.chain_id);
    m.u.finality = (ipc_finality_t){hb, hl, cb, cl};
    ck_assert_int_eq(ipc_msg_encode(&m, out, cap, &n), 0);
    return n;
}

/* Receive alpha's catch-up request on the fake delta socket and answer
 * it with the n frames given (after the head naming the request). */
static void forge_answer(void *router, const char *fake_source, uint8_t frames[][IPC_MSG_MAX],
                         const size_t *lens, int n)
{
    zmq_msg_t id, part;
    ipc_msg_t req;
    uint8_t buf[512];
    int timeout = 20000;
    zmq_setsockopt(router, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_msg_init(&id);
    ck_assert_int_ge(zmq_msg_recv(&id, router, 0), 0);
    zmq_msg_init(&part);
    ck_assert_int_ge(zmq_msg_recv(&part, router, 0), 0); /* the delimiter */
    zmq_msg_close(&part);
    int k = zmq_recv(router, buf, sizeof buf, 0);
    ck_assert_int_gt(k, 0);
    ck_assert_int_eq(ipc_msg_decode(&req, buf, (size_t)k, NULL), 0);
    ck_assert_int_eq(req.kind, IPC_CATCHUP);
    ck_assert_int_eq(req.u.catchup.from_height, 1);
    ipc_msg_t head = {.kind = IPC_CATCHUP, .seq = req.seq,
                      .u.catchup = {.from_height = 1, .max = (uint32_t)n}};
    snprintf(head.source, sizeof head.source, "%s", fake_source);
    size_t hl;
    ck_assert_int_eq(ipc_msg_encode(&head, buf, sizeof buf, &hl), 0);
    zmq_msg_send(&id, router, ZMQ_SNDMORE);
    zmq_send(router, "", 0, ZMQ_SNDMORE);
    zmq_send(router, buf, hl, ZMQ_SNDMORE);
    for (int i = 0; i < n; i++)
        zmq_send(router, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0);
}

static uint8_t forged[12][IPC_MSG_MAX];

/* Alpha runs alone; the test plays delta on delta's ipc socket and
 * answers alpha's catch-up request with forged finality proofs, each
 * refused with its reason (counted), then a genuine one, which is
 * stored; the same again is a duplicate, another block at its height a
 * conflict. Only the genuine header reaches peer_headers. */
START_TEST(test_forged_proofs_refused)
{
    forge_t f;
    char path[PATH_MAX + 32], err[GENESIS_ERR_MAX > KEYS_ERR_MAX ? GENESIS_ERR_MAX : KEYS_ERR_MAX];
    uint8_t other_pk[32], other_sk[64], hash[BLOCK_HASH_LEN], hash2[BLOCK_HASH_LEN];
    block_header_t h, h2, wrong;
    size_t len[12];
    int n = 0;

    ck_assert_int_eq(node_init(&node), 0);
    snprintf(path, sizeof path, "%s/delta/genesis.json", node.home);
    ck_assert_msg(genesis_load(&f.g, path, "delta", err) == 0, "%s", err);
    snprintf(path, sizeof path, "%s/keys/validator.json", node.home);
    ck_assert_msg(keys_load(&f.key, path, err) == 0, "%s", err);
    crypto_sign_keypair(other_pk, other_sk);
    forge_header(&f, 1, NULL, 10, &h, hash);
    forge_header(&f, 1, NULL, 11, &h2, hash2); /* another block at height 1 */
    /* Refused, in this order: a non-validator's signature, a bad one, a
     * header of another chain, a certificate of another block, bytes that
     * are no message, a message of an unknown version. */
    len[n] = forge_proof(&f, &h, hash, other_pk, other_sk, forged[n], IPC_MSG_MAX), n++;
    len[n] = forge_proof(&f, &h, hash, f.key.pk, f.key.sk, forged[n], IPC_MSG_MAX);
    forged[n][len[n] - 1] ^= 1, n++;
    wrong = h;
    snprintf(wrong.chain_id, sizeof wrong.chain_id, "adnet-forged");
    uint8_t wh[BLOCK_HASH_LEN];
    ck_assert_int_eq(block_header_hash(&wrong, wh), 0);
    len[n] = forge_proof(&f, &wrong, wh, f.key.pk, f.key.sk, forged[n], IPC_MSG_MAX), n++;
    len[n] = forge_proof(&f, &h, hash2, f.key.pk, f.key.sk, forged[n], IPC_MSG_MAX), n++;
    memcpy(forged[n], "\x01\x01garbage", 9), len[n++] = 9;
    len[n] = forge_proof(&f, &h, hash, f.key.pk, f.key.sk, forged[n], IPC_MSG_MAX);
    forged[n][0] = 9, n++;
    /* Then the genuine block, again, and a rival at its height. */
    len[n] = forge_proof(&f, &h, hash, f.key.pk, f.key.sk, forged[n], IPC_MSG_MAX), n++;
    len[n] = forge_proof(&f, &h, hash, f.key.pk, f.key.sk, forged[n], IPC_MSG_MAX), n++;
    len[n] = forge_proof(&f, &h2, hash2, f.key.pk, f.key.sk, forged[n], IPC_MSG_MAX), n++;

    char ep[PATH_MAX + 32];
    snprintf(ep, sizeof ep, "ipc://%s/run/delta.ipc", node.home);
    const char *const args[] = {"--only", "alpha", "--set", "alpha.block_interval_ms=100", NULL};
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    ck_assert(node_wait_height(&node, "alpha", 1, 20000));
    void *ctx = zmq_ctx_new(), *router = zmq_socket(ctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
    ck_assert_int_eq(zmq_bind(router, ep), 0);
    forge_answer(router, f.g.chain_id, forged, len, n);

    static const char *const reasons[] = {"unknown_signer", "bad_signature", "wrong_chain",
                                          "cert_mismatch", "malformed", "unknown_version",
                                          "conflict"};
    char name[128];
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        snprintf(name, sizeof name, "adnet_ipc_refused_total{reason=\"%s\"}", reasons[i]);
        for (int k = 0; k < 50 && node_metric(&node, ALPHA, name) < 1; k++)
            usleep(100 * 1000);
        ck_assert_msg(node_metric(&node, ALPHA, name) == 1, "%s: %g", name,
                      node_metric(&node, ALPHA, name));
    }
    ck_assert(node_metric(&node, ALPHA, "adnet_ipc_duplicates_total") == 1);
    ck_assert_uint_eq(peer_height(&node, ALPHA), 1);
    zmq_close(router);
    zmq_ctx_term(ctx);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 20000), 0);

    sqlite3 *db;
    sqlite3_stmt *st;
    char hx[2 * BLOCK_HASH_LEN + 1];
    snprintf(path, sizeof path, "%s/alpha/ledger.db", node.home);
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*), max(hash) FROM peer_headers", -1,
                                        &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 1);
    for (int i = 0; i < BLOCK_HASH_LEN; i++)
        snprintf(hx + 2 * i, 3, "%02x", hash[i]);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 1), hx);
    sqlite3_finalize(st);
    sqlite3_close(db);
    char *log = file_read(node.log, NULL);
    ck_assert_ptr_nonnull(log);
    ck_assert_msg(strstr(log, "event=ipc_refused peer=delta via=zmq reason=unknown_signer") != NULL,
                  "no refusal line in the log");
    free(log);
    keys_wipe(&f.key);
    node_cleanup(&node);
}
END_TEST

/* An attestation of chain f ("transfer id of amount ADN to recipient is
 * final at height"), signed by (pk, sk), as a frame into out; its length. */
static size_t forge_attest(const forge_t *f, const uint8_t id[32], uint64_t amount,
                           const uint8_t recipient[32], uint64_t height, uint8_t kind,
                           const uint8_t *pk, const uint8_t *sk, uint8_t *out, size_t cap)
{
    ipc_bridge_stmt_t bs = {.amount = amount};
    uint8_t stmt[IPC_BRIDGE_STMT_MAX];
    size_t sl, n;
    ipc_msg_t m = {.kind = IPC_ATTESTATION, .seq = 2};
    memcpy(bs.id, id, 32);
    memcpy(bs.recipient, recipient, 32);
    snprintf(bs.asset, sizeof bs.asset, "ADN");
    ck_assert_int_eq(ipc_bridge_stmt_encode(&bs, stmt, sizeof stmt, &sl), 0);
    m.u.attest = (ipc_attestation_t){.stmt_kind = kind, .stmt = stmt, .stmt_len = sl,
                                     .height = height};
    ck_assert_int_eq(peer_attest_sign(&m.u.attest, f->g.chain_id, pk, sk), 0);
    snprintf(m.source, sizeof m.source, "%s", f->g.chain_id);
    ck_assert_int_eq(ipc_msg_encode(&m, out, cap, &n), 0);
    return n;
}

/* delta runs alone; the test plays alpha on alpha's socket and answers
 * delta's catch-up with: an attestation signed by a non-validator, one
 * signed for another chain id, a genuine one (transfer X: 777 ADN to bob), alpha's header 1, then X's attestation
 * again. Only the genuine one is recorded; delta's next block credits bob
 * exactly 777, once; the replay is refused and counted. */
START_TEST(test_forged_attestations_refused)
{
    forge_t f, other;
    char path[PATH_MAX + 32], err[GENESIS_ERR_MAX > KEYS_ERR_MAX ? GENESIS_ERR_MAX : KEYS_ERR_MAX];
    uint8_t npk[32], nsk[64], hash[BLOCK_HASH_LEN], id[32], bob[32];
    char bob_addr[ADDRESS_MAX];
    block_header_t h;
    size_t len[12];
    int n = 0;

    ck_assert_int_eq(node_init(&node), 0);
    snprintf(path, sizeof path, "%s/alpha/genesis.json", node.home);
    ck_assert_msg(genesis_load(&f.g, path, "alpha", err) == 0, "%s", err);
    snprintf(path, sizeof path, "%s/keys/validator.json", node.home);
    ck_assert_msg(keys_load(&f.key, path, err) == 0, "%s", err);
    other = f;
    snprintf(other.g.chain_id, sizeof other.g.chain_id, "adnet-forged");
    crypto_sign_keypair(npk, nsk);
    randombytes_buf(id, sizeof id);
    randombytes_buf(bob, sizeof bob);
    ck_assert_int_eq(address_encode(bob_addr, bob), 0);
    forge_header(&f, 1, NULL, 10, &h, hash);
    len[n] = forge_attest(&f, id, 777, bob, 1, IPC_STMT_BRIDGE_OUT_FINAL, npk, nsk, forged[n],
                          IPC_MSG_MAX), n++;
    len[n] = forge_attest(&other, id, 777, bob, 1, IPC_STMT_BRIDGE_OUT_FINAL, f.key.pk,
                          f.key.sk, forged[n], IPC_MSG_MAX);
    /* signed for another chain id, sent as alpha's */
    {
        ipc_msg_t m;
        ck_assert_int_eq(ipc_msg_decode(&m, forged[n], len[n], NULL), 0);
        snprintf(m.source, sizeof m.source, "%s", f.g.chain_id);
        ck_assert_int_eq(ipc_msg_encode(&m, forged[n + 1], IPC_MSG_MAX, &len[n + 1]), 0);
        memcpy(forged[n], forged[n + 1], len[n + 1]);
        len[n] = len[n + 1];
        n++;
    }
    len[n] = forge_attest(&f, id, 777, bob, 1, IPC_STMT_BRIDGE_OUT_FINAL, f.key.pk, f.key.sk,
                          forged[n], IPC_MSG_MAX), n++;
    len[n] = forge_proof(&f, &h, hash, f.key.pk, f.key.sk, forged[n], IPC_MSG_MAX), n++;
    len[n] = forge_attest(&f, id, 777, bob, 1, IPC_STMT_BRIDGE_OUT_FINAL, f.key.pk, f.key.sk,
                          forged[n], IPC_MSG_MAX), n++;

    char ep[PATH_MAX + 32];
    snprintf(ep, sizeof ep, "ipc://%s/run/alpha.ipc", node.home);
    const char *const args[] = {"--only", "delta", "--set", "delta.block_interval_ms=100", NULL};
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    ck_assert(node_wait_height(&node, "delta", 1, 20000));
    void *ctx = zmq_ctx_new(), *router = zmq_socket(ctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
    ck_assert_int_eq(zmq_bind(router, ep), 0);
    forge_answer(router, f.g.chain_id, forged, len, n);

    static const char *const reasons[] = {"unknown_signer", "bad_signature", "replay"};
    char name[128];
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        snprintf(name, sizeof name, "adnet_ipc_refused_total{reason=\"%s\"}", reasons[i]);
        for (int k = 0; k < 50 && node_metric(&node, DELTA, name) < 1; k++)
            usleep(100 * 1000);
        ck_assert_msg(node_metric(&node, DELTA, name) == 1, "%s: %g", name,
                      node_metric(&node, DELTA, name));
    }
    /* The next block credits bob, once. */
    char apath[ADDRESS_MAX + 32];
    snprintf(apath, sizeof apath, "/accounts/%s", bob_addr);
    json_int_t got = 0;
    for (int k = 0; k < 50 && got != 777; k++) {
        json_t *j = node_http_json(&node, DELTA, apath, NULL);
        got = json_integer_value(json_object_get(json_object_get(j, "balances"), "ADN"));
        json_decref(j);
        if (got != 777)
            usleep(100 * 1000);
    }
    ck_assert_int_eq(got, 777);
    ck_assert(node_metric(&node, DELTA, "adnet_bridge_transfers_total{state=\"attested\"}") == 1);
    zmq_close(router);
    zmq_ctx_term(ctx);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 20000), 0);
    sqlite3 *db;
    sqlite3_stmt *st;
    snprintf(path, sizeof path, "%s/delta/ledger.db", node.home);
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*), count(minted_height), sum(amount) "
                                        "FROM bridge_in", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 1);
    ck_assert_int_eq(sqlite3_column_int(st, 1), 1);
    ck_assert_int_eq(sqlite3_column_int(st, 2), 777);
    sqlite3_finalize(st);
    sqlite3_close(db);
    keys_wipe(&f.key);
    node_cleanup(&node);
}
END_TEST

/* SIGKILL a worker (alternating) ten times while both produce: each time
 * it comes back, the two catch up, and at the end each chain's
 * peer_headers is the other's chain, contiguous and equal. */
START_TEST(test_kills_catch_up)
{
    const char *const args[] = {"--set", "alpha.block_interval_ms=60", "--set",
                                "delta.block_interval_ms=50", "--set",
                                "supervisor.restart_burst=100", "--set",
                                "supervisor.backoff_initial_ms=0", NULL};
    const char *env = getenv("ADNET_IPC_SEED");
    uint64_t seed = env && *env ? strtoull(env, NULL, 0)
                                : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    rng_seed(seed);
    printf("# kill instants seed %" PRIu64 " (ADNET_IPC_SEED=%" PRIu64 " reruns it)\n", seed,
           seed);
    ck_assert_int_eq(node_init(&node), 0);
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    const peer_at_t d0 = {DELTA, 3};
    ck_assert(node_wait(&node, 30000, peer_reached, &d0));
    for (int i = 0; i < 10; i++) {
        const char *who = i % 2 ? "delta" : "alpha";
        usleep((useconds_t)(rng_next() % 400) * 1000);
        pid_t pid = node_worker_pid(&node, who);
        ck_assert_int_gt(pid, 0);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_msg(node_wait_running(&node, who, 20000), "seed %" PRIu64 ": %s not back",
                      seed, who);
    }
    uint64_t a = node_ledger_height(&node, "alpha"), d = node_ledger_height(&node, "delta");
    const peer_at_t sa = {DELTA, a}, sd = {ALPHA, d};
    ck_assert_msg(node_wait(&node, 30000, peer_reached, &sa), "seed %" PRIu64, seed);
    ck_assert_msg(node_wait(&node, 30000, peer_reached, &sd), "seed %" PRIu64, seed);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 20000), 0);
    ck_assert_int_ge(check_peer_rows(&node, DELTA), (int64_t)a);
    ck_assert_int_ge(check_peer_rows(&node, ALPHA), (int64_t)d);
    node_cleanup(&node);
}
END_TEST

/* delta's lowest kept block (/status lowest_height). */
static uint64_t delta_lowest(node_t *n)
{
    json_t *j = node_http_json(n, DELTA, "/status", NULL);
    uint64_t v = j ? (uint64_t)json_integer_value(json_object_get(j, "lowest_height")) : 0;
    json_decref(j);
    return v;
}

static bool delta_pruned(node_t *n, const void *arg)
{
    return delta_lowest(n) > *(const uint64_t *)arg;
}

/* delta runs alone until it has pruned its first blocks (retain_blocks
 * 100); then alpha starts, asks delta from height 1, gets proofs from
 * delta's lowest kept block on, and follows delta from there: its
 * peer_headers start at that height, and the gap is logged. */
START_TEST(test_catch_up_past_pruned_blocks)
{
    const char *const only[] = {"--only", "delta", "--set", "delta.block_interval_ms=50",
                                "--set", "delta.retain_blocks=100", "--set",
                                "delta.state.keep_heights=100", NULL};
    const char *const both[] = {"--set", "delta.block_interval_ms=50", "--set",
                                "delta.retain_blocks=100", "--set", "delta.state.keep_heights=100",
                                "--set", "alpha.block_interval_ms=200", NULL};
    const uint64_t one = 1;
    ck_assert_int_eq(node_init(&node), 0);
    ck_assert_int_eq(node_start(&node, only, NULL), 0);
    ck_assert_msg(node_wait(&node, 60000, delta_pruned, &one), "delta never pruned");
    ck_assert_int_eq(node_stop(&node, SIGTERM, 20000), 0);
    ck_assert_int_eq(node_start(&node, both, NULL), 0);
    ck_assert(node_wait_running(&node, "delta", 30000));
    uint64_t low = delta_lowest(&node);
    ck_assert_uint_gt(low, 1);
    const peer_at_t a = {ALPHA, node_ledger_height(&node, "delta") + 5};
    ck_assert_msg(node_wait(&node, 30000, peer_reached, &a), "alpha stuck at %" PRIu64,
                  peer_height(&node, ALPHA));
    ck_assert_int_eq(node_stop(&node, SIGTERM, 20000), 0);
    char path[PATH_MAX + 32];
    sqlite3 *db;
    sqlite3_stmt *st;
    snprintf(path, sizeof path, "%s/alpha/ledger.db", node.home);
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT min(height), max(height), count(*) FROM "
                                        "peer_headers", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    uint64_t lo = (uint64_t)sqlite3_column_int64(st, 0), hi = (uint64_t)sqlite3_column_int64(st, 1);
    ck_assert_uint_ge(lo, low);
    ck_assert_uint_eq((uint64_t)sqlite3_column_int64(st, 2), hi - lo + 1); /* no gap after */
    sqlite3_finalize(st);
    sqlite3_close(db);
    char *log = file_read(node.log, NULL);
    ck_assert_ptr_nonnull(log);
    ck_assert(strstr(log, "event=peer_headers_gap peer=delta from=1 ") != NULL);
    free(log);
    node_cleanup(&node);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "ipc", .tcase = "node", .timeout_s = 180};
    return suite_build(&spec, SUITE_TESTS(test_finality_both_ways, test_overflow_catches_up,
                                          test_garbage_refused, test_forged_proofs_refused,
                                          test_kills_catch_up, test_catch_up_past_pruned_blocks,
                                          test_forged_attestations_refused));
}
