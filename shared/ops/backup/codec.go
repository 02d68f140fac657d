package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/bits"
	"sort"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// An export line is one item in DynamoDB JSON, wrapped as DynamoDB's own S3 export writes it:
// {"Item":{"pk":{"S":"..."},...}}. The encoding is canonical (attribute names sorted, set members
// sorted), so the same item always gives the same bytes and so the same hash, whichever scan read it.

// value is an attribute value in DynamoDB JSON. Pointers keep empty strings, binaries, maps and
// lists (all legal outside keys) distinct from absent fields.
type value struct {
	S    *string           `json:"S,omitempty"`
	N    *string           `json:"N,omitempty"`
	B    *[]byte           `json:"B,omitempty"`
	BOOL *bool             `json:"BOOL,omitempty"`
	NULL *bool             `json:"NULL,omitempty"`
	M    *map[string]value `json:"M,omitempty"`
	L    *[]value          `json:"L,omitempty"`
	SS   []string          `json:"SS,omitempty"`
	NS   []string          `json:"NS,omitempty"`
	BS   [][]byte          `json:"BS,omitempty"`
}

type line struct {
	Item map[string]value `json:"Item"`
}

// EncodeItem renders item as one canonical export line (without the newline).
func EncodeItem(item map[string]types.AttributeValue) ([]byte, error) {
	m := make(map[string]value, len(item))
	for k, av := range item {
		v, err := fromAV(av)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		m[k] = v
	}
	return json.Marshal(line{Item: m})
}

// DecodeItem parses one export line back into an item.
func DecodeItem(b []byte) (map[string]types.AttributeValue, error) {
	var l line
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("decode export line: %w", err)
	}
	if l.Item == nil {
		return nil, fmt.Errorf("decode export line: no Item")
	}
	item := make(map[string]types.AttributeValue, len(l.Item))
	for k, v := range l.Item {
		av, err := v.toAV()
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		item[k] = av
	}
	return item, nil
}

func fromAV(av types.AttributeValue) (value, error) {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return value{S: &v.Value}, nil
	case *types.AttributeValueMemberN:
		return value{N: &v.Value}, nil
	case *types.AttributeValueMemberB:
		b := v.Value
		if b == nil {
			b = []byte{}
		}
		return value{B: &b}, nil
	case *types.AttributeValueMemberBOOL:
		return value{BOOL: &v.Value}, nil
	case *types.AttributeValueMemberNULL:
		t := true
		return value{NULL: &t}, nil
	case *types.AttributeValueMemberM:
		m := make(map[string]value, len(v.Value))
		for k, e := range v.Value {
			ev, err := fromAV(e)
			if err != nil {
				return value{}, err
			}
			m[k] = ev
		}
		return value{M: &m}, nil
	case *types.AttributeValueMemberL:
		l := make([]value, 0, len(v.Value))
		for _, e := range v.Value {
			ev, err := fromAV(e)
			if err != nil {
				return value{}, err
			}
			l = append(l, ev)
		}
		return value{L: &l}, nil
	case *types.AttributeValueMemberSS:
		ss := append([]string(nil), v.Value...)
		sort.Strings(ss)
		return value{SS: ss}, nil
	case *types.AttributeValueMemberNS:
		ns := append([]string(nil), v.Value...)
		sort.Strings(ns)
		return value{NS: ns}, nil
	case *types.AttributeValueMemberBS:
		bs := append([][]byte(nil), v.Value...)
		sort.Slice(bs, func(i, j int) bool { return bytes.Compare(bs[i], bs[j]) < 0 })
		return value{BS: bs}, nil
	}
	return value{}, fmt.Errorf("unsupported attribute value type %T", av)
}

func (v value) toAV() (types.AttributeValue, error) {
	switch {
	case v.S != nil:
		return &types.AttributeValueMemberS{Value: *v.S}, nil
	case v.N != nil:
		return &types.AttributeValueMemberN{Value: *v.N}, nil
	case v.B != nil:
		return &types.AttributeValueMemberB{Value: *v.B}, nil
	case v.BOOL != nil:
		return &types.AttributeValueMemberBOOL{Value: *v.BOOL}, nil
	case v.NULL != nil:
		return &types.AttributeValueMemberNULL{Value: *v.NULL}, nil
	case v.M != nil:
		m := make(map[string]types.AttributeValue, len(*v.M))
		for k, e := range *v.M {
			av, err := e.toAV()
			if err != nil {
				return nil, err
			}
			m[k] = av
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	case v.L != nil:
		l := make([]types.AttributeValue, 0, len(*v.L))
		for _, e := range *v.L {
			av, err := e.toAV()
			if err != nil {
				return nil, err
			}
			l = append(l, av)
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	// DynamoDB has no empty sets: a line with one was not written by an export, and restoring it
	// would fail at the table (or, re-exported, lose the attribute).
	case v.SS != nil, v.NS != nil, v.BS != nil:
		if len(v.SS)+len(v.NS)+len(v.BS) == 0 {
			return nil, fmt.Errorf("empty set")
		}
		// An export writes a set's members sorted (EncodeItem), so a line's sets are strictly increasing:
		// a line with members out of order or repeated was not written by an export.
		for i := 1; i < len(v.SS); i++ {
			if v.SS[i-1] >= v.SS[i] {
				return nil, fmt.Errorf("set members out of order or repeated")
			}
		}
		for i := 1; i < len(v.NS); i++ {
			if v.NS[i-1] >= v.NS[i] {
				return nil, fmt.Errorf("set members out of order or repeated")
			}
		}
		for i := 1; i < len(v.BS); i++ {
			if bytes.Compare(v.BS[i-1], v.BS[i]) >= 0 {
				return nil, fmt.Errorf("set members out of order or repeated")
			}
		}
		switch {
		case v.SS != nil:
			return &types.AttributeValueMemberSS{Value: v.SS}, nil
		case v.NS != nil:
			return &types.AttributeValueMemberNS{Value: v.NS}, nil
		}
		return &types.AttributeValueMemberBS{Value: v.BS}, nil
	}
	return nil, fmt.Errorf("empty attribute value")
}

// Checksum is an order-independent digest of a set of items: the sum, modulo 2^256, of the SHA-256
// of each item's canonical line. Parallel scan segments can add into their own Checksum and be
// combined in any order; unlike XOR, a duplicated item changes the sum.
type Checksum [4]uint64

// Add adds one canonical line.
func (c *Checksum) Add(line []byte) {
	h := sha256.Sum256(line)
	var x Checksum
	for i := range x {
		x[i] = binary.BigEndian.Uint64(h[(3-i)*8:])
	}
	c.Merge(x)
}

// Merge adds another checksum into c.
func (c *Checksum) Merge(x Checksum) {
	var carry uint64
	for i := range c { // little-endian limbs
		c[i], carry = bits.Add64(c[i], x[i], carry)
	}
}

// String renders the checksum as 64 hex digits, most significant first.
func (c Checksum) String() string {
	var b [32]byte
	for i := range c {
		binary.BigEndian.PutUint64(b[(3-i)*8:], c[i])
	}
	return hex.EncodeToString(b[:])
}
