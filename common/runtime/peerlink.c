/* The worker's link to the other chain's worker; see peerlink.h. */
#include "common/runtime/peerlink.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <unistd.h>
#include <zmq.h>

#include "common/base/clock.h"
#include "common/base/fsutil.h"
#include "common/base/hex.h"
#include "common/base/log.h"
#include "common/node/ipc/peerstate.h"
#include "common/node/ipc/peerview.h"
#include "common/node/ipc/ring.h"
#include "common/store/bridgetab.h"
#include "common/store/peertab.h"
#include "common/store/prune.h"
#include "common/store/smt.h"
#include "common/store/tree.h"
#include "proto/ipcmsg.h"

#define LINK_CATCHUP_BATCH 256   /* heights one catch-up answer carries at most */
#define LINK_CATCHUP_FRAMES 4096 /* ... and frames, after its first height */
#define LINK_RETRY_S 1.0         /* an unanswered catch-up request is sent again after this */
#define LINK_SPIN_NS 20000       /* the consumer polls this long before it parks */
#define LINK_LOG_EVERY_MS 10000  /* one refusal line per reason this often, at most */
#define LINK_REASONS 16
#define LINK_QUERY_TIMEOUT_MS 2000 /* a state query unanswered this long: the peer is away */

/* Latency buckets, seconds: the ring's microseconds to ZeroMQ's milliseconds. */
static const double LINK_BUCKETS[] = { 1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4,
                                       1e-3, 2e-3, 5e-3, 1e-2, 5e-2, 0.1, 1.0 };
#define LINK_NBUCKETS (sizeof LINK_BUCKETS / sizeof LINK_BUCKETS[0])

typedef struct {
    const char *code;
    uint64_t last_ms;     /* when a line was last written for it */
    uint64_t suppressed;  /* refusals since, not logged */
} link_reason_t;

struct peerlink {
    peerlink_config_t cfg;
    char home[PATH_MAX];
    char self[GENESIS_CHAIN_MAX + 1];
    const genesis_t *self_g;
    peer_set_t *peer;             /* the peer's validators (large: on the heap) */
    ring_t *out, *in;
    int fds[4];
    ev_io wake_io;
    void *zctx, *server, *client;
    char peer_ep[PATH_MAX + 8];   /* the peer's ipc:// endpoint */
    int server_fd, client_fd;
    ev_io server_io, client_io;
    ev_timer retry;
    peer_tip_t tip;               /* newest header stored */
    uint64_t seen_max;            /* highest height a ring message has shown */
    uint64_t skip_to;             /* the peer keeps blocks from here on only (pruned below):
                                   * a proof at this height may follow the tip with a gap */
    uint64_t seq;                 /* our envelopes' counter */
    bool need_catchup;            /* heights are missing: ask until an answer ends them */
    uint64_t want_seq;            /* the catch-up request awaiting its answer (0: none) */
    uint64_t want_sent_ns;
    bool in_txn;                  /* a transaction of peer_headers writes is open */
    bool store_blocked;           /* this batch cannot write (the ledger is locked ...) */
    uint64_t unsaved_logged_ms;   /* when "peer_headers_unsaved" was last logged */
    uint64_t overflows_seen;      /* the out ring's overflow count at the last look */
    link_reason_t reasons[LINK_REASONS];
    uint8_t *buf;                 /* one message (slot_bytes or IPC_MSG_MAX) */
    size_t buf_cap;
};

static sql_t *link_sql(peerlink_t *pl)
{
    return ledger_sql(chain_ledger(pl->cfg.chain));
}

static void count_msg(peerlink_t *pl, const char *dir, uint8_t kind, const char *via)
{
    char labels[128];
    snprintf(labels, sizeof(labels), "direction=\"%s\",kind=\"%s\",via=\"%s\"", dir,
             ipc_kind_name(kind), via);
    metrics_counter_add(pl->cfg.metrics, "adnet_ipc_messages_total",
                        "Messages between the node's workers, by direction, kind and path.",
                        labels, 1);
}

/* Log a refusal (once per reason per LINK_LOG_EVERY_MS, with how many were
 * not logged) and count it. */
static void refuse(peerlink_t *pl, const char *via, const reject_t *why)
{
    char labels[96];
    uint64_t now = clock_mono_us() / 1000;
    link_reason_t *r = NULL;
    for (size_t i = 0; i < LINK_REASONS && !r; i++)
        if (!pl->reasons[i].code || strcmp(pl->reasons[i].code, why->code) == 0)
            r = &pl->reasons[i];
    snprintf(labels, sizeof(labels), "reason=\"%s\"", why->code);
    metrics_counter_add(pl->cfg.metrics, "adnet_ipc_refused_total",
                        "Messages from the peer worker refused, by reason.", labels, 1);
    if (r && r->code && now - r->last_ms < LINK_LOG_EVERY_MS) {
        r->suppressed++;
        return;
    }
    log_warn("ipc_refused", "peer=%s via=%s reason=%s msg=\"%s\" suppressed=%llu",
             pl->cfg.peer, via, why->code, why->message,
             (unsigned long long)(r ? r->suppressed : 0));
    if (r) {
        r->code = why->code;
        r->last_ms = now;
        r->suppressed = 0;
    }
}

/* ---- storing what was verified ------------------------------------------ */

/* Open the transaction the stored headers of one batch share. */
static int txn_open(peerlink_t *pl)
{
    if (pl->in_txn)
        return 0;
    int rc = ledger_begin(chain_ledger(pl->cfg.chain));
    pl->in_txn = rc == 0;
    return rc;
}

/* Log that headers could not be stored (at most once per
 * LINK_LOG_EVERY_MS: a ledger locked for minutes must not flood). */
static void log_unsaved(peerlink_t *pl, uint64_t height, const char *why)
{
    uint64_t now = clock_mono_us() / 1000;
    if (pl->unsaved_logged_ms && now - pl->unsaved_logged_ms < LINK_LOG_EVERY_MS)
        return;
    pl->unsaved_logged_ms = now;
    log_warn("peer_headers_unsaved", "peer=%s height=%llu reason=\"%s\" (asked again later)",
             pl->cfg.peer, (unsigned long long)height, why);
}

