#include "supervisor/cliopt.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/base/exitcode.h"
#include "common/base/typo.h"

const char *cliopt_closest(const struct option *opts, const char *name)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (const struct option *o = opts; o->name; o++) {
        size_t d = typo_distance(name, strlen(name), o->name, strlen(o->name));
        if (!best || d < best_d) {
            best = o->name;
            best_d = d;
        }
    }
    return best;
}

/* The option of opts named name[0..len), or NULL. */
static const struct option *find(const struct option *opts, const char *name, size_t len)
{
    for (const struct option *o = opts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

int cliopt_unknown(const char *verb, const struct option *opts, const char *arg)
{
    char name[TYPO_LEN_MAX + 1];
    const char *p = arg;
    while (*p == '-')
        p++;
    size_t len = strcspn(p, "=");
    snprintf(name, sizeof(name), "%.*s", (int)(len < TYPO_LEN_MAX ? len : TYPO_LEN_MAX), p);
    const struct option *o = find(opts, name, strlen(name));
    const char *near = cliopt_closest(opts, name);
    if (o && p[len] == '=' && o->has_arg == no_argument)
        fprintf(stderr, "adnet %s: --%s takes no value (got %s)\n", verb, o->name, arg);
    else if (near)
        fprintf(stderr, "adnet %s: unknown option %s (did you mean --%s?)\n", verb, arg, near);
    else
        fprintf(stderr, "adnet %s: unknown option %s (it takes no options)\n", verb, arg);
    return ADNET_EXIT_CONFIG;
}

int cliopt_fail(const char *verb, const struct option *opts, int c, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    char shortopt[3] = { '-', (char)optopt, '\0' };
    if (c == ':') {
        fprintf(stderr, "adnet %s: %s needs a value (see adnet %s --help)\n", verb, arg, verb);
        return ADNET_EXIT_CONFIG;
    }
    /* A long option's error leaves arg at it; a short one's at optopt. */
    if (strncmp(arg, "--", 2) == 0)
        return cliopt_unknown(verb, opts, arg);
    return cliopt_unknown(verb, opts, optopt ? shortopt : arg);
}

int cliopt_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s)
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}
