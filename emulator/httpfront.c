/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP front-end: a plain HTTP request whose path matches a function's `http.path`
 * becomes the event a Function URL (payload 2.0), an API Gateway HTTP API (2.0) or a REST API
 * (1.0) would send, is invoked like a synchronous Invoke, and the function's answer becomes
 * the HTTP response by the rules those services apply: `statusCode`, `headers`,
 * `multiValueHeaders` (1.0), `cookies` (2.0), `body`, `isBase64Encoded`; for 2.0 an answer
 * without `statusCode` is a 200 application/json whose body is the answer (a JSON string's
 * text unquoted). A function error is the service's 502 (500 for HTTP APIs); a malformed
 * answer too. An answer of type application/vnd.awslambda.http-integration-response is a
 * prelude, 8 NULs and the body (spec §2.1). Without any route the listener stays the Lambda API
 * alone: unknown paths get its UnknownOperationException. The event owns copies of everything it
 * takes from the request.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "codec.h"
#include "httpfront.h"
#include "invoke.h"
#include "macro.h"
#include "stream.h"
#include "xalloc.h"

static HttpFrontKind kind_of(const Function *fn) {
        const char *ev = fn->cfg->http.event;

        if (ev && strcmp(ev, "apigw-v2") == 0)
                return HTTPFRONT_V2;
        if (ev && strcmp(ev, "apigw-v1") == 0)
                return HTTPFRONT_V1;
        return HTTPFRONT_URL;
}

/* ---- routes --------------------------------------------------------------------------- */

static Slice next_segment(Slice *rest) {
        while (rest->len && rest->ptr[0] == '/')
                rest->ptr++, rest->len--;
        const char *slash = memchr(rest->ptr, '/', rest->len);
        size_t n = slash ? (size_t) (slash - rest->ptr) : rest->len;
        Slice seg = { rest->ptr, n };
        rest->ptr += n;
        rest->len -= n;
        return seg;
}

static void add_param(HttpFrontParams *p, Slice name, Slice value) {
        if (p->n < HTTPFRONT_MAX_PARAMS)
                p->p[p->n].name = name, p->p[p->n].value = value, p->n++;
}

int httpfront_match(const char *pattern, Slice path, HttpFrontParams *ret_params) {
        Slice pat = { pattern, strlen(pattern) }, rest = path;
        HttpFrontParams params = { .n = 0 };
        int score = 0;

        for (;;) {
                Slice ps = next_segment(&pat);
                /* Where the rest of the path starts, without its leading slashes. */
                Slice tail = rest;
                while (tail.len && tail.ptr[0] == '/')
                        tail.ptr++, tail.len--;
                if (ps.len == 0) {
                        /* The pattern ended: so must the path (one trailing slash is fine). */
                        if (tail.len)
                                return -1;
                        score += 1000; /* an exact route beats any wildcard */
                        break;
                }
                bool last = pat.len == 0 || (pat.len == 1 && pat.ptr[0] == '/');
                if (last && ps.len == 1 && ps.ptr[0] == '*') {
                        add_param(&params, (Slice){ "proxy", 5 }, tail);
                        break;
                }
                if (last && ps.len > 3 && ps.ptr[0] == '{' && ps.ptr[ps.len - 2] == '+' &&
                    ps.ptr[ps.len - 1] == '}') {
                        if (tail.len == 0)
                                return -1;
                        add_param(&params, (Slice){ ps.ptr + 1, ps.len - 3 }, tail);
                        break;
                }
                Slice seg = next_segment(&rest);
                if (seg.len == 0)
                        return -1;
                if (ps.len > 2 && ps.ptr[0] == '{' && ps.ptr[ps.len - 1] == '}') {
                        add_param(&params, (Slice){ ps.ptr + 1, ps.len - 2 }, seg);
                        score += 1;
                        continue;
                }
                if (ps.len != seg.len || memcmp(ps.ptr, seg.ptr, seg.len) != 0)
                        return -1;
                score += 10 + (int) seg.len;
        }
        if (ret_params)
                *ret_params = params;
        return score;
}

static bool method_allowed(const Function *fn, llhttp_method_t m) {
        const char *want = fn->cfg->http.method;

        if (!want || strcasecmp(want, "ANY") == 0 || strcmp(want, "*") == 0)
                return true;
        return strcasecmp(want, llhttp_method_name(m)) == 0;
}