static void txn_close(peerlink_t *pl)
{
    ledger_t *l = chain_ledger(pl->cfg.chain);
    uint64_t time_ms;
    pl->store_blocked = false;
    if (!pl->in_txn)
        return;
    pl->in_txn = false;
    if (ledger_commit(l) == 0)
        return;
    log_unsaved(pl, pl->tip.height, ledger_errmsg(l));
    ledger_rollback(l);
    /* What the rolled-back rows said is not stored: go back to the table's
     * tip, and ask the peer again. */
    if (peertab_tip(link_sql(pl), pl->cfg.peer, &pl->tip.height, pl->tip.hash, &time_ms) < 0)
        memset(&pl->tip, 0, sizeof(pl->tip));
    pl->need_catchup = true;
}

static void gauge_peer(peerlink_t *pl, uint64_t time_ms)
{
    metrics_gauge_set(pl->cfg.metrics, "adnet_peer_height",
                      "Height of the newest verified header of the peer chain.", NULL,
                      (double)pl->tip.height);
    uint64_t now = clock_wall_ms();
    metrics_gauge_set(pl->cfg.metrics, "adnet_peer_lag_seconds",
                      "Age of the newest verified peer header (its block time to now).", NULL,
                      now > time_ms ? (double)(now - time_ms) / 1e3 : 0.0);
}

static void want_catchup(peerlink_t *pl);

/* A finality proof from the peer (via "ring" or "zmq"): verify it, store
 * it if it is the next height, ask for the gap if it is beyond. */
static void take_finality(peerlink_t *pl, const ipc_msg_t *m, const char *via)
{
    const ipc_finality_t *f = &m->u.finality;
    block_header_t h;
    commit_cert_t *cert = NULL;
    uint8_t hash[BLOCK_HASH_LEN];
    reject_t why = { 0 };
    int rc;
    if (pl->store_blocked) { /* the rest of the batch waits for the next request */
        pl->need_catchup = true;
        return;
    }
    rc = peer_verify_finality(pl->peer, &pl->tip, f->header, f->header_len, f->cert,
                              f->cert_len, &h, hash, &why);
    if (rc == -EALREADY) {
        metrics_counter_add(pl->cfg.metrics, "adnet_ipc_duplicates_total",
                            "Finality proofs received again (harmless).", NULL, 1);
        return;
    }
    if (rc < 0) {
        refuse(pl, via, &why);
        return;
    }
    if (h.height > pl->tip.height + 1 && h.height != pl->skip_to) {
        if (h.height > pl->seen_max)
            pl->seen_max = h.height;
        want_catchup(pl);
        return;
    }
    if (h.height > pl->tip.height + 1)
        log_warn("peer_headers_gap", "peer=%s from=%llu to=%llu reason=\"the peer pruned those "
                 "blocks (its retain_blocks); its certificate makes %llu final\"", pl->cfg.peer,
                 (unsigned long long)pl->tip.height + 1, (unsigned long long)h.height - 1,
                 (unsigned long long)h.height);
    if (!(cert = malloc(sizeof(*cert))) || commit_cert_decode(cert, f->cert, f->cert_len, NULL) < 0 ||
        txn_open(pl) < 0 ||
        peertab_put(link_sql(pl), pl->cfg.peer, &h, hash, f->header, f->header_len, f->cert,
                    f->cert_len, cert->n_sigs, clock_wall_ms()) < 0) {
        /* Not stored: this batch stops here, the height is asked for again. */
        log_unsaved(pl, h.height, cert ? ledger_errmsg(chain_ledger(pl->cfg.chain))
                                       : "out of memory");
        pl->store_blocked = true;
        pl->need_catchup = true;
        free(cert);
        return;
    }
    free(cert);
    pl->tip.height = h.height;
    memcpy(pl->tip.hash, hash, BLOCK_HASH_LEN);
    gauge_peer(pl, h.time_ms);
}

static void count_bridge(peerlink_t *pl, const char *state)
{
    char labels[48];
    snprintf(labels, sizeof(labels), "state=\"%s\"", state);
    metrics_counter_add(pl->cfg.metrics, "adnet_bridge_transfers_total",
                        "Bridge transfers from the peer chain: attested (recorded, to be "
                        "minted), minted, refused.", labels, 1);
}

/* An attestation from the peer: "bridge-out X is final at height h",
 * signed by its validators. Verified, it is recorded as a pending transfer
 * (bridge_in, in this batch's transaction, so before the header of its
 * height), which the next block mints; a transfer known already is
 * refused as a replay, whatever its state. */
static void take_attestation(peerlink_t *pl, const ipc_msg_t *m, const char *via)
{
    const ipc_attestation_t *a = &m->u.attest;
    ipc_bridge_stmt_t bs;
    bridge_transfer_t t;
    reject_t why = { 0 };
    const char *what = "statement";
    int rc;
    if (pl->store_blocked) {
        pl->need_catchup = true;
        return;
    }
    if (a->stmt_kind != IPC_STMT_BRIDGE_OUT_FINAL)
        rc = reject(&why, -EINVAL, "unknown_statement", "an attestation of statement kind %u",
                    a->stmt_kind);
    else if ((rc = peer_verify_attestation(pl->peer, a, &why)) == 0 &&
             ipc_bridge_stmt_decode(&bs, a->stmt, a->stmt_len, &what) < 0)
        rc = reject(&why, -EBADMSG, "malformed", "a bridge statement refused at %s", what);
    if (rc < 0) {
        refuse(pl, via, &why);
        count_bridge(pl, "refused");
        return;
    }
    memset(&t, 0, sizeof(t));
    memcpy(t.id, bs.id, sizeof(t.id));
    memcpy(t.recipient, bs.recipient, sizeof(t.recipient));
    snprintf(t.asset, sizeof(t.asset), "%s", bs.asset);
    t.amount = bs.amount;
    if ((rc = txn_open(pl)) == 0)
        rc = bridgetab_put(link_sql(pl), pl->cfg.peer, a->height, &t, a->n_sigs, clock_wall_ms());
    if (rc == -EEXIST) {
        char hex[2 * sizeof(t.id) + 1];
        hex_encode(hex, t.id, sizeof(t.id));
        reject(&why, rc, "replay", "transfer %.16s (height %llu) is known already: not minted "
               "again", hex, (unsigned long long)a->height);
        refuse(pl, via, &why);
        count_bridge(pl, "replayed");
        return;
    }
    if (rc < 0) { /* not stored: the batch stops, the height is asked for again */
        log_unsaved(pl, a->height, ledger_errmsg(chain_ledger(pl->cfg.chain)));
        pl->store_blocked = true;
        pl->need_catchup = true;
        return;
    }
    count_bridge(pl, "attested");
}

