/* Governance wire formats: programs, actions, attestations, payloads; see gov.h.
 *
 * Each message has one "fault" function naming the first rule a decoded
 * value breaks. The encoder refuses what it names and the decoder runs it
 * on what it read, so the two accept exactly the same values. Counts that
 * bound a copy into a fixed array are checked while reading, before the
 * copy. */
#include "proto/gov.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/wire.h"

static const char ATTEST_TAG[] = "adnet/gov/attest/v1";
static const char PROPOSAL_TAG[] = "adnet/gov/proposal/v1";

#define STR_MAX_LEN(max) (4 + (max))
#define NAME_LEN_MAX STR_MAX_LEN(GOV_NAME_MAX)
#define THRESHOLD_BPS_MAX 10000
#define ACTION_HEAD_LEN (1 + 1 + 32 + 8)
#define DEPLOY_BODY_MAX (NAME_LEN_MAX + 8 + 1 + 4 + GOV_PROGRAM_MAX)
#define PARAM_BODY_MAX (NAME_LEN_MAX + 8)
#define GOVERNORS_BODY_MAX (4 + 2 + GOV_MAX_GOVERNORS * 32)

_Static_assert(ACTION_HEAD_LEN + DEPLOY_BODY_MAX <= GOV_ACTION_MAX, "deploy actions fit");
_Static_assert(ACTION_HEAD_LEN + PARAM_BODY_MAX <= GOV_ACTION_MAX, "param actions fit");
_Static_assert(ACTION_HEAD_LEN + GOVERNORS_BODY_MAX <= GOV_ACTION_MAX, "governor actions fit");
_Static_assert(GOV_ATTEST_MAX == 8 + 8 + 2 + GOV_MAX_GOVERNORS * sizeof(gov_sig_t),
               "the attestation limit is its fields' sum");
_Static_assert(GOV_MAX_FUNCTIONS <= UINT16_MAX && GOV_MAX_RECORDS <= UINT16_MAX &&
                   GOV_MAX_MAPPINGS <= UINT16_MAX && GOV_MAX_IO <= UINT8_MAX &&
                   GOV_MAX_FIELDS <= UINT8_MAX && GOV_MAX_GOVERNORS <= UINT16_MAX,
               "counts fit their wire fields");

/* Indexed by gov_type_t; slot 0 is no type. */
static const char *const TYPE_NAMES[GOV_T_LAST + 1] = {
    [GOV_T_BOOL] = "bool",       [GOV_T_U8] = "u8",         [GOV_T_U16] = "u16",
    [GOV_T_U32] = "u32",         [GOV_T_U64] = "u64",       [GOV_T_U128] = "u128",
    [GOV_T_I8] = "i8",           [GOV_T_I16] = "i16",       [GOV_T_I32] = "i32",
    [GOV_T_I64] = "i64",         [GOV_T_I128] = "i128",     [GOV_T_FIELD] = "field",
    [GOV_T_GROUP] = "group",     [GOV_T_SCALAR] = "scalar", [GOV_T_ADDRESS] = "address",
    [GOV_T_SIGNATURE] = "signature",
};

static const char *const POLICY_NAMES[] = {
    [GOV_POLICY_IMMUTABLE] = "immutable",
    [GOV_POLICY_ADDITIVE] = "additive",
    [GOV_POLICY_COMPATIBLE] = "compatible",
};

#define POLICY_LAST GOV_POLICY_COMPATIBLE

const char *gov_type_name(uint8_t t)
{
    return t >= 1 && t <= GOV_T_LAST ? TYPE_NAMES[t] : NULL;
}

uint8_t gov_type_parse(const char *s)
{
    if (s == NULL)
        return 0;
    for (uint8_t t = 1; t <= GOV_T_LAST; t++)
        if (strcmp(s, TYPE_NAMES[t]) == 0)
            return t;
    return 0;
}

static bool type_ok(uint8_t t)
{
    return t >= 1 && t <= GOV_T_LAST;
}

