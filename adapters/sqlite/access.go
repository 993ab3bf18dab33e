package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
	"github.com/octostore/octostore/domain"
)

// applyAccessChange stores a team or an ACL rule, or deletes one, inside
// Commit's transaction.
func applyAccessChange(ctx context.Context, q *sqlitedb.Queries, c domain.Change) error {
	switch c := c.(type) {
	case domain.TeamSaved:
		t := c.Team
		if err := t.Validate(); err != nil {
			return fmt.Errorf("team %s/%s: %w", t.Org, t.Name, err)
		}
		members, err := json.Marshal(t.Members)
		if err != nil {
			return fmt.Errorf("team %s/%s: %w", t.Org, t.Name, err)
		}
		return q.UpsertTeam(ctx, sqlitedb.UpsertTeamParams{Org: string(t.Org), Name: t.Name,
			Members: string(members), UpdatedAtMs: t.UpdatedAt.UnixMilli()})
	case domain.TeamDeleted:
		return q.DeleteTeam(ctx, sqlitedb.DeleteTeamParams{Org: string(c.Org), Name: c.Name})
	case domain.ACLSaved:
		a := c.ACL
		if err := a.Validate(); err != nil {
			return fmt.Errorf("acl %s/%s: %w", a.Org, a.Prefix, err)
		}
		acquire, err := json.Marshal(a.Acquire)
		if err != nil {
			return fmt.Errorf("acl %s/%s: %w", a.Org, a.Prefix, err)
		}
		observe, err := json.Marshal(a.Observe)
		if err != nil {
			return fmt.Errorf("acl %s/%s: %w", a.Org, a.Prefix, err)
		}
		return q.UpsertACL(ctx, sqlitedb.UpsertACLParams{Org: string(a.Org), Prefix: string(a.Prefix),
			Acquire: string(acquire), Observe: string(observe), UpdatedAtMs: a.UpdatedAt.UnixMilli(), UpdatedBy: a.UpdatedBy})
	case domain.ACLDeleted:
		return q.DeleteACL(ctx, sqlitedb.DeleteACLParams{Org: string(c.Org), Prefix: string(c.Prefix)})
	}
	return fmt.Errorf("unknown change type %T", c)
}

// loadAccess reads every org's teams and ACL rules, checked with the
// rules a client's input was checked with (a row that breaks them is
// corruption, so the errors lose their Kind).
func loadAccess(ctx context.Context, q *sqlitedb.Queries) ([]domain.Team, []domain.ACL, error) {
	trows, err := q.ListTeams(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read teams: %w", err)
	}
	teams := make([]domain.Team, 0, len(trows))
	for _, r := range trows {
		var members []string
		if err := json.Unmarshal([]byte(r.Members), &members); err != nil {
			return nil, nil, fmt.Errorf("team %s/%s: members: %s", r.Org, r.Name, err)
		}
		t, err := domain.NewTeam(domain.OrgID(r.Org), r.Name, members, time.UnixMilli(r.UpdatedAtMs))
		if err != nil {
			return nil, nil, fmt.Errorf("team %s/%s: %s", r.Org, r.Name, err)
		}
		teams = append(teams, t)
	}
	arows, err := q.ListACLs(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read acls: %w", err)
	}
	acls := make([]domain.ACL, 0, len(arows))
	for _, r := range arows {
		var acquire, observe []string
		if err := json.Unmarshal([]byte(r.Acquire), &acquire); err != nil {
			return nil, nil, fmt.Errorf("acl %s/%s: acquire: %s", r.Org, r.Prefix, err)
		}
		if err := json.Unmarshal([]byte(r.Observe), &observe); err != nil {
			return nil, nil, fmt.Errorf("acl %s/%s: observe: %s", r.Org, r.Prefix, err)
		}
		a, err := domain.NewACL(domain.OrgID(r.Org), r.Prefix, nonNil(acquire), nonNil(observe), r.UpdatedBy, time.UnixMilli(r.UpdatedAtMs))
		if err != nil {
			return nil, nil, fmt.Errorf("acl %s/%s: %s", r.Org, r.Prefix, err)
		}
		acls = append(acls, a)
	}
	return teams, acls, nil
}

// nonNil keeps a stored empty list empty: NewACL reads nil as "every
// member", which only a client's omitted field means.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
