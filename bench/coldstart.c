/* SPDX-License-Identifier: Apache-2.0 */
/*
 * coldstart - cold-start and freeze figures for bench/, each printed as one JSON line.
 *
 *   coldstart cold [--bare BOOTSTRAP] [--env NAME=VALUE]... [--invoke LABEL=URL]...
 *                  [--cgroup LABEL=DIR]... [-n ROUNDS] [--pause-ms MS] [--timeout S]
 *       ROUNDS rounds; each round runs every subject once, one at a time, MS apart, starting
 *       with a different one each round, so that all of them meet the same load.
 *       bare: the floor of a cold start. A Runtime API stand-in in this process (127.0.0.1,
 *         port 0); fork+exec of BOOTSTRAP with AWS_LAMBDA_RUNTIME_API pointing at it (plus
 *         the --env variables) and no sandbox at all. Timed from just before fork() to the
 *         arrival of the runtime's first GET /next ("next") and, after an event is handed
 *         over, to the arrival of its POST .../response ("response"). The child is then
 *         killed and reaped; its CPU time and ours (fork, the stand-in) make "cpu".
 *       LABEL: one synchronous invocation through lemu's Invoke API at URL over a kept-alive
 *         connection, lemu being run with `--reuse cold` (each one starts a new environment):
 *         timed from the write() of the request to the read() that completed the response
 *         ("latency"), with lemu's own X-Lemu-Init-Duration-Ms ("init"). An answer that is
 *         not a 2xx, carries X-Amz-Function-Error or was not a cold start is an error. With
 *         --cgroup LABEL=DIR (a cgroup2 directory holding that lemu), "cpu" is the growth of
 *         DIR/cpu.stat usage_usec over the run per invocation: lemu and every process of its
 *         environments, set-up and teardown included.
 *       "x" figures are medians of the ratios within a round (LABEL latency / bare response,
 *       LABEL init / bare next): the load of the moment cancels out of each.
 *
 *   coldstart freeze [-n PAIRS]
 *       What freezing an environment between invocations costs the daemon, per freeze+thaw
 *       pair, on a child sleeping in pause(): "1" then "0" written to cgroup.freeze of a
 *       cgroup `bench-<pid>` made under the cgroup2 mount (the writes alone, as lemu does
 *       them, and the writes until cgroup.events says each state was reached), and the
 *       fallback kill(SIGSTOP) + kill(SIGCONT) (alone, and until waitpid() saw the stop and
 *       the continue). The cgroup and the child are removed at the end, also on SIGINT/SIGTERM.
 *
 * Each pair, start or invocation is timed on its own (CLOCK_MONOTONIC) and reported as
 * p50, p90, min and mean, so that a loaded machine's stalls do not make the figure.
 * Exit status: 0 when the runs completed (errors are counted in the JSON), 2 on bad usage,
 * 1 when it could not run at all.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG_MAX         (64 * 1024)
#define ERRORS_REPORTED 5
#define NS_PER_US       1000.0

static double timeout_s = 10; /* one exchange (a start, an invocation) may take this long */

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static void sleep_ms(double ms) {
        struct timespec ts = { .tv_sec = (time_t) (ms / 1000),
                               .tv_nsec = (long) fmod(ms * 1e6, 1e9) };

        while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* ---- samples -------------------------------------------------------------------------- */

typedef struct Samples {
        double *v; /* µs (or ms for Init Duration), in the order taken */
        size_t n, cap;
} Samples;

static void samples_add(Samples *s, double v) {
        if (s->n == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 1024;
                s->v = realloc(s->v, s->cap * sizeof(double));
                if (!s->v)
                        abort();
        }
        s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

/* Nearest-rank percentile; sorts the samples. */
static double percentile(Samples *s, double p) {
        size_t rank;

        if (s->n == 0)
                return 0;
        qsort(s->v, s->n, sizeof(double), cmp_double);
        rank = (size_t) ceil(p * (double) s->n);
        if (rank == 0)
                rank = 1;
        return s->v[rank - 1];
}

static double mean(const Samples *s) {
        double sum = 0;

        for (size_t i = 0; i < s->n; i++)
                sum += s->v[i];
        return s->n ? sum / (double) s->n : 0;
}

/* Prints ,"NAME_p50_UNIT":..,"NAME_p90_UNIT":..,"NAME_min_UNIT":..,"NAME_mean_UNIT":.. */
static void print_stats(const char *name, const char *unit, Samples *s) {
        double p50 = percentile(s, 0.50), p90 = percentile(s, 0.90);

        printf(",\"%s_p50_%s\":%.2f,\"%s_p90_%s\":%.2f,\"%s_min_%s\":%.2f,\"%s_mean_%s\":%.2f",
               name, unit, p50, name, unit, p90, name, unit, s->n ? s->v[0] : 0, name, unit,
               mean(s));
}

/* ---- a little HTTP/1.1 over blocking sockets ------------------------------------------ */

static unsigned reported;

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...) {
        va_list ap;

        if (reported++ >= ERRORS_REPORTED)
                return;
        fputs("coldstart: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -1;
                p += w;
                n -= (size_t) w;
        }
        return 0;
}

/* The value of header NAME in the header block hdr[0..len), or NULL; *vlen gets its length. */
static const char *header(const char *hdr, size_t len, const char *name, size_t *vlen) {
        size_t nl = strlen(name);
        const char *end = hdr + len;

        for (const char *line = hdr; line < end;) {
                const char *eol = memchr(line, '\n', (size_t) (end - line));
                if (!eol)
                        eol = end;
                if ((size_t) (eol - line) > nl && line[nl] == ':' &&
                    strncasecmp(line, name, nl) == 0) {
                        const char *v = line + nl + 1;
                        while (v < eol && (*v == ' ' || *v == '\t'))
                                v++;
                        const char *ve = eol;
                        while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                                ve--;
                        *vlen = (size_t) (ve - v);
                        return v;
                }
                line = eol + 1;
        }
        return NULL;
}

/*
 * Reads one HTTP message with a Content-Length body (or none) into buf, waiting until
 * deadline_ns. Return: its total length (*hdr_len: the header block's, blank line included),
 * 0 on EOF before any byte, -1 on an error, a timeout or a message too big. Bytes past the
 * message are an error: each side sends one message and waits.
 */
static ssize_t read_message(int fd, char *buf, size_t cap, size_t *hdr_len, uint64_t deadline_ns) {
        size_t have = 0, want = 0;

        *hdr_len = 0;
        for (;;) {
                if (*hdr_len && have >= want)
                        return have == want ? (ssize_t) want : -1;
                uint64_t now = now_ns();
                if (now >= deadline_ns) {
                        errno = ETIMEDOUT;
                        return -1;
                }
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int left_ms = (int) ((deadline_ns - now) / 1000000) + 1;
                int r = poll(&p, 1, left_ms);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0) {
                        errno = r == 0 ? ETIMEDOUT : errno;
                        return -1;
                }
                if (have == cap) {
                        errno = EMSGSIZE;
                        return -1;
                }
                ssize_t n = read(fd, buf + have, cap - have);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n <= 0) {
                        if (n == 0 && have == 0)
                                return 0;
                        errno = n == 0 ? ECONNRESET : errno;
                        return -1;
                }
                have += (size_t) n;
                if (*hdr_len)
                        continue;
                char *blank = memmem(buf, have, "\r\n\r\n", 4);
                if (!blank)
                        continue;
                *hdr_len = (size_t) (blank + 4 - buf);
                size_t vl;
                const char *cl = header(buf, *hdr_len, "Content-Length", &vl);
                want = *hdr_len + (cl ? strtoul(cl, NULL, 10) : 0);
                if (want > cap) {
                        errno = EMSGSIZE;
                        return -1;
                }
        }
}

