package service

import (
	"context"
	"fmt"
	"maps"

	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/poller"
	"github.com/jelou-producer/jelou-producer/internal/publish"
)

// stateAndWatermarks gives source c's poller configuration its state
// writer (KAFKA_STATE_TOPIC, or SOURCE_<ID>_STATE_TOPIC) and, under `run`,
// its watermark writer (KAFKA_WATERMARK_TOPIC) with the end offsets of its
// event topic, whose publisher is events. Both topics are compacted:
// created so with KAFKA_TOPIC_CREATE, and checked at start-up. A bounded
// backfill writes current states but no watermark: its checkpoint is its
// own, and what it re-reads is older than the run's watermark.
func (s *Service) stateAndWatermarks(ctx context.Context, c config.Source, events *publish.Publisher, obs poller.Observer, pubs map[string]*publish.Publisher, pcfg *poller.Config) error {
	state, err := s.compacted(ctx, c.StateTopic, "state", obs, pubs)
	if err != nil {
		return err
	}
	if state != nil {
		pcfg.State = state
	}
	if s.opts.Command != config.CommandRun {
		return nil
	}
	marks, err := s.compacted(ctx, s.cfg.Kafka.WatermarkTopic, "watermark", obs, pubs)
	if err != nil {
		return err
	}
	if marks != nil {
		pcfg.Watermarks, pcfg.EventOffsets, pcfg.EventTopic = marks, events.EndOffsets, c.Topic
	}
	return nil
}

// compacted returns the publisher of topic (nil when topic is empty),
// built by the first source that asks and shared through pubs: a topic
// KAFKA_TOPIC_CREATE creates gets cleanup.policy=compact (with
// KAFKA_TOPIC_CONFIG's other settings), and the topic must be compacted
// whoever created it.
func (s *Service) compacted(ctx context.Context, topic, what string, obs poller.Observer, pubs map[string]*publish.Publisher) (*publish.Publisher, error) {
	if topic == "" {
		return nil, nil
	}
	if pub := pubs[topic]; pub != nil {
		return pub, nil
	}
	pc := publishConfig(s.cfg, topic, obs, s.log)
	pc.TopicConfig = maps.Clone(pc.TopicConfig)
	if pc.TopicConfig == nil {
		pc.TopicConfig = map[string]string{}
	}
	pc.TopicConfig["cleanup.policy"] = "compact"
	pub, err := publish.New(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("kafka %s topic: %w", what, err)
	}
	pubs[topic] = pub
	s.pubs = append(s.pubs, pub)
	if err := pub.CheckCompacted(ctx); err != nil {
		return nil, fmt.Errorf("kafka %s topic: %w", what, err)
	}
	return pub, nil
}
