/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seccomp filters for environments, built here in the daemon and loaded by the launcher.
 *
 * The default profile allows everything but what a function never needs: one table below,
 * a line and a reason per system call, answered with EPERM, as if the function lacked the
 * privilege. Two kinds of call need more than a name:
 *
 *   - clone3 passes its flags in memory, which a seccomp program cannot read. It gets ENOSYS,
 *     never EPERM: glibc's pthread_create and fork try clone3 first and fall back to clone
 *     only on ENOSYS, so EPERM would break every threaded program.
 *   - clone and unshare are allowed, except with a CLONE_NEW* flag: one rule per flag, on
 *     the flags argument (arg0 of both on every architecture lemu builds for but s390).
 *
 * Deliberately allowed: userfaultfd (the vm.unprivileged_userfaultfd sysctl governs it),
 * kcmp (needs ptrace read access to both processes anyway), personality, and chroot (needs
 * CAP_SYS_CHROOT anyway).
 *
 * The filter is for the native architecture only: a system call made through another ABI
 * (i386's int 0x80, x32's numbers on x86_64) would dodge the rules, so it kills the process
 * (SCMP_FLTATR_ACT_BADARCH): a 32-bit program inside a function dies of SIGSYS at its first
 * system call.
 *
 * Denials are invisible to lemu: SECCOMP_RET_ERRNO goes straight back to the caller, and
 * nothing reaches the daemon. Only user notification (SCMP_ACT_NOTIFY) would let it see and
 * count them, at the price of a round trip through the daemon per denied call; it is not
 * used yet.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <seccomp.h>

#include "filter.h"
#include "macro.h"

#ifndef CLONE_NEWCGROUP
#        define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_NEWTIME
#        define CLONE_NEWTIME 0x00000080
#endif

typedef struct FilterRule {
        const char *name; /* resolved for the native arch; skipped where it does not exist */
        int err;          /* the errno the caller gets */
} FilterRule;

/* The default profile: system calls refused whatever their arguments. */
static const FilterRule default_rules[] = {
        /* Looking into other processes: a function has nothing to debug but itself. */
        { "ptrace", EPERM },            /* tracing, attaching, PTRACE_TRACEME */
        { "process_vm_readv", EPERM },  /* reads another process's memory (ptrace access) */
        { "process_vm_writev", EPERM }, /* writes another process's memory */
        { "pidfd_getfd", EPERM },       /* copies another process's descriptor */

        /* Mounts: the launcher set the file system up; the function only uses it. */
        { "mount", EPERM },         /* classic mount, remount, bind */
        { "umount", EPERM },        /* old umount (not on x86_64) */
        { "umount2", EPERM },       /* unmounting, e.g. to uncover a hidden /tmp */
        { "pivot_root", EPERM },    /* swapping the root */
        { "open_tree", EPERM },     /* new mount API: detached copy of a tree */
        { "move_mount", EPERM },    /* new mount API: attaching one */
        { "fsopen", EPERM },        /* new mount API: a file system context */
        { "fsconfig", EPERM },      /* new mount API: configuring it */
        { "fsmount", EPERM },       /* new mount API: mounting it */
        { "fspick", EPERM },        /* new mount API: reconfiguring an existing mount */
        { "mount_setattr", EPERM }, /* e.g. turning read-only mounts writable */

        /* Namespaces: new ones are refused by flag (clone, unshare) below. */
        { "setns", EPERM },   /* joining an existing namespace */
        { "clone3", ENOSYS }, /* flags in memory: glibc falls back to clone, which is checked */

        /* The machine itself. */
        { "reboot", EPERM },          /* reboot, halt, Ctrl-Alt-Del behaviour */
        { "kexec_load", EPERM },      /* loading a new kernel */
        { "kexec_file_load", EPERM }, /* the same, from a file */
        { "init_module", EPERM },     /* loading a kernel module */
        { "finit_module", EPERM },    /* the same, from a file */
        { "delete_module", EPERM },   /* unloading one */
        { "bpf", EPERM },             /* kernel programs and maps */
        { "perf_event_open", EPERM }, /* performance counters: a side channel on the host */
        { "swapon", EPERM },          /* adding host swap */
        { "swapoff", EPERM },         /* removing it */
        { "acct", EPERM },            /* process accounting for the whole host */
        { "quotactl", EPERM },        /* disk quotas */
        { "quotactl_fd", EPERM },     /* the same, by descriptor */
        { "syslog", EPERM },          /* the kernel log buffer (dmesg), not syslog(3) */
        { "lookup_dcookie", EPERM },  /* an old profiler interface to kernel paths */
        { "iopl", EPERM },            /* raw I/O port access (x86) */
        { "ioperm", EPERM },          /* the same, per port range */

        /* Keys: the kernel keyring is not namespaced. */
        { "keyctl", EPERM },      /* reading and managing keys */
        { "add_key", EPERM },     /* adding one */
        { "request_key", EPERM }, /* asking the kernel (and its upcalls) for one */

        /* Clocks are system-wide. Read-only adjtimex/clock_adjtime (modes 0) are refused too:
         * the mode sits in memory, where the filter cannot look. */
        { "clock_settime", EPERM }, /* setting a clock */
        { "clock_adjtime", EPERM }, /* adjusting one */
        { "settimeofday", EPERM },  /* setting the wall clock */
        { "adjtimex", EPERM },      /* adjusting it (NTP) */
        { "stime", EPERM },         /* setting it on 32-bit ABIs (not on x86_64) */

        /* File handles: open_by_handle_at reaches files outside the mount namespace's view
         * (the "shocker" escape). */
        { "open_by_handle_at", EPERM }, /* opening a file by handle */
        { "name_to_handle_at", EPERM }, /* making the handle: serves only the call above */
};

