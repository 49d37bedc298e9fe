/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/*
 * AWS event-stream framing (application/vnd.amazon.eventstream), the body of an
 * InvokeWithResponseStream answer (spec §2.2): a prelude (total length, headers length,
 * CRC-32 of those 8 bytes), string headers, the payload, and a CRC-32 of everything before
 * it. All integers are big-endian.
 */

/* Prelude (12) plus the message CRC (4). */
#define ES_OVERHEAD 16u

/* es_crc32() - CRC-32 (IEEE 802.3, zlib's polynomial) of @len bytes, continuing @crc
 * (start with 0). */
uint32_t es_crc32(uint32_t crc, const void *data, size_t len);

/*
 * es_event() - appends one event message to @out: headers `:event-type` @event_type,
 * `:content-type` @content_type and `:message-type` `event`, then @len bytes of @payload
 * (borrowed; may be NULL when @len is 0).
 */
void es_event(Buf *out, const char *event_type, const char *content_type, const void *payload,
              size_t len);
