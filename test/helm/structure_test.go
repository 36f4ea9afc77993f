package helm

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// The golden files pin every byte; these tests say which properties of the render matter, so
// that an -update cannot quietly lose one.

func TestRenderedContracts(t *testing.T) {
	t.Parallel()
	for _, r := range renders {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			docs := documents(t, Render(t, r.options()))
			deployments := ofKind(docs, "Deployment")
			if len(deployments) == 0 {
				t.Fatal("no Deployment rendered")
			}
			for _, d := range deployments {
				checkDeployment(t, d)
			}
			gateways := 0
			for _, s := range ofKind(docs, "Service") {
				if str(s, "metadata", "labels", "istio") == "" {
					continue
				}
				gateways++
				checkGatewayService(t, s)
			}
			if gateways == 0 {
				t.Error("no gateway Service (label istio) rendered")
			}
			checkRBAC(t, docs)
		})
	}
}

// checkDeployment: readiness where kubelet and load balancers look, scrape annotations where
// Prometheus looks, a locked-down container, and the Service's port mapping in the args.
func checkDeployment(t *testing.T, d map[string]any) {
	t.Helper()
	name := str(d, "metadata", "name")
	ann := dig(d, "spec", "template", "metadata", "annotations")
	for k, want := range map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "15090", "prometheus.io/path": "/stats/prometheus"} {
		if got := str(ann, k); got != want {
			t.Errorf("Deployment %s: annotation %s = %q, want %q", name, k, got, want)
		}
	}
	if v := dig(d, "spec", "template", "spec", "securityContext", "runAsNonRoot"); v != true {
		t.Errorf("Deployment %s: pod runAsNonRoot = %v, want true", name, v)
	}
	for _, c := range list(d, "spec", "template", "spec", "containers") {
		cname := fmt.Sprintf("Deployment %s: container %s", name, str(c, "name"))
		probe := dig(c, "readinessProbe", "httpGet")
		wantPort := 15021
		if str(c, "name") == "sds" {
			wantPort = 15022 // moved aside from the gateway's in the same pod
		}
		if str(probe, "path") != "/healthz/ready" || dig(probe, "port") != wantPort {
			t.Errorf("%s: readinessProbe.httpGet = %v, want /healthz/ready on %d", cname, probe, wantPort)
		}
		sc := dig(c, "securityContext")
		if dig(sc, "readOnlyRootFilesystem") != true || dig(sc, "allowPrivilegeEscalation") != false ||
			!slices.Contains(list(sc, "capabilities", "drop"), any("ALL")) {
			t.Errorf("%s: securityContext = %v, want read-only root, no privilege escalation, drop ALL", cname, sc)
		}
		args := list(c, "args")
		if len(args) > 0 && (args[0] == "run" || args[0] == "gateway") {
			if got := flagValue(args, "--port-map"); got != "80=8080,443=8443" {
				t.Errorf("%s: --port-map %q, want 80=8080,443=8443 (the Service's targetPorts)", cname, got)
			}
		}
	}
}

// checkGatewayService: Istio's gateway Service, 80->8080 and 443->8443, health on 15021.
func checkGatewayService(t *testing.T, s map[string]any) {
	t.Helper()
	name := str(s, "metadata", "name")
	targets := map[int]int{}
	for _, p := range list(s, "spec", "ports") {
		port, _ := dig(p, "port").(int)
		target, _ := dig(p, "targetPort").(int)
		targets[port] = target
	}
	for port, want := range map[int]int{80: 8080, 443: 8443, 15021: 15021} {
		if targets[port] != want {
			t.Errorf("Service %s: port %d -> targetPort %d, want %d", name, port, targets[port], want)
		}
	}
	if name == "istio-ingressgateway" && str(s, "spec", "type") != "LoadBalancer" {
		t.Errorf("Service %s: type %q, want LoadBalancer", name, str(s, "spec", "type"))
	}
}

// checkRBAC: Secrets are reachable only in the release namespace: read, and created (the CA's
// root, istio-ca-secret, when there is none), never updated or deleted; no wildcard.
func checkRBAC(t *testing.T, docs []map[string]any) {
	t.Helper()
	secretsRoles := 0
	for _, kind := range []string{"Role", "ClusterRole"} {
		for _, role := range ofKind(docs, kind) {
			name := kind + " " + str(role, "metadata", "name")
			for _, rule := range list(role, "rules") {
				resources, verbs := list(rule, "resources"), list(rule, "verbs")
				if slices.Contains(resources, any("*")) || slices.Contains(verbs, any("*")) || slices.Contains(list(rule, "apiGroups"), any("*")) {
					t.Errorf("%s: wildcard rule %v", name, rule)
				}
				if !slices.Contains(resources, any("secrets")) {
					continue
				}
				secretsRoles++
				if kind != "Role" || str(role, "metadata", "namespace") != Namespace {
					t.Errorf("%s (namespace %q) grants secrets: only a Role in %s may", name, str(role, "metadata", "namespace"), Namespace)
				}
				for _, v := range verbs {
					if !slices.Contains([]any{"get", "list", "watch", "create"}, v) {
						t.Errorf("%s: secrets verb %v, want only get, list, watch, create", name, v)
					}
				}
			}
		}
	}
	if secretsRoles != 2 {
		t.Errorf("%d rules grant secrets, want 2, both in the release namespace's Role (read; create)", secretsRoles)
	}
}

