/* Genesis signatures; see genesis_sig.h. */
#include "common/store/genesis_sig.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/fsutil.h"
#include "common/base/hex.h"

static const char TAG[] = "adnet/genesis-sign/v1";

static int errf(char *err, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int errf(char *err, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, GENESIS_SIG_ERR_MAX, fmt, ap);
    va_end(ap);
    return rc;
}

/* The signed bytes: tag || chain_id || 0 || hash, into m; its length. */
static size_t sig_message(const char *chain_id, const uint8_t hash[BLOCK_HASH_LEN],
                          uint8_t m[sizeof(TAG) + BLOCK_CHAIN_ID_MAX + 1 + BLOCK_HASH_LEN])
{
    size_t n = 0, idlen = strnlen(chain_id, BLOCK_CHAIN_ID_MAX);
    memcpy(m, TAG, sizeof(TAG) - 1);
    n += sizeof(TAG) - 1;
    memcpy(m + n, chain_id, idlen);
    n += idlen;
    m[n++] = 0;
    memcpy(m + n, hash, BLOCK_HASH_LEN);
    return n + BLOCK_HASH_LEN;
}

void genesis_sig_make(const genesis_t *g, const uint8_t pk[BLOCK_KEY_LEN], const uint8_t sk[64],
                      genesis_sig_t *s)
{
    uint8_t m[sizeof(TAG) + BLOCK_CHAIN_ID_MAX + 1 + BLOCK_HASH_LEN];
    size_t n = sig_message(g->chain_id, g->hash, m);
    memcpy(s->pk, pk, BLOCK_KEY_LEN);
    crypto_sign_detached(s->sig, NULL, m, n, sk);
}

static int get_hex(const json_t *v, uint8_t *out, size_t n)
{
    const char *s = json_string_value(v);
    return s && strlen(s) == 2 * n && hex_decode(out, n, s) == 0 ? 0 : -EBADMSG;
}

static int sigs_parse(genesis_sigs_t *out, const char *text, size_t len, char *err)
{
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr), *arr;
    const char *id;
    int rc = -EBADMSG;
    genesis_sigs_t *t = calloc(1, sizeof(*t));
    if (!t) {
        json_decref(o);
        return errf(err, -ENOMEM, "out of memory");
    }
    if (!o) {
        errf(err, rc, "line %d: %s", jerr.line, jerr.text);
        goto out;
    }
    id = json_string_value(json_object_get(o, "chain_id"));
    arr = json_object_get(o, "signatures");
    if (!json_is_object(o) || json_object_size(o) != 3 || !id || !*id ||
        strlen(id) > BLOCK_CHAIN_ID_MAX ||
        get_hex(json_object_get(o, "genesis_hash"), t->genesis_hash, BLOCK_HASH_LEN) < 0 ||
        !json_is_array(arr) || json_array_size(arr) > GENESIS_MAX_GOVERNORS) {
        errf(err, rc, "expected {\"chain_id\", \"genesis_hash\": 64 hex digits, \"signatures\": "
             "[at most %d]}", GENESIS_MAX_GOVERNORS);
        goto out;
    }
    snprintf(t->chain_id, sizeof(t->chain_id), "%s", id);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *e = json_array_get(arr, i);
        if (!json_is_object(e) || json_object_size(e) != 2 ||
            get_hex(json_object_get(e, "public_key"), t->sigs[i].pk, BLOCK_KEY_LEN) < 0 ||
            get_hex(json_object_get(e, "signature"), t->sigs[i].sig, BLOCK_SIG_LEN) < 0) {
            errf(err, rc, "signatures[%zu]: expected {\"public_key\": 64 hex digits, "
                 "\"signature\": 128 hex digits}", i);
            goto out;
        }
    }
    t->n = json_array_size(arr);
    *out = *t;
    rc = 0;
out:
    free(t);
    json_decref(o);
    return rc;
}

int genesis_sigs_load(genesis_sigs_t *out, const char *path, char err[GENESIS_SIG_ERR_MAX])
{
    char *text = NULL, perr[GENESIS_SIG_ERR_MAX];
    size_t len = 0;
    int rc = fs_read_file(path, GENESIS_SIGS_MAX_BYTES, &text, &len);
    if (rc < 0)
        return errf(err, rc, "%s: %s", path, strerror(-rc));
    rc = sigs_parse(out, text, len, perr);
    free(text);
    return rc < 0 ? errf(err, rc, "%s: %s", path, perr) : 0;
}

