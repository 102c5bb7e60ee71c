// SPDX-License-Identifier: MIT
/*
 * The FUSE operations (libfuse high-level, path based): kernfs file semantics over our node
 * tree (mdev.md §6.1). Each operation is short: resolve the node, answer data or -errno. This
 * is where the sign of an error flips for the kernel (libfuse negates the return value).
 *
 * Paths are resolved under tree_lock (read). Open files and directories carry a struct
 * sysfs_handle with a node reference in fi->fh; operations on a handle whose node was
 * unpublished answer ENODEV (M-39), except `remove` writes (M-40).
 */
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "private.h"
#include "umdev/log.h"

static struct umdev_sysfs *request_fs(void)
{
	return fuse_get_context()->private_data;
}

static struct sysfs_handle *handle_of(const struct fuse_file_info *fi)
{
	return (struct sysfs_handle *)(uintptr_t)fi->fh;
}

static bool published(const struct sysfs_node *n)
{
	return atomic_load_explicit(&n->published, memory_order_acquire);
}

static void fill_stat(const struct umdev_sysfs *fs, const struct sysfs_node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = n->mode;
	st->st_nlink = S_ISDIR(n->mode) ? 2 : 1;
	st->st_uid = 0; /* root:root (§6.1) */
	st->st_gid = 0;
	if (S_ISREG(n->mode) && n->bin)
		st->st_size = (off_t)n->bin_size; /* binary: the length, or 0 when not known */
	else if (S_ISREG(n->mode))
		st->st_size = SYSFS_FILE_SIZE; /* not the content length (M-4) */
	else if (S_ISLNK(n->mode))
		st->st_size = (off_t)n->text_len;
	st->st_blksize = SYSFS_FILE_SIZE;
	st->st_atim = fs->birth;
	st->st_mtim = fs->birth;
	st->st_ctim = fs->birth;
}

/*
 * Resolve @path and take a reference on the node if @pred holds for it. Return: 0, -ENOENT,
 * or @err when @pred fails.
 */
static int node_get_path(struct umdev_sysfs *fs, const char *path, mode_t type, int err,
			 struct sysfs_node **ret)
{
	struct sysfs_node *n;
	int r = 0;

	umdev__rwlock_rdlock(&fs->tree_lock);
	n = umdev__sysfs_lookup(fs, path);
	if (!n)
		r = -ENOENT;
	else if ((n->mode & S_IFMT) != type)
		r = err;
	else
		umdev__sysfs_node_get(n); /* put in release()/releasedir() */
	umdev__rwlock_unlock(&fs->tree_lock);
	if (r == 0)
		*ret = n;
	return r;
}

/*
 * A handle for @n, taking the caller's reference on it. Return: 0; -ENOMEM; -ENODEV the
 * filesystem is being unmounted (umdev__sysfs_handles_close()).
 */
static int handle_new(struct umdev_sysfs *fs, struct sysfs_node *n, struct sysfs_handle **ret)
{
	struct sysfs_handle *h = calloc(1, sizeof(*h));
	bool closing;

	if (!h)
		return -ENOMEM;
	h->node = n;
	umdev__mutex_init(&h->lock, &umdev__lock_class_sysfs_handle, false);
	umdev__mutex_lock(&fs->handles_lock);
	closing = fs->closing;
	if (!closing)
		umdev_list_add_tail(&fs->handles, &h->link);
	umdev__mutex_unlock(&fs->handles_lock);
	if (closing) {
		umdev__mutex_destroy(&h->lock);
		free(h);
		return -ENODEV;
	}
	*ret = h;
	return 0;
}

static void handle_destroy(struct sysfs_handle *h)
{
	umdev__sysfs_node_put(h->node); /* pairs with the get in node_get_path() */
	umdev__mutex_destroy(&h->lock);
	free(h->snap);
	free(h);
}

static void handle_free(struct umdev_sysfs *fs, struct sysfs_handle *h)
{
	umdev__mutex_lock(&fs->handles_lock);
	umdev_list_del(&h->link);
	if (fs->closing && umdev_list_empty(&fs->handles))
		pthread_cond_broadcast(&fs->handles_empty);
	umdev__mutex_unlock(&fs->handles_lock);
	handle_destroy(h); /* outside the leaf: the node put may drop a core reference */
}

