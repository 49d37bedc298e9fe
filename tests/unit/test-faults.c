/* SPDX-License-Identifier: Apache-2.0 */
/* The fault catalogue's parsing (every error names its key) and its triggers: which Invoke
 * calls arm a fault, how `times` counts, and that the generators repeat for a seed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "faults.h"

static Fault *parse_ok(const char *json) {
        char err[512] = "";
        Fault *f = NULL;

        if (fault_parse(json, strlen(json), &f, err, sizeof(err)) < 0)
                fail_msg("%s: %s", json, err);
        return f;
}

static void expect_error(const char *json, const char *msg) {
        char err[512] = "";
        Fault *f = NULL;

        assert_int_equal(fault_parse(json, strlen(json), &f, err, sizeof(err)), -EINVAL);
        assert_null(f);
        assert_string_equal(err, msg);
}

static void test_parse_defaults(void **state) {
        Fault *f = parse_ok("{\"action\": \"crash\"}");

        assert_int_equal(f->action, FAULT_CRASH);
        assert_int_equal(f->phase, FAULT_PHASE_INVOKE);
        assert_int_equal(f->times, -1); /* no invocation: unlimited */
        assert_true(f->probability < 0);
        assert_string_equal(f->json, "{\"action\":\"crash\"}");
        fault_unref(f);

        f = parse_ok(
                "{\"id\": \"x\", \"action\": \"delay\", \"ms\": 20, \"when\": {\"invocation\": "
                "3, \"probability\": 0.5}}");
        assert_string_equal(f->id, "x");
        assert_int_equal(f->times, 1); /* invocation: once */
        assert_int_equal(f->invocation, 3);
        assert_true(f->ms == 20);
        assert_true(f->probability == 0.5);
        assert_string_equal(f->json, "{\"action\":\"delay\",\"ms\":20,\"when\":{\"invocation\":3,"
                                     "\"probability\":0.5}}");
        fault_unref(f);

        f = parse_ok("{\"action\": \"reclaim\"}");
        assert_int_equal(f->phase, FAULT_PHASE_IDLE);
        fault_unref(f);
        f = parse_ok("{\"action\": \"runtime_api_error\"}");
        assert_int_equal(f->status, 500);
        assert_int_equal(f->endpoint, FAULT_EP_NEXT);
        fault_unref(f);
        f = parse_ok("{\"action\": \"clock_skew\", \"ms\": -2500}");
        assert_true(f->ms == -2500);
        fault_unref(f);
        f = parse_ok("{\"action\": \"error_response\", \"body\": {\"a\": [1, 2]}, \"times\": 4}");
        assert_string_equal(f->body, "{\"a\":[1,2]}");
        assert_int_equal(f->times, 4);
        fault_unref(f);
        f = parse_ok("{\"action\": \"crash\", \"when\": {\"phase\": \"after_response\"}, "
                     "\"after_ms\": 5}");
        assert_int_equal(f->phase, FAULT_PHASE_AFTER_RESPONSE);
        fault_unref(f);
}

static void test_parse_errors(void **state) {
        expect_error("[]", "expected a fault object, got an array");
        expect_error("{", "not valid JSON");
        expect_error("{\"action\": 3}",
                     "action: expected one of crash, init_hang, delay, timeout, oom, "
                     "runtime_api_error, runtime_api_drop, throttle, duplicate, async_fail, "
                     "reclaim, long_freeze, clock_skew, tmp_full, nofile_limit, error_response, "
                     "got a number");
        expect_error("{\"action\": \"long_freeze\"}", "ms: missing (long_freeze needs it)");
        expect_error("{\"action\": \"delay\", \"ms\": 1e9}",
                     "ms: expected milliseconds from 0 to 900000, got a number out of range");
        expect_error("{\"action\": \"oom\", \"n\": 3}",
                     "unknown key 'n' for oom (it takes no parameters)");
        expect_error("{\"action\": \"nofile_limit\", \"n\": 1.5}",
                     "n: expected a whole number from 0 to 1048576, got another number");
        expect_error("{\"action\": \"runtime_api_error\", \"status\": 200}",
                     "status: expected a whole number from 400 to 599, got another number");
        expect_error("{\"action\": \"init_hang\", \"when\": {\"phase\": \"invoke\"}}",
                     "when.phase: init_hang fires in init, got 'invoke'");
        expect_error("{\"action\": \"reclaim\", \"when\": {\"phase\": \"init\"}}",
                     "when.phase: reclaim fires in idle, got 'init'");
        expect_error("{\"action\": \"crash\", \"when\": 3}",
                     "when: expected an object, got a number");
        expect_error("{\"action\": \"crash\", \"when\": {\"every\": 0}}",
                     "when.every: expected a whole number from 1 to 9007199254740992, got another "
                     "number");
        expect_error("{\"action\": \"throttle\", \"reason\": \"\"}",
                     "reason: expected a non-empty string of at most 128 bytes, got another "
                     "string");
        expect_error("{\"action\": \"error_response\", \"run_handler\": 1}",
                     "run_handler: expected true or false, got a number");
        expect_error("{\"action\": \"crash\", \"id\": \"\"}",
                     "id: expected 1 to 64 letters, digits, '-', '_' or '.', got another string");
}

static FaultTable table_of(uint64_t seed, const char *const *faults) {
        FaultTable t;
        char err[256];

        fault_table_init(&t, seed);
        for (size_t i = 0; faults[i]; i++)
                assert_int_equal(fault_table_add(&t, parse_ok(faults[i]), err, sizeof(err)), 0);
        return t;
}

