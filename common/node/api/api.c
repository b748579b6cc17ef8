/* The HTTP API server on libmicrohttpd.
 *
 * Threads: MHD's internal pool (cfg->threads) runs every callback. Each of
 * those threads lazily opens its own read-only ledger connection
 * (ledger_open_reader, kept in a per-server thread-specific slot and in a
 * list, so api_stop can close them all after MHD has joined its threads).
 *
 * A request starts in on_target, which libmicrohttpd calls with the request
 * target as sent: the path is decoded here (strictly) and the target
 * measured. It then goes through on_request in three phases: the first call
 * (headers read) applies the rate limit, the target, head and framing
 * checks, finds the route and checks Content-Length, answering 429 / 400 /
 * 414 / 431 / 501 / 404 / 405 / 413 at once without reading a body; the
 * middle calls collect the body up to max_body (a chunked body that grows
 * past it is drained without being stored and answered 413); the last call
 * runs the handler. Every response is counted in metrics by route and
 * status, with its latency. */
#include "common/node/api/api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/base/clock.h"

#define API_DEFAULT_MAX_BODY (64 * 1024)
#define API_DEFAULT_MAX_HEADER (16 * 1024)
#define API_DEFAULT_TIMEOUT_S 10
#define API_DEFAULT_THREADS 2
#define API_MAX_TARGET 2048     /* bytes of the request target (path and query), as sent */
#define API_MAX_ARGS 32         /* '&'-separated query arguments */
#define API_MAX_FIELDS 100      /* header fields */
#define API_HEADER_SLACK 4096   /* pool room for the response headers */
/* What libmicrohttpd 0.9.75 spends in the connection's pool on each header
 * field and query argument it records (struct MHD_HTTP_Header, 56 bytes on
 * LP64), rounded up. */
#define API_MHD_RECORD 64
#define API_LISTEN_BACKLOG 128
#define RL_BUCKETS 1024         /* hash buckets of the rate-limit table */
#define RL_MAX_ENTRIES 4096     /* clients tracked at once */
#define CLIENT_MAX 64           /* numeric IPv6 text plus scope */

#define METRIC_REQUESTS "adnet_api_requests_total"
#define METRIC_REQUESTS_HELP "HTTP API requests by route and status."
#define METRIC_DURATION "adnet_api_request_duration_seconds"
#define METRIC_DURATION_HELP "HTTP API request latency by route, in seconds."

/* One thread's ledger connection. */
typedef struct db_slot {
    struct db_slot *next;
    ledger_t *ledger;           /* NULL until first use, or after a failed open */
} db_slot_t;

/* One client's token bucket. */
typedef struct rl_entry {
    struct rl_entry *next;
    double tokens;
    double last;                /* monotonic seconds of the last refill */
    char key[CLIENT_MAX];
} rl_entry_t;

struct api_server {
    struct MHD_Daemon *daemon;
    char *ledger_path;
    const ledger_schema_t *schema; /* the readers refuse a file of another version */
    const api_route_t **routes; /* all tables flattened, in order: first match wins */
    size_t nroutes;
    void *ctx;
    /* cfg's no_ledger, may be NULL */
    void (*no_ledger)(void *ctx, const char *path, const char *why, api_response_t *res);
    metrics_t *metrics;
    size_t max_body;
    size_t max_header;          /* bytes of the request line and headers */
    double rate_per_s;          /* <= 0: no limit */
    double rate_burst;
    int port;

    pthread_key_t db_key;       /* -> db_slot_t of the calling thread */
    bool db_key_ok;
    pthread_mutex_t db_lock;    /* guards dbs */
    db_slot_t *dbs;

    pthread_mutex_t rl_lock;    /* guards the rate-limit table */
    rl_entry_t *rl[RL_BUCKETS];
    size_t rl_n;
    uint8_t rl_key[crypto_shorthash_KEYBYTES]; /* random: see rl_hash */
};

/* Per-request state, from the request line (on_target) to the completion
 * notice (on_completed). */
typedef struct {
    uint64_t t0_us;        /* clock_mono_us() when the request arrived */
    char *path;                 /* the path %-decoded by target_scan; NULL if the target
                                 * is over API_MAX_TARGET or memory ran out */
    size_t target_len;          /* bytes of the request target as sent */
    size_t n_args;              /* '&'-separated query arguments */
    const char *bad_code;       /* set with bad_why when the target is refused (400) */
    const char *bad_why;
    const api_route_t *route;   /* NULL when no route matched */
    char *pathbuf;              /* copy of the path; params point into it */
    const char *params[API_MAX_PARAMS];
    size_t n_params;
    uint8_t *body;
    size_t len, cap;
    bool started;               /* on_headers has run */
    bool too_large;             /* body exceeded max_body: drained, not kept */
    bool answered;              /* a response is queued */
    bool close;                 /* answer with Connection: close (refused from the head) */
    char client[CLIENT_MAX];
} req_state_t;

