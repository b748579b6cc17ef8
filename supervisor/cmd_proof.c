/* `adnet verify-proof FILE|- [--json]`: check a state proof offline.
 *
 * The input is the document a chain's API serves for a proof:
 *   {"chain":"alpha"|"delta", "height":N, "state_root":hex,
 *    "tree":"records"|"nullifiers"|"accounts", "tree_root":hex,
 *    "proof":{smt proof JSON, common/smt.h}, "value":{...}|null,
 *    "tree_roots":{"records":hex,"nullifiers":hex}   (alpha; optional)}
 * Other fields are ignored. If value carries "leaf_value" (delta does), it
 * must be the proven leaf value. The proof must hold against proof.root, that
 * root must be tree_root, and tree_root must lead to state_root: for delta
 * the state root is the accounts tree root; for alpha it is
 * BLAKE2b-256("adnet/alpha/state/v2" || records_root || nullifiers_root),
 * checked when the document carries tree_roots. Exit 0 if it all holds,
 * 1 if it does not (with the reason), 100 for unreadable input or usage. */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/exitcode.h"
#include "common/base/hex.h"
#include "common/store/smt.h"
#include "supervisor/cli.h"
#include "supervisor/cliopt.h"

#define PROOF_EXIT_INVALID 1
#define ALPHA_STATE_TAG "adnet/alpha/state/v2"

typedef struct {
    const char *chain;                /* "alpha" / "delta" (points into the JSON document) */
    const char *tree;                 /* "records" / "nullifiers" / "accounts" */
    json_int_t height;
    uint8_t state_root[SMT_HASH_LEN];
    uint8_t tree_root[SMT_HASH_LEN];
    uint8_t proof_root[SMT_HASH_LEN]; /* proof.root */
    uint8_t key[SMT_KEY_LEN];         /* proof.key */
    smt_proof_t proof;
    bool has_value;                   /* the document has a "value" field */
    bool value_null;                  /* ... and it is null */
    bool has_value_leaf;              /* value.leaf_value given (delta serves it) */
    uint8_t value_leaf[SMT_HASH_LEN];
    bool has_tree_roots;
    uint8_t records_root[SMT_HASH_LEN];    /* alpha: tree_roots.records */
    uint8_t nullifiers_root[SMT_HASH_LEN]; /* alpha: tree_roots.nullifiers */
    bool has_accounts_root;
    uint8_t accounts_root[SMT_HASH_LEN];   /* delta: tree_roots.accounts, if given */
} proof_doc_t;

typedef struct {
    int inclusion;                    /* 1 inclusion, 0 non-inclusion */
    uint8_t leaf_value[SMT_HASH_LEN]; /* on inclusion */
    bool state_root_checked;          /* tree_root was tied to state_root */
} proof_result_t;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: adnet verify-proof FILE|- [--json]\n"
        "\n"
        "Check a state proof as a chain's API serves it, offline: the Merkle\n"
        "proof against its tree root, and the tree root against the state root\n"
        "of the block at that height. Exit 0 if the proof holds, 1 if it does\n"
        "not, 100 if the input cannot be read. See docs/proofs.md.\n");
}

static int get_hex32(const json_t *obj, const char *name, uint8_t out[32])
{
    const json_t *v = json_object_get(obj, name);
    const char *s = json_string_value(v);
    if (s == NULL || json_string_length(v) != 64)
        return -EINVAL;
    return hex_decode(out, 32, s);
}

/* Read chain, height, state_root, tree and tree_root into d. Return 0,
 * or -EINVAL with a message in err. */
