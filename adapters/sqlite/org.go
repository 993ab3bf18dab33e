package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
	"github.com/octostore/octostore/domain"
)

// applyOrgChange stores a registered org or a member.
func applyOrgChange(ctx context.Context, q *sqlitedb.Queries, c domain.Change) error {
	switch c := c.(type) {
	case domain.OrgCreated:
		if _, err := domain.ParseOrgID(string(c.Org.ID)); err != nil {
			return fmt.Errorf("org: %s", err.Error())
		}
		return q.InsertOrg(ctx, sqlitedb.InsertOrgParams{ID: string(c.Org.ID), CreatedAtMs: c.Org.CreatedAt.UnixMilli()})
	case domain.MemberSaved:
		m := c.Member
		if _, err := domain.ParsePrincipal(string(m.Org), m.User); err != nil {
			return fmt.Errorf("member: %s", err.Error())
		}
		if _, err := domain.ParseRole(string(m.Role)); err != nil || m.Role == "" {
			return fmt.Errorf("member %s/%s: role %q", m.Org, m.User, m.Role)
		}
		return q.UpsertMember(ctx, sqlitedb.UpsertMemberParams{Org: string(m.Org), User: m.User, Role: string(m.Role), AddedAtMs: m.AddedAt.UnixMilli()})
	}
	return fmt.Errorf("unknown change type %T", c)
}

// loadOrgs reads the registered orgs and their members.
func loadOrgs(ctx context.Context, q *sqlitedb.Queries) ([]domain.Org, []domain.Member, error) {
	rows, err := q.ListOrgs(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read orgs: %w", err)
	}
	orgs := make([]domain.Org, 0, len(rows))
	for _, r := range rows {
		orgs = append(orgs, domain.Org{ID: domain.OrgID(r.ID), CreatedAt: time.UnixMilli(r.CreatedAtMs)})
	}
	mrows, err := q.ListMembers(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read members: %w", err)
	}
	members := make([]domain.Member, 0, len(mrows))
	for _, r := range mrows {
		members = append(members, domain.Member{Org: domain.OrgID(r.Org), User: r.User, Role: domain.Role(r.Role), AddedAt: time.UnixMilli(r.AddedAtMs)})
	}
	return orgs, members, nil
}
