/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP/1.1 server connections on libuv with llhttp.
 *
 * Invariants: one request per connection is in progress; while it waits for its response,
 * further bytes are queued in `pending` (bounded, then reading stops) and parsed only after
 * the response has been handed to the kernel. llhttp is never re-entered: a handler that
 * answers synchronously only flags the connection, and drive() feeds the queued bytes.
 * A connection tells its owner it is going (ops->closed) before any handle is closed, and is
 * freed in the last close callback.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <uv.h>
#include <llhttp.h>

#include "buf.h"
#include "macro.h"
#include "server.h"
#include "xalloc.h"

#define READ_CHUNK    65536
#define PENDING_LIMIT (256 * 1024)
/* A lingering close waits this long for more bytes, and drains at most LINGER_MAX. */
#define LINGER_MS  2000
#define LINGER_MAX (16u << 20)

typedef struct WriteReq {
        uv_write_t req;
        HttpConn *conn;
        char *head;
        char *body; /* free()d when the write is done, may be NULL */
} WriteReq;

static void conn_handle_closed(uv_handle_t *h);
static void header_timeout(uv_timer_t *t);
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void drive(HttpConn *c);
static void close_answered(HttpConn *c);
static bool driving_guard(HttpConn *c, bool enter);

static char read_buffer[READ_CHUNK];

const char *http_status_text(int status) {
        switch (status) {
        case 100:
                return "Continue";
        case 200:
                return "OK";
        case 201:
                return "Created";
        case 202:
                return "Accepted";
        case 204:
                return "No Content";
        case 400:
                return "Bad Request";
        case 403:
                return "Forbidden";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 408:
                return "Request Timeout";
        case 409:
                return "Conflict";
        case 410:
                return "Gone";
        case 411:
                return "Length Required";
        case 413:
                return "Request Entity Too Large";
        case 415:
                return "Unsupported Media Type";
        case 429:
                return "Too Many Requests";
        case 431:
                return "Request Header Fields Too Large";
        case 500:
                return "Internal Server Error";
        case 502:
                return "Bad Gateway";
        case 503:
                return "Service Unavailable";
        case 504:
                return "Gateway Timeout";
        default:
                return "Unknown";
        }
}

void http_add_header(Buf *b, const char *name, const char *fmt, ...) {
        va_list ap;
        char tmp[512];
        int n;

        buf_puts(b, name);
        buf_append(b, ": ", 2);
        /* The common forms without printf: they are on every invocation's path. */
        if (!strchr(fmt, '%')) {
                buf_puts(b, fmt);
                buf_append(b, "\r\n", 2);
                return;
        }
        va_start(ap, fmt);
        if (strcmp(fmt, "%s") == 0) {
                buf_puts(b, va_arg(ap, const char *));
                va_end(ap);
                buf_append(b, "\r\n", 2);
                return;
        }
        if (strcmp(fmt, "%lld") == 0 || strcmp(fmt, "%u") == 0) {
                if (fmt[1] == 'l')
                        buf_put_i64(b, (int64_t) va_arg(ap, long long));
                else
                        buf_put_u64(b, va_arg(ap, unsigned));
                va_end(ap);
                buf_append(b, "\r\n", 2);
                return;
        }
        if (strcmp(fmt, "%.2f") == 0) {
                buf_put_fixed2(b, va_arg(ap, double));
                va_end(ap);
                buf_append(b, "\r\n", 2);
                return;
        }
        n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t) n < sizeof(tmp)) {
                buf_append(b, tmp, (size_t) n);
        } else if (n >= 0) {
                char *big = xmalloc((size_t) n + 1);
                va_start(ap, fmt);
                vsnprintf(big, (size_t) n + 1, fmt, ap);
                va_end(ap);
                buf_append(b, big, (size_t) n);
                free(big);
        }
        buf_append(b, "\r\n", 2);
}

