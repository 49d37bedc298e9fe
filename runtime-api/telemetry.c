/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Telemetry API and Logs API subscriptions of one environment, and their delivery.
 *
 * Each subscription has a bounded queue of serialised events. A batch (at most maxItems
 * events, about maxBytes) goes when the queue reaches either bound or timeoutMs after its
 * first event, as one HTTP POST of a JSON array (TCP: newline-delimited JSON) over a new
 * connection to the subscriber's listener on the environment's loopback address. One request
 * is in flight per subscription; a failure (refused, non-2xx, no answer within 10 s) keeps
 * the batch and retries with a doubling backoff (100 ms to 5 s). While a subscriber is slow or
 * gone the queue holds at most 2 × maxBytes; what does not fit is dropped, counted, and said
 * in a platform.logsDropped event. Nothing is sent while the environment is frozen.
 *
 * A subscription outlives its Rapi only while its handles close: rapi__tel_reset() abandons
 * it and the last close callback frees it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <arpa/inet.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "macro.h"
#include "rapi.h"
#include "xalloc.h"

#define TEL_PATH           "/2022-07-01/telemetry"
#define LOGS_PATH          "/2020-08-15/logs"

#define REQUEST_TIMEOUT_MS 10000
#define BACKOFF_MIN_MS     100
#define BACKOFF_MAX_MS     5000
#define BACKLOG_MAX_ITEMS  1000
#define BACKLOG_MAX_BYTES  (1024 * 1024)
#define RESP_MAX           4096

typedef struct TelSub {
        struct Rapi *r; /* NULL once abandoned */
        char ext_id[37];
        bool logs_api;
        bool proto_tcp; /* TCP: newline-delimited JSON, no HTTP */
        unsigned types;
        struct sockaddr_in addr;
        char path[512];
        char host[300];
        unsigned max_items;
        size_t max_bytes;
        unsigned timeout_ms;

        Buf q;          /* queued events, back to back */
        uint32_t *lens; /* their lengths */
        unsigned nq, capq;
        uint64_t dropped_records, dropped_bytes;

        uv_timer_t flush_timer;
        uv_timer_t io_timer; /* request timeout while busy, retry backoff otherwise */
        uv_tcp_t tcp;
        uv_connect_t creq;
        uv_write_t wreq;
        Buf out;                /* the request in flight */
        unsigned batch_items;   /* queued events it carries */
        size_t batch_bytes;     /* their bytes in q */
        uint64_t batch_dropped; /* the drop count it reported */
        Buf resp;
        bool busy;       /* a request is in flight (or its connection closing) */
        bool tcp_open;   /* tcp initialised, not yet closed */
        bool ok;         /* how the request in flight ended */
        bool retry_wait; /* io_timer is the backoff */
        unsigned failures;
        unsigned handles;
} TelSub;

static void kick(TelSub *s);

static void flush_cb(uv_timer_t *t) {
        kick(t->data);
}

/* ---- small helpers ------------------------------------------------------------------ */

static void iso_now(char *out, size_t n) {
        struct timeval tv;
        struct tm tm;

        gettimeofday(&tv, NULL);
        gmtime_r(&tv.tv_sec, &tm);
        size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out + k, n - k, ".%03dZ", (int) (tv.tv_usec / 1000));
}

static void envelope(Buf *b, const char *type, const char *record) {
        char t[40];

        iso_now(t, sizeof(t));
        buf_printf(b, "{\"time\":\"%s\",\"type\":\"%s\",\"record\":%s}", t, type, record);
}

static bool takes(const TelSub *s, unsigned category) {
        if ((category & RAPI_TEL_LOGS_ONLY) && !s->logs_api)
                return false;
        if ((category & RAPI_TEL_TELEMETRY_ONLY) && s->logs_api)
                return false;
        return (s->types & category & 7u) != 0;
}

bool rapi_tel_wants(const Rapi *r, unsigned category) {
        const RapiTelemetry *t = &r->tel;

        if (!t->backlog_closed && (r->ext.n > 0 || r->ext.n_external > 0))
                return true; /* an extension may still subscribe and get init's events */
        for (unsigned i = 0; i < t->n; i++)
                if (takes(t->subs[i], category))
                        return true;
        return false;
}

