#include "common/base/keys.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/base/fsutil.h"
#include "common/base/hex.h"

int keys_name_is_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > KEYS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return name[0] != '.';
}

int keys_generate(keys_pair_t *kp, const char *name)
{
    if (!keys_name_is_valid(name))
        return -EINVAL;
    if (sodium_init() < 0)
        return -EIO;
    memset(kp, 0, sizeof(*kp));
    snprintf(kp->name, sizeof(kp->name), "%s", name);
    crypto_sign_keypair(kp->pk, kp->sk);
    return 0;
}

int keys_save(const keys_pair_t *kp, const char *path, int overwrite)
{
    char pkhex[2 * sizeof(kp->pk) + 1], skhex[2 * sizeof(kp->sk) + 1];
    hex_encode(pkhex, kp->pk, sizeof(kp->pk));
    hex_encode(skhex, kp->sk, sizeof(kp->sk));
    char *text = NULL;
    int r = 0;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "name", kp->name, "type", "ed25519",
                          "public_key", pkhex, "secret_key", skhex);
    sodium_memzero(skhex, sizeof(skhex));
    if (!o)
        return -ENOMEM;
    text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text)
        return -ENOMEM;
    size_t len = strlen(text);
    r = fs_write_file(path, text, len, 0600, overwrite != 0);
    sodium_memzero(text, len);
    free(text);
    return r;
}

int keys_load(keys_pair_t *kp, const char *path, char err[KEYS_ERR_MAX])
{
    struct stat st;
    char *text = NULL;
    json_t *o = NULL;
    keys_pair_t tmp;
    int r = 0;
    json_error_t jerr;

    if (stat(path, &st) < 0) {
        r = -errno;
        snprintf(err, KEYS_ERR_MAX, "%s: %s", path, strerror(errno));
        return r;
    }
    if (st.st_mode & 077) {
        snprintf(err, KEYS_ERR_MAX,
                 "%s: key file is accessible by group or others (mode %03o); run chmod 600",
                 path, (unsigned)(st.st_mode & 0777));
        return -EPERM;
    }
    if ((r = fs_read_file(path, 64 * 1024, &text, NULL)) < 0) {
        snprintf(err, KEYS_ERR_MAX, "%s: %s", path, strerror(-r));
        return r;
    }
    o = json_loads(text, 0, &jerr);
    if (!o) {
        snprintf(err, KEYS_ERR_MAX, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        r = -EINVAL;
        goto out;
    }
    const char *name = NULL, *pk = NULL, *sk = NULL;
    if (json_unpack_ex(o, &jerr, 0, "{s:s, s:s, s:s}", "name", &name, "public_key", &pk,
                       "secret_key", &sk) < 0) {
        snprintf(err, KEYS_ERR_MAX, "%s: %s", path, jerr.text);
        r = -EINVAL;
        goto out;
    }
    memset(&tmp, 0, sizeof(tmp));
    if (!keys_name_is_valid(name) || hex_decode(tmp.pk, sizeof(tmp.pk), pk) < 0 ||
        hex_decode(tmp.sk, sizeof(tmp.sk), sk) < 0) {
        snprintf(err, KEYS_ERR_MAX, "%s: bad name, public_key (64 hex digits) or secret_key "
                 "(128 hex digits)", path);
        r = -EINVAL;
        goto out;
    }
    /* Rebuild the pair from the seed: the sk's second half is only a copy of
     * a public key, and a mismatched seed would sign for another key. */
    uint8_t seed[crypto_sign_SEEDBYTES], dpk[crypto_sign_PUBLICKEYBYTES],
        dsk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_ed25519_sk_to_seed(seed, tmp.sk);
    crypto_sign_seed_keypair(dpk, dsk, seed);
    int same = memcmp(dpk, tmp.pk, sizeof(dpk)) == 0 && sodium_memcmp(dsk, tmp.sk, sizeof(dsk)) == 0;
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(dsk, sizeof(dsk));
    if (!same) {
        snprintf(err, KEYS_ERR_MAX, "%s: secret_key does not match public_key", path);
        r = -EINVAL;
        goto out;
    }
    snprintf(tmp.name, sizeof(tmp.name), "%s", name);
    *kp = tmp;
out:
    sodium_memzero(&tmp, sizeof(tmp));
    json_decref(o);
    if (text) {
        sodium_memzero(text, strlen(text));
        free(text);
    }
    return r;
}

void keys_wipe(keys_pair_t *kp)
{
    if (kp)
        sodium_memzero(kp, sizeof(*kp));
}
