/* Program files as operators write them (JSON) and the upgrade policy.
 *
 * A program file is one JSON object (docs/governance.md has the format):
 *   {"name":"hello",
 *    "interface":{"functions":{"greet":{"inputs":["u64"],"outputs":["u64"]}},
 *                 "records":{"token":{"owner":"address","amount":"u64"}},
 *                 "mappings":{"balances":{"key":"address","value":"u64"}}},
 *    "code":"00"}
 * "records" and "mappings" may be absent (empty); "code" is hex (even
 * length, 0..GOV_CODE_MAX bytes). Functions, records, each record's
 * fields and mappings are sorted by name in the binary form (proto/gov.h),
 * so two
 * files that differ only in spacing or key order give the same bytes and
 * the same checksum. Unknown keys anywhere are refused. */
#ifndef ADNET_GOV_PROGRAM_H
#define ADNET_GOV_PROGRAM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/gov.h"

#define GOV_PROGRAM_ERR_MAX 256

/* Parse the JSON program o into *p (its code copied into code_buf, which
 * must hold GOV_CODE_MAX bytes and outlive p). Return 0, or -EINVAL with
 * "<json path>: <what was expected>" in err (e.g.
 * "interface.functions.greet.inputs[0]: unknown type \"u65\"; expected one
 * of bool, u8, ..."). */
int gov_program_from_json(const json_t *o, gov_program_t *p, uint8_t *code_buf, char *err,
                          size_t errlen);
/* Parse text (a whole program file) the same way: a JSON syntax error is
 * "line L column C: ...". */
int gov_program_from_text(const char *text, size_t len, gov_program_t *p, uint8_t *code_buf,
                          char *err, size_t errlen);
/* The program as JSON in the file's form (new reference, NULL on
 * allocation failure). */
json_t *gov_program_to_json(const gov_program_t *p);

/* BLAKE2b-256 of the encoded program bytes. */
void gov_program_checksum(const uint8_t *bytes, size_t len, uint8_t out[32]);
/* A program's id on a chain, the same for every edition:
 * BLAKE2b-256("adnet/gov/program-id/v1" || str chain_id || str name). */
void gov_program_id(const char *chain_id, const char *name, uint8_t out[32]);

/* Whether the interface of next may replace old's under policy: 0, or
 * -EPERM with a sentence in why naming the first entry that breaks it
 * ("immutable: program hello takes no update", "additive: function greet
 * changed its inputs", "compatible: record token was removed"). Code
 * changes are always allowed except under immutable; next must keep old's
 * name (else -EINVAL). */
int gov_policy_check(const gov_program_t *old, const gov_program_t *next, uint8_t policy,
                     char *why, size_t whylen);

/* The built-in programs every chain registers at genesis with edition 0
 * when its genesis lists none: credits, registry, governance, as program
 * files (JSON text) with their policy. */
typedef struct {
    const char *name;
    const char *json;
    uint8_t policy;
} gov_builtin_t;

extern const gov_builtin_t gov_builtins[];
extern const size_t gov_n_builtins;

#endif
