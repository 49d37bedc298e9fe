/* SPDX-License-Identifier: Apache-2.0 */
/*
 * echo-server - the floor of bench/: the least an HTTP/1.1 keep-alive exchange over loopback
 * costs. One thread, one epoll set; every request is answered with 200 and its own body
 * (Content-Type: application/json). Requests are parsed by llhttp, as lemu's are, so the floor
 * contains the same parser and the same syscalls per request (one read, one write) and nothing
 * else.
 *
 * Pipelined requests are answered in order; while a response cannot be written in full the
 * connection stops reading (backpressure). A body over 6 MiB gets 413, a malformed request
 * 400, and both close the connection. A connection's buffers only grow, so a warm connection
 * allocates nothing per request.
 *
 * When ready it prints `listening on http://HOST:PORT` on stdout, as `lemu serve` does.
 * SIGINT or SIGTERM ends it with status 0.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <llhttp.h>

#include "floor-io.h"

#define READ_BUF_SIZE 65536
#define MAX_BODY      (6 * 1024 * 1024)
#define MAX_EVENTS    256

typedef struct Conn {
        int fd;
        bool is_listener;
        bool want_out;    /* waiting for EPOLLOUT, not reading */
        bool close_after; /* close once out is written */
        size_t out_off;   /* bytes of out already written */
        llhttp_t parser;
        Buf body;
        Buf out;
} Conn;

static int epfd;
static volatile sig_atomic_t stopping;
static char read_buf[READ_BUF_SIZE];

static void on_signal(int sig) {
        stopping = 1;
}

static void respond(Conn *c, int status, const char *reason, const char *body, size_t len,
                    bool close) {
        int n;

        buf_reserve(&c->out, 160 + len);
        n = snprintf(c->out.ptr + c->out.len, 160,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "%s\r\n",
                     status, reason, len, close ? "Connection: close\r\n" : "");
        c->out.len += (size_t) n;
        memcpy(c->out.ptr + c->out.len, body, len);
        c->out.len += len;
        if (close)
                c->close_after = true;
}

static int on_message_begin(llhttp_t *p) {
        Conn *c = p->data;

        c->body.len = 0;
        return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
        Conn *c = p->data;

        if (c->body.len + len > MAX_BODY) {
                respond(c, 413, "Payload Too Large", "{\"error\":\"body too large\"}", 26, true);
                return HPE_USER;
        }
        buf_append(&c->body, at, len);
        return 0;
}

static int on_message_complete(llhttp_t *p) {
        Conn *c = p->data;
        bool close = !llhttp_should_keep_alive(p);

        respond(c, 200, "OK", c->body.ptr ? c->body.ptr : "", c->body.len, close);
        return close ? HPE_PAUSED : 0;
}

static const llhttp_settings_t settings = {
        .on_message_begin = on_message_begin,
        .on_body = on_body,
        .on_message_complete = on_message_complete,
};

static void conn_free(Conn *c) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        free(c->body.ptr);
        free(c->out.ptr);
        free(c);
}

static void set_interest(Conn *c, bool want_out) {
        floor_interest(epfd, c->fd, c, &c->want_out, want_out);
}

/* Writes what is pending. Returns false when the connection was freed. */
static bool conn_flush(Conn *c) {
        int r = floor_write(c->fd, &c->out, &c->out_off);

        if (r == 0) {
                set_interest(c, true);
                return true;
        }
        if (r < 0 || c->close_after) {
                conn_free(c);
                return false;
        }
        set_interest(c, false);
        return true;
}

static void conn_read(Conn *c) {
        ssize_t n;
        llhttp_errno_t err;

        n = read(c->fd, read_buf, sizeof(read_buf));
        if (n < 0 && errno == EAGAIN)
                return;
        if (n <= 0) {
                conn_free(c);
                return;
        }
        err = llhttp_execute(&c->parser, read_buf, (size_t) n);
        if (err != HPE_OK && err != HPE_PAUSED && !c->close_after)
                respond(c, 400, "Bad Request", "{\"error\":\"bad request\"}", 23, true);
        /* After a close (HPE_PAUSED) the rest of the input is dropped. */
        conn_flush(c);
}

static void accept_all(Conn *listener) {
        for (;;) {
                struct epoll_event ev = { .events = EPOLLIN };
                int fd = floor_accept("echo-server", listener->fd);
                Conn *c;

                if (fd < 0)
                        return;
                c = calloc(1, sizeof(*c));
                if (!c)
                        abort();
                c->fd = fd;
                llhttp_init(&c->parser, HTTP_REQUEST, &settings);
                c->parser.data = c;
                ev.data.ptr = c;
                if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                        perror("echo-server: epoll_ctl");
                        close(fd);
                        free(c);
                }
        }
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "listen", required_argument, NULL, 'l' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        struct sigaction sa = { .sa_handler = on_signal };
        struct epoll_event events[MAX_EVENTS];
        const char *listen_at = "127.0.0.1:0";
        Conn listener = { .is_listener = true };
        char host[80];
        int ch, r;

        while ((ch = getopt_long(argc, argv, "l:h", longopts, NULL)) != -1) {
                if (ch == 'l') {
                        listen_at = optarg;
                } else {
                        fputs("Usage: echo-server [--listen IPV4:PORT]   (default 127.0.0.1:0)\n",
                              ch == 'h' ? stdout : stderr);
                        return ch == 'h' ? 0 : 2;
                }
        }
        if (optind != argc) {
                fputs("Usage: echo-server [--listen IPV4:PORT]   (default 127.0.0.1:0)\n", stderr);
                return 2;
        }
        r = floor_listen("echo-server", listen_at, &listener, &listener.fd, &epfd, host,
                         sizeof(host));
        if (r)
                return r;

        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        printf("listening on http://%s\n", host);
        fflush(stdout);

        while (!stopping) {
                int n = epoll_wait(epfd, events, MAX_EVENTS, -1);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        perror("echo-server: epoll_wait");
                        return 1;
                }
                for (int i = 0; i < n; i++) {
                        Conn *c = events[i].data.ptr;

                        if (c->is_listener)
                                accept_all(c);
                        else if (c->want_out)
                                conn_flush(c);
                        else
                                conn_read(c);
                }
        }
        return 0;
}
