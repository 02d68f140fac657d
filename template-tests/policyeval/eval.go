package policyeval

import (
	"fmt"
	"strconv"
	"strings"
)

// Request is one authorization request: a role calling an action on a resource.
type Request struct {
	// Principal is the calling role's ARN.
	Principal string
	// Action is "service:Operation", e.g. "kms:Decrypt".
	Action string
	// Resource is the ARN the action is authorized on ("*" for actions without a resource).
	Resource string
	// Context holds the request's condition keys (any case) and their values.
	Context map[string][]string
}

// Decision is the outcome of an evaluation, with the statement that decided it.
type Decision struct {
	Allowed bool
	// Reason says why: the denying statement, or which policy allows nothing.
	Reason string
	// Identity is the identity statement that allows the request (when Allowed).
	Identity *Statement
}

func (s Statement) name() string {
	if s.Sid != "" {
		return s.Source + " " + s.Sid
	}
	return s.Source + " (statement without Sid)"
}

// Evaluate decides a request as AWS does within one account: an explicit Deny in any policy wins;
// otherwise KMS needs an Allow in the key policy and (unless the key policy names the role itself)
// in the role's identity policy, and other services need an Allow in the identity policy or the
// resource's policy.
func (p *Policies) Evaluate(r Request) (Decision, error) {
	ctx := map[string][]string{"aws:principalarn": {r.Principal}}
	for k, v := range r.Context {
		ctx[strings.ToLower(k)] = v
	}
	identity := p.Identity[r.Principal]
	res := p.resourcePolicy(r)
	var idAllow, resAllow *Statement
	for i, s := range identity {
		ok, err := s.matches(r, ctx, false)
		if err != nil {
			return Decision{}, err
		}
		if !ok {
			continue
		}
		if s.Effect == "Deny" {
			return Decision{Reason: "explicitly denied by " + s.name()}, nil
		}
		if idAllow == nil {
			idAllow = &identity[i]
		}
	}
	for i, s := range res {
		ok, err := s.matches(r, ctx, true)
		if err != nil {
			return Decision{}, err
		}
		if !ok {
			continue
		}
		if s.Effect == "Deny" {
			return Decision{Reason: "explicitly denied by " + s.name()}, nil
		}
		if resAllow == nil {
			resAllow = &res[i]
		}
	}
	if strings.HasPrefix(strings.ToLower(r.Action), "kms:") {
		switch {
		case resAllow == nil:
			return Decision{Reason: "no statement of the key policy allows it"}, nil
		case idAllow == nil && !containsStr(resAllow.Principal, r.Principal):
			return Decision{Reason: "the key policy allows it (" + resAllow.name() + ") but no identity policy statement of the role does"}, nil
		}
		return Decision{Allowed: true, Identity: idAllow}, nil
	}
	if idAllow == nil && resAllow == nil {
		return Decision{Reason: "no identity policy statement of the role allows it"}, nil
	}
	return Decision{Allowed: true, Identity: idAllow}, nil
}

