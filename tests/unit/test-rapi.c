/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the Runtime API: the error-type sanitiser of spec §1.5, and the runtime state
 * machine of spec §1.9 with the answers of §1.8, over real HTTP. Each loop test binds a Rapi
 * on its own loopback address, plays a runtime from a client thread with blocking sockets,
 * and hands events over from the loop whenever the Rapi reports the runtime ready. What the
 * owner was told (ready, result, init_error) and what the runtime read are asserted on the
 * main thread once both are done; every loop test ends with uv_loop_close() == 0.
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
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cmocka.h>
#include <uv.h>

#include "buf.h"
#include "rapi.h"

#define FAILSAFE_MS 5000
#define CLIENT_IO_S 3
#define MAX_RESPS   24
#define MAX_RESULTS 8
#define P           "/2018-06-01/runtime"

/* ---- rapi_sanitize_error_type ---- */

static void expect_type(const char *in, const char *out) {
        char buf[128];

        memset(buf, 'X', sizeof(buf));
        rapi_sanitize_error_type((Slice){ in, strlen(in) }, buf, sizeof(buf));
        assert_string_equal(buf, out);
}

static void test_sanitize_error_type(void **state) {
        expect_type("Runtime.Foo", "Runtime.Foo");
        expect_type("Runtime.ImportModuleError", "Runtime.ImportModuleError");
        expect_type("Function.BarBaz", "Function.BarBaz");
        expect_type("Function.bad", "Function.Unknown");
        expect_type("Function.B", "Function.Unknown"); /* one letter after the capital needed */
        expect_type("Function.Bad1", "Function.Unknown");
        expect_type("Function.", "Function.Unknown"); /* starts with "Function." */
        expect_type("Unhandled", "Runtime.Unknown");
        expect_type("Runtime.A1", "Runtime.Unknown"); /* a digit */
        expect_type("Runtime.Ab-c", "Runtime.Unknown");
        expect_type("Runtime.", "Runtime.Unknown");
        expect_type("", "Runtime.Unknown");
        expect_type("runtime.Foo", "Runtime.Unknown");
        expect_type("Sandbox.Timeout", "Runtime.Unknown");
        expect_type(" Function.Foo", "Runtime.Unknown");
        expect_type("Function.Foo ", "Function.Unknown");
        expect_type("Runtime.Foo\n", "Runtime.Unknown");
}

static void test_sanitize_error_type_small_buffer(void **state) {
        char buf[16];

        /* A type that does not fit is not cut into another valid-looking type. */
        rapi_sanitize_error_type((Slice){ "Runtime.VeryLongErrorName", 25 }, buf, sizeof(buf));
        assert_string_equal(buf, "Runtime.Unknown");
        /* Only the slice's bytes count. */
        rapi_sanitize_error_type((Slice){ "Runtime.Foo1", 11 }, buf, sizeof(buf));
        assert_string_equal(buf, "Runtime.Foo");
}

static void test_state_names(void **state) {
        assert_string_equal(rapi_state_name(RAPI_STARTED), "Started");
        assert_string_equal(rapi_state_name(RAPI_READY), "Ready");
        assert_string_equal(rapi_state_name(RAPI_RUNNING), "Running");
        assert_string_equal(rapi_state_name(RAPI_RESPONDED), "RuntimeResponseSentState");
        assert_string_equal(rapi_state_name(RAPI_INIT_ERROR), "InitError");
        assert_string_equal(rapi_state_name(_RAPI_STATE_INVALID), "Unknown");
}

/* ---- a runtime client (in its own thread) ---- */

typedef struct Client {
        int fd;
        Buf in;
} Client;

typedef struct Resp {
        int status;
        Buf head;
        Buf body;
} Resp;

static int client_connect(Client *cl, const char *address) {
        char ip[32];
        struct sockaddr_in a = { .sin_family = AF_INET };
        struct timeval tv = { .tv_sec = CLIENT_IO_S };
        const char *colon = strchr(address, ':');

        cl->in = BUF_INIT;
        cl->fd = -1;
        if (!colon || (size_t) (colon - address) >= sizeof(ip))
                return -EINVAL;
        snprintf(ip, sizeof(ip), "%.*s", (int) (colon - address), address);
        a.sin_port = htons((uint16_t) atoi(colon + 1));
        if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
                return -EINVAL;
        cl->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (cl->fd < 0)
                return -errno;
        (void) setsockopt(cl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(cl->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
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
                        if (out)
                                snprintf(out, n, "%.*s", (int) len, v);
                        return true;
                }
        }
        return false;
}

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
        if (head_header(&r->head, "Content-Length", v, sizeof(v)))
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

/* ---- the owner side (on the loop) ---- */

typedef struct Result {
        RapiOutcome outcome;
        Buf body;
        uint64_t body_bytes;
        char content_type[128];
        char error_type[128];
        RapiState state_after;
        char request_id[64];
} Result;

typedef struct Test Test;
typedef void (*client_fn)(Test *t, Client *cl);

struct Test {
        uv_loop_t loop;
        Rapi rapi;
        HttpLimits limits;
        uv_timer_t failsafe;
        uv_timer_t deliver_timer;
        uv_async_t done;
        pthread_t thread;
        bool closing;
        bool timed_out;
        bool rapi_closed;
        int init_rc;