static int sigs_store(const char *path, const genesis_sigs_t *s, char *err)
{
    char hex[2 * BLOCK_SIG_LEN + 1];
    json_t *arr = json_array(), *o;
    int rc;
    for (size_t i = 0; arr && i < s->n; i++) {
        json_t *e = json_object();
        hex_encode(hex, s->sigs[i].pk, BLOCK_KEY_LEN);
        json_object_set_new(e, "public_key", json_string(hex));
        hex_encode(hex, s->sigs[i].sig, BLOCK_SIG_LEN);
        json_object_set_new(e, "signature", json_string(hex));
        json_array_append_new(arr, e);
    }
    hex_encode(hex, s->genesis_hash, BLOCK_HASH_LEN);
    o = json_pack("{s:s,s:s,s:o}", "chain_id", s->chain_id, "genesis_hash", hex, "signatures",
                  arr);
    char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text)
        return errf(err, -ENOMEM, "out of memory");
    size_t n = strlen(text);
    text[n] = '\n';
    rc = fs_write_file(path, text, n + 1, 0644, true);
    free(text);
    return rc < 0 ? errf(err, rc, "%s: %s", path, strerror(-rc)) : 0;
}

int genesis_sigs_add(const char *path, const genesis_t *g, const genesis_sig_t *s,
                     char err[GENESIS_SIG_ERR_MAX])
{
    genesis_sigs_t *all = calloc(1, sizeof(*all));
    int rc;
    if (!all)
        return errf(err, -ENOMEM, "out of memory");
    rc = genesis_sigs_load(all, path, err);
    if (rc == -ENOENT) {
        snprintf(all->chain_id, sizeof(all->chain_id), "%s", g->chain_id);
        memcpy(all->genesis_hash, g->hash, BLOCK_HASH_LEN);
        all->n = 0;
        rc = 0;
    }
    if (rc < 0)
        goto out;
    if (strcmp(all->chain_id, g->chain_id) != 0 ||
        memcmp(all->genesis_hash, g->hash, BLOCK_HASH_LEN) != 0) {
        rc = errf(err, -EXDEV, "%s holds signatures of another genesis; it is kept as it is",
                  path);
        goto out;
    }
    for (size_t i = 0; i < all->n; i++)
        if (memcmp(all->sigs[i].pk, s->pk, BLOCK_KEY_LEN) == 0) {
            rc = memcmp(all->sigs[i].sig, s->sig, BLOCK_SIG_LEN) == 0
                     ? 0
                     : errf(err, -EEXIST, "%s has a signature of this key already; it is kept",
                            path);
            goto out;
        }
    if (all->n == GENESIS_MAX_GOVERNORS) {
        rc = errf(err, -ENOSPC, "%s is full (%d signatures)", path, GENESIS_MAX_GOVERNORS);
        goto out;
    }
    all->sigs[all->n++] = *s;
    rc = sigs_store(path, all, err);
out:
    free(all);
    return rc;
}

int genesis_sigs_verify(const genesis_t *g, const genesis_sigs_t *sigs, size_t *good,
                        char err[GENESIS_SIG_ERR_MAX])
{
    uint8_t m[sizeof(TAG) + BLOCK_CHAIN_ID_MAX + 1 + BLOCK_HASH_LEN];
    size_t n = sig_message(g->chain_id, g->hash, m), ok = 0;
    uint64_t thr = g->gov_threshold_bps ? g->gov_threshold_bps : GENESIS_THRESHOLD_BPS_DEFAULT;
    char hex[2 * BLOCK_KEY_LEN + 1];
    *good = 0;
    if (strcmp(sigs->chain_id, g->chain_id) != 0 ||
        memcmp(sigs->genesis_hash, g->hash, BLOCK_HASH_LEN) != 0)
        return errf(err, -EXDEV, "the signatures are of another genesis (chain %s)",
                    sigs->chain_id);
    for (size_t i = 0; i < sigs->n; i++) {
        bool governor = false;
        hex_encode(hex, sigs->sigs[i].pk, BLOCK_KEY_LEN);
        for (size_t k = 0; k < g->n_governors; k++)
            governor |= memcmp(g->governors[k], sigs->sigs[i].pk, BLOCK_KEY_LEN) == 0;
        if (!governor)
            return errf(err, -EPERM, "signatures[%zu]: %.16s... is not a governor of this "
                        "genesis", i, hex);
        for (size_t k = 0; k < i; k++)
            if (memcmp(sigs->sigs[k].pk, sigs->sigs[i].pk, BLOCK_KEY_LEN) == 0)
                return errf(err, -EPERM, "signatures[%zu]: governor %.16s... signed twice", i,
                            hex);
        if (crypto_sign_verify_detached(sigs->sigs[i].sig, m, n, sigs->sigs[i].pk) != 0)
            return errf(err, -EBADMSG, "signatures[%zu]: the signature of governor %.16s... "
                        "does not verify over this genesis", i, hex);
        ok++;
    }
    *good = ok;
    if (g->n_governors == 0 || ok * 10000 < thr * g->n_governors)
        return errf(err, -EACCES, "%zu of %zu governors signed this genesis; %llu bps needs "
                    "%llu", ok, g->n_governors, (unsigned long long)thr,
                    (unsigned long long)((thr * g->n_governors + 9999) / 10000));
    return 0;
}
