/* A growable, NUL-terminated buffer for an HTTP answer's body: give
 * libcurl httpbuf_write as CURLOPT_WRITEFUNCTION and a httpbuf_t as
 * CURLOPT_WRITEDATA. Start from a zeroed httpbuf_t. */
#ifndef ADNET_TESTLIB_HTTPBUF_H
#define ADNET_TESTLIB_HTTPBUF_H

#include <stddef.h>

typedef struct {
    char *buf;                   /* len bytes and a NUL; NULL until the first write */
    size_t len, cap;
} httpbuf_t;

/* Append size * n bytes at p to the httpbuf_t at arg. Return size * n, or
 * 0 when out of memory (libcurl then fails the transfer). */
size_t httpbuf_write(char *p, size_t size, size_t n, void *arg);
/* Empty b, keeping its memory. */
void httpbuf_clear(httpbuf_t *b);
/* Free what b holds and zero it (NULL-safe). */
void httpbuf_free(httpbuf_t *b);

#endif