void umdev__sysfs_handles_close(struct umdev_sysfs *fs)
{
	umdev__mutex_lock(&fs->handles_lock);
	fs->closing = true;
	umdev__mutex_unlock(&fs->handles_lock);
}

unsigned int umdev__sysfs_handles_wait(struct umdev_sysfs *fs, const struct timespec *deadline)
{
	unsigned int n = 0;
	struct umdev_list *pos;

	umdev__mutex_lock(&fs->handles_lock);
	while (!umdev_list_empty(&fs->handles) &&
	       umdev__cond_timedwait(&fs->handles_empty, &fs->handles_lock, deadline) == 0)
		;
	umdev_list_for_each(pos, &fs->handles)
		n++;
	umdev__mutex_unlock(&fs->handles_lock);
	return n;
}

void umdev__sysfs_handles_fini(struct umdev_sysfs *fs)
{
	struct umdev_list *pos, *tmp;
	struct umdev_list gone;

	/* take the list over under the leaf; destroy outside it (node puts) */
	umdev_list_init(&gone);
	umdev__mutex_lock(&fs->handles_lock);
	umdev_list_for_each_safe(pos, tmp, &fs->handles) {
		umdev_list_del(pos);
		umdev_list_add_tail(&gone, pos);
	}
	umdev__mutex_unlock(&fs->handles_lock);
	umdev_list_for_each_safe(pos, tmp, &gone) {
		umdev_list_del(pos);
		handle_destroy(umdev_list_entry(pos, struct sysfs_handle, link));
	}
}

/* ---- attributes and names ---- */

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct umdev_sysfs *fs = request_fs();
	struct sysfs_node *n;
	int ret = 0;

	if (fi && fi->fh) {
		fill_stat(fs, handle_of(fi)->node, st); /* fstat works on a stale handle */
		return 0;
	}
	umdev__rwlock_rdlock(&fs->tree_lock);
	n = umdev__sysfs_lookup(fs, path);
	if (n)
		fill_stat(fs, n, st);
	else
		ret = -ENOENT;
	umdev__rwlock_unlock(&fs->tree_lock);
	return ret;
}

static int op_readlink(const char *path, char *buf, size_t size)
{
	struct umdev_sysfs *fs = request_fs();
	struct sysfs_node *n;
	int ret = 0;

	if (size == 0)
		return -EINVAL;
	umdev__rwlock_rdlock(&fs->tree_lock);
	n = umdev__sysfs_lookup(fs, path);
	if (!n) {
		ret = -ENOENT;
	} else if (!S_ISLNK(n->mode)) {
		ret = -EINVAL;
	} else {
		size_t len = n->text_len < size - 1 ? n->text_len : size - 1;

		memcpy(buf, n->text, len);
		buf[len] = '\0';
	}
	umdev__rwlock_unlock(&fs->tree_lock);
	return ret;
}

/* §6.1: nothing is created, removed, renamed, linked or re-moded in sysfs (M-66). */
static int op_mknod(const char *path, mode_t mode, dev_t dev)
{
	(void)path;
	(void)mode;
	(void)dev;
	return -EPERM;
}

static int op_mkdir(const char *path, mode_t mode)
{
	(void)path;
	(void)mode;
	return -EPERM;
}

static int op_unlink(const char *path)
{
	(void)path;
	return -EPERM;
}

static int op_rmdir(const char *path)
{
	(void)path;
	return -EPERM;
}

static int op_symlink(const char *target, const char *path)
{
	(void)target;
	(void)path;
	return -EPERM;
}

static int op_rename(const char *from, const char *to, unsigned int flags)
{
	(void)from;
	(void)to;
	(void)flags;
	return -EPERM;
}

static int op_link(const char *from, const char *to)
{
	(void)from;
	(void)to;
	return -EPERM;
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)path;
	(void)mode;
	(void)fi;
	return -EPERM; /* deviation: the kernel lets root do it (§6.1) */
}

static int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	(void)path;
	(void)uid;
	(void)gid;
	(void)fi;
	return -EPERM;
}

/*
 * A time update on an open file is the time part of an O_TRUNC open or of ftruncate(2),
 * which the kernel sends in the same SETATTR as the size: accepted with the truncation
 * (M-65). utimes(2) on a path is refused like chmod.
 */
