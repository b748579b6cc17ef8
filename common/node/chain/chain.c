#include "common/node/chain/chain.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/hex.h"
#include "common/node/mempool/mempool.h"
#include "common/store/stmtcache.h"

struct chain {
    const chain_ops_t *ops;
    ledger_t *ledger;
    genesis_t genesis;
    keys_pair_t key;
    ledger_tip_t tip;
    void *state;                 /* the chain's in-memory state (ops->state_open) */
    bool admitting;              /* inside chain_admit_begin/end */
    sqlite3_stmt *sp_begin, *sp_release, *sp_rollback; /* the per-transaction savepoint */
    sqlite3_stmt *check_begin, *check_rollback; /* admission checks run in a transaction never committed */
    sqlite3_stmt *chk_begin, *chk_rollback, *chk_release; /* one savepoint per check in it */
    /* Scratch for one block: ids and pool entries of included transactions. */
    uint8_t (*ids)[TX_ID_LEN];
    const mempool_entry_t **picked;
    size_t scratch_cap;
};

ledger_t *chain_ledger(chain_t *c)
{
    return c->ledger;
}

const genesis_t *chain_genesis(const chain_t *c)
{
    return &c->genesis;
}

void chain_tip(const chain_t *c, ledger_tip_t *out)
{
    *out = c->tip;
}

static int chain_check_meta(chain_t *c, char err[CHAIN_ERR_MAX])
{
    char want_hash[2 * BLOCK_HASH_LEN + 1], have_id[BLOCK_CHAIN_ID_MAX + 1], have_hash[80];
    hex_encode(want_hash, c->genesis.hash, BLOCK_HASH_LEN);
    int r = ledger_meta_get(c->ledger, "chain_id", have_id, sizeof(have_id));
    if (r == -ENOENT) {
        /* A new ledger: record what it belongs to, and the genesis state. */
        if ((r = ledger_begin(c->ledger)) < 0)
            goto sqlerr;
        if ((r = ledger_meta_set(c->ledger, "chain_id", c->genesis.chain_id)) < 0 ||
            (r = ledger_meta_set(c->ledger, "chain", c->ops->name)) < 0 ||
            (r = ledger_meta_set(c->ledger, "genesis_hash", want_hash)) < 0) {
            ledger_rollback(c->ledger);
            goto sqlerr;
        }
        if ((r = c->ops->genesis_init(ledger_db(c->ledger), &c->genesis, err, CHAIN_ERR_MAX)) < 0) {
            ledger_rollback(c->ledger);
            return r;
        }
        if ((r = ledger_commit(c->ledger)) < 0)
            goto sqlerr;
        return 0;
    }
    if (r < 0)
        goto sqlerr;
    if ((r = ledger_meta_get(c->ledger, "genesis_hash", have_hash, sizeof(have_hash))) < 0)
        goto sqlerr;
    if (strcmp(have_id, c->genesis.chain_id) != 0 || strcmp(have_hash, want_hash) != 0) {
        snprintf(err, CHAIN_ERR_MAX,
                 "ledger belongs to chain %s with genesis %.16s..., not %s with genesis "
                 "%.16s...; move it away or point --home at its own home",
                 have_id, have_hash, c->genesis.chain_id, want_hash);
        return -ENOTUNIQ;
    }
    return 0;
sqlerr:
    snprintf(err, CHAIN_ERR_MAX, "ledger: %s", ledger_errmsg(c->ledger));
    return r < 0 ? r : -EIO;
}

static int chain_sign(chain_t *c, const block_header_t *h, const uint8_t hash[BLOCK_HASH_LEN],
                      commit_cert_t *cert)
{
    uint8_t msg[128];
    int n = commit_sign_bytes(h->chain_id, h->height, hash, msg, sizeof(msg));
    if (n < 0)
        return n;
    memset(cert, 0, sizeof(*cert));
    cert->height = h->height;
    memcpy(cert->block_hash, hash, BLOCK_HASH_LEN);
    cert->n_sigs = 1;
    memcpy(cert->sigs[0].validator, c->key.pk, BLOCK_KEY_LEN);
    crypto_sign_detached(cert->sigs[0].sig, NULL, msg, (unsigned long long)n, c->key.sk);
    return 0;
}

