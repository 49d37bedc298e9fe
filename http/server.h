/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>
#include <llhttp.h>

#include "buf.h"
#include "list.h"

/*
 * A small HTTP/1.1 server on one libuv loop, shared by the Invoke API and every
 * environment's Runtime API. One request per connection is in progress at a time; pipelined
 * bytes wait (bounded) until its response is written. Everything the peer controls is limited
 * before it is stored: header bytes and count, body bytes (the rest is read and discarded so
 * the peer sees our answer instead of a broken pipe), connections, time to send headers.
 *
 * Ownership: a request and its slices live until the response to it is sent (or the
 * connection closes). A connection is freed only in its close callback, after ops->closed
 * told the owner to drop its references.
 */

#define HTTP_MAX_HEADERS_HARD 1000

typedef struct HttpServer HttpServer;
typedef struct HttpConn HttpConn;

typedef struct HttpHeader {
        Slice name;
        Slice value;
} HttpHeader;

typedef struct HttpRequest {
        llhttp_method_t method;
        Slice url;   /* path and query, as sent */
        Slice path;  /* before '?' */
        Slice query; /* after '?', empty when none */
        HttpHeader *headers;
        size_t n_headers;
        Buf body;            /* at most the body limit; may be stolen by the handler */
        uint64_t body_bytes; /* every body byte received, kept or not */
        bool body_too_large; /* body_bytes exceeded the limit; body holds a prefix */
        bool keep_alive;
        size_t trailer_start; /* headers[trailer_start..n_headers) came after a chunked body */
        /* private */
        Buf raw;         /* header names and values, NUL-separated */
        size_t *hdr_off; /* pairs of offsets into raw */
        size_t n_hdr_alloc;
        size_t url_off, url_len;
} HttpRequest;

typedef struct HttpServerOps {
        /* Headers are complete: the most body bytes to keep. Required. */
        uint64_t (*body_limit)(HttpConn *c, HttpRequest *req);
        /* The whole request has arrived; answer now or later with http_respond(). Required. */
        void (*request)(HttpConn *c, HttpRequest *req);
        /* The connection is going away; drop every pointer to it. Optional. */
        void (*closed)(HttpConn *c);
        /* A new connection was accepted; return false to close it without an answer. Optional. */
        bool (*accepted)(HttpServer *s, HttpConn *c);
        /* Renders the answer to a malformed request (@status 400, 413 or 431; @reason names
         * the fault) with http_respond(). Optional: a generic JSON answer otherwise. */
        void (*malformed)(HttpConn *c, int status, const char *reason);
        /* An answer (or a stream's head or end) is about to be written: what the owner has
         * buffered that the peer may look for once it has the answer (log lines) goes first.
         * Optional. */
        void (*before_answer)(HttpConn *c);
} HttpServerOps;

typedef struct HttpLimits {
        unsigned max_connections; /* 0: none */
        unsigned max_header_bytes;
        unsigned max_headers;
        uint64_t header_timeout_ms; /* 0: none; runs from a request's first byte to its headers */
        uint64_t body_timeout_ms;   /* 0: none; the longest wait for more body bytes */
        uint64_t discard_max;       /* past the body limit, read at most this much more */
} HttpLimits;

struct HttpServer {
        uv_loop_t *loop;
        uv_tcp_t tcp;
        const HttpServerOps *ops;
        void *data; /* the owner's */
        HttpLimits limits;
        llhttp_settings_t settings;
        ListNode conns;
        unsigned n_conns;
        bool listening;
        bool closing;
        void (*close_cb)(HttpServer *s);
        /* Canned answer when max_connections is reached (a full HTTP response). */
        const char *overload_response;
};

