/* proto/gov.c: governance programs, actions, attestations, signed digests
 * and transaction payloads. */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "proto/gov.h"
#include "proto/wire.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

#define BUF_MAX 16384 /* above every encoding here, refused ones included */

/* Byte fields point here (a recognisable pattern, longer than any limit). */
static uint8_t pattern[GOV_PROGRAM_MAX + 64];
static uint8_t enc[BUF_MAX], ref[BUF_MAX], again[BUF_MAX];

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

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static void put_fixed_str(wire_writer_t *w, const char *s, size_t size)
{
    wire_put_var(w, s, strnlen(s, size)); /* an unterminated buffer goes out whole */
}

static void bytes_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    ck_assert_uint_eq(alen, blen);
    ck_assert_mem_eq(a, b, alen);
}

/* Signer i's key: ascending in i (first byte i, the rest fixed). */
static void key_of(uint8_t key[32], unsigned i)
{
    memset(key, 0x42, 32);
    key[0] = (uint8_t)i;
}

/* ---- programs ---- */

/* About 40 KiB each: static, as gov.h asks. */
static gov_program_t prog, dprog;

static void set_function(gov_function_t *f, const char *name, uint8_t n_in, uint8_t n_out)
{
    snprintf(f->name, sizeof f->name, "%s", name);
    f->n_in = n_in;
    f->n_out = n_out;
    for (uint8_t k = 0; k < GOV_MAX_IO; k++) {
        f->in[k] = (uint8_t)(k % GOV_T_LAST + 1);
        f->out[k] = (uint8_t)((k + 5) % GOV_T_LAST + 1);
    }
}

/* The layout of gov.h's program, written from the header's comment with
 * no check of any limit: the reference the codec's bytes are compared
 * with, and the way to make programs the encoder refuses. */
static size_t spec_program(const gov_program_t *p, uint8_t version, uint8_t *buf, size_t cap)
{
    wire_writer_t w;

    wire_writer_init(&w, buf, cap);
    wire_put_u8(&w, version);
    put_fixed_str(&w, p->name, sizeof p->name);
    wire_put_u16(&w, p->n_functions);
    for (size_t i = 0; i < min_size(p->n_functions, GOV_MAX_FUNCTIONS); i++) {
        const gov_function_t *f = &p->functions[i];
        put_fixed_str(&w, f->name, sizeof f->name);
        wire_put_u8(&w, f->n_in);
        wire_put_bytes(&w, f->in, min_size(f->n_in, GOV_MAX_IO));
        wire_put_u8(&w, f->n_out);
        wire_put_bytes(&w, f->out, min_size(f->n_out, GOV_MAX_IO));
    }
    wire_put_u16(&w, p->n_records);
    for (size_t i = 0; i < min_size(p->n_records, GOV_MAX_RECORDS); i++) {
        const gov_record_t *rec = &p->records[i];
        put_fixed_str(&w, rec->name, sizeof rec->name);
        wire_put_u8(&w, rec->n_fields);
        for (size_t j = 0; j < min_size(rec->n_fields, GOV_MAX_FIELDS); j++) {
            put_fixed_str(&w, rec->fields[j].name, sizeof rec->fields[j].name);
            wire_put_u8(&w, rec->fields[j].type);
        }
    }
    wire_put_u16(&w, p->n_mappings);
    for (size_t i = 0; i < min_size(p->n_mappings, GOV_MAX_MAPPINGS); i++) {
        put_fixed_str(&w, p->mappings[i].name, sizeof p->mappings[i].name);
        wire_put_u8(&w, p->mappings[i].key);
        wire_put_u8(&w, p->mappings[i].value);
    }
    wire_put_var(&w, p->code, p->code_len);
    ck_assert_int_eq(w.err, 0);
    return w.len;
}

/* A valid program. Small: two functions, two records (one with two
 * fields, ascending like every list), two mappings, seven
 * code bytes. Big: every count at its limit, long names, and code making
 * the encoding exactly GOV_PROGRAM_MAX bytes. */
static void sample_program(gov_program_t *p, bool big)
{
    memset(p, 0, sizeof *p);
    pattern_fill();
    p->code = pattern;
    if (!big) {
        strcpy(p->name, "hello");
        p->n_functions = 2;
        set_function(&p->functions[0], "burn", 1, 0);
        set_function(&p->functions[1], "greet", 2, 1);
        p->n_records = 2;
        strcpy(p->records[0].name, "token");
        p->records[0].n_fields = 2;
        strcpy(p->records[0].fields[0].name, "amount");
        p->records[0].fields[0].type = GOV_T_U64;
        strcpy(p->records[0].fields[1].name, "owner");
        p->records[0].fields[1].type = GOV_T_ADDRESS;
        strcpy(p->records[1].name, "vote");
        p->records[1].n_fields = 1;
        strcpy(p->records[1].fields[0].name, "choice");
        p->records[1].fields[0].type = GOV_T_U8;
        p->n_mappings = 2;
        strcpy(p->mappings[0].name, "balances");
        p->mappings[0].key = GOV_T_ADDRESS;
        p->mappings[0].value = GOV_T_U64;
        strcpy(p->mappings[1].name, "owners");
        p->mappings[1].key = GOV_T_FIELD;
        p->mappings[1].value = GOV_T_SIGNATURE;
        p->code_len = 7;
        return;
    }
    fill_str(p->name, GOV_NAME_MAX, 'p');
    p->n_functions = GOV_MAX_FUNCTIONS;
    for (unsigned i = 0; i < GOV_MAX_FUNCTIONS; i++) {
        char name[8];
        snprintf(name, sizeof name, "f%02u", i);
        set_function(&p->functions[i], name, GOV_MAX_IO, GOV_MAX_IO);
    }
    p->n_records = GOV_MAX_RECORDS;
    for (unsigned i = 0; i < GOV_MAX_RECORDS; i++) {
        gov_record_t *rec = &p->records[i];
        snprintf(rec->name, sizeof rec->name, "r%02u", i);
        /* The first record has every field. */
        rec->n_fields = i == 0 ? GOV_MAX_FIELDS : 1;
        for (unsigned j = 0; j < rec->n_fields; j++) {
            snprintf(rec->fields[j].name, sizeof rec->fields[j].name, "x%02u", j + 1);
            rec->fields[j].type = (uint8_t)(j % GOV_T_LAST + 1);
        }
    }
    p->n_mappings = GOV_MAX_MAPPINGS;
    for (unsigned i = 0; i < GOV_MAX_MAPPINGS; i++) {
        snprintf(p->mappings[i].name, sizeof p->mappings[i].name, "m%02u", i);
        p->mappings[i].key = (uint8_t)(i % GOV_T_LAST + 1);
        p->mappings[i].value = (uint8_t)(GOV_T_LAST - i % GOV_T_LAST);
    }
    p->code_len = 0;
    p->code_len = GOV_PROGRAM_MAX - spec_program(p, GOV_PROGRAM_VERSION, ref, sizeof ref);
    ck_assert_uint_le(p->code_len, GOV_CODE_MAX);
}