/* ---- the queue ---------------------------------------------------------------------- */

static size_t queue_cap(const TelSub *s) {
        return 2 * s->max_bytes;
}

static void enqueue(TelSub *s, const char *ev, size_t len) {
        if (s->nq > 0 && s->q.len + len > queue_cap(s)) {
                s->dropped_records++;
                s->dropped_bytes += len;
                return;
        }
        if (s->nq == s->capq) {
                s->capq = s->capq ? s->capq * 2 : 64;
                s->lens = xrealloc(s->lens, s->capq * sizeof(*s->lens));
        }
        buf_append(&s->q, ev, len);
        s->lens[s->nq++] = (uint32_t) len;
        if (s->nq >= s->max_items || s->q.len >= s->max_bytes) {
                uv_timer_stop(&s->flush_timer);
                kick(s);
        } else if (!uv_is_active((uv_handle_t *) &s->flush_timer) && !s->busy) {
                uv_timer_start(&s->flush_timer, flush_cb, s->timeout_ms, 0);
        }
}

static void dequeue_batch(TelSub *s) {
        memmove(s->q.data, s->q.data + s->batch_bytes, s->q.len - s->batch_bytes);
        s->q.len -= s->batch_bytes;
        memmove(s->lens, s->lens + s->batch_items, (s->nq - s->batch_items) * sizeof(*s->lens));
        s->nq -= s->batch_items;
        s->batch_items = 0;
        s->batch_bytes = 0;
}

/* ---- the client --------------------------------------------------------------------- */

static void handle_closed(uv_handle_t *h) {
        TelSub *s = h->data;

        if (--s->handles > 0)
                return;
        buf_free(&s->q);
        buf_free(&s->out);
        buf_free(&s->resp);
        free(s->lens);
        free(s);
}

static void backoff_cb(uv_timer_t *t) {
        TelSub *s = t->data;

        s->retry_wait = false;
        kick(s);
}

static void tcp_closed(uv_handle_t *h) {
        TelSub *s = h->data;

        s->tcp_open = false;
        s->busy = false;
        if (!s->r) {
                handle_closed(h);
                return;
        }
        s->handles--;
        if (s->ok) {
                s->failures = 0;
                if (s->batch_dropped) {
                        s->dropped_records -= MIN(s->dropped_records, s->batch_dropped);
                        if (!s->dropped_records)
                                s->dropped_bytes = 0;
                }
                dequeue_batch(s);
                if (s->nq)
                        kick(s);
                return;
        }
        s->batch_items = 0;
        s->batch_bytes = 0;
        s->failures++;
        uint64_t delay = BACKOFF_MIN_MS << MIN(s->failures - 1, 6u);
        s->retry_wait = true;
        uv_timer_start(&s->io_timer, backoff_cb, MIN(delay, (uint64_t) BACKOFF_MAX_MS), 0);
}

static void finish(TelSub *s, bool ok) {
        if (!s->tcp_open || uv_is_closing((uv_handle_t *) &s->tcp))
                return;
        s->ok = ok;
        uv_timer_stop(&s->io_timer);
        uv_close((uv_handle_t *) &s->tcp, tcp_closed);
}

static void timeout_cb(uv_timer_t *t) {
        finish(t->data, false);
}

static void resp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
        TelSub *s = h->data;

        buf_reserve(&s->resp, 1024);
        *b = uv_buf_init(s->resp.data + s->resp.len, 1024);
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
        TelSub *s = st->data;

        if (n > 0)
                s->resp.len += (size_t) n;
        bool head = s->resp.len >= 12 && memmem(s->resp.data, s->resp.len, "\r\n\r\n", 4);
        if (!head && n >= 0 && s->resp.len < RESP_MAX)
                return;
        int code = 0;
        if (s->resp.len >= 12 && memcmp(s->resp.data, "HTTP/1.", 7) == 0)
                code = atoi(s->resp.data + 9);
        finish(s, code >= 200 && code < 300);
}

static void write_cb(uv_write_t *w, int status) {
        TelSub *s = w->data;

        if (status < 0) {
                finish(s, false);
                return;
        }
        if (s->proto_tcp) {
                finish(s, true); /* newline-delimited JSON: nothing comes back */
                return;
        }
        buf_reset(&s->resp);
        if (uv_read_start((uv_stream_t *) &s->tcp, resp_alloc, read_cb) < 0)
                finish(s, false);
}