/* The Date header, formatted once a second. */
static const char *date_header(void) {
        static char cached[64];
        static time_t cached_at;
        time_t now = time(NULL);

        if (now != cached_at) {
                struct tm tm;
                gmtime_r(&now, &tm);
                strftime(cached, sizeof(cached), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
                cached_at = now;
        }
        return cached;
}

static bool find_field(const HttpRequest *req, size_t from, const char *name, Slice *ret_value) {
        for (size_t i = from; i < req->n_headers; i++) {
                if (slice_case_eq(req->headers[i].name, name)) {
                        if (ret_value)
                                *ret_value = req->headers[i].value;
                        return true;
                }
        }
        return false;
}

bool http_header(const HttpRequest *req, const char *name, Slice *ret_value) {
        return find_field(req, 0, name, ret_value);
}

bool http_trailer(const HttpRequest *req, const char *name, Slice *ret_value) {
        return req->trailer_start < req->n_headers &&
               find_field(req, req->trailer_start, name, ret_value);
}

/* ---- request state ---------------------------------------------------------------- */

static void request_reset(HttpRequest *r) {
        buf_reset(&r->raw);
        buf_free(&r->body);
        r->n_headers = 0;
        r->trailer_start = 0;
        r->body_bytes = 0;
        r->body_too_large = false;
        r->keep_alive = true;
        r->url_len = 0;
        r->url = r->path = r->query = (Slice){ "", 0 };
}

static void request_free(HttpRequest *r) {
        buf_free(&r->raw);
        buf_free(&r->body);
        free(r->hdr_off);
        free(r->headers);
        r->hdr_off = NULL;
        r->headers = NULL;
}

/* raw may have moved: recompute the slices from offsets. */
static void request_fix_slices(HttpRequest *r) {
        const char *base = r->raw.data ? r->raw.data : "";

        r->url = (Slice){ base + r->url_off, r->url_len };
        const char *q = memchr(r->url.ptr, '?', r->url.len);
        if (q) {
                r->path = (Slice){ r->url.ptr, (size_t) (q - r->url.ptr) };
                r->query = (Slice){ q + 1, r->url.len - r->path.len - 1 };
        } else {
                r->path = r->url;
                r->query = (Slice){ "", 0 };
        }
        for (size_t i = 0; i < r->n_headers; i++) {
                size_t no = r->hdr_off[4 * i], nl = r->hdr_off[4 * i + 1];
                size_t vo = r->hdr_off[4 * i + 2], vl = r->hdr_off[4 * i + 3];
                r->headers[i].name = (Slice){ base + no, nl };
                r->headers[i].value = (Slice){ base + vo, vl };
        }
}

static HttpConn *parser_conn(llhttp_t *p) {
        return container_of(p, HttpConn, parser);
}

static int fail(HttpConn *c, const char *reason) {
        c->bad_reason = reason;
        return HPE_USER;
}

static int on_message_begin(llhttp_t *p) {
        HttpConn *c = parser_conn(p);

        request_reset(&c->req);
        c->in_request = true;
        c->header_done = false;
        c->body_timer = false;
        c->body_cb = NULL;
        c->req.url_off = 0;
        if (c->server->limits.header_timeout_ms)
                uv_timer_start(&c->timer, header_timeout, c->server->limits.header_timeout_ms, 0);
        return 0;
}

static int check_header_bytes(HttpConn *c, size_t more) {
        if (c->server->limits.max_header_bytes &&
            c->req.raw.len + more > c->server->limits.max_header_bytes)
                return fail(c, "request headers too large");
        return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
        HttpConn *c = parser_conn(p);

        if (check_header_bytes(c, len))
                return HPE_USER;
        buf_append(&c->req.raw, at, len);
        c->req.url_len += len;
        return 0;
}

static int on_url_complete(llhttp_t *p) {
        buf_append(&parser_conn(p)->req.raw, "", 1);
        return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
        HttpConn *c = parser_conn(p);
        HttpRequest *r = &c->req;

        if (check_header_bytes(c, len))
                return HPE_USER;
        /* A new header starts when the previous one has its value (or there is none). */
        if (r->n_headers == 0 || r->hdr_off[4 * (r->n_headers - 1) + 3] != (size_t) -1) {
                unsigned max = c->server->limits.max_headers ? c->server->limits.max_headers
                                                             : HTTP_MAX_HEADERS_HARD;
                if (r->n_headers >= max)
                        return fail(c, "too many request headers");
                if (r->n_headers == r->n_hdr_alloc) {
                        r->n_hdr_alloc = r->n_hdr_alloc ? r->n_hdr_alloc * 2 : 16;
                        r->hdr_off = xrealloc(r->hdr_off, r->n_hdr_alloc * 4 * sizeof(size_t));
                        r->headers = xrealloc(r->headers, r->n_hdr_alloc * sizeof(HttpHeader));
                }
                size_t *o = &r->hdr_off[4 * r->n_headers];
                o[0] = r->raw.len;
                o[1] = 0;
                o[2] = 0;
                o[3] = (size_t) -1;
                r->n_headers++;
        }
        buf_append(&r->raw, at, len);
        r->hdr_off[4 * (r->n_headers - 1) + 1] += len;
        return 0;
}

static int on_header_field_complete(llhttp_t *p) {
        HttpRequest *r = &parser_conn(p)->req;

        buf_append(&r->raw, "", 1);
        r->hdr_off[4 * (r->n_headers - 1) + 2] = r->raw.len;
        r->hdr_off[4 * (r->n_headers - 1) + 3] = (size_t) -2; /* value started, length 0 */
        return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
        HttpConn *c = parser_conn(p);
        HttpRequest *r = &c->req;

        if (check_header_bytes(c, len))
                return HPE_USER;
        buf_append(&r->raw, at, len);
        return 0;
}

static int on_header_value_complete(llhttp_t *p) {
        HttpRequest *r = &parser_conn(p)->req;
        size_t *o = &r->hdr_off[4 * (r->n_headers - 1)];

        if (o[3] == (size_t) -1) { /* a field with no ':' never reaches here, but be safe */
                o[2] = r->raw.len;
        }
        o[3] = r->raw.len - o[2];
        buf_append(&r->raw, "", 1);
        return 0;
}

/* A field whose value never came (e.g. "Name:\r\n") still gets an empty value. */
static void close_last_field(llhttp_t *p) {
        HttpRequest *r = &parser_conn(p)->req;

        if (r->n_headers && r->hdr_off[4 * (r->n_headers - 1) + 3] >= (size_t) -2)
                on_header_value_complete(p);
}

static int on_headers_complete(llhttp_t *p) {
        HttpConn *c = parser_conn(p);
        HttpRequest *r = &c->req;
        HttpServer *s = c->server;

        close_last_field(p);
        c->header_done = true;
        r->trailer_start = r->n_headers;
        uv_timer_stop(&c->timer);
        r->method = (llhttp_method_t) p->method;
        r->keep_alive = llhttp_should_keep_alive(p);
        request_fix_slices(r);

        c->body_limit = s->ops->body_limit(c, r);
        uint64_t cl = (p->flags & F_CONTENT_LENGTH) ? p->content_length : 0;
        Slice expect;
        bool expects = http_header(r, "Expect", &expect) && slice_case_eq(expect, "100-continue") &&
                       p->http_minor >= 1;
        if (cl > c->body_limit) {
                r->body_too_large = true;
                /* Too much even to discard, or a client that waits for our word before
                 * sending it: answer now, then close. */
                if (cl - c->body_limit > s->limits.discard_max || expects) {
                        r->body_bytes = cl;
                        c->close_after_write = true;
                        return HPE_PAUSED;
                }
        } else if (cl > 0) {
                buf_reserve(&r->body, (size_t) cl);
        }
        /* A body that stops coming would hold the connection: bound each wait for more (not
         * for a body taken piece by piece, which its owner may pause). */
        if (s->limits.body_timeout_ms && !c->body_cb) {
                c->body_timer = true;
                uv_timer_start(&c->timer, header_timeout, s->limits.body_timeout_ms,
                               s->limits.body_timeout_ms);
        }
        if (expects) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                uv_buf_t b = uv_buf_init((char *) cont, sizeof(cont) - 1);
                (void) uv_try_write((uv_stream_t *) &c->tcp, &b, 1);
        }
        return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
        HttpConn *c = parser_conn(p);
        HttpRequest *r = &c->req;

        r->body_bytes += len;
        if (c->body_timer)
                uv_timer_again(&c->timer); /* repeat = the body timeout */
        if (c->body_cb) {
                if (c->closing)
                        return fail(c, "connection closed");
                c->body_cb(c, at, len);
                return 0;
        }
        if (!r->body_too_large && r->body_bytes <= c->body_limit) {
                buf_append(&r->body, at, len);
                return 0;
        }
        if (!r->body_too_large) {
                r->body_too_large = true;
                buf_free(&r->body);
        }
        /* Flagged from Content-Length before any byte came, body_bytes may still be below the
         * limit: compare before subtracting, or the difference wraps around. */
        if (r->body_bytes > c->body_limit &&
            r->body_bytes - c->body_limit > c->server->limits.discard_max) {
                c->close_after_write = true;
                return HPE_PAUSED;
        }
        return 0;
}

