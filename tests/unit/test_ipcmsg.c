/* proto/ipcmsg.c: the inter-worker messages, state roots, attestation bytes. */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "proto/ipcmsg.h"
#include "proto/wire.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

/* Byte fields point here (a recognisable pattern, longer than any limit). */
static uint8_t pattern[COMMIT_CERT_MAX + 64];

static void pattern_fill(void)
{
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (uint8_t)(i * 7 + 3);
}

static void fill_str(char *s, size_t n, char c)
{
    memset(s, c, n);
    s[n] = '\0';
}

/* Signer i's key: ascending in i (first byte i, the rest fixed). */
static void signer(commit_sig_t *sig, uint32_t i)
{
    memset(sig->validator, 0x42, BLOCK_KEY_LEN);
    sig->validator[0] = (uint8_t)i;
    memset(sig->sig, (int)(0x30 + i), BLOCK_SIG_LEN);
}

/* A valid message of kind; big: every field at its upper limit, else at
 * its lower one. */
static void sample(ipc_msg_t *m, uint8_t kind, bool big)
{
    memset(m, 0, sizeof *m);
    pattern_fill();
    m->kind = kind;
    fill_str(m->source, big ? BLOCK_CHAIN_ID_MAX : 1, 's');
    m->seq = big ? UINT64_MAX : 1;
    m->sent_ns = big ? UINT64_MAX - 1 : 0;
    switch (kind) {
    case IPC_FINALITY:
        m->u.finality.header = pattern;
        m->u.finality.header_len = big ? BLOCK_HEADER_MAX : 1;
        m->u.finality.cert = pattern + 1;
        m->u.finality.cert_len = big ? COMMIT_CERT_MAX : 1;
        break;
    case IPC_CATCHUP:
        m->u.catchup.from_height = big ? UINT64_MAX : 0;
        m->u.catchup.max = big ? IPC_CATCHUP_MAX : 1;
        break;
    case IPC_STATE_QUERY:
        m->u.query.query_id = big ? UINT64_MAX : 0;
        m->u.query.height = big ? UINT64_MAX : 0;
        fill_str(m->u.query.tree, big ? IPC_TREE_NAME_MAX : 1, 't');
        m->u.query.key = pattern + 2;
        m->u.query.key_len = big ? IPC_KEY_MAX : 0;
        break;
    case IPC_STATE_REPLY: {
        ipc_state_reply_t *p = &m->u.reply;
        p->query_id = big ? UINT64_MAX : 0;
        p->height = big ? UINT64_MAX : 0;
        p->status = big ? IPC_STATE_PRESENT : IPC_STATE_BAD_KEY;
        fill_str(p->tree, big ? IPC_TREE_NAME_MAX : 1, 't');
        p->key = pattern + 3;
        p->key_len = big ? IPC_KEY_MAX : 0;
        p->value = pattern + 4;
        p->value_len = big ? IPC_VALUE_MAX : 0;
        p->proof = pattern + 5;
        p->proof_len = big ? IPC_PROOF_MAX : 0;
        fill_str(p->root_tag, big ? IPC_ROOT_TAG_MAX : 0, 'r');
        p->n_roots = big ? IPC_ROOTS_MAX : 1;
        for (int i = 0; i < IPC_ROOTS_MAX; i++)
            memset(p->roots[i], 0xd0 + i, BLOCK_HASH_LEN);
        p->root_index = (uint8_t)(p->n_roots - 1);
        break;
    }
    case IPC_ATTESTATION:
        m->u.attest.stmt_kind = IPC_STMT_BRIDGE_OUT_FINAL;
        m->u.attest.stmt = pattern + 6;
        m->u.attest.stmt_len = big ? IPC_STATEMENT_MAX : 1;
        m->u.attest.height = big ? UINT64_MAX : 0;
        m->u.attest.n_sigs = big ? IPC_ATTEST_SIGS_MAX : 1;
        for (uint32_t i = 0; i < m->u.attest.n_sigs; i++)
            signer(&m->u.attest.sigs[i], i);
        break;
    }
}

