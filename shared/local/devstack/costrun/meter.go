package costrun

import (
	"context"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// Units sizes, per DynamoDB's capacity rules.
const (
	writeUnitBytes = 1024
	readUnitBytes  = 4096
)

// capacity meters the DynamoDB capacity units a client's calls consume. moto answers
// ReturnConsumedCapacity with a constant (1 unit per call), so the units are computed here, by
// DynamoDB's rules, from the sizes of the items each call reads and writes: a write costs the larger
// of the item's sizes before and after, in 1 KB units, once for the table and once for each index the
// item is in; a read costs the items' sizes in 4 KB units, halved when eventually consistent;
// transactions cost twice. The item's size before (and after, for an update) is read with a client
// that is not metered.
type capacity struct {
	raw *dynamodb.Client

	mu      sync.Mutex
	writes  int64
	halves  int64
	schemas map[string]tableSchema
}

type tableSchema struct {
	keys    []string
	indexes [][]string
}

// instrument returns cfg with the meter's middleware on every DynamoDB call.
func (c *capacity) instrument(cfg aws.Config) aws.Config {
	cfg = cfg.Copy()
	cfg.APIOptions = append(append([]func(*middleware.Stack) error(nil), cfg.APIOptions...), func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("meterCapacity",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if awsmiddleware.GetServiceID(ctx) != "DynamoDB" {
					return next.HandleInitialize(ctx, in)
				}
				before := c.before(ctx, in.Parameters)
				out, md, err := next.HandleInitialize(ctx, in)
				c.account(ctx, in.Parameters, out.Result, before)
				return out, md, err
			}), middleware.After)
	})
	return cfg
}

// take returns the units consumed since the last take.
func (c *capacity) take() (writes, readHalves int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	writes, readHalves = c.writes, c.halves
	c.writes, c.halves = 0, 0
	return writes, readHalves
}

func (c *capacity) add(writes, halves int64) {
	c.mu.Lock()
	c.writes += writes
	c.halves += halves
	c.mu.Unlock()
}

// written is one item a write touches: its table and key, and the item once written (nil for a
// delete, a condition check, or an update, which is read after the call).
type written struct {
	table string
	key   map[string]types.AttributeValue
	after map[string]types.AttributeValue
	// check is a transaction's condition check, which reads the item and writes nothing.
	check bool
}

// before reads, unmetered, each item a write will change.
func (c *capacity) before(ctx context.Context, params any) []map[string]types.AttributeValue {
	var out []map[string]types.AttributeValue
	for _, w := range c.writesOf(ctx, params) {
		out = append(out, c.get(ctx, w.table, w.key))
	}
	return out
}

func (c *capacity) account(ctx context.Context, params, result any, before []map[string]types.AttributeValue) {
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		if o, ok := result.(*dynamodb.GetItemOutput); ok {
			c.add(0, readHalves(itemsSize(o.Item), aws.ToBool(in.ConsistentRead), 1))
		}
	case *dynamodb.QueryInput:
		if o, ok := result.(*dynamodb.QueryOutput); ok {
			c.add(0, readHalves(itemsSize(o.Items...), aws.ToBool(in.ConsistentRead), 1))
		}
	case *dynamodb.ScanInput:
		if o, ok := result.(*dynamodb.ScanOutput); ok {
			c.add(0, readHalves(itemsSize(o.Items...), aws.ToBool(in.ConsistentRead), 1))
		}
	case *dynamodb.BatchGetItemInput:
		if o, ok := result.(*dynamodb.BatchGetItemOutput); ok {
			for table, items := range o.Responses {
				for _, it := range items {
					c.add(0, readHalves(itemsSize(it), aws.ToBool(in.RequestItems[table].ConsistentRead), 1))
				}
			}
		}
	case *dynamodb.TransactGetItemsInput:
		if o, ok := result.(*dynamodb.TransactGetItemsOutput); ok {
			for _, r := range o.Responses {
				c.add(0, readHalves(itemsSize(r.Item), true, 2))
			}
		}
	}
	ws := c.writesOf(ctx, params)
	factor := int64(1)
	if _, ok := params.(*dynamodb.TransactWriteItemsInput); ok {
		factor = 2
	}
	for i, w := range ws {
		after := w.after
		if after == nil && isUpdate(params, i) {
			after = c.get(ctx, w.table, w.key)
		}
		var prior map[string]types.AttributeValue
		if i < len(before) {
			prior = before[i]
		}
		size := max(itemsSize(prior), itemsSize(after))
		units := writeUnits(size)
		// Each index the item is in (before or after) is written too, at the item's size (the
		// tables' indexes project all attributes); a condition check writes no index.
		for _, ix := range c.schema(ctx, w.table).indexes {
			if !w.check && (hasAll(after, ix) || hasAll(prior, ix)) {
				units += writeUnits(size)
			}
		}
		c.add(units*factor, 0)
	}
}

// isUpdate reports whether the i-th item params writes is an update, whose result is read afterwards.
func isUpdate(params any, i int) bool {
	switch in := params.(type) {
	case *dynamodb.UpdateItemInput:
		return true
	case *dynamodb.TransactWriteItemsInput:
		return i < len(in.TransactItems) && in.TransactItems[i].Update != nil
	}
	return false
}