static int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	(void)path;
	(void)tv;
	return fi ? 0 : -EPERM;
}

/* O_TRUNC, truncate(2), ftruncate(2): accepted, no effect (§6.1, M-65). */
static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct umdev_sysfs *fs = request_fs();
	struct sysfs_node *n;
	int ret = 0;

	(void)size;
	if (fi)
		return 0;
	umdev__rwlock_rdlock(&fs->tree_lock);
	n = umdev__sysfs_lookup(fs, path);
	if (!n)
		ret = -ENOENT;
	else if (S_ISDIR(n->mode))
		ret = -EISDIR;
	umdev__rwlock_unlock(&fs->tree_lock);
	return ret;
}

/* O_CREAT of a name that does not exist (§6.1, M-66) */
static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)path;
	(void)mode;
	(void)fi;
	return -EACCES;
}

static int op_statfs(const char *path, struct statvfs *st)
{
	(void)path;
	memset(st, 0, sizeof(*st));
	st->f_bsize = SYSFS_FILE_SIZE;
	st->f_frsize = SYSFS_FILE_SIZE;
	st->f_namemax = 255;
	return 0;
}

/* ---- files ---- */

/*
 * kernfs's open check, whatever the caller's privileges (§6.1, M-34): reading needs a read
 * bit and a show, writing a write bit and a store; root gets EACCES too.
 */
static int op_open(const char *path, struct fuse_file_info *fi)
{
	struct umdev_sysfs *fs = request_fs();
	int acc = fi->flags & O_ACCMODE;
	struct sysfs_handle *h;
	struct sysfs_node *n;
	int ret;

	ret = node_get_path(fs, path, S_IFREG, -EISDIR, &n);
	if (ret < 0)
		return ret;
	if (((acc == O_RDONLY || acc == O_RDWR) && !n->readable) ||
	    ((acc == O_WRONLY || acc == O_RDWR) && !n->writable)) {
		umdev__sysfs_node_put(n);
		return -EACCES;
	}
	ret = handle_new(fs, n, &h);
	if (ret < 0) {
		umdev__sysfs_node_put(n);
		return ret;
	}
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1; /* st_size is not the length; every read asks us (M-68) */
	fi->keep_cache = 0;
	fi->noflush = 1; /* close needs no round trip */
	return 0;
}

/*
 * Content at offset 0 is generated now; later offsets continue that snapshot (M-67). The show
 * runs without the handle's lock (vendor callbacks run with no lock of ours held, M-78); the
 * lock only swaps and copies the snapshot.
 */
static int op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct sysfs_handle *h = handle_of(fi);
	struct sysfs_node *n = h->node;
	char *fresh = NULL;
	ssize_t ret = 0;
	size_t avail;

	(void)path;
	if (!published(n))
		return -ENODEV; /* stale handle (M-39) */
	if (!n->readable || off < 0)
		return -EINVAL;
	if (n->ops->read) {
		/* binary: one call per read, at its offset, no snapshot (struct umdev_bin_attr) */
		sysfs_assert_no_lock_held();
		return (int)n->ops->read(n, buf, (size_t)off, size);
	}
	umdev__mutex_lock(&h->lock);
	if (off != 0 && h->snap_valid)
		goto copy;
	umdev__mutex_unlock(&h->lock);

	fresh = malloc(SYSFS_FILE_SIZE);
	if (!fresh)
		return -ENOMEM;
	sysfs_assert_no_lock_held(); /* not even h->lock: see struct sysfs_handle */
	ret = n->ops->show(n, fresh, SYSFS_FILE_SIZE);
	umdev__mutex_lock(&h->lock);
	if (ret < 0) {
		h->snap_valid = false;
		umdev__mutex_unlock(&h->lock);
		free(fresh);
		return (int)ret;
	}
	free(h->snap);
	h->snap = fresh;
	h->snap_len = (size_t)ret;
	h->snap_valid = true;
copy:
	avail = (size_t)off < h->snap_len ? h->snap_len - (size_t)off : 0;
	ret = (ssize_t)(size < avail ? size : avail);
	if (ret > 0)
		memcpy(buf, h->snap + off, (size_t)ret);
	umdev__mutex_unlock(&h->lock);
	return (int)ret;
}

