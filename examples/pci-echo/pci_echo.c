// SPDX-License-Identifier: MIT
/*
 * pci_echo: an example umdev driver module, built outside the umdev tree against the installed
 * SDK (`pkg-config umdev`) and loaded with `umdevd --driver ./pci_echo.so:instances=N`.
 *
 * Every mdev it creates is a small PCI device with one memory BAR and one MSI vector. BAR0 is
 * 4 KiB of 32-bit little-endian registers:
 *
 *	offset	name		access	meaning
 *	0x000	SCRATCH		RW	reads back the last value written; 0 after reset
 *	0x004	DOORBELL	WO	any write raises MSI vector 0; reads as 0
 *	0x008	DOORBELLS	RO	doorbell writes since the last reset; writes ignored
 *	0x00c..	-		-	reserved: reads as 0, writes ignored
 *
 * A register is accessed whole: 4 bytes at a 4-byte aligned offset. Any other access fails
 * with EINVAL, which the client sees as the errno of its REGION_READ or REGION_WRITE.
 *
 * Threading: umdevd calls probe and remove from its own threads, and the vfio callbacks from
 * the device's server thread, one at a time per device (umdev/vfio.h). Probe returns before
 * the device is reachable and remove runs after it is gone, so a device's registers are only
 * ever touched by one thread at a time and need no lock. A driver that also touches them from
 * a thread of its own, or from a sysfs attribute, needs one.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <linux/pci_regs.h>

#include <umdev/log.h>
#include <umdev/mdev.h>
#include <umdev/module.h>
#include <umdev/pci.h>
#include <umdev/vfio.h>

/*
 * PCI IDs. 1af4:10f0..10ff is the range Red Hat, which owns vendor ID 0x1af4, keeps
 * "available for experimental usage without registration" (QEMU, docs/specs/pci-ids.rst);
 * Linux's virtio-pci driver leaves it alone (it owns 1af4:1000..107f only). A product must
 * use its own vendor's IDs instead: copy this driver, change these two numbers.
 */
#define PCI_ECHO_VENDOR_ID 0x1af4
#define PCI_ECHO_DEVICE_ID 0x10f0
#define PCI_ECHO_CLASS_CODE 0xff0000 /* base class 0xff: device does not fit any class */
#define PCI_ECHO_REVISION 0x01

/* BAR0: the register file above; not prefetchable, as DOORBELL writes must never be merged */
#define PCI_ECHO_BAR_SIZE 4096
#define PCI_ECHO_REG_SCRATCH 0x000
#define PCI_ECHO_REG_DOORBELL 0x004
#define PCI_ECHO_REG_DOORBELLS 0x008
#define PCI_ECHO_REG_SIZE 4

/* MSI: one vector, 64-bit message address, capability at the first free config offset */
#define PCI_ECHO_MSI_OFFSET 0x40
#define PCI_ECHO_MSI_VECTORS 1

/* the MSI vector a DOORBELL write raises */
#define PCI_ECHO_DOORBELL_VECTOR 0

/** Largest instances= value. */
#define PCI_ECHO_INSTANCES_MAX 64

/* Parameter: its value before loading is the default `umdevd --driver pci_echo --help` shows */
static unsigned int nr_instances = 4;

static const struct umdev_module_param pci_echo_params[] = {
    UMDEV_PARAM_UINT(instances, nr_instances, 1, PCI_ECHO_INSTANCES_MAX,
		     "how many devices the parent can host at once"),
    {0},
};

/* Per-mdev state, from probe until remove; see the file comment for why it has no lock. */
struct pci_echo_device {
	uint32_t scratch; /* SCRATCH */
	uint32_t doorbells; /* DOORBELLS */
};

/* ---- register access ---- */

/**
 * reg_access_valid() - whether a BAR0 access of @count bytes at @offset is a whole register.
 * @offset: byte offset in BAR0; umdevd has checked @offset + @count against the BAR's size.
 * @count: bytes.
 *
 * Return: true for 4 bytes at a 4-byte aligned offset.
 */
static bool reg_access_valid(uint64_t offset, size_t count)
{
	return count == PCI_ECHO_REG_SIZE && offset % PCI_ECHO_REG_SIZE == 0;
}

/**
 * get_le32() - the little-endian 32-bit value at @buf (PCI registers are little-endian
 * whatever the host's byte order).
 * @buf: 4 bytes, any alignment.
 *
 * Return: the value.
 */
