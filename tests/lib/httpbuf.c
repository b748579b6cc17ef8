#include "tests/lib/httpbuf.h"

#include <stdlib.h>
#include <string.h>

size_t httpbuf_write(char *p, size_t size, size_t n, void *arg)
{
    httpbuf_t *b = arg;
    size_t k = size * n;
    if (b->len + k + 1 > b->cap) {
        size_t cap = 2 * (b->len + k + 1);
        char *nb = realloc(b->buf, cap);
        if (nb == NULL)
            return 0;
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, p, k);
    b->len += k;
    b->buf[b->len] = '\0';
    return k;
}

void httpbuf_clear(httpbuf_t *b)
{
    b->len = 0;
    if (b->buf)
        b->buf[0] = '\0';
}

void httpbuf_free(httpbuf_t *b)
{
    if (b == NULL)
        return;
    free(b->buf);
    b->buf = NULL;
    b->len = b->cap = 0;
}
