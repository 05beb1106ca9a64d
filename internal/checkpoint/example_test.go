package checkpoint_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
)

func Example() {
	dir, err := os.MkdirTemp("", "checkpoint-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	store, err := checkpoint.NewFile(filepath.Join(dir, "data", "checkpoint.json"))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	ctx := context.Background()
	source := checkpoint.SourceID("https://api.jelou.ai", "my-client-id")

	cp, err := store.Load(ctx, source)
	if errors.Is(err, checkpoint.ErrNotFound) {
		fmt.Println("no checkpoint yet: start from POLL_START_AT")
		cp = &checkpoint.Checkpoint{Source: source}
	} else if err != nil {
		panic(err) // corrupt, newer version, or unreadable: stop and say so
	}

	cp.Cursor = time.Date(2024, 5, 1, 13, 0, 0, 0, time.UTC)
	cp.SavedAt = time.Now()
	cp.Dedupe = []byte("snapshot")
	if err := store.Save(ctx, cp); err != nil {
		panic(err)
	}

	again, err := store.Load(ctx, source)
	if err != nil {
		panic(err)
	}
	fmt.Println(again.Cursor.Format(time.RFC3339), string(again.Dedupe))
	// Output:
	// no checkpoint yet: start from POLL_START_AT
	// 2024-05-01T13:00:00Z snapshot
}

func ExampleSourceID() {
	fmt.Println(checkpoint.SourceID("https://api.jelou.ai/", "my-client-id"))
	fmt.Println(checkpoint.SourceID("HTTPS://API.jelou.ai:443", "my-client-id"))
	// Output:
	// 5d8535d9335559d5
	// 5d8535d9335559d5
}

func ExampleCorruptError() {
	dir, err := os.MkdirTemp("", "checkpoint-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "checkpoint.json")
	if err := os.WriteFile(path, []byte("half a checkpoi"), 0o640); err != nil {
		panic(err)
	}
	store, err := checkpoint.NewFile(path)
	if err != nil {
		panic(err)
	}
	_, err = store.Load(context.Background(), "3f1c0a9be2d47765")
	var ce *checkpoint.CorruptError
	if errors.As(err, &ce) {
		fmt.Println("refusing to start:", ce.Reason)
	}
	// Output:
	// refusing to start: no header line in the first 15 bytes
}
