package domain

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Limits of feature flags.
const (
	// MaxFlagDescriptionBytes caps a flag's description.
	MaxFlagDescriptionBytes = 1024
	// MaxSubjectBytes caps the subject a flag is evaluated for.
	MaxSubjectBytes = 256
	// FlagBuckets is how many buckets rollout percentages are measured
	// in: a percentage p covers buckets 0 to p×100-1.
	FlagBuckets = 10_000
)

// FlagName is a validated flag name, unique within an org. It follows the
// lock-name rules ('/'-separated paths) so that flags can be listed and
// watched by prefix.
type FlagName string

// ParseFlagName validates s with the lock-name rules. Returns a KindInvalid
// error coded invalid_name otherwise.
func ParseFlagName(s string) (FlagName, error) {
	if err := checkPath(s, "flag name"); err != nil {
		return "", err
	}
	return FlagName(s), nil
}

// FlagKey identifies a flag: names live inside their org.
type FlagKey struct {
	Org  OrgID
	Name FlagName
}

// Flag is a feature flag: on or off, rolled out to a percentage of the
// subjects it is evaluated for. Version starts at 1 and grows by one with
// every write; UpdatedBy is the user that wrote the flag last.
type Flag struct {
	Key         FlagKey
	Enabled     bool
	Percentage  int // 0..100
	Description string
	Version     uint64
	UpdatedAt   time.Time
	UpdatedBy   string
}

// Exists reports whether f is a stored flag rather than the zero Flag.
func (f Flag) Exists() bool { return f.Version != 0 }

// FlagSettings is what a client writes to a flag.
type FlagSettings struct {
	Enabled     bool
	Percentage  int
	Description string
}

// Flag errors a client can cause.
var (
	ErrFlagNotFound = &Error{Kind: KindNotFound, Code: "flag_not_found",
		Msg: "no flag with this name in your org"}
	ErrInvalidPercentage  = Invalid("invalid_percentage", "percentage must be from 0 to 100")
	ErrInvalidDescription = Invalid("invalid_description",
		fmt.Sprintf("description must be at most %d bytes of UTF-8", MaxFlagDescriptionBytes))
	ErrInvalidSubject = Invalid("invalid_subject",
		fmt.Sprintf("subject must be 1-%d bytes of UTF-8", MaxSubjectBytes))
)

// Check validates settings a client sent: a percentage from 0 to 100 and a
// description of at most MaxFlagDescriptionBytes of UTF-8. Returns
// ErrInvalidPercentage or ErrInvalidDescription; out-of-range values are
// refused, never clamped.
func (s FlagSettings) Check() error {
	if s.Percentage < 0 || s.Percentage > 100 {
		return ErrInvalidPercentage
	}
	if len(s.Description) > MaxFlagDescriptionBytes || !utf8.ValidString(s.Description) {
		return ErrInvalidDescription
	}
	return nil
}

// CheckSubject validates the subject of an evaluation: 1 to MaxSubjectBytes
// bytes of UTF-8. Returns ErrInvalidSubject.
func CheckSubject(s string) error {
	if s == "" || len(s) > MaxSubjectBytes || !utf8.ValidString(s) {
		return ErrInvalidSubject
	}
	return nil
}

// Write returns the next version of the flag cur (the zero Flag when it
// does not exist yet) with settings s, written by user at now.
func (cur Flag) Write(key FlagKey, s FlagSettings, user string, now time.Time) Flag {
	return Flag{Key: key, Enabled: s.Enabled, Percentage: s.Percentage, Description: s.Description,
		Version: cur.Version + 1, UpdatedAt: now, UpdatedBy: user}
}

// FlagBucket is the documented, stable bucket of subject for the flag
// name: the first 8 bytes of SHA-256("name:subject"), read as a big-endian
// unsigned integer, modulo FlagBuckets. Every client and every server
// version computes the same bucket, so a client can predict a rollout.
func FlagBucket(name FlagName, subject string) int {
	sum := sha256.Sum256([]byte(string(name) + ":" + subject))
	return int(binary.BigEndian.Uint64(sum[:8]) % FlagBuckets)
}

// InRollout reports whether a subject in bucket is covered by percentage:
// bucket < percentage×100. Raising the percentage only adds buckets, so a
// subject once in a rollout stays in it.
func InRollout(bucket, percentage int) bool { return bucket < percentage*FlagBuckets/100 }

// EnabledFor reports whether f is on for subject: the flag is enabled and
// the subject's bucket is inside its rollout.
func (f Flag) EnabledFor(subject string) bool {
	return f.Enabled && InRollout(FlagBucket(f.Key.Name, subject), f.Percentage)
}

// Validate reports the first rule that the stored flag f breaks: its org
// and name must parse, its settings pass Check, its version must be at
// least 1 and fit a signed 64-bit integer, and it must name who wrote it.
// Storage adapters check every flag they store or load with it; the error
// has no Kind (KindOf reports KindInternal).
func (f Flag) Validate() error {
	if _, err := ParseOrgID(string(f.Key.Org)); err != nil {
		return fmt.Errorf("flag org: %w", kindless(err))
	}
	if _, err := ParseFlagName(string(f.Key.Name)); err != nil {
		return kindless(err)
	}
	if err := (FlagSettings{Enabled: f.Enabled, Percentage: f.Percentage, Description: f.Description}).Check(); err != nil {
		return fmt.Errorf("flag %s: %w", f.Key.Name, kindless(err))
	}
	if f.Version == 0 || f.Version > 1<<63-1 {
		return fmt.Errorf("flag %s version %d is out of range", f.Key.Name, f.Version)
	}
	if f.UpdatedBy == "" {
		return errors.New("flag " + string(f.Key.Name) + " names no writer")
	}
	return nil
}

// FlagSaved creates or replaces a flag.
type FlagSaved struct{ Flag Flag }

// FlagDeleted removes a flag.
type FlagDeleted struct{ Key FlagKey }

func (FlagSaved) isChange()   {}
func (FlagDeleted) isChange() {}
