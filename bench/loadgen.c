/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loadgen - a closed-loop keep-alive HTTP/1.1 load client for bench/.
 *
 * N connections (the concurrency) each send `POST PATH` with a fixed body and wait for the
 * whole response before sending the next (after --pause-ms, when given), for a duration or a
 * request count, after a warm-up whose requests are not recorded. One thread, one epoll set,
 * level-triggered. Responses are parsed by llhttp (Content-Length, chunked, read-until-close); a
 * response that asks for `Connection: close` or a broken connection makes that slot reconnect.
 *
 * Latency runs from the write() of a request to the read() that completed its response,
 * CLOCK_MONOTONIC in ns, recorded in a log-linear histogram (128 sub-buckets per power of two,
 * so a percentile is within 0.4 % of the true value). A request belongs to the measurement
 * when it was sent inside the measured window; in-flight requests are drained at the end.
 * Nothing is allocated per request: all memory is sized at start.
 *
 * Output: one JSON line on stdout,
 *   {"concurrency":..,"requests":..,"errors":..,"seconds":..,"rps":..,"p50_us":..,
 *    "p99_us":..,"max_us":..,...}
 * where requests counts 2xx answers, errors counts everything else (non-2xx, 2xx with
 * X-Amz-Function-Error as Lambda sends for a function error, broken or
 * refused connections, timeouts). The first few errors are described on stderr.
 * Exit status: 0 when the run completed (errors or not), 2 on bad usage, 1 when it could not
 * run at all.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <llhttp.h>

#define READ_BUF_SIZE      16384
#define ERR_BODY_MAX       160
#define ERRORS_REPORTED    5
#define RECONNECT_DELAY_NS (10 * 1000 * 1000ULL)
#define TICK_MS            10

#define NS_PER_S           1000000000ULL
#define NS_PER_US          1000ULL

/* Log-linear histogram: values below 2^SUB_BITS have their own bucket; above, each power of
 * two is split into 2^(SUB_BITS-1) buckets. */
#define SUB_BITS   8
#define SUB_COUNT  (1U << SUB_BITS)
#define HALF_COUNT (SUB_COUNT / 2)
#define N_BUCKETS  (SUB_COUNT + (64 - SUB_BITS) * HALF_COUNT)

typedef struct Hist {
        uint64_t counts[N_BUCKETS];
        uint64_t total;
        uint64_t max;
        uint64_t sum;
} Hist;

typedef enum ConnState {
        CONN_IDLE,       /* no socket; reconnect at retry_at */
        CONN_CONNECTING, /* non-blocking connect in progress */
        CONN_SENDING,    /* request partly written */
        CONN_WAITING,    /* request written, response not complete */
        CONN_READY,      /* connected, nothing in flight */
} ConnState;

typedef struct Conn {
        int fd;
        unsigned id;
        ConnState state;
        bool want_out;       /* EPOLLOUT is in the interest set */
        bool complete;       /* the response finished in this read */
        bool keep_alive;     /* as the finished response said */
        bool measured;       /* the request in flight was sent in the measured window */
        bool function_error; /* the response carries X-Amz-Function-Error */
        size_t field_len;    /* bytes of the current header name seen, kept in field */
        size_t sent;         /* request bytes written */
        uint64_t start_ns;   /* when the request in flight was first written */
        uint64_t retry_at;   /* CONN_IDLE: when to reconnect */
        uint64_t send_at;    /* CONN_READY after a response: when the pause ends (0: none) */
        size_t err_len;      /* bytes of err_body kept */
        llhttp_t parser;
        char err_body[ERR_BODY_MAX];
        char field[24];
} Conn;

typedef struct Options {
        struct sockaddr_in addr;
        const char *host;
        const char *path;
        const char *body;
        const char *header; /* one more request header line, or NULL */
        unsigned concurrency;
        double duration_s;
        double warmup_s;
        double timeout_s;
        uint64_t pause_ns;     /* between a response and the next request on a connection */
        uint64_t max_requests; /* 0: run for duration_s */
} Options;

