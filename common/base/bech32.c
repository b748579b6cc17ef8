/* Bech32m (BIP-350): a human-readable part, the separator '1', data in a
 * 32-character alphabet and a 6-character BCH checksum over both. The
 * checksum constant 0x2bc830a3 is what sets bech32m apart from BIP-173
 * bech32 (constant 1); a string that checks under the old constant is
 * refused by name so a user who pasted one learns why. */
#include "common/base/bech32.h"

#include <errno.h>
#include <string.h>

#define BECH32M_CONST 0x2bc830a3u
#define BECH32_CONST 1u
#define BECH32_MAX_LEN 90  /* whole string, as BIP-173 limits it */
#define BECH32_HRP_MAX 83  /* 90 - separator - 6 checksum characters */
#define BECH32_CHECKSUM_LEN 6

static const char charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/* The 5-bit value of a lowercase data character, or -1. */
static int charset_value(char c)
{
    const char *p = c ? strchr(charset, c) : NULL;
    return p ? (int)(p - charset) : -1;
}

static uint32_t polymod_step(uint32_t chk, unsigned v)
{
    static const uint32_t gen[5] = { 0x3b6a57b2u, 0x26508e6du, 0x1ea119fau, 0x3d4233ddu,
                                     0x2a1462b3u };
    uint32_t top = chk >> 25;
    chk = ((chk & 0x1ffffffu) << 5) ^ v;
    for (int i = 0; i < 5; i++)
        if ((top >> i) & 1u)
            chk ^= gen[i];
    return chk;
}

/* Fold the expanded hrp (high bits, 0, low bits) of a lowercase hrp. */
static uint32_t polymod_hrp(const char *hrp, size_t n)
{
    uint32_t chk = 1;
    for (size_t i = 0; i < n; i++)
        chk = polymod_step(chk, (unsigned char)hrp[i] >> 5);
    chk = polymod_step(chk, 0);
    for (size_t i = 0; i < n; i++)
        chk = polymod_step(chk, (unsigned char)hrp[i] & 31u);
    return chk;
}

static int hrp_char_ok(unsigned char c)
{
    return c >= 33 && c <= 126;
}

int bech32m_encode(char *out, size_t cap, const char *hrp, const uint8_t *data, size_t len)
{
    size_t hrp_len = hrp ? strlen(hrp) : 0;
    if (!out || hrp_len == 0 || hrp_len > BECH32_HRP_MAX || (len > 0 && !data))
        return -EINVAL;
    for (size_t i = 0; i < hrp_len; i++) {
        unsigned char c = (unsigned char)hrp[i];
        /* The encoder writes lowercase only; an uppercase hrp would make a
         * mixed-case string that no decoder accepts. */
        if (!hrp_char_ok(c) || (c >= 'A' && c <= 'Z'))
            return -EINVAL;
    }
    if (len > BECH32_MAX_LEN) /* keeps the arithmetic below small */
        return -EINVAL;
    size_t n5 = (len * 8 + 4) / 5;
    size_t total = hrp_len + 1 + n5 + BECH32_CHECKSUM_LEN;
    if (total > BECH32_MAX_LEN)
        return -EINVAL;
    if (cap < total + 1)
        return -ENOBUFS;

    uint32_t chk = polymod_hrp(hrp, hrp_len);
    size_t pos = 0;
    memcpy(out, hrp, hrp_len);
    pos = hrp_len;
    out[pos++] = '1';
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < len; i++) {
        acc = ((acc << 8) | data[i]) & 0xfffu;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            unsigned v = (acc >> bits) & 31u;
            chk = polymod_step(chk, v);
            out[pos++] = charset[v];
        }
    }
    if (bits > 0) {
        unsigned v = (acc << (5 - bits)) & 31u;
        chk = polymod_step(chk, v);
        out[pos++] = charset[v];
    }
    for (int i = 0; i < BECH32_CHECKSUM_LEN; i++)
        chk = polymod_step(chk, 0);
    chk ^= BECH32M_CONST;
    for (int i = 0; i < BECH32_CHECKSUM_LEN; i++)
        out[pos++] = charset[(chk >> (5 * (5 - i))) & 31u];
    out[pos] = '\0';
    return 0;
}

/* Lowercase s[n] into lower[n + 1] and find the separator: the last '1',
 * since the hrp may contain '1'. Return 0 and its index in *sep (with an
 * hrp and a checksum's room on either side), or -EINVAL with *reason. */
