// The pod sandbox's "pause" process for the test node: PID 1 of each pod, holding its namespaces.
// No registry can be reached from here, so the node pins this locally built image; it does what the
// upstream one does: sleep until SIGINT/SIGTERM, and reap orphans (it is the pod's init).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
