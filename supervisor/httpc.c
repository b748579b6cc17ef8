/* HTTP client of the CLI: one libcurl easy handle per client, reused so
 * that consecutive requests share a keep-alive connection. */
#include "supervisor/httpc.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct httpc {
    CURL *curl;
    char base[HTTPC_URL_MAX];
    long timeout_ms;
    char err[HTTPC_ERR_MAX];       /* last transport error */
    char curl_err[CURL_ERROR_SIZE]; /* libcurl's detail for it */
};

typedef struct {
    char *buf;
    size_t len, cap;
    int too_big;
} sink_t;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int httpc_new(httpc_t **out, const char *base, long timeout_ms)
{
    httpc_t *c = NULL;
    size_t n = base ? strlen(base) : 0;
    int r = -EINVAL;
    if (n == 0 || n >= HTTPC_URL_MAX || timeout_ms <= 0)
        goto out;
    pthread_once(&global_once, global_init);
    r = -ENOMEM;
    if (global_rc != CURLE_OK)
        goto out;
    if (!(c = calloc(1, sizeof(*c))) || !(c->curl = curl_easy_init()))
        goto out;
    memcpy(c->base, base, n + 1);
    while (n > 0 && c->base[n - 1] == '/')
        c->base[--n] = '\0';
    c->timeout_ms = timeout_ms;
    *out = c;
    c = NULL;
    r = 0;
out:
    httpc_free(c);
    return r;
}

void httpc_free(httpc_t *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c);
}

int httpc_base_from_listen(char *out, size_t cap, const char *listen)
{
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    if (!colon || colon == listen || colon[1] == '\0')
        return -EINVAL;
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return -EINVAL;
    size_t hlen = (size_t)(colon - listen);
    const char *host = listen;
    if (hlen == 7 && strncmp(listen, "0.0.0.0", 7) == 0) {
        host = "127.0.0.1";
        hlen = 9;
    } else if (hlen == 4 && strncmp(listen, "[::]", 4) == 0) {
        host = "[::1]";
        hlen = 5;
    } else if (hlen == 1 && listen[0] == '*') {
        host = "127.0.0.1";
        hlen = 9;
    }
    int w = snprintf(out, cap, "http://%.*s:%s", (int)hlen, host, colon + 1);
    return w < 0 || (size_t)w >= cap ? -EINVAL : 0;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    sink_t *s = arg;
    size_t n = size * nmemb;
    if (s->len + n + 1 > HTTPC_BODY_MAX) {
        s->too_big = 1;
        return 0;
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b)
            return 0;
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
    long *retry = arg;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
        char tmp[32];
        size_t len = n - (sizeof(name) - 1);
        if (len >= sizeof(tmp))
            len = sizeof(tmp) - 1;
        memcpy(tmp, p + sizeof(name) - 1, len);
        tmp[len] = '\0';
        char *end;
        long v = strtol(tmp, &end, 10);
        if (end != tmp && v >= 0)
            *retry = v;
    }
    return n;
}

static int out_of_memory(httpc_t *c)
{
    snprintf(c->err, sizeof(c->err), "out of memory");
    return -ENOMEM;
}

/* The method and, but for GET, the body and its Content-Type (added to
 * *hdrs). Return 0, or -ENOMEM with *hdrs unchanged. */
static int set_method(CURL *h, const char *method, const void *body, size_t len,
                      const char *content_type, struct curl_slist **hdrs)
{
    char ctype[128];
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        return 0;
    }
    if (strcmp(method, "POST") == 0)
        curl_easy_setopt(h, CURLOPT_POST, 1L);
    else
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
    snprintf(ctype, sizeof(ctype), "Content-Type: %s",
             content_type ? content_type : "application/octet-stream");
    struct curl_slist *t = curl_slist_append(*hdrs, ctype);
    if (!t)
        return -ENOMEM;
    *hdrs = t;
    return 0;
}

int httpc_request(httpc_t *c, const char *method, const char *path, const void *body,
                  size_t len, const char *content_type, httpc_response_t *res)
{
    char url[HTTPC_URL_MAX * 2];
    sink_t sink = { 0 };
    struct curl_slist *hdrs = NULL;
    long retry = -1, status = 0;
    int r = -EIO;
    CURL *h = c->curl;

    c->err[0] = c->curl_err[0] = '\0';
    if (!path || path[0] != '/' ||
        (size_t)snprintf(url, sizeof(url), "%s%s", c->base, path) >= sizeof(url)) {
        snprintf(c->err, sizeof(c->err), "bad request path");
        r = -EINVAL;
        goto out;
    }
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &retry);
    /* No "Expect: 100-continue" round trip on larger bodies. */
    if (!(hdrs = curl_slist_append(hdrs, "Expect:"))) {
        r = out_of_memory(c);
        goto out;
    }
    if (set_method(h, method, body, len, content_type, &hdrs) < 0) {
        r = out_of_memory(c);
        goto out;
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        if (sink.too_big) {
            r = -EFBIG;
            snprintf(c->err, sizeof(c->err), "%.200s: response body over %u bytes", url,
                     HTTPC_BODY_MAX);
            goto out;
        }
        r = cc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED
            : cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT
            : cc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
        snprintf(c->err, sizeof(c->err), "%.120s: %.120s", url,
                 c->curl_err[0] ? c->curl_err : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (!sink.buf && !(sink.buf = calloc(1, 1))) {
        r = out_of_memory(c);
        goto out;
    }
    memset(res, 0, sizeof(*res));
    res->status = status;
    res->body = sink.buf;
    res->body_len = sink.len;
    res->retry_after = retry;
    res->json = sink.len ? json_loadb(sink.buf, sink.len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    sink.buf = NULL;
    r = 0;
out:
    curl_slist_free_all(hdrs);
    free(sink.buf);
    return r;
}

int httpc_get(httpc_t *c, const char *path, httpc_response_t *res)
{
    return httpc_request(c, "GET", path, NULL, 0, NULL, res);
}

int httpc_post_json(httpc_t *c, const char *path, const json_t *json, httpc_response_t *res)
{
    char *text = json_dumps(json, JSON_COMPACT);
    if (!text) {
        snprintf(c->err, sizeof(c->err), "out of memory");
        return -ENOMEM;
    }
    int r = httpc_request(c, "POST", path, text, strlen(text), "application/json", res);
    free(text);
    return r;
}

void httpc_response_clear(httpc_response_t *res)
{
    if (!res)
        return;
    json_decref(res->json);
    free(res->body);
    memset(res, 0, sizeof(*res));
}

const char *httpc_error(const httpc_t *c)
{
    return c->err;
}

const char *httpc_base(const httpc_t *c)
{
    return c->base;
}