/* A chunk announcing more than the limit and what we would discard: answer now. */
static int on_chunk_header(llhttp_t *p) {
        HttpConn *c = parser_conn(p);
        HttpRequest *r = &c->req;
        uint64_t discard = c->server->limits.discard_max;
        /* Saturating: a body taken piece by piece has no limit (UINT64_MAX). */
        uint64_t most = c->body_limit > UINT64_MAX - discard ? UINT64_MAX : c->body_limit + discard;

        if (p->content_length > most || r->body_bytes > most - p->content_length) {
                r->body_too_large = true;
                buf_free(&r->body);
                r->body_bytes = p->content_length > UINT64_MAX - r->body_bytes
                                        ? UINT64_MAX
                                        : r->body_bytes + p->content_length;
                c->close_after_write = true;
                return HPE_PAUSED;
        }
        return 0;
}

static int on_message_complete(llhttp_t *p) {
        HttpConn *c = parser_conn(p);

        if (c->body_timer) {
                c->body_timer = false;
                uv_timer_stop(&c->timer);
        }
        close_last_field(p); /* trailers */
        request_fix_slices(&c->req);
        return HPE_PAUSED;
}

/* ---- writing ------------------------------------------------------------------------ */

static void write_done(uv_write_t *w, int status) {
        WriteReq *wr = container_of(w, WriteReq, req);
        HttpConn *c = wr->conn;

        free(wr->head);
        free(wr->body);
        free(wr);
        c->in_flight_writes--;
        if (status < 0 && !c->closing) {
                http_conn_close(c);
                return;
        }
        if (c->written_cb && !c->closing)
                c->written_cb(c);
        if (c->close_after_write && !c->awaiting_response && !c->streaming &&
            c->in_flight_writes == 0)
                close_answered(c);
}

