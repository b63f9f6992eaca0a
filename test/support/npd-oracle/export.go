// Written for node-doctor's tests, not part of node-problem-detector: copied
// beside NPD's own plugin.go (package plugin) when the oracle is built, it
// runs one rule through NPD's unexported Plugin.run with NPD's default
// configuration, exactly as NPD's plugin_test.go does.
package plugin

import (
	"time"

	cpmtypes "k8s.io/node-problem-detector/pkg/custompluginmonitor/types"
)

func RunRule(path string, args []string, timeout time.Duration) (cpmtypes.Status, string, error) {
	conf := cpmtypes.CustomPluginConfig{}
	if err := (&conf).ApplyConfiguration(); err != nil {
		return cpmtypes.Unknown, "", err
	}
	p := Plugin{config: conf}
	status, output := p.run(cpmtypes.CustomRule{Path: path, Args: args, Timeout: &timeout})
	return status, output, nil
}