static void connect_cb(uv_connect_t *c, int status) {
        TelSub *s = c->data;
        uv_buf_t b = uv_buf_init(s->out.data, (unsigned) s->out.len);

        if (status < 0 || !s->r) {
                finish(s, false);
                return;
        }
        s->wreq.data = s;
        if (uv_write(&s->wreq, (uv_stream_t *) &s->tcp, &b, 1, write_cb) < 0)
                finish(s, false);
}

/* The batch: up to maxItems events and about maxBytes, at least one. */
static void build_request(TelSub *s) {
        Buf body = BUF_INIT;
        size_t off = 0;
        unsigned k = 0;

        buf_puts(&body, s->proto_tcp ? "" : "[");
        if (s->dropped_records && !s->logs_api) {
                char rec[160];
                snprintf(rec, sizeof(rec),
                         "{\"reason\":\"Some logs were dropped because the subscriber did not "
                         "keep up\",\"droppedRecords\":%llu,\"droppedBytes\":%llu}",
                         (unsigned long long) s->dropped_records,
                         (unsigned long long) s->dropped_bytes);
                envelope(&body, "platform.logsDropped", rec);
                buf_puts(&body, s->proto_tcp ? "\n" : ",");
                s->batch_dropped = s->dropped_records;
        } else {
                s->batch_dropped = 0;
        }
        while (k < s->nq && k < s->max_items && (k == 0 || off + s->lens[k] <= s->max_bytes)) {
                if (k > 0 && !s->proto_tcp)
                        buf_puts(&body, ",");
                buf_append(&body, s->q.data + off, s->lens[k]);
                if (s->proto_tcp)
                        buf_puts(&body, "\n");
                off += s->lens[k++];
        }
        if (!s->proto_tcp && body.len > 1 && body.data[body.len - 1] == ',')
                body.len--; /* only the dropped notice */
        buf_puts(&body, s->proto_tcp ? "" : "]");
        s->batch_items = k;
        s->batch_bytes = off;
        buf_reset(&s->out);
        if (!s->proto_tcp)
                buf_printf(&s->out,
                           "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                           "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                           s->path, s->host, body.len);
        buf_append(&s->out, body.data, body.len);
        buf_free(&body);
}

static void kick(TelSub *s) {
        if (!s->r || s->busy || s->retry_wait || s->r->tel.paused ||
            (s->nq == 0 && !s->dropped_records))
                return;
        uv_timer_stop(&s->flush_timer);
        build_request(s);
        uv_tcp_init(s->r->server.loop, &s->tcp);
        s->tcp.data = s;
        s->tcp_open = true;
        s->busy = true;
        s->handles++;
        s->creq.data = s;
        if (uv_tcp_connect(&s->creq, &s->tcp, (const struct sockaddr *) &s->addr, connect_cb) < 0) {
                s->ok = false;
                uv_close((uv_handle_t *) &s->tcp, tcp_closed);
                return;
        }
        s->retry_wait = false;
        uv_timer_start(&s->io_timer, timeout_cb, REQUEST_TIMEOUT_MS, 0);
}

static void sub_abandon(TelSub *s) {
        s->r = NULL;
        uv_timer_stop(&s->flush_timer);
        uv_timer_stop(&s->io_timer);
        if (s->tcp_open && !uv_is_closing((uv_handle_t *) &s->tcp))
                uv_close((uv_handle_t *) &s->tcp, tcp_closed);
        uv_close((uv_handle_t *) &s->flush_timer, handle_closed);
        uv_close((uv_handle_t *) &s->io_timer, handle_closed);
}

/* ---- events ------------------------------------------------------------------------- */

static void backlog_free(RapiTelemetry *t) {
        for (unsigned i = 0; i < t->n_backlog; i++)
                free(t->backlog[i]);
        free(t->backlog);
        free(t->backlog_cat);
        t->backlog = NULL;
        t->backlog_cat = NULL;
        t->n_backlog = 0;
        t->backlog_bytes = 0;
}