/* Decode one message from the peer and act on it; kinds other than
 * expected_kind (a finality proof on the ring) are refused. */
static void take_message(peerlink_t *pl, const uint8_t *b, size_t n, const char *via)
{
    ipc_msg_t m;
    const char *what = "message";
    reject_t why = { 0 };
    int rc = ipc_msg_decode(&m, b, n, &what);
    if (rc < 0) {
        reject(&why, rc, rc == -EPROTONOSUPPORT ? "unknown_version" : "malformed",
               "%zu bytes refused at %s: %s", n, what, rc == -EPROTONOSUPPORT
               ? "a message version this binary does not know" : "not a valid message");
        refuse(pl, via, &why);
        return;
    }
    if (strcmp(m.source, pl->peer->chain_id) != 0) {
        reject(&why, -EINVAL, "wrong_chain", "a message from chain id %s, expected %s",
               m.source, pl->peer->chain_id);
        refuse(pl, via, &why);
        return;
    }
    count_msg(pl, "in", m.kind, via);
    if (strcmp(via, "ring") == 0 && m.sent_ns) {
        uint64_t now = clock_mono_ns();
        metrics_observe(pl->cfg.metrics, "adnet_ipc_latency_seconds",
                        "Time from a message's sending to its taking, by path.", "via=\"ring\"",
                        LINK_BUCKETS, LINK_NBUCKETS,
                        now > m.sent_ns ? (double)(now - m.sent_ns) / 1e9 : 0.0);
    }
    if (m.kind == IPC_FINALITY)
        take_finality(pl, &m, via);
    else if (m.kind == IPC_ATTESTATION)
        take_attestation(pl, &m, via);
    else {
        reject(&why, -EINVAL, "unexpected_kind", "a %s message where finality proofs and "
               "attestations come", ipc_kind_name(m.kind));
        refuse(pl, via, &why);
    }
}

/* ---- the rings ------------------------------------------------------------ */

static void ring_gauges(peerlink_t *pl)
{
    ring_stats_t st;
    const char *dirs[2] = { "out", "in" };
    ring_t *rings[2] = { pl->out, pl->in };
    char labels[32];
    for (int i = 0; i < 2; i++) {
        if (!rings[i])
            continue;
        ring_stats(rings[i], &st);
        snprintf(labels, sizeof(labels), "ring=\"%s\"", dirs[i]);
        metrics_gauge_set(pl->cfg.metrics, "adnet_ipc_ring_occupancy",
                          "Messages waiting in a ring to the peer (out) or from it (in).", labels,
                          (double)st.occupancy);
        metrics_gauge_set(pl->cfg.metrics, "adnet_ipc_ring_capacity", "Slots of a ring.", labels,
                          (double)st.capacity);
        if (i == 0 && st.overflows > pl->overflows_seen) {
            metrics_counter_add(pl->cfg.metrics, "adnet_ipc_ring_overflows_total",
                                "Messages not sent because the ring to the peer was full "
                                "(the peer catches up over ZeroMQ).", NULL,
                                (double)(st.overflows - pl->overflows_seen));
            pl->overflows_seen = st.overflows;
        }
    }
}

/* Take everything on the incoming ring, spin a little for more, then park. */
static void drain_ring(peerlink_t *pl)
{
    size_t n;
    for (;;) {
        int rc = ring_pop(pl->in, pl->buf, pl->buf_cap, &n);
        if (rc == 0) {
            take_message(pl, pl->buf, n, "ring");
            continue;
        }
        if (rc == -EBADMSG)
            continue;
        if (ring_spin(pl->in, LINK_SPIN_NS))
            continue;
        if (ring_park(pl->in))
            break;
    }
    txn_close(pl);
    ring_gauges(pl);
}

static void on_wake(struct ev_loop *loop, ev_io *io, int revents)
{
    peerlink_t *pl = io->data;
    (void)loop;
    (void)revents;
    ring_unpark(pl->in);
    drain_ring(pl);
}

static int attach_rings(peerlink_t *pl, char *err, size_t errlen)
{
    int rc;
    if ((rc = ring_attach(&pl->out, pl->fds[0], pl->fds[1], RING_PRODUCER, err, errlen)) < 0 ||
        (rc = ring_attach(&pl->in, pl->fds[2], pl->fds[3], RING_CONSUMER, err, errlen)) < 0)
        return rc;
    ring_stats_t st;
    ring_stats(pl->in, &st);
    if (st.slot_bytes > pl->buf_cap) {
        uint8_t *b = realloc(pl->buf, st.slot_bytes);
        if (!b)
            return -ENOMEM;
        pl->buf = b;
        pl->buf_cap = st.slot_bytes;
    }
    ev_io_init(&pl->wake_io, on_wake, ring_wake_fd(pl->in), EV_READ);
    pl->wake_io.data = pl;
    ev_io_start(pl->cfg.loop, &pl->wake_io);
    return 0;
}

/* ---- ZeroMQ: catch-up ---------------------------------------------------- */

/* Stamp m as ours (seq 0: the next of our counter) and encode it. */
static int encode_seq(peerlink_t *pl, ipc_msg_t *m, uint64_t seq, uint8_t *buf, size_t cap,
                      size_t *len)
{
    snprintf(m->source, sizeof(m->source), "%s", pl->self_g->chain_id);
    m->seq = seq ? seq : ++pl->seq;
    m->sent_ns = clock_mono_ns();
    return ipc_msg_encode(m, buf, cap, len);
}

