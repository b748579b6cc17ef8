/* A small HTTP client for the CLI, on libcurl: GET and POST against one
 * node API (base URL "http://host:port"), with timeouts, keep-alive on one
 * handle, and the body parsed as JSON when it is JSON. Not thread-safe:
 * use one httpc_t per thread. */
#ifndef ADNET_HTTPC_H
#define ADNET_HTTPC_H

#include <jansson.h>
#include <stddef.h>

#define HTTPC_ERR_MAX 256
#define HTTPC_URL_MAX 512
#define HTTPC_BODY_MAX (16u << 20) /* bodies larger than this are refused (-EFBIG) */

typedef struct httpc httpc_t;

typedef struct {
    long status;        /* HTTP status, 0 if no response came */
    json_t *json;       /* the body parsed as JSON, or NULL (not JSON / empty); owned */
    char *body;         /* the raw body, NUL-terminated (may be ""); owned */
    size_t body_len;
    long retry_after;   /* Retry-After in seconds, -1 if absent */
} httpc_response_t;

/* Make a client for base ("http://127.0.0.1:3030", no trailing slash
 * needed), with timeout_ms for each whole request (connect included).
 * Initialises libcurl once per process. Return 0 and *out, or -EINVAL
 * (base empty or too long) / -ENOMEM. Free with httpc_free. */
int httpc_new(httpc_t **out, const char *base, long timeout_ms);
/* NULL-safe. */
void httpc_free(httpc_t *c);

/* Turn an API listen address ("127.0.0.1:3030", "0.0.0.0:3030",
 * "[::]:3030", "localhost:3030") into the base URL a client on this host
 * connects to ("http://127.0.0.1:3030"; a wildcard host becomes the
 * loopback address of its family). Return 0, or -EINVAL (no port, or it
 * does not fit cap). */
int httpc_base_from_listen(char *out, size_t cap, const char *listen);

/* Send method ("GET" or "POST") to base + path (path starts with '/').
 * body (len bytes, may be NULL for GET) goes with Content-Type
 * content_type. On a response of any status return 0 and fill *res (free
 * its fields with httpc_response_clear). On a transport failure return
 * -ECONNREFUSED (nobody listening), -ETIMEDOUT, -EFBIG (body over
 * HTTPC_BODY_MAX) or -EIO, with the reason in httpc_error(c); *res is
 * untouched. */
int httpc_request(httpc_t *c, const char *method, const char *path, const void *body,
                  size_t len, const char *content_type, httpc_response_t *res);
/* httpc_request GET. */
int httpc_get(httpc_t *c, const char *path, httpc_response_t *res);
/* httpc_request POST of json serialised compactly (application/json). */
int httpc_post_json(httpc_t *c, const char *path, const json_t *json, httpc_response_t *res);

/* Release what a response owns and zero it. NULL-safe. */
void httpc_response_clear(httpc_response_t *res);

/* The last transport error's message ("" if none); owned by c. */
const char *httpc_error(const httpc_t *c);
/* The base URL c was made with; owned by c. */
const char *httpc_base(const httpc_t *c);

#endif