static void conn_write(HttpConn *c, char *head, size_t head_len, char *body, size_t body_len) {
        uv_buf_t bufs[2];
        unsigned n = 0, first = 0;

        if (head_len)
                bufs[n++] = uv_buf_init(head, (unsigned) head_len);
        if (body_len)
                bufs[n++] = uv_buf_init(body, (unsigned) body_len);
        if (c->in_flight_writes == 0) {
                /* Nothing queued: write now. A whole write needs no request, no callback and
                 * no epoll change (uv_write() re-arms the descriptor after each one). */
                int w = uv_try_write((uv_stream_t *) &c->tcp, bufs, n);
                if (w == (int) (head_len + body_len)) {
                        free(head);
                        free(body);
                        return;
                }
                for (size_t left = w > 0 ? (size_t) w : 0; left > 0;) {
                        size_t take = MIN(left, bufs[first].len);
                        bufs[first].base += take;
                        bufs[first].len -= take;
                        left -= take;
                        if (bufs[first].len == 0)
                                first++;
                }
        }
        WriteReq *wr = xmalloc(sizeof(*wr));
        wr->conn = c;
        wr->head = head;
        wr->body = body;
        c->in_flight_writes++;
        int r = uv_write(&wr->req, (uv_stream_t *) &c->tcp, bufs + first, n - first, write_done);
        if (r < 0) {
                c->in_flight_writes--;
                free(head);
                free(body);
                free(wr);
                http_conn_close(c);
        }
}

