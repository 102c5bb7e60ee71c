// SPDX-License-Identifier: MIT
/*
 * The `create` and `remove` write parsers of src/sysfs/parse.c (mdev.md §6.5, §6.6): the
 * syntax parts of M-15..M-19, M-36 and M-37. A failed parse must leave the output untouched.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "parse.h"

#define U1 "4b2fb0a6-3a5c-4f3e-9b8d-1c2d3e4f5a6b"

static const uuid_t poison = {0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
			      0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee};

/* Parse @len bytes of @s; on success compare with U1. */
static int parse_uuid(const char *s, size_t len)
{
	uuid_t out, want;
	int ret;

	memcpy(out, poison, sizeof(out));
	ret = umdev__sysfs_parse_uuid(s, len, &out);
	if (ret == 0) {
		assert_int_equal(uuid_parse(U1, want), 0);
		assert_memory_equal(out, want, sizeof(uuid_t));
	} else {
		assert_memory_equal(out, poison, sizeof(uuid_t)); /* untouched */
	}
	return ret;
}

static void test_M15_uuid_36_bytes_without_newline(void **state)
{
	(void)state;
	assert_int_equal(parse_uuid(U1, 36), 0);
}

static void test_M14_uuid_37_bytes_with_newline(void **state)
{
	(void)state;
	assert_int_equal(parse_uuid(U1 "\n", 37), 0);
}

static void test_M16_uuid_upper_case_is_the_same_uuid(void **state)
{
	(void)state;
	assert_int_equal(parse_uuid("4B2FB0A6-3A5C-4F3E-9B8D-1C2D3E4F5A6B", 36), 0);
	assert_int_equal(parse_uuid("4b2Fb0A6-3a5C-4F3e-9b8D-1c2D3E4f5a6B", 36), 0);
}

static void test_M18_uuid_37th_byte_is_ignored(void **state)
{
	(void)state;
	assert_int_equal(parse_uuid(U1 "x", 37), 0);
	assert_int_equal(parse_uuid(U1 " ", 37), 0);
	assert_int_equal(parse_uuid(U1 "\0", 37), 0);
	assert_int_equal(parse_uuid(U1 "\r", 37), 0);
}

static void test_M17_uuid_bad_syntax_is_einval(void **state)
{
	static const char *const bad[] = {
	    "{" U1 "}",
	    "4b2fb0a63a5c4f3e9b8d1c2d3e4f5a6b",
	    "4b2fb0a63a5c4f3e9b8d1c2d3e4f5a6b\n",
	    " " U1,
	    "4b2fb0a6-3a5c-4f3e-9b8d-1c2d3e4f5a6g",
	    "g4b2fb0a-3a5c-4f3e-9b8d-1c2d3e4f5a6b",
	    "4b2fb0a6+3a5c-4f3e-9b8d-1c2d3e4f5a6b",
	    "4b2fb0a6-3a5c-4f3e-9b8d-1c2d3e4f5a6-",
	    "4b2fb0a63-a5c-4f3e-9b8d-1c2d3e4f5a6b",
	    "4b2fb0a6-3a5c-4f3e-9b8d_1c2d3e4f5a6b",
	    "urn:uuid:" U1,
	    "0x2fb0a6-3a5c-4f3e-9b8d-1c2d3e4f5a6b",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_uuid(bad[i], strlen(bad[i])), -EINVAL);
	/* an embedded NUL in the first 36 bytes */
	assert_int_equal(parse_uuid("4b2fb0a6-3a5c-4f3e-9b8d-1c2d3e4f5a6\0", 36), -EINVAL);
}

static void test_M17_uuid_wrong_length_is_einval(void **state)
{
	(void)state;
	assert_int_equal(parse_uuid(U1, 35), -EINVAL); /* 35 bytes */
	assert_int_equal(parse_uuid(U1 "\r\n", 38), -EINVAL); /* 38 bytes */
	assert_int_equal(parse_uuid(U1 "\n\n", 38), -EINVAL);
	assert_int_equal(parse_uuid(U1, 1), -EINVAL);
	assert_int_equal(parse_uuid("", 0), -EINVAL);
}

static void test_M19_uuid_4096_bytes_is_einval(void **state)
{
	char buf[4096];

	(void)state;
	memset(buf, '\n', sizeof(buf));
	memcpy(buf, U1, 36);
	assert_int_equal(parse_uuid(buf, sizeof(buf)), -EINVAL); /* what a 5000-byte write leaves */
}

/* ---- remove ---- */

static int parse_ulong(const char *s, size_t len, unsigned long *val)
{
	*val = 0xdeadbeef;
	return umdev__sysfs_parse_ulong(s, len, val);
}

static void check_value(const char *s, size_t len, unsigned long want)
{
	unsigned long val;

	assert_int_equal(parse_ulong(s, len, &val), 0);
	assert_int_equal(val, want);
}

static void check_einval(const char *s, size_t len)
{
	unsigned long val;

	assert_int_equal(parse_ulong(s, len, &val), -EINVAL);
	assert_int_equal(val, 0xdeadbeef); /* untouched */
}

#define VALUE(lit, want) check_value(lit, sizeof(lit) - 1, want)
#define EINVAL_(lit) check_einval(lit, sizeof(lit) - 1)

static void test_M36_remove_accepts_kstrtoul_base0(void **state)
{
	(void)state;
	VALUE("1", 1);
	VALUE("1\n", 1);
	VALUE("2", 2);
	VALUE("0x1", 1);
	VALUE("0X1f", 31);
	VALUE("+1", 1);
	VALUE("+0x10\n", 16);
	VALUE("010", 8); /* leading 0: octal */
	VALUE("0", 0);
	VALUE("0\n", 0);
	VALUE("00", 0);
	VALUE("18446744073709551615", ULONG_MAX);
	VALUE("0xffffffffffffffff", ULONG_MAX);
	VALUE("1\0garbage", 1); /* the kernel's copy ends at the NUL */
}

static void test_M37_remove_rejects_everything_else(void **state)
{
	(void)state;
	EINVAL_("\n");
	EINVAL_(" 1");
	EINVAL_("1 ");
	EINVAL_("-1");
	EINVAL_("yes");
	EINVAL_("08");
	EINVAL_("99999999999999999999999");
	EINVAL_("18446744073709551616"); /* ULONG_MAX + 1 */
	EINVAL_("0x10000000000000000");
	EINVAL_("1\n\n");
	EINVAL_("1\r\n");
	EINVAL_("++1");
	EINVAL_("+");
	EINVAL_("0x");
	EINVAL_("0xg");
	EINVAL_("1x");
	EINVAL_("\0"
		"1");
	EINVAL_("");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_M15_uuid_36_bytes_without_newline),
	    cmocka_unit_test(test_M14_uuid_37_bytes_with_newline),
	    cmocka_unit_test(test_M16_uuid_upper_case_is_the_same_uuid),
	    cmocka_unit_test(test_M18_uuid_37th_byte_is_ignored),
	    cmocka_unit_test(test_M17_uuid_bad_syntax_is_einval),
	    cmocka_unit_test(test_M17_uuid_wrong_length_is_einval),
	    cmocka_unit_test(test_M19_uuid_4096_bytes_is_einval),
	    cmocka_unit_test(test_M36_remove_accepts_kstrtoul_base0),
	    cmocka_unit_test(test_M37_remove_rejects_everything_else),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Spec items proved by the tests of this file (their names start with the item):
 *   M-14, M-15, M-16, M-17, M-18, M-19, M-36, M-37
 */