static void program_eq(const gov_program_t *a, const gov_program_t *b)
{
    ck_assert_str_eq(a->name, b->name);
    ck_assert_uint_eq(a->n_functions, b->n_functions);
    for (size_t i = 0; i < a->n_functions; i++) {
        const gov_function_t *x = &a->functions[i], *y = &b->functions[i];
        ck_assert_str_eq(x->name, y->name);
        ck_assert_uint_eq(x->n_in, y->n_in);
        ck_assert_uint_eq(x->n_out, y->n_out);
        ck_assert_mem_eq(x->in, y->in, x->n_in);
        ck_assert_mem_eq(x->out, y->out, x->n_out);
    }
    ck_assert_uint_eq(a->n_records, b->n_records);
    for (size_t i = 0; i < a->n_records; i++) {
        ck_assert_str_eq(a->records[i].name, b->records[i].name);
        ck_assert_uint_eq(a->records[i].n_fields, b->records[i].n_fields);
        for (size_t j = 0; j < a->records[i].n_fields; j++) {
            ck_assert_str_eq(a->records[i].fields[j].name, b->records[i].fields[j].name);
            ck_assert_uint_eq(a->records[i].fields[j].type, b->records[i].fields[j].type);
        }
    }
    ck_assert_uint_eq(a->n_mappings, b->n_mappings);
    for (size_t i = 0; i < a->n_mappings; i++) {
        ck_assert_str_eq(a->mappings[i].name, b->mappings[i].name);
        ck_assert_uint_eq(a->mappings[i].key, b->mappings[i].key);
        ck_assert_uint_eq(a->mappings[i].value, b->mappings[i].value);
    }
    ck_assert_uint_eq(a->code_len, b->code_len);
    ck_assert_mem_eq(a->code, b->code, a->code_len);
}

START_TEST(test_program_round_trip)
{
    for (int big = 0; big <= 1; big++) {
        size_t len = 0, len2 = 0;
        const char *what = NULL;

        sample_program(&prog, big);
        ck_assert_int_eq(gov_program_encode(&prog, enc, sizeof enc, &len), 0);
        /* The codec's bytes are the header's layout. */
        bytes_eq(enc, len, ref, spec_program(&prog, GOV_PROGRAM_VERSION, ref, sizeof ref));
        if (big)
            ck_assert_uint_eq(len, GOV_PROGRAM_MAX);
        memset(&dprog, 0x5a, sizeof dprog);
        ck_assert_msg(gov_program_decode(&dprog, enc, len, &what) == 0, "big %d: %s", big, what);
        program_eq(&prog, &dprog);
        ck_assert_ptr_eq(dprog.code, enc + len - dprog.code_len); /* into the buffer */
        ck_assert_int_eq(gov_program_encode(&dprog, again, sizeof again, &len2), 0);
        bytes_eq(enc, len, again, len2);
    }
}
END_TEST

START_TEST(test_program_bytes)
{
    static const uint8_t want[] = {
        GOV_PROGRAM_VERSION, 0, 0, 0, 1, 'a',               /* version, name */
        0, 1, 0, 0, 0, 1, 'f', 1, GOV_T_U8, 1, GOV_T_BOOL,  /* one function */
        0, 0,                                               /* no record */
        0, 1, 0, 0, 0, 1, 'm', GOV_T_U16, GOV_T_U32,        /* one mapping */
        0, 0, 0, 1, 0xab,                                   /* code */
    };
    static const uint8_t code[] = {0xab};
    size_t len = 0;

    memset(&prog, 0, sizeof prog);
    strcpy(prog.name, "a");
    prog.n_functions = 1;
    strcpy(prog.functions[0].name, "f");
    prog.functions[0].n_in = 1;
    prog.functions[0].in[0] = GOV_T_U8;
    prog.functions[0].n_out = 1;
    prog.functions[0].out[0] = GOV_T_BOOL;
    prog.n_mappings = 1;
    strcpy(prog.mappings[0].name, "m");
    prog.mappings[0].key = GOV_T_U16;
    prog.mappings[0].value = GOV_T_U32;
    prog.code = code;
    prog.code_len = 1;
    ck_assert_int_eq(gov_program_encode(&prog, enc, sizeof enc, &len), 0);
    bytes_eq(enc, len, want, sizeof want);
    /* No code at all is a program too. */
    prog.code = NULL;
    prog.code_len = 0;
    ck_assert_int_eq(gov_program_encode(&prog, enc, sizeof enc, &len), 0);
    ck_assert_uint_eq(len, sizeof want - 1);
    ck_assert_int_eq(gov_program_decode(&dprog, enc, len, NULL), 0);
    ck_assert_uint_eq(dprog.code_len, 0);
}
END_TEST

START_TEST(test_program_short_buffer)
{
    size_t full = 0, len = 12345;

    sample_program(&prog, false);
    ck_assert_int_eq(gov_program_encode(&prog, enc, sizeof enc, &full), 0);
    for (size_t cap = 0; cap < full; cap++) {
        ck_assert_int_eq(gov_program_encode(&prog, enc, cap, &len), -ENOBUFS);
        ck_assert_uint_eq(len, 12345);
    }
}
END_TEST

static void program_refused(const uint8_t *buf, size_t len, int rc, const char *want_what)
{
    const char *what = NULL;

    ck_assert_int_eq(gov_program_decode(&dprog, buf, len, &what), rc);
    ck_assert_ptr_nonnull(what);
    if (want_what != NULL)
        ck_assert_str_eq(what, want_what);
}

/* prog breaks a rule: the encoder refuses it, and its bytes as the header
 * lays them out do not decode, naming the field. */
static void program_bad(int line, const char *want_what)
{
    size_t len = 0, n = spec_program(&prog, GOV_PROGRAM_VERSION, ref, sizeof ref);
    const char *what = NULL;

    ck_assert_msg(gov_program_encode(&prog, enc, sizeof enc, &len) == -EINVAL,
                  "line %d: encoded", line);
    ck_assert_msg(gov_program_decode(&dprog, ref, n, &what) == -EBADMSG, "line %d: decoded",
                  line);
    ck_assert_msg(what != NULL && strcmp(what, want_what) == 0, "line %d: what %s, not %s",
                  line, what ? what : "NULL", want_what);
}

#define PROGRAM_BAD(big, change, want_what)                                                 \
    do {                                                                                    \
        sample_program(&prog, big);                                                         \
        change;                                                                             \
        program_bad(__LINE__, want_what);                                                   \
    } while (0)

static void swap_functions(gov_program_t *p)
{
    gov_function_t t = p->functions[0];
    p->functions[0] = p->functions[1];
    p->functions[1] = t;
}

