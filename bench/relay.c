/* SPDX-License-Identifier: Apache-2.0 */
/*
 * relay - the relay floor of bench/: the least any Invoke-API-to-Runtime-API emulator must
 * do. One thread, one epoll set, one port for both sides. It spawns N copies of a runtime
 * (`--runtimes N BOOTSTRAP`, with AWS_LAMBDA_RUNTIME_API pointing at itself), and then:
 *
 *   client POST (any path)            -> queued, or handed to a runtime waiting in GET /next
 *   runtime GET .../invocation/next   -> answered with a queued invoke, or kept waiting
 *   runtime POST .../ID/response      -> 202 to the runtime, 200 + its body to the client
 *
 * Nothing else: no sandbox, no timers, no logs, no bookkeeping beyond the two queues. The
 * request id is a counter; a runtime answers on the connection it asked on, so no lookup.
 * Requests are parsed by llhttp, as lemu's are. Buffers only grow, so a warm exchange
 * allocates nothing.
 *
 * When every runtime waits in /next it prints `listening on http://HOST:PORT` on stdout, as
 * `lemu serve` does. SIGINT or SIGTERM ends it: the runtimes get SIGKILL and are reaped. A
 * runtime that exits is reported on stderr and makes the relay exit 1.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <llhttp.h>

#include "floor-io.h"

#define READ_BUF_SIZE 65536
#define MAX_BODY      (6 * 1024 * 1024)
#define MAX_EVENTS    256
#define MAX_RUNTIMES  1024
#define NEXT_SUFFIX   "/runtime/invocation/next"
#define RESP_SUFFIX   "/response"

typedef enum { KIND_UNKNOWN, KIND_CLIENT, KIND_RUNTIME } Kind;

typedef struct Conn Conn;
struct Conn {
        int fd;
        bool is_listener;
        bool want_out;
        bool close_after;
        bool dead; /* closed; freed when nothing points at it */
        Kind kind;
        size_t out_off;
        llhttp_t parser;
        Buf url;
        Buf body;
        Buf out;
        Conn *peer;      /* client <-> runtime while an invocation is in flight */
        Conn *next_q;    /* in the waiting-runtime or pending-invoke queue */
        Conn *next_dead; /* closed this round: freed after the round's events */
};

static int epfd;
static volatile sig_atomic_t stopping;
static char read_buf[READ_BUF_SIZE];
static unsigned long long next_id;
static Conn *idle_head, *idle_tail;       /* runtimes waiting in /next */
static Conn *pending_head, *pending_tail; /* invokes waiting for a runtime */
static unsigned waiting_runtimes;
static Conn *dead_list;

static void on_signal(int sig) {
        (void) sig;
        stopping = 1;
}

static void q_push(Conn **head, Conn **tail, Conn *c) {
        c->next_q = NULL;
        if (*tail)
                (*tail)->next_q = c;
        else
                *head = c;
        *tail = c;
}

static Conn *q_pop(Conn **head, Conn **tail) {
        Conn *c = *head;

        if (c) {
                *head = c->next_q;
                if (!*head)
                        *tail = NULL;
        }
        return c;
}

static void q_remove(Conn **head, Conn **tail, Conn *c) {
        Conn *prev = NULL;

        for (Conn *i = *head; i; prev = i, i = i->next_q) {
                if (i != c)
                        continue;
                if (prev)
                        prev->next_q = c->next_q;
                else
                        *head = c->next_q;
                if (*tail == c)
                        *tail = prev;
                return;
        }
}

static void set_interest(Conn *c, bool want_out) {
        floor_interest(epfd, c->fd, c, &c->want_out, want_out);
}

static void conn_close(Conn *c) {
        if (c->dead)
                return;
        c->dead = true;
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        if (c->peer)
                c->peer->peer = NULL;
        c->peer = NULL;
        if (c->kind == KIND_RUNTIME && !stopping) {
                fputs("relay: a runtime closed its connection\n", stderr);
                stopping = 2;
        }
        q_remove(&idle_head, &idle_tail, c);
        q_remove(&pending_head, &pending_tail, c);
        c->next_dead = dead_list;
        dead_list = c;
}

