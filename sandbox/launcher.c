/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lemu-launcher: the small program the daemon spawns for each environment start. It applies
 * the environment's limits and isolation in a fixed order, then execs the bootstrap:
 *
 *   launcher: parent-death signal → join cgroups → rlimits → unshare namespaces
 *             (user when not root, pid, mount, net) → loopback + Runtime API listener
 *             → fork init
 *   init:     pid 1 of the namespace → mounts (/tmp, read-only root, /proc) → fork runtime
 *   runtime:  chdir → drop to the sandbox user → no_new_privs + seccomp → exec
 *
 * Process tree: daemon → launcher → init → bootstrap. Each link carries
 * PR_SET_PDEATHSIG=SIGKILL, so when the daemon dies (even by SIGKILL) the launcher dies,
 * init dies, and the kernel kills everything left in the namespace: no function process
 * outlives lemu. init reaps orphans and forwards SIGTERM and friends to the bootstrap (pid 1
 * would otherwise ignore them). The launcher mirrors the bootstrap's exit: the same code,
 * or the same signal, so the daemon sees what the runtime did.
 *
 * On failure at any stage it writes "<stage> <errno>\n" to --status-fd and exits 127 (fail
 * fast, as bubblewrap does). Only libc, linked statically where possible: it is on every
 * cold start.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launcher.h"

static int status_fd = -1;

static void write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return;
                p += w;
                n -= (size_t) w;
        }
}

static _Noreturn void die(const char *stage, int err) {
        char msg[128];
        int n = snprintf(msg, sizeof(msg), "%s %d\n", stage, err);

        if (status_fd >= 0)
                write_all(status_fd, msg, (size_t) n);
        else
                dprintf(2, "lemu-launcher: %s: %s\n", stage, strerror(err));
        _exit(127);
}

static int write_file(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        ssize_t w = write(fd, text, strlen(text));
        int e = w < 0 ? -errno : 0;
        close(fd);
        return e;
}

/* ---- launcher stages -------------------------------------------------------------------- */

static void join_cgroups(const LaunchOpts *o) {
        char path[4096];

        for (int i = 0; i < o->n_cgroups; i++) {
                snprintf(path, sizeof(path), "%s/cgroup.procs", o->cgroups[i]);
                int r = write_file(path, "0");
                if (r < 0)
                        die("cgroup", -r);
        }
}

static void set_rlimits(const LaunchOpts *o) {
        struct rlimit rl = { 0, 0 };

        if (setrlimit(RLIMIT_CORE, &rl) < 0)
                die("rlimit-core", errno);
        if (o->nofile > 0) {
                rl = (struct rlimit){ (rlim_t) o->nofile, (rlim_t) o->nofile };
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        die("rlimit-nofile", errno);
        }
}

/* The namespaces the options ask for; unprivileged users get them inside a user namespace
 * of their own. Return: false when no pid namespace could be made (the caller execs
 * directly and the daemon falls back to a process-group kill). */
static bool enter_namespaces(LaunchOpts *o) {
        int flags = 0;

        /* A restart joins the namespaces the environment kept (network: none). */
        if (o->userns_fd >= 0 && setns(o->userns_fd, CLONE_NEWUSER) < 0)
                die("setns-user", errno);
        if (o->netns_fd >= 0 && setns(o->netns_fd, CLONE_NEWNET) < 0)
                die("setns-net", errno);
        const char *stage = NULL;
        int jr = launch_join(o, &stage); /* a kept /tmp (tmpfs): its mount namespace */
        if (jr < 0)
                die(stage, -jr);
        if (o->pidns)
                flags |= CLONE_NEWPID;
        if (o->tmp || o->read_only)
                flags |= CLONE_NEWNS;
        if (o->net_none && o->netns_fd < 0)
                flags |= CLONE_NEWNET;
        if (!flags)
                return false;
        if (o->userns_fd >= 0) {
                /* Inside our own user namespace already: we hold its capabilities. */
                if (unshare(flags) < 0)
                        die("unshare", errno);
                return o->pidns;
        }
        if (unshare(flags) == 0)
                return o->pidns;
        if (errno != EPERM)
                die("unshare", errno);
        uid_t uid = getuid();
        gid_t gid = getgid();
        o->own_userns = true;
        if (unshare(flags | CLONE_NEWUSER) < 0) {
                if (flags != CLONE_NEWPID)
                        die("unshare", errno); /* asked-for isolation is never dropped */
                return false;
        }
        char map[64];
        snprintf(map, sizeof(map), "%u %u 1\n", (unsigned) uid, (unsigned) uid);
        (void) write_file("/proc/self/setgroups", "deny");
        int r = write_file("/proc/self/uid_map", map);
        if (r < 0)
                die("userns-uid-map", -r);
        snprintf(map, sizeof(map), "%u %u 1\n", (unsigned) gid, (unsigned) gid);
        r = write_file("/proc/self/gid_map", map);
        if (r < 0)
                die("userns-gid-map", -r);
        return o->pidns;
}

