package application

import "github.com/octostore/octostore/domain"

// ConfigBounds exposes, to tests, what the committed config table counts
// of org: the bytes of its kept history, its tombstones and its version
// floor.
func (e *Engine) ConfigBounds(org domain.OrgID) (hist, tombs int, floor uint64) {
	return e.configs.bounds(org)
}
