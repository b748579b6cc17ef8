/* `adnet gov` on a real devnet: a program deployed through the whole
 * path (propose, shadow, governors' signature files, attestations
 * refused until enough governors signed, applied, registered with the
 * checksum of its encoding), repeated steps answered from the node's
 * journal, an update under the additive policy and one that breaks it,
 * approval by votes, and forged or foreign signatures refused with the
 * node's reason.
 *
 * Every test here needs the node side of governance (the verifier stage,
 * its tables and routes in the workers: common/node/gov, the worker's
 * /gov and /registry routes); adnet init --governors and the CLI's own
 * checks (sign refusing to overwrite a file, a policy fixed at
 * registration) are covered along the way. */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/base/hex.h"
#include "common/node/gov/program.h"
#include "tests/integration/harness.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

enum { ALPHA = 0, DELTA = 1 };

#define OUT_MAX (256 * 1024)
#define ARGS_MAX 48
#define PBUF (PATH_MAX + 64) /* a path under the test home */

static const char *const RUN[] = {
    "--set", "alpha.block_interval_ms=100", "--set", "delta.block_interval_ms=60", NULL,
};

static const char HELLO[] =
    "{\"name\":\"hello\",\"interface\":{\"functions\":{\"greet\":{\"inputs\":[\"u64\"],"
    "\"outputs\":[\"u64\"]}},\"records\":{}},\"code\":\"00\"}";
/* Edition 1: one function added (additive keeps greet as it was). */
static const char HELLO_WAVE[] =
    "{\"name\":\"hello\",\"interface\":{\"functions\":{\"greet\":{\"inputs\":[\"u64\"],"
    "\"outputs\":[\"u64\"]},\"wave\":{\"inputs\":[\"u64\"],\"outputs\":[\"bool\"]}},"
    "\"records\":{}},\"code\":\"0001\"}";
/* An update that removes greet: neither additive nor compatible allows it. */
static const char HELLO_NO_GREET[] =
    "{\"name\":\"hello\",\"interface\":{\"functions\":{\"wave\":{\"inputs\":[\"u64\"],"
    "\"outputs\":[\"bool\"]}},\"records\":{}},\"code\":\"0002\"}";

static node_t node;
static char out[OUT_MAX];

/* Run `adnet gov ARGS... --home HOME` (args NULL-terminated); stdout in
 * out; return the exit code. */
static int gov(const char *first, ...)
{
    const char *args[ARGS_MAX];
    int n = 0;
    va_list ap;
    args[n++] = "gov";
    va_start(ap, first);
    for (const char *a = first; a && n < ARGS_MAX - 3; a = va_arg(ap, const char *))
        args[n++] = a;
    va_end(ap);
    args[n++] = "--home";
    args[n++] = node.home;
    args[n] = NULL;
    return node_cli(&node, out, sizeof out, args);
}

/* out as JSON (the last line that parses); caller frees. */
static json_t *out_json(void)
{
    json_t *j = json_loads(out, 0, NULL);
    if (j)
        return j;
    /* A refusal with --json prints the node's error document; a line each. */
    char *last = NULL;
    for (char *p = out; (p = strchr(p, '{')); p++)
        if (p == out || p[-1] == '\n')
            last = p;
    return last ? json_loads(last, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
}

/* The error code of the node's answer gov printed with --json, or "". */
static const char *refusal_code(char buf[64])
{
    json_t *j = out_json();
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    snprintf(buf, 64, "%s", c ? c : "");
    json_decref(j);
    return buf;
}

static void write_file(const char *name, const char *text, char path[PBUF])
{
    snprintf(path, PBUF, "%s/%s", node.home, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

/* A devnet with n governor keys (0: the validator governs), running. */
static void start_devnet(const char *governors)
{
    ck_assert_int_eq(node_init(&node), 0);
    if (governors) {
        const char *const args[] = { "init", "--home", node.home, "--force", "--governors",
                                     governors, NULL };
        ck_assert_int_eq(node_cli(&node, NULL, 0, args), 0);
    }
    ck_assert_int_eq(node_start(&node, RUN, NULL), 0);
    ck_assert(node_wait_running(&node, "alpha", 20000));
    ck_assert(node_wait_running(&node, "delta", 20000));
    ck_assert(node_wait_height(&node, "delta", 2, 20000));
    ck_assert(node_wait_height(&node, "alpha", 2, 20000));
}

/* Propose deploying program file path as hello on chain; the id into id[65]. */
static void propose(const char *chain, const char *path, const char *policy, char id[65])
{
    int rc = policy ? gov("propose", "--chain", chain, "--action", "deploy", "--name", "hello",
                          "--program", path, "--policy", policy, "--json", NULL)
                    : gov("propose", "--chain", chain, "--action", "deploy", "--name", "hello",
                          "--program", path, "--json", NULL);
    ck_assert_msg(rc == 0, "propose: exit %d: %s (log %s)", rc, out, node.log);
    json_t *j = out_json();
    ck_assert_ptr_nonnull(j);
    const char *s = json_string_value(json_object_get(j, "id"));
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(strlen(s), 64);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "tx")));
    ck_assert_int_gt(json_integer_value(json_object_get(j, "height")), 0);
    snprintf(id, 65, "%s", s);
    json_decref(j);
}

