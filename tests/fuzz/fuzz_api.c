/* libFuzzer target for the HTTP API: every route of the common table and
 * of both chains' tables, through the real server (api.c on
 * libmicrohttpd) over a loopback socket, on real ledgers (api_world.h).
 *
 * The first byte picks the chain (bit 0), how the rest is read (bits 1-2)
 * and what the node says of itself (bits 3-4: producing, delayed, halted,
 * or producing with a block interval the last block is far past, so that
 * /health says stalled):
 *
 *   raw (0)         the rest is sent as it is: request line, header fields
 *                   and body, so libmicrohttpd's parsing and the server's
 *                   head, limit and framing checks see anything;
 *   request (1, 3)  a well-framed request the harness writes: a method, a
 *                   route's pattern with each {} filled (a word the ledger
 *                   knows, or fuzzer bytes, %-escaped or not) or a raw
 *                   path, a query, a Content-Type, one extra header field
 *                   (Expect, a chunked body, many fields, ...), and the
 *                   rest as the body;
 *   signed (2)      POST /txs or /txs/batch of 1 to 4 transactions the
 *                   harness signs with one of the world's keys from fuzzer
 *                   fields (kind, fee, nonce, expiry, payload bytes), as
 *                   JSON or binary, so that the chains' admission checks
 *                   (chain_precheck_tx, check_tx) see payloads of a valid
 *                   signature.
 *
 * Promises checked on every input: no crash, leak or sanitizer report; a
 * request the harness framed gets exactly one well-formed HTTP response;
 * what comes back to a raw request is a well-formed response or nothing
 * (when the request is incomplete); a JSON body parses, and a JSON error
 * (status >= 400) is {"error":{"code":..,"message":..}} or, for /health
 * and /status, an object with a "status" or "state"; no answer is a 500
 * (the ledgers are healthy, so a 500 is a handler that failed on input),
 * and no error body is api.c's stand-in for one that could not be built.
 * Answers (and silences) of a finding not fixed yet are counted instead
 * (known_finding, known_silence; FUZZ_API_STRICT=1 makes them fatal).
 * Leaks: the server's threads free a connection's memory after the input
 * has returned, so libFuzzer soon stops checking each input for leaks
 * (it says so); LeakSanitizer still checks the whole run at exit.
 *
 * Seeds: FUZZ_API_SEEDS=DIR build-fuzz/tests/fuzz_api -runs=0 writes them
 * for the world as it is built (tests/fuzz/corpus/api/ holds them). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/base/hex.h"
#include "common/node/api/api_routes.h"
#include "proto/tx.h"
#include "tests/fuzz/api_world.h"
#include "tests/lib/fuzz.h"
#include "tests/lib/rawhttp.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MODE_RAW 0
#define MODE_SIGNED 2
#define WAIT_MS 5000       /* for an answer the server owes */
#define EARLY_MS 3         /* for an early answer to an incomplete raw request */
#define MAX_PIECE 255

static world_t W;

/* ---- reading the input --------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t n;
} in_t;

static uint8_t in_byte(in_t *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

/* Up to want bytes; return how many, pointing *out at them. */
static size_t in_take(in_t *in, size_t want, const uint8_t **out)
{
    size_t k = want < in->n ? want : in->n;
    *out = in->p;
    in->p += k;
    in->n -= k;
    return k;
}

/* A piece: a length byte, then that many bytes. */
static size_t in_piece(in_t *in, const uint8_t **out)
{
    return in_take(in, in_byte(in), out);
}

/* ---- a growing buffer ---------------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t len, cap;
} buf_t;

static void buf_add(buf_t *b, const void *data, size_t n)
{
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap - b->len < n + 1)
            cap *= 2;
        CHECK((b->p = realloc(b->p, cap)) != NULL);
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_fmt(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_fmt(buf_t *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    CHECK(n >= 0 && (size_t)n < sizeof tmp);
    buf_add(b, tmp, (size_t)n);
}

/* ---- what every answer must be ------------------------------------------- */

static bool is_error_object(const json_t *j)
{
    const json_t *e = json_object_get(j, "error");
    return json_is_string(json_object_get(e, "code")) &&
           json_is_string(json_object_get(e, "message"));
}

