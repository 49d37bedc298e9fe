/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the cgroup backends (sandbox/cgroup*.c) against fake cgroupfs trees in a
 * temporary folder: a v1 hybrid (memory/ pids/ cpu/ unified/ hierarchies) and a v2 tree
 * (cgroup.controllers at its top). They check the exact files each backend writes, the
 * instance and environment directory names, the OOM counters and memory figures read back,
 * freezing through cgroup.freeze, and the removal of what a dead lemu left behind.
 *
 * A fake tree is not cgroupfs: its files are real files, so a directory with files in it
 * cannot be removed, and only the last write to a file is kept. Where the kernel would make
 * a control file on mkdir (cgroup.freeze, memory.oom_control, memory.events, memory.stat),
 * the test makes the environment's directory and the file first; cg_create() accepts an
 * existing directory. Before cg_destroy() the test removes the files, as the kernel would.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup.h"
#include "procmem.h"

#define MB (1024ULL * 1024)
#define LIMITS_128MB \
        { .memory_bytes = 128 * MB, .pids = 1024, .cpus = 128 / 1769.0 }

/* ---- helpers ---- */

static char *path_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *path_of(const char *fmt, ...) {
        va_list ap;
        char *p = NULL;

        va_start(ap, fmt);
        assert_true(vasprintf(&p, fmt, ap) >= 0);
        va_end(ap);
        return p;
}

static void mkdir_at(const char *dir, const char *name) {
        char *p = path_of("%s/%s", dir, name);
        assert_int_equal(mkdir(p, 0755), 0);
        free(p);
}

static void put(const char *dir, const char *name, const char *content) {
        char *p = path_of("%s/%s", dir, name);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        assert_int_equal(fputs(content, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
        free(p);
}

static bool exists(const char *dir, const char *name) {
        char *p = path_of("%s/%s", dir, name);
        bool r = access(p, F_OK) == 0;
        free(p);
        return r;
}

/* Asserts that dir/name holds exactly @want. */
static void assert_file(const char *dir, const char *name, const char *want) {
        char *p = path_of("%s/%s", dir, name);
        char buf[4096];
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                fail_msg("%s: %s", p, strerror(errno));
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        assert_true(n >= 0);
        buf[n] = '\0';
        if (strcmp(buf, want) != 0)
                fail_msg("%s holds '%s', want '%s'", p, buf, want);
        free(p);
}

/* Lists the regular files of @dir, sorted, joined by spaces (to assert "nothing else"). */
static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static char *files_in(const char *dir) {
        DIR *d = opendir(dir);
        char *names[64];
        size_t n = 0, len = 1;
        struct dirent *de;

        assert_non_null(d);
        while ((de = readdir(d)) && n < 64) {
                if (de->d_type != DT_REG)
                        continue;
                names[n] = strdup(de->d_name);
                len += strlen(de->d_name) + 1;
                n++;
        }
        closedir(d);
        qsort(names, n, sizeof(char *), cmp_str);
        char *out = calloc(1, len);
        for (size_t i = 0; i < n; i++) {
                if (i)
                        strcat(out, " ");
                strcat(out, names[i]);
                free(names[i]);
        }
        return out;
}

static void assert_files(const char *dir, const char *want) {
        char *have = files_in(dir);
        if (strcmp(have, want) != 0)
                fail_msg("files in %s: '%s', want '%s'", dir, have, want);
        free(have);
}

/* Removes the regular files of @dir (what cgroupfs would not have), not the dir. */
static void unlink_files(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                if (de->d_type == DT_REG) {
                        char *p = path_of("%s/%s", dir, de->d_name);
                        assert_int_equal(unlink(p), 0);
                        free(p);
                }
        }
        closedir(d);
}

static void rm_rf(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                char *p = path_of("%s/%s", dir, de->d_name);
                if (de->d_type == DT_DIR)
                        rm_rf(p);
                else
                        unlink(p);
                free(p);
        }
        closedir(d);
        rmdir(dir);
}

