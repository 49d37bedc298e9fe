/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Each environment's /tmp backing (see tmp.h): ext4 images on loop devices prepared ahead
 * in a small pool, size-capped tmpfs mounts kept across resets through their mount
 * namespace, and private folders.
 *
 * Ownership: an SbxImage belongs to the host while it is prepared or spare, then to the
 * SbxTmp that took it; its loop descriptor is the only thing to release (the file is
 * unlinked once attached). An SbxTmp owns its image, its folder, and its kept mount
 * namespace descriptor, all released by one job on the thread pool. Operations started on
 * the loop end in exactly one after-callback each; one freed while it runs is finished by
 * that callback (an image becomes a spare, a folder is removed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/loop.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "macro.h"
#include "probe.h"
#include "procmem.h"
#include "tmp.h"
#include "xalloc.h"

#define MIB            (1024ull * 1024)
#define TMP_BASE       "/var/tmp"
#define MSG_MAX        192
#define SPARES_PER_KEY 1

typedef struct SbxImage {
        ListNode link; /* host->preparing, host->spares, or none once taken */
        SbxTmpHost *host;
        SbxTmp *owner; /* NULL: a spare */
        uint64_t cap_bytes;
        uid_t uid;
        gid_t gid;
        char *path;
        int loop_fd;
        int loop_no;
        int err;
        char msg[MSG_MAX];
        uv_work_t work;
        uv_process_t mkfs;
} SbxImage;

struct SbxTmp {
        SbxTmpHost *host;
        SbxTmpSpec spec;
        SbxImage *image;
        char *dir;
        int mntns_fd;
        bool done;  /* the preparation ended (err says how) */
        bool busy;  /* the folder is being made on the thread pool */
        bool freed; /* sbx_tmp_free() came while busy */
        int err;
        char msg[MSG_MAX];
        sbx_tmp_ready_cb cb;
        void *userdata;
        uv_work_t work;
};

/* A release: a descriptor to close, a file to unlink, a tree to remove, off the loop. */
typedef struct SbxJob {
        uv_work_t work;
        SbxTmpHost *host;
        int fd;
        char *unlink_path;
        char *tree;
} SbxJob;

const char *sbx_tmp_mode_to_string(SbxTmpMode m) {
        static const char *const names[] = {
                [SBX_TMP_IMAGE] = "image",
                [SBX_TMP_TMPFS] = "tmpfs",
                [SBX_TMP_DIR] = "dir",
        };
        return m >= 0 && m < _SBX_TMP_MODE_MAX ? names[m] : NULL;
}

/*
 * ext4 keeps for itself: inode tables (256 bytes per 16 KiB), reserved clusters for delayed
 * allocation (2 %, at most 16 MiB), bitmaps and group descriptors (about 1/8192), plus a
 * few blocks. Measured here (Linux 6.x, e2fsprogs 1.47): caps of 512, 1024, 4096 and
 * 10240 MiB all fit whole (fallocate, and 600 MiB written in 1 MiB writes until ENOSPC),
 * with 1.3 to 2.2 MiB to spare; the ext4 of a 512 MiB cap is a 533 MiB sparse file.
 */
uint64_t sbx_tmp_image_bytes(uint64_t cap_bytes) {
        uint64_t img = cap_bytes;

        for (int i = 0; i < 4; i++) {
                uint64_t resv = MIN(img / 50, 16 * MIB);
                img = cap_bytes + img / 64 + resv + img / 8192 + 1 * MIB;
        }
        return (img + MIB - 1) / MIB * MIB;
}

/* ---- releases on the thread pool ------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *f) {
        (void) st;
        (void) f;
        if (type == FTW_DP)
                (void) rmdir(path);
        else
                (void) unlink(path);
        return 0;
}

static void rm_tree(const char *path) {
        (void) nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* The folders of lemus that are gone: "lemu-<pid>-<starttime>" whose process is not that. */
static void remove_dead(const char *parent) {
        DIR *d = opendir(parent);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                int pid;
                unsigned long long st;
                char tail;
                struct stat s;
                if (sscanf(de->d_name, "lemu-%d-%llu%c", &pid, &st, &tail) != 2)
                        continue;
                if (sbx_start_time_of(pid) == st)
                        continue;
                char *p = xasprintf("%s/%s", parent, de->d_name);
                if (lstat(p, &s) == 0 && S_ISDIR(s.st_mode) && s.st_uid == geteuid())
                        rm_tree(p);
                free(p);
        }
        closedir(d);
}

