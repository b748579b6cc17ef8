/* Governance wire formats, the same on every chain: program files, the
 * actions governors approve, their attestations, and the payloads of the
 * governance transaction kinds (tx_t.kind GOV_KIND_*, reserved on every
 * chain). docs/governance.md describes them for operators.
 *
 * program: u8 GOV_PROGRAM_VERSION || str name || u16 n_functions ||
 *   n * (str name || u8 n_in || n_in * u8 type || u8 n_out || n_out * u8 type)
 *   || u16 n_records || n * (str name || u8 n_fields || n_fields * (str
 *   field || u8 type)) || u16 n_mappings || n * (str name || u8 key type ||
 *   u8 value type) || var code. Names are gov_name_is_valid; each list is
 *   strictly ascending by name (bytewise), so one interface has one
 *   encoding; so are the fields of each record. A program's checksum is BLAKE2b-256 of these bytes.
 *
 * action: u8 GOV_ACTION_VERSION || u8 kind || base[32] || u64
 *   activation_height (0: apply as soon as approved) || body:
 *   deploy:    str name || u64 edition || u8 policy || var program
 *   param:     str key || u64 value
 *   governors: u32 threshold_bps || u16 n || n * key[32] (distinct)
 *   base is the digest of what the action changes as it was when it was
 *   proposed (common/node/gov/gov.h, gov_base); an action whose base has
 *   moved is stale.
 *
 * attestation: u64 nonce || u64 expiry_height || u16 n || n * (key[32] ||
 *   sig[64]), keys strictly ascending. Each signs gov_attest_hash.
 *
 * tx payloads:
 *   GOV_KIND_PROPOSE: u64 nonce || var action
 *   GOV_KIND_ATTEST:  proposal id[32] || attestation
 *   GOV_KIND_VOTE:    proposal id[32] || u8 choice (gov_choice_t)
 *   GOV_KIND_APPLY:   proposal id[32]
 *
 * Decoders read exactly the bytes given, are bounds-checked, and refuse
 * an unknown version (-EPROTONOSUPPORT), truncation (-EMSGSIZE), trailing
 * bytes, values out of the limits below, unsorted or repeated entries
 * (-EBADMSG), setting *what to the field at fault. They check no
 * signature. Encoders refuse what the decoder would (-EINVAL) and a
 * buffer too small (-ENOBUFS). */
#ifndef ADNET_GOV_PROTO_H
#define ADNET_GOV_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/block.h"

#define GOV_PROGRAM_VERSION 1
#define GOV_ACTION_VERSION 1

/* Transaction kinds every chain reserves for governance (docs/governance.md). */
#define GOV_KIND_PROPOSE 0xF001
#define GOV_KIND_ATTEST 0xF002
#define GOV_KIND_VOTE 0xF003
#define GOV_KIND_APPLY 0xF004

#define GOV_NAME_MAX 32          /* program, function, record, mapping, field, param names */
#define GOV_MAX_FUNCTIONS 64
#define GOV_MAX_IO 16            /* inputs, and outputs, of one function */
#define GOV_MAX_RECORDS 32
#define GOV_MAX_FIELDS 32        /* of one record */
#define GOV_MAX_MAPPINGS 32
#define GOV_CODE_MAX 4096        /* opaque code bytes */
#define GOV_PROGRAM_MAX 6144     /* encoded program bytes */
#define GOV_MAX_GOVERNORS 128
#define GOV_ACTION_MAX (GOV_PROGRAM_MAX + 256)
#define GOV_ATTEST_MAX (8 + 8 + 2 + GOV_MAX_GOVERNORS * (32 + 64))
#define GOV_ID_LEN 32
#define GOV_THRESHOLD_BPS_DEFAULT 6700

