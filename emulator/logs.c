/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lambda's platform lines (spec §4.4), byte-exact after a "[<function>/<environment>] "
 * prefix, and the function's output line by line. --log-format json writes one JSON object a
 * line in the Telemetry API's envelope ({"time","type","record"}) with "function" and
 * "environment" added so that lines of many environments can be told apart.
 *
 * Output never blocks the loop: pipes and terminals are written through libuv (bounded
 * queue, then lines are dropped and counted), regular files with write(2), which does not
 * wait on a reader. Lines are gathered and written once a loop iteration, and at most once
 * in LOGS_FLUSH_MS while lemu is busy.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "codec.h"
#include "emulator.h"
#include "logs.h"
#include "env-tel.h"
#include "macro.h"
#include "xalloc.h"

typedef struct LogWrite {
        uv_write_t req;
        Logs *logs;
        size_t len;
        char data[];
} LogWrite;

static void write_now(Logs *l, const char *p, size_t n);

int logs_init(Logs *l, uv_loop_t *loop, int fd, CfgLogFormat format) {
        memset(l, 0, sizeof(*l));
        l->loop = loop;
        l->format = format;
        l->fd = fd;
        uv_check_init(loop, &l->flush);
        uv_unref((uv_handle_t *) &l->flush);
        uv_timer_init(loop, &l->flush_timer);
        uv_unref((uv_handle_t *) &l->flush_timer);
        switch (uv_guess_handle(fd)) {
        case UV_TTY:
                if (uv_tty_init(loop, &l->h.tty, fd, 0) == 0)
                        l->stream = (uv_stream_t *) &l->h.tty;
                break;
        case UV_NAMED_PIPE:
                if (uv_pipe_init(loop, &l->h.pipe, 0) == 0) {
                        if (uv_pipe_open(&l->h.pipe, fd) == 0)
                                l->stream = (uv_stream_t *) &l->h.pipe;
                        else
                                uv_close((uv_handle_t *) &l->h.pipe, NULL);
                }
                break;
        default:
                break;
        }
        return 0;
}

void logs_close(Logs *l) {
        if (l->closed)
                return;
        logs_flush(l);
        buf_free(&l->pending);
        l->closed = true;
        uv_close((uv_handle_t *) &l->flush, NULL);
        uv_close((uv_handle_t *) &l->flush_timer, NULL);
        if (l->stream && !uv_is_closing((uv_handle_t *) l->stream)) {
                /* Restore blocking mode so that whatever is printed after the loop is whole. */
                if (l->stream->type == UV_TTY)
                        uv_tty_reset_mode();
                uv_close((uv_handle_t *) l->stream, NULL);
        }
        l->stream = NULL;
}

static void write_done(uv_write_t *req, int status) {
        LogWrite *w = container_of(req, LogWrite, req);

        w->logs->queued -= w->len;
        free(w);
}

void logs_flush(Logs *l) {
        if (l->pending.len) {
                write_now(l, l->pending.data, l->pending.len);
                buf_reset(&l->pending);
                l->last_flush_ms = uv_now(l->loop);
        }
        if (l->flush_on) {
                /* The timer is left to run out (it finds nothing, or the next lines): a
                 * stop and a start per flush cost more than a spare wake-up a millisecond. */
                uv_check_stop(&l->flush);
                l->flush_on = false;
        }
}

/* Lines logged during one loop iteration go out in one write, after the iteration's I/O. */
static void flush_cb(uv_check_t *h) {
        logs_flush(container_of(h, Logs, flush));
}

static void flush_timer_cb(uv_timer_t *t) {
        logs_flush(container_of(t, Logs, flush_timer));
}

void logs_write(Logs *l, const char *p, size_t n) {
        if (l->quiet || n == 0)
                return;
        if (l->closed) {
                write_now(l, p, n);
                return;
        }
        if (l->pending.len + n > 256 * 1024)
                logs_flush(l);
        buf_append(&l->pending, p, n);
        if (!l->flush_on) {
                uint64_t now = uv_now(l->loop);
                l->flush_on = true;
                if (now - l->last_flush_ms >= LOGS_FLUSH_MS)
                        uv_check_start(&l->flush, flush_cb);
                else if (!uv_is_active((uv_handle_t *) &l->flush_timer))
                        uv_timer_start(&l->flush_timer, flush_timer_cb,
                                       l->last_flush_ms + LOGS_FLUSH_MS - now, 0);
        }
}

