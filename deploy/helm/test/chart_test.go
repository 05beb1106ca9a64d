package helmtest

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/jelou-producer/jelou-producer/internal/config"
)

// valueSets are the value combinations every structural test renders.
var valueSets = map[string][]string{
	"defaults":                   nil,
	"all-on":                     {"-f", chartDir + "/ci/all-on-values.yaml"},
	"existing secret, no volume": {"--set", "secrets.existingSecret=jelou-creds,persistence.enabled=false,serviceAccount.create=false"},
	"existing claim":             {"--set", "persistence.existingClaim=jelou-data,resources.limits.memory=512M"},
}

func TestManifests(t *testing.T) {
	helm(t)
	for name, args := range valueSets {
		t.Run(name, func(t *testing.T) {
			m := render(t, args...)
			checkDeployment(t, m, args)
			checkService(t, m)
		})
	}
}

func checkDeployment(t *testing.T, m manifests, args []string) {
	t.Helper()
	d := m.Deployment
	if d == nil {
		t.Fatal("no Deployment")
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy = %q, want Recreate", d.Spec.Strategy.Type)
	}
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]

	// Probes on the named metrics port, which HTTP_ADDR listens on.
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("env %s set twice", e.Name)
		}
		env[e.Name] = e
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "http-metrics" {
		t.Fatalf("ports = %+v, want one named http-metrics", c.Ports)
	}
	if want := ":" + strconv.Itoa(int(c.Ports[0].ContainerPort)); env["HTTP_ADDR"].Value != want {
		t.Errorf("HTTP_ADDR = %q, want %q (the container port)", env["HTTP_ADDR"].Value, want)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http-metrics" {
			t.Errorf("%s probe = %+v, want GET %s on http-metrics", p.name, p.probe, p.path)
		}
	}

	// Security: non-root 65532, read-only root, no escalation, no capabilities.
	sc, psc := c.SecurityContext, pod.SecurityContext
	switch {
	case sc == nil || psc == nil:
		t.Fatal("no securityContext")
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot:
		t.Error("runAsNonRoot is not true")
	case sc.RunAsUser == nil || *sc.RunAsUser != 65532 || sc.RunAsGroup == nil || *sc.RunAsGroup != 65532:
		t.Errorf("runAsUser/Group = %v/%v, want 65532", sc.RunAsUser, sc.RunAsGroup)
	case psc.FSGroup == nil || *psc.FSGroup != 65532:
		t.Errorf("fsGroup = %v, want 65532 (the checkpoint volume must be writable)", psc.FSGroup)
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("readOnlyRootFilesystem is not true")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("allowPrivilegeEscalation is not false")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("capabilities = %+v, want drop [ALL]", sc.Capabilities)
	case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("seccompProfile = %+v, want RuntimeDefault", sc.SeccompProfile)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the service account token is mounted; the service needs none")
	}
	if m.ServiceAccount != nil && pod.ServiceAccountName != m.ServiceAccount.Name {
		t.Errorf("serviceAccountName %q, ServiceAccount %q", pod.ServiceAccountName, m.ServiceAccount.Name)
	}
	if d.Spec.Template.Spec.TerminationGracePeriodSeconds == nil || *d.Spec.Template.Spec.TerminationGracePeriodSeconds <= 15 {
		t.Error("terminationGracePeriodSeconds must exceed SHUTDOWN_TIMEOUT's default 15s")
	}

	// GOMEMLIMIT: the chart's share of the memory limit, in bytes.
	limit, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok {
		t.Fatal("no memory limit")
	}
	pct := int64(90)
	if slices.Contains(args, chartDir+"/ci/all-on-values.yaml") {
		pct = 85
	}
	if got, want := env["GOMEMLIMIT"].Value, strconv.FormatInt(limit.Value()*pct/100, 10); got != want {
		t.Errorf("GOMEMLIMIT = %q, want %s%% of %s = %s", got, strconv.FormatInt(pct, 10), limit.String(), want)
	}

	// Every variable is one the service reads, and every secret one comes
	// from the Secret, never from a plain value.
	vars := map[string]config.Variable{}
	for _, v := range config.Variables() {
		vars[v.Name] = v
	}
	for name, e := range env {
		v, known := vars[name]
		switch {
		case !known && name != "GOMEMLIMIT":
			t.Errorf("env %s is not a variable the service reads (config.Variables)", name)
		case v.Secret && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil):
			t.Errorf("secret %s is not taken from a Secret: %+v", name, e)
		}
	}
	secretName := fullname
	if m.Secret == nil {
		secretName = "jelou-creds"
	} else if m.Secret.Name != fullname {
		t.Errorf("Secret %q, want %q", m.Secret.Name, fullname)
	}
	for _, v := range config.Variables() {
		if !v.Secret && v.Name != "JELOU_CLIENT_ID" {
			continue
		}
		e, ok := env[v.Name]
		if !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s is not fed from the Secret", v.Name)
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		if ref.Name != secretName || ref.Key != v.Name {
			t.Errorf("%s from secret %s key %s, want %s key %s", v.Name, ref.Name, ref.Key, secretName, v.Name)
		}
		if m.Secret != nil && v.Required != "" {
			if _, ok := m.Secret.StringData[v.Name]; !ok {
				t.Errorf("the created Secret has no %s", v.Name)
			}
		}
	}

	// The checkpoint file is on the /data volume: the PVC, or an emptyDir.
	mounts := map[string]string{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.MountPath] = vm.Name
	}
	if !strings.HasPrefix(env["CHECKPOINT_PATH"].Value, "/data/") || mounts["/data"] == "" || mounts["/tmp"] == "" {
		t.Errorf("CHECKPOINT_PATH %q, mounts %v: want the checkpoint under /data and /tmp writable", env["CHECKPOINT_PATH"].Value, mounts)
	}
	var data *corev1.Volume
	for i := range pod.Volumes {
		if pod.Volumes[i].Name == mounts["/data"] {
			data = &pod.Volumes[i]
		}
	}
	switch {
	case data == nil:
		t.Error("no /data volume")
	case data.PersistentVolumeClaim != nil:
		claim := data.PersistentVolumeClaim.ClaimName
		if m.PVC != nil && claim != m.PVC.Name || m.PVC == nil && claim != "jelou-data" {
			t.Errorf("claim %q, rendered PVC %+v", claim, m.PVC)
		}
	case data.EmptyDir != nil:
		if m.PVC != nil {
			t.Error("a PVC is rendered but /data is an emptyDir")
		}
	}
}

