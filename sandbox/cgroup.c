/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup detection and the parts common to both versions: instance and environment
 * directories, joining, freezing through the unified hierarchy, killing, OOM counters, and
 * the removal of what a dead lemu left behind. Writes go to cgroupfs, which is memory-backed
 * and does not sleep on I/O, so they are done on the loop.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "procmem.h"
#include "xalloc.h"

int cg__write(const char *dir, const char *file, const char *value) {
        char path[4096];

        snprintf(path, sizeof(path), "%s/%s", dir, file);
        int fd = open(path, O_WRONLY | O_CLOEXEC | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
                return -errno;
        ssize_t w = write(fd, value, strlen(value));
        int r = w < 0 ? -errno : 0;
        close(fd);
        return r;
}

int cg__read(const char *dir, const char *file, char *buf, size_t n) {
        char path[4096];

        snprintf(path, sizeof(path), "%s/%s", dir, file);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t r = read(fd, buf, n - 1);
        int e = errno;
        close(fd);
        if (r < 0)
                return -e;
        buf[r] = '\0';
        return (int) r;
}

/* "key value" lines (memory.events, memory.oom_control). */
int cg__read_key(const char *dir, const char *file, const char *key, uint64_t *ret) {
        char buf[4096];
        size_t kl = strlen(key);

        int r = cg__read(dir, file, buf, sizeof(buf));
        if (r < 0)
                return r;
        for (char *line = buf; line && *line;
             line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
                        *ret = strtoull(line + kl + 1, NULL, 10);
                        return 0;
                }
        }
        return -ENOENT;
}

static bool stat_key(const char *buf, const char *key, uint64_t *ret) {
        size_t kl = strlen(key);

        for (const char *line = buf; line && *line;
             line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
                        *ret = strtoull(line + kl + 1, NULL, 10);
                        return true;
                }
        }
        return false;
}

int cg__memory_stat(Cgroup *cg, const char *k1, uint64_t *v1, const char *k2, uint64_t *v2) {
        char buf[8192];

        if (cg->memstat_fd < 0) {
                char path[4096];
                snprintf(path, sizeof(path), "%s/memory.stat", cg->memory);
                cg->memstat_fd = open(path, O_RDONLY | O_CLOEXEC);
                if (cg->memstat_fd < 0)
                        return -errno;
        }
        ssize_t r = pread(cg->memstat_fd, buf, sizeof(buf) - 1, 0);
        if (r < 0)
                return -errno;
        buf[r] = '\0';
        if (!stat_key(buf, k1, v1))
                return -ENOENT;
        if (!stat_key(buf, k2, v2))
                *v2 = 0;
        return 0;
}

static bool file_exists(const char *dir, const char *file) {
        char path[4096];

        snprintf(path, sizeof(path), "%s/%s", dir, file);
        return access(path, F_OK) == 0;
}

/* Removes a dead lemu's directories: kill what is left, then rmdir children and itself. */
static void remove_tree(const char *dir) {
        DIR *d = opendir(dir);

        if (d) {
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (de->d_type != DT_DIR || de->d_name[0] == '.')
                                continue;
                        char *child = xasprintf("%s/%s", dir, de->d_name);
                        remove_tree(child);
                        free(child);
                }
                closedir(d);
        }
        /* Never created: a folder laid out like cgroupfs would then keep a file, and its
         * rmdir fail. Only the unified hierarchy (5.14+) has cgroup.kill. */
        if (file_exists(dir, "cgroup.kill"))
                (void) cg__write(dir, "cgroup.kill", "1");
        (void) rmdir(dir);
}

static void clean_stale(const char *parent) {
        DIR *d = opendir(parent);

        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                int pid;
                unsigned long long st;
                if (sscanf(de->d_name, "lemu-%d-%llu", &pid, &st) != 2)
                        continue;
                if (sbx_start_time_of(pid) == st)
                        continue; /* its lemu is alive */
                char *dir = xasprintf("%s/%s", parent, de->d_name);
                remove_tree(dir);
                free(dir);
        }
        closedir(d);
}

