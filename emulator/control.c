/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control API under /_lemu/ (DESIGN "Control API"): JSON in and out, errors as
 * {"errorType","errorMessage"} with 400, 404 or 405.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "emulator.h"
#include "env-mi.h"
#include "invoke.h"
#include "macro.h"
#include "metrics.h"
#include "records.h"
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

/* How the sandbox isolates the function's files on this host: what `enforced` sums up. */
static void sandbox_json(cJSON *o, const Function *fn) {
        static const char *const charged[] = {
                [SBX_TMP_IMAGE] = "storage", /* ENOSPC at the cap, page cache reclaimable */
                [SBX_TMP_TMPFS] = "memory",  /* tmpfs pages count against the function */
                [SBX_TMP_DIR] = "disk",      /* the host's disk: the cap is not enforced */
        };
        const FnIsolation *iso = &fn->iso;
        cJSON *sb = cJSON_AddObjectToObject(o, "sandbox");
        cJSON *tmp = cJSON_AddObjectToObject(sb, "tmp");

        cJSON_AddStringToObject(tmp, "mode", sbx_tmp_mode_to_string(iso->tmp.mode));
        cJSON_AddNumberToObject(tmp, "cap_mb", fn->cfg->ephemeral_storage_mb);
        cJSON_AddBoolToObject(tmp, "cap_enforced", iso->tmp.mode != SBX_TMP_DIR);
        cJSON_AddStringToObject(tmp, "charged_to", charged[iso->tmp.mode]);
        cJSON_AddStringToObject(sb, "fs", iso->read_only ? "read_only" : "host");
        cJSON *user = cJSON_AddObjectToObject(sb, "user");
        cJSON_AddNumberToObject(user, "uid",
                                iso->uid != (uid_t) -1 ? (double) iso->uid : (double) geteuid());
        cJSON_AddNumberToObject(user, "gid",
                                iso->gid != (gid_t) -1 ? (double) iso->gid : (double) getegid());
        cJSON_AddBoolToObject(user, "sandbox_user", iso->uid != (uid_t) -1);
}

/* How memory, CPU, pids and freezing are held on this host; "off" where they are not. A
 * cgroup that could not be made for one environment is said in the log, not here. */
static const char *memory_how(const Function *fn) {
        const Emulator *e = fn->emu;

        if (strcmp(fn->cfg->sandbox.memory, "enforce") != 0)
                return "off";
        if (e->cg.memory)
                return e->cg.version == CG_V2 ? "cgroup-v2" : "cgroup-v1";
        return e->watchdog_on ? "watchdog" : "off";
}

static const char *controller_how(const Function *fn, const char *dir, bool wanted) {
        if (!wanted || !dir)
                return "off";
        return fn->emu->cg.version == CG_V2 ? "cgroup-v2" : "cgroup-v1";
}

static const char *freeze_how(const Function *fn) {
        if (!fn->cfg->lifecycle.freeze)
                return "off";
        return fn->emu->cg.unified ? "cgroup" : "signals";
}

static const char *rapi_isolation_how(const Function *fn) {
        if (strcmp(fn->cfg->sandbox.network, "none") == 0)
                return "namespace"; /* only the environment's namespace reaches its listener */
        return fn->emu->rapi_isolation_unknown ? "off" : "peer-check";
}

/* `enforced`: true only for a hard limit. The RSS watchdog kills after the fact (up to 50 ms
 * late), so memory held by it is not; `sandbox` says which mechanism holds each. */
static void limits_enforced(cJSON *en, const Function *fn) {
        const Emulator *e = fn->emu;

        cJSON_AddBoolToObject(en, "memory", strncmp(memory_how(fn), "cgroup", 6) == 0);
        cJSON_AddBoolToObject(
                en, "cpu",
                strcmp(controller_how(fn, e->cg.cpu,
                                      strcmp(fn->cfg->sandbox.cpu, "proportional") == 0),
                       "off") != 0);
        cJSON_AddBoolToObject(en, "pids", e->cg.pids != NULL);
        cJSON_AddBoolToObject(en, "nofile", true);
        cJSON_AddBoolToObject(en, "freeze", fn->cfg->lifecycle.freeze);
        cJSON_AddBoolToObject(en, "runtime_api_isolation",
                              strcmp(rapi_isolation_how(fn), "off") != 0);
}

