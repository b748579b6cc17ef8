/* Inter-worker message codec, state roots and attestation bytes; see ipcmsg.h. */
#include "proto/ipcmsg.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "proto/wire.h"

static const char ATTEST_SIGN_TAG[] = "adnet/attest/v1";

/* The longest body of each kind, field by field as ipcmsg.h lays them out
 * (a var or str field costs its 4-byte length prefix and its maximum). */
#define SIG_ENTRY_LEN (BLOCK_KEY_LEN + BLOCK_SIG_LEN)
#define FINALITY_BODY_MAX (4 + BLOCK_HEADER_MAX + 4 + COMMIT_CERT_MAX)
#define CATCHUP_BODY_MAX (8 + 4)
#define QUERY_BODY_MAX (8 + 8 + 4 + IPC_TREE_NAME_MAX + 4 + IPC_KEY_MAX)
#define REPLY_BODY_MAX                                                                      \
    (8 + 8 + 1 + 4 + IPC_TREE_NAME_MAX + 4 + IPC_KEY_MAX + 4 + IPC_VALUE_MAX + 4 +          \
     IPC_PROOF_MAX + 4 + IPC_ROOT_TAG_MAX + 1 + IPC_ROOTS_MAX * BLOCK_HASH_LEN + 1)
#define ATTEST_BODY_MAX (1 + 4 + IPC_STATEMENT_MAX + 8 + 4 + IPC_ATTEST_SIGS_MAX * SIG_ENTRY_LEN)

_Static_assert(IPC_ENVELOPE_MAX == 1 + 1 + 4 + BLOCK_CHAIN_ID_MAX + 8 + 8,
               "the envelope limit is its fields' sum");
_Static_assert(IPC_ENVELOPE_MAX + FINALITY_BODY_MAX <= IPC_MSG_MAX, "finality proofs fit");
_Static_assert(IPC_ENVELOPE_MAX + CATCHUP_BODY_MAX <= IPC_MSG_MAX, "catch-up requests fit");
_Static_assert(IPC_ENVELOPE_MAX + QUERY_BODY_MAX <= IPC_MSG_MAX, "state queries fit");
_Static_assert(IPC_ENVELOPE_MAX + REPLY_BODY_MAX <= IPC_MSG_MAX, "state replies fit");
_Static_assert(IPC_ENVELOPE_MAX + ATTEST_BODY_MAX <= IPC_MSG_MAX, "attestations fit");
_Static_assert(IPC_ATTEST_SIGN_MAX ==
                   sizeof ATTEST_SIGN_TAG - 1 + 4 + BLOCK_CHAIN_ID_MAX + 1 + 4 +
                       IPC_STATEMENT_MAX + 8,
               "the signed bytes' limit is their fields' sum");
_Static_assert(IPC_ROOTS_MAX <= UINT8_MAX && IPC_ATTEST_SIGS_MAX <= UINT32_MAX,
               "counts fit their wire fields");

/* A string held in a fixed buffer of max + 1 bytes is in its limits: it
 * has a NUL within them and is at least min bytes long. */
static bool str_ok(const char *s, size_t min, size_t max)
{
    size_t n = strnlen(s, max + 1);
    return n >= min && n <= max;
}

/* A byte field is in its limits and, when not empty, points somewhere. */
static bool bytes_ok(const uint8_t *p, size_t n, size_t min, size_t max)
{
    return n >= min && n <= max && (n == 0 || p != NULL);
}

static bool kind_known(uint8_t kind)
{
    return kind >= IPC_FINALITY && kind <= IPC_ATTESTATION;
}

static bool stmt_kind_known(uint8_t kind)
{
    return kind == IPC_STMT_BRIDGE_OUT_FINAL;
}

/* Strictly ascending signer keys: none twice, one order. */
static bool signers_ascend(const commit_sig_t *sigs, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++)
        if (memcmp(sigs[i - 1].validator, sigs[i].validator, BLOCK_KEY_LEN) >= 0)
            return false;
    return true;
}

/* The field of body-level rules m breaks, or NULL if it keeps them all.
 * The encoder refuses what this names and the decoder runs it on what it
 * read, so the two accept exactly the same values. */
