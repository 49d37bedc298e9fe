/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The launcher's mount stage (init, in the environment's own mount namespace): a private
 * /tmp and a read-only view of everything else, as on Lambda, then a /proc of the
 * environment's own pid namespace. The order is fixed:
 *
 *   mount-private   every mount private, so nothing propagates back to the host
 *   mount-readonly  the whole tree read-only (mount_setattr, else a remount per mount)
 *   mount-tmp       /tmp per --tmp: "tmpfs:BYTES", "dev:PATH" (an ext4 image on a loop
 *                   device the daemon attached) or "bind:DIR"; new mounts are writable
 *   mount-code      code_dir (and the bootstrap's folder) when they lie under /tmp, carried
 *                   over the new /tmp at the same path, read-only with the rest
 *   mount-proc      a fresh /proc when we are pid 1 of a new pid namespace
 *
 * "ns:FD" is a tmpfs /tmp kept from an earlier start of the same environment: the launcher
 * joins that mount namespace (after the user namespace that owns it, --userns-fd) and then
 * unshares a fresh copy of it (launch_join()), so the tmpfs and the read-only tree are in
 * place already and only /proc is mounted again.
 *
 * Device nodes stay usable on the read-only tree: a write to /dev/null is I/O on a device,
 * not a change to the filesystem, and the kernel only refuses the latter.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launcher.h"

#ifndef SYS_mount_setattr
#        define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#        define AT_RECURSIVE 0x8000
#endif
#ifndef SYS_open_tree
#        define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#        define SYS_move_mount 429
#endif
#ifndef OPEN_TREE_CLONE
#        define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#        define MOVE_MOUNT_F_EMPTY_PATH 0x4
#endif

/* struct mount_attr of linux/mount.h, spelled here so that older headers build too. */
typedef struct MountAttr {
        uint64_t attr_set;
        uint64_t attr_clr;
        uint64_t propagation;
        uint64_t userns_fd;
} MountAttr;

enum {
        ATTR_RDONLY = 0x1,
        ATTR_NOSUID = 0x2,
        ATTR_NODEV = 0x4,
};

static int set_attr(const char *path, unsigned flags, uint64_t set, uint64_t clr) {
        MountAttr a = { .attr_set = set, .attr_clr = clr };

        if (syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &a, sizeof(a)) < 0)
                return -errno;
        return 0;
}

/* The per-mount flags a remount must repeat: a mount inherited from a more privileged
 * user namespace has them locked, and a remount that would clear one fails. */
static unsigned long kept_flags(const char *path) {
        struct statvfs st;
        unsigned long f = 0;

        if (statvfs(path, &st) < 0)
                return 0;
        if (st.f_flag & ST_NOSUID)
                f |= MS_NOSUID;
        if (st.f_flag & ST_NODEV)
                f |= MS_NODEV;
        if (st.f_flag & ST_NOEXEC)
                f |= MS_NOEXEC;
        if (st.f_flag & ST_NOATIME)
                f |= MS_NOATIME;
        if (st.f_flag & ST_NODIRATIME)
                f |= MS_NODIRATIME;
        if (st.f_flag & ST_RELATIME)
                f |= MS_RELATIME;
        return f;
}

/* mountinfo escapes blanks and backslashes as \ooo. */
static void unescape(char *s) {
        char *w = s;

        for (char *r = s; *r; r++) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
                    r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char) ((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 3;
                } else {
                        *w++ = *r;
                }
        }
        *w = '\0';
}

/* Kernels before 5.12: remount each mount read-only, top-level first (mountinfo's order).
 * A mount hidden under another one cannot be reached by path; it is out of sight anyway. */
static int readonly_by_remount(void) {
        FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[8192];
        int r = 0;

        if (!f)
                return -errno;
        while (r == 0 && fgets(line, sizeof(line), f)) {
                char mp[4096];
                if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
                        continue;
                unescape(mp);
                unsigned long fl = MS_REMOUNT | MS_BIND | MS_RDONLY | kept_flags(mp);
                if (mount(NULL, mp, NULL, fl, NULL) < 0 && errno != ENOENT && errno != EACCES)
                        r = -errno;
        }
        fclose(f);
        return r;
}

static int make_readonly(void) {
        int r = set_attr("/", AT_RECURSIVE, ATTR_RDONLY, 0);

        if (r == -ENOSYS)
                r = readonly_by_remount();
        return r;
}

/* A bind mount starts with its source's flags, read-only included: make it writable. */
static int make_writable(const char *path) {
        int r = set_attr(path, 0, ATTR_NOSUID | ATTR_NODEV, ATTR_RDONLY);

        if (r != -ENOSYS)
                return r;
        unsigned long fl = (MS_REMOUNT | MS_BIND | kept_flags(path) | MS_NOSUID | MS_NODEV);
        return mount(NULL, path, NULL, fl, NULL) < 0 ? -errno : 0;
}

static int mount_tmp(const char *spec) {
        const unsigned long fl = MS_NOSUID | MS_NODEV;

        if (strncmp(spec, "tmpfs:", 6) == 0) {
                char data[64];
                unsigned long long bytes = strtoull(spec + 6, NULL, 10);
                snprintf(data, sizeof(data), "size=%llu,mode=1777", bytes);
                return mount("tmpfs", "/tmp", "tmpfs", fl, data) < 0 ? -errno : 0;
        }
        if (strncmp(spec, "dev:", 4) == 0) {
                /* The image's inode tables are holes of a sparse file, zeros already:
                 * noinit_itable spares the kernel writing them all out again. */
                if (mount(spec + 4, "/tmp", "ext4", fl, "noinit_itable") < 0)
                        return -errno;
                (void) rmdir("/tmp/lost+found"); /* mkfs made it; Lambda's /tmp is empty */
                return 0;
        }
        if (strncmp(spec, "bind:", 5) == 0) {
                if (mount(spec + 5, "/tmp", NULL, MS_BIND, NULL) < 0)
                        return -errno;
                return make_writable("/tmp");
        }
        return -EINVAL;
}