/* `gov sign ID --key key` into HOME/<file>; its path into path. */
static void sign(const char *chain, const char *id, const char *key, const char *file,
                 char path[PBUF])
{
    snprintf(path, PBUF, "%s/%s", node.home, file);
    int rc = gov("sign", id, "--chain", chain, "--key", key, "--out", path, NULL);
    ck_assert_msg(rc == 0, "sign %s: exit %d", key, rc);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
}

/* The proposal document; caller frees. */
static json_t *show(const char *chain, const char *id)
{
    ck_assert_int_eq(gov("show", id, "--chain", chain, "--json", NULL), 0);
    json_t *j = out_json();
    ck_assert_ptr_nonnull(j);
    return j;
}

static const char *state_of(json_t *doc)
{
    return json_string_value(json_object_get(doc, "state"));
}

/* The encoded program file text's checksum, hex. */
static void checksum_of(const char *text, char hex[65])
{
    gov_program_t *p = malloc(sizeof(*p));
    uint8_t *code = malloc(GOV_CODE_MAX), *bytes = malloc(GOV_PROGRAM_MAX), ck[32];
    char err[GOV_PROGRAM_ERR_MAX];
    size_t len = 0;
    ck_assert_ptr_nonnull(p);
    ck_assert_msg(gov_program_from_text(text, strlen(text), p, code, err, sizeof err) == 0,
                  "%s", err);
    ck_assert_int_eq(gov_program_encode(p, bytes, GOV_PROGRAM_MAX, &len), 0);
    gov_program_checksum(bytes, len, ck);
    hex_encode(hex, ck, 32);
    free(p);
    free(code);
    free(bytes);
}

