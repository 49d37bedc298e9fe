/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scheduling: which environment serves an invocation, concurrency limits and throttles,
 * the async queue with its retries and on-failure records.
 *
 * Concurrency is counted as Lambda counts it: invocations running in environments. A
 * function with reserved_concurrency has that many to itself; the others share what is left
 * of account_concurrency. A synchronous invoke past its limit is throttled at once; an async
 * one waits in its function's queue until an environment frees up.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "codec.h"
#include "emulator.h"
#include "macro.h"
#include "shadow.h"
#include "stream.h"
#include "xalloc.h"

const char *inv_status_name(InvStatus s) {
        static const char *const names[] = {
                [INV_SUCCESS] = "success",     [INV_ERROR] = "error",     [INV_TIMEOUT] = "timeout",
                [INV_THROTTLED] = "throttled", [INV_FAILURE] = "failure",
        };
        return s >= 0 && s < _INV_STATUS_MAX ? names[s] : "unknown";
}

Invocation *inv_new(Function *fn, InvokeType type) {
        Invocation *inv = xcalloc(1, sizeof(*inv));

        inv->emu = fn->emu;
        inv->fn = fn;
        inv->type = type;
        inv->attempt = 1;
        inv->http_status = 200;
        inv->accepted_ms = clock_wall_ms();
        list_init(&inv->link);
        uuid_random(inv->request_id);
        return inv;
}

static void inv_release(Invocation *inv) {
        stream_free(inv);
        buf_free(&inv->payload);
        buf_free(&inv->result);
        buf_free(&inv->log);
        free(inv->qualifier);
        free(inv->invoked_arn);
        free(inv->client_context);
        free(inv->trace_id);
        free(inv->service_error);
        free(inv->throttle_reason);
        free(inv->findings_json);
        free(inv->faults_json);
        fault_armed_free(inv->armed);
        free(inv);
}

static void inv_timer_closed(uv_handle_t *h) {
        inv_release(h->data);
}

void inv_free(Invocation *inv) {
        if (!inv)
                return;
        list_unlink(&inv->link);
        if (inv->timer_init) {
                inv->timer.data = inv;
                uv_close((uv_handle_t *) &inv->timer, inv_timer_closed);
                return;
        }
        inv_release(inv);
}

/* ---- capacity ----------------------------------------------------------------------- */

static bool has_capacity(Function *fn, const char **ret_reason) {
        Emulator *e = fn->emu;

        if (fn->cfg->reserved_concurrency >= 0) {
                if (fn->inflight >= (uint64_t) fn->cfg->reserved_concurrency) {
                        *ret_reason = "ReservedFunctionConcurrentInvocationLimitExceeded";
                        return false;
                }
                return true;
        }
        unsigned pool = e->cfg->account_concurrency > e->reserved_total
                                ? e->cfg->account_concurrency - e->reserved_total
                                : 0;
        if (e->unreserved_inflight >= pool) {
                *ret_reason = "ConcurrentInvocationLimitExceeded";
                return false;
        }
        return true;
}

/* splitmix64: small, fast, and fully determined by the seed. One stream per function, so
 * the same seed and the same sequential invocations give the same assignments. */
