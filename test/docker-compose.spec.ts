import { describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Environment, validateEnvironment } from '../src/config/environment.js';
import {
  ComposeFile,
  containerEnvironment,
  dependsOn,
  gatewayServiceNames,
  loadCompose,
  nginxListenPorts,
  nginxProxyPassTargets,
  nginxUpstreamServers,
  NGINX_CONF,
  parsePort,
  readNginxConf,
  ROOT,
} from './support/deployment.js';

/**
 * No Docker engine runs here: these checks read docker-compose.yml, the Dockerfile and
 * deploy/nginx/ and hold every name, port and dependency against the config schema and
 * against each other. test/nginx-cluster.e2e-spec.ts runs the same topology for real.
 */
describe('docker-compose.yml', () => {
  const compose: ComposeFile = loadCompose();
  const services = compose.services;
  const gateways = gatewayServiceNames(compose);
  const nginxConf = readNginxConf();
  const knownSettings = new Set(Object.keys(new Environment()));

  it('has Redis, three gateway instances built from the Dockerfile, and nginx', () => {
    expect(Object.keys(services).sort()).toEqual(['gateway-1', 'gateway-2', 'gateway-3', 'nginx', 'redis']);
    expect(gateways).toEqual(['gateway-1', 'gateway-2', 'gateway-3']);
    for (const name of gateways) {
      expect(services[name].build).toBe('.');
      expect(existsSync(join(ROOT, 'Dockerfile'))).toBe(true);
    }
  });

  it('runs Redis 7 with the append-only file on a volume, and no eviction', () => {
    const redis = services.redis;
    const [, major] = /^redis:(\d+)/.exec(redis.image ?? '') ?? [];
    expect(Number(major)).toBeGreaterThanOrEqual(7);
    const command = (redis.command as string[]).join(' ');
    expect(command).toMatch(/--appendonly yes\b/);
    expect(command).toMatch(/--maxmemory-policy noeviction\b/);
    const dataVolume = (redis.volumes ?? []).map((v) => v.split(':')).find(([, target]) => target === '/data');
    expect(dataVolume).toBeDefined();
    expect(compose.volumes).toHaveProperty(dataVolume![0]);
    expect(JSON.stringify(redis.healthcheck?.test)).toContain('ping');
  });

  describe.each(['gateway-1', 'gateway-2', 'gateway-3'])('%s', (name) => {
    const service = () => services[name];
    const env = () => containerEnvironment(service());

    it('sets only variables the service reads, and they pass its start-up validation', () => {
      for (const variable of Object.keys(service().environment ?? {})) expect(knownSettings).toContain(variable);
      const settings = validateEnvironment(env());
      expect(settings.NODE_ENV).toBe('production');
      expect(settings.AUTH_MODE).toBe('jwt');
      expect(settings.REDIS_URL).toBeDefined();
    });

    it('points REDIS_URL at the redis service on its port', () => {
      const url = new URL(env().REDIS_URL);
      expect(url.hostname).toBe('redis');
      expect(url.port === '' ? 6379 : Number(url.port)).toBe(6379);
      expect((services.redis.command as string[]).includes('--port')).toBe(false);
      expect(dependsOn(service())).toEqual({ redis: 'service_healthy' });
    });

    it('probes /health on the port it listens on, and is reached only through nginx', () => {
      const port = validateEnvironment(env()).WEBSOCKET_PORT;
      const probe = JSON.stringify(service().healthcheck?.test);
      expect(probe).toContain(`http://127.0.0.1:${port}/health'`);
      expect(service().ports).toBeUndefined();
      expect(nginxUpstreamServers(nginxConf)).toContainEqual({ host: name, port });
    });

    it('is given longer than SHUTDOWN_GRACE_SECONDS to drain before Docker kills it', () => {
      const grace = Number(/^(\d+)s$/.exec(String(service().stop_grace_period))?.[1]);
      expect(grace).toBeGreaterThan(validateEnvironment(env()).SHUTDOWN_GRACE_SECONDS);
    });
  });

  it('ships example secrets that say so, and takes real ones from .env', () => {
    const env = containerEnvironment(services['gateway-1']);
    expect(env.JWT_SECRET).toMatch(/example/);
    expect(env.API_KEYS).toMatch(/example/);
    const configured = loadCompose({ JWT_SECRET: 's'.repeat(40), API_KEYS: 'key-a,key-b', GATEWAY_PORT: '9000' });
    const configuredEnv = containerEnvironment(configured.services['gateway-2']);
    expect(configuredEnv.JWT_SECRET).toBe('s'.repeat(40));
    expect(configuredEnv.API_KEYS).toBe('key-a,key-b');
    expect(parsePort(configured.services.nginx.ports![0]).published).toBe(9000);
    // .env.example leaves them empty: the examples stand in, as with no .env at all.
    expect(containerEnvironment(loadCompose({ JWT_SECRET: '', API_KEYS: '' }).services['gateway-3'])).toEqual(env);
  });

  it('exposes one port, nginx\'s, on loopback unless told otherwise', () => {
    const publishing = Object.entries(services).filter(([, service]) => service.ports !== undefined);
    expect(publishing.map(([name]) => name)).toEqual(['nginx']);
    const ports = services.nginx.ports!.map(parsePort);
    expect(ports).toEqual([{ hostIp: '127.0.0.1', published: 8080, target: nginxListenPorts(nginxConf)[0] }]);
    expect(nginxListenPorts(nginxConf)).toHaveLength(1);
  });

  it('gives nginx deploy/nginx/gateway.conf as its server, after every instance is healthy', () => {
    const nginx = services.nginx;
    const mount = (nginx.volumes ?? []).map((v) => v.split(':')).find(([source]) => resolve(ROOT, source) === NGINX_CONF);
    expect(mount?.[1]).toMatch(/^\/etc\/nginx\/conf\.d\/[^/]+\.conf$/);
    expect(dependsOn(nginx)).toEqual(Object.fromEntries(gateways.map((name) => [name, 'service_healthy'])));
  });

  it('balances over exactly the gateway instances, for WebSocket and HTTP alike', () => {
    expect(nginxUpstreamServers(nginxConf).map((server) => server.host)).toEqual(gateways);
    expect(new Set(nginxProxyPassTargets(nginxConf))).toEqual(new Set(['http://gateway_backend']));
    expect(nginxConf).toMatch(/location \/ws\/ \{[^}]*proxy_set_header Upgrade \$http_upgrade;[^}]*proxy_set_header Connection "upgrade";/);
    expect(nginxConf).toMatch(/location \/ \{[^}]*proxy_pass http:\/\/gateway_backend;/);
  });

  it('lets sockets and waiting /notify calls last as long as the service allows', () => {
    const longestWait = new Environment().WEBSOCKET_MAX_CALLBACK_TIMEOUT;
    const timeouts = [...nginxConf.matchAll(/proxy_read_timeout (\d+)s;/g)].map(([, seconds]) => Number(seconds));
    expect(timeouts).toHaveLength([...nginxConf.matchAll(/^\s*location /gm)].length); // one per location
    for (const seconds of timeouts) expect(seconds).toBeGreaterThanOrEqual(longestWait);
  });
});
