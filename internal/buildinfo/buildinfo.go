// Package buildinfo provides the version of the running binary, set at link
// time (-X .../internal/buildinfo.Version=v1.2.3) or read from the module
// build information.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Version is the release version, set by the linker. When empty, the
// module version or VCS revision recorded by the Go toolchain is used.
var Version string

// Get returns the version string: the linker's, else the main module's
// version, else the VCS revision, else "dev".
func Get() string {
	if Version != "" {
		return Version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return s.Value[:12]
		}
	}
	return "dev"
}

// GoVersion returns the Go toolchain version the binary was built with.
func GoVersion() string { return runtime.Version() }
