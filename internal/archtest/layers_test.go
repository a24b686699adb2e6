// Package archtest holds the test that keeps ordersaga's dependencies pointing one way:
//
//	cmd/* → api, worker, starter → workflows → activities → services/* (their clients)
//
// Services never import the saga or each other; activities never import workflows;
// workflows reach the services only through activities.
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
	{"services/", []string{"workflows", "activities", "api", "worker", "starter", "cmd/"}},
	{"activities", []string{"workflows", "api", "worker", "starter", "cmd/"}},
	{"workflows", []string{"services/", "api", "worker", "starter", "cmd/"}},
	{"api", []string{"activities", "worker", "starter", "cmd/"}},
	{"worker", []string{"api", "starter", "cmd/"}},
	{"starter", []string{"api", "worker", "activities", "cmd/"}},
	{"internal/", []string{"activities", "api", "worker", "starter", "services/", "cmd/"}},
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
	if checked < 10 {
		t.Fatalf("checked %d packages: the rules match nothing, is the module path right?", checked)
	}
}
