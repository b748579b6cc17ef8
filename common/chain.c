#include "common/chain.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"

struct chain {
    const chain_ops_t *ops;
    ledger_t *ledger;
    genesis_t genesis;
    keys_pair_t key;
    ledger_tip_t tip;
};

static const char empty_txs_tag[] = "adnet/txs/v1";

ledger_t *chain_ledger(chain_t *c)
{
    return c->ledger;
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
    ledger_close(c->ledger);
    keys_wipe(&c->key);
    free(c);
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

int chain_produce_block(chain_t *c, uint64_t now_ms, block_header_t *out, char err[CHAIN_ERR_MAX])
{
    block_header_t h;
    uint8_t hash[BLOCK_HASH_LEN];
    commit_cert_t *cert = NULL;
    int r;

    memset(&h, 0, sizeof(h));
    h.protocol_version = c->genesis.protocol_version;
    snprintf(h.chain_id, sizeof(h.chain_id), "%s", c->genesis.chain_id);
    h.height = c->tip.height + 1;
    h.time_ms = now_ms;
    if (c->tip.height > 0 && h.time_ms <= c->tip.time_ms)
        h.time_ms = c->tip.time_ms + 1;
    if (h.time_ms <= c->genesis.genesis_time_ms)
        h.time_ms = c->genesis.genesis_time_ms + 1;
    memcpy(h.prev_hash, c->tip.height > 0 ? c->tip.hash : c->genesis.hash, BLOCK_HASH_LEN);
    crypto_generichash(h.txs_root, BLOCK_HASH_LEN, (const unsigned char *)empty_txs_tag,
                       sizeof(empty_txs_tag) - 1, NULL, 0);
    memcpy(h.proposer, c->key.pk, BLOCK_KEY_LEN);
    h.tx_count = 0;

    if (!(cert = malloc(sizeof(*cert)))) {
        snprintf(err, CHAIN_ERR_MAX, "out of memory");
        return -ENOMEM;
    }
    if ((r = ledger_begin(c->ledger)) < 0)
        goto sqlerr;
    if ((r = c->ops->state_root(ledger_db(c->ledger), h.state_root)) < 0)
        goto sqlerr_rb;
    if ((r = block_header_hash(&h, hash)) < 0 || (r = chain_sign(c, &h, hash, cert)) < 0) {
        ledger_rollback(c->ledger);
        snprintf(err, CHAIN_ERR_MAX, "encoding block %llu failed: %s",
                 (unsigned long long)h.height, strerror(-r));
        goto out;
    }
    if ((r = ledger_put_block(c->ledger, &h, hash, cert)) < 0)
        goto sqlerr_rb;
    if ((r = ledger_commit(c->ledger)) < 0)
        goto sqlerr_rb;
    c->tip.height = h.height;
    c->tip.time_ms = h.time_ms;
    memcpy(c->tip.hash, hash, BLOCK_HASH_LEN);
    if (out)
        *out = h;
    r = 0;
    goto out;
sqlerr_rb:
    ledger_rollback(c->ledger);
sqlerr:
    snprintf(err, CHAIN_ERR_MAX, "committing block %llu: %s", (unsigned long long)h.height,
             ledger_errmsg(c->ledger));
    if (r >= 0)
        r = -EIO;
out:
    free(cert);
    return r;
}
