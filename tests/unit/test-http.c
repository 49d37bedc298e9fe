/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the HTTP/1.1 server. Each test runs an HttpServer on its own uv loop bound to
 * 127.0.0.1:0 and a client in a thread that speaks raw bytes over a blocking socket. The
 * server's handler only records what it was given (the request's slices die with it); the
 * client only records what it read; both are asserted on the main thread once the loop and
 * the thread are done. The client's socket timeouts (3 s) and a 5 s loop timer that closes
 * the server bound every test, and every test ends with uv_loop_close() == 0.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cmocka.h>
#include <uv.h>

#include "buf.h"
#include "server.h"

#define FAILSAFE_MS 5000
#define CLIENT_IO_S 3
#define MAX_RECORDS 8
#define MAX_RESPS   8

/* ---- the client side (runs in its own thread) ---- */

typedef struct Client {
        int fd;
        Buf in; /* received, not yet consumed */
} Client;

typedef struct Resp {
        int status;
        Buf head; /* status line and header lines, CRLFs included, without the blank line */
        Buf body;
} Resp;

static int client_connect(Client *cl, int port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        struct timeval tv = { .tv_sec = CLIENT_IO_S };

        cl->in = BUF_INIT;
        cl->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (cl->fd < 0)
                return -errno;
        (void) setsockopt(cl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(cl->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(cl->fd, (struct sockaddr *) &a, sizeof(a)) < 0)
                return -errno;
        return 0;
}

static void client_close(Client *cl) {
        if (cl->fd >= 0)
                close(cl->fd);
        cl->fd = -1;
        buf_free(&cl->in);
}

static int client_send(Client *cl, const void *p, size_t n) {
        const char *c = p;

        while (n > 0) {
                ssize_t r = send(cl->fd, c, n, MSG_NOSIGNAL);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                c += r;
                n -= (size_t) r;
        }
        return 0;
}

static int client_send_str(Client *cl, const char *s) {
        return client_send(cl, s, strlen(s));
}

/* Reads once more into cl->in. Return: bytes read, 0 at EOF, or a negative errno. */
static ssize_t client_fill(Client *cl) {
        char tmp[65536];

        for (;;) {
                ssize_t r = recv(cl->fd, tmp, sizeof(tmp), 0);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                buf_append(&cl->in, tmp, (size_t) r);
                return r;
        }
}

static void client_consume(Client *cl, size_t n) {
        memmove(cl->in.data, cl->in.data + n, cl->in.len - n);
        cl->in.len -= n;
        cl->in.data[cl->in.len] = '\0';
}

/* Finds a header in a response head, case-insensitively; copies its value into @out. */
static bool head_header(const Buf *head, const char *name, char *out, size_t n) {
        const char *p = head->data ? head->data : "";
        size_t nl = strlen(name);

        while ((p = strstr(p, "\r\n")) != NULL) {
                p += 2;
                if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
                        const char *v = p + nl + 1, *e = strstr(v, "\r\n");
                        while (*v == ' ')
                                v++;
                        size_t len = e ? (size_t) (e - v) : strlen(v);
                        if (out) {
                                snprintf(out, n, "%.*s", (int) len, v);
                        }
                        return true;
                }
        }
        return false;
}

/* Reads one response with a Content-Length body (or none: 1xx, 204). Return: 0 or -1. */
static int client_read_response(Client *cl, Resp *r) {
        char *end;

        r->head = BUF_INIT;
        r->body = BUF_INIT;
        r->status = 0;
        while (!cl->in.data || !(end = strstr(cl->in.data, "\r\n\r\n"))) {
                if (client_fill(cl) <= 0)
                        return -1;
        }
        size_t head_len = (size_t) (end - cl->in.data);
        buf_append(&r->head, cl->in.data, head_len);
        client_consume(cl, head_len + 4);
        if (sscanf(r->head.data, "HTTP/1.1 %d", &r->status) != 1)
                return -1;
        size_t clen = 0;
        char v[32];
        if (r->status >= 200 && r->status != 204 &&
            head_header(&r->head, "Content-Length", v, sizeof(v)))
                clen = strtoul(v, NULL, 10);
        while (cl->in.len < clen) {
                if (client_fill(cl) <= 0)
                        return -1;
        }
        buf_append(&r->body, cl->in.data ? cl->in.data : "", clen);
        if (clen)
                client_consume(cl, clen);
        return 0;
}

/* Reads until @marker has arrived; everything read is moved into @out. Return: 0 or -1. */
static int client_read_until(Client *cl, const char *marker, Buf *out) {
        char *end;

        while (!cl->in.data || !(end = strstr(cl->in.data, marker))) {
                if (client_fill(cl) <= 0)
                        return -1;
        }
        size_t n = (size_t) (end - cl->in.data) + strlen(marker);
        buf_append(out, cl->in.data, n);
        client_consume(cl, n);
        return 0;
}

/* Return: 0 when the server closed (EOF or reset) with nothing more, 1 when more bytes came,
 * or a negative errno (e.g. -EAGAIN: still open after the socket timeout). */
static int client_wait_eof(Client *cl) {
        if (cl->in.len > 0)
                return 1;
        ssize_t r = client_fill(cl);
        if (r == 0 || r == -ECONNRESET)
                return 0;
        return r > 0 ? 1 : (int) r;
}

static double now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

/* ---- the server side (runs on the loop) ---- */

