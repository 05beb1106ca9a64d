package deploytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/jelou-producer/jelou-producer/internal/config"
)

// The service names the checks below look for.
const (
	producerService = "producer"
	simService      = "jelou-sim"
	kafkaService    = "kafka"
	watchService    = "watch"
)

// composeFile is the part of docker-compose.yml the semantic checks read.
// The schema test covers the rest.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image           string                      `yaml:"image"`
	Build           *composeBuild               `yaml:"build"`
	Entrypoint      []string                    `yaml:"entrypoint"`
	Command         []string                    `yaml:"command"`
	Environment     map[string]string           `yaml:"environment"`
	ReadOnly        bool                        `yaml:"read_only"`
	User            string                      `yaml:"user"`
	Volumes         []string                    `yaml:"volumes"`
	Ports           []string                    `yaml:"ports"`
	DependsOn       map[string]composeDependsOn `yaml:"depends_on"`
	Healthcheck     *composeHealthcheck         `yaml:"healthcheck"`
	Profiles        []string                    `yaml:"profiles"`
	StopGracePeriod string                      `yaml:"stop_grace_period"`
}

type composeBuild struct {
	Context string            `yaml:"context"`
	Target  string            `yaml:"target"`
	Args    map[string]string `yaml:"args"`
}

// UnmarshalYAML accepts the short form (build: .) too.
func (b *composeBuild) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Context = n.Value
		return nil
	}
	type plain composeBuild
	return n.Decode((*plain)(b))
}

type composeDependsOn struct {
	Condition string `yaml:"condition"`
}

type composeHealthcheck struct {
	Test []string `yaml:"test"`
}

