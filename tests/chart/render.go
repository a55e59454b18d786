// render: renders charts/grpc-ingress the way `helm template` does, without helm (no
// helm binary is installable here): Go's text/template with Sprig (the engine and
// function library helm uses) plus helm's own functions that the chart calls (include,
// required, fail, toYaml) and .Files.Get. As helm does, the merged values are first
// checked against the chart's values.schema.json with gojsonschema (helm's validator).
// Templates render in name order, _*.tpl files only define named templates, NOTES.txt
// is rendered only with -notes, and empty documents are dropped. Builds with Debian's Go packages in GOPATH mode:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run tests/chart/render.go [flags] CHART_DIR
//
// `-deploy-yaml` prints manifests/deploy.yaml: the default render for release and
// namespace grpc-ingress, after a Namespace object (`make deploy-yaml`).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	// GOPATH mode finds github.com/Masterminds/sprig/v3 under its v3-less directory.
	"github.com/Masterminds/sprig"
	"github.com/xeipuuv/gojsonschema"
	"gopkg.in/yaml.v2"
)

// Release is what templates see as .Release.
type Release struct {
	Name      string
	Namespace string
	Service   string // "Helm" under helm
}

// Document is one rendered YAML document and the template it came from.
type Document struct {
	Source  string // e.g. grpc-ingress/templates/service.yaml
	Content string // trimmed, without the "---" separator
}

// The fixed identity of manifests/deploy.yaml (kubectl, not Helm, manages its objects).
var deployYAMLRelease = Release{Name: "grpc-ingress", Namespace: "grpc-ingress", Service: "kubectl"}

// helm's releaseutil.SplitManifests separator.
var documentSeparator = regexp.MustCompile(`(?:^|\s*\n)---\s*`)

// readYAMLAsJSON reads YAML the way helm does (sigs.k8s.io/yaml): through JSON, so maps
// have string keys and every number is a float64.
func readYAMLAsJSON(data []byte) (map[string]interface{}, error) {
	var raw interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	converted, err := jsonCompatible(raw)
	if err != nil {
		return nil, err
	}
	encoded, err := json.Marshal(converted)
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	if string(encoded) == "null" {
		return out, nil
	}
	if err := json.Unmarshal(encoded, &out); err != nil {
		return nil, fmt.Errorf("top level is not a map: %v", err)
	}
	return out, nil
}

func jsonCompatible(v interface{}) (interface{}, error) {
	switch typed := v.(type) {
	case map[interface{}]interface{}:
		out := make(map[string]interface{}, len(typed))
		for key, value := range typed {
			converted, err := jsonCompatible(value)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(key)] = converted
		}
		return out, nil
	case []interface{}:
		out := make([]interface{}, len(typed))
		for i, value := range typed {
			converted, err := jsonCompatible(value)
			if err != nil {
				return nil, err
			}
			out[i] = converted
		}
		return out, nil
	default:
		return v, nil
	}
}

// coalesce merges override onto base like helm merges a -f values file onto the
// chart's values.yaml: maps merge key by key, anything else replaces, null deletes.
func coalesce(base, override map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(base))
	for key, value := range base {
		out[key] = value
	}
	for key, value := range override {
		if value == nil {
			delete(out, key)
			continue
		}
		baseMap, baseIsMap := out[key].(map[string]interface{})
		overrideMap, overrideIsMap := value.(map[string]interface{})
		if baseIsMap && overrideIsMap {
			out[key] = coalesce(baseMap, overrideMap)
		} else {
			out[key] = value
		}
	}
	return out
}

// toYAML is helm's toYaml: sigs.k8s.io/yaml's Marshal (JSON, then YAML v2 with sorted
// keys), without the final newline.
func toYAML(v interface{}) string {
	encoded, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var generic interface{}
	if err := yaml.Unmarshal(encoded, &generic); err != nil {
		return ""
	}
	out, err := yaml.Marshal(generic)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(out), "\n")
}

