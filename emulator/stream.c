/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Streamed responses to their callers (spec §2.2): event-stream framing toward an
 * InvokeWithResponseStream caller, the HTTP-integration prelude (spec §2.1) and chunks
 * toward an HTTP front-end caller, collection for every other caller, and the two reasons
 * to stop reading the runtime's stream for a while: a caller that reads slowly (its unsent
 * bytes above STREAM_QUEUE_HIGH) and the bandwidth rule of the function's `streaming`
 * settings (the first burst_bytes at full speed, then rate_bytes_per_s). Either way at most
 * one read of the runtime's socket is in memory beyond what the kernel holds.
 *
 * The InvStream belongs to its invocation; its timer is closed (and the struct freed) in
 * stream_free(), never touched after.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <uv.h>
#include <cjson/cJSON.h>

#include "codec.h"
#include "eventstream.h"
#include "httpfront.h"
#include "macro.h"
#include "stream.h"
#include "xalloc.h"

#define EVENTSTREAM_CT      "application/vnd.amazon.eventstream"
#define HTTP_INTEGRATION_CT "application/vnd.awslambda.http-integration-response"
/* An HTTP caller's prelude must end within this many bytes (API Gateway's rule); a stream
 * without one by then is collected and answered whole, as before streaming. */
#define PRELUDE_MAX (16u * 1024)

struct InvStream {
        uv_timer_t timer; /* the bandwidth rule's wait */
        Invocation *inv;
        uint64_t bytes;        /* streamed by the runtime so far */
        uint64_t burst_end_ns; /* when the burst was used up; 0 before */
        bool paused_rate;
        bool paused_caller;
        bool begun; /* the caller's status and headers went out */
        bool ended;
        /* An HTTP front-end caller (inv->http_stream): the prelude until its 8 NULs, or the
         * whole stream collected into inv->result when it has none. */
        Buf head;
        bool collect;
};

static void apply_pause(InvStream *s) {
        Invocation *inv = s->inv;
        ExecEnv *env = inv->env;

        if (!env || env->inv != inv)
                return;
        rapi_stream_pause(&env->rapi, !s->ended && (s->paused_rate || s->paused_caller));
}

static void rate_timer_cb(uv_timer_t *t) {
        InvStream *s = t->data;

        s->paused_rate = false;
        apply_pause(s);
}

/* The bandwidth rule: once the burst is through, byte n may leave no earlier than
 * (n - burst) / rate seconds after that moment. */
static void pace(InvStream *s) {
        const CfgStreaming *cfg = &s->inv->fn->cfg->streaming;

        if (s->bytes <= cfg->burst_bytes)
                return;
        uint64_t now = clock_mono_ns();
        if (!s->burst_end_ns)
                s->burst_end_ns = now;
        double due = (double) s->burst_end_ns +
                     (double) (s->bytes - cfg->burst_bytes) * 1e9 / (double) cfg->rate_bytes_per_s;
        if (due <= (double) now)
                return;
        uint64_t wait_ms = (uint64_t) ceil((due - (double) now) / 1e6);
        s->paused_rate = true;
        uv_timer_start(&s->timer, rate_timer_cb, wait_ms, 0);
}

static void caller_written(HttpConn *c) {
        Invocation *inv = c->data;

        if (!inv || !inv->stream || !inv->stream->paused_caller)
                return;
        if (http_conn_write_queue(c) > STREAM_QUEUE_LOW)
                return;
        inv->stream->paused_caller = false;
        apply_pause(inv->stream);
}

/* The stream's headers: spec §2.2 and lemu's environment and cold-start headers. */
static void begin_caller(HttpConn *c, Invocation *inv) {
        Buf h = BUF_INIT;

        http_add_header(&h, "Content-Type", EVENTSTREAM_CT);
        http_add_header(&h, "X-Amzn-RequestId", "%s", inv->request_id);
        http_add_header(&h, "X-Amz-Executed-Version", "$LATEST");
        if (inv->env) {
                http_add_header(&h, "X-Lemu-Environment-Id", "%s", inv->env->name);
                http_add_header(&h, "X-Lemu-Cold-Start", "%s", inv->cold ? "true" : "false");
                if (inv->cold)
                        http_add_header(&h, "X-Lemu-Init-Duration-Ms", "%.2f", inv->init_ms);
        }
        http_stream_begin(c, 200, h.data);
        buf_free(&h);
        c->written_cb = caller_written;
}

static void send_event(HttpConn *c, const char *type, const char *ct, const void *p, size_t n) {
        Buf f = BUF_INIT;

        es_event(&f, type, ct, p, n);
        http_stream_write(c, f.data, f.len);
        buf_free(&f);
}

/* The HTTP caller's stream is gathered into inv->result under the buffered cap, and
 * answered whole when the invocation ends (httpfront.c). */
static void http_collect(InvStream *s) {
        Invocation *inv = s->inv;
        ExecEnv *env = inv->env;

        s->collect = true;
        if (s->head.len)
                buf_append(&inv->result, s->head.data, s->head.len);
        buf_free(&s->head);
        inv->event.stream_max = RAPI_MAX_RESPONSE;
        if (env && env->inv == inv)
                env->rapi.stream_max = RAPI_MAX_RESPONSE;
}

/* The next bytes of an HTTP caller's stream: the prelude is gathered until its 8 NULs, then
 * the status and headers go out, and each later piece as one chunk. */