        /* events handed over, one per ready() */
        RapiEvent events[4];
        unsigned n_events;
        unsigned n_ready;
        unsigned n_delivered;
        uint64_t deliver_delay_ms;
        int deliver_rc[4];
        RapiState state_at_ready[8];

        Result results[MAX_RESULTS];
        unsigned n_results;
        Result init_err;
        unsigned n_init_errors;

        /* streamed bodies, as the owner got them */
        Buf streamed;
        unsigned n_stream_begins;
        char stream_ct[128];

        /* what the runtime read */
        /* Managed Instances mode */
        unsigned concurrency;
        const RapiOps *ops;
        char orphaned[4][64];
        unsigned n_orphaned;
        unsigned n_late;

        client_fn client;
        Resp resp[MAX_RESPS];
        unsigned n_resp;
        int rc[4];
};

static Test *ctx_new(void) {
        Test *t = calloc(1, sizeof(*t));

        assert_non_null(t);
        t->limits = (HttpLimits){
                .max_connections = 64,
                .max_header_bytes = 65536,
                .max_headers = 100,
                .header_timeout_ms = 0,
                .discard_max = RAPI_DISCARD_MAX,
        };
        return t;
}

static void ctx_free(Test *t) {
        for (unsigned i = 0; i < MAX_RESULTS; i++)
                buf_free(&t->results[i].body);
        buf_free(&t->init_err.body);
        buf_free(&t->streamed);
        for (unsigned i = 0; i < MAX_RESPS; i++) {
                buf_free(&t->resp[i].head);
                buf_free(&t->resp[i].body);
        }
        free(t);
}

static void deliver_cb(uv_timer_t *h) {
        Test *t = h->data;

        if (t->n_delivered < t->n_events && t->n_delivered < 4) {
                t->deliver_rc[t->n_delivered] = rapi_deliver(&t->rapi, &t->events[t->n_delivered]);
                t->n_delivered++;
        }
}

static void op_ready(Rapi *r) {
        Test *t = r->data;

        if (t->n_ready < 8)
                t->state_at_ready[t->n_ready] = r->state;
        t->n_ready++;
        /* Handed over later, from the loop, as the scheduler does. */
        uv_timer_start(&t->deliver_timer, deliver_cb, t->deliver_delay_ms, 0);
}

static void take_result(Result *out, Rapi *r, RapiResult *res) {
        out->outcome = res->outcome;
        out->body = res->body;
        res->body = BUF_INIT;
        out->body_bytes = res->body_bytes;
        memcpy(out->content_type, res->content_type, sizeof(out->content_type));
        memcpy(out->error_type, res->error_type, sizeof(out->error_type));
        memcpy(out->request_id, res->request_id, sizeof(out->request_id));
        out->state_after = r->state;
}

static void op_result(Rapi *r, RapiResult *res) {
        Test *t = r->data;

        if (t->n_results < MAX_RESULTS)
                take_result(&t->results[t->n_results], r, res);
        else
                buf_free(&res->body);
        t->n_results++;
}

static void op_init_error(Rapi *r, RapiResult *res) {
        Test *t = r->data;

        buf_free(&t->init_err.body);
        take_result(&t->init_err, r, res);
        t->n_init_errors++;
}

static void op_stream_begin(Rapi *r, const char *content_type) {
        Test *t = r->data;

        t->n_stream_begins++;
        snprintf(t->stream_ct, sizeof(t->stream_ct), "%s", content_type);
        buf_append(&t->streamed, "|", 1); /* marks where each stream begins */
}

static void op_stream_data(Rapi *r, const char *data, size_t len) {
        Test *t = r->data;

        buf_append(&t->streamed, data, len);
}

static const RapiOps test_ops = {
        .ready = op_ready,
        .result = op_result,
        .stream_begin = op_stream_begin,
        .stream_data = op_stream_data,
        .init_error = op_init_error,
};

static void rapi_closed(Rapi *r) {
        Test *t = r->data;

        t->rapi_closed = true;
}

static void close_all(Test *t) {
        if (t->closing)
                return;
        t->closing = true;
        rapi_close(&t->rapi, rapi_closed);
        uv_close((uv_handle_t *) &t->failsafe, NULL);
        uv_close((uv_handle_t *) &t->deliver_timer, NULL);
}

static void failsafe_cb(uv_timer_t *h) {
        Test *t = h->data;

        t->timed_out = true;
        close_all(t);
}

static void done_cb(uv_async_t *h) {
        Test *t = h->data;

        close_all(t);
        uv_close((uv_handle_t *) &t->done, NULL);
}

static void *client_main(void *arg) {
        Test *t = arg;
        Client cl;

        if (client_connect(&cl, t->rapi.address) == 0)
                t->client(t, &cl);
        client_close(&cl);
        uv_async_send(&t->done);
        return NULL;
}