static int encode(peerlink_t *pl, ipc_msg_t *m, uint8_t *buf, size_t cap, size_t *len)
{
    return encode_seq(pl, m, 0, buf, cap, len);
}

/* The finality proof of our block at height into buf. */
static int own_proof(peerlink_t *pl, uint64_t height, uint8_t *buf, size_t cap, size_t *len)
{
    block_header_t h;
    commit_cert_t *cert = malloc(sizeof(*cert));
    uint8_t hb[BLOCK_HEADER_MAX], *cb = malloc(COMMIT_CERT_MAX);
    ipc_msg_t m = { .kind = IPC_FINALITY };
    int rc = -ENOMEM;
    if (cert && cb &&
        (rc = ledger_get_block(chain_ledger(pl->cfg.chain), height, &h, NULL, cert)) == 0 &&
        (rc = block_header_encode(&h, hb, sizeof(hb), &m.u.finality.header_len)) == 0 &&
        (rc = commit_cert_encode(cert, cb, COMMIT_CERT_MAX, &m.u.finality.cert_len)) == 0) {
        m.u.finality.header = hb;
        m.u.finality.cert = cb;
        rc = encode(pl, &m, buf, cap, len);
    }
    free(cert);
    free(cb);
    return rc;
}

/* Messages that go together: a block's attestations, then its proof. */
typedef struct {
    uint8_t **buf;
    size_t *len;
    size_t n, cap;
} msgs_t;

static int msgs_add(msgs_t *m, const uint8_t *b, size_t len)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 8;
        uint8_t **nb = realloc(m->buf, cap * sizeof(*nb));
        if (nb)
            m->buf = nb;
        size_t *nl = nb ? realloc(m->len, cap * sizeof(*nl)) : NULL;
        if (!nl)
            return -ENOMEM;
        m->len = nl;
        m->cap = cap;
    }
    if (!(m->buf[m->n] = malloc(len ? len : 1)))
        return -ENOMEM;
    memcpy(m->buf[m->n], b, len);
    m->len[m->n++] = len;
    return 0;
}

static void msgs_free(msgs_t *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->buf[i]);
    free(m->buf);
    free(m->len);
    memset(m, 0, sizeof(*m));
}

typedef struct {
    peerlink_t *pl;
    uint64_t height;
    msgs_t *out;
} attest_ctx_t;

/* One bridge-out of our block: "it is final at this height", signed with
 * the node's validator key, as an attestation message. */
static int attest_one(void *ctx, const bridge_transfer_t *b)
{
    attest_ctx_t *a = ctx;
    peerlink_t *pl = a->pl;
    const keys_pair_t *key = chain_key(pl->cfg.chain);
    ipc_bridge_stmt_t bs = { .amount = b->amount };
    uint8_t stmt[IPC_BRIDGE_STMT_MAX];
    ipc_msg_t m = { .kind = IPC_ATTESTATION };
    size_t sl, n;
    int rc;
    memcpy(bs.id, b->id, sizeof(bs.id));
    memcpy(bs.recipient, b->recipient, sizeof(bs.recipient));
    snprintf(bs.asset, sizeof(bs.asset), "%s", b->asset);
    m.u.attest = (ipc_attestation_t){ .stmt_kind = IPC_STMT_BRIDGE_OUT_FINAL, .stmt = stmt,
                                      .height = a->height };
    if ((rc = ipc_bridge_stmt_encode(&bs, stmt, sizeof(stmt), &sl)) < 0)
        return rc;
    m.u.attest.stmt_len = sl;
    if ((rc = peer_attest_sign(&m.u.attest, pl->self_g->chain_id, key->pk, key->sk)) < 0 ||
        (rc = encode(pl, &m, pl->buf, pl->buf_cap, &n)) < 0)
        return rc;
    return msgs_add(a->out, pl->buf, n);
}

/* Our block at height as the peer is to take it: an attestation for each
 * bridge-out, then the finality proof (so that a peer which has stored
 * the header has stored its attestations). */
static int own_height(peerlink_t *pl, uint64_t height, msgs_t *out)
{
    attest_ctx_t a = { pl, height, out };
    size_t n;
    int rc = 0;
    if (pl->cfg.ops->bridge_outs)
        rc = pl->cfg.ops->bridge_outs(link_sql(pl), height, attest_one, &a);
    if (rc == 0 && (rc = own_proof(pl, height, pl->buf, pl->buf_cap, &n)) == 0)
        rc = msgs_add(out, pl->buf, n);
    return rc;
}

