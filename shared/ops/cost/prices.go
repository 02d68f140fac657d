// Package cost prices what a request or a scheduled job uses (API Gateway and WAF requests, Lambda
// invocations and duration, DynamoDB capacity units, KMS and S3 requests, CloudWatch Logs bytes)
// from a dated table of AWS on-demand prices.
package cost

// Picodollars is an amount of US dollars in units of 10⁻¹² $: a DynamoDB read unit costs 125 000 of
// them, so per-request prices stay whole numbers (int64 holds up to $9.2 million).
type Picodollars int64

// Dollars is p in dollars, for printing only.
func (p Picodollars) Dollars() float64 { return float64(p) / 1e12 }

// Prices is one region's on-demand prices, per unit, as published on Date.
type Prices struct {
	Region string
	// Date is when the prices were read from Sources.
	Date    string
	Sources []string

	APIGatewayRequest Picodollars // REST API, first 333 million requests a month
	WAFRequest        Picodollars // web ACL requests inspected (the ACL and rules are monthly, not per request)
	LambdaRequest     Picodollars
	LambdaGBSecond    Picodollars // arm64
	DynamoDBWriteUnit Picodollars // on-demand write request unit
	DynamoDBReadUnit  Picodollars // on-demand read request unit
	KMSRequest        Picodollars // symmetric and RSA 2048 requests
	S3WriteRequest    Picodollars // S3 Standard PUT, COPY, POST, LIST
	S3ReadRequest     Picodollars // S3 Standard GET and all other requests
	LogsIngestedByte  Picodollars // CloudWatch Logs standard ingestion, per byte ($0.50 per GiB)
}

// USEast1 is the price table the cost report uses: us-east-1, on demand, November 2026.
var USEast1 = Prices{
	Region: "us-east-1",
	Date:   "2026-11-29",
	Sources: []string{
		"https://aws.amazon.com/api-gateway/pricing/",
		"https://aws.amazon.com/waf/pricing/",
		"https://aws.amazon.com/lambda/pricing/",
		"https://aws.amazon.com/dynamodb/pricing/on-demand/",
		"https://aws.amazon.com/kms/pricing/",
		"https://aws.amazon.com/s3/pricing/",
		"https://aws.amazon.com/cloudwatch/pricing/",
	},
	APIGatewayRequest: 3_500_000,  // $3.50 per million
	WAFRequest:        600_000,    // $0.60 per million
	LambdaRequest:     200_000,    // $0.20 per million
	LambdaGBSecond:    13_333_400, // $0.0000133334 per GB-second (arm64)
	DynamoDBWriteUnit: 625_000,    // $0.625 per million write request units
	DynamoDBReadUnit:  125_000,    // $0.125 per million read request units
	KMSRequest:        3_000_000,  // $0.03 per 10,000
	S3WriteRequest:    5_000_000,  // $0.005 per 1,000
	S3ReadRequest:     400_000,    // $0.0004 per 1,000
	LogsIngestedByte:  466,        // $0.50 per GiB = 465.7 p$ per byte
}
