/* common/node/gov/program.c: program files, checksums, program ids, the
 * upgrade policies, and the built-in programs. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/base/hex.h"
#include "common/node/gov/program.h"
#include "proto/gov.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

/* The example of the issue and docs/governance.md. */
static const char HELLO[] =
    "{\"name\":\"hello\",\"interface\":{\"functions\":{\"greet\":{\"inputs\":[\"u64\"],"
    "\"outputs\":[\"u64\"]}},\"records\":{}},\"code\":\"00\"}";

/* Every kind of entry, for the round trip and the policies. */
static const char FULL[] =
    "{\"name\":\"hello\",\"interface\":{"
    "\"functions\":{\"greet\":{\"inputs\":[\"u64\",\"address\"],\"outputs\":[\"bool\"]},"
    "\"wave\":{\"inputs\":[],\"outputs\":[]}},"
    "\"records\":{\"token\":{\"owner\":\"address\",\"amount\":\"u64\",\"memo\":\"field\"}},"
    "\"mappings\":{\"balances\":{\"key\":\"address\",\"value\":\"u64\"}}},"
    "\"code\":\"00ff\"}";

/* 40 KiB each: too big for a comfortable stack. */
static gov_program_t P, Q;
static uint8_t CODE_P[GOV_CODE_MAX], CODE_Q[GOV_CODE_MAX];
static char err[GOV_PROGRAM_ERR_MAX];

static int parse(const char *text, gov_program_t *p, uint8_t *code)
{
    err[0] = '\0';
    return gov_program_from_text(text, strlen(text), p, code, err, sizeof err);
}

static void parse_ok(const char *text, gov_program_t *p, uint8_t *code)
{
    int r = parse(text, p, code);
    ck_assert_msg(r == 0, "%s: %s", text, err);
}

/* The checksum of text's program, through the real encoder. */
static void checksum_of(const char *text, uint8_t out[32])
{
    static gov_program_t p;
    static uint8_t code[GOV_CODE_MAX], bytes[GOV_PROGRAM_MAX];
    size_t len = 0;
    parse_ok(text, &p, code);
    ck_assert_int_eq(gov_program_encode(&p, bytes, sizeof bytes, &len), 0);
    gov_program_checksum(bytes, len, out);
}

START_TEST(test_example_parses)
{
    uint8_t bytes[GOV_PROGRAM_MAX], ck[32], direct[32];
    size_t len = 0;
    parse_ok(HELLO, &P, CODE_P);
    ck_assert_str_eq(P.name, "hello");
    ck_assert_int_eq(P.n_functions, 1);
    ck_assert_str_eq(P.functions[0].name, "greet");
    ck_assert_int_eq(P.functions[0].n_in, 1);
    ck_assert_int_eq(P.functions[0].in[0], GOV_T_U64);
    ck_assert_int_eq(P.functions[0].n_out, 1);
    ck_assert_int_eq(P.functions[0].out[0], GOV_T_U64);
    ck_assert_int_eq(P.n_records, 0);
    ck_assert_int_eq(P.n_mappings, 0);
    ck_assert_uint_eq(P.code_len, 1);
    ck_assert_ptr_eq(P.code, CODE_P);
    ck_assert_int_eq(CODE_P[0], 0);

    ck_assert_int_eq(gov_program_encode(&P, bytes, sizeof bytes, &len), 0);
    gov_program_checksum(bytes, len, ck);
    crypto_generichash(direct, 32, bytes, len, NULL, 0);
    ck_assert_mem_eq(ck, direct, 32);

    /* Other spacing, other key order, upper-case hex, records left out:
     * the same program, the same checksum. */
    uint8_t other[32];
    checksum_of("{ \"code\" : \"00\",\n  \"interface\": {\"functions\": {\"greet\": "
                "{\"outputs\": [\"u64\"], \"inputs\": [ \"u64\" ]}}},\n  \"name\": \"hello\" }\n",
                other);
    ck_assert_mem_eq(ck, other, 32);
    /* A different input type is a different program. */
    checksum_of("{\"name\":\"hello\",\"interface\":{\"functions\":{\"greet\":"
                "{\"inputs\":[\"u128\"],\"outputs\":[\"u64\"]}}},\"code\":\"00\"}",
                other);
    ck_assert_mem_ne(ck, other, 32);
}
END_TEST

