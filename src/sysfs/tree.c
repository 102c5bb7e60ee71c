// SPDX-License-Identifier: MIT
/*
 * The node tree and the core's tree hooks: the skeleton, drivers, parents (§4.3, §4.4) and
 * mdev node sets (C8, C9, R3). Shapes and link targets: mdev.md §6.2-§6.4.
 *
 * Every object is built off-tree first (allocation may fail; nothing is visible), then
 * attached in one tree_lock (write) section. Unpublication detaches in one section and puts
 * the detached nodes after the lock is dropped, because the last put of a type file drops a
 * reference on a core parent (a core call).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "private.h"
#include "umdev/log.h"

#define PATH_LEN 512 /* longest tree path we build: 6 names of <= 64 bytes plus fixed parts */

/* A parent's nodes outside its own directory, kept to unpublish them (§4.4 step 5). */
struct sysfs_parent {
	struct umdev__parent *p; /* key only; never dereferenced through the record */
	char path[PATH_LEN]; /* sys/devices/virtual/<class>/<name> */
	struct sysfs_node *dir; /* the parent directory */
	struct sysfs_node *class_link; /* sys/class/<class>/<name> */
	struct sysfs_node *bus_link; /* sys/class/mdev_bus/<name>; NULL if absent */
	struct sysfs_node *virtual_class, *class_dir; /* the shared class dirs; users counted */
	struct umdev_list link; /* in fs->parents; under tree_lock */
};

/* One piece of an mdev's node set and the directory it goes in. */
struct mdev_piece {
	struct sysfs_node *node; /* the node set's reference until publication */
	char dir[PATH_LEN]; /* where it is attached */
	bool attached; /* under tree_lock */
};

enum {
	PIECE_DEV_DIR, /* <parent dir>/<uuid>/ */
	PIECE_BUS_LINK, /* sys/bus/mdev/devices/<uuid> */
	PIECE_TYPE_LINK, /* <type dir>/devices/<uuid> */
	PIECE_DRV_LINK, /* sys/bus/mdev/drivers/<driver>/<uuid> */
	PIECE_GROUP_DIR, /* sys/kernel/iommu_groups/<G>/ */
	PIECE_VFIO_LINK, /* sys/class/vfio-dev/vfio<N> */
	NR_PIECES,
};

/* The result of mdev_prepare(): handed back at publish, unpublish or discard. */
struct mdev_nodes {
	struct mdev_piece piece[NR_PIECES];
};

/* ---- nodes ---- */

struct sysfs_node *umdev__sysfs_node_new(const char *name, mode_t mode)
{
	struct sysfs_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = strdup(name);
	if (!n->name) {
		free(n);
		return NULL;
	}
	n->name_len = strlen(name);
	n->mode = mode;
	atomic_init(&n->refs, 1); /* the builder's, then the tree's */
	atomic_init(&n->published, false);
	umdev_list_init(&n->children);
	umdev_list_init(&n->sibling);
	return n;
}

void umdev__sysfs_node_get(struct sysfs_node *n)
{
	atomic_fetch_add_explicit(&n->refs, 1, memory_order_relaxed);
}

void umdev__sysfs_node_put(struct sysfs_node *n)
{
	struct umdev_list *pos, *tmp;

	if (!n || atomic_fetch_sub_explicit(&n->refs, 1, memory_order_acq_rel) != 1)
		return;
	/* last reference: nobody can reach the node, so its children list is ours */
	umdev_list_for_each_safe(pos, tmp, &n->children) {
		struct sysfs_node *c = umdev_list_entry(pos, struct sysfs_node, sibling);

		umdev_list_del(&c->sibling);
		c->dir = NULL;
		c->hash_next = NULL;
		umdev__sysfs_node_put(c); /* the reference the directory held */
	}
	if (n->parent)
		umdev__parent_put(n->parent); /* pairs with the get in type_file() */
	free(n->buckets);
	free(n->text);
	free(n->name);
	free(n);
}

static struct sysfs_node *dir_new(const char *name)
{
	return umdev__sysfs_node_new(name, S_IFDIR | 0755);
}

/* ---- a directory's name index (struct sysfs_node.buckets) ---- */

/* Directories with at most this many children are scanned, not indexed. */
#define DIR_HASH_MIN 16

/* FNV-1a over @len bytes of @name. */
static uint32_t name_hash(const char *name, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 16777619u;
	}
	return h;
}

static struct sysfs_node **bucket_of(struct sysfs_node *dir, const char *name, size_t len)
{
	return &dir->buckets[name_hash(name, len) & (dir->nr_buckets - 1)];
}

