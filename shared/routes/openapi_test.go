package routes_test

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/vaultbill/vaultbill/shared/routes"
)

// openAPI is the part of docs/openapi.yaml the route table must agree with.
type openAPI struct {
	OpenAPI string                          `yaml:"openapi"`
	Paths   map[string]map[string]yaml.Node `yaml:"paths"`
	Comps   map[string]map[string]yaml.Node `yaml:"components"`
}

type operation struct {
	OperationID string                    `yaml:"operationId"`
	Responses   map[string]map[string]any `yaml:"responses"`
}

var methods = map[string]bool{"get": true, "post": true, "patch": true, "put": true, "delete": true}

// TestOpenAPIMatchesRoutes keeps docs/openapi.yaml in step with the route table: the same
// method + path pairs with the same operationIds, each with a success and an error response, and
// every $ref resolving.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	raw, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPI
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi %q, want 3.1.x", doc.OpenAPI)
	}
	var inDoc []string
	for path, item := range doc.Paths {
		for method, node := range item {
			if !methods[method] {
				continue
			}
			var op operation
			if err := node.Decode(&op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			inDoc = append(inDoc, strings.ToUpper(method)+" "+path+" "+op.OperationID)
			var ok2xx, problem bool
			for code, resp := range op.Responses {
				if strings.HasPrefix(code, "2") {
					ok2xx = true
				}
				if ref, _ := resp["$ref"].(string); strings.HasPrefix(ref, "#/components/responses/") {
					problem = true
				}
			}
			if !ok2xx || !problem {
				t.Errorf("%s %s: needs a 2xx response and problem+json errors", method, path)
			}
		}
	}
	var inTable []string
	for _, r := range routes.All {
		inTable = append(inTable, r.Method+" "+r.Path+" "+r.Operation)
	}
	sort.Strings(inDoc)
	sort.Strings(inTable)
	if diff := cmp.Diff(inTable, inDoc); diff != "" {
		t.Errorf("routes.All (-) and docs/openapi.yaml (+) differ:\n%s", diff)
	}

	for _, m := range regexp.MustCompile(`\$ref: "#/components/(\w+)/(\w+)"`).FindAllStringSubmatch(string(raw), -1) {
		if _, ok := doc.Comps[m[1]][m[2]]; !ok {
			t.Errorf("$ref to undefined #/components/%s/%s", m[1], m[2])
		}
	}
}
