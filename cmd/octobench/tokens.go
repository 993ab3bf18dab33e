package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// credential is one OctoStore static token entry: principal "org/user" and
// its bearer token.
type credential struct {
	principal, token string
}

// entry formats the credential as OCTOSTORE_STATIC_TOKENS expects it.
func (c credential) entry() string { return c.principal + ":" + c.token }

// genCreds returns n distinct principals org/c0 … org/c<n-1> with tokens
// derived from seed, so that a server started with the same seed and count
// (see the tokens command) accepts them.
func genCreds(n int, org, seed string) []credential {
	out := make([]credential, n)
	for i := range out {
		sum := sha256.Sum256(fmt.Appendf(nil, "%s/%s/c%d", seed, org, i))
		out[i] = credential{
			principal: fmt.Sprintf("%s/c%d", org, i),
			token:     "ob_" + hex.EncodeToString(sum[:12]),
		}
	}
	return out
}

// parseCreds reads entries "org/user:token" separated by commas or new
// lines; blank lines and lines starting with # are skipped.
func parseCreds(text string) ([]credential, error) {
	var out []credential
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for e := range strings.SplitSeq(line, ",") {
			e = strings.TrimSpace(e)
			if e == "" {
				continue
			}
			who, tok, ok := strings.Cut(e, ":")
			if !ok || who == "" || tok == "" {
				return nil, fmt.Errorf("token entry %q: want org/user:token", e)
			}
			out = append(out, credential{principal: who, token: tok})
		}
	}
	return out, nil
}

// staticTokensEnv formats creds as the value of OCTOSTORE_STATIC_TOKENS.
func staticTokensEnv(creds []credential) string {
	parts := make([]string, len(creds))
	for i, c := range creds {
		parts[i] = c.entry()
	}
	return strings.Join(parts, ",")
}
