import { describe, expect, it } from '@jest/globals';
import { WsAdapter } from '@nestjs/platform-ws';
import { GatewayWsAdapter } from './gateway-ws.adapter.js';

describe('GatewayWsAdapter', () => {
  // Nest's WsAdapter creates the ws server on the HTTP port, keeps the registry and binds
  // disconnects; the gateway's adapter relies on all of it and overrides the rest.
  it("extends @nestjs/platform-ws's WsAdapter", () => {
    expect(Object.getPrototypeOf(GatewayWsAdapter)).toBe(WsAdapter);
    expect(GatewayWsAdapter.prototype).toBeInstanceOf(WsAdapter);
  });
});