static void put_fixed_str(wire_writer_t *w, const char *s, size_t size)
{
    wire_put_var(w, s, strnlen(s, size)); /* an unterminated buffer goes out whole */
}

/* The layout of ipcmsg.h, written from the header's comment with no check
 * of any limit: the reference the codec's bytes are compared with, and the
 * way to make messages the encoder refuses. */
static size_t spec_encode(const ipc_msg_t *m, uint8_t *buf, size_t cap)
{
    const ipc_state_reply_t *p = &m->u.reply;
    const ipc_attestation_t *a = &m->u.attest;
    wire_writer_t w;

    wire_writer_init(&w, buf, cap);
    wire_put_u8(&w, IPC_MSG_VERSION);
    wire_put_u8(&w, m->kind);
    put_fixed_str(&w, m->source, sizeof m->source);
    wire_put_u64(&w, m->seq);
    wire_put_u64(&w, m->sent_ns);
    switch (m->kind) {
    case IPC_FINALITY:
        wire_put_var(&w, m->u.finality.header, m->u.finality.header_len);
        wire_put_var(&w, m->u.finality.cert, m->u.finality.cert_len);
        break;
    case IPC_CATCHUP:
        wire_put_u64(&w, m->u.catchup.from_height);
        wire_put_u32(&w, m->u.catchup.max);
        break;
    case IPC_STATE_QUERY:
        wire_put_u64(&w, m->u.query.query_id);
        wire_put_u64(&w, m->u.query.height);
        put_fixed_str(&w, m->u.query.tree, sizeof m->u.query.tree);
        wire_put_var(&w, m->u.query.key, m->u.query.key_len);
        break;
    case IPC_STATE_REPLY:
        wire_put_u64(&w, p->query_id);
        wire_put_u64(&w, p->height);
        wire_put_u8(&w, p->status);
        put_fixed_str(&w, p->tree, sizeof p->tree);
        wire_put_var(&w, p->key, p->key_len);
        wire_put_var(&w, p->value, p->value_len);
        wire_put_var(&w, p->proof, p->proof_len);
        put_fixed_str(&w, p->root_tag, sizeof p->root_tag);
        wire_put_u8(&w, p->n_roots);
        for (int i = 0; i < p->n_roots && i < IPC_ROOTS_MAX; i++)
            wire_put_bytes(&w, p->roots[i], BLOCK_HASH_LEN);
        wire_put_u8(&w, p->root_index);
        break;
    case IPC_ATTESTATION:
        wire_put_u8(&w, a->stmt_kind);
        wire_put_var(&w, a->stmt, a->stmt_len);
        wire_put_u64(&w, a->height);
        wire_put_u32(&w, a->n_sigs);
        for (uint32_t i = 0; i < a->n_sigs && i < IPC_ATTEST_SIGS_MAX; i++) {
            wire_put_bytes(&w, a->sigs[i].validator, BLOCK_KEY_LEN);
            wire_put_bytes(&w, a->sigs[i].sig, BLOCK_SIG_LEN);
        }
        break;
    }
    ck_assert_int_eq(w.err, 0);
    return w.len;
}

static void bytes_eq(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    ck_assert_uint_eq(an, bn);
    if (an > 0)
        ck_assert_mem_eq(a, b, an);
}