static const char *body_fault(const ipc_msg_t *m)
{
    const ipc_finality_t *f = &m->u.finality;
    const ipc_state_query_t *q = &m->u.query;
    const ipc_state_reply_t *p = &m->u.reply;
    const ipc_attestation_t *a = &m->u.attest;

    switch (m->kind) {
    case IPC_FINALITY:
        if (!bytes_ok(f->header, f->header_len, 1, BLOCK_HEADER_MAX))
            return "header";
        return bytes_ok(f->cert, f->cert_len, 1, COMMIT_CERT_MAX) ? NULL : "cert";
    case IPC_CATCHUP:
        return m->u.catchup.max >= 1 && m->u.catchup.max <= IPC_CATCHUP_MAX ? NULL : "max";
    case IPC_STATE_QUERY:
        if (!str_ok(q->tree, 1, IPC_TREE_NAME_MAX))
            return "tree";
        return bytes_ok(q->key, q->key_len, 0, IPC_KEY_MAX) ? NULL : "key";
    case IPC_STATE_REPLY:
        if (p->status > IPC_STATE_BAD_KEY)
            return "status";
        if (!str_ok(p->tree, 1, IPC_TREE_NAME_MAX))
            return "tree";
        if (!bytes_ok(p->key, p->key_len, 0, IPC_KEY_MAX))
            return "key";
        /* Only a present key has a value: one reply, one encoding. */
        if (!bytes_ok(p->value, p->value_len, 0,
                      p->status == IPC_STATE_PRESENT ? IPC_VALUE_MAX : 0))
            return "value";
        if (!bytes_ok(p->proof, p->proof_len, 0, IPC_PROOF_MAX))
            return "proof";
        if (!str_ok(p->root_tag, 0, IPC_ROOT_TAG_MAX))
            return "root_tag";
        if (p->n_roots < 1 || p->n_roots > IPC_ROOTS_MAX)
            return "n_roots";
        return p->root_index < p->n_roots ? NULL : "root_index";
    case IPC_ATTESTATION:
        if (!stmt_kind_known(a->stmt_kind))
            return "stmt_kind";
        if (!bytes_ok(a->stmt, a->stmt_len, 1, IPC_STATEMENT_MAX))
            return "stmt";
        if (a->n_sigs < 1 || a->n_sigs > IPC_ATTEST_SIGS_MAX)
            return "n_sigs";
        return signers_ascend(a->sigs, a->n_sigs) ? NULL : "signer order";
    default:
        return "kind";
    }
}

static void put_body(wire_writer_t *w, const ipc_msg_t *m)
{
    const ipc_state_reply_t *p = &m->u.reply;
    const ipc_attestation_t *a = &m->u.attest;

    switch (m->kind) {
    case IPC_FINALITY:
        wire_put_var(w, m->u.finality.header, m->u.finality.header_len);
        wire_put_var(w, m->u.finality.cert, m->u.finality.cert_len);
        break;
    case IPC_CATCHUP:
        wire_put_u64(w, m->u.catchup.from_height);
        wire_put_u32(w, m->u.catchup.max);
        break;
    case IPC_STATE_QUERY:
        wire_put_u64(w, m->u.query.query_id);
        wire_put_u64(w, m->u.query.height);
        wire_put_str(w, m->u.query.tree);
        wire_put_var(w, m->u.query.key, m->u.query.key_len);
        break;
    case IPC_STATE_REPLY:
        wire_put_u64(w, p->query_id);
        wire_put_u64(w, p->height);
        wire_put_u8(w, p->status);
        wire_put_str(w, p->tree);
        wire_put_var(w, p->key, p->key_len);
        wire_put_var(w, p->value, p->value_len);
        wire_put_var(w, p->proof, p->proof_len);
        wire_put_str(w, p->root_tag);
        wire_put_u8(w, p->n_roots);
        wire_put_bytes(w, p->roots, (size_t)p->n_roots * BLOCK_HASH_LEN);
        wire_put_u8(w, p->root_index);
        break;
    case IPC_ATTESTATION:
        wire_put_u8(w, a->stmt_kind);
        wire_put_var(w, a->stmt, a->stmt_len);
        wire_put_u64(w, a->height);
        wire_put_u32(w, a->n_sigs);
        for (uint32_t i = 0; i < a->n_sigs; i++) {
            wire_put_bytes(w, a->sigs[i].validator, BLOCK_KEY_LEN);
            wire_put_bytes(w, a->sigs[i].sig, BLOCK_SIG_LEN);
        }
        break;
    }
}

int ipc_msg_encode(const ipc_msg_t *m, uint8_t *buf, size_t cap, size_t *len)
{
    wire_writer_t w;

    if (!str_ok(m->source, 1, BLOCK_CHAIN_ID_MAX) || body_fault(m) != NULL)
        return -EINVAL;
    wire_writer_init(&w, buf, cap);
    wire_put_u8(&w, IPC_MSG_VERSION);
    wire_put_u8(&w, m->kind);
    wire_put_str(&w, m->source);
    wire_put_u64(&w, m->seq);
    wire_put_u64(&w, m->sent_ns);
    put_body(&w, m);
    if (w.err != 0)
        return w.err;
    *len = w.len;
    return 0;
}

/* Fail the reader with a bad value in field what, unless it failed before
 * (the first error is the one reported). */