/* /health and /status answer 503 in their own shape. */
static bool is_state_object(const json_t *j)
{
    return json_is_string(json_object_get(j, "status")) ||
           json_is_string(json_object_get(j, "state"));
}

/* Say what went wrong, and to which request, then stop. */
static void fail(const buf_t *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static void fail(const buf_t *req, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_api: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nfuzz_api: the request (%zu bytes, escaped):\n", req->len);
    for (size_t i = 0; i < req->len && i < 4096; i++)
        fprintf(stderr, req->p[i] >= 0x20 && req->p[i] < 0x7f ? "%c" : "\\x%02x", req->p[i]);
    fprintf(stderr, "\n");
    abort();
}

/* Findings reported to their owners and not fixed yet: the answers they
 * cause are counted (and said once), not fatal, so that a run goes on to
 * find others; FUZZ_API_STRICT=1 makes them fatal again, to check a fix.
 * F1: an error message that quotes request bytes which are not UTF-8
 * cannot become JSON (json_pack refuses the string), so api_error's body
 * is lost: the answer is {"code":"internal","message":"response could not
 * be built"} with the route's status, and POST /txs/batch, whose result
 * list then cannot be built, answers 500. */
static unsigned long known_f1, known_f2;
static bool strict, show;   /* FUZZ_API_STRICT, FUZZ_API_SHOW (the latter prints every answer) */

#define LOST_BODY "response could not be built"
#define API_FIELDS_MAX 100 /* header fields the server allows (api.c) */

/* Header fields in the head of req (lines between the request line and
 * the empty one). */
static size_t head_fields(const buf_t *req)
{
    size_t n = 0;
    for (size_t i = 0; i + 1 < req->len; i++) {
        if (req->p[i] != '\n')
            continue;
        if (req->p[i + 1] == '\r' || req->p[i + 1] == '\n')
            break;
        n++;
    }
    return n;
}

/* F2: a head with many more fields than the server allows, yet small
 * enough for libmicrohttpd to read, gets no answer at all: api.c builds
 * its 431 (send_error), but the connection's memory (the pool daemon_start
 * sizes for API_MAX_FIELDS records) has no room left for the response, and
 * the connection closes without a byte. */
static bool known_silence(const buf_t *req, const rawhttp_result_t *res)
{
    if (strict || res->received != 0 || head_fields(req) <= API_FIELDS_MAX)
        return false;
    if (known_f2++ == 0)
        fprintf(stderr, "fuzz_api: known finding F2 (no answer to a head of many fields) "
                "seen; counted from now on\n");
    return true;
}

static bool known_finding(const buf_t *req, const rawhttp_response_t *r)
{
    static const char batch[] = "POST /txs/batch ";
    bool f1 = (r->body_len > 0 && strstr((const char *)r->body, LOST_BODY) != NULL) ||
              (r->status == 500 && req->len > sizeof batch &&
               memcmp(req->p, batch, sizeof batch - 1) == 0);
    if (!f1 || strict)
        return false;
    if (known_f1++ == 0)
        fprintf(stderr, "fuzz_api: known finding F1 (non-UTF-8 bytes in an error message) "
                "seen; counted from now on\n");
    return true;
}

static void check_answer(const buf_t *req, const rawhttp_response_t *r)
{
    if (show) /* for reading what a seed or a finding gets */
        fprintf(stderr, "fuzz_api: %d %s %.*s\n", r->status, r->content_type,
                (int)(r->body_len > 600 ? 600 : r->body_len), (const char *)r->body);
    if (known_finding(req, r))
        return;
    if (r->status == 500)
        fail(req, "500: %.*s", (int)r->body_len, (const char *)r->body);
    if (strncasecmp(r->content_type, "application/json", 16) != 0 || r->body_len == 0)
        return;
    json_error_t err;
    json_t *j = json_loadb((const char *)r->body, r->body_len, 0, &err);
    if (j == NULL)
        fail(req, "%d with a body that is not JSON (%s): %.*s", r->status, err.text,
             (int)r->body_len, (const char *)r->body);
    if (!json_is_object(j))
        fail(req, "%d with a JSON body that is not an object: %s", r->status, r->body);
    if (r->status >= 400 && !is_error_object(j) && !is_state_object(j))
        fail(req, "%d without an error object: %s", r->status, r->body);
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    if (msg != NULL && strcmp(msg, LOST_BODY) == 0) /* api.c's answer when the JSON failed */
        fail(req, "%d whose error body could not be built", r->status);
    json_decref(j);
}

/* Send req to c's server. A request the harness framed (owed) must be
 * answered; a raw one may go unanswered if the server is still waiting
 * for the rest of it. */
static void exchange(const world_chain_t *c, const buf_t *req, bool head, bool owed)
{
    bool complete = owed || rawhttp_request_complete(req->p, req->len);
    rawhttp_opts_t o = {.port = c->port, .head = head, .half_close = !owed,
                        .answer_ms = complete ? WAIT_MS : EARLY_MS, .finish_ms = WAIT_MS};
    rawhttp_result_t res;
    int rc = rawhttp_exchange(&o, req->p, req->len, &res);
    if (rc != 0 && show)
        fprintf(stderr, "fuzz_api: no answer read: %d (%zu bytes came back)\n", rc, res.received);
    if (rc == 0) {
        check_answer(req, &res.res);
        rawhttp_response_free(&res.res);
        return;
    }
    if (rc == -EAGAIN && (!owed || known_silence(req, &res)))
        return;
    fail(req, "%s (%d; %zu bytes came back%s)",
         rc == -EAGAIN ? "no answer" : rc == -EPROTO ? "a malformed answer" : "no whole answer",
         rc, res.received, res.reset ? ", then a reset" : "");
}

/* ---- the request mode ---------------------------------------------------- */

static const char *const methods[] = {"GET", "POST", "HEAD", "PUT",
                                      "DELETE", "OPTIONS", "PATCH", "get"};

static bool is_unreserved(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* Append p[n] to the target: %XX for what would end the request line
 * (space, CR, LF) and, if escape_all, for every byte but the unreserved
 * ones and '/', '%', '=', '&' (so that an escape the fuzzer wrote stays
 * one); other bytes go as they are. */
static void put_target_bytes(buf_t *b, const uint8_t *p, size_t n, bool escape_all)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        bool keep = is_unreserved(c) || c == '/' || c == '%' || c == '=' || c == '&';
        if (c == ' ' || c == '\r' || c == '\n' || (escape_all && !keep))
            buf_fmt(b, "%%%02X", c);
        else
            buf_add(b, &c, 1);
    }
}

