/* common/keys.c: key generation, key files (mode 0600, JSON shape, sk/pk
 * match), refusal messages an operator can act on. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/base/hex.h"
#include "common/base/keys.h"
#include "tests/lib/file.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

/* A directory of its own holding the one key file a test writes. */
typedef struct {
    tmp_dir_t tmp;
    char key[TMP_PATH_MAX];  /* node.key */
} files_t;

static void files_init(files_t *t)
{
    tmp_dir_init(&t->tmp, "keys");
    tmp_dir_path(&t->tmp, "node.key", t->key);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    file_write(path, text);
    ck_assert_int_eq(chmod(path, mode), 0);
}

/* A key pair that differs from kp in every byte, to see whether load wrote it. */
static void poison(keys_pair_t *kp)
{
    memset(kp, 0xa5, sizeof *kp);
}

static int is_poisoned(const keys_pair_t *kp)
{
    const uint8_t *p = (const uint8_t *)kp;
    for (size_t i = 0; i < sizeof *kp; i++)
        if (p[i] != 0xa5)
            return 0;
    return 1;
}

START_TEST(test_generate_valid_pair)
{
    keys_pair_t kp;
    ck_assert_int_eq(keys_generate(&kp, "validator-1"), 0);
    ck_assert_str_eq(kp.name, "validator-1");
    uint8_t derived[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_ed25519_sk_to_pk(derived, kp.sk);
    ck_assert_mem_eq(derived, kp.pk, sizeof derived);

    /* The pair signs and verifies. */
    uint8_t sig[crypto_sign_BYTES];
    const uint8_t msg[] = "hello";
    crypto_sign_detached(sig, NULL, msg, sizeof msg, kp.sk);
    ck_assert_int_eq(crypto_sign_verify_detached(sig, msg, sizeof msg, kp.pk), 0);

    keys_pair_t kp2;
    ck_assert_int_eq(keys_generate(&kp2, "validator-1"), 0);
    ck_assert_int_ne(memcmp(kp.pk, kp2.pk, sizeof kp.pk), 0);
}
END_TEST

START_TEST(test_generate_names)
{
    keys_pair_t kp;
    char n64[65], n65[66];
    memset(n64, 'a', 64);
    n64[64] = '\0';
    memset(n65, 'a', 65);
    n65[65] = '\0';

    ck_assert_int_eq(keys_generate(&kp, "a"), 0);
    ck_assert_int_eq(keys_generate(&kp, "Node_1.v-2"), 0);
    ck_assert_int_eq(keys_generate(&kp, n64), 0);
    ck_assert_str_eq(kp.name, n64);

    poison(&kp);
    ck_assert_int_eq(keys_generate(&kp, ""), -EINVAL);
    ck_assert_int_eq(keys_generate(&kp, NULL), -EINVAL);
    ck_assert_int_eq(keys_generate(&kp, "../x"), -EINVAL);
    ck_assert_int_eq(keys_generate(&kp, "a/b"), -EINVAL);
    ck_assert_int_eq(keys_generate(&kp, ".hidden"), -EINVAL);
    ck_assert_int_eq(keys_generate(&kp, "."), -EINVAL);
    ck_assert_int_eq(keys_generate(&kp, "with space"), -EINVAL);
    ck_assert_int_eq(keys_generate(&kp, "caf\xc3\xa9"), -EINVAL);
    ck_assert_int_eq(keys_generate(&kp, n65), -EINVAL);
    ck_assert(is_poisoned(&kp));
}
END_TEST

START_TEST(test_save_load_round_trip)
{
    files_t t;
    files_init(&t);
    keys_pair_t kp, back;
    char err[KEYS_ERR_MAX] = "";
    ck_assert_int_eq(keys_generate(&kp, "alice"), 0);
    ck_assert_int_eq(keys_save(&kp, t.key, 0), 0);

    struct stat st;
    ck_assert_int_eq(stat(t.key, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);

    /* The file is the documented JSON, lowercase hex. */
    char pkhex[2 * crypto_sign_PUBLICKEYBYTES + 1];
    hex_encode(pkhex, kp.pk, sizeof kp.pk);
    char *text = file_read(t.key, NULL);
    ck_assert_ptr_nonnull(strstr(text, "\"name\": \"alice\""));
    ck_assert_ptr_nonnull(strstr(text, pkhex));
    ck_assert_ptr_nonnull(strstr(text, "\"secret_key\""));
    free(text);

    poison(&back);
    ck_assert_int_eq(keys_load(&back, t.key, err), 0);
    ck_assert_str_eq(back.name, "alice");
    ck_assert_mem_eq(back.pk, kp.pk, sizeof kp.pk);
    ck_assert_mem_eq(back.sk, kp.sk, sizeof kp.sk);
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

START_TEST(test_save_mode_ignores_umask)
{
    files_t t;
    files_init(&t);
    keys_pair_t kp;
    ck_assert_int_eq(keys_generate(&kp, "bob"), 0);
    mode_t old = umask(0);
    int r = keys_save(&kp, t.key, 0);
    umask(old);
    ck_assert_int_eq(r, 0);
    struct stat st;
    ck_assert_int_eq(stat(t.key, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

START_TEST(test_save_refuses_overwrite)
{
    files_t t;
    files_init(&t);
    keys_pair_t a, b, back;
    char err[KEYS_ERR_MAX] = "";
    ck_assert_int_eq(keys_generate(&a, "a"), 0);
    ck_assert_int_eq(keys_generate(&b, "b"), 0);
    ck_assert_int_eq(keys_save(&a, t.key, 0), 0);
    ck_assert_int_eq(keys_save(&b, t.key, 0), -EEXIST);
    ck_assert_int_eq(keys_load(&back, t.key, err), 0);
    ck_assert_mem_eq(back.pk, a.pk, sizeof a.pk); /* first key kept */

    ck_assert_int_eq(keys_save(&b, t.key, 1), 0);
    ck_assert_int_eq(keys_load(&back, t.key, err), 0);
    ck_assert_mem_eq(back.pk, b.pk, sizeof b.pk);
    ck_assert_str_eq(back.name, "b");
    struct stat st;
    ck_assert_int_eq(stat(t.key, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

START_TEST(test_load_refuses_loose_mode)
{
    files_t t;
    files_init(&t);
    keys_pair_t kp, back;
    char err[KEYS_ERR_MAX] = "";
    ck_assert_int_eq(keys_generate(&kp, "alice"), 0);
    ck_assert_int_eq(keys_save(&kp, t.key, 0), 0);

    static const mode_t loose[] = {0644, 0640, 0604, 0660, 0606, 0610};
    for (size_t i = 0; i < sizeof loose / sizeof loose[0]; i++) {
        ck_assert_int_eq(chmod(t.key, loose[i]), 0);
        poison(&back);
        err[0] = '\0';
        ck_assert_int_eq(keys_load(&back, t.key, err), -EPERM);
        ck_assert_ptr_nonnull(strstr(err, "chmod 600"));
        ck_assert_ptr_nonnull(strstr(err, t.key));
        ck_assert(is_poisoned(&back));
    }
    ck_assert_int_eq(chmod(t.key, 0644), 0);
    ck_assert_int_eq(keys_load(&back, t.key, err), -EPERM);
    ck_assert_ptr_nonnull(strstr(err, "644"));

    /* 0400 is as private as 0600. */
    ck_assert_int_eq(chmod(t.key, 0400), 0);
    ck_assert_int_eq(keys_load(&back, t.key, err), 0);
    ck_assert_mem_eq(back.pk, kp.pk, sizeof kp.pk);
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

START_TEST(test_load_missing_file)
{
    keys_pair_t back;
    char err[KEYS_ERR_MAX] = "";
    poison(&back);
    ck_assert_int_eq(keys_load(&back, "/nonexistent/adnet/node.key", err), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/adnet/node.key"));
    ck_assert(is_poisoned(&back));
}
END_TEST

START_TEST(test_load_refuses_mismatched_secret)
{
    files_t t;
    files_init(&t);
    keys_pair_t a, b, back;
    char err[KEYS_ERR_MAX] = "";
    char pkhex[2 * crypto_sign_PUBLICKEYBYTES + 1], skhex[2 * crypto_sign_SECRETKEYBYTES + 1];
    char text[512];
    ck_assert_int_eq(keys_generate(&a, "a"), 0);
    ck_assert_int_eq(keys_generate(&b, "b"), 0);
    hex_encode(pkhex, a.pk, sizeof a.pk);
    hex_encode(skhex, b.sk, sizeof b.sk);
    snprintf(text, sizeof text,
             "{\"name\": \"a\", \"type\": \"ed25519\", \"public_key\": \"%s\", "
             "\"secret_key\": \"%s\"}\n", pkhex, skhex);
    write_text(t.key, text, 0600);
    poison(&back);
    ck_assert_int_eq(keys_load(&back, t.key, err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "secret_key does not match public_key"));
    ck_assert_ptr_nonnull(strstr(err, t.key));
    ck_assert(is_poisoned(&back));

    /* Same secret key with its seed half kept but the embedded public half
     * of another key: sk_to_pk reads the embedded half, so this too must be
     * refused as a mismatch. */
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    memcpy(sk, a.sk, 32);
    memcpy(sk + 32, b.pk, 32);
    hex_encode(pkhex, a.pk, sizeof a.pk);
    hex_encode(skhex, sk, sizeof sk);
    snprintf(text, sizeof text,
             "{\"name\": \"a\", \"public_key\": \"%s\", \"secret_key\": \"%s\"}\n", pkhex, skhex);
    write_text(t.key, text, 0600);
    ck_assert_int_eq(keys_load(&back, t.key, err), -EINVAL);
    ck_assert(is_poisoned(&back));
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

/* A secret key whose seed belongs to another key pair is refused: its
 * stored public half alone would pass, but it would sign for another key. */
START_TEST(test_load_refuses_foreign_seed)
{
    files_t t;
    files_init(&t);
    keys_pair_t a, b, back;
    char err[KEYS_ERR_MAX] = "", text[512];
    char pkhex[2 * crypto_sign_PUBLICKEYBYTES + 1], skhex[2 * crypto_sign_SECRETKEYBYTES + 1];
    ck_assert_int_eq(keys_generate(&a, "a"), 0);
    ck_assert_int_eq(keys_generate(&b, "b"), 0);
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    memcpy(sk, b.sk, 32);          /* b's seed */
    memcpy(sk + 32, a.pk, 32);     /* a's public half */

    /* Such a secret key does not sign for a.pk. */
    uint8_t sig[crypto_sign_BYTES];
    const uint8_t msg[] = "block";
    crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
    ck_assert_int_ne(crypto_sign_verify_detached(sig, msg, sizeof msg, a.pk), 0);

    hex_encode(pkhex, a.pk, sizeof a.pk);
    hex_encode(skhex, sk, sizeof sk);
    snprintf(text, sizeof text,
             "{\"name\": \"a\", \"public_key\": \"%s\", \"secret_key\": \"%s\"}\n", pkhex, skhex);
    write_text(t.key, text, 0600);
    poison(&back);
    ck_assert_int_eq(keys_load(&back, t.key, err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "secret_key does not match public_key"));
    ck_assert(is_poisoned(&back));
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

START_TEST(test_load_refuses_malformed_json)
{
    files_t t;
    files_init(&t);
    keys_pair_t back;
    char err[KEYS_ERR_MAX] = "", want[TMP_PATH_MAX + 8];
    write_text(t.key, "{\n  \"name\": \"a\",\n  \"public_key\" \"00\"\n}\n", 0600);
    poison(&back);
    ck_assert_int_eq(keys_load(&back, t.key, err), -EINVAL);
    /* file:line:col, pointing at line 3 where the ':' is missing. */
    snprintf(want, sizeof want, "%s:3:", t.key);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "err was: %s", err);
    ck_assert(is_poisoned(&back));

    write_text(t.key, "", 0600);
    ck_assert_int_eq(keys_load(&back, t.key, err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, t.key));
    ck_assert(is_poisoned(&back));
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

START_TEST(test_load_refuses_bad_shape)
{
    files_t t;
    files_init(&t);
    keys_pair_t kp, back;
    char err[KEYS_ERR_MAX] = "", text[512];
    char pkhex[2 * crypto_sign_PUBLICKEYBYTES + 1], skhex[2 * crypto_sign_SECRETKEYBYTES + 1];
    ck_assert_int_eq(keys_generate(&kp, "a"), 0);
    hex_encode(pkhex, kp.pk, sizeof kp.pk);
    hex_encode(skhex, kp.sk, sizeof kp.sk);

    /* Missing secret_key: jansson names the key. */
    snprintf(text, sizeof text, "{\"name\": \"a\", \"public_key\": \"%s\"}", pkhex);
    write_text(t.key, text, 0600);
    poison(&back);
    ck_assert_int_eq(keys_load(&back, t.key, err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "secret_key"));
    ck_assert(is_poisoned(&back));

    /* Short public key. */
    snprintf(text, sizeof text, "{\"name\": \"a\", \"public_key\": \"%.62s\", \"secret_key\": \"%s\"}",
             pkhex, skhex);
    write_text(t.key, text, 0600);
    ck_assert_int_eq(keys_load(&back, t.key, err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "public_key"));
    ck_assert(is_poisoned(&back));

    /* Bad name. */
    snprintf(text, sizeof text, "{\"name\": \"../x\", \"public_key\": \"%s\", \"secret_key\": \"%s\"}",
             pkhex, skhex);
    write_text(t.key, text, 0600);
    ck_assert_int_eq(keys_load(&back, t.key, err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "bad name"));
    ck_assert(is_poisoned(&back));

    /* Not an object / wrong types. */
    write_text(t.key, "[1, 2, 3]", 0600);
    ck_assert_int_eq(keys_load(&back, t.key, err), -EINVAL);
    snprintf(text, sizeof text, "{\"name\": 7, \"public_key\": \"%s\", \"secret_key\": \"%s\"}",
             pkhex, skhex);
    write_text(t.key, text, 0600);
    ck_assert_int_eq(keys_load(&back, t.key, err), -EINVAL);
    ck_assert(is_poisoned(&back));

    /* The same fields, well formed, load (uppercase hex accepted). */
    for (char *p = pkhex; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    snprintf(text, sizeof text, "{\"name\": \"a\", \"public_key\": \"%s\", \"secret_key\": \"%s\"}",
             pkhex, skhex);
    write_text(t.key, text, 0600);
    ck_assert_int_eq(keys_load(&back, t.key, err), 0);
    ck_assert_mem_eq(back.pk, kp.pk, sizeof kp.pk);
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

START_TEST(test_wipe)
{
    keys_pair_t kp;
    ck_assert_int_eq(keys_generate(&kp, "a"), 0);
    keys_wipe(&kp);
    static const keys_pair_t zero;
    ck_assert_mem_eq(&kp, &zero, sizeof kp);
    keys_wipe(NULL);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "keys", .tcase = "core"};
    return suite_build(&spec, SUITE_TESTS(
        test_generate_valid_pair, test_generate_names, test_save_load_round_trip,
        test_save_mode_ignores_umask, test_save_refuses_overwrite, test_load_refuses_loose_mode,
        test_load_missing_file, test_load_refuses_mismatched_secret, test_load_refuses_foreign_seed,
        test_load_refuses_malformed_json, test_load_refuses_bad_shape, test_wipe));
}
