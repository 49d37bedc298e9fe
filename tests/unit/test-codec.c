/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the base codecs: base64 against the RFC 4648 §10 vectors and every way a
 * strict decoder must refuse its input, UTF-8 validation at each boundary of RFC 3629 (the
 * shortest and longest sequences, overlongs, surrogates, past U+10FFFF, truncation), the
 * shape of random UUIDs, and the byte buffer they all write into.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "codec.h"

/* ---- base64 ---- */

static const struct {
        const char *plain;
        const char *encoded;
} rfc4648[] = {
        { "", "" },
        { "f", "Zg==" },
        { "fo", "Zm8=" },
        { "foo", "Zm9v" },
        { "foob", "Zm9vYg==" },
        { "fooba", "Zm9vYmE=" },
        { "foobar", "Zm9vYmFy" },
};

static void test_base64_encode_rfc4648(void **state) {
        for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
                Buf b = BUF_INIT;

                base64_encode(&b, rfc4648[i].plain, strlen(rfc4648[i].plain));
                assert_int_equal(b.len, strlen(rfc4648[i].encoded));
                assert_non_null(b.data);
                assert_string_equal(b.data, rfc4648[i].encoded);
                buf_free(&b);
        }
}

static void test_base64_encode_appends_and_binary(void **state) {
        static const unsigned char bin[] = { 0x00, 0xff, 0xfe, 0x3e, 0x3f, 0x80 };
        Buf b = BUF_INIT;

        buf_puts(&b, "x=");
        base64_encode(&b, bin, sizeof(bin));
        /* 00 ff fe → AP/+, 3e 3f 80 → Pj+A: every index of the alphabet's tail is used. */
        assert_string_equal(b.data, "x=AP/+Pj+A");
        assert_int_equal(b.len, 10);
        buf_free(&b);
}

static void test_base64_decode_rfc4648(void **state) {
        for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
                Buf b = BUF_INIT;
                const char *in = rfc4648[i].encoded;

                assert_int_equal(base64_decode(&b, in, strlen(in)), 0);
                assert_int_equal(b.len, strlen(rfc4648[i].plain));
                if (b.len)
                        assert_memory_equal(b.data, rfc4648[i].plain, b.len);
                buf_free(&b);
        }
}

static void test_base64_decode_binary_roundtrip(void **state) {
        unsigned char all[256];
        Buf enc = BUF_INIT, dec = BUF_INIT;

        for (int i = 0; i < 256; i++)
                all[i] = (unsigned char) i;
        base64_encode(&enc, all, sizeof(all));
        assert_int_equal(enc.len, 344); /* ceil(256 / 3) * 4 */
        assert_int_equal(base64_decode(&dec, enc.data, enc.len), 0);
        assert_int_equal(dec.len, 256);
        assert_memory_equal(dec.data, all, 256);
        buf_free(&enc);
        buf_free(&dec);
}

/* A failed decode leaves what was in the buffer and appends nothing. */
static void expect_decode_error(const char *in) {
        Buf b = BUF_INIT;

        buf_puts(&b, "keep");
        assert_int_equal(base64_decode(&b, in, strlen(in)), -EINVAL);
        assert_int_equal(b.len, 4);
        assert_string_equal(b.data, "keep");
        buf_free(&b);
}

static void test_base64_decode_padding_errors(void **state) {
        expect_decode_error("Zg");       /* padding required */
        expect_decode_error("Zg=");      /* length not a multiple of 4 */
        expect_decode_error("Zm9vY");    /* idem */
        expect_decode_error("Z===");     /* at most two '=' */
        expect_decode_error("====");     /* padding only */
        expect_decode_error("Zg==Zg=="); /* padding inside the text */
        expect_decode_error("Zm=v");     /* data after padding */
        expect_decode_error("Zg=A");     /* data after padding, last quantum */
}

static void test_base64_decode_invalid_chars(void **state) {
        expect_decode_error("Zm9v\n");
        expect_decode_error("Zm9 ");
        expect_decode_error("Zm9-"); /* base64url alphabet is not accepted */
        expect_decode_error("Zm9_");
        expect_decode_error("Zm*v");
        expect_decode_error("Zm9vYmFy\r\n==");
        /* A NUL inside the given length. */
        Buf b = BUF_INIT;
        assert_int_equal(base64_decode(&b, "Zm\0v", 4), -EINVAL);
        assert_int_equal(b.len, 0);
        buf_free(&b);
}

static void test_base64_decode_appends(void **state) {
        Buf b = BUF_INIT;

        buf_puts(&b, "ab");
        assert_int_equal(base64_decode(&b, "Zm9vYg==", 8), 0);
        assert_int_equal(b.len, 6);
        assert_string_equal(b.data, "abfoob");
        buf_free(&b);
}

/* ---- UTF-8 ---- */

#define U(s) (s), (sizeof(s) - 1)

static void test_utf8_ascii(void **state) {
        assert_true(utf8_valid(U("")));
        assert_true(utf8_valid(U("hello, world {\"a\":1}")));
        assert_true(utf8_valid(U("\x7f")));
        assert_true(utf8_valid("a\0b", 3)); /* NUL is a valid code point */
}