/* ---- responses ---------------------------------------------------------- */

int api_json(api_response_t *res, int status, json_t *body)
{
    json_decref(res->json);
    free(res->text);
    res->text = NULL;
    res->content_type = NULL;
    res->status = status;
    res->json = body;
    return 0;
}

void api_text_clean(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80 || (unsigned char)*s < 0x20)
            *s = '?';
}

int api_error(api_response_t *res, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    api_text_clean(msg); /* messages may quote what a client sent */
    return api_json(res, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

const char *api_query(const api_request_t *req, const char *key)
{
    if (req == NULL || req->conn == NULL || key == NULL)
        return NULL;
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *api_header(const api_request_t *req, const char *name)
{
    if (req == NULL || req->conn == NULL || name == NULL)
        return NULL;
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

int api_port(const api_server_t *s)
{
    return s ? s->port : -EINVAL;
}

static void count_request(api_server_t *s, const req_state_t *st, int status)
{
    char route[256], labels[320];
    if (s->metrics == NULL)
        return;
    if (metrics_label_escape(st->route ? st->route->name : "unmatched", route, sizeof route) != 0)
        snprintf(route, sizeof route, "unnamed");
    double dt = (double)(clock_mono_us() - st->t0_us) / 1e6;
    snprintf(labels, sizeof labels, "route=\"%s\",status=\"%d\"", route, status);
    metrics_counter_add(s->metrics, METRIC_REQUESTS, METRIC_REQUESTS_HELP, labels, 1);
    snprintf(labels, sizeof labels, "route=\"%s\"", route);
    metrics_observe(s->metrics, METRIC_DURATION, METRIC_DURATION_HELP, labels,
                    METRICS_LATENCY_BUCKETS, METRICS_LATENCY_NBUCKETS, dt < 0 ? 0 : dt);
}

/* Queue res (consuming its body) with the standard headers; count it. */
static enum MHD_Result send_response(api_server_t *s, struct MHD_Connection *conn,
                                     req_state_t *st, api_response_t *res, const char *allow)
{
    char *buf = NULL;
    size_t len = 0;
    const char *ctype = "application/json";
    enum MHD_Result ret = MHD_NO;
    struct MHD_Response *r = NULL;
    int status = res->status;

    if (res->json != NULL) {
        buf = json_dumps(res->json, JSON_COMPACT);
        if (buf == NULL)
            status = 500;
    } else if (res->text != NULL) {
        buf = res->text;
        res->text = NULL;
        if (res->content_type != NULL)
            ctype = res->content_type;
    }
    if (buf == NULL) {
        /* A JSON body that could not be built, or none at all: still JSON. */
        static const char oom[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"response could not be built\"}}";
        buf = strdup(status >= 400 ? oom : "{}");
        if (buf == NULL)
            goto out;
    }
    len = strlen(buf);
    r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(buf);
        goto out;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (res->retry_after_s > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", res->retry_after_s);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    if (allow != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    if (st->close)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    if (ret == MHD_YES) {
        st->answered = true;
        count_request(s, st, status);
    }
out:
    json_decref(res->json);
    res->json = NULL;
    free(res->text);
    res->text = NULL;
    return ret;
}

static enum MHD_Result send_error(api_server_t *s, struct MHD_Connection *conn, req_state_t *st,
                                  int status, const char *code, const char *msg, int retry_after,
                                  const char *allow)
{
    api_response_t res = {0};
    api_error(&res, status, code, "%s", msg);
    res.retry_after_s = retry_after;
    return send_response(s, conn, st, &res, allow);
}

/* ---- rate limit --------------------------------------------------------- */

/* Client addresses are chosen by clients (an IPv6 /64 holds 2^64 of
 * them), so the bucket comes from SipHash under a per-server random key:
 * no one can pile their addresses into one chain. */
static size_t rl_hash(const api_server_t *s, const char *key)
{
    uint8_t out[crypto_shorthash_BYTES];
    uint64_t h;
    crypto_shorthash(out, (const unsigned char *)key, strlen(key), s->rl_key);
    memcpy(&h, out, sizeof h);
    return (size_t)(h % RL_BUCKETS);
}

/* Drop the entries whose bucket has refilled (forgetting them loses
 * nothing); if none has, drop the one seen longest ago. Called locked. */
static void rl_evict(api_server_t *s, double now)
{
    rl_entry_t **oldest = NULL;
    for (size_t b = 0; b < RL_BUCKETS; b++) {
        rl_entry_t **pp = &s->rl[b];
        while (*pp != NULL) {
            rl_entry_t *e = *pp;
            if (e->tokens + (now - e->last) * s->rate_per_s >= s->rate_burst) {
                *pp = e->next;
                free(e);
                s->rl_n--;
                continue;
            }
            if (oldest == NULL || e->last < (*oldest)->last)
                oldest = pp;
            pp = &e->next;
        }
    }
    if (s->rl_n >= RL_MAX_ENTRIES && oldest != NULL) {
        rl_entry_t *e = *oldest;
        *oldest = e->next;
        free(e);
        s->rl_n--;
    }
}

/* Take one token for client key: return true if allowed, else false and
 * the seconds until a token is due in *retry_after. Out of memory lets the
 * request through: the limiter must not turn into an outage. */
static bool rl_take(api_server_t *s, const char *key, int *retry_after)
{
    bool ok = true;
    double now = (double)clock_mono_us() / 1e6;
    if (!(s->rate_per_s > 0))
        return true;
    pthread_mutex_lock(&s->rl_lock);
    size_t b = rl_hash(s, key);
    rl_entry_t *e = s->rl[b];
    while (e != NULL && strcmp(e->key, key) != 0)
        e = e->next;
    if (e == NULL) {
        if (s->rl_n >= RL_MAX_ENTRIES)
            rl_evict(s, now);
        e = calloc(1, sizeof *e);
        if (e == NULL)
            goto out;
        snprintf(e->key, sizeof e->key, "%s", key);
        e->tokens = s->rate_burst;
        e->last = now;
        e->next = s->rl[b];
        s->rl[b] = e;
        s->rl_n++;
    }
    e->tokens += (now - e->last) * s->rate_per_s;
    if (e->tokens > s->rate_burst)
        e->tokens = s->rate_burst;
    e->last = now;
    if (e->tokens >= 1) {
        e->tokens -= 1;
    } else {
        double wait = ceil((1 - e->tokens) / s->rate_per_s);
        *retry_after = wait < 1 ? 1 : wait > 3600 ? 3600 : (int)wait;
        ok = false;
    }
out:
    pthread_mutex_unlock(&s->rl_lock);
    return ok;
}

/* ---- per-thread ledger connections ------------------------------------- */

/* This thread's read-only connection, opened on first use. Return it, or
 * NULL with a reason in why and the open's code in *code (-EBUSY: another
 * process holds the file locked). A failed open is retried by the next
 * request. */
static sqlite3 *thread_db(api_server_t *s, char *why, size_t cap, int *code)
{
    db_slot_t *slot = pthread_getspecific(s->db_key);
    char err[LEDGER_ERR_MAX];

    if (slot == NULL) {
        slot = calloc(1, sizeof *slot);
        if (slot == NULL || pthread_setspecific(s->db_key, slot) != 0) {
            free(slot);
            snprintf(why, cap, "out of memory");
            *code = -ENOMEM;
            return NULL;
        }
        pthread_mutex_lock(&s->db_lock);
        slot->next = s->dbs;
        s->dbs = slot;
        pthread_mutex_unlock(&s->db_lock);
    }
    if (slot->ledger == NULL &&
        (*code = ledger_open_reader(&slot->ledger, s->ledger_path, s->schema, err)) != 0) {
        snprintf(why, cap, "cannot open the ledger: %s", err);
        return NULL;
    }
    return ledger_db(slot->ledger);
}

/* Leave the connection as a handler should have: no open statement or
 * transaction pins an old snapshot (which would stall WAL checkpoints). */
static void db_tidy(sqlite3 *db)
{
    for (sqlite3_stmt *st = sqlite3_next_stmt(db, NULL); st != NULL; st = sqlite3_next_stmt(db, st))
        sqlite3_reset(st);
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- routing ------------------------------------------------------------ */

/* Match path against pattern ({} = one non-empty segment); on a match
 * record where each parameter starts and ends in path. */
static bool pattern_match(const char *pattern, const char *path, size_t *starts, size_t *ends,
                          size_t *n)
{
    const char *p = pattern, *u = path;
    size_t k = 0;
    while (*p != '\0' && *u != '\0') {
        if (p[0] == '{' && p[1] == '}') {
            const char *seg = u;
            while (*u != '\0' && *u != '/')
                u++;
            if (u == seg || k == API_MAX_PARAMS)
                return false;
            starts[k] = (size_t)(seg - path);
            ends[k] = (size_t)(u - path);
            k++;
            p += 2;
            continue;
        }
        if (*p != *u)
            return false;
        p++;
        u++;
    }
    if (*p != '\0' || *u != '\0')
        return false;
    *n = k;
    return true;
}

/* Find the route for (method, path) and fill st's params. If none, put the
 * methods the path does allow ("GET, POST") into allow (empty if none). */
static int route_find(api_server_t *s, const char *method, const char *path, req_state_t *st,
                      char *allow, size_t allow_cap)
{
    size_t starts[API_MAX_PARAMS], ends[API_MAX_PARAMS], n;
    allow[0] = '\0';
    for (size_t i = 0; i < s->nroutes; i++) {
        const api_route_t *r = s->routes[i];
        if (!pattern_match(r->pattern, path, starts, ends, &n))
            continue;
        if (strcmp(r->method, method) != 0) {
            /* Remember it for Allow, once per method. */
            size_t ml = strlen(r->method);
            const char *hit = strstr(allow, r->method);
            bool seen = hit != NULL && (hit[ml] == '\0' || hit[ml] == ',') &&
                        (hit == allow || hit[-1] == ' ');
            if (!seen && strlen(allow) + ml + 3 < allow_cap) {
                if (allow[0] != '\0')
                    strcat(allow, ", ");
                strcat(allow, r->method);
            }
            continue;
        }
        st->pathbuf = strdup(path);
        if (st->pathbuf == NULL)
            return -ENOMEM;
        for (size_t k = 0; k < n; k++) {
            st->pathbuf[ends[k]] = '\0';
            st->params[k] = st->pathbuf + starts[k];
        }
        st->n_params = n;
        st->route = r;
        return 0;
    }
    return -ENOENT;
}

/* ---- the MHD callbacks -------------------------------------------------- */

static void client_text(struct MHD_Connection *conn, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, cap, "unknown");
    if (ci == NULL || ci->client_addr == NULL)
        return;
    const struct sockaddr *sa = ci->client_addr;
    socklen_t sl = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                             : sizeof(struct sockaddr_in);
    if (getnameinfo(sa, sl, out, (socklen_t)cap, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(out, cap, "unknown");
}

/* A request whose thread has no ledger connection (code: why the open
 * failed): the configured answer, or 503 ledger_busy / ledger_unavailable. */
static enum MHD_Result send_no_ledger(api_server_t *s, struct MHD_Connection *conn,
                                      req_state_t *st, const char *why, int code)
{
    api_response_t res = {0};
    if (s->no_ledger != NULL)
        s->no_ledger(s->ctx, st->path, why, &res);
    if (res.status == 0)
        return send_error(s, conn, st, 503, code == -EBUSY ? "ledger_busy" : "ledger_unavailable",
                          why, 1, NULL);
    return send_response(s, conn, st, &res, NULL);
}

static enum MHD_Result run_handler(api_server_t *s, struct MHD_Connection *conn,
                                   req_state_t *st, const char *method)
{
    char why[LEDGER_ERR_MAX + 32];
    int code = 0;
    sqlite3 *db = thread_db(s, why, sizeof why, &code);
    if (db == NULL)
        return send_no_ledger(s, conn, st, why, code);

    api_request_t req = {0};
    api_response_t res = {0};
    req.method = method;
    req.path = st->path;
    for (size_t k = 0; k < st->n_params; k++)
        req.params[k] = st->params[k];
    req.n_params = st->n_params;
    if (strcmp(method, "POST") == 0) {
        req.body = st->body ? st->body : (const uint8_t *)"";
        req.body_len = st->len;
    }
    req.client = st->client;
    req.db = db;
    req.sql = ledger_sql(((db_slot_t *)pthread_getspecific(s->db_key))->ledger);
    req.ctx = s->ctx;
    req.conn = conn;

    int rc = st->route->fn(&req, &res);
    db_tidy(db);
    bool has_body = res.json != NULL || res.text != NULL;
    if (res.status < 100 || res.status > 599 || (rc < 0 && !has_body)) {
        api_error(&res, 500, "internal", "internal error");
        res.retry_after_s = 0;
    }
    return send_response(s, conn, st, &res, NULL);
}

static enum MHD_Result send_too_large(api_server_t *s, struct MHD_Connection *conn,
                                     req_state_t *st)
{
    char msg[128];
    snprintf(msg, sizeof msg, "request body exceeds %zu bytes", s->max_body);
    return send_error(s, conn, st, 413, "body_too_large", msg, 0, NULL);
}

/* ---- the request target and head --------------------------------------- */

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode the n bytes of in (a path or a query) into out[n + 1], or only
 * check them if out is NULL: %XY becomes the byte XY. Return 0, or -EINVAL
 * with the reason in *why: a '%' not followed by two hex digits, or a
 * control byte (0x00-0x1f, 0x7f), sent as is or escaped. libmicrohttpd's
 * own decoding would cut the text at a %00 and keep the rest. */
static int pct_decode(const char *in, size_t n, char *out, const char **why)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)in[i];
        if (c == '%') {
            int hi = i + 2 < n ? hex_value((unsigned char)in[i + 1]) : -1;
            int lo = hi >= 0 ? hex_value((unsigned char)in[i + 2]) : -1;
            if (lo < 0) {
                *why = "a '%' must be followed by two hex digits";
                return -EINVAL;
            }
            c = hi * 16 + lo;
            i += 2;
        }
        if (c < 0x20 || c == 0x7f) {
            *why = "control bytes (such as %00) are not allowed";
            return -EINVAL;
        }
        if (out != NULL)
            out[o++] = (char)c;
    }
    if (out != NULL)
        out[o] = '\0';
    return 0;
}

/* Measure the request target as sent and decode its path into st->path.
 * A target over API_MAX_TARGET is only measured (it is refused 414). */
static void target_scan(req_state_t *st, const char *target)
{
    size_t len = strlen(target), plen = strcspn(target, "?");
    const char *why = NULL;

    st->target_len = len;
    if (len > API_MAX_TARGET)
        return;
    if (plen + 1 < len) {
        st->n_args = 1;
        for (size_t i = plen + 1; i < len; i++)
            st->n_args += target[i] == '&';
    }
    if ((st->path = malloc(plen + 1)) == NULL)
        return;
    if (pct_decode(target, plen, st->path, &why) != 0) {
        st->bad_code = "bad_path";
        st->bad_why = why;
    } else if (plen < len && pct_decode(target + plen + 1, len - plen - 1, NULL, &why) != 0) {
        st->bad_code = "bad_query";
        st->bad_why = why;
    }
}

/* MHD_OPTION_URI_LOG_CALLBACK: libmicrohttpd calls it once per request with
 * the target as sent, before it splits off and decodes the query; the
 * request's state starts here (on_completed frees it). NULL if out of
 * memory, which on_request answers by closing the connection. */
static void *on_target(void *cls, const char *target, struct MHD_Connection *conn)
{
    req_state_t *st = calloc(1, sizeof *st);
    if (st == NULL)
        return NULL;
    st->t0_us = clock_mono_us();
    target_scan(st, target != NULL ? target : "");
    return st;
}

/* What the header fields say about the request's framing and size. */
typedef struct {
    size_t fields;
    size_t content_length;      /* Content-Length fields */
    size_t transfer_encoding;   /* Transfer-Encoding fields */
    bool chunked;               /* the (first) Transfer-Encoding is exactly "chunked" */
} head_scan_t;

static enum MHD_Result scan_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    head_scan_t *h = cls;
    h->fields++;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        h->content_length++;
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0 && h->transfer_encoding++ == 0)
        h->chunked = value != NULL && strcasecmp(value, "chunked") == 0;
    return MHD_YES;
}

/* An answer decided from the request's head alone. */
typedef struct {
    int status;
    const char *code;
    char msg[160];
} refusal_t;

static bool refuse(refusal_t *why, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool refuse(refusal_t *why, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->msg, sizeof why->msg, fmt, ap);
    va_end(ap);
    why->status = status;
    why->code = code;
    return true;
}

/* Whether the request's head breaks a limit (docs/api.md, "Limits") or the
 * framing rules: if so fill *why and return true. Two Content-Length
 * fields, or one beside a Transfer-Encoding, would let a proxy in front and
 * this server see different bodies (request smuggling). */
static bool head_refused(const api_server_t *s, struct MHD_Connection *conn,
                         const req_state_t *st, refusal_t *why)
{
    head_scan_t h = {0};
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    size_t head = ci != NULL ? ci->header_size : 0;

    if (st->target_len > API_MAX_TARGET)
        return refuse(why, 414, "uri_too_long", "the request target has %zu bytes; at most %d",
                      st->target_len, API_MAX_TARGET);
    if (st->n_args > API_MAX_ARGS)
        return refuse(why, 414, "uri_too_long", "%zu query arguments; at most %d", st->n_args,
                      API_MAX_ARGS);
    if (st->bad_code != NULL)
        return refuse(why, 400, st->bad_code, "%s", st->bad_why);
    if (st->path == NULL)
        return refuse(why, 503, "unavailable", "out of memory");
    MHD_get_connection_values(conn, MHD_HEADER_KIND, scan_field, &h);
    if (head > s->max_header)
        return refuse(why, 431, "headers_too_large",
                      "the request line and headers have %zu bytes; at most %zu", head,
                      s->max_header);
    if (h.fields > API_MAX_FIELDS)
        return refuse(why, 431, "headers_too_large", "%zu header fields; at most %d", h.fields,
                      API_MAX_FIELDS);
    if (h.content_length > 1 || h.transfer_encoding > 1)
        return refuse(why, 400, "bad_request", "more than one %s header",
                      h.content_length > 1 ? "Content-Length" : "Transfer-Encoding");
    if (h.content_length > 0 && h.transfer_encoding > 0)
        return refuse(why, 400, "bad_request", "both Content-Length and Transfer-Encoding");
    if (h.transfer_encoding > 0 && !h.chunked)
        return refuse(why, 501, "not_implemented",
                      "only Transfer-Encoding: chunked is supported");
    return false;
}

/* The first call, once the headers are read: everything that can be
 * refused before the body (rate, target, head, route, method,
 * Content-Length) is refused here, so a refused body is never read. HEAD
 * runs the GET route (libmicrohttpd sends the headers only). */
static enum MHD_Result on_headers(api_server_t *s, struct MHD_Connection *conn,
                                  const char *method, req_state_t *st)
{
    char allow[64] = "";
    int retry, rc = -ENOENT;
    refusal_t why;

    st->started = true;
    client_text(conn, st->client, sizeof st->client);
    /* Route first, so that even a refused request is counted under it. */
    if (st->path != NULL && st->bad_code == NULL)
        rc = route_find(s, strcmp(method, "HEAD") == 0 ? "GET" : method, st->path, st, allow,
                        sizeof allow);
    if (!rl_take(s, st->client, &retry))
        return send_error(s, conn, st, 429, "rate_limited",
                          "too many requests from this address; retry later", retry, NULL);
    if (head_refused(s, conn, st, &why)) {
        st->close = why.status != 503;
        return send_error(s, conn, st, why.status, why.code, why.msg, 0, NULL);
    }
    if (rc == -ENOMEM)
        return send_error(s, conn, st, 503, "unavailable", "out of memory", 1, NULL);
    if (rc != 0 && allow[0] != '\0') {
        char msg[128];
        snprintf(msg, sizeof msg, "%s is not allowed here; use %s", method, allow);
        return send_error(s, conn, st, 405, "method_not_allowed", msg, 0, allow);
    }
    if (rc != 0)
        return send_error(s, conn, st, 404, "not_found", "no such route", 0, NULL);

    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno != 0 || end == cl || *end != '\0' || n > s->max_body)
            return send_too_large(s, conn, st);
    }
    return MHD_YES;
}

