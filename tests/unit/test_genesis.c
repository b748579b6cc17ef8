/* common/genesis.c: save/load round trip, the hash over canonical JSON,
 * refusals that name the field, *g untouched on failure. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "common/base/hex.h"
#include "common/store/genesis.h"

Suite *test_suite(void);

#define T0_MS 1795647001123ULL /* 2026-11-25T22:50:01.123Z */

typedef struct {
    char dir[64];
    char path[128];
    char path2[128];
} tmpdir_t;

static void tmp_init(tmpdir_t *t)
{
    strcpy(t->dir, "/tmp/adnet-test-genesis-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(t->dir));
    snprintf(t->path, sizeof t->path, "%s/genesis.json", t->dir);
    snprintf(t->path2, sizeof t->path2, "%s/genesis2.json", t->dir);
}

static void tmp_cleanup(const tmpdir_t *t)
{
    unlink(t->path);
    unlink(t->path2);
    rmdir(t->dir);
}

static void fill_key(uint8_t k[BLOCK_KEY_LEN], uint8_t seed)
{
    for (size_t i = 0; i < BLOCK_KEY_LEN; i++)
        k[i] = (uint8_t)(seed + i);
}

/* A small alpha genesis: 2 validators, 1 governor, 2 balances. Heap: the
 * struct is large. */
static genesis_t *sample(void)
{
    genesis_t *g = calloc(1, sizeof *g);
    ck_assert_ptr_nonnull(g);
    strcpy(g->chain_id, "adnet-alpha-devnet-1");
    strcpy(g->chain, "alpha");
    strcpy(g->network, "devnet");
    g->genesis_time_ms = T0_MS;
    g->protocol_version = 1;
    genesis_params_default(g);
    g->n_validators = 2;
    strcpy(g->validators[0].name, "v0");
    fill_key(g->validators[0].pk, 0x10);
    g->validators[0].power = 10;
    strcpy(g->validators[1].name, "v1");
    fill_key(g->validators[1].pk, 0x40);
    g->validators[1].power = 5;
    g->n_governors = 1;
    fill_key(g->governors[0], 0x70);
    g->n_balances = 2;
    fill_key(g->balances[0].owner, 0x10);
    strcpy(g->balances[0].asset, "ADN");
    g->balances[0].amount = 1000000;
    fill_key(g->balances[1].owner, 0x40);
    strcpy(g->balances[1].asset, "USD");
    g->balances[1].amount = 0;
    return g;
}

static json_t *read_json(const char *path)
{
    json_error_t jerr;
    json_t *o = json_load_file(path, 0, &jerr);
    ck_assert_msg(o != NULL, "%s: %s", path, jerr.text);
    return o;
}

static void write_json(json_t *o, const char *path, size_t flags)
{
    unlink(path);
    ck_assert_int_eq(json_dump_file(o, path, flags), 0);
    json_decref(o);
}

static void assert_same_fields(const genesis_t *a, const genesis_t *b)
{
    ck_assert_str_eq(a->chain_id, b->chain_id);
    ck_assert_str_eq(a->chain, b->chain);
    ck_assert_str_eq(a->network, b->network);
    ck_assert_uint_eq(a->genesis_time_ms, b->genesis_time_ms);
    ck_assert_uint_eq(a->protocol_version, b->protocol_version);
    ck_assert_uint_eq(a->n_validators, b->n_validators);
    for (size_t i = 0; i < a->n_validators; i++) {
        ck_assert_str_eq(a->validators[i].name, b->validators[i].name);
        ck_assert_mem_eq(a->validators[i].pk, b->validators[i].pk, BLOCK_KEY_LEN);
        ck_assert_uint_eq(a->validators[i].power, b->validators[i].power);
    }
    ck_assert_uint_eq(a->n_governors, b->n_governors);
    for (size_t i = 0; i < a->n_governors; i++)
        ck_assert_mem_eq(a->governors[i], b->governors[i], BLOCK_KEY_LEN);
    ck_assert_uint_eq(a->n_balances, b->n_balances);
    for (size_t i = 0; i < a->n_balances; i++) {
        ck_assert_mem_eq(a->balances[i].owner, b->balances[i].owner, BLOCK_KEY_LEN);
        ck_assert_str_eq(a->balances[i].asset, b->balances[i].asset);
        ck_assert_uint_eq(a->balances[i].amount, b->balances[i].amount);
    }
    ck_assert_uint_eq(a->n_params, b->n_params);
    for (size_t i = 0; i < a->n_params; i++) {
        ck_assert_str_eq(a->params[i].key, b->params[i].key);
        ck_assert_str_eq(a->params[i].value, b->params[i].value);
    }
    ck_assert_int_eq(a->has_peer_genesis, b->has_peer_genesis);
    if (a->has_peer_genesis) {
        ck_assert_str_eq(a->peer_chain, b->peer_chain);
        ck_assert_mem_eq(a->peer_genesis_hash, b->peer_genesis_hash, BLOCK_HASH_LEN);
    }
    ck_assert_mem_eq(a->hash, b->hash, BLOCK_HASH_LEN);
}

/* Load path (which must succeed) and return its hash. */
static int load_hash(const char *path, uint8_t hash[BLOCK_HASH_LEN])
{
    char err[GENESIS_ERR_MAX] = "";
    genesis_t *g = calloc(1, sizeof *g);
    ck_assert_ptr_nonnull(g);
    int r = genesis_load(g, path, NULL, err);
    ck_assert_msg(r == 0, "load %s: %s", path, err);
    memcpy(hash, g->hash, BLOCK_HASH_LEN);
    free(g);
    return r;
}

START_TEST(test_round_trip)
{
    tmpdir_t t;
    tmp_init(&t);
    genesis_t *g = sample(), *back = calloc(1, sizeof *back);
    char err[GENESIS_ERR_MAX] = "";
    static const uint8_t zero[BLOCK_HASH_LEN];
    ck_assert_ptr_nonnull(back);
    ck_assert_int_eq(genesis_save(g, t.path, 0), 0);
    ck_assert_int_ne(memcmp(g->hash, zero, BLOCK_HASH_LEN), 0); /* save computed it */

    struct stat st;
    ck_assert_int_eq(stat(t.path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0644);

    ck_assert_int_eq(genesis_load(back, t.path, NULL, err), 0);
    assert_same_fields(g, back);

    /* The file is readable JSON with an ISO time and lowercase hex keys. */
    json_t *o = read_json(t.path);
    ck_assert_str_eq(json_string_value(json_object_get(o, "genesis_time")),
                     "2026-11-25T22:50:01.123Z");
    char hex[2 * BLOCK_KEY_LEN + 1];
    hex_encode(hex, g->validators[1].pk, BLOCK_KEY_LEN);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(o, "validators"), 1), "public_key")), hex);
    json_decref(o);

    /* Saving again refuses to replace unless asked. */
    ck_assert_int_eq(genesis_save(g, t.path, 0), -EEXIST);
    g->balances[0].amount = 7;
    ck_assert_int_eq(genesis_save(g, t.path, 1), 0);
    ck_assert_int_eq(genesis_load(back, t.path, NULL, err), 0);
    ck_assert_uint_eq(back->balances[0].amount, 7);
    free(g);
    free(back);
    tmp_cleanup(&t);
}
END_TEST

