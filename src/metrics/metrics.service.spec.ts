import { describe, expect, it } from '@jest/globals';
import { DECISION_OUTCOMES, MetricsService } from './metrics.service.js';

describe('MetricsService', () => {
  it('exports every decision outcome at zero before any decision', async () => {
    const text = await new MetricsService().metrics();
    for (const outcome of DECISION_OUTCOMES) {
      expect(text).toContain(`gateway_confirmation_decision_seconds_count{outcome="${outcome}"} 0`);
    }
  });

  it('records time to decision in the histogram by outcome', async () => {
    const metrics = new MetricsService();
    metrics.observeDecision('confirmed', 3);
    metrics.observeDecision('confirmed', 45);
    metrics.observeDecision('timed_out', 300);
    const text = await metrics.metrics();
    expect(text).toContain('gateway_confirmation_decision_seconds_bucket{le="5",outcome="confirmed"} 1');
    expect(text).toContain('gateway_confirmation_decision_seconds_bucket{le="60",outcome="confirmed"} 2');
    expect(text).toContain('gateway_confirmation_decision_seconds_sum{outcome="confirmed"} 48');
    expect(text).toContain('gateway_confirmation_decision_seconds_count{outcome="confirmed"} 2');
    expect(text).toContain('gateway_confirmation_decision_seconds_bucket{le="300",outcome="timed_out"} 1');
    expect(text).toContain('gateway_confirmation_decision_seconds_count{outcome="rejected"} 0');
  });

  it('runs scrape hooks before collecting, once per scrape', async () => {
    const metrics = new MetricsService();
    let scrapes = 0;
    metrics.onScrape(() => scrapes++);
    await metrics.metrics();
    await metrics.metrics();
    expect(scrapes).toBe(2);
  });

  it('exports the event-loop lag among the default Node metrics', async () => {
    expect(await new MetricsService().metrics()).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
  });
});
