/* Delta payload codecs and state-tree leaves; see delta_tx.h. */
#include "proto/delta_tx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/wire.h"

static const char ACCOUNT_KEY_TAG[] = "adnet/delta/account";
static const char ACCOUNT_LEAF_TAG[] = "adnet/delta/account/v1";
static const char POOL_KEY_TAG[] = "adnet/delta/pool";
static const char POOL_LEAF_TAG[] = "adnet/delta/pool/v1";

static const char *const KIND_NAMES[] = {
    NULL, "transfer", "pool_create", "liquidity_add", "liquidity_remove", "swap", "stake",
    "unstake", "bridge_out",
};

const char *delta_kind_name(uint16_t kind)
{
    if (kind == 0 || kind >= sizeof KIND_NAMES / sizeof KIND_NAMES[0])
        return NULL;
    return KIND_NAMES[kind];
}

/* A string field that fits the wire limit (the encoder refuses others). */
static bool str_fits(const char *s)
{
    return strnlen(s, DELTA_ASSET_MAX + 1) <= DELTA_ASSET_MAX;
}

int delta_payload_encode(const delta_payload_t *p, uint8_t *buf, size_t cap, size_t *len)
{
    wire_writer_t w;

    wire_writer_init(&w, buf, cap);
    switch (p->kind) {
    case DELTA_TX_TRANSFER:
    case DELTA_TX_BRIDGE_OUT:
        if (!str_fits(p->u.transfer.asset))
            return -EINVAL;
        wire_put_bytes(&w, p->u.transfer.to, DELTA_KEY_LEN);
        wire_put_str(&w, p->u.transfer.asset);
        wire_put_u64(&w, p->u.transfer.amount);
        break;
    case DELTA_TX_POOL_CREATE: {
        const delta_pool_create_t *c = &p->u.pool_create;
        if (!str_fits(c->asset_a) || !str_fits(c->asset_b))
            return -EINVAL;
        wire_put_str(&w, c->asset_a);
        wire_put_str(&w, c->asset_b);
        wire_put_u64(&w, c->amount_a);
        wire_put_u64(&w, c->amount_b);
        wire_put_u16(&w, c->fee_bps);
        break;
    }
    case DELTA_TX_LIQUIDITY_ADD: {
        const delta_liquidity_add_t *a = &p->u.liquidity_add;
        if (!str_fits(a->asset_a) || !str_fits(a->asset_b))
            return -EINVAL;
        wire_put_str(&w, a->asset_a);
        wire_put_str(&w, a->asset_b);
        wire_put_u64(&w, a->max_a);
        wire_put_u64(&w, a->max_b);
        wire_put_u64(&w, a->min_shares);
        break;
    }
    case DELTA_TX_LIQUIDITY_REMOVE: {
        const delta_liquidity_remove_t *rm = &p->u.liquidity_remove;
        if (!str_fits(rm->asset_a) || !str_fits(rm->asset_b))
            return -EINVAL;
        wire_put_str(&w, rm->asset_a);
        wire_put_str(&w, rm->asset_b);
        wire_put_u64(&w, rm->shares);
        wire_put_u64(&w, rm->min_a);
        wire_put_u64(&w, rm->min_b);
        break;
    }
    case DELTA_TX_SWAP: {
        const delta_swap_t *s = &p->u.swap;
        if (!str_fits(s->asset_in) || !str_fits(s->asset_out))
            return -EINVAL;
        wire_put_str(&w, s->asset_in);
        wire_put_str(&w, s->asset_out);
        wire_put_u64(&w, s->amount_in);
        wire_put_u64(&w, s->min_out);
        break;
    }
    case DELTA_TX_STAKE:
    case DELTA_TX_UNSTAKE:
        wire_put_u64(&w, p->u.stake.amount);
        break;
    default:
        return -EPROTONOSUPPORT;
    }
    if (w.err != 0)
        return w.err;
    *len = w.len;
    return 0;
}

