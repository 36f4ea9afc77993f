package opa

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"
)

// LoadDir reads a policy directory laid out as an OPA bundle: every *.rego file under dir, and
// data.json / data.yaml / data.yml files whose content is mounted at their directory's path
// (dir/roles/data.json is data.roles), as `opa run` and bundles do. Entries whose name starts
// with ".." (Kubernetes ConfigMap mounts) are skipped.
//
// Module names are the file paths, so compile errors from New also name file:line. A Rego file
// must parse as Rego v1 or, failing that, v0; when it parses as neither, the error is the v1
// parser's, with file:line.
func LoadDir(dir string) (map[string]string, map[string]any, error) {
	modules := map[string]string{}
	data := map[string]any{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), "..") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		switch name := d.Name(); {
		case strings.HasSuffix(name, ".rego"):
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if err := parseRego(path, string(src)); err != nil {
				return err
			}
			modules[path] = string(src)
		case name == "data.json" || name == "data.yaml" || name == "data.yml":
			return loadData(dir, path, data)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("opa: %w", err)
	}
	if len(modules) == 0 {
		return nil, nil, fmt.Errorf("opa: %s: no .rego files", dir)
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

// loadData merges one data file into data at the path of its directory.
func loadData(root, path string, data map[string]any) error {
	bs, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc any
	if err := util.Unmarshal(bs, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: the document must be an object", path)
	}
	rel, err := filepath.Rel(root, filepath.Dir(path))
	if err != nil {
		return err
	}
	node := data
	if rel != "." {
		for _, seg := range strings.Split(filepath.ToSlash(rel), "/") {
			next, ok := node[seg].(map[string]any)
			if !ok {
				if _, taken := node[seg]; taken {
					return fmt.Errorf("%s: data.%s: already set by another data file", path, seg)
				}
				next = map[string]any{}
				node[seg] = next
			}
			node = next
		}
	}
	return merge(path, node, obj)
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