/* (a) The whole path on delta with three governors at 6700 bps. */
START_TEST(test_deploy_by_attestation)
{
    char prog[PBUF], id[65], s1[PBUF], s2[PBUF], s3[PBUF], req[PBUF];
    char code[64], want_ck[65];
    start_devnet("3");
    write_file("hello.json", HELLO, prog);
    propose("delta", prog, NULL, id);

    /* The same proposal again (its nonce given) is reported, not sent. */
    json_t *doc = show("delta", id);
    char nonce[32];
    snprintf(nonce, sizeof nonce, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(doc, "nonce")));
    json_decref(doc);
    ck_assert_int_eq(gov("propose", "--chain", "delta", "--action", "deploy", "--name", "hello",
                         "--program", prog, "--nonce", nonce, "--json", NULL), 0);
    json_t *again = out_json();
    ck_assert_str_eq(json_string_value(json_object_get(again, "id")), id);
    json_decref(again);

    /* Shadow: would apply, and registers one more program. */
    ck_assert_msg(gov("shadow", id, "--chain", "delta", "--json", NULL) == 0, "%s", out);
    json_t *rep = out_json();
    ck_assert_ptr_nonnull(rep);
    ck_assert(json_is_true(json_object_get(rep, "ok")));
    json_t *reg = json_object_get(json_object_get(rep, "tables"), "registry");
    ck_assert_ptr_nonnull(reg);
    ck_assert_int_eq(json_integer_value(json_object_get(reg, "after")),
                     json_integer_value(json_object_get(reg, "before")) + 1);
    json_decref(rep);

    /* One of three signatures: too few. */
    sign("delta", id, "gov1", "gov1.sig", s1);
    ck_assert_int_ne(gov("sign", id, "--chain", "delta", "--key", "gov1", "--out", s1, NULL), 0);
    ck_assert_int_eq(gov("attest", id, "--chain", "delta", "--sig", s1, "--json", NULL),
                     100);
    ck_assert_str_eq(refusal_code(code), "too_few_signatures");

    /* Two of three: 2 * 10000 < 6700 * 3, still too few. */
    sign("delta", id, "gov2", "gov2.sig", s2);
    ck_assert_int_eq(gov("attest", id, "--chain", "delta", "--sig", s1, "--sig", s2, "--json",
                         NULL), 100);
    ck_assert_str_eq(refusal_code(code), "too_few_signatures");

    /* gov3 signs offline, from a saved `gov show --json`. */
    ck_assert_int_eq(gov("show", id, "--chain", "delta", "--json", NULL), 0);
    write_file("request.json", out, req);
    snprintf(s3, sizeof s3, "%s/gov3.sig", node.home);
    ck_assert_int_eq(gov("sign", id, "--chain", "delta", "--key", "gov3", "--out", s3,
                         "--request", req, NULL), 0);
    ck_assert_msg(gov("attest", id, "--chain", "delta", "--sig", s1, "--sig", s2, "--sig", s3,
                      "--json", NULL) == 0, "attest: %s (log %s)", out, node.log);
    json_t *first = out_json();
    ck_assert_ptr_nonnull(first);
    ck_assert_str_eq(json_string_value(json_object_get(first, "step")), "approve");
    const char *receipt = json_string_value(json_object_get(first, "receipt"));
    ck_assert_ptr_nonnull(receipt);

    doc = show("delta", id);
    ck_assert_str_eq(state_of(doc), "applied");
    json_t *journal = json_deep_copy(json_object_get(doc, "journal"));
    json_decref(doc);

    long status = 0;
    json_t *r = node_http_json(&node, DELTA, "/registry/hello", &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "edition")), 0);
    checksum_of(HELLO, want_ck);
    ck_assert_str_eq(json_string_value(json_object_get(r, "checksum")), want_ck);
    json_decref(r);

    /* Attesting again sends nothing: the first receipt, the journal as it was. */
    ck_assert_int_eq(gov("attest", id, "--chain", "delta", "--sig", s1, "--sig", s2, "--sig",
                         s3, "--json", NULL), 0);
    json_t *second = out_json();
    ck_assert_str_eq(json_string_value(json_object_get(second, "receipt")), receipt);
    ck_assert(json_is_true(json_object_get(second, "existing")));
    doc = show("delta", id);
    ck_assert(json_equal(json_object_get(doc, "journal"), journal));
    json_decref(doc);
    json_decref(second);
    json_decref(first);
    json_decref(journal);
    node_cleanup(&node);
}
END_TEST

/* Propose program file path as hello on delta and approve it with the
 * validator's signature (a devnet's one governor); its id into id. */
static void deploy_with_validator(const char *path, const char *policy, char id[65])
{
    char sig[PBUF], name[32];
    static int n;
    propose("delta", path, policy, id);
    snprintf(name, sizeof name, "validator%d.sig", n++);
    sign("delta", id, "validator", name, sig);
    ck_assert_msg(gov("attest", id, "--chain", "delta", "--sig", sig, "--json", NULL) == 0,
                  "attest: %s", out);
}

/* (b) Updates under a policy. */
START_TEST(test_update_policy)
{
    char p0[PBUF], p1[PBUF], p2[PBUF], id[65], code[64];
    start_devnet(NULL);
    write_file("hello.json", HELLO, p0);
    write_file("hello_wave.json", HELLO_WAVE, p1);
    write_file("hello_no_greet.json", HELLO_NO_GREET, p2);
    deploy_with_validator(p0, "additive", id);
    json_t *doc = show("delta", id);
    ck_assert_str_eq(state_of(doc), "applied");
    json_decref(doc);

    /* The policy is the registered one: asking another is refused here. */
    ck_assert_int_eq(gov("propose", "--chain", "delta", "--action", "deploy", "--name", "hello",
                         "--program", p1, "--policy", "compatible", NULL), 100);

    deploy_with_validator(p1, NULL, id);
    long status = 0;
    json_t *r = node_http_json(&node, DELTA, "/registry/hello", &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "edition")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(r, "policy")), "additive");
    json_decref(r);

    ck_assert_int_eq(gov("propose", "--chain", "delta", "--action", "deploy", "--name", "hello",
                         "--program", p2, "--json", NULL), 100);
    ck_assert_str_eq(refusal_code(code), "policy_break");
    r = node_http_json(&node, DELTA, "/registry/hello", &status);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "edition")), 1);
    json_decref(r);
    node_cleanup(&node);
}
END_TEST

