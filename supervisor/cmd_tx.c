/* `adnet tx KIND ...` and `adnet query WHAT ...`: build, sign and submit
 * transactions to a node's HTTP API, and read the chains' state back.
 * The API address of each chain comes from the home's configuration
 * (alpha.api.listen / delta.api.listen, which ADNET_*_API_LISTEN
 * override), exactly as `adnet run` reads it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/bech32.h"
#include "common/base/config.h"
#include "common/base/exitcode.h"
#include "common/base/fsutil.h"
#include "common/base/hex.h"
#include "common/base/keys.h"
#include "common/base/typo.h"
#include "common/store/genesis.h"
#include "proto/alpha_tx.h"
#include "proto/delta_tx.h"
#include "proto/tx.h"
#include "supervisor/cli.h"
#include "supervisor/cliopt.h"
#include "supervisor/httpc.h"
#include "supervisor/node_chains.h"
#include "supervisor/txsubmit.h"

extern char **environ;

#define DEFAULT_EXPIRY_BLOCKS 100
#define DEFAULT_TIMEOUT_S 60
#define DEFAULT_FEE_BPS 30
#define REQUEST_TIMEOUT_MS 10000 /* one HTTP request at most */
#define PATH_BUF 512

/* Options with a value; bit i of opts_t.have says option i was given. */
enum {
    O_HOME, O_CHAIN, O_FROM, O_FEE, O_EXPIRY, O_TIMEOUT, O_NONCE, O_TO, O_AMOUNT, O_ASSET,
    O_PAY, O_RECEIVE, O_MIN_OUT, O_ASSET_A, O_ASSET_B, O_AMOUNT_A, O_AMOUNT_B, O_FEE_BPS,
    O_MAX_A, O_MAX_B, O_MIN_SHARES, O_SHARES, O_MIN_A, O_MIN_B, O_HEIGHT, O_FROM_CHAIN,
    O_TO_CHAIN,
    O_NVALUED,
    O_NO_WAIT = O_NVALUED, O_JSON, O_ALL, O_HELP,
};

static const struct option long_opts[] = {
    { "home", required_argument, NULL, O_HOME },
    { "chain", required_argument, NULL, O_CHAIN },
    { "from", required_argument, NULL, O_FROM },
    { "fee", required_argument, NULL, O_FEE },
    { "expiry-blocks", required_argument, NULL, O_EXPIRY },
    { "timeout", required_argument, NULL, O_TIMEOUT },
    { "nonce", required_argument, NULL, O_NONCE },
    { "to", required_argument, NULL, O_TO },
    { "amount", required_argument, NULL, O_AMOUNT },
    { "asset", required_argument, NULL, O_ASSET },
    { "pay", required_argument, NULL, O_PAY },
    { "receive", required_argument, NULL, O_RECEIVE },
    { "min-out", required_argument, NULL, O_MIN_OUT },
    { "asset-a", required_argument, NULL, O_ASSET_A },
    { "asset-b", required_argument, NULL, O_ASSET_B },
    { "amount-a", required_argument, NULL, O_AMOUNT_A },
    { "amount-b", required_argument, NULL, O_AMOUNT_B },
    { "fee-bps", required_argument, NULL, O_FEE_BPS },
    { "max-a", required_argument, NULL, O_MAX_A },
    { "max-b", required_argument, NULL, O_MAX_B },
    { "min-shares", required_argument, NULL, O_MIN_SHARES },
    { "shares", required_argument, NULL, O_SHARES },
    { "min-a", required_argument, NULL, O_MIN_A },
    { "min-b", required_argument, NULL, O_MIN_B },
    { "height", required_argument, NULL, O_HEIGHT },
    { "from-chain", required_argument, NULL, O_FROM_CHAIN },
    { "to-chain", required_argument, NULL, O_TO_CHAIN },
    { "no-wait", no_argument, NULL, O_NO_WAIT },
    { "json", no_argument, NULL, O_JSON },
    { "all", no_argument, NULL, O_ALL },
    { "help", no_argument, NULL, O_HELP },
    { NULL, 0, NULL, 0 },
};

/* Options whose value is a decimal u64. */
static const bool opt_is_number[O_NVALUED] = {
    [O_FEE] = true, [O_EXPIRY] = true, [O_TIMEOUT] = true, [O_NONCE] = true,
    [O_AMOUNT] = true, [O_MIN_OUT] = true, [O_AMOUNT_A] = true, [O_AMOUNT_B] = true,
    [O_FEE_BPS] = true, [O_MAX_A] = true, [O_MAX_B] = true, [O_MIN_SHARES] = true,
    [O_SHARES] = true, [O_MIN_A] = true, [O_MIN_B] = true, [O_HEIGHT] = true,
};

typedef struct {
    const char *verb;               /* "tx" or "query", for messages */
    unsigned long have;             /* bit per option given */
    const char *str[O_NVALUED];     /* option values as typed */
    uint64_t num[O_NVALUED];        /* numeric option values */
    bool no_wait, json, all;
    const char *pos[4];             /* positional arguments */
    int npos;
    char home[PATH_MAX];            /* absolute node home */
    const char *chain;              /* "alpha" / "delta" */
    txsub_t api;                    /* client of the chosen chain's API */
} cli_t;

static bool has(const cli_t *c, int opt)
{
    return (c->have >> opt) & 1;
}

