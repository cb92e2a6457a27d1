const dist = process.argv[2];
const { AuditTrail } = await import(`${dist}/audit/audit-trail.service.js`);
const { MemoryAuditStore } = await import(`${dist}/audit/memory-audit.store.js`);
const { ConfirmationEvents } = await import(`${dist}/confirmations/confirmation-events.js`);
const { InstanceIdentity } = await import(`${dist}/redis/instance-identity.js`);
const { MetricsService } = await import(`${dist}/metrics/metrics.service.js`);
const { PinoLogger } = await import('nestjs-pino');
PinoLogger.root = { isLevelEnabled: () => false };
const events = new ConfirmationEvents();
const store = new MemoryAuditStore({ retentionMs: 30 * 86400e3, maxEvents: 20000 });
const trail = new AuditTrail(events, store, new InstanceIdentity(), new MetricsService());
const N = +process.argv[3] || 100000;
async function run(n) {
  for (let i = 0; i < n; i++) {
    const c = { callbackId: `cb-${i}-${Math.random()}`, userId: `user_${i % 200}`, taskId: `task_${i}`, step: 3, stepName: 'validate', state: 'pending', expiresAt: Date.now() + 300000, createdAt: Date.now(), feedback: null, proceed: null };
    await events.emit({ type: 'created', confirmation: c, at: Date.now(), requestId: 'req-1', apiKeyId: 'key-1' });
    await events.emit({ type: 'delivered', confirmation: c, at: Date.now(), instanceId: 'i', connections: 1 });
    const s = { ...c, state: 'confirmed', proceed: true, settledAt: Date.now() };
    await events.emit({ type: 'settled', confirmation: s, at: Date.now(), userId: c.userId, connectionId: 'conn-1', option: undefined, data: undefined });
    if (i % 500 === 0) await trail.flush();
  }
  await trail.flush();
}
await run(20000);
const t = process.cpuUsage();
await run(N);
const u = process.cpuUsage(t);
console.log(dist.split('/').pop(), ((u.user + u.system) / N).toFixed(2), 'µs per confirmation');
