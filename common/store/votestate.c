/* The vote sign-state; see votestate.h and docs/consensus.md. */
#include "common/store/votestate.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/fsutil.h"
#include "common/base/hex.h"

#define HEX_LEN (2 * BLOCK_HASH_LEN)
#define ROUND_MAX 0x7fffffffu

static const char *const STEP_NAMES[] = {NULL, "propose", "prevote", "precommit"};

static int errf(char *err, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int errf(char *err, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, VOTESTATE_ERR_MAX, fmt, ap);
    va_end(ap);
    return rc;
}

void votestate_init(votestate_t *s, const char *chain_id)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->chain_id, sizeof(s->chain_id), "%s", chain_id);
}

int votestate_format(const votestate_t *s, char *out, size_t cap)
{
    char v[HEX_LEN + 1];
    hex_encode(v, s->value, BLOCK_HASH_LEN);
    json_t *o = json_pack("{s:s,s:I,s:I,s:s,s:s,s:i}", "chain_id", s->chain_id, "height",
                          (json_int_t)s->height, "round", (json_int_t)s->round, "step",
                          STEP_NAMES[s->step], "value", v, "version", VOTESTATE_VERSION);
    if (!o)
        return -ENOBUFS;
    /* Keys sorted, one line and a newline: one state reads one way. */
    size_t n = json_dumpb(o, out, cap, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (n == 0 || n + 2 > cap)
        return -ENOBUFS;
    out[n] = '\n';
    out[n + 1] = '\0';
    return (int)n + 1;
}

int votestate_parse(votestate_t *s, const char *text, size_t len, char err[VOTESTATE_ERR_MAX])
{
    static const char *const keys[] = {"chain_id", "height", "round", "step", "value",
                                       "version"};
    json_error_t jerr;
    votestate_t t;
    json_t *o;
    const char *key, *str;
    json_t *v;
    int rc = -EBADMSG;

    if (len > VOTESTATE_MAX_BYTES)
        return errf(err, -EBADMSG, "longer than %d bytes", VOTESTATE_MAX_BYTES);
    if (!(o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)))
        return errf(err, -EBADMSG, "line %d: %s", jerr.line, jerr.text);
    memset(&t, 0, sizeof(t));
    t.signed_any = true;
    if (!json_is_object(o) || json_object_size(o) != sizeof(keys) / sizeof(keys[0])) {
        errf(err, rc, "expected one object with exactly chain_id, height, round, step, value, "
             "version");
        goto out;
    }
    json_object_foreach(o, key, v) {
        bool known = false;
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            known |= strcmp(key, keys[i]) == 0;
        if (!known) {
            errf(err, rc, "unknown key \"%s\"", key);
            goto out;
        }
    }
    v = json_object_get(o, "version");
    if (!json_is_integer(v) || json_integer_value(v) != VOTESTATE_VERSION) {
        rc = errf(err, -EPROTONOSUPPORT, "version must be %d", VOTESTATE_VERSION);
        goto out;
    }
    str = json_string_value(json_object_get(o, "chain_id"));
    if (!str || !*str || strlen(str) > BLOCK_CHAIN_ID_MAX) {
        errf(err, rc, "\"chain_id\" must be 1..%d characters", BLOCK_CHAIN_ID_MAX);
        goto out;
    }
    snprintf(t.chain_id, sizeof(t.chain_id), "%s", str);
    v = json_object_get(o, "height");
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        errf(err, rc, "\"height\" must be an integer from 0 to %" PRId64, INT64_MAX);
        goto out;
    }
    t.height = (uint64_t)json_integer_value(v);
    v = json_object_get(o, "round");
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > ROUND_MAX) {
        errf(err, rc, "\"round\" must be an integer from 0 to %u", ROUND_MAX);
        goto out;
    }
    t.round = (uint32_t)json_integer_value(v);
    str = json_string_value(json_object_get(o, "step"));
    for (uint8_t i = VOTESTATE_PROPOSE; str && i <= VOTESTATE_PRECOMMIT; i++)
        if (strcmp(str, STEP_NAMES[i]) == 0)
            t.step = i;
    if (!t.step) {
        errf(err, rc, "\"step\" must be propose, prevote or precommit");
        goto out;
    }
    str = json_string_value(json_object_get(o, "value"));
    bool hex_ok = str && strlen(str) == HEX_LEN;
    for (size_t i = 0; hex_ok && i < HEX_LEN; i++)
        hex_ok = (str[i] >= '0' && str[i] <= '9') || (str[i] >= 'a' && str[i] <= 'f');
    if (!hex_ok || hex_decode(t.value, BLOCK_HASH_LEN, str) != 0) {
        errf(err, rc, "\"value\" must be %d lowercase hex digits", HEX_LEN);
        goto out;
    }
    *s = t;
    rc = 0;
