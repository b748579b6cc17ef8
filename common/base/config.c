/* Node configuration. One descriptor table (config_keys[]) drives
 * everything: defaults, the YAML walker, ADNET_* variables, --set flags,
 * `adnet config` output and the default-file writer. Adding a key means
 * adding a config_t field and one table row, nothing else. */
#include "common/base/config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <yaml.h>

/* A config file larger than this is surely not one; refuse it rather than
 * let libyaml buffer it. */
#define CONFIG_FILE_MAX (1024 * 1024)
/* Longest dotted key we build from a file, a variable or a flag; longer
 * ones cannot be known keys and are reported truncated. */
#define CONFIG_PATH_MAX 128
/* Longest piece of user input quoted back in an error message. */
#define CONFIG_QUOTE_MAX 48

typedef enum {
    CONFIG_T_BOOL,   /* bool */
    CONFIG_T_UINT,   /* uint32_t within [min, max] */
    CONFIG_T_ENUM,   /* char[size], one of choices (stored lower-case) */
    CONFIG_T_LISTEN, /* char[size], "host:port" */
} config_type_t;

typedef struct {
    const char *key;              /* dotted path, e.g. "alpha.api.listen" */
    config_type_t type;
    size_t offset;                /* of the field in config_t */
    size_t size;                  /* of the field, bytes */
    uint32_t min, max;            /* CONFIG_T_UINT only */
    const char *const *choices;   /* CONFIG_T_ENUM only, NULL-terminated */
    const char *def;              /* default, spelled as in the file */
    const char *help;             /* one line for docs and the default file */
} config_key_t;

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

#define FIELD_SIZE(f) sizeof(((config_t *)0)->f)
#define KEY_BOOL(k, f, d, h) {k, CONFIG_T_BOOL, offsetof(config_t, f), FIELD_SIZE(f), 0, 0, NULL, d, h}
#define KEY_UINT(k, f, lo, hi, d, h) \
    {k, CONFIG_T_UINT, offsetof(config_t, f), FIELD_SIZE(f), lo, hi, NULL, d, h}
#define KEY_ENUM(k, f, c, d, h) {k, CONFIG_T_ENUM, offsetof(config_t, f), FIELD_SIZE(f), 0, 0, c, d, h}
#define KEY_LISTEN(k, f, d, h) \
    {k, CONFIG_T_LISTEN, offsetof(config_t, f), FIELD_SIZE(f), 0, 0, NULL, d, h}

/* Keys of one group must stay together: the default-file writer opens each
 * YAML mapping once. */