typedef struct Rec {
        llhttp_method_t method;
        char url[256], path[256], query[256];
        Buf headers; /* "name=value\n" for each, in order */
        size_t n_headers;
        char host[64], custom[64];
        bool has_host, has_custom, has_missing;
        Buf body;
        uint64_t body_bytes;
        bool body_too_large;
        bool keep_alive;
        unsigned answered_before; /* responses sent when this request arrived */
} Rec;

typedef struct Test Test;
typedef void (*client_fn)(Test *t);

struct Test {
        uv_loop_t loop;
        HttpServer server;
        HttpLimits limits;
        uv_timer_t failsafe;
        uv_timer_t later;
        uv_async_t done;
        pthread_t thread;
        int port;
        bool closing;
        bool timed_out;
        bool server_closed;

        /* handler behaviour */
        uint64_t body_limit;
        bool defer_first;
        HttpConn *deferred;
        const char *overload;

        /* what the server saw */
        Rec rec[MAX_RECORDS];
        unsigned n_req;
        unsigned n_answered;
        unsigned n_closed;
        unsigned n_accepted;

        /* what the client saw */
        client_fn client;
        Resp resp[MAX_RESPS];
        unsigned n_resp;
        int rc[8]; /* per-test client return codes */
        Buf raw;   /* raw bytes where a test wants them */
        double elapsed_ms;

        /* a body taken piece by piece (/sink) */
        Buf sink;
        unsigned sink_calls;
        unsigned calls_at_resume;
        int first_piece; /* set (atomically) when the first piece arrived */
        HttpConn *paused;
        char trailer[64], header_seen_as_trailer[8];
        bool trailer_found_as_header;
};

static Test *ctx_new(void) {
        Test *t = calloc(1, sizeof(*t));

        assert_non_null(t);
        t->limits = (HttpLimits){
                .max_connections = 0,
                .max_header_bytes = 8192,
                .max_headers = 32,
                .header_timeout_ms = 0,
                .discard_max = 1024 * 1024,
        };
        t->body_limit = 1024 * 1024;
        return t;
}

static void ctx_free(Test *t) {
        for (unsigned i = 0; i < MAX_RECORDS; i++) {
                buf_free(&t->rec[i].headers);
                buf_free(&t->rec[i].body);
        }
        for (unsigned i = 0; i < MAX_RESPS; i++) {
                buf_free(&t->resp[i].head);
                buf_free(&t->resp[i].body);
        }
        buf_free(&t->raw);
        buf_free(&t->sink);
        free(t);
}

static void copy_slice(char *out, size_t n, Slice s) {
        snprintf(out, n, "%.*s", (int) s.len, s.ptr);
}

static void resume_cb(uv_timer_t *h);

/* /sink takes its body piece by piece; the first piece pauses reading for 30 ms. */
static void sink_cb(HttpConn *c, const char *at, size_t len) {
        Test *t = c->server->data;

        buf_append(&t->sink, at, len);
        if (t->sink_calls++ == 0) {
                http_conn_pause(c, true);
                t->paused = c;
                __atomic_store_n(&t->first_piece, 1, __ATOMIC_SEQ_CST);
                uv_timer_start(&t->later, resume_cb, 30, 0);
        }
}

static void resume_cb(uv_timer_t *h) {
        Test *t = h->data;

        if (!t->paused)
                return;
        t->calls_at_resume = t->sink_calls;
        http_conn_pause(t->paused, false);
        t->paused = NULL;
}

static uint64_t op_body_limit(HttpConn *c, HttpRequest *req) {
        Test *t = c->server->data;

        if (slice_eq(req->path, "/sink"))
                c->body_cb = sink_cb;
        return t->body_limit;
}

/* The answer: "<path> <body_bytes> <body>" — 413 when the body was over the limit. */
static void answer(Test *t, HttpConn *c, HttpRequest *req) {
        Buf b = BUF_INIT;

        if (slice_eq(req->path, "/stream")) {
                http_stream_begin(c, 200, "Content-Type: text/plain\r\n");
                http_stream_write(c, "ab", 2);
                http_stream_write(c, "", 0); /* nothing: an empty chunk would end the body */
                http_stream_write(c, "cde", 3);
                http_stream_end(c);
                t->n_answered++;
                return;
        }
        if (slice_eq(req->path, "/abort")) {
                http_stream_begin(c, 200, "Content-Type: text/plain\r\n");
                http_stream_write(c, "ab", 2);
                http_stream_abort(c);
                http_stream_write(c, "cd", 2); /* too late: ignored */
                t->n_answered++;
                return;
        }
        buf_printf(&b, "%.*s %llu ", (int) req->path.len, req->path.ptr,
                   (unsigned long long) req->body_bytes);
        if (!req->body_too_large)
                buf_append(&b, req->body.data ? req->body.data : "", req->body.len);
        t->n_answered++;
        if (slice_eq(req->path, "/take")) {
                /* A big body handed over: the server frees it once written. */
                size_t n = 200000;
                char *p = malloc(n);
                assert_non_null(p);
                for (size_t i = 0; i < n; i++)
                        p[i] = (char) ('a' + i % 26);
                http_respond(c, 200, "Content-Type: text/plain\r\nX-Test: take\r\n", p, n, true);
        } else {
                http_respond(c, req->body_too_large ? 413 : 200, "Content-Type: text/plain\r\n",
                             b.data, b.len, false);
        }
        buf_free(&b);
}

