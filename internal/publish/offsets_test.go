package publish

import (
	"strings"
	"testing"

	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
)

func TestEndOffsetsAreAfterEveryAcknowledgedRecord(t *testing.T) {
	topic := kafkatest.Topic(t, 3, nil)
	p := newPublisher(t, Config{Topic: topic})
	if err := p.Publish(testCtx(t), sampleRecords(40)); err != nil {
		t.Fatal(err)
	}
	offsets, err := p.EndOffsets(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(offsets) != 3 {
		t.Fatalf("%d partitions, want 3: %v", len(offsets), offsets)
	}
	end := map[int]int64{}
	var total int64
	for i, o := range offsets {
		if o.Partition != i {
			t.Fatalf("offsets %v not by partition", offsets)
		}
		end[o.Partition] = o.Offset
		total += o.Offset
	}
	for _, r := range readAll(t, topic) {
		if r.Offset >= end[r.Partition] {
			t.Errorf("record at %d/%d is not below the end offset %d", r.Partition, r.Offset, end[r.Partition])
		}
	}
	if total != 40 {
		t.Errorf("end offsets sum to %d, want the 40 records written", total)
	}
}

func TestCheckCompacted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config map[string]string
		create bool
		ok     bool
	}{
		{"compact", map[string]string{"cleanup.policy": "compact"}, false, true},
		{"compact,delete", map[string]string{"cleanup.policy": "compact,delete"}, false, true},
		{"delete", map[string]string{"cleanup.policy": "delete"}, false, false},
		{"default", nil, false, false},
		{"created compacted", nil, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{}
			if tc.create {
				cfg.Topic, cfg.TopicCreate, cfg.TopicConfig = kafkatest.TopicName(t), true, map[string]string{"cleanup.policy": "compact"}
			} else {
				cfg.Topic = kafkatest.Topic(t, 1, tc.config)
			}
			err := newPublisher(t, cfg).CheckCompacted(testCtx(t))
			switch {
			case tc.ok && err != nil:
				t.Errorf("CheckCompacted: %v", err)
			case !tc.ok && (err == nil || !strings.Contains(err.Error(), "want compact")):
				t.Errorf("CheckCompacted = %v, want a cleanup.policy error", err)
			}
		})
	}
}