static const config_key_t config_keys[] = {
    KEY_ENUM("log.level", log_level, log_levels, "info", "Lowest severity that is logged."),
#define CHAIN_KEYS(c, interval)                                                                \
    KEY_BOOL(#c ".enabled", c.enabled, "true", "Run the " #c " worker under `adnet run`."),        \
    KEY_UINT(#c ".block_interval_ms", c.block_interval_ms, 50, 3600000, interval,                  \
             "Target time between " #c " blocks, in milliseconds."),                               \
    KEY_UINT(#c ".block_max_txs", c.block_max_txs, 1, 1000000, "5000",                            \
             "Transactions in one block at most."),                                                \
    KEY_LISTEN(#c ".api.listen", c.api_listen, c##_API_LISTEN, "host:port of " #c "'s HTTP API."),\
    KEY_UINT(#c ".api.threads", c.api_threads, 1, 64, "2", "HTTP server threads."),               \
    KEY_UINT(#c ".api.max_body_bytes", c.api_max_body_bytes, 1024, 16777216, "65536",             \
             "Largest request body accepted (413 above), in bytes."),                             \
    KEY_UINT(#c ".api.max_header_bytes", c.api_max_header_bytes, 1024, 1048576, "16384",          \
             "Memory for one request's headers, in bytes."),                                      \
    KEY_UINT(#c ".api.timeout_s", c.api_timeout_s, 1, 3600, "10",                                 \
             "Idle HTTP connections are closed after this, in seconds."),                         \
    KEY_UINT(#c ".api.rate_per_s", c.api_rate_per_s, 1, 1000000, "50",                            \
             "Requests per second allowed per client address (429 above)."),                      \
    KEY_UINT(#c ".api.rate_burst", c.api_rate_burst, 1, 1000000, "100",                           \
             "Requests a client may send at once above its rate."),                               \
    KEY_UINT(#c ".mempool.max_txs", c.mempool_max_txs, 1, 10000000, "50000",                      \
             "Transactions waiting for a block at most."),                                        \
    KEY_UINT(#c ".mempool.max_bytes", c.mempool_max_bytes, 1024, 2147483647, "67108864",          \
             "Bytes of transactions waiting for a block at most."),                               \
    KEY_UINT(#c ".mempool.max_per_sender", c.mempool_max_per_sender, 1, 10000000, "1000",         \
             "Transactions of one sender waiting at most.")
#define alpha_API_LISTEN "127.0.0.1:3030"
#define delta_API_LISTEN "127.0.0.1:4030"
    CHAIN_KEYS(alpha, "15000"),
    CHAIN_KEYS(delta, "3000"),
    KEY_UINT("supervisor.restart_burst", supervisor.restart_burst, 1, 100000, "5",
             "Restarts of one worker allowed within restart_interval_s before it is failed."),
    KEY_UINT("supervisor.restart_interval_s", supervisor.restart_interval_s, 1, 86400, "60",
             "Window of the crash-loop limit, in seconds."),
    KEY_UINT("supervisor.stop_timeout_s", supervisor.stop_timeout_s, 1, 3600, "10",
             "Time from SIGTERM to SIGKILL when stopping a worker, in seconds."),
    KEY_UINT("supervisor.backoff_initial_ms", supervisor.backoff_initial_ms, 0, 600000, "100",
             "Delay before the 2nd restart in a window, doubling after, in milliseconds."),
    KEY_UINT("supervisor.backoff_max_ms", supervisor.backoff_max_ms, 0, 3600000, "10000",
             "Cap of the restart back-off delay, in milliseconds."),
    KEY_UINT("supervisor.ready_timeout_ms", supervisor.ready_timeout_ms, 100, 3600000, "30000",
             "A starting worker must report ready within this, in milliseconds."),
    KEY_UINT("supervisor.heartbeat_interval_ms", supervisor.heartbeat_interval_ms, 10, 600000,
             "1000", "How often workers report to the supervisor, in milliseconds."),
    KEY_UINT("supervisor.heartbeat_timeout_ms", supervisor.heartbeat_timeout_ms, 100, 3600000,
             "10000", "Silence after which a worker is killed and restarted, in milliseconds."),
};

#define NKEYS (sizeof config_keys / sizeof config_keys[0])

/* Relations between keys, checked once all layers are applied. */
typedef struct {
    const char *lo, *hi;
    bool strict; /* lo < hi rather than lo <= hi */
} config_rule_t;

static const config_rule_t config_rules[] = {
    {"supervisor.backoff_initial_ms", "supervisor.backoff_max_ms", false},
    {"supervisor.heartbeat_interval_ms", "supervisor.heartbeat_timeout_ms", true},
};

struct config_sources {
    char *path; /* file as passed to config_load; NULL if none was read */
    struct {
        config_source_t src;
        unsigned long line; /* CONFIG_SRC_FILE: 1-based line of the key */
    } v[NKEYS];
};

#if defined(__GNUC__)
#define PRINTF_LIKE(a, b) __attribute__((format(printf, a, b)))
#else
#define PRINTF_LIKE(a, b)
#endif

static void set_err(char *err, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void set_err(char *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, CONFIG_ERR_MAX, fmt, ap);
    va_end(ap);
}

/* Quote user input for an error message: "..." with C-style escapes, so a
 * message stays one printable line; long input is cut and marked with ... */
static void quote(char *dst, size_t n, const char *s, size_t len)
{
    size_t o = 0;
    size_t shown = len > CONFIG_QUOTE_MAX ? CONFIG_QUOTE_MAX : len;

    assert(n >= 8);
    dst[o++] = '"';
    for (size_t i = 0; i < shown && o + 6 < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)ch;
        } else if (ch < 0x20 || ch >= 0x7f) {
            o += (size_t)snprintf(dst + o, n - o, "\\x%02x", ch);
        } else {
            dst[o++] = (char)ch;
        }
    }
    dst[o++] = '"';
    if (shown < len && o + 4 <= n) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

static int key_find(const char *name, size_t len)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strlen(config_keys[i].key) == len && memcmp(config_keys[i].key, name, len) == 0)
            return (int)i;
    return -1;
}

/* Is name[0..len) a group, i.e. a proper dotted prefix of some key? */
static bool group_exists(const char *name, size_t len)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const char *k = config_keys[i].key;
        if (strlen(k) > len && memcmp(k, name, len) == 0 && k[len] == '.' && len > 0)
            return true;
    }
    return false;
}

/* Optimal string alignment distance (Levenshtein plus adjacent
 * transpositions, the commonest typo). Inputs are bounded by the caller. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
    /* Three rolling rows: i-2, i-1 and i. */
    size_t rows[3][CONFIG_PATH_MAX + 1];

    assert(la <= CONFIG_PATH_MAX && lb <= CONFIG_PATH_MAX);
    for (size_t j = 0; j <= lb; j++)
        rows[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t *cur = rows[i % 3];
        const size_t *up = rows[(i - 1) % 3], *up2 = rows[(i + 1) % 3];
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = up[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (up[j - 1] + cost < v)
                v = up[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                up2[j - 2] + 1 < v)
                v = up2[j - 2] + 1;
            cur[j] = v;
        }
    }
    return rows[la % 3][lb];
}

/* Write "; did you mean \"KEY\"?" to buf if a key (or, with groups, a
 * group such as "alpha.api") is close to name, else an empty string. Candidates are full dotted paths, so a typo
 * inside a nested mapping is compared with the path it would have had. */