// chartMetadata maps Chart.yaml onto helm's .Chart field names.
func chartMetadata(chartDir string) (map[string]interface{}, error) {
	data, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	raw, err := readYAMLAsJSON(data)
	if err != nil {
		return nil, fmt.Errorf("Chart.yaml: %v", err)
	}
	out := map[string]interface{}{}
	for key, value := range raw {
		switch key {
		case "apiVersion":
			out["APIVersion"] = value
		case "appVersion":
			out["AppVersion"] = value
		case "kubeVersion":
			out["KubeVersion"] = value
		default:
			out[strings.ToUpper(key[:1])+key[1:]] = value
		}
	}
	if name, _ := out["Name"].(string); name == "" {
		return nil, errors.New("Chart.yaml: no name")
	}
	return out, nil
}

// LoadValues reads the chart's values.yaml and merges each override file onto it.
func LoadValues(chartDir string, overrides []string) (map[string]interface{}, error) {
	values := map[string]interface{}{}
	for _, file := range append([]string{filepath.Join(chartDir, "values.yaml")}, overrides...) {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		parsed, err := readYAMLAsJSON(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		values = coalesce(values, parsed)
	}
	return values, nil
}

// chartFiles is helm's .Files: the chart's own files, by path relative to the chart.
type chartFiles struct{ dir string }

// Get returns the file's text, or "" when it is not there (as helm's does).
func (f chartFiles) Get(name string) string {
	data, err := os.ReadFile(filepath.Join(f.dir, filepath.FromSlash(name)))
	if err != nil {
		return ""
	}
	return string(data)
}

// ValidateValues checks values against the chart's values.schema.json (when there is
// one) and returns helm's message for the values that break it.
func ValidateValues(chartDir, chartName string, values map[string]interface{}) error {
	schema, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	result, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(schema), gojsonschema.NewGoLoader(values))
	if err != nil {
		return fmt.Errorf("values.schema.json: %v", err)
	}
	if result.Valid() {
		return nil
	}
	var out strings.Builder
	fmt.Fprintf(&out, "values don't meet the specifications of the schema(s) in the following chart(s):\n%s:\n", chartName)
	for _, e := range result.Errors() {
		fmt.Fprintf(&out, "- %s\n", e)
	}
	return errors.New(strings.TrimSuffix(out.String(), "\n"))
}

// loadTemplates parses the chart's templates with helm's functions; names are the
// templates in the order helm renders them.
func loadTemplates(chartDir, chartName string) (*template.Template, []string, error) {
	files, err := filepath.Glob(filepath.Join(chartDir, "templates", "*"))
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(files)

	var root *template.Template
	funcs := sprig.TxtFuncMap()
	// helm removes these two: a chart must not read the renderer's environment.
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = toYAML
	funcs["include"] = func(name string, data interface{}) (string, error) {
		var out strings.Builder
		err := root.ExecuteTemplate(&out, name, data)
		return out.String(), err
	}
	funcs["required"] = func(message string, value interface{}) (interface{}, error) {
		if value == nil {
			return value, errors.New(message)
		}
		if text, ok := value.(string); ok && text == "" {
			return value, errors.New(message)
		}
		return value, nil
	}
	funcs["fail"] = func(message string) (string, error) { return "", errors.New(message) }
	root = template.New("chart").Funcs(funcs).Option("missingkey=zero")

	var names []string
	for _, file := range files {
		source, err := os.ReadFile(file)
		if err != nil {
			return nil, nil, err
		}
		name := path.Join(chartName, "templates", filepath.Base(file))
		if _, err := root.New(name).Parse(string(source)); err != nil {
			return nil, nil, err
		}
		names = append(names, name)
	}
	return root, names, nil
}

// Include executes one named template of the chart (a _helpers.tpl define) on data.
func Include(chartDir, name string, data interface{}) (string, error) {
	chart, err := chartMetadata(chartDir)
	if err != nil {
		return "", err
	}
	root, _, err := loadTemplates(chartDir, chart["Name"].(string))
	if err != nil {
		return "", err
	}
	var out strings.Builder
	err = root.ExecuteTemplate(&out, name, data)
	return out.String(), err
}

