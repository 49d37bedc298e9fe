/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Standard base64 (RFC 4648, with padding) appended to @out. */
void base64_encode(Buf *out, const void *data, size_t len);
/*
 * base64_decode() - strict standard base64 decode, padding required, no whitespace.
 * Return: 0 and the bytes appended to @out, or -EINVAL (nothing is appended then).
 */
int base64_decode(Buf *out, const char *in, size_t len);

/* utf8_valid() - true when @p is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
bool utf8_valid(const void *p, size_t len);

/* uuid_random() - writes a random version-4 UUID and its NUL into @out (37 bytes). */
void uuid_random(char out[37]);

/* Fills @p with random bytes from the kernel; used for ids, never for seeded choices. */
void random_bytes(void *p, size_t n);

/* hex_lower() - writes 2*@n lowercase hex digits and a NUL into @out. */
void hex_lower(char *out, const void *p, size_t n);

/* Wall clock in ms since the epoch, and a monotonic clock in ns. */
int64_t clock_wall_ms(void);
uint64_t clock_mono_ns(void);
