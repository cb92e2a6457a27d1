// A cluster session (--cluster): one fresh redis-server and N instances of a server
// pointing at it, seen by the scenarios as one server. CPU is the sum over the instances
// and Redis (with the parts kept apart), memory the sum over the instances and Redis.
import { mkdirSync } from 'node:fs';
import { redisLogPath, startRedis } from './redis.js';
import { freePort, SERVERS, startServer } from './servers.js';

export async function startCluster(name, { logDir, tag, size, env = {} }) {
  mkdirSync(logDir, { recursive: true });
  const redis = await startRedis({ port: await freePort(), logPath: redisLogPath(logDir, name, tag) });
  const instances = [];
  try {
    for (let i = 0; i < size; i++) {
      // Each gateway instance gets its own inspector port: the memory readings open the
      // inspector of every instance, and 9229 can be held by one process only.
      const inspectPort = SERVERS[name].memory === 'inspector' ? await freePort() : undefined;
      instances.push(await startServer(name, { logDir, tag: `${tag}-i${i}`, extraEnv: { ...env, REDIS_URL: redis.url }, inspectPort }));
    }
  } catch (err) {
    await Promise.all(instances.map((instance) => instance.stop()));
    await redis.stop();
    throw err;
  }
  return new RunningCluster(name, instances, redis);
}

class RunningCluster {
  constructor(name, instances, redis) {
    Object.assign(this, { name, instances, redis });
    this.def = SERVERS[name];
    this.baseUrl = instances[0].baseUrl;
    this.baseUrls = instances.map((instance) => instance.baseUrl);
  }

  alive() {
    return this.redis.alive() && this.instances.every((instance) => instance.alive());
  }

  /** CPU seconds of every instance and of Redis together. */
  cpuSeconds() {
    const { instances, redis } = this.cpuParts();
    return instances + redis;
  }

  cpuParts() {
    return { instances: this.instances.reduce((sum, instance) => sum + instance.cpuSeconds(), 0), redis: this.redis.cpuSeconds() };
  }

  rss() {
    return this.instances.reduce((sum, instance) => sum + instance.rss(), 0) + this.redis.rss();
  }

  /** Like a single server's memory(), summed over the instances, plus Redis's RSS (in rss and apart). */
  async memory() {
    const readings = [];
    for (const instance of this.instances) readings.push(await instance.memory());
    const instancesRss = readings.reduce((sum, r) => sum + r.rss, 0);
    const redisRss = this.redis.rss();
    return {
      rss: instancesRss + redisRss,
      instancesRss,
      redisRss,
      heapUsed: readings.reduce((sum, r) => sum + r.heapUsed, 0),
      afterGc: readings.every((r) => r.afterGc),
    };
  }

  commandCalls() {
    return this.redis.commandCalls();
  }

  async stop() {
    await Promise.all(this.instances.map((instance) => instance.stop()));
    await this.redis.stop();
  }

  logTail(lines = 20) {
    return this.instances.map((instance, i) => `--- instance ${i} (${instance.logPath})\n${instance.logTail(lines)}`).join('\n');
  }
}