/* Functions, records and mappings are sorted by name; a record's fields
 * are sorted too: the order the file gives means nothing. */
START_TEST(test_canonical_order)
{
    uint8_t a[32], b[32];
    parse_ok("{\"name\":\"p\",\"interface\":{\"functions\":{\"zeta\":{\"inputs\":[],"
             "\"outputs\":[]},\"alpha\":{\"inputs\":[\"bool\"],\"outputs\":[]},\"mid\":"
             "{\"inputs\":[],\"outputs\":[]}},\"records\":{\"r2\":{\"b\":\"u8\",\"a\":\"u64\"},"
             "\"r1\":{}},"
             "\"mappings\":{\"m2\":{\"key\":\"u8\",\"value\":\"u8\"},\"m1\":{\"key\":\"u16\","
             "\"value\":\"u16\"}}},\"code\":\"\"}",
             &P, CODE_P);
    ck_assert_str_eq(P.functions[0].name, "alpha");
    ck_assert_str_eq(P.functions[1].name, "mid");
    ck_assert_str_eq(P.functions[2].name, "zeta");
    ck_assert_int_eq(P.functions[0].in[0], GOV_T_BOOL);
    ck_assert_str_eq(P.records[0].name, "r1");
    ck_assert_int_eq(P.records[0].n_fields, 0);
    ck_assert_str_eq(P.records[1].name, "r2");
    ck_assert_int_eq(P.records[1].n_fields, 2);
    ck_assert_str_eq(P.records[1].fields[0].name, "a");
    ck_assert_int_eq(P.records[1].fields[0].type, GOV_T_U64);
    ck_assert_str_eq(P.records[1].fields[1].name, "b");
    ck_assert_str_eq(P.mappings[0].name, "m1");
    ck_assert_int_eq(P.mappings[0].key, GOV_T_U16);
    ck_assert_str_eq(P.mappings[1].name, "m2");
    ck_assert_uint_eq(P.code_len, 0);

    checksum_of("{\"name\":\"p\",\"interface\":{\"functions\":{},\"records\":{\"r\":{\"b\":\"u8\","
                "\"a\":\"u64\"}}},\"code\":\"\"}",
                a);
    checksum_of("{\"name\":\"p\",\"interface\":{\"functions\":{},\"records\":{\"r\":{\"a\":\"u64\","
                "\"b\":\"u8\"}}},\"code\":\"\"}",
                b);
    ck_assert_mem_eq(a, b, 32); /* field order in the file means nothing */
}
END_TEST

START_TEST(test_to_json_round_trip)
{
    uint8_t b1[GOV_PROGRAM_MAX], b2[GOV_PROGRAM_MAX];
    size_t n1 = 0, n2 = 0;
    parse_ok(FULL, &P, CODE_P);
    json_t *o = gov_program_to_json(&P);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(json_string_value(json_object_get(o, "name")), "hello");
    ck_assert_str_eq(json_string_value(json_object_get(o, "code")), "00ff");
    json_t *token = json_object_get(json_object_get(json_object_get(o, "interface"), "records"),
                                    "token");
    /* The record's fields come out sorted by name. */
    static const char *const order[] = {"amount", "memo", "owner"};
    size_t i = 0;
    for (void *it = json_object_iter(token); it; it = json_object_iter_next(token, it), i++) {
        ck_assert_uint_lt(i, 3);
        ck_assert_str_eq(json_object_iter_key(it), order[i]);
    }
    ck_assert_uint_eq(i, 3);
    json_t *greet = json_object_get(json_object_get(json_object_get(o, "interface"), "functions"),
                                    "greet");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(greet, "inputs"), 1)),
                     "address");

    /* Parsed again (as an object and as text), the same bytes. */
    ck_assert_int_eq(gov_program_from_json(o, &Q, CODE_Q, err, sizeof err), 0);
    ck_assert_int_eq(gov_program_encode(&P, b1, sizeof b1, &n1), 0);
    ck_assert_int_eq(gov_program_encode(&Q, b2, sizeof b2, &n2), 0);
    ck_assert_uint_eq(n1, n2);
    ck_assert_mem_eq(b1, b2, n1);
    char *text = json_dumps(o, JSON_COMPACT);
    ck_assert_ptr_nonnull(text);
    parse_ok(text, &Q, CODE_Q);
    ck_assert_int_eq(gov_program_encode(&Q, b2, sizeof b2, &n2), 0);
    ck_assert_uint_eq(n1, n2);
    ck_assert_mem_eq(b1, b2, n1);
    free(text);
    json_decref(o);

    /* A program without records or mappings round-trips too. */
    parse_ok(HELLO, &P, CODE_P);
    o = gov_program_to_json(&P);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(gov_program_from_json(o, &Q, CODE_Q, err, sizeof err), 0);
    ck_assert_int_eq(gov_program_encode(&P, b1, sizeof b1, &n1), 0);
    ck_assert_int_eq(gov_program_encode(&Q, b2, sizeof b2, &n2), 0);
    ck_assert_mem_eq(b1, b2, n1);
    json_decref(o);
}
END_TEST

