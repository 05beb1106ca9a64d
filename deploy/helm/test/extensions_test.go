package helmtest

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestExtensions renders ci/extensions-values.yaml, which sets every
// extension value, and checks that each reaches its manifest (all of them
// decoded strictly into the API types by render): extra environment,
// envFrom, volumes and mounts (a Kafka and a Schema Registry CA), init
// containers and sidecars, the topology spread override, the startup
// probe, the NetworkPolicy and the ServiceMonitor's relabelings.
func TestExtensions(t *testing.T) {
	helm(t)
	m := render(t, valueSets["extensions"].args...)
	pod := m.Deployment.Spec.Template.Spec
	c := pod.Containers[0]

	env := envOf(t, c)
	if env["KAFKA_TLS_CA_FILE"].Value != "/etc/kafka-ca/ca.crt" {
		t.Errorf("extraEnv: KAFKA_TLS_CA_FILE = %+v", env["KAFKA_TLS_CA_FILE"])
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != "jelou-extra-config" {
		t.Errorf("extraEnvFrom: envFrom = %+v", c.EnvFrom)
	}
	var ca *corev1.Volume
	for i, v := range pod.Volumes {
		if v.Name == "kafka-ca" {
			ca = &pod.Volumes[i]
		}
	}
	if ca == nil || ca.Secret == nil || ca.Secret.SecretName != "cluster-cluster-ca-cert" {
		t.Errorf("extraVolumes: kafka-ca = %+v", ca)
	}
	if !slices.ContainsFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool {
		return vm.Name == "kafka-ca" && vm.MountPath == "/etc/kafka-ca" && vm.ReadOnly
	}) {
		t.Errorf("extraVolumeMounts: mounts = %+v", c.VolumeMounts)
	}
	// The Schema Registry's CA under config is a file of that read-only
	// Secret mount.
	if ca := env["SCHEMA_REGISTRY_TLS_CA_FILE"].Value; env["SCHEMA_REGISTRY_URL"].Value == "" || !slices.ContainsFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool {
		return vm.Name == "kafka-ca" && vm.ReadOnly && strings.HasPrefix(ca, vm.MountPath+"/")
	}) {
		t.Errorf("SCHEMA_REGISTRY_URL %q, SCHEMA_REGISTRY_TLS_CA_FILE %q: want the registry's CA from the kafka-ca mount", env["SCHEMA_REGISTRY_URL"].Value, ca)
	}
	if !slices.ContainsFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool { return vm.MountPath == "/tmp" }) {
		t.Error("extraVolumeMounts replaced the chart's mounts")
	}
	if len(pod.InitContainers) != 1 || pod.InitContainers[0].Name != "wait-for-ca" {
		t.Errorf("initContainers = %+v", pod.InitContainers)
	}
	if len(pod.Containers) != 2 || pod.Containers[1].Name != "log-shipper" {
		t.Errorf("sidecars: containers = %d", len(pod.Containers))
	}

	// The override replaces the default spread over nodes.
	if tsc := pod.TopologySpreadConstraints; len(tsc) != 1 || tsc[0].TopologyKey != "topology.kubernetes.io/zone" {
		t.Errorf("topologySpreadConstraints = %+v, want the zone override only", tsc)
	}
	if p := c.StartupProbe; p == nil || p.HTTPGet.Path != "/readyz" || p.PeriodSeconds != 5 || p.FailureThreshold != 24 || p.TimeoutSeconds != 2 {
		t.Errorf("startupProbe = %+v, want /readyz every 5s, 24 times, timeout 2s", p)
	}

	checkNetworkPolicy(t, m)

	sm := m.ServiceMonitor
	if sm == nil {
		t.Fatal("no ServiceMonitor")
	}
	ep := sm.Spec.Endpoints[0]
	if len(ep.RelabelConfigs) != 1 || ep.RelabelConfigs[0].TargetLabel != "node" {
		t.Errorf("relabelings = %+v", ep.RelabelConfigs)
	}
	if len(ep.MetricRelabelConfigs) != 1 || ep.MetricRelabelConfigs[0].Action != "drop" {
		t.Errorf("metricRelabelings = %+v", ep.MetricRelabelConfigs)
	}
}

