package config

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/kelseyhightower/envconfig"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// DefaultSourceID is the ID of the unnamed default source, the one the
// JELOU_* variables configure when SOURCES is empty.
const DefaultSourceID = "default"

// Source is one Jelou account the deployment serves, resolved from SOURCES
// and its SOURCE_<ID>_* variables, or the default source from JELOU_*.
type Source struct {
	// ID is the configured id; DefaultSourceID for the unnamed default source.
	ID string
	// Jelou is the API client configuration of this source: the global
	// JELOU_* group with the source's overrides and credentials applied.
	Jelou Jelou
	// Topic is the Kafka topic its events go to (KAFKA_TOPIC unless overridden).
	Topic string
	// StateTopic is the compacted topic of its conversations' current
	// states (KAFKA_STATE_TOPIC unless overridden); empty for none.
	StateTopic string
	// Named is false for the default source configured by JELOU_* alone.
	Named bool
}

// SourceIDs is SOURCES: a comma-separated list of source ids. Spaces around
// ids and empty entries are ignored. [Config.Validate] checks the ids.
type SourceIDs []string

// Decode splits v on commas. It never fails: an empty v gives an empty list.
func (s *SourceIDs) Decode(v string) error {
	var out SourceIDs
	for _, id := range strings.Split(v, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	*s = out
	return nil
}

// String joins the ids with commas.
func (s SourceIDs) String() string { return strings.Join(s, ",") }

// sourceID is the form of a source id.
var sourceID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,30}$`)

// SourcePrefix returns the prefix of the variables of the source id:
// SOURCE_, the id upper-cased with '-' as '_', and '_' ("eu-1" gives
// "SOURCE_EU_1_").
func SourcePrefix(id string) string {
	return "SOURCE_" + strings.ToUpper(strings.ReplaceAll(id, "-", "_")) + "_"
}

// sourceVars are the SOURCE_<ID>_* variables of one named source, read by
// envconfig.Process with the prefix SOURCE_<ID>. Each key comes from the
// field name (split_words) and is repeated in the key tag for this package;
// a test checks the two agree. There is deliberately no envconfig tag: with
// one, envconfig falls back to the bare key when the prefixed variable is
// unset, so SOURCE_ACME_TOPIC would read $TOPIC.
//
// The global tag names the variable of [Config] a field stands for: the
// source's value replaces it when set, and the global's checks apply to it.
// Credentials (credential tag) are never inherited from the global ones; the
// other fields default to their global variable.
type sourceVars struct {
	ClientID         string       `split_words:"true" key:"CLIENT_ID" global:"JELOU_CLIENT_ID" credential:"true" desc:"Jelou API client id of the source"`
	ClientSecret     jelou.Secret `split_words:"true" key:"CLIENT_SECRET" global:"JELOU_CLIENT_SECRET" credential:"true" desc:"Jelou API client secret of the source"`
	ClientIDFile     string       `split_words:"true" key:"CLIENT_ID_FILE" global:"JELOU_CLIENT_ID_FILE" credential:"true" file:"CLIENT_ID" desc:"file holding the source's client id (a mounted secret), instead of its CLIENT_ID"`
	ClientSecretFile string       `split_words:"true" key:"CLIENT_SECRET_FILE" global:"JELOU_CLIENT_SECRET_FILE" credential:"true" file:"CLIENT_SECRET" desc:"file holding the source's client secret (a mounted secret), instead of its CLIENT_SECRET"`
	BaseURL          string       `split_words:"true" key:"BASE_URL" global:"JELOU_BASE_URL" desc:"Jelou API base URL of the source"`
	AuthScheme       string       `split_words:"true" key:"AUTH_SCHEME" global:"JELOU_AUTH_SCHEME" desc:"Authorization header form of the source"`
	Timezone         Zone         `split_words:"true" key:"TIMEZONE" global:"JELOU_TIMEZONE" desc:"IANA zone of the source's timestamps without an offset"`
	PageSize         int          `split_words:"true" key:"PAGE_SIZE" global:"JELOU_PAGE_SIZE" desc:"rows asked for per request to the source"`
	RateLimit        float64      `split_words:"true" key:"RATE_LIMIT" global:"JELOU_RATE_LIMIT" desc:"the source's own request budget, requests per second"`
	RateBurst        int          `split_words:"true" key:"RATE_BURST" global:"JELOU_RATE_BURST" desc:"requests the source may send at once after an idle period"`
	Topic            string       `split_words:"true" key:"TOPIC" global:"KAFKA_TOPIC" desc:"output topic of the source's events"`
	StateTopic       string       `split_words:"true" key:"STATE_TOPIC" global:"KAFKA_STATE_TOPIC" desc:"current-state topic of the source's conversations"`
}

// sourceSettings is what [Load] read for one named source: its variables and
// which of them were set (or filled from a file).
type sourceSettings struct {
	vars sourceVars
	set  map[string]bool // by key: "BASE_URL"
}

// sourceFields returns the fields of v named with prefix ("SOURCE_ACME_").
func sourceFields(v *sourceVars, prefix string) []field {
	rv := reflect.ValueOf(v).Elem()
	out := make([]field, rv.NumField())
	for i := range out {
		sf := rv.Type().Field(i)
		out[i] = field{name: prefix + sf.Tag.Get("key"), tag: sf.Tag, value: rv.Field(i)}
	}
	return out
}

// sourceKeys are the keys of sourceVars in declaration order.
var sourceKeys = func() []string {
	var keys []string
	for _, f := range sourceFields(&sourceVars{}, "") {
		keys = append(keys, f.name)
	}
	return keys
}()

// globalField returns the field of fields named by f's global tag.
func globalField(fields []field, f field) field {
	name := f.tag.Get("global")
	i := slices.IndexFunc(fields, func(g field) bool { return g.name == name })
	if i < 0 {
		panic("config: " + f.name + " stands for no variable " + name) // a test resolves every source variable
	}
	return fields[i]
}

// loadSources reads the variables of every well-formed id of ids from the
// environment: their syntax is checked as [Load] checks the global ones,
// then envconfig reads them and the _FILE forms are read. It returns the
// settings by id, and the problems.
func loadSources(ids SourceIDs, lookup func(string) (string, bool)) (map[string]sourceSettings, problems) {
	var ps problems
	var out map[string]sourceSettings
	globals := fieldsOf(&Config{})
	for _, id := range ids {
		if _, dup := out[id]; dup || !sourceID.MatchString(id) {
			continue // Validate reports it
		}
		prefix := SourcePrefix(id)
		s := sourceSettings{set: map[string]bool{}}
		fields := sourceFields(&s.vars, prefix)
		bad := false
		for i, f := range fields {
			raw, ok := lookup(f.name)
			if !ok {
				continue
			}
			s.set[sourceKeys[i]] = true
			if err := decode(reflect.New(f.value.Type()).Elem(), raw); err != nil {
				bad = true
				msg := fmt.Sprintf("must be %s, got %q", kindOf(f.value.Type()).expect, raw)
				if _, custom := decoderOf(f.value); custom && !errors.Is(err, errInvalid) {
					msg += ": " + err.Error()
				}
				ps.add(f.name, "%s", msg)
			}
		}
		if bad {
			continue
		}
		if err := envconfig.Process(strings.TrimSuffix(prefix, "_"), &s.vars); err != nil {
			panic("config: read " + prefix + "*: " + err.Error()) // the syntax check accepts a subset of envconfig's
		}
		for _, f := range fields {
			if globalField(globals, f).tag.Get("enum") != "" {
				f.value.SetString(strings.ToLower(f.value.String()))
			}
		}
		ps = append(ps, readFiles(fields, prefix)...)
		for i, f := range fields {
			if !f.value.IsZero() {
				s.set[sourceKeys[i]] = true
			}
		}
		if out == nil {
			out = map[string]sourceSettings{}
		}
		out[id] = s
	}
	return out, ps
}

// strayVariables reports the SOURCE_* variables of environ (KEY=value lines)
// that belong to no source of ids: a per-source variable of an id SOURCES
// does not list (a typo in either), or an unknown variable under a listed
// id's prefix. Other SOURCE_* variables (SOURCE_DATE_EPOCH) are not ours and
// are left alone.
func strayVariables(ids SourceIDs, environ []string) problems {
	known := map[string]bool{}
	prefixes := map[string]string{} // prefix → id
	for _, id := range ids {
		if sourceID.MatchString(id) {
			prefixes[SourcePrefix(id)] = id
			for _, k := range sourceKeys {
				known[SourcePrefix(id)+k] = true
			}
		}
	}
	var names []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "SOURCE_") && !known[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	var ps problems
	for _, name := range names {
		if id, ok := guessSourceID(name); ok {
			if len(ids) == 0 {
				ps.add(name, "is set but SOURCES is empty; add %q to SOURCES or unset it", id)
			} else {
				ps.add(name, "is set but SOURCES does not list %q", id)
			}
			continue
		}
		best := "" // the longest listed prefix: SOURCE_A_B_ over SOURCE_A_
		for p := range prefixes {
			if strings.HasPrefix(name, p) && len(p) > len(best) {
				best = p
			}
		}
		if best != "" {
			ps.add(name, "is not a variable of source %q; %s* takes %s", prefixes[best], best, strings.Join(sourceKeys, ", "))
		}
	}
	return ps
}

// guessSourceID returns the id a SOURCE_<ID>_<KEY> variable is for, when it
// ends in a per-source key and the rest could be an id.
func guessSourceID(name string) (string, bool) {
	keys := slices.Clone(sourceKeys)
	slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(len(b), len(a)) }) // CLIENT_ID_FILE before CLIENT_ID
	for _, k := range keys {
		if rest, ok := strings.CutSuffix(name, "_"+k); ok {
			id := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(rest, "SOURCE_"), "_", "-"))
			return id, sourceID.MatchString(id)
		}
	}
	return "", false
}

// Sources returns the sources this configuration serves, in SOURCES order
// (one unnamed default source when SOURCES is empty). Call after Validate.
func (c Config) Sources() []Source {
	if len(c.SourceIDs) == 0 {
		return []Source{{ID: DefaultSourceID, Jelou: c.Jelou, Topic: c.Kafka.Topic, StateTopic: c.Kafka.StateTopic}}
	}
	out := make([]Source, len(c.SourceIDs))
	for i, id := range c.SourceIDs {
		rc, _ := c.sourceConfig(id)
		out[i] = Source{ID: id, Jelou: rc.Jelou, Topic: rc.Kafka.Topic, StateTopic: rc.Kafka.StateTopic, Named: true}
	}
	return out
}

// sourceConfig returns c as the named source id sees it: the global
// credentials cleared, then every variable the source sets applied. It also
// returns the source's variables (named SOURCE_<ID>_*) that it sets or that
// are credentials, each with the global field's tags and the resolved value,
// for Validate and Settings.
func (c Config) sourceConfig(id string) (Config, []field) {
	rc := c
	globals := fieldsOf(&rc)
	s := c.sources[id]
	var own []field
	for i, f := range sourceFields(&s.vars, SourcePrefix(id)) {
		g := globalField(globals, f)
		credential := f.tag.Get("credential") != ""
		if credential {
			g.value.SetZero()
		}
		if s.set[sourceKeys[i]] {
			g.value.Set(f.value)
		}
		if credential || s.set[sourceKeys[i]] {
			own = append(own, field{name: f.name, tag: g.tag, value: g.value})
		}
	}
	return rc, own
}

// checkSources adds the problems of SOURCES and every named source: ids
// malformed or repeated, each source's own variables checked as their global
// counterparts are (credentials required per source), two sources on one
// account, a source topic equal to the checkpoint topic, global credentials
// that SOURCES leaves unused, and SOURCE_* variables of no listed source.
func (c Config) checkSources(ps *problems, cmd Command) {
	if len(c.SourceIDs) > 0 {
		for _, f := range fieldsOf(&c) {
			if f.tag.Get("credential") != "" && !f.value.IsZero() {
				ps.add(f.name, "is set but unused: SOURCES is set, and each source takes its own SOURCE_<ID>_%s", strings.TrimPrefix(f.name, "JELOU_"))
			}
		}
	}
	seen := map[string]bool{}
	accounts := map[string]string{} // base URL and client id → source id
	for _, id := range c.SourceIDs {
		switch {
		case !sourceID.MatchString(id):
			ps.add("SOURCES", "must list ids of 1 to 31 characters a-z, 0-9 and '-', not starting with '-'; got %q", id)
			continue
		case seen[id]:
			ps.add("SOURCES", "lists %q twice", id)
			continue
		}
		seen[id] = true
		rc, own := c.sourceConfig(id)
		for _, f := range own {
			checkField(ps, f, cmd)
		}
		prefix := SourcePrefix(id)
		if j := rc.Jelou; j.ClientID != "" {
			account := j.BaseURL + "\x00" + j.ClientID
			if other, dup := accounts[account]; dup {
				ps.add(prefix+"CLIENT_ID", "and %sCLIENT_ID name the same account (same client id and base URL)", SourcePrefix(other))
			} else {
				accounts[account] = id
			}
		}
		if c.Checkpoint.onTopic() && rc.Kafka.Topic == c.Checkpoint.Topic && c.sources[id].set["TOPIC"] {
			ps.add(prefix+"TOPIC", "must differ from CHECKPOINT_TOPIC, got %q", rc.Kafka.Topic)
		}
		if rc.Kafka.Topic == c.Kafka.DLQTopic && c.sources[id].set["TOPIC"] {
			ps.add(prefix+"TOPIC", "must differ from KAFKA_DLQ_TOPIC, got %q", rc.Kafka.Topic)
		}
		if st := rc.Kafka.StateTopic; st != "" && c.sources[id].set["STATE_TOPIC"] && reservedTopic(c, st, rc.Kafka.Topic) {
			ps.add(prefix+"STATE_TOPIC", "must differ from the source's TOPIC, KAFKA_DLQ_TOPIC, KAFKA_WATERMARK_TOPIC and CHECKPOINT_TOPIC, got %q", st)
		}
	}
	*ps = append(*ps, c.strays...)
}

// SourceVariables describes the SOURCE_<ID>_* variables each source listed
// in SOURCES takes, with <ID> standing for the id upper-cased, '-' as '_'.
// Default names the global variable a source inherits ("$JELOU_BASE_URL");
// credentials have none.
func SourceVariables() []Variable {
	var c Config
	globals := fieldsOf(&c)
	fields := sourceFields(&sourceVars{}, "SOURCE_<ID>_")
	out := make([]Variable, len(fields))
	for i, f := range fields {
		g := globalField(globals, f)
		v := Variable{
			Name:        f.name,
			Type:        typeName(g),
			Required:    strings.ReplaceAll(g.tag.Get("required_for"), ",", "/"),
			Description: f.tag.Get("desc"),
			Secret:      f.value.Type() == reflect.TypeFor[jelou.Secret](),
		}
		if f.tag.Get("credential") == "" {
			v.Default = "$" + g.name
		}
		out[i] = v
	}
	return out
}

// sourceSettingsOf lists the variables of every named source with their
// effective values, for [Config.Settings].
func (c Config) sourceSettingsOf() []Setting {
	var out []Setting
	seen := map[string]bool{}
	for _, id := range c.SourceIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		rc, _ := c.sourceConfig(id)
		globals := fieldsOf(&rc)
		for _, f := range sourceFields(&sourceVars{}, SourcePrefix(id)) {
			out = append(out, Setting{Name: f.name, Value: display(globalField(globals, f).value)})
		}
	}
	return out
}

// RereadCredentials returns s with its client id and secret read again from
// the files its *_FILE variables name (JELOU_CLIENT_ID_FILE and
// JELOU_CLIENT_SECRET_FILE for the default source, SOURCE_<ID>_CLIENT_ID_FILE
// and SOURCE_<ID>_CLIENT_SECRET_FILE for a named one), so that a rotated
// mounted secret takes effect without a restart. A credential given as a
// plain variable is kept. A file that cannot be read, or that is empty, is
// an [*Error] naming the variable and the path, never the contents; s is
// then returned unchanged.
func (s Source) RereadCredentials() (Source, error) {
	prefix := "JELOU_"
	if s.Named {
		prefix = SourcePrefix(s.ID)
	}
	out := s
	var ps problems
	for _, f := range []struct {
		name, path string
		set        func(string)
	}{
		{prefix + "CLIENT_ID_FILE", s.Jelou.ClientIDFile, func(v string) { out.Jelou.ClientID = v }},
		{prefix + "CLIENT_SECRET_FILE", s.Jelou.ClientSecretFile, func(v string) { out.Jelou.ClientSecret = jelou.Secret(v) }},
	} {
		if f.path == "" {
			continue
		}
		content, err := readSecretFile(f.path)
		switch {
		case err != nil:
			ps.add(f.name, "names a file that cannot be read: %v", err)
		case content == "":
			ps.add(f.name, "names an empty file: %s", f.path)
		default:
			f.set(content)
		}
	}
	if err := ps.err(); err != nil {
		return s, err
	}
	return out, nil
}
