#include "common/store/genesis.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base/fsutil.h"
#include "common/base/hex.h"
#include "proto/tx.h"

static void iso8601(char out[48], uint64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, 48, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
}

static json_t *genesis_to_json(const genesis_t *g)
{
    char hex[2 * BLOCK_HASH_LEN + 1], when[48];
    json_t *o = json_object(), *vals = json_array(), *govs = json_array(), *bals = json_array();
    if (!o || !vals || !govs || !bals)
        goto fail;
    iso8601(when, g->genesis_time_ms);
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
    json_t *params = json_object();
    if (!params)
        goto fail;
    json_object_set_new(params, "min_fee", json_integer((json_int_t)g->min_fee));
    json_object_set_new(params, "fee_asset", json_string(g->fee_asset));
    json_object_set_new(params, "unbonding_blocks", json_integer((json_int_t)g->unbonding_blocks));
    if (g->has_minter) {
        hex_encode(hex, g->minter, BLOCK_KEY_LEN);
        json_object_set_new(params, "minter", json_string(hex));
    }
    json_object_set_new(o, "params", params);
    json_object_set_new(o, "validators", vals);
    json_object_set_new(o, "governors", govs);
    json_object_set_new(o, "balances", bals);
    if (g->has_peer_genesis) {
        hex_encode(hex, g->peer_genesis_hash, BLOCK_HASH_LEN);
        json_object_set_new(o, "alpha_genesis_hash", json_string(hex));
    }
    return o;
fail:
    json_decref(o);
    json_decref(vals);
    json_decref(govs);
    json_decref(bals);
    return NULL;
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
    g->unbonding_blocks = GENESIS_DEFAULT_UNBONDING_BLOCKS;
    g->has_minter = 0;
    memset(g->minter, 0, sizeof(g->minter));
}