int chain_open(chain_t **out, const chain_ops_t *ops, const char *ledger_path,
               const genesis_t *g, const keys_pair_t *key, char err[CHAIN_ERR_MAX])
{
    int r = 0;
    char lerr[LEDGER_ERR_MAX];
    chain_t *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, CHAIN_ERR_MAX, "out of memory");
        return -ENOMEM;
    }
    c->ops = ops;
    c->genesis = *g;
    c->key = *key;

    if (strcmp(g->chain, ops->name) != 0) {
        snprintf(err, CHAIN_ERR_MAX, "genesis is for chain %s, not %s", g->chain, ops->name);
        r = -EINVAL;
        goto out;
    }
    uint64_t mine = genesis_power_of(g, key->pk), total = genesis_total_power(g);
    if (mine == 0 || mine * 3 < total * 2) { /* genesis caps total power at 2^60 */
        char pk[2 * BLOCK_KEY_LEN + 1];
        hex_encode(pk, key->pk, BLOCK_KEY_LEN);
        snprintf(err, CHAIN_ERR_MAX,
                 "validator key %.16s... holds %llu of %llu voting power; a node commits "
                 "blocks alone only with at least 2/3", pk, (unsigned long long)mine,
                 (unsigned long long)total);
        r = -EPERM;
        goto out;
    }
    if ((r = ledger_open(&c->ledger, ledger_path, ops->schema, lerr)) < 0) {
        snprintf(err, CHAIN_ERR_MAX, "%s", lerr);
        goto out;
    }
    if ((r = chain_check_meta(c, err)) < 0)
        goto out;
    if ((r = ledger_tip(c->ledger, &c->tip)) < 0) {
        snprintf(err, CHAIN_ERR_MAX, "ledger: %s", ledger_errmsg(c->ledger));
        goto out;
    }
    sqlite3 *db = ledger_db(c->ledger);
    /* The writer's hot path runs the same statements every transaction. */
    if ((r = stmt_cache_attach(db)) < 0) {
        snprintf(err, CHAIN_ERR_MAX, "statement cache: %s", strerror(-r));
        goto out;
    }
    if (sqlite3_prepare_v2(db, "SAVEPOINT tx", -1, &c->sp_begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "RELEASE tx", -1, &c->sp_release, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "ROLLBACK TO tx", -1, &c->sp_rollback, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "BEGIN", -1, &c->check_begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "ROLLBACK", -1, &c->check_rollback, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SAVEPOINT chk", -1, &c->chk_begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "ROLLBACK TO chk", -1, &c->chk_rollback, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "RELEASE chk", -1, &c->chk_release, NULL) != SQLITE_OK) {
        snprintf(err, CHAIN_ERR_MAX, "ledger: %s", sqlite3_errmsg(db));
        r = -EIO;
        goto out;
    }
    if ((r = ops->state_open(&c->state, db, &c->genesis, err, CHAIN_ERR_MAX)) < 0)
        goto out;
    *out = c;
    c = NULL;
out:
    chain_close(c);
    return r;
}

void chain_close(chain_t *c)
{
    if (!c)
        return;
    if (c->state)
        c->ops->state_close(c->state);
    sqlite3_finalize(c->sp_begin);
    sqlite3_finalize(c->sp_release);
    sqlite3_finalize(c->sp_rollback);
    sqlite3_finalize(c->check_begin);
    sqlite3_finalize(c->check_rollback);
    sqlite3_finalize(c->chk_begin);
    sqlite3_finalize(c->chk_rollback);
    sqlite3_finalize(c->chk_release);
    if (c->ledger)
        stmt_cache_detach(ledger_db(c->ledger));
    ledger_close(c->ledger);
    keys_wipe(&c->key);
    free(c->ids);
    free(c->picked);
    free(c);
}