static int status_of(const char *msg, size_t len) {
        if (len < 12 || strncmp(msg, "HTTP/1.", 7) != 0)
                return -1;
        return atoi(msg + 9);
}

static uint64_t deadline(void) {
        return now_ns() + (uint64_t) (timeout_s * 1e9);
}

/* ---- bare: fork+exec to the first /next ----------------------------------------------- */

static int listen_loopback(unsigned *port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t al = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(fd, 16) < 0 ||
            getsockname(fd, (struct sockaddr *) &a, &al) < 0) {
                perror("coldstart: listen on 127.0.0.1");
                exit(1);
        }
        *port = ntohs(a.sin_port);
        return fd;
}

static int accept_by(int lfd, uint64_t deadline_ns) {
        for (;;) {
                uint64_t now = now_ns();
                if (now >= deadline_ns)
                        return -1;
                struct pollfd p = { .fd = lfd, .events = POLLIN };
                int r = poll(&p, 1, (int) ((deadline_ns - now) / 1000000) + 1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return -1;
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd >= 0) {
                        int one = 1;
                        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                }
                return fd;
        }
}

static const char NEXT_PATH[] = "/2018-06-01/runtime/invocation/next";

static uint64_t thread_cpu_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/* One bare cold start. Return: 0 with *next_us, *resp_us and *cpu_us (the child's CPU time
 * and ours: fork, the stand-in's reads and writes) set, or -1. */