static void reader_refuse(wire_reader_t *r, const char *what)
{
    if (r->err == 0) {
        r->err = -EBADMSG;
        r->what = what;
    }
}

static void get_reply(wire_reader_t *r, ipc_state_reply_t *p)
{
    wire_get_u64(r, "query_id", &p->query_id);
    wire_get_u64(r, "height", &p->height);
    wire_get_u8(r, "status", &p->status);
    wire_get_str(r, "tree", p->tree, IPC_TREE_NAME_MAX);
    wire_get_var(r, "key", IPC_KEY_MAX, &p->key, &p->key_len);
    wire_get_var(r, "value", IPC_VALUE_MAX, &p->value, &p->value_len);
    wire_get_var(r, "proof", IPC_PROOF_MAX, &p->proof, &p->proof_len);
    wire_get_str(r, "root_tag", p->root_tag, IPC_ROOT_TAG_MAX);
    /* The count bounds the copy into roots[]: check it before reading on. */
    if (wire_get_u8(r, "n_roots", &p->n_roots) == 0 &&
        (p->n_roots < 1 || p->n_roots > IPC_ROOTS_MAX))
        reader_refuse(r, "n_roots");
    if (r->err == 0)
        wire_get_bytes(r, "roots", p->roots, (size_t)p->n_roots * BLOCK_HASH_LEN);
    wire_get_u8(r, "root_index", &p->root_index);
}

static void get_attestation(wire_reader_t *r, ipc_attestation_t *a)
{
    wire_get_u8(r, "stmt_kind", &a->stmt_kind);
    wire_get_var(r, "stmt", IPC_STATEMENT_MAX, &a->stmt, &a->stmt_len);
    wire_get_u64(r, "height", &a->height);
    /* The count bounds the copy into sigs[]: check it before reading on. */
    if (wire_get_u32(r, "n_sigs", &a->n_sigs) == 0 &&
        (a->n_sigs < 1 || a->n_sigs > IPC_ATTEST_SIGS_MAX))
        reader_refuse(r, "n_sigs");
    for (uint32_t i = 0; r->err == 0 && i < a->n_sigs; i++) {
        wire_get_bytes(r, "validator", a->sigs[i].validator, BLOCK_KEY_LEN);
        wire_get_bytes(r, "sig", a->sigs[i].sig, BLOCK_SIG_LEN);
    }
}

static void get_body(wire_reader_t *r, ipc_msg_t *t)
{
    ipc_finality_t *f = &t->u.finality;
    ipc_state_query_t *q = &t->u.query;

    switch (t->kind) {
    case IPC_FINALITY:
        wire_get_var(r, "header", BLOCK_HEADER_MAX, &f->header, &f->header_len);
        wire_get_var(r, "cert", COMMIT_CERT_MAX, &f->cert, &f->cert_len);
        break;
    case IPC_CATCHUP:
        wire_get_u64(r, "from_height", &t->u.catchup.from_height);
        wire_get_u32(r, "max", &t->u.catchup.max);
        break;
    case IPC_STATE_QUERY:
        wire_get_u64(r, "query_id", &q->query_id);
        wire_get_u64(r, "height", &q->height);
        wire_get_str(r, "tree", q->tree, IPC_TREE_NAME_MAX);
        wire_get_var(r, "key", IPC_KEY_MAX, &q->key, &q->key_len);
        break;
    case IPC_STATE_REPLY:
        get_reply(r, &t->u.reply);
        break;
    case IPC_ATTESTATION:
        get_attestation(r, &t->u.attest);
        break;
    }
}

int ipc_msg_decode(ipc_msg_t *m, const uint8_t *buf, size_t len, const char **what)
{
    /* About 12 KiB (an attestation's signatures): fine on a worker's stack,
     * and static would not be reentrant. */
    ipc_msg_t t;
    wire_reader_t r;
    uint8_t version = 0;
    const char *fault;
    int rc;

    memset(&t, 0, sizeof t);
    wire_reader_init(&r, buf, len);
    if (wire_get_u8(&r, "version", &version) == 0 && version != IPC_MSG_VERSION) {
        rc = -EPROTONOSUPPORT;
        r.what = "version";
        goto out;
    }
    if (wire_get_u8(&r, "kind", &t.kind) == 0 && !kind_known(t.kind))
        reader_refuse(&r, "kind");
    wire_get_str(&r, "source", t.source, BLOCK_CHAIN_ID_MAX);
    if (r.err == 0 && t.source[0] == '\0')
        reader_refuse(&r, "source");
    wire_get_u64(&r, "seq", &t.seq);
    wire_get_u64(&r, "sent_ns", &t.sent_ns);
    if (r.err == 0)
        get_body(&r, &t);
    rc = wire_reader_finish(&r);
    if (rc == -EINVAL) /* a reader's bad value is a malformed message here */
        rc = -EBADMSG;
    if (rc == 0 && (fault = body_fault(&t)) != NULL) {
        rc = -EBADMSG;
        r.what = fault;
    }
    if (rc == 0)
        *m = t;
out:
    if (rc != 0 && what != NULL)
        *what = r.what;
    return rc;
}