/* Our start time from /proc/self/stat, read here independently of procmem.c. */
static unsigned long long own_start_time(void) {
        char buf[1024];
        int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        assert_true(n > 0);
        buf[n] = '\0';
        char *p = strrchr(buf, ')');
        assert_non_null(p);
        /* After ") " come fields 3…; starttime is field 22. */
        p += 2;
        for (int field = 3; field < 22; field++) {
                p = strchr(p, ' ');
                assert_non_null(p);
                p++;
        }
        return strtoull(p, NULL, 10);
}

/* A pid that is certainly not running: a child of ours, reaped. */
static pid_t dead_pid(void) {
        pid_t c = fork();
        assert_true(c >= 0);
        if (c == 0)
                _exit(0);
        assert_int_equal(waitpid(c, NULL, 0), c);
        return c;
}

typedef struct Tree {
        char root[64];
        char instance[64];
} Tree;

static void tree_new(Tree *t) {
        snprintf(t->root, sizeof(t->root), "/tmp/lemu-test-cgroup-XXXXXX");
        assert_non_null(mkdtemp(t->root));
        snprintf(t->instance, sizeof(t->instance), "lemu-%d-%llu", (int) getpid(),
                 own_start_time());
}

static void tree_free(Tree *t) {
        rm_rf(t->root);
}

static const char *const v1_ctrls[] = { "memory", "pids", "cpu", "unified" };

static void v1_tree(Tree *t) {
        tree_new(t);
        for (size_t i = 0; i < 4; i++)
                mkdir_at(t->root, v1_ctrls[i]);
}