static int split_lower(const char *s, size_t n, char *lower, size_t *sep, const char **reason)
{
    int has_lower = 0, has_upper = 0;
    size_t after = 0; /* index just past the last '1', 0 if none */

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!hrp_char_ok(c)) {
            *reason = "bad character";
            return -EINVAL;
        }
        if (c >= 'a' && c <= 'z')
            has_lower = 1;
        if (c >= 'A' && c <= 'Z') {
            has_upper = 1;
            c = (unsigned char)(c - 'A' + 'a');
        }
        lower[i] = (char)c;
        if (c == '1')
            after = i + 1;
    }
    lower[n] = '\0';
    if (has_lower && has_upper)
        *reason = "mixed case";
    else if (after == 0)
        *reason = "no separator";
    else if (after == 1)
        *reason = "empty prefix";
    else if (n - after < BECH32_CHECKSUM_LEN)
        *reason = "too short";
    else {
        *sep = after - 1;
        return 0;
    }
    return -EINVAL;
}

/* Check the checksum of lower[n] (the hrp before sep, the data after it)
 * and turn the data characters, without the checksum, into bytes.
 * Return 0 and *nbytes, or -EINVAL with *reason. */
static int data_bytes(const char *lower, size_t sep, size_t n, uint8_t *bytes, size_t *nbytes,
                      const char **reason)
{
    uint32_t chk = polymod_hrp(lower, sep);
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t data_end = n - BECH32_CHECKSUM_LEN, count = 0;

    for (size_t i = sep + 1; i < n; i++) {
        int v = charset_value(lower[i]);
        if (v < 0) {
            *reason = "bad character";
            return -EINVAL;
        }
        chk = polymod_step(chk, (unsigned)v);
        if (i >= data_end)
            continue;
        acc = ((acc << 5) | (unsigned)v) & 0xfffu;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            bytes[count++] = (uint8_t)(acc >> bits);
        }
    }
    if (chk != BECH32M_CONST) {
        *reason = chk == BECH32_CONST ? "not bech32m" : "bad checksum";
        return -EINVAL;
    }
    /* Padding is at most 4 bits and all zero: one string for one value. */
    if (bits >= 5 || (acc & ((1u << bits) - 1u)) != 0) {
        *reason = "bad padding";
        return -EINVAL;
    }
    *nbytes = count;
    return 0;
}

int bech32m_decode(char *hrp, size_t hrp_cap, uint8_t *data, size_t data_cap, size_t *len,
                   const char *s, const char **why)
{
    const char *reason = NULL;
    char lower[BECH32_MAX_LEN + 1];
    uint8_t bytes[BECH32_MAX_LEN]; /* 5/8 of the data characters at most */
    size_t n, sep = 0, nbytes = 0;
    int r = -EINVAL;

    if (!s || !hrp || !len || (data_cap > 0 && !data)) {
        reason = "missing argument";
        goto out;
    }
    n = strnlen(s, BECH32_MAX_LEN + 1);
    if (n > BECH32_MAX_LEN) {
        reason = "too long";
        goto out;
    }
    if (split_lower(s, n, lower, &sep, &reason) < 0 ||
        data_bytes(lower, sep, n, bytes, &nbytes, &reason) < 0)
        goto out;
    if (sep + 1 > hrp_cap || nbytes > data_cap) {
        reason = "buffer too small";
        r = -ENOBUFS;
        goto out;
    }
    memcpy(hrp, lower, sep);
    hrp[sep] = '\0';
    if (nbytes > 0)
        memcpy(data, bytes, nbytes);
    *len = nbytes;
    r = 0;
out:
    if (r < 0 && why)
        *why = reason;
    return r;
}

int address_encode(char out[ADDRESS_MAX], const uint8_t pk[32])
{
    return bech32m_encode(out, ADDRESS_MAX, ADDRESS_HRP, pk, 32);
}

int address_decode(uint8_t pk[32], const char *addr, const char **why)
{
    char hrp[BECH32_HRP_MAX + 1];
    uint8_t data[BECH32_MAX_LEN];
    size_t len = 0;
    const char *reason = NULL;
    int r = bech32m_decode(hrp, sizeof(hrp), data, sizeof(data), &len, addr, &reason);
    if (r < 0)
        goto out;
    r = -EINVAL;
    if (strcmp(hrp, ADDRESS_HRP) != 0) {
        reason = "wrong prefix";
        goto out;
    }
    if (len != 32) {
        reason = "wrong length";
        goto out;
    }
    memcpy(pk, data, 32);
    r = 0;
out:
    if (r < 0 && why)
        *why = reason;
    return r;
}
