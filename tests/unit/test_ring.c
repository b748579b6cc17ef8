/* common/node/ipc/ring: geometry, round trips and wrap-around, a full
 * ring, role checks, refusal of what is not a ring, two threads and two
 * processes, parking on the eventfd, and producers that die mid-write or
 * between publishing a slot and counting it.
 *
 * The crash cases reach into the shared memory the way a dying producer
 * would leave it. They find the slots by content rather than trusting a
 * copy of ring.c's layout: fill every slot with a marker, find the markers
 * in the mapping, and check that each slot's seq and len sit where the
 * layout comment of ring.c puts them (16 and 8 bytes before the payload);
 * if that ever changes, the layout checks fail rather than the test
 * writing somewhere harmless and passing. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/node/ipc/ring.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

static int make_ring(uint32_t n_slots, uint32_t slot_bytes)
{
    int fd = ring_create("test-ring", n_slots, slot_bytes);
    ck_assert_int_ge(fd, 0);
    return fd;
}

static ring_t *attach(int fd, int wake_fd, ring_role_t role)
{
    char err[256] = "";
    ring_t *r = NULL;
    int rc = ring_attach(&r, fd, wake_fd, role, err, sizeof err);
    ck_assert_msg(rc == 0, "ring_attach: %d (%s)", rc, err);
    ck_assert_ptr_nonnull(r);
    return r;
}

static int attach_rc(int fd, char *err, size_t cap)
{
    ring_t *r = NULL;
    err[0] = '\0';
    int rc = ring_attach(&r, fd, -1, RING_CONSUMER, err, cap);
    if (rc == 0)
        ring_detach(r);
    else
        ck_assert_ptr_null(r);
    return rc;
}

/* The bytes of message number seq, len long: every byte depends on both,
 * so a message from another slot or lap, or a torn one, does not match. */
static void fill(uint8_t *buf, uint64_t seq, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seq * 131 + i * 7 + (seq >> 8) + 1);
}

static size_t len_of(uint64_t seq, size_t max)
{
    return 1 + (size_t)((seq * 2654435761u) % max);
}

static void push_msg(ring_t *p, uint64_t seq, size_t len)
{
    uint8_t buf[RING_SLOT_BYTES_MAX];
    fill(buf, seq, len);
    ck_assert_int_eq(ring_push(p, buf, len), 0);
}

static void pop_expect(ring_t *c, uint64_t seq, size_t len)
{
    static uint8_t got[RING_SLOT_BYTES_MAX], want[RING_SLOT_BYTES_MAX];
    size_t n = 0;
    int rc = ring_pop(c, got, sizeof got, &n);
    ck_assert_msg(rc == 0, "pop of message %llu: %d", (unsigned long long)seq, rc);
    ck_assert_uint_eq(n, len);
    fill(want, seq, len);
    ck_assert_msg(memcmp(got, want, len) == 0, "message %llu differs", (unsigned long long)seq);
}

static ring_stats_t stats(const ring_t *r)
{
    ring_stats_t s;
    memset(&s, 0xa5, sizeof s);
    ring_stats(r, &s);
    return s;
}

START_TEST(test_geometry_refused)
{
    static const uint32_t bad_slots[] = {0, 1, 3, 6, 100, 65537, 131072, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad_slots / sizeof bad_slots[0]; i++)
        ck_assert_int_eq(ring_create("x", bad_slots[i], 64), -EINVAL);
    static const uint32_t bad_bytes[] = {0, 1, 7, RING_SLOT_BYTES_MAX + 1, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad_bytes / sizeof bad_bytes[0]; i++)
        ck_assert_int_eq(ring_create("x", 8, bad_bytes[i]), -EINVAL);
    ck_assert_int_eq(ring_create(NULL, 8, 64), -EINVAL);

    /* The edges are accepted, and slot_bytes is rounded up to 64. */
    static const uint32_t good[][3] = {{2, 8, 64}, {65536, 8, 64}, {2, RING_SLOT_BYTES_MAX,
        RING_SLOT_BYTES_MAX}, {16, 100, 128}, {4, 64, 64}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int fd = make_ring(good[i][0], good[i][1]);
        ring_t *c = attach(fd, -1, RING_CONSUMER);
        ring_stats_t s = stats(c);
        ck_assert_uint_eq(s.capacity, good[i][0]);
        ck_assert_uint_eq(s.slot_bytes, good[i][2]);
        ck_assert_uint_eq(s.occupancy, 0);
        ck_assert_uint_eq(s.pushed, 0);
        ring_detach(c);
        close(fd);
    }
}
END_TEST

