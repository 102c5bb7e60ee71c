/* SPDX-License-Identifier: MIT */
/* The attribute files of the tree: what each one shows and stores (mdev.md §6.3, §6.4). */
#ifndef UMDEV_SYSFS_ATTR_H
#define UMDEV_SYSFS_ATTR_H

#include "private.h"

/* fixed content (node->text); writes accepted and ignored (the two uevent files) */
extern const struct sysfs_file_ops umdev__sysfs_fixed_ops;
/* type directory (§6.3); node->type, with a reference on its parent */
extern const struct sysfs_file_ops umdev__sysfs_create_ops;
extern const struct sysfs_file_ops umdev__sysfs_name_ops;
extern const struct sysfs_file_ops umdev__sysfs_device_api_ops;
extern const struct sysfs_file_ops umdev__sysfs_available_ops;
extern const struct sysfs_file_ops umdev__sysfs_description_ops;
/* mdev directory (§6.4); node->uuid and node->serial name the mdev */
extern const struct sysfs_file_ops umdev__sysfs_remove_ops;
extern const struct sysfs_file_ops umdev__sysfs_dev_attr_ops; /* node->attr, dev_groups */
extern const struct sysfs_file_ops umdev__sysfs_dev_bin_ops; /* node->bin, dev_groups */

#endif