static void limits_json(cJSON *sb, const Function *fn) {
        const Emulator *e = fn->emu;

        cJSON_AddStringToObject(sb, "memory", memory_how(fn));
        cJSON_AddStringToObject(
                sb, "cpu",
                controller_how(fn, e->cg.cpu, strcmp(fn->cfg->sandbox.cpu, "proportional") == 0));
        cJSON_AddStringToObject(sb, "pids", controller_how(fn, e->cg.pids, true));
        cJSON_AddNumberToObject(sb, "pids_max", fn->cfg->sandbox.pids);
        cJSON_AddNumberToObject(sb, "nofile", fn->nofile);
        cJSON_AddStringToObject(sb, "freeze", freeze_how(fn));
        cJSON_AddStringToObject(sb, "network", fn->cfg->sandbox.network);
        cJSON_AddStringToObject(sb, "runtime_api_isolation", rapi_isolation_how(fn));
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
        if (fc->http.path) {
                cJSON *h = cJSON_AddObjectToObject(cfg, "http");
                cJSON_AddStringToObject(h, "path", fc->http.path);
                cJSON_AddStringToObject(h, "event", fc->http.event);
                cJSON_AddStringToObject(h, "method", fc->http.method);
                cJSON_AddBoolToObject(h, "stream", fc->http.stream);
        }
        cJSON *en = cJSON_AddObjectToObject(o, "enforced");
        limits_enforced(en, fn);
        bool tmp_cap, fs_ro, non_root;
        iso_enforced(fn, &tmp_cap, &fs_ro, &non_root);
        cJSON_AddBoolToObject(en, "tmp", tmp_cap);
        cJSON_AddBoolToObject(en, "fs", fs_ro);
        cJSON_AddBoolToObject(en, "user", non_root);
        cJSON_AddBoolToObject(en, "seccomp", emu_seccomp_fd(fn->emu, fn) >= 0);
        cJSON_AddBoolToObject(en, "process_tree", true);
        sandbox_json(o, fn);
        limits_json(cJSON_GetObjectItemCaseSensitive(o, "sandbox"), fn);
        cJSON *ct = cJSON_AddObjectToObject(o, "counters");
        cJSON_AddNumberToObject(ct, "invocations", (double) fn->counters.invocations);
        cJSON_AddNumberToObject(ct, "cold_starts", (double) fn->counters.cold_starts);
        cJSON_AddNumberToObject(ct, "resets", (double) fn->counters.resets);
        cJSON_AddNumberToObject(ct, "throttles", (double) fn->counters.throttles);
        cJSON_AddNumberToObject(ct, "errors", (double) fn->counters.errors);
        cJSON_AddNumberToObject(ct, "timeouts", (double) fn->counters.timeouts);
        cJSON_AddNumberToObject(ct, "findings", (double) fn->counters.findings);
        return o;
}

static cJSON *environments_json(Function *fn) {
        cJSON *o = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(o, "environments");
        ListNode *it;

        LIST_FOREACH (it, &fn->envs) {
                ExecEnv *env = container_of(it, ExecEnv, link);
                if (env->spare)
                        continue; /* set up ahead, not serving yet */
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "id", env->name);
                cJSON_AddStringToObject(e, "state", env_public_state(env));
                if (env->proc_alive)
                        cJSON_AddNumberToObject(e, "pid", env->proc.pid);
                else
                        cJSON_AddNullToObject(e, "pid");
                cJSON_AddNumberToObject(e, "invocations", env->invocations);
                cJSON_AddNumberToObject(e, "resets", env->resets);
                cJSON_AddNumberToObject(e, "init_ms", env->init_ms);
                cJSON_AddNumberToObject(e, "max_memory_mb", env->max_memory_mb);
                cJSON_AddBoolToObject(e, "init_waiting", env_init_waiting(env));
                if (env_mi(env)) {
                        /* Managed Instances mode: what the environment holds now. */
                        cJSON_AddNumberToObject(e, "running", env->n_running + env->n_pending);
                        cJSON_AddNumberToObject(e, "workers_waiting", rapi_n_waiting(&env->rapi));
                        cJSON_AddNumberToObject(e, "timed_out_running", env->mi_late);
                }
                cJSON_AddItemToArray(arr, e);
        }
        return o;
}