START_TEST(test_round_trip)
{
    int fd = make_ring(8, 100);
    ring_t *p = attach(fd, -1, RING_PRODUCER), *c = attach(fd, -1, RING_CONSUMER);
    uint8_t buf[256];
    size_t n = 12345;
    ck_assert(!ring_ready(c));
    ck_assert_int_eq(ring_pop(c, buf, sizeof buf, &n), -EAGAIN);
    ck_assert_uint_eq(n, 12345); /* untouched when nothing was popped */

    ck_assert_int_eq(ring_push(p, "hello", 5), 0);
    ck_assert(ring_ready(c));
    ck_assert_int_eq(ring_pop(c, buf, sizeof buf, &n), 0);
    ck_assert_uint_eq(n, 5);
    ck_assert_mem_eq(buf, "hello", 5);
    ck_assert(!ring_ready(c));
    ck_assert_int_eq(ring_pop(c, buf, sizeof buf, &n), -EAGAIN);

    /* Lengths: 1..slot_bytes (100 rounded up to 128). */
    ck_assert_int_eq(ring_push(p, buf, 0), -EMSGSIZE);
    ck_assert_int_eq(ring_push(p, buf, 129), -EMSGSIZE);
    push_msg(p, 7, 128);
    push_msg(p, 8, 1);
    pop_expect(c, 7, 128);
    pop_expect(c, 8, 1);

    ring_stats_t s = stats(p);
    ck_assert_uint_eq(s.pushed, 3);
    ck_assert_uint_eq(s.popped, 3);
    ck_assert_uint_eq(s.overflows, 0);
    ck_assert_uint_eq(s.occupancy, 0);
    ck_assert_uint_eq(s.producer_attaches, 1);
    ck_assert_uint_eq(s.consumer_attaches, 1);
    ring_detach(p);
    ring_detach(c);
    ring_detach(NULL);
    close(fd);
}
END_TEST

START_TEST(test_wrap_around)
{
    /* 8 slots, batches of 1..8 messages of 1..256 bytes: 100 times the
     * capacity, every slot reused with other lengths and contents. */
    int fd = make_ring(8, 256);
    ring_t *p = attach(fd, -1, RING_PRODUCER), *c = attach(fd, -1, RING_CONSUMER);
    uint64_t sent = 0, got = 0;
    for (unsigned batch = 0; sent < 800; batch++) {
        unsigned k = 1 + batch % 8;
        for (unsigned i = 0; i < k; i++, sent++)
            push_msg(p, sent, len_of(sent, 256));
        ck_assert_uint_eq(stats(c).occupancy, k);
        for (unsigned i = 0; i < k; i++, got++)
            pop_expect(c, got, len_of(got, 256));
        ck_assert(!ring_ready(c));
    }
    ring_stats_t s = stats(c);
    ck_assert_uint_eq(s.pushed, sent);
    ck_assert_uint_eq(s.popped, sent);
    ck_assert_uint_eq(s.overflows, 0);
    ring_detach(p);
    ring_detach(c);
    close(fd);
}
END_TEST

START_TEST(test_full_ring)
{
    int fd = make_ring(4, 64);
    ring_t *p = attach(fd, -1, RING_PRODUCER), *c = attach(fd, -1, RING_CONSUMER);
    for (uint64_t i = 0; i < 4; i++)
        push_msg(p, i, 60);
    uint8_t x[8] = {0};
    ck_assert_int_eq(ring_push(p, x, sizeof x), -ENOBUFS);
    ck_assert_int_eq(ring_push(p, x, sizeof x), -ENOBUFS);
    ring_stats_t s = stats(p);
    ck_assert_uint_eq(s.overflows, 2);
    ck_assert_uint_eq(s.pushed, 4);
    ck_assert_uint_eq(s.occupancy, 4);

    /* One pop makes room for exactly one; the refused ones left no trace. */
    pop_expect(c, 0, 60);
    push_msg(p, 4, 33);
    ck_assert_int_eq(ring_push(p, x, sizeof x), -ENOBUFS);
    for (uint64_t i = 1; i < 4; i++)
        pop_expect(c, i, 60);
    pop_expect(c, 4, 33);
    size_t n;
    ck_assert_int_eq(ring_pop(c, x, sizeof x, &n), -EAGAIN);
    s = stats(c);
    ck_assert_uint_eq(s.overflows, 3);
    ck_assert_uint_eq(s.pushed, 5);
    ck_assert_uint_eq(s.popped, 5);
    ck_assert_uint_eq(s.occupancy, 0);
    for (uint64_t i = 5; i < 9; i++) /* drained: a full ring's worth fits again */
        push_msg(p, i, 64);
    ring_detach(p);
    ring_detach(c);
    close(fd);
}
END_TEST