/* Frees the connections closed this round, once no event of the round can name them. */
static void free_dead(void) {
        while (dead_list) {
                Conn *c = dead_list;
                dead_list = c->next_dead;
                free(c->url.ptr);
                free(c->body.ptr);
                free(c->out.ptr);
                free(c);
        }
}

/* Writes what is pending; false when the connection was closed. */
static bool conn_flush(Conn *c) {
        int r = floor_write(c->fd, &c->out, &c->out_off);

        if (r == 0) {
                set_interest(c, true);
                return true;
        }
        if (r < 0 || c->close_after) {
                conn_close(c);
                return false;
        }
        set_interest(c, false);
        return true;
}

/* Appends a response head and body to @c's output (written by conn_flush()). */
static void put_response(Conn *c, const char *status, const char *extra, const char *body,
                         size_t len) {
        buf_reserve(&c->out, 256 + len);
        c->out.len += (size_t) snprintf(c->out.ptr + c->out.len, 256,
                                        "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
                                        "Content-Length: %zu\r\n%s\r\n",
                                        status, len, extra);
        memcpy(c->out.ptr + c->out.len, body, len);
        c->out.len += len;
}

/* Gives the invoke of @client to the waiting runtime @rt: its /next answer. */
static void hand_over(Conn *client, Conn *rt) {
        char extra[160];

        snprintf(extra, sizeof(extra),
                 "Lambda-Runtime-Aws-Request-Id: %016llx\r\n"
                 "Lambda-Runtime-Deadline-Ms: 9999999999999\r\n",
                 ++next_id);
        client->peer = rt;
        rt->peer = client;
        put_response(rt, "200 OK", extra, client->body.ptr ? client->body.ptr : "",
                     client->body.len);
        conn_flush(rt);
}

static bool ends_with(const Buf *b, const char *s) {
        size_t n = strlen(s);

        return b->len >= n && memcmp(b->ptr + b->len - n, s, n) == 0;
}

static int on_message_begin(llhttp_t *p) {
        Conn *c = p->data;

        c->url.len = 0;
        c->body.len = 0;
        return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
        Conn *c = p->data;

        if (c->url.len + len > 4096)
                return HPE_USER;
        buf_append(&c->url, at, len);
        return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
        Conn *c = p->data;

        if (c->body.len + len > MAX_BODY)
                return HPE_USER;
        buf_append(&c->body, at, len);
        return 0;
}

static int on_message_complete(llhttp_t *p) {
        Conn *c = p->data;
        bool is_get = llhttp_get_method(p) == HTTP_GET;

        if (c->kind == KIND_UNKNOWN)
                c->kind = is_get && ends_with(&c->url, NEXT_SUFFIX) ? KIND_RUNTIME : KIND_CLIENT;
        if (!llhttp_should_keep_alive(p)) {
                put_response(c, "400 Bad Request", "Connection: close\r\n", "{}", 2);
                c->close_after = true;
                return HPE_PAUSED;
        }
        if (c->kind == KIND_CLIENT) {
                Conn *rt = q_pop(&idle_head, &idle_tail);
                if (rt)
                        hand_over(c, rt);
                else
                        q_push(&pending_head, &pending_tail, c);
        } else if (is_get) {
                Conn *client = q_pop(&pending_head, &pending_tail);
                waiting_runtimes += !client;
                if (client)
                        hand_over(client, c);
                else
                        q_push(&idle_head, &idle_tail, c);
        } else if (ends_with(&c->url, RESP_SUFFIX)) {
                Conn *client = c->peer;
                put_response(c, "202 Accepted", "", "{\"status\":\"OK\"}", 15);
                if (client) {
                        client->peer = NULL;
                        c->peer = NULL;
                        put_response(client, "200 OK", "", c->body.ptr ? c->body.ptr : "",
                                     c->body.len);
                        conn_flush(client);
                }
        } else {
                put_response(c, "404 Not Found", "", "{}", 2);
        }
        return 0;
}

static const llhttp_settings_t settings = {
        .on_message_begin = on_message_begin,
        .on_url = on_url,
        .on_body = on_body,
        .on_message_complete = on_message_complete,
};

