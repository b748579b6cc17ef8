/* `adnet gov VERB ...`: governance from the command line. A proposal is
 * made (propose), governors sign what it asks them to sign offline or
 * online (sign), their signatures are gathered into one attestation
 * (attest) or they vote (vote), a dry run shows what it would change
 * (shadow), and an approved proposal that waits for its activation is
 * applied (apply); show and list read the node's record. Each step is an
 * ordinary transaction of a governance kind (proto/gov.h) with fee 0,
 * signed by a key of the home, sent to the chain's API and waited for.
 * Steps are safe to repeat: a proposal that exists, an approval or
 * application that happened, or the same vote again print the record the
 * node keeps (its journal's receipt) instead of sending anything. */
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
#include <strings.h>

#include "common/base/bech32.h"
#include "common/base/exitcode.h"
#include "common/base/fsutil.h"
#include "common/base/hex.h"
#include "common/base/keys.h"
#include "common/base/typo.h"
#include "common/node/gov/program.h"
#include "proto/gov.h"
#include "proto/tx.h"
#include "supervisor/cli.h"
#include "supervisor/cliopt.h"
#include "supervisor/httpc.h"
#include "supervisor/txsubmit.h"

#define EXPIRY_BLOCKS 100         /* a governance transaction's expiry: tip + this */
#define REQUEST_TIMEOUT_MS 30000  /* one HTTP request at most (a shadow run included) */
#define PROGRAM_FILE_MAX (1u << 20)
#define SIG_FILE_MAX (64u << 10)
#define REQUEST_FILE_MAX (16u << 20)
#define HEX32 (2 * 32 + 1)
#define PATH_BUF 512
#define SHADOW_WOULD_FAIL 1       /* exit code: the shadow run says the action would fail */

/* Options with a value; bit i of gov_cli_t.have says option i was given. */
enum {
    G_HOME, G_CHAIN, G_ACTION, G_NAME, G_PROGRAM, G_POLICY, G_ACTIVATION, G_KEY, G_NONCE,
    G_PARAM, G_VALUE, G_GOVERNOR, G_THRESHOLD, G_OUT, G_REQUEST, G_SIG, G_CHOICE, G_STATE,
    G_TIMEOUT,
    G_NVALUED,
    G_JSON = G_NVALUED, G_HELP,
};

static const struct option all_opts[] = {
    { "home", required_argument, NULL, G_HOME },
    { "chain", required_argument, NULL, G_CHAIN },
    { "action", required_argument, NULL, G_ACTION },
    { "name", required_argument, NULL, G_NAME },
    { "program", required_argument, NULL, G_PROGRAM },
    { "policy", required_argument, NULL, G_POLICY },
    { "activation-height", required_argument, NULL, G_ACTIVATION },
    { "key", required_argument, NULL, G_KEY },
    { "nonce", required_argument, NULL, G_NONCE },
    { "param", required_argument, NULL, G_PARAM },
    { "value", required_argument, NULL, G_VALUE },
    { "governor", required_argument, NULL, G_GOVERNOR },
    { "threshold-bps", required_argument, NULL, G_THRESHOLD },
    { "out", required_argument, NULL, G_OUT },
    { "request", required_argument, NULL, G_REQUEST },
    { "sig", required_argument, NULL, G_SIG },
    { "choice", required_argument, NULL, G_CHOICE },
    { "state", required_argument, NULL, G_STATE },
    { "timeout", required_argument, NULL, G_TIMEOUT },
    { "json", no_argument, NULL, G_JSON },
    { "help", no_argument, NULL, G_HELP },
};
#define N_OPTS (sizeof(all_opts) / sizeof(all_opts[0]))

#define BIT(o) (1UL << (o))
/* Options whose value is a decimal u64, and those that may be repeated. */
static const unsigned long numeric_opts =
    BIT(G_ACTIVATION) | BIT(G_NONCE) | BIT(G_VALUE) | BIT(G_THRESHOLD) | BIT(G_TIMEOUT);
static const unsigned long repeated_opts = BIT(G_GOVERNOR) | BIT(G_SIG);
/* Options of propose that belong to one --action. */
static const unsigned long deploy_opts = BIT(G_NAME) | BIT(G_PROGRAM) | BIT(G_POLICY);
static const unsigned long param_opts = BIT(G_PARAM) | BIT(G_VALUE);
static const unsigned long governors_opts = BIT(G_GOVERNOR) | BIT(G_THRESHOLD);

typedef struct {
    char verb[24];                      /* "gov propose", for messages */
    unsigned long have;                 /* bit per option given */
    const char *str[G_NVALUED];         /* option values as typed (the last, if repeated) */
    uint64_t num[G_NVALUED];            /* numeric option values */
    const char *governors[GOV_MAX_GOVERNORS]; /* every --governor */
    size_t n_governors;
    const char *sigs[GOV_MAX_GOVERNORS];      /* every --sig */
    size_t n_sigs;
    bool json;
    const char *id_arg;                 /* the proposal id operand, as typed */
    uint8_t id[GOV_ID_LEN];             /* ... decoded */
    char home[PATH_MAX];                /* absolute node home */
    const char *chain;                  /* "alpha" / "delta" */
    txsub_t api;                        /* client of the chain's API (api.http NULL: none) */
} gov_cli_t;

typedef struct {
    const char *name;
    unsigned long opts; /* G_* bits it takes, --help aside */
    bool id;            /* takes a proposal id operand */
    int (*run)(gov_cli_t *g);
    const char *usage;
} gov_verb_t;

static const gov_verb_t *find_verb(const char *name);

static int fail(const gov_cli_t *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const gov_cli_t *g, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "adnet %s: ", g->verb);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return ADNET_EXIT_CONFIG;
}

static bool has(const gov_cli_t *g, int opt)
{
    return (g->have >> opt) & 1;
}

static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

static json_int_t int_of(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* ---- talking to the node ------------------------------------------------ */

/* Connect to the API of --chain. Return -1, or an exit code. */
static int connect_chain(gov_cli_t *g)
{
    char base[HTTPC_URL_MAX];
    int rc;
    if ((rc = cli_api_base(g->verb, g->home, g->chain, base, sizeof(base))) >= 0)
        return rc;
    if (httpc_new(&g->api.http, base, REQUEST_TIMEOUT_MS) < 0) {
        fprintf(stderr, "adnet %s: cannot make an HTTP client\n", g->verb);
        return ADNET_EXIT_SYSTEM;
    }
    g->api.verb = g->verb;
    g->api.json = g->json;
    g->api.refusal_names_verb = true;
    g->api.timeout_s = has(g, G_TIMEOUT) ? g->num[G_TIMEOUT] : 0;
    return -1;
}

/* GET /gov/proposals/ID into *doc. With missing_ok, a 404 of
 * unknown_proposal is -1 with *doc NULL. Return -1, or an exit code. */
static int get_proposal(gov_cli_t *g, const uint8_t id[GOV_ID_LEN], bool missing_ok,
                        json_t **doc)
{
    char path[PATH_BUF], hex[HEX32];
    long status = 0;
    json_t *j = NULL;
    hex_encode(hex, id, GOV_ID_LEN);
    snprintf(path, sizeof(path), "/gov/proposals/%s", hex);
    int rc = txsub_get_any(&g->api, path, &status, &j);
    if (rc >= 0)
        return rc;
    const char *code = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    if (status == 200 && json_is_object(j)) {
        *doc = j;
        return -1;
    }
    if (missing_ok && status == 404 && code && strcmp(code, "unknown_proposal") == 0) {
        json_decref(j);
        *doc = NULL;
        return -1;
    }
    httpc_response_t res = { .status = status, .json = j };
    rc = status == 200 ? (fprintf(stderr, "adnet %s: GET %s: not a proposal\n", g->verb, path),
                          ADNET_EXIT_SYSTEM)
                       : txsub_failure(&g->api, &res, false);
    json_decref(j);
    return rc;
}

/* Sign the governance transaction of kind with payload by kp, submit it
 * and wait until it is committed: its id in txhex and its block's height
 * in *height. Return -1, or an exit code (a refusal printed with the
 * node's code and message). */
static int submit_gov(gov_cli_t *g, uint16_t kind, const uint8_t *payload, size_t len,
                      const keys_pair_t *kp, char txhex[TXSUB_ID_HEX], uint64_t *height)
{
    tx_t tx;
    uint64_t tip = 0;
    memset(&tx, 0, sizeof(tx));
    int rc = txsub_tip(&g->api, tx.chain_id, &tip);
    if (rc >= 0)
        return rc;
    tx.kind = kind;
    memcpy(tx.sender, kp->pk, sizeof(tx.sender));
    tx.fee = 0; /* the node refuses a fee on a governance transaction */
    randombytes_buf(&tx.nonce, sizeof(tx.nonce));
    tx.expiry_height = tip + EXPIRY_BLOCKS;
    tx.payload = payload;
    tx.payload_len = len;
    if ((rc = txsub_post(&g->api, &tx, kp->sk, txhex)) >= 0)
        return rc;
    return txsub_wait(&g->api, txhex, tx.expiry_height, height);
}

/* The first row of doc's journal of step (and, if tx is non-NULL, of that
 * transaction); borrowed, or NULL. */
static json_t *journal_row(const json_t *doc, const char *step, const char *tx)
{
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(doc, "journal"), i, row) {
        const char *s = json_string_value(json_object_get(row, "step"));
        const char *t = json_string_value(json_object_get(row, "tx"));
        if (s && strcmp(s, step) == 0 && (!tx || (t && strcmp(t, tx) == 0)))
            return row;
    }
    return NULL;
}

