/* The commit record; see commitrec.h and docs/ledger.md. */
#include "common/store/commitrec.h"

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
#define N_KEYS 6 /* version, chain_id, genesis_hash, height, hash, time_ms */

static void errf(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void errf(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, COMMITREC_ERR_MAX, fmt, ap);
    va_end(ap);
}

int commitrec_format(const commitrec_t *r, char *out, size_t cap)
{
    char gh[HEX_LEN + 1], h[HEX_LEN + 1];
    size_t idlen = strnlen(r->chain_id, sizeof r->chain_id);
    json_t *o = NULL;
    int rc = -EINVAL;

    if (r->height > INT64_MAX || r->time_ms > INT64_MAX || idlen == 0 ||
        idlen >= sizeof r->chain_id)
        goto out;
    hex_encode(gh, r->genesis_hash, BLOCK_HASH_LEN);
    hex_encode(h, r->hash, BLOCK_HASH_LEN);
    o = json_pack("{s:s%,s:s,s:s,s:I,s:I,s:i}", "chain_id", r->chain_id, idlen, "genesis_hash",
                  gh, "hash", h, "height", (json_int_t)r->height, "time_ms",
                  (json_int_t)r->time_ms, "version", COMMITREC_VERSION);
    if (o == NULL)
        goto out;
    /* Keys sorted, one line and a newline: the same record always reads the same. */
    size_t n = json_dumpb(o, out, cap, JSON_COMPACT | JSON_SORT_KEYS);
    rc = n == 0 || n + 2 > cap ? -ENOBUFS : (int)n + 1;
    if (rc > 0) {
        out[n] = '\n';
        out[n + 1] = '\0';
    }
out:
    json_decref(o);
    return rc;
}

/* A 64-digit lowercase hex string into out[BLOCK_HASH_LEN]. */
static int get_hash(json_t *v, const char *key, uint8_t out[BLOCK_HASH_LEN], char *err)
{
    const char *s = json_string_value(v);
    bool ok = s != NULL && json_string_length(v) == HEX_LEN;
    for (size_t i = 0; ok && i < HEX_LEN; i++)
        ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
    if (!ok || hex_decode(out, BLOCK_HASH_LEN, s) != 0) {
        errf(err, "\"%s\" must be %d lowercase hex digits", key, HEX_LEN);
        return -EBADMSG;
    }
    return 0;
}

/* An integer in 0..INT64_MAX. */
static int get_u64(json_t *v, const char *key, uint64_t *out, char *err)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        errf(err, "\"%s\" must be an integer from 0 to %" PRId64, key, INT64_MAX);
        return -EBADMSG;
    }
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* A chain id as genesis allows it: 1..BLOCK_CHAIN_ID_MAX bytes, no NUL. */
static int get_chain_id(json_t *v, char out[BLOCK_CHAIN_ID_MAX + 1], char *err)
{
    const char *s = json_string_value(v);
    size_t n = s != NULL ? json_string_length(v) : 0;
    if (n == 0 || n > BLOCK_CHAIN_ID_MAX || strlen(s) != n) {
        errf(err, "\"chain_id\" must be a string of 1 to %d bytes", BLOCK_CHAIN_ID_MAX);
        return -EBADMSG;
    }
    memcpy(out, s, n + 1);
    return 0;
}

/* The fields of a parsed object into *r. */
static int parse_fields(json_t *o, commitrec_t *r, char *err)
{
    static const uint8_t zero[BLOCK_HASH_LEN];
    uint64_t version = 0;
    int rc;

    if (json_object_size(o) != N_KEYS || json_object_get(o, "version") == NULL) {
        errf(err, "expected exactly the keys chain_id, genesis_hash, hash, height, time_ms "
                  "and version");
        return -EBADMSG;
    }
    if ((rc = get_u64(json_object_get(o, "version"), "version", &version, err)) != 0)
        return rc;
    if (version != COMMITREC_VERSION) {
        errf(err, "version %" PRIu64 " is not %d, the one this binary reads", version,
             COMMITREC_VERSION);
        return -EPROTONOSUPPORT;
    }
    if ((rc = get_chain_id(json_object_get(o, "chain_id"), r->chain_id, err)) != 0 ||
        (rc = get_hash(json_object_get(o, "genesis_hash"), "genesis_hash", r->genesis_hash,
                       err)) != 0 ||
        (rc = get_hash(json_object_get(o, "hash"), "hash", r->hash, err)) != 0 ||
        (rc = get_u64(json_object_get(o, "height"), "height", &r->height, err)) != 0 ||
        (rc = get_u64(json_object_get(o, "time_ms"), "time_ms", &r->time_ms, err)) != 0)
        return rc;
    if (r->height == 0 && memcmp(r->hash, zero, BLOCK_HASH_LEN) != 0) {
        errf(err, "a record at height 0 has no block hash");
        return -EBADMSG;
    }
    return 0;
}

int commitrec_parse(commitrec_t *out, const char *text, size_t len, char err[COMMITREC_ERR_MAX])
{
    json_error_t jerr;
    json_t *o = NULL;
    commitrec_t r;
    int rc = -EBADMSG;

    memset(&r, 0, sizeof r);
    if (len > COMMITREC_MAX_BYTES) {
        errf(err, "%zu bytes, more than a record's %d", len, COMMITREC_MAX_BYTES);
        goto out;
    }
    o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL || !json_is_object(o)) {
        errf(err, "not one JSON object (%s)", o == NULL ? jerr.text : "another JSON value");
        goto out;
    }
    if ((rc = parse_fields(o, &r, err)) != 0)
        goto out;
    *out = r;
