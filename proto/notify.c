#include "proto/notify.h"

#include <errno.h>

#include "proto/wire.h"

int notify_encode(const notify_msg_t *m, uint8_t *buf, size_t cap)
{
    if (m->kind < NOTIFY_READY || m->kind > NOTIFY_BLOCK)
        return -EINVAL;
    wire_writer_t w;
    wire_writer_init(&w, buf, cap);
    wire_put_u8(&w, NOTIFY_VERSION);
    wire_put_u8(&w, (uint8_t)m->kind);
    wire_put_u64(&w, m->height);
    wire_put_u64(&w, m->time_ms);
    return w.err ? w.err : (int)w.len;
}

int notify_decode(notify_msg_t *m, const uint8_t *buf, size_t len, const char **what)
{
    wire_reader_t r;
    uint8_t version = 0, kind = 0;
    notify_msg_t tmp;
    wire_reader_init(&r, buf, len);
    wire_get_u8(&r, "version", &version);
    if (!r.err && version != NOTIFY_VERSION) {
        if (what)
            *what = "version";
        return -EPROTONOSUPPORT;
    }
    wire_get_u8(&r, "kind", &kind);
    wire_get_u64(&r, "height", &tmp.height);
    wire_get_u64(&r, "time_ms", &tmp.time_ms);
    int rc = wire_reader_finish(&r);
    if (rc < 0) {
        if (what)
            *what = r.what;
        return -EBADMSG;
    }
    if (kind < NOTIFY_READY || kind > NOTIFY_BLOCK) {
        if (what)
            *what = "kind";
        return -EBADMSG;
    }
    tmp.kind = (notify_kind_t)kind;
    *m = tmp;
    return 0;
}