/* Print the receipt of doc's journal row of step (of transaction tx, or
 * the first when tx is NULL); existing says the step was not sent now.
 * Return an exit code. */
static int print_receipt(const gov_cli_t *g, const json_t *doc, const char *step,
                         const char *tx, bool existing)
{
    const json_t *row = journal_row(doc, step, tx);
    const char *pstate = json_string_value(json_object_get(doc, "state"));
    if (!row) {
        fprintf(stderr, "adnet %s: the proposal's journal has no %s row%s%s\n", g->verb, step,
                tx ? " of transaction " : "", tx ? tx : "");
        return ADNET_EXIT_SYSTEM;
    }
    json_t *o = json_pack("{s:s,s:s,s:O?,s:O?,s:O?,s:O?,s:s,s:b}", "proposal", g->id_arg, "step",
                          step, "state", json_object_get(row, "state"), "height",
                          json_object_get(row, "height"), "tx", json_object_get(row, "tx"),
                          "receipt", json_object_get(row, "receipt"), "proposal_state",
                          pstate ? pstate : "", "existing", existing);
    if (!o)
        return ADNET_EXIT_SYSTEM;
    int rc = ADNET_EXIT_OK;
    if (g->json) {
        rc = json_dumpf(o, stdout, JSON_COMPACT) < 0 ? ADNET_EXIT_SYSTEM : ADNET_EXIT_OK;
        fputc('\n', stdout);
    } else {
        printf("%s%s of %s at height %" JSON_INTEGER_FORMAT " (tx %s): proposal %s, "
               "receipt %s\n", existing ? "already done: " : "", step, g->id_arg,
               json_integer_value(json_object_get(row, "height")), str_or(row, "tx", "-"),
               pstate ? pstate : "?", str_or(row, "receipt", "-"));
    }
    json_decref(o);
    return fflush(stdout) == 0 ? rc : ADNET_EXIT_SYSTEM;
}

/* Load --key (or dflt when it is not given; NULL: --key is required). */
static int load_signer(gov_cli_t *g, const char *dflt, keys_pair_t *kp)
{
    const char *name = has(g, G_KEY) ? g->str[G_KEY] : dflt;
    if (!name)
        return fail(g, "say whose key signs: --key NAME (a key in %s/keys)", g->home);
    return txsub_load_key(g->verb, g->home, name, kp);
}

/* ---- propose ------------------------------------------------------------- */

/* A hex digest field of o into out[32]: 0 or -EINVAL. */
static int json_hex32(const json_t *o, const char *key, uint8_t out[32])
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && strlen(s) == 64 ? hex_decode(out, 32, s) : -EINVAL;
}

/* The deploy action of --name, --program and --policy: the next edition of
 * the registered program (its policy kept), or edition 0. prog holds the
 * encoded program (GOV_PROGRAM_MAX bytes). Return -1, or an exit code. */
/* Read, check and encode the program file --program, which must be the
 * program --name, into prog (GOV_PROGRAM_MAX bytes) and *len. Return -1,
 * or an exit code. */
static int load_program(gov_cli_t *g, uint8_t *prog, size_t *len)
{
    const char *name = g->str[G_NAME], *file = g->str[G_PROGRAM];
    char *text = NULL, err[GOV_PROGRAM_ERR_MAX];
    gov_program_t *p = malloc(sizeof(*p));
    uint8_t *code = malloc(GOV_CODE_MAX);
    size_t n = 0;
    int rc = ADNET_EXIT_SYSTEM, r;

    if (!p || !code)
        goto out;
    if ((r = fs_read_file(file, PROGRAM_FILE_MAX, &text, &n)) < 0) {
        rc = fail(g, "--program %s: %s", file, r == -EFBIG ? "larger than 1 MiB"
                                                           : strerror(-r));
        goto out;
    }
    if (gov_program_from_text(text, n, p, code, err, sizeof(err)) < 0) {
        rc = fail(g, "--program %s: %s", file, err);
        goto out;
    }
    if (strcmp(p->name, name) != 0) {
        rc = fail(g, "--program %s is the program \"%s\", not --name %s", file, p->name, name);
        goto out;
    }
    if ((r = gov_program_encode(p, prog, GOV_PROGRAM_MAX, len)) < 0) {
        rc = fail(g, "--program %s: %s", file, r == -ENOBUFS
                  ? "its encoding is larger than the largest program (" "6144 bytes)"
                  : "it does not encode");
        goto out;
    }
    rc = -1;
out:
    free(text);
    free(code);
    free(p);
    return rc;
}

static int build_deploy(gov_cli_t *g, gov_action_t *a, uint8_t *prog)
{
    const char *name = g->str[G_NAME];
    char path[PATH_BUF];
    uint8_t policy = GOV_POLICY_COMPATIBLE;
    json_t *reg = NULL;
    size_t len = 0;
    long status = 0;
    int rc;

    if (!gov_name_is_valid(name))
        return fail(g, "--name: \"%s\" is not a program name (1..%d of a-z 0-9 _, starting "
                    "with a letter)", name, GOV_NAME_MAX);
    if (has(g, G_POLICY) && gov_policy_parse(g->str[G_POLICY], &policy) < 0)
        return fail(g, "--policy: expected compatible, additive or immutable, got \"%s\"",
                    g->str[G_POLICY]);
    if ((rc = load_program(g, prog, &len)) >= 0)
        return rc;
    snprintf(path, sizeof(path), "/registry/%s", name);
    if ((rc = txsub_get_any(&g->api, path, &status, &reg)) >= 0)
        goto out;
    const char *code_s = json_string_value(json_object_get(json_object_get(reg, "error"),
                                                           "code"));
    a->kind = GOV_ACTION_DEPLOY;
    snprintf(a->u.deploy.name, sizeof(a->u.deploy.name), "%s", name);
    if (status == 200) {
        uint64_t edition;
        uint8_t reg_policy;
        const char *pol = json_string_value(json_object_get(reg, "policy"));
        if (txsub_json_u64(reg, "edition", &edition) < 0 || !pol ||
            gov_policy_parse(pol, &reg_policy) < 0 || json_hex32(reg, "base", a->base) < 0) {
            fprintf(stderr, "adnet %s: GET %s: no edition, policy or base in the answer\n",
                    g->verb, path);
            rc = ADNET_EXIT_SYSTEM;
            goto out;
        }
        if (has(g, G_POLICY) && policy != reg_policy) {
            rc = fail(g, "policy is fixed at registration: %s is %s, not %s", name, pol,
                      g->str[G_POLICY]);
            goto out;
        }
        if (edition == UINT64_MAX) {
            rc = fail(g, "%s is at the last edition there is", name);
            goto out;
        }
        a->u.deploy.edition = edition + 1;
        a->u.deploy.policy = reg_policy;
    } else if (status == 404 && code_s && strcmp(code_s, "not_registered") == 0) {
        a->u.deploy.edition = 0;
        a->u.deploy.policy = policy;
        memset(a->base, 0, sizeof(a->base));
    } else {
        httpc_response_t res = { .status = status, .json = reg };
        rc = txsub_failure(&g->api, &res, false);
        goto out;
    }
    a->u.deploy.program = prog;
    a->u.deploy.program_len = len;
    rc = -1;
out:
    json_decref(reg);
    return rc;
}

