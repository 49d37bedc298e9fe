/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A borrowed run of bytes. */
typedef struct Slice {
        const char *ptr;
        size_t len;
} Slice;

/* A growable byte buffer that owns its bytes; always NUL-terminated past len. */
typedef struct Buf {
        char *data;
        size_t len;
        size_t cap;
} Buf;

#define BUF_INIT ((Buf){ 0 })

void buf_reserve(Buf *b, size_t extra);
void buf_append_grow(Buf *b, const void *p, size_t n);
/* Inline when it fits: an HTTP exchange appends a hundred short pieces. */
static inline void buf_append(Buf *b, const void *p, size_t n) {
        if (b->len + n + 1 > b->cap) {
                buf_append_grow(b, p, n);
                return;
        }
        if (n) /* @p may be NULL then */
                memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
}
static inline void buf_puts(Buf *b, const char *s) {
        buf_append(b, s, strlen(s));
}
void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Decimal forms without printf, for hot paths: an integer, a signed one, and a non-negative
 * number with two decimals (like "%.2f", rounded half up). */
void buf_put_u64(Buf *b, uint64_t v);
void buf_put_i64(Buf *b, int64_t v);
void buf_put_fixed2(Buf *b, double v);
/* @n bytes as a quoted JSON string: quotes, backslashes and control bytes escaped, the rest
 * (UTF-8 included) as it is. */
void buf_put_json_str(Buf *b, const char *s, size_t n);
void buf_reset(Buf *b);
void buf_free(Buf *b);
/* Gives the bytes to the caller (free() them) and leaves @b empty. */
char *buf_steal(Buf *b, size_t *ret_len);

static inline Slice slice_from_buf(const Buf *b) {
        return (Slice){ b->data ? b->data : "", b->len };
}

bool slice_eq(Slice s, const char *lit);
bool slice_case_eq(Slice s, const char *lit);

/* Copies the string @src (NULL: "") into @dst of @size bytes, cut to fit and always
 * terminated: snprintf(dst, size, "%s", src) without a printf on hot paths. Return: @dst. */
static inline char *str_copy(char *dst, size_t size, const char *src) {
        size_t i = 0;

        for (; src && i + 1 < size && src[i]; i++)
                dst[i] = src[i];
        dst[i] = '\0';
        return dst;
}
