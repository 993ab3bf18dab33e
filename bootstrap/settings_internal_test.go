package bootstrap

import (
	"flag"
	"os"
	"runtime/debug"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the README's settings table from Config")

// README markers around the generated settings table.
const (
	tableStart = "<!-- settings: generated from bootstrap.Config by `go test ./bootstrap -run TestREADMESettingsTable -update`; do not edit by hand -->\n"
	tableEnd   = "<!-- end of settings -->\n"
)

// TestEverySettingInHelp fails when a setting of Config has no doc tag or
// is missing from --help with its flag and environment variable.
func TestEverySettingInHelp(t *testing.T) {
	help := usage("serve")
	if len(settings()) < 12 {
		t.Fatalf("settings() found %d settings; the Config walk is broken", len(settings()))
	}
	for _, s := range settings() {
		if s.doc == "" {
			t.Errorf("setting %s has no doc tag", s.key)
		}
		want := []string{"  " + s.key + ": ", s.env, s.doc}
		if s.flag != "" {
			want = append(want, "--"+s.flag+",")
		}
		for _, w := range want {
			if !strings.Contains(help, w) {
				t.Errorf("--help lacks %q of setting %s", w, s.key)
			}
		}
	}
}

// TestREADMESettingsTable fails when the README's Configuration table is
// not the one generated from Config (a setting missing, renamed or with
// another default); -update rewrites it.
func TestREADMESettingsTable(t *testing.T) {
	const path = "../README.md"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	i, j := strings.Index(readme, tableStart), strings.Index(readme, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the settings table markers %q … %q", tableStart, tableEnd)
	}
	got, want := readme[i+len(tableStart):j], settingsTable()
	if *update && got != want {
		readme = readme[:i+len(tableStart)] + want + readme[j:]
		if err := os.WriteFile(path, []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
		got = want
	}
	for _, s := range settings() {
		if !strings.Contains(got, "| `"+s.key+"` | `"+s.env+"` |") {
			t.Errorf("the README's settings table lacks %s (%s)", s.key, s.env)
		}
	}
	if got != want {
		t.Errorf("the README's settings table is not generated from Config; run go test ./bootstrap -run TestREADMESettingsTable -update\ngot:\n%s\nwant:\n%s", got, want)
	}
}

// TestVersionOf: a stamped version wins, then the module version go build
// recorded, then the VCS revision, then DevVersion.
func TestVersionOf(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	const rev = "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		name    string
		stamped string
		info    *debug.BuildInfo
		want    string
	}{
		{"stamped", "v1.2.3", &debug.BuildInfo{Main: debug.Module{Version: "v9.9.9"}}, "v1.2.3"},
		{"module version", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}, Settings: vcs(rev, "false")}, "v0.4.0"},
		{"pseudo-version, dirty", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20260101000000-0123456789ab+dirty"}}, "v0.0.0-20260101000000-0123456789ab+dirty"},
		{"revision", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "false")}, "0123456789ab"},
		{"dirty revision", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "true")}, "0123456789ab+dirty"},
		{"go run", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, DevVersion},
		{"no build info", "", nil, DevVersion},
	} {
		if got := versionOf(tc.stamped, tc.info); got != tc.want {
			t.Errorf("%s: versionOf = %q, want %q", tc.name, got, tc.want)
		}
	}
}
