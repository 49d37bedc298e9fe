/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The loopback client of the HTTP fuzz targets (http-driver.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http-driver.h"

#define QUIET_TURNS 4
#define MAX_TURNS   200000

static int connect_to(const char *host, int port) {
        struct sockaddr_in sa;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        uv_ip4_addr(host ? host : "127.0.0.1", port, &sa);
        int r = fd < 0 ? -1 : connect(fd, (struct sockaddr *) &sa, sizeof(sa));
        if (r < 0 && errno == EINTR) {
                /* libFuzzer's timer signal: the connection goes on; wait for its outcome. */
                struct pollfd p = { .fd = fd, .events = POLLOUT };
                int err = 0;
                socklen_t el = sizeof(err);
                while (poll(&p, 1, -1) < 0 && errno == EINTR)
                        ;
                r = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0 ? 0 : -1;
        }
        if (r < 0) {
                perror("fuzz driver: connect");
                abort();
        }
        int one = 1;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        return fd;
}

/* Reads what the server sent. Return: bytes read, or -1 on EOF. */
static ssize_t drain(int fd) {
        char buf[65536];
        ssize_t total = 0;
        static int verbose = -1;

        if (verbose < 0)
                verbose = getenv("FUZZ_DRIVER_VERBOSE") != NULL;
        for (;;) {
                ssize_t k = read(fd, buf, sizeof(buf));
                if (k > 0) {
                        if (verbose)
                                fwrite(buf, 1, (size_t) k, stderr);
                        total += k;
                        continue;
                }
                if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
                        return total ? total : -1;
                return total;
        }
}

void fuzz_driver_send(FuzzDriver *d, const void *data, size_t len) {
        int fd = connect_to(d->host, d->port);
        const char *p = data;
        size_t sent = 0;
        unsigned quiet = 0, turns = 0;
        bool eof = false;
        unsigned conns_before = d->server->n_conns;

        d->answered = 0;
        /* Let the server accept before the bytes come (a real client's order). */
        while (d->server->n_conns == conns_before && turns++ < MAX_TURNS)
                uv_run(d->loop, UV_RUN_NOWAIT);
        while (quiet < QUIET_TURNS && turns++ < MAX_TURNS) {
                bool progress = false;
                if (sent < len) {
                        ssize_t k = write(fd, p + sent, len - sent);
                        if (k > 0) {
                                sent += (size_t) k;
                                progress = true;
                        } else if (k < 0 && errno != EAGAIN && errno != EINTR) {
                                sent = len; /* the server closed on us */
                        }
                }
                uv_run(d->loop, UV_RUN_NOWAIT);
                if (d->turn)
                        d->turn(d->data);
                ssize_t got = drain(fd);
                if (got < 0) {
                        eof = true;
                        break;
                }
                if (got > 0) {
                        d->answered += (size_t) got;
                        progress = true;
                }
                quiet = progress || sent < len ? 0 : quiet + 1;
        }
        close(fd);
        (void) eof;
        /* The server sees the close and lets the connection go. */
        turns = 0;
        while (d->server->n_conns > conns_before && turns++ < MAX_TURNS) {
                uv_run(d->loop, UV_RUN_NOWAIT);
                if (d->turn)
                        d->turn(d->data);
        }
        if (d->server->n_conns > conns_before) {
                fprintf(stderr, "fuzz driver: the server kept a connection after its peer "
                                "closed\n");
                abort();
        }
}