/* Makes parent/instance (after cleaning a dead lemu's). Return: the path, or NULL. */
static char *make_instance(const char *parent, const char *instance, int *ret_err) {
        clean_stale(parent);
        char *dir = xasprintf("%s/%s", parent, instance);
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
                *ret_err = errno;
                free(dir);
                return NULL;
        }
        return dir;
}

typedef struct Mounts {
        char memory[512], pids[512], cpu[512], cpuacct[512], unified[512];
        char memory_rel[512], pids_rel[512], cpu_rel[512], cpuacct_rel[512], unified_rel[512];
} Mounts;

static bool has_token(const char *list, const char *tok) {
        size_t tl = strlen(tok);

        for (const char *p = list; p && *p;) {
                const char *comma = strchr(p, ',');
                size_t l = comma ? (size_t) (comma - p) : strlen(p);
                if (l == tl && strncmp(p, tok, tl) == 0)
                        return true;
                p = comma ? comma + 1 : NULL;
        }
        return false;
}

static void read_mounts(Mounts *m) {
        FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[4096];

        memset(m, 0, sizeof(*m));
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                char root[512], point[512], fstype[64], opts[512];
                char *dash = strstr(line, " - ");
                if (!dash || sscanf(line, "%*s %*s %*s %511s %511s", root, point) != 2 ||
                    sscanf(dash + 3, "%63s %*s %511s", fstype, opts) != 2)
                        continue;
                if (strcmp(fstype, "cgroup2") == 0 && !m->unified[0])
                        snprintf(m->unified, sizeof(m->unified), "%s", point);
                else if (strcmp(fstype, "cgroup") == 0) {
                        if (has_token(opts, "memory"))
                                snprintf(m->memory, sizeof(m->memory), "%s", point);
                        if (has_token(opts, "pids"))
                                snprintf(m->pids, sizeof(m->pids), "%s", point);
                        if (has_token(opts, "cpu"))
                                snprintf(m->cpu, sizeof(m->cpu), "%s", point);
                        if (has_token(opts, "cpuacct"))
                                snprintf(m->cpuacct, sizeof(m->cpuacct), "%s", point);
                }
        }
        fclose(f);
        f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                char *c1 = strchr(line, ':');
                char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                *c2 = '\0';
                char *rel = c2 + 1;
                rel[strcspn(rel, "\n")] = '\0';
                const char *path = strcmp(rel, "/") == 0 ? "" : rel;
                const char *ctrls = c1 + 1;
                if (!*ctrls)
                        snprintf(m->unified_rel, sizeof(m->unified_rel), "%s", path);
                if (has_token(ctrls, "memory"))
                        snprintf(m->memory_rel, sizeof(m->memory_rel), "%s", path);
                if (has_token(ctrls, "pids"))
                        snprintf(m->pids_rel, sizeof(m->pids_rel), "%s", path);
                if (has_token(ctrls, "cpu"))
                        snprintf(m->cpu_rel, sizeof(m->cpu_rel), "%s", path);
                if (has_token(ctrls, "cpuacct"))
                        snprintf(m->cpuacct_rel, sizeof(m->cpuacct_rel), "%s", path);
        }
        fclose(f);
}

/* v2's rule: a cgroup that hands controllers to its children has no processes itself. When
 * lemu's own cgroup holds only lemu (a service, a container), lemu moves into a leaf beside
 * the environments and enables the controllers; when other processes share it, lemu moves
 * back and the limits stay unenforced (the reason says so). */
static bool leave_for_leaf(CgHost *h, const char *base) {
        char pid[24];
        char *leaf = xasprintf("%s/%s-daemon", base, h->instance);

        if (mkdir(leaf, 0755) < 0 && errno != EEXIST) {
                free(leaf);
                return false;
        }
        snprintf(pid, sizeof(pid), "%d", (int) getpid());
        if (cg__write(leaf, "cgroup.procs", pid) < 0) {
                rmdir(leaf);
                free(leaf);
                return false;
        }
        if (cg__write(base, "cgroup.subtree_control", "+memory") == 0) {
                h->daemon_leaf = leaf;
                return true;
        }
        (void) cg__write(base, "cgroup.procs", pid);
        rmdir(leaf);
        free(leaf);
        return false;
}