/* The function whose route matches best; NULL when none does. */
static Function *route(Emulator *e, HttpRequest *req, HttpFrontParams *ret_params,
                       bool *ret_method_mismatch) {
        Function *best = NULL;
        int best_score = -1;

        *ret_method_mismatch = false;
        for (size_t i = 0; i < e->n_functions; i++) {
                Function *fn = &e->functions[i];
                HttpFrontParams params;
                if (!fn->cfg->http.path)
                        continue;
                int s = httpfront_match(fn->cfg->http.path, req->path, &params);
                if (s < 0)
                        continue;
                if (!method_allowed(fn, req->method)) {
                        *ret_method_mismatch = true;
                        continue;
                }
                if (s > best_score) {
                        best = fn;
                        best_score = s;
                        *ret_params = params;
                }
        }
        return best;
}

/* ---- the event -------------------------------------------------------------------------- */

static char *slice_dup(Slice s) {
        return xstrndup(s.ptr, s.len);
}

static char *lower_dup(Slice s) {
        char *p = slice_dup(s);
        for (char *q = p; *q; q++)
                *q = (char) tolower((unsigned char) *q);
        return p;
}

/* Percent-decoded text of @s, or its raw text when it does not decode. */
static char *decoded_dup(Slice s) {
        char *out = xmalloc(s.len + 1);
        if (url_decode(s.ptr, s.len, out, s.len + 1) < 0) {
                free(out);
                return slice_dup(s);
        }
        return out;
}

/* Text bodies go as they are; others base64, as Function URLs and HTTP APIs do. */
static bool text_type(Slice ct) {
        static const char *const texts[] = { "text/",
                                             "application/json",
                                             "application/xml",
                                             "application/javascript",
                                             "application/graphql",
                                             "application/x-yaml" };
        if (ct.len == 0)
                return true;
        for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
                size_t n = strlen(texts[i]);
                if (ct.len >= n && strncasecmp(ct.ptr, texts[i], n) == 0)
                        return true;
        }
        const char *semi = memchr(ct.ptr, ';', ct.len);
        size_t l = semi ? (size_t) (semi - ct.ptr) : ct.len;
        return (l >= 5 && strncasecmp(ct.ptr + l - 5, "+json", 5) == 0) ||
               (l >= 4 && strncasecmp(ct.ptr + l - 4, "+xml", 4) == 0);
}

static void add_body(cJSON *ev, HttpFrontKind kind, HttpRequest *req) {
        Slice ct = { "", 0 };
        const Buf *b = &req->body;

        http_header(req, "Content-Type", &ct);
        if (b->len == 0) {
                if (kind == HTTPFRONT_V1)
                        cJSON_AddNullToObject(ev, "body");
                cJSON_AddBoolToObject(ev, "isBase64Encoded", false);
                return;
        }
        bool text = utf8_valid(b->data, b->len) && !memchr(b->data, '\0', b->len) &&
                    (kind == HTTPFRONT_V1 || text_type(ct));
        if (text) {
                cJSON_AddStringToObject(ev, "body", b->data);
        } else {
                Buf enc = BUF_INIT;
                base64_encode(&enc, b->data, b->len);
                cJSON_AddStringToObject(ev, "body", enc.data ? enc.data : "");
                buf_free(&enc);
        }
        cJSON_AddBoolToObject(ev, "isBase64Encoded", !text);
}

