/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lambda Managed Instances mode (spec §6.1, DESIGN "Lifecycle"): an environment that serves
 * up to per_environment_concurrency invocations at once.
 *
 * The runtime runs N workers, each in the ordinary /next → /response loop. An invocation
 * given to an initialised environment waits in `mi_pending` until a worker parks in /next,
 * then runs in `mi_running` until its answer (routed by request id) or its deadline. The
 * environment takes another invocation while a slot is free and a worker is parked or about
 * to ask again (it answered a moment ago); otherwise it is full and counts as busy, so the
 * scheduler routes elsewhere. Nothing here freezes, and nothing here kills: a timeout
 * abandons the invocation to its worker (whose late answer gets 410), a dead worker fails
 * only what it held, and only the runtime's own exit resets the environment (env.c).
 */
#include <string.h>

#include <uv.h>

#include "codec.h"
#include "env-mi.h"
#include "macro.h"
#include "procmem.h"

static Invocation *inv_of(ListNode *n) {
        return container_of(n, Invocation, link);
}

void env_mi_init(ExecEnv *env) {
        list_init(&env->mi_running);
        list_init(&env->mi_pending);
        if (env_mi(env))
                rapi_set_concurrency(&env->rapi, env->fn->cfg->per_environment_concurrency);
}

bool env_mi_holds(const ExecEnv *env, const Invocation *inv) {
        return env_mi(env) && inv->env == env && env->inv != inv && list_linked(&inv->link);
}

static unsigned held(const ExecEnv *env) {
        return env->n_running + env->n_pending;
}

/* A free slot, and a worker parked or about to park that no waiting invocation has claimed. */
static bool can_take(const ExecEnv *env) {
        unsigned n = env->fn->cfg->per_environment_concurrency;
        unsigned workers = rapi_n_waiting(&env->rapi) + env->mi_returning;

        return held(env) + env->mi_late < n && workers > env->n_pending;
}

/* The environment's state and its place on the idle list follow what it holds. */
static void refresh(ExecEnv *env) {
        Function *fn = env->fn;
        bool ended = env->closing || env->state == ENV_SHUTTING_DOWN || env->emu->shutting_down;

        if (ended || (env->state != ENV_IDLE && env->state != ENV_BUSY))
                return;
        unsigned max = fn->cfg->lifecycle.max_invocations_per_environment;
        if (max && env->invocations >= max)
                env->retire = true; /* recycled after its N-th: none more, the rest finish */
        env->state = held(env) ? ENV_BUSY : ENV_IDLE;
        if (env->retire) {
                list_unlink(&env->idle_link);
                if (!held(env))
                        env_shutdown(env);
                return;
        }
        if (!can_take(env)) {
                list_unlink(&env->idle_link);
        } else if (list_empty(&env->idle_link)) {
                list_push_front(&fn->idle, &env->idle_link);
                sched_pump_queue(fn);
                if (fn->emu->on_env_ready)
                        fn->emu->on_env_ready(fn->emu);
        }
        if (env->state == ENV_IDLE)
                env_idle(env); /* the idle timeout runs (never a freeze in this mode) */
}

/* Hands waiting invocations to parked workers, oldest first. */
static void dispatch(ExecEnv *env) {
        while (!list_empty(&env->mi_pending) && rapi_waiting(&env->rapi)) {
                Invocation *inv = inv_of(env->mi_pending.next);

                env__arm_deadline(env, inv);
                env__make_event(inv);
                if (rapi_deliver(&env->rapi, &inv->event) < 0)
                        break;
                list_unlink(&inv->link);
                env->n_pending--;
                list_push_back(&env->mi_running, &inv->link);
                env->n_running++;
                env->invocations++;
                logs_start(&env->emu->logs, inv);
        }
}

static void take(ExecEnv *env, Invocation *inv, bool front) {
        inv->env = env;
        if (front)
                list_push_front(&env->mi_pending, &inv->link);
        else
                list_push_back(&env->mi_pending, &inv->link);
        env->n_pending++;
}

bool env_mi_run(ExecEnv *env, Invocation *inv) {
        if (!env_mi(env) || (env->state != ENV_IDLE && env->state != ENV_BUSY) ||
            !env->proc_alive || env->killing)
                return false;
        if (env->state == ENV_IDLE)
                uv_timer_stop(&env->timer); /* its idle timeout */
        env->last_used_ns = clock_mono_ns();
        inv->cold = false;
        take(env, inv, false);
        /* Its clock runs from now, worker or not: a full environment cannot hold it forever. */
        env__arm_deadline(env, inv);
        dispatch(env);
        refresh(env);
        return true;
}

void env_mi_init_done(ExecEnv *env) {
        Invocation *inv = env->inv;

        env->inv = NULL;
        take(env, inv, true);
        dispatch(env);
        refresh(env);
}