/* Which calls (1-based, of @n) arm fault @k: a string of '.' and 'x'. */
static void pattern(FaultTable *t, size_t k, unsigned n, char *out) {
        for (unsigned c = 0; c < n; c++) {
                FaultArmed *a = fault_table_arm(t);
                bool hit = false;
                for (size_t i = 0; a && i < a->n; i++)
                        if (a->v[i] == t->v[k]) {
                                hit = true;
                                a->v[i]->fired++; /* as if it fired */
                        }
                out[c] = hit ? 'x' : '.';
                fault_armed_free(a);
        }
        out[n] = '\0';
}

static void test_triggers(void **state) {
        static const char *const faults[] = {
                "{\"action\": \"crash\", \"when\": {\"invocation\": 3}}",
                "{\"action\": \"crash\", \"when\": {\"invocation\": 2}, \"times\": 3}",
                "{\"action\": \"oom\", \"when\": {\"every\": 4}}",
                "{\"action\": \"oom\", \"when\": {\"every\": 2}, \"times\": 2}",
                "{\"action\": \"timeout\"}",
                NULL,
        };
        FaultTable t = table_of(1, faults);
        char p[32];

        assert_string_equal(t.v[0]->id, "crash-1");
        assert_string_equal(t.v[2]->id, "oom-3");
        for (size_t k = 0; k < 5; k++) {
                static const char *const want[] = {
                        "..x.........", ".xxx........", "...x...x...x",
                        ".x.x........", "xxxxxxxxxxxx",
                };
                FaultTable u = table_of(1, faults);
                pattern(&u, k, 12, p);
                assert_string_equal(p, want[k]);
                fault_table_deinit(&u);
        }
        fault_table_deinit(&t);
}

static void test_phase_not_reached_keeps_times(void **state) {
        static const char *const faults[] = {
                "{\"action\": \"crash\", \"when\": {\"invocation\": 2}}", NULL
        };
        FaultTable t = table_of(1, faults);

        /* Armed at call 2 but never fired (its phase did not come): armed again at call 3. */
        FaultArmed *a = fault_table_arm(&t);
        assert_null(a);
        a = fault_table_arm(&t);
        assert_non_null(a);
        fault_armed_free(a);
        a = fault_table_arm(&t);
        assert_non_null(a);
        a->v[0]->fired++;
        fault_armed_free(a);
        assert_null(fault_table_arm(&t));
        assert_int_equal(t.v[0]->seen, 4);
        fault_table_deinit(&t);
}

static void test_probability_is_seeded(void **state) {
        static const char *const faults[] = {
                "{\"id\": \"coin\", \"action\": \"delay\", \"ms\": 1, \"when\": {\"probability\": "
                "0.5}}",
                NULL,
        };
        char a[65], b[65], c[65];
        FaultTable t;

        t = table_of(7, faults);
        pattern(&t, 0, 64, a);
        fault_table_deinit(&t);
        t = table_of(7, faults);
        pattern(&t, 0, 64, b);
        fault_table_deinit(&t);
        t = table_of(8, faults);
        pattern(&t, 0, 64, c);
        fault_table_deinit(&t);
        assert_string_equal(a, b);
        assert_string_not_equal(a, c);
        /* About half, and never none or all. */
        size_t hits = 0;
        for (size_t i = 0; i < 64; i++)
                hits += a[i] == 'x';
        assert_true(hits > 16 && hits < 48);
}

static void test_table_ids_and_removal(void **state) {
        FaultTable t;
        char err[256];
        Buf b = BUF_INIT;

        fault_table_init(&t, 1);
        assert_int_equal(fault_table_add(&t, parse_ok("{\"id\": \"crash-1\", \"action\": \"oom\"}"),
                                         err, sizeof(err)),
                         0);
        assert_int_equal(fault_table_add(&t, parse_ok("{\"action\": \"crash\"}"), err, sizeof(err)),
                         0);
        assert_string_equal(t.v[1]->id, "crash-2"); /* crash-1 is taken */
        assert_int_equal(fault_table_add(&t, parse_ok("{\"id\": \"crash-2\", \"action\": \"oom\"}"),
                                         err, sizeof(err)),
                         -EEXIST);
        assert_string_equal(err, "id: a fault with id 'crash-2' is already set");

        /* A fault armed on a call and then removed does not fire any more. */
        FaultArmed *a = fault_table_arm(&t);
        assert_int_equal(a->n, 2);
        Fault *kept = a->v[1];
        assert_int_equal(fault_table_remove(&t, "crash-2"), 0);
        assert_true(kept->removed);
        assert_int_equal(fault_table_remove(&t, "crash-2"), -ENOENT);
        fault_armed_free(a);

        fault_table_json(&t, &b);
        assert_string_equal(b.data, "{\"faults\":[{\"id\":\"crash-1\",\"action\":\"oom\","
                                    "\"invocations\":1,\"fired\":0}]}");
        buf_free(&b);
        assert_int_equal(fault_table_clear(&t), 1);
        assert_null(fault_table_arm(&t));
        assert_int_equal(fault_table_load(&t, "[{\"action\": \"oom\"}, {\"action\": \"x\"}]", err,
                                          sizeof(err)),
                         -EINVAL);
        assert_true(strncmp(err, "faults[1]: action: expected one of", 34) == 0);
        fault_table_deinit(&t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_defaults),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_triggers),
                cmocka_unit_test(test_phase_not_reached_keeps_times),
                cmocka_unit_test(test_probability_is_seeded),
                cmocka_unit_test(test_table_ids_and_removal),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