/* Query parameters: 2.0 joins repeated names with commas, 1.0 keeps the last and lists all. */
static void add_query(cJSON *ev, HttpFrontKind kind, Slice query) {
        cJSON *single = NULL, *multi = NULL;
        const char *q = query.ptr, *end = query.ptr + query.len;

        while (q < end) {
                const char *amp = memchr(q, '&', (size_t) (end - q));
                Slice item = { q, amp ? (size_t) (amp - q) : (size_t) (end - q) };
                q += item.len + 1;
                if (item.len == 0)
                        continue;
                const char *eq = memchr(item.ptr, '=', item.len);
                Slice ks = { item.ptr, eq ? (size_t) (eq - item.ptr) : item.len };
                Slice vs = eq ? (Slice){ eq + 1, item.len - ks.len - 1 } : (Slice){ "", 0 };
                char *k = decoded_dup(ks), *v = decoded_dup(vs);
                if (!single)
                        single = cJSON_AddObjectToObject(ev, "queryStringParameters");
                cJSON *old = cJSON_GetObjectItemCaseSensitive(single, k);
                if (kind == HTTPFRONT_V1) {
                        if (!multi)
                                multi = cJSON_AddObjectToObject(ev,
                                                                "multiValueQueryStringParameters");
                        cJSON *arr = cJSON_GetObjectItemCaseSensitive(multi, k);
                        if (!arr)
                                arr = cJSON_AddArrayToObject(multi, k);
                        cJSON_AddItemToArray(arr, cJSON_CreateString(v));
                        if (old)
                                cJSON_ReplaceItemInObjectCaseSensitive(single, k,
                                                                       cJSON_CreateString(v));
                        else
                                cJSON_AddStringToObject(single, k, v);
                } else if (old) {
                        char *joined = xasprintf("%s,%s", cJSON_GetStringValue(old), v);
                        cJSON_ReplaceItemInObjectCaseSensitive(single, k,
                                                               cJSON_CreateString(joined));
                        free(joined);
                } else {
                        cJSON_AddStringToObject(single, k, v);
                }
                free(k);
                free(v);
        }
        if (kind == HTTPFRONT_V1 && !single) {
                cJSON_AddNullToObject(ev, "queryStringParameters");
                cJSON_AddNullToObject(ev, "multiValueQueryStringParameters");
        }
}

/* Headers: 2.0 lowercases names, joins repeats with commas and moves Cookie to `cookies`;
 * 1.0 keeps names as sent, the last value in `headers` and every value in
 * `multiValueHeaders`. */
static void add_headers(cJSON *ev, HttpFrontKind kind, HttpRequest *req) {
        cJSON *h = cJSON_AddObjectToObject(ev, "headers");
        cJSON *multi =
                kind == HTTPFRONT_V1 ? cJSON_AddObjectToObject(ev, "multiValueHeaders") : NULL;
        cJSON *cookies = NULL;

        for (size_t i = 0; i < req->n_headers; i++) {
                HttpHeader *hd = &req->headers[i];
                char *value = slice_dup(hd->value);
                char *name = kind == HTTPFRONT_V1 ? slice_dup(hd->name) : lower_dup(hd->name);
                if (kind != HTTPFRONT_V1 && strcmp(name, "cookie") == 0) {
                        /* "a=1; b=2" → ["a=1", "b=2"] */
                        if (!cookies)
                                cookies = cJSON_CreateArray();
                        char *save = NULL;
                        for (char *tok = strtok_r(value, ";", &save); tok;
                             tok = strtok_r(NULL, ";", &save)) {
                                while (*tok == ' ')
                                        tok++;
                                if (*tok)
                                        cJSON_AddItemToArray(cookies, cJSON_CreateString(tok));
                        }
                } else {
                        cJSON *old = cJSON_GetObjectItemCaseSensitive(h, name);
                        if (old && kind != HTTPFRONT_V1) {
                                char *j = xasprintf("%s,%s", cJSON_GetStringValue(old), value);
                                cJSON_ReplaceItemInObjectCaseSensitive(h, name,
                                                                       cJSON_CreateString(j));
                                free(j);
                        } else if (old) {
                                cJSON_ReplaceItemInObjectCaseSensitive(h, name,
                                                                       cJSON_CreateString(value));
                        } else {
                                cJSON_AddStringToObject(h, name, value);
                        }
                        if (multi) {
                                cJSON *arr = cJSON_GetObjectItemCaseSensitive(multi, name);
                                if (!arr)
                                        arr = cJSON_AddArrayToObject(multi, name);
                                cJSON_AddItemToArray(arr, cJSON_CreateString(value));
                        }
                }
                free(name);
                free(value);
        }
        if (cookies)
                cJSON_AddItemToObject(ev, "cookies", cookies);
}

static void peer_ip(HttpConn *c, char *out, size_t n) {
        struct sockaddr_storage ss;
        int len = sizeof(ss);

        snprintf(out, n, "127.0.0.1");
        if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *) &ss, &len) < 0)
                return;
        if (ss.ss_family == AF_INET6)
                uv_ip6_name((struct sockaddr_in6 *) &ss, out, n);
        else
                uv_ip4_name((struct sockaddr_in *) &ss, out, n);
}

