/* Deterministic pseudo-random numbers for tests (splitmix64), so that a
 * failure reproduces from its seed. One stream per process: each Check
 * test runs in a process of its own. Not for keys or anything secret. */
#ifndef ADNET_TEST_RNG_H
#define ADNET_TEST_RNG_H

#include <stddef.h>
#include <stdint.h>

/* Restart the stream from seed. */
void rng_seed(uint64_t seed);
/* The next 64 bits of the stream. */
uint64_t rng_next(void);
/* Fill b[n] with the next n values of the stream, one byte each. */
void rng_bytes(uint8_t *b, size_t n);

#endif
