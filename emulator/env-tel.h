/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "emulator.h"

/* The Telemetry API's events of an environment (env-tel.c); each is a no-op when nobody
 * subscribed. Called from the log functions, which mark the same moments. */
void envt_init_start(ExecEnv *env);
/* platform.initRuntimeDone and platform.initReport. */
void envt_init_report(ExecEnv *env, double ms, bool phase_invoke, const char *status,
                      const char *error_type);
void envt_start(Invocation *inv);
/* platform.runtimeDone, platform.end (Logs API) and platform.report; with extensions the
 * report waits for envt_phase_end(). */
void envt_end_report(Invocation *inv);
/* The invoke phase is over (every extension asked for its next event, or the environment
 * exits): its output so far is read, then the held platform.report goes. */
void envt_phase_end(ExecEnv *env);
/* A line of the function's (or an extension's) output. */
void envt_line(ExecEnv *env, bool extension, const char *line, size_t len);
