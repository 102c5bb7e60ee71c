/* SPDX-License-Identifier: MIT */
/*
 * umdev/mdev.h - the mdev core's public API: what a vendor driver uses to register an mdev
 * driver and its parents, and what umdevd uses to create and remove mdevs.
 *
 * Mirrors the kernel's include/linux/mdev.h with a `umdev_` prefix. Contract: mdev.md §5
 * (../shared/spec/mdev.md); sequences §4. Errors are negative errno values. Every function
 * here is thread-safe unless it says otherwise.
 */
#ifndef UMDEV_MDEV_H
#define UMDEV_MDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uuid/uuid.h>

#ifdef __cplusplus
extern "C" {
#endif

struct umdev_mdev; /* an mdev device; opaque, owned by the core */
struct umdev_vfio_ops; /* vfio-user.md §10.3; defined by the vfio module */
struct umdev__parent; /* core-private */
struct umdev__type; /* core-private */

/** Largest sysfs_name of an mdev type, in bytes without the NUL (mdev.md §5.1). */
#define UMDEV_TYPE_NAME_MAX 64
/** Largest parent name or class, in bytes without the NUL. */
#define UMDEV_PARENT_NAME_MAX 64
/** Size of the buffer handed to show callbacks, in bytes (one page, as sysfs). */
#define UMDEV_ATTR_BUF_SIZE 4096

/**
 * struct umdev_type - an mdev type a parent offers (kernel: struct mdev_type).
 *
 * The driver fills the first group and zero-initialises the rest. The type id shown in sysfs
 * is "<driver name>-<sysfs_name>" (mdev.md §1). Vendor memory: it must stay valid until
 * umdev_unregister_parent() returns; the core does not touch it afterwards.
 */
struct umdev_type {
	/* set by the driver */
	const char *sysfs_name; /* required; [A-Za-z0-9_.:+-], 1..64 bytes */
	const char *pretty_name; /* optional; the `name` file falls back to sysfs_name */

	/* set by the core at registration; private */
	struct umdev__type *core;
};

/**
 * struct umdev_parent - a device able to host mdevs (kernel: struct mdev_parent).
 *
 * Embedded in the vendor's own state; the vendor fills nothing. Valid from
 * umdev_register_parent() until umdev_unregister_parent() returns.
 */
struct umdev_parent {
	/* set by the core; private */
	struct umdev__parent *core;
};

/**
 * struct umdev_attr - one device attribute file (kernel: struct device_attribute).
 * @name: file name; no '/'.
 * @mode: 0444, 0200 or 0644. A read bit needs @show, a write bit needs @store (mdev.md §6.1).
 * @show: fill @buf (UMDEV_ATTR_BUF_SIZE bytes) and return the byte count, or a negative errno
 *	returned to the reader. Called with a reference on an ACTIVE mdev, no core lock held.
 * @store: one write(2) of @len bytes (1..4096). Return @len (or fewer: a short write) or a
 *	negative errno returned to the writer. Never called for an mdev that is not ACTIVE (M-81).
 */
struct umdev_attr {
	const char *name;
	unsigned int mode;
	ssize_t (*show)(struct umdev_mdev *mdev, char *buf, size_t len);
	ssize_t (*store)(struct umdev_mdev *mdev, const char *buf, size_t len);
};

/**
 * struct umdev_attr_group - device attributes, optionally in a subdirectory.
 * @name: subdirectory of the mdev directory, or NULL for the mdev directory itself.
 * @attrs: NULL-terminated array.
 * @is_visible: optional (kernel: attribute_group.is_visible). Called once per attribute when
 *	the mdev's nodes are built (create step C8, after probe succeeded, no core lock held);
 *	false leaves that attribute out of this mdev's directory. NULL: every attribute exists.
 */
struct umdev_attr_group {
	const char *name;
	const struct umdev_attr *const *attrs;
	bool (*is_visible)(struct umdev_mdev *mdev, const struct umdev_attr *attr);
};

/**
 * struct umdev_driver - the mdev driver bound to every mdev of its parents
 * (kernel: struct mdev_driver). Vendor memory; must outlive every parent that uses it.
 * Callback contract: mdev.md §5.3. No core lock is held during any callback (M-78).
 */
struct umdev_driver {
	/* set by the driver */
	const char *name; /* required; unique; /sys/bus/mdev/drivers/<name> */
	const char *device_api; /* required; e.g. "vfio-pci" */
	/*
	 * Core-managed accounting when get_available is NULL: one counter per parent shared by
	 * all its types (mdev.md §4.5); create fails -EUSERS at 0.
	 */
	unsigned int max_instances;
	/* C6: set up per-device state; 0 or -errno, leaving nothing behind on error */
	int (*probe)(struct umdev_mdev *mdev);
	/* R5: free what probe built; may sleep; never calls umdev_unregister_parent() */
	void (*remove)(struct umdev_mdev *mdev);
	/* driver-managed accounting: capacity of @type now; cheap, never blocks */
	unsigned int (*get_available)(struct umdev_type *type);
	/* `description` file (absent when NULL): at most @len bytes, returns count or -errno */
	ssize_t (*show_description)(struct umdev_type *type, char *buf, size_t len);
	/* NULL-terminated; published with the mdev and unpublished at remove */
	const struct umdev_attr_group *const *dev_groups;
	/* vfio-user.md §10.3; NULL for a driver without a vfio device model */
	const struct umdev_vfio_ops *vfio_ops;

	/* set by the core; private */
	unsigned int nr_parents; /* under driver_lock: registered parents using this driver */
	bool registered; /* under driver_lock */
};

/**
 * umdev_register_driver() - make an mdev driver available to parents.
 * @drv: the driver; borrowed, must stay valid until umdev_unregister_driver() succeeds.
 *
 * Makes /sys/bus/mdev/drivers/<name>/ appear. Source: mdev.md §5.2.
 *
 * Return: 0, -EINVAL no @name, no @device_api or no @probe, or a bad name (empty, '/', over
 * 64 bytes) (M-9); -EEXIST a driver of that name is registered (M-9); -ENOMEM.
 */
int umdev_register_driver(struct umdev_driver *drv);

/**
 * umdev_unregister_driver() - withdraw a driver registered with umdev_register_driver().
 * @drv: the driver.
 *
 * Return: 0; -EBUSY a registered parent still uses it (M-13); -ENOENT not registered.
 */
int umdev_unregister_driver(struct umdev_driver *drv);

/**
 * umdev_register_parent() - register a parent and its mdev types (kernel:
 * mdev_register_parent()).
 * @parent: vendor storage, zero-initialised; borrowed until umdev_unregister_parent().
 * @name: parent name (the directory basename and the /sys/class/mdev_bus link); copied.
 * @class: directory under /sys/devices/virtual and /sys/class; NULL means @drv->name; copied.
 * @drv: a registered driver; borrowed.
 * @types: @nr pointers to vendor types; borrowed until umdev_unregister_parent() returns.
 * @nr: number of types, at least 1.
 *
 * Publishes the parent's tree in the order of mdev.md §4.3, the mdev_bus link last (I-8);
 * on failure nothing of the parent is visible.
 *
 * Return: 0, -EINVAL @nr is 0, a bad or duplicate sysfs_name, @drv not registered, a bad
 * @name or @class (M-10); -EEXIST a parent of that name is registered (M-11); -ENOMEM; or the
 * sysfs layer's errno.
 */
int umdev_register_parent(struct umdev_parent *parent, const char *name, const char *class,
			  struct umdev_driver *drv, struct umdev_type **types, unsigned int nr);

/**
 * umdev_unregister_parent() - remove every mdev of @parent and unregister it.
 * @parent: a registered parent.
 *
 * Blocks until in-flight creates and removes on @parent finished, then removes the remaining
 * mdevs (vendor remove is called for each), and unpublishes the parent (mdev.md §4.4). Creates
 * and removes on @parent that start after it began fail -ENODEV (M-59). On return no callback
 * for @parent runs or will run and the vendor may free @parent and its types (M-80). Must not
 * be called from the driver's remove callback or while holding a lock that callback takes.
 */
void umdev_unregister_parent(struct umdev_parent *parent);

/**
 * umdev_mdev_create() - create the mdev @uuid of mdev type @type.
 * @type: an mdev type of a registered parent; borrowed.
 * @uuid: name of the new mdev; copied.
 *
 * Runs steps C2-C9 of mdev.md §4.1. On success the mdev is ACTIVE and published with all its
 * nodes and the driver's probe has returned 0. Waits on no other create or remove; creates on
 * different parents and on one parent run in parallel (M-50, M-51).
 *
 * Return: 0, or a negative errno after which nothing of the attempt is observable:
 * -EEXIST @uuid names an mdev on any parent (M-20); -EUSERS core-managed and no instance left
 * (M-27); -ENOMEM; -ENODEV the parent is unregistering (M-59); else probe's errno unchanged
 * (M-29), -EIO for a probe result that is not an errno (M-31), or the vfio layer's errno (M-32).
 */
int umdev_mdev_create(struct umdev_type *type, const uuid_t *uuid);

/**
 * umdev_mdev_remove() - remove the mdev @uuid (mdev.md §4.2, R1-R6).
 * @uuid: the mdev's UUID.
 *
 * Returns when the mdev is GONE: the UUID is free, available_instances restored, vfioN free.
 *
 * Return: 0; -ENODEV no such mdev or its parent is unregistering (M-44); -EAGAIN the mdev is
 * being created or removed by another thread (M-42).
 */
int umdev_mdev_remove(const uuid_t *uuid);

/**
 * umdev_mdev_get() - look up an ACTIVE mdev and take a reference on it.
 * @uuid: the UUID.
 *
 * Return: the mdev, or NULL when no mdev of that UUID is ACTIVE. Drop with umdev_mdev_put().
 */
struct umdev_mdev *umdev_mdev_get(const uuid_t *uuid);

/**
 * umdev_mdev_put() - drop a reference taken by umdev_mdev_get(). NULL is a no-op.
 */
void umdev_mdev_put(struct umdev_mdev *mdev);

/*
 * Accessors, valid from probe entry until remove returns (mdev.md §5.2), and for a holder of a
 * reference. None fails.
 */
const uuid_t *umdev_mdev_uuid(const struct umdev_mdev *mdev);
/** The mdev's type, as the vendor registered it. */
struct umdev_type *umdev_mdev_type(const struct umdev_mdev *mdev);
/** The parent a type belongs to, as the vendor registered it. */
struct umdev_parent *umdev_type_parent(const struct umdev_type *type);
/** Driver-private pointer of an mdev; NULL until set. Not synchronised by the core. */
void umdev_mdev_set_drvdata(struct umdev_mdev *mdev, void *data);
void *umdev_mdev_get_drvdata(const struct umdev_mdev *mdev);
/** The vfio device number N of vfioN; valid once create step C7 has succeeded. */
unsigned int umdev_mdev_vfio_index(const struct umdev_mdev *mdev);

/* ======== vfio device model (vfio-user.md §10) ======== */

/** Size of conventional PCI configuration space (region 7), in bytes (vfio-user.md §9.1). */
#define UMDEV_PCI_CONFIG_SIZE 256

/* Flags of umdev_pci_set_bar(). */
#define UMDEV_PCI_BAR_IO 0x1 /* I/O BAR (else a memory BAR) */
#define UMDEV_PCI_BAR_MEM64 0x2 /* 64-bit memory BAR: uses the next BAR as its upper dword */
#define UMDEV_PCI_BAR_PREFETCH 0x4 /* prefetchable memory BAR */
#define UMDEV_PCI_BAR_READONLY 0x8 /* the region refuses REGION_WRITE (flags READ only) */

/* Flags of umdev_pci_add_msi(). */
#define UMDEV_PCI_MSI_64BIT 0x1 /* 64-bit message address */
#define UMDEV_PCI_MSI_MASKABLE 0x2 /* per-vector masking (mask and pending registers) */

/**
 * enum umdev_irq_action - what a SET_IRQS did (vfio-user.md §8.8), as told to the set_irqs
 * callback, so a driver can tell a new eventfd from a loop-back trigger.
 * @UMDEV_IRQ_ASSIGNED: trigger eventfds were assigned to the vectors (old ones replaced).
 * @UMDEV_IRQ_RELEASED: the vectors' trigger eventfds were de-assigned (for the count-0 form:
 *	every vector of the index, and for INTx the unmask eventfd too).
 * @UMDEV_IRQ_SIGNALLED: loop-back trigger (DATA_NONE, or DATA_BOOL true): the server has
 *	already signalled the vectors' eventfds itself; the driver must not signal them again.
 * @UMDEV_IRQ_MASKED: INTx was masked.
 * @UMDEV_IRQ_UNMASKED: INTx was unmasked; the server has re-evaluated the line (§9.4).
 * @UMDEV_IRQ_UNMASK_EVENTFD: the INTx unmask eventfd was assigned or de-assigned.
 */
enum umdev_irq_action {
	UMDEV_IRQ_ASSIGNED = 1,
	UMDEV_IRQ_RELEASED,
	UMDEV_IRQ_SIGNALLED,
	UMDEV_IRQ_MASKED,
	UMDEV_IRQ_UNMASKED,
	UMDEV_IRQ_UNMASK_EVENTFD,
};

/**
 * struct umdev_vfio_ops - a driver's vfio device callbacks (the `vfio_ops` of struct
 * umdev_driver; vfio-user.md §10.3).
 *
 * The server calls them serialised per device (never two at once for one device, §5 C7), with
 * no core or server lock held (M-78), from the device's server thread. All are optional except
 * @region_read and @region_write when a BAR has a non-zero size. Inside any of them a
 * message-based DMA transfer fails with -EDEADLK (§10.1).
 *
 * @region_read: REGION_READ of @count bytes (1..1048576) at @offset of BAR region @index (0-5),
 *	already checked against the region's size (§8.9). Return @count or a negative errno; a
 *	short count becomes EIO.
 * @region_write: the same for REGION_WRITE and each entry of REGION_WRITE_MULTI.
 * @config_write: after the core PCI helper applied a config write of @count bytes at @offset
 *	(§9.3); read the new values with umdev_pci_config_get(). Cannot fail.
 * @set_irqs: after a SET_IRQS on irq index @index (VFIO_PCI_*_IRQ_INDEX) changed something:
 *	@action on the vectors [@start, @start + @count) (INTx: 0 and 1). E.g. mtty signals an
 *	MSI vector that is ASSIGNED while its interrupt is pending (mtty.md §7.4), and nothing
 *	for SIGNALLED. Not called for a SET_IRQS that fails, nor for MASK/UNMASK with a false
 *	DATA_BOOL byte (nothing changes).
 * @reset: at DEVICE_RESET and at session teardown, after config space was restored to its
 *	power-on values. Return 0 or a negative errno (sent as the reply's errno).
 * @open_device: when VERSION succeeded, before its reply; a negative errno is sent as the
 *	VERSION error reply and the connection is closed.
 * @close_device: after a session's teardown (only if @open_device succeeded).
 * @dma_map_notify: after a DMA mapping [@iova, @iova + @size) was added (@mapped true), or
 *	before the reply of the DMA_UNMAP that removes it (@mapped false).
 * @save: migration image; not called by the server in this version.
 * @restore: migration image; not called by the server in this version.
 */
struct umdev_vfio_ops {
	ssize_t (*region_read)(struct umdev_mdev *mdev, unsigned int index, uint64_t offset,
			       void *buf, size_t count);
	ssize_t (*region_write)(struct umdev_mdev *mdev, unsigned int index, uint64_t offset,
				const void *buf, size_t count);
	void (*config_write)(struct umdev_mdev *mdev, unsigned int offset, unsigned int count);
	void (*set_irqs)(struct umdev_mdev *mdev, unsigned int index, unsigned int start,
			 unsigned int count, enum umdev_irq_action action);
	int (*reset)(struct umdev_mdev *mdev);
	int (*open_device)(struct umdev_mdev *mdev);
	void (*close_device)(struct umdev_mdev *mdev);
	void (*dma_map_notify)(struct umdev_mdev *mdev, uint64_t iova, uint64_t size, bool mapped);
	ssize_t (*save)(struct umdev_mdev *mdev, void *buf, size_t len);
	int (*restore)(struct umdev_mdev *mdev, const void *buf, size_t len);
};

/**
 * umdev_pci_init() - start the PCI device model of @mdev (vfio-user.md §9, §10.3).
 * @mdev: the mdev being probed.
 * @vendor_id: PCI vendor ID (config 0x00), also the default subsystem vendor ID (0x2C).
 * @device_id: PCI device ID (config 0x02), also the default subsystem ID (0x2E).
 * @class_code: 24-bit class code: base class << 16 | subclass << 8 | programming interface.
 * @revision: revision ID (config 0x08).
 *
 * Call from probe, before the other umdev_pci_* declaration functions. Sets the helper's
 * defaults of §9.3 (Command mask 0x0547, Status RW1C bits, no BARs, no interrupt pin, no
 * capability). A driver with vfio_ops that never calls it fails create step C7 with -EINVAL.
 * Calling it again starts over. A probe that fails after it must call umdev_pci_fini().
 * Thread-safe.
 *
 * Return: 0; -EINVAL @mdev NULL or @class_code above 24 bits; -EBUSY create step C7 already
 * ran for @mdev; -ENOMEM.
 */
int umdev_pci_init(struct umdev_mdev *mdev, uint16_t vendor_id, uint16_t device_id,
		   uint32_t class_code, uint8_t revision);

/**
 * umdev_pci_fini() - withdraw the device model umdev_pci_init() declared for @mdev.
 * @mdev: the mdev; NULL is a no-op.
 *
 * The pair of umdev_pci_init(), as the kernel's vfio_uninit_group_dev() is of
 * vfio_init_group_dev(): call it on probe's error path once umdev_pci_init() succeeded (a
 * failed probe reaches no vfio hook of the core, so only the driver can say that the
 * declaration is dead), and in remove. Before create step C7 it frees the declaration; from C7
 * on the declaration belongs to the vfio device, which remove step R4 frees, and this does
 * nothing. Calling it twice, or without umdev_pci_init(), does nothing. Thread-safe; never
 * blocks for long. Source: vfio-user.md §10.3.
 */
void umdev_pci_fini(struct umdev_mdev *mdev);

/**
 * umdev_pci_set_bar() - declare BAR @bar of @mdev, i.e. vfio region @bar (§9.1, §9.3).
 * @mdev: the mdev being probed, after umdev_pci_init().
 * @bar: 0-5; a 64-bit BAR also takes @bar + 1 (which then must be free and < 6).
 * @size: bytes; 0 removes the BAR; else a power of two, at least 4 for I/O and 16 for memory,
 *	at most 2^31 unless UMDEV_PCI_BAR_MEM64.
 * @flags: UMDEV_PCI_BAR_* bits.
 *
 * The BAR register's power-on value is its type bits; its writable mask is ~(@size - 1), so
 * writing 0xFFFFFFFF reads back the size (the sizing protocol).
 *
 * Return: 0; -EINVAL a bad @bar, @size or @flags, or no umdev_pci_init(); -EBUSY after C7.
 */
int umdev_pci_set_bar(struct umdev_mdev *mdev, unsigned int bar, uint64_t size, unsigned int flags);

/**
 * umdev_pci_region_mmap() - make part of BAR @index of @mdev mmap-able by the client: one
 * sparse-mmap area backed by @fd (vfio-user.md §8.5).
 * @mdev: the mdev being probed, after umdev_pci_set_bar() declared memory BAR @index.
 * @index: 0-5, a memory BAR (not UMDEV_PCI_BAR_IO).
 * @fd: a shareable fd (e.g. a memfd) mapping the whole region: region offset X is file offset X
 *	(the REGION_INFO offset is 0). Borrowed: umdev keeps its own dup (F_DUPFD_CLOEXEC), closed
 *	when remove step R4 (or a failed create) frees the vfio device; the caller keeps and may
 *	close @fd at once. -1 removes the area.
 * @offset: start of the area in the region; a multiple of 4096.
 * @size: bytes; a multiple of 4096, non-zero, @offset + @size <= the BAR size.
 *
 * REGION_INFO on @index then reports MMAP, and a complete reply (argsz >= 64) carries CAPS, the
 * sparse-mmap capability at cap_offset 32 listing the area, and one dup of the fd. A client with
 * max_msg_fds 0 sees no MMAP. Accesses through REGION_READ/WRITE still go to the driver's
 * callbacks; keeping the fd's contents and those callbacks coherent is the driver's business.
 * A second call replaces the area.
 *
 * Return: 0; -EINVAL bad arguments, not a declared memory BAR or no umdev_pci_init(); -EBUSY
 * after C7; -EMFILE etc. from dup.
 */
int umdev_pci_region_mmap(struct umdev_mdev *mdev, unsigned int index, int fd, uint64_t offset,
			  uint64_t size);

/**
 * umdev_pci_set_intx() - give @mdev an interrupt pin (INTA#, config 0x3D = 1) and so an INTx
 * irq with count 1 (§8.7), or remove it (@enable false).
 *
 * Return: 0; -EINVAL no umdev_pci_init(); -EBUSY after C7.
 */
int umdev_pci_set_intx(struct umdev_mdev *mdev, bool enable);

/**
 * umdev_pci_add_msi() - add an MSI capability (ID 0x05) at config offset @offset (§9.3).
 * @mdev: the mdev being probed, after umdev_pci_init().
 * @offset: 0x40..0xF0, dword aligned, room for the capability (10, 14, 20 or 24 bytes).
 * @nr_vectors: 1, 2, 4, 8, 16 or 32; the Multiple Message Capable field and the MSI irq count.
 * @flags: UMDEV_PCI_MSI_* bits.
 *
 * The capability is linked into the capability list (pointer 0x34, Status bit 4). One MSI
 * capability per device.
 *
 * Return: 0; -EINVAL bad arguments, no umdev_pci_init() or an MSI capability already there;
 * -EBUSY after C7.
 */
int umdev_pci_add_msi(struct umdev_mdev *mdev, unsigned int offset, unsigned int nr_vectors,
		      unsigned int flags);

/**
 * umdev_pci_config_define() - set the power-on value and the writable mask of config bytes.
 * @mdev: the mdev being probed, after umdev_pci_init().
 * @offset: config offset; @offset + @size <= UMDEV_PCI_CONFIG_SIZE.
 * @size: 1, 2 or 4 bytes.
 * @value: power-on value (little-endian in config space), restored at every reset.
 * @wmask: bits the client may write; other bits keep their value on writes.
 *
 * Overrides the helper's defaults of §9.3 (e.g. mtty's Command 0x0001 with mask 0x0401).
 * Writable bits of a register with RW1C bits lose their RW1C rule. Call after umdev_pci_set_bar()
 * and umdev_pci_add_msi() for registers those set.
 *
 * Return: 0; -EINVAL bad range or no umdev_pci_init(); -EBUSY after C7.
 */
int umdev_pci_config_define(struct umdev_mdev *mdev, unsigned int offset, unsigned int size,
			    uint32_t value, uint32_t wmask);

/**
 * umdev_pci_config_get() - read @size (1, 2 or 4) bytes of @mdev's current config space.
 * @ret_value: the value, unchanged on error.
 *
 * Callable from probe (after umdev_pci_init()) until remove step R4 completed, from any
 * thread and from the driver's callbacks. Never blocks for long.
 *
 * Return: 0; -EINVAL bad range; -ENOTCONN no device model.
 */
int umdev_pci_config_get(struct umdev_mdev *mdev, unsigned int offset, unsigned int size,
			 uint32_t *ret_value);

/**
 * umdev_pci_config_set() - store @value into @size (1, 2 or 4) bytes of current config space,
 * bypassing the writable masks (e.g. to set a Status error bit, V-68). Status bit 3 stays the
 * INTx level whatever is stored. Same context rules as umdev_pci_config_get().
 *
 * Return: 0; -EINVAL bad range; -ENOTCONN no device model.
 */
int umdev_pci_config_set(struct umdev_mdev *mdev, unsigned int offset, unsigned int size,
			 uint32_t value);

/**
 * umdev_dma_read() - copy @len bytes of guest memory at IOVA @iova into @buf (§10.1).
 * @mdev: the mdev; between create step C7 and remove step R4.
 * @iova: guest DMA address; the range may span adjacent mappings.
 * @buf: driver buffer of @len bytes; borrowed.
 * @len: bytes; 0 succeeds at once.
 *
 * Copies through the mapping's file with pread(); never raises SIGBUS. Blocks at most for the
 * file I/O (fd-backed mappings) or, for a mapping without fd, for a DMA_READ round trip per
 * piece of at most the client's max_data_xfer_size, each bounded by T_dma (vfio-user.md §8.12).
 * Message transfers only from a driver-owned thread: never from a callback (-EDEADLK), and
 * never while holding a lock that a callback of the same device takes, since the device's
 * server thread must keep running to route the reply.
 *
 * Return: 0; -ENOTCONN no session; -EFAULT some byte not mapped (nothing copied), or the
 * mapping's file is shorter than the mapping; -EPERM a mapping lacks the READ flag; -EDEADLK a
 * message-based transfer from inside a server callback; -ETIMEDOUT, -EIO or the client's errno
 * for a message-based transfer (§8.12).
 */
int umdev_dma_read(struct umdev_mdev *mdev, uint64_t iova, void *buf, size_t len);

/**
 * umdev_dma_write() - copy @len bytes from @buf into guest memory at IOVA @iova (§10.1).
 *
 * As umdev_dma_read(); -EPERM when a mapping of the range lacks the WRITE flag.
 */
int umdev_dma_write(struct umdev_mdev *mdev, uint64_t iova, const void *buf, size_t len);

/**
 * umdev_intx_set_level() - set the level of @mdev's INTx line (§9.4, §10.2).
 * @mdev: the mdev; between create step C7 and remove step R4.
 * @level: true asserted.
 *
 * Always records the level (Status bit 3 follows it); signals the INTx trigger eventfd when
 * the line is asserted, an eventfd is assigned, INTx is unmasked and Command bit 10 is clear,
 * then masks INTx (automask). Callable from any driver context, callbacks included; never
 * blocks.
 *
 * Return: 0; -ENOTCONN outside C7..R4.
 */
int umdev_intx_set_level(struct umdev_mdev *mdev, bool level);

/**
 * umdev_msi_notify() - signal MSI vector @vector of @mdev (§9.4, §10.2).
 *
 * Signals the vector's trigger eventfd if one is assigned (the MSI enable bit does not gate
 * delivery); with per-vector masking a masked vector sets its pending bit instead. Callable
 * from any driver context; never blocks.
 *
 * Return: 0 (also when nothing is assigned); -EINVAL @vector outside the MSI count; -ENOTCONN
 * outside C7..R4.
 */
int umdev_msi_notify(struct umdev_mdev *mdev, unsigned int vector);

/**
 * umdev_err_notify() - report an unrecoverable device error: signals the ERR eventfd if one
 * is assigned (§9.4). Callable from any driver context; never blocks.
 *
 * Return: 0; -ENOTCONN outside C7..R4.
 */
int umdev_err_notify(struct umdev_mdev *mdev);

/**
 * umdev_irq_signal_count() - how many interrupt eventfd writes the server made for @mdev.
 * @mdev: the mdev; between create step C7 and remove step R4.
 * @ret_count: the count; unchanged on error.
 *
 * Counts every write to an INTx or MSI trigger eventfd (vfio-user.md §9.4): deliveries caused by
 * umdev_intx_set_level() and umdev_msi_notify(), re-signals at unmask, pending MSI vectors
 * delivered on unmask, and the client's loop-back triggers (SET_IRQS TRIGGER with DATA_NONE or
 * DATA_BOOL, §8.8). Nothing else (ERR, REQ) is counted. The count starts at 0 at C7 and is not
 * cleared by reset or disconnect: the `irq_signals` statistic of mtty.md §4.5 (T-56).
 * Callable from any driver context; never blocks.
 *
 * Return: 0; -EINVAL @ret_count NULL; -ENOTCONN outside C7..R4.
 */
int umdev_irq_signal_count(struct umdev_mdev *mdev, uint64_t *ret_count);

/* ======== end of vfio device model ======== */

#ifdef __cplusplus
}
#endif

#endif /* UMDEV_MDEV_H */