/* Field types of an interface (their names, "u64", in gov_type_name). */
typedef enum {
    GOV_T_BOOL = 1,
    GOV_T_U8, GOV_T_U16, GOV_T_U32, GOV_T_U64, GOV_T_U128,
    GOV_T_I8, GOV_T_I16, GOV_T_I32, GOV_T_I64, GOV_T_I128,
    GOV_T_FIELD, GOV_T_GROUP, GOV_T_SCALAR, GOV_T_ADDRESS, GOV_T_SIGNATURE,
    GOV_T_LAST = GOV_T_SIGNATURE,
} gov_type_t;

/* "u64" for GOV_T_U64, NULL for a value that is no type. */
const char *gov_type_name(uint8_t t);
/* The type named s, or 0. */
uint8_t gov_type_parse(const char *s);

/* A name: 1..GOV_NAME_MAX of [a-z0-9_], starting with [a-z]. */
bool gov_name_is_valid(const char *s);

typedef enum {
    GOV_POLICY_IMMUTABLE = 0, /* no update at all */
    GOV_POLICY_ADDITIVE = 1,  /* only new entries; existing ones unchanged */
    GOV_POLICY_COMPATIBLE = 2,/* existing entries may change, none removed */
} gov_policy_t;

/* "immutable", "additive", "compatible"; NULL otherwise. */
const char *gov_policy_name(uint8_t p);
/* Return 0 and *out, or -EINVAL. */
int gov_policy_parse(const char *s, uint8_t *out);

typedef struct {
    char name[GOV_NAME_MAX + 1];
    uint8_t n_in, n_out;
    uint8_t in[GOV_MAX_IO], out[GOV_MAX_IO];
} gov_function_t;

typedef struct {
    char name[GOV_NAME_MAX + 1];
    uint8_t type;
} gov_field_t;

typedef struct {
    char name[GOV_NAME_MAX + 1];
    uint8_t n_fields;
    gov_field_t fields[GOV_MAX_FIELDS];
} gov_record_t;

typedef struct {
    char name[GOV_NAME_MAX + 1];
    uint8_t key, value;
} gov_mapping_t;

/* A decoded program (about 40 KiB: allocate it, don't put it on a small
 * stack). code points into the decoded buffer (not owned). */
typedef struct {
    char name[GOV_NAME_MAX + 1];
    uint16_t n_functions, n_records, n_mappings;
    gov_function_t functions[GOV_MAX_FUNCTIONS];
    gov_record_t records[GOV_MAX_RECORDS];
    gov_mapping_t mappings[GOV_MAX_MAPPINGS];
    const uint8_t *code;
    size_t code_len;
} gov_program_t;

int gov_program_encode(const gov_program_t *p, uint8_t *buf, size_t cap, size_t *len);
/* Decodes in place: on failure *p's contents are unspecified. */
int gov_program_decode(gov_program_t *p, const uint8_t *buf, size_t len, const char **what);

typedef enum {
    GOV_ACTION_DEPLOY = 1,    /* register a program (edition 0) or update it (edition + 1) */
    GOV_ACTION_PARAM = 2,     /* change a governance parameter */
    GOV_ACTION_GOVERNORS = 3, /* replace the governors and the threshold */
} gov_action_kind_t;

/* "deploy", "param", "governors"; NULL otherwise. */
const char *gov_action_name(uint8_t kind);

typedef struct {
    uint8_t kind;
    uint8_t base[32];
    uint64_t activation_height;
    union {
        struct {
            char name[GOV_NAME_MAX + 1];
            uint64_t edition;
            uint8_t policy;
            const uint8_t *program; /* encoded program, points into the decoded buffer */
            size_t program_len;     /* 1..GOV_PROGRAM_MAX */
        } deploy;
        struct {
            char key[GOV_NAME_MAX + 1];
            uint64_t value;
        } param;
        struct {
            uint32_t threshold_bps; /* 1..10000 */
            uint16_t n;             /* 1..GOV_MAX_GOVERNORS */
            uint8_t keys[GOV_MAX_GOVERNORS][32];
        } governors;
    } u;
} gov_action_t;