START_TEST(test_pop_small_buffer_keeps_message)
{
    int fd = make_ring(4, 128);
    ring_t *p = attach(fd, -1, RING_PRODUCER), *c = attach(fd, -1, RING_CONSUMER);
    push_msg(p, 42, 100);
    push_msg(p, 43, 10);
    uint8_t small[50];
    size_t n = 0;
    ck_assert_int_eq(ring_pop(c, small, sizeof small, &n), -EMSGSIZE);
    ck_assert_uint_eq(n, 100);
    ck_assert_int_eq(ring_pop(c, small, 99, &n), -EMSGSIZE);
    ck_assert(ring_ready(c));
    ck_assert_uint_eq(stats(c).popped, 0);
    pop_expect(c, 42, 100);
    pop_expect(c, 43, 10);
    ring_detach(p);
    ring_detach(c);
    close(fd);
}
END_TEST

START_TEST(test_role_misuse)
{
    int fd = make_ring(4, 64);
    ring_t *p = attach(fd, -1, RING_PRODUCER), *c = attach(fd, -1, RING_CONSUMER);
    uint8_t buf[64];
    size_t n;
    ck_assert_int_eq(ring_push(c, "x", 1), -EPERM);
    ck_assert_int_eq(ring_push(NULL, "x", 1), -EPERM);
    ck_assert_uint_eq(stats(c).pushed, 0);
    push_msg(p, 1, 20);
    ck_assert_int_eq(ring_pop(p, buf, sizeof buf, &n), -EPERM);
    ck_assert(!ring_park(p));
    ck_assert(!ring_ready(p));
    pop_expect(c, 1, 20); /* the producer's attempt took nothing */

    ring_t *r = NULL;
    char err[128];
    ck_assert_int_eq(ring_attach(&r, fd, -1, (ring_role_t)3, err, sizeof err), -EINVAL);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(ring_attach(&r, -1, -1, RING_CONSUMER, err, sizeof err), -EINVAL);
    ck_assert_ptr_null(r);
    ring_detach(p);
    ring_detach(c);
    close(fd);
}
END_TEST