static char *header_dup(HttpRequest *req, const char *name, const char *def) {
        Slice v;
        return http_header(req, name, &v) ? slice_dup(v) : xstrdup(def);
}

/* "METHOD /route" as HTTP APIs name a route, from the function's pattern. */
static char *route_key(const Function *fn) {
        const char *m = fn->cfg->http.method;
        bool any = !m || strcasecmp(m, "ANY") == 0 || strcmp(m, "*") == 0;
        char *mu = xstrdup(any ? "ANY" : m);
        for (char *p = mu; *p; p++)
                *p = (char) toupper((unsigned char) *p);
        char *k = xasprintf("%s %s", mu, fn->cfg->http.path);
        free(mu);
        return k;
}

static char *build_event(Function *fn, HttpConn *c, HttpRequest *req, const HttpFrontParams *params,
                         const char *request_id) {
        HttpFrontKind kind = kind_of(fn);
        Emulator *e = fn->emu;
        cJSON *ev = cJSON_CreateObject();
        char ip[64], when[64];
        int64_t now_ms = clock_wall_ms();
        time_t now = (time_t) (now_ms / 1000);
        struct tm tm;

        gmtime_r(&now, &tm);
        strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S +0000", &tm);
        peer_ip(c, ip, sizeof(ip));
        char *path = slice_dup(req->path);
        char *query = slice_dup(req->query);
        char *host = header_dup(req, "Host", "localhost");
        char *ua = header_dup(req, "User-Agent", "");
        char *prefix = xstrndup(host, strcspn(host, ".:"));
        const char *method = llhttp_method_name(req->method);
        char *rkey = kind == HTTPFRONT_URL ? xstrdup("$default") : route_key(fn);

        if (kind == HTTPFRONT_V1) {
                cJSON_AddStringToObject(ev, "resource", fn->cfg->http.path);
                cJSON_AddStringToObject(ev, "path", path);
                cJSON_AddStringToObject(ev, "httpMethod", method);
                add_headers(ev, kind, req);
                add_query(ev, kind, req->query);
        } else {
                cJSON_AddStringToObject(ev, "version", "2.0");
                cJSON_AddStringToObject(ev, "routeKey", rkey);
                cJSON_AddStringToObject(ev, "rawPath", path);
                cJSON_AddStringToObject(ev, "rawQueryString", query);
                add_headers(ev, kind, req);
                add_query(ev, kind, req->query);
        }
        if (kind != HTTPFRONT_URL) {
                if (params->n) {
                        cJSON *pp = cJSON_AddObjectToObject(ev, "pathParameters");
                        for (size_t i = 0; i < params->n; i++) {
                                char *k = slice_dup(params->p[i].name);
                                char *v = decoded_dup(params->p[i].value);
                                cJSON_AddStringToObject(pp, k, v);
                                free(k);
                                free(v);
                        }
                } else if (kind == HTTPFRONT_V1) {
                        cJSON_AddNullToObject(ev, "pathParameters");
                }
                if (kind == HTTPFRONT_V1)
                        cJSON_AddNullToObject(ev, "stageVariables");
        }

        cJSON *rc = cJSON_AddObjectToObject(ev, "requestContext");
        cJSON_AddStringToObject(rc, "accountId",
                                kind == HTTPFRONT_URL ? "anonymous" : e->cfg->account_id);
        cJSON_AddStringToObject(rc, "apiId", "lemu");
        cJSON_AddStringToObject(rc, "domainName", host);
        cJSON_AddStringToObject(rc, "domainPrefix", prefix);
        cJSON_AddStringToObject(rc, "requestId", request_id);
        if (kind == HTTPFRONT_V1) {
                char *stage_path = xasprintf("/prod%s", path);
                cJSON_AddStringToObject(rc, "extendedRequestId", request_id);
                cJSON_AddStringToObject(rc, "resourceId", "lemu");
                cJSON_AddStringToObject(rc, "resourcePath", fn->cfg->http.path);
                cJSON_AddStringToObject(rc, "httpMethod", method);
                cJSON_AddStringToObject(rc, "path", stage_path);
                cJSON_AddStringToObject(rc, "protocol", "HTTP/1.1");
                cJSON_AddStringToObject(rc, "stage", "prod");
                cJSON_AddStringToObject(rc, "requestTime", when);
                cJSON_AddNumberToObject(rc, "requestTimeEpoch", (double) now_ms);
                cJSON *id = cJSON_AddObjectToObject(rc, "identity");
                static const char *const nulls[] = { "accessKey",
                                                     "accountId",
                                                     "caller",
                                                     "cognitoAuthenticationProvider",
                                                     "cognitoAuthenticationType",
                                                     "cognitoIdentityId",
                                                     "cognitoIdentityPoolId",
                                                     "user",
                                                     "userArn" };
                for (size_t i = 0; i < ARRAY_SIZE(nulls); i++)
                        cJSON_AddNullToObject(id, nulls[i]);
                cJSON_AddStringToObject(id, "sourceIp", ip);
                cJSON_AddStringToObject(id, "userAgent", ua);
                free(stage_path);
        } else {
                cJSON *http = cJSON_AddObjectToObject(rc, "http");
                cJSON_AddStringToObject(http, "method", method);
                cJSON_AddStringToObject(http, "path", path);
                cJSON_AddStringToObject(http, "protocol", "HTTP/1.1");
                cJSON_AddStringToObject(http, "sourceIp", ip);
                cJSON_AddStringToObject(http, "userAgent", ua);
                cJSON_AddStringToObject(rc, "routeKey", rkey);
                cJSON_AddStringToObject(rc, "stage", "$default");
                cJSON_AddStringToObject(rc, "time", when);
                cJSON_AddNumberToObject(rc, "timeEpoch", (double) now_ms);
        }
        add_body(ev, kind, req);

        char *text = cJSON_PrintUnformatted(ev);
        char *out = xstrdup(text);
        cJSON_free(text);
        cJSON_Delete(ev);
        free(path);
        free(query);
        free(host);
        free(ua);
        free(prefix);
        free(rkey);
        return out;
}