static void tx_usage(FILE *f)
{
    fprintf(f,
        "usage: adnet tx KIND [OPTIONS] --home DIR\n"
        "\n"
        "Kinds:\n"
        "  transfer --to ADDR --amount N [--asset A] [--chain delta|alpha]   (default chain: delta)\n"
        "  mint     --to ADDR --amount N [--asset A]              (alpha; the minter key signs)\n"
        "  burn     --amount N --to DELTA_ADDR                     (alpha)\n"
        "  bridge   --from-chain alpha|delta --to-chain delta|alpha --to ADDR --amount N\n"
        "           [--asset A]   move value to the other chain: alpha->delta is a burn,\n"
        "           delta->alpha a bridge_out; the other chain credits --to once attested\n"
        "  swap     --pay ASSET --amount N --receive ASSET --min-out N        (delta)\n"
        "  pool-create --asset-a A --amount-a N --asset-b B --amount-b N [--fee-bps N]\n"
        "  liquidity-add --asset-a A --asset-b B --max-a N --max-b N [--min-shares N]\n"
        "  liquidity-remove --asset-a A --asset-b B --shares N [--min-a N] [--min-b N]\n"
        "  stake --amount N | unstake --amount N                  (delta)\n"
        "\n"
        "Options: --from NAME (key that signs, default validator), --fee N (default the\n"
        "genesis min_fee), --expiry-blocks N (default 100), --nonce N (delta; default the\n"
        "account's), --no-wait, --json, --timeout S (default 60). ADDR may be a key name.\n"
        "Exit codes: 0 committed (or accepted with --no-wait), 100 usage error or refused\n"
        "by the node (4xx), 111 node unreachable, 5xx, or not committed in time.\n");
}

static void query_usage(FILE *f)
{
    fprintf(f,
        "usage: adnet query WHAT [ARGS] --home DIR [--chain alpha|delta] [--json]\n"
        "\n"
        "  balance ADDR|NAME               account (delta) or unspent balance (alpha)\n"
        "  records ADDR|NAME [--all]       alpha records of an owner (unspent unless --all)\n"
        "  pool A B                        a delta pool\n"
        "  block [HEIGHT|latest] --chain C a block\n"
        "  tx ID --chain C                 a committed transaction\n"
        "  supply --chain C                supply per asset\n"
        "  proof record COMMITMENT [--height H]    alpha record proof (JSON document)\n"
        "  proof nullifier NULLIFIER [--height H]  alpha nullifier proof\n"
        "  proof account ADDR|NAME                 delta account proof\n"
        "\n"
        "Exit codes: 0 ok, 100 usage error or the node refused (4xx, e.g. not_found),\n"
        "111 node unreachable or 5xx.\n");
}

static int usage_error(const cli_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const cli_t *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "adnet %s: ", c->verb);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return ADNET_EXIT_CONFIG;
}

/* Parse argv into c. Return -1 to go on, or an exit code. */
static int parse(cli_t *c, int argc, char **argv)
{
    int o;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
        if (o == O_HELP) {
            (strcmp(c->verb, "tx") == 0 ? tx_usage : query_usage)(stdout);
            return ADNET_EXIT_OK;
        }
        if (o == O_NO_WAIT) {
            c->no_wait = true;
        } else if (o == O_JSON) {
            c->json = true;
        } else if (o == O_ALL) {
            c->all = true;
        } else if (o >= 0 && o < O_NVALUED) {
            c->have |= 1UL << o;
            c->str[o] = optarg;
            if (opt_is_number[o]) {
                int r = cliopt_parse_u64(optarg, &c->num[o]);
                if (r < 0)
                    return usage_error(c, "--%s: expected a whole number 0..%" PRIu64
                                       ", got \"%s\"%s", long_opts[o].name, UINT64_MAX, optarg,
                                       r == -ERANGE ? " (too large)" : "");
            }
        } else {
            return cliopt_fail(c->verb, long_opts, o, argv);
        }
    }
    for (; optind < argc; optind++) {
        if (c->npos == (int)(sizeof(c->pos) / sizeof(c->pos[0])))
            return usage_error(c, "unexpected argument \"%s\"", argv[optind]);
        c->pos[c->npos++] = argv[optind];
    }
    if (has(c, O_CHAIN) && strcmp(c->str[O_CHAIN], "alpha") != 0 &&
        strcmp(c->str[O_CHAIN], "delta") != 0)
        return usage_error(c, "--chain: expected alpha or delta, got \"%s\"", c->str[O_CHAIN]);
    if (has(c, O_FEE_BPS) && c->num[O_FEE_BPS] > DELTA_FEE_BPS_MAX)
        return usage_error(c, "--fee-bps: at most %d", DELTA_FEE_BPS_MAX);
    if (has(c, O_TIMEOUT) && (c->num[O_TIMEOUT] == 0 || c->num[O_TIMEOUT] > 86400))
        return usage_error(c, "--timeout: expected 1..86400 seconds");
    const char *home = has(c, O_HOME) ? c->str[O_HOME] : getenv("ADNET_HOME");
    if (!home || !*home)
        return usage_error(c, "no node home: pass --home DIR or set ADNET_HOME");
    if (!realpath(home, c->home))
        return usage_error(c, "%s: %s", home, strerror(errno));
    return -1;
}

int cli_api_base(const char *verb, const char *home, const char *chain, char *base, size_t cap)
{
    char path[PATH_MAX], err[CONFIG_ERR_MAX];
    config_t cfg;
    if (fs_path(path, sizeof(path), "%s/adnet.yaml", home) < 0) {
        fprintf(stderr, "adnet %s: home path too long\n", verb);
        return ADNET_EXIT_CONFIG;
    }
    if (config_load(&cfg, NULL, node_chains, N_NODE_CHAINS, path, true, environ, NULL, 0,
                    err) < 0) {
        fprintf(stderr, "adnet %s: %s\n", verb, err);
        return ADNET_EXIT_CONFIG;
    }
    const config_chain_t *cc = config_chain(&cfg, chain);
    if (!cc || httpc_base_from_listen(base, cap, cc->api_listen) < 0) {
        fprintf(stderr, "adnet %s: %s.api.listen: cannot connect to \"%s\"\n", verb, chain,
                cc ? cc->api_listen : "");
        return ADNET_EXIT_CONFIG;
    }
    return -1;
}