static void job_work(uv_work_t *w) {
        SbxJob *j = w->data;

        /* The last reference to a loop device or a mount namespace: the kernel detaches the
         * device, or unmounts the tmpfs, inside this close. */
        if (j->fd >= 0)
                close(j->fd);
        if (j->unlink_path)
                (void) unlink(j->unlink_path);
        if (j->tree)
                rm_tree(j->tree);
}

static void job_done(uv_work_t *w, int status) {
        SbxJob *j = w->data;

        j->host->pending--;
        free(j->unlink_path);
        free(j->tree);
        free(j);
}

static void job_run(SbxTmpHost *h, int fd, char *unlink_path, char *tree) {
        SbxJob *j = xcalloc(1, sizeof(*j));

        j->host = h;
        j->fd = fd;
        j->unlink_path = unlink_path;
        j->tree = tree;
        j->work.data = j;
        h->pending++;
        if (uv_queue_work(h->loop, &j->work, job_work, job_done) < 0) {
                /* Only a closing loop refuses work: do it here rather than leak. */
                job_work(&j->work);
                job_done(&j->work, 0);
        }
}

/* ---- images --------------------------------------------------------------------------- */

static void image_prepare(SbxImage *img);

static bool same_key(const SbxImage *img, const SbxTmpSpec *s) {
        return img->cap_bytes == s->cap_bytes && img->uid == s->uid && img->gid == s->gid;
}

static void image_release(SbxImage *img) {
        list_unlink(&img->link);
        job_run(img->host, img->loop_fd, img->path, NULL);
        free(img);
}

static unsigned spares_of(SbxTmpHost *h, const SbxTmpSpec *s) {
        unsigned n = 0;
        ListNode *it;

        LIST_FOREACH (it, &h->spares) {
                n += same_key(container_of(it, SbxImage, link), s);
        }
        LIST_FOREACH (it, &h->preparing) {
                SbxImage *img = container_of(it, SbxImage, link);
                n += !img->owner && same_key(img, s);
        }
        return n;
}

static SbxImage *image_new(SbxTmpHost *h, const SbxTmpSpec *s, SbxTmp *owner) {
        SbxImage *img = xcalloc(1, sizeof(*img));

        img->host = h;
        img->owner = owner;
        img->cap_bytes = s->cap_bytes;
        img->uid = s->uid;
        img->gid = s->gid;
        img->loop_fd = -1;
        img->loop_no = -1;
        img->path = xasprintf("%s/img-%u.ext4", h->dir, ++h->seq);
        list_push_back(&h->preparing, &img->link);
        image_prepare(img);
        return img;
}

/* The preparation ended: hand the image to its owner, or keep it as a spare. */
static void image_finished(SbxImage *img) {
        SbxTmpHost *h = img->host;
        SbxTmp *t = img->owner;

        list_unlink(&img->link);
        if (!t) {
                SbxTmpSpec key = { .cap_bytes = img->cap_bytes, .uid = img->uid, .gid = img->gid };
                if (img->err < 0 || spares_of(h, &key) >= SPARES_PER_KEY)
                        image_release(img);
                else
                        list_push_back(&h->spares, &img->link);
                return;
        }
        t->done = true;
        t->err = img->err;
        if (img->err < 0) {
                snprintf(t->msg, sizeof(t->msg), "%s", img->msg);
                t->image = NULL;
                image_release(img);
        }
        if (t->cb) {
                sbx_tmp_ready_cb cb = t->cb;
                t->cb = NULL;
                cb(t, t->err, t->userdata);
        }
}

static void image_fail(SbxImage *img, int err, const char *what) {
        img->err = err < 0 ? err : -EIO;
        snprintf(img->msg, sizeof(img->msg), "%s", what);
        image_finished(img);
}

