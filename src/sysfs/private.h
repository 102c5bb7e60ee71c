/* SPDX-License-Identifier: MIT */
/*
 * Private definitions of the sysfs module: the node tree behind the FUSE filesystem
 * (mdev.md §6) and the open-file handles. Not seen by any other module.
 *
 * The tree is ours; libfuse (high-level API) owns inode numbers and lookup counts. Every FUSE
 * request resolves its path in the tree under tree_lock (read), or uses the node reference of
 * its open handle. Publication and unpublication of one object are a single tree update under
 * tree_lock (write), so readdir never lists a half-published object (M-57).
 *
 * Lock order: docs/locking.md. tree_lock sits below list_lock and is never held while calling
 * into the core (not even umdev__parent_put()): nodes detached under the lock are put after it
 * is dropped. The module's other locks (handles_lock, loop_lock, each handle's lock) are leaves:
 * nothing is taken, and nothing of the core or a vendor is called, while one is held. Every
 * "caller holds" below is checked with umdev__assert_held() (src/util/lockdep.h).
 */
#ifndef UMDEV_SYSFS_PRIVATE_H
#define UMDEV_SYSFS_PRIVATE_H

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "hooks.h"
#include "list.h"
#include "lockdep.h"
#include "sysfs.h"
#include "umdev/mdev.h"

/* Every attribute file reports this size and a show sees a buffer this large (§6.1). */
#define SYSFS_FILE_SIZE UMDEV_ATTR_BUF_SIZE

struct sysfs_node;
struct fuse;
struct fuse_operations;

/* What an attribute file does on read and write; NULL: not readable / not writable. */
struct sysfs_file_ops {
	/* fill @buf (SYSFS_FILE_SIZE bytes): byte count or -errno */
	ssize_t (*show)(struct sysfs_node *n, char *buf, size_t len);
	/*
	 * Binary files (read instead of show): every read(2) at any offset is one call, no
	 * snapshot, no 4096-byte limit; byte count (0: end of file) or -errno.
	 */
	ssize_t (*read)(struct sysfs_node *n, char *buf, size_t off, size_t len);
	/* one write(2) of 1..4096 bytes: bytes consumed or -errno */
	ssize_t (*store)(struct sysfs_node *n, const char *buf, size_t len);
	/* store is called on a stale handle too and answers for it (`remove`, M-40) */
	bool store_when_stale;
};

/*
 * One directory, symlink or attribute file. Immutable after it was built except where noted.
 *
 * refs holders: the tree (or, before publication, the node set or builder holding it) owns one
 * reference per node, held through the parent directory's children list; each open FUSE handle
 * (file or directory) holds one, put in op_release()/op_releasedir(). A node that drops to 0 is
 * freed and puts its children.
 */
struct sysfs_node {
	char *name;
	mode_t mode; /* S_IFDIR | 0755, S_IFLNK | 0777, S_IFREG | the file's mode */
	atomic_uint refs;
	/*
	 * True while the node is reachable from the root. Written under tree_lock (write); read
	 * without it by operations on open handles (a stale handle answers ENODEV, M-39).
	 */
	atomic_bool published;
	bool permanent; /* skeleton directory: never unpublished */
	size_t name_len; /* strlen(name) */
	struct umdev_list children; /* directories: under tree_lock once published */
	struct umdev_list sibling; /* in the parent directory's children; under tree_lock */
	/*
	 * The name index of a directory's children, under tree_lock like the list (which keeps
	 * readdir's order): a chained hash table, built once a directory has more than a few
	 * children and doubled as it grows, so a lookup costs the same at 10 children or 10,000
	 * (kernfs keeps an rbtree per directory for the same reason). NULL buckets: the list is
	 * scanned (small directories, or a table that could not be allocated).
	 */
	struct sysfs_node **buckets;
	unsigned int nr_buckets; /* a power of two, or 0 */
	unsigned int nr_children;
	struct sysfs_node *hash_next; /* the next child in this node's bucket of dir's table */
	struct sysfs_node *dir; /* the directory whose children list holds this node, or NULL */
	unsigned int users; /* shared class directories: parents using it; tree_lock */

	/* attribute files */
	const struct sysfs_file_ops *ops;
	bool readable; /* has a read bit and a show or read (§6.1 open check) */
	bool writable; /* has a write bit and a store */

	/* kind-specific data */
	char *text; /* symlink target, or the content of a fixed file (uevent) */
	size_t text_len;
	struct umdev__type *type; /* type files; a reference on its parent is held */
	struct umdev__parent *parent; /* the parent reference, put when the node is freed */
	uuid_t uuid; /* mdev files: the mdev named by (uuid, serial) */
	uint64_t serial;
	const struct umdev_attr *attr; /* dev_groups file; touched only with an mdev ref held */
	/*
	 * Binary dev_groups file: the struct umdev_bin_attr around attr, or NULL. Its size is
	 * copied to bin_size when the node is built, so stat never touches driver memory.
	 */
	const struct umdev_bin_attr *bin;
	size_t bin_size;
};