static int doc_parse_head(const json_t *doc, proof_doc_t *d, char *err, size_t errlen)
{
    const json_t *v;
    d->chain = json_string_value(json_object_get(doc, "chain"));
    if (d->chain == NULL || (strcmp(d->chain, "alpha") != 0 && strcmp(d->chain, "delta") != 0)) {
        snprintf(err, errlen, "\"chain\" must be \"alpha\" or \"delta\"");
        return -EINVAL;
    }
    v = json_object_get(doc, "height");
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(err, errlen, "\"height\" must be a non-negative integer");
        return -EINVAL;
    }
    d->height = json_integer_value(v);
    if (get_hex32(doc, "state_root", d->state_root) < 0) {
        snprintf(err, errlen, "\"state_root\" must be 64 hex digits");
        return -EINVAL;
    }
    d->tree = json_string_value(json_object_get(doc, "tree"));
    bool alpha = strcmp(d->chain, "alpha") == 0;
    if (d->tree == NULL ||
        (alpha ? strcmp(d->tree, "records") != 0 && strcmp(d->tree, "nullifiers") != 0
               : strcmp(d->tree, "accounts") != 0)) {
        snprintf(err, errlen, "\"tree\" must be %s for chain %s",
                 alpha ? "\"records\" or \"nullifiers\"" : "\"accounts\"", d->chain);
        return -EINVAL;
    }
    if (get_hex32(doc, "tree_root", d->tree_root) < 0) {
        snprintf(err, errlen, "\"tree_root\" must be 64 hex digits");
        return -EINVAL;
    }
    return 0;
}

/* Read the optional "value" into d. Return 0, or -EINVAL with a message
 * in err. */
static int doc_parse_value(const json_t *doc, proof_doc_t *d, char *err, size_t errlen)
{
    const json_t *v = json_object_get(doc, "value");
    if (v == NULL)
        return 0;
    if (!json_is_null(v) && !json_is_object(v)) {
        snprintf(err, errlen, "\"value\" must be an object or null");
        return -EINVAL;
    }
    d->has_value = true;
    d->value_null = json_is_null(v);
    if (json_object_get(v, "leaf_value") != NULL) {
        if (get_hex32(v, "leaf_value", d->value_leaf) < 0) {
            snprintf(err, errlen, "\"value.leaf_value\" must be 64 hex digits");
            return -EINVAL;
        }
        d->has_value_leaf = true;
    }
    return 0;
}

/* Read the optional "tree_roots" of d's chain into d. Return 0, or
 * -EINVAL with a message in err. */
static int doc_parse_tree_roots(const json_t *doc, proof_doc_t *d, char *err, size_t errlen)
{
    const json_t *v = json_object_get(doc, "tree_roots");
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_object(v)) {
        snprintf(err, errlen, "\"tree_roots\" must be an object");
        return -EINVAL;
    }
    if (strcmp(d->chain, "alpha") == 0) {
        if (get_hex32(v, "records", d->records_root) < 0 ||
            get_hex32(v, "nullifiers", d->nullifiers_root) < 0) {
            snprintf(err, errlen, "\"tree_roots\" must carry \"records\" and "
                                  "\"nullifiers\" as 64 hex digits each");
            return -EINVAL;
        }
        d->has_tree_roots = true;
    } else if (json_object_get(v, "accounts") != NULL) {
        if (get_hex32(v, "accounts", d->accounts_root) < 0) {
            snprintf(err, errlen, "\"tree_roots.accounts\" must be 64 hex digits");
            return -EINVAL;
        }
        d->has_accounts_root = true;
    }
    return 0;
}

/* Read the document's fields into d. Return 0, -EINVAL with a message in
 * err, or -ENOMEM. */
static int doc_parse(const json_t *doc, proof_doc_t *d, char *err, size_t errlen)
{
    const char *what = NULL;
    int rc = -EINVAL;

    memset(d, 0, sizeof(*d));
    if (!json_is_object(doc)) {
        snprintf(err, errlen, "the document is not a JSON object");
        goto out;
    }
    if ((rc = doc_parse_head(doc, d, err, errlen)) < 0)
        goto out;
    rc = smt_proof_from_json(json_object_get(doc, "proof"), d->proof_root, d->key, &d->proof,
                             &what);
    if (rc < 0) {
        if (rc != -ENOMEM && what != NULL && strcmp(what, "proof") == 0)
            snprintf(err, errlen, "\"proof\" must be an object");
        else if (rc != -ENOMEM)
            snprintf(err, errlen, "bad proof: field \"proof.%s\" is missing or malformed",
                     what ? what : "?");
        goto out;
    }
    if ((rc = doc_parse_value(doc, d, err, errlen)) < 0)
        goto out;
    rc = doc_parse_tree_roots(doc, d, err, errlen);
out:
    return rc;
}