typedef struct Run {
        Options opt;
        int epfd;
        Conn *conns;
        char *request;
        size_t request_len;
        uint64_t measure_start;   /* end of warm-up */
        uint64_t measure_end;     /* no request is sent from here on */
        uint64_t last_done;       /* completion time of the last measured request */
        uint64_t issued;          /* measured requests sent */
        uint64_t ok;              /* measured 2xx answers */
        uint64_t non2xx;          /* measured non-2xx answers */
        uint64_t function_errors; /* measured 2xx answers with X-Amz-Function-Error */
        uint64_t io_errors;       /* measured requests lost to a broken connection */
        uint64_t timeouts;        /* measured requests past the timeout */
        uint64_t connect_errors;  /* failed connects in the measured window */
        uint64_t reconnects;      /* connections closed by either side and reopened */
        uint64_t warmup_requests;
        unsigned reported;
        Hist hist;
        char read_buf[READ_BUF_SIZE];
} Run;

static volatile sig_atomic_t interrupted;

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * NS_PER_S + (uint64_t) ts.tv_nsec;
}

static unsigned hist_index(uint64_t v) {
        unsigned e;

        if (v < SUB_COUNT)
                return (unsigned) v;
        e = 63U - (unsigned) __builtin_clzll(v); /* >= SUB_BITS */
        return SUB_COUNT + (e - SUB_BITS) * HALF_COUNT +
               (unsigned) ((v >> (e - SUB_BITS + 1)) - HALF_COUNT);
}

/* The middle of bucket i, the value a percentile in it is reported as. */
static double hist_value(unsigned i) {
        unsigned e, m;
        uint64_t low, width;

        if (i < SUB_COUNT)
                return i;
        e = (i - SUB_COUNT) / HALF_COUNT + SUB_BITS;
        m = (i - SUB_COUNT) % HALF_COUNT + HALF_COUNT;
        low = (uint64_t) m << (e - SUB_BITS + 1);
        width = 1ULL << (e - SUB_BITS + 1);
        return (double) low + (double) (width - 1) / 2.0;
}

static void hist_record(Hist *h, uint64_t v) {
        h->counts[hist_index(v)]++;
        h->total++;
        h->sum += v;
        if (v > h->max)
                h->max = v;
}

static double hist_percentile(const Hist *h, double p) {
        uint64_t rank, seen = 0;
        double v;

        if (h->total == 0)
                return 0;
        rank = (uint64_t) (p * (double) h->total + 0.999999);
        if (rank == 0)
                rank = 1;
        for (unsigned i = 0; i < N_BUCKETS; i++) {
                seen += h->counts[i];
                if (seen >= rank) {
                        v = hist_value(i);
                        return v > (double) h->max ? (double) h->max : v;
                }
        }
        return (double) h->max;
}

static void on_signal(int sig) {
        interrupted = 1;
}

/* Describes one of the first few errors on stderr; the rest are only counted. */
static void report(Run *run, const Conn *c, const char *what, int err) {
        if (run->reported >= ERRORS_REPORTED)
                return;
        run->reported++;
        if (err)
                fprintf(stderr, "loadgen: connection %u: %s: %s\n", c->id, what, strerror(err));
        else
                fprintf(stderr, "loadgen: connection %u: %s\n", c->id, what);
}

