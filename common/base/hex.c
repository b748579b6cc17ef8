#include "common/base/hex.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

void hex_encode(char *out, const uint8_t *in, size_t n)
{
    sodium_bin2hex(out, 2 * n + 1, in, n);
}

int hex_decode(uint8_t *out, size_t n, const char *in)
{
    size_t got = 0;
    /* Validate everything first, so that out stays untouched on failure:
     * sodium_hex2bin alone would accept a prefix and stop at the first
     * non-digit. */
    if (!in || n > SIZE_MAX / 2 - 1 || strlen(in) != 2 * n ||
        strspn(in, "0123456789abcdefABCDEF") != 2 * n)
        return -EINVAL;
    if (sodium_hex2bin(out, n, in, 2 * n, NULL, &got, NULL) != 0 || got != n)
        return -EINVAL;
    return 0;
}
