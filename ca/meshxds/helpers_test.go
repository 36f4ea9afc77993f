package meshxds

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// webProxy is the workload the fixtures describe, as its node announces it.
var webProxy = Proxy{
	ID:             "sidecar~127.0.0.1~web-1.apps~apps.svc.cluster.local",
	Namespace:      "apps",
	ServiceAccount: "web",
	Labels:         map[string]string{"app": "web"},
	IP:             "127.0.0.1",
}

// loadSnapshot parses one testdata input into a policy snapshot.
func loadSnapshot(t *testing.T, path string) *policy.Snapshot {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	snap, ps := policy.ParseSnapshot(map[string][]byte{filepath.Base(path): b})
	if snap == nil {
		t.Fatalf("%s does not load:\n%v", path, ps)
	}
	return snap
}

// snapshotJSON renders a snapshot's Listeners and Clusters as one deterministic JSON document
// (sorted by name), the golden files' form.
func snapshotJSON(t *testing.T, snap *cachev3.Snapshot) []byte {
	t.Helper()
	doc := map[string][]json.RawMessage{}
	for key, typ := range map[string]resourcev3.Type{"listeners": resourcev3.ListenerType, "clusters": resourcev3.ClusterType} {
		byName := snap.GetResources(typ)
		names := make([]string, 0, len(byName))
		for n := range byName {
			names = append(names, n)
		}
		slices.Sort(names)
		doc[key] = []json.RawMessage{}
		for _, n := range names {
			doc[key] = append(doc[key], mustJSON(t, byName[n]))
		}
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	out, err := normalizeJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustJSON(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := JSON(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// validateSnapshot checks what Envoy would check before accepting the resources.
func validateSnapshot(t *testing.T, snap *cachev3.Snapshot) {
	t.Helper()
	if err := snap.Consistent(); err != nil {
		t.Fatalf("Consistent: %v", err)
	}
	for _, typ := range []resourcev3.Type{resourcev3.ListenerType, resourcev3.ClusterType} {
		for name, r := range snap.GetResources(typ) {
			if err := r.(interface{ ValidateAll() error }).ValidateAll(); err != nil {
				t.Errorf("%s %s: ValidateAll: %v", typ, name, err)
			}
		}
	}
}
