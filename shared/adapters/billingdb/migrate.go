package billingdb

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// # Migrating customers stored before per-customer keys
//
// Before per-customer keys a customer item held its name, email, address and tax id as plain
// attributes, and the customer had no key item. Migrating it writes, in one transaction, a new key
// item for the customer and the customer item with its personal data sealed under that key, on
// condition that the key does not exist yet, that the item still has the version that was read and
// that it is still unsealed: a concurrent change or a second run of the migration changes nothing.

// CustomerFilter selects the customer items of the billing table in a Scan (with CustomerFilterNames
// and CustomerFilterValues); add "AND attribute_not_exists(personal)" for the unsealed ones.
const CustomerFilter = "begins_with(#pk, :cuspk) AND #sk = :cussk"

// CustomerFilterNames are the attribute names of CustomerFilter.
var CustomerFilterNames = map[string]string{"#pk": resources.PK, "#sk": resources.SK}

// CustomerFilterValues are the values of CustomerFilter.
var CustomerFilterValues = map[string]types.AttributeValue{":cuspk": s(customerPK), ":cussk": s(customerSK)}

// AttrPersonal is the attribute of a customer item that holds its sealed personal data.
const AttrPersonal = attrPersonal

// MigrationItems are the writes that move a customer item still holding its personal data in clear
// (IsPlaintextCustomer) under a key of its own: the put of a new key item (item 0, unless keyExists:
// then the customer's existing key seals it) and the put of the sealed customer item (last). It
// returns no writes for an erased customer, which has no personal data and must get no key. It costs
// one KMS GenerateDataKey (keyExists: a Decrypt on a cache miss). It returns the customer id too.
func (st *Store) MigrationItems(ctx context.Context, item map[string]types.AttributeValue, keyExists bool) ([]types.TransactWriteItem, string, error) {
	c, err := decodeCustomer(item)
	if err != nil {
		return nil, "", err
	}
	if c.Erased || !IsPlaintextCustomer(item) {
		return nil, c.ID, nil
	}
	var writes []types.TransactWriteItem
	var sealed map[string]types.AttributeValue
	if keyExists {
		if sealed, err = st.SealedCustomerItem(ctx, c); err != nil {
			return nil, c.ID, err
		}
	} else {
		keys, err := st.keys()
		if err != nil {
			return nil, c.ID, err
		}
		key, keyItem, err := keys.Create(ctx, c.ID)
		if err != nil {
			return nil, c.ID, err
		}
		if sealed, err = sealCustomer(c, key); err != nil {
			return nil, c.ID, err
		}
		writes = append(writes, keyItem)
	}
	writes = append(writes, types.TransactWriteItem{Put: &types.Put{
		TableName: &st.Table, Item: sealed,
		ConditionExpression:       strp("#v = :v AND attribute_not_exists(#personal)"),
		ExpressionAttributeNames:  map[string]string{"#v": attrVersion, "#personal": attrPersonal},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": n(c.Version)},
	}})
	return writes, c.ID, nil
}