static int attach_loop(SbxImage *img) {
        char dev[32];
        int r = 0;
        int bfd = open(img->path, O_RDWR | O_CLOEXEC);

        if (bfd < 0)
                return -errno;
        int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        if (ctl < 0) {
                r = -errno;
                close(bfd);
                return r;
        }
        r = -EBUSY;
        /* Another program may take the free device between the two calls, or hold a device
         * just freed open for a moment (udev probes each one): try again, after a pause
         * once the quick retries are spent (this runs on the thread pool, not the loop).
         * A thousand environments starting at once meet this. */
        for (int tries = 0; tries < 64 && r == -EBUSY; tries++) {
                if (tries >= 8)
                        usleep((useconds_t) MIN(1000 * (tries - 7), 20000));
                int no = ioctl(ctl, LOOP_CTL_GET_FREE);
                if (no < 0) {
                        r = -errno;
                        break;
                }
                snprintf(dev, sizeof(dev), "/dev/loop%d", no);
                int lfd = open(dev, O_RDWR | O_CLOEXEC);
                if (lfd < 0) {
                        r = -errno;
                        break;
                }
                /* Direct I/O to the backing file: the filesystem's pages are cached once,
                 * above the loop device, not a second time below it. */
                struct loop_config cfg = { .fd = (unsigned) bfd };
                cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO;
                snprintf((char *) cfg.info.lo_file_name, LO_NAME_SIZE, "%s", img->path);
                r = ioctl(lfd, LOOP_CONFIGURE, &cfg) < 0 ? -errno : 0;
                if (r == -EINVAL) {
                        cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
                        r = ioctl(lfd, LOOP_CONFIGURE, &cfg) < 0 ? -errno : 0;
                }
                if (r == -EINVAL || r == -ENOTTY) {
                        /* Before Linux 5.8: attach, then set the flags. */
                        r = ioctl(lfd, LOOP_SET_FD, bfd) < 0 ? -errno : 0;
                        if (r == 0 && ioctl(lfd, LOOP_SET_STATUS64, &cfg.info) < 0) {
                                r = -errno;
                                (void) ioctl(lfd, LOOP_CLR_FD, 0);
                        }
                }
                if (r == 0) {
                        img->loop_fd = lfd;
                        img->loop_no = no;
                } else {
                        close(lfd);
                }
        }
        close(ctl);
        close(bfd);
        return r;
}

static void attach_work(uv_work_t *w) {
        SbxImage *img = w->data;

        img->err = attach_loop(img);
        /* The loop device holds the file now: nothing is left on disk to clean. */
        (void) unlink(img->path);
}

static void attach_done(uv_work_t *w, int status) {
        SbxImage *img = w->data;

        img->host->pending--;
        if (img->err < 0) {
                char what[MSG_MAX];
                snprintf(what, sizeof(what), "cannot attach a loop device to '%s': %s", img->path,
                         strerror(-img->err));
                image_fail(img, img->err, what);
                return;
        }
        image_finished(img);
}

static void mkfs_closed(uv_handle_t *handle) {
        SbxImage *img = handle->data;
        SbxTmpHost *h = img->host;

        h->pending--;
        if (img->err < 0) {
                char what[MSG_MAX];
                snprintf(what, sizeof(what), "mkfs.ext4 failed on '%s' (%s)", img->path,
                         img->err == -ECHILD ? "it exited with an error" : strerror(-img->err));
                image_fail(img, img->err, what);
                return;
        }
        h->pending++;
        img->work.data = img;
        int r = uv_queue_work(h->loop, &img->work, attach_work, attach_done);
        if (r < 0) {
                h->pending--;
                image_fail(img, r, "cannot queue the loop device set-up");
        }
}

static void mkfs_exit(uv_process_t *p, int64_t exit_status, int term_signal) {
        SbxImage *img = p->data;

        img->err = exit_status == 0 && term_signal == 0 ? 0 : -ECHILD;
        uv_close((uv_handle_t *) p, mkfs_closed);
}

static void create_work(uv_work_t *w) {
        SbxImage *img = w->data;
        SbxTmpHost *h = img->host;

        img->err = 0;
        if (mkdir(h->dir, 0711) < 0 && errno != EEXIST) {
                img->err = -errno;
                return;
        }
        int fd = open(img->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
                img->err = -errno;
                return;
        }
        if (ftruncate(fd, (off_t) sbx_tmp_image_bytes(img->cap_bytes)) < 0) {
                img->err = -errno;
                (void) unlink(img->path);
        }
        close(fd);
}