/* The param action of --param and --value, against the parameter's base. */
static int build_param(gov_cli_t *g, gov_action_t *a)
{
    json_t *j = NULL;
    const char *key = g->str[G_PARAM], *k;
    json_t *v;
    int rc = txsub_get(&g->api, "/gov/params", &j);
    if (rc >= 0)
        return rc;
    const json_t *params = json_object_get(j, "params"), *p = json_object_get(params, key);
    if (!p) {
        char known[256] = "";
        size_t n = 0;
        json_object_foreach((json_t *)params, k, v)
            n += (size_t)snprintf(known + n, n < sizeof(known) ? sizeof(known) - n : 0, "%s%s",
                                  n ? ", " : "", k);
        rc = fail(g, "--param: no governed parameter \"%s\" on %s (there are: %s)", key,
                  g->chain, known[0] ? known : "none");
    } else if (json_hex32(p, "base", a->base) < 0) {
        fprintf(stderr, "adnet %s: GET /gov/params: no base of %s\n", g->verb, key);
        rc = ADNET_EXIT_SYSTEM;
    } else {
        a->kind = GOV_ACTION_PARAM;
        snprintf(a->u.param.key, sizeof(a->u.param.key), "%s", key);
        a->u.param.value = g->num[G_VALUE];
    }
    json_decref(j);
    return rc;
}

/* A --governor value: 64 hex digits or an address. */
static int parse_governor(gov_cli_t *g, const char *s, uint8_t pk[32])
{
    const char *why = NULL;
    if (strlen(s) == 64 && hex_decode(pk, 32, s) == 0)
        return -1;
    if (address_decode(pk, s, &why) == 0)
        return -1;
    return fail(g, "--governor \"%s\": neither a public key (64 hex digits) nor an address "
                "(%s)", s, why ? why : "not ad1...");
}

/* The governors action: every --governor, --threshold-bps or the current. */
static int build_governors(gov_cli_t *g, gov_action_t *a)
{
    json_t *j = NULL;
    uint64_t thr = 0;
    int rc;
    a->kind = GOV_ACTION_GOVERNORS;
    for (size_t i = 0; i < g->n_governors; i++) {
        if ((rc = parse_governor(g, g->governors[i], a->u.governors.keys[i])) >= 0)
            return rc;
        for (size_t k = 0; k < i; k++)
            if (memcmp(a->u.governors.keys[k], a->u.governors.keys[i], 32) == 0)
                return fail(g, "--governor %s: the same key as --governor %s before it",
                            g->governors[i], g->governors[k]);
    }
    a->u.governors.n = (uint16_t)g->n_governors;
    if ((rc = txsub_get(&g->api, "/network/governors", &j)) >= 0)
        return rc;
    if (json_hex32(j, "base", a->base) < 0 || txsub_json_u64(j, "threshold_bps", &thr) < 0) {
        fprintf(stderr, "adnet %s: GET /network/governors: no base or threshold_bps\n", g->verb);
        rc = ADNET_EXIT_SYSTEM;
    } else {
        if (has(g, G_THRESHOLD))
            thr = g->num[G_THRESHOLD];
        a->u.governors.threshold_bps = (uint32_t)thr;
        rc = -1;
    }
    json_decref(j);
    return rc;
}

/* Check the options of propose against its --action. */
static int check_propose_opts(gov_cli_t *g, const char *action)
{
    unsigned long mine = strcmp(action, "deploy") == 0   ? deploy_opts
                         : strcmp(action, "param") == 0  ? param_opts
                         : strcmp(action, "governors") == 0 ? governors_opts
                                                            : 0;
    if (!mine)
        return fail(g, "--action: expected deploy, param or governors, got \"%s\"", action);
    for (int o = 0; o < G_NVALUED; o++)
        if (has(g, o) && ((deploy_opts | param_opts | governors_opts) & BIT(o)) &&
            !(mine & BIT(o)))
            return fail(g, "--%s does not go with --action %s", all_opts[o].name, action);
    if (strcmp(action, "deploy") == 0 && (!has(g, G_NAME) || !has(g, G_PROGRAM)))
        return fail(g, "--action deploy needs --name NAME and --program FILE");
    if (strcmp(action, "param") == 0 && (!has(g, G_PARAM) || !has(g, G_VALUE)))
        return fail(g, "--action param needs --param KEY and --value N");
    if (strcmp(action, "governors") == 0 && g->n_governors == 0)
        return fail(g, "--action governors needs at least one --governor KEY");
    if (has(g, G_THRESHOLD) && (g->num[G_THRESHOLD] == 0 || g->num[G_THRESHOLD] > 10000))
        return fail(g, "--threshold-bps: expected 1..10000 (basis points of the governors)");
    if (has(g, G_NONCE) && g->num[G_NONCE] > INT64_MAX)
        return fail(g, "--nonce: at most 2^63-1 (%" PRId64 ")", INT64_MAX);
    return -1;
}

/* Print what propose reports: the id (text) or {"id","tx","height"}. */
static int print_proposed(const gov_cli_t *g, const char *idhex, const char *txhex,
                          uint64_t height)
{
    if (g->json)
        printf("{\"id\":\"%s\",\"tx\":\"%s\",\"height\":%" PRIu64 "}\n", idhex,
               txhex ? txhex : "", height);
    else
        printf("%s\n", idhex);
    return fflush(stdout) == 0 ? ADNET_EXIT_OK : ADNET_EXIT_SYSTEM;
}

/* The proposal exists: report it from its journal's propose row. */
static int print_existing_proposal(gov_cli_t *g, const json_t *doc, const char *idhex)
{
    const json_t *row = journal_row(doc, "propose", NULL);
    uint64_t h = 0;
    txsub_json_u64(row ? row : doc, row ? "height" : "proposed_height", &h);
    fprintf(stderr, "adnet %s: proposal %s exists already (proposed at height %" PRIu64
            ", state %s); nothing sent\n", g->verb, idhex, h,
            str_or(doc, "state", "?"));
    return print_proposed(g, idhex, json_string_value(json_object_get(row, "tx")), h);
}

