/* The HTTP API server (libmicrohttpd + jansson) that each worker runs on
 * its own threads. Routes are a table: the chain-neutral ones
 * (common/api_routes.c) and each chain's (chain_ops_t.routes). Handlers
 * read through a per-thread read-only ledger connection
 * (ledger_open_reader), so reads never block block commits (WAL). Errors
 * are JSON {"error":{"code":"...","message":"..."}} with a fitting status.
 * Limits: body size, header size, request target, request timeout,
 * per-client rate limit (429 with Retry-After); docs/api.md says what each
 * counts and where libmicrohttpd answers by itself. Every request a
 * handler could see is counted in metrics by route and status, with its
 * latency. */
#ifndef ADNET_API_H
#define ADNET_API_H

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "common/base/metrics.h"
#include "common/store/ledger.h"
#include "common/store/sql.h"

#define API_ERR_MAX 256
#define API_MAX_PARAMS 4

typedef struct api_server api_server_t;

typedef struct {
    const char *method;      /* "GET", "HEAD" (which runs the GET route; the server
                              * sends no body) or "POST" */
    const char *path;        /* without the query string, %-decoded; it holds no
                              * control byte (such a request is refused 400) */
    const char *params[API_MAX_PARAMS]; /* values of the {} segments of the pattern, in order */
    size_t n_params;
    const uint8_t *body;     /* POST body (not NUL-terminated), NULL for GET */
    size_t body_len;
    const char *client;      /* client address text, for logs */
    sqlite3 *db;             /* this thread's read-only ledger connection (never NULL) */
    sql_t *sql;              /* the same connection with its statement cache (may be NULL:
                              * use api_sql) */
    void *ctx;               /* api_config_t.ctx */
    void *conn;              /* the libmicrohttpd connection (for api_query) */
} api_request_t;

/* The request's connection as an sql_t to query through: a copy of req->sql
 * (statements prepared once per thread and reused), or a bare one on
 * req->db. For the handler's own use, on its own thread. */
static inline sql_t api_sql(const api_request_t *req)
{
    return req->sql ? *req->sql : SQL_BARE(req->db);
}

typedef struct {
    int status;              /* HTTP status */
    json_t *json;            /* body as JSON (owned; the server frees it), or */
    char *text;              /* body as text (malloc'd, owned), with */
    const char *content_type;/* for text; JSON bodies are application/json */
    int retry_after_s;       /* > 0 adds Retry-After */
} api_response_t;

typedef int (*api_handler_fn)(const api_request_t *req, api_response_t *res);

typedef struct {
    const char *method;      /* "GET" / "POST" */
    const char *pattern;     /* "/blocks/{}", "/accounts/{}": {} matches one non-empty segment */
    const char *name;        /* route label for metrics, e.g. "/blocks/{height}" */
    api_handler_fn fn;
} api_route_t;

typedef struct {
    const char *listen;            /* "host:port" */
    const char *ledger_path;       /* opened read-only per thread */
    const ledger_schema_t *schema; /* the chain's (chain_ops_t.schema): a reader refuses a
                                    * file of another schema version */
    const api_route_t *const *route_tables; /* NULL-terminated list of tables */
    const size_t *route_counts;    /* count of each table */
    void *ctx;                     /* passed to handlers as req->ctx */
    metrics_t *metrics;            /* may be NULL */
    size_t max_body;               /* bytes; 413 beyond */
    size_t max_header;             /* bytes of the request line and headers, as sent */
    unsigned timeout_s;            /* per connection */
    unsigned threads;              /* MHD thread pool size */
    double rate_per_s;             /* per client address, token bucket refill */
    double rate_burst;             /* bucket size */
    /* Optional: answer a request for path whose thread cannot open its
     * ledger connection (why says what failed) into res, e.g. with the
     * node's own reason; without it, or if it sets no status, such a
     * request is a 503 ledger_busy or ledger_unavailable. */
    void (*no_ledger)(void *ctx, const char *path, const char *why, api_response_t *res);
} api_config_t;

/* Start serving on cfg->listen. Return 0 and *out, or a negative code with
 * the reason in err: -EINVAL (no ledger_path or schema, an incomplete
 * route, a bad listen address), -EADDRINUSE and other socket errors,
 * -ENOMEM, -EIO (libmicrohttpd refused). The ledger is opened by each
 * thread at its first request, so a missing ledger is a 503 then, not an
 * error here. */
int api_start(api_server_t **out, const api_config_t *cfg, char err[API_ERR_MAX]);
/* Stop and free; NULL-safe. In-flight requests finish first. */
void api_stop(api_server_t *s);

/* Make s printable ASCII in place: every byte at or above 0x80 or below
 * 0x20 becomes '?'. A message may quote bytes a client sent (a chain id,
 * an asset, a path), which JSON strings cannot carry unless they are
 * valid UTF-8; the messages themselves are ASCII. */
void api_text_clean(char *s);

/* Response helpers: set res to a JSON body (takes ownership of body), or to
 * the standard error object. Return 0. */
int api_json(api_response_t *res, int status, json_t *body);
int api_error(api_response_t *res, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Parse a block height as routes take it: decimal digits only, no sign,
 * spaces or leading zeros ("0" itself is fine), at most INT64_MAX. Return 0
 * and *out, -EINVAL (not a plain decimal number) or -ERANGE (too large);
 * *out untouched on failure. */
int api_parse_height(const char *s, uint64_t *out);

/* A query-string argument of the request, or NULL. */
const char *api_query(const api_request_t *req, const char *key);
/* A request header (case-insensitive name), or NULL. Valid for the
 * duration of the handler call. */
const char *api_header(const api_request_t *req, const char *name);
/* The TCP port the server listens on (the chosen one when cfg->listen asked
 * for port 0). */
int api_port(const api_server_t *s);

#endif
