// Package policyeval evaluates the IAM policies of synthesized CloudFormation templates: the identity
// policies of a role, KMS key policies and resource policies (S3 bucket, SNS topic, SQS queue)
// together, as AWS does within one account. It supports exactly what Vaultbill's templates use:
// Allow and explicit Deny, action, resource and principal wildcards (* and ?), and the condition
// operators listed in Operators; anything else is an error, never a silent allow or deny.
//
// CloudFormation intrinsics (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split,
// Fn::ImportValue across stacks, pseudo parameters) are resolved to concrete values through Env, so a
// policy can be evaluated against the resources of a local stack.
package policyeval

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/vaultbill/vaultbill/shared/local/cfn"
)

// Env gives the intrinsics their values.
type Env struct {
	Partition, Account, Region string
	// Attr returns the value of Ref (attr "Ref") or Fn::GetAtt of a stack's resource, or false: the
	// reference then stays a placeholder that matches no request.
	Attr func(stack, logicalID, attr string) (string, bool)
}

// Statement is one resolved policy statement.
type Statement struct {
	Sid       string
	Effect    string
	Principal []string // "*", account ids or root ARNs, role ARNs, "service:..." for service principals
	Action    []string
	Resource  []string
	// Condition maps operator → condition key → values.
	Condition map[string]map[string][]string
	// Source names the policy: "stack/LogicalID".
	Source string
}

// Policies are the resolved policies of a set of templates.
type Policies struct {
	// Identity holds each role's identity statements, by role ARN.
	Identity map[string][]Statement
	// ResourcePolicies holds the statements of key, bucket, topic and queue policies, by the ARN of
	// the resource they belong to.
	ResourcePolicies map[string][]Statement
}

// Operators are the condition operators the evaluator supports.
var Operators = []string{
	"StringEquals", "StringNotEquals", "StringLike", "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Bool",
	"NumericLessThan", "NumericLessThanEquals", "Null",
	"ForAllValues:StringEquals", "ForAllValues:StringLike", "ForAnyValue:StringEquals", "ForAnyValue:StringLike",
}

type resolver struct {
	stacks map[string]cfn.Template
	env    Env
}