uint64_t sched_random(Function *fn) {
        uint64_t z = (fn->rng += 0x9e3779b97f4a7c15ull);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

static double random_unit(Function *fn) {
        return (double) (sched_random(fn) >> 11) / (double) (1ull << 53);
}

/* The idle environment the route policy names (DESIGN "Lifecycle"). */
static ExecEnv *route(Function *fn) {
        ListNode *it;

        switch (fn->cfg->lifecycle.route) {
        case CFG_ROUTE_LRU:
                return container_of(fn->idle.prev, ExecEnv, idle_link);
        case CFG_ROUTE_RANDOM: {
                unsigned n = 0;
                LIST_FOREACH (it, &fn->idle) {
                        n++;
                }
                unsigned pick = (unsigned) (sched_random(fn) % n);
                LIST_FOREACH (it, &fn->idle) {
                        if (pick-- == 0)
                                return container_of(it, ExecEnv, idle_link);
                }
                return NULL;
        }
        case CFG_ROUTE_ROUND_ROBIN: {
                /* A cursor over idle environments by id: the next id after the last one. */
                ExecEnv *next = NULL, *first = NULL;
                LIST_FOREACH (it, &fn->idle) {
                        ExecEnv *env = container_of(it, ExecEnv, idle_link);
                        if (!first || env->id < first->id)
                                first = env;
                        if (env->id > fn->rr_cursor && (!next || env->id < next->id))
                                next = env;
                }
                ExecEnv *env = next ? next : first;
                if (env)
                        fn->rr_cursor = env->id;
                return env;
        }
        case CFG_ROUTE_MRU:
        default:
                return container_of(fn->idle.next, ExecEnv, idle_link);
        }
}

static ExecEnv *pick_env(Function *fn) {
        CfgLifecycle *lc = &fn->cfg->lifecycle;

        if (lc->reuse == CFG_REUSE_COLD || list_empty(&fn->idle))
                return NULL;
        if (lc->reuse == CFG_REUSE_RANDOM && random_unit(fn) >= lc->reuse_probability)
                return NULL;
        return route(fn);
}

/* Keeps `provisioned` environments initialised ahead, off any invocation's clock. */
void sched_provision(Function *fn) {
        unsigned have = 0;
        ListNode *it;

        if (fn->emu->shutting_down)
                return;
        LIST_FOREACH (it, &fn->envs) {
                ExecEnv *env = container_of(it, ExecEnv, link);
                have += env->provisioned && !env->retire && env->state != ENV_SHUTTING_DOWN &&
                        !env->spare;
        }
        for (; have < fn->cfg->lifecycle.provisioned; have++) {
                ExecEnv *env = env_new(fn);
                if (!env)
                        return;
                env->provisioned = true;
                env_provision(env);
        }
}

/* ---- prepared spares ------------------------------------------------------------------- */

/* Each function keeps one environment set up ahead (cgroups, namespaces, init waiting at the
 * launcher's gate), so that a cold start only pays for the runtime's own fork, exec and init.
 * It takes the next environment id, so ids still count up in the order environments serve. */
static void refill_spare(uv_timer_t *t) {
        Function *fn = t->data;

        if (fn->spare || fn->emu->shutting_down || fn->emu->ending)
                return;
        ExecEnv *env = env_new(fn);
        if (!env)
                return;
        env->spare = true;
        fn->spare = env;
        env_prepare(env);
}

void sched_spare_init(Function *fn) {
        uv_timer_init(fn->emu->loop, &fn->spare_timer);
        fn->spare_timer.data = fn;
        uv_timer_start(&fn->spare_timer, refill_spare, 0, 0);
}

void sched_spare_gone(ExecEnv *env) {
        Function *fn = env->fn;

        if (fn->spare != env)
                return;
        fn->spare = NULL;
        if (!fn->emu->shutting_down && !uv_is_closing((uv_handle_t *) &fn->spare_timer))
                uv_timer_start(&fn->spare_timer, refill_spare, 0, 0);
}

static ExecEnv *take_spare(Function *fn) {
        ExecEnv *env = fn->spare;

        if (!env || env->state != ENV_COLD)
                return NULL;
        fn->spare = NULL;
        env->spare = false;
        /* The next spare is made once this cold invocation is answered (sched_finish): a
         * spawn blocks the loop for milliseconds, which must not land on the cold start. */
        return env;
}

static void throttle(Invocation *inv, const char *reason);

/* Starts @inv now if a slot is free. Return: true when started (or failed for good). */
static bool try_start(Invocation *inv, const char **ret_reason) {
        Function *fn = inv->fn;
        Emulator *e = fn->emu;

        if (!has_capacity(fn, ret_reason))
                return false;
        const char *injected = fault_throttle(inv);
        if (injected) {
                throttle(inv, injected);
                sched_finish(inv);
                return true;
        }
        if (fault_answer_now(inv)) {
                sched_finish(inv); /* error_response without the handler */
                return true;
        }
        ExecEnv *env = pick_env(fn);
        if (env && fault_reclaim(inv, env))
                env = NULL;
        if (!env)
                env = take_spare(fn);
        if (!env) {
                env = env_new(fn);
                if (!env) {
                        inv->http_status = 500;
                        inv->service_error = xstrdup("ServiceException");
                        buf_puts(&inv->result,
                                 "{\"Type\":\"Service\",\"Message\":\"lemu could not "
                                 "bind a Runtime API address for a new environment\"}");
                        inv->status = INV_FAILURE;
                        sched_finish(inv);
                        return true;
                }
        }
        fn->inflight++;
        e->inflight++;
        if (fn->cfg->reserved_concurrency < 0)
                e->unreserved_inflight++;
        fn->counters.invocations++;
        env_run(env, inv);
        if (inv->cold) {
                fn->counters.cold_starts++;
                if (inv->type == INVOKE_EVENT) {
                        inv->async_cold = true; /* until sched_finish() */
                        e->async_colds++;
                }
        }
        return true;
}

static void throttle(Invocation *inv, const char *reason) {
        inv->fn->counters.throttles++;
        inv->status = INV_THROTTLED;
        inv->http_status = 429;
        inv->service_error = xstrdup("TooManyRequestsException");
        inv->throttle_reason = xstrdup(reason);
        buf_reset(&inv->result);
        buf_printf(&inv->result,
                   "{\"Reason\":\"%s\",\"Type\":\"User\",\"message\":\"Rate Exceeded.\"}", reason);
}

/* ---- async -------------------------------------------------------------------------- */

typedef struct FailureWrite {
        uv_fs_t req;
        int fd;
        char *data;
} FailureWrite;

static void write_done(uv_fs_t *req) {
        FailureWrite *w = container_of(req, FailureWrite, req);

        close(w->fd);
        free(w->data);
        uv_fs_req_cleanup(req);
        free(w);
}

static void append_json_or_string(Buf *b, const Buf *v) {
        /* The payloads were JSON when they came in; a runtime's answer may not be. */
        if (v->len && utf8_valid(v->data, v->len) &&
            (v->data[0] == '{' || v->data[0] == '[' || v->data[0] == '"')) {
                buf_append(b, v->data, v->len);
                return;
        }
        buf_put_json_str(b, v->data, v->len);
}

/* AWS's on-failure destination record, one JSON line appended to async.on_failure. */
static void record_failure(Invocation *inv, const char *condition) {
        Function *fn = inv->fn;
        char ts[40];
        struct timespec now;
        struct tm tm;
        Buf b = BUF_INIT;

        if (!fn->cfg->async.on_failure)
                return;
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        size_t k = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ts + k, sizeof(ts) - k, ".%03ldZ", now.tv_nsec / 1000000);
        buf_printf(&b,
                   "{\"version\":\"1.0\",\"timestamp\":\"%s\",\"requestContext\":{\"requestId\":"
                   "\"%s\",\"functionArn\":\"%s:$LATEST\",\"condition\":\"%s\","
                   "\"approximateInvokeCount\":%u},\"requestPayload\":",
                   ts, inv->request_id, fn->arn, condition, inv->attempt);
        append_json_or_string(&b, &inv->payload);
        buf_printf(&b, ",\"responseContext\":{\"statusCode\":200,\"executedVersion\":\"$LATEST\"");
        if (inv->function_error)
                buf_puts(&b, ",\"functionError\":\"Unhandled\"");
        buf_puts(&b, "},\"responsePayload\":");
        if (inv->result.len)
                append_json_or_string(&b, &inv->result);
        else
                buf_puts(&b, "null");
        buf_puts(&b, "}\n");

        int fd = open(fn->cfg->async.on_failure, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
                char line[512];
                snprintf(line, sizeof(line), "lemu: cannot open on_failure file '%s': %s\n",
                         fn->cfg->async.on_failure, strerror(errno));
                logs_write(&fn->emu->logs, line, strlen(line));
                buf_free(&b);
                return;
        }
        /* Whoever sees the record finds the attempts' log lines written, as a caller who
         * has its answer does (logs gather lines for up to LOGS_FLUSH_MS). */
        logs_flush(&fn->emu->logs);
        /* One write of one line to an O_APPEND file: appended whole, off the loop. */
        FailureWrite *w = xmalloc(sizeof(*w));
        size_t len;
        w->fd = fd;
        w->data = buf_steal(&b, &len);
        uv_buf_t ub = uv_buf_init(w->data, (unsigned) len);
        if (uv_fs_write(fn->emu->loop, &w->req, fd, &ub, 1, -1, write_done) < 0) {
                close(fd);
                free(w->data);
                free(w);
        }
}

