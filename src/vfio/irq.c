// SPDX-License-Identifier: MIT
/*
 * Interrupts (vfio-user.md §8.7, §8.8, §9.4, §10.2): eventfds assigned with SET_IRQS, INTx
 * level/automask/unmask, MSI vectors, ERR and REQ. The state lives in the device record under
 * dev->lock. Signals go through umdev__eventfd_signal(), which never sleeps whatever the client
 * did to its eventfd (clientfd.c), so a driver may signal from any context (C6, §10.2) and
 * holding dev->lock across a signal never makes anyone wait on a client.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "private.h"

/* Never sleeps, whatever the client did to its eventfd (clientfd.c); a full counter stays full. */
static void signal_fd(int fd)
{
	umdev__eventfd_signal(fd);
}

/* An INTx or MSI trigger: signal and count the write (mtty.md §4.5 irq_signals). */
static void signal_trigger(struct umdev__vfio_device *dev, int fd)
{
	if (fd < 0)
		return;
	signal_fd(fd);
	dev->irq.signals++;
}

static void close_fd(int *fd)
{
	umdev__clientfd_close(*fd); /* an eventfd: closed at once */
	*fd = -1;
}

void umdev__irq_init(struct umdev__irq *irq)
{
	irq->intx_trigger = -1;
	irq->intx_unmask = -1;
	irq->intx_masked = false;
	for (unsigned int i = 0; i < VFIO_IRQ_MSI_MAX; i++)
		irq->msi_trigger[i] = -1;
	irq->err_trigger = -1;
	irq->req_trigger = -1;
}

/* §9.4: level, eventfd, unmasked, Command bit 10 clear -> signal and automask. */
void umdev__irq_intx_eval(struct umdev__vfio_device *dev)
{
	struct umdev__irq *irq = &dev->irq;

	umdev__assert_held(&dev->lock);
	if (!dev->pci.intx_level || irq->intx_trigger < 0 || irq->intx_masked)
		return;
	if (umdev__pci_command(&dev->pci) & PCI_COMMAND_INTX_DISABLE)
		return;
	irq->intx_masked = true;
	signal_trigger(dev, irq->intx_trigger);
}

void umdev__irq_release_all(struct umdev__vfio_device *dev)
{
	struct umdev__irq *irq = &dev->irq;

	umdev__assert_held(&dev->lock);
	close_fd(&irq->intx_trigger);
	close_fd(&irq->intx_unmask);
	for (unsigned int i = 0; i < VFIO_IRQ_MSI_MAX; i++)
		close_fd(&irq->msi_trigger[i]);
	close_fd(&irq->err_trigger);
	close_fd(&irq->req_trigger);
	irq->intx_masked = false;
}

void umdev__irq_reset(struct umdev__vfio_device *dev)
{
	umdev__assert_held(&dev->lock);
	dev->irq.intx_masked = false; /* §8.10: INTx unmasked, level cleared */
	dev->pci.intx_level = false;
}

unsigned int umdev__irq_count(const struct umdev__vfio_device *dev, unsigned int index)
{
	umdev__assert_held(&dev->lock);
	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		return dev->pci.intx_pin ? 1 : 0;
	case VFIO_PCI_MSI_IRQ_INDEX:
		return dev->pci.msi_vectors;
	case VFIO_PCI_REQ_IRQ_INDEX:
		return 1;
	default:
		return 0; /* MSI-X: no table support; ERR: not PCI Express */
	}
}

uint32_t umdev__irq_flags(unsigned int index)
{
	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		return VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
	case VFIO_PCI_MSIX_IRQ_INDEX:
		return VFIO_IRQ_INFO_EVENTFD;
	default:
		return VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE;
	}
}

/* The trigger eventfd slot of vector @v of @index. */
static int *trigger_slot(struct umdev__vfio_device *dev, unsigned int index, unsigned int v)
{
	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		return &dev->irq.intx_trigger;
	case VFIO_PCI_MSI_IRQ_INDEX:
		return &dev->irq.msi_trigger[v];
	case VFIO_PCI_ERR_IRQ_INDEX:
		return &dev->irq.err_trigger;
	case VFIO_PCI_REQ_IRQ_INDEX:
		return &dev->irq.req_trigger;
	default:
		return NULL;
	}
}

static bool index_has_trigger(struct umdev__vfio_device *dev, unsigned int index)
{
	unsigned int n = umdev__irq_count(dev, index);

	for (unsigned int v = 0; v < n; v++) {
		int *slot = trigger_slot(dev, index, v);

		if (slot && *slot >= 0)
			return true;
	}
	return false;
}

static bool is_eventfd(int fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = 0;
	return strcmp(link, "anon_inode:[eventfd]") == 0;
}

#define DATA_MASK (VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_DATA_EVENTFD)
#define ACTION_MASK                                                                                \
	(VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK | VFIO_IRQ_SET_ACTION_TRIGGER)

static bool one_bit(uint32_t v)
{
	return v && !(v & (v - 1));
}