#define TYPES "bool, u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, field, group, scalar, " \
              "address, signature"
#define NAME_RULE "expected 1..32 of [a-z0-9_] starting with a letter"

/* A file that must be refused with exactly this message. */
static void refused(const char *text, const char *want)
{
    memset(&P, 0xa5, sizeof P);
    memset(CODE_P, 0x5a, sizeof CODE_P);
    int r = parse(text, &P, CODE_P);
    ck_assert_msg(r == -EINVAL, "%s: accepted (%d)", text, r);
    ck_assert_msg(strcmp(err, want) == 0, "%s:\n got  %s\n want %s", text, err, want);
    /* Nothing is written on failure. */
    ck_assert_int_eq(((uint8_t *)&P)[0], 0xa5);
    ck_assert_int_eq(((uint8_t *)&P)[sizeof P - 1], 0xa5);
    ck_assert_int_eq(CODE_P[0], 0x5a);
}

START_TEST(test_refusals)
{
    refused("{\"name\":\"hello\",\"interface\":{\"functions\":{}},\"code\":\"00\","
            "\"policy\":\"additive\"}",
            "policy: unknown key; expected name, interface, code");
    refused("{\"name\":\"hello\",\"interface\":{\"functions\":{},\"events\":{}},\"code\":\"00\"}",
            "interface.events: unknown key; expected functions, records, mappings");
    refused("{\"name\":\"hello\",\"interface\":{\"functions\":{\"greet\":{\"inputs\":[],"
            "\"outputs\":[],\"doc\":\"hi\"}}},\"code\":\"00\"}",
            "interface.functions.greet.doc: unknown key; expected inputs, outputs");
    refused("{\"name\":\"hello\",\"interface\":{\"functions\":{},\"mappings\":{\"m\":{\"key\":"
            "\"u8\",\"value\":\"u8\",\"default\":\"u8\"}}},\"code\":\"00\"}",
            "interface.mappings.m.default: unknown key; expected key, value");
    refused("{\"name\":\"hello\",\"interface\":{\"functions\":{\"greet\":{\"inputs\":[\"u65\"],"
            "\"outputs\":[]}}},\"code\":\"00\"}",
            "interface.functions.greet.inputs[0]: unknown type \"u65\"; expected one of " TYPES);
    refused("{\"name\":\"hello\",\"interface\":{\"functions\":{\"greet\":{\"inputs\":[\"u8\"],"
            "\"outputs\":[\"u8\",7]}}},\"code\":\"00\"}",
            "interface.functions.greet.outputs[1]: expected a type name, one of " TYPES);
    refused("{\"name\":\"hello\",\"interface\":{\"functions\":{},\"records\":{\"token\":"
            "{\"owner\":\"address\",\"amount\":\"money\"}}},\"code\":\"00\"}",
            "interface.records.token.amount: unknown type \"money\"; expected one of " TYPES);
    refused("{\"name\":\"hello\",\"interface\":{\"functions\":{},\"mappings\":{\"m\":{\"key\":"
            "\"u8\",\"value\":\"string\"}}},\"code\":\"00\"}",
            "interface.mappings.m.value: unknown type \"string\"; expected one of " TYPES);
    refused("{\"name\":\"hello\",\"interface\":{\"functions\":{},\"mappings\":{\"m\":{\"key\":"
            "\"u8\"}}},\"code\":\"00\"}",
            "interface.mappings.m.value: missing; expected a type name");
    refused("{\"name\":\"hello\",\"interface\":{\"functions\":{\"greet\":{\"inputs\":[\"u8\"]}}},"
            "\"code\":\"00\"}",
            "interface.functions.greet.outputs: missing; expected an array of at most 16 types");
    refused("{\"name\":\"hello\",\"interface\":{\"functions\":{\"greet\":{\"inputs\":\"u8\","
            "\"outputs\":[]}}},\"code\":\"00\"}",
            "interface.functions.greet.inputs: expected an array of at most 16 types");
    refused("{\"name\":\"hello\",\"interface\":{\"functions\":{\"greet\":[]}},\"code\":\"00\"}",
            "interface.functions.greet: expected an object {\"inputs\": [types], \"outputs\": "
            "[types]}");

    /* Names: of the program, of a function, of a record field. */
    refused("{\"name\":\"Hello\",\"interface\":{\"functions\":{}},\"code\":\"00\"}",
            "name: " NAME_RULE);
    refused("{\"name\":\"1hello\",\"interface\":{\"functions\":{}},\"code\":\"00\"}",
            "name: " NAME_RULE);
    refused("{\"name\":\"\",\"interface\":{\"functions\":{}},\"code\":\"00\"}", "name: " NAME_RULE);
    refused("{\"name\":\"abcdefghijklmnopqrstuvwxyz0123456\",\"interface\":{\"functions\":{}},"
            "\"code\":\"00\"}",
            "name: " NAME_RULE);
    refused("{\"name\":7,\"interface\":{\"functions\":{}},\"code\":\"00\"}", "name: " NAME_RULE);
    refused("{\"name\":\"hello\",\"interface\":{\"functions\":{\"Greet\":{\"inputs\":[],"
            "\"outputs\":[]}}},\"code\":\"00\"}",
            "interface.functions.Greet: " NAME_RULE);
    refused("{\"name\":\"hello\",\"interface\":{\"functions\":{},\"records\":{\"t\":"
            "{\"an owner\":\"address\"}}},\"code\":\"00\"}",
            "interface.records.t.an owner: " NAME_RULE);
    /* A bad key is repeated printable and cut short, whatever it holds. */
    refused("{\"name\":\"hello\",\"interface\":{\"functions\":{\"a\\nb\\u00e9"
            "0123456789012345678901234567890123456789\":{}}},\"code\":\"00\"}",
            "interface.functions.a?b??01234567890123456789012345678901234...: " NAME_RULE);

    /* Missing parts. */
    refused("{\"name\":\"hello\",\"interface\":{\"records\":{}},\"code\":\"00\"}",
            "interface.functions: missing; expected an object of functions by name (it may be {})");
    refused("{\"interface\":{\"functions\":{}},\"code\":\"00\"}", "name: missing; " NAME_RULE);
    refused("{\"name\":\"hello\",\"code\":\"00\"}",
            "interface: missing; expected an object with functions");
    refused("{\"name\":\"hello\",\"interface\":{\"functions\":{}}}",
            "code: missing; expected a string of hex digits (it may be \"\")");
    refused("[1]", "program file: expected a JSON object with name, interface, code");

    /* Code. */
    refused("{\"name\":\"hello\",\"interface\":{\"functions\":{}},\"code\":\"abc\"}",
            "code: expected an even number of hex digits, got 3");
    refused("{\"name\":\"hello\",\"interface\":{\"functions\":{}},\"code\":\"0g\"}",
            "code: expected hex digits only (0-9, a-f, A-F)");
    refused("{\"name\":\"hello\",\"interface\":{\"functions\":{}},\"code\":0}",
            "code: expected a string of hex digits");

    /* JSON itself. */
    refused("{\"name\":\"hello\",", "line 1 column 16: string or '}' expected near end of file");
    refused("{\"name\":\"hello\",\"name\":\"again\",\"interface\":{\"functions\":{}},"
            "\"code\":\"\"}",
            "line 1 column 22: duplicate object key near '\"name\"'");
}
END_TEST

