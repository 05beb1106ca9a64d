package jelou

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
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

// credentialForms returns the ways a body may quote the credentials that
// the redactor must catch, each as a body would hold it.
func credentialForms(clientID, secret string) map[string]string {
	pair := clientID + ":" + secret
	forms := map[string]string{}
	for name, plain := range map[string]string{"secret": secret, "pair": pair} {
		js, _ := json.Marshal(plain)
		jsonText := string(js[1 : len(js)-1])
		b64 := base64.StdEncoding.EncodeToString([]byte(plain))
		forms[name] = plain
		forms[name+" json"] = jsonText
		forms[name+" json slash"] = strings.ReplaceAll(jsonText, "/", `\/`)
		forms[name+" json unicode"] = strings.NewReplacer("+", `\u002b`, "/", `\u002F`, " ", `\u0020`).Replace(jsonText)
		forms[name+" base64"] = b64
		forms[name+" base64 json"] = strings.ReplaceAll(b64, "/", `\/`)
		forms[name+" base64 url"] = base64.URLEncoding.EncodeToString([]byte(plain))
		forms[name+" base64 query"] = url.QueryEscape(b64)
		forms[name+" query"] = url.QueryEscape(plain)
		forms[name+" query lower"] = regexp.MustCompile(`%[0-9A-F]{2}`).ReplaceAllStringFunc(url.QueryEscape(plain), strings.ToLower)
		forms[name+" path"] = url.PathEscape(plain)
	}
	return forms
}

// FuzzRedact embeds random credentials in random text in every form of
// credentialForms, alone and all together, and checks that the redactor
// leaves none of the forms in its output. Credentials that "[REDACTED]"
// could spell (brackets, "REDACTED" itself, fewer than 8 bytes) or that are
// not UTF-8 (JSON cannot carry them) are skipped.
func FuzzRedact(f *testing.F) {
	f.Add("client-id-7Q2", "k+/ S3cr3té~~??>>", "<html>Authorization: ", "</html>")
	f.Add("id", `p"a\ss/w+o%rd`+"\n\u2028", `{"message":"`, `"}`)
	f.Add("x", "%%%%%%%%%%", "%25%", "%")
	f.Add("", "\\\\\\\\\\\\\\\\", `\\\`, `\`)
	f.Fuzz(func(t *testing.T, clientID, secret, prefix, suffix string) {
		pair := clientID + ":" + secret
		if len(secret) < 8 || secret == "REDACTED" || strings.ContainsAny(pair, "[]") || !utf8.ValidString(pair) {
			t.Skip()
		}
		r := newRedactor(clientID, Secret(secret))
		forms := credentialForms(clientID, secret)
		var all strings.Builder
		for name, form := range forms {
			all.WriteString(prefix + form + suffix)
			out := r.string(prefix + form + suffix)
			if !strings.Contains(out, redacted) {
				t.Errorf("%s: nothing redacted in %q", name, out)
			}
			checkRedacted(t, name, out, forms)
		}
		checkRedacted(t, "all", r.string(all.String()), forms)
	})
}

// checkRedacted fails t when out holds one of forms.
func checkRedacted(t *testing.T, name, out string, forms map[string]string) {
	t.Helper()
	for formName, form := range forms {
		if strings.Contains(out, form) {
			t.Fatalf("%s: the output holds the credential as %s %q: %q", name, formName, form, out)
		}
	}
}

// TestRedactURL masks the userinfo of URLs that parse and of texts that do
// not, and leaves the rest as it is.
func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://api.jelou.ai", "https://api.jelou.ai"},
		{"https://user:hunter2@api.jelou.ai/v1?x=1", "https://user:xxxxx@api.jelou.ai/v1?x=1"},
		{"https://tok3n@api.jelou.ai", "https://xxxxx@api.jelou.ai"},
		{"https://user:p%2Fss@api.jelou.ai", "https://user:xxxxx@api.jelou.ai"},
		{"https://user:hun ter2@host:x/", "https://xxxxx@host:x/"},  // does not parse
		{"https://user:pa/ss@host:port", "https://xxxxx@host:port"}, // does not parse either
		{"https://api.jelou.ai/a@b", "https://api.jelou.ai/a@b"},    // "@" in the path only
		{"not a url %zz", "not a url %zz"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