int delta_payload_decode(delta_payload_t *p, uint16_t kind, const uint8_t *buf, size_t len,
                         const char **what)
{
    delta_payload_t t;
    wire_reader_t r;
    int rc;

    memset(&t, 0, sizeof t);
    t.kind = kind;
    wire_reader_init(&r, buf, len);
    switch (kind) {
    case DELTA_TX_TRANSFER:
    case DELTA_TX_BRIDGE_OUT:
        wire_get_bytes(&r, "to", t.u.transfer.to, DELTA_KEY_LEN);
        wire_get_str(&r, "asset", t.u.transfer.asset, DELTA_ASSET_MAX);
        wire_get_u64(&r, "amount", &t.u.transfer.amount);
        break;
    case DELTA_TX_POOL_CREATE:
        wire_get_str(&r, "asset_a", t.u.pool_create.asset_a, DELTA_ASSET_MAX);
        wire_get_str(&r, "asset_b", t.u.pool_create.asset_b, DELTA_ASSET_MAX);
        wire_get_u64(&r, "amount_a", &t.u.pool_create.amount_a);
        wire_get_u64(&r, "amount_b", &t.u.pool_create.amount_b);
        wire_get_u16(&r, "fee_bps", &t.u.pool_create.fee_bps);
        break;
    case DELTA_TX_LIQUIDITY_ADD:
        wire_get_str(&r, "asset_a", t.u.liquidity_add.asset_a, DELTA_ASSET_MAX);
        wire_get_str(&r, "asset_b", t.u.liquidity_add.asset_b, DELTA_ASSET_MAX);
        wire_get_u64(&r, "max_a", &t.u.liquidity_add.max_a);
        wire_get_u64(&r, "max_b", &t.u.liquidity_add.max_b);
        wire_get_u64(&r, "min_shares", &t.u.liquidity_add.min_shares);
        break;
    case DELTA_TX_LIQUIDITY_REMOVE:
        wire_get_str(&r, "asset_a", t.u.liquidity_remove.asset_a, DELTA_ASSET_MAX);
        wire_get_str(&r, "asset_b", t.u.liquidity_remove.asset_b, DELTA_ASSET_MAX);
        wire_get_u64(&r, "shares", &t.u.liquidity_remove.shares);
        wire_get_u64(&r, "min_a", &t.u.liquidity_remove.min_a);
        wire_get_u64(&r, "min_b", &t.u.liquidity_remove.min_b);
        break;
    case DELTA_TX_SWAP:
        wire_get_str(&r, "asset_in", t.u.swap.asset_in, DELTA_ASSET_MAX);
        wire_get_str(&r, "asset_out", t.u.swap.asset_out, DELTA_ASSET_MAX);
        wire_get_u64(&r, "amount_in", &t.u.swap.amount_in);
        wire_get_u64(&r, "min_out", &t.u.swap.min_out);
        break;
    case DELTA_TX_STAKE:
    case DELTA_TX_UNSTAKE:
        wire_get_u64(&r, "amount", &t.u.stake.amount);
        break;
    default:
        if (what)
            *what = "kind";
        return -EPROTONOSUPPORT;
    }
    rc = wire_reader_finish(&r);
    if (rc != 0) {
        if (what)
            *what = r.what;
        return rc == -EINVAL ? -EBADMSG : rc;
    }
    *p = t;
    return 0;
}

static int check_fail(const char **what, const char **why, const char *w, const char *y)
{
    if (what)
        *what = w;
    if (why)
        *why = y;
    return -EINVAL;
}

/* Check a named asset field. */
#define CHECK_ASSET(field, name)                                                           \
    do {                                                                                   \
        if (!tx_asset_is_valid(field))                                                  \
            return check_fail(what, why, name, "not 1 to 16 characters of A-Z, 0-9, -"); \
    } while (0)

static int check_pair(const char *a, const char *b, const char **what, const char **why)
{
    CHECK_ASSET(a, "asset_a");
    CHECK_ASSET(b, "asset_b");
    if (strcmp(a, b) >= 0)
        return check_fail(what, why, "pair order",
                          "asset_a must sort before asset_b (canonical pair order)");
    return 0;
}

