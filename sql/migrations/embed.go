// Package migrations embeds the goose SQL migrations that define OctoStore's
// SQLite schema. The same files are sqlc's schema input, so they stay pure
// SQL (no Go migrations).
package migrations

import "embed"

// FS holds every *.sql migration at its root, ready for goose.NewProvider.
//
//go:embed *.sql
var FS embed.FS