/* (c) Approval by the votes of three governors on alpha; a vote is final. */
START_TEST(test_votes)
{
    char prog[PBUF], id[65], code[64];
    start_devnet("3");
    write_file("hello.json", HELLO, prog);
    propose("alpha", prog, NULL, id);

    ck_assert_msg(gov("vote", id, "--chain", "alpha", "--key", "gov1", "--choice", "yes",
                      "--json", NULL) == 0, "vote: %s", out);
    json_t *v1 = out_json();
    ck_assert_str_eq(json_string_value(json_object_get(v1, "step")), "vote");
    /* The same vote again: its receipt, nothing sent. */
    ck_assert_int_eq(gov("vote", id, "--chain", "alpha", "--key", "gov1", "--choice", "yes",
                         "--json", NULL), 0);
    json_t *v1b = out_json();
    ck_assert_str_eq(json_string_value(json_object_get(v1b, "receipt")),
                     json_string_value(json_object_get(v1, "receipt")));
    json_decref(v1b);
    json_decref(v1);
    /* Another vote of the same governor is refused. */
    ck_assert_int_eq(gov("vote", id, "--chain", "alpha", "--key", "gov1", "--choice", "no",
                         "--json", NULL), 100);
    ck_assert_str_eq(refusal_code(code), "voted_twice");

    ck_assert_int_eq(gov("vote", id, "--chain", "alpha", "--key", "gov2", "--choice", "yes",
                         NULL), 0);
    json_t *doc = show("alpha", id);
    ck_assert_str_eq(state_of(doc), "proposed"); /* 2 of 3 do not reach 6700 bps */
    json_decref(doc);
    ck_assert_int_eq(gov("vote", id, "--chain", "alpha", "--key", "gov3", "--choice", "yes",
                         NULL), 0);
    doc = show("alpha", id);
    ck_assert_msg(strcmp(state_of(doc), "approved") == 0 || strcmp(state_of(doc), "applied") == 0,
                  "state %s", state_of(doc));
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "yes")), 3);
    json_decref(doc);
    /* apply: applied at once (no activation height), so it reports the receipt. */
    ck_assert_int_eq(gov("apply", id, "--chain", "alpha", "--json", NULL), 0);
    json_t *ap = out_json();
    ck_assert(json_is_true(json_object_get(ap, "existing")));
    json_decref(ap);
    node_cleanup(&node);
}
END_TEST

/* (d) A forged signature and a non-governor's are refused by the node. */
START_TEST(test_bad_signatures)
{
    char prog[PBUF], id[65], s1[PBUF], s2[PBUF], s3[PBUF], so[PBUF];
    char forged[PBUF], code[64];
    start_devnet("3");
    const char *const mk[] = { "keys", "new", "outsider", "--home", node.home, NULL };
    ck_assert_int_eq(node_cli(&node, NULL, 0, mk), 0);
    write_file("hello.json", HELLO, prog);
    propose("delta", prog, NULL, id);
    sign("delta", id, "gov1", "gov1.sig", s1);
    sign("delta", id, "gov2", "gov2.sig", s2);
    sign("delta", id, "gov3", "gov3.sig", s3);
    sign("delta", id, "outsider", "outsider.sig", so);

    /* One byte of gov1's signature changed. */
    json_t *j = json_load_file(s1, 0, NULL);
    ck_assert_ptr_nonnull(j);
    char sig[129];
    snprintf(sig, sizeof sig, "%s", json_string_value(json_object_get(j, "signature")));
    sig[10] = sig[10] == '0' ? '1' : '0';
    json_object_set_new(j, "signature", json_string(sig));
    snprintf(forged, sizeof forged, "%s/forged.sig", node.home);
    ck_assert_int_eq(json_dump_file(j, forged, 0), 0);
    json_decref(j);
    ck_assert_int_eq(gov("attest", id, "--chain", "delta", "--sig", forged, "--sig", s2,
                         "--sig", s3, "--json", NULL), 100);
    ck_assert_str_eq(refusal_code(code), "bad_signature");

    ck_assert_int_eq(gov("attest", id, "--chain", "delta", "--sig", s1, "--sig", s2, "--sig",
                         so, "--json", NULL), 100);
    ck_assert_str_eq(refusal_code(code), "not_governor");

    json_t *doc = show("delta", id);
    ck_assert_str_eq(state_of(doc), "proposed");
    json_decref(doc);
    node_cleanup(&node);
}
END_TEST

