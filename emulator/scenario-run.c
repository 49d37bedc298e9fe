/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `lemu test`, the running half: each scenario runs on an embedded server at 127.0.0.1:0,
 * driven over HTTP as any client would drive `lemu serve`, then reported (progress on
 * stderr, the JUnit file, the last stdout line "N passed, N failed", the exit code).
 *
 * Two threads, no locks. The main thread runs the Emulator's loop, which owns all daemon
 * state as always. A runner thread runs the steps with blocking sockets — a keep-alive
 * connection for sequential calls, N of them for a parallel step, whose N requests are
 * all written, in step order, before any answer is read — and touches nothing but its
 * sockets and its own results. When the steps are done it closes its sockets and wakes the
 * loop (uv_async_send), which shuts the Emulator down; the main thread then joins it.
 *
 * Findings: every expect_findings step (and the end of the scenario) first waits for the
 * server to be idle, since shadow runs land after their caller was answered, then reads
 * every invocation record. A finding is identified by its record's seq and its index in
 * the record's list (findings are only ever appended), so each is looked at exactly once:
 * by the first expect_findings step after it, or at the end, where nobody claims it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "cli.h"
#include "codec.h"
#include "macro.h"
#include "scenario.h"
#include "xalloc.h"

#define SHOW_MAX     200  /* bytes of a body quoted in a mismatch */
#define LOG_TAIL_MAX 2048 /* bytes of a failed invocation's log shown */

/* ---- output that survives a non-blocking stderr ------------------------------------------ */

/* The Emulator's log writer puts fd 2 (and so, often, fd 1) in non-blocking mode. */
static void out_write(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0 && errno == EAGAIN) {
                        struct pollfd pf = { .fd = fd, .events = POLLOUT };
                        (void) poll(&pf, 1, 1000);
                        continue;
                }
                if (w <= 0)
                        return;
                p += w;
                n -= (size_t) w;
        }
}

static void out_printf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(int fd, const char *fmt, ...) {
        va_list ap;
        char small[512];

        va_start(ap, fmt);
        int n = vsnprintf(small, sizeof(small), fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t) n < sizeof(small)) {
                out_write(fd, small, (size_t) n);
                return;
        }
        char *big = xmalloc((size_t) n + 1);
        va_start(ap, fmt);
        vsnprintf(big, (size_t) n + 1, fmt, ap);
        va_end(ap);
        out_write(fd, big, (size_t) n);
        free(big);
}

/* ---- a small blocking HTTP/1.1 client ------------------------------------------------------ */

typedef struct Conn {
        int fd; /* -1: not connected */
        bool used;
        Buf in; /* bytes read but not yet consumed */
} Conn;

typedef struct Response {
        int status; /* 0: no answer (see err) */
        Buf body;
        char request_id[64];
        char env[96];
        int cold; /* -1: no X-Lemu-Cold-Start */
        char function_error[64];
        char error_header[128]; /* X-Amzn-ErrorType */
        bool close;
        char err[192]; /* a transport error, or "" */
} Response;

static void response_free(Response *r) {
        buf_free(&r->body);
}

static uint64_t now_ms(void) {
        return clock_mono_ns() / 1000000;
}

static void conn_close(Conn *c) {
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        c->used = false;
        buf_reset(&c->in);
}

/* An idle keep-alive connection the server has closed (or spoken on) is not reused. */
static bool conn_alive(const Conn *c) {
        struct pollfd pf = { .fd = c->fd, .events = POLLIN | POLLRDHUP };

        return poll(&pf, 1, 0) == 0;
}

static int conn_ready(Conn *c, int port, char *why, size_t n) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        int one = 1;

        if (c->fd >= 0 && c->used && !conn_alive(c))
                conn_close(c);
        if (c->fd >= 0)
                return 0;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0 || connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int e = errno;
                snprintf(why, n, "cannot connect to the embedded server: %s", strerror(e));
                conn_close(c);
                return -e;
        }
        (void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        buf_reset(&c->in);
        return 0;
}

static int conn_send(Conn *c, const Buf *req, char *why, size_t n) {
        for (size_t off = 0; off < req->len;) {
                ssize_t w = send(c->fd, req->data + off, req->len - off, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0) {
                        int e = w < 0 ? errno : EPIPE;
                        snprintf(why, n, "cannot send the request: %s", strerror(e));
                        conn_close(c);
                        return -e;
                }
                off += (size_t) w;
        }
        c->used = true;
        return 0;
}

/* Reads more bytes before @deadline. Return: bytes read, 0 at EOF, or -errno. */
static ssize_t conn_fill(Conn *c, uint64_t deadline) {
        for (;;) {
                uint64_t now = now_ms();
                if (now >= deadline)
                        return -ETIMEDOUT;
                struct pollfd pf = { .fd = c->fd, .events = POLLIN };
                int pr = poll(&pf, 1, (int) MIN(deadline - now, (uint64_t) INT32_MAX));
                if (pr < 0 && errno == EINTR)
                        continue;
                if (pr < 0)
                        return -errno;
                if (pr == 0)
                        continue;
                buf_reserve(&c->in, 65536);
                ssize_t r = read(c->fd, c->in.data + c->in.len, 65536);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                c->in.len += (size_t) r;
                c->in.data[c->in.len] = '\0';
                return r;
        }
}

static void consume(Conn *c, size_t n) {
        memmove(c->in.data, c->in.data + n, c->in.len - n);
        c->in.len -= n;
        if (c->in.data)
                c->in.data[c->in.len] = '\0';
}

static bool header(const char *head, const char *name, char *out, size_t n) {
        size_t nl = strlen(name);

        for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
                const char *line = p + 2;
                if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
                        const char *v = line + nl + 1;
                        v += strspn(v, " \t");
                        size_t l = strcspn(v, "\r\n");
                        while (l > 0 && (v[l - 1] == ' ' || v[l - 1] == '\t'))
                                l--;
                        snprintf(out, n, "%.*s", (int) l, v);
                        return true;
                }
        }
        return false;
}

