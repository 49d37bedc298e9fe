/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Invoke API (2015-03-31) as the AWS CLI and SDKs speak it (spec §3): function
 * references by name, ARN or partial ARN with qualifiers, invocation types, payload and
 * client-context validation, service errors in AWS's JSON shape, and the synchronous
 * response with lemu's X-Lemu-* headers.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "emulator.h"
#include "httpfront.h"
#include "invoke.h"
#include "jsoncheck.h"
#include "macro.h"
#include "stream.h"
#include "xalloc.h"

#define INVOKE_PREFIX      "/2015-03-31/functions/"
#define INVOKE_SUFFIX      "/invocations"
#define STREAM_PREFIX      "/2021-11-15/functions/"
#define STREAM_SUFFIX      "/response-streaming-invocations"
#define CLIENT_CONTEXT_MAX 3583

int url_decode(const char *in, size_t len, char *out, size_t n) {
        size_t o = 0;

        for (size_t i = 0; i < len; i++) {
                char c = in[i];
                if (c == '%') {
                        if (i + 2 >= len || !isxdigit((unsigned char) in[i + 1]) ||
                            !isxdigit((unsigned char) in[i + 2]))
                                return -EINVAL;
                        char hex[3] = { in[i + 1], in[i + 2], 0 };
                        c = (char) strtol(hex, NULL, 16);
                        i += 2;
                } else if (c == '+') {
                        c = ' ';
                }
                if (c == '\0')
                        return -EINVAL; /* callers use the result as a C string */
                if (o + 1 >= n)
                        return -EINVAL;
                out[o++] = c;
        }
        out[o] = '\0';
        return 0;
}

static bool valid_name(const char *s) {
        if (!*s || strlen(s) > 64)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && *s != '-' && *s != '_')
                        return false;
        return true;
}

static bool valid_qualifier(const char *s) {
        if (!*s || strlen(s) > 128)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && *s != '-' && *s != '_' && *s != '$')
                        return false;
        return true;
}

static void copy_field(char *out, size_t n, const char *p, size_t len) {
        if (len >= n)
                len = n - 1;
        memcpy(out, p, len);
        out[len] = '\0';
}

int invoke_parse_ref(const char *text, size_t len, FunctionRef *ret) {
        const char *parts[8];
        size_t lens[8];
        size_t n = 0;
        const char *p = text, *end = text + len;

        memset(ret, 0, sizeof(*ret));
        while (n < 8) {
                const char *colon = memchr(p, ':', (size_t) (end - p));
                parts[n] = p;
                lens[n] = colon ? (size_t) (colon - p) : (size_t) (end - p);
                n++;
                if (!colon)
                        break;
                p = colon + 1;
        }
        /* The eighth part ended at a colon: there is a ninth (the loop left it unsplit). */
        if (n == 8 && parts[7] + lens[7] < end)
                return -EINVAL;
        size_t name_i, qual_i = SIZE_MAX;
        if (n >= 7 && lens[0] == 3 && memcmp(parts[0], "arn", 3) == 0) {
                /* arn:aws:lambda:region:account:function:name[:qualifier] */
                if (n > 8 || lens[5] != 8 || memcmp(parts[5], "function", 8) != 0 || lens[2] != 6 ||
                    memcmp(parts[2], "lambda", 6) != 0)
                        return -EINVAL;
                copy_field(ret->region, sizeof(ret->region), parts[3], lens[3]);
                copy_field(ret->account, sizeof(ret->account), parts[4], lens[4]);
                name_i = 6;
                if (n == 8)
                        qual_i = 7;
        } else if (n >= 3 && lens[1] == 8 && memcmp(parts[1], "function", 8) == 0) {
                /* account:function:name[:qualifier] */
                if (n > 4)
                        return -EINVAL;
                copy_field(ret->account, sizeof(ret->account), parts[0], lens[0]);
                name_i = 2;
                if (n == 4)
                        qual_i = 3;
        } else {
                if (n > 2)
                        return -EINVAL;
                name_i = 0;
                if (n == 2)
                        qual_i = 1;
        }
        if (lens[name_i] >= sizeof(ret->name))
                return -EINVAL;
        copy_field(ret->name, sizeof(ret->name), parts[name_i], lens[name_i]);
        if (qual_i != SIZE_MAX) {
                if (lens[qual_i] >= sizeof(ret->qualifier))
                        return -EINVAL;
                copy_field(ret->qualifier, sizeof(ret->qualifier), parts[qual_i], lens[qual_i]);
                if (!valid_qualifier(ret->qualifier))
                        return -EINVAL;
        }
        return valid_name(ret->name) ? 0 : -EINVAL;
}

