#include "common/store/genesis.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base/clock.h"
#include "common/base/fsutil.h"
#include "common/base/hex.h"
#include "proto/tx.h"

static json_t *genesis_to_json(const genesis_t *g)
{
    char hex[2 * BLOCK_HASH_LEN + 1], when[CLOCK_ISO8601_MAX];
    json_t *o = json_object(), *vals = json_array(), *govs = json_array(), *bals = json_array();
    json_t *params = json_object(), *result = NULL;
    if (!o || !vals || !govs || !bals || !params)
        goto out;
    clock_iso8601(when, g->genesis_time_ms);
    json_object_set_new(o, "chain_id", json_string(g->chain_id));
    json_object_set_new(o, "chain", json_string(g->chain));
    json_object_set_new(o, "network", json_string(g->network));
    json_object_set_new(o, "genesis_time", json_string(when));
    json_object_set_new(o, "genesis_time_ms", json_integer((json_int_t)g->genesis_time_ms));
    json_object_set_new(o, "protocol_version", json_integer(g->protocol_version));
    for (size_t i = 0; i < g->n_validators; i++) {
        hex_encode(hex, g->validators[i].pk, BLOCK_KEY_LEN);
        json_array_append_new(vals, json_pack("{s:s, s:s, s:I}", "name", g->validators[i].name,
                                              "public_key", hex,
                                              "power", (json_int_t)g->validators[i].power));
    }
    for (size_t i = 0; i < g->n_governors; i++) {
        hex_encode(hex, g->governors[i], BLOCK_KEY_LEN);
        json_array_append_new(govs, json_pack("{s:s}", "public_key", hex));
    }
    for (size_t i = 0; i < g->n_balances; i++) {
        hex_encode(hex, g->balances[i].owner, BLOCK_KEY_LEN);
        json_array_append_new(bals, json_pack("{s:s, s:s, s:I}", "owner", hex, "asset",
                                              g->balances[i].asset,
                                              "amount", (json_int_t)g->balances[i].amount));
    }
    json_object_set_new(params, "min_fee", json_integer((json_int_t)g->min_fee));
    json_object_set_new(params, "fee_asset", json_string(g->fee_asset));
    for (size_t i = 0; i < g->n_params; i++)
        json_object_set_new(params, g->params[i].key,
                            json_loads(g->params[i].value, JSON_DECODE_ANY, NULL));
    /* Each set_new takes the reference: forget it here. */
    json_object_set_new(o, "params", params);
    json_object_set_new(o, "validators", vals);
    json_object_set_new(o, "governors", govs);
    json_object_set_new(o, "balances", bals);
    params = vals = govs = bals = NULL;
    if (g->has_peer_genesis) {
        char key[GENESIS_CHAIN_MAX + sizeof("_genesis_hash")];
        snprintf(key, sizeof(key), "%s_genesis_hash", g->peer_chain);
        hex_encode(hex, g->peer_genesis_hash, BLOCK_HASH_LEN);
        json_object_set_new(o, key, json_string(hex));
    }
    result = o;
    o = NULL;
out:
    json_decref(o);
    json_decref(params);
    json_decref(vals);
    json_decref(govs);
    json_decref(bals);
    return result;
}

static int genesis_compute_hash(const genesis_t *g, uint8_t out[BLOCK_HASH_LEN])
{
    json_t *o = genesis_to_json(g);
    if (!o)
        return -ENOMEM;
    char *canon = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!canon)
        return -ENOMEM;
    crypto_generichash_state st;
    static const char tag[] = "adnet/genesis/v1";
    crypto_generichash_init(&st, NULL, 0, BLOCK_HASH_LEN);
    crypto_generichash_update(&st, (const unsigned char *)tag, sizeof(tag) - 1);
    crypto_generichash_update(&st, (const unsigned char *)canon, strlen(canon));
    crypto_generichash_final(&st, out, BLOCK_HASH_LEN);
    free(canon);
    return 0;
}

void genesis_params_default(genesis_t *g)
{
    g->min_fee = GENESIS_DEFAULT_MIN_FEE;
    snprintf(g->fee_asset, sizeof(g->fee_asset), "%s", GENESIS_DEFAULT_FEE_ASSET);
    g->n_params = 0;
}