struct HttpConn {
        uv_tcp_t tcp;
        HttpServer *server;
        ListNode link;
        llhttp_t parser;
        HttpRequest req;
        uv_timer_t timer;
        Buf pending; /* bytes received while a request was in progress */
        uint64_t body_limit;
        void *data;     /* the owner's, per connection (e.g. a parked invocation) */
        pid_t peer_pid; /* the process at the other end, when the owner found it; else 0 */
        /* Called first when the connection closes, if set (an owner other than ops). */
        void (*owner_closed)(HttpConn *c);
        unsigned in_flight_writes;
        bool in_request;        /* a request is being parsed */
        bool awaiting_response; /* a complete request waits for http_respond() */
        bool header_done;
        bool closing;
        bool close_after_write;
        bool peer_eof;
        bool reading;
        bool streaming;   /* a chunked response is under way */
        bool read_paused; /* the owner stopped reading (http_conn_pause) */
        /* Set by ops->body_limit() to take the body piece by piece as it arrives, instead of
         * keeping it in req->body; @at is borrowed for the call. Cleared per request. */
        void (*body_cb)(HttpConn *c, const char *at, size_t len);
        /* Called when one of the connection's writes has gone to the kernel (backpressure). */
        void (*written_cb)(HttpConn *c);
        const char *bad_reason; /* set when the request is malformed */
        bool body_timer;        /* the timer watches a stalled request body */
        bool lingering;         /* after a closing answer, the peer's last bytes are drained */
        uint64_t lingered;      /* bytes drained so far */
        uv_shutdown_t shutdown_req;
};

/* http_server_init() - @ops and @limits are borrowed and must outlive the server. */
void http_server_init(HttpServer *s, uv_loop_t *loop, const HttpServerOps *ops,
                      const HttpLimits *limits, void *data);
/* http_server_listen() - binds and listens on @addr. Return: 0 or a negative errno. */
int http_server_listen(HttpServer *s, const struct sockaddr *addr, int backlog);
/* http_server_open() - listens on a bound socket @fd, which the server takes over. */
int http_server_open(HttpServer *s, int fd, int backlog);
/* http_server_close() - stops listening, closes every connection; @cb runs when all are gone. */
void http_server_close(HttpServer *s, void (*cb)(HttpServer *s));
/* Stops accepting new connections; existing ones go on. */
void http_server_stop_listening(HttpServer *s);
int http_server_port(HttpServer *s);

/* Looks a header up, case-insensitively. Return: true and the value, or false. */
bool http_header(const HttpRequest *req, const char *name, Slice *ret_value);
/* Looks a trailer (a field after a chunked body) up; valid in ops->request(). */
bool http_trailer(const HttpRequest *req, const char *name, Slice *ret_value);

/*
 * http_respond() - sends a complete response to the request in progress.
 * @headers: extra header lines, each "Name: value\r\n" (borrowed; may be NULL).
 * @body: borrowed when @take_body is false (copied), else taken over and free()d later.
 * Content-Length and Connection are added here.
 */
void http_respond(HttpConn *c, int status, const char *headers, const char *body, size_t len,
                  bool take_body);

/* A chunked response: head, chunks, end. @headers as above; data is copied. */
void http_stream_begin(HttpConn *c, int status, const char *headers);
void http_stream_write(HttpConn *c, const void *data, size_t len);
void http_stream_end(HttpConn *c);
/* http_stream_abort() - ends a chunked response without its last chunk: the chunks written
 * so far go out, then the connection closes (a truncated body, as the peer sees it). */
void http_stream_abort(HttpConn *c);

/* http_conn_pause() - stops (@pause) or resumes reading from the peer: backpressure on a
 * body taken through body_cb. Bytes already read are still delivered. */
void http_conn_pause(HttpConn *c, bool pause);
/* Bytes written to the connection that the kernel has not taken yet. */
size_t http_conn_write_queue(const HttpConn *c);

/* Closes a connection without an answer (e.g. a foreign peer). Safe to call twice. */
void http_conn_close(HttpConn *c);

const char *http_status_text(int status);

/* Appends "Name: value\r\n". */
void http_add_header(Buf *b, const char *name, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