bool invoke_payload_valid(const char *p, size_t len, char *reason, size_t n) {
        static const char pre[] = "Could not parse request body into json: ";
        size_t off = 0;

        if (!utf8_valid(p, len)) {
                snprintf(reason, n, "%sInvalid UTF-8 middle byte in the request body", pre);
                return false;
        }
        /* Checked, not parsed: the payload goes to the function byte for byte. */
        JsonCheckError r = jsoncheck(p, len, &off);
        if (r == JSONCHECK_OK)
                return true;
        unsigned line = 1, col = 1;
        for (size_t i = 0; i < off; i++) {
                if (p[i] == '\n')
                        line++, col = 1;
                else
                        col++;
        }
        switch (r) {
        case JSONCHECK_TRAILING:
                snprintf(reason, n,
                         "%sCould not parse payload into json: Unexpected content after the "
                         "JSON value at line %u, column %u",
                         pre, line, col);
                break;
        case JSONCHECK_DEPTH:
                snprintf(reason, n,
                         "%sCould not parse payload into json: Nesting depth exceeds the "
                         "maximum allowed (%d) at line %u, column %u",
                         pre, JSONCHECK_MAX_DEPTH, line, col);
                break;
        case JSONCHECK_END:
        case JSONCHECK_EMPTY:
                snprintf(reason, n,
                         "%sCould not parse payload into json: Unexpected end of input at line "
                         "%u, column %u",
                         pre, line, col);
                break;
        default:
                snprintf(reason, n,
                         "%sCould not parse payload into json: Unexpected character at line %u, "
                         "column %u",
                         pre, line, col);
                break;
        }
        return false;
}

void invoke_service_error(HttpConn *c, int status, const char *type, const char *message,
                          const char *request_id) {
        Buf h = BUF_INIT, body = BUF_INIT;
        char rid[37];

        if (!request_id) {
                uuid_random(rid);
                request_id = rid;
        }
        http_add_header(&h, "Content-Type", "application/json");
        http_add_header(&h, "X-Amzn-ErrorType", "%s", type);
        http_add_header(&h, "X-Amzn-RequestId", "%s", request_id);
        buf_puts(&body, "{\"Type\":\"");
        buf_puts(&body, status >= 500 ? "Service" : "User");
        buf_puts(&body, "\",\"Message\":");
        buf_put_json_str(&body, message, strlen(message));
        buf_puts(&body, "}");
        size_t len;
        char *p = buf_steal(&body, &len);
        http_respond(c, status, h.data, p, len, true);
        buf_free(&h);
}

