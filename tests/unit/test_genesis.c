/* common/genesis.c: save/load round trip, the hash over canonical JSON,
 * refusals that name the field, *g untouched on failure; balances read
 * one at a time (inline, or from a balances file: canonical lines, order,
 * count, hash, totals, file:line refusals), importing an operator's list
 * and writing the canonical file. */
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
#include "common/store/genesis_sig.h"
#include "tests/lib/file.h"
#include "tests/lib/gen.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

/* The two files a test writes, in a directory of its own. */
typedef struct {
    tmp_dir_t tmp;
    char path[TMP_PATH_MAX];   /* genesis.json */
    char path2[TMP_PATH_MAX];  /* genesis2.json */
} files_t;

static void files_init(files_t *t)
{
    tmp_dir_init(&t->tmp, "genesis");
    tmp_dir_path(&t->tmp, "genesis.json", t->path);
    tmp_dir_path(&t->tmp, "genesis2.json", t->path2);
}

/* A small alpha genesis: 2 validators, 1 governor, 2 balances. */
static genesis_t *sample(void)
{
    uint8_t k[BLOCK_KEY_LEN];
    genesis_t *g = gen_new("alpha", "adnet-alpha-devnet-1");
    gen_add_validator(g, "v0", gen_key(k, 0x10), 10);
    gen_add_validator(g, "v1", gen_key(k, 0x40), 5);
    gen_add_governor(g, gen_key(k, 0x70));
    gen_add_balance(g, gen_key(k, 0x10), "ADN", 1000000);
    gen_add_balance(g, gen_key(k, 0x40), "USD", 0);
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

/* The balances of a genesis, read the way a chain reads them. */
typedef struct {
    genesis_balance_t v[8];
    size_t n;
} got_t;

static int collect(void *ctx, uint64_t index, const genesis_balance_t *b, char *err,
                   size_t errlen)
{
    got_t *got = ctx;
    (void)err, (void)errlen;
    ck_assert_uint_eq(index, got->n);
    ck_assert_uint_lt(got->n, sizeof got->v / sizeof got->v[0]);
    got->v[got->n++] = *b;
    return 0;
}

static void read_balances(const genesis_t *g, got_t *got)
{
    char err[GENESIS_ERR_MAX] = "";
    memset(got, 0, sizeof *got);
    ck_assert_msg(genesis_balances_foreach(g, collect, got, NULL, NULL, err, sizeof err) == 0,
                  "%s", err);
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
    got_t ga, gb;
    read_balances(a, &ga);
    read_balances(b, &gb);
    ck_assert_uint_eq(ga.n, a->n_balances);
    ck_assert_uint_eq(gb.n, ga.n);
    for (size_t i = 0; i < a->n_balances; i++) {
        ck_assert_mem_eq(ga.v[i].owner, gb.v[i].owner, BLOCK_KEY_LEN);
        ck_assert_str_eq(ga.v[i].asset, gb.v[i].asset);
        ck_assert_uint_eq(ga.v[i].amount, gb.v[i].amount);
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
    files_t t;
    files_init(&t);
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
    got_t got;
    read_balances(back, &got);
    ck_assert_uint_eq(got.v[0].amount, 7);
    free(g);
    free(back);
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

START_TEST(test_hash_ignores_layout)
{
    files_t t;
    files_init(&t);
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
    tmp_dir_cleanup(&t.tmp);
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
    files_t t;
    files_init(&t);
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
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

START_TEST(test_peer_genesis_round_trip)
{
    files_t t;
    files_init(&t);
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
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

START_TEST(test_power)
{
    genesis_t *g = sample();
    uint8_t other[BLOCK_KEY_LEN];
    ck_assert_uint_eq(genesis_total_power(g), 15);
    ck_assert_uint_eq(genesis_power_of(g, g->validators[0].pk), 10);
    ck_assert_uint_eq(genesis_power_of(g, g->validators[1].pk), 5);
    gen_key(other, 0x70); /* a governor, not a validator */
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
    files_t t;
    files_init(&t);
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
    tmp_dir_cleanup(&t.tmp);
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
    files_t t;
    files_init(&t);
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
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

START_TEST(test_load_io_errors)
{
    files_t t;
    files_init(&t);
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
    char want[TMP_PATH_MAX + 8];
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
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

/* A chain's own params: kept as they are, read by type, covered by the
 * hash, and saved back; common code gives them no meaning. */
START_TEST(test_chain_params)
{
    files_t t;
    files_init(&t);
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
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

/* ---- balances: inline and in a balances file ------------------------------ */

/* sample() saved inline hashes as it did before balances files existed. */
START_TEST(test_inline_hash_unchanged)
{
    files_t t;
    files_init(&t);
    genesis_t *g = sample(), *back = calloc(1, sizeof *back);
    char err[GENESIS_ERR_MAX] = "", hex[2 * BLOCK_HASH_LEN + 1];
    genesis_totals_t totals;
    ck_assert_ptr_nonnull(back);
    ck_assert_int_eq(genesis_save(g, t.path, 0), 0);
    hex_encode(hex, g->hash, BLOCK_HASH_LEN);
    ck_assert_str_eq(hex, "4dc0415ad1adad3f2fa3d09015c107042a083a49bd6bf9c09451190530d992e9");
    ck_assert_int_eq(genesis_load(back, t.path, "alpha", err), 0);
    ck_assert_mem_eq(back->hash, g->hash, BLOCK_HASH_LEN);
    ck_assert_ptr_null(back->balances);
    ck_assert_uint_eq(back->n_balances, 2);
    ck_assert_str_eq(back->balances_file, "");
    /* A loaded genesis reads its inline balances again, with totals. */
    ck_assert_int_eq(genesis_balances_foreach(back, collect, &(got_t){0}, NULL, &totals, err,
                                              sizeof err), 0);
    ck_assert_uint_eq(totals.n, 2);
    ck_assert_str_eq(totals.v[0].asset, "ADN");
    ck_assert_uint_eq(totals.v[0].amount, 1000000);
    ck_assert_uint_eq(totals.v[0].count, 1);
    ck_assert_str_eq(totals.v[1].asset, "USD");
    ck_assert_uint_eq(totals.v[1].amount, 0);
    ck_assert_uint_eq(totals.v[1].count, 1);
    genesis_totals_free(&totals);
    /* Saving a loaded genesis elsewhere keeps its balances and hash. */
    ck_assert_int_eq(genesis_save(back, t.path2, 0), 0);
    ck_assert_mem_eq(back->hash, g->hash, BLOCK_HASH_LEN);
    free(g);
    free(back);
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

static void edit_amount_2(json_t *o) { json_object_set_new(balance0(o), "amount", json_integer(2)); }

/* The inline balances are read again at ledger creation: a file changed
 * since it was loaded is refused, not read. */
START_TEST(test_inline_changed_after_load)
{
    files_t t;
    files_init(&t);
    genesis_t *g = sample(), *back = calloc(1, sizeof *back);
    char err[GENESIS_ERR_MAX] = "";
    ck_assert_ptr_nonnull(back);
    ck_assert_int_eq(genesis_save(g, t.path, 0), 0);
    ck_assert_int_eq(genesis_load(back, t.path, NULL, err), 0);
    json_t *o = read_json(t.path);
    edit_amount_2(o);
    write_json(o, t.path, JSON_INDENT(2));
    ck_assert_int_eq(genesis_balances_foreach(back, collect, &(got_t){0}, NULL, NULL, err,
                                              sizeof err), -EINVAL);
    ck_assert_msg(strstr(err, "changed since it was loaded"), "%s", err);
    free(g);
    free(back);
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

static void balances_1025(json_t *o)
{
    for (int i = 0; i < 1023; i++)
        json_array_append(json_object_get(o, "balances"), balance0(o));
}

START_TEST(test_inline_limit)
{
    assert_refused(balances_1025, "balances:", "at most 1024 entries (name a balances_file");
}
END_TEST

/* A canonical balance line (with its newline) into out. */
static void line_of(char out[200], const uint8_t owner[BLOCK_KEY_LEN], const char *asset,
                    unsigned long long amount)
{
    char hex[2 * BLOCK_KEY_LEN + 1];
    hex_encode(hex, owner, BLOCK_KEY_LEN);
    snprintf(out, 200, "{\"amount\":%llu,\"asset\":\"%s\",\"owner\":\"%s\"}\n", amount, asset, hex);
}

/* Write text as t's balances.jsonl and a genesis at t->path naming it with
 * count lines and text's BLAKE2b-256 (flipped if bad_hash); load it into
 * *back (which must succeed). */
static void file_genesis(const files_t *t, const char *text, uint64_t count, int bad_hash,
                         genesis_t *back)
{
    char path[TMP_PATH_MAX], err[GENESIS_ERR_MAX] = "";
    genesis_t *g = sample();
    tmp_dir_path(&t->tmp, GENESIS_BALANCES_FILE, path);
    file_write(path, text);
    g->balances = NULL;
    g->n_balances = count;
    strcpy(g->balances_file, GENESIS_BALANCES_FILE);
    crypto_generichash(g->balances_hash, BLOCK_HASH_LEN, (const unsigned char *)text, strlen(text),
                       NULL, 0);
    g->balances_hash[0] ^= (uint8_t)(bad_hash ? 1 : 0);
    ck_assert_int_eq(genesis_save(g, t->path, 1), 0);
    ck_assert_msg(genesis_load(back, t->path, "alpha", err) == 0, "%s", err);
    ck_assert_mem_eq(back->hash, g->hash, BLOCK_HASH_LEN);
    free(g);
}

static void progress_count(void *ctx, uint64_t done, uint64_t total)
{
    uint64_t *calls = ctx;
    ck_assert_uint_le(done, total);
    calls[0]++;
    calls[1] = done;
}

START_TEST(test_file_round_trip)
{
    files_t t;
    files_init(&t);
    genesis_t *back = calloc(1, sizeof *back);
    genesis_balance_t b[3];
    uint8_t hash[BLOCK_HASH_LEN], want[BLOCK_HASH_LEN];
    char path[TMP_PATH_MAX], err[GENESIS_ERR_MAX] = "";
    uint64_t calls[2] = {0, 0};
    genesis_progress_t progress = {progress_count, calls};
    genesis_totals_t totals;
    got_t got = {0};
    size_t len;

    ck_assert_ptr_nonnull(back);
    memset(b, 0, sizeof b);
    gen_key(b[0].owner, 0x10), strcpy(b[0].asset, "ADN"), b[0].amount = 5;
    gen_key(b[1].owner, 0x10), strcpy(b[1].asset, "USD"), b[1].amount = 6;
    gen_key(b[2].owner, 0x40), strcpy(b[2].asset, "ADN"), b[2].amount = INT64_MAX - 5;
    tmp_dir_path(&t.tmp, GENESIS_BALANCES_FILE, path);
    ck_assert_int_eq(genesis_balances_write(path, b, 3, 0, hash), 0);
    ck_assert_int_eq(genesis_balances_write(path, b, 3, 0, hash), -EEXIST);
    char *text = file_read(path, &len);
    crypto_generichash(want, BLOCK_HASH_LEN, (const unsigned char *)text, len, NULL, 0);
    ck_assert_mem_eq(hash, want, BLOCK_HASH_LEN); /* what b2sum -l 256 prints */
    /* Each line is jansson's compact, key-sorted dump of the balance. */
    for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        json_t *o = json_loadb(line, (size_t)(nl - line), 0, NULL);
        char *canon = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        ck_assert_int_eq(strncmp(canon, line, (size_t)(nl - line)), 0);
        ck_assert_uint_eq(strlen(canon), (size_t)(nl - line));
        free(canon);
        json_decref(o);
    }
    file_genesis(&t, text, 3, 0, back);
    ck_assert_str_eq(back->balances_file, GENESIS_BALANCES_FILE);
    ck_assert_uint_eq(back->n_balances, 3);
    ck_assert_int_eq(genesis_balances_foreach(back, collect, &got, &progress, &totals, err,
                                              sizeof err), 0);
    ck_assert_uint_eq(got.n, 3);
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(genesis_balance_cmp(&got.v[i], &b[i]), 0);
    ck_assert_uint_eq(got.v[2].amount, INT64_MAX - 5);
    ck_assert_uint_eq(calls[0], 1); /* the last call only: fewer than GENESIS_PROGRESS_EVERY */
    ck_assert_uint_eq(calls[1], 3);
    ck_assert_uint_eq(totals.n, 2);
    ck_assert_uint_eq(totals.v[0].amount, INT64_MAX);
    ck_assert_uint_eq(totals.v[0].count, 2);
    genesis_totals_free(&totals);
    /* The genesis file names the balances file, without a "balances" array. */
    json_t *o = read_json(t.path);
    ck_assert_ptr_null(json_object_get(o, "balances"));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(o, "balances_file"),
                                                        "count")), 3);
    json_decref(o);
    free(text);
    free(back);
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

/* The genesis hash covers the balances through balances_file.hash. */
static void edit_file_hash(json_t *o)
{
    json_object_set_new(json_object_get(o, "balances_file"), "hash", json_string(ZERO_HASH_HEX));
}
static void edit_file_count(json_t *o)
{
    json_object_set_new(json_object_get(o, "balances_file"), "count", json_integer(4));
}

START_TEST(test_file_hash_covers_balances)
{
    files_t t;
    files_init(&t);
    genesis_t *back = calloc(1, sizeof *back);
    char l1[200], l2[200], text[400];
    uint8_t k[BLOCK_KEY_LEN];
    ck_assert_ptr_nonnull(back);
    line_of(l1, gen_key(k, 1), "ADN", 10);
    line_of(l2, gen_key(k, 2), "ADN", 20);
    snprintf(text, sizeof text, "%s%s", l1, l2);
    file_genesis(&t, text, 2, 0, back);
    assert_edit_changes_hash(t.path, t.path2, edit_file_hash);
    assert_edit_changes_hash(t.path, t.path2, edit_file_count);
    free(back);
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

/* Write text as a balances file (count lines, its own hash unless
 * bad_hash), read it, and expect -EINVAL with where ("balances.jsonl:2:")
 * and needle in the message. */
static void assert_file_refused(const char *text, uint64_t count, int bad_hash, const char *where,
                                const char *needle)
{
    files_t t;
    files_init(&t);
    genesis_t *back = calloc(1, sizeof *back);
    char err[GENESIS_ERR_MAX] = "";
    ck_assert_ptr_nonnull(back);
    file_genesis(&t, text, count, bad_hash, back);
    ck_assert_int_eq(genesis_balances_foreach(back, collect, &(got_t){0}, NULL, NULL, err,
                                              sizeof err), -EINVAL);
    ck_assert_msg(strstr(err, where) != NULL, "message lacks '%s': %s", where, err);
    ck_assert_msg(strstr(err, needle) != NULL, "message lacks '%s': %s", needle, err);
    free(back);
    tmp_dir_cleanup(&t.tmp);
}

START_TEST(test_file_refusals)
{
    char a[200], b[200], big[200], text[1024];
    uint8_t k1[BLOCK_KEY_LEN], k2[BLOCK_KEY_LEN];
    const char *HEX1 = "0101010101010101010101010101010101010101010101010101010101010101";
    memset(k1, 1, sizeof k1);
    memset(k2, 2, sizeof k2);
    line_of(a, k1, "ADN", 10);
    line_of(b, k2, "ADN", 20);
    line_of(big, k2, "ADN", INT64_MAX);

    snprintf(text, sizeof text, "%s{\"amount\": 5, \"asset\": \"ADN\", \"owner\": \"%s\"}\n", a,
             "0202020202020202020202020202020202020202020202020202020202020202");
    assert_file_refused(text, 2, 0, "balances.jsonl:2: ", "canonical line {\"amount\":5,");
    snprintf(text, sizeof text, "{\"asset\":\"ADN\",\"amount\":5,\"owner\":\"%s\"}\n", HEX1);
    assert_file_refused(text, 1, 0, "balances.jsonl:1: ", "keys sorted");
    snprintf(text, sizeof text, "{\"amount\":5,\"asset\":\"ADN\",\"owner\":\"%s\"}\n",
             "0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A");
    assert_file_refused(text, 1, 0, "balances.jsonl:1: ", "lowercase hex");
    snprintf(text, sizeof text, "{\"amount\":0,\"asset\":\"ADN\",\"owner\":\"%s\"}\n", HEX1);
    assert_file_refused(text, 1, 0, "balances.jsonl:1: ", "amount: an integer from 1 to 2^63-1");
    snprintf(text, sizeof text, "{\"amount\":5,\"asset\":\"ADN\",\"owner\":\"%.60s\"}\n", HEX1);
    assert_file_refused(text, 1, 0, "balances.jsonl:1: ", "owner: 64 hex digits");
    snprintf(text, sizeof text, "{\"amount\":5,\"asset\":\"adn\",\"owner\":\"%s\"}\n", HEX1);
    assert_file_refused(text, 1, 0, "balances.jsonl:1: ", "asset \"adn\"");
    snprintf(text, sizeof text, "%snot json\n", a);
    assert_file_refused(text, 2, 0, "balances.jsonl:2: ", "expected a JSON object");
    snprintf(text, sizeof text, "%s\n%s", a, b);
    assert_file_refused(text, 3, 0, "balances.jsonl:2: ", "expected a JSON object");
    snprintf(text, sizeof text, "%s%s", b, a);
    assert_file_refused(text, 2, 0, "balances.jsonl:2: ", "sorted by owner, then asset");
    snprintf(text, sizeof text, "%s%s", a, a);
    assert_file_refused(text, 2, 0, "balances.jsonl:2: ", "duplicate owner and asset");
    snprintf(text, sizeof text, "%s%.*s", a, (int)strlen(b) - 1, b);
    assert_file_refused(text, 2, 0, "balances.jsonl:2: ", "newline");
    snprintf(text, sizeof text, "%s%s", a, b);
    assert_file_refused(text, 1, 0, "balances.jsonl:2: ", "more lines than balances_file.count");
    assert_file_refused(text, 3, 0, "balances.jsonl: ", "2 lines, but balances_file.count is 3");
    assert_file_refused(text, 2, 1, "balances.jsonl: ", "but balances_file.hash is");
    snprintf(text, sizeof text, "%s%s", a, big);
    assert_file_refused(text, 2, 0, "balances.jsonl:2: ", "ADN add up to more than 2^63-1");
}
END_TEST

START_TEST(test_file_missing)
{
    files_t t;
    files_init(&t);
    genesis_t *back = calloc(1, sizeof *back);
    char path[TMP_PATH_MAX], err[GENESIS_ERR_MAX] = "";
    ck_assert_ptr_nonnull(back);
    file_genesis(&t, "", 0, 0, back);
    tmp_dir_path(&t.tmp, GENESIS_BALANCES_FILE, path);
    /* An empty file is a genesis without balances. */
    ck_assert_int_eq(genesis_balances_foreach(back, collect, &(got_t){0}, NULL, NULL, err,
                                              sizeof err), 0);
    unlink(path);
    ck_assert_int_eq(genesis_balances_foreach(back, collect, &(got_t){0}, NULL, NULL, err,
                                              sizeof err), -ENOENT);
    ck_assert_msg(strstr(err, path) != NULL, "%s", err);
    free(back);
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

/* A duplicate reported by the chain (its primary key) names the line. */
static int refuse_second(void *ctx, uint64_t index, const genesis_balance_t *b, char *err,
                         size_t errlen)
{
    (void)ctx, (void)b, (void)err, (void)errlen;
    return index == 1 ? -EEXIST : 0;
}

static int fail_third(void *ctx, uint64_t index, const genesis_balance_t *b, char *err,
                      size_t errlen)
{
    (void)ctx, (void)b;
    if (index < 2)
        return 0;
    snprintf(err, errlen, "disk full");
    return -ENOSPC;
}

START_TEST(test_file_callback_errors)
{
    files_t t;
    files_init(&t);
    genesis_t *back = calloc(1, sizeof *back);
    char l[3][200], text[600], err[GENESIS_ERR_MAX] = "";
    uint8_t k[BLOCK_KEY_LEN];
    ck_assert_ptr_nonnull(back);
    for (int i = 0; i < 3; i++)
        line_of(l[i], gen_key(k, (uint8_t)(0x10 * (i + 1))), "ADN", 7);
    snprintf(text, sizeof text, "%s%s%s", l[0], l[1], l[2]);
    file_genesis(&t, text, 3, 0, back);
    ck_assert_int_eq(genesis_balances_foreach(back, refuse_second, NULL, NULL, NULL, err,
                                              sizeof err), -EINVAL);
    ck_assert_msg(strstr(err, "balances.jsonl:2: duplicate owner and asset"), "%s", err);
    ck_assert_int_eq(genesis_balances_foreach(back, fail_third, NULL, NULL, NULL, err,
                                              sizeof err), -ENOSPC);
    ck_assert_msg(strstr(err, "balances.jsonl:3: disk full"), "%s", err);
    free(back);
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

static int collect_none(void *ctx, uint64_t index, const genesis_balance_t *b, char *err,
                        size_t errlen)
{
    (void)ctx, (void)index, (void)b, (void)err, (void)errlen;
    return 0;
}

/* Progress comes every GENESIS_PROGRESS_EVERY balances and at the end;
 * the totals count every balance; distinct assets are bounded. */
START_TEST(test_file_progress_and_assets)
{
    enum { N = 2 * GENESIS_PROGRESS_EVERY + 100 };
    files_t t;
    files_init(&t);
    genesis_t *back = calloc(1, sizeof *back);
    genesis_balance_t *b = calloc(N, sizeof *b);
    char path[TMP_PATH_MAX], err[GENESIS_ERR_MAX] = "";
    uint64_t calls[2] = {0, 0};
    genesis_progress_t progress = {progress_count, calls};
    genesis_totals_t totals;
    size_t len;
    ck_assert_ptr_nonnull(back);
    ck_assert_ptr_nonnull(b);
    for (uint32_t i = 0; i < N; i++) {
        b[i].owner[0] = (uint8_t)(i >> 24), b[i].owner[1] = (uint8_t)(i >> 16);
        b[i].owner[2] = (uint8_t)(i >> 8), b[i].owner[3] = (uint8_t)i;
        strcpy(b[i].asset, i % 2 ? "USD" : "ADN");
        b[i].amount = 3;
    }
    tmp_dir_path(&t.tmp, GENESIS_BALANCES_FILE, path);
    ck_assert_int_eq(genesis_balances_write(path, b, N, 0, back->balances_hash), 0);
    char *text = file_read(path, &len);
    file_genesis(&t, text, N, 0, back);
    free(text);
    ck_assert_int_eq(genesis_balances_foreach(back, collect_none, NULL, &progress, &totals, err,
                                              sizeof err), 0);
    ck_assert_uint_eq(calls[0], 3);
    ck_assert_uint_eq(calls[1], N);
    ck_assert_uint_eq(totals.n, 2);
    ck_assert_uint_eq(totals.v[0].count + totals.v[1].count, N);
    ck_assert_uint_eq(totals.v[0].amount + totals.v[1].amount, 3ULL * N);
    genesis_totals_free(&totals);
    /* GENESIS_MAX_ASSETS + 1 distinct assets are refused at the line that adds the last. */
    for (uint32_t i = 0; i <= GENESIS_MAX_ASSETS; i++)
        snprintf(b[i].asset, sizeof b[i].asset, "A%u", i);
    unlink(path);
    ck_assert_int_eq(genesis_balances_write(path, b, GENESIS_MAX_ASSETS + 1, 0,
                                            back->balances_hash), 0);
    text = file_read(path, &len);
    file_genesis(&t, text, GENESIS_MAX_ASSETS + 1, 0, back);
    free(text);
    ck_assert_int_eq(genesis_balances_foreach(back, collect_none, NULL, NULL, NULL, err,
                                              sizeof err), -EINVAL);
    ck_assert_msg(strstr(err, "balances.jsonl:1025: more than 1024 distinct assets"), "%s", err);
    free(b);
    free(back);
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

/* genesis_balances_write takes only what a balances file may hold. */
START_TEST(test_file_write_refusals)
{
    files_t t;
    files_init(&t);
    genesis_balance_t b[2];
    uint8_t hash[BLOCK_HASH_LEN];
    char path[TMP_PATH_MAX];
    genesis_t *g = sample();
    memset(b, 0, sizeof b);
    gen_key(b[0].owner, 0x20), strcpy(b[0].asset, "ADN"), b[0].amount = 1;
    gen_key(b[1].owner, 0x10), strcpy(b[1].asset, "ADN"), b[1].amount = 1;
    tmp_dir_path(&t.tmp, GENESIS_BALANCES_FILE, path);
    ck_assert_int_eq(genesis_balances_write(path, b, 2, 0, hash), -EINVAL); /* out of order */
    b[0].amount = 0;
    ck_assert_int_eq(genesis_balances_write(path, b, 1, 0, hash), -EINVAL); /* amount 0 */
    ck_assert_int_eq(access(path, F_OK), -1);                               /* nothing left */
    /* A balances_file name is a plain name beside the genesis. */
    g->balances = NULL;
    strcpy(g->balances_file, "../balances.jsonl");
    ck_assert_int_eq(genesis_save(g, t.path, 0), -EINVAL);
    strcpy(g->balances_file, ".hidden");
    ck_assert_int_eq(genesis_save(g, t.path, 0), -EINVAL);
    free(g);
    tmp_dir_cleanup(&t.tmp);
}
END_TEST

/* An operator's list: any key order and spacing, blank lines, either hex
 * case; sorted, with an added balance, and refused with file:line. */
START_TEST(test_import)
{
    files_t t;
    files_init(&t);
    char in[TMP_PATH_MAX], err[GENESIS_ERR_MAX] = "", text[2048];
    const char *H1 = "0101010101010101010101010101010101010101010101010101010101010101";
    const char *H2 = "0202020202020202020202020202020202020202020202020202020202020202";
    genesis_balance_t extra, *out = NULL;
    size_t n = 0;

    memset(&extra, 0, sizeof extra);
    memset(extra.owner, 0xff, BLOCK_KEY_LEN);
    strcpy(extra.asset, "ADN");
    extra.amount = 9;
    tmp_dir_path(&t.tmp, "in.jsonl", in);
    snprintf(text, sizeof text,
             "{ \"owner\": \"%s\", \"amount\": 20, \"asset\": \"USD\" }\n"
             "\n"
             "{\"amount\":10,\"asset\":\"ADN\",\"owner\":\"%s\"}\n"
             "  {\"asset\": \"ADN\", \"owner\": \"%s\", \"amount\": 30}",
             H2, "0202020202020202020202020202020202020202020202020202020202020202", H1);
    file_write(in, text);
    ck_assert_msg(genesis_balances_import(in, &extra, 1, &out, &n, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(out[0].owner[0], 0x01);
    ck_assert_uint_eq(out[0].amount, 30);
    ck_assert_str_eq(out[1].asset, "ADN");
    ck_assert_uint_eq(out[1].amount, 10);
    ck_assert_str_eq(out[2].asset, "USD");
    ck_assert_uint_eq(out[3].owner[0], 0xff);
    for (size_t i = 1; i < n; i++)
        ck_assert_int_lt(genesis_balance_cmp(&out[i - 1], &out[i]), 0);
    free(out);

    /* Line 3 is {"owner": "<H2>" then the rest. */
    static const struct {
        const char *rest, *where, *needle;
    } bad[] = {
        {", \"asset\": \"ADN\"}", "in.jsonl:3: ", "exactly the keys"},
        {", \"asset\": \"ADN\", \"amount\": 1, \"memo\": 1}", "in.jsonl:3: ",
         "exactly the keys"},
        {", \"asset\": \"ADN\", \"amount\": 0}", "in.jsonl:3: ", "amount"},
        {", \"asset\": \"adn\", \"amount\": 1}", "in.jsonl:3: ", "asset"},
        {", \"asset\": \"ADN\", \"amount\": 1", "in.jsonl:3: ", "JSON object"},
        {", \"asset\": \"USD\", \"amount\": 5}", "in.jsonl:3: ",
         "duplicate owner and asset (also on line 1"},
        {", \"asset\": \"ADN\", \"amount\": 9223372036854775800}", "in.jsonl:3: ",
         "ADN add up to more than 2^63-1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text,
                 "{\"owner\": \"%s\", \"asset\": \"USD\", \"amount\": 20}\n\n"
                 "{\"owner\": \"%s\"%s\n", H2, H2, bad[i].rest);
        file_write(in, text);
        out = NULL;
        ck_assert_int_eq(genesis_balances_import(in, &extra, 1, &out, &n, err, sizeof err),
                         -EINVAL);
        ck_assert_ptr_null(out);
        ck_assert_msg(strstr(err, bad[i].where) && strstr(err, bad[i].needle),
                      "case %zu: %s", i, err);
    }
    /* The added balance is one of the list: a line repeating it is a duplicate. */
    snprintf(text, sizeof text, "{\"owner\": \"%s\", \"asset\": \"ADN\", \"amount\": 1}\n",
             "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
    file_write(in, text);
    ck_assert_int_eq(genesis_balances_import(in, &extra, 1, &out, &n, err, sizeof err), -EINVAL);
    ck_assert_msg(strstr(err, "in.jsonl:1: duplicate owner and asset: the same as an added"),
                  "%s", err);
    unlink(in);
    ck_assert_int_eq(genesis_balances_import(in, NULL, 0, &out, &n, err, sizeof err), -ENOENT);
    ck_assert_msg(strstr(err, in) != NULL, "%s", err);
    tmp_dir_cleanup(&t.tmp);
}
END_TEST


/* ---- governors' signatures of a genesis (genesis_sig.h) ---- */

START_TEST(test_signatures)
{
    tmp_dir_t d;
    char path[TMP_PATH_MAX], err[GENESIS_SIG_ERR_MAX];
    uint8_t pk[5][32], sk[5][64];
    genesis_sig_t s[5];
    static genesis_sigs_t sigs;
    size_t good = 0;
    tmp_dir_init(&d, "gensig");
    tmp_dir_path(&d, GENESIS_SIGS_FILE, path);
    genesis_t *g = gen_new("delta", "adnet-test-delta");
    for (int i = 0; i < 5; i++) {
        crypto_sign_keypair(pk[i], sk[i]);
        if (i < 4)
            gen_add_governor(g, pk[i]); /* key 4 is nobody's governor */
    }
    memset(g->hash, 0x42, sizeof(g->hash));
    for (int i = 0; i < 5; i++)
        genesis_sig_make(g, pk[i], sk[i], &s[i]);

    ck_assert_int_eq(genesis_sigs_load(&sigs, path, err), -ENOENT);
    for (int i = 0; i < 2; i++)
        ck_assert_msg(genesis_sigs_add(path, g, &s[i], err) == 0, "%s", err);
    ck_assert_int_eq(genesis_sigs_add(path, g, &s[0], err), 0); /* the same again: nothing */
    genesis_sig_t other = s[0];
    other.sig[3] ^= 1;
    ck_assert_int_eq(genesis_sigs_add(path, g, &other, err), -EEXIST); /* kept as it was */
    ck_assert_int_eq(genesis_sigs_load(&sigs, path, err), 0);
    ck_assert_uint_eq(sigs.n, 2);
    ck_assert_int_eq(genesis_sigs_verify(g, &sigs, &good, err), -EACCES); /* 2 of 4 < 67% */
    ck_assert_msg(strstr(err, "2 of 4"), "%s", err);
    ck_assert_uint_eq(good, 2);
    g->gov_threshold_bps = 5000; /* 2 * 10000 >= 5000 * 4 */
    ck_assert_int_eq(genesis_sigs_verify(g, &sigs, &good, err), 0);
    g->gov_threshold_bps = 6700;
    ck_assert_msg(genesis_sigs_add(path, g, &s[2], err) == 0, "%s", err);
    ck_assert_int_eq(genesis_sigs_load(&sigs, path, err), 0);
    ck_assert_int_eq(genesis_sigs_verify(g, &sigs, &good, err), 0); /* 3 of 4 */

    /* A stranger, a repeated signer, a changed signature, another genesis. */
    genesis_sigs_t bad = sigs;
    bad.sigs[bad.n++] = s[4];
    ck_assert_int_eq(genesis_sigs_verify(g, &bad, &good, err), -EPERM);
    bad = sigs;
    bad.sigs[bad.n++] = s[1];
    ck_assert_int_eq(genesis_sigs_verify(g, &bad, &good, err), -EPERM);
    ck_assert_msg(strstr(err, "twice"), "%s", err);
    bad = sigs;
    bad.sigs[1].sig[0] ^= 1;
    ck_assert_int_eq(genesis_sigs_verify(g, &bad, &good, err), -EBADMSG);
    genesis_t *g2 = gen_new("delta", "adnet-test-delta");
    *g2 = *g;
    g2->hash[0] ^= 1;
    ck_assert_int_eq(genesis_sigs_verify(g2, &sigs, &good, err), -EXDEV);
    ck_assert_int_eq(genesis_sigs_add(path, g2, &s[3], err), -EXDEV);

    /* The file's shape is checked. */
    static const char *const texts[] = {
        "[]", "{\"chain_id\":\"x\",\"genesis_hash\":\"42\",\"signatures\":[]}",
        "{\"chain_id\":\"x\",\"genesis_hash\":\"4242424242424242424242424242424242424242424242"
        "424242424242424242\",\"signatures\":[{\"public_key\":\"00\",\"signature\":\"00\"}]}",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        file_write(path, texts[i]);
        ck_assert_int_eq(genesis_sigs_load(&sigs, path, err), -EBADMSG);
    }
    free(g2);
    free(g);
    tmp_dir_cleanup(&d);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "genesis", .tcase = "core"};
    return suite_build(&spec, SUITE_TESTS(
        test_signatures, test_round_trip, test_hash_ignores_layout, test_hash_covers_values,
        test_peer_genesis_round_trip, test_power, test_refusals, test_refuses_unknown_network,
        test_power_limit_exact, test_load_io_errors, test_chain_params,
        test_inline_hash_unchanged, test_inline_changed_after_load, test_inline_limit,
        test_file_round_trip, test_file_hash_covers_balances, test_file_refusals,
        test_file_missing, test_file_callback_errors, test_file_progress_and_assets,
        test_file_write_refusals, test_import));
}