/* Settle which chain the command talks to and connect a client to its API. */
static int connect_chain(cli_t *c, const char *dflt)
{
    char base[HTTPC_URL_MAX];
    int rc;
    c->chain = has(c, O_CHAIN) ? c->str[O_CHAIN] : dflt;
    if (!c->chain)
        return usage_error(c, "say which chain: --chain alpha or --chain delta");
    if ((rc = cli_api_base(c->verb, c->home, c->chain, base, sizeof(base))) >= 0)
        return rc;
    long timeout = REQUEST_TIMEOUT_MS;
    if (has(c, O_TIMEOUT) && (long)c->num[O_TIMEOUT] * 1000 < timeout)
        timeout = (long)c->num[O_TIMEOUT] * 1000;
    if (httpc_new(&c->api.http, base, timeout) < 0) {
        fprintf(stderr, "adnet %s: cannot make an HTTP client\n", c->verb);
        return ADNET_EXIT_SYSTEM;
    }
    c->api.verb = c->verb;
    c->api.json = c->json;
    c->api.timeout_s = has(c, O_TIMEOUT) ? c->num[O_TIMEOUT] : DEFAULT_TIMEOUT_S;
    return -1;
}

static int print_answer(const cli_t *c, const json_t *j)
{
    if (c->json)
        return txsub_print_json(j);
    txsub_print_human(j, 0);
    return ADNET_EXIT_OK;
}

/* ---- keys and addresses ------------------------------------------------- */

static int load_key(cli_t *c, const char *name, keys_pair_t *kp)
{
    return txsub_load_key(c->verb, c->home, name, kp);
}

/* An address "ad1..." or the name of a key in <home>/keys. */
static int resolve_address(cli_t *c, const char *opt, const char *arg, uint8_t pk[32])
{
    const char *why = NULL;
    if (strncmp(arg, ADDRESS_HRP "1", 3) == 0 || strncmp(arg, "AD1", 3) == 0) {
        if (address_decode(pk, arg, &why) == 0)
            return -1;
    }
    char path[PATH_MAX];
    if (!strchr(arg, '/') && arg[0] != '.' && strlen(arg) <= KEYS_NAME_MAX &&
        fs_path(path, sizeof(path), "%s/keys/%s.json", c->home, arg) == 0 && fs_exists(path)) {
        keys_pair_t kp;
        int rc = load_key(c, arg, &kp);
        if (rc >= 0)
            return rc;
        memcpy(pk, kp.pk, 32);
        keys_wipe(&kp);
        return -1;
    }
    return usage_error(c, "%s%s\"%s\" is neither an address (%s) nor a key name in %s/keys",
                       opt ? opt : "", opt ? ": " : "", arg, why ? why : "not ad1...", c->home);
}

/* ---- transactions ------------------------------------------------------- */

typedef struct {
    char chain_id[BLOCK_CHAIN_ID_MAX + 1];
    uint64_t height;      /* tip at the time of asking */
    uint64_t min_fee;
    char fee_asset[GENESIS_ASSET_MAX + 1];
} chain_facts_t;

static int fetch_facts(cli_t *c, chain_facts_t *f)
{
    json_t *gen = NULL;
    int rc = txsub_tip(&c->api, f->chain_id, &f->height);
    if (rc >= 0 || (rc = txsub_get(&c->api, "/network/genesis", &gen)) >= 0)
        goto out;
    const json_t *params = json_object_get(gen, "params");
    if (txsub_json_u64(params, "min_fee", &f->min_fee) < 0)
        f->min_fee = GENESIS_DEFAULT_MIN_FEE;
    const char *fa = json_string_value(json_object_get(params, "fee_asset"));
    snprintf(f->fee_asset, sizeof(f->fee_asset), "%s",
             fa && strlen(fa) <= GENESIS_ASSET_MAX ? fa : GENESIS_DEFAULT_FEE_ASSET);
    rc = -1;
out:
    json_decref(gen);
    return rc;
}

static int need(cli_t *c, const char *kind, int opt)
{
    if (has(c, opt))
        return -1;
    return usage_error(c, "%s needs --%s", kind, long_opts[opt].name);
}

static int check_asset(cli_t *c, int opt, const char *s)
{
    if (tx_asset_is_valid(s))
        return -1;
    return usage_error(c, "--%s: \"%s\" is not an asset name (1-%d of A-Z 0-9 -)",
                       long_opts[opt].name, s, DELTA_ASSET_MAX);
}

/* Sign, submit, and (unless --no-wait) wait; print the outcome. outputs
 * (may be NULL) lists alpha records created, for the user to find them. */
static int submit(cli_t *c, tx_t *tx, const keys_pair_t *kp, json_t *outputs)
{
    char idhex[TXSUB_ID_HEX];
    int rc = txsub_post(&c->api, tx, kp->sk, idhex);
    if (rc >= 0)
        return rc;
    rc = ADNET_EXIT_SYSTEM;
    uint64_t height = 0;
    if (!c->no_wait && (rc = txsub_wait(&c->api, idhex, tx->expiry_height, &height)) >= 0)
        return rc;
    if (c->json) {
        json_t *o = json_pack("{s:s, s:s}", "id", idhex, "status",
                              c->no_wait ? "pending" : "committed");
        if (!o)
            return rc;
        if (!c->no_wait)
            json_object_set_new(o, "height", json_integer((json_int_t)height));
        if (outputs)
            json_object_set(o, "outputs", outputs);
        json_dumpf(o, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(o);
    } else {
        printf("%s\n", idhex);
        size_t i;
        json_t *e;
        json_array_foreach(outputs, i, e)
            printf("output %s: %" JSON_INTEGER_FORMAT " %s to %s\n",
                   json_string_value(json_object_get(e, "commitment")),
                   json_integer_value(json_object_get(e, "amount")),
                   json_string_value(json_object_get(e, "asset")),
                   json_string_value(json_object_get(e, "owner")));
        if (c->no_wait)
            printf("pending\n");
        else
            printf("committed in block %" PRIu64 "\n", height);
    }
    return fflush(stdout) == 0 ? ADNET_EXIT_OK : ADNET_EXIT_SYSTEM;
}

/* Describe an alpha output record for the user: {"commitment","owner","asset","amount"}.
 * Amounts above INT64_MAX are refused here, as the chain refuses them. */
static int note_output(json_t *outputs, const alpha_record_t *rec)
{
    uint8_t cm[ALPHA_HASH_LEN];
    char cmhex[2 * ALPHA_HASH_LEN + 1], addr[ADDRESS_MAX];
    if (alpha_record_commitment(rec->owner, rec->asset, rec->amount, rec->salt, cm) < 0 ||
        address_encode(addr, rec->owner) < 0 || rec->amount > INT64_MAX)
        return -EINVAL;
    hex_encode(cmhex, cm, sizeof(cm));
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "commitment", cmhex, "owner", addr, "asset",
                          rec->asset, "amount", (json_int_t)rec->amount);
    if (!o || json_array_append_new(outputs, o) < 0)
        return -ENOMEM;
    return 0;
}