static void want_catchup(peerlink_t *pl)
{
    uint8_t buf[IPC_ENVELOPE_MAX + 16];
    size_t n;
    ipc_msg_t m = { .kind = IPC_CATCHUP };
    pl->need_catchup = true;
    if (!pl->client || pl->want_seq)
        return;
    m.u.catchup.from_height = pl->tip.height + 1;
    m.u.catchup.max = LINK_CATCHUP_BATCH;
    if (encode(pl, &m, buf, sizeof(buf), &n) < 0)
        return;
    /* DEALER to the peer's ROUTER: an empty delimiter, then the request. */
    if (zmq_send(pl->client, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(pl->client, buf, n, ZMQ_DONTWAIT) < 0) {
        log_debug("catchup_unsent", "peer=%s reason=\"%s\"", pl->cfg.peer, zmq_strerror(errno));
        return;
    }
    pl->want_seq = m.seq;
    pl->want_sent_ns = m.sent_ns;
    count_msg(pl, "out", IPC_CATCHUP, "zmq");
    log_debug("catchup_asked", "peer=%s from=%llu", pl->cfg.peer,
              (unsigned long long)m.u.catchup.from_height);
}

/* Answer one catch-up request on the server socket: frames id, "", a
 * catch-up envelope saying what follows (first height, how many heights),
 * then for each height its attestations and its proof; whole heights, at
 * most LINK_CATCHUP_BATCH of them and (after the first) about
 * LINK_CATCHUP_FRAMES frames. */
static void serve_catchup(peerlink_t *pl, zmq_msg_t *id, const ipc_msg_t *req)
{
    ledger_tip_t tip;
    uint64_t from = req->u.catchup.from_height ? req->u.catchup.from_height : 1, lowest = 0;
    uint32_t max = req->u.catchup.max < LINK_CATCHUP_BATCH ? req->u.catchup.max
                                                           : LINK_CATCHUP_BATCH;
    uint8_t head[IPC_ENVELOPE_MAX + 16];
    msgs_t out = { 0 };
    uint32_t heights = 0;
    size_t n;
    chain_tip(pl->cfg.chain, &tip);
    /* Pruned blocks are gone: answer from the lowest kept, and say so. */
    if (prune_lowest_height(link_sql(pl), &lowest) == 0 && lowest > from)
        from = lowest;
    while (heights < max && from + heights <= tip.height &&
           (heights == 0 || out.n < LINK_CATCHUP_FRAMES) &&
           own_height(pl, from + heights, &out) == 0)
        heights++;
    ipc_msg_t m = { .kind = IPC_CATCHUP, .u.catchup = { from, heights } };
    /* The answer carries the request's seq: the asker knows what it answers. */
    if (encode_seq(pl, &m, req->seq, head, sizeof(head), &n) == 0) {
        zmq_msg_send(id, pl->server, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send(pl->server, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send(pl->server, head, n, out.n ? ZMQ_SNDMORE | ZMQ_DONTWAIT : ZMQ_DONTWAIT);
        for (size_t i = 0; i < out.n; i++) {
            zmq_send(pl->server, out.buf[i], out.len[i],
                     i + 1 < out.n ? ZMQ_SNDMORE | ZMQ_DONTWAIT : ZMQ_DONTWAIT);
            count_msg(pl, "out", out.buf[i][1], "zmq");
        }
    }
    msgs_free(&out);
}

/* The roots of our state trees at height into r, and the index of the
 * queried one (r->tree). Return 0, or a status for the reply. */
static int state_roots(peerlink_t *pl, ipc_state_reply_t *r, uint64_t height)
{
    const chain_ops_t *ops = pl->cfg.ops;
    ledger_tip_t tip;
    size_t i, which = ops->n_state_trees;
    chain_tip(pl->cfg.chain, &tip);
    for (i = 0; i < ops->n_state_trees; i++)
        if (strcmp(ops->state_trees[i], r->tree) == 0)
            which = i;
    if (which == ops->n_state_trees || ops->n_state_trees > IPC_ROOTS_MAX)
        return IPC_STATE_UNKNOWN_TREE;
    if (r->key_len != SMT_KEY_LEN)
        return IPC_STATE_BAD_KEY;
    if (height == 0 || height > tip.height)
        return IPC_STATE_UNKNOWN_HEIGHT;
    for (i = 0; i < ops->n_state_trees; i++) {
        int rc = tree_root_at(link_sql(pl), ops->state_trees[i], height, r->roots[i], NULL);
        if (rc == -ESTALE)
            return IPC_STATE_PRUNED;
        if (rc < 0)
            return rc;
    }
    r->n_roots = (uint8_t)ops->n_state_trees;
    r->root_index = (uint8_t)which;
    snprintf(r->root_tag, sizeof(r->root_tag), "%s", ops->state_root_tag ? ops->state_root_tag : "");
    return IPC_STATE_PRESENT;
}

/* Answer a state query: the key's proof in the asked tree at the asked
 * height, with the roots that make that height's state root. A query we
 * cannot read the ledger for gets no answer (the asker times out). */
static void serve_state(peerlink_t *pl, zmq_msg_t *id, const ipc_msg_t *req)
{
    const ipc_state_query_t *q = &req->u.query;
    ipc_msg_t m = { .kind = IPC_STATE_REPLY };
    ipc_state_reply_t *r = &m.u.reply;
    smt_proof_t *proof = malloc(sizeof(*proof));
    uint8_t *pbuf = malloc(SMT_PROOF_MAX);
    size_t n = 0;
    int st;
    r->query_id = q->query_id;
    r->height = q->height;
    snprintf(r->tree, sizeof(r->tree), "%s", q->tree);
    r->key = q->key;
    r->key_len = q->key_len;
    r->n_roots = 1; /* a refusal carries one zero root */
    if (!proof || !pbuf || (st = state_roots(pl, r, q->height)) < 0)
        goto out;
    if (st == IPC_STATE_PRESENT) {
        if (tree_prove(link_sql(pl), r->tree, q->height, q->key, proof) < 0 ||
            smt_proof_encode(proof, pbuf, SMT_PROOF_MAX, &r->proof_len) < 0)
            goto out;
        r->proof = pbuf;
        bool here = proof->has_leaf && memcmp(proof->leaf_key, q->key, SMT_KEY_LEN) == 0;
        st = here ? IPC_STATE_PRESENT : IPC_STATE_ABSENT;
        if (here) {
            r->value = proof->leaf_value;
            r->value_len = SMT_HASH_LEN;
        }
    }
    r->status = (uint8_t)st;
    if (encode_seq(pl, &m, req->seq, pl->buf, pl->buf_cap, &n) < 0)
        goto out;
    zmq_msg_send(id, pl->server, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(pl->server, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(pl->server, pl->buf, n, ZMQ_DONTWAIT);
    count_msg(pl, "out", IPC_STATE_REPLY, "zmq");
out:
    free(proof);
    free(pbuf);
}

/* Read one whole multipart message into frames (at most max; the rest
 * dropped). Return the number of frames read, 0 when none waits, or -errno. */
static int recv_frames(void *sock, zmq_msg_t *frames, int max)
{
    int n = 0, more = 1, total = 0;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0) {
            int e = errno;
            zmq_msg_close(&part);
            return total ? n : (e == EAGAIN ? 0 : -e);
        }
        more = zmq_msg_more(&part);
        total++;
        if (n < max)
            zmq_msg_move(&frames[n++], &part);
        zmq_msg_close(&part);
    }
    return n;
}

static bool readable(void *sock)
{
    int events = 0;
    size_t sz = sizeof(events);
    return zmq_getsockopt(sock, ZMQ_EVENTS, &events, &sz) == 0 && (events & ZMQ_POLLIN);
}

static void on_server(struct ev_loop *loop, ev_io *io, int revents)
{
    peerlink_t *pl = io->data;
    zmq_msg_t f[3];
    (void)loop;
    (void)revents;
    while (readable(pl->server)) {
        for (int i = 0; i < 3; i++)
            zmq_msg_init(&f[i]);
        int n = recv_frames(pl->server, f, 3);
        ipc_msg_t m;
        reject_t why = { 0 };
        bool ok = n == 3 && zmq_msg_size(&f[1]) == 0 &&
                  ipc_msg_decode(&m, zmq_msg_data(&f[2]), zmq_msg_size(&f[2]), NULL) == 0 &&
                  (m.kind == IPC_CATCHUP || m.kind == IPC_STATE_QUERY);
        if (ok)
            count_msg(pl, "in", m.kind, "zmq");
        if (ok && m.kind == IPC_CATCHUP)
            serve_catchup(pl, &f[0], &m);
        else if (ok)
            serve_state(pl, &f[0], &m);
        else if (n > 0) {
            reject(&why, -EINVAL, "malformed", "a request of %d frames that is neither a "
                   "catch-up nor a state query", n);
            refuse(pl, "zmq", &why);
        }
        for (int i = 0; i < 3; i++)
            zmq_msg_close(&f[i]);
        if (n <= 0)
            break;
    }
}

/* The answer to our catch-up request: "", the head, the proofs. */
static void take_catchup(peerlink_t *pl, zmq_msg_t *f, int n)
{
    ipc_msg_t head;
    if (n < 2 || zmq_msg_size(&f[0]) != 0 ||
        ipc_msg_decode(&head, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), NULL) < 0 ||
        head.kind != IPC_CATCHUP || head.seq != pl->want_seq)
        return; /* not the answer awaited (a late one): the request stands */
    uint64_t now = clock_mono_ns();
    metrics_observe(pl->cfg.metrics, "adnet_ipc_latency_seconds",
                    "Time from a message's sending to its taking, by path.", "via=\"zmq\"",
                    LINK_BUCKETS, LINK_NBUCKETS, (double)(now - pl->want_sent_ns) / 1e9);
    uint64_t before = pl->tip.height;
    pl->want_seq = 0;
    pl->need_catchup = false;
    /* An answer that starts above what we asked for: the peer pruned the
     * heights between, so its first proof may stand after a gap. */
    pl->skip_to = head.u.catchup.from_height > before + 1 ? head.u.catchup.from_height : 0;
    for (int i = 2; i < n && zmq_msg_size(&f[i]) > 0; i++)
        take_message(pl, zmq_msg_data(&f[i]), zmq_msg_size(&f[i]), "zmq");
    txn_close(pl);
    pl->skip_to = 0;
    bool more = head.u.catchup.max == LINK_CATCHUP_BATCH || pl->seen_max > pl->tip.height;
    /* At once only while answers make progress; else the retry timer asks
     * again (a locked ledger, a peer sending what we refuse). */
    if (more && pl->tip.height > before && !pl->need_catchup)
        want_catchup(pl);
    else if (more)
        pl->need_catchup = true;
    if (n - 2 > 0)
        log_info("peer_caught_up", "peer=%s height=%llu received=%d", pl->cfg.peer,
                 (unsigned long long)pl->tip.height, n - 2);
}

/* Read one whole multipart message of any number of frames into *out
 * (grown as needed; the caller closes and frees them). Return the number
 * of frames, 0 when none waits, or -errno. */
static int recv_all(void *sock, zmq_msg_t **out, int *cap)
{
    int n = 0, more = 1;
    while (more) {
        if (n == *cap) {
            int c = *cap ? 2 * *cap : 64;
            zmq_msg_t *f = realloc(*out, (size_t)c * sizeof(*f));
            if (!f)
                return -ENOMEM; /* the rest of the message is dropped with the socket's next read */
            *out = f;
            *cap = c;
        }
        zmq_msg_init(&(*out)[n]);
        if (zmq_msg_recv(&(*out)[n], sock, ZMQ_DONTWAIT) < 0) {
            int e = errno;
            zmq_msg_close(&(*out)[n]);
            return n ? n : (e == EAGAIN ? 0 : -e);
        }
        more = zmq_msg_more(&(*out)[n]);
        n++;
    }
    return n;
}

static void on_client(struct ev_loop *loop, ev_io *io, int revents)
{
    peerlink_t *pl = io->data;
    zmq_msg_t *f = NULL;
    int cap = 0;
    (void)loop;
    (void)revents;
    while (readable(pl->client)) {
        int n = recv_all(pl->client, &f, &cap);
        if (n > 0)
            take_catchup(pl, f, n);
        for (int i = 0; i < n; i++)
            zmq_msg_close(&f[i]);
        if (n <= 0)
            break;
    }
    free(f);
}

static void on_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
    peerlink_t *pl = t->data;
    (void)loop;
    (void)revents;
    if (pl->want_seq && clock_mono_ns() - pl->want_sent_ns > (uint64_t)(LINK_RETRY_S * 1e9))
        pl->want_seq = 0; /* unanswered (the peer was down): ask again */
    if (!pl->want_seq && (pl->need_catchup || pl->seen_max > pl->tip.height))
        want_catchup(pl);
    ring_gauges(pl);
}

static int zsock(peerlink_t *pl, int type, const char *endpoint, bool bind, void **out, int *fd)
{
    int zero = 0, one = 1;
    int64_t max = (int64_t)IPC_MSG_MAX;
    size_t sz = sizeof(*fd);
    void *s = zmq_socket(pl->zctx, type);
    if (!s || zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof(max)) < 0 ||
        (!bind && zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof(one)) < 0) ||
        (bind ? zmq_bind(s, endpoint) : zmq_connect(s, endpoint)) < 0 ||
        zmq_getsockopt(s, ZMQ_FD, fd, &sz) < 0) {
        int e = errno;
        if (s)
            zmq_close(s);
        return -e;
    }
    *out = s;
    return 0;
}

