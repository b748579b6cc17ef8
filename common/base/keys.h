/* Ed25519 key pairs and their key files. A key file is JSON
 * {"name":..,"public_key":hex,"secret_key":hex} with mode 0600; a file
 * that others can read is refused, as ssh refuses a loose private key. */
#ifndef ADNET_KEYS_H
#define ADNET_KEYS_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define KEYS_NAME_MAX 64
#define KEYS_ERR_MAX 256

typedef struct {
    char name[KEYS_NAME_MAX + 1];
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
} keys_pair_t;

/* True if name is a valid key name: 1 to 64 of [A-Za-z0-9._-], not
 * starting with '.' (it names a file under <home>/keys). */
int keys_name_is_valid(const char *name);

/* Make a fresh key pair named name. Return 0 or -EINVAL (bad name). */
int keys_generate(keys_pair_t *kp, const char *name);
/* Write kp to path (mode 0600, atomically); refuse to replace a file
 * unless overwrite. Return 0, -EEXIST or -errno. */
int keys_save(const keys_pair_t *kp, const char *path, int overwrite);
/* Load and check a key file (mode, JSON shape, that sk matches pk).
 * Return 0, or a negative code with the reason in err. */
int keys_load(keys_pair_t *kp, const char *path, char err[KEYS_ERR_MAX]);
/* Wipe secret bytes. */
void keys_wipe(keys_pair_t *kp);

#endif