/* A memfd of len bytes: zeros, or bytes, sealed or not. */
static int other_memfd(size_t len, const void *bytes, size_t nbytes, int seal)
{
    int fd = memfd_create("not-a-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)len), 0);
    if (nbytes > 0)
        ck_assert_int_eq(pwrite(fd, bytes, nbytes, 0), (ssize_t)nbytes);
    if (seal)
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
    return fd;
}

START_TEST(test_attach_refuses_foreign)
{
    char err[256];
    int fd = other_memfd(65536, NULL, 0, 1);
    ck_assert_int_eq(attach_rc(fd, err, sizeof err), -EPROTO);
    ck_assert_msg(strstr(err, "magic") != NULL, "err: %s", err);
    close(fd);
    fd = other_memfd(16, NULL, 0, 1); /* smaller than any header */
    ck_assert_int_eq(attach_rc(fd, err, sizeof err), -EPROTO);
    ck_assert_msg(err[0] != '\0', "no message");
    close(fd);

    /* A ring's own bytes in an unsealed memfd: its size could change
     * under the mapping, so it is refused too. */
    int ring = make_ring(4, 64);
    struct stat st;
    ck_assert_int_eq(fstat(ring, &st), 0);
    uint8_t *copy = calloc(1, (size_t)st.st_size);
    ck_assert_int_eq(pread(ring, copy, (size_t)st.st_size, 0), st.st_size);
    fd = other_memfd((size_t)st.st_size, copy, (size_t)st.st_size, 0);
    ck_assert_int_eq(attach_rc(fd, err, sizeof err), -EPROTO);
    ck_assert_msg(strstr(err, "seal") != NULL, "err: %s", err);
    close(fd);
    /* ... and the same bytes sealed are a ring (the refusal was the seal). */
    fd = other_memfd((size_t)st.st_size, copy, (size_t)st.st_size, 1);
    ck_assert_int_eq(attach_rc(fd, err, sizeof err), 0);
    close(fd);
    /* The same bytes one slot short or long: geometry and size disagree. */
    fd = other_memfd((size_t)st.st_size - 64, copy, (size_t)st.st_size - 64, 1);
    ck_assert_int_eq(attach_rc(fd, err, sizeof err), -EPROTO);
    close(fd);
    fd = other_memfd((size_t)st.st_size + 128, copy, (size_t)st.st_size, 1);
    ck_assert_int_eq(attach_rc(fd, err, sizeof err), -EPROTO);
    close(fd);
    free(copy);
    close(ring);

    int pipefd[2];
    ck_assert_int_eq(pipe(pipefd), 0);
    ck_assert_int_eq(attach_rc(pipefd[0], err, sizeof err), -EPROTO);
    close(pipefd[0]);
    close(pipefd[1]);
}
END_TEST

static void *map_all(int fd, size_t *len)
{
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ck_assert_ptr_ne(m, MAP_FAILED);
    *len = (size_t)st.st_size;
    return m;
}

START_TEST(test_attach_refuses_damaged_header)
{
    /* ring.c's header: u64 magic, u32 version, u32 n_slots, u32 slot_bytes. */
    char err[256];
    int fd = make_ring(8, 64);
    size_t len;
    uint8_t *m = map_all(fd, &len);
    uint32_t version, n_slots, slot_bytes;
    memcpy(&version, m + 8, 4);
    memcpy(&n_slots, m + 12, 4);
    memcpy(&slot_bytes, m + 16, 4);
    ck_assert_uint_eq(version, RING_VERSION); /* the layout is as assumed */
    ck_assert_uint_eq(n_slots, 8);
    ck_assert_uint_eq(slot_bytes, 64);

    static const struct { size_t off; uint32_t v; const char *word; } cases[] = {
        {8, RING_VERSION + 1, "version"}, {8, 0, "version"},
        {12, 3, "geometry"}, {12, 16, "size"}, {12, 0, "geometry"}, {12, 1u << 31, "geometry"},
        {16, 65, "geometry"}, {16, 128, "size"}, {16, 0, "geometry"}, {16, UINT32_MAX, "geometry"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t keep;
        memcpy(&keep, m + cases[i].off, 4);
        memcpy(m + cases[i].off, &cases[i].v, 4);
        ck_assert_int_eq(attach_rc(fd, err, sizeof err), -EPROTO);
        ck_assert_msg(strstr(err, cases[i].word) != NULL, "case %zu: %s", i, err);
        memcpy(m + cases[i].off, &keep, 4);
        ck_assert_int_eq(attach_rc(fd, err, sizeof err), 0); /* restored: accepted */
    }
    m[0] ^= 1;
    ck_assert_int_eq(attach_rc(fd, err, sizeof err), -EPROTO);
    m[0] ^= 1;
    ck_assert_int_eq(attach_rc(fd, err, sizeof err), 0);
    munmap(m, len);
    close(fd);
}
END_TEST

/* Where the slots are in a mapping of the ring, found by content. */
typedef struct {
    uint8_t *base;
    size_t len;
    size_t off0;   /* payload of slot 0 */
    size_t stride; /* payload of slot i: off0 + i * stride */
} layout_t;

static uint8_t *payload_at(const layout_t *l, uint32_t slot)
{
    return l->base + l->off0 + (size_t)slot * l->stride;
}

static _Atomic uint64_t *seq_at(const layout_t *l, uint32_t slot)
{
    return (_Atomic uint64_t *)(void *)(payload_at(l, slot) - 16);
}

static uint32_t *len_at(const layout_t *l, uint32_t slot)
{
    return (uint32_t *)(void *)(payload_at(l, slot) - 8);
}

/* Fill each of n slots (head == tail == 0) with a marker through p, pop
 * them all through c, and find them in a mapping of fd. Leaves head ==
 * tail == n: slot i's next sequence is n + i. */
static void layout_find(layout_t *l, int fd, uint32_t n, ring_t *p, ring_t *c)
{
    char mark[32];
    uint8_t buf[64];
    size_t got;
    for (uint32_t i = 0; i < n; i++) {
        int k = snprintf(mark, sizeof mark, "<<slot-marker-%05u>>", i);
        ck_assert_int_eq(ring_push(p, mark, (size_t)k), 0);
    }
    for (uint32_t i = 0; i < n; i++)
        ck_assert_int_eq(ring_pop(c, buf, sizeof buf, &got), 0);
    l->base = map_all(fd, &l->len);
    size_t prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        int k = snprintf(mark, sizeof mark, "<<slot-marker-%05u>>", i);
        uint8_t *at = memmem(l->base, l->len, mark, (size_t)k);
        ck_assert_ptr_nonnull(at);
        size_t off = (size_t)(at - l->base);
        if (i == 0)
            l->off0 = off;
        else if (i == 1)
            l->stride = off - prev;
        else
            ck_assert_uint_eq(off - prev, l->stride);
        prev = off;
    }
    ck_assert_uint_ge(l->off0, 16);
    for (uint32_t i = 0; i < n; i++) {
        ck_assert_uint_eq(atomic_load(seq_at(l, i)), i + 1);
        ck_assert_uint_eq(*len_at(l, i), 21);
    }
}

static void *producer_thread(void *arg)
{
    ring_t *p = arg;
    uint8_t buf[64];
    for (uint64_t seq = 0; seq < 1000000; seq++) {
        size_t n = 16 + seq % 49;
        uint32_t sum = 0;
        memcpy(buf, &seq, 8);
        fill(buf + 12, seq, n - 12);
        for (size_t i = 12; i < n; i++)
            sum = sum * 31 + buf[i];
        memcpy(buf + 8, &sum, 4);
        int rc;
        while ((rc = ring_push(p, buf, n)) == -ENOBUFS)
            ;
        if (rc != 0)
            return (void *)1; /* checked by the joiner: Check asserts belong to one thread */
    }
    return NULL;
}

START_TEST(test_threads_million)
{
    /* One producer thread, the consumer here: 1,000,000 messages of 16..64
     * bytes (sequence number, length, a checksum, filler), each checked
     * whole: none lost, duplicated, reordered or torn. */
    enum { N = 1000000 };
    int fd = make_ring(1024, 64);
    ring_t *p = attach(fd, -1, RING_PRODUCER), *c = attach(fd, -1, RING_CONSUMER);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, producer_thread, p), 0);
    uint8_t buf[64], want[64];
    uint64_t got = 0, spins = 0;
    while (got < N) {
        size_t n;
        int rc = ring_pop(c, buf, sizeof buf, &n);
        if (rc == -EAGAIN) {
            ck_assert_uint_lt(++spins, 20000000000ULL);
            continue;
        }
        ck_assert_int_eq(rc, 0);
        uint64_t seq;
        uint32_t sum = 0, want_sum;
        memcpy(&seq, buf, 8);
        ck_assert_uint_eq(seq, got);
        ck_assert_uint_eq(n, 16 + got % 49);
        memcpy(&want_sum, buf + 8, 4);
        for (size_t i = 12; i < n; i++)
            sum = sum * 31 + buf[i];
        ck_assert_uint_eq(sum, want_sum);
        fill(want, seq, n - 12);
        ck_assert(memcmp(buf + 12, want, n - 12) == 0);
        got++;
    }
    void *prc;
    ck_assert_int_eq(pthread_join(th, &prc), 0);
    ck_assert_ptr_null(prc);
    ring_stats_t s = stats(c);
    ck_assert_uint_eq(s.pushed, N);
    ck_assert_uint_eq(s.popped, N);
    ck_assert_uint_eq(s.occupancy, 0);
    ck_assert_int_eq(ring_pop(c, buf, sizeof buf, &(size_t){0}), -EAGAIN);
    ring_detach(p);
    ring_detach(c);
    close(fd);
}
END_TEST

