package lambdaruntime

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/vaultbill/vaultbill/shared/api/config"
	"github.com/vaultbill/vaultbill/shared/local/cfn"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Templates are the templates of one synthesized app (the API stack imports from the data stack).
type Templates []cfn.Template

// ParseTemplates parses the JSON of every stack's template.
func ParseTemplates(docs ...[]byte) (Templates, error) {
	var ts Templates
	for i, d := range docs {
		var t cfn.Template
		if err := json.Unmarshal(d, &t); err != nil {
			return nil, fmt.Errorf("template %d: %w", i, err)
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// ReadTemplates reads every *.template.json of a cloud assembly folder (infra/cdk.out after make synth).
func ReadTemplates(dir string) (Templates, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.template.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.template.json in %s", dir)
	}
	var docs [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		docs = append(docs, b)
	}
	return ParseTemplates(docs...)
}

// LogicalID is infra/stacks.LogicalID (which this package cannot import without the CDK): the
// shared/ops/resources ID in PascalCase plus its kind ("audit-signing", "Key" → "AuditSigningKey"). The
// template tests check that both agree.
func LogicalID(id, kind string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(id, func(r rune) bool { return r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String() + kind
}

// cdkHash is the suffix CDK appends to the logical IDs it does not pin.
var cdkHash = regexp.MustCompile(`^[0-9A-F]{8}$`)

// Local is the local stack the template's references are mapped to.
type Local struct {
	Names resources.Names
	// Endpoint is the emulator (AWS_ENDPOINT_URL); Region and Account are the local stack's.
	Endpoint, Region, Account string
	// Issuer, Audience and JWKSFile are what the local authorizer trusts: the local signing key's.
	Issuer, Audience, JWKSFile string
	// Topics maps an SNS topic's logical ID (without CDK's hash) to the ARN of its local counterpart.
	Topics map[string]string
	// UserPoolID is the local stack's user pool (the template's UserPool); empty when it has none.
	UserPoolID string
	// URL is the local gateway's base URL, what a stage's URL maps to; empty when it serves no HTTP.
	URL string
}

// Function is one function as the template defines it, its environment mapped to the local stack.
type Function struct {
	Name      string
	LogicalID string
	// Env is exactly the variables the template sets, with local values.
	Env            map[string]string
	MemoryMB       int
	TimeoutSeconds int
}

// Function finds function name in the templates and maps its environment to l. Every value must have
// a local counterpart: a reference the mapping does not know is an error, never a guess.
func (ts Templates) Function(name string, l Local) (Function, error) {
	want := LogicalID(name, "Function")
	for _, t := range ts {
		for id, r := range t.Resources {
			if r.Type != "AWS::Lambda::Function" || !strings.HasPrefix(id, want) || !cdkHash.MatchString(id[len(want):]) {
				continue
			}
			f := Function{Name: name, LogicalID: id, Env: map[string]string{},
				MemoryMB: intOf(r.Properties["MemorySize"]), TimeoutSeconds: intOf(r.Properties["Timeout"])}
			vars, _ := cfn.Get(r.Properties, "Environment", "Variables").(map[string]any)
			for k, v := range vars {
				s, err := ts.resolve(t, v, l)
				if err != nil {
					return Function{}, fmt.Errorf("function %s: %s: %w", name, k, err)
				}
				f.Env[k] = s
			}
			// In AWS the authorizer fetches the user pool's JWKS over HTTPS; the local authorizer trusts
			// the local signing key's JWKS file instead, as the local stack does. This is the one variable
			// mapped by name rather than by value.
			if _, ok := f.Env[config.EnvJWKSURL]; ok {
				delete(f.Env, config.EnvJWKSURL)
				f.Env[config.EnvJWKSFile] = l.JWKSFile
			}
			return f, nil
		}
	}
	return Function{}, fmt.Errorf("no AWS::Lambda::Function %s<hash> in the templates", want)
}

// FunctionNames lists the functions the templates define, by their shared names ("audit-shipper").
func (ts Templates) FunctionNames() []string {
	var names []string
	for _, t := range ts {
		for id, r := range t.Resources {
			if r.Type == "AWS::Lambda::Function" && len(id) > 8+len("Function") && strings.HasSuffix(id[:len(id)-8], "Function") {
				names = append(names, kebab(strings.TrimSuffix(id[:len(id)-8], "Function")))
			}
		}
	}
	sort.Strings(names)
	return names
}

// Topics lists the logical IDs (without hash) of the SNS topics the functions may be told about.
func (ts Templates) Topics() []string {
	var ids []string
	for _, t := range ts {
		for id, r := range t.Resources {
			if r.Type == "AWS::SNS::Topic" {
				ids = append(ids, trimHash(id))
			}
		}
	}
	sort.Strings(ids)
	return ids
}

func (ts Templates) resolve(t cfn.Template, v any, l Local) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case float64:
		return fmt.Sprint(x), nil
	case map[string]any:
		if len(x) != 1 {
			break
		}
		if ref, ok := x["Ref"].(string); ok {
			return ts.resource(t, ref, "", l)
		}
		if a, ok := x["Fn::GetAtt"].([]any); ok && len(a) == 2 {
			id, _ := a[0].(string)
			attr, _ := a[1].(string)
			return ts.resource(t, id, attr, l)
		}
		if name, ok := x["Fn::ImportValue"].(string); ok {
			for _, other := range ts {
				for _, o := range other.Outputs {
					if o.Export != nil && o.Export.Name == name {
						return ts.resolve(other, o.Value, l)
					}
				}
			}
			return "", fmt.Errorf("no stack exports %s", name)
		}
		if a, ok := x["Fn::Join"].([]any); ok && len(a) == 2 {
			sep, _ := a[0].(string)
			parts, _ := a[1].([]any)
			if rest, ok := stageURL(t, sep, parts); ok {
				if l.URL == "" {
					return "", fmt.Errorf("no local counterpart for a stage URL: the local stack serves no HTTP")
				}
				parts = append([]any{strings.TrimSuffix(l.URL, "/")}, rest...)
			}
			var out []string
			for _, p := range parts {
				s, err := ts.resolve(t, p, l)
				if err != nil {
					return "", err
				}
				out = append(out, s)
			}
			return strings.Join(out, sep), nil
		}
	}
	b, _ := json.Marshal(v)
	return "", fmt.Errorf("no local counterpart for %s", b)
}

// resource maps a Ref (attr "") or Fn::GetAtt of a template resource to the local stack, through the
// shared resource definitions that the CDK app and the local provisioner both build from.
func (ts Templates) resource(t cfn.Template, id, attr string, l Local) (string, error) {
	switch id {
	case "AWS::AccountId":
		return l.Account, nil
	case "AWS::Region":
		return l.Region, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	}
	what := id
	if attr != "" {
		what += "." + attr
	}
	for _, tb := range resources.Tables {
		if id == LogicalID(tb.ID, "Table") && attr == "" {
			return l.Names.Table(tb.ID), nil
		}
	}
	for _, k := range resources.Keys {
		// KMS takes an alias wherever it takes a key ARN; the local keys are known by alias.
		if id == LogicalID(k.ID, "Key") && (attr == "" || attr == "Arn") {
			return l.Names.KeyAlias(k.ID), nil
		}
	}
	for _, b := range resources.Buckets {
		if id == LogicalID(b.ID, "Bucket") && attr == "" {
			return l.Names.Bucket(b.ID), nil
		}
	}
	switch {
	case id == "UserPool" && attr == "ProviderURL":
		return l.Issuer, nil
	case id == "UserPoolClient" && attr == "":
		return l.Audience, nil
	case id == "UserPool" && attr == "" && l.UserPoolID != "":
		return l.UserPoolID, nil
	}
	if r, ok := t.Resources[id]; ok && r.Type == "AWS::SNS::Topic" && attr == "" {
		if arn := l.Topics[trimHash(id)]; arn != "" {
			return arn, nil
		}
	}
	return "", fmt.Errorf("no local counterpart for %s", what)
}

// stageURL recognizes the URL of a REST API stage as CDK joins it (RestApi.urlForPath):
// "https://", the API's Ref, ".execute-api.<region>.", the URL suffix, "/", the stage's Ref, then the
// path. It returns the parts after the stage, which the local gateway serves under its own URL: the
// local stack has no stage, its routes carry the same paths.
func stageURL(t cfn.Template, sep string, parts []any) (rest []any, ok bool) {
	refType := func(p any) string {
		m, _ := p.(map[string]any)
		id, _ := m["Ref"].(string)
		if len(m) != 1 || id == "" {
			return ""
		}
		return t.Resources[id].Type
	}
	if sep != "" || len(parts) < 4 || parts[0] != "https://" || refType(parts[1]) != "AWS::ApiGateway::RestApi" {
		return nil, false
	}
	if host, _ := parts[2].(string); !strings.HasPrefix(host, ".execute-api.") {
		return nil, false
	}
	for i := 3; i < len(parts); i++ {
		if refType(parts[i]) == "AWS::ApiGateway::Stage" {
			return parts[i+1:], parts[i-1] == "/"
		}
	}
	return nil, false
}

func trimHash(id string) string {
	if len(id) > 8 && cdkHash.MatchString(id[len(id)-8:]) {
		return id[:len(id)-8]
	}
	return id
}

// kebab turns "AuditShipper" into "audit-shipper".
func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func intOf(v any) int {
	if f, ok := v.(float64); ok {
		return int(f)
	}
	return 0
}

// SAMEnv is the --env-vars file of `sam local invoke` and `sam local start-api` for these templates:
// each function's variables mapped to l, keyed by the function's logical ID, plus AWS_ENDPOINT_URL.
// SAM only overrides the variables a template declares, so AWS_ENDPOINT_URL and JWKS_FILE reach a
// function only from a template that declares them.
func (ts Templates) SAMEnv(l Local) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for _, name := range ts.FunctionNames() {
		f, err := ts.Function(name, l)
		if err != nil {
			return nil, err
		}
		f.Env["AWS_ENDPOINT_URL"] = l.Endpoint
		out[f.LogicalID] = f.Env
	}
	return out, nil
}

// SAMTemplate returns a copy of a synthesized template that `sam local` can run against an emulator:
// every function declares AWS_ENDPOINT_URL (empty; the --env-vars file sets it), since SAM passes a
// function only the variables its template declares, and the deployable template has no reason to
// name an emulator. Relative asset paths (cdk synth's aws:asset:path metadata) are made absolute under
// cdkOut, so the copy can live in another folder.
func SAMTemplate(doc []byte, cdkOut string) ([]byte, error) {
	abs, err := filepath.Abs(cdkOut)
	if err != nil {
		return nil, err
	}
	var t map[string]any
	if err := json.Unmarshal(doc, &t); err != nil {
		return nil, err
	}
	res, _ := t["Resources"].(map[string]any)
	for _, v := range res {
		r, _ := v.(map[string]any)
		if r["Type"] != "AWS::Lambda::Function" {
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
			r["Properties"] = props
		}
		envProp, _ := props["Environment"].(map[string]any)
		if envProp == nil {
			envProp = map[string]any{}
			props["Environment"] = envProp
		}
		vars, _ := envProp["Variables"].(map[string]any)
		if vars == nil {
			vars = map[string]any{}
			envProp["Variables"] = vars
		}
		vars["AWS_ENDPOINT_URL"] = ""
		if md, ok := r["Metadata"].(map[string]any); ok {
			if p, ok := md["aws:asset:path"].(string); ok && !filepath.IsAbs(p) {
				md["aws:asset:path"] = filepath.Join(abs, p)
			}
		}
	}
	return json.MarshalIndent(t, "", " ")
}
