/* libFuzzer target for config_load, over all three outside sources of
 * configuration: the YAML file, ADNET_* environment variables and --set
 * flags, for the build's chain sections (supervisor/node_chains.h).
 *
 * The input is the YAML file, optionally followed by a line "#--env" and
 * NAME=VALUE lines (the environment, each line one entry), and by a line
 * "#--set" and key=value lines, each split by config_flag_parse as the CLI
 * and the workers split --set arguments (a line it refuses is dropped, as
 * the CLI would refuse that argument). Both markers are YAML comments, so
 * a plain YAML seed stays what it was. The file goes through a memfd named
 * by /proc/self/fd, so the real file path (open, fstat, libyaml's reader)
 * is exercised.
 *
 * Promises: no crash, leak or sanitizer report; a refusal is -EINVAL
 * (-EFBIG, -ENOMEM) with a one-line message; on success every accepted
 * flag's key reports the flag as its source, both printers run, and the
 * JSON one (`adnet config --json`) prints JSON that parses. */
#include "common/base/config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "supervisor/node_chains.h"
#include "tests/lib/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ENTRIES 32
#define ENV_MARK "\n#--env\n"
#define SET_MARK "\n#--set\n"

/* The input cut into its parts (all NUL-terminated copies). */
typedef struct {
    char *text;                      /* the whole input, cut in place */
    size_t yaml_len;                 /* the file: text[0..yaml_len) */
    char *env[MAX_ENTRIES + 1];      /* NULL-terminated */
    config_flag_t flags[MAX_ENTRIES];
    size_t nflags;
} parts_t;

/* Split the lines of s (NUL-terminated) in place; return how many, at most
 * max, into lines. */
static size_t split_lines(char *s, char **lines, size_t max)
{
    size_t n = 0;
    while (s != NULL && *s != '\0' && n < max) {
        char *nl = strchr(s, '\n');
        if (nl != NULL)
            *nl = '\0';
        lines[n++] = s;
        s = nl ? nl + 1 : NULL;
    }
    return n;
}

static char *cut_at(char *text, const char *mark)
{
    char *m = strstr(text, mark);
    if (m == NULL)
        return NULL;
    *m = '\0';
    return m + strlen(mark);
}

/* Cut text[size] (a copy with a NUL after it) into file, env and flags.
 * An input NUL ends the text parts early, as it would end a C string. */
static void parts_cut(parts_t *p, char *text, size_t size)
{
    char *sets[MAX_ENTRIES];
    memset(p, 0, sizeof *p);
    p->text = text;
    p->yaml_len = size;
    char *set = cut_at(text, SET_MARK);
    char *env = cut_at(text, ENV_MARK);
    if (env != NULL || set != NULL)
        p->yaml_len = strlen(text);
    split_lines(env, p->env, MAX_ENTRIES);
    size_t n = split_lines(set, sets, MAX_ENTRIES);
    for (size_t i = 0; i < n; i++)
        if (config_flag_parse(sets[i], &p->flags[p->nflags]) == 0)
            p->nflags++;
}

/* What config_print --json writes must be JSON. */
static void check_json_print(const config_t *cfg, const config_sources_t *src)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    CHECK(f != NULL);
    config_print(f, cfg, src, true);
    CHECK(fclose(f) == 0);
    json_error_t err;
    json_t *j = json_loadb(out, len, 0, &err);
    if (j == NULL) {
        fprintf(stderr, "fuzz_config: config_print JSON does not parse (%s): %s\n", err.text, out);
        abort();
    }
    json_decref(j);
    free(out);
}

static void check_loaded(const parts_t *p, config_t *cfg, config_sources_t *src, FILE *devnull)
{
    for (size_t i = 0; i < p->nflags; i++) {
        config_source_t from;
        CHECK(config_source_get(src, p->flags[i].key, &from, NULL, 0) == 0);
        CHECK(from == CONFIG_SRC_FLAG);
    }
    if (devnull)
        config_print(devnull, cfg, src, false);
    check_json_print(cfg, src);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    char path[FUZZ_PATH_MAX], err[CONFIG_ERR_MAX];
    config_t cfg;
    config_sources_t *src = NULL;
    parts_t p;
    char *text = malloc(size + 1);
    CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    parts_cut(&p, text, size);
    int fd = fuzz_memfd((const uint8_t *)text, p.yaml_len, "fuzz_config", path);
    memset(err, 0, sizeof err);
    int rc = config_load(&cfg, &src, node_chains, N_NODE_CHAINS, path, true, p.env, p.flags,
                         p.nflags, err);
    if (rc == 0) {
        check_loaded(&p, &cfg, src, devnull);
        config_sources_free(src);
    } else if (err[0] == '\0' || memchr(err, '\n', sizeof err) ||
               (rc != -EINVAL && rc != -EFBIG && rc != -ENOMEM)) {
        /* A refusal is -EINVAL (-EFBIG, -ENOMEM) with a one-line message. */
        abort();
    }
    close(fd);
    free(text);
    return 0;
}
