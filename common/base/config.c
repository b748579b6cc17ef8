/* Node configuration. Two descriptor tables drive everything: node_keys[]
 * (log.*, supervisor.*) and chain_keys[], the keys that every chain's
 * section has. A load binds them to the chains the node registers, in file
 * order, into one list of keys (key_list_t); defaults, the YAML walker,
 * ADNET_* variables, --set flags, `adnet config` output and the
 * default-file writer all run off that list. Adding a key means adding a
 * config_t or config_chain_t field and one table row, nothing else. */
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

#include "common/base/typo.h"

/* A config file larger than this is surely not one; refuse it rather than
 * let libyaml buffer it. */
#define CONFIG_FILE_MAX (1024 * 1024)
/* Longest dotted key we build from a file, a variable or a flag; longer
 * ones cannot be known keys and are reported truncated. */
#define CONFIG_PATH_MAX 128
/* Longest piece of user input quoted back in an error message. */
#define CONFIG_QUOTE_MAX 48
/* Room for a known key: a chain's name, a dot and the longest chain key
 * (keys_bind asserts that every key fits). */
#define CONFIG_KEY_MAX 48

typedef enum {
    CONFIG_T_BOOL,   /* bool */
    CONFIG_T_UINT,   /* uint32_t within [min, max] */
    CONFIG_T_ENUM,   /* char[size], one of choices (stored lower-case) */
    CONFIG_T_LISTEN, /* char[size], "host:port" */
} config_type_t;

/* Where a key's default comes from: the table, or for the chain keys that
 * differ per chain, the chain's config_chain_spec_t. */
typedef enum {
    DEF_TABLE = 0,      /* config_key_t.def */
    DEF_BLOCK_INTERVAL, /* config_chain_spec_t.block_interval_ms */
    DEF_API_LISTEN,     /* config_chain_spec_t.api_listen */
} config_def_t;

typedef struct {
    const char *key;              /* dotted path; for a chain key, the part after "<chain>." */
    config_type_t type;
    size_t offset;                /* of the field in config_t; for a chain key, in config_chain_t */
    size_t size;                  /* of the field, bytes */
    uint32_t min, max;            /* CONFIG_T_UINT only */
    const char *const *choices;   /* CONFIG_T_ENUM only, NULL-terminated */
    const char *def;              /* default, spelled as in the file (DEF_TABLE) */
    config_def_t def_from;        /* where the default comes from */
    const char *help;             /* one line for the default file; in a chain key, "%s"
                                   * stands for the chain's name (see write_help) */
} config_key_t;

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

#define FIELD(t, f) .offset = offsetof(t, f), .size = sizeof(((t *)0)->f)
#define NODE(f) FIELD(config_t, f)
#define CHAIN(f) FIELD(config_chain_t, f)
#define KEY_BOOL(k, at, d, h) {.key = k, .type = CONFIG_T_BOOL, at, .def = d, .help = h}
#define KEY_UINT(k, at, lo, hi, d, h) \
    {.key = k, .type = CONFIG_T_UINT, at, .min = lo, .max = hi, .def = d, .help = h}
#define KEY_ENUM(k, at, c, d, h) \
    {.key = k, .type = CONFIG_T_ENUM, at, .choices = c, .def = d, .help = h}
/* A chain key whose default each chain gives. */
#define KEY_PER_CHAIN(k, ty, at, lo, hi, from, h) \
    {.key = k, .type = ty, at, .min = lo, .max = hi, .def_from = from, .help = h}
/* Where the sections of the registered chains go, in their order. */
#define CHAIN_SECTIONS {.key = NULL}

/* Keys of one group must stay together: the default-file writer opens each
 * YAML mapping once. */
