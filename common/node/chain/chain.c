/* The block pipeline: opening a chain's ledger and state, admission,
 * and building, signing and committing blocks; see chain.h. */
#include "common/node/chain/chain.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/hex.h"
#include "common/node/gov/gov.h"
#include "common/node/mempool/mempool.h"
#include "common/store/prune.h"
#include "common/store/peertab.h"
#include "common/store/pooltab.h"

/* What a block keeps of each included transaction, for its txs row. */
typedef struct {
    const mempool_entry_t *e;
    uint16_t kind;
    uint8_t sender[BLOCK_KEY_LEN];
} picked_t;

/* A governance refusal at admission, kept for its journal row. */
typedef struct {
    tx_t tx;
    uint8_t id[TX_ID_LEN];
    uint8_t payload[TX_PAYLOAD_MAX];
    reject_t why;
} gov_refusal_t;

struct chain {
    const chain_ops_t *ops;
    ledger_t *ledger;
    sql_t *sql;                  /* ledger_sql(ledger): the writer, its statements cached */
    genesis_t genesis;
    keys_pair_t key;
    ledger_tip_t tip;
    void *state;                 /* the chain's in-memory state (ops->state_open) */
    gov_t *gov;                  /* the governance stage, or NULL: the schema has no
                                  * governance tables, and governance kinds are refused */
    uint64_t keep_heights;       /* state history kept (0: all), for ops->state_prune */
    uint64_t retain_blocks;      /* blocks kept (0: all), see block_prune_ledger */
    commitrec_t signed_rec;      /* the last block this validator signed (chain_set_signed) */
    char peer[GENESIS_CHAIN_MAX + 1]; /* the chain whose verified headers each block names
                                       * (chain_set_peer); "" for none */
    bool has_signed;
    bool admitting;              /* inside chain_admit_begin/end */
    bool pooltab;                /* the ledger keeps the mempool's copy (pooltab.h) */
    bool bridgetab;              /* the ledger has bridge_in and the chain mints (bridgetab.h) */
    /* Governance refusals at admission wait here for their journal rows
     * until the admission transaction is over (gov_journal_refusal). */
    gov_refusal_t *refused;
    size_t n_refused;
    uint64_t pool_seq;           /* the last admission number given to it */
    /* Scratch for one block: ids (for the root) and what else the block
     * keeps of its included transactions. */
    uint8_t (*ids)[TX_ID_LEN];
    picked_t *picked;
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

const char *chain_kind_name(const chain_ops_t *ops, uint16_t kind)
{
    const char *g = gov_kind_name(kind);
    return g ? g : ops->tx_kind_name(kind);
}

void chain_tip(const chain_t *c, ledger_tip_t *out)
{
    *out = c->tip;
}

/* Record in a new ledger what it belongs to, and the genesis state, in one
 * transaction: until it commits, the ledger has no chain_id and is not
 * taken for one. */
static int chain_init_meta(chain_t *c, const char *genesis_hash,
                           const genesis_progress_t *progress, char err[CHAIN_ERR_MAX])
{
    int r = ledger_begin(c->ledger);

    if (r == 0)
        r = ledger_meta_set(c->ledger, "chain_id", c->genesis.chain_id);
    if (r == 0)
        r = ledger_meta_set(c->ledger, "chain", c->ops->name);
    if (r == 0)
        r = ledger_meta_set(c->ledger, "genesis_hash", genesis_hash);
    if (r < 0) {
        snprintf(err, CHAIN_ERR_MAX, "ledger: %s", ledger_errmsg(c->ledger));
        goto out;
    }
    if ((r = c->ops->genesis_init(c->sql, &c->genesis, progress, err, CHAIN_ERR_MAX)) < 0)
        goto out;
    if ((r = ledger_commit(c->ledger)) < 0) {
        snprintf(err, CHAIN_ERR_MAX, "ledger: %s", ledger_errmsg(c->ledger));
        goto out;
    }
    /* A large genesis leaves a WAL as large as the ledger: copy it in and
     * truncate it now, so the disk holds one copy. If that fails, the WAL
     * is only larger for a while. */
    sql_exec(c->sql, "PRAGMA wal_checkpoint(TRUNCATE)", NULL);
out:
    if (r < 0)
        ledger_rollback(c->ledger);
    return r;
}

/* A new ledger gets its meta and genesis state; an existing one must
 * belong to this chain and genesis. */
static int chain_check_meta(chain_t *c, const genesis_progress_t *progress,
                            char err[CHAIN_ERR_MAX])
{
    char want_hash[2 * BLOCK_HASH_LEN + 1], have_id[BLOCK_CHAIN_ID_MAX + 1], have_hash[80];
    int r;

    hex_encode(want_hash, c->genesis.hash, BLOCK_HASH_LEN);
    r = ledger_meta_get(c->ledger, "chain_id", have_id, sizeof(have_id));
    if (r == -ENOENT)
        return chain_init_meta(c, want_hash, progress, err);
    if (r == 0)
        r = ledger_meta_get(c->ledger, "genesis_hash", have_hash, sizeof(have_hash));
    if (r < 0) {
        snprintf(err, CHAIN_ERR_MAX, "ledger: %s", ledger_errmsg(c->ledger));
        return r;
    }
    if (strcmp(have_id, c->genesis.chain_id) != 0 || strcmp(have_hash, want_hash) != 0) {
        snprintf(err, CHAIN_ERR_MAX,
                 "ledger belongs to chain %s with genesis %.16s..., not %s with genesis "
                 "%.16s...; move it away or point --home at its own home",
                 have_id, have_hash, c->genesis.chain_id, want_hash);
        return -ENOTUNIQ;
    }
    return 0;
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

/* Refuse a key that cannot commit blocks alone (less than 2/3 of the power). */
static int chain_check_power(const genesis_t *g, const keys_pair_t *key, char err[CHAIN_ERR_MAX])
{
    uint64_t mine = genesis_power_of(g, key->pk), total = genesis_total_power(g);
    char pk[2 * BLOCK_KEY_LEN + 1];

    if (mine != 0 && mine * 3 >= total * 2) /* genesis caps total power at 2^60 */
        return 0;
    hex_encode(pk, key->pk, BLOCK_KEY_LEN);
    snprintf(err, CHAIN_ERR_MAX,
             "validator key %.16s... holds %llu of %llu voting power; a node commits "
             "blocks alone only with at least 2/3", pk, (unsigned long long)mine,
             (unsigned long long)total);
    return -EPERM;
}

int chain_open(chain_t **out, const chain_ops_t *ops, const char *ledger_path,
               const genesis_t *g, const keys_pair_t *key, const genesis_progress_t *progress,
               char err[CHAIN_ERR_MAX])
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
    c->keep_heights = CHAIN_KEEP_HEIGHTS_DEFAULT;

    if (strcmp(g->chain, ops->name) != 0) {
        snprintf(err, CHAIN_ERR_MAX, "genesis is for chain %s, not %s", g->chain, ops->name);
        r = -EINVAL;
        goto out;
    }
    if ((ops->genesis_check && (r = ops->genesis_check(g, err, CHAIN_ERR_MAX)) < 0) ||
        (r = chain_check_power(g, key, err)) < 0)
        goto out;
    if ((r = ledger_open(&c->ledger, ledger_path, ops->schema, lerr)) < 0) {
        snprintf(err, CHAIN_ERR_MAX, "%s", lerr);
        goto out;
    }
    c->sql = ledger_sql(c->ledger);
    r = chain_check_meta(c, progress, err);
    c->genesis.balances = NULL; /* the caller's; read only while the ledger was new */
    if (r < 0)
        goto out;
    if ((r = ledger_tip(c->ledger, &c->tip)) < 0) {
        snprintf(err, CHAIN_ERR_MAX, "ledger: %s", ledger_errmsg(c->ledger));
        goto out;
    }
    if ((ops->state_upgrade &&
         (r = ops->state_upgrade(c->sql, &c->genesis, progress, err, CHAIN_ERR_MAX)) < 0) ||
        (r = ops->state_open(&c->state, c->sql, &c->genesis, err, CHAIN_ERR_MAX)) < 0)
        goto out;
    if ((r = pooltab_present(c->sql)) < 0) {
        snprintf(err, CHAIN_ERR_MAX, "ledger: %s", sql_errmsg(c->sql));
        goto out;
    }
    c->pooltab = r == 1;
    if ((c->pooltab && (r = pooltab_last_seq(c->sql, &c->pool_seq)) < 0) ||
        (r = bridgetab_present(c->sql)) < 0) {
        snprintf(err, CHAIN_ERR_MAX, "ledger: %s", sql_errmsg(c->sql));
        goto out;
    }
    c->bridgetab = r == 1 && ops->bridge_mint;
    if ((r = sql_exists(c->sql, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND"
                        " name = 'gov_proposals'", NULL)) < 0) {
        snprintf(err, CHAIN_ERR_MAX, "ledger: %s", sql_errmsg(c->sql));
        goto out;
    }
    if (r == 1) {
        char gerr[GOV_ERR_MAX];
        if ((r = gov_open(&c->gov, c->sql, &c->genesis, gerr)) < 0) {
            snprintf(err, CHAIN_ERR_MAX, "%s", gerr);
            goto out;
        }
    }
    if (!(c->refused = malloc(CHAIN_GOV_REFUSALS * sizeof(*c->refused)))) {
        snprintf(err, CHAIN_ERR_MAX, "out of memory");
        r = -ENOMEM;
        goto out;
    }
    r = 0;
    *out = c;
    c = NULL;
out:
    chain_close(c);
    return r;
}

void chain_set_keep_heights(chain_t *c, uint64_t keep_heights)
{
    c->keep_heights = keep_heights;
}

void chain_set_retain_blocks(chain_t *c, uint64_t retain_blocks)
{
    c->retain_blocks = retain_blocks;
}

const keys_pair_t *chain_key(const chain_t *c)
{
    return &c->key;
}

void chain_set_peer(chain_t *c, const char *peer)
{
    snprintf(c->peer, sizeof(c->peer), "%s", peer ? peer : "");
}

void chain_set_signed(chain_t *c, const commitrec_t *r)
{
    c->signed_rec = *r;
    c->has_signed = true;
}

int chain_verify_ledger(const chain_ops_t *ops, const char *ledger_path, const genesis_t *g,
                        const genesis_progress_t *progress, char msg[CHAIN_ERR_MAX])
{
    ledger_t *l = NULL;
    char lerr[LEDGER_ERR_MAX];
    int r;

    if (!ops->state_verify) {
        snprintf(msg, CHAIN_ERR_MAX, "chain %s cannot verify its state", ops->name);
        return -ENOTSUP;
    }
    if ((r = ledger_open_readonly(&l, ledger_path, ops->schema, lerr)) < 0) {
        snprintf(msg, CHAIN_ERR_MAX, "%s", lerr);
        return r;
    }
    r = ops->state_verify(ledger_sql(l), g, progress, msg, CHAIN_ERR_MAX);
    ledger_close(l);
    return r;
}

void chain_close(chain_t *c)
{
    if (!c)
        return;
    if (c->state)
        c->ops->state_close(c->state);
    gov_close(c->gov);
    free(c->refused);
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
    if (gov_kind_is_gov(t.kind) && t.fee != 0)
        return reject(why, -EINVAL, "fee_not_allowed", "governance transactions carry no fee "
                      "(this one: %llu)", (unsigned long long)t.fee);
    if (!gov_kind_is_gov(t.kind) && t.fee < g->min_fee)
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
 * at admission (apply false, inside the admission's read transaction) and
 * when a block is built (apply true, inside the transaction's savepoint):
 * the governance kinds are checked and applied by common/node/gov, and
 * reach no chain code; every other kind passes. */
static int chain_govern(chain_t *c, const chain_exec_t *x, const tx_t *tx, bool apply,
                        reject_t *why)
{
    if (!gov_kind_is_gov(tx->kind))
        return 0;
    if (!c->gov)
        return reject(why, -EINVAL, "unknown_kind", "%s keeps no governance tables",
                      c->ops->name);
    gov_ctx_t g = {.height = x->height, .txid = x->txid, .genesis = &c->genesis};
    return gov_tx(c->gov, c->sql, &g, tx, apply, why);
}

/* Keep a governance refusal at admission for its journal row, written
 * once the admission's transaction is over (chain_flush_refusals). */
static void chain_note_refusal(chain_t *c, const tx_t *tx, const uint8_t id[TX_ID_LEN],
                               const reject_t *why)
{
    if (!c->gov || !gov_kind_is_gov(tx->kind) || c->n_refused == CHAIN_GOV_REFUSALS ||
        tx->payload_len > sizeof(c->refused[0].payload) || !why->code ||
        strcmp(why->code, "ledger_busy") == 0)
        return;
    gov_refusal_t *f = &c->refused[c->n_refused++];
    f->tx = *tx;
    memcpy(f->payload, tx->payload, tx->payload_len);
    f->tx.payload = f->payload;
    memcpy(f->id, id, TX_ID_LEN);
    f->why = *why;
}

static void chain_flush_refusals(chain_t *c)
{
    for (size_t i = 0; i < c->n_refused; i++)
        gov_journal_refusal(c->gov, c->sql, c->tip.height + 1, &c->refused[i].tx,
                            c->refused[i].id, &c->refused[i].why);
    c->n_refused = 0;
}

static void chain_exec_init(const chain_t *c, chain_exec_t *x, uint64_t height, uint64_t time_ms)
{
    memset(x, 0, sizeof(*x));
    x->sql = c->sql;
    x->genesis = &c->genesis;
    x->height = height;
    x->time_ms = time_ms;
    x->proposer = c->key.pk;
}

int chain_admit_begin(chain_t *c)
{
    int r;
    if (c->admitting)
        return -EINVAL;
    if ((r = sql_exec(c->sql, "BEGIN", NULL)) < 0)
        return r;
    c->admitting = true;
    return 0;
}

void chain_admit_end(chain_t *c)
{
    if (!c->admitting)
        return;
    sql_exec(c->sql, "ROLLBACK", NULL);
    c->admitting = false;
    chain_flush_refusals(c);
}

/* A ledger failure during admission: "ledger_busy" when another process
 * holds the file locked (the client may retry), "internal" otherwise. */
static int admit_ledger_error(const chain_t *c, int r, reject_t *why)
{
    if (r == -EBUSY)
        return reject(why, r, "ledger_busy", "the ledger is locked by another process; "
                      "try again shortly (%s)", ledger_errmsg(c->ledger));
    return reject(why, r, "internal", "ledger: %s", ledger_errmsg(c->ledger));
}

/* Run the chain's check_tx in a savepoint of the admission transaction,
 * then undo whatever it tried (SQL and tree journal alike). */
static int chain_check(chain_t *c, const chain_exec_t *x, const tx_t *tx, reject_t *why)
{
    uint64_t mark = c->ops->state_mark(c->state);
    int r = sql_exec(c->sql, "SAVEPOINT chk", NULL);

    if (r < 0) {
        r = admit_ledger_error(c, r, why);
    } else {
        sql_clear_fault(c->sql);
        r = chain_govern(c, x, tx, false, why);
        if (r == 0 && !gov_kind_is_gov(tx->kind))
            r = c->ops->check_tx(c->state, x, tx, why);
        /* The chain reports a failed read like a refusal: a lock held
         * elsewhere is the ledger's, not the transaction's. */
        if (r < 0 && sql_fault(c->sql) == -EBUSY)
            r = admit_ledger_error(c, -EBUSY, why);
        sql_exec(c->sql, "ROLLBACK TO chk", NULL);
        sql_exec(c->sql, "RELEASE chk", NULL);
    }
    c->ops->state_rollback(c->state, mark);
    return r;
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
    if (!chain_kind_name(c->ops, tx->kind))
        return reject(why, -EINVAL, "unknown_kind", "%s has no transaction kind %u",
                      c->ops->name, tx->kind);
    if (mempool_contains(pool, id))
        return reject(why, -EEXIST, "duplicate", "the transaction is already in the mempool");
    if ((r = ledger_has_tx(c->ledger, id)) != 0)
        return r > 0 ? reject(why, -EEXIST, "replay", "the transaction is already committed")
                     : admit_ledger_error(c, r, why);
    chain_exec_t x;
    chain_exec_init(c, &x, next, now_ms);
    x.txid = id;
    /* The chain's check may try the transaction out on the state; it runs
     * inside a transaction that is always rolled back, so nothing it does
     * is ever committed (or synced to disk). */
    bool own = !c->admitting;
    if (own && (r = chain_admit_begin(c)) < 0)
        return admit_ledger_error(c, r, why);
    r = chain_check(c, &x, tx, why);
    if (r < 0)
        chain_note_refusal(c, tx, id, why);
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

/* The next block's header as far as it is known before its transactions:
 * time max(now_ms, tip + 1, genesis + 1), prev_hash the tip's (or the
 * genesis hash), this node the proposer. */
static void chain_next_header(const chain_t *c, uint64_t now_ms, block_header_t *h)
{
    memset(h, 0, sizeof(*h));
    h->protocol_version = c->genesis.protocol_version;
    snprintf(h->chain_id, sizeof(h->chain_id), "%s", c->genesis.chain_id);
    h->height = c->tip.height + 1;
    h->time_ms = now_ms;
    if (c->tip.height > 0 && h->time_ms <= c->tip.time_ms)
        h->time_ms = c->tip.time_ms + 1;
    if (h->time_ms <= c->genesis.genesis_time_ms)
        h->time_ms = c->genesis.genesis_time_ms + 1;
    memcpy(h->prev_hash, c->tip.height > 0 ? c->tip.hash : c->genesis.hash, BLOCK_HASH_LEN);
    memcpy(h->proposer, c->key.pk, BLOCK_KEY_LEN);
}

/* A failure of the ledger while the block at height is built: its message
 * into err; return r. */
static int block_ledger_error(const chain_t *c, uint64_t height, int r, char err[CHAIN_ERR_MAX])
{
    snprintf(err, CHAIN_ERR_MAX, "committing block %llu: %s", (unsigned long long)height,
             ledger_errmsg(c->ledger));
    return r;
}

/* Try the pooled transaction e (decoded into *tx) on the block being built:
 * expiry, the governance stage, then the chain's apply_tx inside a
 * savepoint that is rolled back, with the state journal, if it refuses.
 * Return 0 with its verdict in *verdict (0 applied, -EAGAIN not yet, any
 * other negative code refused with the reason in why), or the ledger's
 * code if a savepoint failed: then the block cannot go on. */
static int block_try_tx(chain_t *c, chain_exec_t *x, const mempool_entry_t *e, tx_t *tx,
                        int *verdict, reject_t *why)
{
    const char *what = NULL;
    uint64_t mark;
    int r;

    if (tx_decode(tx, e->bytes, e->len, &what) < 0) {
        *verdict = reject(why, -EBADMSG, "malformed",
                          "pooled transaction no longer decodes (%s)", what ? what : "?");
        return 0;
    }
    if (tx->expiry_height < x->height) {
        *verdict = reject(why, -EINVAL, "expired", "expired at height %llu before inclusion",
                          (unsigned long long)tx->expiry_height);
        return 0;
    }
    if ((r = sql_exec(c->sql, "SAVEPOINT tx", NULL)) < 0)
        return r;
    mark = c->ops->state_mark(c->state);
    x->txid = e->id;
    sql_clear_fault(c->sql);
    *verdict = chain_govern(c, x, tx, true, why);
    if (*verdict == 0 && !gov_kind_is_gov(tx->kind))
        *verdict = c->ops->apply_tx(c->state, x, tx, why);
    /* A refusal that came from the ledger failing (a full disk, I/O) says
     * nothing about the transaction: fail the block, keep it pooled. */
    if (*verdict < 0 && (r = sql_fault(c->sql)) < 0)
        return r;
    if (*verdict < 0) {
        if ((r = sql_exec(c->sql, "ROLLBACK TO tx", NULL)) < 0)
            return r;
        c->ops->state_rollback(c->state, mark);
    }
    return sql_exec(c->sql, "RELEASE tx", NULL);
}

bool chain_pool_kept(const chain_t *c)
{
    return c->pooltab;
}

uint64_t chain_pool_take_seq(chain_t *c, size_t n)
{
    uint64_t first = c->pool_seq + 1;
    c->pool_seq += n;
    return first;
}

/* Drop the refused pooled transaction e: invalid now means invalid for
 * good at this height or later. Its saved copy moves to tx_dropped in the
 * block's transaction (if the block fails, the copy stays pending, and
 * the next start's reload drops it again). */
static int block_drop_tx(chain_t *c, uint64_t height, mempool_t *pool, const mempool_entry_t *e,
                         int verdict, reject_t *why, chain_drop_fn drop, void *drop_ctx)
{
    int r = 0;
    if (!why->code)
        reject(why, verdict, "internal", "apply failed: %s", strerror(-verdict));
    if (c->pooltab)
        r = pooltab_drop(c->sql, e->tag, e->id, height, why->code, why->message);
    if (drop)
        drop(drop_ctx, e->id, why);
    mempool_remove(pool, e->id);
    return r;
}

/* One pending bridge-in, credited inside its own savepoint: minted, or
 * refused for good (its reason kept in bridge_in); a failure of the
 * ledger itself fails the block. */
typedef struct {
    chain_t *c;
    chain_exec_t *x;
    chain_block_stats_t *st;
} bridge_ctx_t;

static int block_bridge_one(void *ctx, uint64_t seq, const bridge_transfer_t *t)
{
    bridge_ctx_t *b = ctx;
    chain_t *c = b->c;
    reject_t why = { 0 };
    uint64_t mark;
    int r, verdict;
    if ((r = sql_exec(c->sql, "SAVEPOINT bridge", NULL)) < 0)
        return r;
    mark = c->ops->state_mark(c->state);
    b->x->txid = t->id;
    sql_clear_fault(c->sql);
    verdict = c->ops->bridge_mint(c->state, b->x, t, &why);
    if (verdict < 0 && (r = sql_fault(c->sql)) < 0)
        return r;
    if (verdict < 0) {
        if ((r = sql_exec(c->sql, "ROLLBACK TO bridge", NULL)) < 0)
            return r;
        c->ops->state_rollback(c->state, mark);
        if (!why.code)
            reject(&why, verdict, "internal", "minting failed: %s", strerror(-verdict));
        r = bridgetab_refused(c->sql, seq, b->x->height, why.code, why.message);
        b->st->bridge_refused++;
    } else {
        r = bridgetab_minted(c->sql, seq, b->x->height);
        b->st->bridged_in++;
    }
    if (r == 0)
        r = sql_exec(c->sql, "RELEASE bridge", NULL);
    return r;
}

/* Credit the attested bridge transfers waiting in bridge_in (at most
 * CHAIN_BRIDGE_PER_BLOCK, oldest first), before the block's transactions.
 * Return 0 or a negative code with err. */
static int block_bridge_in(chain_t *c, chain_exec_t *x, chain_block_stats_t *st,
                           char err[CHAIN_ERR_MAX])
{
    bridge_ctx_t b = { c, x, st };
    int r;
    if (!c->bridgetab)
        return 0;
    x->index = 0;
    r = bridgetab_pending(c->sql, CHAIN_BRIDGE_PER_BLOCK, block_bridge_one, &b);
    x->txid = NULL;
    return r < 0 ? block_ledger_error(c, x->height, r, err) : 0;
}

/* The governance steps the chain takes itself at the start of a block:
 * expiries, and approved proposals whose activation height has come. */
static int block_gov(chain_t *c, uint64_t height, char err[CHAIN_ERR_MAX])
{
    char gerr[GOV_ERR_MAX];
    int r;
    if (!c->gov || (r = gov_begin_block(c->gov, c->sql, height, gerr)) == 0)
        return 0;
    snprintf(err, CHAIN_ERR_MAX, "%s", gerr);
    return r;
}

/* Apply up to want pooled transactions, in admission order, to the block
 * being built (x), counting them in *st and keeping the included ones in
 * c->ids and c->picked. Return 0, or a negative code with err. */
static int block_fill(chain_t *c, chain_exec_t *x, mempool_t *pool, size_t want,
                      chain_drop_fn drop, void *drop_ctx, chain_block_stats_t *st,
                      char err[CHAIN_ERR_MAX])
{
    const mempool_entry_t *e = pool ? mempool_first(pool) : NULL, *next;
    int r, verdict;

    for (; e && st->included < want; e = next) {
        reject_t why = {NULL, ""};
        tx_t tx;
        next = mempool_next(e);
        x->index = st->included;
        if ((r = block_try_tx(c, x, e, &tx, &verdict, &why)) < 0)
            return block_ledger_error(c, x->height, r, err);
        if (verdict == -EAGAIN) {
            st->deferred++;
            continue;
        }
        if (verdict < 0) {
            if ((r = block_drop_tx(c, x->height, pool, e, verdict, &why, drop, drop_ctx)) < 0)
                return block_ledger_error(c, x->height, r, err);
            st->dropped++;
            continue;
        }
        if (tx.fee > UINT64_MAX - st->fees) {
            snprintf(err, CHAIN_ERR_MAX, "fees of block %llu overflow",
                     (unsigned long long)x->height);
            return -EOVERFLOW;
        }
        st->fees += tx.fee;
        memcpy(c->ids[st->included], e->id, TX_ID_LEN);
        c->picked[st->included] = (picked_t){.e = e, .kind = tx.kind};
        memcpy(c->picked[st->included].sender, tx.sender, BLOCK_KEY_LEN);
        st->included++;
    }
    return 0;
}

/* Let the chain forget a bounded part of the state history below the
 * heights it keeps, inside the block's transaction. */
static int block_prune(chain_t *c, uint64_t height)
{
    if (!c->ops->state_prune || c->keep_heights == 0 || height <= c->keep_heights)
        return 0;
    return c->ops->state_prune(c->state, c->sql, height - c->keep_heights, CHAIN_PRUNE_BUDGET);
}

/* Delete a bounded part of the blocks below the ones kept, inside the
 * block's transaction, after block_prune: the state trees then serve the
 * heights from height - keep_heights on (tree_prune drops the roots below
 * keep_from at once), and those blocks stay so that a proof at a served
 * height can name its block. See common/store/prune.h for the rest of
 * the rule. */
static int block_prune_ledger(chain_t *c, uint64_t height, char err[CHAIN_ERR_MAX])
{
    uint64_t served = c->keep_heights == 0 || height <= c->keep_heights
                          ? 0
                          : height - c->keep_heights;
    uint64_t keep_from = prune_floor(height, c->retain_blocks, served);
    int r;

    if (keep_from == 0)
        return 0;
    if ((r = prune_step(c->sql, keep_from, height, PRUNE_BUDGET, NULL)) < 0)
        snprintf(err, CHAIN_ERR_MAX, "pruning blocks below %llu: %s",
                 (unsigned long long)keep_from, sql_errmsg(c->sql));
    return r;
}

/* Refuse to sign block (h, hash) at or below the last height this
 * validator signed, unless it is that very block: the guard of
 * chain_set_signed. */
static int block_may_sign(const chain_t *c, const block_header_t *h,
                          const uint8_t hash[BLOCK_HASH_LEN], char err[CHAIN_ERR_MAX])
{
    char have[2 * BLOCK_HASH_LEN + 1];
    if (!c->has_signed || commitrec_allows(&c->signed_rec, h->height, hash))
        return 0;
    hex_encode(have, c->signed_rec.hash, BLOCK_HASH_LEN);
    snprintf(err, CHAIN_ERR_MAX, "refusing to sign block %llu: this validator signed up to "
             "height %llu (block %s) before, and signing a height twice with other content "
             "would fork the chain", (unsigned long long)h->height,
             (unsigned long long)c->signed_rec.height, have);
    return -EEXIST;
}

/* Finish the block: the chain's end_block, the newest verified header of
 * the peer chain (its anchor), the roots, the hash and the signature into
 * h, hash and cert, then the block's rows. Return 0, or a
 * negative code with err. */
static int block_seal(chain_t *c, chain_exec_t *x, block_header_t *h, const chain_block_stats_t *st,
                      uint8_t hash[BLOCK_HASH_LEN], commit_cert_t *cert, char err[CHAIN_ERR_MAX])
{
    uint64_t peer_time;
    int r;

    x->txid = NULL;
    x->index = st->included;
    if (c->ops->end_block &&
        (r = c->ops->end_block(c->state, x, st->fees, err, CHAIN_ERR_MAX)) < 0)
        return r;
    h->tx_count = st->included;
    if (c->peer[0] &&
        (r = peertab_tip(c->sql, c->peer, &h->peer_height, h->peer_hash, &peer_time)) < 0)
        return block_ledger_error(c, h->height, r, err);
    if ((r = tx_root((const uint8_t(*)[TX_ID_LEN])c->ids, st->included, h->txs_root)) < 0 ||
        (r = c->ops->state_root(c->state, c->sql, h->state_root)) < 0 ||
        (r = block_prune(c, h->height)) < 0 ||
        (r = block_header_hash(h, hash)) < 0 || (r = block_may_sign(c, h, hash, err)) < 0 ||
        (r = chain_sign(c, h, hash, cert)) < 0) {
        if (r != -EEXIST)
            snprintf(err, CHAIN_ERR_MAX, "sealing block %llu failed: %s",
                     (unsigned long long)h->height, strerror(-r));
        return r;
    }
    if ((r = ledger_put_block(c->ledger, h, hash, cert)) < 0)
        return block_ledger_error(c, h->height, r, err);
    for (uint32_t i = 0; i < st->included; i++) {
        const picked_t *p = &c->picked[i];
        if ((r = ledger_put_tx(c->ledger, p->e->id, h->height, i, chain_kind_name(c->ops, p->kind),
                               p->sender, p->e->bytes, p->e->len)) < 0 ||
            (c->pooltab && (r = pooltab_remove(c->sql, p->e->tag)) < 0))
            return block_ledger_error(c, h->height, r, err);
    }
    return block_prune_ledger(c, h->height, err);
}

/* After the commit: the new tip, and the included transactions out of the pool. */
static void block_committed(chain_t *c, const block_header_t *h,
                            const uint8_t hash[BLOCK_HASH_LEN], mempool_t *pool, uint64_t now_ms,
                            chain_block_stats_t *st)
{
    c->ops->state_commit(c->state);
    c->tip.height = h->height;
    c->tip.time_ms = h->time_ms;
    memcpy(c->tip.hash, hash, BLOCK_HASH_LEN);
    if (c->has_signed && h->height > c->signed_rec.height) {
        c->signed_rec.height = h->height;
        c->signed_rec.time_ms = h->time_ms;
        memcpy(c->signed_rec.hash, hash, BLOCK_HASH_LEN);
    }
    for (uint32_t i = 0; i < st->included; i++) {
        uint64_t added = c->picked[i].e->added_ms;
        uint64_t waited = now_ms > added ? now_ms - added : 0;
        if (waited > st->oldest_wait_ms)
            st->oldest_wait_ms = (double)waited;
        mempool_remove(pool, c->ids[i]);
    }
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
    uint64_t block_mark;
    size_t want = pool ? mempool_count(pool) : 0;
    int r;

    memset(&st, 0, sizeof(st));
    chain_next_header(c, now_ms, &h);
    if (want > max_txs)
        want = max_txs;
    if (!(cert = malloc(sizeof(*cert))) || chain_scratch(c, want ? want : 1) < 0) {
        snprintf(err, CHAIN_ERR_MAX, "out of memory");
        r = -ENOMEM;
        goto out;
    }
    sql_clear_fault(c->sql);
    if ((r = ledger_begin(c->ledger)) < 0) {
        block_ledger_error(c, h.height, r, err);
        goto out;
    }
    block_mark = c->ops->state_mark(c->state);
    chain_exec_init(c, &x, h.height, h.time_ms);
    if ((r = block_gov(c, h.height, err)) == 0 &&
        (r = block_bridge_in(c, &x, &st, err)) == 0 &&
        (r = block_fill(c, &x, pool, want, drop, drop_ctx, &st, err)) == 0 &&
        (r = block_seal(c, &x, &h, &st, hash, cert, err)) == 0 &&
        (r = ledger_commit(c->ledger)) < 0)
        block_ledger_error(c, h.height, r, err);
    if (r < 0) {
        /* The ledger's own failure, wherever the chain's code met it (a full
         * disk while a tree is written), is what the caller acts on. */
        if (sql_fault(c->sql) < 0)
            r = sql_fault(c->sql);
        /* All or nothing: the SQL and the state journal back to the block's start. */
        ledger_rollback(c->ledger);
        c->ops->state_rollback(c->state, block_mark);
        goto out;
    }
    block_committed(c, &h, hash, pool, now_ms, &st);
    if (c->gov)
        gov_committed(c->gov, c->sql);
    if (out)
        *out = h;
    if (stats)
        *stats = st;
out:
    free(cert);
    return r;
}

void chain_set_metrics(chain_t *c, metrics_t *m)
{
    if (c->gov)
        gov_set_metrics(c->gov, m);
}

typedef struct {
    chain_t *c;
} shadow_env_ctx_t;

static int shadow_root(void *ctx, uint8_t out[32])
{
    chain_t *c = ((shadow_env_ctx_t *)ctx)->c;
    return c->ops->state_root(c->state, c->sql, out);
}

/* The chain's supply table as it stands ({asset: {column: value}}): every
 * chain keeps its per-asset totals in a table named supply, updated in
 * each block's transaction; NULL if it has none. */
static json_t *shadow_supply(void *ctx)
{
    chain_t *c = ((shadow_env_ctx_t *)ctx)->c;
    sqlite3_stmt *st;
    json_t *o = json_object();
    int r = sql_query(c->sql, &st, "SELECT * FROM supply ORDER BY 1", NULL);
    if (r < 0) {
        json_decref(o);
        return NULL;
    }
    while ((r = sql_step(c->sql, st)) == 1) {
        json_t *row = json_object();
        for (int i = 1; i < sqlite3_column_count(st); i++)
            json_object_set_new(row, sqlite3_column_name(st, i),
                                json_integer((json_int_t)sqlite3_column_int64(st, i)));
        json_object_set_new(o, (const char *)sqlite3_column_text(st, 0), row);
    }
    sql_release(c->sql, st);
    return o;
}

int chain_gov_shadow(chain_t *c, const uint8_t id[32], json_t **report, reject_t *why)
{
    shadow_env_ctx_t sc = {c};
    gov_shadow_env_t env = {shadow_root, shadow_supply, &sc};
    char receipt[2 * 32 + 1];
    uint64_t mark;
    int r;
    if (!c->gov)
        return reject(why, -ENOTSUP, "unavailable", "%s keeps no governance tables",
                      c->ops->name);
    if (c->admitting)
        return reject(why, -EBUSY, "unavailable", "an admission batch is open");
    if ((r = sql_exec(c->sql, "BEGIN", NULL)) < 0)
        return admit_ledger_error(c, r, why);
    mark = c->ops->state_mark(c->state);
    r = gov_shadow(c->gov, c->sql, c->tip.height + 1, id, &env, report, why);
    /* Whatever the run wrote goes: the ledger never keeps any of it. */
    sql_exec_quiet(c->sql, "ROLLBACK");
    c->ops->state_rollback(c->state, mark);
    if (r < 0)
        return r;
    if ((r = gov_journal_shadow(c->gov, c->sql, c->tip.height + 1, id, *report, receipt)) < 0) {
        json_decref(*report);
        *report = NULL;
        return admit_ledger_error(c, r, why);
    }
    json_object_set_new(*report, "receipt", json_string(receipt));
    return 0;
}

/* One transaction of a block under check, as block_try_tx would take it
 * from the pool: the admission checks that need no state, expiry, replay,
 * then the governance stage and the chain's apply in a savepoint. */
static int check_one(chain_t *c, chain_exec_t *x, const uint8_t *bytes, size_t len,
                     uint8_t id[TX_ID_LEN], tx_t *tx, reject_t *why)
{
    int r;
    if ((r = chain_precheck_tx(&c->genesis, bytes, len, tx, id, why)) < 0)
        return r;
    if (tx->expiry_height < x->height)
        return reject(why, -EINVAL, "expired", "expired at height %llu",
                      (unsigned long long)tx->expiry_height);
    if (!chain_kind_name(c->ops, tx->kind))
        return reject(why, -EINVAL, "unknown_kind", "%s has no transaction kind %u",
                      c->ops->name, tx->kind);
    if ((r = ledger_has_tx(c->ledger, id)) != 0)
        return r > 0 ? reject(why, -EEXIST, "replay", "the transaction is already committed")
                     : admit_ledger_error(c, r, why);
    x->txid = id;
    sql_clear_fault(c->sql);
    r = chain_govern(c, x, tx, true, why);
    if (r == 0 && !gov_kind_is_gov(tx->kind))
        r = c->ops->apply_tx(c->state, x, tx, why);
    if (r < 0 && sql_fault(c->sql) < 0)
        return admit_ledger_error(c, sql_fault(c->sql), why);
    return r;
}

int chain_check_block(chain_t *c, const uint8_t *const *txs, const size_t *lens, size_t n,
                      uint64_t now_ms, chain_block_check_t *out, reject_t *why)
{
    block_header_t h;
    chain_exec_t x;
    chain_block_stats_t st;
    char err[CHAIN_ERR_MAX];
    uint64_t mark;
    int r;

    memset(out, 0, sizeof(*out));
    memset(&st, 0, sizeof(st));
    if (c->admitting)
        return reject(why, -EBUSY, "unavailable", "an admission batch is open");
    if (chain_scratch(c, n ? n : 1) < 0)
        return reject(why, -ENOMEM, "internal", "out of memory");
    chain_next_header(c, now_ms, &h);
    if ((r = ledger_begin(c->ledger)) < 0)
        return admit_ledger_error(c, r, why);
    mark = c->ops->state_mark(c->state);
    chain_exec_init(c, &x, h.height, h.time_ms);
    r = block_gov(c, h.height, err);
    if (r == 0)
        r = block_bridge_in(c, &x, &st, err);
    if (r < 0)
        reject(why, r, "internal", "%s", err);
    for (size_t i = 0; r == 0 && i < n; i++) {
        tx_t tx;
        reject_t tw = {0};
        x.index = (uint32_t)i;
        if ((r = sql_exec(c->sql, "SAVEPOINT tx", NULL)) < 0) {
            admit_ledger_error(c, r, why);
            break;
        }
        r = check_one(c, &x, txs[i], lens[i], c->ids[i], &tx, &tw);
        for (size_t j = 0; r == 0 && j < i; j++)
            if (memcmp(c->ids[j], c->ids[i], TX_ID_LEN) == 0)
                r = reject(&tw, -EEXIST, "duplicate", "the block carries it twice");
        if (r < 0) {
            const char *kind = tw.code && strcmp(tw.code, "malformed") != 0
                                   ? chain_kind_name(c->ops, tx.kind) : NULL;
            out->bad_index = i;
            out->bad_code = tw.code ? tw.code : "internal";
            reject(why, r, "invalid_block", "transaction %zu (%s): %s: %s", i,
                   kind ? kind : "?",
                   tw.code ? tw.code : "internal", tw.message);
            break;
        }
        sql_exec(c->sql, "RELEASE tx", NULL);
        st.fees += tx.fee;
        st.included++;
    }
    if (r == 0) {
        x.txid = NULL;
        x.index = st.included;
        if ((c->ops->end_block &&
             (r = c->ops->end_block(c->state, &x, st.fees, err, CHAIN_ERR_MAX)) < 0) ||
            (r = tx_root((const uint8_t(*)[TX_ID_LEN])c->ids, st.included, out->txs_root)) < 0 ||
            (r = c->ops->state_root(c->state, c->sql, out->state_root)) < 0)
            reject(why, r, "internal", "sealing the block failed: %s", err);
    }
    /* A check commits nothing: the ledger and the state go back. */
    ledger_rollback(c->ledger);
    c->ops->state_rollback(c->state, mark);
    out->height = h.height;
    return r;
}
