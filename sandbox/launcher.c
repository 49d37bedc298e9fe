/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lemu-launcher: the small program the daemon spawns for each environment start. It applies
 * the environment's limits in a fixed order and then execs the bootstrap:
 *
 *   parent-death signal → pid namespace (with a user namespace when not root) → fork init
 *   → [init] fork runtime → [runtime] chdir → rlimits → exec
 *
 * Process tree: daemon → launcher → init (pid 1 of a new pid namespace) → bootstrap. Each
 * link carries PR_SET_PDEATHSIG=SIGKILL, so when the daemon dies (even by SIGKILL) the
 * launcher dies, init dies, and the kernel kills everything left in the namespace: no
 * function process outlives lemu. init reaps orphans and forwards SIGTERM and friends to the
 * bootstrap (pid 1 would otherwise ignore them). The launcher mirrors the bootstrap's exit:
 * the same code, or the same signal, so the daemon sees what the runtime did.
 *
 * On failure at any stage it writes "<stage> <errno>\n" to --status-fd and exits 127
 * (fail fast, as bubblewrap does). Only libc: it must start in well under a millisecond.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* A pid namespace; unprivileged users get one inside their own user namespace. */
static bool enter_pid_namespace(void) {
        if (unshare(CLONE_NEWPID) == 0)
                return true;
        if (errno != EPERM)
                return false;
        uid_t uid = getuid();
        gid_t gid = getgid();
        if (unshare(CLONE_NEWUSER | CLONE_NEWPID) < 0)
                return false;
        char map[64];
        snprintf(map, sizeof(map), "%u %u 1\n", (unsigned) uid, (unsigned) uid);
        (void) write_file("/proc/self/setgroups", "deny");
        if (write_file("/proc/self/uid_map", map) < 0)
                die("userns", errno);
        snprintf(map, sizeof(map), "%u %u 1\n", (unsigned) gid, (unsigned) gid);
        (void) write_file("/proc/self/gid_map", map);
        return true;
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
        sigset_t all;

        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
}

/* Waits for @child, forwarding signals to it and reaping any orphan (we may be pid 1).
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

static _Noreturn void exec_runtime(const char *dir, long nofile, char **argv) {
        struct rlimit rl;

        unblock_signals();
        if (dir && chdir(dir) < 0)
                die("chdir", errno);
        rl = (struct rlimit){ 0, 0 };
        if (setrlimit(RLIMIT_CORE, &rl) < 0)
                die("rlimit-core", errno);
        if (nofile > 0) {
                rl = (struct rlimit){ (rlim_t) nofile, (rlim_t) nofile };
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        die("rlimit-nofile", errno);
        }
        execv(argv[0], argv);
        die("exec", errno);
}

static void usage(void) {
        fputs("usage: lemu-launcher [--status-fd N] [--parent PID] [--chdir DIR] [--nofile N]\n"
              "                     [--no-pidns] -- BOOTSTRAP [ARGS...]\n"
              "Started by lemu for each execution environment; not meant to be run by hand.\n",
              stderr);
}

int main(int argc, char **argv) {
        const char *dir = NULL;
        long nofile = 0;
        pid_t parent = 0;
        bool want_pidns = true;
        int i;

        for (i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (strcmp(a, "--") == 0) {
                        i++;
                        break;
                } else if (strcmp(a, "--status-fd") == 0 && i + 1 < argc) {
                        status_fd = atoi(argv[++i]);
                } else if (strcmp(a, "--parent") == 0 && i + 1 < argc) {
                        parent = (pid_t) atol(argv[++i]);
                } else if (strcmp(a, "--chdir") == 0 && i + 1 < argc) {
                        dir = argv[++i];
                } else if (strcmp(a, "--nofile") == 0 && i + 1 < argc) {
                        nofile = atol(argv[++i]);
                } else if (strcmp(a, "--no-pidns") == 0) {
                        want_pidns = false;
                } else {
                        usage();
                        return 2;
                }
        }
        if (i >= argc) {
                usage();
                return 2;
        }
        if (status_fd >= 0)
                (void) fcntl(status_fd, F_SETFD, FD_CLOEXEC);

        /* 1. Die with the daemon; if it is already gone, do not start at all. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                die("pdeathsig", errno);
        if (parent && getppid() != parent)
                _exit(127);

        /* 2. A pid namespace, so that everything the function starts dies with init. */
        sigset_t set;
        block_signals(&set);
        if (!want_pidns || !enter_pid_namespace())
                exec_runtime(dir, nofile, argv + i); /* the daemon kills our process group */

        /* init passes the runtime's raw wait status up this pipe: pid 1 cannot die by a
         * signal of its own raising. */
        int sp[2], alive[2];
        if (pipe2(sp, O_CLOEXEC) < 0 || pipe2(alive, O_CLOEXEC) < 0)
                die("pipe", errno);
        pid_t launcher = getpid();
        pid_t init = fork();
        if (init < 0)
                die("fork", errno);
        if (init > 0) {
                int raw;
                if (status_fd >= 0)
                        close(status_fd);
                close(sp[1]);
                close(alive[0]); /* alive[1] stays open as long as we live */
                int st = supervise(init, &set);
                if (read(sp[0], &raw, sizeof(raw)) == (ssize_t) sizeof(raw))
                        st = raw;
                mirror_exit(st);
        }
        close(sp[0]);

        /* 3. init: pid 1 of the namespace. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                die("pdeathsig", errno);
        /* Our parent is outside the namespace (getppid() is 0 here): if it died before the
         * parent-death signal was set, its end of `alive` is closed already. */
        close(alive[1]);
        struct pollfd pfd = { .fd = alive[0], .events = POLLIN };
        if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLIN)))
                _exit(127);
        (void) launcher;
        pid_t runtime = fork();
        if (runtime < 0)
                die("fork", errno);
        if (runtime == 0)
                exec_runtime(dir, nofile, argv + i);
        if (status_fd >= 0)
                close(status_fd);
        int st = supervise(runtime, &set);
        write_all(sp[1], (const char *) &st, sizeof(st));
        _exit(0);
}