static const config_key_t node_keys[] = {
    KEY_ENUM("log.level", NODE(log_level), log_levels, "info", "Lowest severity that is logged."),
    CHAIN_SECTIONS,
    KEY_UINT("supervisor.restart_burst", NODE(supervisor.restart_burst), 1, 100000, "5",
             "Restarts of one worker allowed within restart_interval_s before it is failed."),
    KEY_UINT("supervisor.restart_interval_s", NODE(supervisor.restart_interval_s), 1, 86400, "60",
             "Window of the crash-loop limit, in seconds."),
    KEY_UINT("supervisor.stop_timeout_s", NODE(supervisor.stop_timeout_s), 1, 3600, "10",
             "Time from SIGTERM to SIGKILL when stopping a worker, in seconds."),
    KEY_UINT("supervisor.backoff_initial_ms", NODE(supervisor.backoff_initial_ms), 0, 600000, "100",
             "Delay before the 2nd restart in a window, doubling after, in milliseconds."),
    KEY_UINT("supervisor.backoff_max_ms", NODE(supervisor.backoff_max_ms), 0, 3600000, "10000",
             "Cap of the restart back-off delay, in milliseconds."),
    KEY_UINT("supervisor.ready_timeout_ms", NODE(supervisor.ready_timeout_ms), 100, 3600000,
             "30000", "A starting worker must report ready, or progress, within this, in milliseconds."),
    KEY_UINT("supervisor.heartbeat_interval_ms", NODE(supervisor.heartbeat_interval_ms), 10,
             600000, "1000", "How often workers report to the supervisor, in milliseconds."),
    KEY_UINT("supervisor.heartbeat_timeout_ms", NODE(supervisor.heartbeat_timeout_ms), 100,
             3600000, "10000",
             "Silence after which a worker is killed and restarted, in milliseconds."),
    KEY_UINT("supervisor.failed_retry_s", NODE(supervisor.failed_retry_s), 0, 86400, "300",
             "A worker failed by its crash-loop limit is tried again after this, in seconds (0: never)."),
};

/* The keys of every chain's section, below its name. */
static const config_key_t chain_keys[] = {
    KEY_BOOL("enabled", CHAIN(enabled), "true", "Run the %s worker under `adnet run`."),
    KEY_PER_CHAIN("block_interval_ms", CONFIG_T_UINT, CHAIN(block_interval_ms), 50, 3600000,
                  DEF_BLOCK_INTERVAL, "Target time between %s blocks, in milliseconds."),
    KEY_UINT("block_max_txs", CHAIN(block_max_txs), 1, 1000000, "5000",
             "Transactions in one block at most."),
    KEY_PER_CHAIN("api.listen", CONFIG_T_LISTEN, CHAIN(api_listen), 0, 0, DEF_API_LISTEN,
                  "host:port of %s's HTTP API."),
    KEY_UINT("api.threads", CHAIN(api_threads), 1, 64, "2", "HTTP server threads."),
    KEY_UINT("api.max_body_bytes", CHAIN(api_max_body_bytes), 1024, 16777216, "65536",
             "Largest request body accepted (413 above), in bytes."),
    KEY_UINT("api.max_header_bytes", CHAIN(api_max_header_bytes), 1024, 1048576, "16384",
             "Largest request line plus headers accepted (431 above), in bytes."),
    KEY_UINT("api.timeout_s", CHAIN(api_timeout_s), 1, 3600, "10",
             "Idle HTTP connections are closed after this, in seconds."),
    KEY_UINT("api.rate_per_s", CHAIN(api_rate_per_s), 1, 1000000, "50",
             "Requests per second allowed per client address (429 above)."),
    KEY_UINT("api.rate_burst", CHAIN(api_rate_burst), 1, 1000000, "100",
             "Requests a client may send at once above its rate."),
    KEY_UINT("mempool.max_txs", CHAIN(mempool_max_txs), 1, 10000000, "50000",
             "Transactions waiting for a block at most."),
    KEY_UINT("mempool.max_bytes", CHAIN(mempool_max_bytes), 1024, 2147483647, "67108864",
             "Bytes of transactions waiting for a block at most."),
    KEY_UINT("mempool.max_per_sender", CHAIN(mempool_max_per_sender), 1, 10000000, "1000",
             "Transactions of one sender waiting at most."),
    KEY_UINT("state.keep_heights", CHAIN(state_keep_heights), 0, 2147483647, "10000",
             "Heights of state history kept for proofs; older ones are pruned (0: keep all)."),
    KEY_UINT("retain_blocks", CHAIN(retain_blocks), 0, 2147483647, "0",
             "Blocks kept; older blocks, their transactions and signatures are pruned (0: keep all)."),
};