int genesis_save(genesis_t *g, const char *path, int overwrite)
{
    if (g->min_fee > INT64_MAX || g->unbonding_blocks > INT64_MAX || !g->fee_asset[0])
        return -EINVAL;
    /* JSON integers are signed 64-bit: refuse what would not load back. */
    if (g->genesis_time_ms > INT64_MAX)
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

#define FAIL(...)                                                  \
    do {                                                           \
        snprintf(err, GENESIS_ERR_MAX, __VA_ARGS__);               \
        r = -EINVAL;                                               \
        goto out;                                                  \
    } while (0)

int genesis_load(genesis_t *g, const char *path, char err[GENESIS_ERR_MAX])
{
    int r = 0;
    char *text = NULL;
    json_t *o = NULL;
    json_error_t jerr;
    genesis_t *tmp = calloc(1, sizeof(*tmp));
    if (!tmp)
        return -ENOMEM;

    if ((r = fs_read_file(path, 16 * 1024 * 1024, &text, NULL)) < 0) {
        snprintf(err, GENESIS_ERR_MAX, "%s: %s", path, strerror(-r));
        goto out;
    }
    if (!(o = json_loads(text, 0, &jerr)))
        FAIL("%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    if (!json_is_object(o))
        FAIL("%s: expected a JSON object", path);
    if (get_str(o, "chain_id", tmp->chain_id, sizeof(tmp->chain_id)) < 0)
        FAIL("%s: chain_id: expected a string of 1 to %d bytes", path, BLOCK_CHAIN_ID_MAX);
    if (get_str(o, "chain", tmp->chain, sizeof(tmp->chain)) < 0 ||
        (strcmp(tmp->chain, "alpha") != 0 && strcmp(tmp->chain, "delta") != 0))
        FAIL("%s: chain: expected \"alpha\" or \"delta\"", path);
    if (get_str(o, "network", tmp->network, sizeof(tmp->network)) < 0 ||
        (strcmp(tmp->network, "devnet") != 0 && strcmp(tmp->network, "testnet") != 0 &&
         strcmp(tmp->network, "mainnet") != 0))
        FAIL("%s: network: expected devnet, testnet or mainnet", path);
    if (get_u64(o, "genesis_time_ms", &tmp->genesis_time_ms) < 0)
        FAIL("%s: genesis_time_ms: expected a non-negative integer", path);
    const json_t *when = json_object_get(o, "genesis_time");
    char want[48];
    iso8601(want, tmp->genesis_time_ms);
    if (when && (!json_is_string(when) || strcmp(json_string_value(when), want) != 0))
        FAIL("%s: genesis_time: expected \"%s\" (it must agree with genesis_time_ms)", path, want);
    uint64_t pv;
    if (get_u64(o, "protocol_version", &pv) < 0 || pv == 0 || pv > UINT32_MAX)
        FAIL("%s: protocol_version: expected a positive integer", path);
    tmp->protocol_version = (uint32_t)pv;

    const json_t *arr = json_object_get(o, "validators");
    if (!json_is_array(arr) || json_array_size(arr) == 0 ||
        json_array_size(arr) > GENESIS_MAX_VALIDATORS)
        FAIL("%s: validators: expected 1 to %d entries", path, GENESIS_MAX_VALIDATORS);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *v = json_array_get(arr, i);
        genesis_validator_t *gv = &tmp->validators[i];
        if (get_key(v, "public_key", gv->pk) < 0 || get_u64(v, "power", &gv->power) < 0 ||
            gv->power == 0 || gv->power > GENESIS_MAX_POWER ||
            get_str(v, "name", gv->name, sizeof(gv->name)) < 0)
            FAIL("%s: validators[%zu]: expected name, public_key (64 hex digits), power from 1 "
                 "to 2^53", path, i);
        for (size_t j = 0; j < i; j++)
            if (memcmp(tmp->validators[j].pk, gv->pk, BLOCK_KEY_LEN) == 0)
                FAIL("%s: validators[%zu]: duplicate public_key", path, i);
    }
    tmp->n_validators = json_array_size(arr);

    arr = json_object_get(o, "governors");
    if (!json_is_array(arr) || json_array_size(arr) > GENESIS_MAX_GOVERNORS)
        FAIL("%s: governors: expected at most %d entries", path, GENESIS_MAX_GOVERNORS);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        if (get_key(json_array_get(arr, i), "public_key", tmp->governors[i]) < 0)
            FAIL("%s: governors[%zu]: expected public_key (64 hex digits)", path, i);
        for (size_t j = 0; j < i; j++)
            if (memcmp(tmp->governors[j], tmp->governors[i], BLOCK_KEY_LEN) == 0)
                FAIL("%s: governors[%zu]: duplicate public_key", path, i);
    }
    tmp->n_governors = json_array_size(arr);

    arr = json_object_get(o, "balances");
    if (!json_is_array(arr) || json_array_size(arr) > GENESIS_MAX_BALANCES)
        FAIL("%s: balances: expected at most %d entries", path, GENESIS_MAX_BALANCES);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *v = json_array_get(arr, i);
        genesis_balance_t *b = &tmp->balances[i];
        if (get_key(v, "owner", b->owner) < 0 ||
            get_str(v, "asset", b->asset, sizeof(b->asset)) < 0 ||
            get_u64(v, "amount", &b->amount) < 0)
            FAIL("%s: balances[%zu]: expected owner (64 hex digits), asset, amount", path, i);
        if (!tx_asset_is_valid(b->asset))
            FAIL("%s: balances[%zu]: asset \"%s\": expected 1 to %d of A-Z 0-9 -", path, i,
                 b->asset, TX_ASSET_MAX);
        for (size_t j = 0; j < i; j++)
            if (memcmp(tmp->balances[j].owner, b->owner, BLOCK_KEY_LEN) == 0 &&
                strcmp(tmp->balances[j].asset, b->asset) == 0)
                FAIL("%s: balances[%zu]: duplicate owner and asset (merge them)", path, i);
    }
    tmp->n_balances = json_array_size(arr);

    genesis_params_default(tmp);
    const json_t *params = json_object_get(o, "params");
    if (params) {
        if (!json_is_object(params))
            FAIL("%s: params: expected an object", path);
        if (json_object_get(params, "min_fee") && get_u64(params, "min_fee", &tmp->min_fee) < 0)
            FAIL("%s: params.min_fee: expected a non-negative integer", path);
        if (json_object_get(params, "fee_asset") &&
            get_str(params, "fee_asset", tmp->fee_asset, sizeof(tmp->fee_asset)) < 0)
            FAIL("%s: params.fee_asset: expected 1 to %d bytes", path, GENESIS_ASSET_MAX);
        if (!tx_asset_is_valid(tmp->fee_asset))
            FAIL("%s: params.fee_asset: expected 1 to %d of A-Z 0-9 -", path, TX_ASSET_MAX);
        if (json_object_get(params, "unbonding_blocks") &&
            get_u64(params, "unbonding_blocks", &tmp->unbonding_blocks) < 0)
            FAIL("%s: params.unbonding_blocks: expected a non-negative integer", path);
        if (json_object_get(params, "minter")) {
            if (get_key(params, "minter", tmp->minter) < 0)
                FAIL("%s: params.minter: expected 64 hex digits", path);
            tmp->has_minter = 1;
        }
    }
    const json_t *peer = json_object_get(o, "alpha_genesis_hash");
    if (peer) {
        if (!json_is_string(peer) ||
            hex_decode(tmp->peer_genesis_hash, BLOCK_HASH_LEN, json_string_value(peer)) < 0)
            FAIL("%s: alpha_genesis_hash: expected 64 hex digits", path);
        tmp->has_peer_genesis = 1;
    }
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
