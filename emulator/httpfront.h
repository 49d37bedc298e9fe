/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "emulator.h"
#include "server.h"

/*
 * Function URLs and API Gateway (DESIGN "Function URLs and API Gateway events"): plain HTTP
 * requests on the Invoke API's listener, outside /2015-03-31/, /2021-11-15/ and /_lemu/,
 * become Function URL, API Gateway v2 or v1 events for the function whose `http.path`
 * matches; its answer becomes the HTTP response (httpfront.c).
 */

/* Events and answers in the three shapes. */
typedef enum HttpFrontKind {
        HTTPFRONT_URL,
        HTTPFRONT_V2,
        HTTPFRONT_V1,
        _HTTPFRONT_KIND_MAX,
        _HTTPFRONT_KIND_INVALID = -22,
} HttpFrontKind;

#define HTTPFRONT_MAX_PARAMS 16

/* Path parameters a route captured: names borrowed from the pattern, values from the path. */
typedef struct HttpFrontParams {
        struct {
                Slice name;
                Slice value;
        } p[HTTPFRONT_MAX_PARAMS];
        size_t n;
} HttpFrontParams;

/*
 * httpfront_match() - matches @path against a route @pattern: literal segments, `{name}`
 * (one segment), `{name+}` (the rest, at least one segment) and a last `*` (the rest, maybe
 * nothing). Return: -1 when it does not match, else a score (higher: more specific).
 */
int httpfront_match(const char *pattern, Slice path, HttpFrontParams *ret_params);

/* httpfront_request() - answers @req when it is a plain HTTP request (even with a 404 when
 * no route matches). Return: false when the path belongs to an AWS or lemu API. */
bool httpfront_request(Emulator *e, HttpConn *c, HttpRequest *req);

/*
 * httpfront_prelude() - the HTTP status and header lines (the function's, then lemu's) that
 * an HTTP-integration prelude @json (the @len bytes before its 8 NULs, spec §2.1) gives the
 * answer to @inv. Return: false when the prelude is malformed.
 */
bool httpfront_prelude(Invocation *inv, const char *json, size_t len, int *ret_status,
                       Buf *ret_headers);