#define N_NODE_ROWS (sizeof node_keys / sizeof node_keys[0]) /* CHAIN_SECTIONS included */
#define N_CHAIN_KEYS (sizeof chain_keys / sizeof chain_keys[0])
#define N_KEYS(n_chains) (N_NODE_ROWS - 1 + (n_chains) * N_CHAIN_KEYS)
#define N_KEYS_MAX N_KEYS(CONFIG_MAX_CHAINS)

/* One key of a configuration: a table row placed at its field. */
typedef struct {
    const config_key_t *k;    /* its row */
    size_t offset;            /* of the value in config_t */
    int chain;                /* index in config_t.chains, -1 for a node-wide key */
    char key[CONFIG_KEY_MAX]; /* full dotted path, e.g. "supervisor.stop_timeout_s" */
} bound_key_t;

/* Every key of a configuration, in file order. */
typedef struct {
    size_t n;
    bound_key_t v[N_KEYS_MAX];
} key_list_t;

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
    char *path;      /* file as passed to config_load; NULL if none was read */
    key_list_t keys; /* the keys of the load; v[i] is about keys.v[i] */
    struct {
        config_source_t src;
        unsigned long line; /* CONFIG_SRC_FILE: 1-based line of the key */
    } v[];
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

static void key_bind(key_list_t *l, const config_key_t *k, int chain, const char *name,
                     size_t offset)
{
    bound_key_t *b = &l->v[l->n++];
    int len = snprintf(b->key, sizeof b->key, "%s%s%s", name, *name ? "." : "", k->key);

    assert(len > 0 && (size_t)len < sizeof b->key);
    (void)len;
    b->k = k;
    b->chain = chain;
    b->offset = offset;
}

/* Bind the tables to cfg's sections: the node-wide keys in table order,
 * with every chain's keys, in the order of cfg->chains, in place of the
 * CHAIN_SECTIONS row. */
static void keys_bind(key_list_t *l, const config_t *cfg)
{
    size_t n_chains = cfg->n_chains < CONFIG_MAX_CHAINS ? cfg->n_chains : CONFIG_MAX_CHAINS;
    char name[CONFIG_CHAIN_NAME_MAX + 1];

    l->n = 0;
    for (size_t i = 0; i < N_NODE_ROWS; i++) {
        if (node_keys[i].key) {
            key_bind(l, &node_keys[i], -1, "", node_keys[i].offset);
            continue;
        }
        for (size_t c = 0; c < n_chains; c++) {
            const config_chain_t *ch = &cfg->chains[c];
            size_t base = offsetof(config_t, chains) + c * sizeof cfg->chains[0];
            snprintf(name, sizeof name, "%.*s", (int)strnlen(ch->name, sizeof ch->name), ch->name);
            for (size_t j = 0; j < N_CHAIN_KEYS; j++)
                key_bind(l, &chain_keys[j], (int)c, name, base + chain_keys[j].offset);
        }
    }
}

static int key_find(const key_list_t *l, const char *name, size_t len)
{
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->v[i].key) == len && memcmp(l->v[i].key, name, len) == 0)
            return (int)i;
    return -1;
}

/* Is name[0..len) a group, i.e. a proper dotted prefix of some key? */
static bool group_exists(const key_list_t *l, const char *name, size_t len)
{
    for (size_t i = 0; i < l->n; i++) {
        const char *k = l->v[i].key;
        if (strlen(k) > len && memcmp(k, name, len) == 0 && k[len] == '.' && len > 0)
            return true;
    }
    return false;
}

/* Write "; did you mean \"KEY\"?" to buf if a key (or, with groups, a
 * group such as "supervisor") is close to name, else an empty string.
 * Candidates are full dotted paths, so a typo inside a nested mapping is
 * compared with the path it would have had. */
