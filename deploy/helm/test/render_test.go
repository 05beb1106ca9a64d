package helmtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

const (
	chartDir  = "../jelou-producer"
	release   = "jp"
	namespace = "data"
	fullname  = "jp-jelou-producer"
)

// helm returns the helm binary: $HELM, else helm on PATH. Without one the
// test is skipped, or fails under CI=true.
func helm(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		return h
	}
	h, err := exec.LookPath("helm")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("helm is not on PATH and HELM is unset; under CI=true that is a failure (.ci/helm.sh builds it)")
		}
		t.Skip("helm not on PATH (set HELM, or run .ci/helm.sh, which builds it)")
	}
	return h
}

// template runs helm template on the chart with args (values flags) and
// returns its output, or its error with stderr.
func template(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helm(t), append([]string{"template", release, chartDir, "--namespace", namespace}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("helm template %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// manifests is a rendered chart, decoded strictly.
type manifests struct {
	Deployment     *appsv1.Deployment
	Service        *corev1.Service
	Secret         *corev1.Secret
	PVC            *corev1.PersistentVolumeClaim
	PDB            *policyv1.PodDisruptionBudget
	ServiceAccount *corev1.ServiceAccount
	ConfigMaps     []*corev1.ConfigMap
	ServiceMonitor *monitoringv1.ServiceMonitor
	PrometheusRule *monitoringv1.PrometheusRule
	NetworkPolicy  *networkingv1.NetworkPolicy
	TestPod        *corev1.Pod // the helm test hook
}

// render templates the chart with args and decodes every document into its
// API type with unknown and duplicate fields refused. A kind the test does
// not know, or a second object of a kind it expects once, fails the test.
func render(t *testing.T, args ...string) manifests {
	t.Helper()
	out, err := template(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	var m manifests
	n := 0
	for i, doc := range strings.Split(out, "\n---") {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("document %d: %v\n%s", i, err, doc)
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			obj = once(t, &m.Deployment)
		case "v1 Service":
			obj = once(t, &m.Service)
		case "v1 Secret":
			obj = once(t, &m.Secret)
		case "v1 PersistentVolumeClaim":
			obj = once(t, &m.PVC)
		case "policy/v1 PodDisruptionBudget":
			obj = once(t, &m.PDB)
		case "v1 ServiceAccount":
			obj = once(t, &m.ServiceAccount)
		case "v1 ConfigMap":
			cm := &corev1.ConfigMap{}
			m.ConfigMaps = append(m.ConfigMaps, cm)
			obj = cm
		case "monitoring.coreos.com/v1 ServiceMonitor":
			obj = once(t, &m.ServiceMonitor)
		case "monitoring.coreos.com/v1 PrometheusRule":
			obj = once(t, &m.PrometheusRule)
		case "networking.k8s.io/v1 NetworkPolicy":
			obj = once(t, &m.NetworkPolicy)
		case "v1 Pod":
			obj = once(t, &m.TestPod)
		default:
			t.Fatalf("document %d: unexpected %s %s", i, tm.APIVersion, tm.Kind)
		}
		if err := decodeStrict([]byte(doc), obj); err != nil {
			t.Fatalf("document %d (%s): %v\n%s", i, tm.Kind, err, doc)
		}
		if o, ok := obj.(metav1.Object); !ok || o.GetName() == "" || o.GetNamespace() != "" && o.GetNamespace() != namespace {
			t.Errorf("document %d (%s): name %q, namespace %q", i, tm.Kind, o.GetName(), o.GetNamespace())
		}
		n++
	}
	if n == 0 {
		t.Fatal("helm template rendered nothing")
	}
	return m
}

// decodeStrict decodes a YAML document into obj as the API server would,
// and stricter: field names are matched case-sensitively (encoding/json
// would take "hostnetwork" for hostNetwork), and unknown or duplicate fields
// are errors.
func decodeStrict(doc []byte, obj any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	strict, err := sigsjson.UnmarshalStrict(j, obj, sigsjson.DisallowUnknownFields, sigsjson.DisallowDuplicateFields)
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if len(strict) > 0 {
		return fmt.Errorf("strict decode: %w", errors.Join(strict...))
	}
	return nil
}

// once allocates *p, failing if a previous document already did.
func once[T any](t *testing.T, p **T) *T {
	t.Helper()
	if *p != nil {
		t.Fatalf("a second %T", *p)
	}
	*p = new(T)
	return *p
}

// stripComments drops YAML comment lines ("# Source: …").
func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
