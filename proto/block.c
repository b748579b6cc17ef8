/* Block header and commit certificate codecs; see block.h. */
#include "proto/block.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "proto/wire.h"

static const char BLOCK_HASH_TAG[] = "adnet/block/v1";
static const char COMMIT_SIGN_TAG[] = "adnet/commit/v1";

/* A reader's -EINVAL (bad value) is a malformed message to our callers. */
static int decode_error(int err)
{
    return err == -EINVAL ? -EBADMSG : err;
}

/* Length of a chain id held in a fixed buffer, or -1 if it has no NUL
 * within BLOCK_CHAIN_ID_MAX + 1 bytes. */
static int chain_id_len(const char *chain_id)
{
    size_t n = strnlen(chain_id, BLOCK_CHAIN_ID_MAX + 1);
    return n > BLOCK_CHAIN_ID_MAX ? -1 : (int)n;
}

int block_header_encode(const block_header_t *h, uint8_t *buf, size_t cap, size_t *len)
{
    wire_writer_t w;

    if (chain_id_len(h->chain_id) < 0)
        return -EINVAL;
    wire_writer_init(&w, buf, cap);
    wire_put_u8(&w, h->peer_height ? BLOCK_FORMAT_V2 : BLOCK_FORMAT_V1);
    wire_put_u32(&w, h->protocol_version);
    wire_put_str(&w, h->chain_id);
    wire_put_u64(&w, h->height);
    wire_put_u64(&w, h->time_ms);
    wire_put_bytes(&w, h->prev_hash, sizeof h->prev_hash);
    wire_put_bytes(&w, h->txs_root, sizeof h->txs_root);
    wire_put_bytes(&w, h->state_root, sizeof h->state_root);
    wire_put_bytes(&w, h->proposer, sizeof h->proposer);
    wire_put_u32(&w, h->tx_count);
    if (h->peer_height) {
        wire_put_u64(&w, h->peer_height);
        wire_put_bytes(&w, h->peer_hash, sizeof h->peer_hash);
    }
    if (w.err != 0)
        return w.err;
    *len = w.len;
    return 0;
}

int block_header_decode(block_header_t *h, const uint8_t *buf, size_t len, const char **what)
{
    block_header_t t;
    wire_reader_t r;
    uint8_t version = 0;
    int rc;

    memset(&t, 0, sizeof t);
    wire_reader_init(&r, buf, len);
    if (wire_get_u8(&r, "format version", &version) == 0 && version != BLOCK_FORMAT_V1 &&
        version != BLOCK_FORMAT_V2) {
        rc = -EPROTONOSUPPORT;
        r.what = "format version";
        goto out;
    }
    wire_get_u32(&r, "protocol_version", &t.protocol_version);
    wire_get_str(&r, "chain_id", t.chain_id, BLOCK_CHAIN_ID_MAX);
    wire_get_u64(&r, "height", &t.height);
    wire_get_u64(&r, "time_ms", &t.time_ms);
    wire_get_bytes(&r, "prev_hash", t.prev_hash, sizeof t.prev_hash);
    wire_get_bytes(&r, "txs_root", t.txs_root, sizeof t.txs_root);
    wire_get_bytes(&r, "state_root", t.state_root, sizeof t.state_root);
    wire_get_bytes(&r, "proposer", t.proposer, sizeof t.proposer);
    wire_get_u32(&r, "tx_count", &t.tx_count);
    if (version == BLOCK_FORMAT_V2) {
        wire_get_u64(&r, "peer_height", &t.peer_height);
        wire_get_bytes(&r, "peer_hash", t.peer_hash, sizeof t.peer_hash);
        if (r.err == 0 && t.peer_height == 0) {
            r.err = -EBADMSG;
            r.what = "peer_height";
        }
    }
    rc = decode_error(wire_reader_finish(&r));
    if (rc == 0)
        *h = t;
out:
    if (rc != 0 && what != NULL)
        *what = r.what;
    return rc;
}

int block_header_check(const block_header_t *h, const char **what)
{
    const char *bad = NULL;
    int n = chain_id_len(h->chain_id);

    if (n < 0)
        bad = "chain_id too long";
    else if (n == 0)
        bad = "chain_id empty";
    else if (h->height < 1)
        bad = "height";
    if (bad != NULL) {
        if (what != NULL)
            *what = bad;
        return -EINVAL;
    }
    return 0;
}

