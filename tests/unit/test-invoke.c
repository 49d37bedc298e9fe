/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the Invoke API's parsing helpers (spec §3.1): function references in every
 * form the SDKs send (name, name:qualifier, full and partial ARNs) and the ones Lambda
 * refuses, percent-decoding of the path, and payload validation — strict UTF-8 JSON with
 * nothing after it, which cJSON alone would not enforce.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "invoke.h"

/* ---- invoke_parse_ref ---- */

static void expect_ref(const char *text, const char *name, const char *qualifier,
                       const char *region, const char *account) {
        FunctionRef r;

        memset(&r, 'X', sizeof(r));
        int rc = invoke_parse_ref(text, strlen(text), &r);
        if (rc != 0)
                fail_msg("'%s': %d", text, rc);
        assert_string_equal(r.name, name);
        assert_string_equal(r.qualifier, qualifier);
        assert_string_equal(r.region, region);
        assert_string_equal(r.account, account);
}

static void expect_bad_ref(const char *text) {
        FunctionRef r;

        if (invoke_parse_ref(text, strlen(text), &r) != -EINVAL)
                fail_msg("'%s' was accepted", text);
}

static void test_parse_ref_name(void **state) {
        expect_ref("my-function", "my-function", "", "", "");
        expect_ref("My_Function-2", "My_Function-2", "", "", "");
        expect_ref("my-function:prod", "my-function", "prod", "", "");
        expect_ref("my-function:$LATEST", "my-function", "$LATEST", "", "");
        expect_ref("my-function:7", "my-function", "7", "", "");
        char name[65];
        memset(name, 'n', 64);
        name[64] = '\0';
        expect_ref(name, name, "", "", ""); /* 64 characters: the longest name */
}

static void test_parse_ref_arn(void **state) {
        expect_ref("arn:aws:lambda:us-east-1:123456789012:function:my-function", "my-function", "",
                   "us-east-1", "123456789012");
        expect_ref("arn:aws:lambda:eu-west-3:000000000000:function:f:live", "f", "live",
                   "eu-west-3", "000000000000");
        expect_ref("arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST", "f", "$LATEST",
                   "us-east-1", "123456789012");
}

static void test_parse_ref_partial_arn(void **state) {
        expect_ref("123456789012:function:my-function", "my-function", "", "", "123456789012");
        expect_ref("123456789012:function:my-function:v2", "my-function", "v2", "", "123456789012");
}

static void test_parse_ref_text_length(void **state) {
        FunctionRef r;

        /* Only @len bytes count. */
        assert_int_equal(invoke_parse_ref("fn:prodXYZ", 7, &r), 0);
        assert_string_equal(r.name, "fn");
        assert_string_equal(r.qualifier, "prod");
}

static void test_parse_ref_bad(void **state) {
        char name[66];

        expect_bad_ref("");
        memset(name, 'n', 65);
        name[65] = '\0';
        expect_bad_ref(name); /* 65 characters */
        expect_bad_ref("bad name");
        expect_bad_ref("bad.name");
        expect_bad_ref("bad/name");
        expect_bad_ref("bad%3Aname");
        expect_bad_ref("caf\xc3\xa9");
        expect_bad_ref("fn:");      /* empty qualifier */
        expect_bad_ref(":prod");    /* empty name */
        expect_bad_ref("fn:pr.od"); /* bad qualifier character */
        expect_bad_ref("a:b:c");    /* too many colons for a name */
        expect_bad_ref("fn:q:r");
        expect_bad_ref("123456789012:function:fn:q:extra");
        expect_bad_ref("123456789012:layer:fn");
        expect_bad_ref("arn:aws:s3:us-east-1:123456789012:function:fn");
        expect_bad_ref("arn:aws:lambda:us-east-1:123456789012:layer:fn");
        expect_bad_ref("arn:aws:lambda:us-east-1:123456789012:function:");
        expect_bad_ref("arn:aws:lambda:us-east-1:123456789012:function:fn:");
        expect_bad_ref("arn:aws:lambda:us-east-1:123456789012:function:fn:q:extra");
        expect_bad_ref("arn:aws:lambda:us-east-1:123456789012:function:fn:q:");
        expect_bad_ref("arn:aws:lambda:us-east-1:123456789012:function:fn:a:b:c:d");
        char q[140];
        memset(q, 'q', sizeof(q));
        snprintf(q, sizeof(q), "fn:");
        memset(q + 3, 'q', 129);
        q[132] = '\0';
        expect_bad_ref(q); /* a 129-character qualifier */
        q[131] = '\0';
        expect_ref(q, "fn", q + 3, "", ""); /* 128 is the longest */
}