static void run(Test *t, client_fn client) {
        assert_int_equal(uv_loop_init(&t->loop), 0);
        t->init_rc = rapi_init(&t->rapi, &t->loop, t->ops ? t->ops : &test_ops, &t->limits, t);
        assert_int_equal(t->init_rc, 0);
        if (t->concurrency)
                rapi_set_concurrency(&t->rapi, t->concurrency);
        assert_true(t->rapi.open);
        assert_int_equal(t->rapi.state, RAPI_STARTED);
        assert_false(rapi_waiting(&t->rapi));
        /* "127.x.y.z:9001", never 127.0.0.1 (left to the host). */
        unsigned a, b, c, d, port;
        assert_int_equal(sscanf(t->rapi.address, "%u.%u.%u.%u:%u", &a, &b, &c, &d, &port), 5);
        assert_int_equal(a, 127);
        assert_int_equal(port, 9001);
        assert_false(b == 0 && c == 0 && d == 1);
        assert_true(d != 0 && d != 255);
        /* Nothing to hand over yet. */
        assert_int_equal(rapi_deliver(&t->rapi, &t->events[0]), -EAGAIN);

        uv_timer_init(&t->loop, &t->failsafe);
        t->failsafe.data = t;
        uv_timer_start(&t->failsafe, failsafe_cb, FAILSAFE_MS, 0);
        uv_timer_init(&t->loop, &t->deliver_timer);
        t->deliver_timer.data = t;
        uv_async_init(&t->loop, &t->done, done_cb);
        t->done.data = t;
        t->client = client;
        assert_int_equal(pthread_create(&t->thread, NULL, client_main, t), 0);
        uv_run(&t->loop, UV_RUN_DEFAULT);
        assert_int_equal(pthread_join(t->thread, NULL), 0);
        assert_int_equal(uv_loop_close(&t->loop), 0);
        assert_false(t->timed_out);
        assert_true(t->rapi_closed);
        assert_false(t->rapi.open);
}

/* Sends a request and reads its answer into the next t->resp. */
static void call(Test *t, Client *cl, const char *method, const char *path, const char *headers,
                 const char *body) {
        Buf req = BUF_INIT;
        size_t blen = body ? strlen(body) : 0;

        buf_printf(&req, "%s %s HTTP/1.1\r\nHost: rapi\r\n%s", method, path,
                   headers ? headers : "");
        if (body)
                buf_printf(&req, "Content-Length: %zu\r\n", blen);
        buf_puts(&req, "\r\n");
        if (body)
                buf_append(&req, body, blen);
        if (client_send(cl, req.data, req.len) == 0 && t->n_resp < MAX_RESPS &&
            client_read_response(cl, &t->resp[t->n_resp]) == 0)
                t->n_resp++;
        buf_free(&req);
}

static void assert_resp(const Test *t, unsigned i, int status, const char *body) {
        if (i >= t->n_resp)
                fail_msg("response %u missing (%u read)", i, t->n_resp);
        const Resp *r = &t->resp[i];
        if (r->status != status)
                fail_msg("response %u: status %d, expected %d: '%s'", i, r->status, status,
                         r->body.data);
        assert_int_equal(r->body.len, strlen(body));
        assert_memory_equal(r->body.data, body, r->body.len);
}

static void assert_header(const Resp *r, const char *name, const char *value) {
        char v[512];

        if (!head_header(&r->head, name, v, sizeof(v)))
                fail_msg("no %s header in '%s'", name, r->head.data);
        assert_string_equal(v, value);
}

static const char INVALID_ID[] = "{\"errorMessage\":\"Invalid request ID\","
                                 "\"errorType\":\"InvalidRequestID\"}\n";
static const char ACCEPTED[] = "{\"status\":\"OK\"}\n";

static char *transition(const char *from, const char *to) {
        static char buf[4][256];
        static int k;
        char *b = buf[k++ % 4];

        snprintf(b, 256,
                 "{\"errorMessage\":\"State transition from %s to %s failed for runtime. Error: "
                 "State transition is not allowed\",\"errorType\":\"InvalidStateTransition\"}\n",
                 from, to);
        return b;
}

#define ID1 "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
#define ID2 "1d5f3c0a-0000-4000-8000-000000000002"
#define ID3 "1d5f3c0a-0000-4000-8000-000000000003"
#define ID4 "1d5f3c0a-0000-4000-8000-000000000004"
#define ARN "arn:aws:lambda:us-east-1:000000000000:function:f"

static void setup_events(Test *t) {
        t->events[0] = (RapiEvent){
                .request_id = ID1,
                .deadline_ms = 1542409706888,
                .function_arn = ARN,
                .trace_id = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;"
                            "Sampled=1",
                .client_context = "{\"custom\":{\"k\":\"v\"}}",
                .cognito_identity = NULL,
                .invocation_id = "inv-1",
                .payload = { "{\"n\":1}", 7 },
        };
        t->events[1] = (RapiEvent){
                .request_id = ID2,
                .deadline_ms = 1000,
                .function_arn = ARN ":prod",
                .payload = { "[]", 2 },
        };
        t->events[2] = (RapiEvent){
                .request_id = ID3,
                .deadline_ms = 3000,
                .function_arn = ARN,
                .invocation_id = "inv-3",
                .payload = { "{}", 2 },
        };
        t->events[3] = (RapiEvent){
                .request_id = ID4,
                .deadline_ms = 4000,
                .function_arn = ARN,
                .payload = { "\"big\"", 5 },
        };
        t->n_events = 4;
}

