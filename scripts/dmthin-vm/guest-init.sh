#!/bin/bash
# thinsr dmthin-vm: PID 1 after switch_root (the host's bash on the overlay root).
# Writes the LVM settings a udev-less system needs, runs the command with the
# host's environment and cwd, stores its exit status on the control share and
# powers the VM off.
CTL=/run/thinsr-vm
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
log() { local uptime; read -r uptime _ </proc/uptime; echo "[$uptime] $*" >>"$CTL/guest.log"; }
power_off() {
  echo "$1" >"$CTL/rc.part" && mv "$CTL/rc.part" "$CTL/rc"
  sync
  echo o >/proc/sysrq-trigger
  sleep 30
}
exec </dev/null >>"$CTL/guest.log" 2>&1
log "guest-init started, kernel $(uname -r)"
for module in dm-mod dm-thin-pool dm-snapshot loop nbd; do  # normally already in from the initramfs
  [ -d "/sys/module/${module//-/_}" ] || modprobe "$module" || log "modprobe $module failed"
done

# There is no udev, dmeventd or lvmpolld in the VM.  Required:
#   activation/udev_sync=0 and udev_rules=0 -- otherwise lvcreate of a thin pool fails with
#   "/dev/VG/lvol0: not found: device not cleared"; with them libdevmapper creates
#   /dev/mapper/* and /dev/VG/LV itself.
# The rest keeps lvm from waiting for, or asking, daemons that do not run.
# (This is the overlay's /etc/lvm/lvmlocal.conf; the host's file is not touched.)
cat >/etc/lvm/lvmlocal.conf <<'CONF'
devices {
	obtain_device_list_from_udev = 0
	external_device_info_source = "none"
	use_devicesfile = 0
}
activation {
	udev_sync = 0
	udev_rules = 0
	verify_udev_operations = 0
	monitoring = 0
}
global {
	use_lvmpolld = 0
	event_activation = 0
}
CONF

mapfile -d '' environment <"$CTL/env"
mapfile -d '' command <"$CTL/args"
cd "$(<"$CTL/cwd")" || { log "cannot cd to $(<"$CTL/cwd")"; cd /; }
disks=$(<"$CTL/disks")
log "running ${command[*]}"
# DM_DISABLE_UDEV=1: dmsetup does not read lvm.conf; without it "dmsetup create"
# waits for udev and never makes /dev/mapper/NAME.
env -i "${environment[@]}" THINSR_VM=1 THINSR_VM_DISKS="$disks" DM_DISABLE_UDEV=1 \
  "${command[@]}" </dev/null >>"$CTL/stdout" 2>>"$CTL/stderr"
status=$?
log "exit status $status"
power_off "$status"
