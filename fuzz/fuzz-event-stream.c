/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the event-stream encoder (base/eventstream.c), round trip. The input picks an
 * event type, a content type and a payload; the encoded message is decoded here, by a reader
 * written from the format (spec §2.2), and every field must come back: lengths, both
 * CRC-32s (checked against a bitwise CRC, not the encoder's table), the three string
 * headers and the payload byte for byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "eventstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t crc_bitwise(const uint8_t *p, size_t n) {
        uint32_t c = 0xffffffffu;

        for (size_t i = 0; i < n; i++) {
                c ^= p[i];
                for (int k = 0; k < 8; k++)
                        c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
        }
        return ~c;
}

static uint32_t be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* Takes a header at *off: it must be the string header @name = @value. */
static void expect_header(const uint8_t *m, size_t end, size_t *off, const char *name,
                          const char *value) {
        size_t nl = strlen(name), vl = strlen(value), o = *off;

        if (o + 1 + nl + 1 + 2 + vl > end || m[o] != nl || memcmp(m + o + 1, name, nl) != 0 ||
            m[o + 1 + nl] != 7 /* string */)
                abort();
        o += 1 + nl + 1;
        if (((size_t) m[o] << 8 | m[o + 1]) != vl || memcmp(m + o + 2, value, vl) != 0)
                abort();
        *off = o + 2 + vl;
}

/* A header string from the input: printable ASCII, at most 64 bytes. */
static void take_string(const uint8_t **data, size_t *size, char *out) {
        size_t n = *size ? (*data)[0] % 65 : 0;

        if (*size)
                (*data)++, (*size)--;
        n = n < *size ? n : *size;
        for (size_t i = 0; i < n; i++)
                out[i] = (char) (0x21 + (*data)[i] % 94);
        out[n] = '\0';
        *data += n;
        *size -= n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char type[65], ct[65];
        Buf out = BUF_INIT;

        take_string(&data, &size, type);
        take_string(&data, &size, ct);
        buf_puts(&out, "x"); /* appended to what is there, not written over it */
        es_event(&out, type, ct, size ? data : NULL, size);

        const uint8_t *m = (const uint8_t *) out.data + 1;
        size_t len = out.len - 1;
        if (len < ES_OVERHEAD || out.data[0] != 'x')
                abort();
        uint32_t total = be32(m), hlen = be32(m + 4);
        if (total != len || be32(m + 8) != crc_bitwise(m, 8) ||
            be32(m + len - 4) != crc_bitwise(m, len - 4) ||
            es_crc32(0, m, len - 4) != crc_bitwise(m, len - 4))
                abort();
        if ((size_t) hlen + ES_OVERHEAD + size != len)
                abort();
        size_t off = 12, hend = 12 + hlen;
        expect_header(m, hend, &off, ":event-type", type);
        expect_header(m, hend, &off, ":content-type", ct);
        expect_header(m, hend, &off, ":message-type", "event");
        if (off != hend || (size && memcmp(m + hend, data, size) != 0))
                abort();
        buf_free(&out);
        return 0;
}