static int open_zmq(peerlink_t *pl, char *err, size_t errlen)
{
    char mine[PATH_MAX + 8], theirs[PATH_MAX + 8];
    int rc;
    if (snprintf(mine, sizeof(mine), "ipc://%s/run/%s.ipc", pl->home, pl->self) >= 108 ||
        snprintf(theirs, sizeof(theirs), "ipc://%s/run/%s.ipc", pl->home, pl->cfg.peer) >= 108) {
        snprintf(err, errlen, "%s/run: path too long for an ipc socket", pl->home);
        return -ENAMETOOLONG;
    }
    snprintf(pl->peer_ep, sizeof(pl->peer_ep), "%s", theirs);
    unlink(mine + strlen("ipc://")); /* left by a killed worker */
    if (!(pl->zctx = zmq_ctx_new()) ||
        (rc = zsock(pl, ZMQ_ROUTER, mine, true, &pl->server, &pl->server_fd)) < 0 ||
        (rc = zsock(pl, ZMQ_DEALER, theirs, false, &pl->client, &pl->client_fd)) < 0) {
        rc = -errno;
        snprintf(err, errlen, "zmq (%s, %s): %s", mine, theirs, zmq_strerror(errno));
        return rc ? rc : -EIO;
    }
    ev_io_init(&pl->server_io, on_server, pl->server_fd, EV_READ);
    ev_io_init(&pl->client_io, on_client, pl->client_fd, EV_READ);
    pl->server_io.data = pl->client_io.data = pl;
    ev_io_start(pl->cfg.loop, &pl->server_io);
    ev_io_start(pl->cfg.loop, &pl->client_io);
    return 0;
}