START_TEST(test_hash_ignores_layout)
{
    tmpdir_t t;
    tmp_init(&t);
    genesis_t *g = sample();
    uint8_t h1[BLOCK_HASH_LEN], h2[BLOCK_HASH_LEN];
    ck_assert_int_eq(genesis_save(g, t.path, 0), 0);
    load_hash(t.path, h1);
    ck_assert_mem_eq(h1, g->hash, BLOCK_HASH_LEN);

    /* Re-indented with keys sorted (so in another order than saved). */
    write_json(read_json(t.path), t.path2, JSON_INDENT(8) | JSON_SORT_KEYS);
    load_hash(t.path2, h2);
    ck_assert_mem_eq(h2, h1, BLOCK_HASH_LEN);

    /* Compact, on one line. */
    write_json(read_json(t.path), t.path2, JSON_COMPACT);
    load_hash(t.path2, h2);
    ck_assert_mem_eq(h2, h1, BLOCK_HASH_LEN);

    /* Keys reversed within the top object. */
    json_t *o = read_json(t.path), *rev = json_object();
    const char *keys[32];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) keys[n++] = k;
    for (size_t i = n; i-- > 0;)
        json_object_set(rev, keys[i], json_object_get(o, keys[i]));
    write_json(rev, t.path2, JSON_INDENT(3) | JSON_PRESERVE_ORDER);
    json_decref(o);
    load_hash(t.path2, h2);
    ck_assert_mem_eq(h2, h1, BLOCK_HASH_LEN);
    free(g);
    tmp_cleanup(&t);
}
END_TEST