static void later_cb(uv_timer_t *h);

static void op_request(HttpConn *c, HttpRequest *req) {
        Test *t = c->server->data;
        Slice v;

        if (t->n_req < MAX_RECORDS) {
                Rec *r = &t->rec[t->n_req];
                r->method = req->method;
                copy_slice(r->url, sizeof(r->url), req->url);
                copy_slice(r->path, sizeof(r->path), req->path);
                copy_slice(r->query, sizeof(r->query), req->query);
                r->n_headers = req->n_headers;
                for (size_t i = 0; i < req->n_headers; i++)
                        buf_printf(&r->headers, "%.*s=%.*s\n", (int) req->headers[i].name.len,
                                   req->headers[i].name.ptr, (int) req->headers[i].value.len,
                                   req->headers[i].value.ptr);
                if ((r->has_host = http_header(req, "HOST", &v)))
                        copy_slice(r->host, sizeof(r->host), v);
                if ((r->has_custom = http_header(req, "x-custom-header", &v)))
                        copy_slice(r->custom, sizeof(r->custom), v);
                r->has_missing = http_header(req, "X-Missing", NULL);
                if (slice_eq(req->path, "/sink")) {
                        if (http_trailer(req, "x-trailer-a", &v))
                                copy_slice(t->trailer, sizeof(t->trailer), v);
                        t->trailer_found_as_header = http_header(req, "X-Trailer-A", NULL);
                        snprintf(t->header_seen_as_trailer, sizeof(t->header_seen_as_trailer), "%s",
                                 http_trailer(req, "Host", NULL) ? "yes" : "no");
                }
                buf_append(&r->body, req->body.data ? req->body.data : "", req->body.len);
                r->body_bytes = req->body_bytes;
                r->body_too_large = req->body_too_large;
                r->keep_alive = req->keep_alive;
                r->answered_before = t->n_answered;
        }
        t->n_req++;
        if (t->defer_first && t->n_req == 1) {
                t->deferred = c;
                uv_timer_start(&t->later, later_cb, 30, 0);
                return; /* answered by later_cb */
        }
        answer(t, c, req);
}

static void later_cb(uv_timer_t *h) {
        Test *t = h->data;

        if (t->deferred) {
                HttpConn *c = t->deferred;
                t->deferred = NULL;
                answer(t, c, &c->req);
        }
}

static void op_closed(HttpConn *c) {
        Test *t = c->server->data;

        t->n_closed++;
        if (t->paused == c)
                t->paused = NULL;
        if (t->deferred == c)
                t->deferred = NULL;
}

static bool op_accepted(HttpServer *s, HttpConn *c) {
        Test *t = s->data;

        t->n_accepted++;
        return true;
}

static const HttpServerOps test_ops = {
        .body_limit = op_body_limit,
        .request = op_request,
        .closed = op_closed,
        .accepted = op_accepted,
};

static void server_closed(HttpServer *s) {
        Test *t = s->data;

        t->server_closed = true;
}

static void close_server(Test *t) {
        if (t->closing)
                return;
        t->closing = true;
        http_server_close(&t->server, server_closed);
        uv_close((uv_handle_t *) &t->failsafe, NULL);
        uv_close((uv_handle_t *) &t->later, NULL);
}

static void failsafe_cb(uv_timer_t *h) {
        Test *t = h->data;

        /* Closing every connection makes the client's calls return at once. */
        t->timed_out = true;
        close_server(t);
}

static void done_cb(uv_async_t *h) {
        Test *t = h->data;

        close_server(t);
        uv_close((uv_handle_t *) &t->done, NULL);
}

static void *client_main(void *arg) {
        Test *t = arg;

        t->client(t);
        uv_async_send(&t->done);
        return NULL;
}

/* Runs the server until the client is done, then closes everything. */
static void run(Test *t, client_fn client) {
        struct sockaddr_in a;

        assert_int_equal(uv_loop_init(&t->loop), 0);
        http_server_init(&t->server, &t->loop, &test_ops, &t->limits, t);
        t->server.overload_response = t->overload;
        assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &a), 0);
        assert_int_equal(http_server_listen(&t->server, (struct sockaddr *) &a, 16), 0);
        t->port = http_server_port(&t->server);
        assert_true(t->port > 0);
        uv_timer_init(&t->loop, &t->failsafe);
        t->failsafe.data = t;
        uv_timer_start(&t->failsafe, failsafe_cb, FAILSAFE_MS, 0);
        uv_timer_init(&t->loop, &t->later);
        t->later.data = t;
        uv_async_init(&t->loop, &t->done, done_cb);
        t->done.data = t;
        t->client = client;
        assert_int_equal(pthread_create(&t->thread, NULL, client_main, t), 0);
        uv_run(&t->loop, UV_RUN_DEFAULT);
        assert_int_equal(pthread_join(t->thread, NULL), 0);
        assert_int_equal(uv_loop_close(&t->loop), 0);
        assert_false(t->timed_out);
        assert_true(t->server_closed);
        assert_int_equal(t->server.n_conns, 0);
}

/* Reads the next response into t->resp; a missing one shows as a lower t->n_resp. */
static void read_resp(Test *t, Client *cl) {
        if (t->n_resp >= MAX_RESPS)
                return;
        if (client_read_response(cl, &t->resp[t->n_resp]) == 0)
                t->n_resp++;
}