const char *ipc_kind_name(uint8_t kind)
{
    switch (kind) {
    case IPC_FINALITY: return "finality_proof";
    case IPC_CATCHUP: return "catchup";
    case IPC_STATE_QUERY: return "state_query";
    case IPC_STATE_REPLY: return "state_reply";
    case IPC_ATTESTATION: return "attestation";
    default: return "unknown";
    }
}

int ipc_state_root(const char *root_tag, const uint8_t roots[][BLOCK_HASH_LEN], size_t n_roots,
                   uint8_t out[BLOCK_HASH_LEN])
{
    crypto_generichash_state st;
    size_t tag_len;

    if (n_roots < 1 || n_roots > IPC_ROOTS_MAX || !str_ok(root_tag, 0, IPC_ROOT_TAG_MAX))
        return -EINVAL;
    tag_len = strlen(root_tag);
    if (n_roots == 1 && tag_len == 0) {
        memcpy(out, roots[0], BLOCK_HASH_LEN);
        return 0;
    }
    if (crypto_generichash_init(&st, NULL, 0, BLOCK_HASH_LEN) != 0 ||
        crypto_generichash_update(&st, (const uint8_t *)root_tag, tag_len) != 0)
        return -EIO;
    for (size_t i = 0; i < n_roots; i++)
        if (crypto_generichash_update(&st, roots[i], BLOCK_HASH_LEN) != 0)
            return -EIO;
    if (crypto_generichash_final(&st, out, BLOCK_HASH_LEN) != 0)
        return -EIO;
    return 0;
}

int ipc_attest_sign_bytes(const char *chain_id, uint8_t stmt_kind, const uint8_t *stmt,
                          size_t stmt_len, uint64_t height, uint8_t *buf, size_t cap)
{
    wire_writer_t w;

    if (!str_ok(chain_id, 1, BLOCK_CHAIN_ID_MAX) || !stmt_kind_known(stmt_kind) ||
        !bytes_ok(stmt, stmt_len, 1, IPC_STATEMENT_MAX))
        return -EINVAL;
    wire_writer_init(&w, buf, cap);
    wire_put_bytes(&w, ATTEST_SIGN_TAG, sizeof ATTEST_SIGN_TAG - 1);
    wire_put_str(&w, chain_id);
    wire_put_u8(&w, stmt_kind);
    wire_put_var(&w, stmt, stmt_len);
    wire_put_u64(&w, height);
    if (w.err != 0)
        return w.err;
    return (int)w.len;
}

int ipc_bridge_stmt_encode(const ipc_bridge_stmt_t *s, uint8_t *buf, size_t cap, size_t *len)
{
    wire_writer_t w;
    size_t n = strnlen(s->asset, IPC_ASSET_MAX + 1);
    if (n == 0 || n > IPC_ASSET_MAX || s->amount == 0 || s->amount > INT64_MAX)
        return -EINVAL;
    wire_writer_init(&w, buf, cap);
    wire_put_bytes(&w, s->id, sizeof s->id);
    wire_put_str(&w, s->asset);
    wire_put_u64(&w, s->amount);
    wire_put_bytes(&w, s->recipient, sizeof s->recipient);
    if (w.err)
        return w.err;
    *len = w.len;
    return 0;
}

int ipc_bridge_stmt_decode(ipc_bridge_stmt_t *s, const uint8_t *buf, size_t len,
                           const char **what)
{
    ipc_bridge_stmt_t t;
    wire_reader_t r;
    int rc;
    memset(&t, 0, sizeof t);
    wire_reader_init(&r, buf, len);
    wire_get_bytes(&r, "id", t.id, sizeof t.id);
    wire_get_str(&r, "asset", t.asset, IPC_ASSET_MAX);
    wire_get_u64(&r, "amount", &t.amount);
    wire_get_bytes(&r, "recipient", t.recipient, sizeof t.recipient);
    if (r.err == 0 && (t.asset[0] == '\0' || t.amount == 0 || t.amount > INT64_MAX)) {
        r.err = -EBADMSG;
        r.what = t.asset[0] == '\0' ? "asset" : "amount";
    }
    rc = wire_reader_finish(&r);
    if (rc == -EINVAL)
        rc = -EBADMSG;
    if (rc == 0)
        *s = t;
    else if (what)
        *what = r.what;
    return rc;
}