static void test_utf8_multibyte(void **state) {
        assert_true(utf8_valid(U("\xc2\x80")));          /* U+0080, smallest 2-byte */
        assert_true(utf8_valid(U("\xc3\xa9t\xc3\xa9"))); /* "été" */
        assert_true(utf8_valid(U("\xdf\xbf")));          /* U+07FF */
        assert_true(utf8_valid(U("\xe0\xa0\x80")));      /* U+0800, smallest 3-byte */
        assert_true(utf8_valid(U("\xe2\x82\xac")));      /* € */
        assert_true(utf8_valid(U("\xed\x9f\xbf")));      /* U+D7FF, just below surrogates */
        assert_true(utf8_valid(U("\xee\x80\x80")));      /* U+E000, just above */
        assert_true(utf8_valid(U("\xef\xbf\xbf")));      /* U+FFFF */
        assert_true(utf8_valid(U("\xf0\x90\x80\x80")));  /* U+10000, smallest 4-byte */
        assert_true(utf8_valid(U("\xf0\x9f\x9a\x80")));  /* 🚀 */
        assert_true(utf8_valid(U("\xf4\x8f\xbf\xbf")));  /* U+10FFFF, the last */
}

static void test_utf8_overlong(void **state) {
        assert_false(utf8_valid(U("\xc0\x80")));         /* NUL in 2 bytes */
        assert_false(utf8_valid(U("\xc1\xbf")));         /* U+007F in 2 bytes */
        assert_false(utf8_valid(U("\xe0\x80\x80")));     /* NUL in 3 bytes */
        assert_false(utf8_valid(U("\xe0\x9f\xbf")));     /* U+07FF in 3 bytes */
        assert_false(utf8_valid(U("\xf0\x80\x80\x80"))); /* NUL in 4 bytes */
        assert_false(utf8_valid(U("\xf0\x8f\xbf\xbf"))); /* U+FFFF in 4 bytes */
}

static void test_utf8_surrogates(void **state) {
        assert_false(utf8_valid(U("\xed\xa0\x80")));             /* U+D800 */
        assert_false(utf8_valid(U("\xed\xbf\xbf")));             /* U+DFFF */
        assert_false(utf8_valid(U("\xed\xa0\xbd\xed\xb8\x80"))); /* CESU-8 pair */
}

static void test_utf8_out_of_range(void **state) {
        assert_false(utf8_valid(U("\xf4\x90\x80\x80"))); /* U+110000 */
        assert_false(utf8_valid(U("\xf5\x80\x80\x80")));
        assert_false(utf8_valid(U("\xf7\xbf\xbf\xbf")));
        assert_false(utf8_valid(U("\xf8\x88\x80\x80\x80"))); /* old 5-byte form */
        assert_false(utf8_valid(U("\xfe")));
        assert_false(utf8_valid(U("\xff")));
}

static void test_utf8_truncated_and_stray(void **state) {
        assert_false(utf8_valid(U("\xc3")));
        assert_false(utf8_valid(U("\xe2\x82")));
        assert_false(utf8_valid(U("\xf0\x9f\x9a")));
        assert_false(utf8_valid(U("ok\xf0\x9f"))); /* truncated at the very end */
        assert_false(utf8_valid(U("\x80")));       /* lone continuation byte */
        assert_false(utf8_valid(U("a\xbf"
                                  "b")));
        assert_false(utf8_valid(U("\xc3("))); /* lead byte then ASCII */
        assert_false(utf8_valid(U("\xe2\x28\xa1")));
        assert_false(utf8_valid(U("\xf0\x9f\x9a\x28")));
        /* The length is honoured: a valid sequence cut by @len is not valid. */
        assert_false(utf8_valid("\xe2\x82\xac", 2));
        assert_true(utf8_valid("\xe2\x82\xac\xff", 3));
}

/* ---- UUIDs ---- */

static bool is_lower_hex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void check_uuid(const char *u) {
        assert_int_equal(strlen(u), 36);
        for (int i = 0; i < 36; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23)
                        assert_int_equal(u[i], '-');
                else if (!is_lower_hex(u[i]))
                        fail_msg("'%s': character %d is not lowercase hex", u, i);
        }
        assert_int_equal(u[14], '4');
        if (u[19] != '8' && u[19] != '9' && u[19] != 'a' && u[19] != 'b')
                fail_msg("'%s': variant nibble '%c' is not 8..b", u, u[19]);
}

static void test_uuid_random(void **state) {
        char a[37], b[37];

        memset(a, 'X', sizeof(a));
        memset(b, 'X', sizeof(b));
        uuid_random(a);
        uuid_random(b);
        assert_int_equal(a[36], '\0');
        check_uuid(a);
        check_uuid(b);
        assert_string_not_equal(a, b);
        /* Past one batch of the pool: every id still well-formed and distinct from the last. */
        char prev[37];
        memcpy(prev, b, sizeof(prev));
        for (int i = 0; i < 200; i++) {
                char u[37];
                uuid_random(u);
                check_uuid(u);
                assert_string_not_equal(u, prev);
                memcpy(prev, u, sizeof(prev));
        }
}

