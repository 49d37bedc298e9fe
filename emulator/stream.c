/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Streamed responses to their callers (spec §2.2): event-stream framing toward an
 * InvokeWithResponseStream caller, collection for every other caller, and the two reasons
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

#include <uv.h>
#include <cjson/cJSON.h>

#include "codec.h"
#include "eventstream.h"
#include "macro.h"
#include "stream.h"
#include "xalloc.h"

#define EVENTSTREAM_CT "application/vnd.amazon.eventstream"

struct InvStream {
        uv_timer_t timer; /* the bandwidth rule's wait */
        Invocation *inv;
        uint64_t bytes;        /* streamed by the runtime so far */
        uint64_t burst_end_ns; /* when the burst was used up; 0 before */
        bool paused_rate;
        bool paused_caller;
        bool begun; /* the caller's 200 and headers went out */
        bool ended;
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

void stream_begin(Invocation *inv, const char *content_type) {
        if (!inv->stream) {
                InvStream *s = xcalloc(1, sizeof(*s));
                s->inv = inv;
                uv_timer_init(inv->emu->loop, &s->timer);
                s->timer.data = s;
                inv->stream = s;
        }
        inv->streamed = true;
        snprintf(inv->content_type, sizeof(inv->content_type), "%s", content_type);
        if (inv->stream_caller && inv->caller && !inv->stream->begun) {
                inv->stream->begun = true;
                begin_caller(inv->caller, inv);
        }
}

void stream_data(Invocation *inv, const char *data, size_t len) {
        InvStream *s = inv->stream;

        if (!s || len == 0)
                return;
        s->bytes += len;
        if (!inv->stream_caller) {
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

void stream_free(Invocation *inv) {
        InvStream *s = inv->stream;

        if (!s)
                return;
        inv->stream = NULL;
        s->inv = NULL;
        uv_close((uv_handle_t *) &s->timer, stream_closed);
}
