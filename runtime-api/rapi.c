/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Runtime API server of one environment: routing, the runtime state machine of spec §1.9,
 * and every answer of spec §1.8. The request id is validated before any transition, as
 * RAPID does, because transitions cannot be undone.
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <uv.h>

#include "codec.h"
#include "macro.h"
#include "rapi.h"
#include "xalloc.h"

#define PREFIX "/2018-06-01"

static const char json_ct[] = "Content-Type: application/json\r\n";

const char *rapi_state_name(RapiState s) {
        static const char *const names[] = {
                [RAPI_STARTED] = "Started",      [RAPI_READY] = "Ready",
                [RAPI_RUNNING] = "Running",      [RAPI_RESPONDED] = "RuntimeResponseSentState",
                [RAPI_INIT_ERROR] = "InitError",
        };
        return s >= 0 && s < _RAPI_STATE_MAX ? names[s] : "Unknown";
}

static bool is_upper(char c) {
        return c >= 'A' && c <= 'Z';
}
static bool is_alpha(char c) {
        return (c >= 'a' && c <= 'z') || is_upper(c);
}

/* (Runtime|Function)\.[A-Z][a-zA-Z]+ kept; Function.* → Function.Unknown; else Runtime.Unknown. */
void rapi_sanitize_error_type(Slice in, char *out, size_t n) {
        const char *p = in.ptr;
        size_t len = in.len;
        size_t pre = 0;

        if (len >= 9 && memcmp(p, "Function.", 9) == 0)
                pre = 9;
        else if (len > 8 && memcmp(p, "Runtime.", 8) == 0)
                pre = 8;
        if (pre && len - pre >= 2 && len < n && is_upper(p[pre])) {
                bool ok = true;
                for (size_t i = pre + 1; i < len; i++)
                        ok = ok && is_alpha(p[i]);
                if (ok) {
                        memcpy(out, p, len);
                        out[len] = '\0';
                        return;
                }
        }
        snprintf(out, n, "%s", pre == 9 ? "Function.Unknown" : "Runtime.Unknown");
}

static void respond_json(HttpConn *c, int status, const char *body) {
        http_respond(c, status, json_ct, (char *) body, strlen(body), false);
}

static void respond_error(HttpConn *c, int status, const char *type, const char *msg) {
        char body[512];
        int n = snprintf(body, sizeof(body), "{\"errorMessage\":\"%s\",\"errorType\":\"%s\"}\n",
                         msg, type);
        http_respond(c, status, json_ct, body, (size_t) n, false);
}

static void respond_accepted(HttpConn *c) {
        respond_json(c, 202, "{\"status\":\"OK\"}\n");
}

static void respond_transition(HttpConn *c, RapiState from, const char *to) {
        char msg[256];

        snprintf(msg, sizeof(msg),
                 "State transition from %s to %s failed for runtime. Error: State transition is "
                 "not allowed",
                 rapi_state_name(from), to);
        respond_error(c, 403, "InvalidStateTransition", msg);
}

static void render_event(HttpConn *c, const RapiEvent *ev) {
        Buf h = BUF_INIT;

        http_add_header(&h, "Lambda-Runtime-Aws-Request-Id", "%s", ev->request_id);
        http_add_header(&h, "Lambda-Runtime-Deadline-Ms", "%lld", (long long) ev->deadline_ms);
        http_add_header(&h, "Lambda-Runtime-Invoked-Function-Arn", "%s", ev->function_arn);
        if (ev->trace_id && *ev->trace_id)
                http_add_header(&h, "Lambda-Runtime-Trace-Id", "%s", ev->trace_id);
        if (ev->client_context)
                http_add_header(&h, "Lambda-Runtime-Client-Context", "%s", ev->client_context);
        if (ev->cognito_identity)
                http_add_header(&h, "Lambda-Runtime-Cognito-Identity", "%s", ev->cognito_identity);
        if (ev->invocation_id)
                http_add_header(&h, "Lambda-Runtime-Invocation-Id", "%s", ev->invocation_id);
        buf_puts(&h, json_ct);
        http_respond(c, 200, h.data, (char *) ev->payload.ptr, ev->payload.len, false);
        buf_free(&h);
}