/* Keep n more body bytes, up to max_body; past it, drop what was kept and
 * drain the rest (a chunked body has no Content-Length to refuse early). */
static enum MHD_Result body_append(api_server_t *s, req_state_t *st, const char *data, size_t n)
{
    if (st->too_large)
        return MHD_YES;
    if (n > s->max_body - st->len) {
        st->too_large = true;
        free(st->body);
        st->body = NULL;
        st->len = st->cap = 0;
        return MHD_YES;
    }
    if (st->len + n > st->cap) {
        size_t ncap = st->cap ? st->cap : 1024;
        while (ncap < st->len + n)
            ncap *= 2;
        if (ncap > s->max_body)
            ncap = s->max_body;
        uint8_t *p = realloc(st->body, ncap);
        if (p == NULL)
            return MHD_NO;
        st->body = p;
        st->cap = ncap;
    }
    memcpy(st->body + st->len, data, n);
    st->len += n;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    api_server_t *s = cls;
    req_state_t *st = *con_cls;

    if (st == NULL)
        return MHD_NO; /* on_target ran out of memory */
    if (!st->started)
        return on_headers(s, conn, method, st);
    if (st->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return body_append(s, st, upload_data, n);
    }
    if (st->too_large)
        return send_too_large(s, conn, st);
    return run_handler(s, conn, st, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    req_state_t *st = *con_cls;
    if (st == NULL)
        return;
    free(st->path);
    free(st->pathbuf);
    free(st->body);
    free(st);
    *con_cls = NULL;
}

/* ---- start / stop ------------------------------------------------------- */

/* Split "host:port" / "[v6]:port" into host[cap] and port[8]. */
static int split_listen(const char *listen_addr, char *host, size_t cap, char port[8])
{
    const char *colon;
    size_t hl;
    if (listen_addr == NULL)
        return -EINVAL;
    if (listen_addr[0] == '[') {
        const char *close = strchr(listen_addr, ']');
        if (close == NULL || close[1] != ':')
            return -EINVAL;
        hl = (size_t)(close - listen_addr - 1);
        memcpy(host, listen_addr + 1, hl < cap ? hl : 0);
        colon = close + 1;
    } else {
        colon = strrchr(listen_addr, ':');
        if (colon == NULL || memchr(listen_addr, ':', (size_t)(colon - listen_addr)) != NULL)
            return -EINVAL; /* no port, or an IPv6 address without brackets */
        hl = (size_t)(colon - listen_addr);
        memcpy(host, listen_addr, hl < cap ? hl : 0);
    }
    if (hl == 0 || hl >= cap)
        return -EINVAL;
    host[hl] = '\0';
    const char *p = colon + 1;
    size_t pl = strlen(p);
    if (pl == 0 || pl > 5 || strspn(p, "0123456789") != pl || atoi(p) > 65535)
        return -EINVAL;
    memcpy(port, p, pl + 1);
    return 0;
}

/* Bind and listen on cfg->listen; return the socket or a negative code. */
static int open_listener(const char *listen_addr, int *port_out, char err[API_ERR_MAX])
{
    char host[256], port[8];
    struct addrinfo hints = {0}, *ai = NULL;
    int fd = -1, rc, one = 1;

    if (split_listen(listen_addr, host, sizeof host, port) != 0) {
        snprintf(err, API_ERR_MAX, "listen address \"%s\": expected host:port or [ipv6]:port",
                 listen_addr ? listen_addr : "(null)");
        return -EINVAL;
    }
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        snprintf(err, API_ERR_MAX, "listen address \"%s\": %s", listen_addr, gai_strerror(rc));
        return -EINVAL;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, API_ERR_MAX, "socket for %s: %s", listen_addr, strerror(errno));
        goto out;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, API_LISTEN_BACKLOG) != 0) {
        rc = -errno;
        snprintf(err, API_ERR_MAX, "listen on %s: %s", listen_addr, strerror(errno));
        goto out;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        rc = -errno;
        snprintf(err, API_ERR_MAX, "getsockname on %s: %s", listen_addr, strerror(errno));
        goto out;
    }
    *port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    rc = fd;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return rc;
}