int genesis_save(genesis_t *g, const char *path, int overwrite)
{
    char when[CLOCK_ISO8601_MAX];
    if (g->min_fee > INT64_MAX || !g->fee_asset[0])
        return -EINVAL;
    /* JSON integers are signed 64-bit: refuse what would not load back. */
    if (g->genesis_time_ms > INT64_MAX || clock_iso8601(when, g->genesis_time_ms) < 0)
        return -EINVAL;
    for (size_t i = 0; i < g->n_balances; i++)
        if (g->balances[i].amount > INT64_MAX)
            return -EINVAL;
    int r = genesis_compute_hash(g, g->hash);
    if (r < 0)
        return r;
    json_t *o = genesis_to_json(g);
    if (!o)
        return -ENOMEM;
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text)
        return -ENOMEM;
    size_t len = strlen(text);
    char *withnl = realloc(text, len + 2);
    if (!withnl) {
        free(text);
        return -ENOMEM;
    }
    withnl[len] = '\n';
    withnl[len + 1] = '\0';
    r = fs_write_file(path, withnl, len + 1, 0644, overwrite != 0);
    free(withnl);
    return r;
}

static int get_key(const json_t *o, const char *field, uint8_t out[BLOCK_KEY_LEN])
{
    const json_t *v = json_object_get(o, field);
    return json_is_string(v) ? hex_decode(out, BLOCK_KEY_LEN, json_string_value(v)) : -EINVAL;
}