START_TEST(test_program_refusals)
{
    PROGRAM_BAD(false, strcpy(prog.name, "Hello"), "name");
    PROGRAM_BAD(false, prog.name[0] = '\0', "name");
    PROGRAM_BAD(false, memset(prog.name, 'a', sizeof prog.name), "name"); /* 33 bytes */
    PROGRAM_BAD(false, strcpy(prog.functions[0].name, "Burn"), "function name");
    PROGRAM_BAD(true, prog.n_functions = GOV_MAX_FUNCTIONS + 1, "n_functions");
    PROGRAM_BAD(false, prog.functions[0].n_in = GOV_MAX_IO + 1, "n_in");
    PROGRAM_BAD(false, prog.functions[1].n_out = GOV_MAX_IO + 1, "n_out");
    PROGRAM_BAD(false, prog.functions[1].in[1] = 0, "input type");
    PROGRAM_BAD(false, prog.functions[1].in[0] = GOV_T_LAST + 1, "input type");
    PROGRAM_BAD(false, prog.functions[1].out[0] = 0xff, "output type");
    PROGRAM_BAD(false, swap_functions(&prog), "function order");
    PROGRAM_BAD(false, strcpy(prog.functions[1].name, "burn"), "function order");
    PROGRAM_BAD(true, prog.n_records = GOV_MAX_RECORDS + 1, "n_records");
    PROGRAM_BAD(false, prog.records[0].n_fields = GOV_MAX_FIELDS + 1, "n_fields");
    PROGRAM_BAD(false, strcpy(prog.records[0].fields[0].name, "9x"), "field name");
    PROGRAM_BAD(false, prog.records[0].fields[1].type = 0, "field type");
    PROGRAM_BAD(false, prog.records[0].fields[1].type = GOV_T_LAST + 1, "field type");
    PROGRAM_BAD(false, strcpy(prog.records[0].fields[1].name, "amount"), "duplicate field");
    PROGRAM_BAD(false, strcpy(prog.records[0].fields[0].name, "zeta"), "field order");
    PROGRAM_BAD(false, strcpy(prog.records[1].name, "token"), "record order");
    PROGRAM_BAD(false, strcpy(prog.records[1].name, "aaa"), "record order");
    PROGRAM_BAD(true, prog.n_mappings = GOV_MAX_MAPPINGS + 1, "n_mappings");
    PROGRAM_BAD(false, prog.mappings[1].name[0] = '\0', "mapping name");
    PROGRAM_BAD(false, prog.mappings[0].key = 0, "mapping key");
    PROGRAM_BAD(false, prog.mappings[1].value = GOV_T_LAST + 1, "mapping value");
    PROGRAM_BAD(false, strcpy(prog.mappings[1].name, "a"), "mapping order");
    PROGRAM_BAD(false, prog.code_len = GOV_CODE_MAX + 1, "code");
    PROGRAM_BAD(true, prog.code_len++, "size");

    /* Limits are inclusive: code of GOV_CODE_MAX bytes is a program. */
    size_t len = 0;
    sample_program(&prog, false);
    prog.code_len = GOV_CODE_MAX;
    ck_assert_int_eq(gov_program_encode(&prog, enc, sizeof enc, &len), 0);
    ck_assert_int_eq(gov_program_decode(&dprog, enc, len, NULL), 0);
    /* Code the program does not point to. */
    prog.code = NULL;
    ck_assert_int_eq(gov_program_encode(&prog, enc, sizeof enc, &len), -EINVAL);
}
END_TEST

START_TEST(test_program_order_is_bytewise)
{
    /* '0' (0x30) < '_' (0x5f) < 'b' (0x62), and a prefix sorts first. */
    static const char *const names[] = {"a", "a0", "a_b", "ab"};
    size_t len = 0;

    sample_program(&prog, false);
    prog.n_functions = 4;
    for (int i = 0; i < 4; i++)
        set_function(&prog.functions[i], names[i], 0, 0);
    ck_assert_int_eq(gov_program_encode(&prog, enc, sizeof enc, &len), 0);
    ck_assert_int_eq(gov_program_decode(&dprog, enc, len, NULL), 0);
    set_function(&prog.functions[1], "a_b", 0, 0);
    set_function(&prog.functions[2], "a0", 0, 0);
    program_bad(__LINE__, "function order");
}
END_TEST

START_TEST(test_program_version_trailing_truncation)
{
    size_t len = 0, n;

    for (int big = 0; big <= 1; big++) {
        sample_program(&prog, big);
        ck_assert_int_eq(gov_program_encode(&prog, enc, sizeof enc, &len), 0);
        for (size_t cut = 0; cut < len; cut++)
            program_refused(enc, cut, -EMSGSIZE, NULL);
    }
    sample_program(&prog, false);
    ck_assert_int_eq(gov_program_encode(&prog, enc, sizeof enc, &len), 0);
    enc[len] = 0;
    program_refused(enc, len + 1, -EBADMSG, "trailing bytes");
    /* Longer than any program: refused before it is read. */
    program_refused(enc, GOV_PROGRAM_MAX + 1, -EBADMSG, "size");
    for (unsigned v = 0; v <= 255; v += 255) {
        n = spec_program(&prog, (uint8_t)v, ref, sizeof ref);
        program_refused(ref, n, -EPROTONOSUPPORT, "version");
    }
    n = spec_program(&prog, GOV_PROGRAM_VERSION + 1, ref, sizeof ref);
    program_refused(ref, n, -EPROTONOSUPPORT, "version");
}
END_TEST

/* A name as the header lays it out, in an otherwise empty program. */
static size_t program_named(const void *name, size_t n, uint8_t *buf, size_t cap)
{
    wire_writer_t w;

    wire_writer_init(&w, buf, cap);
    wire_put_u8(&w, GOV_PROGRAM_VERSION);
    wire_put_var(&w, name, n);
    wire_put_u16(&w, 0);
    wire_put_u16(&w, 0);
    wire_put_u16(&w, 0);
    wire_put_var(&w, NULL, 0);
    ck_assert_int_eq(w.err, 0);
    return w.len;
}

START_TEST(test_program_nul_in_name)
{
    size_t n = program_named("a\0b", 3, ref, sizeof ref);

    program_refused(ref, n, -EBADMSG, "name");
    n = program_named("a_b", 3, ref, sizeof ref);
    ck_assert_int_eq(gov_program_decode(&dprog, ref, n, NULL), 0);
    ck_assert_str_eq(dprog.name, "a_b");
}
END_TEST

/* ---- actions ---- */

static uint8_t act_buf[BUF_MAX];

/* A valid action of kind. Big: every field at its upper limit (governors'
 * keys in descending order, which the set allows); else at its lower one. */
static void sample_action(gov_action_t *a, uint8_t kind, bool big)
{
    memset(a, 0, sizeof *a);
    pattern_fill();
    a->kind = kind;
    memset(a->base, big ? 0xee : 0x11, sizeof a->base);
    a->activation_height = big ? UINT64_MAX : 0;
    switch (kind) {
    case GOV_ACTION_DEPLOY:
        if (big)
            fill_str(a->u.deploy.name, GOV_NAME_MAX, 'd');
        else
            strcpy(a->u.deploy.name, "hello");
        a->u.deploy.edition = big ? UINT64_MAX : 0;
        a->u.deploy.policy = big ? GOV_POLICY_COMPATIBLE : GOV_POLICY_IMMUTABLE;
        a->u.deploy.program = pattern;
        a->u.deploy.program_len = big ? GOV_PROGRAM_MAX : 1;
        break;
    case GOV_ACTION_PARAM:
        if (big)
            fill_str(a->u.param.key, GOV_NAME_MAX, 'k');
        else
            strcpy(a->u.param.key, "quorum");
        a->u.param.value = big ? UINT64_MAX : 0;
        break;
    case GOV_ACTION_GOVERNORS:
        a->u.governors.threshold_bps = big ? 10000 : 1;
        a->u.governors.n = big ? GOV_MAX_GOVERNORS : 1;
        for (unsigned i = 0; i < a->u.governors.n; i++)
            key_of(a->u.governors.keys[i], big ? GOV_MAX_GOVERNORS - i : i);
        break;
    }
}

/* gov.h's action layout, with no check of any limit. */
static size_t spec_action(const gov_action_t *a, uint8_t version, uint8_t *buf, size_t cap)
{
    wire_writer_t w;

    wire_writer_init(&w, buf, cap);
    wire_put_u8(&w, version);
    wire_put_u8(&w, a->kind);
    wire_put_bytes(&w, a->base, 32);
    wire_put_u64(&w, a->activation_height);
    switch (a->kind) {
    case GOV_ACTION_DEPLOY:
        put_fixed_str(&w, a->u.deploy.name, sizeof a->u.deploy.name);
        wire_put_u64(&w, a->u.deploy.edition);
        wire_put_u8(&w, a->u.deploy.policy);
        wire_put_var(&w, a->u.deploy.program, a->u.deploy.program_len);
        break;
    case GOV_ACTION_PARAM:
        put_fixed_str(&w, a->u.param.key, sizeof a->u.param.key);
        wire_put_u64(&w, a->u.param.value);
        break;
    case GOV_ACTION_GOVERNORS:
        wire_put_u32(&w, a->u.governors.threshold_bps);
        wire_put_u16(&w, a->u.governors.n);
        wire_put_bytes(&w, a->u.governors.keys,
                       min_size(a->u.governors.n, GOV_MAX_GOVERNORS) * 32);
        break;
    }
    ck_assert_int_eq(w.err, 0);
    return w.len;
}

