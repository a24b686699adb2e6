// Package archtest holds the test that keeps ordersaga's dependencies pointing one way:
//
//	cmd/* → api, starter → app → workflows → activities → services/* (their clients)
//	                                     ↘ saga (the contract), domain (value types) ↙
//
// The contract (saga) imports nothing of the project; the services import no saga
// package (and not each other); domain knows only internal plumbing; internal/* imports
// no domain package at all. books and loadgen are tools over the public API and the
// services' clients.
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/ordersaga/ordersaga/"

// rules lists, for packages under a prefix, the prefixes they must not import.
var rules = []struct {
	pkg       string
	forbidden []string
}{
	// The contract is the saga's own: it imports nothing of the project.
	{"saga", []string{""}},
	// Value types rest on plumbing alone.
	{"domain", []string{"saga", "services/", "activities", "workflows", "app", "api", "worker", "starter", "books", "loadgen", "cmd/"}},
	// Plumbing knows no domain.
	{"internal/", []string{"saga", "domain", "services/", "activities", "workflows", "app", "api", "worker", "starter", "books", "loadgen", "cmd/"}},
	// Services import no saga package, nor each other (checked below).
	{"services/", []string{"saga", "workflows", "activities", "app", "api", "worker", "starter", "books", "loadgen", "cmd/"}},
	{"activities", []string{"workflows", "app", "api", "worker", "starter", "cmd/"}},
	{"workflows", []string{"services/", "app", "api", "worker", "starter", "cmd/"}},
	{"app", []string{"activities", "api", "worker", "starter", "cmd/"}},
	{"api", []string{"activities", "workflows", "worker", "starter", "cmd/"}},
	{"worker", []string{"app", "api", "starter", "cmd/"}},
	{"starter", []string{"api", "worker", "activities", "cmd/"}},
}

func TestDependenciesPointOneWay(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		for _, r := range rules {
			if !strings.HasPrefix(pkg, r.pkg) {
				continue
			}
			checked++
			for _, imp := range fields[1:] {
				dep, ours := strings.CutPrefix(imp, module)
				if !ours {
					continue
				}
				for _, f := range r.forbidden {
					if strings.HasPrefix(dep, f) {
						t.Errorf("%s imports %s: %s must not depend on %s", pkg, dep, r.pkg, f)
					}
				}
				// A service depends on no other service.
				if strings.HasPrefix(pkg, "services/") && strings.HasPrefix(dep, "services/") &&
					strings.Split(dep, "/")[1] != strings.Split(pkg, "/")[1] {
					t.Errorf("%s imports %s: services are independent", pkg, dep)
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked %d packages: the rules match nothing, is the module path right?", checked)
	}
}