/* One {} segment: a word the ledger knows (first byte below 0xc0), or a
 * piece of the input. */
static void put_param(buf_t *b, const world_chain_t *c, in_t *in, bool escape_all)
{
    uint8_t k = in_byte(in);
    const uint8_t *p;
    if (k < 0xc0) {
        const char *w = c->words[k % c->n_words];
        put_target_bytes(b, (const uint8_t *)w, strlen(w), escape_all);
        return;
    }
    size_t n = in_piece(in, &p);
    put_target_bytes(b, p, n, escape_all);
}

/* The route's pattern (sel < nroutes) or a raw path, then a query. */
static void put_target(buf_t *b, const world_chain_t *c, in_t *in)
{
    uint8_t sel = in_byte(in), flags = in_byte(in);
    size_t nc = api_common_nroutes, nr = nc + c->ops->n_routes;
    const uint8_t *p;
    bool escape_all = flags & 1;
    if (sel % (nr + 1) == nr) {
        size_t n = in_piece(in, &p);
        put_target_bytes(b, p, n, escape_all);
    } else {
        size_t r = sel % (nr + 1);
        const char *pat = r < nc ? api_common_routes[r].pattern : c->ops->routes[r - nc].pattern;
        for (; *pat; pat++) {
            if (pat[0] == '{' && pat[1] == '}') {
                put_param(b, c, in, escape_all);
                pat++;
            } else {
                buf_add(b, pat, 1);
            }
        }
    }
    if (flags & 2) {
        buf_add(b, "?", 1);
        size_t n = in_piece(in, &p);
        put_target_bytes(b, p, n, escape_all);
    }
}

/* A piece as a header value: no CR, LF or NUL. */
static void put_header_value(buf_t *b, in_t *in)
{
    const uint8_t *p;
    size_t n = in_piece(in, &p);
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = p[i] == '\r' || p[i] == '\n' || p[i] == 0 ? '_' : p[i];
        buf_add(b, &ch, 1);
    }
}

static const char *const content_types[] = {
    NULL, "application/json", "application/octet-stream",
    "application/octet-stream; charset=binary", "Application/Octet-Stream", "text/plain",
    " application/octet-stream",
};