/* Reads one response. Return: 0, or -errno with @resp->err written. */
static int conn_recv(Conn *c, uint64_t deadline, Response *resp) {
        _cleanup_free_ char *head = NULL;
        char v[128], *sep;
        ssize_t r;

        resp->cold = -1;
        while (!(c->in.data && (sep = strstr(c->in.data, "\r\n\r\n")))) {
                r = conn_fill(c, deadline);
                if (r <= 0)
                        goto broken;
        }
        size_t head_len = (size_t) (sep - c->in.data) + 4;
        head = xstrndup(c->in.data, head_len);
        consume(c, head_len);
        if (strncmp(head, "HTTP/1.", 7) != 0 || strlen(head) < 12) {
                snprintf(resp->err, sizeof(resp->err), "not an HTTP response: '%.40s'", head);
                conn_close(c);
                return -EBADMSG;
        }
        resp->status = atoi(head + 9);
        header(head, "X-Amzn-RequestId", resp->request_id, sizeof(resp->request_id));
        header(head, "X-Lemu-Environment-Id", resp->env, sizeof(resp->env));
        if (header(head, "X-Lemu-Cold-Start", v, sizeof(v)))
                resp->cold = strcmp(v, "true") == 0;
        header(head, "X-Amz-Function-Error", resp->function_error, sizeof(resp->function_error));
        header(head, "X-Amzn-ErrorType", resp->error_header, sizeof(resp->error_header));
        resp->close = header(head, "Connection", v, sizeof(v)) && strcasecmp(v, "close") == 0;

        if (header(head, "Transfer-Encoding", v, sizeof(v)) && strcasecmp(v, "chunked") == 0) {
                for (;;) {
                        char *eol;
                        while (!(c->in.data && (eol = strstr(c->in.data, "\r\n"))))
                                if ((r = conn_fill(c, deadline)) <= 0)
                                        goto broken;
                        size_t size = strtoul(c->in.data, NULL, 16);
                        size_t skip = (size_t) (eol - c->in.data) + 2;
                        while (c->in.len < skip + size + 2)
                                if ((r = conn_fill(c, deadline)) <= 0)
                                        goto broken;
                        buf_append(&resp->body, c->in.data + skip, size);
                        consume(c, skip + size + 2);
                        if (size == 0)
                                break;
                }
        } else if (header(head, "Content-Length", v, sizeof(v))) {
                size_t want = strtoul(v, NULL, 10);
                while (c->in.len < want)
                        if ((r = conn_fill(c, deadline)) <= 0)
                                goto broken;
                buf_append(&resp->body, c->in.data ? c->in.data : "", want);
                consume(c, want);
        } else if (resp->status != 204 && resp->status != 304) {
                while ((r = conn_fill(c, deadline)) > 0)
                        ;
                buf_append(&resp->body, c->in.data ? c->in.data : "", c->in.len);
                resp->close = true;
        }
        if (!resp->body.data)
                buf_append(&resp->body, "", 0);
        if (resp->close)
                conn_close(c);
        return 0;
broken:
        snprintf(resp->err, sizeof(resp->err), "%s",
                 r == 0            ? "the server closed the connection without an answer"
                 : r == -ETIMEDOUT ? "no answer in time"
                                   : strerror((int) -r));
        resp->status = 0;
        conn_close(c);
        return r == 0 ? -ECONNRESET : (int) r;
}

static void build_request(Buf *req, int port, const char *method, const char *path,
                          const char *headers, const char *body, size_t len) {
        buf_reset(req);
        buf_printf(req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sContent-Length: %zu\r\n\r\n",
                   method, path, port, headers ? headers : "", len);
        buf_append(req, body ? body : "", len);
}

/* ---- one scenario's run ------------------------------------------------------------------- */

typedef struct Finding {
        char *kind;
        char *path; /* or NULL */
        char *function;
        char *text; /* "state_leak at $.count in orders (request …): detail" */
} Finding;

typedef struct StepResult {
        bool ran;
        bool is_case; /* a JUnit testcase: a step with expectations, or one that failed */
        bool failed;
        bool service; /* a service or transport error (exit 4) */
        double secs;
        Buf detail; /* mismatch lines, each ending in '\n' */
        Buf out;    /* what happened, for <system-out> */
        char *env;  /* the first invocation's environment, or NULL */
        char note[192];
} StepResult;

typedef struct Output {
        bool tty;
        int fd; /* progress: stderr */
} Output;

typedef struct Run {
        Scenario scn;
        Config cfg;
        bool cfg_built;
        Emulator emu;
        uv_loop_t loop;
        uv_async_t stop;
        atomic_int interrupted;
        int port;
        const Output *o;
        Conn conns[SCN_PARALLEL_MAX];
        Buf req;
        StepResult *res;
        uint32_t *seen; /* findings looked at, by record seq */
        size_t n_seen;
        Finding *unclaimed;
        size_t n_unclaimed;
        uint64_t dropped;
        double secs;
        bool ran;
        int exit_code;
} Run;

static void fail_line(StepResult *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_line(StepResult *res, const char *fmt, ...) {
        char line[2048];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        buf_printf(&res->detail, "%s\n", line);
        res->failed = true;
}

/* Quotes up to SHOW_MAX bytes of @p for a message: 'text' or 'text…' (N bytes). */
static void show(Buf *b, const char *p, size_t n) {
        buf_puts(b, "'");
        for (size_t i = 0; i < MIN(n, (size_t) SHOW_MAX); i++) {
                unsigned char c = (unsigned char) p[i];
                if (c == '\n')
                        buf_puts(b, "\\n");
                else if (c < 0x20)
                        buf_printf(b, "\\x%02x", c);
                else
                        buf_append(b, &p[i], 1);
        }
        buf_puts(b, "'");
        if (n > SHOW_MAX)
                buf_printf(b, "... (%zu bytes)", n);
}

static char *shown(const char *p, size_t n) {
        Buf b = BUF_INIT;

        show(&b, p, n);
        return buf_steal(&b, NULL);
}

/* One request on connection 0, with one retry on a fresh connection when a kept-alive one
 * turns out closed before any answer byte (only for calls that are safe to repeat). */
static int call(Run *r, const char *method, const char *path, const char *body, size_t len,
                double timeout_s, Response *resp) {
        Conn *c = &r->conns[0];

        for (int attempt = 0;; attempt++) {
                bool reused = c->fd >= 0 && c->used;
                memset(resp, 0, sizeof(*resp));
                int e = conn_ready(c, r->port, resp->err, sizeof(resp->err));
                if (e < 0)
                        return e;
                build_request(&r->req, r->port, method, path,
                              body ? "Content-Type: application/json\r\n" : NULL, body, len);
                e = conn_send(c, &r->req, resp->err, sizeof(resp->err));
                if (e == 0)
                        e = conn_recv(c, now_ms() + (uint64_t) (timeout_s * 1000), resp);
                if (e == 0 || !reused || attempt > 0 || e == -ETIMEDOUT)
                        return e;
                response_free(resp);
        }
}

/* The invocation's log from its record, last LOG_TAIL_MAX bytes, into @out. */
static void fetch_log(Run *r, const char *request_id, Buf *out) {
        Response resp;
        char path[160];

        snprintf(path, sizeof(path), "/_lemu/invocations/%s", request_id);
        if (call(r, "GET", path, NULL, 0, 10, &resp) == 0 && resp.status == 200) {
                cJSON *j = cJSON_ParseWithLength(resp.body.data, resp.body.len);
                const cJSON *log = cJSON_GetObjectItemCaseSensitive(j, "log");
                if (cJSON_IsString(log) && log->valuestring[0]) {
                        size_t n = strlen(log->valuestring);
                        const char *p =
                                log->valuestring + (n > LOG_TAIL_MAX ? n - LOG_TAIL_MAX : 0);
                        buf_printf(out, "log of request %s%s:\n%s%s", request_id,
                                   n > LOG_TAIL_MAX ? " (its end)" : "", p,
                                   p[strlen(p) - 1] == '\n' ? "" : "\n");
                }
                cJSON_Delete(j);
        }
        response_free(&resp);
}

/* "errorType" of a function error's body, or X-Amzn-ErrorType of a service error. */
static void error_type_of(const Response *resp, char *out, size_t n) {
        out[0] = '\0';
        if (resp->function_error[0]) {
                cJSON *j = cJSON_ParseWithLength(resp->body.data, resp->body.len);
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "errorType");
                if (cJSON_IsString(t))
                        snprintf(out, n, "%s", t->valuestring);
                cJSON_Delete(j);
        } else if (resp->status >= 400) {
                snprintf(out, n, "%s", resp->error_header);
        }
}