void rapi_tel_emit(Rapi *r, unsigned category, const char *type, const char *record) {
        RapiTelemetry *t = &r->tel;
        Buf ev = BUF_INIT;

        envelope(&ev, type, record);
        if (!t->backlog_closed && t->n_backlog < BACKLOG_MAX_ITEMS &&
            t->backlog_bytes + ev.len <= BACKLOG_MAX_BYTES) {
                t->backlog = xrealloc(t->backlog, (t->n_backlog + 1) * sizeof(*t->backlog));
                t->backlog_cat =
                        xrealloc(t->backlog_cat, (t->n_backlog + 1) * sizeof(*t->backlog_cat));
                t->backlog[t->n_backlog] = xstrndup(ev.data, ev.len);
                t->backlog_cat[t->n_backlog++] = category;
                t->backlog_bytes += ev.len;
        }
        for (unsigned i = 0; i < t->n; i++)
                if (takes(t->subs[i], category))
                        enqueue(t->subs[i], ev.data, ev.len);
        buf_free(&ev);
}

void rapi_tel_pause(Rapi *r, bool on) {
        RapiTelemetry *t = &r->tel;

        if (t->paused == on)
                return;
        t->paused = on;
        for (unsigned i = 0; i < t->n; i++) {
                TelSub *s = t->subs[i];
                if (on) {
                        /* A frozen subscriber cannot answer: its time does not run. */
                        if (s->busy)
                                uv_timer_stop(&s->io_timer);
                        continue;
                }
                if (s->busy && s->tcp_open)
                        uv_timer_start(&s->io_timer, timeout_cb, REQUEST_TIMEOUT_MS, 0);
                else if (s->nq && !uv_is_active((uv_handle_t *) &s->flush_timer))
                        uv_timer_start(&s->flush_timer, flush_cb, s->timeout_ms, 0);
        }
}

void rapi_tel_flush(Rapi *r) {
        RapiTelemetry *t = &r->tel;

        for (unsigned i = 0; i < t->n; i++) {
                t->subs[i]->retry_wait = false;
                uv_timer_stop(&t->subs[i]->io_timer);
                kick(t->subs[i]);
        }
}

void rapi__tel_init_done(Rapi *r) {
        r->tel.backlog_closed = true;
        backlog_free(&r->tel);
}

void rapi__tel_reset(Rapi *r) {
        RapiTelemetry *t = &r->tel;

        for (unsigned i = 0; i < t->n; i++)
                sub_abandon(t->subs[i]);
        t->n = 0;
        t->paused = false;
        t->backlog_closed = false;
        backlog_free(t);
}

/* ---- subscribe ---------------------------------------------------------------------- */

static void bad_request(HttpConn *c, const char *msg) {
        rapi__respond_error(c, 400, "ValidationError", msg);
}

static bool get_bound(cJSON *buffering, const char *key, double lo, double hi, double def,
                      double *ret, char *msg, size_t n) {
        cJSON *v = buffering ? cJSON_GetObjectItemCaseSensitive(buffering, key) : NULL;

        if (!v) {
                *ret = def;
                return true;
        }
        if (!cJSON_IsNumber(v) || v->valuedouble != (double) (long long) v->valuedouble ||
            v->valuedouble < lo || v->valuedouble > hi) {
                snprintf(msg, n, "buffering.%s must be an integer from %.0f to %.0f", key, lo, hi);
                return false;
        }
        *ret = v->valuedouble;
        return true;
}

/* Where the subscriber listens: the environment's own address for the sandbox's names (or a
 * loopback address given as such). */