static void runtime_lifecycle(Test *t, Client *cl) {
        /* 0, 1: ping and an unknown path */
        call(t, cl, "GET", "/2018-06-01/ping", NULL, NULL);
        call(t, cl, "GET", "/2018-06-01/nope", NULL, NULL);
        /* 2: a response during init: no invocation yet */
        call(t, cl, "POST", P "/invocation/" ID1 "/response", NULL, "{}");
        /* 3: the first /next gets event 1 */
        call(t, cl, "GET", P "/invocation/next", NULL, NULL);
        /* 4: /next again while it runs: the same event */
        call(t, cl, "GET", P "/invocation/next", NULL, NULL);
        /* 5: a wrong id; 6: the right id with a stale invocation id */
        call(t, cl, "POST", P "/invocation/not-the-id/response", NULL, "{}");
        call(t, cl, "POST", P "/invocation/" ID1 "/response",
             "Lambda-Runtime-Invocation-Id: inv-0\r\n", "{}");
        /* 7: the answer */
        call(t, cl, "POST", P "/invocation/" ID1 "/response",
             "Content-Type: text/plain\r\nLambda-Runtime-Invocation-Id: inv-1\r\n", "result-1");
        /* 8: a second answer; 9: an error after the answer */
        call(t, cl, "POST", P "/invocation/" ID1 "/response", NULL, "again");
        call(t, cl, "POST", P "/invocation/" ID1 "/error", NULL, "{}");
        /* 10: /init/error once init is over */
        call(t, cl, "POST", P "/init/error", NULL, "{}");
        /* 11: /next ends invocation 1 and gets event 2 */
        call(t, cl, "GET", P "/invocation/next", NULL, NULL);
        /* 12: the old id is gone */
        call(t, cl, "POST", P "/invocation/" ID1 "/response", NULL, "late");
        /* 13: /init/error while running */
        call(t, cl, "POST", P "/init/error", NULL, "{}");
        /* 14: a function error, with an error type to sanitise */
        call(t, cl, "POST", P "/invocation/" ID2 "/error",
             "Lambda-Runtime-Function-Error-Type: Unhandled\r\n",
             "{\"errorMessage\":\"boom\",\"errorType\":\"Error\"}");
        /* 15: wrong method */
        call(t, cl, "POST", P "/invocation/next", NULL, "{}");
        /* 16: event 3 */
        call(t, cl, "GET", P "/invocation/next", NULL, NULL);
        /* 17: a bad response mode */
        call(t, cl, "POST", P "/invocation/" ID3 "/response",
             "Lambda-Runtime-Function-Response-Mode: buffered\r\n", "x");
        /* 18: event 4 */
        call(t, cl, "GET", P "/invocation/next", NULL, NULL);
        /* 19: an error with a Function.* type and the error-cause content type */
        call(t, cl, "POST", P "/invocation/" ID4 "/error",
             "Lambda-Runtime-Function-Error-Type: Function.bad\r\n"
             "Content-Type: application/vnd.aws.lambda.error.cause+json\r\n",
             "{\"errorMessage\":\"m\",\"errorCause\":{}}");
}