static void assert_body(const Resp *r, const char *body) {
        assert_int_equal(r->body.len, strlen(body));
        assert_memory_equal(r->body.data, body, r->body.len);
}

static void assert_header(const Resp *r, const char *name, const char *value) {
        char v[256];

        if (!head_header(&r->head, name, v, sizeof(v)))
                fail_msg("no %s header in '%s'", name, r->head.data);
        assert_string_equal(v, value);
}

/* ---- tests ---- */

static void client_simple_get(Test *t) {
        Client cl;

        t->rc[0] = client_connect(&cl, t->port);
        t->rc[1] = client_send_str(&cl, "GET /path/to/x?a=1&b=%20 HTTP/1.1\r\n"
                                        "Host: example.test\r\n"
                                        "X-Custom-HEADER: Some Value\r\n"
                                        "Empty:\r\n"
                                        "\r\n");
        read_resp(t, &cl);
        /* The connection is kept alive: a second request on it is answered too. */
        client_send_str(&cl, "GET /second HTTP/1.1\r\nHost: h\r\n\r\n");
        read_resp(t, &cl);
        client_close(&cl);
}

static void test_simple_get(void **state) {
        Test *t = ctx_new();

        run(t, client_simple_get);
        assert_int_equal(t->rc[0], 0);
        assert_int_equal(t->rc[1], 0);
        assert_int_equal(t->n_req, 2);
        Rec *r = &t->rec[0];
        assert_int_equal(r->method, HTTP_GET);
        assert_string_equal(r->url, "/path/to/x?a=1&b=%20");
        assert_string_equal(r->path, "/path/to/x");
        assert_string_equal(r->query, "a=1&b=%20");
        assert_int_equal(r->n_headers, 3);
        assert_string_equal(r->headers.data,
                            "Host=example.test\nX-Custom-HEADER=Some Value\nEmpty=\n");
        assert_true(r->has_host);
        assert_string_equal(r->host, "example.test");
        assert_true(r->has_custom);
        assert_string_equal(r->custom, "Some Value");
        assert_false(r->has_missing);
        assert_int_equal(r->body.len, 0);
        assert_int_equal(r->body_bytes, 0);
        assert_false(r->body_too_large);
        assert_true(r->keep_alive);
        assert_string_equal(t->rec[1].path, "/second");
        assert_string_equal(t->rec[1].query, "");

        assert_int_equal(t->n_resp, 2);
        assert_int_equal(t->resp[0].status, 200);
        assert_true(strncmp(t->resp[0].head.data, "HTTP/1.1 200 OK\r\n", 17) == 0);
        assert_header(&t->resp[0], "Content-Type", "text/plain");
        assert_header(&t->resp[0], "Content-Length", "13");
        assert_true(head_header(&t->resp[0].head, "Date", NULL, 0));
        assert_false(head_header(&t->resp[0].head, "Connection", NULL, 0));
        assert_body(&t->resp[0], "/path/to/x 0 ");
        assert_body(&t->resp[1], "/second 0 ");
        assert_int_equal(t->n_accepted, 1);
        assert_int_equal(t->n_closed, 1);
        ctx_free(t);
}

static void client_content_length(Test *t) {
        Client cl;

        client_connect(&cl, t->port);
        /* The body split over two writes. */
        client_send_str(&cl, "POST /p HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello");
        usleep(20000);
        client_send_str(&cl, " world");
        read_resp(t, &cl);
        /* Exactly at the limit (11) is fine; one byte over is too large. */
        client_send_str(&cl, "PUT /q HTTP/1.1\r\nContent-Length: 12\r\n\r\nhello world!");
        read_resp(t, &cl);
        client_close(&cl);
}

static void test_content_length_body(void **state) {
        Test *t = ctx_new();

        t->body_limit = 11;
        run(t, client_content_length);
        assert_int_equal(t->n_req, 2);
        assert_int_equal(t->rec[0].method, HTTP_POST);
        assert_int_equal(t->rec[0].body.len, 11);
        assert_memory_equal(t->rec[0].body.data, "hello world", 11);
        assert_int_equal(t->rec[0].body_bytes, 11);
        assert_false(t->rec[0].body_too_large);
        assert_int_equal(t->rec[1].method, HTTP_PUT);
        assert_true(t->rec[1].body_too_large);
        assert_int_equal(t->rec[1].body_bytes, 12);
        assert_int_equal(t->n_resp, 2);
        assert_int_equal(t->resp[0].status, 200);
        assert_body(&t->resp[0], "/p 11 hello world");
        assert_int_equal(t->resp[1].status, 413);
        assert_body(&t->resp[1], "/q 12 ");
        ctx_free(t);
}

static void client_chunked(Test *t) {
        Client cl;

        client_connect(&cl, t->port);
        client_send_str(&cl, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "5\r\nhello\r\n6;ext=1\r\n world\r\n");
        usleep(20000);
        client_send_str(&cl, "0\r\n\r\n");
        read_resp(t, &cl);
        /* Over the limit (16) when chunked: no Content-Length to refuse it up front. */
        client_send_str(&cl, "POST /d HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n");
        read_resp(t, &cl);
        client_close(&cl);
}