static void render_head(Buf *h, HttpConn *c, int status, const char *headers) {
        buf_reserve(h, 256);
        buf_append(h, "HTTP/1.1 ", 9);
        buf_put_u64(h, (uint64_t) status);
        buf_append(h, " ", 1);
        buf_puts(h, http_status_text(status));
        buf_append(h, "\r\n", 2);
        buf_puts(h, date_header());
        if (headers)
                buf_puts(h, headers);
        if (!c->req.keep_alive || c->close_after_write || c->server->closing) {
                c->close_after_write = true;
                buf_puts(h, "Connection: close\r\n");
        }
}

/* The response is with the kernel: get ready for the next request. */
static void response_sent(HttpConn *c) {
        c->awaiting_response = false;
        c->in_request = false;
        request_reset(&c->req);
        if (c->close_after_write) {
                if (c->in_flight_writes == 0)
                        close_answered(c);
                return;
        }
        llhttp_resume(&c->parser);
        drive(c);
}

void http_respond(HttpConn *c, int status, const char *headers, const char *cbody, size_t len,
                  bool take_body) {
        Buf h = BUF_INIT;
        char *body = (char *) cbody; /* taken over when take_body, copied otherwise */

        if (c->closing || !c->awaiting_response) {
                if (take_body)
                        free(body);
                return;
        }
        if (c->server->ops->before_answer)
                c->server->ops->before_answer(c);
        render_head(&h, c, status, headers);
        if (status >= 200 && status != 204 && status != 304) {
                buf_append(&h, "Content-Length: ", 16);
                buf_put_u64(&h, len);
                buf_append(&h, "\r\n", 2);
        }
        buf_append(&h, "\r\n", 2);
        if (c->req.method == HTTP_HEAD || status < 200 || status == 204 || status == 304) {
                /* No body may follow (RFC 9110 §6.4.1): one would be read as the next
                 * response on a kept-alive connection. */
                if (take_body)
                        free(body);
                body = NULL, len = 0, take_body = true;
        }
        if (!take_body && len)
                body = xmemdup(body, len);
        else if (!take_body)
                body = NULL;
        size_t hl;
        char *head = buf_steal(&h, &hl);
        conn_write(c, head, hl, body, len);
        response_sent(c);
}

void http_stream_begin(HttpConn *c, int status, const char *headers) {
        Buf h = BUF_INIT;

        if (c->closing || !c->awaiting_response)
                return;
        if (c->server->ops->before_answer)
                c->server->ops->before_answer(c);
        render_head(&h, c, status, headers);
        buf_puts(&h, "Transfer-Encoding: chunked\r\n\r\n");
        size_t hl;
        char *head = buf_steal(&h, &hl);
        c->streaming = true;
        conn_write(c, head, hl, NULL, 0);
}

void http_stream_write(HttpConn *c, const void *data, size_t len) {
        if (c->closing || !c->streaming || len == 0)
                return;
        Buf b = BUF_INIT;
        buf_printf(&b, "%zx\r\n", len);
        buf_append(&b, data, len);
        buf_append(&b, "\r\n", 2);
        size_t bl;
        char *p = buf_steal(&b, &bl);
        conn_write(c, p, bl, NULL, 0);
}

void http_stream_end(HttpConn *c) {
        if (c->closing || !c->streaming)
                return;
        if (c->server->ops->before_answer)
                c->server->ops->before_answer(c);
        c->streaming = false;
        conn_write(c, xstrdup("0\r\n\r\n"), 5, NULL, 0);
        response_sent(c);
}

void http_stream_abort(HttpConn *c) {
        if (c->closing || !c->streaming)
                return;
        /* No last chunk: once the queued chunks are out the connection closes, and the peer
         * can tell the body is incomplete. */
        c->streaming = false;
        c->close_after_write = true;
        response_sent(c);
}

/* ---- reading ------------------------------------------------------------------------ */

static void bad_request(HttpConn *c, const char *reason) {
        char body[512];
        int n = snprintf(body, sizeof(body),
                         "{\"Type\":\"User\",\"Message\":\"Malformed HTTP request: %s\"}", reason);
        int status;

        if (strstr(reason, "too many request headers") || strstr(reason, "too large"))
                status = 431;
        else
                status = 400;
        c->close_after_write = true;
        c->awaiting_response = true;
        if (c->server->ops->malformed) {
                c->server->ops->malformed(c, status, reason);
                return;
        }
        http_respond(c, status,
                     "Content-Type: application/json\r\n"
                     "X-Amzn-ErrorType: InvalidRequestContentException\r\n",
                     body, (size_t) n, false);
}

