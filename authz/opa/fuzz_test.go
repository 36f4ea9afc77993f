package opa

import (
	"testing"
)

// FuzzInput feeds untrusted paths, queries and bodies through the input builder: it must never
// panic, only build an input or return the plugin's 400 error.
func FuzzInput(f *testing.F) {
	f.Add("/books/42", "a=1&a=2", "application/json", `{"n": [1, {"x": null}]}`)
	f.Add("/a%2Fb/%zz", "%%", "application/x-www-form-urlencoded", "a=1&b=%zz")
	f.Add("//x", "", "multipart/form-data; boundary=B",
		"--B\r\nContent-Disposition: form-data; name=\"f\"\r\nContent-Type: application/json\r\n\r\n{}\r\n--B--\r\n")
	p := newProvider(f, Options{Modules: map[string]string{"p.rego": "package envoy.authz\n\nallow := true\n"}})
	f.Fuzz(func(t *testing.T, path, query, ctype, body string) {
		r := request("POST", path, query, "Content-Type", ctype)
		_, _ = p.input(r, []byte(body))
	})
}