static void create_done(uv_work_t *w, int status) {
        SbxImage *img = w->data;
        SbxTmpHost *h = img->host;
        char owner[64], what[MSG_MAX];

        h->pending--;
        if (img->err < 0) {
                snprintf(what, sizeof(what), "cannot create '%s': %s", img->path,
                         strerror(-img->err));
                image_fail(img, img->err, what);
                return;
        }
        /* No journal (nothing to recover: the image dies with its environment), no blocks
         * reserved for root, no room to grow; the root directory belongs to the function's
         * user. Inode tables stay holes (lazy_itable_init, and noinit_itable at mount). */
        snprintf(owner, sizeof(owner), "nodiscard,lazy_itable_init=1,root_owner=%u:%u",
                 (unsigned) (img->uid == (uid_t) -1 ? geteuid() : img->uid),
                 (unsigned) (img->gid == (gid_t) -1 ? getegid() : img->gid));
        const char *argv[] = { h->mkfs,
                               "-q",
                               "-F",
                               "-b",
                               "4096",
                               "-i",
                               "16384",
                               "-I",
                               "256",
                               "-m",
                               "0",
                               "-O",
                               "^has_journal,^resize_inode",
                               "-E",
                               owner,
                               img->path,
                               NULL };
        uv_stdio_container_t stdio[3] = { { .flags = UV_IGNORE },
                                          { .flags = UV_IGNORE },
                                          { .flags = UV_IGNORE } };
        uv_process_options_t o = {
                .file = h->mkfs,
                .args = (char **) argv,
                .stdio_count = 3,
                .stdio = stdio,
                .exit_cb = mkfs_exit,
        };
        img->mkfs.data = img;
        h->pending++;
        int r = uv_spawn(h->loop, &img->mkfs, &o);
        if (r < 0) {
                img->err = r;
                uv_close((uv_handle_t *) &img->mkfs, mkfs_closed);
        }
}

static void image_prepare(SbxImage *img) {
        SbxTmpHost *h = img->host;

        h->pending++;
        img->work.data = img;
        int r = uv_queue_work(h->loop, &img->work, create_work, create_done);
        if (r < 0) {
                h->pending--;
                image_fail(img, r, "cannot queue the image's creation");
        }
}

void sbx_tmp_host_prepare(SbxTmpHost *h, const SbxTmpSpec *spec) {
        if (spec->mode != SBX_TMP_IMAGE || !h->can_image)
                return;
        while (spares_of(h, spec) < SPARES_PER_KEY)
                image_new(h, spec, NULL);
}

/* ---- folders -------------------------------------------------------------------------- */

static void dir_work(uv_work_t *w) {
        SbxTmp *t = w->data;
        SbxTmpHost *h = t->host;

        t->err = 0;
        if (mkdir(h->dir, 0711) < 0 && errno != EEXIST) {
                t->err = -errno;
                return;
        }
        if (mkdir(t->dir, 0700) < 0) {
                t->err = -errno;
                return;
        }
        if (h->root && t->spec.uid != (uid_t) -1 && chown(t->dir, t->spec.uid, t->spec.gid) < 0)
                t->err = -errno;
}

static void dir_done(uv_work_t *w, int status) {
        SbxTmp *t = w->data;
        SbxTmpHost *h = t->host;

        h->pending--;
        t->busy = false;
        if (t->freed) {
                sbx_tmp_free(t);
                return;
        }
        t->done = true;
        if (t->err < 0)
                snprintf(t->msg, sizeof(t->msg), "cannot make the folder '%s': %s", t->dir,
                         strerror(-t->err));
        if (t->cb) {
                sbx_tmp_ready_cb cb = t->cb;
                t->cb = NULL;
                cb(t, t->err, t->userdata);
        }
}

/* ---- environments --------------------------------------------------------------------- */

