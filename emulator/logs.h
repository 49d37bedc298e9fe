/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "buf.h"
#include "config.h"

/*
 * Lambda's log lines and the function's output, written to lemu's stderr without blocking
 * the loop (a slow reader costs queued bytes, bounded, then dropped lines — counted), and
 * kept per invocation (bounded) for X-Amz-Log-Result and the records.
 */

struct Invocation;
struct ExecEnv;

#define LOGS_QUEUE_MAX  (16u * 1024 * 1024)
#define LOGS_INV_KEEP   (64u * 1024)
#define LOGS_TAIL_BYTES 4096
/* Lines are written at most once a loop iteration and, on a busy daemon, once in this many
 * ms: a warm invocation's START, END and REPORT then cost a fraction of a write(2). */
#define LOGS_FLUSH_MS 1

typedef struct Logs {
        uv_loop_t *loop;
        CfgLogFormat format;
        int fd;
        uv_stream_t *stream; /* a pipe or tty on fd, or NULL: plain write() (files) */
        union {
                uv_pipe_t pipe;
                uv_tty_t tty;
        } h;
        uv_check_t flush;       /* writes what the loop iteration logged, at once ... */
        uv_timer_t flush_timer; /* ... or, within LOGS_FLUSH_MS of the last write, later */
        uint64_t last_flush_ms; /* uv_now() of the last write */
        Buf pending;
        bool flush_on;
        bool closed; /* after logs_close(): lines are written as they come */
        uint64_t queued;
        uint64_t dropped_lines;
        bool quiet; /* tests: keep per-invocation logs, print nothing */
} Logs;

int logs_init(Logs *l, uv_loop_t *loop, int fd, CfgLogFormat format);
void logs_close(Logs *l);
/* Writes bytes as they are (already formatted lines), by the end of the loop iteration or
 * within LOGS_FLUSH_MS. */
void logs_write(Logs *l, const char *p, size_t n);
/* Writes what is pending now. */
void logs_flush(Logs *l);

/* One line of the function's output (without its newline). */
void logs_function_line(Logs *l, struct ExecEnv *env, const char *line, size_t len);
/* One line of an external extension's output (their stdout and stderr, mixed as on Lambda). */
void logs_extension_line(Logs *l, struct ExecEnv *env, const char *line, size_t len);
void logs_init_start(Logs *l, struct ExecEnv *env);
void logs_start(Logs *l, struct Invocation *inv);
/* END and REPORT; status/error type from the invocation. */
void logs_end_report(Logs *l, struct Invocation *inv);
/* INIT_REPORT for a failed or timed-out init. */
void logs_init_report(Logs *l, struct ExecEnv *env, double ms, bool phase_invoke,
                      const char *status, const char *error_type);
/* A platform note inside an invocation ("Task timed out…", "RequestId: … Error: …"). */
void logs_platform_note(Logs *l, struct ExecEnv *env, struct Invocation *inv, const char *text);

/* Appends one line to an invocation's bounded log. */
void logs_keep(struct Invocation *inv, const char *line, size_t len);
/* The last 4 KB of an invocation's log, base64-encoded, into @out. */
void logs_tail_base64(const struct Invocation *inv, Buf *out);

/* "2.47" style: ms with two decimals; billed = ceil to 1 ms. */
uint64_t logs_billed_ms(double ms);