/* The filesystem. */
struct umdev_sysfs {
	/* immutable after umdev_sysfs_create() */
	char *mountpoint;
	char *stop_path; /* <mountpoint>/.umdev-stop: a name that never exists (unmount) */
	unsigned int max_threads;
	bool allow_other;
	bool debug;
	struct timespec birth; /* every node's times */

	/*
	 * tree_lock (docs/locking.md #4): the node tree (children lists, users counts, the
	 * published flags) and the parents list. Read: path lookups, readdir, open. Write:
	 * publish/unpublish. Never held while calling into the core or a vendor callback;
	 * writer-preferring so a stream of readers cannot starve a create.
	 */
	struct umdev_rwlock tree_lock;
	struct sysfs_node *root;
	struct umdev_list parents; /* struct sysfs_parent; under tree_lock */
	/*
	 * handles_lock: leaf; protects the list of open handles and `closing`. Held for one
	 * insert/delete or one look at the list, never across a node put (a core call).
	 */
	struct umdev_mutex handles_lock;
	struct umdev_list handles; /* struct sysfs_handle.link */
	/* unmount began: opens fail ENODEV, so the list only shrinks */
	bool closing;
	/* handles_lock; signalled when the list becomes empty while closing */
	pthread_cond_t handles_empty;

	/* mount state: used only by umdev_sysfs_mount()/umdev_sysfs_unmount() (one thread) */
	struct fuse *fuse;
	pthread_t loop_thread;
	bool mounted;
	/* leaf; protects loop_state; signalled on each change (INIT answered, loop ended) */
	struct umdev_mutex loop_lock;
	pthread_cond_t loop_cond;
	enum { LOOP_STARTING, LOOP_LIVE, LOOP_DEAD } loop_state;
};

/*
 * An open file. The node reference keeps the node (and what it names) alive; operations on a
 * node that is no longer published fail ENODEV, except `remove` writes (M-40).
 */
struct sysfs_handle {
	struct sysfs_node *node; /* a reference; put in op_release() */
	struct umdev_list link; /* in umdev_sysfs.handles; under handles_lock */
	/*
	 * Leaf: protects the snapshot below; held only to swap or copy it, never across a show
	 * callback or any other call (docs/locking.md). Unlike kernfs's of->mutex: a show calls
	 * into the core (guard ticket, list_lock) and the vendor (driver locks), which run with
	 * no lock of ours held (M-78), and it fills a buffer of its own, so concurrent reads of
	 * one handle need no serialising; each swaps in a whole snapshot.
	 */
	struct umdev_mutex lock;
	char *snap; /* content generated by the read at offset 0 (§6.1, M-67) */
	size_t snap_len;
	bool snap_valid; /* a show succeeded into snap */
};

/*
 * Before a show or a store, which call into the core and the vendor: the calling thread holds
 * no checked lock at all (M-78; docs/locking.md: vendor callbacks run with none held).
 */
#ifdef UMDEV_LOCKDEP
#define sysfs_assert_no_lock_held() assert(umdev__lockdep_depth() == 0)
#else
#define sysfs_assert_no_lock_held() ((void)0)
#endif

/* ---- tree.c ---- */

struct sysfs_node *umdev__sysfs_node_new(const char *name, mode_t mode);
void umdev__sysfs_node_get(struct sysfs_node *n);
/* Drop a reference; frees the node (and puts its children, its parent reference) at 0. */
void umdev__sysfs_node_put(struct sysfs_node *n);
/*
 * Resolve a path relative to the mount root ("/sys/bus", "sys/bus" and "/" all work).
 * Caller holds tree_lock (either mode). Return: the node, or NULL (ENOENT).
 */
struct sysfs_node *umdev__sysfs_lookup(struct umdev_sysfs *fs, const char *path);
/* Build the static skeleton (§6.2). Return: 0, -ENOMEM. */
int umdev__sysfs_tree_init(struct umdev_sysfs *fs);
/* Free the whole tree (destroy). */
void umdev__sysfs_tree_fini(struct umdev_sysfs *fs);
/* Stop opens: from now on they fail ENODEV, so the list of open handles only shrinks. */
void umdev__sysfs_handles_close(struct umdev_sysfs *fs);
/*
 * Wait until every open handle was released, or until @deadline (CLOCK_MONOTONIC).
 * Return: the number of handles still open.
 */
unsigned int umdev__sysfs_handles_wait(struct umdev_sysfs *fs, const struct timespec *deadline);
/* Free the handles the kernel never released (the loop has ended). */
void umdev__sysfs_handles_fini(struct umdev_sysfs *fs);
/* The tree hooks installed into the core. */
extern const struct umdev_tree_hooks umdev__sysfs_tree_hooks;

/* ---- fuse_ops.c ---- */

extern const struct fuse_operations umdev__sysfs_fuse_ops;

/* ---- sysfs.c ---- */

/* The INIT handshake was answered: the mount is live (called from the init op). */
void umdev__sysfs_loop_live(struct umdev_sysfs *fs);

#endif
