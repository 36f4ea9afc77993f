package opa

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// LoadDir reads a policy directory laid out as an OPA bundle: every *.rego file under dir, and
// data.json / data.yaml / data.yml files whose content is mounted at their directory's path
// (dir/roles/data.json is data.roles), as `opa run` and bundles do. Entries whose name starts
// with ".." (Kubernetes ConfigMap mounts) are skipped. The reading is policy.ReadOPADir's, the
// same a Settings.opa dir gets.
//
// Module names are the file paths, so compile errors from New also name file:line. A Rego file
// must parse as Rego v1 or, failing that, v0; when it parses as neither, the error is the v1
// parser's, with file:line.
func LoadDir(dir string) (map[string]string, map[string]any, error) {
	rel, files, err := policy.ReadOPADir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("opa: %w", err)
	}
	modules := make(map[string]string, len(rel))
	for name, src := range rel {
		name = filepath.Join(dir, filepath.FromSlash(name))
		if err := parseRego(name, src); err != nil {
			return nil, nil, fmt.Errorf("opa: %w", err)
		}
		modules[name] = src
	}
	if len(modules) == 0 {
		return nil, nil, fmt.Errorf("opa: %s: no .rego files", dir)
	}
	data, err := MountData(dir, files)
	if err != nil {
		return nil, nil, fmt.Errorf("opa: %w", err)
	}
	return modules, data, nil
}

func parseRego(path, src string) error {
	_, err := ast.ParseModuleWithOpts(path, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err == nil {
		return nil
	}
	if _, err0 := ast.ParseModuleWithOpts(path, src, ast.ParserOptions{RegoVersion: ast.RegoV0}); err0 == nil {
		return nil
	}
	return err
}

// MountData builds the base document from data files (JSON or YAML objects) keyed by their
// slash-separated path relative to a bundle root: each is merged at its directory's path
// (roles/data.json is data.roles). dir prefixes the file names in errors.
func MountData(dir string, files map[string]string) (map[string]any, error) {
	data := map[string]any{}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := mount(data, path.Dir(name), filepath.Join(dir, filepath.FromSlash(name)), files[name]); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// mount merges one data file into data at the path of its directory.
func mount(data map[string]any, at, file, src string) error {
	var doc any
	if err := util.Unmarshal([]byte(src), &doc); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: the document must be an object", file)
	}
	node := data
	if at != "." {
		for seg := range strings.SplitSeq(at, "/") {
			next, ok := node[seg].(map[string]any)
			if !ok {
				if _, taken := node[seg]; taken {
					return fmt.Errorf("%s: data.%s: already set by another data file", file, seg)
				}
				next = map[string]any{}
				node[seg] = next
			}
			node = next
		}
	}
	return merge(file, node, obj)
}

func merge(path string, dst, src map[string]any) error {
	for k, v := range src {
		old, exists := dst[k]
		if !exists {
			dst[k] = v
			continue
		}
		om, ok1 := old.(map[string]any)
		nm, ok2 := v.(map[string]any)
		if !ok1 || !ok2 {
			return fmt.Errorf("%s: key %q: %w", path, k, errDataConflict)
		}
		if err := merge(path, om, nm); err != nil {
			return err
		}
	}
	return nil
}

var errDataConflict = errors.New("already set by another data file")