/*
 * Rebuild @dir's index with @nr buckets (a power of two) from its children list. An allocation
 * failure keeps the old index, or none: lookups stay correct, only slower.
 */
static void dir_rehash(struct sysfs_node *dir, unsigned int nr)
{
	struct sysfs_node **buckets = calloc(nr, sizeof(*buckets));
	struct umdev_list *pos;

	if (!buckets)
		return;
	free(dir->buckets);
	dir->buckets = buckets;
	dir->nr_buckets = nr;
	umdev_list_for_each(pos, &dir->children) {
		struct sysfs_node *c = umdev_list_entry(pos, struct sysfs_node, sibling);
		struct sysfs_node **b = bucket_of(dir, c->name, c->name_len);

		c->hash_next = *b;
		*b = c;
	}
}

/* Append @child to @dir; the directory takes over the caller's reference. */
static void dir_add(struct sysfs_node *dir, struct sysfs_node *child)
{
	umdev_list_add_tail(&dir->children, &child->sibling);
	child->dir = dir;
	dir->nr_children++;
	if (dir->nr_children > DIR_HASH_MIN && dir->nr_children > dir->nr_buckets) {
		dir_rehash(dir, dir->nr_buckets ? 2 * dir->nr_buckets : 2 * DIR_HASH_MIN);
		if (dir->buckets && dir->nr_buckets >= dir->nr_children)
			return; /* the rebuild indexed @child too */
	}
	if (dir->buckets) {
		struct sysfs_node **b = bucket_of(dir, child->name, child->name_len);

		child->hash_next = *b;
		*b = child;
	}
}

/* Take @child out of its directory's list and index; the caller keeps the reference. */
static void dir_del(struct sysfs_node *child)
{
	struct sysfs_node *dir = child->dir;

	umdev_list_del(&child->sibling);
	child->dir = NULL;
	if (!dir)
		return;
	dir->nr_children--;
	if (dir->buckets) {
		struct sysfs_node **b = bucket_of(dir, child->name, child->name_len);

		while (*b && *b != child)
			b = &(*b)->hash_next;
		if (*b)
			*b = child->hash_next;
	}
	child->hash_next = NULL;
}

static struct sysfs_node *dir_find(struct sysfs_node *dir, const char *name, size_t len)
{
	struct umdev_list *pos;

	if (dir->buckets) {
		for (struct sysfs_node *c = *bucket_of(dir, name, len); c; c = c->hash_next)
			if (c->name_len == len && memcmp(c->name, name, len) == 0)
				return c;
		return NULL;
	}
	umdev_list_for_each(pos, &dir->children) {
		struct sysfs_node *c = umdev_list_entry(pos, struct sysfs_node, sibling);

		if (c->name_len == len && memcmp(c->name, name, len) == 0)
			return c;
	}
	return NULL;
}

struct sysfs_node *umdev__sysfs_lookup(struct umdev_sysfs *fs, const char *path)
{
	struct sysfs_node *n = fs->root;

	umdev__assert_held(&fs->tree_lock);

	while (n) {
		size_t len;

		while (*path == '/')
			path++;
		if (!*path)
			return n;
		if (!S_ISDIR(n->mode))
			return NULL;
		len = strcspn(path, "/");
		n = dir_find(n, path, len);
		path += len;
	}
	return NULL;
}

static void mark_subtree(struct sysfs_node *n, bool published)
{
	struct umdev_list *pos;

	atomic_store_explicit(&n->published, published, memory_order_release);
	umdev_list_for_each(pos, &n->children) {
		mark_subtree(umdev_list_entry(pos, struct sysfs_node, sibling), published);
	}
}

/* Mark @n and everything below it (un)published. Caller holds tree_lock (write). */
static void mark_published(struct umdev_sysfs *fs, struct sysfs_node *n, bool published)
{
	umdev__assert_write_held(&fs->tree_lock);
	mark_subtree(n, published);
}

/*
 * Attach the built subtree @n to the published directory @dir. Caller holds tree_lock
 * (write).
 */
static void attach(struct umdev_sysfs *fs, struct sysfs_node *dir, struct sysfs_node *n)
{
	umdev__assert_write_held(&fs->tree_lock);
	dir_add(dir, n);
	mark_published(fs, n, true);
}

/*
 * Detach the published subtree @n from its directory. Caller holds tree_lock (write) and puts
 * the tree's reference on @n after dropping it.
 */
static void detach(struct umdev_sysfs *fs, struct sysfs_node *n)
{
	umdev__assert_write_held(&fs->tree_lock);
	dir_del(n);
	mark_published(fs, n, false);
}

/* ---- builders (off-tree: no lock) ---- */

