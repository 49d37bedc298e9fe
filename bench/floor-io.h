/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * The plumbing the two floors (echo-server.c, relay.c) share: a growable buffer, the
 * non-blocking listener in an epoll set, accepting and writing. Each floor keeps its own
 * connections and protocol; these only move bytes, as cheaply as lemu could.
 */

/* A buffer that only grows, so a warm connection allocates nothing. */
typedef struct Buf {
        char *ptr;
        size_t len;
        size_t cap;
} Buf;

void buf_reserve(Buf *b, size_t extra);
void buf_append(Buf *b, const void *p, size_t len);

/*
 * Listens on @spec ("IPV4:PORT", port 0 for any): the socket in @ret_fd, added to a new
 * epoll set (@ret_epfd) with @tag as its event pointer, the address bound in @ret_host
 * ("HOST:PORT"). @prog prefixes the messages on stderr. Return: 0, 2 for a bad @spec, 1
 * when the system refuses (the process's exit status).
 */
int floor_listen(const char *prog, const char *spec, void *tag, int *ret_fd, int *ret_epfd,
                 char *ret_host, size_t host_n);

/* The next connection of @lfd, non-blocking and TCP_NODELAY; -1 when none is left. */
int floor_accept(const char *prog, int lfd);

/* Writes @out from *@off on. Return: 1 all written (@out emptied), 0 the socket is full
 * (wait for EPOLLOUT), -1 the connection failed. */
int floor_write(int fd, Buf *out, size_t *off);

/* Waits on @fd for EPOLLOUT (@want_out) or EPOLLIN; *@cur is the current interest. */
void floor_interest(int epfd, int fd, void *tag, bool *cur, bool want_out);