static bool body_is_json(const Response *resp) {
        if (!utf8_valid(resp->body.data, resp->body.len) ||
            memchr(resp->body.data, '\0', resp->body.len))
                return false;
        cJSON *j = cJSON_ParseWithLengthOpts(resp->body.data, resp->body.len + 1, NULL, 1);
        cJSON_Delete(j);
        return j != NULL;
}

static void check_string(StepResult *res, const char *pfx, const char *key, const ScnOptString *x,
                         const char *actual) {
        if (!x->set)
                return;
        if (!x->value && actual[0])
                fail_line(res, "%s%s: expected none, got '%s'", pfx, key, actual);
        else if (x->value && strcmp(x->value, actual) != 0)
                fail_line(res, "%s%s: expected '%s', got %s%s%s", pfx, key, x->value,
                          actual[0] ? "'" : "none", actual, actual[0] ? "'" : "");
}

static void check_environment(Run *r, StepResult *res, const char *pfx, const ScnExpect *x,
                              const Response *resp) {
        for (int side = 0; side < 2; side++) {
                int k = side ? x->differs_from : x->same_as;
                if (k < 0)
                        continue;
                const char *ref = r->res[k].env;
                if (!ref) {
                        fail_line(res, "%senvironment: step %d has no environment to compare with",
                                  pfx, k);
                } else if (!resp->env[0]) {
                        fail_line(res, "%senvironment: expected %s step %d's (%s), got none", pfx,
                                  side ? "another than" : "the same as", k, ref);
                } else if ((strcmp(ref, resp->env) == 0) == (side == 1)) {
                        if (side)
                                fail_line(res,
                                          "%senvironment: expected another than step %d's, got "
                                          "the same (%s)",
                                          pfx, k, ref);
                        else
                                fail_line(res,
                                          "%senvironment: expected the same as step %d's (%s), got "
                                          "%s",
                                          pfx, k, ref, resp->env);
                }
        }
}

static void check_body(StepResult *res, const char *pfx, const ScnExpect *x, const Response *resp) {
        const Buf *b = &resp->body;

        if (x->body && (b->len != x->body_len || memcmp(b->data, x->body, b->len) != 0)) {
                _cleanup_free_ char *want = shown(x->body, x->body_len);
                _cleanup_free_ char *got = shown(b->data, b->len);
                fail_line(res, "%sbody: expected %s, got %s", pfx, want, got);
        }
        if (x->body_regex_text && regexec(&x->body_regex, b->data, 0, NULL, 0) != 0) {
                _cleanup_free_ char *got = shown(b->data, b->len);
                fail_line(res, "%sbody_regex: '%s' does not match %s", pfx, x->body_regex_text,
                          got);
        }
        if (!x->body_json && !x->n_json)
                return;
        if (!body_is_json(resp)) {
                _cleanup_free_ char *got = shown(b->data, b->len);
                fail_line(res, "%s%s: the body is not JSON: %s", pfx,
                          x->body_json ? "body" : "json", got);
                return;
        }
        if (x->body_json && !scn_json_equal(x->body_json, x->body_json_len, b->data, b->len)) {
                _cleanup_free_ char *got = shown(b->data, b->len);
                fail_line(res, "%sbody: expected %s, got %s", pfx, x->body_json, got);
        }
        for (size_t k = 0; k < x->n_json; k++) {
                const ScnJsonExpect *j = &x->json[k];
                size_t at, len;
                if (scn_json_find(b->data, b->len, j->path, &at, &len) < 0) {
                        fail_line(res, "%sjson %s: expected %s, got nothing there", pfx, j->path,
                                  j->value);
                } else if (!scn_json_equal(j->value, j->value_len, b->data + at, len)) {
                        fail_line(res, "%sjson %s: expected %s, got %.*s%s", pfx, j->path, j->value,
                                  (int) MIN(len, (size_t) SHOW_MAX), b->data + at,
                                  len > SHOW_MAX ? "..." : "");
                }
        }
}

