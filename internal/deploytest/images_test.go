package deploytest

import (
	"encoding/json"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
)

// baseImages returns the images the Dockerfile and docker-compose.yml pull:
// FROM images that are not earlier stages, and the images of services that
// have no build section.
func baseImages(t *testing.T) []string {
	t.Helper()
	df := loadDockerfile(t)
	stages := map[string]bool{}
	var out []string
	for _, s := range df.Stages {
		if !stages[s.Base] && s.Base != "scratch" && !slices.Contains(out, s.Base) {
			out = append(out, s.Base)
		}
		stages[s.Name] = true
	}
	for _, svc := range loadCompose(t).Services {
		if svc.Build == nil && svc.Image != "" && !slices.Contains(out, svc.Image) {
			out = append(out, svc.Image)
		}
	}
	sort.Strings(out)
	return out
}

// scripts/images.sh builds a stand-in for exactly the images the files
// name: its own reading of them agrees with this package's parsers.
func TestImagesScriptCoversEveryBaseImage(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash to run scripts/images.sh list")
	}
	out, err := exec.Command("bash", repoRoot(t)+"/scripts/images.sh", "list").Output()
	if err != nil {
		t.Fatalf("scripts/images.sh list: %v", err)
	}
	got := strings.Fields(string(out))
	sort.Strings(got)
	if want := baseImages(t); !slices.Equal(got, want) {
		t.Errorf("scripts/images.sh list = %q, want the Dockerfile's and compose's %q", got, want)
	}
	// Every image has a stand-in builder (a case in ensure()).
	script := readRoot(t, "scripts/images.sh")
	for _, img := range got {
		family, _, _ := strings.Cut(img, ":")
		if img == "gcr.io/distroless/static-debian12:nonroot" {
			family = img
		}
		if !strings.Contains(script, "\t"+family) {
			t.Errorf("scripts/images.sh has no stand-in for %s", img)
		}
	}
}

// The testcontainers tier starts the same Kafka image as compose, so one
// stand-in (or one pull) serves both.
func TestKafkaTestImageIsCompose(t *testing.T) {
	c := loadCompose(t)
	if got, want := kafkatest.ContainerImage, c.Services[kafkaService].Image; got != want {
		t.Errorf("kafkatest.ContainerImage = %q, compose's %s image = %q", got, kafkaService, want)
	}
}

// A "# syntax=" line makes BuildKit pull a frontend image, which fails
// where no registry is reachable; the built-in frontend reads this file.
func TestDockerfileHasNoSyntaxLine(t *testing.T) {
	for i, line := range strings.Split(readRoot(t, "Dockerfile"), "\n") {
		if strings.HasPrefix(strings.ToLower(strings.ReplaceAll(line, " ", "")), "#syntax=") {
			t.Errorf("Dockerfile line %d: %q pulls a frontend image", i+1, line)
		}
	}
}

// The image's HEALTHCHECK and compose's producer healthcheck run the
// binary's own healthcheck command in exec form (distroless has no shell).
func TestHealthchecks(t *testing.T) {
	s := loadDockerfile(t).stage(t, "jelou-producer")
	ep, ok := s.last("ENTRYPOINT")
	if !ok {
		t.Fatal("no ENTRYPOINT")
	}
	entry, err := execForm(ep)
	if err != nil {
		t.Fatal(err)
	}
	hc, ok := s.last("HEALTHCHECK")
	if !ok {
		t.Fatal("the producer stage has no HEALTHCHECK")
	}
	_, form, ok := strings.Cut(hc.Args, "CMD ")
	if !ok {
		t.Fatalf("HEALTHCHECK %s: no CMD", hc.Args)
	}
	var argv []string
	if err := json.Unmarshal([]byte(form), &argv); err != nil {
		t.Fatalf("HEALTHCHECK CMD %s is not exec form: %v", form, err)
	}
	want := append(slices.Clone(entry), "healthcheck")
	if !slices.Equal(argv[:min(len(argv), len(want))], want) {
		t.Errorf("HEALTHCHECK runs %q, want %q", argv, want)
	}
	p := loadCompose(t).Services[producerService]
	if p.Healthcheck == nil {
		t.Fatalf("compose service %s has no healthcheck", producerService)
	}
	test := p.Healthcheck.Test
	if len(test) < 3 || test[0] != "CMD" || !slices.Equal(test[1:min(len(test), 1+len(want))], want) {
		t.Errorf("compose %s healthcheck test = %q, want [CMD %s ...]", producerService, test, strings.Join(want, " "))
	}
	// The command exists in the binary: run.go dispatches it.
	if !strings.Contains(readRoot(t, "cmd/jelou-producer/run.go"), `case "healthcheck":`) {
		t.Error(`cmd/jelou-producer/run.go does not dispatch "healthcheck"`)
	}
}