static void recycle(Function *fn) {
        ListNode *it, *tmp;

        LIST_FOREACH_SAFE(it, tmp, &fn->envs) {
                ExecEnv *env = container_of(it, ExecEnv, link);
                /* The prepared spare has served nothing: it stays, fresh, for the next start. */
                if (!env->spare)
                        env_retire(env);
        }
}

/* ---- /_lemu/invocations ------------------------------------------------------------------ */

#define RECORDS_PAGE 1000

/* The value of query parameter @name, URL-decoded into @out. */
static bool query_param(const HttpRequest *req, const char *name, char *out, size_t n) {
        size_t nl = strlen(name);
        const char *q = req->query.ptr, *end = req->query.ptr + req->query.len;

        while (q < end) {
                const char *amp = memchr(q, '&', (size_t) (end - q));
                size_t l = amp ? (size_t) (amp - q) : (size_t) (end - q);
                if (l > nl && q[nl] == '=' && memcmp(q, name, nl) == 0)
                        return url_decode(q + nl + 1, l - nl - 1, out, n) == 0;
                q += l + 1;
        }
        return false;
}

static void list_invocations(Emulator *e, HttpConn *c, HttpRequest *req) {
        char fn[160] = "", since_text[32] = "0";
        Records *r = &e->records;

        query_param(req, "function", fn, sizeof(fn));
        query_param(req, "since", since_text, sizeof(since_text));
        char *end;
        errno = 0;
        unsigned long long since = strtoull(since_text, &end, 10);
        /* strtoull() takes a sign and wraps it around: a sequence number is digits only. */
        if (*end || !*since_text || since_text[0] < '0' || since_text[0] > '9' || errno) {
                reply_error(c, 400, "InvalidParameterValueException",
                            "since: not a sequence number");
                return;
        }
        uint64_t oldest = records_oldest(r);
        uint64_t dropped = oldest > since + 1 ? oldest - since - 1 : 0;
        uint64_t seq = since + 1 > oldest ? since + 1 : oldest;
        uint64_t next = since;
        unsigned n = 0;
        Buf b = BUF_INIT;
        buf_puts(&b, "{\"invocations\":[");
        for (; seq < r->next_seq && n < RECORDS_PAGE; seq++) {
                const Record *rec = records_get(r, seq);
                next = seq;
                if (!rec || (fn[0] && strcmp(rec->function, fn) != 0))
                        continue;
                if (n++)
                        buf_puts(&b, ",");
                records_json(rec, &b, false);
        }
        if (seq >= r->next_seq && r->next_seq > 1)
                next = r->next_seq - 1 > since ? r->next_seq - 1 : since;
        buf_printf(&b, "],\"next_since\":%llu,\"dropped\":%llu}", (unsigned long long) next,
                   (unsigned long long) dropped);
        size_t len;
        char *body = buf_steal(&b, &len);
        http_respond(c, 200, "Content-Type: application/json\r\n", body, len, true);
}

static void get_invocation(Emulator *e, HttpConn *c, const char *id) {
        const Record *rec = records_find(&e->records, id);

        if (!rec) {
                char msg[160];
                snprintf(msg, sizeof(msg), "no invocation record for request id '%.64s'", id);
                reply_error(c, 404, "ResourceNotFoundException", msg);
                return;
        }
        Buf b = BUF_INIT;
        records_json(rec, &b, true);
        size_t len;
        char *body = buf_steal(&b, &len);
        http_respond(c, 200, "Content-Type: application/json\r\n", body, len, true);
}

