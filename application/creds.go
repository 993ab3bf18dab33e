package application

import (
	"sync"

	"github.com/octostore/octostore/domain"
)

// credTable is the committed set of stored credentials.
type credTable struct {
	mu     sync.RWMutex
	byHash map[domain.TokenHash]domain.Credential
}

func newCredTable() *credTable {
	return &credTable{byHash: make(map[domain.TokenHash]domain.Credential)}
}

func (t *credTable) lookup(h domain.TokenHash) (domain.Credential, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	c, ok := t.byHash[h]
	return c, ok
}

func (t *credTable) len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.byHash)
}

func (t *credTable) apply(changes []domain.Change) {
	var added []domain.Credential
	for _, c := range changes {
		if c, ok := c.(domain.CredentialAdded); ok {
			added = append(added, c.Credential)
		}
	}
	if len(added) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range added {
		t.byHash[c.Hash] = c
	}
}
