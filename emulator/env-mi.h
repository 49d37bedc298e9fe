/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "emulator.h"

/*
 * Lambda Managed Instances mode (per_environment_concurrency > 1, spec §6.1): one
 * environment runs up to N invocations at once, one per runtime worker parked in /next;
 * answers are routed by request id; it is never frozen; a timeout answers the caller and
 * leaves the environment running (a late answer gets 410); a worker that dies fails what it
 * held; the runtime's exit fails everything it held and resets the environment.
 *
 * env.c calls these at its branch points; each is a no-op (or false) in classic mode.
 */

static inline bool env_mi(const ExecEnv *env) {
        return env->fn->cfg->per_environment_concurrency > 1;
}

/* env_mi_init() - at creation: the Runtime API takes N waiters. */
void env_mi_init(ExecEnv *env);
/* env_mi_run() - takes @inv when @env is initialised. Return: false to let env.c start (or
 * re-start) the environment for it the classic way. */
bool env_mi_run(ExecEnv *env, Invocation *inv);
/* env_mi_holds() - @inv is one of @env's (handed over or waiting for a worker). */
bool env_mi_holds(const ExecEnv *env, const Invocation *inv);
/* env_mi_init_done() - init is complete; env->inv, the invocation that started it, runs. */
void env_mi_init_done(ExecEnv *env);
/* env_mi_worker_ready() - a worker asked for its next event. */
void env_mi_worker_ready(ExecEnv *env);
void env_mi_result(ExecEnv *env, RapiResult *res);
/* env_mi_timed_out() - @inv's deadline passed: @msg is the "Task timed out" text. */
void env_mi_timed_out(ExecEnv *env, Invocation *inv, const char *msg);
void env_mi_orphaned(ExecEnv *env, const char *request_id, pid_t pid);
void env_mi_late(ExecEnv *env);
/* env_mi_runtime_exited() - the runtime's processes are gone (the env is being reset). */
void env_mi_runtime_exited(ExecEnv *env, const char *error_type, const char *text);
/* env_mi_fail_all() - fails every invocation @env holds with @error_type. */
void env_mi_fail_all(ExecEnv *env, const char *error_type, const char *text);
/* env_mi_each() - calls @f on every invocation @env holds (env->inv aside). */
void env_mi_each(ExecEnv *env, void (*f)(Invocation *inv, void *userdata), void *userdata);

/* env.c internals shared with env-mi.c. */
void env__fail_invocation(Invocation *inv, InvStatus status, const char *type, const char *msg);
void env__close_books(ExecEnv *env, Invocation *inv);
void env__exit_text(ExecEnv *env, char *out, size_t n);
void env__arm_deadline(ExecEnv *env, Invocation *inv);
void env__make_event(Invocation *inv);
void env__apply_result(Invocation *inv, RapiResult *res);
