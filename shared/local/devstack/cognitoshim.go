package devstack

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// cognitoChallenges repairs one known divergence of the emulator from Cognito: moto answers an
// MFA_SETUP challenge with MFAS_CAN_SETUP as a JSON array, where Cognito (and the SDK, which refuses
// anything else) has a string holding the array. Only RespondToAuthChallenge and InitiateAuth
// answers are touched, and only that one parameter.
type cognitoChallenges struct{ next aws.HTTPClient }

func (c cognitoChallenges) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(req)
	target := req.Header.Get("X-Amz-Target")
	if err != nil || !strings.HasPrefix(target, "AWSCognitoIdentityProviderService.") ||
		!(strings.HasSuffix(target, ".RespondToAuthChallenge") || strings.HasSuffix(target, ".InitiateAuth")) {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var out map[string]json.RawMessage
	var params map[string]json.RawMessage
	if json.Unmarshal(body, &out) == nil && json.Unmarshal(out["ChallengeParameters"], &params) == nil {
		if v := params["MFAS_CAN_SETUP"]; len(v) > 0 && v[0] == '[' {
			s, _ := json.Marshal(string(v))
			params["MFAS_CAN_SETUP"] = s
			out["ChallengeParameters"], _ = json.Marshal(params)
			body, _ = json.Marshal(out)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}