// checkNetworkPolicy checks ci/extensions-values.yaml's NetworkPolicy: it
// selects the Deployment's pods, lets the monitoring namespace's Prometheus
// and the helm test Pod reach the metrics port, and lets the pods reach DNS,
// the Kafka brokers and the Jelou API, plus the extra rules.
func checkNetworkPolicy(t *testing.T, m manifests) {
	t.Helper()
	np := m.NetworkPolicy
	if np == nil {
		t.Fatal("networkPolicy.enabled rendered no NetworkPolicy")
	}
	if !maps.Equal(np.Spec.PodSelector.MatchLabels, m.Deployment.Spec.Selector.MatchLabels) {
		t.Errorf("podSelector %v, Deployment selector %v", np.Spec.PodSelector.MatchLabels, m.Deployment.Spec.Selector.MatchLabels)
	}
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}) {
		t.Errorf("policyTypes %v", np.Spec.PolicyTypes)
	}
	if len(np.Spec.Ingress) != 2 {
		t.Fatalf("%d ingress rules, want the metrics one and the extra one", len(np.Spec.Ingress))
	}
	in := np.Spec.Ingress[0]
	if len(in.Ports) != 1 || in.Ports[0].Port.String() != "http-metrics" || len(in.From) != 2 {
		t.Fatalf("metrics ingress %+v", in)
	}
	if ns := in.From[0].NamespaceSelector; ns == nil || ns.MatchLabels["kubernetes.io/metadata.name"] != "monitoring" ||
		in.From[0].PodSelector == nil || in.From[0].PodSelector.MatchLabels["app.kubernetes.io/name"] != "prometheus" {
		t.Errorf("metrics ingress from %+v, want monitoring's prometheus", in.From[0])
	}
	if m.TestPod == nil || !selects(in.From[1].PodSelector, m.TestPod.Labels) || in.From[1].NamespaceSelector != nil {
		t.Errorf("metrics ingress from %+v does not admit the helm test Pod", in.From[1])
	}
	if np.Spec.Ingress[1].From[0].IPBlock == nil || np.Spec.Ingress[1].From[0].IPBlock.CIDR != "10.30.0.0/16" {
		t.Errorf("extraIngress: %+v", np.Spec.Ingress[1])
	}

	// egress: DNS, Kafka, the API, the extra rule, in that order.
	eg := np.Spec.Egress
	if len(eg) != 4 {
		t.Fatalf("%d egress rules, want DNS, Kafka, the API and the extra one", len(eg))
	}
	ports := func(r networkingv1.NetworkPolicyEgressRule) []string {
		var out []string
		for _, p := range r.Ports {
			out = append(out, p.Port.String()+"/"+string(*p.Protocol))
		}
		return out
	}
	cidrs := func(r networkingv1.NetworkPolicyEgressRule) []string {
		var out []string
		for _, p := range r.To {
			if p.IPBlock != nil {
				out = append(out, p.IPBlock.CIDR)
			}
		}
		return out
	}
	if got := ports(eg[0]); !slices.Equal(got, []string{"53/UDP", "53/TCP"}) || len(eg[0].To) != 1 || eg[0].To[0].PodSelector.MatchLabels["k8s-app"] != "kube-dns" {
		t.Errorf("DNS egress: ports %v to %+v", got, eg[0].To)
	}
	if got := ports(eg[1]); !slices.Equal(got, []string{"9093/TCP"}) || !slices.Equal(cidrs(eg[1]), []string{"10.20.0.0/16"}) || len(eg[1].To) != 2 {
		t.Errorf("Kafka egress: ports %v to %+v", got, eg[1].To)
	}
	if got := ports(eg[2]); !slices.Equal(got, []string{"443/TCP"}) || !slices.Equal(cidrs(eg[2]), []string{"203.0.113.0/24"}) {
		t.Errorf("API egress: ports %v to %v", got, cidrs(eg[2]))
	}
	if !slices.Equal(cidrs(eg[3]), []string{"10.40.0.10/32"}) {
		t.Errorf("extraEgress: %+v", eg[3])
	}
}