START_TEST(test_park_dekker)
{
    int wfd = ring_wake_create();
    ck_assert_int_ge(wfd, 0);
    int fd = make_ring(8, 64);
    ring_t *p = attach(fd, wfd, RING_PRODUCER), *c = attach(fd, wfd, RING_CONSUMER);
    ck_assert_int_eq(ring_wake_fd(c), wfd);
    ck_assert_int_eq(ring_wake_fd(NULL), -1);
    struct pollfd pfd = {.fd = wfd, .events = POLLIN};
    uint64_t v;

    /* A message already there: park says do not sleep, and no wake comes. */
    push_msg(p, 0, 8);
    ck_assert(!ring_park(c));
    push_msg(p, 1, 8);
    ck_assert_uint_eq(stats(c).wakes, 0);
    ck_assert_int_eq(poll(&pfd, 1, 0), 0);
    pop_expect(c, 0, 8);
    pop_expect(c, 1, 8);

    /* Empty: park says sleep; the next push writes the eventfd once, the
     * one after it (consumer not parked again yet) does not. */
    ck_assert(ring_park(c));
    ck_assert_int_eq(poll(&pfd, 1, 0), 0);
    push_msg(p, 2, 8);
    ck_assert_uint_eq(stats(c).wakes, 1);
    ck_assert_int_eq(poll(&pfd, 1, 0), 1);
    push_msg(p, 3, 8);
    ck_assert_uint_eq(stats(c).wakes, 1);
    ring_unpark(c);
    ck_assert_int_eq(poll(&pfd, 1, 0), 0); /* drained */
    ck_assert_int_eq(read(wfd, &v, sizeof v), -1);
    ck_assert_int_eq(errno, EAGAIN);
    pop_expect(c, 2, 8);
    pop_expect(c, 3, 8);

    /* Park then unpark without a message: the producer no longer wakes. */
    ck_assert(ring_park(c));
    ring_unpark(c);
    push_msg(p, 4, 8);
    ck_assert_uint_eq(stats(c).wakes, 1);
    ck_assert_int_eq(poll(&pfd, 1, 0), 0);

    /* ring_spin: true at once when ready, false after its time when not. */
    ck_assert(ring_spin(c, 0));
    pop_expect(c, 4, 8);
    ck_assert(!ring_spin(c, 0));
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    ck_assert(!ring_spin(c, 2000000));
    clock_gettime(CLOCK_MONOTONIC, &b);
    int64_t ns = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
    ck_assert_int_ge(ns, 2000000);
    ck_assert_int_lt(ns, 1000000000);
    ring_detach(p);
    ring_detach(c);
    close(fd);
    close(wfd);
}
END_TEST

enum { PARK_ROUNDS = 50 };

typedef struct {
    ring_t *c;
    _Atomic int sleeping; /* round the consumer is about to poll() in, 1-based */
    _Atomic int failed;   /* 0, or where the consumer thread failed */
} park_ctx_t;