/* ---- the answer ------------------------------------------------------------------------- */

/* A header line from the function, unless it would break our framing or the response. */
static void add_answer_header(Buf *h, const char *name, const char *value) {
        static const char *const ours[] = { "content-length", "transfer-encoding", "connection",
                                            "keep-alive", "upgrade" };

        if (!*name || strpbrk(name, "\r\n: \t") || strpbrk(value, "\r\n"))
                return;
        for (size_t i = 0; i < ARRAY_SIZE(ours); i++)
                if (strcasecmp(name, ours[i]) == 0)
                        return;
        http_add_header(h, name, "%s", value);
}

static bool header_named(const Buf *h, const char *name) {
        size_t n = strlen(name);
        for (const char *p = h->data; p && *p;) {
                if (strncasecmp(p, name, n) == 0 && p[n] == ':')
                        return true;
                const char *nl = strstr(p, "\r\n");
                p = nl ? nl + 2 : NULL;
        }
        return false;
}

/* Text of a header value from the answer: strings as they are, numbers and booleans as
 * JSON prints them (the services accept those too); NULL for anything else. */
static char *value_text(const cJSON *v) {
        if (cJSON_IsString(v))
                return xstrdup(v->valuestring);
        if (cJSON_IsNumber(v) || cJSON_IsBool(v)) {
                char *s = cJSON_PrintUnformatted(v);
                char *out = xstrdup(s);
                cJSON_free(s);
                return out;
        }
        return NULL;
}

/* REST APIs' multiValueHeaders, each value a header line. Return: the object, or NULL (so
 * that "headers" can skip the names it has). */
static cJSON *add_multi_value_headers(Buf *h, cJSON *answer, HttpFrontKind kind) {
        cJSON *mv = kind == HTTPFRONT_V1
                            ? cJSON_GetObjectItemCaseSensitive(answer, "multiValueHeaders")
                            : NULL;
        cJSON *item, *v;

        cJSON_ArrayForEach (item, mv) {
                if (!cJSON_IsArray(item))
                        continue;
                cJSON_ArrayForEach (v, item) {
                        char *t = value_text(v);
                        if (t)
                                add_answer_header(h, item->string, t);
                        free(t);
                }
        }
        return mv;
}

