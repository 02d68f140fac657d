package stacktest

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Call is one AWS operation a function sent, with what an IAM policy evaluates it on: the resource it
// names and the request values condition keys read. A DynamoDB transaction or batch is recorded as one
// Call per item and table, as IAM authorizes it.
type Call struct {
	// Function is the function whose role the call runs as (devstack.Options.FunctionAWS).
	Function  string `json:"function"`
	Service   string `json:"service"`   // the SDK service id: "DynamoDB", "KMS", "S3", "SNS", ...
	Operation string `json:"operation"` // the API operation: "GetItem", "Decrypt", "PutObject", ...
	// Item is the operation of one item of a transaction ("Put", "Update", "Delete", "ConditionCheck").
	Item string `json:"item,omitempty"`
	// Resource names what the call acts on, as the request names it.
	Table     string  `json:"table,omitempty"`
	Index     string  `json:"index,omitempty"`
	BackupARN string  `json:"backupArn,omitempty"`
	Stream    string  `json:"stream,omitempty"`
	Key       string  `json:"key,omitempty"` // a KMS key id, alias or ARN (the response's KeyId when the request names none)
	Bucket    string  `json:"bucket,omitempty"`
	Object    string  `json:"object,omitempty"`
	Prefix    *string `json:"prefix,omitempty"`
	Topic     string  `json:"topic,omitempty"`
	Queue     string  `json:"queue,omitempty"`
	UserPool  string  `json:"userPool,omitempty"` // a Cognito user pool id
	// Request values IAM condition keys read.
	EncryptionContext map[string]string `json:"encryptionContext,omitempty"`
	SigningAlgorithm  string            `json:"signingAlgorithm,omitempty"`
	MessageType       string            `json:"messageType,omitempty"`
	// LeadingKeys are the partition key values of the items a DynamoDB call names (dynamodb:LeadingKeys).
	LeadingKeys []string `json:"leadingKeys,omitempty"`
}

// Recorder records the AWS calls of the functions of a local stack. Pass its Tag as
// devstack.Options.FunctionAWS: only the clients built from a function's configuration are recorded,
// so the stack's own provisioning and the test's reads are not attributed to any function.
type Recorder struct {
	mu    sync.Mutex
	calls []Call
	// streams remembers the stream of each shard iterator: GetRecords names only the iterator, IAM
	// authorizes it on the stream.
	streams map[string]string
}

// Tag returns a copy of cfg whose clients record every call as made by function fn.
func (r *Recorder) Tag(fn string, cfg aws.Config) aws.Config {
	cfg = cfg.Copy()
	cfg.APIOptions = append(slices.Clone(cfg.APIOptions), func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("recordCalls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				svc, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
				if svc == "" || op == "" {
					// Clients that register their service metadata after this middleware runs (the
					// Cognito client) name it only in the operation's context.
					svc, op = middleware.GetServiceID(ctx), middleware.GetOperationName(ctx)
				}
				calls := describe(fn, svc, op, in.Parameters, out.Result)
				r.followStreams(calls, in.Parameters, out.Result)
				r.add(calls)
				return out, md, err
			}), middleware.Before)
	})
	return cfg
}

// followStreams names the stream of a GetRecords call from the iterator it reads, and remembers the
// stream of the iterators a call returns.
func (r *Recorder) followStreams(calls []Call, params, result any) {
	if len(calls) != 1 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.streams == nil {
		r.streams = map[string]string{}
	}
	c := &calls[0]
	if in := reflect.Indirect(reflect.ValueOf(params)); c.Stream == "" && in.Kind() == reflect.Struct {
		c.Stream = r.streams[str(in, "ShardIterator")]
	}
	if out := reflect.Indirect(reflect.ValueOf(result)); c.Stream != "" && out.Kind() == reflect.Struct {
		for _, f := range []string{"ShardIterator", "NextShardIterator"} {
			if it := str(out, f); it != "" {
				r.streams[it] = c.Stream
			}
		}
	}
}

func (r *Recorder) add(calls []Call) {
	r.mu.Lock()
	r.calls = append(r.calls, calls...)
	r.mu.Unlock()
}

// Calls returns what was recorded so far.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// EnvCallLog names a file that WriteLog appends the recorded calls to, as JSON lines.
const EnvCallLog = "VAULTBILL_CALL_LOG"