static void alpha_state_root(const uint8_t records[SMT_HASH_LEN],
                             const uint8_t nullifiers[SMT_HASH_LEN], uint8_t out[SMT_HASH_LEN])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, SMT_HASH_LEN);
    crypto_generichash_update(&st, (const uint8_t *)ALPHA_STATE_TAG, strlen(ALPHA_STATE_TAG));
    crypto_generichash_update(&st, records, SMT_HASH_LEN);
    crypto_generichash_update(&st, nullifiers, SMT_HASH_LEN);
    crypto_generichash_final(&st, out, SMT_HASH_LEN);
}

/* Check the proof chain: proof -> proof.root = tree_root -> state_root.
 * Return 0 and fill r, or -EINVAL with the reason in why. */
static int doc_verify(const proof_doc_t *d, proof_result_t *r, char *why, size_t whylen)
{
    proof_result_t res;
    int rc = -EINVAL;

    memset(&res, 0, sizeof(res));
    int v = smt_verify(d->proof_root, d->key, &d->proof, res.leaf_value);
    if (v < 0) {
        snprintf(why, whylen, "the Merkle proof does not hold: its leaf and %u siblings do not "
                              "hash to proof.root along the key's path",
                 (unsigned)d->proof.n_siblings);
        goto out;
    }
    res.inclusion = v;
    if (sodium_memcmp(d->proof_root, d->tree_root, SMT_HASH_LEN) != 0) {
        snprintf(why, whylen, "proof.root is not tree_root: the proof is for another tree");
        goto out;
    }
    if (strcmp(d->chain, "delta") == 0) {
        if (sodium_memcmp(d->tree_root, d->state_root, SMT_HASH_LEN) != 0) {
            snprintf(why, whylen, "tree_root is not state_root (on delta the state root is "
                                  "the accounts tree root)");
            goto out;
        }
        if (d->has_accounts_root &&
            sodium_memcmp(d->accounts_root, d->tree_root, SMT_HASH_LEN) != 0) {
            snprintf(why, whylen, "tree_roots.accounts is not tree_root");
            goto out;
        }
        res.state_root_checked = true;
    } else if (d->has_tree_roots) {
        const uint8_t *mine =
            strcmp(d->tree, "records") == 0 ? d->records_root : d->nullifiers_root;
        uint8_t state[SMT_HASH_LEN];
        if (sodium_memcmp(mine, d->tree_root, SMT_HASH_LEN) != 0) {
            snprintf(why, whylen, "tree_roots.%s is not tree_root", d->tree);
            goto out;
        }
        alpha_state_root(d->records_root, d->nullifiers_root, state);
        if (sodium_memcmp(state, d->state_root, SMT_HASH_LEN) != 0) {
            snprintf(why, whylen, "state_root is not BLAKE2b-256(\"%s\" || tree_roots.records "
                                  "|| tree_roots.nullifiers)", ALPHA_STATE_TAG);
            goto out;
        }
        res.state_root_checked = true;
    }
    if (d->has_value && res.inclusion && d->value_null) {
        snprintf(why, whylen, "the proof shows the key present but \"value\" is null");
        goto out;
    }
    if (d->has_value && !res.inclusion && !d->value_null) {
        snprintf(why, whylen, "the proof shows the key absent but \"value\" is not null");
        goto out;
    }
    if (res.inclusion && d->has_value_leaf &&
        sodium_memcmp(d->value_leaf, res.leaf_value, SMT_HASH_LEN) != 0) {
        snprintf(why, whylen, "value.leaf_value is not the leaf value the proof shows");
        goto out;
    }
    *r = res;
    rc = 0;
out:
    return rc;
}

static void print_json(json_t *o)
{
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s != NULL) {
        printf("%s\n", s);
        free(s);
    }
}

