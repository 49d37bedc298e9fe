/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "server.h"

/*
 * The Extensions API (2020-01-01) of one environment (spec §5.1), served on the Runtime API's
 * listener. It keeps the registered extensions and their event queues; the Rapi asks it
 * whether every extension has asked for its next event (init ends, the invocation is
 * complete) and hands it the INVOKE and SHUTDOWN events.
 */

struct Rapi;
struct RapiEvent;

#define RAPI_EXT_MAX 10 /* Lambda's limit (spec §5.1) */

typedef enum RapiExtState {
        RAPI_EXT_REGISTERED, /* registered, no event/next yet */
        RAPI_EXT_READY,      /* waiting for an event */
        RAPI_EXT_RUNNING,    /* an event was handed over; done at its next event/next */
        RAPI_EXT_SHUTDOWN,   /* SHUTDOWN was handed over */
        RAPI_EXT_ERROR,      /* posted init/error or exit/error: no further calls */
        _RAPI_EXT_STATE_MAX,
        _RAPI_EXT_STATE_INVALID = -22,
} RapiExtState;

typedef struct RapiExt {
        char id[37];
        char name[128];
        int external; /* index among the external executables, or -1: internal */
        bool on_invoke, on_shutdown;
        RapiExtState state;
        HttpConn *waiting; /* its parked event/next */
        Buf pending;       /* an event rendered while it was not waiting */
        bool has_pending;
        int subscription; /* telemetry.c: its subscription's index, or -1 */
} RapiExt;

/* What register answers (borrowed: the owner keeps it alive). */
typedef struct RapiFunctionInfo {
        const char *function_name;
        const char *function_version;
        const char *handler;
        const char *account_id;
} RapiFunctionInfo;

typedef struct RapiExtensions {
        RapiExt ext[RAPI_EXT_MAX];
        unsigned n;
        const char *const *external; /* executables' file names (borrowed) */
        unsigned n_external;
        unsigned n_external_registered;
        bool closed;        /* registration closed: the runtime finished its init */
        bool shutting_down; /* SHUTDOWN was sent */
        bool init_done;     /* init ended (init/error no longer applies) */
        RapiFunctionInfo info;
} RapiExtensions;

/* rapi_ext_setup() - the environment's external extensions (@names borrowed, file names in
 * start order) and what register answers. Call after rapi_init(). */
void rapi_ext_setup(struct Rapi *r, const char *const *names, unsigned n,
                    const RapiFunctionInfo *info);
/* Registered extensions: all, or only the external ones. */
unsigned rapi_ext_count(const struct Rapi *r, bool external_only);
/* rapi_ext_shutdown() - hands SHUTDOWN (@reason: spindown, timeout, failure) to every
 * extension subscribed to it. Return: how many got it. */
unsigned rapi_ext_shutdown(struct Rapi *r, const char *reason, int64_t deadline_ms);
/* rapi_ext_exited() - external extension @index exited. Return: whether it had registered.
 * It no longer holds up init or the end of an invocation; @settle: see whether that ends
 * them now (false: the environment is being reset anyway). */
bool rapi_ext_exited(struct Rapi *r, int index, bool settle);
/* The name of external extension @index (for logs). */
const char *rapi_ext_external_name(const struct Rapi *r, int index);

/* ---- for rapi.c ---- */
/* True when every registered extension waits for an event. */
bool rapi__ext_all_ready(const struct Rapi *r);
/* Serves /2020-01-01/extension/...; false when @req is not for this API. */
bool rapi__ext_route(struct Rapi *r, HttpConn *c, HttpRequest *req);
/* INVOKE to every extension subscribed to it. */
void rapi__ext_invoke(struct Rapi *r, const struct RapiEvent *ev);
/* Forgets every registration (the processes are gone). */
void rapi__ext_reset(struct Rapi *r);
void rapi__ext_conn_closed(struct Rapi *r, HttpConn *c);
/* Looks an extension up by the Lambda-Extension-Identifier header; answers the request
 * with spec §5.1's 403 and returns NULL when it is missing, malformed or unknown. */
RapiExt *rapi__ext_identify(struct Rapi *r, HttpConn *c, HttpRequest *req);
/* Parses a request body as exactly one JSON value. Return: the tree (the caller deletes it)
 * or NULL. */
struct cJSON *rapi__parse_json(const Buf *body);
void rapi__respond_error(HttpConn *c, int status, const char *type, const char *msg);
