/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control API under /_lemu/ (DESIGN "Control API"): JSON in and out, errors as
 * {"errorType","errorMessage"} with 400, 404 or 405.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "emulator.h"
#include "invoke.h"
#include "macro.h"
#include "xalloc.h"

static void reply_json(HttpConn *c, int status, cJSON *j) {
        char *s = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        http_respond(c, status, "Content-Type: application/json\r\n", s, strlen(s), false);
        cJSON_free(s);
}

static void reply_error(HttpConn *c, int status, const char *type, const char *msg) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "errorType", type);
        cJSON_AddStringToObject(j, "errorMessage", msg);
        reply_json(c, status, j);
}

static cJSON *function_json(Function *fn) {
        cJSON *o = cJSON_CreateObject();
        FunctionConfig *fc = fn->cfg;

        cJSON_AddStringToObject(o, "name", fc->name);
        cJSON_AddStringToObject(o, "arn", fn->arn);
        cJSON *cfg = cJSON_AddObjectToObject(o, "config");
        cJSON_AddNumberToObject(cfg, "memory_mb", fc->memory_mb);
        cJSON_AddNumberToObject(cfg, "timeout_s", fc->timeout_s);
        cJSON_AddNumberToObject(cfg, "init_timeout_s", fc->init_timeout_s);
        cJSON_AddNumberToObject(cfg, "ephemeral_storage_mb", fc->ephemeral_storage_mb);
        if (fc->reserved_concurrency >= 0)
                cJSON_AddNumberToObject(cfg, "reserved_concurrency",
                                        (double) fc->reserved_concurrency);
        else
                cJSON_AddNullToObject(cfg, "reserved_concurrency");
        cJSON_AddStringToObject(cfg, "code_dir", fc->code_dir);
        cJSON *en = cJSON_AddObjectToObject(o, "enforced");
        cJSON_AddBoolToObject(en, "memory", false);
        cJSON_AddBoolToObject(en, "cpu", false);
        cJSON_AddBoolToObject(en, "pids", false);
        cJSON_AddBoolToObject(en, "nofile", true);
        cJSON_AddBoolToObject(en, "freeze", false);
        cJSON_AddBoolToObject(en, "tmp", false);
        cJSON_AddBoolToObject(en, "seccomp", emu_seccomp_fd(fn->emu, fn) >= 0);
        cJSON_AddBoolToObject(en, "process_tree", true);
        cJSON *ct = cJSON_AddObjectToObject(o, "counters");
        cJSON_AddNumberToObject(ct, "invocations", (double) fn->counters.invocations);
        cJSON_AddNumberToObject(ct, "cold_starts", (double) fn->counters.cold_starts);
        cJSON_AddNumberToObject(ct, "resets", (double) fn->counters.resets);
        cJSON_AddNumberToObject(ct, "throttles", (double) fn->counters.throttles);
        cJSON_AddNumberToObject(ct, "errors", (double) fn->counters.errors);
        cJSON_AddNumberToObject(ct, "timeouts", (double) fn->counters.timeouts);
        cJSON_AddNumberToObject(ct, "findings", 0);
        return o;
}

static const char *public_state(ExecEnv *env) {
        switch (env->state) {
        case ENV_INITIALIZING:
                return "initializing";
        case ENV_BUSY:
                return "busy";
        case ENV_STOPPING:
        case ENV_SHUTTING_DOWN:
                return "shutting_down";
        default:
                return "idle";
        }
}

static cJSON *environments_json(Function *fn) {
        cJSON *o = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(o, "environments");
        ListNode *it;

        LIST_FOREACH (it, &fn->envs) {
                ExecEnv *env = container_of(it, ExecEnv, link);
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "id", env->name);
                cJSON_AddStringToObject(e, "state", public_state(env));
                if (env->proc_alive)
                        cJSON_AddNumberToObject(e, "pid", env->proc.pid);
                else
                        cJSON_AddNullToObject(e, "pid");
                cJSON_AddNumberToObject(e, "invocations", env->invocations);
                cJSON_AddNumberToObject(e, "resets", env->resets);
                cJSON_AddNumberToObject(e, "init_ms", env->init_ms);
                cJSON_AddNumberToObject(e, "max_memory_mb", env->max_memory_mb);
                cJSON_AddItemToArray(arr, e);
        }
        return o;
}

static void recycle(Function *fn) {
        ListNode *it, *tmp;

        LIST_FOREACH_SAFE(it, tmp, &fn->envs) {
                env_retire(container_of(it, ExecEnv, link));
        }
}

bool control_request(Emulator *e, HttpConn *c, HttpRequest *req) {
        char path[512];
        Slice p = req->path;

        if (p.len < 7 || memcmp(p.ptr, "/_lemu/", 7) != 0)
                return false;
        if (p.len >= sizeof(path)) {
                reply_error(c, 404, "NotFound", "no such control endpoint");
                return true;
        }
        memcpy(path, p.ptr, p.len);
        path[p.len] = '\0';
        bool get = req->method == HTTP_GET, post = req->method == HTTP_POST;

        if (strcmp(path, "/_lemu/health") == 0) {
                if (!get)
                        goto not_allowed;
                cJSON *j = cJSON_CreateObject();
                cJSON_AddStringToObject(j, "status", "ok");
                reply_json(c, 200, j);
                return true;
        }
        if (strcmp(path, "/_lemu/functions") == 0) {
                if (!get)
                        goto not_allowed;
                cJSON *j = cJSON_CreateObject();
                cJSON *arr = cJSON_AddArrayToObject(j, "functions");
                for (size_t i = 0; i < e->n_functions; i++)
                        cJSON_AddItemToArray(arr, function_json(&e->functions[i]));
                reply_json(c, 200, j);
                return true;
        }
        if (strncmp(path, "/_lemu/functions/", 17) == 0) {
                char *name = path + 17;
                char *rest = strchr(name, '/');
                if (rest)
                        *rest++ = '\0';
                Function *fn = emu_find_function(e, name);
                if (!fn) {
                        char msg[600];
                        snprintf(msg, sizeof(msg), "no function named '%s'", name);
                        reply_error(c, 404, "ResourceNotFoundException", msg);
                        return true;
                }
                if (!rest) {
                        if (!get)
                                goto not_allowed;
                        reply_json(c, 200, function_json(fn));
                        return true;
                }
                if (strcmp(rest, "environments") == 0) {
                        if (!get)
                                goto not_allowed;
                        reply_json(c, 200, environments_json(fn));
                        return true;
                }
                if (strcmp(rest, "recycle") == 0) {
                        if (!post)
                                goto not_allowed;
                        recycle(fn);
                        cJSON *j = cJSON_CreateObject();
                        cJSON_AddStringToObject(j, "status", "ok");
                        reply_json(c, 200, j);
                        return true;
                }
        }
        reply_error(c, 404, "NotFound", "no such control endpoint");
        return true;
not_allowed:
        reply_error(c, 405, "MethodNotAllowed", "method not allowed on this endpoint");
        return true;
}
