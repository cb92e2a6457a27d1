import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/**
 * Reads the deployment files (docker-compose.yml, the Dockerfile, deploy/nginx/) the way
 * Docker and nginx would, so tests check and run exactly what a user gets.
 */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const NGINX_CONF = join(ROOT, 'deploy', 'nginx', 'gateway.conf');

export type ComposeFile = {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  [key: string]: unknown;
};

export type ComposeService = {
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: Array<string | { target: number; published?: string | number; host_ip?: string }>;
  volumes?: string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test: string[] | string; [key: string]: unknown };
  [key: string]: unknown;
};

/**
 * docker-compose.yml with every `${NAME}`, `${NAME:-default}` and `${NAME-default}` replaced
 * as Compose does, from `variables` (what a `.env` file or the shell would give; none: the
 * file's own defaults). YAML anchors and aliases are resolved.
 */
export function loadCompose(variables: Record<string, string> = {}): ComposeFile {
  const raw = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as unknown;
  return interpolateTree(raw, variables) as ComposeFile;
}

function interpolateTree(node: unknown, variables: Record<string, string>): unknown {
  if (typeof node === 'string') return interpolate(node, variables);
  if (Array.isArray(node)) return node.map((item) => interpolateTree(item, variables));
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, interpolateTree(value, variables)]));
  }
  return node;
}

export function interpolate(text: string, variables: Record<string, string>): string {
  return text.replace(/\$\$|\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, braced?: string, bare?: string) => {
    if (whole === '$$') return '$';
    const expression = braced ?? bare ?? '';
    const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)(.*))?$/s.exec(expression);
    if (!match) throw new Error(`docker-compose.yml: unsupported substitution ${whole}`);
    const [, name, operator, fallback = ''] = match;
    const value = variables[name];
    if (operator === ':-') return value === undefined || value === '' ? fallback : value;
    if (operator === '-') return value === undefined ? fallback : value;
    return value ?? '';
  });
}

/** The services built from this repository's Dockerfile: the gateway instances. */
export function gatewayServiceNames(compose: ComposeFile): string[] {
  return Object.entries(compose.services)
    .filter(([, service]) => service.build !== undefined)
    .map(([name]) => name);
}

/** `ENV` settings of the Dockerfile's last (runtime) stage. */
export function dockerfileEnvironment(): Record<string, string> {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const stages = text.split(/^FROM\s/m);
  const runtime = stages[stages.length - 1];
  const env: Record<string, string> = {};
  for (const [, assignments] of runtime.matchAll(/^ENV\s+(.+)$/gm)) {
    for (const [, name, value] of assignments.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) {
      env[name] = value.replace(/^"|"$/g, '');
    }
  }
  return env;
}

/** The environment a gateway container starts with: the image's ENV, then the service's. */
export function containerEnvironment(service: ComposeService): Record<string, string> {
  const env = { ...dockerfileEnvironment() };
  const declared = service.environment ?? {};
  const entries = Array.isArray(declared)
    ? declared.map((line) => {
        const at = line.indexOf('=');
        return [at < 0 ? line : line.slice(0, at), at < 0 ? '' : line.slice(at + 1)] as const;
      })
    : Object.entries(declared).map(([name, value]) => [name, value === null ? '' : String(value)] as const);
  for (const [name, value] of entries) env[name] = value;
  return env;
}

export function dependsOn(service: ComposeService): Record<string, string | undefined> {
  const declared = service.depends_on ?? [];
  if (Array.isArray(declared)) return Object.fromEntries(declared.map((name) => [name, undefined]));
  return Object.fromEntries(Object.entries(declared).map(([name, dependency]) => [name, dependency?.condition]));
}

/** `[host_ip:]published:target` of a short-syntax port, or the long syntax. */
export function parsePort(port: string | { target: number; published?: string | number; host_ip?: string }) {
  if (typeof port !== 'string') {
    return { hostIp: port.host_ip, published: Number(port.published), target: Number(port.target) };
  }
  const parts = port.replace(/\/tcp$/, '').split(':');
  const target = Number(parts.pop());
  const published = Number(parts.pop());
  return { hostIp: parts.length > 0 ? parts.join(':') : undefined, published, target };
}

export function readNginxConf(): string {
  return readFileSync(NGINX_CONF, 'utf8');
}

/** Lines of the config without comments. */
function directives(conf: string): string {
  return conf.replace(/#.*$/gm, '');
}

/** The `server host:port` entries of the upstream block named `name`. */
export function nginxUpstreamServers(conf: string, name = 'gateway_backend'): Array<{ host: string; port: number }> {
  const block = new RegExp(`upstream\\s+${name}\\s*\\{([^}]*)\\}`).exec(directives(conf));
  if (!block) throw new Error(`no upstream ${name} in ${NGINX_CONF}`);
  return [...block[1].matchAll(/^\s*server\s+([^:\s;]+):(\d+)[^;]*;/gm)].map(([, host, port]) => ({ host, port: Number(port) }));
}

export function nginxListenPorts(conf: string): number[] {
  return [...directives(conf).matchAll(/^\s*listen\s+(?:[^\s;]*:)?(\d+)[^;]*;/gm)].map(([, port]) => Number(port));
}

export function nginxProxyPassTargets(conf: string): string[] {
  return [...directives(conf).matchAll(/^\s*proxy_pass\s+([^;]+);/gm)].map(([, target]) => target.trim());
}
