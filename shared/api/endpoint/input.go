package endpoint

import (
	"sort"
	"strings"
	"unicode"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/ids"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// invalidMark stands in an audit record for a parameter value that was refused: the value itself may
// be a card number or personal data, and is never recorded.
const invalidMark = "[INVALID]"

// maxParamLength bounds a path or query value that is not an id of a known shape (list cursors are
// the longest).
const maxParamLength = 2048

// checkInput validates what the URL carries before the handler runs and before the request's audit
// record names any of it: a path parameter that is not an id of the kind its collection holds is a
// 404, a query parameter that carries an id (customer_id=...) and is malformed, or any parameter that
// holds a card number or control characters, is a 400. Errors name the parameter, never its value. It
// returns the names of the refused parameters, which the record then shows as invalidMark.
func checkInput(req *events.APIGatewayProxyRequest, route routes.Route) (map[string]bool, error) {
	bad := map[string]bool{}
	var err error
	segs := strings.Split(strings.Trim(route.Path, "/"), "/")
	for i, seg := range segs {
		if !strings.HasPrefix(seg, "{") || !strings.HasSuffix(seg, "}") {
			continue
		}
		name := seg[1 : len(seg)-1]
		v := req.PathParameters[name]
		prefix, isID := "", false
		if i > 0 {
			prefix, isID = ids.ForCollection(segs[i-1])
		}
		if (isID && !ids.Valid(prefix, v)) || (!isID && !safe(v)) {
			bad[name] = true
			if err == nil {
				err = problem.New(problem.NotFound, "No such %s.", ids.Kind(prefix))
			}
		}
	}
	if err != nil {
		return bad, err
	}
	names := make([]string, 0, len(req.QueryStringParameters))
	for k := range req.QueryStringParameters {
		names = append(names, k)
	}
	sort.Strings(names)
	var fields []problem.FieldError
	for _, k := range names {
		v := req.QueryStringParameters[k]
		switch prefix, isID := ids.ForField(k); {
		case !safe(k):
			bad[k] = true
			// The name itself is not repeated: it may hold anything a value may not.
			fields = append(fields, problem.FieldError{Field: invalidMark, Message: "is not a parameter name"})
		case isID && v != "" && !ids.Valid(prefix, v):
			bad[k] = true
			fields = append(fields, problem.FieldError{Field: k, Message: "is not a well-formed " + ids.Kind(prefix) + " id"})
		case !safe(v):
			bad[k] = true
			fields = append(fields, problem.FieldError{Field: k, Message: "has characters or a length it cannot have, or holds a card number"})
		}
	}
	if len(fields) > 0 {
		e := problem.Malformed("The query string has invalid parameters.")
		e.Fields = fields
		return bad, e
	}
	return bad, nil
}

// safe reports whether a parameter that is not an id may be processed and recorded: bounded,
// printable, and no card number in it.
func safe(v string) bool {
	if len(v) > maxParamLength || logging.ContainsPAN(v) {
		return false
	}
	for _, r := range v {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
