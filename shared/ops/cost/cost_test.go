package cost

import "testing"

// TestCostPricesEachUnit: each unit a request uses is priced at the table's rate, Lambda by
// GB-seconds of its memory, DynamoDB reads in half units.
func TestCostPricesEachUnit(t *testing.T) {
	p := Prices{APIGatewayRequest: 3_500_000, WAFRequest: 600_000, LambdaRequest: 200_000, LambdaGBSecond: 13_333_400,
		DynamoDBWriteUnit: 625_000, DynamoDBReadUnit: 125_000, KMSRequest: 3_000_000, S3WriteRequest: 5_000_000,
		S3ReadRequest: 400_000, LogsIngestedByte: 466}
	u := Usage{APIRequests: 1, WAFRequests: 1, LambdaInvocations: 2,
		// 100 ms at 512 MB and 10 ms at 256 MB: 0.05 + 0.0025 GB-s.
		LambdaMBms:         100*512 + 10*256,
		DynamoDBWriteUnits: 3, DynamoDBReadHalfUnits: 3, KMSRequests: 1, S3WriteRequests: 1, S3ReadRequests: 2, LogBytes: 1000}
	got := p.Cost(u)
	want := Breakdown{
		APIGateway: 3_500_000, WAF: 600_000,
		Lambda:   2*200_000 + 13_333_400*(100*512+10*256)/(1024*1000),
		DynamoDB: 3*625_000 + 3*125_000/2, KMS: 3_000_000, S3: 5_000_000 + 2*400_000, CloudWatch: 466_000,
	}
	if got != want {
		t.Errorf("Cost = %+v\nwant   %+v", got, want)
	}
	if got.Total() != 3_500_000+600_000+want.Lambda+want.DynamoDB+3_000_000+5_800_000+466_000 {
		t.Errorf("Total = %d", got.Total())
	}
	// A million such requests, in dollars: $3.50 of API Gateway, as the price page says.
	if d := got.Times(1_000_000).APIGateway.Dollars(); d != 3.5 {
		t.Errorf("a million API requests cost $%v, want $3.50", d)
	}
}

// TestUSEast1MatchesThePublishedRates pins the table to the published per-unit prices, so a change
// to it is deliberate.
func TestUSEast1MatchesThePublishedRates(t *testing.T) {
	perMillion := func(p Picodollars) float64 { return (p * 1_000_000).Dollars() }
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"API Gateway REST requests", perMillion(USEast1.APIGatewayRequest), 3.50},
		{"WAF requests", perMillion(USEast1.WAFRequest), 0.60},
		{"Lambda requests", perMillion(USEast1.LambdaRequest), 0.20},
		{"DynamoDB write request units", perMillion(USEast1.DynamoDBWriteUnit), 0.625},
		{"DynamoDB read request units", perMillion(USEast1.DynamoDBReadUnit), 0.125},
		{"KMS requests", perMillion(USEast1.KMSRequest), 3.00},
		{"S3 PUT/LIST requests", perMillion(USEast1.S3WriteRequest), 5.00},
		{"S3 GET requests", perMillion(USEast1.S3ReadRequest), 0.40},
		{"Lambda arm64 GB-second", USEast1.LambdaGBSecond.Dollars(), 0.0000133334},
	} {
		if c.got != c.want {
			t.Errorf("%s: $%v, want $%v", c.name, c.got, c.want)
		}
	}
	if USEast1.Date == "" || len(USEast1.Sources) == 0 {
		t.Error("the price table has no date or sources")
	}
}

func TestBilledMsRoundsUp(t *testing.T) {
	for ns, want := range map[int64]int64{0: 0, 1: 1, 999_999: 1, 1_000_000: 1, 1_000_001: 2, 42_300_000: 43} {
		if got := BilledMs(ns); got != want {
			t.Errorf("BilledMs(%d) = %d, want %d", ns, got, want)
		}
	}
}