static int run_propose(gov_cli_t *g)
{
    keys_pair_t kp;
    gov_action_t *a = calloc(1, sizeof(*a));
    gov_payload_t *pl = calloc(1, sizeof(*pl));
    uint8_t *prog = malloc(GOV_PROGRAM_MAX), *abuf = malloc(GOV_ACTION_MAX);
    uint8_t *pbuf = malloc(TX_PAYLOAD_MAX), id[GOV_ID_LEN];
    char chain_id[BLOCK_CHAIN_ID_MAX + 1], idhex[HEX32], txhex[TXSUB_ID_HEX];
    json_t *doc = NULL;
    size_t alen = 0, plen = 0;
    uint64_t nonce, tip, height = 0;
    int rc, r;

    memset(&kp, 0, sizeof(kp));
    const char *action = g->str[G_ACTION];
    if (!action) {
        rc = fail(g, "say what to propose: --action deploy|param|governors");
        goto out;
    }
    if ((rc = check_propose_opts(g, action)) >= 0)
        goto out;
    rc = ADNET_EXIT_SYSTEM;
    if (!a || !pl || !prog || !abuf || !pbuf)
        goto out;
    if ((rc = load_signer(g, "validator", &kp)) >= 0 || (rc = connect_chain(g)) >= 0)
        goto out;
    if (action[0] == 'd')
        rc = build_deploy(g, a, prog);
    else if (action[0] == 'p')
        rc = build_param(g, a);
    else
        rc = build_governors(g, a);
    if (rc >= 0)
        goto out;
    a->activation_height = has(g, G_ACTIVATION) ? g->num[G_ACTIVATION] : 0;
    if ((r = gov_action_encode(a, abuf, GOV_ACTION_MAX, &alen)) < 0) {
        rc = fail(g, "cannot encode the %s action: %s", action, strerror(-r));
        goto out;
    }
    if (has(g, G_NONCE)) {
        nonce = g->num[G_NONCE];
    } else {
        randombytes_buf(&nonce, sizeof(nonce));
        nonce &= (uint64_t)INT64_MAX; /* the node takes nonces up to 2^63-1 */
    }
    pl->kind = GOV_KIND_PROPOSE;
    pl->nonce = nonce;
    pl->action = abuf;
    pl->action_len = alen;
    if ((r = gov_payload_encode(pl, pbuf, TX_PAYLOAD_MAX, &plen)) < 0) {
        rc = fail(g, "cannot encode the proposal: %s", strerror(-r));
        goto out;
    }
    if ((rc = txsub_tip(&g->api, chain_id, &tip)) >= 0)
        goto out;
    gov_proposal_id(chain_id, nonce, abuf, alen, id);
    hex_encode(idhex, id, GOV_ID_LEN);
    if ((rc = get_proposal(g, id, true, &doc)) >= 0)
        goto out;
    if (doc) {
        rc = print_existing_proposal(g, doc, idhex);
        goto out;
    }
    if ((rc = submit_gov(g, GOV_KIND_PROPOSE, pbuf, plen, &kp, txhex, &height)) >= 0)
        goto out;
    rc = print_proposed(g, idhex, txhex, height);
out:
    keys_wipe(&kp);
    json_decref(doc);
    free(a);
    free(pl);
    free(prog);
    free(abuf);
    free(pbuf);
    return rc;
}

/* ---- sign ---------------------------------------------------------------- */

/* What a governor signs, as GET /gov/proposals/{id} gives it in "sign". */
typedef struct {
    char chain_id[BLOCK_CHAIN_ID_MAX + 1];
    uint8_t action[GOV_ACTION_MAX];
    size_t action_len;
    uint64_t nonce, expiry_height;
    uint8_t hash[32];
} sign_req_t;

/* Read the "sign" object s (from where, for messages) into *q, checking
 * that its hash is its fields' and that it is proposal g->id. */
static int read_sign_req(gov_cli_t *g, const json_t *s, const char *where, sign_req_t *q)
{
    const char *cid = json_string_value(json_object_get(s, "chain_id"));
    const char *ahex = json_string_value(json_object_get(s, "action_hex"));
    uint8_t h[32], id[GOV_ID_LEN];
    if (!cid || strlen(cid) > BLOCK_CHAIN_ID_MAX || !ahex || strlen(ahex) % 2 ||
        strlen(ahex) / 2 > GOV_ACTION_MAX || strlen(ahex) == 0 ||
        hex_decode(q->action, strlen(ahex) / 2, ahex) < 0 ||
        txsub_json_u64(s, "nonce", &q->nonce) < 0 ||
        txsub_json_u64(s, "expiry_height", &q->expiry_height) < 0 ||
        json_hex32(s, "hash", q->hash) < 0)
        return fail(g, "%s: no sign request in it (chain_id, action_hex, nonce, "
                    "expiry_height, hash)", where);
    snprintf(q->chain_id, sizeof(q->chain_id), "%s", cid);
    q->action_len = strlen(ahex) / 2;
    gov_attest_hash(q->chain_id, q->action, q->action_len, q->nonce, q->expiry_height, h);
    if (sodium_memcmp(h, q->hash, 32) != 0)
        return fail(g, "%s: its hash is not the hash of its chain id, action, nonce and "
                    "expiry height: refusing to sign it", where);
    gov_proposal_id(q->chain_id, q->nonce, q->action, q->action_len, id);
    if (sodium_memcmp(id, g->id, GOV_ID_LEN) != 0)
        return fail(g, "%s: its action and nonce are not those of proposal %s: refusing to "
                    "sign it", where, g->id_arg);
    return -1;
}

/* The sign request from --request FILE (a saved `gov show --json`, or its
 * "sign" object alone), checked against the home's genesis of --chain. */
static int sign_req_from_file(gov_cli_t *g, sign_req_t *q)
{
    const char *file = g->str[G_REQUEST];
    json_error_t e;
    char path[PATH_MAX];
    json_t *j = json_load_file(file, 0, &e), *gen = NULL;
    int rc;
    if (!j)
        return fail(g, "--request %s: line %d: %s", file, e.line, e.text);
    const char *doc_id = json_string_value(json_object_get(j, "id"));
    const json_t *s = json_object_get(j, "sign") ? json_object_get(j, "sign") : j;
    if (doc_id && strcmp(doc_id, g->id_arg) != 0 && strcasecmp(doc_id, g->id_arg) != 0) {
        rc = fail(g, "--request %s is proposal %s, not %s", file, doc_id, g->id_arg);
        goto out;
    }
    if ((rc = read_sign_req(g, s, file, q)) >= 0)
        goto out;
    /* Offline, the home's genesis of --chain says which chain id is meant. */
    if (fs_path(path, sizeof(path), "%s/%s/genesis.json", g->home, g->chain) == 0 &&
        (gen = json_load_file(path, 0, NULL))) {
        const char *cid = json_string_value(json_object_get(gen, "chain_id"));
        if (cid && strcmp(cid, q->chain_id) != 0) {
            rc = fail(g, "--request %s is for chain %s, but %s is %s here (%s)", file,
                      q->chain_id, g->chain, cid, path);
            goto out;
        }
    }
    rc = -1;
out:
    json_decref(gen);
    json_decref(j);
    return rc;
}

/* What the action does, for the signer, in out. Return -1, or an exit
 * code: nobody signs an action that cannot be shown. */
static int describe_action(gov_cli_t *g, const uint8_t *action, size_t len, char *out,
                           size_t cap)
{
    gov_action_t *a = malloc(sizeof(*a));
    const char *what = NULL;
    int rc = -1;
    if (!a) {
        rc = ADNET_EXIT_SYSTEM;
    } else if (gov_action_decode(a, action, len, &what) < 0) {
        rc = fail(g, "the action to sign does not decode (bad %s): refusing to sign it",
                  what ? what : "bytes");
    } else if (a->kind == GOV_ACTION_DEPLOY) {
        snprintf(out, cap, "deploy %s edition %" PRIu64 ", policy %s, %zu program bytes",
                 a->u.deploy.name, a->u.deploy.edition, gov_policy_name(a->u.deploy.policy),
                 a->u.deploy.program_len);
    } else if (a->kind == GOV_ACTION_PARAM) {
        snprintf(out, cap, "set %s to %" PRIu64, a->u.param.key, a->u.param.value);
    } else {
        snprintf(out, cap, "governors: %u keys, threshold %u bps", a->u.governors.n,
                 a->u.governors.threshold_bps);
    }
    free(a);
    return rc;
}