static void action_eq(const gov_action_t *a, const gov_action_t *b)
{
    ck_assert_uint_eq(a->kind, b->kind);
    ck_assert_mem_eq(a->base, b->base, 32);
    ck_assert_uint_eq(a->activation_height, b->activation_height);
    switch (a->kind) {
    case GOV_ACTION_DEPLOY:
        ck_assert_str_eq(a->u.deploy.name, b->u.deploy.name);
        ck_assert_uint_eq(a->u.deploy.edition, b->u.deploy.edition);
        ck_assert_uint_eq(a->u.deploy.policy, b->u.deploy.policy);
        ck_assert_uint_eq(a->u.deploy.program_len, b->u.deploy.program_len);
        ck_assert_mem_eq(a->u.deploy.program, b->u.deploy.program, a->u.deploy.program_len);
        break;
    case GOV_ACTION_PARAM:
        ck_assert_str_eq(a->u.param.key, b->u.param.key);
        ck_assert_uint_eq(a->u.param.value, b->u.param.value);
        break;
    default:
        ck_assert_uint_eq(a->u.governors.threshold_bps, b->u.governors.threshold_bps);
        ck_assert_uint_eq(a->u.governors.n, b->u.governors.n);
        ck_assert_mem_eq(a->u.governors.keys, b->u.governors.keys, a->u.governors.n * 32u);
    }
}

/* Decode len bytes of buf as an action expecting rc (and, if non-NULL,
 * what), and check that the output was left as it was. */
static void action_refused(const uint8_t *buf, size_t len, int rc, const char *want_what)
{
    gov_action_t d, sentinel;
    const char *what = NULL;

    memset(&sentinel, 0x5a, sizeof sentinel);
    memcpy(&d, &sentinel, sizeof d);
    ck_assert_int_eq(gov_action_decode(&d, buf, len, &what), rc);
    ck_assert_ptr_nonnull(what);
    if (want_what != NULL)
        ck_assert_str_eq(what, want_what);
    ck_assert_mem_eq(&d, &sentinel, sizeof d);
}

START_TEST(test_action_round_trip)
{
    for (uint8_t kind = GOV_ACTION_DEPLOY; kind <= GOV_ACTION_GOVERNORS; kind++) {
        for (int big = 0; big <= 1; big++) {
            gov_action_t a, d;
            size_t len = 0, len2 = 0;
            const char *what = NULL;

            sample_action(&a, kind, big);
            ck_assert_int_eq(gov_action_encode(&a, enc, sizeof enc, &len), 0);
            bytes_eq(enc, len, ref, spec_action(&a, GOV_ACTION_VERSION, ref, sizeof ref));
            ck_assert_uint_le(len, GOV_ACTION_MAX);
            memset(&d, 0x5a, sizeof d);
            ck_assert_msg(gov_action_decode(&d, enc, len, &what) == 0, "kind %u: %s", kind,
                          what);
            action_eq(&a, &d);
            if (kind == GOV_ACTION_DEPLOY) /* opaque, into the buffer */
                ck_assert_ptr_eq(d.u.deploy.program, enc + len - d.u.deploy.program_len);
            ck_assert_int_eq(gov_action_encode(&d, again, sizeof again, &len2), 0);
            bytes_eq(enc, len, again, len2);
        }
    }
}
END_TEST

START_TEST(test_action_bytes)
{
    gov_action_t a;
    size_t len = 0;
    uint8_t want[1 + 1 + 32 + 8 + 4 + 6 + 8];
    const uint8_t tail[] = {0, 0, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 6, 'q', 'u', 'o',
                            'r', 'u', 'm', 0, 0, 0, 0, 0, 0, 0x1a, 0x2c};

    sample_action(&a, GOV_ACTION_PARAM, false);
    a.activation_height = 0x0102;
    a.u.param.value = 6700;
    want[0] = GOV_ACTION_VERSION;
    want[1] = GOV_ACTION_PARAM;
    memset(want + 2, 0x11, 32);
    memcpy(want + 34, tail, sizeof tail);
    ck_assert_uint_eq(34 + sizeof tail, sizeof want);
    ck_assert_int_eq(gov_action_encode(&a, enc, sizeof enc, &len), 0);
    bytes_eq(enc, len, want, sizeof want);
    for (size_t cap = 0; cap < len; cap++)
        ck_assert_int_eq(gov_action_encode(&a, enc, cap, &len), -ENOBUFS);
}
END_TEST

static void action_bad(int line, const gov_action_t *a, int rc, const char *want_what)
{
    size_t len = 0, n = spec_action(a, GOV_ACTION_VERSION, ref, sizeof ref);
    gov_action_t d;
    const char *what = NULL;

    ck_assert_msg(gov_action_encode(a, enc, sizeof enc, &len) == -EINVAL, "line %d: encoded",
                  line);
    memset(&d, 0x5a, sizeof d);
    ck_assert_msg(gov_action_decode(&d, ref, n, &what) == rc, "line %d: decoded", line);
    ck_assert_msg(what != NULL && strcmp(what, want_what) == 0, "line %d: what %s, not %s",
                  line, what ? what : "NULL", want_what);
    action_refused(ref, n, rc, want_what);
}

#define ACTION_BAD(kind, big, change, rc, want_what)                                        \
    do {                                                                                    \
        sample_action(&a, kind, big);                                                       \
        change;                                                                             \
        action_bad(__LINE__, &a, rc, want_what);                                            \
    } while (0)

START_TEST(test_action_refusals)
{
    gov_action_t a;
    size_t len = 0, n;

    ACTION_BAD(GOV_ACTION_DEPLOY, false, a.u.deploy.name[0] = '\0', -EBADMSG, "name");
    ACTION_BAD(GOV_ACTION_DEPLOY, false, strcpy(a.u.deploy.name, "Hello"), -EBADMSG, "name");
    ACTION_BAD(GOV_ACTION_DEPLOY, true, memset(a.u.deploy.name, 'd', GOV_NAME_MAX + 1),
               -EBADMSG, "name");
    ACTION_BAD(GOV_ACTION_DEPLOY, false, a.u.deploy.policy = 3, -EBADMSG, "policy");
    ACTION_BAD(GOV_ACTION_DEPLOY, false, a.u.deploy.program_len = 0, -EBADMSG, "program");
    ACTION_BAD(GOV_ACTION_DEPLOY, true, a.u.deploy.program_len++, -EBADMSG, "program");
    ACTION_BAD(GOV_ACTION_PARAM, false, strcpy(a.u.param.key, "bad-key"), -EBADMSG, "key");
    ACTION_BAD(GOV_ACTION_GOVERNORS, false, a.u.governors.threshold_bps = 0, -EBADMSG,
               "threshold_bps");
    ACTION_BAD(GOV_ACTION_GOVERNORS, true, a.u.governors.threshold_bps = 10001, -EBADMSG,
               "threshold_bps");
    ACTION_BAD(GOV_ACTION_GOVERNORS, false, a.u.governors.n = 0, -EBADMSG, "n");
    ACTION_BAD(GOV_ACTION_GOVERNORS, true, a.u.governors.n = GOV_MAX_GOVERNORS + 1, -EBADMSG,
               "n");
    /* The same key twice, not side by side. */
    ACTION_BAD(GOV_ACTION_GOVERNORS, true, memcpy(a.u.governors.keys[90], a.u.governors.keys[3],
                                                  32),
               -EBADMSG, "duplicate key");
    /* An unknown kind, whatever follows it. */
    for (unsigned k = 0; k <= 255; k++) {
        if (gov_action_name((uint8_t)k) != NULL)
            continue;
        sample_action(&a, GOV_ACTION_PARAM, false);
        a.kind = (uint8_t)k;
        action_bad(__LINE__, &a, -ENOTSUP, "kind");
        action_refused(ref, 2, -ENOTSUP, "kind");
    }
    /* An unknown version, whatever follows it. */
    sample_action(&a, GOV_ACTION_PARAM, false);
    for (unsigned v = 0; v <= 255; v++) {
        if (v == GOV_ACTION_VERSION)
            continue;
        n = spec_action(&a, (uint8_t)v, ref, sizeof ref);
        action_refused(ref, n, -EPROTONOSUPPORT, "version");
        action_refused(ref, 1, -EPROTONOSUPPORT, "version");
    }
    ck_assert_int_eq(gov_action_encode(&a, enc, sizeof enc, &len), 0);
    enc[len] = 0;
    action_refused(enc, len + 1, -EBADMSG, "trailing bytes");
    /* A program the action does not point to. */
    sample_action(&a, GOV_ACTION_DEPLOY, false);
    a.u.deploy.program = NULL;
    ck_assert_int_eq(gov_action_encode(&a, enc, sizeof enc, &len), -EINVAL);
}
END_TEST