/* ---- asking the peer about its state (any thread) ------------------------ */

/* One request and its answer on a socket of our own: ZeroMQ sockets are
 * not thread-safe, the context is. Return the answer's length, or a
 * negative code. */
static int ask(peerlink_t *pl, const uint8_t *req, size_t len, uint8_t *ans, size_t cap,
               int timeout_ms)
{
    int zero = 0, rc;
    void *s = zmq_socket(pl->zctx, ZMQ_REQ);
    if (!s)
        return -errno;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof(timeout_ms));
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout_ms, sizeof(timeout_ms));
    if (zmq_connect(s, pl->peer_ep) < 0 || zmq_send(s, req, len, 0) < 0 ||
        (rc = zmq_recv(s, ans, cap, 0)) < 0)
        rc = -errno;
    else if ((size_t)rc > cap)
        rc = -EMSGSIZE;
    zmq_close(s);
    return rc;
}

int peerlink_state(peerlink_t *pl, const char *tree, const uint8_t *key, size_t key_len,
                   uint64_t height, const uint8_t state_root[BLOCK_HASH_LEN], peer_state_t *out,
                   reject_t *why)
{
    ipc_msg_t m = { .kind = IPC_STATE_QUERY }, a;
    uint8_t req[IPC_ENVELOPE_MAX + 64 + IPC_TREE_NAME_MAX + IPC_KEY_MAX];
    uint8_t *ans = malloc(IPC_MSG_MAX);
    size_t n;
    uint64_t t0 = clock_mono_ns(), id;
    int rc;
    if (!ans)
        return reject(why, -ENOMEM, "internal", "out of memory");
    randombytes_buf(&id, sizeof(id));
    id |= 1; /* never 0: encode_seq would take our counter */
    m.u.query = (ipc_state_query_t){ .query_id = id, .height = height, .key = key,
                                     .key_len = key_len };
    snprintf(m.u.query.tree, sizeof(m.u.query.tree), "%s", tree);
    if ((rc = encode_seq(pl, &m, id, req, sizeof(req), &n)) < 0) {
        rc = reject(why, -EINVAL, "bad_key", "a key of %zu bytes or a tree name over %d",
                    key_len, IPC_TREE_NAME_MAX);
        goto out;
    }
    count_msg(pl, "out", IPC_STATE_QUERY, "zmq");
    if ((rc = ask(pl, req, n, ans, IPC_MSG_MAX, LINK_QUERY_TIMEOUT_MS)) < 0) {
        rc = reject(why, -ETIMEDOUT, "peer_unavailable", "%s did not answer within %d ms (%s)",
                    pl->cfg.peer, LINK_QUERY_TIMEOUT_MS, zmq_strerror(-rc));
        goto out;
    }
    if (ipc_msg_decode(&a, ans, (size_t)rc, NULL) < 0 || a.kind != IPC_STATE_REPLY ||
        strcmp(a.source, pl->peer->chain_id) != 0 || a.u.reply.query_id != id) {
        rc = reject(why, -EPROTO, "wrong_answer", "%s answered something else", pl->cfg.peer);
        goto out;
    }
    count_msg(pl, "in", IPC_STATE_REPLY, "zmq");
    metrics_observe(pl->cfg.metrics, "adnet_ipc_latency_seconds",
                    "Time from a message's sending to its taking, by path.", "via=\"zmq\"",
                    LINK_BUCKETS, LINK_NBUCKETS, (double)(clock_mono_ns() - t0) / 1e9);
    rc = peer_check_state_reply(&a.u.reply, tree, key, key_len, height, state_root, out, why);
out:
    if (rc == -EPROTO) { /* counted and logged here: refuse()'s limiter is the loop's */
        char labels[96];
        snprintf(labels, sizeof(labels), "reason=\"%s\"", why->code);
        metrics_counter_add(pl->cfg.metrics, "adnet_ipc_refused_total",
                            "Messages from the peer worker refused, by reason.", labels, 1);
        log_warn("ipc_refused", "peer=%s via=zmq reason=%s msg=\"%s\"", pl->cfg.peer, why->code,
                 why->message);
    }
    free(ans);
    return rc;
}

const char *peerlink_peer(const peerlink_t *pl)
{
    return pl ? pl->cfg.peer : NULL;
}

