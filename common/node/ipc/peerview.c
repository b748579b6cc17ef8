/* The peer chain's validator set and the checks of its finality proofs and
 * attestations; see peerview.h. */
#include "common/node/ipc/peerview.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/base/hex.h"

/* What a message shows of a key or hash: its first 16 hex digits. */
typedef struct {
    char s[17];
} short_hex_t;

static short_hex_t short_hex(const uint8_t *bytes)
{
    short_hex_t h;
    hex_encode(h.s, bytes, 8);
    return h;
}

/* A chain id from the peer as a message may show it: bytes outside
 * printable ASCII become '?', so that a log line stays one line. */
static void printable(char out[BLOCK_CHAIN_ID_MAX + 1], const char *in)
{
    size_t i = 0;
    for (; in[i] != '\0' && i < BLOCK_CHAIN_ID_MAX; i++)
        out[i] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
    out[i] = '\0';
}

static int validator_cmp(const void *a, const void *b)
{
    return memcmp(((const genesis_validator_t *)a)->pk, ((const genesis_validator_t *)b)->pk,
                  BLOCK_KEY_LEN);
}

int peer_set_from_genesis(peer_set_t *s, const genesis_t *g)
{
    /* Built aside so that *s is written only on success. */
    peer_set_t t;

    if (g->n_validators < 1 || g->n_validators > GENESIS_MAX_VALIDATORS ||
        strnlen(g->chain, sizeof g->chain) >= sizeof t.chain ||
        strnlen(g->chain_id, sizeof g->chain_id) >= sizeof t.chain_id || g->chain_id[0] == '\0')
        return -EINVAL;
    memset(&t, 0, sizeof t);
    strcpy(t.chain, g->chain);
    strcpy(t.chain_id, g->chain_id);
    memcpy(t.genesis_hash, g->hash, BLOCK_HASH_LEN);
    t.n_validators = g->n_validators;
    memcpy(t.validators, g->validators, g->n_validators * sizeof g->validators[0]);
    qsort(t.validators, t.n_validators, sizeof t.validators[0], validator_cmp);
    for (size_t i = 0; i < t.n_validators; i++) {
        /* A key twice would make its power ambiguous; the cap keeps
         * signed power * 3 from overflowing in peer_set_quorum. */
        if (i > 0 && validator_cmp(&t.validators[i - 1], &t.validators[i]) == 0)
            return -EINVAL;
        if (t.validators[i].power > GENESIS_MAX_POWER - t.total_power)
            return -EINVAL;
        t.total_power += t.validators[i].power;
    }
    if (t.total_power == 0)
        return -EINVAL;
    *s = t;
    return 0;
}

uint64_t peer_set_power(const peer_set_t *s, const uint8_t pk[BLOCK_KEY_LEN])
{
    size_t lo = 0, hi = s->n_validators;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(s->validators[mid].pk, pk, BLOCK_KEY_LEN);
        if (c == 0)
            return s->validators[mid].power;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

int peer_set_quorum(const peer_set_t *s, uint64_t signed_power)
{
    /* Signed power never passes the total, which genesis caps: no overflow. */
    if (s->total_power == 0 || signed_power > s->total_power)
        return 0;
    return signed_power * 3 > s->total_power * 2;
}

/* Check the signers of sigs[n] (ascending, validators of s, their power a
 * quorum), then their signatures over msg. Power comes first: a proof
 * that cannot be a quorum is refused without a signature check. ctx
 * starts every message ("finality proof for height 7"). */
static int signers_verify(const peer_set_t *s, const commit_sig_t *sigs, uint32_t n,
                          const uint8_t *msg, size_t msg_len, const char *ctx, reject_t *why)
{
    uint64_t power = 0;

    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *pk = sigs[i].validator;
        int c = i > 0 ? memcmp(sigs[i - 1].validator, pk, BLOCK_KEY_LEN) : -1;
        if (c == 0)
            return reject(why, -EINVAL, "repeated_signer", "%s: validator %s signs twice", ctx,
                          short_hex(pk).s);
        if (c > 0)
            return reject(why, -EBADMSG, "malformed", "%s: signers are not in ascending key order",
                          ctx);
        uint64_t p = peer_set_power(s, pk);
        if (p == 0)
            return reject(why, -EPERM, "unknown_signer", "%s: signer %s is not a validator of %s",
                          ctx, short_hex(pk).s, s->chain_id);
        power += p;
    }
    if (!peer_set_quorum(s, power))
        return reject(why, -EPERM, "low_power",
                      "%s: signers hold power %llu of %llu, not more than two thirds", ctx,
                      (unsigned long long)power, (unsigned long long)s->total_power);
    for (uint32_t i = 0; i < n; i++)
        if (crypto_sign_verify_detached(sigs[i].sig, msg, msg_len, sigs[i].validator) != 0)
            return reject(why, -EPERM, "bad_signature", "%s: the signature of %s does not verify",
                          ctx, short_hex(sigs[i].validator).s);
    return 0;
}

