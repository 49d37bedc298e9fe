/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the log module: billed milliseconds, the bounded per-invocation log and its
 * base64 tail, and the platform lines of spec §4.4 byte for byte — both as kept in the
 * invocation's log (no prefix) and as written to lemu's output ("[function/env] " prefix),
 * which a memfd captures. The Invocation, ExecEnv, Function and Emulator are built by hand
 * with only the fields the log lines read.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <uv.h>

#include "codec.h"
#include "emulator.h"
#include "logs.h"

#define RID "3f4c2a1e-9b7d-4e21-8a6f-0123456789ab"

/* ---- logs_billed_ms ---- */

static void test_billed_ms(void **state) {
        assert_int_equal(logs_billed_ms(0.0), 1);
        assert_int_equal(logs_billed_ms(0.1), 1);
        assert_int_equal(logs_billed_ms(1.0), 1);
        assert_int_equal(logs_billed_ms(1.01), 2);
        assert_int_equal(logs_billed_ms(2.0), 2);
        assert_int_equal(logs_billed_ms(31.37), 32);
        assert_int_equal(logs_billed_ms(539.15 + 31.37), 571);
        assert_int_equal(logs_billed_ms(180000.45), 180001);
}

/* ---- a hand-built world ---- */

typedef struct World {
        Config cfg;
        Emulator emu;
        FunctionConfig fcfg;
        Function fn;
        ExecEnv env;
        Invocation inv;
        Logs logs;
        uv_loop_t loop;
        int fd; /* captures lemu's output (/dev/null when quiet) */
} World;

static World *world_new(bool capture, CfgLogFormat format) {
        World *w = calloc(1, sizeof(*w));

        assert_non_null(w);
        w->cfg.region = (char *) "eu-west-3";
        w->emu.cfg = &w->cfg;
        w->fcfg.name = (char *) "hello";
        w->fcfg.memory_mb = 128;
        w->fn.cfg = &w->fcfg;
        w->fn.emu = &w->emu;
        w->env.emu = &w->emu;
        w->env.fn = &w->fn;
        snprintf(w->env.name, sizeof(w->env.name), "hello-1");
        w->inv.emu = &w->emu;
        w->inv.fn = &w->fn;
        w->inv.env = &w->env;
        snprintf(w->inv.request_id, sizeof(w->inv.request_id), "%s", RID);
        w->env.inv = &w->inv;
        assert_int_equal(uv_loop_init(&w->loop), 0);
        w->fd = -1;
        if (capture) {
                w->fd = memfd_create("lemu-test-logs", MFD_CLOEXEC);
                assert_true(w->fd >= 0);
                assert_int_equal(logs_init(&w->logs, &w->loop, w->fd, format), 0);
                assert_null(w->logs.stream); /* a file: plain write() */
        } else {
                /* Not stderr: libuv would take a pipe over (and close it with the logs). */
                w->fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
                assert_true(w->fd >= 0);
                assert_int_equal(logs_init(&w->logs, &w->loop, w->fd, format), 0);
                w->logs.quiet = true;
        }
        return w;
}

static void world_free(World *w) {
        logs_close(&w->logs);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&w->loop), 0);
        if (w->fd >= 0)
                close(w->fd);
        buf_free(&w->inv.log);
        free(w);
}

/* Everything written to the capture so far, NUL-terminated (free() it). */
static char *captured(World *w) {
        assert_false(w->logs.quiet);
        logs_flush(&w->logs);
        off_t n = lseek(w->fd, 0, SEEK_END);
        char *p = calloc(1, (size_t) n + 1);

        assert_non_null(p);
        assert_int_equal(pread(w->fd, p, (size_t) n, 0), n);
        return p;
}

static const char *kept(World *w) {
        return w->inv.log.data ? w->inv.log.data : "";
}

/* ---- platform lines, text format ---- */

static void test_start_end_report_warm(void **state) {
        World *w = world_new(false, CFG_LOG_TEXT);

        w->inv.duration_ms = 1.23;
        w->inv.max_memory_mb = 5;
        w->inv.status = INV_SUCCESS;
        logs_start(&w->logs, &w->inv);
        logs_end_report(&w->logs, &w->inv);
        assert_string_equal(kept(w), "START RequestId: " RID " Version: $LATEST\n"
                                     "END RequestId: " RID "\n"
                                     "REPORT RequestId: " RID "\tDuration: 1.23 ms\t"
                                     "Billed Duration: 2 ms\tMemory Size: 128 MB\t"
                                     "Max Memory Used: 5 MB\t\n");
        assert_false(w->inv.log_truncated);
        world_free(w);
}

