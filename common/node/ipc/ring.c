/* The SPSC ring of ring.h. Layout of the memfd:
 *
 *   header (RING_HDR_BYTES): magic, version, geometry, then on cache
 *     lines of their own: the producer's line (head and the counters
 *     only the producer writes), the consumer's line (tail, popped), the
 *     parked flag, and the attach counters;
 *   n_slots slots, each on its own cache lines (slot_bytes + 64 bytes, as
 *     slot_bytes is a multiple of 64): u64 seq (atomic), u32 len,
 *     u32 reserved, payload (slot_bytes), padding.
 *
 * Slot i holds sequence s (s & mask == i) once its seq is s + 1: the
 * producer stores seq with release after len and payload, so a consumer
 * that loads seq with acquire and finds s + 1 sees the whole message; a
 * producer killed before that store leaves seq at its previous lap's
 * value (or 0), which never equals s + 1. head is the producer's count of
 * published messages, stored after seq: a producer killed between the two
 * leaves a slot ready but uncounted, which the next producer finds at
 * attach (slot[head].seq == head + 1) and counts instead of overwriting.
 *
 * Counters sit on the line of the side that writes them, so that a push
 * or a pop dirties no line but its own and the slot; each has a single
 * writer, so plain load + store (no locked RMW) keeps them exact. Nothing
 * read from shared memory is trusted beyond what it can break: geometry
 * is checked once at attach and then kept privately, slot indexes are
 * masked, and lengths are range-checked at every pop. */
#include "common/node/ipc/ring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RING_MAGIC 0x31474e5254454e41ULL /* "ANETRNG1", little-endian */
#define RING_LINE 64
#define RING_SLOT_HDR 16 /* seq, len, reserved: payload stays 16-aligned */
#define RING_SLOTS_MIN 2
#define RING_SLOTS_MAX 65536
#define RING_SLOT_BYTES_MIN 8
#define RING_SPIN_CLOCK_EVERY 64 /* polls between two clock reads in ring_spin */

/* Lock-free 64-bit atomics are address-free, which is what makes them
 * work between processes mapping the same pages at different addresses. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && sizeof(unsigned long long) == sizeof(uint64_t),
               "the ring needs lock-free 64-bit atomics");
_Static_assert(RING_SLOT_BYTES_MAX % RING_LINE == 0, "slot_bytes max is a multiple of 64");

typedef struct {
    uint64_t magic;
    uint32_t version;
    uint32_t n_slots;    /* a power of two */
    uint32_t slot_bytes; /* payload bytes per slot, a multiple of 64 */
    uint32_t reserved;
    /* Written by the producer only. */
    alignas(RING_LINE) _Atomic uint64_t head; /* next sequence to publish */
    _Atomic uint64_t pushed;
    _Atomic uint64_t overflows;
    _Atomic uint64_t wakes;
    /* Written by the consumer only. */
    alignas(RING_LINE) _Atomic uint64_t tail; /* next sequence to consume */
    _Atomic uint64_t popped;
    /* Set by the consumer before it sleeps; cleared by it or by the
     * producer that wakes it (so that one park costs one eventfd write). */
    alignas(RING_LINE) _Atomic uint32_t parked;
    alignas(RING_LINE) _Atomic uint64_t producer_attaches;
    _Atomic uint64_t consumer_attaches;
} ring_hdr_t;

#define RING_HDR_BYTES (sizeof(ring_hdr_t))
_Static_assert(sizeof(ring_hdr_t) % RING_LINE == 0, "slots start on a cache line");

typedef struct {
    _Atomic uint64_t seq; /* s + 1 once sequence s is complete in this slot */
    uint32_t len;         /* payload bytes; valid only once seq says so */
    uint32_t reserved;
    unsigned char payload[];
} ring_slot_t;

struct ring {
    ring_hdr_t *hdr;
    unsigned char *slots; /* first slot, in the same mapping */
    size_t map_len;
    uint32_t mask;        /* n_slots - 1, kept here: the header may be damaged later */
    uint32_t n_slots;
    uint32_t slot_bytes;
    size_t stride;        /* bytes from one slot to the next */
    ring_role_t role;
    int wake_fd;
    uint64_t next;        /* producer: head; consumer: tail (each side's own copy) */
    uint64_t tail_seen;   /* producer: tail as last read, to skip reading it while room is known */
};

/* Each slot starts on a cache line of its own, so that the producer
 * filling slot i + 1 does not pull the line the consumer reads slot i from. */
static size_t ring_stride(uint32_t slot_bytes)
{
    return (RING_SLOT_HDR + (size_t)slot_bytes + RING_LINE - 1) / RING_LINE * RING_LINE;
}

static size_t ring_bytes(uint32_t n_slots, uint32_t slot_bytes)
{
    return RING_HDR_BYTES + (size_t)n_slots * ring_stride(slot_bytes);
}

