/* What the verbs share in reading their options: mistakes worded alike
 * for every verb (an unknown option names the closest known one by edit
 * distance, a missing value or an unwanted one names the option)
 *   adnet status: unknown option --jsno (did you mean --json?)
 * and the one strict reading of a whole number. */
#ifndef ADNET_CLIOPT_H
#define ADNET_CLIOPT_H

#include <getopt.h>
#include <stdint.h>

/* The long option of opts (terminated by a zero entry) whose name is
 * closest to name, or NULL if opts is empty. Ties go to the earlier one. */
const char *cliopt_closest(const struct option *opts, const char *name);

/* Print what was wrong after getopt_long returned c ('?' or ':') while
 * parsing argv of `adnet verb` with opts, opterr = 0 and an optstring
 * that starts with ':'. Return ADNET_EXIT_CONFIG. */
int cliopt_fail(const char *verb, const struct option *opts, int c, char **argv);

/* Print "adnet verb: unknown option ARG (did you mean --X?)" for an
 * argument that a verb parsing its own argv found; return ADNET_EXIT_CONFIG. */
int cliopt_unknown(const char *verb, const struct option *opts, const char *arg);

/* Read s as a decimal u64: digits only (no sign, space or unit), no
 * overflow. Return 0 and *out, -EINVAL, or -ERANGE (too large). */
int cliopt_parse_u64(const char *s, uint64_t *out);

#endif