static void msg_assert_eq(const ipc_msg_t *a, const ipc_msg_t *b)
{
    const ipc_state_reply_t *p = &a->u.reply, *q = &b->u.reply;

    ck_assert_uint_eq(a->kind, b->kind);
    ck_assert_str_eq(a->source, b->source);
    ck_assert_uint_eq(a->seq, b->seq);
    ck_assert_uint_eq(a->sent_ns, b->sent_ns);
    switch (a->kind) {
    case IPC_FINALITY:
        bytes_eq(a->u.finality.header, a->u.finality.header_len, b->u.finality.header,
                 b->u.finality.header_len);
        bytes_eq(a->u.finality.cert, a->u.finality.cert_len, b->u.finality.cert,
                 b->u.finality.cert_len);
        break;
    case IPC_CATCHUP:
        ck_assert_uint_eq(a->u.catchup.from_height, b->u.catchup.from_height);
        ck_assert_uint_eq(a->u.catchup.max, b->u.catchup.max);
        break;
    case IPC_STATE_QUERY:
        ck_assert_uint_eq(a->u.query.query_id, b->u.query.query_id);
        ck_assert_uint_eq(a->u.query.height, b->u.query.height);
        ck_assert_str_eq(a->u.query.tree, b->u.query.tree);
        bytes_eq(a->u.query.key, a->u.query.key_len, b->u.query.key, b->u.query.key_len);
        break;
    case IPC_STATE_REPLY:
        ck_assert_uint_eq(p->query_id, q->query_id);
        ck_assert_uint_eq(p->height, q->height);
        ck_assert_uint_eq(p->status, q->status);
        ck_assert_str_eq(p->tree, q->tree);
        bytes_eq(p->key, p->key_len, q->key, q->key_len);
        bytes_eq(p->value, p->value_len, q->value, q->value_len);
        bytes_eq(p->proof, p->proof_len, q->proof, q->proof_len);
        ck_assert_str_eq(p->root_tag, q->root_tag);
        ck_assert_uint_eq(p->n_roots, q->n_roots);
        ck_assert_mem_eq(p->roots, q->roots, (size_t)p->n_roots * BLOCK_HASH_LEN);
        ck_assert_uint_eq(p->root_index, q->root_index);
        break;
    case IPC_ATTESTATION:
        ck_assert_uint_eq(a->u.attest.stmt_kind, b->u.attest.stmt_kind);
        bytes_eq(a->u.attest.stmt, a->u.attest.stmt_len, b->u.attest.stmt, b->u.attest.stmt_len);
        ck_assert_uint_eq(a->u.attest.height, b->u.attest.height);
        ck_assert_uint_eq(a->u.attest.n_sigs, b->u.attest.n_sigs);
        ck_assert_mem_eq(a->u.attest.sigs, b->u.attest.sigs,
                         a->u.attest.n_sigs * sizeof a->u.attest.sigs[0]);
        break;
    default:
        ck_abort_msg("unknown kind %u", a->kind);
    }
}

/* The longest encoding of each kind, counted from the header's layout. */
static size_t longest(uint8_t kind)
{
    size_t env = 1 + 1 + 4 + BLOCK_CHAIN_ID_MAX + 8 + 8;
    switch (kind) {
    case IPC_FINALITY: return env + 4 + BLOCK_HEADER_MAX + 4 + COMMIT_CERT_MAX;
    case IPC_CATCHUP: return env + 12;
    case IPC_STATE_QUERY: return env + 16 + 4 + IPC_TREE_NAME_MAX + 4 + IPC_KEY_MAX;
    case IPC_STATE_REPLY:
        return env + 17 + 4 + IPC_TREE_NAME_MAX + 4 + IPC_KEY_MAX + 4 + IPC_VALUE_MAX + 4 +
               IPC_PROOF_MAX + 4 + IPC_ROOT_TAG_MAX + 1 + IPC_ROOTS_MAX * 32 + 1;
    default: return env + 1 + 4 + IPC_STATEMENT_MAX + 8 + 4 + IPC_ATTEST_SIGS_MAX * 96;
    }
}

static uint8_t enc[IPC_MSG_MAX + 64], ref[IPC_MSG_MAX + 64], again[IPC_MSG_MAX];

START_TEST(test_round_trip_every_kind)
{
    for (uint8_t kind = IPC_FINALITY; kind <= IPC_ATTESTATION; kind++) {
        for (int big = 0; big <= 1; big++) {
            ipc_msg_t m, d;
            size_t len = 0, len2 = 0;
            const char *what = NULL;

            sample(&m, kind, big);
            ck_assert_int_eq(ipc_msg_encode(&m, enc, IPC_MSG_MAX, &len), 0);
            /* The codec's bytes are the header's layout. */
            ck_assert_uint_eq(spec_encode(&m, ref, sizeof ref), len);
            ck_assert_mem_eq(enc, ref, len);
            if (big)
                ck_assert_uint_eq(len, longest(kind));
            ck_assert_uint_le(len, IPC_MSG_MAX);
            memset(&d, 0x5a, sizeof d);
            ck_assert_msg(ipc_msg_decode(&d, enc, len, &what) == 0, "kind %u: %s", kind, what);
            msg_assert_eq(&m, &d);
            ck_assert_int_eq(ipc_msg_encode(&d, again, sizeof again, &len2), 0);
            bytes_eq(enc, len, again, len2);
        }
    }
}
END_TEST