int chain_precheck_tx(const genesis_t *g, const uint8_t *bytes, size_t len, tx_t *tx,
                      uint8_t id[TX_ID_LEN], reject_t *why)
{
    tx_t t;
    const char *what = NULL;
    if (len > TX_MAX_BYTES)
        return reject(why, -EMSGSIZE, "too_large", "transaction of %zu bytes exceeds %d", len,
                      TX_MAX_BYTES);
    int r = tx_decode(&t, bytes, len, &what);
    if (r == -EPROTONOSUPPORT)
        return reject(why, r, "unsupported_version",
                      "transaction format version %u is not supported (this node: %d)",
                      len ? bytes[0] : 0, TX_FORMAT_VERSION);
    if (r < 0)
        return reject(why, r, "malformed", "malformed transaction: bad or truncated %s",
                      what ? what : "bytes");
    if (strcmp(t.chain_id, g->chain_id) != 0)
        return reject(why, -EINVAL, "wrong_chain", "transaction is for chain %s, this is %s",
                      t.chain_id, g->chain_id);
    if (t.fee < g->min_fee)
        return reject(why, -EINVAL, "fee_too_low", "fee %llu is below the minimum %llu %s",
                      (unsigned long long)t.fee, (unsigned long long)g->min_fee, g->fee_asset);
    if (tx_verify(&t, bytes, len) < 0)
        return reject(why, -EBADMSG, "bad_signature",
                      "the signature does not verify for the sender's key");
    tx_id(bytes, len, id);
    *tx = t;
    return 0;
}

/* The governance verifier stage. Every transaction passes through here,
 * at admission and when a block is built; governance actions (program
 * deployments, registry changes, network upgrades) will be held to the
 * governors' attestations here. No transaction kind defined so far is a
 * governance action, so none is held. */
static int chain_govern(const chain_t *c, const tx_t *tx, reject_t *why)
{
    (void)c;
    (void)tx;
    (void)why;
    return 0;
}

static void chain_exec_init(const chain_t *c, chain_exec_t *x, uint64_t height, uint64_t time_ms)
{
    memset(x, 0, sizeof(*x));
    x->db = ledger_db(c->ledger);
    x->genesis = &c->genesis;
    x->height = height;
    x->time_ms = time_ms;
    x->proposer = c->key.pk;
}

