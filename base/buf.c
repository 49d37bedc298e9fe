/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Growable byte buffers. Growth doubles so appends are amortised O(1); the terminating NUL is
 * kept so text can be handed to C string functions without a copy.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "xalloc.h"

void buf_reserve(Buf *b, size_t extra) {
        size_t need = b->len + extra + 1;

        if (need <= b->cap)
                return;
        size_t cap = b->cap ? b->cap : 256; /* most buffers are a line or a head */
        while (cap < need)
                cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
}

void buf_append_grow(Buf *b, const void *p, size_t n) {
        buf_reserve(b, n);
        if (n)
                memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
}

void buf_put_u64(Buf *b, uint64_t v) {
        char tmp[24];
        size_t i = sizeof(tmp);

        do {
                tmp[--i] = (char) ('0' + v % 10);
                v /= 10;
        } while (v);
        buf_append(b, tmp + i, sizeof(tmp) - i);
}

void buf_put_i64(Buf *b, int64_t v) {
        if (v < 0) {
                buf_append(b, "-", 1);
                buf_put_u64(b, (uint64_t) 0 - (uint64_t) v);
                return;
        }
        buf_put_u64(b, (uint64_t) v);
}

void buf_put_fixed2(Buf *b, double v) {
        if (!(v >= 0) || v > 1e15) { /* NaN, negative or huge: printf knows best */
                buf_printf(b, "%.2f", v);
                return;
        }
        uint64_t c = (uint64_t) (v * 100 + 0.5);
        char frac[3] = { (char) ('0' + c / 10 % 10), (char) ('0' + c % 10), '\0' };
        buf_put_u64(b, c / 100);
        buf_append(b, ".", 1);
        buf_append(b, frac, 2);
}

void buf_put_json_str(Buf *b, const char *s, size_t n) {
        buf_append(b, "\"", 1);
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c == '"' || c == '\\')
                        buf_printf(b, "\\%c", c);
                else if (c == '\n')
                        buf_puts(b, "\\n");
                else if (c == '\t')
                        buf_puts(b, "\\t");
                else if (c < 0x20)
                        buf_printf(b, "\\u%04x", c);
                else
                        buf_append(b, &s[i], 1);
        }
        buf_append(b, "\"", 1);
}

void buf_printf(Buf *b, const char *fmt, ...) {
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        buf_reserve(b, (size_t) n);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t) n;
}

void buf_reset(Buf *b) {
        b->len = 0;
        if (b->data)
                b->data[0] = '\0';
}

void buf_free(Buf *b) {
        free(b->data);
        *b = BUF_INIT;
}

char *buf_steal(Buf *b, size_t *ret_len) {
        char *p;

        if (!b->data)
                buf_reserve(b, 0), b->data[0] = '\0';
        p = b->data;
        if (ret_len)
                *ret_len = b->len;
        *b = BUF_INIT;
        return p;
}

bool slice_eq(Slice s, const char *lit) {
        size_t n = strlen(lit);

        return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

bool slice_case_eq(Slice s, const char *lit) {
        size_t n = strlen(lit);

        return s.len == n && strncasecmp(s.ptr, lit, n) == 0;
}
