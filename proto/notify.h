/* Worker -> supervisor notifications over the inherited notification
 * socket (SOCK_SEQPACKET: one message per packet). A worker says READY
 * once it can produce blocks, then HEARTBEAT periodically and BLOCK after
 * each commit, each carrying its tip. A worker that has stopped producing
 * (its ledger's files changed under it, the disk is full) sends HALTED
 * with the reason instead of each HEARTBEAT, for as long as it stays
 * halted; its next BLOCK or HEARTBEAT says it produces again. */
#ifndef ADNET_NOTIFY_H
#define ADNET_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#define NOTIFY_VERSION 1
#define NOTIFY_MSG_LEN 18   /* version u8, kind u8, height u64, time_ms u64 */
#define NOTIFY_REASON_MAX 200
/* The longest message: HALTED, whose reason follows as u32 length + bytes. */
#define NOTIFY_MSG_MAX (NOTIFY_MSG_LEN + 4 + NOTIFY_REASON_MAX)

typedef enum {
    NOTIFY_READY = 1,
    NOTIFY_HEARTBEAT = 2,
    NOTIFY_BLOCK = 3,
    NOTIFY_HALTED = 4,
} notify_kind_t;

typedef struct {
    notify_kind_t kind;
    uint64_t height;   /* tip height after the event */
    uint64_t time_ms;  /* tip block time, unix ms (0 if no block yet) */
    /* HALTED only: why the worker stopped producing, 1..NOTIFY_REASON_MAX
     * bytes of printable ASCII without '"' or '\' (it goes into log
     * lines and JSON as is); "" for every other kind. */
    char reason[NOTIFY_REASON_MAX + 1];
} notify_msg_t;

/* Encode into buf[cap]. Return the length (NOTIFY_MSG_LEN, or more for
 * HALTED), -EINVAL (unknown kind; a HALTED reason that is empty, too long
 * or has a byte outside the set above; a reason on another kind) or
 * -ENOBUFS (cap too small). */
int notify_encode(const notify_msg_t *m, uint8_t *buf, size_t cap);
/* Decode exactly len bytes; refuse unknown version (-EPROTONOSUPPORT),
 * unknown kind, a bad reason, short or long input (-EBADMSG). *m
 * untouched on failure. */
int notify_decode(notify_msg_t *m, const uint8_t *buf, size_t len, const char **what);
/* Copy text into out[NOTIFY_REASON_MAX + 1] as a valid HALTED reason:
 * bytes outside the set become '?' ('"' becomes '\''), cut to
 * NOTIFY_REASON_MAX, "unknown" if text is empty. */
void notify_reason_set(char out[NOTIFY_REASON_MAX + 1], const char *text);

#endif