START_TEST(test_envelope_bytes)
{
    ipc_msg_t m;
    size_t len = 0;
    const uint8_t head[] = {IPC_MSG_VERSION, IPC_CATCHUP, 0, 0, 0, 3, 'a', 'b', 'c',
                            0, 0, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x09,
                            0, 0, 0, 0, 0, 0, 0, 0x07, 0, 0, 0x01, 0x00};

    sample(&m, IPC_CATCHUP, false);
    strcpy(m.source, "abc");
    m.seq = 0x0102;
    m.sent_ns = 9;
    m.u.catchup.from_height = 7;
    m.u.catchup.max = 256;
    ck_assert_int_eq(ipc_msg_encode(&m, enc, sizeof enc, &len), 0);
    ck_assert_uint_eq(len, sizeof head);
    ck_assert_mem_eq(enc, head, sizeof head);
}
END_TEST

START_TEST(test_encode_short_buffer)
{
    ipc_msg_t m;
    size_t full = 0, len = 12345;

    sample(&m, IPC_STATE_REPLY, false);
    ck_assert_int_eq(ipc_msg_encode(&m, enc, sizeof enc, &full), 0);
    for (size_t cap = 0; cap < full; cap++) {
        ck_assert_int_eq(ipc_msg_encode(&m, enc, cap, &len), -ENOBUFS);
        ck_assert_uint_eq(len, 12345);
    }
}
END_TEST

/* Decode len bytes of buf expecting rc (and, if non-NULL, what), and check
 * that the output was left as it was. */
static void refused(const uint8_t *buf, size_t len, int rc, const char *want_what)
{
    ipc_msg_t d, sentinel;
    const char *what = NULL;

    memset(&sentinel, 0x5a, sizeof sentinel);
    memcpy(&d, &sentinel, sizeof d);
    ck_assert_int_eq(ipc_msg_decode(&d, buf, len, &what), rc);
    ck_assert_ptr_nonnull(what);
    if (want_what != NULL)
        ck_assert_str_eq(what, want_what);
    ck_assert_mem_eq(&d, &sentinel, sizeof d);
}

START_TEST(test_every_truncation)
{
    for (uint8_t kind = IPC_FINALITY; kind <= IPC_ATTESTATION; kind++) {
        ipc_msg_t m;
        size_t len = 0;

        /* Small messages keep the loop short; the big ones' counts are
         * what a prefix cuts through, so try both. */
        for (int big = 0; big <= 1; big++) {
            sample(&m, kind, big);
            if (big && kind == IPC_ATTESTATION)
                m.u.attest.n_sigs = 3;
            ck_assert_int_eq(ipc_msg_encode(&m, enc, sizeof enc, &len), 0);
            for (size_t n = 0; n < len; n++)
                refused(enc, n, -EMSGSIZE, NULL);
        }
    }
}
END_TEST

START_TEST(test_trailing_byte)
{
    for (uint8_t kind = IPC_FINALITY; kind <= IPC_ATTESTATION; kind++) {
        ipc_msg_t m;
        size_t len = 0;

        sample(&m, kind, false);
        ck_assert_int_eq(ipc_msg_encode(&m, enc, sizeof enc, &len), 0);
        enc[len] = 0;
        refused(enc, len + 1, -EBADMSG, "trailing bytes");
    }
}
END_TEST