static int run_sign(gov_cli_t *g)
{
    keys_pair_t kp;
    sign_req_t *q = calloc(1, sizeof(*q));
    json_t *doc = NULL, *out = NULL;
    char *text = NULL, pkhex[HEX32], sighex[2 * 64 + 1], hashhex[HEX32], addr[ADDRESS_MAX];
    char what[160];
    gov_sig_t sig;
    int rc = ADNET_EXIT_SYSTEM, r;

    memset(&kp, 0, sizeof(kp));
    if (!q)
        goto out;
    if (!has(g, G_OUT)) {
        rc = fail(g, "say where the signature goes: --out FILE");
        goto out;
    }
    const char *file = g->str[G_OUT];
    if (fs_exists(file)) {
        rc = fail(g, "--out %s exists: a signature file is never overwritten (choose another "
                  "name, or move the old one away)", file);
        goto out;
    }
    if ((rc = load_signer(g, NULL, &kp)) >= 0)
        goto out;
    if (has(g, G_REQUEST)) {
        rc = sign_req_from_file(g, q);
    } else if ((rc = connect_chain(g)) < 0 && (rc = get_proposal(g, g->id, false, &doc)) < 0) {
        const json_t *s = json_object_get(doc, "sign");
        rc = s ? read_sign_req(g, s, "the node's sign request", q)
               : (fprintf(stderr, "adnet %s: the node's proposal has no sign request\n",
                          g->verb), ADNET_EXIT_SYSTEM);
    }
    if (rc >= 0 || (rc = describe_action(g, q->action, q->action_len, what, sizeof(what))) >= 0)
        goto out;
    gov_attest_sign(q->chain_id, q->action, q->action_len, q->nonce, q->expiry_height, kp.pk,
                    kp.sk, &sig);
    hex_encode(pkhex, kp.pk, 32);
    hex_encode(sighex, sig.sig, 64);
    hex_encode(hashhex, q->hash, 32);
    rc = ADNET_EXIT_SYSTEM;
    if (!(out = json_pack("{s:s,s:s,s:I,s:I,s:s,s:s,s:s}", "proposal", g->id_arg, "chain_id",
                          q->chain_id, "nonce", (json_int_t)q->nonce, "expiry_height",
                          (json_int_t)q->expiry_height, "hash", hashhex, "public_key", pkhex,
                          "signature", sighex)) ||
        !(text = json_dumps(out, JSON_INDENT(2))))
        goto out;
    size_t n = strlen(text);
    text[n] = '\n'; /* the file ends with a newline where the string had its NUL */
    if ((r = fs_write_file(file, text, n + 1, 0600, false)) < 0) {
        rc = r == -EEXIST ? fail(g, "--out %s exists: a signature file is never overwritten",
                                 file)
                          : (fprintf(stderr, "adnet %s: cannot write %s: %s\n", g->verb, file,
                                     strerror(-r)), ADNET_EXIT_SYSTEM);
        goto out;
    }
    address_encode(addr, kp.pk);
    printf("signed proposal %s (%s) on %s, valid to height %" PRIu64 ", as %s (%s): %s\n",
           g->id_arg, what, q->chain_id, q->expiry_height, kp.name, addr, file);
    rc = fflush(stdout) == 0 ? ADNET_EXIT_OK : ADNET_EXIT_SYSTEM;
out:
    keys_wipe(&kp);
    json_decref(doc);
    json_decref(out);
    free(text);
    free(q);
    return rc;
}

/* ---- attest -------------------------------------------------------------- */

/* One signature file, read. */
typedef struct {
    char chain_id[BLOCK_CHAIN_ID_MAX + 1];
    uint64_t nonce, expiry_height;
    uint8_t hash[32];
    gov_sig_t sig;
} sig_file_t;

/* Read signature file path into *f; it must name proposal g->id. */
static int read_sig_file(gov_cli_t *g, const char *path, sig_file_t *f)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    int rc = -1;
    if (!j)
        return fail(g, "--sig %s: line %d: %s", path, e.line, e.text);
    const char *prop = json_string_value(json_object_get(j, "proposal"));
    const char *cid = json_string_value(json_object_get(j, "chain_id"));
    const char *sig = json_string_value(json_object_get(j, "signature"));
    uint8_t pid[GOV_ID_LEN];
    if (!prop || !cid || strlen(cid) > BLOCK_CHAIN_ID_MAX || !sig || strlen(sig) != 128 ||
        txsub_json_u64(j, "nonce", &f->nonce) < 0 ||
        txsub_json_u64(j, "expiry_height", &f->expiry_height) < 0 ||
        json_hex32(j, "hash", f->hash) < 0 || json_hex32(j, "public_key", f->sig.key) < 0 ||
        hex_decode(f->sig.sig, 64, sig) < 0) {
        rc = fail(g, "--sig %s: not a signature file (proposal, chain_id, nonce, "
                  "expiry_height, hash, public_key, signature), as adnet gov sign writes",
                  path);
    } else if (strlen(prop) != 64 || hex_decode(pid, GOV_ID_LEN, prop) < 0 ||
               memcmp(pid, g->id, GOV_ID_LEN) != 0) {
        rc = fail(g, "--sig %s signs proposal %s, not %s", path, prop, g->id_arg);
    } else {
        snprintf(f->chain_id, sizeof(f->chain_id), "%s", cid);
    }
    json_decref(j);
    return rc;
}

/* Read every --sig into at; all must agree with the first and with the
 * proposal's sign request. */
static int read_sigs(gov_cli_t *g, const json_t *doc, gov_attestation_t *at)
{
    sig_file_t *f = calloc(g->n_sigs, sizeof(*f));
    const json_t *sign = json_object_get(doc, "sign");
    uint8_t want[32];
    int rc = ADNET_EXIT_SYSTEM;
    if (!f)
        return rc;
    if (json_hex32(sign, "hash", want) < 0) {
        fprintf(stderr, "adnet %s: the node's proposal has no sign request\n", g->verb);
        goto out;
    }
    for (size_t i = 0; i < g->n_sigs; i++) {
        const char *path = g->sigs[i];
        if ((rc = read_sig_file(g, path, &f[i])) >= 0)
            goto out;
        if (i > 0 && (strcmp(f[i].chain_id, f[0].chain_id) != 0 || f[i].nonce != f[0].nonce ||
                      f[i].expiry_height != f[0].expiry_height ||
                      memcmp(f[i].hash, f[0].hash, 32) != 0)) {
            rc = fail(g, "--sig %s signs another request than %s (chain id, nonce, expiry "
                      "height or hash differ)", path, g->sigs[0]);
            goto out;
        }
        if (memcmp(f[i].hash, want, 32) != 0) {
            char got[HEX32];
            hex_encode(got, f[i].hash, 32);
            rc = fail(g, "--sig %s signs hash %.16s..., not the proposal's sign request "
                      "(%.16s...): sign it again with adnet gov sign", path, got,
                      str_or(sign, "hash", ""));
            goto out;
        }
        for (size_t k = 0; k < i; k++)
            if (memcmp(f[k].sig.key, f[i].sig.key, 32) == 0) {
                rc = fail(g, "--sig %s and --sig %s are signed by the same key", g->sigs[k],
                          path);
                goto out;
            }
        at->sigs[i] = f[i].sig;
    }
    at->n = (uint16_t)g->n_sigs;
    at->nonce = f[0].nonce;
    at->expiry_height = f[0].expiry_height;
    gov_attestation_sort(at);
    rc = -1;
out:
    free(f);
    return rc;
}

/* The state of the proposal doc is one of those listed ("a|b"). */
static bool state_is(const json_t *doc, const char *s1, const char *s2)
{
    const char *s = json_string_value(json_object_get(doc, "state"));
    return s && (strcmp(s, s1) == 0 || (s2 && strcmp(s, s2) == 0));
}

/* After a step committed: read the proposal again and print the receipt
 * of step for tx. */
static int report_step(gov_cli_t *g, const char *step, const char *txhex)
{
    json_t *doc = NULL;
    int rc = get_proposal(g, g->id, false, &doc);
    if (rc < 0)
        rc = print_receipt(g, doc, step, txhex, false);
    json_decref(doc);
    return rc;
}

static int run_attest(gov_cli_t *g)
{
    keys_pair_t kp;
    gov_payload_t *pl = calloc(1, sizeof(*pl));
    uint8_t *pbuf = malloc(TX_PAYLOAD_MAX);
    char txhex[TXSUB_ID_HEX];
    json_t *doc = NULL;
    size_t plen = 0;
    uint64_t height = 0;
    int rc = ADNET_EXIT_SYSTEM, r;

    memset(&kp, 0, sizeof(kp));
    if (!pl || !pbuf)
        goto out;
    if (g->n_sigs == 0) {
        rc = fail(g, "name the signature files: --sig FILE [--sig FILE ...] (adnet gov sign "
                  "writes them)");
        goto out;
    }
    if ((rc = load_signer(g, "validator", &kp)) >= 0 || (rc = connect_chain(g)) >= 0 ||
        (rc = get_proposal(g, g->id, false, &doc)) >= 0)
        goto out;
    if (state_is(doc, "approved", "applied")) {
        rc = print_receipt(g, doc, "approve", NULL, true);
        goto out;
    }
    pl->kind = GOV_KIND_ATTEST;
    memcpy(pl->id, g->id, GOV_ID_LEN);
    if ((rc = read_sigs(g, doc, &pl->attestation)) >= 0)
        goto out;
    if ((r = gov_payload_encode(pl, pbuf, TX_PAYLOAD_MAX, &plen)) < 0) {
        rc = fail(g, "cannot encode the attestation: %s", strerror(-r));
        goto out;
    }
    if ((rc = submit_gov(g, GOV_KIND_ATTEST, pbuf, plen, &kp, txhex, &height)) >= 0)
        goto out;
    rc = report_step(g, "approve", txhex);
out:
    keys_wipe(&kp);
    json_decref(doc);
    free(pl);
    free(pbuf);
    return rc;
}

