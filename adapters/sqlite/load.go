package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
	"github.com/octostore/octostore/domain"
)

// Load reads every lock, the fencing counter and every credential in one
// read transaction on the Reader, so the three are one consistent snapshot.
// It returns an error, never a partial snapshot, when the schema version is
// not the one this build expects (unmigrated, pending migrations, or written
// by a newer build) or when any row breaks an invariant: invalid org or
// name, empty holder, lease id not embedding the row's token, token above
// the counter, negative counter, or a malformed credential.
func (j *Journal) Load(ctx context.Context) (domain.Snapshot, error) {
	tx, err := j.db.Reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return domain.Snapshot{}, fmt.Errorf("load: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to undo
	snap, err := j.load(ctx, tx)
	if err != nil {
		return domain.Snapshot{}, fmt.Errorf("load %s: %w", j.db.path, err)
	}
	j.noteStored(snap.Counter)
	return snap, nil
}

func (j *Journal) load(ctx context.Context, tx *sql.Tx) (domain.Snapshot, error) {
	if err := j.db.checkSchema(ctx, tx); err != nil {
		return domain.Snapshot{}, err
	}
	q := sqlitedb.New(tx)
	stored, err := q.GetCounter(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Snapshot{}, errors.New("the fencing_counter row is missing")
	}
	if err != nil {
		return domain.Snapshot{}, fmt.Errorf("read counter: %w", err)
	}
	if stored < 0 {
		return domain.Snapshot{}, fmt.Errorf("fencing counter %d is negative", stored)
	}
	snap := domain.Snapshot{Counter: domain.FencingToken(stored)}

	count, err := q.CountLocks(ctx)
	if err != nil {
		return domain.Snapshot{}, fmt.Errorf("count locks: %w", err)
	}
	snap.Locks = make([]domain.Lock, 0, count)
	var after sqlitedb.ListLocksPageParams
	after.PageSize = loadPage
	// Orgs and holders repeat across many locks: share one string each.
	intern := make(map[string]string)
	for {
		rows, err := q.ListLocksPage(ctx, after)
		if err != nil {
			return domain.Snapshot{}, fmt.Errorf("read locks: %w", err)
		}
		for _, r := range rows {
			r.Org, r.Holder = interned(intern, r.Org), interned(intern, r.Holder)
			l, err := lockToDomain(r)
			if err != nil {
				return domain.Snapshot{}, fmt.Errorf("lock %q/%q: %w", r.Org, r.Name, err)
			}
			if snap.Counter < l.Token {
				return domain.Snapshot{}, fmt.Errorf("lock %q/%q: token %d is above the fencing counter %d", r.Org, r.Name, l.Token, snap.Counter)
			}
			snap.Locks = append(snap.Locks, l)
		}
		if len(rows) < loadPage {
			break
		}
		last := rows[len(rows)-1]
		after.AfterOrg, after.AfterName = last.Org, last.Name
	}

	creds, err := q.ListCredentials(ctx)
	if err != nil {
		return domain.Snapshot{}, fmt.Errorf("read credentials: %w", err)
	}
	snap.Credentials = make([]domain.Credential, 0, len(creds))
	for i, r := range creds {
		c, err := credentialToDomain(r)
		if err != nil {
			return domain.Snapshot{}, fmt.Errorf("credential %d (user %q): %w", i, r.User, err)
		}
		snap.Credentials = append(snap.Credentials, c)
	}
	return snap, nil
}

// loadPage is the number of lock rows Load reads per query.
const loadPage = 10_000

func interned(m map[string]string, s string) string {
	if v, ok := m[s]; ok {
		return v
	}
	m[s] = s
	return s
}

// lockToDomain converts a locks row and checks it as Commit does.
func lockToDomain(r sqlitedb.Lock) (domain.Lock, error) {
	if r.FencingToken <= 0 {
		return domain.Lock{}, fmt.Errorf("token %d is not positive", r.FencingToken)
	}
	l := domain.Lock{
		Key:        domain.LockKey{Org: domain.OrgID(r.Org), Name: domain.LockName(r.Name)},
		Holder:     domain.Holder(r.Holder),
		Lease:      domain.LeaseID(r.LeaseID),
		Token:      domain.FencingToken(r.FencingToken),
		AcquiredAt: time.UnixMilli(r.AcquiredAtMs),
		ExpiresAt:  time.UnixMilli(r.ExpiresAtMs),
		Metadata:   r.Metadata,
	}
	return l, checkLock(l)
}

// fromLock converts a lock into the parameters of its row.
func fromLock(l domain.Lock) sqlitedb.UpsertLockParams {
	return sqlitedb.UpsertLockParams{
		Org:          string(l.Key.Org),
		Name:         string(l.Key.Name),
		Holder:       string(l.Holder),
		LeaseID:      string(l.Lease),
		FencingToken: int64(l.Token),
		AcquiredAtMs: l.AcquiredAt.UnixMilli(),
		ExpiresAtMs:  l.ExpiresAt.UnixMilli(),
		Metadata:     l.Metadata,
	}
}

// checkLock enforces the invariants Load relies on, so that anything Commit
// stores can be loaded again. Validation errors are flattened with %v: a bad
// stored row is an internal error, and must not surface as KindInvalid.
func checkLock(l domain.Lock) error {
	if _, err := domain.ParseOrgID(string(l.Key.Org)); err != nil {
		return fmt.Errorf("%v", err)
	}
	if _, err := domain.ParseLockName(string(l.Key.Name)); err != nil {
		return fmt.Errorf("%v", err)
	}
	if l.Holder == "" {
		return errors.New("holder is empty")
	}
	if l.Token == 0 || l.Token > math.MaxInt64 {
		return fmt.Errorf("token %d is out of range", l.Token)
	}
	if t, ok := l.Lease.Token(); !ok || t != l.Token {
		return fmt.Errorf("lease id %q does not embed token %d", l.Lease, l.Token)
	}
	return nil
}

// credentialToDomain converts a credentials row and checks it as Commit does.
func credentialToDomain(r sqlitedb.Credential) (domain.Credential, error) {
	var c domain.Credential
	if len(r.Hash) != len(c.Hash) {
		return c, fmt.Errorf("hash is %d bytes, want %d", len(r.Hash), len(c.Hash))
	}
	if r.Admin != 0 && r.Admin != 1 {
		return c, fmt.Errorf("admin flag is %d", r.Admin)
	}
	copy(c.Hash[:], r.Hash)
	c.Principal = domain.Principal{Org: domain.OrgID(r.Org), User: r.User, Admin: r.Admin == 1}
	return c, checkCredential(c)
}

// fromCredential converts a credential into the parameters of its row;
// createdAt (Unix ms) is informational only.
func fromCredential(c domain.Credential, createdAt int64) sqlitedb.InsertCredentialParams {
	var admin int64
	if c.Principal.Admin {
		admin = 1
	}
	return sqlitedb.InsertCredentialParams{
		Hash:        c.Hash[:],
		Org:         string(c.Principal.Org),
		User:        c.Principal.User,
		Admin:       admin,
		CreatedAtMs: createdAt,
	}
}

// checkCredential requires a user and, for tenant principals, a valid org.
// Admin principals have no org, but a valid one is tolerated.
func checkCredential(c domain.Credential) error {
	if c.Principal.User == "" {
		return errors.New("credential user is empty")
	}
	if c.Principal.Admin && c.Principal.Org == "" {
		return nil
	}
	if _, err := domain.ParseOrgID(string(c.Principal.Org)); err != nil {
		return fmt.Errorf("%v", err) // flattened as in checkLock
	}
	return nil
}
