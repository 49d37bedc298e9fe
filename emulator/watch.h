/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

#include "emulator.h"

/* `--watch` (watch.c): recycles a function's environments when its code changes. */
typedef struct Watch Watch;

/*
 * watch_start() - watches every function of @e. Call before the loop runs (it walks the
 * code folders). Return: 0 and the Watch, or a negative errno (-ENOSPC: too many folders;
 * from uv_fs_event_start otherwise), after which nothing is left behind once the loop runs.
 */
int watch_start(Emulator *e, Watch **ret);
/* watch_count() - how many folders are watched. */
size_t watch_count(const Watch *w);
/* watch_stop() - closes every handle; the Watch is freed when the last one has closed.
 * Accepts NULL. */
void watch_stop(Watch *w);