/* Check cfg's route tables and count their routes into *n. */
static int routes_check(const api_config_t *cfg, size_t *n, char err[API_ERR_MAX])
{
    size_t total = 0;
    for (size_t t = 0; cfg->route_tables != NULL && cfg->route_tables[t] != NULL; t++) {
        if (cfg->route_counts == NULL) {
            snprintf(err, API_ERR_MAX, "api_start: route tables without counts");
            return -EINVAL;
        }
        for (size_t i = 0; i < cfg->route_counts[t]; i++) {
            const api_route_t *r = &cfg->route_tables[t][i];
            if (r->method == NULL || r->pattern == NULL || r->pattern[0] != '/' ||
                r->name == NULL || r->fn == NULL) {
                snprintf(err, API_ERR_MAX, "api_start: route %zu of table %zu is incomplete", i,
                         t);
                return -EINVAL;
            }
            total++;
        }
    }
    *n = total;
    return 0;
}

/* A server with cfg's settings and its nroutes routes flattened, not
 * listening yet. Free with api_stop. */
static int server_new(api_server_t **out, const api_config_t *cfg, size_t nroutes,
                      char err[API_ERR_MAX])
{
    int rc = -ENOMEM;
    api_server_t *s = calloc(1, sizeof *s);

    if (s == NULL)
        goto out;
    pthread_mutex_init(&s->db_lock, NULL);
    pthread_mutex_init(&s->rl_lock, NULL);
    s->ledger_path = strdup(cfg->ledger_path);
    s->routes = calloc(nroutes ? nroutes : 1, sizeof *s->routes);
    /* sodium_init before randombytes_buf; it is idempotent and thread-safe. */
    if (s->ledger_path == NULL || s->routes == NULL || sodium_init() < 0)
        goto out;
    for (size_t t = 0; cfg->route_tables != NULL && cfg->route_tables[t] != NULL; t++)
        for (size_t i = 0; i < cfg->route_counts[t]; i++)
            s->routes[s->nroutes++] = &cfg->route_tables[t][i];
    s->schema = cfg->schema;
    s->ctx = cfg->ctx;
    s->no_ledger = cfg->no_ledger;
    s->metrics = cfg->metrics;
    s->max_body = cfg->max_body ? cfg->max_body : API_DEFAULT_MAX_BODY;
    s->max_header = cfg->max_header ? cfg->max_header : API_DEFAULT_MAX_HEADER;
    s->rate_per_s = cfg->rate_per_s;
    s->rate_burst = cfg->rate_burst < 1 ? 1 : cfg->rate_burst;
    randombytes_buf(s->rl_key, sizeof s->rl_key);
    if (pthread_key_create(&s->db_key, NULL) != 0)
        goto out;
    s->db_key_ok = true;
    *out = s;
    s = NULL;
    rc = 0;
out:
    if (rc != 0)
        snprintf(err, API_ERR_MAX, "api_start: out of memory");
    api_stop(s);
    return rc;
}