static void test_chunked_body(void **state) {
        Test *t = ctx_new();

        t->body_limit = 16;
        run(t, client_chunked);
        assert_int_equal(t->n_req, 2);
        assert_int_equal(t->rec[0].body.len, 11);
        assert_memory_equal(t->rec[0].body.data, "hello world", 11);
        assert_int_equal(t->rec[0].body_bytes, 11);
        assert_false(t->rec[0].body_too_large);
        assert_true(t->rec[1].body_too_large);
        assert_int_equal(t->rec[1].body_bytes, 20);
        assert_true(t->rec[1].body.len <= 16);
        assert_true(t->rec[1].keep_alive);
        assert_int_equal(t->n_resp, 2);
        assert_body(&t->resp[0], "/c 11 hello world");
        assert_int_equal(t->resp[1].status, 413);
        assert_body(&t->resp[1], "/d 20 ");
        ctx_free(t);
}

static void client_sink(Test *t) {
        Client cl;

        client_connect(&cl, t->port);
        t->rc[0] = client_send_str(&cl, "POST /sink HTTP/1.1\r\nHost: h\r\n"
                                        "Transfer-Encoding: chunked\r\n"
                                        "Trailer: X-Trailer-A\r\n\r\n"
                                        "5\r\nhello\r\n");
        /* The rest is sent only once the server holds the first piece: the body reaches the
         * handler as it arrives. */
        double deadline = now_ms() + CLIENT_IO_S * 1000;
        while (!__atomic_load_n(&t->first_piece, __ATOMIC_SEQ_CST) && now_ms() < deadline) {
                struct timespec ts = { .tv_nsec = 1000000 };
                nanosleep(&ts, NULL);
        }
        t->rc[1] = __atomic_load_n(&t->first_piece, __ATOMIC_SEQ_CST);
        client_send_str(&cl, "6\r\n world\r\n0\r\nX-Trailer-A: the end\r\nX-Empty:\r\n\r\n");
        read_resp(t, &cl);
        /* The connection serves the next request. */
        client_send_str(&cl, "GET /after HTTP/1.1\r\nHost: h\r\n\r\n");
        read_resp(t, &cl);
        client_close(&cl);
}

static void test_body_pieces_and_trailers(void **state) {
        Test *t = ctx_new();

        t->body_limit = 4; /* a body taken piece by piece has no limit here */
        run(t, client_sink);
        assert_int_equal(t->rc[1], 1);
        assert_int_equal(t->sink.len, 11);
        assert_memory_equal(t->sink.data, "hello world", 11);
        /* Paused after the first piece: nothing more came until resumed. */
        assert_int_equal(t->calls_at_resume, 1);
        assert_int_equal(t->sink_calls, 2);
        assert_int_equal(t->n_req, 2);
        assert_int_equal(t->rec[0].body_bytes, 11);
        assert_int_equal(t->rec[0].body.len, 0);
        assert_string_equal(t->trailer, "the end");
        assert_true(t->trailer_found_as_header); /* trailers are fields too */
        assert_string_equal(t->header_seen_as_trailer, "no");
        assert_int_equal(t->n_resp, 2);
        assert_body(&t->resp[0], "/sink 11 ");
        assert_body(&t->resp[1], "/after 0 ");
        ctx_free(t);
}

