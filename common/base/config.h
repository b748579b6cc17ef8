/* Node configuration: adnet.yaml, then ADNET_* environment variables, then
 * command-line overrides, in rising order of strength (flags > env > file >
 * defaults). Every value remembers where it came from, for `adnet config`.
 * Bad configuration is refused with file:line:column (or the variable or
 * flag name) and what was expected. */
#ifndef ADNET_CONFIG_H
#define ADNET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_ERR_MAX 512
#define CONFIG_LISTEN_MAX 64
#define CONFIG_MAX_CHAINS 8
#define CONFIG_CHAIN_NAME_MAX 15
/* Smallest non-zero <chain>.retain_blocks accepted. */
#define CONFIG_RETAIN_BLOCKS_MIN 100

/* A chain's section as the node registers it: its name and the defaults
 * that differ from chain to chain. The node passes its list of these to
 * config_defaults, config_load and config_write_default; this module knows
 * no chain by itself. */
typedef struct {
    const char *name;           /* section name: 1..15 of [a-z], not "log" or "supervisor" */
    uint32_t block_interval_ms; /* default of <name>.block_interval_ms */
    const char *api_listen;     /* default of <name>.api.listen */
} config_chain_spec_t;

/* The settings of one chain's section, <name>.*. */
typedef struct {
    char name[CONFIG_CHAIN_NAME_MAX + 1]; /* the section, as registered */
    bool enabled;               /* run this chain's worker under `adnet run` */
    uint32_t block_interval_ms; /* target time between blocks */
    uint32_t block_max_txs;     /* transactions in one block at most */
    char api_listen[CONFIG_LISTEN_MAX]; /* host:port of the HTTP API */
    uint32_t api_threads;       /* HTTP server threads */
    uint32_t api_max_body_bytes;
    uint32_t api_max_header_bytes;
    uint32_t api_timeout_s;     /* idle connection timeout */
    uint32_t api_rate_per_s;    /* requests per second per client address */
    uint32_t api_rate_burst;    /* burst above that rate */
    uint32_t mempool_max_txs;
    uint32_t mempool_max_bytes;
    uint32_t mempool_max_per_sender;
    uint32_t state_keep_heights; /* state history kept for proofs (0: all) */
    uint32_t retain_blocks;     /* blocks kept, older ones pruned (0: all; else >= 100) */
} config_chain_t;

typedef struct {
    char log_level[16];         /* debug | info | warn | error */
    size_t n_chains;            /* sections in chains[] */
    config_chain_t chains[CONFIG_MAX_CHAINS]; /* in the order they were registered */
    struct {
        uint32_t restart_burst;       /* restarts allowed within restart_interval_s */
        uint32_t restart_interval_s;  /* window of the crash-loop limit */
        uint32_t stop_timeout_s;      /* SIGTERM to SIGKILL */
        uint32_t backoff_initial_ms;  /* delay of the 2nd restart in a window; doubles */
        uint32_t backoff_max_ms;      /* cap of the back-off delay */
        uint32_t ready_timeout_ms;    /* a starting worker must be ready by then */
        uint32_t heartbeat_interval_ms; /* how often workers report */
        uint32_t heartbeat_timeout_ms;  /* silence after which a worker is killed */
        uint32_t failed_retry_s;      /* a worker failed by a crash loop is tried again
                                       * after this; 0: only `adnet restart` */
    } supervisor;
} config_t;

typedef enum {
    CONFIG_SRC_DEFAULT = 0,
    CONFIG_SRC_FILE,
    CONFIG_SRC_ENV,
    CONFIG_SRC_FLAG,
} config_source_t;

/* One command-line override, "key=value" split in two (not owned). */
typedef struct {
    const char *key;   /* dotted path, e.g. "supervisor.stop_timeout_s" */
    const char *value; /* text as typed */
} config_flag_t;

/* Where each value came from; filled by config_load. */
typedef struct config_sources config_sources_t;

/* Fill *cfg with the defaults: the node-wide keys and one section per
 * entry of chains[0..n_chains), in that order. The list must be one that
 * config_load accepts (a programming error otherwise: asserted, and in a
 * build without asserts the fields a bad entry cannot fill are left zero).
 * Cannot fail. */
void config_defaults(config_t *cfg, const config_chain_spec_t *chains, size_t n_chains);

/* Load the effective configuration for the sections chains[0..n_chains):
 * defaults, then `path` (if non-NULL; a missing file is an error only if
 * `must_exist`), then ADNET_* variables from `envp` (NULL-terminated, may
 * be NULL), then `flags`. The list is refused with -EINVAL if it holds more
 * than CONFIG_MAX_CHAINS entries, a name that is not 1..15 of [a-z], is
 * taken by node-wide keys or comes twice, or a default out of its key's
 * range. On success write *cfg (and *sources_out, if non-NULL: caller
 * frees with config_sources_free) and return 0. On failure return -EINVAL
 * (bad configuration) or -errno (I/O), write a one-line message naming the
 * file:line:column, variable or flag and what was expected to err, and
 * leave *cfg untouched. */
int config_load(config_t *cfg, config_sources_t **sources_out, const config_chain_spec_t *chains,
                size_t n_chains, const char *path, bool must_exist, char *const *envp,
                const config_flag_t *flags, size_t nflags, char err[CONFIG_ERR_MAX]);

/* Release sources; NULL-safe. */
void config_sources_free(config_sources_t *s);

/* Say where `key`'s effective value came from: write *src (if non-NULL) and,
 * if where is non-NULL, a NUL-terminated description truncated to n bytes:
 * "default", "file PATH:LINE", "env ADNET_X" or "flag --set". A NULL s
 * means every value is a default; it knows no chain sections, so only
 * node-wide keys are found then. Return 0, or -ENOENT if key is not a
 * configuration key. */
int config_source_get(const config_sources_t *s, const char *key, config_source_t *src,
                      char *where, size_t n);

/* Print every key of cfg's sections with its effective value and its
 * source, one per line ("log.level = debug  # env ADNET_LOG_LEVEL", the
 * "#" column aligned), or as one JSON object
 * {"key":{"value":..,"source":".."}} if json (integers and booleans as JSON
 * numbers and booleans). sources must come from the config_load that
 * filled cfg; with sources NULL the source is left out. */
void config_print(FILE *out, const config_t *cfg, const config_sources_t *sources, bool json);

/* Write a commented default adnet.yaml to `path` (mode 0644): every key of
 * the node-wide and the chains[0..n_chains) sections at its default,
 * grouped, with its help line. Never overwrites: -EEXIST if path exists.
 * Return 0, -EINVAL if config_load would refuse the chain list (nothing is
 * written then), or -errno (a partly written file is removed). */
int config_write_default(const char *path, const config_chain_spec_t *chains, size_t n_chains);

/* The section of the chain called name in cfg, or NULL if cfg has none
 * (or name is NULL). The pointer is into *cfg. */
const config_chain_t *config_chain(const config_t *cfg, const char *name);

/* Split "key=value" (in place: writes a NUL over '=') into *flag.
 * Return 0, or -EINVAL if there is no '=' or the key is empty. */
int config_flag_parse(char *arg, config_flag_t *flag);

#endif