static void suggest(const char *name, size_t len, bool groups, char *buf, size_t n)
{
    const char *best = NULL;
    size_t best_len = 0, best_d = SIZE_MAX;

    buf[0] = '\0';
    if (len == 0 || len > CONFIG_PATH_MAX)
        return;
    for (size_t i = 0; i < NKEYS; i++) {
        const char *k = config_keys[i].key;
        /* The key itself and each of its groups ("alpha", "alpha.api"). */
        for (size_t l = 1; l <= strlen(k); l++) {
            if (k[l] != '\0' && (k[l] != '.' || !groups))
                continue;
            size_t dist = edit_distance(name, len, k, l);
            /* Close enough to be a typo: 1 edit for short names, up to 3 for long ones. */
            size_t limit = l < 6 ? 1 : l < 12 ? 2 : 3;
            if (dist <= limit && dist < best_d) {
                best = k;
                best_len = l;
                best_d = dist;
            }
        }
    }
    if (best)
        snprintf(buf, n, "; did you mean \"%.*s\"?", (int)best_len, best);
}

static void describe_expected(const config_key_t *k, char *buf, size_t n)
{
    size_t o;

    switch (k->type) {
    case CONFIG_T_BOOL:
        snprintf(buf, n, "true or false (or yes/no, on/off)");
        break;
    case CONFIG_T_UINT:
        snprintf(buf, n, "an integer from %" PRIu32 " to %" PRIu32, k->min, k->max);
        break;
    case CONFIG_T_ENUM:
        o = (size_t)snprintf(buf, n, "one of");
        for (size_t i = 0; k->choices[i] && o < n; i++)
            o += (size_t)snprintf(buf + o, n - o, "%s %s", i ? "," : "", k->choices[i]);
        break;
    case CONFIG_T_LISTEN:
        snprintf(buf, n, "host:port with a port from 1 to 65535");
        break;
    }
}

static bool host_char_ok(char ch, bool bracketed)
{
    if (isalnum((unsigned char)ch) || ch == '.' || ch == '-' || ch == '_')
        return true;
    return bracketed && (ch == ':' || ch == '%');
}

/* "host:port" or "[v6addr]:port"; the host is checked for shape only (no
 * name resolution here), the port must be 1..65535. */
static bool listen_valid(const char *s, size_t len)
{
    const char *host, *port, *colon;
    size_t host_len, port_len;
    bool bracketed = len > 0 && s[0] == '[';
    unsigned long p = 0;

    if (bracketed) {
        const char *close = memchr(s, ']', len);
        if (!close || close + 1 >= s + len || close[1] != ':')
            return false;
        host = s + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
        if (!memchr(host, ':', host_len))
            return false;
    } else {
        colon = memchr(s, ':', len);
        if (!colon || memchr(colon + 1, ':', len - (size_t)(colon + 1 - s)))
            return false;
        host = s;
        host_len = (size_t)(colon - s);
    }
    port = colon + 1;
    port_len = len - (size_t)(port - s);
    if (host_len == 0 || port_len == 0 || port_len > 5)
        return false;
    for (size_t i = 0; i < host_len; i++)
        if (!host_char_ok(host[i], bracketed))
            return false;
    for (size_t i = 0; i < port_len; i++) {
        if (port[i] < '0' || port[i] > '9')
            return false;
        p = p * 10 + (unsigned long)(port[i] - '0');
    }
    return p >= 1 && p <= 65535;
}

/* Parse text[0..len) as key k's type and store it in cfg. Return 0, or
 * -EINVAL if it is not a valid value (cfg untouched). */
static int value_set(const config_key_t *k, const char *text, size_t len, config_t *cfg)
{
    static const char *const truthy[] = {"true", "yes", "on"};
    static const char *const falsy[] = {"false", "no", "off"};
    char *field = (char *)cfg + k->offset;
    uint64_t v = 0;

    if (memchr(text, '\0', len))
        return -EINVAL;
    switch (k->type) {
    case CONFIG_T_BOOL:
        for (size_t i = 0; i < 3; i++) {
            if (strlen(truthy[i]) == len && strncasecmp(text, truthy[i], len) == 0) {
                *(bool *)field = true;
                return 0;
            }
            if (strlen(falsy[i]) == len && strncasecmp(text, falsy[i], len) == 0) {
                *(bool *)field = false;
                return 0;
            }
        }
        return -EINVAL;
    case CONFIG_T_UINT:
        if (len == 0)
            return -EINVAL;
        for (size_t i = 0; i < len; i++) {
            if (text[i] < '0' || text[i] > '9')
                return -EINVAL;
            v = v * 10 + (uint64_t)(text[i] - '0');
            if (v > k->max)
                return -EINVAL; /* also stops overflow of v */
        }
        if (v < k->min)
            return -EINVAL;
        *(uint32_t *)field = (uint32_t)v;
        return 0;
    case CONFIG_T_ENUM:
        for (size_t i = 0; k->choices[i]; i++) {
            if (strlen(k->choices[i]) == len && strncasecmp(text, k->choices[i], len) == 0 &&
                len < k->size) {
                memcpy(field, k->choices[i], len + 1);
                return 0;
            }
        }
        return -EINVAL;
    case CONFIG_T_LISTEN:
        if (len >= k->size || !listen_valid(text, len))
            return -EINVAL;
        memcpy(field, text, len);
        field[len] = '\0';
        return 0;
    }
    return -EINVAL;
}

