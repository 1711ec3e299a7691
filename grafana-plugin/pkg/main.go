package main

import (
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/rexmon/rexmon-rrd-datasource/pkg/plugin"
)

// PluginID must equal "id" in src/plugin.json.
const PluginID = "rexmon-rrd-datasource"

func main() {
	// Blocks serving Grafana's gRPC calls until Grafana stops the process.
	// Never run this binary with -standalone: the SDK's debug mode kills other
	// processes whose command line matches the executable name.
	if err := datasource.Manage(PluginID, plugin.NewDatasource, datasource.ManageOpts{}); err != nil {
		log.DefaultLogger.Error(err.Error())
		os.Exit(1)
	}
}