// Render renders every template of the chart; notes is NOTES.txt rendered.
func Render(chartDir string, release Release, valueFiles []string) (docs []Document, notes string, err error) {
	chart, err := chartMetadata(chartDir)
	if err != nil {
		return nil, "", err
	}
	values, err := LoadValues(chartDir, valueFiles)
	if err != nil {
		return nil, "", err
	}
	chartName := chart["Name"].(string)
	if err := ValidateValues(chartDir, chartName, values); err != nil {
		return nil, "", err
	}
	root, names, err := loadTemplates(chartDir, chartName)
	if err != nil {
		return nil, "", err
	}

	for _, name := range names {
		base := path.Base(name)
		if strings.HasPrefix(base, "_") {
			continue
		}
		data := map[string]interface{}{
			"Values": values,
			"Chart":  chart,
			"Files":  chartFiles{dir: chartDir},
			"Release": map[string]interface{}{
				"Name": release.Name, "Namespace": release.Namespace, "Service": release.Service,
				"IsInstall": true, "IsUpgrade": false, "Revision": 1,
			},
			"Template": map[string]interface{}{
				"Name": name, "BasePath": path.Join(chartName, "templates"),
			},
		}
		var out bytes.Buffer
		if err := root.ExecuteTemplate(&out, name, data); err != nil {
			return nil, "", err
		}
		// helm renders a missing value as "" rather than text/template's "<no value>".
		text := strings.ReplaceAll(out.String(), "<no value>", "")
		if base == "NOTES.txt" {
			notes = text
			continue
		}
		for _, doc := range documentSeparator.Split(strings.TrimSpace(text), -1) {
			if doc = strings.TrimSpace(doc); doc != "" {
				docs = append(docs, Document{Source: name, Content: doc})
			}
		}
	}
	return docs, notes, nil
}

// Stream prints documents as `helm template` does.
func Stream(docs []Document) string {
	var out strings.Builder
	for _, doc := range docs {
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", doc.Source, doc.Content)
	}
	return out.String()
}

// DeployYAML is the text of manifests/deploy.yaml.
func DeployYAML(chartDir string) (string, error) {
	docs, _, err := Render(chartDir, deployYAMLRelease, nil)
	if err != nil {
		return "", err
	}
	chart, err := chartMetadata(chartDir)
	if err != nil {
		return "", err
	}
	name := deployYAMLRelease.Namespace
	values, err := LoadValues(chartDir, nil)
	if err != nil {
		return "", err
	}
	imageValues, _ := values["image"].(map[string]interface{})
	image := fmt.Sprintf("%v:%v", imageValues["repository"], chart["AppVersion"])
	header := fmt.Sprintf(`# grpc-ingress static install, for clusters without Helm:
#   kubectl apply -f manifests/deploy.yaml
# The objects charts/grpc-ingress renders with its default values (release and namespace
# %[1]s), after their Namespace. Generated by `+"`make deploy-yaml`"+`: edit the chart,
# not this file (tests/chart fails when the two differ).
# Image: %[3]s (the chart's image.repository and appVersion);
# to run an image you built and pushed, change the image: line below.
# Gateway API CRDs are not included: install its standard channel (v1.1 or later) to
# have Gateways, GRPCRoutes and HTTPRoutes served; before or after this file.
---
apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s
  labels:
    app.kubernetes.io/name: grpc-ingress
    app.kubernetes.io/instance: %[1]s
`, name, chart["AppVersion"], image)
	return header + Stream(docs), nil
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var valueFiles stringList
	release := Release{Service: "Helm"}
	flag.StringVar(&release.Name, "name", "grpc-ingress", "release name")
	flag.StringVar(&release.Namespace, "namespace", "default", "release namespace")
	flag.Var(&valueFiles, "f", "values file merged onto values.yaml (repeatable)")
	notes := flag.Bool("notes", false, "print the rendered NOTES.txt instead of the objects")
	deployYAML := flag.Bool("deploy-yaml", false, "print manifests/deploy.yaml")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: render [flags] CHART_DIR\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	chartDir := flag.Arg(0)
	var out string
	var err error
	if *deployYAML {
		out, err = DeployYAML(chartDir)
	} else {
		var docs []Document
		var notesText string
		docs, notesText, err = Render(chartDir, release, valueFiles)
		out = Stream(docs)
		if *notes {
			out = notesText
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "render: %v\n", err)
		os.Exit(1)
	}
	fmt.Print(out)
}