static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static void block_signals(sigset_t *set) {
        sigemptyset(set);
        sigaddset(set, SIGCHLD);
        for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
                sigaddset(set, forwarded[i]);
        sigprocmask(SIG_BLOCK, set, NULL);
}

static void unblock_signals(void) {
        sigset_t none;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Waits for @child, forwarding signals to it and reaping any orphan.
 * Return: the child's wait status. */
static int supervise(pid_t child, const sigset_t *set) {
        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(set, &si);

                if (sig < 0)
                        continue;
                if (sig != SIGCHLD) {
                        kill(child, sig);
                        continue;
                }
                for (;;) {
                        int st;
                        pid_t p = waitpid(-1, &st, WNOHANG);
                        if (p <= 0)
                                break;
                        if (p == child)
                                return st;
                }
        }
}

static _Noreturn void mirror_exit(int st) {
        if (WIFSIGNALED(st)) {
                int sig = WTERMSIG(st);
                signal(sig, SIG_DFL);
                unblock_signals();
                raise(sig);
                _exit(128 + sig);
        }
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 127);
}

/* ---- runtime stages --------------------------------------------------------------------- */

static _Noreturn void exec_program(const LaunchOpts *o, char **argv) {
        unblock_signals();
        if (o->chdir && chdir(o->chdir) < 0)
                die("chdir", errno);
        if (o->gid != (gid_t) -1) {
                if (setgroups(0, NULL) < 0 || setgid(o->gid) < 0)
                        die("setgid", errno);
        }
        if (o->uid != (uid_t) -1) {
                if (setuid(o->uid) < 0)
                        die("setuid", errno);
        }
        for (int i = 0; i < o->n_access; i++) {
                static const char *const names[LAUNCH_MAX_ACCESS] = { "access-0", "access-1",
                                                                      "access-2", "access-3" };
                if (access(o->access[i], R_OK | X_OK) < 0)
                        die(names[i], errno);
        }
        if (o->seccomp_fd >= 0) {
                int r = launch_seccomp(o->seccomp_fd);
                if (r < 0)
                        die("seccomp", -r);
        } else if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
                die("no-new-privs", errno);
        }
        if (o->dry_run)
                _exit(0);
        execv(argv[0], argv);
        die("exec", errno);
}

static _Noreturn void exec_runtime(const LaunchOpts *o) {
        exec_program(o, o->argv);
}

/* The variables only the runtime gets (spec §4.5): extensions see the rest. */
static bool runtime_only(const char *kv) {
        static const char *const names[] = {
                "AWS_EXECUTION_ENV=",          "AWS_LAMBDA_LOG_GROUP_NAME=",
                "AWS_LAMBDA_LOG_STREAM_NAME=", "AWS_XRAY_CONTEXT_MISSING=",
                "AWS_XRAY_DAEMON_ADDRESS=",    "LAMBDA_RUNTIME_DIR=",
                "LAMBDA_TASK_ROOT=",
        };
        if (kv[0] == '_')
                return true;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strncmp(kv, names[i], strlen(names[i])) == 0)
                        return true;
        return false;
}

extern char **environ;

