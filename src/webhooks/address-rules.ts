import { BlockList, isIP } from 'node:net';

/**
 * Where a webhook may go (SSRF rules, docs/SECURITY.md): a public unicast address unless
 * WEBHOOK_ALLOW_PRIVATE, and a host on WEBHOOK_ALLOWED_HOSTS when that list is set. The
 * address rules are checked on the address the request will be sent to, after resolution.
 */

/** Why an address is not public, by range; IPv4-mapped and NAT64 IPv6 addresses are judged by their IPv4 address. */
const RANGES: Array<[network: string, prefix: number, family: 'ipv4' | 'ipv6', why: string]> = [
  ['0.0.0.0', 8, 'ipv4', 'unspecified'],
  ['10.0.0.0', 8, 'ipv4', 'private'],
  ['100.64.0.0', 10, 'ipv4', 'shared (CGNAT)'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local'],
  ['172.16.0.0', 12, 'ipv4', 'private'],
  ['192.0.0.0', 24, 'ipv4', 'reserved (IETF protocol assignments)'],
  ['192.168.0.0', 16, 'ipv4', 'private'],
  ['198.18.0.0', 15, 'ipv4', 'reserved (benchmarking)'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved (incl. broadcast)'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['fc00::', 7, 'ipv6', 'private (unique local)'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['fec0::', 10, 'ipv6', 'private (site-local)'],
  ['ff00::', 8, 'ipv6', 'multicast'],
];

const lists = RANGES.map(([network, prefix, family, why]) => {
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return { list, family, why };
});

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible or NAT64 (64:ff9b::/96) IPv6 address. */
export function embeddedIpv4(address: string): string | undefined {
  const words = ipv6Words(address);
  if (!words) return undefined;
  const head = words.slice(0, 6);
  const zeros = (n: number) => head.slice(0, n).every((w) => w === 0);
  const mapped = zeros(5) && head[5] === 0xffff;
  const nat64 = head[0] === 0x64 && head[1] === 0xff9b && head.slice(2).every((w) => w === 0);
  const compatible = zeros(6) && (words[6] !== 0 || words[7] > 1);
  if (!mapped && !nat64 && !compatible) return undefined;
  return [words[6] >> 8, words[6] & 0xff, words[7] >> 8, words[7] & 0xff].join('.');
}

/** The eight 16-bit words of an IPv6 address (with an embedded dotted IPv4 tail), or undefined. */
function ipv6Words(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address.replace(/%.*$/, '');
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1].split('.').map(Number);
    text = text.slice(0, -dotted[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [left, right] = text.includes('::') ? text.split('::') : [text, undefined];
  const parse = (part: string | undefined) => (part ? part.split(':').map((w) => parseInt(w, 16)) : []);
  const head = parse(left);
  const tail = parse(right);
  const fill = right === undefined ? [] : new Array<number>(8 - head.length - tail.length).fill(0);
  return [...head, ...fill, ...tail];
}

/** Why the address is not a public unicast address, or undefined when it is one. */
export function nonPublicReason(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  if (family === 6) {
    const v4 = embeddedIpv4(address);
    if (v4 !== undefined) {
      const why = nonPublicReason(v4);
      return why === undefined ? undefined : `${why} (IPv4 inside IPv6)`;
    }
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const { list, family: f, why } of lists) if (f === type && list.check(address, type)) return why;
  return undefined;
}

/**
 * WEBHOOK_ALLOWED_HOSTS: exact host names (or IP addresses) and `*.example.com` patterns,
 * which match any name under example.com but not example.com itself. Empty allows any host.
 */
export class HostAllowList {
  private readonly exact = new Set<string>();
  private readonly suffixes: string[] = [];

  constructor(entries: string[]) {
    for (const raw of entries) {
      const entry = normalizeHost(raw);
      if (entry.startsWith('*.')) this.suffixes.push(entry.slice(1));
      else this.exact.add(entry);
    }
  }

  get empty(): boolean {
    return this.exact.size === 0 && this.suffixes.length === 0;
  }

  allows(host: string): boolean {
    if (this.empty) return true;
    const name = normalizeHost(host);
    return this.exact.has(name) || this.suffixes.some((suffix) => name.endsWith(suffix) && name.length > suffix.length);
  }
}

/** Lower case, without a trailing dot or IPv6 brackets. */
export function normalizeHost(host: string): string {
  return host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

export interface CallbackUrlRules {
  allowedHosts: HostAllowList;
  allowPrivate: boolean;
}

export const MAX_CALLBACK_URL_LENGTH = 2048;

/**
 * Why a callback URL is refused at POST /notify, or undefined. A host name is only
 * checked against the allow-list here; its addresses are checked at every attempt.
 */
export function callbackUrlProblem(value: string, rules: CallbackUrlRules): string | undefined {
  if (value.length > MAX_CALLBACK_URL_LENGTH) return `callback_url must be at most ${MAX_CALLBACK_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'callback_url must be an absolute http or https URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'callback_url must use https or http';
  if (url.username !== '' || url.password !== '') return 'callback_url must not carry credentials (user:password@)';
  if (url.hash !== '') return 'callback_url must not have a #fragment';
  const host = normalizeHost(url.hostname);
  if (!rules.allowedHosts.allows(host)) return `callback_url host ${host} is not in WEBHOOK_ALLOWED_HOSTS`;
  if (isIP(host) !== 0 && !rules.allowPrivate) {
    const why = nonPublicReason(host);
    if (why) return `callback_url address ${host} is ${why}; only public addresses are allowed`;
  }
  return undefined;
}