/* Edits of any value must change the hash. */
static void assert_edit_changes_hash(const char *path, const char *path2,
                                     void (*edit)(json_t *o))
{
    uint8_t h1[BLOCK_HASH_LEN], h2[BLOCK_HASH_LEN];
    load_hash(path, h1);
    json_t *o = read_json(path);
    edit(o);
    write_json(o, path2, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    load_hash(path2, h2);
    ck_assert_int_ne(memcmp(h1, h2, BLOCK_HASH_LEN), 0);
}

static json_t *balance0(json_t *o)
{
    return json_array_get(json_object_get(o, "balances"), 0);
}

static json_t *validator0(json_t *o)
{
    return json_array_get(json_object_get(o, "validators"), 0);
}

static void edit_amount(json_t *o) { json_object_set_new(balance0(o), "amount", json_integer(1000001)); }
static void edit_chain_id(json_t *o) { json_object_set_new(o, "chain_id", json_string("adnet-alpha-devnet-2")); }
static void edit_time(json_t *o)
{
    json_object_set_new(o, "genesis_time_ms", json_integer((json_int_t)T0_MS + 1));
    json_object_set_new(o, "genesis_time", json_string("2026-11-25T22:50:01.124Z"));
}
static void edit_power(json_t *o) { json_object_set_new(validator0(o), "power", json_integer(11)); }
static void edit_vname(json_t *o) { json_object_set_new(validator0(o), "name", json_string("v9")); }
static void edit_asset(json_t *o) { json_object_set_new(balance0(o), "asset", json_string("ADX")); }
static void edit_network(json_t *o) { json_object_set_new(o, "network", json_string("testnet")); }
static void edit_protocol(json_t *o) { json_object_set_new(o, "protocol_version", json_integer(2)); }
static void edit_governors(json_t *o) { json_array_clear(json_object_get(o, "governors")); }
static void edit_order(json_t *o)
{
    /* Validator order is part of the value: swapping them is another genesis. */
    json_t *vals = json_object_get(o, "validators"), *first = json_incref(json_array_get(vals, 0));
    json_array_remove(vals, 0);
    json_array_append_new(vals, first);
}
static void edit_peer(json_t *o)
{
    json_object_set_new(o, "alpha_genesis_hash",
                        json_string("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"));
}

START_TEST(test_hash_covers_values)
{
    tmpdir_t t;
    tmp_init(&t);
    genesis_t *g = sample();
    ck_assert_int_eq(genesis_save(g, t.path, 0), 0);
    assert_edit_changes_hash(t.path, t.path2, edit_amount);
    assert_edit_changes_hash(t.path, t.path2, edit_chain_id);
    assert_edit_changes_hash(t.path, t.path2, edit_time);
    assert_edit_changes_hash(t.path, t.path2, edit_power);
    assert_edit_changes_hash(t.path, t.path2, edit_vname);
    assert_edit_changes_hash(t.path, t.path2, edit_asset);
    assert_edit_changes_hash(t.path, t.path2, edit_network);
    assert_edit_changes_hash(t.path, t.path2, edit_protocol);
    assert_edit_changes_hash(t.path, t.path2, edit_governors);
    assert_edit_changes_hash(t.path, t.path2, edit_order);
    assert_edit_changes_hash(t.path, t.path2, edit_peer);
    free(g);
    tmp_cleanup(&t);
}
END_TEST

START_TEST(test_peer_genesis_round_trip)
{
    tmpdir_t t;
    tmp_init(&t);
    genesis_t *g = sample(), *back = calloc(1, sizeof *back);
    char err[GENESIS_ERR_MAX] = "";
    ck_assert_ptr_nonnull(back);
    strcpy(g->chain, "delta");
    strcpy(g->chain_id, "adnet-delta-devnet-1");
    g->has_peer_genesis = 1;
    strcpy(g->peer_chain, "alpha");
    for (size_t i = 0; i < BLOCK_HASH_LEN; i++)
        g->peer_genesis_hash[i] = (uint8_t)(0xf0 - i);
    ck_assert_int_eq(genesis_save(g, t.path, 0), 0);
    ck_assert_int_eq(genesis_load(back, t.path, NULL, err), 0);
    ck_assert_int_eq(back->has_peer_genesis, 1);
    ck_assert_mem_eq(back->peer_genesis_hash, g->peer_genesis_hash, BLOCK_HASH_LEN);
    assert_same_fields(g, back);

    /* Without the field, has_peer_genesis is 0 and the hash differs. */
    uint8_t with[BLOCK_HASH_LEN];
    memcpy(with, g->hash, BLOCK_HASH_LEN);
    g->has_peer_genesis = 0;
    ck_assert_int_eq(genesis_save(g, t.path2, 0), 0);
    ck_assert_int_eq(genesis_load(back, t.path2, NULL, err), 0);
    ck_assert_int_eq(back->has_peer_genesis, 0);
    ck_assert_int_ne(memcmp(back->hash, with, BLOCK_HASH_LEN), 0);
    free(g);
    free(back);
    tmp_cleanup(&t);
}
END_TEST

START_TEST(test_power)
{
    genesis_t *g = sample();
    uint8_t other[BLOCK_KEY_LEN];
    ck_assert_uint_eq(genesis_total_power(g), 15);
    ck_assert_uint_eq(genesis_power_of(g, g->validators[0].pk), 10);
    ck_assert_uint_eq(genesis_power_of(g, g->validators[1].pk), 5);
    fill_key(other, 0x70); /* a governor, not a validator */
    ck_assert_uint_eq(genesis_power_of(g, other), 0);
    g->n_validators = 1;
    ck_assert_uint_eq(genesis_total_power(g), 10);
    ck_assert_uint_eq(genesis_power_of(g, g->validators[1].pk), 0);
    free(g);
}
END_TEST

#define ZERO_HASH_HEX "0000000000000000000000000000000000000000000000000000000000000000"

/* The refusal harness: save sample(), edit the JSON, load into a poisoned
 * genesis_t, expect -EINVAL, a message containing the path and every
 * needle, and the poisoned struct untouched. */
static void assert_refused(void (*edit)(json_t *o), const char *needle1, const char *needle2)
{
    tmpdir_t t;
    tmp_init(&t);
    genesis_t *g = sample(), *back = malloc(sizeof *back), *copy = malloc(sizeof *copy);
    char err[GENESIS_ERR_MAX] = "";
    ck_assert_ptr_nonnull(back);
    ck_assert_ptr_nonnull(copy);
    ck_assert_int_eq(genesis_save(g, t.path, 0), 0);
    json_t *o = read_json(t.path);
    edit(o);
    write_json(o, t.path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    memset(back, 0xa5, sizeof *back);
    memcpy(copy, back, sizeof *back);
    ck_assert_int_eq(genesis_load(back, t.path, "alpha", err), -EINVAL);
    ck_assert_msg(strstr(err, t.path) != NULL, "message lacks the path: %s", err);
    ck_assert_msg(strstr(err, needle1) != NULL, "message lacks '%s': %s", needle1, err);
    if (needle2)
        ck_assert_msg(strstr(err, needle2) != NULL, "message lacks '%s': %s", needle2, err);
    ck_assert_msg(memcmp(back, copy, sizeof *back) == 0, "*g written on failure");
    free(g);
    free(back);
    free(copy);
    tmp_cleanup(&t);
}

static void del_chain_id(json_t *o) { json_object_del(o, "chain_id"); }
static void empty_chain_id(json_t *o) { json_object_set_new(o, "chain_id", json_string("")); }
static void long_chain_id(json_t *o)
{
    char id[BLOCK_CHAIN_ID_MAX + 2];
    memset(id, 'c', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    json_object_set_new(o, "chain_id", json_string(id));
}
static void int_chain_id(json_t *o) { json_object_set_new(o, "chain_id", json_integer(1)); }
static void chain_gamma(json_t *o) { json_object_set_new(o, "chain", json_string("gamma")); }
static void del_network(json_t *o) { json_object_del(o, "network"); }
static void neg_time(json_t *o) { json_object_set_new(o, "genesis_time_ms", json_integer(-1)); }
static void str_time(json_t *o) { json_object_set_new(o, "genesis_time_ms", json_string("0")); }
static void zero_protocol(json_t *o) { json_object_set_new(o, "protocol_version", json_integer(0)); }
static void huge_protocol(json_t *o) { json_object_set_new(o, "protocol_version", json_integer(1LL << 32)); }
static void vals_empty(json_t *o) { json_array_clear(json_object_get(o, "validators")); }
static void vals_missing(json_t *o) { json_object_del(o, "validators"); }
static void vals_dup(json_t *o)
{
    json_t *vals = json_object_get(o, "validators");
    json_object_set(json_array_get(vals, 1), "public_key",
                    json_object_get(json_array_get(vals, 0), "public_key"));
}
static void power_zero(json_t *o) { json_object_set_new(json_array_get(json_object_get(o, "validators"), 1), "power", json_integer(0)); }
static void power_huge(json_t *o) { json_object_set_new(validator0(o), "power", json_integer((json_int_t)(GENESIS_MAX_POWER + 1))); }
static void power_neg(json_t *o) { json_object_set_new(validator0(o), "power", json_integer(-10)); }
static void vkey_bad_hex(json_t *o)
{
    json_object_set_new(validator0(o), "public_key",
                        json_string("zz1112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"));
}
static void vkey_short(json_t *o) { json_object_set_new(validator0(o), "public_key", json_string("1011")); }
static void vname_missing(json_t *o) { json_object_del(validator0(o), "name"); }
static void gov_dup(json_t *o)
{
    json_t *govs = json_object_get(o, "governors");
    json_array_append(govs, json_array_get(govs, 0));
}
static void gov_bad(json_t *o) { json_object_set_new(json_array_get(json_object_get(o, "governors"), 0), "public_key", json_string("xy")); }
static void amount_neg(json_t *o) { json_object_set_new(balance0(o), "amount", json_integer(-1)); }
static void amount_real(json_t *o) { json_object_set_new(balance0(o), "amount", json_real(1.5)); }
static void owner_bad(json_t *o) { json_object_set_new(balance0(o), "owner", json_string("nothex")); }
static void asset_long(json_t *o) { json_object_set_new(balance0(o), "asset", json_string("ABCDEFGHIJKLMNOPQ")); }
static void time_disagrees(json_t *o) { json_object_set_new(o, "genesis_time", json_string("2026-11-25T22:50:02.123Z")); }
static void balance_dup(json_t *o) { json_array_append(json_object_get(o, "balances"), balance0(o)); }
static void asset_lower(json_t *o) { json_object_set_new(balance0(o), "asset", json_string("adn")); }
static void chain_not_a_name(json_t *o) { json_object_set_new(o, "chain", json_string("Al-pha")); }
static void param_object(json_t *o) { json_object_set_new(json_object_get(o, "params"), "limits", json_object()); }
static void param_key_bad(json_t *o) { json_object_set_new(json_object_get(o, "params"), "Bad-Key", json_integer(1)); }
static void peer_two(json_t *o)
{
    json_object_set_new(o, "alpha_genesis_hash", json_string(ZERO_HASH_HEX));
    json_object_set_new(o, "beta_genesis_hash", json_string(ZERO_HASH_HEX));
}
static void peer_bad(json_t *o) { json_object_set_new(o, "alpha_genesis_hash", json_string("1234")); }

START_TEST(test_refusals)
{
    assert_refused(del_chain_id, "chain_id", NULL);
    assert_refused(empty_chain_id, "chain_id", NULL);
    assert_refused(long_chain_id, "chain_id", NULL);
    assert_refused(int_chain_id, "chain_id", NULL);
    assert_refused(chain_gamma, "chain:", "expected \"alpha\", got \"gamma\"");
    assert_refused(chain_not_a_name, "chain:", "1 to 15 of a-z");
    assert_refused(param_object, "params.limits", "non-negative integer or a string");
    assert_refused(param_key_bad, "params.Bad-Key", "a-z 0-9 _");
    assert_refused(peer_two, "_genesis_hash", "at most one");
    assert_refused(del_network, "network", NULL);
    assert_refused(neg_time, "genesis_time_ms", NULL);
    assert_refused(str_time, "genesis_time_ms", NULL);
    assert_refused(time_disagrees, "genesis_time", "must agree with genesis_time_ms");
    assert_refused(balance_dup, "balances[", "duplicate owner and asset");
    assert_refused(zero_protocol, "protocol_version", NULL);
    assert_refused(huge_protocol, "protocol_version", NULL);
    assert_refused(vals_empty, "validators", NULL);
    assert_refused(vals_missing, "validators", NULL);
    assert_refused(vals_dup, "validators[1]", "duplicate public_key");
    assert_refused(power_zero, "validators[1]", "power");
    assert_refused(power_huge, "validators[0]", "2^53");
    assert_refused(power_neg, "validators[0]", "power");
    assert_refused(vkey_bad_hex, "validators[0]", "public_key");
    assert_refused(vkey_short, "validators[0]", "public_key");
    assert_refused(vname_missing, "validators[0]", "name");
    assert_refused(gov_dup, "governors[1]", "duplicate");
    assert_refused(gov_bad, "governors[0]", "public_key");
    assert_refused(amount_neg, "balances[0]", "amount");
    assert_refused(amount_real, "balances[0]", "amount");
    assert_refused(owner_bad, "balances[0]", "owner");
    assert_refused(asset_long, "balances[0]", "asset");
    assert_refused(peer_bad, "alpha_genesis_hash", NULL);
    assert_refused(asset_lower, "balances[0]", "A-Z 0-9 -");
}
END_TEST

/* The network field is one of devnet, testnet, mainnet; anything else is refused. */
static void network_moon(json_t *o) { json_object_set_new(o, "network", json_string("moonnet")); }

START_TEST(test_refuses_unknown_network)
{
    assert_refused(network_moon, "network", "devnet, testnet or mainnet");
}
END_TEST

START_TEST(test_power_limit_exact)
{
    tmpdir_t t;
    tmp_init(&t);
    genesis_t *g = sample(), *back = calloc(1, sizeof *back);
    char err[GENESIS_ERR_MAX] = "";
    ck_assert_ptr_nonnull(back);
    g->validators[0].power = GENESIS_MAX_POWER;
    ck_assert_int_eq(genesis_save(g, t.path, 0), 0);
    ck_assert_int_eq(genesis_load(back, t.path, NULL, err), 0);
    ck_assert_uint_eq(back->validators[0].power, GENESIS_MAX_POWER);
    ck_assert_uint_eq(genesis_total_power(back), GENESIS_MAX_POWER + 5);
    free(g);
    free(back);
    tmp_cleanup(&t);
}
END_TEST

START_TEST(test_load_io_errors)
{
    tmpdir_t t;
    tmp_init(&t);
    genesis_t *back = malloc(sizeof *back), *copy = malloc(sizeof *copy);
    char err[GENESIS_ERR_MAX] = "";
    ck_assert_ptr_nonnull(back);
    ck_assert_ptr_nonnull(copy);
    memset(back, 0xa5, sizeof *back);
    memcpy(copy, back, sizeof *back);
    ck_assert_int_eq(genesis_load(back, t.path, NULL, err), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, t.path));

    FILE *f = fopen(t.path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\n  \"chain_id\": \"x\",\n  oops\n}\n", f);
    fclose(f);
    ck_assert_int_eq(genesis_load(back, t.path, NULL, err), -EINVAL);
    char want[200];
    snprintf(want, sizeof want, "%s:3:", t.path);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "err was: %s", err);
    ck_assert(memcmp(back, copy, sizeof *back) == 0);

    f = fopen(t.path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("[1, 2]\n", f);
    fclose(f);
    ck_assert_int_eq(genesis_load(back, t.path, NULL, err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "expected a JSON object"));
    ck_assert(memcmp(back, copy, sizeof *back) == 0);
    free(back);
    free(copy);
    tmp_cleanup(&t);
}
END_TEST

/* A chain's own params: kept as they are, read by type, covered by the
 * hash, and saved back; common code gives them no meaning. */
START_TEST(test_chain_params)
{
    tmpdir_t t;
    tmp_init(&t);
    genesis_t *g = sample(), *back = calloc(1, sizeof *back);
    char err[GENESIS_ERR_MAX] = "";
    uint8_t key[32], got[32];
    uint64_t v = 0;
    ck_assert_ptr_nonnull(back);
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(i * 7);
    ck_assert_int_eq(genesis_param_set_hex(g, "minter", key, 32), 0);
    ck_assert_int_eq(genesis_param_set_u64(g, "unbonding_blocks", 42), 0);
    ck_assert_int_eq(genesis_param_set_u64(g, "unbonding_blocks", 43), 0); /* replaces */
    ck_assert_int_eq(genesis_param_set_u64(g, "min_fee", 1), -EINVAL);   /* a common param */
    ck_assert_int_eq(genesis_param_set_u64(g, "Bad", 1), -EINVAL);
    ck_assert_uint_eq(g->n_params, 2);
    ck_assert_int_eq(genesis_save(g, t.path, 0), 0);
    ck_assert_int_eq(genesis_load(back, t.path, "alpha", err), 0);
    assert_same_fields(g, back);
    ck_assert_int_eq(genesis_param_hex(back, "minter", got, 32), 0);
    ck_assert_mem_eq(got, key, 32);
    ck_assert_int_eq(genesis_param_u64(back, "unbonding_blocks", &v), 0);
    ck_assert_uint_eq(v, 43);
    ck_assert_int_eq(genesis_param_u64(back, "minter", &v), -EINVAL);
    ck_assert_uint_eq(v, 43);
    ck_assert_int_eq(genesis_param_hex(back, "unbonding_blocks", got, 32), -EINVAL);
    ck_assert_int_eq(genesis_param_u64(back, "absent", &v), -ENOENT);

    /* Another value of a chain param is another genesis. */
    uint8_t before[BLOCK_HASH_LEN];
    memcpy(before, back->hash, BLOCK_HASH_LEN);
    ck_assert_int_eq(genesis_param_set_u64(g, "unbonding_blocks", 44), 0);
    ck_assert_int_eq(genesis_save(g, t.path2, 0), 0);
    ck_assert_int_eq(genesis_load(back, t.path2, NULL, err), 0);
    ck_assert_int_ne(memcmp(before, back->hash, BLOCK_HASH_LEN), 0);

    /* Too many params is refused, not truncated. */
    char name[16];
    for (int i = (int)g->n_params; i < GENESIS_MAX_PARAMS; i++) {
        snprintf(name, sizeof name, "p%d", i);
        ck_assert_int_eq(genesis_param_set_u64(g, name, (uint64_t)i), 0);
    }
    ck_assert_int_eq(genesis_param_set_u64(g, "one_more", 1), -ENOSPC);
    free(g);
    free(back);
    tmp_cleanup(&t);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("genesis");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_hash_ignores_layout);
    tcase_add_test(tc, test_hash_covers_values);
    tcase_add_test(tc, test_peer_genesis_round_trip);
    tcase_add_test(tc, test_power);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_refuses_unknown_network);
    tcase_add_test(tc, test_power_limit_exact);
    tcase_add_test(tc, test_load_io_errors);
    tcase_add_test(tc, test_chain_params);
    suite_add_tcase(s, tc);
    return s;
}
