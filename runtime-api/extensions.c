/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Extensions API (spec §5.1): register, event/next, init/error, exit/error, with RAPID's
 * answers to misuse (403 and an Extension.* error type). External extensions are the
 * executables the environment started (known by file name); any other name registers an
 * internal one (INVOKE only), until the runtime finishes its init. An extension is "ready"
 * while it waits in event/next with nothing undelivered: init ends, and an invocation is
 * complete, only when the runtime and every extension are ready (rapi.c asks).
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "codec.h"
#include "macro.h"
#include "rapi.h"

#define EXT_PREFIX "/2020-01-01/extension/"

static const char json_ct[] = "Content-Type: application/json\r\n";

void rapi__respond_error(HttpConn *c, int status, const char *type, const char *msg) {
        cJSON *o = cJSON_CreateObject();

        cJSON_AddStringToObject(o, "errorMessage", msg);
        cJSON_AddStringToObject(o, "errorType", type);
        char *s = cJSON_PrintUnformatted(o);
        size_t n = strlen(s);
        http_respond(c, status, json_ct, s, n, false);
        cJSON_free(s);
        cJSON_Delete(o);
}

cJSON *rapi__parse_json(const Buf *body) {
        const char *end = NULL;

        if (!body->len)
                return NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(body->data, body->len, &end, false);
        /* Nothing but white space may follow (cJSON would ignore it). */
        for (const char *p = end; j && p && p < body->data + body->len; p++) {
                if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
                        cJSON_Delete(j);
                        return NULL;
                }
        }
        return j;
}

static void forbidden(HttpConn *c, const char *type, const char *msg) {
        rapi__respond_error(c, 403, type, msg);
}

static const char *state_name(RapiExtState s) {
        static const char *const names[] = {
                [RAPI_EXT_REGISTERED] = "Registered", [RAPI_EXT_READY] = "Ready",
                [RAPI_EXT_RUNNING] = "Running",       [RAPI_EXT_SHUTDOWN] = "ShutdownReceived",
                [RAPI_EXT_ERROR] = "Error",
        };
        return s >= 0 && s < _RAPI_EXT_STATE_MAX ? names[s] : "Unknown";
}

void rapi_ext_setup(Rapi *r, const char *const *names, unsigned n, const RapiFunctionInfo *info) {
        r->ext.external = names;
        r->ext.n_external = n;
        r->ext.info = *info;
}

unsigned rapi_ext_count(const Rapi *r, bool external_only) {
        unsigned n = 0;

        for (unsigned i = 0; i < r->ext.n; i++)
                if (!external_only || r->ext.ext[i].external >= 0)
                        n++;
        return n;
}

const char *rapi_ext_external_name(const Rapi *r, int index) {
        return index >= 0 && (unsigned) index < r->ext.n_external ? r->ext.external[index] : "?";
}

static bool is_ready(const RapiExt *x) {
        /* One that gave up (init/exit error) holds nothing up: it is on its way out. */
        return (x->state == RAPI_EXT_READY && !x->has_pending) || x->state == RAPI_EXT_ERROR;
}

bool rapi__ext_all_ready(const Rapi *r) {
        for (unsigned i = 0; i < r->ext.n; i++)
                if (!is_ready(&r->ext.ext[i]))
                        return false;
        return true;
}

static void render(HttpConn *c, const Buf *event) {
        Buf h = BUF_INIT;
        char id[37];

        uuid_random(id);
        http_add_header(&h, "Lambda-Extension-Event-Identifier", "%s", id);
        buf_puts(&h, json_ct);
        http_respond(c, 200, h.data, event->data, event->len, false);
        buf_free(&h);
}

/* Hands @event to @x now if it waits, else at its next event/next. */
static void send_event(RapiExt *x, const Buf *event, RapiExtState next) {
        x->state = next;
        if (x->waiting) {
                HttpConn *c = x->waiting;
                x->waiting = NULL;
                render(c, event);
                return;
        }
        buf_reset(&x->pending);
        buf_append(&x->pending, event->data, event->len);
        x->has_pending = true;
}

static void event_json(Buf *out, cJSON *o) {
        char *s = cJSON_PrintUnformatted(o);

        buf_reset(out);
        buf_puts(out, s);
        cJSON_free(s);
        cJSON_Delete(o);
}