/*
 * Validation of §8.8, in the listed order, after the decoder's length and argsz checks.
 * Caller holds dev->lock.
 */
static int set_irqs_check(struct umdev__vfio_device *dev, const struct vfio_user_set_irqs *set,
			  const struct umdev__vfio_msg *msg)
{
	uint32_t flags = set->flags, index = set->index, start = set->start, count = set->count;
	uint32_t data = flags & DATA_MASK, action = flags & ACTION_MASK, nr;

	umdev__assert_held(&dev->lock);
	if ((flags & ~(DATA_MASK | ACTION_MASK)) || !one_bit(data) || !one_bit(action))
		return -EINVAL;
	if (index >= VFIO_USER_NUM_IRQS)
		return -EINVAL;
	if (set->data_len != (data == VFIO_IRQ_SET_DATA_BOOL ? (size_t)count : 0))
		return -EINVAL;
	if (count == 0 && !(start == 0 && data == VFIO_IRQ_SET_DATA_NONE &&
			    action == VFIO_IRQ_SET_ACTION_TRIGGER))
		return -EINVAL;
	nr = umdev__irq_count(dev, index);
	if (start > nr || count > nr - start)
		return -EINVAL;
	if (data != VFIO_IRQ_SET_DATA_EVENTFD && msg->nr_fds_total)
		return -EINVAL;
	if (data == VFIO_IRQ_SET_DATA_EVENTFD) {
		if (msg->nr_fds_total != 0 && msg->nr_fds_total != count)
			return -EINVAL;
		for (unsigned int i = 0; i < msg->nr_fds; i++)
			if (!is_eventfd(msg->fds[i]))
				return -EINVAL;
	}
	if (action == VFIO_IRQ_SET_ACTION_TRIGGER && data == VFIO_IRQ_SET_DATA_EVENTFD &&
	    msg->nr_fds && index <= VFIO_PCI_MSIX_IRQ_INDEX) {
		for (unsigned int other = 0; other <= VFIO_PCI_MSIX_IRQ_INDEX; other++)
			if (other != index && index_has_trigger(dev, other))
				return -EINVAL; /* one interrupt mode at a time */
	}
	if (action != VFIO_IRQ_SET_ACTION_TRIGGER) {
		if (index != VFIO_PCI_INTX_IRQ_INDEX)
			return -ENOTTY;
		if (action == VFIO_IRQ_SET_ACTION_MASK && data == VFIO_IRQ_SET_DATA_EVENTFD)
			return -ENOTTY;
	}
	return 0;
}

int umdev__irq_set(struct umdev__vfio_device *dev, const struct vfio_user_set_irqs *set,
		   struct umdev__vfio_msg *msg, struct umdev__irq_change *ret_change)
{
	struct umdev__irq_change ch = {0};
	uint32_t index = set->index, start = set->start, count = set->count;
	uint32_t data = set->flags & DATA_MASK, action = set->flags & ACTION_MASK;
	int ret;

	umdev__mutex_lock(&dev->lock);
	ret = set_irqs_check(dev, set, msg);
	if (ret < 0)
		goto out;
	ch.index = index;
	ch.start = start;
	ch.count = count;

	if (action == VFIO_IRQ_SET_ACTION_TRIGGER) {
		if (count == 0) { /* disable the whole index */
			ch.count = umdev__irq_count(dev, index);
			ch.action = UMDEV_IRQ_RELEASED;
			for (unsigned int v = 0; v < umdev__irq_count(dev, index); v++)
				close_fd(trigger_slot(dev, index, v));
			if (index == VFIO_PCI_INTX_IRQ_INDEX) {
				close_fd(&dev->irq.intx_unmask);
				/*
				 * INTx is disabled: the next enable starts unmasked, as the
				 * kernel's vfio_intx_enable() does (masked = virq_disabled).
				 * A mask kept from a signal the client dropped with its
				 * eventfd would never be lifted: the client has nothing
				 * pending to EOI, so it sends no UNMASK (T-50).
				 */
				dev->irq.intx_masked = false;
			}
		} else if (data == VFIO_IRQ_SET_DATA_EVENTFD) {
			ch.action = msg->nr_fds ? UMDEV_IRQ_ASSIGNED : UMDEV_IRQ_RELEASED;
			for (unsigned int i = 0; i < count; i++) {
				int *slot = trigger_slot(dev, index, start + i);

				close_fd(slot);
				if (msg->nr_fds) {
					*slot = msg->fds[i]; /* adopted */
					msg->fds[i] = -1;
				}
			}
		} else { /* loop-back: the mask is neither consulted nor changed */
			ch.action = UMDEV_IRQ_SIGNALLED;
			for (unsigned int i = 0; i < count; i++) {
				int fd = *trigger_slot(dev, index, start + i);

				if (data == VFIO_IRQ_SET_DATA_BOOL && !set->data[i])
					continue;
				if (index <= VFIO_PCI_MSIX_IRQ_INDEX)
					signal_trigger(dev, fd); /* counted (T-56) */
				else
					signal_fd(fd); /* ERR, REQ */
			}
		}
		if (index == VFIO_PCI_INTX_IRQ_INDEX)
			umdev__irq_intx_eval(dev);
		goto out;
	}
	/* INTx MASK / UNMASK (set_irqs_check refused the rest) */
	if (data == VFIO_IRQ_SET_DATA_EVENTFD) { /* UNMASK: the unmask eventfd */
		ch.action = UMDEV_IRQ_UNMASK_EVENTFD;
		close_fd(&dev->irq.intx_unmask);
		if (msg->nr_fds) {
			dev->irq.intx_unmask = msg->fds[0];
			msg->fds[0] = -1;
		}
		goto out;
	}
	if (data == VFIO_IRQ_SET_DATA_BOOL && !set->data[0])
		goto out;
	if (action == VFIO_IRQ_SET_ACTION_MASK) {
		ch.action = UMDEV_IRQ_MASKED;
		dev->irq.intx_masked = true;
	} else {
		ch.action = UMDEV_IRQ_UNMASKED;
		dev->irq.intx_masked = false;
		umdev__irq_intx_eval(dev); /* level still 1: signal again at once (V-50) */
	}
out:
	umdev__mutex_unlock(&dev->lock);
	*ret_change = ch;
	return ret;
}

