/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "server.h"

/*
 * The Telemetry API (2022-07-01) and the older Logs API (2020-08-15) of one environment
 * (spec §5.2, §5.3): extensions subscribe during init; events the owner emits are buffered
 * per subscription (maxItems, maxBytes, timeoutMs) and POSTed as JSON arrays to the
 * subscriber's listener on the environment's loopback, by a non-blocking libuv client. A
 * subscriber that is slow or gone costs a bounded queue (then dropped events, counted and
 * reported in platform.logsDropped), never the loop.
 */

struct Rapi;

/* Event categories, as subscriptions name them. */
#define RAPI_TEL_PLATFORM  1u
#define RAPI_TEL_FUNCTION  2u
#define RAPI_TEL_EXTENSION 4u
/* Only Logs API subscribers get it (platform.end), or only Telemetry API ones. */
#define RAPI_TEL_LOGS_ONLY      8u
#define RAPI_TEL_TELEMETRY_ONLY 16u

#define RAPI_TEL_MAX_SUBS       10

typedef struct RapiTelemetry {
        struct TelSub *subs[RAPI_TEL_MAX_SUBS];
        unsigned n;
        bool paused; /* the environment is frozen: nothing is sent */
        /* Events of the current init, replayed to extensions that subscribe during it
         * (bounded): "type\0json" entries. */
        char **backlog;
        unsigned *backlog_cat;
        unsigned n_backlog;
        size_t backlog_bytes;
        bool backlog_closed; /* init is over: no more replay */
} RapiTelemetry;

/* rapi_tel_wants() - whether any subscriber takes events of @category (skip building them). */
bool rapi_tel_wants(const struct Rapi *r, unsigned category);
/* rapi_tel_emit() - one event: @type ("platform.start", "function", …) and its record as
 * JSON text (borrowed). @category: RAPI_TEL_* bits. */
void rapi_tel_emit(struct Rapi *r, unsigned category, const char *type, const char *record);
/* rapi_tel_pause() - the environment froze (@on) or thawed: deliveries wait meanwhile. */
void rapi_tel_pause(struct Rapi *r, bool on);
/* rapi_tel_flush() - sends what is buffered now (the environment is shutting down). */
void rapi_tel_flush(struct Rapi *r);

/* ---- for rapi.c / extensions.c ---- */
/* Serves PUT /2022-07-01/telemetry and PUT /2020-08-15/logs; false when not for it. */
bool rapi__tel_route(struct Rapi *r, HttpConn *c, HttpRequest *req);
/* Init is over: no more replay of its events. */
void rapi__tel_init_done(struct Rapi *r);
/* The subscriptions end (their deliveries are abandoned; memory goes once handles close). */
void rapi__tel_reset(struct Rapi *r);