/* A header field named name whose value is a piece of the input. */
static void put_field_piece(buf_t *b, const char *name, in_t *in, const char *after)
{
    buf_add(b, name, strlen(name));
    put_header_value(b, in);
    buf_add(b, after, strlen(after));
}

/* Content-Type and one more field; return true if the body goes chunked. */
static bool put_fields(buf_t *b, in_t *in)
{
    uint8_t t = in_byte(in) % 8, x = in_byte(in) % 8;
    if (t == 7)
        put_field_piece(b, "Content-Type: ", in, "\r\n");
    else if (content_types[t] != NULL)
        buf_fmt(b, "Content-Type: %s\r\n", content_types[t]);
    if (x == 1)
        buf_fmt(b, "Expect: 100-continue\r\n");
    if (x == 2)
        buf_fmt(b, "Transfer-Encoding: chunked\r\n");
    if (x == 3)
        put_field_piece(b, "X-Forwarded-For: ", in, "\r\n");
    if (x == 4)
        buf_fmt(b, "Connection: keep-alive\r\n");
    if (x == 5) /* a name of the input's (X- keeps it from framing the body) */
        put_field_piece(b, "X-", in, ": 1\r\n");
    for (unsigned i = 0, k = x == 6 ? in_byte(in) : 0; i < k; i++)
        buf_fmt(b, "X-F%u: %u\r\n", i, i);
    return x == 2;
}

/* The body, chunked in pieces of a size the input picks, or whole. */
static void put_body(buf_t *b, const uint8_t *body, size_t n, bool chunked, uint8_t chunk)
{
    if (!chunked) {
        buf_add(b, body, n);
        return;
    }
    size_t step = chunk ? chunk : (n ? n : 1);
    for (size_t off = 0; off < n; off += step) {
        size_t k = n - off < step ? n - off : step;
        buf_fmt(b, "%zx\r\n", k);
        buf_add(b, body + off, k);
        buf_add(b, "\r\n", 2);
    }
    buf_add(b, "0\r\n\r\n", 5);
}