/* lemu's headers; a streamed answer's go out before its duration is known. */
static void lemu_headers(Buf *h, Invocation *inv, HttpFrontKind kind) {
        http_add_header(h, kind == HTTPFRONT_V1 ? "x-amzn-RequestId" : "x-amzn-RequestId", "%s",
                        inv->request_id);
        if (kind == HTTPFRONT_V2)
                http_add_header(h, "Apigw-Requestid", "%s", inv->request_id);
        if (inv->trace_id)
                http_add_header(h, "X-Amzn-Trace-Id", "%s", inv->trace_id);
        if (inv->env) {
                http_add_header(h, "X-Lemu-Environment-Id", "%s", inv->env->name);
                http_add_header(h, "X-Lemu-Cold-Start", "%s", inv->cold ? "true" : "false");
                if (inv->cold)
                        http_add_header(h, "X-Lemu-Init-Duration-Ms", "%.2f", inv->init_ms);
                if (inv->finished)
                        http_add_header(h, "X-Lemu-Duration-Ms", "%.2f", inv->duration_ms);
        }
}

/* The service's own error answer. */
static void respond_error(HttpConn *c, Invocation *inv, HttpFrontKind kind, int status,
                          const char *message) {
        Buf h = BUF_INIT;
        char *body;

        lemu_headers(&h, inv, kind);
        if (kind == HTTPFRONT_URL && status != 429) {
                http_add_header(&h, "Content-Type", "text/plain; charset=utf-8");
                body = xstrdup(message);
        } else {
                http_add_header(&h, "Content-Type", "application/json");
                if (kind == HTTPFRONT_V1)
                        http_add_header(&h, "x-amzn-ErrorType", "%s",
                                        status == 429 ? "TooManyRequestsException"
                                                      : "InternalServerErrorException");
                body = xasprintf("{\"message\":\"%s\"}", message);
        }
        http_respond(c, status, h.data, body, strlen(body), true);
        buf_free(&h);
}

static void respond_malformed(HttpConn *c, Invocation *inv, HttpFrontKind kind) {
        if (kind == HTTPFRONT_V2)
                respond_error(c, inv, kind, 500, "Internal Server Error");
        else if (kind == HTTPFRONT_V1)
                respond_error(c, inv, kind, 502, "Internal server error");
        else
                respond_error(c, inv, kind, 502, "Internal Server Error");
}

bool httpfront_prelude(Invocation *inv, const char *json, size_t len, int *ret_status,
                       Buf *ret_headers) {
        HttpFrontKind kind = kind_of(inv->fn);
        cJSON *j = cJSON_ParseWithLength(json, len);
        cJSON *sc = cJSON_GetObjectItemCaseSensitive(j, "statusCode");
        double code = cJSON_IsNumber(sc) ? sc->valuedouble : sc ? 0 : 200;
        cJSON *item;

        if (!cJSON_IsObject(j) || code < 100 || code > 599 || code != (int) code) {
                cJSON_Delete(j);
                return false;
        }
        /* REST APIs also take multiValueHeaders here; a name in both keeps those. */
        cJSON *mv = add_multi_value_headers(ret_headers, j, kind);
        cJSON_ArrayForEach (item, cJSON_GetObjectItemCaseSensitive(j, "headers")) {
                if (mv && cJSON_GetObjectItem(mv, item->string))
                        continue;
                char *t = value_text(item);
                if (t)
                        add_answer_header(ret_headers, item->string, t);
                free(t);
        }
        cJSON_ArrayForEach (item, cJSON_GetObjectItemCaseSensitive(j, "cookies")) {
                if (cJSON_IsString(item))
                        add_answer_header(ret_headers, "Set-Cookie", item->valuestring);
        }
        if (!header_named(ret_headers, "Content-Type"))
                http_add_header(ret_headers, "Content-Type", "application/octet-stream");
        cJSON_Delete(j);
        lemu_headers(ret_headers, inv, kind);
        *ret_status = (int) code;
        return true;
}

/*
 * A collected answer in the HTTP-integration shape (spec §2.1): a JSON prelude {statusCode,
 * headers, cookies}, 8 NUL bytes, then the body as it is. Node's awslambda.HttpResponseStream
 * writes it on a streamed response; it reaches us whole when the mapping does not stream
 * (apigw-v2) or the stream was collected (a streamed response to a buffered caller is
 * gathered under the 6 MB cap). Return: false when the prelude is malformed.
 */
