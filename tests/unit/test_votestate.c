/* The vote sign-state (common/store/votestate.c): what may be signed after
 * a recorded step, the file's strict format, refusals of a file that does
 * not read, and a consensus machine (common/node/consensus/tm.c) guarded
 * by it that crashes after prevoting and, restarted with its record, does
 * not prevote a second value an equivocating proposer offers it. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/base/fsutil.h"
#include "common/node/consensus/tm.h"
#include "common/store/votestate.h"
#include "tests/lib/file.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

#define CHAIN "adnet-test-delta"

static uint8_t A[32], B[32], NIL[32];

static void values(void)
{
    memset(A, 0xaa, 32);
    memset(B, 0xbb, 32);
    memset(NIL, 0, 32);
}

START_TEST(test_order_of_steps)
{
    tmp_dir_t d;
    char path[TMP_PATH_MAX], err[VOTESTATE_ERR_MAX];
    votestate_t s, again;
    values();
    tmp_dir_init(&d, "votestate");
    tmp_dir_path(&d, "vote_state.json", path);
    ck_assert_int_eq(votestate_load(&s, path, CHAIN, err), 0); /* no file: nothing signed */
    ck_assert(!s.signed_any);
    ck_assert_int_eq(votestate_sign(&s, path, 5, 0, VOTESTATE_PREVOTE, A, err), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);

    /* The same step again: the same value only (a resend). */
    ck_assert_int_eq(votestate_sign(&s, path, 5, 0, VOTESTATE_PREVOTE, A, err), 0);
    ck_assert_int_eq(votestate_sign(&s, path, 5, 0, VOTESTATE_PREVOTE, B, err), -EEXIST);
    ck_assert_msg(strstr(err, "equivocation"), "%s", err);
    /* Anything before it, never: an earlier step, round or height. */
    ck_assert_int_eq(votestate_check(&s, 5, 0, VOTESTATE_PROPOSE, A, err), -ESTALE);
    ck_assert_int_eq(votestate_check(&s, 4, 9, VOTESTATE_PRECOMMIT, A, err), -ESTALE);
    /* After it: a nil precommit, a later round, a later height. */
    ck_assert_int_eq(votestate_sign(&s, path, 5, 0, VOTESTATE_PRECOMMIT, NIL, err), 0);
    ck_assert_int_eq(votestate_check(&s, 5, 0, VOTESTATE_PRECOMMIT, A, err), -EEXIST);
    ck_assert_int_eq(votestate_sign(&s, path, 5, 1, VOTESTATE_PROPOSE, B, err), 0);
    ck_assert_int_eq(votestate_sign(&s, path, 6, 0, VOTESTATE_PREVOTE, A, err), 0);

    /* The file holds what was signed last; a restart reads it back. */
    ck_assert_int_eq(votestate_load(&again, path, CHAIN, err), 0);
    ck_assert(again.signed_any);
    ck_assert_uint_eq(again.height, 6);
    ck_assert_uint_eq(again.round, 0);
    ck_assert_uint_eq(again.step, VOTESTATE_PREVOTE);
    ck_assert_mem_eq(again.value, A, 32);
    ck_assert_int_eq(votestate_check(&again, 6, 0, VOTESTATE_PREVOTE, B, err), -EEXIST);
    ck_assert_int_eq(votestate_check(&again, 5, 1, VOTESTATE_PRECOMMIT, B, err), -ESTALE);
    /* Out of range. */
    ck_assert_int_eq(votestate_check(&again, 7, 0, 9, A, err), -EINVAL);
    ck_assert_int_eq(votestate_check(&again, 7, 0x80000000u, VOTESTATE_PREVOTE, A, err), -EINVAL);
    tmp_dir_cleanup(&d);
}
END_TEST