/* v2: the instance dir with memory, pids and cpu delegated to its children. */
static bool try_v2(CgHost *h, const char *base) {
        char ctrl[512];
        int err = 0;

        if (cg__read(base, "cgroup.controllers", ctrl, sizeof(ctrl)) < 0 || !strstr(ctrl, "memory"))
                return false;
        char sub[512];
        if (cg__read(base, "cgroup.subtree_control", sub, sizeof(sub)) < 0)
                sub[0] = '\0';
        if (!strstr(sub, "memory") && cg__write(base, "cgroup.subtree_control", "+memory") < 0 &&
            !leave_for_leaf(h, base)) {
                snprintf(h->reason, sizeof(h->reason),
                         "cgroup v2 memory controller cannot be delegated under '%s' (it has "
                         "processes of its own)",
                         base);
                return false;
        }
        (void) cg__write(base, "cgroup.subtree_control", "+pids");
        (void) cg__write(base, "cgroup.subtree_control", "+cpu");
        char *inst = make_instance(base, h->instance, &err);
        if (!inst) {
                snprintf(h->reason, sizeof(h->reason), "cannot create cgroups under '%s': %s", base,
                         strerror(err));
                return false;
        }
        if (cg__write(inst, "cgroup.subtree_control", "+memory") < 0) {
                rmdir(inst);
                free(inst);
                return false;
        }
        bool pids = cg__write(inst, "cgroup.subtree_control", "+pids") == 0;
        bool cpu = cg__write(inst, "cgroup.subtree_control", "+cpu") == 0;
        h->version = CG_V2;
        h->ops = &cg_v2_ops;
        h->memory = inst;
        h->pids = pids ? xstrdup(inst) : NULL;
        h->cpu = cpu ? xstrdup(inst) : NULL;
        h->unified = xstrdup(inst);
        return true;
}

static char *v1_instance(CgHost *h, const char *mount, const char *rel, int *err) {
        if (!mount || !*mount)
                return NULL;
        char *base = xasprintf("%s%s", mount, rel);
        char *inst = make_instance(base, h->instance, err);
        free(base);
        return inst;
}

int cg_host_init(CgHost *h, const char *root) {
        unsigned long long st = sbx_start_time_of(getpid());
        int err = 0;

        memset(h, 0, sizeof(*h));
        snprintf(h->instance, sizeof(h->instance), "lemu-%d-%llu", (int) getpid(), st);
        h->version = CG_NONE;
        h->ops = &cg_none_ops;

        if (root && strcmp(root, "auto") != 0) {
                /* A folder laid out like cgroupfs. */
                if (file_exists(root, "cgroup.controllers")) {
                        if (!try_v2(h, root) && !h->reason[0])
                                snprintf(h->reason, sizeof(h->reason),
                                         "no cgroup v2 memory controller in '%s'", root);
                        return 0;
                }
                char *p;
                p = xasprintf("%s/memory", root);
                h->memory = make_instance(p, h->instance, &err);
                if (!h->memory)
                        snprintf(h->reason, sizeof(h->reason),
                                 "cannot create memory cgroups under '%s': %s", p, strerror(err));
                free(p);
                p = xasprintf("%s/pids", root);
                h->pids = make_instance(p, h->instance, &err);
                free(p);
                p = xasprintf("%s/cpu", root);
                h->cpu = make_instance(p, h->instance, &err);
                free(p);
                p = xasprintf("%s/cpuacct", root);
                h->cpuacct = make_instance(p, h->instance, &err);
                free(p);
                p = xasprintf("%s/unified", root);
                h->unified = make_instance(p, h->instance, &err);
                free(p);
        } else {
                Mounts m;
                read_mounts(&m);
                if (m.unified[0]) {
                        char *base = xasprintf("%s%s", m.unified, m.unified_rel);
                        bool ok = try_v2(h, base);
                        free(base);
                        if (ok)
                                return 0;
                }
                h->memory = v1_instance(h, m.memory, m.memory_rel, &err);
                if (!h->memory && !h->reason[0])
                        snprintf(h->reason, sizeof(h->reason),
                                 m.memory[0] ? "cannot create memory cgroups under '%s%s': %s"
                                             : "no memory cgroup controller is mounted%s%s%s",
                                 m.memory, m.memory_rel, m.memory[0] ? strerror(err) : "");
                h->pids = v1_instance(h, m.pids, m.pids_rel, &err);
                h->cpu = v1_instance(h, m.cpu, m.cpu_rel, &err);
                /* cpu and cpuacct may share a mount: then the cpu dir has cpuacct.usage. */
                if (m.cpuacct[0] && strcmp(m.cpuacct, m.cpu) != 0)
                        h->cpuacct = v1_instance(h, m.cpuacct, m.cpuacct_rel, &err);
                else if (h->cpu)
                        h->cpuacct = xstrdup(h->cpu);
                if (m.unified[0]) {
                        char *base = xasprintf("%s%s", m.unified, m.unified_rel);
                        h->unified = make_instance(base, h->instance, &err);
                        free(base);
                }
        }
        if (h->memory) {
                h->version = CG_V1;
                h->ops = &cg_v1_ops;
                h->reason[0] = '\0';
        }
        return 0;
}