typedef struct {
    uint64_t amount;
    uint8_t cm[ALPHA_HASH_LEN];
} coin_t;

static int coin_cmp_desc(const void *a, const void *b)
{
    uint64_t x = ((const coin_t *)a)->amount, y = ((const coin_t *)b)->amount;
    return (x < y) - (x > y);
}

/* Choose unspent fee-asset records of owner covering need (largest first,
 * at most ALPHA_MAX_INPUTS) into p->in; set *total. */
static int pick_inputs(cli_t *c, const uint8_t owner[32], const char *asset, uint64_t need_amt,
                       alpha_payload_t *p, uint64_t *total)
{
    char addr[ADDRESS_MAX], path[PATH_BUF];
    json_t *j = NULL;
    coin_t *coins = NULL;
    size_t n = 0, i;
    json_t *e;
    int rc;
    address_encode(addr, owner);
    snprintf(path, sizeof(path), "/owners/%s/records?unspent=true", addr);
    if ((rc = txsub_get(&c->api, path, &j)) >= 0)
        goto out;
    json_t *recs = json_object_get(j, "records");
    rc = ADNET_EXIT_SYSTEM;
    if (!(coins = calloc(json_array_size(recs) + 1, sizeof(*coins))))
        goto out;
    json_array_foreach(recs, i, e) {
        const char *a = json_string_value(json_object_get(e, "asset"));
        const char *cm = json_string_value(json_object_get(e, "commitment"));
        uint64_t amt;
        if (!a || strcmp(a, asset) != 0 || !json_is_null(json_object_get(e, "spent_height")) ||
            !cm || txsub_json_u64(e, "amount", &amt) < 0 || amt == 0 ||
            hex_decode(coins[n].cm, ALPHA_HASH_LEN, cm) < 0)
            continue;
        coins[n++].amount = amt;
    }
    qsort(coins, n, sizeof(*coins), coin_cmp_desc);
    uint64_t sum = 0, avail = 0;
    for (i = 0; i < n; i++)
        avail = avail + coins[i].amount < avail ? UINT64_MAX : avail + coins[i].amount;
    p->n_in = 0;
    for (i = 0; i < n && sum < need_amt; i++) {
        if (p->n_in == ALPHA_MAX_INPUTS) {
            rc = usage_error(c, "%s needs more than %d records to pay %" PRIu64 " %s: "
                             "send smaller amounts, or to yourself first to merge records",
                             addr, ALPHA_MAX_INPUTS, need_amt, asset);
            goto out;
        }
        if (coins[i].amount > UINT64_MAX - sum) {
            rc = usage_error(c, "the records of %s overflow a 64-bit sum", addr);
            goto out;
        }
        memcpy(p->in[p->n_in++], coins[i].cm, ALPHA_HASH_LEN);
        sum += coins[i].amount;
    }
    if (sum < need_amt) {
        rc = usage_error(c, "%s holds %" PRIu64 " %s in %zu unspent records, short of %" PRIu64
                         " (amount + fee)", addr, avail, asset, n, need_amt);
        goto out;
    }
    *total = sum;
    rc = -1;
out:
    free(coins);
    json_decref(j);
    return rc;
}

/* build_alpha for the kinds that spend the sender's records: a transfer
 * to --to, or (burn) a burn noting --to as the delta account to credit:
 * both `adnet tx burn` and `adnet tx bridge --from-chain alpha` build this.
 * The change goes back to the sender. Return -1 once *p is filled, or the
 * exit code to end with (the mistake printed). */
static int build_alpha_spend(cli_t *c, const char *kind, bool burn, const chain_facts_t *f,
                             uint64_t fee, const keys_pair_t *kp, alpha_payload_t *p)
{
    int rc;
    if ((rc = need(c, kind, O_TO)) >= 0 || (rc = need(c, kind, O_AMOUNT)) >= 0)
        return rc;
    uint64_t amount = c->num[O_AMOUNT], total = 0;
    if (amount > UINT64_MAX - fee)
        return usage_error(c, "amount %" PRIu64 " + fee %" PRIu64 " overflows", amount, fee);
    if (has(c, O_ASSET) && strcmp(c->str[O_ASSET], f->fee_asset) != 0)
        return usage_error(c, "alpha moves only its fee asset %s", f->fee_asset);
    uint8_t to[32];
    if ((rc = resolve_address(c, "--to", c->str[O_TO], to)) >= 0)
        return rc;
    if ((rc = pick_inputs(c, kp->pk, f->fee_asset, amount + fee, p, &total)) >= 0)
        return rc;
    p->kind = burn ? ALPHA_TX_BURN : ALPHA_TX_TRANSFER;
    if (burn) {
        p->burn_amount = amount;
        memcpy(p->recipient, to, 32);
    } else {
        memcpy(p->out[p->n_out].owner, to, 32);
        snprintf(p->out[p->n_out].asset, sizeof(p->out[0].asset), "%s", f->fee_asset);
        p->out[p->n_out].amount = amount;
        randombytes_buf(p->out[p->n_out].salt, 32);
        p->n_out++;
    }
    uint64_t change = total - amount - fee;
    if (change > 0) {
        memcpy(p->out[p->n_out].owner, kp->pk, 32);
        snprintf(p->out[p->n_out].asset, sizeof(p->out[0].asset), "%s", f->fee_asset);
        p->out[p->n_out].amount = change;
        randombytes_buf(p->out[p->n_out].salt, 32);
        p->n_out++;
    }
    return -1;
}

