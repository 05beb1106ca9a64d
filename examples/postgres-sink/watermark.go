package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// WatermarkType is the CloudEvents type of a completeness watermark, version
// 1 (schemas/jelou.conversation.attended.watermark.v1.json).
const WatermarkType = "ai.jelou.conversation.attended.watermark.v1"

// maxWatermarkPartitions bounds the offsets one watermark may list.
const maxWatermarkPartitions = 10000

// ErrNotWatermark is returned by [DecodeWatermark] for a record that is a
// CloudEvent of another type (or another major version): skip it.
var ErrNotWatermark = errors.New("not a completeness watermark of version 1")

// Watermark is one completeness watermark of a Jelou source: every
// conversation of Source that started before CompleteBefore has been
// published to Topic, and a consumer whose position on every partition of
// Topic is at or past Offsets[partition] has read those events.
type Watermark struct {
	// ID is the CloudEvent id, deterministic in (source, completeBefore).
	ID string
	// Source is the CloudEvent source, as on the conversation events.
	Source string
	// Subject is the source id (the record's key).
	Subject string
	// Time is when the producer wrote the watermark.
	Time time.Time
	// CompleteBefore is data.completeBefore, in UTC.
	CompleteBefore time.Time
	// Topic is data.topic, the event topic.
	Topic string
	// Offsets are data.offsets: end offset by partition of Topic.
	Offsets map[int]int64
}

type wireWatermark struct {
	SpecVersion string `json:"specversion"`
	ID          string `json:"id"`
	Source      string `json:"source"`
	Type        string `json:"type"`
	Subject     string `json:"subject"`
	Time        string `json:"time"`
	Data        *struct {
		CompleteBefore string `json:"completeBefore"`
		Topic          string `json:"topic"`
		Offsets        []struct {
			Partition *int64 `json:"partition"`
			Offset    *int64 `json:"offset"`
		} `json:"offsets"`
	} `json:"data"`
}

// DecodeWatermark reads a watermark record's value: a structured-mode
// CloudEvent of type [WatermarkType]. Members it does not know are ignored.
// A CloudEvent of another type returns an error wrapping [ErrNotWatermark];
// anything else malformed returns an error saying which member is at fault.
func DecodeWatermark(value []byte) (Watermark, error) {
	var w wireWatermark
	if err := json.Unmarshal(value, &w); err != nil {
		return Watermark{}, fmt.Errorf("decode watermark: %w", err)
	}
	if w.SpecVersion != "1.0" {
		return Watermark{}, fmt.Errorf("decode watermark: specversion %q, want 1.0", w.SpecVersion)
	}
	if w.Type != WatermarkType {
		return Watermark{}, fmt.Errorf("decode watermark: type %q: %w", w.Type, ErrNotWatermark)
	}
	switch {
	case w.ID == "":
		return Watermark{}, errors.New("decode watermark: no id")
	case w.Source == "":
		return Watermark{}, errors.New("decode watermark: no source")
	case w.Data == nil:
		return Watermark{}, errors.New("decode watermark: no data")
	case w.Data.Topic == "":
		return Watermark{}, errors.New("decode watermark: no data.topic")
	case len(w.Data.Offsets) > maxWatermarkPartitions:
		return Watermark{}, fmt.Errorf("decode watermark: %d offsets, at most %d", len(w.Data.Offsets), maxWatermarkPartitions)
	}
	out := Watermark{ID: w.ID, Source: w.Source, Subject: w.Subject, Topic: w.Data.Topic, Offsets: make(map[int]int64, len(w.Data.Offsets))}
	var err error
	if w.Time != "" {
		if out.Time, err = time.Parse(time.RFC3339Nano, w.Time); err != nil {
			return Watermark{}, fmt.Errorf("decode watermark: time: %w", err)
		}
	}
	if out.CompleteBefore, err = time.Parse(time.RFC3339Nano, w.Data.CompleteBefore); err != nil {
		return Watermark{}, fmt.Errorf("decode watermark: data.completeBefore: %w", err)
	}
	out.CompleteBefore = out.CompleteBefore.UTC()
	for i, o := range w.Data.Offsets {
		switch {
		case o.Partition == nil || o.Offset == nil:
			return Watermark{}, fmt.Errorf("decode watermark: data.offsets[%d] lacks partition or offset", i)
		case *o.Partition < 0 || *o.Partition > 1<<31-1 || *o.Offset < 0:
			return Watermark{}, fmt.Errorf("decode watermark: data.offsets[%d]: partition %d offset %d out of range", i, *o.Partition, *o.Offset)
		}
		p := int(*o.Partition)
		if _, dup := out.Offsets[p]; dup {
			return Watermark{}, fmt.Errorf("decode watermark: data.offsets lists partition %d twice", p)
		}
		out.Offsets[p] = *o.Offset
	}
	return out, nil
}
