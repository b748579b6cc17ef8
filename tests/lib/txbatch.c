#include "tests/lib/txbatch.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/tx.h"
#include "tests/lib/httpbuf.h"

struct txbatch {
    CURL *curl;
    struct curl_slist *hdrs;
    bool single;             /* POST /txs, one transaction a request */
    uint8_t *body;           /* (u32 big-endian length, bytes) per transaction */
    size_t len, cap, n;      /* body bytes, allocated, transactions */
    httpbuf_t ans;           /* the last answer's body */
    char err[TXBATCH_ERR_MAX];
};

txbatch_t *txbatch_new(int port, bool single)
{
    char url[80];
    txbatch_t *b = calloc(1, sizeof(*b));
    bool ok = false;
    if (b == NULL || (b->curl = curl_easy_init()) == NULL)
        goto out;
    b->single = single;
    b->hdrs = curl_slist_append(NULL, "Content-Type: application/octet-stream");
    if (b->hdrs == NULL || curl_slist_append(b->hdrs, "Expect:") == NULL)
        goto out;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/txs%s", port, single ? "" : "/batch");
    curl_easy_setopt(b->curl, CURLOPT_URL, url);
    curl_easy_setopt(b->curl, CURLOPT_HTTPHEADER, b->hdrs);
    curl_easy_setopt(b->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(b->curl, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(b->curl, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(b->curl, CURLOPT_WRITEFUNCTION, httpbuf_write);
    curl_easy_setopt(b->curl, CURLOPT_WRITEDATA, &b->ans);
    ok = true;
out:
    if (!ok) {
        txbatch_free(b);
        b = NULL;
    }
    return b;
}

void txbatch_free(txbatch_t *b)
{
    if (b == NULL)
        return;
    if (b->curl)
        curl_easy_cleanup(b->curl);
    curl_slist_free_all(b->hdrs);
    free(b->body);
    httpbuf_free(&b->ans);
    free(b);
}

void txbatch_clear(txbatch_t *b)
{
    b->len = b->n = 0;
}

int txbatch_add(txbatch_t *b, const uint8_t *tx, size_t len)
{
    if (len == 0 || len > TX_MAX_BYTES)
        return -EINVAL;
    if (b->n == (b->single ? 1 : TXBATCH_MAX))
        return -ENOSPC;
    if (b->len + 4 + len > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64 * (4 + TX_MAX_BYTES);
        uint8_t *p = realloc(b->body, cap);
        if (p == NULL)
            return -ENOMEM;
        b->body = p;
        b->cap = cap;
    }
    uint8_t *p = b->body + b->len;
    p[0] = (uint8_t)(len >> 24);
    p[1] = (uint8_t)(len >> 16);
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
    memcpy(p + 4, tx, len);
    b->len += 4 + len;
    b->n++;
    return 0;
}

size_t txbatch_count(const txbatch_t *b)
{
    return b->n;
}

const uint8_t *txbatch_body(const txbatch_t *b, size_t *len)
{
    *len = b->len;
    return b->body;
}

const char *txbatch_error(const txbatch_t *b)
{
    return b->err;
}

/* error.code of an error answer, or fallback. */
static void answer_code(const char *body, size_t len, char out[TXBATCH_CODE_MAX],
                        const char *fallback)
{
    json_t *j = body ? json_loadb(body, len, 0, NULL) : NULL;
    const char *code = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    snprintf(out, TXBATCH_CODE_MAX, "%s", code ? code : fallback);
    json_decref(j);
}

/* Give every result of the batch the same refusal. */
static void refuse_all(const txbatch_t *b, txbatch_result_t *res, int status, const char *code)
{
    for (size_t i = 0; i < b->n; i++) {
        res[i].pending = false;
        res[i].http_status = status;
        snprintf(res[i].code, sizeof(res[i].code), "%s", code);
    }
}

/* One element of "results". Return 0 or -EPROTO. */
static int parse_one(json_t *r, txbatch_result_t *out)
{
    const char *status = json_string_value(json_object_get(r, "status"));
    json_t *hs = json_object_get(r, "http_status");
    const char *code = json_string_value(json_object_get(json_object_get(r, "error"), "code"));
    memset(out, 0, sizeof(*out));
    if (status && strcmp(status, "pending") == 0 && json_is_string(json_object_get(r, "id"))) {
        out->pending = true;
        out->http_status = 202;
        return 0;
    }
    if (!status || strcmp(status, "refused") != 0 || !json_is_integer(hs) || !code)
        return -EPROTO;
    out->http_status = (int)json_integer_value(hs);
    snprintf(out->code, sizeof(out->code), "%s", code);
    return 0;
}

int txbatch_parse(const char *body, size_t len, size_t n, txbatch_result_t *res,
                  char err[TXBATCH_ERR_MAX])
{
    json_t *j = body ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *results = json_object_get(j, "results");
    json_t *acc = json_object_get(j, "accepted"), *ref = json_object_get(j, "refused");
    size_t pending = 0;
    int rc = -EPROTO;
    if (!json_is_array(results) || json_array_size(results) != n || !json_is_integer(acc) ||
        !json_is_integer(ref)) {
        snprintf(err, TXBATCH_ERR_MAX, "expected {\"accepted\",\"refused\",\"results\"} with %zu "
                 "results, got: %.120s", n, body ? body : "");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (parse_one(json_array_get(results, i), &res[i]) < 0) {
            snprintf(err, TXBATCH_ERR_MAX, "results[%zu] is neither {\"id\",\"status\":"
                     "\"pending\"} nor a refusal with http_status and error.code", i);
            goto out;
        }
        pending += res[i].pending;
    }
    if ((json_int_t)pending != json_integer_value(acc) ||
        (json_int_t)(n - pending) != json_integer_value(ref)) {
        snprintf(err, TXBATCH_ERR_MAX, "\"accepted\":%lld and \"refused\":%lld do not count the "
                 "%zu pending of %zu results", (long long)json_integer_value(acc),
                 (long long)json_integer_value(ref), pending, n);
        goto out;
    }
    rc = 0;
out:
    json_decref(j);
    return rc;
}

int txbatch_post(txbatch_t *b, txbatch_result_t *res)
{
    long status = 0;
    size_t skip = b->single ? 4 : 0; /* POST /txs takes the bare transaction */
    b->err[0] = '\0';
    httpbuf_clear(&b->ans);
    if (b->n == 0) {
        snprintf(b->err, sizeof(b->err), "the batch is empty");
        return -EINVAL;
    }
    curl_easy_setopt(b->curl, CURLOPT_POSTFIELDS, b->body + skip);
    curl_easy_setopt(b->curl, CURLOPT_POSTFIELDSIZE, (long)(b->len - skip));
    CURLcode cr = curl_easy_perform(b->curl);
    if (cr == CURLE_OK)
        curl_easy_getinfo(b->curl, CURLINFO_RESPONSE_CODE, &status);
    if (cr != CURLE_OK || status == 0) {
        snprintf(b->err, sizeof(b->err), "no answer: %s", curl_easy_strerror(cr));
        refuse_all(b, res, 0, "transport");
        return -EIO;
    }
    if (b->single) {
        res[0].pending = status == 202;
        res[0].http_status = (int)status;
        if (res[0].pending)
            res[0].code[0] = '\0';
        else
            answer_code(b->ans.buf, b->ans.len, res[0].code, "other");
        return 0;
    }
    if (status != 200) {
        char code[TXBATCH_CODE_MAX];
        answer_code(b->ans.buf, b->ans.len, code, "other");
        snprintf(b->err, sizeof(b->err), "HTTP %ld: %.200s", status,
                 b->ans.buf ? b->ans.buf : "");
        refuse_all(b, res, (int)status, code);
        return -EREMOTEIO;
    }
    int rc = txbatch_parse(b->ans.buf, b->ans.len, b->n, res, b->err);
    if (rc < 0)
        refuse_all(b, res, (int)status, "bad_answer");
    return rc;
}
