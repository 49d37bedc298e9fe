/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the JSON-aware comparison of shadow runs (emulator/compare.c): key order,
 * numbers by their text (big ids, 1.0 vs 1), arrays by index, ignore paths (with [*] and
 * .*), ignore values, the first differing path in sorted-key order, deep nesting refused
 * without a crash, and the byte comparison of answers that are not JSON.
 */
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "compare.h"

static int cmp_rx(const char *a, const char *b, const char *const *paths, const char *rx,
                  CompareDiff *d) {
        regex_t re;
        int r;

        if (rx)
                assert_int_equal(regcomp(&re, rx, REG_EXTENDED | REG_NOSUB), 0);
        r = compare_json(a, strlen(a), b, strlen(b), paths, rx ? &re : NULL, rx ? 1 : 0, d);
        if (rx)
                regfree(&re);
        return r;
}

static int cmp(const char *a, const char *b, const char *const *paths, CompareDiff *d) {
        return cmp_rx(a, b, paths, NULL, d);
}

#define assert_equal_json(a, b)                                                                \
        do {                                                                                   \
                CompareDiff _d;                                                                \
                int _r = cmp((a), (b), NULL, &_d);                                             \
                if (_r != 0)                                                                   \
                        fail_msg("%s vs %s: %d at %s", (a), (b), _r, _r == 1 ? _d.path : "-"); \
        } while (0)

static void assert_diff(const char *a, const char *b, const char *const *paths, const char *path,
                        const char *va, const char *vb) {
        CompareDiff d;
        int r = cmp(a, b, paths, &d);

        if (r != 1)
                fail_msg("%s vs %s: expected a difference, got %d", a, b, r);
        assert_string_equal(d.path, path);
        if (va)
                assert_string_equal(d.a, va);
        else
                assert_true(d.a_absent);
        if (vb)
                assert_string_equal(d.b, vb);
        else
                assert_true(d.b_absent);
        assert_non_null(d.what);
}

static void test_equal(void **state) {
        assert_equal_json("{}", "{}");
        assert_equal_json("{\"a\":1,\"b\":[1,2,{\"c\":null}]}",
                          "{\"a\":1,\"b\":[1,2,{\"c\":null}]}");
        assert_equal_json("  [true,false,null]\n", "[true, false, null]");
        assert_equal_json("\"x\"", "\"x\"");
        assert_equal_json("0", "0");
}

static void test_key_order_ignored(void **state) {
        assert_equal_json("{\"a\":1,\"b\":2,\"c\":{\"x\":1,\"y\":2}}",
                          "{\"c\":{\"y\":2,\"x\":1},\"b\":2,\"a\":1}");
}

static void test_big_numbers_by_text(void **state) {
        /* As doubles these two are the same number. */
        assert_diff("{\"id\":12345678901234567890}", "{\"id\":12345678901234567891}", NULL, "$.id",
                    "12345678901234567890", "12345678901234567891");
        assert_equal_json("{\"id\":12345678901234567890}", "{\"id\":12345678901234567890}");
}

static void test_numbers_differ_by_text(void **state) {
        /* Decided: the text is the value. One program prints one value one way. */
        assert_diff("{\"n\":1.0}", "{\"n\":1}", NULL, "$.n", "1.0", "1");
        assert_diff("[1e2]", "[100]", NULL, "$[0]", "1e2", "100");
        assert_diff("[-0]", "[0]", NULL, "$[0]", "-0", "0");
}

static void test_strings_decoded(void **state) {
        assert_equal_json("[\"A\\u00e9\\/\"]", "[\"A\xc3\xa9/\"]");
        assert_equal_json("[\"\\ud83d\\ude00\"]", "[\"\xf0\x9f\x98\x80\"]");
        assert_diff("{\"s\":\"a\"}", "{\"s\":\"b\"}", NULL, "$.s", "\"a\"", "\"b\"");
        /* Different lone surrogates stay different. */
        CompareDiff d;
        assert_int_equal(cmp("[\"\\ud800\"]", "[\"\\ud801\"]", NULL, &d), 1);
}