static int bare_once(const char *bootstrap, int lfd, char *const envp[], double *next_us,
                     double *resp_us, double *cpu_us) {
        static char buf[MSG_MAX];
        char *argv[] = { (char *) bootstrap, NULL };
        struct rusage ru = { 0 };
        size_t hl;
        int fd = -1, rc = -1;
        uint64_t c0 = thread_cpu_ns();
        uint64_t t0 = now_ns();
        pid_t pid = fork();

        if (pid < 0) {
                report("fork: %s", strerror(errno));
                return -1;
        }
        if (pid == 0) {
                execve(bootstrap, argv, envp);
                _exit(127);
        }
        uint64_t dl = t0 + (uint64_t) (timeout_s * 1e9);
        fd = accept_by(lfd, dl);
        if (fd < 0) {
                report("the bootstrap did not connect");
                goto out;
        }
        ssize_t n = read_message(fd, buf, sizeof(buf), &hl, dl);
        uint64_t t1 = now_ns();
        if (n <= 0 || strncmp(buf, "GET ", 4) != 0 ||
            strncmp(buf + 4, NEXT_PATH, sizeof(NEXT_PATH) - 1) != 0) {
                report("expected GET /next: %s", n <= 0 ? strerror(errno) : "another request");
                goto out;
        }
        static const char event[] =
                "HTTP/1.1 200 OK\r\n"
                "Content-Type: application/json\r\n"
                "Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n"
                "Lambda-Runtime-Deadline-Ms: 99999999999999\r\n"
                "Lambda-Runtime-Invoked-Function-Arn: "
                "arn:aws:lambda:us-east-1:000000000000:function:function\r\n"
                "Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent="
                "9a9197af755a6419;Sampled=0\r\n"
                "Content-Length: 11\r\n\r\n"
                "{\"bench\":1}";
        if (write_all(fd, event, sizeof(event) - 1) < 0) {
                report("write the event: %s", strerror(errno));
                goto out;
        }
        n = read_message(fd, buf, sizeof(buf), &hl, dl);
        uint64_t t2 = now_ns();
        if (n <= 0 || strncmp(buf, "POST ", 5) != 0 || !memmem(buf, hl, "/response ", 10)) {
                report("expected POST .../response: %s",
                       n <= 0 ? strerror(errno) : "another request");
                goto out;
        }
        static const char accepted[] = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                                       "Content-Length: 16\r\n\r\n{\"status\":\"OK\"}";
        (void) write_all(fd, accepted, sizeof(accepted) - 1);
        *next_us = (double) (t1 - t0) / NS_PER_US;
        *resp_us = (double) (t2 - t0) / NS_PER_US;
        rc = 0;
out:
        kill(pid, SIGKILL);
        while (wait4(pid, NULL, 0, &ru) < 0 && errno == EINTR)
                ;
        if (fd >= 0)
                close(fd);
        *cpu_us = (double) (thread_cpu_ns() - c0) / NS_PER_US +
                  (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
                  (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
        return rc;
}

/* ---- lemu: one cold invocation through the Invoke API --------------------------------- */

typedef struct Target {
        const char *label;
        struct sockaddr_in addr;
        char req[1024];
        int req_len;
        int fd;             /* kept-alive connection, or -1 */
        const char *cgroup; /* cgroup2 dir holding this lemu, or NULL */
        uint64_t cpu0_us;   /* its usage_usec at the start */
        unsigned ok, errors, warm;
        Samples latency, init; /* µs, ms */
        Samples x, init_x;     /* ratios to the same round's bare start */
} Target;

static int parse_url(Target *t, const char *url) {
        static const char body[] = "{\"bench\":1}";
        char host[64];
        unsigned port;
        int end = 0;

        if (sscanf(url, "http://%63[0-9.]:%u%n", host, &port, &end) != 2 || port == 0 ||
            port > 65535 || (url[end] && url[end] != '/'))
                return -1;
        t->addr = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        if (inet_pton(AF_INET, host, &t->addr.sin_addr) != 1)
                return -1;
        t->req_len =
                snprintf(t->req, sizeof(t->req),
                         "POST %s HTTP/1.1\r\nHost: %s:%u\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\n\r\n%s",
                         url[end] ? url + end : "/", host, port, sizeof(body) - 1, body);
        return t->req_len < (int) sizeof(t->req) ? 0 : -1;
}

static int connect_to(const struct sockaddr_in *a) {
        int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (const struct sockaddr *) a, sizeof(*a)) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

/* One invocation. Return: 0 with *lat_us (and *init_ms, -1 when absent) set, or -1. */
static int invoke_once(Target *t, double *lat_us, double *init_ms) {
        static char buf[MSG_MAX];
        size_t hl, vl;

        if (t->fd < 0) {
                /* Connected before the clock starts, as a caller with a pool would be. */
                t->fd = connect_to(&t->addr);
                if (t->fd < 0) {
                        report("%s: connect: %s", t->label, strerror(errno));
                        t->errors++;
                        return -1;
                }
        }
        uint64_t t0 = now_ns();
        ssize_t n = write_all(t->fd, t->req, (size_t) t->req_len) < 0
                            ? -1
                            : read_message(t->fd, buf, sizeof(buf), &hl, deadline());
        uint64_t t1 = now_ns();
        if (n <= 0) {
                report("%s: %s", t->label, n == 0 ? "connection closed" : strerror(errno));
                t->errors++;
                close(t->fd);
                t->fd = -1;
                return -1;
        }
        int status = status_of(buf, (size_t) n);
        const char *cold = header(buf, hl, "X-Lemu-Cold-Start", &vl);
        bool is_cold = cold && vl == 4 && strncmp(cold, "true", 4) == 0;
        const char *fe = header(buf, hl, "X-Amz-Function-Error", &vl);
        const char *conn = header(buf, hl, "Connection", &vl);
        bool closing = conn && vl == 5 && strncasecmp(conn, "close", 5) == 0;
        int rc = -1;

        if (status < 200 || status > 299 || fe) {
                size_t bl = (size_t) n - hl;
                report("%s: status %d%s: %.*s", t->label, status, fe ? ", function error" : "",
                       (int) (bl > 160 ? 160 : bl), buf + hl);
                t->errors++;
        } else if (!is_cold) {
                report("%s: a warm invocation (is lemu running with --reuse cold?)", t->label);
                t->warm++;
        } else {
                const char *im = header(buf, hl, "X-Lemu-Init-Duration-Ms", &vl);
                *lat_us = (double) (t1 - t0) / NS_PER_US;
                *init_ms = im ? strtod(im, NULL) : -1;
                rc = 0;
        }
        if (closing) {
                close(t->fd);
                t->fd = -1;
        }
        return rc;
}

/* usage_usec of a cgroup2 directory, or 0. */
static uint64_t cgroup_usage_us(const char *dir) {
        char path[4200], buf[1024];
        uint64_t v = 0;

        snprintf(path, sizeof(path), "%s/cpu.stat", dir);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n > 0) {
                buf[n] = '\0';
                char *u = strstr(buf, "usage_usec ");
                if (u)
                        v = strtoull(u + 11, NULL, 10);
        }
        return v;
}

/* ---- cold: the rounds -------------------------------------------------------------------- */

#define MAX_TARGETS 8
#define MAX_ENV     32

typedef struct Cold {
        const char *bootstrap; /* NULL: no bare floor */
        char *envp[MAX_ENV + 2];
        size_t n_env;
        Target targets[MAX_TARGETS];
        size_t n_targets;
        unsigned rounds;
        double pause_ms;
} Cold;

static Target *target_of(Cold *c, const char *label, size_t len) {
        for (size_t i = 0; i < c->n_targets; i++)
                if (strlen(c->targets[i].label) == len &&
                    strncmp(c->targets[i].label, label, len) == 0)
                        return &c->targets[i];
        return NULL;
}

static int run_cold(Cold *c) {
        static char api[64];
        unsigned port, bare_errors = 0;
        int lfd = -1;
        Samples next = { 0 }, resp = { 0 }, cpu = { 0 };
        size_t items = c->n_targets + (c->bootstrap ? 1 : 0);

        if (items == 0) {
                fprintf(stderr, "coldstart: cold needs --bare or --invoke\n");
                return 2;
        }
        if (c->bootstrap) {
                if (access(c->bootstrap, X_OK) < 0) {
                        fprintf(stderr, "coldstart: %s: %s\n", c->bootstrap, strerror(errno));
                        return 1;
                }
                lfd = listen_loopback(&port);
                snprintf(api, sizeof(api), "AWS_LAMBDA_RUNTIME_API=127.0.0.1:%u", port);
                c->envp[c->n_env++] = api;
                c->envp[c->n_env] = NULL;
        }
        for (size_t i = 0; i < c->n_targets; i++)
                if (c->targets[i].cgroup)
                        c->targets[i].cpu0_us = cgroup_usage_us(c->targets[i].cgroup);

        for (unsigned r = 0; r < c->rounds; r++) {
                double bare_next = -1, bare_resp = -1;
                double lat[MAX_TARGETS], init[MAX_TARGETS];
                bool ok[MAX_TARGETS] = { false };

                for (size_t k = 0; k < items; k++) {
                        size_t item = (r + k) % items; /* a different subject first each round */
                        if (c->bootstrap && item == c->n_targets) {
                                double a, b, u;
                                if (bare_once(c->bootstrap, lfd, c->envp, &a, &b, &u) == 0) {
                                        samples_add(&next, a);
                                        samples_add(&resp, b);
                                        samples_add(&cpu, u);
                                        bare_next = a;
                                        bare_resp = b;
                                } else {
                                        bare_errors++;
                                }
                        } else {
                                Target *t = &c->targets[item];
                                ok[item] = invoke_once(t, &lat[item], &init[item]) == 0;
                                if (ok[item]) {
                                        t->ok++;
                                        samples_add(&t->latency, lat[item]);
                                        if (init[item] >= 0)
                                                samples_add(&t->init, init[item]);
                                }
                        }
                        if (c->pause_ms > 0)
                                sleep_ms(c->pause_ms);
                }
                for (size_t i = 0; i < c->n_targets; i++) {
                        if (!ok[i] || bare_resp <= 0)
                                continue;
                        samples_add(&c->targets[i].x, lat[i] / bare_resp);
                        if (init[i] >= 0)
                                samples_add(&c->targets[i].init_x, init[i] * 1000 / bare_next);
                }
        }
        if (lfd >= 0)
                close(lfd);

        printf("{\"figure\":\"cold\",\"rounds\":%u,\"pause_ms\":%.1f", c->rounds, c->pause_ms);
        if (c->bootstrap) {
                printf(",\"bare_ok\":%zu,\"bare_errors\":%u", next.n, bare_errors);
                print_stats("bare_next", "us", &next);
                print_stats("bare_response", "us", &resp);
                printf(",\"bare_cpu_us\":%.1f", mean(&cpu));
        }
        /* Teardown of the last environments is part of what a cold start costs. */
        bool any_cg = false;
        for (size_t i = 0; i < c->n_targets; i++)
                any_cg = any_cg || c->targets[i].cgroup;
        if (any_cg)
                sleep_ms(1000);
        for (size_t i = 0; i < c->n_targets; i++) {
                Target *t = &c->targets[i];
                char name[96];

                if (t->fd >= 0)
                        close(t->fd);
                printf(",\"%s_ok\":%u,\"%s_errors\":%u", t->label, t->ok, t->label,
                       t->errors + t->warm);
                snprintf(name, sizeof(name), "%s_latency", t->label);
                print_stats(name, "us", &t->latency);
                snprintf(name, sizeof(name), "%s_init", t->label);
                print_stats(name, "ms", &t->init);
                if (c->bootstrap) {
                        printf(",\"%s_x_p50\":%.3f,\"%s_init_x_p50\":%.3f", t->label,
                               percentile(&t->x, 0.5), t->label, percentile(&t->init_x, 0.5));
                }
                unsigned calls = t->ok + t->errors + t->warm;
                uint64_t now_us = t->cgroup ? cgroup_usage_us(t->cgroup) : 0;
                if (t->cgroup && calls && now_us >= t->cpu0_us)
                        printf(",\"%s_cpu_us\":%.1f", t->label,
                               (double) (now_us - t->cpu0_us) / calls);
        }
        printf("}\n");
        return 0;
}

/* ---- freeze: cgroup.freeze and SIGSTOP/SIGCONT ---------------------------------------- */

static char cg_dir[4200];
static pid_t sleeper = -1;
static int freeze_fd = -1;

static void freeze_cleanup(void) {
        if (freeze_fd >= 0) {
                (void) pwrite(freeze_fd, "0", 1, 0);
                close(freeze_fd);
                freeze_fd = -1;
        }
        if (sleeper > 0) {
                kill(sleeper, SIGKILL);
                while (waitpid(sleeper, NULL, 0) < 0 && errno == EINTR)
                        ;
                sleeper = -1;
        }
        if (cg_dir[0]) {
                /* The child's exit leaves the cgroup a moment after waitpid(): retry. */
                for (int i = 0; i < 200 && rmdir(cg_dir) < 0 && errno == EBUSY; i++)
                        sleep_ms(5);
                cg_dir[0] = '\0';
        }
}

static void on_term(int sig) {
        freeze_cleanup();
        _exit(128 + sig);
}

/* The cgroup2 mount point (/sys/fs/cgroup/unified on a v1 hybrid, /sys/fs/cgroup on v2). */
static bool cgroup2_mount(char *out, size_t n) {
        FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[4096];
        bool found = false;

        if (!f)
                return false;
        while (!found && fgets(line, sizeof(line), f)) {
                char point[512], fstype[64];
                char *dash = strstr(line, " - ");
                if (dash && sscanf(line, "%*s %*s %*s %*s %511s", point) == 1 &&
                    sscanf(dash + 3, "%63s", fstype) == 1 && strcmp(fstype, "cgroup2") == 0) {
                        snprintf(out, n, "%s", point);
                        found = true;
                }
        }
        fclose(f);
        return found;
}

static pid_t start_sleeper(void) {
        pid_t pid = fork();

        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                for (;;)
                        pause();
        }
        return pid;
}