/* ---- url_decode ---- */

static void test_url_decode(void **state) {
        char out[64];

        assert_int_equal(url_decode("my-fn", 5, out, sizeof(out)), 0);
        assert_string_equal(out, "my-fn");
        assert_int_equal(url_decode("fn%3Aprod", 9, out, sizeof(out)), 0);
        assert_string_equal(out, "fn:prod");
        assert_int_equal(url_decode("fn%3aprod", 9, out, sizeof(out)), 0);
        assert_string_equal(out, "fn:prod");
        assert_int_equal(url_decode("%24LATEST", 9, out, sizeof(out)), 0);
        assert_string_equal(out, "$LATEST");
        assert_int_equal(url_decode("arn%3Aaws%3Alambda", 18, out, sizeof(out)), 0);
        assert_string_equal(out, "arn:aws:lambda");
        assert_int_equal(url_decode("", 0, out, sizeof(out)), 0);
        assert_string_equal(out, "");
        assert_int_equal(url_decode("%41", 3, out, sizeof(out)), 0); /* at the very end */
        assert_string_equal(out, "A");
}

static void test_url_decode_bad(void **state) {
        char out[8];

        assert_int_equal(url_decode("%zz", 3, out, sizeof(out)), -EINVAL);
        assert_int_equal(url_decode("a%g1", 4, out, sizeof(out)), -EINVAL);
        assert_int_equal(url_decode("%4", 2, out, sizeof(out)), -EINVAL);
        assert_int_equal(url_decode("ab%", 3, out, sizeof(out)), -EINVAL);
        /* Only @len bytes count: "%41" cut to "%4". */
        assert_int_equal(url_decode("%41", 2, out, sizeof(out)), -EINVAL);
        /* A NUL would cut the C string short: "fn%00junk" must not name "fn". */
        assert_int_equal(url_decode("fn%00junk", 9, out, sizeof(out)), -EINVAL);
        assert_int_equal(url_decode("fn\0x", 4, out, sizeof(out)), -EINVAL);
        /* The output and its NUL must fit. */
        assert_int_equal(url_decode("1234567", 7, out, sizeof(out)), 0);
        assert_string_equal(out, "1234567");
        assert_int_equal(url_decode("12345678", 8, out, sizeof(out)), -EINVAL);
}

/* ---- invoke_payload_valid ---- */

static bool valid(const char *p, size_t len, char *reason) {
        reason[0] = '\0';
        return invoke_payload_valid(p, len, reason, 256);
}

#define V(s) (s), (sizeof(s) - 1)

static void test_payload_valid(void **state) {
        char reason[256];

        assert_true(valid(V("{}"), reason));
        assert_true(valid(V("{\"a\":[1,2.5,\"x\",null,true]}"), reason));
        assert_true(valid(V("\"just a string\""), reason));
        assert_true(valid(V("42"), reason));
        assert_true(valid(V("null"), reason));
        assert_true(valid(V("  {\"k\":\"\xc3\xa9\xf0\x9f\x9a\x80\"}  "), reason));
        assert_true(valid(V("{}\r\n\t "), reason)); /* whitespace after the value */
        assert_true(valid(V("123456789012345678901234567890"), reason));
        assert_string_equal(reason, "");
}

