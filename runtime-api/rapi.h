/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include "buf.h"
#include "extensions.h"
#include "telemetry.h"
#include "server.h"

/*
 * The Runtime API (2018-06-01) of one execution environment, on the environment's own
 * listener. It owns the runtime's state machine of spec §1.9 and renders every answer of
 * spec §1; it knows nothing of scheduling: it tells its owner what the runtime did through
 * RapiOps, and the owner hands events over with rapi_deliver().
 */

/* Buffered /response bodies above this are refused (RAPID's MaxPayloadSize). */
#define RAPI_MAX_RESPONSE 6291556u
/* Read and dropped past the limit so the runtime gets our 413, then the connection closes. */
#define RAPI_DISCARD_MAX (64u * 1024 * 1024)

typedef enum RapiState {
        RAPI_STARTED,   /* spawned, no /next yet: init */
        RAPI_READY,     /* waiting in /next */
        RAPI_RUNNING,   /* an event was handed over */
        RAPI_RESPONDED, /* the runtime answered; the invoke ends at its next /next */
        RAPI_INIT_ERROR,
        _RAPI_STATE_MAX,
        _RAPI_STATE_INVALID = -22,
} RapiState;

/* An event as /next renders it. Borrowed: the owner keeps it alive until ops->ready() or
 * rapi_reset(). */
typedef struct RapiEvent {
        const char *request_id;
        int64_t deadline_ms;
        const char *function_arn;
        const char *trace_id;         /* may be NULL */
        const char *client_context;   /* decoded JSON text, or NULL */
        const char *cognito_identity; /* or NULL */
        const char *invocation_id;    /* per-delivery nonce */
        Slice payload;
        uint64_t stream_max; /* most bytes a streamed /response may carry; 0: no cap */
} RapiEvent;

typedef enum RapiOutcome {
        RAPI_OUT_RESPONSE,  /* /response: body is the result */
        RAPI_OUT_ERROR,     /* /error: body is the runtime's error JSON */
        RAPI_OUT_TOO_LARGE, /* /response over RAPI_MAX_RESPONSE (or a stream over its
                             * stream_max): size in body_bytes */
        RAPI_OUT_BAD_MODE,  /* /response with a bad Lambda-Runtime-Function-Response-Mode */
        RAPI_OUT_TRUNCATED, /* the runtime's connection broke mid-body */
} RapiOutcome;

typedef struct RapiResult {
        RapiOutcome outcome;
        char request_id[64]; /* the event it answers */
        bool streamed;       /* the body went out through ops->stream_data(); body is empty, unless
                              * it is the error body of the trailers */
        Buf body;            /* taken over by the owner (buf_free it) */
        uint64_t body_bytes;
        char content_type[128];
        char error_type[128];         /* sanitised as spec §1.5 (RAPI_OUT_ERROR) */
        char runtime_error_type[128]; /* as the runtime sent it, for the caller's ErrorCode */
} RapiResult;

typedef struct Rapi Rapi;

/* The runtime's calls an owner may make fail (injected faults). */
typedef enum RapiCall {
        RAPI_CALL_NEXT,     /* the /next that would receive the event */
        RAPI_CALL_RESPONSE, /* the event's /response or /error */
        _RAPI_CALL_MAX,
        _RAPI_CALL_INVALID = -22,
} RapiCall;

typedef struct RapiOps {
        /* The runtime asked for its next event: init is done (first time) or the current
         * invocation is complete. */
        void (*ready)(Rapi *r);
        /* The runtime answered the current event. @res is the owner's to consume. */
        void (*result)(Rapi *r, RapiResult *res);
        /* A streamed /response began (spec §2.1): the body follows through stream_data(),
         * then result() ends it. @content_type is borrowed. Optional: without it streamed
         * responses are collected like buffered ones. */
        void (*stream_begin)(Rapi *r, const char *content_type);
        /* The next bytes of the streamed body (chunk boundaries mean nothing), borrowed. */
        void (*stream_data)(Rapi *r, const char *data, size_t len);
        /* The runtime posted /init/error; @res->error_type and body are set. */
        void (*init_error)(Rapi *r, RapiResult *res);
        /* A connection was accepted: false closes it without an answer (a process that is
         * not the environment's). Optional. */
        bool (*admit)(Rapi *r, HttpConn *c);
        /* Managed Instances mode only (all required there): */
        /* The connection that took event @request_id closed before it was answered; @pid is
         * the process at its other end (HttpConn.peer_pid, 0 when unknown). The answer may
         * still come on another connection. */
        void (*orphaned)(Rapi *r, const char *request_id, pid_t pid);
        /* A late answer to an abandoned (timed-out) event came and was refused with 410. */
        void (*late)(Rapi *r);
        /* Every external extension registered: the runtime may start. Optional. */
        void (*ext_registered)(Rapi *r);
        /* An extension posted init/error (@init) or exit/error with @error_type. Optional. */
        void (*ext_error)(Rapi *r, const char *name, const char *error_type, bool init);
        /* Before the call is served: 0 serves it; a status (400-599) answers it with that
         * status instead, -1 closes its connection. A failed /next keeps the event for the
         * runtime's next /next; a failed /response leaves the event unanswered. Optional. */
        int (*fault)(Rapi *r, RapiCall call);
} RapiOps;