SbxTmp *sbx_tmp_new(SbxTmpHost *h, const SbxTmpSpec *spec, const char *name) {
        SbxTmp *t = xcalloc(1, sizeof(*t));
        ListNode *it;

        t->host = h;
        t->spec = *spec;
        t->mntns_fd = -1;
        switch (spec->mode) {
        case SBX_TMP_IMAGE:
                LIST_FOREACH (it, &h->spares) {
                        SbxImage *img = container_of(it, SbxImage, link);
                        if (same_key(img, spec)) {
                                list_unlink(&img->link);
                                img->owner = t;
                                t->image = img;
                                t->done = true;
                                break;
                        }
                }
                if (!t->image) {
                        LIST_FOREACH (it, &h->preparing) {
                                SbxImage *img = container_of(it, SbxImage, link);
                                if (!img->owner && same_key(img, spec)) {
                                        img->owner = t;
                                        t->image = img;
                                        break;
                                }
                        }
                }
                if (!t->image)
                        t->image = image_new(h, spec, t);
                sbx_tmp_host_prepare(h, spec);
                break;
        case SBX_TMP_DIR:
                t->dir = xasprintf("%s/%s-%u", h->dir, name, ++h->seq);
                t->busy = true;
                t->work.data = t;
                h->pending++;
                if (uv_queue_work(h->loop, &t->work, dir_work, dir_done) < 0) {
                        dir_work(&t->work);
                        dir_done(&t->work, 0);
                }
                break;
        default:
                t->done = true;
                break;
        }
        return t;
}

SbxTmp *sbx_tmp_free(SbxTmp *t) {
        if (!t)
                return NULL;
        t->cb = NULL;
        if (t->busy) {
                t->freed = true; /* dir_done() comes back here */
                return NULL;
        }
        SbxTmpHost *h = t->host;
        SbxImage *img = t->image;
        if (img && img->owner == t && list_linked(&img->link)) {
                img->owner = NULL; /* still being made: it ends as a spare */
        } else if (img) {
                image_release(img);
        }
        if (t->mntns_fd >= 0 || t->dir)
                job_run(h, t->mntns_fd, NULL, t->dir);
        free(t);
        return NULL;
}

bool sbx_tmp_ready(const SbxTmp *t) {
        return t->done;
}

int sbx_tmp_error(const SbxTmp *t, char *msg, size_t n) {
        if (t->err < 0 && msg && n)
                snprintf(msg, n, "%s", t->msg);
        return t->err;
}

void sbx_tmp_wait(SbxTmp *t, sbx_tmp_ready_cb cb, void *userdata) {
        t->cb = cb;
        t->userdata = userdata;
}

bool sbx_tmp_launch_arg(const SbxTmp *t, int mntns_slot, char *out, size_t n) {
        switch (t->spec.mode) {
        case SBX_TMP_IMAGE:
                if (!t->image || t->image->loop_no < 0)
                        return false;
                snprintf(out, n, "dev:/dev/loop%d", t->image->loop_no);
                return true;
        case SBX_TMP_TMPFS:
                if (t->mntns_fd >= 0)
                        snprintf(out, n, "ns:%d", mntns_slot);
                else
                        snprintf(out, n, "tmpfs:%llu", (unsigned long long) t->spec.cap_bytes);
                return true;
        case SBX_TMP_DIR:
                if (!t->spec.mount)
                        return false;
                snprintf(out, n, "bind:%s", t->dir);
                return true;
        default:
                return false;
        }
}

int sbx_tmp_mntns_fd(const SbxTmp *t) {
        return t->mntns_fd;
}

const char *sbx_tmp_tmpdir(const SbxTmp *t) {
        return t->spec.mode == SBX_TMP_DIR && !t->spec.mount ? t->dir : NULL;
}

static bool same_ns(int fd, const char *own) {
        struct stat a, b;

        return fstat(fd, &a) == 0 && stat(own, &b) == 0 && a.st_ino == b.st_ino &&
               a.st_dev == b.st_dev;
}

void sbx_tmp_keep_ns(SbxTmp *t, pid_t pid, int *userns_fd) {
        char path[64];

        if (t->spec.mode != SBX_TMP_TMPFS || t->mntns_fd >= 0 || pid <= 0)
                return;
        /* nsfs is memory-backed: opening a namespace does not sleep. */
        snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int) pid);
        int m = open(path, O_RDONLY | O_CLOEXEC);
        if (m < 0 || same_ns(m, "/proc/self/ns/mnt")) {
                if (m >= 0)
                        close(m);
                return;
        }
        if (*userns_fd < 0) {
                snprintf(path, sizeof(path), "/proc/%d/ns/user", (int) pid);
                int u = open(path, O_RDONLY | O_CLOEXEC);
                if (u >= 0 && same_ns(u, "/proc/self/ns/user")) {
                        close(u);
                        u = -1;
                } else if (u < 0 && !t->host->root) {
                        close(m); /* without its user namespace it cannot be joined */
                        return;
                }
                *userns_fd = u;
        }
        t->mntns_fd = m;
}

