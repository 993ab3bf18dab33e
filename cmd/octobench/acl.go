package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// addACLRules makes side an owner (through the admin API, with adminToken) of the load's org and gives the org n
// ACL rules: one on "octobench" (every lock name of the load is below it)
// that lets team "load" (every client) acquire and observe, so that every
// check walks the name's components and finds it through the team, and
// n-1 rules on sibling prefixes the load never uses.
func addACLRules(ctx context.Context, base, adminToken, org string, creds []credential, side credential, n int) error {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer c.CloseIdleConnections()
	call := func(method, path, token string, body any, ok ...int) error {
		b, _ := json.Marshal(body)
		req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(b))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		for _, s := range ok {
			if resp.StatusCode == s {
				return nil
			}
		}
		return fmt.Errorf("%s %s: %s %s", method, path, resp.Status, msg)
	}
	user := func(cr credential) string { return cr.principal[strings.IndexByte(cr.principal, '/')+1:] }
	if err := call(http.MethodPost, "/admin/orgs", adminToken, map[string]string{"org": org}, http.StatusCreated, http.StatusConflict); err != nil {
		return err
	}
	if err := call(http.MethodPost, "/admin/orgs/"+org+"/users", adminToken,
		map[string]string{"user": user(side), "role": "owner"}, http.StatusCreated, http.StatusConflict); err != nil {
		return err
	}
	members := make([]string, 0, len(creds))
	for _, cr := range creds {
		members = append(members, user(cr))
	}
	if err := call(http.MethodPut, "/teams/load", side.token, map[string]any{"members": members}, http.StatusOK); err != nil {
		return err
	}
	if err := call(http.MethodPut, "/acls/octobench", side.token,
		map[string]any{"acquire": []string{"team:load"}, "observe": []string{"team:load", "user:" + user(side)}}, http.StatusOK); err != nil {
		return err
	}
	for i := 1; i < n; i++ {
		p := url.PathEscape(fmt.Sprintf("octobench-other/r%d", i))
		if err := call(http.MethodPut, "/acls/"+p, side.token, map[string]any{"acquire": []string{"user:" + user(side)}}, http.StatusOK); err != nil {
			return err
		}
	}
	return nil
}