static void conn_read(Conn *c) {
        ssize_t n = read(c->fd, read_buf, sizeof(read_buf));
        llhttp_errno_t err;

        if (n < 0 && errno == EAGAIN)
                return;
        if (n <= 0) {
                conn_close(c);
                return;
        }
        err = llhttp_execute(&c->parser, read_buf, (size_t) n);
        if (err != HPE_OK && err != HPE_PAUSED && !c->close_after) {
                put_response(c, "400 Bad Request", "Connection: close\r\n", "{}", 2);
                c->close_after = true;
        }
        if (!c->dead)
                conn_flush(c);
}

static void accept_all(Conn *listener) {
        for (;;) {
                struct epoll_event ev = { .events = EPOLLIN };
                int fd = floor_accept("relay", listener->fd);
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
                        perror("relay: epoll_ctl");
                        close(fd);
                        free(c);
                }
        }
}

static pid_t children[MAX_RUNTIMES];
static int n_children;

static void stop_children(void) {
        for (int i = 0; i < n_children; i++)
                kill(children[i], SIGKILL);
        for (int i = 0; i < n_children; i++)
                waitpid(children[i], NULL, 0);
        n_children = 0;
}

static void usage(FILE *f) {
        fputs("Usage: relay [--listen IPV4:PORT] [--runtimes N] BOOTSTRAP\n"
              "  Spawns N (default 1) copies of BOOTSTRAP with AWS_LAMBDA_RUNTIME_API set to\n"
              "  the relay and relays every POST to one of them (see bench/README.md).\n",
              f);
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "listen", required_argument, NULL, 'l' },
                { "runtimes", required_argument, NULL, 'n' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        struct sigaction sa = { .sa_handler = on_signal };
        struct epoll_event events[MAX_EVENTS];
        const char *listen_at = "127.0.0.1:0";
        Conn listener = { .is_listener = true };
        char api[80];
        int ch, r, runtimes = 1;
        bool announced = false;

        while ((ch = getopt_long(argc, argv, "l:n:h", longopts, NULL)) != -1) {
                if (ch == 'l') {
                        listen_at = optarg;
                } else if (ch == 'n') {
                        runtimes = atoi(optarg);
                        if (runtimes < 1 || runtimes > MAX_RUNTIMES) {
                                fprintf(stderr, "relay: --runtimes wants 1..%d\n", MAX_RUNTIMES);
                                return 2;
                        }
                } else {
                        usage(ch == 'h' ? stdout : stderr);
                        return ch == 'h' ? 0 : 2;
                }
        }
        if (optind != argc - 1) {
                usage(stderr);
                return 2;
        }
        r = floor_listen("relay", listen_at, &listener, &listener.fd, &epfd, api, sizeof(api));
        if (r)
                return r;

        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        setenv("AWS_LAMBDA_RUNTIME_API", api, 1);
        for (int i = 0; i < runtimes; i++) {
                pid_t pid = fork();
                if (pid < 0) {
                        perror("relay: fork");
                        stop_children();
                        return 1;
                }
                if (pid == 0) {
                        execl(argv[optind], argv[optind], (char *) NULL);
                        fprintf(stderr, "relay: cannot run %s: %s\n", argv[optind],
                                strerror(errno));
                        _exit(127);
                }
                children[n_children++] = pid;
        }

        while (!stopping) {
                int n = epoll_wait(epfd, events, MAX_EVENTS, 1000);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        perror("relay: epoll_wait");
                        break;
                }
                for (int i = 0; i < n; i++) {
                        Conn *c = events[i].data.ptr;

                        if (c->is_listener)
                                accept_all(c);
                        else if (c->dead)
                                continue;
                        else if (c->want_out)
                                conn_flush(c);
                        else
                                conn_read(c);
                }
                free_dead();
                if (!announced && waiting_runtimes >= (unsigned) runtimes) {
                        printf("listening on http://%s\n", api);
                        fflush(stdout);
                        announced = true;
                }
                if (!announced && waitpid(-1, NULL, WNOHANG) > 0) {
                        fputs("relay: a runtime exited before its first /next\n", stderr);
                        stopping = 2;
                }
        }
        stop_children();
        return stopping == 2 ? 1 : 0;
}
