/* `adnet genesis sign|verify`: a governor signs a chain's genesis, and
 * anyone checks that enough of its governors did (common/store/
 * genesis_sig.h). The signatures live beside the genesis, in
 * HOME/CHAIN/genesis.sigs.json, which every worker start checks when it
 * is there. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/exitcode.h"
#include "common/base/fsutil.h"
#include "common/base/hex.h"
#include "common/base/keys.h"
#include "common/store/genesis.h"
#include "common/store/genesis_sig.h"
#include "supervisor/cli.h"
#include "supervisor/cliopt.h"
#include "supervisor/txsubmit.h"

#define GENESIS_USAGE                                                                        \
    "usage: adnet genesis sign   --home DIR --chain CHAIN --key NAME\n"                      \
    "       adnet genesis verify --home DIR --chain CHAIN [--json]\n"                        \
    "\n"                                                                                     \
    "sign: the governor key HOME/keys/NAME.json signs CHAIN's genesis hash and adds the\n"  \
    "signature to HOME/CHAIN/genesis.sigs.json (created if missing; a key's signature\n"    \
    "already there is kept). verify: check that file against the genesis: every signer\n"  \
    "a governor of it, once, each signature valid, and at least threshold_bps of the\n"    \
    "governors (6700 unless the genesis says otherwise). Exit 0 signed, 1 not (the\n"      \
    "reason on stderr), 100 usage or a key that is not a governor, 111 otherwise.\n"

typedef struct {
    const char *home, *chain, *key;
    bool json;
    char gpath[PATH_MAX], spath[PATH_MAX];
    genesis_t *g;
} gen_cli_t;

static int gen_fail(int code, const char *verb, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int gen_fail(int code, const char *verb, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "adnet genesis %s: ", verb);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

/* Load HOME/CHAIN/genesis.json. Return -1, or the exit code. */
static int gen_load(gen_cli_t *c, const char *verb)
{
    char err[GENESIS_ERR_MAX];
    if (fs_path(c->gpath, sizeof(c->gpath), "%s/%s/genesis.json", c->home, c->chain) < 0 ||
        fs_path(c->spath, sizeof(c->spath), "%s/%s/%s", c->home, c->chain,
                GENESIS_SIGS_FILE) < 0)
        return gen_fail(ADNET_EXIT_CONFIG, verb, "path too long");
    if (!(c->g = malloc(sizeof(*c->g))))
        return gen_fail(ADNET_EXIT_SYSTEM, verb, "out of memory");
    if (genesis_load(c->g, c->gpath, c->chain, err) < 0)
        return gen_fail(ADNET_EXIT_CONFIG, verb, "%s", err);
    return -1;
}

static int gen_sign(gen_cli_t *c)
{
    char err[GENESIS_SIG_ERR_MAX], hex[2 * BLOCK_HASH_LEN + 1];
    keys_pair_t kp;
    genesis_sig_t s;
    bool governor = false;
    int rc;
    if (!c->key)
        return gen_fail(ADNET_EXIT_CONFIG, "sign", "say which governor signs: --key NAME");
    if ((rc = gen_load(c, "sign")) >= 0)
        return rc;
    if ((rc = txsub_load_key("genesis sign", c->home, c->key, &kp)) >= 0)
        return rc;
    for (size_t i = 0; i < c->g->n_governors; i++)
        governor |= memcmp(c->g->governors[i], kp.pk, BLOCK_KEY_LEN) == 0;
    if (!governor) {
        keys_wipe(&kp);
        return gen_fail(ADNET_EXIT_CONFIG, "sign", "key %s is not a governor of %s's genesis",
                        c->key, c->chain);
    }
    genesis_sig_make(c->g, kp.pk, kp.sk, &s);
    keys_wipe(&kp);
    if ((rc = genesis_sigs_add(c->spath, c->g, &s, err)) < 0)
        return gen_fail(rc == -EEXIST || rc == -EXDEV ? ADNET_EXIT_CONFIG : ADNET_EXIT_SYSTEM,
                        "sign", "%s", err);
    hex_encode(hex, c->g->hash, BLOCK_HASH_LEN);
    printf("signed %s genesis %s as %s: %s\n", c->chain, hex, c->key, c->spath);
    return ADNET_EXIT_OK;
}