/* Reads cgroup.events until "frozen WANT". */
static int wait_frozen(int events_fd, char want) {
        char buf[256];

        for (int spins = 0; spins < 10000000; spins++) {
                ssize_t n = pread(events_fd, buf, sizeof(buf) - 1, 0);
                if (n < 0)
                        return -1;
                buf[n] = '\0';
                char *f = strstr(buf, "frozen ");
                if (f && f[7] == want)
                        return 0;
        }
        errno = ETIMEDOUT;
        return -1;
}

static int run_freeze(unsigned pairs) {
        char mount[512], path[4300];
        Samples cg_write = { 0 }, cg_settled = { 0 }, sig = { 0 }, sig_settled = { 0 };
        const char *cg_error = NULL;
        struct sigaction sa = { .sa_handler = on_term };
        unsigned settled_pairs = pairs / 10 ? pairs / 10 : 1;

        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sleeper = start_sleeper();
        if (sleeper < 0) {
                perror("coldstart: fork");
                return 1;
        }

        /* cgroup.freeze of a cgroup holding the sleeper. */
        if (!cgroup2_mount(mount, sizeof(mount))) {
                cg_error = "no cgroup2 mount";
        } else {
                snprintf(cg_dir, sizeof(cg_dir), "%s/bench-%d", mount, (int) getpid());
                if (mkdir(cg_dir, 0755) < 0) {
                        cg_error = strerror(errno);
                        cg_dir[0] = '\0';
                }
        }
        if (!cg_error) {
                char pidtxt[24];
                int n = snprintf(pidtxt, sizeof(pidtxt), "%d", (int) sleeper);
                snprintf(path, sizeof(path), "%s/cgroup.procs", cg_dir);
                int pfd = open(path, O_WRONLY | O_CLOEXEC);
                if (pfd < 0 || write(pfd, pidtxt, (size_t) n) != n)
                        cg_error = strerror(errno);
                if (pfd >= 0)
                        close(pfd);
        }
        int events_fd = -1;
        if (!cg_error) {
                snprintf(path, sizeof(path), "%s/cgroup.freeze", cg_dir);
                freeze_fd = open(path, O_WRONLY | O_CLOEXEC);
                snprintf(path, sizeof(path), "%s/cgroup.events", cg_dir);
                events_fd = open(path, O_RDONLY | O_CLOEXEC);
                if (freeze_fd < 0 || events_fd < 0)
                        cg_error = "no cgroup.freeze (kernel before 5.2?)";
        }
        if (!cg_error) {
                /* As lemu does it: pwrite on a kept descriptor, no wait for the state. */
                for (unsigned i = 0; i < pairs && !cg_error; i++) {
                        uint64_t t0 = now_ns();
                        if (pwrite(freeze_fd, "1", 1, 0) != 1 || pwrite(freeze_fd, "0", 1, 0) != 1)
                                cg_error = strerror(errno);
                        samples_add(&cg_write, (double) (now_ns() - t0) / NS_PER_US);
                }
                /* Until cgroup.events confirms each state: what the kernel does for it. */
                for (unsigned i = 0; i < settled_pairs && !cg_error; i++) {
                        uint64_t t0 = now_ns();
                        if (pwrite(freeze_fd, "1", 1, 0) != 1 || wait_frozen(events_fd, '1') < 0 ||
                            pwrite(freeze_fd, "0", 1, 0) != 1 || wait_frozen(events_fd, '0') < 0)
                                cg_error = strerror(errno);
                        samples_add(&cg_settled, (double) (now_ns() - t0) / NS_PER_US);
                }
        }
        if (events_fd >= 0)
                close(events_fd);
        if (freeze_fd >= 0) {
                (void) pwrite(freeze_fd, "0", 1, 0);
                close(freeze_fd);
                freeze_fd = -1;
        }

        /* The fallback: one process stopped and continued. */
        for (unsigned i = 0; i < pairs; i++) {
                uint64_t t0 = now_ns();
                kill(sleeper, SIGSTOP);
                kill(sleeper, SIGCONT);
                samples_add(&sig, (double) (now_ns() - t0) / NS_PER_US);
        }
        for (unsigned i = 0; i < settled_pairs; i++) {
                int st;
                uint64_t t0 = now_ns();
                kill(sleeper, SIGSTOP);
                while (waitpid(sleeper, &st, WUNTRACED) < 0 && errno == EINTR)
                        ;
                kill(sleeper, SIGCONT);
                while (waitpid(sleeper, &st, WCONTINUED) < 0 && errno == EINTR)
                        ;
                samples_add(&sig_settled, (double) (now_ns() - t0) / NS_PER_US);
        }
        freeze_cleanup();

        printf("{\"figure\":\"freeze\",\"pairs\":%u,\"settled_pairs\":%u,\"cgroup\":", pairs,
               settled_pairs);
        if (cg_error)
                printf("null,\"cgroup_error\":\"%s\"", cg_error);
        else
                printf("\"%s/bench-%d\"", mount, (int) getpid());
        print_stats("cgroup_freeze", "us", &cg_write);
        print_stats("cgroup_freeze_settled", "us", &cg_settled);
        print_stats("sigstop", "us", &sig);
        print_stats("sigstop_settled", "us", &sig_settled);
        printf("}\n");
        return 0;
}

