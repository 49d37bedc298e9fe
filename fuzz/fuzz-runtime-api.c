/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the Runtime API as a runtime speaks it — raw bytes on a connection to one
 * environment's listener, with an owner that hands an event over whenever /next is parked,
 * so pipelined /next, /response, /error and /init/error calls walk the state machine. The
 * event's request id is fixed (seeds use it); each input starts from a fresh runtime.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http-driver.h"
#include "rapi.h"

#define REQUEST_ID "8476a536-e9f4-4cdd-8d5d-0ea7d1c1e8a4"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned results;

static void on_ready(Rapi *r) {
}

static void on_result(Rapi *r, RapiResult *res) {
        results++;
        buf_free(&res->body);
}

static void on_init_error(Rapi *r, RapiResult *res) {
        buf_free(&res->body);
}

static const RapiOps ops = {
        .ready = on_ready,
        .result = on_result,
        .init_error = on_init_error,
};

static const RapiEvent event = {
        .request_id = REQUEST_ID,
        .deadline_ms = 4102444800000,
        .function_arn = "arn:aws:lambda:us-east-1:000000000000:function:function",
        .trace_id = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
        .client_context = "{\"custom\":{\"k\":\"v\"}}",
        .invocation_id = "0f2c3a4b-1111-4222-8333-944455556666",
        .payload = { "{\"fuzz\":true}", 13 },
};

/* The owner's side: a parked /next gets the event, as the scheduler would give it. */
static void turn(void *data) {
        Rapi *r = data;

        if (rapi_waiting(r))
                (void) rapi_deliver(r, &event);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static uv_loop_t loop;
        static Rapi r;
        static HttpLimits limits = {
                .max_header_bytes = 65536,
                .max_headers = 100,
                .discard_max = 64 * 1024,
        };
        static char host[32];

        if (!loop.data) {
                uv_loop_init(&loop);
                loop.data = &r;
                if (rapi_init(&r, &loop, &ops, &limits, NULL) < 0) {
                        fprintf(stderr, "fuzz-runtime-api: cannot bind a loopback address\n");
                        abort();
                }
                snprintf(host, sizeof(host), "%s", r.address);
                *strchr(host, ':') = '\0';
        }
        FuzzDriver d = {
                .loop = &loop,
                .server = &r.server,
                .host = host,
                .port = http_server_port(&r.server),
                .turn = turn,
                .data = &r,
        };
        fuzz_driver_send(&d, data, size);
        rapi_reset(&r);
        uv_run(&loop, UV_RUN_NOWAIT);
        return 0;
}