static void epoll_set(Run *run, Conn *c, bool want_out) {
        struct epoll_event ev = { .events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c };

        if (c->want_out == want_out)
                return;
        c->want_out = want_out;
        if (epoll_ctl(run->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
                perror("loadgen: epoll_ctl");
                exit(1);
        }
}

static void conn_close(Run *run, Conn *c, uint64_t retry_at) {
        if (c->fd >= 0) {
                epoll_ctl(run->epfd, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
        }
        c->fd = -1;
        c->state = CONN_IDLE;
        c->retry_at = retry_at;
        c->send_at = 0;
}

/* Counts a request that got no usable answer. */
static void fail_request(Run *run, Conn *c) {
        if (c->measured)
                run->io_errors++;
}

static void conn_connect(Run *run, Conn *c) {
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
        int one = 1, fd, r;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                perror("loadgen: socket");
                exit(1);
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->fd = fd;
        c->want_out = true;
        if (epoll_ctl(run->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                perror("loadgen: epoll_ctl");
                exit(1);
        }
        llhttp_reset(&c->parser);
        r = connect(fd, (const struct sockaddr *) &run->opt.addr, sizeof(run->opt.addr));
        if (r < 0 && errno != EINPROGRESS) {
                if (now_ns() >= run->measure_start)
                        run->connect_errors++;
                report(run, c, "connect", errno);
                conn_close(run, c, now_ns() + RECONNECT_DELAY_NS);
                return;
        }
        c->state = CONN_CONNECTING;
}

/* Writes (the rest of) the request; a fresh request gets its start time here. */
static void conn_send(Run *run, Conn *c, uint64_t now) {
        ssize_t n;

        if (c->state == CONN_READY) {
                if (c->send_at > now)
                        return; /* pausing: the main loop sends when the pause ends */
                c->send_at = 0;
                if (now >= run->measure_end || interrupted) {
                        epoll_set(run, c, false);
                        return;
                }
                if (run->opt.max_requests && now >= run->measure_start &&
                    run->issued >= run->opt.max_requests) {
                        epoll_set(run, c, false);
                        return;
                }
                c->state = CONN_SENDING;
                c->sent = 0;
                c->start_ns = now;
                c->measured = now >= run->measure_start;
                if (c->measured)
                        run->issued++;
                else
                        run->warmup_requests++;
        }
        n = write(c->fd, run->request + c->sent, run->request_len - c->sent);
        if (n < 0) {
                if (errno == EAGAIN) {
                        epoll_set(run, c, true);
                        return;
                }
                report(run, c, "write", errno);
                fail_request(run, c);
                conn_close(run, c, now);
                return;
        }
        c->sent += (size_t) n;
        if (c->sent < run->request_len) {
                epoll_set(run, c, true);
                return;
        }
        c->state = CONN_WAITING;
        epoll_set(run, c, false);
}

static void finish_response(Run *run, Conn *c, uint64_t now) {
        int status = c->parser.status_code;

        if (c->measured) {
                if (status >= 200 && status < 300 && c->function_error) {
                        run->function_errors++;
                        run->last_done = now;
                        if (run->reported < ERRORS_REPORTED) {
                                char what[ERR_BODY_MAX + 48];

                                snprintf(what, sizeof(what), "status %d, function error: %.*s",
                                         status, (int) c->err_len, c->err_body);
                                report(run, c, what, 0);
                        }
                } else if (status >= 200 && status < 300) {
                        run->ok++;
                        hist_record(&run->hist, now - c->start_ns);
                        run->last_done = now;
                } else {
                        run->non2xx++;
                        run->last_done = now;
                        if (run->reported < ERRORS_REPORTED) {
                                char what[ERR_BODY_MAX + 32];

                                snprintf(what, sizeof(what), "status %d: %.*s", status,
                                         (int) c->err_len, c->err_body);
                                report(run, c, what, 0);
                        }
                }
        }
}

static int on_message_begin(llhttp_t *p) {
        Conn *c = p->data;

        c->function_error = false;
        c->field_len = 0;
        c->err_len = 0;
        return 0;
}

/* Lambda answers a function error with 200 and X-Amz-Function-Error: that is an error here. */
static int on_header_field(llhttp_t *p, const char *at, size_t len) {
        Conn *c = p->data;

        if (c->field_len + len <= sizeof(c->field))
                memcpy(c->field + c->field_len, at, len);
        c->field_len += len;
        return 0;
}

static int on_header_field_complete(llhttp_t *p) {
        static const char name[] = "X-Amz-Function-Error";
        Conn *c = p->data;

        if (c->field_len == sizeof(name) - 1 && strncasecmp(c->field, name, c->field_len) == 0)
                c->function_error = true;
        c->field_len = 0;
        return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
        Conn *c = p->data;
        size_t room = ERR_BODY_MAX - c->err_len;

        if (p->status_code >= 200 && p->status_code < 300 && !c->function_error)
                return 0;
        if (len > room)
                len = room;
        memcpy(c->err_body + c->err_len, at, len);
        c->err_len += len;
        return 0;
}

static int on_message_complete(llhttp_t *p) {
        Conn *c = p->data;

        c->complete = true;
        c->keep_alive = llhttp_should_keep_alive(p);
        return HPE_PAUSED;
}

static void conn_read(Run *run, Conn *c) {
        ssize_t n;
        uint64_t now;
        llhttp_errno_t err;

        n = read(c->fd, run->read_buf, sizeof(run->read_buf));
        now = now_ns();
        if (n < 0 && errno == EAGAIN)
                return;
        if (n <= 0) {
                if (c->state == CONN_WAITING || c->state == CONN_SENDING) {
                        /* A body delimited by EOF ends here. */
                        c->complete = false;
                        if (n == 0)
                                (void) llhttp_finish(&c->parser);
                        if (n == 0 && c->complete) {
                                finish_response(run, c, now);
                        } else {
                                report(run, c,
                                       n == 0 ? "connection closed before the response ended"
                                              : "read",
                                       n == 0 ? 0 : errno);
                                fail_request(run, c);
                        }
                }
                run->reconnects++;
                conn_close(run, c, now);
                return;
        }
        if (c->state != CONN_WAITING) {
                report(run, c, "unexpected bytes from the server", 0);
                fail_request(run, c);
                conn_close(run, c, now);
                return;
        }

        c->complete = false;
        err = llhttp_execute(&c->parser, run->read_buf, (size_t) n);
        if (err == HPE_PAUSED) {
                /* Anything after the response is a protocol error: we sent one request. */
                if (llhttp_get_error_pos(&c->parser) != run->read_buf + n) {
                        report(run, c, "bytes after the response", 0);
                        c->keep_alive = false;
                }
                llhttp_resume(&c->parser);
        } else if (err != HPE_OK) {
                char what[128];

                snprintf(what, sizeof(what), "bad response: %s",
                         llhttp_get_error_reason(&c->parser));
                report(run, c, what, 0);
                fail_request(run, c);
                run->reconnects++;
                conn_close(run, c, now);
                return;
        }
        if (!c->complete)
                return;

        finish_response(run, c, now);
        if (!c->keep_alive) {
                run->reconnects++;
                conn_close(run, c, now);
                return;
        }
        c->state = CONN_READY;
        if (run->opt.pause_ns) {
                c->send_at = now + run->opt.pause_ns;
                epoll_set(run, c, false);
                return;
        }
        conn_send(run, c, now);
}

static void conn_event(Run *run, Conn *c, uint32_t events, uint64_t now) {
        if (c->state == CONN_CONNECTING) {
                int err = 0;
                socklen_t len = sizeof(err);

                if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
                        return;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err) {
                        if (now >= run->measure_start)
                                run->connect_errors++;
                        report(run, c, "connect", err);
                        conn_close(run, c, now + RECONNECT_DELAY_NS);
                        return;
                }
                c->state = CONN_READY;
                conn_send(run, c, now);
                return;
        }
        if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                conn_read(run, c);
                return;
        }
        if ((events & EPOLLOUT) && (c->state == CONN_SENDING || c->state == CONN_READY))
                conn_send(run, c, now);
}

/* Request timeouts and reconnects. */
static void tick(Run *run, uint64_t now) {
        uint64_t timeout_ns = (uint64_t) (run->opt.timeout_s * (double) NS_PER_S);

        for (unsigned i = 0; i < run->opt.concurrency; i++) {
                Conn *c = &run->conns[i];

                switch (c->state) {
                case CONN_IDLE:
                        if (now >= c->retry_at && now < run->measure_end && !interrupted)
                                conn_connect(run, c);
                        break;
                case CONN_SENDING:
                case CONN_WAITING:
                        if (now > c->start_ns && now - c->start_ns >= timeout_ns) {
                                if (c->measured)
                                        run->timeouts++;
                                report(run, c, "timed out", 0);
                                run->reconnects++;
                                conn_close(run, c, now);
                        }
                        break;
                default:
                        break;
                }
        }
}

/* Sends on the connections whose pause has ended. Return: the epoll timeout in ms until the
 * next pause ends, at most TICK_MS. */
static int end_pauses(Run *run, uint64_t now) {
        uint64_t next = now + TICK_MS * 1000000ULL;

        if (!run->opt.pause_ns)
                return TICK_MS;
        for (unsigned i = 0; i < run->opt.concurrency; i++) {
                Conn *c = &run->conns[i];

                if (c->state != CONN_READY || !c->send_at)
                        continue;
                if (c->send_at <= now)
                        conn_send(run, c, now);
                else if (c->send_at < next)
                        next = c->send_at;
        }
        /* Rounded up: a pause is never cut short. */
        return (int) ((next - now + 999999) / 1000000);
}

static bool busy(const Run *run) {
        for (unsigned i = 0; i < run->opt.concurrency; i++) {
                ConnState s = run->conns[i].state;

                if (s == CONN_SENDING || s == CONN_WAITING)
                        return true;
        }
        return false;
}

static int parse_url(const char *url, Options *opt) {
        static char host[64];
        const char *p, *slash, *colon;
        unsigned long port = 80;
        char *end;
        size_t len;

        if (strncmp(url, "http://", 7) != 0)
                return -EINVAL;
        p = url + 7;
        slash = strchr(p, '/');
        if (!slash)
                slash = p + strlen(p);
        colon = memchr(p, ':', (size_t) (slash - p));
        len = (size_t) ((colon ? colon : slash) - p);
        if (len == 0 || len >= sizeof(host))
                return -EINVAL;
        memcpy(host, p, len);
        host[len] = '\0';
        if (colon) {
                errno = 0;
                port = strtoul(colon + 1, &end, 10);
                if (errno || end != slash || port == 0 || port > 65535)
                        return -EINVAL;
        }
        opt->addr.sin_family = AF_INET;
        opt->addr.sin_port = htons((uint16_t) port);
        if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host,
                      &opt->addr.sin_addr) != 1)
                return -EINVAL;
        opt->path = *slash ? slash : "/";
        opt->host = host;
        return 0;
}

