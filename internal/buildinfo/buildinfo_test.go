package buildinfo

import "testing"

func TestLinkerVersionWins(t *testing.T) {
	old := Version
	t.Cleanup(func() { Version = old })
	Version = "v9.9.9"
	if got := Get(); got != "v9.9.9" {
		t.Fatalf("Get() = %q, want the linker's v9.9.9", got)
	}
	Version = ""
	if got := Get(); got == "" {
		t.Fatal("Get() is empty without a linker version")
	}
}
