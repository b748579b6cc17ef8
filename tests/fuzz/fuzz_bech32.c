/* libFuzzer target for bech32m and addresses: no input may crash a decoder
 * or make it read out of bounds; anything that decodes must re-encode to
 * the same string in lowercase (one string for one value); a refusal always
 * names its reason.
 *
 *   clang -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_bech32.c \
 *       tests/lib/fuzz.c common/base/bech32.c
 *   ./a.out -max_total_time=60
 *
 * Checks use abort(), not assert(), so they hold in NDEBUG builds too. */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/bech32.h"
#include "tests/lib/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_generic(const char *s, size_t n)
{
    char hrp[96], again[128];
    uint8_t out[96];
    size_t len = 0;
    const char *why = NULL;
    int rc = bech32m_decode(hrp, sizeof hrp, out, sizeof out, &len, s, &why);
    if (rc != 0) {
        CHECK(rc == -EINVAL || rc == -ENOBUFS);
        CHECK(why != NULL);
        return;
    }
    CHECK(n <= 90);
    rc = bech32m_encode(again, sizeof again, hrp, out, len);
    CHECK(rc == 0);
    CHECK(strlen(again) == n);
    for (size_t i = 0; i < n; i++)
        CHECK(again[i] == (char)tolower((unsigned char)s[i]));
}

static void fuzz_address(const char *s)
{
    uint8_t pk[32];
    char again[ADDRESS_MAX];
    const char *why = NULL;
    int rc = address_decode(pk, s, &why);
    if (rc != 0) {
        CHECK(rc == -EINVAL);
        CHECK(why != NULL);
        return;
    }
    CHECK(address_encode(again, pk) == 0);
    CHECK(strlen(again) == 61 && strncasecmp(again, s, 62) == 0);
}

/* Encoding arbitrary bytes under a fixed hrp must decode to the same bytes. */
static void fuzz_encode(const uint8_t *data, size_t size)
{
    char s[128], hrp[96];
    uint8_t back[96];
    size_t len = 0;
    int rc = bech32m_encode(s, sizeof s, "ad", data, size);
    /* "ad1" and 6 checksum characters leave 81 for data: 50 bytes. */
    if (size > 50) {
        CHECK(rc == -EINVAL);
        return;
    }
    CHECK(rc == 0);
    CHECK(bech32m_decode(hrp, sizeof hrp, back, sizeof back, &len, s, NULL) == 0);
    CHECK(strcmp(hrp, "ad") == 0 && len == size);
    CHECK(size == 0 || memcmp(back, data, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size NUL-terminated heap copy so ASan catches any overread. */
    char *s = malloc(size + 1);
    if (s == NULL)
        return 0;
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    size_t n = strlen(s);
    fuzz_generic(s, n);
    fuzz_address(s);
    free(s);
    fuzz_encode(data, size);
    return 0;
}