int delta_payload_check(const delta_payload_t *p, const char **what, const char **why)
{
    switch (p->kind) {
    case DELTA_TX_TRANSFER:
    case DELTA_TX_BRIDGE_OUT:
        CHECK_ASSET(p->u.transfer.asset, "asset");
        return 0;
    case DELTA_TX_POOL_CREATE:
        if (check_pair(p->u.pool_create.asset_a, p->u.pool_create.asset_b, what, why) < 0)
            return -EINVAL;
        if (p->u.pool_create.fee_bps > DELTA_FEE_BPS_MAX)
            return check_fail(what, why, "fee_bps", "above 1000 basis points");
        return 0;
    case DELTA_TX_LIQUIDITY_ADD:
        return check_pair(p->u.liquidity_add.asset_a, p->u.liquidity_add.asset_b, what, why);
    case DELTA_TX_LIQUIDITY_REMOVE:
        return check_pair(p->u.liquidity_remove.asset_a, p->u.liquidity_remove.asset_b, what,
                          why);
    case DELTA_TX_SWAP:
        CHECK_ASSET(p->u.swap.asset_in, "asset_in");
        CHECK_ASSET(p->u.swap.asset_out, "asset_out");
        if (strcmp(p->u.swap.asset_in, p->u.swap.asset_out) == 0)
            return check_fail(what, why, "asset_out", "the same asset as asset_in");
        return 0;
    case DELTA_TX_STAKE:
    case DELTA_TX_UNSTAKE:
        return 0;
    default:
        if (what)
            *what = "kind";
        if (why)
            *why = "unknown kind";
        return -EPROTONOSUPPORT;
    }
}

/* ---- leaves ---- */

static void hash_u16(crypto_generichash_state *st, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    crypto_generichash_update(st, b, sizeof b);
}

static void hash_u32(crypto_generichash_state *st, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    crypto_generichash_update(st, b, sizeof b);
}

static void hash_u64(crypto_generichash_state *st, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    crypto_generichash_update(st, b, sizeof b);
}

/* str = u32 length || bytes, as wire_put_str writes it. */
static void hash_str(crypto_generichash_state *st, const char *s)
{
    size_t n = strlen(s);
    hash_u32(st, (uint32_t)n);
    crypto_generichash_update(st, (const unsigned char *)s, n);
}

static void hash_tag(crypto_generichash_state *st, const char *tag)
{
    crypto_generichash_init(st, NULL, 0, DELTA_HASH_LEN);
    crypto_generichash_update(st, (const unsigned char *)tag, strlen(tag));
}

bool delta_account_is_empty(const delta_account_t *a)
{
    if (a->nonce != 0 || a->staked != 0)
        return false;
    for (size_t i = 0; i < a->n_balances; i++)
        if (a->balances[i].amount != 0)
            return false;
    for (size_t i = 0; i < a->n_unbonding; i++)
        if (a->unbonding[i].amount != 0)
            return false;
    for (size_t i = 0; i < a->n_lp; i++)
        if (a->lp[i].shares != 0)
            return false;
    return true;
}

void delta_account_key(const uint8_t pk[DELTA_KEY_LEN], uint8_t out[DELTA_HASH_LEN])
{
    crypto_generichash_state st;
    hash_tag(&st, ACCOUNT_KEY_TAG);
    crypto_generichash_update(&st, pk, DELTA_KEY_LEN);
    crypto_generichash_final(&st, out, DELTA_HASH_LEN);
}

static int cmp_balance(const void *x, const void *y)
{
    return strcmp(((const delta_balance_t *)x)->asset, ((const delta_balance_t *)y)->asset);
}

static int cmp_unbond(const void *x, const void *y)
{
    const delta_unbond_t *a = x, *b = y;
    if (a->release_height != b->release_height)
        return a->release_height < b->release_height ? -1 : 1;
    if (a->amount != b->amount)
        return a->amount < b->amount ? -1 : 1;
    return 0;
}

static int cmp_lp(const void *x, const void *y)
{
    const delta_lp_t *a = x, *b = y;
    int c = strcmp(a->asset_a, b->asset_a);
    return c != 0 ? c : strcmp(a->asset_b, b->asset_b);
}

/* Copy the non-zero entries of an array of n elements of size sz into a
 * new array (*out, owned by the caller; NULL when none), sorted by cmp. */
static int sorted_nonzero(const void *in, size_t n, size_t sz, bool (*nonzero)(const void *),
                          int (*cmp)(const void *, const void *), void **out, size_t *nout)
{
    uint8_t *copy = NULL;
    size_t k = 0;
    if (n > 0) {
        copy = malloc(n * sz);
        if (!copy)
            return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *e = (const uint8_t *)in + i * sz;
            if (nonzero(e))
                memcpy(copy + k++ * sz, e, sz);
        }
        if (k > 1)
            qsort(copy, k, sz, cmp);
    }
    *out = copy;
    *nout = k;
    return 0;
}

static bool balance_nonzero(const void *e)
{
    return ((const delta_balance_t *)e)->amount != 0;
}