/* The header part of a finality proof: it decodes, is of s's chain, is
 * not below the tip and is not the tip itself. Write *h and hash. */
static int finality_header(const peer_set_t *s, const peer_tip_t *tip, const uint8_t *header,
                           size_t header_len, block_header_t *h, uint8_t hash[BLOCK_HASH_LEN],
                           reject_t *why)
{
    const char *what = "header";
    int rc = block_header_decode(h, header, header_len, &what);

    if (rc != 0)
        return reject(why, rc, "malformed", "finality proof: the header does not decode (%s)",
                      what);
    if (block_header_check(h, &what) != 0)
        return reject(why, -EBADMSG, "malformed", "finality proof: bad header (%s)", what);
    if (strcmp(h->chain_id, s->chain_id) != 0) {
        char shown[BLOCK_CHAIN_ID_MAX + 1];
        printable(shown, h->chain_id);
        return reject(why, -EINVAL, "wrong_chain",
                      "finality proof: a header of chain id %s, not of %s", shown, s->chain_id);
    }
    if (h->height < tip->height)
        return reject(why, -ERANGE, "height_backwards",
                      "finality proof for height %llu: below the verified tip at %llu",
                      (unsigned long long)h->height, (unsigned long long)tip->height);
    rc = block_header_hash(h, hash);
    if (rc != 0)
        return reject(why, rc, "malformed",
                      "finality proof for height %llu: cannot hash the header",
                      (unsigned long long)h->height);
    if (h->height == tip->height && memcmp(hash, tip->hash, BLOCK_HASH_LEN) == 0)
        return reject(why, -EALREADY, "duplicate",
                      "finality proof for height %llu: block %s is the verified tip already",
                      (unsigned long long)h->height, short_hex(hash).s);
    return 0;
}

/* The certificate part: it decodes, names this height and hash, and a
 * quorum of s signed commit_sign_bytes for them. */
static int finality_cert(const peer_set_t *s, const block_header_t *h,
                         const uint8_t hash[BLOCK_HASH_LEN], const uint8_t *cert, size_t cert_len,
                         reject_t *why)
{
    /* About 12 KiB: fine on a worker's stack, and static would not be reentrant. */
    commit_cert_t c;
    uint8_t msg[128];
    char ctx[64];
    const char *what = "certificate";
    int n, rc;

    snprintf(ctx, sizeof ctx, "finality proof for height %llu", (unsigned long long)h->height);
    /* Its decoder refuses signers out of ascending order, so a certificate
     * naming a validator twice is "malformed" here, never "repeated_signer". */
    rc = commit_cert_decode(&c, cert, cert_len, &what);
    if (rc != 0)
        return reject(why, rc, "malformed", "%s: the certificate does not decode (%s)", ctx, what);
    if (c.height != h->height || memcmp(c.block_hash, hash, BLOCK_HASH_LEN) != 0)
        return reject(why, -EINVAL, "cert_mismatch",
                      "%s: the certificate is for height %llu block %s, not block %s", ctx,
                      (unsigned long long)c.height, short_hex(c.block_hash).s, short_hex(hash).s);
    n = commit_sign_bytes(s->chain_id, h->height, hash, msg, sizeof msg);
    if (n < 0)
        return reject(why, n, "malformed", "%s: cannot make the signed bytes", ctx);
    return signers_verify(s, c.sigs, c.n_sigs, msg, (size_t)n, ctx, why);
}

