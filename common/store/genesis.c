/* Genesis files: loading, checking, the canonical hash, saving, and the
 * balances read one at a time (inline, or from a balances file); see
 * genesis.h. */
#include "common/store/genesis.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/base/fsutil.h"
#include "common/base/hex.h"
#include "proto/tx.h"

/* Longest canonical balance line, without its newline:
 * {"amount":<19 digits>,"asset":"<16>","owner":"<64>"} */
#define LINE_CANON_MAX 160
/* Longest line genesis_balances_import reads (an operator's spacing included). */
#define IMPORT_LINE_MAX 4096

/* ---- canonical JSON and the hash ---------------------------------------- */

/* {"owner", "asset", "amount"} of b, or NULL (out of memory, or an asset
 * JSON cannot carry). */
static json_t *balance_json(const genesis_balance_t *b)
{
    char hex[2 * BLOCK_KEY_LEN + 1];
    hex_encode(hex, b->owner, BLOCK_KEY_LEN);
    return json_pack("{s:s, s:s, s:I}", "owner", hex, "asset", b->asset, "amount",
                     (json_int_t)b->amount);
}

/* Append v (its reference taken) to arr; return arr, or NULL when either
 * is NULL or the append fails (arr is then dropped). */
static json_t *append_or_drop(json_t *arr, json_t *v)
{
    if (arr && v && json_array_append_new(arr, v) == 0)
        return arr;
    json_decref(arr);
    if (!arr)
        json_decref(v);
    return NULL;
}

/* The n balances of b as a JSON array, or NULL (out of memory, or an
 * amount or asset JSON cannot carry). */
static json_t *balances_json(const genesis_balance_t *b, uint64_t n)
{
    json_t *arr = json_array();
    for (uint64_t i = 0; arr && i < n; i++)
        arr = append_or_drop(arr, b[i].amount > INT64_MAX ? NULL : balance_json(&b[i]));
    return arr;
}

static json_t *validators_json(const genesis_t *g)
{
    char hex[2 * BLOCK_KEY_LEN + 1];
    json_t *vals = json_array();
    for (size_t i = 0; vals && i < g->n_validators; i++) {
        hex_encode(hex, g->validators[i].pk, BLOCK_KEY_LEN);
        vals = append_or_drop(vals, json_pack("{s:s, s:s, s:I}", "name", g->validators[i].name,
                                              "public_key", hex, "power",
                                              (json_int_t)g->validators[i].power));
    }
    return vals;
}

static json_t *governors_json(const genesis_t *g)
{
    char hex[2 * BLOCK_KEY_LEN + 1];
    json_t *govs = json_array();
    for (size_t i = 0; govs && i < g->n_governors; i++) {
        hex_encode(hex, g->governors[i], BLOCK_KEY_LEN);
        govs = append_or_drop(govs, json_pack("{s:s}", "public_key", hex));
    }
    return govs;
}

static json_t *programs_json(const genesis_t *g)
{
    json_t *progs = json_array();
    for (size_t i = 0; progs && i < g->n_programs; i++)
        progs = append_or_drop(progs, json_pack("{s:s, s:o?}", "policy", g->programs[i].policy,
                                                "program",
                                                json_loads(g->programs[i].json, 0, NULL)));
    return progs;
}

static json_t *params_json(const genesis_t *g)
{
    json_t *params = json_object();
    int bad = !params;
    if (params) {
        bad |= json_object_set_new(params, "min_fee", json_integer((json_int_t)g->min_fee));
        bad |= json_object_set_new(params, "fee_asset", json_string(g->fee_asset));
    }
    for (size_t i = 0; !bad && i < g->n_params; i++)
        bad |= json_object_set_new(params, g->params[i].key,
                                   json_loads(g->params[i].value, JSON_DECODE_ANY, NULL));
    if (bad) {
        json_decref(params);
        return NULL;
    }
    return params;
}

/* "balances_file": {"count", "hash", "path"}. */
static json_t *balances_file_json(const genesis_t *g)
{
    char hex[2 * BLOCK_HASH_LEN + 1];
    hex_encode(hex, g->balances_hash, BLOCK_HASH_LEN);
    return json_pack("{s:s, s:I, s:s}", "path", g->balances_file, "count",
                     (json_int_t)g->n_balances, "hash", hex);
}

/* The genesis as JSON, fields in the order a saved file shows them. bals
 * is the inline "balances" array (a reference is taken), or NULL when g
 * names a balances file. NULL if out of memory. */
