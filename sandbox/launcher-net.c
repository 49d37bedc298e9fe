/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The launcher's network stage for `network: none`: the environment's own network namespace
 * with only loopback up, and the Runtime API listener (127.0.0.1:9001, as on Lambda) made
 * inside it and handed to the daemon with the namespace itself. The daemon keeps both, so
 * the namespace outlives a reset and the runtime finds the same listener after a restart.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "launcher.h"

static int loopback_up(void) {
        struct ifreq ifr = { 0 };
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
        int r = ioctl(fd, SIOCGIFFLAGS, &ifr);
        if (r == 0) {
                ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
                r = ioctl(fd, SIOCSIFFLAGS, &ifr);
        }
        int e = errno;
        close(fd);
        return r < 0 ? -e : 0;
}

static int listen_9001(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_port = htons(9001),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int one = 1;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
                int e = errno;
                close(fd);
                return -e;
        }
        return fd;
}

/* Sends the listener and the namespace descriptors in one message. */
static int send_fds(int sock, const int *fds, int n) {
        char byte = 'L';
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        char ctl[CMSG_SPACE(sizeof(int) * 3)];
        struct msghdr msg = { .msg_iov = &iov,
                              .msg_iovlen = 1,
                              .msg_control = ctl,
                              .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t) n) };

        memset(ctl, 0, sizeof(ctl));
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t) n);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t) n);
        return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

int launch_network(const LaunchOpts *o, const char **ret_stage) {
        if (o->netns_fd >= 0)
                return 0; /* joined the environment's namespace; its listener is the daemon's */
        *ret_stage = "net-loopback";
        int r = loopback_up();
        if (r < 0)
                return r;
        *ret_stage = "net-listen";
        int lfd = listen_9001();
        if (lfd < 0)
                return lfd;
        *ret_stage = "net-handoff";
        int fds[3] = { lfd, -1, -1 };
        int n = 1;
        fds[n] = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (fds[n] < 0) {
                r = -errno;
                close(lfd);
                return r;
        }
        n++;
        if (o->own_userns) {
                fds[n] = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
                if (fds[n] >= 0)
                        n++;
        }
        r = send_fds(o->rapi_sock, fds, n);
        for (int i = 0; i < n; i++)
                close(fds[i]);
        return r;
}