/* Checks one answer of an invoke step; @k counts from 1 when the step is parallel. */
static void check_one(Run *r, const ScnStep *st, StepResult *res, const Response *resp,
                      unsigned k) {
        static const int ok_status[] = {
                [INVOKE_REQUEST_RESPONSE] = 200, [INVOKE_EVENT] = 202, [INVOKE_DRY_RUN] = 204
        };
        const ScnExpect *x = &st->expect;
        char pfx[48] = "", et[128];

        if (st->parallel > 1)
                snprintf(pfx, sizeof(pfx), "invocation %u/%u: ", k, st->parallel);
        if (resp->err[0]) {
                fail_line(res, "%stransport error: %s", pfx, resp->err);
                res->service = true;
                return;
        }
        error_type_of(resp, et, sizeof(et));
        buf_printf(&res->out,
                   "%srequest %s: status %d, environment %s, cold %s, function_error %s, "
                   "error_type %s\n",
                   pfx, resp->request_id[0] ? resp->request_id : "-", resp->status,
                   resp->env[0] ? resp->env : "-",
                   resp->cold < 0 ? "-"
                   : resp->cold   ? "true"
                                  : "false",
                   resp->function_error[0] ? resp->function_error : "-", et[0] ? et : "-");
        if (resp->body.len) {
                buf_puts(&res->out, "  body: ");
                show(&res->out, resp->body.data, resp->body.len);
                buf_puts(&res->out, "\n");
        }
        if (x->status >= 0 && resp->status != x->status) {
                _cleanup_free_ char *got = shown(resp->body.data, resp->body.len);
                fail_line(res, "%sstatus: expected %d, got %d%s%s%s", pfx, x->status, resp->status,
                          resp->status >= 400 ? " (" : "", resp->status >= 400 ? got : "",
                          resp->status >= 400 ? ")" : "");
        } else if (x->status < 0 && resp->status != ok_status[st->type]) {
                _cleanup_free_ char *got = shown(resp->body.data, resp->body.len);
                fail_line(res, "%sservice error: %d %s %s", pfx, resp->status,
                          resp->error_header[0] ? resp->error_header : "", got);
                res->service = true;
                return;
        }
        if (!st->has_expect || st->type != INVOKE_REQUEST_RESPONSE)
                return;
        check_string(res, pfx, "function_error", &x->function_error, resp->function_error);
        check_string(res, pfx, "error_type", &x->error_type, et);
        if (x->cold >= 0 && resp->cold != x->cold)
                fail_line(res, "%scold: expected %s, got %s", pfx, x->cold ? "true" : "false",
                          resp->cold < 0 ? "no X-Lemu-Cold-Start header"
                          : resp->cold   ? "true"
                                         : "false");
        check_environment(r, res, pfx, x, resp);
        check_body(res, pfx, x, resp);
}

static void step_invoke(Run *r, const ScnStep *st, StepResult *res) {
        static const char *const type_name[] = { [INVOKE_REQUEST_RESPONSE] = "RequestResponse",
                                                 [INVOKE_EVENT] = "Event",
                                                 [INVOKE_DRY_RUN] = "DryRun" };
        _cleanup_free_ Response *resp = xcalloc(st->parallel, sizeof(Response));
        uint64_t deadline = now_ms() + (uint64_t) (st->read_timeout_s * 1000);
        char path[256], headers[128];
        bool logged = false;

        snprintf(path, sizeof(path), "/2015-03-31/functions/%s/invocations", st->function);
        snprintf(headers, sizeof(headers),
                 "Content-Type: application/json\r\nX-Amz-Invocation-Type: %s\r\n",
                 type_name[st->type]);
        build_request(&r->req, r->port, "POST", path, headers, st->event, st->event_len);
        /* Every request goes out, in order, before any answer is read: all but the last
         * byte first, then the last bytes back to back, so the server sees the N requests
         * complete within microseconds of each other. */
        Buf head = { .data = r->req.data, .len = r->req.len - 1 };
        Buf tail = { .data = r->req.data + r->req.len - 1, .len = 1 };
        for (unsigned k = 0; k < st->parallel; k++) {
                Conn *c = &r->conns[k];
                resp[k].cold = -1;
                if (conn_ready(c, r->port, resp[k].err, sizeof(resp[k].err)) == 0)
                        (void) conn_send(c, st->parallel > 1 ? &head : &r->req, resp[k].err,
                                         sizeof(resp[k].err));
        }
        for (unsigned k = 0; k < st->parallel && st->parallel > 1; k++)
                if (!resp[k].err[0])
                        (void) conn_send(&r->conns[k], &tail, resp[k].err, sizeof(resp[k].err));
        for (unsigned k = 0; k < st->parallel; k++)
                if (!resp[k].err[0])
                        (void) conn_recv(&r->conns[k], deadline, &resp[k]);
        for (unsigned k = 0; k < st->parallel; k++) {
                bool was_failed = res->failed;
                check_one(r, st, res, &resp[k], k + 1);
                if (res->failed && !was_failed && resp[k].request_id[0] && !logged &&
                    st->type == INVOKE_REQUEST_RESPONSE) {
                        fetch_log(r, resp[k].request_id, &res->out);
                        logged = true;
                }
        }
        if (resp[0].env[0])
                res->env = xstrdup(resp[0].env);

        /* The progress line's summary. */
        if (st->parallel == 1 && resp[0].env[0]) {
                snprintf(res->note, sizeof(res->note), "%d, %s, %s", resp[0].status,
                         resp[0].cold == 1 ? "cold" : "warm", resp[0].env);
        } else if (st->parallel == 1) {
                snprintf(res->note, sizeof(res->note), "%d", resp[0].status);
        } else {
                size_t distinct = 0;
                for (unsigned k = 0; k < st->parallel; k++) {
                        bool seen = !resp[k].env[0];
                        for (unsigned j = 0; j < k && !seen; j++)
                                seen = strcmp(resp[j].env, resp[k].env) == 0;
                        distinct += !seen;
                }
                snprintf(res->note, sizeof(res->note), "%u invocations, %zu environments",
                         st->parallel, distinct);
        }
        for (unsigned k = 0; k < st->parallel; k++)
                response_free(&resp[k]);
}

/* recycle, lifecycle, wait_idle and fault: one control call that must answer 200 (201 for a
 * fault added). */
static void step_control(Run *r, const ScnStep *st, StepResult *res) {
        Response resp;
        char path[256];
        const char *method = "POST", *body = NULL;
        size_t len = 0;

        if (st->kind == SCN_STEP_RECYCLE) {
                snprintf(path, sizeof(path), "/_lemu/functions/%s/recycle", st->function);
        } else if (st->kind == SCN_STEP_FAULT && st->fault_clear) {
                if (strcmp(st->fault_clear, "all") == 0)
                        snprintf(path, sizeof(path), "/_lemu/functions/%s/faults", st->function);
                else
                        snprintf(path, sizeof(path), "/_lemu/functions/%s/faults/%s", st->function,
                                 st->fault_clear);
                method = "DELETE";
        } else if (st->kind == SCN_STEP_FAULT) {
                snprintf(path, sizeof(path), "/_lemu/functions/%s/faults", st->function);
                body = st->fault_json;
                len = st->fault_len;
        } else if (st->kind == SCN_STEP_LIFECYCLE) {
                snprintf(path, sizeof(path), "/_lemu/functions/%s/lifecycle", st->function);
                method = "PUT";
                body = st->lifecycle_json;
                len = st->lifecycle_len;
        } else {
                snprintf(path, sizeof(path), "/_lemu/wait-idle?timeout_s=%g", st->wait_timeout_s);
        }
        int e = call(r, method, path, body, len, st->read_timeout_s, &resp);
        if (e < 0) {
                fail_line(res, "transport error: %s", resp.err);
                res->service = true;
        } else if (resp.status == 408 && st->kind == SCN_STEP_WAIT_IDLE) {
                fail_line(res, "still busy after %g s: %.*s", st->wait_timeout_s,
                          (int) resp.body.len, resp.body.data);
        } else if (resp.status != (st->kind == SCN_STEP_FAULT && !st->fault_clear ? 201 : 200)) {
                fail_line(res, "service error: %s %s answered %d: %.*s", method, path, resp.status,
                          (int) MIN(resp.body.len, (size_t) 500), resp.body.data);
                res->service = true;
        }
        response_free(&resp);
}

