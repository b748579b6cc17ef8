/* Worker -> supervisor notifications over the inherited notification
 * socket (SOCK_SEQPACKET: one message per packet). A worker says READY
 * once it can produce blocks, then HEARTBEAT periodically and BLOCK after
 * each commit, each carrying its tip. */
#ifndef ADNET_NOTIFY_H
#define ADNET_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#define NOTIFY_VERSION 1
#define NOTIFY_MSG_LEN 18   /* version u8, kind u8, height u64, time_ms u64 */

typedef enum {
    NOTIFY_READY = 1,
    NOTIFY_HEARTBEAT = 2,
    NOTIFY_BLOCK = 3,
} notify_kind_t;

typedef struct {
    notify_kind_t kind;
    uint64_t height;   /* tip height after the event */
    uint64_t time_ms;  /* tip block time, unix ms (0 if no block yet) */
} notify_msg_t;

/* Encode into buf[cap]. Return NOTIFY_MSG_LEN, -EINVAL (unknown kind) or
 * -ENOBUFS (cap < NOTIFY_MSG_LEN). */
int notify_encode(const notify_msg_t *m, uint8_t *buf, size_t cap);
/* Decode exactly len bytes; refuse unknown version (-EPROTONOSUPPORT),
 * unknown kind, short or long input (-EBADMSG). *m untouched on failure. */
int notify_decode(notify_msg_t *m, const uint8_t *buf, size_t len, const char **what);

#endif