/* ---- handlers ------------------------------------------------------------------------- */

static bool mi(const Rapi *r) {
        return r->max_concurrency > 1;
}

static void remove_waiter(Rapi *r, HttpConn *c) {
        for (unsigned i = 0; i < r->n_waiters; i++) {
                if (r->waiters[i] == c) {
                        memmove(&r->waiters[i], &r->waiters[i + 1],
                                (r->n_waiters - i - 1) * sizeof(*r->waiters));
                        r->n_waiters--;
                        return;
                }
        }
}

/* Managed Instances mode: every /next parks until an event comes; init ends at the first. */
static void handle_next_mi(Rapi *r, HttpConn *c) {
        if (r->state == RAPI_INIT_ERROR) {
                respond_transition(c, r->state, "Ready");
                return;
        }
        if (r->n_waiters >= RAPI_MAX_WAITERS) {
                respond_error(c, 500, "Runtime.TooManyIdleRuntimes", "Too many idle runtimes");
                return;
        }
        if (r->n_waiters == r->waiters_cap) {
                r->waiters_cap = r->waiters_cap ? r->waiters_cap * 2 : 16;
                r->waiters = xrealloc(r->waiters, r->waiters_cap * sizeof(*r->waiters));
        }
        r->waiters[r->n_waiters++] = c;
        c->data = r;
        if (r->state == RAPI_STARTED) {
                /* Init ends once the extensions wait too; no internal ones after it. */
                r->ext.closed = true;
                r->state = RAPI_READY;
                r->ready_pending = true;
                rapi__maybe_ready(r);
                return;
        }
        r->state = RAPI_READY;
        if (!r->ready_pending)
                r->ops->ready(r);
}

static void handle_next(Rapi *r, HttpConn *c) {
        if (mi(r)) {
                handle_next_mi(r, c);
                return;
        }
        switch (r->state) {
        case RAPI_INIT_ERROR:
                respond_transition(c, r->state, "Ready");
                return;
        case RAPI_RUNNING:
                /* /next during an unanswered invoke re-renders the same event (spec §1.3). */
                render_event(c, r->event);
                return;
        case RAPI_STARTED:
        case RAPI_RESPONDED:
        case RAPI_READY:
                if (r->waiting && r->waiting != c)
                        http_conn_close(r->waiting); /* a runtime has one poller in classic mode */
                r->waiting = c;
                c->data = r;
                if (r->state != RAPI_READY) {
                        /* The runtime's init is over: no more internal extensions. */
                        r->ext.closed = true;
                        r->state = RAPI_READY;
                        r->event = NULL;
                        r->ready_pending = true;
                        rapi__maybe_ready(r);
                } else if (r->pending) {
                        const RapiEvent *ev = r->pending;
                        r->pending = NULL;
                        rapi_deliver(r, ev);
                }
                return;
        default:
                respond_error(c, 500, "InternalServerError", "Internal Server Error");
        }
}

static RapiSlot *find_slot(Rapi *r, Slice id) {
        for (unsigned i = 0; i < r->n_slots; i++)
                if (r->slots[i].state != RAPI_SLOT_FREE && slice_eq(id, r->slots[i].id))
                        return &r->slots[i];
        return NULL;
}

/* Managed Instances mode: the answer's slot, or NULL once it has been answered here (410 for
 * a timed-out one, 400 for an unknown one). */