static void test_report_cold(void **state) {
        World *w = world_new(false, CFG_LOG_TEXT);

        w->fcfg.memory_mb = 1769;
        w->inv.cold = true;
        w->inv.init_ms = 539.15;
        w->inv.duration_ms = 31.37;
        w->inv.max_memory_mb = 81;
        w->inv.status = INV_SUCCESS;
        logs_end_report(&w->logs, &w->inv);
        /* Billed: ceil(init + duration) = ceil(570.52). */
        assert_string_equal(kept(w), "END RequestId: " RID "\n"
                                     "REPORT RequestId: " RID "\tDuration: 31.37 ms\t"
                                     "Billed Duration: 571 ms\tMemory Size: 1769 MB\t"
                                     "Max Memory Used: 81 MB\tInit Duration: 539.15 ms\t\n");
        world_free(w);
}

static void test_report_status_variants(void **state) {
        World *w = world_new(false, CFG_LOG_TEXT);

        /* A timeout. */
        w->inv.duration_ms = 3000.0;
        w->inv.max_memory_mb = 40;
        w->inv.status = INV_TIMEOUT;
        snprintf(w->inv.error_type, sizeof(w->inv.error_type), "Sandbox.Timedout");
        logs_end_report(&w->logs, &w->inv);
        assert_string_equal(kept(w), "END RequestId: " RID "\n"
                                     "REPORT RequestId: " RID "\tDuration: 3000.00 ms\t"
                                     "Billed Duration: 3000 ms\tMemory Size: 128 MB\t"
                                     "Max Memory Used: 40 MB\tStatus: timeout\t\n");
        buf_reset(&w->inv.log);

        /* A platform failure (crash) names its error type. */
        w->inv.duration_ms = 12.5;
        w->inv.status = INV_FAILURE;
        snprintf(w->inv.error_type, sizeof(w->inv.error_type), "Runtime.ExitError");
        logs_end_report(&w->logs, &w->inv);
        assert_string_equal(kept(w), "END RequestId: " RID "\n"
                                     "REPORT RequestId: " RID "\tDuration: 12.50 ms\t"
                                     "Billed Duration: 13 ms\tMemory Size: 128 MB\t"
                                     "Max Memory Used: 40 MB\tStatus: error\t"
                                     "Error Type: Runtime.ExitError\t\n");
        buf_reset(&w->inv.log);

        /* A function error reported through /error has no Status field. */
        w->inv.status = INV_ERROR;
        snprintf(w->inv.error_type, sizeof(w->inv.error_type), "Runtime.Unknown");
        logs_end_report(&w->logs, &w->inv);
        assert_string_equal(kept(w), "END RequestId: " RID "\n"
                                     "REPORT RequestId: " RID "\tDuration: 12.50 ms\t"
                                     "Billed Duration: 13 ms\tMemory Size: 128 MB\t"
                                     "Max Memory Used: 40 MB\t\n");
        world_free(w);
}

static void test_init_report(void **state) {
        World *w = world_new(false, CFG_LOG_TEXT);

        logs_init_report(&w->logs, &w->env, 180000.45, true, "timeout", NULL);
        logs_init_report(&w->logs, &w->env, 12.3, false, "error", "Runtime.ExitError");
        assert_string_equal(kept(w),
                            "INIT_REPORT Init Duration: 180000.45 ms\tPhase: invoke\t"
                            "Status: timeout\n"
                            "INIT_REPORT Init Duration: 12.30 ms\tPhase: init\tStatus: error\t"
                            "Error Type: Runtime.ExitError\n");
        world_free(w);
}

static void test_prefixed_output(void **state) {
        World *w = world_new(true, CFG_LOG_TEXT);

        w->env.inv = NULL; /* init runs before any invocation */
        logs_init_start(&w->logs, &w->env);
        w->env.inv = &w->inv;
        w->inv.duration_ms = 1.5;
        w->inv.max_memory_mb = 7;
        logs_start(&w->logs, &w->inv);
        logs_function_line(&w->logs, &w->env, "hello from the function", 23);
        logs_platform_note(&w->logs, &w->env, &w->inv, "RequestId: " RID " Error: boom");
        logs_end_report(&w->logs, &w->inv);

        char *out = captured(w);
        assert_string_equal(out,
                            "[hello/hello-1] INIT_START Runtime Version: provided:al2023.lemu\t"
                            "Runtime Version ARN: arn:aws:lambda:eu-west-3::runtime:lemu\n"
                            "[hello/hello-1] START RequestId: " RID " Version: $LATEST\n"
                            "[hello/hello-1] hello from the function\n"
                            "[hello/hello-1] RequestId: " RID " Error: boom\n"
                            "[hello/hello-1] END RequestId: " RID "\n"
                            "[hello/hello-1] REPORT RequestId: " RID "\tDuration: 1.50 ms\t"
                            "Billed Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 7 MB\t"
                            "\n");
        free(out);
        /* The invocation keeps its lines without the prefix, INIT_START excluded. */
        assert_string_equal(kept(w), "START RequestId: " RID " Version: $LATEST\n"
                                     "hello from the function\n"
                                     "RequestId: " RID " Error: boom\n"
                                     "END RequestId: " RID "\n"
                                     "REPORT RequestId: " RID "\tDuration: 1.50 ms\t"
                                     "Billed Duration: 2 ms\tMemory Size: 128 MB\t"
                                     "Max Memory Used: 7 MB\t\n");
        world_free(w);
}