START_TEST(test_action_truncation)
{
    for (uint8_t kind = GOV_ACTION_DEPLOY; kind <= GOV_ACTION_GOVERNORS; kind++) {
        for (int big = 0; big <= 1; big++) {
            gov_action_t a;
            size_t len = 0;

            sample_action(&a, kind, big);
            ck_assert_int_eq(gov_action_encode(&a, enc, sizeof enc, &len), 0);
            for (size_t cut = 0; cut < len; cut++)
                action_refused(enc, cut, -EMSGSIZE, NULL);
        }
    }
}
END_TEST

/* ---- attestations ---- */

static gov_attestation_t att, datt;

static void sample_attestation(gov_attestation_t *a, unsigned n)
{
    memset(a, 0, sizeof *a);
    a->nonce = 0x0102030405060708;
    a->expiry_height = 4242;
    a->n = (uint16_t)n;
    for (unsigned i = 0; i < n && i < GOV_MAX_GOVERNORS; i++) {
        key_of(a->sigs[i].key, i);
        memset(a->sigs[i].sig, (int)(0x30 + i), sizeof a->sigs[i].sig);
    }
}

static void spec_put_attestation(wire_writer_t *w, const gov_attestation_t *a)
{
    wire_put_u64(w, a->nonce);
    wire_put_u64(w, a->expiry_height);
    wire_put_u16(w, a->n);
    for (size_t i = 0; i < min_size(a->n, GOV_MAX_GOVERNORS); i++) {
        wire_put_bytes(w, a->sigs[i].key, 32);
        wire_put_bytes(w, a->sigs[i].sig, 64);
    }
}

static size_t spec_attestation(const gov_attestation_t *a, uint8_t *buf, size_t cap)
{
    wire_writer_t w;

    wire_writer_init(&w, buf, cap);
    spec_put_attestation(&w, a);
    ck_assert_int_eq(w.err, 0);
    return w.len;
}

static void attestation_eq(const gov_attestation_t *a, const gov_attestation_t *b)
{
    ck_assert_uint_eq(a->nonce, b->nonce);
    ck_assert_uint_eq(a->expiry_height, b->expiry_height);
    ck_assert_uint_eq(a->n, b->n);
    ck_assert_mem_eq(a->sigs, b->sigs, a->n * sizeof a->sigs[0]);
}

static void attestation_refused(const uint8_t *buf, size_t len, int rc, const char *want_what)
{
    static gov_attestation_t sentinel;
    const char *what = NULL;

    memset(&sentinel, 0x5a, sizeof sentinel);
    memcpy(&datt, &sentinel, sizeof datt);
    ck_assert_int_eq(gov_attestation_decode(&datt, buf, len, &what), rc);
    ck_assert_ptr_nonnull(what);
    if (want_what != NULL)
        ck_assert_str_eq(what, want_what);
    ck_assert_mem_eq(&datt, &sentinel, sizeof datt);
}

START_TEST(test_attestation_round_trip)
{
    static const unsigned counts[] = {1, 2, GOV_MAX_GOVERNORS};

    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        size_t len = 0, len2 = 0;
        const char *what = NULL;

        sample_attestation(&att, counts[c]);
        ck_assert_int_eq(gov_attestation_encode(&att, enc, sizeof enc, &len), 0);
        bytes_eq(enc, len, ref, spec_attestation(&att, ref, sizeof ref));
        ck_assert_uint_eq(len, 18 + counts[c] * 96);
        if (counts[c] == GOV_MAX_GOVERNORS)
            ck_assert_uint_eq(len, GOV_ATTEST_MAX);
        memset(&datt, 0x5a, sizeof datt);
        ck_assert_msg(gov_attestation_decode(&datt, enc, len, &what) == 0, "%s", what);
        attestation_eq(&att, &datt);
        ck_assert_int_eq(gov_attestation_encode(&datt, again, sizeof again, &len2), 0);
        bytes_eq(enc, len, again, len2);
        for (size_t cap = len - 3; cap < len; cap++)
            ck_assert_int_eq(gov_attestation_encode(&att, enc, cap, &len2), -ENOBUFS);
    }
}
END_TEST

START_TEST(test_attestation_sort)
{
    size_t len = 0;

    /* Keys in descending order, each signature tagged with its key's byte. */
    sample_attestation(&att, 5);
    for (unsigned i = 0; i < 5; i++) {
        key_of(att.sigs[i].key, 200 - 10 * i);
        memset(att.sigs[i].sig, (int)(200 - 10 * i), 64);
    }
    ck_assert_int_eq(gov_attestation_encode(&att, enc, sizeof enc, &len), -EINVAL);
    gov_attestation_sort(&att);
    for (unsigned i = 0; i < 5; i++) {
        ck_assert_uint_eq(att.sigs[i].key[0], 160 + 10 * i);
        ck_assert_uint_eq(att.sigs[i].sig[63], 160 + 10 * i); /* each sig moved with its key */
    }
    ck_assert_int_eq(gov_attestation_encode(&att, enc, sizeof enc, &len), 0);
    /* Bytewise: the key differing only in its last byte sorts by it. */
    sample_attestation(&att, 2);
    memset(att.sigs[0].key, 0x42, 32);
    memset(att.sigs[1].key, 0x42, 32);
    att.sigs[0].key[31] = 0x80;
    att.sigs[1].key[31] = 0x7f;
    gov_attestation_sort(&att);
    ck_assert_uint_eq(att.sigs[0].key[31], 0x7f);
}
END_TEST

