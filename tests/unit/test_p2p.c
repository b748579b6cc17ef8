/* Who may connect (common/node/p2p/zap.c), over real ZeroMQ CURVE sockets
 * on loopback TCP: a client whose key is on the allowlist gets its message
 * through; an unknown key completes no handshake and nothing of it
 * arrives (counted as refused); the same unknown key does get in when no
 * ZAP handler is bound, which is why the handler must come first; keys
 * added later are admitted from then on; and a validator's Ed25519 key
 * pair gives the Curve25519 pair the sockets use. */
#include <check.h>
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "common/node/p2p/zap.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

typedef struct {
    uint8_t ed_pk[32], ed_sk[64], pk[32], sk[32];
} node_keys_t;

static void make_keys(node_keys_t *k)
{
    crypto_sign_keypair(k->ed_pk, k->ed_sk);
    ck_assert_int_eq(p2p_curve_keys(k->ed_pk, k->ed_sk, k->pk, k->sk), 0);
}

/* A CURVE server ROUTER on a free loopback port; its endpoint in ep. */
static void *server(void *ctx, const node_keys_t *k, char ep[64])
{
    void *s = zmq_socket(ctx, ZMQ_ROUTER);
    int one = 1, linger = 0, timeout = 2000;
    size_t len = 64;
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof(one)), 0);
    ck_assert_int_eq(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, k->sk, 32), 0);
    ck_assert_int_eq(zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, P2P_ZAP_DOMAIN, strlen(P2P_ZAP_DOMAIN)),
                     0);
    ck_assert_int_eq(zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    ck_assert_int_eq(zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof(timeout)), 0);
    ck_assert_int_eq(zmq_bind(s, "tcp://127.0.0.1:*"), 0);
    ck_assert_int_eq(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len), 0);
    return s;
}

/* A CURVE client DEALER of k, connected to the server (server_pk) at ep,
 * that sends text. */
static void *client(void *ctx, const node_keys_t *k, const uint8_t server_pk[32], const char *ep,
                    const char *text)
{
    void *c = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(zmq_setsockopt(c, ZMQ_CURVE_SERVERKEY, server_pk, 32), 0);
    ck_assert_int_eq(zmq_setsockopt(c, ZMQ_CURVE_PUBLICKEY, k->pk, 32), 0);
    ck_assert_int_eq(zmq_setsockopt(c, ZMQ_CURVE_SECRETKEY, k->sk, 32), 0);
    ck_assert_int_eq(zmq_setsockopt(c, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    ck_assert_int_eq(zmq_connect(c, ep), 0);
    ck_assert_int_eq(zmq_send(c, text, strlen(text), 0), (int)strlen(text));
    return c;
}

/* The next message's payload on the ROUTER s into out: 0, or -1 when
 * nothing came within the socket's receive timeout. */
static int receive(void *s, char *out, size_t cap)
{
    char id[256];
    int more = 0;
    size_t sz = sizeof(more);
    if (zmq_recv(s, id, sizeof(id), 0) < 0)
        return -1;
    zmq_getsockopt(s, ZMQ_RCVMORE, &more, &sz);
    ck_assert_int_eq(more, 1);
    int n = zmq_recv(s, out, cap - 1, 0);
    ck_assert_int_ge(n, 0);
    out[n] = '\0';
    return 0;
}

static void short_timeout(void *s, int ms)
{
    ck_assert_int_eq(zmq_setsockopt(s, ZMQ_RCVTIMEO, &ms, sizeof(ms)), 0);
}

static bool refused_at_least(p2p_zap_t *z, uint64_t n)
{
    for (int i = 0; i < 100; i++) {
        uint64_t a, r;
        p2p_zap_counts(z, &a, &r);
        if (r >= n)
            return true;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

START_TEST(test_known_admitted_unknown_refused)
{
    node_keys_t srv, known, stranger;
    char ep[64], got[64], err[P2P_ERR_MAX];
    p2p_zap_t *z = NULL;
    uint64_t admitted, refused;
    void *ctx = zmq_ctx_new();
    make_keys(&srv);
    make_keys(&known);
    make_keys(&stranger);
    /* The handler first, then the server socket. */
    ck_assert_msg(p2p_zap_start(&z, ctx, err) == 0, "%s", err);
    ck_assert_int_eq(p2p_zap_allow(z, known.pk), 0);
    ck_assert_int_eq(p2p_zap_allow(z, known.pk), 0); /* twice: no error */
    void *s = server(ctx, &srv, ep);

    void *a = client(ctx, &known, srv.pk, ep, "hello from a validator");
    ck_assert_int_eq(receive(s, got, sizeof(got)), 0);
    ck_assert_str_eq(got, "hello from a validator");

    void *b = client(ctx, &stranger, srv.pk, ep, "let me in");
    short_timeout(s, 700);
    ck_assert_int_eq(receive(s, got, sizeof(got)), -1); /* nothing of it arrives */
    ck_assert(refused_at_least(z, 1));
    p2p_zap_counts(z, &admitted, &refused);
    ck_assert_uint_ge(admitted, 1);

    /* Admitted later: a new connection of that key gets in. */
    ck_assert_int_eq(p2p_zap_allow(z, stranger.pk), 0);
    void *b2 = client(ctx, &stranger, srv.pk, ep, "now allowed");
    short_timeout(s, 3000);
    ck_assert_int_eq(receive(s, got, sizeof(got)), 0);
    ck_assert_str_eq(got, "now allowed");

    /* A second handler in the same context cannot bind. */
    p2p_zap_t *z2 = NULL;
    ck_assert_int_lt(p2p_zap_start(&z2, ctx, err), 0);
    zmq_close(a);
    zmq_close(b);
    zmq_close(b2);
    zmq_close(s);
    p2p_zap_stop(z);
    zmq_ctx_term(ctx);
}
END_TEST

/* What the handler is for: without one, libzmq lets any CURVE key in. */
START_TEST(test_without_handler_anyone_gets_in)
{
    node_keys_t srv, stranger;
    char ep[64], got[64];
    void *ctx = zmq_ctx_new();
    make_keys(&srv);
    make_keys(&stranger);
    void *s = server(ctx, &srv, ep);
    void *b = client(ctx, &stranger, srv.pk, ep, "unauthenticated");
    ck_assert_int_eq(receive(s, got, sizeof(got)), 0);
    ck_assert_str_eq(got, "unauthenticated");
    zmq_close(b);
    zmq_close(s);
    zmq_ctx_term(ctx);
}
END_TEST

START_TEST(test_curve_from_ed25519)
{
    node_keys_t k;
    uint8_t derived[32], pk_only[32];
    make_keys(&k);
    ck_assert_int_eq(crypto_scalarmult_base(derived, k.sk), 0);
    ck_assert_mem_eq(derived, k.pk, 32); /* a real Curve25519 pair */
    ck_assert_int_eq(p2p_curve_pk(k.ed_pk, pk_only), 0);
    ck_assert_mem_eq(pk_only, k.pk, 32); /* another node derives the same key */
    uint8_t bad[32];
    memset(bad, 0, sizeof(bad)); /* no point: refused */
    ck_assert_int_eq(p2p_curve_pk(bad, pk_only), -EINVAL);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "p2p", .tcase = "zap", .timeout_s = 30};
    return suite_build(&spec, SUITE_TESTS(test_known_admitted_unknown_refused,
                                          test_without_handler_anyone_gets_in,
                                          test_curve_from_ed25519));
}
