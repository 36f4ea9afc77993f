package demo

import (
	"encoding/json"
	"testing"
)

func TestAppendString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
	}{
		{"", `""`},
		{"plain v1", `"plain v1"`},
		{`quote " backslash \`, `"quote \" backslash \\"`},
		{"nl\n cr\r tab\t nul\x00 esc\x1b", `"nl\n cr\r tab\t nul\u0000 esc\u001b"`},
		{"é ü 漢", `"é ü 漢"`},
		{"bad \xff byte", `"bad \ufffd byte"`},
		{"truncated \xe6\xbc", `"truncated \ufffd\ufffd"`},
		{"line\u2028para\u2029", `"line\u2028para\u2029"`},
		{"<html>&", `"<html>&"`},
	}
	for _, tt := range tests {
		got := string(appendString(nil, tt.in))
		if got != tt.want {
			t.Errorf("appendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("appendString(%q) = %s: not valid JSON", tt.in, got)
		}
	}
}

// FuzzAppendString checks that any input, valid UTF-8 or not, yields JSON that decodes to what
// encoding/json would have produced for the same string.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\", "\x00\x1f\x7f", "\xff\xfe", "\u2028", "漢字", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendString([]byte("x"), s)[1:]
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("appendString(%q) = %s: %v", s, out, err)
		}
		ref, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var want string
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("appendString(%q) decodes to %q, encoding/json gives %q", s, got, want)
		}
	})
}