int peer_verify_finality(const peer_set_t *s, const peer_tip_t *tip, const uint8_t *header,
                         size_t header_len, const uint8_t *cert, size_t cert_len,
                         block_header_t *out, uint8_t out_hash[BLOCK_HASH_LEN], reject_t *why)
{
    block_header_t h;
    uint8_t hash[BLOCK_HASH_LEN];
    /* Before any block, the tip is the genesis: block 1 names it. */
    const uint8_t *tip_hash = tip->height == 0 ? s->genesis_hash : tip->hash;
    int rc = finality_header(s, tip, header, header_len, &h, hash, why);

    if (rc == 0)
        rc = finality_cert(s, &h, hash, cert, cert_len, why);
    if (rc != 0)
        return rc;
    /* A conflict is told only of a fully signed block: then it is evidence
     * of a fork, not noise anyone could make. */
    if (h.height == tip->height)
        return reject(why, -EEXIST, "conflict",
                      "finality proof for height %llu: block %s, but %s is verified there",
                      (unsigned long long)h.height, short_hex(hash).s, short_hex(tip_hash).s);
    if (h.height == tip->height + 1 && memcmp(h.prev_hash, tip_hash, BLOCK_HASH_LEN) != 0)
        return reject(why, -EEXIST, "conflict",
                      "finality proof for height %llu: prev_hash %s, not the verified tip %s",
                      (unsigned long long)h.height, short_hex(h.prev_hash).s,
                      short_hex(tip_hash).s);
    *out = h;
    memcpy(out_hash, hash, BLOCK_HASH_LEN);
    return 0;
}

int peer_verify_attestation(const peer_set_t *s, const ipc_attestation_t *a, reject_t *why)
{
    uint8_t msg[IPC_ATTEST_SIGN_MAX];
    char ctx[64];
    int n;

    snprintf(ctx, sizeof ctx, "attestation at height %llu", (unsigned long long)a->height);
    if (a->n_sigs < 1 || a->n_sigs > IPC_ATTEST_SIGS_MAX)
        return reject(why, -EBADMSG, "malformed", "%s: %u signatures, not 1 to %u", ctx,
                      (unsigned)a->n_sigs, (unsigned)IPC_ATTEST_SIGS_MAX);
    n = ipc_attest_sign_bytes(s->chain_id, a->stmt_kind, a->stmt, a->stmt_len, a->height, msg,
                              sizeof msg);
    if (n < 0)
        return reject(why, -EBADMSG, "malformed",
                      "%s: statement of kind %u and %zu bytes is out of limits", ctx,
                      (unsigned)a->stmt_kind, a->stmt_len);
    return signers_verify(s, a->sigs, a->n_sigs, msg, (size_t)n, ctx, why);
}

int peer_attest_sign(ipc_attestation_t *a, const char *chain_id, const uint8_t pk[BLOCK_KEY_LEN],
                     const uint8_t sk[64])
{
    uint8_t msg[IPC_ATTEST_SIGN_MAX];
    uint8_t sk_pk[BLOCK_KEY_LEN];
    uint32_t at = 0;
    int n, c = -1;

    if (a->n_sigs > IPC_ATTEST_SIGS_MAX)
        return -EINVAL;
    n = ipc_attest_sign_bytes(chain_id, a->stmt_kind, a->stmt, a->stmt_len, a->height, msg,
                              sizeof msg);
    if (n < 0)
        return -EINVAL;
    /* A key pair that does not match would append a signature that never verifies. */
    if (crypto_sign_ed25519_sk_to_pk(sk_pk, sk) != 0 || memcmp(sk_pk, pk, BLOCK_KEY_LEN) != 0)
        return -EINVAL;
    for (uint32_t i = 1; i < a->n_sigs; i++)
        if (memcmp(a->sigs[i - 1].validator, a->sigs[i].validator, BLOCK_KEY_LEN) >= 0)
            return -EINVAL;
    while (at < a->n_sigs && (c = memcmp(a->sigs[at].validator, pk, BLOCK_KEY_LEN)) < 0)
        at++;
    if (at < a->n_sigs && c == 0)
        return -EEXIST;
    if (a->n_sigs == IPC_ATTEST_SIGS_MAX)
        return -ENOSPC;
    memmove(&a->sigs[at + 1], &a->sigs[at], (a->n_sigs - at) * sizeof a->sigs[0]);
    memcpy(a->sigs[at].validator, pk, BLOCK_KEY_LEN);
    crypto_sign_detached(a->sigs[at].sig, NULL, msg, (unsigned long long)n, sk);
    a->n_sigs++;
    return 0;
}