/* Start MHD's threads listening on the socket fd (which stays the caller's). */
static int daemon_start(api_server_t *s, const api_config_t *cfg, int fd, char err[API_ERR_MAX])
{
    /* The connection's memory: room for a head of twice the limit, so that
     * one somewhat over it still reaches head_refused (and a JSON 431),
     * for the records of as many fields as such a head can hold (a field
     * is at least 4 bytes, "a:\r\n"; were they counted only up to the
     * allowed 100, a head of a few hundred short fields would leave no room
     * for the 431 and get no answer at all), and for the response headers.
     * Past it libmicrohttpd answers by itself (docs/api.md lists what it
     * says). libmicrohttpd maps a pool this large lazily: a connection
     * uses the pages its head touches. */
    size_t pool = 2 * s->max_header + (2 * s->max_header / 4 + API_MAX_ARGS) * API_MHD_RECORD +
                  API_HEADER_SLACK;
    unsigned timeout = cfg->timeout_s ? cfg->timeout_s : API_DEFAULT_TIMEOUT_S;
    unsigned threads = cfg->threads ? cfg->threads : API_DEFAULT_THREADS;
    static const unsigned flag_sets[] = {MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
                                         MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL};
    /* MHD owns the socket it is given, and whether it closes it when it
     * refuses to start is not documented: give it a duplicate each time, so
     * a retry (poll when epoll is missing) and our cleanup stay correct. At
     * worst a refused start leaks that one duplicate. */
    for (size_t i = 0; i < 2 && s->daemon == NULL; i++) {
        int mfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (mfd < 0)
            break;
        s->daemon = MHD_start_daemon(flag_sets[i], 0, NULL, NULL, on_request, s,
                                     MHD_OPTION_LISTEN_SOCKET, (MHD_socket)mfd,
                                     MHD_OPTION_URI_LOG_CALLBACK, on_target, s,
                                     MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                     MHD_OPTION_CONNECTION_TIMEOUT, timeout,
                                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
                                     MHD_OPTION_THREAD_POOL_SIZE, threads,
                                     MHD_OPTION_END);
    }
    if (s->daemon == NULL) {
        snprintf(err, API_ERR_MAX, "libmicrohttpd refused to start on %s (%u threads)",
                 cfg->listen, threads);
        return -EIO;
    }
    return 0;
}

