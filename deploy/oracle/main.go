// Command oracle renders capstan's Go-template cases with Helm's own engine, as `helm template`
// would, and prints the golden answers. It is a test oracle, never part of the product.
//
// Usage: oracle CASES.yaml
//
// A case file is a YAML list of cases {name, template, values?, set?, files?}. Each case is a chart
// named `case` whose `templates/case.yaml` is the case's template; `files` adds chart files
// (`templates/_helpers.tpl`, `values.yaml`, `charts/sub/...`, `config/app.conf`, or a
// `Chart.yaml` replacing the default one). `values` is the text of a user values file (`-f`) and
// `set` a list of `--set` expressions. The release is `rel` in namespace `ns`, revision 1, an
// install, on Kubernetes 1.33 with Helm's default API versions.
//
// Random values vary from run to run, so cases test them by shape inside the template
// (`{{ randAlphaNum 10 | len }}`); the render time is now, so dates likewise.
//
// The output is a JSON object, in case order: name -> {"output": text} or {"error": message}.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/strvals"
	"sigs.k8s.io/yaml"
)

// The Chart.yaml a case gets unless it brings its own.
const defaultChartYAML = `apiVersion: v2
name: case
description: A template case
type: application
version: 0.1.0
appVersion: "1.16.0"
`

// The template every case renders.
const caseTemplate = "templates/case.yaml"

type testCase struct {
	Name     string            `json:"name"`
	Template string            `json:"template"`
	Values   string            `json:"values,omitempty"`
	Set      []string          `json:"set,omitempty"`
	Files    map[string]string `json:"files,omitempty"`
}

type answer struct {
	Output *string `json:"output,omitempty"`
	Error  *string `json:"error,omitempty"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: oracle CASES.yaml")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var cases []testCase
	if err := yaml.UnmarshalStrict(data, &cases); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	seen := map[string]bool{}
	var out bytes.Buffer
	out.WriteString("{")
	for i, c := range cases {
		if c.Name == "" || seen[c.Name] {
			fmt.Fprintf(os.Stderr, "%s: case %d: missing or repeated name %q\n", os.Args[1], i+1, c.Name)
			os.Exit(1)
		}
		seen[c.Name] = true
		text, err := render(c)
		var a answer
		if err != nil {
			msg := err.Error()
			a.Error = &msg
		} else {
			a.Output = &text
		}
		if i > 0 {
			out.WriteString(",")
		}
		out.WriteString("\n  ")
		out.Write(jsonText(c.Name))
		out.WriteString(": ")
		out.Write(jsonText(a))
	}
	out.WriteString("\n}\n")
	os.Stdout.Write(out.Bytes())
}

// jsonText is v as compact JSON without HTML escaping, so goldens stay readable.
func jsonText(v interface{}) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// render renders one case as `helm template rel ./case --namespace ns --kube-version 1.33 -f
// values --set ...` does and returns the text of templates/case.yaml, or the error.
func render(c testCase) (string, error) {
	// The chart is written to a directory and loaded as `helm template ./case` loads it
	// (.helmignore applies).
	dir, err := os.MkdirTemp("", "oracle-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	root := filepath.Join(dir, "case")
	files := map[string]string{"Chart.yaml": defaultChartYAML, caseTemplate: c.Template}
	for name, text := range c.Files {
		files[name] = text
	}
	for name, text := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return "", err
		}
	}
	chrt, err := loader.Load(root)
	if err != nil {
		return "", err
	}

	// Helm's values.Options.MergeValues: the -f file, then each --set.
	vals := map[string]interface{}{}
	if strings.TrimSpace(c.Values) != "" {
		if err := yaml.Unmarshal([]byte(c.Values), &vals); err != nil {
			return "", fmt.Errorf("failed to parse values: %w", err)
		}
		if vals == nil {
			vals = map[string]interface{}{}
		}
	}
	for _, expr := range c.Set {
		if err := strvals.ParseInto(expr, vals); err != nil {
			return "", fmt.Errorf("failed parsing --set data: %w", err)
		}
	}

	// action.Install.RunWithContext for `helm template` (client only, dry run).
	if err := chartutil.ProcessDependenciesWithMerge(chrt, vals); err != nil {
		return "", err
	}
	caps := chartutil.DefaultCapabilities.Copy()
	kube, err := chartutil.ParseKubeVersion("1.33")
	if err != nil {
		return "", err
	}
	caps.KubeVersion = *kube
	// As the reference binary (`cargo xtask helm`) reports itself; the Go version is left out so
	// that goldens do not depend on the toolchain.
	caps.HelmVersion.Version = "v3.22.0"
	caps.HelmVersion.GoVersion = ""
	options := chartutil.ReleaseOptions{
		Name:      "rel",
		Namespace: "ns",
		Revision:  1,
		IsInstall: true,
		IsUpgrade: false,
	}
	top, err := chartutil.ToRenderValuesWithSchemaValidation(chrt, vals, options, caps, false)
	if err != nil {
		return "", err
	}
	if chrt.Metadata.KubeVersion != "" && !chartutil.IsCompatibleRange(chrt.Metadata.KubeVersion, caps.KubeVersion.String()) {
		return "", fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", chrt.Metadata.KubeVersion, caps.KubeVersion.String())
	}
	var e engine.Engine
	rendered, err := e.Render(chrt, top)
	if err != nil {
		return "", err
	}
	text, ok := rendered["case/"+caseTemplate]
	if !ok {
		return "", fmt.Errorf("no output for %s", caseTemplate)
	}
	return text, nil
}