/* (e) show: the document with state and journal; its readable form. */
START_TEST(test_show_and_list)
{
    char prog[PBUF], id[65];
    start_devnet(NULL);
    write_file("hello.json", HELLO, prog);
    propose("delta", prog, NULL, id);
    json_t *doc = show("delta", id);
    ck_assert_str_eq(state_of(doc), "proposed");
    json_t *journal = json_object_get(doc, "journal");
    ck_assert(json_array_size(journal) >= 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(journal, 0), "step")),
                     "propose");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "id")), id);
    json_decref(doc);

    ck_assert_int_eq(gov("show", id, "--chain", "delta", NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "state       proposed"));
    ck_assert_ptr_nonnull(strstr(out, "journal:"));
    ck_assert_ptr_nonnull(strstr(out, "propose"));

    ck_assert_int_eq(gov("list", "--chain", "delta", "--state", "proposed", NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, id));
    ck_assert_int_eq(gov("list", "--chain", "delta", "--state", "applied", "--json", NULL), 0);
    ck_assert_ptr_null(strstr(out, id));
    node_cleanup(&node);
}
END_TEST

/* No node needed: usage mistakes are refused with exit 100, and init
 * --governors makes (and keeps) the keys and lists them in both geneses. */
START_TEST(test_cli_offline)
{
    char path[PBUF + 64];
    ck_assert_int_eq(node_init(&node), 0);
    ck_assert_int_eq(gov("--help", NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "propose"));
    ck_assert_ptr_nonnull(strstr(out, "attest"));
    ck_assert_int_eq(gov("frobnicate", NULL), 100);
    ck_assert_int_eq(gov("show", "xyz", "--chain", "delta", NULL), 100);
    ck_assert_int_eq(gov("propose", "--chain", "delta", "--action", "param", "--param",
                         "voting_period", NULL), 100);
    ck_assert_int_eq(gov("propose", "--chain", "delta", "--action", "deploy", "--name", "hello",
                         "--program", "/nonexistent", "--value", "3", NULL), 100);

    const char *const init3[] = { "init", "--home", node.home, "--force", "--governors", "3",
                                  NULL };
    ck_assert_int_eq(node_cli(&node, NULL, 0, init3), 0);
    snprintf(path, sizeof path, "%s/keys/gov2.json", node.home);
    json_t *k2 = json_load_file(path, 0, NULL);
    ck_assert_ptr_nonnull(k2);
    /* Again: the keys are kept, byte for byte. */
    ck_assert_int_eq(node_cli(&node, NULL, 0, init3), 0);
    json_t *k2b = json_load_file(path, 0, NULL);
    ck_assert(json_equal(k2, k2b));
    for (int c = 0; c < 2; c++) {
        snprintf(path, sizeof path, "%s/%s/genesis.json", node.home, c ? "delta" : "alpha");
        json_t *g = json_load_file(path, 0, NULL);
        ck_assert_ptr_nonnull(g);
        json_t *govs = json_object_get(g, "governors");
        ck_assert_int_eq(json_array_size(govs), 3);
        ck_assert_int_eq(json_array_size(json_object_get(g, "programs")), gov_n_builtins);
        json_decref(g);
    }
    json_decref(k2);
    json_decref(k2b);
    const char *const bad[] = { "init", "--home", node.home, "--force", "--governors", "0",
                                NULL };
    ck_assert_int_eq(node_cli(&node, NULL, 0, bad), 100);
    node_cleanup(&node);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "gov", .tcase = "node", .timeout_s = 280};
    return suite_build(&spec, SUITE_TESTS(test_cli_offline, test_deploy_by_attestation,
                                          test_update_policy, test_votes, test_bad_signatures,
                                          test_show_and_list));
}
