/* Big-endian reader/writer with sticky errors; see wire.h. */
#include "proto/wire.h"

#include <errno.h>
#include <string.h>

void wire_reader_init(wire_reader_t *r, const void *buf, size_t len)
{
    r->buf = buf;
    r->len = len;
    r->off = 0;
    r->err = 0;
    r->what = NULL;
}

/* Record the first error only: later calls keep failing with it. */
static int reader_fail(wire_reader_t *r, int err, const char *what)
{
    if (r->err == 0) {
        r->err = err;
        r->what = what;
    }
    return r->err;
}

/* Claim n bytes at the cursor, or fail with -EMSGSIZE. Compares against the
 * remaining length, so off + n is never computed before it is known to fit. */
static int reader_take(wire_reader_t *r, const char *what, size_t n, const uint8_t **p)
{
    if (r->err != 0)
        return r->err;
    if (n > r->len - r->off)
        return reader_fail(r, -EMSGSIZE, what);
    *p = r->buf + r->off;
    r->off += n;
    return 0;
}

int wire_get_u8(wire_reader_t *r, const char *what, uint8_t *v)
{
    const uint8_t *p;
    int rc = reader_take(r, what, 1, &p);
    if (rc == 0)
        *v = p[0];
    return rc;
}

int wire_get_u16(wire_reader_t *r, const char *what, uint16_t *v)
{
    const uint8_t *p;
    int rc = reader_take(r, what, 2, &p);
    if (rc == 0)
        *v = (uint16_t)((uint16_t)p[0] << 8 | p[1]);
    return rc;
}

int wire_get_u32(wire_reader_t *r, const char *what, uint32_t *v)
{
    const uint8_t *p;
    int rc = reader_take(r, what, 4, &p);
    if (rc == 0)
        *v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return rc;
}

int wire_get_u64(wire_reader_t *r, const char *what, uint64_t *v)
{
    const uint8_t *p;
    int rc = reader_take(r, what, 8, &p);
    if (rc == 0) {
        uint64_t x = 0;
        for (int i = 0; i < 8; i++)
            x = x << 8 | p[i];
        *v = x;
    }
    return rc;
}

int wire_get_bytes(wire_reader_t *r, const char *what, void *out, size_t n)
{
    const uint8_t *p;
    int rc = reader_take(r, what, n, &p);
    if (rc == 0 && n > 0)
        memcpy(out, p, n);
    return rc;
}

int wire_get_var(wire_reader_t *r, const char *what, size_t max, const uint8_t **out, size_t *n)
{
    uint32_t len;
    const uint8_t *p;
    int rc = wire_get_u32(r, what, &len);
    if (rc != 0)
        return rc;
    if (len > max)
        return reader_fail(r, -EINVAL, what);
    rc = reader_take(r, what, len, &p);
    if (rc != 0)
        return rc;
    *out = p;
    *n = len;
    return 0;
}

int wire_get_str(wire_reader_t *r, const char *what, char *out, size_t max)
{
    const uint8_t *p;
    size_t n;
    int rc = wire_get_var(r, what, max, &p, &n);
    if (rc != 0)
        return rc;
    if (n > 0 && memchr(p, '\0', n) != NULL)
        return reader_fail(r, -EINVAL, what);
    if (n > 0)
        memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

int wire_reader_finish(wire_reader_t *r)
{
    if (r->err != 0)
        return r->err;
    if (r->off != r->len)
        return reader_fail(r, -EBADMSG, "trailing bytes");
    return 0;
}

void wire_writer_init(wire_writer_t *w, void *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->err = 0;
}

/* Append n bytes or, if they would pass cap, set -ENOBUFS and write nothing. */
static void writer_put(wire_writer_t *w, const void *p, size_t n)
{
    if (w->err != 0)
        return;
    if (n > w->cap - w->len) {
        w->err = -ENOBUFS;
        return;
    }
    if (n > 0)
        memcpy(w->buf + w->len, p, n);
    w->len += n;
}

void wire_put_u8(wire_writer_t *w, uint8_t v)
{
    writer_put(w, &v, 1);
}

void wire_put_u16(wire_writer_t *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    writer_put(w, b, sizeof b);
}

void wire_put_u32(wire_writer_t *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    writer_put(w, b, sizeof b);
}

void wire_put_u64(wire_writer_t *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    writer_put(w, b, sizeof b);
}

void wire_put_bytes(wire_writer_t *w, const void *p, size_t n)
{
    writer_put(w, p, n);
}

void wire_put_var(wire_writer_t *w, const void *p, size_t n)
{
    if (w->err != 0)
        return;
    if (n > UINT32_MAX) {
        w->err = -EINVAL;
        return;
    }
    /* Check room for prefix and body together so a failed call writes nothing. */
    if (n > w->cap - w->len || 4 > w->cap - w->len - n) {
        w->err = -ENOBUFS;
        return;
    }
    wire_put_u32(w, (uint32_t)n);
    writer_put(w, p, n);
}

void wire_put_str(wire_writer_t *w, const char *s)
{
    wire_put_var(w, s, strlen(s));
}
