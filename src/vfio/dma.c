// SPDX-License-Identifier: MIT
/*
 * DMA (vfio-user.md §8.2, §8.3, §10.1): the session's mapping table and the driver's copies
 * to and from guest memory. fd-backed mappings are accessed with pread()/pwrite() on the
 * client's file, never mmap(), so a client that truncates its file cannot raise SIGBUS in the
 * daemon. File copies run under dev->lock, so an unmap waits for copies in progress (§8.3).
 * Mappings without fd go through DMA_READ/DMA_WRITE messages (§8.12): the driver thread queues
 * a request on dev->dma_reqs, wakes the server thread, which sends it and routes the client's
 * reply back, and waits on dev->dma_cond (dev->lock released) for at most T_dma.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "private.h"

static bool aligned(uint64_t v)
{
	return !(v & (VFIO_USER_PGSIZE - 1));
}

/* Index of the first mapping whose end is above @iova. Caller holds dev->lock. */
static unsigned int lower_bound(const struct umdev__vfio_device *dev, uint64_t iova)
{
	const struct umdev__dma *dma = &dev->dma;
	unsigned int lo = 0, hi = dma->nr;

	umdev__assert_held(&dev->lock);
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct umdev__dma_map *m = &dma->maps[mid];

		if (m->iova + (m->size - 1) < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Validation of §8.2 that needs no lock, in the listed order. */
static int map_check(const struct vfio_user_dma_map *req, const struct umdev__vfio_msg *msg,
		     struct umdev__dma_map *m)
{
	const uint32_t known = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	struct stat st;
	int fl;

	if (msg->nr_fds_total > 1)
		return -EINVAL;
	m->flags = req->flags;
	m->offset = req->offset;
	m->iova = req->addr;
	m->size = req->size;
	m->fd = msg->nr_fds ? msg->fds[0] : -1;
	if (!m->flags || (m->flags & ~known))
		return -EINVAL;
	if (!m->size || !aligned(m->iova) || !aligned(m->size) || !aligned(m->offset) ||
	    m->size - 1 > UINT64_MAX - m->iova)
		return -EINVAL;
	if (m->fd < 0)
		return m->offset ? -EINVAL : 0;
	/*
	 * Memory files only (memfd, tmpfs, hugetlbfs), asked before fstat(): a FUSE file would
	 * forward fstat(), and later our pread() under dev->lock and our close(), to whoever
	 * serves it, the client perhaps (clientfd.c).
	 */
	if (!umdev__clientfd_is_memory(m->fd) || fstat(m->fd, &st) < 0 || !S_ISREG(st.st_mode))
		return -EINVAL;
	if (m->size > UINT64_MAX - m->offset || m->offset + m->size > (uint64_t)st.st_size)
		return -EINVAL;
	fl = fcntl(m->fd, F_GETFL);
	if (fl < 0)
		return -EINVAL;
	fl &= O_ACCMODE;
	if ((m->flags & VFIO_DMA_MAP_FLAG_READ) && fl == O_WRONLY)
		return -EACCES;
	if ((m->flags & VFIO_DMA_MAP_FLAG_WRITE) && fl == O_RDONLY)
		return -EACCES;
	return 0;
}

int umdev__dma_map(struct umdev__vfio_device *dev, const struct vfio_user_dma_map *req,
		   struct umdev__vfio_msg *msg)
{
	struct umdev__dma *dma = &dev->dma;
	struct umdev__dma_map m;
	unsigned int i;
	int ret;

	ret = map_check(req, msg, &m);
	if (ret < 0)
		return ret;
	umdev__mutex_lock(&dev->lock);
	i = lower_bound(dev, m.iova);
	if (i < dma->nr && dma->maps[i].iova <= m.iova + (m.size - 1)) {
		ret = -EEXIST;
		goto out;
	}
	/* the map limit, and the session's fd budget (I4: a client cannot fill our fd table) */
	if (dma->nr >= umdev__vfio_config.max_dma_maps ||
	    (m.fd >= 0 && dma->nr_fds >= VFIO_USER_MAX_DMA_FDS)) {
		ret = -ENOSPC;
		goto out;
	}
	if (dma->nr == dma->cap) {
		unsigned int cap = dma->cap ? dma->cap * 2 : 16;
		struct umdev__dma_map *maps = realloc(dma->maps, cap * sizeof(*maps));

		if (!maps) {
			ret = -ENOMEM;
			goto out;
		}
		dma->maps = maps;
		dma->cap = cap;
	}
	memmove(&dma->maps[i + 1], &dma->maps[i], (dma->nr - i) * sizeof(*dma->maps));
	dma->maps[i] = m;
	dma->nr++;
	if (m.fd >= 0) {
		dma->nr_fds++;
		msg->fds[0] = -1; /* adopted; closed at unmap or teardown */
	}
out:
	umdev__mutex_unlock(&dev->lock);
	if (ret == 0 && dev->ops && dev->ops->dma_map_notify) {
		umdev__assert_not_held(&dev->lock); /* no vfio lock across a callback */
		umdev__vfio_in_callback = true;
		dev->ops->dma_map_notify(dev->mdev, m.iova, m.size, true);
		umdev__vfio_in_callback = false;
	}
	return ret;
}

static void notify_unmapped(struct umdev__vfio_device *dev, struct umdev__dma_map *maps,
			    unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++) {
		if (dev->ops && dev->ops->dma_map_notify) {
			umdev__assert_not_held(&dev->lock); /* no vfio lock across a callback */
			umdev__vfio_in_callback = true;
			dev->ops->dma_map_notify(dev->mdev, maps[i].iova, maps[i].size, false);
			umdev__vfio_in_callback = false;
		}
		umdev__clientfd_close(maps[i].fd); /* a memory file: closed at once */
	}
}

void umdev__dma_unmap_all(struct umdev__vfio_device *dev)
{
	struct umdev__dma *dma = &dev->dma;
	struct umdev__dma_map *removed;
	unsigned int nr;

	umdev__mutex_lock(&dev->lock);
	removed = dma->maps;
	nr = dma->nr;
	dma->maps = NULL;
	dma->nr = dma->cap = dma->nr_fds = 0;
	umdev__mutex_unlock(&dev->lock);
	notify_unmapped(dev, removed, nr);
	free(removed);
}

int umdev__dma_unmap(struct umdev__vfio_device *dev, const struct vfio_user_dma_unmap *u,
		     struct umdev__vfio_reply *reply)
{
	struct umdev__dma *dma = &dev->dma;
	struct umdev__dma_map removed;
	unsigned int i;
	int ret = 0;

	if (u->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP)
		return -ENOTSUP;
	if (u->flags & ~(uint32_t)VFIO_DMA_UNMAP_FLAG_ALL)
		return -EINVAL;
	if ((u->flags & VFIO_DMA_UNMAP_FLAG_ALL) && (u->addr || u->size))
		return -EINVAL;
	reply->payload = malloc(VFIO_USER_DMA_UNMAP_SIZE);
	if (!reply->payload)
		return -ENOMEM;
	umdev__wire_dma_unmap_encode(reply->payload, u); /* the reply echoes the request (§8.3) */
	reply->len = VFIO_USER_DMA_UNMAP_SIZE;
	if (u->flags & VFIO_DMA_UNMAP_FLAG_ALL) {
		umdev__dma_unmap_all(dev);
		return 0;
	}

	umdev__mutex_lock(&dev->lock);
	i = lower_bound(dev, u->addr);
	if (i < dma->nr && dma->maps[i].iova == u->addr && dma->maps[i].size == u->size) {
		removed = dma->maps[i];
		if (removed.fd >= 0)
			dma->nr_fds--;
		memmove(&dma->maps[i], &dma->maps[i + 1], (dma->nr - i - 1) * sizeof(*dma->maps));
		dma->nr--;
	} else {
		ret = -ENOENT;
	}
	umdev__mutex_unlock(&dev->lock);
	if (ret == 0)
		notify_unmapped(dev, &removed, 1);
	return ret;
}

void umdev__dma_release_all(struct umdev__vfio_device *dev)
{
	umdev__assert_held(&dev->lock);
	for (unsigned int i = 0; i < dev->dma.nr; i++)
		umdev__clientfd_close(dev->dma.maps[i].fd);
	free(dev->dma.maps);
	dev->dma.maps = NULL;
	dev->dma.nr = dev->dma.cap = dev->dma.nr_fds = 0;
}

/* ---- message-based transfers (§8.12) ---- */

void umdev__dma_abort_all(struct umdev__vfio_device *dev)
{
	struct umdev_list *pos, *tmp;

	umdev__assert_held(&dev->lock);
	dev->session_open = false; /* a new transfer fails -ENOTCONN from here */
	umdev_list_for_each_safe(pos, tmp, &dev->dma_reqs) {
		struct umdev__dma_req *req = umdev_list_entry(pos, struct umdev__dma_req, node);

		umdev_list_del(&req->node);
		req->result = -ENOTCONN;
		req->done = true;
	}
	pthread_cond_broadcast(&dev->dma_cond);
}

bool umdev__dma_reply(struct umdev__vfio_device *dev, uint16_t msg_id, uint32_t err,
		      const uint8_t *payload, size_t len)
{
	struct umdev__dma_req *req = NULL;
	struct vfio_user_dma_rw got;
	struct umdev_list *pos;
	int result = 0;

	umdev__mutex_lock(&dev->lock);
	umdev_list_for_each(pos, &dev->dma_reqs) {
		struct umdev__dma_req *r = umdev_list_entry(pos, struct umdev__dma_req, node);

		if (r->sent && r->msg_id == msg_id) {
			req = r;
			break;
		}
	}
	if (!req) {
		umdev__mutex_unlock(&dev->lock);
		return false; /* nobody waits for it (timed out, or unsolicited): discarded (§6.2)
			       */
	}
	if (err) {
		result = err > 4095 ? -EIO : -(int)err; /* the client's errno */
	} else if (umdev__wire_dma_rw_reply_decode(payload, len, req->write, &got) < 0 ||
		   got.addr != req->iova || got.count != req->len) {
		result = -EIO; /* short, or a different address/count */
	} else if (!req->write) {
		memcpy(req->buf, got.data, req->len);
	}
	umdev_list_del(&req->node);
	req->result = result;
	req->done = true;
	pthread_cond_broadcast(&dev->dma_cond);
	umdev__mutex_unlock(&dev->lock);
	return true;
}

/*
 * One message-based transfer of @len bytes, split at the session's dma_xfer_max. Caller holds
 * dev->lock (released while waiting) and is not the server thread. Return: 0 or -errno.
 */
static int dma_msg(struct umdev__vfio_device *dev, uint64_t iova, uint8_t *buf, size_t len,
		   bool is_write)
{
	const uint64_t one = 1;
	int ret = 0;

	umdev__assert_held(&dev->lock);
	if (dev->wake_fd < 0)
		return -ENOTCONN; /* no server thread (numbering only) */
	dev->dma_waiters++;
	while (len && ret == 0) {
		struct umdev__dma_req req = {.write = is_write, .iova = iova, .buf = buf};
		struct timespec deadline;

		if (!dev->session_open) {
			ret = -ENOTCONN;
			break;
		}
		req.len = len < dev->dma_xfer_max ? len : dev->dma_xfer_max;
		umdev_list_add_tail(&dev->dma_reqs, &req.node);
		(void)!write(dev->wake_fd, &one, sizeof(one)); /* the server thread sends it */
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += umdev__vfio_config.dma_timeout_ms / 1000;
		deadline.tv_nsec += (long)(umdev__vfio_config.dma_timeout_ms % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		while (!req.done)
			if (umdev__cond_timedwait(&dev->dma_cond, &dev->lock, &deadline) ==
				ETIMEDOUT &&
			    !req.done) {
				umdev_list_del(&req.node); /* a late reply is discarded */
				req.result = -ETIMEDOUT;
				break;
			}
		ret = req.result;
		iova += req.len;
		buf += req.len;
		len -= req.len;
	}
	dev->dma_waiters--;
	pthread_cond_broadcast(&dev->dma_cond); /* R4 may wait for the last waiter */
	return ret;
}

/* ---- driver API (§10.1) ---- */

/* The mapping that contains @iova, or NULL. Caller holds dev->lock. */
static const struct umdev__dma_map *map_at(const struct umdev__vfio_device *dev, uint64_t iova)
{
	const struct umdev__dma *dma = &dev->dma;
	unsigned int i = lower_bound(dev, iova);

	return i < dma->nr && dma->maps[i].iova <= iova ? &dma->maps[i] : NULL;
}

/*
 * Copy one piece through the mapping @m of @dev's table. Return: 0 or -EFAULT. Caller holds
 * dev->lock, so an unmap waits for the copy (§8.3).
 */
static int dma_file(const struct umdev__vfio_device *dev, const struct umdev__dma_map *m,
		    uint64_t iova, uint8_t *b, size_t n, bool write)
{
	off_t off = (off_t)(m->offset + (iova - m->iova));
	size_t done = 0;
	struct stat st;

	umdev__assert_held(&dev->lock);
	if (fstat(m->fd, &st) < 0 || (uint64_t)off + n > (uint64_t)st.st_size)
		return -EFAULT; /* the client truncated its file (§10.1) */
	while (done < n) {
		ssize_t r = write ? pwrite(m->fd, b + done, n - done, off + (off_t)done)
				  : pread(m->fd, b + done, n - done, off + (off_t)done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EFAULT; /* the file became shorter than the mapping */
		done += (size_t)r;
	}
	return 0;
}

static int dma_rw(struct umdev_mdev *mdev, uint64_t iova, void *buf, size_t len, bool write)
{
	const uint32_t need = write ? VFIO_DMA_MAP_FLAG_WRITE : VFIO_DMA_MAP_FLAG_READ;
	struct umdev__vfio_device *dev = umdev__vfio_lock_live(mdev);
	const struct umdev__dma_map *m;
	uint64_t cur, end;
	int ret = 0;

	if (!dev)
		return -ENOTCONN;
	if (!dev->session_open) {
		ret = -ENOTCONN;
		goto out;
	}
	if (len == 0)
		goto out;
	if (len - 1 > UINT64_MAX - iova) {
		ret = -EFAULT;
		goto out;
	}
	end = iova + (len - 1); /* inclusive */
	/* checked before any byte moves: coverage, then permissions, then the context */
	for (cur = iova;;) {
		m = map_at(dev, cur);
		if (!m) {
			ret = -EFAULT;
			goto out;
		}
		if (!(m->flags & need) && ret == 0)
			ret = -EPERM;
		if (m->fd < 0 && umdev__vfio_in_callback && ret == 0)
			ret = -EDEADLK; /* the server thread cannot wait for its own socket */
		if (m->iova + (m->size - 1) >= end)
			break;
		cur = m->iova + m->size;
	}
	if (ret < 0)
		goto out;
	/*
	 * Piece by piece, looked up again each time: a message transfer releases dev->lock while
	 * it waits, so the table may change under it (an unmapped piece then fails -EFAULT).
	 */
	for (cur = iova; ret == 0;) {
		uint64_t piece_end;
		uint8_t *b = (uint8_t *)buf + (cur - iova);

		m = map_at(dev, cur);
		if (!m || !(m->flags & need)) {
			ret = m ? -EPERM : -EFAULT;
			break;
		}
		piece_end = m->iova + (m->size - 1) < end ? m->iova + (m->size - 1) : end;
		if (m->fd >= 0)
			ret = dma_file(dev, m, cur, b, (size_t)(piece_end - cur + 1), write);
		else
			ret = dma_msg(dev, cur, b, (size_t)(piece_end - cur + 1), write);
		if (piece_end == end)
			break;
		cur = piece_end + 1;
	}
out:
	umdev__mutex_unlock(&dev->lock);
	return ret;
}

int umdev_dma_read(struct umdev_mdev *mdev, uint64_t iova, void *buf, size_t len)
{
	return dma_rw(mdev, iova, buf, len, false);
}

int umdev_dma_write(struct umdev_mdev *mdev, uint64_t iova, const void *buf, size_t len)
{
	return dma_rw(mdev, iova, (void *)buf, len, true);
}