/* ---- main ------------------------------------------------------------------------------ */

/* ---- serve: start to listening, and idle RSS ------------------------------------------ */

/* The first answer of the server at "listening on http://HOST:PORT…" in @line: a POST to
 * /2015-03-31/functions/bench-none/invocations (404 from lemu, an echo from the echo
 * server), answered once its status line and headers are in. Return: 0 or -1. */
static int first_answer(const char *line, uint64_t dl) {
        Target t = { 0 };
        char url[128], buf[4096];
        size_t len = 0;

        if (sscanf(strstr(line, "listening on ") + 13, "%100s", url) != 1)
                return -1;
        snprintf(url + strlen(url), sizeof(url) - strlen(url),
                 "/2015-03-31/functions/bench-none/invocations");
        if (parse_url(&t, url) < 0)
                return -1;
        int fd = connect_to(&t.addr);
        if (fd < 0)
                return -1;
        int rc = -1;
        if (write(fd, t.req, (size_t) t.req_len) == t.req_len) {
                while (now_ns() < dl && len < sizeof(buf) - 1) {
                        struct pollfd p = { .fd = fd, .events = POLLIN };
                        if (poll(&p, 1, (int) ((dl - now_ns()) / 1000000) + 1) <= 0)
                                continue;
                        ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
                        if (r <= 0)
                                break;
                        len += (size_t) r;
                        buf[len] = '\0';
                        if (strncmp(buf, "HTTP/1.1 ", 9) == 0 && strstr(buf, "\r\n\r\n")) {
                                rc = 0;
                                break;
                        }
                }
        }
        close(fd);
        return rc;
}

