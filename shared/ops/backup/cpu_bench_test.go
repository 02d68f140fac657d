package backup_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vaultbill/vaultbill/shared/ops/backup"
)

// BenchmarkScanPageCPU measures what an export costs the function's CPU alone, with no emulator in
// the way: the SDK decodes a Scan page of 1 000 invoice-shaped items (served from memory), and each
// item becomes its canonical line, is summed into the checksum and gzipped, as a part is built. Its
// items/s per CPU is the basis of the capacity estimate in the README.
//
//	go test -run '^$' -bench ScanPageCPU -cpu 1 ./shared/ops/backup
func BenchmarkScanPageCPU(b *testing.B) {
	var page bytes.Buffer
	page.WriteString(`{"Count":1000,"ScannedCount":1000,"Items":[`)
	for i := range 1000 {
		if i > 0 {
			page.WriteByte(',')
		}
		fmt.Fprintf(&page, `{"pk":{"S":"INV#in_%032x"},"sk":{"S":"INVOICE"},"gsi1pk":{"S":"CUS#cus_%032x"},"gsi1sk":{"S":"INV#in_%032x"},`+
			`"gsi2pk":{"S":"STATUS#open"},"gsi2sk":{"S":"%010d"},"total":{"N":"%d"},"currency":{"S":"EUR"},"paid":{"BOOL":true},`+
			`"memo":{"NULL":true},"taxRates":{"NS":["0","770"]},"lines":{"L":[`+
			`{"M":{"description":{"S":"Hosting"},"quantity":{"N":"2"},"unit_amount":{"N":"999"}}},`+
			`{"M":{"description":{"S":"Support"},"quantity":{"N":"1"},"unit_amount":{"N":"1"}}}]}}`, i, i, i, i, i*1999)
	}
	page.WriteString(`]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write(page.Bytes())
	}))
	defer srv.Close()
	db := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("id", "secret", "")})
	ctx := context.Background()
	for b.Loop() {
		out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("billing")})
		if err != nil {
			b.Fatal(err)
		}
		var sum backup.Checksum
		var part bytes.Buffer
		zw := gzip.NewWriter(&part)
		for _, item := range out.Items {
			line, err := backup.EncodeItem(item)
			if err != nil {
				b.Fatal(err)
			}
			sum.Add(line)
			_, _ = zw.Write(line)
		}
		_ = zw.Close()
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "items/s")
	b.ReportMetric(float64(page.Len())/1000, "bytes/item")
}