static int get_u64(const json_t *o, const char *field, uint64_t *out)
{
    const json_t *v = json_object_get(o, field);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -EINVAL;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int get_str(const json_t *o, const char *field, char *out, size_t cap)
{
    const json_t *v = json_object_get(o, field);
    if (!json_is_string(v) || strlen(json_string_value(v)) == 0 ||
        strlen(json_string_value(v)) >= cap)
        return -EINVAL;
    memcpy(out, json_string_value(v), strlen(json_string_value(v)) + 1);
    return 0;
}

/* What the section loaders share: the file named in every message. */
typedef struct {
    const char *path;
    char *err;   /* GENESIS_ERR_MAX bytes */
} load_ctx_t;

static int fail(const load_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Write "<path>: <message>" to c->err; return -EINVAL. */
static int fail(const load_ctx_t *c, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(c->err, GENESIS_ERR_MAX, "%s: ", c->path);
    if (n >= 0 && n < GENESIS_ERR_MAX) {
        va_start(ap, fmt);
        vsnprintf(c->err + n, GENESIS_ERR_MAX - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static int name_is_valid(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (extra && s[i] && strchr(extra, s[i]))))
            return 0;
    return 1;
}

static int load_header(const load_ctx_t *c, const json_t *o, genesis_t *g, const char *chain)
{
    if (get_str(o, "chain_id", g->chain_id, sizeof(g->chain_id)) < 0)
        return fail(c, "chain_id: expected a string of 1 to %d bytes", BLOCK_CHAIN_ID_MAX);
    if (get_str(o, "chain", g->chain, sizeof(g->chain)) < 0 ||
        !name_is_valid(g->chain, GENESIS_CHAIN_MAX, NULL))
        return fail(c, "chain: expected a chain name (1 to %d of a-z)", GENESIS_CHAIN_MAX);
    if (chain && strcmp(g->chain, chain) != 0)
        return fail(c, "chain: expected \"%s\", got \"%s\"", chain, g->chain);
    if (get_str(o, "network", g->network, sizeof(g->network)) < 0 ||
        (strcmp(g->network, "devnet") != 0 && strcmp(g->network, "testnet") != 0 &&
         strcmp(g->network, "mainnet") != 0))
        return fail(c, "network: expected devnet, testnet or mainnet");
    char want[CLOCK_ISO8601_MAX];
    if (get_u64(o, "genesis_time_ms", &g->genesis_time_ms) < 0 ||
        clock_iso8601(want, g->genesis_time_ms) < 0)
        return fail(c, "genesis_time_ms: expected a non-negative integer (before year 10000)");
    const json_t *when = json_object_get(o, "genesis_time");
    if (when && (!json_is_string(when) || strcmp(json_string_value(when), want) != 0))
        return fail(c, "genesis_time: expected \"%s\" (it must agree with genesis_time_ms)", want);
    uint64_t pv;
    if (get_u64(o, "protocol_version", &pv) < 0 || pv == 0 || pv > UINT32_MAX)
        return fail(c, "protocol_version: expected a positive integer");
    g->protocol_version = (uint32_t)pv;
    return 0;
}

static int load_validators(const load_ctx_t *c, const json_t *o, genesis_t *g)
{
    const json_t *arr = json_object_get(o, "validators");
    if (!json_is_array(arr) || json_array_size(arr) == 0 ||
        json_array_size(arr) > GENESIS_MAX_VALIDATORS)
        return fail(c, "validators: expected 1 to %d entries", GENESIS_MAX_VALIDATORS);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *v = json_array_get(arr, i);
        genesis_validator_t *gv = &g->validators[i];
        if (get_key(v, "public_key", gv->pk) < 0 || get_u64(v, "power", &gv->power) < 0 ||
            gv->power == 0 || gv->power > GENESIS_MAX_POWER ||
            get_str(v, "name", gv->name, sizeof(gv->name)) < 0)
            return fail(c, "validators[%zu]: expected name, public_key (64 hex digits), power "
                        "from 1 to 2^53", i);
        for (size_t j = 0; j < i; j++)
            if (memcmp(g->validators[j].pk, gv->pk, BLOCK_KEY_LEN) == 0)
                return fail(c, "validators[%zu]: duplicate public_key", i);
    }
    g->n_validators = json_array_size(arr);
    return 0;
}

static int load_governors(const load_ctx_t *c, const json_t *o, genesis_t *g)
{
    const json_t *arr = json_object_get(o, "governors");
    if (!json_is_array(arr) || json_array_size(arr) > GENESIS_MAX_GOVERNORS)
        return fail(c, "governors: expected at most %d entries", GENESIS_MAX_GOVERNORS);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        if (get_key(json_array_get(arr, i), "public_key", g->governors[i]) < 0)
            return fail(c, "governors[%zu]: expected public_key (64 hex digits)", i);
        for (size_t j = 0; j < i; j++)
            if (memcmp(g->governors[j], g->governors[i], BLOCK_KEY_LEN) == 0)
                return fail(c, "governors[%zu]: duplicate public_key", i);
    }
    g->n_governors = json_array_size(arr);
    return 0;
}

static int load_balances(const load_ctx_t *c, const json_t *o, genesis_t *g)
{
    const json_t *arr = json_object_get(o, "balances");
    if (!json_is_array(arr) || json_array_size(arr) > GENESIS_MAX_BALANCES)
        return fail(c, "balances: expected at most %d entries", GENESIS_MAX_BALANCES);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *v = json_array_get(arr, i);
        genesis_balance_t *b = &g->balances[i];
        if (get_key(v, "owner", b->owner) < 0 ||
            get_str(v, "asset", b->asset, sizeof(b->asset)) < 0 ||
            get_u64(v, "amount", &b->amount) < 0)
            return fail(c, "balances[%zu]: expected owner (64 hex digits), asset, amount", i);
        if (!tx_asset_is_valid(b->asset))
            return fail(c, "balances[%zu]: asset \"%s\": expected 1 to %d of A-Z 0-9 -", i,
                        b->asset, TX_ASSET_MAX);
        for (size_t j = 0; j < i; j++)
            if (memcmp(g->balances[j].owner, b->owner, BLOCK_KEY_LEN) == 0 &&
                strcmp(g->balances[j].asset, b->asset) == 0)
                return fail(c, "balances[%zu]: duplicate owner and asset (merge them)", i);
    }
    g->n_balances = json_array_size(arr);
    return 0;
}

