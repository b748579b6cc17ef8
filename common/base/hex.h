/* Lowercase hexadecimal, as shown to operators in ledgers, JSON and logs. */
#ifndef ADNET_HEX_H
#define ADNET_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Write 2*n hex digits and a NUL to out (size >= 2*n+1). */
void hex_encode(char *out, const uint8_t *in, size_t n);
/* Decode exactly n bytes (any n) from a string of exactly 2*n hex digits (either
 * case). Return 0, or -EINVAL leaving out untouched. */
int hex_decode(uint8_t *out, size_t n, const char *in);

#endif
