package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/octostore/octostore/domain"
)

// apiGuard keeps each principal's own API calls within a token bucket
// (golang.org/x/time/rate), so that one noisy tenant cannot starve the
// others. Every authenticated request takes one token of its principal's
// bucket; public routes (/health, /docs, /openapi.*, sign-in) take none.
// The buckets sit in a sync.Map: a request of a known principal costs one
// map load and the limiter's own lock.
type apiGuard struct {
	limit rate.Limit
	burst int
	off   bool
	// buckets maps "org/user" (or "" for the admin) to *rate.Limiter.
	buckets sync.Map
}

// newAPIGuard returns a guard allowing perSecond requests per second on
// average and burst at once to each principal; perSecond 0 turns it off.
func newAPIGuard(perSecond float64, burst int) *apiGuard {
	return &apiGuard{limit: rate.Limit(perSecond), burst: max(burst, 1), off: perSecond <= 0}
}

// allow takes one token of p's bucket at now. When none is left it takes
// nothing and returns how long until one is.
func (g *apiGuard) allow(p domain.Principal, now time.Time) (time.Duration, bool) {
	key := ""
	if !p.Admin {
		key = string(p.Org) + "/" + p.User
	}
	return g.allowN(key, 1, now)
}

// allowN takes n tokens of key's bucket at now. When fewer are left it
// takes nothing and returns how long until n are.
func (g *apiGuard) allowN(key string, n int, now time.Time) (time.Duration, bool) {
	if g.off {
		return 0, true
	}
	v, ok := g.buckets.Load(key)
	if !ok {
		v, _ = g.buckets.LoadOrStore(key, rate.NewLimiter(g.limit, g.burst))
	}
	lim := v.(*rate.Limiter)
	if lim.AllowN(now, n) {
		return 0, true
	}
	r := lim.ReserveN(now, n)
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	return wait, false
}

// errRateLimited documents the guard's refusal, which every operation
// that needs a token can answer.
var errRateLimited = errorDoc{http.StatusTooManyRequests, "`rate_limited`: you (this org/user) sent more requests than the server allows per second (`api.rate`, `api.burst`); retry after `Retry-After` seconds.",
	rateLimitedProblem(time.Second)}

// errConfigRateLimited documents the refusal of a config write beyond its
// org's config.write_rate.
var errConfigRateLimited = errorDoc{http.StatusTooManyRequests, "`rate_limited`: your org's config writes passed `config.write_rate` bytes per second; retry after `Retry-After` seconds.",
	rateLimitedProblem(time.Second)}

// configRateLimitedProblem refuses a config write beyond its org's byte
// rate: retry after wait.
func configRateLimitedProblem(wait time.Duration) *Problem {
	p := rateLimitedProblem(wait)
	p.Detail = "your org's config writes passed the bytes per second the server allows (config.write_rate); slow down"
	return p
}

// rateLimitedProblem is the guard's 429: retry after wait, in whole
// seconds (at least 1).
func rateLimitedProblem(wait time.Duration) *Problem {
	p := newProblem(http.StatusTooManyRequests, "rate_limited", "too many requests from this principal; slow down")
	p.headers = http.Header{"Retry-After": {strconv.Itoa(max(1, int(math.Ceil(wait.Seconds()))))}}
	return p
}