static int step(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

int chain_admit_begin(chain_t *c)
{
    if (c->admitting)
        return -EINVAL;
    if (step(c->check_begin) < 0)
        return -EIO;
    c->admitting = true;
    return 0;
}

void chain_admit_end(chain_t *c)
{
    if (!c->admitting)
        return;
    step(c->check_rollback);
    c->admitting = false;
}

int chain_admit_tx(chain_t *c, mempool_t *pool, const tx_t *tx, const uint8_t id[TX_ID_LEN],
                   const uint8_t *bytes, size_t len, uint64_t now_ms, reject_t *why)
{
    uint64_t next = c->tip.height + 1;
    int r;
    if (tx->expiry_height < next)
        return reject(why, -EINVAL, "expired", "transaction expired at height %llu; the next "
                      "block is %llu", (unsigned long long)tx->expiry_height,
                      (unsigned long long)next);
    if (!c->ops->tx_kind_name(tx->kind))
        return reject(why, -EINVAL, "unknown_kind", "%s has no transaction kind %u",
                      c->ops->name, tx->kind);
    if (mempool_contains(pool, id))
        return reject(why, -EEXIST, "duplicate", "the transaction is already in the mempool");
    if ((r = ledger_has_tx(c->ledger, id)) != 0)
        return r > 0 ? reject(why, -EEXIST, "replay", "the transaction is already committed")
                     : reject(why, r, "internal", "ledger: %s", ledger_errmsg(c->ledger));
    if ((r = chain_govern(c, tx, why)) < 0)
        return r;
    chain_exec_t x;
    chain_exec_init(c, &x, next, now_ms);
    x.txid = id;
    /* The chain's check may try the transaction out on the state; it runs
     * inside a transaction that is always rolled back, so nothing it does
     * is ever committed (or synced to disk), and its tree journal is
     * rolled back too. */
    bool own = !c->admitting;
    if (own && (r = chain_admit_begin(c)) < 0)
        return reject(why, r, "internal", "ledger: %s", sqlite3_errmsg(ledger_db(c->ledger)));
    uint64_t mark = c->ops->state_mark(c->state);
    if (step(c->chk_begin) < 0) {
        r = reject(why, -EIO, "internal", "ledger: %s", sqlite3_errmsg(ledger_db(c->ledger)));
    } else {
        r = c->ops->check_tx(c->state, &x, tx, why);
        step(c->chk_rollback);
        step(c->chk_release);
    }
    c->ops->state_rollback(c->state, mark);
    if (own)
        chain_admit_end(c);
    if (r < 0)
        return r;
    return mempool_add(pool, id, tx->sender, bytes, len, now_ms, why);
}


static int chain_scratch(chain_t *c, size_t n)
{
    if (n <= c->scratch_cap)
        return 0;
    void *ids = realloc(c->ids, n * sizeof(*c->ids));
    if (!ids)
        return -ENOMEM;
    c->ids = ids;
    void *picked = realloc(c->picked, n * sizeof(*c->picked));
    if (!picked)
        return -ENOMEM;
    c->picked = picked;
    c->scratch_cap = n;
    return 0;
}

int chain_produce_block(chain_t *c, uint64_t now_ms, mempool_t *pool, size_t max_txs,
                        chain_drop_fn drop, void *drop_ctx, block_header_t *out,
                        chain_block_stats_t *stats, char err[CHAIN_ERR_MAX])
{
    block_header_t h;
    uint8_t hash[BLOCK_HASH_LEN];
    commit_cert_t *cert = NULL;
    chain_block_stats_t st;
    chain_exec_t x;
    uint64_t block_mark = 0;
    bool in_block = false;
    int r;

    memset(&h, 0, sizeof(h));
    memset(&st, 0, sizeof(st));
    h.protocol_version = c->genesis.protocol_version;
    snprintf(h.chain_id, sizeof(h.chain_id), "%s", c->genesis.chain_id);
    h.height = c->tip.height + 1;
    h.time_ms = now_ms;
    if (c->tip.height > 0 && h.time_ms <= c->tip.time_ms)
        h.time_ms = c->tip.time_ms + 1;
    if (h.time_ms <= c->genesis.genesis_time_ms)
        h.time_ms = c->genesis.genesis_time_ms + 1;
    memcpy(h.prev_hash, c->tip.height > 0 ? c->tip.hash : c->genesis.hash, BLOCK_HASH_LEN);
    memcpy(h.proposer, c->key.pk, BLOCK_KEY_LEN);

    size_t want = pool ? mempool_count(pool) : 0;
    if (want > max_txs)
        want = max_txs;
    if (!(cert = malloc(sizeof(*cert))) || chain_scratch(c, want ? want : 1) < 0) {
        snprintf(err, CHAIN_ERR_MAX, "out of memory");
        r = -ENOMEM;
        goto out;
    }
    if ((r = ledger_begin(c->ledger)) < 0)
        goto sqlerr;
    in_block = true;
    block_mark = c->ops->state_mark(c->state);
    chain_exec_init(c, &x, h.height, h.time_ms);

    /* Apply pooled transactions in admission order, each in a savepoint. */
    const mempool_entry_t *e = pool ? mempool_first(pool) : NULL;
    const mempool_entry_t *next_e;
    for (; e && st.included < want; e = next_e) {
        next_e = mempool_next(e);
        tx_t tx;
        reject_t why = { NULL, "" };
        const char *what = NULL;
        int ar;
        if (tx_decode(&tx, e->bytes, e->len, &what) < 0) {
            reject(&why, -EBADMSG, "malformed", "pooled transaction no longer decodes (%s)",
                   what ? what : "?");
            ar = -EBADMSG;
        } else if (tx.expiry_height < h.height) {
            ar = reject(&why, -EINVAL, "expired", "expired at height %llu before inclusion",
                        (unsigned long long)tx.expiry_height);
        } else if ((ar = chain_govern(c, &tx, &why)) == 0) {
            if (step(c->sp_begin) < 0) {
                r = -EIO;
                goto sqlerr_rb;
            }
            uint64_t mark = c->ops->state_mark(c->state);
            x.txid = e->id;
            x.index = st.included;
            ar = c->ops->apply_tx(c->state, &x, &tx, &why);
            if (ar < 0) {
                if (step(c->sp_rollback) < 0) {
                    r = -EIO;
                    goto sqlerr_rb;
                }
                c->ops->state_rollback(c->state, mark);
            }
            if (step(c->sp_release) < 0) {
                r = -EIO;
                goto sqlerr_rb;
            }
        }
        if (ar == -EAGAIN) {
            st.deferred++;
            continue;
        }
        if (ar < 0) {
            if (!why.code)
                reject(&why, ar, "internal", "apply failed: %s", strerror(-ar));
            if (drop)
                drop(drop_ctx, e->id, &why);
            /* Invalid now means invalid for good at this height or later. */
            st.dropped++;
            mempool_remove(pool, e->id);
            continue;
        }
        if (tx.fee > UINT64_MAX - st.fees) {
            r = -EOVERFLOW;
            snprintf(err, CHAIN_ERR_MAX, "fees of block %llu overflow",
                     (unsigned long long)h.height);
            goto rollback;
        }
        st.fees += tx.fee;
        memcpy(c->ids[st.included], e->id, TX_ID_LEN);
        c->picked[st.included] = e;
        st.included++;
    }
    x.txid = NULL;
    x.index = st.included;
    if (c->ops->end_block &&
        (r = c->ops->end_block(c->state, &x, st.fees, err, CHAIN_ERR_MAX)) < 0)
        goto rollback;
    h.tx_count = st.included;
    if ((r = tx_root((const uint8_t(*)[TX_ID_LEN])c->ids, st.included, h.txs_root)) < 0 ||
        (r = c->ops->state_root(c->state, ledger_db(c->ledger), h.state_root)) < 0 ||
        (r = block_header_hash(&h, hash)) < 0 || (r = chain_sign(c, &h, hash, cert)) < 0) {
        snprintf(err, CHAIN_ERR_MAX, "sealing block %llu failed: %s",
                 (unsigned long long)h.height, strerror(-r));
        goto rollback;
    }
    if ((r = ledger_put_block(c->ledger, &h, hash, cert)) < 0)
        goto sqlerr_rb;
    for (uint32_t i = 0; i < st.included; i++) {
        const mempool_entry_t *pe = c->picked[i];
        tx_t tx;
        tx_decode(&tx, pe->bytes, pe->len, NULL);
        if ((r = ledger_put_tx(c->ledger, pe->id, h.height, i, c->ops->tx_kind_name(tx.kind),
                               tx.sender, pe->bytes, pe->len)) < 0)
            goto sqlerr_rb;
    }
    if ((r = ledger_commit(c->ledger)) < 0)
        goto sqlerr_rb;
    in_block = false;
    c->ops->state_commit(c->state);
    c->tip.height = h.height;
    c->tip.time_ms = h.time_ms;
    memcpy(c->tip.hash, hash, BLOCK_HASH_LEN);
    for (uint32_t i = 0; i < st.included; i++) {
        uint64_t waited = now_ms > c->picked[i]->added_ms ? now_ms - c->picked[i]->added_ms : 0;
        if (waited > st.oldest_wait_ms)
            st.oldest_wait_ms = (double)waited;
        mempool_remove(pool, c->ids[i]);
    }
    if (out)
        *out = h;
    if (stats)
        *stats = st;
    r = 0;
    goto out;
sqlerr_rb:
    snprintf(err, CHAIN_ERR_MAX, "committing block %llu: %s", (unsigned long long)h.height,
             ledger_errmsg(c->ledger)[0] ? ledger_errmsg(c->ledger)
                                         : sqlite3_errmsg(ledger_db(c->ledger)));
    if (r >= 0)
        r = -EIO;
rollback:
    if (in_block) {
        ledger_rollback(c->ledger);
        c->ops->state_rollback(c->state, block_mark);
        in_block = false;
    }
    goto out;
sqlerr:
    snprintf(err, CHAIN_ERR_MAX, "committing block %llu: %s", (unsigned long long)h.height,
             ledger_errmsg(c->ledger));
    if (r >= 0)
        r = -EIO;
out:
    free(cert);
    return r;
}
