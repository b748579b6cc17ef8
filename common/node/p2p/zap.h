/* Who may connect: a ZAP handler (ZeroMQ RFC 27) that admits a CURVE
 * client only if its public key is on an allowlist (the validator set and
 * the configured peers). libzmq accepts every CURVE client whose
 * handshake completes when no ZAP handler is bound in its context, so a
 * node must start this handler before it binds any CURVE server socket
 * in that context; p2p_zap_start binds inproc://zeromq.zap.01 and serves
 * it on a thread of its own. Keys are Curve25519: p2p_curve_keys turns a
 * validator's Ed25519 key pair into one, so one key file serves both. */
#ifndef ADNET_P2P_ZAP_H
#define ADNET_P2P_ZAP_H

#include <stddef.h>
#include <stdint.h>

#define P2P_ZAP_MAX_KEYS 1024
#define P2P_ZAP_DOMAIN "adnet"
#define P2P_ERR_MAX 256

typedef struct p2p_zap p2p_zap_t;

/* Bind the handler in zctx and start its thread. Return 0 and *out, or a
 * negative code with err (-EADDRINUSE: a handler is bound already). */
int p2p_zap_start(p2p_zap_t **out, void *zctx, char err[P2P_ERR_MAX]);
/* Stop the thread and close the socket; NULL-safe. Call before the
 * context is terminated. */
void p2p_zap_stop(p2p_zap_t *z);

/* Admit curve_pk from now on (thread-safe). Return 0, or -ENOSPC when
 * P2P_ZAP_MAX_KEYS are listed. Adding a key twice is no error. */
int p2p_zap_allow(p2p_zap_t *z, const uint8_t curve_pk[32]);

/* Handshakes admitted and refused so far (thread-safe). */
void p2p_zap_counts(p2p_zap_t *z, uint64_t *admitted, uint64_t *refused);

/* The Curve25519 key pair of an Ed25519 one (libsodium layout: sk is 64
 * bytes). Return 0 or -EINVAL (a key that has no Curve25519 form). */
int p2p_curve_keys(const uint8_t ed_pk[32], const uint8_t ed_sk[64], uint8_t curve_pk[32],
                   uint8_t curve_sk[32]);
/* The Curve25519 public key of an Ed25519 one (another node's). */
int p2p_curve_pk(const uint8_t ed_pk[32], uint8_t curve_pk[32]);

#endif
