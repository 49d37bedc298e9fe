/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event-stream encoder against frames written out by hand, byte by byte, with CRCs
 * computed apart from lemu (zlib.crc32) and the empty-message vector of AWS's event-stream
 * test suite; then a small decoder checks that any frame's lengths and CRCs agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "eventstream.h"

static uint32_t be32(const unsigned char *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static void test_crc32_check_values(void **state) {
        /* The CRC-32 check value and the empty string. */
        assert_int_equal(es_crc32(0, "123456789", 9), 0xCBF43926u);
        assert_int_equal(es_crc32(0, "", 0), 0);
        /* Continuing a CRC over two pieces gives the CRC of the whole. */
        assert_int_equal(es_crc32(es_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
        /* AWS's "empty_message" vector: prelude 00000010 00000000, CRCs 05c248eb, 7d98c8ff. */
        static const unsigned char prelude[] = { 0, 0, 0, 0x10, 0, 0, 0, 0 };
        static const unsigned char msg[] = { 0, 0, 0, 0x10, 0, 0, 0, 0, 0x05, 0xc2, 0x48, 0xeb };
        assert_int_equal(es_crc32(0, prelude, sizeof(prelude)), 0x05c248ebu);
        assert_int_equal(es_crc32(0, msg, sizeof(msg)), 0x7d98c8ffu);
}

static void test_payload_chunk_by_hand(void **state) {
        /* Total 111 = 16 + 90 header bytes + 5 payload bytes; CRCs from zlib.crc32. */
        static const char expect[] = "\x00\x00\x00\x6f"
                                     "\x00\x00\x00\x5a"
                                     "\xf5\xfe\x87\x1f"
                                     "\x0b:event-type\x07\x00\x0cPayloadChunk"
                                     "\x0d:content-type\x07\x00\x18"
                                     "application/octet-stream"
                                     "\x0d:message-type\x07\x00\x05"
                                     "event"
                                     "hello"
                                     "\x29\xe7\x12\x60";
        Buf b = BUF_INIT;

        es_event(&b, "PayloadChunk", "application/octet-stream", "hello", 5);
        assert_int_equal(b.len, 111);
        assert_int_equal(sizeof(expect) - 1, 111);
        assert_memory_equal(b.data, expect, 111);
        buf_free(&b);
}

static void test_invoke_complete_by_hand(void **state) {
        static const char expect[] = "\x00\x00\x00\x66"
                                     "\x00\x00\x00\x54"
                                     "\x1f\x56\xc8\x69"
                                     "\x0b:event-type\x07\x00\x0eInvokeComplete"
                                     "\x0d:content-type\x07\x00\x10"
                                     "application/json"
                                     "\x0d:message-type\x07\x00\x05"
                                     "event"
                                     "{}"
                                     "\x70\x06\xd4\x67";
        Buf b = BUF_INIT;

        /* Appending keeps what is already there: frames follow one another. */
        buf_append(&b, "xy", 2);
        es_event(&b, "InvokeComplete", "application/json", "{}", 2);
        assert_int_equal(b.len, 2 + 102);
        assert_memory_equal(b.data, "xy", 2);
        assert_memory_equal(b.data + 2, expect, 102);
        buf_free(&b);
}

/* Decodes one frame at @p: checks both CRCs and lengths; returns its total length. */
static size_t check_frame(const unsigned char *p, size_t avail, const char *event_type,
                          const void *payload, size_t payload_len) {
        assert_true(avail >= ES_OVERHEAD);
        uint32_t total = be32(p), hlen = be32(p + 4);
        assert_true(total <= avail);
        assert_int_equal(be32(p + 8), es_crc32(0, p, 8));
        assert_int_equal(be32(p + total - 4), es_crc32(0, p, total - 4));
        assert_int_equal(total - hlen - ES_OVERHEAD, payload_len);
        if (payload_len)
                assert_memory_equal(p + 12 + hlen, payload, payload_len);
        /* The first header is :event-type. */
        assert_int_equal(p[12], 11);
        assert_memory_equal(p + 13, ":event-type", 11);
        assert_int_equal(p[24], 7);
        size_t vl = (size_t) p[25] << 8 | p[26];
        assert_int_equal(vl, strlen(event_type));
        assert_memory_equal(p + 27, event_type, vl);
        return total;
}

static void test_frames_decode(void **state) {
        Buf b = BUF_INIT;
        static unsigned char big[70000];

        for (size_t i = 0; i < sizeof(big); i++)
                big[i] = (unsigned char) (i * 7 + 3);
        es_event(&b, "PayloadChunk", "application/octet-stream", big, sizeof(big));
        es_event(&b, "PayloadChunk", "application/octet-stream", NULL, 0);
        es_event(&b, "InvokeComplete", "application/json", "{\"ErrorCode\":\"X\"}", 17);
        const unsigned char *p = (const unsigned char *) b.data;
        size_t off = 0;
        off += check_frame(p + off, b.len - off, "PayloadChunk", big, sizeof(big));
        off += check_frame(p + off, b.len - off, "PayloadChunk", NULL, 0);
        off += check_frame(p + off, b.len - off, "InvokeComplete", "{\"ErrorCode\":\"X\"}", 17);
        assert_int_equal(off, b.len);
        /* A flipped payload byte no longer matches the message CRC. */
        b.data[200] ^= 1;
        assert_int_not_equal(be32(p + be32(p) - 4), es_crc32(0, p, be32(p) - 4));
        buf_free(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_crc32_check_values),
                cmocka_unit_test(test_payload_chunk_by_hand),
                cmocka_unit_test(test_invoke_complete_by_hand),
                cmocka_unit_test(test_frames_decode),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