/* In a child of init: an extension, its output on the extensions' pipe. A failure here is
 * the extension's (it exits 127, reported as its exit), never the launcher's status. */
static _Noreturn void exec_extension(const LaunchOpts *o, int i) {
        char *argv[] = { (char *) o->extensions[i], NULL };
        size_t n = 0;

        status_fd = -1;
        if (o->ext_out_fd >= 0 && (dup2(o->ext_out_fd, 1) < 0 || dup2(o->ext_out_fd, 2) < 0))
                _exit(127);
        for (char **p = environ; *p; p++)
                if (!runtime_only(*p))
                        environ[n++] = *p;
        environ[n] = NULL;
        exec_program(o, argv);
}

/* @index < 0: the runtime. One short write: the pipe keeps lines whole. */
static void report(const LaunchOpts *o, int index, int status) {
        char line[64];
        int n = index < 0 ? snprintf(line, sizeof(line), "r %d\n", status)
                          : snprintf(line, sizeof(line), "x %d %d\n", index, status);

        if (o->report_fd >= 0)
                write_all(o->report_fd, line, (size_t) n);
}

static pid_t start_runtime(const LaunchOpts *o) {
        pid_t runtime = fork();

        if (runtime < 0)
                die("fork", errno);
        if (runtime == 0)
                exec_runtime(o);
        /* The runtime is running: the launcher's status has nothing more to say. */
        if (status_fd >= 0)
                close(status_fd);
        status_fd = -1;
        return runtime;
}

static void kill_all(const pid_t *pids, int n) {
        for (int i = 0; i < n; i++)
                if (pids[i] > 0)
                        kill(pids[i], SIGKILL);
}

/*
 * init's work: the extensions, the gate, the runtime, then supervision until the runtime
 * and the extensions are gone. Signals arrive through a signalfd, so
 * that the gate and child exits are waited for together.
 * Return: the runtime's wait status (0 when it never started).
 */
static int run_init(const LaunchOpts *o, const sigset_t *set) {
        pid_t ext[LAUNCH_MAX_EXTENSIONS] = { 0 };
        int alive = 0, rt_status = 0;
        pid_t runtime = 0;
        bool rt_done = false, shutdown = false;
        bool gated = o->gate_fd >= 0;

        for (int i = 0; i < o->n_extensions; i++) {
                ext[i] = fork();
                if (ext[i] < 0)
                        die("fork-extension", errno);
                if (ext[i] == 0)
                        exec_extension(o, i);
                alive++;
        }
        if (o->ext_out_fd >= 0)
                close(o->ext_out_fd);
        int sfd = signalfd(-1, set, SFD_CLOEXEC);
        if (sfd < 0)
                die("signalfd", errno);
        if (!gated)
                runtime = start_runtime(o);
        for (;;) {
                struct pollfd p[2] = { { .fd = sfd, .events = POLLIN },
                                       { .fd = gated ? o->gate_fd : -1, .events = POLLIN } };
                if (poll(p, 2, -1) < 0)
                        continue;
                if (gated && p[1].revents) {
                        /* Prepared ahead, or extensions registering: the runtime starts when
                         * the daemon says so (one byte), or never (EOF: the gate closed). */
                        char go;
                        ssize_t g = read(o->gate_fd, &go, 1);
                        if (g < 0 && errno == EINTR)
                                continue;
                        if (g != 1) {
                                kill_all(ext, o->n_extensions);
                                _exit(0);
                        }
                        close(o->gate_fd);
                        gated = false;
                        runtime = start_runtime(o);
                }
                if (!(p[0].revents & POLLIN))
                        continue;
                struct signalfd_siginfo si;
                if (read(sfd, &si, sizeof(si)) != (ssize_t) sizeof(si))
                        continue;
                int sig = (int) si.ssi_signo;
                if (sig != SIGCHLD) {
                        if (sig == SIGTERM)
                                shutdown = true;
                        if (runtime > 0 && !rt_done)
                                kill(runtime, sig);
                } else {
                        int st;
                        pid_t c;
                        while ((c = waitpid(-1, &st, WNOHANG)) > 0) {
                                if (c == runtime) {
                                        rt_done = true;
                                        rt_status = st;
                                        report(o, -1, st);
                                        continue;
                                }
                                for (int i = 0; i < o->n_extensions; i++) {
                                        if (ext[i] != c)
                                                continue;
                                        ext[i] = 0;
                                        alive--;
                                        report(o, i, st);
                                }
                        }
                }
                /* A runtime that died on its own leaves the extensions running: the daemon
                 * sends them SHUTDOWN (failure) and then SIGTERM, or kills us all when their
                 * budget is spent. */
                bool runtime_gone = rt_done || (runtime == 0 && shutdown);
                if (runtime_gone && alive == 0) {
                        kill_all(ext, o->n_extensions);
                        return rt_status;
                }
        }
}