static void test_types_differ(void **state) {
        assert_diff("{\"a\":\"1\"}", "{\"a\":1}", NULL, "$.a", "\"1\"", "1");
        assert_diff("{\"a\":true}", "{\"a\":false}", NULL, "$.a", "true", "false");
        assert_diff("{\"a\":null}", "{\"a\":{}}", NULL, "$.a", "null", "{}");
        assert_diff("[]", "{}", NULL, "$", "[]", "{}");
}

static void test_arrays_by_index(void **state) {
        assert_diff("[1,2,3]", "[3,2,1]", NULL, "$[0]", "1", "3");
        assert_diff("{\"xs\":[1,2]}", "{\"xs\":[1,2,3]}", NULL, "$.xs[2]", NULL, "3");
        assert_diff("{\"xs\":[1,2,3]}", "{\"xs\":[1,2]}", NULL, "$.xs[2]", "3", NULL);
}

static void test_missing_keys(void **state) {
        assert_diff("{\"a\":1}", "{\"a\":1,\"b\":2}", NULL, "$.b", NULL, "2");
        assert_diff("{\"a\":1,\"b\":2}", "{\"b\":2}", NULL, "$.a", "1", NULL);
}

static void test_first_difference_sorted(void **state) {
        /* Members are visited in bytewise key order, depth first, whatever the text order. */
        assert_diff("{\"z\":1,\"b\":{\"y\":1,\"x\":1},\"a\":1}",
                    "{\"a\":1,\"z\":2,\"b\":{\"x\":2,\"y\":2}}", NULL, "$.b.x", "1", "2");
        assert_diff("{\"count\":2,\"items\":[{\"ts\":1}]}", "{\"items\":[{\"ts\":2}],\"count\":1}",
                    NULL, "$.count", "2", "1");
}

static void test_duplicate_keys_last_wins(void **state) {
        assert_equal_json("{\"a\":1,\"a\":2}", "{\"a\":2}");
        assert_diff("{\"a\":1,\"a\":2}", "{\"a\":1}", NULL, "$.a", "2", "1");
}

static void test_path_rendering(void **state) {
        assert_diff("{\"odd key\":{\"it's\":1}}", "{\"odd key\":{\"it's\":2}}", NULL,
                    "$['odd key']['it\\'s']", "1", "2");
        assert_diff("{\"9\":1}", "{\"9\":2}", NULL, "$['9']", "1", "2");
}

static void test_ignore_paths(void **state) {
        const char *const count[] = { "$.count", NULL };
        const char *const ts[] = { "$.items[*].ts", NULL };
        const char *const idx[] = { "$.items[1]", NULL };
        const char *const quoted[] = { "$['request id']", "$[\"x\"].y", NULL };
        const char *const star[] = { "$.*", NULL };
        const char *const root[] = { "$", NULL };
        CompareDiff d;

        assert_int_equal(cmp("{\"count\":2,\"a\":1}", "{\"count\":1,\"a\":1}", count, &d), 0);
        assert_diff("{\"count\":2,\"a\":1}", "{\"count\":1,\"a\":2}", count, "$.a", "1", "2");
        /* Also when the ignored key is on one side only. */
        assert_int_equal(cmp("{\"count\":2}", "{}", count, &d), 0);
        assert_int_equal(cmp("{\"items\":[{\"ts\":1,\"v\":1},{\"ts\":5,\"v\":2}]}",
                             "{\"items\":[{\"ts\":3,\"v\":1},{\"ts\":9,\"v\":2}]}", ts, &d),
                         0);
        assert_diff("{\"items\":[{\"ts\":1,\"v\":1}]}", "{\"items\":[{\"ts\":3,\"v\":2}]}", ts,
                    "$.items[0].v", "1", "2");
        assert_int_equal(cmp("{\"items\":[1,2,3]}", "{\"items\":[1,5,3]}", idx, &d), 0);
        assert_diff("{\"items\":[1,2,3]}", "{\"items\":[1,5,4]}", idx, "$.items[2]", "3", "4");
        assert_int_equal(cmp("{\"request id\":\"a\",\"x\":{\"y\":1}}",
                             "{\"request id\":\"b\",\"x\":{\"y\":2}}", quoted, &d),
                         0);
        assert_int_equal(cmp("{\"a\":1,\"b\":2}", "{\"a\":3,\"b\":4}", star, &d), 0);
        assert_int_equal(cmp("[1]", "{\"b\":4}", root, &d), 0);
}