static bool resolve(Rapi *r, const char *host, int port, TelSub *s) {
        char own[32];

        snprintf(own, sizeof(own), "%s", r->address);
        char *colon = strrchr(own, ':');
        if (colon)
                *colon = '\0';
        const char *ip = own;
        /* The environment's own network namespace (network: none): its loopback is out of
         * the daemon's reach, and the host's 127.0.0.1 is someone else's. */
        if (strcmp(own, "127.0.0.1") == 0)
                return false;
        if (strcmp(host, "sandbox.localdomain") != 0 && strcmp(host, "sandbox") != 0 &&
            strcmp(host, "localhost") != 0 && strcmp(host, "0.0.0.0") != 0) {
                struct in_addr a;
                if (inet_pton(AF_INET, host, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127)
                        return false;
                ip = host;
        }
        return uv_ip4_addr(ip, port, &s->addr) == 0;
}

static bool parse_destination(Rapi *r, cJSON *d, TelSub *s, char *msg, size_t n) {
        const char *proto = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "protocol"));

        if (!cJSON_IsObject(d) || !proto) {
                snprintf(msg, n, "destination.protocol is required (HTTP or TCP)");
                return false;
        }
        if (strcmp(proto, "TCP") == 0) {
                cJSON *p = cJSON_GetObjectItemCaseSensitive(d, "port");
                if (!cJSON_IsNumber(p) || p->valuedouble < 1 || p->valuedouble > 65535 ||
                    p->valueint == 9001) {
                        snprintf(msg, n,
                                 "destination.port must be a port from 1 to 65535, not "
                                 "9001");
                        return false;
                }
                s->proto_tcp = true;
                snprintf(s->host, sizeof(s->host), "sandbox.localdomain");
                if (resolve(r, "sandbox.localdomain", p->valueint, s))
                        return true;
                snprintf(msg, n, "lemu delivers no telemetry with sandbox.network none");
                return false;
        }
        const char *uri = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "URI"));
        if (strcmp(proto, "HTTP") != 0 || !uri || strncmp(uri, "http://", 7) != 0) {
                snprintf(msg, n,
                         "destination must be {\"protocol\":\"HTTP\",\"URI\":\"http://"
                         "sandbox.localdomain:PORT/PATH\"} or {\"protocol\":\"TCP\","
                         "\"port\":PORT}");
                return false;
        }
        const char *hp = uri + 7, *slash = strchr(hp, '/');
        size_t hl = slash ? (size_t) (slash - hp) : strlen(hp);
        char host[300];
        if (hl == 0 || hl >= sizeof(host)) {
                snprintf(msg, n, "destination.URI has no host");
                return false;
        }
        memcpy(host, hp, hl);
        host[hl] = '\0';
        snprintf(s->host, sizeof(s->host), "%s", host);
        char *colon = strrchr(host, ':');
        int port = 80;
        if (colon) {
                *colon = '\0';
                char *end;
                long p = strtol(colon + 1, &end, 10);
                if (*end || p < 1 || p > 65535) {
                        snprintf(msg, n, "destination.URI has a bad port");
                        return false;
                }
                port = (int) p;
        }
        if (port == 9001) {
                snprintf(msg, n, "port 9001 is the Runtime API's");
                return false;
        }
        snprintf(s->path, sizeof(s->path), "%s", slash ? slash : "/");
        if (!resolve(r, host, port, s)) {
                snprintf(msg, n,
                         "destination.URI must name the sandbox (sandbox.localdomain) or a "
                         "loopback address; lemu delivers no telemetry with sandbox.network "
                         "none");
                return false;
        }
        return true;
}

