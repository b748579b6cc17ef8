/* Clocks and times as operators read them: wall-clock milliseconds (block
 * times, genesis times), a monotonic clock for durations, and ISO-8601
 * UTC text with milliseconds ("2026-12-02T00:21:56.123Z") as ledgers, JSON
 * and logs show it. */
#ifndef ADNET_CLOCK_H
#define ADNET_CLOCK_H

#include <stdint.h>

#define CLOCK_ISO8601_MAX 32 /* buffer for clock_iso8601, NUL included */

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
uint64_t clock_wall_ms(void);
/* Microseconds of CLOCK_MONOTONIC: for durations only, never shown as a date. */
uint64_t clock_mono_us(void);
/* The same clock in nanoseconds (one clock for every process of the
 * machine: a sender's stamp can be read by another process). */
uint64_t clock_mono_ns(void);

/* Write ms (since the epoch) as "YYYY-MM-DDTHH:MM:SS.mmmZ". Return 0, or
 * -EINVAL past year 9999 (out then holds an empty string). */
int clock_iso8601(char out[CLOCK_ISO8601_MAX], uint64_t ms);

#endif