static void finding_free(Finding *f) {
        free(f->kind);
        free(f->path);
        free(f->function);
        free(f->text);
}

static const char *str_item(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

/*
 * Waits for the server to be idle (shadow runs land late), then collects every finding not
 * looked at before. Return: 0, or -errno with @why written (a transport or service error).
 */
static int new_findings(Run *r, double wait_s, Finding **ret, size_t *ret_n, char *why, size_t wn) {
        Finding *list = NULL;
        size_t n = 0;
        uint64_t since = 0;
        Response resp;
        char path[96];

        snprintf(path, sizeof(path), "/_lemu/wait-idle?timeout_s=%g", wait_s);
        int e = call(r, "POST", path, NULL, 0, wait_s + 30, &resp);
        if (e == 0 && resp.status == 408)
                out_printf(r->o->fd,
                           "%slemu: the server is still busy after %g s: findings may come "
                           "later\n",
                           r->o->tty ? "\r\033[K" : "", wait_s);
        response_free(&resp);
        for (;;) {
                snprintf(path, sizeof(path), "/_lemu/invocations?since=%llu",
                         (unsigned long long) since);
                e = call(r, "GET", path, NULL, 0, 30, &resp);
                if (e == 0 && resp.status != 200)
                        e = -EPROTO;
                cJSON *j = e == 0 ? cJSON_ParseWithLength(resp.body.data, resp.body.len) : NULL;
                const cJSON *invs = cJSON_GetObjectItemCaseSensitive(j, "invocations");
                const cJSON *next = cJSON_GetObjectItemCaseSensitive(j, "next_since");
                const cJSON *dropped = cJSON_GetObjectItemCaseSensitive(j, "dropped");
                if (e == 0 && (!cJSON_IsArray(invs) || !cJSON_IsNumber(next)))
                        e = -EBADMSG;
                if (e < 0) {
                        snprintf(why, wn, "cannot read the invocation records: %s",
                                 resp.err[0] ? resp.err : strerror(-e));
                        cJSON_Delete(j);
                        response_free(&resp);
                        for (size_t k = 0; k < n; k++)
                                finding_free(&list[k]);
                        free(list);
                        return e;
                }
                if (cJSON_IsNumber(dropped) && dropped->valuedouble > (double) r->dropped)
                        r->dropped = (uint64_t) dropped->valuedouble;
                const cJSON *rec;
                cJSON_ArrayForEach (rec, invs) {
                        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(rec, "seq");
                        const cJSON *fs = cJSON_GetObjectItemCaseSensitive(rec, "findings");
                        if (!cJSON_IsNumber(seq) || !cJSON_IsArray(fs) || seq->valuedouble < 0)
                                continue;
                        size_t s = (size_t) seq->valuedouble;
                        if (s >= r->n_seen) {
                                size_t cap = MAX(s + 1, r->n_seen * 2);
                                r->seen = xrealloc(r->seen, cap * sizeof(uint32_t));
                                memset(r->seen + r->n_seen, 0,
                                       (cap - r->n_seen) * sizeof(uint32_t));
                                r->n_seen = cap;
                        }
                        uint32_t idx = 0;
                        const cJSON *f;
                        cJSON_ArrayForEach (f, fs) {
                                if (idx++ < r->seen[s])
                                        continue;
                                const char *kind = str_item(f, "kind"), *fp = str_item(f, "path");
                                const char *detail = str_item(f, "detail");
                                const char *fn = str_item(rec, "function");
                                const char *rid = str_item(rec, "request_id");
                                list = xrealloc(list, (n + 1) * sizeof(Finding));
                                list[n] = (Finding){
                                        .kind = xstrdup(kind ? kind : "?"),
                                        .path = fp ? xstrdup(fp) : NULL,
                                        .function = xstrdup(fn ? fn : "?"),
                                        .text = xasprintf("%s%s%s in %s (request %s)%s%s",
                                                          kind ? kind : "?", fp ? " at " : "",
                                                          fp ? fp : "", fn ? fn : "?",
                                                          rid ? rid : "?", detail ? ": " : "",
                                                          detail ? detail : ""),
                                };
                                n++;
                        }
                        r->seen[s] = MAX(r->seen[s], idx);
                }
                uint64_t nx = (uint64_t) next->valuedouble;
                bool more = cJSON_GetArraySize(invs) > 0 && nx > since;
                cJSON_Delete(j);
                response_free(&resp);
                if (!more)
                        break;
                since = nx;
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

static bool claim_matches(const ScnClaim *c, const Finding *f) {
        return strcmp(c->kind, f->kind) == 0 &&
               (!c->path || (f->path && strcmp(c->path, f->path) == 0));
}

static void step_findings(Run *r, const ScnStep *st, StepResult *res) {
        Finding *list = NULL;
        size_t n = 0;
        char why[256];

        if (new_findings(r, 30, &list, &n, why, sizeof(why)) < 0) {
                fail_line(res, "%s", why);
                res->service = true;
                return;
        }
        snprintf(res->note, sizeof(res->note), "%zu finding%s", n, n == 1 ? "" : "s");
        for (size_t k = 0; k < n; k++)
                buf_printf(&res->out, "finding: %s\n", list[k].text);
        if (st->findings_none) {
                if (n)
                        fail_line(res, "expected no findings, got %zu:", n);
                for (size_t k = 0; k < n; k++)
                        buf_printf(&res->detail, "  %s\n", list[k].text);
        } else {
                for (size_t c = 0; c < st->n_claims; c++) {
                        const ScnClaim *cl = &st->claims[c];
                        bool found = false;
                        for (size_t k = 0; k < n && !found; k++)
                                found = claim_matches(cl, &list[k]);
                        if (!found)
                                fail_line(res, "expected a %s finding%s%s, got none%s", cl->kind,
                                          cl->path ? " at " : "", cl->path ? cl->path : "",
                                          n ? "; found:" : "");
                }
                if (res->failed)
                        for (size_t k = 0; k < n; k++)
                                buf_printf(&res->detail, "  %s\n", list[k].text);
                /* What no entry claims stays unclaimed: it fails the run at the end. */
                for (size_t k = 0; k < n; k++) {
                        bool claimed = false;
                        for (size_t c = 0; c < st->n_claims && !claimed; c++)
                                claimed = claim_matches(&st->claims[c], &list[k]);
                        if (claimed || res->failed) {
                                finding_free(&list[k]);
                                continue;
                        }
                        r->unclaimed =
                                xrealloc(r->unclaimed, (r->n_unclaimed + 1) * sizeof(Finding));
                        r->unclaimed[r->n_unclaimed++] = list[k];
                }
                free(list);
                return;
        }
        for (size_t k = 0; k < n; k++)
                finding_free(&list[k]);
        free(list);
}

/* ---- progress --------------------------------------------------------------------------- */

static void indent(Buf *b, const Buf *text, const char *pad) {
        const char *p = text->data;

        while (p && *p) {
                size_t l = strcspn(p, "\n");
                buf_printf(b, "%s%.*s\n", pad, (int) l, p);
                p += l + (p[l] == '\n');
        }
}

static void progress_start(const Run *r, const ScnStep *st) {
        char title[256];

        if (!r->o->tty)
                return;
        scn_step_title(st, title, sizeof(title));
        out_printf(r->o->fd, "\r\033[K[%u/%zu] %s...", st->index + 1, r->scn.n_steps, title);
}

static void progress_end(const Run *r, const ScnStep *st, const StepResult *res) {
        char title[256];
        Buf b = BUF_INIT;

        if (r->o->tty && !res->failed)
                return;
        scn_step_title(st, title, sizeof(title));
        if (r->o->tty)
                buf_puts(&b, "\r\033[K");
        buf_printf(&b, "[%u/%zu] %s: %s", st->index + 1, r->scn.n_steps, title,
                   res->failed ? "FAILED" : "ok");
        if (res->note[0] && !res->failed)
                buf_printf(&b, " (%s)", res->note);
        buf_puts(&b, "\n");
        indent(&b, &res->detail, "    ");
        if (res->failed && st->kind == SCN_STEP_INVOKE)
                indent(&b, &res->out, "    | ");
        out_write(r->o->fd, b.data, b.len);
        buf_free(&b);
}

/* ---- the threads ------------------------------------------------------------------------- */

static void runner(void *arg) {
        Run *r = arg;
        uint64_t start = clock_mono_ns();

        for (size_t i = 0; i < r->scn.n_steps && !atomic_load(&r->interrupted); i++) {
                const ScnStep *st = &r->scn.steps[i];
                StepResult *res = &r->res[i];
                uint64_t t0 = clock_mono_ns();

                progress_start(r, st);
                switch (st->kind) {
                case SCN_STEP_INVOKE:
                        step_invoke(r, st, res);
                        break;
                case SCN_STEP_SLEEP: {
                        struct timespec ts = { st->sleep_ms / 1000,
                                               (long) (st->sleep_ms % 1000) * 1000000 };
                        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                                ;
                        break;
                }
                case SCN_STEP_EXPECT_FINDINGS:
                        step_findings(r, st, res);
                        break;
                default:
                        step_control(r, st, res);
                        break;
                }
                res->ran = true;
                res->is_case =
                        st->has_expect || st->kind == SCN_STEP_EXPECT_FINDINGS || res->failed;
                res->secs = (double) (clock_mono_ns() - t0) / 1e9;
                progress_end(r, st, res);
        }
        /* Findings no expect_findings step looked at. */
        if (!atomic_load(&r->interrupted)) {
                Finding *list = NULL;
                size_t n = 0;
                char why[256];
                if (new_findings(r, 10, &list, &n, why, sizeof(why)) < 0) {
                        out_printf(r->o->fd, "%slemu: %s\n", r->o->tty ? "\r\033[K" : "", why);
                        r->exit_code = EXIT_SERVICE;
                }
                if (n) {
                        r->unclaimed =
                                xrealloc(r->unclaimed, (r->n_unclaimed + n) * sizeof(Finding));
                        memcpy(r->unclaimed + r->n_unclaimed, list, n * sizeof(Finding));
                        r->n_unclaimed += n;
                }
                free(list);
        }
        for (size_t k = 0; k < r->n_unclaimed; k++)
                out_printf(r->o->fd, "%sunclaimed finding: %s\n", r->o->tty ? "\r\033[K" : "",
                           r->unclaimed[k].text);
        if (r->o->tty)
                out_write(r->o->fd, "\r\033[K", 4);
        r->secs = (double) (clock_mono_ns() - start) / 1e9;
        for (size_t k = 0; k < ARRAY_SIZE(r->conns); k++)
                conn_close(&r->conns[k]);
        uv_async_send(&r->stop);
}

static void on_stop(uv_async_t *a) {
        Run *r = a->data;

        uv_close((uv_handle_t *) &r->stop, NULL);
        emu_shutdown(&r->emu);
}

static void on_signal(uv_signal_t *s, int signum) {
        Run *r = container_of(s->data, Run, emu);

        if (atomic_exchange(&r->interrupted, 1)) {
                /* A second signal stops at once; the launchers die with us. */
                _exit(EXIT_SERVICE);
        }
        out_printf(r->o->fd, "%slemu: interrupted, stopping\n", r->o->tty ? "\r\033[K" : "");
        emu_shutdown(&r->emu);
}

/* Runs one scenario. Return: 0 when it ran (failures are in its results), else an exit code. */
static int run_one(Run *r) {
        uv_thread_t tid;
        sigset_t all, old;

        for (size_t k = 0; k < ARRAY_SIZE(r->conns); k++)
                r->conns[k].fd = -1;
        r->res = xcalloc(r->scn.n_steps, sizeof(StepResult));
        uv_loop_init(&r->loop);
        int e = emu_init(&r->emu, &r->loop, &r->cfg, false, NULL);
        if (e < 0) {
                out_printf(r->o->fd, "lemu: cannot find the sandbox launcher '%s': %s\n",
                           r->emu.launcher_path, strerror(-e));
                emu_shutdown(&r->emu);
                uv_run(&r->loop, UV_RUN_DEFAULT);
                emu_deinit(&r->emu);
                (void) uv_loop_close(&r->loop);
                return EXIT_USAGE;
        }
        /* Function output is kept per invocation; a failed step shows its invocation's log. */
        emu_start(&r->emu);
        r->emu.logs.quiet = true;
        char jerr[512];
        e = emu_open_journal(&r->emu, NULL, jerr, sizeof(jerr)); /* private: runs side by side */
        if (e < 0) {
                out_printf(r->o->fd, "lemu: %s\n", jerr);
                emu_shutdown(&r->emu);
                uv_run(&r->loop, UV_RUN_DEFAULT);
                emu_deinit(&r->emu);
                (void) uv_loop_close(&r->loop);
                return EXIT_USAGE;
        }
        e = emu_listen(&r->emu, "127.0.0.1:0");
        if (e < 0) {
                out_printf(r->o->fd, "lemu: cannot listen on 127.0.0.1:0: %s\n", uv_strerror(e));
                emu_shutdown(&r->emu);
                uv_run(&r->loop, UV_RUN_DEFAULT);
                emu_deinit(&r->emu);
                (void) uv_loop_close(&r->loop);
                return EXIT_USAGE;
        }
        r->port = http_server_port(&r->emu.api);
        uv_async_init(&r->loop, &r->stop, on_stop);
        r->stop.data = r;
        /* The Emulator's signal handles (it closes them when it stops), with our callback:
         * the runner must learn of the interruption too. */
        emu_handle_signals(&r->emu);
        uv_signal_start(&r->emu.sigint, on_signal, SIGINT);
        uv_signal_start(&r->emu.sigterm, on_signal, SIGTERM);

        /* Signals are the loop thread's business. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        e = uv_thread_create(&tid, runner, r);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (e < 0) {
                out_printf(r->o->fd, "lemu: cannot start the scenario thread: %s\n",
                           uv_strerror(e));
                on_stop(&r->stop);
                uv_run(&r->loop, UV_RUN_DEFAULT);
                emu_deinit(&r->emu);
                (void) uv_loop_close(&r->loop);
                return EXIT_USAGE;
        }
        uv_run(&r->loop, UV_RUN_DEFAULT);
        uv_thread_join(&tid);
        emu_deinit(&r->emu);
        if (uv_loop_close(&r->loop) != 0)
                out_printf(r->o->fd, "lemu: the loop still had handles at the end\n");
        r->ran = true;
        return 0;
}

/* ---- reports ------------------------------------------------------------------------------ */

/* XML text: escaped, without the characters XML 1.0 forbids, bytes of bad UTF-8 as '?'. */
static void xml_text(FILE *f, const char *p, size_t n) {
        bool utf8 = utf8_valid(p, n);

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) p[i];
                if (c == '&')
                        fputs("&amp;", f);
                else if (c == '<')
                        fputs("&lt;", f);
                else if (c == '>')
                        fputs("&gt;", f);
                else if (c == '"')
                        fputs("&quot;", f);
                else if (c == '\n' || c == '\t')
                        fputc(c, f);
                else if (c < 0x20 || (c >= 0x80 && !utf8))
                        fputc('?', f);
                else
                        fputc(c, f);
        }
}

static void xml_str(FILE *f, const char *s) {
        xml_text(f, s, strlen(s));
}

/* The failure message attribute: the mismatches on one line. */
static void xml_message(FILE *f, const Buf *detail) {
        Buf b = BUF_INIT;

        for (const char *p = detail->data; p && *p;) {
                size_t l = strcspn(p, "\n");
                buf_printf(&b, "%s%.*s", b.len ? "; " : "", (int) l, p);
                p += l + (p[l] == '\n');
        }
        xml_text(f, b.data ? b.data : "", b.len);
        buf_free(&b);
}

static void run_counts(const Run *r, size_t *ret_cases, size_t *ret_failed) {
        size_t cases = r->n_unclaimed, failed = r->n_unclaimed;

        for (size_t i = 0; i < r->scn.n_steps; i++) {
                cases += r->res && r->res[i].is_case;
                failed += r->res && r->res[i].is_case && r->res[i].failed;
        }
        *ret_cases = cases;
        *ret_failed = failed;
}

static void junit_suite(FILE *f, const Run *r) {
        size_t cases, failed;
        char title[256], stamp[32];
        time_t now = time(NULL);
        struct tm tm;

        gmtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        run_counts(r, &cases, &failed);
        fputs("  <testsuite name=\"", f);
        xml_str(f, r->scn.name);
        fprintf(f,
                "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"0\" time=\"%.3f\" "
                "timestamp=\"%s\" file=\"",
                cases, failed, r->secs, stamp);
        xml_str(f, r->scn.path);
        fprintf(f,
                "\">\n    <properties>\n      <property name=\"seed\" value=\"%llu\"/>\n"
                "    </properties>\n",
                (unsigned long long) r->cfg.seed);
        for (size_t i = 0; i < r->scn.n_steps; i++) {
                const StepResult *res = &r->res[i];
                if (!res->is_case)
                        continue;
                scn_step_title(&r->scn.steps[i], title, sizeof(title));
                fputs("    <testcase name=\"", f);
                xml_str(f, title);
                fputs("\" classname=\"", f);
                xml_str(f, r->scn.name);
                fprintf(f, "\" time=\"%.3f\">\n", res->secs);
                if (res->failed) {
                        fputs("      <failure message=\"", f);
                        xml_message(f, &res->detail);
                        fprintf(f, "\" type=\"%s\">", res->service ? "service" : "expectation");
                        xml_text(f, res->detail.data ? res->detail.data : "", res->detail.len);
                        fputs("</failure>\n", f);
                }
                if (res->out.len) {
                        fputs("      <system-out>", f);
                        xml_text(f, res->out.data, res->out.len);
                        fputs("</system-out>\n", f);
                }
                fputs("    </testcase>\n", f);
        }
        for (size_t k = 0; k < r->n_unclaimed; k++) {
                const Finding *u = &r->unclaimed[k];
                fputs("    <testcase name=\"unclaimed finding: ", f);
                xml_str(f, u->kind);
                if (u->path) {
                        fputs(" at ", f);
                        xml_str(f, u->path);
                }
                fputs(" in ", f);
                xml_str(f, u->function);
                fputs("\" classname=\"", f);
                xml_str(f, r->scn.name);
                fputs("\" time=\"0\">\n      <failure message=\"no expect_findings step claims ",
                      f);
                xml_str(f, u->text);
                fputs("\" type=\"finding\">", f);
                xml_str(f, u->text);
                fputs("</failure>\n    </testcase>\n", f);
        }
        fputs("  </testsuite>\n", f);
}

static int write_junit(FILE *f, const char *file, const Run *runs, size_t n) {
        size_t cases = 0, failed = 0;
        double secs = 0;

        for (size_t i = 0; i < n; i++) {
                size_t c, fl;
                run_counts(&runs[i], &c, &fl);
                cases += c;
                failed += fl;
                secs += runs[i].secs;
        }
        fprintf(f,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"lemu test\" "
                "tests=\"%zu\" failures=\"%zu\" errors=\"0\" time=\"%.3f\">\n",
                cases, failed, secs);
        for (size_t i = 0; i < n; i++)
                if (runs[i].ran)
                        junit_suite(f, &runs[i]);
        fputs("</testsuites>\n", f);
        if (fflush(f) != 0 || ferror(f)) {
                out_printf(STDERR_FILENO, "lemu: cannot write '%s': %s\n", file, strerror(errno));
                return -EIO;
        }
        return 0;
}

/* ---- the command -------------------------------------------------------------------------- */

static int usage(const char *what, const char *arg) {
        out_printf(STDERR_FILENO, "lemu test: %s%s%s%s\nTry 'lemu help scenario' for more.\n", what,
                   arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
        return EXIT_USAGE;
}

static void run_free(Run *r) {
        if (r->res)
                for (size_t i = 0; i < r->scn.n_steps; i++) {
                        buf_free(&r->res[i].detail);
                        buf_free(&r->res[i].out);
                        free(r->res[i].env);
                }
        free(r->res);
        for (size_t k = 0; k < r->n_unclaimed; k++)
                finding_free(&r->unclaimed[k]);
        free(r->unclaimed);
        free(r->seen);
        for (size_t k = 0; k < ARRAY_SIZE(r->conns); k++)
                buf_free(&r->conns[k].in);
        buf_free(&r->req);
        if (r->cfg_built)
                cfg_deinit(&r->cfg);
        scn_deinit(&r->scn);
}

/* Worse of two exit codes: 2 > 3 > 4 > 1 > 0. */
static int worse(int a, int b) {
        static const int rank[] = { [0] = 0, [1] = 1, [4] = 2, [3] = 3, [2] = 4 };
        return rank[b] > rank[a] ? b : a;
}

int scn_main(int argc, char **argv) {
        const char *junit = NULL, *seed = NULL;
        _cleanup_free_ const char **files = xcalloc((size_t) argc, sizeof(char *));
        size_t n_files = 0;
        bool opts = true;
        char err[2048];
        int rc = EXIT_OK;

        for (int i = 2; i < argc; i++) {
                const char *a = argv[i];
                const char **dst = NULL;
                if (opts && strcmp(a, "--") == 0) {
                        opts = false;
                        continue;
                }
                if (opts && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
                        help_print("scenario");
                        return EXIT_OK;
                }
                if (opts && strncmp(a, "--junit", 7) == 0 && (a[7] == '\0' || a[7] == '='))
                        dst = &junit;
                else if (opts && strncmp(a, "--seed", 6) == 0 && (a[6] == '\0' || a[6] == '='))
                        dst = &seed;
                else if (opts && a[0] == '-' && a[1])
                        return usage("unknown option", a);
                if (!dst) {
                        files[n_files++] = a;
                        continue;
                }
                const char *eq = strchr(a, '=');
                if (!eq && i + 1 >= argc)
                        return usage("a value is missing after", a);
                *dst = eq ? eq + 1 : argv[++i];
        }
        if (n_files == 0)
                return usage("which SCENARIO.json?", NULL);

        /* Everything is read and checked before anything runs. */
        Run *runs = xcalloc(n_files, sizeof(Run));
        Output o = { .tty = isatty(STDERR_FILENO) == 1, .fd = STDERR_FILENO };
        FILE *jf = NULL;
        for (size_t i = 0; i < n_files && rc == EXIT_OK; i++) {
                Run *r = &runs[i];
                r->o = &o;
                if (scn_load_file(&r->scn, files[i], err, sizeof(err)) < 0 ||
                    (r->cfg_built = true,
                     scn_build_config(&r->scn, &r->cfg, seed, err, sizeof(err)) < 0) ||
                    scn_bind(&r->scn, &r->cfg, err, sizeof(err)) < 0) {
                        out_printf(STDERR_FILENO, "lemu: %s\n", err);
                        rc = EXIT_USAGE;
                        break;
                }
                for (size_t w = 0; w < r->cfg.n_warnings; w++)
                        out_printf(STDERR_FILENO, "lemu: %s: config: %s\n", r->scn.path,
                                   r->cfg.warnings[w]);
        }
        if (rc == EXIT_OK && junit) {
                jf = fopen(junit, "we");
                if (!jf) {
                        out_printf(STDERR_FILENO, "lemu: cannot write '%s': %s\n", junit,
                                   strerror(errno));
                        rc = EXIT_USAGE;
                }
        }

        size_t cases = 0, failed = 0;
        for (size_t i = 0; i < n_files && rc == EXIT_OK; i++) {
                Run *r = &runs[i];
                out_printf(STDERR_FILENO, "%s: '%s', %zu steps, seed %llu\n", r->scn.path,
                           r->scn.name, r->scn.n_steps, (unsigned long long) r->cfg.seed);
                int e = run_one(r);
                if (e) {
                        rc = e;
                        break;
                }
                size_t c, fl;
                run_counts(r, &c, &fl);
                cases += c;
                failed += fl;
                if (fl)
                        rc = worse(rc, EXIT_FUNCTION_ERROR);
                for (size_t k = 0; k < r->scn.n_steps; k++)
                        if (r->res[k].service)
                                rc = worse(rc, EXIT_SERVICE);
                rc = worse(rc, r->exit_code);
                if (atomic_load(&r->interrupted)) {
                        rc = worse(rc, EXIT_SERVICE);
                        break;
                }
        }
        if (rc != EXIT_USAGE) {
                for (size_t i = 0; i < n_files; i++)
                        if (runs[i].dropped)
                                out_printf(STDERR_FILENO,
                                           "lemu: %s: %llu invocation records were dropped "
                                           "(records_max): their findings were not seen\n",
                                           runs[i].scn.path, (unsigned long long) runs[i].dropped);
                if (jf && write_junit(jf, junit, runs, n_files) < 0)
                        rc = worse(rc, EXIT_SERVICE);
                out_printf(STDOUT_FILENO, "%zu passed, %zu failed\n", cases - failed, failed);
        }
        if (jf)
                fclose(jf);
        for (size_t i = 0; i < n_files; i++)
                run_free(&runs[i]);
        free(runs);
        return rc;
}