/* Format key k's value in cfg as it would be written in the file. */
static void value_format(const config_key_t *k, const config_t *cfg, char *buf, size_t n)
{
    const char *field = (const char *)cfg + k->offset;

    switch (k->type) {
    case CONFIG_T_BOOL:
        snprintf(buf, n, "%s", *(const bool *)field ? "true" : "false");
        break;
    case CONFIG_T_UINT:
        snprintf(buf, n, "%" PRIu32, *(const uint32_t *)field);
        break;
    case CONFIG_T_ENUM:
    case CONFIG_T_LISTEN:
        snprintf(buf, n, "%.*s", (int)strnlen(field, k->size), field);
        break;
    }
}

static void env_name(const config_key_t *k, char *buf, size_t n)
{
    size_t o = (size_t)snprintf(buf, n, "ADNET_");

    for (const char *p = k->key; *p && o + 1 < n; p++)
        buf[o++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
    buf[o] = '\0';
}

/* "<where>: expected <what>, got <value>" */
static void value_err(char *err, const char *where, const config_key_t *k, const char *text,
                      size_t len)
{
    char want[128], got[CONFIG_QUOTE_MAX * 4 + 8];

    describe_expected(k, want, sizeof want);
    quote(got, sizeof got, text, len);
    set_err(err, "%s: expected %s, got %s", where, want, got);
}

void config_defaults(config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NKEYS; i++) {
        int rc = value_set(&config_keys[i], config_keys[i].def, strlen(config_keys[i].def), cfg);
        assert(rc == 0); /* the table's defaults are valid: tests check it */
        (void)rc;
    }
}

/* ---- YAML file ---------------------------------------------------------- */

typedef struct {
    yaml_parser_t parser;
    FILE *fp;
    const char *path;
    config_t *cfg;
    config_sources_t *src;
    char *err;
    struct {
        char name[CONFIG_PATH_MAX + 1];
        unsigned long line;
    } groups[NKEYS * 2]; /* groups opened so far, for duplicate detection */
    size_t ngroups;
} file_ctx_t;

static void file_err(file_ctx_t *c, const yaml_mark_t *m, const char *fmt, ...) PRINTF_LIKE(3, 4);
static void file_err(file_ctx_t *c, const yaml_mark_t *m, const char *fmt, ...)
{
    char msg[CONFIG_ERR_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    set_err(c->err, "%s:%zu:%zu: %s", c->path, m->line + 1, m->column + 1, msg);
}

static int next_event(file_ctx_t *c, yaml_event_t *ev)
{
    const yaml_parser_t *p = &c->parser;
    const char *problem;

    if (yaml_parser_parse(&c->parser, ev))
        return 0;
    problem = p->problem ? p->problem : "syntax error";
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        set_err(c->err, "%s: out of memory", c->path);
        return -ENOMEM;
    case YAML_READER_ERROR:
        if (ferror(c->fp)) {
            set_err(c->err, "%s: read error", c->path);
            return -EIO;
        }
        set_err(c->err, "%s: byte %zu: %s", c->path, p->problem_offset, problem);
        return -EINVAL;
    case YAML_SCANNER_ERROR:
    case YAML_PARSER_ERROR:
        if (p->context)
            set_err(c->err, "%s:%zu:%zu: %s (%s at %zu:%zu)", c->path, p->problem_mark.line + 1,
                    p->problem_mark.column + 1, problem, p->context, p->context_mark.line + 1,
                    p->context_mark.column + 1);
        else
            set_err(c->err, "%s:%zu:%zu: %s", c->path, p->problem_mark.line + 1,
                    p->problem_mark.column + 1, problem);
        return -EINVAL;
    default:
        set_err(c->err, "%s: YAML error: %s", c->path, problem);
        return -EINVAL;
    }
}

/* What an event is, for "got ..." in messages. */
static void event_describe(const yaml_event_t *ev, char *buf, size_t n)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        quote(buf, n, (const char *)ev->data.scalar.value, ev->data.scalar.length);
        break;
    case YAML_MAPPING_START_EVENT:
        snprintf(buf, n, "a mapping");
        break;
    case YAML_SEQUENCE_START_EVENT:
        snprintf(buf, n, "a sequence");
        break;
    case YAML_ALIAS_EVENT:
        snprintf(buf, n, "an alias");
        break;
    default:
        snprintf(buf, n, "nothing");
        break;
    }
}

/* A plain empty, "~" or "null" value: "alpha:" with every sub-key
 * commented out means an empty group, not an error. */