static void retry_fire(uv_timer_t *t) {
        Invocation *inv = t->data;
        Function *fn = inv->fn;

        list_unlink(&inv->link);
        list_push_back(&fn->queue, &inv->link);
        fn->n_queued++;
        sched_pump_queue(fn);
}

static double retry_delay(Function *fn, unsigned attempt) {
        CfgAsync *a = &fn->cfg->async;

        if (a->n_retry_delays == 0)
                return attempt == 1 ? 60 : 120;
        size_t i = attempt - 1 < a->n_retry_delays ? attempt - 1 : a->n_retry_delays - 1;
        return a->retry_delays_s[i];
}

static void retry_later(Invocation *inv, double delay) {
        Function *fn = inv->fn;

        if (!inv->timer_init) {
                uv_timer_init(fn->emu->loop, &inv->timer);
                inv->timer_init = true;
        }
        inv->timer.data = inv;
        uv_timer_start(&inv->timer, retry_fire, (uint64_t) llround(delay * 1000), 0);
        list_push_back(&fn->retrying, &inv->link);
}

/* Returns true when the event will be tried again. */
static bool async_after(Invocation *inv) {
        Function *fn = inv->fn;
        bool failed =
                inv->function_error || inv->status == INV_FAILURE || inv->status == INV_TIMEOUT;

        /* Each record shows the faults of its own attempt. */
        free(inv->faults_json);
        inv->faults_json = NULL;
        if (inv->status == INV_THROTTLED) {
                /* A throttled event goes back to the queue; it is not an attempt. */
                free(inv->service_error);
                free(inv->throttle_reason);
                inv->service_error = inv->throttle_reason = NULL;
                inv->status = INV_SUCCESS;
                inv->http_status = 200;
                inv->finished = false;
                buf_reset(&inv->result);
                retry_later(inv, retry_delay(fn, 1));
                return true;
        }
        if (!failed)
                return false;
        if (inv->attempt > fn->cfg->async.max_retries) {
                record_failure(inv, "RetriesExhausted");
                return false;
        }
        double delay = retry_delay(fn, inv->attempt);
        inv->attempt++;
        /* The retry reuses the request id; the result of this attempt is dropped. */
        inv->env = NULL;
        inv->finished = false;
        inv->function_error = false;
        inv->cold = inv->suppressed_init = false;
        inv->timer_deferred = false;
        inv->init_ms = inv->duration_ms = 0;
        inv->status = INV_SUCCESS;
        inv->error_type[0] = '\0';
        inv->error_code[0] = '\0';
        inv->streamed = false;
        stream_free(inv);
        /* Not delivered yet: env.c tells a delivered invocation by its event's request id. */
        inv->event = (RapiEvent){ 0 };
        buf_reset(&inv->result);
        retry_later(inv, delay);
        return true;
}