static void test_path_check(void **state) {
        char why[200];

        assert_int_equal(compare_path_check("$", why, sizeof(why)), 0);
        assert_int_equal(compare_path_check("$.requestId", why, sizeof(why)), 0);
        assert_int_equal(compare_path_check("$.items[*].ts", why, sizeof(why)), 0);
        assert_int_equal(compare_path_check("$['a b'][0].*", why, sizeof(why)), 0);
        assert_int_equal(compare_path_check("requestId", why, sizeof(why)), -EINVAL);
        assert_int_equal(compare_path_check("$..a", why, sizeof(why)), -EINVAL);
        assert_non_null(strstr(why, "recursive descent"));
        assert_int_equal(compare_path_check("$.a[-1]", why, sizeof(why)), -EINVAL);
        assert_int_equal(compare_path_check("$.a[1:2]", why, sizeof(why)), -EINVAL);
        assert_int_equal(compare_path_check("$['a'", why, sizeof(why)), -EINVAL);
        assert_int_equal(compare_path_check("$a", why, sizeof(why)), -EINVAL);
}

static void test_ignore_values(void **state) {
        CompareDiff d;
        const char *uuid = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

        assert_int_equal(cmp_rx("{\"id\":\"3f4c2a1e-9b7d-4e21-8a6f-0123456789ab\"}",
                                "{\"id\":\"00000000-1111-2222-3333-444444444444\"}", NULL, uuid,
                                &d),
                         0);
        /* Matching on one side only is a difference. */
        assert_int_equal(cmp_rx("{\"id\":\"3f4c2a1e-9b7d-4e21-8a6f-0123456789ab\"}",
                                "{\"id\":\"nope\"}", NULL, uuid, &d),
                         1);
        assert_string_equal(d.path, "$.id");
        /* Numbers match by their text. */
        assert_int_equal(cmp_rx("{\"ts\":1700000000123,\"n\":1}", "{\"ts\":1700000000456,\"n\":1}",
                                NULL, "^17[0-9]{11}$", &d),
                         0);
        assert_int_equal(cmp_rx("{\"n\":1}", "{\"n\":2}", NULL, "^17[0-9]{11}$", &d), 1);
        /* Strings match by their decoded text. */
        assert_int_equal(cmp_rx("[\"t=\\u0031\"]", "[\"t=2\"]", NULL, "^t=[0-9]$", &d), 0);
        /* A string and a number are never made equal. */
        assert_int_equal(cmp_rx("[\"1\"]", "[2]", NULL, "^[0-9]$", &d), 1);
}

static char *nested(unsigned depth, const char *inner) {
        size_t n = strlen(inner);
        char *s = malloc(2 * depth + n + 1);

        memset(s, '[', depth);
        memcpy(s + depth, inner, n);
        memset(s + depth + n, ']', depth);
        s[2 * depth + n] = '\0';
        return s;
}

