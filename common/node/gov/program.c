/* Program files (JSON) to gov_program_t and back, program ids and
 * checksums, and the upgrade policy; see program.h. The binary form
 * belongs to proto/gov.c: this module only fills the struct it encodes. */
#include "common/node/gov/program.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/hex.h"
#include "proto/wire.h"

static const char PROGRAM_ID_TAG[] = "adnet/gov/program-id/v1";

/* Where a refusal happened: long enough for the deepest path
 * (interface.records.<name>.<echoed key>) with room to spare. */
#define PATH_LEN 160
/* A key or value repeated in a message is cut to this many bytes. */
#define ECHO_MAX 40

/* What a name must look like, as every name refusal says it. */
#define NAME_RULE_FMT "expected 1..%d of [a-z0-9_] starting with a letter"

/* The parser's scratch: everything is built here and copied to the
 * caller only on success. About 50 KiB, so it lives on the heap. */
typedef struct {
    gov_program_t p;
    uint8_t code[GOV_CODE_MAX];
    uint8_t bytes[GOV_PROGRAM_MAX];
    char *err;
    size_t errlen;
} parse_t;

/* Write "path: message" into the caller's err and return -EINVAL. */
static int fail(parse_t *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(parse_t *c, const char *path, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        int n = snprintf(c->err, c->errlen, "%s: ", path);
        if (n >= 0 && (size_t)n < c->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -EINVAL;
}

/* Copy s for a message: printable ASCII only (a key from the file may hold
 * anything), cut at ECHO_MAX with "...". */
static void echo(char out[ECHO_MAX + 4], const char *s)
{
    size_t i = 0;
    for (; s[i] && i < ECHO_MAX; i++)
        out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (s[i]) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

/* out = parent.key (or key at the top level), key echoed safely. */
static void path_join(char out[PATH_LEN], const char *parent, const char *key)
{
    char k[ECHO_MAX + 4];
    echo(k, key);
    snprintf(out, PATH_LEN, "%s%s%s", parent, *parent ? "." : "", k);
}

/* The string value of j, or NULL if j is no string or holds a NUL (which
 * C code would silently cut). */
static const char *string_of(const json_t *j)
{
    if (!json_is_string(j))
        return NULL;
    const char *s = json_string_value(j);
    return strlen(s) == json_string_length(j) ? s : NULL;
}

/* "bool, u8, ..., signature": every type name, for refusals. */
static void type_list(char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (unsigned t = 1; t <= GOV_T_LAST && used < n; t++) {
        int w = snprintf(out + used, n - used, "%s%s", t > 1 ? ", " : "",
                         gov_type_name((uint8_t)t));
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* Parse the type named by j at path into *out. */
static int parse_type(parse_t *c, const char *path, const json_t *j, uint8_t *out)
{
    char list[160], e[ECHO_MAX + 4];
    const char *s = string_of(j);
    uint8_t t = s ? gov_type_parse(s) : 0;
    if (t != 0) {
        *out = t;
        return 0;
    }
    type_list(list, sizeof list);
    if (!s)
        return fail(c, path, "expected a type name, one of %s", list);
    echo(e, s);
    return fail(c, path, "unknown type \"%s\"; expected one of %s", e, list);
}

/* Refuse a key of o that allowed (NULL-terminated) does not list;
 * expected is the sentence naming them. (jansson's iterators take a
 * non-const json_t but do not modify it, hence the casts here and below.) */
static int only_keys(parse_t *c, const char *path, const json_t *o, const char *const *allowed,
                     const char *expected)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], key) != 0)
            i++;
        if (!allowed[i]) {
            char at[PATH_LEN];
            path_join(at, path, key);
            return fail(c, at, "unknown key; expected %s", expected);
        }
    }
    return 0;
}

/* Refuse key (at path) unless it is a name; copy it to out. */
static int parse_name(parse_t *c, const char *path, const char *key, char out[GOV_NAME_MAX + 1])
{
    if (!gov_name_is_valid(key))
        return fail(c, path, NAME_RULE_FMT, GOV_NAME_MAX);
    memcpy(out, key, strlen(key) + 1);
    return 0;
}