void sched_pump_queue(Function *fn) {
        Emulator *e = fn->emu;

        while (!list_empty(&fn->queue) && !e->shutting_down) {
                Invocation *inv = container_of(fn->queue.next, Invocation, link);
                const char *reason;
                double age = (double) (clock_wall_ms() - inv->accepted_ms) / 1000;

                if (age > fn->cfg->async.max_event_age_s) {
                        list_unlink(&inv->link);
                        fn->n_queued--;
                        record_failure(inv, "EventAgeExceeded");
                        journal_done(&e->journal, inv);
                        inv->status = INV_FAILURE;
                        if (inv->done_cb)
                                inv->done_cb(inv, inv->done_data);
                        inv_free(inv);
                        continue;
                }
                if (!has_capacity(fn, &reason))
                        return;
                /* No warm environment: it waits while enough events are on cold starts. */
                if (list_empty(&fn->idle) && e->async_colds >= e->async_colds_max)
                        return;
                list_unlink(&inv->link);
                fn->n_queued--;
                try_start(inv, &reason);
        }
}

static void pump_all(Emulator *e) {
        for (size_t i = 0; i < e->n_functions; i++)
                sched_pump_queue(&e->functions[i]);
}

/* ---- public ------------------------------------------------------------------------- */

void sched_submit(Invocation *inv) {
        Function *fn = inv->fn;
        const char *reason = NULL;

        fault_arm(inv); /* one Invoke call: the faults count it */
        if (inv->type == INVOKE_EVENT) {
                Invocation *twin = fault_duplicate(inv);
                list_push_back(&fn->queue, &inv->link);
                fn->n_queued++;
                if (twin) {
                        list_push_back(&fn->queue, &twin->link);
                        fn->n_queued++;
                }
                sched_pump_queue(fn);
                return;
        }
        if (!try_start(inv, &reason)) {
                throttle(inv, reason);
                sched_finish(inv);
        }
}