static void test_json_report(void **state) {
        World *w = world_new(true, CFG_LOG_JSON);

        w->inv.cold = true;
        w->inv.init_ms = 100.004;
        w->inv.duration_ms = 2.346;
        w->inv.max_memory_mb = 9;
        w->inv.status = INV_TIMEOUT;
        snprintf(w->inv.error_type, sizeof(w->inv.error_type), "Sandbox.Timedout");
        logs_end_report(&w->logs, &w->inv);

        char *out = captured(w);
        size_t n = strlen(out);
        assert_true(n > 0);
        assert_int_equal(out[n - 1], '\n');
        assert_null(memchr(out, '\n', n - 1)); /* one line */
        cJSON *j = cJSON_Parse(out);
        assert_non_null(j);
        assert_string_equal(cJSON_GetObjectItem(j, "type")->valuestring, "platform.report");
        assert_string_equal(cJSON_GetObjectItem(j, "function")->valuestring, "hello");
        assert_string_equal(cJSON_GetObjectItem(j, "environment")->valuestring, "hello-1");
        assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "time")));
        cJSON *r = cJSON_GetObjectItem(j, "record");
        assert_string_equal(cJSON_GetObjectItem(r, "requestId")->valuestring, RID);
        assert_string_equal(cJSON_GetObjectItem(r, "status")->valuestring, "timeout");
        assert_string_equal(cJSON_GetObjectItem(r, "errorType")->valuestring, "Sandbox.Timedout");
        cJSON *m = cJSON_GetObjectItem(r, "metrics");
        assert_true(cJSON_GetObjectItem(m, "durationMs")->valuedouble == 2.35);
        assert_int_equal(cJSON_GetObjectItem(m, "billedDurationMs")->valueint, 103);
        assert_int_equal(cJSON_GetObjectItem(m, "memorySizeMB")->valueint, 128);
        assert_int_equal(cJSON_GetObjectItem(m, "maxMemoryUsedMB")->valueint, 9);
        assert_true(cJSON_GetObjectItem(m, "initDurationMs")->valuedouble == 100.0);
        cJSON_Delete(j);
        free(out);
        world_free(w);
}

/* ---- logs_keep ---- */

static void test_keep_bounded(void **state) {
        World *w = world_new(false, CFG_LOG_TEXT);
        char line[1000];

        /* 200 lines of 1,000 bytes (1,001 with the newline). */
        for (int i = 0; i < 200; i++) {
                memset(line, '.', sizeof(line));
                int k = snprintf(line, sizeof(line), "line %05d ", i);
                line[k] = '.';
                logs_keep(&w->inv, line, sizeof(line));
                assert_true(w->inv.log.len <= 2 * LOGS_INV_KEEP);
        }
        assert_true(w->inv.log_truncated);
        /* The last trim (adding line 195 to lines 65..194) kept the lines that start inside
         * the newest 64 KiB: 130..194; then 195..199 came. Whole lines only. */
        assert_int_equal(w->inv.log.len, 70 * 1001);
        assert_memory_equal(w->inv.log.data, "line 00130 ", 11);
        for (int i = 0; i < 70; i++) {
                char want[16];
                snprintf(want, sizeof(want), "line %05d ", 130 + i);
                assert_memory_equal(w->inv.log.data + (size_t) i * 1001, want, 11);
                assert_int_equal(w->inv.log.data[(size_t) i * 1001 + 1000], '\n');
        }
        world_free(w);
}

static void test_keep_small_not_truncated(void **state) {
        World *w = world_new(false, CFG_LOG_TEXT);

        logs_keep(&w->inv, "a", 1);
        logs_keep(&w->inv, "", 0);
        logs_keep(&w->inv, "bc", 2);
        assert_string_equal(kept(w), "a\n\nbc\n");
        assert_false(w->inv.log_truncated);
        logs_keep(NULL, "ignored", 7); /* no invocation: nothing to keep */
        world_free(w);
}