void rapi__ext_invoke(Rapi *r, const RapiEvent *ev) {
        Buf body = BUF_INIT;
        bool any = false;

        for (unsigned i = 0; i < r->ext.n; i++)
                any = any || (r->ext.ext[i].on_invoke && r->ext.ext[i].state != RAPI_EXT_ERROR);
        if (!any)
                return;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "eventType", "INVOKE");
        cJSON_AddNumberToObject(o, "deadlineMs", (double) ev->deadline_ms);
        cJSON_AddStringToObject(o, "requestId", ev->request_id);
        cJSON_AddStringToObject(o, "invokedFunctionArn", ev->function_arn);
        if (ev->trace_id && *ev->trace_id) {
                cJSON *t = cJSON_AddObjectToObject(o, "tracing");
                cJSON_AddStringToObject(t, "type", "X-Amzn-Trace-Id");
                cJSON_AddStringToObject(t, "value", ev->trace_id);
        }
        event_json(&body, o);
        for (unsigned i = 0; i < r->ext.n; i++) {
                RapiExt *x = &r->ext.ext[i];
                if (x->on_invoke && x->state != RAPI_EXT_ERROR)
                        send_event(x, &body, RAPI_EXT_RUNNING);
        }
        buf_free(&body);
}

unsigned rapi_ext_shutdown(Rapi *r, const char *reason, int64_t deadline_ms) {
        Buf body = BUF_INIT;
        unsigned n = 0;

        r->ext.shutting_down = true;
        r->ext.closed = true;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "eventType", "SHUTDOWN");
        cJSON_AddStringToObject(o, "shutdownReason", reason);
        cJSON_AddNumberToObject(o, "deadlineMs", (double) deadline_ms);
        event_json(&body, o);
        for (unsigned i = 0; i < r->ext.n; i++) {
                RapiExt *x = &r->ext.ext[i];
                if (x->on_shutdown && x->state != RAPI_EXT_ERROR) {
                        send_event(x, &body, RAPI_EXT_SHUTDOWN);
                        n++;
                }
        }
        buf_free(&body);
        rapi_tel_flush(r); /* what is buffered goes now, within the extensions' budget */
        return n;
}

bool rapi_ext_exited(Rapi *r, int index, bool settle) {
        for (unsigned i = 0; i < r->ext.n; i++) {
                RapiExt *x = &r->ext.ext[i];
                if (x->external != index)
                        continue;
                if (x->waiting)
                        http_conn_close(x->waiting);
                x->waiting = NULL;
                x->state = RAPI_EXT_ERROR;
                x->has_pending = false;
                if (settle)
                        rapi__maybe_ready(r);
                return true;
        }
        return false;
}

void rapi__ext_reset(Rapi *r) {
        for (unsigned i = 0; i < r->ext.n; i++)
                buf_free(&r->ext.ext[i].pending);
        memset(r->ext.ext, 0, sizeof(r->ext.ext));
        r->ext.n = 0;
        r->ext.n_external_registered = 0;
        r->ext.closed = r->ext.shutting_down = r->ext.init_done = false;
}

void rapi__ext_conn_closed(Rapi *r, HttpConn *c) {
        for (unsigned i = 0; i < r->ext.n; i++)
                if (r->ext.ext[i].waiting == c)
                        r->ext.ext[i].waiting = NULL;
}

static bool is_uuid(Slice s) {
        if (s.len != 36)
                return false;
        for (size_t i = 0; i < 36; i++) {
                char ch = s.ptr[i];
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                           (ch >= 'A' && ch <= 'F');
                if (dash ? ch != '-' : !hex)
                        return false;
        }
        return true;
}

RapiExt *rapi__ext_identify(Rapi *r, HttpConn *c, HttpRequest *req) {
        Slice id;
        char msg[128];

        if (!http_header(req, "Lambda-Extension-Identifier", &id) || id.len == 0) {
                forbidden(c, "Extension.MissingExtensionIdentifier",
                          "Missing Lambda-Extension-Identifier header");
                return NULL;
        }
        if (!is_uuid(id)) {
                forbidden(c, "Extension.InvalidExtensionIdentifier",
                          "Invalid Lambda-Extension-Identifier");
                return NULL;
        }
        for (unsigned i = 0; i < r->ext.n; i++)
                if (strncasecmp(r->ext.ext[i].id, id.ptr, 36) == 0)
                        return &r->ext.ext[i];
        snprintf(msg, sizeof(msg), "Unknown extension %.36s", id.ptr);
        forbidden(c, "Extension.UnknownExtensionIdentifier", msg);
        return NULL;
}

