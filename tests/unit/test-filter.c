/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the seccomp filters (sandbox/filter.c): the default profile's pseudo filter
 * code against a reviewed golden file, the sealed memfd and the per-profile cache, and the
 * program's behaviour once loaded. Loading goes through the launcher's own loader
 * (sandbox/launcher-seccomp.c, compiled into this test) in a forked child, which reports what
 * each probe got over a pipe and leaves with _exit: a filtered child must not run the leak
 * checker of a sanitizer build, which needs ptrace.
 *
 * Regenerate the golden file after a reviewed change with LEMU_UPDATE_GOLDEN=1.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "filter.h"
#include "launcher.h"

#define GOLDEN    LEMU_SOURCE_ROOT "/tests/unit/golden/seccomp-default.pfc"
#define NOWHERE   "/nonexistent-lemu-filter-test"
#define MAX_PROBE 32

#ifndef SYS_clone3
#        define SYS_clone3 435
#endif
#ifndef CLONE_NEWTIME
#        define CLONE_NEWTIME 0x00000080
#endif

/* ---- helpers ---- */

static char *read_fd_all(int fd, size_t *ret_len) {
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        char *p = malloc((size_t) st.st_size + 1);
        assert_non_null(p);
        ssize_t n = pread(fd, p, (size_t) st.st_size, 0);
        assert_int_equal(n, st.st_size);
        p[n] = '\0';
        *ret_len = (size_t) n;
        return p;
}

static char *read_path(const char *path, size_t *ret_len) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        char *p = read_fd_all(fd, ret_len);
        close(fd);
        return p;
}

/* ---- profile names ---- */

static void test_profile_names(void **state) {
        assert_int_equal(filter_profile_from_string("default"), FILTER_PROFILE_DEFAULT);
        assert_int_equal(filter_profile_from_string("off"), _FILTER_PROFILE_INVALID);
        assert_int_equal(filter_profile_from_string(""), _FILTER_PROFILE_INVALID);
        assert_int_equal(filter_profile_from_string(NULL), _FILTER_PROFILE_INVALID);
}

/* ---- the golden file ---- */