// interpolation is ${NAME}, ${NAME:-default} or ${NAME-default}, or $$.
var interpolation = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}`)

// interpolate expands variables as `docker compose` does for the forms above,
// taking values from env; any other use of $ is an error, so the file never
// depends on a form this check does not understand.
func interpolate(text string, env map[string]string) (string, error) {
	var errs []error
	out := interpolation.ReplaceAllStringFunc(text, func(m string) string {
		if m == "$$" {
			return "$"
		}
		g := interpolation.FindStringSubmatch(m)
		v, set := env[g[1]]
		switch {
		case g[2] == ":-" && v == "", g[2] == "-" && !set:
			return g[3]
		case !set:
			errs = append(errs, fmt.Errorf("%s has no default: set it or use ${%s:-default}", m, g[1]))
		}
		return v
	})
	if rest := interpolation.ReplaceAllString(text, ""); strings.Contains(rest, "$") {
		errs = append(errs, fmt.Errorf("a $ outside ${NAME}, ${NAME:-default} or $$"))
	}
	return out, errors.Join(errs...)
}

// composeText returns docker-compose.yml interpolated with an empty
// environment, which is what `docker compose up` sees on a fresh machine.
func composeText(t testing.TB) []byte {
	t.Helper()
	text, err := interpolate(readRoot(t, "docker-compose.yml"), nil)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return []byte(text)
}

func loadCompose(t testing.TB) composeFile {
	t.Helper()
	var cf composeFile
	if err := yaml.Unmarshal(composeText(t), &cf); err != nil {
		t.Fatalf("docker-compose.yml: %v (commands, ports and volumes must be lists, environment a map)", err)
	}
	return cf
}

func (cf composeFile) service(t testing.TB, name string) composeService {
	t.Helper()
	s, ok := cf.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml has no service %q", name)
	}
	return s
}

// composeSchema compiles testdata/compose-spec.json.
func composeSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "compose-spec.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("compose-spec.json: %v", err)
	}
	c := jsonschema.NewCompiler()
	// The schema declares no format, but compose-go registers "duration";
	// doing the same keeps this check as strict as Compose if one appears.
	c.RegisterFormat(&jsonschema.Format{Name: "duration", Validate: func(v any) error {
		s, ok := v.(string)
		if !ok {
			return nil
		}
		_, err := time.ParseDuration(s)
		return err
	}})
	c.AssertFormat()
	if err := c.AddResource("compose-spec.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("compose-spec.json")
	if err != nil {
		t.Fatalf("compile compose-spec.json: %v", err)
	}
	return sch
}

// validateCompose checks YAML text against the schema, the way compose-go
// does: YAML to generic values, to JSON, to the validator.
func validateCompose(sch *jsonschema.Schema, text []byte) error {
	var doc any
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("to json: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return fmt.Errorf("to json: %w", err)
	}
	return sch.Validate(inst)
}

func TestComposeSchema(t *testing.T) {
	sch := composeSchema(t)
	text := composeText(t)
	if err := validateCompose(sch, text); err != nil {
		t.Fatalf("docker-compose.yml does not match the compose-spec schema:\n%v", err)
	}

	// The same file, broken in ways Compose refuses, must fail: otherwise
	// the check above proves nothing.
	broken := []struct{ name, old, new string }{
		{"unknown top-level key", "\nservices:\n", "\nservice:\n"},
		{"unknown service key", "    read_only: true\n", "    readonly: true\n"},
		{"unknown depends_on condition", "condition: service_healthy", "condition: service_ready"},
		{"retries of the wrong type", "      retries: 20\n", "      retries: [20]\n"},
	}
	for _, tc := range broken {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(text, []byte(tc.old)) {
				t.Fatalf("docker-compose.yml no longer contains %q: update this case", tc.old)
			}
			mutated := bytes.Replace(text, []byte(tc.old), []byte(tc.new), 1)
			if err := validateCompose(sch, mutated); err == nil {
				t.Errorf("the schema accepted a file with %s", tc.name)
			}
		})
	}
}

func TestInterpolate(t *testing.T) {
	env := map[string]string{"SET": "v", "EMPTY": ""}
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "a ${SET} b", want: "a v b"},
		{in: "${UNSET:-d}", want: "d"},
		{in: "${EMPTY:-d}", want: "d"},
		{in: "${EMPTY-d}", want: ""},
		{in: "${UNSET-d}", want: "d"},
		{in: "$$HOME", want: "$HOME"},
		{in: "${UNSET}", wantErr: true},
		{in: "$SET", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := interpolate(tc.in, env)
			if (err != nil) != tc.wantErr {
				t.Fatalf("interpolate(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if !tc.wantErr && got != tc.want {
				t.Errorf("interpolate(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestComposeDependsOn(t *testing.T) {
	cf := loadCompose(t)
	for name, s := range cf.Services {
		for dep, d := range s.DependsOn {
			target, ok := cf.Services[dep]
			switch {
			case !ok:
				t.Errorf("%s depends on %q, which is not a service", name, dep)
			case dep == name:
				t.Errorf("%s depends on itself", name)
			case d.Condition == "service_healthy" && target.Healthcheck == nil:
				t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
			}
		}
	}
	producer := cf.service(t, producerService)
	for _, dep := range []string{kafkaService, simService} {
		if _, ok := producer.DependsOn[dep]; !ok {
			t.Errorf("%s does not depend on %s", producerService, dep)
		}
	}
	if got := producer.DependsOn[kafkaService].Condition; got != "service_healthy" {
		t.Errorf("%s waits for %s with condition %q, want service_healthy", producerService, kafkaService, got)
	}
}

func TestComposeBuildTargets(t *testing.T) {
	cf := loadCompose(t)
	df := loadDockerfile(t)
	tests := []struct{ service, target, binary string }{
		{producerService, "jelou-producer", "/jelou-producer"},
		{simService, "jelou-sim", "/jelou-sim"},
		{"alerts", "jelou-alerts", "/jelou-alerts"}, // the example consumer
	}
	for _, tc := range tests {
		t.Run(tc.service, func(t *testing.T) {
			s := cf.service(t, tc.service)
			if s.Build == nil {
				t.Fatalf("%s has no build section", tc.service)
			}
			if s.Build.Context != "." {
				t.Errorf("%s builds from context %q, want . (the repository root)", tc.service, s.Build.Context)
			}
			if s.Build.Target != tc.target {
				t.Errorf("%s builds target %q, want %q", tc.service, s.Build.Target, tc.target)
			}
			st := df.stage(t, tc.target)
			ep, ok := st.last("ENTRYPOINT")
			if len(s.Entrypoint) == 0 && ok {
				argv, err := execForm(ep)
				if err != nil || argv[0] != tc.binary {
					t.Errorf("stage %s runs %v (%v), want %s", tc.target, argv, err, tc.binary)
				}
			}
			for k := range s.Build.Args {
				if !slices.ContainsFunc(st.all("ARG"), func(in instruction) bool {
					name, _, _ := strings.Cut(in.Args, "=")
					return name == k
				}) {
					t.Errorf("%s passes build arg %s, which stage %s does not declare", tc.service, k, tc.target)
				}
			}
		})
	}
}

// producerEnv is the producer container's environment: the image's ENV
// overridden by the compose file's.
func producerEnv(t testing.TB, cf composeFile, df dockerfile) map[string]string {
	t.Helper()
	env, err := df.stage(t, "jelou-producer").env()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range cf.service(t, producerService).Environment {
		env[k] = v
	}
	return env
}

func TestComposeProducerVariables(t *testing.T) {
	cf := loadCompose(t)
	vars := variables()
	for name := range cf.service(t, producerService).Environment {
		if _, ok := vars[name]; !ok {
			t.Errorf("%s sets %s, which is not a jelou-producer variable (see `jelou-producer config`)", producerService, name)
		}
	}

	// The whole environment must load and validate for `run`.
	env := producerEnv(t, cf, loadDockerfile(t))
	for name := range vars {
		t.Setenv(name, "") // restored after the test
		if err := os.Unsetenv(name); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := config.Load()
	if err != nil {
		t.Fatalf("config.Load with the producer's environment: %v", err)
	}
	if err := cfg.Validate(config.CommandRun); err != nil {
		t.Fatalf("the producer's environment is not valid for run:\n%v", err)
	}
}

func TestComposeProducerHardening(t *testing.T) {
	cf := loadCompose(t)
	df := loadDockerfile(t)
	s := cf.service(t, producerService)
	env := producerEnv(t, cf, df)

	if !s.ReadOnly {
		t.Errorf("%s: read_only is not true", producerService)
	}
	if err := nonRootUser(s.User); err != nil {
		t.Errorf("%s: %v", producerService, err)
	}
	if u, ok := df.stage(t, "jelou-producer").last("USER"); ok && u.Args != s.User {
		t.Errorf("%s runs as %q but the image's USER is %q: a new volume is owned by the image's user", producerService, s.User, u.Args)
	}

	// The checkpoint must be on a named volume: the root filesystem is
	// read-only.
	if backend := setting(env, "CHECKPOINT_BACKEND"); backend == "file" {
		dir := path.Dir(setting(env, "CHECKPOINT_PATH"))
		var mounted bool
		for _, v := range s.Volumes {
			src, dst, _ := strings.Cut(v, ":")
			dst, _, _ = strings.Cut(dst, ":")
			if dst != dir {
				continue
			}
			mounted = true
			if _, ok := cf.Volumes[src]; !ok {
				t.Errorf("%s mounts %q on %s, which is not a named volume declared under volumes:", producerService, src, dir)
			}
		}
		if !mounted {
			t.Errorf("%s: CHECKPOINT_PATH is in %s, but no volume is mounted there", producerService, dir)
		}
	}

	// The metrics and health port is published.
	port := portOf(setting(env, "HTTP_ADDR"))
	if !slices.ContainsFunc(s.Ports, func(p string) bool { return portOf(p) == port }) {
		t.Errorf("%s does not publish HTTP_ADDR's port %s (ports %v)", producerService, port, s.Ports)
	}

	// Compose must wait longer than the drain, or SIGKILL cuts it short.
	drain, err := time.ParseDuration(setting(env, "SHUTDOWN_TIMEOUT"))
	if err != nil {
		t.Fatalf("SHUTDOWN_TIMEOUT: %v", err)
	}
	grace := 10 * time.Second // the Compose default
	if s.StopGracePeriod != "" {
		if grace, err = time.ParseDuration(s.StopGracePeriod); err != nil {
			t.Fatalf("stop_grace_period: %v", err)
		}
	}
	if grace <= drain {
		t.Errorf("%s: stop_grace_period %v is not longer than SHUTDOWN_TIMEOUT %v", producerService, grace, drain)
	}
}

// simArgs is the jelou-sim service's effective argument list: the compose
// command, or else the image's CMD.
func simArgs(t testing.TB, cf composeFile, df dockerfile) []string {
	t.Helper()
	s := cf.service(t, simService)
	if len(s.Entrypoint) > 0 {
		t.Fatalf("%s overrides the entrypoint; the checks expect the jelou-sim image's", simService)
	}
	if len(s.Command) > 0 {
		return s.Command
	}
	cmd, ok := df.stage(t, "jelou-sim").last("CMD")
	if !ok {
		return nil
	}
	argv, err := execForm(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return argv
}

// simSettings resolves every jelou-sim flag as the command does: the command
// line, else JELOU_SIM_<FLAG>, else the default.
func simSettings(t testing.TB, cf composeFile, df dockerfile) map[string]string {
	t.Helper()
	flags := simFlags(t)
	values, err := parseSimArgs(simArgs(t, cf, df), flags)
	if err != nil {
		t.Fatalf("%s command: %v", simService, err)
	}
	for env, v := range cf.service(t, simService).Environment {
		name, ok := simEnvFlag(env)
		if !ok {
			t.Errorf("%s sets %s; jelou-sim reads only JELOU_SIM_<FLAG> variables", simService, env)
			continue
		}
		if _, ok := flags[name]; !ok {
			t.Errorf("%s sets %s, but jelou-sim has no flag -%s", simService, env, name)
			continue
		}
		if _, set := values[name]; !set {
			values[name] = v
		}
	}
	for name, fl := range flags {
		if _, set := values[name]; !set {
			values[name] = fl.Default
		}
	}
	return values
}

func TestComposeSim(t *testing.T) {
	cf := loadCompose(t)
	df := loadDockerfile(t)
	sim := simSettings(t, cf, df)
	s := cf.service(t, simService)

	host, port := hostPort(t, sim["addr"])
	if host != "0.0.0.0" && host != "" && host != "::" {
		t.Errorf("%s listens on %q: other containers cannot reach it; use 0.0.0.0", simService, sim["addr"])
	}
	if !s.ReadOnly {
		t.Errorf("%s: read_only is not true", simService)
	}
	if err := nonRootUser(s.User); err != nil {
		t.Errorf("%s: %v", simService, err)
	}

	// The producer reaches it, with credentials it accepts.
	env := producerEnv(t, cf, df)
	u, err := url.Parse(setting(env, "JELOU_BASE_URL"))
	if err != nil {
		t.Fatalf("JELOU_BASE_URL: %v", err)
	}
	if u.Hostname() != simService || u.Port() != port || u.Scheme != "http" {
		t.Errorf("JELOU_BASE_URL = %s, want http://%s:%s", u, simService, port)
	}
	for _, c := range []struct{ producer, sim string }{
		{"JELOU_CLIENT_ID", "client-id"},
		{"JELOU_CLIENT_SECRET", "client-secret"},
	} {
		if setting(env, c.producer) != sim[c.sim] {
			t.Errorf("the producer's %s is not the value jelou-sim accepts (-%s)", c.producer, c.sim)
		}
	}
	if scheme := setting(env, "JELOU_AUTH_SCHEME"); sim["auth"] != "both" && sim["auth"] != scheme {
		t.Errorf("the producer authenticates with %q but jelou-sim accepts only %q", scheme, sim["auth"])
	}
}

// advertised returns the host:port addresses in KAFKA_ADVERTISED_LISTENERS.
func advertised(t testing.TB, kafka composeService) []string {
	t.Helper()
	var out []string
	for l := range strings.SplitSeq(kafka.Environment["KAFKA_ADVERTISED_LISTENERS"], ",") {
		_, addr, ok := strings.Cut(strings.TrimSpace(l), "://")
		if !ok {
			t.Fatalf("KAFKA_ADVERTISED_LISTENERS entry %q is not NAME://host:port", l)
		}
		out = append(out, addr)
	}
	return out
}

func TestComposeKafka(t *testing.T) {
	cf := loadCompose(t)
	k := cf.service(t, kafkaService)
	env := k.Environment

	// The broker is the version the integration tests run against.
	pom := readRoot(t, filepath.Join("test", "kafka", "pom.xml"))
	g := regexp.MustCompile(`<kafka.version>([^<]+)</kafka.version>`).FindStringSubmatch(pom)
	if g == nil {
		t.Fatal("test/kafka/pom.xml has no <kafka.version>")
	}
	if want := "apache/kafka:" + g[1]; k.Image != want {
		t.Errorf("%s image = %q, want %q (test/kafka/pom.xml)", kafkaService, k.Image, want)
	}

	roles := strings.Split(env["KAFKA_PROCESS_ROLES"], ",")
	if !slices.Contains(roles, "broker") || !slices.Contains(roles, "controller") {
		t.Errorf("KAFKA_PROCESS_ROLES = %q, want broker,controller (single-node KRaft)", env["KAFKA_PROCESS_ROLES"])
	}
	for _, name := range []string{"CLUSTER_ID", "KAFKA_NODE_ID", "KAFKA_CONTROLLER_QUORUM_VOTERS", "KAFKA_CONTROLLER_LISTENER_NAMES", "KAFKA_LISTENERS"} {
		if env[name] == "" {
			t.Errorf("%s does not set %s", kafkaService, name)
		}
	}
	if !strings.HasPrefix(env["KAFKA_CONTROLLER_QUORUM_VOTERS"], env["KAFKA_NODE_ID"]+"@") {
		t.Errorf("KAFKA_CONTROLLER_QUORUM_VOTERS %q does not name node %s", env["KAFKA_CONTROLLER_QUORUM_VOTERS"], env["KAFKA_NODE_ID"])
	}
	// Every listener has a protocol, and every advertised one is a listener.
	protocols := map[string]bool{}
	for m := range strings.SplitSeq(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"], ",") {
		name, _, _ := strings.Cut(m, ":")
		protocols[name] = true
	}
	listeners := map[string]bool{}
	for l := range strings.SplitSeq(env["KAFKA_LISTENERS"], ",") {
		name, _, _ := strings.Cut(l, "://")
		listeners[name] = true
		if !protocols[name] {
			t.Errorf("listener %s has no entry in KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", name)
		}
	}
	for l := range strings.SplitSeq(env["KAFKA_ADVERTISED_LISTENERS"], ",") {
		if name, _, _ := strings.Cut(l, "://"); !listeners[name] {
			t.Errorf("advertised listener %s is not in KAFKA_LISTENERS", name)
		}
	}
	if k.Healthcheck == nil || len(k.Healthcheck.Test) < 2 {
		t.Errorf("%s has no healthcheck the others can wait for", kafkaService)
	}

	// The producer bootstraps from an address the broker advertises inside
	// the compose network.
	producer := producerEnv(t, cf, loadDockerfile(t))
	for _, b := range strings.Split(setting(producer, "KAFKA_BROKERS"), ",") {
		if host, _ := hostPort(t, b); host != kafkaService || !slices.Contains(advertised(t, k), b) {
			t.Errorf("KAFKA_BROKERS entry %q is not an address %s advertises on the compose network %v", b, kafkaService, advertised(t, k))
		}
	}
	// The topic is created by the producer; nothing else creates topics.
	if setting(producer, "KAFKA_TOPIC_CREATE") != "true" {
		t.Errorf("the producer does not set KAFKA_TOPIC_CREATE=true")
	}
}

func TestComposeWatch(t *testing.T) {
	cf := loadCompose(t)
	w := cf.service(t, watchService)
	if !slices.Contains(w.Profiles, "watch") {
		t.Errorf("%s is not under the watch profile, so `docker compose up` would start it", watchService)
	}
	args := map[string]string{}
	for i := 0; i+1 < len(w.Command); i++ {
		if strings.HasPrefix(w.Command[i], "-") {
			args[w.Command[i]] = w.Command[i+1]
		}
	}
	if !slices.Contains(w.Command, "-C") {
		t.Errorf("%s command %v is not a consumer (-C)", watchService, w.Command)
	}
	if !slices.Contains(advertised(t, cf.service(t, kafkaService)), args["-b"]) {
		t.Errorf("%s reads from %q, which %s does not advertise", watchService, args["-b"], kafkaService)
	}
	topic := setting(producerEnv(t, cf, loadDockerfile(t)), "KAFKA_TOPIC")
	if args["-t"] != topic {
		t.Errorf("%s watches topic %q, the producer writes %q", watchService, args["-t"], topic)
	}
}