static bool unbond_nonzero(const void *e)
{
    return ((const delta_unbond_t *)e)->amount != 0;
}

static bool lp_nonzero(const void *e)
{
    return ((const delta_lp_t *)e)->shares != 0;
}

int delta_account_leaf(const delta_account_t *a, uint8_t out[DELTA_HASH_LEN])
{
    void *bal = NULL, *unb = NULL, *lp = NULL;
    size_t nbal = 0, nunb = 0, nlp = 0;
    crypto_generichash_state st;
    int r;

    if ((r = sorted_nonzero(a->balances, a->n_balances, sizeof(delta_balance_t), balance_nonzero,
                            cmp_balance, &bal, &nbal)) < 0 ||
        (r = sorted_nonzero(a->unbonding, a->n_unbonding, sizeof(delta_unbond_t), unbond_nonzero,
                            cmp_unbond, &unb, &nunb)) < 0 ||
        (r = sorted_nonzero(a->lp, a->n_lp, sizeof(delta_lp_t), lp_nonzero, cmp_lp, &lp,
                            &nlp)) < 0)
        goto out;
    if (nbal > UINT32_MAX || nunb > UINT32_MAX || nlp > UINT32_MAX) {
        r = -EINVAL;
        goto out;
    }
    const delta_balance_t *b = bal;
    const delta_unbond_t *u = unb;
    const delta_lp_t *l = lp;
    for (size_t i = 0; i < nbal; i++) {
        if (!tx_asset_is_valid(b[i].asset) || (i > 0 && cmp_balance(&b[i - 1], &b[i]) == 0)) {
            r = -EINVAL;
            goto out;
        }
    }
    for (size_t i = 0; i < nlp; i++) {
        if (!tx_asset_is_valid(l[i].asset_a) || !tx_asset_is_valid(l[i].asset_b) ||
            strcmp(l[i].asset_a, l[i].asset_b) >= 0 || (i > 0 && cmp_lp(&l[i - 1], &l[i]) == 0)) {
            r = -EINVAL;
            goto out;
        }
    }

    hash_tag(&st, ACCOUNT_LEAF_TAG);
    crypto_generichash_update(&st, a->pk, DELTA_KEY_LEN);
    hash_u64(&st, a->nonce);
    hash_u32(&st, (uint32_t)nbal);
    for (size_t i = 0; i < nbal; i++) {
        hash_str(&st, b[i].asset);
        hash_u64(&st, b[i].amount);
    }
    hash_u64(&st, a->staked);
    hash_u32(&st, (uint32_t)nunb);
    for (size_t i = 0; i < nunb; i++) {
        hash_u64(&st, u[i].amount);
        hash_u64(&st, u[i].release_height);
    }
    hash_u32(&st, (uint32_t)nlp);
    for (size_t i = 0; i < nlp; i++) {
        hash_str(&st, l[i].asset_a);
        hash_str(&st, l[i].asset_b);
        hash_u64(&st, l[i].shares);
    }
    crypto_generichash_final(&st, out, DELTA_HASH_LEN);
    r = 0;
out:
    free(bal);
    free(unb);
    free(lp);
    return r;
}

void delta_pool_key(const char *asset_a, const char *asset_b, uint8_t out[DELTA_HASH_LEN])
{
    crypto_generichash_state st;
    hash_tag(&st, POOL_KEY_TAG);
    hash_str(&st, asset_a);
    hash_str(&st, asset_b);
    crypto_generichash_final(&st, out, DELTA_HASH_LEN);
}

int delta_pool_leaf(const char *asset_a, const char *asset_b, uint64_t reserve_a,
                    uint64_t reserve_b, uint64_t shares, uint16_t fee_bps,
                    uint8_t out[DELTA_HASH_LEN])
{
    crypto_generichash_state st;
    if (!tx_asset_is_valid(asset_a) || !tx_asset_is_valid(asset_b) ||
        strcmp(asset_a, asset_b) >= 0)
        return -EINVAL;
    hash_tag(&st, POOL_LEAF_TAG);
    hash_str(&st, asset_a);
    hash_str(&st, asset_b);
    hash_u64(&st, reserve_a);
    hash_u64(&st, reserve_b);
    hash_u64(&st, shares);
    hash_u16(&st, fee_bps);
    crypto_generichash_final(&st, out, DELTA_HASH_LEN);
    return 0;
}
