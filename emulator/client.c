/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `lemu invoke`: a small blocking Invoke API client (a one-shot command, not the daemon).
 * The body goes to stdout; the decoded log tail, or an Event's request id, to stderr.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "codec.h"
#include "invoke.h"
#include "xalloc.h"

static int connect_to(const char *host, const char *port, char *err, size_t n) {
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
        int r = getaddrinfo(host, port, &hints, &res);

        if (r != 0) {
                snprintf(err, n, "cannot resolve '%s': %s", host, gai_strerror(r));
                return -1;
        }
        int fd = -1;
        for (struct addrinfo *a = res; a; a = a->ai_next) {
                fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
                if (fd < 0)
                        continue;
                if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
                        break;
                close(fd);
                fd = -1;
        }
        if (fd < 0)
                snprintf(err, n, "cannot connect to %s:%s: %s", host, port, strerror(errno));
        freeaddrinfo(res);
        return fd;
}

static bool find_header(const char *head, const char *name, char *out, size_t n) {
        size_t nl = strlen(name);

        for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
                const char *line = p + 2;
                if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
                        const char *v = line + nl + 1;
                        while (*v == ' ')
                                v++;
                        const char *e = strstr(v, "\r\n");
                        size_t l = e ? (size_t) (e - v) : strlen(v);
                        if (l >= n)
                                l = n - 1;
                        memcpy(out, v, l);
                        out[l] = '\0';
                        return true;
                }
        }
        return false;
}

static void usage(void) {
        help_print("invoke");
}

int cli_invoke(int argc, char **argv) {
        const char *endpoint = getenv("LEMU_ENDPOINT");
        const char *function = NULL, *event = NULL, *type = "RequestResponse", *log_type = NULL;
        const char *qualifier = NULL;
        char err[512];

        if (!endpoint)
                endpoint = "http://127.0.0.1:3001";
        for (int i = 2; i < argc; i++) {
                const char *a = argv[i];
                const char *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (strcmp(a, "--help") == 0) {
                        usage();
                        return EXIT_OK;
                } else if (strcmp(a, "--endpoint") == 0 && v) {
                        endpoint = v, i++;
                } else if (strcmp(a, "--event") == 0 && v) {
                        event = v, i++;
                } else if (strcmp(a, "--type") == 0 && v) {
                        type = v, i++;
                } else if (strcmp(a, "--log-type") == 0 && v) {
                        log_type = v, i++;
                } else if (strcmp(a, "--qualifier") == 0 && v) {
                        qualifier = v, i++;
                } else if (a[0] != '-' && !function) {
                        function = a;
                } else {
                        fprintf(stderr, "lemu invoke: unexpected argument '%s'\n", a);
                        return EXIT_USAGE;
                }
        }
        if (!function) {
                fprintf(stderr, "lemu invoke: which FUNCTION?\n");
                return EXIT_USAGE;
        }
        if (strcmp(type, "RequestResponse") && strcmp(type, "Event") && strcmp(type, "DryRun")) {
                fprintf(stderr, "lemu invoke: --type is Event, RequestResponse or DryRun\n");
                return EXIT_USAGE;
        }
        size_t event_len = 2;
        char *payload = event ? cli_read_event(event, &event_len, err, sizeof(err)) : xstrdup("{}");
        if (!payload) {
                fprintf(stderr, "lemu invoke: %s\n", err);
                return EXIT_USAGE;
        }

        /* http://host:port */
        char host[256], port[16] = "80";
        const char *h = strncmp(endpoint, "http://", 7) == 0 ? endpoint + 7 : endpoint;
        size_t hl = strcspn(h, "/");
        if (hl >= sizeof(host)) {
                free(payload);
                fprintf(stderr, "lemu invoke: bad endpoint '%s'\n", endpoint);
                return EXIT_USAGE;
        }
        memcpy(host, h, hl);
        host[hl] = '\0';
        char *colon = strrchr(host, ':');
        if (colon && !strchr(colon, ']')) {
                snprintf(port, sizeof(port), "%s", colon + 1);
                *colon = '\0';
        }
        if (host[0] == '[') {
                memmove(host, host + 1, strlen(host));
                host[strlen(host) - 1] = '\0';
        }
        int fd = connect_to(host, port, err, sizeof(err));
        if (fd < 0) {
                free(payload);
                fprintf(stderr, "lemu invoke: %s\n", err);
                return EXIT_SERVICE;
        }
        Buf req = BUF_INIT;
        buf_printf(&req, "POST /2015-03-31/functions/%s/invocations%s%s HTTP/1.1\r\n", function,
                   qualifier ? "?Qualifier=" : "", qualifier ? qualifier : "");
        buf_printf(&req, "Host: %s:%s\r\nContent-Type: application/json\r\n", host, port);
        buf_printf(&req, "X-Amz-Invocation-Type: %s\r\n", type);
        if (log_type)
                buf_printf(&req, "X-Amz-Log-Type: %s\r\n", log_type);
        buf_printf(&req, "Content-Length: %zu\r\nConnection: close\r\n\r\n", event_len);
        buf_append(&req, payload, event_len);
        free(payload);
        for (size_t off = 0; off < req.len;) {
                ssize_t w = write(fd, req.data + off, req.len - off);
                if (w <= 0) {
                        fprintf(stderr, "lemu invoke: write: %s\n", strerror(errno));
                        close(fd);
                        buf_free(&req);
                        return EXIT_SERVICE;
                }
                off += (size_t) w;
        }
        buf_free(&req);
        Buf resp = BUF_INIT;
        char chunk[65536];
        for (;;) {
                ssize_t r = read(fd, chunk, sizeof(chunk));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                buf_append(&resp, chunk, (size_t) r);
        }
        close(fd);
        char *sep = resp.data ? strstr(resp.data, "\r\n\r\n") : NULL;
        if (!sep) {
                fprintf(stderr, "lemu invoke: no HTTP response from %s\n", endpoint);
                buf_free(&resp);
                return EXIT_SERVICE;
        }
        *sep = '\0';
        const char *body = sep + 4;
        size_t body_len = resp.len - (size_t) (body - resp.data);
        int status = atoi(resp.data + 9);
        char v[8192];
        int rc = EXIT_OK;
        if (status >= 300) {
                char etype[128] = "Unknown";
                find_header(resp.data, "X-Amzn-ErrorType", etype, sizeof(etype));
                fprintf(stderr, "lemu invoke: %d %s: %.*s\n", status, etype, (int) body_len, body);
                buf_free(&resp);
                return EXIT_SERVICE;
        }
        fwrite(body, 1, body_len, stdout);
        if (body_len)
                fputc('\n', stdout);
        if (find_header(resp.data, "X-Amz-Log-Result", v, sizeof(v))) {
                Buf dec = BUF_INIT;
                if (base64_decode(&dec, v, strlen(v)) == 0)
                        fwrite(dec.data ? dec.data : "", 1, dec.len, stderr);
                buf_free(&dec);
        }
        if (status == 202 && find_header(resp.data, "X-Amzn-RequestId", v, sizeof(v)))
                fprintf(stderr, "%s\n", v);
        if (find_header(resp.data, "X-Amz-Function-Error", v, sizeof(v)))
                rc = EXIT_FUNCTION_ERROR;
        buf_free(&resp);
        return rc;
}
