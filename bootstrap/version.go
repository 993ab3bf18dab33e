package bootstrap

import "runtime/debug"

// DevVersion is the version of a build that records none: go run, go test,
// or go build with VCS stamping off. `make openapi` runs `go run`, so the
// committed openapi.yaml carries it.
const DevVersion = "dev"

// BuildVersion returns the one version the binary shows everywhere (the
// version command, /health, the OpenAPI info.version, the start-up log):
// stamped when -ldflags "-X main.version=…" set it, else the main module's
// version recorded by go build (a tag or pseudo-version), else the VCS
// revision it recorded (12 hex digits, "+dirty" for uncommitted changes),
// else DevVersion.
func BuildVersion(stamped string) string {
	info, _ := debug.ReadBuildInfo() // nil when the binary records none
	return versionOf(stamped, info)
}

// versionOf is BuildVersion for the build information info (nil if none).
func versionOf(stamped string, info *debug.BuildInfo) string {
	if stamped != "" {
		return stamped
	}
	if info == nil {
		return DevVersion
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return DevVersion
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "+dirty"
	}
	return rev
}