out:
    json_decref(o);
    return rc;
}

int commitrec_load(commitrec_t *out, const char *path, char err[COMMITREC_ERR_MAX])
{
    char *text = NULL, why[COMMITREC_ERR_MAX];
    size_t len = 0;
    int rc = fs_read_file(path, COMMITREC_MAX_BYTES, &text, &len);

    if (rc == -ENOENT) {
        errf(err, "%s: no commit record", path);
        goto out;
    }
    if (rc == -EFBIG) {
        errf(err, "%s: more than %d bytes: not a commit record; restore it from a backup",
             path, COMMITREC_MAX_BYTES);
        rc = -EBADMSG;
        goto out;
    }
    if (rc < 0) {
        errf(err, "%s: cannot read: %s", path, strerror(-rc));
        goto out;
    }
    if ((rc = commitrec_parse(out, text, len, why)) != 0)
        errf(err, "%s: not a valid commit record: %s; restore it from a backup (it says which "
                  "block this node signed last)", path, why);
out:
    free(text);
    return rc;
}

int commitrec_store(const commitrec_t *r, const char *path, char err[COMMITREC_ERR_MAX])
{
    char text[COMMITREC_MAX_BYTES];
    int n = commitrec_format(r, text, sizeof text), rc;

    if (n < 0) {
        errf(err, "%s: cannot format the record of height %" PRIu64, path, r->height);
        return n;
    }
    if ((rc = fs_write_file(path, text, (size_t)n, 0600, true)) < 0)
        errf(err, "%s: cannot write the record of height %" PRIu64 ": %s", path, r->height,
             strerror(-rc));
    return rc;
}

bool commitrec_is_for(const commitrec_t *r, const char *chain_id,
                      const uint8_t genesis_hash[BLOCK_HASH_LEN])
{
    return strcmp(r->chain_id, chain_id) == 0 &&
           memcmp(r->genesis_hash, genesis_hash, BLOCK_HASH_LEN) == 0;
}

void commitrec_from_tip(commitrec_t *out, const char *chain_id,
                        const uint8_t genesis_hash[BLOCK_HASH_LEN], const ledger_tip_t *tip)
{
    memset(out, 0, sizeof *out);
    snprintf(out->chain_id, sizeof out->chain_id, "%s", chain_id);
    memcpy(out->genesis_hash, genesis_hash, BLOCK_HASH_LEN);
    out->height = tip->height;
    out->time_ms = tip->time_ms;
    if (tip->height > 0)
        memcpy(out->hash, tip->hash, BLOCK_HASH_LEN);
}

/* What the ledger is, when it falls short of r, into what[cap]; "" if it does not. */
static void shortfall(const commitrec_t *r, const ledger_peek_t *p, const char *ledger_path,
                      char *what, size_t cap)
{
    char hex[HEX_LEN + 1];
    what[0] = '\0';
    if (!p->exists)
        snprintf(what, cap, "ledger %s is missing", ledger_path);
    else if (p->size == 0)
        snprintf(what, cap, "ledger %s is empty (0 bytes)", ledger_path);
    else if (!p->has_genesis)
        snprintf(what, cap, "ledger %s has no genesis state", ledger_path);
    else if (p->tip.height < r->height)
        snprintf(what, cap, "ledger %s is at height %" PRIu64, ledger_path, p->tip.height);
    else if (r->height > 0 && memcmp(p->at_hash, r->hash, BLOCK_HASH_LEN) != 0) {
        hex_encode(hex, p->at_hash, BLOCK_HASH_LEN);
        snprintf(what, cap, "ledger %s holds block %" PRIu64 " with hash %s", ledger_path,
                 r->height, hex);
    }
}

int commitrec_check(const commitrec_t *r, const ledger_peek_t *peek, const char *ledger_path,
                    const char *record_path, char err[COMMITREC_ERR_MAX])
{
    char what[COMMITREC_ERR_MAX / 2], hex[HEX_LEN + 1];
    uint64_t from = peek->exists && peek->has_genesis && peek->tip.height < r->height
                        ? peek->tip.height + 1 : 1;

    shortfall(r, peek, ledger_path, what, sizeof what);
    if (what[0] == '\0')
        return 0;
    if (r->height == 0) {
        errf(err, "%s but this node made it from genesis before: the ledger was removed or "
                  "replaced; restore it, or move %s aside to make it again", what, record_path);
        return -ESTALE;
    }
    hex_encode(hex, r->hash, BLOCK_HASH_LEN);
    errf(err, "%s but this node committed %" PRIu64 " (hash %s): the ledger lost blocks; "
              "restore it from a backup that holds block %" PRIu64 " (adnet restore; the "
              "way in production), or, on a single-validator devnet only, give them up with "
              "adnet run --allow-resign (or move %s aside): this validator may then sign "
              "heights %" PRIu64 " to %" PRIu64 " again",
         what, r->height, hex, r->height, record_path, from, r->height);
    return -ESTALE;
}

bool commitrec_allows(const commitrec_t *r, uint64_t height, const uint8_t hash[BLOCK_HASH_LEN])
{
    return height > r->height ||
           (height == r->height && height > 0 && memcmp(hash, r->hash, BLOCK_HASH_LEN) == 0);
}