/* Head and body of a framed request; the body is the rest of the input. */
static void write_request(buf_t *req, const world_chain_t *c, in_t *in, const char *method)
{
    const uint8_t *body;
    buf_add(req, method, strlen(method));
    buf_add(req, " ", 1);
    put_target(req, c, in);
    buf_fmt(req, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    bool chunked = put_fields(req, in);
    uint8_t chunk = in_byte(in);
    size_t n = in_take(in, in->n, &body);
    if (!chunked && (n > 0 || strcmp(method, "GET") != 0))
        buf_fmt(req, "Content-Length: %zu\r\n", n);
    buf_add(req, "\r\n", 2);
    put_body(req, body, n, chunked, chunk);
}

static void run_request(const world_chain_t *c, in_t *in)
{
    buf_t req = {0};
    const char *method = methods[in_byte(in) % (sizeof methods / sizeof methods[0])];
    write_request(&req, c, in, method);
    exchange(c, &req, strcmp(method, "HEAD") == 0, true);
    free(req.p);
}

/* ---- the signed mode ----------------------------------------------------- */

/* One transaction from the input's fields, signed: flags (sender, wrong
 * chain id, broken signature, expiry, fee), kind, nonce, payload. */
static size_t sign_one(const world_chain_t *c, const world_chain_t *other, in_t *in,
                       uint8_t out[TX_MAX_BYTES])
{
    static const uint64_t fees[] = {1, 0, 1000, UINT64_MAX};
    uint8_t f = in_byte(in), kind = in_byte(in), nonce = in_byte(in);
    size_t want = (size_t)in_byte(in) << 8;
    want |= in_byte(in);
    const uint8_t *payload;
    size_t plen = in_take(in, want < TX_PAYLOAD_MAX ? want : TX_PAYLOAD_MAX, &payload);
    const uint64_t expiry[] = {c->tip + 1000, 0, c->tip, UINT64_MAX};
    const keys_pair_t *key = &W.keys[f & 3];
    tx_t tx = {.kind = kind, .fee = fees[f >> 6], .nonce = nonce,
               .expiry_height = expiry[(f >> 4) & 3], .payload = payload, .payload_len = plen};
    size_t len = 0;
    snprintf(tx.chain_id, sizeof tx.chain_id, "%s", (f & 4 ? other : c)->genesis->chain_id);
    memcpy(tx.sender, key->pk, BLOCK_KEY_LEN);
    CHECK(tx_sign_encode(&tx, key->sk, out, TX_MAX_BYTES, &len) == 0);
    if (f & 8)
        out[len - 1] ^= 0x01;
    return len;
}

/* The body of /txs (one, JSON or binary) or /txs/batch (JSON or
 * length-prefixed binary). */
static void signed_body(buf_t *body, const world_chain_t *c, in_t *in, bool batch, bool binary,
                        size_t count)
{
    uint8_t *tx = malloc(TX_MAX_BYTES);
    char *hex = malloc(2 * TX_MAX_BYTES + 1);
    CHECK(tx != NULL && hex != NULL);
    if (!binary)
        buf_fmt(body, batch ? "{\"txs\":[" : "{\"tx\":");
    for (size_t i = 0; i < count; i++) {
        size_t len = sign_one(c, &W.chains[c == &W.chains[0]], in, tx);
        uint8_t be[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                         (uint8_t)len};
        if (binary && batch)
            buf_add(body, be, 4);
        if (binary) {
            buf_add(body, tx, len);
            continue;
        }
        hex_encode(hex, tx, len);
        buf_fmt(body, "%s\"", i ? "," : "");
        buf_add(body, hex, 2 * len);
        buf_add(body, "\"", 1);
    }
    if (!binary)
        buf_fmt(body, batch ? "]}" : "}");
    free(tx);
    free(hex);
}

static void run_signed(const world_chain_t *c, in_t *in)
{
    uint8_t f = in_byte(in);
    bool batch = f & 1, binary = f & 2;
    buf_t body = {0}, req = {0};
    signed_body(&body, c, in, batch, binary, batch ? 1 + ((f >> 2) & 3) : 1);
    buf_fmt(&req, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", batch ? "/txs/batch" : "/txs",
            binary ? "application/octet-stream" : "application/json", body.len);
    buf_add(&req, body.p, body.len);
    exchange(c, &req, false, true);
    free(body.p);
    free(req.p);
}

/* ---- the raw mode -------------------------------------------------------- */

static void run_raw(const world_chain_t *c, in_t *in)
{
    buf_t req = {0};
    const uint8_t *p;
    size_t n = in_take(in, in->n, &p), skip = 0;
    buf_add(&req, p, n);
    /* libmicrohttpd skips empty lines before the request line (RFC 9112
     * 2.2), so "\r\nHEAD ..." is a HEAD too: its answer has no body */
    while (skip < n && (p[skip] == '\r' || p[skip] == '\n'))
        skip++;
    exchange(c, &req, n - skip >= 5 && memcmp(p + skip, "HEAD ", 5) == 0, false);
    free(req.p);
}

/* ---- the node's state ---------------------------------------------------- */

static void node_set(world_chain_t *c, unsigned how)
{
    static const char *const reasons[] = {"", "another process holds the ledger's write lock",
                                          "disk full: no space left on device", ""};
    c->state = (node_state_t){.mode = how == 1 ? NODE_DELAYED : how == 2 ? NODE_HALTED
                                                                         : NODE_PRODUCING,
                              .since_ms = how == 1 || how == 2 ? 1795647001123ULL : 0};
    snprintf(c->state.reason, sizeof c->state.reason, "%s", reasons[how]);
    c->node.block_interval_ms = how == 3 ? 1000 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in_t in = {data, size};
    uint8_t h = in_byte(&in);
    world_chain_t *c = &W.chains[h & 1];
    unsigned mode = (h >> 1) & 3;
    node_set(c, (h >> 3) & 3);
    if (mode == MODE_RAW)
        run_raw(c, &in);
    else if (mode == MODE_SIGNED)
        run_signed(c, &in);
    else
        run_request(c, &in);
    world_reset(&W);
    return 0;
}

/* ---- seeds --------------------------------------------------------------- */

static void seed_write(const char *dir, const char *name, const buf_t *b)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL && fwrite(b->p, 1, b->len, f) == b->len && fclose(f) == 0);
}