// WriteLog appends the recorded calls to the file EnvCallLog names, if it is set.
func (r *Recorder) WriteLog() error {
	path := os.Getenv(EnvCallLog)
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, c := range r.Calls() {
		if err := enc.Encode(c); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// describe turns one SDK call into the calls IAM authorizes. The request's fields are read by name
// (TableName, KeyId, Bucket, ...) so that every operation of every service is covered without a list.
func describe(fn, service, op string, params, result any) []Call {
	c := Call{Function: fn, Service: service, Operation: op}
	switch in := params.(type) {
	case *dynamodb.TransactWriteItemsInput:
		var out []Call
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				out = append(out, item(c, "Put", *it.Put.TableName, it.Put.Item))
			case it.Update != nil:
				out = append(out, item(c, "Update", *it.Update.TableName, it.Update.Key))
			case it.Delete != nil:
				out = append(out, item(c, "Delete", *it.Delete.TableName, it.Delete.Key))
			case it.ConditionCheck != nil:
				out = append(out, item(c, "ConditionCheck", *it.ConditionCheck.TableName, it.ConditionCheck.Key))
			}
		}
		return out
	case *dynamodb.TransactGetItemsInput:
		var out []Call
		for _, it := range in.TransactItems {
			out = append(out, item(c, "Get", *it.Get.TableName, it.Get.Key))
		}
		return out
	case *dynamodb.BatchWriteItemInput:
		var out []Call
		for _, table := range sortedKeys(in.RequestItems) {
			b := item(c, "", table, nil)
			for _, w := range in.RequestItems[table] {
				switch {
				case w.PutRequest != nil:
					b.LeadingKeys = append(b.LeadingKeys, leadingKey(table, w.PutRequest.Item)...)
				case w.DeleteRequest != nil:
					b.LeadingKeys = append(b.LeadingKeys, leadingKey(table, w.DeleteRequest.Key)...)
				}
			}
			out = append(out, b)
		}
		return out
	case *dynamodb.BatchGetItemInput:
		var out []Call
		for _, table := range sortedKeys(in.RequestItems) {
			b := item(c, "", table, nil)
			for _, k := range in.RequestItems[table].Keys {
				b.LeadingKeys = append(b.LeadingKeys, leadingKey(table, k)...)
			}
			out = append(out, b)
		}
		return out
	}
	v := reflect.Indirect(reflect.ValueOf(params))
	if v.Kind() == reflect.Struct {
		c.Table = str(v, "TableName")
		c.Index = str(v, "IndexName")
		c.BackupARN = str(v, "BackupArn")
		c.Stream = str(v, "StreamArn")
		c.Key = str(v, "KeyId")
		c.Bucket = str(v, "Bucket")
		c.Object = str(v, "Key")
		if f := v.FieldByName("Prefix"); f.IsValid() && f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.String {
			p := ""
			if !f.IsNil() {
				p = f.Elem().String()
			}
			c.Prefix = &p // ListObjects without a prefix is an s3:prefix of ""
		}
		c.Topic = str(v, "TopicArn")
		c.Queue = str(v, "QueueUrl")
		c.UserPool = str(v, "UserPoolId")
		c.SigningAlgorithm = str(v, "SigningAlgorithm")
		c.MessageType = str(v, "MessageType")
		if f := v.FieldByName("EncryptionContext"); f.IsValid() && f.Kind() == reflect.Map && f.Len() > 0 {
			c.EncryptionContext = map[string]string{}
			for _, k := range f.MapKeys() {
				c.EncryptionContext[k.String()] = f.MapIndex(k).String()
			}
		}
		if service == "DynamoDB" && c.Table != "" {
			for _, name := range []string{"Key", "Item"} {
				if f := v.FieldByName(name); f.IsValid() {
					if m, ok := f.Interface().(map[string]ddbtypes.AttributeValue); ok {
						c.LeadingKeys = leadingKey(c.Table, m)
					}
				}
			}
		}
	}
	if service == "KMS" && c.Key == "" && result != nil {
		// Decrypt may leave the key to the ciphertext: the response names it.
		if r := reflect.Indirect(reflect.ValueOf(result)); r.Kind() == reflect.Struct {
			c.Key = str(r, "KeyId")
		}
	}
	return []Call{c}
}

func item(c Call, op, table string, key map[string]ddbtypes.AttributeValue) Call {
	c.Item, c.Table, c.LeadingKeys = op, table, leadingKey(table, key)
	return c
}

// leadingKey is the partition key value of an item of a table of resources.Tables (by its name's suffix).
func leadingKey(table string, key map[string]ddbtypes.AttributeValue) []string {
	for _, t := range resources.Tables {
		if len(table) < len(t.ID) || table[len(table)-len(t.ID):] != t.ID {
			continue
		}
		switch v := key[t.HashKey.Name].(type) {
		case *ddbtypes.AttributeValueMemberS:
			return []string{v.Value}
		case *ddbtypes.AttributeValueMemberN:
			return []string{v.Value}
		}
	}
	return nil
}

func str(v reflect.Value, name string) string {
	f := v.FieldByName(name)
	if !f.IsValid() {
		return ""
	}
	switch f.Kind() {
	case reflect.Pointer:
		if !f.IsNil() && f.Elem().Kind() == reflect.String {
			return f.Elem().String()
		}
	case reflect.String:
		return f.String()
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