START_TEST(test_version_and_kind)
{
    ipc_msg_t m;
    size_t len = 0;
    const uint8_t kinds[] = {0, IPC_ATTESTATION + 1, 0xff};

    sample(&m, IPC_CATCHUP, false);
    ck_assert_int_eq(ipc_msg_encode(&m, enc, sizeof enc, &len), 0);
    enc[0] = IPC_MSG_VERSION + 1;
    refused(enc, len, -EPROTONOSUPPORT, "version");
    enc[0] = 0;
    refused(enc, len, -EPROTONOSUPPORT, "version");
    refused(enc, 1, -EPROTONOSUPPORT, "version"); /* the version is judged first */
    enc[0] = IPC_MSG_VERSION;
    for (size_t i = 0; i < sizeof kinds; i++) {
        enc[1] = kinds[i];
        refused(enc, len, -EBADMSG, "kind");
        m.kind = kinds[i];
        ck_assert_int_eq(ipc_msg_encode(&m, enc + 64, sizeof enc - 64, &len), -EINVAL);
    }
}
END_TEST

/* One way to break a valid message: which kind, what to change, and the
 * field the decoder must name. */
typedef struct {
    uint8_t kind;
    const char *what;
    void (*breaks)(ipc_msg_t *m);
} fault_t;

static void source_long(ipc_msg_t *m) { memset(m->source, 's', sizeof m->source); }
static void source_empty(ipc_msg_t *m) { m->source[0] = '\0'; }
static void header_empty(ipc_msg_t *m) { m->u.finality.header_len = 0; }
static void header_long(ipc_msg_t *m) { m->u.finality.header_len = BLOCK_HEADER_MAX + 1; }
static void cert_empty(ipc_msg_t *m) { m->u.finality.cert_len = 0; }
static void cert_long(ipc_msg_t *m) { m->u.finality.cert_len = COMMIT_CERT_MAX + 1; }
static void max_zero(ipc_msg_t *m) { m->u.catchup.max = 0; }
static void max_over(ipc_msg_t *m) { m->u.catchup.max = IPC_CATCHUP_MAX + 1; }
static void qtree_empty(ipc_msg_t *m) { m->u.query.tree[0] = '\0'; }
static void qtree_long(ipc_msg_t *m) { memset(m->u.query.tree, 't', sizeof m->u.query.tree); }
static void qkey_long(ipc_msg_t *m) { m->u.query.key_len = IPC_KEY_MAX + 1; }
static void status_bad(ipc_msg_t *m) { m->u.reply.status = IPC_STATE_BAD_KEY + 1; }
static void rtree_long(ipc_msg_t *m) { memset(m->u.reply.tree, 't', sizeof m->u.reply.tree); }
static void rkey_long(ipc_msg_t *m) { m->u.reply.key_len = IPC_KEY_MAX + 1; }
static void value_long(ipc_msg_t *m) { m->u.reply.value_len = IPC_VALUE_MAX + 1; }
static void value_absent(ipc_msg_t *m)
{
    m->u.reply.status = IPC_STATE_ABSENT;
    m->u.reply.value_len = 1;
}
static void proof_long(ipc_msg_t *m) { m->u.reply.proof_len = IPC_PROOF_MAX + 1; }
static void tag_long(ipc_msg_t *m) { memset(m->u.reply.root_tag, 'r', sizeof m->u.reply.root_tag); }
static void roots_zero(ipc_msg_t *m) { m->u.reply.n_roots = 0; m->u.reply.root_index = 0; }
static void roots_over(ipc_msg_t *m) { m->u.reply.n_roots = IPC_ROOTS_MAX + 1; }
static void index_over(ipc_msg_t *m) { m->u.reply.root_index = m->u.reply.n_roots; }
static void skind_zero(ipc_msg_t *m) { m->u.attest.stmt_kind = 0; }
static void skind_next(ipc_msg_t *m) { m->u.attest.stmt_kind = IPC_STMT_BRIDGE_OUT_FINAL + 1; }
static void stmt_empty(ipc_msg_t *m) { m->u.attest.stmt_len = 0; }
static void stmt_long(ipc_msg_t *m) { m->u.attest.stmt_len = IPC_STATEMENT_MAX + 1; }
static void sigs_zero(ipc_msg_t *m) { m->u.attest.n_sigs = 0; }
static void sigs_over(ipc_msg_t *m) { m->u.attest.n_sigs = IPC_ATTEST_SIGS_MAX + 1; }
static void sigs_unsorted(ipc_msg_t *m)
{
    commit_sig_t t = m->u.attest.sigs[3];
    m->u.attest.sigs[3] = m->u.attest.sigs[4];
    m->u.attest.sigs[4] = t;
}
static void sigs_repeated(ipc_msg_t *m) { m->u.attest.sigs[5] = m->u.attest.sigs[4]; }

