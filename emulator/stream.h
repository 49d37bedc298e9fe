/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "emulator.h"
#include "server.h"

/*
 * A streamed response on its way to its caller (spec §2). An InvokeWithResponseStream
 * caller gets each piece the runtime sends as a PayloadChunk event as soon as it arrives,
 * then one InvokeComplete; an HTTP front-end caller of a streaming mapping gets an
 * HTTP-integration stream's status and headers once its prelude is complete, then each
 * piece as one chunk of its response; any other caller (Invoke, async, shadow runs,
 * `lemu run`, an HTTP caller of a stream without prelude) gets the pieces collected into
 * inv->result, under the buffered cap. Nothing is kept whole:
 * when the caller reads slowly, or the bandwidth rule says so, the runtime's connection
 * stops being read.
 */

/* Above this many bytes waiting for a slow caller, the runtime is not read; below the low
 * mark it is again. */
#define STREAM_QUEUE_HIGH (1024u * 1024)
#define STREAM_QUEUE_LOW  (256u * 1024)

/* stream_begin() - the runtime started a streamed response to @inv (on inv->env). */
void stream_begin(Invocation *inv, const char *content_type);
/* stream_data() - the next bytes (borrowed). */
void stream_data(Invocation *inv, const char *data, size_t len);
/* stream_ended() - the runtime's stream is over (answered, cut, broken): stop pacing it. */
void stream_ended(Invocation *inv);
/* stream_respond() - answers an InvokeWithResponseStream caller @c with the outcome of
 * @inv: the rest of the event stream and InvokeComplete, or all of it if it never began. */
void stream_respond(HttpConn *c, Invocation *inv);
/* stream_caller_gone() - the caller hung up: the runtime is read again (bytes dropped). */
void stream_caller_gone(Invocation *inv);
/* stream_began() - the caller's status and headers went out (an event stream's 200, or an
 * HTTP front-end caller's status from the prelude). */
bool stream_began(const Invocation *inv);
/* stream_free() - releases inv->stream (safe when NULL). */
void stream_free(Invocation *inv);
