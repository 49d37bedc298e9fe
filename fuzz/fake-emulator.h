/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "emulator.h"

/*
 * An Emulator for the Invoke and control API fuzz targets: the real request handlers on a
 * real listener, but no sandbox and no process. Its functions have reserved_concurrency 0,
 * so a synchronous invoke is throttled and an async one waits in its queue, which
 * fake_emulator_reset() empties after each input: nothing ever spawns.
 */

Emulator *fake_emulator(void);
/* Frees what one input left behind (queued events, records) and checks the invariants. */
void fake_emulator_reset(Emulator *e);
