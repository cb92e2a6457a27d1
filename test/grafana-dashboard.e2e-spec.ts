import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { startTestApp, TestApp } from './support/test-app.js';

/** Every PromQL expression of deploy/grafana/confirmation-gateway.json names a metric the service exports. */
const DASHBOARD = JSON.parse(readFileSync('deploy/grafana/confirmation-gateway.json', 'utf8'));

/** PromQL words that are not metric names: functions, aggregations, keywords. */
const PROMQL_WORDS = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset',
  'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'histogram_quantile', 'clamp_min', 'clamp_max', 'abs',
  'avg_over_time', 'max_over_time', 'min_over_time', 'sum_over_time', 'label_values', 'vector', 'scalar', 'time',
]);

interface Expression {
  where: string;
  expr: string;
}

function expressions(): Expression[] {
  const found: Expression[] = [];
  const visit = (panels: any[]) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) found.push({ where: `panel "${panel.title}" ${target.refId}`, expr: target.expr });
      visit(panel.panels ?? []);
    }
  };
  visit(DASHBOARD.panels);
  for (const variable of DASHBOARD.templating.list) {
    const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
    if (variable.type === 'query') found.push({ where: `variable $${variable.name}`, expr: query });
  }
  return found;
}

/** The metric names an expression reads: label matchers, ranges, groupings and strings removed. */
function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    // label_values(metric, label): the label is not a metric
    .replace(/(label_values\s*\([^,]*),[^)]*\)/g, '$1)');
  const words = stripped.match(/[A-Za-z_:][A-Za-z0-9_:]*/g) ?? [];
  return [...new Set(words.filter((word) => !PROMQL_WORDS.has(word)))];
}

/** Names a scrape offers: every `# TYPE` family, with the series suffixes of histograms and summaries. */
function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

describe('Grafana dashboard (deploy/grafana/confirmation-gateway.json)', () => {
  let t: TestApp;
  let exported: Set<string>;
  beforeAll(async () => {
    t = await startTestApp();
    const scrape = await fetch(`${t.baseUrl}/metrics`);
    expect(scrape.status).toBe(200);
    exported = exportedNames(await scrape.text());
  });
  afterAll(() => t.close());

  it('reads metric names the way PromQL writes them', () => {
    expect(metricNamesIn('histogram_quantile(0.9, sum by (le) (rate(a_bucket{x=~"y|z", job="$job"}[$__rate_interval])))')).toEqual(['a_bucket']);
    expect(metricNamesIn('sum by (outcome) (rate(b_sum[5m])) / sum without (instance) (rate(b_count[5m]))')).toEqual(['b_sum', 'b_count']);
    expect(metricNamesIn('label_values(c{job=~"$job"}, instance)')).toEqual(['c']);
  });

  it('names, in every expression, only metrics the running service exports', () => {
    const all = expressions();
    expect(all.length).toBeGreaterThan(10);
    const unknown: string[] = [];
    for (const { where, expr } of all) {
      const names = metricNamesIn(expr);
      if (names.length === 0) unknown.push(`${where}: no metric in ${expr}`);
      for (const name of names) if (!exported.has(name)) unknown.push(`${where}: ${name}`);
    }
    expect(unknown).toEqual([]);
  });

  it('shows what operators asked for', () => {
    const used = new Set(expressions().flatMap(({ expr }) => metricNamesIn(expr)));
    for (const name of [
      'gateway_active_connections',
      'gateway_pending_confirmations',
      'gateway_confirmations_total',
      'gateway_confirmation_decision_seconds_bucket',
      'gateway_messages_sent_total',
      'gateway_messages_failed_total',
      'gateway_connections_refused_total',
      'gateway_error_frames_total',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      expect([name, used.has(name)]).toEqual([name, true]);
    }
  });

  it('uses one Prometheus data source variable and unique panel ids', () => {
    const ids = DASHBOARD.panels.map((p: { id: number }) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { expr } of expressions()) expect(typeof expr).toBe('string');
    const sources = new Set(DASHBOARD.panels.filter((p: any) => p.type !== 'row').map((p: any) => p.datasource.uid));
    expect([...sources]).toEqual(['${datasource}']);
  });
});