/* Makes what cgroupfs would show in a new v1 environment dir before cg_create() runs. */
static void v1_precreate_env(const Tree *t, const char *name) {
        for (size_t i = 0; i < 4; i++) {
                char *inst = path_of("%s/%s/%s", t->root, v1_ctrls[i], t->instance);
                mkdir(inst, 0755);
                mkdir_at(inst, name);
                free(inst);
        }
        char *mem = path_of("%s/memory/%s/%s", t->root, t->instance, name);
        put(mem, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
        put(mem, "memory.stat",
            "cache 111\nrss 222\nrss_huge 0\nshmem 333\nmapped_file 0\n"
            "hierarchical_memory_limit 134217728\ntotal_cache 52428800\n"
            "total_rss 41943040\ntotal_rss_huge 2097152\ntotal_shmem 4194304\n"
            "total_mapped_file 0\n");
        put(mem, "cgroup.procs", "12\n34\n");
        free(mem);
        char *uni = path_of("%s/unified/%s/%s", t->root, t->instance, name);
        put(uni, "cgroup.freeze", "0");
        free(uni);
}

/* ---- v1 ---- */

static void test_v1_host(void **state) {
        Tree t;
        CgHost h;

        v1_tree(&t);
        assert_int_equal(cg_host_init(&h, t.root), 0);
        assert_int_equal(h.version, CG_V1);
        assert_ptr_equal(h.ops, &cg_v1_ops);
        assert_string_equal(h.ops->name, "v1");
        assert_string_equal(h.instance, t.instance);
        assert_string_equal(h.reason, "");
        /* The instance dir is lemu-<pid>-<starttime> in every hierarchy. */
        char *want;
        want = path_of("%s/memory/%s", t.root, t.instance);
        assert_string_equal(h.memory, want);
        free(want);
        want = path_of("%s/pids/%s", t.root, t.instance);
        assert_string_equal(h.pids, want);
        free(want);
        want = path_of("%s/cpu/%s", t.root, t.instance);
        assert_string_equal(h.cpu, want);
        free(want);
        want = path_of("%s/unified/%s", t.root, t.instance);
        assert_string_equal(h.unified, want);
        free(want);
        char *dirs[] = { h.memory, h.pids, h.cpu, h.unified };
        for (size_t i = 0; i < 4; i++) {
                struct stat st;
                assert_int_equal(stat(dirs[i], &st), 0);
                assert_true(S_ISDIR(st.st_mode));
                assert_files(dirs[i], "");
        }
        cg_host_deinit(&h);
        /* deinit removes the (empty) instance dirs and zeroes the host. */
        for (size_t i = 0; i < 4; i++) {
                char *p = path_of("%s/%s", t.root, v1_ctrls[i]);
                assert_false(exists(p, t.instance));
                free(p);
        }
        assert_null(h.memory);
        assert_int_equal(h.version, CG_NONE);
        tree_free(&t);
}

static void test_v1_create(void **state) {
        Tree t;
        CgHost h;
        Cgroup cg;
        CgLimits l = LIMITS_128MB;

        v1_tree(&t);
        assert_int_equal(cg_host_init(&h, t.root), 0);
        v1_precreate_env(&t, "function-1");
        assert_int_equal(cg_create(&cg, &h, "function-1", &l), 0);

        char *mem = path_of("%s/memory/%s/function-1", t.root, t.instance);
        char *pids = path_of("%s/pids/%s/function-1", t.root, t.instance);
        char *cpu = path_of("%s/cpu/%s/function-1", t.root, t.instance);
        char *uni = path_of("%s/unified/%s/function-1", t.root, t.instance);
        assert_string_equal(cg.memory, mem);
        assert_string_equal(cg.pids, pids);
        assert_string_equal(cg.cpu, cpu);
        assert_string_equal(cg.unified, uni);
        assert_ptr_equal(cg.host, &h);

        /* 128 MiB, and the same for memory+swap so that swap is no way round it. */
        assert_file(mem, "memory.limit_in_bytes", "134217728");
        assert_file(mem, "memory.memsw.limit_in_bytes", "134217728");
        assert_files(mem, "cgroup.procs memory.limit_in_bytes memory.memsw.limit_in_bytes "
                          "memory.oom_control memory.stat");
        assert_file(pids, "pids.max", "1024");
        assert_files(pids, "pids.max");
        /* 128/1769 of a CPU: 7235 µs of every 100 ms. */
        assert_file(cpu, "cpu.cfs_period_us", "100000");
        assert_file(cpu, "cpu.cfs_quota_us", "7235");
        assert_files(cpu, "cpu.cfs_period_us cpu.cfs_quota_us");
        /* Nothing but freezing and killing goes to the unified hierarchy. */
        assert_files(uni, "cgroup.freeze");

        /* The launcher joins each hierarchy once; the list ends with NULL. */
        const char *join[6] = { "x", "x", "x", "x", "x", "x" };
        assert_int_equal(cg_join_dirs(&cg, join, 5), 4);
        assert_string_equal(join[0], mem);
        assert_string_equal(join[1], pids);
        assert_string_equal(join[2], cpu);
        assert_string_equal(join[3], uni);
        assert_null(join[4]);
        const char *two[2];
        assert_int_equal(cg_join_dirs(&cg, two, 2), 2);
        assert_string_equal(two[1], pids);

        /* OOM kills come from memory.oom_control's oom_kill (not oom_kill_disable). */
        assert_false(cg_oom_fired(&cg));
        put(mem, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
        assert_true(cg_oom_fired(&cg));
        assert_false(cg_oom_fired(&cg));
        put(mem, "memory.oom_control", "oom_kill_disable 1\nunder_oom 1\noom_kill 3\n");
        assert_true(cg_oom_fired(&cg));
        assert_false(cg_oom_fired(&cg));

        /* Process memory: total_rss + total_shmem (never cache, never the local rss). */
        uint64_t now = 0;
        assert_int_equal(cg_memory_now(&cg, &now), 0);
        assert_int_equal(now, 41943040ULL + 4194304ULL);
        put(mem, "memory.stat", "cache 5\ntotal_cache 900\ntotal_rss_huge 7\ntotal_rss 4096\n");
        assert_int_equal(cg_memory_now(&cg, &now), 0);
        assert_int_equal(now, 4096);
        put(mem, "memory.stat", "cache 5\n");
        now = 77;
        assert_int_equal(cg_memory_now(&cg, &now), -ENOENT);
        assert_int_equal(now, 77);

        /* Freezing writes the unified hierarchy's cgroup.freeze. */
        assert_true(cg_can_freeze(&cg));
        assert_int_equal(cg_freeze(&cg, true), 0);
        assert_file(uni, "cgroup.freeze", "1");
        assert_int_equal(cg_freeze(&cg, false), 0);
        assert_file(uni, "cgroup.freeze", "0");

        pid_t list[8];
        assert_int_equal(cg_pids(&cg, list, 8), 2);
        assert_int_equal(list[0], 12);
        assert_int_equal(list[1], 34);
        assert_int_equal(cg_pids(&cg, list, 1), 1);

        /* Killing goes through the unified hierarchy's cgroup.kill. */
        cg_kill(&cg);
        assert_file(uni, "cgroup.kill", "1");

        /* Destroy thaws first (a frozen cgroup never empties), then removes the dirs. The
         * unified dir keeps its cgroup.freeze here, to show the thaw, so only it stays. */
        assert_int_equal(cg_freeze(&cg, true), 0);
        unlink_files(mem);
        unlink_files(pids);
        unlink_files(cpu);
        char *kill_file = path_of("%s/cgroup.kill", uni);
        assert_int_equal(unlink(kill_file), 0);
        free(kill_file);
        assert_int_equal(cg_destroy(&cg), 0);
        assert_file(uni, "cgroup.freeze", "0");
        assert_false(exists(mem, "."));
        assert_false(exists(pids, "."));
        assert_false(exists(cpu, "."));
        assert_null(cg.memory);
        assert_null(cg.pids);
        assert_null(cg.cpu);
        assert_null(cg.unified);
        assert_int_equal(cg.freeze_fd, -1);
        /* Destroying twice is harmless. */
        assert_int_equal(cg_destroy(&cg), 0);
        unlink_files(uni);
        assert_int_equal(rmdir(uni), 0);

        cg_host_deinit(&h);
        free(mem);
        free(pids);
        free(cpu);
        free(uni);
        tree_free(&t);
}

static void test_v1_bare_and_odd_limits(void **state) {
        Tree t;
        CgHost h;
        Cgroup a, b, c;
        CgLimits one_cpu = { .memory_bytes = 1769 * MB, .pids = 7, .cpus = 1.0 };
        CgLimits tiny = { .memory_bytes = 0, .pids = 0, .cpus = 0.001 };
        CgLimits none = { 0 };

        /* Nothing made beforehand: no cgroup.freeze, no OOM counter, no memory.stat. */
        v1_tree(&t);
        assert_int_equal(cg_host_init(&h, t.root), 0);
        assert_int_equal(cg_create(&a, &h, "f-1", &one_cpu), 0);
        assert_file(a.memory, "memory.limit_in_bytes", "1854930944");
        assert_file(a.memory, "memory.memsw.limit_in_bytes", "1854930944");
        assert_file(a.pids, "pids.max", "7");
        assert_file(a.cpu, "cpu.cfs_quota_us", "100000");
        assert_false(cg_can_freeze(&a));
        assert_int_equal(cg_freeze(&a, true), -EOPNOTSUPP);
        assert_false(cg_oom_fired(&a));
        uint64_t now;
        assert_int_equal(cg_memory_now(&a, &now), -ENOENT);

        /* A quota never goes below 1 ms per 100 ms; a zero limit writes nothing. */
        assert_int_equal(cg_create(&b, &h, "f-2", &tiny), 0);
        assert_files(b.memory, "");
        assert_files(b.pids, "");
        assert_file(b.cpu, "cpu.cfs_period_us", "100000");
        assert_file(b.cpu, "cpu.cfs_quota_us", "1000");
        assert_int_equal(cg_create(&c, &h, "f-3", &none), 0);
        assert_files(c.memory, "");
        assert_files(c.pids, "");
        assert_files(c.cpu, "");
        assert_files(c.unified, "");

        Cgroup *all[] = { &a, &b, &c };
        for (size_t i = 0; i < 3; i++) {
                unlink_files(all[i]->memory);
                unlink_files(all[i]->pids);
                unlink_files(all[i]->cpu);
                assert_int_equal(cg_destroy(all[i]), 0);
        }
        cg_host_deinit(&h);
        /* Every dir lemu made is gone: the controllers' folders are empty again. */
        for (size_t i = 0; i < 4; i++) {
                char *p = path_of("%s/%s", t.root, v1_ctrls[i]);
                assert_int_equal(rmdir(p), 0);
                free(p);
        }
        tree_free(&t);
}

/* The stale-instance rules, in one hierarchy @parent (which must exist). */
static void make_stale(const char *parent, const Tree *t, pid_t dead) {
        char name[96];

        snprintf(name, sizeof(name), "lemu-%d-5", (int) dead);
        mkdir_at(parent, name); /* a dead lemu's, with an environment inside */
        char *p = path_of("%s/%s", parent, name);
        mkdir_at(p, "function-1");
        free(p);
        mkdir_at(parent, "lemu-999999999-1"); /* a pid that cannot exist */
        snprintf(name, sizeof(name), "lemu-%d-%llu", (int) getpid(), own_start_time() + 1);
        mkdir_at(parent, name); /* our pid, an earlier process's start time */
        mkdir_at(parent, t->instance);
        p = path_of("%s/%s", parent, t->instance);
        mkdir_at(p, "function-9"); /* ours: kept with what is in it */
        free(p);
        snprintf(name, sizeof(name), "lemu-%d-%llu", (int) getppid(), sbx_start_time_of(getppid()));
        mkdir_at(parent, name); /* a live lemu's (our parent stands in for it) */
        mkdir_at(parent, "other");
        mkdir_at(parent, "lemu-notapid");
}

static void check_stale(const char *parent, const Tree *t, pid_t dead) {
        char name[96];
        char *want = NULL;
        DIR *d = opendir(parent);
        struct dirent *de;
        char *names[16];
        size_t n = 0;

        assert_non_null(d);
        while ((de = readdir(d)) && n < 16)
                if (de->d_type == DT_DIR && de->d_name[0] != '.')
                        names[n++] = strdup(de->d_name);
        closedir(d);
        qsort(names, n, sizeof(char *), cmp_str);
        snprintf(name, sizeof(name), "lemu-%d-%llu", (int) getppid(), sbx_start_time_of(getppid()));
        const char *keep[] = { name, t->instance, "lemu-notapid", "other" };
        qsort(keep, 4, sizeof(char *), cmp_str);
        assert_int_equal(n, 4);
        for (size_t i = 0; i < n; i++) {
                assert_string_equal(names[i], keep[i]);
                free(names[i]);
        }
        want = path_of("%s/%s", parent, t->instance);
        assert_true(exists(want, "function-9"));
        free(want);
        (void) dead;
}

static void test_v1_stale(void **state) {
        Tree t;
        CgHost h;
        pid_t dead = dead_pid();

        v1_tree(&t);
        for (size_t i = 0; i < 4; i++) {
                char *p = path_of("%s/%s", t.root, v1_ctrls[i]);
                make_stale(p, &t, dead);
                free(p);
        }
        assert_int_equal(cg_host_init(&h, t.root), 0);
        assert_int_equal(h.version, CG_V1);
        for (size_t i = 0; i < 4; i++) {
                char *p = path_of("%s/%s", t.root, v1_ctrls[i]);
                check_stale(p, &t, dead);
                free(p);
        }
        cg_host_deinit(&h);
        tree_free(&t);
}

static void test_v1_partial(void **state) {
        Tree t;
        CgHost h;
        Cgroup cg;
        CgLimits l = LIMITS_128MB;

        /* Only the unified hierarchy (memory cgroups not available): no limits, but freezing
         * and killing still go through it; the host says why memory is not enforced. */
        tree_new(&t);
        mkdir_at(t.root, "unified");
        assert_int_equal(cg_host_init(&h, t.root), 0);
        assert_int_equal(h.version, CG_NONE);
        assert_ptr_equal(h.ops, &cg_none_ops);
        assert_null(h.memory);
        assert_null(h.pids);
        assert_null(h.cpu);
        assert_non_null(h.unified);
        assert_non_null(strstr(h.reason, "/memory"));
        char *uni = path_of("%s/unified/%s/env", t.root, t.instance);
        assert_int_equal(mkdir(uni, 0755), 0);
        put(uni, "cgroup.freeze", "0");
        assert_int_equal(cg_create(&cg, &h, "env", &l), 0);
        assert_null(cg.memory);
        assert_string_equal(cg.unified, uni);
        assert_files(uni, "cgroup.freeze");
        const char *join[3];
        assert_int_equal(cg_join_dirs(&cg, join, 3), 1);
        assert_string_equal(join[0], uni);
        assert_null(join[1]);
        assert_int_equal(cg_freeze(&cg, true), 0);
        assert_file(uni, "cgroup.freeze", "1");
        uint64_t now;
        assert_int_equal(cg_memory_now(&cg, &now), -EOPNOTSUPP);
        assert_false(cg_oom_fired(&cg));
        unlink_files(uni);
        assert_int_equal(cg_destroy(&cg), 0);
        assert_false(exists(uni, "."));
        cg_host_deinit(&h);
        free(uni);
        tree_free(&t);
}

/* ---- v2 ---- */

/* A FIFO in place of a control file keeps every write, as cgroupfs applies each. The test
 * holds it open for reading and writing, so that the backend's opens do not block. */
static int fifo_at(const char *dir, const char *name, const char *prefill) {
        char *p = path_of("%s/%s", dir, name);
        assert_int_equal(mkfifo(p, 0644), 0);
        int fd = open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        assert_true(fd >= 0);
        free(p);
        if (prefill)
                assert_int_equal(write(fd, prefill, strlen(prefill)), (ssize_t) strlen(prefill));
        return fd;
}

static void assert_fifo(int fd, const char *want) {
        char buf[512];
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0 && errno == EAGAIN)
                n = 0;
        assert_true(n >= 0);
        buf[n] = '\0';
        if (strcmp(buf, want) != 0)
                fail_msg("writes '%s', want '%s'", buf, want);
}

static void v2_tree(Tree *t, const char *controllers) {
        tree_new(t);
        put(t->root, "cgroup.controllers", controllers);
}

static void test_v2_host_and_create(void **state) {
        Tree t;
        CgHost h;
        Cgroup cg;
        CgLimits l = LIMITS_128MB;

        v2_tree(&t, "cpuset cpu io memory hugetlb pids rdma misc\n");
        /* Only cpu is delegated so far: lemu adds memory and pids at the top, then all
         * three in its instance dir, one controller per write. */
        pid_t dead = dead_pid();
        make_stale(t.root, &t, dead); /* makes our instance dir too */
        int top = fifo_at(t.root, "cgroup.subtree_control", "cpu\n");
        char *inst = path_of("%s/%s", t.root, t.instance);
        int below = fifo_at(inst, "cgroup.subtree_control", NULL);

        assert_int_equal(cg_host_init(&h, t.root), 0);
        assert_int_equal(h.version, CG_V2);
        assert_ptr_equal(h.ops, &cg_v2_ops);
        assert_string_equal(h.ops->name, "v2");
        assert_string_equal(h.reason, "");
        assert_string_equal(h.memory, inst);
        assert_string_equal(h.pids, inst);
        assert_string_equal(h.cpu, inst);
        assert_string_equal(h.unified, inst);
        assert_fifo(top, "+memory+pids+cpu");
        assert_fifo(below, "+memory+pids+cpu");
        check_stale(t.root, &t, dead);

        char *env = path_of("%s/function-1", inst);
        assert_int_equal(mkdir(env, 0755), 0);
        put(env, "memory.events", "low 0\nhigh 0\nmax 9\noom 2\noom_kill 0\noom_group_kill 0\n");
        put(env, "memory.stat",
            "anon 10485760\nfile 99999999\nkernel 1\nkernel_stack 2\nshmem 2097152\n"
            "file_mapped 0\nanon_thp 4194304\nfile_thp 0\nshmem_thp 8\n");
        put(env, "cgroup.freeze", "0");
        put(env, "cgroup.procs", "77\n");
        assert_int_equal(cg_create(&cg, &h, "function-1", &l), 0);
        assert_string_equal(cg.memory, env);
        assert_string_equal(cg.pids, env);
        assert_string_equal(cg.cpu, env);
        assert_string_equal(cg.unified, env);
        assert_file(env, "memory.max", "134217728");
        assert_file(env, "memory.swap.max", "0");
        assert_file(env, "pids.max", "1024");
        assert_file(env, "cpu.max", "7235 100000");
        assert_files(env, "cgroup.freeze cgroup.procs cpu.max memory.events memory.max "
                          "memory.stat memory.swap.max pids.max");

        /* One directory holds every controller: joined once. */
        const char *join[5] = { "x", "x", "x", "x", "x" };
        assert_int_equal(cg_join_dirs(&cg, join, 5), 1);
        assert_string_equal(join[0], env);
        assert_null(join[1]);

        /* OOM kills from memory.events' oom_kill (not oom, not oom_group_kill). */
        assert_false(cg_oom_fired(&cg));
        put(env, "memory.events", "low 0\nhigh 0\nmax 9\noom 3\noom_kill 0\noom_group_kill 4\n");
        assert_false(cg_oom_fired(&cg));
        put(env, "memory.events", "low 0\nhigh 0\nmax 9\noom 3\noom_kill 1\noom_group_kill 4\n");
        assert_true(cg_oom_fired(&cg));
        assert_false(cg_oom_fired(&cg));

        /* anon + shmem; never file, never the *_thp lines. */
        uint64_t now = 0;
        assert_int_equal(cg_memory_now(&cg, &now), 0);
        assert_int_equal(now, 10485760ULL + 2097152ULL);

        assert_true(cg_can_freeze(&cg));
        assert_int_equal(cg_freeze(&cg, true), 0);
        assert_file(env, "cgroup.freeze", "1");
        assert_int_equal(cg_freeze(&cg, false), 0);
        assert_file(env, "cgroup.freeze", "0");

        pid_t list[4];
        assert_int_equal(cg_pids(&cg, list, 4), 1);
        assert_int_equal(list[0], 77);
        cg_kill(&cg);
        assert_file(env, "cgroup.kill", "1");

        unlink_files(env);
        assert_int_equal(cg_destroy(&cg), 0);
        assert_false(exists(env, "."));
        assert_null(cg.memory);
        assert_null(cg.unified);

        close(top);
        close(below);
        char *p = path_of("%s/cgroup.subtree_control", inst);
        assert_int_equal(unlink(p), 0);
        free(p);
        p = path_of("%s/function-9", inst);
        assert_int_equal(rmdir(p), 0);
        free(p);
        cg_host_deinit(&h);
        assert_false(exists(inst, "."));
        free(env);
        free(inst);
        tree_free(&t);
}

static void test_v2_limits(void **state) {
        Tree t;
        CgHost h;
        Cgroup a, b;
        CgLimits two = { .memory_bytes = 3538 * MB, .pids = 5, .cpus = 2.0 };
        CgLimits none = { 0 };

        /* Everything delegated already: lemu still asks for pids and cpu (harmless). */
        v2_tree(&t, "memory pids cpu\n");
        put(t.root, "cgroup.subtree_control", "cpu memory pids\n");
        assert_int_equal(cg_host_init(&h, t.root), 0);
        assert_int_equal(h.version, CG_V2);
        assert_file(t.root, "cgroup.subtree_control", "+cpu");
        assert_file(h.memory, "cgroup.subtree_control", "+cpu");

        assert_int_equal(cg_create(&a, &h, "two", &two), 0);
        assert_file(a.memory, "memory.max", "3709861888");
        assert_file(a.memory, "pids.max", "5");
        assert_file(a.memory, "cpu.max", "200000 100000");
        assert_false(cg_can_freeze(&a));
        assert_int_equal(cg_create(&b, &h, "none", &none), 0);
        assert_files(b.memory, "");

        unlink_files(a.memory);
        assert_int_equal(cg_destroy(&a), 0);
        assert_int_equal(cg_destroy(&b), 0);
        unlink_files(h.memory);
        cg_host_deinit(&h);
        tree_free(&t);
}

static void test_v2_unusable(void **state) {
        Tree t;
        CgHost h;

        /* No memory controller: no cgroups at all, and the reason is said. */
        v2_tree(&t, "cpu pids\n");
        assert_int_equal(cg_host_init(&h, t.root), 0);
        assert_int_equal(h.version, CG_NONE);
        assert_ptr_equal(h.ops, &cg_none_ops);
        assert_null(h.memory);
        assert_null(h.unified);
        assert_non_null(strstr(h.reason, "memory"));
        assert_false(exists(t.root, t.instance));
        cg_host_deinit(&h);
        tree_free(&t);

        /* Memory cannot be delegated (the top has processes of its own: EBUSY on cgroupfs;
         * here a directory in place of the file refuses the write). */
        v2_tree(&t, "memory pids cpu\n");
        mkdir_at(t.root, "cgroup.subtree_control");
        assert_int_equal(cg_host_init(&h, t.root), 0);
        assert_int_equal(h.version, CG_NONE);
        assert_non_null(strstr(h.reason, "cannot be delegated"));
        assert_false(exists(t.root, t.instance));
        cg_host_deinit(&h);
        tree_free(&t);
}

/* ---- none ---- */

static void test_none(void **state) {
        Tree t;
        CgHost h;
        Cgroup cg;
        CgLimits l = LIMITS_128MB;

        /* A folder with neither layout. */
        tree_new(&t);
        assert_int_equal(cg_host_init(&h, t.root), 0);
        assert_int_equal(h.version, CG_NONE);
        assert_ptr_equal(h.ops, &cg_none_ops);
        assert_string_equal(h.ops->name, "none");
        assert_null(h.memory);
        assert_null(h.pids);
        assert_null(h.cpu);
        assert_null(h.unified);
        assert_string_not_equal(h.reason, "");

        assert_int_equal(cg_create(&cg, &h, "function-1", &l), 0);
        const char *join[2] = { "x", "x" };
        assert_int_equal(cg_join_dirs(&cg, join, 2), 0);
        assert_null(join[0]);
        assert_false(cg_can_freeze(&cg));
        assert_int_equal(cg_freeze(&cg, true), -EOPNOTSUPP);
        assert_false(cg_oom_fired(&cg));
        uint64_t now;
        assert_int_equal(cg_memory_now(&cg, &now), -EOPNOTSUPP);
        pid_t list[2];
        assert_int_equal(cg_pids(&cg, list, 2), -EOPNOTSUPP);
        cg_kill(&cg);
        assert_int_equal(cg_destroy(&cg), 0);
        assert_files(t.root, "");
        cg_host_deinit(&h);
        tree_free(&t);
}

/* ---- main ---- */

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_v1_host),
                cmocka_unit_test(test_v1_create),
                cmocka_unit_test(test_v1_bare_and_odd_limits),
                cmocka_unit_test(test_v1_stale),
                cmocka_unit_test(test_v1_partial),
                cmocka_unit_test(test_v2_host_and_create),
                cmocka_unit_test(test_v2_limits),
                cmocka_unit_test(test_v2_unusable),
                cmocka_unit_test(test_none),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
