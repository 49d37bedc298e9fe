/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Peer lookup for the Runtime API's gate; see peer.h. procfs and netlink are memory-backed:
 * nothing here waits on a disk. It runs once per accepted Runtime API connection (runtimes
 * keep theirs alive), never per request.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer.h"

int sbx_peer_inode(const struct sockaddr_in *local, const struct sockaddr_in *remote,
                   uint64_t *ret_inode) {
        struct {
                struct nlmsghdr nlh;
                struct inet_diag_req_v2 req;
        } msg = { 0 };
        char buf[8192];

        int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        if (fd < 0)
                return -errno;
        msg.nlh.nlmsg_len = sizeof(msg);
        msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
        msg.nlh.nlmsg_flags = NLM_F_REQUEST;
        msg.req.sdiag_family = AF_INET;
        msg.req.sdiag_protocol = IPPROTO_TCP;
        /* Not TIME_WAIT: on loopback its 4-tuple is reused at once, and it has no inode. */
        msg.req.idiag_states = ~((1u << 6) | (1u << 10)); /* TCP_TIME_WAIT, TCP_LISTEN */
        /* The socket we look for is the client's: its source is our peer. */
        msg.req.id.idiag_sport = remote->sin_port;
        msg.req.id.idiag_dport = local->sin_port;
        msg.req.id.idiag_src[0] = remote->sin_addr.s_addr;
        msg.req.id.idiag_dst[0] = local->sin_addr.s_addr;
        msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
        msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
        if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int e = errno;
                close(fd);
                return -e;
        }
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        int e = errno;
        close(fd);
        if (n < 0)
                return -e;
        for (struct nlmsghdr *h = (struct nlmsghdr *) buf; NLMSG_OK(h, (size_t) n);
             h = NLMSG_NEXT(h, n)) {
                if (h->nlmsg_type == NLMSG_ERROR) {
                        struct nlmsgerr *err = NLMSG_DATA(h);
                        return err->error ? err->error : -ENOENT;
                }
                if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
                        struct inet_diag_msg *m = NLMSG_DATA(h);
                        *ret_inode = m->idiag_inode;
                        return 0;
                }
        }
        return -ENOENT;
}

bool sbx_pid_has_socket(pid_t pid, uint64_t inode) {
        char path[64], want[64], link[64];

        snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
        int n = snprintf(want, sizeof(want), "socket:[%llu]", (unsigned long long) inode);
        DIR *d = opendir(path);
        if (!d)
                return false;
        bool found = false;
        struct dirent *de;
        while (!found && (de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                ssize_t l = readlinkat(dirfd(d), de->d_name, link, sizeof(link));
                found = l == n && memcmp(link, want, (size_t) n) == 0;
        }
        closedir(d);
        return found;
}
