/* common/store/commitrec.c: the commit record's format, its strict and
 * bounds-checked parser, its atomic write, and the judgement of a ledger
 * against it. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/store/commitrec.h"
#include "tests/lib/file.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

static const char GOOD[] =
    "{\"chain_id\":\"adnet-devnet-delta\","
    "\"genesis_hash\":\"870b8c0395af899f791c856e41e48b4e588e291eb7e0a4efccf8d8a8caefb022\","
    "\"hash\":\"95837aa768cff057e0535c7594b7b84d81fa67c09ff4192faa25b1e7651b4c2f\","
    "\"height\":1841,\"time_ms\":1796186598048,\"version\":1}\n";

static commitrec_t sample(uint64_t height)
{
    commitrec_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.chain_id, sizeof r.chain_id, "adnet-devnet-delta");
    memset(r.genesis_hash, 0x87, sizeof r.genesis_hash);
    if (height > 0)
        memset(r.hash, (int)(height & 0xff) | 1, sizeof r.hash);
    r.height = height;
    r.time_ms = height ? 1796186598048ULL + height : 0;
    return r;
}

/* Parse text from an exact-size copy, so that a read past its end is
 * caught (valgrind, ASan): the parser must honour len alone. */
static int parse_exact(commitrec_t *out, const char *text, size_t len, char *err)
{
    char *copy = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, text, len);
    int rc = commitrec_parse(out, copy, len, err);
    free(copy);
    return rc;
}

START_TEST(test_round_trip)
{
    char text[COMMITREC_MAX_BYTES], err[COMMITREC_ERR_MAX];
    commitrec_t r = sample(1841), back;
    int n = commitrec_format(&r, text, sizeof text);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(text[n - 1], '\n');
    ck_assert_int_eq(parse_exact(&back, text, (size_t)n, err), 0);
    ck_assert_mem_eq(&back, &r, sizeof r);
    /* The same record always formats to the same bytes. */
    char again[COMMITREC_MAX_BYTES];
    ck_assert_int_eq(commitrec_format(&back, again, sizeof again), n);
    ck_assert_mem_eq(again, text, (size_t)n);
    /* The documented example parses. */
    ck_assert_int_eq(parse_exact(&back, GOOD, strlen(GOOD), err), 0);
    ck_assert_uint_eq(back.height, 1841);
    ck_assert_str_eq(back.chain_id, "adnet-devnet-delta");
    /* Height 0: the genesis only, no block hash. */
    r = sample(0);
    n = commitrec_format(&r, text, sizeof text);
    ck_assert_int_eq(parse_exact(&back, text, (size_t)n, err), 0);
    ck_assert_uint_eq(back.height, 0);
    /* A chain id that needs escaping survives. */
    r = sample(5);
    snprintf(r.chain_id, sizeof r.chain_id, "we\"ird\\id");
    n = commitrec_format(&r, text, sizeof text);
    ck_assert_int_eq(parse_exact(&back, text, (size_t)n, err), 0);
    ck_assert_str_eq(back.chain_id, "we\"ird\\id");
}
END_TEST

START_TEST(test_format_bounds)
{
    char text[COMMITREC_MAX_BYTES];
    commitrec_t r = sample(3);
    ck_assert_int_eq(commitrec_format(&r, text, 40), -ENOBUFS);
    r.height = (uint64_t)INT64_MAX + 1;
    ck_assert_int_eq(commitrec_format(&r, text, sizeof text), -EINVAL);
    r = sample(3);
    r.chain_id[0] = '\0';
    ck_assert_int_eq(commitrec_format(&r, text, sizeof text), -EINVAL);
}
END_TEST

/* Every prefix of a good record is refused, never read past. */
START_TEST(test_every_truncation_refused)
{
    char err[COMMITREC_ERR_MAX];
    size_t len = strlen(GOOD);
    commitrec_t out, poison;
    memset(&poison, 0xa5, sizeof poison);
    for (size_t n = 0; n + 1 < len; n++) { /* the last byte is the newline */
        out = poison;
        ck_assert_msg(parse_exact(&out, GOOD, n, err) < 0, "prefix of %zu bytes accepted", n);
        ck_assert_mem_eq(&out, &poison, sizeof out); /* written only on success */
    }
}
END_TEST