// writesOf lists the items a write call touches; after is nil for updates (read after the call) and
// for deletes and condition checks (nothing is left, or nothing changes).
func (c *capacity) writesOf(ctx context.Context, params any) []written {
	keyOf := func(table string, item map[string]types.AttributeValue) map[string]types.AttributeValue {
		k := map[string]types.AttributeValue{}
		for _, name := range c.schema(ctx, table).keys {
			k[name] = item[name]
		}
		return k
	}
	switch in := params.(type) {
	case *dynamodb.PutItemInput:
		t := aws.ToString(in.TableName)
		return []written{{table: t, key: keyOf(t, in.Item), after: in.Item}}
	case *dynamodb.UpdateItemInput:
		return []written{{table: aws.ToString(in.TableName), key: in.Key}}
	case *dynamodb.DeleteItemInput:
		return []written{{table: aws.ToString(in.TableName), key: in.Key}}
	case *dynamodb.BatchWriteItemInput:
		var out []written
		for t, reqs := range in.RequestItems {
			for _, r := range reqs {
				if r.PutRequest != nil {
					out = append(out, written{table: t, key: keyOf(t, r.PutRequest.Item), after: r.PutRequest.Item})
				} else if r.DeleteRequest != nil {
					out = append(out, written{table: t, key: r.DeleteRequest.Key})
				}
			}
		}
		return out
	case *dynamodb.TransactWriteItemsInput:
		var out []written
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				t := aws.ToString(it.Put.TableName)
				out = append(out, written{table: t, key: keyOf(t, it.Put.Item), after: it.Put.Item})
			case it.Update != nil:
				out = append(out, written{table: aws.ToString(it.Update.TableName), key: it.Update.Key})
			case it.Delete != nil:
				out = append(out, written{table: aws.ToString(it.Delete.TableName), key: it.Delete.Key})
			case it.ConditionCheck != nil:
				out = append(out, written{table: aws.ToString(it.ConditionCheck.TableName), key: it.ConditionCheck.Key, check: true})
			}
		}
		return out
	}
	return nil
}

func (c *capacity) get(ctx context.Context, table string, key map[string]types.AttributeValue) map[string]types.AttributeValue {
	out, err := c.raw.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil
	}
	return out.Item
}

func (c *capacity) schema(ctx context.Context, table string) tableSchema {
	c.mu.Lock()
	s, ok := c.schemas[table]
	c.mu.Unlock()
	if ok {
		return s
	}
	out, err := c.raw.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil {
		return tableSchema{}
	}
	names := func(ks []types.KeySchemaElement) []string {
		var n []string
		for _, k := range ks {
			n = append(n, aws.ToString(k.AttributeName))
		}
		return n
	}
	s.keys = names(out.Table.KeySchema)
	for _, ix := range out.Table.GlobalSecondaryIndexes {
		s.indexes = append(s.indexes, names(ix.KeySchema))
	}
	for _, ix := range out.Table.LocalSecondaryIndexes {
		s.indexes = append(s.indexes, names(ix.KeySchema))
	}
	c.mu.Lock()
	if c.schemas == nil {
		c.schemas = map[string]tableSchema{}
	}
	c.schemas[table] = s
	c.mu.Unlock()
	return s
}

func hasAll(item map[string]types.AttributeValue, names []string) bool {
	if item == nil {
		return false
	}
	for _, n := range names {
		if _, ok := item[n]; !ok {
			return false
		}
	}
	return true
}

// writeUnits is the write units of an item of size bytes: 1 per KB, at least 1 (a delete of a missing
// item or a failed condition still costs one).
func writeUnits(size int64) int64 { return max(1, (size+writeUnitBytes-1)/writeUnitBytes) }

// readHalves is the read units, in halves, of reading size bytes: one half per 4 KB eventually
// consistent, two strongly consistent, times factor (2 for transactions); at least one unit's worth.
func readHalves(size int64, consistent bool, factor int64) int64 {
	units := max(1, (size+readUnitBytes-1)/readUnitBytes)
	if consistent {
		units *= 2
	}
	return units * factor
}

// itemsSize is the DynamoDB size of items: attribute names plus values.
func itemsSize(items ...map[string]types.AttributeValue) int64 {
	var n int64
	for _, it := range items {
		for name, v := range it {
			n += int64(len(name)) + valueSize(v)
		}
	}
	return n
}

// valueSize follows DynamoDB's item size rules: strings and binaries by length, numbers about one
// byte per two digits plus one, booleans and nulls one byte, lists and maps 3 bytes plus one per
// element plus their elements (and a map's names).
func valueSize(v types.AttributeValue) int64 {
	num := func(s string) int64 {
		d := strings.TrimLeft(strings.Trim(s, "-+"), "0")
		d = strings.ReplaceAll(d, ".", "")
		return int64(len(d)+1)/2 + 1
	}
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return int64(len(v.Value))
	case *types.AttributeValueMemberN:
		return num(v.Value)
	case *types.AttributeValueMemberB:
		return int64(len(v.Value))
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		var n int64
		for _, s := range v.Value {
			n += int64(len(s))
		}
		return n
	case *types.AttributeValueMemberNS:
		var n int64
		for _, s := range v.Value {
			n += num(s)
		}
		return n
	case *types.AttributeValueMemberBS:
		var n int64
		for _, b := range v.Value {
			n += int64(len(b))
		}
		return n
	case *types.AttributeValueMemberL:
		n := int64(3)
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := int64(3)
		for k, e := range v.Value {
			n += 1 + int64(len(k)) + valueSize(e)
		}
		return n
	}
	return 0
}