static void *park_consumer(void *arg)
{
    park_ctx_t *x = arg;
    struct pollfd pfd = {.fd = ring_wake_fd(x->c), .events = POLLIN};
    for (int round = 1; round <= PARK_ROUNDS; round++) {
        if (!ring_park(x->c)) {
            atomic_store(&x->failed, 100 + round); /* nothing was pushed yet */
            return NULL;
        }
        atomic_store(&x->sleeping, round);
        if (poll(&pfd, 1, 5000) != 1) {
            atomic_store(&x->failed, 200 + round); /* not woken within 5 s */
            return NULL;
        }
        ring_unpark(x->c);
        uint8_t buf[64];
        size_t n;
        uint64_t seq;
        if (ring_pop(x->c, buf, sizeof buf, &n) != 0 || n != 8 ||
            (memcpy(&seq, buf, 8), seq != (uint64_t)round)) {
            atomic_store(&x->failed, 300 + round);
            return NULL;
        }
    }
    return NULL;
}

START_TEST(test_park_wakes_thread)
{
    int wfd = ring_wake_create();
    ck_assert_int_ge(wfd, 0);
    int fd = make_ring(8, 64);
    ring_t *p = attach(fd, wfd, RING_PRODUCER);
    park_ctx_t x = {.c = attach(fd, wfd, RING_CONSUMER)};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, park_consumer, &x), 0);
    for (int round = 1; round <= PARK_ROUNDS && atomic_load(&x.failed) == 0; round++) {
        /* Bounded wait for the consumer to be parked (polled, 5 s at most). */
        for (int i = 0; atomic_load(&x.sleeping) != round && atomic_load(&x.failed) == 0; i++) {
            ck_assert_int_lt(i, 50000);
            nanosleep(&(struct timespec){0, 100000}, NULL);
        }
        uint64_t seq = (uint64_t)round;
        ck_assert_int_eq(ring_push(p, &seq, 8), 0);
    }
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(atomic_load(&x.failed), 0);
    ring_stats_t s = stats(p);
    ck_assert_uint_eq(s.wakes, PARK_ROUNDS);
    ck_assert_uint_eq(s.popped, PARK_ROUNDS);
    ring_detach(p);
    ring_detach(x.c);
    close(fd);
    close(wfd);
}
END_TEST

/* Two threads in ping-pong over two rings, each parking before every
 * message with no pause: the parking handshake raced as hard as it can
 * be. A lost wake-up (the consumer asleep while a message waits) shows as
 * a poll() that times out. */
enum { RACE_ROUNDS = 200000 };

typedef struct {
    ring_t *in, *out;
    _Atomic int failed;
} race_side_t;

static int race_wait(ring_t *r)
{
    struct pollfd pfd = {.fd = ring_wake_fd(r), .events = POLLIN};
    while (!ring_ready(r)) {
        if (!ring_park(r))
            continue;
        if (poll(&pfd, 1, 2000) != 1 && !ring_ready(r))
            return -1; /* asleep with nothing to wake it: a lost wake-up */
        ring_unpark(r);
    }
    return 0;
}

static void *race_echo(void *arg)
{
    race_side_t *x = arg;
    uint64_t v;
    size_t n;
    for (uint64_t i = 0; i < RACE_ROUNDS; i++) {
        if (race_wait(x->in) != 0 || ring_pop(x->in, &v, sizeof v, &n) != 0 || v != i ||
            ring_push(x->out, &v, sizeof v) != 0) {
            atomic_store(&x->failed, 1);
            return NULL;
        }
    }
    return NULL;
}

START_TEST(test_park_race)
{
    int w1 = ring_wake_create(), w2 = ring_wake_create();
    int f1 = make_ring(4, 64), f2 = make_ring(4, 64);
    ring_t *p1 = attach(f1, w1, RING_PRODUCER), *c2 = attach(f2, w2, RING_CONSUMER);
    race_side_t x = {attach(f1, w1, RING_CONSUMER), attach(f2, w2, RING_PRODUCER), 0};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, race_echo, &x), 0);
    uint64_t v;
    size_t n;
    for (uint64_t i = 0; i < RACE_ROUNDS && !atomic_load(&x.failed); i++) {
        ck_assert_int_eq(ring_push(p1, &i, sizeof i), 0);
        ck_assert_msg(race_wait(c2) == 0, "lost wake-up at round %llu", (unsigned long long)i);
        ck_assert_int_eq(ring_pop(c2, &v, sizeof v, &n), 0);
        ck_assert_uint_eq(v, i);
    }
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    int echo_failed = atomic_load(&x.failed);
    ck_assert_msg(!echo_failed, "the echo thread lost a wake-up or a message");
    ring_detach(p1);
    ring_detach(c2);
    ring_detach(x.in);
    ring_detach(x.out);
    close(f1);
    close(f2);
    close(w1);
    close(w2);
}
END_TEST