/* ---- vote, apply ------------------------------------------------------- */

static int run_vote(gov_cli_t *g)
{
    keys_pair_t kp;
    gov_payload_t pl;
    uint8_t pbuf[GOV_ID_LEN + 16];
    char txhex[TXSUB_ID_HEX], pkhex[HEX32];
    json_t *doc = NULL, *v;
    size_t plen = 0, i;
    uint64_t height = 0;
    int rc, r;

    memset(&kp, 0, sizeof(kp));
    memset(&pl, 0, sizeof(pl));
    const char *choice = has(g, G_CHOICE) ? g->str[G_CHOICE] : NULL;
    for (uint8_t c = GOV_YES; choice && c <= GOV_ABSTAIN; c++)
        if (strcmp(choice, gov_choice_name(c)) == 0)
            pl.choice = c;
    if (!pl.choice)
        return fail(g, "--choice: expected yes, no or abstain%s%s%s", choice ? ", got \"" : "",
                    choice ? choice : "", choice ? "\"" : "");
    if ((rc = load_signer(g, NULL, &kp)) >= 0 || (rc = connect_chain(g)) >= 0 ||
        (rc = get_proposal(g, g->id, false, &doc)) >= 0)
        goto out;
    hex_encode(pkhex, kp.pk, 32);
    json_array_foreach(json_object_get(doc, "votes"), i, v) {
        const char *voter = json_string_value(json_object_get(v, "voter"));
        const char *had = json_string_value(json_object_get(v, "choice"));
        const char *tx = json_string_value(json_object_get(v, "tx"));
        if (voter && strcasecmp(voter, pkhex) == 0 && had && strcmp(had, choice) == 0 && tx) {
            rc = print_receipt(g, doc, "vote", tx, true);
            goto out;
        }
    }
    pl.kind = GOV_KIND_VOTE;
    memcpy(pl.id, g->id, GOV_ID_LEN);
    if ((r = gov_payload_encode(&pl, pbuf, sizeof(pbuf), &plen)) < 0) {
        rc = fail(g, "cannot encode the vote: %s", strerror(-r));
        goto out;
    }
    if ((rc = submit_gov(g, GOV_KIND_VOTE, pbuf, plen, &kp, txhex, &height)) >= 0)
        goto out;
    rc = report_step(g, "vote", txhex);
out:
    keys_wipe(&kp);
    json_decref(doc);
    return rc;
}

static int run_apply(gov_cli_t *g)
{
    keys_pair_t kp;
    gov_payload_t pl;
    uint8_t pbuf[GOV_ID_LEN + 16];
    char txhex[TXSUB_ID_HEX];
    json_t *doc = NULL;
    size_t plen = 0;
    uint64_t height = 0;
    int rc, r;

    memset(&kp, 0, sizeof(kp));
    memset(&pl, 0, sizeof(pl));
    if ((rc = load_signer(g, "validator", &kp)) >= 0 || (rc = connect_chain(g)) >= 0 ||
        (rc = get_proposal(g, g->id, false, &doc)) >= 0)
        goto out;
    if (state_is(doc, "applied", NULL)) {
        rc = print_receipt(g, doc, "apply", NULL, true);
        goto out;
    }
    pl.kind = GOV_KIND_APPLY;
    memcpy(pl.id, g->id, GOV_ID_LEN);
    if ((r = gov_payload_encode(&pl, pbuf, sizeof(pbuf), &plen)) < 0) {
        rc = fail(g, "cannot encode the apply: %s", strerror(-r));
        goto out;
    }
    if ((rc = submit_gov(g, GOV_KIND_APPLY, pbuf, plen, &kp, txhex, &height)) >= 0)
        goto out;
    rc = report_step(g, "apply", txhex);
out:
    keys_wipe(&kp);
    json_decref(doc);
    return rc;
}

/* ---- shadow, show, list -------------------------------------------------- */

static void print_before_after(const char *label, const json_t *ba)
{
    char *b = json_dumps(json_object_get(ba, "before"), JSON_ENCODE_ANY | JSON_COMPACT);
    char *a = json_dumps(json_object_get(ba, "after"), JSON_ENCODE_ANY | JSON_COMPACT);
    printf("%s%s -> %s%s\n", label, b ? b : "?", a ? a : "?",
           b && a && strcmp(b, a) == 0 ? " (unchanged)" : "");
    free(b);
    free(a);
}

/* A shadow report for people. */
static void print_shadow(const json_t *rep)
{
    const json_t *err = json_object_get(rep, "error"), *ch;
    const char *k;
    json_t *v;
    size_t i;
    bool ok = json_is_true(json_object_get(rep, "ok"));
    printf("shadow run of %s (%s) at height %" JSON_INTEGER_FORMAT ": %s\n",
           str_or(rep, "proposal", "?"), str_or(rep, "action", "?"), int_of(rep, "height"),
           ok ? "ok" : "would fail");
    if (err)
        printf("  error: %s: %s\n", str_or(err, "code", "?"), str_or(err, "message", ""));
    if (json_object_get(rep, "state_root"))
        print_before_after("  state root: ", json_object_get(rep, "state_root"));
    json_object_foreach(json_object_get(rep, "tables"), k, v) {
        char label[96];
        snprintf(label, sizeof(label), "  table %s: ", k);
        print_before_after(label, v);
    }
    if (json_object_get(rep, "supply"))
        print_before_after("  supply: ", json_object_get(rep, "supply"));
    ch = json_object_get(rep, "changes");
    printf("  changes: %zu\n", json_array_size(ch));
    json_array_foreach(ch, i, v) {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        printf("    %s\n", s ? s : "?");
        free(s);
    }
    if (json_object_get(rep, "compatibility")) {
        char *s = json_dumps(json_object_get(rep, "compatibility"), JSON_COMPACT);
        printf("  compatibility: %s\n", s ? s : "?");
        free(s);
    }
    if (json_string_value(json_object_get(rep, "receipt")))
        printf("  receipt: %s\n", json_string_value(json_object_get(rep, "receipt")));
}

static int run_shadow(gov_cli_t *g)
{
    char path[PATH_BUF];
    httpc_response_t res = { 0 };
    json_t *body = json_object();
    int rc, r;
    if (!body)
        return ADNET_EXIT_SYSTEM;
    if ((rc = connect_chain(g)) >= 0)
        goto out;
    snprintf(path, sizeof(path), "/gov/proposals/%s/shadow", g->id_arg);
    if ((r = httpc_post_json(g->api.http, path, body, &res)) < 0) {
        rc = txsub_unreachable(&g->api, r);
        goto out;
    }
    if (res.status != 200 || !json_is_object(res.json)) {
        rc = txsub_failure(&g->api, &res, false);
        goto out;
    }
    if (g->json) {
        rc = txsub_print_json(res.json);
    } else {
        print_shadow(res.json);
        rc = fflush(stdout) == 0 ? ADNET_EXIT_OK : ADNET_EXIT_SYSTEM;
    }
    if (rc == ADNET_EXIT_OK && !json_is_true(json_object_get(res.json, "ok"))) {
        const json_t *e = json_object_get(res.json, "error");
        fprintf(stderr, "adnet %s: the action would fail: %s: %s\n", g->verb,
                str_or(e, "code", "?"), str_or(e, "message", ""));
        rc = SHADOW_WOULD_FAIL;
    }
out:
    httpc_response_clear(&res);
    json_decref(body);
    return rc;
}

