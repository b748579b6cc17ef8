/* Helpers for the libFuzzer targets. They never use Check: a failed check
 * aborts, which is how libFuzzer learns of a bug. */
#ifndef ADNET_TEST_FUZZ_H
#define ADNET_TEST_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* abort() unless cond holds; unlike assert() it holds in NDEBUG builds too. */
#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

#define FUZZ_PATH_MAX 64

/* A copy of data[size] in a heap buffer of exactly size bytes (1 when size
 * is 0), so that AddressSanitizer catches a read past the input's end; the
 * caller frees it. NULL if out of memory. */
uint8_t *fuzz_copy(const uint8_t *data, size_t size);

/* Put data[size] in a new memory file (memfd, close-on-exec) called name and
 * write a path that opens it, /proc/self/fd/N, into path: the code under
 * test then reads a real file. Return the fd (the caller closes it);
 * abort if the file cannot be made. */
int fuzz_memfd(const uint8_t *data, size_t size, const char *name, char path[FUZZ_PATH_MAX]);

#endif