void sched_finish(Invocation *inv) {
        Function *fn = inv->fn;
        Emulator *e = fn->emu;
        bool ran = inv->env != NULL;

        if (inv->shadow) {
                /* A shadow run: no caller, no counters, no record of its own. */
                shadow_finish(inv);
                return;
        }
        inv->finished = true;
        if (inv->async_cold) {
                inv->async_cold = false;
                e->async_colds--;
        }
        if (ran) {
                fn->inflight--;
                e->inflight--;
                if (fn->cfg->reserved_concurrency < 0)
                        e->unreserved_inflight--;
                if (inv->function_error)
                        fn->counters.errors++;
                if (inv->status == INV_TIMEOUT)
                        fn->counters.timeouts++;
        }
        uint64_t seq = records_add(&e->records, inv);
        if (inv->env)
                inv->env->last_seq = seq;
        metrics_observe(&fn->metrics, inv);
        if (!fn->spare && !e->shutting_down && !uv_is_closing((uv_handle_t *) &fn->spare_timer))
                uv_timer_start(&fn->spare_timer, refill_spare, 0, 0);
        if (inv->type == INVOKE_EVENT && e->ending && inv->status != INV_SUCCESS) {
                /* Cut short by lemu's own shutdown: its record stays for the next start. */
                if (inv->done_cb)
                        inv->done_cb(inv, inv->done_data);
                inv_free(inv);
                emu_check_idle(e);
                return;
        }
        if (inv->type == INVOKE_EVENT && async_after(inv)) {
                pump_all(e);
                return;
        }
        if (inv->type == INVOKE_EVENT)
                journal_done(&e->journal, inv); /* delivered, or in on_failure */
        /* A warm answer's shadow run: counted in flight before the caller hears back (so
         * `run` and wait-idle wait for it), started after. */
        Shadow *sh = shadow_prepare(inv, seq);
        if (inv->done_cb)
                inv->done_cb(inv, inv->done_data);
        shadow_launch(sh);
        inv_free(inv);
        if (ran)
                pump_all(e);
        emu_check_idle(e);
}

void sched_env_available(ExecEnv *env) {
        Function *fn = env->fn;
        unsigned max = fn->cfg->lifecycle.max_invocations_per_environment;

        if (env->fn->emu->shutting_down || env->retire || env->shadow ||
            (max && env->invocations >= max)) {
                env_shutdown(env);
                return;
        }
        list_unlink(&env->idle_link);
        list_push_front(&fn->idle, &env->idle_link);
        env_idle(env);
        sched_pump_queue(fn);
        if (fn->emu->on_env_ready)
                fn->emu->on_env_ready(fn->emu);
}

bool sched_provisioning(const Emulator *e) {
        for (size_t i = 0; i < e->n_functions; i++) {
                ListNode *it;
                LIST_FOREACH (it, &e->functions[i].envs) {
                        const ExecEnv *env = container_of(it, ExecEnv, link);
                        if (env->provisioned && env->state == ENV_INITIALIZING)
                                return true;
                }
        }
        return false;
}
