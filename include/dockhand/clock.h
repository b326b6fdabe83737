/* The monotonic clock in milliseconds, for ages, deadlines and TTLs (never for what a
 * person reads: that is the wall clock). */
#pragma once
#include <stdint.h>

/* Milliseconds since an arbitrary start (CLOCK_MONOTONIC): never goes back. */
uint64_t clock_mono_ms(void);
