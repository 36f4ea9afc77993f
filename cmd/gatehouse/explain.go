package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/jwt"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// explainFlags describe one request to explain, as the gateway would see it.
type explainFlags struct {
	workloadFlags
	config          string
	serviceName     string
	method          string
	host            string
	path            string
	headers         []string
	token           string
	sourcePrincipal string
	sourceIP        string
	remoteIP        string
	port            uint16
	tcp             bool
	sni             string
	json            bool
}

func newExplainCmd() *cobra.Command {
	var f explainFlags
	cmd := &cobra.Command{
		Use:   "explain --config DIR [request flags]",
		Short: "Explain the authorization decision for one request: which JWT rule, CUSTOM provider, DENY or ALLOW rule decided, and why",
		Long: "Loads --config as `gatehouse run` does and decides the request described by the flags as the\n" +
			"gateway would: the raw --path is normalized per MeshConfig pathNormalization, the --jwt is\n" +
			"verified against the RequestAuthentication rules (remote JWKS are fetched), then CUSTOM, DENY\n" +
			"and ALLOW policies are evaluated. It prints the decision and the path to it; when no ALLOW rule\n" +
			"matches, the nearest rule and each of its conditions that failed. CUSTOM providers defined in\n" +
			"MeshConfig count as ready. Tokens and credentials are redacted from the output.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runExplain(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "config directory (required)")
	fl.StringVar(&f.serviceName, "service-name", "istio-ingressgateway", "Services selecting the workload, matched by targetRefs (comma-separated)")
	fl.StringVar(&f.method, "method", http.MethodGet, "HTTP method")
	fl.StringVar(&f.host, "host", "localhost", "authority (Host), port included if the client sends one")
	fl.StringVar(&f.path, "path", "/", "request path as the client sends it (raw, with an optional ?query)")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, "request header 'name: value' (repeatable)")
	fl.StringVar(&f.token, "jwt", "", "JWT sent as 'Authorization: Bearer TOKEN'")
	fl.StringVar(&f.sourcePrincipal, "source-principal", "", "peer SPIFFE ID without spiffe:// (cluster.local/ns/NS/sa/SA), as from mTLS")
	fl.StringVar(&f.sourceIP, "source-ip", "127.0.0.1", "downstream peer IP (ipBlocks, source.ip)")
	fl.StringVar(&f.remoteIP, "remote-ip", "", "original client IP (remoteIpBlocks, remote.ip); default --source-ip")
	fl.Uint16Var(&f.port, "port", 8080, "port the request arrived at (ports, destination.port)")
	fl.BoolVar(&f.tcp, "tcp", false, "explain a TCP connection instead of an HTTP request")
	fl.StringVar(&f.sni, "sni", "", "TLS server name the client sent (connection.sni)")
	fl.BoolVar(&f.json, "json", false, "print the explanation as JSON")
	_ = cmd.MarkFlagRequired("config")
	f.workloadFlags.register(cmd)
	// The same flags describe the gateway itself in other commands; here they name the workload
	// whose policies apply.
	cmd.Flags().Lookup("namespace").Usage = "namespace of the workload whose policies apply"
	cmd.Flags().Lookup("labels").Usage = "labels of the workload whose policies apply (k=v,k=v)"
	return cmd
}

func runExplain(ctx context.Context, f explainFlags, out, errOut io.Writer) error {
	wl, err := f.workload()
	if err != nil {
		return err
	}
	r, rawPath, err := f.request(wl)
	if err != nil {
		return err
	}
	cfg, err := policy.LoadDir(f.config, policy.LoadOptions{Workload: wl, MeshNamespace: f.meshNamespace})
	if err != nil {
		return err
	}
	snap := cfg.Snapshot(1)
	if snap == nil {
		for _, p := range cfg.Problems {
			fmt.Fprintln(errOut, p)
		}
		return fmt.Errorf("--config %s: the config does not load (%d errors)", f.config, cfg.Problems.Errors())
	}
	keys := jwt.NewKeys(jwt.KeysOptions{})
	defer keys.Close()
	c, err := authz.Compile(snap, keys)
	if err != nil {
		return fmt.Errorf("--config %s: %w", f.config, err)
	}
	e := authz.NewEngine(authz.Options{CustomProviderReady: func(string) bool { return true }})
	e.Apply(c)
	ex := e.ExplainRawPath(ctx, r, rawPath)
	if f.json {
		b, err := json.MarshalIndent(ex, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	}
	_, err = io.WriteString(out, ex.String())
	return err
}

// request builds the request the flags describe, and its raw path (without the query).
func (f *explainFlags) request(wl policy.Workload) (*authz.Request, string, error) {
	src, err := netip.ParseAddr(f.sourceIP)
	if err != nil {
		return nil, "", fmt.Errorf("--source-ip: %w", err)
	}
	remote := src
	if f.remoteIP != "" {
		if remote, err = netip.ParseAddr(f.remoteIP); err != nil {
			return nil, "", fmt.Errorf("--remote-ip: %w", err)
		}
	}
	services := strings.FieldsFunc(f.serviceName, func(r rune) bool { return r == ',' || r == ' ' })
	r := &authz.Request{
		Workload:        authz.NewWorkload(wl.Namespace, wl.Labels, services...),
		HTTP:            !f.tcp,
		Source:          netip.AddrPortFrom(src.Unmap(), 0),
		RemoteIP:        remote.Unmap(),
		Destination:     netip.AddrPortFrom(netip.IPv4Unspecified(), f.port),
		SourcePrincipal: strings.TrimPrefix(f.sourcePrincipal, "spiffe://"),
		SNI:             f.sni,
	}
	if f.tcp {
		return r, "", nil
	}
	rawPath, query, _ := strings.Cut(f.path, "?")
	r.Method, r.Host, r.RawQuery, r.Scheme = f.method, f.host, query, "http"
	if f.sni != "" {
		r.Scheme = "https"
	}
	r.Header = http.Header{}
	for _, h := range f.headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, "", fmt.Errorf("-H %q: want 'name: value'", h)
		}
		r.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if f.token != "" {
		r.Header.Set("Authorization", "Bearer "+f.token)
	}
	return r, rawPath, nil
}
