package helmtest

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/jelou-producer/jelou-producer/internal/config"
)

// valueSet is a value combination every structural test renders, with what
// its Deployment must then be.
type valueSet struct {
	args     []string
	backend  string   // CHECKPOINT_BACKEND: "kafka" or "file"
	replicas int32    // spec.replicas
	groupID  string   // GROUP_ID (kafka backend); empty: the release's full name
	sources  []source // named sources; none: the default source from JELOU_*
	secret   string   // the Secret the chart's secretKeyRefs name; empty: the chart's own
	memPct   int64    // goMemLimitPercent
	sidecars int      // containers beside the service's
	// stateTopic is KAFKA_STATE_TOPIC, which sources without a stateTopic
	// of their own inherit; empty: none.
	stateTopic string
	// registryPassword: the chart's Secret holds SCHEMA_REGISTRY_PASSWORD
	// (with SCHEMA_REGISTRY_USERNAME under config).
	registryPassword bool
}

// source is a named source of a value set: its id, the Secret holding its
// credentials and its own current-state topic (SOURCE_<ID>_STATE_TOPIC;
// empty: none of its own, it inherits KAFKA_STATE_TOPIC).
type source struct{ id, secret, stateTopic string }

// globalSecrets are the secret variables that stay global with named
// sources: Kafka's and the Schema Registry's passwords, taken from the
// chart's Secret (optional keys) whatever the sources.
var globalSecrets = []string{"KAFKA_SASL_PASSWORD", "SCHEMA_REGISTRY_PASSWORD"}

// valueSets are the value combinations every structural test renders.
var valueSets = map[string]valueSet{
	"defaults": {backend: "kafka", replicas: 2},
	"all-on": {
		args:    []string{"-f", chartDir + "/ci/all-on-values.yaml"},
		backend: "kafka", replicas: 3, groupID: "data-jelou-producer",
		sources:    []source{{"acme", "jelou-acme", "jelou.acme.conversations.state"}, {"eu-1", "jelou-eu-1", ""}},
		memPct:     85,
		stateTopic: "jelou.conversations.state", registryPassword: true,
	},
	"kafka backend, one replica, existing secret": {
		args:    []string{"--set", "replicaCount=1,secrets.existingSecret=jelou-creds,group.id=jelou"},
		backend: "kafka", replicas: 1, groupID: "jelou", secret: "jelou-creds",
	},
	"extensions": {
		args:    []string{"-f", chartDir + "/ci/extensions-values.yaml"},
		backend: "kafka", replicas: 2, sidecars: 1,
	},
	"file backend": {
		args:    []string{"-f", chartDir + "/ci/file-backend-values.yaml"},
		backend: "file", replicas: 1,
	},
	"file backend, existing secret, no volume": {
		args:    []string{"--set", "checkpointBackend=file,replicaCount=1,secrets.existingSecret=jelou-creds,persistence.enabled=false,serviceAccount.create=false"},
		backend: "file", replicas: 1, secret: "jelou-creds",
	},
	"file backend, existing claim": {
		args:    []string{"--set", "checkpointBackend=file,replicaCount=1,persistence.existingClaim=jelou-data,resources.limits.memory=512M"},
		backend: "file", replicas: 1,
	},
	"file backend, one named source": {
		args:    []string{"--set", "checkpointBackend=file,replicaCount=1,sources[0].id=acme,sources[0].topic=jelou.acme,sources[0].existingSecret=acme-creds"},
		backend: "file", replicas: 1,
		sources: []source{{"acme", "acme-creds", ""}},
	},
}

func TestManifests(t *testing.T) {
	helm(t)
	for name, vs := range valueSets {
		t.Run(name, func(t *testing.T) {
			m := render(t, vs.args...)
			checkDeployment(t, m, vs)
			checkBackend(t, m, vs)
			checkSources(t, m, vs)
			checkService(t, m)
		})
	}
}