static void usage(void) {
        fputs("usage: lemu-launcher [--status-fd N] [--parent PID] [--chdir DIR] [--nofile N]\n"
              "                     [--cgroup DIR]... [--uid N --gid N] [--tmp SPEC]\n"
              "                     [--read-only] [--seccomp-fd N] [--net-none --rapi-sock N]\n"
              "                     [--access PATH]... [--dry-run] [--gate-fd N]\n"
              "                     [--extension PATH]... [--ext-out-fd N] [--report-fd N]\n"
              "                     [--no-pidns] -- BOOTSTRAP [ARGS...]\n"
              "Started by lemu for each execution environment; not meant to be run by hand.\n",
              stderr);
}

static int parse(LaunchOpts *o, int argc, char **argv) {
        int i;

        for (i = 1; i < argc; i++) {
                const char *a = argv[i];
                const char *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (strcmp(a, "--") == 0) {
                        i++;
                        break;
                }
                if (strcmp(a, "--no-pidns") == 0) {
                        o->pidns = false;
                        continue;
                }
                if (strcmp(a, "--read-only") == 0) {
                        o->read_only = true;
                        continue;
                }
                if (strcmp(a, "--dry-run") == 0) {
                        o->dry_run = true;
                        continue;
                }
                if (strcmp(a, "--net-none") == 0) {
                        o->net_none = true;
                        continue;
                }
                if (!v)
                        return -1;
                i++;
                if (strcmp(a, "--status-fd") == 0)
                        o->status_fd = atoi(v);
                else if (strcmp(a, "--parent") == 0)
                        o->parent = (pid_t) atol(v);
                else if (strcmp(a, "--chdir") == 0)
                        o->chdir = v;
                else if (strcmp(a, "--nofile") == 0)
                        o->nofile = atol(v);
                else if (strcmp(a, "--cgroup") == 0 && o->n_cgroups < LAUNCH_MAX_CGROUPS)
                        o->cgroups[o->n_cgroups++] = v;
                else if (strcmp(a, "--uid") == 0)
                        o->uid = (uid_t) atol(v);
                else if (strcmp(a, "--gid") == 0)
                        o->gid = (gid_t) atol(v);
                else if (strcmp(a, "--tmp") == 0)
                        o->tmp = v;
                else if (strcmp(a, "--seccomp-fd") == 0)
                        o->seccomp_fd = atoi(v);
                else if (strcmp(a, "--access") == 0 && o->n_access < LAUNCH_MAX_ACCESS)
                        o->access[o->n_access++] = v;
                else if (strcmp(a, "--rapi-sock") == 0)
                        o->rapi_sock = atoi(v);
                else if (strcmp(a, "--gate-fd") == 0)
                        o->gate_fd = atoi(v);
                else if (strcmp(a, "--netns-fd") == 0)
                        o->netns_fd = atoi(v);
                else if (strcmp(a, "--userns-fd") == 0)
                        o->userns_fd = atoi(v);
                else if (strcmp(a, "--extension") == 0 && o->n_extensions < LAUNCH_MAX_EXTENSIONS)
                        o->extensions[o->n_extensions++] = v;
                else if (strcmp(a, "--ext-out-fd") == 0)
                        o->ext_out_fd = atoi(v);
                else if (strcmp(a, "--report-fd") == 0)
                        o->report_fd = atoi(v);
                else
                        return -1;
        }
        if (i >= argc)
                return -1;
        o->argv = argv + i;
        return 0;
}

