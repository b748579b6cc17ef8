/* One HTTP/1.1 exchange as raw bytes over a loopback TCP connection, and a
 * strict reader of the answer, for the fuzz targets that drive the real API
 * server: whatever bytes the fuzzer makes go out as they are, and what
 * comes back must be a well-formed response. Nothing here uses Check or
 * aborts: the caller decides what a failure means. */
#ifndef ADNET_TEST_RAWHTTP_H
#define ADNET_TEST_RAWHTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A response as read from the wire. */
typedef struct {
    int status;                /* 100..599 */
    char content_type[128];    /* "" without the header (cut to fit) */
    bool has_length;           /* Content-Length was sent */
    bool chunked;              /* Transfer-Encoding: chunked */
    uint8_t *body;             /* the body, de-chunked (malloc'd, NUL after the last byte) */
    size_t body_len;
} rawhttp_response_t;

/* How to run an exchange. */
typedef struct {
    int port;                  /* on 127.0.0.1 */
    bool head;                 /* a HEAD request: the answer carries no body */
    bool half_close;           /* shutdown(SHUT_WR) once the request is sent */
    int answer_ms;             /* wait this long for the first byte of the answer */
    int finish_ms;             /* and this long for the rest, once it has begun */
} rawhttp_opts_t;

/* What came back. */
typedef struct {
    rawhttp_response_t res;    /* the final (non-1xx) response, when rawhttp_exchange returns 0 */
    unsigned interim;          /* 1xx responses read before it */
    size_t received;           /* bytes read in all */
    bool reset;                /* the server reset the connection */
} rawhttp_result_t;

/* Connect to opts->port, send req[len], read one final response (skipping
 * 1xx ones) and close the connection with a reset (SO_LINGER 0, so that
 * many exchanges leave no TIME_WAIT behind). Return 0 with out->res filled
 * (free it with rawhttp_response_free), -EAGAIN if nothing came back within
 * answer_ms or the server closed without a byte, -EPROTO if what came back
 * is not a well-formed response or stops in the middle of one, -ETIMEDOUT
 * if it began but did not finish within finish_ms, or another -errno if no
 * connection could be made. out->received and out->reset are always set. */
int rawhttp_exchange(const rawhttp_opts_t *opts, const uint8_t *req, size_t len,
                     rawhttp_result_t *out);

/* Parse the response at p[n] (head says it answers HEAD; eof that no more
 * bytes will come). Return 1 and *res (body malloc'd) with its length in
 * *used, 0 if more bytes are needed, -EPROTO if it is malformed. */
int rawhttp_parse(const uint8_t *p, size_t n, bool head, bool eof, rawhttp_response_t *res,
                  size_t *used);

/* Whether a server should be able to answer req[len] as it stands: its head
 * is complete (an empty line ends it) and so is its body as the head frames
 * it (Content-Length bytes, or chunks up to the last one). A heuristic for
 * deciding how long to wait, not a parser a server could rely on. */
bool rawhttp_request_complete(const uint8_t *req, size_t len);

/* Free res->body; NULL-safe. */
void rawhttp_response_free(rawhttp_response_t *res);

#endif
