// Package migrations carries the schema as zero-padded, append-only SQL files.
// The embed.FS lives here because go:embed cannot reach a parent folder.
package migrations

import "embed"

// FS holds every migration; goose reads it at start-up.
//
//go:embed *.sql
var FS embed.FS