static bool event_is_null(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;

    if (ev->type != YAML_SCALAR_EVENT || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    return len == 0 || (len == 1 && v[0] == '~') ||
           (len == 4 && (!memcmp(v, "null", 4) || !memcmp(v, "Null", 4) || !memcmp(v, "NULL", 4)));
}

static int parse_mapping(file_ctx_t *c, const char *prefix);

/* One "key: value" of a mapping at `prefix`; kev is the key's event. */
static int parse_pair(file_ctx_t *c, const char *prefix, const yaml_event_t *kev)
{
    yaml_event_t vev;
    bool have_v = false;
    char full[CONFIG_PATH_MAX + 1], q[CONFIG_QUOTE_MAX * 4 + 8], hint[CONFIG_PATH_MAX + 32];
    char got[CONFIG_QUOTE_MAX * 4 + 8];
    size_t plen = strlen(prefix), flen = 0, klen;
    int idx, rc = -EINVAL;

    if (kev->type != YAML_SCALAR_EVENT) {
        event_describe(kev, got, sizeof got);
        file_err(c, &kev->start_mark, "expected a key name, got %s", got);
        goto out;
    }
    klen = kev->data.scalar.length;
    if (plen > 0) {
        memcpy(full, prefix, plen); /* a group name: shorter than any key */
        full[plen] = '.';
        flen = plen + 1;
    }
    if (klen > CONFIG_PATH_MAX - flen)
        klen = CONFIG_PATH_MAX - flen; /* too long to be known; quoted cut anyway */
    memcpy(full + flen, kev->data.scalar.value, klen);
    flen += klen;
    full[flen] = '\0';
    if (klen < kev->data.scalar.length)
        flen = CONFIG_PATH_MAX + 1; /* cannot match; suggest() skips it */

    idx = flen <= CONFIG_PATH_MAX ? key_find(full, flen) : -1;
    if (idx >= 0) {
        const config_key_t *k = &config_keys[idx];
        if (c->src->v[idx].src == CONFIG_SRC_FILE) {
            file_err(c, &kev->start_mark, "duplicate key \"%s\" (first set at line %lu)", k->key,
                     c->src->v[idx].line);
            goto out;
        }
        rc = next_event(c, &vev);
        if (rc < 0)
            goto out;
        have_v = true;
        rc = -EINVAL;
        if (vev.type != YAML_SCALAR_EVENT) {
            char want[128];
            describe_expected(k, want, sizeof want);
            event_describe(&vev, got, sizeof got);
            file_err(c, &vev.start_mark, "%s: expected %s, got %s", k->key, want, got);
            goto out;
        }
        if (value_set(k, (const char *)vev.data.scalar.value, vev.data.scalar.length, c->cfg)) {
            char where[CONFIG_ERR_MAX];
            snprintf(where, sizeof where, "%s:%zu:%zu: %s", c->path, vev.start_mark.line + 1,
                     vev.start_mark.column + 1, k->key);
            value_err(c->err, where, k, (const char *)vev.data.scalar.value,
                      vev.data.scalar.length);
            goto out;
        }
        c->src->v[idx].src = CONFIG_SRC_FILE;
        c->src->v[idx].line = kev->start_mark.line + 1;
        rc = 0;
    } else if (flen <= CONFIG_PATH_MAX && group_exists(full, flen)) {
        for (size_t i = 0; i < c->ngroups; i++) {
            if (strcmp(c->groups[i].name, full) == 0) {
                file_err(c, &kev->start_mark, "duplicate key \"%s\" (first set at line %lu)",
                         full, c->groups[i].line);
                goto out;
            }
        }
        assert(c->ngroups < sizeof c->groups / sizeof c->groups[0]);
        memcpy(c->groups[c->ngroups].name, full, flen + 1);
        c->groups[c->ngroups].line = kev->start_mark.line + 1;
        c->ngroups++;
        rc = next_event(c, &vev);
        if (rc < 0)
            goto out;
        have_v = true;
        if (vev.type == YAML_MAPPING_START_EVENT) {
            rc = parse_mapping(c, full);
        } else if (event_is_null(&vev)) {
            rc = 0;
        } else {
            event_describe(&vev, got, sizeof got);
            file_err(c, &vev.start_mark, "%s: expected a mapping of %s.* keys, got %s", full, full,
                     got);
            rc = -EINVAL;
        }
    } else {
        quote(q, sizeof q, full, flen <= CONFIG_PATH_MAX ? flen : CONFIG_PATH_MAX);
        suggest(full, flen, true, hint, sizeof hint);
        file_err(c, &kev->start_mark, "unknown key %s%s", q, hint);
    }
out:
    if (have_v)
        yaml_event_delete(&vev);
    return rc;
}

/* The events of a mapping after its MAPPING-START, up to its MAPPING-END. */
static int parse_mapping(file_ctx_t *c, const char *prefix)
{
    yaml_event_t kev;
    int rc;

    for (;;) {
        rc = next_event(c, &kev);
        if (rc < 0)
            goto out;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            break;
        }
        rc = parse_pair(c, prefix, &kev);
        yaml_event_delete(&kev);
        if (rc < 0)
            goto out;
    }
    rc = 0;
out:
    return rc;
}

