// Package e2e holds rexmon's end-to-end tests across its parts: the provisioned dashboards' and alert
// rules' queries run through the built Grafana plugin backend (dist/gpx_*_linux_amd64, started as
// Grafana starts it: go-plugin's handshake, then its gRPC services) against a real collector started
// from deploy/rexmon.yaml and seeded with lab-shaped data, and downtimes silencing those rules' alerts
// in a real Prometheus Alertmanager. Run with `go test ./...` here; `npm test` runs it.
package e2e