static void write_now(Logs *l, const char *p, size_t n) {
        if (n == 0)
                return;
        if (!l->stream) {
                while (n > 0) {
                        ssize_t r = write(l->fd, p, n);
                        if (r < 0 && errno == EINTR)
                                continue;
                        if (r <= 0)
                                return;
                        p += r;
                        n -= (size_t) r;
                }
                return;
        }
        uv_buf_t b = uv_buf_init((char *) p, (unsigned) n);
        if (l->queued == 0) {
                int r = uv_try_write(l->stream, &b, 1);
                if (r == (int) n)
                        return;
                if (r > 0) {
                        p += r;
                        n -= (size_t) r;
                }
        }
        if (l->queued + n > LOGS_QUEUE_MAX) {
                l->dropped_lines++;
                return;
        }
        LogWrite *w = xmalloc(sizeof(*w) + n);
        w->logs = l;
        w->len = n;
        memcpy(w->data, p, n);
        b = uv_buf_init(w->data, (unsigned) n);
        l->queued += n;
        if (uv_write(&w->req, l->stream, &b, 1, write_done) < 0) {
                l->queued -= n;
                free(w);
        }
}

uint64_t logs_billed_ms(double ms) {
        uint64_t b = (uint64_t) ceil(ms - 1e-9);

        return b ? b : 1;
}

static void iso_time(char *out, size_t n) {
        struct timespec ts;
        struct tm tm;

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out + k, n - k, ".%03ldZ", ts.tv_nsec / 1000000);
}

void logs_keep(Invocation *inv, const char *line, size_t len) {
        if (!inv)
                return;
        if (inv->log.len > 0 && inv->log.len + len + 1 > 2 * LOGS_INV_KEEP) {
                /* Keep the newest half: the tail is what callers ask for. A line longer than
                 * that half is the newest half by itself: everything before it goes. */
                size_t drop =
                        inv->log.len > LOGS_INV_KEEP ? inv->log.len - LOGS_INV_KEEP : inv->log.len;
                const char *nl = memchr(inv->log.data + drop, '\n', inv->log.len - drop);
                if (nl)
                        drop = (size_t) (nl - inv->log.data) + 1;
                memmove(inv->log.data, inv->log.data + drop, inv->log.len - drop);
                inv->log.len -= drop;
                inv->log_truncated = true;
        }
        buf_append(&inv->log, line, len);
        buf_append(&inv->log, "\n", 1);
}

void logs_tail_base64(const Invocation *inv, Buf *out) {
        size_t start = 0;

        if (inv->log.len > LOGS_TAIL_BYTES) {
                start = inv->log.len - LOGS_TAIL_BYTES;
                /* Do not cut a UTF-8 sequence in half. */
                while (start < inv->log.len &&
                       ((unsigned char) inv->log.data[start] & 0xc0) == 0x80)
                        start++;
        }
        base64_encode(out, inv->log.data ? inv->log.data + start : "", inv->log.len - start);
}

static void prefix_of(ExecEnv *env, Buf *b) {
        buf_append(b, "[", 1);
        buf_puts(b, env->fn->cfg->name);
        buf_append(b, "/", 1);
        buf_puts(b, env->name);
        buf_append(b, "] ", 2);
}

/* A text line: "[fn/env] text\n", kept in the invocation's log without the prefix. */
static void emit_text(Logs *l, ExecEnv *env, Invocation *inv, const char *text, size_t len) {
        Buf b = BUF_INIT;

        logs_keep(inv, text, len);
        if (l->quiet)
                return;
        prefix_of(env, &b);
        buf_append(&b, text, len);
        buf_append(&b, "\n", 1);
        logs_write(l, b.data, b.len);
        buf_free(&b);
}

/* Two text lines in one write (END and REPORT). */
static void emit_text2(Logs *l, ExecEnv *env, Invocation *inv, const char *a, size_t alen,
                       const char *b2, size_t blen) {
        Buf b = BUF_INIT;

        logs_keep(inv, a, alen);
        logs_keep(inv, b2, blen);
        if (l->quiet)
                return;
        buf_reserve(&b, 2 * 64 + alen + blen);
        prefix_of(env, &b);
        buf_append(&b, a, alen);
        buf_append(&b, "\n", 1);
        prefix_of(env, &b);
        buf_append(&b, b2, blen);
        buf_append(&b, "\n", 1);
        logs_write(l, b.data, b.len);
        buf_free(&b);
}

