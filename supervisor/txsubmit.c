/* What the verbs that talk to a chain's API share; see txsubmit.h. */
#include "supervisor/txsubmit.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base/clock.h"
#include "common/base/exitcode.h"
#include "common/base/fsutil.h"
#include "common/base/hex.h"

#define DEFAULT_TIMEOUT_S 60
#define POLL_MS 100 /* how often a submitted transaction is looked for */
#define PATH_BUF 512

int txsub_failure(const txsub_t *s, const httpc_response_t *res, bool submission)
{
    json_t *e = res->json ? json_object_get(res->json, "error") : NULL;
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (!code)
        code = "http_error";
    if (!msg)
        msg = "(no message)";
    if (submission)
        fprintf(stderr, "adnet%s%s: refused (%s): %s\n", s->refusal_names_verb ? " " : "",
                s->refusal_names_verb ? s->verb : "", code, msg);
    else
        fprintf(stderr, "adnet %s: %s: %s (HTTP %ld)\n", s->verb, code, msg, res->status);
    if (s->json && e) {
        json_dumpf(res->json, stdout, JSON_COMPACT);
        fputc('\n', stdout);
    }
    return res->status >= 400 && res->status < 500 && res->status != 429 ? ADNET_EXIT_CONFIG
                                                                          : ADNET_EXIT_SYSTEM;
}

int txsub_unreachable(const txsub_t *s, int r)
{
    fprintf(stderr, "adnet %s: node unreachable: %s%s\n", s->verb, httpc_error(s->http),
            r == -ECONNREFUSED ? " (is `adnet run` up? check the chain's api.listen)" : "");
    return ADNET_EXIT_SYSTEM;
}

int txsub_get_any(txsub_t *s, const char *path, long *status, json_t **out)
{
    httpc_response_t res;
    int r = httpc_get(s->http, path, &res);
    if (r < 0)
        return txsub_unreachable(s, r);
    *status = res.status;
    *out = res.json ? json_incref(res.json) : NULL;
    httpc_response_clear(&res);
    return -1;
}

int txsub_get(txsub_t *s, const char *path, json_t **out)
{
    httpc_response_t res;
    int r = httpc_get(s->http, path, &res);
    if (r < 0)
        return txsub_unreachable(s, r);
    if (res.status != 200 || !res.json) {
        int rc = res.status == 200 ? (fprintf(stderr, "adnet %s: %s: not JSON\n", s->verb, path),
                                      ADNET_EXIT_SYSTEM)
                                   : txsub_failure(s, &res, false);
        httpc_response_clear(&res);
        return rc;
    }
    *out = json_incref(res.json);
    httpc_response_clear(&res);
    return -1;
}

int txsub_json_u64(const json_t *o, const char *key, uint64_t *out)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -EINVAL;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

int txsub_tip(txsub_t *s, char chain_id[BLOCK_CHAIN_ID_MAX + 1], uint64_t *height)
{
    json_t *st = NULL;
    uint64_t h;
    int rc = txsub_get(s, "/status", &st);
    if (rc >= 0)
        return rc;
    const char *cid = json_string_value(json_object_get(st, "chain_id"));
    if (!cid || strlen(cid) > BLOCK_CHAIN_ID_MAX || txsub_json_u64(st, "height", &h) < 0) {
        fprintf(stderr, "adnet %s: GET /status: no chain_id/height in the answer\n", s->verb);
        json_decref(st);
        return ADNET_EXIT_SYSTEM;
    }
    snprintf(chain_id, BLOCK_CHAIN_ID_MAX + 1, "%s", cid);
    *height = h;
    json_decref(st);
    return -1;
}

int txsub_post(txsub_t *s, const tx_t *tx, const uint8_t sk[64], char idhex[TXSUB_ID_HEX])
{
    uint8_t *buf = malloc(TX_MAX_BYTES), id[TX_ID_LEN];
    char *hex = NULL;
    json_t *body = NULL;
    httpc_response_t res = { 0 };
    size_t len;
    int rc = ADNET_EXIT_SYSTEM, r;
    if (!buf)
        goto out;
    if ((r = tx_sign_encode(tx, sk, buf, TX_MAX_BYTES, &len)) < 0) {
        fprintf(stderr, "adnet %s: cannot encode the transaction: %s\n", s->verb, strerror(-r));
        rc = ADNET_EXIT_CONFIG;
        goto out;
    }
    tx_id(buf, len, id);
    if (!(hex = malloc(2 * len + 1)))
        goto out;
    hex_encode(hex, buf, len);
    if (!(body = json_pack("{s:s}", "tx", hex)))
        goto out;
    if ((r = httpc_post_json(s->http, "/txs", body, &res)) < 0) {
        rc = txsub_unreachable(s, r);
        goto out;
    }
    if (res.status != 202) {
        rc = txsub_failure(s, &res, true);
        goto out;
    }
    const char *got = json_string_value(json_object_get(res.json, "id"));
    hex_encode(idhex, id, TX_ID_LEN);
    if (got && strcmp(got, idhex) != 0)
        fprintf(stderr, "adnet %s: warning: the node names the transaction %s, expected %s\n",
                s->verb, got, idhex);
    rc = -1;
out:
    httpc_response_clear(&res);
    json_decref(body);
    free(hex);
    free(buf);
    return rc;
}

/* Past its expiry height a transaction can no longer be included: 1 if
 * the tip is past expiry (*tip set), 0 if not or unknown. */
