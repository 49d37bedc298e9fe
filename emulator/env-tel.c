/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Telemetry API's events (spec §5.2) of an environment, built from what the lifecycle
 * and the logs already know, and handed to its Runtime API's subscriptions (runtime-api/
 * telemetry.c). Records are built only when a subscriber (or, during init, an extension
 * that may still subscribe) wants them. Order on the wire: platform.initStart, the init's
 * log lines, platform.initRuntimeDone, platform.initReport; then per invocation
 * platform.start, its log lines, platform.runtimeDone, platform.report (Logs API
 * subscribers also get platform.end).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "codec.h"
#include "env-tel.h"
#include "macro.h"
#include "xalloc.h"

static void emit(ExecEnv *env, unsigned category, const char *type, cJSON *rec) {
        char *s = cJSON_PrintUnformatted(rec);

        rapi_tel_emit(&env->rapi, category, type, s);
        cJSON_free(s);
        cJSON_Delete(rec);
}

static const char *init_type(const ExecEnv *env) {
        return env->provisioned ? "provisioned-concurrency" : "on-demand";
}

static double two(double ms) {
        return round(ms * 100) / 100;
}

void envt_init_start(ExecEnv *env) {
        if (!rapi_tel_wants(&env->rapi, RAPI_TEL_PLATFORM))
                return;
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "initializationType", init_type(env));
        cJSON_AddStringToObject(r, "phase", env->init_phase_invoke ? "invoke" : "init");
        cJSON_AddStringToObject(r, "runtimeVersion", "provided:al2023.lemu");
        cJSON_AddStringToObject(r, "runtimeVersionArn", "arn:aws:lambda:us-east-1::runtime:lemu");
        cJSON_AddStringToObject(r, "functionName", env->fn->cfg->name);
        cJSON_AddStringToObject(r, "functionVersion", "$LATEST");
        cJSON_AddStringToObject(r, "instanceId", env->name);
        cJSON_AddNumberToObject(r, "instanceMaxMemory", env->fn->cfg->memory_mb);
        emit(env, RAPI_TEL_PLATFORM | RAPI_TEL_TELEMETRY_ONLY, "platform.initStart", r);
}

void envt_init_report(ExecEnv *env, double ms, bool phase_invoke, const char *status,
                      const char *error_type) {
        if (!rapi_tel_wants(&env->rapi, RAPI_TEL_PLATFORM))
                return;
        const char *phase = phase_invoke ? "invoke" : "init";
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "initializationType", init_type(env));
        cJSON_AddStringToObject(r, "phase", phase);
        cJSON_AddStringToObject(r, "status", status);
        if (error_type)
                cJSON_AddStringToObject(r, "errorType", error_type);
        emit(env, RAPI_TEL_PLATFORM | RAPI_TEL_TELEMETRY_ONLY, "platform.initRuntimeDone", r);

        r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "initializationType", init_type(env));
        cJSON_AddStringToObject(r, "phase", phase);
        cJSON_AddStringToObject(r, "status", status);
        if (error_type)
                cJSON_AddStringToObject(r, "errorType", error_type);
        cJSON *m = cJSON_AddObjectToObject(r, "metrics");
        cJSON_AddNumberToObject(m, "durationMs", two(ms));
        emit(env, RAPI_TEL_PLATFORM | RAPI_TEL_TELEMETRY_ONLY, "platform.initReport", r);
}

static void add_tracing(cJSON *r, const Invocation *inv) {
        if (!inv->trace_id || !*inv->trace_id)
                return;
        cJSON *t = cJSON_AddObjectToObject(r, "tracing");
        cJSON_AddStringToObject(t, "type", "X-Amzn-Trace-Id");
        cJSON_AddStringToObject(t, "value", inv->trace_id);
}

void envt_start(Invocation *inv) {
        ExecEnv *env = inv->env;

        if (!env || !rapi_tel_wants(&env->rapi, RAPI_TEL_PLATFORM))
                return;
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "requestId", inv->request_id);
        cJSON_AddStringToObject(r, "version", "$LATEST");
        add_tracing(r, inv);
        emit(env, RAPI_TEL_PLATFORM, "platform.start", r);
}

