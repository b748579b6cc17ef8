/* Alpha payload codecs and hashes; see alpha_tx.h. */
#include "proto/alpha_tx.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "proto/tx.h"
#include "proto/wire.h"

_Static_assert(ALPHA_PAYLOAD_MAX <= TX_PAYLOAD_MAX, "alpha payloads fit in a transaction");
_Static_assert(ALPHA_PAYLOAD_MAX == 2028, "docs/alpha.md states the largest payload");

static int kind_known(uint16_t kind)
{
    return kind == ALPHA_TX_MINT || kind == ALPHA_TX_TRANSFER || kind == ALPHA_TX_BURN;
}

/* Smallest number of outputs a kind allows (a mint carries exactly one). */
static uint16_t min_outputs(uint16_t kind)
{
    return kind == ALPHA_TX_BURN ? 0 : 1;
}

static uint16_t max_outputs(uint16_t kind)
{
    return kind == ALPHA_TX_MINT ? 1 : ALPHA_MAX_OUTPUTS;
}

static int asset_encodable(const char *asset)
{
    size_t n = strnlen(asset, ALPHA_ASSET_MAX + 1);
    return n <= ALPHA_ASSET_MAX;
}

static void put_record(wire_writer_t *w, const alpha_record_t *rec)
{
    wire_put_bytes(w, rec->owner, ALPHA_KEY_LEN);
    wire_put_str(w, rec->asset);
    wire_put_u64(w, rec->amount);
    wire_put_bytes(w, rec->salt, sizeof rec->salt);
}

int alpha_payload_encode(const alpha_payload_t *p, uint8_t *buf, size_t cap, size_t *len)
{
    wire_writer_t w;
    if (!kind_known(p->kind))
        return -EINVAL;
    if (p->kind == ALPHA_TX_MINT) {
        if (p->n_out != 1)
            return -EINVAL;
    } else {
        if (p->n_in < 1 || p->n_in > ALPHA_MAX_INPUTS)
            return -EINVAL;
        if (p->n_out < min_outputs(p->kind) || p->n_out > max_outputs(p->kind))
            return -EINVAL;
    }
    for (uint16_t i = 0; i < p->n_out; i++)
        if (!asset_encodable(p->out[i].asset))
            return -EINVAL;

    wire_writer_init(&w, buf, cap);
    if (p->kind == ALPHA_TX_MINT) {
        put_record(&w, &p->out[0]);
    } else {
        wire_put_u16(&w, p->n_in);
        for (uint16_t i = 0; i < p->n_in; i++)
            wire_put_bytes(&w, p->in[i], ALPHA_HASH_LEN);
        wire_put_u16(&w, p->n_out);
        for (uint16_t i = 0; i < p->n_out; i++)
            put_record(&w, &p->out[i]);
        if (p->kind == ALPHA_TX_BURN) {
            wire_put_u64(&w, p->burn_amount);
            wire_put_bytes(&w, p->recipient, ALPHA_KEY_LEN);
        }
    }
    if (w.err != 0)
        return w.err;
    *len = w.len;
    return 0;
}

static void get_record(wire_reader_t *r, alpha_record_t *rec)
{
    wire_get_bytes(r, "owner", rec->owner, ALPHA_KEY_LEN);
    wire_get_str(r, "asset", rec->asset, ALPHA_ASSET_MAX);
    wire_get_u64(r, "amount", &rec->amount);
    wire_get_bytes(r, "salt", rec->salt, sizeof rec->salt);
}

int alpha_payload_decode(alpha_payload_t *p, uint16_t kind, const uint8_t *buf, size_t len,
                         const char **what)
{
    /* Decode into a local copy so that *p is written only on success. */
    alpha_payload_t tmp;
    wire_reader_t r;
    const char *bad = NULL;
    int rc = 0;

    if (!kind_known(kind)) {
        bad = "kind";
        rc = -ENOTSUP;
        goto out;
    }
    memset(&tmp, 0, sizeof tmp);
    tmp.kind = kind;
    wire_reader_init(&r, buf, len);
    if (kind == ALPHA_TX_MINT) {
        tmp.n_out = 1;
        get_record(&r, &tmp.out[0]);
    } else {
        if (wire_get_u16(&r, "n_in", &tmp.n_in) == 0 &&
            (tmp.n_in < 1 || tmp.n_in > ALPHA_MAX_INPUTS)) {
            bad = "n_in";
            rc = -EINVAL;
            goto out;
        }
        for (uint16_t i = 0; i < tmp.n_in && r.err == 0; i++)
            wire_get_bytes(&r, "input", tmp.in[i], ALPHA_HASH_LEN);
        if (wire_get_u16(&r, "n_out", &tmp.n_out) == 0 &&
            (tmp.n_out < min_outputs(kind) || tmp.n_out > max_outputs(kind))) {
            bad = "n_out";
            rc = -EINVAL;
            goto out;
        }
        for (uint16_t i = 0; i < tmp.n_out && r.err == 0; i++)
            get_record(&r, &tmp.out[i]);
        if (kind == ALPHA_TX_BURN) {
            wire_get_u64(&r, "burn_amount", &tmp.burn_amount);
            wire_get_bytes(&r, "recipient", tmp.recipient, ALPHA_KEY_LEN);
        }
    }
    rc = wire_reader_finish(&r);
    if (rc != 0) {
        bad = r.what;
        if (rc == -EMSGSIZE)
            rc = -EBADMSG;
        goto out;
    }
    *p = tmp;
out:
    if (rc != 0 && what != NULL)
        *what = bad != NULL ? bad : "payload";
    return rc;
}

