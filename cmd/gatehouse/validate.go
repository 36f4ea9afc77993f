package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/authz/opa"
	"github.com/gatehouse-dev/gatehouse/authz/provider"
	"github.com/gatehouse-dev/gatehouse/policy"
)

func newValidateCmd() *cobra.Command {
	var wl workloadFlags
	cmd := &cobra.Command{
		Use:   "validate DIR|FILE",
		Short: "Check config as Gatehouse would load it; exit 1 when anything would be rejected",
		Long: "Loads every *.yaml/*.yml under DIR (or one FILE) exactly as `gatehouse run` does and prints\n" +
			"one line per problem, `file:line: Kind/namespace/name: field: reason`. Warnings are printed\n" +
			"but only errors make the exit status 1.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			workload, err := wl.workload()
			if err != nil {
				return err
			}
			opts := policy.LoadOptions{Workload: workload, MeshNamespace: wl.meshNamespace}
			var cfg *policy.Config
			if info, err := os.Stat(args[0]); err == nil && !info.IsDir() {
				data, err := os.ReadFile(args[0])
				if err != nil {
					return err
				}
				cfg = policy.Parse(map[string][]byte{args[0]: data}, opts)
			} else if cfg, err = policy.LoadDir(args[0], opts); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, p := range cfg.Problems {
				fmt.Fprintln(out, p)
			}
			errs := cfg.Problems.Errors()
			// Extension providers compile only from a valid config: their Rego (Settings opa)
			// and their fields are checked as `gatehouse run` would build them.
			if snap := cfg.Snapshot(1); snap != nil {
				for _, err := range providerErrors(snap) {
					fmt.Fprintf(out, "error: %v\n", err)
					errs++
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d resources, %d errors, %d warnings\n", len(cfg.Resources), errs, len(cfg.Problems)-cfg.Problems.Errors())
			if errs > 0 {
				return exitCode(1)
			}
			return nil
		},
	}
	wl.register(cmd)
	return cmd
}

// providerErrors builds snap's extension providers without dialling anything and returns what
// `gatehouse run` would log as unusable: invalid fields and Rego that does not compile (with the
// module's file:line).
func providerErrors(snap *policy.Snapshot) []error {
	_, errs := provider.Compile(snap.Mesh, provider.Options{OPA: snap.Settings.OPA, NewOPA: opa.Builtin})
	return errs
}
