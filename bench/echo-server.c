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
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <llhttp.h>

#define READ_BUF_SIZE 65536
#define MAX_BODY      (6 * 1024 * 1024)
#define MAX_EVENTS    256

typedef struct Buf {
        char *ptr;
        size_t len;
        size_t cap;
} Buf;

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

static void buf_reserve(Buf *b, size_t extra) {
        size_t cap;

        if (b->len + extra <= b->cap)
                return;
        cap = b->cap ? b->cap : 1024;
        while (cap < b->len + extra)
                cap *= 2;
        b->ptr = realloc(b->ptr, cap);
        if (!b->ptr)
                abort();
        b->cap = cap;
}

static void buf_append(Buf *b, const void *p, size_t len) {
        buf_reserve(b, len);
        memcpy(b->ptr + b->len, p, len);
        b->len += len;
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
        struct epoll_event ev = { .events = want_out ? EPOLLOUT : EPOLLIN, .data.ptr = c };

        if (c->want_out == want_out)
                return;
        c->want_out = want_out;
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes what is pending. Returns false when the connection was freed. */
static bool conn_flush(Conn *c) {
        while (c->out_off < c->out.len) {
                ssize_t n = write(c->fd, c->out.ptr + c->out_off, c->out.len - c->out_off);

                if (n < 0) {
                        if (errno == EAGAIN) {
                                set_interest(c, true);
                                return true;
                        }
                        conn_free(c);
                        return false;
                }
                c->out_off += (size_t) n;
        }
        c->out.len = 0;
        c->out_off = 0;
        if (c->close_after) {
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
                int one = 1, fd;
                Conn *c;

                fd = accept4(listener->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                                perror("echo-server: accept4");
                        return;
                }
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
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

static int parse_listen(const char *s, struct sockaddr_in *ret) {
        char host[64];
        const char *colon = strrchr(s, ':');
        unsigned long port;
        char *end;

        if (!colon || (size_t) (colon - s) >= sizeof(host))
                return -EINVAL;
        memcpy(host, s, (size_t) (colon - s));
        host[colon - s] = '\0';
        errno = 0;
        port = strtoul(colon + 1, &end, 10);
        if (errno || end == colon + 1 || *end || port > 65535)
                return -EINVAL;
        *ret = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        if (inet_pton(AF_INET, host, &ret->sin_addr) != 1)
                return -EINVAL;
        return 0;
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "listen", required_argument, NULL, 'l' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        struct sigaction sa = { .sa_handler = on_signal };
        struct epoll_event events[MAX_EVENTS];
        struct epoll_event ev = { .events = EPOLLIN };
        struct sockaddr_in addr;
        socklen_t addr_len = sizeof(addr);
        const char *listen_at = "127.0.0.1:0";
        Conn listener = { .is_listener = true };
        char host[INET_ADDRSTRLEN];
        int one = 1, ch;

        while ((ch = getopt_long(argc, argv, "l:h", longopts, NULL)) != -1) {
                if (ch == 'l') {
                        listen_at = optarg;
                } else {
                        fputs("Usage: echo-server [--listen IPV4:PORT]   (default 127.0.0.1:0)\n",
                              ch == 'h' ? stdout : stderr);
                        return ch == 'h' ? 0 : 2;
                }
        }
        if (optind != argc || parse_listen(listen_at, &addr) < 0) {
                fprintf(stderr, "echo-server: bad --listen '%s' (want IPV4:PORT)\n", listen_at);
                return 2;
        }

        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        listener.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (listener.fd < 0) {
                perror("echo-server: socket");
                return 1;
        }
        setsockopt(listener.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(listener.fd, (struct sockaddr *) &addr, sizeof(addr)) < 0 ||
            listen(listener.fd, 1024) < 0 ||
            getsockname(listener.fd, (struct sockaddr *) &addr, &addr_len) < 0) {
                fprintf(stderr, "echo-server: cannot listen on %s: %s\n", listen_at,
                        strerror(errno));
                return 1;
        }
        epfd = epoll_create1(EPOLL_CLOEXEC);
        ev.data.ptr = &listener;
        if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, listener.fd, &ev) < 0) {
                perror("echo-server: epoll");
                return 1;
        }
        inet_ntop(AF_INET, &addr.sin_addr, host, sizeof(host));
        printf("listening on http://%s:%u\n", host, ntohs(addr.sin_port));
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
