package routes_test

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"gopkg.in/yaml.v3"

	"github.com/vaultbill/vaultbill/shared/api/routes"
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
	raw, err := os.ReadFile("../../../docs/openapi.yaml")
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

// TestOpenAPIDocumentIsValid checks docs/openapi.yaml with a maintained OpenAPI 3.1 validator, and that
// every schema uses only schema keywords: YAML accepts a flow mapping split by a stray comma (a
// `description: a, b` turns "b" into a key), and so does the OpenAPI meta-schema, so a typo would
// otherwise silently drop part of a schema.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	raw, err := os.ReadFile("../../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("docs/openapi.yaml: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("%s: %s", e.Message, e.Reason)
			for _, f := range e.SchemaValidationErrors {
				t.Errorf("  %s %s: %s", f.FieldPath, f.KeywordLocation, f.Reason)
			}
		}
	}

	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		t.Fatal(err)
	}
	checkSchemas(t, &root, "", false)
}

// schemaKeywords are the JSON Schema 2020-12 and OpenAPI 3.1 keywords the document may use in a schema.
var schemaKeywords = map[string]bool{
	"type": true, "properties": true, "required": true, "items": true, "enum": true, "const": true,
	"description": true, "title": true, "format": true, "pattern": true, "minLength": true, "maxLength": true,
	"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true, "minItems": true,
	"maxItems": true, "uniqueItems": true, "additionalProperties": true, "oneOf": true, "anyOf": true,
	"allOf": true, "not": true, "$ref": true, "examples": true, "example": true, "default": true,
	"readOnly": true, "writeOnly": true, "deprecated": true, "nullable": false, "minProperties": true,
	"maxProperties": true, "patternProperties": true, "propertyNames": true, "discriminator": true,
	"multipleOf": true, "contentMediaType": true, "contentEncoding": true,
}

// checkSchemas walks the document and checks the keys of every schema object: the values under a
// `schema:` key, under `components.schemas`, and nested through properties, items and compositions.
func checkSchemas(t *testing.T, n *yaml.Node, path string, isSchema bool) {
	t.Helper()
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			checkSchemas(t, c, path, isSchema)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			checkSchemas(t, c, fmt.Sprintf("%s[%d]", path, i), isSchema)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			p := path + "." + k
			if isSchema && !schemaKeywords[k] {
				t.Errorf("docs/openapi.yaml %s (line %d): %q is not a schema keyword", p, n.Content[i].Line, k)
			}
			switch {
			case isSchema && (k == "properties" || k == "patternProperties"):
				for j := 1; j < len(v.Content); j += 2 {
					checkSchemas(t, v.Content[j], p+"."+v.Content[j-1].Value, true)
				}
			case isSchema && (k == "items" || k == "not" || k == "additionalProperties" || k == "propertyNames"):
				checkSchemas(t, v, p, v.Kind == yaml.MappingNode)
			case isSchema && (k == "oneOf" || k == "anyOf" || k == "allOf"):
				checkSchemas(t, v, p, true)
			case isSchema:
				// enum, examples, default, description...: values, not schemas.
			case k == "schema":
				checkSchemas(t, v, p, true)
			case k == "schemas" && path == ".components":
				for j := 1; j < len(v.Content); j += 2 {
					checkSchemas(t, v.Content[j], p+"."+v.Content[j-1].Value, true)
				}
			default:
				checkSchemas(t, v, p, false)
			}
		}
	}
}