static bool respond_prelude(HttpConn *c, Invocation *inv) {
        static const char nuls[8] = { 0 };
        const char *p = inv->result.data ? inv->result.data : "";
        size_t len = inv->result.len, at = 0;
        Buf h = BUF_INIT;
        int status;

        while (at + sizeof(nuls) <= len && memcmp(p + at, nuls, sizeof(nuls)) != 0)
                at++;
        if (at + sizeof(nuls) > len || !httpfront_prelude(inv, p, at, &status, &h)) {
                buf_free(&h);
                return false;
        }
        at += sizeof(nuls);
        http_respond(c, status, h.data, p + at, len - at, false);
        buf_free(&h);
        return true;
}

static void respond_answer(HttpConn *c, Invocation *inv, HttpFrontKind kind) {
        const char *res = inv->result.data ? inv->result.data : "";

        if (strncasecmp(inv->content_type, "application/vnd.awslambda.http-integration-response",
                        51) == 0) {
                if (!respond_prelude(c, inv))
                        respond_malformed(c, inv, kind);
                return;
        }
        cJSON *j = cJSON_ParseWithLength(res, inv->result.len);
        cJSON *sc = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "statusCode") : NULL;
        Buf h = BUF_INIT, body = BUF_INIT;
        int status = 200;

        if (!sc && kind == HTTPFRONT_V1) {
                /* REST APIs need the proxy shape: "Malformed Lambda proxy response". */
                cJSON_Delete(j);
                respond_malformed(c, inv, kind);
                return;
        }
        if (!sc) {
                /* 2.0's shortcut: the answer is the body of a 200 application/json. */
                http_add_header(&h, "Content-Type", "application/json");
                if (cJSON_IsString(j))
                        buf_puts(&body, j->valuestring);
                else
                        buf_append(&body, res, inv->result.len);
                goto send;
        }
        double code = cJSON_IsNumber(sc)   ? sc->valuedouble
                      : cJSON_IsString(sc) ? strtod(sc->valuestring, NULL)
                                           : 0;
        if (code < 100 || code > 599 || code != (int) code)
                goto malformed;
        status = (int) code;

        cJSON *item;
        cJSON *hdrs = cJSON_GetObjectItemCaseSensitive(j, "headers");
        if (hdrs && !cJSON_IsObject(hdrs) && !cJSON_IsNull(hdrs))
                goto malformed;
        cJSON *mv = add_multi_value_headers(&h, j, kind);
        cJSON_ArrayForEach (item, hdrs) {
                /* 1.0: a name in both lists keeps the multi-value ones. */
                if (mv && cJSON_GetObjectItem(mv, item->string))
                        continue;
                char *t = value_text(item);
                if (t)
                        add_answer_header(&h, item->string, t);
                free(t);
        }
        cJSON *cookies =
                kind != HTTPFRONT_V1 ? cJSON_GetObjectItemCaseSensitive(j, "cookies") : NULL;
        cJSON_ArrayForEach (item, cookies) {
                if (cJSON_IsString(item))
                        add_answer_header(&h, "Set-Cookie", item->valuestring);
        }
        if (!header_named(&h, "Content-Type"))
                http_add_header(&h, "Content-Type", "application/json");

        cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "body");
        cJSON *b64 = cJSON_GetObjectItemCaseSensitive(j, "isBase64Encoded");
        if (b && !cJSON_IsString(b) && !cJSON_IsNull(b))
                goto malformed;
        if (cJSON_IsString(b)) {
                if (cJSON_IsTrue(b64)) {
                        size_t n = strlen(b->valuestring);
                        if (base64_decode(&body, b->valuestring, n) < 0)
                                goto malformed;
                } else {
                        buf_puts(&body, b->valuestring);
                }
        }
send:
        cJSON_Delete(j);
        lemu_headers(&h, inv, kind);
        size_t len;
        char *p = buf_steal(&body, &len);
        http_respond(c, status, h.data, p, len, true);
        buf_free(&h);
        return;
malformed:
        cJSON_Delete(j);
        buf_free(&h);
        buf_free(&body);
        respond_malformed(c, inv, kind);
}