static void test_hex_lower(void **state) {
        char out[9];

        hex_lower(out, "\x00\xab\x7f\xff", 4);
        assert_string_equal(out, "00ab7fff");
}

/* ---- Buf ---- */

static void test_buf_printf_append(void **state) {
        Buf b = BUF_INIT;

        buf_printf(&b, "%s=%d", "n", 42);
        assert_int_equal(b.len, 4);
        assert_string_equal(b.data, "n=42");
        buf_append(&b, "\0x", 2); /* binary bytes, NUL included */
        assert_int_equal(b.len, 6);
        assert_memory_equal(b.data, "n=42\0x", 6);
        assert_int_equal(b.data[6], '\0');
        buf_puts(&b, "!");
        assert_int_equal(b.len, 7);
        buf_append(&b, NULL, 0);
        assert_int_equal(b.len, 7);
        assert_int_equal(b.data[7], '\0');
        buf_free(&b);
        assert_null(b.data);
        assert_int_equal(b.len, 0);
        assert_int_equal(b.cap, 0);
}

static void test_buf_printf_grows(void **state) {
        Buf b = BUF_INIT;
        char big[1000];

        memset(big, 'q', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        buf_puts(&b, "<");
        buf_printf(&b, "%s|%s", big, big);
        buf_puts(&b, ">");
        assert_int_equal(b.len, 1 + 999 + 1 + 999 + 1);
        assert_true(b.cap > b.len);
        assert_int_equal(b.data[0], '<');
        assert_int_equal(b.data[1000], '|');
        assert_int_equal(b.data[b.len - 1], '>');
        assert_int_equal(b.data[b.len], '\0');
        assert_int_equal(strlen(b.data), b.len);
        buf_free(&b);
}

static void test_buf_reset(void **state) {
        Buf b = BUF_INIT;

        buf_reset(&b); /* on an empty buffer */
        assert_null(b.data);
        buf_puts(&b, "abc");
        size_t cap = b.cap;
        buf_reset(&b);
        assert_int_equal(b.len, 0);
        assert_int_equal(b.cap, cap);
        assert_string_equal(b.data, "");
        buf_free(&b);
}

static void test_buf_steal(void **state) {
        Buf b = BUF_INIT;
        size_t len = 99;

        buf_puts(&b, "hello");
        char *p = buf_steal(&b, &len);
        assert_int_equal(len, 5);
        assert_string_equal(p, "hello");
        assert_null(b.data);
        assert_int_equal(b.len, 0);
        assert_int_equal(b.cap, 0);
        free(p);

        /* An empty buffer gives an empty, freeable string. */
        p = buf_steal(&b, &len);
        assert_non_null(p);
        assert_int_equal(len, 0);
        assert_string_equal(p, "");
        assert_null(b.data);
        free(p);

        buf_puts(&b, "x");
        p = buf_steal(&b, NULL);
        assert_string_equal(p, "x");
        free(p);
}

static void test_slice_eq(void **state) {
        Buf b = BUF_INIT;

        assert_true(slice_eq((Slice){ "abc", 3 }, "abc"));
        assert_false(slice_eq((Slice){ "abc", 2 }, "abc"));
        assert_false(slice_eq((Slice){ "abd", 3 }, "abc"));
        assert_false(slice_eq((Slice){ "ABC", 3 }, "abc"));
        assert_true(slice_case_eq((Slice){ "Content-TYPE", 12 }, "content-type"));
        assert_false(slice_case_eq((Slice){ "Content-Typ", 11 }, "content-type"));
        Slice s = slice_from_buf(&b);
        assert_non_null(s.ptr);
        assert_int_equal(s.len, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_base64_encode_rfc4648),
                cmocka_unit_test(test_base64_encode_appends_and_binary),
                cmocka_unit_test(test_base64_decode_rfc4648),
                cmocka_unit_test(test_base64_decode_binary_roundtrip),
                cmocka_unit_test(test_base64_decode_padding_errors),
                cmocka_unit_test(test_base64_decode_invalid_chars),
                cmocka_unit_test(test_base64_decode_appends),
                cmocka_unit_test(test_utf8_ascii),
                cmocka_unit_test(test_utf8_multibyte),
                cmocka_unit_test(test_utf8_overlong),
                cmocka_unit_test(test_utf8_surrogates),
                cmocka_unit_test(test_utf8_out_of_range),
                cmocka_unit_test(test_utf8_truncated_and_stray),
                cmocka_unit_test(test_uuid_random),
                cmocka_unit_test(test_hex_lower),
                cmocka_unit_test(test_buf_printf_append),
                cmocka_unit_test(test_buf_printf_grows),
                cmocka_unit_test(test_buf_reset),
                cmocka_unit_test(test_buf_steal),
                cmocka_unit_test(test_slice_eq),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
