// npd-oracle runs NPD plugins through node-problem-detector's own plugin
// runner (its plugin.go, unchanged) and prints NPD's verdict of each as one
// JSON line, so node-doctor's tests compare their verdicts with NPD's.
//
// Usage: npd-oracle TIMEOUT PATH [PATH...]
// Output per path: {"path": ..., "status": 0|1|2, "output": ...}
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/node-problem-detector/pkg/custompluginmonitor/plugin"
)

func main() {
	flag.Set("logtostderr", "true")
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: npd-oracle TIMEOUT PATH [PATH...]")
		os.Exit(2)
	}
	timeout, err := time.ParseDuration(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := json.NewEncoder(os.Stdout)
	for _, path := range os.Args[2:] {
		status, output, err := plugin.RunRule(path, nil, timeout)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		out.Encode(map[string]interface{}{"path": path, "status": int(status), "output": output})
	}
}