START_TEST(test_attestation_refusals)
{
    size_t len = 0, n;

    sample_attestation(&att, 0);
    ck_assert_int_eq(gov_attestation_encode(&att, enc, sizeof enc, &len), -EINVAL);
    n = spec_attestation(&att, ref, sizeof ref);
    attestation_refused(ref, n, -EBADMSG, "n");

    sample_attestation(&att, GOV_MAX_GOVERNORS);
    att.n = GOV_MAX_GOVERNORS + 1;
    ck_assert_int_eq(gov_attestation_encode(&att, enc, sizeof enc, &len), -EINVAL);
    n = spec_attestation(&att, ref, sizeof ref);
    attestation_refused(ref, n, -EBADMSG, "n");

    /* Out of order, and the same signer twice. */
    sample_attestation(&att, 3);
    key_of(att.sigs[2].key, 1);
    key_of(att.sigs[1].key, 2);
    ck_assert_int_eq(gov_attestation_encode(&att, enc, sizeof enc, &len), -EINVAL);
    n = spec_attestation(&att, ref, sizeof ref);
    attestation_refused(ref, n, -EBADMSG, "ascending keys");
    key_of(att.sigs[2].key, 2);
    ck_assert_int_eq(gov_attestation_encode(&att, enc, sizeof enc, &len), -EINVAL);
    n = spec_attestation(&att, ref, sizeof ref);
    attestation_refused(ref, n, -EBADMSG, "ascending keys");

    sample_attestation(&att, 3);
    ck_assert_int_eq(gov_attestation_encode(&att, enc, sizeof enc, &len), 0);
    for (size_t cut = 0; cut < len; cut++)
        attestation_refused(enc, cut, -EMSGSIZE, NULL);
    enc[len] = 0;
    attestation_refused(enc, len + 1, -EBADMSG, "trailing bytes");
}
END_TEST

/* ---- signed digests ---- */

/* tag || str chain_id || var a || u64 x || u64 y, or with order swapped
 * (u64 x || var a), written with the wire writer and hashed at once. */
static void spec_hash(const char *tag, const char *chain_id, const uint8_t *action, size_t n,
                      uint64_t x, uint64_t y, bool x_first, uint8_t out[32])
{
    static uint8_t buf[BUF_MAX];
    wire_writer_t w;

    wire_writer_init(&w, buf, sizeof buf);
    wire_put_bytes(&w, tag, strlen(tag));
    wire_put_str(&w, chain_id);
    if (x_first)
        wire_put_u64(&w, x);
    wire_put_var(&w, action, n);
    if (!x_first) {
        wire_put_u64(&w, x);
        wire_put_u64(&w, y);
    }
    ck_assert_int_eq(w.err, 0);
    crypto_generichash(out, 32, buf, w.len, NULL, 0);
}