/* A stream of zero or one document whose root is a mapping (or null). */
static int parse_stream(file_ctx_t *c)
{
    yaml_event_t ev;
    bool have = false;
    char got[CONFIG_QUOTE_MAX * 4 + 8];
    int rc;

    rc = next_event(c, &ev); /* STREAM-START */
    if (rc < 0)
        goto out;
    yaml_event_delete(&ev);
    rc = next_event(c, &ev);
    if (rc < 0)
        goto out;
    have = true;
    if (ev.type == YAML_STREAM_END_EVENT) /* empty, or only comments */
        goto out;
    /* libyaml yields DOCUMENT-START here for every non-empty stream. */
    yaml_event_delete(&ev);
    have = false;
    rc = next_event(c, &ev);
    if (rc < 0)
        goto out;
    have = true;
    if (ev.type == YAML_MAPPING_START_EVENT) {
        rc = parse_mapping(c, "");
        if (rc < 0)
            goto out;
    } else if (!event_is_null(&ev)) {
        event_describe(&ev, got, sizeof got);
        file_err(c, &ev.start_mark, "expected a mapping of keys at the top level, got %s", got);
        rc = -EINVAL;
        goto out;
    }
    yaml_event_delete(&ev);
    have = false;
    rc = next_event(c, &ev); /* DOCUMENT-END */
    if (rc < 0)
        goto out;
    yaml_event_delete(&ev);
    rc = next_event(c, &ev);
    if (rc < 0)
        goto out;
    have = true;
    if (ev.type != YAML_STREAM_END_EVENT) {
        file_err(c, &ev.start_mark, "only one YAML document is allowed");
        rc = -EINVAL;
    }
out:
    if (have)
        yaml_event_delete(&ev);
    return rc;
}

static int load_file(config_t *cfg, config_sources_t *src, const char *path, bool must_exist,
                     char *err)
{
    file_ctx_t *c = NULL;
    struct stat st;
    int fd, rc;
    bool parser_ready = false;
    FILE *fp = NULL;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        rc = -errno;
        if (rc == -ENOENT && !must_exist)
            rc = 0;
        else if (rc == -ENOENT)
            set_err(err, "%s: no such file", path);
        else
            set_err(err, "%s: %s", path, strerror(-rc));
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        set_err(err, "%s: %s", path, strerror(-rc));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = -EISDIR;
        set_err(err, "%s: is a directory", path);
        goto out;
    }
    if (S_ISREG(st.st_mode) && st.st_size > CONFIG_FILE_MAX) {
        rc = -EFBIG;
        set_err(err, "%s: larger than %d bytes; not a configuration file?", path, CONFIG_FILE_MAX);
        goto out;
    }
    fp = fdopen(fd, "r");
    if (!fp) {
        rc = -errno;
        set_err(err, "%s: %s", path, strerror(-rc));
        goto out;
    }
    fd = -1; /* owned by fp now */
    c = calloc(1, sizeof *c);
    src->path = strdup(path);
    if (!c || !src->path) {
        rc = -ENOMEM;
        set_err(err, "%s: out of memory", path);
        goto out;
    }
    if (!yaml_parser_initialize(&c->parser)) {
        rc = -ENOMEM;
        set_err(err, "%s: out of memory", path);
        goto out;
    }
    parser_ready = true;
    yaml_parser_set_input_file(&c->parser, fp);
    c->fp = fp;
    c->path = path;
    c->cfg = cfg;
    c->src = src;
    c->err = err;
    rc = parse_stream(c);
out:
    if (parser_ready)
        yaml_parser_delete(&c->parser);
    free(c);
    if (fp)
        fclose(fp);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* ---- environment and flags ---------------------------------------------- */

static int load_env(config_t *cfg, config_sources_t *src, char *const *envp, char *err)
{
    char name[CONFIG_PATH_MAX + 8];

    if (!envp)
        return 0;
    for (size_t i = 0; i < NKEYS; i++) {
        const config_key_t *k = &config_keys[i];
        size_t nlen;

        env_name(k, name, sizeof name);
        nlen = strlen(name);
        /* The first match wins, as with getenv(). */
        for (char *const *e = envp; *e; e++) {
            if (strncmp(*e, name, nlen) != 0 || (*e)[nlen] != '=')
                continue;
            const char *val = *e + nlen + 1;
            if (value_set(k, val, strlen(val), cfg)) {
                value_err(err, name, k, val, strlen(val));
                return -EINVAL;
            }
            src->v[i].src = CONFIG_SRC_ENV;
            break;
        }
    }
    return 0;
}

static int load_flags(config_t *cfg, config_sources_t *src, const config_flag_t *flags,
                      size_t nflags, char *err)
{
    char where[CONFIG_PATH_MAX + 16], q[CONFIG_QUOTE_MAX * 4 + 8], hint[CONFIG_PATH_MAX + 32];

    for (size_t i = 0; i < nflags; i++) {
        const char *key = flags[i].key, *val = flags[i].value;
        size_t klen;
        int idx;

        if (!key || !val) {
            set_err(err, "--set: expected key=value");
            return -EINVAL;
        }
        klen = strlen(key);
        idx = key_find(key, klen);
        if (idx < 0) {
            quote(q, sizeof q, key, klen);
            suggest(key, klen, false, hint, sizeof hint);
            set_err(err, "--set: unknown key %s%s", q, hint);
            return -EINVAL;
        }
        if (value_set(&config_keys[idx], val, strlen(val), cfg)) {
            snprintf(where, sizeof where, "--set %s", config_keys[idx].key);
            value_err(err, where, &config_keys[idx], val, strlen(val));
            return -EINVAL;
        }
        src->v[idx].src = CONFIG_SRC_FLAG; /* later flags win */
    }
    return 0;
}

