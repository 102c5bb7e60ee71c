// SPDX-License-Identifier: MIT
/* Parsers of the `create` and `remove` writes (mdev.md §6.5, §6.6). */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "parse.h"

#define UUID_TEXT_LEN 36 /* 8-4-4-4-12, no NUL */

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The value of digit @c in any base up to 16, or 16 for a byte that is no digit. */
static unsigned int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned int)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (unsigned int)(c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (unsigned int)(c - 'A' + 10);
	return 16;
}

int umdev__sysfs_parse_uuid(const char *buf, size_t len, uuid_t *ret_uuid)
{
	char text[UUID_TEXT_LEN + 1];
	uuid_t uuid;

	if (len < UUID_TEXT_LEN || len > UUID_TEXT_LEN + 1)
		return -EINVAL; /* M-17 (35 and 38 bytes), M-19 (the 4096 bytes of a longer write)
				 */
	for (size_t i = 0; i < UUID_TEXT_LEN; i++) {
		bool hyphen = i == 8 || i == 13 || i == 18 || i == 23;

		if (hyphen ? buf[i] != '-' : !is_hex(buf[i]))
			return -EINVAL; /* braces, missing hyphens, spaces, 'g' (M-17) */
	}
	/* byte 37, if any, is ignored (M-14, M-18) */
	memcpy(text, buf, UUID_TEXT_LEN);
	text[UUID_TEXT_LEN] = '\0';
	if (uuid_parse(text, uuid) < 0)
		return -EINVAL; /* cannot happen after the check above */
	memcpy(*ret_uuid, uuid, sizeof(uuid_t));
	return 0;
}

int umdev__sysfs_parse_ulong(const char *buf, size_t len, unsigned long *ret_val)
{
	const char *end;
	unsigned long val = 0;
	unsigned int base = 10;
	size_t i = 0;
	size_t digits = 0;

	/* the kernel parses a NUL-terminated copy: a NUL byte ends the input */
	end = memchr(buf, '\0', len);
	if (end)
		len = (size_t)(end - buf);

	if (i < len && buf[i] == '+')
		i++;
	/* base 0 (_parse_integer_fixup_radix): "0x" + hex digit is hex, "0..." octal */
	if (i < len && buf[i] == '0') {
		if (i + 2 < len && (buf[i + 1] == 'x' || buf[i + 1] == 'X') && is_hex(buf[i + 2])) {
			base = 16;
			i += 2;
		} else {
			base = 8;
		}
	}
	for (; i < len; i++, digits++) {
		unsigned int d = digit_value(buf[i]);

		if (d >= base)
			break;
		if (val > (ULONG_MAX - d) / base)
			return -EINVAL; /* overflow: kstrtoul's -ERANGE, EINVAL to the writer */
		val = val * base + d;
	}
	if (digits == 0)
		return -EINVAL; /* "", "\n", "-1", "yes" */
	if (i < len && buf[i] == '\n')
		i++;
	if (i != len)
		return -EINVAL; /* " 1", "1 ", "08", "1\n\n" */
	*ret_val = val;
	return 0;
}