/* ---- host ----------------------------------------------------------------------------- */

static char *find_mkfs(void) {
        static const char *const fixed[] = { "/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4" };
        const char *path = getenv("PATH");

        for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
                if (access(fixed[i], X_OK) == 0)
                        return xstrdup(fixed[i]);
        while (path && *path) {
                const char *end = strchr(path, ':');
                size_t len = end ? (size_t) (end - path) : strlen(path);
                char *p = xasprintf("%.*s/mkfs.ext4", (int) len, path);
                if (len && access(p, X_OK) == 0)
                        return p;
                free(p);
                path = end ? end + 1 : NULL;
        }
        return NULL;
}

const char *const sbx_tmp_mount_probe[] = { "--tmp", "tmpfs:1048576", "--read-only", NULL };

int sbx_tmp_host_init(SbxTmpHost *h, uv_loop_t *loop, const SbxProbe *mount) {
        memset(h, 0, sizeof(*h));
        h->loop = loop;
        list_init(&h->spares);
        list_init(&h->preparing);
        h->root = geteuid() == 0;
        h->dir =
                xasprintf("%s/lemu-%d-%llu", TMP_BASE, (int) getpid(), sbx_start_time_of(getpid()));

        if (mount) {
                h->can_mount = mount->result == 0;
                if (mount->result < 0)
                        snprintf(h->mount_reason, sizeof(h->mount_reason),
                                 "the launcher could not be started: %s", strerror(-mount->result));
                else if (mount->result > 0 && mount->err)
                        snprintf(h->mount_reason, sizeof(h->mount_reason),
                                 "no mount namespace: the launcher's stage '%s' failed: %s",
                                 mount->stage, strerror(mount->err));
                else if (mount->result > 0)
                        snprintf(h->mount_reason, sizeof(h->mount_reason),
                                 "no mount namespace: the launcher's probe failed");
        }
        if (!h->root) {
                snprintf(h->image_reason, sizeof(h->image_reason),
                         "filesystem images need root (loop devices and mount)");
        } else {
                int fd = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
                h->mkfs = find_mkfs();
                if (fd < 0)
                        snprintf(h->image_reason, sizeof(h->image_reason),
                                 "cannot open /dev/loop-control: %s", strerror(errno));
                else if (!h->mkfs)
                        snprintf(h->image_reason, sizeof(h->image_reason),
                                 "mkfs.ext4 is not installed (e2fsprogs)");
                else
                        h->can_image = true;
                if (fd >= 0)
                        close(fd);
        }
        /* At start, as for cgroups: what a killed lemu left is a few sparse files. */
        remove_dead(TMP_BASE);
        return 0;
}

void sbx_tmp_host_deinit(SbxTmpHost *h) {
        if (!h->loop)
                return;
        /* The loop has ended: what is left is spares (and, after a loop that was stopped
         * early, preparations that will never finish). */
        while (!list_empty(&h->spares)) {
                SbxImage *img = container_of(h->spares.next, SbxImage, link);
                list_unlink(&img->link);
                if (img->loop_fd >= 0)
                        close(img->loop_fd);
                free(img->path);
                free(img);
        }
        if (h->pending == 0 && list_empty(&h->preparing))
                rm_tree(h->dir);
        free(h->dir);
        free(h->mkfs);
        memset(h, 0, sizeof(*h));
}

SbxTmpMode sbx_tmp_resolve(const SbxTmpHost *h, const char *configured, char *ret_why, size_t n) {
        bool want_image = strcmp(configured, "image") == 0 || strcmp(configured, "auto") == 0;
        bool want_tmpfs = want_image || strcmp(configured, "tmpfs") == 0;

        if (ret_why && n)
                ret_why[0] = '\0';
        if (want_image && h->can_image && h->can_mount)
                return SBX_TMP_IMAGE;
        if (want_image && ret_why && n)
                snprintf(ret_why, n, "%s", h->can_image ? h->mount_reason : h->image_reason);
        if (want_tmpfs && h->can_mount)
                return SBX_TMP_TMPFS;
        if (want_tmpfs && ret_why && n)
                snprintf(ret_why, n, "%s", h->mount_reason);
        return SBX_TMP_DIR;
}