static json_t *genesis_to_json(const genesis_t *g, json_t *bals)
{
    char hex[2 * BLOCK_HASH_LEN + 1], when[CLOCK_ISO8601_MAX];
    json_t *o = json_object();
    int bad = !o;

    if (bad)
        return NULL;
    clock_iso8601(when, g->genesis_time_ms);
    bad |= json_object_set_new(o, "chain_id", json_string(g->chain_id));
    bad |= json_object_set_new(o, "chain", json_string(g->chain));
    bad |= json_object_set_new(o, "network", json_string(g->network));
    bad |= json_object_set_new(o, "genesis_time", json_string(when));
    bad |= json_object_set_new(o, "genesis_time_ms", json_integer((json_int_t)g->genesis_time_ms));
    bad |= json_object_set_new(o, "protocol_version", json_integer(g->protocol_version));
    bad |= json_object_set_new(o, "params", params_json(g));
    bad |= json_object_set_new(o, "validators", validators_json(g));
    bad |= json_object_set_new(o, "governors", governors_json(g));
    if (g->has_governance)
        bad |= json_object_set_new(o, "governance",
                                   json_pack("{s:I, s:I}", "threshold_bps",
                                             (json_int_t)g->gov_threshold_bps, "voting_period",
                                             (json_int_t)g->gov_voting_period));
    if (g->n_programs)
        bad |= json_object_set_new(o, "programs", programs_json(g));
    if (bals)
        bad |= json_object_set(o, "balances", bals);
    else
        bad |= json_object_set_new(o, "balances_file", balances_file_json(g));
    if (g->has_peer_genesis) {
        char key[GENESIS_CHAIN_MAX + sizeof("_genesis_hash")];
        snprintf(key, sizeof(key), "%s_genesis_hash", g->peer_chain);
        hex_encode(hex, g->peer_genesis_hash, BLOCK_HASH_LEN);
        bad |= json_object_set_new(o, key, json_string(hex));
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* BLAKE2b-256("adnet/genesis/v1" || canonical JSON) into out; bals as for
 * genesis_to_json. 0 or -ENOMEM. */
static int genesis_compute_hash(const genesis_t *g, json_t *bals, uint8_t out[BLOCK_HASH_LEN])
{
    json_t *o = genesis_to_json(g, bals);
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
    g->gov_threshold_bps = GENESIS_THRESHOLD_BPS_DEFAULT;
    g->gov_voting_period = GENESIS_VOTING_PERIOD_DEFAULT;
}

/* ---- loading -------------------------------------------------------------- */

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
    char *err;      /* errlen bytes */
    size_t errlen;
} load_ctx_t;

static void vappend(char *err, size_t errlen, int n, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* Write the message after the n bytes of prefix already in err[errlen]
 * (nothing if the prefix did not fit). */
static void vappend(char *err, size_t errlen, int n, const char *fmt, va_list ap)
{
    if (n >= 0 && (size_t)n < errlen)
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
}

static int fail(const load_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Write "<path>: <message>" to c->err; return -EINVAL. */
static int fail(const load_ctx_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vappend(c->err, c->errlen, snprintf(c->err, c->errlen, "%s: ", c->path), fmt, ap);
    va_end(ap);
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

/* "governance": {"threshold_bps": 1..10000, "voting_period": 1..10^7},
 * both optional inside it; the whole object optional. */
static int load_governance(const load_ctx_t *c, const json_t *o, genesis_t *g)
{
    const json_t *gov = json_object_get(o, "governance"), *v;
    const char *key;
    g->has_governance = gov != NULL;
    g->gov_threshold_bps = GENESIS_THRESHOLD_BPS_DEFAULT;
    g->gov_voting_period = GENESIS_VOTING_PERIOD_DEFAULT;
    if (!gov)
        return 0;
    if (!json_is_object(gov))
        return fail(c, "governance: expected an object {threshold_bps, voting_period}");
    json_object_foreach((json_t *)gov, key, v) {
        if (strcmp(key, "threshold_bps") != 0 && strcmp(key, "voting_period") != 0)
            return fail(c, "governance.%s: unknown key; expected threshold_bps or voting_period",
                        key);
    }
    if ((v = json_object_get(gov, "threshold_bps"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 10000)
            return fail(c, "governance.threshold_bps: expected an integer 1..10000 "
                        "(basis points of the governors, 6700 = 67%%)");
        g->gov_threshold_bps = (uint32_t)json_integer_value(v);
    }
    if ((v = json_object_get(gov, "voting_period"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > 10000000)
            return fail(c, "governance.voting_period: expected an integer 1..10000000 (blocks)");
        g->gov_voting_period = (uint64_t)json_integer_value(v);
    }
    return 0;
}

/* "programs": [{"policy": "...", "program": {...}}], at most
 * GENESIS_MAX_PROGRAMS; the program itself is checked when the chain opens. */
static int load_programs(const load_ctx_t *c, const json_t *o, genesis_t *g)
{
    const json_t *arr = json_object_get(o, "programs");
    g->n_programs = 0;
    if (!arr)
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) > GENESIS_MAX_PROGRAMS)
        return fail(c, "programs: expected an array of at most %d entries", GENESIS_MAX_PROGRAMS);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *e = json_array_get(arr, i), *pol = json_object_get(e, "policy"),
                     *prog = json_object_get(e, "program");
        if (!json_is_object(e) || json_object_size(e) != 2 || !json_is_string(pol) ||
            !json_is_object(prog) || json_string_length(pol) > GENESIS_POLICY_MAX)
            return fail(c, "programs[%zu]: expected {\"policy\": \"immutable\"|\"additive\"|"
                        "\"compatible\", \"program\": {a program file}}", i);
        char *text = json_dumps(prog, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!text || strlen(text) >= GENESIS_PROGRAM_JSON_MAX) {
            free(text);
            return fail(c, "programs[%zu]: program larger than %d bytes of JSON", i,
                        GENESIS_PROGRAM_JSON_MAX - 1);
        }
        snprintf(g->programs[i].policy, sizeof(g->programs[i].policy), "%s",
                 json_string_value(pol));
        snprintf(g->programs[i].json, sizeof(g->programs[i].json), "%s", text);
        free(text);
    }
    g->n_programs = json_array_size(arr);
    return 0;
}

static int same_owner_asset(const genesis_balance_t *a, const genesis_balance_t *b)
{
    return memcmp(a->owner, b->owner, BLOCK_KEY_LEN) == 0 && strcmp(a->asset, b->asset) == 0;
}

/* Decode the inline balance i (list[0..i-1] decoded before it), and
 * append its canonical object to out. */
static int load_balance(const load_ctx_t *c, const json_t *v, genesis_balance_t *list, size_t i,
                        json_t *out)
{
    genesis_balance_t *b = &list[i];
    if (get_key(v, "owner", b->owner) < 0 || get_str(v, "asset", b->asset, sizeof(b->asset)) < 0 ||
        get_u64(v, "amount", &b->amount) < 0)
        return fail(c, "balances[%zu]: expected owner (64 hex digits), asset, amount", i);
    if (!tx_asset_is_valid(b->asset))
        return fail(c, "balances[%zu]: asset \"%s\": expected 1 to %d of A-Z 0-9 -", i, b->asset,
                    TX_ASSET_MAX);
    for (size_t j = 0; j < i; j++)
        if (same_owner_asset(&list[j], b))
            return fail(c, "balances[%zu]: duplicate owner and asset (merge them)", i);
    if (json_array_append_new(out, balance_json(b)) < 0) {
        fail(c, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

/* The inline "balances": checked, counted, and handed back in *bals as
 * canonical objects (for the hash). */
static int load_balances(const load_ctx_t *c, const json_t *o, genesis_t *g, json_t **bals)
{
    const json_t *arr = json_object_get(o, "balances");
    size_t n = json_array_size(arr);
    genesis_balance_t *list = NULL;
    json_t *out = NULL;
    int r = 0;

    if (!json_is_array(arr) || n > GENESIS_MAX_INLINE_BALANCES)
        return fail(c, "balances: expected at most %d entries (name a balances_file for more)",
                    GENESIS_MAX_INLINE_BALANCES);
    if (!(list = calloc(n ? n : 1, sizeof(*list))) || !(out = json_array())) {
        fail(c, "out of memory");
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; r == 0 && i < n; i++)
        r = load_balance(c, json_array_get(arr, i), list, i, out);
    if (r == 0) {
        g->n_balances = n;
        *bals = out;
        out = NULL;
    }
out:
    free(list);
    json_decref(out);
    return r;
}

/* A balances file is named by a plain name beside genesis.json. */
static int file_name_is_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > GENESIS_FILE_NAME_MAX || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || strchr("._-", s[i])))
            return 0;
    return 1;
}

/* "balances_file": {"path", "count", "hash"}, instead of "balances". */
static int load_balances_file(const load_ctx_t *c, const json_t *o, genesis_t *g)
{
    const json_t *f = json_object_get(o, "balances_file");
    if (json_object_get(o, "balances"))
        return fail(c, "balances_file: expected either balances or balances_file, not both");
    if (!json_is_object(f) || json_object_size(f) != 3 ||
        get_str(f, "path", g->balances_file, sizeof(g->balances_file)) < 0 ||
        !file_name_is_valid(g->balances_file) || get_u64(f, "count", &g->n_balances) < 0 ||
        get_key(f, "hash", g->balances_hash) < 0)
        return fail(c, "balances_file: expected {\"path\": a file name beside the genesis "
                    "(1 to %d of A-Z a-z 0-9 . _ -), \"count\": its number of lines, "
                    "\"hash\": its BLAKE2b-256 as 64 hex digits}", GENESIS_FILE_NAME_MAX);
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

/* Read and check the genesis at path into *g (written even on failure:
 * pass a scratch copy), g->path included; if bals is non-NULL, hand over
 * its inline balances as canonical objects (NULL for a balances file). */
static int load_doc(genesis_t *g, const char *path, const char *chain, json_t **bals, char *err,
                    size_t errlen)
{
    int r;
    char *text = NULL;
    json_t *o = NULL, *inl = NULL;
    json_error_t jerr;
    load_ctx_t c = { path, err, errlen };

    if (strlen(path) >= sizeof(g->path)) {
        fail(&c, "path too long");
        return -ENAMETOOLONG;
    }
    if ((r = fs_read_file(path, 16 * 1024 * 1024, &text, NULL)) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(-r));
        goto out;
    }
    if (!(o = json_loads(text, 0, &jerr))) {
        snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        r = -EINVAL;
        goto out;
    }
    if (!json_is_object(o)) {
        r = fail(&c, "expected a JSON object");
        goto out;
    }
    if ((r = load_header(&c, o, g, chain)) < 0 || (r = load_validators(&c, o, g)) < 0 ||
        (r = load_governors(&c, o, g)) < 0 || (r = load_governance(&c, o, g)) < 0 ||
        (r = load_programs(&c, o, g)) < 0 ||
        (r = json_object_get(o, "balances_file") ? load_balances_file(&c, o, g)
                                                 : load_balances(&c, o, g, &inl)) < 0 ||
        (r = load_params(&c, o, g)) < 0 || (r = load_peer(&c, o, g)) < 0)
        goto out;
    if ((r = genesis_compute_hash(g, inl, g->hash)) < 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    snprintf(g->path, sizeof(g->path), "%s", path);
    g->balances = NULL;
    if (bals) {
        *bals = inl;
        inl = NULL;
    }
out:
    json_decref(inl);
    json_decref(o);
    free(text);
    return r;
}

int genesis_load(genesis_t *g, const char *path, const char *chain, char err[GENESIS_ERR_MAX])
{
    genesis_t *tmp = calloc(1, sizeof(*tmp));
    int r;
    if (!tmp)
        return -ENOMEM;
    if ((r = load_doc(tmp, path, chain, NULL, err, GENESIS_ERR_MAX)) == 0)
        memcpy(g, tmp, sizeof(*g));
    free(tmp);
    return r;
}

/* ---- saving --------------------------------------------------------------- */

/* g's inline balances as canonical JSON into *out: from g->balances, or
 * read again from g->path (a loaded genesis keeps them on disk). */
static int inline_json(const genesis_t *g, json_t **out)
{
    char err[GENESIS_ERR_MAX];
    json_t *bals = NULL;
    genesis_t *tmp = NULL;
    int r = -EINVAL;

    if (g->n_balances > GENESIS_MAX_INLINE_BALANCES || (!g->balances && g->n_balances > 0 &&
                                                        !g->path[0]))
        return -EINVAL;
    if (g->balances || g->n_balances == 0) {
        bals = balances_json(g->balances, g->n_balances);
        r = bals ? 0 : -EINVAL;
    } else if (!(tmp = calloc(1, sizeof(*tmp)))) {
        r = -ENOMEM;
    } else if ((r = load_doc(tmp, g->path, NULL, &bals, err, sizeof(err))) == 0 &&
               (!bals || tmp->n_balances != g->n_balances)) {
        r = -EINVAL; /* the file now holds other balances than g counts */
    }
    if (r == 0) {
        *out = bals;
        bals = NULL;
    }
    json_decref(bals);
    free(tmp);
    return r;
}

/* Write o as indented JSON with a final newline to path. */
static int write_json(const json_t *o, const char *path, int overwrite)
{
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
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
    int r = fs_write_file(path, withnl, len + 1, 0644, overwrite != 0);
    free(withnl);
    return r;
}

int genesis_save(genesis_t *g, const char *path, int overwrite)
{
    char when[CLOCK_ISO8601_MAX];
    json_t *bals = NULL, *o = NULL;
    int r = -EINVAL;

    /* JSON integers are signed 64-bit: refuse what would not load back. */
    if (g->min_fee > INT64_MAX || !g->fee_asset[0] || g->genesis_time_ms > INT64_MAX ||
        clock_iso8601(when, g->genesis_time_ms) < 0)
        return -EINVAL;
    if (strlen(path) >= sizeof(g->path))
        return -ENAMETOOLONG;
    if (g->balances_file[0]) {
        if (!file_name_is_valid(g->balances_file) || g->n_balances > INT64_MAX)
            goto out;
    } else if ((r = inline_json(g, &bals)) < 0) {
        goto out;
    }
    if ((r = genesis_compute_hash(g, bals, g->hash)) < 0)
        goto out;
    if (!(o = genesis_to_json(g, bals))) {
        r = -ENOMEM;
        goto out;
    }
    if ((r = write_json(o, path, overwrite)) == 0)
        snprintf(g->path, sizeof(g->path), "%s", path);
out:
    json_decref(o);
    json_decref(bals);
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

/* ---- per-asset totals ------------------------------------------------------ */

typedef struct {
    genesis_totals_t t;
    size_t cap;
    size_t last;  /* index of the asset added last: balances come in runs of one asset */
} tally_t;

void genesis_totals_free(genesis_totals_t *t)
{
    if (!t)
        return;
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

/* Add amount to asset's total (the asset is valid). Return 0, -EOVERFLOW
 * (the total would pass 2^63-1), -E2BIG (more than GENESIS_MAX_ASSETS
 * assets) or -ENOMEM. */
static int tally_add(tally_t *y, const char *asset, uint64_t amount)
{
    size_t lo = 0, hi = y->t.n;
    genesis_total_t *v = y->t.v;

    if (y->last < y->t.n && strcmp(v[y->last].asset, asset) == 0) {
        lo = y->last;
    } else {
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = strcmp(v[mid].asset, asset);
            if (c == 0) {
                lo = mid;
                break;
            }
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    if (lo == y->t.n || strcmp(v[lo].asset, asset) != 0) {
        if (y->t.n == GENESIS_MAX_ASSETS)
            return -E2BIG;
        if (y->t.n == y->cap) {
            size_t cap = y->cap ? 2 * y->cap : 8;
            if (!(v = realloc(y->t.v, cap * sizeof(*v))))
                return -ENOMEM;
            y->t.v = v;
            y->cap = cap;
        }
        memmove(&v[lo + 1], &v[lo], (y->t.n - lo) * sizeof(*v));
        memset(&v[lo], 0, sizeof(*v));
        snprintf(v[lo].asset, sizeof(v[lo].asset), "%s", asset);
        y->t.n++;
    }
    if (amount > INT64_MAX - v[lo].amount)
        return -EOVERFLOW;
    v[lo].amount += amount;
    v[lo].count++;
    y->last = lo;
    return 0;
}

/* ---- canonical balance lines ----------------------------------------------- */

int genesis_balance_cmp(const genesis_balance_t *a, const genesis_balance_t *b)
{
    int c = memcmp(a->owner, b->owner, BLOCK_KEY_LEN);
    return c ? c : strcmp(a->asset, b->asset);
}

/* b's canonical line without its newline into out; return its length.
 * The same bytes as jansson's compact, key-sorted dump of balance_json. */
static size_t line_format(char out[LINE_CANON_MAX], const genesis_balance_t *b)
{
    char hex[2 * BLOCK_KEY_LEN + 1];
    hex_encode(hex, b->owner, BLOCK_KEY_LEN);
    int n = snprintf(out, LINE_CANON_MAX, "{\"amount\":%llu,\"asset\":\"%s\",\"owner\":\"%s\"}",
                     (unsigned long long)b->amount, b->asset, hex);
    return n < 0 ? 0 : (size_t)n;
}

/* Consume the literal lit at *p (before end); 1 if it was there. */
static int eat(const char **p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
        return 0;
    *p += n;
    return 1;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Parse a canonical line (s[n], no newline) exactly: an amount of 1 to
 * 2^63-1 without leading zeros, an asset of 1 to 16 bytes up to the quote
 * (its characters are checked later), 64 lowercase hex digits. 0 and *b,
 * or -EINVAL (then line_diagnose says what is wrong). */
static int line_parse(const char *s, size_t n, genesis_balance_t *b)
{
    const char *p = s, *end = s + n, *a;
    uint64_t v = 0;
    size_t k = 0;

    if (!eat(&p, end, "{\"amount\":") || p == end || *p == '0')
        return -EINVAL;
    for (; p < end && *p >= '0' && *p <= '9'; p++, k++) {
        if (v > (INT64_MAX - (uint64_t)(*p - '0')) / 10)
            return -EINVAL;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (k == 0 || !eat(&p, end, ",\"asset\":\""))
        return -EINVAL;
    for (a = p; p < end && *p != '"'; p++)
        ;
    if (p == a || p - a > GENESIS_ASSET_MAX)
        return -EINVAL;
    memcpy(b->asset, a, (size_t)(p - a));
    b->asset[p - a] = '\0';
    if (!eat(&p, end, "\",\"owner\":\"") || end - p != 2 * BLOCK_KEY_LEN + 2)
        return -EINVAL;
    for (size_t i = 0; i < BLOCK_KEY_LEN; i++) {
        int hi = hex_digit(p[2 * i]), lo = hex_digit(p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        b->owner[i] = (uint8_t)(hi << 4 | lo);
    }
    p += 2 * BLOCK_KEY_LEN;
    if (!eat(&p, end, "\"}"))
        return -EINVAL;
    b->amount = v;
    return 0;
}

/* Decode a balance object as an operator writes it: exactly "owner" (64
 * hex digits), "asset" (1..16 of A-Z 0-9 -) and "amount" (1..2^63-1).
 * 0 and *b, or -EINVAL with what was expected in *why. */
static int balance_from_line_json(const json_t *o, genesis_balance_t *b, const char **why)
{
    if (!json_is_object(o))
        *why = "a JSON object {\"owner\": ..., \"asset\": ..., \"amount\": ...}";
    else if (json_object_size(o) != 3)
        *why = "exactly the keys owner, asset and amount";
    else if (get_key(o, "owner", b->owner) < 0)
        *why = "owner: 64 hex digits";
    else if (get_str(o, "asset", b->asset, sizeof(b->asset)) < 0 || !tx_asset_is_valid(b->asset))
        *why = "asset: 1 to 16 of A-Z 0-9 -";
    else if (get_u64(o, "amount", &b->amount) < 0 || b->amount == 0)
        *why = "amount: an integer from 1 to 2^63-1";
    else
        return 0;
    return -EINVAL;
}


/* ---- reading the balances, one at a time -------------------------------------- */

#define NO_PLACE UINT64_MAX          /* a message about the whole file, not one balance */
#define ADDED_PLACE (UINT64_MAX - 1) /* a balance given beside the file (import) */

/* Where messages about balances go, and how they name a balance. */
typedef struct {
    const char *file;        /* the file messages name */
    int by_line;             /* balance i is file:<i + 1>; else file: balances[i] */
    char *err;
    size_t errlen;
} place_t;

static int place_fail(const place_t *p, uint64_t index, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Write "<file>:<line>: ", "<file>: balances[<index>]: ", "<file>: an
 * added balance: " or "<file>: " (index NO_PLACE), then the message, to
 * p->err; return code. */
static int place_fail(const place_t *p, uint64_t index, int code, const char *fmt, ...)
{
    va_list ap;
    unsigned long long i = (unsigned long long)index;
    int n = index == NO_PLACE      ? snprintf(p->err, p->errlen, "%s: ", p->file)
            : index == ADDED_PLACE ? snprintf(p->err, p->errlen, "%s: an added balance: ", p->file)
            : p->by_line           ? snprintf(p->err, p->errlen, "%s:%llu: ", p->file, i + 1)
                                   : snprintf(p->err, p->errlen, "%s: balances[%llu]: ", p->file, i);
    va_start(ap, fmt);
    vappend(p->err, p->errlen, n, fmt, ap);
    va_end(ap);
    return code;
}

typedef struct {
    const genesis_t *g;
    genesis_balance_fn fn;
    void *ctx;
    const genesis_progress_t *progress;
    tally_t tally;
    place_t at;              /* by line in a balances file */
    uint64_t min_amount;     /* 1 in a balances file, 0 inline */
} walk_t;

/* Check balance index, add it to the totals, hand it to fn, report progress. */
static int walk_visit(walk_t *w, uint64_t index, const genesis_balance_t *b)
{
    char msg[GENESIS_ERR_MAX];
    int r;

    if (!tx_asset_is_valid(b->asset))
        return place_fail(&w->at, index, -EINVAL, "asset \"%s\": expected 1 to %d of A-Z 0-9 -", b->asset,
                         TX_ASSET_MAX);
    if (b->amount < w->min_amount || b->amount > INT64_MAX)
        return place_fail(&w->at, index, -EINVAL, "amount %llu: expected %llu to 2^63-1",
                         (unsigned long long)b->amount, (unsigned long long)w->min_amount);
    if ((r = tally_add(&w->tally, b->asset, b->amount)) == -EOVERFLOW)
        return place_fail(&w->at, index, -EINVAL, "balances of %s add up to more than 2^63-1", b->asset);
    if (r == -E2BIG)
        return place_fail(&w->at, index, -EINVAL, "more than %d distinct assets", GENESIS_MAX_ASSETS);
    if (r < 0)
        return place_fail(&w->at, index, r, "out of memory");
    msg[0] = '\0';
    if ((r = w->fn(w->ctx, index, b, msg, sizeof(msg))) == -EEXIST && !msg[0])
        return place_fail(&w->at, index, -EINVAL, "duplicate owner and asset (merge them)");
    if (r < 0)
        return place_fail(&w->at, index, r, "%s", msg);
    if (w->progress && (index + 1) % GENESIS_PROGRESS_EVERY == 0)
        w->progress->fn(w->progress->ctx, index + 1, w->g->n_balances);
    return 0;
}

/* The balances of a genesis built in memory. */
static int walk_memory(walk_t *w)
{
    const genesis_balance_t *b = w->g->balances;
    uint64_t n = w->g->n_balances;
    int r = 0;

    if (n > GENESIS_MAX_INLINE_BALANCES)
        return place_fail(&w->at, NO_PLACE, -EINVAL, "%llu inline balances: expected at most %d",
                         (unsigned long long)n, GENESIS_MAX_INLINE_BALANCES);
    for (uint64_t i = 0; r == 0 && i < n; i++) {
        for (uint64_t j = 0; j < i; j++)
            if (same_owner_asset(&b[j], &b[i]))
                return place_fail(&w->at, i, -EINVAL, "duplicate owner and asset (merge them)");
        r = walk_visit(w, i, &b[i]);
    }
    return r;
}

/* The inline balances of a loaded genesis, read again from its file. */
static int walk_inline(walk_t *w)
{
    char hex[2 * BLOCK_HASH_LEN + 1];
    json_t *bals = NULL;
    genesis_t *tmp = calloc(1, sizeof(*tmp));
    int r;

    if (!tmp)
        return place_fail(&w->at, NO_PLACE, -ENOMEM, "out of memory");
    r = load_doc(tmp, w->g->path, w->g->chain[0] ? w->g->chain : NULL, &bals, w->at.err,
                 w->at.errlen);
    if (r == 0 && (!bals || memcmp(tmp->hash, w->g->hash, BLOCK_HASH_LEN) != 0)) {
        hex_encode(hex, w->g->hash, BLOCK_HASH_LEN);
        r = place_fail(&w->at, NO_PLACE, -EINVAL, "changed since it was loaded (its hash is no longer "
                      "%.16s...)", hex);
    }
    for (size_t i = 0; r == 0 && i < json_array_size(bals); i++) {
        const json_t *v = json_array_get(bals, i);
        genesis_balance_t b;
        memset(&b, 0, sizeof(b));
        /* Checked by load_doc: these cannot fail. */
        get_key(v, "owner", b.owner);
        get_str(v, "asset", b.asset, sizeof(b.asset));
        get_u64(v, "amount", &b.amount);
        r = walk_visit(w, i, &b);
    }
    json_decref(bals);
    free(tmp);
    return r;
}

/* Say why line index (s[n], no newline) is not a canonical balance line.
 * Return -EINVAL. */
static int line_diagnose(const walk_t *w, uint64_t index, const char *s, size_t n)
{
    char canon[LINE_CANON_MAX];
    json_error_t je;
    genesis_balance_t b;
    const char *why = NULL;
    json_t *o = json_loadb(s, n, 0, &je);
    int r;

    memset(&b, 0, sizeof(b));
    if (!o) {
        r = place_fail(&w->at, index, -EINVAL, "expected a JSON object (column %d: %s)", je.column,
                      je.text);
    } else if (balance_from_line_json(o, &b, &why) < 0) {
        r = place_fail(&w->at, index, -EINVAL, "expected %s", why);
    } else {
        line_format(canon, &b);
        r = place_fail(&w->at, index, -EINVAL, "expected the canonical line %s (compact, keys sorted, "
                      "lowercase hex; adnet init --balances writes it)", canon);
    }
    json_decref(o);
    return r;
}

/* Line index of a balances file (s[n], its newline included): within the
 * count, complete, canonical, and after prev (NULL for the first line) in
 * canonical order. Fill *b. */
static int walk_line(const walk_t *w, uint64_t index, const char *s, size_t n,
                     const genesis_balance_t *prev, genesis_balance_t *b)
{
    int c;
    if (index >= w->g->n_balances)
        return place_fail(&w->at, index, -EINVAL, "more lines than balances_file.count (%llu)",
                         (unsigned long long)w->g->n_balances);
    if (n == 0 || s[n - 1] != '\n')
        return place_fail(&w->at, index, -EINVAL, "expected a line of at most %d bytes ending in a "
                         "newline", LINE_CANON_MAX);
    if (line_parse(s, n - 1, b) < 0)
        return line_diagnose(w, index, s, n - 1);
    if (prev && (c = genesis_balance_cmp(prev, b)) >= 0)
        return place_fail(&w->at, index, -EINVAL, "%s",
                         c == 0 ? "duplicate owner and asset: the line before holds the same "
                                  "(merge them)"
                                : "expected lines sorted by owner, then asset: this line sorts "
                                  "before the one above (adnet init --balances sorts them)");
    return 0;
}

/* After the last line: the count and the hash genesis.json names. */
static int walk_file_end(const walk_t *w, uint64_t lines, crypto_generichash_state *hs)
{
    uint8_t got[BLOCK_HASH_LEN];
    char have[2 * BLOCK_HASH_LEN + 1], want[2 * BLOCK_HASH_LEN + 1];

    crypto_generichash_final(hs, got, BLOCK_HASH_LEN);
    if (lines != w->g->n_balances)
        return place_fail(&w->at, NO_PLACE, -EINVAL, "%llu lines, but balances_file.count is %llu",
                         (unsigned long long)lines, (unsigned long long)w->g->n_balances);
    if (memcmp(got, w->g->balances_hash, BLOCK_HASH_LEN) != 0) {
        hex_encode(have, got, BLOCK_HASH_LEN);
        hex_encode(want, w->g->balances_hash, BLOCK_HASH_LEN);
        return place_fail(&w->at, NO_PLACE, -EINVAL, "BLAKE2b-256 is %s, but balances_file.hash is %s "
                         "(the file was changed, or the genesis names another)", have, want);
    }
    return 0;
}

/* The lines of the balances file beside g->path, one in memory at a time. */
static int walk_file(walk_t *w, const char *path)
{
    char line[LINE_CANON_MAX + 2];
    crypto_generichash_state hs;
    genesis_balance_t prev, cur;
    uint64_t i = 0;
    int r = 0;
    FILE *f = fopen(path, "re");

    w->at.file = path;
    if (!f) {
        int e = errno;
        return place_fail(&w->at, NO_PLACE, -e, "%s", strerror(e));
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    crypto_generichash_init(&hs, NULL, 0, BLOCK_HASH_LEN);
    memset(&prev, 0, sizeof(prev));
    while (r == 0 && fgets(line, sizeof(line), f)) {
        size_t n = strlen(line); /* a NUL byte shortens it: then no newline ends it */
        crypto_generichash_update(&hs, (const unsigned char *)line, n);
        if ((r = walk_line(w, i, line, n, i ? &prev : NULL, &cur)) == 0 &&
            (r = walk_visit(w, i, &cur)) == 0) {
            prev = cur;
            i++;
        }
    }
    if (r == 0 && ferror(f))
        r = place_fail(&w->at, NO_PLACE, -EIO, "read error");
    if (r == 0)
        r = walk_file_end(w, i, &hs);
    fclose(f);
    return r;
}

/* The path of g's balances file, beside g->path, into out[cap]. */
static int balances_path(const genesis_t *g, char *out, size_t cap)
{
    const char *slash = strrchr(g->path, '/');
    int dir = slash ? (int)(slash - g->path + 1) : 0;
    return fs_path(out, cap, "%.*s%s", dir, g->path, g->balances_file);
}

int genesis_balances_foreach(const genesis_t *g, genesis_balance_fn fn, void *ctx,
                             const genesis_progress_t *progress, genesis_totals_t *totals,
                             char *err, size_t errlen)
{
    char path[GENESIS_PATH_MAX + GENESIS_FILE_NAME_MAX + 1];
    walk_t w = { .g = g, .fn = fn, .ctx = ctx, .progress = progress,
                 .at = { g->path[0] ? g->path : "genesis", g->balances_file[0] != '\0', err, errlen },
                 .min_amount = g->balances_file[0] ? 1 : 0 };
    int r = 0;

    if (w.at.by_line && (!g->path[0] || balances_path(g, path, sizeof(path)) < 0))
        r = place_fail(&w.at, NO_PLACE, -EINVAL, "names balances file %s but has no directory to "
                      "find it in", g->balances_file);
    else if (w.at.by_line)
        r = walk_file(&w, path);
    else if (g->balances)
        r = walk_memory(&w);
    else if (g->n_balances > 0 && !g->path[0])
        r = place_fail(&w.at, NO_PLACE, -EINVAL, "counts %llu balances but holds none",
                      (unsigned long long)g->n_balances);
    else if (g->n_balances > 0)
        r = walk_inline(&w);
    if (r == 0 && progress)
        progress->fn(progress->ctx, g->n_balances, g->n_balances);
    if (r == 0 && totals)
        *totals = w.tally.t;
    else
        genesis_totals_free(&w.tally.t);
    return r;
}

/* ---- importing an operator's list, writing a balances file ------------------- */

typedef struct {
    genesis_balance_t b;     /* first: the records compact in place into balances */
    uint64_t line;           /* where it was read, from 1; 0 for an added balance */
} import_rec_t;

typedef struct {
    import_rec_t *v;
    size_t n, cap;
    tally_t tally;
    place_t at;              /* the list, by line */
} import_t;

/* The place_fail index of line (0: an added balance; NO_PLACE stays). */
static uint64_t line_place(uint64_t line)
{
    return line == NO_PLACE ? NO_PLACE : line == 0 ? ADDED_PLACE : line - 1;
}

/* Keep b, read at line (0: added), and count it in the totals. */
static int import_add(import_t *im, const genesis_balance_t *b, uint64_t line)
{
    int r;
    if (!tx_asset_is_valid(b->asset) || b->amount == 0 || b->amount > INT64_MAX)
        return place_fail(&im->at, line_place(line), -EINVAL, "expected an asset of 1 to %d of A-Z 0-9 - and an "
                           "amount from 1 to 2^63-1", TX_ASSET_MAX);
    if ((r = tally_add(&im->tally, b->asset, b->amount)) == -EOVERFLOW)
        return place_fail(&im->at, line_place(line), -EINVAL, "balances of %s add up to more than 2^63-1",
                           b->asset);
    if (r == -E2BIG)
        return place_fail(&im->at, line_place(line), -EINVAL, "more than %d distinct assets", GENESIS_MAX_ASSETS);
    if (r == 0 && im->n == im->cap) {
        size_t cap = im->cap ? 2 * im->cap : 1024;
        import_rec_t *v = realloc(im->v, cap * sizeof(*v));
        if (!v)
            r = -ENOMEM;
        else {
            im->v = v;
            im->cap = cap;
        }
    }
    if (r < 0)
        return place_fail(&im->at, line_place(line), r, "out of memory");
    im->v[im->n].b = *b;
    im->v[im->n++].line = line;
    return 0;
}

/* One line of the list (s[n], its newline included if any). */
static int import_line(import_t *im, const char *s, size_t n, uint64_t line)
{
    json_error_t je;
    genesis_balance_t b;
    const char *why = NULL;
    json_t *o;
    int r;

    if (memchr(s, '\0', n))
        return place_fail(&im->at, line_place(line), -EINVAL, "expected text, found a NUL byte");
    if (strspn(s, " \t\r\n") == n)
        return 0; /* a blank line */
    if (n > IMPORT_LINE_MAX)
        return place_fail(&im->at, line_place(line), -EINVAL, "longer than %d bytes", IMPORT_LINE_MAX);
    if (!(o = json_loadb(s, n, 0, &je)))
        return place_fail(&im->at, line_place(line), -EINVAL, "expected a JSON object {\"owner\": ..., \"asset\": "
                           "..., \"amount\": ...} (column %d: %s)", je.column, je.text);
    memset(&b, 0, sizeof(b));
    if (balance_from_line_json(o, &b, &why) < 0)
        r = place_fail(&im->at, line_place(line), -EINVAL, "expected %s", why);
    else
        r = import_add(im, &b, line);
    json_decref(o);
    return r;
}

static int import_read(import_t *im)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint64_t no = 0;
    int r = 0;
    FILE *f = fopen(im->at.file, "re");

    if (!f) {
        int e = errno;
        return place_fail(&im->at, NO_PLACE, -e, "%s", strerror(e));
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    while (r == 0 && (len = getline(&line, &cap, f)) > 0)
        r = import_line(im, line, (size_t)len, ++no);
    if (r == 0 && ferror(f))
        r = place_fail(&im->at, NO_PLACE, -EIO, "read error");
    free(line);
    fclose(f);
    return r;
}

static int import_cmp(const void *a, const void *b)
{
    const import_rec_t *x = a, *y = b;
    int c = genesis_balance_cmp(&x->b, &y->b);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Sorted: a duplicate sits right after its first occurrence. */
static int import_refuse_duplicates(const import_t *im)
{
    for (size_t i = 1; i < im->n; i++) {
        const import_rec_t *a = &im->v[i - 1], *b = &im->v[i];
        if (!same_owner_asset(&a->b, &b->b))
            continue;
        if (a->line == 0)
            return place_fail(&im->at, line_place(b->line), -EINVAL, "duplicate owner and asset: the same as an "
                               "added balance");
        return place_fail(&im->at, line_place(b->line), -EINVAL, "duplicate owner and asset (also on line %llu; "
                           "merge them)", (unsigned long long)a->line);
    }
    return 0;
}

int genesis_balances_import(const char *path, const genesis_balance_t *extra, size_t n_extra,
                            genesis_balance_t **out, size_t *n, char *err, size_t errlen)
{
    import_t im = { .at = { path, 1, err, errlen } };
    int r = 0;

    for (size_t i = 0; r == 0 && i < n_extra; i++)
        r = import_add(&im, &extra[i], 0);
    if (r == 0)
        r = import_read(&im);
    if (r == 0 && im.n > 1)
        qsort(im.v, im.n, sizeof(*im.v), import_cmp);
    if (r == 0)
        r = import_refuse_duplicates(&im);
    if (r == 0) {
        /* Compact in place: balance i moves down to i * sizeof(balance), never
         * over a record not moved yet. */
        genesis_balance_t *list = (genesis_balance_t *)(void *)im.v, *shrunk;
        for (size_t i = 0; i < im.n; i++)
            memmove(&list[i], &im.v[i].b, sizeof(*list));
        if (im.n == 0) {
            free(list);
            list = NULL;
        } else if ((shrunk = realloc(list, im.n * sizeof(*list)))) {
            list = shrunk;
        }
        *out = list;
        *n = im.n;
        im.v = NULL;
    }
    free(im.v);
    genesis_totals_free(&im.tally.t);
    return r;
}

/* Write the canonical lines of b[n] to f and hash them into hash. Return
 * 0, -EINVAL (out of order, or a bad balance) or -EIO. */
static int write_lines(FILE *f, const genesis_balance_t *b, size_t n, uint8_t hash[BLOCK_HASH_LEN])
{
    crypto_generichash_state hs;
    char line[LINE_CANON_MAX + 1];

    crypto_generichash_init(&hs, NULL, 0, BLOCK_HASH_LEN);
    for (size_t i = 0; i < n; i++) {
        if (!tx_asset_is_valid(b[i].asset) || b[i].amount == 0 || b[i].amount > INT64_MAX ||
            (i > 0 && genesis_balance_cmp(&b[i - 1], &b[i]) >= 0))
            return -EINVAL;
        size_t len = line_format(line, &b[i]);
        line[len++] = '\n';
        if (fwrite(line, 1, len, f) != len)
            return -EIO;
        crypto_generichash_update(&hs, (const unsigned char *)line, len);
    }
    crypto_generichash_final(&hs, hash, BLOCK_HASH_LEN);
    return 0;
}

int genesis_balances_write(const char *path, const genesis_balance_t *b, size_t n, int overwrite,
                           uint8_t hash[BLOCK_HASH_LEN])
{
    char tmp[GENESIS_PATH_MAX + 32];
    uint8_t h[BLOCK_HASH_LEN];
    FILE *f = NULL;
    int fd, r;

    if (!overwrite && fs_exists(path))
        return -EEXIST;
    if (fs_path(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) < 0)
        return -ENAMETOOLONG;
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
        return -errno;
    if (fchmod(fd, 0644) < 0 || !(f = fdopen(fd, "w"))) {
        r = -errno;
        close(fd);
        goto out;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    r = write_lines(f, b, n, h);
    if (r == 0 && (fflush(f) != 0 || fsync(fileno(f)) < 0))
        r = -errno;
    if (fclose(f) != 0 && r == 0)
        r = -errno;
    /* Without overwrite, link() refuses a name that appeared meanwhile. */
    if (r == 0 && (overwrite ? rename(tmp, path) : link(tmp, path)) < 0)
        r = -errno;
out:
    if (r < 0 || !overwrite)
        unlink(tmp);
    if (r == 0)
        memcpy(hash, h, BLOCK_HASH_LEN);
    return r;
}
