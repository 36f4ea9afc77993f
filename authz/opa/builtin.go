package opa

import (
	"fmt"
	"path/filepath"

	"github.com/open-policy-agent/opa/v1/util"

	"github.com/gatehouse-dev/gatehouse/authz/provider"
)

// Builtin builds the provider a Settings.opa entry describes; it is provider.Options.NewOPA.
// Modules read from the entry's dir are named by their path under DirPath (what the operator
// opens), inline ones by their key, so a compile error names file:line.
func Builtin(b provider.BuiltinOPA) (provider.Provider, error) {
	s := b.Settings
	modules := make(map[string]string, len(s.Modules)+len(s.DirModules))
	for name, src := range s.DirModules {
		modules[filepath.Join(s.DirPath, filepath.FromSlash(name))] = src
	}
	for name, src := range s.Modules {
		if _, dup := modules[name]; dup {
			return nil, fmt.Errorf("modules.%s: also read from dir %s", name, s.Dir)
		}
		modules[name] = src
	}
	data, err := MountData(s.DirPath, s.DirData)
	if err != nil {
		return nil, fmt.Errorf("dir %s: %w", s.Dir, err)
	}
	if len(s.Data) > 0 {
		// A JSON round trip copies it (merging must not touch the snapshot's value, which other
		// readers share) and gives the numbers data files get.
		var inline any = s.Data
		if err := util.RoundTrip(&inline); err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		obj, _ := inline.(map[string]any)
		if err := merge("data", data, obj); err != nil {
			return nil, err
		}
	}
	return New(Options{
		Modules:             modules,
		Data:                data,
		Path:                s.Path,
		MaxRequestBytes:     b.MaxRequestBytes,
		AllowPartialMessage: b.AllowPartialMessage,
		FailOpen:            b.FailOpen,
		StatusOnError:       b.StatusOnError,
		Logger:              b.Log,
	})
}
