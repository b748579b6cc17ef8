/* What the benchmarks share: percentiles, and the baselines they measure
 * in the same run so that their ratios move only when the code does. */
#ifndef ADNET_TESTLIB_BASELINE_H
#define ADNET_TESTLIB_BASELINE_H

#include <stddef.h>

/* The p-th percentile (0..100, nearest rank) of v[n]; sorts v in place.
 * 0 when n is 0. */
double baseline_percentile(double *v, size_t n, double p);

/* Ed25519 verifications per second on this thread, over about secs. */
double baseline_verify_per_s(double secs);

/* Milliseconds for one fork + exec + wait of /bin/true. */
double baseline_forkexec_ms(void);

#endif