/* Fill *p (and tx's kind) with the alpha transaction of this kind; note
 * the records it creates in outputs. "bridge" is a burn. Return -1 once
 * *p is filled, or the exit code to end with (the mistake printed). */
static int build_alpha(cli_t *c, const char *kind, const chain_facts_t *f, tx_t *tx,
                       const keys_pair_t *kp, alpha_payload_t *p, json_t *outputs)
{
    int rc;
    memset(p, 0, sizeof(*p));
    if (strcmp(kind, "mint") == 0) {
        if ((rc = need(c, kind, O_TO)) >= 0 || (rc = need(c, kind, O_AMOUNT)) >= 0)
            return rc;
        p->kind = ALPHA_TX_MINT;
        p->n_out = 1;
        if ((rc = resolve_address(c, "--to", c->str[O_TO], p->out[0].owner)) >= 0)
            return rc;
        const char *asset = has(c, O_ASSET) ? c->str[O_ASSET] : f->fee_asset;
        if (!tx_asset_is_valid(asset))
            return usage_error(c, "--asset: \"%s\" is not an asset symbol", asset);
        snprintf(p->out[0].asset, sizeof(p->out[0].asset), "%s", asset);
        p->out[0].amount = c->num[O_AMOUNT];
        randombytes_buf(p->out[0].salt, sizeof(p->out[0].salt));
    } else if (strcmp(kind, "transfer") == 0 || strcmp(kind, "burn") == 0 ||
               strcmp(kind, "bridge") == 0) {
        if ((rc = build_alpha_spend(c, kind, kind[0] == 'b', f, tx->fee, kp, p)) >= 0)
            return rc;
    } else {
        return usage_error(c, "alpha has no transaction kind \"%s\" (mint, transfer, burn, "
                           "bridge)", kind);
    }
    for (uint16_t i = 0; i < p->n_out; i++)
        if (note_output(outputs, &p->out[i]) < 0)
            return usage_error(c, "output record: amount %" PRIu64 " is above %" PRId64,
                               p->out[i].amount, INT64_MAX);
    tx->kind = p->kind;
    tx->nonce = 0;
    return -1;
}

/* build_delta for the pool kinds: pool-create, liquidity-add and
 * liquidity-remove, into the zeroed *p. Return -1 once *p is filled, or
 * the exit code to end with (the mistake printed). */
static int build_delta_pool(cli_t *c, const char *kind, delta_payload_t *p)
{
    int rc;
    if ((rc = need(c, kind, O_ASSET_A)) >= 0 || (rc = need(c, kind, O_ASSET_B)) >= 0 ||
        (rc = check_asset(c, O_ASSET_A, c->str[O_ASSET_A])) >= 0 ||
        (rc = check_asset(c, O_ASSET_B, c->str[O_ASSET_B])) >= 0)
        return rc;
    int order = strcmp(c->str[O_ASSET_A], c->str[O_ASSET_B]);
    if (order == 0)
        return usage_error(c, "--asset-a and --asset-b name the same asset");
    /* The chain names a pool by its pair in canonical order; swap for the user. */
    bool flip = order > 0;
    const char *a = c->str[flip ? O_ASSET_B : O_ASSET_A];
    const char *b = c->str[flip ? O_ASSET_A : O_ASSET_B];
    if (kind[0] == 'p') {
        if ((rc = need(c, kind, O_AMOUNT_A)) >= 0 || (rc = need(c, kind, O_AMOUNT_B)) >= 0)
            return rc;
        p->kind = DELTA_TX_POOL_CREATE;
        delta_pool_create_t *q = &p->u.pool_create;
        snprintf(q->asset_a, sizeof(q->asset_a), "%s", a);
        snprintf(q->asset_b, sizeof(q->asset_b), "%s", b);
        q->amount_a = c->num[flip ? O_AMOUNT_B : O_AMOUNT_A];
        q->amount_b = c->num[flip ? O_AMOUNT_A : O_AMOUNT_B];
        q->fee_bps = has(c, O_FEE_BPS) ? (uint16_t)c->num[O_FEE_BPS] : DEFAULT_FEE_BPS;
    } else if (strcmp(kind, "liquidity-add") == 0) {
        if ((rc = need(c, kind, O_MAX_A)) >= 0 || (rc = need(c, kind, O_MAX_B)) >= 0)
            return rc;
        p->kind = DELTA_TX_LIQUIDITY_ADD;
        delta_liquidity_add_t *q = &p->u.liquidity_add;
        snprintf(q->asset_a, sizeof(q->asset_a), "%s", a);
        snprintf(q->asset_b, sizeof(q->asset_b), "%s", b);
        q->max_a = c->num[flip ? O_MAX_B : O_MAX_A];
        q->max_b = c->num[flip ? O_MAX_A : O_MAX_B];
        q->min_shares = has(c, O_MIN_SHARES) ? c->num[O_MIN_SHARES] : 0;
    } else {
        if ((rc = need(c, kind, O_SHARES)) >= 0)
            return rc;
        p->kind = DELTA_TX_LIQUIDITY_REMOVE;
        delta_liquidity_remove_t *q = &p->u.liquidity_remove;
        snprintf(q->asset_a, sizeof(q->asset_a), "%s", a);
        snprintf(q->asset_b, sizeof(q->asset_b), "%s", b);
        q->shares = c->num[O_SHARES];
        q->min_a = c->num[flip ? O_MIN_B : O_MIN_A]; /* 0 when not given */
        q->min_b = c->num[flip ? O_MIN_A : O_MIN_B];
    }
    return -1;
}

