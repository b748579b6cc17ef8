/* The one reader/writer every codec in proto/ is built on. Integers are
 * big-endian; variable-length fields carry a u32 length prefix checked
 * against a caller's maximum. Errors are sticky: after the first failure
 * every call fails, so a codec checks once at the end. */
#ifndef ADNET_WIRE_H
#define ADNET_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *buf;
    size_t len;
    size_t off;
    int err;          /* 0, or the first error: -EMSGSIZE (truncated), -EINVAL (bad value) */
    const char *what; /* name of the field that failed, for the caller's message */
} wire_reader_t;

typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err;          /* 0, or -ENOBUFS once a write would pass cap (that write
                       * stores nothing), -EINVAL for a var field over UINT32_MAX */
} wire_writer_t;

void wire_reader_init(wire_reader_t *r, const void *buf, size_t len);
int wire_get_u8(wire_reader_t *r, const char *what, uint8_t *v);
int wire_get_u16(wire_reader_t *r, const char *what, uint16_t *v);
int wire_get_u32(wire_reader_t *r, const char *what, uint32_t *v);
int wire_get_u64(wire_reader_t *r, const char *what, uint64_t *v);
/* Copy exactly n bytes. */
int wire_get_bytes(wire_reader_t *r, const char *what, void *out, size_t n);
/* Read a u32 length then that many bytes, refusing length > max (-EINVAL)
 * and length > remaining bytes (-EMSGSIZE); *out points into the reader's
 * buffer (not owned). */
int wire_get_var(wire_reader_t *r, const char *what, size_t max, const uint8_t **out, size_t *n);
/* Read a length-prefixed string of at most max bytes (no NUL inside, else
 * -EINVAL) into out[max+1], NUL-terminated. */
int wire_get_str(wire_reader_t *r, const char *what, char *out, size_t max);
/* Return 0 if the whole buffer was consumed without error; -EBADMSG with
 * what="trailing bytes" if bytes remain; else the sticky error. */
int wire_reader_finish(wire_reader_t *r);

void wire_writer_init(wire_writer_t *w, void *buf, size_t cap);
void wire_put_u8(wire_writer_t *w, uint8_t v);
void wire_put_u16(wire_writer_t *w, uint16_t v);
void wire_put_u32(wire_writer_t *w, uint32_t v);
void wire_put_u64(wire_writer_t *w, uint64_t v);
void wire_put_bytes(wire_writer_t *w, const void *p, size_t n);
void wire_put_var(wire_writer_t *w, const void *p, size_t n);
void wire_put_str(wire_writer_t *w, const char *s);

#endif