// Collect resolves the templates' policies.
func Collect(stacks map[string]cfn.Template, env Env) (*Policies, error) {
	r := &resolver{stacks: stacks, env: env}
	p := &Policies{Identity: map[string][]Statement{}, ResourcePolicies: map[string][]Statement{}}
	names := make([]string, 0, len(stacks))
	for n := range stacks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, sn := range names {
		t := stacks[sn]
		ids := make([]string, 0, len(t.Resources))
		for id := range t.Resources {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			res := t.Resources[id]
			src := sn + "/" + id
			var err error
			switch res.Type {
			case "AWS::IAM::Role":
				var arn string
				if arn, err = r.roleARN(sn, id); err != nil {
					break
				}
				for _, pol := range cfn.List(res.Properties["Policies"]) {
					var st []Statement
					if st, err = r.statements(sn, src, cfn.Get(pol, "PolicyDocument")); err != nil {
						break
					}
					p.Identity[arn] = append(p.Identity[arn], st...)
				}
			case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
				var st []Statement
				if st, err = r.statements(sn, src, res.Properties["PolicyDocument"]); err != nil {
					break
				}
				for _, role := range cfn.List(res.Properties["Roles"]) {
					rid, ok := refID(role)
					if !ok {
						err = fmt.Errorf("%s: role %v is not a Ref to this stack's role", src, role)
						break
					}
					var arn string
					if arn, err = r.roleARN(sn, rid); err != nil {
						break
					}
					p.Identity[arn] = append(p.Identity[arn], st...)
				}
			case "AWS::KMS::Key":
				var st []Statement
				if st, err = r.statements(sn, src, res.Properties["KeyPolicy"]); err == nil {
					arn, _ := r.value(sn, map[string]any{"Fn::GetAtt": []any{id, "Arn"}})
					p.ResourcePolicies[arn.(string)] = append(p.ResourcePolicies[arn.(string)], st...)
				}
			case "AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy":
				err = r.resourcePolicy(p, sn, src, res)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// resourcePolicy attaches a bucket, topic or queue policy to the ARNs of what it names.
func (r *resolver) resourcePolicy(p *Policies, sn, src string, res cfn.Resource) error {
	st, err := r.statements(sn, src, res.Properties["PolicyDocument"])
	if err != nil {
		return err
	}
	var targets []any
	var attr string
	switch res.Type {
	case "AWS::S3::BucketPolicy":
		targets, attr = []any{res.Properties["Bucket"]}, "Arn"
	case "AWS::SNS::TopicPolicy":
		targets, attr = cfn.List(res.Properties["Topics"]), "Ref" // a topic's Ref is its ARN
	case "AWS::SQS::QueuePolicy":
		targets, attr = cfn.List(res.Properties["Queues"]), "Arn"
	}
	for _, t := range targets {
		id, ok := refID(t)
		if !ok {
			return fmt.Errorf("%s: %v is not a Ref to a resource of the stack", src, t)
		}
		var arn any = map[string]any{"Ref": id}
		if attr != "Ref" {
			arn = map[string]any{"Fn::GetAtt": []any{id, attr}}
		}
		v, err := r.value(sn, arn)
		if err != nil {
			return err
		}
		p.ResourcePolicies[v.(string)] = append(p.ResourcePolicies[v.(string)], st...)
	}
	return nil
}

func (r *resolver) roleARN(sn, id string) (string, error) {
	role, ok := r.stacks[sn].Resources[id]
	if !ok || role.Type != "AWS::IAM::Role" {
		return "", fmt.Errorf("%s/%s is no role", sn, id)
	}
	name, err := r.value(sn, role.Properties["RoleName"])
	if err != nil {
		return "", err
	}
	s, ok := name.(string)
	if !ok || s == "" {
		// A role CloudFormation names: its Ref is the physical name, which only Env can know.
		if s, ok = r.env.Attr(sn, id, "Ref"); !ok {
			s = placeholder(sn, id, "Ref")
		}
	}
	return "arn:" + r.env.Partition + ":iam::" + r.env.Account + ":role/" + s, nil
}

func (r *resolver) statements(sn, src string, doc any) ([]Statement, error) {
	var out []Statement
	for i, raw := range cfn.List(cfn.Get(doc, "Statement")) {
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: statement %d is not an object", src, i)
		}
		for k := range m {
			switch k {
			case "Sid", "Effect", "Principal", "Action", "Resource", "Condition":
			default:
				return nil, fmt.Errorf("%s: statement %d: %s is not supported", src, i, k)
			}
		}
		v, err := r.value(sn, m)
		if err != nil {
			return nil, fmt.Errorf("%s: statement %d: %w", src, i, err)
		}
		m = v.(map[string]any)
		s := Statement{Source: src, Condition: map[string]map[string][]string{}}
		s.Sid, _ = m["Sid"].(string)
		s.Effect, _ = m["Effect"].(string)
		if s.Effect != "Allow" && s.Effect != "Deny" {
			return nil, fmt.Errorf("%s: statement %d: effect %q", src, i, s.Effect)
		}
		s.Action = cfn.Strings(m["Action"])
		s.Resource = cfn.Strings(m["Resource"])
		switch pr := m["Principal"].(type) {
		case nil:
		case string:
			s.Principal = []string{pr}
		case map[string]any:
			for kind, v := range pr {
				for _, p := range cfn.Strings(v) {
					switch kind {
					case "AWS":
						s.Principal = append(s.Principal, p)
					case "Service":
						s.Principal = append(s.Principal, "service:"+p)
					default:
						s.Principal = append(s.Principal, strings.ToLower(kind)+":"+p)
					}
				}
			}
		}
		cond, _ := m["Condition"].(map[string]any)
		for op, kv := range cond {
			if !slices.Contains(Operators, op) {
				return nil, fmt.Errorf("%s: statement %d: condition operator %s is not supported", src, i, op)
			}
			s.Condition[op] = map[string][]string{}
			for k, vals := range kv.(map[string]any) {
				s.Condition[op][strings.ToLower(k)] = cfn.Strings(vals)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// value resolves a template value's intrinsics.
func (r *resolver) value(sn string, v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return r.intrinsic(sn, k, arg)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			rv, err := r.value(sn, e)
			if err != nil {
				return nil, err
			}
			out[k] = rv
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			rv, err := r.value(sn, e)
			if err != nil {
				return nil, err
			}
			out[i] = rv
		}
		return out, nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return v, nil
}

func (r *resolver) ref(sn, name string) string {
	switch name {
	case "AWS::Partition":
		return r.env.Partition
	case "AWS::AccountId":
		return r.env.Account
	case "AWS::Region":
		return r.env.Region
	case "AWS::URLSuffix":
		return "amazonaws.com"
	case "AWS::StackName":
		return sn
	}
	return r.attr(sn, name, "Ref")
}

func (r *resolver) attr(sn, id, attr string) string {
	if v, ok := r.env.Attr(sn, id, attr); ok {
		return v
	}
	return placeholder(sn, id, attr)
}

// placeholder stands for a value Env does not know: it has no wildcard, so it matches no request.
func placeholder(sn, id, attr string) string { return "{" + sn + "/" + id + "." + attr + "}" }

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

func (r *resolver) intrinsic(sn, fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("Ref %v", arg)
		}
		return r.ref(sn, name), nil
	case "Fn::GetAtt":
		var id, attr string
		switch a := arg.(type) {
		case []any:
			if len(a) == 2 {
				id, _ = a[0].(string)
				attr, _ = a[1].(string)
			}
		case string:
			id, attr, _ = strings.Cut(a, ".")
		}
		if id == "" || attr == "" {
			return nil, fmt.Errorf("Fn::GetAtt %v", arg)
		}
		return r.attr(sn, id, attr), nil
	case "Fn::Join":
		a, ok := arg.([]any)
		if !ok || len(a) != 2 {
			return nil, fmt.Errorf("Fn::Join %v", arg)
		}
		sep, _ := a[0].(string)
		parts, err := r.value(sn, a[1])
		if err != nil {
			return nil, err
		}
		ps, ok := parts.([]any)
		if !ok {
			return nil, fmt.Errorf("Fn::Join of %v", parts)
		}
		ss := make([]string, len(ps))
		for i, p := range ps {
			if ss[i], ok = p.(string); !ok {
				return nil, fmt.Errorf("Fn::Join part %v", p)
			}
		}
		return strings.Join(ss, sep), nil
	case "Fn::Sub":
		tpl, vars := "", map[string]any{}
		switch a := arg.(type) {
		case string:
			tpl = a
		case []any:
			if len(a) == 2 {
				tpl, _ = a[0].(string)
				vars, _ = a[1].(map[string]any)
			}
		}
		var err error
		out := subVar.ReplaceAllStringFunc(tpl, func(m string) string {
			name := m[2 : len(m)-1]
			if v, ok := vars[name]; ok {
				rv, e := r.value(sn, v)
				if s, ok := rv.(string); ok && e == nil {
					return s
				}
				err = fmt.Errorf("Fn::Sub variable %s: %v", name, v)
				return m
			}
			if id, attr, ok := strings.Cut(name, "."); ok {
				return r.attr(sn, id, attr)
			}
			return r.ref(sn, name)
		})
		return strings.ReplaceAll(out, "${!", "${"), err
	case "Fn::Select":
		a, ok := arg.([]any)
		if !ok || len(a) != 2 {
			return nil, fmt.Errorf("Fn::Select %v", arg)
		}
		idx, err := r.value(sn, a[0])
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(fmt.Sprint(idx))
		if err != nil {
			return nil, fmt.Errorf("Fn::Select index %v", idx)
		}
		l, err := r.value(sn, a[1])
		if err != nil {
			return nil, err
		}
		ls, ok := l.([]any)
		if !ok || i < 0 || i >= len(ls) {
			return nil, fmt.Errorf("Fn::Select %d of %v", i, l)
		}
		return ls[i], nil
	case "Fn::Split":
		a, ok := arg.([]any)
		if !ok || len(a) != 2 {
			return nil, fmt.Errorf("Fn::Split %v", arg)
		}
		sep, _ := a[0].(string)
		s, err := r.value(sn, a[1])
		if err != nil {
			return nil, err
		}
		str, ok := s.(string)
		if !ok {
			return nil, fmt.Errorf("Fn::Split of %v", s)
		}
		var out []any
		for _, p := range strings.Split(str, sep) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::ImportValue":
		nv, err := r.value(sn, arg)
		if err != nil {
			return nil, err
		}
		name, ok := nv.(string)
		if !ok {
			return nil, fmt.Errorf("Fn::ImportValue %v", arg)
		}
		for osn, t := range r.stacks {
			for _, o := range t.Outputs {
				if o.Export == nil {
					continue
				}
				if en, err := r.value(osn, o.Export.Name); err == nil && en == name {
					return r.value(osn, o.Value)
				}
			}
		}
		return nil, fmt.Errorf("Fn::ImportValue %s: no stack exports it", name)
	}
	return nil, fmt.Errorf("intrinsic %s is not supported", fn)
}

func refID(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	id, ok := m["Ref"].(string)
	return id, ok
}