/*
 * Code kept under /tmp (a scratch folder, a test's copy) would vanish under the private
 * /tmp: it is carried over, as a bind mount at the same path (read-only with the rest), so
 * the function finds it where its configuration says. The folders leading to it are made
 * in the new /tmp; nothing else of the host's /tmp shows.
 */
/* code_dir, the bootstrap's folder, and the folders of the extensions */
#define MAX_CARRIED (2 + LAUNCH_MAX_EXTENSIONS)

typedef struct Carried {
        const char *path[MAX_CARRIED];
        char buf[MAX_CARRIED][4096];
        int fd[MAX_CARRIED];
        int n;
} Carried;

static bool under_tmp(const char *path) {
        return path && strncmp(path, "/tmp/", 5) == 0 && path[5];
}

static int carry_one(Carried *c, const char *path) {
        for (int i = 0; i < c->n; i++) {
                size_t l = strlen(c->path[i]);
                if (strncmp(path, c->path[i], l) == 0 && (path[l] == '/' || !path[l]))
                        return 0; /* inside one carried already */
        }
        if (c->n == MAX_CARRIED)
                return 0;
        int fd = (int) syscall(SYS_open_tree, AT_FDCWD, path,
                               OPEN_TREE_CLONE | O_CLOEXEC | AT_RECURSIVE);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno; /* a missing one fails later, clearly */
        c->path[c->n] = path;
        c->fd[c->n++] = fd;
        return 0;
}

/* The folder of @file, when it is under /tmp and not carried already; @buf holds it. */
static int carry_folder(Carried *c, const char *file, char *buf) {
        if (!under_tmp(file))
                return 0;
        snprintf(buf, 4096, "%s", file);
        char *slash = strrchr(buf, '/');
        *slash = '\0';
        return under_tmp(buf) ? carry_one(c, buf) : 0;
}

static int carry_out(const LaunchOpts *o, Carried *c) {
        int r = 0;

        c->n = 0;
        if (under_tmp(o->chdir))
                r = carry_one(c, o->chdir);
        /* The bootstrap's folder, when it is not in code_dir; the extensions' folders. */
        if (r == 0)
                r = carry_folder(c, o->argv[0], c->buf[1]);
        for (int i = 0; r == 0 && i < o->n_extensions; i++)
                r = carry_folder(c, o->extensions[i], c->buf[2 + i]);
        return r;
}

static int mkdir_p(char *path) {
        for (char *p = path + 1;; p++) {
                if (*p != '/' && *p)
                        continue;
                char keep = *p;
                *p = '\0';
                int r = mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
                *p = keep;
                if (r < 0 || !keep)
                        return r;
        }
}

static int carry_in(Carried *c) {
        int r = 0;

        for (int i = 0; i < c->n; i++) {
                char dir[4096];
                snprintf(dir, sizeof(dir), "%s", c->path[i]);
                if (r == 0)
                        r = mkdir_p(dir);
                if (r == 0 && syscall(SYS_move_mount, c->fd[i], "", AT_FDCWD, c->path[i],
                                      MOVE_MOUNT_F_EMPTY_PATH) < 0)
                        r = -errno;
                close(c->fd[i]);
        }
        c->n = 0;
        return r;
}

static bool in_user_namespace(void) {
        char buf[256];
        int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return false;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return false;
        buf[n] = '\0';
        unsigned a, b, c;
        /* The initial namespace maps everything: "0 0 4294967295". */
        return !(sscanf(buf, "%u %u %u", &a, &b, &c) == 3 && a == 0 && b == 0 && c == 4294967295u);
}

int launch_join(const LaunchOpts *o, const char **ret_stage) {
        int fd;

        if (!o->tmp || strncmp(o->tmp, "ns:", 3) != 0)
                return 0;
        *ret_stage = "join-mntns";
        if (sscanf(o->tmp + 3, "%d", &fd) != 1 || fd < 0)
                return -EINVAL;
        if (setns(fd, CLONE_NEWNS) < 0)
                return -errno;
        close(fd);
        return 0;
}

int launch_mounts(const LaunchOpts *o, const char **ret_stage) {
        bool joined = o->tmp && strncmp(o->tmp, "ns:", 3) == 0;
        int r;

        if (!joined) {
                *ret_stage = "mount-private";
                if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                        return -errno;
                if (o->read_only) {
                        *ret_stage = "mount-readonly";
                        r = make_readonly();
                        if (r < 0)
                                return r;
                }
                if (o->tmp) {
                        Carried c;
                        *ret_stage = "mount-code";
                        r = carry_out(o, &c);
                        if (r < 0)
                                return r;
                        *ret_stage = "mount-tmp";
                        r = mount_tmp(o->tmp);
                        if (r < 0) {
                                for (int i = 0; i < c.n; i++)
                                        close(c.fd[i]);
                                return r;
                        }
                        *ret_stage = "mount-code";
                        r = carry_in(&c);
                        if (r < 0)
                                return r;
                }
        }
        if (getpid() != 1)
                return 0; /* no pid namespace: the host's /proc is the right one */
        *ret_stage = "mount-proc";
        if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
                /* Where the host's /proc has paths masked by other mounts (containers),
                 * the kernel refuses a new one to a user namespace: the old one stays. */
                if ((errno == EPERM || errno == EACCES) && in_user_namespace())
                        return 0;
                return -errno;
        }
        return 0;
}
