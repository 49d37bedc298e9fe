/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: control API requests (/_lemu/…). The input is "METHOD PATH\n" then the body;
 * the target wraps it in a well-formed HTTP request under /_lemu/, so the fuzzer spends its
 * time on the endpoints, their query parameters and JSON bodies rather than on HTTP syntax
 * (fuzz-invoke-api has that). Several requests may follow each other, separated by a line
 * "\n--next--\n", on one connection.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "fake-emulator.h"
#include "http-driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void add_request(Buf *out, const char *p, size_t n) {
        const char *nl = memchr(p, '\n', n);
        size_t line = nl ? (size_t) (nl - p) : n;
        const char *sp = memchr(p, ' ', line);
        size_t ml = sp ? (size_t) (sp - p) : line;
        const char *path = sp ? sp + 1 : p + line;
        size_t pl = line - (sp ? ml + 1 : ml);
        const char *body = nl ? nl + 1 : p + n;
        size_t bl = (size_t) (p + n - body);

        /* Bytes that would end the request line early become '_'. */
        buf_append(out, ml ? p : "GET", ml ? ml : 3);
        buf_append(out, " /_lemu/", 8);
        for (size_t i = 0; i < pl; i++) {
                char c = path[i];
                buf_append(out, (c == ' ' || c == '\r' || c == '\n' || c == '\0') ? "_" : &c, 1);
        }
        buf_printf(out, " HTTP/1.1\r\nHost: lemu\r\nContent-Length: %zu\r\n\r\n", bl);
        buf_append(out, body, bl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char sep[] = "\n--next--\n";
        Emulator *e = fake_emulator();
        FuzzDriver d = { .loop = e->loop, .server = &e->api, .port = http_server_port(&e->api) };
        const char *p = (const char *) data, *end = p + size;
        Buf req = BUF_INIT;

        while (p <= end) {
                const char *s = memmem(p, (size_t) (end - p), sep, sizeof(sep) - 1);
                size_t n = s ? (size_t) (s - p) : (size_t) (end - p);
                add_request(&req, p, n);
                if (!s)
                        break;
                p = s + sizeof(sep) - 1;
        }
        fuzz_driver_send(&d, req.data, req.len);
        buf_free(&req);
        fake_emulator_reset(e);
        return 0;
}