/* ---- start, publish, stop ------------------------------------------------ */

/* The peer's genesis, and its validators; the one our genesis names (if
 * it names one) must be that very file. */
static int load_peer(peerlink_t *pl, char *err, size_t errlen)
{
    char path[PATH_MAX], gerr[GENESIS_ERR_MAX];
    genesis_t *g = malloc(sizeof(*g));
    int rc = -ENOMEM;
    if (!g || !(pl->peer = malloc(sizeof(*pl->peer))))
        goto out;
    if ((rc = fs_path(path, sizeof(path), "%s/%s/genesis.json", pl->home, pl->cfg.peer)) < 0 ||
        (rc = genesis_load(g, path, pl->cfg.peer, gerr)) < 0) {
        snprintf(err, errlen, "peer genesis: %s", gerr);
        goto out;
    }
    if (pl->self_g->has_peer_genesis && strcmp(pl->self_g->peer_chain, pl->cfg.peer) == 0 &&
        memcmp(pl->self_g->peer_genesis_hash, g->hash, BLOCK_HASH_LEN) != 0) {
        snprintf(err, errlen, "%s is not the %s genesis this chain's genesis names", path,
                 pl->cfg.peer);
        rc = -EINVAL;
        goto out;
    }
    if ((rc = peer_set_from_genesis(pl->peer, g)) < 0)
        snprintf(err, errlen, "%s: no validators with power", path);
out:
    free(g);
    return rc;
}

int peerlink_start(peerlink_t **out, const peerlink_config_t *cfg, char *err, size_t errlen)
{
    peerlink_t *pl = calloc(1, sizeof(*pl));
    uint64_t time_ms = 0;
    int rc = -ENOMEM;
    if (!pl) {
        snprintf(err, errlen, "out of memory");
        for (int i = 0; cfg->fd_base >= 0 && i < 4; i++)
            close(cfg->fd_base + i);
        return rc;
    }
    for (int i = 0; i < 4; i++)
        pl->fds[i] = cfg->fd_base >= 0 ? cfg->fd_base + i : -1;
    pl->cfg = *cfg;
    pl->server_fd = pl->client_fd = -1;
    snprintf(pl->home, sizeof(pl->home), "%s", cfg->home);
    pl->cfg.home = pl->home;
    pl->self_g = chain_genesis(cfg->chain);
    snprintf(pl->self, sizeof(pl->self), "%s", pl->self_g->chain);
    pl->seq = clock_wall_ms() * 1000; /* rising across restarts too */
    pl->buf_cap = IPC_MSG_MAX;
    if (!(pl->buf = malloc(pl->buf_cap))) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if ((rc = load_peer(pl, err, errlen)) < 0)
        goto out;
    if ((rc = peertab_tip(link_sql(pl), cfg->peer, &pl->tip.height, pl->tip.hash, &time_ms)) < 0) {
        snprintf(err, errlen, "peer_headers: %s", sql_errmsg(link_sql(pl)));
        goto out;
    }
    if (cfg->fd_base >= 0 && (rc = attach_rings(pl, err, errlen)) < 0)
        goto out;
    if ((rc = open_zmq(pl, err, errlen)) < 0)
        goto out;
    ev_timer_init(&pl->retry, on_retry, LINK_RETRY_S, LINK_RETRY_S);
    pl->retry.data = pl;
    ev_timer_start(cfg->loop, &pl->retry);
    if (pl->tip.height)
        gauge_peer(pl, time_ms);
    want_catchup(pl);
    if (pl->in)
        drain_ring(pl); /* what came while we were down; parks at the end */
    log_info("peer_link", "peer=%s chain_id=%s validators=%zu stored_height=%llu rings=%s",
             cfg->peer, pl->peer->chain_id, pl->peer->n_validators,
             (unsigned long long)pl->tip.height, pl->in ? "yes" : "no");
    *out = pl;
    pl = NULL;
    rc = 0;
out:
    peerlink_stop(pl);
    return rc;
}

void peerlink_block_committed(peerlink_t *pl, uint64_t height)
{
    msgs_t out = { 0 };
    if (!pl || !pl->out)
        return;
    int rc = own_height(pl, height, &out);
    /* All of the block's messages or none: a peer that misses some sees a
     * gap at the next height and asks for the whole block again. */
    if (rc == 0 && ring_room(pl->out) < out.n) {
        metrics_counter_add(pl->cfg.metrics, "adnet_ipc_ring_overflows_total",
                            "Messages not sent because the ring to the peer was full "
                            "(the peer catches up over ZeroMQ).", NULL, (double)out.n);
        rc = -ENOBUFS;
    }
    for (size_t i = 0; rc == 0 && i < out.n; i++)
        if ((rc = ring_push(pl->out, out.buf[i], out.len[i])) == 0)
            count_msg(pl, "out", out.buf[i][1], "ring");
    if (rc < 0 && rc != -ENOBUFS)
        log_warn("finality_unsent", "peer=%s height=%llu reason=\"%s\"", pl->cfg.peer,
                 (unsigned long long)height, strerror(-rc));
    msgs_free(&out);
    ring_gauges(pl);
}

void peerlink_stop(peerlink_t *pl)
{
    if (!pl)
        return;
    if (pl->in_txn)
        txn_close(pl);
    if (pl->cfg.loop) {
        ev_io_stop(pl->cfg.loop, &pl->wake_io);
        ev_io_stop(pl->cfg.loop, &pl->server_io);
        ev_io_stop(pl->cfg.loop, &pl->client_io);
        ev_timer_stop(pl->cfg.loop, &pl->retry);
    }
    if (pl->server)
        zmq_close(pl->server);
    if (pl->client)
        zmq_close(pl->client);
    if (pl->zctx)
        zmq_ctx_term(pl->zctx);
    ring_detach(pl->out);
    ring_detach(pl->in);
    for (int i = 0; i < 4; i++)
        if (pl->fds[i] >= 0)
            close(pl->fds[i]);
    free(pl->peer);
    free(pl->buf);
    free(pl);
}
