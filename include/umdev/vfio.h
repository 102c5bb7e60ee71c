/* SPDX-License-Identifier: MIT */
/*
 * umdev/vfio.h - the vfio device model of an mdev (vfio-user.md §10): the callbacks a driver
 * gives in struct umdev_driver.vfio_ops, DMA to guest memory, and interrupts.
 *
 * The kernel's counterpart is include/linux/vfio.h (struct vfio_device_ops, vfio_dma_rw(),
 * eventfd signalling); the device is served to the VMM over vfio-user as vfioN (vfio-user.md
 * §3). A PCI driver declares its config space, BARs and MSI with umdev/pci.h. Errors are
 * negative errno values; every function is thread-safe unless it says otherwise.
 */
#ifndef UMDEV_VFIO_H
#define UMDEV_VFIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "umdev/mdev.h"

#ifdef __cplusplus
extern "C" {
#endif

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
 * is assigned (§9.4). Callable from any driver context; never blocks. The PCI helper offers
 * the ERR irq with count 0 (§8.7), so today no client can assign one and this signals nothing
 * (QEMU then warns that it cannot enable error recovery).
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

#ifdef __cplusplus
}
#endif

#endif /* UMDEV_VFIO_H */