int api_start(api_server_t **out, const api_config_t *cfg, char err[API_ERR_MAX])
{
    api_server_t *s = NULL;
    size_t nroutes = 0;
    int fd = -1, rc = -EINVAL;

    if (out == NULL || cfg == NULL || cfg->ledger_path == NULL || cfg->schema == NULL) {
        snprintf(err, API_ERR_MAX, "api_start: missing configuration");
        goto out;
    }
    if ((rc = routes_check(cfg, &nroutes, err)) != 0 ||
        (rc = server_new(&s, cfg, nroutes, err)) != 0)
        goto out;
    fd = open_listener(cfg->listen, &s->port, err);
    if (fd < 0) {
        rc = fd;
        goto out;
    }
    if ((rc = daemon_start(s, cfg, fd, err)) != 0)
        goto out;
    *out = s;
    s = NULL;
out:
    if (fd >= 0)
        close(fd); /* MHD listens on its duplicate */
    api_stop(s);
    return rc;
}

void api_stop(api_server_t *s)
{
    if (s == NULL)
        return;
    /* Joins MHD's threads (in-flight requests finish) and closes the socket. */
    if (s->daemon != NULL)
        MHD_stop_daemon(s->daemon);
    db_slot_t *slot = s->dbs;
    while (slot != NULL) {
        db_slot_t *next = slot->next;
        ledger_close(slot->ledger);
        free(slot);
        slot = next;
    }
    if (s->db_key_ok)
        pthread_key_delete(s->db_key);
    for (size_t b = 0; b < RL_BUCKETS; b++) {
        rl_entry_t *e = s->rl[b];
        while (e != NULL) {
            rl_entry_t *next = e->next;
            free(e);
            e = next;
        }
    }
    pthread_mutex_destroy(&s->db_lock);
    pthread_mutex_destroy(&s->rl_lock);
    free(s->routes);
    free(s->ledger_path);
    free(s);
}

int api_parse_height(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    /* One spelling per number: "0", but no "007". */
    if (s == NULL || *s == '\0' || (s[0] == '0' && s[1] != '\0'))
        return -EINVAL;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*p - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}