/* Managed Instances mode: an event handed over, or abandoned after its timeout. */
typedef enum RapiSlotState {
        RAPI_SLOT_FREE,
        RAPI_SLOT_ACTIVE,
        RAPI_SLOT_LATE,
} RapiSlotState;

typedef struct RapiSlot {
        RapiSlotState state;
        char id[64];
        char nonce[64];
        HttpConn *conn; /* the /next that took it, until that connection closes */
        pid_t pid;
        uint64_t since; /* order of abandonment: the oldest late slot is reused first */
} RapiSlot;

/* RIE-LMI's bound on parked /next calls (Runtime.TooManyIdleRuntimes past it). */
#define RAPI_MAX_WAITERS 10000u

struct Rapi {
        HttpServer server;
        const RapiOps *ops;
        void *data; /* the owner's */
        RapiState state;
        const RapiEvent *event; /* current event (RUNNING only: it dies when answered) */
        char event_id[64];      /* the current event's request id, owned here */
        char event_nonce[64];
        HttpConn *waiting;        /* the parked /next */
        const RapiEvent *pending; /* an event whose /next failed (a fault): the next /next */
        HttpConn *stream;         /* the streaming /response whose body is arriving */
        uint64_t stream_bytes;
        uint64_t stream_max; /* the current event's */
        bool stream_cut;     /* the cap was reached: the rest is read and dropped */
        char address[32];    /* "127.x.y.z:9001" */
        bool open;
        void (*close_cb)(Rapi *r);

        /* Managed Instances mode (spec §6.1): several /next parked, answers routed by id. */
        unsigned max_concurrency; /* 1: classic */
        HttpConn **waiters;       /* parked /next calls, oldest first */
        unsigned n_waiters, waiters_cap;
        RapiSlot *slots; /* max_concurrency * 2: events handed over, and late ones */
        unsigned n_slots;
        uint64_t late_clock;
        /* The runtime asked for its next event, and ops->ready() waits for the extensions
         * to do the same. */
        bool ready_pending;
        RapiExtensions ext; /* the Extensions API (extensions.c) */
        RapiTelemetry tel;  /* the Telemetry and Logs APIs (telemetry.c) */
};

/* rapi_init() - binds a fresh loopback address for the environment.
 * Return: 0 or a negative errno (-EADDRINUSE when no address is free). */
int rapi_init(Rapi *r, uv_loop_t *loop, const RapiOps *ops, const HttpLimits *limits, void *data);
/* rapi_init_unbound() - no listener yet: the environment's own network namespace makes one,
 * handed over with rapi_attach(). The runtime sees 127.0.0.1:9001. */
void rapi_init_unbound(Rapi *r, const RapiOps *ops, void *data);
/* rapi_attach() - serves on the listening socket @fd (taken over). Return: 0 or -errno. */
int rapi_attach(Rapi *r, uv_loop_t *loop, const HttpLimits *limits, int fd);
/* rapi_deliver() - answers the parked /next with @ev. Return: 0, or -EAGAIN if none is parked. */
int rapi_deliver(Rapi *r, const RapiEvent *ev);
bool rapi_waiting(const Rapi *r);
/* rapi_set_concurrency() - @n > 1 turns Managed Instances mode on (before the first
 * connection). */
void rapi_set_concurrency(Rapi *r, unsigned n);
/* Managed Instances mode: parked /next calls. */
unsigned rapi_n_waiting(const Rapi *r);
/* rapi_release() - Managed Instances mode: the owner is done with event @request_id
 * without its answer. @late: it timed out, and a late answer gets 410 InvokeTimeout;
 * otherwise the id is forgotten (400 InvalidRequestID). */
void rapi_release(Rapi *r, const char *request_id, bool late);
/* rapi_stream_pause() - stops or resumes reading the streamed body (backpressure, the
 * bandwidth rule); a no-op when no stream is arriving. */
void rapi_stream_pause(Rapi *r, bool pause);
/* rapi_reset() - the runtime was stopped: forget its state and connections (back to STARTED). */
void rapi_reset(Rapi *r);
/* rapi_close() - stops the listener; @cb runs once it and its connections are closed. */
void rapi_close(Rapi *r, void (*cb)(Rapi *r));

/* rapi__maybe_ready() - calls ops->ready() once the runtime and every extension wait. */
void rapi__maybe_ready(Rapi *r);

/* Sanitises a runtime error type as RAPID does (spec §1.5) into @out. */
void rapi_sanitize_error_type(Slice in, char *out, size_t n);
const char *rapi_state_name(RapiState s);