/* A program with n_fn functions of n_in u8 inputs (named f00, f01, ...)
 * and code_len bytes of code, as a json_t. */
static json_t *sized(size_t n_fn, size_t n_in, size_t code_len)
{
    json_t *fns = json_object();
    for (size_t i = 0; i < n_fn; i++) {
        char name[GOV_NAME_MAX + 1];
        json_t *in = json_array();
        for (size_t k = 0; k < n_in; k++)
            json_array_append_new(in, json_string("u8"));
        /* Long names, so that the size limit can be reached. */
        snprintf(name, sizeof name, "f%02u_%s", (unsigned)(i % 100), "abcdefghijklmnopqrstuvwxyz");
        json_object_set_new(fns, name, json_pack("{s:o,s:[]}", "inputs", in, "outputs"));
    }
    char *hex = calloc(1, 2 * code_len + 1);
    memset(hex, 'a', 2 * code_len);
    json_t *o = json_pack("{s:s,s:{s:o},s:s}", "name", "big", "interface", "functions", fns,
                          "code", hex);
    free(hex);
    ck_assert_ptr_nonnull(o);
    return o;
}

static int from_json(const json_t *o)
{
    err[0] = '\0';
    return gov_program_from_json(o, &P, CODE_P, err, sizeof err);
}