/* ---- /_lemu/wait-idle ------------------------------------------------------------------- */

typedef struct IdleWaiter {
        ListNode link;
        Emulator *emu;
        HttpConn *conn;
        uv_timer_t timer;
} IdleWaiter;

static void waiter_freed(uv_handle_t *h) {
        free(h->data);
}

static void waiter_done(IdleWaiter *w) {
        list_unlink(&w->link);
        if (w->conn) {
                w->conn->owner_closed = NULL;
                w->conn->data = NULL;
        }
        uv_close((uv_handle_t *) &w->timer, waiter_freed);
}

static void waiter_conn_closed(HttpConn *c) {
        IdleWaiter *w = c->data;

        w->conn = NULL;
        waiter_done(w);
}

static void busy_counts(Emulator *e, Buf *b) {
        unsigned queued = 0, retrying = 0;

        for (size_t i = 0; i < e->n_functions; i++) {
                ListNode *it;
                queued += e->functions[i].n_queued;
                LIST_FOREACH (it, &e->functions[i].retrying) {
                        retrying++;
                }
        }
        buf_printf(b, "\"in_flight\":%u,\"queued\":%u,\"retrying\":%u,\"shadow\":%u", e->inflight,
                   queued, retrying, e->shadows);
}

static void waiter_timeout(uv_timer_t *t) {
        IdleWaiter *w = t->data;
        Buf b = BUF_INIT;

        buf_puts(&b, "{\"errorType\":\"Timeout\",\"errorMessage\":\"still busy at the deadline\",");
        busy_counts(w->emu, &b);
        buf_puts(&b, "}");
        HttpConn *c = w->conn;
        waiter_done(w);
        if (c) {
                size_t len;
                char *body = buf_steal(&b, &len);
                http_respond(c, 408, "Content-Type: application/json\r\n", body, len, true);
        }
        buf_free(&b);
}

void emu_check_idle(Emulator *e) {
        ListNode *it, *tmp;

        if (list_empty(&e->idle_waiters) || !emu_idle(e))
                return;
        LIST_FOREACH_SAFE(it, tmp, &e->idle_waiters) {
                IdleWaiter *w = container_of(it, IdleWaiter, link);
                HttpConn *c = w->conn;
                waiter_done(w);
                if (c)
                        http_respond(c, 200, "Content-Type: application/json\r\n",
                                     "{\"status\":\"idle\"}", 17, false);
        }
}

static void wait_idle(Emulator *e, HttpConn *c, HttpRequest *req) {
        char t[32] = "30";
        char *end;

        query_param(req, "timeout_s", t, sizeof(t));
        double secs = strtod(t, &end);
        if (*end || !(secs >= 0) || secs > 86400) {
                reply_error(c, 400, "InvalidParameterValueException",
                            "timeout_s: a number of seconds from 0 to 86400");
                return;
        }
        if (emu_idle(e)) {
                http_respond(c, 200, "Content-Type: application/json\r\n", "{\"status\":\"idle\"}",
                             17, false);
                return;
        }
        IdleWaiter *w = xcalloc(1, sizeof(*w));
        w->emu = e;
        w->conn = c;
        c->data = w;
        c->owner_closed = waiter_conn_closed;
        uv_timer_init(e->loop, &w->timer);
        w->timer.data = w;
        uv_timer_start(&w->timer, waiter_timeout, (uint64_t) (secs * 1000), 0);
        list_push_back(&e->idle_waiters, &w->link);
}

/* ---- faults --------------------------------------------------------------------------- */

static void reply_buf(HttpConn *c, int status, Buf *b) {
        size_t len;
        char *body = buf_steal(b, &len);
        http_respond(c, status, "Content-Type: application/json\r\n", body, len, true);
}