/* Fill *p with the delta transaction of this kind from the options
 * ("bridge" is a bridge_out). Return -1 once *p is filled, or the exit code to end with (the mistake
 * printed). */
static int build_delta(cli_t *c, const char *kind, delta_payload_t *p)
{
    int rc;
    memset(p, 0, sizeof(*p));
    if (strcmp(kind, "transfer") == 0 || strcmp(kind, "bridge") == 0) {
        /* A bridge_out carries what a transfer does: --to is the alpha owner to credit. */
        if ((rc = need(c, kind, O_TO)) >= 0 || (rc = need(c, kind, O_AMOUNT)) >= 0)
            return rc;
        p->kind = kind[0] == 't' ? DELTA_TX_TRANSFER : DELTA_TX_BRIDGE_OUT;
        if ((rc = resolve_address(c, "--to", c->str[O_TO], p->u.transfer.to)) >= 0)
            return rc;
        const char *asset = has(c, O_ASSET) ? c->str[O_ASSET] : GENESIS_DEFAULT_FEE_ASSET;
        if ((rc = check_asset(c, O_ASSET, asset)) >= 0)
            return rc;
        snprintf(p->u.transfer.asset, sizeof(p->u.transfer.asset), "%s", asset);
        p->u.transfer.amount = c->num[O_AMOUNT];
    } else if (strcmp(kind, "swap") == 0) {
        if ((rc = need(c, kind, O_PAY)) >= 0 || (rc = need(c, kind, O_AMOUNT)) >= 0 ||
            (rc = need(c, kind, O_RECEIVE)) >= 0 || (rc = need(c, kind, O_MIN_OUT)) >= 0 ||
            (rc = check_asset(c, O_PAY, c->str[O_PAY])) >= 0 ||
            (rc = check_asset(c, O_RECEIVE, c->str[O_RECEIVE])) >= 0)
            return rc;
        if (strcmp(c->str[O_PAY], c->str[O_RECEIVE]) == 0)
            return usage_error(c, "--pay and --receive name the same asset");
        p->kind = DELTA_TX_SWAP;
        snprintf(p->u.swap.asset_in, sizeof(p->u.swap.asset_in), "%s", c->str[O_PAY]);
        snprintf(p->u.swap.asset_out, sizeof(p->u.swap.asset_out), "%s", c->str[O_RECEIVE]);
        p->u.swap.amount_in = c->num[O_AMOUNT];
        p->u.swap.min_out = c->num[O_MIN_OUT];
    } else if (strcmp(kind, "pool-create") == 0 || strcmp(kind, "liquidity-add") == 0 ||
               strcmp(kind, "liquidity-remove") == 0) {
        return build_delta_pool(c, kind, p);
    } else if (strcmp(kind, "stake") == 0 || strcmp(kind, "unstake") == 0) {
        if ((rc = need(c, kind, O_AMOUNT)) >= 0)
            return rc;
        p->kind = kind[0] == 's' ? DELTA_TX_STAKE : DELTA_TX_UNSTAKE;
        p->u.stake.amount = c->num[O_AMOUNT];
    } else {
        return usage_error(c, "delta has no transaction kind \"%s\" (transfer, swap, "
                           "pool-create, liquidity-add, liquidity-remove, stake, unstake, "
                           "bridge)", kind);
    }
    return -1;
}

static int delta_nonce(cli_t *c, const uint8_t pk[32], uint64_t *nonce)
{
    char addr[ADDRESS_MAX], path[PATH_BUF];
    json_t *acct = NULL;
    address_encode(addr, pk);
    snprintf(path, sizeof(path), "/accounts/%s", addr);
    int rc = txsub_get(&c->api, path, &acct);
    if (rc < 0 && txsub_json_u64(acct, "nonce", nonce) < 0) {
        fprintf(stderr, "adnet tx: GET %s: no nonce in the answer\n", path);
        rc = ADNET_EXIT_SYSTEM;
    }
    json_decref(acct);
    return rc;
}

/* Both chains' names, for `adnet tx bridge`. */
static const char *const chain_names[] = { "alpha", "delta" };

/* Check a --from-chain/--to-chain value; say the nearest name if it is none. */
static int check_chain_name(cli_t *c, int opt)
{
    const char *v = c->str[opt], *near = chain_names[0];
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < sizeof(chain_names) / sizeof(chain_names[0]); i++) {
        if (strcmp(v, chain_names[i]) == 0)
            return -1;
        size_t d = typo_distance(v, strlen(v), chain_names[i], strlen(chain_names[i]));
        if (d < best) {
            best = d;
            near = chain_names[i];
        }
    }
    if (best <= 2)
        return usage_error(c, "--%s: unknown chain \"%s\" (did you mean %s?)",
                           long_opts[opt].name, v, near);
    return usage_error(c, "--%s: unknown chain \"%s\" (expected alpha or delta)",
                       long_opts[opt].name, v);
}

/* `adnet tx bridge`: check the route and send the transaction to the
 * source chain, whose builders take "bridge" as the kind that moves value
 * out: alpha's burn, delta's bridge_out. Return -1, or an exit code. */
