#!/bin/busybox sh
# thinsr dmthin-vm: /init of the initramfs (busybox sh, PID 1).
# Loads the modules listed in /modules/order (dependency order, computed on the
# host with modprobe --show-depends), builds the guest root
#     / = overlay(lower: the host's "/" over read-only virtio-9p, upper: tmpfs)
# mounts the kernel modules, the control share and the writable host
# directories, then switch_root's into the host's bash running guest-init.sh.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
halt_now() { echo "thinsr-vm preinit: $*" >/dev/kmsg; echo o >/proc/sysrq-trigger; sleep 30; }

while read -r module; do
  [ -z "$module" ] || insmod "/modules/$module" || echo "insmod $module failed" >/dev/kmsg
done </modules/order

P9="trans=virtio,version=9p2000.L,msize=262144"
mkdir -p /lower /upper /root
mount -t 9p -o "$P9,ro,cache=loose" hostroot /lower || halt_now "cannot mount the host root"
mount -t tmpfs -o mode=755 tmpfs /upper || halt_now "cannot mount tmpfs"
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work overlay /root \
  || halt_now "cannot mount the overlay root"

mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /root/run
mkdir -p /root/run/thinsr-vm /root/run/lock/lvm /root/run/lvm /root/etc/lvm
mount -t 9p -o "$P9,cache=none" ctl /root/run/thinsr-vm || halt_now "cannot mount the control share"
release=$(uname -r)
mkdir -p "/root/lib/modules/$release"
mount -t 9p -o "$P9,ro,cache=loose" modules "/root/lib/modules/$release" || halt_now "cannot mount the modules"
if [ -f /root/run/thinsr-vm/mounts ]; then   # lines: TAG<TAB>PATH, shortest path first
  while IFS='	' read -r tag path; do
    [ -n "$tag" ] || continue
    mkdir -p "/root$path"
    mount -t 9p -o "$P9,cache=mmap" "$tag" "/root$path" || echo "cannot mount $path" >/dev/kmsg
  done </root/run/thinsr-vm/mounts
fi
# what udev and systemd would otherwise provide
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /dev/shm
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
ip link set lo up 2>/dev/null
hostname thinsr-vm
mount --move /proc /root/proc
mount --move /sys /root/sys
mount --move /dev /root/dev
exec switch_root /root /bin/bash /run/thinsr-vm/guest-init.sh