static uint32_t get_le32(const void *buf)
{
	const uint8_t *b = buf;

	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/**
 * put_le32() - store @value at @buf in little-endian byte order.
 * @buf: 4 bytes, any alignment.
 * @value: the value.
 */
static void put_le32(void *buf, uint32_t value)
{
	uint8_t *b = buf;

	b[0] = (uint8_t)value;
	b[1] = (uint8_t)(value >> 8);
	b[2] = (uint8_t)(value >> 16);
	b[3] = (uint8_t)(value >> 24);
}

/* ---- vfio callbacks (umdev/vfio.h) ---- */

/**
 * pci_echo_region_read() - REGION_READ of BAR0: read one register.
 * @mdev: the mdev.
 * @index: the vfio region; only BAR0 (region 0) has a size, so umdevd sends no other.
 * @offset: byte offset in the region, checked by umdevd against its size.
 * @buf: where to put @count bytes.
 * @count: bytes to read.
 *
 * Return: @count; -EINVAL not a whole register of BAR0.
 */
static ssize_t pci_echo_region_read(struct umdev_mdev *mdev, unsigned int index, uint64_t offset,
				    void *buf, size_t count)
{
	struct pci_echo_device *dev = umdev_mdev_get_drvdata(mdev);
	uint32_t value;

	if (index != 0 || !reg_access_valid(offset, count))
		return -EINVAL;
	switch (offset) {
	case PCI_ECHO_REG_SCRATCH:
		value = dev->scratch;
		break;
	case PCI_ECHO_REG_DOORBELLS:
		value = dev->doorbells;
		break;
	default: /* DOORBELL is write-only; reserved registers read as 0 */
		value = 0;
		break;
	}
	put_le32(buf, value);
	return (ssize_t)count;
}

/**
 * pci_echo_region_write() - REGION_WRITE of BAR0: write one register.
 * @mdev: the mdev.
 * @index: the vfio region (BAR0 only, as for reads).
 * @offset: byte offset in the region, checked by umdevd against its size.
 * @buf: the @count bytes written.
 * @count: bytes to write.
 *
 * A DOORBELL write raises MSI vector 0: umdevd signals the client's eventfd for it, if the
 * client assigned one with SET_IRQS, and otherwise drops it (vfio-user.md §9.4).
 *
 * Return: @count; -EINVAL not a whole register of BAR0; or the errno of umdev_msi_notify()
 * for a doorbell, in which case DOORBELLS does not count it.
 */
static ssize_t pci_echo_region_write(struct umdev_mdev *mdev, unsigned int index, uint64_t offset,
				     const void *buf, size_t count)
{
	struct pci_echo_device *dev = umdev_mdev_get_drvdata(mdev);
	int ret;

	if (index != 0 || !reg_access_valid(offset, count))
		return -EINVAL;
	switch (offset) {
	case PCI_ECHO_REG_SCRATCH:
		dev->scratch = get_le32(buf);
		break;
	case PCI_ECHO_REG_DOORBELL:
		ret = umdev_msi_notify(mdev, PCI_ECHO_DOORBELL_VECTOR);
		if (ret < 0)
			return ret;
		dev->doorbells++; /* wraps at 2^32, as a hardware counter does */
		break;
	default: /* DOORBELLS is read-only; writes to reserved registers are ignored */
		break;
	}
	return (ssize_t)count;
}

/**
 * pci_echo_reset() - DEVICE_RESET, and the end of every client session: registers to their
 * power-on values. umdevd has already restored config space.
 * @mdev: the mdev.
 *
 * Return: 0.
 */
static int pci_echo_reset(struct umdev_mdev *mdev)
{
	struct pci_echo_device *dev = umdev_mdev_get_drvdata(mdev);

	dev->scratch = 0;
	dev->doorbells = 0;
	return 0;
}

static const struct umdev_vfio_ops pci_echo_vfio_ops = {
    .region_read = pci_echo_region_read,
    .region_write = pci_echo_region_write,
    .reset = pci_echo_reset,
};

/* ---- mdev driver (umdev/mdev.h) ---- */

/**
 * pci_declare() - declare the PCI device an mdev is: IDs, BAR0, MSI, the Command bits.
 * @mdev: the mdev being probed.
 *
 * On failure the caller undoes it with umdev_pci_fini().
 *
 * Return: 0, or the errno of the first umdev_pci_*() call that failed.
 */
static int pci_declare(struct umdev_mdev *mdev)
{
	int ret;

	ret = umdev_pci_init(mdev, PCI_ECHO_VENDOR_ID, PCI_ECHO_DEVICE_ID, PCI_ECHO_CLASS_CODE,
			     PCI_ECHO_REVISION);
	if (ret < 0)
		return ret;
	ret = umdev_pci_set_bar(mdev, 0, PCI_ECHO_BAR_SIZE, 0); /* 32-bit memory BAR */
	if (ret < 0)
		return ret;
	ret =
	    umdev_pci_add_msi(mdev, PCI_ECHO_MSI_OFFSET, PCI_ECHO_MSI_VECTORS, UMDEV_PCI_MSI_64BIT);
	if (ret < 0)
		return ret;
	/* Command: only what the device implements, memory decoding and bus mastering (for MSI) */
	return umdev_pci_config_define(mdev, PCI_COMMAND, 2, 0,
				       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

/**
 * pci_echo_probe() - create step C6: build the state of a new mdev and declare its device.
 * @mdev: the new mdev; not yet reachable by any client.
 *
 * Return: 0, or a negative errno after undoing everything: -ENOMEM, or the errno of a
 * umdev_pci_*() call. umdevd hands it unchanged to the writer of `create` (mdevctl).
 */
static int pci_echo_probe(struct umdev_mdev *mdev)
{
	struct pci_echo_device *dev;
	int ret;

	dev = calloc(1, sizeof(*dev)); /* power-on registers are 0 */
	if (!dev)
		return -ENOMEM;
	ret = pci_declare(mdev);
	if (ret < 0)
		goto err_pci_fini;
	umdev_mdev_set_drvdata(mdev, dev); /* before C7 makes the device reachable */
	return 0;

err_pci_fini:
	umdev_pci_fini(mdev); /* a failed probe reaches no vfio hook: only we can drop it */
	free(dev);
	return ret;
}

/**
 * pci_echo_remove() - remove step R5: free what probe built. The vfio device is gone, so no
 * callback runs for @mdev any more.
 * @mdev: the mdev being removed.
 */
static void pci_echo_remove(struct umdev_mdev *mdev)
{
	struct pci_echo_device *dev = umdev_mdev_get_drvdata(mdev);

	umdev_pci_fini(mdev); /* pairs with pci_declare(); after R4 it does nothing */
	umdev_mdev_set_drvdata(mdev, NULL);
	free(dev);
}

/*
 * The driver, its one parent and its one mdev type. max_instances is set from the instances=
 * parameter before the driver is registered; the core then counts the instances (mdev.md §4.5).
 * Type id, as mdevctl shows it: "pci_echo-1".
 */
static struct umdev_driver pci_echo_driver = {
    .name = "pci_echo",
    .device_api = "vfio-pci",
    .probe = pci_echo_probe,
    .remove = pci_echo_remove,
    .vfio_ops = &pci_echo_vfio_ops,
};
static struct umdev_type pci_echo_type = {
    .sysfs_name = "1",
    .pretty_name = "Echo device: scratch register and MSI doorbell",
};
static struct umdev_type *pci_echo_types[] = {&pci_echo_type};
static struct umdev_parent pci_echo_parent;

/* ---- module (umdev/module.h) ---- */

/**
 * pci_echo_init() - module init: register the driver and the parent "pci_echo".
 *
 * umdevd calls it once, from its main thread, after setting the parameters.
 *
 * Return: 0, or a negative errno after undoing everything: umdevd then names the module and
 * the errno and refuses to start. The errnos of umdev_register_driver() and
 * umdev_register_parent(), e.g. -EEXIST when a driver or parent of that name is registered.
 */
static int pci_echo_init(void)
{
	int ret;

	pci_echo_driver.max_instances = nr_instances;
	ret = umdev_register_driver(&pci_echo_driver);
	if (ret < 0)
		return ret;
	ret = umdev_register_parent(&pci_echo_parent, "pci_echo", NULL, &pci_echo_driver,
				    pci_echo_types, 1);
	if (ret < 0)
		goto err_unregister_driver;
	umdev_log(UMDEV_LOG_INFO, "pci_echo: parent 'pci_echo', %u instances", nr_instances);
	return 0;

err_unregister_driver:
	(void)umdev_unregister_driver(&pci_echo_driver); /* cannot fail: no parent uses it */
	return ret;
}

/**
 * pci_echo_exit() - module exit: undo pci_echo_init(). umdevd calls it once at shutdown,
 * after every mdev is gone.
 */
static void pci_echo_exit(void)
{
	umdev_unregister_parent(&pci_echo_parent);
	(void)umdev_unregister_driver(&pci_echo_driver); /* cannot fail: its parent is gone */
}

UMDEV_MODULE(pci_echo, "example PCI device: a scratch register and an MSI doorbell", pci_echo_init,
	     pci_echo_exit, pci_echo_params);
