package jelou

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestSecretRedacted prints, logs and marshals a Secret (alone, by pointer
// and as a field) every way a caller might, and checks the exact redacted
// form, "" for an unset secret, and that the value never appears.
func TestSecretRedacted(t *testing.T) {
	const value = "Pl4in-S3cret-VALUE"
	type holder struct{ S Secret }
	tests := []struct {
		name   string
		secret Secret
		want   map[string]string // verb -> exact output
	}{
		{"set", value, map[string]string{
			"%v": "[REDACTED]", "%+v": "[REDACTED]", "%s": "[REDACTED]", "%x": "[REDACTED]", "%X": "[REDACTED]",
			"%d": "[REDACTED]", "%10s": "[REDACTED]", "%q": `"[REDACTED]"`, "%#v": `"[REDACTED]"`,
		}},
		{"empty", "", map[string]string{
			"%v": "", "%+v": "", "%s": "", "%x": "", "%X": "", "%d": "", "%10s": "", "%q": `""`, "%#v": `""`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.secret
			for verb, want := range tt.want {
				if got := fmt.Sprintf(verb, s); got != want {
					t.Errorf("Sprintf(%q, secret) = %q, want %q", verb, got, want)
				}
				if got := fmt.Sprintf(verb, &s); strings.Contains(got, value) {
					t.Errorf("Sprintf(%q, &secret) = %q", verb, got)
				}
			}
			if got, want := fmt.Sprintf("%+v", holder{s}), "{S:"+tt.want["%v"]+"}"; got != want {
				t.Errorf("%%+v of a struct = %q, want %q", got, want)
			}
			if got, want := fmt.Sprintf("%#v", holder{s}), "jelou.holder{S:"+tt.want["%#v"]+"}"; got != want {
				t.Errorf("%%#v of a struct = %q, want %q", got, want)
			}
			if got := s.String() + "|" + s.GoString(); got != tt.want["%s"]+"|"+tt.want["%#v"] {
				t.Errorf("String|GoString = %q", got)
			}

			var logs bytes.Buffer
			slog.New(slog.NewJSONHandler(&logs, nil)).Info("m", "secret", s, "ptr", &s, "holder", holder{s})
			slog.New(slog.NewTextHandler(&logs, nil)).Info("m", "secret", s, "holder", holder{s})
			if !strings.Contains(logs.String(), `"secret":"`+tt.want["%s"]+`"`) {
				t.Errorf("slog JSON does not show the redacted form: %s", logs.String())
			}

			js, err := json.Marshal(map[string]any{"s": s, "p": &s, "h": holder{s}})
			if err != nil {
				t.Fatal(err)
			}
			if want := `{"h":{"S":"` + tt.want["%s"] + `"},"p":"` + tt.want["%s"] + `","s":"` + tt.want["%s"] + `"}`; string(js) != want {
				t.Errorf("json = %s, want %s", js, want)
			}
			x, err := xml.Marshal(holder{s})
			if err != nil {
				t.Fatal(err)
			}
			text, err := s.MarshalText()
			if err != nil {
				t.Fatal(err)
			}
			for name, out := range map[string]string{"slog": logs.String(), "xml": string(x), "text": string(text)} {
				if strings.Contains(out, value) {
					t.Errorf("%s shows the secret: %s", name, out)
				}
			}
			if s.Reveal() != string(tt.secret) {
				t.Errorf("Reveal = %q, want the credential", s.Reveal())
			}
		})
	}
}
