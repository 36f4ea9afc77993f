// Command gatehouse is the security edge of a service mesh in one binary. Its subcommands only
// wire packages together; the logic lives in the packages.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitCode is returned by a command that has already said what went wrong.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	root := &cobra.Command{
		Use:           "gatehouse",
		Short:         "The security edge of a service mesh: gateway, ext_authz, SDS and workload CA in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(), newValidateCmd(), newSDSCmd(), newGatewayCmd(), newAuthzCmd(), newDemoBackendCmd(), newExplainCmd(), newCACmd(), newBootstrapCmd(), newSidecarCmd(), newVersionCmd())
	if err := root.Execute(); err != nil {
		var code exitCode
		if errors.As(err, &code) {
			os.Exit(int(code))
		}
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(1)
	}
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "gatehouse", version)
		},
	}
}