/* ---- sources and checks ------------------------------------------------- */

static void source_describe(const config_sources_t *s, size_t i, char *buf, size_t n)
{
    char name[CONFIG_PATH_MAX + 8];

    switch (s ? s->v[i].src : CONFIG_SRC_DEFAULT) {
    case CONFIG_SRC_DEFAULT:
        snprintf(buf, n, "default");
        break;
    case CONFIG_SRC_FILE:
        snprintf(buf, n, "file %s:%lu", s->path ? s->path : "?", s->v[i].line);
        break;
    case CONFIG_SRC_ENV:
        env_name(&config_keys[i], name, sizeof name);
        snprintf(buf, n, "env %s", name);
        break;
    case CONFIG_SRC_FLAG:
        snprintf(buf, n, "flag --set");
        break;
    }
}

static int check_rules(const config_t *cfg, const config_sources_t *src, char *err)
{
    for (size_t r = 0; r < sizeof config_rules / sizeof config_rules[0]; r++) {
        const config_rule_t *rule = &config_rules[r];
        int lo = key_find(rule->lo, strlen(rule->lo));
        int hi = key_find(rule->hi, strlen(rule->hi));
        char slo[CONFIG_ERR_MAX / 2], shi[CONFIG_ERR_MAX / 2];
        uint32_t vlo, vhi;

        assert(lo >= 0 && hi >= 0);
        memcpy(&vlo, (const char *)cfg + config_keys[lo].offset, sizeof vlo);
        memcpy(&vhi, (const char *)cfg + config_keys[hi].offset, sizeof vhi);
        if (rule->strict ? vlo < vhi : vlo <= vhi)
            continue;
        source_describe(src, (size_t)lo, slo, sizeof slo);
        source_describe(src, (size_t)hi, shi, sizeof shi);
        set_err(err, "%s (%" PRIu32 ", %s) must be %s %s (%" PRIu32 ", %s)", rule->lo, vlo, slo,
                rule->strict ? "less than" : "at most", rule->hi, vhi, shi);
        return -EINVAL;
    }
    return 0;
}

int config_load(config_t *cfg, config_sources_t **sources_out, const char *path, bool must_exist,
                char *const *envp, const config_flag_t *flags, size_t nflags,
                char err[CONFIG_ERR_MAX])
{
    config_t tmp;
    config_sources_t *src;
    char msg[CONFIG_ERR_MAX] = "";
    int rc;

    src = calloc(1, sizeof *src);
    if (!src) {
        rc = -ENOMEM;
        set_err(msg, "out of memory");
        goto out;
    }
    config_defaults(&tmp);
    if (path) {
        rc = load_file(&tmp, src, path, must_exist, msg);
        if (rc < 0)
            goto out;
    }
    rc = load_env(&tmp, src, envp, msg);
    if (rc < 0)
        goto out;
    rc = load_flags(&tmp, src, flags, nflags, msg);
    if (rc < 0)
        goto out;
    rc = check_rules(&tmp, src, msg);
    if (rc < 0)
        goto out;
    *cfg = tmp;
    if (sources_out) {
        *sources_out = src;
        src = NULL;
    }
out:
    if (rc < 0 && err)
        memcpy(err, msg, CONFIG_ERR_MAX);
    config_sources_free(src);
    return rc;
}

void config_sources_free(config_sources_t *s)
{
    if (!s)
        return;
    free(s->path);
    free(s);
}

int config_source_get(const config_sources_t *s, const char *key, config_source_t *src,
                      char *where, size_t n)
{
    int idx = key ? key_find(key, strlen(key)) : -1;

    if (idx < 0)
        return -ENOENT;
    if (src)
        *src = s ? s->v[idx].src : CONFIG_SRC_DEFAULT;
    if (where && n > 0)
        source_describe(s, (size_t)idx, where, n);
    return 0;
}

/* ---- output ------------------------------------------------------------- */

static void print_json(FILE *out, const config_t *cfg, const config_sources_t *sources)
{
    json_t *root = json_object();
    char where[CONFIG_ERR_MAX];

    for (size_t i = 0; root && i < NKEYS; i++) {
        const config_key_t *k = &config_keys[i];
        const char *field = (const char *)cfg + k->offset;
        json_t *entry = json_object(), *val = NULL;

        switch (k->type) {
        case CONFIG_T_BOOL:
            val = json_boolean(*(const bool *)field);
            break;
        case CONFIG_T_UINT:
            val = json_integer(*(const uint32_t *)field);
            break;
        case CONFIG_T_ENUM:
        case CONFIG_T_LISTEN:
            val = json_stringn(field, strnlen(field, k->size));
            break;
        }
        if (entry && val && json_object_set_new(entry, "value", val) == 0) {
            val = NULL;
            if (sources) {
                source_describe(sources, i, where, sizeof where);
                json_object_set_new(entry, "source", json_string(where));
            }
            json_object_set_new(root, k->key, entry);
            entry = NULL;
        }
        json_decref(val);
        json_decref(entry);
    }
    if (root) {
        json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', out);
    }
    json_decref(root);
}

