# shellcheck shell=sh
# machine_kernel KEY: succeeds, printing the container's kind, when KEY is not the host's own.
# Inside a container only net.* is: the rest (vm.*, fs.*, kernel.*) is the machine's one kernel,
# which every neighbour shares (rampart_core::resource::settable_here says the same).
machine_kernel() {
	case $1 in net.*) return 1 ;; esac
	systemd-detect-virt -cq 2>/dev/null || return 1
	systemd-detect-virt -c
}