int main(int argc, char **argv) {
        LaunchOpts o = {
                .status_fd = -1,
                .pidns = true,
                .uid = (uid_t) -1,
                .gid = (gid_t) -1,
                .seccomp_fd = -1,
                .rapi_sock = -1,
                .netns_fd = -1,
                .userns_fd = -1,
                .gate_fd = -1,
                .ext_out_fd = -1,
                .report_fd = -1,
        };
        const char *stage = NULL;

        if (parse(&o, argc, argv) < 0) {
                usage();
                return 2;
        }
        status_fd = o.status_fd;
        if (status_fd >= 0)
                (void) fcntl(status_fd, F_SETFD, FD_CLOEXEC);
        if (o.seccomp_fd >= 0)
                (void) fcntl(o.seccomp_fd, F_SETFD, FD_CLOEXEC);
        /* Only the extensions' dup2'd copies survive their exec; the runtime gets neither. */
        if (o.ext_out_fd >= 0)
                (void) fcntl(o.ext_out_fd, F_SETFD, FD_CLOEXEC);
        if (o.report_fd >= 0)
                (void) fcntl(o.report_fd, F_SETFD, FD_CLOEXEC);

        /* 1. Die with the daemon; if it is already gone, do not start at all. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                die("pdeathsig", errno);
        if (o.parent && getppid() != o.parent)
                _exit(127);
        /* 2-3. Limits first: everything below inherits them. */
        join_cgroups(&o);
        set_rlimits(&o);

        /* 4. Namespaces, so that everything the function starts dies with init. */
        sigset_t set;
        block_signals(&set);
        bool pidns = enter_namespaces(&o);
        if (o.net_none) {
                int r = launch_network(&o, &stage);
                if (r < 0)
                        die(stage ? stage : "network", -r);
        }
        if (o.rapi_sock >= 0)
                close(o.rapi_sock);
        if (o.netns_fd >= 0)
                close(o.netns_fd);
        if (o.userns_fd >= 0)
                close(o.userns_fd);
        if (!pidns && o.n_extensions == 0) {
                if (o.tmp || o.read_only) {
                        int r = launch_mounts(&o, &stage);
                        if (r < 0)
                                die(stage ? stage : "mount", -r);
                }
                exec_runtime(&o); /* the daemon kills our process group */
        }

        /* init passes the runtime's raw wait status up this pipe: pid 1 cannot die by a
         * signal of its own raising. */
        int sp[2], alive[2];
        if (pipe2(sp, O_CLOEXEC) < 0 || pipe2(alive, O_CLOEXEC) < 0)
                die("pipe", errno);
        pid_t init = fork();
        if (init < 0)
                die("fork", errno);
        if (init > 0) {
                int raw;
                if (o.ext_out_fd >= 0)
                        close(o.ext_out_fd);
                if (o.report_fd >= 0)
                        close(o.report_fd);
                if (status_fd >= 0)
                        close(status_fd);
                if (o.seccomp_fd >= 0)
                        close(o.seccomp_fd);
                close(sp[1]);
                close(alive[0]); /* alive[1] stays open as long as we live */
                int st = supervise(init, &set);
                if (read(sp[0], &raw, sizeof(raw)) == (ssize_t) sizeof(raw))
                        st = raw;
                mirror_exit(st);
        }
        close(sp[0]);

        /* 5. init: pid 1 of the namespace. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                die("pdeathsig", errno);
        /* Our parent is outside the namespace (getppid() is 0 here): if it died before the
         * parent-death signal was set, its end of `alive` is closed already. */
        close(alive[1]);
        struct pollfd pfd = { .fd = alive[0], .events = POLLIN };
        if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLIN)))
                _exit(127);
        if (o.tmp || o.read_only) {
                int r = launch_mounts(&o, &stage);
                if (r < 0)
                        die(stage ? stage : "mount", -r);
        }
        int st = run_init(&o, &set);
        write_all(sp[1], (const char *) &st, sizeof(st));
        _exit(0);
}