static void test_pfc_golden(void **state) {
#if !defined(__x86_64__)
        skip(); /* the golden file is x86_64's: system call numbers differ per architecture */
#endif
        int fd = memfd_create("pfc", MFD_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(filter_export_pfc(FILTER_PROFILE_DEFAULT, fd), 0);
        size_t len, glen = 0;
        char *got = read_fd_all(fd, &len);
        close(fd);

        const char *update = getenv("LEMU_UPDATE_GOLDEN");
        if (update && strcmp(update, "1") == 0) {
                FILE *f = fopen(GOLDEN, "w");
                assert_non_null(f);
                assert_int_equal(fwrite(got, 1, len, f), len);
                assert_int_equal(fclose(f), 0);
        }
        char *want = read_path(GOLDEN, &glen);
        if (!want)
                fail_msg("cannot read %s: %s", GOLDEN, strerror(errno));
        if (len != glen || memcmp(got, want, len) != 0) {
                /* Name the first line that differs: the whole file is too long to diff by eye. */
                const char *g = got, *w = want;
                int line = 1;
                while (*g && *g == *w) {
                        if (*g == '\n')
                                line++;
                        g++;
                        w++;
                }
                while (g > got && g[-1] != '\n')
                        g--;
                while (w > want && w[-1] != '\n')
                        w--;
                print_error("%s differs at line %d:\n  want: %.*s\n  got:  %.*s\n"
                            "review the change, then regenerate with LEMU_UPDATE_GOLDEN=1\n",
                            GOLDEN, line, (int) strcspn(w, "\n"), w, (int) strcspn(g, "\n"), g);
                free(got);
                free(want);
                fail();
        }
        free(got);
        free(want);
}

/* The golden file must say what the issue asks for, whatever it was regenerated from. */
static void test_pfc_content(void **state) {
        int fd = memfd_create("pfc", MFD_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(filter_export_pfc(FILTER_PROFILE_DEFAULT, fd), 0);
        size_t len;
        char *got = read_fd_all(fd, &len);
        close(fd);
        static const char *const want[] = {
                "syscall \"ptrace\"",  "syscall \"mount\"",    "syscall \"umount2\"",
                "syscall \"reboot\"",  "syscall \"bpf\"",      "syscall \"perf_event_open\"",
                "syscall \"keyctl\"",  "syscall \"setns\"",    "syscall \"kexec_load\"",
                "syscall \"unshare\"", "syscall \"clone\"",    "action ERRNO(38);",
                "action ALLOW;",       "action KILL_PROCESS;",
        };
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
                if (!strstr(got, want[i]))
                        fail_msg("the default profile lacks %s", want[i]);
        /* Threads and processes: the plain calls stay allowed. */
        assert_null(strstr(got, "syscall \"userfaultfd\""));
        assert_null(strstr(got, "syscall \"kcmp\""));
        free(got);
}

/* ---- the memfd ---- */

static void test_build_sealed(void **state) {
        int fd = -1;
        assert_int_equal(filter_build(FILTER_PROFILE_DEFAULT, &fd), 0);
        assert_true(fd >= 0);

        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        assert_true(st.st_size > 0);
        assert_int_equal(st.st_size % 8, 0); /* struct sock_filter records */
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        int seals = fcntl(fd, F_GET_SEALS);
        assert_int_equal(seals & (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE),
                         F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
        assert_int_equal(pwrite(fd, "x", 1, 0), -1);
        assert_int_equal(errno, EPERM);
        assert_int_equal(ftruncate(fd, 0), -1);
        assert_int_equal(errno, EPERM);
        assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE), -1);
        assert_int_equal(errno, EPERM);

        char link[64], target[PATH_MAX];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        assert_true(n > 0);
        target[n] = '\0';
        assert_string_equal(target, "/memfd:lemu-seccomp (deleted)");

        /* A second build is a new, identical program. */
        int fd2 = -1;
        assert_int_equal(filter_build(FILTER_PROFILE_DEFAULT, &fd2), 0);
        assert_int_not_equal(fd, fd2);
        size_t l1, l2;
        char *a = read_fd_all(fd, &l1), *b = read_fd_all(fd2, &l2);
        assert_int_equal(l1, l2);
        assert_memory_equal(a, b, l1);
        free(a);
        free(b);
        close(fd);
        close(fd2);
}

static void test_build_invalid(void **state) {
        int fd = 12345;
        assert_int_equal(filter_build(_FILTER_PROFILE_MAX, &fd), -EINVAL);
        assert_int_equal(filter_build(_FILTER_PROFILE_INVALID, &fd), -EINVAL);
        assert_int_equal(fd, 12345); /* out-parameters are written only on success */
        assert_int_equal(filter_export_pfc(_FILTER_PROFILE_MAX, 1), -EINVAL);
}

static void test_cache(void **state) {
        FilterCache c = { 0 };

        filter_cache_deinit(&c); /* a zeroed cache is an empty one */
        assert_int_equal(filter_cache_peek(&c, FILTER_PROFILE_DEFAULT), -1);
        int fd = filter_cache_get(&c, FILTER_PROFILE_DEFAULT);
        assert_true(fd >= 0);
        assert_int_equal(filter_cache_get(&c, FILTER_PROFILE_DEFAULT), fd);
        assert_int_equal(filter_cache_peek(&c, FILTER_PROFILE_DEFAULT), fd);
        assert_int_equal(filter_cache_get(&c, _FILTER_PROFILE_MAX), -EINVAL);
        assert_int_equal(filter_cache_peek(&c, _FILTER_PROFILE_INVALID), -1);
        filter_cache_deinit(&c);
        assert_int_equal(fcntl(fd, F_GETFD), -1); /* closed */
        assert_int_equal(errno, EBADF);
        assert_int_equal(filter_cache_peek(&c, FILTER_PROFILE_DEFAULT), -1);
        filter_cache_deinit(&c); /* twice is fine */
}

/* ---- behaviour ---- */

typedef struct ProbeResult {
        int n;
        char name[MAX_PROBE][40];
        int err[MAX_PROBE]; /* 0: the call succeeded; else its errno; -1: wrong result */
} ProbeResult;

static ProbeResult *probes;

static void note(const char *name, long r) {
        int i = probes->n++;
        snprintf(probes->name[i], sizeof(probes->name[i]), "%s", name);
        probes->err[i] = r < 0 ? errno : 0;
}

static void *thread_main(void *arg) {
        *(int *) arg = 42;
        return NULL;
}

/* The probes, run in a child; each records 0 or the errno it got. */
static void run_probes(pid_t parent, bool filtered) {
        /* Unfiltered, PTRACE_TRACEME would succeed and stop the child at its next signal. */
        if (filtered)
                note("ptrace(PTRACE_TRACEME)", ptrace(PTRACE_TRACEME, 0, NULL, NULL));
        note("mount", mount("none", NOWHERE, "tmpfs", 0, NULL));
        note("umount2", umount2(NOWHERE, 0));
        note("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER));
        note("unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS));
        note("unshare(CLONE_NEWNET|CLONE_FILES)", unshare(CLONE_NEWNET | CLONE_FILES));
        note("unshare(CLONE_NEWTIME)", unshare(CLONE_NEWTIME));
        note("unshare(CLONE_FILES)", unshare(CLONE_FILES));
        long c = syscall(SYS_clone, (unsigned long) (CLONE_NEWPID | SIGCHLD), NULL, NULL, NULL, 0);
        if (c == 0)
                _exit(0);
        if (c > 0)
                waitpid((pid_t) c, NULL, 0);
        note("clone(CLONE_NEWPID)", c);
        note("clone3", syscall(SYS_clone3, NULL, 0));
        note("setns", setns(-1, 0));
        note("bpf", syscall(SYS_bpf, -1, NULL, 0));
        note("keyctl", syscall(SYS_keyctl, -1, 0, 0, 0, 0));
        note("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));

        int value = 0;
        pthread_t t;
        int r = pthread_create(&t, NULL, thread_main, &value);
        if (r == 0)
                r = pthread_join(t, NULL);
        errno = r;
        note("pthread_create+join", r == 0 && value == 42 ? 0 : -1);

        long pp = syscall(SYS_getppid);
        errno = pp < 0 ? errno : EINVAL;
        note("syscall(SYS_getppid)", pp == parent ? 0 : -1);

        pid_t k = fork();
        if (k == 0)
                _exit(7);
        int st = 0;
        if (k > 0 && waitpid(k, &st, 0) == k && WIFEXITED(st) && WEXITSTATUS(st) == 7)
                note("fork", 0);
        else {
                errno = k < 0 ? errno : ECHILD;
                note("fork", -1);
        }
}

/* Runs the probes in a child, with the filter in @filter_fd loaded first (-1: none). */
static void probe(int filter_fd) {
        pid_t parent = getpid();

        probes = mmap(NULL, sizeof(*probes), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
                      0);
        assert_true(probes != MAP_FAILED);
        memset(probes, 0, sizeof(*probes));
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (filter_fd >= 0 && launch_seccomp(filter_fd) < 0)
                        _exit(3);
                run_probes(parent, filter_fd >= 0);
                _exit(0);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
}

static int got(const char *name) {
        for (int i = 0; i < probes->n; i++)
                if (strcmp(probes->name[i], name) == 0)
                        return probes->err[i];
        fail_msg("no probe named %s", name);
        return -1;
}

static void expect(const char *name, int want) {
        int e = got(name);
        if (e != want)
                fail_msg("%s: want %s, got %s", name, want ? strerror(want) : "success",
                         e > 0    ? strerror(e)
                         : e == 0 ? "success"
                                  : "a wrong result");
}

/* Without a filter the probes answer otherwise: they tell a filter's EPERM apart. */
static void test_unfiltered_baseline(void **state) {
        probe(-1);
        expect("mount", ENOENT);
        expect("umount2", ENOENT);
        expect("clone3", EINVAL);
        expect("setns", EBADF);
        expect("bpf", EINVAL);
        expect("keyctl", EOPNOTSUPP);
        expect("pthread_create+join", 0);
        expect("syscall(SYS_getppid)", 0);
        expect("fork", 0);
        munmap(probes, sizeof(*probes));
}

static void test_filtered(void **state) {
        int fd = -1;
        assert_int_equal(filter_build(FILTER_PROFILE_DEFAULT, &fd), 0);
        probe(fd);
        expect("ptrace(PTRACE_TRACEME)", EPERM);
        expect("mount", EPERM);
        expect("umount2", EPERM);
        expect("unshare(CLONE_NEWUSER)", EPERM);
        expect("unshare(CLONE_NEWNS)", EPERM);
        expect("unshare(CLONE_NEWNET|CLONE_FILES)", EPERM);
        expect("unshare(CLONE_NEWTIME)", EPERM);
        expect("unshare(CLONE_FILES)", 0);
        expect("clone(CLONE_NEWPID)", EPERM);
        expect("clone3", ENOSYS);
        expect("setns", EPERM);
        expect("bpf", EPERM);
        expect("keyctl", EPERM);
        expect("perf_event_open", EPERM);
        expect("pthread_create+join", 0);
        expect("syscall(SYS_getppid)", 0);
        expect("fork", 0);
        munmap(probes, sizeof(*probes));
        /* The child loaded it from offset 0 with pread; the daemon's copy is untouched. */
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        assert_true(st.st_size > 0);
        close(fd);
}

/* A system call through another ABI (x32 numbers on x86_64) would dodge the rules: the
 * process is killed. */
static void test_other_abi_killed(void **state) {
#if !defined(__x86_64__)
        skip();
#else
        int fd = -1;
        assert_int_equal(filter_build(FILTER_PROFILE_DEFAULT, &fd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct rlimit no_core = { 0, 0 };
                setrlimit(RLIMIT_CORE, &no_core);
                if (launch_seccomp(fd) < 0)
                        _exit(3);
                syscall(0x40000000 | SYS_getpid);
                _exit(0);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st));
        assert_int_equal(WTERMSIG(st), SIGSYS);
        close(fd);
#endif
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_profile_names),       cmocka_unit_test(test_pfc_golden),
                cmocka_unit_test(test_pfc_content),         cmocka_unit_test(test_build_sealed),
                cmocka_unit_test(test_build_invalid),       cmocka_unit_test(test_cache),
                cmocka_unit_test(test_unfiltered_baseline), cmocka_unit_test(test_filtered),
                cmocka_unit_test(test_other_abi_killed),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