void config_print(FILE *out, const config_t *cfg, const config_sources_t *sources, bool json)
{
    char line[CONFIG_PATH_MAX + CONFIG_LISTEN_MAX + 8], where[CONFIG_ERR_MAX];
    char val[CONFIG_LISTEN_MAX + 16];
    int width = 0;

    if (json) {
        print_json(out, cfg, sources);
        return;
    }
    for (size_t i = 0; i < NKEYS; i++) {
        value_format(&config_keys[i], cfg, val, sizeof val);
        int w = snprintf(line, sizeof line, "%s = %s", config_keys[i].key, val);
        if (w > width)
            width = w;
    }
    for (size_t i = 0; i < NKEYS; i++) {
        value_format(&config_keys[i], cfg, val, sizeof val);
        snprintf(line, sizeof line, "%s = %s", config_keys[i].key, val);
        if (!sources) {
            fprintf(out, "%s\n", line);
            continue;
        }
        source_describe(sources, i, where, sizeof where);
        fprintf(out, "%-*s  # %s\n", width, line, where);
    }
}

/* Emit the YAML for every key at its default, opening each group's mapping
 * where the previous key's groups stop matching. */
static void write_default_yaml(FILE *fp)
{
    const char *prev = "";
    config_t def;
    char want[128], val[CONFIG_LISTEN_MAX + 16];

    config_defaults(&def);
    fprintf(fp, "# adnet configuration. Every key is shown at its default value.\n"
                "# Precedence: --set key=value > ADNET_* environment variables > this file >\n"
                "# built-in defaults. `adnet config` shows the effective values and sources.\n");
    for (size_t i = 0; i < NKEYS; i++) {
        const config_key_t *k = &config_keys[i];
        const char *p = k->key, *q = prev;
        size_t depth = 0;

        /* Skip the groups this key shares with the previous one. */
        for (;;) {
            const char *pd = strchr(p, '.'), *qd = strchr(q, '.');
            if (!pd || !qd || pd - p != qd - q || memcmp(p, q, (size_t)(pd - p)) != 0)
                break;
            p = pd + 1;
            q = qd + 1;
            depth++;
        }
        /* Open the remaining groups. */
        for (const char *dot; (dot = strchr(p, '.')); p = dot + 1, depth++) {
            if (depth == 0)
                fputc('\n', fp);
            fprintf(fp, "%*s%.*s:\n", (int)(2 * depth), "", (int)(dot - p), p);
        }
        fprintf(fp, "%*s# %s\n", (int)(2 * depth), "", k->help);
        if (k->type == CONFIG_T_UINT || k->type == CONFIG_T_ENUM) {
            describe_expected(k, want, sizeof want);
            fprintf(fp, "%*s# Expects %s.\n", (int)(2 * depth), "", want);
        }
        value_format(k, &def, val, sizeof val);
        if (k->type == CONFIG_T_LISTEN)
            fprintf(fp, "%*s%s: \"%s\"\n", (int)(2 * depth), "", p, val);
        else
            fprintf(fp, "%*s%s: %s\n", (int)(2 * depth), "", p, val);
        prev = k->key;
    }
}

int config_write_default(const char *path)
{
    FILE *fp = NULL;
    int fd, rc = 0;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0644);
    if (fd < 0)
        return -errno; /* nothing of ours to remove */
    /* Exactly 0644 whatever the umask: the file holds no secrets and
     * operators expect to read it. */
    if (fchmod(fd, 0644) < 0) {
        rc = -errno;
        goto out;
    }
    fp = fdopen(fd, "w");
    if (!fp) {
        rc = -errno;
        goto out;
    }
    fd = -1; /* owned by fp now */
    write_default_yaml(fp);
    errno = 0;
    if (fflush(fp) != 0 || ferror(fp) || fsync(fileno(fp)) < 0)
        rc = errno ? -errno : -EIO;
out:
    if (fp && fclose(fp) != 0 && rc == 0)
        rc = -errno;
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlink(path);
    return rc;
}

int config_flag_parse(char *arg, config_flag_t *flag)
{
    char *eq = arg ? strchr(arg, '=') : NULL;

    if (!eq || eq == arg)
        return -EINVAL;
    *eq = '\0';
    flag->key = arg;
    flag->value = eq + 1;
    return 0;
}

const config_chain_t *config_chain(const config_t *cfg, const char *name)
{
    if (strcmp(name, "alpha") == 0)
        return &cfg->alpha;
    if (strcmp(name, "delta") == 0)
        return &cfg->delta;
    return NULL;
}