static int gen_verify(gen_cli_t *c)
{
    char err[GENESIS_SIG_ERR_MAX] = "", hex[2 * BLOCK_HASH_LEN + 1];
    genesis_sigs_t *sigs;
    size_t good = 0;
    int rc;
    if ((rc = gen_load(c, "verify")) >= 0)
        return rc;
    if (!(sigs = malloc(sizeof(*sigs))))
        return gen_fail(ADNET_EXIT_SYSTEM, "verify", "out of memory");
    rc = genesis_sigs_load(sigs, c->spath, err);
    if (rc == 0)
        rc = genesis_sigs_verify(c->g, sigs, &good, err);
    free(sigs);
    hex_encode(hex, c->g->hash, BLOCK_HASH_LEN);
    if (c->json) {
        json_t *o = json_pack("{s:s,s:s,s:b,s:I,s:I,s:I,s:s}", "chain", c->chain, "genesis_hash",
                              hex, "signed", rc == 0, "signatures", (json_int_t)good,
                              "governors", (json_int_t)c->g->n_governors, "threshold_bps",
                              (json_int_t)(c->g->gov_threshold_bps ? c->g->gov_threshold_bps
                                                                   : GENESIS_THRESHOLD_BPS_DEFAULT),
                              "reason", rc == 0 ? "" : err);
        txsub_print_json(o);
        json_decref(o);
    } else if (rc == 0) {
        printf("%s genesis %s: signed by %zu of %zu governors\n", c->chain, hex, good,
               c->g->n_governors);
    }
    if (rc == 0)
        return ADNET_EXIT_OK;
    fprintf(stderr, "adnet genesis verify: %s\n", err);
    return rc == -ENOENT || rc == -EACCES || rc == -EPERM || rc == -EBADMSG || rc == -EXDEV
               ? 1 : ADNET_EXIT_SYSTEM;
}

int cmd_genesis(int argc, char **argv)
{
    static const struct option opts[] = {
        { "home", required_argument, NULL, 'H' },
        { "chain", required_argument, NULL, 'c' },
        { "key", required_argument, NULL, 'k' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    gen_cli_t c = {0};
    const char *verb = argc > 1 ? argv[1] : NULL;
    int o, rc;

    if (!verb || strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
        fputs(GENESIS_USAGE, verb ? stdout : stderr);
        return verb ? ADNET_EXIT_OK : ADNET_EXIT_CONFIG;
    }
    if (strcmp(verb, "sign") != 0 && strcmp(verb, "verify") != 0)
        return gen_fail(ADNET_EXIT_CONFIG, verb, "no such verb; expected sign or verify\n%s",
                        GENESIS_USAGE);
    optind = 2;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (o) {
        case 'H': c.home = optarg; break;
        case 'c': c.chain = optarg; break;
        case 'k': c.key = optarg; break;
        case 'j': c.json = true; break;
        case 'h': fputs(GENESIS_USAGE, stdout); return ADNET_EXIT_OK;
        default: return cliopt_fail("genesis", opts, o, argv);
        }
    }
    if (!c.home)
        c.home = getenv("ADNET_HOME");
    if (!c.home || !c.chain || optind != argc)
        return gen_fail(ADNET_EXIT_CONFIG, verb, "%s\n%s", optind != argc ? "unexpected argument"
                        : !c.chain ? "say which chain: --chain C"
                                   : "no node home: pass --home DIR or set ADNET_HOME",
                        GENESIS_USAGE);
    rc = strcmp(verb, "sign") == 0 ? gen_sign(&c) : gen_verify(&c);
    free(c.g);
    return rc;
}