/* GET, POST /_lemu/functions/{fn}/faults; DELETE …/faults and …/faults/{id}. */
static void faults_request(Function *fn, HttpConn *c, HttpRequest *req, const char *id) {
        FaultTable *t = &fn->faults;
        Buf b = BUF_INIT;
        char err[600];
        Fault *f;

        if (req->method == HTTP_DELETE) {
                if (id && fault_table_remove(t, id) < 0) {
                        char msg[160];
                        snprintf(msg, sizeof(msg), "no fault with id '%.64s'", id);
                        reply_error(c, 404, "ResourceNotFoundException", msg);
                        return;
                }
                buf_printf(&b, "{\"cleared\":%zu}", id ? (size_t) 1 : fault_table_clear(t));
                reply_buf(c, 200, &b);
                return;
        }
        if (id) {
                reply_error(c, 405, "MethodNotAllowed", "method not allowed on this endpoint");
                return;
        }
        if (req->method == HTTP_GET) {
                fault_table_json(t, &b);
                reply_buf(c, 200, &b);
                return;
        }
        if (req->method != HTTP_POST) {
                reply_error(c, 405, "MethodNotAllowed", "method not allowed on this endpoint");
                return;
        }
        if (fault_parse(req->body.data ? req->body.data : "", req->body.len, &f, err, sizeof(err)) <
            0) {
                reply_error(c, 400, "InvalidParameterValueException", err);
                return;
        }
        if (fault_table_add(t, f, err, sizeof(err)) < 0) {
                reply_error(c, 400, "InvalidParameterValueException", err);
                return;
        }
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "id", f->id);
        reply_json(c, 201, j);
}

/* ---- lifecycle and metrics ---------------------------------------------------------- */

static void put_lifecycle(Emulator *e, Function *fn, HttpConn *c, HttpRequest *req) {
        CfgError err = { 0 };
        char msg[1024];

        if (cfg_merge_lifecycle(e->cfg, fn->cfg, req->body.data ? req->body.data : "",
                                req->body.len, &err) < 0) {
                cfg_format_error(&err, msg, sizeof(msg));
                reply_error(c, 400, "InvalidParameterValueException", msg);
                return;
        }
        char *dump = cfg_dump_function(fn->cfg);
        cJSON *all = cJSON_Parse(dump);
        free(dump);
        cJSON *lc = all ? cJSON_DetachItemFromObjectCaseSensitive(all, "lifecycle") : NULL;
        cJSON_Delete(all);
        cJSON *out = cJSON_CreateObject();
        cJSON_AddItemToObject(out, "lifecycle", lc ? lc : cJSON_CreateObject());
        reply_json(c, 200, out);
}

static void get_metrics(Emulator *e, HttpConn *c) {
        Buf b = BUF_INIT;

        metrics_render(e, &b);
        size_t len;
        char *body = buf_steal(&b, &len);
        http_respond(c, 200, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n", body,
                     len, true);
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
        if (strcmp(path, "/_lemu/metrics") == 0) {
                if (!get)
                        goto not_allowed;
                get_metrics(e, c);
                return true;
        }
        if (strcmp(path, "/_lemu/wait-idle") == 0) {
                if (!post)
                        goto not_allowed;
                wait_idle(e, c, req);
                return true;
        }
        if (strcmp(path, "/_lemu/invocations") == 0) {
                if (!get)
                        goto not_allowed;
                list_invocations(e, c, req);
                return true;
        }
        if (strncmp(path, "/_lemu/invocations/", 19) == 0 && path[19]) {
                if (!get)
                        goto not_allowed;
                get_invocation(e, c, path + 19);
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
                if (strcmp(rest, "lifecycle") == 0) {
                        if (req->method != HTTP_PUT)
                                goto not_allowed;
                        put_lifecycle(e, fn, c, req);
                        return true;
                }
                if (strcmp(rest, "faults") == 0 || strncmp(rest, "faults/", 7) == 0) {
                        faults_request(fn, c, req, rest[6] && rest[7] ? rest + 7 : NULL);
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
