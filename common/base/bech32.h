/* Addresses: bech32m (BIP-350) encodings of 32-byte Ed25519 public keys
 * with human-readable part "ad", e.g. ad1...; a mistyped address fails its
 * checksum. */
#ifndef ADNET_BECH32_H
#define ADNET_BECH32_H

#include <stddef.h>
#include <stdint.h>

#define ADDRESS_HRP "ad"
#define ADDRESS_MAX 96     /* buffer size for an encoded address */

/* Encode pk as an address into out[ADDRESS_MAX]. Return 0. */
int address_encode(char out[ADDRESS_MAX], const uint8_t pk[32]);
/* Decode an address (lower or upper case, not mixed) into pk. Return 0, or
 * -EINVAL with a reason in *why: "bad checksum", "wrong prefix", "bad
 * character", "wrong length", "not bech32m" (a bech32 checksum), "mixed
 * case", "no separator", "empty prefix", "too short", "too long", "bad
 * padding", "missing argument". */
int address_decode(uint8_t pk[32], const char *addr, const char **why);

/* Generic bech32m: encode data (8-bit bytes) under hrp (lower case) into
 * out[cap]. Return 0, -ENOBUFS, or -EINVAL (bad or upper-case hrp, too long). */
int bech32m_encode(char *out, size_t cap, const char *hrp, const uint8_t *data, size_t len);
/* Decode; write the hrp into hrp[hrp_cap] and up to data_cap bytes into
 * data, set *len. Return 0, -EINVAL with *why, or -ENOBUFS ("buffer too
 * small") when hrp_cap or data_cap is too small. */
int bech32m_decode(char *hrp, size_t hrp_cap, uint8_t *data, size_t data_cap, size_t *len,
                   const char *s, const char **why);

#endif