START_TEST(test_attest_sign_verify)
{
    uint8_t pk[32], sk[64], pk2[32], sk2[64], seed[32], h[32], want[32];
    gov_action_t a;
    gov_sig_t s, t;
    size_t n = 0;

    ck_assert_int_ge(sodium_init(), 0);
    memset(seed, 1, sizeof seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    memset(seed, 2, sizeof seed);
    crypto_sign_seed_keypair(pk2, sk2, seed);
    sample_action(&a, GOV_ACTION_PARAM, false);
    ck_assert_int_eq(gov_action_encode(&a, act_buf, sizeof act_buf, &n), 0);

    gov_attest_hash("alpha", act_buf, n, 7, 100, h);
    spec_hash("adnet/gov/attest/v1", "alpha", act_buf, n, 7, 100, false, want);
    ck_assert_mem_eq(h, want, 32);

    gov_attest_sign("alpha", act_buf, n, 7, 100, pk, sk, &s);
    ck_assert_mem_eq(s.key, pk, 32);
    /* Ed25519 over the 32-byte digest. */
    ck_assert_int_eq(crypto_sign_verify_detached(s.sig, h, 32, pk), 0);
    ck_assert_int_eq(gov_attest_verify("alpha", act_buf, n, 7, 100, &s), 0);
    ck_assert_int_eq(gov_attest_verify("delta", act_buf, n, 7, 100, &s), -EBADMSG);
    ck_assert_int_eq(gov_attest_verify("alph", act_buf, n, 7, 100, &s), -EBADMSG);
    ck_assert_int_eq(gov_attest_verify("alpha", act_buf, n - 1, 7, 100, &s), -EBADMSG);
    ck_assert_int_eq(gov_attest_verify("alpha", act_buf, n, 8, 100, &s), -EBADMSG);
    ck_assert_int_eq(gov_attest_verify("alpha", act_buf, n, 7, 101, &s), -EBADMSG);
    act_buf[n - 1] ^= 1;
    ck_assert_int_eq(gov_attest_verify("alpha", act_buf, n, 7, 100, &s), -EBADMSG);
    act_buf[n - 1] ^= 1;
    t = s;
    memcpy(t.key, pk2, 32);
    ck_assert_int_eq(gov_attest_verify("alpha", act_buf, n, 7, 100, &t), -EBADMSG);
    t = s;
    t.sig[10] ^= 0x40;
    ck_assert_int_eq(gov_attest_verify("alpha", act_buf, n, 7, 100, &t), -EBADMSG);
    /* Another governor's signature of the same thing verifies under its key. */
    gov_attest_sign("alpha", act_buf, n, 7, 100, pk2, sk2, &t);
    ck_assert_mem_ne(t.sig, s.sig, 64);
    ck_assert_int_eq(gov_attest_verify("alpha", act_buf, n, 7, 100, &t), 0);
}
END_TEST

START_TEST(test_proposal_id)
{
    uint8_t id[GOV_ID_LEN], other[GOV_ID_LEN], want[32];
    gov_action_t a;
    size_t n = 0;

    sample_action(&a, GOV_ACTION_GOVERNORS, false);
    ck_assert_int_eq(gov_action_encode(&a, act_buf, sizeof act_buf, &n), 0);
    gov_proposal_id("alpha", 9, act_buf, n, id);
    spec_hash("adnet/gov/proposal/v1", "alpha", act_buf, n, 9, 0, true, want);
    ck_assert_mem_eq(id, want, GOV_ID_LEN);
    gov_proposal_id("alpha", 9, act_buf, n, other);
    ck_assert_mem_eq(id, other, GOV_ID_LEN);
    gov_proposal_id("alpha", 10, act_buf, n, other);
    ck_assert_mem_ne(id, other, GOV_ID_LEN);
    gov_proposal_id("delta", 9, act_buf, n, other);
    ck_assert_mem_ne(id, other, GOV_ID_LEN);
    act_buf[n - 1] ^= 1;
    gov_proposal_id("alpha", 9, act_buf, n, other);
    ck_assert_mem_ne(id, other, GOV_ID_LEN);
    /* Not the attestation digest of the same fields: the tags differ. */
    gov_attest_hash("alpha", act_buf, n, 9, 0, other);
    ck_assert_mem_ne(id, other, GOV_ID_LEN);
}
END_TEST

/* ---- payloads ---- */

static gov_payload_t pl, dpl, sentinel_pl;

static const uint16_t GOV_KINDS[] = {GOV_KIND_PROPOSE, GOV_KIND_ATTEST, GOV_KIND_VOTE,
                                     GOV_KIND_APPLY};

/* A valid payload of kind; big: a deploy of the largest program, an
 * attestation of every governor, an abstention. */
static void sample_payload(gov_payload_t *p, uint16_t kind, bool big)
{
    gov_action_t a;

    memset(p, 0, sizeof *p);
    p->kind = kind;
    switch (kind) {
    case GOV_KIND_PROPOSE:
        p->nonce = big ? UINT64_MAX : 1;
        sample_action(&a, big ? GOV_ACTION_DEPLOY : GOV_ACTION_PARAM, big);
        ck_assert_int_eq(gov_action_encode(&a, act_buf, sizeof act_buf, &p->action_len), 0);
        p->action = act_buf;
        break;
    case GOV_KIND_ATTEST:
        memset(p->id, 0x77, sizeof p->id);
        sample_attestation(&p->attestation, big ? GOV_MAX_GOVERNORS : 1);
        break;
    case GOV_KIND_VOTE:
        memset(p->id, 0x78, sizeof p->id);
        p->choice = big ? GOV_ABSTAIN : GOV_YES;
        break;
    default:
        memset(p->id, 0x79, sizeof p->id);
    }
}

static size_t spec_payload(const gov_payload_t *p, uint8_t *buf, size_t cap)
{
    wire_writer_t w;

    wire_writer_init(&w, buf, cap);
    if (p->kind == GOV_KIND_PROPOSE) {
        wire_put_u64(&w, p->nonce);
        wire_put_var(&w, p->action, p->action_len);
    } else {
        wire_put_bytes(&w, p->id, GOV_ID_LEN);
    }
    if (p->kind == GOV_KIND_ATTEST)
        spec_put_attestation(&w, &p->attestation);
    if (p->kind == GOV_KIND_VOTE)
        wire_put_u8(&w, p->choice);
    ck_assert_int_eq(w.err, 0);
    return w.len;
}

static void payload_eq(const gov_payload_t *a, const gov_payload_t *b)
{
    ck_assert_uint_eq(a->kind, b->kind);
    switch (a->kind) {
    case GOV_KIND_PROPOSE:
        ck_assert_uint_eq(a->nonce, b->nonce);
        ck_assert_uint_eq(a->action_len, b->action_len);
        ck_assert_mem_eq(a->action, b->action, a->action_len);
        break;
    case GOV_KIND_ATTEST:
        ck_assert_mem_eq(a->id, b->id, GOV_ID_LEN);
        attestation_eq(&a->attestation, &b->attestation);
        break;
    case GOV_KIND_VOTE:
        ck_assert_mem_eq(a->id, b->id, GOV_ID_LEN);
        ck_assert_uint_eq(a->choice, b->choice);
        break;
    default:
        ck_assert_mem_eq(a->id, b->id, GOV_ID_LEN);
    }
}

static void payload_refused(uint16_t kind, const uint8_t *buf, size_t len, int rc,
                            const char *want_what)
{
    const char *what = NULL;

    memset(&sentinel_pl, 0x5a, sizeof sentinel_pl);
    memcpy(&dpl, &sentinel_pl, sizeof dpl);
    ck_assert_int_eq(gov_payload_decode(&dpl, kind, buf, len, &what), rc);
    ck_assert_ptr_nonnull(what);
    if (want_what != NULL)
        ck_assert_str_eq(what, want_what);
    ck_assert_mem_eq(&dpl, &sentinel_pl, sizeof dpl);
}

START_TEST(test_payload_round_trip)
{
    for (size_t k = 0; k < 4; k++) {
        for (int big = 0; big <= 1; big++) {
            size_t len = 0, len2 = 0;
            const char *what = NULL;

            sample_payload(&pl, GOV_KINDS[k], big);
            ck_assert_int_eq(gov_payload_encode(&pl, enc, sizeof enc, &len), 0);
            bytes_eq(enc, len, ref, spec_payload(&pl, ref, sizeof ref));
            memset(&dpl, 0x5a, sizeof dpl);
            ck_assert_msg(gov_payload_decode(&dpl, GOV_KINDS[k], enc, len, &what) == 0,
                          "kind %x: %s", GOV_KINDS[k], what);
            payload_eq(&pl, &dpl);
            if (GOV_KINDS[k] == GOV_KIND_PROPOSE)
                ck_assert_ptr_eq(dpl.action, enc + 12);
            ck_assert_int_eq(gov_payload_encode(&dpl, again, sizeof again, &len2), 0);
            bytes_eq(enc, len, again, len2);
            for (size_t cap = 0; cap < len; cap += 1 + cap / 2)
                ck_assert_int_eq(gov_payload_encode(&pl, again, cap, &len2), -ENOBUFS);
        }
    }
}
END_TEST

START_TEST(test_payload_bytes)
{
    size_t len = 0;

    sample_payload(&pl, GOV_KIND_VOTE, false);
    pl.choice = GOV_NO;
    ck_assert_int_eq(gov_payload_encode(&pl, enc, sizeof enc, &len), 0);
    ck_assert_uint_eq(len, GOV_ID_LEN + 1);
    ck_assert_mem_eq(enc, pl.id, GOV_ID_LEN);
    ck_assert_uint_eq(enc[GOV_ID_LEN], GOV_NO);

    sample_payload(&pl, GOV_KIND_APPLY, false);
    ck_assert_int_eq(gov_payload_encode(&pl, enc, sizeof enc, &len), 0);
    bytes_eq(enc, len, pl.id, GOV_ID_LEN);

    sample_payload(&pl, GOV_KIND_PROPOSE, false);
    pl.nonce = 0x0a0b;
    ck_assert_int_eq(gov_payload_encode(&pl, enc, sizeof enc, &len), 0);
    ck_assert_uint_eq(len, 8 + 4 + pl.action_len);
    const uint8_t head[] = {0, 0, 0, 0, 0, 0, 0x0a, 0x0b, 0, 0, 0, (uint8_t)pl.action_len};
    ck_assert_mem_eq(enc, head, sizeof head);
    ck_assert_mem_eq(enc + 12, pl.action, pl.action_len);
}
END_TEST

/* pl breaks a rule: the encoder refuses it and its bytes do not decode. */
static void payload_bad(int line, int rc, const char *want_what)
{
    size_t len = 0, n = spec_payload(&pl, ref, sizeof ref);
    const char *what = NULL;

    ck_assert_msg(gov_payload_encode(&pl, enc, sizeof enc, &len) == -EINVAL,
                  "line %d: encoded", line);
    memset(&dpl, 0x5a, sizeof dpl);
    ck_assert_msg(gov_payload_decode(&dpl, pl.kind, ref, n, &what) == rc, "line %d: decoded",
                  line);
    ck_assert_msg(what != NULL && strcmp(what, want_what) == 0, "line %d: what %s, not %s",
                  line, what ? what : "NULL", want_what);
    payload_refused(pl.kind, ref, n, rc, want_what);
}

START_TEST(test_payload_refusals)
{
    static const uint16_t not_gov[] = {0, 1, 0x00ff, GOV_KIND_PROPOSE - 1, GOV_KIND_APPLY + 1,
                                       0xffff};
    gov_action_t a;
    size_t len = 0;

    sample_payload(&pl, GOV_KIND_VOTE, false);
    ck_assert_int_eq(gov_payload_encode(&pl, enc, sizeof enc, &len), 0);
    for (size_t i = 0; i < sizeof not_gov / sizeof not_gov[0]; i++) {
        payload_refused(not_gov[i], enc, len, -ENOTSUP, "kind");
        pl.kind = not_gov[i];
        ck_assert_int_eq(gov_payload_encode(&pl, again, sizeof again, &len), -EINVAL);
    }

    sample_payload(&pl, GOV_KIND_VOTE, false);
    pl.choice = 0;
    payload_bad(__LINE__, -EBADMSG, "choice");
    pl.choice = GOV_ABSTAIN + 1;
    payload_bad(__LINE__, -EBADMSG, "choice");

    /* The embedded action is decoded, and its refusals pass through. */
    sample_payload(&pl, GOV_KIND_PROPOSE, false);
    sample_action(&a, GOV_ACTION_PARAM, false);
    a.kind = 0x7f;
    pl.action_len = spec_action(&a, GOV_ACTION_VERSION, act_buf, sizeof act_buf);
    payload_bad(__LINE__, -ENOTSUP, "kind");
    a.kind = GOV_ACTION_PARAM;
    pl.action_len = spec_action(&a, GOV_ACTION_VERSION + 1, act_buf, sizeof act_buf);
    payload_bad(__LINE__, -EPROTONOSUPPORT, "version");
    strcpy(a.u.param.key, "Quorum");
    pl.action_len = spec_action(&a, GOV_ACTION_VERSION, act_buf, sizeof act_buf);
    payload_bad(__LINE__, -EBADMSG, "key");
    pl.action_len = 0;
    payload_bad(__LINE__, -EMSGSIZE, "version");
    pl.action_len = GOV_ACTION_MAX + 1;
    payload_bad(__LINE__, -EBADMSG, "action");

    sample_payload(&pl, GOV_KIND_ATTEST, false);
    pl.attestation.n = 0;
    payload_bad(__LINE__, -EBADMSG, "n");
    sample_payload(&pl, GOV_KIND_ATTEST, true);
    memcpy(pl.attestation.sigs[7].key, pl.attestation.sigs[6].key, 32);
    payload_bad(__LINE__, -EBADMSG, "ascending keys");

    for (size_t k = 0; k < 4; k++) {
        sample_payload(&pl, GOV_KINDS[k], false);
        if (GOV_KINDS[k] == GOV_KIND_ATTEST)
            sample_attestation(&pl.attestation, 3);
        ck_assert_int_eq(gov_payload_encode(&pl, enc, sizeof enc, &len), 0);
        for (size_t cut = 0; cut < len; cut++)
            payload_refused(GOV_KINDS[k], enc, cut, -EMSGSIZE, NULL);
        enc[len] = 0;
        payload_refused(GOV_KINDS[k], enc, len + 1, -EBADMSG, "trailing bytes");
    }
}
END_TEST

/* ---- names ---- */

START_TEST(test_names)
{
    static const char *const types[] = {NULL,   "bool", "u8",    "u16",   "u32",    "u64",
                                        "u128", "i8",   "i16",   "i32",   "i64",    "i128",
                                        "field", "group", "scalar", "address", "signature"};
    char s[GOV_NAME_MAX + 2];

    ck_assert_uint_eq(sizeof types / sizeof types[0], GOV_T_LAST + 1);
    for (unsigned t = 1; t <= GOV_T_LAST; t++) {
        ck_assert_str_eq(gov_type_name((uint8_t)t), types[t]);
        ck_assert_uint_eq(gov_type_parse(types[t]), t);
    }
    ck_assert_ptr_null(gov_type_name(0));
    ck_assert_ptr_null(gov_type_name(GOV_T_LAST + 1));
    ck_assert_ptr_null(gov_type_name(0xff));
    ck_assert_uint_eq(gov_type_parse("U64"), 0);
    ck_assert_uint_eq(gov_type_parse("u6"), 0);
    ck_assert_uint_eq(gov_type_parse(""), 0);
    ck_assert_uint_eq(gov_type_parse(NULL), 0);

    uint8_t p = 99;
    ck_assert_str_eq(gov_policy_name(GOV_POLICY_IMMUTABLE), "immutable");
    ck_assert_str_eq(gov_policy_name(GOV_POLICY_ADDITIVE), "additive");
    ck_assert_str_eq(gov_policy_name(GOV_POLICY_COMPATIBLE), "compatible");
    ck_assert_ptr_null(gov_policy_name(3));
    ck_assert_int_eq(gov_policy_parse("additive", &p), 0);
    ck_assert_uint_eq(p, GOV_POLICY_ADDITIVE);
    ck_assert_int_eq(gov_policy_parse("compatible", &p), 0);
    ck_assert_uint_eq(p, GOV_POLICY_COMPATIBLE);
    ck_assert_int_eq(gov_policy_parse("immutable", &p), 0);
    ck_assert_uint_eq(p, GOV_POLICY_IMMUTABLE);
    p = 99;
    ck_assert_int_eq(gov_policy_parse("Immutable", &p), -EINVAL);
    ck_assert_int_eq(gov_policy_parse("", &p), -EINVAL);
    ck_assert_int_eq(gov_policy_parse(NULL, &p), -EINVAL);
    ck_assert_uint_eq(p, 99);

    ck_assert_str_eq(gov_action_name(GOV_ACTION_DEPLOY), "deploy");
    ck_assert_str_eq(gov_action_name(GOV_ACTION_PARAM), "param");
    ck_assert_str_eq(gov_action_name(GOV_ACTION_GOVERNORS), "governors");
    ck_assert_ptr_null(gov_action_name(0));
    ck_assert_ptr_null(gov_action_name(4));
    ck_assert_str_eq(gov_choice_name(GOV_YES), "yes");
    ck_assert_str_eq(gov_choice_name(GOV_NO), "no");
    ck_assert_str_eq(gov_choice_name(GOV_ABSTAIN), "abstain");
    ck_assert_ptr_null(gov_choice_name(0));
    ck_assert_ptr_null(gov_choice_name(4));

    ck_assert_str_eq(gov_kind_name(GOV_KIND_PROPOSE), "gov_propose");
    ck_assert_str_eq(gov_kind_name(GOV_KIND_ATTEST), "gov_attest");
    ck_assert_str_eq(gov_kind_name(GOV_KIND_VOTE), "gov_vote");
    ck_assert_str_eq(gov_kind_name(GOV_KIND_APPLY), "gov_apply");
    ck_assert_ptr_null(gov_kind_name(0));
    ck_assert_ptr_null(gov_kind_name(GOV_KIND_APPLY + 1));
    for (unsigned k = 0; k <= 0xffff; k++)
        ck_assert(gov_kind_is_gov((uint16_t)k) == (k >= GOV_KIND_PROPOSE && k <= GOV_KIND_APPLY));

    ck_assert(gov_name_is_valid("a"));
    ck_assert(gov_name_is_valid("hello_world2"));
    ck_assert(gov_name_is_valid("z9_"));
    fill_str(s, GOV_NAME_MAX, 'n');
    ck_assert(gov_name_is_valid(s));
    fill_str(s, GOV_NAME_MAX + 1, 'n');
    ck_assert(!gov_name_is_valid(s));
    ck_assert(!gov_name_is_valid(""));
    ck_assert(!gov_name_is_valid(NULL));
    ck_assert(!gov_name_is_valid("1abc"));
    ck_assert(!gov_name_is_valid("_abc"));
    ck_assert(!gov_name_is_valid("Abc"));
    ck_assert(!gov_name_is_valid("abC"));
    ck_assert(!gov_name_is_valid("a-b"));
    ck_assert(!gov_name_is_valid("a b"));
    ck_assert(!gov_name_is_valid("a.b"));
    ck_assert(!gov_name_is_valid("caf\xc3\xa9"));
    /* A fixed buffer missing its NUL is read no further than the limit. */
    {
        char unterminated[GOV_NAME_MAX + 1];
        memset(unterminated, 'a', sizeof unterminated);
        ck_assert(!gov_name_is_valid(unterminated));
    }
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "govproto", .tcase = "codec"};
    return suite_build(&spec,
                       SUITE_TESTS(test_program_round_trip, test_program_bytes,
                                   test_program_short_buffer, test_program_refusals,
                                   test_program_order_is_bytewise,
                                   test_program_version_trailing_truncation,
                                   test_program_nul_in_name, test_action_round_trip,
                                   test_action_bytes, test_action_refusals,
                                   test_action_truncation, test_attestation_round_trip,
                                   test_attestation_sort, test_attestation_refusals,
                                   test_attest_sign_verify, test_proposal_id,
                                   test_payload_round_trip, test_payload_bytes,
                                   test_payload_refusals, test_names));
}