static void respond_invocation(HttpConn *c, Invocation *inv) {
        Buf h = BUF_INIT;

        http_add_header(&h, "X-Amzn-RequestId", "%s", inv->request_id);
        if (inv->http_status != 200) {
                http_add_header(&h, "Content-Type", "application/json");
                http_add_header(&h, "X-Amzn-ErrorType", "%s",
                                inv->service_error ? inv->service_error : "ServiceException");
                size_t len;
                char *body = buf_steal(&inv->result, &len);
                http_respond(c, inv->http_status, h.data, body, len, true);
                buf_free(&h);
                return;
        }
        if (inv->stream_caller) {
                buf_free(&h);
                stream_respond(c, inv);
                return;
        }
        http_add_header(&h, "Content-Type", "application/json");
        http_add_header(&h, "X-Amz-Executed-Version", "$LATEST");
        if (inv->function_error)
                http_add_header(&h, "X-Amz-Function-Error", "Unhandled");
        if (inv->log_tail) {
                Buf tail = BUF_INIT;
                logs_tail_base64(inv, &tail);
                http_add_header(&h, "X-Amz-Log-Result", "%s", tail.data ? tail.data : "");
                buf_free(&tail);
        }
        if (inv->env) {
                http_add_header(&h, "X-Lemu-Environment-Id", "%s", inv->env->name);
                http_add_header(&h, "X-Lemu-Cold-Start", "%s", inv->cold ? "true" : "false");
                if (inv->cold)
                        http_add_header(&h, "X-Lemu-Init-Duration-Ms", "%.2f", inv->init_ms);
                http_add_header(&h, "X-Lemu-Duration-Ms", "%.2f", inv->duration_ms);
                http_add_header(&h, "X-Lemu-Max-Memory-Used-Mb", "%u", inv->max_memory_mb);
        }
        size_t len;
        char *body = buf_steal(&inv->result, &len);
        http_respond(c, 200, h.data, body, len, true);
        buf_free(&h);
}

static void sync_done(Invocation *inv, void *data) {
        HttpConn *c = inv->caller;

        inv->emu->sync_waiting--;
        if (c) {
                c->data = NULL;
                inv->caller = NULL;
                respond_invocation(c, inv);
        }
        emu_sync_done(inv->emu);
}

void invoke_api_malformed(HttpConn *c, int status, const char *reason) {
        char msg[300];

        snprintf(msg, sizeof(msg), "Malformed HTTP request: %s", reason);
        invoke_service_error(c, status, "InvalidRequestContentException", msg, NULL);
}

void invoke_api_closed(HttpConn *c) {
        Invocation *inv = c->data;

        if (inv) {
                inv->caller = NULL;
                c->data = NULL;
                stream_caller_gone(inv);
        }
}

/* Finds the function named by the path's reference and the Qualifier parameter. */
static Function *resolve(Emulator *e, HttpConn *c, HttpRequest *req, Slice ref_text,
                         FunctionRef *ref, char **ret_qualifier) {
        char decoded[512], qparam[256] = "";
        Config *cfg = e->cfg;

        if (url_decode(ref_text.ptr, ref_text.len, decoded, sizeof(decoded)) < 0 ||
            invoke_parse_ref(decoded, strlen(decoded), ref) < 0) {
                invoke_service_error(c, 400, "InvalidParameterValueException",
                                     "1 validation error detected: Value at 'functionName' failed "
                                     "to satisfy constraint: Member must satisfy regular "
                                     "expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}"
                                     "(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_"
                                     "\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
                                     NULL);
                return NULL;
        }
        /* Qualifier=… in the query. */
        const char *q = req->query.ptr, *qend = req->query.ptr + req->query.len;
        while (q < qend) {
                const char *amp = memchr(q, '&', (size_t) (qend - q));
                size_t l = amp ? (size_t) (amp - q) : (size_t) (qend - q);
                if (l > 10 && memcmp(q, "Qualifier=", 10) == 0 &&
                    url_decode(q + 10, l - 10, qparam, sizeof(qparam)) < 0)
                        qparam[0] = '\0';
                q += l + 1;
        }
        if (qparam[0] && ref->qualifier[0] && strcmp(qparam, ref->qualifier) != 0) {
                invoke_service_error(c, 400, "InvalidParameterValueException",
                                     "The derived qualifier from the function name does not "
                                     "match the specified qualifier.",
                                     NULL);
                return NULL;
        }
        const char *qual = ref->qualifier[0] ? ref->qualifier : qparam;
        Function *fn = emu_find_function(e, ref->name);
        bool ok = fn && (!ref->region[0] || strcmp(ref->region, cfg->region) == 0) &&
                  (!ref->account[0] || strcmp(ref->account, cfg->account_id) == 0);
        if (ok && qual[0] && strcmp(qual, "$LATEST") != 0) {
                ok = false;
                for (size_t i = 0; i < fn->cfg->n_aliases; i++)
                        if (strcmp(fn->cfg->aliases[i].key, qual) == 0)
                                ok = true;
        }
        if (!ok) {
                char msg[512];
                snprintf(msg, sizeof(msg),
                         "Function not found: arn:aws:lambda:%s:%s:function:%s%s%s",
                         ref->region[0] ? ref->region : cfg->region,
                         ref->account[0] ? ref->account : cfg->account_id, ref->name,
                         qual[0] ? ":" : "", qual);
                invoke_service_error(c, 404, "ResourceNotFoundException", msg, NULL);
                return NULL;
        }
        *ret_qualifier = qual[0] ? xstrdup(qual) : NULL;
        return fn;
}