static void client_many_headers(Test *t) {
        Client cl;

        /* Exactly max_headers (4) is accepted. */
        client_connect(&cl, t->port);
        client_send_str(&cl, "GET /four HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
        read_resp(t, &cl);
        client_close(&cl);
        /* One more is refused with 431 and the connection closes. */
        client_connect(&cl, t->port);
        client_send_str(&cl, "GET /five HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n");
        read_resp(t, &cl);
        t->rc[0] = client_wait_eof(&cl);
        client_close(&cl);
}

static void test_too_many_headers(void **state) {
        Test *t = ctx_new();

        t->limits.max_headers = 4;
        run(t, client_many_headers);
        assert_int_equal(t->n_req, 1);
        assert_string_equal(t->rec[0].path, "/four");
        assert_int_equal(t->rec[0].n_headers, 4);
        assert_int_equal(t->n_resp, 2);
        assert_int_equal(t->resp[0].status, 200);
        assert_int_equal(t->resp[1].status, 431);
        assert_true(strncmp(t->resp[1].head.data,
                            "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46) == 0);
        assert_header(&t->resp[1], "Connection", "close");
        assert_header(&t->resp[1], "Content-Type", "application/json");
        assert_body(&t->resp[1],
                    "{\"Type\":\"User\",\"Message\":\"Malformed HTTP request: too many request "
                    "headers\"}");
        assert_int_equal(t->rc[0], 0);
        ctx_free(t);
}

static void client_big_headers(Test *t) {
        Client cl;
        char req[1024];
        char value[301];

        memset(value, 'v', 300);
        value[300] = '\0';
        client_connect(&cl, t->port);
        snprintf(req, sizeof(req), "GET /big HTTP/1.1\r\nX-Big: %s\r\n\r\n", value);
        client_send_str(&cl, req);
        read_resp(t, &cl);
        t->rc[0] = client_wait_eof(&cl);
        client_close(&cl);
        /* A long URL counts too. */
        client_connect(&cl, t->port);
        snprintf(req, sizeof(req), "GET /%s HTTP/1.1\r\n\r\n", value);
        client_send_str(&cl, req);
        read_resp(t, &cl);
        t->rc[1] = client_wait_eof(&cl);
        client_close(&cl);
        /* Under the limit is fine. */
        client_connect(&cl, t->port);
        client_send_str(&cl, "GET /small HTTP/1.1\r\nX-Small: 0123456789\r\n\r\n");
        read_resp(t, &cl);
        client_close(&cl);
}

static void test_header_bytes_limit(void **state) {
        Test *t = ctx_new();

        t->limits.max_header_bytes = 200;
        run(t, client_big_headers);
        assert_int_equal(t->n_req, 1);
        assert_string_equal(t->rec[0].path, "/small");
        assert_int_equal(t->n_resp, 3);
        for (int i = 0; i < 2; i++) {
                assert_int_equal(t->resp[i].status, 431);
                assert_header(&t->resp[i], "Connection", "close");
                assert_body(&t->resp[i], "{\"Type\":\"User\",\"Message\":\"Malformed HTTP "
                                         "request: request headers too large\"}");
                assert_int_equal(t->rc[i], 0);
        }
        assert_int_equal(t->resp[2].status, 200);
        ctx_free(t);
}

static void client_body_discarded(Test *t) {
        Client cl;
        size_t n = 300000;
        char *big = malloc(n);
        char head[128];

        memset(big, 'x', n);
        client_connect(&cl, t->port);
        snprintf(head, sizeof(head), "POST /big HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", n);
        client_send_str(&cl, head);
        /* Nothing is answered before the whole body was read. */
        for (size_t off = 0; off < n; off += 50000) {
                int r = client_send(&cl, big + off, 50000);
                if (r < 0 && !t->rc[0])
                        t->rc[0] = r;
                if (off == 100000) {
                        struct timeval tv = { .tv_usec = 50000 };
                        fd_set fds;
                        FD_ZERO(&fds);
                        FD_SET(cl.fd, &fds);
                        t->rc[1] = select(cl.fd + 1, &fds, NULL, NULL, &tv);
                }
        }
        free(big);
        read_resp(t, &cl);
        /* The connection stays usable. */
        client_send_str(&cl, "GET /after HTTP/1.1\r\n\r\n");
        read_resp(t, &cl);
        client_close(&cl);
}

static void test_body_over_limit_discarded(void **state) {
        Test *t = ctx_new();

        t->body_limit = 1000;
        t->limits.discard_max = 1024 * 1024;
        run(t, client_body_discarded);
        assert_int_equal(t->rc[0], 0); /* every send went through */
        assert_int_equal(t->rc[1], 0); /* no answer while the body was still coming */
        assert_int_equal(t->n_req, 2);
        assert_true(t->rec[0].body_too_large);
        assert_int_equal(t->rec[0].body_bytes, 300000);
        assert_true(t->rec[0].body.len <= 1000);
        assert_int_equal(t->n_resp, 2);
        assert_int_equal(t->resp[0].status, 413);
        assert_false(head_header(&t->resp[0].head, "Connection", NULL, 0));
        assert_body(&t->resp[0], "/big 300000 ");
        assert_int_equal(t->resp[1].status, 200);
        assert_body(&t->resp[1], "/after 0 ");
        assert_int_equal(t->n_closed, 1);
        ctx_free(t);
}

static void client_body_too_much(Test *t) {
        Client cl;

        /* Content-Length says too much even to discard: answered at once, then closed. */
        client_connect(&cl, t->port);
        client_send_str(&cl, "POST /huge HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
        read_resp(t, &cl);
        t->rc[0] = client_wait_eof(&cl);
        client_close(&cl);
        /* Chunked: found out while reading. */
        char chunk[300];
        memset(chunk, 'c', sizeof(chunk));
        client_connect(&cl, t->port);
        client_send_str(&cl, "POST /chunks HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n12c\r\n");
        client_send(&cl, chunk, sizeof(chunk));
        read_resp(t, &cl);
        t->rc[1] = client_wait_eof(&cl);
        client_close(&cl);
}

static void test_body_over_discard_closes(void **state) {
        Test *t = ctx_new();

        t->body_limit = 16;
        t->limits.discard_max = 100;
        run(t, client_body_too_much);
        assert_int_equal(t->n_req, 2);
        assert_string_equal(t->rec[0].path, "/huge");
        assert_true(t->rec[0].body_too_large);
        assert_int_equal(t->rec[0].body_bytes, 5000);
        assert_string_equal(t->rec[1].path, "/chunks");
        assert_true(t->rec[1].body_too_large);
        assert_true(t->rec[1].body_bytes > 116);
        assert_true(t->rec[1].body_bytes <= 300);
        assert_int_equal(t->n_resp, 2);
        for (int i = 0; i < 2; i++) {
                assert_int_equal(t->resp[i].status, 413);
                assert_header(&t->resp[i], "Connection", "close");
                assert_int_equal(t->rc[i], 0);
        }
        assert_body(&t->resp[0], "/huge 5000 ");
        ctx_free(t);
}

static void client_expect_continue(Test *t) {
        Client cl;

        client_connect(&cl, t->port);
        client_send_str(&cl, "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                             "Expect: 100-continue\r\n\r\n");
        /* The interim answer comes before any body byte was sent. */
        t->rc[0] = client_read_until(&cl, "\r\n\r\n", &t->raw);
        client_send_str(&cl, "hello");
        read_resp(t, &cl);
        client_close(&cl);
}

static void test_expect_continue(void **state) {
        Test *t = ctx_new();

        run(t, client_expect_continue);
        assert_int_equal(t->rc[0], 0);
        assert_string_equal(t->raw.data, "HTTP/1.1 100 Continue\r\n\r\n");
        assert_int_equal(t->n_req, 1);
        assert_int_equal(t->n_resp, 1);
        assert_int_equal(t->resp[0].status, 200);
        assert_body(&t->resp[0], "/up 5 hello");
        ctx_free(t);
}

static void client_pipelined(Test *t) {
        Client cl;

        client_connect(&cl, t->port);
        client_send_str(&cl, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                             "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
                             "POST /c HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
                             "GET /stream HTTP/1.1\r\n\r\n");
        read_resp(t, &cl);
        read_resp(t, &cl);
        read_resp(t, &cl);
        t->rc[0] = client_read_until(&cl, "0\r\n\r\n", &t->raw);
        client_close(&cl);
}

static void test_pipelined_in_order(void **state) {
        Test *t = ctx_new();

        t->defer_first = true; /* /a is answered later, from a timer */
        run(t, client_pipelined);
        assert_int_equal(t->n_req, 4);
        assert_string_equal(t->rec[0].path, "/a");
        assert_string_equal(t->rec[1].path, "/b");
        assert_string_equal(t->rec[2].path, "/c");
        assert_string_equal(t->rec[3].path, "/stream");
        /* One request at a time: /b reached the handler only after /a was answered. */
        assert_int_equal(t->rec[1].answered_before, 1);
        assert_int_equal(t->rec[2].answered_before, 2);
        assert_int_equal(t->rec[3].answered_before, 3);
        assert_int_equal(t->n_resp, 3);
        assert_body(&t->resp[0], "/a 0 ");
        assert_body(&t->resp[1], "/b 0 ");
        assert_body(&t->resp[2], "/c 3 xyz");
        assert_int_equal(t->rc[0], 0);
        assert_non_null(strstr(t->raw.data, "HTTP/1.1 200 OK\r\n"));
        assert_non_null(strstr(t->raw.data, "\r\nTransfer-Encoding: chunked\r\n"));
        assert_null(strstr(t->raw.data, "Content-Length"));
        const char *body = strstr(t->raw.data, "\r\n\r\n");
        assert_non_null(body);
        assert_string_equal(body + 4, "2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n");
        ctx_free(t);
}

static void client_abort(Test *t) {
        Client cl;

        client_connect(&cl, t->port);
        client_send_str(&cl, "GET /abort HTTP/1.1\r\n\r\nGET /a HTTP/1.1\r\n\r\n");
        t->rc[0] = client_read_until(&cl, "ab\r\n", &t->raw);
        t->rc[1] = client_wait_eof(&cl);
        client_close(&cl);
}

/* A chunked answer cut short: its chunks so far, no last chunk, then the connection closes
 * (the pipelined request is never answered). */
static void test_stream_abort(void **state) {
        Test *t = ctx_new();

        run(t, client_abort);
        assert_int_equal(t->rc[0], 0);
        assert_int_equal(t->rc[1], 0);
        assert_int_equal(t->n_req, 1);
        const char *body = strstr(t->raw.data, "\r\n\r\n");
        assert_non_null(body);
        assert_string_equal(body + 4, "2\r\nab\r\n");
        ctx_free(t);
}

static void client_malformed(Test *t) {
        Client cl;

        client_connect(&cl, t->port);
        client_send_str(&cl, "GARBAGE\r\n\r\n");
        read_resp(t, &cl);
        t->rc[0] = client_wait_eof(&cl);
        client_close(&cl);
        client_connect(&cl, t->port);
        client_send_str(&cl, "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n");
        read_resp(t, &cl);
        t->rc[1] = client_wait_eof(&cl);
        client_close(&cl);
}

static void test_malformed_request(void **state) {
        Test *t = ctx_new();

        run(t, client_malformed);
        assert_int_equal(t->n_req, 0);
        assert_int_equal(t->n_resp, 2);
        for (int i = 0; i < 2; i++) {
                assert_int_equal(t->resp[i].status, 400);
                assert_true(strncmp(t->resp[i].head.data, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
                assert_header(&t->resp[i], "Connection", "close");
                assert_header(&t->resp[i], "X-Amzn-ErrorType", "InvalidRequestContentException");
                const char *prefix = "{\"Type\":\"User\",\"Message\":\"Malformed HTTP request: ";
                assert_true(t->resp[i].body.len > strlen(prefix));
                assert_memory_equal(t->resp[i].body.data, prefix, strlen(prefix));
                assert_int_equal(t->rc[i], 0);
        }
        ctx_free(t);
}

static void client_stall(Test *t) {
        Client cl;

        client_connect(&cl, t->port);
        double start = now_ms();
        client_send_str(&cl, "GET /slow HTTP/1.1\r\nHost: h\r\n");
        t->rc[0] = client_wait_eof(&cl);
        t->elapsed_ms = now_ms() - start;
        client_close(&cl);
}

static void test_header_timeout(void **state) {
        Test *t = ctx_new();

        t->limits.header_timeout_ms = 150;
        run(t, client_stall);
        assert_int_equal(t->rc[0], 0); /* closed by the server, without an answer */
        assert_true(t->elapsed_ms >= 140);
        assert_true(t->elapsed_ms < 2500);
        assert_int_equal(t->n_req, 0);
        assert_int_equal(t->n_closed, 1);
        ctx_free(t);
}

static void client_take_body(Test *t) {
        Client cl;

        client_connect(&cl, t->port);
        client_send_str(&cl, "GET /take HTTP/1.1\r\n\r\n");
        read_resp(t, &cl);
        client_close(&cl);
}

static void test_respond_take_body(void **state) {
        Test *t = ctx_new();

        run(t, client_take_body);
        assert_int_equal(t->n_resp, 1);
        assert_int_equal(t->resp[0].status, 200);
        assert_header(&t->resp[0], "X-Test", "take");
        assert_header(&t->resp[0], "Content-Length", "200000");
        assert_int_equal(t->resp[0].body.len, 200000);
        for (size_t i = 0; i < 200000; i++) {
                if (t->resp[0].body.data[i] != (char) ('a' + i % 26))
                        fail_msg("byte %zu differs", i);
        }
        ctx_free(t);
}

static void client_connection_close(Test *t) {
        Client cl;

        /* Asked by the client. */
        client_connect(&cl, t->port);
        client_send_str(&cl, "GET /bye HTTP/1.1\r\nConnection: close\r\n\r\n");
        read_resp(t, &cl);
        t->rc[0] = client_wait_eof(&cl);
        client_close(&cl);
        /* HTTP/1.0 without keep-alive. */
        client_connect(&cl, t->port);
        client_send_str(&cl, "GET /old HTTP/1.0\r\n\r\n");
        read_resp(t, &cl);
        t->rc[1] = client_wait_eof(&cl);
        client_close(&cl);
        /* HTTP/1.0 with keep-alive stays open. */
        client_connect(&cl, t->port);
        client_send_str(&cl, "GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        read_resp(t, &cl);
        client_send_str(&cl, "GET /ka2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        read_resp(t, &cl);
        client_close(&cl);
        /* A request pipelined after "Connection: close" is not served. */
        client_connect(&cl, t->port);
        client_send_str(&cl, "GET /last HTTP/1.1\r\nConnection: close\r\n\r\n"
                             "GET /ignored HTTP/1.1\r\n\r\n");
        read_resp(t, &cl);
        t->rc[2] = client_wait_eof(&cl);
        client_close(&cl);
}

static void test_connection_close(void **state) {
        Test *t = ctx_new();

        run(t, client_connection_close);
        assert_int_equal(t->n_resp, 5);
        assert_body(&t->resp[0], "/bye 0 ");
        assert_header(&t->resp[0], "Connection", "close");
        assert_false(t->rec[0].keep_alive);
        assert_int_equal(t->rc[0], 0);
        assert_body(&t->resp[1], "/old 0 ");
        assert_header(&t->resp[1], "Connection", "close");
        assert_false(t->rec[1].keep_alive);
        assert_int_equal(t->rc[1], 0);
        assert_body(&t->resp[2], "/ka 0 ");
        assert_false(head_header(&t->resp[2].head, "Connection", NULL, 0));
        assert_true(t->rec[2].keep_alive);
        assert_body(&t->resp[3], "/ka2 0 ");
        assert_body(&t->resp[4], "/last 0 ");
        assert_header(&t->resp[4], "Connection", "close");
        assert_int_equal(t->rc[2], 0); /* nothing after the answer to /last */
        assert_int_equal(t->n_req, 5);
        assert_string_equal(t->rec[4].path, "/last");
        ctx_free(t);
}

static const char overload[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n"
                               "Connection: close\r\n\r\nbusy";

static void client_overload(Test *t) {
        Client a, b;

        client_connect(&a, t->port);
        client_send_str(&a, "GET /one HTTP/1.1\r\n\r\n");
        read_resp(t, &a); /* now the server holds one connection */
        client_connect(&b, t->port);
        t->rc[0] = client_read_until(&b, "busy", &t->raw);
        t->rc[1] = client_wait_eof(&b);
        client_close(&b);
        client_send_str(&a, "GET /two HTTP/1.1\r\n\r\n");
        read_resp(t, &a);
        client_close(&a);
}

static void test_max_connections(void **state) {
        Test *t = ctx_new();

        t->limits.max_connections = 1;
        t->overload = overload;
        run(t, client_overload);
        assert_int_equal(t->rc[0], 0);
        assert_string_equal(t->raw.data, overload);
        assert_int_equal(t->rc[1], 0);
        assert_int_equal(t->n_accepted, 1); /* the refused one never reached the owner */
        assert_int_equal(t->n_req, 2);
        assert_int_equal(t->n_resp, 2);
        assert_body(&t->resp[0], "/one 0 ");
        assert_body(&t->resp[1], "/two 0 ");
        ctx_free(t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_simple_get),
                cmocka_unit_test(test_content_length_body),
                cmocka_unit_test(test_chunked_body),
                cmocka_unit_test(test_body_pieces_and_trailers),
                cmocka_unit_test(test_too_many_headers),
                cmocka_unit_test(test_header_bytes_limit),
                cmocka_unit_test(test_body_over_limit_discarded),
                cmocka_unit_test(test_body_over_discard_closes),
                cmocka_unit_test(test_expect_continue),
                cmocka_unit_test(test_pipelined_in_order),
                cmocka_unit_test(test_stream_abort),
                cmocka_unit_test(test_malformed_request),
                cmocka_unit_test(test_header_timeout),
                cmocka_unit_test(test_respond_take_body),
                cmocka_unit_test(test_connection_close),
                cmocka_unit_test(test_max_connections),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