/* The decoder refuses an unknown action kind with -ENOTSUP and *what
 * "kind" (the verifier's "unknown_action"). It does not decode the
 * deploy's program (gov_program_decode does). */
int gov_action_encode(const gov_action_t *a, uint8_t *buf, size_t cap, size_t *len);
int gov_action_decode(gov_action_t *a, const uint8_t *buf, size_t len, const char **what);

typedef struct {
    uint8_t key[32];
    uint8_t sig[64];
} gov_sig_t;

typedef struct {
    uint64_t nonce;
    uint64_t expiry_height;   /* last height at which it may be used */
    uint16_t n;               /* 1..GOV_MAX_GOVERNORS */
    gov_sig_t sigs[GOV_MAX_GOVERNORS];
} gov_attestation_t;

/* Encoder sorts nothing: sigs must be strictly ascending by key (else
 * -EINVAL); gov_attestation_sort puts them in order first. */
void gov_attestation_sort(gov_attestation_t *a);
int gov_attestation_encode(const gov_attestation_t *a, uint8_t *buf, size_t cap, size_t *len);
/* Decode exactly len bytes of one attestation; *a is written only on success. */
int gov_attestation_decode(gov_attestation_t *a, const uint8_t *buf, size_t len,
                           const char **what);

/* What every governor signs: BLAKE2b-256("adnet/gov/attest/v1" || str
 * chain_id || var action || u64 nonce || u64 expiry_height). */
void gov_attest_hash(const char *chain_id, const uint8_t *action, size_t action_len,
                     uint64_t nonce, uint64_t expiry_height, uint8_t out[32]);
/* Sign that hash with the Ed25519 secret key sk (libsodium layout) into s. */
void gov_attest_sign(const char *chain_id, const uint8_t *action, size_t action_len,
                     uint64_t nonce, uint64_t expiry_height, const uint8_t pk[32],
                     const uint8_t sk[64], gov_sig_t *s);
/* 0 if s->sig is s->key's signature of that hash, else -EBADMSG. */
int gov_attest_verify(const char *chain_id, const uint8_t *action, size_t action_len,
                      uint64_t nonce, uint64_t expiry_height, const gov_sig_t *s);

/* A proposal's id: BLAKE2b-256("adnet/gov/proposal/v1" || str chain_id ||
 * u64 nonce || var action). The same action proposed twice with the same
 * nonce is the same proposal. */
void gov_proposal_id(const char *chain_id, uint64_t nonce, const uint8_t *action,
                     size_t action_len, uint8_t out[GOV_ID_LEN]);

typedef enum { GOV_YES = 1, GOV_NO = 2, GOV_ABSTAIN = 3 } gov_choice_t;
/* "yes", "no", "abstain"; NULL otherwise. */
const char *gov_choice_name(uint8_t c);

/* A decoded governance transaction payload; kind selects the member. */
typedef struct {
    uint16_t kind;                 /* GOV_KIND_* */
    uint8_t id[GOV_ID_LEN];        /* attest, vote, apply: the proposal */
    uint64_t nonce;                /* propose */
    const uint8_t *action;         /* propose: the encoded action (into the buffer) */
    size_t action_len;
    uint8_t choice;                /* vote */
    gov_attestation_t attestation; /* attest */
} gov_payload_t;

/* True for the GOV_KIND_* values. */
bool gov_kind_is_gov(uint16_t kind);
/* "gov_propose", "gov_attest", "gov_vote", "gov_apply"; NULL otherwise. */
const char *gov_kind_name(uint16_t kind);

int gov_payload_encode(const gov_payload_t *p, uint8_t *buf, size_t cap, size_t *len);
/* Decode a payload of kind; -ENOTSUP for a kind that is not governance's.
 * The propose action is checked by gov_action_decode too. */
int gov_payload_decode(gov_payload_t *p, uint16_t kind, const uint8_t *buf, size_t len,
                       const char **what);

#endif
