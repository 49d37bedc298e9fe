/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Byte codecs and ids: base64, UTF-8 validation, random UUIDs, clocks. Dependency-free so
 * that every component and every unit test can link it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "codec.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_encode(Buf *out, const void *data, size_t len) {
        const unsigned char *p = data;
        size_t i;

        buf_reserve(out, (len + 2) / 3 * 4);
        char *o = out->data + out->len;
        for (i = 0; i + 2 < len; i += 3) {
                *o++ = b64[p[i] >> 2];
                *o++ = b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
                *o++ = b64[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
                *o++ = b64[p[i + 2] & 63];
        }
        if (i < len) {
                *o++ = b64[p[i] >> 2];
                if (i + 1 < len) {
                        *o++ = b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
                        *o++ = b64[(p[i + 1] & 15) << 2];
                } else {
                        *o++ = b64[(p[i] & 3) << 4];
                        *o++ = '=';
                }
                *o++ = '=';
        }
        out->len = (size_t) (o - out->data);
        out->data[out->len] = '\0';
}

static int b64_value(unsigned char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

int base64_decode(Buf *out, const char *in, size_t len) {
        size_t start = out->len;

        if (len % 4 != 0)
                return -EINVAL;
        buf_reserve(out, len / 4 * 3);
        for (size_t i = 0; i < len; i += 4) {
                int v[4];
                int pad = 0;

                for (int k = 0; k < 4; k++) {
                        unsigned char c = (unsigned char) in[i + k];

                        if (c == '=' && i + 4 == len && k >= 2) {
                                v[k] = 0;
                                pad++;
                                continue;
                        }
                        if (pad)
                                goto fail; /* data after padding */
                        v[k] = b64_value(c);
                        if (v[k] < 0)
                                goto fail;
                }
                unsigned triple = ((unsigned) v[0] << 18) | ((unsigned) v[1] << 12) |
                                  ((unsigned) v[2] << 6) | (unsigned) v[3];
                char *o = out->data + out->len;
                o[0] = (char) (triple >> 16);
                if (pad < 2)
                        o[1] = (char) (triple >> 8);
                if (pad < 1)
                        o[2] = (char) triple;
                out->len += (size_t) (3 - pad);
        }
        out->data[out->len] = '\0';
        return 0;
fail:
        out->len = start;
        out->data[out->len] = '\0';
        return -EINVAL;
}

bool utf8_valid(const void *data, size_t len) {
        const unsigned char *p = data, *end = p + len;

        while (p < end) {
                unsigned char c = *p;

                if (c < 0x80) {
                        p++;
                        continue;
                }
                size_t n;
                uint32_t cp;
                if (c >= 0xc2 && c <= 0xdf)
                        n = 1, cp = c & 0x1f;
                else if (c >= 0xe0 && c <= 0xef)
                        n = 2, cp = c & 0x0f;
                else if (c >= 0xf0 && c <= 0xf4)
                        n = 3, cp = c & 0x07;
                else
                        return false;
                if ((size_t) (end - p) <= n)
                        return false;
                for (size_t k = 1; k <= n; k++) {
                        if ((p[k] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[k] & 0x3f);
                }
                if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                p += n + 1;
        }
        return true;
}

static void random_fill(unsigned char *o, size_t n) {
        while (n > 0) {
                ssize_t r = getrandom(o, n, 0);

                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        /* No entropy source at all: fall back to the clock, ids stay unique. */
                        uint64_t t = clock_mono_ns();
                        for (size_t i = 0; i < n; i++)
                                o[i] = (unsigned char) (t >> ((i % 8) * 8)) ^ (unsigned char) i;
                        return;
                }
                o += r;
                n -= (size_t) r;
        }
}

/* Small requests (ids, trace ids) come from a pool filled by one getrandom() call: a syscall
 * per invocation is measurable. */
void random_bytes(void *p, size_t n) {
        static unsigned char pool[4096];
        static size_t used = sizeof(pool);

        if (n > 64) {
                random_fill(p, n);
                return;
        }
        if (used + n > sizeof(pool)) {
                random_fill(pool, sizeof(pool));
                used = 0;
        }
        memcpy(p, pool + used, n);
        /* Bytes handed out are not handed out again. */
        memset(pool + used, 0, n);
        used += n;
}

void hex_lower(char *out, const void *p, size_t n) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *b = p;

        for (size_t i = 0; i < n; i++) {
                out[2 * i] = hex[b[i] >> 4];
                out[2 * i + 1] = hex[b[i] & 15];
        }
        out[2 * n] = '\0';
}

void uuid_random(char out[37]) {
        unsigned char u[16];
        char h[33];

        random_bytes(u, 16);
        u[6] = (u[6] & 0x0f) | 0x40;
        u[8] = (u[8] & 0x3f) | 0x80;
        hex_lower(h, u, 16);
        /* 8-4-4-4-12 */
        memcpy(out, h, 8);
        out[8] = '-';
        memcpy(out + 9, h + 8, 4);
        out[13] = '-';
        memcpy(out + 14, h + 12, 4);
        out[18] = '-';
        memcpy(out + 19, h + 16, 4);
        out[23] = '-';
        memcpy(out + 24, h + 20, 12);
        out[36] = '\0';
}

int64_t clock_wall_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t clock_mono_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}
