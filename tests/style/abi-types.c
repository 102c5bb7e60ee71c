/* SPDX-License-Identifier: MIT */
/*
 * abi-types.c - every type of the public headers, for the ABI check (abi/README.md).
 *
 * libumdev's DWARF holds only the types its exported functions reach, and some public types
 * no function of libumdev reaches as a definition: struct umdev_vfio_ops (a pointer in struct
 * umdev_driver, declared only where the core uses it), struct umdev_module and struct
 * umdev_module_param (umdevd reads them from the modules). Built with
 * -fno-eliminate-unused-debug-types, this module's DWARF holds every type the headers define,
 * used or not; tests/style/check-abi.sh compares them with abi/umdev-types.abi. Include every
 * header of include/umdev/ here: check-abi.sh fails when one is missing.
 */
#include <umdev/log.h>
#include <umdev/mdev.h>
#include <umdev/module.h>
#include <umdev/pci.h>
#include <umdev/vfio.h>

void umdev_abi_types(void);

void umdev_abi_types(void)
{
}
