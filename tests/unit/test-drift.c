/* SPDX-License-Identifier: Apache-2.0 */
/* The drift rule (5 strict rises past a minimum, the first 2 samples after init skipped),
 * the sampling schedule, and how a finding names the invocations it spans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "drift.h"

/* Feeds samples with @fds open descriptors after invocations @at; returns the index of the
 * first sample that gave a finding, or -1. */
static int feed(DriftState *d, const int64_t *fds, const uint64_t *at, int n, char *detail,
                size_t size) {
        for (int i = 0; i < n; i++) {
                DriftSample s = { .v = { fds[i], 1, 1024, 0, 0 }, .invocation = at[i] };
                if (drift_check(d, &s, detail, size) == DRIFT_FDS)
                        return i;
        }
        return -1;
}

static void test_rise_on_consecutive_invocations(void **state) {
        DriftState d = { 0 };
        char detail[256] = "";
        const int64_t fds[] = { 3, 3, 4, 5, 6, 7, 8, 9 };
        const uint64_t at[] = { 1, 2, 3, 4, 5, 6, 7, 8 };

        /* Samples 1 and 2 are warm-up; 3..8 are the window: a finding on the 8th. */
        assert_int_equal(feed(&d, fds, at, 8, detail, sizeof(detail)), 7);
        assert_string_equal(detail, "open descriptors rose on 5 consecutive invocations: 4 -> 9");
}

static void test_flat_step_is_not_a_rise(void **state) {
        DriftState d = { 0 };
        char detail[256] = "";
        const int64_t fds[] = { 3, 3, 4, 5, 6, 6, 8, 9, 10 };
        const uint64_t at[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

        assert_int_equal(feed(&d, fds, at, 9, detail, sizeof(detail)), -1);
}

static void test_below_minimum_is_not_reported(void **state) {
        DriftState d = { 0 };
        char detail[256] = "";
        /* Resident memory needs +max(4 MiB, 10 %) over the window: a strict rise of 1 MiB a
         * sample is a garbage collector warming up; at 1 MiB more it is a finding. */
        DriftSample s = { .v = { 3, 1, 0, 0, 0 } };

        for (int i = 0; i < 8; i++) {
                s.v[DRIFT_RSS] = 8192 + i * 800;
                assert_int_equal(drift_check(&d, &s, detail, sizeof(detail)), -1);
        }
        d = (DriftState){ 0 };
        for (int i = 0; i < 8; i++) {
                s.v[DRIFT_RSS] = 8192 + i * 1024;
                assert_int_equal(drift_check(&d, &s, detail, sizeof(detail)),
                                 i == 7 ? DRIFT_RSS : -1);
        }
}

static void test_spaced_samples_name_their_invocations(void **state) {
        DriftState d = { 0 };
        char detail[256] = "";
        /* A slow leak, a descriptor every 10 invocations: read after each invocation it is
         * flat most of the time, read every DRIFT_STRIDE-th it rises at every sample. */
        int64_t fds[8];
        uint64_t at[8];
        for (int i = 0; i < 8; i++) {
                at[i] = 64 + (uint64_t) i * DRIFT_STRIDE;
                fds[i] = 3 + (int64_t) at[i] / 10;
        }
        assert_int_equal(feed(&d, fds, at, 8, detail, sizeof(detail)), 7);
        char want[256];
        snprintf(want, sizeof(want),
                 "open descriptors rose on 5 consecutive samples (invocations %llu to %llu "
                 "after init): %lld -> %lld",
                 (unsigned long long) at[2], (unsigned long long) at[7], (long long) fds[2],
                 (long long) fds[7]);
        assert_string_equal(detail, want);
}

static void test_schedule(void **state) {
        for (uint64_t n = 1; n <= DRIFT_EVERY_UNTIL; n++)
                assert_true(drift_sample_due(n));
        unsigned due = 0;
        for (uint64_t n = DRIFT_EVERY_UNTIL + 1; n <= DRIFT_EVERY_UNTIL + 10 * DRIFT_STRIDE; n++)
                due += drift_sample_due(n);
        assert_int_equal(due, 10);
        assert_true(drift_sample_due(1000 * DRIFT_STRIDE));
        assert_false(drift_sample_due(1000 * DRIFT_STRIDE + 1));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rise_on_consecutive_invocations),
                cmocka_unit_test(test_flat_step_is_not_a_rise),
                cmocka_unit_test(test_below_minimum_is_not_reported),
                cmocka_unit_test(test_spaced_samples_name_their_invocations),
                cmocka_unit_test(test_schedule),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