/* A list of at most GOV_MAX_IO types at path. */
static int parse_types(parse_t *c, const char *path, const json_t *a, uint8_t *n, uint8_t *out)
{
    if (!json_is_array(a))
        return fail(c, path, "expected an array of at most %d types", GOV_MAX_IO);
    size_t len = json_array_size(a);
    if (len > GOV_MAX_IO)
        return fail(c, path, "expected at most %d types, got %zu", GOV_MAX_IO, len);
    for (size_t i = 0; i < len; i++) {
        char at[PATH_LEN];
        snprintf(at, sizeof at, "%s[%zu]", path, i);
        int r = parse_type(c, at, json_array_get(a, i), &out[i]);
        if (r < 0)
            return r;
    }
    *n = (uint8_t)len;
    return 0;
}

static int parse_function(parse_t *c, const char *path, const char *key, const json_t *o,
                          void *slot)
{
    gov_function_t *f = slot;
    static const char *const keys[] = {"inputs", "outputs", NULL};
    char at[PATH_LEN];
    int r;
    if ((r = parse_name(c, path, key, f->name)) < 0)
        return r;
    if (!json_is_object(o))
        return fail(c, path, "expected an object {\"inputs\": [types], \"outputs\": [types]}");
    if ((r = only_keys(c, path, o, keys, "inputs, outputs")) < 0)
        return r;
    for (int i = 0; i < 2; i++) {
        path_join(at, path, keys[i]);
        const json_t *list = json_object_get(o, keys[i]);
        if (!list)
            return fail(c, at, "missing; expected an array of at most %d types", GOV_MAX_IO);
        r = i == 0 ? parse_types(c, at, list, &f->n_in, f->in)
                   : parse_types(c, at, list, &f->n_out, f->out);
        if (r < 0)
            return r;
    }
    return 0;
}

static int by_name(const void *a, const void *b);

static int parse_record(parse_t *c, const char *path, const char *key, const json_t *o,
                        void *slot)
{
    gov_record_t *rec = slot;
    int r;
    if ((r = parse_name(c, path, key, rec->name)) < 0)
        return r;
    if (!json_is_object(o))
        return fail(c, path, "expected an object {\"field\": \"type\", ...}");
    if (json_object_size(o) > GOV_MAX_FIELDS)
        return fail(c, path, "expected at most %d fields, got %zu", GOV_MAX_FIELDS,
                    json_object_size(o));
    /* A record's fields are a set keyed by name: sorted below like the
     * other lists, so the order the file gives them in changes nothing. */
    const char *field;
    json_t *type;
    rec->n_fields = 0;
    json_object_foreach((json_t *)o, field, type) {
        char at[PATH_LEN];
        gov_field_t *f = &rec->fields[rec->n_fields];
        path_join(at, path, field);
        if ((r = parse_name(c, at, field, f->name)) < 0 ||
            (r = parse_type(c, at, type, &f->type)) < 0)
            return r;
        /* A JSON object cannot repeat a key, but a json_t built in memory
         * is not checked by anyone else. */
        for (uint8_t i = 0; i < rec->n_fields; i++)
            if (strcmp(rec->fields[i].name, f->name) == 0)
                return fail(c, at, "field listed twice; expected distinct field names");
        rec->n_fields++;
    }
    qsort(rec->fields, rec->n_fields, sizeof(rec->fields[0]), by_name);
    return 0;
}

static int parse_mapping(parse_t *c, const char *path, const char *key, const json_t *o,
                         void *slot)
{
    gov_mapping_t *m = slot;
    static const char *const keys[] = {"key", "value", NULL};
    int r;
    if ((r = parse_name(c, path, key, m->name)) < 0)
        return r;
    if (!json_is_object(o))
        return fail(c, path, "expected an object {\"key\": \"type\", \"value\": \"type\"}");
    if ((r = only_keys(c, path, o, keys, "key, value")) < 0)
        return r;
    for (int i = 0; i < 2; i++) {
        char at[PATH_LEN];
        path_join(at, path, keys[i]);
        const json_t *t = json_object_get(o, keys[i]);
        if (!t)
            return fail(c, at, "missing; expected a type name");
        if ((r = parse_type(c, at, t, i == 0 ? &m->key : &m->value)) < 0)
            return r;
    }
    return 0;
}

/* Order by name: each of gov_function_t, gov_record_t, gov_field_t and
 * gov_mapping_t begins with its name, so a pointer to one is a pointer to its name. */