static bool ring_geometry_ok(uint32_t n_slots, uint32_t slot_bytes)
{
    return n_slots >= RING_SLOTS_MIN && n_slots <= RING_SLOTS_MAX &&
           (n_slots & (n_slots - 1)) == 0 && slot_bytes >= RING_SLOT_BYTES_MIN &&
           slot_bytes <= RING_SLOT_BYTES_MAX;
}

static ring_slot_t *ring_slot(const ring_t *r, uint64_t seq)
{
    return (ring_slot_t *)(void *)(r->slots + (size_t)(seq & r->mask) * r->stride);
}

static inline void ring_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    atomic_signal_fence(memory_order_seq_cst); /* a compiler barrier: reload each poll */
#endif
}

int ring_create(const char *name, uint32_t n_slots, uint32_t slot_bytes)
{
    if (name == NULL || !ring_geometry_ok(n_slots, slot_bytes))
        return -EINVAL;
    slot_bytes = (slot_bytes + RING_LINE - 1) / RING_LINE * RING_LINE;
    size_t len = ring_bytes(n_slots, slot_bytes);
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (ftruncate(fd, (off_t)len) != 0) {
        rc = -errno;
        goto out;
    }
    /* Fresh memfd pages are zero: head, tail, counters and every slot's seq
     * start at 0, which is the empty ring. Only the identity is written. */
    ring_hdr_t *h = mmap(NULL, RING_HDR_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (h == MAP_FAILED) {
        rc = -errno;
        goto out;
    }
    h->n_slots = n_slots;
    h->slot_bytes = slot_bytes;
    h->version = RING_VERSION;
    h->magic = RING_MAGIC;
    munmap(h, RING_HDR_BYTES);
    /* A size that cannot change means a mapping that cannot SIGBUS; the
     * seal of seals keeps anyone from adding a write seal later. */
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
        rc = -errno;
out:
    if (rc != 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int ring_wake_create(void)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static int ring_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Check what fd is before mapping all of it: a sealed memfd (so its size
 * cannot change under the mapping) at least as large as a header. */
static int ring_check_fd(int fd, size_t *size, char *err, size_t errlen)
{
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0)
        return ring_fail(err, errlen, errno == EBADF ? -EBADF : -EPROTO,
                         "ring fd %d: not a memfd that can be sealed (%s)", fd, strerror(errno));
    if (!(seals & F_SEAL_SHRINK))
        return ring_fail(err, errlen, -EPROTO, "ring fd %d: memfd not sealed against shrinking", fd);
    struct stat st;
    if (fstat(fd, &st) != 0)
        return ring_fail(err, errlen, -errno, "ring fd %d: fstat: %s", fd, strerror(errno));
    if (st.st_size < (off_t)RING_HDR_BYTES)
        return ring_fail(err, errlen, -EPROTO, "ring fd %d: %lld bytes, too small for a ring", fd,
                         (long long)st.st_size);
    *size = (size_t)st.st_size;
    return 0;
}

/* Check the header of a mapping of size bytes: identity, geometry, and
 * head and tail no further apart than the ring allows (a producer that
 * died after a slot's seq store may leave tail one past head). */
static int ring_check_hdr(const ring_hdr_t *h, size_t size, char *err, size_t errlen)
{
    if (h->magic != RING_MAGIC)
        return ring_fail(err, errlen, -EPROTO, "not a ring (magic %016llx)",
                         (unsigned long long)h->magic);
    if (h->version != RING_VERSION)
        return ring_fail(err, errlen, -EPROTO, "ring version %u, this build speaks %u",
                         h->version, RING_VERSION);
    if (!ring_geometry_ok(h->n_slots, h->slot_bytes) || h->slot_bytes % RING_LINE != 0)
        return ring_fail(err, errlen, -EPROTO, "ring geometry %u slots of %u bytes is invalid",
                         h->n_slots, h->slot_bytes);
    if (ring_bytes(h->n_slots, h->slot_bytes) != size)
        return ring_fail(err, errlen, -EPROTO, "ring size %zu bytes, not that of %u slots of %u bytes",
                         size, h->n_slots, h->slot_bytes);
    uint64_t head = atomic_load(&h->head), tail = atomic_load(&h->tail);
    if (head - tail > h->n_slots && tail - head > h->n_slots)
        return ring_fail(err, errlen, -EPROTO, "ring head %llu and tail %llu are inconsistent",
                         (unsigned long long)head, (unsigned long long)tail);
    if (!atomic_is_lock_free(&h->head))
        return ring_fail(err, errlen, -EPROTO, "64-bit atomics are not lock-free here");
    return 0;
}

/* A new producer takes over head: it counts (rather than overwrites) the
 * slots a predecessor completed but did not count, at most a ring's worth. */
static void ring_producer_recover(ring_t *r)
{
    ring_hdr_t *h = r->hdr;
    uint64_t head = atomic_load_explicit(&h->head, memory_order_relaxed);
    uint64_t found = 0;
    while (found < r->n_slots &&
           atomic_load_explicit(&ring_slot(r, head)->seq, memory_order_acquire) == head + 1) {
        head++;
        found++;
    }
    if (found > 0) {
        atomic_store_explicit(&h->head, head, memory_order_release);
        atomic_store_explicit(&h->pushed, atomic_load_explicit(&h->pushed, memory_order_relaxed) + found,
                              memory_order_relaxed);
    }
    r->next = head;
    r->tail_seen = atomic_load_explicit(&h->tail, memory_order_acquire);
}

int ring_attach(ring_t **out, int fd, int wake_fd, ring_role_t role, char *err, size_t errlen)
{
    if (out == NULL || fd < 0 || (role != RING_PRODUCER && role != RING_CONSUMER))
        return ring_fail(err, errlen, -EINVAL, "ring_attach: bad arguments");
    size_t size = 0;
    int rc = ring_check_fd(fd, &size, err, errlen);
    if (rc != 0)
        return rc;
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        return ring_fail(err, errlen, -errno, "ring mmap: %s", strerror(errno));
    ring_t *r = NULL;
    rc = ring_check_hdr(map, size, err, errlen);
    if (rc != 0)
        goto out;
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        rc = ring_fail(err, errlen, -ENOMEM, "ring: out of memory");
        goto out;
    }
    r->hdr = map;
    r->slots = (unsigned char *)map + RING_HDR_BYTES;
    r->map_len = size;
    r->n_slots = r->hdr->n_slots;
    r->mask = r->n_slots - 1;
    r->slot_bytes = r->hdr->slot_bytes;
    r->stride = ring_stride(r->slot_bytes);
    r->role = role;
    r->wake_fd = wake_fd;
    if (role == RING_PRODUCER) {
        ring_producer_recover(r);
        atomic_fetch_add(&r->hdr->producer_attaches, 1);
    } else {
        /* A consumer that died parked left the flag set: not parked now. */
        atomic_store(&r->hdr->parked, 0);
        r->next = atomic_load_explicit(&r->hdr->tail, memory_order_acquire);
        atomic_fetch_add(&r->hdr->consumer_attaches, 1);
    }
    *out = r;
out:
    if (rc != 0)
        munmap(map, size);
    return rc;
}

void ring_detach(ring_t *r)
{
    if (r == NULL)
        return;
    munmap(r->hdr, r->map_len);
    free(r);
}

/* Producer, after a publication: wake the consumer if it said it sleeps.
 * Dekker's pattern with seq_cst operations rather than fences (the same
 * instructions on x86, fewer on ARM, and ThreadSanitizer understands
 * them): the producer's seq_cst store of the slot's seq and load of
 * parked, the consumer's seq_cst store of parked and load of that seq
 * (ring_park) fall in one total order, so either the consumer sees the
 * slot when it re-checks, or the producer sees parked. */
static void ring_wake(ring_t *r)
{
    ring_hdr_t *h = r->hdr;
    if (r->wake_fd < 0 || atomic_load_explicit(&h->parked, memory_order_seq_cst) == 0)
        return;
    /* Clearing the flag here makes a burst cost one write, not one each. */
    if (atomic_exchange_explicit(&h->parked, 0, memory_order_relaxed) == 0)
        return;
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(r->wake_fd, &one, sizeof one);
    while (n < 0 && errno == EINTR);
    /* EAGAIN means the counter is already huge: the consumer will wake. */
    atomic_store_explicit(&h->wakes, atomic_load_explicit(&h->wakes, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

int ring_push(ring_t *r, const void *msg, size_t len)
{
    if (r == NULL || r->role != RING_PRODUCER)
        return -EPERM;
    if (len == 0 || len > r->slot_bytes || msg == NULL)
        return -EMSGSIZE;
    ring_hdr_t *h = r->hdr;
    uint64_t s = r->next;
    if (s - r->tail_seen >= r->n_slots) {
        /* Acquire: the consumer's copy out of the slot we are about to
         * reuse happened before it advanced tail. */
        r->tail_seen = atomic_load_explicit(&h->tail, memory_order_acquire);
        if (s - r->tail_seen >= r->n_slots) {
            atomic_store_explicit(&h->overflows,
                                  atomic_load_explicit(&h->overflows, memory_order_relaxed) + 1,
                                  memory_order_relaxed);
            return -ENOBUFS;
        }
    }
    ring_slot_t *slot = ring_slot(r, s);
    slot->len = (uint32_t)len;
    memcpy(slot->payload, msg, len);
    /* seq_cst, not just release: one half of the parking handshake (ring_wake). */
    atomic_store_explicit(&slot->seq, s + 1, memory_order_seq_cst);
    atomic_store_explicit(&h->head, s + 1, memory_order_release);
    atomic_store_explicit(&h->pushed, atomic_load_explicit(&h->pushed, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    r->next = s + 1;
    ring_wake(r);
    return 0;
}

size_t ring_room(ring_t *r)
{
    if (r == NULL || r->role != RING_PRODUCER)
        return 0;
    r->tail_seen = atomic_load_explicit(&r->hdr->tail, memory_order_acquire);
    uint64_t used = r->next - r->tail_seen;
    return used >= r->n_slots ? 0 : (size_t)(r->n_slots - used);
}

/* Consumer: let the producer reuse the slot of sequence t. Release: our
 * reads of it are done before the producer can see tail move. */
static void ring_consumed(ring_t *r, uint64_t t)
{
    ring_hdr_t *h = r->hdr;
    r->next = t + 1;
    atomic_store_explicit(&h->tail, t + 1, memory_order_release);
    atomic_store_explicit(&h->popped, atomic_load_explicit(&h->popped, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

int ring_pop(ring_t *r, void *buf, size_t cap, size_t *len)
{
    if (r == NULL || r->role != RING_CONSUMER)
        return -EPERM;
    uint64_t t = r->next;
    ring_slot_t *slot = ring_slot(r, t);
    if (atomic_load_explicit(&slot->seq, memory_order_acquire) != t + 1)
        return -EAGAIN;
    /* Read len once: the slot is shared memory, a damaged producer could
     * change it between a check and a use. */
    uint32_t n = *(volatile uint32_t *)&slot->len;
    if (n == 0 || n > r->slot_bytes) {
        ring_consumed(r, t);
        return -EBADMSG;
    }
    if (len == NULL)
        return -EINVAL;
    if (n > cap || buf == NULL) {
        *len = n;
        return -EMSGSIZE;
    }
    memcpy(buf, slot->payload, n);
    ring_consumed(r, t);
    *len = n;
    return 0;
}

bool ring_ready(const ring_t *r)
{
    if (r == NULL || r->role != RING_CONSUMER)
        return false;
    return atomic_load_explicit(&ring_slot(r, r->next)->seq, memory_order_acquire) == r->next + 1;
}

static uint64_t ring_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool ring_spin(const ring_t *r, uint64_t spin_ns)
{
    if (ring_ready(r))
        return true;
    if (spin_ns == 0)
        return false;
    /* The clock costs more than a poll (tens of ns even in the vDSO):
     * read it only every so many polls. */
    uint64_t deadline = ring_now_ns() + spin_ns;
    for (unsigned i = 1;; i++) {
        ring_cpu_relax();
        if (ring_ready(r))
            return true;
        if (i % RING_SPIN_CLOCK_EVERY == 0 && ring_now_ns() >= deadline)
            return false;
    }
}

bool ring_park(ring_t *r)
{
    if (r == NULL || r->role != RING_CONSUMER)
        return false;
    /* The other half of ring_wake's handshake: both seq_cst, so the
     * re-check cannot miss a slot published before the producer looked at
     * parked. */
    atomic_store_explicit(&r->hdr->parked, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&ring_slot(r, r->next)->seq, memory_order_seq_cst) == r->next + 1) {
        atomic_store_explicit(&r->hdr->parked, 0, memory_order_relaxed);
        return false;
    }
    return true;
}

void ring_unpark(ring_t *r)
{
    if (r == NULL || r->role != RING_CONSUMER)
        return;
    atomic_store_explicit(&r->hdr->parked, 0, memory_order_relaxed);
    if (r->wake_fd < 0)
        return;
    uint64_t v;
    ssize_t n;
    do
        n = read(r->wake_fd, &v, sizeof v);
    while (n > 0 || (n < 0 && errno == EINTR));
}

void ring_stats(const ring_t *r, ring_stats_t *out)
{
    if (r == NULL || out == NULL)
        return;
    const ring_hdr_t *h = r->hdr;
    uint64_t tail = atomic_load(&h->tail), head = atomic_load(&h->head);
    *out = (ring_stats_t){
        .capacity = r->n_slots,
        .slot_bytes = r->slot_bytes,
        .occupancy = head > tail ? head - tail : 0,
        .pushed = atomic_load(&h->pushed),
        .popped = atomic_load(&h->popped),
        .overflows = atomic_load(&h->overflows),
        .wakes = atomic_load(&h->wakes),
        .producer_attaches = atomic_load(&h->producer_attaches),
        .consumer_attaches = atomic_load(&h->consumer_attaches),
    };
}

int ring_wake_fd(const ring_t *r)
{
    return r == NULL ? -1 : r->wake_fd;
}