int block_header_hash(const block_header_t *h, uint8_t out[BLOCK_HASH_LEN])
{
    uint8_t enc[BLOCK_HEADER_MAX];
    size_t len;
    crypto_generichash_state st;
    int rc = block_header_encode(h, enc, sizeof enc, &len);

    if (rc != 0)
        return rc;
    if (crypto_generichash_init(&st, NULL, 0, BLOCK_HASH_LEN) != 0 ||
        crypto_generichash_update(&st, (const uint8_t *)BLOCK_HASH_TAG,
                                  sizeof BLOCK_HASH_TAG - 1) != 0 ||
        crypto_generichash_update(&st, enc, len) != 0 ||
        crypto_generichash_final(&st, out, BLOCK_HASH_LEN) != 0)
        return -EIO;
    return 0;
}

int commit_sign_bytes(const char *chain_id, uint64_t height, const uint8_t hash[BLOCK_HASH_LEN],
                      uint8_t *buf, size_t cap)
{
    wire_writer_t w;

    if (chain_id_len(chain_id) < 0)
        return -EINVAL;
    wire_writer_init(&w, buf, cap);
    wire_put_bytes(&w, COMMIT_SIGN_TAG, sizeof COMMIT_SIGN_TAG - 1);
    wire_put_str(&w, chain_id);
    wire_put_u64(&w, height);
    wire_put_bytes(&w, hash, BLOCK_HASH_LEN);
    if (w.err != 0)
        return w.err;
    return (int)w.len;
}

/* Strictly ascending validator keys: no duplicates, one order. */
static int cert_order_ok(const commit_sig_t *sigs, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++)
        if (memcmp(sigs[i - 1].validator, sigs[i].validator, BLOCK_KEY_LEN) >= 0)
            return 0;
    return 1;
}

int commit_cert_encode(const commit_cert_t *c, uint8_t *buf, size_t cap, size_t *len)
{
    wire_writer_t w;

    if (c->n_sigs < 1 || c->n_sigs > BLOCK_MAX_SIGS || !cert_order_ok(c->sigs, c->n_sigs))
        return -EINVAL;
    wire_writer_init(&w, buf, cap);
    wire_put_u8(&w, COMMIT_CERT_VERSION);
    wire_put_u64(&w, c->height);
    wire_put_bytes(&w, c->block_hash, sizeof c->block_hash);
    wire_put_u32(&w, c->n_sigs);
    for (uint32_t i = 0; i < c->n_sigs; i++) {
        wire_put_bytes(&w, c->sigs[i].validator, BLOCK_KEY_LEN);
        wire_put_bytes(&w, c->sigs[i].sig, BLOCK_SIG_LEN);
    }
    if (w.err != 0)
        return w.err;
    *len = w.len;
    return 0;
}

int commit_cert_decode(commit_cert_t *c, const uint8_t *buf, size_t len, const char **what)
{
    /* Static would not be reentrant; the struct is ~12 KiB, fine on a stack. */
    commit_cert_t t;
    wire_reader_t r;
    uint8_t version = 0;
    int rc;

    t.n_sigs = 0;
    wire_reader_init(&r, buf, len);
    if (wire_get_u8(&r, "format version", &version) == 0 && version != COMMIT_CERT_VERSION) {
        rc = -EPROTONOSUPPORT;
        r.what = "format version";
        goto out;
    }
    wire_get_u64(&r, "height", &t.height);
    wire_get_bytes(&r, "block_hash", t.block_hash, sizeof t.block_hash);
    if (wire_get_u32(&r, "n_sigs", &t.n_sigs) == 0 &&
        (t.n_sigs < 1 || t.n_sigs > BLOCK_MAX_SIGS)) {
        rc = -EBADMSG;
        r.what = "n_sigs";
        goto out;
    }
    for (uint32_t i = 0; r.err == 0 && i < t.n_sigs; i++) {
        wire_get_bytes(&r, "validator", t.sigs[i].validator, BLOCK_KEY_LEN);
        wire_get_bytes(&r, "sig", t.sigs[i].sig, BLOCK_SIG_LEN);
    }
    rc = decode_error(wire_reader_finish(&r));
    if (rc != 0)
        goto out;
    if (!cert_order_ok(t.sigs, t.n_sigs)) {
        rc = -EBADMSG;
        r.what = "validator order";
        goto out;
    }
    /* Copy only the filled slots: the rest of *c keeps its old bytes,
     * which no reader looks at past n_sigs. */
    c->height = t.height;
    memcpy(c->block_hash, t.block_hash, sizeof c->block_hash);
    c->n_sigs = t.n_sigs;
    memcpy(c->sigs, t.sigs, t.n_sigs * sizeof t.sigs[0]);
out:
    if (rc != 0 && what != NULL)
        *what = r.what;
    return rc;
}