static RapiSlot *check_slot(Rapi *r, HttpConn *c, Slice id, HttpRequest *req) {
        RapiSlot *s = find_slot(r, id);
        Slice nonce;

        if (!s || (s->nonce[0] && http_header(req, "Lambda-Runtime-Invocation-Id", &nonce) &&
                   !slice_eq(nonce, s->nonce))) {
                respond_error(c, 400, "InvalidRequestID", "Invalid request ID");
                return NULL;
        }
        if (s->state == RAPI_SLOT_LATE) {
                s->state = RAPI_SLOT_FREE;
                respond_error(c, 410, "InvokeTimeout", "Invoke timeout");
                r->ops->late(r);
                return NULL;
        }
        return s;
}

/* @id is the request id from the path; validated against the current event first. */
static bool check_request_id(Rapi *r, HttpConn *c, Slice id, HttpRequest *req) {
        /* The ids are the Rapi's own copies: once answered, the invocation may be gone. */
        if (!r->event_id[0] || (r->state != RAPI_RUNNING && r->state != RAPI_RESPONDED) ||
            !slice_eq(id, r->event_id)) {
                respond_error(c, 400, "InvalidRequestID", "Invalid request ID");
                return false;
        }
        Slice nonce;
        if (r->event_nonce[0] && http_header(req, "Lambda-Runtime-Invocation-Id", &nonce) &&
            !slice_eq(nonce, r->event_nonce)) {
                respond_error(c, 400, "InvalidRequestID", "Invalid request ID");
                return false;
        }
        return true;
}

static void copy_header(HttpRequest *req, const char *name, char *out, size_t n,
                        const char *fallback) {
        Slice v;

        if (http_header(req, name, &v) && v.len > 0 && v.len < n) {
                memcpy(out, v.ptr, v.len);
                out[v.len] = '\0';
        } else {
                snprintf(out, n, "%s", fallback);
        }
}

/* Takes the answered event's id and, in Managed Instances mode, frees its slot. Return:
 * false when the answer was refused (already answered here). */
static bool take_answer(Rapi *r, HttpConn *c, HttpRequest *req, Slice id, const char *target,
                        RapiResult *res) {
        if (mi(r)) {
                RapiSlot *s = check_slot(r, c, id, req);
                if (!s)
                        return false;
                str_copy(res->request_id, sizeof(res->request_id), s->id);
                s->state = RAPI_SLOT_FREE;
                return true;
        }
        if (!check_request_id(r, c, id, req))
                return false;
        if (r->state == RAPI_RESPONDED) {
                respond_transition(c, r->state, target);
                return false;
        }
        str_copy(res->request_id, sizeof(res->request_id), r->event_id);
        return true;
}

/* The runtime's state after an answer (classic: the invoke ends at its next /next). */
static void answered(Rapi *r) {
        if (mi(r))
                return;
        r->state = RAPI_RESPONDED;
        r->event = NULL; /* the owner may free the invocation in result() */
}

/* An injected fault on the call: true when it was answered (or dropped) instead. */
static bool call_faulted(Rapi *r, HttpConn *c, RapiCall call) {
        int f = r->ops->fault ? r->ops->fault(r, call) : 0;

        if (f == 0)
                return false;
        if (f < 0)
                http_conn_close(c);
        else if (f >= 500)
                respond_error(c, f, "InternalServerError", "Internal Server Error");
        else
                respond_error(c, f, "InvalidRequest", "Invalid request");
        return true;
}