static void suggest(const key_list_t *l, const char *name, size_t len, bool groups, char *buf,
                    size_t n)
{
    const char *best = NULL;
    size_t best_len = 0, best_d = SIZE_MAX;

    buf[0] = '\0';
    if (len == 0 || len > CONFIG_PATH_MAX)
        return;
    for (size_t i = 0; i < l->n; i++) {
        const char *k = l->v[i].key;
        /* The key itself and each of its groups ("supervisor", "<chain>.api"). */
        for (size_t j = 1; j <= strlen(k); j++) {
            if (k[j] != '\0' && (k[j] != '.' || !groups))
                continue;
            size_t dist = typo_distance(name, len, k, j);
            /* Close enough to be a typo: 1 edit for short names, up to 3 for long ones. */
            size_t limit = j < 6 ? 1 : j < 12 ? 2 : 3;
            if (dist <= limit && dist < best_d) {
                best = k;
                best_len = j;
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

/* Parse text[0..len) as key b's type and store it in cfg. Return 0, or
 * -EINVAL if it is not a valid value (cfg untouched). */
static int value_set(const bound_key_t *b, const char *text, size_t len, config_t *cfg)
{
    static const char *const truthy[] = {"true", "yes", "on"};
    static const char *const falsy[] = {"false", "no", "off"};
    const config_key_t *k = b->k;
    char *field = (char *)cfg + b->offset;
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

/* Format key b's value in cfg as it would be written in the file. */
static void value_format(const bound_key_t *b, const config_t *cfg, char *buf, size_t n)
{
    const config_key_t *k = b->k;
    const char *field = (const char *)cfg + b->offset;

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

static void env_name(const bound_key_t *b, char *buf, size_t n)
{
    size_t o = (size_t)snprintf(buf, n, "ADNET_");

    for (const char *p = b->key; *p && o + 1 < n; p++)
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

/* ---- the chains' sections ----------------------------------------------- */

/* Is name the group of node-wide keys ("log", "supervisor")? A chain of
 * that name would split the group in two. */
static bool name_is_node_group(const char *name, size_t len)
{
    for (size_t i = 0; i < N_NODE_ROWS; i++) {
        const char *k = node_keys[i].key;
        if (k && strncmp(k, name, len) == 0 && k[len] == '.')
            return true;
    }
    return false;
}

/* Refuse a chain list that would not give distinct, well-formed sections
 * (their names make keys and ADNET_* variable names, so: letters only). */
static int chains_check(const config_chain_spec_t *chains, size_t n_chains, char *err)
{
    char q[CONFIG_QUOTE_MAX * 4 + 8];

    if (n_chains > CONFIG_MAX_CHAINS) {
        set_err(err, "%zu chains registered; at most %d", n_chains, CONFIG_MAX_CHAINS);
        return -EINVAL;
    }
    if (n_chains > 0 && !chains) {
        set_err(err, "no chain list, but %zu chains registered", n_chains);
        return -EINVAL;
    }
    for (size_t i = 0; i < n_chains; i++) {
        const char *name = chains[i].name;
        size_t len = name ? strlen(name) : 0;

        if (!name) {
            set_err(err, "chain %zu registered without a name", i + 1);
            return -EINVAL;
        }
        if (len == 0 || len > CONFIG_CHAIN_NAME_MAX ||
            strspn(name, "abcdefghijklmnopqrstuvwxyz") != len) {
            quote(q, sizeof q, name, len);
            set_err(err, "chain name %s: expected 1 to %d letters a-z", q,
                    CONFIG_CHAIN_NAME_MAX);
            return -EINVAL;
        }
        if (name_is_node_group(name, len)) {
            set_err(err, "chain name \"%s\": taken by the node-wide keys %s.*", name, name);
            return -EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(chains[j].name, name) == 0) {
                set_err(err, "chain name \"%s\" registered twice", name);
                return -EINVAL;
            }
        }
    }
    return 0;
}

/* The default of key b, spelled as in the file (in buf if it is built). */
static const char *key_default(const bound_key_t *b, const config_chain_spec_t *chains, char *buf,
                               size_t n)
{
    const config_chain_spec_t *spec = b->chain >= 0 ? &chains[b->chain] : NULL;

    switch (b->k->def_from) {
    case DEF_BLOCK_INTERVAL:
        assert(spec);
        snprintf(buf, n, "%" PRIu32, spec->block_interval_ms);
        return buf;
    case DEF_API_LISTEN:
        assert(spec);
        return spec->api_listen ? spec->api_listen : "";
    case DEF_TABLE:
        break;
    }
    return b->k->def;
}

/* Set *cfg to the defaults of the node-wide keys and of one section per
 * chains[] entry, and bind *keys to it. Return 0, or -EINVAL with a
 * message if a chain's own default does not fit its key (that field is
 * left zero). */
static int defaults_fill(config_t *cfg, key_list_t *keys, const config_chain_spec_t *chains,
                         size_t n_chains, char *err)
{
    char text[CONFIG_LISTEN_MAX], where[CONFIG_KEY_MAX + 16];
    int rc = 0;

    memset(cfg, 0, sizeof *cfg);
    cfg->n_chains = !chains ? 0 : n_chains < CONFIG_MAX_CHAINS ? n_chains : CONFIG_MAX_CHAINS;
    for (size_t c = 0; c < cfg->n_chains; c++)
        snprintf(cfg->chains[c].name, sizeof cfg->chains[c].name, "%s",
                 chains[c].name ? chains[c].name : "");
    keys_bind(keys, cfg);
    for (size_t i = 0; i < keys->n; i++) {
        const bound_key_t *b = &keys->v[i];
        const char *def = key_default(b, chains, text, sizeof text);

        if (value_set(b, def, strlen(def), cfg) == 0 || rc < 0)
            continue;
        snprintf(where, sizeof where, "default of %s", b->key);
        value_err(err, where, b->k, def, strlen(def));
        rc = -EINVAL;
    }
    return rc;
}

void config_defaults(config_t *cfg, const config_chain_spec_t *chains, size_t n_chains)
{
    key_list_t keys;
    char err[CONFIG_ERR_MAX];
    bool ok = chains_check(chains, n_chains, err) == 0;

    ok = defaults_fill(cfg, &keys, chains, n_chains, err) == 0 && ok;
    assert(ok); /* config_load refuses such a list with a message */
    (void)ok;
}

/* ---- YAML file ---------------------------------------------------------- */

typedef struct {
    yaml_parser_t parser;
    FILE *fp;
    const char *path;
    config_t *cfg;
    config_sources_t *src;
    const key_list_t *keys; /* &src->keys */
    char *err;
    struct {
        char name[CONFIG_PATH_MAX + 1];
        unsigned long line;
    } groups[N_KEYS_MAX * 2]; /* groups opened so far, for duplicate detection */
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

/* A plain empty, "~" or "null" value: "<chain>:" with every sub-key
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

/* Write the dotted path of key event kev inside prefix to
 * full[CONFIG_PATH_MAX + 1] and return its length; a path too long to be a
 * known key is cut to CONFIG_PATH_MAX bytes and CONFIG_PATH_MAX + 1 is
 * returned, which matches nothing (suggest() skips it). */
static size_t pair_path(const char *prefix, const yaml_event_t *kev, char *full)
{
    size_t plen = strlen(prefix), flen = 0, klen = kev->data.scalar.length;

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
    return klen < kev->data.scalar.length ? CONFIG_PATH_MAX + 1 : flen;
}

/* The value of key idx, whose name event is kev: one scalar of its type. */
static int parse_value(file_ctx_t *c, size_t idx, const yaml_event_t *kev)
{
    const bound_key_t *b = &c->keys->v[idx];
    yaml_event_t vev;
    bool have_v = false;
    char got[CONFIG_QUOTE_MAX * 4 + 8], want[128], where[CONFIG_ERR_MAX];
    int rc = -EINVAL;

    if (c->src->v[idx].src == CONFIG_SRC_FILE) {
        file_err(c, &kev->start_mark, "duplicate key \"%s\" (first set at line %lu)", b->key,
                 c->src->v[idx].line);
        goto out;
    }
    rc = next_event(c, &vev);
    if (rc < 0)
        goto out;
    have_v = true;
    rc = -EINVAL;
    if (vev.type != YAML_SCALAR_EVENT) {
        describe_expected(b->k, want, sizeof want);
        event_describe(&vev, got, sizeof got);
        file_err(c, &vev.start_mark, "%s: expected %s, got %s", b->key, want, got);
        goto out;
    }
    if (value_set(b, (const char *)vev.data.scalar.value, vev.data.scalar.length, c->cfg)) {
        snprintf(where, sizeof where, "%s:%zu:%zu: %s", c->path, vev.start_mark.line + 1,
                 vev.start_mark.column + 1, b->key);
        value_err(c->err, where, b->k, (const char *)vev.data.scalar.value,
                  vev.data.scalar.length);
        goto out;
    }
    c->src->v[idx].src = CONFIG_SRC_FILE;
    c->src->v[idx].line = kev->start_mark.line + 1;
    rc = 0;
out:
    if (have_v)
        yaml_event_delete(&vev);
    return rc;
}

/* The value of group full[0..flen), whose name event is kev: a mapping of
 * its keys, or null for a group left empty. A group opens once. */
static int parse_group(file_ctx_t *c, const char *full, size_t flen, const yaml_event_t *kev)
{
    yaml_event_t vev;
    bool have_v = false;
    char got[CONFIG_QUOTE_MAX * 4 + 8];
    int rc = -EINVAL;

    for (size_t i = 0; i < c->ngroups; i++) {
        if (strcmp(c->groups[i].name, full) == 0) {
            file_err(c, &kev->start_mark, "duplicate key \"%s\" (first set at line %lu)", full,
                     c->groups[i].line);
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
out:
    if (have_v)
        yaml_event_delete(&vev);
    return rc;
}

/* One "key: value" of a mapping at `prefix`; kev is the key's event. */
static int parse_pair(file_ctx_t *c, const char *prefix, const yaml_event_t *kev)
{
    char full[CONFIG_PATH_MAX + 1], q[CONFIG_QUOTE_MAX * 4 + 8], hint[CONFIG_PATH_MAX + 32];
    char got[CONFIG_QUOTE_MAX * 4 + 8];
    size_t flen;
    int idx;

    if (kev->type != YAML_SCALAR_EVENT) {
        event_describe(kev, got, sizeof got);
        file_err(c, &kev->start_mark, "expected a key name, got %s", got);
        return -EINVAL;
    }
    flen = pair_path(prefix, kev, full);
    idx = flen <= CONFIG_PATH_MAX ? key_find(c->keys, full, flen) : -1;
    if (idx >= 0)
        return parse_value(c, (size_t)idx, kev);
    if (flen <= CONFIG_PATH_MAX && group_exists(c->keys, full, flen))
        return parse_group(c, full, flen, kev);
    quote(q, sizeof q, full, flen <= CONFIG_PATH_MAX ? flen : CONFIG_PATH_MAX);
    suggest(c->keys, full, flen, true, hint, sizeof hint);
    file_err(c, &kev->start_mark, "unknown key %s%s", q, hint);
    return -EINVAL;
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
    c->keys = &src->keys;
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
    for (size_t i = 0; i < src->keys.n; i++) {
        const bound_key_t *b = &src->keys.v[i];
        size_t nlen;

        env_name(b, name, sizeof name);
        nlen = strlen(name);
        /* The first match wins, as with getenv(). */
        for (char *const *e = envp; *e; e++) {
            if (strncmp(*e, name, nlen) != 0 || (*e)[nlen] != '=')
                continue;
            const char *val = *e + nlen + 1;
            if (value_set(b, val, strlen(val), cfg)) {
                value_err(err, name, b->k, val, strlen(val));
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
        idx = key_find(&src->keys, key, klen);
        if (idx < 0) {
            quote(q, sizeof q, key, klen);
            suggest(&src->keys, key, klen, false, hint, sizeof hint);
            set_err(err, "--set: unknown key %s%s", q, hint);
            return -EINVAL;
        }
        const bound_key_t *b = &src->keys.v[idx];
        if (value_set(b, val, strlen(val), cfg)) {
            snprintf(where, sizeof where, "--set %s", b->key);
            value_err(err, where, b->k, val, strlen(val));
            return -EINVAL;
        }
        src->v[idx].src = CONFIG_SRC_FLAG; /* later flags win */
    }
    return 0;
}

/* ---- sources and checks ------------------------------------------------- */

/* Describe where key i of s (or, with s NULL, of l) came from. */
static void source_describe(const config_sources_t *s, const key_list_t *l, size_t i, char *buf,
                            size_t n)
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
        env_name(&l->v[i], name, sizeof name);
        snprintf(buf, n, "env %s", name);
        break;
    case CONFIG_SRC_FLAG:
        snprintf(buf, n, "flag --set");
        break;
    }
}

static int check_rules(const config_t *cfg, const config_sources_t *src, char *err)
{
    const key_list_t *l = &src->keys;

    for (size_t r = 0; r < sizeof config_rules / sizeof config_rules[0]; r++) {
        const config_rule_t *rule = &config_rules[r];
        int lo = key_find(l, rule->lo, strlen(rule->lo));
        int hi = key_find(l, rule->hi, strlen(rule->hi));
        char slo[CONFIG_ERR_MAX / 2], shi[CONFIG_ERR_MAX / 2];
        uint32_t vlo, vhi;

        assert(lo >= 0 && hi >= 0);
        memcpy(&vlo, (const char *)cfg + l->v[lo].offset, sizeof vlo);
        memcpy(&vhi, (const char *)cfg + l->v[hi].offset, sizeof vhi);
        if (rule->strict ? vlo < vhi : vlo <= vhi)
            continue;
        source_describe(src, l, (size_t)lo, slo, sizeof slo);
        source_describe(src, l, (size_t)hi, shi, sizeof shi);
        set_err(err, "%s (%" PRIu32 ", %s) must be %s %s (%" PRIu32 ", %s)", rule->lo, vlo, slo,
                rule->strict ? "less than" : "at most", rule->hi, vhi, shi);
        return -EINVAL;
    }
    return 0;
}

/* <chain>.retain_blocks is 0 or at least CONFIG_RETAIN_BLOCKS_MIN: fewer
 * would prune blocks a client may still be reading about. */
static int check_retain(const config_t *cfg, char *err)
{
    for (size_t i = 0; i < cfg->n_chains; i++) {
        uint32_t v = cfg->chains[i].retain_blocks;
        if (v == 0 || v >= CONFIG_RETAIN_BLOCKS_MIN)
            continue;
        set_err(err, "%s.retain_blocks is %" PRIu32 ": use 0 (keep all blocks) or at least %d",
                cfg->chains[i].name, v, CONFIG_RETAIN_BLOCKS_MIN);
        return -EINVAL;
    }
    return 0;
}

int config_load(config_t *cfg, config_sources_t **sources_out, const config_chain_spec_t *chains,
                size_t n_chains, const char *path, bool must_exist, char *const *envp,
                const config_flag_t *flags, size_t nflags, char err[CONFIG_ERR_MAX])
{
    config_t tmp;
    config_sources_t *src = NULL;
    char msg[CONFIG_ERR_MAX] = "";
    int rc;

    rc = chains_check(chains, n_chains, msg);
    if (rc < 0)
        goto out;
    /* The record of sources holds the keys of this load, one entry each. */
    src = calloc(1, sizeof *src + N_KEYS(n_chains) * sizeof src->v[0]);
    if (!src) {
        rc = -ENOMEM;
        set_err(msg, "out of memory");
        goto out;
    }
    rc = defaults_fill(&tmp, &src->keys, chains, n_chains, msg);
    if (rc < 0)
        goto out;
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
    rc = check_retain(&tmp, msg);
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
    key_list_t none;
    config_t empty;
    const key_list_t *l = &none;
    int idx;

    if (s) {
        l = &s->keys;
    } else {
        memset(&empty, 0, sizeof empty); /* no chains: the node-wide keys */
        keys_bind(&none, &empty);
    }
    idx = key ? key_find(l, key, strlen(key)) : -1;
    if (idx < 0)
        return -ENOENT;
    if (src)
        *src = s ? s->v[idx].src : CONFIG_SRC_DEFAULT;
    if (where && n > 0)
        source_describe(s, l, (size_t)idx, where, n);
    return 0;
}

/* ---- output ------------------------------------------------------------- */

static void print_json(FILE *out, const config_t *cfg, const config_sources_t *sources,
                       const key_list_t *l)
{
    json_t *root = json_object();
    char where[CONFIG_ERR_MAX];

    for (size_t i = 0; root && i < l->n; i++) {
        const bound_key_t *b = &l->v[i];
        const char *field = (const char *)cfg + b->offset;
        json_t *entry = json_object(), *val = NULL;

        switch (b->k->type) {
        case CONFIG_T_BOOL:
            val = json_boolean(*(const bool *)field);
            break;
        case CONFIG_T_UINT:
            val = json_integer(*(const uint32_t *)field);
            break;
        case CONFIG_T_ENUM:
        case CONFIG_T_LISTEN:
            val = json_stringn(field, strnlen(field, b->k->size));
            break;
        }
        if (entry && val && json_object_set_new(entry, "value", val) == 0) {
            val = NULL;
            if (sources) {
                source_describe(sources, l, i, where, sizeof where);
                json_object_set_new(entry, "source", json_string(where));
            }
            json_object_set_new(root, b->key, entry);
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
    key_list_t own;
    const key_list_t *l = &own;
    int width = 0;

    /* The load that made sources bound the keys of cfg already. */
    if (sources)
        l = &sources->keys;
    else
        keys_bind(&own, cfg);
    if (json) {
        print_json(out, cfg, sources, l);
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        value_format(&l->v[i], cfg, val, sizeof val);
        int w = snprintf(line, sizeof line, "%s = %s", l->v[i].key, val);
        if (w > width)
            width = w;
    }
    for (size_t i = 0; i < l->n; i++) {
        value_format(&l->v[i], cfg, val, sizeof val);
        snprintf(line, sizeof line, "%s = %s", l->v[i].key, val);
        if (!sources) {
            fprintf(out, "%s\n", line);
            continue;
        }
        source_describe(sources, l, i, where, sizeof where);
        fprintf(out, "%-*s  # %s\n", width, line, where);
    }
}

/* The help line of key b at indentation depth; a chain key's "%s" is the
 * chain's name, the first part of its key. */
static void write_help(FILE *fp, const bound_key_t *b, size_t depth)
{
    const char *help = b->k->help, *mark = b->chain >= 0 ? strstr(help, "%s") : NULL;

    if (!mark) {
        fprintf(fp, "%*s# %s\n", (int)(2 * depth), "", help);
        return;
    }
    fprintf(fp, "%*s# %.*s%.*s%s\n", (int)(2 * depth), "", (int)(mark - help), help,
            (int)strcspn(b->key, "."), b->key, mark + 2);
}

/* Emit the YAML for every key of l at its value in def, opening each
 * group's mapping where the previous key's groups stop matching. */
static void write_default_yaml(FILE *fp, const config_t *def, const key_list_t *l)
{
    const char *prev = "";
    char want[128], val[CONFIG_LISTEN_MAX + 16];

    fprintf(fp, "# adnet configuration. Every key is shown at its default value.\n"
                "# Precedence: --set key=value > ADNET_* environment variables > this file >\n"
                "# built-in defaults. `adnet config` shows the effective values and sources.\n");
    for (size_t i = 0; i < l->n; i++) {
        const bound_key_t *b = &l->v[i];
        const char *p = b->key, *q = prev;
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
        write_help(fp, b, depth);
        if (b->k->type == CONFIG_T_UINT || b->k->type == CONFIG_T_ENUM) {
            describe_expected(b->k, want, sizeof want);
            fprintf(fp, "%*s# Expects %s.\n", (int)(2 * depth), "", want);
        }
        value_format(b, def, val, sizeof val);
        if (b->k->type == CONFIG_T_LISTEN)
            fprintf(fp, "%*s%s: \"%s\"\n", (int)(2 * depth), "", p, val);
        else
            fprintf(fp, "%*s%s: %s\n", (int)(2 * depth), "", p, val);
        prev = b->key;
    }
}

int config_write_default(const char *path, const config_chain_spec_t *chains, size_t n_chains)
{
    config_t def;
    key_list_t keys;
    char err[CONFIG_ERR_MAX];
    FILE *fp = NULL;
    int fd, rc = 0;

    if (chains_check(chains, n_chains, err) < 0 ||
        defaults_fill(&def, &keys, chains, n_chains, err) < 0)
        return -EINVAL; /* before creating anything */
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
    write_default_yaml(fp, &def, &keys);
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
    for (size_t i = 0; name && i < cfg->n_chains && i < CONFIG_MAX_CHAINS; i++)
        if (strcmp(cfg->chains[i].name, name) == 0)
            return &cfg->chains[i];
    return NULL;
}