bool gov_name_is_valid(const char *s)
{
    /* Bounded, so a fixed name buffer missing its NUL is refused, not overrun. */
    size_t n = s != NULL ? strnlen(s, GOV_NAME_MAX + 1) : 0;
    if (n == 0 || n > GOV_NAME_MAX || s[0] < 'a' || s[0] > 'z')
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

const char *gov_policy_name(uint8_t p)
{
    return p <= POLICY_LAST ? POLICY_NAMES[p] : NULL;
}

int gov_policy_parse(const char *s, uint8_t *out)
{
    if (s == NULL)
        return -EINVAL;
    for (uint8_t p = 0; p <= POLICY_LAST; p++)
        if (strcmp(s, POLICY_NAMES[p]) == 0) {
            *out = p;
            return 0;
        }
    return -EINVAL;
}

const char *gov_action_name(uint8_t kind)
{
    switch (kind) {
    case GOV_ACTION_DEPLOY: return "deploy";
    case GOV_ACTION_PARAM: return "param";
    case GOV_ACTION_GOVERNORS: return "governors";
    default: return NULL;
    }
}

const char *gov_choice_name(uint8_t c)
{
    switch (c) {
    case GOV_YES: return "yes";
    case GOV_NO: return "no";
    case GOV_ABSTAIN: return "abstain";
    default: return NULL;
    }
}

bool gov_kind_is_gov(uint16_t kind)
{
    return gov_kind_name(kind) != NULL;
}

const char *gov_kind_name(uint16_t kind)
{
    switch (kind) {
    case GOV_KIND_PROPOSE: return "gov_propose";
    case GOV_KIND_ATTEST: return "gov_attest";
    case GOV_KIND_VOTE: return "gov_vote";
    case GOV_KIND_APPLY: return "gov_apply";
    default: return NULL;
    }
}

/* A byte field is in its limits and, when not empty, points somewhere. */
static bool bytes_ok(const uint8_t *p, size_t n, size_t min, size_t max)
{
    return n >= min && n <= max && (n == 0 || p != NULL);
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

/* The reader's result for a whole message: its bad values (-EINVAL from
 * wire_get_var and wire_get_str) are malformed messages here. */
static int reader_result(wire_reader_t *r)
{
    int rc = wire_reader_finish(r);
    return rc == -EINVAL ? -EBADMSG : rc;
}

/* ---- programs ---- */

static bool types_ok(const uint8_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!type_ok(t[i]))
            return false;
    return true;
}

static const char *function_fault(const gov_function_t *f)
{
    if (!gov_name_is_valid(f->name))
        return "function name";
    if (f->n_in > GOV_MAX_IO)
        return "n_in";
    if (f->n_out > GOV_MAX_IO)
        return "n_out";
    if (!types_ok(f->in, f->n_in))
        return "input type";
    return types_ok(f->out, f->n_out) ? NULL : "output type";
}

static const char *record_fault(const gov_record_t *rec)
{
    if (!gov_name_is_valid(rec->name))
        return "record name";
    if (rec->n_fields > GOV_MAX_FIELDS)
        return "n_fields";
    for (size_t i = 0; i < rec->n_fields; i++) {
        if (!gov_name_is_valid(rec->fields[i].name))
            return "field name";
        if (!type_ok(rec->fields[i].type))
            return "field type";
        /* Fields are a set keyed by name, kept in ascending order like the
         * other lists, so one record has one encoding (and a genesis file,
         * whose hash sorts JSON keys, names exactly these bytes). */
        if (i > 0 && strcmp(rec->fields[i - 1].name, rec->fields[i].name) >= 0)
            return strcmp(rec->fields[i - 1].name, rec->fields[i].name) == 0
                       ? "duplicate field" : "field order";
    }
    return NULL;
}

static const char *mapping_fault(const gov_mapping_t *m)
{
    if (!gov_name_is_valid(m->name))
        return "mapping name";
    if (!type_ok(m->key))
        return "mapping key";
    return type_ok(m->value) ? NULL : "mapping value";
}

/* The encoded size of p, whose counts and names are known to be in their
 * limits (so no sum can overflow). */
static size_t program_size(const gov_program_t *p)
{
    size_t n = 1 + 4 + strlen(p->name) + 2;
    for (size_t i = 0; i < p->n_functions; i++)
        n += 4 + strlen(p->functions[i].name) + 1 + p->functions[i].n_in + 1 +
             p->functions[i].n_out;
    n += 2;
    for (size_t i = 0; i < p->n_records; i++) {
        n += 4 + strlen(p->records[i].name) + 1;
        for (size_t j = 0; j < p->records[i].n_fields; j++)
            n += 4 + strlen(p->records[i].fields[j].name) + 1;
    }
    n += 2;
    for (size_t i = 0; i < p->n_mappings; i++)
        n += 4 + strlen(p->mappings[i].name) + 2;
    return n + 4 + p->code_len;
}

/* Each list strictly ascending by name, bytewise: one interface, one encoding. */
static const char *program_fault(const gov_program_t *p)
{
    const char *fault;

    if (!gov_name_is_valid(p->name))
        return "name";
    if (p->n_functions > GOV_MAX_FUNCTIONS)
        return "n_functions";
    if (p->n_records > GOV_MAX_RECORDS)
        return "n_records";
    if (p->n_mappings > GOV_MAX_MAPPINGS)
        return "n_mappings";
    for (size_t i = 0; i < p->n_functions; i++) {
        if ((fault = function_fault(&p->functions[i])) != NULL)
            return fault;
        if (i > 0 && strcmp(p->functions[i - 1].name, p->functions[i].name) >= 0)
            return "function order";
    }
    for (size_t i = 0; i < p->n_records; i++) {
        if ((fault = record_fault(&p->records[i])) != NULL)
            return fault;
        if (i > 0 && strcmp(p->records[i - 1].name, p->records[i].name) >= 0)
            return "record order";
    }
    for (size_t i = 0; i < p->n_mappings; i++) {
        if ((fault = mapping_fault(&p->mappings[i])) != NULL)
            return fault;
        if (i > 0 && strcmp(p->mappings[i - 1].name, p->mappings[i].name) >= 0)
            return "mapping order";
    }
    if (!bytes_ok(p->code, p->code_len, 0, GOV_CODE_MAX))
        return "code";
    return program_size(p) <= GOV_PROGRAM_MAX ? NULL : "size";
}

int gov_program_encode(const gov_program_t *p, uint8_t *buf, size_t cap, size_t *len)
{
    wire_writer_t w;

    if (program_fault(p) != NULL)
        return -EINVAL;
    wire_writer_init(&w, buf, cap);
    wire_put_u8(&w, GOV_PROGRAM_VERSION);
    wire_put_str(&w, p->name);
    wire_put_u16(&w, p->n_functions);
    for (size_t i = 0; i < p->n_functions; i++) {
        const gov_function_t *f = &p->functions[i];
        wire_put_str(&w, f->name);
        wire_put_u8(&w, f->n_in);
        wire_put_bytes(&w, f->in, f->n_in);
        wire_put_u8(&w, f->n_out);
        wire_put_bytes(&w, f->out, f->n_out);
    }
    wire_put_u16(&w, p->n_records);
    for (size_t i = 0; i < p->n_records; i++) {
        const gov_record_t *rec = &p->records[i];
        wire_put_str(&w, rec->name);
        wire_put_u8(&w, rec->n_fields);
        for (size_t j = 0; j < rec->n_fields; j++) {
            wire_put_str(&w, rec->fields[j].name);
            wire_put_u8(&w, rec->fields[j].type);
        }
    }
    wire_put_u16(&w, p->n_mappings);
    for (size_t i = 0; i < p->n_mappings; i++) {
        wire_put_str(&w, p->mappings[i].name);
        wire_put_u8(&w, p->mappings[i].key);
        wire_put_u8(&w, p->mappings[i].value);
    }
    wire_put_var(&w, p->code, p->code_len);
    if (w.err != 0)
        return w.err;
    *len = w.len;
    return 0;
}

/* Read a u8 count into *n and refuse it above max before anything is
 * copied into the array it bounds. */
static void get_count8(wire_reader_t *r, const char *what, uint8_t *n, size_t max)
{
    if (wire_get_u8(r, what, n) == 0 && *n > max)
        reader_refuse(r, what);
}

static void get_count16(wire_reader_t *r, const char *what, uint16_t *n, size_t max)
{
    if (wire_get_u16(r, what, n) == 0 && *n > max)
        reader_refuse(r, what);
}

static void get_function(wire_reader_t *r, gov_function_t *f)
{
    wire_get_str(r, "function name", f->name, GOV_NAME_MAX);
    get_count8(r, "n_in", &f->n_in, GOV_MAX_IO);
    if (r->err == 0)
        wire_get_bytes(r, "input type", f->in, f->n_in);
    get_count8(r, "n_out", &f->n_out, GOV_MAX_IO);
    if (r->err == 0)
        wire_get_bytes(r, "output type", f->out, f->n_out);
}

static void get_record(wire_reader_t *r, gov_record_t *rec)
{
    wire_get_str(r, "record name", rec->name, GOV_NAME_MAX);
    get_count8(r, "n_fields", &rec->n_fields, GOV_MAX_FIELDS);
    for (size_t j = 0; r->err == 0 && j < rec->n_fields; j++) {
        wire_get_str(r, "field name", rec->fields[j].name, GOV_NAME_MAX);
        wire_get_u8(r, "field type", &rec->fields[j].type);
    }
}

/* In place, unlike the other decoders: a program is about 40 KiB, too much
 * for a temporary on an API thread's stack, and a static one would not be
 * reentrant. So on failure *p holds whatever was read (unspecified). */
int gov_program_decode(gov_program_t *p, const uint8_t *buf, size_t len, const char **what)
{
    wire_reader_t r;
    uint8_t version = 0;
    const char *fault;
    int rc;

    wire_reader_init(&r, buf, len);
    if (len > GOV_PROGRAM_MAX) {
        rc = -EBADMSG;
        r.what = "size";
        goto out;
    }
    memset(p, 0, sizeof *p);
    if (wire_get_u8(&r, "version", &version) == 0 && version != GOV_PROGRAM_VERSION) {
        rc = -EPROTONOSUPPORT;
        r.what = "version";
        goto out;
    }
    wire_get_str(&r, "name", p->name, GOV_NAME_MAX);
    get_count16(&r, "n_functions", &p->n_functions, GOV_MAX_FUNCTIONS);
    for (size_t i = 0; r.err == 0 && i < p->n_functions; i++)
        get_function(&r, &p->functions[i]);
    get_count16(&r, "n_records", &p->n_records, GOV_MAX_RECORDS);
    for (size_t i = 0; r.err == 0 && i < p->n_records; i++)
        get_record(&r, &p->records[i]);
    get_count16(&r, "n_mappings", &p->n_mappings, GOV_MAX_MAPPINGS);
    for (size_t i = 0; r.err == 0 && i < p->n_mappings; i++) {
        wire_get_str(&r, "mapping name", p->mappings[i].name, GOV_NAME_MAX);
        wire_get_u8(&r, "mapping key", &p->mappings[i].key);
        wire_get_u8(&r, "mapping value", &p->mappings[i].value);
    }
    wire_get_var(&r, "code", GOV_CODE_MAX, &p->code, &p->code_len);
    rc = reader_result(&r);
    if (rc == 0 && (fault = program_fault(p)) != NULL) {
        rc = -EBADMSG;
        r.what = fault;
    }
out:
    if (rc != 0 && what != NULL)
        *what = r.what;
    return rc;
}

/* ---- actions ---- */

static bool action_kind_known(uint8_t kind)
{
    return gov_action_name(kind) != NULL;
}

/* Distinct, in any order: the set of governors is what counts. */
static bool keys_distinct(const uint8_t (*keys)[32], size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (memcmp(keys[i], keys[j], 32) == 0)
                return false;
    return true;
}

static const char *action_fault(const gov_action_t *a)
{
    switch (a->kind) {
    case GOV_ACTION_DEPLOY:
        if (!gov_name_is_valid(a->u.deploy.name))
            return "name";
        if (a->u.deploy.policy > POLICY_LAST)
            return "policy";
        return bytes_ok(a->u.deploy.program, a->u.deploy.program_len, 1, GOV_PROGRAM_MAX)
                   ? NULL
                   : "program";
    case GOV_ACTION_PARAM:
        return gov_name_is_valid(a->u.param.key) ? NULL : "key";
    case GOV_ACTION_GOVERNORS:
        if (a->u.governors.threshold_bps < 1 || a->u.governors.threshold_bps > THRESHOLD_BPS_MAX)
            return "threshold_bps";
        if (a->u.governors.n < 1 || a->u.governors.n > GOV_MAX_GOVERNORS)
            return "n";
        return keys_distinct((const uint8_t(*)[32])a->u.governors.keys, a->u.governors.n)
                   ? NULL
                   : "duplicate key";
    default:
        return "kind";
    }
}

int gov_action_encode(const gov_action_t *a, uint8_t *buf, size_t cap, size_t *len)
{
    wire_writer_t w;

    if (action_fault(a) != NULL)
        return -EINVAL;
    wire_writer_init(&w, buf, cap);
    wire_put_u8(&w, GOV_ACTION_VERSION);
    wire_put_u8(&w, a->kind);
    wire_put_bytes(&w, a->base, sizeof a->base);
    wire_put_u64(&w, a->activation_height);
    switch (a->kind) {
    case GOV_ACTION_DEPLOY:
        wire_put_str(&w, a->u.deploy.name);
        wire_put_u64(&w, a->u.deploy.edition);
        wire_put_u8(&w, a->u.deploy.policy);
        wire_put_var(&w, a->u.deploy.program, a->u.deploy.program_len);
        break;
    case GOV_ACTION_PARAM:
        wire_put_str(&w, a->u.param.key);
        wire_put_u64(&w, a->u.param.value);
        break;
    case GOV_ACTION_GOVERNORS:
        wire_put_u32(&w, a->u.governors.threshold_bps);
        wire_put_u16(&w, a->u.governors.n);
        wire_put_bytes(&w, a->u.governors.keys, (size_t)a->u.governors.n * 32);
        break;
    }
    if (w.err != 0)
        return w.err;
    *len = w.len;
    return 0;
}

int gov_action_decode(gov_action_t *a, const uint8_t *buf, size_t len, const char **what)
{
    gov_action_t t; /* about 4.5 KiB */
    wire_reader_t r;
    uint8_t version = 0;
    const char *fault;
    int rc;

    memset(&t, 0, sizeof t);
    wire_reader_init(&r, buf, len);
    if (wire_get_u8(&r, "version", &version) == 0 && version != GOV_ACTION_VERSION) {
        rc = -EPROTONOSUPPORT;
        r.what = "version";
        goto out;
    }
    /* An unknown kind is no malformed action but one this node does not
     * know: the verifier's "unknown_action", whatever follows it. */
    if (wire_get_u8(&r, "kind", &t.kind) == 0 && !action_kind_known(t.kind)) {
        rc = -ENOTSUP;
        r.what = "kind";
        goto out;
    }
    wire_get_bytes(&r, "base", t.base, sizeof t.base);
    wire_get_u64(&r, "activation_height", &t.activation_height);
    switch (t.kind) {
    case GOV_ACTION_DEPLOY:
        wire_get_str(&r, "name", t.u.deploy.name, GOV_NAME_MAX);
        wire_get_u64(&r, "edition", &t.u.deploy.edition);
        wire_get_u8(&r, "policy", &t.u.deploy.policy);
        wire_get_var(&r, "program", GOV_PROGRAM_MAX, &t.u.deploy.program,
                     &t.u.deploy.program_len);
        break;
    case GOV_ACTION_PARAM:
        wire_get_str(&r, "key", t.u.param.key, GOV_NAME_MAX);
        wire_get_u64(&r, "value", &t.u.param.value);
        break;
    case GOV_ACTION_GOVERNORS:
        wire_get_u32(&r, "threshold_bps", &t.u.governors.threshold_bps);
        if (wire_get_u16(&r, "n", &t.u.governors.n) == 0 &&
            (t.u.governors.n < 1 || t.u.governors.n > GOV_MAX_GOVERNORS))
            reader_refuse(&r, "n");
        if (r.err == 0)
            wire_get_bytes(&r, "keys", t.u.governors.keys, (size_t)t.u.governors.n * 32);
        break;
    }
    rc = reader_result(&r);
    if (rc == 0 && (fault = action_fault(&t)) != NULL) {
        rc = -EBADMSG;
        r.what = fault;
    }
    if (rc == 0)
        *a = t;
out:
    if (rc != 0 && what != NULL)
        *what = r.what;
    return rc;
}

/* ---- attestations ---- */

static int sig_cmp(const void *x, const void *y)
{
    return memcmp(((const gov_sig_t *)x)->key, ((const gov_sig_t *)y)->key, 32);
}

void gov_attestation_sort(gov_attestation_t *a)
{
    size_t n = a->n <= GOV_MAX_GOVERNORS ? a->n : GOV_MAX_GOVERNORS;
    qsort(a->sigs, n, sizeof a->sigs[0], sig_cmp);
}

/* Strictly ascending keys: no signer twice, one order for one set. The
 * verifier reports "ascending" faults as a duplicate signer. */
static const char *attestation_fault(const gov_attestation_t *a)
{
    if (a->n < 1 || a->n > GOV_MAX_GOVERNORS)
        return "n";
    for (size_t i = 1; i < a->n; i++)
        if (memcmp(a->sigs[i - 1].key, a->sigs[i].key, 32) >= 0)
            return "ascending keys";
    return NULL;
}

static void put_attestation(wire_writer_t *w, const gov_attestation_t *a)
{
    wire_put_u64(w, a->nonce);
    wire_put_u64(w, a->expiry_height);
    wire_put_u16(w, a->n);
    for (size_t i = 0; i < a->n; i++) {
        wire_put_bytes(w, a->sigs[i].key, sizeof a->sigs[i].key);
        wire_put_bytes(w, a->sigs[i].sig, sizeof a->sigs[i].sig);
    }
}

/* Read an attestation at r's cursor, for the attestation decoder and the
 * payloads that embed one; the caller finishes the reader and runs
 * attestation_fault. */
static void get_attestation(wire_reader_t *r, gov_attestation_t *a)
{
    wire_get_u64(r, "nonce", &a->nonce);
    wire_get_u64(r, "expiry_height", &a->expiry_height);
    if (wire_get_u16(r, "n", &a->n) == 0 && (a->n < 1 || a->n > GOV_MAX_GOVERNORS))
        reader_refuse(r, "n");
    for (size_t i = 0; r->err == 0 && i < a->n; i++) {
        wire_get_bytes(r, "key", a->sigs[i].key, sizeof a->sigs[i].key);
        wire_get_bytes(r, "sig", a->sigs[i].sig, sizeof a->sigs[i].sig);
    }
}

int gov_attestation_encode(const gov_attestation_t *a, uint8_t *buf, size_t cap, size_t *len)
{
    wire_writer_t w;

    if (attestation_fault(a) != NULL)
        return -EINVAL;
    wire_writer_init(&w, buf, cap);
    put_attestation(&w, a);
    if (w.err != 0)
        return w.err;
    *len = w.len;
    return 0;
}

int gov_attestation_decode(gov_attestation_t *a, const uint8_t *buf, size_t len,
                           const char **what)
{
    gov_attestation_t t; /* about 12 KiB */
    wire_reader_t r;
    const char *fault;
    int rc;

    memset(&t, 0, sizeof t);
    wire_reader_init(&r, buf, len);
    get_attestation(&r, &t);
    rc = reader_result(&r);
    if (rc == 0 && (fault = attestation_fault(&t)) != NULL) {
        rc = -EBADMSG;
        r.what = fault;
    }
    if (rc == 0)
        *a = t;
    else if (what != NULL)
        *what = r.what;
    return rc;
}

/* ---- signed digests ---- */

/* Feed what the writer w (over a small scratch buffer) holds to st, then
 * empty it, so fields of any length stream through a fixed buffer. */
static void hash_flush(crypto_generichash_state *st, wire_writer_t *w)
{
    assert(w->err == 0); /* the scratch buffers below fit every prefix */
    crypto_generichash_update(st, w->buf, w->len);
    w->len = 0;
}

/* Hash str s or var p[n] as wire_put_var lays it out: u32 length, bytes. */
static void hash_var(crypto_generichash_state *st, const void *p, size_t n)
{
    uint8_t prefix[4];
    wire_writer_t w;

    assert(n <= UINT32_MAX); /* callers hold names and actions far below it */
    wire_writer_init(&w, prefix, sizeof prefix);
    wire_put_u32(&w, (uint32_t)n);
    hash_flush(st, &w);
    if (n > 0)
        crypto_generichash_update(st, p, n);
}

static void hash_u64(crypto_generichash_state *st, uint64_t v)
{
    uint8_t b[8];
    wire_writer_t w;

    wire_writer_init(&w, b, sizeof b);
    wire_put_u64(&w, v);
    hash_flush(st, &w);
}

static void hash_tag(crypto_generichash_state *st, const char *tag, size_t n)
{
    crypto_generichash_init(st, NULL, 0, 32);
    crypto_generichash_update(st, (const uint8_t *)tag, n);
}

void gov_attest_hash(const char *chain_id, const uint8_t *action, size_t action_len,
                     uint64_t nonce, uint64_t expiry_height, uint8_t out[32])
{
    crypto_generichash_state st;

    hash_tag(&st, ATTEST_TAG, sizeof ATTEST_TAG - 1);
    hash_var(&st, chain_id, strlen(chain_id));
    hash_var(&st, action, action_len);
    hash_u64(&st, nonce);
    hash_u64(&st, expiry_height);
    crypto_generichash_final(&st, out, 32);
}

void gov_attest_sign(const char *chain_id, const uint8_t *action, size_t action_len,
                     uint64_t nonce, uint64_t expiry_height, const uint8_t pk[32],
                     const uint8_t sk[64], gov_sig_t *s)
{
    uint8_t h[32];

    gov_attest_hash(chain_id, action, action_len, nonce, expiry_height, h);
    crypto_sign_detached(s->sig, NULL, h, sizeof h, sk);
    memcpy(s->key, pk, sizeof s->key);
}

int gov_attest_verify(const char *chain_id, const uint8_t *action, size_t action_len,
                      uint64_t nonce, uint64_t expiry_height, const gov_sig_t *s)
{
    uint8_t h[32];

    gov_attest_hash(chain_id, action, action_len, nonce, expiry_height, h);
    return crypto_sign_verify_detached(s->sig, h, sizeof h, s->key) == 0 ? 0 : -EBADMSG;
}

void gov_proposal_id(const char *chain_id, uint64_t nonce, const uint8_t *action,
                     size_t action_len, uint8_t out[GOV_ID_LEN])
{
    crypto_generichash_state st;

    hash_tag(&st, PROPOSAL_TAG, sizeof PROPOSAL_TAG - 1);
    hash_var(&st, chain_id, strlen(chain_id));
    hash_u64(&st, nonce);
    hash_var(&st, action, action_len);
    crypto_generichash_final(&st, out, GOV_ID_LEN);
}

/* ---- transaction payloads ---- */

static bool choice_ok(uint8_t c)
{
    return gov_choice_name(c) != NULL;
}

int gov_payload_encode(const gov_payload_t *p, uint8_t *buf, size_t cap, size_t *len)
{
    wire_writer_t w;
    gov_action_t a; /* about 4.5 KiB: the propose action, decoded to check it */

    switch (p->kind) {
    case GOV_KIND_PROPOSE:
        if (!bytes_ok(p->action, p->action_len, 1, GOV_ACTION_MAX) ||
            gov_action_decode(&a, p->action, p->action_len, NULL) != 0)
            return -EINVAL;
        break;
    case GOV_KIND_ATTEST:
        if (attestation_fault(&p->attestation) != NULL)
            return -EINVAL;
        break;
    case GOV_KIND_VOTE:
        if (!choice_ok(p->choice))
            return -EINVAL;
        break;
    case GOV_KIND_APPLY:
        break;
    default:
        return -EINVAL;
    }
    wire_writer_init(&w, buf, cap);
    if (p->kind == GOV_KIND_PROPOSE) {
        wire_put_u64(&w, p->nonce);
        wire_put_var(&w, p->action, p->action_len);
    } else {
        wire_put_bytes(&w, p->id, sizeof p->id);
    }
    if (p->kind == GOV_KIND_ATTEST)
        put_attestation(&w, &p->attestation);
    else if (p->kind == GOV_KIND_VOTE)
        wire_put_u8(&w, p->choice);
    if (w.err != 0)
        return w.err;
    *len = w.len;
    return 0;
}

int gov_payload_decode(gov_payload_t *p, uint16_t kind, const uint8_t *buf, size_t len,
                       const char **what)
{
    gov_payload_t t; /* about 12.5 KiB (the attestation) */
    gov_action_t a;
    wire_reader_t r;
    const char *fault = NULL;
    int rc;

    memset(&t, 0, sizeof t);
    t.kind = kind;
    wire_reader_init(&r, buf, len);
    if (!gov_kind_is_gov(kind)) {
        rc = -ENOTSUP;
        r.what = "kind";
        goto out;
    }
    if (kind == GOV_KIND_PROPOSE) {
        wire_get_u64(&r, "nonce", &t.nonce);
        wire_get_var(&r, "action", GOV_ACTION_MAX, &t.action, &t.action_len);
    } else {
        wire_get_bytes(&r, "id", t.id, sizeof t.id);
    }
    if (kind == GOV_KIND_ATTEST)
        get_attestation(&r, &t.attestation);
    else if (kind == GOV_KIND_VOTE)
        wire_get_u8(&r, "choice", &t.choice);
    rc = reader_result(&r);
    if (rc != 0)
        goto out;
    if (kind == GOV_KIND_ATTEST)
        fault = attestation_fault(&t.attestation);
    else if (kind == GOV_KIND_VOTE && !choice_ok(t.choice))
        fault = "choice";
    if (fault != NULL) {
        rc = -EBADMSG;
        r.what = fault;
        goto out;
    }
    /* Its own codes: -ENOTSUP for an unknown action kind is the verifier's
     * "unknown_action", not a malformed payload. */
    if (kind == GOV_KIND_PROPOSE && (rc = gov_action_decode(&a, t.action, t.action_len,
                                                            &r.what)) != 0)
        goto out;
    *p = t;
out:
    if (rc != 0 && what != NULL)
        *what = r.what;
    return rc;
}