/* Parses @len bytes; leftovers after a complete request go to `pending`. */
static void feed(HttpConn *c, const char *data, size_t len) {
        llhttp_errno_t err = llhttp_execute(&c->parser, data, len);

        if (err == HPE_OK)
                return;
        if (err == HPE_PAUSED) {
                const char *pos = llhttp_get_error_pos(&c->parser);
                size_t used = pos ? (size_t) (pos - data) : len;
                if (used < len && !c->close_after_write)
                        buf_append(&c->pending, data + used, len - used);
                c->awaiting_response = true;
                c->server->ops->request(c, &c->req);
                return;
        }
        const char *reason = c->bad_reason ? c->bad_reason : llhttp_get_error_reason(&c->parser);
        if (!reason)
                reason = llhttp_errno_name(err);
        buf_reset(&c->pending);
        bad_request(c, reason);
}

static bool driving_guard(HttpConn *c, bool enter) {
        static HttpConn *driving;

        if (enter) {
                if (driving == c)
                        return false;
                driving = c;
                return true;
        }
        driving = NULL;
        return true;
}

static void drive(HttpConn *c) {
        if (!driving_guard(c, true))
                return; /* the outer drive() loop picks the bytes up */
        /* After a closing answer the parser stays paused: what follows is never parsed. */
        while (!c->closing && !c->awaiting_response && !c->close_after_write && !c->read_paused &&
               c->pending.len > 0) {
                Buf data = c->pending;
                c->pending = BUF_INIT;
                feed(c, data.data, data.len);
                buf_free(&data);
        }
        driving_guard(c, false);
        if (!c->closing && !c->awaiting_response && c->peer_eof) {
                http_conn_close(c);
                return;
        }
        if (!c->closing && !c->peer_eof && c->pending.len < PENDING_LIMIT && !c->reading &&
            !c->read_paused)
                c->reading = uv_read_start((uv_stream_t *) &c->tcp, alloc_cb, read_cb) == 0;
}

void http_conn_pause(HttpConn *c, bool pause) {
        if (c->read_paused == pause)
                return;
        c->read_paused = pause;
        if (c->closing)
                return;
        if (pause) {
                if (c->reading)
                        uv_read_stop((uv_stream_t *) &c->tcp);
                c->reading = false;
                return;
        }
        drive(c);
}

size_t http_conn_write_queue(const HttpConn *c) {
        return c->tcp.write_queue_size;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
        *buf = uv_buf_init(read_buffer, sizeof(read_buffer));
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
        HttpConn *c = container_of((uv_tcp_t *) stream, HttpConn, tcp);

        if (nread == 0 || c->closing)
                return;
        if (nread < 0) {
                /* A parked request (e.g. a long poll) is abandoned when its peer goes. */
                c->peer_eof = true;
                http_conn_close(c);
                return;
        }
        /* The connection's last answer is on its way: feeding the paused parser again would
         * report the old request a second time. */
        if (c->close_after_write && !c->awaiting_response)
                return;
        if (c->awaiting_response || c->pending.len > 0) {
                buf_append(&c->pending, buf->base, (size_t) nread);
                if (c->pending.len >= PENDING_LIMIT) {
                        uv_read_stop(stream);
                        c->reading = false;
                }
                drive(c);
                return;
        }
        if (!driving_guard(c, true)) {
                buf_append(&c->pending, buf->base, (size_t) nread);
                return;
        }
        feed(c, buf->base, (size_t) nread);
        driving_guard(c, false);
        drive(c);
}

static void header_timeout(uv_timer_t *t) {
        HttpConn *c = container_of(t, HttpConn, timer);

        if (c->in_request && (!c->header_done || (c->body_timer && !c->awaiting_response)))
                http_conn_close(c);
}

/* ---- connections -------------------------------------------------------------------- */

