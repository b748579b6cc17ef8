#include "proto/notify.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "proto/wire.h"

static bool reason_byte_ok(unsigned char c)
{
    return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\';
}

/* A HALTED reason as the format allows it: 1..NOTIFY_REASON_MAX allowed bytes. */
static bool reason_ok(const char *s)
{
    size_t n = strnlen(s, NOTIFY_REASON_MAX + 1);
    if (n == 0 || n > NOTIFY_REASON_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!reason_byte_ok((unsigned char)s[i]))
            return false;
    return true;
}

void notify_reason_set(char out[NOTIFY_REASON_MAX + 1], const char *text)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p && n < NOTIFY_REASON_MAX; p++)
        out[n++] = reason_byte_ok(*p) ? (char)*p : *p == '"' ? '\'' : '?';
    out[n] = '\0';
    if (n == 0)
        strcpy(out, "unknown");
}

int notify_encode(const notify_msg_t *m, uint8_t *buf, size_t cap)
{
    if (m->kind < NOTIFY_READY || m->kind > NOTIFY_HALTED)
        return -EINVAL;
    if (m->kind == NOTIFY_HALTED ? !reason_ok(m->reason) : m->reason[0] != '\0')
        return -EINVAL;
    wire_writer_t w;
    wire_writer_init(&w, buf, cap);
    wire_put_u8(&w, NOTIFY_VERSION);
    wire_put_u8(&w, (uint8_t)m->kind);
    wire_put_u64(&w, m->height);
    wire_put_u64(&w, m->time_ms);
    if (m->kind == NOTIFY_HALTED)
        wire_put_str(&w, m->reason);
    return w.err ? w.err : (int)w.len;
}

static int refuse(const char **what, const char *field, int code)
{
    if (what)
        *what = field;
    return code;
}

int notify_decode(notify_msg_t *m, const uint8_t *buf, size_t len, const char **what)
{
    wire_reader_t r;
    uint8_t version = 0, kind = 0;
    notify_msg_t tmp;
    memset(&tmp, 0, sizeof tmp);
    wire_reader_init(&r, buf, len);
    wire_get_u8(&r, "version", &version);
    if (!r.err && version != NOTIFY_VERSION)
        return refuse(what, "version", -EPROTONOSUPPORT);
    wire_get_u8(&r, "kind", &kind);
    if (!r.err && (kind < NOTIFY_READY || kind > NOTIFY_HALTED))
        return refuse(what, "kind", -EBADMSG);
    wire_get_u64(&r, "height", &tmp.height);
    wire_get_u64(&r, "time_ms", &tmp.time_ms);
    if (kind == NOTIFY_HALTED)
        wire_get_str(&r, "reason", tmp.reason, NOTIFY_REASON_MAX);
    if (wire_reader_finish(&r) < 0)
        return refuse(what, r.what, -EBADMSG);
    if (kind == NOTIFY_HALTED && !reason_ok(tmp.reason))
        return refuse(what, "reason", -EBADMSG);
    tmp.kind = (notify_kind_t)kind;
    *m = tmp;
    return 0;
}