static void test_keep_line_longer_than_half(void **state) {
        World *w = world_new(false, CFG_LOG_TEXT);
        size_t n = 140000; /* over 2 * LOGS_INV_KEEP by itself */
        char *big = malloc(n);

        assert_non_null(big);
        memset(big, 'B', n);
        logs_keep(&w->inv, "START", 5);
        logs_keep(&w->inv, big, n);
        /* The newest line is kept whole; the older ones go. */
        assert_true(w->inv.log_truncated);
        assert_int_equal(w->inv.log.len, n + 1);
        assert_int_equal(w->inv.log.data[0], 'B');
        assert_int_equal(w->inv.log.data[n], '\n');
        logs_keep(&w->inv, "after", 5);
        assert_true(w->inv.log.len <= 2 * LOGS_INV_KEEP);
        assert_int_equal(w->inv.log.len, 6);
        assert_string_equal(kept(w), "after\n");
        free(big);
        world_free(w);
}

/* ---- logs_tail_base64 ---- */

static void decode_tail(World *w, Buf *dec) {
        Buf enc = BUF_INIT;

        logs_tail_base64(&w->inv, &enc);
        assert_non_null(enc.data);
        assert_int_equal(base64_decode(dec, enc.data, enc.len), 0);
        buf_free(&enc);
}

static void test_tail_small(void **state) {
        World *w = world_new(false, CFG_LOG_TEXT);
        Buf enc = BUF_INIT, dec = BUF_INIT;

        logs_tail_base64(&w->inv, &enc); /* an empty log */
        assert_string_equal(enc.data, "");
        buf_free(&enc);
        logs_keep(&w->inv, "hello", 5);
        logs_tail_base64(&w->inv, &enc);
        assert_string_equal(enc.data, "aGVsbG8K"); /* "hello\n" */
        buf_free(&enc);
        decode_tail(w, &dec);
        assert_string_equal(dec.data, "hello\n");
        buf_free(&dec);
        world_free(w);
}

static void test_tail_last_4096(void **state) {
        World *w = world_new(false, CFG_LOG_TEXT);
        Buf dec = BUF_INIT;

        for (int i = 0; i < 1000; i++) {
                char line[16];
                int k = snprintf(line, sizeof(line), "%06d", i); /* 7 bytes with '\n' */
                logs_keep(&w->inv, line, (size_t) k);
        }
        assert_int_equal(w->inv.log.len, 7000);
        decode_tail(w, &dec);
        assert_int_equal(dec.len, LOGS_TAIL_BYTES);
        assert_memory_equal(dec.data, w->inv.log.data + 7000 - 4096, 4096);
        assert_memory_equal(dec.data + 4096 - 7, "000999\n", 7);
        buf_free(&dec);
        world_free(w);
}

static void test_tail_keeps_utf8_whole(void **state) {
        World *w = world_new(false, CFG_LOG_TEXT);
        Buf dec = BUF_INIT;
        char tail[4094];

        /* "x…x€y…y\n": the 4096th byte from the end is the middle of the euro sign. */
        memset(tail, 'y', sizeof(tail));
        buf_append(&w->inv.log, "xxxxxxxxxx", 10);
        buf_append(&w->inv.log, "\xe2\x82\xac", 3);
        buf_append(&w->inv.log, tail, sizeof(tail) - 1);
        buf_append(&w->inv.log, "\n", 1);
        assert_int_equal(w->inv.log.len, 10 + 3 + 4094);
        decode_tail(w, &dec);
        assert_int_equal(dec.len, 4094);
        assert_true(utf8_valid(dec.data, dec.len));
        assert_int_equal(dec.data[0], 'y');
        buf_free(&dec);

        /* Starting exactly on the lead byte keeps the whole sequence. */
        buf_reset(&w->inv.log);
        buf_append(&w->inv.log, "x", 1);
        buf_append(&w->inv.log, "\xe2\x82\xac", 3);
        buf_append(&w->inv.log, tail, 4093);
        decode_tail(w, &dec);
        assert_int_equal(dec.len, 4096);
        assert_memory_equal(dec.data, "\xe2\x82\xac", 3);
        assert_true(utf8_valid(dec.data, dec.len));
        buf_free(&dec);
        world_free(w);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_billed_ms),
                cmocka_unit_test(test_start_end_report_warm),
                cmocka_unit_test(test_report_cold),
                cmocka_unit_test(test_report_status_variants),
                cmocka_unit_test(test_init_report),
                cmocka_unit_test(test_prefixed_output),
                cmocka_unit_test(test_json_report),
                cmocka_unit_test(test_keep_bounded),
                cmocka_unit_test(test_keep_small_not_truncated),
                cmocka_unit_test(test_keep_line_longer_than_half),
                cmocka_unit_test(test_tail_small),
                cmocka_unit_test(test_tail_last_4096),
                cmocka_unit_test(test_tail_keeps_utf8_whole),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