/* The streamed body has ended: its trailers say whether the function failed (spec §2.1). */
static void finish_stream(Rapi *r, HttpConn *c, HttpRequest *req) {
        RapiResult res = { .streamed = true };
        Slice type, body;
        size_t n;

        r->stream = NULL;
        http_conn_pause(c, false); /* the connection serves the runtime's next request */
        if (r->stream_cut) {
                char msg[128];
                snprintf(msg, sizeof(msg), "Exceeded maximum allowed payload size (%llu bytes).",
                         (unsigned long long) r->stream_max);
                respond_error(c, 413, "RequestEntityTooLarge", msg);
                return; /* reported when the cap was reached */
        }
        res.body_bytes = r->stream_bytes;
        if (http_trailer(req, "Lambda-Runtime-Function-Error-Type", &type) && type.len > 0) {
                res.outcome = RAPI_OUT_ERROR;
                rapi_sanitize_error_type(type, res.error_type, sizeof(res.error_type));
                n = MIN(type.len, sizeof(res.runtime_error_type) - 1);
                memcpy(res.runtime_error_type, type.ptr, n);
                res.runtime_error_type[n] = '\0';
                /* An undecodable body is dropped: the owner builds one from the type. */
                if (http_trailer(req, "Lambda-Runtime-Function-Error-Body", &body) &&
                    base64_decode(&res.body, body.ptr, body.len) < 0)
                        buf_free(&res.body);
                snprintf(res.content_type, sizeof(res.content_type), "application/json");
        } else {
                res.outcome = RAPI_OUT_RESPONSE;
                copy_header(req, "Content-Type", res.content_type, sizeof(res.content_type),
                            "application/octet-stream");
        }
        str_copy(res.request_id, sizeof(res.request_id), r->event_id);
        respond_accepted(c);
        answered(r);
        r->ops->result(r, &res);
}

static void handle_response(Rapi *r, HttpConn *c, HttpRequest *req, Slice id) {
        RapiResult res = { 0 };
        Slice mode;

        if (r->stream == c) {
                finish_stream(r, c, req);
                return;
        }
        if (!take_answer(r, c, req, id, "InvocationResponse", &res))
                return;
        if (!mi(r) && call_faulted(r, c, RAPI_CALL_RESPONSE))
                return;  /* an injected fault: the event stays unanswered */
        if (r->stream) { /* a second answer while the first is still streaming */
                respond_transition(c, r->state, "InvocationResponse");
                return;
        }
        if (http_header(req, "Lambda-Runtime-Function-Response-Mode", &mode) && mode.len > 0 &&
            !slice_case_eq(mode, "streaming")) {
                res.outcome = RAPI_OUT_BAD_MODE;
                respond_error(c, 400, "InvalidFunctionResponseMode",
                              "Invalid function response mode");
        } else if (req->body_too_large) {
                char msg[128];
                snprintf(msg, sizeof(msg), "Exceeded maximum allowed payload size (%u bytes).",
                         RAPI_MAX_RESPONSE);
                res.outcome = RAPI_OUT_TOO_LARGE;
                res.body_bytes = req->body_bytes;
                respond_error(c, 413, "RequestEntityTooLarge", msg);
        } else {
                /* Taken before answering: the answer resets the request. */
                res.outcome = RAPI_OUT_RESPONSE;
                res.body = req->body;
                req->body = BUF_INIT;
                res.body_bytes = req->body_bytes;
                copy_header(req, "Content-Type", res.content_type, sizeof(res.content_type),
                            "application/json");
                answered(r);
                /* The caller's answer first, then the runtime's 202: the caller waits on it,
                 * the runtime only for its next event. (Should the owner reset the runtime in
                 * result(), @c is closing and gets nothing; it is freed later, by libuv.) */
                r->ops->result(r, &res);
                respond_accepted(c);
                return;
        }
        answered(r);
        r->ops->result(r, &res);
}

/* The error body, with errorCause removed for the cause+json content type (spec §1.5). */
static void take_error_body(HttpRequest *req, RapiResult *res) {
        Slice ct;

        res->body = req->body;
        req->body = BUF_INIT;
        snprintf(res->content_type, sizeof(res->content_type), "application/json");
        if (http_header(req, "Content-Type", &ct) &&
            slice_case_eq(ct, "application/vnd.aws.lambda.error.cause+json")) {
                /* The emulator strips errorCause in the emulator layer, which owns JSON. */
                str_copy(res->content_type, sizeof(res->content_type),
                         "application/vnd.aws.lambda.error.cause+json");
        }
}