int alpha_payload_check(const alpha_payload_t *p, const char **what, uint16_t *index)
{
    const char *bad = NULL;
    for (uint16_t i = 0; i < p->n_out; i++) {
        if (p->out[i].amount == 0 || p->out[i].amount > INT64_MAX)
            bad = "amount";
        else if (!tx_asset_is_valid(p->out[i].asset))
            bad = "asset";
        if (bad != NULL) {
            if (index != NULL)
                *index = i;
            goto out;
        }
    }
    if (p->kind == ALPHA_TX_BURN && (p->burn_amount == 0 || p->burn_amount > INT64_MAX))
        bad = "burn_amount";
out:
    if (bad == NULL)
        return 0;
    if (what != NULL)
        *what = bad;
    return -EINVAL;
}

/* BLAKE2b-256 of a domain tag (no NUL) followed by data[n]. */
static void tagged_hash(const char *tag, const uint8_t *data, size_t n, uint8_t out[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const unsigned char *)tag, strlen(tag));
    if (n > 0)
        crypto_generichash_update(&st, data, n);
    crypto_generichash_final(&st, out, 32);
}

int alpha_record_commitment(const uint8_t owner[ALPHA_KEY_LEN], const char *asset,
                            uint64_t amount, const uint8_t salt[32], uint8_t out[ALPHA_HASH_LEN])
{
    uint8_t buf[ALPHA_KEY_LEN + 4 + ALPHA_ASSET_MAX + 8 + 32];
    wire_writer_t w;
    if (!asset_encodable(asset))
        return -EINVAL;
    wire_writer_init(&w, buf, sizeof buf);
    wire_put_bytes(&w, owner, ALPHA_KEY_LEN);
    wire_put_str(&w, asset);
    wire_put_u64(&w, amount);
    wire_put_bytes(&w, salt, 32);
    if (w.err != 0)
        return w.err;
    tagged_hash("adnet/alpha/record/v1", buf, w.len, out);
    return 0;
}

void alpha_record_nullifier(const uint8_t commitment[ALPHA_HASH_LEN], uint8_t out[ALPHA_HASH_LEN])
{
    tagged_hash("adnet/alpha/nullifier/v1", commitment, ALPHA_HASH_LEN, out);
}

static void height_hash(const char *tag, uint64_t height, uint8_t out[32])
{
    uint8_t buf[8];
    wire_writer_t w;
    wire_writer_init(&w, buf, sizeof buf);
    wire_put_u64(&w, height);
    tagged_hash(tag, buf, w.len, out);
}

void alpha_spent_value(uint64_t height, uint8_t out[ALPHA_HASH_LEN])
{
    height_hash("adnet/alpha/spent/v1", height, out);
}

void alpha_fee_salt(uint64_t height, uint8_t out[32])
{
    height_hash("adnet/alpha/fee-salt", height, out);
}

void alpha_bridge_salt(const uint8_t id[32], uint8_t out[32])
{
    tagged_hash("adnet/alpha/bridge-salt/v1", id, 32, out);
}

void alpha_state_root(const uint8_t records_root[ALPHA_HASH_LEN],
                      const uint8_t nullifiers_root[ALPHA_HASH_LEN], uint8_t out[ALPHA_HASH_LEN])
{
    uint8_t buf[2 * ALPHA_HASH_LEN];
    memcpy(buf, records_root, ALPHA_HASH_LEN);
    memcpy(buf + ALPHA_HASH_LEN, nullifiers_root, ALPHA_HASH_LEN);
    tagged_hash("adnet/alpha/state/v2", buf, sizeof buf, out);
}
