/* Whole files, read and written in one call, for Check suites: any I/O
 * error fails the running test. */
#ifndef ADNET_TEST_FILE_H
#define ADNET_TEST_FILE_H

#include <stddef.h>

/* Create or truncate path and write text to it (mode 0666 less the umask). */
void file_write(const char *path, const char *text);

/* Read all of path into a new buffer with a NUL after the last byte, and
 * its length (without that NUL) into *len if len is non-NULL. The caller
 * frees the buffer. */
void *file_read(const char *path, size_t *len);

#endif