static void handle_error(Rapi *r, HttpConn *c, HttpRequest *req, Slice id) {
        RapiResult res = { 0 };
        Slice type = { "", 0 };

        if (!take_answer(r, c, req, id, "InvocationErrorResponse", &res))
                return;
        if (!mi(r) && call_faulted(r, c, RAPI_CALL_RESPONSE))
                return; /* an injected fault: the event stays unanswered */
        if (r->stream) {
                /* /error while the streamed body is still arriving ends the stream with
                 * that error, as RAPID does. */
                HttpConn *s = r->stream;
                r->stream = NULL;
                res.streamed = true;
                http_conn_close(s);
        }
        http_header(req, "Lambda-Runtime-Function-Error-Type", &type);
        rapi_sanitize_error_type(type, res.error_type, sizeof(res.error_type));
        size_t n = MIN(type.len, sizeof(res.runtime_error_type) - 1);
        memcpy(res.runtime_error_type, type.ptr, n);
        res.runtime_error_type[n] = '\0';
        res.outcome = RAPI_OUT_ERROR;
        res.body_bytes = req->body_bytes;
        take_error_body(req, &res);
        answered(r);
        r->ops->result(r, &res); /* the caller's answer before the runtime's 202, as above */
        respond_accepted(c);
}

static void handle_init_error(Rapi *r, HttpConn *c, HttpRequest *req) {
        RapiResult res = { 0 };
        Slice type = { "", 0 };

        if (r->state != RAPI_STARTED) {
                respond_transition(c, r->state, "InitError");
                return;
        }
        http_header(req, "Lambda-Runtime-Function-Error-Type", &type);
        rapi_sanitize_error_type(type, res.error_type, sizeof(res.error_type));
        r->state = RAPI_INIT_ERROR;
        res.outcome = RAPI_OUT_ERROR;
        take_error_body(req, &res);
        respond_accepted(c);
        r->ops->init_error(r, &res);
}

static bool path_split(Slice path, const char *prefix, const char *suffix, Slice *ret_mid) {
        size_t pl = strlen(prefix), sl = strlen(suffix);

        if (path.len <= pl + sl || memcmp(path.ptr, prefix, pl) != 0 ||
            memcmp(path.ptr + path.len - sl, suffix, sl) != 0)
                return false;
        Slice mid = { path.ptr + pl, path.len - pl - sl };
        if (memchr(mid.ptr, '/', mid.len))
                return false;
        *ret_mid = mid;
        return true;
}

void rapi__maybe_ready(Rapi *r) {
        if (!r->ready_pending || r->state != RAPI_READY || !rapi__ext_all_ready(r))
                return;
        r->ready_pending = false;
        r->ext.init_done = true;
        rapi__tel_init_done(r);
        r->ops->ready(r);
}

static void on_request(HttpConn *c, HttpRequest *req) {
        Rapi *r = c->server->data;
        Slice id;
        bool get = req->method == HTTP_GET, post = req->method == HTTP_POST;

        if (rapi__ext_route(r, c, req) || rapi__tel_route(r, c, req))
                return;
        if (slice_eq(req->path, PREFIX "/runtime/invocation/next")) {
                if (!get)
                        goto not_allowed;
                handle_next(r, c);
        } else if (path_split(req->path, PREFIX "/runtime/invocation/", "/response", &id)) {
                if (!post)
                        goto not_allowed;
                handle_response(r, c, req, id);
        } else if (path_split(req->path, PREFIX "/runtime/invocation/", "/error", &id)) {
                if (!post)
                        goto not_allowed;
                handle_error(r, c, req, id);
        } else if (slice_eq(req->path, PREFIX "/runtime/init/error")) {
                if (!post)
                        goto not_allowed;
                handle_init_error(r, c, req);
        } else if (slice_eq(req->path, PREFIX "/ping")) {
                http_respond(c, 200, "Content-Type: text/plain\r\n", "pong", 4, false);
        } else {
                respond_error(c, 404, "InvalidRequest", "Unknown endpoint");
        }
        return;
not_allowed:
        respond_error(c, 405, "MethodNotAllowed", "Method not allowed");
}