static void conn_handle_closed(uv_handle_t *h) {
        HttpConn *c = h->data;

        if (h == (uv_handle_t *) &c->tcp)
                c->tcp.data = NULL;
        else
                c->timer.data = NULL;
        if (c->tcp.data || c->timer.data)
                return;
        HttpServer *s = c->server;
        request_free(&c->req);
        buf_free(&c->pending);
        list_unlink(&c->link);
        s->n_conns--;
        free(c);
        if (s->closing && s->n_conns == 0 && !s->listening && s->close_cb) {
                void (*cb)(HttpServer *) = s->close_cb;
                s->close_cb = NULL;
                cb(s);
        }
}

/* Marks @c closing and tells its owner. Return: false when it was already. */
static bool conn_closing(HttpConn *c) {
        if (c->closing)
                return false;
        c->closing = true;
        if (c->owner_closed)
                c->owner_closed(c);
        else if (c->server->ops->closed)
                c->server->ops->closed(c);
        return true;
}

static void conn_close_handles(HttpConn *c) {
        if (!uv_is_closing((uv_handle_t *) &c->timer))
                uv_close((uv_handle_t *) &c->timer, conn_handle_closed);
        if (!uv_is_closing((uv_handle_t *) &c->tcp))
                uv_close((uv_handle_t *) &c->tcp, conn_handle_closed);
}

void http_conn_close(HttpConn *c) {
        if (c->lingering) {
                conn_close_handles(c); /* the server closes: no more waiting */
                return;
        }
        if (conn_closing(c))
                conn_close_handles(c);
}

static void linger_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
        HttpConn *c = container_of((uv_tcp_t *) stream, HttpConn, tcp);

        if (nread == 0)
                return;
        if (nread < 0 || (c->lingered += (uint64_t) nread) > LINGER_MAX) {
                conn_close_handles(c);
                return;
        }
        uv_timer_again(&c->timer);
}

static void linger_timeout(uv_timer_t *t) {
        conn_close_handles(container_of(t, HttpConn, timer));
}

static void linger_shutdown_cb(uv_shutdown_t *req, int status) {
        /* UV_ECANCELED: the handles are closing already. */
        if (status < 0 && status != UV_ECANCELED)
                conn_close_handles(container_of(req, HttpConn, shutdown_req));
}

/*
 * The connection's last answer is with the kernel. Closing a socket with unread bytes sends
 * an RST, and a client still sending its request (a 7 MB payload, 10,000 headers) may then
 * lose the answer: the write side is shut down (the client reads the answer and EOF) and
 * what it still sends is drained until its EOF, a pause of LINGER_MS or LINGER_MAX bytes.
 */
static void close_answered(HttpConn *c) {
        uv_stream_t *s = (uv_stream_t *) &c->tcp;

        if (c->peer_eof || c->server->closing) {
                http_conn_close(c);
                return;
        }
        if (!conn_closing(c))
                return;
        c->lingering = true;
        if (c->reading)
                uv_read_stop(s);
        c->reading = false;
        if (uv_shutdown(&c->shutdown_req, s, linger_shutdown_cb) < 0 ||
            uv_read_start(s, alloc_cb, linger_read_cb) < 0) {
                conn_close_handles(c);
                return;
        }
        uv_timer_start(&c->timer, linger_timeout, LINGER_MS, LINGER_MS);
}

static void overload_closed(uv_handle_t *h) {
        free(h);
}

static void on_connection(uv_stream_t *listener, int status) {
        HttpServer *s = container_of((uv_tcp_t *) listener, HttpServer, tcp);

        if (status < 0)
                return;
        if (s->limits.max_connections && s->n_conns >= s->limits.max_connections) {
                uv_tcp_t *t = xmalloc(sizeof(*t));
                uv_tcp_init(s->loop, t);
                if (uv_accept(listener, (uv_stream_t *) t) == 0 && s->overload_response) {
                        uv_buf_t b = uv_buf_init((char *) s->overload_response,
                                                 (unsigned) strlen(s->overload_response));
                        (void) uv_try_write((uv_stream_t *) t, &b, 1);
                }
                uv_close((uv_handle_t *) t, overload_closed);
                return;
        }

        HttpConn *c = xcalloc(1, sizeof(*c));
        c->server = s;
        uv_tcp_init(s->loop, &c->tcp);
        uv_timer_init(s->loop, &c->timer);
        c->tcp.data = c;
        c->timer.data = c;
        list_push_back(&s->conns, &c->link);
        s->n_conns++;
        if (uv_accept(listener, (uv_stream_t *) &c->tcp) < 0) {
                c->closing = true;
                uv_close((uv_handle_t *) &c->timer, conn_handle_closed);
                uv_close((uv_handle_t *) &c->tcp, conn_handle_closed);
                return;
        }
        uv_tcp_nodelay(&c->tcp, 1);
        llhttp_init(&c->parser, HTTP_REQUEST, &s->settings);
        c->req.keep_alive = true;
        if (s->ops->accepted && !s->ops->accepted(s, c)) {
                http_conn_close(c);
                return;
        }
        c->reading = uv_read_start((uv_stream_t *) &c->tcp, alloc_cb, read_cb) == 0;
}