static const fault_t faults[] = {
    {IPC_CATCHUP, "source", source_long},     {IPC_CATCHUP, "source", source_empty},
    {IPC_FINALITY, "header", header_empty},   {IPC_FINALITY, "header", header_long},
    {IPC_FINALITY, "cert", cert_empty},       {IPC_FINALITY, "cert", cert_long},
    {IPC_CATCHUP, "max", max_zero},           {IPC_CATCHUP, "max", max_over},
    {IPC_STATE_QUERY, "tree", qtree_empty},   {IPC_STATE_QUERY, "tree", qtree_long},
    {IPC_STATE_QUERY, "key", qkey_long},      {IPC_STATE_REPLY, "status", status_bad},
    {IPC_STATE_REPLY, "tree", rtree_long},    {IPC_STATE_REPLY, "key", rkey_long},
    {IPC_STATE_REPLY, "value", value_long},   {IPC_STATE_REPLY, "value", value_absent},
    {IPC_STATE_REPLY, "proof", proof_long},   {IPC_STATE_REPLY, "root_tag", tag_long},
    {IPC_STATE_REPLY, "n_roots", roots_zero}, {IPC_STATE_REPLY, "n_roots", roots_over},
    {IPC_STATE_REPLY, "root_index", index_over},
    {IPC_ATTESTATION, "stmt_kind", skind_zero}, {IPC_ATTESTATION, "stmt_kind", skind_next},
    {IPC_ATTESTATION, "stmt", stmt_empty},    {IPC_ATTESTATION, "stmt", stmt_long},
    {IPC_ATTESTATION, "n_sigs", sigs_zero},   {IPC_ATTESTATION, "n_sigs", sigs_over},
    {IPC_ATTESTATION, "signer order", sigs_unsorted},
    {IPC_ATTESTATION, "signer order", sigs_repeated},
};

/* Each field out of its limits: the encoder refuses the value, and its
 * bytes (written by spec_encode) do not decode, naming the field. */
START_TEST(test_fields_out_of_limits)
{
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        ipc_msg_t m;
        size_t len = 12345, n;

        sample(&m, faults[i].kind, true);
        if (faults[i].kind == IPC_ATTESTATION)
            m.u.attest.n_sigs = 8;
        faults[i].breaks(&m);
        ck_assert_msg(ipc_msg_encode(&m, enc, sizeof enc, &len) == -EINVAL, "fault %zu", i);
        ck_assert_uint_eq(len, 12345);
        n = spec_encode(&m, ref, sizeof ref);
        refused(ref, n, -EBADMSG, faults[i].what);
    }
}
END_TEST

/* A NUL inside a string field is refused: a C string could not carry it. */
START_TEST(test_nul_in_string)
{
    ipc_msg_t m;
    size_t len = 0;

    sample(&m, IPC_STATE_QUERY, false);
    strcpy(m.u.query.tree, "ab");
    ck_assert_int_eq(ipc_msg_encode(&m, enc, sizeof enc, &len), 0);
    /* version, kind, source "s" (4 + 1), seq, sent_ns, query_id, height,
     * the tree's length: its 'a' is at 2 + 5 + 4 * 8 + 4 = 43. */
    ck_assert_uint_eq(enc[43], 'a');
    enc[43] = '\0';
    refused(enc, len, -EBADMSG, "tree");
}
END_TEST

