// Package helmtest checks the Helm chart in ../jelou-producer: it renders
// the chart with helm, decodes every manifest strictly into the Kubernetes
// and Prometheus Operator API types, parses every alert rule with
// Prometheus' own rule and PromQL parsers, and checks that every metric a
// rule or the Grafana dashboard names is one the service exports.
//
// It is a module of its own so that the heavy Kubernetes and Prometheus
// dependencies stay out of the service's go.mod. Run it with helm on PATH
// (or HELM set to its path): .ci/helm.sh builds helm and does. Without helm
// the tests skip with one line, except under CI=true, where they fail.
package helmtest