/* ---- register ----------------------------------------------------------------------- */

/* Parses {"events": [...]} into @x's subscriptions; answers and returns false on error. */
static bool parse_events(HttpConn *c, HttpRequest *req, bool internal, RapiExt *x) {
        char msg[256];
        cJSON *j = rapi__parse_json(&req->body);
        bool ok = false;

        if (!j || !cJSON_IsObject(j)) {
                forbidden(c, "InvalidRequestFormat", "The request body is not a JSON object");
                goto out;
        }
        cJSON *keys = cJSON_GetObjectItemCaseSensitive(j, "configurationKeys");
        if (keys && cJSON_GetArraySize(keys) > 0) {
                forbidden(c, "InvalidRequestFormat",
                          "configurationKeys are deprecated; use environment variables instead");
                goto out;
        }
        cJSON *events = cJSON_GetObjectItemCaseSensitive(j, "events");
        if (events && !cJSON_IsNull(events) && !cJSON_IsArray(events)) {
                forbidden(c, "InvalidRequestFormat", "events must be an array of strings");
                goto out;
        }
        cJSON *e;
        cJSON_ArrayForEach (e, events) {
                const char *name = cJSON_GetStringValue(e);
                if (name && strcmp(name, "INVOKE") == 0) {
                        x->on_invoke = true;
                } else if (name && strcmp(name, "SHUTDOWN") == 0 && !internal) {
                        x->on_shutdown = true;
                } else {
                        snprintf(msg, sizeof(msg), "%s: %s", name ? name : "(not a string)",
                                 name && strcmp(name, "SHUTDOWN") == 0
                                         ? "internal extensions cannot subscribe to SHUTDOWN"
                                         : "unknown event type");
                        forbidden(c, "Extension.InvalidEventType", msg);
                        goto out;
                }
        }
        ok = true;
out:
        cJSON_Delete(j);
        return ok;
}

static void handle_register(Rapi *r, HttpConn *c, HttpRequest *req) {
        RapiExtensions *e = &r->ext;
        Slice name, feat;
        char nm[128], msg[256];
        int external = -1;

        if (!http_header(req, "Lambda-Extension-Name", &name) || name.len == 0) {
                forbidden(c, "Extension.InvalidExtensionName", "Empty extension name");
                return;
        }
        if (name.len >= sizeof(nm)) {
                forbidden(c, "Extension.InvalidExtensionName", "Extension name too long");
                return;
        }
        memcpy(nm, name.ptr, name.len);
        nm[name.len] = '\0';
        for (unsigned i = 0; i < e->n_external; i++)
                if (strcmp(e->external[i], nm) == 0)
                        external = (int) i;
        RapiExt x = { .external = external, .subscription = -1 };
        if (!parse_events(c, req, external < 0, &x))
                return;
        for (unsigned i = 0; i < e->n; i++) {
                if (strcmp(e->ext[i].name, nm) != 0)
                        continue;
                snprintf(msg, sizeof(msg),
                         "State transition from %s to Registered failed for extension %s. "
                         "Error: Extension with this name already registered",
                         state_name(e->ext[i].state), nm);
                forbidden(c, "Extension.InvalidExtensionState", msg);
                return;
        }
        if (e->closed || (external >= 0 && e->shutting_down)) {
                forbidden(c, "Extension.RegistrationClosed",
                          "Extension registration closed already");
                return;
        }
        if (e->n >= RAPI_EXT_MAX) {
                snprintf(msg, sizeof(msg), "Extension limit (%d) reached", RAPI_EXT_MAX);
                forbidden(c, "Extension.TooManyExtensions", msg);
                return;
        }
        snprintf(x.name, sizeof(x.name), "%s", nm);
        uuid_random(x.id);
        x.state = RAPI_EXT_REGISTERED;
        e->ext[e->n++] = x;

        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "functionName", e->info.function_name);
        cJSON_AddStringToObject(o, "functionVersion", e->info.function_version);
        cJSON_AddStringToObject(o, "handler", e->info.handler);
        if (http_header(req, "Lambda-Extension-Accept-Feature", &feat) &&
            memmem(feat.ptr, feat.len, "accountId", 9))
                cJSON_AddStringToObject(o, "accountId", e->info.account_id);
        char *body = cJSON_PrintUnformatted(o);
        Buf h = BUF_INIT;
        http_add_header(&h, "Lambda-Extension-Identifier", "%s", x.id);
        buf_puts(&h, json_ct);
        http_respond(c, 200, h.data, body, strlen(body), false);
        buf_free(&h);
        cJSON_free(body);
        cJSON_Delete(o);
        if (external >= 0 && ++e->n_external_registered == e->n_external && r->ops->ext_registered)
                r->ops->ext_registered(r);
}