/* One start of @cmd: the time from fork() to its "listening on" line and to its first
 * answer, and its VmRSS after @idle_ms. Return: 0, or -1 (described on stderr). */
static int serve_once(char *const cmd[], double idle_ms, double *listen_ms, double *answer_ms,
                      double *rss_kb) {
        int out[2];
        char buf[4096];
        size_t len = 0;

        if (pipe2(out, O_CLOEXEC) < 0)
                return -1;
        uint64_t t0 = now_ns(), dl = deadline();
        pid_t pid = fork();
        if (pid < 0) {
                close(out[0]);
                close(out[1]);
                return -1;
        }
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);
                dup2(out[1], 1);
                if (null >= 0)
                        dup2(null, 2);
                execvp(cmd[0], cmd);
                _exit(127);
        }
        close(out[1]);
        int rc = -1;
        while (now_ns() < dl && len < sizeof(buf) - 1) {
                struct pollfd p = { .fd = out[0], .events = POLLIN };
                int ms = (int) ((dl - now_ns()) / 1000000) + 1;
                if (poll(&p, 1, ms) <= 0)
                        continue;
                ssize_t r = read(out[0], buf + len, sizeof(buf) - 1 - len);
                if (r <= 0)
                        break;
                len += (size_t) r;
                buf[len] = '\0';
                if (strstr(buf, "listening on ") && strchr(strstr(buf, "listening on "), '\n')) {
                        *listen_ms = (double) (now_ns() - t0) / 1e6;
                        rc = 0;
                        break;
                }
        }
        if (rc < 0)
                report("serve: %s printed no 'listening on' line within %.0f s", cmd[0], timeout_s);
        if (rc == 0) {
                rc = first_answer(buf, dl);
                *answer_ms = (double) (now_ns() - t0) / 1e6;
                if (rc < 0)
                        report("serve: %s did not answer a first request", cmd[0]);
        }
        if (rc == 0) {
                char path[64], st[4096];
                sleep_ms(idle_ms);
                snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                ssize_t r = fd >= 0 ? read(fd, st, sizeof(st) - 1) : -1;
                if (fd >= 0)
                        close(fd);
                const char *v = r > 0 ? (st[r] = '\0', strstr(st, "VmRSS:")) : NULL;
                if (v)
                        *rss_kb = strtod(v + 6, NULL);
                else {
                        report("serve: %s exited while idle", cmd[0]);
                        rc = -1;
                }
        }
        close(out[0]);
        kill(pid, SIGTERM);
        for (int i = 0; i < 1000; i++) {
                if (waitpid(pid, NULL, WNOHANG) == pid)
                        return rc;
                sleep_ms(10);
        }
        report("serve: %s did not stop within 10 s of SIGTERM", cmd[0]);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
}

