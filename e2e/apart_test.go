package e2e

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// The services simulate businesses outside the system (a warehouse, a payment provider, a
// carrier), and the bench's customers are outside it too; in production neither runs on
// the Temporal server's machine. On the bench's machine they share its cores with the
// server, the workers and the API, so at 32 clients every millisecond a service spends on
// an order is a millisecond the server does not get. The apart passes measure the saga as
// it would be deployed: the services and the customers (this process) on a core of their
// own, the Temporal server, the saga's worker and API and the ceiling's worker on the
// others. Both ways are reported.

// cpuSplit is the apart passes' placement: the CPUs of the Temporal side (the server, the
// workers, the API) and the CPU of the outside (the services, the customers).
type cpuSplit struct{ temporalSide, outside []int }

// apartCPUs splits the CPUs this process may run on, read before any pass moves it: the
// last for the services and the customers, the rest for Temporal and the saga's own
// processes. It reports false with fewer than two.
func apartCPUs() (cpuSplit, bool) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return cpuSplit{}, false
	}
	var cpus []int
	for c := range len(set) * 64 {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) < 2 {
		return cpuSplit{}, false
	}
	return cpuSplit{temporalSide: cpus[:len(cpus)-1], outside: cpus[len(cpus)-1:]}, true
}

// setApart places the processes for the apart passes (apart true) or gives every one all
// the CPUs of the split again (apart false).
func (r *benchRun) setApart(b *testing.B, apart bool) {
	b.Helper()
	all := slices.Concat(r.split.temporalSide, r.split.outside)
	for name, pid := range r.procs {
		cpus := all
		if apart {
			cpus = r.split.temporalSide
			if name == "services" || name == "customers" {
				cpus = r.split.outside
			}
		}
		if err := pin(pid, cpus); err != nil {
			b.Fatalf("pin %s: %v", name, err)
		}
	}
}

// pin sets the CPU affinity of every thread of process pid. A thread takes its creator's
// affinity, so a thread started while the threads are being set may keep the old one:
// the threads are set until a round finds none new.
func pin(pid int, cpus []int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	done := map[int]bool{}
	for {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return err
		}
		fresh := 0
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil || done[tid] {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("thread %d: %w", tid, err)
			}
			done[tid] = true
			fresh++
		}
		if fresh == 0 {
			return nil
		}
	}
}