// selects reports whether sel's matchLabels all hold in labels.
func selects(sel *metav1.LabelSelector, labels map[string]string) bool {
	if sel == nil || len(sel.MatchLabels) == 0 {
		return false
	}
	for k, v := range sel.MatchLabels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestDefaultPodPlacement checks the defaults: replicas spread over nodes
// (soft, by the chart's selector labels) so that an owner and its standby
// do not share a node when they need not; no constraint with
// defaultTopologySpread false; no NetworkPolicy unless asked for.
func TestDefaultPodPlacement(t *testing.T) {
	helm(t)
	m := render(t)
	tsc := m.Deployment.Spec.Template.Spec.TopologySpreadConstraints
	if len(tsc) != 1 {
		t.Fatalf("topologySpreadConstraints = %+v, want one", tsc)
	}
	c := tsc[0]
	if c.TopologyKey != "kubernetes.io/hostname" || c.WhenUnsatisfiable != corev1.ScheduleAnyway || c.MaxSkew != 1 ||
		c.LabelSelector == nil || !maps.Equal(c.LabelSelector.MatchLabels, m.Deployment.Spec.Selector.MatchLabels) {
		t.Errorf("topologySpreadConstraint = %+v, want maxSkew 1 over kubernetes.io/hostname, ScheduleAnyway, the Deployment's selector", c)
	}
	if m.NetworkPolicy != nil {
		t.Error("a NetworkPolicy rendered with default values")
	}
	off := render(t, "--set", "defaultTopologySpread=false")
	if n := len(off.Deployment.Spec.Template.Spec.TopologySpreadConstraints); n != 0 {
		t.Errorf("defaultTopologySpread=false: %d constraints", n)
	}
}

// TestHelmTestPod checks the helm test hook: a Pod of the service's image
// that runs its healthcheck command against /readyz of the Service (the
// image is distroless: no curl), never selected by the Service or the
// Deployment, as locked down as the service's own pod; helmTest.enabled
// false drops it.
func TestHelmTestPod(t *testing.T) {
	helm(t)
	for name, args := range map[string][]string{"defaults": nil, "all-on": valueSets["all-on"].args} {
		t.Run(name, func(t *testing.T) {
			m := render(t, args...)
			p := m.TestPod
			if p == nil {
				t.Fatal("no helm test Pod")
			}
			if p.Annotations["helm.sh/hook"] != "test" || p.Spec.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("annotations %v, restartPolicy %q: want a test hook that runs once", p.Annotations, p.Spec.RestartPolicy)
			}
			if selects(&metav1.LabelSelector{MatchLabels: m.Service.Spec.Selector}, p.Labels) || selects(m.Deployment.Spec.Selector, p.Labels) {
				t.Errorf("labels %v: the Service or the Deployment selects the test Pod", p.Labels)
			}
			if len(p.Spec.Containers) != 1 {
				t.Fatalf("%d containers", len(p.Spec.Containers))
			}
			c, svc := p.Spec.Containers[0], m.Deployment.Spec.Template.Spec.Containers[0]
			if c.Image != svc.Image {
				t.Errorf("image %q, want the service's %q", c.Image, svc.Image)
			}
			if strings.Join(c.Args, " ") != "healthcheck --ready --timeout 10s" {
				t.Errorf("args %q, want the healthcheck of /readyz", c.Args)
			}
			want := m.Service.Name + ":" + strconv.Itoa(int(m.Service.Spec.Ports[0].Port))
			if len(c.Env) != 1 || c.Env[0].Name != "HTTP_ADDR" || c.Env[0].Value != want {
				t.Errorf("env %+v, want HTTP_ADDR=%s (the Service)", c.Env, want)
			}
			if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
				t.Errorf("securityContext %+v, want the service's", sc)
			}
			if p.Spec.AutomountServiceAccountToken == nil || *p.Spec.AutomountServiceAccountToken {
				t.Error("the test Pod mounts a service account token")
			}
		})
	}
	if m := render(t, "--set", "helmTest.enabled=false"); m.TestPod != nil {
		t.Error("helmTest.enabled=false rendered the test Pod")
	}
}
