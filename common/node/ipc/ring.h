/* A single-producer/single-consumer message ring in shared memory (a
 * memfd the supervisor creates and hands to both workers), with an
 * eventfd to wake a parked consumer. Slots are fixed-size; each carries a
 * sequence number the producer stores with release ordering only after
 * the payload is written, so a consumer never sees a torn message, even
 * from a producer killed mid-write. Either side may die and re-attach: the
 * ring's head and tail live in the shared header, and a new producer
 * finishes the publication of a slot its predecessor stored but did not
 * count. A full ring refuses the message (-ENOBUFS, counted) and never
 * blocks: the consumer catches up by other means. The consumer spins
 * briefly (ring_spin), then parks (ring_park); the producer writes the
 * eventfd only when the consumer has said it is parked, so the hot path
 * makes no system call. A message counts as taken when ring_pop returns
 * it: a consumer that dies after that and before acting on it has lost
 * it, so what must not be lost has another way (the workers' catch-up
 * over ZeroMQ, from their ledgers). One producer and one consumer at a
 * time: the supervisor reaps a dead worker before it starts the next. */
#ifndef ADNET_RING_H
#define ADNET_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RING_VERSION 1
#define RING_SLOT_BYTES_MAX 65536 /* payload bytes one slot may hold, at most */

typedef struct ring ring_t;

typedef enum { RING_PRODUCER = 1, RING_CONSUMER = 2 } ring_role_t;

typedef struct {
    uint32_t capacity;   /* slots */
    uint32_t slot_bytes; /* payload bytes per slot */
    uint64_t occupancy;  /* messages published and not yet popped */
    uint64_t pushed;     /* messages published since the ring was created */
    uint64_t popped;     /* messages consumed since the ring was created */
    uint64_t overflows;  /* pushes refused because the ring was full */
    uint64_t wakes;      /* eventfd writes by producers */
    uint64_t producer_attaches; /* times a producer attached (1 + restarts) */
    uint64_t consumer_attaches;
} ring_stats_t;

/* Create the shared memory of a ring of n_slots (a power of two, 2..65536)
 * slots of slot_bytes payload bytes (8..RING_SLOT_BYTES_MAX, rounded up to
 * a multiple of 64) as a memfd named name (MFD_CLOEXEC), initialised
 * empty. Return the descriptor, or -EINVAL (bad geometry) / -errno. */
int ring_create(const char *name, uint32_t n_slots, uint32_t slot_bytes);

/* Create an eventfd fit to be a ring's wake-up (non-blocking, CLOEXEC).
 * Return it or -errno. */
int ring_wake_create(void);

/* Map the ring in fd (not taken: the caller keeps and closes it) as role,
 * with wake_fd the eventfd the consumer parks on (the producer writes it;
 * not taken either; may be -1 for a consumer that only busy-polls and a
 * producer that never wakes anyone). Check its magic, version and
 * geometry. Return 0 and *out, or -EINVAL / -EPROTO (not a ring, or of
 * another version) / -errno with a message in err.
 * Nothing in the ring stops a second producer (or consumer) from
 * attaching while the first still runs: the caller (the supervisor)
 * attaches a new one only after it has reaped the old. Both sides must be
 * given the same eventfd; the ring cannot check that (descriptors are not
 * shared memory). fd must be a memfd sealed against shrinking (as
 * ring_create leaves it), so that the mapping cannot fault. */
int ring_attach(ring_t **out, int fd, int wake_fd, ring_role_t role, char *err, size_t errlen);
void ring_detach(ring_t *r); /* NULL-safe */

/* Producer: publish len bytes (1..slot_bytes). Return 0, -ENOBUFS (the
 * ring is full: nothing written, overflow counted), -EMSGSIZE (len out of
 * range) or -EPERM (not the producer). Wakes a parked consumer. */
int ring_push(ring_t *r, const void *msg, size_t len);

/* Producer: how many messages a push could place now (capacity minus
 * those not yet taken), so that a group of messages that must arrive
 * together is pushed whole or not at all. 0 for a consumer handle. */
size_t ring_room(ring_t *r);

/* Consumer: take the oldest message into buf[cap] and its length into
 * *len. Return 0, -EAGAIN (empty), -EMSGSIZE (cap too small: the message
 * stays, *len says how much it needs), -EBADMSG (a slot whose length is
 * out of range, skipped and counted as popped) or -EPERM. */
int ring_pop(ring_t *r, void *buf, size_t cap, size_t *len);

/* Consumer: is a message ready? (no system call) */
bool ring_ready(const ring_t *r);

/* Consumer: poll for up to spin_ns nanoseconds; true once a message is
 * ready, false if none came. */
bool ring_spin(const ring_t *r, uint64_t spin_ns);

/* Consumer: say it is about to sleep on the eventfd. Return true if it
 * may sleep now; false if a message arrived meanwhile (it is not parked
 * then and must pop). */
bool ring_park(ring_t *r);

/* Consumer: after the eventfd woke it (or before it pops after a
 * ring_park that returned true): clear the parked flag and drain the
 * eventfd. */
void ring_unpark(ring_t *r);

/* Counters as both sides see them (shared), occupancy included. */
void ring_stats(const ring_t *r, ring_stats_t *out);

/* The wake-up descriptor given to ring_attach (-1 if none). */
int ring_wake_fd(const ring_t *r);

#endif