/* A raw GET of path (mode byte first). */
static void seed_get(const char *dir, size_t ci, const char *name, const char *method,
                     const char *target)
{
    buf_t b = {0};
    uint8_t h = (uint8_t)ci;
    buf_add(&b, &h, 1);
    buf_fmt(&b, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", method, target);
    seed_write(dir, name, &b);
    free(b.p);
}

/* Every route with words that exist and that do not, raw. */
static void seeds_raw(const char *dir, size_t ci)
{
    const world_chain_t *c = &W.chains[ci];
    const char *ch = c->ops->name;
    char name[256], target[512];
    size_t nc = api_common_nroutes, nr = nc + c->ops->n_routes;
    for (size_t r = 0; r < nr; r++) {
        const api_route_t *rt = r < nc ? &api_common_routes[r] : &c->ops->routes[r - nc];
        for (int good = 0; good < 2; good++) {
            size_t o = 0;
            const char *pat = rt->pattern;
            for (; *pat && o < sizeof target - 130; pat++) {
                if (pat[0] == '{' && pat[1] == '}') {
                    const char *w = good ? c->words[(c->n_words - 1 - r) % c->n_words] : "zz%41";
                    o += (size_t)snprintf(target + o, sizeof target - o, "%s", w);
                    pat++;
                } else {
                    target[o++] = *pat;
                }
            }
            target[o] = '\0';
            if (strcmp(rt->method, "GET") != 0 || (!good && strchr(rt->pattern, '{') == NULL))
                continue;
            snprintf(name, sizeof name, "%s-raw-get%s-%s", ch, rt->name, good ? "ok" : "bad");
            for (char *p = name; *p; p++)
                *p = *p == '/' || *p == '{' || *p == '}' ? '_' : *p;
            seed_get(dir, ci, name, "GET", target);
        }
    }
}

/* The signed mode: each of the world's seed transactions to /txs, and all
 * of them in one batch. */
static void seeds_signed(const char *dir, size_t ci)
{
    const world_chain_t *c = &W.chains[ci];
    char name[256];
    for (size_t i = 0; i <= c->n_seeds; i++) {
        buf_t b = {0};
        bool batch = i == c->n_seeds;
        uint8_t h = (uint8_t)(ci | MODE_SIGNED << 1);
        uint8_t f = batch ? (uint8_t)(1 | 2 | 3 << 2) : (uint8_t)(i & 1 ? 2 : 0);
        buf_add(&b, &h, 1);
        buf_add(&b, &f, 1);
        for (size_t k = batch ? 0 : i; k < (batch ? 4 : i + 1) && k < c->n_seeds; k++) {
            const world_seed_tx_t *s = &c->seeds[k];
            uint8_t fields[5] = {(uint8_t)s->sender, (uint8_t)s->kind, (uint8_t)s->nonce,
                                 (uint8_t)(s->payload_len >> 8), (uint8_t)s->payload_len};
            buf_add(&b, fields, sizeof fields);
            buf_add(&b, s->payload, s->payload_len);
        }
        snprintf(name, sizeof name, "%s-signed-%s", c->ops->name,
                 batch ? "batch" : c->seeds[i].note);
        seed_write(dir, name, &b);
        free(b.p);
    }
}

/* Request-mode inputs: method, route, target flags, {} and query pieces,
 * Content-Type, extra field, chunk size, then the body. */
static void seeds_request(const char *dir, size_t ci)
{
#define RQ(name, bytes) {name, bytes, sizeof bytes - 1}
    static const struct {
        const char *name;
        const char *bytes;
        size_t len;
    } s[] = {
        RQ("txs-json-bad-hex", "\x01\x05\x00\x01\x00\x00{\"tx\":\"zz\"}"),
        RQ("txs-chunked", "\x01\x05\x00\x01\x02\x03{\"tx\":\"00\"}"),
        RQ("txs-expect", "\x01\x05\x00\x02\x01\x00\x01\x02"),
        RQ("batch-json", "\x01\x06\x00\x01\x00\x00{\"txs\":[\"00\",\"0102\"]}"),
        RQ("batch-binary", "\x01\x06\x00\x02\x00\x00" "\x00\x00\x00\x02\x01\xcd"),
        RQ("blocks-escaped-nul", "\x00\x03\x01\xc0\x03%00\x00\x00\x00"),
        RQ("blocks-word-query", "\x00\x03\x02\x01\x08height=1&x\x00\x00\x00"),
        RQ("head-status", "\x02\x01\x00\x00\x00\x00"),
        RQ("many-fields", "\x00\x00\x00\x00\x06\x78\x00"),
        RQ("delete-health", "\x04\x00\x00\x00\x00\x00"),
        RQ("raw-path", "\x00\xff\x00\x0c/a/../%2e/\x7f\x00\x00\x00"), /* 0xff: the raw path */
    };
#undef RQ
    char name[256];
    uint8_t raw_path = (uint8_t)(api_common_nroutes + W.chains[ci].ops->n_routes);
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        for (unsigned how = 0; how < 4; how += 2) { /* producing, then halted */
            buf_t b = {0};
            uint8_t h = (uint8_t)(ci | 1 << 1 | how << 3);
            buf_add(&b, &h, 1);
            buf_add(&b, s[i].bytes, s[i].len);
            if (b.p[2] == 0xff)
                b.p[2] = raw_path;
            snprintf(name, sizeof name, "%s-request-%s%s", W.chains[ci].ops->name, s[i].name,
                     how ? "-halted" : "");
            seed_write(dir, name, &b);
            free(b.p);
        }
    }
}