void umdev__irq_msi_eval(struct umdev__vfio_device *dev)
{
	umdev__assert_held(&dev->lock);
	for (unsigned int v = 0; v < dev->pci.msi_vectors; v++) {
		uint32_t pending_off;

		if (!(dev->pci.msi_flags & UMDEV_PCI_MSI_MASKABLE) ||
		    umdev__pci_msi_masked(&dev->pci, v))
			continue;
		pending_off = dev->pci.msi_offset + ((dev->pci.msi_flags & UMDEV_PCI_MSI_64BIT)
							 ? PCI_MSI_PENDING_64
							 : PCI_MSI_PENDING_32);
		if (!(wire_get32(dev->pci.cfg + pending_off) & (1u << v)))
			continue;
		umdev__pci_msi_set_pending(&dev->pci, v, false);
		signal_trigger(dev, dev->irq.msi_trigger[v]); /* delivered on unmask (§9.4) */
	}
}

/*
 * Runs on the server thread, the only thread that assigns or closes the unmask eventfd, so @fd
 * (the slot's value it polled) is still open. The read happens before dev->lock is taken and
 * never sleeps: a client that emptied the counter first (its own second thread) leaves nothing.
 */
void umdev__irq_unmask_event(struct umdev__vfio_device *dev, int fd)
{
	umdev__assert_not_held(&dev->lock); /* I/O on a client's fd */
	if (!umdev__eventfd_drain(fd))
		return;
	umdev__mutex_lock(&dev->lock);
	if (dev->irq.intx_unmask == fd) {
		dev->irq.intx_masked = false;
		umdev__irq_intx_eval(dev);
	}
	umdev__mutex_unlock(&dev->lock);
}

/* ---- driver API (§10.2) ---- */

int umdev_intx_set_level(struct umdev_mdev *mdev, bool level)
{
	struct umdev__vfio_device *dev = umdev__vfio_lock_live(mdev);

	if (!dev)
		return -ENOTCONN;
	dev->pci.intx_level = level;
	umdev__irq_intx_eval(dev);
	umdev__mutex_unlock(&dev->lock);
	return 0;
}

int umdev_msi_notify(struct umdev_mdev *mdev, unsigned int vector)
{
	struct umdev__vfio_device *dev = umdev__vfio_lock_live(mdev);
	int ret = 0;

	if (!dev)
		return -ENOTCONN;
	if (vector >= dev->pci.msi_vectors) {
		ret = -EINVAL;
	} else if (dev->irq.msi_trigger[vector] >= 0) {
		if (umdev__pci_msi_masked(&dev->pci, vector))
			umdev__pci_msi_set_pending(&dev->pci, vector, true);
		else
			signal_trigger(dev, dev->irq.msi_trigger[vector]);
	}
	umdev__mutex_unlock(&dev->lock);
	return ret;
}

int umdev_err_notify(struct umdev_mdev *mdev)
{
	struct umdev__vfio_device *dev = umdev__vfio_lock_live(mdev);

	if (!dev)
		return -ENOTCONN;
	signal_fd(dev->irq.err_trigger);
	umdev__mutex_unlock(&dev->lock);
	return 0;
}

int umdev_irq_signal_count(struct umdev_mdev *mdev, uint64_t *ret_count)
{
	struct umdev__vfio_device *dev;

	if (!ret_count)
		return -EINVAL;
	dev = umdev__vfio_lock_live(mdev);
	if (!dev)
		return -ENOTCONN;
	*ret_count = dev->irq.signals;
	umdev__mutex_unlock(&dev->lock);
	return 0;
}
