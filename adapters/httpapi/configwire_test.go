package httpapi

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// TestConfigValueEncodesAsHuma: a config value writes itself byte for byte
// as huma's JSON format writes it (members, order, escaping, times, the
// final newline), and the format sends other bodies to huma's encoder.
func TestConfigValueEncodesAsHuma(t *testing.T) {
	at := wireTime(time.Date(2026, 12, 5, 13, 4, 5, 678_000_000, time.UTC))
	for _, v := range []ConfigValue{
		{Key: "app/feature-x", Value: json.RawMessage(`{"enabled":true,"limit":10}`), Version: 3, UpdatedAt: at, UpdatedBy: "alice", Description: "rollout"},
		{Key: "a/<b>&c", Value: json.RawMessage(`"<script>&\u2028"`), Version: 1<<63 - 1, UpdatedAt: at, UpdatedBy: "bob\"quote", Description: "tab\there, é, \u2029 <>&"},
		{Key: "k", Value: json.RawMessage(`null`), Version: 1, UpdatedAt: at},
		{Key: "k", Value: json.RawMessage(`[1,2.5e10,"x",{"y":[]}]`), Version: 2, UpdatedAt: wireTime(time.Unix(0, 0))},
	} {
		var want, got bytes.Buffer
		if err := huma.DefaultJSONFormat.Marshal(&want, v); err != nil {
			t.Fatal(err)
		}
		if err := jsonFormat.Marshal(&got, v); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("encoded\n%s\nwant\n%s", got.String(), want.String())
		}
	}
	var got bytes.Buffer
	if err := jsonFormat.Marshal(&got, map[string]string{"a": "<b>"}); err != nil || got.String() != "{\"a\":\"<b>\"}\n" {
		t.Errorf("other body: %q, %v", got.String(), err)
	}
}