func checkService(t *testing.T, m manifests) {
	t.Helper()
	s := m.Service
	if s == nil {
		t.Fatal("no Service")
	}
	if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].TargetPort.String() != "http-metrics" || s.Spec.Ports[0].Name != "http-metrics" {
		t.Errorf("Service ports %+v, want http-metrics to the container's http-metrics", s.Spec.Ports)
	}
	pod := m.Deployment.Spec.Template.Labels
	for k, v := range s.Spec.Selector {
		if pod[k] != v {
			t.Errorf("Service selector %s=%s does not match the pod labels %v", k, v, pod)
		}
	}
	for k, v := range m.Deployment.Spec.Selector.MatchLabels {
		if pod[k] != v {
			t.Errorf("Deployment selector %s=%s does not match the pod labels", k, v)
		}
	}
	if sm := m.ServiceMonitor; sm != nil {
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != s.Spec.Ports[0].Name || sm.Spec.Endpoints[0].Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoints %+v, want /metrics on the Service's port", sm.Spec.Endpoints)
		}
		for k, v := range sm.Spec.Selector.MatchLabels {
			if s.Labels[k] != v {
				t.Errorf("ServiceMonitor selector %s=%s does not match the Service's labels", k, v)
			}
		}
	}
}

// TestDefaultsKeepOptionalObjectsOff checks that ServiceMonitor,
// PrometheusRule and the dashboard are off by default and on in all-on.
func TestOptionalObjects(t *testing.T) {
	helm(t)
	def := render(t)
	if def.ServiceMonitor != nil || def.PrometheusRule != nil || len(def.ConfigMaps) != 0 {
		t.Error("ServiceMonitor, PrometheusRule or dashboard rendered with default values")
	}
	if def.PVC == nil || def.Secret == nil || def.ServiceAccount == nil {
		t.Error("PVC, Secret or ServiceAccount missing with default values")
	}
	on := render(t, valueSets["all-on"]...)
	if on.ServiceMonitor == nil || on.PrometheusRule == nil || len(on.ConfigMaps) != 1 {
		t.Fatal("all-on values did not render ServiceMonitor, PrometheusRule and the dashboard")
	}
	if on.ConfigMaps[0].Labels["grafana_dashboard"] != "1" || on.ConfigMaps[0].Data["jelou-producer.json"] == "" {
		t.Errorf("dashboard ConfigMap: labels %v, %d keys", on.ConfigMaps[0].Labels, len(on.ConfigMaps[0].Data))
	}
	if string(on.Secret.StringData["KAFKA_SASL_PASSWORD"]) != "sasl-password" {
		t.Error("all-on: the SASL password is not in the Secret")
	}
}

// TestRefusedValues checks that values the chart cannot honour stop
// rendering with a message naming them, from the templates or from
// values.schema.json.
func TestRefusedValues(t *testing.T) {
	helm(t)
	for _, tt := range []struct {
		set, want string
	}{
		{"config.JELOU_CLIENT_SECRET=x", "config.JELOU_CLIENT_SECRET: set by the chart"},
		{"config.CHECKPOINT_PATH=/tmp/x", "config.CHECKPOINT_PATH: set by the chart"},
		{"resources.limits.memory=0.5Gi", `resources.limits.memory "0.5Gi"`},
		{"goMemLimitPercent=0", "/goMemLimitPercent': minimum"}, // values.schema.json
		{"replicaCount=2", "'replicaCount' not allowed"},
		{"persistence.size=", "/persistence/size': minLength"},
		{"config.poll_window=1h", "invalid propertyName 'poll_window'"},
		{"checkpointPath=/var/checkpoint", `checkpointPath "/var/checkpoint"`},
	} {
		t.Run(tt.set, func(t *testing.T) {
			_, err := template(t, "--set", tt.set)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
