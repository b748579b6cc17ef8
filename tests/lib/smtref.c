#include "tests/lib/smtref.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static void hash_tagged(const char *tag, const uint8_t a[32], const uint8_t b[32],
                        uint8_t out[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)tag, strlen(tag));
    crypto_generichash_update(&st, a, 32);
    crypto_generichash_update(&st, b, 32);
    crypto_generichash_final(&st, out, 32);
}

void smtref_leaf(const uint8_t key[SMT_KEY_LEN], const uint8_t value[SMT_HASH_LEN],
                 uint8_t out[SMT_HASH_LEN])
{
    hash_tagged("adnet/smt/leaf", key, value, out);
}

void smtref_node(const uint8_t left[SMT_HASH_LEN], const uint8_t right[SMT_HASH_LEN],
                 uint8_t out[SMT_HASH_LEN])
{
    hash_tagged("adnet/smt/node", left, right, out);
}

static unsigned bit(const uint8_t *k, unsigned i)
{
    return (k[i / 8] >> (7 - i % 8)) & 1;
}

/* The root of kv[0..n) below depth d; kv is reordered (partitioned by bit d
 * at each level), which the root does not depend on. */
static void root_at(const smtref_kv_t **kv, size_t n, unsigned d, uint8_t out[SMT_HASH_LEN])
{
    uint8_t left[SMT_HASH_LEN], right[SMT_HASH_LEN];
    size_t n_left = 0;
    if (n == 0) {
        memset(out, 0, SMT_HASH_LEN);
        return;
    }
    if (n == 1) {
        smtref_leaf(kv[0]->key, kv[0]->value, out);
        return;
    }
    if (d >= SMT_DEPTH)
        abort(); /* two equal keys: not a tree */
    for (size_t i = 0; i < n; i++) {
        if (bit(kv[i]->key, d) == 0) {
            const smtref_kv_t *t = kv[i];
            kv[i] = kv[n_left];
            kv[n_left++] = t;
        }
    }
    root_at(kv, n_left, d + 1, left);
    root_at(kv + n_left, n - n_left, d + 1, right);
    smtref_node(left, right, out);
}

void smtref_root(const smtref_kv_t *kv, size_t n, uint8_t out[SMT_HASH_LEN])
{
    const smtref_kv_t **p = malloc((n > 0 ? n : 1) * sizeof *p);
    if (p == NULL)
        abort();
    for (size_t i = 0; i < n; i++)
        p[i] = &kv[i];
    root_at(p, n, 0, out);
    free(p);
}
