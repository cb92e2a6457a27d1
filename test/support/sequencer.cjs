/**
 * Longest files first, so no worker is left running a long file alone at the end of the
 * run. Jest does this by itself only from the timings of a previous run on this checkout
 * (its cache); a fresh clone has none, and Jest then orders by file size, which put the
 * 100-second Sentinel failover file in the middle. The estimates below (seconds, an idle
 * two-core machine, rough) stand in for the missing timings; a file with a timing in Jest's
 * cache uses that, and one in neither counts as short. Files that failed last time still
 * run first, as with Jest's own sequencer.
 */
const Sequencer = require('@jest/test-sequencer').default;
const { relative } = require('node:path');

const ESTIMATED_SECONDS = {
  'test/redis-failover.e2e-spec.ts': 100,
  'test/cluster-faults.e2e-spec.ts': 90,
  'test/rolling-deploy.e2e-spec.ts': 75,
  'test/resource-leaks.e2e-spec.ts': 65,
  'test/logging.e2e-spec.ts': 60,
  'test/nginx-cluster.e2e-spec.ts': 55,
  'test/cluster.e2e-spec.ts': 50,
  'test/http-limits.e2e-spec.ts': 45,
  'test/acks.e2e-spec.ts': 40,
  'test/id-rules.e2e-spec.ts': 40,
  'test/resume-flood.e2e-spec.ts': 38,
  'test/graceful-shutdown.e2e-spec.ts': 36,
  'test/confirmation-flow.e2e-spec.ts': 36,
  'test/resume.e2e-spec.ts': 35,
  'test/cluster-hostile-ids.e2e-spec.ts': 35,
  'test/subprotocol.e2e-spec.ts': 34,
  'test/contracts/broker-history.spec.ts': 30,
  'test/inbox-page.e2e-spec.ts': 30,
  'test/rest-api.e2e-spec.ts': 28,
  'test/socket-protocol.e2e-spec.ts': 28,
  'test/cluster-resume.e2e-spec.ts': 28,
  'test/contracts/heartbeat-store.spec.ts': 25,
  'test/connection-lifecycle.e2e-spec.ts': 25,
  'test/redis-round-trips.e2e-spec.ts': 25,
  'test/contracts/ack-store.spec.ts': 22,
  'test/api-docs.e2e-spec.ts': 22,
  'test/hostile-input.e2e-spec.ts': 20,
  'test/reconnect-storm.e2e-spec.ts': 20,
  'test/ack-wake-up.e2e-spec.ts': 18,
  'test/connection-quality.e2e-spec.ts': 18,
  'test/validation-equivalence.spec.ts': 18,
  'clients/js/test/sdk.e2e-spec.ts': 16,
  'test/runtime-secrets.e2e-spec.ts': 15,
  'test/history-bounds.e2e-spec.ts': 15,
  'test/k8s-manifests.e2e-spec.ts': 15,
  'test/idle-connection-memory.e2e-spec.ts': 15,
  'test/input-depth.e2e-spec.ts': 15,
  'src/confirmations/confirmation.service.spec.ts': 14,
  'test/prompt-serialization.e2e-spec.ts': 12,
  'test/capacity-caps.e2e-spec.ts': 12,
  'test/grafana-dashboard.e2e-spec.ts': 12,
  'src/protocol/validation.spec.ts': 12,
  'test/contracts/confirmation-store.spec.ts': 10,
  'test/documented-examples.e2e-spec.ts': 10,
  'test/seed-client.e2e-spec.ts': 10,
  'clients/js/test/answer-client.e2e-spec.ts': 10,
  'test/lua-scripts.spec.ts': 8,
  'test/docker-compose.spec.ts': 8,
  'test/security.e2e-spec.ts': 8,
  'test/asyncapi.spec.ts': 7,
  'test/contracts/presence.spec.ts': 6,
  'test/contracts/grant-store.spec.ts': 6,
  'test/start-up-cost.spec.ts': 5,
};

const SHORT_MS = 2000;

class LongestFirst extends Sequencer {
  sort(tests) {
    const expected = (test) => {
      const timing = this.time(test);
      if (timing != null) return timing;
      const estimate = ESTIMATED_SECONDS[relative(test.context.config.rootDir, test.path).split('\\').join('/')];
      return estimate === undefined ? SHORT_MS : estimate * 1000;
    };
    for (const test of tests) test.duration = expected(test);
    return tests.sort((a, b) => {
      const failedA = this.hasFailed(a);
      if (failedA !== this.hasFailed(b)) return failedA ? -1 : 1;
      return b.duration - a.duration;
    });
  }
}

module.exports = LongestFirst;
