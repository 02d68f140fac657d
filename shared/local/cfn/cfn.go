// Package cfn reads synthesized CloudFormation templates as plain JSON. The template tests, the
// policy evaluator and the Lambda runtime harness (`vaultbill invoke --runtime`, `make sam-env`) all
// read the CDK app's output through it.
package cfn

import (
	"fmt"
	"sort"
)

// Template is a CloudFormation template: its resources, and the outputs other stacks import.
type Template struct {
	Resources map[string]Resource `json:"Resources"`
	Outputs   map[string]Output   `json:"Outputs"`
}

// Resource is one resource of a template.
type Resource struct {
	Type                string         `json:"Type"`
	Properties          map[string]any `json:"Properties"`
	DeletionPolicy      string         `json:"DeletionPolicy"`
	UpdateReplacePolicy string         `json:"UpdateReplacePolicy"`
}

// Output is one output of a template; Export.Name, when it has one, is what Fn::ImportValue names.
type Output struct {
	Value  any `json:"Value"`
	Export *struct {
		Name any `json:"Name"`
	} `json:"Export"`
}

// OfType returns the logical IDs of the template's resources of one type, sorted.
func (t Template) OfType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Get walks a path of map keys through a template value; nil when the path is not there.
func Get(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// List turns a CloudFormation scalar-or-list field into a list.
func List(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case nil:
		return nil
	default:
		return []any{x}
	}
}

// Strings is List with every element printed.
func Strings(v any) []string {
	var out []string
	for _, e := range List(v) {
		out = append(out, fmt.Sprint(e))
	}
	return out
}