static int past_expiry(txsub_t *s, uint64_t expiry, uint64_t *tip)
{
    json_t *st = NULL;
    uint64_t h;
    int past = txsub_get(s, "/status", &st) < 0 && txsub_json_u64(st, "height", &h) == 0 &&
               h > expiry;
    json_decref(st);
    if (past)
        *tip = h;
    return past;
}

int txsub_wait(txsub_t *s, const char *idhex, uint64_t expiry, uint64_t *height)
{
    char path[PATH_BUF];
    uint64_t secs = s->timeout_s ? s->timeout_s : DEFAULT_TIMEOUT_S, tip = 0;
    struct timespec nap = { 0, POLL_MS * 1000000L };
    unsigned polls = 0;
    uint64_t t0 = clock_mono_us();
    snprintf(path, sizeof(path), "/txs/%s", idhex);
    for (;;) {
        httpc_response_t res;
        int r = httpc_get(s->http, path, &res);
        if (r < 0)
            return txsub_unreachable(s, r);
        if (res.status == 200) {
            int ok = txsub_json_u64(res.json, "height", height);
            httpc_response_clear(&res);
            if (ok < 0) {
                fprintf(stderr, "adnet %s: GET %s: no height in the answer\n", s->verb, path);
                return ADNET_EXIT_SYSTEM;
            }
            return -1;
        }
        json_t *e = res.status == 404 && res.json ? json_object_get(res.json, "error") : NULL;
        const char *code = json_string_value(json_object_get(e, "code"));
        if (res.status != 404 || (code && strcmp(code, "dropped") == 0)) {
            /* a drop is final: the node refused it at a block, or at its restart */
            int rc = txsub_failure(s, &res, false);
            httpc_response_clear(&res);
            return rc;
        }
        httpc_response_clear(&res);
        if (++polls % 10 == 0 && past_expiry(s, expiry, &tip)) {
            /* One last look: it may have landed in the block that passed expiry. */
            if (httpc_get(s->http, path, &res) == 0 && res.status == 200 &&
                txsub_json_u64(res.json, "height", height) == 0) {
                httpc_response_clear(&res);
                return -1;
            }
            httpc_response_clear(&res);
            fprintf(stderr, "adnet %s: %s was not committed by its expiry height %" PRIu64
                    " (tip %" PRIu64 "): the node dropped it (see adnet_tx_rejected_total "
                    "in /metrics)\n", s->verb, idhex, expiry, tip);
            return ADNET_EXIT_SYSTEM;
        }
        double el = (double)(clock_mono_us() - t0) / 1e6;
        if (el >= (double)secs) {
            fprintf(stderr, "adnet %s: %s not committed after %" PRIu64 " s (still pending, "
                    "or dropped)\n", s->verb, idhex, secs);
            return ADNET_EXIT_SYSTEM;
        }
        nanosleep(&nap, NULL);
    }
}

int txsub_print_json(const json_t *j)
{
    if (json_dumpf(j, stdout, JSON_INDENT(2)) < 0 || fputc('\n', stdout) == EOF) {
        fprintf(stderr, "adnet: cannot write to stdout\n");
        return ADNET_EXIT_SYSTEM;
    }
    return ADNET_EXIT_OK;
}

static void print_scalar(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: fputs(json_string_value(v), stdout); break;
    case JSON_INTEGER: printf("%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL: printf("%.17g", json_real_value(v)); break;
    case JSON_TRUE: fputs("true", stdout); break;
    case JSON_FALSE: fputs("false", stdout); break;
    case JSON_NULL: fputs("-", stdout); break;
    default: break;
    }
}

static bool is_scalar(const json_t *v)
{
    return !json_is_object(v) && !json_is_array(v);
}

void txsub_print_human(const json_t *o, int indent)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        printf("%*s%s:", indent, "", key);
        if (is_scalar(v)) {
            putchar(' ');
            print_scalar(v);
            putchar('\n');
        } else if (json_is_object(v)) {
            if (json_object_size(v) == 0)
                fputs(" (none)", stdout);
            putchar('\n');
            txsub_print_human(v, indent + 2);
        } else {
            size_t i;
            json_t *e;
            bool scalars = true;
            json_array_foreach(v, i, e) scalars = scalars && is_scalar(e);
            if (json_array_size(v) == 0) {
                fputs(" (none)\n", stdout);
            } else if (scalars) {
                putchar('\n');
                json_array_foreach(v, i, e) {
                    printf("%*s- ", indent + 2, "");
                    print_scalar(e);
                    putchar('\n');
                }
            } else {
                putchar('\n');
                json_array_foreach(v, i, e) {
                    printf("%*s-\n", indent + 2, "");
                    if (json_is_object(e))
                        txsub_print_human(e, indent + 4);
                }
            }
        }
    }
}

int txsub_load_key(const char *verb, const char *home, const char *name, keys_pair_t *kp)
{
    char path[PATH_MAX], err[KEYS_ERR_MAX];
    if (strchr(name, '/') || name[0] == '.' || strlen(name) > KEYS_NAME_MAX ||
        fs_path(path, sizeof(path), "%s/keys/%s.json", home, name) < 0) {
        fprintf(stderr, "adnet %s: bad key name \"%s\"\n", verb, name);
        return ADNET_EXIT_CONFIG;
    }
    if (keys_load(kp, path, err) < 0) {
        fprintf(stderr, "adnet %s: key \"%s\": %s\n", verb, name, err);
        return ADNET_EXIT_CONFIG;
    }
    return -1;
}
