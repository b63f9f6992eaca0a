// helm-render renders a Helm chart the way `helm template` does, with the
// same engine Helm uses (Go text/template + sprig) and Helm's own functions
// (include, tpl, required, toYaml, fromYaml, toJson, fromJson, lookup).
// No helm binary can be installed where the tests run; this keeps the chart
// honest against the real template engine instead of a look-alike.
//
// Usage: helm-render --chart DIR --values-json FILE [--release NAME]
//
//	[--namespace NS] [--kube-version v1.30.0] [--api-versions a/v1,b/v1]
//
// --values-json holds the final, merged values (the caller merges values.yaml
// with overrides and validates them against values.schema.json, as helm does).
// Output on stdout is JSON: {"manifests":[{"source","content"}],"notes":"..."}.
// A template error is one line on stderr and exit code 1.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	yamlv2 "gopkg.in/yaml.v2"
	"gopkg.in/yaml.v3"
)

type chartMeta struct {
	Name        string `yaml:"name"`
	Version     string `yaml:"version"`
	AppVersion  string `yaml:"appVersion"`
	Description string `yaml:"description"`
	APIVersion  string `yaml:"apiVersion"`
	Type        string `yaml:"type"`
	KubeVersion string `yaml:"kubeVersion"`
}

// Field names as Helm exposes them under .Chart.
type chartValue struct {
	Name        string
	Version     string
	AppVersion  string
	Description string
	APIVersion  string
	Type        string
	KubeVersion string
}

type releaseValue struct {
	Name      string
	Namespace string
	Service   string
	IsInstall bool
	IsUpgrade bool
	Revision  int
}

type apiVersions []string

// Has mirrors Helm's .Capabilities.APIVersions.Has (group/version or group/version/Kind).
func (a apiVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

type kubeVersion struct {
	Version    string
	GitVersion string
	Major      string
	Minor      string
}

type capabilities struct {
	APIVersions apiVersions
	KubeVersion kubeVersion
}

// files mirrors Helm's .Files for the files of the chart directory.
type files struct{ dir string }

// Get returns a chart file's content, or "" when it is missing (as Helm does).
func (f files) Get(name string) string {
	b, err := os.ReadFile(filepath.Join(f.dir, filepath.FromSlash(name)))
	if err != nil {
		return ""
	}
	return string(b)
}

// GetBytes returns a chart file's content as bytes, or nil when it is missing.
func (f files) GetBytes(name string) []byte {
	b, err := os.ReadFile(filepath.Join(f.dir, filepath.FromSlash(name)))
	if err != nil {
		return nil
	}
	return b
}

type templateValue struct {
	Name     string
	BasePath string
}

type output struct {
	Manifests []manifest `json:"manifests"`
	Notes     string     `json:"notes"`
}

type manifest struct {
	Source  string `json:"source"`
	Content string `json:"content"`
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "helm-render: "+format+"\n", args...)
	os.Exit(1)
}

// toYAML is Helm's toYaml: sigs.k8s.io/yaml's Marshal (JSON first, then
// yaml.v2, so keys are sorted, lists sit at their parent's indentation and
// strings YAML 1.1 reads as booleans are quoted), trailing newline trimmed.
func toYAML(v interface{}) string {
	j, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var obj interface{}
	if err := yamlv2.Unmarshal(j, &obj); err != nil {
		return ""
	}
	out, err := yamlv2.Marshal(obj)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(out), "\n")
}

// jsonable turns yaml.v2's map[interface{}]interface{} into JSON's shapes.
func jsonable(v interface{}) interface{} {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		m := map[string]interface{}{}
		for k, val := range t {
			m[fmt.Sprint(k)] = jsonable(val)
		}
		return m
	case []interface{}:
		for i, val := range t {
			t[i] = jsonable(val)
		}
		return t
	default:
		return v
	}
}

