#!/bin/sh
# SPDX-License-Identifier: MIT
#
# /init of the interop guest (tests/interop/qemu): BusyBox only. It mounts the pseudo
# filesystems, prints "@@ hello", then runs the host's commands from the console (ttyS0), one
# per line, "<seq> <shell command>", and frames each command's output as
#   @@ <seq> begin
#   ...
#   @@ <seq> end <exit status>
# The helper functions below are the guest side of the checks in test_qemu_mtty.py.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp
dmesg -n 1		# kernel messages stay in dmesg, off the console we parse
stty -echo 2>/dev/null	# commands are not echoed back into the output

# card: the sysfs directory of the mtty card (PCI 4348:3253)
card()
{
	for d in /sys/bus/pci/devices/*; do
		if [ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x4348:0x3253 ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

# bar_tty N: the ttyS whose I/O port is the start of the card's BAR N
bar_tty()
{
	local d start t
	d=$(card) || return 1
	start=$(sed -n "$(($1 + 1))p" "$d/resource" | cut -d' ' -f1)
	[ "$((start))" != 0 ] || return 1
	for t in /sys/class/tty/ttyS*; do
		if [ "$(($(cat "$t/port")))" = "$((start))" ]; then
			echo "${t##*/}"
			return 0
		fi
	done
	return 1
}

# info: what the guest made of the card, one "key value..." line each
info()
{
	local d n t
	d=$(card) || { echo "card none"; return 1; }
	echo "card ${d##*/} $(cat "$d/vendor") $(cat "$d/device") $(cat "$d/class")"
	echo "driver $(basename "$(readlink "$d/driver")")"
	echo "irq $(cat "$d/irq")"
	[ -d "$d/msi_irqs" ] && echo "msi_irqs $(ls "$d/msi_irqs")"
	for n in 0 1 2 3 4 5; do
		t=$(bar_tty $n) && echo "bar$n $t $(cat /sys/class/tty/$t/port) $(cat /sys/class/tty/$t/irq)"
	done
	dmesg | grep -E '4348:3253|16550A' | sed 's/^\[[^]]*\] */dmesg /'
	# the irq line exists while a port is open
	t=$(bar_tty 0) && exec 4<>/dev/"$t"
	grep -E "^ *$(cat "$d/irq"):" /proc/interrupts | sed 's/^ */interrupts /'
	exec 4<&-
	return 0
}

# irqs: the interrupt count of the card's irq, all CPUs summed ("irqs 0" while no port of the
# card is open: the 8250 driver requests its irq on open and frees it on close)
irqs()
{
	local d
	d=$(card) || return 1
	grep -E "^ *$(cat "$d/irq"):" /proc/interrupts |
		awk '{ n = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i; print "irqs " n }
		     END { if (NR == 0) print "irqs 0" }'
}

# rawtty: stdin (a ttyS) to 8-bit raw mode without echo or flow control
rawtty()
{
	stty raw -echo -iexten cs8 -parenb -cstopb clocal -crtscts -ixon -ixoff 115200
}

# tx TTY FILE: write FILE's bytes to /dev/TTY (close waits until the UART sent them), giving
# up after 60 s
tx()
{
	rawtty </dev/"$1" && timeout 60 cat "$2" >/dev/"$1"
}

# rx TTY FILE: hold TTY open in raw mode, print "@@ ready", read as many bytes as FILE has
# (giving up after 60 s) and compare them with FILE
rx()
{
	local n got
	n=$(wc -c <"$2")
	exec 3<>/dev/"$1" || return 1
	rawtty <&3 || return 1
	irqs
	echo "@@ ready"
	timeout 60 dd bs=4096 count="$n" iflag=fullblock,count_bytes <&3 of=/tmp/rx 2>/dev/null
	irqs
	exec 3<&-
	got=$(wc -c </tmp/rx)
	echo "rx $got bytes"
	cmp /tmp/rx "$2"
}

# hold TTY: keep TTY open and reading in the background (for removal under I/O)
hold()
{
	rawtty </dev/"$1" || return 1
	cat /dev/"$1" >/tmp/held 2>/tmp/held.err &
	sleep 1		# cat has opened the port (opening drains the receive FIFO)
	echo "held $!"
}

echo "@@ hello $(uname -r)"
while read -r seq line; do
	[ -n "$seq" ] || continue
	echo "@@ $seq begin"
	eval "$line"
	echo "@@ $seq end $?"
done
echo "@@ console closed"
poweroff -f
