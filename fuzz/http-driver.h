/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "server.h"

/*
 * Drives one HTTP server in the fuzz targets: each input is written on a fresh loopback
 * connection, the loop runs until the server has nothing more to say (its answers drained),
 * the client closes, and the loop runs until the server has let the connection go. No
 * sleeps: "nothing more" is a few loop turns in a row with no byte and no pending write.
 */

typedef struct FuzzDriver {
        uv_loop_t *loop;
        HttpServer *server;
        const char *host; /* an IPv4 address; NULL: 127.0.0.1 */
        int port;
        /* Called after every loop turn (e.g. to hand an event to a parked /next). */
        void (*turn)(void *data);
        void *data;
        size_t answered; /* bytes the server sent for the last input */
} FuzzDriver;

/* fuzz_driver_send() - one input, start to finish. Aborts when the server never lets go. */
void fuzz_driver_send(FuzzDriver *d, const void *data, size_t len);