static int bridge_route(cli_t *c)
{
    int rc;
    if ((rc = need(c, "bridge", O_FROM_CHAIN)) >= 0 || (rc = need(c, "bridge", O_TO_CHAIN)) >= 0 ||
        (rc = check_chain_name(c, O_FROM_CHAIN)) >= 0 ||
        (rc = check_chain_name(c, O_TO_CHAIN)) >= 0)
        return rc;
    const char *from = c->str[O_FROM_CHAIN], *to = c->str[O_TO_CHAIN];
    if (strcmp(from, to) == 0)
        return usage_error(c, "--from-chain and --to-chain are both %s: a bridge moves value "
                           "to the other chain", from);
    if ((rc = need(c, "bridge", O_TO)) >= 0 || (rc = need(c, "bridge", O_AMOUNT)) >= 0)
        return rc;
    if (has(c, O_CHAIN) && strcmp(c->str[O_CHAIN], from) != 0)
        return usage_error(c, "--chain %s contradicts --from-chain %s (a bridge is sent to "
                           "its source chain)", c->str[O_CHAIN], from);
    c->have |= 1UL << O_CHAIN;
    c->str[O_CHAIN] = from;
    return -1;
}

static const char *default_chain_of(const char *kind)
{
    if (strcmp(kind, "mint") == 0 || strcmp(kind, "burn") == 0)
        return "alpha";
    return "delta";
}

/* Start *tx: chain id, sender, fee and expiry height from the options
 * and the chain's facts. Return -1, or the exit code (the mistake printed). */
static int tx_header(cli_t *c, const chain_facts_t *f, const uint8_t sender[32], tx_t *tx)
{
    memset(tx, 0, sizeof(*tx));
    snprintf(tx->chain_id, sizeof(tx->chain_id), "%s", f->chain_id);
    memcpy(tx->sender, sender, sizeof(tx->sender));
    tx->fee = has(c, O_FEE) ? c->num[O_FEE] : f->min_fee;
    uint64_t blocks = has(c, O_EXPIRY) ? c->num[O_EXPIRY] : DEFAULT_EXPIRY_BLOCKS;
    if (blocks > UINT64_MAX - f->height)
        return usage_error(c, "--expiry-blocks: too large");
    tx->expiry_height = f->height + blocks;
    return -1;
}

int cmd_tx(int argc, char **argv)
{
    cli_t c;
    keys_pair_t kp;
    chain_facts_t f;
    json_t *outputs = NULL;
    uint8_t payload[ALPHA_PAYLOAD_MAX > DELTA_PAYLOAD_MAX ? ALPHA_PAYLOAD_MAX : DELTA_PAYLOAD_MAX];
    alpha_payload_t *ap = NULL;
    int rc, r;

    memset(&c, 0, sizeof(c));
    memset(&kp, 0, sizeof(kp));
    c.verb = "tx";
    if (argc < 2) {
        tx_usage(stderr);
        return ADNET_EXIT_CONFIG;
    }
    if ((rc = parse(&c, argc, argv)) >= 0)
        return rc;
    if (c.npos != 1) {
        tx_usage(stderr);
        return ADNET_EXIT_CONFIG;
    }
    const char *kind = c.pos[0];
    if (sodium_init() < 0) {
        fprintf(stderr, "adnet tx: libsodium failed to initialise\n");
        return ADNET_EXIT_SYSTEM;
    }
    if (strcmp(kind, "bridge") == 0 && (rc = bridge_route(&c)) >= 0)
        goto out;
    if ((rc = connect_chain(&c, default_chain_of(kind))) >= 0)
        goto out;
    if ((rc = load_key(&c, has(&c, O_FROM) ? c.str[O_FROM] : "validator", &kp)) >= 0)
        goto out;
    /* A delta payload needs nothing from the node: check the user's input first. */
    delta_payload_t dp;
    bool delta = strcmp(c.chain, "delta") == 0;
    if (delta && (rc = build_delta(&c, kind, &dp)) >= 0)
        goto out;
    if ((rc = fetch_facts(&c, &f)) >= 0)
        goto out;

    tx_t tx;
    if ((rc = tx_header(&c, &f, kp.pk, &tx)) >= 0)
        goto out;

    size_t plen = 0;
    if (!delta) {
        rc = ADNET_EXIT_SYSTEM;
        if (!(outputs = json_array()) || !(ap = malloc(sizeof(*ap))))
            goto out;
        if ((rc = build_alpha(&c, kind, &f, &tx, &kp, ap, outputs)) >= 0)
            goto out;
        r = alpha_payload_encode(ap, payload, sizeof(payload), &plen);
    } else {
        tx.kind = dp.kind;
        if (has(&c, O_NONCE))
            tx.nonce = c.num[O_NONCE];
        else if ((rc = delta_nonce(&c, kp.pk, &tx.nonce)) >= 0)
            goto out;
        r = delta_payload_encode(&dp, payload, sizeof(payload), &plen);
    }
    if (r < 0) {
        rc = usage_error(&c, "cannot encode the %s payload: %s", kind, strerror(-r));
        goto out;
    }
    tx.payload = payload;
    tx.payload_len = plen;
    rc = submit(&c, &tx, &kp, outputs);
out:
    keys_wipe(&kp);
    free(ap);
    json_decref(outputs);
    httpc_free(c.api.http);
    return rc;
}

/* ---- queries ------------------------------------------------------------ */

static int query_get_print(cli_t *c, const char *path)
{
    json_t *j = NULL;
    int rc = txsub_get(&c->api, path, &j);
    if (rc >= 0)
        return rc;
    rc = print_answer(c, j);
    json_decref(j);
    return rc;
}

static bool is_hex64(const char *s)
{
    uint8_t tmp[32];
    return strlen(s) == 64 && hex_decode(tmp, 32, s) == 0;
}