START_TEST(test_limits)
{
    json_t *o;
    /* At each limit: accepted. */
    o = sized(1, GOV_MAX_IO, GOV_CODE_MAX);
    ck_assert_msg(from_json(o) == 0, "%s", err);
    ck_assert_int_eq(P.functions[0].n_in, GOV_MAX_IO);
    ck_assert_uint_eq(P.code_len, GOV_CODE_MAX);
    ck_assert_int_eq(CODE_P[GOV_CODE_MAX - 1], 0xaa);
    json_decref(o);
    o = sized(GOV_MAX_FUNCTIONS, 0, 0);
    ck_assert_msg(from_json(o) == 0, "%s", err);
    ck_assert_int_eq(P.n_functions, GOV_MAX_FUNCTIONS);
    json_decref(o);

    /* One past: refused, naming the place. */
    o = sized(1, GOV_MAX_IO + 1, 0);
    ck_assert_int_eq(from_json(o), -EINVAL);
    ck_assert_str_eq(err, "interface.functions.f00_abcdefghijklmnopqrstuvwxyz.inputs: expected at "
                          "most 16 types, got 17");
    json_decref(o);
    o = sized(GOV_MAX_FUNCTIONS + 1, 0, 0);
    ck_assert_int_eq(from_json(o), -EINVAL);
    ck_assert_str_eq(err, "interface.functions: expected at most 64 functions, got 65");
    json_decref(o);
    o = sized(0, 0, GOV_CODE_MAX + 1);
    ck_assert_int_eq(from_json(o), -EINVAL);
    ck_assert_str_eq(err, "code: expected at most 4096 bytes (8192 hex digits), got 4097 bytes");
    json_decref(o);

    /* Within every count, but too big once encoded for an action. */
    o = sized(GOV_MAX_FUNCTIONS, GOV_MAX_IO, GOV_CODE_MAX);
    ck_assert_int_eq(from_json(o), -EINVAL);
    ck_assert_str_eq(err, "program file: expected at most 6144 bytes once encoded (names, types "
                          "and code together)");
    json_decref(o);

    /* Too many fields in one record. */
    json_t *rec = json_object();
    for (int i = 0; i <= GOV_MAX_FIELDS; i++) {
        char name[8];
        snprintf(name, sizeof name, "f%d", i);
        json_object_set_new(rec, name, json_string("u8"));
    }
    o = json_pack("{s:s,s:{s:{},s:{s:o}},s:s}", "name", "big", "interface", "functions",
                  "records", "r", rec, "code", "");
    ck_assert_int_eq(from_json(o), -EINVAL);
    ck_assert_str_eq(err, "interface.records.r: expected at most 32 fields, got 33");
    json_decref(o);

    /* A NUL inside a name, possible in a json_t built in memory. */
    o = json_pack("{s:s#,s:{s:{}},s:s}", "name", "he\0llo", (size_t)6, "interface", "functions",
                  "code", "");
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(from_json(o), -EINVAL);
    ck_assert_str_eq(err, "name: " NAME_RULE);
    json_decref(o);
}
END_TEST