static void new_trace_id(char *out, size_t n) {
        unsigned char r[20];
        char a[25], b[17];

        random_bytes(r, sizeof(r));
        hex_lower(a, r, 12);
        hex_lower(b, r + 12, 8);
        snprintf(out, n, "Root=1-%08llx-%s;Parent=%s;Sampled=0",
                 (unsigned long long) (clock_wall_ms() / 1000), a, b);
}

static bool in_path(Slice path, const char *prefix, const char *suffix, Slice *ret_mid) {
        size_t pl = strlen(prefix), sl = strlen(suffix);

        if (path.len <= pl + sl || memcmp(path.ptr, prefix, pl) != 0 ||
            memcmp(path.ptr + path.len - sl, suffix, sl) != 0)
                return false;
        *ret_mid = (Slice){ path.ptr + pl, path.len - pl - sl };
        return !memchr(ret_mid->ptr, '/', ret_mid->len);
}

static InvokeType parse_type(HttpRequest *req, bool *ok) {
        Slice v;

        *ok = true;
        if (!http_header(req, "X-Amz-Invocation-Type", &v) || v.len == 0 ||
            slice_eq(v, "RequestResponse"))
                return INVOKE_REQUEST_RESPONSE;
        if (slice_eq(v, "Event"))
                return INVOKE_EVENT;
        if (slice_eq(v, "DryRun"))
                return INVOKE_DRY_RUN;
        *ok = false;
        return _INVOKE_TYPE_INVALID;
}

uint64_t invoke_api_body_limit(HttpConn *c, HttpRequest *req) {
        Emulator *e = c->server->data;
        Slice ref;
        bool ok;

        if (in_path(req->path, INVOKE_PREFIX, INVOKE_SUFFIX, &ref) &&
            parse_type(req, &ok) == INVOKE_EVENT) {
                FunctionRef fr;
                char decoded[512];
                if (url_decode(ref.ptr, ref.len, decoded, sizeof(decoded)) == 0 &&
                    invoke_parse_ref(decoded, strlen(decoded), &fr) == 0) {
                        Function *fn = emu_find_function(e, fr.name);
                        if (fn)
                                return fn->cfg->async.max_payload_bytes;
                }
        }
        if (req->path.len > 7 && memcmp(req->path.ptr, "/_lemu/", 7) == 0)
                return 1024 * 1024;
        return INVOKE_SYNC_MAX;
}

/* Async events waiting, in all functions' queues and retry delays (limits.max_queued_events). */
static unsigned queued_events(const Emulator *e) {
        unsigned n = 0;
        ListNode *it;

        for (size_t i = 0; i < e->n_functions; i++) {
                n += e->functions[i].n_queued;
                LIST_FOREACH (it, &e->functions[i].retrying) {
                        n++;
                }
        }
        return n;
}