/* A JSON line in the Telemetry envelope; @record is consumed. */
static void emit_json(Logs *l, ExecEnv *env, const char *type, cJSON *record) {
        char t[40];
        cJSON *o = cJSON_CreateObject();

        iso_time(t, sizeof(t));
        cJSON_AddStringToObject(o, "time", t);
        cJSON_AddStringToObject(o, "type", type);
        cJSON_AddItemToObject(o, "record", record);
        cJSON_AddStringToObject(o, "function", env->fn->cfg->name);
        cJSON_AddStringToObject(o, "environment", env->name);
        char *s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!l->quiet) {
                size_t n = strlen(s);
                s[n] = '\n';
                logs_write(l, s, n + 1);
                s[n] = '\0';
        }
        cJSON_free(s);
}

static void output_line(Logs *l, ExecEnv *env, const char *type, const char *line, size_t len) {
        envt_line(env, type[0] == 'e', line, len);
        if (l->format == CFG_LOG_JSON) {
                logs_keep(env->inv, line, len);
                char *s = xstrndup(line, len);
                emit_json(l, env, type, cJSON_CreateString(s));
                free(s);
                return;
        }
        emit_text(l, env, env->inv, line, len);
}

void logs_function_line(Logs *l, ExecEnv *env, const char *line, size_t len) {
        output_line(l, env, "function", line, len);
}

void logs_extension_line(Logs *l, ExecEnv *env, const char *line, size_t len) {
        output_line(l, env, "extension", line, len);
}

static const char *init_type(ExecEnv *env) {
        return env->provisioned ? "provisioned-concurrency" : "on-demand";
}

void logs_init_start(Logs *l, ExecEnv *env) {
        envt_init_start(env);
        char line[256];

        if (l->format == CFG_LOG_JSON) {
                cJSON *r = cJSON_CreateObject();
                cJSON_AddStringToObject(r, "initializationType", init_type(env));
                cJSON_AddStringToObject(r, "phase", env->init_phase_invoke ? "invoke" : "init");
                cJSON_AddStringToObject(r, "runtimeVersion", "provided:al2023.lemu");
                cJSON_AddStringToObject(r, "runtimeVersionArn",
                                        "arn:aws:lambda:us-east-1::runtime:lemu");
                cJSON_AddStringToObject(r, "functionName", env->fn->cfg->name);
                cJSON_AddStringToObject(r, "functionVersion", "$LATEST");
                emit_json(l, env, "platform.initStart", r);
                return;
        }
        int n = snprintf(line, sizeof(line),
                         "INIT_START Runtime Version: provided:al2023.lemu\tRuntime Version ARN: "
                         "arn:aws:lambda:%s::runtime:lemu",
                         env->emu->cfg->region);
        emit_text(l, env, NULL, line, (size_t) n);
}

void logs_start(Logs *l, Invocation *inv) {
        envt_start(inv);
        char line[17 + sizeof(inv->request_id) + 17];

        if (l->format == CFG_LOG_JSON) {
                cJSON *r = cJSON_CreateObject();
                cJSON_AddStringToObject(r, "requestId", inv->request_id);
                cJSON_AddStringToObject(r, "version", "$LATEST");
                logs_keep(inv, "", 0);
                emit_json(l, inv->env, "platform.start", r);
                return;
        }
        /* Without printf: START, END and REPORT are on every invocation's path. */
        size_t n = strlen(inv->request_id);
        memcpy(line, "START RequestId: ", 17);
        memcpy(line + 17, inv->request_id, n);
        memcpy(line + 17 + n, " Version: $LATEST", 17);
        emit_text(l, inv->env, inv, line, 17 + n + 17);
}