out:
    json_decref(o);
    return rc;
}

int votestate_load(votestate_t *s, const char *path, const char *chain_id,
                   char err[VOTESTATE_ERR_MAX])
{
    char *text = NULL, perr[VOTESTATE_ERR_MAX];
    size_t len = 0;
    votestate_t t;
    int rc = fs_read_file(path, VOTESTATE_MAX_BYTES, &text, &len);
    if (rc == -ENOENT) {
        votestate_init(s, chain_id);
        return 0;
    }
    if (rc < 0)
        return errf(err, rc == -EFBIG ? -EBADMSG : rc, "%s: %s", path,
                    rc == -EFBIG ? "longer than a vote state can be" : strerror(-rc));
    rc = votestate_parse(&t, text, len, perr);
    free(text);
    if (rc < 0)
        return errf(err, rc, "%s: %s; a validator does not sign without its record of what "
                    "it signed (restore the file, or move it aside only if this key never "
                    "signed on this chain)", path, perr);
    if (strcmp(t.chain_id, chain_id) != 0)
        return errf(err, -EXDEV, "%s is the vote state of chain %s, not %s", path, t.chain_id,
                    chain_id);
    *s = t;
    return 0;
}

/* -1, 0, 1 as (h, r, step) comes before, is, or comes after s's. */
static int hrs_cmp(const votestate_t *s, uint64_t h, uint32_t r, uint8_t step)
{
    if (h != s->height)
        return h < s->height ? -1 : 1;
    if (r != s->round)
        return r < s->round ? -1 : 1;
    if (step != s->step)
        return step < s->step ? -1 : 1;
    return 0;
}

int votestate_check(const votestate_t *s, uint64_t height, uint32_t round, uint8_t step,
                    const uint8_t value[BLOCK_HASH_LEN], char err[VOTESTATE_ERR_MAX])
{
    if (step < VOTESTATE_PROPOSE || step > VOTESTATE_PRECOMMIT || round > ROUND_MAX)
        return errf(err, -EINVAL, "no step %u or round %u", step, round);
    if (!s->signed_any)
        return 0;
    int c = hrs_cmp(s, height, round, step);
    if (c > 0)
        return 0;
    if (c < 0)
        return errf(err, -ESTALE, "refusing to sign %s at height %" PRIu64 " round %u: this "
                    "validator signed %s at height %" PRIu64 " round %u already, which comes "
                    "after it", STEP_NAMES[step], height, round, STEP_NAMES[s->step],
                    s->height, s->round);
    if (memcmp(s->value, value, BLOCK_HASH_LEN) != 0) {
        char had[HEX_LEN + 1], want[HEX_LEN + 1];
        hex_encode(had, s->value, BLOCK_HASH_LEN);
        hex_encode(want, value, BLOCK_HASH_LEN);
        return errf(err, -EEXIST, "refusing to sign %s at height %" PRIu64 " round %u for "
                    "%.16s...: this validator signed it for %.16s... already, and two "
                    "different votes for one step are equivocation", STEP_NAMES[step], height,
                    round, want, had);
    }
    return 0; /* the very step again: a resend */
}

int votestate_sign(votestate_t *s, const char *path, uint64_t height, uint32_t round,
                   uint8_t step, const uint8_t value[BLOCK_HASH_LEN],
                   char err[VOTESTATE_ERR_MAX])
{
    char text[VOTESTATE_MAX_BYTES];
    votestate_t next;
    int rc, n;
    if ((rc = votestate_check(s, height, round, step, value, err)) < 0)
        return rc;
    if (s->signed_any && hrs_cmp(s, height, round, step) == 0)
        return 0; /* recorded already */
    next = *s;
    next.signed_any = true;
    next.height = height;
    next.round = round;
    next.step = step;
    memcpy(next.value, value, BLOCK_HASH_LEN);
    if (height > INT64_MAX || (n = votestate_format(&next, text, sizeof(text))) < 0)
        return errf(err, -EINVAL, "a vote state that cannot be written (height %" PRIu64 ")",
                    height);
    if ((rc = fs_write_file(path, text, (size_t)n, 0600, true)) < 0)
        return errf(err, rc, "%s: %s (the vote is not sent)", path, strerror(-rc));
    *s = next;
    return 0;
}
