/* SPDX-License-Identifier: MIT */
/*
 * Parsers of the two writable mdev sysfs files whose syntax the kernel fixes: `create`
 * (mdev.md §6.5) and `remove` (§6.6). Pure functions; unit-tested in
 * tests/unit/test_sysfs_parse.c.
 */
#ifndef UMDEV_SYSFS_PARSE_H
#define UMDEV_SYSFS_PARSE_H

#include <stddef.h>
#include <uuid/uuid.h>

/**
 * umdev__sysfs_parse_uuid() - parse the bytes of one `create` write.
 * @buf: the bytes written; need not be NUL-terminated.
 * @len: their number (the write length, already cut to 4096).
 * @ret_uuid: the UUID on success; untouched on failure.
 *
 * Exactly 36 or 37 bytes; the first 36 are 8-4-4-4-12 hex digits (either case) with '-' at
 * offsets 8, 13, 18 and 23; a 37th byte is ignored, whatever it is (kernel guid_parse()).
 *
 * Return: 0; -EINVAL anything else (M-15..M-19).
 */
int umdev__sysfs_parse_uuid(const char *buf, size_t len, uuid_t *ret_uuid);

/**
 * umdev__sysfs_parse_ulong() - parse the bytes of one `remove` write as the kernel's
 * kstrtoul(buf, 0, &val) does.
 * @buf: the bytes written; need not be NUL-terminated. A NUL byte ends the string, as in the
 *	kernel's NUL-terminated copy of the write.
 * @len: their number.
 * @ret_val: the value on success; untouched on failure.
 *
 * An optional '+', then digits in C base 0 ("0x"/"0X" followed by a hex digit: hex; leading
 * '0': octal; else decimal), then an optional single '\n', then the end.
 *
 * Return: 0; -EINVAL no digits, a stray byte, or overflow of unsigned long (M-36, M-37).
 */
int umdev__sysfs_parse_ulong(const char *buf, size_t len, unsigned long *ret_val);

#endif
