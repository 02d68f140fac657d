package cost

// Usage is what one request (or one run of a job) uses, in the units AWS bills.
type Usage struct {
	APIRequests int64
	WAFRequests int64
	// LambdaInvocations counts the authorizer's and the handler's invocations.
	LambdaInvocations int64
	// LambdaMBms is the billed duration of those invocations times their memory: milliseconds, each
	// invocation rounded up to a whole millisecond, times the function's MB.
	LambdaMBms int64
	// DynamoDBWriteUnits are write request units: one per KB written (rounded up per item and per
	// index the item is in), twice that inside a transaction.
	DynamoDBWriteUnits int64
	// DynamoDBReadHalfUnits are read request units in halves: one half per 4 KB read eventually
	// consistent, two halves strongly consistent, four in a transaction.
	DynamoDBReadHalfUnits int64
	KMSRequests           int64
	S3WriteRequests       int64
	S3ReadRequests        int64
	LogBytes              int64
}

// Add returns u plus v.
func (u Usage) Add(v Usage) Usage {
	return Usage{
		APIRequests: u.APIRequests + v.APIRequests, WAFRequests: u.WAFRequests + v.WAFRequests,
		LambdaInvocations: u.LambdaInvocations + v.LambdaInvocations, LambdaMBms: u.LambdaMBms + v.LambdaMBms,
		DynamoDBWriteUnits: u.DynamoDBWriteUnits + v.DynamoDBWriteUnits, DynamoDBReadHalfUnits: u.DynamoDBReadHalfUnits + v.DynamoDBReadHalfUnits,
		KMSRequests: u.KMSRequests + v.KMSRequests, S3WriteRequests: u.S3WriteRequests + v.S3WriteRequests,
		S3ReadRequests: u.S3ReadRequests + v.S3ReadRequests, LogBytes: u.LogBytes + v.LogBytes,
	}
}

// Breakdown is the cost of a Usage by service.
type Breakdown struct {
	APIGateway, WAF, Lambda, DynamoDB, KMS, S3, CloudWatch Picodollars
}

// Total is the sum of every service's cost.
func (b Breakdown) Total() Picodollars {
	return b.APIGateway + b.WAF + b.Lambda + b.DynamoDB + b.KMS + b.S3 + b.CloudWatch
}

// Times is b for n of the same request or run.
func (b Breakdown) Times(n int64) Breakdown {
	return Breakdown{b.APIGateway * Picodollars(n), b.WAF * Picodollars(n), b.Lambda * Picodollars(n), b.DynamoDB * Picodollars(n),
		b.KMS * Picodollars(n), b.S3 * Picodollars(n), b.CloudWatch * Picodollars(n)}
}

// mbPerGB and msPerSecond convert MB-milliseconds to the GB-seconds Lambda bills (1 GB = 1024 MB).
const (
	mbPerGB     = 1024
	msPerSecond = 1000
)

// Cost prices u.
func (p Prices) Cost(u Usage) Breakdown {
	n := func(count int64, price Picodollars) Picodollars { return Picodollars(count) * price }
	return Breakdown{
		APIGateway: n(u.APIRequests, p.APIGatewayRequest),
		WAF:        n(u.WAFRequests, p.WAFRequest),
		Lambda:     n(u.LambdaInvocations, p.LambdaRequest) + Picodollars(u.LambdaMBms)*p.LambdaGBSecond/(mbPerGB*msPerSecond),
		DynamoDB:   n(u.DynamoDBWriteUnits, p.DynamoDBWriteUnit) + Picodollars(u.DynamoDBReadHalfUnits)*p.DynamoDBReadUnit/2,
		KMS:        n(u.KMSRequests, p.KMSRequest),
		S3:         n(u.S3WriteRequests, p.S3WriteRequest) + n(u.S3ReadRequests, p.S3ReadRequest),
		CloudWatch: n(u.LogBytes, p.LogsIngestedByte),
	}
}

// BilledMs is Lambda's billed duration of an invocation that ran for ns nanoseconds: rounded up to
// the next millisecond.
func BilledMs(ns int64) int64 {
	const msNs = 1_000_000
	return (ns + msNs - 1) / msNs
}