static void test_lifecycle(void **state) {
        Test *t = ctx_new();

        setup_events(t);
        run(t, runtime_lifecycle);

        assert_int_equal(t->n_resp, 20);
        assert_resp(t, 0, 200, "pong");
        assert_header(&t->resp[0], "Content-Type", "text/plain");
        assert_resp(t, 1, 404,
                    "{\"errorMessage\":\"Unknown endpoint\",\"errorType\":\"InvalidRequest\"}\n");
        assert_resp(t, 2, 400, INVALID_ID);
        assert_header(&t->resp[2], "Content-Type", "application/json");

        /* Event 1, with every header. */
        const Resp *ev = &t->resp[3];
        assert_resp(t, 3, 200, "{\"n\":1}");
        assert_header(ev, "Lambda-Runtime-Aws-Request-Id", ID1);
        assert_header(ev, "Lambda-Runtime-Deadline-Ms", "1542409706888");
        assert_header(ev, "Lambda-Runtime-Invoked-Function-Arn", ARN);
        assert_header(ev, "Lambda-Runtime-Trace-Id",
                      "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;"
                      "Sampled=1");
        assert_header(ev, "Lambda-Runtime-Client-Context", "{\"custom\":{\"k\":\"v\"}}");
        assert_header(ev, "Lambda-Runtime-Invocation-Id", "inv-1");
        assert_header(ev, "Content-Type", "application/json");
        assert_header(ev, "Content-Length", "7");
        assert_false(head_header(&ev->head, "Lambda-Runtime-Cognito-Identity", NULL, 0));
        /* The same event again. */
        assert_resp(t, 4, 200, "{\"n\":1}");
        assert_header(&t->resp[4], "Lambda-Runtime-Aws-Request-Id", ID1);
        assert_header(&t->resp[4], "Lambda-Runtime-Invocation-Id", "inv-1");

        assert_resp(t, 5, 400, INVALID_ID);
        assert_resp(t, 6, 400, INVALID_ID);
        assert_resp(t, 7, 202, ACCEPTED);
        assert_header(&t->resp[7], "Content-Type", "application/json");
        assert_resp(t, 8, 403, transition("RuntimeResponseSentState", "InvocationResponse"));
        assert_resp(t, 9, 403, transition("RuntimeResponseSentState", "InvocationErrorResponse"));
        assert_resp(t, 10, 403, transition("RuntimeResponseSentState", "InitError"));

        /* Event 2: no trace id, client context or invocation id: no such headers. */
        const Resp *ev2 = &t->resp[11];
        assert_resp(t, 11, 200, "[]");
        assert_header(ev2, "Lambda-Runtime-Aws-Request-Id", ID2);
        assert_header(ev2, "Lambda-Runtime-Deadline-Ms", "1000");
        assert_header(ev2, "Lambda-Runtime-Invoked-Function-Arn", ARN ":prod");
        assert_false(head_header(&ev2->head, "Lambda-Runtime-Trace-Id", NULL, 0));
        assert_false(head_header(&ev2->head, "Lambda-Runtime-Client-Context", NULL, 0));
        assert_false(head_header(&ev2->head, "Lambda-Runtime-Invocation-Id", NULL, 0));
        assert_resp(t, 12, 400, INVALID_ID);
        assert_resp(t, 13, 403, transition("Running", "InitError"));
        assert_resp(t, 14, 202, ACCEPTED);
        assert_resp(t, 15, 405,
                    "{\"errorMessage\":\"Method not allowed\",\"errorType\":\"MethodNotAllowed\"}"
                    "\n");
        assert_resp(t, 16, 200, "{}");
        assert_resp(t, 17, 400,
                    "{\"errorMessage\":\"Invalid function response mode\","
                    "\"errorType\":\"InvalidFunctionResponseMode\"}\n");
        assert_resp(t, 18, 200, "\"big\"");
        assert_resp(t, 19, 202, ACCEPTED);

        /* What the owner was told. */
        assert_int_equal(t->n_ready, 4);
        assert_int_equal(t->state_at_ready[0], RAPI_READY);
        assert_int_equal(t->n_delivered, 4);
        for (int i = 0; i < 4; i++)
                assert_int_equal(t->deliver_rc[i], 0);
        assert_int_equal(t->n_init_errors, 0);
        assert_int_equal(t->n_results, 4);

        Result *r = &t->results[0];
        assert_int_equal(r->outcome, RAPI_OUT_RESPONSE);
        assert_int_equal(r->body.len, 8);
        assert_memory_equal(r->body.data, "result-1", 8);
        assert_int_equal(r->body_bytes, 8);
        assert_string_equal(r->content_type, "text/plain");
        assert_int_equal(r->state_after, RAPI_RESPONDED);

        r = &t->results[1];
        assert_int_equal(r->outcome, RAPI_OUT_ERROR);
        assert_string_equal(r->error_type, "Runtime.Unknown");
        assert_string_equal(r->body.data, "{\"errorMessage\":\"boom\",\"errorType\":\"Error\"}");
        assert_string_equal(r->content_type, "application/json");

        r = &t->results[2];
        assert_int_equal(r->outcome, RAPI_OUT_BAD_MODE);
        assert_int_equal(r->body.len, 0);

        r = &t->results[3];
        assert_int_equal(r->outcome, RAPI_OUT_ERROR);
        assert_string_equal(r->error_type, "Function.Unknown");
        assert_string_equal(r->content_type, "application/vnd.aws.lambda.error.cause+json");
        assert_string_equal(r->body.data, "{\"errorMessage\":\"m\",\"errorCause\":{}}");
        ctx_free(t);
}

static void runtime_init_error(Test *t, Client *cl) {
        /* 0: init fails */
        call(t, cl, "POST", P "/init/error",
             "Lambda-Runtime-Function-Error-Type: Runtime.ImportModuleError\r\n",
             "{\"errorMessage\":\"no module\"}");
        /* 1: /next is refused from then on; 2: so is a second /init/error */
        call(t, cl, "GET", P "/invocation/next", NULL, NULL);
        call(t, cl, "POST", P "/init/error", NULL, "{}");
        /* 3: ping still answers */
        call(t, cl, "GET", "/2018-06-01/ping", NULL, NULL);
}

static void test_init_error(void **state) {
        Test *t = ctx_new();

        run(t, runtime_init_error);
        assert_int_equal(t->n_resp, 4);
        assert_resp(t, 0, 202, ACCEPTED);
        assert_resp(t, 1, 403, transition("InitError", "Ready"));
        assert_resp(t, 2, 403, transition("InitError", "InitError"));
        assert_resp(t, 3, 200, "pong");
        assert_int_equal(t->n_init_errors, 1);
        assert_int_equal(t->init_err.outcome, RAPI_OUT_ERROR);
        assert_string_equal(t->init_err.error_type, "Runtime.ImportModuleError");
        assert_string_equal(t->init_err.body.data, "{\"errorMessage\":\"no module\"}");
        assert_int_equal(t->init_err.state_after, RAPI_INIT_ERROR);
        assert_int_equal(t->n_ready, 0);
        assert_int_equal(t->n_results, 0);
        ctx_free(t);
}

