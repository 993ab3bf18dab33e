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

func (t *credTable) apply(changes []domain.Change) []domain.TokenHash {
	var revoked []domain.TokenHash
	touched := false
	for _, c := range changes {
		switch c := c.(type) {
		case domain.CredentialAdded:
			touched = true
		case domain.CredentialRevoked:
			touched = true
			revoked = append(revoked, c.Hash)
		}
	}
	if !touched {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range changes {
		switch c := c.(type) {
		case domain.CredentialAdded:
			t.byHash[c.Credential.Hash] = c.Credential
		case domain.CredentialRevoked:
			delete(t.byHash, c.Hash)
		}
	}
	return revoked
}

// all returns the stored credentials, in no particular order.
func (t *credTable) all() []domain.Credential {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]domain.Credential, 0, len(t.byHash))
	for _, c := range t.byHash {
		out = append(out, c)
	}
	return out
}
