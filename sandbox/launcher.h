/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/*
 * The launcher's options and its stages in other files. Each stage returns 0 or a negative
 * errno; the caller reports "<stage> <errno>" on the status fd and exits 127.
 */

#define LAUNCH_MAX_CGROUPS 8

typedef struct LaunchOpts {
        int status_fd;
        pid_t parent;
        const char *chdir;
        long nofile;
        bool pidns;               /* --no-pidns turns it off */
        const char *cgroups[LAUNCH_MAX_CGROUPS]; /* cgroup dirs to join (cgroup.procs) */
        int n_cgroups;
        uid_t uid;                /* --uid: run the runtime as this user (-1: keep) */
        gid_t gid;
        const char *tmp;          /* --tmp SPEC: "tmpfs:BYTES", "bind:DIR" or "dev:PATH" */
        bool read_only;           /* --read-only: everything but /tmp read-only */
        int seccomp_fd;           /* --seccomp-fd N: a raw BPF program (sock_filter[]) */
        bool net_none;            /* --net-none: own network namespace, loopback only */
        int rapi_sock;            /* --rapi-sock N: send the in-namespace listener back */
        char **argv;              /* BOOTSTRAP ARGS… */
} LaunchOpts;

/* launcher-mount.c: in init (pid 1) of the new mount namespace, before the runtime forks.
 * @ret_stage names the step that failed. */
int launch_mounts(const LaunchOpts *o, const char **ret_stage);
/* launcher-net.c: in the new network namespace: loopback up, listener on 127.0.0.1:9001 sent
 * back over o->rapi_sock. */
int launch_network(const LaunchOpts *o, const char **ret_stage);
/* launcher-seccomp.c: loads the raw filter from @fd (after PR_SET_NO_NEW_PRIVS). */
int launch_seccomp(int fd);