/* Policy fixtures: FULL as the registered edition, and its updates. */
static const char ADDED[] =
    "{\"name\":\"hello\",\"interface\":{"
    "\"functions\":{\"greet\":{\"inputs\":[\"u64\",\"address\"],\"outputs\":[\"bool\"]},"
    "\"wave\":{\"inputs\":[],\"outputs\":[]},\"bye\":{\"inputs\":[],\"outputs\":[]}},"
    "\"records\":{\"token\":{\"owner\":\"address\",\"amount\":\"u64\",\"memo\":\"field\"},"
    "\"badge\":{\"id\":\"u32\"}},"
    "\"mappings\":{\"balances\":{\"key\":\"address\",\"value\":\"u64\"},"
    "\"names\":{\"key\":\"field\",\"value\":\"address\"}}},"
    "\"code\":\"00ff\"}";
static const char CHANGED_FN[] =
    "{\"name\":\"hello\",\"interface\":{"
    "\"functions\":{\"greet\":{\"inputs\":[\"u128\",\"address\"],\"outputs\":[\"bool\"]},"
    "\"wave\":{\"inputs\":[],\"outputs\":[]}},"
    "\"records\":{\"token\":{\"owner\":\"address\",\"amount\":\"u64\",\"memo\":\"field\"}},"
    "\"mappings\":{\"balances\":{\"key\":\"address\",\"value\":\"u64\"}}},"
    "\"code\":\"00ff\"}";
static const char REMOVED_RECORD[] =
    "{\"name\":\"hello\",\"interface\":{"
    "\"functions\":{\"greet\":{\"inputs\":[\"u64\",\"address\"],\"outputs\":[\"bool\"]},"
    "\"wave\":{\"inputs\":[],\"outputs\":[]}},"
    "\"mappings\":{\"balances\":{\"key\":\"address\",\"value\":\"u64\"}}},"
    "\"code\":\"00ff\"}";
static const char CODE_ONLY[] =
    "{\"name\":\"hello\",\"interface\":{"
    "\"functions\":{\"wave\":{\"inputs\":[],\"outputs\":[]},"
    "\"greet\":{\"inputs\":[\"u64\",\"address\"],\"outputs\":[\"bool\"]}},"
    "\"records\":{\"token\":{\"owner\":\"address\",\"amount\":\"u64\",\"memo\":\"field\"}},"
    "\"mappings\":{\"balances\":{\"key\":\"address\",\"value\":\"u64\"}}},"
    "\"code\":\"0102030405\"}";

/* Check next against FULL under policy: rc, and the sentence when refused. */
static void policy_is(const char *next, uint8_t policy, int want_rc, const char *want_why)
{
    char why[GOV_PROGRAM_ERR_MAX] = "untouched";
    parse_ok(FULL, &P, CODE_P);
    parse_ok(next, &Q, CODE_Q);
    int r = gov_policy_check(&P, &Q, policy, why, sizeof why);
    ck_assert_msg(r == want_rc, "%s under %s: %d (%s), want %d", next, gov_policy_name(policy),
                  r, why, want_rc);
    ck_assert_str_eq(why, want_why ? want_why : "untouched");
}

START_TEST(test_policy_immutable)
{
    const char *why = "immutable: program hello takes no update";
    policy_is(ADDED, GOV_POLICY_IMMUTABLE, -EPERM, why);
    policy_is(CHANGED_FN, GOV_POLICY_IMMUTABLE, -EPERM, why);
    policy_is(REMOVED_RECORD, GOV_POLICY_IMMUTABLE, -EPERM, why);
    policy_is(CODE_ONLY, GOV_POLICY_IMMUTABLE, -EPERM, why);
    policy_is(FULL, GOV_POLICY_IMMUTABLE, -EPERM, why);
}
END_TEST

