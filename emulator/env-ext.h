/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

#include <uv.h>

#include "emulator.h"

/*
 * The daemon's side of external extensions (env-ext.c): the launcher's extra pipes, init's
 * exit reports, the Extensions API's callbacks, and the graceful shutdown of spec §4.1.
 * env.c calls these from its own paths; they call back the env__ helpers below.
 */

/* Adds the launcher arguments and pipes of @env's extensions; @slots receive fd numbers.
 * Return: how many stdio slots were used (from @nstdio on). */
unsigned envx_spawn_args(ExecEnv *env, const char **argv, size_t *n, uv_stdio_container_t *stdio,
                         unsigned nstdio, char (*slots)[8]);
/* After uv_spawn: start reading (@ok) or give the pipes up. */
void envx_spawned(ExecEnv *env, bool ok);
/* Closes the pipes with @cb (counted in open_handles). */
void envx_close_handles(ExecEnv *env, uv_close_cb cb);
/* envx_shutdown() - starts a graceful shutdown when extensions are registered: SHUTDOWN to
 * them, SIGTERM to the runtime, SIGKILL once the budget is spent. @reason: spindown, timeout
 * or failure. Return: false when there is nothing to wait for (kill at once). */
bool envx_shutdown(ExecEnv *env, const char *reason);
/* The launcher exited: the graceful shutdown (if any) is over. */
void envx_exited(ExecEnv *env);
/* Where extensions are, a prepared spare would start them ahead of init: none then. */
bool envx_has_extensions(const ExecEnv *env);

/* The runtime's host pid, among the extensions' processes (init's last child). */
pid_t envx_runtime_pid(ExecEnv *env);

void envx_on_registered(Rapi *r);
void envx_on_error(Rapi *r, const char *name, const char *error_type, bool init);

/* ---- env.c helpers for env-ext.c ---- */
void env__init_failed(ExecEnv *env, const char *status, const char *error_type);
void env__freeze(ExecEnv *env, bool on);
/* init said the runtime ended (@wait_status) while the extensions live on: the environment
 * is reset (its invocation fails as Runtime.ExitError), the extensions get SHUTDOWN failure. */
void env__runtime_exited(ExecEnv *env, int wait_status);
/* An extension failed after init (exit/error, or its process ended): the environment is
 * reset; an invocation in progress fails with @error_type and @text, the other extensions
 * get SHUTDOWN failure. During init, init fails. */
void env__extension_failed(ExecEnv *env, const char *error_type, const char *text);
/* A signal as Go's ExitError names it ("killed", "segmentation fault"), as Lambda prints. */
const char *env__signal_text(int sig);
/* SIGKILL to every process of @env (its exit follows). */
void env__hard_kill(ExecEnv *env);
void env__close_gate(ExecEnv *env);