void http_server_init(HttpServer *s, uv_loop_t *loop, const HttpServerOps *ops,
                      const HttpLimits *limits, void *data) {
        memset(s, 0, sizeof(*s));
        s->loop = loop;
        s->ops = ops;
        s->data = data;
        s->limits = *limits;
        list_init(&s->conns);
        llhttp_settings_init(&s->settings);
        s->settings.on_message_begin = on_message_begin;
        s->settings.on_url = on_url;
        s->settings.on_url_complete = on_url_complete;
        s->settings.on_header_field = on_header_field;
        s->settings.on_header_field_complete = on_header_field_complete;
        s->settings.on_header_value = on_header_value;
        s->settings.on_header_value_complete = on_header_value_complete;
        s->settings.on_headers_complete = on_headers_complete;
        s->settings.on_body = on_body;
        s->settings.on_chunk_header = on_chunk_header;
        s->settings.on_message_complete = on_message_complete;
        uv_tcp_init(loop, &s->tcp);
}

int http_server_listen(HttpServer *s, const struct sockaddr *addr, int backlog) {
        int r = uv_tcp_bind(&s->tcp, addr, 0);

        if (r < 0)
                return r;
        r = uv_listen((uv_stream_t *) &s->tcp, backlog, on_connection);
        if (r < 0)
                return r;
        s->listening = true;
        return 0;
}

int http_server_open(HttpServer *s, int fd, int backlog) {
        int r = uv_tcp_open(&s->tcp, fd);

        if (r < 0) {
                close(fd);
                return r;
        }
        r = uv_listen((uv_stream_t *) &s->tcp, backlog, on_connection);
        if (r < 0)
                return r;
        s->listening = true;
        return 0;
}

int http_server_port(HttpServer *s) {
        struct sockaddr_storage ss;
        int len = sizeof(ss);

        if (uv_tcp_getsockname(&s->tcp, (struct sockaddr *) &ss, &len) < 0)
                return -1;
        if (ss.ss_family == AF_INET)
                return ntohs(((struct sockaddr_in *) &ss)->sin_port);
        return ntohs(((struct sockaddr_in6 *) &ss)->sin6_port);
}

static void listener_closed(uv_handle_t *h) {
        HttpServer *s = container_of((uv_tcp_t *) h, HttpServer, tcp);

        s->listening = false;
        if (s->closing && s->n_conns == 0 && s->close_cb) {
                void (*cb)(HttpServer *) = s->close_cb;
                s->close_cb = NULL;
                cb(s);
        }
}

void http_server_stop_listening(HttpServer *s) {
        if (uv_is_closing((uv_handle_t *) &s->tcp))
                return;
        uv_close((uv_handle_t *) &s->tcp, listener_closed);
}

void http_server_close(HttpServer *s, void (*cb)(HttpServer *s)) {
        ListNode *it, *tmp;

        s->closing = true;
        s->close_cb = cb;
        bool was_open = !uv_is_closing((uv_handle_t *) &s->tcp);
        LIST_FOREACH_SAFE(it, tmp, &s->conns) {
                http_conn_close(container_of(it, HttpConn, link));
        }
        if (was_open) {
                s->listening = true; /* listener_closed() clears it */
                uv_close((uv_handle_t *) &s->tcp, listener_closed);
        } else if (!s->listening && s->n_conns == 0 && s->close_cb) {
                s->close_cb = NULL;
                cb(s);
        }
}
