/* The ZAP handler; see zap.h. One REP socket on inproc://zeromq.zap.01,
 * served by a thread that answers each request (RFC 27: version, request
 * id, domain, address, routing id, mechanism, credentials) with 200 for an
 * allowlisted CURVE key and 400 for anything else. */
#include "common/node/p2p/zap.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_FRAMES 7   /* version .. one credential (the CURVE client key) */
#define POLL_MS 100    /* how often the thread looks at the stop flag */

struct p2p_zap {
    void *rep;
    pthread_t thread;
    pthread_mutex_t mu;
    uint8_t (*keys)[32];
    size_t n_keys;
    atomic_bool stop;
    atomic_uint_fast64_t admitted, refused;
};

static bool allowed(p2p_zap_t *z, const uint8_t pk[32])
{
    bool ok = false;
    pthread_mutex_lock(&z->mu);
    for (size_t i = 0; !ok && i < z->n_keys; i++)
        ok = sodium_memcmp(z->keys[i], pk, 32) == 0;
    pthread_mutex_unlock(&z->mu);
    return ok;
}

/* Read one request (at most ZAP_FRAMES frames, the rest drained) and
 * answer it. */
static void serve_one(p2p_zap_t *z)
{
    zmq_msg_t f[ZAP_FRAMES];
    size_t n = 0;
    int more = 1;
    size_t sz = sizeof(more);
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, z->rep, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        zmq_getsockopt(z->rep, ZMQ_RCVMORE, &more, &sz);
        if (n < ZAP_FRAMES)
            f[n++] = m;
        else
            zmq_msg_close(&m);
    }
    bool ok = n == ZAP_FRAMES && zmq_msg_size(&f[0]) == 3 &&
              memcmp(zmq_msg_data(&f[0]), "1.0", 3) == 0 && zmq_msg_size(&f[5]) == 5 &&
              memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0 && zmq_msg_size(&f[6]) == 32 &&
              allowed(z, zmq_msg_data(&f[6]));
    atomic_fetch_add(ok ? &z->admitted : &z->refused, 1);
    if (n >= 2) {
        const char *code = ok ? "200" : "400", *text = ok ? "OK" : "key not admitted";
        char user[65] = "";
        if (ok)
            for (int i = 0; i < 32; i++)
                snprintf(user + 2 * i, 3, "%02x", ((const uint8_t *)zmq_msg_data(&f[6]))[i]);
        zmq_send(z->rep, "1.0", 3, ZMQ_SNDMORE);
        zmq_send(z->rep, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
        zmq_send(z->rep, code, 3, ZMQ_SNDMORE);
        zmq_send(z->rep, text, strlen(text), ZMQ_SNDMORE);
        zmq_send(z->rep, user, strlen(user), ZMQ_SNDMORE); /* user id: the key, hex */
        zmq_send(z->rep, "", 0, 0);                        /* no metadata */
    }
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

static void *zap_run(void *arg)
{
    p2p_zap_t *z = arg;
    zmq_pollitem_t item = {.socket = z->rep, .events = ZMQ_POLLIN};
    while (!atomic_load(&z->stop)) {
        int r = zmq_poll(&item, 1, POLL_MS);
        if (r < 0 && zmq_errno() == ETERM)
            break;
        if (r > 0 && (item.revents & ZMQ_POLLIN))
            serve_one(z);
    }
    return NULL;
}

int p2p_zap_start(p2p_zap_t **out, void *zctx, char err[P2P_ERR_MAX])
{
    p2p_zap_t *z = calloc(1, sizeof(*z));
    int linger = 0;
    if (!z || !(z->keys = calloc(P2P_ZAP_MAX_KEYS, 32))) {
        free(z);
        snprintf(err, P2P_ERR_MAX, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&z->mu, NULL);
    if (!(z->rep = zmq_socket(zctx, ZMQ_REP)) ||
        zmq_setsockopt(z->rep, ZMQ_LINGER, &linger, sizeof(linger)) < 0 ||
        zmq_bind(z->rep, ZAP_ENDPOINT) < 0) {
        int e = zmq_errno();
        snprintf(err, P2P_ERR_MAX, "ZAP handler at %s: %s", ZAP_ENDPOINT, zmq_strerror(e));
        if (z->rep)
            zmq_close(z->rep);
        pthread_mutex_destroy(&z->mu);
        free(z->keys);
        free(z);
        return -e;
    }
    if (pthread_create(&z->thread, NULL, zap_run, z) != 0) {
        snprintf(err, P2P_ERR_MAX, "ZAP handler: cannot start its thread");
        zmq_close(z->rep);
        pthread_mutex_destroy(&z->mu);
        free(z->keys);
        free(z);
        return -EAGAIN;
    }
    *out = z;
    return 0;
}

void p2p_zap_stop(p2p_zap_t *z)
{
    if (!z)
        return;
    atomic_store(&z->stop, true);
    pthread_join(z->thread, NULL);
    zmq_close(z->rep);
    pthread_mutex_destroy(&z->mu);
    free(z->keys);
    free(z);
}

int p2p_zap_allow(p2p_zap_t *z, const uint8_t curve_pk[32])
{
    int r = 0;
    pthread_mutex_lock(&z->mu);
    bool have = false;
    for (size_t i = 0; !have && i < z->n_keys; i++)
        have = memcmp(z->keys[i], curve_pk, 32) == 0;
    if (!have) {
        if (z->n_keys == P2P_ZAP_MAX_KEYS)
            r = -ENOSPC;
        else
            memcpy(z->keys[z->n_keys++], curve_pk, 32);
    }
    pthread_mutex_unlock(&z->mu);
    return r;
}

void p2p_zap_counts(p2p_zap_t *z, uint64_t *admitted, uint64_t *refused)
{
    *admitted = atomic_load(&z->admitted);
    *refused = atomic_load(&z->refused);
}

int p2p_curve_keys(const uint8_t ed_pk[32], const uint8_t ed_sk[64], uint8_t curve_pk[32],
                   uint8_t curve_sk[32])
{
    if (crypto_sign_ed25519_pk_to_curve25519(curve_pk, ed_pk) != 0 ||
        crypto_sign_ed25519_sk_to_curve25519(curve_sk, ed_sk) != 0)
        return -EINVAL;
    return 0;
}

int p2p_curve_pk(const uint8_t ed_pk[32], uint8_t curve_pk[32])
{
    return crypto_sign_ed25519_pk_to_curve25519(curve_pk, ed_pk) == 0 ? 0 : -EINVAL;
}