/* An event's journal record is written (or could not be): 202, or 500 and nothing queued. */
static void event_journaled(Invocation *inv, int status) {
        HttpConn *c = inv->caller;
        Emulator *e = inv->emu;

        if (c) {
                c->data = NULL;
                inv->caller = NULL;
        }
        if (status < 0) {
                if (c) {
                        char msg[200];
                        snprintf(msg, sizeof(msg), "lemu could not journal the event: %s",
                                 strerror(-status));
                        invoke_service_error(c, 500, "ServiceException", msg, inv->request_id);
                }
                inv_free(inv);
                return;
        }
        if (c) {
                char h[80];
                snprintf(h, sizeof(h), "X-Amzn-RequestId: %s\r\n", inv->request_id);
                http_respond(c, 202, h, NULL, 0, false);
        }
        if (e->shutting_down) {
                /* Not run now: its record stays for the next start. */
                inv_free(inv);
                return;
        }
        sched_submit(inv);
}

/* @streaming: InvokeWithResponseStream (spec §2.2), else Invoke (spec §3). */
static void handle_invoke(Emulator *e, HttpConn *c, HttpRequest *req, Slice ref_text,
                          bool streaming) {
        FunctionRef ref;
        char *qualifier = NULL;
        char reason[256];
        bool ok;
        Slice v;

        if (req->method != HTTP_POST) {
                invoke_service_error(c, 404, "UnknownOperationException", "Unknown operation",
                                     NULL);
                return;
        }
        Function *fn = resolve(e, c, req, ref_text, &ref, &qualifier);
        if (!fn)
                return;
        InvokeType type = parse_type(req, &ok);
        if (ok && streaming && type == INVOKE_EVENT) {
                free(qualifier);
                invoke_service_error(c, 400, "InvalidParameterValueException",
                                     "Invalid invocation type: must be one of RequestResponse "
                                     "or DryRun",
                                     NULL);
                return;
        }
        if (!ok) {
                free(qualifier);
                invoke_service_error(c, 400, "InvalidParameterValueException",
                                     "Invalid invocation type: must be one of Event, "
                                     "RequestResponse or DryRun",
                                     NULL);
                return;
        }
        if (req->body_too_large) {
                char msg[160];
                if (type == INVOKE_EVENT)
                        snprintf(msg, sizeof(msg),
                                 "%llu byte payload is too large for the Event invocation type "
                                 "(limit %llu bytes)",
                                 (unsigned long long) req->body_bytes,
                                 (unsigned long long) fn->cfg->async.max_payload_bytes);
                else
                        snprintf(msg, sizeof(msg),
                                 "Request must be smaller than %u bytes for the InvokeFunction "
                                 "operation",
                                 INVOKE_SYNC_MAX);
                free(qualifier);
                invoke_service_error(c, 413, "RequestEntityTooLargeException", msg, NULL);
                return;
        }
        char *client_context = NULL;
        if (http_header(req, "X-Amz-Client-Context", &v) && v.len > 0) {
                Buf dec = BUF_INIT;
                bool good = v.len <= CLIENT_CONTEXT_MAX && base64_decode(&dec, v.ptr, v.len) == 0;
                if (good) {
                        /* One JSON object, strictly: the runtime gets this text as it is. */
                        const char *t = dec.data ? dec.data : "";
                        size_t i = 0;
                        while (i < dec.len && strchr(" \t\r\n", t[i]) && t[i])
                                i++;
                        good = utf8_valid(t, dec.len) && jsoncheck(t, dec.len, NULL) == 0 &&
                               i < dec.len && t[i] == '{';
                }
                if (!good) {
                        buf_free(&dec);
                        free(qualifier);
                        invoke_service_error(c, 400, "InvalidRequestContentException",
                                             "Client context must be a valid Base64-encoded JSON "
                                             "object.",
                                             NULL);
                        return;
                }
                client_context = buf_steal(&dec, NULL);
        }
        if (req->body.len == 0) {
                buf_reset(&req->body);
                buf_append(&req->body, "{}", 2);
        }
        if (!invoke_payload_valid(req->body.data, req->body.len, reason, sizeof(reason))) {
                free(client_context);
                free(qualifier);
                invoke_service_error(c, 400, "InvalidRequestContentException", reason, NULL);
                return;
        }
        if (type == INVOKE_DRY_RUN) {
                free(client_context);
                free(qualifier);
                char h[80];
                char rid[37];
                uuid_random(rid);
                snprintf(h, sizeof(h), "X-Amzn-RequestId: %s\r\n", rid);
                http_respond(c, 204, h, NULL, 0, false);
                return;
        }
        if (type == INVOKE_EVENT && queued_events(e) >= e->cfg->limits.max_queued_events) {
                free(client_context);
                free(qualifier);
                Buf h = BUF_INIT;
                http_add_header(&h, "Content-Type", "application/json");
                http_add_header(&h, "X-Amzn-ErrorType", "TooManyRequestsException");
                char rid[37];
                uuid_random(rid);
                http_add_header(&h, "X-Amzn-RequestId", "%s", rid);
                const char *b = "{\"Reason\":\"CallerRateLimitExceeded\",\"Type\":\"User\","
                                "\"message\":\"Rate exceeded\"}";
                http_respond(c, 429, h.data, (char *) b, strlen(b), false);
                buf_free(&h);
                return;
        }

        Invocation *inv = inv_new(fn, type);
        inv->payload = req->body;
        req->body = BUF_INIT;
        inv->client_context = client_context;
        inv->qualifier = qualifier;
        inv->invoked_arn = qualifier ? xasprintf("%s:%s", fn->arn, qualifier) : xstrdup(fn->arn);
        if (http_header(req, "X-Amzn-Trace-Id", &v) && v.len > 0 && v.len < 512) {
                inv->trace_id = xstrndup(v.ptr, v.len);
        } else {
                char t[128];
                new_trace_id(t, sizeof(t));
                inv->trace_id = xstrdup(t);
        }
        inv->log_tail = type == INVOKE_REQUEST_RESPONSE && http_header(req, "X-Amz-Log-Type", &v) &&
                        slice_eq(v, "Tail");
        if (type == INVOKE_EVENT) {
                /* Accepted once its journal record is written (event_journaled). */
                inv->caller = c;
                c->data = inv;
                if (journal_is_open(&e->journal))
                        journal_accept(&e->journal, inv, event_journaled);
                else
                        event_journaled(inv, 0);
                return;
        }
        inv->stream_caller = streaming;
        inv->caller = c;
        c->data = inv;
        inv->done_cb = sync_done;
        e->sync_waiting++;
        sched_submit(inv);
}

void invoke_api_request(HttpConn *c, HttpRequest *req) {
        Emulator *e = c->server->data;
        Slice ref;

        if (e->shutting_down) {
                invoke_service_error(c, 500, "ServiceException", "lemu is shutting down", NULL);
                return;
        }
        if (in_path(req->path, INVOKE_PREFIX, INVOKE_SUFFIX, &ref)) {
                handle_invoke(e, c, req, ref, false);
                return;
        }
        if (in_path(req->path, STREAM_PREFIX, STREAM_SUFFIX, &ref)) {
                handle_invoke(e, c, req, ref, true);
                return;
        }
        if (manage_request(e, c, req) || control_request(e, c, req) || httpfront_request(e, c, req))
                return;
        invoke_service_error(c, 404, "UnknownOperationException", "Unknown operation", NULL);
}

Function *invoke_resolve(Emulator *e, HttpConn *c, HttpRequest *req, Slice ref_text,
                         FunctionRef *ref, char **ret_qualifier) {
        return resolve(e, c, req, ref_text, ref, ret_qualifier);
}