static int by_name(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Sort n entries of size at base by name, for the one canonical encoding,
 * and refuse a repeated name (which only an in-memory json_t could hold). */
static int sort_entries(parse_t *c, const char *path, void *base, size_t n, size_t size)
{
    qsort(base, n, size, by_name);
    for (size_t i = 1; i < n; i++) {
        const char *prev = (const char *)base + (i - 1) * size, *cur = prev + size;
        if (strcmp(prev, cur) == 0) {
            char at[PATH_LEN];
            path_join(at, path, cur);
            return fail(c, at, "listed twice; expected distinct names");
        }
    }
    return 0;
}

/* One of interface.functions, .records, .mappings: an object of at most
 * max entries, each parsed by fn (parse_function, _record, _mapping) into
 * the slots at base (size bytes each). */
typedef int (*entry_fn)(parse_t *c, const char *path, const char *key, const json_t *o,
                        void *slot);

static int parse_section(parse_t *c, const char *path, const json_t *o, size_t max,
                         const char *what, entry_fn fn, void *base, size_t size, uint16_t *n)
{
    if (!json_is_object(o))
        return fail(c, path, "expected an object of %s by name", what);
    if (json_object_size(o) > max)
        return fail(c, path, "expected at most %zu %s, got %zu", max, what, json_object_size(o));
    const char *key;
    json_t *v;
    size_t i = 0;
    json_object_foreach((json_t *)o, key, v) {
        char at[PATH_LEN];
        path_join(at, path, key);
        int r = fn(c, at, key, v, (char *)base + i * size);
        if (r < 0)
            return r;
        i++;
    }
    *n = (uint16_t)i;
    return sort_entries(c, path, base, i, size);
}

static int parse_interface(parse_t *c, const json_t *o)
{
    static const char *const keys[] = {"functions", "records", "mappings", NULL};
    gov_program_t *p = &c->p;
    const json_t *v;
    int r;
    if (!json_is_object(o))
        return fail(c, "interface", "expected an object with functions, records, mappings");
    if ((r = only_keys(c, "interface", o, keys, "functions, records, mappings")) < 0)
        return r;
    if (!(v = json_object_get(o, "functions")))
        return fail(c, "interface.functions", "missing; expected an object of functions by "
                    "name (it may be {})");
    if ((r = parse_section(c, "interface.functions", v, GOV_MAX_FUNCTIONS, "functions",
                           parse_function, p->functions, sizeof p->functions[0],
                           &p->n_functions)) < 0)
        return r;
    if ((v = json_object_get(o, "records")) &&
        (r = parse_section(c, "interface.records", v, GOV_MAX_RECORDS, "records", parse_record,
                           p->records, sizeof p->records[0], &p->n_records)) < 0)
        return r;
    if ((v = json_object_get(o, "mappings")) &&
        (r = parse_section(c, "interface.mappings", v, GOV_MAX_MAPPINGS, "mappings",
                           parse_mapping, p->mappings, sizeof p->mappings[0], &p->n_mappings)) < 0)
        return r;
    return 0;
}

static int parse_code(parse_t *c, const json_t *j)
{
    const char *s = json_is_string(j) ? json_string_value(j) : NULL;
    if (!s)
        return fail(c, "code", "expected a string of hex digits");
    size_t digits = json_string_length(j);
    if (digits % 2)
        return fail(c, "code", "expected an even number of hex digits, got %zu", digits);
    if (digits / 2 > GOV_CODE_MAX)
        return fail(c, "code", "expected at most %d bytes (%d hex digits), got %zu bytes",
                    GOV_CODE_MAX, 2 * GOV_CODE_MAX, digits / 2);
    /* hex_decode also refuses an embedded NUL: strlen would not match. */
    if (hex_decode(c->code, digits / 2, s) < 0)
        return fail(c, "code", "expected hex digits only (0-9, a-f, A-F)");
    c->p.code = c->code;
    c->p.code_len = digits / 2;
    return 0;
}

static int parse_program(parse_t *c, const json_t *o)
{
    static const char *const keys[] = {"name", "interface", "code", NULL};
    const json_t *v;
    const char *name;
    size_t len;
    int r;
    if (!json_is_object(o))
        return fail(c, "program file", "expected a JSON object with name, interface, code");
    if ((r = only_keys(c, "", o, keys, "name, interface, code")) < 0)
        return r;
    if (!(v = json_object_get(o, "name")))
        return fail(c, "name", "missing; " NAME_RULE_FMT, GOV_NAME_MAX);
    if (!(name = string_of(v)) || !gov_name_is_valid(name))
        return fail(c, "name", NAME_RULE_FMT, GOV_NAME_MAX);
    memcpy(c->p.name, name, strlen(name) + 1);
    if (!(v = json_object_get(o, "interface")))
        return fail(c, "interface", "missing; expected an object with functions");
    if ((r = parse_interface(c, v)) < 0)
        return r;
    if (!(v = json_object_get(o, "code")))
        return fail(c, "code", "missing; expected a string of hex digits (it may be \"\")");
    if ((r = parse_code(c, v)) < 0)
        return r;
    /* Within every count limit a program can still be too big for an
     * action. The size is the encoder's to know (proto/ owns the format),
     * and every other rule it applies (names, types, counts, order, code)
     * has been checked above, so its refusal here means the size. */
    if (gov_program_encode(&c->p, c->bytes, sizeof c->bytes, &len) < 0)
        return fail(c, "program file", "expected at most %d bytes once encoded (names, "
                    "types and code together)", GOV_PROGRAM_MAX);
    return 0;
}

int gov_program_from_json(const json_t *o, gov_program_t *p, uint8_t *code_buf, char *err,
                          size_t errlen)
{
    parse_t *c = calloc(1, sizeof *c);
    int r;
    if (!c) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    c->err = err;
    c->errlen = errlen;
    if ((r = parse_program(c, o)) < 0)
        goto out;
    memcpy(code_buf, c->code, c->p.code_len);
    *p = c->p;
    p->code = code_buf;
out:
    free(c);
    return r;
}

int gov_program_from_text(const char *text, size_t len, gov_program_t *p, uint8_t *code_buf,
                          char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) {
        if (err && errlen)
            snprintf(err, errlen, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        return -EINVAL;
    }
    int r = gov_program_from_json(o, p, code_buf, err, errlen);
    json_decref(o);
    return r;
}

/* A JSON array of the n type names at t (NULL on allocation failure). */
static json_t *types_json(const uint8_t *t, uint8_t n)
{
    json_t *a = json_array();
    for (uint8_t i = 0; a && i < n; i++) {
        const char *name = gov_type_name(t[i]);
        if (json_array_append_new(a, name ? json_string(name) : json_null()) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *gov_program_to_json(const gov_program_t *p)
{
    json_t *o = json_object(), *iface = json_object(), *fns = json_object(),
           *recs = json_object(), *maps = json_object();
    char *hex = malloc(2 * p->code_len + 1);
    /* json_object_set_new takes the value even when it fails, and fails on
     * a NULL object or value, so each child is filled first and then handed
     * to its parent, and one flag collects every allocation failure. */
    bool bad = !o || !iface || !fns || !recs || !maps || !hex;
    for (uint16_t i = 0; !bad && i < p->n_functions; i++) {
        const gov_function_t *f = &p->functions[i];
        json_t *fo = json_object();
        bad |= json_object_set_new(fo, "inputs", types_json(f->in, f->n_in)) < 0;
        bad |= json_object_set_new(fo, "outputs", types_json(f->out, f->n_out)) < 0;
        bad |= json_object_set_new(fns, f->name, fo) < 0;
    }
    for (uint16_t i = 0; !bad && i < p->n_records; i++) {
        const gov_record_t *rec = &p->records[i];
        json_t *ro = json_object();
        for (uint8_t k = 0; k < rec->n_fields; k++) {
            const char *t = gov_type_name(rec->fields[k].type);
            bad |= json_object_set_new(ro, rec->fields[k].name, t ? json_string(t) : json_null())
                   < 0;
        }
        bad |= json_object_set_new(recs, rec->name, ro) < 0;
    }
    for (uint16_t i = 0; !bad && i < p->n_mappings; i++) {
        const gov_mapping_t *m = &p->mappings[i];
        const char *k = gov_type_name(m->key), *v = gov_type_name(m->value);
        json_t *mo = json_object();
        bad |= json_object_set_new(mo, "key", k ? json_string(k) : json_null()) < 0;
        bad |= json_object_set_new(mo, "value", v ? json_string(v) : json_null()) < 0;
        bad |= json_object_set_new(maps, m->name, mo) < 0;
    }
    if (!bad) {
        hex_encode(hex, p->code, p->code_len);
        bad |= json_object_set_new(o, "name", json_string(p->name)) < 0;
        bad |= json_object_set_new(iface, "functions", fns) < 0;
        bad |= json_object_set_new(iface, "records", recs) < 0;
        bad |= json_object_set_new(iface, "mappings", maps) < 0;
        fns = recs = maps = NULL; /* iface owns them now, even after a failure */
        bad |= json_object_set_new(o, "interface", iface) < 0;
        iface = NULL;
        bad |= json_object_set_new(o, "code", json_string(hex)) < 0;
    }
    json_decref(fns);
    json_decref(recs);
    json_decref(maps);
    json_decref(iface);
    free(hex);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

void gov_program_checksum(const uint8_t *bytes, size_t len, uint8_t out[32])
{
    crypto_generichash(out, 32, bytes, len, NULL, 0);
}

/* Hash s as the wire's str: u32 length, then the bytes. */
static void hash_str(crypto_generichash_state *st, const char *s)
{
    uint8_t len[4];
    wire_writer_t w;
    size_t n = strlen(s);
    wire_writer_init(&w, len, sizeof len);
    wire_put_u32(&w, (uint32_t)n);
    crypto_generichash_update(st, len, sizeof len);
    crypto_generichash_update(st, (const uint8_t *)s, n);
}

void gov_program_id(const char *chain_id, const char *name, uint8_t out[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)PROGRAM_ID_TAG, sizeof PROGRAM_ID_TAG - 1);
    hash_str(&st, chain_id);
    hash_str(&st, name);
    crypto_generichash_final(&st, out, 32);
}

/* The entry named name among n entries of size at base (see by_name), or
 * NULL. Linear: at most 64 entries, and a caller's arrays need not be
 * sorted. */
static const void *find_entry(const void *base, size_t n, size_t size, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        const char *e = (const char *)base + i * size;
        if (strcmp(e, name) == 0)
            return e;
    }
    return NULL;
}

static bool same_types(const uint8_t *a, uint8_t na, const uint8_t *b, uint8_t nb)
{
    return na == nb && memcmp(a, b, na) == 0;
}

static bool same_fields(const gov_record_t *a, const gov_record_t *b)
{
    if (a->n_fields != b->n_fields)
        return false;
    for (uint8_t i = 0; i < a->n_fields; i++)
        if (a->fields[i].type != b->fields[i].type ||
            strcmp(a->fields[i].name, b->fields[i].name) != 0)
            return false;
    return true;
}

/* Write the policy's verdict into why and return -EPERM. */
static int refuse(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(char *why, size_t whylen, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return -EPERM;
}

int gov_policy_check(const gov_program_t *old, const gov_program_t *next, uint8_t policy,
                     char *why, size_t whylen)
{
    const char *pol = gov_policy_name(policy);
    if (!pol) {
        refuse(why, whylen, "unknown policy %u", policy);
        return -EINVAL;
    }
    if (strcmp(old->name, next->name) != 0) {
        refuse(why, whylen, "%s: program %s cannot be replaced by program %s", pol, old->name,
               next->name);
        return -EINVAL;
    }
    if (policy == GOV_POLICY_IMMUTABLE)
        return refuse(why, whylen, "immutable: program %s takes no update", old->name);
    /* Only additive compares signatures; both refuse a removal. */
    bool exact = policy == GOV_POLICY_ADDITIVE;
    for (uint16_t i = 0; i < old->n_functions; i++) {
        const gov_function_t *a = &old->functions[i];
        const gov_function_t *b = find_entry(next->functions, next->n_functions,
                                             sizeof next->functions[0], a->name);
        if (!b)
            return refuse(why, whylen, "%s: function %s was removed", pol, a->name);
        if (exact && !same_types(a->in, a->n_in, b->in, b->n_in))
            return refuse(why, whylen, "%s: function %s changed its inputs", pol, a->name);
        if (exact && !same_types(a->out, a->n_out, b->out, b->n_out))
            return refuse(why, whylen, "%s: function %s changed its outputs", pol, a->name);
    }
    for (uint16_t i = 0; i < old->n_records; i++) {
        const gov_record_t *a = &old->records[i];
        const gov_record_t *b = find_entry(next->records, next->n_records,
                                           sizeof next->records[0], a->name);
        if (!b)
            return refuse(why, whylen, "%s: record %s was removed", pol, a->name);
        if (exact && !same_fields(a, b))
            return refuse(why, whylen, "%s: record %s changed its fields", pol, a->name);
    }
    for (uint16_t i = 0; i < old->n_mappings; i++) {
        const gov_mapping_t *a = &old->mappings[i];
        const gov_mapping_t *b = find_entry(next->mappings, next->n_mappings,
                                            sizeof next->mappings[0], a->name);
        if (!b)
            return refuse(why, whylen, "%s: mapping %s was removed", pol, a->name);
        if (exact && a->key != b->key)
            return refuse(why, whylen, "%s: mapping %s changed its key type", pol, a->name);
        if (exact && a->value != b->value)
            return refuse(why, whylen, "%s: mapping %s changed its value type", pol, a->name);
    }
    return 0;
}