START_TEST(test_policy_additive)
{
    policy_is(ADDED, GOV_POLICY_ADDITIVE, 0, NULL);
    policy_is(CODE_ONLY, GOV_POLICY_ADDITIVE, 0, NULL);
    policy_is(FULL, GOV_POLICY_ADDITIVE, 0, NULL);
    policy_is(CHANGED_FN, GOV_POLICY_ADDITIVE, -EPERM,
              "additive: function greet changed its inputs");
    policy_is(REMOVED_RECORD, GOV_POLICY_ADDITIVE, -EPERM, "additive: record token was removed");
    /* Each part of a signature counts. */
    policy_is("{\"name\":\"hello\",\"interface\":{\"functions\":{\"greet\":{\"inputs\":[\"u64\","
              "\"address\"],\"outputs\":[\"bool\",\"u8\"]},\"wave\":{\"inputs\":[],\"outputs\":"
              "[]}}},\"code\":\"\"}",
              GOV_POLICY_ADDITIVE, -EPERM, "additive: function greet changed its outputs");
    policy_is("{\"name\":\"hello\",\"interface\":{\"functions\":{\"greet\":{\"inputs\":[\"u64\","
              "\"address\"],\"outputs\":[\"bool\"]}}},\"code\":\"\"}",
              GOV_POLICY_ADDITIVE, -EPERM, "additive: function wave was removed");
    policy_is("{\"name\":\"hello\",\"interface\":{\"functions\":{\"greet\":{\"inputs\":[\"u64\","
              "\"address\"],\"outputs\":[\"bool\"]},\"wave\":{\"inputs\":[],\"outputs\":[]}},"
              "\"records\":{\"token\":{\"amount\":\"u64\",\"owner\":\"field\",\"memo\":"
              "\"field\"}},\"mappings\":{\"balances\":{\"key\":\"address\",\"value\":\"u64\"}}},"
              "\"code\":\"\"}",
              GOV_POLICY_ADDITIVE, -EPERM, "additive: record token changed its fields");
    policy_is("{\"name\":\"hello\",\"interface\":{\"functions\":{\"greet\":{\"inputs\":[\"u64\","
              "\"address\"],\"outputs\":[\"bool\"]},\"wave\":{\"inputs\":[],\"outputs\":[]}},"
              "\"records\":{\"token\":{\"owner\":\"address\",\"amount\":\"u64\",\"memo\":"
              "\"field\"}},\"mappings\":{\"balances\":{\"key\":\"address\",\"value\":\"u128\"}}},"
              "\"code\":\"\"}",
              GOV_POLICY_ADDITIVE, -EPERM, "additive: mapping balances changed its value type");
    policy_is("{\"name\":\"hello\",\"interface\":{\"functions\":{\"greet\":{\"inputs\":[\"u64\","
              "\"address\"],\"outputs\":[\"bool\"]},\"wave\":{\"inputs\":[],\"outputs\":[]}},"
              "\"records\":{\"token\":{\"owner\":\"address\",\"amount\":\"u64\",\"memo\":"
              "\"field\"}}},\"code\":\"\"}",
              GOV_POLICY_ADDITIVE, -EPERM, "additive: mapping balances was removed");
}
END_TEST

START_TEST(test_policy_compatible)
{
    policy_is(ADDED, GOV_POLICY_COMPATIBLE, 0, NULL);
    policy_is(CHANGED_FN, GOV_POLICY_COMPATIBLE, 0, NULL);
    policy_is(CODE_ONLY, GOV_POLICY_COMPATIBLE, 0, NULL);
    policy_is(REMOVED_RECORD, GOV_POLICY_COMPATIBLE, -EPERM,
              "compatible: record token was removed");
    /* Changing every signature at once is still compatible. */
    policy_is("{\"name\":\"hello\",\"interface\":{\"functions\":{\"greet\":{\"inputs\":[],"
              "\"outputs\":[]},\"wave\":{\"inputs\":[\"u8\"],\"outputs\":[\"u8\"]}},"
              "\"records\":{\"token\":{\"memo\":\"field\"}},\"mappings\":{\"balances\":{\"key\":"
              "\"field\",\"value\":\"field\"}}},\"code\":\"\"}",
              GOV_POLICY_COMPATIBLE, 0, NULL);
    policy_is("{\"name\":\"hello\",\"interface\":{\"functions\":{\"wave\":{\"inputs\":[],"
              "\"outputs\":[]}}},\"code\":\"\"}",
              GOV_POLICY_COMPATIBLE, -EPERM, "compatible: function greet was removed");
}
END_TEST