START_TEST(test_state_root)
{
    uint8_t roots[IPC_ROOTS_MAX][BLOCK_HASH_LEN], out[BLOCK_HASH_LEN], want[BLOCK_HASH_LEN];
    const char tag[] = "adnet/test/state/v2";
    uint8_t cat[sizeof tag - 1 + 2 * BLOCK_HASH_LEN];
    char long_tag[IPC_ROOT_TAG_MAX + 2];
    /* ISO C before C2X will not add const to an array's elements silently:
     * a caller holding writable roots casts, as here. */
    const uint8_t(*croots)[BLOCK_HASH_LEN] = (const uint8_t(*)[BLOCK_HASH_LEN])roots;

    for (int i = 0; i < IPC_ROOTS_MAX; i++)
        for (int j = 0; j < BLOCK_HASH_LEN; j++)
            roots[i][j] = (uint8_t)(i * 32 + j);
    /* One root, no tag: the root itself. */
    ck_assert_int_eq(ipc_state_root("", croots, 1, out), 0);
    ck_assert_mem_eq(out, roots[0], BLOCK_HASH_LEN);
    /* Two roots: BLAKE2b-256 over the tag and the roots, as one message. */
    memcpy(cat, tag, sizeof tag - 1);
    memcpy(cat + sizeof tag - 1, roots[0], BLOCK_HASH_LEN);
    memcpy(cat + sizeof tag - 1 + BLOCK_HASH_LEN, roots[1], BLOCK_HASH_LEN);
    ck_assert_int_eq(crypto_generichash(want, sizeof want, cat, sizeof cat, NULL, 0), 0);
    ck_assert_int_eq(ipc_state_root(tag, croots, 2, out), 0);
    ck_assert_mem_eq(out, want, BLOCK_HASH_LEN);
    /* Order matters. */
    memcpy(cat + sizeof tag - 1, roots[1], BLOCK_HASH_LEN);
    memcpy(cat + sizeof tag - 1 + BLOCK_HASH_LEN, roots[0], BLOCK_HASH_LEN);
    ck_assert_int_eq(crypto_generichash(want, sizeof want, cat, sizeof cat, NULL, 0), 0);
    ck_assert_int_eq(ipc_state_root(tag, croots, 2, out), 0);
    ck_assert_mem_ne(out, want, BLOCK_HASH_LEN);
    /* One root with a tag is hashed: the tag is never ignored. */
    memcpy(cat, tag, sizeof tag - 1);
    memcpy(cat + sizeof tag - 1, roots[0], BLOCK_HASH_LEN);
    ck_assert_int_eq(crypto_generichash(want, sizeof want, cat, sizeof tag - 1 + 32, NULL, 0), 0);
    ck_assert_int_eq(ipc_state_root(tag, croots, 1, out), 0);
    ck_assert_mem_eq(out, want, BLOCK_HASH_LEN);
    /* Two roots without a tag: the roots alone. */
    ck_assert_int_eq(crypto_generichash(want, sizeof want, roots[0], 64, NULL, 0), 0);
    ck_assert_int_eq(ipc_state_root("", croots, 2, out), 0);
    ck_assert_mem_eq(out, want, BLOCK_HASH_LEN);
    /* Out of limits; out is not written. */
    memset(out, 0x77, sizeof out);
    ck_assert_int_eq(ipc_state_root("", croots, 0, out), -EINVAL);
    ck_assert_int_eq(ipc_state_root("", croots, IPC_ROOTS_MAX + 1, out), -EINVAL);
    fill_str(long_tag, IPC_ROOT_TAG_MAX + 1, 'x');
    ck_assert_int_eq(ipc_state_root(long_tag, croots, 2, out), -EINVAL);
    for (int i = 0; i < BLOCK_HASH_LEN; i++)
        ck_assert_uint_eq(out[i], 0x77);
    ck_assert_int_eq(ipc_state_root(long_tag + 1, croots, IPC_ROOTS_MAX, out), 0);
}
END_TEST