START_TEST(test_refusals)
{
    static const struct {
        const char *text;
        int code;
        const char *why; /* a part of the message */
    } cases[] = {
        {"[]", -EBADMSG, "not one JSON object"},
        {"{\"height\":1} trailing", -EBADMSG, "not one JSON object"},
        {"{\"chain_id\":\"c\",\"chain_id\":\"d\"}", -EBADMSG, "not one JSON object"},
        {"{\"chain_id\":\"c\"}", -EBADMSG, "exactly the keys"},
        {"{\"chain_id\":\"c\",\"genesis_hash\":\"\",\"hash\":\"\",\"height\":1,\"time_ms\":1,"
         "\"extra\":1}", -EBADMSG, "exactly the keys"},
        {"{\"chain_id\":\"c\",\"genesis_hash\":\"\",\"hash\":\"\",\"height\":1,\"time_ms\":1,"
         "\"version\":2}", -EPROTONOSUPPORT, "version 2"},
        {"{\"chain_id\":\"c\",\"genesis_hash\":\"\",\"hash\":\"\",\"height\":1,\"time_ms\":1,"
         "\"version\":\"1\"}", -EBADMSG, "\"version\" must be an integer"},
    };
    char err[COMMITREC_ERR_MAX];
    commitrec_t out;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = parse_exact(&out, cases[i].text, strlen(cases[i].text), err);
        ck_assert_msg(rc == cases[i].code, "case %zu: %d (%s)", i, rc, err);
        ck_assert_msg(strstr(err, cases[i].why) != NULL, "case %zu: %s", i, err);
    }
}
END_TEST

/* One field of GOOD replaced: "key":value -> "key":bad. */
static int parse_with(const char *key, const char *bad, char *err)
{
    char text[2048], pat[64];
    commitrec_t out;
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *at = strstr(GOOD, pat);
    ck_assert_ptr_nonnull(at);
    const char *v = at + strlen(pat), *end = v + strcspn(v, ",}");
    snprintf(text, sizeof text, "%.*s%s%s", (int)(v - GOOD), GOOD, bad, end);
    return parse_exact(&out, text, strlen(text), err);
}

START_TEST(test_field_refusals)
{
    static const struct {
        const char *key, *bad, *why;
    } cases[] = {
        {"height", "-1", "\"height\" must be an integer"},
        {"height", "1.5", "\"height\" must be an integer"},
        {"height", "\"7\"", "\"height\" must be an integer"},
        {"height", "9223372036854775808", "not one JSON object"}, /* jansson: too big */
        {"time_ms", "null", "\"time_ms\" must be an integer"},
        {"hash", "\"95837AA768CFF057E0535C7594B7B84D81FA67C09FF4192FAA25B1E7651B4C2F\"",
         "lowercase hex"},
        {"hash", "\"95837aa7\"", "lowercase hex"},
        {"hash", "\"zz837aa768cff057e0535c7594b7b84d81fa67c09ff4192faa25b1e7651b4c2f\"",
         "lowercase hex"},
        {"genesis_hash", "7", "lowercase hex"},
        {"chain_id", "\"\"", "\"chain_id\" must be a string of 1 to"},
        {"chain_id", "\"a\\u0000b\"", "not one JSON object"}, /* jansson refuses NUL */
        {"chain_id", "\"0123456789012345678901234567890123456789012345678\"",
         "\"chain_id\" must be a string of 1 to"},
    };
    char err[COMMITREC_ERR_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_msg(parse_with(cases[i].key, cases[i].bad, err) == -EBADMSG, "case %zu", i);
        ck_assert_msg(strstr(err, cases[i].why) != NULL, "case %zu: %s", i, err);
    }
    /* Height 0 carries no block hash. */
    ck_assert_int_eq(parse_with("height", "0", err), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "height 0 has no block hash"));
    /* Longer than a record may be: refused before it is parsed. */
    char *big = malloc(COMMITREC_MAX_BYTES + 1);
    memset(big, ' ', COMMITREC_MAX_BYTES + 1);
    commitrec_t out;
    ck_assert_int_eq(commitrec_parse(&out, big, COMMITREC_MAX_BYTES + 1, err), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "more than a record's"));
    free(big);
}
END_TEST