static void runtime_too_large(Test *t, Client *cl) {
        size_t n = RAPI_MAX_RESPONSE + 1;
        char *big = malloc(n);
        char head[256];

        call(t, cl, "GET", P "/invocation/next", NULL, NULL);
        memset(big, 'z', n);
        snprintf(head, sizeof(head),
                 "POST " P "/invocation/" ID1 "/response HTTP/1.1\r\nContent-Length: %zu\r\n\r\n",
                 n);
        if (client_send(cl, head, strlen(head)) == 0 && client_send(cl, big, n) == 0 &&
            client_read_response(cl, &t->resp[t->n_resp]) == 0)
                t->n_resp++;
        free(big);
        /* The connection goes on: the invocation is over, the next /next gets event 2. */
        call(t, cl, "GET", P "/invocation/next", NULL, NULL);
        /* Exactly the limit is accepted. */
        n = RAPI_MAX_RESPONSE;
        big = malloc(n);
        memset(big, 'y', n);
        snprintf(head, sizeof(head),
                 "POST " P "/invocation/" ID2 "/response HTTP/1.1\r\nContent-Length: %zu\r\n\r\n",
                 n);
        if (client_send(cl, head, strlen(head)) == 0 && client_send(cl, big, n) == 0 &&
            client_read_response(cl, &t->resp[t->n_resp]) == 0)
                t->n_resp++;
        free(big);
}

static void test_response_too_large(void **state) {
        Test *t = ctx_new();

        setup_events(t);
        t->n_events = 2;
        run(t, runtime_too_large);
        assert_int_equal(t->n_resp, 4);
        assert_resp(t, 0, 200, "{\"n\":1}");
        assert_resp(t, 1, 413,
                    "{\"errorMessage\":\"Exceeded maximum allowed payload size (6291556 bytes).\","
                    "\"errorType\":\"RequestEntityTooLarge\"}\n");
        assert_resp(t, 2, 200, "[]");
        assert_resp(t, 3, 202, ACCEPTED);
        assert_int_equal(t->n_results, 2);
        assert_int_equal(t->results[0].outcome, RAPI_OUT_TOO_LARGE);
        assert_int_equal(t->results[0].body_bytes, RAPI_MAX_RESPONSE + 1);
        assert_int_equal(t->results[0].body.len, 0);
        assert_int_equal(t->results[1].outcome, RAPI_OUT_RESPONSE);
        assert_int_equal(t->results[1].body_bytes, RAPI_MAX_RESPONSE);
        assert_int_equal(t->results[1].body.len, RAPI_MAX_RESPONSE);
        assert_int_equal(t->results[1].body.data[0], 'y');
        assert_int_equal(t->results[1].body.data[RAPI_MAX_RESPONSE - 1], 'y');
        assert_string_equal(t->results[1].content_type, "application/json");
        ctx_free(t);
}

/* Sends raw bytes and reads one answer into the next t->resp. */
static void call_raw(Test *t, Client *cl, const char *raw) {
        if (client_send(cl, raw, strlen(raw)) == 0 && t->n_resp < MAX_RESPS &&
            client_read_response(cl, &t->resp[t->n_resp]) == 0)
                t->n_resp++;
}

#define STREAM_HEAD(id)                                                                      \
        "POST " P "/invocation/" id "/response HTTP/1.1\r\nHost: rapi\r\n"                   \
        "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n" \
        "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n"