static void stream_body(HttpConn *c, const char *at, size_t len) {
        Rapi *r = c->server->data;

        if (r->stream != c || r->stream_cut)
                return;
        if (r->stream_max && r->stream_bytes + len > r->stream_max) {
                /* The bytes up to the cap go out; the invocation ends here, and the rest of
                 * the body is read and dropped so that the runtime gets our 413. */
                size_t room = (size_t) (r->stream_max - r->stream_bytes);
                if (room)
                        r->ops->stream_data(r, at, room);
                r->stream_bytes += len;
                r->stream_cut = true;
                if (r->stream != c)
                        return; /* the owner reset the runtime meanwhile */
                RapiResult res = { .outcome = RAPI_OUT_TOO_LARGE, .streamed = true };
                res.body_bytes = r->stream_bytes;
                str_copy(res.request_id, sizeof(res.request_id), r->event_id);
                answered(r);
                r->ops->result(r, &res);
                return;
        }
        r->stream_bytes += len;
        r->ops->stream_data(r, at, len);
}

/* A streaming /response for the current event starts forwarding at its headers; anything
 * else (a wrong id, a second answer) is buffered and refused in on_request(). */
static uint64_t body_limit(HttpConn *c, HttpRequest *req) {
        Rapi *r = c->server->data;
        Slice id, mode, nonce;
        char ct[128];

        /* Managed Instances mode collects streams (one stream per Rapi is followed). */
        if (req->method != HTTP_POST || !r->ops->stream_begin || r->stream || mi(r) ||
            r->state != RAPI_RUNNING || !r->event_id[0] ||
            !path_split(req->path, PREFIX "/runtime/invocation/", "/response", &id) ||
            !slice_eq(id, r->event_id) ||
            !http_header(req, "Lambda-Runtime-Function-Response-Mode", &mode) ||
            !slice_case_eq(mode, "streaming"))
                return RAPI_MAX_RESPONSE;
        if (r->event_nonce[0] && http_header(req, "Lambda-Runtime-Invocation-Id", &nonce) &&
            !slice_eq(nonce, r->event_nonce))
                return RAPI_MAX_RESPONSE;
        r->stream = c;
        r->stream_bytes = 0;
        r->stream_cut = false;
        c->body_cb = stream_body;
        copy_header(req, "Content-Type", ct, sizeof(ct), "application/octet-stream");
        r->ops->stream_begin(r, ct);
        return UINT64_MAX;
}

static void on_closed(HttpConn *c) {
        Rapi *r = c->server->data;

        if (r->waiting == c)
                r->waiting = NULL;
        rapi__ext_conn_closed(r, c);
        if (r->stream == c) {
                /* The runtime's connection broke before the body ended (spec §3.3). */
                r->stream = NULL;
                if (r->stream_cut || r->state != RAPI_RUNNING)
                        return;
                RapiResult res = { .outcome = RAPI_OUT_TRUNCATED, .streamed = true };
                res.body_bytes = r->stream_bytes;
                str_copy(res.request_id, sizeof(res.request_id), r->event_id);
                answered(r);
                r->ops->result(r, &res);
                return;
        }
        if (!mi(r))
                return;
        remove_waiter(r, c);
        for (unsigned i = 0; i < r->n_slots; i++) {
                RapiSlot *s = &r->slots[i];
                if (s->conn != c)
                        continue;
                s->conn = NULL;
                if (s->state == RAPI_SLOT_ACTIVE)
                        r->ops->orphaned(r, s->id, s->pid); /* may release the slot */
        }
}

static bool on_accepted(HttpServer *s, HttpConn *c) {
        Rapi *r = s->data;

        return !r->ops->admit || r->ops->admit(r, c);
}

/* A malformed request gets the Runtime API's own error shape. */
static void on_malformed(HttpConn *c, int status, const char *reason) {
        char msg[300];

        snprintf(msg, sizeof(msg), "Malformed HTTP request: %s", reason);
        respond_error(c, status, "InvalidRequest", msg);
}