static int run_serve(char *const cmd[], unsigned runs, double idle_ms, double pause_ms) {
        Samples listen = { 0 }, answer = { 0 }, rss = { 0 };
        unsigned errors = 0;

        for (unsigned i = 0; i < runs; i++) {
                double l = 0, a = 0, r = 0;
                if (serve_once(cmd, idle_ms, &l, &a, &r) < 0) {
                        errors++;
                } else {
                        samples_add(&listen, l);
                        samples_add(&answer, a);
                        samples_add(&rss, r);
                }
                sleep_ms(pause_ms);
        }
        printf("{\"figure\":\"serve\",\"runs\":%u", runs);
        print_stats("listen", "ms", &listen);
        print_stats("answer", "ms", &answer);
        print_stats("rss", "kb", &rss);
        printf(",\"errors\":%u}\n", errors);
        return 0;
}

static void usage(FILE *f) {
        fputs("Usage: coldstart cold [--bare BOOTSTRAP] [--env NAME=VALUE]... [--invoke "
              "LABEL=URL]...\n"
              "                      [--cgroup LABEL=DIR]... [-n ROUNDS] [--pause-ms MS] "
              "[--timeout S]\n"
              "       coldstart freeze [-n PAIRS]\n"
              "       coldstart serve [-n RUNS] [--idle-ms MS] [--pause-ms MS] -- COMMAND...\n"
              "Cold-start and freeze figures for bench/ (bench/README.md); one JSON line each.\n"
              "Defaults: -n 100 (freeze: 10000), --pause-ms 50, --timeout 10.\n",
              f);
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "runs", required_argument, NULL, 'n' },
                { "pause-ms", required_argument, NULL, 'p' },
                { "timeout", required_argument, NULL, 't' },
                { "bare", required_argument, NULL, 'b' },
                { "env", required_argument, NULL, 'e' },
                { "invoke", required_argument, NULL, 'i' },
                { "cgroup", required_argument, NULL, 'g' },
                { "idle-ms", required_argument, NULL, 'I' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        static Cold cold = { .rounds = 100, .pause_ms = 50 };
        long runs = -1;
        double idle_ms = 1000;
        char *end, *eq;
        const char *mode;
        Target *t;
        int ch;

        if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
                usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? 2 : 0;
        }
        mode = argv[1];
        optind = 2;
        while ((ch = getopt_long(argc, argv, "n:p:t:h", longopts, NULL)) != -1) {
                switch (ch) {
                case 'n':
                        runs = strtol(optarg, &end, 10);
                        if (*end || runs <= 0 || runs > 10000000) {
                                fprintf(stderr, "coldstart: bad count '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 'p':
                        cold.pause_ms = strtod(optarg, &end);
                        if (*end || cold.pause_ms < 0 || cold.pause_ms > 60000) {
                                fprintf(stderr, "coldstart: bad pause '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 't':
                        timeout_s = strtod(optarg, &end);
                        if (*end || timeout_s <= 0 || timeout_s > 3600) {
                                fprintf(stderr, "coldstart: bad timeout '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 'I':
                        idle_ms = strtod(optarg, &end);
                        if (*end || idle_ms < 0 || idle_ms > 60000) {
                                fprintf(stderr, "coldstart: bad --idle-ms '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 'b':
                        cold.bootstrap = optarg;
                        break;
                case 'e':
                        if (!strchr(optarg, '=') || cold.n_env >= MAX_ENV) {
                                fprintf(stderr, "coldstart: bad --env '%s'\n", optarg);
                                return 2;
                        }
                        cold.envp[cold.n_env++] = optarg;
                        break;
                case 'i':
                        eq = strchr(optarg, '=');
                        if (!eq || eq == optarg || cold.n_targets >= MAX_TARGETS ||
                            target_of(&cold, optarg, (size_t) (eq - optarg))) {
                                fprintf(stderr, "coldstart: bad --invoke '%s'\n", optarg);
                                return 2;
                        }
                        *eq = '\0';
                        t = &cold.targets[cold.n_targets++];
                        t->label = optarg;
                        t->fd = -1;
                        if (parse_url(t, eq + 1) < 0) {
                                fprintf(stderr,
                                        "coldstart: bad URL '%s' (want http://IPV4:PORT/path)\n",
                                        eq + 1);
                                return 2;
                        }
                        break;
                case 'g':
                        eq = strchr(optarg, '=');
                        t = eq ? target_of(&cold, optarg, (size_t) (eq - optarg)) : NULL;
                        if (!t) {
                                fprintf(stderr,
                                        "coldstart: --cgroup '%s' names no --invoke label given "
                                        "before it\n",
                                        optarg);
                                return 2;
                        }
                        t->cgroup = eq + 1;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if ((optind != argc) != (strcmp(mode, "serve") == 0)) {
                usage(stderr);
                return 2;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        signal(SIGPIPE, SIG_IGN);
        if (strcmp(mode, "cold") == 0) {
                if (runs > 0)
                        cold.rounds = (unsigned) runs;
                return run_cold(&cold);
        }
        if (strcmp(mode, "serve") == 0)
                return run_serve(argv + optind, runs > 0 ? (unsigned) runs : 20, idle_ms,
                                 cold.pause_ms);
        if (strcmp(mode, "freeze") == 0)
                return run_freeze(runs > 0 ? (unsigned) runs : 10000);
        usage(stderr);
        return 2;
}
