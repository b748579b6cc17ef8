/* libFuzzer target for the governance codecs (proto/gov.h). The first
 * input byte picks the decoder, modulo 7: 0 program, 1 action, 2
 * attestation, 3..6 the payload of GOV_KIND_PROPOSE, _ATTEST, _VOTE,
 * _APPLY; the rest is its input. Anything that decodes must re-encode to
 * the very same bytes (one encoding per value); a refusal must be one of
 * the documented codes and name the field, and (all but the program,
 * decoded in place) leave the output untouched; no input may crash a
 * decoder or make it read out of bounds. Seeds: tests/fuzz/corpus/gov.
 *
 *   clang -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_gov.c \
 *       tests/lib/fuzz.c proto/wire.c proto/block.c proto/gov.c -lsodium
 *   ./a.out -max_total_time=60 -max_len=12400 tests/fuzz/corpus/gov
 *
 * Checks use abort(), not assert(), so they hold in NDEBUG builds too. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/gov.h"
#include "tests/lib/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { SEL_PROGRAM, SEL_ACTION, SEL_ATTESTATION, SEL_PAYLOAD, SEL_COUNT = SEL_PAYLOAD + 4 };

static const uint16_t PAYLOAD_KINDS[] = {GOV_KIND_PROPOSE, GOV_KIND_ATTEST, GOV_KIND_VOTE,
                                         GOV_KIND_APPLY};

/* Kept off the stack: the program is about 40 KiB, the others up to 12. */
static gov_program_t prog;
static gov_action_t act, act_poison;
static gov_attestation_t att, att_poison;
static gov_payload_t pl, pl_poison;
static uint8_t out[GOV_ATTEST_MAX + GOV_ACTION_MAX];

static bool code_documented(int rc)
{
    return rc == -EBADMSG || rc == -EMSGSIZE || rc == -EPROTONOSUPPORT;
}

/* out[0, len) must be exactly the input. */
static void same_bytes(int rc, size_t len, const uint8_t *in, size_t size)
{
    CHECK(rc == 0);
    CHECK(len == size);
    CHECK(memcmp(out, in, size) == 0);
}

static void fuzz_program(const uint8_t *in, size_t size)
{
    const char *what = NULL;
    size_t len = 0;
    int rc = gov_program_decode(&prog, in, size, &what);

    if (rc != 0) {
        CHECK(code_documented(rc));
        CHECK(what != NULL);
        return;
    }
    CHECK(size <= GOV_PROGRAM_MAX);
    CHECK(prog.code_len == 0 || (prog.code >= in && prog.code + prog.code_len <= in + size));
    for (size_t i = 0; i < prog.n_functions; i++)
        for (size_t k = 0; k < prog.functions[i].n_in; k++)
            CHECK(gov_type_name(prog.functions[i].in[k]) != NULL);
    same_bytes(gov_program_encode(&prog, out, sizeof out, &len), len, in, size);
}

static void fuzz_action(const uint8_t *in, size_t size)
{
    const char *what = NULL;
    size_t len = 0;

    memset(&act, 0xa5, sizeof act);
    memcpy(&act_poison, &act, sizeof act);
    int rc = gov_action_decode(&act, in, size, &what);
    if (rc != 0) {
        CHECK(what != NULL);
        CHECK(code_documented(rc) || (rc == -ENOTSUP && strcmp(what, "kind") == 0));
        CHECK(memcmp(&act, &act_poison, sizeof act) == 0);
        return;
    }
    CHECK(size <= GOV_ACTION_MAX);
    CHECK(gov_action_name(act.kind) != NULL);
    if (act.kind == GOV_ACTION_DEPLOY)
        CHECK(gov_policy_name(act.u.deploy.policy) != NULL);
    same_bytes(gov_action_encode(&act, out, sizeof out, &len), len, in, size);
}

static void fuzz_attestation(const uint8_t *in, size_t size)
{
    const char *what = NULL;
    size_t len = 0;

    memset(&att, 0xa5, sizeof att);
    memcpy(&att_poison, &att, sizeof att);
    int rc = gov_attestation_decode(&att, in, size, &what);
    if (rc != 0) {
        CHECK(code_documented(rc));
        CHECK(what != NULL);
        CHECK(memcmp(&att, &att_poison, sizeof att) == 0);
        return;
    }
    CHECK(size <= GOV_ATTEST_MAX);
    /* Already in order: sorting changes nothing. */
    memcpy(&att_poison, &att, sizeof att);
    gov_attestation_sort(&att);
    CHECK(memcmp(&att, &att_poison, sizeof att) == 0);
    same_bytes(gov_attestation_encode(&att, out, sizeof out, &len), len, in, size);
}

static void fuzz_payload(uint16_t kind, const uint8_t *in, size_t size)
{
    const char *what = NULL;
    size_t len = 0;

    memset(&pl, 0xa5, sizeof pl);
    memcpy(&pl_poison, &pl, sizeof pl);
    int rc = gov_payload_decode(&pl, kind, in, size, &what);
    if (rc != 0) {
        /* -ENOTSUP only from the proposed action's kind: every kind here is governance's. */
        CHECK(what != NULL);
        CHECK(code_documented(rc) ||
              (rc == -ENOTSUP && kind == GOV_KIND_PROPOSE && strcmp(what, "kind") == 0));
        CHECK(memcmp(&pl, &pl_poison, sizeof pl) == 0);
        return;
    }
    CHECK(pl.kind == kind);
    if (kind == GOV_KIND_PROPOSE)
        CHECK(gov_action_decode(&act, pl.action, pl.action_len, NULL) == 0);
    if (kind == GOV_KIND_VOTE)
        CHECK(gov_choice_name(pl.choice) != NULL);
    same_bytes(gov_payload_encode(&pl, out, sizeof out, &len), len, in, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned sel = data[0] % SEL_COUNT;
    uint8_t *in = fuzz_copy(data + 1, size - 1);
    if (in == NULL)
        return 0;

    switch (sel) {
    case SEL_PROGRAM:
        fuzz_program(in, size - 1);
        break;
    case SEL_ACTION:
        fuzz_action(in, size - 1);
        break;
    case SEL_ATTESTATION:
        fuzz_attestation(in, size - 1);
        break;
    default:
        fuzz_payload(PAYLOAD_KINDS[sel - SEL_PAYLOAD], in, size - 1);
    }
    free(in);
    return 0;
}