// fromYAML is Helm's fromYaml: sigs.k8s.io/yaml's Unmarshal (YAML 1.1 through
// yaml.v2, then JSON, so numbers are float64); errors land under "Error".
func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	var obj interface{}
	if err := yamlv2.Unmarshal([]byte(s), &obj); err != nil {
		m["Error"] = err.Error()
		return m
	}
	j, err := json.Marshal(jsonable(obj))
	if err != nil {
		m["Error"] = err.Error()
		return m
	}
	if err := json.Unmarshal(j, &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func toJSON(v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func main() {
	chartDir := flag.String("chart", "", "chart directory")
	valuesFile := flag.String("values-json", "", "merged values as JSON")
	releaseName := flag.String("release", "node-doctor", "release name")
	namespace := flag.String("namespace", "node-doctor", "release namespace")
	kubeVer := flag.String("kube-version", "v1.32.0", "Kubernetes version for .Capabilities")
	apis := flag.String("api-versions", "", "comma-separated extra API versions for .Capabilities.APIVersions")
	flag.Parse()
	if *chartDir == "" || *valuesFile == "" {
		fail("--chart and --values-json are required")
	}

	var meta chartMeta
	chartYAML, err := os.ReadFile(filepath.Join(*chartDir, "Chart.yaml"))
	if err != nil {
		fail("reading Chart.yaml: %v", err)
	}
	if err := yaml.Unmarshal(chartYAML, &meta); err != nil {
		fail("Chart.yaml: %v", err)
	}
	valuesJSON, err := os.ReadFile(*valuesFile)
	if err != nil {
		fail("reading values: %v", err)
	}
	values := map[string]interface{}{}
	if err := json.Unmarshal(valuesJSON, &values); err != nil {
		fail("values: %v", err)
	}

	versions := apiVersions{"v1", "apps/v1", "rbac.authorization.k8s.io/v1", "batch/v1", "coordination.k8s.io/v1", "policy/v1", "admissionregistration.k8s.io/v1"}
	if *apis != "" {
		versions = append(versions, strings.Split(*apis, ",")...)
	}
	kv := strings.TrimPrefix(*kubeVer, "v")
	parts := strings.SplitN(kv, ".", 3)
	if len(parts) < 2 {
		fail("--kube-version %q is not vMAJOR.MINOR.PATCH", *kubeVer)
	}

	top := map[string]interface{}{
		"Values": values,
		"Chart": chartValue{Name: meta.Name, Version: meta.Version, AppVersion: meta.AppVersion, Description: meta.Description,
			APIVersion: meta.APIVersion, Type: meta.Type, KubeVersion: meta.KubeVersion},
		"Release":      releaseValue{Name: *releaseName, Namespace: *namespace, Service: "Helm", IsInstall: true, Revision: 1},
		"Capabilities": capabilities{APIVersions: versions, KubeVersion: kubeVersion{Version: "v" + kv, GitVersion: "v" + kv, Major: parts[0], Minor: parts[1]}},
		"Files":        files{dir: *chartDir},
	}

	// Template names are "<chart>/templates/<file>", as in Helm, so .Template.Name matches.
	templatesDir := filepath.Join(*chartDir, "templates")
	var names []string
	err = filepath.Walk(templatesDir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !info.IsDir() {
			rel, _ := filepath.Rel(*chartDir, p)
			names = append(names, rel)
		}
		return nil
	})
	if err != nil {
		fail("listing templates: %v", err)
	}
	sort.Strings(names)

	root := template.New("gotpl")
	funcs := sprig.TxtFuncMap()
	// Helm removes these: a chart must not read the renderer's environment.
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["toJson"] = toJSON
	funcs["fromJson"] = fromJSON
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, fmt.Errorf(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, fmt.Errorf(msg)
		}
		return v, nil
	}
	funcs["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	includedNames := map[string]int{}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		if includedNames[name] > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		includedNames[name]++
		defer func() { includedNames[name]-- }()
		var buf strings.Builder
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Option("missingkey=zero").Parse(text)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %v", text, err)
		}
		var buf strings.Builder
		if err := t.Execute(&buf, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	root.Funcs(funcs).Option("missingkey=zero")

	for _, name := range names {
		text, err := os.ReadFile(filepath.Join(*chartDir, name))
		if err != nil {
			fail("reading %s: %v", name, err)
		}
		full := meta.Name + "/" + name
		if _, err := root.New(full).Parse(string(text)); err != nil {
			fail("parse error: %v", err)
		}
	}

	out := output{Manifests: []manifest{}}
	for _, name := range names {
		base := filepath.Base(name)
		if strings.HasPrefix(base, "_") {
			continue // partials are only included
		}
		full := meta.Name + "/" + name
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = templateValue{Name: full, BasePath: meta.Name + "/templates"}
		var buf strings.Builder
		if err := root.ExecuteTemplate(&buf, full, data); err != nil {
			fail("render error in %s: %v", full, err)
		}
		rendered := strings.ReplaceAll(buf.String(), "<no value>", "")
		if base == "NOTES.txt" {
			out.Notes = rendered
			continue
		}
		out.Manifests = append(out.Manifests, manifest{Source: full, Content: rendered})
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		fail("writing output: %v", err)
	}
}