static void wait_child(pid_t pid, int want_signal)
{
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    if (want_signal) {
        ck_assert(WIFSIGNALED(st));
        ck_assert_int_eq(WTERMSIG(st), want_signal);
    } else {
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
    }
}

START_TEST(test_two_processes)
{
    enum { N = 200000 };
    int fd = make_ring(256, 128);
    ring_t *c = attach(fd, -1, RING_CONSUMER);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* The child: its own mapping of the same memfd. No Check asserts
         * here; the exit status says how it went. */
        ring_t *p = NULL;
        if (ring_attach(&p, fd, -1, RING_PRODUCER, NULL, 0) != 0)
            _exit(2);
        uint8_t buf[128];
        for (uint64_t seq = 0; seq < N; seq++) {
            size_t n = len_of(seq, 128);
            fill(buf, seq, n);
            int rc;
            while ((rc = ring_push(p, buf, n)) == -ENOBUFS)
                ;
            if (rc != 0)
                _exit(3);
        }
        _exit(0);
    }
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t seq = 0; seq < N;) {
        if (!ring_ready(c)) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            ck_assert_int_lt(now.tv_sec - t0.tv_sec, 30);
            continue;
        }
        pop_expect(c, seq, len_of(seq, 128));
        seq++;
    }
    wait_child(pid, 0);
    ring_stats_t s = stats(c);
    ck_assert_uint_eq(s.pushed, N); /* the child's counters, seen here */
    ck_assert_uint_eq(s.popped, N);
    ck_assert_uint_eq(s.producer_attaches, 1);
    ck_assert_uint_eq(s.consumer_attaches, 1);
    ring_detach(c);
    close(fd);
}
END_TEST

START_TEST(test_killed_mid_write)
{
    int fd = make_ring(4, 64);
    ring_t *p = attach(fd, -1, RING_PRODUCER), *c = attach(fd, -1, RING_CONSUMER);
    layout_t l;
    layout_find(&l, fd, 4, p, c);
    ring_detach(p);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* A producer that dies halfway through writing sequence 4 (slot
         * 0): length and half the payload written, seq not stored. */
        ring_t *dying = NULL;
        if (ring_attach(&dying, fd, -1, RING_PRODUCER, NULL, 0) != 0)
            _exit(2);
        uint8_t *m = mmap(NULL, l.len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED)
            _exit(4);
        uint8_t *pay = m + l.off0;
        uint32_t bad_len = 64;
        memcpy(pay - 8, &bad_len, 4);
        memset(pay, 0xee, 32);
        raise(SIGKILL);
        _exit(3);
    }
    wait_child(pid, SIGKILL);
    ck_assert_uint_eq(*len_at(&l, 0), 64); /* the child did write */
    ck_assert_uint_eq(payload_at(&l, 0)[0], 0xee);
    uint8_t buf[64];
    size_t n;
    ck_assert(!ring_ready(c));
    ck_assert_int_eq(ring_pop(c, buf, sizeof buf, &n), -EAGAIN);

    /* A new producer writes sequence 4 over the torn slot, and on. */
    p = attach(fd, -1, RING_PRODUCER);
    for (uint64_t seq = 4; seq < 10; seq++) {
        push_msg(p, seq, len_of(seq, 40));
        pop_expect(c, seq, len_of(seq, 40));
    }
    ck_assert_int_eq(ring_pop(c, buf, sizeof buf, &n), -EAGAIN);
    ring_stats_t s = stats(c);
    ck_assert_uint_eq(s.pushed, 10);
    ck_assert_uint_eq(s.popped, 10);
    ck_assert_uint_eq(s.producer_attaches, 3);
    ck_assert_uint_eq(s.consumer_attaches, 1);
    ring_detach(p);
    ring_detach(c);
    munmap(l.base, l.len);
    close(fd);
}
END_TEST

/* What a producer killed between a slot's seq store and head's leaves:
 * sequence seq complete in its slot, uncounted. */
static void orphan(const layout_t *l, uint32_t mask, uint64_t seq, size_t len)
{
    uint32_t slot = (uint32_t)(seq & mask);
    fill(payload_at(l, slot), seq, len);
    *len_at(l, slot) = (uint32_t)len;
    atomic_store_explicit(seq_at(l, slot), seq + 1, memory_order_release);
}

