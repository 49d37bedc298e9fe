/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/*
 * The launcher's options and its stages in other files. Each stage returns 0 or a negative
 * errno; the caller reports "<stage> <errno>" on the status fd and exits 127.
 */

#define LAUNCH_MAX_CGROUPS 8
#define LAUNCH_MAX_ACCESS  4
/* Lambda's limit on extensions (spec §5.1). */
#define LAUNCH_MAX_EXTENSIONS 10

typedef struct LaunchOpts {
        int status_fd;
        pid_t parent;
        const char *chdir;
        long nofile;
        bool pidns;                              /* --no-pidns turns it off */
        const char *cgroups[LAUNCH_MAX_CGROUPS]; /* cgroup dirs to join (cgroup.procs) */
        int n_cgroups;
        uid_t uid; /* --uid: run the runtime as this user (-1: keep) */
        gid_t gid;
        const char *tmp; /* --tmp SPEC: "tmpfs:BYTES", "bind:DIR" or "dev:PATH" */
        bool read_only;  /* --read-only: everything but /tmp read-only */
        int seccomp_fd;  /* --seccomp-fd N: a raw BPF program (sock_filter[]) */
        bool net_none;   /* --net-none: own network namespace, loopback only */
        int rapi_sock;   /* --rapi-sock N: send the in-namespace listener back */
        int netns_fd;    /* --netns-fd N: join this network namespace (a restart) */
        int userns_fd;   /* --userns-fd N: and the user namespace that owns it */
        bool own_userns; /* set by the launcher: it made a user namespace */
        int gate_fd;     /* --gate-fd N: wait for one byte before the runtime starts */
        const char *access[LAUNCH_MAX_ACCESS]; /* --access PATH: must be readable and
                                                * executable by the runtime's user */
        int n_access;
        bool dry_run; /* --dry-run: every stage, then exit 0 instead of exec */
        /* --extension PATH: external extensions, started by init before the runtime (which
         * then waits for the gate); their stdout and stderr go to --ext-out-fd, and init
         * reports every exit of the runtime or an extension on --report-fd (launcher.c). */
        const char *extensions[LAUNCH_MAX_EXTENSIONS];
        int n_extensions;
        int ext_out_fd;
        int report_fd;
        char **argv; /* BOOTSTRAP ARGS… */
} LaunchOpts;

/* launcher-mount.c: in init (pid 1) of the new mount namespace, before the runtime forks.
 * @ret_stage names the step that failed. */
int launch_mounts(const LaunchOpts *o, const char **ret_stage);
/* launcher-mount.c: with --tmp ns:FD, joins the mount namespace an earlier start of the
 * environment made (after --userns-fd, before unsharing). 0 when there is nothing to join. */
int launch_join(const LaunchOpts *o, const char **ret_stage);
/* launcher-net.c: in the new network namespace: loopback up, listener on 127.0.0.1:9001 sent
 * back over o->rapi_sock. */
int launch_network(const LaunchOpts *o, const char **ret_stage);
/* launcher-seccomp.c: loads the raw filter from @fd (after PR_SET_NO_NEW_PRIVS). */
int launch_seccomp(int fd);