static const HttpServerOps rapi_http_ops = {
        .malformed = on_malformed,
        .body_limit = body_limit,
        .request = on_request,
        .closed = on_closed,
        .accepted = on_accepted,
};

/* ---- lifecycle ---------------------------------------------------------------------- */

/* A cursor over 127/8, started from our pid so that parallel lemu instances rarely probe the
 * same addresses; any 127/8 address binds on lo, and EADDRINUSE moves us on. */
static uint32_t next_address(void) {
        static uint32_t cursor;

        if (!cursor)
                cursor = 0x7f000000u | ((((uint32_t) getpid() * 2654435761u) >> 8) & 0xffff00u);
        for (;;) {
                cursor++;
                if ((cursor & 0x00ffffffu) == 0)
                        cursor = 0x7f000000u | 0x100u;
                uint32_t last = cursor & 0xff;
                if (last == 0 || last == 255 || cursor == 0x7f000001u)
                        continue;
                return cursor;
        }
}

int rapi_init(Rapi *r, uv_loop_t *loop, const RapiOps *ops, const HttpLimits *limits, void *data) {
        memset(r, 0, sizeof(*r));
        r->ops = ops;
        r->data = data;
        r->state = RAPI_STARTED;
        for (int attempt = 0; attempt < 4096; attempt++) {
                struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9001) };
                int one = 1;
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

                if (fd < 0)
                        return -errno;
                sa.sin_addr.s_addr = htonl(next_address());
                (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                        int e = errno;
                        close(fd);
                        if (e == EADDRINUSE || e == EADDRNOTAVAIL)
                                continue;
                        return -e;
                }
                http_server_init(&r->server, loop, &rapi_http_ops, limits, r);
                int ret = http_server_open(&r->server, fd, 64);
                if (ret < 0)
                        return ret; /* the server owns fd now; rapi_close() releases it */
                char ip[16];
                uv_ip4_name(&sa, ip, sizeof(ip));
                snprintf(r->address, sizeof(r->address), "%s:9001", ip);
                r->open = true;
                return 0;
        }
        return -EADDRINUSE;
}

void rapi_init_unbound(Rapi *r, const RapiOps *ops, void *data) {
        memset(r, 0, sizeof(*r));
        r->ops = ops;
        r->data = data;
        r->state = RAPI_STARTED;
        snprintf(r->address, sizeof(r->address), "127.0.0.1:9001");
}

int rapi_attach(Rapi *r, uv_loop_t *loop, const HttpLimits *limits, int fd) {
        if (r->open) {
                close(fd);
                return -EALREADY;
        }
        http_server_init(&r->server, loop, &rapi_http_ops, limits, r);
        int ret = http_server_open(&r->server, fd, 128);
        r->open = true; /* the server owns fd now; rapi_close() releases it */
        return ret;
}

bool rapi_waiting(const Rapi *r) {
        if (mi(r))
                return r->n_waiters > 0 && !r->ready_pending;
        return r->state == RAPI_READY && r->waiting && !r->ready_pending;
}

unsigned rapi_n_waiting(const Rapi *r) {
        return mi(r) ? r->n_waiters : rapi_waiting(r);
}

void rapi_set_concurrency(Rapi *r, unsigned n) {
        r->max_concurrency = n;
        if (n <= 1)
                return;
        r->n_slots = n * 2;
        r->slots = xcalloc(r->n_slots, sizeof(*r->slots));
}

/* A free slot, else the oldest late one (its late answer will then get 400, not 410). */
static RapiSlot *slot_for_event(Rapi *r) {
        RapiSlot *oldest = NULL;

        for (unsigned i = 0; i < r->n_slots; i++) {
                RapiSlot *s = &r->slots[i];
                if (s->state == RAPI_SLOT_FREE)
                        return s;
                if (s->state == RAPI_SLOT_LATE && (!oldest || s->since < oldest->since))
                        oldest = s;
        }
        return oldest;
}

