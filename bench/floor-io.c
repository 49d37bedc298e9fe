/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "floor-io.h"

void buf_reserve(Buf *b, size_t extra) {
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

void buf_append(Buf *b, const void *p, size_t len) {
        buf_reserve(b, len);
        memcpy(b->ptr + b->len, p, len);
        b->len += len;
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

int floor_listen(const char *prog, const char *spec, void *tag, int *ret_fd, int *ret_epfd,
                 char *ret_host, size_t host_n) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };
        struct sockaddr_in addr;
        socklen_t addr_len = sizeof(addr);
        char host[INET_ADDRSTRLEN];
        int one = 1, fd, epfd;

        if (parse_listen(spec, &addr) < 0) {
                fprintf(stderr, "%s: bad --listen '%s' (want IPV4:PORT)\n", prog, spec);
                return 2;
        }
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
                return 1;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *) &addr, sizeof(addr)) < 0 || listen(fd, 1024) < 0 ||
            getsockname(fd, (struct sockaddr *) &addr, &addr_len) < 0) {
                fprintf(stderr, "%s: cannot listen on %s: %s\n", prog, spec, strerror(errno));
                close(fd);
                return 1;
        }
        epfd = epoll_create1(EPOLL_CLOEXEC);
        if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                fprintf(stderr, "%s: epoll: %s\n", prog, strerror(errno));
                close(fd);
                return 1;
        }
        inet_ntop(AF_INET, &addr.sin_addr, host, sizeof(host));
        snprintf(ret_host, host_n, "%s:%u", host, ntohs(addr.sin_port));
        *ret_fd = fd;
        *ret_epfd = epfd;
        return 0;
}

int floor_accept(const char *prog, int lfd) {
        int one = 1, fd;

        fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        fprintf(stderr, "%s: accept4: %s\n", prog, strerror(errno));
                return -1;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        return fd;
}

int floor_write(int fd, Buf *out, size_t *off) {
        while (*off < out->len) {
                ssize_t n = write(fd, out->ptr + *off, out->len - *off);

                if (n < 0)
                        return errno == EAGAIN ? 0 : -1;
                *off += (size_t) n;
        }
        out->len = 0;
        *off = 0;
        return 1;
}

void floor_interest(int epfd, int fd, void *tag, bool *cur, bool want_out) {
        struct epoll_event ev = { .events = want_out ? EPOLLOUT : EPOLLIN, .data.ptr = tag };

        if (*cur == want_out)
                return;
        *cur = want_out;
        epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}