static void test_deep_nesting(void **state) {
        CompareDiff d;
        char *a = nested(COMPARE_MAX_DEPTH, "1"), *b = nested(COMPARE_MAX_DEPTH, "2");

        /* At the limit: compared, and the path is cut to fit. */
        assert_int_equal(compare_json(a, strlen(a), b, strlen(b), NULL, NULL, 0, &d), 1);
        assert_non_null(strstr(d.path, "..."));
        assert_true(strlen(d.path) < COMPARE_PATH_MAX);
        assert_string_equal(d.a, "1");
        free(a);
        free(b);
        /* Past it (and far past it): refused, no deep recursion. */
        a = nested(COMPARE_MAX_DEPTH + 1, "1");
        assert_int_equal(compare_json(a, strlen(a), a, strlen(a), NULL, NULL, 0, &d), -EINVAL);
        free(a);
        a = nested(200000, "");
        assert_int_equal(compare_json(a, strlen(a), a, strlen(a), NULL, NULL, 0, &d), -EINVAL);
        /* compare_answers() then compares bytes. */
        assert_int_equal(compare_answers(a, strlen(a), a, strlen(a), NULL, NULL, 0, &d), 0);
        free(a);
}

static void test_not_json_bytes(void **state) {
        CompareDiff d;
        const char *bad[] = { "",        "{",   "{\"a\":1,}", "[1 2]",    "01",
                              "1.",      "tru", "\"\x01\"",   "{\"a\"}",  "[1]x",
                              "\"\\x\"", "-",   "{1:2}",      "\"\\u12\"" };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (compare_json(bad[i], strlen(bad[i]), "1", 1, NULL, NULL, 0, &d) != -EINVAL)
                        fail_msg("'%s' was taken for JSON", bad[i]);
        assert_int_equal(compare_answers("hello", 5, "hello", 5, NULL, NULL, 0, &d), 0);
        assert_int_equal(compare_answers("hello 1", 7, "hello 2", 7, NULL, NULL, 0, &d), 1);
        assert_string_equal(d.path, "$");
        assert_string_equal(d.a, "hello 1");
        assert_string_equal(d.b, "hello 2");
        /* One side JSON, the other not: bytes. */
        assert_int_equal(compare_answers("{}", 2, "{", 1, NULL, NULL, 0, &d), 1);
        /* Key order matters for bytes, not for JSON. */
        assert_int_equal(compare_bytes("{\"a\":1,\"b\":2}", 13, "{\"b\":2,\"a\":1}", 13, &d), 1);
        assert_int_equal(compare_answers("{\"a\":1,\"b\":2}", 13, "{\"b\":2,\"a\":1}", 13, NULL,
                                         NULL, 0, &d),
                         0);
}

static void test_values_cut(void **state) {
        CompareDiff d;
        char a[2000], b[2000];

        /* A long string of two-byte characters is cut before a character, not inside one. */
        strcpy(a, "[\"");
        for (int i = 0; i < 600; i++)
                strcat(a, "\xc3\xa9");
        strcat(a, "\"]");
        strcpy(b, "[\"x\"]");
        assert_int_equal(compare_json(a, strlen(a), b, strlen(b), NULL, NULL, 0, &d), 1);
        assert_true(d.a_cut);
        assert_false(d.b_cut);
        assert_true(strlen(d.a) < COMPARE_VALUE_MAX);
        /* 1 quote + whole two-byte characters. */
        assert_int_equal((strlen(d.a) - 1) % 2, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_equal),
                cmocka_unit_test(test_key_order_ignored),
                cmocka_unit_test(test_big_numbers_by_text),
                cmocka_unit_test(test_numbers_differ_by_text),
                cmocka_unit_test(test_strings_decoded),
                cmocka_unit_test(test_types_differ),
                cmocka_unit_test(test_arrays_by_index),
                cmocka_unit_test(test_missing_keys),
                cmocka_unit_test(test_first_difference_sorted),
                cmocka_unit_test(test_duplicate_keys_last_wins),
                cmocka_unit_test(test_path_rendering),
                cmocka_unit_test(test_ignore_paths),
                cmocka_unit_test(test_path_check),
                cmocka_unit_test(test_ignore_values),
                cmocka_unit_test(test_deep_nesting),
                cmocka_unit_test(test_not_json_bytes),
                cmocka_unit_test(test_values_cut),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