static void subscribe(Rapi *r, HttpConn *c, HttpRequest *req, bool logs_api) {
        RapiTelemetry *t = &r->tel;
        char msg[256];
        RapiExt *x = rapi__ext_identify(r, c, req);

        if (!x)
                return;
        if (r->ext.init_done) {
                rapi__respond_error(c, 403,
                                    logs_api ? "Logs.SubscriptionClosed"
                                             : "Telemetry.SubscriptionClosed",
                                    "Subscriptions are accepted during init only");
                return;
        }
        cJSON *j = rapi__parse_json(&req->body);
        TelSub tmp = { .logs_api = logs_api };
        double items, bytes, ms;
        if (!j || !cJSON_IsObject(j)) {
                bad_request(c, "The request body is not a JSON object");
                goto out;
        }
        if (!logs_api) {
                const char *v =
                        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "schemaVersion"));
                if (!v || (strcmp(v, "2022-07-01") != 0 && strcmp(v, "2022-12-13") != 0 &&
                           strcmp(v, "2025-01-29") != 0)) {
                        bad_request(c, "schemaVersion must be 2022-07-01, 2022-12-13 or "
                                       "2025-01-29");
                        goto out;
                }
        }
        if (!parse_destination(r, cJSON_GetObjectItemCaseSensitive(j, "destination"), &tmp, msg,
                               sizeof(msg))) {
                bad_request(c, msg);
                goto out;
        }
        cJSON *types = cJSON_GetObjectItemCaseSensitive(j, "types"), *e;
        if (!cJSON_IsArray(types) || cJSON_GetArraySize(types) == 0) {
                bad_request(c, "types must list platform, function or extension");
                goto out;
        }
        cJSON_ArrayForEach (e, types) {
                const char *v = cJSON_GetStringValue(e);
                unsigned bit = !v                            ? 0
                               : strcmp(v, "platform") == 0  ? RAPI_TEL_PLATFORM
                               : strcmp(v, "function") == 0  ? RAPI_TEL_FUNCTION
                               : strcmp(v, "extension") == 0 ? RAPI_TEL_EXTENSION
                                                             : 0;
                if (!bit) {
                        bad_request(c, "types must list platform, function or extension");
                        goto out;
                }
                tmp.types |= bit;
        }
        cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "buffering");
        if (b && !cJSON_IsObject(b)) {
                bad_request(c, "buffering must be an object");
                goto out;
        }
        if (!get_bound(b, "maxItems", 1000, 10000, 1000, &items, msg, sizeof(msg)) ||
            !get_bound(b, "maxBytes", 262144, 1048576, 262144, &bytes, msg, sizeof(msg)) ||
            !get_bound(b, "timeoutMs", 25, 30000, 1000, &ms, msg, sizeof(msg))) {
                bad_request(c, msg);
                goto out;
        }
        /* One API per extension; subscribing again replaces the subscription. */
        unsigned slot = t->n;
        for (unsigned i = 0; i < t->n; i++) {
                if (strcmp(t->subs[i]->ext_id, x->id) != 0)
                        continue;
                if (t->subs[i]->logs_api != logs_api) {
                        bad_request(c, "An extension subscribes to the Telemetry API or the Logs "
                                       "API, not both");
                        goto out;
                }
                slot = i;
        }
        if (slot == RAPI_TEL_MAX_SUBS) {
                bad_request(c, "Too many subscriptions");
                goto out;
        }
        TelSub *s = xcalloc(1, sizeof(*s));
        *s = tmp;
        s->r = r;
        snprintf(s->ext_id, sizeof(s->ext_id), "%s", x->id);
        s->max_items = (unsigned) items;
        s->max_bytes = (size_t) bytes;
        s->timeout_ms = (unsigned) ms;
        uv_timer_init(r->server.loop, &s->flush_timer);
        uv_timer_init(r->server.loop, &s->io_timer);
        s->flush_timer.data = s->io_timer.data = s;
        s->handles = 2;
        if (slot < t->n)
                sub_abandon(t->subs[slot]);
        else
                t->n++;
        t->subs[slot] = s;
        if (logs_api)
                http_respond(c, 200, "Content-Type: text/plain\r\n", "OK", 2, false);
        else
                http_respond(c, 200, "Content-Type: application/json\r\n", "\"OK\"", 4, false);

        /* What init said so far, then the subscription itself. */
        for (unsigned i = 0; i < t->n_backlog; i++)
                if (takes(s, t->backlog_cat[i]))
                        enqueue(s, t->backlog[i], strlen(t->backlog[i]));
        cJSON *rec = cJSON_CreateObject();
        cJSON_AddStringToObject(rec, "name", x->name);
        cJSON_AddStringToObject(rec, "state", "Subscribed");
        cJSON_AddItemToObject(rec, "types", cJSON_Duplicate(types, true));
        char *txt = cJSON_PrintUnformatted(rec);
        rapi_tel_emit(
                r, RAPI_TEL_PLATFORM | (logs_api ? RAPI_TEL_LOGS_ONLY : RAPI_TEL_TELEMETRY_ONLY),
                logs_api ? "platform.logsSubscription" : "platform.telemetrySubscription", txt);
        cJSON_free(txt);
        cJSON_Delete(rec);
out:
        cJSON_Delete(j);
}

bool rapi__tel_route(Rapi *r, HttpConn *c, HttpRequest *req) {
        bool tel = slice_eq(req->path, TEL_PATH), logs = slice_eq(req->path, LOGS_PATH);

        if (!tel && !logs)
                return false;
        if (req->method != HTTP_PUT) {
                rapi__respond_error(c, 405, "MethodNotAllowed", "Method not allowed");
                return true;
        }
        subscribe(r, c, req, logs);
        return true;
}
