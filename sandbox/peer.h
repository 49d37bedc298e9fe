/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/types.h>

/*
 * Who is on the other end of a loopback TCP connection: the socket's inode from the kernel's
 * sock_diag (one netlink round trip), then a look through a process's descriptors. Used to
 * keep every process outside an environment off its Runtime API.
 */

/* sbx_peer_inode() - the inode of the client socket @remote → @local. Return: 0 or -errno. */
int sbx_peer_inode(const struct sockaddr_in *local, const struct sockaddr_in *remote,
                   uint64_t *ret_inode);
/* sbx_pid_has_socket() - true when @pid holds socket @inode among its descriptors. */
bool sbx_pid_has_socket(pid_t pid, uint64_t inode);
