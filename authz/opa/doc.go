// Package opa is Gatehouse's built-in OPA provider: a CUSTOM extension provider that runs Rego
// written for opa-envoy-plugin in-process. It builds the plugin's input document (attributes in
// protojson field names, parsed_path, parsed_query, parsed_body, truncated_body, version) straight
// from an authz.Request as an ast.Value, evaluates a query prepared once, and reads the plugin's
// decision document (a bool, or an object with allowed, headers, http_status, body, …) into a
// provider.Result exactly as the plugin turns it into a CheckResponse.
//
// It owns parsing Rego and mounting data files (LoadDir, MountData) and building a Provider from a
// Settings.opa entry (Builtin, which provider.Compile calls); reading the files is policy's
// (policy.ReadOPADir). It does not watch files, parse MeshConfig, or serve any protocol: policy
// decides when to rebuild a Provider, and the gateway and the ext_authz server call Check.
package opa
