#include "proto/tx.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire.h"

static const char tx_sign_tag[] = "adnet/tx/v1";

/* Everything before the signature. */
static int tx_encode_body(const tx_t *tx, wire_writer_t *w)
{
    size_t idlen = strnlen(tx->chain_id, sizeof(tx->chain_id));
    if (idlen == 0 || idlen > BLOCK_CHAIN_ID_MAX || tx->payload_len > TX_PAYLOAD_MAX ||
        (tx->payload_len > 0 && !tx->payload))
        return -EINVAL;
    wire_put_u8(w, TX_FORMAT_VERSION);
    wire_put_str(w, tx->chain_id);
    wire_put_u16(w, tx->kind);
    wire_put_bytes(w, tx->sender, BLOCK_KEY_LEN);
    wire_put_u64(w, tx->fee);
    wire_put_u64(w, tx->nonce);
    wire_put_u64(w, tx->expiry_height);
    wire_put_var(w, tx->payload, tx->payload_len);
    return w->err;
}

/* Ed25519 (pure, not prehashed) over tag || body, through one buffer. */
static int tx_signed_message(const uint8_t *body, size_t n, uint8_t *msg, size_t cap, size_t *len)
{
    size_t tag = sizeof(tx_sign_tag) - 1;
    if (n > cap - tag)
        return -ENOBUFS;
    memcpy(msg, tx_sign_tag, tag);
    memcpy(msg + tag, body, n);
    *len = tag + n;
    return 0;
}

int tx_sign_encode(const tx_t *tx, const uint8_t sk[64], uint8_t *buf, size_t cap, size_t *len)
{
    wire_writer_t w;
    uint8_t msg[TX_MAX_BYTES + sizeof(tx_sign_tag)];
    size_t mlen;
    wire_writer_init(&w, buf, cap);
    int r = tx_encode_body(tx, &w);
    if (r < 0)
        return r;
    if (cap - w.len < BLOCK_SIG_LEN)
        return -ENOBUFS;
    if ((r = tx_signed_message(buf, w.len, msg, sizeof(msg), &mlen)) < 0)
        return r;
    crypto_sign_detached(buf + w.len, NULL, msg, mlen, sk);
    *len = w.len + BLOCK_SIG_LEN;
    return 0;
}

int tx_decode(tx_t *tx, const uint8_t *buf, size_t len, const char **what)
{
    wire_reader_t r;
    tx_t t;
    uint8_t version = 0;
    const char *bad = NULL;
    int rc = 0;

    memset(&t, 0, sizeof(t));
    if (len > TX_MAX_BYTES) {
        bad = "size";
        rc = -EMSGSIZE;
        goto out;
    }
    wire_reader_init(&r, buf, len);
    if (wire_get_u8(&r, "version", &version) == 0 && version != TX_FORMAT_VERSION) {
        bad = "version";
        rc = -EPROTONOSUPPORT;
        goto out;
    }
    wire_get_str(&r, "chain_id", t.chain_id, BLOCK_CHAIN_ID_MAX);
    wire_get_u16(&r, "kind", &t.kind);
    wire_get_bytes(&r, "sender", t.sender, BLOCK_KEY_LEN);
    wire_get_u64(&r, "fee", &t.fee);
    wire_get_u64(&r, "nonce", &t.nonce);
    wire_get_u64(&r, "expiry_height", &t.expiry_height);
    wire_get_var(&r, "payload", TX_PAYLOAD_MAX, &t.payload, &t.payload_len);
    wire_get_bytes(&r, "signature", t.sig, BLOCK_SIG_LEN);
    if ((rc = wire_reader_finish(&r)) < 0) {
        bad = r.what;
        rc = rc == -EINVAL ? -EINVAL : -EBADMSG;
        goto out;
    }
    if (t.chain_id[0] == '\0') {
        bad = "chain_id";
        rc = -EINVAL;
        goto out;
    }
    if (t.payload_len == 0)
        t.payload = NULL;
    *tx = t;
out:
    if (rc < 0 && what)
        *what = bad ? bad : "transaction";
    return rc;
}

int tx_verify(const tx_t *tx, const uint8_t *buf, size_t len)
{
    uint8_t msg[TX_MAX_BYTES + sizeof(tx_sign_tag)];
    size_t mlen;
    if (len < BLOCK_SIG_LEN || len > TX_MAX_BYTES ||
        tx_signed_message(buf, len - BLOCK_SIG_LEN, msg, sizeof(msg), &mlen) < 0)
        return -EBADMSG;
    return crypto_sign_verify_detached(tx->sig, msg, mlen, tx->sender) == 0 ? 0 : -EBADMSG;
}

void tx_id(const uint8_t *buf, size_t len, uint8_t out[TX_ID_LEN])
{
    crypto_generichash(out, TX_ID_LEN, buf, len, NULL, 0);
}

static void tx_root_node(const uint8_t l[TX_ID_LEN], const uint8_t r[TX_ID_LEN],
                         uint8_t out[TX_ID_LEN])
{
    static const char tag[] = "adnet/txs/node";
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, TX_ID_LEN);
    crypto_generichash_update(&st, (const unsigned char *)tag, sizeof(tag) - 1);
    crypto_generichash_update(&st, l, TX_ID_LEN);
    crypto_generichash_update(&st, r, TX_ID_LEN);
    crypto_generichash_final(&st, out, TX_ID_LEN);
}

int tx_root(const uint8_t (*ids)[TX_ID_LEN], size_t n, uint8_t out[TX_ID_LEN])
{
    static const char empty[] = "adnet/txs/v1", leaf_tag[] = "adnet/txs/leaf";
    if (n == 0) {
        crypto_generichash(out, TX_ID_LEN, (const unsigned char *)empty, sizeof(empty) - 1,
                           NULL, 0);
        return 0;
    }
    /* Level by level in a scratch array of at most n hashes. */
    if (n > SIZE_MAX / TX_ID_LEN)
        return -ENOMEM;
    uint8_t (*level)[TX_ID_LEN] = malloc(n * TX_ID_LEN);
    if (!level)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        crypto_generichash_state st;
        crypto_generichash_init(&st, NULL, 0, TX_ID_LEN);
        crypto_generichash_update(&st, (const unsigned char *)leaf_tag, sizeof(leaf_tag) - 1);
        crypto_generichash_update(&st, ids[i], TX_ID_LEN);
        crypto_generichash_final(&st, level[i], TX_ID_LEN);
    }
    size_t m = n;
    while (m > 1) {
        size_t k = 0;
        for (size_t i = 0; i + 1 < m; i += 2)
            tx_root_node(level[i], level[i + 1], level[k++]);
        if (m % 2)
            memmove(level[k++], level[m - 1], TX_ID_LEN);
        m = k;
    }
    memcpy(out, level[0], TX_ID_LEN);
    free(level);
    return 0;
}

bool tx_asset_is_valid(const char *s)
{
    size_t n = s ? strnlen(s, TX_ASSET_MAX + 1) : 0;
    if (n == 0 || n > TX_ASSET_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}