void cg_host_deinit(CgHost *h) {
        if (h->daemon_leaf) {
                /* Back where lemu came from, so the leaf can go. */
                char pid[24], *parent = xstrdup(h->daemon_leaf);
                char *slash = strrchr(parent, '/');
                snprintf(pid, sizeof(pid), "%d", (int) getpid());
                if (slash) {
                        *slash = '\0';
                        (void) cg__write(parent, "cgroup.procs", pid);
                }
                (void) rmdir(h->daemon_leaf);
                free(parent);
                free(h->daemon_leaf);
                h->daemon_leaf = NULL;
        }
        char *dirs[] = { h->memory, h->pids, h->cpu, h->cpuacct, h->unified };

        for (size_t i = 0; i < 5; i++) {
                if (dirs[i])
                        (void) rmdir(dirs[i]);
                free(dirs[i]);
        }
        memset(h, 0, sizeof(*h));
}

static char *make_env_dir(const char *inst, const char *name, int *ret_err) {
        if (!inst)
                return NULL;
        char *dir = xasprintf("%s/%s", inst, name);
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
                *ret_err = -errno;
                free(dir);
                return NULL;
        }
        return dir;
}

int cg_create(Cgroup *cg, const CgHost *h, const char *name, const CgLimits *l) {
        int err = 0;

        memset(cg, 0, sizeof(*cg));
        cg->host = h;
        cg->freeze_fd = -1;
        cg->memstat_fd = -1;
        if (h->version == CG_V2) {
                cg->memory = make_env_dir(h->memory, name, &err);
                if (!cg->memory)
                        return err;
                cg->pids = h->pids ? xstrdup(cg->memory) : NULL;
                cg->cpu = h->cpu ? xstrdup(cg->memory) : NULL;
                cg->unified = xstrdup(cg->memory);
        } else {
                cg->memory = make_env_dir(h->memory, name, &err);
                cg->pids = make_env_dir(h->pids, name, &err);
                cg->cpu = make_env_dir(h->cpu, name, &err);
                cg->cpuacct = h->cpuacct && h->cpu && strcmp(h->cpuacct, h->cpu) == 0
                                      ? (cg->cpu ? xstrdup(cg->cpu) : NULL)
                                      : make_env_dir(h->cpuacct, name, &err);
                cg->unified = make_env_dir(h->unified, name, &err);
                if (err < 0 && h->memory && !cg->memory) {
                        cg_destroy(cg);
                        return err;
                }
        }
        if (cg->unified) {
                char path[4096];
                snprintf(path, sizeof(path), "%s/cgroup.freeze", cg->unified);
                cg->freeze_fd = open(path, O_WRONLY | O_CLOEXEC);
        }
        int r = h->ops->set_limits(cg, l);
        if (r < 0) {
                cg_destroy(cg);
                return r;
        }
        (void) h->ops->oom_kills(cg, &cg->oom_seen);
        return 0;
}

