package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/ca/meshxds"
	"github.com/gatehouse-dev/gatehouse/policy"
)

func newBootstrapCmd() *cobra.Command {
	var (
		o      meshxds.BootstrapOptions
		labels string
	)
	hostname, _ := os.Hostname()
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Print the Envoy bootstrap (JSON) that points a sidecar's ADS at Gatehouse",
		Long: "Prints an envoy.config.bootstrap.v3.Bootstrap for an Envoy sidecar of one workload: its node\n" +
			"as istio-agent announces it (id sidecar~IP~POD.NS~NS.svc.cluster.local, metadata NAMESPACE,\n" +
			"SERVICE_ACCOUNT, LABELS), Listeners and Clusters over ADS from --xds-address over mutual TLS\n" +
			"with the workload's cert-chain.pem, key.pem and root-cert.pem in --cert-dir, and the admin\n" +
			"interface on 127.0.0.1:15000. Run Envoy with `envoy -c FILE`.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.Labels, err = policy.ParseLabels(labels); err != nil {
				return fmt.Errorf("--labels: %w", err)
			}
			// Envoy resolves relative file names against its own working directory.
			if o.CertDir, err = filepath.Abs(o.CertDir); err != nil {
				return fmt.Errorf("--cert-dir: %w", err)
			}
			b, err := meshxds.Bootstrap(o)
			if err != nil {
				return err
			}
			out, err := meshxds.JSON(b)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Namespace, "namespace", "default", "namespace of the workload")
	f.StringVar(&o.ServiceAccount, "service-account", "default", "service account of the workload (its SPIFFE identity)")
	f.StringVar(&labels, "labels", "", "labels of the workload, matched by PeerAuthentication and ServiceEntry selectors (k=v,k=v)")
	f.StringVar(&o.PodName, "pod-name", hostname, "pod (or host) name in the node id")
	f.StringVar(&o.IP, "ip", "127.0.0.1", "workload IP in the node id")
	f.StringVar(&o.XDSAddress, "xds-address", "127.0.0.1:15012", "host:port of Gatehouse's xDS over TLS")
	f.StringVar(&o.CertDir, "cert-dir", "/etc/certs", "directory holding the workload's "+meshxds.CertChainFile+", "+meshxds.KeyFile+" and "+meshxds.RootCertFile)
	return cmd
}