static int query_proof(cli_t *c)
{
    char path[PATH_BUF], q[40] = "";
    if (c->npos != 3)
        return usage_error(c, "usage: adnet query proof record|nullifier|account KEY");
    const char *what = c->pos[1], *key = c->pos[2];
    int rc;
    if (has(c, O_HEIGHT))
        snprintf(q, sizeof(q), "?height=%" PRIu64, c->num[O_HEIGHT]);
    if (strcmp(what, "record") == 0 || strcmp(what, "nullifier") == 0) {
        if (!is_hex64(key))
            return usage_error(c, "a %s is 64 hex digits, got \"%s\"", what, key);
        if ((rc = connect_chain(c, "alpha")) >= 0)
            return rc;
        snprintf(path, sizeof(path), "/proofs/%ss/%s%s", what, key, q);
    } else if (strcmp(what, "account") == 0) {
        uint8_t pk[32];
        char addr[ADDRESS_MAX];
        if ((rc = resolve_address(c, NULL, key, pk)) >= 0)
            return rc;
        if ((rc = connect_chain(c, "delta")) >= 0)
            return rc;
        address_encode(addr, pk);
        snprintf(path, sizeof(path), "/accounts/%s/proof%s", addr, q);
    } else {
        return usage_error(c, "proof of what? record, nullifier or account (got \"%s\")", what);
    }
    json_t *j = NULL;
    if ((rc = txsub_get(&c->api, path, &j)) >= 0)
        return rc;
    rc = txsub_print_json(j); /* the document verify-proof reads, --json or not */
    json_decref(j);
    return rc;
}

/* `adnet query balance|records ADDR|NAME`. Return the exit code. */
static int query_owner(cli_t *c, const char *what)
{
    char path[PATH_BUF], addr[ADDRESS_MAX];
    uint8_t pk[32];
    int rc;
    bool records = what[0] == 'r';
    if (c->npos != 2)
        return usage_error(c, "usage: adnet query %s ADDR|NAME", what);
    if ((rc = resolve_address(c, NULL, c->pos[1], pk)) >= 0)
        return rc;
    if ((rc = connect_chain(c, records ? "alpha" : "delta")) >= 0)
        return rc;
    address_encode(addr, pk);
    if (strcmp(c->chain, "delta") == 0 && !records)
        snprintf(path, sizeof(path), "/accounts/%s", addr);
    else if (strcmp(c->chain, "alpha") == 0)
        snprintf(path, sizeof(path), "/owners/%s/records%s", addr,
                 records && c->all ? "" : "?unspent=true");
    else
        return usage_error(c, "records live on alpha (--chain alpha)");
    return query_get_print(c, path);
}

/* `adnet query pool ASSET ASSET`, in either order. Return the exit code. */
static int query_pool(cli_t *c)
{
    char path[PATH_BUF];
    int rc;
    if (c->npos != 3)
        return usage_error(c, "usage: adnet query pool ASSET ASSET");
    const char *a = c->pos[1], *b = c->pos[2];
    if (!tx_asset_is_valid(a) || !tx_asset_is_valid(b) || strcmp(a, b) == 0)
        return usage_error(c, "a pool is two different assets (1-%d of A-Z 0-9 -)",
                           DELTA_ASSET_MAX);
    if ((rc = connect_chain(c, "delta")) >= 0)
        return rc;
    if (strcmp(a, b) > 0) {
        const char *t = a;
        a = b;
        b = t;
    }
    snprintf(path, sizeof(path), "/pools/%s/%s", a, b);
    return query_get_print(c, path);
}

/* `adnet query block [HEIGHT|latest]`. Return the exit code. */
static int query_block(cli_t *c)
{
    char path[PATH_BUF];
    uint64_t h = 0;
    int rc;
    if (c->npos > 2)
        return usage_error(c, "usage: adnet query block [HEIGHT|latest] --chain C");
    bool latest = c->npos == 1 || strcmp(c->pos[1], "latest") == 0;
    if (!latest && cliopt_parse_u64(c->pos[1], &h) < 0)
        return usage_error(c, "block: expected a height or \"latest\", got \"%s\"",
                           c->pos[1]);
    if ((rc = connect_chain(c, NULL)) >= 0)
        return rc;
    if (latest)
        snprintf(path, sizeof(path), "/blocks/latest");
    else
        snprintf(path, sizeof(path), "/blocks/%" PRIu64, h);
    return query_get_print(c, path);
}

int cmd_query(int argc, char **argv)
{
    cli_t c;
    char path[PATH_BUF];
    int rc;

    memset(&c, 0, sizeof(c));
    c.verb = "query";
    if (argc < 2) {
        query_usage(stderr);
        return ADNET_EXIT_CONFIG;
    }
    if ((rc = parse(&c, argc, argv)) >= 0)
        return rc;
    if (c.npos < 1) {
        query_usage(stderr);
        return ADNET_EXIT_CONFIG;
    }
    const char *what = c.pos[0];
    if (strcmp(what, "balance") == 0 || strcmp(what, "records") == 0) {
        rc = query_owner(&c, what);
    } else if (strcmp(what, "pool") == 0) {
        rc = query_pool(&c);
    } else if (strcmp(what, "block") == 0) {
        rc = query_block(&c);
    } else if (strcmp(what, "tx") == 0) {
        if (c.npos != 2 || !is_hex64(c.pos[1]))
            return usage_error(&c, "usage: adnet query tx ID --chain C (ID: 64 hex digits)");
        if ((rc = connect_chain(&c, NULL)) >= 0)
            goto out;
        snprintf(path, sizeof(path), "/txs/%s", c.pos[1]);
        rc = query_get_print(&c, path);
    } else if (strcmp(what, "supply") == 0) {
        if (c.npos != 1)
            return usage_error(&c, "usage: adnet query supply --chain C");
        if ((rc = connect_chain(&c, NULL)) >= 0)
            goto out;
        rc = query_get_print(&c, "/supply");
    } else if (strcmp(what, "proof") == 0) {
        rc = query_proof(&c);
    } else {
        rc = usage_error(&c, "unknown query \"%s\" (adnet query --help)", what);
    }
out:
    httpc_free(c.api.http);
    return rc;
}