static void front_done(Invocation *inv, void *data) {
        HttpConn *c = inv->caller;
        HttpFrontKind kind = kind_of(inv->fn);

        inv->emu->sync_waiting--;
        if (c) {
                c->data = NULL;
                inv->caller = NULL;
                if (inv->stream && stream_began(inv)) {
                        /* Status and headers went out with the prelude: a failure now can
                         * only cut the body short, as Lambda does (no last chunk). */
                        c->written_cb = NULL;
                        if (inv->http_status == 200 && !inv->function_error)
                                http_stream_end(c);
                        else
                                http_stream_abort(c);
                } else if (inv->http_status == 429)
                        respond_error(c, inv, kind, 429,
                                      kind == HTTPFRONT_URL ? "Rate Exceeded."
                                                            : "Too Many Requests");
                else if (inv->http_status != 200)
                        respond_error(c, inv, kind, kind == HTTPFRONT_V2 ? 500 : 502,
                                      kind == HTTPFRONT_V1 ? "Internal server error"
                                                           : "Internal Server Error");
                else if (inv->function_error)
                        respond_malformed(c, inv, kind);
                else
                        respond_answer(c, inv, kind);
        }
        emu_sync_done(inv->emu);
}

/* ---- requests --------------------------------------------------------------------------- */

static bool under(Slice path, const char *prefix) {
        size_t n = strlen(prefix);
        return path.len >= n && memcmp(path.ptr, prefix, n) == 0;
}

static void respond_plain(HttpConn *c, int status, const char *msg) {
        http_respond(c, status, "Content-Type: application/json\r\n", msg, strlen(msg), false);
}

bool httpfront_request(Emulator *e, HttpConn *c, HttpRequest *req) {
        if (under(req->path, "/2015-03-31/") || under(req->path, "/2021-11-15/") ||
            under(req->path, "/_lemu/") || slice_eq(req->path, "/_lemu"))
                return false;
        /* Without any route the listener is the Lambda API alone, and answers as such. */
        bool any = false;
        for (size_t i = 0; i < e->n_functions && !any; i++)
                any = e->functions[i].cfg->http.path != NULL;
        if (!any)
                return false;

        HttpFrontParams params = { .n = 0 };
        bool wrong_method;
        Function *fn = route(e, req, &params, &wrong_method);
        if (!fn) {
                if (wrong_method)
                        respond_plain(c, 405, "{\"message\":\"Method Not Allowed\"}");
                else
                        respond_plain(c, 404, "{\"message\":\"Not Found\"}");
                return true;
        }
        if (req->body_too_large) {
                respond_plain(c, 413, "{\"message\":\"Request Entity Too Large\"}");
                return true;
        }
        Invocation *inv = inv_new(fn, INVOKE_REQUEST_RESPONSE);
        char *event = build_event(fn, c, req, &params, inv->request_id);
        if (strlen(event) > INVOKE_SYNC_MAX) {
                /* The body grew past Lambda's payload limit once encoded into the event. */
                free(event);
                inv_free(inv);
                respond_plain(c, 413, "{\"message\":\"Request Entity Too Large\"}");
                return true;
        }
        buf_puts(&inv->payload, event);
        free(event);
        inv->invoked_arn = xstrdup(fn->arn);
        Slice v;
        if (http_header(req, "X-Amzn-Trace-Id", &v) && v.len > 0 && v.len < 512) {
                inv->trace_id = slice_dup(v);
        } else {
                unsigned char r[20];
                char a[25], b[17], t[128];
                random_bytes(r, sizeof(r));
                hex_lower(a, r, 12);
                hex_lower(b, r + 12, 8);
                snprintf(t, sizeof(t), "Root=1-%08llx-%s;Parent=%s;Sampled=0",
                         (unsigned long long) (clock_wall_ms() / 1000), a, b);
                inv->trace_id = xstrdup(t);
        }
        /* Function URLs (InvokeMode RESPONSE_STREAM) and REST APIs (responseTransferMode
         * STREAM) relay an HTTP-integration stream as it arrives; HTTP APIs cannot stream,
         * and the answer to HEAD has no body to stream. */
        inv->http_stream =
                fn->cfg->http.stream && kind_of(fn) != HTTPFRONT_V2 && req->method != HTTP_HEAD;
        inv->caller = c;
        c->data = inv;
        inv->done_cb = front_done;
        e->sync_waiting++;
        sched_submit(inv);
        return true;
}
