// SPDX-License-Identifier: MIT
/* vdrv: the vfio test driver (see vdrv.h). Uses only the public API. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vdrv.h"

int vdrv_fail_probe;
int vdrv_mmap_bar;
atomic_uint vdrv_removes, vdrv_removes_with_session;

static ssize_t vdrv_region_read(struct umdev_mdev *mdev, unsigned int index, uint64_t offset,
				void *buf, size_t count)
{
	struct vdrv_dev *d = umdev_mdev_get_drvdata(mdev);

	if (index == 2) { /* the mmap BAR: its contents live in the memfd only */
		memset(buf, 0, count);
		return (ssize_t)count;
	}
	memcpy(buf, (index == 0 ? d->bar0 : d->bar1) + offset, count);
	return (ssize_t)count;
}

static ssize_t vdrv_region_write(struct umdev_mdev *mdev, unsigned int index, uint64_t offset,
				 const void *buf, size_t count)
{
	struct vdrv_dev *d = umdev_mdev_get_drvdata(mdev);

	if (index == 0 && offset == 7 && count == 1) {
		uint8_t b[4];

		atomic_store(&d->cb_dma_ret, umdev_dma_read(mdev, 0x100000, b, sizeof(b)));
	}
	if (index == 2)
		return (ssize_t)count;
	if (index == 0)
		atomic_fetch_add(&d->bar0_writes, 1);
	memcpy((index == 0 ? d->bar0 : d->bar1) + offset, buf, count);
	return (ssize_t)count;
}

static void vdrv_config_write(struct umdev_mdev *mdev, unsigned int offset, unsigned int count)
{
	struct vdrv_dev *d = umdev_mdev_get_drvdata(mdev);

	(void)offset;
	(void)count;
	atomic_fetch_add(&d->config_writes, 1);
}

static void vdrv_set_irqs(struct umdev_mdev *mdev, unsigned int index, unsigned int start,
			  unsigned int count, enum umdev_irq_action action)
{
	struct vdrv_dev *d = umdev_mdev_get_drvdata(mdev);

	atomic_store(&d->irq_last, index << 24 | start << 16 | count << 8 | (unsigned int)action);
	atomic_fetch_add(&d->set_irqs, 1);
}

static int vdrv_reset(struct umdev_mdev *mdev)
{
	struct vdrv_dev *d = umdev_mdev_get_drvdata(mdev);

	memset(d->bar0, 0, sizeof(d->bar0));
	atomic_fetch_add(&d->resets, 1);
	return 0;
}

static int vdrv_open(struct umdev_mdev *mdev)
{
	struct vdrv_dev *d = umdev_mdev_get_drvdata(mdev);

	atomic_fetch_add(&d->opens, 1);
	return 0;
}

static void vdrv_close(struct umdev_mdev *mdev)
{
	struct vdrv_dev *d = umdev_mdev_get_drvdata(mdev);

	atomic_fetch_add(&d->closes, 1);
}

static void vdrv_dma_notify(struct umdev_mdev *mdev, uint64_t iova, uint64_t size, bool mapped)
{
	struct vdrv_dev *d = umdev_mdev_get_drvdata(mdev);

	(void)iova;
	(void)size;
	atomic_fetch_add(mapped ? &d->maps : &d->unmaps, 1);
}

static const struct umdev_vfio_ops vdrv_vfio_ops = {
    .region_read = vdrv_region_read,
    .region_write = vdrv_region_write,
    .config_write = vdrv_config_write,
    .set_irqs = vdrv_set_irqs,
    .reset = vdrv_reset,
    .open_device = vdrv_open,
    .close_device = vdrv_close,
    .dma_map_notify = vdrv_dma_notify,
};