static int deliver_mi(Rapi *r, const RapiEvent *ev) {
        RapiSlot *s = r->n_waiters ? slot_for_event(r) : NULL;

        if (!s)
                return -EAGAIN;
        if (s->state == RAPI_SLOT_LATE)
                r->ops->late(r); /* its capacity is given back, as by a late answer */
        HttpConn *c = r->waiters[0];
        remove_waiter(r, c);
        *s = (RapiSlot){ .state = RAPI_SLOT_ACTIVE, .conn = c, .pid = c->peer_pid };
        str_copy(s->id, sizeof(s->id), ev->request_id);
        str_copy(s->nonce, sizeof(s->nonce), ev->invocation_id ? ev->invocation_id : "");
        render_event(c, ev);
        return 0;
}

void rapi_release(Rapi *r, const char *request_id, bool late) {
        for (unsigned i = 0; i < r->n_slots; i++) {
                RapiSlot *s = &r->slots[i];
                if (s->state == RAPI_SLOT_ACTIVE && strcmp(s->id, request_id) == 0) {
                        s->state = late ? RAPI_SLOT_LATE : RAPI_SLOT_FREE;
                        s->since = ++r->late_clock;
                        return;
                }
        }
}

int rapi_deliver(Rapi *r, const RapiEvent *ev) {
        if (mi(r))
                return deliver_mi(r, ev);
        if (!rapi_waiting(r))
                return -EAGAIN;
        HttpConn *c = r->waiting;
        r->waiting = NULL;
        if (call_faulted(r, c, RAPI_CALL_NEXT)) {
                r->pending = ev;
                return 0;
        }
        r->event = ev;
        str_copy(r->event_id, sizeof(r->event_id), ev->request_id);
        str_copy(r->event_nonce, sizeof(r->event_nonce),
                 ev->invocation_id ? ev->invocation_id : "");
        r->state = RAPI_RUNNING;
        r->stream_max = ev->stream_max;
        render_event(c, ev);
        rapi__ext_invoke(r, ev);
        return 0;
}

void rapi_stream_pause(Rapi *r, bool pause) {
        if (r->stream)
                http_conn_pause(r->stream, pause);
}

void rapi_reset(Rapi *r) {
        ListNode *it, *tmp;

        r->state = RAPI_STARTED;
        r->event = NULL;
        r->event_id[0] = r->event_nonce[0] = '\0';
        r->waiting = NULL;
        r->n_waiters = 0;
        for (unsigned i = 0; i < r->n_slots; i++)
                r->slots[i].state = RAPI_SLOT_FREE;
        r->ready_pending = false;
        rapi__ext_reset(r);
        r->pending = NULL;
        rapi__tel_reset(r);
        r->stream = NULL;
        if (!r->open)
                return;
        LIST_FOREACH_SAFE(it, tmp, &r->server.conns) {
                http_conn_close(container_of(it, HttpConn, link));
        }
}

static void free_mi(Rapi *r) {
        free(r->waiters);
        free(r->slots);
        r->waiters = NULL;
        r->slots = NULL;
        r->n_waiters = r->waiters_cap = r->n_slots = 0;
}

static void server_closed(HttpServer *s) {
        Rapi *r = s->data;

        r->open = false;
        free_mi(r);
        if (r->close_cb)
                r->close_cb(r);
}

void rapi_close(Rapi *r, void (*cb)(Rapi *r)) {
        r->close_cb = cb;
        r->waiting = NULL;
        r->ready_pending = false;
        rapi__ext_reset(r);
        r->pending = NULL;
        rapi__tel_reset(r);
        r->stream = NULL;
        r->event = NULL;
        if (!r->open) {
                free_mi(r);
                cb(r); /* never attached */
                return;
        }
        http_server_close(&r->server, server_closed);
}