/* A proposal document for people: what, state, heights, votes, journal. */
static void print_proposal(const json_t *d)
{
    const json_t *v;
    size_t i;
    printf("proposal    %s\n", str_or(d, "id", "?"));
    printf("action      %s (%s %s)\n", str_or(d, "summary", ""), str_or(d, "action", "?"),
           str_or(d, "subject", ""));
    printf("state       %s\n", str_or(d, "state", "?"));
    printf("proposer    %s\n", str_or(d, "proposer", "?"));
    printf("proposed    at height %" JSON_INTEGER_FORMAT "; voting ends at %"
           JSON_INTEGER_FORMAT "; activation %s", int_of(d, "proposed_height"),
           int_of(d, "voting_end"), int_of(d, "activation_height") ? "at height " : "at once");
    if (int_of(d, "activation_height"))
        printf("%" JSON_INTEGER_FORMAT, int_of(d, "activation_height"));
    printf("\nvotes       yes %" JSON_INTEGER_FORMAT ", no %" JSON_INTEGER_FORMAT
           ", abstain %" JSON_INTEGER_FORMAT "\n", int_of(d, "yes"), int_of(d, "no"),
           int_of(d, "abstain"));
    printf("base        %s (%s)\n", str_or(d, "base", "?"), str_or(d, "base_text", ""));
    json_array_foreach(json_object_get(d, "votes"), i, v)
        printf("  vote      %s %s at height %" JSON_INTEGER_FORMAT " (tx %s)\n",
               str_or(v, "voter", "?"), str_or(v, "choice", "?"), int_of(v, "height"),
               str_or(v, "tx", "-"));
    printf("journal:\n");
    json_array_foreach(json_object_get(d, "journal"), i, v) {
        printf("  #%-3" JSON_INTEGER_FORMAT " height %-6" JSON_INTEGER_FORMAT " %-8s -> %-9s"
               " %-5s receipt %s", int_of(v, "seq"), int_of(v, "height"), str_or(v, "step", "?"),
               str_or(v, "state", "?"), str_or(v, "origin", "?"), str_or(v, "receipt", "-"));
        if (json_string_value(json_object_get(v, "tx")))
            printf(" tx %s", str_or(v, "tx", ""));
        if (json_string_value(json_object_get(v, "code")))
            printf("\n        %s: %s", str_or(v, "code", ""), str_or(v, "message", ""));
        putchar('\n');
    }
}

static int run_show(gov_cli_t *g)
{
    json_t *doc = NULL;
    int rc;
    if ((rc = connect_chain(g)) >= 0 || (rc = get_proposal(g, g->id, false, &doc)) >= 0)
        return rc;
    if (g->json) {
        rc = txsub_print_json(doc);
    } else {
        print_proposal(doc);
        rc = fflush(stdout) == 0 ? ADNET_EXIT_OK : ADNET_EXIT_SYSTEM;
    }
    json_decref(doc);
    return rc;
}

static int run_list(gov_cli_t *g)
{
    static const char *const states[] = { "proposed", "approved", "applied", "rejected",
                                          "expired" };
    char path[PATH_BUF] = "/gov/proposals";
    json_t *j = NULL, *p;
    size_t i;
    int rc;
    if (has(g, G_STATE)) {
        bool known = false;
        for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
            known |= strcmp(g->str[G_STATE], states[i]) == 0;
        if (!known)
            return fail(g, "--state: expected proposed, approved, applied, rejected or "
                        "expired, got \"%s\"", g->str[G_STATE]);
        snprintf(path, sizeof(path), "/gov/proposals?state=%s", g->str[G_STATE]);
    }
    if ((rc = connect_chain(g)) >= 0 || (rc = txsub_get(&g->api, path, &j)) >= 0)
        return rc;
    if (g->json) {
        rc = txsub_print_json(j);
        json_decref(j);
        return rc;
    }
    const json_t *list = json_object_get(j, "proposals");
    if (json_array_size(list) == 0)
        printf("no proposals%s%s on %s\n", has(g, G_STATE) ? " " : "",
               has(g, G_STATE) ? g->str[G_STATE] : "", g->chain);
    json_array_foreach(list, i, p)
        printf("%s  %-8s  %-9s %-16s yes %" JSON_INTEGER_FORMAT " no %" JSON_INTEGER_FORMAT
               " abstain %" JSON_INTEGER_FORMAT "  proposed at %" JSON_INTEGER_FORMAT "  %s\n",
               str_or(p, "id", "?"), str_or(p, "state", "?"), str_or(p, "action", "?"),
               str_or(p, "subject", ""), int_of(p, "yes"), int_of(p, "no"),
               int_of(p, "abstain"), int_of(p, "proposed_height"), str_or(p, "summary", ""));
    json_decref(j);
    return fflush(stdout) == 0 ? ADNET_EXIT_OK : ADNET_EXIT_SYSTEM;
}

/* ---- the verbs and their arguments ------------------------------------- */

#define COMMON_OPTS (BIT(G_HOME) | BIT(G_CHAIN) | BIT(G_TIMEOUT))

static const gov_verb_t verbs[] = {
    { "propose", COMMON_OPTS | BIT(G_ACTION) | deploy_opts | param_opts | governors_opts |
                 BIT(G_ACTIVATION) | BIT(G_KEY) | BIT(G_NONCE) | BIT(G_JSON), false, run_propose,
      "usage: adnet gov propose --chain C --action deploy --name NAME --program FILE\n"
      "                         [--policy compatible|additive|immutable] ...\n"
      "       adnet gov propose --chain C --action param --param threshold_bps|voting_period\n"
      "                         --value N ...\n"
      "       adnet gov propose --chain C --action governors --governor KEY [--governor KEY]...\n"
      "                         [--threshold-bps N] ...\n"
      "       ... [--activation-height H] [--key NAME] [--nonce N] --home DIR [--json]\n"
      "\n"
      "Propose an action, made against what it changes as it is now (its base, read\n"
      "from the node): deploy registers program NAME (edition 0, policy default\n"
      "compatible) or updates it to the next edition (its policy is fixed at\n"
      "registration); param sets a governance parameter; governors replaces the\n"
      "governors (KEY: 64 hex digits or an address) and the threshold (default: the\n"
      "current one). --activation-height: apply at that height once approved (default:\n"
      "at once). --nonce: the proposal's nonce (default random; the same action and\n"
      "nonce are the same proposal). --key: who proposes, a governor or a validator\n"
      "(default validator). Prints the proposal id, or {\"id\",\"tx\",\"height\"} with\n"
      "--json; a proposal that exists already is reported, not sent again.\n" },
    { "sign", COMMON_OPTS | BIT(G_KEY) | BIT(G_OUT) | BIT(G_REQUEST), true, run_sign,
      "usage: adnet gov sign ID --chain C --key NAME --out FILE [--request FILE] --home DIR\n"
      "\n"
      "Sign what proposal ID asks its governors to sign (chain id, action, nonce,\n"
      "expiry height: the \"sign\" object of adnet gov show --json) with key NAME, and\n"
      "write the signature to FILE (mode 0600; an existing FILE is never overwritten).\n"
      "The request is read from the node, or offline from --request FILE (a saved\n"
      "adnet gov show --json); either way its hash and the proposal id are checked\n"
      "here against its fields before anything is signed.\n" },
    { "attest", COMMON_OPTS | BIT(G_SIG) | BIT(G_KEY) | BIT(G_JSON), true, run_attest,
      "usage: adnet gov attest ID --chain C --sig FILE [--sig FILE]... [--key NAME] --home DIR\n"
      "                        [--json]\n"
      "\n"
      "Gather the signature files of adnet gov sign into one attestation and submit it\n"
      "(sent by --key, default validator): enough governors' signatures approve the\n"
      "proposal. Every file must sign proposal ID's current request. A proposal\n"
      "approved already is reported (its first approve receipt), not attested again.\n" },
    { "vote", COMMON_OPTS | BIT(G_KEY) | BIT(G_CHOICE) | BIT(G_JSON), true, run_vote,
      "usage: adnet gov vote ID --chain C --key NAME --choice yes|no|abstain --home DIR [--json]\n"
      "\n"
      "Vote on proposal ID as governor NAME; enough yes votes approve it. A vote is\n"
      "final: the same vote again prints its receipt; another one is refused.\n" },
    { "shadow", COMMON_OPTS | BIT(G_JSON), true, run_shadow,
      "usage: adnet gov shadow ID --chain C --home DIR [--json]\n"
      "\n"
      "Ask the node to apply proposal ID's action to its current state and roll it back,\n"
      "and print what would change (state root, tables, supply, changes). Exit 0 if the\n"
      "action would apply, 1 if it would fail (the reason on stderr).\n" },
    { "show", COMMON_OPTS | BIT(G_JSON), true, run_show,
      "usage: adnet gov show ID --chain C --home DIR [--json]\n"
      "\n"
      "Print proposal ID: action, state, heights, votes and its journal (every step\n"
      "with its receipt); --json prints the node's document as it is.\n" },
    { "list", COMMON_OPTS | BIT(G_STATE) | BIT(G_JSON), false, run_list,
      "usage: adnet gov list --chain C [--state proposed|approved|applied|rejected|expired]\n"
      "                      --home DIR [--json]\n"
      "\n"
      "List the chain's proposals, newest first.\n" },
    { "apply", COMMON_OPTS | BIT(G_KEY) | BIT(G_JSON), true, run_apply,
      "usage: adnet gov apply ID --chain C [--key NAME] --home DIR [--json]\n"
      "\n"
      "Apply approved proposal ID whose activation height has come (sent by --key,\n"
      "default validator). One applied already is reported (its first apply receipt).\n" },
};
#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