/* BAR2: 16 KiB memory, sparse-mmap area [4096, 12288) in a memfd whose byte 4096 is 0xA5 */
static int vdrv_declare_mmap_bar(struct umdev_mdev *mdev)
{
	int fd, ret;

	ret = umdev_pci_set_bar(mdev, 2, 16384, 0);
	if (ret < 0)
		return ret;
	fd = memfd_create("vdrv-bar2", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, 16384) < 0 || pwrite(fd, "\xa5", 1, 4096) != 1)
		ret = -EIO;
	else
		ret = umdev_pci_region_mmap(mdev, 2, fd, 4096, 8192);
	close(fd); /* umdev keeps its own dup */
	return ret;
}

static int vdrv_probe(struct umdev_mdev *mdev)
{
	struct vdrv_dev *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return -ENOMEM;
	d->mdev = mdev;
	ret = umdev_pci_init(mdev, 0x1234, 0x5678, 0x070002, 0x01);
	if (ret == 0)
		ret = umdev_pci_set_bar(mdev, 0, 8, UMDEV_PCI_BAR_IO);
	if (ret == 0)
		ret = umdev_pci_set_bar(mdev, 1, 4096, 0);
	if (ret == 0 && vdrv_mmap_bar)
		ret = vdrv_declare_mmap_bar(mdev);
	if (ret == 0)
		ret = umdev_pci_set_intx(mdev, true);
	if (ret == 0)
		ret = umdev_pci_add_msi(mdev, 0x50, 1, 0);
	if (ret == 0)
		ret = umdev_pci_config_define(mdev, 0x40, 1, 0x23, 0);
	if (ret == 0)
		ret = vdrv_fail_probe; /* a later probe step failing */
	if (ret < 0) {
		umdev_pci_fini(mdev); /* the declaration dies with the probe */
		free(d);
		return ret;
	}
	umdev_mdev_set_drvdata(mdev, d);
	return 0;
}

static void vdrv_remove(struct umdev_mdev *mdev)
{
	struct vdrv_dev *d = umdev_mdev_get_drvdata(mdev);

	if (atomic_load(&d->opens) != atomic_load(&d->closes))
		atomic_fetch_add(&vdrv_removes_with_session, 1); /* recorded at entry (M-61) */
	atomic_fetch_add(&vdrv_removes, 1);
	umdev_pci_fini(mdev); /* after R4: nothing left to do */
	free(d);
}

static struct umdev_driver vdrv_driver = {
    .name = "vdrv",
    .device_api = "vfio-pci",
    .max_instances = 8,
    .probe = vdrv_probe,
    .remove = vdrv_remove,
    .vfio_ops = &vdrv_vfio_ops,
};
static struct umdev_parent vdrv_parent;
static struct umdev_type vdrv_type = {.sysfs_name = "a"};
static struct umdev_type *vdrv_types[] = {&vdrv_type};

int vdrv_register(void)
{
	int ret = umdev_register_driver(&vdrv_driver);

	if (ret < 0)
		return ret;
	atomic_store(&vdrv_removes, 0);
	atomic_store(&vdrv_removes_with_session, 0);
	memset(&vdrv_parent, 0, sizeof(vdrv_parent));
	vdrv_type.core = NULL;
	ret = umdev_register_parent(&vdrv_parent, "vdrv0", NULL, &vdrv_driver, vdrv_types, 1);
	if (ret < 0)
		umdev_unregister_driver(&vdrv_driver);
	return ret;
}

void vdrv_unregister(void)
{
	umdev_unregister_parent(&vdrv_parent);
	umdev_unregister_driver(&vdrv_driver);
}

int vdrv_create(const uuid_t *uuid)
{
	return umdev_mdev_create(&vdrv_type, uuid);
}

struct vdrv_dev *vdrv_find(const uuid_t *uuid)
{
	struct umdev_mdev *mdev = umdev_mdev_get(uuid);
	struct vdrv_dev *d;

	if (!mdev)
		return NULL;
	d = umdev_mdev_get_drvdata(mdev);
	umdev_mdev_put(mdev);
	return d;
}
