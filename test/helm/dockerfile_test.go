package helm

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfile checks deploy/Dockerfile's structure, since no Docker engine runs here to
// build it: a Go builder matching go.mod, a static trimmed build, a distroless non-root final
// stage, the chart's ports exposed and the binary as the entrypoint.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	root := filepath.Join(ChartDir(), "..", "..", "..")
	data, err := os.ReadFile(filepath.Join(root, "deploy", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goLine == nil {
		t.Fatal("go.mod has no go line")
	}
	var froms, users, exposed []string
	var entrypoint, goArg string
	build := ""
	// A backslash at the end of a line continues the instruction.
	instructions := strings.ReplaceAll(string(data), "\\\n", " ")
	for _, line := range strings.Split(instructions, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "ARG":
			if v, ok := strings.CutPrefix(f[1], "GO_VERSION="); ok {
				goArg = v
			}
		case "FROM":
			froms = append(froms, strings.Join(f[1:], " "))
		case "USER":
			users = append(users, f[1])
		case "EXPOSE":
			exposed = append(exposed, f[1:]...)
		case "ENTRYPOINT":
			entrypoint = strings.Join(f[1:], " ")
		case "RUN":
			build += line + "\n"
		case "HEALTHCHECK":
			t.Errorf("HEALTHCHECK %q: distroless has no shell or client to run it with", line)
		}
	}
	if goArg != string(goLine[1]) {
		t.Errorf("ARG GO_VERSION=%s, want go.mod's %s", goArg, goLine[1])
	}
	if len(froms) != 2 || froms[0] != "golang:${GO_VERSION} AS build" || froms[1] != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("FROM lines %q, want the golang builder then distroless static nonroot", froms)
	}
	if len(users) != 1 || !strings.HasPrefix(users[0], "65532") {
		t.Errorf("USER lines %q, want one USER 65532 (distroless nonroot)", users)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/gatehouse"} {
		if !strings.Contains(build, want) {
			t.Errorf("the build RUN lacks %s:\n%s", want, build)
		}
	}
	for _, port := range []string{"8080", "8443", "15021", "15090"} {
		if !strings.Contains(" "+strings.Join(exposed, " ")+" ", " "+port+" ") {
			t.Errorf("EXPOSE %q lacks %s", exposed, port)
		}
	}
	if entrypoint != `["/gatehouse"]` {
		t.Errorf(`ENTRYPOINT %s, want ["/gatehouse"]`, entrypoint)
	}
}
