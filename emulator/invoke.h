/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "emulator.h"
#include "server.h"

/* The Invoke API listener's request handling (invoke.c), and the control API (control.c). */

#define INVOKE_SYNC_MAX 6291456u

/* Parsed "{name|arn|partial arn}[:qualifier]" (URL-decoded). */
typedef struct FunctionRef {
        char name[141];
        char qualifier[129]; /* empty when none */
        char region[32];     /* empty when not given */
        char account[32];
} FunctionRef;

/* invoke_parse_ref() - Return: 0, or -EINVAL when the text is not a function name or ARN. */
int invoke_parse_ref(const char *text, size_t len, FunctionRef *ret);
/* Percent-decodes @in into @out (NUL-terminated). Return: 0 or -EINVAL. */
int url_decode(const char *in, size_t len, char *out, size_t n);
/* Validates an invoke payload: UTF-8 JSON, nothing after it. On failure writes a reason. */
bool invoke_payload_valid(const char *p, size_t len, char *reason, size_t n);

void invoke_api_request(HttpConn *c, HttpRequest *req);
uint64_t invoke_api_body_limit(HttpConn *c, HttpRequest *req);
void invoke_api_closed(HttpConn *c);
/* The Invoke API's answer to a malformed HTTP request (HttpServerOps.malformed). */
void invoke_api_malformed(HttpConn *c, int status, const char *reason);
/* A service error in AWS's shape: status, X-Amzn-ErrorType, JSON body. */
void invoke_service_error(HttpConn *c, int status, const char *type, const char *message,
                          const char *request_id);

/*
 * invoke_resolve() - the function a path's reference (and the Qualifier parameter) names;
 * answers the caller 400 or 404 itself and returns NULL when there is none. *@ret_qualifier
 * is the qualifier given (free() it), or NULL.
 */
Function *invoke_resolve(Emulator *e, HttpConn *c, HttpRequest *req, Slice ref_text,
                         FunctionRef *ref, char **ret_qualifier);

/* manage.c: ListFunctions, GetFunction, GetFunctionConfiguration, ListAliases, GetAlias.
 * Return: false when @req is none of those. */
bool manage_request(Emulator *e, HttpConn *c, HttpRequest *req);

/* control.c */
bool control_request(Emulator *e, HttpConn *c, HttpRequest *req);