static void runtime_streams(Test *t, Client *cl) {
        /* 0: event 1; 1: a streamed answer, chunk boundaries not kept */
        call(t, cl, "GET", P "/invocation/next", NULL, NULL);
        call_raw(t, cl,
                 STREAM_HEAD(ID1) "Content-Type: text/plain\r\n\r\n"
                                  "2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n");
        /* 2: event 2; 3: a stream that fails: the error in the trailers, base64 of
         * {"errorMessage":"bad","errorType":"Oops"}; 4: the stream is over */
        call(t, cl, "GET", P "/invocation/next", NULL, NULL);
        call_raw(t, cl,
                 STREAM_HEAD(
                         ID2) "\r\n3\r\nxyz\r\n0\r\n"
                              "Lambda-Runtime-Function-Error-Type: Oops\r\n"
                              "Lambda-Runtime-Function-Error-Body: "
                              "eyJlcnJvck1lc3NhZ2UiOiJiYWQiLCJlcnJvclR5cGUiOiJPb3BzIn0=\r\n\r\n");
        call(t, cl, "POST", P "/invocation/" ID2 "/response", NULL, "late");
        /* 5: event 3, capped at 4 bytes; 6: 7 bytes: cut at 4, the runtime gets 413 */
        call(t, cl, "GET", P "/invocation/next", NULL, NULL);
        call_raw(t, cl, STREAM_HEAD(ID3) "\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
        /* 7: event 4; then a stream whose connection breaks mid-body */
        call(t, cl, "GET", P "/invocation/next", NULL, NULL);
        const char partial[] = STREAM_HEAD(ID4) "\r\n4\r\npart\r\n";
        client_send(cl, partial, sizeof(partial) - 1);
        shutdown(cl->fd, SHUT_WR);
        /* EOF comes once lemu has closed its side, after it told its owner. */
        t->rc[0] = (int) client_fill(cl);
}

static void test_streamed_responses(void **state) {
        Test *t = ctx_new();

        setup_events(t);
        t->events[2].stream_max = 4;
        run(t, runtime_streams);
        assert_int_equal(t->n_resp, 8);
        assert_resp(t, 1, 202, ACCEPTED);
        assert_resp(t, 3, 202, ACCEPTED);
        assert_resp(t, 4, 403, transition("RuntimeResponseSentState", "InvocationResponse"));
        assert_resp(t, 6, 413,
                    "{\"errorMessage\":\"Exceeded maximum allowed payload size (4 bytes).\","
                    "\"errorType\":\"RequestEntityTooLarge\"}\n");
        assert_int_equal(t->rc[0], 0);
        assert_int_equal(t->n_stream_begins, 4);
        assert_string_equal(t->streamed.data, "|abcde|xyz|abcd|part");
        assert_int_equal(t->n_results, 4);
        /* 1: the body went through stream_data(), not into the result */
        assert_int_equal(t->results[0].outcome, RAPI_OUT_RESPONSE);
        assert_int_equal(t->results[0].body.len, 0);
        assert_int_equal(t->results[0].body_bytes, 5);
        assert_string_equal(t->results[0].content_type, "text/plain");
        /* 2: the trailers: the type sanitised, the body decoded */
        assert_int_equal(t->results[1].outcome, RAPI_OUT_ERROR);
        assert_string_equal(t->results[1].error_type, "Runtime.Unknown");
        assert_int_equal(t->results[1].body.len, 41);
        assert_memory_equal(t->results[1].body.data,
                            "{\"errorMessage\":\"bad\",\"errorType\":\"Oops\"}", 41);
        assert_int_equal(t->results[1].state_after, RAPI_RESPONDED);
        /* 3: cut at the cap as soon as it was passed */
        assert_int_equal(t->results[2].outcome, RAPI_OUT_TOO_LARGE);
        assert_int_equal(t->results[2].body_bytes, 7);
        /* 4: the broken connection */
        assert_int_equal(t->results[3].outcome, RAPI_OUT_TRUNCATED);
        assert_int_equal(t->results[3].body_bytes, 4);
        ctx_free(t);
}

/* A second poller replaces the first (one runtime, one /next at a time). */
static void runtime_two_pollers(Test *t, Client *cl) {
        Client other;

        /* No invocation yet. */
        call(t, cl, "POST", P "/invocation/" ID1 "/error", NULL, "{}");
        if (client_connect(&other, t->rapi.address) != 0)
                return;
        const char next[] = "GET " P "/invocation/next HTTP/1.1\r\n\r\n";
        /* The first /next parks: the event comes 500 ms after it. */
        client_send(&other, next, sizeof(next) - 1);
        usleep(150000);
        /* The second takes its place and gets the event; the first is closed. */
        client_send(cl, next, sizeof(next) - 1);
        if (client_read_response(cl, &t->resp[t->n_resp]) == 0)
                t->n_resp++;
        char tmp[16];
        ssize_t r = recv(other.fd, tmp, sizeof(tmp), 0);
        t->rc[0] = r == 0 ? 0 : r < 0 ? -errno : 1; /* 0: EOF */
        client_close(&other);
}

static void test_second_poller(void **state) {
        Test *t = ctx_new();

        setup_events(t);
        t->n_events = 1;
        t->deliver_delay_ms = 500; /* after the second poller took over */
        run(t, runtime_two_pollers);
        assert_int_equal(t->n_resp, 2);
        assert_resp(t, 0, 400, INVALID_ID);
        assert_resp(t, 1, 200, "{\"n\":1}");
        assert_int_equal(t->rc[0], 0);
        assert_int_equal(t->n_ready, 1);
        assert_int_equal(t->n_delivered, 1);
        ctx_free(t);
}

/* ---- Managed Instances mode ---- */

/* Every parked /next gets the next event at once; event 3 is abandoned as timed out as soon
 * as it is handed over. */
static void mi_ready(Rapi *r) {
        Test *t = r->data;

        t->n_ready++;
        while (t->n_delivered < t->n_events && rapi_waiting(r)) {
                const RapiEvent *ev = &t->events[t->n_delivered];
                t->deliver_rc[t->n_delivered++] = rapi_deliver(r, ev);
                if (strcmp(ev->request_id, ID3) == 0)
                        rapi_release(r, ID3, true);
        }
}

static void mi_orphaned(Rapi *r, const char *request_id, pid_t pid) {
        Test *t = r->data;

        if (t->n_orphaned < 4)
                snprintf(t->orphaned[t->n_orphaned], sizeof(t->orphaned[0]), "%s", request_id);
        t->n_orphaned++;
}

static void mi_late(Rapi *r) {
        Test *t = r->data;

        t->n_late++;
}

static const RapiOps mi_ops = {
        .ready = mi_ready,
        .result = op_result,
        .init_error = op_init_error,
        .orphaned = mi_orphaned,
        .late = mi_late,
};

static void send_next(Client *cl) {
        static const char req[] = "GET " P "/invocation/next HTTP/1.1\r\nHost: rapi\r\n\r\n";

        (void) client_send(cl, req, sizeof(req) - 1);
}

static void read_into(Test *t, Client *cl) {
        if (t->n_resp < MAX_RESPS && client_read_response(cl, &t->resp[t->n_resp]) == 0)
                t->n_resp++;
}

static void runtime_workers(Test *t, Client *cl) {
        Client c2;

        if (client_connect(&c2, t->rapi.address) < 0)
                return;
        /* 0, 1: two workers park in /next at once and get events 1 and 2 */
        send_next(cl);
        send_next(&c2);
        read_into(t, cl);
        read_into(t, &c2);
        /* 2: event 1 answered on the other worker's connection: routed by id */
        call(t, &c2, "POST", P "/invocation/" ID1 "/response", NULL, "result-1");
        /* 3: event 2 answered with an error; 4: answered again: unknown now */
        call(t, cl, "POST", P "/invocation/" ID2 "/error",
             "Lambda-Runtime-Function-Error-Type: Function.Boom\r\n", "{}");
        call(t, cl, "POST", P "/invocation/" ID2 "/response", NULL, "again");
        /* 5: a stale invocation id for a live event is refused: the first worker takes
         * event 3, which the owner abandons at once (timed out) */
        call(t, cl, "GET", P "/invocation/next", NULL, NULL);
        /* 6: its late answer: 410; 7: once more: unknown */
        call(t, cl, "POST", P "/invocation/" ID3 "/response",
             "Lambda-Runtime-Invocation-Id: inv-3\r\n", "late");
        call(t, cl, "POST", P "/invocation/" ID3 "/response", NULL, "late");
        /* 8: /init/error after init */
        call(t, cl, "POST", P "/init/error", NULL, "{}");
        /* 9: the second worker takes event 4 and its connection closes unanswered */
        call(t, &c2, "GET", P "/invocation/next", NULL, NULL);
        client_close(&c2);
        /* 10: a /next that stays parked (no events left) until the end */
        send_next(cl);
}

static void test_managed_instances(void **state) {
        Test *t = ctx_new();

        setup_events(t);
        t->concurrency = 4;
        t->ops = &mi_ops;
        run(t, runtime_workers);

        assert_int_equal(t->n_resp, 10);
        /* Both parked at once; which took which depends on the order the loop saw them. */
        char id0[64], id1[64];
        assert_true(head_header(&t->resp[0].head, "Lambda-Runtime-Aws-Request-Id", id0, 64));
        assert_true(head_header(&t->resp[1].head, "Lambda-Runtime-Aws-Request-Id", id1, 64));
        unsigned first = strcmp(id0, ID1) == 0 ? 0 : 1;
        assert_string_equal(first == 0 ? id0 : id1, ID1);
        assert_string_equal(first == 0 ? id1 : id0, ID2);
        assert_resp(t, first, 200, "{\"n\":1}");
        assert_resp(t, 1 - first, 200, "[]");
        assert_resp(t, 2, 202, ACCEPTED);
        assert_resp(t, 3, 202, ACCEPTED);
        assert_resp(t, 4, 400, INVALID_ID);
        assert_resp(t, 5, 200, "{}");
        assert_header(&t->resp[5], "Lambda-Runtime-Aws-Request-Id", ID3);
        assert_resp(t, 6, 410,
                    "{\"errorMessage\":\"Invoke timeout\",\"errorType\":\"InvokeTimeout\"}\n");
        assert_resp(t, 7, 400, INVALID_ID);
        assert_resp(t, 8, 403, transition("Ready", "InitError"));
        assert_resp(t, 9, 200, "\"big\"");

        /* The owner heard of each answer with its request id, in the order they came. */
        assert_int_equal(t->n_results, 2);
        assert_string_equal(t->results[0].request_id, ID1);
        assert_int_equal(t->results[0].outcome, RAPI_OUT_RESPONSE);
        assert_memory_equal(t->results[0].body.data, "result-1", 8);
        assert_string_equal(t->results[1].request_id, ID2);
        assert_int_equal(t->results[1].outcome, RAPI_OUT_ERROR);
        assert_string_equal(t->results[1].error_type, "Function.Boom");
        assert_int_equal(t->n_late, 1);
        /* Event 4's connection closed unanswered: said once. */
        assert_int_equal(t->n_orphaned, 1);
        assert_string_equal(t->orphaned[0], ID4);
        for (unsigned i = 0; i < 4; i++)
                assert_int_equal(t->deliver_rc[i], 0);
        /* One ready per /next, init included: 0, 1, 5, 9 and the last parked one. */
        assert_int_equal(t->n_ready, 5);
        ctx_free(t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sanitize_error_type),
                cmocka_unit_test(test_sanitize_error_type_small_buffer),
                cmocka_unit_test(test_state_names),
                cmocka_unit_test(test_lifecycle),
                cmocka_unit_test(test_init_error),
                cmocka_unit_test(test_response_too_large),
                cmocka_unit_test(test_streamed_responses),
                cmocka_unit_test(test_second_poller),
                cmocka_unit_test(test_managed_instances),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