// envOf returns the container's environment by name, reporting a variable
// set twice.
func envOf(t *testing.T, c corev1.Container) map[string]corev1.EnvVar {
	t.Helper()
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("env %s set twice", e.Name)
		}
		env[e.Name] = e
	}
	return env
}

func checkDeployment(t *testing.T, m manifests, vs valueSet) {
	t.Helper()
	d := m.Deployment
	if d == nil {
		t.Fatal("no Deployment")
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != vs.replicas {
		t.Errorf("replicas = %v, want %d", d.Spec.Replicas, vs.replicas)
	}
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1+vs.sidecars || pod.Containers[0].Name != "jelou-producer" {
		t.Fatalf("%d containers, the first %q; want jelou-producer and %d sidecars", len(pod.Containers), pod.Containers[0].Name, vs.sidecars)
	}
	c := pod.Containers[0]

	// Probes on the named metrics port, which HTTP_ADDR listens on.
	env := envOf(t, c)
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
	// The startup probe (on by default) holds the others back until the
	// process answers; it needs room for a slow start.
	if p := c.StartupProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Port.String() != "http-metrics" ||
		p.HTTPGet.Path != "/healthz" && p.HTTPGet.Path != "/readyz" || p.PeriodSeconds*p.FailureThreshold < 30 {
		t.Errorf("startup probe = %+v, want GET /healthz or /readyz on http-metrics for at least 30s", p)
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

	// GOMEMLIMIT: the chart's share of the memory limit, in bytes.
	limit, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok {
		t.Fatal("no memory limit")
	}
	pct := cmp.Or(vs.memPct, 90)
	if got, want := env["GOMEMLIMIT"].Value, strconv.FormatInt(limit.Value()*pct/100, 10); got != want {
		t.Errorf("GOMEMLIMIT = %q, want %s%% of %s = %s", got, strconv.FormatInt(pct, 10), limit.String(), want)
	}

	// Every variable is one the service reads (a global one, or one of a
	// configured source's SOURCE_<ID>_*), and every secret one comes from the
	// Secret, never from a plain value.
	vars := map[string]config.Variable{}
	for _, v := range config.Variables() {
		vars[v.Name] = v
	}
	for _, s := range vs.sources {
		for _, v := range config.SourceVariables() {
			v.Name = strings.Replace(v.Name, "SOURCE_<ID>_", config.SourcePrefix(s.id), 1)
			vars[v.Name] = v
		}
	}
	for name, e := range env {
		v, known := vars[name]
		switch {
		case !known && name != "GOMEMLIMIT":
			t.Errorf("env %s is not a variable the service reads (config.Variables, config.SourceVariables)", name)
		case v.Secret && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil):
			t.Errorf("secret %s is not taken from a Secret: %+v", name, e)
		}
	}
	secretName := cmp.Or(vs.secret, fullname)
	switch {
	case vs.secret != "" && m.Secret != nil:
		t.Errorf("Secret %q rendered beside secrets.existingSecret", m.Secret.Name)
	case vs.secret == "" && len(vs.sources) == 0 && m.Secret == nil:
		t.Error("no Secret for the default source's credentials")
	case m.Secret != nil && m.Secret.Name != fullname:
		t.Errorf("Secret %q, want %q", m.Secret.Name, fullname)
	}
	for _, v := range config.Variables() {
		if !v.Secret && v.Name != "JELOU_CLIENT_ID" {
			continue
		}
		e, ok := env[v.Name]
		global := slices.Contains(globalSecrets, v.Name)
		if len(vs.sources) > 0 && !global {
			// Each source has its own credentials; the global ones would be
			// refused as unused.
			if ok {
				t.Errorf("%s is set although sources are named", v.Name)
			}
			continue
		}
		if !ok && global && vs.secret == "" && m.Secret == nil {
			continue // sources and no global password: no Secret to take it from
		}
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
}

// checkBackend checks what the checkpoint backend decides: the strategy,
// the variables, the volume, the PodDisruptionBudget and the grace period.
func checkBackend(t *testing.T, m manifests, vs valueSet) {
	t.Helper()
	d := m.Deployment
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	env := envOf(t, c)
	if got := env["CHECKPOINT_BACKEND"].Value; got != vs.backend {
		t.Errorf("CHECKPOINT_BACKEND = %q, want %q", got, vs.backend)
	}
	mounts := map[string]string{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.MountPath] = vm.Name
	}
	if mounts["/tmp"] == "" {
		t.Errorf("mounts %v: want /tmp writable", mounts)
	}

	// SIGTERM: the final saves within SHUTDOWN_TIMEOUT, then (kafka) leaving
	// the group, which may take up to the coordinator timeout of 10s.
	shutdown := 15 * time.Second
	if v := env["SHUTDOWN_TIMEOUT"].Value; v != "" {
		var err error
		if shutdown, err = time.ParseDuration(v); err != nil {
			t.Fatalf("SHUTDOWN_TIMEOUT %q: %v", v, err)
		}
	}
	need := shutdown
	if vs.backend == "kafka" {
		need += 10 * time.Second
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= need {
		t.Errorf("terminationGracePeriodSeconds = %v, must exceed %v (SHUTDOWN_TIMEOUT %v, plus leaving the group with kafka)", g, need, shutdown)
	}

	// A PodDisruptionBudget keeps one replica through a drain, when there
	// is more than one.
	switch {
	case vs.replicas > 1 && m.PDB == nil:
		t.Errorf("%d replicas and no PodDisruptionBudget", vs.replicas)
	case vs.replicas <= 1 && m.PDB != nil:
		t.Errorf("a PodDisruptionBudget for %d replica would block every drain", vs.replicas)
	case m.PDB != nil:
		if mi := m.PDB.Spec.MinAvailable; mi == nil || mi.String() != "1" || m.PDB.Spec.MaxUnavailable != nil {
			t.Errorf("PodDisruptionBudget minAvailable %v, maxUnavailable %v; want minAvailable 1", mi, m.PDB.Spec.MaxUnavailable)
		}
		sel := m.PDB.Spec.Selector
		if sel == nil || len(sel.MatchLabels) == 0 || len(sel.MatchExpressions) > 0 {
			t.Fatalf("PodDisruptionBudget selector %+v, want the pod's selector labels", sel)
		}
		for k, v := range sel.MatchLabels {
			if d.Spec.Template.Labels[k] != v {
				t.Errorf("PodDisruptionBudget selector %s=%s does not match the pod labels", k, v)
			}
		}
	}

	switch vs.backend {
	case "kafka":
		// Replicas: a new pod joins the group as a standby before an old
		// one leaves; no volume, the checkpoint is in a topic.
		ru := d.Spec.Strategy.RollingUpdate
		if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil ||
			ru.MaxSurge == nil || ru.MaxSurge.String() != "1" || ru.MaxUnavailable == nil || ru.MaxUnavailable.String() != "0" {
			t.Errorf("strategy = %+v, want RollingUpdate with maxSurge 1, maxUnavailable 0", d.Spec.Strategy)
		}
		if env["CHECKPOINT_TOPIC"].Value == "" {
			t.Error("no CHECKPOINT_TOPIC")
		}
		if got, want := env["GROUP_ID"].Value, cmp.Or(vs.groupID, fullname); got != want {
			t.Errorf("GROUP_ID = %q, want %q", got, want)
		}
		if _, err := time.ParseDuration(env["GROUP_SESSION_TIMEOUT"].Value); err != nil {
			t.Errorf("GROUP_SESSION_TIMEOUT %q: %v", env["GROUP_SESSION_TIMEOUT"].Value, err)
		}
		if _, ok := env["CHECKPOINT_PATH"]; ok || mounts["/data"] != "" || m.PVC != nil {
			t.Errorf("kafka backend with CHECKPOINT_PATH %q, /data mount %q, PVC %v: want no checkpoint volume", env["CHECKPOINT_PATH"].Value, mounts["/data"], m.PVC != nil)
		}
	case "file":
		// One pod: the old one drains and saves before the new one starts.
		if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType || d.Spec.Strategy.RollingUpdate != nil {
			t.Errorf("strategy = %+v, want Recreate", d.Spec.Strategy)
		}
		for _, name := range []string{"CHECKPOINT_TOPIC", "GROUP_ID", "GROUP_SESSION_TIMEOUT"} {
			if _, ok := env[name]; ok {
				t.Errorf("file backend with %s set", name)
			}
		}
		// The checkpoint file is on the /data volume: the PVC, or an emptyDir.
		if !strings.HasPrefix(env["CHECKPOINT_PATH"].Value, "/data/") || mounts["/data"] == "" {
			t.Errorf("CHECKPOINT_PATH %q, mounts %v: want the checkpoint under /data", env["CHECKPOINT_PATH"].Value, mounts)
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
	default:
		t.Fatalf("value set with backend %q", vs.backend)
	}
}

// checkSources checks the named sources: SOURCES lists them, each has its
// topic, and its credentials are files on a read-only volume of its own
// Secret (keys clientId, clientSecret), never variables.
func checkSources(t *testing.T, m manifests, vs valueSet) {
	t.Helper()
	pod := m.Deployment.Spec.Template.Spec
	c := pod.Containers[0]
	env := envOf(t, c)
	var ids []string
	for _, s := range vs.sources {
		ids = append(ids, s.id)
	}
	if got := env["SOURCES"].Value; got != strings.Join(ids, ",") {
		t.Errorf("SOURCES = %q, want %q", got, strings.Join(ids, ","))
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	// file returns the Secret and key that path is projected from, through
	// a read-only mount.
	file := func(path string) (secret, key string, ok bool) {
		for _, vm := range c.VolumeMounts {
			rel, found := strings.CutPrefix(path, vm.MountPath+"/")
			v := volumes[vm.Name]
			if !found || v.Secret == nil {
				continue
			}
			if !vm.ReadOnly {
				t.Errorf("secret volume %s mounted writable", vm.Name)
			}
			for _, it := range v.Secret.Items {
				if it.Path == rel {
					return v.Secret.SecretName, it.Key, true
				}
			}
		}
		return "", "", false
	}
	secretVolumes := 0
	for _, v := range pod.Volumes {
		if v.Secret != nil {
			if strings.HasPrefix(v.Name, "source-") {
				secretVolumes++
			}
			if m := v.Secret.DefaultMode; m == nil || *m&0o007 != 0 {
				mode := "unset (0644)"
				if m != nil {
					mode = fmt.Sprintf("%#o", *m)
				}
				t.Errorf("secret volume %s: defaultMode %s, want no access for others", v.Name, mode)
			}
		}
	}
	if secretVolumes != len(vs.sources) {
		t.Errorf("%d source secret volumes, want one per source (%d)", secretVolumes, len(vs.sources))
	}
	for _, s := range vs.sources {
		prefix := config.SourcePrefix(s.id)
		if env[prefix+"TOPIC"].Value == "" {
			t.Errorf("source %s: no %sTOPIC", s.id, prefix)
		}
		if e, ok := env[prefix+"STATE_TOPIC"]; e.Value != s.stateTopic || ok != (s.stateTopic != "") {
			t.Errorf("source %s: %sSTATE_TOPIC = %q (set %v), want %q (set only when given)", s.id, prefix, e.Value, ok, s.stateTopic)
		}
		for _, cred := range []struct{ name, key string }{{"CLIENT_ID", "clientId"}, {"CLIENT_SECRET", "clientSecret"}} {
			if e, ok := env[prefix+cred.name]; ok {
				t.Errorf("source %s: %s%s is set (%+v); the credential must come as a file", s.id, prefix, cred.name, e)
			}
			e := env[prefix+cred.name+"_FILE"]
			if e.ValueFrom != nil {
				t.Errorf("source %s: %s%s_FILE from %+v, want a path", s.id, prefix, cred.name, e.ValueFrom)
			}
			secret, key, ok := file(e.Value)
			if !ok || secret != s.secret || key != cred.key {
				t.Errorf("source %s: %s%s_FILE = %q: from secret %q key %q (found %v), want secret %q key %q", s.id, prefix, cred.name, e.Value, secret, key, ok, s.secret, cred.key)
			}
		}
	}
	if m.Secret != nil && len(vs.sources) > 0 {
		for k := range m.Secret.StringData {
			if !slices.Contains(globalSecrets, k) {
				t.Errorf("the created Secret holds %s although sources are named", k)
			}
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

// TestOptionalObjects checks which objects each configuration renders:
// ServiceMonitor, PrometheusRule and the dashboard are off by default and on
// in all-on; the default (kafka backend, 2 replicas) has a
// PodDisruptionBudget and no PVC, the file backend a PVC and no
// PodDisruptionBudget.
func TestOptionalObjects(t *testing.T) {
	helm(t)
	def := render(t)
	if def.ServiceMonitor != nil || def.PrometheusRule != nil || len(def.ConfigMaps) != 0 {
		t.Error("ServiceMonitor, PrometheusRule or dashboard rendered with default values")
	}
	if def.Secret == nil || def.ServiceAccount == nil || def.PDB == nil {
		t.Error("Secret, ServiceAccount or PodDisruptionBudget missing with default values")
	}
	if def.PVC != nil {
		t.Error("a PVC rendered with default values (kafka backend)")
	}
	file := render(t, valueSets["file backend"].args...)
	if file.PVC == nil || file.PDB != nil {
		t.Errorf("file backend: PVC %v, PodDisruptionBudget %v; want a PVC and no budget", file.PVC != nil, file.PDB != nil)
	}
	if file.PVC != nil && (file.PVC.Annotations["helm.sh/resource-policy"] != "keep" || file.PVC.Spec.StorageClassName == nil || *file.PVC.Spec.StorageClassName != "fast-ssd") {
		t.Errorf("file backend PVC: annotations %v, storage class %v", file.PVC.Annotations, file.PVC.Spec.StorageClassName)
	}
	on := render(t, valueSets["all-on"].args...)
	if on.ServiceMonitor == nil || on.PrometheusRule == nil || len(on.ConfigMaps) != 1 {
		t.Fatal("all-on values did not render ServiceMonitor, PrometheusRule and the dashboard")
	}
	if on.ConfigMaps[0].Labels["grafana_dashboard"] != "1" || on.ConfigMaps[0].Data["jelou-producer.json"] == "" {
		t.Errorf("dashboard ConfigMap: labels %v, %d keys", on.ConfigMaps[0].Labels, len(on.ConfigMaps[0].Data))
	}
	if on.Secret == nil || string(on.Secret.StringData["KAFKA_SASL_PASSWORD"]) != "sasl-password" ||
		string(on.Secret.StringData["SCHEMA_REGISTRY_PASSWORD"]) != "registry-password" {
		t.Error("all-on: the SASL or the Schema Registry password is not in the Secret")
	}
	// Named sources without a global password: nothing for the chart's Secret.
	src := render(t, valueSets["file backend, one named source"].args...)
	if src.Secret != nil {
		t.Errorf("a Secret with %d keys rendered for named sources without a SASL or registry password", len(src.Secret.StringData))
	}
	// Named sources with only a Schema Registry password: a Secret of that
	// key alone, which the Deployment reads.
	reg := render(t, "--set", "checkpointBackend=file,replicaCount=1,sources[0].id=acme,sources[0].topic=jelou.acme,sources[0].existingSecret=acme-creds,secrets.schemaRegistryPassword=registry-password")
	if reg.Secret == nil || len(reg.Secret.StringData) != 1 || string(reg.Secret.StringData["SCHEMA_REGISTRY_PASSWORD"]) != "registry-password" {
		t.Errorf("named sources and a registry password: Secret %+v, want one with SCHEMA_REGISTRY_PASSWORD alone", reg.Secret)
	} else if e := envOf(t, reg.Deployment.Spec.Template.Spec.Containers[0])["SCHEMA_REGISTRY_PASSWORD"]; e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != reg.Secret.Name {
		t.Errorf("named sources and a registry password: SCHEMA_REGISTRY_PASSWORD %+v, want it from the Secret %s", e, reg.Secret.Name)
	}
}

// TestSecretValuesOnlyInTheSecret gives the chart every secret value it
// takes and checks that each appears in the chart's Secret and in no other
// document (not in the Deployment's environment, not in an annotation).
// Named sources take no secret values at all: their Secrets are the
// user's, mounted as files (TestManifests checks the mounts, and
// TestRefusedValues that an inline credential is refused).
func TestSecretValuesOnlyInTheSecret(t *testing.T) {
	helm(t)
	for name, tt := range map[string]struct {
		args    []string
		secrets []string
	}{
		"default source": {
			args:    []string{"--set", "secrets.jelouClientId=sentinel-id-7f3a,secrets.jelouClientSecret=sentinel-secret-7f3a,secrets.kafkaSaslPassword=sentinel-sasl-7f3a,secrets.schemaRegistryPassword=sentinel-registry-7f3a"},
			secrets: []string{"sentinel-id-7f3a", "sentinel-secret-7f3a", "sentinel-sasl-7f3a", "sentinel-registry-7f3a"},
		},
		"named sources": {
			args:    []string{"-f", chartDir + "/ci/all-on-values.yaml", "--set", "secrets.kafkaSaslPassword=sentinel-sasl-7f3a,secrets.schemaRegistryPassword=sentinel-registry-7f3a"},
			secrets: []string{"sentinel-sasl-7f3a", "sentinel-registry-7f3a"},
		},
		"named sources, registry password only": {
			args:    []string{"--set", "sources[0].id=acme,sources[0].topic=jelou.acme,sources[0].existingSecret=acme-creds,secrets.schemaRegistryPassword=sentinel-registry-7f3a"},
			secrets: []string{"sentinel-registry-7f3a"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := template(t, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			inSecret := map[string]bool{}
			for i, doc := range strings.Split(out, "\n---") {
				var tm metav1.TypeMeta
				if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
					t.Fatalf("document %d: %v", i, err)
				}
				for _, s := range tt.secrets {
					switch {
					case !strings.Contains(doc, s):
					case tm.Kind == "Secret":
						inSecret[s] = true
					default:
						t.Errorf("secret value %q in a %s (document %d)", s, tm.Kind, i)
					}
				}
			}
			for _, s := range tt.secrets {
				if !inSecret[s] {
					t.Errorf("secret value %q is not in the Secret", s)
				}
			}
		})
	}
}

// TestRefusedValues checks that values the chart cannot honour stop
// rendering with a message naming them, from the templates or from
// values.schema.json.
func TestRefusedValues(t *testing.T) {
	helm(t)
	const acme = "sources[0].id=acme,sources[0].topic=jelou.acme,sources[0].existingSecret=acme-creds"
	for _, tt := range []struct {
		set, want string
	}{
		{"config.JELOU_CLIENT_SECRET=x", "config.JELOU_CLIENT_SECRET: set by the chart; use secrets.jelouClientSecret"},
		{"config.SCHEMA_REGISTRY_PASSWORD=x", "config.SCHEMA_REGISTRY_PASSWORD: set by the chart; use secrets.schemaRegistryPassword or secrets.existingSecret instead"},
		{"extraEnv[0].name=SCHEMA_REGISTRY_PASSWORD,extraEnv[0].value=x", "extraEnv[0] SCHEMA_REGISTRY_PASSWORD: set by the chart; use secrets.schemaRegistryPassword or secrets.existingSecret instead"},
		{"config.CHECKPOINT_PATH=/tmp/x", "config.CHECKPOINT_PATH: set by the chart; use checkpointPath"},
		{"config.CHECKPOINT_BACKEND=file", "config.CHECKPOINT_BACKEND: set by the chart; use checkpointBackend"},
		{"config.CHECKPOINT_TOPIC=x", "config.CHECKPOINT_TOPIC: set by the chart; use checkpointTopic"},
		{"config.GROUP_ID=x", "config.GROUP_ID: set by the chart; use group.id"},
		{"config.GROUP_SESSION_TIMEOUT=30s", "config.GROUP_SESSION_TIMEOUT: set by the chart; use group.sessionTimeout"},
		{"config.SOURCES=acme", "config.SOURCES: set by the chart; use sources"},
		{"config.SOURCE_ACME_TOPIC=x", "config.SOURCE_ACME_TOPIC: set by the chart; use sources"},
		{"resources.limits.memory=0.5Gi", `resources.limits.memory "0.5Gi"`},
		{"goMemLimitPercent=0", "/goMemLimitPercent': minimum"}, // values.schema.json
		{"replicaCount=-1", "/replicaCount': minimum"},
		{"checkpointBackend=sqlite", "/checkpointBackend': value must be one of"},
		{"group.sessionTimeout=ten", "/group/sessionTimeout': 'ten' does not match pattern"},
		{"persistence.size=", "/persistence/size': minLength"},
		{"config.poll_window=1h", "invalid propertyName 'poll_window'"},
		{"checkpointPath=/var/checkpoint", `checkpointPath "/var/checkpoint"`},

		// The file backend runs one replica; the default replicaCount is 2.
		{"checkpointBackend=file", "replicaCount 2: the file checkpoint backend runs exactly one replica"},
		{"checkpointBackend=file,replicaCount=2", "replicaCount 2: the file checkpoint backend runs exactly one replica"},
		{"checkpointBackend=file,replicaCount=3", "replicaCount 3: the file checkpoint backend runs exactly one replica"},

		// The grace period covers SHUTDOWN_TIMEOUT, plus leaving the group.
		{"terminationGracePeriodSeconds=25", "terminationGracePeriodSeconds 25: must exceed SHUTDOWN_TIMEOUT (15s) plus up to 10s to leave the consumer group"},
		{"config.SHUTDOWN_TIMEOUT=1m", "terminationGracePeriodSeconds 30: must exceed SHUTDOWN_TIMEOUT (60s) plus up to 10s"},
		{"checkpointBackend=file,replicaCount=1,config.SHUTDOWN_TIMEOUT=30s", "terminationGracePeriodSeconds 30: must exceed SHUTDOWN_TIMEOUT (30s); raise it"},
		{"config.SHUTDOWN_TIMEOUT=1.5s", `config.SHUTDOWN_TIMEOUT "1.5s": write it in whole h, m and s`},

		// Named sources.
		{acme + ",sources[1].id=acme,sources[1].topic=t,sources[1].existingSecret=s", `sources[1].id "acme": listed twice`},
		{acme + ",secrets.jelouClientSecret=x", "secrets.jelouClientSecret: unused when sources is set"},
		{acme + ",sources[0].clientSecret=x", "additional properties 'clientSecret' not allowed"}, // no inline credentials
		{"sources[0].id=Acme,sources[0].topic=t,sources[0].existingSecret=s", "/sources/0/id': 'Acme' does not match pattern"},
		{"sources[0].id=acme,sources[0].topic=t", "/sources/0': missing property 'existingSecret'"},
		{"sources[0].id=acme,sources[0].existingSecret=s", "/sources/0': missing property 'topic'"},
		{acme + ",sources[0].authScheme=bearer", "/sources/0/authScheme': value must be one of"},
		{acme + ",sources[0].stateTopic=bad topic", "/sources/0/stateTopic': 'bad topic' does not match pattern"},

		// Extensions: schema-checked objects, and no variable set twice.
		{"extraEnv[0].name=GROUP_ID,extraEnv[0].value=x", "extraEnv[0] GROUP_ID: set by the chart; use group.id instead"},
		{"extraEnv[0].name=SOURCE_ACME_TOPIC,extraEnv[0].value=x", "extraEnv[0] SOURCE_ACME_TOPIC: set by the chart; use sources instead"},
		{"extraEnv[0].name=LOG_LEVEL,extraEnv[0].value=debug", "extraEnv[0] LOG_LEVEL: already set under config"},
		{"extraEnv[0].value=x", "/extraEnv/0': missing property 'name'"},
		{"extraVolumeMounts[0].name=ca", "/extraVolumeMounts/0': missing property 'mountPath'"},
		{"initContainers[0].name=x", "/initContainers/0': missing property 'image'"},
		{"sidecars[0]=x", "/sidecars/0': got string, want object"},
		{"topologySpreadConstraints[0].maxSkew=1", "/topologySpreadConstraints/0': missing properties 'topologyKey', 'whenUnsatisfiable'"},
		{"startupProbe.path=/metrics", "/startupProbe/path': value must be one of"},
		{"networkPolicy.kafka.cidrs[0]=10.0.0.0", "/networkPolicy/kafka/cidrs/0': '10.0.0.0' does not match pattern"},
		{"networkPolicy.egress=x", "additional properties 'egress' not allowed"},
		{"serviceMonitor.relabelings[0]=x", "/serviceMonitor/relabelings/0': got string, want object"},

		// Alerts: each one by name, a severity and for Prometheus takes.
		{"prometheusRule.alerts.JelouProducerNope.enabled=false", "additional properties 'JelouProducerNope' not allowed"},
		{"prometheusRule.alerts.JelouProducerDown.severity=page", "/prometheusRule/alerts/JelouProducerDown/severity': value must be one of"},
		{"prometheusRule.alerts.JelouProducerDown.for=5", "/prometheusRule/alerts/JelouProducerDown/for': got number, want string"},
		{"prometheusRule.apiErrorRatio=2", "/prometheusRule/apiErrorRatio': maximum"},
		{"prometheusRule.selector=up", "/prometheusRule/selector': 'up' does not match pattern"},
		{"prometheusRule.runbookBaseURL=docs/operations.md", "/prometheusRule/runbookBaseURL': 'docs/operations.md' does not match pattern"},
	} {
		t.Run(tt.set, func(t *testing.T) {
			_, err := template(t, "--set", tt.set)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestAcceptedValues checks values near the refused ones that the chart
// must take: the file backend with one replica, the kafka backend with one
// or none, a grace period just above its bound, durations in ms and in
// minutes.
func TestAcceptedValues(t *testing.T) {
	helm(t)
	for _, set := range []string{
		"checkpointBackend=file,replicaCount=1",
		"checkpointBackend=file,replicaCount=0",
		"replicaCount=0",
		"replicaCount=1",
		"terminationGracePeriodSeconds=26",
		"checkpointBackend=file,replicaCount=1,terminationGracePeriodSeconds=16",
		"config.SHUTDOWN_TIMEOUT=1500ms,terminationGracePeriodSeconds=16",
		"config.SHUTDOWN_TIMEOUT=1m,terminationGracePeriodSeconds=71",
		"config.SHUTDOWN_TIMEOUT=1m30s,terminationGracePeriodSeconds=101",
		"config.SOURCE_DATE_EPOCH=0", // not a variable of a source
		"extraEnv[0].name=KAFKA_TLS_CA_FILE,extraEnv[0].value=/etc/ca/ca.crt",
		"prometheusRule.enabled=true,prometheusRule.alerts.JelouProducerDown.enabled=false",
		"networkPolicy.enabled=true,networkPolicy.dns.enabled=false,networkPolicy.jelouApi.cidrs=null",
		"startupProbe.enabled=false",
	} {
		t.Run(set, func(t *testing.T) {
			if _, err := template(t, "--set", set); err != nil {
				t.Error(err)
			}
		})
	}
}