func containsStr(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// resourcePolicy returns the statements of the policy of the resource the request names: a key's
// policy by the key's ARN, a bucket's for the bucket or any of its objects, a topic's or a queue's.
func (p *Policies) resourcePolicy(r Request) []Statement {
	if st, ok := p.ResourcePolicies[r.Resource]; ok {
		return st
	}
	if b, ok := strings.CutPrefix(r.Resource, "arn:aws:s3:::"); ok {
		bucket, _, _ := strings.Cut(b, "/")
		return p.ResourcePolicies["arn:aws:s3:::"+bucket]
	}
	return nil
}

// Matches reports whether an identity policy statement applies to a request (its effect aside).
func (s Statement) Matches(r Request) (bool, error) {
	ctx := map[string][]string{"aws:principalarn": {r.Principal}}
	for k, v := range r.Context {
		ctx[strings.ToLower(k)] = v
	}
	return s.matches(r, ctx, false)
}

// matches reports whether a statement applies to a request.
func (s Statement) matches(r Request, ctx map[string][]string, resourcePolicy bool) (bool, error) {
	if resourcePolicy && !s.principalMatches(r.Principal) {
		return false, nil
	}
	if !anyGlob(s.Action, r.Action, true) || !anyGlob(s.Resource, r.Resource, false) {
		return false, nil
	}
	for op, kv := range s.Condition {
		for key, vals := range kv {
			ok, err := condition(op, vals, ctx[key], has(ctx, key))
			if err != nil {
				return false, fmt.Errorf("%s: %w", s.name(), err)
			}
			if !ok {
				return false, nil
			}
		}
	}
	return true, nil
}

func has(ctx map[string][]string, key string) bool { _, ok := ctx[key]; return ok }

// principalMatches: "*", the principal's account (id or root ARN), or its own ARN. Service
// principals never match a role.
func (s Statement) principalMatches(arn string) bool {
	account := ""
	if parts := strings.Split(arn, ":"); len(parts) > 4 {
		account = parts[4]
	}
	for _, p := range s.Principal {
		switch {
		case p == "*", p == arn, p == account,
			account != "" && strings.HasSuffix(p, ":iam::"+account+":root"):
			return true
		}
	}
	return false
}

func anyGlob(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			if Glob(strings.ToLower(p), strings.ToLower(s)) {
				return true
			}
		} else if Glob(p, s) {
			return true
		}
	}
	return false
}

// Glob matches s against an IAM pattern: * is any run of characters, ? any one character.
func Glob(pattern, s string) bool {
	// Iterative matching with backtracking to the last *, linear in practice.
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// condition evaluates one operator on one key: vals are the policy's values, got the request's.
func condition(op string, vals, got []string, present bool) (bool, error) {
	set, base, isSet := strings.Cut(op, ":")
	if !isSet {
		base, set = op, ""
	}
	var match func(pol, req string) (bool, error)
	negated := false
	switch base {
	case "StringEquals":
		match = func(p, r string) (bool, error) { return p == r, nil }
	case "StringNotEquals":
		match, negated = func(p, r string) (bool, error) { return p == r, nil }, true
	case "StringLike", "ArnLike", "ArnEquals":
		// ArnEquals and ArnLike behave the same: both take wildcards.
		match = func(p, r string) (bool, error) { return Glob(p, r), nil }
	case "StringNotLike", "ArnNotLike", "ArnNotEquals":
		match, negated = func(p, r string) (bool, error) { return Glob(p, r), nil }, true
	case "Bool":
		match = func(p, r string) (bool, error) { return strings.EqualFold(p, r), nil }
	case "NumericLessThan", "NumericLessThanEquals":
		match = func(p, r string) (bool, error) {
			pv, err1 := strconv.ParseFloat(p, 64)
			rv, err2 := strconv.ParseFloat(r, 64)
			if err1 != nil || err2 != nil {
				return false, fmt.Errorf("%s: %q or %q is not a number", op, p, r)
			}
			if base == "NumericLessThan" {
				return rv < pv, nil
			}
			return rv <= pv, nil
		}
	case "Null":
		if len(vals) != 1 {
			return false, fmt.Errorf("Null takes one value")
		}
		return strings.EqualFold(vals[0], "true") != present, nil
	default:
		return false, fmt.Errorf("condition operator %s is not supported", op)
	}
	anyOf := func(r string) (bool, error) {
		for _, p := range vals {
			ok, err := match(p, r)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	}
	switch set {
	case "ForAllValues":
		// True when every request value matches; vacuously true without values.
		for _, r := range got {
			ok, err := anyOf(r)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case "ForAnyValue":
		for _, r := range got {
			if ok, err := anyOf(r); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case "":
		if !present {
			// A missing key matches nothing; a negated operator is then true.
			return negated, nil
		}
		for _, r := range got {
			ok, err := anyOf(r)
			if err != nil {
				return false, err
			}
			if ok {
				return !negated, nil
			}
		}
		return negated, nil
	}
	return false, fmt.Errorf("condition set operator %s is not supported", set)
}