START_TEST(test_store_and_load)
{
    tmp_dir_t t;
    char path[TMP_PATH_MAX], err[COMMITREC_ERR_MAX];
    commitrec_t r = sample(7), back;
    struct stat sb;
    tmp_dir_init(&t, "commitrec");
    tmp_dir_path(&t, COMMITREC_FILE, path);
    ck_assert_int_eq(commitrec_load(&back, path, err), -ENOENT);
    ck_assert_int_eq(commitrec_store(&r, path, err), 0);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    ck_assert_int_eq(commitrec_load(&back, path, err), 0);
    ck_assert_mem_eq(&back, &r, sizeof r);
    /* A newer record replaces it whole; nothing is left beside it. */
    r = sample(8);
    ck_assert_int_eq(commitrec_store(&r, path, err), 0);
    ck_assert_int_eq(commitrec_load(&back, path, err), 0);
    ck_assert_uint_eq(back.height, 8);
    char tmp[TMP_PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    ck_assert_int_ne(access(tmp, F_OK), 0);
    /* A damaged or oversized file is refused with its name. */
    file_write(path, "{\"height\":");
    ck_assert_int_eq(commitrec_load(&back, path, err), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_ptr_nonnull(strstr(err, "not a valid commit record"));
    char *big = malloc(COMMITREC_MAX_BYTES + 2);
    memset(big, ' ', COMMITREC_MAX_BYTES + 1);
    big[COMMITREC_MAX_BYTES + 1] = '\0';
    file_write(path, big);
    free(big);
    ck_assert_int_eq(commitrec_load(&back, path, err), -EBADMSG);
    /* A folder that is not there: the error names the file. */
    char nowhere[TMP_PATH_MAX + 32];
    snprintf(nowhere, sizeof nowhere, "%s/no/such/%s", t.dir, COMMITREC_FILE);
    ck_assert_int_eq(commitrec_store(&r, nowhere, err), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "cannot write the record of height 8"));
    tmp_dir_cleanup(&t);
}
END_TEST

/* A reader never sees a torn record while another process writes new
 * ones as fast as it can: the rename replaces the file whole. */
START_TEST(test_store_is_atomic)
{
    tmp_dir_t t;
    char path[TMP_PATH_MAX], err[COMMITREC_ERR_MAX];
    commitrec_t r = sample(1), back;
    tmp_dir_init(&t, "commitrec-atomic");
    tmp_dir_path(&t, COMMITREC_FILE, path);
    ck_assert_int_eq(commitrec_store(&r, path, err), 0);
    pid_t writer = fork();
    ck_assert_int_ge(writer, 0);
    if (writer == 0) {
        for (uint64_t h = 2;; h++) {
            commitrec_t w = sample(h);
            /* Alternate short and long chain ids: a torn file would mix them. */
            snprintf(w.chain_id, sizeof w.chain_id, "%s", h % 2 ? "a" : "a-much-longer-chain-id");
            if (commitrec_store(&w, path, err) != 0)
                _exit(1);
        }
    }
    uint64_t last = 0;
    for (int i = 0; i < 2000; i++) {
        ck_assert_msg(commitrec_load(&back, path, err) == 0, "read %d: %s", i, err);
        ck_assert_uint_ge(back.height, last);
        last = back.height;
    }
    kill(writer, SIGKILL);
    waitpid(writer, NULL, 0);
    ck_assert_uint_gt(last, 1);
    tmp_dir_cleanup(&t);
}
END_TEST

static ledger_peek_t peek_at(uint64_t tip, uint8_t fill)
{
    ledger_peek_t p;
    memset(&p, 0, sizeof p);
    p.exists = true;
    p.size = 4096;
    p.has_genesis = true;
    p.tip.height = tip;
    memset(p.tip.hash, fill, sizeof p.tip.hash);
    return p;
}

START_TEST(test_check)
{
    char err[COMMITREC_ERR_MAX];
    commitrec_t r = sample(1841);
    ledger_peek_t p = peek_at(1841, 0);
    memcpy(p.at_hash, r.hash, sizeof p.at_hash);
    ck_assert_int_eq(commitrec_check(&r, &p, "L", "R", err), 0);
    p.tip.height = 1900; /* ahead, the same block at the record's height */
    ck_assert_int_eq(commitrec_check(&r, &p, "L", "R", err), 0);

    p = peek_at(1830, 0);
    ck_assert_int_eq(commitrec_check(&r, &p, "L", "R", err), -ESTALE);
    ck_assert_ptr_nonnull(strstr(err, "ledger L is at height 1830 but this node committed 1841 "
                                      "(hash "));
    ck_assert_ptr_nonnull(strstr(err, "the ledger lost blocks; restore it"));
    ck_assert_ptr_nonnull(strstr(err, "move R aside"));
    ck_assert_ptr_nonnull(strstr(err, "sign heights 1831 to 1841 again"));

    p = peek_at(1841, 0); /* at the height, another block */
    memset(p.at_hash, 0x33, sizeof p.at_hash);
    ck_assert_int_eq(commitrec_check(&r, &p, "L", "R", err), -ESTALE);
    ck_assert_ptr_nonnull(strstr(err, "holds block 1841 with hash 3333"));

    p = peek_at(0, 0);
    p.exists = false;
    ck_assert_int_eq(commitrec_check(&r, &p, "L", "R", err), -ESTALE);
    ck_assert_ptr_nonnull(strstr(err, "ledger L is missing but this node committed 1841"));
    ck_assert_ptr_nonnull(strstr(err, "heights 1 to 1841"));
    p.exists = true;
    p.size = 0;
    ck_assert_int_eq(commitrec_check(&r, &p, "L", "R", err), -ESTALE);
    ck_assert_ptr_nonnull(strstr(err, "is empty (0 bytes)"));
    p.size = 4096;
    p.has_genesis = false;
    ck_assert_int_eq(commitrec_check(&r, &p, "L", "R", err), -ESTALE);
    ck_assert_ptr_nonnull(strstr(err, "has no genesis state"));

    /* A record of the genesis alone wants a ledger with its genesis. */
    r = sample(0);
    p = peek_at(0, 0);
    ck_assert_int_eq(commitrec_check(&r, &p, "L", "R", err), 0);
    p.exists = false;
    ck_assert_int_eq(commitrec_check(&r, &p, "L", "R", err), -ESTALE);
    ck_assert_ptr_nonnull(strstr(err, "made it from genesis before"));
}
END_TEST

START_TEST(test_allows_and_is_for)
{
    commitrec_t r = sample(10);
    uint8_t other[BLOCK_HASH_LEN];
    memset(other, 0x44, sizeof other);
    ck_assert(commitrec_allows(&r, 11, other));
    ck_assert(commitrec_allows(&r, 10, r.hash)); /* the very block */
    ck_assert(!commitrec_allows(&r, 10, other));
    ck_assert(!commitrec_allows(&r, 9, r.hash));
    ck_assert(!commitrec_allows(&r, 1, other));
    commitrec_t g = sample(0);
    ck_assert(commitrec_allows(&g, 1, other));
    ck_assert(commitrec_is_for(&r, "adnet-devnet-delta", r.genesis_hash));
    ck_assert(!commitrec_is_for(&r, "adnet-devnet-alpha", r.genesis_hash));
    ck_assert(!commitrec_is_for(&r, "adnet-devnet-delta", other));
    ledger_tip_t tip = {.height = 12, .time_ms = 99};
    memset(tip.hash, 0x12, sizeof tip.hash);
    commitrec_from_tip(&g, "c", other, &tip);
    ck_assert_uint_eq(g.height, 12);
    ck_assert_mem_eq(g.hash, tip.hash, BLOCK_HASH_LEN);
    ck_assert_mem_eq(g.genesis_hash, other, BLOCK_HASH_LEN);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "commitrec", .tcase = "core", .timeout_s = 60};
    return suite_build(&spec, SUITE_TESTS(
        test_round_trip, test_format_bounds, test_every_truncation_refused, test_refusals,
        test_field_refusals, test_store_and_load, test_store_is_atomic, test_check,
        test_allows_and_is_for));
}