static void http_data(InvStream *s, const char *data, size_t len) {
        static const char nuls[8] = { 0 };
        Invocation *inv = s->inv;
        HttpConn *c = inv->caller;

        if (s->collect) {
                buf_append(&inv->result, data, len);
                return;
        }
        if (s->begun) {
                if (c)
                        http_stream_write(c, data, len);
                return;
        }
        size_t from = s->head.len > sizeof(nuls) ? s->head.len - sizeof(nuls) + 1 : 0, at;
        buf_append(&s->head, data, len);
        for (at = from; at + sizeof(nuls) <= s->head.len; at++)
                if (memcmp(s->head.data + at, nuls, sizeof(nuls)) == 0)
                        break;
        if (at + sizeof(nuls) > s->head.len) {
                if (s->head.len > PRELUDE_MAX)
                        http_collect(s);
                return;
        }
        Buf h = BUF_INIT;
        int status;
        if (!httpfront_prelude(inv, s->head.data, at, &status, &h) || status < 200 ||
            status == 204 || status == 304) {
                /* Answered once the invocation ends: a malformed prelude, or a status whose
                 * response has no body, hence no chunks. */
                buf_free(&h);
                http_collect(s);
                return;
        }
        s->begun = true;
        if (c) {
                http_stream_begin(c, status, h.data);
                c->written_cb = caller_written;
                http_stream_write(c, s->head.data + at + sizeof(nuls),
                                  s->head.len - at - sizeof(nuls));
        }
        buf_free(&h);
        buf_free(&s->head);
}

void stream_begin(Invocation *inv, const char *content_type) {
        if (!inv->stream) {
                InvStream *s = xcalloc(1, sizeof(*s));
                s->inv = inv;
                uv_timer_init(inv->emu->loop, &s->timer);
                s->timer.data = s;
                inv->stream = s;
        }
        inv->streamed = true;
        str_copy(inv->content_type, sizeof(inv->content_type), content_type);
        if (inv->stream_caller && inv->caller && !inv->stream->begun) {
                inv->stream->begun = true;
                begin_caller(inv->caller, inv);
        }
        if (inv->http_stream && !inv->stream->begun && !inv->stream->collect &&
            strncasecmp(content_type, HTTP_INTEGRATION_CT, strlen(HTTP_INTEGRATION_CT)) != 0)
                http_collect(inv->stream);
}

void stream_data(Invocation *inv, const char *data, size_t len) {
        InvStream *s = inv->stream;

        if (!s || len == 0)
                return;
        s->bytes += len;
        if (inv->http_stream) {
                http_data(s, data, len);
                if (s->begun && inv->caller &&
                    http_conn_write_queue(inv->caller) > STREAM_QUEUE_HIGH)
                        s->paused_caller = true;
        } else if (!inv->stream_caller) {
                /* The runtime's cap (the event's stream_max) bounds what is collected. */
                buf_append(&inv->result, data, len);
        } else if (inv->caller) {
                send_event(inv->caller, "PayloadChunk", "application/octet-stream", data, len);
                if (http_conn_write_queue(inv->caller) > STREAM_QUEUE_HIGH)
                        s->paused_caller = true;
        }
        pace(s);
        apply_pause(s);
}

void stream_ended(Invocation *inv) {
        InvStream *s = inv->stream;

        if (!s)
                return;
        /* A prelude that never ended: the answer is what was collected. */
        if (inv->http_stream && !s->begun && !s->collect)
                http_collect(s);
        /* Whatever is left of the runtime's body is read (and dropped) without waiting. */
        s->ended = true;
        uv_timer_stop(&s->timer);
        apply_pause(s);
}

void stream_caller_gone(Invocation *inv) {
        if (!inv->stream)
                return;
        inv->stream->paused_caller = false;
        apply_pause(inv->stream);
}

/* InvokeComplete's payload: ErrorCode and ErrorDetails for a failed invocation (spec §2.2:
 * the error type and the error JSON), LogResult with Tail. */
static char *complete_json(Invocation *inv) {
        cJSON *j = cJSON_CreateObject();

        if (inv->function_error) {
                const char *code = inv->error_code[0]   ? inv->error_code
                                   : inv->error_type[0] ? inv->error_type
                                                        : "Unhandled";
                cJSON_AddStringToObject(j, "ErrorCode", code);
                if (inv->result.len)
                        cJSON_AddStringToObject(j, "ErrorDetails", inv->result.data);
        }
        if (inv->log_tail) {
                Buf tail = BUF_INIT;
                logs_tail_base64(inv, &tail);
                cJSON_AddStringToObject(j, "LogResult", tail.data ? tail.data : "");
                buf_free(&tail);
        }
        char *s = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        return s;
}

void stream_respond(HttpConn *c, Invocation *inv) {
        InvStream *s = inv->stream;

        if (!s || !s->begun) {
                /* The runtime answered in one piece (or failed before streaming): the stream
                 * opens now and carries the whole body. */
                begin_caller(c, inv);
                if (!inv->function_error && inv->result.len)
                        send_event(c, "PayloadChunk", "application/octet-stream", inv->result.data,
                                   inv->result.len);
        }
        char *done = complete_json(inv);
        send_event(c, "InvokeComplete", "application/json", done, strlen(done));
        cJSON_free(done);
        c->written_cb = NULL;
        http_stream_end(c);
}

static void stream_closed(uv_handle_t *h) {
        free(h->data);
}

bool stream_began(const Invocation *inv) {
        return inv->stream && inv->stream->begun;
}

void stream_free(Invocation *inv) {
        InvStream *s = inv->stream;

        if (!s)
                return;
        buf_free(&s->head);
        inv->stream = NULL;
        s->inv = NULL;
        uv_close((uv_handle_t *) &s->timer, stream_closed);
}