/* Raw requests the server refuses from the head, and a signed POST. */
static void seeds_raw_more(const char *dir, size_t ci)
{
    static const struct {
        const char *name, *text;
    } s[] = {
        {"two-lengths", "POST /txs HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
                        "Content-Length: 3\r\n\r\n{}"},
        {"length-and-chunked", "POST /txs HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"},
        {"gzip", "POST /txs HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"},
        {"bad-escape", "GET /blocks/%zz HTTP/1.1\r\nHost: a\r\n\r\n"},
        {"bad-query", "GET /status?a=%00 HTTP/1.1\r\nHost: a\r\n\r\n"},
        {"too-large", "POST /txs HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\n\r\n"},
        {"pipelined", "GET /health HTTP/1.1\r\nHost: a\r\n\r\nGET /status HTTP/1.1\r\n\r\n"},
        {"http10", "GET /network/genesis/hash HTTP/1.0\r\n\r\n"},
        {"head-metrics", "HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n"},
    };
    char name[256];
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        buf_t b = {0};
        uint8_t h = (uint8_t)ci;
        buf_add(&b, &h, 1);
        buf_add(&b, s[i].text, strlen(s[i].text));
        snprintf(name, sizeof name, "%s-raw-%s", W.chains[ci].ops->name, s[i].name);
        seed_write(dir, name, &b);
        free(b.p);
    }
    const world_seed_tx_t *t = &W.chains[ci].seeds[0];
    buf_t fields = {0}, body = {0}, b = {0};
    uint8_t f[5] = {(uint8_t)t->sender, (uint8_t)t->kind, (uint8_t)t->nonce,
                    (uint8_t)(t->payload_len >> 8), (uint8_t)t->payload_len};
    buf_add(&fields, f, sizeof f);
    buf_add(&fields, t->payload, t->payload_len);
    in_t in = {fields.p, fields.len};
    signed_body(&body, &W.chains[ci], &in, false, false, 1);
    uint8_t h = (uint8_t)ci;
    buf_add(&b, &h, 1);
    buf_fmt(&b, "POST /txs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: %zu\r\n\r\n", body.len);
    buf_add(&b, body.p, body.len);
    snprintf(name, sizeof name, "%s-raw-post-txs-%s", W.chains[ci].ops->name, t->note);
    seed_write(dir, name, &b);
    free(fields.p);
    free(body.p);
    free(b.p);
}

static void world_down(void)
{
    if (known_f1 > 0 || known_f2 > 0)
        fprintf(stderr, "fuzz_api: known findings seen: F1 %lu times, F2 %lu times\n",
                known_f1, known_f2);
    world_close(&W);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *seeds = getenv("FUZZ_API_SEEDS");
    strict = getenv("FUZZ_API_STRICT") != NULL;
    show = getenv("FUZZ_API_SHOW") != NULL;
    world_open(&W);
    atexit(world_down);
    for (size_t ci = 0; seeds != NULL && ci < WORLD_CHAINS; ci++) {
        seeds_raw(seeds, ci);
        seeds_signed(seeds, ci);
        seeds_request(seeds, ci);
        seeds_raw_more(seeds, ci);
    }
    return 0;
}
