import { describe, expect, it } from '@jest/globals';
import { callbackUrlProblem, embeddedIpv4, HostAllowList, nonPublicReason } from './address-rules.js';

describe('nonPublicReason', () => {
  it.each([
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'shared (CGNAT)'],
    ['100.127.255.254', 'shared (CGNAT)'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'reserved (incl. broadcast)'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['FE80::abcd%eth0', 'link-local'],
    ['fc00::1', 'private (unique local)'],
    ['fd12:3456::1', 'private (unique local)'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback (IPv4 inside IPv6)'],
    ['::ffff:7f00:1', 'loopback (IPv4 inside IPv6)'],
    ['::ffff:169.254.169.254', 'link-local (IPv4 inside IPv6)'],
    ['::ffff:10.0.0.1', 'private (IPv4 inside IPv6)'],
    ['0:0:0:0:0:ffff:c0a8:0101', 'private (IPv4 inside IPv6)'],
    ['64:ff9b::10.0.0.1', 'private (IPv4 inside IPv6)'],
    ['::127.0.0.1', 'loopback (IPv4 inside IPv6)'],
  ])('refuses %s as %s', (address, why) => {
    expect(nonPublicReason(address)).toBe(why);
  });

  it.each(['8.8.8.8', '1.1.1.1', '100.63.255.255', '100.128.0.0', '172.15.255.255', '172.32.0.0', '169.253.255.255', '223.255.255.255', '2606:4700:4700::1111', '2001:db8::1', '::ffff:8.8.8.8', '64:ff9b::8.8.8.8'])(
    'allows the public address %s',
    (address) => {
      expect(nonPublicReason(address)).toBeUndefined();
    },
  );

  it('is not fooled by a name that looks like an address', () => {
    expect(nonPublicReason('localhost')).toBe('not an IP address');
    expect(nonPublicReason('127.0.0.1.nip.io')).toBe('not an IP address');
  });

  it('reads the IPv4 address inside IPv6 forms, and nothing inside a plain IPv6 address', () => {
    expect(embeddedIpv4('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(embeddedIpv4('::ffff:102:304')).toBe('1.2.3.4');
    expect(embeddedIpv4('64:ff9b::102:304')).toBe('1.2.3.4');
    expect(embeddedIpv4('2001:db8::1')).toBeUndefined();
    expect(embeddedIpv4('::1')).toBeUndefined();
    expect(embeddedIpv4('1.2.3.4')).toBeUndefined();
  });
});

describe('HostAllowList', () => {
  it('allows any host when empty', () => {
    expect(new HostAllowList([]).allows('anything.example')).toBe(true);
  });

  it('matches exact names and *. patterns (subdomains only), case and trailing dot aside', () => {
    const list = new HostAllowList(['hooks.example.com', '*.partner.io', '203.0.113.7']);
    expect(list.allows('HOOKS.example.com.')).toBe(true);
    expect(list.allows('a.partner.io')).toBe(true);
    expect(list.allows('a.b.partner.io')).toBe(true);
    expect(list.allows('partner.io')).toBe(false);
    expect(list.allows('evilpartner.io')).toBe(false);
    expect(list.allows('example.com')).toBe(false);
    expect(list.allows('hooks.example.com.evil.net')).toBe(false);
    expect(list.allows('203.0.113.7')).toBe(true);
  });
});

describe('callbackUrlProblem', () => {
  const open = { allowedHosts: new HostAllowList([]), allowPrivate: false };

  it('accepts http and https URLs to public hosts', () => {
    expect(callbackUrlProblem('https://hooks.example.com/in?x=1', open)).toBeUndefined();
    expect(callbackUrlProblem('http://203.0.113.9:8080/hook', open)).toBeUndefined();
  });

  it.each([
    ['not a url', 'must be an absolute http or https URL'],
    ['ftp://example.com/x', 'must use https or http'],
    ['https://user:pw@example.com/', 'must not carry credentials'],
    ['https://token@example.com/', 'must not carry credentials'],
    ['https://example.com/#frag', 'must not have a #fragment'],
    ['http://127.0.0.1:9/', 'loopback'],
    ['http://[::1]/', 'loopback'],
    ['http://[::ffff:10.0.0.1]/', 'private (IPv4 inside IPv6)'],
    ['http://169.254.169.254/latest/meta-data', 'link-local'],
    ['http://2130706433/', 'loopback'],
    [`https://example.com/${'a'.repeat(2100)}`, 'at most 2048 characters'],
  ])('refuses %s', (url, problem) => {
    expect(callbackUrlProblem(url, open)).toContain(problem);
  });

  it('allows private addresses with WEBHOOK_ALLOW_PRIVATE', () => {
    expect(callbackUrlProblem('http://127.0.0.1:9/', { ...open, allowPrivate: true })).toBeUndefined();
  });

  it('refuses a host outside WEBHOOK_ALLOWED_HOSTS, naming it', () => {
    const rules = { allowedHosts: new HostAllowList(['*.example.com']), allowPrivate: false };
    expect(callbackUrlProblem('https://a.example.com/', rules)).toBeUndefined();
    expect(callbackUrlProblem('https://evil.net/', rules)).toBe('callback_url host evil.net is not in WEBHOOK_ALLOWED_HOSTS');
  });
});