START_TEST(test_died_after_publish)
{
    int fd = make_ring(4, 64);
    ring_t *p = attach(fd, -1, RING_PRODUCER), *c = attach(fd, -1, RING_CONSUMER);
    layout_t l;
    layout_find(&l, fd, 4, p, c);
    ring_detach(p);

    /* Sequence 4 published, not counted; a new producer attaches before
     * the consumer looks: it must count 4, not write its own over it. */
    orphan(&l, 3, 4, 30);
    ck_assert_uint_eq(stats(c).pushed, 4);
    p = attach(fd, -1, RING_PRODUCER);
    ring_stats_t s = stats(c);
    ck_assert_uint_eq(s.pushed, 5);
    ck_assert_uint_eq(s.occupancy, 1);
    push_msg(p, 5, 11);
    pop_expect(c, 4, 30);
    pop_expect(c, 5, 11);
    ring_detach(p);

    /* Again (sequences 6 and 7), and this time the consumer takes them
     * before the new producer attaches: tail runs ahead of head. */
    orphan(&l, 3, 6, 64);
    pop_expect(c, 6, 64);
    ck_assert(!ring_ready(c));
    p = attach(fd, -1, RING_PRODUCER);
    push_msg(p, 7, 9);
    pop_expect(c, 7, 9);
    /* And a whole ring's worth still fits: head did not fall behind tail. */
    for (uint64_t seq = 8; seq < 12; seq++)
        push_msg(p, seq, 5);
    ck_assert_int_eq(ring_push(p, "x", 1), -ENOBUFS);
    for (uint64_t seq = 8; seq < 12; seq++)
        pop_expect(c, seq, 5);
    s = stats(c);
    ck_assert_uint_eq(s.pushed, 12);
    ck_assert_uint_eq(s.popped, 12);
    ck_assert_uint_eq(s.overflows, 1);
    ck_assert_uint_eq(s.occupancy, 0);
    ck_assert_uint_eq(s.producer_attaches, 3);
    ring_detach(p);
    ring_detach(c);
    munmap(l.base, l.len);
    close(fd);
}
END_TEST

START_TEST(test_bad_length_skipped)
{
    int fd = make_ring(4, 64);
    ring_t *p = attach(fd, -1, RING_PRODUCER), *c = attach(fd, -1, RING_CONSUMER);
    layout_t l;
    layout_find(&l, fd, 4, p, c);
    /* Sequence 4 ready but claiming 65 bytes (slot holds 64), 5 claiming
     * 0, then a good one: the bad two are skipped and counted. */
    *len_at(&l, 0) = 65;
    atomic_store(seq_at(&l, 0), 5);
    *len_at(&l, 1) = 0;
    atomic_store(seq_at(&l, 1), 6);
    uint8_t buf[128];
    size_t n = 777;
    ck_assert_int_eq(ring_pop(c, buf, sizeof buf, &n), -EBADMSG);
    ck_assert_int_eq(ring_pop(c, buf, sizeof buf, &n), -EBADMSG);
    ck_assert_uint_eq(n, 777);
    ck_assert_uint_eq(stats(c).popped, 6);
    ring_detach(p);
    p = attach(fd, -1, RING_PRODUCER); /* counts the two as pushed */
    push_msg(p, 6, 50);
    pop_expect(c, 6, 50);
    ring_stats_t s = stats(c);
    ck_assert_uint_eq(s.pushed, 7);
    ck_assert_uint_eq(s.popped, 7);
    ring_detach(p);
    ring_detach(c);
    munmap(l.base, l.len);
    close(fd);
}
END_TEST

START_TEST(test_consumer_restart)
{
    /* A consumer that dies (parked, with messages waiting) and comes back
     * continues at the shared tail; the flag it left does not cost wakes. */
    int wfd = ring_wake_create();
    int fd = make_ring(8, 64);
    ring_t *p = attach(fd, wfd, RING_PRODUCER), *c = attach(fd, wfd, RING_CONSUMER);
    for (uint64_t seq = 0; seq < 5; seq++)
        push_msg(p, seq, 20);
    pop_expect(c, 0, 20);
    pop_expect(c, 1, 20);
    ring_detach(c);
    c = attach(fd, wfd, RING_CONSUMER);
    for (uint64_t seq = 2; seq < 5; seq++)
        pop_expect(c, seq, 20);
    ck_assert(ring_park(c));
    ring_detach(c); /* died parked */
    c = attach(fd, wfd, RING_CONSUMER);
    push_msg(p, 5, 20);
    ring_stats_t s = stats(c);
    ck_assert_uint_eq(s.wakes, 0);
    ck_assert_uint_eq(s.consumer_attaches, 3);
    pop_expect(c, 5, 20);
    ring_detach(p);
    ring_detach(c);
    close(fd);
    close(wfd);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "ring", .tcase = "core", .timeout_s = 60};
    return suite_build(&spec, SUITE_TESTS(
        test_geometry_refused, test_round_trip, test_wrap_around, test_full_ring,
        test_pop_small_buffer_keeps_message, test_role_misuse, test_attach_refuses_foreign,
        test_attach_refuses_damaged_header, test_threads_million, test_park_dekker,
        test_park_wakes_thread, test_park_race, test_two_processes, test_killed_mid_write,
        test_died_after_publish, test_bad_length_skipped, test_consumer_restart));
}
