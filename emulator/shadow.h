/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>

/*
 * Shadow runs (DESIGN "Surfacing bugs"): with lifecycle.shadow on, an invocation served warm
 * that the function answered (success or function error) is run again, with the same event
 * and request id, on a fresh environment `<fn>-shadow-<n>` that is ended afterwards. The two
 * answers are compared (compare.h) off the loop; a difference is a state_leak finding added
 * to the warm invocation's record.
 *
 * A shadow environment sits on fn->envs (so the control API lists it, metrics count it, and
 * shutdown and recycle end it) but never on fn->idle: env->shadow keeps routing, provisioning
 * and reuse away from it. Its invocation is not counted against concurrency, in the
 * function's invocation counters, records or metrics; sched_finish() hands it here.
 */

struct Invocation;
typedef struct Shadow Shadow;

/**
 * shadow_prepare() - called by sched_finish() before the caller is answered: when @warm
 * qualifies, copies what the shadow run needs (the event, the warm answer) and counts it in
 * flight (Emulator.background), so that wait-idle and `run` wait for it.
 * @seq: the record of @warm, where a finding goes.
 * Return: the prepared run (hand it to shadow_launch()), or NULL.
 */
Shadow *shadow_prepare(struct Invocation *warm, uint64_t seq);

/**
 * shadow_launch() - starts @s on a new environment, after the caller was answered. Takes
 * @s over; NULL is a no-op.
 */
void shadow_launch(Shadow *s);

/**
 * shadow_finish() - the shadow invocation @inv ended (sched_finish() calls this instead of
 * its usual work): compares, reports, frees @inv.
 */
void shadow_finish(struct Invocation *inv);