/* ---- event/next, init/error, exit/error --------------------------------------------- */

static void handle_next(Rapi *r, HttpConn *c, HttpRequest *req) {
        RapiExt *x = rapi__ext_identify(r, c, req);
        char msg[256];

        if (!x)
                return;
        if (x->state == RAPI_EXT_ERROR || (x->waiting && x->waiting != c)) {
                snprintf(msg, sizeof(msg),
                         "State transition from %s to Ready failed for extension %s. Error: %s",
                         state_name(x->state), x->id,
                         x->state == RAPI_EXT_ERROR ? "the extension reported an error"
                                                    : "it is waiting for an event already");
                forbidden(c, "Extension.InvalidExtensionState", msg);
                return;
        }
        if (x->has_pending) {
                x->has_pending = false;
                render(c, &x->pending);
                buf_reset(&x->pending);
                return;
        }
        x->waiting = c;
        if (x->state == RAPI_EXT_SHUTDOWN)
                return; /* nothing follows SHUTDOWN: it waits until its processes end */
        x->state = RAPI_EXT_READY;
        rapi__maybe_ready(r);
}

static void handle_error(Rapi *r, HttpConn *c, HttpRequest *req, bool init) {
        RapiExt *x = rapi__ext_identify(r, c, req);
        Slice type;
        char msg[256], ty[128];

        if (!x)
                return;
        if (!http_header(req, "Lambda-Extension-Function-Error-Type", &type) || type.len == 0) {
                forbidden(c, "Extension.MissingHeader",
                          "Missing Lambda-Extension-Function-Error-Type header");
                return;
        }
        if (x->state == RAPI_EXT_ERROR || (init && r->ext.init_done)) {
                snprintf(msg, sizeof(msg),
                         "State transition from %s to %s failed for extension %s. Error: %s",
                         state_name(x->state), init ? "InitError" : "ExitError", x->id,
                         x->state == RAPI_EXT_ERROR ? "an error was reported already"
                                                    : "init is over");
                forbidden(c, "Extension.InvalidExtensionState", msg);
                return;
        }
        snprintf(ty, sizeof(ty), "%.*s", (int) MIN(type.len, sizeof(ty) - 1), type.ptr);
        x->state = RAPI_EXT_ERROR;
        x->has_pending = false;
        if (x->waiting && x->waiting != c)
                http_conn_close(x->waiting);
        x->waiting = NULL;
        http_respond(c, 202, json_ct, "{\"status\":\"OK\"}\n", 16, false);
        if (r->ops->ext_error)
                r->ops->ext_error(r, x->name, ty, init);
        rapi__maybe_ready(r);
}

bool rapi__ext_route(Rapi *r, HttpConn *c, HttpRequest *req) {
        Slice p = req->path;
        size_t pl = strlen(EXT_PREFIX);
        bool get = req->method == HTTP_GET, post = req->method == HTTP_POST;

        if (p.len < pl || memcmp(p.ptr, EXT_PREFIX, pl) != 0)
                return false;
        Slice rest = { p.ptr + pl, p.len - pl };
        if (slice_eq(rest, "register") && post)
                handle_register(r, c, req);
        else if (slice_eq(rest, "event/next") && get)
                handle_next(r, c, req);
        else if (slice_eq(rest, "init/error") && post)
                handle_error(r, c, req, true);
        else if (slice_eq(rest, "exit/error") && post)
                handle_error(r, c, req, false);
        else if (slice_eq(rest, "register") || slice_eq(rest, "event/next") ||
                 slice_eq(rest, "init/error") || slice_eq(rest, "exit/error"))
                rapi__respond_error(c, 405, "MethodNotAllowed", "Method not allowed");
        else
                rapi__respond_error(c, 404, "InvalidRequest", "Unknown endpoint");
        return true;
}