int cg_join_dirs(const Cgroup *cg, const char **out, int max) {
        const char *dirs[] = { cg->memory, cg->pids, cg->cpu, cg->cpuacct, cg->unified };
        int n = 0;

        for (size_t i = 0; i < 5 && n < max; i++) {
                bool dup = false;
                for (int k = 0; k < n; k++)
                        dup = dup || (dirs[i] && strcmp(out[k], dirs[i]) == 0);
                if (dirs[i] && !dup)
                        out[n++] = dirs[i];
        }
        if (n < max)
                out[n] = NULL; /* as the header promises */
        return n;
}

bool cg_can_freeze(const Cgroup *cg) {
        return cg->freeze_fd >= 0;
}

int cg_freeze(Cgroup *cg, bool frozen) {
        if (cg->freeze_fd < 0)
                return -EOPNOTSUPP;
        if (pwrite(cg->freeze_fd, frozen ? "1" : "0", 1, 0) < 0)
                return -errno;
        return 0;
}

int cg_pids(const Cgroup *cg, pid_t *out, int max) {
        const char *dir = cg->memory ? cg->memory : cg->pids ? cg->pids : cg->unified;
        char buf[65536];

        if (!dir)
                return -EOPNOTSUPP;
        int r = cg__read(dir, "cgroup.procs", buf, sizeof(buf));
        if (r < 0)
                return r;
        int n = 0;
        for (char *p = buf; *p && n < max;) {
                char *end;
                long v = strtol(p, &end, 10);
                if (end == p)
                        break;
                out[n++] = (pid_t) v;
                p = end;
                while (*p == '\n')
                        p++;
        }
        return n;
}

void cg_kill(Cgroup *cg) {
        if (cg->unified && cg__write(cg->unified, "cgroup.kill", "1") == 0)
                return;
        pid_t pids[4096];
        int n = cg_pids(cg, pids, 4096);
        for (int i = 0; i < n; i++)
                kill(pids[i], SIGKILL);
}

bool cg_oom_fired(Cgroup *cg) {
        uint64_t now;

        if (!cg->host || cg->host->ops->oom_kills(cg, &now) < 0)
                return false;
        bool fired = now > cg->oom_seen;
        cg->oom_seen = now;
        return fired;
}

int cg_destroy(Cgroup *cg) {
        char **dirs[] = { &cg->memory, &cg->pids, &cg->cpu, &cg->cpuacct, &cg->unified };
        int r = 0;

        if (cg->memstat_fd >= 0) {
                close(cg->memstat_fd);
                cg->memstat_fd = -1;
        }
        if (cg->freeze_fd >= 0) {
                /* Thaw first: a frozen cgroup with dying tasks never empties. */
                (void) pwrite(cg->freeze_fd, "0", 1, 0);
                close(cg->freeze_fd);
                cg->freeze_fd = -1;
        }
        for (size_t i = 0; i < 5; i++) {
                char *d = *dirs[i];
                if (!d)
                        continue;
                /* v2 shares one dir between controllers: remove it once. */
                bool shared = false;
                for (size_t k = i + 1; k < 5; k++)
                        shared = shared || (*dirs[k] && strcmp(*dirs[k], d) == 0);
                if (!shared && rmdir(d) < 0 && errno != ENOENT) {
                        if (errno == EBUSY)
                                r = -EBUSY;
                        if (errno == EBUSY)
                                continue;
                }
                free(d);
                *dirs[i] = NULL;
        }
        return r;
}

int cg_memory_now(Cgroup *cg, uint64_t *ret) {
        if (!cg->host || !cg->memory)
                return -EOPNOTSUPP;
        return cg->host->ops->memory_now(cg, ret);
}

int cg_cpu_usage_ns(Cgroup *cg, uint64_t *ret) {
        if (!cg->host)
                return -EOPNOTSUPP;
        return cg->host->ops->cpu_usage_ns(cg, ret);
}