/* Keep a chain-specific param as compact JSON; the chain checks its meaning. */
static int load_param(const load_ctx_t *c, genesis_t *g, const char *key, const json_t *v)
{
    if (!name_is_valid(key, GENESIS_PARAM_KEY_MAX, "0123456789_"))
        return fail(c, "params.%.40s: expected a key of 1 to %d of a-z 0-9 _", key,
                    GENESIS_PARAM_KEY_MAX);
    if (g->n_params == GENESIS_MAX_PARAMS)
        return fail(c, "params: at most %d chain parameters", GENESIS_MAX_PARAMS);
    char *text = NULL;
    if ((json_is_integer(v) && json_integer_value(v) >= 0) || json_is_string(v))
        text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    int r = 0;
    if (!text || strlen(text) > GENESIS_PARAM_VALUE_MAX)
        r = fail(c, "params.%s: expected a non-negative integer or a string of at most %d bytes",
                 key, GENESIS_PARAM_VALUE_MAX - 2);
    else {
        genesis_param_t *p = &g->params[g->n_params++];
        snprintf(p->key, sizeof(p->key), "%s", key);
        snprintf(p->value, sizeof(p->value), "%s", text);
    }
    free(text);
    return r;
}

static int load_params(const load_ctx_t *c, const json_t *o, genesis_t *g)
{
    genesis_params_default(g);
    const json_t *params = json_object_get(o, "params"), *v;
    const char *key;
    if (!params)
        return 0;
    if (!json_is_object(params))
        return fail(c, "params: expected an object");
    if (json_object_get(params, "min_fee") && get_u64(params, "min_fee", &g->min_fee) < 0)
        return fail(c, "params.min_fee: expected a non-negative integer");
    if (json_object_get(params, "fee_asset") &&
        get_str(params, "fee_asset", g->fee_asset, sizeof(g->fee_asset)) < 0)
        return fail(c, "params.fee_asset: expected 1 to %d bytes", GENESIS_ASSET_MAX);
    if (!tx_asset_is_valid(g->fee_asset))
        return fail(c, "params.fee_asset: expected 1 to %d of A-Z 0-9 -", TX_ASSET_MAX);
    json_object_foreach((json_t *)params, key, v) {
        int r;
        if (strcmp(key, "min_fee") != 0 && strcmp(key, "fee_asset") != 0 &&
            (r = load_param(c, g, key, v)) < 0)
            return r;
    }
    return 0;
}

/* "<chain>_genesis_hash": the genesis of the chain this one depends on. */
static int load_peer(const load_ctx_t *c, const json_t *o, genesis_t *g)
{
    static const char suffix[] = "_genesis_hash";
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        size_t n = strlen(key);
        if (n <= sizeof(suffix) - 1 || strcmp(key + n - (sizeof(suffix) - 1), suffix) != 0)
            continue;
        if (g->has_peer_genesis)
            return fail(c, "%s: a genesis names at most one other chain's genesis", key);
        n -= sizeof(suffix) - 1;
        if (n > GENESIS_CHAIN_MAX || !json_is_string(v) ||
            hex_decode(g->peer_genesis_hash, BLOCK_HASH_LEN, json_string_value(v)) < 0)
            return fail(c, "%s: expected 64 hex digits", key);
        memcpy(g->peer_chain, key, n);
        g->peer_chain[n] = '\0';
        if (!name_is_valid(g->peer_chain, GENESIS_CHAIN_MAX, NULL))
            return fail(c, "%s: expected <chain>_genesis_hash with a chain name of a-z", key);
        g->has_peer_genesis = 1;
    }
    return 0;
}