void logs_end_report(Logs *l, Invocation *inv) {
        envt_end_report(inv);
        char line[15 + sizeof(inv->request_id)];
        ExecEnv *env = inv->env;
        unsigned mem = env->fn->cfg->memory_mb;
        double billed_base =
                inv->duration_ms + (inv->cold && !inv->suppressed_init ? inv->init_ms : 0);

        if (l->format == CFG_LOG_JSON) {
                cJSON *r = cJSON_CreateObject();
                cJSON_AddStringToObject(r, "requestId", inv->request_id);
                cJSON_AddStringToObject(r, "status", inv_status_name(inv->status));
                if (inv->error_type[0] && inv->status != INV_SUCCESS)
                        cJSON_AddStringToObject(r, "errorType", inv->error_type);
                cJSON *m = cJSON_AddObjectToObject(r, "metrics");
                cJSON_AddNumberToObject(m, "durationMs", round(inv->duration_ms * 100) / 100);
                cJSON_AddNumberToObject(m, "billedDurationMs",
                                        (double) logs_billed_ms(billed_base));
                cJSON_AddNumberToObject(m, "memorySizeMB", mem);
                cJSON_AddNumberToObject(m, "maxMemoryUsedMB", inv->max_memory_mb);
                if (inv->cold && !inv->suppressed_init)
                        cJSON_AddNumberToObject(m, "initDurationMs",
                                                round(inv->init_ms * 100) / 100);
                logs_keep(inv, "", 0);
                emit_json(l, env, "platform.report", r);
                return;
        }
        size_t n = strlen(inv->request_id);
        memcpy(line, "END RequestId: ", 15);
        memcpy(line + 15, inv->request_id, n);
        Buf b = BUF_INIT;
        buf_reserve(&b, 256);
        buf_puts(&b, "REPORT RequestId: ");
        buf_puts(&b, inv->request_id);
        buf_puts(&b, "\tDuration: ");
        buf_put_fixed2(&b, inv->duration_ms);
        buf_puts(&b, " ms\tBilled Duration: ");
        buf_put_u64(&b, logs_billed_ms(billed_base));
        buf_puts(&b, " ms\tMemory Size: ");
        buf_put_u64(&b, mem);
        buf_puts(&b, " MB\tMax Memory Used: ");
        buf_put_u64(&b, inv->max_memory_mb);
        buf_puts(&b, " MB\t");
        if (inv->cold && !inv->suppressed_init) {
                buf_puts(&b, "Init Duration: ");
                buf_put_fixed2(&b, inv->init_ms);
                buf_puts(&b, " ms\t");
        }
        if (inv->status == INV_TIMEOUT)
                buf_puts(&b, "Status: timeout\t");
        else if (inv->status != INV_SUCCESS && inv->status != INV_ERROR)
                buf_printf(&b, "Status: error\tError Type: %s\t", inv->error_type);
        emit_text2(l, env, inv, line, 15 + n, b.data, b.len);
        buf_free(&b);
}

void logs_init_report(Logs *l, ExecEnv *env, double ms, bool phase_invoke, const char *status,
                      const char *error_type) {
        envt_init_report(env, ms, phase_invoke, status, error_type);
        if (l->format == CFG_LOG_JSON) {
                cJSON *r = cJSON_CreateObject();
                cJSON_AddStringToObject(r, "initializationType", init_type(env));
                cJSON_AddStringToObject(r, "phase", phase_invoke ? "invoke" : "init");
                cJSON_AddStringToObject(r, "status", status);
                if (error_type)
                        cJSON_AddStringToObject(r, "errorType", error_type);
                cJSON *m = cJSON_AddObjectToObject(r, "metrics");
                cJSON_AddNumberToObject(m, "durationMs", round(ms * 100) / 100);
                emit_json(l, env, "platform.initReport", r);
                return;
        }
        Buf b = BUF_INIT;
        buf_printf(&b, "INIT_REPORT Init Duration: %.2f ms\tPhase: %s\tStatus: %s", ms,
                   phase_invoke ? "invoke" : "init", status);
        if (error_type)
                buf_printf(&b, "\tError Type: %s", error_type);
        emit_text(l, env, env->inv, b.data, b.len);
        buf_free(&b);
}

void logs_platform_note(Logs *l, ExecEnv *env, Invocation *inv, const char *text) {
        if (l->format == CFG_LOG_JSON) {
                logs_keep(inv, text, strlen(text));
                emit_json(l, env, "platform.fault", cJSON_CreateString(text));
                return;
        }
        emit_text(l, env, inv, text, strlen(text));
}