static void add_status(cJSON *r, const Invocation *inv) {
        cJSON_AddStringToObject(r, "requestId", inv->request_id);
        cJSON_AddStringToObject(r, "status", inv_status_name(inv->status));
        if (inv->status != INV_SUCCESS && inv->error_type[0])
                cJSON_AddStringToObject(r, "errorType", inv->error_type);
}

void envt_end_report(Invocation *inv) {
        ExecEnv *env = inv->env;
        FunctionConfig *fc;

        if (!env || !rapi_tel_wants(&env->rapi, RAPI_TEL_PLATFORM))
                return;
        fc = env->fn->cfg;
        bool cold = inv->cold && !inv->suppressed_init;

        /* runtimeDone: the runtime's part (its answer), with the answer's size. */
        cJSON *r = cJSON_CreateObject();
        add_status(r, inv);
        cJSON *m = cJSON_AddObjectToObject(r, "metrics");
        cJSON_AddNumberToObject(m, "durationMs", two(inv->duration_ms));
        cJSON_AddNumberToObject(m, "producedBytes",
                                inv->status == INV_SUCCESS ? (double) inv->result.len : 0);
        cJSON *spans = cJSON_AddArrayToObject(r, "spans");
        cJSON *sp = cJSON_CreateObject();
        char t[40];
        int64_t start_ms = clock_wall_ms() - (int64_t) inv->duration_ms;
        time_t sec = (time_t) (start_ms / 1000);
        struct tm tm;
        gmtime_r(&sec, &tm);
        size_t k = strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(t + k, sizeof(t) - k, ".%03dZ", (int) (start_ms % 1000));
        cJSON_AddStringToObject(sp, "name", "responseLatency");
        cJSON_AddStringToObject(sp, "start", t);
        cJSON_AddNumberToObject(sp, "durationMs", two(inv->duration_ms));
        cJSON_AddItemToArray(spans, sp);
        add_tracing(r, inv);
        emit(env, RAPI_TEL_PLATFORM, "platform.runtimeDone", r);

        /* Logs API: END. */
        r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "requestId", inv->request_id);
        emit(env, RAPI_TEL_PLATFORM | RAPI_TEL_LOGS_ONLY, "platform.end", r);

        /* report: the figures of REPORT. */
        r = cJSON_CreateObject();
        add_status(r, inv);
        m = cJSON_AddObjectToObject(r, "metrics");
        cJSON_AddNumberToObject(m, "durationMs", two(inv->duration_ms));
        cJSON_AddNumberToObject(
                m, "billedDurationMs",
                (double) logs_billed_ms(inv->duration_ms + (cold ? inv->init_ms : 0)));
        cJSON_AddNumberToObject(m, "memorySizeMB", fc->memory_mb);
        cJSON_AddNumberToObject(m, "maxMemoryUsedMB", inv->max_memory_mb);
        if (cold)
                cJSON_AddNumberToObject(m, "initDurationMs", two(inv->init_ms));
        add_tracing(r, inv);
        if (rapi_ext_count(&env->rapi, false) == 0 || env->state != ENV_BUSY) {
                emit(env, RAPI_TEL_PLATFORM, "platform.report", r);
                return;
        }
        /* Lambda ends the Invoke phase when the extensions are done too: their lines
         * about this invocation come before its report. */
        free(env->tel_report);
        env->tel_report = cJSON_PrintUnformatted(r);
        cJSON_Delete(r);
}

void envt_phase_end(ExecEnv *env) {
        char *report = env->tel_report;

        if (!report)
                return;
        env->tel_report = NULL;
        env_drain_logs(env);
        rapi_tel_emit(&env->rapi, RAPI_TEL_PLATFORM, "platform.report", report);
        free(report);
}

void envt_line(ExecEnv *env, bool extension, const char *line, size_t len) {
        unsigned cat = extension ? RAPI_TEL_EXTENSION : RAPI_TEL_FUNCTION;

        if (!rapi_tel_wants(&env->rapi, cat))
                return;
        char *s = xstrndup(line, len);
        cJSON *str = cJSON_CreateString(s);
        char *txt = cJSON_PrintUnformatted(str);
        rapi_tel_emit(&env->rapi, cat, extension ? "extension" : "function", txt);
        cJSON_free(txt);
        cJSON_Delete(str);
        free(s);
}
