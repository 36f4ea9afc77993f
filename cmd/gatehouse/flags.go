package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// workloadFlags say which gateway workload this process is, as Istio's gateway Deployment does
// with its namespace and pod labels.
type workloadFlags struct {
	namespace     string
	labels        string
	meshNamespace string
}

func (f *workloadFlags) register(cmd *cobra.Command) {
	d := policy.DefaultWorkload()
	cmd.Flags().StringVar(&f.namespace, "namespace", d.Namespace, "namespace of this gateway workload (credentialName Secrets are read from it)")
	cmd.Flags().StringVar(&f.labels, "labels", "istio=ingressgateway", "labels of this gateway workload, matched by Gateway selectors (k=v,k=v)")
	cmd.Flags().StringVar(&f.meshNamespace, "mesh-namespace", "istio-system", "namespace of the `istio` ConfigMap holding MeshConfig")
}

func (f *workloadFlags) workload() (policy.Workload, error) {
	labels, err := policy.ParseLabels(f.labels)
	if err != nil {
		return policy.Workload{}, fmt.Errorf("--labels: %w", err)
	}
	return policy.Workload{Namespace: f.namespace, Labels: labels}, nil
}

// parsePortMap parses "80=8080,443=8443": a Gateway server port to the port actually listened on.
func parsePortMap(s string) (map[uint32]uint32, error) {
	out := map[uint32]uint32{}
	for _, kv := range strings.Split(s, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		from, to, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not port=port", kv)
		}
		f, err1 := strconv.ParseUint(from, 10, 16)
		t, err2 := strconv.ParseUint(to, 10, 16)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%q: ports must be 0-65535", kv)
		}
		out[uint32(f)] = uint32(t)
	}
	return out, nil
}
