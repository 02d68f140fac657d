// Package httpapi is the HTTP codec of the API functions: it reads JSON bodies out of API Gateway REST
// proxy events and writes JSON and application/problem+json responses back.
package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vaultbill/vaultbill/shared/api/logging"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// MaxBodyBytes is the largest request body accepted (DESIGN §5).
const MaxBodyBytes = 64 << 10

// ProblemType is the base of problem+json "type" URIs; each code documents itself under it.
const ProblemType = "https://docs.vaultbill.dev/errors#"

// Body returns the raw request body, decoding base64 when API Gateway marked it so.
func Body(req *events.APIGatewayProxyRequest) ([]byte, error) {
	if len(req.Body) > base64.StdEncoding.EncodedLen(MaxBodyBytes) {
		return nil, tooLarge()
	}
	b := []byte(req.Body)
	if req.IsBase64Encoded {
		var err error
		if b, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			return nil, problem.Malformed("The request body is not valid base64.")
		}
	}
	if len(b) > MaxBodyBytes {
		return nil, tooLarge()
	}
	return b, nil
}

func tooLarge() error {
	return problem.New(problem.PayloadTooLarge, "The request body is larger than %d KiB.", MaxBodyBytes>>10)
}

// Decode parses the JSON body into v strictly: unknown, duplicate and case-variant fields, card numbers
// outside card fields, malformed ids, trailing data and bodies over MaxBodyBytes are rejected, so a
// typo in a field name is an error rather than a silently ignored value. Error details name the
// problem but never echo the body, which may hold card data.
func Decode(req *events.APIGatewayProxyRequest, v any) error {
	b, err := Body(req)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return problem.Malformed("The request body is empty; send a JSON object.")
	}
	if err := checkBody(b, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return problem.Malformed("The request body has data after the JSON object.")
	}
	return nil
}

func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return problem.Malformed("The request body is not valid JSON.")
	case errors.As(err, &typ):
		e := problem.Malformed("The request body has a field of the wrong type.")
		e.Fields = []problem.FieldError{{Field: logging.Redact(typ.Field), Message: "must be " + jsonKind(typ.Type.Kind().String())}}
		return e
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		e := problem.Malformed("The request body has an unknown field.")
		e.Fields = []problem.FieldError{{Field: logging.Redact(name), Message: "unknown field"}}
		return e
	}
	return problem.Malformed("The request body could not be read as JSON.")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	}
	return "an object"
}

// JSON renders v with status as an application/json response.
func JSON(status int, v any, headers map[string]string) (events.APIGatewayProxyResponse, error) {
	b, err := marshal(v)
	if err != nil {
		return events.APIGatewayProxyResponse{}, fmt.Errorf("marshal %T response: %w", v, err)
	}
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range headers {
		h[k] = v
	}
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: h, Body: string(b)}, nil
}

// marshal renders a response body without encoding/json's HTML escapes. A body is JSON for an API
// client, never inlined into HTML, and the escapes turn "&" into "\u0026": digits that join the digits
// after it, so a refusal that names a caller's parameter "&11111111110" would carry the Luhn-valid
// run 002611111111110, which every card-number scanner downstream reports as a leak.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Problem is the application/problem+json body (RFC 9457) with Vaultbill's code and request id.
type Problem struct {
	Type      string               `json:"type"`
	Title     string               `json:"title"`
	Status    int                  `json:"status"`
	Detail    string               `json:"detail,omitempty"`
	Code      problem.Code         `json:"code"`
	Reason    string               `json:"reason,omitempty"`
	RequestID string               `json:"request_id"`
	Errors    []problem.FieldError `json:"errors,omitempty"`
}

// ProblemOf builds the client body of err. Unexpected errors become "internal" with a fixed detail.
func ProblemOf(err error, requestID string) Problem {
	e := problem.From(err)
	return Problem{
		Type:      ProblemType + string(e.Code),
		Title:     e.Title(),
		Status:    e.Status(),
		Detail:    e.Detail,
		Code:      e.Code,
		Reason:    e.Reason,
		RequestID: requestID,
		Errors:    e.Fields,
	}
}

// Error renders err as an application/problem+json response.
func Error(err error, requestID string, headers map[string]string) events.APIGatewayProxyResponse {
	p := ProblemOf(err, requestID)
	b, _ := marshal(p) // a Problem always marshals
	h := map[string]string{"Content-Type": ProblemContentType}
	if e := problem.From(err); e.RetryAfter > 0 {
		h["Retry-After"] = strconv.FormatInt(problem.Seconds(e.RetryAfter), 10)
	}
	for k, v := range headers {
		h[k] = v
	}
	return events.APIGatewayProxyResponse{StatusCode: p.Status, Headers: h, Body: string(b)}
}

// Header returns a request header by case-insensitive name, as HTTP intends.
func Header(req *events.APIGatewayProxyRequest, name string) string {
	if v, ok := req.Headers[name]; ok {
		return v
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	for k, vs := range req.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}
