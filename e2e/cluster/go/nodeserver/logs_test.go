package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestTailOffset(t *testing.T) {
	cases := []struct {
		text string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc\n", 0, ""},
		{"a\nb\nc\n", 10, "a\nb\nc\n"},
		{"a\nb\nc", 1, "c"},
		{"a\nb\nc", 2, "b\nc"},
		{"", 3, ""},
		{"\n\n", 1, "\n"},
	}
	for _, tc := range cases {
		path := filepath.Join(t.TempDir(), "log")
		if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Seek(tailOffset(f, tc.n), io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(f)
		f.Close()
		if string(got) != tc.want {
			t.Errorf("tail %d of %q = %q, want %q", tc.n, tc.text, got, tc.want)
		}
	}
}

func TestSplitPath(t *testing.T) {
	ns, pod, uid, name, err := splitPath("/exec/kfp/p1/c1", "/exec/")
	if err != nil || ns != "kfp" || pod != "p1" || uid != "" || name != "c1" {
		t.Errorf("got %q %q %q %q %v", ns, pod, uid, name, err)
	}
	_, _, uid, name, err = splitPath("/containerLogs/kfp/p1/u-1/c1", "/containerLogs/")
	if err != nil || uid != "u-1" || name != "c1" {
		t.Errorf("got %q %q %v", uid, name, err)
	}
	if _, _, _, _, err := splitPath("/exec/kfp", "/exec/"); err == nil {
		t.Error("a short path must be refused")
	}
}