/* One write(2) is one store of at most 4096 bytes; the offset is ignored (§6.1, M-19). */
static int op_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct sysfs_node *n = handle_of(fi)->node;
	size_t len = size < SYSFS_FILE_SIZE ? size : SYSFS_FILE_SIZE;

	(void)path;
	(void)off;
	if (size == 0)
		return 0; /* never a store (sysfs_kf_write) */
	if (!n->writable)
		return -EINVAL;
	if (!published(n) && !n->ops->store_when_stale)
		return -ENODEV; /* stale handle (M-39, M-62) */
	sysfs_assert_no_lock_held();
	return (int)n->ops->store(n, buf, len); /* the errno flows to the writer unchanged */
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	handle_free(request_fs(), handle_of(fi));
	return 0;
}

/* ---- directories ---- */

static int op_opendir(const char *path, struct fuse_file_info *fi)
{
	struct umdev_sysfs *fs = request_fs();
	struct sysfs_handle *h;
	struct sysfs_node *n;
	int ret;

	ret = node_get_path(fs, path, S_IFDIR, -ENOTDIR, &n);
	if (ret < 0)
		return ret;
	ret = handle_new(fs, n, &h);
	if (ret < 0) {
		umdev__sysfs_node_put(n);
		return ret;
	}
	fi->fh = (uintptr_t)h;
	return 0;
}

/*
 * The whole directory in one call under tree_lock: libfuse keeps the listing for the
 * handle, so a reader sees one consistent state of the directory (M-57). A directory that was
 * unpublished lists empty, as kernfs does.
 */
static int op_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct umdev_sysfs *fs = request_fs();
	struct sysfs_node *dir = handle_of(fi)->node;
	struct umdev_list *pos;
	struct stat st;

	(void)path;
	(void)off;
	(void)flags;
	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFDIR;
	if (fill(buf, ".", &st, 0, 0) || fill(buf, "..", &st, 0, 0))
		return -ENOMEM;
	umdev__rwlock_rdlock(&fs->tree_lock);
	if (published(dir)) {
		umdev_list_for_each(pos, &dir->children) {
			struct sysfs_node *c = umdev_list_entry(pos, struct sysfs_node, sibling);

			st.st_mode = c->mode & S_IFMT;
			if (fill(buf, c->name, &st, 0, 0))
				break;
		}
	}
	umdev__rwlock_unlock(&fs->tree_lock);
	return 0;
}

static int op_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	handle_free(request_fs(), handle_of(fi));
	return 0;
}

/* ---- connection ---- */

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct umdev_sysfs *fs = request_fs();

	/* a tree that changes under the kernel: no caching of names or attributes (§6.1) */
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->use_ino = 0;
	cfg->nullpath_ok = 1; /* file and directory operations use fi->fh */
	cfg->hard_remove = 1; /* nothing is ever unlinked through FUSE anyway */
	cfg->kernel_cache = 0;
	cfg->auto_cache = 0;
	cfg->direct_io = 0; /* set per file in op_open() */
	/* each write(2) reaches the store synchronously, its errno reaches the writer */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/*
	 * No atomic_o_trunc: with it the kernel sets i_size to 0 after an O_TRUNC open, and a
	 * direct write past i_size takes the inode lock exclusively, serialising the creates of
	 * mdevctl-style writers on one `create` file. Without it an O_TRUNC open sends a SETATTR
	 * (op_truncate, op_utimens) whose reply keeps i_size at 4096.
	 */
	conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
	conn->want &= ~FUSE_CAP_READDIRPLUS;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS; /* lookups in one directory in parallel */
	umdev__sysfs_loop_live(fs);
	return fs;
}

const struct fuse_operations umdev__sysfs_fuse_ops = {
    .getattr = op_getattr,
    .readlink = op_readlink,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .unlink = op_unlink,
    .rmdir = op_rmdir,
    .symlink = op_symlink,
    .rename = op_rename,
    .link = op_link,
    .chmod = op_chmod,
    .chown = op_chown,
    .truncate = op_truncate,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .statfs = op_statfs,
    .release = op_release,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .releasedir = op_releasedir,
    .init = op_init,
    .create = op_create,
    .utimens = op_utimens,
};