START_TEST(test_attest_sign_bytes)
{
    uint8_t buf[IPC_ATTEST_SIGN_MAX + 8], stmt[IPC_STATEMENT_MAX + 1];
    const uint8_t want[] = {'a', 'd', 'n', 'e', 't', '/', 'a', 't', 't', 'e', 's', 't', '/', 'v',
                            '1', 0, 0, 0, 2, 'c', 'x', IPC_STMT_BRIDGE_OUT_FINAL, 0, 0, 0, 3,
                            0xaa, 0xbb, 0xcc, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    char id[BLOCK_CHAIN_ID_MAX + 2];

    memset(stmt, 0x99, sizeof stmt);
    stmt[0] = 0xaa, stmt[1] = 0xbb, stmt[2] = 0xcc;
    ck_assert_int_eq(ipc_attest_sign_bytes("cx", IPC_STMT_BRIDGE_OUT_FINAL, stmt, 3,
                                           0x0102030405060708ULL, buf, sizeof buf),
                     (int)sizeof want);
    for (size_t i = 0; i < sizeof want; i++)
        ck_assert_msg(buf[i] == want[i], "byte %zu: %02x, not %02x", i, buf[i], want[i]);
    /* The longest fits IPC_ATTEST_SIGN_MAX exactly. */
    fill_str(id, BLOCK_CHAIN_ID_MAX, 'i');
    ck_assert_int_eq(ipc_attest_sign_bytes(id, IPC_STMT_BRIDGE_OUT_FINAL, stmt,
                                           IPC_STATEMENT_MAX, 1, buf, IPC_ATTEST_SIGN_MAX),
                     IPC_ATTEST_SIGN_MAX);
    ck_assert_int_eq(ipc_attest_sign_bytes(id, IPC_STMT_BRIDGE_OUT_FINAL, stmt,
                                           IPC_STATEMENT_MAX, 1, buf, IPC_ATTEST_SIGN_MAX - 1),
                     -ENOBUFS);
    /* Refusals. */
    ck_assert_int_eq(ipc_attest_sign_bytes("", 1, stmt, 3, 1, buf, sizeof buf), -EINVAL);
    fill_str(id, BLOCK_CHAIN_ID_MAX + 1, 'i');
    ck_assert_int_eq(ipc_attest_sign_bytes(id, 1, stmt, 3, 1, buf, sizeof buf), -EINVAL);
    ck_assert_int_eq(ipc_attest_sign_bytes("cx", 0, stmt, 3, 1, buf, sizeof buf), -EINVAL);
    ck_assert_int_eq(ipc_attest_sign_bytes("cx", 1, stmt, 0, 1, buf, sizeof buf), -EINVAL);
    ck_assert_int_eq(ipc_attest_sign_bytes("cx", 1, stmt, IPC_STATEMENT_MAX + 1, 1, buf,
                                           sizeof buf),
                     -EINVAL);
    ck_assert_int_eq(ipc_attest_sign_bytes("cx", 1, NULL, 3, 1, buf, sizeof buf), -EINVAL);
}
END_TEST

START_TEST(test_kind_name)
{
    ck_assert_str_eq(ipc_kind_name(IPC_FINALITY), "finality_proof");
    ck_assert_str_eq(ipc_kind_name(IPC_CATCHUP), "catchup");
    ck_assert_str_eq(ipc_kind_name(IPC_STATE_QUERY), "state_query");
    ck_assert_str_eq(ipc_kind_name(IPC_STATE_REPLY), "state_reply");
    ck_assert_str_eq(ipc_kind_name(IPC_ATTESTATION), "attestation");
    ck_assert_str_eq(ipc_kind_name(0), "unknown");
    ck_assert_str_eq(ipc_kind_name(IPC_ATTESTATION + 1), "unknown");
    ck_assert_str_eq(ipc_kind_name(0xff), "unknown");
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "ipcmsg", .tcase = "codec"};
    return suite_build(&spec, SUITE_TESTS(test_round_trip_every_kind, test_envelope_bytes,
                                          test_encode_short_buffer, test_every_truncation,
                                          test_trailing_byte, test_version_and_kind,
                                          test_fields_out_of_limits, test_nul_in_string,
                                          test_state_root, test_attest_sign_bytes,
                                          test_kind_name));
}