START_TEST(test_policy_other_name)
{
    char why[GOV_PROGRAM_ERR_MAX] = "";
    parse_ok(FULL, &P, CODE_P);
    parse_ok("{\"name\":\"other\",\"interface\":{\"functions\":{}},\"code\":\"\"}", &Q, CODE_Q);
    ck_assert_int_eq(gov_policy_check(&P, &Q, GOV_POLICY_COMPATIBLE, why, sizeof why), -EINVAL);
    ck_assert_msg(strstr(why, "hello") && strstr(why, "other"), "%s", why);
    ck_assert_int_eq(gov_policy_check(&P, &P, 9, why, sizeof why), -EINVAL);
}
END_TEST

START_TEST(test_checksum_and_id)
{
    uint8_t a[32], b[32], want[32];
    char hex[65];
    /* BLAKE2b-256 of nothing: the published test value. */
    gov_program_checksum((const uint8_t *)"", 0, a);
    hex_encode(hex, a, 32);
    ck_assert_str_eq(hex, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");

    /* The id is the tag, then each string with its u32 big-endian length. */
    static const uint8_t msg[] = "adnet/gov/program-id/v1"
                                 "\x00\x00\x00\x0b" "adnet-delta"
                                 "\x00\x00\x00\x07" "credits";
    crypto_generichash(want, 32, msg, sizeof msg - 1, NULL, 0);
    gov_program_id("adnet-delta", "credits", a);
    ck_assert_mem_eq(a, want, 32);

    gov_program_id("adnet-alpha", "credits", b);
    ck_assert_mem_ne(a, b, 32);
    gov_program_id("adnet-delta", "registry", b);
    ck_assert_mem_ne(a, b, 32);
    /* The length prefix keeps the two strings apart. */
    gov_program_id("ab", "c", a);
    gov_program_id("a", "bc", b);
    ck_assert_mem_ne(a, b, 32);
    gov_program_id("adnet-delta", "credits", b);
    ck_assert_mem_eq(b, want, 32);
}
END_TEST

START_TEST(test_builtins)
{
    static const char *const names[] = {"credits", "registry", "governance"};
    static const uint8_t policies[] = {GOV_POLICY_COMPATIBLE, GOV_POLICY_ADDITIVE,
                                       GOV_POLICY_ADDITIVE};
    uint8_t bytes[GOV_PROGRAM_MAX];
    size_t len = 0;
    ck_assert_uint_eq(gov_n_builtins, 3);
    for (size_t i = 0; i < gov_n_builtins; i++) {
        const gov_builtin_t *b = &gov_builtins[i];
        ck_assert_str_eq(b->name, names[i]);
        ck_assert_int_eq(b->policy, policies[i]);
        parse_ok(b->json, &P, CODE_P);
        ck_assert_str_eq(P.name, b->name);
        ck_assert_uint_gt(P.n_functions, 0);
        ck_assert_int_eq(gov_program_encode(&P, bytes, sizeof bytes, &len), 0);
        /* Every edition may replace itself under its own policy, except
         * that immutable takes nothing (none of the built-ins is). */
        char why[GOV_PROGRAM_ERR_MAX] = "";
        ck_assert_msg(gov_policy_check(&P, &P, b->policy, why, sizeof why) == 0, "%s", why);
    }
    /* The genesis tests edit credits' transfer: it is the first program
     * and takes (address, u64). */
    parse_ok(gov_builtins[0].json, &P, CODE_P);
    const gov_function_t *f = NULL;
    for (uint16_t i = 0; i < P.n_functions; i++)
        if (strcmp(P.functions[i].name, "transfer") == 0)
            f = &P.functions[i];
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->n_in, 2);
    ck_assert_int_eq(f->in[0], GOV_T_ADDRESS);
    ck_assert_int_eq(f->in[1], GOV_T_U64);
    ck_assert_int_eq(P.n_records, 1);
    ck_assert_str_eq(P.records[0].fields[0].name, "amount"); /* fields sorted by name */
    ck_assert_str_eq(P.records[0].fields[1].name, "owner");
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "program", .tcase = "program"};
    return suite_build(&spec, SUITE_TESTS(test_example_parses, test_canonical_order,
                                          test_to_json_round_trip, test_refusals, test_limits,
                                          test_policy_immutable, test_policy_additive,
                                          test_policy_compatible, test_policy_other_name,
                                          test_checksum_and_id, test_builtins));
}