int genesis_load(genesis_t *g, const char *path, const char *chain, char err[GENESIS_ERR_MAX])
{
    int r;
    char *text = NULL;
    json_t *o = NULL;
    json_error_t jerr;
    load_ctx_t c = { path, err };
    genesis_t *tmp = calloc(1, sizeof(*tmp));
    if (!tmp)
        return -ENOMEM;

    if ((r = fs_read_file(path, 16 * 1024 * 1024, &text, NULL)) < 0) {
        snprintf(err, GENESIS_ERR_MAX, "%s: %s", path, strerror(-r));
        goto out;
    }
    if (!(o = json_loads(text, 0, &jerr))) {
        snprintf(err, GENESIS_ERR_MAX, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        r = -EINVAL;
        goto out;
    }
    if (!json_is_object(o)) {
        r = fail(&c, "expected a JSON object");
        goto out;
    }
    if ((r = load_header(&c, o, tmp, chain)) < 0 || (r = load_validators(&c, o, tmp)) < 0 ||
        (r = load_governors(&c, o, tmp)) < 0 || (r = load_balances(&c, o, tmp)) < 0 ||
        (r = load_params(&c, o, tmp)) < 0 || (r = load_peer(&c, o, tmp)) < 0)
        goto out;
    if ((r = genesis_compute_hash(tmp, tmp->hash)) < 0) {
        snprintf(err, GENESIS_ERR_MAX, "%s: out of memory", path);
        goto out;
    }
    memcpy(g, tmp, sizeof(*g));
out:
    json_decref(o);
    free(text);
    free(tmp);
    return r;
}

static const genesis_param_t *param_find(const genesis_t *g, const char *key)
{
    for (size_t i = 0; i < g->n_params; i++)
        if (strcmp(g->params[i].key, key) == 0)
            return &g->params[i];
    return NULL;
}

int genesis_param_u64(const genesis_t *g, const char *key, uint64_t *out)
{
    const genesis_param_t *p = param_find(g, key);
    if (!p)
        return -ENOENT;
    if (p->value[0] < '0' || p->value[0] > '9')
        return -EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(p->value, &end, 10);
    if (errno || *end || v > INT64_MAX)
        return -EINVAL;
    *out = v;
    return 0;
}

int genesis_param_hex(const genesis_t *g, const char *key, uint8_t *out, size_t n)
{
    const genesis_param_t *p = param_find(g, key);
    if (!p)
        return -ENOENT;
    size_t len = strlen(p->value);
    if (len != 2 * n + 2 || p->value[0] != '"' || p->value[len - 1] != '"')
        return -EINVAL;
    char hex[2 * GENESIS_PARAM_VALUE_MAX + 1];
    memcpy(hex, p->value + 1, 2 * n);
    hex[2 * n] = '\0';
    return hex_decode(out, n, hex);
}

/* Add or replace key with value (compact JSON text). */
static int param_set(genesis_t *g, const char *key, const char *value)
{
    genesis_param_t *p = (genesis_param_t *)param_find(g, key);
    if (!name_is_valid(key, GENESIS_PARAM_KEY_MAX, "0123456789_") ||
        strcmp(key, "min_fee") == 0 || strcmp(key, "fee_asset") == 0 ||
        strlen(value) > GENESIS_PARAM_VALUE_MAX)
        return -EINVAL;
    if (!p) {
        if (g->n_params == GENESIS_MAX_PARAMS)
            return -ENOSPC;
        p = &g->params[g->n_params++];
        snprintf(p->key, sizeof(p->key), "%s", key);
    }
    snprintf(p->value, sizeof(p->value), "%s", value);
    return 0;
}

int genesis_param_set_u64(genesis_t *g, const char *key, uint64_t v)
{
    char text[24];
    if (v > INT64_MAX)
        return -EINVAL;
    snprintf(text, sizeof(text), "%llu", (unsigned long long)v);
    return param_set(g, key, text);
}

int genesis_param_set_hex(genesis_t *g, const char *key, const uint8_t *bytes, size_t n)
{
    char text[GENESIS_PARAM_VALUE_MAX + 3];
    if (2 * n + 2 > GENESIS_PARAM_VALUE_MAX)
        return -EINVAL;
    text[0] = '"';
    hex_encode(text + 1, bytes, n);
    text[2 * n + 1] = '"';
    text[2 * n + 2] = '\0';
    return param_set(g, key, text);
}

uint64_t genesis_total_power(const genesis_t *g)
{
    uint64_t t = 0;
    for (size_t i = 0; i < g->n_validators; i++)
        t += g->validators[i].power;
    return t;
}

uint64_t genesis_power_of(const genesis_t *g, const uint8_t pk[BLOCK_KEY_LEN])
{
    for (size_t i = 0; i < g->n_validators; i++)
        if (memcmp(g->validators[i].pk, pk, BLOCK_KEY_LEN) == 0)
            return g->validators[i].power;
    return 0;
}