/* New namespaces, refused in clone's and unshare's flags. CLONE_NEWTIME shares its bit with
 * clone's exit signal (CSIGNAL), so clone cannot ask for it: only unshare is checked for it. */
static const struct {
        uint64_t flag;
        bool clone;
} ns_flags[] = {
        { CLONE_NEWNS, true },  { CLONE_NEWCGROUP, true }, { CLONE_NEWUTS, true },
        { CLONE_NEWIPC, true }, { CLONE_NEWUSER, true },   { CLONE_NEWPID, true },
        { CLONE_NEWNET, true }, { CLONE_NEWTIME, false },
};

#if defined(__s390__) || defined(__s390x__)
#        define CLONE_FLAGS_ARG 1 /* s390 swaps clone's first two arguments */
#else
#        define CLONE_FLAGS_ARG 0
#endif

static void ctx_releasep(scmp_filter_ctx *ctx) {
        if (*ctx)
                seccomp_release(*ctx);
}

FilterProfile filter_profile_from_string(const char *s) {
        if (s && strcmp(s, "default") == 0)
                return FILTER_PROFILE_DEFAULT;
        return _FILTER_PROFILE_INVALID;
}

static int add_rules(scmp_filter_ctx ctx, const FilterRule *rules, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int nr = seccomp_syscall_resolve_name(rules[i].name);
                if (nr < 0)
                        continue; /* unknown, or not a system call of this architecture */
                int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(rules[i].err), nr, 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_ns_rules(scmp_filter_ctx ctx) {
        for (size_t i = 0; i < ARRAY_SIZE(ns_flags); i++) {
                uint64_t f = ns_flags[i].flag;
                int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
                                         SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
                if (r < 0)
                        return r;
                if (!ns_flags[i].clone)
                        continue;
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                     SCMP_CMP(CLONE_FLAGS_ARG, SCMP_CMP_MASKED_EQ, f, f));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int build(FilterProfile p, scmp_filter_ctx *ret) {
        _cleanup_(ctx_releasep) scmp_filter_ctx ctx = NULL;
        int r;

        if (p < 0 || p >= _FILTER_PROFILE_MAX)
                return -EINVAL;
        ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return -ENOMEM;
        /* Real errnos from the export (a full disk, not just ECANCELED). */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
        if (r < 0)
                return r;
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r < 0)
                return r;
        r = add_rules(ctx, default_rules, ARRAY_SIZE(default_rules));
        if (r < 0)
                return r;
        r = add_ns_rules(ctx);
        if (r < 0)
                return r;
        *ret = steal_ptr(ctx);
        return 0;
}

int filter_build(FilterProfile p, int *ret_fd) {
        _cleanup_(ctx_releasep) scmp_filter_ctx ctx = NULL;
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        r = build(p, &ctx);
        if (r < 0)
                return r;
        fd = memfd_create("lemu-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return r;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size <= 0)
                return -EIO;
        /* Every launcher shares this one description: sealed, none can change the program
         * the next one loads. */
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
                return -errno;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        *ret_fd = fd;
        fd = -1;
        return 0;
}

int filter_export_pfc(FilterProfile p, int fd) {
        _cleanup_(ctx_releasep) scmp_filter_ctx ctx = NULL;
        int r;

        r = build(p, &ctx);
        if (r < 0)
                return r;
        return seccomp_export_pfc(ctx, fd);
}

int filter_cache_get(FilterCache *c, FilterProfile p) {
        if (p < 0 || p >= _FILTER_PROFILE_MAX)
                return -EINVAL;
        if (!c->tried[p]) {
                int fd = -1;
                c->err[p] = filter_build(p, &fd);
                c->fd[p] = c->err[p] < 0 ? -1 : fd;
                c->tried[p] = true;
        }
        return c->err[p] < 0 ? c->err[p] : c->fd[p];
}

int filter_cache_peek(const FilterCache *c, FilterProfile p) {
        if (p < 0 || p >= _FILTER_PROFILE_MAX || !c->tried[p] || c->err[p] < 0)
                return -1;
        return c->fd[p];
}

void filter_cache_deinit(FilterCache *c) {
        for (int p = 0; p < _FILTER_PROFILE_MAX; p++) {
                if (c->tried[p] && c->err[p] == 0 && c->fd[p] >= 0)
                        close(c->fd[p]);
                c->tried[p] = false;
                c->fd[p] = -1;
                c->err[p] = 0;
        }
}