static double parse_seconds(const char *s, const char *what) {
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno || end == s || *end || v < 0 || v > 86400) {
                fprintf(stderr, "loadgen: bad %s '%s'\n", what, s);
                exit(2);
        }
        return v;
}

static void usage(FILE *f) {
        fputs("Usage: loadgen --url http://127.0.0.1:PORT/path [-c N] [-d SECONDS] [-n REQUESTS]\n"
              "               [--warmup SECONDS] [--timeout SECONDS] [--body STRING]\n"
              "               [--pause-ms MS] [--header 'NAME: VALUE']\n"
              "Keep-alive HTTP/1.1 POST load with N connections; prints one JSON line.\n"
              "--pause-ms: wait between a response and the next request on a connection.\n"
              "--header: one more request header (e.g. 'X-Amz-Invocation-Type: Event').\n"
              "Defaults: -c 1, -d 5, --warmup 1, --timeout 10, --body '{\"bench\":1}', no pause.\n",
              f);
}

static void parse_args(int argc, char **argv, Options *opt) {
        static const struct option longopts[] = {
                { "url", required_argument, NULL, 'u' },
                { "concurrency", required_argument, NULL, 'c' },
                { "duration", required_argument, NULL, 'd' },
                { "requests", required_argument, NULL, 'n' },
                { "warmup", required_argument, NULL, 'w' },
                { "timeout", required_argument, NULL, 't' },
                { "body", required_argument, NULL, 'b' },
                { "pause-ms", required_argument, NULL, 'p' },
                { "header", required_argument, NULL, 'H' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *url = NULL;
        bool have_duration = false;
        char *end;
        int ch;

        *opt = (Options){ .concurrency = 1,
                          .duration_s = 5,
                          .warmup_s = 1,
                          .timeout_s = 10,
                          .body = "{\"bench\":1}" };
        while ((ch = getopt_long(argc, argv, "u:c:d:n:w:t:b:p:H:h", longopts, NULL)) != -1) {
                switch (ch) {
                case 'u':
                        url = optarg;
                        break;
                case 'c': {
                        unsigned long v;

                        errno = 0;
                        v = strtoul(optarg, &end, 10);
                        if (errno || *end || v == 0 || v > 100000) {
                                fprintf(stderr, "loadgen: bad concurrency '%s'\n", optarg);
                                exit(2);
                        }
                        opt->concurrency = (unsigned) v;
                        break;
                }
                case 'd':
                        opt->duration_s = parse_seconds(optarg, "duration");
                        have_duration = true;
                        break;
                case 'n':
                        errno = 0;
                        opt->max_requests = strtoull(optarg, &end, 10);
                        if (errno || *end || opt->max_requests == 0) {
                                fprintf(stderr, "loadgen: bad request count '%s'\n", optarg);
                                exit(2);
                        }
                        break;
                case 'w':
                        opt->warmup_s = parse_seconds(optarg, "warm-up");
                        break;
                case 't':
                        opt->timeout_s = parse_seconds(optarg, "timeout");
                        if (opt->timeout_s <= 0) {
                                fprintf(stderr, "loadgen: the timeout must be positive\n");
                                exit(2);
                        }
                        break;
                case 'b':
                        opt->body = optarg;
                        break;
                case 'H':
                        if (!strchr(optarg, ':') || strpbrk(optarg, "\r\n")) {
                                fprintf(stderr, "loadgen: bad header '%s' (want 'NAME: VALUE')\n",
                                        optarg);
                                exit(2);
                        }
                        opt->header = optarg;
                        break;
                case 'p':
                        opt->pause_ns = (uint64_t) (parse_seconds(optarg, "pause") * 1e6);
                        break;
                case 'h':
                        usage(stdout);
                        exit(0);
                default:
                        usage(stderr);
                        exit(2);
                }
        }
        if (optind != argc || !url) {
                usage(stderr);
                exit(2);
        }
        if (parse_url(url, opt) < 0) {
                fprintf(stderr, "loadgen: bad URL '%s' (want http://IPV4:PORT/path)\n", url);
                exit(2);
        }
        /* -n alone runs until the count is reached; -d then only bounds it. */
        if (opt->max_requests && !have_duration)
                opt->duration_s = 86400;
}

static void build_request(Run *run) {
        const Options *opt = &run->opt;
        size_t body_len = strlen(opt->body);
        const char *extra = opt->header ? opt->header : "";
        const char *extra_end = opt->header ? "\r\n" : "";
        int n;

        n = snprintf(NULL, 0,
                     "POST %s HTTP/1.1\r\nHost: %s:%u\r\nContent-Type: application/json\r\n"
                     "%s%sContent-Length: %zu\r\n\r\n",
                     opt->path, opt->host, ntohs(opt->addr.sin_port), extra, extra_end, body_len);
        run->request = malloc((size_t) n + body_len + 1);
        if (!run->request)
                abort();
        snprintf(run->request, (size_t) n + 1,
                 "POST %s HTTP/1.1\r\nHost: %s:%u\r\nContent-Type: application/json\r\n"
                 "%s%sContent-Length: %zu\r\n\r\n",
                 opt->path, opt->host, ntohs(opt->addr.sin_port), extra, extra_end, body_len);
        memcpy(run->request + n, opt->body, body_len);
        run->request_len = (size_t) n + body_len;
}

static void print_result(const Run *run) {
        const Hist *h = &run->hist;
        uint64_t end = run->opt.max_requests ? run->last_done : run->measure_end;
        double seconds = end > run->measure_start
                                 ? (double) (end - run->measure_start) / (double) NS_PER_S
                                 : 0;
        uint64_t errors = run->non2xx + run->function_errors + run->io_errors + run->timeouts +
                          run->connect_errors;

        printf("{\"concurrency\":%u,\"requests\":%" PRIu64 ",\"errors\":%" PRIu64
               ",\"seconds\":%.3f,\"rps\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
               "\"mean_us\":%.1f,\"p90_us\":%.1f,\"p999_us\":%.1f,\"non_2xx\":%" PRIu64
               ",\"function_errors\":%" PRIu64 ",\"io_errors\":%" PRIu64 ",\"timeouts\":%" PRIu64
               ",\"connect_errors\":%" PRIu64 ",\"reconnects\":%" PRIu64
               ",\"warmup_requests\":%" PRIu64 "}\n",
               run->opt.concurrency, run->ok, errors, seconds,
               seconds > 0 ? (double) run->ok / seconds : 0, hist_percentile(h, 0.50) / NS_PER_US,
               hist_percentile(h, 0.99) / NS_PER_US, (double) h->max / NS_PER_US,
               h->total ? (double) h->sum / (double) h->total / NS_PER_US : 0,
               hist_percentile(h, 0.90) / NS_PER_US, hist_percentile(h, 0.999) / NS_PER_US,
               run->non2xx, run->function_errors, run->io_errors, run->timeouts,
               run->connect_errors, run->reconnects, run->warmup_requests);
        fflush(stdout);
}

int main(int argc, char **argv) {
        static const llhttp_settings_t settings = {
                .on_message_begin = on_message_begin,
                .on_header_field = on_header_field,
                .on_header_field_complete = on_header_field_complete,
                .on_body = on_body,
                .on_message_complete = on_message_complete,
        };
        struct epoll_event *events;
        struct sigaction sa = { .sa_handler = on_signal };
        uint64_t start, drain_deadline = UINT64_MAX;
        Run *run;

        run = calloc(1, sizeof(*run));
        if (!run)
                abort();
        parse_args(argc, argv, &run->opt);
        build_request(run);

        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        run->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (run->epfd < 0) {
                perror("loadgen: epoll_create1");
                return 1;
        }
        run->conns = calloc(run->opt.concurrency, sizeof(Conn));
        events = calloc(run->opt.concurrency, sizeof(*events));
        if (!run->conns || !events)
                abort();

        start = now_ns();
        run->measure_start = start + (uint64_t) (run->opt.warmup_s * (double) NS_PER_S);
        run->measure_end =
                run->measure_start + (uint64_t) (run->opt.duration_s * (double) NS_PER_S);
        for (unsigned i = 0; i < run->opt.concurrency; i++) {
                Conn *c = &run->conns[i];

                c->id = i;
                c->fd = -1;
                llhttp_init(&c->parser, HTTP_RESPONSE, &settings);
                c->parser.data = c;
                conn_connect(run, c);
        }

        for (uint64_t last_tick = start, wait_ms = TICK_MS;;) {
                uint64_t now;
                int n;

                n = epoll_wait(run->epfd, events, (int) run->opt.concurrency, (int) wait_ms);
                if (n < 0 && errno != EINTR) {
                        perror("loadgen: epoll_wait");
                        return 1;
                }
                now = now_ns();
                for (int i = 0; i < n; i++)
                        conn_event(run, events[i].data.ptr, events[i].events, now);
                wait_ms = (uint64_t) end_pauses(run, now_ns());

                if (run->opt.max_requests && run->issued >= run->opt.max_requests &&
                    run->measure_end > now)
                        run->measure_end = now;
                if (interrupted && run->measure_end > now)
                        run->measure_end = now;
                if (now >= run->measure_end && drain_deadline == UINT64_MAX)
                        drain_deadline = now + (uint64_t) (run->opt.timeout_s * (double) NS_PER_S);
                if (now - last_tick >= TICK_MS * 1000000ULL || n <= 0) {
                        now = now_ns();
                        tick(run, now);
                        last_tick = now;
                }
                if (now >= run->measure_end && (!busy(run) || now >= drain_deadline))
                        break;
        }

        /* Measured requests still unanswered after the drain count as timed out. */
        for (unsigned i = 0; i < run->opt.concurrency; i++) {
                const Conn *c = &run->conns[i];

                if ((c->state == CONN_SENDING || c->state == CONN_WAITING) && c->measured)
                        run->timeouts++;
        }
        print_result(run);
        for (unsigned i = 0; i < run->opt.concurrency; i++)
                conn_close(run, &run->conns[i], 0);
        close(run->epfd);
        free(events);
        free(run->conns);
        free(run->request);
        free(run);
        return 0;
}