// TestCustomValues checks what custom.values.yaml asks for reaches the manifests: the Redis
// session store in the OIDCLogin, the plug-in CA mounted where --ca-plugin points, and the
// extra labels on every resource and pod.
func TestCustomValues(t *testing.T) {
	t.Parallel()
	docs := documents(t, Render(t, renderCase{"custom", "custom.values.yaml"}.options()))
	for _, d := range docs {
		id := str(d, "kind") + " " + str(d, "metadata", "name")
		if str(d, "metadata", "labels", "team") != "edge" || str(d, "metadata", "labels", "cost-center") != "1234" {
			t.Errorf("%s: labels %v lack extraLabels team=edge, cost-center=1234", id, dig(d, "metadata", "labels"))
		}
		if tmpl := dig(d, "spec", "template", "metadata", "labels"); tmpl != nil && str(tmpl, "team") != "edge" {
			t.Errorf("%s: pod labels %v lack team=edge", id, tmpl)
		}
	}
	for _, d := range ofKind(docs, "Deployment") {
		c := list(d, "spec", "template", "spec", "containers")[0]
		if got := flagValue(list(c, "args"), "--ca-plugin"); got != "/etc/cacerts" {
			t.Errorf("Deployment %s: --ca-plugin %q, want /etc/cacerts", str(d, "metadata", "name"), got)
		}
		mounted := false
		for _, m := range list(c, "volumeMounts") {
			mounted = mounted || (str(m, "name") == "cacerts" && str(m, "mountPath") == "/etc/cacerts")
		}
		secret := ""
		for _, v := range list(d, "spec", "template", "spec", "volumes") {
			if str(v, "name") == "cacerts" {
				secret = str(v, "secret", "secretName")
			}
		}
		if !mounted || secret != "cacerts" {
			t.Errorf("Deployment %s: Secret %q mounted at /etc/cacerts: %v; want the cacerts Secret there", str(d, "metadata", "name"), secret, mounted)
		}
	}
	files := configFiles(t, docs)
	login := files["oidclogins.yaml"]
	for _, want := range []string{"store: redis", "address: redis.sessions.svc.cluster.local:6380", "name: session-keys"} {
		if !strings.Contains(login, want) {
			t.Errorf("oidclogins.yaml lacks %q:\n%s", want, login)
		}
	}
}

// TestConfigMapLoads feeds the chart's config files to Gatehouse's own loader, as the pods
// will read them from /etc/gatehouse/config: no errors, and the trust domain arrives.
func TestConfigMapLoads(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		rc          renderCase
		trustDomain string
	}{
		{renderCase{"default", ""}, "cluster.local"},
		{renderCase{"custom", "custom.values.yaml"}, "example.org"},
	} {
		t.Run(tt.rc.name, func(t *testing.T) {
			t.Parallel()
			// The default source is the API server; the config files exist with source configmap.
			o := tt.rc.options()
			o.Set = append(o.Set, "source=configmap")
			files := map[string][]byte{}
			for name, data := range configFiles(t, documents(t, Render(t, o))) {
				files[name] = []byte(data)
			}
			cfg := policy.Parse(files, policy.LoadOptions{MeshNamespace: Namespace})
			for _, p := range cfg.Problems {
				if p.Severity == policy.Error {
					t.Errorf("config file problem: %s", p)
				}
			}
			if cfg.Mesh == nil || cfg.Mesh.GetTrustDomain() != tt.trustDomain {
				t.Errorf("MeshConfig trustDomain = %q, want %q", cfg.Mesh.GetTrustDomain(), tt.trustDomain)
			}
		})
	}
}

func documents(t *testing.T, manifests []byte) []map[string]any {
	t.Helper()
	docs, err := Documents(manifests)
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// configFiles is the data of the chart's config ConfigMap: the files of /etc/gatehouse/config.
func configFiles(t *testing.T, docs []map[string]any) map[string]string {
	t.Helper()
	for _, cm := range ofKind(docs, "ConfigMap") {
		if str(cm, "metadata", "name") == Release+"-config" {
			files := map[string]string{}
			for k, v := range dig(cm, "data").(map[string]any) {
				files[k], _ = v.(string)
			}
			return files
		}
	}
	t.Fatalf("no ConfigMap %s-config rendered", Release)
	return nil
}

func ofKind(docs []map[string]any, kind string) []map[string]any {
	var out []map[string]any
	for _, d := range docs {
		if d["kind"] == kind {
			out = append(out, d)
		}
	}
	return out
}

// dig walks nested maps; nil when a key is missing.
func dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any, path ...string) string {
	s, _ := dig(v, path...).(string)
	return s
}

func list(v any, path ...string) []any {
	l, _ := dig(v, path...).([]any)
	return l
}

// flagValue is the argument after flag in args, or "".
func flagValue(args []any, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			s, _ := args[i+1].(string)
			return s
		}
	}
	return ""
}
