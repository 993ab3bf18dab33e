// Package application holds OctoStore's use cases: acquiring, renewing and
// releasing locks, listing them, and authenticating callers.
//
// All decisions are made by one writer goroutine against the in-memory state
// plus the effects of earlier requests in the same batch; the batch is then
// committed to the Journal in one transaction, and only after the commit do
// readers see it and do callers get their answers (see WRITE-PATH.md in the
// team's shared folder). Readers never touch storage.
package application