static int report_valid(const proof_doc_t *d, const proof_result_t *r, bool as_json)
{
    char key[2 * SMT_KEY_LEN + 1], troot[2 * SMT_HASH_LEN + 1], sroot[2 * SMT_HASH_LEN + 1];
    char val[2 * SMT_HASH_LEN + 1];
    hex_encode(key, d->key, SMT_KEY_LEN);
    hex_encode(troot, d->tree_root, SMT_HASH_LEN);
    hex_encode(sroot, d->state_root, SMT_HASH_LEN);
    hex_encode(val, r->leaf_value, SMT_HASH_LEN);
    if (as_json) {
        json_t *o = json_pack("{s:b,s:b,s:s,s:I,s:s,s:s,s:s,s:s,s:b}", "valid", 1, "inclusion",
                              r->inclusion, "chain", d->chain, "height", d->height, "tree",
                              d->tree, "key", key, "tree_root", troot, "state_root", sroot,
                              "state_root_checked", r->state_root_checked);
        if (o == NULL || json_object_set_new(o, "leaf_value",
                                             r->inclusion ? json_string(val) : json_null()) < 0) {
            json_decref(o);
            fprintf(stderr, "adnet verify-proof: out of memory\n");
            return ADNET_EXIT_SYSTEM;
        }
        print_json(o);
        json_decref(o);
        return ADNET_EXIT_OK;
    }
    const char *root = r->state_root_checked ? sroot : troot;
    if (r->inclusion)
        printf("inclusion: key %s is in the tree at height %" JSON_INTEGER_FORMAT " (root %s)\n",
               key, d->height, root);
    else
        printf("non-inclusion: key %s is not in the tree at height %" JSON_INTEGER_FORMAT
               " (root %s)\n", key, d->height, root);
    printf("  chain %s, tree %s, tree root %s\n", d->chain, d->tree, troot);
    if (r->inclusion)
        printf("  leaf value %s\n", val);
    if (r->state_root_checked)
        printf("  state root %s follows from the tree root\n", sroot);
    else
        printf("  state root NOT checked: the document carries no \"tree_roots\", so the "
               "tree root is not tied to the state root %s\n", sroot);
    return ADNET_EXIT_OK;
}

static int report_invalid(const char *why, bool as_json)
{
    if (as_json) {
        json_t *o = json_pack("{s:b,s:s}", "valid", 0, "reason", why);
        if (o != NULL)
            print_json(o);
        json_decref(o);
    } else {
        printf("invalid: %s\n", why);
    }
    return PROOF_EXIT_INVALID;
}

int cmd_verify_proof(int argc, char **argv)
{
    const char *file = NULL;
    bool as_json = false;
    json_t *doc = NULL;
    json_error_t jerr;
    proof_doc_t *d = NULL;
    proof_result_t res;
    char msg[256];
    int rc = ADNET_EXIT_CONFIG;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            as_json = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            rc = ADNET_EXIT_OK;
            goto out;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            static const struct option opts[] = {
                { "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
            };
            cliopt_unknown("verify-proof", opts, argv[i]);
            goto out;
        } else if (file == NULL) {
            file = argv[i];
        } else {
            fprintf(stderr, "adnet verify-proof: one input only (got \"%s\" and \"%s\")\n",
                    file, argv[i]);
            goto out;
        }
    }
    if (file == NULL) {
        usage(stderr);
        goto out;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "adnet verify-proof: libsodium failed to initialise\n");
        rc = ADNET_EXIT_SYSTEM;
        goto out;
    }
    if (strcmp(file, "-") == 0)
        doc = json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr);
    else
        doc = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        const char *name = strcmp(file, "-") == 0 ? "<stdin>" : file;
        if (jerr.line > 0) /* a parse error; else jansson could not read the input at all */
            fprintf(stderr, "adnet verify-proof: %s:%d:%d: %s\n", name, jerr.line, jerr.column,
                    jerr.text);
        else
            fprintf(stderr, "adnet verify-proof: %s: %s\n", name, jerr.text);
        goto out;
    }
    d = malloc(sizeof(*d)); /* holds a whole proof: too big for a small stack */
    if (d == NULL) {
        fprintf(stderr, "adnet verify-proof: out of memory\n");
        rc = ADNET_EXIT_SYSTEM;
        goto out;
    }
    int r = doc_parse(doc, d, msg, sizeof(msg));
    if (r == -ENOMEM) {
        fprintf(stderr, "adnet verify-proof: out of memory\n");
        rc = ADNET_EXIT_SYSTEM;
        goto out;
    }
    if (r < 0) {
        fprintf(stderr, "adnet verify-proof: %s: %s\n", strcmp(file, "-") == 0 ? "<stdin>" : file,
                msg);
        goto out;
    }
    if (doc_verify(d, &res, msg, sizeof(msg)) < 0)
        rc = report_invalid(msg, as_json);
    else
        rc = report_valid(d, &res, as_json);
out:
    free(d);
    json_decref(doc);
    return rc;
}
