package config_test

import (
	"fmt"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/config"
)

func ExampleConfig_Validate() {
	cfg := config.Defaults()
	cfg.Poll.Window = 0
	cfg.Kafka.Compression = "brotli"
	fmt.Println(cfg.Validate(config.CommandCheck))
	// Output:
	// JELOU_CLIENT_ID is required for check
	// JELOU_CLIENT_SECRET is required for check
	// POLL_WINDOW must be positive, got "0s"
	// KAFKA_COMPRESSION must be one of none, gzip, snappy, lz4, zstd; got "brotli"
}

func ExampleStartAt_Resolve() {
	now := time.Date(2024, 5, 2, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"24h", "2024-05-01T08:00:00-05:00"} {
		var s config.StartAt
		if err := s.Decode(v); err != nil {
			panic(err)
		}
		fmt.Println(s.Resolve(now).UTC().Format(time.RFC3339))
	}
	// Output:
	// 2024-05-01T12:00:00Z
	// 2024-05-01T13:00:00Z
}

func ExampleMarkdownTable() {
	vars := config.Variables()
	fmt.Print(config.MarkdownTable(vars[:2]))
	// Output:
	// | Variable | Type | Default | Required for | Description |
	// |---|---|---|---|---|
	// | `JELOU_BASE_URL` | string | `https://api.jelou.ai` |  | Jelou API base URL (http or https) |
	// | `JELOU_CLIENT_ID` | string |  | run/backfill/check | Jelou API client id |
}
