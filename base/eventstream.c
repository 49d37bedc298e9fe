/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event-stream encoder: only what Lambda sends, event messages with string headers
 * (value type 7). The CRC is the reflected CRC-32 with polynomial 0xEDB88320, table-driven,
 * the table built once on first use.
 */
#include <stdbool.h>
#include <string.h>

#include "eventstream.h"

#define ES_HEADER_STRING 7

static uint32_t crc_table[256];
static bool crc_ready;

static void crc_init(void) {
        for (uint32_t i = 0; i < 256; i++) {
                uint32_t c = i;
                for (int k = 0; k < 8; k++)
                        c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
                crc_table[i] = c;
        }
        crc_ready = true;
}

uint32_t es_crc32(uint32_t crc, const void *data, size_t len) {
        const unsigned char *p = data;

        if (!crc_ready)
                crc_init();
        crc = ~crc;
        for (size_t i = 0; i < len; i++)
                crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
        return ~crc;
}

static void put_u32(unsigned char *p, uint32_t v) {
        p[0] = (unsigned char) (v >> 24);
        p[1] = (unsigned char) (v >> 16);
        p[2] = (unsigned char) (v >> 8);
        p[3] = (unsigned char) v;
}

static size_t header_size(const char *name, const char *value) {
        return 1 + strlen(name) + 1 + 2 + strlen(value);
}

static void put_header(Buf *out, const char *name, const char *value) {
        size_t nl = strlen(name), vl = strlen(value);
        unsigned char b[3];

        b[0] = (unsigned char) nl;
        buf_append(out, b, 1);
        buf_append(out, name, nl);
        b[0] = ES_HEADER_STRING;
        b[1] = (unsigned char) (vl >> 8);
        b[2] = (unsigned char) vl;
        buf_append(out, b, 3);
        buf_append(out, value, vl);
}

void es_event(Buf *out, const char *event_type, const char *content_type, const void *payload,
              size_t len) {
        size_t start = out->len;
        uint32_t hlen = (uint32_t) (header_size(":event-type", event_type) +
                                    header_size(":content-type", content_type) +
                                    header_size(":message-type", "event"));
        unsigned char prelude[12], crc[4];

        put_u32(prelude, (uint32_t) (ES_OVERHEAD + hlen + len));
        put_u32(prelude + 4, hlen);
        put_u32(prelude + 8, es_crc32(0, prelude, 8));
        buf_reserve(out, ES_OVERHEAD + hlen + len);
        buf_append(out, prelude, sizeof(prelude));
        put_header(out, ":event-type", event_type);
        put_header(out, ":content-type", content_type);
        put_header(out, ":message-type", "event");
        if (len)
                buf_append(out, payload, len);
        put_u32(crc, es_crc32(0, out->data + start, out->len - start));
        buf_append(out, crc, sizeof(crc));
}