static void test_payload_invalid_json(void **state) {
        char reason[256];

        assert_false(valid(V("{\"a\":}"), reason));
        assert_string_equal(reason, "Could not parse request body into json: Could not parse "
                                    "payload into json: Unexpected character at line 1, "
                                    "column 6");
        /* The position is the offending character's own. */
        assert_false(valid(V("{\n  \"a\": 1,\n  oops\n}"), reason));
        assert_string_equal(reason, "Could not parse request body into json: Could not parse "
                                    "payload into json: Unexpected character at line 3, "
                                    "column 3");
        assert_false(valid(V("not json"), reason));
        assert_false(valid(V("{'a':1}"), reason));
        assert_false(valid(V("[1,2"), reason));
        assert_false(valid(V(""), reason)); /* the caller turns an empty body into {} */
        assert_false(valid(V("   "), reason));
}

static void test_payload_trailing(void **state) {
#define AFTER                                                                                    \
        "Could not parse request body into json: Could not parse payload into json: Unexpected " \
        "content after the JSON value at line 1, column "
        char reason[256];

        assert_false(valid(V("{} x"), reason));
        assert_string_equal(reason, AFTER "4");
        assert_false(valid(V("{}{}"), reason));
        assert_string_equal(reason, AFTER "3");
        assert_false(valid(V("1 2"), reason));
        assert_false(valid(V("{}\0"), reason)); /* a NUL inside the body */
        assert_string_equal(reason, AFTER "3");
        /* Stricter than cJSON: what RFC 8259 refuses, and an escaped lone surrogate. */
        assert_false(valid(V("01"), reason));
        assert_false(valid(V("1."), reason));
        assert_false(valid(V("+1"), reason));
        assert_false(valid(V("\"a\tb\""), reason));
        assert_false(valid(V("[1,]"), reason));
        assert_false(valid(V("{\"a\" 1}"), reason));
        assert_true(valid(V("\"\\ud800\""), reason));
        assert_true(valid(V("-0.5e+10"), reason));
        /* Only @len bytes count: garbage past them is not looked at. */
        assert_true(valid("{}garbage", 2, reason));
}

static void test_payload_utf8(void **state) {
        static const char bad_utf8[] = "Could not parse request body into json: Invalid UTF-8 "
                                       "middle byte in the request body";
        char reason[256];

        assert_false(valid(V("{\"a\":\"\xff\"}"), reason));
        assert_string_equal(reason, bad_utf8);
        assert_false(valid(V("{\"a\":\"\xc0\x80\"}"), reason));         /* overlong */
        assert_false(valid(V("{\"a\":\"\xed\xa0\x80\"}"), reason));     /* surrogate */
        assert_false(valid(V("{\"a\":\"\xf4\x90\x80\x80\"}"), reason)); /* > U+10FFFF */
        assert_false(valid(V("{\"a\":\"\xe2\x82\"}"), reason));         /* truncated */
        assert_string_equal(reason, bad_utf8);
}

static char *nested(int depth) {
        char *p = malloc((size_t) depth * 2 + 1);

        assert_non_null(p);
        memset(p, '[', (size_t) depth);
        memset(p + depth, ']', (size_t) depth);
        p[depth * 2] = '\0';
        return p;
}

static void test_payload_depth(void **state) {
        char reason[256];
        char *ok = nested(CJSON_NESTING_LIMIT);
        char *deep = nested(CJSON_NESTING_LIMIT + 1);
        char *very_deep = nested(100000);

        assert_true(valid(ok, strlen(ok), reason));
        assert_false(valid(deep, strlen(deep), reason));
        assert_false(valid(very_deep, strlen(very_deep), reason));
        assert_non_null(strstr(reason, "Could not parse request body into json: "));
        free(ok);
        free(deep);
        free(very_deep);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_ref_name),
                cmocka_unit_test(test_parse_ref_arn),
                cmocka_unit_test(test_parse_ref_partial_arn),
                cmocka_unit_test(test_parse_ref_text_length),
                cmocka_unit_test(test_parse_ref_bad),
                cmocka_unit_test(test_url_decode),
                cmocka_unit_test(test_url_decode_bad),
                cmocka_unit_test(test_payload_valid),
                cmocka_unit_test(test_payload_invalid_json),
                cmocka_unit_test(test_payload_trailing),
                cmocka_unit_test(test_payload_utf8),
                cmocka_unit_test(test_payload_depth),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