static int vformat(char *buf, size_t len, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static int vformat(char *buf, size_t len, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf, len, fmt, ap);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int format(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int format(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vformat(buf, len, fmt, ap);
	va_end(ap);
	return ret;
}

/*
 * The relative target of a symlink in directory @from to the node at @to, both paths from the
 * root: up to the nearest common ancestor that is a proper ancestor of @to, then down, as
 * kernfs_get_target_path() writes it (§6.1; "../../../<uuid>" for vfio<N>/device).
 */
static char *link_target(const char *from, const char *to)
{
	const char *f = from, *t = to;
	const char *t_rest = to; /* @to after the common part */
	size_t to_parent_len;
	unsigned int ups = 0;
	size_t len;
	char *s, *p;

	to_parent_len = strrchr(to, '/') ? (size_t)(strrchr(to, '/') - to) : 0;
	/* walk common whole components of @from and the parent of @to */
	for (;;) {
		size_t fl = strcspn(f, "/"), tl = strcspn(t, "/");

		if (!*f || (size_t)(t - to) >= to_parent_len || fl != tl || memcmp(f, t, fl) != 0)
			break;
		f += fl;
		t += tl;
		if (*f == '/')
			f++;
		if (*t == '/')
			t++;
		t_rest = t;
	}
	for (const char *q = f; *q;) { /* one "../" per remaining component of @from */
		ups++;
		q += strcspn(q, "/");
		if (*q == '/')
			q++;
	}
	len = ups * 3 + strlen(t_rest) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	p = s;
	for (unsigned int i = 0; i < ups; i++, p += 3)
		memcpy(p, "../", 3);
	strcpy(p, t_rest);
	return s;
}

/* A symlink named @name in directory @from (a path) pointing at the node at @to. */
static struct sysfs_node *link_new(const char *name, const char *from, const char *to)
{
	struct sysfs_node *n = umdev__sysfs_node_new(name, S_IFLNK | 0777);

	if (!n)
		return NULL;
	n->text = link_target(from, to);
	if (!n->text) {
		umdev__sysfs_node_put(n);
		return NULL;
	}
	n->text_len = strlen(n->text);
	return n;
}

/* An attribute file with @ops; readable/writable follow its mode and ops (§6.1). */
static struct sysfs_node *file_new(const char *name, unsigned int mode,
				   const struct sysfs_file_ops *ops)
{
	struct sysfs_node *n = umdev__sysfs_node_new(name, S_IFREG | (mode & 0777));

	if (!n)
		return NULL;
	n->ops = ops;
	n->readable = (mode & 0444) && ops->show;
	n->writable = (mode & 0222) && ops->store;
	return n;
}

/* A file with fixed content (uevent); writes, if its mode allows them, are ignored. */
static struct sysfs_node *fixed_file_new(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static struct sysfs_node *fixed_file_new(const char *name, const char *fmt, ...)
{
	struct sysfs_node *n = file_new(name, 0644, &umdev__sysfs_fixed_ops);
	va_list ap;
	int len;

	if (!n)
		return NULL;
	va_start(ap, fmt);
	len = vasprintf(&n->text, fmt, ap);
	va_end(ap);
	if (len < 0) {
		n->text = NULL;
		umdev__sysfs_node_put(n);
		return NULL;
	}
	n->text_len = (size_t)len;
	return n;
}

/* A file of type @t; takes a reference on the type's parent (put when the node is freed). */
static struct sysfs_node *type_file(struct sysfs_node *dir, const char *name, unsigned int mode,
				    const struct sysfs_file_ops *ops, struct umdev__type *t)
{
	struct sysfs_node *n = file_new(name, mode, ops);

	if (!n)
		return NULL;
	n->type = t;
	n->parent = umdev__type_parent(t);
	umdev__parent_get(n->parent); /* put in umdev__sysfs_node_put() */
	dir_add(dir, n);
	return n;
}

/* Add a new node to @dir; NULL (after freeing nothing) when @n is NULL. */
static struct sysfs_node *add(struct sysfs_node *dir, struct sysfs_node *n)
{
	if (n)
		dir_add(dir, n);
	return n;
}

/* ---- skeleton ---- */

static const char *const skeleton[] = {
    "sys",
    "sys/class",
    "sys/class/mdev_bus",
    "sys/class/vfio-dev",
    "sys/bus",
    "sys/bus/mdev",
    "sys/bus/mdev/devices",
    "sys/bus/mdev/drivers",
    "sys/kernel",
    "sys/kernel/iommu_groups",
    "sys/devices",
    "sys/devices/virtual",
};

int umdev__sysfs_tree_init(struct umdev_sysfs *fs)
{
	fs->root = dir_new("/");
	if (!fs->root)
		return -ENOMEM;
	fs->root->permanent = true;
	atomic_init(&fs->root->published, true);
	umdev__rwlock_wrlock(&fs->tree_lock); /* nobody else sees @fs yet: for the lookups */
	for (size_t i = 0; i < sizeof(skeleton) / sizeof(skeleton[0]); i++) {
		const char *slash = strrchr(skeleton[i], '/');
		char dir_path[PATH_LEN] = "";
		struct sysfs_node *dir, *n;

		if (slash)
			memcpy(dir_path, skeleton[i], (size_t)(slash - skeleton[i]));
		dir = umdev__sysfs_lookup(fs, dir_path);
		n = dir_new(slash ? slash + 1 : skeleton[i]);
		if (!n) {
			umdev__rwlock_unlock(&fs->tree_lock);
			umdev__sysfs_tree_fini(fs);
			return -ENOMEM;
		}
		n->permanent = true;
		dir_add(dir, n);
		atomic_init(&n->published, true);
	}
	umdev__rwlock_unlock(&fs->tree_lock);
	return 0;
}

void umdev__sysfs_tree_fini(struct umdev_sysfs *fs)
{
	struct sysfs_node *root = fs->root;

	if (!root)
		return;
	umdev__rwlock_wrlock(&fs->tree_lock);
	mark_published(fs, root, false);
	fs->root = NULL;
	umdev__rwlock_unlock(&fs->tree_lock);
	umdev__sysfs_node_put(root); /* outside tree_lock: may drop core parent references */
}

/* ---- drivers: sys/bus/mdev/drivers/<name>/ ---- */

static int driver_publish(void *opaque, const struct umdev_driver *drv)
{
	struct umdev_sysfs *fs = opaque;
	struct sysfs_node *drivers, *n;
	int ret = 0;

	n = dir_new(drv->name);
	if (!n)
		return -ENOMEM;
	umdev__rwlock_wrlock(&fs->tree_lock);
	drivers = umdev__sysfs_lookup(fs, "sys/bus/mdev/drivers");
	if (dir_find(drivers, drv->name, strlen(drv->name)))
		ret = -EEXIST;
	else
		attach(fs, drivers, n);
	umdev__rwlock_unlock(&fs->tree_lock);
	if (ret < 0)
		umdev__sysfs_node_put(n);
	return ret;
}

static void driver_unpublish(void *opaque, const struct umdev_driver *drv)
{
	struct umdev_sysfs *fs = opaque;
	struct sysfs_node *drivers, *n;

	umdev__rwlock_wrlock(&fs->tree_lock);
	drivers = umdev__sysfs_lookup(fs, "sys/bus/mdev/drivers");
	n = dir_find(drivers, drv->name, strlen(drv->name));
	if (n)
		detach(fs, n);
	umdev__rwlock_unlock(&fs->tree_lock);
	umdev__sysfs_node_put(n); /* the tree's reference */
}

/* ---- parents (§4.3, §4.4) ---- */

/* One type directory `<type-id>/` (§6.3), not yet attached. */
static struct sysfs_node *type_dir_new(struct umdev__type *t)
{
	struct sysfs_node *d = dir_new(umdev__type_id(t));

	if (!d)
		return NULL;
	if (!type_file(d, "create", 0200, &umdev__sysfs_create_ops, t) ||
	    !type_file(d, "name", 0444, &umdev__sysfs_name_ops, t) ||
	    !type_file(d, "device_api", 0444, &umdev__sysfs_device_api_ops, t) ||
	    !type_file(d, "available_instances", 0444, &umdev__sysfs_available_ops, t) ||
	    (umdev__type_has_description(t) &&
	     !type_file(d, "description", 0444, &umdev__sysfs_description_ops, t)) ||
	    !add(d, dir_new("devices"))) {
		umdev__sysfs_node_put(d);
		return NULL;
	}
	return d;
}

/* The parent directory with uevent, subsystem and every type directory; not attached. */
static struct sysfs_node *parent_dir_new(struct umdev__parent *p, const char *path)
{
	const char *class = umdev__parent_class(p);
	char class_path[PATH_LEN];
	struct sysfs_node *d, *types;

	if (format(class_path, sizeof(class_path), "sys/class/%s", class) < 0)
		return NULL;
	d = dir_new(umdev__parent_name(p));
	if (!d)
		return NULL;
	if (!add(d, fixed_file_new("uevent", "%s", "")) ||
	    !add(d, link_new("subsystem", path, class_path)) ||
	    !(types = add(d, dir_new("mdev_supported_types"))))
		goto err_put;
	for (unsigned int i = 0; i < umdev__parent_nr_types(p); i++) {
		if (!add(types, type_dir_new(umdev__parent_type(p, i))))
			goto err_put;
	}
	return d;

err_put:
	umdev__sysfs_node_put(d);
	return NULL;
}

/*
 * Find or make (from @spare) the shared directory @name in @dir; counted in ->users. Caller
 * holds tree_lock (write).
 */
static struct sysfs_node *class_dir_get(struct umdev_sysfs *fs, struct sysfs_node *dir,
					const char *name, struct sysfs_node *spare)
{
	struct sysfs_node *n;

	umdev__assert_write_held(&fs->tree_lock);
	n = dir_find(dir, name, strlen(name));
	if (!n) {
		n = spare;
		attach(fs, dir, n);
	} else {
		umdev__sysfs_node_put(spare); /* not needed; empty and never published */
	}
	n->users++;
	return n;
}

/*
 * Drop one user of a shared class directory; detach it when the last one goes. Caller holds
 * tree_lock (write). Return: whether it was detached (the caller puts it after the lock).
 */
static bool class_dir_put(struct umdev_sysfs *fs, struct sysfs_node *n)
{
	umdev__assert_write_held(&fs->tree_lock);
	if (--n->users > 0 || n->permanent)
		return false;
	detach(fs, n);
	return true;
}

/* The record of a published parent. Caller holds tree_lock (either mode). */
static struct sysfs_parent *parent_find(struct umdev_sysfs *fs, const struct umdev__parent *p)
{
	struct umdev_list *pos;

	umdev__assert_held(&fs->tree_lock);

	umdev_list_for_each(pos, &fs->parents) {
		struct sysfs_parent *sp = umdev_list_entry(pos, struct sysfs_parent, link);

		if (sp->p == p)
			return sp;
	}
	return NULL;
}

static int parent_publish(void *opaque, struct umdev__parent *p)
{
	struct umdev_sysfs *fs = opaque;
	const char *name = umdev__parent_name(p), *class = umdev__parent_class(p);
	struct sysfs_node *spare_virtual = NULL, *spare_class = NULL;
	struct sysfs_node *virtual, *classes, *vclass, *cclass;
	char class_path[PATH_LEN];
	struct sysfs_parent *sp;
	int ret = -ENOMEM;

	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	sp->p = p;
	if (format(sp->path, sizeof(sp->path), "sys/devices/virtual/%s/%s", class, name) < 0 ||
	    format(class_path, sizeof(class_path), "sys/class/%s", class) < 0) {
		ret = -ENAMETOOLONG;
		goto err_free;
	}
	sp->dir = parent_dir_new(p, sp->path);
	if (!sp->dir)
		goto err_free;
	sp->class_link = link_new(name, class_path, sp->path);
	spare_virtual = dir_new(class);
	spare_class = dir_new(class);
	if (!sp->class_link || !spare_virtual || !spare_class)
		goto err_put;

	/* step 2 (but the mdev_bus link): one tree update */
	umdev__rwlock_wrlock(&fs->tree_lock);
	virtual = umdev__sysfs_lookup(fs, "sys/devices/virtual");
	classes = umdev__sysfs_lookup(fs, "sys/class");
	vclass = dir_find(virtual, class, strlen(class));
	cclass = dir_find(classes, class, strlen(class));
	if ((vclass && (!S_ISDIR(vclass->mode) || dir_find(vclass, name, strlen(name)))) ||
	    (cclass && (!S_ISDIR(cclass->mode) || dir_find(cclass, name, strlen(name))))) {
		umdev__rwlock_unlock(&fs->tree_lock);
		ret = -EEXIST; /* the core keeps names unique; a clash here is a bad class name */
		goto err_put;
	}
	sp->virtual_class = class_dir_get(fs, virtual, class, spare_virtual);
	sp->class_dir = class_dir_get(fs, classes, class, spare_class);
	attach(fs, sp->virtual_class, sp->dir);
	attach(fs, sp->class_dir, sp->class_link);
	umdev_list_add_tail(&fs->parents, &sp->link);
	umdev__rwlock_unlock(&fs->tree_lock);
	return 0;

err_put:
	umdev__sysfs_node_put(spare_class);
	umdev__sysfs_node_put(spare_virtual);
	umdev__sysfs_node_put(sp->class_link);
	umdev__sysfs_node_put(sp->dir); /* puts the type files' parent references */
err_free:
	free(sp);
	umdev_log(UMDEV_LOG_DEBUG, "parent '%s': cannot publish: %s", name, strerror(-ret));
	return ret;
}

static int parent_publish_bus_link(void *opaque, struct umdev__parent *p)
{
	struct umdev_sysfs *fs = opaque;
	const char *name = umdev__parent_name(p);
	struct sysfs_node *bus, *n;
	struct sysfs_parent *sp;
	int ret = 0;

	umdev__rwlock_rdlock(&fs->tree_lock);
	sp = parent_find(fs, p);
	n = sp ? link_new(name, "sys/class/mdev_bus", sp->path) : NULL;
	umdev__rwlock_unlock(&fs->tree_lock);
	if (!sp)
		return -ENOENT; /* not published: a core bug */
	if (!n)
		return -ENOMEM;

	umdev__rwlock_wrlock(&fs->tree_lock);
	bus = umdev__sysfs_lookup(fs, "sys/class/mdev_bus");
	if (dir_find(bus, name, strlen(name))) {
		ret = -EEXIST;
	} else {
		attach(fs, bus, n);
		sp->bus_link = n;
	}
	umdev__rwlock_unlock(&fs->tree_lock);
	if (ret < 0)
		umdev__sysfs_node_put(n);
	return ret;
}

static void parent_unpublish_bus_link(void *opaque, struct umdev__parent *p)
{
	struct umdev_sysfs *fs = opaque;
	struct sysfs_parent *sp;
	struct sysfs_node *n = NULL;

	umdev__rwlock_wrlock(&fs->tree_lock);
	sp = parent_find(fs, p);
	if (sp && sp->bus_link) {
		n = sp->bus_link;
		sp->bus_link = NULL;
		detach(fs, n);
	}
	umdev__rwlock_unlock(&fs->tree_lock);
	umdev__sysfs_node_put(n);
}

static void parent_unpublish(void *opaque, struct umdev__parent *p)
{
	struct umdev_sysfs *fs = opaque;
	struct sysfs_node *gone[5] = {NULL};
	struct sysfs_parent *sp;

	umdev__rwlock_wrlock(&fs->tree_lock);
	sp = parent_find(fs, p);
	if (sp) {
		umdev_list_del(&sp->link);
		if (sp->bus_link) { /* normally gone already (§4.4 step 2) */
			detach(fs, sp->bus_link);
			gone[0] = sp->bus_link;
		}
		detach(fs, sp->dir);
		detach(fs, sp->class_link);
		gone[1] = sp->dir;
		gone[2] = sp->class_link;
		if (class_dir_put(fs, sp->virtual_class))
			gone[3] = sp->virtual_class;
		if (class_dir_put(fs, sp->class_dir))
			gone[4] = sp->class_dir;
	}
	umdev__rwlock_unlock(&fs->tree_lock);
	/* outside tree_lock: the type files' last puts drop core parent references */
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		umdev__sysfs_node_put(gone[i]);
	free(sp);
}

/* ---- mdevs (C8, C9, R3) ---- */

/* The device's attribute groups (§6.4 "vendor dev_groups"); 0, -ENOMEM or -EEXIST. */
static int dev_groups_add(struct sysfs_node *dev, struct umdev_mdev *mdev)
{
	const struct umdev_attr_group *const *groups = umdev__mdev_dev_groups(mdev);

	for (size_t g = 0; groups && groups[g]; g++) {
		const struct umdev_attr_group *grp = groups[g];
		struct sysfs_node *dir = dev;

		if (grp->name) {
			if (dir_find(dev, grp->name, strlen(grp->name)))
				return -EEXIST;
			dir = add(dev, dir_new(grp->name));
			if (!dir)
				return -ENOMEM;
		}
		for (size_t i = 0; grp->attrs && grp->attrs[i]; i++) {
			const struct umdev_attr *a = grp->attrs[i];
			struct sysfs_node *n;

			if (grp->is_visible && !grp->is_visible(mdev, a))
				continue; /* absent for this mdev (the kernel's is_visible) */
			if (!a->name || strchr(a->name, '/') ||
			    dir_find(dir, a->name, strlen(a->name)))
				return -EEXIST;
			n = umdev__sysfs_node_new(a->name, S_IFREG | (a->mode & 0777));
			if (!n)
				return -ENOMEM;
			if (a->mode & UMDEV_ATTR_BIN) {
				/* a->mode is where the driver said a is a struct umdev_bin_attr */
				n->bin = umdev_container_of(a, const struct umdev_bin_attr, attr);
				n->bin_size = n->bin->size;
				n->ops = &umdev__sysfs_dev_bin_ops;
				n->mode &= ~(mode_t)0222; /* read-only, whatever the mode says */
				n->readable = (a->mode & 0444) && n->bin->read;
			} else {
				n->ops = &umdev__sysfs_dev_attr_ops;
				n->readable = (a->mode & 0444) && a->show;
				n->writable = (a->mode & 0222) && a->store;
			}
			memcpy(n->uuid, *umdev_mdev_uuid(mdev), sizeof(uuid_t));
			n->serial = umdev__mdev_serial(mdev);
			n->attr = a;
			dir_add(dir, n);
		}
	}
	return 0;
}

/* The device directory (§6.4) at @path; not attached. */
static int dev_dir_new(struct umdev_mdev *mdev, const char *path, const char *type_path,
		       const char *uuid_str, struct sysfs_node **ret_dir)
{
	const char *drv =
	    umdev__parent_driver_name(umdev__type_parent(umdev__mdev_core_type(mdev)));
	unsigned int vfio = umdev_mdev_vfio_index(mdev);
	char to[PATH_LEN], vfio_name[32], vfio_path[PATH_LEN];
	struct sysfs_node *d, *remove, *vdir, *vn;
	int ret = -ENOMEM;

	d = dir_new(uuid_str);
	if (!d)
		return -ENOMEM;
	remove = file_new("remove", 0200, &umdev__sysfs_remove_ops);
	if (!remove)
		goto err_put;
	memcpy(remove->uuid, *umdev_mdev_uuid(mdev), sizeof(uuid_t));
	remove->serial = umdev__mdev_serial(mdev);
	dir_add(d, remove);
	(void)format(vfio_name, sizeof(vfio_name), "vfio%u", vfio);
	if (format(vfio_path, sizeof(vfio_path), "%s/vfio-dev/%s", path, vfio_name) < 0)
		goto err_put;
	if (!add(d, link_new("mdev_type", path, type_path)))
		goto err_put;
	(void)format(to, sizeof(to), "sys/bus/mdev/drivers/%s", drv);
	if (!add(d, link_new("driver", path, to)) ||
	    !add(d, link_new("subsystem", path, "sys/bus/mdev")) ||
	    !add(d, fixed_file_new("uevent", "DRIVER=%s\n", drv)))
		goto err_put;
	(void)format(to, sizeof(to), "sys/kernel/iommu_groups/%u", umdev__mdev_iommu_group(mdev));
	if (!add(d, link_new("iommu_group", path, to)) || !(vdir = add(d, dir_new("vfio-dev"))) ||
	    !(vn = add(vdir, dir_new(vfio_name))) ||
	    !add(vn, fixed_file_new("uevent", "DEVNAME=vfio/devices/%s\n", vfio_name)) ||
	    !add(vn, link_new("device", vfio_path, path)) ||
	    !add(vn, link_new("subsystem", vfio_path, "sys/class/vfio-dev")))
		goto err_put;
	ret = dev_groups_add(d, mdev);
	if (ret < 0)
		goto err_put;
	*ret_dir = d;
	return 0;

err_put:
	umdev__sysfs_node_put(d);
	return ret;
}

static void mdev_nodes_free(struct mdev_nodes *set)
{
	for (int i = 0; i < NR_PIECES; i++)
		umdev__sysfs_node_put(set->piece[i].node);
	free(set);
}

static int mdev_prepare(void *opaque, struct umdev_mdev *mdev, void **ret_nodes)
{
	struct umdev__type *t = umdev__mdev_core_type(mdev);
	struct umdev__parent *p = umdev__type_parent(t);
	const char *class = umdev__parent_class(p), *pname = umdev__parent_name(p);
	const char *drv = umdev__parent_driver_name(p);
	unsigned int group = umdev__mdev_iommu_group(mdev);
	char uuid_str[UUID_STR_LEN], path[PATH_LEN], type_path[PATH_LEN], vfio_path[PATH_LEN];
	char group_dir[PATH_LEN - 16], name[32];
	struct sysfs_node *gdir, *devices;
	struct mdev_piece *pc;
	struct mdev_nodes *set;
	int ret = -ENAMETOOLONG;

	(void)opaque;
	set = calloc(1, sizeof(*set));
	if (!set)
		return -ENOMEM;
	pc = set->piece;
	uuid_unparse_lower(*umdev_mdev_uuid(mdev), uuid_str); /* always lower case (M-16) */
	if (format(pc[PIECE_DEV_DIR].dir, PATH_LEN, "sys/devices/virtual/%s/%s", class, pname) <
		0 ||
	    format(path, sizeof(path), "%s/%s", pc[PIECE_DEV_DIR].dir, uuid_str) < 0 ||
	    format(type_path, sizeof(type_path), "%s/mdev_supported_types/%s",
		   pc[PIECE_DEV_DIR].dir, umdev__type_id(t)) < 0 ||
	    format(pc[PIECE_TYPE_LINK].dir, PATH_LEN, "%s/devices", type_path) < 0 ||
	    format(pc[PIECE_DRV_LINK].dir, PATH_LEN, "sys/bus/mdev/drivers/%s", drv) < 0 ||
	    format(group_dir, sizeof(group_dir), "sys/kernel/iommu_groups/%u", group) < 0)
		goto err_free;
	strcpy(pc[PIECE_BUS_LINK].dir, "sys/bus/mdev/devices");
	strcpy(pc[PIECE_GROUP_DIR].dir, "sys/kernel/iommu_groups");
	strcpy(pc[PIECE_VFIO_LINK].dir, "sys/class/vfio-dev");

	ret = dev_dir_new(mdev, path, type_path, uuid_str, &pc[PIECE_DEV_DIR].node);
	if (ret < 0)
		goto err_free;
	ret = -ENOMEM;
	pc[PIECE_BUS_LINK].node = link_new(uuid_str, pc[PIECE_BUS_LINK].dir, path);
	pc[PIECE_TYPE_LINK].node = link_new(uuid_str, pc[PIECE_TYPE_LINK].dir, path);
	pc[PIECE_DRV_LINK].node = link_new(uuid_str, pc[PIECE_DRV_LINK].dir, path);
	(void)format(name, sizeof(name), "%u", group);
	gdir = pc[PIECE_GROUP_DIR].node = dir_new(name);
	(void)format(name, sizeof(name), "vfio%u", umdev_mdev_vfio_index(mdev));
	(void)format(vfio_path, sizeof(vfio_path), "%s/vfio-dev/%s", path, name);
	pc[PIECE_VFIO_LINK].node = link_new(name, pc[PIECE_VFIO_LINK].dir, vfio_path);
	for (int i = 0; i < NR_PIECES; i++) {
		if (!pc[i].node)
			goto err_free;
	}
	/* sys/kernel/iommu_groups/<G>/devices/<uuid> links back to the device (M-49) */
	strcat(group_dir, "/devices");
	devices = add(gdir, dir_new("devices"));
	if (!devices || !add(devices, link_new(uuid_str, group_dir, path)))
		goto err_free;
	*ret_nodes = set;
	return 0;

err_free:
	mdev_nodes_free(set);
	umdev_log(UMDEV_LOG_DEBUG, "mdev %s: cannot build its nodes: %s", uuid_str, strerror(-ret));
	return ret;
}

static void mdev_publish(void *opaque, struct umdev_mdev *mdev, void *nodes)
{
	struct umdev_sysfs *fs = opaque;
	struct mdev_nodes *set = nodes;

	/* C9: every piece in one tree update (I-2, M-57) */
	umdev__rwlock_wrlock(&fs->tree_lock);
	for (int i = 0; i < NR_PIECES; i++) {
		struct mdev_piece *pc = &set->piece[i];
		struct sysfs_node *dir = umdev__sysfs_lookup(fs, pc->dir);

		if (!dir || !S_ISDIR(dir->mode) ||
		    dir_find(dir, pc->node->name, strlen(pc->node->name))) {
			/* cannot happen while names are unique; never fail C9 */
			umdev_log(UMDEV_LOG_ERR, "mdev %s: cannot publish %s/%s, ignoring",
				  set->piece[PIECE_BUS_LINK].node->name, pc->dir, pc->node->name);
			continue;
		}
		attach(fs, dir, pc->node);
		pc->attached = true;
	}
	umdev__rwlock_unlock(&fs->tree_lock);
	(void)mdev;
}

static void mdev_unpublish(void *opaque, struct umdev_mdev *mdev, void *nodes)
{
	struct umdev_sysfs *fs = opaque;
	struct mdev_nodes *set = nodes;

	/* R3: one tree update; open handles on these nodes turn stale (ENODEV) */
	umdev__rwlock_wrlock(&fs->tree_lock);
	for (int i = 0; i < NR_PIECES; i++) {
		if (set->piece[i].attached)
			detach(fs, set->piece[i].node);
		set->piece[i].attached = false;
	}
	umdev__rwlock_unlock(&fs->tree_lock);
	mdev_nodes_free(set);
	(void)mdev;
}

const struct umdev_tree_hooks umdev__sysfs_tree_hooks = {
    .driver_publish = driver_publish,
    .driver_unpublish = driver_unpublish,
    .parent_publish = parent_publish,
    .parent_publish_bus_link = parent_publish_bus_link,
    .parent_unpublish_bus_link = parent_unpublish_bus_link,
    .parent_unpublish = parent_unpublish,
    .mdev_prepare = mdev_prepare,
    .mdev_publish = mdev_publish,
    .mdev_unpublish = mdev_unpublish,
};