static void gov_usage(FILE *f)
{
    fprintf(f,
        "usage: adnet gov VERB [ID] --chain alpha|delta --home DIR [OPTIONS]\n"
        "\n"
        "  propose --action deploy|param|governors ...   propose an action (prints its ID)\n"
        "  sign    ID --key NAME --out FILE [--request FILE]  a governor signs, offline too\n"
        "  attest  ID --sig FILE [--sig FILE]...          submit the governors' signatures\n"
        "  vote    ID --key NAME --choice yes|no|abstain  a governor votes\n"
        "  shadow  ID                                     dry run: what would change\n"
        "  show    ID                                     state, votes, journal, receipts\n"
        "  list    [--state S]                            the chain's proposals\n"
        "  apply   ID                                     apply an approved proposal now due\n"
        "\n"
        "Options: --key NAME (a key in DIR/keys; default validator, but sign and vote\n"
        "need it), --timeout S (wait for a commit, default 60), --json. adnet gov VERB\n"
        "--help gives each verb's options. Governance transactions carry no fee and\n"
        "expire 100 blocks after the tip. Steps are safe to repeat: what happened\n"
        "already is reported from the node's journal, not sent again.\n"
        "Exit codes: 0 done (or done before), 1 shadow: the action would fail, 100 usage\n"
        "error or refused by the node (the reason: \"adnet gov VERB: refused (CODE):\n"
        "MESSAGE\"), 111 node unreachable, 5xx, or not committed in time.\n");
}

static const gov_verb_t *find_verb(const char *name)
{
    for (size_t i = 0; i < N_VERBS; i++)
        if (strcmp(verbs[i].name, name) == 0)
            return &verbs[i];
    return NULL;
}

static int unknown_verb(const char *name)
{
    const char *near = NULL;
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < N_VERBS; i++) {
        size_t d = typo_distance(name, strlen(name), verbs[i].name, strlen(verbs[i].name));
        if (d < best) {
            best = d;
            near = verbs[i].name;
        }
    }
    if (best <= 2)
        fprintf(stderr, "adnet gov: unknown verb \"%s\" (did you mean %s?)\n", name, near);
    else
        fprintf(stderr, "adnet gov: unknown verb \"%s\" (adnet gov --help lists them)\n", name);
    return ADNET_EXIT_CONFIG;
}

/* Take option o with optarg into g. Return -1, or an exit code. */
static int take_option(gov_cli_t *g, int o)
{
    if (o == G_JSON) {
        g->json = true;
        return -1;
    }
    if (o == G_GOVERNOR || o == G_SIG) {
        size_t *n = o == G_GOVERNOR ? &g->n_governors : &g->n_sigs;
        if (*n == GOV_MAX_GOVERNORS)
            return fail(g, "--%s: at most %d", all_opts[o].name, GOV_MAX_GOVERNORS);
        (o == G_GOVERNOR ? g->governors : g->sigs)[(*n)++] = optarg;
    } else if (has(g, o) && !(repeated_opts & BIT(o))) {
        return fail(g, "--%s given twice", all_opts[o].name);
    }
    g->have |= BIT(o);
    g->str[o] = optarg;
    if (numeric_opts & BIT(o)) {
        int r = cliopt_parse_u64(optarg, &g->num[o]);
        if (r < 0)
            return fail(g, "--%s: expected a whole number 0..%" PRIu64 ", got \"%s\"%s",
                        all_opts[o].name, UINT64_MAX, optarg, r == -ERANGE ? " (too large)" : "");
    }
    return -1;
}

/* Parse argv (argv[0] is the verb) with v's options into g. Return -1 to
 * go on, or an exit code (0 once --help is answered). */
static int parse(gov_cli_t *g, const gov_verb_t *v, int argc, char **argv)
{
    struct option opts[N_OPTS + 1];
    size_t n = 0;
    int o, rc;
    for (size_t i = 0; i < N_OPTS; i++)
        if (all_opts[i].val == G_HELP || (v->opts & BIT(all_opts[i].val)))
            opts[n++] = all_opts[i];
    memset(&opts[n], 0, sizeof(opts[n]));
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (o == G_HELP) {
            fputs(v->usage, stdout);
            return ADNET_EXIT_OK;
        }
        if (o == '?' || o == ':')
            return cliopt_fail(g->verb, opts, o, argv);
        if ((rc = take_option(g, o)) >= 0)
            return rc;
    }
    if (optind < argc && v->id)
        g->id_arg = argv[optind++];
    if (optind < argc)
        return fail(g, "unexpected argument \"%s\" (see adnet %s --help)", argv[optind],
                    g->verb);
    if (v->id && !g->id_arg)
        return fail(g, "name the proposal: adnet %s ID (64 hex digits; adnet gov list shows "
                    "them)", g->verb);
    if (g->id_arg && (strlen(g->id_arg) != 64 || hex_decode(g->id, GOV_ID_LEN, g->id_arg) < 0))
        return fail(g, "a proposal id is 64 hex digits, got \"%s\"", g->id_arg);
    if (!has(g, G_CHAIN))
        return fail(g, "say which chain: --chain alpha or --chain delta");
    g->chain = g->str[G_CHAIN];
    if (strcmp(g->chain, "alpha") != 0 && strcmp(g->chain, "delta") != 0)
        return fail(g, "--chain: expected alpha or delta, got \"%s\"", g->chain);
    if (has(g, G_TIMEOUT) && (g->num[G_TIMEOUT] == 0 || g->num[G_TIMEOUT] > 86400))
        return fail(g, "--timeout: expected 1..86400 seconds");
    const char *home = has(g, G_HOME) ? g->str[G_HOME] : getenv("ADNET_HOME");
    if (!home || !*home)
        return fail(g, "no node home: pass --home DIR or set ADNET_HOME");
    if (!realpath(home, g->home))
        return fail(g, "%s: %s", home, strerror(errno));
    return -1;
}

int cmd_gov(int argc, char **argv)
{
    gov_cli_t *g;
    int rc;
    if (argc < 2) {
        gov_usage(stderr);
        return ADNET_EXIT_CONFIG;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        gov_usage(stdout);
        return ADNET_EXIT_OK;
    }
    const gov_verb_t *v = find_verb(name);
    if (!v)
        return unknown_verb(name);
    if (!(g = calloc(1, sizeof(*g))))
        return ADNET_EXIT_SYSTEM;
    snprintf(g->verb, sizeof(g->verb), "gov %s", v->name);
    if ((rc = parse(g, v, argc - 1, argv + 1)) < 0) {
        if (sodium_init() < 0) {
            fprintf(stderr, "adnet %s: libsodium failed to initialise\n", g->verb);
            rc = ADNET_EXIT_SYSTEM;
        } else {
            rc = v->run(g);
        }
    }
    httpc_free(g->api.http);
    free(g);
    return rc;
}