void env_mi_worker_ready(ExecEnv *env) {
        if (env->state != ENV_IDLE && env->state != ENV_BUSY)
                return;
        if (env->mi_returning)
                env->mi_returning--;
        dispatch(env);
        refresh(env);
}

static Invocation *find_running(ExecEnv *env, const char *request_id) {
        ListNode *it;

        LIST_FOREACH (it, &env->mi_running) {
                Invocation *inv = inv_of(it);
                if (strcmp(inv->request_id, request_id) == 0)
                        return inv;
        }
        return NULL;
}

/* @inv leaves the environment: books closed, the environment updated before the caller
 * hears back (so the caller's next call may find it), then the scheduler finishes it. */
static void release(ExecEnv *env, Invocation *inv, bool running) {
        list_unlink(&inv->link);
        if (running)
                env->n_running--;
        else
                env->n_pending--;
        env__close_books(env, inv);
        refresh(env);
        sched_finish(inv);
}

void env_mi_result(ExecEnv *env, RapiResult *res) {
        Invocation *inv = find_running(env, res->request_id);

        if (!inv) {
                buf_free(&res->body);
                return;
        }
        env__apply_result(inv, res);
        env->mi_returning++; /* its worker asks for the next event next */
        release(env, inv, true);
}

void env_mi_timed_out(ExecEnv *env, Invocation *inv, const char *msg) {
        bool running = find_running(env, inv->request_id) == inv;

        env__fail_invocation(inv, INV_TIMEOUT, "Sandbox.Timedout", msg);
        if (running) {
                rapi_release(&env->rapi, inv->request_id, true);
                env->mi_late++;
        }
        release(env, inv, running);
}

void env_mi_late(ExecEnv *env) {
        if (env->mi_late)
                env->mi_late--;
        env->mi_returning++;
        dispatch(env);
        refresh(env);
}

/* A worker's connection closed with an event unanswered. The runtime's own process dying is
 * seen by env.c; another process (a forked worker) that is exiting failed what it held. */
void env_mi_orphaned(ExecEnv *env, const char *request_id, pid_t pid) {
        Invocation *inv = find_running(env, request_id);
        char text[256], note[512];

        if (!inv || pid <= 0 || pid == env->runtime_pid || !sbx_pid_exiting(pid))
                return;
        snprintf(text, sizeof(text), "Runtime exited without providing a reason");
        snprintf(note, sizeof(note), "RequestId: %s Error: %s (worker pid %d)", inv->request_id,
                 text, (int) pid);
        env_drain_logs(env);
        logs_platform_note(&env->emu->logs, env, inv, note);
        logs_platform_note(&env->emu->logs, env, inv, "Runtime.ExitError");
        rapi_release(&env->rapi, request_id, false);
        env__fail_invocation(inv, INV_FAILURE, "Runtime.ExitError", text);
        release(env, inv, true);
}

void env_mi_runtime_exited(ExecEnv *env, const char *error_type, const char *text) {
        char note[512];

        if (!env_mi(env))
                return;
        list_unlink(&env->idle_link); /* it takes nothing until it is initialised again */
        env->mi_late = env->mi_returning = 0;
        while (!list_empty(&env->mi_running)) {
                Invocation *inv = inv_of(env->mi_running.next);
                snprintf(note, sizeof(note), "RequestId: %s Error: %s", inv->request_id, text);
                logs_platform_note(&env->emu->logs, env, inv, note);
                logs_platform_note(&env->emu->logs, env, inv, error_type);
                env__fail_invocation(inv, INV_FAILURE, error_type, text);
                release(env, inv, true);
        }
        /* The oldest waiting invocation re-runs init (cold); the rest wait for its workers,
         * on their own clocks. */
        if (!list_empty(&env->mi_pending) && !env->inv) {
                Invocation *inv = inv_of(env->mi_pending.next);
                list_unlink(&inv->link);
                env->n_pending--;
                env->inv = inv;
        }
}

void env_mi_fail_all(ExecEnv *env, const char *error_type, const char *text) {
        if (!env_mi(env))
                return;
        while (!list_empty(&env->mi_running) || !list_empty(&env->mi_pending)) {
                bool running = !list_empty(&env->mi_running);
                Invocation *inv = inv_of(running ? env->mi_running.next : env->mi_pending.next);
                env__fail_invocation(inv, INV_FAILURE, error_type, text);
                release(env, inv, running);
        }
}

void env_mi_each(ExecEnv *env, void (*f)(Invocation *inv, void *userdata), void *userdata) {
        ListNode *it, *tmp;

        if (!env_mi(env))
                return;
        LIST_FOREACH_SAFE(it, tmp, &env->mi_running) {
                f(inv_of(it), userdata);
        }
        LIST_FOREACH_SAFE(it, tmp, &env->mi_pending) {
                f(inv_of(it), userdata);
        }
}