START_TEST(test_file_refusals)
{
    tmp_dir_t d;
    char path[TMP_PATH_MAX], err[VOTESTATE_ERR_MAX], text[VOTESTATE_MAX_BYTES];
    votestate_t s;
    values();
    tmp_dir_init(&d, "votestate");
    tmp_dir_path(&d, "vote_state.json", path);
    votestate_init(&s, CHAIN);
    ck_assert_int_eq(votestate_sign(&s, path, 3, 2, VOTESTATE_PRECOMMIT, A, err), 0);
    int n = votestate_format(&s, text, sizeof(text));
    ck_assert_int_gt(n, 0);
    ck_assert_msg(strstr(text, "\"step\":\"precommit\"") && strstr(text, "\"round\":2"), "%s",
                  text);
    ck_assert_int_eq(votestate_load(&s, path, "adnet-test-alpha", err), -EXDEV);

    static const struct {
        const char *text;
        int rc;
        const char *says;
    } bad[] = {
        {"{", -EBADMSG, "line"},
        {"[]", -EBADMSG, "exactly"},
        {"{\"chain_id\":\"adnet-test-delta\",\"height\":3,\"round\":2,\"step\":\"precommit\","
         "\"value\":\"aa\",\"version\":1}", -EBADMSG, "value"},
        {"{\"chain_id\":\"adnet-test-delta\",\"height\":-3,\"round\":2,\"step\":\"precommit\","
         "\"value\":\"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "\","
         "\"version\":1}", -EBADMSG, "height"},
        {"{\"chain_id\":\"adnet-test-delta\",\"height\":3,\"round\":2,\"step\":\"commit\","
         "\"value\":\"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "\","
         "\"version\":1}", -EBADMSG, "step"},
        {"{\"chain_id\":\"adnet-test-delta\",\"height\":3,\"round\":2,\"step\":\"prevote\","
         "\"value\":\"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "\","
         "\"version\":2}", -EPROTONOSUPPORT, "version"},
        {"{\"chain_id\":\"adnet-test-delta\",\"height\":3,\"round\":2,\"step\":\"prevote\","
         "\"value\":\"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "\","
         "\"extra\":1}", -EBADMSG, "unknown key"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(fs_write_file(path, bad[i].text, strlen(bad[i].text), 0600, true), 0);
        err[0] = '\0';
        ck_assert_msg(votestate_load(&s, path, CHAIN, err) == bad[i].rc, "case %zu: %s", i,
                      err);
        ck_assert_msg(strstr(err, bad[i].says) && strstr(err, path), "case %zu: %s", i, err);
    }
    tmp_dir_cleanup(&d);
}
END_TEST

/* ---- a consensus machine guarded by the record ---- */

typedef struct {
    votestate_t s;
    const char *path;
    int refused;
} guard_t;

static int guard(void *ctx, uint64_t height, int32_t round, tm_step_t step,
                 const uint8_t value[TM_ID_LEN])
{
    guard_t *g = ctx;
    char err[VOTESTATE_ERR_MAX];
    int r = votestate_sign(&g->s, g->path, height, (uint32_t)round, (uint8_t)step, value, err);
    g->refused += r < 0;
    return r;
}

static tm_t *machine(guard_t *g, tm_validator_t *vals)
{
    tm_config_t cfg = {.validators = vals, .n_validators = 4, .self = 0, .propose_ms = 1000,
                       .prevote_ms = 1000, .precommit_ms = 1000, .may_sign = guard,
                       .may_sign_ctx = g};
    tm_t *t = tm_new(&cfg);
    ck_assert_ptr_nonnull(t);
    return t;
}

/* Prevotes for value among the actions of the last event. */
static int prevotes_for(tm_t *t, const uint8_t *value)
{
    size_t n = 0;
    int k = 0;
    const tm_action_t *a = tm_actions(t, &n);
    for (size_t i = 0; i < n; i++)
        k += a[i].kind == TM_ACT_PREVOTE && memcmp(a[i].vote.value, value, TM_ID_LEN) == 0;
    return k;
}

START_TEST(test_restart_never_double_signs)
{
    tmp_dir_t d;
    char path[TMP_PATH_MAX], err[VOTESTATE_ERR_MAX];
    tm_validator_t vals[4];
    guard_t g = {0};
    size_t n;
    values();
    tmp_dir_init(&d, "votestate");
    tmp_dir_path(&d, "vote_state.json", path);
    for (int i = 0; i < 4; i++) {
        memset(vals[i].key, 0x10 + i, 32);
        vals[i].power = 1;
    }
    g.path = path;
    ck_assert_int_eq(votestate_load(&g.s, path, CHAIN, err), 0);

    /* Height 1, round 0: a proposer other than us proposes A; we prevote A. */
    tm_t *t = machine(&g, vals);
    ck_assert_int_eq(tm_start(t, 1), 0);
    tm_actions(t, &n);
    uint16_t proposer = tm_proposer(t, 1, 0);
    if (proposer == 0) { /* pick a round whose proposer is someone else */
        tm_free(t);
        ck_abort_msg("validator 0 proposes (1, 0); the test expects another proposer");
    }
    tm_proposal_t p = {.height = 1, .round = 0, .valid_round = -1, .proposer = proposer};
    memcpy(p.value, A, 32);
    ck_assert_int_eq(tm_on_proposal(t, &p, true), 0);
    ck_assert_int_eq(prevotes_for(t, A), 1);
    tm_free(t); /* the crash: nothing else of the machine survives */

    /* Restarted, with the record read back: the equivocating proposer now
     * offers B for the same height and round. The machine would prevote
     * B; the guard refuses, and nothing is sent. */
    guard_t g2 = {0};
    g2.path = path;
    ck_assert_int_eq(votestate_load(&g2.s, path, CHAIN, err), 0);
    t = machine(&g2, vals);
    ck_assert_int_eq(tm_start(t, 1), 0);
    tm_actions(t, &n);
    memcpy(p.value, B, 32);
    ck_assert_int_eq(tm_on_proposal(t, &p, true), 0);
    ck_assert_int_eq(prevotes_for(t, B), 0);
    ck_assert_int_eq(g2.refused, 1);
    /* The same A again is a resend the record allows. */
    tm_free(t);
    guard_t g3 = {0};
    g3.path = path;
    ck_assert_int_eq(votestate_load(&g3.s, path, CHAIN, err), 0);
    t = machine(&g3, vals);
    ck_assert_int_eq(tm_start(t, 1), 0);
    tm_actions(t, &n);
    memcpy(p.value, A, 32);
    ck_assert_int_eq(tm_on_proposal(t, &p, true), 0);
    ck_assert_int_eq(prevotes_for(t, A), 1);
    ck_assert_int_eq(g3.refused, 0);
    tm_free(t);
    tmp_dir_cleanup(&d);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "votestate", .tcase = "core"};
    return suite_build(&spec, SUITE_TESTS(test_order_of_steps, test_file_refusals,
                                          test_restart_never_double_signs));
}
